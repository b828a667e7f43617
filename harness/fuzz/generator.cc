// The schedule generator: episodes of clean activity and fault patterns (generator.h says why).
#include "harness/fuzz/generator.h"
#include "harness/fuzz/programs.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace flowid::fuzz {

uint64_t Choices::below(uint64_t bound) {
  if (bound <= 1) return 0;
  if (!from_bytes_) return random_.below(bound);
  // As many bytes as the bound needs, big-endian, reduced modulo the bound. Zero bytes (and an
  // exhausted input) choose 0: the first, simplest option everywhere.
  uint64_t value = 0;
  for (uint64_t span = bound - 1; span != 0; span >>= 8) {
    value = (value << 8) | (position_ < size_ ? data_[position_] : 0);
    ++position_;
  }
  return value % bound;
}

std::size_t Choices::weighted(const uint32_t* weights, std::size_t count) {
  uint64_t total = 0;
  for (std::size_t i = 0; i < count; ++i) total += weights[i];
  if (total == 0) return 0;
  uint64_t pick = below(total);
  for (std::size_t i = 0; i < count; ++i) {
    if (pick < weights[i]) return i;
    pick -= weights[i];
  }
  return count - 1;
}

uint64_t case_seed(uint64_t run_seed, uint64_t case_index) {
  return mix64(run_seed ^ mix64(case_index + 0x5eedULL));
}

namespace {

using scenario::Step;
using scenario::StepKind;

constexpr std::string_view kToolRequirement =
    "anchor apple generic and certificate leaf[subject.OU] = \"TOOLTEAM01\"";

class Builder {
 public:
  Builder(const GeneratorOptions& options, Choices& choices, GeneratedCase& out)
      : options_(options), c_(choices), out_(out), s_(out.scenario) {}

  void build() {
    choose_plan();
    if (options_.launchers) {
      build_launches();
    } else {
      build_resolutions();
    }
    refresh_faults(out_);
  }

 private:
  // ---- Fault plan (swarm).

  void choose_plan() {
    const FaultSet allowed = options_.faults & (options_.launchers ? kLauncherFaults : kResolverFaults);
    FaultSet enabled = kNoFaults;
    if (options_.swarm && allowed != kNoFaults) {
      // A random non-empty subset: each allowed fault with probability 1/2, then make sure one is in.
      for (int i = 0; i < kFaultCount; ++i) {
        if (contains(allowed, fault_at(i)) && c_.chance(1, 2)) enabled |= bit(fault_at(i));
      }
      if (enabled == kNoFaults) {
        std::vector<int> candidates;
        for (int i = 0; i < kFaultCount; ++i) {
          if (contains(allowed, fault_at(i))) candidates.push_back(i);
        }
        enabled = bit(fault_at(candidates[c_.below(candidates.size())]));
      }
    } else {
      enabled = allowed;
    }
    out_.enabled = enabled;
    for (int i = 0; i < kFaultCount; ++i) {
      if (!contains(enabled, fault_at(i))) continue;
      out_.weights[static_cast<std::size_t>(i)] =
          static_cast<uint8_t>(options_.swarm ? 1 + c_.below(kSwarmWeightMax) : 1);
    }
  }

  // A fault drawn by the plan's weights, or none (a clean episode).
  std::optional<Fault> draw_fault() {
    if (out_.enabled == kNoFaults) return std::nullopt;
    if (!c_.chance(options_.fault_episode_percent, 100)) return std::nullopt;
    std::array<uint32_t, kFaultCount> weights{};
    for (int i = 0; i < kFaultCount; ++i) weights[static_cast<std::size_t>(i)] = out_.weights[static_cast<std::size_t>(i)];
    return fault_at(static_cast<int>(c_.weighted(weights.data(), weights.size())));
  }

  // ---- Steps.

  static Step make(StepKind kind, std::vector<std::string> args,
                   std::vector<std::pair<std::string, std::string>> options = {}) {
    return make_step(kind, std::move(args), std::move(options));
  }

