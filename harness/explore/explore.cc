// The explorer: base preparation, the interference vocabulary at a point, schedule placement and
// the breadth-first search with state pruning (explore.h says why it is built this way).
#include "harness/explore/explore.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <span>
#include <utility>

#include "harness/builders.h"
#include "harness/event_format.h"
#include "harness/fuzz/programs.h"
#include "harness/fuzz/realism.h"
#include "harness/seam.h"
#include "harness/state_hash.h"

namespace flowid::explore {

namespace {

using fuzz::Fault;
using fuzz::kPrograms;
using scenario::Step;
using scenario::StepKind;

const fuzz::Program& program(int index) { return kPrograms[static_cast<std::size_t>(index)]; }

Step file_step(const fuzz::Program& p) { return scenario::step::InstallFile{fuzz::file_spec(p)}; }

bool is_daemon_path(std::string_view path) { return path.starts_with("/usr/libexec/"); }

// ---- The outcomes a failing call can answer, by the API family it belongs to.

using fuzz::errno_outcome;
using fuzz::kern;
using fuzz::osstatus;
constexpr std::array<LookupOutcome, 8> kSecurityOutcomes = {
    osstatus(-67065), osstatus(100001), osstatus(100003), osstatus(-67034),
    osstatus(-67050), osstatus(-67062), osstatus(-67063), osstatus(-67071)};
constexpr std::array<LookupOutcome, 4> kErrnoOutcomes = {errno_outcome(35), errno_outcome(3),
                                                         errno_outcome(1), errno_outcome(13)};
constexpr std::array<LookupOutcome, 2> kMachOutcomes = {kern(4), kern(5)};
// Slow calls: a little, and long enough for any cache lifetime to pass.
constexpr std::array<uint64_t, 2> kDelays = {50'000'000, 30'000'000'000};

std::span<const LookupOutcome> failures_of(LookupCall call) {
  switch (call) {
    case LookupCall::kGuestByAuditToken:
    case LookupCall::kGuestByPid:
    case LookupCall::kStaticCode:
    case LookupCall::kCodePath:
    case LookupCall::kCheckValidity:
    case LookupCall::kSigningInformation:
    case LookupCall::kCheckFile:
      return kSecurityOutcomes;
    case LookupCall::kTokenForPid:
    case LookupCall::kResume:
    case LookupCall::kKill:
      return kMachOutcomes;
    case LookupCall::kAuditTokenToPid:  // reads the token's own words: cannot fail.
      return {};
    default:
      return kErrnoOutcomes;
  }
}

// ---- Newcomers: a program of each class takes a pid, or is exec'd.

enum class ProgramClass : uint8_t { kTrustedApp, kUntrusted, kPlatformDaemon, kSameProgram };
constexpr std::array<ProgramClass, 4> kReuseClasses = {
    ProgramClass::kTrustedApp, ProgramClass::kUntrusted, ProgramClass::kPlatformDaemon,
    ProgramClass::kSameProgram};
constexpr std::array<ProgramClass, 3> kExecClasses = {
    ProgramClass::kTrustedApp, ProgramClass::kUntrusted, ProgramClass::kSameProgram};
// The class representatives (programs of a class differ only by name: one stands for all).
constexpr std::array<int, 3> kNewcomerPrograms = {fuzz::kGood, fuzz::kEvil, fuzz::kTrustd};

std::string_view class_words(ProgramClass cls) {
  switch (cls) {
    case ProgramClass::kTrustedApp:
      return "a trusted app";
    case ProgramClass::kUntrusted:
      return "an untrusted download";
    case ProgramClass::kPlatformDaemon:
      return "a platform daemon";
    case ProgramClass::kSameProgram:
      return "the same program";
  }
  return "";
}

std::string class_path(ProgramClass cls, const std::string& same) {
  switch (cls) {
    case ProgramClass::kTrustedApp:
      return std::string(program(fuzz::kGood).path);
    case ProgramClass::kUntrusted:
      return std::string(program(fuzz::kEvil).path);
    case ProgramClass::kPlatformDaemon:
      return std::string(program(fuzz::kTrustd).path);
    case ProgramClass::kSameProgram:
      return same;
  }
  return same;
}

bool same_steps(const std::vector<Step>& a, const std::vector<Step>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].action != b[i].action) return false;
  }
  return true;
}

