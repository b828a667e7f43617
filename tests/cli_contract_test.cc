// The CLI's contract with users and CI systems, class by class: nothing a user had is lost and
// nothing is silently green (outputs never overwrite inputs, silently ignored inputs fail, failed
// writes fail the run, exit codes are the documented ones); the first replay succeeds; every
// --help ends with an example and exit codes; JUnit XML passes a validator and JSON reports match
// the schemas published in docs/schemas/.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <sstream>

#include "tests/cli_runner.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using testing::CommandResult;
using testing::run_flowid;
using testing::run_program;
using testing::TempDir;

const std::string kFlowid = FLOWID_CLI_PATH;
const std::string kSource = FLOWID_SOURCE_DIR;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// `sh -c SCRIPT`, for redirections and environment variables.
CommandResult shell(const std::string& script) { return run_program("/bin/sh", {"-c", script}); }

std::string sh_quoted(const std::string& text) { return "'" + text + "'"; }

// ---- validators

// What is wrong with a JUnit XML report, as the common consumers (Jenkins, GitLab, GitHub
// test-reporter actions) read it: testsuites > testsuite > testcase; counts that match the
// cases; classname, name and time on every case; each failure's message is its first line.
std::vector<std::string> junit_problems(const std::string& xml) {
  std::vector<std::string> problems;
  pugi::xml_document doc;
  auto parsed = doc.load_string(xml.c_str());
  if (!parsed) return {std::string("not well-formed XML: ") + parsed.description()};
  auto suites = doc.child("testsuites");
  if (!suites) return {"no <testsuites> root"};
  auto number = [&](pugi::xml_node node, const char* name) -> double {
    auto attribute = node.attribute(name);
    if (!attribute) {
      problems.push_back(std::string("<") + node.name() + "> without " + name);
      return -1;
    }
    char* end = nullptr;
    const double value = std::strtod(attribute.value(), &end);
    if (end == attribute.value() || *end != '\0' || value < 0) {
      problems.push_back(std::string(name) + "=\"" + attribute.value() + "\" is not a number >= 0");
    }
    return value;
  };
  number(suites, "time");
  double all_tests = 0;
  double all_failures = 0;
  for (auto suite : suites.children("testsuite")) {
    if (std::string(suite.attribute("name").value()).empty())
      problems.push_back("testsuite without name");
    number(suite, "time");
    int tests = 0;
    int failures = 0;
    int errors = 0;
    for (auto testcase : suite.children("testcase")) {
      ++tests;
      const std::string classname = testcase.attribute("classname").value();
      if (classname.empty() || classname == "flowid") {
        problems.push_back("testcase " + std::string(testcase.attribute("name").value()) +
                           ": classname says nothing (\"" + classname + "\")");
      }
      if (std::string(testcase.attribute("name").value()).empty())
        problems.push_back("testcase without name");
      number(testcase, "time");
      for (const char* kind : {"failure", "error"}) {
        auto node = testcase.child(kind);
        if (!node) continue;
        (std::string(kind) == "failure" ? failures : errors) += 1;
        const std::string message = node.attribute("message").value();
        const std::string body = node.text().get();
        const std::string first = body.substr(0, body.find('\n'));
        if (message.empty() || message != first) {
          problems.push_back(std::string(kind) + " message \"" + message +
                             "\" is not the first line \"" + first + "\"");
        }
      }
    }
    if (number(suite, "tests") != tests)
      problems.push_back("testsuite tests= does not count its cases");
    if (number(suite, "failures") != failures)
      problems.push_back("testsuite failures= does not count its failures");
    if (number(suite, "errors") != errors)
      problems.push_back("testsuite errors= does not count its errors");
    all_tests += tests;
    all_failures += failures;
  }
  if (number(suites, "tests") != all_tests)
    problems.push_back("testsuites tests= does not count the cases");
  if (number(suites, "failures") != all_failures)
    problems.push_back("testsuites failures= does not count failures");
  return problems;
}

