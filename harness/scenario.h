// Scenarios: a small, line-based text format for a world script — files, processes, flows, the
// moments the filter resolves them, races inside a resolution — plus the rules in force and what
// each strategy is expected to do. Scenarios are the hand-written evidence for faults F1–F11
// (`flowid matrix`) and the source of the bundled fixtures (compiled to traces). They are meant to
// be read and reviewed in a pull request; docs/scenarios.md describes the format.
//
//   # F1: the flow's process exits and its pid is reused before the filter looks it up.
//   scenario f1-pid-reuse
//   fault F1
//   world pid-policy=reuse-last
//   rule allow-good allow signing_id=com.good team_id=GOODTEAM01
//   file /Applications/Good.app/Contents/MacOS/Good developer-id signing_id=com.good
//   team_id=GOODTEAM01 file /tmp/evil unsigned spawn evil /tmp/evil flow f1 evil
//   host=exfil.example.net exit evil spawn good /Applications/Good.app/Contents/MacOS/Good resolve
//   f1 expect pid-path BYPASSED expect token+recheck downgraded
//
// A `resolve` or `launch` line may be followed by indented race lines, `before-call N: STEP`,
// which run STEP just before the N-th seam call of that resolution (1-based): that is how a
// check-then-use race inside a strategy is reached. Race steps a strategy never reaches (it made
// fewer calls) run right after it returns, so every strategy sees the same world afterwards.
//
// This file is pure: parsing takes text, running takes a World. Loading files is the caller's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "harness/filter.h"
#include "harness/oracle.h"
#include "harness/resolver.h"
#include "harness/world.h"

namespace flowid::scenario {

// The steps a scenario's world script is made of, each a typed value checked when the text is
// parsed: a bad port, duration, signature kind or outcome is an error naming FILE:LINE before
// anything runs. Names of processes and flows are checked when the scenario runs (they depend on
// the steps before). The comment on each step is its text form.
namespace step {

// The code at a path: PATH KIND [signing_id=S] [team_id=T] [runtime] [content=N].
struct FileSpec {
  std::string path;
  SignatureKind signature = SignatureKind::kUnsigned;
  std::string signing_id;  // empty: none given (ad-hoc code takes the file name).
  std::string team_id;
  bool runtime = false;             // hardened runtime.
  std::optional<uint32_t> content;  // the content version; absent: one more than before.
  friend bool operator==(const FileSpec&, const FileSpec&) = default;
};
struct InstallFile {  // file PATH KIND ...
  FileSpec file;
  friend bool operator==(const InstallFile&, const InstallFile&) = default;
};
struct ReplaceFile {  // replace PATH KIND ...       (new content at an existing path)
  FileSpec file;
  friend bool operator==(const ReplaceFile&, const ReplaceFile&) = default;
};
struct RemoveFile {  // remove PATH
  std::string path;
  friend bool operator==(const RemoveFile&, const RemoveFile&) = default;
};
struct RenameFile {  // rename FROM TO
  std::string from;
  std::string to;
  friend bool operator==(const RenameFile&, const RenameFile&) = default;
};
struct Spawn {  // spawn NAME PATH [parent=NAME] [responsible=NAME] [uid=N]
  std::string name;
  std::string path;
  std::optional<std::string> parent;
  std::optional<std::string> responsible;
  std::optional<uint32_t> uid;
  friend bool operator==(const Spawn&, const Spawn&) = default;
};
struct Exec {  // exec NAME PATH
  std::string name;
  std::string path;
  friend bool operator==(const Exec&, const Exec&) = default;
};
struct Exit {  // exit NAME [zombie] [status=N]
  std::string name;
  bool zombie = false;  // exits but is not reaped.
  std::optional<int32_t> status;
  friend bool operator==(const Exit&, const Exit&) = default;
};
struct Reap {  // reap NAME
  std::string name;
  friend bool operator==(const Reap&, const Reap&) = default;
};
// flow FLOW NAME [app=NAME] [host=H] [port=N] [udp] [ipv6] [inbound]
//   [app-token=absent|malformed|ok] [process-token=absent|malformed|ok]
struct OpenFlow {
  std::string flow;
  std::string process;
  std::optional<std::string> app;
  std::optional<std::string> host;
  std::optional<uint16_t> port;
  bool udp = false;
  bool ipv6 = false;
  bool inbound = false;
  std::optional<TokenShape> app_token;
  std::optional<TokenShape> process_token;
  friend bool operator==(const OpenFlow&, const OpenFlow&) = default;
};
struct Advance {  // advance DURATION   (5ms, 20us, 1s, 100ns)
  uint64_t ns = 0;
  friend bool operator==(const Advance&, const Advance&) = default;
};
struct FailNext {  // fail-next CALL COUNT DOMAIN:CODE   (F8; e.g. errno:35, osstatus:100003)
  LookupCall call = LookupCall::kGuestByAuditToken;
  uint32_t count = 1;
  LookupOutcome outcome;
  friend bool operator==(const FailNext&, const FailNext&) = default;
};
struct Delay {  // delay CALL DURATION                 (F8: every CALL takes this long)
  LookupCall call = LookupCall::kGuestByAuditToken;
  uint64_t ns = 0;
  friend bool operator==(const Delay&, const Delay&) = default;
};
struct Resolve {  // resolve FLOW
  std::string flow;
  friend bool operator==(const Resolve&, const Resolve&) = default;
};
struct Launch {  // launch PATH requirement="..."
  std::string path;
  std::string requirement;
  friend bool operator==(const Launch&, const Launch&) = default;
};

}  // namespace step

// The alternatives of Step::action, in this order (StepKind is the variant's index).
using StepAction =
    std::variant<step::InstallFile, step::ReplaceFile, step::RemoveFile, step::RenameFile,
                 step::Spawn, step::Exec, step::Exit, step::Reap, step::OpenFlow, step::Advance,
                 step::FailNext, step::Delay, step::Resolve, step::Launch>;
enum class StepKind : uint8_t {
  kFile,
  kReplace,
  kRemove,
  kRename,
  kSpawn,
  kExec,
  kExit,
  kReap,
  kFlow,
  kAdvance,
  kFailNext,
  kDelay,
  kResolve,
  kLaunch,
};
inline constexpr std::size_t kStepKindCount = std::variant_size_v<StepAction>;
static_assert(static_cast<std::size_t>(StepKind::kLaunch) + 1 == kStepKindCount);

struct Race;

struct Step {
  Step() = default;
  // A step is its action: step::Exit{...} converts to a Step.
  template <typename Action>
  requires std::is_constructible_v<StepAction, Action&&> &&
      (!std::is_same_v<std::remove_cvref_t<Action>, Step>)
          Step(Action&& step_action, int source_line = 0)  // NOLINT(google-explicit-constructor)
      : action(std::forward<Action>(step_action)), line(source_line) {}
  StepAction action;
  int line = 0;  // 0 for a step made in code.
  // kResolve / kLaunch: race steps, each run before the given seam call (1-based).
  std::vector<Race> races;

