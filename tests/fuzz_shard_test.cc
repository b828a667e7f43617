// `flowid fuzz --shard i/n` and `--merge` as a CI matrix uses them (docs/fuzzing.md): the shards
// of one seed run disjoint cases that together are the unsharded run's, and their --json reports
// join into the report the unsharded run gives (its counts exactly; its findings, where a shard
// may also credit a fault the unsharded run gave up shrinking for).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/cli_runner.h"

namespace flowid {
namespace {

using nlohmann::json;
using testing::run_flowid;

class FuzzShards : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flowid-fuzz-shard-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs one fuzz --json (shard "" = unsharded) and saves its report; returns the path.
  std::string run(const std::string& shard, const std::string& seed = "5") {
    std::vector<std::string> args = {"fuzz",
                                     "--strategy",
                                     "pid-path",
                                     "--budget",
                                     "600",
                                     "--seed",
                                     seed,
                                     "--keep-going",
                                     "--json",
                                     "--out",
                                     (dir_ / "out").string()};
    if (!shard.empty()) args.insert(args.end(), {"--shard", shard});
    auto result = run_flowid(args);
    EXPECT_EQ(result.exit_code, 1) << result.err;  // pid-path fails.
    const std::string name = shard.empty() ? "all" : "s" + shard.substr(0, shard.find('/'));
    const auto path = dir_ / (name + "-" + seed + ".json");
    std::ofstream(path) << result.out;
    return path.string();
  }

  static json load(const std::string& path) {
    std::ifstream in(path);
    return json::parse(in);
  }

  std::filesystem::path dir_;
};

TEST_F(FuzzShards, ShardsJoinToTheUnshardedRunsCounts) {
  const json all = load(run(""));
  const std::string a = run("0/2");
  const std::string b = run("1/2");
  EXPECT_EQ(load(a)["shard"], "0/2");
  EXPECT_GT(load(a)["cases"].get<uint64_t>(), 0u);
  EXPECT_GT(load(b)["cases"].get<uint64_t>(), 0u);
  auto merged = run_flowid({"fuzz", "--merge", a, b});
  EXPECT_EQ(merged.exit_code, 1) << merged.err;
  const json m = json::parse(merged.out);
  EXPECT_EQ(m["shards"], json::array({"0/2", "1/2"}));
  EXPECT_FALSE(m.contains("shard"));
  EXPECT_EQ(m["cases"], all["cases"]);
  EXPECT_EQ(m["failing_cases"], all["failing_cases"]);
  ASSERT_EQ(m["results"].size(), all["results"].size());
  for (std::size_t i = 0; i < all["results"].size(); ++i) {
    EXPECT_EQ(m["results"][i]["cases_injected"], all["results"][i]["cases_injected"]) << i;
    // Found unsharded => found in the shards.
    if (all["results"][i]["found"].get<bool>()) {
      EXPECT_TRUE(m["results"][i]["found"].get<bool>()) << i;
    }
  }
  // Every finding of the unsharded run is found at the same case number.
  ASSERT_FALSE(all["findings"].empty());
  for (const auto& f : all["findings"]) {
    bool same = false;
    for (const auto& g : m["findings"])
      same = same || (g["fault"] == f["fault"] && g["case"] == f["case"]);
    EXPECT_TRUE(same) << f.dump();
  }
}

TEST_F(FuzzShards, ReportsOfDifferentRunsAreRefused) {
  const std::string a = run("0/2", "5");
  const std::string b = run("1/2", "6");
  auto mixed = run_flowid({"fuzz", "--merge", a, b});
  EXPECT_EQ(mixed.exit_code, 3);
  EXPECT_NE(mixed.err.find(b + ": seed 6"), std::string::npos) << mixed.err;
  EXPECT_NE(mixed.err.find("not shards of one run"), std::string::npos) << mixed.err;

  auto twice = run_flowid({"fuzz", "--merge", a, a});
  EXPECT_EQ(twice.exit_code, 3);
  EXPECT_NE(twice.err.find("shard 0/2 given twice"), std::string::npos) << twice.err;

  const std::string whole = run("");
  auto unsharded = run_flowid({"fuzz", "--merge", whole});
  EXPECT_EQ(unsharded.exit_code, 3);
  EXPECT_NE(unsharded.err.find(whole + ": not a shard's report"), std::string::npos)
      << unsharded.err;
}

TEST_F(FuzzShards, AMalformedShardIsAUsageError) {
  auto result = run_flowid(
      {"fuzz", "--strategy", "pid-path", "--budget", "10", "--seed", "1", "--shard", "2/2"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--shard expects i/n with 0 <= i < n, got '2/2'"), std::string::npos)
      << result.err;
}

// The same for flowid explore: the shards' bases, joined, are the unsharded run's in its order,
// with its counts and its guarantee line.
TEST_F(FuzzShards, ExploreShardsJoinToTheUnshardedExploration) {
  auto explore = [&](const std::string& shard, const std::string& strategy) {
    std::vector<std::string> args = {
        "explore", "--resolver", strategy, "--depth",
        "1",       "--json",     "--out",  (dir_ / "explore-out").string()};
    if (!shard.empty()) args.insert(args.end(), {"--shard", shard});
    auto result = run_flowid(args);
    const auto path =
        dir_ / (strategy + "-" + (shard.empty() ? "all" : shard.substr(0, 1)) + ".json");
    std::ofstream(path) << result.out;
    return std::pair{result.exit_code, path.string()};
  };
  for (const std::string strategy : {"pid-path", "token+recheck"}) {
    const auto [all_exit, all_path] = explore("", strategy);
    const json all = load(all_path);
    std::vector<std::string> args = {"explore", "--merge"};
    for (const char* shard : {"2/3", "0/3", "1/3"}) args.push_back(explore(shard, strategy).second);
    auto merged = run_flowid(args);
    EXPECT_EQ(merged.exit_code, all_exit) << strategy << merged.err;
    const json m = json::parse(merged.out);
    EXPECT_EQ(m["shards"], json::array({"0/3", "1/3", "2/3"}));
    for (const char* key : {"schedules", "states", "violations", "complete", "guarantee",
                            "schedules_by_depth", "bases"}) {
      EXPECT_EQ(m[key], all[key]) << strategy << " " << key;
    }
  }
  const auto a = explore("0/2", "pid-path").second;
  auto twice = run_flowid({"explore", "--merge", a, a});
  EXPECT_EQ(twice.exit_code, 3);
  EXPECT_NE(twice.err.find("shard 0/2 given twice"), std::string::npos) << twice.err;
  const auto b = explore("1/2", "token+recheck").second;
  auto mixed = run_flowid({"explore", "--merge", a, b});
  EXPECT_EQ(mixed.exit_code, 3);
  EXPECT_NE(mixed.err.find("not shards of one exploration"), std::string::npos) << mixed.err;
}

}  // namespace
}  // namespace flowid