  void push(Step step, FaultSet tag, FaultSet race_tag = kNoFaults) {
    step.line = static_cast<int>(s_.steps.size()) + 1;
    out_.race_faults.emplace_back(step.races.size(), race_tag);
    s_.steps.push_back(std::move(step));
    out_.step_faults.push_back(tag);
    out_.injected |= tag | (out_.race_faults.back().empty() ? kNoFaults : race_tag);
  }

  static std::vector<std::pair<std::string, std::string>> identity_options(const Program& p) {
    std::vector<std::pair<std::string, std::string>> options;
    if (!p.signing_id.empty()) options.emplace_back("signing_id", std::string(p.signing_id));
    if (!p.team_id.empty()) options.emplace_back("team_id", std::string(p.team_id));
    return options;
  }

  void ensure_file(int program) {
    if (installed_[static_cast<std::size_t>(program)]) return;
    const Program& p = kPrograms[static_cast<std::size_t>(program)];
    push(make(StepKind::kFile, {std::string(p.path), std::string(p.kind)}, identity_options(p)), kNoFaults);
    installed_[static_cast<std::size_t>(program)] = true;
  }

  int pick(std::span<const int> programs) { return programs[c_.below(programs.size())]; }

  struct Proc {
    std::string name;
    int program = 0;
    bool alive = true;
    uint32_t pending_flows = 0;
  };

  // Spawns a process running `program`; returns its index in procs_.
  std::size_t spawn(int program, FaultSet tag,
                    std::vector<std::pair<std::string, std::string>> options = {}) {
    ensure_file(program);
    used_[static_cast<std::size_t>(program)] = true;
    std::string name = fmt::format("p{}", procs_.size() + 1);
    push(make(StepKind::kSpawn, {name, std::string(kPrograms[static_cast<std::size_t>(program)].path)},
              std::move(options)),
         tag);
    procs_.push_back({name, program, true, 0});
    return procs_.size() - 1;
  }

  // The step that spawns a process, for use as a race (the caller attaches it); registers it.
  Step spawn_race(int program, std::size_t& index) {
    ensure_file(program);
    used_[static_cast<std::size_t>(program)] = true;
    std::string name = fmt::format("p{}", procs_.size() + 1);
    procs_.push_back({name, program, true, 0});
    index = procs_.size() - 1;
    return make(StepKind::kSpawn, {name, std::string(kPrograms[static_cast<std::size_t>(program)].path)});
  }

  std::string open_flow(std::size_t proc, FaultSet tag,
                        std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::string name = fmt::format("f{}", ++flow_count_);
    std::vector<std::pair<std::string, std::string>> options = std::move(extra);
    if (c_.chance(1, 2)) options.emplace_back("host", std::string(kHosts[c_.below(kHosts.size())]));
    if (c_.chance(1, 8)) options.emplace_back("udp", "");
    push(make(StepKind::kFlow, {name, procs_[proc].name}, std::move(options)), tag);
    ++procs_[proc].pending_flows;
    return name;
  }

  void maybe_advance(FaultSet tag) {
    if (!c_.chance(1, 3)) return;
    static constexpr std::array<std::string_view, 4> kDurations = {"100us", "2ms", "50ms", "2s"};
    push(make(StepKind::kAdvance, {std::string(kDurations[c_.below(kDurations.size())])}), tag);
  }

  void resolve(const std::string& flow, std::size_t proc, FaultSet tag,
               std::vector<scenario::Race> races = {}) {
    Step step = make(StepKind::kResolve, {flow});
    step.races = std::move(races);
    push(std::move(step), kNoFaults, tag);
    if (procs_[proc].pending_flows > 0) --procs_[proc].pending_flows;
  }

  uint32_t race_call() { return static_cast<uint32_t>(1 + c_.below(4)); }

  // ---- Resolver cases.

