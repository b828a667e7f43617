// Runs parsers over inputs: reads each input in fixed-size blocks, splits lines (a line longer
// than the limit is a bad record, and reading resumes at the next newline), and owns the trace
// header that says how the import mapped identity.
#include <fmt/format.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "import/context.h"
#include "import/parser.h"
#include "import/text.h"

namespace flowid::import {
namespace {

// Progress is reported after each this many input bytes.
constexpr std::size_t kProgressEveryBytes = 1u << 20;
// Inputs further apart than this get a Marker saying so (a gap between inputs).
constexpr uint64_t kGapReportedNs = 1'000'000'000ULL;

struct FormatInfo {
  Format format;
  std::string_view name;
  std::string_view os;
  std::string_view identity;
};

constexpr FormatInfo kFormats[kFormatCount] = {
    {Format::kEslogger, "eslogger", "macOS",
     "audit tokens as recorded by Endpoint Security (pid, pidversion from the source)"},
    {Format::kNeFilterFlow, "nefilterflow", "macOS",
     "procPID/eprocPID are bare pids: never given an invented pidversion; flow tokens come "
     "from a complete token in the description, or from a join by (pid, time) with another "
     "input's executions (import.flow_tokens), else stay absent"},
    {Format::kTetragon, "tetragon", "Linux",
     "exec_id names an execution: pidversion = flowid's ordinal of each exec_id in first-seen "
     "order (a Marker per exec_id keeps the mapping); uid -> ruid and euid; egid, rgid, asid "
     "not in the source (0)"},
    {Format::kAuditd, "auditd", "Linux",
     "pid-only: versions inferred from record order (a new version at each successful clone / "
     "fork / vfork child and each execve); auid, uid, gid, euid, egid, ses -> asid from the "
     "SYSCALL record"},
};

const FormatInfo& info(Format format) { return kFormats[static_cast<std::size_t>(format)]; }

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Splits blocks into lines for a parser, with line numbers and the line length limit.
class LineSplitter {
 public:
  LineSplitter(LineParser& parser, ImportContext& context) : parser_(parser), context_(context) {}

  void feed(std::string_view block) {
    while (!block.empty() && !context_.stopped()) {
      const char* newline = static_cast<const char*>(std::memchr(block.data(), '\n', block.size()));
      if (newline == nullptr) {
        append_partial(block);
        return;
      }
      std::size_t length = static_cast<std::size_t>(newline - block.data());
      if (carry_.empty() && !skipping_) {
        emit(block.substr(0, length));
      } else {
        append_partial(block.substr(0, length));
        if (!skipping_) emit(carry_);
        carry_.clear();
        skipping_ = false;
      }
      block.remove_prefix(length + 1);
    }
  }

  void finish() {
    if (!context_.stopped() && (!carry_.empty() || skipping_)) {
      if (!skipping_) emit(carry_);
      carry_.clear();
      skipping_ = false;
    }
  }

 private:
  void append_partial(std::string_view piece) {
    if (skipping_) return;
    if (carry_.size() + piece.size() > context_.options().limits.line_bytes_max) {
      context_.stats().input_lines++;
      ++line_number_;
      context_.bad_record(
          line_number_, "line too long",
          fmt::format("line longer than {} bytes", context_.options().limits.line_bytes_max));
      carry_.clear();
      carry_.shrink_to_fit();
      skipping_ = true;
      return;
    }
    carry_.append(piece);
  }

  void emit(std::string_view line) {
    ++line_number_;
    context_.stats().input_lines++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    parser_.line(line, line_number_);
  }

