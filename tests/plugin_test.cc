// Resolver plugins (include/flowid/plugin.h) as a user meets them: the example plugins from
// examples/ are built with the project, loaded through the real CLI (replay, fuzz, matrix) and
// in-process through the loader. The good example must pass where token+recheck passes; the
// deliberately buggy one must be caught; broken plugins must give clear errors, not crashes.
#include <flowid/gtest.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"
#include "harness/strategies/catalog.h"
#include "plugin/loader.h"
#include "plugin/pool.h"
#include "replay/scenario_files.h"
#include "tests/cli_runner.h"
#include "tests/fake_seam.h"

namespace flowid {
namespace {

// Under AddressSanitizer every intended plugin crash is an ASan report, symbolized by an external
// process: seconds each, minutes for a fuzz run whose every case crashes. For the flowid children
// of one test, reports are left unsymbolized (the crash is expected; its stack is not the point).
class UnsymbolizedCrashes {
 public:
  UnsymbolizedCrashes() {
    const char* current = std::getenv("ASAN_OPTIONS");
    had_ = current != nullptr;
    if (had_) saved_ = current;
    ::setenv("ASAN_OPTIONS",
             (saved_.empty() ? std::string() : saved_ + ":").append("symbolize=0").c_str(), 1);
  }
  ~UnsymbolizedCrashes() {
    if (had_) {
      ::setenv("ASAN_OPTIONS", saved_.c_str(), 1);
    } else {
      ::unsetenv("ASAN_OPTIONS");
    }
  }
  UnsymbolizedCrashes(const UnsymbolizedCrashes&) = delete;
  UnsymbolizedCrashes& operator=(const UnsymbolizedCrashes&) = delete;