  void choose_world() {
    s_.world.caller.sandboxed = false;
    s_.world.caller.root = true;
    if (contains(out_.enabled, Fault::kPidReuse)) {
      // Reuse must be possible: the most recently freed pid first (usually), or the lowest free.
      s_.world.pid_policy = c_.chance(3, 4) ? PidPolicy::kReuseLastFreed : PidPolicy::kLowestFree;
      out_.world_faults |= bit(Fault::kPidReuse);
    }
    if (contains(out_.enabled, Fault::kSandboxEperm)) {
      s_.world.caller.sandboxed = true;
      out_.world_faults |= bit(Fault::kSandboxEperm);
    }
  }

  void build_resolutions() {
    choose_world();
    const uint32_t episodes = 1 + static_cast<uint32_t>(c_.below(std::min(options_.episodes_max, kEpisodesLimit)));
    for (uint32_t e = 0; e < episodes; ++e) {
      flush_deferred(false);
      if (auto fault = draw_fault()) {
        fault_episode(*fault);
      } else {
        clean_episode();
      }
      noise();
    }
    flush_deferred(true);
    make_rules();
  }

  struct Deferred {
    std::string flow;
    std::size_t proc = 0;
    uint32_t episodes_left = 0;
  };

  void flush_deferred(bool all) {
    std::vector<Deferred> keep;
    for (auto& d : deferred_) {
      if (all || d.episodes_left == 0) {
        resolve(d.flow, d.proc, kNoFaults);
      } else {
        --d.episodes_left;
        keep.push_back(std::move(d));
      }
    }
    deferred_ = std::move(keep);
  }

  // A live, ordinary process to reuse, or a new one.
  std::size_t some_process() {
    std::vector<std::size_t> live;
    for (std::size_t i = 0; i < procs_.size(); ++i) {
      if (procs_[i].alive && !reserved(i)) live.push_back(i);
    }
    if (!live.empty() && c_.chance(1, 3)) return live[c_.below(live.size())];
    return spawn(pick(kOrdinaryPrograms), kNoFaults);
  }

  // Processes of other episodes' pending flows keep running; fault patterns use their own.
  bool reserved(std::size_t proc) const { return procs_[proc].pending_flows > 0; }

  void clean_episode() {
    std::size_t proc = some_process();
    std::string flow = open_flow(proc, kNoFaults);
    maybe_advance(kNoFaults);
    if (c_.chance(1, 2)) {
      resolve(flow, proc, kNoFaults);
    } else {
      deferred_.push_back({flow, proc, static_cast<uint32_t>(c_.below(3))});
    }
  }

  // Background activity that changes nothing a resolver depends on: time passes, idle processes
  // exit (their flows are all resolved), new processes start.
  void noise() {
    if (c_.chance(1, 4)) maybe_advance(kNoFaults);
    if (c_.chance(1, 4)) {
      std::vector<std::size_t> idle;
      for (std::size_t i = 0; i < procs_.size(); ++i) {
        if (procs_[i].alive && procs_[i].pending_flows == 0) idle.push_back(i);
      }
      if (!idle.empty()) {
        std::size_t proc = idle[c_.below(idle.size())];
        push(make(StepKind::kExit, {procs_[proc].name}), kNoFaults);
        procs_[proc].alive = false;
      }
    }
    if (c_.chance(1, 6)) spawn(pick(kOrdinaryPrograms), kNoFaults);
  }

  void exit_step_into(std::vector<scenario::Race>* races, uint32_t call, std::size_t proc,
                      bool zombie, FaultSet tag) {
    std::vector<std::pair<std::string, std::string>> options;
    if (zombie) options.emplace_back("zombie", "");
    Step step = make(StepKind::kExit, {procs_[proc].name}, std::move(options));
    procs_[proc].alive = false;
    if (races != nullptr) {
      races->emplace_back(call, std::move(step));
    } else {
      push(std::move(step), tag);
    }
  }

