// TraceReader: walks the frames of a trace (layout: trace/trace.h) and decodes events lazily,
// one per next() call, straight from the chunk's Cap'n Proto message.
//
// Untrusted input: every size comes from the file, so each is bounds-checked against the bytes
// present and capped by ReaderOptions::chunk_bytes_max before use; payloads are checksummed
// before Cap'n Proto sees them; Cap'n Proto reads them with explicit traversal and nesting
// limits, and every error it raises (recorded while a chunk is opened, a kj::Exception caught at
// the chunk boundary while its events are decoded) becomes a TraceIssue. A chunk that passes its
// checksum but fails to decode half-way (only a buggy or hostile writer makes one) yields the
// events before the failure, then is reported and dropped.
//
// Files are read through a window of about one chunk (ByteSource: pread, or read for pipes and
// devices), never mmapped: a file that shrinks under a mapping kills the reader with SIGBUS.
//
// Speed (bench/trace_bench.cc): an uncompressed chunk is read in place from the window or the
// caller's memory (frames are 8-byte aligned); string tables are string_views into the message;
// next() assigns into the caller's Event, reusing its alternative and string capacities, so
// steady-state reading allocates nothing. In memory, the checksum of the chunk after the current
// one is computed a few blocks per next() call (Lookahead), so the bytes of a chunk come in from
// memory while the previous one is decoded, and are verified, as ever, before any of them is
// decoded.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <kj/exception.h>
#include <kj/io.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>

#include "trace/flowid_trace.capnp.h"
#include "trace/frame.h"
#include "trace/trace.h"
#include "trace/wire_convert.h"

