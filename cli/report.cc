#include "cli/report.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <fstream>

#include "harness/event_format.h"

namespace flowid::cli {
namespace {

std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

void append_string_array(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_bytes(out, items[i]);
  }
  out += ']';
}

}  // namespace

void print_report(const SuiteReport& report, bool json, bool quiet) {
  std::size_t passed = 0;
  for (const auto& c : report.cases) passed += c.passed();
  const std::size_t failed = report.cases.size() - passed;
  if (json) {
    std::string out = "{\"title\":";
    append_json_bytes(out, report.title);
    out += ",\"cases\":[";
    for (std::size_t i = 0; i < report.cases.size(); ++i) {
      const auto& c = report.cases[i];
      if (i) out += ',';
      out += "{\"name\":";
      append_json_bytes(out, c.name);
      out += fmt::format(",\"passed\":{},\"events\":{},\"flows\":{},\"digest\":\"{:016x}\",\"failures\":",
                         c.passed() ? "true" : "false", c.events, c.flows, c.digest);
      append_string_array(out, c.failures);
      out += ",\"errors\":";
      append_string_array(out, c.errors);
      out += ",\"warnings\":";
      append_string_array(out, c.warnings);
      out += ",\"notes\":";
      append_string_array(out, c.notes);
      out += '}';
    }
    out += fmt::format("],\"passed\":{},\"failed\":{}}}\n", passed, failed);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return;
  }
  if (!quiet) fmt::print("{}\n", report.title);
  for (const auto& c : report.cases) {
    if (quiet && c.passed()) continue;
    fmt::print("  {}  {}  ({} flows, {} events, verdict digest {:016x})\n",
               c.passed() ? "PASS" : "FAIL", c.name, c.flows, c.events, c.digest);
    for (const auto& e : c.errors) fmt::print("        error: {}\n", e);
    for (const auto& f : c.failures) fmt::print("        {}\n", f);
    if (!quiet) {
      for (const auto& n : c.notes) fmt::print("        {}\n", n);
      for (const auto& w : c.warnings) fmt::print("        warning: {}\n", w);
    }
  }
  fmt::print("{} case{}: {} passed, {} failed\n", report.cases.size(),
             report.cases.size() == 1 ? "" : "s", passed, failed);
  std::fflush(stdout);
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even when escaped.
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

bool write_junit(const SuiteReport& report, const std::string& path, std::string* error) {
  std::size_t failures = 0;
  std::size_t errors = 0;
  for (const auto& c : report.cases) {
    failures += !c.failures.empty();
    errors += !c.errors.empty();
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites tests=\"{}\" failures=\"{}\" errors=\"{}\">\n", report.cases.size(),
                     failures, errors);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
                     xml_escape(report.title), report.cases.size(), failures, errors);
  for (const auto& c : report.cases) {
    out += fmt::format("    <testcase classname=\"flowid\" name=\"{}\" time=\"{:.3f}\">", xml_escape(c.name),
                       c.seconds);
    if (!c.errors.empty()) {
      std::string body;
      for (const auto& e : c.errors) body += e + "\n";
      out += fmt::format("\n      <error message=\"{}\">{}</error>", xml_escape(c.errors.front()),
                         xml_escape(body));
    }
    if (!c.failures.empty()) {
      std::string body;
      for (const auto& f : c.failures) body += f + "\n";
      out += fmt::format("\n      <failure message=\"{} problem{}\">{}</failure>", c.failures.size(),
                         c.failures.size() == 1 ? "" : "s", xml_escape(body));
    }
    out += (c.passed() ? "" : "\n    ") + std::string("</testcase>\n");
  }
  out += "  </testsuite>\n</testsuites>\n";
  std::ofstream file(path, std::ios::binary);
  if (!file || !(file << out)) {
    *error = fmt::format("{}: cannot write JUnit report", path);
    return false;
  }
  return true;
}

std::optional<Shard> parse_shard(const std::string& text) {
  if (text.empty()) {
    const char* index = std::getenv("GTEST_SHARD_INDEX");
    const char* total = std::getenv("GTEST_TOTAL_SHARDS");
    if (!index || !total) return Shard{};
    auto i = parse_size(index);
    auto n = parse_size(total);
    if (!i || !n || *n == 0 || *i >= *n) return std::nullopt;
    return Shard{*i, *n};
  }
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto i = parse_size(std::string_view(text).substr(0, slash));
  auto n = parse_size(std::string_view(text).substr(slash + 1));
  if (!i || !n || *n == 0 || *i >= *n) return std::nullopt;
  return Shard{*i, *n};
}

}  // namespace flowid::cli