  void fault_episode(Fault fault) {
    const FaultSet tag = bit(fault);
    switch (fault) {
      case Fault::kPidReuse: pid_reuse(tag); break;
      case Fault::kExitRace: exit_race(tag); break;
      case Fault::kSandboxEperm: sandbox_eperm(tag); break;
      case Fault::kExecAfterFlow: exec_after_flow(tag); break;
      case Fault::kReplacedOnDisk: replaced_on_disk(tag); break;
      case Fault::kDelegation: delegation(tag); break;
      case Fault::kMalformedToken: malformed_token(tag); break;
      case Fault::kTransientFailure: transient_failure(tag); break;
      case Fault::kZombie: zombie(tag); break;
      case Fault::kSameName: same_name(tag); break;
      case Fault::kLaunchToctou: clean_episode(); break;  // not a resolver fault.
    }
  }

  // F1: the flow's process exits and a (usually trusted) program takes its pid before the lookup,
  // during it, or before the pid's next flow is resolved (pid-keyed caches).
  void pid_reuse(FaultSet tag) {
    std::size_t victim = spawn(pick(kUntrustedPrograms), kNoFaults);
    std::string flow = open_flow(victim, kNoFaults);
    maybe_advance(tag);
    const int newcomer = c_.chance(3, 4) ? pick(kTrustedPrograms) : pick(kOrdinaryPrograms);
    if (newcomer != kEvil) rule_plan(newcomer, c_.chance(1, 2) ? RulePlan::kAllowIdentity : RulePlan::kAllowPath);
    switch (c_.below(3)) {
      case 0: {
        exit_step_into(nullptr, 0, victim, false, tag);
        spawn(newcomer, tag);
        maybe_advance(tag);
        resolve(flow, victim, tag);
        break;
      }
      case 1: {
        std::vector<scenario::Race> races;
        const uint32_t call = race_call();
        exit_step_into(&races, call, victim, false, tag);
        std::size_t index = 0;
        races.emplace_back(call, spawn_race(newcomer, index));
        resolve(flow, victim, tag, std::move(races));
        break;
      }
      default: {
        resolve(flow, victim, tag);
        exit_step_into(nullptr, 0, victim, false, tag);
        std::size_t next = spawn(newcomer, tag);
        std::string second = open_flow(next, kNoFaults);
        maybe_advance(tag);
        resolve(second, next, tag);
        break;
      }
    }
  }

  // F2: the flow's process exits before the lookup or between two of its seam calls.
  void exit_race(FaultSet tag) {
    std::size_t proc = spawn(pick(kOrdinaryPrograms), kNoFaults);
    std::string flow = open_flow(proc, kNoFaults);
    if (c_.chance(1, 2)) {
      maybe_advance(tag);
      exit_step_into(nullptr, 0, proc, false, tag);
      resolve(flow, proc, tag);
    } else {
      std::vector<scenario::Race> races;
      exit_step_into(&races, race_call(), proc, false, tag);
      resolve(flow, proc, tag, std::move(races));
    }
  }

  // F3: a sandboxed filter asks about a /usr/libexec platform daemon: token lookups answer EPERM.
  void sandbox_eperm(FaultSet tag) {
    const int program = c_.chance(1, 2) ? kTrustd : kNsurlsessiond;
    rule_plan(program, c_.chance(1, 2) ? RulePlan::kDenyIdentity : RulePlan::kRandom);
    if (c_.chance(1, 2)) no_rule_allow_ = true;
    std::size_t proc = spawn(program, kNoFaults, {{"uid", "0"}});
    std::string flow = open_flow(proc, kNoFaults);
    resolve(flow, proc, tag);
  }

