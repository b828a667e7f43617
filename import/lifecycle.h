// Keeps the lifecycle events an importer writes consistent, whatever the source skipped:
// every execution that events refer to as a subject has been spawned in the trace (or is
// announced as pre-existing), an exit closes a live execution, and a pid that changes hands
// without a recorded exit gets an implied exit. Each inference is written as a Marker right
// before the event it explains and counted as unmapped, so nothing inferred looks recorded.
#pragma once

#include <optional>
#include <string_view>

#include "import/parser.h"

namespace flowid::import {

class Lifecycle {
 public:
  explicit Lifecycle(ImportContext& context) : context_(context) {}

  // The state of `pid`, or null when the trace has not described it.
  const ExecutionState* find(int32_t pid) const;

  // Makes sure `token` is the live execution of its pid, writing what that takes:
  //   - unknown pid, or pid whose last execution exited: a Marker "pre-existing execution ..."
  //     and a ProcessSpawn(token, parent, responsible, image) (`source_line` names the record);
  //   - pid held by another live execution: a Marker, an implied ProcessExit of the old one,
  //     then the pre-existing spawn;
  //   - the same execution after its exit: counted unmapped; nothing written.
  // Returns false only in that last case.
  bool ensure_live(const AuditToken& token, const AuditToken& parent,
                   const std::optional<AuditToken>& responsible, const CodeIdentity& image,
                   std::optional<uint64_t> wall_time_ns, uint64_t source_line);

  // A new execution: spawn (fork/clone) or exec. Closes a different live execution holding the
  // pid first (implied exit) unless `replacing` names it (exec).
  void spawned(const ProcessSpawn& spawn, std::optional<uint64_t> wall_time_ns);
  void execed(const ProcessExec& exec, std::optional<uint64_t> wall_time_ns);
  void exited(const ProcessExit& exit, std::optional<uint64_t> wall_time_ns);

  // Records the token of the pid's live execution without writing anything (e.g. a parent the
  // source names only by reference).
  void remember(const AuditToken& token) { table_[token.pid()] = ExecutionState{token, true}; }

 private:
  void implied_exit(const ExecutionState& old, std::string_view why,
                    std::optional<uint64_t> wall_time_ns);

  ImportContext& context_;
  ExecutionTable table_;
  Event scratch_;
};

}  // namespace flowid::import
