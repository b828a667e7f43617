// Importers for field traces: eslogger JSON, NEFilterFlow descriptions from `log stream` /
// `log show`, Tetragon JSON and raw auditd records (DESIGN §5).
//
// Field traces are untrusted input. Every importer is a pure parser fed one line at a time (so
// tests and fuzzers drive it from memory), writes plain flowid events through an ImportContext
// into a TraceWriter, and never keeps more than a bounded amount of state: one record, one
// pending block or a bounded window of auditd events, and per-pid / per-execution tables bounded
// by the named limits below.
//
// A record that cannot be read is a *bad record*: in strict mode the import stops there with
// "FILE:LINE: what is wrong" and the trace keeps everything before it (and says where it
// stopped); in lenient mode the record is skipped, counted per reason, marked in the trace with
// a DroppedEvents event at its position and counted in the footer (skipped_records). A record
// that is well formed but describes something flowid does not model (an eslogger event type other
// than exec / fork / exit, a Tetragon kprobe) is *ignored* and counted. Something the importer
// read but could not map onto executions (a token for a pid that changed without a recorded
// exec, a truncated path) is *unmapped* and counted; the trace says what was inferred.
//
// How each format maps its notion of identity onto executions (pid + pidversion) is in
// docs/importers.md and, for every trace, in its header's resolver_config.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model.h"
#include "trace/trace.h"

namespace flowid::import {

enum class Format : uint8_t { kEslogger = 0, kNeFilterFlow = 1, kTetragon = 2, kAuditd = 3 };
inline constexpr int kFormatCount = 4;

std::string_view name_of(Format format);
std::optional<Format> parse_format(std::string_view name);

// Guesses the format from the beginning of an input (its first bytes, e.g. 64 KiB). The rules,
// applied to the first non-empty lines that do not start with '#':
//   - a line starting with '{' (JSON): "process_exec", "process_exit", "process_connect",
//     "process_close", "process_kprobe" or "process_listen" as a key -> tetragon; "event_type"
//     with "audit_token" or "schema_version" -> eslogger;
//   - "type=NAME msg=audit(" (optionally after "node=HOST ") or an ausearch "----" /
//     "time->" line -> auditd;
//   - a `log` timestamp "YYYY-MM-DD HH:MM:SS" or log's own "Filtering the log data" /
//     "Timestamp  " heading -> nefilterflow.
// nullopt when none applies.
std::optional<Format> detect_format(std::string_view head);

// Limits that bound memory on any input. A line longer than line_bytes_max is a bad record.
struct ImportLimits {
  uint64_t line_bytes_max = 16u << 20;
  uint64_t json_record_bytes_max = 64u << 20;        // a JSON record spread over lines.
  uint32_t auditd_open_events_max = 256;             // auditd events awaiting their EOE record.
  uint32_t exited_executions_remembered = 1u << 16;  // tetragon exec_ids kept after their exit.
  uint32_t pending_untimed_events_max = 4096;        // events before the first timestamp.
  // Executions remembered for joining pid-only flows (only kept when an import has a pid-only
  // input and another one): beyond it, later executions are not remembered (counted).
  uint32_t pid_history_spans_max = 1u << 18;
  // Each input is read in blocks of this size (at least 1); with the carried partial line this
  // bounds the reader's memory to about 2 blocks plus one line. import_bytes() lowers it to the
  // input's size: a fuzzer's 100-byte input should not allocate and clear a 1 MiB block.
  uint64_t read_block_bytes = 1u << 20;
};

struct ImportOptions {
  bool lenient = false;
  ImportLimits limits;
  // Imports of several inputs spill events per input before merging them by time: into
  // temporary files in this directory, or in memory when it is empty (tests, fuzzers).
  std::string spill_dir;
};

// What an import did, for the summary and for tests.
struct ImportStats {
  std::array<uint64_t, kEventKindCount> events_by_kind{};
  uint64_t events = 0;
  uint64_t input_bytes = 0;
  uint64_t input_lines = 0;
  uint64_t records = 0;          // source records read (JSON objects, auditd events, log lines).
  uint64_t skipped_records = 0;  // bad records skipped in lenient mode.
  // Counts keyed by a short reason ("malformed JSON", "eslogger event_type 43", ...). std::map so
  // that summaries list reasons in a stable order.
  std::map<std::string, uint64_t, std::less<>> skipped_by_reason;
  std::map<std::string, uint64_t, std::less<>> ignored_by_reason;
  std::map<std::string, uint64_t, std::less<>> unmapped_by_reason;
  // Strict mode: the bad record that stopped the import, as "FILE:LINE: what is wrong".
  std::optional<std::string> error;
  // Lenient mode: the first few bad records in full ("FILE:LINE: what"), for the summary.
  std::vector<std::string> first_skipped;
};

// Opens the output once the importer knows the trace header (its first timestamp and the
// source's host). Returns null (and the reason in *error) when the output cannot be opened.
using WriterFactory = std::function<std::unique_ptr<trace::TraceWriter>(
    const trace::TraceHeader& header, std::string* error)>;

// One input: a name for messages ("capture.jsonl", "-") and its format.
struct InputSpec {
  std::string name;
  Format format = Format::kEslogger;
};

// Reads bytes of one input in pieces. Returns the number of bytes put into buffer (0 at the end),
// -1 on a read error (*error says why), or kSourceIdle when no bytes have come for a while (an
// idle pipe): the import then flushes the events written so far to the output, so that a
// streaming import that is killed keeps them, and asks again.
inline constexpr int64_t kSourceIdle = -2;
using ByteSource = std::function<int64_t(char* buffer, std::size_t capacity, std::string* error)>;

// Called every ~1 MiB of input so that a front end can show progress. bytes_total is 0 when
// the input's size is unknown (a pipe).
using ProgressFn = std::function<void(const ImportStats& stats, uint64_t input_bytes_done)>;

enum class ImportStatus : uint8_t {
  kOk = 0,            // every input read; in lenient mode some records may have been skipped.
  kBadRecord = 1,     // strict mode: stopped at a bad record (stats.error); the trace is finished.
  kUnreadable = 2,    // an input could not be read (stats.error).
  kOutputFailed = 3,  // the output could not be opened or written (stats.error).
};

// Imports inputs into one trace. sources[i] reads inputs[i]. One input is written as it is
// read. Several inputs are read in order of their first timestamps (inputs whose flows name only
// pids, NEFilterFlow logs, after the others so that their flows can be joined with the
// executions the others describe), each spilled with absolute times, then merged into the
// trace by timestamp; ties keep the order given. A gap between inputs and an overlap are
// written as Markers. The trace is finished (footer written, skipped_records set) in every case
// where it was opened.
ImportStatus import_streams(const std::vector<InputSpec>& inputs,
                            const std::vector<ByteSource>& sources, const ImportOptions& options,
                            const WriterFactory& open_writer, ImportStats& stats,
                            const ProgressFn& progress = {});

// Convenience for tests and fuzzers: imports `bytes` (named `name`) into an in-memory trace.
ImportStatus import_bytes(std::string_view bytes, Format format, const ImportOptions& options,
                          std::string* trace_bytes, ImportStats& stats,
                          std::string_view name = "input",
                          const trace::WriterOptions& writer_options = {});

// The first timestamp in the beginning of an input of this format (wall-clock ns), if any.
std::optional<uint64_t> first_timestamp(std::string_view head, Format format);

// The header entries an import writes for these formats (recorder, clock, resolver_config),
// without the first timestamp. Exposed for docs and tests.
trace::TraceHeader header_for(const std::vector<InputSpec>& inputs, const ImportOptions& options);

}  // namespace flowid::import
