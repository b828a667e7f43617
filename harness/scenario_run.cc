// Running a scenario: each typed step applied to a World, races placed before seam calls through
// the world's scheduler hook, and the events in the order a trace holds them. The text form of
// steps lives in scenario_text.cc; lookup-fault markers are written and read back through it.
#include "harness/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "harness/assert.h"
#include "harness/builders.h"

namespace flowid::scenario {

// ---- Running.

namespace {

class Runner {
 public:
  Runner(const Scenario& scenario, const OracleOptions& oracle, RunObserver* observer)
      : scenario_(scenario),
        oracle_(oracle),
        observer_(observer),
        world_(config_for(scenario)),
        filter_(scenario.rules) {
    world_.set_event_listener([this](const Event& event) {
      record(event);
      if (resolver_ != nullptr) resolver_->observe(event);
    });
  }

  // During a resolution, world events come from its races: keep them with the number of seam
  // calls made so far, to interleave them with the lookups afterwards.
  void record(const Event& event) {
    if (resolving_) {
      race_events_.emplace_back(calls_ == 0 ? 0 : calls_ - 1, event);
    } else {
      result_.events.push_back(event);
    }
  }

  // Exactly one of resolver and launcher is set; strategy is its name.
  RunResult run(std::string_view strategy, Resolver* resolver, Launcher* launcher) {
    resolver_ = resolver;
    launcher_ = launcher;
    result_.strategy = std::string(strategy);
    for (std::size_t i = 0; i < scenario_.steps.size(); ++i) {
      const auto& step = scenario_.steps[i];
      step_index_ = i;
      if (i > 0) world_.advance(scenario_.step_time_ns);
      observe(RunPoint{i, 0});
      if (!apply(step)) break;
      if constexpr (kConsistencyChecks) {
        std::optional<std::string> problem = world_.check_consistency();
        FLOWID_ASSERT(!problem, fmt::format("{}:{}: after this step: {}", scenario_.file, step.line,
                                            problem.value_or("")));
      }
    }
    resolver_ = nullptr;
    return std::move(result_);
  }

 private:
  static WorldConfig config_for(const Scenario& scenario) {
    WorldConfig config = scenario.world;
    config.log_events = false;  // the listener collects events.
    return config;
  }

  bool failed(const Step& step, const std::string& what) {
    if (result_.error.empty())
      result_.error = fmt::format("{}:{}: {}", scenario_.file, step.line, what);
    return false;
  }

  std::optional<AuditToken> process(const Step& step, const std::string& name) {
    auto it = processes_.find(name);
    if (it == processes_.end()) {
      failed(step, fmt::format("no process named '{}' (name it in a spawn line first)", name));
      return std::nullopt;
    }
    return it->second;
  }

  // The identity of the code a file step installs. Its content version is one more than the
  // path's last unless the step gives it, so new content at a path has a new cdhash.
  CodeIdentity identity(const step::FileSpec& file) {
    uint32_t content = ++content_versions_[file.path];
    if (file.content) content = *file.content;
    CodeIdentity id;
    id.path = file.path;
    id.signature = file.signature;
    id.platform = file.signature == SignatureKind::kPlatform;
    if (file.signature != SignatureKind::kUnsigned)
      id.cdhash = build::cdhash_of(fmt::format("{}#{}", file.path, content));
    id.signing_id = file.signing_id;
    id.team_id = file.team_id;
    id.hardened_runtime = file.runtime;
    if (file.signature == SignatureKind::kAdHoc && id.signing_id.empty()) {
      auto slash = file.path.rfind('/');
      id.signing_id = slash == std::string::npos ? file.path : file.path.substr(slash + 1);
    }
    return id;
  }

  bool world_error(const Step& step, WorldError error) {
    if (error == WorldError::kNone) return true;
    return failed(step, fmt::format("the world refused: {}", name_of(error)));
  }

  bool apply(const Step& step) {
    return std::visit([this, &step](const auto& action) { return apply(step, action); },
                      step.action);
  }

