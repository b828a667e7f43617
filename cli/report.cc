#include "cli/report.h"

#include <fmt/format.h>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "cli/output.h"

namespace flowid::cli {
namespace {

std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// XML 1.0 cannot carry most control characters, even escaped: they are shown as \xNN.
std::string xml_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string seconds_text(double seconds) {
  return fmt::format("{:.3f}", seconds < 0 ? 0.0 : seconds);
}

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += item + "\n";
  return out;
}

}  // namespace

nlohmann::ordered_json suite_json(const SuiteReport& report) {
  std::size_t passed = 0;
  for (const auto& c : report.cases) passed += c.passed();
  nlohmann::ordered_json cases = nlohmann::ordered_json::array();
  for (const auto& c : report.cases) {
    nlohmann::ordered_json by_kind = nlohmann::ordered_json::object();
    for (const auto& [kind, count] : c.failures_by_kind) by_kind[kind] = count;
    cases.push_back({
        {"name", c.name},
        {"passed", c.passed()},
        {"golden",
         c.golden.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.golden)},
        {"events", c.events},
        {"flows", c.flows},
        {"digest", fmt::format("{:016x}", c.digest)},
        {"failures", c.failures},
        {"failures_not_listed", c.failures_not_listed},
        {"failures_by_kind", by_kind},
        {"errors", c.errors},
        {"warnings", c.warnings},
        {"skipped", c.skipped},
        {"notes", c.notes},
    });
  }
  return {
      {"report", report.kind.empty() ? "suite" : report.kind},
      {"title", report.title},
      {"cases", cases},
      {"passed", passed},
      {"failed", report.cases.size() - passed},
  };
}

