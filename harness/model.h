// Plain value types for everything flowid records, replays and checks.
//
// These types are the vocabulary shared by the simulated world, the resolver strategies, the
// filter, the oracle, the recorder and the trace codec. They carry no Cap'n Proto and no OS
// types: the codec (trace/) converts them to and from the wire format, and the recorder
// (recorder/) fills them from real OS answers. Every type is a regular value (copyable,
// equality-comparable) so that a round trip through a trace can be checked with `==`.
//
// Domain notes (see DESIGN.md §1):
// - An audit token is 8 uint32 in audit_token_t order [auid, euid, egid, ruid, rgid, pid, asid,
//   pidversion]. (pid, pidversion) names one execution; a bare pid names nothing safely.
// - Paths are byte strings (std::string used as bytes): they are not always UTF-8.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "harness/seam_calls.h"

namespace flowid {

// ---------------------------------------------------------------------------------------------
// Audit tokens and executions.

// One execution of one process: the pair that audit tokens exist to carry. pidversion changes on
// every spawn and on every exec, so a token taken before an exec is stale even though the pid is
// still alive.
struct ExecutionId {
  int32_t pid = 0;
  uint32_t pidversion = 0;
  friend auto operator<=>(const ExecutionId&, const ExecutionId&) = default;
};

// audit_token_t: 8 uint32 in the kernel's order. Named accessors keep call sites readable; the
// raw words are public because importers and the codec move them as a block.
struct AuditToken {
  static constexpr std::size_t kWordCount = 8;
  static constexpr std::size_t kByteSize = kWordCount * sizeof(uint32_t);
  enum Word : std::size_t { kAuid = 0, kEuid, kEgid, kRuid, kRgid, kPid, kAsid, kPidversion };

  std::array<uint32_t, kWordCount> words{};

  uint32_t auid() const { return words[kAuid]; }
  uint32_t euid() const { return words[kEuid]; }
  uint32_t egid() const { return words[kEgid]; }
  uint32_t ruid() const { return words[kRuid]; }
  uint32_t rgid() const { return words[kRgid]; }
  int32_t pid() const { return static_cast<int32_t>(words[kPid]); }
  uint32_t asid() const { return words[kAsid]; }
  uint32_t pidversion() const { return words[kPidversion]; }
  ExecutionId execution() const { return ExecutionId{pid(), pidversion()}; }

  friend auto operator<=>(const AuditToken&, const AuditToken&) = default;
};

// A token as a flow carries it: NEFilterFlow hands tokens over as Data, which may be absent or
// of the wrong size (fault F7). A well-formed token has size_bytes == AuditToken::kByteSize; a
// malformed one keeps the words that were present (the rest zero) and its real size.
struct FlowToken {
  bool present = false;
  uint32_t size_bytes = 0;
  AuditToken token{};

  bool well_formed() const { return present && size_bytes == AuditToken::kByteSize; }
  friend bool operator==(const FlowToken&, const FlowToken&) = default;
};

// ---------------------------------------------------------------------------------------------
// Code identity.

using Cdhash = std::array<uint8_t, 20>;
using Uuid = std::array<uint8_t, 16>;

enum class SignatureKind : uint8_t {
  kUnsigned = 0,
  kAdHoc = 1,  // signed, but with no stable identity (no team id, no certificate).
  kDeveloperId = 2,
  kAppStore = 3,
  kPlatform = 4,  // Apple platform binary.
};
inline constexpr int kSignatureKindCount = 5;

// What a resolver learns about the code behind a flow. cdhash is absent for unsigned code.
struct CodeIdentity {
  std::string path;  // bytes, not necessarily UTF-8.
  std::optional<Cdhash> cdhash;
  std::string signing_id;  // empty when unsigned.
  std::string team_id;     // empty for platform, ad-hoc and unsigned code.
  bool platform = false;
  SignatureKind signature = SignatureKind::kUnsigned;
  bool hardened_runtime = false;