  StepKind kind() const { return static_cast<StepKind>(action.index()); }
  template <typename T>
  const T* as() const {
    return std::get_if<T>(&action);
  }
  template <typename T>
  T* as() {
    return std::get_if<T>(&action);
  }
  // The positional arguments as the step's line writes them ("evil", "/tmp/evil" for a spawn).
  std::vector<std::string> operands() const;
  // Equal actions and races; the source line is where a step came from, not what it is.
  friend bool operator==(const Step&, const Step&);
};

// A step run just before seam call `before_call` (1-based) of a resolution or launch. A named
// struct rather than std::pair: pair's constructors inspect Step while Step is still incomplete.
struct Race {
  Race() = default;
  Race(uint32_t before, Step race_step) : before_call(before), step(std::move(race_step)) {}
  uint32_t before_call = 0;
  Step step;
  friend bool operator==(const Race&, const Race&) = default;
};

// A step as one line of scenario text ("spawn evil /tmp/evil uid=0"), and back. parse_step
// names `file` and `line` in its error; race-only restrictions are the scenario parser's.
std::string format_step(const Step& step);
// Value forms steps use: "osstatus:-67034" / "errno:35" / "kern:4"; "5ms", "250us", "3ns", "0".
std::string format_outcome(const LookupOutcome& outcome);
std::string format_duration_ns(uint64_t ns);
std::optional<Step> parse_step(std::string_view text, std::string_view file, int line,
                               std::string* error);

struct Expectation {
  std::string strategy;
  Cell cell = Cell::kCorrect;
  int line = 0;
};

// Every top-level step advances the virtual clock by the scenario's step time (the `world` line's
// step-time=DURATION; 0 keeps every event at time 0), so a trace compiled from a scenario shows
// the order of its steps in time as well as in position.
inline constexpr uint64_t kDefaultStepTimeNs = 1'000'000;  // 1 ms.

struct Scenario {
  std::string file;  // for messages.
  std::string name;
  std::string description;          // the leading comment block, or `describe` lines.
  std::vector<std::string> faults;  // "F1" ... "F11".
  WorldConfig world;
  RuleSet rules;
  uint64_t step_time_ns = kDefaultStepTimeNs;  // world step-time=DURATION.
  std::string rules_file;  // `rules FILE` (relative to the scenario file; the loader reads it).
  std::string record_with = "token+recheck";  // whose verdicts a compiled trace records.
  std::vector<Step> steps;
  std::vector<Expectation> expectations;

