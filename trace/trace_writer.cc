// TraceWriter: buffers at most one chunk of events, encodes it as one Cap'n Proto message
// (strings interned per chunk), optionally packs and zstd-compresses it, frames it and hands the
// whole frame to a sink in one write. A crash therefore loses at most the chunk being built, and
// a cut file always ends in whole frames plus at most one partial frame.
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "trace/flowid_trace.capnp.h"
#include "trace/frame.h"
#include "trace/trace.h"
#include "trace/wire_convert.h"

namespace flowid::trace {
namespace {

using namespace wire_convert;

// Where frames go. write() gets whole frames; sync() makes them durable.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual bool write(const unsigned char* data, std::size_t size, std::string* error) = 0;
  virtual bool sync(std::string* error) = 0;
};

class FileSink final : public Sink {
 public:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileSink() override { ::close(fd_); }
  bool write(const unsigned char* data, std::size_t size, std::string* error) override {
    while (size > 0) {
      ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        *error = path_ + ": write: " + std::strerror(errno);
        return false;
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }
  bool sync(std::string* error) override {
    if (::fdatasync(fd_) != 0 && errno != EINVAL) {  // EINVAL: a pipe or a special file.
      *error = path_ + ": fdatasync: " + std::strerror(errno);
      return false;
    }
    return true;
  }

 private:
  int fd_;
  std::string path_;
};

class StringSink final : public Sink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  bool write(const unsigned char* data, std::size_t size, std::string*) override {
    out_->append(reinterpret_cast<const char*>(data), size);
    return true;
  }
  bool sync(std::string*) override { return true; }

 private:
  std::string* out_;
};

// An upper bound of an event's share of the chunk message, to keep a chunk under
// chunk_bytes_max before it is encoded. The struct sizes follow the schema's layout (an event
// list element is 3 words, a Flow 26 words inline, a token struct 5 words with its pointer, ...)
// rounded up; each string counts as a table entry of its own (interning can only share).
std::size_t string_bytes(const std::string& s) { return 8 + ((s.size() + 7) & ~std::size_t{7}); }

std::size_t approx_bytes(const Event& e) {
  constexpr std::size_t kToken = 40;
  auto identity = [](const CodeIdentity& c) {
    return 64 + string_bytes(c.path) + string_bytes(c.signing_id) + string_bytes(c.team_id);
  };
  auto opt_identity = [&](const std::optional<CodeIdentity>& c) { return c ? identity(*c) : 0; };
  return 24 + std::visit(
                  [&](const auto& b) -> std::size_t {
                    using T = std::decay_t<decltype(b)>;
                    if constexpr (std::is_same_v<T, ProcessSpawn>) {
                      return 16 + 3 * kToken + identity(b.image);
                    } else if constexpr (std::is_same_v<T, ProcessExec>) {
                      return 16 + 2 * kToken + identity(b.image);
                    } else if constexpr (std::is_same_v<T, ProcessExit>) {
                      return 16 + kToken;
                    } else if constexpr (std::is_same_v<T, FileChange>) {
                      return 24 + string_bytes(b.path) + string_bytes(b.new_path) +
                             opt_identity(b.image);
                    } else if constexpr (std::is_same_v<T, Flow>) {
                      return 216 + string_bytes(b.source_app_identifier) +
                             string_bytes(b.source_app_version) +
                             string_bytes(b.source_app_unique_identifier) +
                             string_bytes(b.hostname) + string_bytes(b.remote_hostname) +
                             string_bytes(b.local_endpoint.address) +
                             string_bytes(b.remote_endpoint.address);
                    } else if constexpr (std::is_same_v<T, Lookup>) {
                      return 96 + 2 * kToken + string_bytes(b.args.requirement) +
                             string_bytes(b.args.path) + string_bytes(b.data.path) +
                             opt_identity(b.data.identity);
                    } else if constexpr (std::is_same_v<T, Verdict>) {
                      return 40 + string_bytes(b.rule) + opt_identity(b.identity);
                    } else if constexpr (std::is_same_v<T, Marker>) {
                      return 16 + string_bytes(b.text);
                    } else {
                      return 24 + string_bytes(b.reason);
                    }
                  },
                  e.body);
}

class ChunkedWriter final : public TraceWriter {
 public:
  ChunkedWriter(std::unique_ptr<Sink> sink, const TraceHeader& header, const WriterOptions& options)
      : sink_(std::move(sink)), options_(options) {
    if (options_.chunk_events_max == 0) options_.chunk_events_max = 1;
    if (options_.compression == Compression::kZstd) cctx_ = ZSTD_createCCtx();
    unsigned char preamble[frame::kPreambleBytes] = {};
    std::memcpy(preamble, frame::kFileMagic, sizeof frame::kFileMagic);
    frame::store_le(preamble + 8, kFormatVersion, 4);
    emit(preamble, sizeof preamble);
    write_header_chunk(header);
  }

