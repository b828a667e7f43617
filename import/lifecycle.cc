#include "import/lifecycle.h"

#include <fmt/format.h>

#include "harness/event_format.h"

namespace flowid::import {

const ExecutionState* Lifecycle::find(int32_t pid) const {
  auto it = table_.find(pid);
  return it == table_.end() ? nullptr : &it->second;
}

void Lifecycle::implied_exit(const ExecutionState& old, std::string_view why,
                             std::optional<uint64_t> wall_time_ns) {
  context_.unmapped("exit implied (pid taken by a new execution without a recorded exit)");
  context_.marker(fmt::format("implied exit of {}: {}", short_execution(old.token), why),
                  wall_time_ns);
  scratch_.body = ProcessExit{old.token, 0, ExitStage::kReaped};
  context_.emit(scratch_, wall_time_ns);
  context_.note_end(old.token, wall_time_ns);
}

bool Lifecycle::ensure_live(const AuditToken& token, const AuditToken& parent,
                            const std::optional<AuditToken>& responsible, const CodeIdentity& image,
                            std::optional<uint64_t> wall_time_ns, uint64_t source_line) {
  auto it = table_.find(token.pid());
  if (it != table_.end() && it->second.token.execution() == token.execution()) {
    if (!it->second.alive) {
      context_.unmapped("event for an execution after its recorded exit");
      return false;
    }
    it->second.token = token;  // uids may have changed (setuid) within one execution.
    return true;
  }
  if (it != table_.end() && it->second.alive) {
    implied_exit(it->second,
                 fmt::format("{}:{} shows pid {} as {}", context_.input_name(), source_line,
                             token.pid(), short_execution(token)),
                 wall_time_ns);
  }
  context_.unmapped("pre-existing execution (spawn written at first appearance)");
  context_.marker(
      fmt::format("pre-existing execution {} {} first seen at {}:{}", short_execution(token),
                  image.path, context_.input_name(), source_line),
      wall_time_ns);
  scratch_.body = ProcessSpawn{token, parent, responsible, image};
  context_.emit(scratch_, wall_time_ns);
  context_.note_start(token, image, wall_time_ns);
  table_[token.pid()] = ExecutionState{token, true};
  return true;
}

void Lifecycle::spawned(const ProcessSpawn& spawn, std::optional<uint64_t> wall_time_ns) {
  auto it = table_.find(spawn.token.pid());
  if (it != table_.end() && it->second.alive &&
      it->second.token.execution() == spawn.token.execution()) {
    context_.unmapped("spawn of an execution that is already live (duplicate record)");
    return;
  }
  if (it != table_.end() && it->second.alive) {
    implied_exit(
        it->second,
        fmt::format("pid {} spawned again as {}", spawn.token.pid(), short_execution(spawn.token)),
        wall_time_ns);
  }
  scratch_.body = spawn;
  context_.emit(scratch_, wall_time_ns);
  context_.note_start(spawn.token, spawn.image, wall_time_ns);
  table_[spawn.token.pid()] = ExecutionState{spawn.token, true};
}

void Lifecycle::execed(const ProcessExec& exec, std::optional<uint64_t> wall_time_ns) {
  scratch_.body = exec;
  context_.emit(scratch_, wall_time_ns);
  context_.note_start(exec.token, exec.image, wall_time_ns);
  table_[exec.token.pid()] = ExecutionState{exec.token, true};
}

void Lifecycle::exited(const ProcessExit& exit, std::optional<uint64_t> wall_time_ns) {
  scratch_.body = exit;
  context_.emit(scratch_, wall_time_ns);
  context_.note_end(exit.token, wall_time_ns);
  auto it = table_.find(exit.token.pid());
  if (it != table_.end() && it->second.token.execution() == exit.token.execution()) {
    it->second.alive = false;
  }
}

}  // namespace flowid::import