  friend bool operator==(const CodeIdentity&, const CodeIdentity&) = default;
};

// ---------------------------------------------------------------------------------------------
// Events. Each event kind is a struct; Event pairs one with its timestamp.

// A new process. parent is the token of the process that spawned it; responsible is the app
// responsible for it (absent when it is its own responsible process).
struct ProcessSpawn {
  AuditToken token;
  AuditToken parent;
  std::optional<AuditToken> responsible;
  CodeIdentity image;
  friend bool operator==(const ProcessSpawn&, const ProcessSpawn&) = default;
};

// An exec: same pid, new pidversion, possibly a new image. previous is the token before the exec.
struct ProcessExec {
  AuditToken previous;
  AuditToken token;
  CodeIdentity image;
  friend bool operator==(const ProcessExec&, const ProcessExec&) = default;
};

enum class ExitStage : uint8_t {
  kExited = 0,  // dead but not reaped: a zombie still holds its pid (fault F9).
  kReaped = 1,  // the pid is free for reuse.
};

struct ProcessExit {
  AuditToken token;
  int32_t status = 0;  // wait status as the source reports it.
  ExitStage stage = ExitStage::kReaped;
  friend bool operator==(const ProcessExit&, const ProcessExit&) = default;
};

enum class FileOp : uint8_t {
  kCreate = 0,
  kReplace = 1,  // same path, new content (a running process keeps the image it started with).
  kRemove = 2,
  kRename = 3,  // path -> new_path.
};

struct FileChange {
  FileOp op = FileOp::kCreate;
  std::string path;
  std::string new_path;               // kRename only.
  std::optional<CodeIdentity> image;  // kCreate and kReplace: the new content's identity.
  friend bool operator==(const FileChange&, const FileChange&) = default;
};

enum class FlowDirection : uint8_t { kAny = 0, kOutbound = 1, kInbound = 2 };

// An address as text ("192.168.1.6", "::1", a unix socket path) plus a port.
struct Endpoint {
  std::string address;
  uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// One NEFilterFlow / NEFilterSocketFlow, with every field its description shows. flow_id is the
// trace-local number that lookups and verdicts refer to; identifier is the flow's UUID.
struct Flow {
  uint64_t flow_id = 0;
  Uuid identifier{};
  FlowToken source_app_audit_token;      // the app.
  FlowToken source_process_audit_token;  // macOS 13+: the process that created the socket.
  std::string source_app_identifier;
  std::string source_app_version;
  std::string source_app_unique_identifier;  // bytes (20 on macOS).
  std::string hostname;
  std::string remote_hostname;
  Endpoint local_endpoint;
  Endpoint remote_endpoint;
  FlowDirection direction = FlowDirection::kOutbound;
  uint32_t protocol = 0;  // IPPROTO_*.
  uint32_t family = 0;    // AF_*.
  uint32_t type = 0;      // SOCK_*.
  int32_t proc_pid = 0;
  int32_t eproc_pid = 0;
  Uuid proc_uuid{};
  Uuid eproc_uuid{};
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  friend bool operator==(const Flow&, const Flow&) = default;
};

// The calls a resolver or launcher makes through the seam (DESIGN §1), plus the Linux calls the
// live recorder makes, generated from the one list in harness/seam_calls.h (which says what each
// call is). The numeric values are part of the trace format: append only.
enum class LookupCall : uint8_t {
#define FLOWID_LOOKUP_CALL_ENUMERATOR(enumerator, number, name, method, capnp) enumerator = number,
  FLOWID_LOOKUP_CALLS(FLOWID_LOOKUP_CALL_ENUMERATOR)
#undef FLOWID_LOOKUP_CALL_ENUMERATOR
};
#define FLOWID_LOOKUP_CALL_ONE(enumerator, number, name, method, capnp) +1
inline constexpr int kLookupCallCount = 0 FLOWID_LOOKUP_CALLS(FLOWID_LOOKUP_CALL_ONE);
#undef FLOWID_LOOKUP_CALL_ONE
// Tables indexed by a call's number (its name, World's injected failures) rely on the numbers
// being 0..count-1 in list order.
namespace lookup_call_list {
#define FLOWID_LOOKUP_CALL_NUMBER(enumerator, number, name, method, capnp) number,
inline constexpr int kNumbers[] = {FLOWID_LOOKUP_CALLS(FLOWID_LOOKUP_CALL_NUMBER)};
#undef FLOWID_LOOKUP_CALL_NUMBER
constexpr bool numbered_in_order() {
  for (int i = 0; i < kLookupCallCount; ++i) {
    if (kNumbers[i] != i) return false;
  }
  return true;
}
static_assert(numbered_in_order(), "harness/seam_calls.h: numbers must be 0, 1, 2, ... in order");
}  // namespace lookup_call_list

// Which error space a lookup's code belongs to. A code of 0 is success in every domain.
enum class OutcomeDomain : uint8_t {
  kOsStatus = 0,    // Security framework OSStatus (e.g. 100001 = kPOSIXErrorEPERM).
  kErrno = 1,       // POSIX errno (ESRCH, EPERM, EACCES, ENOENT).
  kKernReturn = 2,  // Mach kern_return_t.
};

struct LookupOutcome {
  OutcomeDomain domain = OutcomeDomain::kOsStatus;
  int32_t code = 0;
  bool ok() const { return code == 0; }
  friend bool operator==(const LookupOutcome&, const LookupOutcome&) = default;
};

// The arguments a call was made with. Only the fields the call uses are set; the rest stay at
// their defaults so that faithful replay can match calls by value.
struct LookupArgs {
  std::optional<AuditToken> token;
  int32_t pid = 0;
  uint64_t code_handle = 0;  // a SecCode / SecStaticCode handle returned by an earlier lookup.
  std::string requirement;   // SecRequirement text for kCheckValidity and launches.
  std::string path;          // launcher calls: the executable's path.
  friend bool operator==(const LookupArgs&, const LookupArgs&) = default;
};

// What a call returned on success. Again only the fields the call produces are set.
struct LookupData {
  uint64_t code_handle = 0;
  std::string path;
  std::optional<AuditToken> token;
  int32_t pid = 0;
  std::optional<CodeIdentity> identity;  // kSigningInformation, kProcExe + kExeHash.
  friend bool operator==(const LookupData&, const LookupData&) = default;
};

// One call through the seam and its outcome. flow_id ties it to the flow being resolved (0 when
// the call belongs to no flow, e.g. a launcher check). duration_ns is how long the call took.
struct Lookup {
  uint64_t flow_id = 0;
  LookupCall call = LookupCall::kGuestByAuditToken;
  LookupArgs args;
  LookupOutcome outcome;
  LookupData data;
  uint64_t duration_ns = 0;
  friend bool operator==(const Lookup&, const Lookup&) = default;
};

enum class Decision : uint8_t { kAllow = 0, kDrop = 1, kAsk = 2 };

// How far a resolver got. "verified" may only be claimed when the identity is bound to the
// flow's own execution (a token-based lookup); anything derived from a bare pid is at most
// "unverified"; "gone" means the execution exited before it could be resolved.
enum class AttributionStatus : uint8_t { kVerified = 0, kUnverified = 1, kGone = 2, kUnknown = 3 };

// What the user sees next to the verdict (seed 000: unverified names are shown in red).
enum class VerdictLabel : uint8_t { kVerified = 0, kUnverifiedWarning = 1, kUnknown = 2 };

struct Verdict {
  uint64_t flow_id = 0;
  Decision decision = Decision::kAllow;
  AttributionStatus status = AttributionStatus::kUnknown;
  std::optional<CodeIdentity> identity;
  VerdictLabel label = VerdictLabel::kUnknown;
  std::string rule;  // the rule that decided, or the policy name ("policy:unverified").
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

// Free text a recorder or importer keeps for people (e.g. the extension's own log lines).
struct Marker {
  std::string text;
  friend bool operator==(const Marker&, const Marker&) = default;
};

// The source lost events (ring buffer overrun, malformed records skipped with --lenient).
struct DroppedEvents {
  uint64_t count = 0;
  std::string reason;
  friend bool operator==(const DroppedEvents&, const DroppedEvents&) = default;
};

// The order of alternatives is the EventKind numbering; it is part of the trace format.
using EventBody = std::variant<ProcessSpawn, ProcessExec, ProcessExit, FileChange, Flow, Lookup,
                               Verdict, Marker, DroppedEvents>;

enum class EventKind : uint8_t {
  kProcessSpawn = 0,
  kProcessExec = 1,
  kProcessExit = 2,
  kFileChange = 3,
  kFlow = 4,
  kLookup = 5,
  kVerdict = 6,
  kMarker = 7,
  kDroppedEvents = 8,
};
inline constexpr int kEventKindCount = 9;

struct Event {
  uint64_t time_ns = 0;  // since the trace's epoch; the header names the clock.
  EventBody body;