  ~ChunkedWriter() override {
    // Like a crash after the last append, minus the loss: whole chunks, no footer.
    if (!finished_) write_event_chunk();
    if (cctx_ != nullptr) ZSTD_freeCCtx(cctx_);
  }

  void append(const Event& event) override {
    if (finished_) throw std::logic_error("TraceWriter::append after finish()");
    if (pending_count_ == pending_.size()) {
      pending_.push_back(event);
    } else {
      pending_[pending_count_] = event;  // reuses the slot's string capacity.
    }
    ++pending_count_;
    ++footer_.event_counts[event.body.index()];
    ++footer_.event_count;
    footer_.digest = event_digest(footer_.digest, event);
    pending_bytes_ += approx_bytes(event);
    if (pending_count_ >= options_.chunk_events_max || pending_bytes_ >= options_.chunk_bytes_max) {
      write_event_chunk();
    }
  }

  void flush() override {
    if (finished_) return;
    write_event_chunk();
    if (error_.empty() && options_.sync_on_flush) sink_->sync(&error_);
  }

  void finish(uint64_t skipped_records) override {
    if (finished_) throw std::logic_error("TraceWriter::finish called twice");
    write_event_chunk();
    footer_.complete = true;
    footer_.skipped_records = skipped_records;
    capnp::MallocMessageBuilder message(256);
    auto f = message.initRoot<wire::Footer>();
    auto counts = f.initEventCounts(kEventKindCount);
    for (int i = 0; i < kEventKindCount; ++i) counts.set(i, footer_.event_counts[i]);
    f.setEventCount(footer_.event_count);
    f.setDigest(footer_.digest);
    f.setComplete(footer_.complete);
    f.setSkippedRecords(footer_.skipped_records);
    write_chunk(frame::ChunkKind::kFooter, message, 0);
    if (error_.empty()) sink_->sync(&error_);
    finished_ = true;
  }

  uint64_t bytes_written() const override { return bytes_written_; }
  std::string last_error() const override { return error_; }

 private:
  static kj::ArrayPtr<const kj::byte> bytes_of(const std::string& s) {
    return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
  }

  void write_header_chunk(const TraceHeader& header) {
    capnp::MallocMessageBuilder message(1024);
    auto h = message.initRoot<wire::Header>();
    h.setFormatVersion(header.format_version);
    h.setRecorder(bytes_of(header.recorder));
    h.setHost(bytes_of(header.host));
    h.setOs(bytes_of(header.os));
    h.setClock(bytes_of(header.clock));
    h.setTimeUnitNs(header.time_unit_ns);
    h.setStartWallTimeNs(header.start_wall_time_ns);
    auto caller = h.initCaller();
    caller.setSandboxed(header.caller.sandboxed);
    caller.setRoot(header.caller.root);
    caller.setUid(header.caller.uid);
    caller.setDescription(bytes_of(header.caller.description));
    auto config = h.initResolverConfig(static_cast<unsigned>(header.resolver_config.size()));
    for (std::size_t i = 0; i < header.resolver_config.size(); ++i) {
      config[i].setKey(bytes_of(header.resolver_config[i].first));
      config[i].setValue(bytes_of(header.resolver_config[i].second));
    }
    write_chunk(frame::ChunkKind::kHeader, message, 0);
  }

