// Two kinds of broken promise, told apart (as KJ does):
//   FLOWID_REQUIRE(condition, message): the caller is wrong (a precondition of a function was
//     not met: an argument out of range, a call out of order). Throws RequirementFailure.
//   FLOWID_ASSERT(condition, message): this code is wrong (an invariant it keeps itself does not
//     hold). Throws AssertionFailure.
// Both are checked in every build: they guard cheap conditions. The message is an expression
// yielding something std::string can be built from; it is evaluated only on failure. Expected
// failures (bad input, a refused seam call) are values, never these: a REQUIRE or an ASSERT that
// fires is a bug to fix, and the exception names FILE:LINE and the condition.
//
// FLOWID_CONSISTENCY_CHECKS is 1 in debug builds (no NDEBUG) and in fuzzing builds
// (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the libFuzzer convention): expensive whole-state
// checks, such as World::check_consistency() after every scenario step, run only then.
#pragma once

#include <stdexcept>
#include <string>

#ifndef FLOWID_CONSISTENCY_CHECKS
#if !defined(NDEBUG) || defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
#define FLOWID_CONSISTENCY_CHECKS 1
#else
#define FLOWID_CONSISTENCY_CHECKS 0
#endif
#endif

namespace flowid {

inline constexpr bool kConsistencyChecks = FLOWID_CONSISTENCY_CHECKS != 0;

// The caller broke a precondition.
class RequirementFailure final : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// This code broke its own invariant.
class AssertionFailure final : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
[[noreturn]] inline void require_failed(const char* file, int line, const char* condition,
                                        const std::string& message) {
  throw RequirementFailure(std::string(file) + ":" + std::to_string(line) +
                           ": requirement failed (the caller is wrong): " + condition + ": " +
                           message);
}
[[noreturn]] inline void assert_failed(const char* file, int line, const char* condition,
                                       const std::string& message) {
  throw AssertionFailure(std::string(file) + ":" + std::to_string(line) +
                         ": assertion failed (this code is wrong): " + condition + ": " + message);
}
}  // namespace detail

}  // namespace flowid

#define FLOWID_REQUIRE(condition, message)                                         \
  do {                                                                             \
    if (!(condition)) [[unlikely]]                                                 \
      ::flowid::detail::require_failed(__FILE__, __LINE__, #condition, (message)); \
  } while (false)

#define FLOWID_ASSERT(condition, message)                                         \
  do {                                                                            \
    if (!(condition)) [[unlikely]]                                                \
      ::flowid::detail::assert_failed(__FILE__, __LINE__, #condition, (message)); \
  } while (false)
