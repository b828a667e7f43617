// `flowid diff A B`: where two traces, or two verdict streams (golden files), first differ.
// Traces are compared event by event in order (headers are compared too, and reported apart);
// golden files flow by flow. Exit 0 when identical, 1 when they differ, 3 when an input cannot be
// read (missing, a folder, empty), 4 when a trace is damaged (also when the damage is where they
// differ: the difference may be the damage).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/trace_io.h"
#include "harness/event_format.h"
#include "replay/replay.h"

namespace flowid::cli {
namespace {

struct DiffOptions {
  std::string a;
  std::string b;
  bool json = false;
  uint32_t context = 2;  // events shown before the first difference.
};

bool looks_like_trace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 8 && std::string_view(magic, 8) == "FLOWIDTR";
}

std::optional<std::vector<Verdict>> load_golden(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot read";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return replay::parse_golden(text.str(), path, error);
}

// The diff report (docs/schemas/diff.schema.json): every key present. `index` is where the
// inputs first differ (null when identical), `compared` how many events or verdicts were equal
// before it (all of them when identical); `a` and `b` the two sides there (an event object for
// traces, a golden line for verdict files; null past an input's end).
void print_diff_json(std::string_view kind, std::optional<uint64_t> index, uint64_t compared,
                     std::string_view what, nlohmann::ordered_json a, nlohmann::ordered_json b) {
  nlohmann::ordered_json json;
  json["report"] = "diff";
  json["kind"] = kind;
  json["identical"] = !index.has_value();
  json["compared"] = compared;
  json["index"] = index ? nlohmann::ordered_json(*index) : nlohmann::ordered_json(nullptr);
  json["what"] = what.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(what);
  json["a"] = std::move(a);
  json["b"] = std::move(b);
  print_json(json);
}

int diff_goldens(const DiffOptions& o) {
  std::string error;
  auto a = load_golden(o.a, &error);
  auto b = a ? load_golden(o.b, &error) : std::nullopt;
  if (!a || !b) {
    print_error("diff", "{}", error);
    return kExitInputError;
  }
  std::size_t n = std::min(a->size(), b->size());
  for (std::size_t i = 0; i < n; ++i) {
    std::string what = (*a)[i].flow_id != (*b)[i].flow_id
                           ? fmt::format("flow id {} -> {}", (*a)[i].flow_id, (*b)[i].flow_id)
                           : replay::compare_verdicts((*a)[i], (*b)[i]);
    if (what.empty()) continue;
    if (o.json) {
      print_diff_json("golden", i, i, what, replay::format_golden_line((*a)[i]),
                      replay::format_golden_line((*b)[i]));
    } else {
      fmt::print("verdict {} differs (flow {}): {}\n  < {}\n  > {}\n", i, (*a)[i].flow_id, what,
                 replay::format_golden_line((*a)[i]), replay::format_golden_line((*b)[i]));
    }
    return kExitFindings;
  }
  if (a->size() != b->size()) {
    if (o.json) {
      const auto side = [n](const std::vector<Verdict>& v) {
        return v.size() > n ? nlohmann::ordered_json(replay::format_golden_line(v[n]))
                            : nlohmann::ordered_json(nullptr);
      };
      print_diff_json("golden", n, n, fmt::format("length {} vs {}", a->size(), b->size()),
                      side(*a), side(*b));
    } else {
      fmt::print("the first {} verdicts agree; {} has {} verdicts, {} has {}\n", n, o.a, a->size(),
                 o.b, b->size());
    }
    return kExitFindings;
  }
  if (o.json) {
    print_diff_json("golden", std::nullopt, n, {}, nullptr, nullptr);
  } else {
    fmt::print("identical: {} verdicts\n", n);
  }
  return kExitOk;
}

// The header fields that differ, by name ("recorder", "resolver_config scenario", ...).
std::vector<std::string> header_differences(const trace::TraceHeader& a,
                                            const trace::TraceHeader& b) {
  std::vector<std::string> fields;
  if (a.format_version != b.format_version) fields.push_back("format_version");
  if (a.recorder != b.recorder) fields.push_back("recorder");
  if (a.host != b.host) fields.push_back("host");
  if (a.os != b.os) fields.push_back("os");
  if (a.clock != b.clock || a.time_unit_ns != b.time_unit_ns) fields.push_back("clock");
  if (!(a.caller == b.caller)) fields.push_back("caller");
  std::map<std::string, std::string> ca(a.resolver_config.begin(), a.resolver_config.end());
  std::map<std::string, std::string> cb(b.resolver_config.begin(), b.resolver_config.end());
  for (const auto& [key, value] : ca) {
    auto it = cb.find(key);
    if (it == cb.end() || it->second != value) fields.push_back("resolver_config " + key);
  }
  for (const auto& [key, value] : cb) {
    if (!ca.count(key)) fields.push_back("resolver_config " + key);
  }
  return fields;
}

int diff_traces(const DiffOptions& o) {
  auto a = open_trace(o.a);
  if (!a) return kExitInputError;
  auto b = open_trace(o.b);
  if (!b) return kExitInputError;
  if (!o.json) {
    for (const auto& field : header_differences(a->header(), b->header())) {
      fmt::print("note: the headers differ in {}\n", field);
    }
  }
  std::vector<Event> recent;  // the last `context` equal events, for orientation.
  Event ea;
  Event eb;
  uint64_t index = 0;
  for (;; ++index) {
    bool more_a = a->next(ea);
    bool more_b = b->next(eb);
    if (!more_a && !more_b) break;
    if (more_a && more_b && ea == eb) {
      recent.push_back(ea);
      if (recent.size() > o.context) recent.erase(recent.begin());
      continue;
    }
    if (o.json) {
      // The event objects are inspect --json's (format_event_json), embedded as values.
      // (A path with bytes that are not UTF-8 cannot be parsed back: that side is the text.)
      const auto side = [index](bool more, const Event& e) {
        if (!more) return nlohmann::ordered_json(nullptr);
        const std::string text = format_event_json(e, index);
        auto value = nlohmann::ordered_json::parse(text, nullptr, false);
        return value.is_discarded() ? nlohmann::ordered_json(text) : value;
      };
      print_diff_json("trace", index, index,
                      !more_a || !more_b ? fmt::format("{} ends first", more_a ? o.b : o.a) : "",
                      side(more_a, ea), side(more_b, eb));
    } else {
      fmt::print("first difference at event {}:\n", index);
      for (const auto& e : recent) fmt::print("    {}\n", format_event_line(e));
      fmt::print("  < {}\n", more_a ? format_event_line(ea) : "(end of " + o.a + ")");
      fmt::print("  > {}\n", more_b ? format_event_line(eb) : "(end of " + o.b + ")");
    }
    // A damaged trace is said so (exit 4), even when it is where the two differ: both are read
    // to their end (streaming, bounded memory) so that damage further on is found too.
    std::fflush(stdout);
    while (a->next(ea)) {
    }
    while (b->next(eb)) {
    }
    return std::max({static_cast<int>(kExitFindings), report_read_issues(*a, o.a),
                     report_read_issues(*b, o.b)});
  }
  int read_a = report_read_issues(*a, o.a);
  int read_b = report_read_issues(*b, o.b);
  if (o.json) {
    print_diff_json("trace", std::nullopt, index, {}, nullptr, nullptr);
  } else {
    fmt::print("identical: {} events\n", index);
  }
  return std::max(read_a, read_b);
}

// Why path cannot be compared ("" when it can be read): missing, a folder, empty.
std::string unreadable(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return fmt::format("{}: no such file", path);
  if (std::filesystem::is_directory(status))
    return fmt::format("{}: is a folder (give two traces or two golden files)", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("{}: cannot read", path);
  if (in.peek() == std::ifstream::traits_type::eof()) {
    return fmt::format("{}: empty (neither a trace nor a golden file)", path);
  }
  return {};
}

int run_diff(DiffOptions o) {
  if (o.a == "-" && o.b == "-") {
    print_error("diff", "'-' (standard input) may be given once");
    return kExitUsage;
  }
  // "-": standard input, copied to a temporary file (a golden file is read twice).
  std::string error;
  InputPath a_input = InputPath::resolve(o.a, &error);
  InputPath b_input = a_input.path().empty() ? InputPath() : InputPath::resolve(o.b, &error);
  if (a_input.path().empty() || b_input.path().empty()) {
    print_error("diff", "{}", error);
    return kExitInputError;
  }
  for (const auto& path : {a_input.path(), b_input.path()}) {
    if (auto why = unreadable(path); !why.empty()) {
      print_error("diff", "{}", why);
      return kExitInputError;
    }
  }
  const std::string a_name = o.a;
  const std::string b_name = o.b;
  o.a = a_input.path();
  o.b = b_input.path();
  bool trace_a = looks_like_trace(o.a);
  bool trace_b = looks_like_trace(o.b);
  if (trace_a != trace_b) {
    print_error("diff", "{} is a {} but {} is a {}: compare like with like", a_name,
                trace_a ? "trace" : "golden (verdict) file", b_name,
                trace_b ? "trace" : "golden (verdict) file");
    return kExitUsage;
  }
  return trace_a ? diff_traces(o) : diff_goldens(o);
}

}  // namespace

Subcommand add_diff(CLI::App& parent) {
  auto options = std::make_shared<DiffOptions>();
  CLI::App* app = parent.add_subcommand(
      "diff", "Show where two traces, or two verdict streams (golden files), first differ");
  app->add_option("A", options->a, "Trace or golden file ('-': standard input)")->required();
  app->add_option("B", options->b, "Trace or golden file ('-': standard input)")->required();
  app->add_flag("--json", options->json, "One JSON object: identical, or the index and both sides");
  app->add_option("--context", options->context, "Equal events shown before the difference")
      ->default_str("2");
  app->footer(help_footer(
      "flowid diff before.trace after.trace",
      "0 identical; 1 they differ; 2 usage (a trace compared with a golden file included);\n"
      "3 an input could not be read (missing, a folder, empty, not a trace or golden file);\n"
      "4 a trace is damaged (also when they differ: the difference may be the damage)."));
  return {app, [options] { return run_diff(*options); }};
}

}  // namespace flowid::cli