namespace flowid::trace {
namespace {

using namespace wire_convert;

// A chunk that decodes into nonsense (a string index past the table, a cdhash of the wrong size).
struct DecodeError {
  std::string message;
};

// Cap'n Proto's recoverable errors (a pointer out of bounds, the traversal limit) while a chunk's
// message is opened, recorded instead of thrown: Cap'n Proto then carries on with default values,
// and the reader drops the chunk as it would on the exception. Throwing (with KJ's stack trace
// and the unwind through Cap'n Proto) was most of the cost of a damaged chunk, which is what a
// fuzzer feeds the reader all day. Fatal errors still throw. Lives on the stack (KJ's rule).
class CapnpErrors final : public kj::ExceptionCallback {
 public:
  void onRecoverableException(kj::Exception&& e) override {
    if (!failed_) message_ = e.getDescription().cStr();
    failed_ = true;
  }
  StackTraceMode stackTraceMode() override { return StackTraceMode::NONE; }
  bool failed() const { return failed_; }
  std::string& message() { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

// The bytes of a trace, as the reader asks for them. In memory (memory_reader) they are all
// present and read in place. From a file descriptor they come into a window of at most one chunk
// (plus a read block) as the reader moves on: pread for a regular file, read for a pipe, a
// device or stdin. Never mmap: a file that shrinks under a mapping (a recorder rewriting the
// path) raises SIGBUS, which no reader of untrusted files can afford; a short pread is just the
// end of the file, reported as a truncation. And a device like /dev/zero is never read whole: the
// magic is checked in the first block and a frame header is checked before its payload is read.
class ByteSource {
 public:
  // In memory: `data` must be 8-byte aligned and outlive the source.
  ByteSource(const unsigned char* data, std::size_t size)
      : window_(data), window_len_(size), end_(size), eof_(true) {}
  // Takes fd. `seekable`: a regular file (pread); otherwise read forward only.
  ByteSource(int fd, bool seekable) : fd_(fd), seekable_(seekable) {}
  ~ByteSource() {
    if (fd_ >= 0) ::close(fd_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool in_memory() const { return fd_ < 0; }
  // Bytes [at, at + n) are present: ptr(at) points at them until the next have / fill / reaches.
  bool have(uint64_t at, uint64_t n) { return fill(at, n) >= n; }
  const unsigned char* ptr(uint64_t at) const { return window_ + (at - base_); }
  // How many of the n bytes from `at` are present (fewer only at the end of the file).
  uint64_t fill(uint64_t at, uint64_t n) {
    if (at >= base_ && at - base_ <= window_len_ && window_len_ - (at - base_) >= n) return n;
    if (in_memory()) return at >= window_len_ ? 0 : window_len_ - at;
    read_to(at, n);
    if (at < base_ || at - base_ > window_len_) return 0;
    return std::min<uint64_t>(n, window_len_ - (at - base_));
  }
  // The file holds at least `end` bytes. Reading forward only, the bytes before `end` are dropped.
  bool reaches(uint64_t end) {
    if (end == 0) return true;
    if (in_memory() || (eof_ && end > end_)) return end <= end_;
    if (end <= base_ + window_len_ && end > base_) return true;
    if (seekable_) {
      unsigned char byte;
      return pread_some(&byte, 1, end - 1) == 1;
    }
    return fill(end, 0) == 0 && base_ == end;
  }
  // The end of the file, once it was met (fill returned fewer bytes than asked for).
  uint64_t end() const { return end_; }
  // Bytes read from the descriptor so far (the file's size once the end was met).
  uint64_t bytes_seen() const { return std::max(end_, base_ + window_len_); }
  // A read error ("read: Input/output error"), which ends the file where it happened.
  const std::string& error() const { return error_; }

 private:
  static constexpr std::size_t kReadBlock = 256 << 10;

  // Makes the window start at or before `at` (on its 8-byte boundary, which keeps payloads
  // aligned for Cap'n Proto) and reads until it holds n bytes from `at` or the file ends.
  void read_to(uint64_t at, uint64_t n) {
    const uint64_t from = at & ~uint64_t{7};
    if (from < base_ || from > base_ + window_len_) {
      if (seekable_ || from < base_) {
        if (!seekable_) return;  // read forward only: those bytes are gone.
        base_ = from;
        window_len_ = 0;
      } else if (!skip_to(from)) {
        return;
      }
    }
    const std::size_t keep_from = from - base_;
    if (keep_from > 0) {
      std::memmove(mutable_window(), mutable_window() + keep_from, window_len_ - keep_from);
      window_len_ -= keep_from;
      base_ = from;
    }
    const uint64_t need = at + n - base_;
    reserve(std::max<uint64_t>(need, kReadBlock));
    while (window_len_ < need && !eof_) {
      const std::size_t room = capacity_ - window_len_;
      const ssize_t got =
          seekable_ ? pread_some(mutable_window() + window_len_, room, base_ + window_len_)
                    : read_some(mutable_window() + window_len_, room);
      if (got <= 0) {
        eof_ = true;
        end_ = base_ + window_len_;
      } else {
        window_len_ += static_cast<std::size_t>(got);
      }
    }
  }

  // Reading forward only: reads and drops the bytes up to `to`. False if the file ends first.
  bool skip_to(uint64_t to) {
    base_ += window_len_;
    window_len_ = 0;
    reserve(kReadBlock);
    while (base_ < to && !eof_) {
      const ssize_t got = read_some(mutable_window(), std::min<uint64_t>(capacity_, to - base_));
      if (got <= 0) {
        eof_ = true;
        end_ = base_;
      } else {
        base_ += static_cast<uint64_t>(got);
      }
    }
    return base_ == to;
  }

  void reserve(uint64_t bytes) {
    if (bytes <= capacity_) return;
    const std::size_t words = (bytes + 7) / 8;
    std::unique_ptr<uint64_t[]> grown(new uint64_t[words]);
    if (window_len_ > 0) std::memcpy(grown.get(), buffer_.get(), window_len_);
    buffer_ = std::move(grown);
    capacity_ = words * 8;
    window_ = mutable_window();
  }
  unsigned char* mutable_window() { return reinterpret_cast<unsigned char*>(buffer_.get()); }

  ssize_t pread_some(void* into, std::size_t bytes, uint64_t at) {
    for (;;) {
      const ssize_t got = ::pread(fd_, into, bytes, static_cast<off_t>(at));
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      note_error("pread", at);
      return -1;
    }
  }
  ssize_t read_some(void* into, std::size_t bytes) {
    for (;;) {
      const ssize_t got = ::read(fd_, into, bytes);
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      note_error("read", base_ + window_len_);
      return -1;
    }
  }
  void note_error(const char* call, uint64_t at) {
    if (error_.empty()) error_ = fmt::format("{} at byte {}: {}", call, at, std::strerror(errno));
  }

  int fd_ = -1;
  bool seekable_ = false;
  std::unique_ptr<uint64_t[]> buffer_;
  std::size_t capacity_ = 0;
  const unsigned char* window_ = nullptr;  // buffer_, or the caller's bytes in memory.
  uint64_t base_ = 0;                      // the file offset of window_[0].
  std::size_t window_len_ = 0;
  uint64_t end_ = 0;
  bool eof_ = false;
  std::string error_;
};

// An 8-byte aligned copy of bytes that were not (Cap'n Proto reads messages in place).
class AlignedCopy {
 public:
  explicit AlignedCopy(std::string_view bytes) : words_((bytes.size() + 7) / 8) {
    if (!bytes.empty()) std::memcpy(words_.data(), bytes.data(), bytes.size());
  }
  const unsigned char* data() const {
    return reinterpret_cast<const unsigned char*>(words_.data());
  }

 private:
  std::vector<uint64_t> words_;
};

// Scratch space for decoded (unpacked, decompressed) messages, 8-byte aligned. Grown, never
// zero-filled: the decoder writes every byte that is later read (or fails), and a hostile frame
// may claim up to ReaderOptions::chunk_bytes_max, which would otherwise be cleared per chunk.
class WordBuffer {
 public:
  uint64_t* words(std::size_t count) {
    if (count > capacity_) {
      data_.reset(new uint64_t[count]);
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<uint64_t[]> data_;
  std::size_t capacity_ = 0;
};

// One spare zstd decompression context per thread, handed from reader to reader: creating one
// costs more than reading a small trace (and a fuzzer reads thousands of small traces a second).
// The flag, trivially destructible, says when the thread's cache is gone (a reader destroyed
// after it, at exit, frees its context itself).
thread_local bool t_dctx_cache_gone = false;
struct DCtxCache {
  ZSTD_DCtx* spare = nullptr;
  ~DCtxCache() {
    ZSTD_freeDCtx(spare);
    spare = nullptr;
    t_dctx_cache_gone = true;
  }
};
thread_local DCtxCache t_dctx_cache;

ZSTD_DCtx* take_dctx() {
  if (!t_dctx_cache_gone && t_dctx_cache.spare != nullptr) {
    return std::exchange(t_dctx_cache.spare, nullptr);
  }
  return ZSTD_createDCtx();
}

void give_back_dctx(ZSTD_DCtx* dctx) {
  if (!t_dctx_cache_gone && t_dctx_cache.spare == nullptr) {
    t_dctx_cache.spare = dctx;
  } else {
    ZSTD_freeDCtx(dctx);
  }
}

inline void assign(std::string& out, capnp::Data::Reader d) {
  out.assign(reinterpret_cast<const char*>(d.begin()), d.size());
}

using SpareBodies = std::tuple<ProcessSpawn, ProcessExec, ProcessExit, FileChange, Flow, Lookup,
                               Verdict, Marker, DroppedEvents>;

class ChunkedReader final : public TraceReader {
 public:
  // In memory.
  ChunkedReader(std::string_view bytes, const ReaderOptions& options)
      : name_("<memory>"), options_(options) {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    if (reinterpret_cast<uintptr_t>(data) % 8 != 0) {
      copy_ = std::make_unique<AlignedCopy>(bytes);
      data = copy_->data();
    }
    src_ = std::make_unique<ByteSource>(data, bytes.size());
    stats_.file_bytes = bytes.size();
    start();
  }
  // From a file descriptor (taken); `size` is the file's size at open, if known.
  ChunkedReader(std::string name, int fd, bool seekable, uint64_t size,
                const ReaderOptions& options)
      : name_(std::move(name)), options_(options) {
    src_ = std::make_unique<ByteSource>(fd, seekable);
    stats_.file_bytes = size;
    start();
  }

  // noexcept explicitly: KJ destructors are noexcept(false), which would make this one laxer than
  // the base class's (an error under clang).
  ~ChunkedReader() noexcept override {
    message_.reset();
    if (dctx_ != nullptr) give_back_dctx(dctx_);
  }

  bool ok() const override { return ok_; }
  const TraceHeader& header() const override { return header_; }
  const std::optional<TraceFooter>& footer() const override { return footer_; }
  const std::vector<TraceIssue>& issues() const override { return issues_; }
  const ReadStats& stats() const override { return stats_; }
  bool clean() const override {
    for (const TraceIssue& issue : issues_) {
      if (issue.kind != TraceIssue::Kind::kNewerFormat) return false;
    }
    return footer_.has_value() && footer_->complete;
  }

  bool next(Event& out) override {
    if (done_ && event_pos_ >= event_total_) return false;
    for (;;) {
      while (event_pos_ < event_total_) {
        const uint32_t position = event_pos_++;
        if (lookahead_.blocks_done < lookahead_.blocks_total) lookahead_step();
        try {
          if (decode_event(events_[position], out)) {
            ++events_read_;
            if (options_.verify_digest) digest_ = event_digest(digest_, out);
            return true;
          }
        } catch (const kj::Exception& e) {
          drop_chunk(fmt::format("event {}: {}", position, e.getDescription().cStr()));
        } catch (const DecodeError& e) {
          drop_chunk(fmt::format("event {}: {}", position, e.message));
        }
      }
      if (!advance()) {
        finish_stats();
        return false;
      }
    }
  }

 private:
  enum class Step { kEventsLoaded, kOther, kEnd };

  void issue(TraceIssue::Kind kind, uint64_t offset, uint64_t chunk_index, std::string message) {
    if (kind == TraceIssue::Kind::kDamagedChunk || kind == TraceIssue::Kind::kTruncated) {
      damage_seen_ = true;
    }
    if (issues_.empty()) issues_.reserve(8);  // a damaged trace rarely has just one.
    issues_.push_back(TraceIssue{kind, offset, chunk_index, std::move(message)});
  }

  void start() {
    capnp_options_.traversalLimitInWords = options_.traversal_limit_words;
    capnp_options_.nestingLimit = static_cast<int>(options_.nesting_limit);
    digest_ = kDigestSeed;
    open();
    if (done_) finish_stats();
  }

  // The magic comes first, from the first few bytes: a device or a pipe that is not a trace is
  // not read any further.
  void open() {
    const uint64_t got = src_->fill(0, frame::kPreambleBytes);
    const unsigned char* data = src_->ptr(0);
    if (got < frame::kPreambleBytes) {
      bool prefix = got > 0 && std::memcmp(data, frame::kFileMagic,
                                           std::min<uint64_t>(got, sizeof frame::kFileMagic)) == 0;
      if (!src_->error().empty()) {
        issue(TraceIssue::Kind::kNotATrace, 0, 0, src_->error());
      } else if (prefix) {
        issue(TraceIssue::Kind::kTruncated, 0, 0,
              fmt::format("the file ends at byte {}, inside the {}-byte preamble", got,
                          frame::kPreambleBytes));
      } else {
        issue(TraceIssue::Kind::kNotATrace, 0, 0,
              fmt::format("{} bytes: too short for a flowid trace", got));
      }
      done_ = true;
      return;
    }
    if (std::memcmp(data, frame::kFileMagic, sizeof frame::kFileMagic) != 0) {
      issue(TraceIssue::Kind::kNotATrace, 0, 0, "no flowid trace magic \"FLOWIDTR\"");
      done_ = true;
      return;
    }
    const auto version = static_cast<uint32_t>(frame::load_le(data + 8, 4));
    note_version(version, 8);
    offset_ = frame::kPreambleBytes;
    ok_ = true;
    // The first frame should be the header. If it is missing or damaged, step() says so and
    // moves on; the header then keeps its defaults.
    step();
    if (!header_read_ && done_) ok_ = false;
  }

  void note_version(uint32_t version, uint64_t offset) {
    if (version > kFormatVersion && !newer_reported_) {
      newer_reported_ = true;
      issue(TraceIssue::Kind::kNewerFormat, offset, 0,
            fmt::format("format version {} is newer than this reader's {}; reading best-effort",
                        version, kFormatVersion));
    }
  }

  void drop_chunk(std::string message) {
    issue(TraceIssue::Kind::kDamagedChunk, chunk_offset_, chunk_index_current_,
          "chunk does not decode: " + message);
    event_pos_ = event_total_ = 0;
    message_.reset();
  }

  // For a file that is shorter than when it was opened (being rewritten under the reader).
  std::string shrink_note() const {
    const uint64_t end = src_->end();
    if (src_->in_memory() || end >= stats_.file_bytes) return "";
    return fmt::format(" (the file shrank while it was read: {} bytes at open)", stats_.file_bytes);
  }

  // Once reading stopped: what was read from a stream, and a read error if one ended it.
  void finish_stats() {
    if (src_->in_memory()) return;
    if (stats_.file_bytes == 0) stats_.file_bytes = src_->bytes_seen();
    if (!src_->error().empty() && !read_error_reported_) {
      read_error_reported_ = true;
      issue(TraceIssue::Kind::kTruncated, src_->end(), next_chunk_index_,
            "reading stopped at a read error: " + src_->error());
    }
  }

  void end_without_footer(uint64_t offset) {
    issue(TraceIssue::Kind::kMissingFooter, offset, next_chunk_index_,
          fmt::format("no footer: the trace ends after {} readable bytes (writer did not finish)",
                      offset));
    done_ = true;
  }

  // Searches forward, on 8-byte boundaries, for a frame header that passes its check. memmem
  // finds the candidates (the chunk magic), so a long damaged stretch is skipped at memory speed.
  void resync(uint64_t from) {
    static constexpr unsigned char kMagic[4] = {'F', 'L', 'C', 'K'};
    static_assert(frame::kChunkMagic == 0x4b434c46, "kMagic is kChunkMagic's bytes");
    // In windows: a sanitizer checks memmem's whole range, however near the next magic is.
    static constexpr uint64_t kWindow = 512;
    uint64_t p = frame::padded8(from);
    for (;;) {
      const uint64_t window = src_->fill(p, kWindow + sizeof kMagic - 1);
      if (window < frame::kFrameHeaderBytes) break;
      const unsigned char* w = src_->ptr(p);
      const void* hit = ::memmem(w, window, kMagic, sizeof kMagic);
      if (hit == nullptr) {
        p += kWindow;  // a multiple of 8; the window overlapped the next by the magic's size - 1.
        continue;
      }
      const uint64_t q = p + static_cast<uint64_t>(static_cast<const unsigned char*>(hit) - w);
      if (q % 8 != 0) {
        p = frame::padded8(q);  // the next boundary after an unaligned magic.
        continue;
      }
      if (!src_->have(q, frame::kFrameHeaderBytes)) break;
      if (frame::header_valid(src_->ptr(q))) {
        offset_ = q;
        return;
      }
      p = q + 8;
    }
    offset_ = src_->end();  // the end was met (fill came back short).
  }

  // Loads the next event chunk; false at the end.
  bool advance() {
    for (;;) {
      if (done_) return false;
      if (step() == Step::kEventsLoaded) return true;
    }
  }

  // The checksum of the chunk after an event chunk is computed while the event chunk is read: a
  // few 64-byte blocks per next() call, prefetched a little ahead. Its bytes then stream in from
  // memory behind the decoding instead of in one stall when the chunk is reached, and are in the
  // cache when it is decoded. step() finishes the sum and checks it before anything of the chunk
  // is used, as for any chunk.
  struct Lookahead {
    uint64_t at = UINT64_MAX;  // the frame's offset; UINT64_MAX: none.
    uint64_t padded = 0;       // payload bytes to hash.
    const unsigned char* payload = nullptr;
    uint64_t blocks_total = 0;
    uint64_t blocks_done = 0;
    uint64_t blocks_per_event = 0;
    hash::Blocks state{frame::kPayloadCheckSeed};
  };
  static constexpr uint64_t kPrefetchBytes = 1024;

  // Called once an event chunk is loaded (offset_ is the next frame). Frames that step() would
  // not hash (bad header, over the limits, cut short) get no lookahead; step() reports them.
  void start_lookahead() {
    lookahead_ = Lookahead{};
    // Only in memory: from a file the next chunk is read when it is reached (the window holds
    // the current one), and its bytes are then in the cache when step() hashes them.
    if (!src_->in_memory()) return;
    const uint64_t at = offset_;
    const uint64_t size = src_->end();
    if (event_total_ == 0 || at >= size || size - at < frame::kFrameHeaderBytes) return;
    const unsigned char* p = src_->ptr(at);
    if (!frame::header_valid(p)) return;
    const frame::FrameHeader h = frame::decode(p);
    if (h.stored_bytes > options_.chunk_bytes_max || h.raw_bytes > options_.chunk_bytes_max) return;
    const uint64_t padded = frame::padded8(h.stored_bytes);
    // (Under one block, hash::bytes takes another path; such a chunk is hashed by step().)
    if (padded > size - at - frame::kFrameHeaderBytes || padded < hash::kBlockBytes) return;
    lookahead_.at = at;
    lookahead_.padded = padded;
    lookahead_.payload = p + frame::kFrameHeaderBytes;
    lookahead_.blocks_total = padded / hash::kBlockBytes;
    lookahead_.blocks_per_event = lookahead_.blocks_total / event_total_ + 1;
  }

  [[gnu::noinline]] void lookahead_step() {
    const uint64_t n =
        std::min(lookahead_.blocks_per_event, lookahead_.blocks_total - lookahead_.blocks_done);
    const uint64_t at = lookahead_.blocks_done * hash::kBlockBytes;
    for (uint64_t ahead = at + kPrefetchBytes, i = 0; i < n && ahead < lookahead_.padded;
         ++i, ahead += hash::kBlockBytes) {
      __builtin_prefetch(lookahead_.payload + ahead);
    }
    lookahead_.state.feed(lookahead_.payload + at, n);
    lookahead_.blocks_done += n;
  }

  uint64_t checksum_of(uint64_t at, const unsigned char* payload, uint64_t padded) {
    if (lookahead_.at != at || lookahead_.padded != padded || lookahead_.payload != payload) {
      return hash::bytes(frame::kPayloadCheckSeed, payload, padded);
    }
    lookahead_.at = UINT64_MAX;
    lookahead_.state.feed(payload + lookahead_.blocks_done * hash::kBlockBytes,
                          lookahead_.blocks_total - lookahead_.blocks_done);
    lookahead_.blocks_done = lookahead_.blocks_total;
    return lookahead_.state.finish(payload + lookahead_.blocks_total * hash::kBlockBytes, padded);
  }

  // Processes the frame at offset_.
  Step step() {
    if (done_) return Step::kEnd;
    const uint64_t at = offset_;
    const uint64_t index = next_chunk_index_;
    // The previous chunk's message may point into the window, which is about to move.
    message_.reset();
    const uint64_t left = src_->fill(at, frame::kFrameHeaderBytes);
    if (left == 0) {
      end_without_footer(at);
      return Step::kEnd;
    }
    if (left < frame::kFrameHeaderBytes) {
      issue(TraceIssue::Kind::kTruncated, at, index,
            fmt::format("the file ends at byte {}, inside a chunk's {}-byte frame header{}",
                        at + left, frame::kFrameHeaderBytes, shrink_note()));
      end_without_footer(at);
      return Step::kEnd;
    }
    const unsigned char* p = src_->ptr(at);
    if (!frame::header_valid(p)) {
      issue(TraceIssue::Kind::kDamagedChunk, at, index,
            "bad chunk frame header (magic or header check); searching for the next chunk");
      ++next_chunk_index_;
      resync(at + 8);
      return Step::kOther;
    }
    const frame::FrameHeader h = frame::decode(p);
    const uint64_t end = at + frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
    if (h.stored_bytes > options_.chunk_bytes_max || h.raw_bytes > options_.chunk_bytes_max) {
      issue(TraceIssue::Kind::kDamagedChunk, at, index,
            fmt::format("chunk claims {} stored / {} raw bytes, over chunk_bytes_max {}; skipped",
                        h.stored_bytes, h.raw_bytes, options_.chunk_bytes_max));
      ++next_chunk_index_;
      if (src_->reaches(end)) {
        offset_ = end;
      } else {
        resync(at + 8);
      }
      return Step::kOther;
    }
    const uint64_t got = src_->fill(at, end - at);
    if (got < end - at) {
      issue(TraceIssue::Kind::kTruncated, at, index,
            fmt::format("the file ends at byte {}, inside a chunk that needs {} bytes{}", at + got,
                        end - at, shrink_note()));
      end_without_footer(at);
      return Step::kEnd;
    }
    p = src_->ptr(at);  // the window may have moved.
    offset_ = end;
    ++next_chunk_index_;
    const unsigned char* payload = p + frame::kFrameHeaderBytes;
    const uint64_t padded = end - at - frame::kFrameHeaderBytes;
    if (checksum_of(at, payload, padded) != h.checksum) {
      issue(TraceIssue::Kind::kDamagedChunk, at, index, "chunk checksum mismatch; skipped");
      return Step::kOther;
    }
    ++stats_.chunk_count;
    stats_.stored_payload_bytes += h.stored_bytes;
    stats_.raw_payload_bytes += h.raw_bytes;
    if (h.compression < stats_.chunks_by_compression.size()) {
      ++stats_.chunks_by_compression[h.compression];
    }
    chunk_offset_ = at;
    chunk_index_current_ = index;
    CapnpErrors capnp_errors;
    try {
      switch (static_cast<frame::ChunkKind>(h.kind)) {
        case frame::ChunkKind::kHeader:
          if (!header_read_) read_header(h, payload, capnp_errors);
          return Step::kOther;
        case frame::ChunkKind::kEvents:
          if (!load_events(h, payload, capnp_errors)) return Step::kOther;
          start_lookahead();
          return Step::kEventsLoaded;
        case frame::ChunkKind::kFooter:
          if (!read_footer(h, payload, capnp_errors)) return Step::kOther;
          done_ = true;
          return Step::kEnd;
      }
      return Step::kOther;  // a chunk kind from a newer writer: skipped.
    } catch (const kj::Exception& e) {
      drop_chunk(e.getDescription().cStr());
    } catch (const DecodeError& e) {
      drop_chunk(e.message);
    }
    return Step::kOther;
  }

  // The chunk's message as words: in place when stored plain, else decoded into raw_words_.
  kj::ArrayPtr<const capnp::word> message_words(const frame::FrameHeader& h,
                                                const unsigned char* payload) {
    message_.reset();  // it may point into raw_words_, which is about to be overwritten.
    if (h.raw_bytes == 0 || h.raw_bytes % 8 != 0) {
      throw DecodeError{fmt::format("message size {} is not a whole number of words", h.raw_bytes)};
    }
    const bool packed = (h.flags & frame::kFlagPacked) != 0;
    const unsigned char* src = payload;
    std::size_t src_bytes = h.stored_bytes;
    if (h.compression == static_cast<uint8_t>(Compression::kZstd)) {
      if (dctx_ == nullptr) dctx_ = take_dctx();
      if (dctx_ == nullptr) throw DecodeError{"zstd: cannot allocate a decompression context"};
      std::size_t expected = h.raw_bytes;
      if (packed) {
        unsigned long long content = ZSTD_getFrameContentSize(src, src_bytes);
        if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
            content > options_.chunk_bytes_max) {
          throw DecodeError{"zstd frame without a plausible content size"};
        }
        expected = static_cast<std::size_t>(content);
      }
      uint64_t* into = (packed ? unzstd_words_ : raw_words_).words((expected + 7) / 8);
      std::size_t n = ZSTD_decompressDCtx(dctx_, into, expected, src, src_bytes);
      if (ZSTD_isError(n) || n != expected) {
        throw DecodeError{
            fmt::format("zstd: {}", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short output")};
      }
      src = reinterpret_cast<const unsigned char*>(into);
      src_bytes = expected;
    } else if (h.compression != static_cast<uint8_t>(Compression::kNone)) {
      throw DecodeError{fmt::format("unknown compression {}", h.compression)};
    }
    if (packed) {
      uint64_t* into = raw_words_.words(h.raw_bytes / 8);
      kj::ArrayInputStream in(kj::ArrayPtr<const kj::byte>(src, src_bytes));
      capnp::_::PackedInputStream unpacker(in);
      unpacker.read(into, h.raw_bytes);
      src = reinterpret_cast<const unsigned char*>(into);
    } else if (src_bytes != h.raw_bytes) {
      throw DecodeError{
          fmt::format("stored {} bytes but the message has {}", src_bytes, h.raw_bytes)};
    }
    return kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(src),
                                           h.raw_bytes / 8);
  }

  // read_header, read_footer, load_events: false (the chunk dropped) on a Cap'n Proto error.
  bool read_header(const frame::FrameHeader& h, const unsigned char* payload, CapnpErrors& errors) {
    auto words = message_words(h, payload);
    if (errors.failed()) {  // e.g. packed input that ends early: the words are not all written.
      drop_chunk(std::move(errors.message()));
      return false;
    }
    capnp::FlatArrayMessageReader message(words, capnp_options_);
    auto r = message.getRoot<wire::Header>();
    TraceHeader out;
    out.format_version = r.getFormatVersion();
    assign(out.recorder, r.getRecorder());
    assign(out.host, r.getHost());
    assign(out.os, r.getOs());
    assign(out.clock, r.getClock());
    out.time_unit_ns = r.getTimeUnitNs();
    out.start_wall_time_ns = r.getStartWallTimeNs();
    auto caller = r.getCaller();
    out.caller.sandboxed = caller.getSandboxed();
    out.caller.root = caller.getRoot();
    out.caller.uid = caller.getUid();
    assign(out.caller.description, caller.getDescription());
    auto config = r.getResolverConfig();
    out.resolver_config.reserve(std::min<std::size_t>(config.size(), 64));  // size is untrusted.
    for (auto kv : config) {
      if (errors.failed()) break;  // (errors no longer stop Cap'n Proto: stop here.)
      auto& entry = out.resolver_config.emplace_back();
      assign(entry.first, kv.getKey());
      assign(entry.second, kv.getValue());
    }
    if (errors.failed()) {
      drop_chunk(std::move(errors.message()));
      return false;
    }
    header_ = std::move(out);
    header_read_ = true;
    note_version(header_.format_version, chunk_offset_);
    return true;
  }

  bool read_footer(const frame::FrameHeader& h, const unsigned char* payload, CapnpErrors& errors) {
    auto words = message_words(h, payload);
    if (errors.failed()) {  // e.g. packed input that ends early: the words are not all written.
      drop_chunk(std::move(errors.message()));
      return false;
    }
    capnp::FlatArrayMessageReader message(words, capnp_options_);
    auto r = message.getRoot<wire::Footer>();
    TraceFooter out;
    auto counts = r.getEventCounts();
    for (unsigned i = 0; i < counts.size() && i < out.event_counts.size(); ++i) {
      out.event_counts[i] = counts[i];
    }
    out.event_count = r.getEventCount();
    out.digest = r.getDigest();
    out.complete = r.getComplete();
    out.skipped_records = r.getSkippedRecords();
    if (errors.failed()) {
      drop_chunk(std::move(errors.message()));
      return false;
    }
    footer_ = out;
    // The digest covers every event the writer wrote, so it can only match when we saw them all.
    if (damage_seen_) return true;
    const uint64_t seen = events_read_ + stats_.skipped_unknown_events;
    if (out.event_count != seen) {
      issue(TraceIssue::Kind::kDamagedChunk, chunk_offset_, chunk_index_current_,
            fmt::format("footer says {} events but the chunks hold {}: whole chunks are missing "
                        "or were added",
                        out.event_count, seen));
    } else if (options_.verify_digest && stats_.skipped_unknown_events == 0 &&
               out.digest != digest_) {
      issue(TraceIssue::Kind::kDamagedChunk, chunk_offset_, chunk_index_current_,
            fmt::format("footer digest {:016x} differs from the events' digest {:016x}", out.digest,
                        digest_));
    }
    return true;
  }

  bool load_events(const frame::FrameHeader& h, const unsigned char* payload, CapnpErrors& errors) {
    auto words = message_words(h, payload);
    if (errors.failed()) {  // e.g. packed input that ends early: the words are not all written.
      drop_chunk(std::move(errors.message()));
      return false;
    }
    message_.emplace(words, capnp_options_);
    auto chunk = message_->getRoot<wire::Chunk>();
    events_ = chunk.getEvents();
    if (errors.failed()) {
      drop_chunk(std::move(errors.message()));
      return false;
    }
    if (events_.size() != h.event_count) {
      throw DecodeError{
          fmt::format("frame says {} events, message holds {}", h.event_count, events_.size())};
    }
    auto strings = chunk.getStrings();
    strings_.clear();
    strings_.reserve(strings.size());
    for (auto s : strings) {
      if (errors.failed()) break;  // (errors no longer stop Cap'n Proto: stop here.)
      strings_.emplace_back(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    if (errors.failed()) {
      drop_chunk(std::move(errors.message()));
      return false;
    }
    if (strings_.empty()) strings_.emplace_back();
    if (!spares_grown_ && events_.size() >= kGrowSparesEvents) {
      // A long read ahead: worth a few small allocations.
      std::apply([](auto&... bodies) { (give_buffers(bodies), ...); }, spare_bodies());
      spares_grown_ = true;
    }
    time_ns_ = chunk.getBaseTimeNs();
    event_pos_ = 0;
    event_total_ = events_.size();
    return true;
  }

  // ---- event decoding: assigns every field of `out`, so a reused Event keeps nothing stale.

  // The caller's Event already holding a T is reused as is. When the kind changes, the heap
  // buffers of its strings are parked in spare_bodies_ (in a body of its kind; only the strings
  // are handed over, a pointer move each) and the T parked earlier is moved in with the buffers
  // it had: alternating kinds (flow, lookup, lookup, verdict, ...) costs no allocation in steady
  // state. Flattened: the string moves are inlined.
  template <typename T>
  [[gnu::flatten]] T& reuse(EventBody& body) {
    if (auto* p = std::get_if<T>(&body)) return *p;
    SpareBodies& spares = spare_bodies();
    std::visit(
        [&spares](auto& old) { take_strings(std::get<std::decay_t<decltype(old)>>(spares), old); },
        body);
    return body.emplace<T>(std::move(std::get<T>(spares)));
  }

  // Allocated on the first change of kind (a reader of a tiny or damaged trace may never need
  // them; they are most of the reader's size).
  [[gnu::noinline]] SpareBodies& make_spare_bodies() {
    spare_bodies_ = std::make_unique<SpareBodies>();
    return *spare_bodies_;
  }
  SpareBodies& spare_bodies() { return spare_bodies_ ? *spare_bodies_ : make_spare_bodies(); }

  // Moves the heap buffer of `from` (if it has one) into `to`. Should `to` have one too,
  // libstdc++'s move-assignment hands it back to `from`, so none is freed.
  static void take(std::string& to, std::string& from) {
    if (from.capacity() > kShortCapacity) to = std::move(from);
  }
  static inline const std::size_t kShortCapacity = std::string().capacity();

  template <typename T>
  static void take_strings(T& to, T& from) {
    each_string(to, from, [](std::string& a, std::string& b) { take(a, b); });
  }

  // Gives every string of a spare body a heap buffer, so that moving it into the caller's Event
  // steals a pointer rather than copying an inline (short-string) buffer.
  template <typename T>
  static void give_buffers(T& body) {
    each_string(body, body, [](std::string& a, std::string&) { a.reserve(kShortCapacity + 1); });
  }

  // f(to.s, from.s) for every string s of a body (an absent identity in `from` is skipped; one
  // absent in `to` is created).
  template <typename F>
  static void each_string(CodeIdentity& to, CodeIdentity& from, F f) {
    f(to.path, from.path);
    f(to.signing_id, from.signing_id);
    f(to.team_id, from.team_id);
  }
  template <typename F>
  static void each_string(std::optional<CodeIdentity>& to, std::optional<CodeIdentity>& from, F f) {
    if (!from) return;
    if (!to) to.emplace();
    each_string(*to, *from, f);
  }
  template <typename F>
  static void each_string(ProcessSpawn& to, ProcessSpawn& from, F f) {
    each_string(to.image, from.image, f);
  }
  template <typename F>
  static void each_string(ProcessExec& to, ProcessExec& from, F f) {
    each_string(to.image, from.image, f);
  }
  template <typename F>
  static void each_string(ProcessExit&, ProcessExit&, F) {}
  template <typename F>
  static void each_string(FileChange& to, FileChange& from, F f) {
    f(to.path, from.path);
    f(to.new_path, from.new_path);
    each_string(to.image, from.image, f);
  }
  template <typename F>
  static void each_string(Flow& to, Flow& from, F f) {
    f(to.source_app_identifier, from.source_app_identifier);
    f(to.source_app_version, from.source_app_version);
    f(to.source_app_unique_identifier, from.source_app_unique_identifier);
    f(to.hostname, from.hostname);
    f(to.remote_hostname, from.remote_hostname);
    f(to.local_endpoint.address, from.local_endpoint.address);
    f(to.remote_endpoint.address, from.remote_endpoint.address);
  }
  template <typename F>
  static void each_string(Lookup& to, Lookup& from, F f) {
    f(to.args.requirement, from.args.requirement);
    f(to.args.path, from.args.path);
    f(to.data.path, from.data.path);
    each_string(to.data.identity, from.data.identity, f);
  }
  template <typename F>
  static void each_string(Verdict& to, Verdict& from, F f) {
    each_string(to.identity, from.identity, f);
    f(to.rule, from.rule);
  }
  template <typename F>
  static void each_string(Marker& to, Marker& from, F f) {
    f(to.text, from.text);
  }
  template <typename F>
  static void each_string(DroppedEvents& to, DroppedEvents& from, F f) {
    f(to.reason, from.reason);
  }

  [[noreturn]] void bad_string_index(uint32_t index) const {
    throw DecodeError{fmt::format("string index {} past the table of {}", index, strings_.size())};
  }

  // Inlined: called for every string field of every event.
  [[gnu::always_inline]] void str(std::string& out, uint32_t index) {
    if (index >= strings_.size()) [[unlikely]]
      bad_string_index(index);
    const std::string_view s = strings_[index];
    // clear + append takes libstdc++'s short path (copy into the existing capacity) where
    // assign goes through the general replace with its aliasing checks: measurably faster here.
    out.clear();
    if (!s.empty()) out.append(s.data(), s.size());
  }

  // Optional members: `get` (which reads the pointer) is only called when the member is present.
  template <typename Get>
  static void token(std::optional<AuditToken>& out, bool present, Get get) {
    if (!present) {
      out.reset();
      return;
    }
    if (!out) out.emplace();
    get_token_words(get(), *out);
  }

  void identity(CodeIdentity& out, wire::CodeIdentity::Reader r) {
    str(out.path, r.getPath());
    // A null cdhash reads as empty, so one read tells present (20 bytes) from absent in the
    // common cases; only an empty one needs the second look.
    auto d = r.getCdhash();
    if (d.size() == std::tuple_size_v<Cdhash>) {
      if (!out.cdhash) out.cdhash.emplace();
      std::memcpy(out.cdhash->data(), d.begin(), d.size());
    } else if (d.size() == 0 && !r.hasCdhash()) {
      out.cdhash.reset();
    } else {
      throw DecodeError{fmt::format("cdhash of {} bytes", d.size())};
    }
    str(out.signing_id, r.getSigningId());
    str(out.team_id, r.getTeamId());
    out.platform = r.getPlatform();
    out.signature = from_wire<SignatureKind>(r.getSignature());
    out.hardened_runtime = r.getHardenedRuntime();
  }

  // An absent identity parks the strings of the one it replaces in spare_identity_, and a
  // present one takes them back, so identities that come and go (lookups with and without
  // signing information) do not allocate.
  template <typename Get>
  [[gnu::flatten]] void identity(std::optional<CodeIdentity>& out, bool present, Get get) {
    if (!present) {
      if (out) {
        spare_identity_ = std::move(*out);
        out.reset();
      }
      return;
    }
    if (!out) out.emplace(std::move(spare_identity_));
    identity(*out, get());
  }

  template <typename Group>
  static void flow_token(FlowToken& out, Group g) {
    out.present = g.getPresent();
    out.size_bytes = g.getSizeBytes();
    get_token_words(g, out.token);
  }

  void decode(wire::ProcessSpawn::Reader r, ProcessSpawn& out) {
    get_token_words(r.getToken(), out.token);
    get_token_words(r.getParent(), out.parent);
    token(out.responsible, r.hasResponsible(), [&] { return r.getResponsible(); });
    identity(out.image, r.getImage());
  }
  void decode(wire::ProcessExec::Reader r, ProcessExec& out) {
    get_token_words(r.getPrevious(), out.previous);
    get_token_words(r.getToken(), out.token);
    identity(out.image, r.getImage());
  }
  void decode(wire::ProcessExit::Reader r, ProcessExit& out) {
    get_token_words(r.getToken(), out.token);
    out.status = r.getStatus();
    out.stage = from_wire<ExitStage>(r.getStage());
  }
  void decode(wire::FileChange::Reader r, FileChange& out) {
    out.op = from_wire<FileOp>(r.getOp());
    str(out.path, r.getPath());
    str(out.new_path, r.getNewPath());
    identity(out.image, r.hasImage(), [&] { return r.getImage(); });
  }
  void decode(wire::Flow::Reader r, Flow& out) {
    out.flow_id = r.getFlowId();
    set_uuid_half(out.identifier, 0, r.getIdentifier().getHi());
    set_uuid_half(out.identifier, 1, r.getIdentifier().getLo());
    flow_token(out.source_app_audit_token, r.getSourceAppAuditToken());
    flow_token(out.source_process_audit_token, r.getSourceProcessAuditToken());
    str(out.source_app_identifier, r.getSourceAppIdentifier());
    str(out.source_app_version, r.getSourceAppVersion());
    str(out.source_app_unique_identifier, r.getSourceAppUniqueIdentifier());
    str(out.hostname, r.getHostname());
    str(out.remote_hostname, r.getRemoteHostname());
    str(out.local_endpoint.address, r.getLocalEndpoint().getAddress());
    out.local_endpoint.port = r.getLocalEndpoint().getPort();
    str(out.remote_endpoint.address, r.getRemoteEndpoint().getAddress());
    out.remote_endpoint.port = r.getRemoteEndpoint().getPort();
    out.direction = from_wire<FlowDirection>(r.getDirection());
    out.protocol = r.getProtocol();
    out.family = r.getFamily();
    out.type = r.getType();
    out.proc_pid = r.getProcPid();
    out.eproc_pid = r.getEprocPid();
    set_uuid_half(out.proc_uuid, 0, r.getProcUuid().getHi());
    set_uuid_half(out.proc_uuid, 1, r.getProcUuid().getLo());
    set_uuid_half(out.eproc_uuid, 0, r.getEprocUuid().getHi());
    set_uuid_half(out.eproc_uuid, 1, r.getEprocUuid().getLo());
    out.in_bytes = r.getInBytes();
    out.out_bytes = r.getOutBytes();
  }
  void decode(wire::Lookup::Reader r, Lookup& out) {
    out.flow_id = r.getFlowId();
    out.call = from_wire<LookupCall>(r.getCall());
    auto args = r.getArgs();
    token(out.args.token, args.hasToken(), [&] { return args.getToken(); });
    out.args.pid = args.getPid();
    out.args.code_handle = args.getCodeHandle();
    str(out.args.requirement, args.getRequirement());
    str(out.args.path, args.getPath());
    out.outcome.domain = from_wire<OutcomeDomain>(r.getOutcome().getDomain());
    out.outcome.code = r.getOutcome().getCode();
    auto data = r.getData();
    out.data.code_handle = data.getCodeHandle();
    str(out.data.path, data.getPath());
    token(out.data.token, data.hasToken(), [&] { return data.getToken(); });
    out.data.pid = data.getPid();
    identity(out.data.identity, data.hasIdentity(), [&] { return data.getIdentity(); });
    out.duration_ns = r.getDurationNs();
  }
  void decode(wire::Verdict::Reader r, Verdict& out) {
    out.flow_id = r.getFlowId();
    out.decision = from_wire<Decision>(r.getDecision());
    out.status = from_wire<AttributionStatus>(r.getStatus());
    identity(out.identity, r.hasIdentity(), [&] { return r.getIdentity(); });
    out.label = from_wire<VerdictLabel>(r.getLabel());
    str(out.rule, r.getRule());
  }
  void decode(wire::Marker::Reader r, Marker& out) { str(out.text, r.getText()); }
  void decode(wire::DroppedEvents::Reader r, DroppedEvents& out) {
    out.count = r.getCount();
    str(out.reason, r.getReason());
  }

  // False for an event kind this reader does not know (counted and skipped).
  bool decode_event(wire::Event::Reader e, Event& out) {
    time_ns_ += e.getTimeDeltaNs();
    auto body = e.getBody();
    using Which = wire::Event::Body::Which;
    switch (body.which()) {
      case Which::PROCESS_SPAWN:
        decode(body.getProcessSpawn(), reuse<ProcessSpawn>(out.body));
        break;
      case Which::PROCESS_EXEC:
        decode(body.getProcessExec(), reuse<ProcessExec>(out.body));
        break;
      case Which::PROCESS_EXIT:
        decode(body.getProcessExit(), reuse<ProcessExit>(out.body));
        break;
      case Which::FILE_CHANGE:
        decode(body.getFileChange(), reuse<FileChange>(out.body));
        break;
      case Which::FLOW:
        decode(body.getFlow(), reuse<Flow>(out.body));
        break;
      case Which::LOOKUP:
        decode(body.getLookup(), reuse<Lookup>(out.body));
        break;
      case Which::VERDICT:
        decode(body.getVerdict(), reuse<Verdict>(out.body));
        break;
      case Which::MARKER:
        decode(body.getMarker(), reuse<Marker>(out.body));
        break;
      case Which::DROPPED_EVENTS:
        decode(body.getDroppedEvents(), reuse<DroppedEvents>(out.body));
        break;
      default:
        ++stats_.skipped_unknown_events;
        return false;
    }
    out.time_ns = time_ns_;
    return true;
  }

  std::string name_;
  std::unique_ptr<AlignedCopy> copy_;
  std::unique_ptr<ByteSource> src_;
  ReaderOptions options_;
  capnp::ReaderOptions capnp_options_;

  bool ok_ = false;
  bool done_ = false;
  bool header_read_ = false;
  bool newer_reported_ = false;
  bool damage_seen_ = false;
  bool read_error_reported_ = false;
  uint64_t offset_ = 0;
  uint64_t next_chunk_index_ = 0;
  uint64_t chunk_offset_ = 0;
  uint64_t chunk_index_current_ = 0;

  TraceHeader header_;
  std::optional<TraceFooter> footer_;
  std::vector<TraceIssue> issues_;
  ReadStats stats_;
  uint64_t events_read_ = 0;
  uint64_t digest_ = 0;

  ZSTD_DCtx* dctx_ = nullptr;
  WordBuffer raw_words_;
  WordBuffer unzstd_words_;
  std::optional<capnp::FlatArrayMessageReader> message_;
  capnp::List<wire::Event>::Reader events_;
  uint32_t event_pos_ = 0;
  uint32_t event_total_ = 0;
  Lookahead lookahead_;
  uint64_t time_ns_ = 0;
  std::vector<std::string_view> strings_;
  std::unique_ptr<SpareBodies> spare_bodies_;
  CodeIdentity spare_identity_;
  static constexpr std::size_t kGrowSparesEvents = 256;
  bool spares_grown_ = false;
};

class NotATraceReader final : public TraceReader {
 public:
  explicit NotATraceReader(TraceIssue issue) { issues_.push_back(std::move(issue)); }
  bool ok() const override { return false; }
  const TraceHeader& header() const override { return header_; }
  bool next(Event&) override { return false; }
  const std::optional<TraceFooter>& footer() const override { return footer_; }
  const std::vector<TraceIssue>& issues() const override { return issues_; }
  const ReadStats& stats() const override { return stats_; }
  bool clean() const override { return false; }

 private:
  TraceHeader header_;
  std::optional<TraceFooter> footer_;
  std::vector<TraceIssue> issues_;
  ReadStats stats_;
};

}  // namespace

std::unique_ptr<TraceReader> open_reader(const std::string& path, const ReaderOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::make_unique<NotATraceReader>(TraceIssue{
        TraceIssue::Kind::kNotATrace, 0, 0, std::string("open: ") + std::strerror(errno)});
  }
  return open_reader_fd(fd, path, options);
}

std::unique_ptr<TraceReader> open_reader_fd(int fd, const std::string& name,
                                            const ReaderOptions& options) {
  if (fd < 0) {
    return std::make_unique<NotATraceReader>(
        TraceIssue{TraceIssue::Kind::kNotATrace, 0, 0, std::string("no file descriptor")});
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (regular) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  const uint64_t size = regular ? static_cast<uint64_t>(st.st_size) : 0;
  return std::make_unique<ChunkedReader>(name, fd, regular, size, options);
}

std::unique_ptr<TraceReader> memory_reader(std::string_view bytes, const ReaderOptions& options) {
  return std::make_unique<ChunkedReader>(bytes, options);
}

}  // namespace flowid::trace