  bool apply(const Step& step, const step::InstallFile& s) {
    return world_error(step, world_.install_file(identity(s.file)));
  }
  bool apply(const Step& step, const step::ReplaceFile& s) {
    return world_error(step, world_.replace_file(identity(s.file)));
  }
  bool apply(const Step& step, const step::RemoveFile& s) {
    return world_error(step, world_.remove_file(s.path));
  }
  bool apply(const Step& step, const step::RenameFile& s) {
    return world_error(step, world_.rename_file(s.from, s.to));
  }
  bool apply(const Step& step, const step::Spawn& s) {
    SpawnOptions options;
    if (s.parent) {
      auto parent = process(step, *s.parent);
      if (!parent) return false;
      options.parent = parent;
    }
    if (s.responsible) {
      auto responsible = process(step, *s.responsible);
      if (!responsible) return false;
      options.responsible = responsible;
    }
    if (s.uid) options.uid = *s.uid;
    auto r = world_.start_process(s.path, options);
    if (!r.ok()) return world_error(step, r.error);
    processes_[s.name] = r.value;
    result_.executions.emplace_back(s.name, r.value);
    return true;
  }
  bool apply(const Step& step, const step::Exec& s) {
    auto token = process(step, s.name);
    if (!token) return false;
    auto r = world_.exec_process(*token, s.path);
    if (!r.ok()) return world_error(step, r.error);
    processes_[s.name] = r.value;
    result_.executions.emplace_back(s.name, r.value);
    return true;
  }
  bool apply(const Step& step, const step::Exit& s) {
    auto token = process(step, s.name);
    if (!token) return false;
    auto stage = s.zombie ? ExitStage::kExited : ExitStage::kReaped;
    return world_error(step, world_.exit_process(*token, s.status.value_or(0), stage));
  }
  bool apply(const Step& step, const step::Reap& s) {
    auto token = process(step, s.name);
    return token && world_error(step, world_.reap_process(*token));
  }
  bool apply(const Step& step, const step::OpenFlow& s) {
    auto token = process(step, s.process);
    if (!token) return false;
    FlowOptions options;
    if (s.app) {
      auto app = process(step, *s.app);
      if (!app) return false;
      options.app = app;
    }
    if (s.host) options.hostname = *s.host;
    if (s.port) options.remote_port = *s.port;
    options.udp = s.udp;
    options.ipv6 = s.ipv6;
    if (s.inbound) options.direction = FlowDirection::kInbound;
    if (s.app_token) options.app_token_shape = *s.app_token;
    if (s.process_token) options.process_token_shape = *s.process_token;
    auto r = world_.open_flow(*token, options);
    if (!r.ok()) return world_error(step, r.error);
    if (flows_.count(s.flow)) return failed(step, fmt::format("flow '{}' already exists", s.flow));
    flows_[s.flow] = r.value;
    return true;
  }
  bool apply(const Step& /*step*/, const step::Advance& s) {
    world_.advance(s.ns);
    return true;
  }
  bool apply(const Step& /*step*/, const step::FailNext& s) {
    world_.fail_next(s.call, s.count, s.outcome);
    record(Event{world_.now_ns(), Marker{lookup_fault_marker(s)}});
    return true;
  }
  bool apply(const Step& /*step*/, const step::Delay& s) {
    world_.set_lookup_duration(s.call, s.ns);
    record(Event{world_.now_ns(), Marker{lookup_fault_marker(s)}});
    return true;
  }
  bool apply(const Step& step, const step::Resolve& s) { return resolve(step, s); }
  bool apply(const Step& step, const step::Launch& s) { return launch(step, s); }

  void observe(const RunPoint& point) {
    if (observer_ != nullptr) observer_->at(point, RunState{world_, processes_, flows_});
  }

  // Installs the race steps as a scheduler hook that counts seam calls.
  void arm_races(const Step& step) {
    calls_ = 0;
    resolving_ = true;
    resolve_start_ns_ = world_.now_ns();
    race_events_.clear();
    if (step.races.empty() && observer_ == nullptr) return;
    world_.set_scheduler_hook([this, &step](LookupCall call, World&) {
      ++calls_;
      for (const auto& race : step.races) {
        if (race.before_call == calls_) apply(race.step);
      }
      observe(RunPoint{step_index_, calls_, call});
    });
  }

  // Runs the race steps the strategy did not reach (they count as after the last call).
  void finish_races(const Step& step) {
    world_.clear_scheduler_hook();
    calls_ = calls_ + 1;
    for (const auto& race : step.races) {
      if (race.before_call >= calls_) apply(race.step);
    }
    resolving_ = false;
  }

