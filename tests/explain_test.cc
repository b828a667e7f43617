// Seeing why a resolver failed: counterexample traces that carry virtual time, the scenario's
// names and the failing resolver's own seam calls; `flowid explain` (golden outputs in
// tests/data/explain/, regenerated with FLOWID_UPDATE_EXPLAIN_GOLDEN=1); `flowid export --format
// perfetto` (validated against docs/schemas/trace-event.schema.json with python3-jsonschema).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"
#include "replay/fixture.h"
#include "replay/scenario_files.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using testing::run_flowid;
using testing::run_program;
using testing::TempDir;

const std::string kSource = FLOWID_SOURCE_DIR;
const std::string kData = kSource + "/tests/data/explain";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

scenario::Scenario load(const std::string& name) {
  std::string error;
  auto s = replay::load_scenario(kData + "/" + name, &error);
  if (!s) throw std::runtime_error(error);
  return std::move(*s);
}

std::vector<Event> read_events(const std::string& path, trace::TraceHeader* header = nullptr) {
  auto reader = trace::open_reader(path);
  EXPECT_TRUE(reader && reader->ok()) << path;
  if (header != nullptr) *header = reader->header();
  std::vector<Event> events;
  Event event;
  while (reader->next(event)) events.push_back(event);
  return events;
}

std::string header_value(const trace::TraceHeader& header, const std::string& key) {
  for (const auto& [k, v] : header.resolver_config) {
    if (k == key) return v;
  }
  return {};
}

// ---- Virtual time: step-time on the world line.

