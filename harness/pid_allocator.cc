#include "harness/pid_allocator.h"
#include "harness/state_hash.h"

#include <array>
#include <stdexcept>

namespace flowid {
namespace {
constexpr std::array<std::string_view, 3> kPidPolicyNames = {"sequential", "lowest-free",
                                                             "reuse-last-freed"};
}  // namespace

std::string_view name_of(PidPolicy policy) {
  auto index = static_cast<std::size_t>(policy);
  return index < kPidPolicyNames.size() ? kPidPolicyNames[index] : std::string_view("invalid");
}

std::optional<PidPolicy> parse_pid_policy(std::string_view name) {
  for (std::size_t i = 0; i < kPidPolicyNames.size(); ++i) {
    if (kPidPolicyNames[i] == name) return static_cast<PidPolicy>(i);
  }
  return std::nullopt;
}

PidAllocator::PidAllocator(PidPolicy policy, int32_t pid_min, int32_t pid_max)
    : policy_(policy),
      pid_min_(pid_min),
      pid_max_(pid_max),
      cursor_(pid_min - 1),
      high_water_(pid_min) {
  if (pid_min < 1 || pid_max < pid_min) {
    throw std::invalid_argument("PidAllocator: requires 1 <= pid_min <= pid_max");
  }
}

bool PidAllocator::in_use(int32_t pid) const {
  if (pid < 0) return false;
  if (pid <= pid_max_) {
    return static_cast<std::size_t>(pid) < used_.size() &&
           used_[static_cast<std::size_t>(pid)] != 0;
  }
  return used_outside_.count(pid) != 0;
}

void PidAllocator::set_used(int32_t pid, bool used) {
  if (pid <= pid_max_) {
    const auto slot = static_cast<std::size_t>(pid);
    if (slot >= used_.size()) {
      if (!used) return;  // never set: nothing to clear (and set_used(pid, false) follows in_use).
      used_.resize(slot + 1, 0);
    }
    used_[slot] = used ? 1 : 0;
  } else if (used) {
    used_outside_.insert(pid);
  } else {
    used_outside_.erase(pid);
  }
  if (in_range(pid)) used_count_ += used ? 1 : -1;
}

std::optional<int32_t> PidAllocator::allocate_sequential() {
  const int32_t range = pid_max_ - pid_min_ + 1;
  if (used_count_ >= range) return std::nullopt;
  // Bounded: at most `range` probes, and at least one pid is free.
  int32_t pid = cursor_;
  for (int32_t probe = 0; probe < range; ++probe) {
    pid = pid >= pid_max_ ? pid_min_ : pid + 1;
    if (!in_use(pid)) {
      cursor_ = pid;
      set_used(pid, true);
      return pid;
    }
  }
  return std::nullopt;
}

std::optional<int32_t> PidAllocator::allocate() {
  switch (policy_) {
    case PidPolicy::kSequential:
      return allocate_sequential();
    case PidPolicy::kLowestFree: {
      // Pids marked used from outside may sit in the free set or above high water: skip them.
      while (!free_below_high_water_.empty()) {
        int32_t pid = *free_below_high_water_.begin();
        free_below_high_water_.erase(free_below_high_water_.begin());
        if (!in_use(pid)) {
          set_used(pid, true);
          return pid;
        }
      }
      while (high_water_ <= pid_max_) {
        int32_t pid = high_water_++;
        if (!in_use(pid)) {
          set_used(pid, true);
          return pid;
        }
      }
      return std::nullopt;
    }
    case PidPolicy::kReuseLastFreed:
      while (!freed_stack_.empty()) {
        int32_t pid = freed_stack_.back();
        freed_stack_.pop_back();
        if (!in_use(pid)) {
          set_used(pid, true);
          return pid;
        }
      }
      return allocate_sequential();
  }
  return std::nullopt;
}

bool PidAllocator::mark_used(int32_t pid) {
  if (pid < 0 || in_use(pid)) return false;
  set_used(pid, true);
  return true;
}

bool PidAllocator::release(int32_t pid) {
  if (!in_use(pid)) return false;
  set_used(pid, false);
  if (!in_range(pid)) return true;
  if (policy_ == PidPolicy::kLowestFree && pid < high_water_) free_below_high_water_.insert(pid);
  if (policy_ == PidPolicy::kReuseLastFreed) freed_stack_.push_back(pid);
  return true;
}

uint64_t PidAllocator::digest() const {
  StateHash h;
  h.add(static_cast<uint64_t>(policy_)).add(static_cast<uint64_t>(static_cast<uint32_t>(cursor_)));
  h.add(static_cast<uint64_t>(static_cast<uint32_t>(high_water_)))
      .add(static_cast<uint64_t>(used_count_));
  for (int32_t pid : used_outside_) h.add(static_cast<uint64_t>(static_cast<uint32_t>(pid)));
  h.add(free_below_high_water_.size());
  for (int32_t pid : free_below_high_water_)
    h.add(static_cast<uint64_t>(static_cast<uint32_t>(pid)));
  h.add(freed_stack_.size());
  for (int32_t pid : freed_stack_) h.add(static_cast<uint64_t>(static_cast<uint32_t>(pid)));
  return h.value();
}

}  // namespace flowid