  bool tests_launchers() const;  // has launch steps (else: resolver steps).
};

// Parses a scenario. `file` names it in errors ("FILE:LINE: what is wrong").
std::optional<Scenario> parse_scenario(std::string_view text, std::string_view file,
                                       std::string* error);

// What happened to one flow or launch under one strategy.
struct FlowOutcome {
  std::string name;  // the scenario's name for the flow.
  Flow flow;
  uint64_t resolved_ns = 0;
  FlowCheck check;
};
struct LaunchOutcome {
  std::string path;
  LaunchCheck check;
};

struct RunResult {
  std::string strategy;
  std::vector<FlowOutcome> flows;
  std::vector<LaunchOutcome> launches;
  Cell cell = Cell::kCorrect;  // the worst cell over flows and launches.
  // Everything that happened, in order, as a trace holds it: world events, and for each
  // resolution its lookups with the world events of its races between them (an event that ran
  // before seam call k follows the first k-1 lookups), then the verdict. Model replay rebuilds
  // the races from exactly this interleaving.
  std::vector<Event> events;
  // Every execution a script name held, in the order they began (a spawn, then each exec of the
  // same name): how a trace labels its tokens with the scenario's names.
  std::vector<std::pair<std::string, AuditToken>> executions;
  std::string error;  // a step the world refused: "FILE:LINE: ..." (a scenario bug).
  bool ok() const { return error.empty(); }
};

// The worse of two cells: BYPASSED > MISATTRIBUTED > CRASHED > downgraded > correct.
Cell worse(Cell a, Cell b);
std::optional<Cell> parse_cell(std::string_view name);

// Writes a scenario as text that parse_scenario reads back to an equal scenario (comments other
// than the description are not kept). Used to save generated counterexamples for review.
std::string format_scenario(const Scenario& scenario);

// Where a run is, for an observer: before top-level step `step` (call 0), or inside that step's
// resolution or launch just before its seam call `call` (1-based) — after the races placed there
// have run. `next_call` is the seam call about to be made (call > 0 only).
struct RunPoint {
  std::size_t step = 0;
  uint32_t call = 0;
  LookupCall next_call = LookupCall::kGuestByAuditToken;
};
// What an observer may read at a point: the world, and the script's names for processes and flows.
struct RunState {
  const World& world;
  const std::map<std::string, AuditToken>& processes;
  const std::map<std::string, Flow>& flows;
};
// Watches a run at every point where a world change could be placed (flowid explore). It must not
// change anything: the run continues as if it were not there.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void at(const RunPoint& point, const RunState& state) = 0;
};

// Runs the scenario's resolve steps with `resolver` (launch steps are an error here).
RunResult run_resolver(const Scenario& scenario, Resolver& resolver,
                       const OracleOptions& oracle = {}, RunObserver* observer = nullptr);
// Runs the scenario's launch steps with `launcher`.
RunResult run_launcher(const Scenario& scenario, Launcher& launcher,
                       const OracleOptions& oracle = {}, RunObserver* observer = nullptr);

// Lookup faults in traces (F8). A run records each fail-next and delay step as a Marker event
// whose text is the step itself behind this prefix ("flowid.fault fail-next static-code 1
// osstatus:-67034"), where the step ran: model replay applies it to the rebuilt world, so a
// counterexample that needs a transient failure reproduces from its trace.
inline constexpr std::string_view kLookupFaultMarkerPrefix = "flowid.fault ";
std::string lookup_fault_marker(const step::FailNext& fail);
std::string lookup_fault_marker(const step::Delay& delay);
bool is_lookup_fault_marker(std::string_view text);
// Applies a lookup-fault marker to `world`; false (and *error) when the text is not one.
bool apply_lookup_fault_marker(std::string_view text, World& world, std::string* error);

}  // namespace flowid::scenario