TEST(StepTime, IsParsedAndWrittenBackOnlyWhenNotTheDefault) {
  std::string error;
  auto s = scenario::parse_scenario("scenario a\nworld step-time=250us\n", "a.scenario", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->step_time_ns, 250'000u);
  const std::string text = scenario::format_scenario(*s);
  EXPECT_NE(text.find("world step-time=250us\n"), std::string::npos) << text;
  auto again = scenario::parse_scenario(text, "b.scenario", &error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(again->step_time_ns, 250'000u);

  auto plain = scenario::parse_scenario("scenario a\n", "a.scenario", &error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(plain->step_time_ns, scenario::kDefaultStepTimeNs);
  EXPECT_EQ(scenario::format_scenario(*plain).find("step-time"), std::string::npos);

  auto none = scenario::parse_scenario("scenario a\nworld step-time=0\n", "a.scenario", &error);
  ASSERT_TRUE(none) << error;
  EXPECT_NE(scenario::format_scenario(*none).find("step-time=0"), std::string::npos);
}

TEST(StepTime, ABadDurationNamesTheFileAndLine) {
  std::string error;
  auto s = scenario::parse_scenario("scenario a\nworld step-time=soon\n", "a.scenario", &error);
  EXPECT_FALSE(s);
  EXPECT_NE(error.find("a.scenario:2"), std::string::npos) << error;
  EXPECT_NE(error.find("step-time"), std::string::npos) << error;
}

TEST(StepTime, EachStepAdvancesTheClockSoEventsAreNotAllAtZero) {
  const auto s = load("reuse.scenario");  // step-time=250us.
  auto resolver = fuzz::reference_strategy("pid-path")->make_resolver();
  auto run = scenario::run_resolver(s, *resolver);
  ASSERT_TRUE(run.ok()) << run.error;
  // Steps: 2 files, spawn (step 2), flow, exit, spawn (step 5), resolve (step 6).
  std::vector<uint64_t> spawns;
  uint64_t verdict_at = 0;
  for (const auto& e : run.events) {
    if (const auto* spawn = std::get_if<ProcessSpawn>(&e.body)) {
      if (spawn->token.pid() != 1) spawns.push_back(e.time_ns);
    }
    if (std::holds_alternative<Verdict>(e.body)) verdict_at = e.time_ns;
  }
  EXPECT_EQ(spawns, (std::vector<uint64_t>{2 * 250'000u, 5 * 250'000u}));
  EXPECT_EQ(verdict_at, 6 * 250'000u);
}

// ---- Counterexample traces: labels and the failing resolver's own calls.

TEST(CounterexampleTrace, NamesExecutionsAndFlowsAsTheScenarioDoes) {
  const auto s = load("reuse.scenario");
  auto strategy = fuzz::reference_strategy("pid-path");
  std::string error;
  auto compiled = replay::compile_scenario(s, &error, &*strategy);
  ASSERT_TRUE(compiled) << error;
  std::map<std::string, std::string> labels;
  for (const auto& [k, v] : compiled->header.resolver_config) {
    if (k.starts_with("label.")) labels[k] = v;
  }
  // evil is the first process after launchd; good reuses its pid with a new pidversion.
  std::map<std::string, std::string> spawned;
  for (const auto& e : compiled->events) {
    if (const auto* spawn = std::get_if<ProcessSpawn>(&e.body)) {
      if (spawn->token.pid() == 1) continue;
      spawned[fmt::format("label.execution.{}.{}", spawn->token.pid(), spawn->token.pidversion())] =
          spawn->image.path;
    }
  }
  ASSERT_EQ(spawned.size(), 2u);
  for (const auto& [key, path] : spawned) {
    ASSERT_TRUE(labels.count(key)) << key;
    EXPECT_EQ(labels[key], path == "/tmp/x" ? "evil" : "good") << key;
  }
  EXPECT_EQ(labels["label.flow.1"], "f1");
}

TEST(CounterexampleTrace, HoldsTheFailingResolversOwnCallsFirstWithTheRaceBetweenThem) {
  const auto s = load("race.scenario");
  auto strategy = fuzz::reference_strategy("pid-path");
  auto own = scenario::run_resolver(s, *strategy->make_resolver());
  ASSERT_TRUE(own.ok()) << own.error;
  ASSERT_EQ(own.flows.size(), 1u);
  const auto& calls = own.flows[0].check.lookups;
  ASSERT_GE(calls.size(), 2u);

  std::string error;
  auto compiled = replay::compile_scenario(s, &error, &*strategy);
  ASSERT_TRUE(compiled) << error;
  EXPECT_EQ(header_value(compiled->header, "record-with"), "pid-path");
  std::vector<Lookup> recorded;
  std::size_t race_after = 0;  // how many lookups came before the race's exit.
  for (const auto& e : compiled->events) {
    if (const auto* l = std::get_if<Lookup>(&e.body)) recorded.push_back(*l);
    if (const auto* x = std::get_if<ProcessExit>(&e.body); x && race_after == 0)
      race_after = recorded.size();
  }
  ASSERT_GE(recorded.size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(recorded[i], calls[i]) << i;
  EXPECT_EQ(race_after, 1u);  // before-call 2: after the first call.
}

TEST(CounterexampleTrace, FuzzWritesOneWithTimeLabelsAndPrintsTheShortExplanation) {
  TempDir dir;
  auto r = run_flowid({"fuzz", "--strategy", "pid-path", "--faults", "F1", "--budget", "2000",
                       "--seed", "1", "--out", dir.path().string()});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  EXPECT_NE(r.out.find("why: flow #1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("broken  I"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flowid explain "), std::string::npos) << r.out;
  bool in_why = false;  // the short explanation, indented by two, fits 100 columns.
  for (const auto& line : lines_of(r.out)) {
    if (line.starts_with("  why: ")) in_why = true;
    if (line.starts_with("  the whole picture: ")) in_why = false;
    if (in_why) {
      EXPECT_LE(line.size(), 100u) << line;
    }
  }
  std::string trace_path;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".trace") trace_path = entry.path().string();
  }
  ASSERT_FALSE(trace_path.empty());
  trace::TraceHeader header;
  const auto events = read_events(trace_path, &header);
  uint64_t latest = 0;
  for (const auto& e : events) latest = std::max(latest, e.time_ns);
  EXPECT_GT(latest, 0u) << "every event at time 0";
  bool execution_label = false;
  for (const auto& [k, v] : header.resolver_config)
    execution_label |= k.starts_with("label.execution.");
  EXPECT_TRUE(execution_label);
  EXPECT_FALSE(header_value(header, "label.flow.1").empty());
  EXPECT_EQ(header_value(header, "record-with"), "pid-path");
}

TEST(CounterexampleTrace, ExploreAndTheRapidcheckEngineAlsoPrintTheShortExplanation) {
  TempDir dir;
  auto explore = run_flowid(
      {"explore", "--resolver", "pid-path", "--depth", "1", "--out", dir.file("explore")});
  ASSERT_EQ(explore.exit_code, 1) << explore.err << explore.out;
  EXPECT_NE(explore.out.find("  why: flow #1"), std::string::npos) << explore.out;
  EXPECT_NE(explore.out.find("  the whole picture: flowid explain "), std::string::npos);

  auto rc = run_flowid({"fuzz", "--engine", "rapidcheck", "--strategy", "pid-path", "--faults",
                        "F1", "--budget", "500cases", "--seed", "1", "--out", dir.file("rc")});
  ASSERT_EQ(rc.exit_code, 1) << rc.err << rc.out;
  EXPECT_NE(rc.out.find("  why: flow #"), std::string::npos) << rc.out;
}

// ---- flowid explain: golden outputs.

// Compares the command's output with tests/data/explain/GOLDEN (written instead when
// FLOWID_UPDATE_EXPLAIN_GOLDEN=1). The input path is made relative so goldens hold no temp paths.
void expect_golden(const std::vector<std::string>& args, const std::string& golden) {
  std::vector<std::string> full = {"-c", "cd \"$0\" && exec \"$@\"", kSource, FLOWID_CLI_PATH};
  full.insert(full.end(), args.begin(), args.end());
  auto out = run_program("/bin/sh", full);
  ASSERT_EQ(out.exit_code, 0) << out.err;
  for (const auto& line : lines_of(out.out)) EXPECT_LE(line.size(), 100u) << line;
  const std::string path = kData + "/" + golden;
  const char* update = std::getenv("FLOWID_UPDATE_EXPLAIN_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    write_text(path, out.out);
    GTEST_SKIP() << "wrote " << path;
  }
  EXPECT_EQ(out.out, read_text(path))
      << "golden " << path << " differs (FLOWID_UPDATE_EXPLAIN_GOLDEN=1 rewrites it)";
}

TEST(Explain, ARaceInsideTheResolutionIsMarkedBeforeTheCallItPreceded) {
  expect_golden({"explain", "tests/data/explain/race.scenario", "--resolver", "pid-path"},
                "race.pid-path.txt");
}

TEST(Explain, ASoundResolverShowsTheSameRaceAndNothingBroken) {
  expect_golden({"explain", "tests/data/explain/race.scenario", "--resolver", "token+recheck"},
                "race.token+recheck.txt");
}

TEST(Explain, TheShortFormShowsWhatLandedBeforeTheResolution) {
  expect_golden(
      {"explain", "tests/data/explain/reuse.scenario", "--resolver", "pid-path", "--short"},
      "reuse.pid-path.short.txt");
}

TEST(Explain, OneFlowShowsOnlyWhatConcernsItAndStopsAtItsVerdict) {
  expect_golden(
      {"explain", "tests/data/explain/two_flows.scenario", "--resolver", "pid-path", "--flow", "2"},
      "two_flows.pid-path.flow2.txt");
}

TEST(Explain, ATraceIsExplainedWithTheScenariosNames) {
  TempDir dir;
  auto built =
      run_flowid({"fixture", "build", kData + "/reuse.scenario", "-o", dir.path().string()});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  std::string trace_path;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".trace") trace_path = entry.path().string();
  }
  ASSERT_FALSE(trace_path.empty());
  auto r = run_flowid({"explain", trace_path, "--resolver", "pid-path", "--flow", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("evil"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flow #1 (f1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("broken  I1 violation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cell    MISATTRIBUTED"), std::string::npos) << r.out;
  for (const auto& line : lines_of(r.out)) EXPECT_LE(line.size(), 100u) << line;
}

TEST(Explain, ErrorsNameTheFile) {
  TempDir dir;
  auto missing = run_flowid({"explain", dir.file("nope.trace")});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find(dir.file("nope.trace")), std::string::npos) << missing.err;

  write_text(dir.file("junk.scenario"), "scenario x\nfrobnicate\n");
  auto junk = run_flowid({"explain", dir.file("junk.scenario")});
  EXPECT_EQ(junk.exit_code, 3);
  EXPECT_NE(junk.err.find(dir.file("junk.scenario") + ":2"), std::string::npos) << junk.err;

  auto unknown = run_flowid({"explain", kData + "/race.scenario", "--resolver", "nobody"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;
}

// ---- flowid export --format perfetto.

std::string schema_problems(const std::string& json_path) {
  const std::string script =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "jsonschema.Draft202012Validator.check_schema(schema)\n"
      "jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))\n";
  auto r =
      run_program("/usr/bin/python3",
                  {"-c", script, kSource + "/docs/schemas/trace-event.schema.json", json_path});
  return r.exit_code == 0 ? std::string() : r.err + r.out;
}

TEST(ExportPerfetto, ACounterexampleTraceIsValidTraceEventJsonWithATrackPerExecution) {
  TempDir dir;
  auto built =
      run_flowid({"fixture", "build", kData + "/race.scenario", "-o", dir.path().string()});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  std::string trace_path;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".trace") trace_path = entry.path().string();
  }
  const std::string out = dir.file("out.json");
  auto r = run_flowid({"export", "--format", "perfetto", trace_path, "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems(out), "");
  const std::string json = read_text(out);
  EXPECT_NE(json.find("\"thread_name\""), std::string::npos);
  EXPECT_NE(json.find("\"ph\":\"X\""), std::string::npos);
  EXPECT_NE(json.find("p2 /Applications/Good.app/Contents/MacOS/Good"), std::string::npos);
  EXPECT_NE(json.find("flow #1 (f1)"), std::string::npos);
  // Nothing left beside it: written to a temporary file and renamed.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2u);  // the compiled trace and out.json.
}

TEST(ExportPerfetto, TheSampleTraceValidatesToo) {
  TempDir dir;
  ASSERT_EQ(run_flowid({"sample", "-o", dir.file("s.trace")}).exit_code, 0);
  auto r = run_flowid({"export", dir.file("s.trace"), "-o", dir.file("s.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(schema_problems(dir.file("s.json")), "");
}

TEST(ExportPerfetto, RefusesAnOutputThatIsTheInputAndAnUnknownFormat) {
  TempDir dir;
  ASSERT_EQ(run_flowid({"sample", "-o", dir.file("s.trace")}).exit_code, 0);
  const std::string before = read_text(dir.file("s.trace"));
  auto same = run_flowid({"export", dir.file("s.trace"), "-o", dir.file("s.trace")});
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("is also an input"), std::string::npos) << same.err;
  EXPECT_EQ(read_text(dir.file("s.trace")), before);
  auto format =
      run_flowid({"export", "--format", "html", dir.file("s.trace"), "-o", dir.file("s.json")});
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.json")));
  auto missing = run_flowid({"export", dir.file("nope.trace"), "-o", dir.file("n.json")});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find(dir.file("nope.trace")), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace flowid