// ---- What the strategy observes, hashed: its flows, the events it is told of, every seam call.

class HashingObserver final : public LookupObserver {
 public:
  explicit HashingObserver(StateHash& hash) : hash_(hash) {}
  void on_lookup(const Lookup& lookup) override { hash_.add(format_event_line(Event{0, lookup})); }

 private:
  StateHash& hash_;
};

class ObservedResolver final : public Resolver {
 public:
  ObservedResolver(std::unique_ptr<Resolver> inner, StateHash& hash)
      : inner_(std::move(inner)), hash_(hash) {}
  std::string_view name() const override { return inner_->name(); }
  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    hash_.add(flow.flow_id).add(now_ns);
    HashingObserver observer(hash_);
    ObservedSeam observed(seam, nullptr, observer);
    observed.set_flow(flow.flow_id);
    return inner_->resolve(flow, now_ns, observed);
  }
  void observe(const Event& event) override {
    hash_.add(format_event_line(event));
    inner_->observe(event);
  }
  std::optional<Decision> decide(const Flow& flow, const Attribution& attribution) override {
    return inner_->decide(flow, attribution);
  }

 private:
  std::unique_ptr<Resolver> inner_;
  StateHash& hash_;
};

class ObservedLauncher final : public Launcher {
 public:
  ObservedLauncher(std::unique_ptr<Launcher> inner, StateHash& hash)
      : inner_(std::move(inner)), hash_(hash) {}
  std::string_view name() const override { return inner_->name(); }
  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override {
    hash_.add(path).add(requirement);
    HashingObserver observer(hash_);
    ObservedSeam observed(seam, &launch_seam, observer);
    return inner_->launch(path, requirement, observed, observed);
  }

 private:
  std::unique_ptr<Launcher> inner_;
  StateHash& hash_;
};

// ---- One base: its points, targets, original files.

struct PointInfo {
  Point at;
  uint64_t key = 0;
  std::vector<Interference> candidates;
};

class BaseExplorer {
 public:
  BaseExplorer(const scenario::Scenario& base, const fuzz::StrategyUnderTest& strategy,
               const ExploreOptions& options, const std::atomic<bool>* stop,
               std::atomic<uint64_t>* ticks)
      : prepared_(prepare_base(base)), options_(options), stop_(stop), ticks_(ticks) {
    report_.name = base.name;
    observing_ = strategy;
    observing_.check_elsewhere = nullptr;
    if (strategy.launcher) {
      auto make = strategy.make_launcher;
      observing_.make_launcher = [this, make]() -> std::unique_ptr<Launcher> {
        observed_ = StateHash();
        return std::make_unique<ObservedLauncher>(make(), observed_);
      };
    } else {
      auto make = strategy.make_resolver;
      observing_.make_resolver = [this, make]() -> std::unique_ptr<Resolver> {
        observed_ = StateHash();
        return std::make_unique<ObservedResolver>(make(), observed_);
      };
    }
    leaves_ = strategy;  // leaves need no observation: they may run elsewhere, many per round trip.
    index_base();
  }

