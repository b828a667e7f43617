// The live LinuxSeam: the Linux lookups of the tree recorder, made against the kernel for one
// seccomp notification at a time. The recorder's strategy (linux-pidfd,
// harness/strategies/linux_pidfd.h) asks them through an ObservedLinuxSeam, which records each as
// a lookup event; this class holds no attribution logic, only the syscalls.
//
// Lifetime of what a flow pins: begin() forgets the previous flow's descriptors; pidfd_open opens
// the pidfd and the /proc/PID directory every later read goes through (the system recorder asks
// no pidfd_open: its first read opens /proc/PID by bare pid); proc_exe keeps the executable open
// for exe_hash. After the strategy has resolved, the recorder reads what the
// lookups found (pinned(), stat(), exe()) to complete the flow and its process table, and calls
// begin() again for the next flow.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "harness/seam.h"
#include "recorder/internal.h"
#include "recorder/linux_process.h"

namespace flowid::recorder {

// Every outcome, success included, is in the errno domain, as the trace has always recorded them.
class LiveLinuxSeam final : public LinuxSeam {
 public:
  // The exec generation the recorder's process table knows for the execution (tgid, start time),
  // folded into the token's pidversion (linux_process.h).
  using GenerationOf = std::function<uint32_t(int32_t tgid, uint64_t start_ticks)>;

  // hashes outlives this object.
  LiveLinuxSeam(ExeHashCache& hashes, GenerationOf generation_of)
      : hashes_(hashes), generation_of_(std::move(generation_of)) {}

  // Starts a flow of the notification `id` that arrived on notify_fd (-1 and 0 for a flow that
  // no notification announced: the system recorder's).
  void begin(int notify_fd, uint64_t id);

  SeamResult<int32_t> pidfd_open(int32_t pid) override;
  LookupOutcome notif_id_valid(int32_t pid) override;
  SeamResult<LinuxProcStat> proc_stat(int32_t pid) override;
  SeamResult<LinuxExe> proc_exe(int32_t pid) override;
  SeamResult<CodeIdentity> exe_hash(int32_t pid, std::string_view path) override;

  // How long the last call took, in ns (recorded with its lookup).
  uint64_t last_duration_ns() const { return last_duration_ns_; }
  uint64_t notification_id() const { return id_; }
  // The pidfd pidfd_open pinned, or -1.
  int pinned() const { return pidfd_.get(); }
  // What proc_stat read, when it succeeded.
  struct Stat {
    ProcStat stat;
    ProcCredentials credentials;
  };
  const std::optional<Stat>& stat() const { return stat_; }
  // What proc_exe read (path empty when it failed).
  const ExeFile& exe() const { return exe_; }

 private:
  // Runs body (which returns 0 or an errno) and notes how long it took.
  template <typename Body>
  int timed(Body&& body);
  // Opens the /proc/PID directory the reads go through.
  void open_proc(int32_t pid);

  ExeHashCache& hashes_;
  GenerationOf generation_of_;
  int notify_fd_ = -1;
  uint64_t id_ = 0;
  uint64_t last_duration_ns_ = 0;
  internal::UniqueFd pidfd_;
  internal::UniqueFd dirfd_;
  bool proc_opened_ = false;  // open_proc ran for this flow.
  int dirfd_error_ = 0;       // why /proc/PID could not be opened.
  std::optional<Stat> stat_;
  ExeFile exe_;
  internal::UniqueFd exe_file_;
};

// The lookups of one flow, as the trace records them: what an ObservedLinuxSeam over a
// LiveLinuxSeam reports, plus what only the live seam knows (each call's duration, the
// notification a validity check asked about).
class FlowLookups final : public LookupObserver {
 public:
  static constexpr std::size_t kLookupsPerFlowMax = 8;

  explicit FlowLookups(const LiveLinuxSeam& live) : live_(live) {
    lookups_.reserve(kLookupsPerFlowMax);
  }
  void on_lookup(const Lookup& lookup) override;
  void clear() { lookups_.clear(); }
  std::vector<Lookup>& lookups() { return lookups_; }
  // The flow's first lookup of call, or null.
  Lookup* first(LookupCall call);

 private:
  const LiveLinuxSeam& live_;
  std::vector<Lookup> lookups_;
};

}  // namespace flowid::recorder
