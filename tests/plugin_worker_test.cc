// Plugin isolation (plugin/pool.h): a plugin in a worker process answers exactly as in flowid's
// process, call by call and whole case at a time; a crash or hang is a finding, the run goes on
// with a new worker; each test makes its own WorkerPool.
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <thread>
#include <vector>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"
#include "plugin/loader.h"
#include "plugin/pool.h"
#include "plugin/worker.h"
#include "tests/fake_seam.h"

namespace flowid {
namespace {

const std::string kMine = FLOWID_PLUGIN_MINE;
const std::string kBuggy = FLOWID_PLUGIN_BUGGY;
const std::string kDeciding = FLOWID_PLUGIN_DECIDING;
const std::string kAllowAll = FLOWID_PLUGIN_ALLOW_ALL;
const std::string kBadDecide = FLOWID_PLUGIN_BAD_DECIDE;
const std::string kCounting = FLOWID_PLUGIN_COUNTING;
const std::string kCrashing = FLOWID_PLUGIN_CRASHING;
const std::string kHanging = FLOWID_PLUGIN_HANGING;
const std::string kLaunching = FLOWID_PLUGIN_LAUNCHING;
const std::string kLaunchToctou = FLOWID_PLUGIN_LAUNCH_TOCTOU;

std::shared_ptr<const plugin::PluginModule> load(const std::string& file) {
  std::string error;
  auto module = plugin::load_plugin(file, &error);
  EXPECT_NE(module, nullptr) << error;
  return module;
}

// A campaign over a plugin: in process (pool null) or in pool's workers.
fuzz::CampaignOptions campaign(const std::string& file, plugin::WorkerPool* pool, bool launcher,
                               uint64_t seed) {
  std::string error;
  auto strategy =
      launcher ? launcher_strategy_for(file, pool, &error) : strategy_for(file, pool, &error);
  EXPECT_TRUE(strategy) << error;
  fuzz::CampaignOptions options;
  options.strategy = *strategy;
  options.seed = seed;
  return options;
}

// Every verdict through a worker equals the in-process one: 300 generated cases per plugin give
// the same digest (events, lookups, verdicts, findings) in process, whole case in a worker and
// call by call in a worker; each pool starts one worker for the whole run.
TEST(PluginWorker, WholeCasesAndCallByCallAnswerLikeInProcess) {
  struct Plugin {
    std::string file;
    bool launcher;
    bool must_fail;
  };
  for (const Plugin& p : {Plugin{kMine, false, false}, Plugin{kBuggy, false, true},
                          Plugin{kDeciding, false, false}, Plugin{kAllowAll, false, true},
                          Plugin{kLaunching, true, false}, Plugin{kLaunchToctou, true, true}}) {
    plugin::WorkerPool whole;
    plugin::IsolationOptions by_call_options;
    by_call_options.whole_cases = false;
    plugin::WorkerPool by_call(by_call_options);
    const auto direct_run = campaign(p.file, nullptr, p.launcher, 11);
    const auto whole_run = campaign(p.file, &whole, p.launcher, 11);
    const auto by_call_run = campaign(p.file, &by_call, p.launcher, 11);
    ASSERT_TRUE(whole_run.strategy.check_elsewhere);
    ASSERT_FALSE(by_call_run.strategy.check_elsewhere);
    int failing = 0;
    for (uint64_t k = 0; k < 300; ++k) {
      const auto want = fuzz::run_case(direct_run, k).verdict;
      const auto a = fuzz::run_case(whole_run, k).verdict;
      const auto b = fuzz::run_case(by_call_run, k).verdict;
      ASSERT_TRUE(want.ran()) << want.error;
      ASSERT_EQ(a.digest, want.digest)
          << p.file << " case " << k << ": " << a.first_violation << " | " << want.first_violation;
      ASSERT_EQ(b.digest, want.digest) << p.file << " case " << k;
      EXPECT_EQ(a.violated, want.violated) << p.file << " case " << k;
      EXPECT_EQ(a.first_violation, want.first_violation) << p.file << " case " << k;
      EXPECT_EQ(a.cell, want.cell) << p.file << " case " << k;
      EXPECT_EQ(a.event_count, want.event_count) << p.file << " case " << k;
      failing += want.failed();
    }
    EXPECT_EQ(whole.workers_started(), 1u) << p.file;
    EXPECT_EQ(whole.whole_cases_checked(), 300u) << p.file;
    EXPECT_EQ(by_call.workers_started(), 1u) << p.file;
    EXPECT_EQ(by_call.whole_cases_checked(), 0u) << p.file;
    if (p.must_fail) {
      EXPECT_GT(failing, 0) << p.file;
    }
  }
}

// Cases sent in batches give the verdicts of single cases; a batch in which one case crashes the
// worker (bad_decide crashes deciding an even flow) gives each case its own verdict again, the
// crashing ones found call by call.
TEST(PluginWorker, BatchesAnswerLikeSingleCases) {
  for (const std::string& file : {kBuggy, kBadDecide}) {
    auto module = load(file);
    ASSERT_NE(module, nullptr);
    plugin::WorkerPool pool;
    // The reference: call by call in a worker (bad_decide would crash this process).
    plugin::IsolationOptions by_call_options;
    by_call_options.whole_cases = false;
    plugin::WorkerPool by_call_pool(by_call_options);
    const auto direct = campaign(file, &by_call_pool, false, 21);
    std::vector<scenario::Scenario> scenarios;
    std::vector<fuzz::CaseVerdict> want;
    for (uint64_t k = 0; k < 64; ++k) {
      auto record = fuzz::run_case(direct, k);
      scenarios.push_back(record.generated.scenario);
      want.push_back(record.verdict);
    }
    const auto by_call = campaign(file, &pool, false, 21);
    int crashed = 0;
    for (std::size_t first = 0; first < scenarios.size(); first += 16) {
      const auto got =
          pool.check_cases(module, std::span(scenarios).subspan(first, 16), false, OracleOptions{});
      ASSERT_EQ(got.size(), 16u);
      for (std::size_t i = 0; i < got.size(); ++i) {
        const std::size_t k = first + i;
        // nullopt: a crashing case, which check_scenario then checks call by call.
        crashed += !got[i];
        const fuzz::CaseVerdict verdict =
            got[i] ? *got[i] : fuzz::check_scenario(scenarios[k], by_call.strategy);
        EXPECT_EQ(verdict.digest, want[k].digest)
            << file << " case " << k << ": " << verdict.first_violation;
        EXPECT_EQ(verdict.first_violation, want[k].first_violation) << file << " case " << k;
      }
    }
    EXPECT_GT(pool.whole_cases_checked(), 0u) << file;
    EXPECT_EQ(pool.whole_cases_checked() + static_cast<uint64_t>(crashed), scenarios.size())
        << file;
    if (file == kBadDecide) {
      EXPECT_GT(crashed, 0);
    }
  }
}

// The fuzz campaign's batches (fuzz::run_cases): the records of run_case, case by case, for a
// plugin whose worker generates and checks the cases itself (only the batch's parameters are
// sent), for one whose worker is sent the scenarios, and for one checked here. A passing case
// generated in the worker comes back without its scenario (its verdict and faults are all the
// campaign uses); a failing one carries it, for the shrinker.
TEST(PluginWorker, RunCasesGivesTheRecordsOfRunCase) {
  plugin::WorkerPool pool;
  const auto generated_run = campaign(kBuggy, &pool, false, 9);
  ASSERT_TRUE(generated_run.strategy.generate_elsewhere);
  const auto sent_run = [&] {
    auto o = generated_run;
    o.strategy.generate_elsewhere = nullptr;
    return o;
  }();
  const auto direct = campaign(kBuggy, nullptr, false, 9);
  int failing = 0;
  for (const auto* options : {&generated_run, &sent_run, &direct}) {
    const auto records = fuzz::run_cases(*options, 30, 40);
    ASSERT_EQ(records.size(), 40u);
    for (uint64_t i = 0; i < 40; ++i) {
      const auto want = fuzz::run_case(direct, 30 + i);
      EXPECT_EQ(records[i].index, 30 + i);
      EXPECT_EQ(records[i].seed, want.seed);
      EXPECT_EQ(records[i].verdict.digest, want.verdict.digest) << "case " << 30 + i;
      EXPECT_EQ(records[i].verdict.first_violation, want.verdict.first_violation);
      EXPECT_EQ(records[i].generated.enabled, want.generated.enabled) << "case " << 30 + i;
      EXPECT_EQ(records[i].generated.injected, want.generated.injected) << "case " << 30 + i;
      const bool scenario_kept = options != &generated_run || want.verdict.failed();
      failing += options == &generated_run && want.verdict.failed();
      if (scenario_kept) {
        EXPECT_EQ(scenario::format_scenario(records[i].generated.scenario),
                  scenario::format_scenario(want.generated.scenario))
            << "case " << 30 + i;
      } else {
        EXPECT_TRUE(records[i].generated.scenario.steps.empty()) << "case " << 30 + i;
      }
    }
  }
  EXPECT_GT(failing, 0) << "the buggy plugin fails some of these cases";
  EXPECT_EQ(pool.whole_cases_checked(), 80u);  // 40 generated there, 40 sent
}

// A generated batch whose worker crashes (bad_decide crashes deciding an even flow): each case is
// asked again on its own, the crashing ones run call by call here, and every record is the one a
// call-by-call run gives.
TEST(PluginWorker, ACrashInAGeneratedBatchLeavesOnlyThatCaseCallByCall) {
  plugin::WorkerPool pool;
  plugin::IsolationOptions by_call_options;
  by_call_options.whole_cases = false;
  plugin::WorkerPool by_call_pool(by_call_options);
  const auto generated_run = campaign(kBadDecide, &pool, false, 21);
  const auto by_call = campaign(kBadDecide, &by_call_pool, false, 21);
  const auto records = fuzz::run_cases(generated_run, 0, 16);
  ASSERT_EQ(records.size(), 16u);
  for (uint64_t k = 0; k < 16; ++k) {
    const auto want = fuzz::run_case(by_call, k);
    EXPECT_EQ(records[k].verdict.digest, want.verdict.digest) << "case " << k;
    EXPECT_EQ(records[k].verdict.first_violation, want.verdict.first_violation) << "case " << k;
  }
  // Some cases answered whole (asked one by one after the batch crashed), the others not.
  EXPECT_GT(pool.whole_cases_checked(), 0u);
  EXPECT_LT(pool.whole_cases_checked(), 16u);
}

// A plugin that crashes on every flow: the whole case dies in its worker, the case is checked
// again call by call (each flow's crash an I7 finding naming the flow), and the verdict is the
// call-by-call one; the next case goes on with new workers.
TEST(PluginWorker, ACrashInAWholeCaseIsFoundCallByCall) {
  plugin::WorkerPool whole;
  plugin::IsolationOptions by_call_options;
  by_call_options.whole_cases = false;
  plugin::WorkerPool by_call(by_call_options);
  const auto whole_run = campaign(kCrashing, &whole, false, 3);
  const auto by_call_run = campaign(kCrashing, &by_call, false, 3);
  for (uint64_t k = 0; k < 5; ++k) {
    const auto a = fuzz::run_case(whole_run, k).verdict;
    const auto b = fuzz::run_case(by_call_run, k).verdict;
    ASSERT_TRUE(a.ran()) << a.error;
    EXPECT_EQ(a.digest, b.digest) << "case " << k;
    EXPECT_NE(a.violated & fuzz::invariant_bit(Invariant::kI7Totality), 0) << "case " << k;
    EXPECT_NE(a.first_violation.find("crashed with signal"), std::string::npos)
        << a.first_violation;
    EXPECT_NE(a.first_violation.find("resolving flow "), std::string::npos) << a.first_violation;
  }
  EXPECT_GT(whole.workers_started(), 5u);
  EXPECT_EQ(whole.whole_cases_checked(), 0u);
}

// A plugin that never returns: the whole case is killed at the time limit and checked again call
// by call, which names the flow that hung.
TEST(PluginWorker, AHangInAWholeCaseIsFoundCallByCall) {
  plugin::IsolationOptions options;
  options.call_timeout_ms = 200;
  plugin::WorkerPool whole(options);
  const auto run = campaign(kHanging, &whole, false, 3);
  const auto verdict = fuzz::run_case(run, 0).verdict;
  ASSERT_TRUE(verdict.ran()) << verdict.error;
  EXPECT_NE(verdict.violated & fuzz::invariant_bit(Invariant::kI7Totality), 0);
  EXPECT_NE(verdict.first_violation.find("hung: no answer for flow "), std::string::npos)
      << verdict.first_violation;
  EXPECT_NE(verdict.first_violation.find("within 200 ms (killed)"), std::string::npos)
      << verdict.first_violation;
}

// The same through the campaign's generated batches: the hanging case is found call by call,
// which names the flow.
TEST(PluginWorker, AHangInAGeneratedBatchIsFoundCallByCall) {
  plugin::IsolationOptions options;
  options.call_timeout_ms = 200;
  plugin::WorkerPool pool(options);
  const auto run = campaign(kHanging, &pool, false, 3);
  ASSERT_TRUE(run.strategy.generate_elsewhere);
  const auto records = fuzz::run_cases(run, 0, 2);
  ASSERT_EQ(records.size(), 2u);
  for (const auto& record : records) {
    ASSERT_TRUE(record.verdict.ran()) << record.verdict.error;
    EXPECT_NE(record.verdict.first_violation.find("hung: no answer for flow "), std::string::npos)
        << record.verdict.first_violation;
  }
  EXPECT_EQ(pool.whole_cases_checked(), 0u);
}

// Fuzz threads share one pool: each concurrent case binds its own worker (started by the fork
// server, not forked from the thread), and the verdicts are those of a sequential run.
TEST(PluginWorker, ThreadsShareAPool) {
  plugin::WorkerPool pool;
  const auto run = campaign(kBuggy, &pool, false, 5);
  const auto direct = campaign(kBuggy, nullptr, false, 5);
  constexpr uint64_t kCases = 200;
  std::vector<uint64_t> digests(kCases);
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t k = t; k < kCases; k += 2) digests[k] = fuzz::run_case(run, k).verdict.digest;
    });
  }
  for (auto& thread : threads) thread.join();
  for (uint64_t k = 0; k < kCases; ++k)
    EXPECT_EQ(digests[k], fuzz::run_case(direct, k).verdict.digest) << k;
  EXPECT_EQ(pool.whole_cases_checked(), kCases);
  EXPECT_GE(pool.workers_started(), 1u);
  EXPECT_LE(pool.workers_started(), 2u);
}

