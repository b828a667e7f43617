#include "replay/perturb.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <variant>

#include "harness/builders.h"
#include "harness/random.h"
#include "replay/fixture.h"
#include "replay/scenario_files.h"

namespace flowid::replay {
namespace {

using fuzz::Fault;

// Named bound: faults drawn per flow (one), and flows perturbed per trace.
constexpr std::size_t kPerturbedFlowsMax = 100000;

struct Insertion {
  std::size_t before = 0;  // index in the original events.
  Event event;
};

std::string token_text(const AuditToken& token) { return fmt::format("{}.{}", token.pid(), token.pidversion()); }

CodeIdentity synthetic_intruder() {
  CodeIdentity id;
  id.path = "/Applications/Intruder.app/Contents/MacOS/Intruder";
  id.signature = SignatureKind::kDeveloperId;
  id.signing_id = "com.example.intruder";
  id.team_id = "INTRUDER01";
  id.cdhash = build::cdhash_of("flowid-perturb-intruder");
  return id;
}

}  // namespace

PerturbedEvents apply_fault_plan(const std::vector<Event>& events, const trace::CallerContext& caller,
                                 fuzz::FaultSet faults, uint64_t seed) {
  PerturbedEvents out;
  out.caller = caller;
  SplitMix64 random(seed);
  std::vector<Fault> plan;
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    if (fuzz::contains(faults, fuzz::fault_at(i))) plan.push_back(fuzz::fault_at(i));
  }
  if (plan.empty()) {
    out.events = events;
    return out;
  }

