// `flowid inspect TRACE`: the events of a trace, one per line, for people or (--json) for tools.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/trace_io.h"
#include "harness/event_format.h"

namespace flowid::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  std::vector<std::string> kinds;
  std::vector<uint64_t> flows;
  uint64_t limit = 0;
  bool no_header = false;
  bool header_only = false;
};

// The header as one JSON object (docs/schemas/header.schema.json). resolver_config is an array of
// {key, value} pairs: keys may repeat and their order is kept.
nlohmann::ordered_json header_json(const trace::TraceHeader& h, const std::string& path) {
  nlohmann::ordered_json config = nlohmann::ordered_json::array();
  for (const auto& [key, value] : h.resolver_config)
    config.push_back({{"key", key}, {"value", value}});
  return {
      {"report", "header"},
      {"path", path},
      {"format_version", h.format_version},
      {"recorder", h.recorder},
      {"host", h.host},
      {"os", h.os},
      {"clock", h.clock},
      {"time_unit_ns", h.time_unit_ns},
      {"start_wall_time_ns", h.start_wall_time_ns},
      {"caller",
       {{"sandboxed", h.caller.sandboxed},
        {"root", h.caller.root},
        {"uid", h.caller.uid},
        {"description", h.caller.description}}},
      {"resolver_config", config},
  };
}

// The flow an event belongs to, if any (flows, lookups and verdicts carry one).
std::optional<uint64_t> flow_of(const Event& event) {
  if (auto* f = std::get_if<Flow>(&event.body)) return f->flow_id;
  if (auto* l = std::get_if<Lookup>(&event.body)) return l->flow_id;
  if (auto* v = std::get_if<Verdict>(&event.body)) return v->flow_id;
  return std::nullopt;
}

void print_header(const trace::TraceHeader& h, const std::string& path) {
  fmt::print("trace {}\n", path);
  fmt::print("  format {}  recorder {}  host {}  os {}\n", h.format_version,
             h.recorder.empty() ? "-" : h.recorder, h.host.empty() ? "-" : h.host,
             h.os.empty() ? "-" : h.os);
  fmt::print("  clock {} (unit {} ns)  caller: {}{}{}\n", h.clock.empty() ? "-" : h.clock,
             h.time_unit_ns, h.caller.sandboxed ? "sandboxed " : "", h.caller.root ? "root " : "",
             h.caller.description.empty() ? "" : h.caller.description);
  for (const auto& [key, value] : h.resolver_config) fmt::print("  {} = {}\n", key, value);
  fmt::print("\n");
}

int run_inspect(const InspectOptions& options) {
  std::array<bool, kEventKindCount> wanted{};
  if (options.kinds.empty()) {
    wanted.fill(true);
  }
  for (const auto& name : options.kinds) {
    auto kind = parse_event_kind(name);
    if (!kind) {
      print_error("inspect", "unknown event kind '{}' (kinds: {})", name,
                  "spawn, exec, exit, file, flow, lookup, verdict, marker, dropped");
      return kExitUsage;
    }
    wanted[static_cast<std::size_t>(*kind)] = true;
  }

  auto reader = open_trace(options.path);
  if (!reader) return kExitInputError;
  if (options.header_only) {
    if (options.json) {
      print_json(header_json(reader->header(), options.path));
    } else {
      print_header(reader->header(), options.path);
    }
    return kExitOk;
  }
  if (!options.json && !options.no_header) print_header(reader->header(), options.path);

  Event event;
  uint64_t index = 0;
  uint64_t shown = 0;
  std::string line;
  for (; reader->next(event); ++index) {
    if (!wanted[static_cast<std::size_t>(event.kind())]) continue;
    if (!options.flows.empty()) {
      auto flow = flow_of(event);
      if (!flow ||
          std::find(options.flows.begin(), options.flows.end(), *flow) == options.flows.end()) {
        continue;
      }
    }
    line = options.json ? format_event_json(event, index) : format_event_line(event);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    if (options.limit != 0 && ++shown >= options.limit) break;
  }
  bool stopped_early = options.limit != 0 && shown >= options.limit;
  if (!options.json && !stopped_early) {
    const auto& footer = reader->footer();
    fmt::print("\n{} events", index);
    if (footer) {
      fmt::print(", footer: {} events, digest {:016x}, {}", footer->event_count, footer->digest,
                 footer->complete ? "complete" : "INCOMPLETE");
      if (footer->skipped_records)
        fmt::print(", {} input records skipped", footer->skipped_records);
    } else {
      fmt::print(", no footer");
    }
    if (reader->stats().skipped_unknown_events) {
      fmt::print(", {} events of unknown kinds skipped", reader->stats().skipped_unknown_events);
    }
    fmt::print("\n");
  }
  std::fflush(stdout);
  if (stopped_early) return kExitOk;
  return report_read_issues(*reader, options.path);
}

}  // namespace

Subcommand add_inspect(CLI::App& parent) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* app = parent.add_subcommand(
      "inspect", "Print the events of a trace: one line each, or one JSON object each (--json)");
  app->add_option("TRACE", options->path, "Trace file ('-': standard input)")->required();
  app->add_flag("--json", options->json, "One JSON object per event (JSON Lines) on stdout");
  app->add_option("--kind", options->kinds,
                  "Only these event kinds (spawn, exec, exit, file, flow, lookup, verdict, "
                  "marker, dropped); repeat or separate with commas")
      ->delimiter(',');
  app->add_option("--flow", options->flows, "Only flows, lookups and verdicts of these flow ids")
      ->delimiter(',');
  app->add_option("--limit", options->limit, "Stop after this many events (0 = all)");
  app->add_flag("--no-header", options->no_header, "Human output without the trace header");
  app->add_flag("--header", options->header_only,
                "Only the trace header (with --json: one object, docs/schemas/header.schema.json)");
  app->footer(help_footer(
      "flowid sample -o s.trace && flowid inspect --kind lookup --flow 2 s.trace",
      "0 the trace is clean; 2 usage; 3 the trace could not be read at all, or standard output "
      "could\n"
      "not be written; 4 the trace was cut short or damaged (every readable event is still "
      "printed).",
      "Problems in the trace (cut short, damaged chunks) go to stderr with the byte offset."));
  return {app, [options] { return run_inspect(*options); }};
}

}  // namespace flowid::cli
