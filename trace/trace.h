// The flowid trace: a Cap'n Proto file of framed chunks (DESIGN §4), read and written here.
// Cap'n Proto types never leave trace/: callers see plain flowid::Event values.
//
// File layout (all integers little-endian; every frame starts at a multiple of 8 bytes so that an
// uncompressed chunk, read into an aligned buffer or memory, is read in place by Cap'n Proto):
//   preamble (16 bytes): magic "FLOWIDTR" | u32 format_version | u32 reserved (0)
//   header chunk | event chunk* | footer chunk
// Every chunk is a 32-byte frame header followed by its payload, zero-padded to 8 bytes:
//   u32 magic "FLCK" | u8 kind (0 header, 1 events, 2 footer) | u8 compression | u16 flags
//   (bit 0: payload is Cap'n Proto packed) | u32 stored_bytes (payload as stored, without padding)
//   | u32 raw_bytes (the unpacked, uncompressed message) | u32 event_count
//   | u32 header_check (hash of the 20 bytes before it) | u64 checksum (hash of the padded payload)
// The payload is one Cap'n Proto message (trace/flowid_trace.capnp): Header, Chunk or Footer. The
// header check lets a reader trust a frame's sizes before it trusts its payload, so a file that
// ends inside a chunk (kTruncated) is told apart from a damaged frame (kDamagedChunk). A reader
// that meets a cut or a damaged chunk reports where and keeps every whole chunk before it; after
// a damaged chunk it skips it (or, when the frame header itself is bad, searches forward on
// 8-byte boundaries for the next valid frame header) and carries on.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/caller_context.h"
#include "harness/event_digest.h"
#include "harness/model.h"

namespace flowid::trace {

inline constexpr uint32_t kFormatVersion = 1;

// The caller is a core type (harness/caller_context.h); trace::CallerContext names it here.
using CallerContext = ::flowid::CallerContext;

struct TraceHeader {
  uint32_t format_version = kFormatVersion;
  std::string recorder;             // "flowid-record 0.1.0", "flowid-sim", "import:eslogger".
  std::string host;                 // host name, as recorded.
  std::string os;                   // "Linux 6.1.0 x86_64", "macOS 14.2".
  std::string clock;                // "virtual", "CLOCK_MONOTONIC", "mach_absolute_time".
  uint64_t time_unit_ns = 1;        // timestamps in the trace are in this many ns (1 = ns).
  uint64_t start_wall_time_ns = 0;  // wall clock at the trace's time 0, if known (0 = unknown).
  CallerContext caller;
  // Free-form resolver configuration: strategy name, rule file, seed, fault plan, ...
  std::vector<std::pair<std::string, std::string>> resolver_config;
  friend bool operator==(const TraceHeader&, const TraceHeader&) = default;
};

struct TraceFooter {
  std::array<uint64_t, kEventKindCount> event_counts{};
  uint64_t event_count = 0;
  uint64_t digest = 0;           // see event_digest(): over every event in order.
  bool complete = false;         // the writer finished normally.
  uint64_t skipped_records = 0;  // bad input records skipped by an importer in --lenient mode.
  friend bool operator==(const TraceFooter&, const TraceFooter&) = default;
};

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };

struct WriterOptions {
  Compression compression = Compression::kNone;
  int zstd_level = 3;
  // A chunk is flushed when it holds this many events or its encoding passes chunk_bytes_max;
  // memory use is bounded by one chunk.
  uint32_t chunk_events_max = 4096;
  uint32_t chunk_bytes_max = 1u << 20;
  // Store the Cap'n Proto message packed. Off by default, decided by bench/trace_bench.cc: packing
  // halves a plain trace (89 vs 179 bytes/event) but reads at well under half the speed (an
  // unpack copy per chunk instead of reading the message in place: 4.2 vs 11.2 M
  // events/s), and under zstd it does not even save bytes (39.4 vs 38.4 bytes/event).
  bool packed = false;
  // flush() ends with fdatasync. The live recorder turns this off: it flushes after every
  // batch of held calls (write-ahead against its own crash) and syncs on its own timer.
  bool sync_on_flush = true;
};

// Explicit Cap'n Proto ReaderOptions: traces from the field are untrusted input.
struct ReaderOptions {
  uint64_t traversal_limit_words = 64u << 20;  // per chunk.
  uint32_t nesting_limit = 16;
  uint32_t chunk_bytes_max = 64u << 20;  // a frame claiming more is damaged.
  // Recompute event_digest over the events read and compare it with the footer's (a mismatch is
  // reported as a kDamagedChunk issue on the footer chunk). Only checked when every chunk was
  // read and no unknown event kind was skipped. Off by default: chunk checksums already catch
  // damaged bytes and the footer's event count (always compared) catches whole chunks gone
  // missing; the digest adds an end-to-end check of the content for about 40% of the reading
  // speed (6.8 vs 11.2 M events/s, bench/trace_bench.cc), worth it in `flowid inspect`-style
  // verification.
  bool verify_digest = false;
};

