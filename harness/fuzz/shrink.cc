#include "harness/fuzz/shrink.h"

#include <optional>
#include <utility>
#include <vector>

namespace flowid::fuzz {
namespace {

// Options a step can lose and stay the step it is, in the order they are tried. Options that
// carry meaning a step needs (identities, the requirement) or that ARE a fault's content
// (delegation, malformed tokens, zombies) are not here: removing them would keep the step's fault
// tag on a step that no longer carries the fault. Each returns false when there is nothing to
// remove.
using OptionRemoval = bool (*)(scenario::Step&);
scenario::step::FileSpec* file_of(scenario::Step& step) {
  if (auto* install = step.as<scenario::step::InstallFile>()) return &install->file;
  if (auto* replace = step.as<scenario::step::ReplaceFile>()) return &replace->file;
  return nullptr;
}
template <typename T>
bool clear(T& field) {
  if (field == T{}) return false;
  field = T{};
  return true;
}
constexpr OptionRemoval kOptionRemovals[] = {
    [](scenario::Step& s) { return file_of(s) != nullptr && clear(file_of(s)->runtime); },
    [](scenario::Step& s) { return file_of(s) != nullptr && clear(file_of(s)->content); },
    [](scenario::Step& s) {
      auto* spawn = s.as<scenario::step::Spawn>();
      return spawn != nullptr && clear(spawn->parent);
    },
    [](scenario::Step& s) {
      auto* spawn = s.as<scenario::step::Spawn>();
      return spawn != nullptr && clear(spawn->uid);
    },
    [](scenario::Step& s) {
      auto* exit = s.as<scenario::step::Exit>();
      return exit != nullptr && clear(exit->status);
    },
    [](scenario::Step& s) {
      auto* flow = s.as<scenario::step::OpenFlow>();
      return flow != nullptr && clear(flow->host);
    },
    [](scenario::Step& s) {
      auto* flow = s.as<scenario::step::OpenFlow>();
      return flow != nullptr && clear(flow->port);
    },
    [](scenario::Step& s) {
      auto* flow = s.as<scenario::step::OpenFlow>();
      return flow != nullptr && clear(flow->udp);
    },
    [](scenario::Step& s) {
      auto* flow = s.as<scenario::step::OpenFlow>();
      return flow != nullptr && clear(flow->ipv6);
    },
    [](scenario::Step& s) {
      auto* flow = s.as<scenario::step::OpenFlow>();
      return flow != nullptr && clear(flow->inbound);
    },
};

// Named bound on the outer fix-point loop (each round must remove or simplify something).
constexpr uint32_t kShrinkRoundsMax = 64;

// A case's steps, their fault tags and their races' tags are parallel vectors: every edit goes
// through these two, so they stay parallel.
void erase_steps(GeneratedCase& c, std::size_t first, std::size_t last) {
  const auto from = static_cast<std::ptrdiff_t>(first);
  const auto to = static_cast<std::ptrdiff_t>(last);
  c.scenario.steps.erase(c.scenario.steps.begin() + from, c.scenario.steps.begin() + to);
  c.step_faults.erase(c.step_faults.begin() + from, c.step_faults.begin() + to);
  c.race_faults.erase(c.race_faults.begin() + from, c.race_faults.begin() + to);
}

void erase_race(GeneratedCase& c, std::size_t s, std::size_t r) {
  auto& races = c.scenario.steps[s].races;
  races.erase(races.begin() + static_cast<std::ptrdiff_t>(r));
  auto& tags = c.race_faults[s];
  tags.erase(tags.begin() + static_cast<std::ptrdiff_t>(r));
}

class Shrinker {
 public:
  Shrinker(const StrategyUnderTest& strategy, const ShrinkOptions& options, InvariantSet target)
      : strategy_(strategy), options_(options), target_(target) {}

  uint32_t runs() const { return runs_; }

  // True (and verdict filled) when the candidate runs and violates the target.
  bool still_fails(const GeneratedCase& candidate, CaseVerdict* verdict = nullptr) {
    if (runs_ >= options_.runs_max) return false;
    ++runs_;
    CaseVerdict v = check_scenario(candidate.scenario, strategy_, options_.oracle);
    const bool fails = v.ran() && (v.violated & target_) != 0;
    if (fails && verdict != nullptr) *verdict = std::move(v);
    return fails;
  }

  bool exhausted() const { return runs_ >= options_.runs_max; }

  bool remove_step_chunks(GeneratedCase& best) {
    bool progress = false;
    std::size_t chunk = best.scenario.steps.size() / 2;
    if (chunk == 0) chunk = 1;
    while (chunk >= 1 && !exhausted()) {
      bool removed_any = false;
      for (std::size_t start = 0; start < best.scenario.steps.size() && !exhausted();) {
        GeneratedCase candidate = best;
        const std::size_t end = std::min(start + chunk, candidate.scenario.steps.size());
        erase_steps(candidate, start, end);
        if (still_fails(candidate)) {
          best = std::move(candidate);
          removed_any = progress = true;
        } else {
          start += chunk;
        }
      }
      if (chunk == 1) break;
      chunk = removed_any ? chunk : chunk / 2;
    }
    return progress;
  }