  // F4: the process execs another program after opening the flow (stale token, same pid).
  void exec_after_flow(FaultSet tag) {
    std::size_t proc = spawn(pick(kUntrustedPrograms), kNoFaults);
    std::string flow = open_flow(proc, kNoFaults);
    const int next = pick(kTrustedPrograms);
    ensure_file(next);
    used_[static_cast<std::size_t>(next)] = true;
    rule_plan(next, c_.chance(1, 2) ? RulePlan::kAllowIdentity : RulePlan::kAllowPath);
    Step exec = make(StepKind::kExec, {procs_[proc].name, std::string(kPrograms[static_cast<std::size_t>(next)].path)});
    switch (c_.below(3)) {
      case 0:
        push(std::move(exec), tag);
        resolve(flow, proc, tag);
        break;
      case 1: {
        std::vector<scenario::Race> races;
        races.emplace_back(race_call(), std::move(exec));
        resolve(flow, proc, tag, std::move(races));
        break;
      }
      default: {
        resolve(flow, proc, tag);
        push(std::move(exec), tag);
        std::string second = open_flow(proc, kNoFaults);
        resolve(second, proc, tag);
        break;
      }
    }
    procs_[proc].program = next;
  }

  // F5: the executable is replaced, removed or renamed on disk after the process started.
  void replaced_on_disk(FaultSet tag) {
    const int program = pick(kOrdinaryPrograms);
    std::size_t proc = spawn(program, kNoFaults);
    std::string flow = open_flow(proc, kNoFaults);
    const Program& p = kPrograms[static_cast<std::size_t>(program)];
    Step change;
    switch (c_.below(4)) {
      case 0:
        change = make(StepKind::kReplace, {std::string(p.path), "unsigned"});
        break;
      case 1:
        change = make(StepKind::kReplace, {std::string(p.path), "developer-id"},
                      {{"signing_id", "com.example.other"}, {"team_id", "OTHERTEAM1"}});
        break;
      case 2:
        change = make(StepKind::kRemove, {std::string(p.path)});
        installed_[static_cast<std::size_t>(program)] = false;
        break;
      default:
        change = make(StepKind::kRename, {std::string(p.path), fmt::format("{}.old{}", p.path, ++renames_)});
        installed_[static_cast<std::size_t>(program)] = false;
        break;
    }
    if (c_.chance(1, 2)) {
      push(std::move(change), tag);
      resolve(flow, proc, tag);
    } else {
      std::vector<scenario::Race> races;
      races.emplace_back(race_call(), std::move(change));
      resolve(flow, proc, tag, std::move(races));
    }
  }

  // F6: a helper (nsurlsessiond) opens the socket for an app: app token != process token.
  void delegation(FaultSet tag) {
    const int app_program = pick(kOrdinaryPrograms);
    std::size_t app = spawn(app_program, kNoFaults);
    std::size_t helper = spawn(kNsurlsessiond, tag, {{"responsible", procs_[app].name}});
    std::string flow = open_flow(helper, tag, {{"app", procs_[app].name}});
    ++procs_[app].pending_flows;
    switch (c_.below(3)) {
      case 0:
        resolve(flow, helper, tag);
        break;
      case 1:
        // The app goes away before the lookup; the helper still holds the socket.
        exit_step_into(nullptr, 0, app, false, tag);
        resolve(flow, helper, tag);
        break;
      default: {
        std::vector<scenario::Race> races;
        exit_step_into(&races, race_call(), helper, false, tag);
        resolve(flow, helper, tag, std::move(races));
        break;
      }
    }
    if (procs_[app].pending_flows > 0) --procs_[app].pending_flows;
  }

  // F7: the flow's token Data is absent or of the wrong size.
  void malformed_token(FaultSet tag) {
    std::size_t proc = some_process();
    static constexpr std::array<std::string_view, 3> kShapes = {"ok", "absent", "malformed"};
    std::string app_shape(kShapes[c_.below(3)]);
    std::string process_shape(kShapes[1 + c_.below(2)]);
    std::vector<std::pair<std::string, std::string>> options;
    if (app_shape != "ok") options.emplace_back("app-token", app_shape);
    options.emplace_back("process-token", process_shape);
    std::string flow = open_flow(proc, tag, std::move(options));
    resolve(flow, proc, tag);
  }