  BaseReport run() {
    const uint32_t depth = std::min(options_.depth, kDepthMax);
    if (depth == 0) {
      run_counted(Schedule{}, 0, nullptr);
      return std::move(report_);
    }
    // Level by level: every schedule with `level` interferences runs before any with more, so the
    // first violation found has the fewest.
    std::vector<Schedule> frontier(1);  // the base alone.
    for (uint32_t level = 0; level < depth && !done(); ++level) {
      const bool parents_of_leaves = level + 1 == depth;
      std::vector<Schedule> next;
      for (const Schedule& node : frontier) {
        if (done()) break;
        std::vector<PointInfo> points;
        if (!run_counted(node, level, parents_of_leaves ? nullptr : &points)) continue;
        if (parents_of_leaves) {
          next.push_back(node);
        } else {
          expand(node, points, depth - level,
                 [&](Schedule child) { next.push_back(std::move(child)); });
        }
      }
      if (parents_of_leaves) {
        run_leaves(next, level + 1);
      } else {
        frontier = std::move(next);
      }
    }
    return std::move(report_);
  }

 private:
  bool done() const {
    return report_.violation.has_value() || !report_.error.empty() || !report_.complete;
  }

  bool out_of_budget() {
    if ((stop_ != nullptr && stop_->load(std::memory_order_relaxed)) ||
        (options_.schedules_max != 0 && report_.schedules >= options_.schedules_max)) {
      report_.complete = false;
      return true;
    }
    return false;
  }

  // Which base steps are points (call 0), and which processes and files interferences target.
  void index_base() {
    for (const Step& step : prepared_.steps) {
      if (const auto* flow = step.as<scenario::step::OpenFlow>()) {
        add_target(flow->process);
        if (flow->app) add_target(*flow->app);
      }
      if (const auto* file = step.as<scenario::step::InstallFile>())
        originals_.emplace(file->file.path, file->file);  // the first install at a path stays.
      if (const auto* launch = step.as<scenario::step::Launch>())
        launch_paths_.push_back(launch->path);
    }
  }

  void add_target(const std::string& name) {
    if (std::find(targets_.begin(), targets_.end(), name) == targets_.end())
      targets_.push_back(name);
  }

  // Points before steps where the world is looked at or a process starts, execs or ends (not
  // before a script's own file installs, clock moves or injected failures).
  static bool is_point_step(const Step& step) {
    switch (step.kind()) {
      case StepKind::kSpawn:
      case StepKind::kExec:
      case StepKind::kExit:
      case StepKind::kReap:
      case StepKind::kFlow:
      case StepKind::kResolve:
      case StepKind::kLaunch:
        return true;
      default:
        return false;
    }
  }

  // ---- Running one schedule.

  class Recorder final : public scenario::RunObserver {
   public:
    Recorder(BaseExplorer& explorer, const std::vector<long>& base_of_step, Point from,
             std::vector<PointInfo>& out)
        : explorer_(explorer), base_of_step_(base_of_step), from_(from), out_(out) {}
    void at(const scenario::RunPoint& p, const scenario::RunState& state) override {
      if (p.step >= base_of_step_.size() || base_of_step_[p.step] < 0) return;
      const Point point{static_cast<std::size_t>(base_of_step_[p.step]), p.call};
      if (point < from_) return;
      if (p.call == 0 && !is_point_step(explorer_.prepared_.steps[point.step])) return;
      PointInfo info;
      info.at = point;
      info.key = explorer_.state_key(point, state);
      info.candidates = explorer_.candidates(point, p.next_call, state);
      out_.push_back(std::move(info));
    }

   private:
    BaseExplorer& explorer_;
    const std::vector<long>& base_of_step_;
    Point from_;
    std::vector<PointInfo>& out_;
  };

  // Runs a schedule here, recording its points from its last placement on when `points` is set.
  fuzz::CaseVerdict run_here(const Schedule& schedule, std::vector<PointInfo>* points) {
    std::vector<long> base_of_step;
    fuzz::GeneratedCase placed = place(schedule, &base_of_step);
    if (points == nullptr) return fuzz::check_scenario(placed.scenario, leaves_, options_.oracle);
    const Point from = schedule.empty() ? Point{} : schedule.back().at;
    Recorder recorder(*this, base_of_step, from, *points);
    return fuzz::check_scenario(placed.scenario, observing_, options_.oracle, nullptr, &recorder);
  }

