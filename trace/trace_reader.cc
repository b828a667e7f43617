// TraceReader: walks the frames of a trace (layout: trace/trace.h) and decodes events lazily,
// one per next() call, straight from the chunk's Cap'n Proto message.
//
// Untrusted input: every size comes from the file, so each is bounds-checked against the bytes
// present and capped by ReaderOptions::chunk_bytes_max before use; payloads are checksummed
// before Cap'n Proto sees them; Cap'n Proto reads them with explicit traversal and nesting
// limits, and every kj::Exception it throws is caught at the chunk boundary and becomes a
// TraceIssue. A chunk that passes its checksum but fails to decode half-way (only a buggy or
// hostile writer makes one) yields the events before the failure, then is reported and dropped.
//
// Speed: an uncompressed chunk is read in place from the mmapped file (frames are 8-byte
// aligned); string tables are string_views into the message; next() assigns into the caller's
// Event, reusing its alternative and string capacities, so steady-state reading allocates nothing.
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

#include <cerrno>
#include <cstring>
#include <tuple>
#include <fmt/format.h>

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

// Owns the bytes a reader reads: an mmapped file, a buffer read() filled, or nothing (memory).
class Storage {
 public:
  virtual ~Storage() = default;
};

class MappedStorage final : public Storage {
 public:
  MappedStorage(void* base, std::size_t size) : base_(base), size_(size) {}
  ~MappedStorage() override { ::munmap(base_, size_); }

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

inline void assign(std::string& out, capnp::Data::Reader d) {
  out.assign(reinterpret_cast<const char*>(d.begin()), d.size());
}

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
    if (dctx_ != nullptr) ZSTD_freeDCtx(dctx_);
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