  LineParser& parser_;
  ImportContext& context_;
  std::string carry_;
  uint64_t line_number_ = 0;
  // After an over-long line: drop bytes until the next newline (that line was counted).
  bool skipping_ = false;
};

}  // namespace

std::string_view name_of(Format format) { return info(format).name; }

std::optional<Format> parse_format(std::string_view name) {
  for (const auto& f : kFormats) {
    if (f.name == name) return f.format;
  }
  return std::nullopt;
}

std::optional<Format> detect_format(std::string_view head) {
  // Look at up to this many meaningful lines.
  constexpr int kLinesExamined = 32;
  int examined = 0;
  std::size_t offset = 0;
  while (offset < head.size() && examined < kLinesExamined) {
    std::size_t end = head.find('\n', offset);
    if (end == std::string_view::npos) end = head.size();
    std::string_view t = trim(head.substr(offset, end - offset));
    const std::size_t line_start = offset;
    offset = end + 1;
    if (t.empty() || t.front() == '#') continue;
    ++examined;
    if (t.front() == '{') {
      // Judge JSON by its keys anywhere in the rest of the head: pretty-printed records span
      // lines.
      std::string_view rest = head.substr(line_start);
      for (std::string_view key :
           {"\"process_exec\"", "\"process_exit\"", "\"process_connect\"", "\"process_close\"",
            "\"process_kprobe\"", "\"process_listen\""}) {
        if (rest.find(key) != std::string_view::npos) return Format::kTetragon;
      }
      if (rest.find("\"event_type\"") != std::string_view::npos &&
          (rest.find("\"audit_token\"") != std::string_view::npos ||
           rest.find("\"schema_version\"") != std::string_view::npos)) {
        return Format::kEslogger;
      }
      return std::nullopt;
    }
    std::string_view record = t;
    if (starts_with(record, "node=")) {
      std::size_t space = record.find(' ');
      record = space == std::string_view::npos ? std::string_view{} : record.substr(space + 1);
    }
    if (starts_with(record, "type=") && record.find(" msg=audit(") != std::string_view::npos) {
      return Format::kAuditd;
    }
    if (t == "----" || starts_with(t, "time->")) return Format::kAuditd;
    std::size_t consumed = 0;
    bool had_offset = false;
    if (parse_log_timestamp(t, &consumed, &had_offset)) return Format::kNeFilterFlow;
    if (starts_with(t, "Filtering the log data") || starts_with(t, "Timestamp  ")) {
      return Format::kNeFilterFlow;
    }
  }
  return std::nullopt;
}

trace::TraceHeader header_for(const std::vector<InputSpec>& inputs, const ImportOptions& options) {
  trace::TraceHeader header;
  std::vector<Format> formats;
  for (const auto& input : inputs) {
    if (std::find(formats.begin(), formats.end(), input.format) == formats.end()) {
      formats.push_back(input.format);
    }
  }
  std::string names;
  for (Format f : formats) names += fmt::format("{}{}", names.empty() ? "" : "+", name_of(f));
  header.recorder = fmt::format("flowid import:{}", names.empty() ? "none" : names);
  if (!formats.empty()) {
    header.os = std::string(info(formats.front()).os);
    for (Format f : formats) {
      if (info(f).os != header.os) header.os = "mixed";
    }
  }
  header.clock = "wall clock of the source (UTC), relative to start_wall_time_ns";
  header.time_unit_ns = 1;
  header.caller.description = "imported field trace (no lookups recorded)";
  auto& config = header.resolver_config;
  std::string input_list;
  for (const auto& input : inputs) {
    input_list +=
        fmt::format("{}{} ({})", input_list.empty() ? "" : ", ", input.name, name_of(input.format));
  }
  config.emplace_back("import.inputs", input_list);
  config.emplace_back("import.mode", options.lenient ? "lenient (bad records skipped, counted in "
                                                       "the footer and marked by DroppedEvents)"
                                                     : "strict (stops at the first bad record)");
  for (Format f : formats) {
    config.emplace_back(fmt::format("import.identity.{}", name_of(f)), info(f).identity);
  }
  config.emplace_back(
      "import.pre_existing",
      "an execution first seen as the subject of a record gets a ProcessSpawn there, after a "
      "Marker 'pre-existing execution ...'; a pid taken over without a recorded exit gets an "
      "implied ProcessExit after a Marker 'implied exit ...'");
  config.emplace_back("import.exit_stage",
                      "reaped (the sources report exits, not reaps; a pid is reused only after "
                      "its reap)");
  config.emplace_back(
      "import.flow_tokens",
      "tetragon: the connecting process's exec_id; auditd: the connecting pid's execution as "
      "inferred from record order; nefilterflow: a complete token printed in the description, "
      "else, when another input describes executions, joined by (procPID, time) with the "
      "execution holding the pid then (or its previous one when sourceAppIdentifier names that "
      "one and not the holder), a Marker 'token by join: ...' before each such flow; else "
      "absent");
  config.emplace_back("import.order",
                      "one input: as read; several: read in order of first timestamps (pid-only "
                      "flow logs last), merged by timestamp, ties in the order given; within an "
                      "input, a step back of more than 1 s starts a segment placed 1 s after the "
                      "latest event, its times shifted by the constant its Marker 'time steps "
                      "back ...' gives");
  config.emplace_back("import.address_family",
                      "AF_* numbers of the source's OS (Linux AF_INET6 = 10, macOS 30)");
  return header;
}

std::unique_ptr<LineParser> make_parser(Format format, ImportContext& context) {
  switch (format) {
    case Format::kEslogger:
      return make_eslogger_parser(context);
    case Format::kNeFilterFlow:
      return make_nefilterflow_parser(context);
    case Format::kTetragon:
      return make_tetragon_parser(context);
    case Format::kAuditd:
      return make_auditd_parser(context);
  }
  return nullptr;
}

std::optional<uint64_t> first_timestamp(std::string_view head, Format format) {
  switch (format) {
    case Format::kAuditd: {
      constexpr std::string_view kMsg = "msg=audit(";
      for (std::size_t at = head.find(kMsg); at != std::string_view::npos;
           at = head.find(kMsg, at + 1)) {
        std::string_view id = head.substr(at + kMsg.size(), 32);
        std::size_t dot = id.find('.');
        std::size_t colon = id.find(':');
        if (dot == std::string_view::npos || colon == std::string_view::npos || colon < dot) {
          continue;
        }
        auto seconds = parse_uint(id.substr(0, dot));
        auto millis = parse_uint(id.substr(dot + 1, colon - dot - 1));
        if (seconds && millis && *millis <= 999 && *seconds <= 10'000'000'000ULL) {
          return *seconds * 1'000'000'000ULL + *millis * 1'000'000ULL;
        }
      }
      return std::nullopt;
    }
    case Format::kNeFilterFlow: {
      std::size_t offset = 0;
      while (offset < head.size()) {
        std::size_t end = head.find('\n', offset);
        if (end == std::string_view::npos) end = head.size();
        std::size_t consumed = 0;
        bool had_offset = false;
        if (auto t =
                parse_log_timestamp(head.substr(offset, end - offset), &consumed, &had_offset)) {
          return t;
        }
        offset = end + 1;
      }
      return std::nullopt;
    }
    case Format::kEslogger:
    case Format::kTetragon: {
      // Both put the event's time in a top-level "time": "ISO 8601" (nested keys that end in
      // time, such as "mach_time", do not match the quoted key).
      constexpr std::string_view kKey = "\"time\"";
      for (std::size_t at = head.find(kKey); at != std::string_view::npos;
           at = head.find(kKey, at + 1)) {
        std::size_t open = head.find('"', at + kKey.size());
        if (open == std::string_view::npos) return std::nullopt;
        std::string_view between = trim(head.substr(at + kKey.size(), open - at - kKey.size()));
        if (between != ":") continue;
        std::size_t close = head.find('"', open + 1);
        if (close == std::string_view::npos) return std::nullopt;
        if (auto t = parse_iso8601_ns(head.substr(open + 1, close - open - 1))) return t;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

namespace {

std::size_t read_block_bytes(const ImportOptions& options) {
  return static_cast<std::size_t>(std::max<uint64_t>(options.limits.read_block_bytes, 1));
}

// One input being read: its bytes come first from `head` (read ahead to find the first
// timestamp), then from its source.
struct PendingInput {
  std::size_t index = 0;  // position on the command line.
  std::string head;
  bool head_done = false;
  bool ended = false;  // the source reached its end while the head was read.
  std::optional<uint64_t> first_ns;
};

// Reads one input through its parser. Returns kOk, kUnreadable or (context stopped) kBadRecord.
ImportStatus read_input(const InputSpec& spec, const ByteSource& source, PendingInput& pending,
                        LineParser& parser, ImportContext& context, std::vector<char>& block,
                        ImportStats& stats, const ProgressFn& progress, uint64_t& progress_mark) {
  context.set_input(spec.name);
  parser.begin_input();
  LineSplitter splitter(parser, context);
  if (!pending.head.empty()) {
    stats.input_bytes += pending.head.size();
    splitter.feed(pending.head);
    pending.head.clear();
    pending.head.shrink_to_fit();
  }
  while (!pending.ended && !context.stopped()) {
    std::string read_error;
    int64_t n = source(block.data(), block.size(), &read_error);
    if (n == kSourceIdle) {
      context.flush_output();
      continue;
    }
    if (n < 0) {
      stats.error =
          fmt::format("{}: {}", spec.name, read_error.empty() ? "read error" : read_error);
      return ImportStatus::kUnreadable;
    }
    if (n == 0) break;
    stats.input_bytes += static_cast<uint64_t>(n);
    splitter.feed(std::string_view(block.data(), static_cast<std::size_t>(n)));
    if (progress && stats.input_bytes - progress_mark >= kProgressEveryBytes) {
      progress_mark = stats.input_bytes;
      progress(stats, stats.input_bytes);
    }
  }
  if (!context.stopped()) {
    splitter.finish();
    if (!context.stopped()) parser.end_input();
  }
  if (context.output_failed()) return ImportStatus::kOutputFailed;
  return context.stopped() ? ImportStatus::kBadRecord : ImportStatus::kOk;
}

// Reads the first block of an input to find its first timestamp.
bool read_head(const InputSpec& spec, const ByteSource& source, PendingInput& pending,
               ImportStats& stats) {
  // One read is enough to find the first timestamp in all but odd inputs: 64 KiB at most.
  constexpr std::size_t kHeadBytes = 64u << 10;
  pending.head.resize(kHeadBytes);
  std::size_t got = 0;
  while (got < pending.head.size()) {
    std::string read_error;
    int64_t n = source(pending.head.data() + got, pending.head.size() - got, &read_error);
    if (n == kSourceIdle) {
      if (got > 0) break;  // enough to look for a timestamp; the rest comes later.
      continue;
    }
    if (n < 0) {
      stats.error =
          fmt::format("{}: {}", spec.name, read_error.empty() ? "read error" : read_error);
      return false;
    }
    if (n == 0) {
      pending.ended = true;
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  pending.head.resize(got);
  pending.head.shrink_to_fit();  // every input's head is held until the input is read.
  pending.first_ns = first_timestamp(pending.head, spec.format);
  return true;
}

// A spill: the events of a run of inputs, in memory or in a temporary file.
struct Spill {
  std::string bytes;
  std::string path;
  std::optional<uint64_t> first_ns;
  std::optional<uint64_t> last_ns;
  std::size_t order = 0;  // the command-line position of its first input (tie-break).
  ~Spill() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

std::unique_ptr<trace::TraceWriter> open_spill(const ImportOptions& options, Spill& spill,
                                               std::string* error) {
  trace::TraceHeader header;
  header.recorder = "flowid import spill";
  trace::WriterOptions writer_options;
  writer_options.compression = trace::Compression::kNone;
  if (options.spill_dir.empty()) return trace::memory_writer(&spill.bytes, header, writer_options);
  // Spill files are compressed: the merge maps them, and small files keep its resident memory
  // small.
  writer_options.compression = trace::Compression::kZstd;
  std::string templ = options.spill_dir + "/flowid-import-XXXXXX";
  int fd = ::mkstemp(templ.data());
  if (fd < 0) {
    *error = fmt::format("{}: cannot create a temporary file: {}", options.spill_dir,
                         std::strerror(errno));
    return nullptr;
  }
  ::close(fd);
  spill.path = templ;
  return trace::open_writer(spill.path, header, writer_options, error);
}

std::string seconds_text(uint64_t ns) {
  return fmt::format("{:.3f} s", static_cast<double>(ns) / 1e9);
}

// Merges the spills by time (ties: command-line order, then each spill's own order) into the
// output, whose time 0 is the earliest timestamp.
bool merge_spills(std::vector<std::unique_ptr<Spill>>& spills, ImportContext& context,
                  ImportStats& stats) {
  std::optional<uint64_t> epoch;
  for (const auto& s : spills) {
    if (s->first_ns && (!epoch || *s->first_ns < *epoch)) epoch = s->first_ns;
  }
  if (!context.open_merged(epoch.value_or(0))) return false;
  struct Cursor {
    std::unique_ptr<trace::TraceReader> reader;
    Event head;
    bool has = false;
    std::size_t order = 0;
  };
  std::vector<Cursor> cursors;
  for (const auto& s : spills) {
    Cursor c;
    c.reader = s->path.empty() ? trace::memory_reader(s->bytes) : trace::open_reader(s->path);
    if (!c.reader->ok()) {
      stats.error = fmt::format("cannot read back a temporary spill of the import");
      return false;
    }
    c.order = s->order;
    c.has = c.reader->next(c.head);
    cursors.push_back(std::move(c));
  }
  const uint64_t base = epoch.value_or(0);
  for (;;) {
    Cursor* best = nullptr;
    for (auto& c : cursors) {
      if (!c.has) continue;
      if (best == nullptr || c.head.time_ns < best->head.time_ns ||
          (c.head.time_ns == best->head.time_ns && c.order < best->order)) {
        best = &c;
      }
    }
    if (best == nullptr) break;
    Event e = std::move(best->head);
    e.time_ns = e.time_ns >= base ? e.time_ns - base : 0;
    context.write_merged(e);
    if (context.output_failed()) return false;
    best->has = best->reader->next(best->head);
  }
  return true;
}

// Several inputs: read in order of first timestamps (pid-only flow logs last), spilled, merged.
ImportStatus import_several(const std::vector<InputSpec>& inputs,
                            const std::vector<ByteSource>& sources, const ImportOptions& options,
                            ImportContext& context, ImportStats& stats,
                            const ProgressFn& progress) {
  std::vector<PendingInput> pending(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    pending[i].index = i;
    if (!read_head(inputs[i], sources[i], pending[i], stats)) return ImportStatus::kUnreadable;
  }
  std::vector<std::size_t> order(inputs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](std::size_t i) {
    return std::make_pair(inputs[i].format == Format::kNeFilterFlow ? 1 : 0,
                          pending[i].first_ns.value_or(UINT64_MAX));
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return key(a) < key(b); });

  // Executions are remembered for joins only when there is a flow log to join.
  const bool pid_only = std::any_of(inputs.begin(), inputs.end(), [](const InputSpec& in) {
    return in.format == Format::kNeFilterFlow;
  });
  const bool lifecycle = std::any_of(inputs.begin(), inputs.end(), [](const InputSpec& in) {
    return in.format != Format::kNeFilterFlow;
  });
  if (pid_only && lifecycle) context.enable_pid_history();
  std::array<std::unique_ptr<LineParser>, kFormatCount> parsers;
  std::vector<std::unique_ptr<Spill>> spills;
  std::vector<char> block(read_block_bytes(options));
  uint64_t progress_mark = 0;
  ImportStatus status = ImportStatus::kOk;
  std::optional<uint64_t> latest;  // the latest time of every input read so far.
  std::string latest_input;
  for (std::size_t i : order) {
    const InputSpec& spec = inputs[i];
    // An input that starts where the current spill ends continues it; one that starts earlier
    // gets its own spill, merged by time.
    const std::optional<uint64_t> first = pending[i].first_ns;
    const bool continues =
        !spills.empty() && first && spills.back()->last_ns && *first >= *spills.back()->last_ns;
    if (!continues) {
      if (!spills.empty() && !context.end_spill()) return ImportStatus::kOutputFailed;
      spills.push_back(std::make_unique<Spill>());
      spills.back()->order = i;
      std::string error;
      auto writer = open_spill(options, *spills.back(), &error);
      if (!writer) {
        stats.error = error;
        return ImportStatus::kOutputFailed;
      }
      context.begin_spill(std::move(writer));
    }
    Spill& spill = *spills.back();
    // The Markers below are the input's own first events, not a time jump of the input before.
    context.set_input(spec.name);
    if (first && latest && *first > *latest + kGapReportedNs) {
      context.marker(fmt::format("input {} starts {} after the last event of {}: a gap between "
                                 "inputs (no input recorded anything in between), not lost "
                                 "events",
                                 spec.name, seconds_text(*first - *latest), latest_input),
                     *first);
    } else if (first && latest && *first < *latest) {
      context.marker(fmt::format("input {} overlaps {} by {}: their events are merged by "
                                 "timestamp",
                                 spec.name, latest_input, seconds_text(*latest - *first)),
                     *first);
    }
    auto& parser = parsers[static_cast<std::size_t>(spec.format)];
    if (!parser) parser = make_parser(spec.format, context);
    status = read_input(spec, sources[i], pending[i], *parser, context, block, stats, progress,
                        progress_mark);
    spill.first_ns = context.spill_first_wall_ns();
    if (auto last = context.spill_last_wall_ns()) {
      spill.last_ns = last;
      if (!latest || *last > *latest) {
        latest = last;
        latest_input = spec.name;
      }
    }
    if (status != ImportStatus::kOk) break;
  }
  if (!spills.empty() && !context.end_spill() && status == ImportStatus::kOk) {
    status = ImportStatus::kOutputFailed;
  }
  if (status == ImportStatus::kOutputFailed) return status;
  if (!merge_spills(spills, context, stats)) return ImportStatus::kOutputFailed;
  return status;
}

}  // namespace

ImportStatus import_streams(const std::vector<InputSpec>& inputs,
                            const std::vector<ByteSource>& sources, const ImportOptions& options,
                            const WriterFactory& open_writer, ImportStats& stats,
                            const ProgressFn& progress) {
  ImportContext context(header_for(inputs, options), options, open_writer, stats);
  ImportStatus status = ImportStatus::kOk;
  if (inputs.size() == 1) {
    auto parser = make_parser(inputs[0].format, context);
    PendingInput pending;
    std::vector<char> block(read_block_bytes(options));
    uint64_t progress_mark = 0;
    status = read_input(inputs[0], sources[0], pending, *parser, context, block, stats, progress,
                        progress_mark);
  } else if (!inputs.empty()) {
    status = import_several(inputs, sources, options, context, stats, progress);
    if (status == ImportStatus::kOutputFailed && !context.output_failed()) {
      // A spill could not be made or read back: nothing can be written.
      return status;
    }
  }
  std::optional<std::string> note;
  if (status == ImportStatus::kBadRecord || status == ImportStatus::kUnreadable) {
    note = fmt::format("import stopped: {}", stats.error.value_or("error"));
  }
  if (!context.finish(note) && status != ImportStatus::kUnreadable) {
    status = ImportStatus::kOutputFailed;
  }
  return status;
}

ImportStatus import_bytes(std::string_view bytes, Format format, const ImportOptions& options,
                          std::string* trace_bytes, ImportStats& stats, std::string_view name,
                          const trace::WriterOptions& writer_options) {
  std::vector<InputSpec> inputs{InputSpec{std::string(name), format}};
  ImportOptions sized = options;
  sized.limits.read_block_bytes =
      std::clamp<uint64_t>(bytes.size(), 1, std::max<uint64_t>(options.limits.read_block_bytes, 1));
  std::size_t offset = 0;
  std::vector<ByteSource> sources{
      [&bytes, &offset](char* buffer, std::size_t capacity, std::string*) -> int64_t {
        std::size_t n = std::min(capacity, bytes.size() - offset);
        std::memcpy(buffer, bytes.data() + offset, n);
        offset += n;
        return static_cast<int64_t>(n);
      }};
  WriterFactory factory = [trace_bytes, &writer_options](const trace::TraceHeader& header,
                                                         std::string*) {
    return trace::memory_writer(trace_bytes, header, writer_options);
  };
  return import_streams(inputs, sources, sized, factory, stats);
}

}  // namespace flowid::import