  // What the trace holds: images (for intruders), the highest pidversion, where each execution
  // ends, and which executions are alive at each flow (for F6).
  std::vector<CodeIdentity> images;
  uint32_t pidversion_max = 0;
  std::map<ExecutionId, std::size_t> ended_at;  // execution -> index of its exit/exec event.
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (const auto* spawn = std::get_if<ProcessSpawn>(&events[i].body)) {
      images.push_back(spawn->image);
      pidversion_max = std::max(pidversion_max, spawn->token.pidversion());
    } else if (const auto* exec = std::get_if<ProcessExec>(&events[i].body)) {
      images.push_back(exec->image);
      pidversion_max = std::max(pidversion_max, exec->token.pidversion());
      ended_at.emplace(exec->previous.execution(), i);
    } else if (const auto* exit = std::get_if<ProcessExit>(&events[i].body)) {
      ended_at.emplace(exit->token.execution(), i);
    }
  }
  uint32_t next_pidversion = pidversion_max + 1000;

  std::vector<Insertion> insertions;
  std::map<std::size_t, Flow> rewritten_flows;  // index -> new flow event body.
  std::set<ExecutionId> ended_by_plan;
  std::size_t perturbed = 0;

  for (std::size_t i = 0; i < events.size() && perturbed < kPerturbedFlowsMax; ++i) {
    const auto* flow = std::get_if<Flow>(&events[i].body);
    if (flow == nullptr) continue;
    ++perturbed;
    const Fault fault = plan[random.below(plan.size())];
    const std::string where = fmt::format("flow {}", flow->flow_id);
    // The flow's lookups (and verdict) after it: the candidate insertion points.
    std::vector<std::size_t> points;
    std::optional<std::size_t> verdict_at;
    for (std::size_t j = i + 1; j < events.size(); ++j) {
      if (const auto* lookup = std::get_if<Lookup>(&events[j].body); lookup && lookup->flow_id == flow->flow_id) {
        points.push_back(j);
      } else if (const auto* verdict = std::get_if<Verdict>(&events[j].body); verdict && verdict->flow_id == flow->flow_id) {
        verdict_at = j;
        break;
      }
    }
    if (points.empty()) points.push_back(verdict_at ? *verdict_at : i + 1);
    const std::size_t call = random.below(points.size());
    const std::size_t before = points[call];
    const uint64_t time_ns = before < events.size() ? events[before].time_ns : events[i].time_ns;

    const FlowToken& process_token = flow->source_process_audit_token;
    const FlowToken& source = process_token.well_formed() ? process_token : flow->source_app_audit_token;
    const bool has_execution = source.well_formed();
    const AuditToken token = source.token;
    const auto end = ended_at.find(token.execution());
    const bool alive_there = has_execution && !ended_by_plan.count(token.execution()) &&
                             (end == ended_at.end() || end->second > before);
    auto intruder = [&]() {
      std::vector<const CodeIdentity*> others;
      for (const auto& image : images) {
        if (image.path != "/sbin/launchd") others.push_back(&image);
      }
      CodeIdentity victim_image;
      for (const auto& e : events) {
        if (const auto* s = std::get_if<ProcessSpawn>(&e.body); s && s->token.execution() == token.execution()) victim_image = s->image;
        if (const auto* x = std::get_if<ProcessExec>(&e.body); x && x->token.execution() == token.execution()) victim_image = x->image;
      }
      std::vector<const CodeIdentity*> different;
      for (const auto* image : others) {
        if (image->path != victim_image.path) different.push_back(image);
      }
      return different.empty() ? synthetic_intruder() : *different[random.below(different.size())];
    };
    const std::string at = call == 0 ? std::string("before the resolution") : fmt::format("before call {}", call + 1);

    switch (fault) {
      case Fault::kPidReuse:
      case Fault::kExitRace:
      case Fault::kZombie:
      case Fault::kExecAfterFlow: {
        if (!alive_there) {
          out.not_applicable.push_back(fmt::format("{}: {} needs a live execution", where, fuzz::fault_id(fault)));
          break;
        }
        ended_by_plan.insert(token.execution());
        if (fault == Fault::kExecAfterFlow) {
          ProcessExec exec;
          exec.previous = token;
          exec.token = token;
          exec.token.words[AuditToken::kPidversion] = next_pidversion++;
          exec.image = intruder();
          out.applied.push_back(fmt::format("{}: F4 exec {} -> {} {}", where, token_text(token), exec.image.path, at));
          insertions.push_back({before, Event{time_ns, exec}});
          break;
        }
        ProcessExit exit;
        exit.token = token;
        exit.stage = fault == Fault::kZombie ? ExitStage::kExited : ExitStage::kReaped;
        insertions.push_back({before, Event{time_ns, exit}});
        if (fault == Fault::kPidReuse) {
          ProcessSpawn spawn;
          spawn.token = token;
          spawn.token.words[AuditToken::kPidversion] = next_pidversion++;
          spawn.parent = AuditToken{};
          spawn.image = intruder();
          out.applied.push_back(fmt::format("{}: F1 exit {} and spawn {} with pid {} {}", where, token_text(token),
                                            spawn.image.path, token.pid(), at));
          insertions.push_back({before, Event{time_ns, spawn}});
        } else {
          out.applied.push_back(fmt::format("{}: {} exit{} {} {}", where, fuzz::fault_id(fault),
                                            fault == Fault::kZombie ? " (zombie)" : "", token_text(token), at));
        }
        break;
      }
      case Fault::kReplacedOnDisk: {
        CodeIdentity image;
        bool found = false;
        for (std::size_t j = 0; j < i; ++j) {
          if (const auto* s = std::get_if<ProcessSpawn>(&events[j].body); s && s->token.execution() == token.execution()) {
            image = s->image;
            found = true;
          }
          if (const auto* x = std::get_if<ProcessExec>(&events[j].body); x && x->token.execution() == token.execution()) {
            image = x->image;
            found = true;
          }
        }
        if (!has_execution || !found || image.path.empty()) {
          out.not_applicable.push_back(fmt::format("{}: F5 needs the execution's image", where));
          break;
        }
        FileChange change;
        change.op = FileOp::kReplace;
        change.path = image.path;
        CodeIdentity replacement;
        replacement.path = image.path;
        replacement.signature = SignatureKind::kUnsigned;
        change.image = replacement;
        out.applied.push_back(fmt::format("{}: F5 replace {} with unsigned content {}", where, image.path, at));
        insertions.push_back({before, Event{time_ns, change}});
        break;
      }
      case Fault::kDelegation: {
        // Another execution alive at the flow becomes the app the socket was opened for.
        std::optional<AuditToken> app;
        for (std::size_t j = 0; j < i; ++j) {
          const auto* s = std::get_if<ProcessSpawn>(&events[j].body);
          if (s == nullptr || s->token.execution() == token.execution() || s->image.path == "/sbin/launchd") continue;
          auto e = ended_at.find(s->token.execution());
          if ((e == ended_at.end() || e->second > i) && !ended_by_plan.count(s->token.execution())) app = s->token;
        }
        if (!app) {
          out.not_applicable.push_back(fmt::format("{}: F6 needs another live execution", where));
          break;
        }
        Flow rewritten = rewritten_flows.count(i) ? rewritten_flows[i] : *flow;
        rewritten.source_app_audit_token = FlowToken{true, AuditToken::kByteSize, *app};
        rewritten_flows[i] = rewritten;
        out.applied.push_back(fmt::format("{}: F6 app token {}", where, token_text(*app)));
        break;
      }
      case Fault::kMalformedToken: {
        Flow rewritten = rewritten_flows.count(i) ? rewritten_flows[i] : *flow;
        if (random.chance(1, 2)) {
          rewritten.source_process_audit_token.present = true;
          rewritten.source_process_audit_token.size_bytes = 20;
          out.applied.push_back(fmt::format("{}: F7 process token malformed (20 bytes)", where));
        } else {
          rewritten.source_process_audit_token = FlowToken{};
          out.applied.push_back(fmt::format("{}: F7 process token absent", where));
        }
        rewritten_flows[i] = rewritten;
        break;
      }
      case Fault::kSandboxEperm:
        out.caller.sandboxed = true;
        out.applied.push_back(fmt::format("{}: F3 caller sandboxed", where));
        break;
      case Fault::kTransientFailure:
      case Fault::kSameName:
      case Fault::kLaunchToctou:
        out.not_applicable.push_back(fmt::format("{}: {} has no event form", where, fuzz::fault_id(fault)));
        break;
    }
  }

  // Merge: insertions go before their index, in the order they were made. Later exits and execs
  // of executions the plan ended are dropped; an intruder holding a pid is reaped before a later
  // spawn of that pid.
  std::stable_sort(insertions.begin(), insertions.end(),
                   [](const Insertion& a, const Insertion& b) { return a.before < b.before; });
  std::map<int32_t, AuditToken> intruder_by_pid;
  std::size_t next_insertion = 0;
  auto emit = [&](const Event& event) {
    if (const auto* spawn = std::get_if<ProcessSpawn>(&event.body)) {
      auto held = intruder_by_pid.find(spawn->token.pid());
      if (held != intruder_by_pid.end()) {
        out.events.push_back(Event{event.time_ns, ProcessExit{held->second, 0, ExitStage::kReaped}});
        intruder_by_pid.erase(held);
      }
    }
    out.events.push_back(event);
  };
  for (std::size_t i = 0; i <= events.size(); ++i) {
    while (next_insertion < insertions.size() && insertions[next_insertion].before == i) {
      const Event& inserted = insertions[next_insertion].event;
      emit(inserted);
      if (const auto* spawn = std::get_if<ProcessSpawn>(&inserted.body)) intruder_by_pid[spawn->token.pid()] = spawn->token;
      if (const auto* exec = std::get_if<ProcessExec>(&inserted.body)) intruder_by_pid[exec->token.pid()] = exec->token;
      ++next_insertion;
    }
    if (i == events.size()) break;
    const Event& event = events[i];
    if (const auto* exit = std::get_if<ProcessExit>(&event.body)) {
      if (ended_by_plan.count(exit->token.execution())) continue;
    } else if (const auto* exec = std::get_if<ProcessExec>(&event.body)) {
      if (ended_by_plan.count(exec->previous.execution())) continue;
    } else if (auto rewritten = rewritten_flows.find(i); rewritten != rewritten_flows.end()) {
      out.events.push_back(Event{event.time_ns, rewritten->second});
      continue;
    }
    emit(event);
  }
  return out;
}