  // Counts a schedule's verdict; false when the schedule cannot be expanded (it did not run, or
  // it is a violation: then the base is done).
  bool account(const Schedule& schedule, uint32_t level, const fuzz::CaseVerdict& verdict) {
    ++report_.schedules;
    ++report_.by_depth[level];
    if (ticks_ != nullptr) ticks_->fetch_add(1, std::memory_order_relaxed);
    if (!verdict.ran()) {
      if (schedule.empty()) report_.error = verdict.error;
      ++report_.infeasible;
      return false;
    }
    if (verdict.failed()) {
      Violation v;
      v.schedule = schedule;
      v.tagged = place(schedule, nullptr);
      v.verdict = verdict;
      report_.violation = std::move(v);
      return false;
    }
    return true;
  }

  bool run_counted(const Schedule& schedule, uint32_t level, std::vector<PointInfo>* points) {
    if (out_of_budget()) return false;
    return account(schedule, level, run_here(schedule, points));
  }

  // Children of `node` at its recorded points, skipping states already expanded with at least
  // `remaining` interferences left.
  template <typename Emit>
  void expand(const Schedule& node, const std::vector<PointInfo>& points, uint32_t remaining,
              Emit&& emit) {
    for (const PointInfo& info : points) {
      auto [it, inserted] = expanded_.try_emplace(info.key, remaining);
      if (!inserted) {
        if (it->second >= remaining) {
          ++report_.pruned;
          continue;
        }
        it->second = remaining;
      }
      ++report_.states;
      for (const Interference& candidate : info.candidates) {
        Schedule child = node;
        child.push_back(Placement{info.at, candidate});
        emit(std::move(child));
      }
    }
  }

  // The last level: each parent is run again to see its points (its verdict is already counted;
  // keeping the points of every parent instead would hold every leaf in memory at once), and its
  // children run without observation — elsewhere, many per round trip, when the strategy runs in
  // a worker process.
  void run_leaves(const std::vector<Schedule>& parents, uint32_t level) {
    for (const Schedule& parent : parents) {
      if (done()) return;
      std::vector<PointInfo> points;
      run_here(parent, &points);
      std::vector<Schedule> children;
      expand(parent, points, 1, [&](Schedule child) { children.push_back(std::move(child)); });
      run_batch(children, level);
    }
  }

  static constexpr std::size_t kBatch = 16;

  void run_batch(const std::vector<Schedule>& children, uint32_t level) {
    for (std::size_t first = 0; first < children.size() && !done(); first += kBatch) {
      const std::size_t end = std::min(children.size(), first + kBatch);
      if (!leaves_.check_elsewhere) {
        for (std::size_t i = first; i < end && !done(); ++i)
          run_counted(children[i], level, nullptr);
        continue;
      }
      std::vector<scenario::Scenario> scenarios;
      for (std::size_t i = first; i < end; ++i)
        scenarios.push_back(place(children[i], nullptr).scenario);
      const auto verdicts = leaves_.check_elsewhere(scenarios, options_.oracle);
      for (std::size_t i = first; i < end && !done(); ++i) {
        if (out_of_budget()) return;
        const std::size_t j = i - first;
        if (j < verdicts.size() && verdicts[j]) {
          account(children[i], level, *verdicts[j]);
        } else {
          run_counted(children[i], level, nullptr);  // the worker did not answer: run it here.
        }
      }
    }
  }

  fuzz::GeneratedCase place(const Schedule& schedule, std::vector<long>* base_of_step) const {
    return place_into(prepared_, schedule, base_of_step);
  }