  // Searches forward, on 8-byte boundaries, for a frame header that passes its check.
  void resync(uint64_t from) {
    uint64_t p = frame::padded8(from);
    for (; p + frame::kFrameHeaderBytes <= size_; p += 8) {
      if (frame::header_valid(data_ + p)) {
        offset_ = p;
        return;
      }
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
    if (hash::bytes(frame::kPayloadCheckSeed, payload, padded) != h.checksum) {
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
    try {
      switch (static_cast<frame::ChunkKind>(h.kind)) {
        case frame::ChunkKind::kHeader:
          if (!header_read_) read_header(h, payload);
          return Step::kOther;
        case frame::ChunkKind::kEvents:
          load_events(h, payload);
          return Step::kEventsLoaded;
        case frame::ChunkKind::kFooter:
          read_footer(h, payload);
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
      if (dctx_ == nullptr) dctx_ = ZSTD_createDCtx();
      std::size_t expected = h.raw_bytes;
      if (packed) {
        unsigned long long content = ZSTD_getFrameContentSize(src, src_bytes);
        if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
            content > options_.chunk_bytes_max) {
          throw DecodeError{"zstd frame without a plausible content size"};
        }
        expected = static_cast<std::size_t>(content);
      }
      std::vector<uint64_t>& into = packed ? unzstd_words_ : raw_words_;
      into.resize((expected + 7) / 8);
      std::size_t n = ZSTD_decompressDCtx(dctx_, into.data(), expected, src, src_bytes);
      if (ZSTD_isError(n) || n != expected) {
        throw DecodeError{fmt::format("zstd: {}", ZSTD_isError(n) ? ZSTD_getErrorName(n)
                                                                  : "short output")};
      }
      src = reinterpret_cast<const unsigned char*>(into.data());
      src_bytes = expected;
    } else if (h.compression != static_cast<uint8_t>(Compression::kNone)) {
      throw DecodeError{fmt::format("unknown compression {}", h.compression)};
    }
    if (packed) {
      raw_words_.resize(h.raw_bytes / 8);
      kj::ArrayInputStream in(kj::ArrayPtr<const kj::byte>(src, src_bytes));
      capnp::_::PackedInputStream unpacker(in);
      unpacker.read(raw_words_.data(), h.raw_bytes);
      src = reinterpret_cast<const unsigned char*>(raw_words_.data());
    } else if (src_bytes != h.raw_bytes) {
      throw DecodeError{fmt::format("stored {} bytes but the message has {}", src_bytes,
                                    h.raw_bytes)};
    }
    return kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(src),
                                           h.raw_bytes / 8);
  }

  void read_header(const frame::FrameHeader& h, const unsigned char* payload) {
    auto words = message_words(h, payload);
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
    for (auto kv : r.getResolverConfig()) {
      auto& entry = out.resolver_config.emplace_back();
      assign(entry.first, kv.getKey());
      assign(entry.second, kv.getValue());
    }
    header_ = std::move(out);
    header_read_ = true;
    note_version(header_.format_version, chunk_offset_);
  }

  void read_footer(const frame::FrameHeader& h, const unsigned char* payload) {
    auto words = message_words(h, payload);
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
    footer_ = out;
    // The digest covers every event the writer wrote, so it can only match when we saw them all.
    if (damage_seen_) return;
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
  }

  void load_events(const frame::FrameHeader& h, const unsigned char* payload) {
    auto words = message_words(h, payload);
    message_.emplace(words, capnp_options_);
    auto chunk = message_->getRoot<wire::Chunk>();
    events_ = chunk.getEvents();
    if (events_.size() != h.event_count) {
      throw DecodeError{fmt::format("frame says {} events, message holds {}", h.event_count,
                                    events_.size())};
    }
    auto strings = chunk.getStrings();
    strings_.clear();
    strings_.reserve(strings.size());
    for (auto s : strings) {
      strings_.emplace_back(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    if (strings_.empty()) strings_.emplace_back();
    time_ns_ = chunk.getBaseTimeNs();
    event_pos_ = 0;
    event_total_ = events_.size();
  }

  // ---- event decoding: assigns every field of `out`, so a reused Event keeps nothing stale.

  // The caller's Event already holding a T is reused as is. When the kind changes, its current
  // body is parked in spare_bodies_ and the parked T (with the string capacities it had) moved
  // in: moves steal buffers, so alternating kinds (flow, lookup, lookup, verdict, ...) costs no
  // allocation in steady state.
  template <typename T>
  T& reuse(EventBody& body) {
    if (auto* p = std::get_if<T>(&body)) return *p;
    std::visit(
        [this](auto& old) {
          using Old = std::decay_t<decltype(old)>;
          std::get<Old>(spare_bodies_) = std::move(old);
        },
        body);
    return body.emplace<T>(std::move(std::get<T>(spare_bodies_)));
  }

  void str(std::string& out, uint32_t index) {
    if (index >= strings_.size()) {
      throw DecodeError{fmt::format("string index {} past the table of {}", index,
                                    strings_.size())};
    }
    // clear + append takes libstdc++'s short path (copy into the existing capacity) where
    // assign goes through the general replace with its aliasing checks: measurably faster here.
    out.clear();
    out.append(strings_[index].data(), strings_[index].size());
  }

  void token(std::optional<AuditToken>& out, bool present, wire::AuditToken::Reader r) {
    if (!present) {
      out.reset();
      return;
    }
    if (!out) out.emplace();
    get_token_words(r, *out);
  }

  void identity(CodeIdentity& out, wire::CodeIdentity::Reader r) {
    str(out.path, r.getPath());
    if (r.hasCdhash()) {
      auto d = r.getCdhash();
      if (d.size() != std::tuple_size_v<Cdhash>) {
        throw DecodeError{fmt::format("cdhash of {} bytes", d.size())};
      }
      if (!out.cdhash) out.cdhash.emplace();
      std::memcpy(out.cdhash->data(), d.begin(), d.size());
    } else {
      out.cdhash.reset();
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
  void identity(std::optional<CodeIdentity>& out, bool present, wire::CodeIdentity::Reader r) {
    if (!present) {
      if (out) {
        spare_identity_ = std::move(*out);
        out.reset();
      }
      return;
    }
    if (!out) out.emplace(std::move(spare_identity_));
    identity(*out, r);
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
    token(out.responsible, r.hasResponsible(), r.getResponsible());
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
    identity(out.image, r.hasImage(), r.getImage());
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
    token(out.args.token, args.hasToken(), args.getToken());
    out.args.pid = args.getPid();
    out.args.code_handle = args.getCodeHandle();
    str(out.args.requirement, args.getRequirement());
    str(out.args.path, args.getPath());
    out.outcome.domain = from_wire<OutcomeDomain>(r.getOutcome().getDomain());
    out.outcome.code = r.getOutcome().getCode();
    auto data = r.getData();
    out.data.code_handle = data.getCodeHandle();
    str(out.data.path, data.getPath());
    token(out.data.token, data.hasToken(), data.getToken());
    out.data.pid = data.getPid();
    identity(out.data.identity, data.hasIdentity(), data.getIdentity());
    out.duration_ns = r.getDurationNs();
  }
  void decode(wire::Verdict::Reader r, Verdict& out) {
    out.flow_id = r.getFlowId();
    out.decision = from_wire<Decision>(r.getDecision());
    out.status = from_wire<AttributionStatus>(r.getStatus());
    identity(out.identity, r.hasIdentity(), r.getIdentity());
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
  std::vector<uint64_t> raw_words_;
  std::vector<uint64_t> unzstd_words_;
  std::optional<capnp::FlatArrayMessageReader> message_;
  capnp::List<wire::Event>::Reader events_;
  uint32_t event_pos_ = 0;
  uint32_t event_total_ = 0;
  uint64_t time_ns_ = 0;
  std::vector<std::string_view> strings_;
  std::tuple<ProcessSpawn, ProcessExec, ProcessExit, FileChange, Flow, Lookup, Verdict, Marker,
             DroppedEvents>
      spare_bodies_;
  CodeIdentity spare_identity_;
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
