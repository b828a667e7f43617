// GoogleTest helpers: run flowid's fixtures and a bounded property run against YOUR resolver
// from your own test suite, in a few lines. Header-only; link flowid::harness and GTest.
//
//   #include <flowid/gtest.h>
//   std::unique_ptr<flowid::Resolver> make_mine();             // your resolver, in C++
//   TEST(MyResolver, PassesFlowidFixtures) {
//     FLOWID_EXPECT_FIXTURES_PASS(FLOWID_FIXTURES_DIR, make_mine);
//   }
//   TEST(MyResolver, SurvivesFaultInjection) {
//     FLOWID_EXPECT_PROPERTY_HOLDS(make_mine, /*seed=*/1, /*cases=*/2000);
//   }
//
// FLOWID_FIXTURES_DIR comes from find_package(flowid). "Passes" means the oracle reports no
// violation (invariants I1-I5, I7; DESIGN.md section 3) for any flow: a resolver may be more or
// less careful than the reference strategies, but it may never claim a wrong identity as
// verified, let a denied program through, or crash. Every failure message says how to reproduce
// it (the fixture file, or `flowid fuzz ... --seed S --case K` for a plugin build of the same
// resolver).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness/filter.h"
#include "harness/fuzz/campaign.h"
#include "harness/fuzz/property.h"
#include "harness/resolver.h"
#include "harness/scenario.h"

namespace flowid::gtest {

using ResolverFactory = std::function<std::unique_ptr<Resolver>()>;

inline fuzz::StrategyUnderTest strategy_of(const std::string& name, ResolverFactory make) {
  fuzz::StrategyUnderTest strategy;
  strategy.name = name;
  strategy.make_resolver = std::move(make);
  return strategy;
}

// Every resolver fixture (*.scenario) in dir, checked with a fresh resolver each; returns one
// line per problem (empty when all pass).
inline std::vector<std::string> check_fixtures(const std::string& dir,
                                               const ResolverFactory& make) {
  std::vector<std::string> problems;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".scenario")
      files.push_back(entry.path());
  }
  if (ec || files.empty()) return {dir + ": no .scenario fixtures found"};
  std::sort(files.begin(), files.end());
  const auto strategy = strategy_of("resolver-under-test", make);
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    std::string error;
    auto parsed = scenario::parse_scenario(text.str(), file.string(), &error);
    if (!parsed) {
      problems.push_back(error);
      continue;
    }
    if (!parsed->rules_file.empty()) {
      RuleError rule_error;
      auto rules = load_rules((file.parent_path() / parsed->rules_file).string(), &rule_error);
      if (!rules) {
        problems.push_back(rule_error.describe());
        continue;
      }
      parsed->rules = std::move(*rules);
    }
    if (parsed->tests_launchers()) continue;
    const fuzz::CaseVerdict verdict = fuzz::check_scenario(*parsed, strategy);
    if (!verdict.ran()) {
      problems.push_back(verdict.error);
    } else if (verdict.failed()) {
      problems.push_back(file.string() + ": violates " + fuzz::format_invariants(verdict.violated) +
                         ": " + verdict.first_violation);
    }
  }
  return problems;
}

// Cases [0, cases) of the fuzzer's run `seed` over every resolver fault; returns one line per
// failing case with its seed and index (empty when the property holds for all of them).
inline std::vector<std::string> check_property(const ResolverFactory& make, uint64_t seed,
                                               uint64_t cases) {
  fuzz::CampaignOptions campaign;
  campaign.strategy = strategy_of("resolver-under-test", make);
  campaign.generator.faults = fuzz::kResolverFaults;
  campaign.seed = seed;
  std::vector<std::string> problems;
  for (uint64_t k = 0; k < cases; ++k) {
    const fuzz::CaseRecord record = fuzz::run_case(campaign, k);
    if (!record.verdict.ran()) {
      problems.push_back("seed " + std::to_string(seed) + " case " + std::to_string(k) +
                         ": did not run: " + record.verdict.error);
    } else if (record.verdict.failed()) {
      problems.push_back("seed " + std::to_string(seed) + " case " + std::to_string(k) +
                         ": violates " + fuzz::format_invariants(record.verdict.violated) + ": " +
                         record.verdict.first_violation +
                         " (reproduce: flowid fuzz --strategy PLUGIN --faults resolver --seed " +
                         std::to_string(seed) + " --case " + std::to_string(k) + ")");
    }
  }
  return problems;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

}  // namespace flowid::gtest

#define FLOWID_EXPECT_FIXTURES_PASS(dir, factory)                                           \
  do {                                                                                      \
    const auto flowid_problems_ = ::flowid::gtest::check_fixtures((dir), (factory));        \
    EXPECT_TRUE(flowid_problems_.empty()) << ::flowid::gtest::join_lines(flowid_problems_); \
  } while (0)

#define FLOWID_EXPECT_PROPERTY_HOLDS(factory, seed, cases)                                     \
  do {                                                                                         \
    const auto flowid_problems_ = ::flowid::gtest::check_property((factory), (seed), (cases)); \
    EXPECT_TRUE(flowid_problems_.empty()) << ::flowid::gtest::join_lines(flowid_problems_);    \
  } while (0)