  bool simplify_races(GeneratedCase& best) {
    bool progress = false;
    for (std::size_t s = 0; s < best.scenario.steps.size() && !exhausted(); ++s) {
      for (std::size_t r = 0; r < best.scenario.steps[s].races.size() && !exhausted();) {
        GeneratedCase candidate = best;
        erase_race(candidate, s, r);
        if (still_fails(candidate)) {
          best = std::move(candidate);
          progress = true;
        } else {
          ++r;
        }
      }
      for (std::size_t r = 0; r < best.scenario.steps[s].races.size() && !exhausted(); ++r) {
        while (best.scenario.steps[s].races[r].before_call > 1 && !exhausted()) {
          GeneratedCase candidate = best;
          --candidate.scenario.steps[s].races[r].before_call;
          if (!still_fails(candidate)) break;
          best = std::move(candidate);
          progress = true;
        }
      }
    }
    return progress;
  }

  // Moves race r of step s to a top-level step just before (after = false) or just after it.
  static bool move_race_out(GeneratedCase& c, std::size_t s, std::size_t r, bool after) {
    scenario::Step step = c.scenario.steps[s].races[r].step;
    const FaultSet tag = c.race_faults[s][r];
    erase_race(c, s, r);
    const auto at = static_cast<std::ptrdiff_t>(after ? s + 1 : s);
    c.scenario.steps.insert(c.scenario.steps.begin() + at, std::move(step));
    c.step_faults.insert(c.step_faults.begin() + at, tag);
    c.race_faults.insert(c.race_faults.begin() + at, std::vector<FaultSet>{});
    return true;
  }

  // Moves races out of their resolution, to just before it or (a race the strategy never reached
  // runs after it anyway) just after it. Same size, but the resolution may then go: a newcomer
  // spawned inside the first lookup, or a transient failure armed there that only a later lookup
  // meets. Kept only when the case still fails; each success removes a race, so this ends.
  bool hoist_races(GeneratedCase& best) {
    bool progress = false;
    for (std::size_t s = 0; s < best.scenario.steps.size() && !exhausted(); ++s) {
      for (std::size_t r = 0; r < best.scenario.steps[s].races.size() && !exhausted();) {
        if (attempt(best, [s, r](GeneratedCase& c) { return move_race_out(c, s, r, false); })) {
          progress = true;
          ++s;  // the resolution moved one place down.
        } else if (attempt(best,
                           [s, r](GeneratedCase& c) { return move_race_out(c, s, r, true); })) {
          progress = true;
        } else {
          ++r;
        }
      }
    }
    return progress;
  }

  // A place in the schedule: a top-level step, or one race of it.
  struct Unit {
    std::size_t step = 0;
    std::optional<std::size_t> race;
  };

  const scenario::Step& step_of(const GeneratedCase& c, const Unit& u) const {
    const auto& step = c.scenario.steps[u.step];
    return u.race ? step.races[*u.race].step : step;
  }

  // Units that change the world (not flows, resolutions or launches: those are the subject).
  std::vector<Unit> world_units(const GeneratedCase& c) const {
    std::vector<Unit> units;
    for (std::size_t s = 0; s < c.scenario.steps.size(); ++s) {
      const auto kind = c.scenario.steps[s].kind();
      if (kind != scenario::StepKind::kFlow && kind != scenario::StepKind::kResolve &&
          kind != scenario::StepKind::kLaunch) {
        units.push_back({s, std::nullopt});
      }
      for (std::size_t r = 0; r < c.scenario.steps[s].races.size(); ++r) units.push_back({s, r});
    }
    return units;
  }

  static bool share_subject(const scenario::Step& a, const scenario::Step& b) {
    for (const auto& x : a.operands()) {
      for (const auto& y : b.operands()) {
        if (x == y) return true;
      }
    }
    return false;
  }

  // Removes both units (the later first, so indices of the earlier stay valid).
  static void erase_units(GeneratedCase& c, Unit first, Unit second) {
    for (const Unit& u : {second, first}) {
      if (u.race) {
        erase_race(c, u.step, *u.race);
      } else {
        erase_steps(c, u.step, u.step + 1);
      }
    }
  }