void print_json(const nlohmann::ordered_json& value) {
  // Invalid UTF-8 (a path from another system) is replaced, never a thrown exception.
  const std::string text =
      value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void print_report(const SuiteReport& report, bool json, bool quiet) {
  if (json) {
    print_json(suite_json(report));
    return;
  }
  std::size_t passed = 0;
  for (const auto& c : report.cases) passed += c.passed();
  const std::size_t failed = report.cases.size() - passed;
  if (!quiet) fmt::print("{}\n", report.title);
  for (const auto& c : report.cases) {
    if (quiet && c.passed()) continue;
    fmt::print("  {}  {}  ({} flows, {} events, verdict digest {:016x})\n",
               c.passed() ? "PASS" : "FAIL", c.name, c.flows, c.events, c.digest);
    for (const auto& e : c.errors) fmt::print("        error: {}\n", e);
    for (const auto& f : c.failures) fmt::print("        {}\n", f);
    if (c.failures_not_listed > 0) {
      fmt::print("        ... and {} more (--max-failures)\n", c.failures_not_listed);
    }
    if (!c.failures_by_kind.empty() && (c.failures.size() + c.failures_not_listed) > 1) {
      std::string summary;
      for (const auto& [kind, count] : c.failures_by_kind) {
        summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", count, kind);
      }
      fmt::print("        by kind: {}\n", summary);
    }
    for (const auto& s : c.skipped) fmt::print("        skipped: {}\n", s);
    if (!quiet) {
      for (const auto& n : c.notes) fmt::print("        {}\n", n);
      for (const auto& w : c.warnings) fmt::print("        warning: {}\n", w);
    }
  }
  fmt::print("{} case{}: {} passed, {} failed\n", report.cases.size(),
             report.cases.size() == 1 ? "" : "s", passed, failed);
}

std::string junit_text(const SuiteReport& report) {
  std::size_t failures = 0;
  std::size_t errors = 0;
  std::size_t skipped = 0;
  double seconds = 0;
  for (const auto& c : report.cases) {
    failures += !c.failures.empty() || c.failures_not_listed > 0;
    errors += !c.errors.empty();
    seconds += c.seconds;
  }
  if (report.seconds > seconds) seconds = report.seconds;
  const std::string classname = report.classname.empty() ? "flowid" : report.classname;
  pugi::xml_document doc;
  auto declaration = doc.append_child(pugi::node_declaration);
  declaration.append_attribute("version") = "1.0";
  declaration.append_attribute("encoding") = "UTF-8";
  auto suites = doc.append_child("testsuites");
  auto suite = suites.append_child("testsuite");
  for (auto node : {suites, suite}) {
    if (node == suite) node.append_attribute("name") = xml_safe(report.title).c_str();
    node.append_attribute("tests") = static_cast<unsigned long long>(report.cases.size());
    node.append_attribute("failures") = static_cast<unsigned long long>(failures);
    node.append_attribute("errors") = static_cast<unsigned long long>(errors);
    if (node == suite) node.append_attribute("skipped") = static_cast<unsigned long long>(skipped);
    node.append_attribute("time") = seconds_text(seconds).c_str();
    if (node == suites) node.append_attribute("name") = "flowid";
  }
  for (const auto& c : report.cases) {
    auto testcase = suite.append_child("testcase");
    testcase.append_attribute("classname") =
        xml_safe(c.classname.empty() ? classname : c.classname).c_str();
    testcase.append_attribute("name") = xml_safe(c.name).c_str();
    testcase.append_attribute("time") = seconds_text(c.seconds).c_str();
    if (!c.golden.empty()) {
      auto property = testcase.append_child("properties").append_child("property");
      property.append_attribute("name") = "golden";
      property.append_attribute("value") = xml_safe(c.golden).c_str();
    }
    if (!c.errors.empty()) {
      auto error = testcase.append_child("error");
      error.append_attribute("message") = xml_safe(c.errors.front()).c_str();
      error.append_attribute("type") = "input";
      error.append_child(pugi::node_pcdata).set_value(xml_safe(lines(c.errors)).c_str());
    }
    if (!c.failures.empty() || c.failures_not_listed > 0) {
      auto failure = testcase.append_child("failure");
      const std::string first = c.failures.empty()
                                    ? fmt::format("{} failures", c.failures_not_listed)
                                    : c.failures.front();
      failure.append_attribute("message") = xml_safe(first).c_str();
      failure.append_attribute("type") = "finding";
      std::string body = lines(c.failures);
      if (c.failures_not_listed > 0)
        body += fmt::format("... and {} more (--max-failures)\n", c.failures_not_listed);
      if (!c.golden.empty()) body += fmt::format("expected verdicts: {}\n", c.golden);
      failure.append_child(pugi::node_pcdata).set_value(xml_safe(body).c_str());
    }
    std::vector<std::string> out = c.notes;
    for (const auto& w : c.warnings) out.push_back("warning: " + w);
    for (const auto& s : c.skipped) out.push_back("skipped: " + s);
    if (!out.empty()) {
      testcase.append_child("system-out")
          .append_child(pugi::node_pcdata)
          .set_value(xml_safe(lines(out)).c_str());
    }
  }
  std::ostringstream text;
  doc.save(text, "  ", pugi::format_default, pugi::encoding_utf8);
  return text.str();
}

bool write_junit(const SuiteReport& report, const std::string& path, std::string* error) {
  if (!write_file_atomically(path, junit_text(report), error)) {
    *error += " (JUnit report)";
    return false;
  }
  return true;
}

std::string junit_path_from_environment(std::string_view default_name) {
  if (const char* output = std::getenv("GTEST_OUTPUT"); output != nullptr) {
    std::string_view value(output);
    if (value.starts_with("xml")) {
      value.remove_prefix(3);
      if (value.starts_with(':')) value.remove_prefix(1);
      if (value.empty()) return "test_detail.xml";
      if (value.ends_with('/')) {
        // Like GoogleTest, the folder is made when missing (a failure shows when writing).
        std::error_code ignored;
        std::filesystem::create_directories(std::string(value), ignored);
        return fmt::format("{}{}.xml", value, default_name);
      }
      return std::string(value);
    }
  }
  if (const char* file = std::getenv("XML_OUTPUT_FILE"); file != nullptr && *file != '\0')
    return file;
  return {};
}

std::string help_footer(std::string_view example, std::string_view exit_codes,
                        std::string_view notes) {
  std::string out;
  if (!notes.empty()) out += fmt::format("{}\n\n", notes);
  out += fmt::format("Example:\n  {}\n\nExit codes: {}", example, exit_codes);
  return out;
}

std::optional<Shard> parse_shard(const std::string& text, std::string* error) {
  if (text.empty()) {
    const char* index = std::getenv("GTEST_SHARD_INDEX");
    const char* total = std::getenv("GTEST_TOTAL_SHARDS");
    if (!index && !total) return Shard{};
    auto i = index ? parse_size(index) : std::nullopt;
    auto n = total ? parse_size(total) : std::nullopt;
    if (!i || !n || *n == 0 || *i >= *n) {
      *error = fmt::format(
          "GTEST_SHARD_INDEX={} GTEST_TOTAL_SHARDS={}: want both set, with 0 <= GTEST_SHARD_INDEX "
          "< "
          "GTEST_TOTAL_SHARDS",
          index ? index : "(unset)", total ? total : "(unset)");
      return std::nullopt;
    }
    return Shard{*i, *n};
  }
  auto slash = text.find('/');
  std::optional<std::size_t> i;
  std::optional<std::size_t> n;
  if (slash != std::string::npos) {
    i = parse_size(std::string_view(text).substr(0, slash));
    n = parse_size(std::string_view(text).substr(slash + 1));
  }
  if (!i || !n || *n == 0 || *i >= *n) {
    *error = fmt::format("--shard expects i/n with 0 <= i < n, got '{}'", text);
    return std::nullopt;
  }
  return Shard{*i, *n};
}

bool filter_matches(std::string_view filter, std::string_view name,
                    const std::vector<std::string>& tags) {
  if (filter.empty()) return true;
  auto matches = [&](std::string_view pattern) {
    if (name.find(pattern) != std::string_view::npos) return true;
    return std::find(tags.begin(), tags.end(), pattern) != tags.end();
  };
  bool any_positive = false;
  bool included = false;
  while (!filter.empty()) {
    const auto comma = filter.find(',');
    std::string_view pattern = filter.substr(0, comma);
    filter = comma == std::string_view::npos ? std::string_view() : filter.substr(comma + 1);
    if (pattern.empty()) continue;
    if (pattern.front() == '-') {
      if (matches(pattern.substr(1))) return false;
      continue;
    }
    any_positive = true;
    included = included || matches(pattern);
  }
  return !any_positive || included;
}

}  // namespace flowid::cli
