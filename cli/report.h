// Reports shared by the subcommands that run many cases (replay, fixture suite, fuzz, matrix,
// explore): a human summary, one JSON object for tools and JUnit XML for CI systems.
//
// JSON is built with nlohmann::ordered_json, so keys keep the order the schema in
// docs/schemas/ lists them in, and every key is present whatever happened (an empty array,
// never a missing key, on damaged input). Lists are arrays, never comma-separated strings.
// JUnit XML is built with pugixml (escaping is the library's), one <testcase> per case: the
// failure's message is its first finding line, the classname says which command and strategy
// ran it, times are on suites and cases, and the golden file compared against is a property.
// Every output goes through cli/output.h: checked, written to a temporary file and renamed.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowid::cli {

struct CaseReport {
  std::string name;       // e.g. the trace path.
  std::string classname;  // JUnit classname; empty: the suite's.
  std::string golden;     // the golden file the verdicts were compared with, if any.
  uint64_t events = 0;
  uint64_t flows = 0;
  uint64_t digest = 0;
  std::vector<std::string> failures;  // differences, off-script calls, findings.
  std::vector<std::string> errors;    // the case could not run (or ran on damaged input).
  std::vector<std::string> warnings;  // reported, but do not fail the case.
  std::vector<std::string> notes;     // context shown in human output.
  std::vector<std::string> skipped;   // parts not checked (flows in a damaged region), and why.
  // Failures per invariant (I1..I7) or kind ("verdict difference", "off-script call").
  std::vector<std::pair<std::string, uint64_t>> failures_by_kind;
  uint64_t failures_not_listed = 0;  // beyond --max-failures: counted, not listed.
  double seconds = 0;
  bool passed() const { return failures.empty() && errors.empty() && failures_not_listed == 0; }
};

struct SuiteReport {
  std::string kind;  // "replay", "fixture", "fuzz": the JSON "report" key.
  std::string title;
  std::string
      classname;  // JUnit classname of every case without its own, e.g. flowid.replay.token.
  double seconds = 0;
  std::vector<CaseReport> cases;
};

// The suite report as JSON (docs/schemas/suite.schema.json). It holds no times: the same inputs
// give the same bytes, so two runs can be compared (times are in the JUnit report).
nlohmann::ordered_json suite_json(const SuiteReport& report);
// Human summary, or the JSON object, on stdout (main() checks that it was written).
void print_report(const SuiteReport& report, bool json, bool quiet);
// The JUnit XML text of a report.
std::string junit_text(const SuiteReport& report);
// Writes JUnit XML to path (checked, through a temporary file); false with *error naming it.
bool write_junit(const SuiteReport& report, const std::string& path, std::string* error);

// One JSON value and a newline on stdout.
void print_json(const nlohmann::ordered_json& value);

// Where JUnit goes when --junit is not given: GoogleTest's GTEST_OUTPUT=xml:PATH (a PATH ending in
// '/' gets DEFAULT_NAME.xml in that folder, made when missing, as GoogleTest does) or Bazel's
// XML_OUTPUT_FILE; empty when neither is set.
std::string junit_path_from_environment(std::string_view default_name);

// The end of every subcommand's --help: notes, then "Example:" and "Exit codes:".
std::string help_footer(std::string_view example, std::string_view exit_codes,
                        std::string_view notes = {});

struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
};
// Parses "i/n"; an empty text takes GTEST_SHARD_INDEX / GTEST_TOTAL_SHARDS from the environment
// (or no sharding). nullopt for malformed input, with *error naming what was wrong and where it
// came from (the flag, or the variables and their values).
std::optional<Shard> parse_shard(const std::string& text, std::string* error);

// Keeps names that contain any of the comma-separated patterns (every name when filter is empty);
// a pattern starting with '-' excludes instead. A pattern also matches when it equals one of the
// tags (a scenario's faults, "F1" ... "F11": whole, so F1 does not match F11).
bool filter_matches(std::string_view filter, std::string_view name,
                    const std::vector<std::string>& tags = {});

}  // namespace flowid::cli
