// Suite reports shared by the subcommands that run many cases (replay, fuzz, matrix): a human
// summary, one JSON object for tools, and JUnit XML for CI systems (one test case per case).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flowid::cli {

struct CaseReport {
  std::string name;                   // e.g. the trace path.
  uint64_t events = 0;
  uint64_t flows = 0;
  uint64_t digest = 0;
  std::vector<std::string> failures;  // differences, off-script calls, findings.
  std::vector<std::string> errors;    // the case could not run (or ran on damaged input).
  std::vector<std::string> warnings;  // reported, but do not fail the case.
  std::vector<std::string> notes;     // context shown in human output (not in verdicts).
  double seconds = 0;
  bool passed() const { return failures.empty() && errors.empty(); }
};

struct SuiteReport {
  std::string title;
  std::vector<CaseReport> cases;
};

void print_report(const SuiteReport& report, bool json, bool quiet);
// Writes JUnit XML; false (with *error naming the file) when it cannot be written.
bool write_junit(const SuiteReport& report, const std::string& path, std::string* error);

struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
};
// Parses "i/n"; an empty text takes GTEST_SHARD_INDEX / GTEST_TOTAL_SHARDS from the environment
// (or no sharding). nullopt for malformed input.
std::optional<Shard> parse_shard(const std::string& text);

// Escapes text for XML attribute values and character data.
std::string xml_escape(const std::string& text);

}  // namespace flowid::cli