  // Dependent pairs go together: a change and the step that undoes it (swap and swap back,
  // rename away and back, remove and reinstall, exit as a zombie and reap) about the same process
  // or file. Neither can go alone when the later one needs the earlier to run, and one alone may
  // not matter to the failure while the pair does not either.
  bool remove_pairs(GeneratedCase& best) {
    bool progress = false;
    bool removed = true;
    while (removed && !exhausted()) {
      removed = false;
      const std::vector<Unit> units = world_units(best);
      for (std::size_t i = 0; i < units.size() && !removed && !exhausted(); ++i) {
        for (std::size_t j = i + 1; j < units.size() && !removed && !exhausted(); ++j) {
          if (!share_subject(step_of(best, units[i]), step_of(best, units[j]))) continue;
          // Two races of one step: erase the later race first (erase_units does).
          removed = attempt(best, [&](GeneratedCase& c) {
            erase_units(c, units[i], units[j]);
            return true;
          });
        }
      }
      progress |= removed;
    }
    return progress;
  }

  bool remove_rules(GeneratedCase& best) {
    bool progress = false;
    for (std::size_t i = 0; i < best.scenario.rules.rules.size() && !exhausted();) {
      GeneratedCase candidate = best;
      candidate.scenario.rules.rules.erase(candidate.scenario.rules.rules.begin() +
                                           static_cast<std::ptrdiff_t>(i));
      if (still_fails(candidate)) {
        best = std::move(candidate);
        progress = true;
      } else {
        ++i;
      }
    }
    return progress;
  }

  // Tries one change; keeps it when the case still fails.
  template <typename Change>
  bool attempt(GeneratedCase& best, Change change) {
    if (exhausted()) return false;
    GeneratedCase candidate = best;
    if (!change(candidate)) return false;
    if (!still_fails(candidate)) return false;
    best = std::move(candidate);
    return true;
  }

  bool simplify_values(GeneratedCase& best) {
    bool progress = false;
    const WorldConfig defaults;
    progress |= attempt(best, [](GeneratedCase& c) {
      if (c.scenario.world.pid_policy == PidPolicy::kSequential) return false;
      c.scenario.world.pid_policy = PidPolicy::kSequential;
      return true;
    });
    progress |= attempt(best, [](GeneratedCase& c) {
      if (!c.scenario.world.caller.sandboxed) return false;
      c.scenario.world.caller.sandboxed = false;
      return true;
    });
    const FilterPolicy default_policy;
    progress |= attempt(best, [&](GeneratedCase& c) {
      if (c.scenario.rules.policy == default_policy) return false;
      c.scenario.rules.policy = default_policy;
      return true;
    });
    progress |= attempt(best, [&](GeneratedCase& c) {
      if (c.scenario.rules.policy.unverified == default_policy.unverified) return false;
      c.scenario.rules.policy.unverified = default_policy.unverified;
      return true;
    });
    progress |= attempt(best, [&](GeneratedCase& c) {
      if (c.scenario.rules.policy.gone == default_policy.gone &&
          c.scenario.rules.policy.unknown == default_policy.unknown)
        return false;
      c.scenario.rules.policy.gone = default_policy.gone;
      c.scenario.rules.policy.unknown = default_policy.unknown;
      return true;
    });
    for (std::size_t s = 0; s < best.scenario.steps.size() && !exhausted(); ++s) {
      for (OptionRemoval removal : kOptionRemovals) {
        if (exhausted()) break;
        progress |=
            attempt(best, [s, removal](GeneratedCase& c) { return removal(c.scenario.steps[s]); });
      }
    }
    return progress;
  }

 private:
  const StrategyUnderTest& strategy_;
  const ShrinkOptions& options_;
  InvariantSet target_;
  uint32_t runs_ = 0;
};

}  // namespace

ShrinkResult shrink_case(const GeneratedCase& failing, const StrategyUnderTest& strategy,
                         const ShrinkOptions& options) {
  ShrinkResult result;
  result.shrunk = failing;
  result.original_size = schedule_size(failing.scenario);
  result.verdict = check_scenario(failing.scenario, strategy, options.oracle);
  result.shrunk_size = result.original_size;
  if (!result.verdict.failed()) return result;
  result.target = primary_invariant(result.verdict.violated);

  Shrinker shrinker(strategy, options, invariant_bit(result.target));
  GeneratedCase best = failing;
  for (uint32_t round = 0; round < kShrinkRoundsMax && !shrinker.exhausted(); ++round) {
    bool progress = shrinker.remove_step_chunks(best);
    progress |= shrinker.simplify_races(best);
    progress |= shrinker.remove_pairs(best);
    if (!progress) progress |= shrinker.hoist_races(best);
    progress |= shrinker.remove_rules(best);
    progress |= shrinker.simplify_values(best);
    if (!progress) break;
  }
  // Renumber lines so that messages about the shrunk case point at its own steps.
  for (std::size_t i = 0; i < best.scenario.steps.size(); ++i)
    best.scenario.steps[i].line = static_cast<int>(i) + 1;
  refresh_faults(best);
  result.verdict = check_scenario(best.scenario, strategy, options.oracle);
  result.runs = shrinker.runs();
  result.shrunk = std::move(best);
  result.shrunk_size = schedule_size(result.shrunk.scenario);
  return result;
}

}  // namespace flowid::fuzz
