// Runs parsers over inputs: reads each input in fixed-size blocks, splits lines (a line longer
// than the limit is a bad record, and reading resumes at the next newline), and owns the trace
// header that says how the import mapped identity.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "import/context.h"
#include "import/parser.h"
#include "import/text.h"

namespace flowid::import {
namespace {

// Input is read in blocks of this size; with the carried partial line this bounds the reader's
// memory to about 2 blocks plus one line.
constexpr std::size_t kReadBlockBytes = 1u << 20;

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
     "procPID/eprocPID are bare pids: flow tokens are left absent (never given an invented "
     "pidversion) unless the description block carries a complete token"},
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
  LineSplitter(LineParser& parser, ImportContext& context)
      : parser_(parser), context_(context) {}

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
      context_.bad_record(line_number_, "line too long",
                          fmt::format("line longer than {} bytes",
                                      context_.options().limits.line_bytes_max));
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
      for (std::string_view key : {"\"process_exec\"", "\"process_exit\"", "\"process_connect\"",
                                   "\"process_close\"", "\"process_kprobe\"",
                                   "\"process_listen\""}) {
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
    input_list += fmt::format("{}{} ({})", input_list.empty() ? "" : ", ", input.name,
                              name_of(input.format));
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

ImportStatus import_streams(const std::vector<InputSpec>& inputs,
                            const std::vector<ByteSource>& sources, const ImportOptions& options,
                            const WriterFactory& open_writer, ImportStats& stats,
                            const ProgressFn& progress) {
  ImportContext context(header_for(inputs, options), options, open_writer, stats);
  // One parser per format, kept across inputs of that format so identity tables carry over
  // from one file of a capture to the next.
  std::array<std::unique_ptr<LineParser>, kFormatCount> parsers;
  std::vector<char> block(kReadBlockBytes);
  ImportStatus status = ImportStatus::kOk;
  uint64_t progress_mark = 0;
  for (std::size_t i = 0; i < inputs.size() && status == ImportStatus::kOk; ++i) {
    auto& parser = parsers[static_cast<std::size_t>(inputs[i].format)];
    if (!parser) parser = make_parser(inputs[i].format, context);
    context.set_input(inputs[i].name);
    parser->begin_input();
    LineSplitter splitter(*parser, context);
    for (;;) {
      std::string read_error;
      int64_t n = sources[i](block.data(), block.size(), &read_error);
      if (n < 0) {
        stats.error = fmt::format("{}: {}", inputs[i].name,
                                  read_error.empty() ? "read error" : read_error);
        status = ImportStatus::kUnreadable;
        break;
      }
      if (n == 0) break;
      stats.input_bytes += static_cast<uint64_t>(n);
      splitter.feed(std::string_view(block.data(), static_cast<std::size_t>(n)));
      if (context.stopped()) break;
      if (progress && stats.input_bytes - progress_mark >= kReadBlockBytes) {
        progress_mark = stats.input_bytes;
        progress(stats, stats.input_bytes);
      }
    }
    if (status == ImportStatus::kOk && !context.stopped()) {
      splitter.finish();
      if (!context.stopped()) parser->end_input();
    }
    if (context.output_failed()) status = ImportStatus::kOutputFailed;
    else if (context.stopped()) status = ImportStatus::kBadRecord;
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
  return import_streams(inputs, sources, options, factory, stats);
}

}  // namespace flowid::import