// A problem found while reading: the file, the byte offset, which chunk, what.
struct TraceIssue {
  enum class Kind : uint8_t {
    kNotATrace,      // bad magic / unreadable file: nothing can be read.
    kNewerFormat,    // format_version greater than this reader's (read best-effort).
    kTruncated,      // the file ends inside a chunk: everything before offset was read.
    kDamagedChunk,   // a chunk failed its checksum or did not decode; skipped.
    kMissingFooter,  // no footer: the writer did not finish (crash, SIGKILL).
  };
  Kind kind;
  uint64_t offset = 0;       // byte offset in the file.
  uint64_t chunk_index = 0;  // 0-based index of the chunk (header chunk = 0).
  std::string message;
};

std::string_view name_of(TraceIssue::Kind kind);
// "FILE: at byte OFFSET (chunk N): MESSAGE".
std::string describe(const TraceIssue& issue, std::string_view file);

// Figures about a trace as read, for `flowid stats`.
struct ReadStats {
  uint64_t file_bytes = 0;
  uint64_t chunk_count = 0;
  uint64_t stored_payload_bytes = 0;                // as on disk (packed, maybe compressed).
  uint64_t raw_payload_bytes = 0;                   // unpacked Cap'n Proto message bytes.
  uint64_t skipped_unknown_events = 0;              // event kinds from a newer writer.
  std::array<uint64_t, 2> chunks_by_compression{};  // indexed by Compression.
};

// Streaming writer: bounded memory (one chunk), whole chunks flushed to the sink.
class TraceWriter {
 public:
  virtual ~TraceWriter() = default;
  virtual void append(const Event& event) = 0;
  // Writes the pending chunk (if any) and flushes the file, so a crash after flush() loses
  // nothing appended before it.
  virtual void flush() = 0;
  // Writes the last chunk and the footer (complete = true). Further appends are bugs.
  // `skipped_records` goes into the footer.
  virtual void finish(uint64_t skipped_records = 0) = 0;
  virtual uint64_t bytes_written() const = 0;
  // Empty while every write succeeded; otherwise the first failure ("PATH: write: No space left
  // on device"). After a failure the writer drops further output.
  virtual std::string last_error() const { return {}; }
};

// Opens path for writing (truncating). Returns null and sets *error on failure.
std::unique_ptr<TraceWriter> open_writer(const std::string& path, const TraceHeader& header,
                                         const WriterOptions& options, std::string* error);
// A writer into memory, for tests and fuzzers. *out holds the bytes written so far.
std::unique_ptr<TraceWriter> memory_writer(std::string* out, const TraceHeader& header,
                                           const WriterOptions& options);

// Streaming reader. Never throws on bad input and never crashes on it: problems become
// TraceIssues and reading goes on where it can.
class TraceReader {
 public:
  virtual ~TraceReader() = default;
  // False when nothing could be read at all (issues() says why).
  virtual bool ok() const = 0;
  virtual const TraceHeader& header() const = 0;
  // The next event, or false at the end of the readable events.
  virtual bool next(Event& event) = 0;
  // Available once next() returned false; absent when the trace has no (readable) footer.
  virtual const std::optional<TraceFooter>& footer() const = 0;
  virtual const std::vector<TraceIssue>& issues() const = 0;
  virtual const ReadStats& stats() const = 0;
  // True when every chunk was whole and valid and a complete footer was found.
  virtual bool clean() const = 0;
};

// Reads a file chunk by chunk (pread for a regular file, read for a pipe or a device), holding
// about one chunk in memory. A file that shrinks while it is read ends in a kTruncated issue; a
// file without the trace magic is not read past its first bytes.
std::unique_ptr<TraceReader> open_reader(const std::string& path,
                                         const ReaderOptions& options = {});
// The same from an open descriptor, which the reader takes (and closes); `name` is for messages.
std::unique_ptr<TraceReader> open_reader_fd(int fd, const std::string& name,
                                            const ReaderOptions& options = {});
// Reads from memory; `bytes` must outlive the reader.
std::unique_ptr<TraceReader> memory_reader(std::string_view bytes,
                                           const ReaderOptions& options = {});

// The footer's digest is the core's canonical event digest (harness/event_digest.h): fold each
// event into `state`, starting from kDigestSeed.
using ::flowid::event_digest;
using ::flowid::kDigestSeed;

// Convenience for tests: write events to bytes / read them all back.
std::string write_to_bytes(const TraceHeader& header, const std::vector<Event>& events,
                           const WriterOptions& options = {});

}  // namespace flowid::trace