  // Appends a resolution's lookups with its race events between them: an event that ran before
  // seam call k follows the first k-1 lookups.
  // Lookups are stamped with the latest time seen so far in the resolution (the seam does not
  // say when each call returned), so timestamps never go backwards.
  void append_interleaved(const std::vector<Lookup>& lookups) {
    std::size_t next = 0;
    uint64_t time_ns = resolve_start_ns_;
    for (std::size_t i = 0; i < lookups.size(); ++i) {
      while (next < race_events_.size() && race_events_[next].first <= i) {
        time_ns = std::max(time_ns, race_events_[next].second.time_ns);
        result_.events.push_back(race_events_[next++].second);
      }
      result_.events.push_back(Event{time_ns, lookups[i]});
    }
    for (; next < race_events_.size(); ++next) result_.events.push_back(race_events_[next].second);
    race_events_.clear();
  }

  bool resolve(const Step& step, const step::Resolve& s) {
    if (resolver_ == nullptr)
      return failed(step, "this scenario resolves flows: run it with a resolver strategy");
    auto it = flows_.find(s.flow);
    if (it == flows_.end()) return failed(step, fmt::format("no flow named '{}'", s.flow));
    arm_races(step);
    FlowOutcome outcome;
    outcome.name = s.flow;
    outcome.flow = it->second;
    outcome.check = resolve_and_check(world_, *resolver_, filter_, it->second, oracle_);
    finish_races(step);
    outcome.resolved_ns = world_.now_ns();
    append_interleaved(outcome.check.lookups);
    result_.events.push_back(Event{world_.now_ns(), outcome.check.verdict});
    result_.cell = worse(result_.cell, outcome.check.cell);
    result_.flows.push_back(std::move(outcome));
    return result_.error.empty();
  }

  bool launch(const Step& step, const step::Launch& s) {
    if (launcher_ == nullptr)
      return failed(step, "this scenario launches programs: run it with a launcher strategy");
    arm_races(step);
    LaunchOutcome outcome;
    outcome.path = s.path;
    outcome.check = launch_and_check(world_, *launcher_, s.path, s.requirement, oracle_);
    finish_races(step);
    append_interleaved(outcome.check.lookups);
    result_.cell = worse(result_.cell, outcome.check.cell);
    result_.launches.push_back(std::move(outcome));
    return result_.error.empty();
  }

  const Scenario& scenario_;
  OracleOptions oracle_;
  RunObserver* observer_ = nullptr;
  std::size_t step_index_ = 0;
  World world_;
  Filter filter_;
  Resolver* resolver_ = nullptr;
  Launcher* launcher_ = nullptr;
  std::map<std::string, AuditToken> processes_;
  std::map<std::string, Flow> flows_;
  std::map<std::string, uint32_t> content_versions_;
  uint32_t calls_ = 0;
  bool resolving_ = false;
  uint64_t resolve_start_ns_ = 0;
  std::vector<std::pair<std::size_t, Event>> race_events_;  // (lookups before it, event).
  RunResult result_;
};

}  // namespace

RunResult run_resolver(const Scenario& scenario, Resolver& resolver, const OracleOptions& oracle,
                       RunObserver* observer) {
  return Runner(scenario, oracle, observer).run(resolver.name(), &resolver, nullptr);
}

RunResult run_launcher(const Scenario& scenario, Launcher& launcher, const OracleOptions& oracle,
                       RunObserver* observer) {
  return Runner(scenario, oracle, observer).run(launcher.name(), nullptr, &launcher);
}

std::string lookup_fault_marker(const step::FailNext& fail) {
  return std::string(kLookupFaultMarkerPrefix) + format_step(Step(fail));
}
std::string lookup_fault_marker(const step::Delay& delay) {
  return std::string(kLookupFaultMarkerPrefix) + format_step(Step(delay));
}

bool is_lookup_fault_marker(std::string_view text) {
  return text.starts_with(kLookupFaultMarkerPrefix);
}

// The marker's text after the prefix is the step's own line: parsed by the scenario parser.
bool apply_lookup_fault_marker(std::string_view text, World& world, std::string* error) {
  std::string what;
  std::optional<Step> step;
  if (is_lookup_fault_marker(text))
    step = parse_step(text.substr(kLookupFaultMarkerPrefix.size()), "marker", 0, &what);
  if (const auto* fail = step ? step->as<step::FailNext>() : nullptr) {
    world.fail_next(fail->call, fail->count, fail->outcome);
    return true;
  }
  if (const auto* delay = step ? step->as<step::Delay>() : nullptr) {
    world.set_lookup_duration(delay->call, delay->ns);
    return true;
  }
  *error = fmt::format(
      "bad lookup fault '{}' (fail-next CALL COUNT DOMAIN:CODE, or delay CALL DURATION){}", text,
      what.empty() ? "" : ": " + what);
  return false;
}

}  // namespace flowid::scenario