 public:
  static fuzz::GeneratedCase place_into(const scenario::Scenario& prepared,
                                        const Schedule& schedule, std::vector<long>* base_of_step) {
    fuzz::GeneratedCase out;
    scenario::Scenario& s = out.scenario;
    s.file = prepared.file;
    s.name = prepared.name;
    s.description = prepared.description;
    s.world = prepared.world;
    s.rules = prepared.rules;
    s.rules_file = prepared.rules_file;
    s.record_with = prepared.record_with;
    s.steps.reserve(prepared.steps.size() + 2 * schedule.size());
    std::size_t next = 0;
    for (std::size_t b = 0; b < prepared.steps.size(); ++b) {
      for (; next < schedule.size() && schedule[next].at.step == b && schedule[next].at.call == 0;
           ++next) {
        for (const Step& step : schedule[next].what.steps) {
          s.steps.push_back(step);
          s.steps.back().line = prepared.steps[b].line;
          out.step_faults.push_back(fuzz::bit(schedule[next].what.fault));
          out.race_faults.emplace_back();
          if (base_of_step != nullptr) base_of_step->push_back(-1);
        }
      }
      s.steps.push_back(prepared.steps[b]);
      out.step_faults.push_back(fuzz::kNoFaults);
      out.race_faults.emplace_back(s.steps.back().races.size(), fuzz::kNoFaults);
      if (base_of_step != nullptr) base_of_step->push_back(static_cast<long>(b));
      for (; next < schedule.size() && schedule[next].at.step == b; ++next) {
        for (const Step& step : schedule[next].what.steps) {
          s.steps.back().races.emplace_back(schedule[next].at.call, step);
          s.steps.back().races.back().step.line = prepared.steps[b].line;
          out.race_faults.back().push_back(fuzz::bit(schedule[next].what.fault));
        }
      }
    }
    if (prepared.world.caller.sandboxed) out.world_faults |= fuzz::bit(Fault::kSandboxEperm);
    for (const Placement& p : schedule) {
      if (p.what.fault == Fault::kPidReuse) out.world_faults |= fuzz::bit(Fault::kPidReuse);
    }
    fuzz::refresh_faults(out);
    out.enabled = out.injected;
    return out;
  }

 private:
  // ---- The state at a point.

  uint64_t state_key(const Point& point, const scenario::RunState& state) const {
    StateHash h;
    h.add(point.step).add(point.call).add(state.world.state_digest()).add(observed_.value());
    for (const auto& [name, token] : state.processes) h.add(name).add(token);
    for (const auto& [name, flow] : state.flows) h.add(name).add(flow.flow_id);
    return h.value();
  }

  // ---- The vocabulary at a point.

  std::vector<Interference> candidates(const Point& point, LookupCall next_call,
                                       const scenario::RunState& state) {
    std::vector<Interference> out;
    auto add = [&](Fault fault, std::string label, std::vector<Step> steps) {
      for (const Interference& existing : out) {
        if (same_steps(existing.steps, steps)) {
          ++report_.duplicates;
          return;
        }
      }
      out.push_back(Interference{fault, std::move(label), std::move(steps)});
    };
    if (point.call > 0) {
      const std::string_view call = name_of(next_call);
      for (const LookupOutcome& outcome : failures_of(next_call)) {
        add(Fault::kTransientFailure,
            fmt::format("{} fails with {}", call, scenario::format_outcome(outcome)),
            {scenario::step::FailNext{next_call, 1, outcome}});
      }
      for (uint64_t delay : kDelays) {
        add(Fault::kTransientFailure,
            fmt::format("{} takes {}", call, scenario::format_duration_ns(delay)),
            {scenario::step::Delay{next_call, delay}});
      }
    }
    const Step& base_step = prepared_.steps[point.step];
    if (const auto* launch = base_step.as<scenario::step::Launch>()) {
      file_changes(launch->path, state, Fault::kLaunchToctou, add);
    }
    for (const std::string& name : targets_) {
      auto it = state.processes.find(name);
      if (it == state.processes.end()) continue;
      const Execution* e = state.world.execution(it->second);
      if (e == nullptr) continue;
      const CodeIdentity* image = state.world.image_of(it->second.execution());
      const std::string same = image != nullptr ? image->path : std::string();
      if (e->live()) {
        add(Fault::kExitRace, fmt::format("{} exits", name), {exit_step(name)});
        add(Fault::kZombie, fmt::format("{} exits, a zombie", name), {exit_step(name, true)});
        for (ProgramClass cls : kReuseClasses) {
          add(Fault::kPidReuse, fmt::format("{} exits, {} takes its pid", name, class_words(cls)),
              {exit_step(name), newcomer(name, class_path(cls, same))});
        }
        for (ProgramClass cls : kExecClasses) {
          add(Fault::kExecAfterFlow, fmt::format("{} execs {}", name, class_words(cls)),
              {scenario::step::Exec{name, class_path(cls, same)}});
        }
        if (!same.empty()) file_changes(same, state, Fault::kReplacedOnDisk, add);
      } else if (e->state == ExecutionState::kZombie) {
        add(Fault::kZombie, fmt::format("zombie {} is reaped", name), {scenario::step::Reap{name}});
        for (ProgramClass cls : kReuseClasses) {
          add(Fault::kPidReuse,
              fmt::format("zombie {} is reaped, {} takes its pid", name, class_words(cls)),
              {scenario::step::Reap{name}, newcomer(name, class_path(cls, same))});
        }
      }
    }
    return out;
  }

