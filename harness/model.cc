#include "harness/model.h"

#include <fmt/format.h>
#include <cerrno>

namespace flowid {
namespace {

// Looks a name up in a table indexed by the enum's value. Tables are in enum order.
template <typename Enum, std::size_t N>
std::optional<Enum> parse_from(const std::array<std::string_view, N>& names,
                               std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

template <std::size_t N>
std::string_view name_from(const std::array<std::string_view, N>& names, std::size_t index) {
  return index < N ? names[index] : std::string_view("invalid");
}

constexpr std::array<std::string_view, kSignatureKindCount> kSignatureKindNames = {
    "unsigned", "ad-hoc", "developer-id", "app-store", "platform"};
constexpr std::array<std::string_view, 2> kExitStageNames = {"exited", "reaped"};
constexpr std::array<std::string_view, 4> kFileOpNames = {"create", "replace", "remove", "rename"};
constexpr std::array<std::string_view, 3> kDirectionNames = {"any", "outbound", "inbound"};
constexpr std::array<std::string_view, kLookupCallCount> kLookupCallNames = {
#define FLOWID_LOOKUP_CALL_NAME(enumerator, number, name, method, capnp) name,
    FLOWID_LOOKUP_CALLS(FLOWID_LOOKUP_CALL_NAME)
#undef FLOWID_LOOKUP_CALL_NAME
};
constexpr std::array<std::string_view, 3> kDomainNames = {"osstatus", "errno", "kern_return"};
constexpr std::array<std::string_view, 3> kDecisionNames = {"allow", "drop", "ask"};
constexpr std::array<std::string_view, 4> kStatusNames = {"verified", "unverified", "gone",
                                                          "unknown"};
constexpr std::array<std::string_view, 3> kLabelNames = {"verified", "unverified-warning",
                                                         "unknown"};
constexpr std::array<std::string_view, kEventKindCount> kEventKindNames = {
    "spawn", "exec", "exit", "file", "flow", "lookup", "verdict", "marker", "dropped"};

}  // namespace

std::string_view name_of(SignatureKind v) {
  return name_from(kSignatureKindNames, static_cast<std::size_t>(v));
}
std::string_view name_of(ExitStage v) {
  return name_from(kExitStageNames, static_cast<std::size_t>(v));
}
std::string_view name_of(FileOp v) { return name_from(kFileOpNames, static_cast<std::size_t>(v)); }
std::string_view name_of(FlowDirection v) {
  return name_from(kDirectionNames, static_cast<std::size_t>(v));
}
std::string_view name_of(LookupCall v) {
  return name_from(kLookupCallNames, static_cast<std::size_t>(v));
}
std::string_view name_of(OutcomeDomain v) {
  return name_from(kDomainNames, static_cast<std::size_t>(v));
}
std::string_view name_of(Decision v) {
  return name_from(kDecisionNames, static_cast<std::size_t>(v));
}
std::string_view name_of(AttributionStatus v) {
  return name_from(kStatusNames, static_cast<std::size_t>(v));
}
std::string_view name_of(VerdictLabel v) {
  return name_from(kLabelNames, static_cast<std::size_t>(v));
}
std::string_view name_of(EventKind v) {
  return name_from(kEventKindNames, static_cast<std::size_t>(v));
}

std::optional<SignatureKind> parse_signature_kind(std::string_view name) {
  return parse_from<SignatureKind>(kSignatureKindNames, name);
}
std::optional<LookupCall> parse_lookup_call(std::string_view name) {
  return parse_from<LookupCall>(kLookupCallNames, name);
}
std::optional<Decision> parse_decision(std::string_view name) {
  return parse_from<Decision>(kDecisionNames, name);
}
std::optional<AttributionStatus> parse_attribution_status(std::string_view name) {
  return parse_from<AttributionStatus>(kStatusNames, name);
}
std::optional<EventKind> parse_event_kind(std::string_view name) {
  return parse_from<EventKind>(kEventKindNames, name);
}

std::string describe_outcome(const LookupOutcome& outcome) {
  if (outcome.ok()) return "ok";
  switch (outcome.domain) {
    case OutcomeDomain::kOsStatus:
      switch (outcome.code) {
        case codes::kOsStatusEperm:
          return "EPERM(100001)";
        case codes::kOsStatusEsrch:
          return "ESRCH(100003)";
        case codes::kSecCsNoSuchCode:
          return "errSecCSNoSuchCode(-67065)";
        case codes::kSecCsStaticCodeChanged:
          return "errSecCSStaticCodeChanged(-67034)";
        case codes::kSecCsReqFailed:
          return "errSecCSReqFailed(-67050)";
        case codes::kSecCsUnsigned:
          return "errSecCSUnsigned(-67062)";
        case codes::kSecCsInvalidObjectRef:
          return "errSecCSInvalidObjectRef(-67071)";
        case codes::kSecCsGuestInvalid:
          return "errSecCSGuestInvalid(-67063)";
        default:
          return fmt::format("OSStatus({})", outcome.code);
      }
    case OutcomeDomain::kErrno:
      switch (outcome.code) {
        case EPERM:
          return "EPERM";
        case ENOENT:
          return "ENOENT";
        case ESRCH:
          return "ESRCH";
        case EACCES:
          return "EACCES";
        case EINVAL:
          return "EINVAL";
        case ENOSYS:
          return "ENOSYS";
        case EAGAIN:
          return "EAGAIN";
        case ETIMEDOUT:
          return "ETIMEDOUT";
        default:
          return fmt::format("errno({})", outcome.code);
      }
    case OutcomeDomain::kKernReturn:
      switch (outcome.code) {
        case codes::kKernFailure:
          return "KERN_FAILURE";
        case codes::kKernInvalidArgument:
          return "KERN_INVALID_ARGUMENT";
        default:
          return fmt::format("kern_return({})", outcome.code);
      }
  }
  return fmt::format("code({})", outcome.code);
}

}  // namespace flowid