  uint32_t intern(const std::string& s) {
    if (s.empty()) return 0;
    auto [it, inserted] =
        string_index_.try_emplace(std::string_view(s), static_cast<uint32_t>(strings_.size()));
    if (inserted) strings_.push_back(it->first);
    return it->second;
  }

  void set_identity(wire::CodeIdentity::Builder b, const CodeIdentity& c) {
    b.setPath(intern(c.path));
    if (c.cdhash) b.setCdhash(kj::ArrayPtr<const kj::byte>(c.cdhash->data(), c.cdhash->size()));
    b.setSigningId(intern(c.signing_id));
    b.setTeamId(intern(c.team_id));
    b.setPlatform(c.platform);
    b.setSignature(to_wire<wire::SignatureKind>(c.signature));
    b.setHardenedRuntime(c.hardened_runtime);
  }

  template <typename Group>
  static void set_flow_token(Group g, const FlowToken& t) {
    g.setPresent(t.present);
    g.setSizeBytes(t.size_bytes);
    set_token_words(g, t.token);
  }

  void encode(wire::Event::Body::Builder body, const ProcessSpawn& e) {
    auto b = body.initProcessSpawn();
    set_token_words(b.initToken(), e.token);
    set_token_words(b.initParent(), e.parent);
    if (e.responsible) set_token_words(b.initResponsible(), *e.responsible);
    set_identity(b.initImage(), e.image);
  }
  void encode(wire::Event::Body::Builder body, const ProcessExec& e) {
    auto b = body.initProcessExec();
    set_token_words(b.initPrevious(), e.previous);
    set_token_words(b.initToken(), e.token);
    set_identity(b.initImage(), e.image);
  }
  void encode(wire::Event::Body::Builder body, const ProcessExit& e) {
    auto b = body.initProcessExit();
    set_token_words(b.initToken(), e.token);
    b.setStatus(e.status);
    b.setStage(to_wire<wire::ExitStage>(e.stage));
  }
  void encode(wire::Event::Body::Builder body, const FileChange& e) {
    auto b = body.initFileChange();
    b.setOp(to_wire<wire::FileOp>(e.op));
    b.setPath(intern(e.path));
    b.setNewPath(intern(e.new_path));
    if (e.image) set_identity(b.initImage(), *e.image);
  }
  void encode(wire::Event::Body::Builder body, const Flow& e) {
    auto b = body.initFlow();
    b.setFlowId(e.flow_id);
    b.getIdentifier().setHi(uuid_half(e.identifier, 0));
    b.getIdentifier().setLo(uuid_half(e.identifier, 1));
    set_flow_token(b.getSourceAppAuditToken(), e.source_app_audit_token);
    set_flow_token(b.getSourceProcessAuditToken(), e.source_process_audit_token);
    b.setSourceAppIdentifier(intern(e.source_app_identifier));
    b.setSourceAppVersion(intern(e.source_app_version));
    b.setSourceAppUniqueIdentifier(intern(e.source_app_unique_identifier));
    b.setHostname(intern(e.hostname));
    b.setRemoteHostname(intern(e.remote_hostname));
    b.getLocalEndpoint().setAddress(intern(e.local_endpoint.address));
    b.getLocalEndpoint().setPort(e.local_endpoint.port);
    b.getRemoteEndpoint().setAddress(intern(e.remote_endpoint.address));
    b.getRemoteEndpoint().setPort(e.remote_endpoint.port);
    b.setDirection(to_wire<wire::FlowDirection>(e.direction));
    b.setProtocol(e.protocol);
    b.setFamily(e.family);
    b.setType(e.type);
    b.setProcPid(e.proc_pid);
    b.setEprocPid(e.eproc_pid);
    b.getProcUuid().setHi(uuid_half(e.proc_uuid, 0));
    b.getProcUuid().setLo(uuid_half(e.proc_uuid, 1));
    b.getEprocUuid().setHi(uuid_half(e.eproc_uuid, 0));
    b.getEprocUuid().setLo(uuid_half(e.eproc_uuid, 1));
    b.setInBytes(e.in_bytes);
    b.setOutBytes(e.out_bytes);
  }
  void encode(wire::Event::Body::Builder body, const Lookup& e) {
    auto b = body.initLookup();
    b.setFlowId(e.flow_id);
    b.setCall(to_wire<wire::LookupCall>(e.call));
    auto args = b.getArgs();
    if (e.args.token) set_token_words(args.initToken(), *e.args.token);
    args.setPid(e.args.pid);
    args.setCodeHandle(e.args.code_handle);
    args.setRequirement(intern(e.args.requirement));
    args.setPath(intern(e.args.path));
    b.getOutcome().setDomain(to_wire<wire::OutcomeDomain>(e.outcome.domain));
    b.getOutcome().setCode(e.outcome.code);
    auto data = b.getData();
    data.setCodeHandle(e.data.code_handle);
    data.setPath(intern(e.data.path));
    if (e.data.token) set_token_words(data.initToken(), *e.data.token);
    data.setPid(e.data.pid);
    if (e.data.identity) set_identity(data.initIdentity(), *e.data.identity);
    b.setDurationNs(e.duration_ns);
  }
  void encode(wire::Event::Body::Builder body, const Verdict& e) {
    auto b = body.initVerdict();
    b.setFlowId(e.flow_id);
    b.setDecision(to_wire<wire::Decision>(e.decision));
    b.setStatus(to_wire<wire::AttributionStatus>(e.status));
    if (e.identity) set_identity(b.initIdentity(), *e.identity);
    b.setLabel(to_wire<wire::VerdictLabel>(e.label));
    b.setRule(intern(e.rule));
  }
  void encode(wire::Event::Body::Builder body, const Marker& e) {
    body.initMarker().setText(intern(e.text));
  }
  void encode(wire::Event::Body::Builder body, const DroppedEvents& e) {
    auto b = body.initDroppedEvents();
    b.setCount(e.count);
    b.setReason(intern(e.reason));
  }

