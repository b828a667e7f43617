// rapidcheck generators for every type in harness/model.h and for Event, shared by the trace
// tests and the fuzzing work. Named generators live in flowid::gen (compose them: e.g.
// flowid::gen::event_of_kind(EventKind::kFlow)); rc::Arbitrary specialisations make
// `rc::gen::arbitrary<T>()` and RC_GTEST_PROP parameters of these types just work.
//
// The generators lean towards the values that break codecs and resolvers: empty strings, paths
// that are not UTF-8 or hold NUL bytes, integer extremes, absent and malformed FlowTokens
// (present with the wrong size, absent yet carrying words), optionals both ways. Enum values are
// the declared ones only; code that must survive other numbers should test that on purpose.
#pragma once

#include <rapidcheck.h>

#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "harness/model.h"
#include "trace/trace.h"

namespace flowid::gen {

// An optional that is present about two times in three.
template <typename T>
rc::Gen<std::optional<T>> optional_of(rc::Gen<T> value) {
  return rc::gen::oneOf(rc::gen::just(std::optional<T>()),
                        rc::gen::map(value, [](T v) { return std::optional<T>(std::move(v)); }),
                        rc::gen::map(value, [](T v) { return std::optional<T>(std::move(v)); }));
}

// Integers biased to their extremes and to zero as well as rapidcheck's usual small values.
template <typename Int>
rc::Gen<Int> integer() {
  return rc::gen::weightedOneOf<Int>(
      {{6, rc::gen::arbitrary<Int>()},
       {1, rc::gen::element(std::numeric_limits<Int>::min(), std::numeric_limits<Int>::max(),
                            Int{0}, static_cast<Int>(1))}});
}

// Byte strings: printable text, arbitrary bytes (mostly not UTF-8), awkward fixed samples.
inline rc::Gen<std::string> bytes() {
  return rc::gen::weightedOneOf<std::string>({
      {4, rc::gen::arbitrary<std::string>()},
      {2, rc::gen::container<std::string>(rc::gen::arbitrary<char>())},
      {2, rc::gen::element<std::string>(
              "", "/usr/libexec/nsurlsessiond", "/Applications/Spotify.app/Contents/MacOS/Spotify",
              std::string("/tmp/\xff\xfe\x80not-utf8"), std::string("nul\0inside", 10),
              std::string(300, 'x'), "caf\xc3\xa9", std::string("\xc3\x28", 2))},
  });
}

// Paths: like bytes(), but shaped like absolute paths more often.
inline rc::Gen<std::string> path() {
  return rc::gen::weightedOneOf<std::string>({
      {3, bytes()},
      {2, rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::nonEmpty(
                           rc::gen::container<std::string>(rc::gen::arbitrary<char>()))),
                       [](const std::vector<std::string>& parts) {
                         std::string p;
                         for (const auto& part : parts) p += "/" + part;
                         return p;
                       })},
  });
}

inline rc::Gen<AuditToken> audit_token() {
  return rc::gen::exec([] {
    AuditToken t;
    for (auto& w : t.words) w = *integer<uint32_t>();
    return t;
  });
}

// Well-formed, absent, malformed (wrong size, fault F7) and plain arbitrary flow tokens.
inline rc::Gen<FlowToken> flow_token() {
  return rc::gen::weightedOneOf<FlowToken>({
      {3, rc::gen::map(audit_token(),
                       [](const AuditToken& t) {
                         return FlowToken{true, AuditToken::kByteSize, t};
                       })},
      {1, rc::gen::just(FlowToken{})},
      {1, rc::gen::exec([] {
         // Malformed: the words that fit in size_bytes, the rest zero.
         FlowToken f;
         f.present = true;
         f.size_bytes = *rc::gen::inRange<uint32_t>(0, 64);
         AuditToken t = *audit_token();
         for (std::size_t i = 0; i < AuditToken::kWordCount && (i + 1) * 4 <= f.size_bytes; ++i) {
           f.token.words[i] = t.words[i];
         }
         return f;
       })},
      {1, rc::gen::exec([] {
         return FlowToken{*rc::gen::arbitrary<bool>(), *integer<uint32_t>(), *audit_token()};
       })},
  });
}