  EventKind kind() const { return static_cast<EventKind>(body.index()); }
  friend bool operator==(const Event&, const Event&) = default;
};

// ---------------------------------------------------------------------------------------------
// Names. Each enum has a stable lowercase name used in text output, JSON, rule files and CLI
// flags; parse_* returns nullopt for an unknown name.

std::string_view name_of(SignatureKind v);
std::string_view name_of(ExitStage v);
std::string_view name_of(FileOp v);
std::string_view name_of(FlowDirection v);
std::string_view name_of(LookupCall v);
std::string_view name_of(OutcomeDomain v);
std::string_view name_of(Decision v);
std::string_view name_of(AttributionStatus v);
std::string_view name_of(VerdictLabel v);
std::string_view name_of(EventKind v);

std::optional<SignatureKind> parse_signature_kind(std::string_view name);
std::optional<LookupCall> parse_lookup_call(std::string_view name);
std::optional<Decision> parse_decision(std::string_view name);
std::optional<AttributionStatus> parse_attribution_status(std::string_view name);
std::optional<EventKind> parse_event_kind(std::string_view name);

// Well-known outcome codes (DESIGN §1). Only codes some caller reacts to differently exist here.
namespace codes {
inline constexpr int32_t kOsStatusEperm = 100001;    // kPOSIXErrorEPERM
inline constexpr int32_t kOsStatusEsrch = 100003;    // kPOSIXErrorESRCH
inline constexpr int32_t kSecCsNoSuchCode = -67065;  // errSecCSNoSuchCode
inline constexpr int32_t kSecCsStaticCodeChanged = -67034;
inline constexpr int32_t kSecCsReqFailed = -67050;
inline constexpr int32_t kSecCsUnsigned = -67062;
inline constexpr int32_t kSecCsInvalidObjectRef = -67071;  // a handle that names nothing.
inline constexpr int32_t kSecCsGuestInvalid = -67063;      // errSecCSGuestInvalid: guest dead.
inline constexpr int32_t kKernFailure = 5;                 // KERN_FAILURE
inline constexpr int32_t kKernInvalidArgument = 4;         // KERN_INVALID_ARGUMENT
// Added by the simulated world (appended): a requirement text that does not parse, and a path
// with no code at it (SecStaticCodeCreateWithPath / launches of a missing file).
inline constexpr int32_t kSecCsReqInvalid = -67052;          // errSecCSReqInvalid
inline constexpr int32_t kSecCsStaticCodeNotFound = -67068;  // errSecCSStaticCodeNotFound
}  // namespace codes

// A short symbolic name for an outcome ("EPERM(100001)", "errSecCSReqFailed", "ESRCH", "ok").
std::string describe_outcome(const LookupOutcome& outcome);

}  // namespace flowid