  void write_event_chunk() {
    if (pending_count_ == 0) return;
    // Sized from the previous chunk so that a chunk is (almost always) one segment.
    capnp::MallocMessageBuilder message(segment_words_hint_,
                                        capnp::AllocationStrategy::GROW_HEURISTICALLY);
    auto chunk = message.initRoot<wire::Chunk>();
    const uint64_t base_time_ns = pending_[0].time_ns;
    chunk.setBaseTimeNs(base_time_ns);
    chunk.setFirstEventIndex(events_written_);
    strings_.clear();
    string_index_.clear();
    strings_.push_back(std::string_view());
    auto events = chunk.initEvents(static_cast<unsigned>(pending_count_));
    uint64_t previous_ns = base_time_ns;
    for (std::size_t i = 0; i < pending_count_; ++i) {
      const Event& e = pending_[i];
      auto out = events[static_cast<unsigned>(i)];
      out.setTimeDeltaNs(e.time_ns - previous_ns);  // wraps for out-of-order times; exact.
      previous_ns = e.time_ns;
      std::visit([&](const auto& body) { encode(out.getBody(), body); }, e.body);
    }
    auto strings = chunk.initStrings(static_cast<unsigned>(strings_.size()));
    for (std::size_t i = 0; i < strings_.size(); ++i) {
      strings.set(static_cast<unsigned>(i),
                  kj::ArrayPtr<const kj::byte>(
                      reinterpret_cast<const kj::byte*>(strings_[i].data()), strings_[i].size()));
    }
    write_chunk(frame::ChunkKind::kEvents, message, static_cast<uint32_t>(pending_count_));
    segment_words_hint_ = static_cast<unsigned>(
        std::min<std::size_t>(message.sizeInWords() + 64, options_.chunk_bytes_max / 8 + 1024));
    events_written_ += pending_count_;
    pending_count_ = 0;
    pending_bytes_ = 0;
  }