template <std::size_t N>
rc::Gen<std::array<uint8_t, N>> byte_array() {
  return rc::gen::arbitrary<std::array<uint8_t, N>>();
}

inline rc::Gen<SignatureKind> signature_kind() {
  return rc::gen::element(SignatureKind::kUnsigned, SignatureKind::kAdHoc,
                          SignatureKind::kDeveloperId, SignatureKind::kAppStore,
                          SignatureKind::kPlatform);
}
inline rc::Gen<ExitStage> exit_stage() {
  return rc::gen::element(ExitStage::kExited, ExitStage::kReaped);
}
inline rc::Gen<FileOp> file_op() {
  return rc::gen::element(FileOp::kCreate, FileOp::kReplace, FileOp::kRemove, FileOp::kRename);
}
inline rc::Gen<FlowDirection> flow_direction() {
  return rc::gen::element(FlowDirection::kAny, FlowDirection::kOutbound, FlowDirection::kInbound);
}
inline rc::Gen<LookupCall> lookup_call() {
  return rc::gen::map(rc::gen::inRange(0, kLookupCallCount),
                      [](int i) { return static_cast<LookupCall>(i); });
}
inline rc::Gen<OutcomeDomain> outcome_domain() {
  return rc::gen::element(OutcomeDomain::kOsStatus, OutcomeDomain::kErrno,
                          OutcomeDomain::kKernReturn);
}
inline rc::Gen<Decision> decision() {
  return rc::gen::element(Decision::kAllow, Decision::kDrop, Decision::kAsk);
}
inline rc::Gen<AttributionStatus> attribution_status() {
  return rc::gen::element(AttributionStatus::kVerified, AttributionStatus::kUnverified,
                          AttributionStatus::kGone, AttributionStatus::kUnknown);
}
inline rc::Gen<VerdictLabel> verdict_label() {
  return rc::gen::element(VerdictLabel::kVerified, VerdictLabel::kUnverifiedWarning,
                          VerdictLabel::kUnknown);
}

inline rc::Gen<CodeIdentity> code_identity() {
  return rc::gen::exec([] {
    CodeIdentity c;
    c.path = *path();
    c.cdhash = *optional_of(byte_array<20>());
    c.signing_id = *bytes();
    c.team_id = *bytes();
    c.platform = *rc::gen::arbitrary<bool>();
    c.signature = *signature_kind();
    c.hardened_runtime = *rc::gen::arbitrary<bool>();
    return c;
  });
}

