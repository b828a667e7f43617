// The flowid CLI as a user runs it: real binary, real files, real exit codes.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cli_runner.h"

namespace flowid {
namespace {

using testing::run_flowid;
using testing::TempDir;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sample_ = dir_.file("sample.trace");
    auto r = run_flowid({"sample", "-o", sample_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string sample_;
};

TEST_F(CliTest, InspectShowsSeed000Story) {
  auto r = run_flowid({"inspect", sample_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("EPERM(100001)"), std::string::npos);
  EXPECT_NE(r.out.find("ESRCH(100003)"), std::string::npos);
  EXPECT_NE(r.out.find("/usr/libexec/trustd"), std::string::npos);
  EXPECT_NE(r.out.find("procPID 744 eprocPID 600"), std::string::npos);
  EXPECT_NE(r.out.find("complete"), std::string::npos);
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(CliTest, InspectJsonIsOneObjectPerEvent) {
  auto r = run_flowid({"inspect", "--json", sample_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_GT(lines.size(), 20u);
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto doc = parser.parse(lines[i]);
    ASSERT_EQ(doc.error(), simdjson::SUCCESS) << lines[i];
    EXPECT_EQ(uint64_t(doc["index"]), i);
  }
}

TEST_F(CliTest, InspectKindAndFlowFilters) {
  auto r = run_flowid({"inspect", "--json", "--kind", "verdict,flow", sample_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  int verdicts = 0;
  for (const auto& line : lines_of(r.out)) {
    std::string_view kind = parser.parse(line)["kind"];
    EXPECT_TRUE(kind == "verdict" || kind == "flow") << line;
    verdicts += kind == "verdict";
  }
  EXPECT_EQ(verdicts, 4);

  r = run_flowid({"inspect", "--json", "--flow", "2", sample_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& line : lines_of(r.out)) {
    EXPECT_EQ(uint64_t(parser.parse(line)["flow_id"]), 2u) << line;
  }
}

TEST_F(CliTest, UnknownKindIsAUsageError) {
  auto r = run_flowid({"inspect", "--kind", "bogus", sample_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown event kind 'bogus'"), std::string::npos) << r.err;
}

TEST_F(CliTest, MissingFileNamesTheFile) {
  auto missing = dir_.file("nope.trace");
  auto r = run_flowid({"inspect", missing});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
}

TEST_F(CliTest, NotATraceIsAnInputError) {
  auto junk = dir_.file("junk.trace");
  std::ofstream(junk) << "this is not a flowid trace, just text\n";
  auto r = run_flowid({"stats", junk});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find(junk), std::string::npos) << r.err;
}

TEST_F(CliTest, TruncatedTraceShowsWhatIsReadableAndWhereItWasCut) {
  // Write a multi-chunk trace is not needed: cut the sample just before its end so the footer is
  // lost; the events of whole chunks are still printed, and the cut is reported.
  auto size = std::filesystem::file_size(sample_);
  auto cut = dir_.file("cut.trace");
  std::filesystem::copy_file(sample_, cut);
  std::filesystem::resize_file(cut, size - 5);
  auto r = run_flowid({"inspect", cut});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find(cut), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at byte"), std::string::npos) << r.err;
}

TEST_F(CliTest, StatsJsonCountsMatchInspect) {
  auto r = run_flowid({"stats", "--json", sample_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.out);
  ASSERT_EQ(doc.error(), simdjson::SUCCESS) << r.out;
  auto events = uint64_t(doc["events"]);
  EXPECT_EQ(events, lines_of(run_flowid({"inspect", "--json", sample_}).out).size());
  EXPECT_EQ(uint64_t(doc["counts"]["flow"]), 4u);
  EXPECT_EQ(uint64_t(doc["counts"]["verdict"]), 4u);
  EXPECT_TRUE(bool(doc["complete"]));
  EXPECT_TRUE(bool(doc["clean"]));
  EXPECT_GT(double(doc["bytes_per_event"]), 0.0);
}

TEST_F(CliTest, StatsHumanOutput) {
  auto r = run_flowid({"stats", sample_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lookup"), std::string::npos);
  EXPECT_NE(r.out.find("per event"), std::string::npos);
}

TEST(Cli, VersionAndHelp) {
  auto r = run_flowid({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("flowid "), std::string::npos);
  r = run_flowid({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("inspect"), std::string::npos);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
}

TEST(Cli, NoSubcommandOrBadFlagIsUsageError) {
  EXPECT_EQ(run_flowid({}).exit_code, 2);
  EXPECT_EQ(run_flowid({"inspect"}).exit_code, 2);
  EXPECT_EQ(run_flowid({"inspect", "--no-such-flag", "x"}).exit_code, 2);
}

}  // namespace
}  // namespace flowid
