// The fault catalogue of DESIGN §3 (F1-F11) as values the fuzzer can enable, weigh and report.
//
// A FaultSet is a bit set over the eleven faults (bit i = F(i+1)). Faults have two spellings
// that every command line accepts: the id ("F1") and a name ("pid-reuse"). Lists are separated
// by commas; "all", "resolver" and "launcher" name the usual groups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flowid::fuzz {

enum class Fault : uint8_t {
  kPidReuse = 0,          // F1
  kExitRace = 1,          // F2
  kSandboxEperm = 2,      // F3
  kExecAfterFlow = 3,     // F4
  kReplacedOnDisk = 4,    // F5
  kDelegation = 5,        // F6
  kMalformedToken = 6,    // F7
  kTransientFailure = 7,  // F8
  kZombie = 8,            // F9
  kSameName = 9,          // F10
  kLaunchToctou = 10,     // F11
};
inline constexpr int kFaultCount = 11;

using FaultSet = uint16_t;
inline constexpr FaultSet kNoFaults = 0;
inline constexpr FaultSet bit(Fault fault) {
  return static_cast<FaultSet>(1u << static_cast<unsigned>(fault));
}
inline constexpr bool contains(FaultSet set, Fault fault) { return (set & bit(fault)) != 0; }
inline constexpr Fault fault_at(int index) { return static_cast<Fault>(index); }

// Faults a resolver case can carry (F1-F10) and faults a launcher case can carry (a file
// replaced before the launch, transient failures of the launch calls, the swap race).
inline constexpr FaultSet kResolverFaults = 0x03ff;
inline constexpr FaultSet kLauncherFaults =
    bit(Fault::kReplacedOnDisk) | bit(Fault::kTransientFailure) | bit(Fault::kLaunchToctou);
inline constexpr FaultSet kAllFaults = 0x07ff;

std::string_view fault_id(Fault fault);                   // "F1"
std::string_view fault_name(Fault fault);                 // "pid-reuse"
std::optional<Fault> parse_fault(std::string_view text);  // "F1", "f1" or "pid-reuse"

// "F1,F3,pid-reuse", "all", "resolver", "launcher". Empty text -> nullopt with an error.
std::optional<FaultSet> parse_fault_list(std::string_view text, std::string* error);
// "F1,F3" (ids in order), "none" for the empty set.
std::string format_fault_set(FaultSet set);
int fault_count(FaultSet set);

}  // namespace flowid::fuzz
