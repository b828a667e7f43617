// A libFuzzer input becomes a regression case in one command (docs/fuzzing.md): the bytes that
// crashed fuzz/flowid_plugin_fuzzer or fuzz/schedule_fuzz decode, here, to the same case
// (harness/fuzz/fuzz_input.h), and `flowid fuzz --decode-input FILE [--resolver PLUGIN]` checks,
// shrinks and saves it as a scenario and a trace that model replay reproduces.
//
// The planted bug is the zoo's pid_ttl_cache (examples/zoo: a pid-keyed cache that outlives an
// exec). The test finds a crashing input the way the engine would meet one, by running inputs
// through the target's own decoding and oracle, without needing libFuzzer in this build.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "harness/fuzz/fuzz_input.h"
#include "harness/fuzz/property.h"
#include "harness/random.h"
#include "harness/strategies/catalog.h"
#include "plugin/loader.h"
#include "tests/cli_runner.h"

namespace flowid {
namespace {

using testing::run_flowid;

const std::string kPlanted = std::string(FLOWID_ZOO_PLUGIN_DIR) + "/libzoo_pid_ttl_cache.so";

std::vector<uint8_t> input_number(uint64_t k, std::size_t length) {
  SplitMix64 random(k);
  std::vector<uint8_t> bytes(length);
  for (auto& b : bytes) b = static_cast<uint8_t>(random.next());
  return bytes;
}

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("flowid-fuzz-input-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

TEST(FuzzInput, TheSameBytesDecodeToTheSameCase) {
  const auto bytes = input_number(7, 64);
  const auto a = fuzz::decode_fuzz_input(bytes, std::nullopt);
  const auto b = fuzz::decode_fuzz_input(bytes, std::nullopt);
  EXPECT_EQ(scenario::format_scenario(a.generated.scenario),
            scenario::format_scenario(b.generated.scenario));
  EXPECT_EQ(a.launchers, (bytes[0] & 1) != 0);
  EXPECT_EQ(a.swarm, (bytes[0] & 2) == 0);
  EXPECT_EQ(a.strategy_pick, static_cast<std::size_t>(bytes[0] >> 2));
}

TEST(FuzzInput, AForcedKindOverridesTheFirstByte) {
  const std::vector<uint8_t> launcher_byte = {0x01, 0x00};
  EXPECT_TRUE(fuzz::decode_fuzz_input(launcher_byte, std::nullopt).launchers);
  EXPECT_FALSE(fuzz::decode_fuzz_input(launcher_byte, false).launchers);
  // An empty input decodes as one zero byte: resolver cases, swarm, the first strategy.
  const auto empty = fuzz::decode_fuzz_input({}, std::nullopt);
  EXPECT_FALSE(empty.launchers);
  EXPECT_TRUE(empty.swarm);
  EXPECT_EQ(empty.strategy_pick, 0u);
}

TEST(FuzzInput, APlantedBugsCrashInputDecodesToAReplayableTrace) {
  std::string error;
  auto planted = strategy_for(kPlanted, nullptr, &error);
  ASSERT_TRUE(planted) << error;
  std::ifstream in(kPlanted, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto identifiers = fuzz::identifiers_in(file, 32);
  // The first input (in a fixed order) on which the plugin fuzzer's oracle would crash.
  std::optional<std::vector<uint8_t>> crash;
  for (uint64_t k = 0; k < 20000 && !crash; ++k) {
    auto bytes = input_number(k, 48);
    const auto decoded = fuzz::decode_fuzz_input(bytes, false, identifiers);
    const auto verdict = fuzz::check_scenario(decoded.generated.scenario, *planted);
    ASSERT_TRUE(verdict.ran()) << verdict.error;
    if (verdict.failed()) crash = std::move(bytes);
  }
  ASSERT_TRUE(crash) << "no input in 20000 makes pid_ttl_cache fail";

  const auto dir = fresh_dir("planted");
  const auto input = dir / "crash-planted";
  write_bytes(input, *crash);
  const auto out = dir / "out";
  auto decoded = run_flowid(
      {"fuzz", "--decode-input", input.string(), "--resolver", kPlanted, "--out", out.string()});
  EXPECT_EQ(decoded.exit_code, 1) << decoded.out << decoded.err;
  EXPECT_NE(decoded.out.find("violation: I"), std::string::npos) << decoded.out;
  EXPECT_NE(decoded.out.find("reproduce: flowid fuzz --decode-input " + input.string() +
                             " --resolver " + kPlanted),
            std::string::npos)
      << decoded.out;
  const auto trace = out / "decoded-crash-planted.trace";
  ASSERT_TRUE(std::filesystem::exists(trace)) << decoded.out;
  ASSERT_TRUE(std::filesystem::exists(out / "decoded-crash-planted.scenario"));

  // The trace reproduces the violation against the plugin and not against a sound resolver.
  EXPECT_EQ(
      run_flowid({"replay", "--mode", "model", trace.string(), "--resolver", kPlanted}).exit_code,
      1);
  EXPECT_EQ(run_flowid({"replay", "--mode", "model", trace.string(), "--resolver", "token+recheck"})
                .exit_code,
            0);
  // The saved scenario fails the plugin when run as a matrix row.
  EXPECT_EQ(run_flowid({"matrix", "--scenarios", (out / "decoded-crash-planted.scenario").string(),
                        "--resolver", kPlanted})
                .exit_code,
            1);
  std::filesystem::remove_all(dir);
}

TEST(FuzzInput, AScheduleInputNamesItsReferenceStrategy) {
  const auto dir = fresh_dir("schedule");
  // Byte 0: resolver cases, swarm, strategy pick 3 -> the fourth reference resolver.
  const auto names = resolver_names();
  const std::vector<uint8_t> bytes = {static_cast<uint8_t>(3u << 2), 0x10, 0x20, 0x30};
  write_bytes(dir / "input", bytes);
  auto result = run_flowid(
      {"fuzz", "--decode-input", (dir / "input").string(), "--out", (dir / "out").string()});
  EXPECT_NE(result.out.find(std::string(names[3 % names.size()]) + " resolver case"),
            std::string::npos)
      << result.out << result.err;
  EXPECT_TRUE(result.exit_code == 0 || result.exit_code == 1) << result.err;
  std::filesystem::remove_all(dir);
}

TEST(FuzzInput, AMissingInputIsAnInputError) {
  auto result = run_flowid({"fuzz", "--decode-input", "/nonexistent/crash-x"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.err.find("/nonexistent/crash-x: cannot read the input"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace flowid
