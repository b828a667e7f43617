#include "harness/fuzz/property.h"

#include <variant>

#include "harness/event_digest.h"
#include "harness/strategies/catalog.h"

namespace flowid::fuzz {
namespace {

// FNV-1a over bytes, then folded into the running digest with splitmix64's mixer.
uint64_t fold_bytes(uint64_t state, std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(state ^ h);
}
uint64_t fold(uint64_t state, uint64_t value) { return mix64(state ^ mix64(value)); }

void collect(CaseVerdict& verdict, const std::vector<Finding>& findings) {
  for (const auto& finding : findings) {
    verdict.digest = fold(verdict.digest, (static_cast<uint64_t>(finding.invariant) << 8) |
                                              static_cast<uint64_t>(finding.severity));
    if (finding.severity != Severity::kViolation) {
      ++verdict.warnings;
      continue;
    }
    ++verdict.violations;
    verdict.violated |= invariant_bit(finding.invariant);
    if (verdict.first_violation.empty()) verdict.first_violation = describe(finding);
  }
}

}  // namespace

std::optional<StrategyUnderTest> reference_strategy(std::string_view name) {
  StrategyUnderTest strategy;
  strategy.name = std::string(name);
  if (make_resolver(name)) {
    std::string owned(name);
    strategy.make_resolver = [owned] { return flowid::make_resolver(owned); };
    return strategy;
  }
  if (make_launcher(name)) {
    std::string owned(name);
    strategy.launcher = true;
    strategy.make_launcher = [owned] { return flowid::make_launcher(owned); };
    return strategy;
  }
  return std::nullopt;
}

std::vector<std::string> invariant_names(InvariantSet set) {
  std::vector<std::string> names;
  for (unsigned i = 1; i <= 7; ++i) {
    if ((set & (1u << i)) != 0) names.push_back("I" + std::to_string(i));
  }
  return names;
}

std::string format_invariants(InvariantSet set) {
  std::string out;
  for (const auto& name : invariant_names(set)) out += (out.empty() ? "" : ",") + name;
  return out.empty() ? "none" : out;
}

Invariant primary_invariant(InvariantSet violated) {
  for (Invariant invariant :
       {Invariant::kI4VerdictSafety, Invariant::kI5LauncherSafety, Invariant::kI1VerifiedIsCorrect,
        Invariant::kI3GoneIsGone, Invariant::kI2NoSilentMisattribution, Invariant::kI7Totality}) {
    if ((violated & invariant_bit(invariant)) != 0) return invariant;
  }
  return Invariant::kI7Totality;
}

CaseVerdict check_scenario(const scenario::Scenario& scenario, const StrategyUnderTest& strategy,
                           const OracleOptions& oracle, scenario::RunResult* run,
                           scenario::RunObserver* observer) {
  if (run == nullptr && observer == nullptr && strategy.check_elsewhere) {
    std::vector<std::optional<CaseVerdict>> verdicts =
        strategy.check_elsewhere(std::span(&scenario, 1), oracle);
    if (verdicts.size() == 1 && verdicts.front()) return *verdicts.front();
  }
  scenario::RunResult result;
  if (strategy.launcher) {
    auto launcher = strategy.make_launcher();
    result = scenario::run_launcher(scenario, *launcher, oracle, observer);
  } else {
    auto resolver = strategy.make_resolver();
    result = scenario::run_resolver(scenario, *resolver, oracle, observer);
  }
  CaseVerdict verdict;
  verdict.error = result.error;
  verdict.cell = result.cell;
  verdict.digest = fold_bytes(0x666c6f7769646675ULL, result.error);
  // The canonical event digest (the trace footer's): every field of every event, so that I6 sees
  // a run that differs in any endpoint, hostname, lookup argument, token or identity.
  for (const auto& event : result.events) verdict.digest = event_digest(verdict.digest, event);
  verdict.event_count = static_cast<uint32_t>(result.events.size());
  for (const auto& flow : result.flows) {
    verdict.digest = fold(verdict.digest, static_cast<uint64_t>(flow.check.cell));
    collect(verdict, flow.check.findings);
  }
  for (const auto& launch : result.launches) {
    verdict.digest = fold(verdict.digest, static_cast<uint64_t>(launch.check.cell) |
                                              (launch.check.result.launched ? 0x10u : 0u));
    collect(verdict, launch.check.findings);
  }
  if (run != nullptr) *run = std::move(result);
  return verdict;
}

CaseVerdict check_scenario(const scenario::Scenario& scenario, const StrategyUnderTest& strategy,
                           const OracleOptions& oracle) {
  return check_scenario(scenario, strategy, oracle, nullptr);
}

}  // namespace flowid::fuzz
