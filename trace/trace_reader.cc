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
// Speed (bench/trace_bench.cc): an uncompressed chunk is read in place from the mmapped file
// (frames are 8-byte aligned); string tables are string_views into the message; next() assigns
// into the caller's Event, reusing its alternative and string capacities, so steady-state reading
// allocates nothing. The checksum of the chunk after the current one is computed a few blocks per
// next() call (Lookahead), so the bytes of a chunk come in from memory while the previous one is
// decoded, and are verified, as ever, before any of them is decoded.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <kj/exception.h>
#include <kj/io.h>
#include <sys/mman.h>
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

// Owns the bytes a reader reads: an mmapped file, a buffer read() filled, or nothing (memory).
class Storage {
 public:
  virtual ~Storage() = default;
  virtual bool mapped() const { return false; }
};

class MappedStorage final : public Storage {
 public:
  MappedStorage(void* base, std::size_t size) : base_(base), size_(size) {}
  ~MappedStorage() override { ::munmap(base_, size_); }
  bool mapped() const override { return true; }

 private:
  void* base_;
  std::size_t size_;
};

// 8-byte aligned, as Cap'n Proto requires of messages it reads in place.
class BufferStorage final : public Storage {
 public:
  explicit BufferStorage(std::size_t size) : words_((size + 7) / 8) {}
  unsigned char* data() { return reinterpret_cast<unsigned char*>(words_.data()); }

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
  ChunkedReader(std::string name, std::string_view bytes, std::unique_ptr<Storage> storage,
                const ReaderOptions& options)
      : name_(std::move(name)),
        storage_(std::move(storage)),
        data_(reinterpret_cast<const unsigned char*>(bytes.data())),
        size_(bytes.size()),
        options_(options) {
    capnp_options_.traversalLimitInWords = options_.traversal_limit_words;
    capnp_options_.nestingLimit = static_cast<int>(options_.nesting_limit);
    stats_.file_bytes = size_;
    digest_ = kDigestSeed;
    mapped_ = storage_ != nullptr && storage_->mapped();
    if (reinterpret_cast<uintptr_t>(data_) % 8 != 0) {
      auto copy = std::make_unique<BufferStorage>(size_);
      if (size_ > 0) std::memcpy(copy->data(), data_, size_);
      data_ = copy->data();
      storage_ = std::move(copy);
    }
    open();
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
      if (!advance()) return false;
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

  void open() {
    if (size_ < frame::kPreambleBytes) {
      bool prefix = std::memcmp(data_, frame::kFileMagic, std::min(size_, sizeof frame::kFileMagic)) == 0;
      if (prefix && size_ > 0) {
        issue(TraceIssue::Kind::kTruncated, 0, 0,
              fmt::format("the file ends at byte {}, inside the {}-byte preamble", size_,
                          frame::kPreambleBytes));
      } else {
        issue(TraceIssue::Kind::kNotATrace, 0, 0,
              fmt::format("{} bytes: too short for a flowid trace", size_));
      }
      done_ = true;
      return;
    }
    if (std::memcmp(data_, frame::kFileMagic, sizeof frame::kFileMagic) != 0) {
      issue(TraceIssue::Kind::kNotATrace, 0, 0, "no flowid trace magic \"FLOWIDTR\"");
      done_ = true;
      return;
    }
    const auto version = static_cast<uint32_t>(frame::load_le(data_ + 8, 4));
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
    while (p < size_ && size_ - p >= frame::kFrameHeaderBytes) {
      const uint64_t window = std::min<uint64_t>(size_ - p, kWindow + sizeof kMagic - 1);
      const void* hit = ::memmem(data_ + p, window, kMagic, sizeof kMagic);
      if (hit == nullptr) {
        p += kWindow;  // a multiple of 8; the window overlapped the next by the magic's size - 1.
        continue;
      }
      const auto q = static_cast<uint64_t>(static_cast<const unsigned char*>(hit) - data_);
      if (q % 8 != 0) {
        p = frame::padded8(q);  // the next boundary after an unaligned magic.
        continue;
      }
      if (size_ - q < frame::kFrameHeaderBytes) break;
      if (frame::header_valid(data_ + q)) {
        offset_ = q;
        return;
      }
      p = q + 8;
    }
    offset_ = size_;
    resynced_to_end_ = true;
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
    const uint64_t at = offset_;
    if (event_total_ == 0 || at >= size_ || size_ - at < frame::kFrameHeaderBytes) return;
    const unsigned char* p = data_ + at;
    if (!frame::header_valid(p)) return;
    const frame::FrameHeader h = frame::decode(p);
    if (h.stored_bytes > options_.chunk_bytes_max || h.raw_bytes > options_.chunk_bytes_max) return;
    const uint64_t padded = frame::padded8(h.stored_bytes);
    // (Under one block, hash::bytes takes another path; such a chunk is hashed by step().)
    if (padded > size_ - at - frame::kFrameHeaderBytes || padded < hash::kBlockBytes) return;
    lookahead_.at = at;
    lookahead_.padded = padded;
    lookahead_.payload = p + frame::kFrameHeaderBytes;
    lookahead_.blocks_total = padded / hash::kBlockBytes;
    lookahead_.blocks_per_event = lookahead_.blocks_total / event_total_ + 1;
    if (mapped_) {
      // Map the pages now, in one call, rather than fault them in one by one: a prefetch of an
      // unmapped page does nothing.
      const auto first = reinterpret_cast<uintptr_t>(lookahead_.payload) & ~uintptr_t{4095};
      ::madvise(reinterpret_cast<void*>(first),
                reinterpret_cast<uintptr_t>(lookahead_.payload) + padded - first,
                MADV_POPULATE_READ);
    }
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
    if (at >= size_) {
      end_without_footer(at);
      return Step::kEnd;
    }
    const uint64_t left = size_ - at;
    if (left < frame::kFrameHeaderBytes) {
      issue(TraceIssue::Kind::kTruncated, at, index,
            fmt::format("the file ends at byte {}, inside a chunk's {}-byte frame header", size_,
                        frame::kFrameHeaderBytes));
      end_without_footer(at);
      return Step::kEnd;
    }
    const unsigned char* p = data_ + at;
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
      if (end <= size_) {
        offset_ = end;
      } else {
        resync(at + 8);
      }
      return Step::kOther;
    }
    if (end > size_) {
      issue(TraceIssue::Kind::kTruncated, at, index,
            fmt::format("the file ends at byte {}, inside a chunk that needs {} bytes", size_,
                        end - at));
      end_without_footer(at);
      return Step::kEnd;
    }
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
        throw DecodeError{fmt::format("zstd: {}", ZSTD_isError(n) ? ZSTD_getErrorName(n)
                                                                  : "short output")};
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
      throw DecodeError{fmt::format("stored {} bytes but the message has {}", src_bytes,
                                    h.raw_bytes)};
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
            fmt::format("footer digest {:016x} differs from the events' digest {:016x}",
                        out.digest, digest_));
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
      throw DecodeError{fmt::format("frame says {} events, message holds {}", h.event_count,
                                    events_.size())};
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
  std::unique_ptr<Storage> storage_;
  const unsigned char* data_;
  std::size_t size_;
  ReaderOptions options_;
  capnp::ReaderOptions capnp_options_;

