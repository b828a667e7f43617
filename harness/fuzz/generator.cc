// The schedule generator: episodes of clean activity and fault patterns (generator.h says why).
#include "harness/fuzz/generator.h"
#include "harness/fuzz/programs.h"
#include "harness/fuzz/realism.h"

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
using scenario::step::FileSpec;
using scenario::step::InstallFile;
using scenario::step::ReplaceFile;
using scenario::step::Spawn;

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
    const FaultSet allowed =
        options_.faults & (options_.launchers ? kLauncherFaults : kResolverFaults);
    FaultSet enabled = kNoFaults;
    if (options_.swarm && allowed != kNoFaults && c_.chance(1, 4)) {
      // A focused case: one fault alone, so single-fault schedules stay common among composites.
      enabled = bit(one_of(allowed));
    } else if (options_.swarm && allowed != kNoFaults) {
      // A random non-empty subset: each allowed fault with probability 1/2, then make sure one is
      // in.
      for (int i = 0; i < kFaultCount; ++i) {
        if (contains(allowed, fault_at(i)) && c_.chance(1, 2)) enabled |= bit(fault_at(i));
      }
      if (enabled == kNoFaults) enabled = bit(one_of(allowed));
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

  // One fault of a non-empty set, uniformly.
  Fault one_of(FaultSet set) {
    std::vector<int> candidates;
    for (int i = 0; i < kFaultCount; ++i) {
      if (contains(set, fault_at(i))) candidates.push_back(i);
    }
    return fault_at(candidates[c_.below(candidates.size())]);
  }

  // A fault drawn by the plan's weights, or none (a clean episode).
  std::optional<Fault> draw_fault() {
    if (out_.enabled == kNoFaults) return std::nullopt;
    if (!c_.chance(options_.fault_episode_percent, 100)) return std::nullopt;
    return draw_from(out_.enabled);
  }

  // ---- Steps.

  enum class Place : uint8_t { kBefore, kDuring, kAfter };
  struct Slot {
    Place place = Place::kBefore;
    uint32_t call = 0;  // kDuring: before this seam call (1-based).
    auto operator<=>(const Slot&) const = default;
  };

  // Where the steps of one lookup's interferences go.
  struct Lookup {
    std::string flow;
    std::size_t owner = 0;              // the process that opened the flow.
    std::optional<std::size_t> app;     // F6: the app the helper works for.
    std::vector<scenario::Race> races;  // kDuring steps, in call order.
    std::vector<FaultSet> race_tags;
    std::vector<std::pair<Step, FaultSet>> after;  // kAfter steps.
  };

  // Appends a top-level step tagged with its fault; race_tags has one tag per race of the step.
  void push(Step step, FaultSet tag, std::vector<FaultSet> race_tags = {}) {
    step.line = static_cast<int>(s_.steps.size()) + 1;
    race_tags.resize(step.races.size(), kNoFaults);
    out_.injected |= tag;
    for (FaultSet race_tag : race_tags) out_.injected |= race_tag;
    out_.race_faults.push_back(std::move(race_tags));
    s_.steps.push_back(std::move(step));
    out_.step_faults.push_back(tag);
  }

  // A program's genuine build (the borrowing impostor's signing id is the case's borrowed
  // identifier).
  FileSpec genuine_file(int program) const {
    FileSpec file = file_spec(kPrograms[static_cast<std::size_t>(program)]);
    if (program == kImpostorBorrowed) file.signing_id = borrowed_id_;
    return file;
  }

  // Installs a program's file before its first use. A file an F5 change took away is installed
  // again as a new build: that step belongs to the fault (without the removal it has no place).
  // An interference installs what it runs at its own slot (the file may be gone by then).
  void ensure_file(int program, Lookup* lookup = nullptr, const Slot* slot = nullptr) {
    if (installed_[static_cast<std::size_t>(program)]) return;
    FileState& file = files_[static_cast<std::size_t>(program)];
    const bool reinstall = file.state == FileState::kRemoved || file.state == FileState::kRenamed;
    file.state = FileState::kOriginal;
    Step step = scenario::step::InstallFile{genuine_file(program)};
    const FaultSet tag = reinstall ? bit(Fault::kReplacedOnDisk) : kNoFaults;
    // A first install can always come earlier, at top level; a reinstall after an F5 removal
    // must come after it, at the interference's slot.
    if (reinstall && lookup != nullptr && slot != nullptr) {
      place(*lookup, *slot, std::move(step), tag);
    } else {
      push(std::move(step), tag);
    }
    installed_[static_cast<std::size_t>(program)] = true;
  }

  int pick(std::span<const int> programs) { return programs[c_.below(programs.size())]; }

  struct Proc {
    std::string name;
    int program = 0;
    bool alive = true;
    uint32_t pending_flows = 0;
    bool zombie = false;  // exited, not yet reaped (holds its pid).
    int helper_for = -1;  // F6: the index of the app this helper acts for (R2).
  };

  // What happened to a program's executable on disk (F5).
  struct FileState {
    enum : uint8_t { kOriginal, kReplaced, kRemoved, kRenamed } state = kOriginal;
    std::string renamed_to;
  };

  // The step that starts a process running `program`, registered as procs_.back(); its file is
  // installed first (at the interference's slot when an interference starts it).
  // `spawn` gives the options (uid, responsible); its name and path are filled in here.
  Step spawn_step(int program, scenario::step::Spawn spawn, Lookup* lookup = nullptr,
                  const Slot* slot = nullptr) {
    ensure_file(program, lookup, slot);
    used_[static_cast<std::size_t>(program)] = true;
    spawn.name = fmt::format("p{}", procs_.size() + 1);
    spawn.path = std::string(kPrograms[static_cast<std::size_t>(program)].path);
    procs_.push_back({spawn.name, program});
    return spawn;
  }

  // Spawns a process running `program`; returns its index in procs_.
  std::size_t spawn(int program, FaultSet tag, scenario::step::Spawn options = {}) {
    push(spawn_step(program, std::move(options)), tag);
    return procs_.size() - 1;
  }

  static scenario::step::Spawn as_root() {
    scenario::step::Spawn spawn;
    spawn.uid = 0;
    return spawn;
  }

  // `flow` gives the options (app, token shapes); names, host and protocol are filled in here.
  std::string open_flow(std::size_t proc, FaultSet tag, scenario::step::OpenFlow flow = {}) {
    flow.flow = fmt::format("f{}", ++flow_count_);
    flow.process = procs_[proc].name;
    if (c_.chance(1, 2)) flow.host = std::string(kHosts[c_.below(kHosts.size())]);
    if (c_.chance(1, 8)) flow.udp = true;
    std::string name = flow.flow;
    push(std::move(flow), tag);
    ++procs_[proc].pending_flows;
    return name;
  }

  void maybe_advance(FaultSet tag) {
    if (!c_.chance(1, 3)) return;
    static constexpr std::array<uint64_t, 4> kDurations = {100'000, 2'000'000, 50'000'000,
                                                           2'000'000'000};
    push(scenario::step::Advance{kDurations[c_.below(kDurations.size())]}, tag);
  }

  // ---- Resolver cases: situations and interferences.
  //
  // A case is a sequence of lookups. Each has a SITUATION, what the flow looks like when it is
  // opened: an ordinary program, a /usr/libexec daemon asked about by a sandboxed filter (F3), a
  // helper working for an app (F6), an absent or malformed token (F7), the simulator's copy of a
  // daemon (F10). And it has zero or more INTERFERENCES, each landing before the lookup, before
  // one of its seam calls, or after it (where it meets later lookups of the same pid or file):
  // exit (F2); exit as a zombie, then reap (F9); exit and pid reuse by a program of any class,
  // trusted app, untrusted download, platform daemon or the same program (F1); exec into any
  // class (F4); the executable replaced, removed, renamed or restored (F5); a call failing with
  // any modelled outcome, or slow (F8). Every situation combines with every interference, and
  // interferences with each other (swap, then swap back), so a bug that needs two faults to meet
  // is as reachable as one that needs a single fault. Every step respects realism.h.

  void place(Lookup& lookup, const Slot& slot, Step step, FaultSet tag) {
    switch (slot.place) {
      case Place::kBefore:
        push(std::move(step), tag);
        break;
      case Place::kDuring:
        lookup.races.emplace_back(slot.call, std::move(step));
        lookup.race_tags.push_back(tag);
        break;
      case Place::kAfter:
        lookup.after.emplace_back(std::move(step), tag);
        break;
    }
  }

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
    const uint32_t episodes =
        1 + static_cast<uint32_t>(c_.below(std::min(options_.episodes_max, kEpisodesLimit)));
    for (uint32_t e = 0; e < episodes; ++e) {
      flush_deferred(false);
      lookup_episode();
      noise();
    }
    flush_deferred(true);
    make_rules();
  }

  static constexpr FaultSet kSituationFaults = bit(Fault::kSandboxEperm) | bit(Fault::kDelegation) |
                                               bit(Fault::kMalformedToken) | bit(Fault::kSameName);
  static constexpr FaultSet kInterferenceFaults =
      bit(Fault::kPidReuse) | bit(Fault::kExitRace) | bit(Fault::kExecAfterFlow) |
      bit(Fault::kReplacedOnDisk) | bit(Fault::kTransientFailure) | bit(Fault::kZombie);

  // A fault of `among` drawn by the plan's weights, or nullopt when the plan enables none.
  std::optional<Fault> draw_from(FaultSet among) {
    std::array<uint32_t, kFaultCount> weights{};
    bool any = false;
    for (int i = 0; i < kFaultCount; ++i) {
      if (!contains(out_.enabled & among, fault_at(i))) continue;
      weights[static_cast<std::size_t>(i)] = out_.weights[static_cast<std::size_t>(i)];
      any = true;
    }
    if (!any) return std::nullopt;
    return fault_at(static_cast<int>(c_.weighted(weights.data(), weights.size())));
  }

  void lookup_episode() {
    std::optional<Fault> situation;
    std::vector<Fault> interferences;
    if (auto first = draw_fault()) {
      if (contains(kSituationFaults, *first)) {
        situation = first;
        // A situation meets an interference half of the time (an EPERM'd lookup whose pid
        // changes hands, a malformed token whose owner exits, a delegated app that exits).
        if (c_.chance(1, 2)) {
          if (auto more = draw_from(kInterferenceFaults)) interferences.push_back(*more);
        }
      } else {
        interferences.push_back(*first);
        if (c_.chance(1, 4)) situation = draw_from(kSituationFaults);
      }
      // More interferences: single-fault lookups stay the most common.
      // Bounded by attempts, not by what was added: byte-driven choices read zeros once the
      // input is spent, and chance() is then always true.
      for (uint32_t attempt = 1; attempt < kInterferencesPerLookupMax && c_.chance(1, 3);
           ++attempt) {
        if (auto more = draw_from(kInterferenceFaults)) interferences.push_back(*more);
      }
    }
    Lookup lookup = open_situation(situation);
    std::vector<std::pair<Slot, Fault>> planned;
    for (Fault fault : interferences) planned.emplace_back(draw_slot(), fault);
    // In the order they will happen, so that each one sees the world the earlier ones left.
    std::stable_sort(planned.begin(), planned.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [slot, fault] : planned) interfere(lookup, slot, fault);
    finish_lookup(std::move(lookup));
  }

  Slot draw_slot() {
    const uint64_t roll = c_.below(100);
    if (roll < 35) return {Place::kBefore, 0};
    if (roll < 85) return {Place::kDuring, race_call()};
    return {Place::kAfter, 0};
  }

  // Mostly the first few calls, where every strategy still is; sometimes deep in a long chain.
  uint32_t race_call() {
    if (c_.chance(3, 4)) return static_cast<uint32_t>(1 + c_.below(4));
    return static_cast<uint32_t>(5 + c_.below(4));
  }

  void finish_lookup(Lookup lookup) {
    // Only a lookup without races or later interferences waits: the generator has already
    // applied their effects to its picture of the world (a newcomer later lookups may use).
    if (lookup.races.empty() && lookup.after.empty() && c_.chance(1, 4)) {
      deferred_.push_back({std::move(lookup), static_cast<uint32_t>(c_.below(3))});
      return;
    }
    auto after = std::move(lookup.after);
    resolve(lookup);
    for (auto& [step, tag] : after) push(std::move(step), tag);
  }

  void resolve(Lookup& lookup) {
    Step step = scenario::step::Resolve{lookup.flow};
    step.races = std::move(lookup.races);
    push(std::move(step), kNoFaults, std::move(lookup.race_tags));
    if (procs_[lookup.owner].pending_flows > 0) --procs_[lookup.owner].pending_flows;
    if (lookup.app && procs_[*lookup.app].pending_flows > 0) --procs_[*lookup.app].pending_flows;
  }

  struct Deferred {
    Lookup lookup;
    uint32_t episodes_left = 0;
  };

  void flush_deferred(bool all) {
    std::vector<Deferred> keep;
    for (auto& d : deferred_) {
      if (all || d.episodes_left == 0) {
        resolve(d.lookup);
      } else {
        --d.episodes_left;
        keep.push_back(std::move(d));
      }
    }
    deferred_ = std::move(keep);
  }

  bool live(std::size_t proc) const { return procs_[proc].alive; }

  // A live ordinary process to open another flow (the newcomer of an earlier pid reuse or the
  // process of an earlier exec, when there is one: pid-keyed caches meet them there), or a new one.
  std::size_t some_process() {
    if (prefer_next_ && live(*prefer_next_) && c_.chance(3, 4)) {
      const std::size_t proc = *prefer_next_;
      prefer_next_.reset();
      return proc;
    }
    prefer_next_.reset();
    std::vector<std::size_t> candidates;
    for (std::size_t i = 0; i < procs_.size(); ++i) {
      if (live(i) && procs_[i].helper_for < 0) candidates.push_back(i);
    }
    if (!candidates.empty() && c_.chance(1, 3)) return candidates[c_.below(candidates.size())];
    return spawn(pick(kOrdinaryPrograms), kNoFaults);
  }

  Lookup open_situation(std::optional<Fault> situation) {
    const FaultSet tag = situation ? bit(*situation) : kNoFaults;
    switch (situation.value_or(Fault::kLaunchToctou)) {
      case Fault::kSandboxEperm:
        return sandboxed_daemon();
      case Fault::kDelegation:
        return delegated(tag);
      case Fault::kMalformedToken:
        return malformed_token(tag);
      case Fault::kSameName:
        return same_name(tag);
      default: {
        Lookup lookup;
        lookup.owner = some_process();
        lookup.flow = open_flow(lookup.owner, kNoFaults);
        maybe_advance(kNoFaults);
        return lookup;
      }
    }
  }

  // F3: a sandboxed filter asks about a /usr/libexec platform daemon: token lookups answer EPERM.
  // The user denies it by identity and lets unknown programs through.
  Lookup sandboxed_daemon() {
    Lookup lookup;
    const int program = c_.chance(1, 2) ? kTrustd : kNsurlsessiond;
    rule_plan(program, c_.chance(1, 2) ? RulePlan::kDenyIdentity : RulePlan::kRandom);
    if (c_.chance(1, 2)) no_rule_allow_ = true;
    lookup.owner = spawn(program, kNoFaults, as_root());
    lookup.flow = open_flow(lookup.owner, kNoFaults);
    return lookup;
  }

  // F6: a helper (nsurlsessiond) opens the socket for an app: app token != process token. The
  // helper is responsible for that app and no other (realism R2).
  Lookup delegated(FaultSet tag) {
    Lookup lookup;
    const std::size_t app = some_process();
    scenario::step::Spawn helper;
    helper.responsible = procs_[app].name;
    lookup.owner = spawn(kNsurlsessiond, tag, std::move(helper));
    procs_[lookup.owner].helper_for = static_cast<int>(app);
    lookup.app = app;
    scenario::step::OpenFlow on_behalf;
    on_behalf.app = procs_[app].name;
    lookup.flow = open_flow(lookup.owner, tag, std::move(on_behalf));
    ++procs_[app].pending_flows;
    return lookup;
  }

  // F7: the flow's token Data is absent or of the wrong size.
  Lookup malformed_token(FaultSet tag) {
    Lookup lookup;
    lookup.owner = some_process();
    static constexpr std::array<TokenShape, 3> kShapes = {
        TokenShape::kWellFormed, TokenShape::kAbsent, TokenShape::kMalformed};
    const TokenShape app_shape = kShapes[c_.below(3)];
    scenario::step::OpenFlow flow;
    if (app_shape != TokenShape::kWellFormed) flow.app_token = app_shape;
    flow.process_token = kShapes[1 + c_.below(2)];
    lookup.flow = open_flow(lookup.owner, tag, std::move(flow));
    return lookup;
  }

  // F10: same name, other code: the simulator runtime's copy of a daemon (same signing id,
  // another path), ad-hoc code borrowing an Apple identifier, or another team's build signed
  // with a trusted program's identifier. The genuine program is often allowed by identity (a
  // copy taken for it passes under its rule) and sometimes runs beside it.
  Lookup same_name(FaultSet tag) {
    if (!options_.borrowed_signing_ids.empty() && c_.chance(1, 2)) return borrowed_identity(tag);
    static constexpr std::array<std::pair<int, int>, 3> kCopies = {
        {{kSimTrustd, kTrustd}, {kImpostorApple, kCurl}, {kImpostorTeam, kGood}}};
    const auto [copy, genuine] = kCopies[c_.below(kCopies.size())];
    rule_plan(genuine, c_.chance(1, 2) ? RulePlan::kAllowIdentity : RulePlan::kDenyIdentity);
    rule_plan(copy, c_.chance(1, 2)
                        ? (c_.chance(1, 2) ? RulePlan::kDenyPath : RulePlan::kDenyIdentity)
                        : RulePlan::kAllowPath);
    ensure_file(genuine);
    used_[static_cast<std::size_t>(genuine)] = true;
    if (c_.chance(1, 2)) {
      Lookup other;
      other.owner = spawn(genuine, kNoFaults, genuine == kTrustd ? as_root() : Spawn{});
      other.flow = open_flow(other.owner, kNoFaults);
      resolve(other);
    }
    Lookup lookup;
    lookup.owner = spawn(copy, tag);
    lookup.flow = open_flow(lookup.owner, kNoFaults);
    return lookup;
  }

  // F10 with the code under test's own dictionary: another team's build signed with an
  // identifier the code names, denied by the user by path or by its team's identity.
  Lookup borrowed_identity(FaultSet tag) {
    const auto& ids = options_.borrowed_signing_ids;
    if (borrowed_id_.empty()) borrowed_id_ = ids[c_.below(ids.size())];
    rule_plan(kImpostorBorrowed, c_.chance(3, 4) ? RulePlan::kDenyPath : RulePlan::kRandom);
    if (c_.chance(1, 2)) no_rule_allow_ = true;
    Lookup lookup;
    lookup.owner = spawn(kImpostorBorrowed, tag);
    lookup.flow = open_flow(lookup.owner, kNoFaults);
    return lookup;
  }

  // The process an interference acts on: the flow's own process, or the app behind a helper.
  std::size_t target_of(const Lookup& lookup) {
    if (lookup.app && c_.chance(1, 2)) return *lookup.app;
    return lookup.owner;
  }

  void interfere(Lookup& lookup, const Slot& slot, Fault fault) {
    const FaultSet tag = bit(fault);
    const std::size_t target = target_of(lookup);
    switch (fault) {
      case Fault::kExitRace:
        if (live(target)) place(lookup, slot, exit_step(target, false), tag);
        break;
      case Fault::kZombie:
        if (live(target)) {
          if (c_.chance(1, 2)) {
            rule_plan(procs_[target].program, RulePlan::kDenyIdentity);
            no_rule_allow_ = true;
          }
          place(lookup, slot, exit_step(target, true), tag);
        } else if (procs_[target].zombie) {
          place(lookup, slot, reap_step(target), tag);
        }
        break;
      case Fault::kPidReuse:
        pid_reuse(lookup, slot, target, tag);
        break;
      case Fault::kExecAfterFlow:
        exec_into(lookup, slot, target, tag);
        break;
      case Fault::kReplacedOnDisk:
        change_file(lookup, slot, target, tag);
        break;
      case Fault::kTransientFailure:
        transient(lookup, slot, target, tag);
        break;
      default:
        break;  // situations are not interferences.
    }
  }

  Step exit_step(std::size_t proc, bool zombie) {
    procs_[proc].alive = false;
    procs_[proc].zombie = zombie;
    scenario::step::Exit exit;
    exit.name = procs_[proc].name;
    exit.zombie = zombie;
    return exit;
  }

  Step reap_step(std::size_t proc) {
    procs_[proc].zombie = false;
    return scenario::step::Reap{procs_[proc].name};
  }

  // The program classes a newcomer or an exec may run.
  enum class ProgramClass : uint8_t { kTrustedApp, kUntrusted, kPlatformDaemon, kSameProgram };

  int program_of_class(ProgramClass cls, int same) {
    switch (cls) {
      case ProgramClass::kTrustedApp:
        return pick(kTrustedPrograms);
      case ProgramClass::kUntrusted:
        return pick(kUntrustedPrograms);
      case ProgramClass::kPlatformDaemon:
        return c_.chance(1, 2) ? kTrustd : kNsurlsessiond;
      case ProgramClass::kSameProgram:
        return same;
    }
    return same;
  }

  // A newcomer's or exec's program, and the rule that makes a misattribution to it visible.
  int draw_class_program(int same, bool daemons) {
    static constexpr std::array<uint32_t, 4> kWeights = {55, 20, 12, 13};
    auto cls = static_cast<ProgramClass>(c_.weighted(kWeights.data(), kWeights.size()));
    if (cls == ProgramClass::kPlatformDaemon && !daemons) cls = ProgramClass::kTrustedApp;
    const int program = program_of_class(cls, same);
    if (program != kEvil && c_.chance(2, 3)) {
      rule_plan(program, c_.chance(1, 2) ? RulePlan::kAllowIdentity : RulePlan::kAllowPath);
    }
    return program;
  }

  // F1: the target exits (if it still runs) and a program of any class takes its pid.
  void pid_reuse(Lookup& lookup, const Slot& slot, std::size_t target, FaultSet tag) {
    if (live(target)) place(lookup, slot, exit_step(target, false), tag);
    if (procs_[target].zombie) place(lookup, slot, reap_step(target), tag);
    const int newcomer = draw_class_program(procs_[target].program, true);
    const bool daemon = newcomer == kTrustd || newcomer == kNsurlsessiond;
    Step step = spawn_step(newcomer, daemon ? as_root() : Spawn{}, &lookup, &slot);
    prefer_next_ = procs_.size() - 1;
    place(lookup, slot, std::move(step), tag);
  }

  // F4: the target execs a program of any class (same pid, new pidversion).
  void exec_into(Lookup& lookup, const Slot& slot, std::size_t target, FaultSet tag) {
    if (!live(target)) return;
    const int next = draw_class_program(procs_[target].program, false);
    ensure_file(next, &lookup, &slot);
    used_[static_cast<std::size_t>(next)] = true;
    procs_[target].program = next;
    prefer_next_ = target;
    place(lookup, slot,
          scenario::step::Exec{procs_[target].name,
                               std::string(kPrograms[static_cast<std::size_t>(next)].path)},
          tag);
  }

  // F5: the target's executable changes on disk: replaced (unsigned, or another team's build),
  // removed, renamed away, or put back as it was. Protected paths never change (R1).
  void change_file(Lookup& lookup, const Slot& slot, std::size_t target, FaultSet tag) {
    const int program = procs_[target].program;
    const Program& p = kPrograms[static_cast<std::size_t>(program)];
    if (is_protected_path(p.path)) return;
    FileState& file = files_[static_cast<std::size_t>(program)];
    const std::string path(p.path);
    auto original = [&]() {
      FileSpec build = genuine_file(program);
      build.content = 1;
      return build;
    };
    FileSpec unsigned_code;
    unsigned_code.path = path;
    Step change;
    switch (file.state) {
      case FileState::kOriginal:
      case FileState::kReplaced:
        switch (c_.below(file.state == FileState::kReplaced ? 5 : 4)) {
          case 0:
            change = ReplaceFile{unsigned_code};
            file.state = FileState::kReplaced;
            break;
          case 1: {
            FileSpec other_team = unsigned_code;
            other_team.signature = SignatureKind::kDeveloperId;
            other_team.signing_id =
                std::string(p.signing_id.empty() ? "com.example.other" : p.signing_id);
            other_team.team_id = "OTHERTEAM1";
            change = ReplaceFile{other_team};
            file.state = FileState::kReplaced;
            break;
          }
          case 2:
            change = scenario::step::RemoveFile{path};
            file.state = FileState::kRemoved;
            break;
          case 3:
            file.renamed_to = fmt::format("{}.old{}", path, ++renames_);
            change = scenario::step::RenameFile{path, file.renamed_to};
            file.state = FileState::kRenamed;
            break;
          default:
            change = ReplaceFile{original()};
            file.state = FileState::kOriginal;
            break;
        }
        break;
      case FileState::kRemoved:
        change = InstallFile{original()};
        file.state = FileState::kOriginal;
        break;
      case FileState::kRenamed:
        change = scenario::step::RenameFile{file.renamed_to, path};
        file.state = FileState::kOriginal;
        break;
    }
    installed_[static_cast<std::size_t>(program)] =
        file.state != FileState::kRemoved && file.state != FileState::kRenamed;
    place(lookup, slot, std::move(change), tag);
  }

  // F8: a call fails once or twice with any outcome a resolver may meet, or runs slow.
  void transient(Lookup& lookup, const Slot& slot, std::size_t target, FaultSet tag) {
    if (c_.chance(1, 3)) {
      rule_plan(procs_[target].program, RulePlan::kDenyIdentity);
      no_rule_allow_ = true;
    }
    if (c_.chance(1, 4)) {
      static constexpr std::array<uint64_t, 4> kDurations = {5'000'000, 50'000'000, 2'000'000'000,
                                                             30'000'000'000};
      scenario::step::Delay delay;
      delay.call = kResolverCalls[c_.below(kResolverCalls.size())];
      delay.ns = kDurations[c_.below(kDurations.size())];
      place(lookup, slot, delay, tag);
      return;
    }
    scenario::step::FailNext fail;  // drawn in this order: call, count, outcome.
    fail.call = kResolverCalls[c_.below(kResolverCalls.size())];
    fail.count = static_cast<uint32_t>(1 + c_.below(2));
    fail.outcome = kTransientOutcomes[c_.below(kTransientOutcomes.size())];
    place(lookup, slot, fail, tag);
  }

  // Background activity that changes nothing a resolver depends on: time passes, idle processes
  // exit (their flows are all resolved), new processes start.
  void noise() {
    if (c_.chance(1, 4)) maybe_advance(kNoFaults);
    if (c_.chance(1, 4)) {
      std::vector<std::size_t> idle;
      for (std::size_t i = 0; i < procs_.size(); ++i) {
        if (procs_[i].alive && procs_[i].pending_flows == 0 && procs_[i].helper_for < 0)
          idle.push_back(i);
      }
      if (!idle.empty()) {
        const std::size_t proc = idle[c_.below(idle.size())];
        push(exit_step(proc, false), kNoFaults);
      }
    }
    if (c_.chance(1, 6)) spawn(pick(kOrdinaryPrograms), kNoFaults);
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

  // Launches of a signed tool with interferences: the file replaced before the launch (F5), a
  // launch call failing (F8), and swaps during the launch (F11), several per launch (swap, then
  // swap back before the launcher looks again).
  void build_launches() {
    s_.world.caller.sandboxed = false;
    s_.world.caller.root = true;
    s_.record_with = "kernel-launch-requirement";
    const uint32_t launches =
        1 + static_cast<uint32_t>(c_.below(std::min<uint32_t>(3, options_.episodes_max)));
    for (uint32_t l = 0; l < launches; ++l) {
      const std::string path = fmt::format("/usr/local/bin/tool{}", l + 1);
      // The genuine tool, or (rarely) an unsigned build that a correct launcher refuses.
      const bool genuine = c_.chance(7, 8);
      if (genuine) {
        push(InstallFile{tool_build(path, "TOOLTEAM01")}, kNoFaults);
      } else {
        push(InstallFile{unsigned_build(path)}, kNoFaults);
      }
      LaunchPlan plan;
      plan.path = path;
      plan.genuine = genuine;
      if (auto fault = draw_fault()) {
        launch_interference(plan, *fault);
        for (uint32_t attempt = 1; attempt < kInterferencesPerLookupMax && c_.chance(1, 3);
             ++attempt) {
          if (auto more = draw_from(kLauncherFaults)) launch_interference(plan, *more);
        }
      }
      Step launch = scenario::step::Launch{path, std::string(kToolRequirement)};
      launch.races = std::move(plan.races);
      push(std::move(launch), kNoFaults, std::move(plan.race_tags));
    }
  }

  // The tool built by `team` (hardened runtime), and unsigned code, at `path`.
  static FileSpec tool_build(const std::string& path, std::string_view team) {
    FileSpec file;
    file.path = path;
    file.signature = SignatureKind::kDeveloperId;
    file.signing_id = "com.example.tool";
    file.team_id = std::string(team);
    file.runtime = true;
    return file;
  }
  static FileSpec unsigned_build(const std::string& path) {
    FileSpec file;
    file.path = path;
    return file;
  }

  struct LaunchPlan {
    std::string path;
    bool genuine = true;
    bool swapped = false;     // the file at path is not the one installed first.
    bool moved_away = false;  // nothing is at path.
    uint32_t last_call = 0;   // races are generated in call order.
    std::vector<scenario::Race> races;
    std::vector<FaultSet> race_tags;
  };

  void launch_interference(LaunchPlan& plan, Fault fault) {
    const FaultSet tag = bit(fault);
    if (fault == Fault::kReplacedOnDisk && plan.races.empty() && !plan.moved_away) {
      push(ReplaceFile{unsigned_build(plan.path)}, tag);
      plan.swapped = true;
    } else if (fault == Fault::kTransientFailure) {
      scenario::step::FailNext once;  // drawn in this order: call, outcome.
      once.call = kLauncherCalls[c_.below(kLauncherCalls.size())];
      once.count = 1;
      once.outcome = kTransientOutcomes[c_.below(kTransientOutcomes.size())];
      Step fail = once;
      if (c_.chance(1, 2) && plan.races.empty()) {
        push(std::move(fail), tag);
      } else {
        add_launch_race(plan, std::move(fail), tag);
      }
    } else if (fault == Fault::kLaunchToctou) {
      add_launch_race(plan, swap_step(plan), tag);
    }
  }

  void add_launch_race(LaunchPlan& plan, Step step, FaultSet tag) {
    plan.last_call = std::max(plan.last_call, static_cast<uint32_t>(1 + c_.below(3))) +
                     static_cast<uint32_t>(c_.below(2));
    plan.last_call = std::max<uint32_t>(plan.last_call, 1);
    plan.races.emplace_back(plan.last_call, std::move(step));
    plan.race_tags.push_back(tag);
  }

  // The next swap of the launched file: another build in, or the original back.
  Step swap_step(LaunchPlan& plan) {
    if (plan.moved_away) {
      plan.moved_away = false;
      plan.swapped = true;
      return InstallFile{unsigned_build(plan.path)};
    }
    if (plan.swapped && plan.genuine && c_.chance(1, 2)) {
      plan.swapped = false;
      FileSpec original = tool_build(plan.path, "TOOLTEAM01");
      original.content = 1;
      return ReplaceFile{original};
    }
    switch (c_.below(4)) {
      case 0:
        plan.swapped = true;
        return ReplaceFile{unsigned_build(plan.path)};
      case 1:
        plan.swapped = true;
        return ReplaceFile{tool_build(plan.path, "EVILTEAM01")};
      case 2:
        plan.moved_away = true;
        return scenario::step::RemoveFile{plan.path};
      default: {
        // A prepared file renamed over the tool in one step.
        const std::string evil = fmt::format("/tmp/evil-tool{}", ++renames_);
        push(InstallFile{unsigned_build(evil)}, bit(Fault::kLaunchToctou));
        plan.swapped = true;
        return scenario::step::RenameFile{evil, plan.path};
      }
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
  std::array<FileState, kProgramCount> files_{};
  std::vector<Deferred> deferred_;
  std::optional<std::size_t> prefer_next_;  // a newcomer or exec'd process later lookups favour.
  uint32_t flow_count_ = 0;
  uint32_t renames_ = 0;
  bool no_rule_allow_ = false;
  std::string borrowed_id_;  // kImpostorBorrowed's signing id in this case.
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
  if (contains(generated.world_faults, Fault::kPidReuse) &&
      world.pid_policy != PidPolicy::kSequential) {
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

std::vector<std::string> identifiers_in(std::string_view bytes, std::size_t max) {
  // A reverse-DNS identifier: 2-63 lowercase letters, then two or more dot-separated labels of
  // letters, digits, '-' and '_'. Library names (libc.so.6) and versions do not qualify.
  auto label_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  };
  auto identifier = [&](std::string_view run) {
    const auto dot = run.find('.');
    if (dot == std::string_view::npos || dot < 2 || dot > 63) return false;
    for (std::size_t i = 0; i < dot; ++i) {
      if (run[i] < 'a' || run[i] > 'z') return false;
    }
    std::size_t labels = 0;
    std::size_t length = 0;
    for (std::size_t i = dot + 1; i <= run.size(); ++i) {
      if (i == run.size() || run[i] == '.') {
        if (length == 0) return false;
        ++labels;
        length = 0;
      } else if (!label_char(run[i])) {
        return false;
      } else {
        ++length;
      }
    }
    return labels >= 2 && !run.ends_with(".so") && run.find(".so.") == std::string_view::npos;
  };
  std::vector<std::string> found;
  constexpr std::size_t kRunBytesMax = 255;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    const bool printable = i < bytes.size() && (label_char(bytes[i]) || bytes[i] == '.');
    if (printable) continue;
    const std::string_view run = bytes.substr(start, i - start);
    if (run.size() >= 5 && run.size() <= kRunBytesMax && identifier(run)) found.emplace_back(run);
    start = i + 1;
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  if (found.size() > max) found.resize(max);
  return found;
}

std::size_t schedule_size(const scenario::Scenario& scenario) {
  std::size_t size = 0;
  for (const auto& step : scenario.steps) size += 1 + step.races.size();
  return size;
}

}  // namespace flowid::fuzz
