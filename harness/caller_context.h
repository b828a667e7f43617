// Who asks the questions: the caller a seam answers and a trace records.
//
// It lives in the core because the simulated world answers by it (a sandboxed caller is refused
// token lookups of platform binaries), and the trace header stores it; the core includes nothing
// above it, so the trace codec takes this type from here.
#pragma once

#include <cstdint>
#include <string>

namespace flowid {

// Who asked the questions recorded in a trace: it decides, e.g., whether token lookups of
// /usr/libexec platform binaries are refused with EPERM (seed 000).
struct CallerContext {
  bool sandboxed = false;
  bool root = false;
  uint32_t uid = 0;
  std::string description;  // e.g. "NE system extension", "seccomp supervisor".
  friend bool operator==(const CallerContext&, const CallerContext&) = default;
};

}  // namespace flowid