// Validates JSON text against docs/schemas/NAME.schema.json with python3-jsonschema (installed
// by scripts/install-deps.sh). Empty when valid; otherwise the validator's message.
std::string schema_problems(const std::string& schema, const std::string& json) {
  TempDir dir;
  const std::string instance = dir.file("instance.json");
  write_text(instance, json);
  const std::string script =
      "import glob, json, os, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "jsonschema.Draft202012Validator.check_schema(schema)\n"
      // A schema may refer to another one of docs/schemas by its $id: all are in the store, so
      // nothing is fetched.
      "store = {}\n"
      "for f in glob.glob(os.path.join(os.path.dirname(sys.argv[1]), '*.schema.json')):\n"
      "    s = json.load(open(f))\n"
      "    store[s['$id']] = s\n"
      "resolver = jsonschema.RefResolver.from_schema(schema, store=store)\n"
      "for line in open(sys.argv[2]):\n"
      "    if line.strip():\n"
      "        jsonschema.Draft202012Validator(schema, "
      "resolver=resolver).validate(json.loads(line))"
      "\n";
  auto r =
      run_program("/usr/bin/python3",
                  {"-c", script, kSource + "/docs/schemas/" + schema + ".schema.json", instance});
  return r.exit_code == 0 ? std::string() : r.err + r.out;
}

