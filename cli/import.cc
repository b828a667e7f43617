// `flowid import [--format F] INPUT... -o OUT.trace`: converts field traces (eslogger JSON,
// NEFilterFlow log descriptions, Tetragon JSON, auditd records) into one flowid trace.
//
// Exit codes: 0 imported (in --lenient mode possibly with skipped records, listed on stderr);
// 2 usage; 3 an input could not be read or its format not recognised, or the output could not
// be written; 4 strict mode stopped at a bad record: the output trace is still finished and
// valid, holds everything before that record and ends with a marker naming it.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "import/import.h"

namespace flowid::cli {
namespace {

// SIGINT / SIGTERM during an import: the signal number. Reads then stop, and the import finishes
// the trace (complete chunks, a Marker saying it was interrupted, the footer) instead of dying
// with a trace that has no footer.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_stop_signal(int signo) { g_interrupted = signo; }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR and sees the flag.
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

// How long a read waits for input before the import flushes what it has (a streaming import
// whose source is quiet still gets its events onto disk).
constexpr int kIdleFlushMs = 500;

struct ImportCliOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string format;
  bool lenient = false;
  bool quiet = false;
  bool zstd = true;
};

// An input file (or stdin for "-") whose first block was read ahead for format detection.
struct OpenInput {
  std::string name;
  int fd = -1;
  std::string head;
  std::size_t head_offset = 0;
  uint64_t size_bytes = 0;  // 0 when unknown.
  ~OpenInput() {
    if (fd > 0) ::close(fd);
  }
};

constexpr std::size_t kDetectBytes = 64u << 10;

bool open_input(const std::string& name, OpenInput& input, std::string* error) {
  input.name = name;
  if (name == "-") {
    input.fd = 0;
  } else {
    input.fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (input.fd < 0) {
      *error = fmt::format("{}: {}", name, std::strerror(errno));
      return false;
    }
    struct stat st {};
    if (::fstat(input.fd, &st) == 0 && S_ISREG(st.st_mode)) {
      input.size_bytes = static_cast<uint64_t>(st.st_size);
    }
    if (::fstat(input.fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      *error = fmt::format("{}: is a directory", name);
      return false;
    }
  }
  input.head.resize(kDetectBytes);
  std::size_t got = 0;
  while (got < kDetectBytes && g_interrupted == 0) {
    // A pipe (log stream | flowid import -) may be slow: once a few whole lines are in, do
    // not wait for 64 KiB before starting.
    if (input.size_bytes == 0 && got > 0 && std::memchr(input.head.data(), '\n', got) != nullptr) {
      pollfd ready{input.fd, POLLIN, 0};
      if (::poll(&ready, 1, kIdleFlushMs) == 0) break;
    }
    ssize_t n = ::read(input.fd, input.head.data() + got, kDetectBytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = fmt::format("{}: {}", name, std::strerror(errno));
      return false;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  input.head.resize(got);
  input.head.shrink_to_fit();  // a folder of small files is many heads held at once.
  return true;
}

std::string summary_line(const import::ImportStats& stats) {
  std::string kinds;
  for (int k = 0; k < kEventKindCount; ++k) {
    if (stats.events_by_kind[static_cast<std::size_t>(k)] == 0) continue;
    kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ",
                         stats.events_by_kind[static_cast<std::size_t>(k)],
                         name_of(static_cast<EventKind>(k)));
  }
  return kinds.empty() ? "no events" : kinds;
}

void print_counts(std::string_view title, const std::map<std::string, uint64_t, std::less<>>& m) {
  if (m.empty()) return;
  uint64_t total = 0;
  for (const auto& [reason, count] : m) total += count;
  fmt::print(stderr, "  {} {}:\n", total, title);
  for (const auto& [reason, count] : m) fmt::print(stderr, "    {:>8}  {}\n", count, reason);
}

// Opens every input and names its format (--format, or detected from its first bytes). Returns
// the exit code (the problem printed) when one cannot be opened or recognised, else kExitOk.
int open_import_inputs(const ImportCliOptions& options, const std::optional<import::Format>& forced,
                       std::vector<std::unique_ptr<OpenInput>>* opened,
                       std::vector<import::InputSpec>* specs) {
  for (const auto& name : options.inputs) {
    auto input = std::make_unique<OpenInput>();
    std::string error;
    if (!open_input(name, *input, &error)) {
      print_error("import", "{}", error);
      return kExitInputError;
    }
    import::InputSpec spec{name, forced.value_or(import::Format::kEslogger)};
    if (!forced) {
      auto detected = import::detect_format(input->head);
      if (!detected) {
        fmt::print(stderr,
                   "flowid import: {}: format not recognised (give --format eslogger|"
                   "nefilterflow|tetragon|auditd)\n",
                   name);
        return kExitInputError;
      }
      spec.format = *detected;
    }
    specs->push_back(spec);
    opened->push_back(std::move(input));
  }
  return kExitOk;
}

// A byte source per input: the bytes read for detection first, then the descriptor, polled so
// that an idle stream lets the importer flush (kSourceIdle) and an interrupt ends the read.
std::vector<import::ByteSource> byte_sources(
    const std::vector<std::unique_ptr<OpenInput>>& opened) {
  std::vector<import::ByteSource> sources;
  for (const auto& input_ptr : opened) {
    OpenInput* input = input_ptr.get();
    sources.push_back([input](char* buffer, std::size_t capacity, std::string* error) -> int64_t {
      if (input->head_offset < input->head.size()) {
        std::size_t n = std::min(capacity, input->head.size() - input->head_offset);
        std::memcpy(buffer, input->head.data() + input->head_offset, n);
        input->head_offset += n;
        return static_cast<int64_t>(n);
      }
      for (;;) {
        if (g_interrupted != 0) {
          *error = fmt::format("interrupted by {}", g_interrupted == SIGINT ? "SIGINT" : "SIGTERM");
          return -1;
        }
        pollfd ready{input->fd, POLLIN, 0};
        int polled = ::poll(&ready, 1, kIdleFlushMs);
        if (polled < 0 && errno == EINTR) continue;
        if (polled == 0) return import::kSourceIdle;
        ssize_t n = ::read(input->fd, buffer, capacity);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) *error = std::strerror(errno);
        return n;
      }
    });
  }
  return sources;
}

// What was read and written, the bad records skipped and what was not modelled, on stderr.
void print_import_summary(const ImportCliOptions& options, const import::ImportStats& stats,
                          double seconds) {
  fmt::print(stderr,
             "flowid import: {} -> {}: {} records from {} bytes in {:.2f} s; {} events "
             "({})\n",
             fmt::join(options.inputs, " "), options.output, stats.records, stats.input_bytes,
             seconds, stats.events, summary_line(stats));
  if (stats.skipped_records) {
    fmt::print(stderr, "  {} bad records skipped (--lenient; counted in the trace footer):\n",
               stats.skipped_records);
    for (const auto& [reason, count] : stats.skipped_by_reason) {
      fmt::print(stderr, "    {:>8}  {}\n", count, reason);
    }
    for (const auto& first : stats.first_skipped) fmt::print(stderr, "    e.g. {}\n", first);
  }
  print_counts("records ignored (not modelled)", stats.ignored_by_reason);
  print_counts("things not mapped as recorded (inferred or left absent)", stats.unmapped_by_reason);
}

int run_import_command(const ImportCliOptions& options) {
  std::optional<import::Format> forced;
  if (!options.format.empty()) {
    forced = import::parse_format(options.format);
    if (!forced) {
      fmt::print(stderr,
                 "flowid import: unknown format '{}' (formats: eslogger, nefilterflow, "
                 "tetragon, auditd)\n",
                 options.format);
      return kExitUsage;
    }
  }
  if (auto error = output_names_input(options.output, options.inputs); !error.empty()) {
    print_error("import", "{}", error);
    return kExitUsage;
  }
  if (std::count(options.inputs.begin(), options.inputs.end(), "-") > 1) {
    print_error("import", "'-' (standard input) may be given once");
    return kExitUsage;
  }
  install_stop_handlers();
  std::vector<std::unique_ptr<OpenInput>> opened;
  std::vector<import::InputSpec> specs;
  if (int code = open_import_inputs(options, forced, &opened, &specs); code != kExitOk) return code;
  uint64_t total_bytes = 0;
  bool size_known = true;
  for (const auto& input : opened) {
    if (input->size_bytes == 0) size_known = false;
    total_bytes += input->size_bytes;
  }
  std::vector<import::ByteSource> sources = byte_sources(opened);

  trace::WriterOptions writer_options;
  writer_options.compression = options.zstd ? trace::Compression::kZstd : trace::Compression::kNone;
  // The trace is written beside its target and renamed into place once finished (also after an
  // interrupt or a bad record: it is then a finished trace holding everything before). A
  // streaming import (an input that is a pipe or a terminal) writes the target in place instead:
  // its events reach the file while it waits for more, and a reader may watch it grow.
  bool streaming = false;
  for (const auto& input : opened) streaming = streaming || input->size_bytes == 0;
  PendingOutput pending(options.output, streaming);
  std::string output = pending.temp_path();
  // `const` first: clang-format 14 reads a statement that starts with `import::` and holds a lambda
  // as a C++20 module import, and mangles it.
  const import::WriterFactory factory = [&output, &writer_options](const trace::TraceHeader& header,
                                                                   std::string* error) {
    return trace::open_writer(output, header, writer_options, error);
  };

  // Progress: every ~1 s on a terminal. The clock is read here, in the CLI, never in import/.
  const bool show_progress = !options.quiet && ::isatty(2) == 1;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  const import::ProgressFn progress = [&](const import::ImportStats& stats, uint64_t done) {
    if (!show_progress) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(1)) return;
    last = now;
    double seconds = std::chrono::duration<double>(now - start).count();
    double mb = static_cast<double>(done) / 1e6;
    std::string of = size_known && total_bytes > 0
                         ? fmt::format(" of {:.0f} MB ({:.0f}%)", total_bytes / 1e6,
                                       100.0 * static_cast<double>(done) / total_bytes)
                         : std::string();
    fmt::print(stderr, "\rflowid import: {:.0f} MB{}, {} events, {:.0f} MB/s   ", mb, of,
               stats.events, seconds > 0 ? mb / seconds : 0.0);
  };

  import::ImportOptions import_options;
  import_options.lenient = options.lenient;
  {
    // Several inputs are spilled to temporary files before they are merged by time.
    std::error_code ec;
    auto tmp = std::filesystem::temp_directory_path(ec);
    import_options.spill_dir = ec ? std::string("/tmp") : tmp.string();
  }
  import::ImportStats stats;
  import::ImportStatus status =
      import::import_streams(specs, sources, import_options, factory, stats, progress);
  if (show_progress) fmt::print(stderr, "\r\033[K");

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!options.quiet || status != import::ImportStatus::kOk)
    print_import_summary(options, stats, seconds);
  if (status != import::ImportStatus::kOutputFailed) {
    std::string error;
    if (!pending.commit(&error)) {
      print_error("import", "{}", error);
      return kExitInputError;
    }
  }
  if (g_interrupted != 0) {
    fmt::print(stderr,
               "flowid import: interrupted; {} holds everything read before (finished, with "
               "its footer)\n",
               options.output);
    return 128 + g_interrupted;  // the shell's convention for "ended by signal N".
  }
  switch (status) {
    case import::ImportStatus::kOk:
      return kExitOk;
    case import::ImportStatus::kBadRecord:
      fmt::print(stderr,
                 "flowid import: {}\n  (the trace holds everything before this record; "
                 "--lenient skips bad records)\n",
                 stats.error.value_or("bad record"));
      return kExitDamagedInput;
    case import::ImportStatus::kUnreadable:
    case import::ImportStatus::kOutputFailed:
      print_error("import", "{}", stats.error.value_or("error"));
      return kExitInputError;
  }
  return kExitInternal;
}

}  // namespace

