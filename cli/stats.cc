// `flowid stats TRACE`: what a trace holds and what it costs — counts per kind, time span, bytes
// per event, compression.
#include <fmt/format.h>

#include <limits>
#include <memory>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/trace_io.h"
#include "harness/event_format.h"

namespace flowid::cli {
namespace {

struct StatsOptions {
  std::string path;
  bool json = false;
};

double ratio(uint64_t numerator, uint64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

int run_stats(const StatsOptions& options) {
  auto reader = open_trace(options.path);
  if (!reader) return kExitInputError;

  std::array<uint64_t, kEventKindCount> counts{};
  uint64_t events = 0;
  uint64_t first_ns = std::numeric_limits<uint64_t>::max();
  uint64_t last_ns = 0;
  Event event;
  while (reader->next(event)) {
    ++counts[static_cast<std::size_t>(event.kind())];
    ++events;
    first_ns = std::min(first_ns, event.time_ns);
    last_ns = std::max(last_ns, event.time_ns);
  }
  if (events == 0) first_ns = 0;
  const auto& stats = reader->stats();
  const auto& footer = reader->footer();
  const uint64_t span_ns = last_ns - first_ns;

  if (options.json) {
    // docs/schemas/stats.schema.json; every key present (digest null without a footer).
    nlohmann::ordered_json json;
    json["report"] = "stats";
    json["file"] = options.path;
    json["events"] = events;
    json["counts"] = nlohmann::ordered_json::object();
    for (int k = 0; k < kEventKindCount; ++k) {
      json["counts"][std::string(name_of(static_cast<EventKind>(k)))] =
          counts[static_cast<std::size_t>(k)];
    }
    json["first_ns"] = first_ns;
    json["last_ns"] = last_ns;
    json["span_ns"] = span_ns;
    json["file_bytes"] = stats.file_bytes;
    json["chunks"] = stats.chunk_count;
    json["stored_payload_bytes"] = stats.stored_payload_bytes;
    json["raw_payload_bytes"] = stats.raw_payload_bytes;
    json["bytes_per_event"] = ratio(stats.file_bytes, events);
    json["raw_bytes_per_event"] = ratio(stats.raw_payload_bytes, events);
    json["compression_ratio"] = ratio(stats.raw_payload_bytes, stats.stored_payload_bytes);
    json["zstd_chunks"] =
        stats.chunks_by_compression[static_cast<std::size_t>(trace::Compression::kZstd)];
    json["skipped_unknown_events"] = stats.skipped_unknown_events;
    json["footer"] = footer.has_value();
    json["complete"] = footer && footer->complete;
    json["clean"] = reader->clean();
    json["issues"] = reader->issues().size();
    json["digest"] = footer ? nlohmann::ordered_json(fmt::format("{:016x}", footer->digest))
                            : nlohmann::ordered_json(nullptr);
    print_json(json);
  } else {
    fmt::print("trace      {}\n", options.path);
    fmt::print("recorder   {}\n",
               reader->header().recorder.empty() ? "-" : reader->header().recorder);
    fmt::print("events     {}\n", events);
    for (int k = 0; k < kEventKindCount; ++k) {
      auto count = counts[static_cast<std::size_t>(k)];
      if (count == 0) continue;
      fmt::print("  {:<9}{:>12}  {:5.1f}%\n", name_of(static_cast<EventKind>(k)), count,
                 100.0 * ratio(count, events));
    }
    fmt::print("time span  {} .. {} ({:.6f} s)\n", format_time_ns(first_ns),
               format_time_ns(last_ns), static_cast<double>(span_ns) / 1e9);
    fmt::print("file       {} bytes in {} chunks ({} zstd)\n", stats.file_bytes, stats.chunk_count,
               stats.chunks_by_compression[static_cast<std::size_t>(trace::Compression::kZstd)]);
    fmt::print("per event  {:.1f} bytes on disk, {:.1f} bytes unpacked\n",
               ratio(stats.file_bytes, events), ratio(stats.raw_payload_bytes, events));
    fmt::print("compression {:.2f}:1 (unpacked payload : stored payload)\n",
               ratio(stats.raw_payload_bytes, stats.stored_payload_bytes));
    if (stats.skipped_unknown_events) {
      fmt::print("skipped    {} events of kinds newer than this flowid\n",
                 stats.skipped_unknown_events);
    }
    if (footer) {
      fmt::print("footer     {} events, digest {:016x}, {}\n", footer->event_count, footer->digest,
                 footer->complete ? "complete" : "INCOMPLETE");
      if (footer->skipped_records) {
        fmt::print("           {} input records were skipped when this trace was made\n",
                   footer->skipped_records);
      }
    } else {
      fmt::print("footer     none (the writer did not finish: crash or kill)\n");
    }
  }
  std::fflush(stdout);
  return report_read_issues(*reader, options.path);
}

}  // namespace

Subcommand add_stats(CLI::App& parent) {
  auto options = std::make_shared<StatsOptions>();
  CLI::App* app = parent.add_subcommand(
      "stats", "Counts per event kind, time span, bytes per event and compression of a trace");
  app->add_option("TRACE", options->path, "Trace file ('-': standard input)")->required();
  app->add_flag("--json", options->json, "One JSON object on stdout");
  app->footer(help_footer(
      "flowid stats --json s.trace",
      "0 the trace is clean; 2 usage; 3 the trace could not be read at all, or standard\n"
      "output could not be written; 4 the trace was cut short or damaged (counts cover what\n"
      "was readable)."));
  return {app, [options] { return run_stats(*options); }};
}

}  // namespace flowid::cli