  void write_chunk(frame::ChunkKind kind, capnp::MessageBuilder& message, uint32_t event_count) {
    kj::Array<capnp::word> flat = capnp::messageToFlatArray(message);
    kj::ArrayPtr<const kj::byte> raw = flat.asBytes();
    kj::ArrayPtr<const kj::byte> payload = raw;
    frame::FrameHeader h;
    h.kind = static_cast<uint8_t>(kind);
    h.raw_bytes = static_cast<uint32_t>(raw.size());
    h.event_count = event_count;

    kj::VectorOutputStream packed_out;
    if (options_.packed) {
      {
        capnp::_::PackedOutputStream packer(packed_out);
        packer.write(raw.begin(), raw.size());
      }
      payload = packed_out.getArray();
      h.flags |= frame::kFlagPacked;
    }
    if (cctx_ != nullptr) {
      compressed_.resize(ZSTD_compressBound(payload.size()));
      std::size_t n = ZSTD_compressCCtx(cctx_, compressed_.data(), compressed_.size(),
                                        payload.begin(), payload.size(), options_.zstd_level);
      if (ZSTD_isError(n)) {
        // Store the chunk uncompressed rather than lose it; the frame says which.
        if (error_.empty()) error_ = std::string("zstd: ") + ZSTD_getErrorName(n);
      } else {
        payload = kj::ArrayPtr<const kj::byte>(compressed_.data(), n);
        h.compression = static_cast<uint8_t>(Compression::kZstd);
      }
    }
    h.stored_bytes = static_cast<uint32_t>(payload.size());
    const std::size_t padded = frame::padded8(payload.size());
    frame_.assign(frame::kFrameHeaderBytes, 0);
    frame_.insert(frame_.end(), payload.begin(), payload.end());
    frame_.resize(frame::kFrameHeaderBytes + padded, 0);
    h.checksum =
        hash::bytes(frame::kPayloadCheckSeed, frame_.data() + frame::kFrameHeaderBytes, padded);
    frame::encode(h, frame_.data());
    emit(frame_.data(), frame_.size());
  }

  void emit(const unsigned char* data, std::size_t size) {
    if (!error_.empty()) return;
    if (sink_->write(data, size, &error_)) bytes_written_ += size;
  }

  std::unique_ptr<Sink> sink_;
  WriterOptions options_;
  ZSTD_CCtx* cctx_ = nullptr;
  std::vector<Event> pending_;
  std::size_t pending_count_ = 0;
  std::size_t pending_bytes_ = 0;
  uint64_t events_written_ = 0;
  unsigned segment_words_hint_ = 8192;
  std::vector<std::string_view> strings_;
  std::unordered_map<std::string_view, uint32_t> string_index_;
  std::vector<unsigned char> compressed_;
  std::vector<unsigned char> frame_;
  TraceFooter footer_{.digest = kDigestSeed};
  uint64_t bytes_written_ = 0;
  bool finished_ = false;
  std::string error_;
};

}  // namespace

std::unique_ptr<TraceWriter> open_writer(const std::string& path, const TraceHeader& header,
                                         const WriterOptions& options, std::string* error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (error != nullptr) *error = path + ": open: " + std::strerror(errno);
    return nullptr;
  }
  auto writer =
      std::make_unique<ChunkedWriter>(std::make_unique<FileSink>(fd, path), header, options);
  if (auto e = writer->last_error(); !e.empty()) {
    if (error != nullptr) *error = e;
    return nullptr;
  }
  return writer;
}

std::unique_ptr<TraceWriter> memory_writer(std::string* out, const TraceHeader& header,
                                           const WriterOptions& options) {
  return std::make_unique<ChunkedWriter>(std::make_unique<StringSink>(out), header, options);
}

std::string write_to_bytes(const TraceHeader& header, const std::vector<Event>& events,
                           const WriterOptions& options) {
  std::string out;
  auto writer = memory_writer(&out, header, options);
  for (const Event& e : events) writer->append(e);
  writer->finish();
  writer.reset();
  return out;
}

}  // namespace flowid::trace