std::optional<CounterexampleFiles> write_counterexample(const fuzz::Counterexample& counterexample,
                                                        const std::string& strategy, const std::string& dir,
                                                        const std::string& name, bool expectations_for_all,
                                                        std::string* error,
                                                        const fuzz::StrategyUnderTest* recorder) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = fmt::format("{}: cannot create: {}", dir, ec.message());
    return std::nullopt;
  }
  scenario::Scenario s = counterexample.shrink.shrunk.scenario;
  s.name = name;
  s.file = dir + "/" + name + ".scenario";
  fuzz::add_reference_expectations(s, expectations_for_all ? std::string() : strategy);
  CounterexampleFiles files{dir + "/" + name + ".scenario", dir + "/" + name + ".trace"};
  {
    std::ofstream out(files.scenario_path, std::ios::binary | std::ios::trunc);
    out << scenario::format_scenario(s);
    if (!out) {
      *error = fmt::format("{}: cannot write", files.scenario_path);
      return std::nullopt;
    }
  }
  auto compiled = compile_scenario(s, error, recorder);
  if (!compiled) return std::nullopt;
  compiled->header.resolver_config.emplace_back("fuzz.strategy", strategy);
  compiled->header.resolver_config.emplace_back("fuzz.case_seed", std::to_string(counterexample.case_seed));
  compiled->header.resolver_config.emplace_back("fuzz.reproduce", counterexample.reproduce);
  if (!write_compiled(*compiled, files.trace_path, trace::WriterOptions{}, error)) return std::nullopt;
  return files;
}

std::optional<std::vector<scenario::Scenario>> load_corpus(const std::string& dir, std::string* error) {
  std::vector<scenario::Scenario> corpus;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    *error = fmt::format("{}: not a folder", dir);
    return std::nullopt;
  }
  for (const auto& file : scenario_files(dir)) {
    auto s = load_scenario(file, error);
    if (!s) return std::nullopt;
    corpus.push_back(std::move(*s));
  }
  return corpus;
}

}  // namespace flowid::replay