inline rc::Gen<ProcessSpawn> process_spawn() {
  return rc::gen::exec([] {
    return ProcessSpawn{*audit_token(), *audit_token(), *optional_of(audit_token()),
                        *code_identity()};
  });
}
inline rc::Gen<ProcessExec> process_exec() {
  return rc::gen::exec([] {
    return ProcessExec{*audit_token(), *audit_token(), *code_identity()};
  });
}
inline rc::Gen<ProcessExit> process_exit() {
  return rc::gen::exec([] {
    return ProcessExit{*audit_token(), *integer<int32_t>(), *exit_stage()};
  });
}
inline rc::Gen<FileChange> file_change() {
  return rc::gen::exec([] {
    return FileChange{*file_op(), *path(), *path(), *optional_of(code_identity())};
  });
}
inline rc::Gen<Endpoint> endpoint() {
  return rc::gen::exec([] {
    return Endpoint{*rc::gen::weightedOneOf<std::string>(
                        {{2, rc::gen::element<std::string>("192.168.1.6", "::1", "10.0.0.1",
                                                           "fe80::1%en0", "/var/run/sock", "")},
                         {1, bytes()}}),
                    *integer<uint16_t>()};
  });
}
inline rc::Gen<Flow> flow() {
  return rc::gen::exec([] {
    Flow f;
    f.flow_id = *integer<uint64_t>();
    f.identifier = *byte_array<16>();
    f.source_app_audit_token = *flow_token();
    f.source_process_audit_token = *flow_token();
    f.source_app_identifier = *bytes();
    f.source_app_version = *bytes();
    f.source_app_unique_identifier = *bytes();
    f.hostname = *bytes();
    f.remote_hostname = *bytes();
    f.local_endpoint = *endpoint();
    f.remote_endpoint = *endpoint();
    f.direction = *flow_direction();
    f.protocol = *integer<uint32_t>();
    f.family = *integer<uint32_t>();
    f.type = *integer<uint32_t>();
    f.proc_pid = *integer<int32_t>();
    f.eproc_pid = *integer<int32_t>();
    f.proc_uuid = *byte_array<16>();
    f.eproc_uuid = *byte_array<16>();
    f.in_bytes = *integer<uint64_t>();
    f.out_bytes = *integer<uint64_t>();
    return f;
  });
}
inline rc::Gen<LookupOutcome> lookup_outcome() {
  return rc::gen::exec([] {
    return LookupOutcome{
        *outcome_domain(),
        *rc::gen::weightedOneOf<int32_t>(
            {{2, rc::gen::just(int32_t{0})},
             {2,
              rc::gen::element(codes::kOsStatusEperm, codes::kOsStatusEsrch,
                               codes::kSecCsNoSuchCode, codes::kSecCsStaticCodeChanged,
                               codes::kSecCsReqFailed, codes::kSecCsUnsigned, codes::kKernFailure)},
             {1, integer<int32_t>()}})};
  });
}
inline rc::Gen<LookupArgs> lookup_args() {
  return rc::gen::exec([] {
    return LookupArgs{*optional_of(audit_token()), *integer<int32_t>(), *integer<uint64_t>(),
                      *bytes(), *path()};
  });
}
inline rc::Gen<LookupData> lookup_data() {
  return rc::gen::exec([] {
    return LookupData{*integer<uint64_t>(), *path(), *optional_of(audit_token()),
                      *integer<int32_t>(), *optional_of(code_identity())};
  });
}
inline rc::Gen<Lookup> lookup() {
  return rc::gen::exec([] {
    return Lookup{*integer<uint64_t>(), *lookup_call(), *lookup_args(),
                  *lookup_outcome(),    *lookup_data(), *integer<uint64_t>()};
  });
}
inline rc::Gen<Verdict> verdict() {
  return rc::gen::exec([] {
    return Verdict{*integer<uint64_t>(),          *decision(),      *attribution_status(),
                   *optional_of(code_identity()), *verdict_label(), *bytes()};
  });
}
inline rc::Gen<Marker> marker() {
  return rc::gen::map(bytes(), [](std::string s) { return Marker{std::move(s)}; });
}
inline rc::Gen<DroppedEvents> dropped_events() {
  return rc::gen::exec([] { return DroppedEvents{*integer<uint64_t>(), *bytes()}; });
}

inline rc::Gen<EventBody> event_body_of_kind(EventKind kind) {
  auto as_body = [](auto g) {
    return rc::gen::map(g, [](auto v) { return EventBody(std::move(v)); });
  };
  switch (kind) {
    case EventKind::kProcessSpawn:
      return as_body(process_spawn());
    case EventKind::kProcessExec:
      return as_body(process_exec());
    case EventKind::kProcessExit:
      return as_body(process_exit());
    case EventKind::kFileChange:
      return as_body(file_change());
    case EventKind::kFlow:
      return as_body(flow());
    case EventKind::kLookup:
      return as_body(lookup());
    case EventKind::kVerdict:
      return as_body(verdict());
    case EventKind::kMarker:
      return as_body(marker());
    case EventKind::kDroppedEvents:
      return as_body(dropped_events());
  }
  return as_body(marker());
}

inline rc::Gen<EventKind> event_kind() {
  return rc::gen::map(rc::gen::inRange(0, kEventKindCount),
                      [](int i) { return static_cast<EventKind>(i); });
}

// Times: mostly increasing-looking values, sometimes extremes (the codec must not assume order).
inline rc::Gen<uint64_t> time_ns() { return integer<uint64_t>(); }

inline rc::Gen<Event> event_of_kind(EventKind kind) {
  return rc::gen::exec([kind] { return Event{*time_ns(), *event_body_of_kind(kind)}; });
}

inline rc::Gen<Event> event() {
  return rc::gen::exec([] { return Event{*time_ns(), *event_body_of_kind(*event_kind())}; });
}