  // F8: lookups that fail transiently or take long although the process is alive and well.
  void transient_failure(FaultSet tag) {
    std::size_t proc = spawn(pick(kOrdinaryPrograms), kNoFaults);
    if (c_.chance(1, 2)) {
      rule_plan(procs_[proc].program, RulePlan::kDenyIdentity);
      no_rule_allow_ = true;
    }
    std::string flow = open_flow(proc, kNoFaults);
    push(make(StepKind::kFailNext,
              {std::string(kResolverCalls[c_.below(kResolverCalls.size())]),
               std::to_string(1 + c_.below(2)),
               std::string(kTransientOutcomes[c_.below(kTransientOutcomes.size())])}),
         tag);
    if (c_.chance(1, 3)) {
      push(make(StepKind::kDelay, {std::string(kResolverCalls[c_.below(kResolverCalls.size())]), "5ms"}), tag);
    }
    resolve(flow, proc, tag);
  }

  // F9: the process is dead but not reaped: its pid is still held, no code runs there.
  void zombie(FaultSet tag) {
    std::size_t proc = spawn(pick(kOrdinaryPrograms), kNoFaults);
    if (c_.chance(1, 2)) {
      rule_plan(procs_[proc].program, RulePlan::kDenyIdentity);
      no_rule_allow_ = true;
    }
    std::string flow = open_flow(proc, kNoFaults);
    if (c_.chance(1, 2)) {
      exit_step_into(nullptr, 0, proc, true, tag);
      resolve(flow, proc, tag);
    } else {
      std::vector<scenario::Race> races;
      exit_step_into(&races, race_call(), proc, true, tag);
      resolve(flow, proc, tag, std::move(races));
    }
    if (c_.chance(1, 2)) push(make(StepKind::kReap, {procs_[proc].name}), tag);
  }

  // F10: the simulator runtime's copy of a daemon: same name and signing id, another path.
  void same_name(FaultSet tag) {
    rule_plan(kTrustd, c_.chance(1, 2) ? RulePlan::kAllowIdentity : RulePlan::kDenyIdentity);
    rule_plan(kSimTrustd, c_.chance(1, 2) ? RulePlan::kDenyPath : RulePlan::kAllowPath);
    ensure_file(kTrustd);
    used_[kTrustd] = true;
    std::size_t copy = spawn(kSimTrustd, tag);
    std::string flow = open_flow(copy, kNoFaults);
    if (c_.chance(1, 2)) {
      std::size_t real = spawn(kTrustd, kNoFaults, {{"uid", "0"}});
      std::string second = open_flow(real, kNoFaults);
      resolve(second, real, tag);
    }
    resolve(flow, copy, tag);
  }

  // ---- Rules.

  void rule_plan(int program, RulePlan plan) {
    if (plan == RulePlan::kRandom) return;
    plans_[static_cast<std::size_t>(program)] = plan;
  }

  void make_rules() {
    RuleDraft draft;
    draft.used = used_;
    draft.plans = plans_;
    draft.no_rule_allow = no_rule_allow_;
    s_.rules = draw_rules(draft, c_);
  }

  // ---- Launcher cases.