// Instances live in the worker: each resolver keeps its own state there, also when resolvers
// share a worker (max_workers 1), and a fresh resolver starts from a fresh instance.
TEST(PluginWorker, InstancesSharingAWorkerKeepTheirOwnState) {
  auto module = load(kCounting);
  ASSERT_NE(module, nullptr);
  plugin::IsolationOptions shared_options;
  shared_options.max_workers = 1;
  plugin::WorkerPool shared(shared_options);
  testing::ScriptedSeam seam({});
  const Flow flow = Flow{};
  auto a = plugin::make_plugin_resolver(module, &shared);
  auto b = plugin::make_plugin_resolver(module, &shared);
  EXPECT_EQ(a->resolve(flow, 0, seam).method, "call-1");
  EXPECT_EQ(a->resolve(flow, 0, seam).method, "call-2");
  EXPECT_EQ(b->resolve(flow, 0, seam).method, "call-1");
  EXPECT_EQ(a->resolve(flow, 0, seam).method, "call-3");
  EXPECT_EQ(b->resolve(flow, 0, seam).method, "call-2");
  a.reset();
  auto c = plugin::make_plugin_resolver(module, &shared);
  EXPECT_EQ(c->resolve(flow, 0, seam).method, "call-1");
  EXPECT_EQ(b->resolve(flow, 0, seam).method, "call-3");
  EXPECT_EQ(shared.workers_started(), 1u);

  // Without the limit, a second live resolver gets a worker of its own.
  plugin::WorkerPool separate;
  auto d = plugin::make_plugin_resolver(module, &separate);
  auto e = plugin::make_plugin_resolver(module, &separate);
  EXPECT_EQ(d->resolve(flow, 0, seam).method, "call-1");
  EXPECT_EQ(e->resolve(flow, 0, seam).method, "call-1");
  EXPECT_EQ(separate.workers_started(), 2u);
}

// After a crash the resolver goes on with a new worker and a fresh instance; the crash itself is
// the exception the oracle turns into I7. A resolver outlives the pool object it came from.
TEST(PluginWorker, ACrashEndsOnlyThatCall) {
  auto module = load(kBadDecide);
  ASSERT_NE(module, nullptr);
  auto pool = std::make_unique<plugin::WorkerPool>();
  auto resolver = plugin::make_plugin_resolver(module, pool.get());
  Flow odd;
  odd.flow_id = 1;
  Flow even;
  even.flow_id = 2;
  const Attribution unknown;
  EXPECT_THROW((void)resolver->decide(odd, unknown), std::runtime_error);  // decision 7: no crash.
  try {
    (void)resolver->decide(even, unknown);
    ADD_FAILURE() << "decide on an even flow must crash the worker";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("crashed with signal"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("deciding flow 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool->workers_started(), 1u);
  pool.reset();
  try {
    (void)resolver->decide(odd, unknown);
    ADD_FAILURE() << "decision 7 must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("decide answered decision 7 for flow 1"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace flowid