  bool mapped_ = false;  // data_ is an mmapped file.
  bool ok_ = false;
  bool done_ = false;
  bool header_read_ = false;
  bool newer_reported_ = false;
  bool damage_seen_ = false;
  bool resynced_to_end_ = false;
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
  struct stat st {};
  std::unique_ptr<Storage> storage;
  std::string_view bytes;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    auto size = static_cast<std::size_t>(st.st_size);
    void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base != MAP_FAILED) {
      ::madvise(base, size, MADV_SEQUENTIAL);
      storage = std::make_unique<MappedStorage>(base, size);
      bytes = std::string_view(static_cast<const char*>(base), size);
    }
  }
  if (!storage) {
    // Not mappable (a pipe, /proc, an empty file): read it whole.
    std::string all;
    char buffer[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int saved = errno;
        ::close(fd);
        return std::make_unique<NotATraceReader>(TraceIssue{
            TraceIssue::Kind::kNotATrace, all.size(), 0, std::string("read: ") + std::strerror(saved)});
      }
      if (n == 0) break;
      all.append(buffer, static_cast<std::size_t>(n));
    }
    auto buffer_storage = std::make_unique<BufferStorage>(all.size());
    if (!all.empty()) std::memcpy(buffer_storage->data(), all.data(), all.size());
    bytes = std::string_view(reinterpret_cast<const char*>(buffer_storage->data()), all.size());
    storage = std::move(buffer_storage);
  }
  ::close(fd);
  return std::make_unique<ChunkedReader>(path, bytes, std::move(storage), options);
}

std::unique_ptr<TraceReader> memory_reader(std::string_view bytes, const ReaderOptions& options) {
  return std::make_unique<ChunkedReader>("<memory>", bytes, nullptr, options);
}

}  // namespace flowid::trace