 private:
  bool had_ = false;
  std::string saved_;
};

using testing::run_flowid;
using testing::TempDir;

const std::string kMine = FLOWID_PLUGIN_MINE;
const std::string kBuggy = FLOWID_PLUGIN_BUGGY;
const std::string kWrongAbi = FLOWID_PLUGIN_WRONG_ABI;
const std::string kCrashing = FLOWID_PLUGIN_CRASHING;
const std::string kHanging = FLOWID_PLUGIN_HANGING;
const std::string kLooping = FLOWID_PLUGIN_LOOPING;
const std::string kDeciding = FLOWID_PLUGIN_DECIDING;
const std::string kAllowAll = FLOWID_PLUGIN_ALLOW_ALL;
const std::string kBadDecide = FLOWID_PLUGIN_BAD_DECIDE;
const std::string kLaunching = FLOWID_PLUGIN_LAUNCHING;
const std::string kLaunchToctou = FLOWID_PLUGIN_LAUNCH_TOCTOU;
const std::string kCrashingLaunch = FLOWID_PLUGIN_CRASHING_LAUNCH;
const std::string kCounting = FLOWID_PLUGIN_COUNTING;

std::string fixtures_dir() { return std::string(FLOWID_SOURCE_DIR) + "/fixtures/scenarios"; }

// Compiles every bundled fixture into dir (as `flowid fixture build` does for a user) and
// returns the trace paths.
std::vector<std::string> build_fixture_traces(const TempDir& dir) {
  std::vector<std::string> args = {"fixture", "build", "-o", dir.path().string()};
  for (const auto& file : replay::scenario_files(fixtures_dir())) args.push_back(file);
  auto r = run_flowid(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> traces;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".trace") traces.push_back(entry.path().string());
  }
  std::sort(traces.begin(), traces.end());
  return traces;
}

std::vector<std::string> concat(std::vector<std::string> head,
                                const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// The arguments of the first "reproduce: flowid ..." line in a fuzz report (empty when none).
std::vector<std::string> reproduce_args(const std::string& out) {
  const std::string marker = "reproduce: flowid ";
  const auto at = out.find(marker);
  if (at == std::string::npos) return {};
  std::string line = out.substr(at + marker.size());
  line = line.substr(0, line.find('\n'));
  std::vector<std::string> args;
  for (std::size_t start = 0; start < line.size();) {
    auto end = line.find(' ', start);
    if (end == std::string::npos) end = line.size();
    args.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Through the CLI.

TEST(PluginCli, GoodPluginPassesModelReplayWhereTokenRecheckPasses) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  ASSERT_FALSE(traces.empty());
  auto reference =
      run_flowid(concat({"replay", "--mode", "model", "--resolver", "token+recheck"}, traces));
  ASSERT_EQ(reference.exit_code, 0) << reference.out << reference.err;
  auto mine = run_flowid(concat({"replay", "--mode", "model", "--resolver", kMine}, traces));
  EXPECT_EQ(mine.exit_code, 0) << mine.out << mine.err;
  EXPECT_NE(mine.out.find(std::to_string(traces.size()) + " passed, 0 failed"), std::string::npos)
      << mine.out;
}

TEST(PluginCli, BuggyPluginIsCaughtByModelReplay) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto r = run_flowid(concat({"replay", "--mode", "model", "--resolver", kBuggy}, traces));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("I1 violation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("I4 violation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("method pid-path"), std::string::npos) << r.out;
}

TEST(PluginCli, BuggyPluginIsCaughtByTheFuzzerWithAReproduceCommand) {
  TempDir dir;
  auto r = run_flowid({"fuzz", "--resolver", kBuggy, "--budget", "500", "--seed", "7", "--out",
                       dir.file("out"), "--no-default-corpus"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("I1 violation"), std::string::npos) << r.out;
  const std::string reproduce = "reproduce: flowid fuzz --strategy " + kBuggy;
  ASSERT_NE(r.out.find(reproduce), std::string::npos) << r.out;

  // The printed command reproduces the finding on its own.
  auto args = reproduce_args(r.out);
  auto again = run_flowid(args);
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
}

TEST(PluginCli, GoodPluginSurvivesABoundedFuzzRun) {
  TempDir dir;
  auto r = run_flowid(
      {"fuzz", "--resolver", kMine, "--budget", "500", "--seed", "7", "--out", dir.file("out")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(PluginCli, MatrixRunsAPluginRowAndFailsTheBuggyOne) {
  auto mine = run_flowid({"matrix", "--resolver", kMine});
  EXPECT_EQ(mine.exit_code, 0) << mine.out << mine.err;
  EXPECT_NE(mine.out.find(kMine), std::string::npos) << mine.out;
  auto buggy = run_flowid({"matrix", "--resolver", kBuggy});
  EXPECT_EQ(buggy.exit_code, 1) << buggy.out << buggy.err;
  EXPECT_NE(buggy.err.find("is BYPASSED"), std::string::npos) << buggy.err;
}

TEST(PluginCli, WrongAbiIsAClearInputError) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto r = run_flowid({"replay", "--mode", "model", "--resolver", kWrongAbi, traces.front()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find(kWrongAbi + ": plugin ABI 2, this flowid speaks 1"), std::string::npos)
      << r.err;
}

TEST(PluginCli, MissingAndNonPluginFilesAreClearInputErrors) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto missing = run_flowid({"replay", "--resolver", dir.file("libnothere.so"), traces.front()});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_NE(missing.err.find("libnothere.so: no such plugin file"), std::string::npos)
      << missing.err;

  auto not_elf = run_flowid({"replay", "--resolver", traces.front(), traces.front()});
  EXPECT_EQ(not_elf.exit_code, 3) << not_elf.err;
  EXPECT_NE(not_elf.err.find("cannot load plugin"), std::string::npos) << not_elf.err;

  auto fuzz_missing =
      run_flowid({"fuzz", "--resolver", dir.file("libnothere.so"), "--budget", "10"});
  EXPECT_NE(fuzz_missing.exit_code, 0);
  EXPECT_NE(fuzz_missing.err.find("no such plugin file"), std::string::npos) << fuzz_missing.err;
}

// A plugin that crashes is a finding against the trace and flow that made it crash; flowid
// itself finishes and reports.
TEST(PluginCli, CrashingPluginIsAnI7FindingPerTrace) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto r = run_flowid(concat({"replay", "--mode", "model", "--resolver", kCrashing}, traces));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("I7 violation flow 1: resolver 'crashing' threw plugin " + kCrashing +
                       " crashed with signal"),
            std::string::npos)
      << r.out;
  // Every trace with a flow fails on its own (launcher-only fixtures have none to resolve).
  std::size_t failed_traces = 0;
  for (std::size_t at = r.out.find("  FAIL  "); at != std::string::npos;
       at = r.out.find("  FAIL  ", at + 1)) {
    ++failed_traces;
  }
  EXPECT_GE(failed_traces, traces.size() - 1) << r.out;
}

TEST(PluginCli, CrashingPluginUnderTheFuzzerGetsAReproduceCommand) {
  UnsymbolizedCrashes unsymbolized;
  TempDir dir;
  // A plugin that crashes on every case makes every shrink candidate a crash (a new worker and,
  // under AddressSanitizer, a symbolized report each): a small shrink budget keeps this fast.
  auto r = run_flowid({"fuzz", "--resolver", kCrashing, "--budget", "20", "--seed", "3",
                       "--shrink-runs", "30", "--out", dir.file("out"), "--no-default-corpus"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // SIGSEGV (11) normally; under AddressSanitizer the crash becomes ASan's abort (6).
  EXPECT_NE(r.out.find("crashed with signal"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reproduce: flowid fuzz --strategy " + kCrashing), std::string::npos)
      << r.out;
}

TEST(PluginCli, HangingPluginIsKilledAndReported) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  ::setenv("FLOWID_PLUGIN_TIMEOUT_MS", "200", 1);  // inherited by the flowid child.
  auto r = run_flowid({"replay", "--mode", "model", "--resolver", kHanging, traces.front()});
  ::unsetenv("FLOWID_PLUGIN_TIMEOUT_MS");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("hung: no answer for flow 1 within 200 ms (killed)"), std::string::npos)
      << r.out;
}

// The oracle's bound on seam calls per flow reaches a plugin as FLOWID_KERN_ABORTED answers (no
// C++ exception crosses its C frames) and is reported as I7.
TEST(PluginCli, SeamCallBoundStopsALoopingPlugin) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto r = run_flowid({"replay", "--mode", "model", "--resolver", kLooping, traces.front()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("I7 violation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("seam calls for one flow"), std::string::npos) << r.out;
}

TEST(PluginCli, MatrixReportsACrashingPlugin) {
  auto r = run_flowid({"matrix", "--resolver", kCrashing});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("is CRASHED"), std::string::npos) << r.err;
}

TEST(PluginCli, UnknownNameStillListsTheStrategies) {
  auto r = run_flowid({"replay", "--resolver", "no-such-strategy", "x.trace"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("token+recheck"), std::string::npos) << r.err;
}

// A crash in faithful replay (answers from the recording, no oracle run) is still a finding for
// the trace and flow, not an internal error of flowid.
TEST(PluginCli, CrashingPluginInFaithfulReplayIsAFindingNotAnInternalError) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto r = run_flowid({"replay", "--resolver", kCrashing, traces.front()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("I7 violation flow 1: resolver 'crashing' threw plugin " + kCrashing +
                       " crashed with signal"),
            std::string::npos)
      << r.out;
}

// --golden DIR names each trace's golden file TRACE-STEM.RESOLVER.golden; for a plugin RESOLVER is
// the library's file stem, so a plugin path (with its '/') never becomes part of the file name.
TEST(PluginCli, GoldenDirectoryNamesAPluginByItsFileStem) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  ASSERT_FALSE(traces.empty());
  const std::string golden = dir.file("golden");
  std::filesystem::create_directories(golden);
  for (const std::string mode : {"model", "faithful"}) {
    auto update = run_flowid(concat(
        {"replay", "--mode", mode, "--resolver", kMine, "--golden", golden, "--update-golden"},
        traces));
    EXPECT_EQ(update.exit_code, 0) << update.out << update.err;
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(golden)) {
      EXPECT_TRUE(entry.is_regular_file()) << entry.path();
      EXPECT_EQ(entry.path().parent_path(), std::filesystem::path(golden)) << entry.path();
      ++files;
    }
    EXPECT_EQ(files, traces.size());
    for (const auto& trace : traces) {
      const std::string expected =
          golden + "/" + std::filesystem::path(trace).stem().string() + ".libmine.golden";
      EXPECT_TRUE(std::filesystem::exists(expected)) << expected << "\n" << update.out;
    }
    // And the replay reads them back: the same plugin reproduces its goldens.
    auto check = run_flowid(
        concat({"replay", "--mode", mode, "--resolver", kMine, "--golden", golden}, traces));
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_NE(check.out.find(std::to_string(traces.size()) + " passed, 0 failed"),
              std::string::npos)
        << check.out;
  }
  // A reference strategy keeps its name.
  EXPECT_EQ(plugin::file_safe_name("token+recheck"), "token+recheck");
  EXPECT_EQ(plugin::file_safe_name("./build/libmine.so"), "libmine");
  EXPECT_EQ(plugin::file_safe_name("/opt/x/libmine.dylib"), "libmine");
}

// Isolation off (FLOWID_PLUGIN_ISOLATION=0) runs the plugin in flowid's process and gives the same
// results; on, several fuzz threads each get a worker and the run is still deterministic.
TEST(PluginCli, IsolationOffAndSeveralFuzzThreadsGiveTheSameResults) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto isolated =
      run_flowid(concat({"replay", "--mode", "model", "--json", "--resolver", kBuggy}, traces));
  ::setenv("FLOWID_PLUGIN_ISOLATION", "0", 1);  // inherited by the flowid child.
  auto in_process =
      run_flowid(concat({"replay", "--mode", "model", "--json", "--resolver", kBuggy}, traces));
  ::unsetenv("FLOWID_PLUGIN_ISOLATION");
  EXPECT_EQ(isolated.exit_code, 1) << isolated.err;
  EXPECT_EQ(in_process.exit_code, 1) << in_process.err;
  EXPECT_EQ(isolated.out, in_process.out);

  auto threads = run_flowid({"fuzz", "--resolver", kMine, "--jobs", "2", "--budget", "400",
                             "--seed", "7", "--out", dir.file("out")});
  EXPECT_EQ(threads.exit_code, 0) << threads.out << threads.err;
  EXPECT_NE(threads.out.find("0 digest mismatches"), std::string::npos) << threads.out;
}

// ---- decide: the plugin's own verdicts.

// The deciding plugin drops what it cannot verify and leaves verified flows to the rules: model
// replay shows its decisions as the verdicts and the oracle finds nothing wrong with them.
TEST(PluginDecide, OwnVerdictsReachReplayAndPassTheOracle) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto model = run_flowid(concat({"replay", "--mode", "model", "--resolver", kDeciding}, traces));
  EXPECT_EQ(model.exit_code, 0) << model.out << model.err;

  // The verdicts as a golden file shows them: the plugin's drops name it as the deciding rule,
  // verified flows keep the rule file's rule.
  std::string session;
  for (const auto& t : traces) {
    if (t.find("seed000_extension_session") != std::string::npos) session = t;
  }
  ASSERT_FALSE(session.empty());
  const std::string golden = dir.file("session.golden");
  auto update = run_flowid({"replay", "--mode", "model", "--resolver", kDeciding, "--golden",
                            golden, "--update-golden", session});
  ASSERT_EQ(update.exit_code, 0) << update.out << update.err;
  std::ifstream in(golden);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_GT(count_of(text, ": drop unknown [unknown] rule=decide:deciding"), 0u) << text;
  EXPECT_EQ(
      count_of(text, "rule=decide:deciding"),
      count_of(text, " unverified [") + count_of(text, " gone [") + count_of(text, " unknown ["))
      << text;
  EXPECT_GT(count_of(text, "flow "), count_of(text, "rule=decide:deciding")) << text;

  // Faithful replay compares with what the recording's strategy decided: the plugin's drops of
  // unverified flows (the fixtures' policy asks) show up as differences naming the decision.
  auto faithful = run_flowid(concat({"replay", "--resolver", kDeciding}, traces));
  EXPECT_EQ(faithful.exit_code, 1) << faithful.out << faithful.err;
  EXPECT_NE(faithful.out.find("decision ask -> drop"), std::string::npos) << faithful.out;
}

// A decide that lets everything through is the fail-open bug: the oracle still judges the
// verdict, in replay, in the matrix and under the fuzzer (with a reproduce command that works).
TEST(PluginDecide, FailOpenDecisionsAreCaughtEverywhere) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  auto replay = run_flowid(concat({"replay", "--mode", "model", "--resolver", kAllowAll}, traces));
  EXPECT_EQ(replay.exit_code, 1) << replay.out << replay.err;
  EXPECT_NE(replay.out.find("I4 violation"), std::string::npos) << replay.out;
  EXPECT_NE(replay.out.find("allowed by 'decide:allow-all'"), std::string::npos) << replay.out;

  auto matrix = run_flowid({"matrix", "--resolver", kAllowAll});
  EXPECT_EQ(matrix.exit_code, 1) << matrix.out << matrix.err;
  EXPECT_NE(matrix.err.find("plugin " + kAllowAll + " is BYPASSED"), std::string::npos)
      << matrix.err;

  auto fuzz = run_flowid({"fuzz", "--resolver", kAllowAll, "--budget", "300", "--seed", "3",
                          "--out", dir.file("out"), "--no-default-corpus"});
  EXPECT_EQ(fuzz.exit_code, 1) << fuzz.out << fuzz.err;
  EXPECT_NE(fuzz.out.find("allowed by 'decide:allow-all'"), std::string::npos) << fuzz.out;
  auto args = reproduce_args(fuzz.out);
  ASSERT_FALSE(args.empty()) << fuzz.out;
  auto again = run_flowid(args);
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
}

// A decide that answers an invalid decision, or crashes, is an I7 finding for the flow it was
// deciding; flowid neither acts on the bad value nor dies.
TEST(PluginDecide, InvalidAndCrashingDecisionsAreI7FindingsPerFlow) {
  TempDir dir;
  auto traces = build_fixture_traces(dir);
  std::vector<std::string> session;
  for (const auto& t : traces) {
    if (t.find("seed000_extension_session") != std::string::npos) session.push_back(t);
  }
  ASSERT_EQ(session.size(), 1u);
  auto r = run_flowid(concat({"replay", "--mode", "model", "--resolver", kBadDecide}, session));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("I7 violation flow 1: resolver 'bad-decide' decide threw " + kBadDecide +
                       ": decide answered decision 7 for flow 1"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("I7 violation flow 2: resolver 'bad-decide' decide threw plugin " +
                       kBadDecide + " crashed with signal"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("deciding flow 2"), std::string::npos) << r.out;
  // Every flow after a crash is still handled (by a new worker), each reported on its own.
  for (int flow = 3; flow <= 7; ++flow) {
    const std::string expected = flow % 2 == 0
                                     ? fmt::format("crashed with signal")
                                     : fmt::format("decide answered decision 7 for flow {}", flow);
    EXPECT_NE(
        r.out.find(fmt::format("I7 violation flow {}: resolver 'bad-decide' decide threw", flow)),
        std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
  }
  EXPECT_NE(r.out.find("deciding flow 6"), std::string::npos) << r.out;
}

// ---- launch: the plugin as a launcher.

TEST(PluginLaunch, MatrixAddsALauncherRowForAPluginWithLaunch) {
  auto good = run_flowid({"matrix", "--resolver", kLaunching});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_NE(good.out.find("| " + kLaunching + " (launcher) |"), std::string::npos) << good.out;
  EXPECT_NE(good.out.find("correct (f11-launch-toctou)"), std::string::npos) << good.out;

  auto toctou = run_flowid({"matrix", "--launcher", kLaunchToctou});
  EXPECT_EQ(toctou.exit_code, 1) << toctou.out << toctou.err;
  EXPECT_NE(
      toctou.err.find("f11-launch-toctou: plugin " + kLaunchToctou + " (launcher) is BYPASSED"),
      std::string::npos)
      << toctou.err;

  auto crashing = run_flowid({"matrix", "--launcher", kCrashingLaunch});
  EXPECT_EQ(crashing.exit_code, 1) << crashing.out << crashing.err;
  EXPECT_NE(crashing.err.find("(launcher) is CRASHED"), std::string::npos) << crashing.err;

  // A plugin without a launch entry is not a launcher.
  auto mine = run_flowid({"matrix", "--launcher", kMine});
  EXPECT_EQ(mine.exit_code, 3) << mine.out << mine.err;
  EXPECT_NE(mine.err.find(kMine + ": not a launcher plugin"), std::string::npos) << mine.err;
}

TEST(PluginLaunch, FuzzerFindsTheToctouLauncherAndPassesTheSoundOne) {
  TempDir dir;
  auto toctou = run_flowid({"fuzz", "--launcher", kLaunchToctou, "--budget", "300", "--seed", "5",
                            "--out", dir.file("out"), "--no-default-corpus"});
  EXPECT_EQ(toctou.exit_code, 1) << toctou.out << toctou.err;
  EXPECT_NE(toctou.out.find("I5 violation"), std::string::npos) << toctou.out;
  auto args = reproduce_args(toctou.out);
  ASSERT_FALSE(args.empty()) << toctou.out;
  EXPECT_NE(std::find(args.begin(), args.end(), "--launcher"), args.end()) << toctou.out;
  auto again = run_flowid(args);
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;

  auto sound = run_flowid({"fuzz", "--launcher", kLaunching, "--budget", "300", "--seed", "5",
                           "--out", dir.file("out2")});
  EXPECT_EQ(sound.exit_code, 0) << sound.out << sound.err;
}

TEST(PluginLaunch, CrashingLaunchIsAnI7FindingWithAReproduceCommand) {
  UnsymbolizedCrashes unsymbolized;
  TempDir dir;
  auto r = run_flowid({"fuzz", "--launcher", kCrashingLaunch, "--budget", "20", "--seed", "3",
                       "--shrink-runs", "30", "--out", dir.file("out"), "--no-default-corpus"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("launcher 'crashing-launch' threw plugin " + kCrashingLaunch +
                       " crashed with signal"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("reproduce: flowid fuzz --launcher " + kCrashingLaunch), std::string::npos)
      << r.out;
}

// The user's path end to end: install flowid, build examples/plugin out of tree against the
// installed package with find_package(flowid), and test both plugins with the installed CLI.
TEST(PluginInstall, ExamplePluginBuildsOutOfTreeAgainstTheInstalledPackage) {
  TempDir dir;
  const std::string prefix = dir.file("prefix");
  const std::string build = dir.file("build-mine");
  auto install = testing::run_program(FLOWID_CMAKE_COMMAND,
                                      {"--install", FLOWID_BINARY_DIR, "--prefix", prefix});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  auto configure = testing::run_program(
      FLOWID_CMAKE_COMMAND, {"-S", std::string(FLOWID_SOURCE_DIR) + "/examples/plugin", "-B", build,
                             "-G", FLOWID_CMAKE_GENERATOR, "-DCMAKE_PREFIX_PATH=" + prefix});
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  auto compile = testing::run_program(FLOWID_CMAKE_COMMAND, {"--build", build});
  ASSERT_EQ(compile.exit_code, 0) << compile.out << compile.err;

  const std::string flowid = prefix + "/bin/flowid";
  const std::string fixtures = prefix + "/share/flowid/fixtures/scenarios";
  std::vector<std::string> args = {"fixture", "build", "-o", dir.path().string()};
  for (const auto& file : replay::scenario_files(fixtures)) args.push_back(file);
  ASSERT_GT(args.size(), 10u) << "no fixtures installed under " << fixtures;
  auto fixtures_built = testing::run_program(flowid, args);
  ASSERT_EQ(fixtures_built.exit_code, 0) << fixtures_built.err;
  std::vector<std::string> traces;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".trace") traces.push_back(entry.path().string());
  }

  auto mine = testing::run_program(
      flowid, concat({"replay", "--mode", "model", "--resolver", build + "/libmine.so"}, traces));
  EXPECT_EQ(mine.exit_code, 0) << mine.out << mine.err;
  auto buggy = testing::run_program(
      flowid, concat({"replay", "--mode", "model", "--resolver", build + "/libbuggy.so"}, traces));
  EXPECT_EQ(buggy.exit_code, 1) << buggy.out << buggy.err;
}

// An installed flowid finds the fixtures installed beside it (PREFIX/share/flowid/fixtures,
// relative to its own executable), not the source tree it was built from: the suite, the matrix
// and the fuzzer's corpus work from the prefix alone, and keep working when the prefix moves.
// The installed copy is edited (one fixture removed) so that the test can tell which copy ran.
TEST(PluginInstall, InstalledCliUsesTheFixturesInstalledBesideIt) {
  TempDir dir;
  const std::string prefix = dir.file("prefix");
  auto install = testing::run_program(FLOWID_CMAKE_COMMAND,
                                      {"--install", FLOWID_BINARY_DIR, "--prefix", prefix});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  const std::string fixtures = prefix + "/share/flowid/fixtures";
  for (const char* sub : {"scenarios", "golden", "rules", "counterexamples"}) {
    EXPECT_TRUE(std::filesystem::is_directory(fixtures + "/" + sub))
        << fixtures << "/" << sub << " not installed";
  }
  ASSERT_TRUE(std::filesystem::remove(fixtures + "/scenarios/f01_pid_reuse.scenario"));
  for (const auto& entry : std::filesystem::directory_iterator(fixtures + "/golden")) {
    if (entry.path().filename().string().rfind("f01_pid_reuse.", 0) == 0)
      std::filesystem::remove(entry.path());
  }
  const char* forced = std::getenv("FLOWID_FIXTURES");
  const std::string saved = forced != nullptr ? forced : "";
  ::unsetenv("FLOWID_FIXTURES");  // inherited by the flowid children: no override.

  // The build tree's flowid still uses the source tree (f01 is there)...
  auto from_build = run_flowid({"matrix"});
  EXPECT_EQ(from_build.exit_code, 0) << from_build.err;
  EXPECT_NE(from_build.out.find("f01-pid-reuse"), std::string::npos) << from_build.out;

  // ... the installed one uses its own copy, and after a move, the moved copy.
  const std::string moved = dir.file("moved");
  std::filesystem::copy(prefix, moved, std::filesystem::copy_options::recursive);
  for (const std::string& root : {prefix, moved}) {
    const std::string flowid = root + "/bin/flowid";
    auto suite = testing::run_program(flowid, {"suite"});
    EXPECT_EQ(suite.exit_code, 0) << suite.out << suite.err;
    EXPECT_NE(suite.out.find("flowid suite: 17 fixtures x 10 strategies (" + root +
                             "/share/flowid/fixtures)"),
              std::string::npos)
        << suite.out;
    EXPECT_EQ(suite.out.find("f01-pid-reuse"), std::string::npos) << suite.out;

    auto matrix = testing::run_program(flowid, {"matrix"});
    EXPECT_EQ(matrix.exit_code, 0) << matrix.out << matrix.err;
    EXPECT_EQ(matrix.out.find("f01-pid-reuse"), std::string::npos) << matrix.out;
    EXPECT_NE(matrix.out.find("f02-exit-before-lookup"), std::string::npos) << matrix.out;

    // The fuzzer replays the installed counterexample corpus first.
    auto fuzz = testing::run_program(
        flowid, {"fuzz", "--strategy", "token+recheck", "--budget", "5", "--seed", "1", "--json",
                 "--out", dir.file("fuzz-" + std::filesystem::path(root).filename().string())});
    EXPECT_EQ(fuzz.exit_code, 0) << fuzz.out << fuzz.err;
    EXPECT_NE(fuzz.out.find("\"file\":\"" + root +
                            "/share/flowid/fixtures/counterexamples/pid-path--F1.scenario\""),
              std::string::npos)
        << fuzz.out;
  }
  if (forced != nullptr) ::setenv("FLOWID_FIXTURES", saved.c_str(), 1);
}

// docs/plugins.md's tutorial, verbatim: every ```sh block of "Test your resolver in ten minutes"
// runs in order in one shell (set -eu), in a fresh directory, with FLOWID_SRC and PREFIX set as
// the tutorial says. The one block that builds and installs flowid from source is replaced by
// installing this build (it is marked in the document).
TEST(PluginDocs, TutorialCommandsRunVerbatim) {
  std::ifstream in(std::string(FLOWID_SOURCE_DIR) + "/docs/plugins.md");
  ASSERT_TRUE(in) << "docs/plugins.md missing";
  std::string script;
  bool in_section = false;
  bool in_block = false;
  bool skip_block = false;
  bool skip_next = false;
  int blocks = 0;
  for (std::string line; std::getline(in, line);) {
    if (!in_block && line.rfind("## ", 0) == 0) {
      in_section = line == "## Test your resolver in ten minutes";
      continue;
    }
    if (!in_section) continue;
    if (!in_block && line.rfind("<!-- not run by the test suite", 0) == 0) {
      skip_next = true;
      continue;
    }
    if (!in_block && line == "```sh") {
      in_block = true;
      skip_block = skip_next;
      skip_next = false;
      if (!skip_block) ++blocks;
      continue;
    }
    if (in_block && line == "```") {
      in_block = false;
      continue;
    }
    if (in_block && !skip_block) script += line + "\n";
  }
  ASSERT_GE(blocks, 5) << "the tutorial section has lost its commands";

  TempDir dir;
  const std::string prefix = dir.file("prefix");
  auto install = testing::run_program(FLOWID_CMAKE_COMMAND,
                                      {"--install", FLOWID_BINARY_DIR, "--prefix", prefix});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  const std::string header = "set -eu\ncd '" + dir.path().string() + "'\nexport FLOWID_SRC='" +
                             FLOWID_SOURCE_DIR + "'\nexport PREFIX='" + prefix +
                             "'\nexport PATH=\"$PREFIX/bin:$PATH\"\n" + "export CMAKE_GENERATOR='" +
                             FLOWID_CMAKE_GENERATOR + "'\nset -x\n";
  auto r = testing::run_program("/bin/bash", {"-c", header + script});
  EXPECT_EQ(r.exit_code, 0) << "script:\n"
                            << script << "\nstdout:\n"
                            << r.out << "\nstderr:\n"
                            << r.err;
}

// ---------------------------------------------------------------------------------------------
// In process, through the loader and the adapter.

TEST(PluginLoader, PathsAndNames) {
  EXPECT_TRUE(plugin::looks_like_plugin_path("./libmine.so"));
  EXPECT_TRUE(plugin::looks_like_plugin_path("libmine.so"));
  EXPECT_TRUE(plugin::looks_like_plugin_path("/opt/x/libmine.dylib"));
  EXPECT_FALSE(plugin::looks_like_plugin_path("token+recheck"));
  EXPECT_FALSE(plugin::looks_like_plugin_path("pid-path"));
}

TEST(PluginLoader, WrongAbiNamesTheFile) {
  std::string error;
  EXPECT_EQ(plugin::load_plugin(kWrongAbi, &error), nullptr);
  EXPECT_EQ(error, kWrongAbi + ": plugin ABI 2, this flowid speaks 1");
}

// The good plugin reimplements token+recheck in C through the C seam: on every bundled fixture
// it must reach the same cell and the same claims, flow by flow.
TEST(PluginAdapter, GoodPluginMatchesTokenRecheckOnEveryFixture) {
  std::string error;
  auto module = plugin::load_plugin(kMine, &error);
  ASSERT_NE(module, nullptr) << error;
  int compared = 0;
  for (const auto& file : replay::scenario_files(fixtures_dir())) {
    auto s = replay::load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    if (s->tests_launchers()) continue;
    plugin::PluginResolver mine(module);
    auto reference = make_resolver("token+recheck");
    auto got = scenario::run_resolver(*s, mine);
    auto want = scenario::run_resolver(*s, *reference);
    ASSERT_TRUE(got.ok()) << file << ": " << got.error;
    EXPECT_EQ(got.cell, want.cell) << file;
    ASSERT_EQ(got.flows.size(), want.flows.size()) << file;
    for (std::size_t i = 0; i < got.flows.size(); ++i) {
      EXPECT_EQ(got.flows[i].check.attribution.status, want.flows[i].check.attribution.status)
          << file << " flow " << i;
      EXPECT_EQ(got.flows[i].check.attribution.identity, want.flows[i].check.attribution.identity)
          << file << " flow " << i;
      EXPECT_EQ(got.flows[i].check.attribution.claimed_execution,
                want.flows[i].check.attribution.claimed_execution)
          << file << " flow " << i;
      EXPECT_EQ(got.flows[i].check.verdict, want.flows[i].check.verdict) << file << " flow " << i;
      // The same questions through the C seam as through the C++ one.
      EXPECT_EQ(got.flows[i].check.lookups, want.flows[i].check.lookups) << file << " flow " << i;
    }
    ++compared;
  }
  EXPECT_GT(compared, 10);
}

// A bounded property run in process: the fuzzer's strategy for a plugin gives a fresh instance
// per case and finds the buggy plugin's pid-reuse bug within a few hundred cases.
TEST(PluginAdapter, FuzzStrategyForBuggyPluginFindsAViolation) {
  std::string error;
  auto strategy = strategy_for(kBuggy, nullptr, &error);
  ASSERT_TRUE(strategy) << error;
  fuzz::CampaignOptions campaign;
  campaign.strategy = *strategy;
  campaign.seed = 7;
  bool found = false;
  for (uint64_t k = 0; k < 300 && !found; ++k) found = fuzz::run_case(campaign, k).verdict.failed();
  EXPECT_TRUE(found) << "reproduce with: flowid fuzz --strategy " << kBuggy << " --seed 7";
}

// The GoogleTest helpers a user's own suite calls (include/flowid/gtest.h), on the two example
// plugins loaded in process.
TEST(PluginGtestHelpers, GoodPluginPassesFixturesAndABoundedPropertyRun) {
  std::string error;
  auto module = plugin::load_plugin(kMine, &error);
  ASSERT_NE(module, nullptr) << error;
  auto make = [module] { return std::make_unique<plugin::PluginResolver>(module); };
  FLOWID_EXPECT_FIXTURES_PASS(fixtures_dir(), make);
  FLOWID_EXPECT_PROPERTY_HOLDS(make, 1, 300);
}

TEST(PluginGtestHelpers, BuggyPluginFailsBoth) {
  std::string error;
  auto module = plugin::load_plugin(kBuggy, &error);
  ASSERT_NE(module, nullptr) << error;
  auto make = [module] { return std::make_unique<plugin::PluginResolver>(module); };
  auto fixtures = gtest::check_fixtures(fixtures_dir(), make);
  EXPECT_FALSE(fixtures.empty());
  EXPECT_NE(gtest::join_lines(fixtures).find("I1"), std::string::npos)
      << gtest::join_lines(fixtures);
  auto property = gtest::check_property(make, 1, 300);
  EXPECT_FALSE(property.empty());
  EXPECT_NE(gtest::join_lines(property).find("reproduce: flowid fuzz"), std::string::npos);
}

// decide in process: 0 leaves the verdict to the filter (identical to what the rules say), 1
// replaces the decision and names the plugin as the deciding rule; the oracle judges the result.
TEST(PluginAdapter, DecideReplacesTheDecisionOnlyWhenThePluginDecides) {
  std::string error;
  auto module = plugin::load_plugin(kDeciding, &error);
  ASSERT_NE(module, nullptr) << error;
  int decided = 0;
  int left_to_rules = 0;
  for (const auto& file : replay::scenario_files(fixtures_dir())) {
    auto s = replay::load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    if (s->tests_launchers()) continue;
    plugin::PluginResolver deciding(module);
    auto run = scenario::run_resolver(*s, deciding);
    ASSERT_TRUE(run.ok()) << file << ": " << run.error;
    const Filter filter(s->rules);
    for (const auto& flow : run.flows) {
      const FlowCheck& check = flow.check;
      const Verdict by_rules = filter.decide(flow.flow, check.attribution);
      if (check.attribution.status == AttributionStatus::kVerified) {
        EXPECT_EQ(check.verdict, by_rules) << file << " flow " << flow.flow.flow_id;
        ++left_to_rules;
      } else {
        EXPECT_EQ(check.verdict.decision, Decision::kDrop) << file << " flow " << flow.flow.flow_id;
        EXPECT_EQ(check.verdict.rule, "decide:deciding") << file << " flow " << flow.flow.flow_id;
        EXPECT_EQ(check.verdict.label, by_rules.label) << file << " flow " << flow.flow.flow_id;
        ++decided;
      }
      for (const auto& finding : check.findings) {
        EXPECT_NE(finding.severity, Severity::kViolation) << file << ": " << describe(finding);
      }
    }
  }
  EXPECT_GT(decided, 0);
  EXPECT_GT(left_to_rules, 0);
}

// Isolation (a worker process) does not change what decide answers.
TEST(PluginAdapter, IsolatedDecideAnswersLikeTheInProcessOne) {
  std::string error;
  auto module = plugin::load_plugin(kDeciding, &error);
  ASSERT_NE(module, nullptr) << error;
  plugin::WorkerPool pool;
  for (const auto& file : replay::scenario_files(fixtures_dir())) {
    auto s = replay::load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    if (s->tests_launchers()) continue;
    auto probed = plugin::make_plugin_resolver(module, &pool);
    plugin::PluginResolver direct(module);
    auto a = scenario::run_resolver(*s, *probed);
    auto b = scenario::run_resolver(*s, direct);
    ASSERT_EQ(a.flows.size(), b.flows.size()) << file;
    for (std::size_t i = 0; i < a.flows.size(); ++i) {
      EXPECT_EQ(a.flows[i].check.verdict, b.flows[i].check.verdict) << file << " flow " << i;
    }
  }
}

// The launching plugin is spawn-suspended-check-resume written in C against the C seams: on every
// launcher fixture it must make the same calls and reach the same cell, with isolation and without.
TEST(PluginAdapter, LaunchingPluginMatchesSpawnSuspendedCheckResume) {
  std::string error;
  auto module = plugin::load_plugin(kLaunching, &error);
  ASSERT_NE(module, nullptr) << error;
  ASSERT_TRUE(plugin::has_launch(*module));
  int compared = 0;
  plugin::WorkerPool pool;
  for (plugin::WorkerPool* isolation : {static_cast<plugin::WorkerPool*>(nullptr), &pool}) {
    for (const auto& file : replay::scenario_files(fixtures_dir())) {
      auto s = replay::load_scenario(file, &error);
      ASSERT_TRUE(s) << error;
      if (!s->tests_launchers()) continue;
      auto mine = plugin::make_plugin_launcher(module, isolation);
      auto reference = make_launcher("spawn-suspended-check-resume");
      auto got = scenario::run_launcher(*s, *mine);
      auto want = scenario::run_launcher(*s, *reference);
      ASSERT_TRUE(got.ok()) << file << ": " << got.error;
      EXPECT_EQ(got.cell, want.cell) << file;
      ASSERT_EQ(got.launches.size(), want.launches.size()) << file;
      for (std::size_t i = 0; i < got.launches.size(); ++i) {
        const LaunchCheck& g = got.launches[i].check;
        const LaunchCheck& w = want.launches[i].check;
        EXPECT_EQ(g.result.launched, w.result.launched) << file << " launch " << i;
        EXPECT_EQ(g.result.execution, w.result.execution) << file << " launch " << i;
        EXPECT_EQ(g.result.refusal, w.result.refusal) << file << " launch " << i;
        EXPECT_EQ(g.lookups, w.lookups) << file << " launch " << i;
        EXPECT_EQ(g.started, w.started) << file << " launch " << i;
      }
      ++compared;
    }
  }
  EXPECT_GE(compared, 2);
}

TEST(PluginAdapter, LauncherStrategyForNeedsALaunchEntry) {
  std::string error;
  EXPECT_FALSE(launcher_strategy_for(kMine, nullptr, &error));
  EXPECT_EQ(error,
            kMine + ": not a launcher plugin (its flowid_plugin table has no launch function)");
  error.clear();
  auto strategy = launcher_strategy_for(kLaunchToctou, nullptr, &error);
  ASSERT_TRUE(strategy) << error;
  EXPECT_TRUE(strategy->launcher);
  // The toctou plugin is caught within a few hundred generated launcher cases.
  fuzz::CampaignOptions campaign;
  campaign.strategy = *strategy;
  campaign.seed = 5;
  bool found = false;
  for (uint64_t k = 0; k < 300 && !found; ++k) {
    auto record = fuzz::run_case(campaign, k);
    found = record.verdict.failed() &&
            (record.verdict.violated & fuzz::invariant_bit(Invariant::kI5LauncherSafety)) != 0;
  }
  EXPECT_TRUE(found) << "reproduce with: flowid fuzz --launcher " << kLaunchToctou << " --seed 5";
}

}  // namespace
}  // namespace flowid