  void build_launches() {
    s_.world.caller.sandboxed = false;
    s_.world.caller.root = true;
    s_.record_with = "kernel-launch-requirement";
    const uint32_t launches = 1 + static_cast<uint32_t>(c_.below(std::min<uint32_t>(3, options_.episodes_max)));
    bool evil_installed = false;
    for (uint32_t l = 0; l < launches; ++l) {
      const std::string path = fmt::format("/usr/local/bin/tool{}", l + 1);
      // The genuine tool, or (rarely) an unsigned build that a correct launcher refuses.
      if (c_.chance(7, 8)) {
        push(make(StepKind::kFile, {path, "developer-id"},
                  {{"signing_id", "com.example.tool"}, {"team_id", "TOOLTEAM01"}, {"runtime", ""}}),
             kNoFaults);
      } else {
        push(make(StepKind::kFile, {path, "unsigned"}), kNoFaults);
      }
      std::optional<Fault> fault = draw_fault();
      std::vector<scenario::Race> races;
      FaultSet tag = kNoFaults;
      if (fault == Fault::kReplacedOnDisk) {
        tag = bit(*fault);
        push(make(StepKind::kReplace, {path, "unsigned"}), tag);
      } else if (fault == Fault::kTransientFailure) {
        tag = bit(*fault);
        push(make(StepKind::kFailNext,
                  {std::string(kLauncherCalls[c_.below(kLauncherCalls.size())]), "1",
                   std::string(kTransientOutcomes[c_.below(kTransientOutcomes.size())])}),
             tag);
      } else if (fault == Fault::kLaunchToctou) {
        tag = bit(*fault);
        const uint32_t call = race_call();
        switch (c_.below(4)) {
          case 0: races.emplace_back(call, make(StepKind::kReplace, {path, "unsigned"})); break;
          case 1:
            races.emplace_back(call, make(StepKind::kReplace, {path, "developer-id"},
                                          {{"signing_id", "com.example.tool"}, {"team_id", "EVILTEAM01"}}));
            break;
          case 2: races.emplace_back(call, make(StepKind::kRemove, {path})); break;
          default:
            if (!evil_installed) {
              push(make(StepKind::kFile, {"/tmp/evil-tool", "unsigned"}), tag);
              evil_installed = true;
            }
            races.emplace_back(call, make(StepKind::kRename, {"/tmp/evil-tool", path}));
            evil_installed = false;
            break;
        }
      }
      Step launch = make(StepKind::kLaunch, {path}, {{"requirement", std::string(kToolRequirement)}});
      launch.races = std::move(races);
      push(std::move(launch), tag);
    }
  }

  const GeneratorOptions& options_;
  Choices& c_;
  GeneratedCase& out_;
  scenario::Scenario& s_;
  std::array<bool, kProgramCount> installed_{};
  std::array<bool, kProgramCount> used_{};
  std::array<RulePlan, kProgramCount> plans_{};
  std::vector<Proc> procs_;
  std::vector<Deferred> deferred_;
  uint32_t flow_count_ = 0;
  uint32_t renames_ = 0;
  bool no_rule_allow_ = false;
};

}  // namespace

GeneratedCase generate_case(const GeneratorOptions& options, Choices& choices, std::string name) {
  GeneratedCase out;
  out.scenario.name = std::move(name);
  out.scenario.file = out.scenario.name;
  Builder(options, choices, out).build();
  return out;
}

FaultSet refresh_faults(GeneratedCase& generated) {
  FaultSet set = kNoFaults;
  for (FaultSet tag : generated.step_faults) set |= tag;
  for (const auto& races : generated.race_faults) {
    for (FaultSet tag : races) set |= tag;
  }
  const auto& world = generated.scenario.world;
  if (contains(generated.world_faults, Fault::kPidReuse) && world.pid_policy != PidPolicy::kSequential) {
    set |= bit(Fault::kPidReuse);
  }
  if (contains(generated.world_faults, Fault::kSandboxEperm) && world.caller.sandboxed) {
    set |= bit(Fault::kSandboxEperm);
  }
  generated.injected = set;
  generated.scenario.faults.clear();
  for (int i = 0; i < kFaultCount; ++i) {
    if (contains(set, fault_at(i))) generated.scenario.faults.emplace_back(fault_id(fault_at(i)));
  }
  return set;
}

std::size_t schedule_size(const scenario::Scenario& scenario) {
  std::size_t size = 0;
  for (const auto& step : scenario.steps) size += 1 + step.races.size();
  return size;
}

}  // namespace flowid::fuzz