  static Step exit_step(const std::string& name, bool zombie = false) {
    scenario::step::Exit exit;
    exit.name = name;
    exit.zombie = zombie;
    return exit;
  }

  static Step newcomer(const std::string& name, const std::string& path) {
    scenario::step::Spawn spawn;
    spawn.name = name;
    spawn.path = path;
    if (is_daemon_path(path)) spawn.uid = 0;
    return spawn;
  }

  // The file at `path` as first installed, if the base installs it.
  const scenario::step::FileSpec* original(const std::string& path) const {
    auto it = originals_.find(path);
    return it == originals_.end() ? nullptr : &it->second;
  }

  // True when the image is the base's original content at its path (by cdhash for signed code).
  bool is_original(const std::string& path, const Image& image) const {
    const scenario::step::FileSpec* first = original(path);
    if (first == nullptr) return true;
    const Cdhash expected =
        build::cdhash_of(fmt::format("{}#{}", path, first->content.value_or(1)));
    if (first->signature == SignatureKind::kUnsigned)
      return image.identity.signature == SignatureKind::kUnsigned;
    return image.identity.cdhash == expected;
  }

  // Puts the original back: installed again (`replace` false) or as new content at the path.
  Step restore_step(const std::string& path, bool replace) const {
    scenario::step::FileSpec file = *original(path);
    if (!file.content) file.content = 1;
    if (replace) return scenario::step::ReplaceFile{std::move(file)};
    return scenario::step::InstallFile{std::move(file)};
  }

  template <typename Add>
  void file_changes(const std::string& path, const scenario::RunState& state, Fault fault,
                    Add& add) {
    if (fuzz::is_protected_path(path)) return;  // R1: SIP-protected files never change.
    const std::string moved = path + ".old";
    const std::optional<ImageId> at = state.world.file_at(path);
    if (!at) {
      if (state.world.file_at(moved)) {
        add(fault, fmt::format("{} is moved back", path),
            {scenario::step::RenameFile{moved, path}});
      } else if (original(path) != nullptr) {
        add(fault, fmt::format("{} is put back", path), {restore_step(path, false)});
      }
      return;
    }
    if (!is_original(path, state.world.image(*at))) {
      if (original(path) != nullptr) {
        add(fault, fmt::format("{} is put back as it was", path), {restore_step(path, true)});
      }
      return;
    }
    const scenario::step::FileSpec* first = original(path);
    std::string signing_id = "com.example.other";
    if (first != nullptr && !first->signing_id.empty()) signing_id = first->signing_id;
    scenario::step::FileSpec unsigned_code;
    unsigned_code.path = path;
    add(fault, fmt::format("{} is replaced by unsigned code", path),
        {scenario::step::ReplaceFile{unsigned_code}});
    scenario::step::FileSpec other_team = unsigned_code;
    other_team.signature = SignatureKind::kDeveloperId;
    other_team.signing_id = signing_id;
    other_team.team_id = "OTHERTEAM1";
    add(fault, fmt::format("{} is replaced by another team's build", path),
        {scenario::step::ReplaceFile{other_team}});
    add(fault, fmt::format("{} is removed", path), {scenario::step::RemoveFile{path}});
    if (!state.world.file_at(moved)) {
      add(fault, fmt::format("{} is renamed away", path),
          {scenario::step::RenameFile{path, moved}});
    }
  }