// A sequence of events with non-decreasing times, as recorders produce.
inline rc::Gen<std::vector<Event>> ordered_events() {
  return rc::gen::exec([] {
    auto events = *rc::gen::container<std::vector<Event>>(event());
    uint64_t t = *rc::gen::inRange<uint64_t>(0, uint64_t{1} << 40);
    for (Event& e : events) {
      t += *rc::gen::inRange<uint64_t>(0, 1'000'000);
      e.time_ns = t;
    }
    return events;
  });
}

// A trace header with arbitrary bytes everywhere (format_version stays ours: a different one is
// the evolution test's business).
inline rc::Gen<trace::TraceHeader> trace_header() {
  return rc::gen::exec([] {
    trace::TraceHeader h;
    h.recorder = *bytes();
    h.host = *bytes();
    h.os = *bytes();
    h.clock = *bytes();
    h.time_unit_ns = *integer<uint64_t>();
    h.start_wall_time_ns = *integer<uint64_t>();
    h.caller = trace::CallerContext{*rc::gen::arbitrary<bool>(), *rc::gen::arbitrary<bool>(),
                                    *integer<uint32_t>(), *bytes()};
    h.resolver_config = *rc::gen::container<std::vector<std::pair<std::string, std::string>>>(
        rc::gen::pair(bytes(), bytes()));
    return h;
  });
}

}  // namespace flowid::gen

namespace rc {

#define FLOWID_RC_ARBITRARY(Type, generator)                                  \
  template <>                                                                 \
  struct Arbitrary<flowid::Type> {                                            \
    static Gen<flowid::Type> arbitrary() { return flowid::gen::generator(); } \
  };

FLOWID_RC_ARBITRARY(AuditToken, audit_token)
FLOWID_RC_ARBITRARY(FlowToken, flow_token)
FLOWID_RC_ARBITRARY(SignatureKind, signature_kind)
FLOWID_RC_ARBITRARY(ExitStage, exit_stage)
FLOWID_RC_ARBITRARY(FileOp, file_op)
FLOWID_RC_ARBITRARY(FlowDirection, flow_direction)
FLOWID_RC_ARBITRARY(LookupCall, lookup_call)
FLOWID_RC_ARBITRARY(OutcomeDomain, outcome_domain)
FLOWID_RC_ARBITRARY(Decision, decision)
FLOWID_RC_ARBITRARY(AttributionStatus, attribution_status)
FLOWID_RC_ARBITRARY(VerdictLabel, verdict_label)
FLOWID_RC_ARBITRARY(CodeIdentity, code_identity)
FLOWID_RC_ARBITRARY(ProcessSpawn, process_spawn)
FLOWID_RC_ARBITRARY(ProcessExec, process_exec)
FLOWID_RC_ARBITRARY(ProcessExit, process_exit)
FLOWID_RC_ARBITRARY(FileChange, file_change)
FLOWID_RC_ARBITRARY(Endpoint, endpoint)
FLOWID_RC_ARBITRARY(Flow, flow)
FLOWID_RC_ARBITRARY(LookupOutcome, lookup_outcome)
FLOWID_RC_ARBITRARY(LookupArgs, lookup_args)
FLOWID_RC_ARBITRARY(LookupData, lookup_data)
FLOWID_RC_ARBITRARY(Lookup, lookup)
FLOWID_RC_ARBITRARY(Verdict, verdict)
FLOWID_RC_ARBITRARY(Marker, marker)
FLOWID_RC_ARBITRARY(DroppedEvents, dropped_events)
FLOWID_RC_ARBITRARY(EventKind, event_kind)
FLOWID_RC_ARBITRARY(Event, event)
FLOWID_RC_ARBITRARY(trace::TraceHeader, trace_header)

#undef FLOWID_RC_ARBITRARY

// ExecutionId is a plain pair; rapidcheck's integers are enough.
template <>
struct Arbitrary<flowid::ExecutionId> {
  static Gen<flowid::ExecutionId> arbitrary() {
    return gen::exec([] {
      return flowid::ExecutionId{*flowid::gen::integer<int32_t>(),
                                 *flowid::gen::integer<uint32_t>()};
    });
  }
};

}  // namespace rc

// Printing, so that a failing property shows the values (rapidcheck falls back to "<???>").
namespace flowid {
inline void showValue(const Event& e, std::ostream& os) {
  os << "Event{time_ns=" << e.time_ns << ", kind=" << name_of(e.kind()) << "}";
}
}  // namespace flowid
