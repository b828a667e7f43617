// Replaying traces against a resolver and a filter (DESIGN §4).
//
// Faithful mode: every flow in the trace is resolved again by the chosen resolver, whose seam
// answers only from the lookups the trace recorded for that flow (RecordedSeam; for a Linux
// recording, LinuxRecordedSeam derives the answers from the recorded Linux lookups). The produced
// verdict is compared with the expected one — the trace's own recorded verdict, or a golden
// file's — and a call the trace never recorded is reported as off-script.
//
// Streaming: events are read once, in order. A flow is replayed when its recorded verdict
// arrives (by then all its lookups have been seen), or at the end of the trace for flows that
// never got one. Lifecycle events are passed to the resolver's observe() as they are read.
// Memory is bounded by the flows in flight at once (flow seen, verdict not yet).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/filter.h"
#include "harness/model.h"
#include "harness/oracle.h"
#include "harness/resolver.h"
#include "replay/recorded_seam.h"
#include "trace/trace.h"

namespace flowid::replay {

// What differs between an expected and a produced verdict (the deciding rule's name is reported
// but not compared: replaying with another rule file renames rules without changing behaviour).
struct VerdictDifference {
  uint64_t flow_id = 0;
  std::optional<Verdict> expected;  // absent: nothing was expected for this flow.
  std::optional<Verdict> produced;  // absent: the expectation names a flow the trace lacks.
  std::string what;                 // "decision allow -> drop, status verified -> gone".
};

// Compares the fields that matter: decision, status, label and identity.
std::string compare_verdicts(const Verdict& expected, const Verdict& produced);

struct FlowReplay {
  Flow flow;
  Verdict produced;
  std::optional<Verdict> expected;
  std::vector<OffScriptCall> off_script;
};

struct TraceReplayResult {
  std::string path;
  uint64_t events = 0;
  uint64_t flows = 0;
  uint64_t lookups_answered = 0;
  std::vector<VerdictDifference> differences;
  std::vector<OffScriptCall> off_script;
  std::vector<Verdict> produced;         // in the order flows were replayed.
  uint64_t verdict_digest = 0;           // event_digest over the produced verdicts.
  std::vector<std::string> read_issues;  // "FILE: at byte N (chunk C): ..." for a damaged trace.
  bool readable = true;                  // false: nothing could be read.
  // Model and perturbed modes: the oracle's findings (warnings included) and events the world
  // could not apply ("event 12 (spawn 744.3): pid-in-use"). Faithful mode: an I7 finding for
  // each flow whose resolve or decide threw (a plugin that crashed or hung).
  std::vector<Finding> findings;
  std::vector<std::string> model_errors;
  std::vector<std::string> notes;  // for people: e.g. which faults a perturbed replay injected.
  // Faithful mode: lookups (flow id not 0) for flows the trace never shows, or shows only after
  // their verdict: nothing replays them, so the trace is not what the recorder saw. The counts
  // (lookups, flows) and the first kUnmatchedFlowsShown flow ids (ascending).
  uint64_t unmatched_lookups = 0;
  uint64_t unmatched_lookup_flow_count = 0;
  std::vector<uint64_t> unmatched_lookup_flows;
  static constexpr std::size_t kUnmatchedFlowsShown = 5;

  uint64_t violations() const {
    uint64_t n = 0;
    for (const auto& f : findings) n += f.severity == Severity::kViolation;
    return n;
  }
  bool passed() const {
    return readable && read_issues.empty() && differences.empty() && off_script.empty() &&
           unmatched_lookups == 0 && violations() == 0;
  }
};

// Golden verdicts: one line per flow, reviewable in a pull request.
//   # comment
//   flow 3: allow verified [verified] cdhash=94d650db... path=/usr/libexec/trustd rule=apple
// The identity fields are cdhash (hex or -), signing_id, team_id and path (last, to the end of
// the line, so paths with spaces work).
std::string format_golden_line(const Verdict& verdict);
std::string format_golden(const std::vector<Verdict>& verdicts, const std::string& comment);
// Parses a golden file; on error returns nullopt and sets *error to "FILE:LINE: what".
std::optional<std::vector<Verdict>> parse_golden(std::string_view text, std::string_view file,
                                                 std::string* error);

// Which seam answers the resolver's calls in faithful replay.
enum class FaithfulAnswers : uint8_t {
  kAuto = 0,            // kLinuxRecording when is_linux_recording(header), else kRecorded.
  kRecorded = 1,        // RecordedSeam: recorded seam calls, matched by call and arguments.
  kLinuxRecording = 2,  // LinuxRecordedSeam: seam answers derived from recorded Linux lookups.
};

struct FaithfulOptions {
  // When set, expected verdicts come from here (by flow id) instead of the trace's own verdicts.
  const std::vector<Verdict>* golden = nullptr;
  FaithfulAnswers answers = FaithfulAnswers::kAuto;
  // Keep every produced verdict in TraceReplayResult::produced (for --update-golden). Off, memory
  // follows the flows in flight instead of the trace's length (verdict_digest is kept either way).
  bool keep_produced = true;
};

// Replays one trace faithfully. resolver must be fresh (no state from another trace).
TraceReplayResult replay_faithful(const std::string& path, trace::TraceReader& reader,
                                  Resolver& resolver, const Filter& filter,
                                  const FaithfulOptions& options = {});

}  // namespace flowid::replay

namespace flowid::replay {

struct ModelOptions {
  // The world to rebuild; normally from world_config_from_header().
  WorldConfig world;
  OracleOptions oracle;
  // When set, produced verdicts are compared with these (by flow id); otherwise model mode
  // reports findings only (the trace's recorded verdicts may come from another strategy).
  const std::vector<Verdict>* golden = nullptr;
  // How long after a flow without lookups or verdict (an imported trace) the resolver looks
  // it up: the world events within this many ns after the flow's time run first, as races
  // before its first seam call. 0 (the default) looks up at the flow itself, the ideal
  // synchronous lookup, which never sees a pid reused after the connect; a real agent sees a
  // flow some time after its connect (a queue, a log, a user-space hop).
  uint64_t lookup_delay_ns = 0;
};

// Model replay: the world is rebuilt from the trace's lifecycle, file and flow events; the
// resolver asks the simulated world. A flow is resolved where the trace shows its first lookup
// (or, with no lookups, at its verdict, or when it has neither, ModelOptions::lookup_delay_ns
// after the flow: right away by default); world events between
// that flow's lookups run as races before the same seam call of the replayed resolver (an event
// after k of the flow's lookups runs before call k+1). The oracle checks every resolution.
// Faults that live in the lookups rather than the world (F8: transient failures, slow calls) are
// not replayed: the sim answers, not the recording. Perturbed mode injects them.
// The trace is read into memory first (races need look-ahead).
TraceReplayResult replay_model(const std::string& path, trace::TraceReader& reader,
                               Resolver& resolver, const Filter& filter,
                               const ModelOptions& options);

// The same over events already in memory (perturbed replay and fuzz counterexamples).
TraceReplayResult replay_model_events(const std::string& path, const std::vector<Event>& events,
                                      Resolver& resolver, const Filter& filter,
                                      const ModelOptions& options);

}  // namespace flowid::replay