  scenario::Scenario prepared_;
  ExploreOptions options_;
  const std::atomic<bool>* stop_;
  std::atomic<uint64_t>* ticks_;
  fuzz::StrategyUnderTest observing_;
  fuzz::StrategyUnderTest leaves_;
  StateHash observed_;
  std::vector<std::string> targets_;
  std::map<std::string, scenario::step::FileSpec> originals_;
  std::vector<std::string> launch_paths_;
  std::map<uint64_t, uint32_t> expanded_;  // state key -> most interferences left when expanded
  BaseReport report_;
};

}  // namespace

scenario::Scenario prepare_base(const scenario::Scenario& base) {
  scenario::Scenario prepared = base;
  prepared.world.pid_policy = PidPolicy::kReuseLastFreed;
  if (prepared.tests_launchers()) return prepared;
  std::vector<Step> prelude;
  for (int index : kNewcomerPrograms) {
    const fuzz::Program& p = program(index);
    const bool installed = std::any_of(base.steps.begin(), base.steps.end(), [&](const Step& step) {
      const auto* file = step.as<scenario::step::InstallFile>();
      return file != nullptr && file->file.path == p.path;
    });
    if (!installed) prelude.push_back(file_step(p));
  }
  prepared.steps.insert(prepared.steps.begin(), prelude.begin(), prelude.end());
  return prepared;
}

fuzz::GeneratedCase place_schedule(const scenario::Scenario& prepared, const Schedule& schedule) {
  return BaseExplorer::place_into(prepared, schedule, nullptr);
}

std::vector<std::string> describe_schedule(const scenario::Scenario& prepared,
                                           const Schedule& schedule) {
  std::vector<std::string> lines;
  for (const Placement& p : schedule) {
    const Step& step = prepared.steps[p.at.step];
    const std::string subject = step.operands().at(0);
    const StepKind kind = step.kind();
    std::string where;
    if (kind == StepKind::kFlow) {
      where = fmt::format("before {} is opened", subject);
    } else if (kind != StepKind::kResolve && kind != StepKind::kLaunch) {
      where = fmt::format("before '{} {}'",
                          kind == StepKind::kSpawn  ? "spawn"
                          : kind == StepKind::kExec ? "exec"
                          : kind == StepKind::kExit ? "exit"
                                                    : "reap",
                          subject);
    } else if (p.at.call == 0) {
      where =
          fmt::format("before {} {}", kind == StepKind::kLaunch ? "launch of" : "resolve", subject);
    } else {
      where = fmt::format("before call {} of {} {}", p.at.call,
                          kind == StepKind::kLaunch ? "launch of" : "resolve", subject);
    }
    lines.push_back(fmt::format("{} ({}): {}", where, fuzz::fault_id(p.what.fault), p.what.label));
  }
  return lines;
}

BaseReport explore_base(const scenario::Scenario& base, const fuzz::StrategyUnderTest& strategy,
                        const ExploreOptions& options, const std::atomic<bool>* stop,
                        std::atomic<uint64_t>* ticks) {
  if (base.tests_launchers() != strategy.launcher) {
    BaseReport report;
    report.name = base.name;
    report.error = fmt::format(
        "{}: a {} base cannot test a {}", base.file.empty() ? base.name : base.file,
        base.tests_launchers() ? "launch" : "resolve", strategy.launcher ? "launcher" : "resolver");
    return report;
  }
  return BaseExplorer(base, strategy, options, stop, ticks).run();
}

}  // namespace flowid::explore