Subcommand add_import(CLI::App& parent) {
  auto options = std::make_shared<ImportCliOptions>();
  CLI::App* app = parent.add_subcommand(
      "import", "Import field traces (eslogger, NEFilterFlow log, Tetragon, auditd) into a trace");
  app->add_option("INPUT", options->inputs,
                  "Input files ('-': standard input, e.g. eslogger exec exit | flowid import - -o "
                  "t.trace); several are "
                  "merged by timestamp")
      ->required();
  app->add_option(
         "-o,--output", options->output,
         "Output trace file (written beside it and renamed into place when finished; never one of "
         "the inputs)")
      ->required();
  app->add_option("--format", options->format,
                  "eslogger | nefilterflow | tetragon | auditd (default: detected per input)");
  app->add_flag("--lenient", options->lenient,
                "Skip bad records (counted in the footer, marked in the trace) instead of "
                "stopping at the first");
  app->add_flag("-q,--quiet", options->quiet, "No progress and no summary unless something failed");
  app->add_flag("!--no-zstd", options->zstd, "Write uncompressed chunks");
  app->footer(help_footer(
      "flowid import capture.jsonl -o field.trace && flowid replay field.trace",
      "0 ok (lenient skips are listed on stderr); 2 usage (an output naming an input included);\n"
      "3 unreadable input, unknown format or unwritable output; 4 strict mode stopped at a bad "
      "record\n"
      "(the trace is finished with everything before it); 128+N interrupted by signal N (the trace "
      "is\n"
      "finished). See docs/importers.md.",
      "Format detection looks at the first non-empty lines that do not start with '#':\n"
      "JSON with process_exec/exit/connect/close/kprobe/listen keys -> tetragon; JSON with\n"
      "event_type and audit_token or schema_version -> eslogger; 'type=X msg=audit(' ->\n"
      "auditd; a `log` timestamp line -> nefilterflow."));
  return {app, [options] { return run_import_command(*options); }};
}

}  // namespace flowid::cli
