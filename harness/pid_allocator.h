// Pid allocation policies for the simulated kernel (DESIGN §2).
//
// Pid reuse is the root of fault F1: a bare pid names whatever holds it now. The three policies
// make reuse come at different speeds so that a property run can reach it cheaply:
// - kSequential: like XNU and Linux, hand out the next pid after the last one handed out,
//   wrapping from pid_max back to pid_min and skipping pids in use. With a small pid_max a pid
//   comes back after (pid_max - pid_min + 1) spawns.
// - kLowestFree: always the lowest free pid (reuse as soon as anything below is freed).
// - kReuseLastFreed: the most recently freed pid first (a stack of freed pids), else sequential:
//   the worst case for a resolver, the pid of a process that just died is reused at once.
//
// Invariant: a pid is handed out only when it is not in use; release() of a pid not in use is a
// caller bug. Pids outside [pid_min, pid_max] can be marked used (a process replayed from a
// trace), and are then simply tracked.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

namespace flowid {

enum class PidPolicy : uint8_t { kSequential = 0, kLowestFree = 1, kReuseLastFreed = 2 };
std::string_view name_of(PidPolicy policy);
std::optional<PidPolicy> parse_pid_policy(std::string_view name);

class PidAllocator final {
 public:
  // Pids are handed out from [pid_min, pid_max]; requires 1 <= pid_min <= pid_max.
  PidAllocator(PidPolicy policy, int32_t pid_min, int32_t pid_max);

  // A free pid, now marked in use; nullopt when every pid in range is in use (fork's EAGAIN).
  std::optional<int32_t> allocate();
  // Marks a specific pid used (a replayed process). False when it already is.
  bool mark_used(int32_t pid);
  // Frees a pid. False when it was not in use (the caller's bug; nothing changes).
  bool release(int32_t pid);
  bool in_use(int32_t pid) const;

  PidPolicy policy() const { return policy_; }
  int32_t pid_min() const { return pid_min_; }
  int32_t pid_max() const { return pid_max_; }
  // Pids in use inside [pid_min, pid_max].
  int32_t used_count() const { return used_count_; }
  // A hash of the allocation state besides which pids are in use (the caller knows those): the
  // cursor, the free lists. Equal digests and equal used pids allocate the same pids next.
  uint64_t digest() const;

 private:
  std::optional<int32_t> allocate_sequential();
  bool in_range(int32_t pid) const { return pid >= pid_min_ && pid <= pid_max_; }
  void set_used(int32_t pid, bool used);

  PidPolicy policy_;
  int32_t pid_min_;
  int32_t pid_max_;
  // The last pid handed out by the sequential scan (pid_min - 1 before the first).
  int32_t cursor_;
  int32_t used_count_ = 0;
  // used_[pid] for pids in [0, pid_max]; pids beyond pid_max live in used_outside_. It grows
  // with the highest pid used (a missing slot is free): filling pid_max + 1 slots on every
  // construction was a large part of schedule_fuzz's time under ASan (perf).
  std::vector<uint8_t> used_;
  std::set<int32_t> used_outside_;
  // kLowestFree: free pids below high_water_ (the lowest pid never handed out yet).
  std::set<int32_t> free_below_high_water_;
  int32_t high_water_;
  // kReuseLastFreed: freed pids, most recent last. Entries may be stale (re-used since by the
  // sequential fallback); allocate() skips those.
  std::vector<int32_t> freed_stack_;
};

}  // namespace flowid