class CliContract : public ::testing::Test {
 protected:
  void SetUp() override {
    sample_ = dir_.file("sample.trace");
    auto r = run_flowid({"sample", "-o", sample_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string sample_;
};

// ---- nothing lost

TEST_F(CliContract, AnOutputNamingAnInputIsRefusedAndTheInputKept) {
  const std::string capture = dir_.file("cap.jsonl");
  std::filesystem::copy_file(kSource + "/tests/data/import/eslogger_basic.jsonl", capture);
  const std::string before = read_text(capture);
  auto r = run_flowid({"import", capture, "-o", capture});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is also an input"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(capture), before);

  // The same file under another name is still the same file.
  std::filesystem::create_symlink(capture, dir_.file("alias.trace"));
  r = run_flowid({"import", capture, "-o", dir_.file("alias.trace")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(read_text(capture), before);

  const std::string trace_before = read_text(sample_);
  r = run_flowid({"replay", "--junit", sample_, sample_});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(read_text(sample_), trace_before);
}

TEST_F(CliContract, OutputsAreRenamedIntoPlaceAndLeaveNoTemporaryFiles) {
  const std::string junit = dir_.file("report.xml");
  write_text(junit, "previous report");
  struct stat before {};
  ASSERT_EQ(::stat(junit.c_str(), &before), 0);
  ASSERT_EQ(run_flowid({"replay", "--junit", junit, sample_}).exit_code, 0);
  struct stat after {};
  ASSERT_EQ(::stat(junit.c_str(), &after), 0);
  // A new file took the old one's place (a reader never sees half a report).
  EXPECT_NE(before.st_ino, after.st_ino);
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".flowid-"), std::string::npos) << entry.path();
  }
  // A link stays a link; its target gets the report.
  std::filesystem::create_symlink("target.xml", dir_.file("link.xml"));
  ASSERT_EQ(run_flowid({"replay", "--junit", dir_.file("link.xml"), sample_}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::is_symlink(dir_.file("link.xml")));
  EXPECT_NE(read_text(dir_.file("target.xml")).find("<testsuites"), std::string::npos);
}

TEST_F(CliContract, SilentlyIgnoredInputsFail) {
  auto r =
      run_flowid({"fuzz", "--corpus", dir_.file("nodir"), "--budget", "5cases", "--seed", "1"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("nodir"), std::string::npos) << r.err;

  for (const std::string command : {"fuzz --budget 5cases --seed 1", "matrix", "suite"}) {
    r = shell("FLOWID_FIXTURES=/no/such/fixtures " + kFlowid + " " + command);
    EXPECT_EQ(r.exit_code, 3) << command << ": " << r.err;
    EXPECT_NE(r.err.find("FLOWID_FIXTURES=/no/such/fixtures"), std::string::npos)
        << command << ": " << r.err;
  }

  r = run_flowid({"fuzz", "--case", "5"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("--seed"), std::string::npos) << r.err;
  r = run_flowid(
      {"fuzz", "--strategy", "token", "--launcher", "copy-check-run", "--budget", "5cases"});
  EXPECT_EQ(r.exit_code, 2) << r.err;

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"fuzz", "--seed", "-1", "--budget", "5cases"},
        {"inspect", "--limit", "-3", sample_},
        {"replay", "--max-failures", "-1", sample_}}) {
    r = run_flowid(args);
    EXPECT_EQ(r.exit_code, 2) << args[1] << " " << args[2] << ": " << r.err;
    EXPECT_NE(r.err.find("0 or more"), std::string::npos) << r.err;
  }
  // A bounded count says its bounds instead of clamping silently.
  for (const std::string jobs : {"-1", "0", "1000"}) {
    r = run_flowid({"fuzz", "--jobs", jobs, "--budget", "5cases"});
    EXPECT_EQ(r.exit_code, 2) << jobs << ": " << r.err;
    EXPECT_NE(r.err.find("1 to 256"), std::string::npos) << r.err;
  }
}

TEST_F(CliContract, AFailedWriteIsAFailure) {
  // Reports to a full device: the report is lost, so the run is not a success.
  auto r = run_flowid({"replay", "--junit", "/dev/full", sample_});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("/dev/full"), std::string::npos) << r.err;
  r = run_flowid({"fuzz", "--budget", "20cases", "--seed", "1", "--no-default-corpus", "--out",
                  dir_.file("out"), "--junit", "/dev/full"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  for (const std::string command :
       {"replay --json", "inspect --json", "stats --json", "inspect --header --json"}) {
    r = shell(kFlowid + " " + command + " " + sh_quoted(sample_) + " > /dev/full");
    EXPECT_EQ(r.exit_code, 3) << command << ": " << r.err;
    EXPECT_NE(r.err.find("standard output"), std::string::npos) << command << ": " << r.err;
  }
  // /dev/full is still the device: outputs that are not regular files are written in place.
  struct stat device {};
  ASSERT_EQ(::stat("/dev/full", &device), 0);
  EXPECT_TRUE(S_ISCHR(device.st_mode));
}

// ---- exit codes

TEST_F(CliContract, DiffExitCodes) {
  auto r = run_flowid({"diff", sample_, dir_.file("missing.trace")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("missing.trace: no such file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("verdict file"), std::string::npos) << r.err;

  r = run_flowid({"diff", dir_.path().string(), dir_.path().string()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(r.out.find("identical"), std::string::npos) << r.out;

  write_text(dir_.file("empty1"), "");
  write_text(dir_.file("empty2"), "");
  r = run_flowid({"diff", dir_.file("empty1"), dir_.file("empty2")});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(r.out.find("identical"), std::string::npos) << r.out;

  // A damaged trace compared with another: the damage is reported (4), even though they differ.
  const std::string cut = dir_.file("cut.trace");
  std::filesystem::copy_file(sample_, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(sample_) - 5);
  const std::string other = dir_.file("other.trace");
  ASSERT_EQ(run_flowid({"fixture", "build", kSource + "/fixtures/scenarios/f01_pid_reuse.scenario",
                        "-o", dir_.path().string()})
                .exit_code,
            0);
  r = run_flowid({"diff", cut, dir_.file("f01_pid_reuse.trace")});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("first difference"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find(cut), std::string::npos) << r.err;
}

TEST_F(CliContract, PluginLoadErrorsAreInputErrorsEverywhere) {
  const std::string missing = dir_.file("libmissing.so");
  EXPECT_EQ(run_flowid({"replay", "--resolver", missing, sample_}).exit_code, 3);
  EXPECT_EQ(run_flowid({"matrix", "--strategy", missing}).exit_code, 3);
  EXPECT_EQ(run_flowid({"fuzz", "--strategy", missing, "--budget", "5cases"}).exit_code, 3);
  EXPECT_EQ(run_flowid({"fuzz", "--launcher", missing, "--budget", "5cases"}).exit_code, 3);
}

TEST_F(CliContract, RecordsOwnFailuresDoNotLookLikeTheCommands) {
  // 3 (or 2) from record is its command's own status; flowid's own failures are 125 and 127.
  auto r = run_flowid({"record", "-o", dir_.file("t.trace")});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  r = run_flowid({"record", "--no-such-flag", "--", "true"});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  r = run_flowid({"record", "-o", dir_.file("t.trace"), "--", "flowid-no-such-command-xyz"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  r = run_flowid({"--help"});
  EXPECT_NE(r.out.find("When several apply, the largest wins"), std::string::npos) << r.out;
}

// ---- the first replay

TEST_F(CliContract, TheSampleReplaysCleanlyAsTheReadmeSays) {
  auto r = shell(kFlowid + " sample -o " + sh_quoted(dir_.file("s.trace")) + " && " + kFlowid +
                 " replay " + sh_quoted(dir_.file("s.trace")));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("off-script"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("token+pid-fallback"), std::string::npos) << r.out;
  // And in model mode, with the default strategy.
  r = run_flowid({"replay", "--mode", "model", sample_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(CliContract, AnImportedTraceReplaysInModelModeAndSaysSoInOneLine) {
  const std::string imported = dir_.file("imported.trace");
  ASSERT_EQ(
      run_flowid({"import", "-q", kSource + "/tests/data/import/auditd_basic.log", "-o", imported})
          .exit_code,
      0);
  auto r = run_flowid({"replay", imported});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("replayed in model mode"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("recorded no verdict"), std::string::npos) << r.out;
  // Asked for faithful replay explicitly, it is done, and the one line says why it fails.
  r = run_flowid({"replay", "--mode", "faithful", imported});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("imported trace: it recorded no lookups"), std::string::npos) << r.out;
}

TEST(CliContractPlain, StrategiesListsWhatReplayAccepts) {
  auto r = run_flowid({"strategies"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"pid-path", "token+recheck", "token+pid-fallback", "copy-check-run"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
  r = run_flowid({"strategies", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems("strategies", r.out), "");
}

TEST(CliContractPlain, MatrixVerboseShowsWholeLookupLines) {
  auto r = run_flowid(
      {"matrix", "--scenarios", kSource + "/fixtures/scenarios/f01_pid_reuse.scenario", "-v"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" lookup "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(" ookup"), std::string::npos) << r.out;
}

TEST_F(CliContract, DashIsStandardInputEverywhere) {
  for (const std::string command : {"inspect", "stats", "replay", "inspect --header"}) {
    auto r = shell(kFlowid + " " + command + " - < " + sh_quoted(sample_));
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.out << r.err;
  }
  auto r = shell(kFlowid + " diff - " + sh_quoted(sample_) + " < " + sh_quoted(sample_));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("identical"), std::string::npos) << r.out;
  r = shell(kFlowid + " matrix --scenarios - < " +
            sh_quoted(kSource + "/fixtures/scenarios/f01_pid_reuse.scenario"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // explain reads a scenario or a trace from standard input too.
  r = shell(kFlowid + " explain --resolver pid-path - < " +
            sh_quoted(kSource + "/fixtures/scenarios/f01_pid_reuse.scenario"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("scenario f01-pid-reuse"), std::string::npos) << r.out;
  r = shell(kFlowid + " explain - < " + sh_quoted(sample_));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("executions"), std::string::npos) << r.out;
}

// ---- help

TEST(CliContractPlain, EveryHelpEndsWithAnExampleAndItsExitCodes) {
  for (const std::string command :
       {"inspect", "stats", "sample", "record", "replay", "matrix", "fixture", "suite", "diff",
        "import", "fuzz", "strategies", "explore"}) {
    auto r = run_flowid({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    const auto example = r.out.find("Example:\n  flowid ");
    const auto codes = r.out.find("Exit codes:");
    EXPECT_NE(example, std::string::npos) << command << ":\n" << r.out;
    EXPECT_NE(codes, std::string::npos) << command << ":\n" << r.out;
    EXPECT_LT(example, codes) << command;
  }
}

// ---- reports CI reads

TEST_F(CliContract, ReplayJunitIsValidAndNamesWhatFailed) {
  const std::string junit = dir_.file("replay.xml");
  const std::string golden = dir_.file("sample.golden");
  // A golden file that disagrees about flow 2.
  ASSERT_EQ(run_flowid({"replay", "--golden", golden, "--update-golden", sample_}).exit_code, 0);
  std::string text = read_text(golden);
  const auto at = text.find("ask unverified");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 3, "drop");
  write_text(golden, text);
  auto r = run_flowid({"replay", "--golden", golden, "--junit", junit, sample_});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string xml = read_text(junit);
  EXPECT_EQ(junit_problems(xml), std::vector<std::string>{}) << xml;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  auto testcase = doc.child("testsuites").child("testsuite").child("testcase");
  EXPECT_EQ(std::string(testcase.child("failure").attribute("message").value())
                .rfind("flow 2: decision", 0),
            0u)
      << xml;
  EXPECT_EQ(std::string(testcase.child("properties").child("property").attribute("value").value()),
            golden);
  EXPECT_NE(std::string(testcase.attribute("classname").value()).find("flowid.replay"),
            std::string::npos);
}

TEST_F(CliContract, GoogleTestConventions) {
  auto r = shell("GTEST_SHARD_INDEX=3 GTEST_TOTAL_SHARDS=2 " + kFlowid + " replay " +
                 sh_quoted(sample_));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("GTEST_SHARD_INDEX=3 GTEST_TOTAL_SHARDS=2"), std::string::npos) << r.err;
  r = shell("GTEST_SHARD_INDEX=0 " + kFlowid + " replay " + sh_quoted(sample_));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("GTEST_TOTAL_SHARDS=(unset)"), std::string::npos) << r.err;

  // GTEST_OUTPUT=xml:DIR/ and XML_OUTPUT_FILE choose where JUnit goes when --junit is not given.
  r = shell("GTEST_OUTPUT=xml:" + sh_quoted(dir_.path().string() + "/") + " " + kFlowid +
            " replay " + sh_quoted(sample_));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(junit_problems(read_text(dir_.file("flowid-replay.xml"))), std::vector<std::string>{});
  r = shell("XML_OUTPUT_FILE=" + sh_quoted(dir_.file("bazel.xml")) + " " + kFlowid + " replay " +
            sh_quoted(sample_));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir_.file("bazel.xml")));

  // --filter picks traces by name.
  const std::string other = dir_.file("other.trace");
  std::filesystem::copy_file(sample_, other);
  r = run_flowid({"replay", "--json", "--filter", "other", sample_, other});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("sample.trace"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("other.trace"), std::string::npos) << r.out;
}

TEST_F(CliContract, ReplayMaxFailuresListsSomeAndCountsAllByKind) {
  // token+recheck in faithful mode meets calls the sample did not record: several failures.
  auto r = run_flowid(
      {"replay", "--json", "--resolver", "token+recheck", "--max-failures", "1", sample_});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(schema_problems("suite", r.out), "");
  EXPECT_NE(r.out.find("\"failures_not_listed\":"), std::string::npos);
  EXPECT_NE(r.out.find("\"off-script call\":"), std::string::npos) << r.out;
  r = run_flowid({"replay", "--resolver", "token+recheck", "--max-failures", "1", sample_});
  EXPECT_NE(r.out.find("more (--max-failures)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("by kind:"), std::string::npos) << r.out;
}

// Every finding of a fuzz run is a failing JUnit case, the baseline (a violation needing no fault)
// included.
TEST_F(CliContract, FuzzJunitCountsEveryFinding) {
  const std::string junit = dir_.file("fuzz.xml");
  auto r = run_flowid({"fuzz", "--strategy", "pid-path", "--budget", "3000", "--seed", "1",
                       "--no-default-corpus", "--keep-going", "--json", "--junit", junit, "--out",
                       dir_.file("out")});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  std::size_t findings = r.out.find("\"baseline\":{") != std::string::npos ? 1 : 0;
  for (std::size_t at = r.out.find("\"found\":true"); at != std::string::npos;
       at = r.out.find("\"found\":true", at + 1)) {
    ++findings;
  }
  const std::string xml = read_text(junit);
  EXPECT_EQ(junit_problems(xml), std::vector<std::string>{}) << xml;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  std::size_t failures = 0;
  for (auto testcase : doc.child("testsuites").child("testsuite").children("testcase")) {
    failures += static_cast<bool>(testcase.child("failure"));
    EXPECT_EQ(std::string(testcase.attribute("classname").value()), "flowid.fuzz.pid-path");
  }
  EXPECT_GT(findings, 0u) << r.out;
  EXPECT_EQ(failures, findings) << r.out << "\n" << xml;
}

// Progress in a CI log: plain lines with the budget spent, no terminal control codes.
TEST_F(CliContract, ProgressIsPlainLinesWhenStderrIsNotATerminal) {
  auto r = run_flowid({"fuzz", "--progress", "--budget", "1s", "--seed", "1", "--no-default-corpus",
                       "--out", dir_.file("out")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("flowid fuzz: 0.0s of 1s: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\033'), std::string::npos) << r.err;
}

// A trace cut inside a later chunk: the flows whose verdicts were in the lost part are skipped,
// not failed; the damage is the case's error (exit 4).
TEST_F(CliContract, FlowsInADamagedRegionAreSkippedNotFailed) {
  auto reader = trace::open_reader(sample_);
  ASSERT_TRUE(reader->ok());
  trace::WriterOptions small_chunks;
  small_chunks.chunk_events_max = 4;
  const std::string rechunked = dir_.file("rechunked.trace");
  std::string error;
  auto writer = trace::open_writer(rechunked, reader->header(), small_chunks, &error);
  ASSERT_NE(writer, nullptr) << error;
  Event event;
  while (reader->next(event)) writer->append(event);
  writer->finish();
  writer.reset();
  ASSERT_EQ(run_flowid({"replay", rechunked}).exit_code, 0);
  // Cut in the middle: flow 4's lookups and verdict are gone.
  std::filesystem::resize_file(rechunked, std::filesystem::file_size(rechunked) * 3 / 4);
  auto r = run_flowid({"replay", "--json", rechunked});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(schema_problems("suite", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"skipped\":[\"flow "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in the damaged part of the trace"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"failures\":[]"), std::string::npos) << r.out;
}

TEST_F(CliContract, JsonReportsMatchTheirSchemasEvenOnDamagedInput) {
  auto r = run_flowid({"replay", "--json", sample_});
  EXPECT_EQ(schema_problems("suite", r.out), "") << r.out;
  const std::string cut = dir_.file("cut.trace");
  std::filesystem::copy_file(sample_, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(sample_) - 5);
  r = run_flowid({"replay", "--json", cut, dir_.file("missing.trace")});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(schema_problems("suite", r.out), "") << r.out;
  r = run_flowid({"suite", "--json", "--strategy", "token"});
  EXPECT_EQ(schema_problems("suite", r.out), "") << r.out;
  r = run_flowid({"inspect", "--header", "--json", sample_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems("header", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"key\":\"strategy\",\"value\":\"token+pid-fallback\""), std::string::npos)
      << r.out;
}

// One report shape for both fuzz engines: a CI job reads findings[] whichever engine ran.
TEST_F(CliContract, FuzzJsonIsOneSchemaForBothEngines) {
  const std::vector<std::string> common = {
      "fuzz",   "--json", "--strategy", "lulu-model", "--faults", "F1", "--no-default-corpus",
      "--seed", "3",      "--budget",   "3000cases"};
  for (const std::string engine : {"default", "rapidcheck"}) {
    auto args = common;
    args.insert(args.end(), {"--engine", engine, "--out", dir_.file("cx-" + engine)});
    auto r = run_flowid(args);
    EXPECT_EQ(r.exit_code, 1) << engine << r.out << r.err;
    EXPECT_EQ(schema_problems("fuzz", r.out), "") << engine << r.out;
    EXPECT_NE(r.out.find("\"engine\":\"" + engine + "\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"credited_faults\":[\"F1\"]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"invariants\":[\"I1\""), std::string::npos) << r.out;
  }
  // Nothing found: findings empty, baseline null, still the schema.
  auto clean = run_flowid({"fuzz", "--json", "--strategy", "token+recheck", "--faults", "F1",
                           "--seed", "1", "--budget", "200cases", "--out", dir_.file("none")});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(schema_problems("fuzz", clean.out), "") << clean.out;
  EXPECT_NE(clean.out.find("\"findings\":[],\"baseline\":null"), std::string::npos) << clean.out;
}

TEST_F(CliContract, MatrixStatsAndDiffJsonMatchTheirSchemas) {
  auto r = run_flowid({"matrix", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems("matrix", r.out), "") << r.out;
  r = run_flowid(
      {"fuzz", "--matrix", "--json", "--faults", "F1,F2", "--budget", "300cases", "--seed", "1"});
  EXPECT_EQ(schema_problems("fuzz-matrix", r.out), "") << r.out << r.err;
  EXPECT_NE(r.out.find("\"finding\":{\"fault\":\"F1\""), std::string::npos) << r.out;
  r = run_flowid({"stats", "--json", sample_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems("stats", r.out), "") << r.out;
  // Damaged: the same keys (digest null without a footer), exit 4.
  const std::string cut = dir_.file("cut-stats.trace");
  std::filesystem::copy_file(sample_, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(sample_) * 2 / 3);
  r = run_flowid({"stats", "--json", cut});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(schema_problems("stats", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"digest\":null"), std::string::npos) << r.out;
  // diff: identical traces, a trace against its cut copy, two golden files.
  r = run_flowid({"diff", "--json", sample_, sample_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems("diff", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"identical\":true"), std::string::npos) << r.out;
  r = run_flowid({"diff", "--json", sample_, cut});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(schema_problems("diff", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"b\":null"), std::string::npos) << r.out;
  const std::string golden = kSource + "/fixtures/golden/";
  r = run_flowid({"diff", "--json", golden + "f01_pid_reuse.pid-path.golden",
                  golden + "f01_pid_reuse.token.golden"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(schema_problems("diff", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"what\":\"decision allow -> drop"), std::string::npos) << r.out;
}

TEST_F(CliContract, ExploreJsonMatchesItsSchemaAndIsTheSameForAnyJobs) {
  // A violation: pid-path is fooled by one interference; its base names the counterexample files.
  auto r = run_flowid({"explore", "--json", "--resolver", "pid-path", "--depth", "1", "--worlds",
                       "3", "--out", dir_.file("cx")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(schema_problems("explore", r.out), "") << r.out;
  EXPECT_NE(r.out.find("\"invariants\":[\"I"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"reproduce\":\"flowid "), std::string::npos) << r.out;
  // No violation: every base has violation null; the bytes do not depend on --jobs.
  auto one = run_flowid({"explore", "--json", "--depth", "1", "--worlds", "4", "--jobs", "1"});
  auto two = run_flowid({"explore", "--json", "--depth", "1", "--worlds", "4", "--jobs", "2"});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_EQ(schema_problems("explore", one.out), "") << one.out;
  EXPECT_NE(one.out.find("\"violation\":null"), std::string::npos) << one.out;
  EXPECT_EQ(one.out, two.out);
  // JUnit where GoogleTest's variable says, when --junit is not given.
  const std::string junit = dir_.file("junit/");
  auto env = shell("GTEST_OUTPUT=xml:" + sh_quoted(junit) + " " + kFlowid +
                   " explore --depth 0 --worlds 2");
  EXPECT_EQ(env.exit_code, 0) << env.out << env.err;
  EXPECT_TRUE(std::filesystem::exists(junit + "flowid-explore.xml")) << env.out << env.err;
}

TEST_F(CliContract, SuiteFilterKeepsFixturesByNameOrFault) {
  // By fault: F1 is whole (F11's fixtures are not kept); by name; -TEXT excludes.
  auto r = run_flowid({"suite", "--json", "--strategy", "token+recheck", "--filter", "F1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(schema_problems("suite", r.out), "") << r.out;
  EXPECT_NE(r.out.find("f01_pid_reuse x token+recheck"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("f11_"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("f03_"), std::string::npos) << r.out;
  auto all = run_flowid({"suite", "--json", "--strategy", "token+recheck"});
  auto without = run_flowid({"suite", "--json", "--strategy", "token+recheck", "--filter", "-F1"});
  EXPECT_EQ(without.exit_code, 0) << without.err;
  EXPECT_EQ(without.out.find("f01_pid_reuse"), std::string::npos) << without.out;
  EXPECT_NE(without.out.find("f03_"), std::string::npos) << without.out;
  EXPECT_LT(without.out.size(), all.out.size());
  // A filter that keeps nothing is a mistake, not an empty pass.
  auto none = run_flowid({"suite", "--filter", "no-such-fixture"});
  EXPECT_EQ(none.exit_code, 2) << none.out;
  EXPECT_NE(none.err.find("matches no fixture"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace flowid
