// Trace codec benchmark: write and read speed (uncompressed, packed, zstd), bytes per event, and
// the "raw Cap'n Proto walking speed" of the same chunks (touching the same fields without
// building flowid::Event values), so the reader's overhead over Cap'n Proto itself is visible.
//
// The event mix imitates a recording of a busy Mac: mostly flows and the lookups resolving them,
// paths drawn from a few hundred executables, some spawn / exec / exit, verdicts for a share of
// the flows. Everything is generated from a fixed seed. Write speed includes copying each event
// out of a pre-generated pool (the pool is cycled with shifted times so it need not hold every
// event in memory). All rates are per second of one thread's CPU time (see CpuClock).
//
// The reader-to-raw-walk ratios (issue 19) are measured with the two sides' passes interleaved,
// in two setups: raw walk over the bytes in memory vs the reader over the file, and both over the
// same freshly mmapped file. Interleaving keeps a ratio meaningful on a shared machine, where
// each side measured minutes apart met different neighbours (single rates varied 1.5x between
// back-to-back runs on the 2-core development machine; the ratios much less).
//
// Usage: trace_bench [--events N] [--quick] [--chunk-events N] [--passes N] [--dir DIR] [--keep]
//                    [--zstd-level L] [--only ENCODING]
// Output: a human table, then one JSON object per figure per line:
//   {"bench": "trace_read_events_per_s", "value": V, "unit": "events/s"}
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_figures.h"
#include "harness/builders.h"
#include "trace/flowid_trace.capnp.h"
#include "trace/frame.h"
#include "trace/trace.h"

namespace flowid::trace {
namespace {

struct Options {
  uint64_t events = 3'000'000;
  uint32_t chunk_events = 4096;
  int zstd_level = WriterOptions{}.zstd_level;
  int passes = 3;
  std::string dir = "/tmp";
  bool keep_files = false;  // leave the trace files in dir (for profiling the reader alone).
  std::string only;  // run only this encoding (plain, packed, zstd, packed+zstd); the raw walk
                     // (and the ratio) needs plain.
};

// ---- realistic events ----------------------------------------------------------------------

struct Executable {
  CodeIdentity image;
  Uuid uuid{};
  std::string unique_identifier;  // 20 bytes, like sourceAppUniqueIdentifier.
};

struct Process {
  AuditToken token;
  std::size_t exe = 0;
};

class EventMix {
 public:
  explicit EventMix(uint64_t seed) : rng_(seed) {
    static const char* kPlatformDirs[] = {"/usr/libexec/", "/usr/sbin/",
                                          "/System/Library/CoreServices/", "/usr/bin/"};
    for (int i = 0; i < 300; ++i) {
      Executable e;
      const std::string n = std::to_string(i);
      switch (i % 6) {
        case 0:
        case 1:
          e.image = build::platform_binary(std::string(kPlatformDirs[i % 4]) + "daemon" + n,
                                           "com.apple.daemon" + n);
          break;
        case 2:
        case 3:
          e.image = build::developer_id_app("/Applications/App" + n + ".app/Contents/MacOS/App" + n,
                                            "com.vendor" + std::to_string(i % 40) + ".app" + n,
                                            "TEAM" + std::to_string(100000 + i % 40));
          break;
        case 4:
          e.image =
              build::app_store_app("/Applications/Store" + n + ".app/Contents/MacOS/Store" + n,
                                   "com.store.app" + n, "STORE" + std::to_string(i % 25));
          break;
        default:
          e.image = i % 12 == 5 ? build::ad_hoc_binary("/Users/me/bin/tool" + n)
                                : build::unsigned_binary("/opt/homebrew/bin/tool" + n);
      }
      e.uuid = build::uuid_of(static_cast<uint64_t>(i) * 7919);
      e.unique_identifier.resize(20);
      for (char& c : e.unique_identifier) c = static_cast<char>(rng_());
      exes_.push_back(std::move(e));
    }
    for (int i = 0; i < 120; ++i)
      hosts_.push_back("api" + std::to_string(i) + ".service" + std::to_string(i % 17) +
                       ".example.com");
    for (int i = 0; i < 400; ++i) spawn_process();
  }

  // Appends the next group of events (a flow and its lookups, a lifecycle event, ...).
  void next_group(std::vector<Event>& out) {
    const uint32_t roll = rng_() % 100;
    if (roll < 3) {
      lifecycle(out, roll);
      return;
    }
    const Process& p = processes_[rng_() % processes_.size()];
    const Executable& exe = exes_[p.exe];
    Flow f;
    f.flow_id = ++flow_id_;
    for (auto& b : f.identifier) b = static_cast<uint8_t>(rng_());
    f.source_app_audit_token = build::flow_token(p.token);
    f.source_process_audit_token = rng_() % 20 == 0 ? FlowToken{} : build::flow_token(p.token);
    f.source_app_identifier = exe.image.signing_id;
    f.source_app_version = "1." + std::to_string(p.exe % 9);
    f.source_app_unique_identifier = exe.unique_identifier;
    // A few hosts take most flows; the rest spread over the long tail.
    const std::string& host = hosts_[rng_() % 3 == 0 ? rng_() % hosts_.size() : rng_() % 8];
    f.hostname = host;
    f.remote_hostname = rng_() % 2 ? host : std::string();
    f.local_endpoint = Endpoint{"192.168.1.6", static_cast<uint16_t>(49152 + rng_() % 16384)};
    f.remote_endpoint =
        Endpoint{"17.253." + std::to_string(rng_() % 8) + "." + std::to_string(rng_() % 4),
                 static_cast<uint16_t>(rng_() % 4 == 0 ? 80 : 443)};
    f.direction = FlowDirection::kOutbound;
    f.protocol = rng_() % 5 == 0 ? 17 : 6;
    f.family = 2;
    f.type = f.protocol == 17 ? 2 : 1;
    f.proc_pid = p.token.pid();
    f.eproc_pid = p.token.pid();
    f.proc_uuid = exe.uuid;
    f.eproc_uuid = exe.uuid;
    f.in_bytes = rng_() % 100000;
    f.out_bytes = rng_() % 10000;
    out.push_back(build::flow(tick(), f));

    Lookup guest = build::lookup(f.flow_id, LookupCall::kGuestByAuditToken);
    guest.args.token = p.token;
    const bool eperm = exe.image.platform && rng_() % 4 == 0;
    if (eperm) {
      guest.outcome = build::osstatus(codes::kOsStatusEperm);
    } else {
      guest.data.code_handle = 0x6000'0000'0000 + rng_() % 4096;
    }
    guest.duration_ns = 2000 + rng_() % 50000;
    out.push_back(build::lookup_event(tick(), guest));
    Lookup second;
    if (eperm) {
      second = build::lookup(f.flow_id, LookupCall::kProcPidpath);
      second.args.pid = p.token.pid();
      second.data.path = exe.image.path;
    } else {
      second = build::lookup(f.flow_id, LookupCall::kSigningInformation);
      second.args.code_handle = guest.data.code_handle;
      second.data.identity = exe.image;
    }
    second.duration_ns = 5000 + rng_() % 200000;
    out.push_back(build::lookup_event(tick(), second));
    if (rng_() % 5 == 0) {
      out.push_back(build::verdict_event(
          tick(),
          build::verdict(f.flow_id, Decision::kAllow,
                         eperm ? AttributionStatus::kUnverified : AttributionStatus::kVerified,
                         exe.image)));
    }
  }

 private:
  uint64_t tick() { return time_ns_ += 1 + rng_() % 20000; }

  void spawn_process() {
    Process p;
    p.token = build::token(static_cast<int32_t>(next_pid_++ % 99000 + 100), pidversion_++);
    p.exe = rng_() % exes_.size();
    processes_.push_back(p);
  }

  void lifecycle(std::vector<Event>& out, uint32_t roll) {
    Process& p = processes_[rng_() % processes_.size()];
    if (roll == 0) {
      spawn_process();
      const Process& child = processes_.back();
      out.push_back(build::spawn(tick(), child.token, p.token, exes_[child.exe].image));
    } else if (roll == 1) {
      AuditToken previous = p.token;
      p.token = build::token(p.token.pid(), pidversion_++);
      p.exe = rng_() % exes_.size();
      out.push_back(build::exec(tick(), previous, p.token, exes_[p.exe].image));
    } else {
      out.push_back(build::exit(tick(), p.token));
      p = processes_.back();
      processes_.pop_back();
      spawn_process();
    }
  }

  std::mt19937_64 rng_;
  std::vector<Executable> exes_;
  std::vector<std::string> hosts_;
  std::vector<Process> processes_;
  uint64_t flow_id_ = 0;
  uint64_t time_ns_ = 1'000'000'000;
  uint32_t next_pid_ = 300;
  uint32_t pidversion_ = 1000;
};

// ---- timing --------------------------------------------------------------------------------

// Rates are per second of this thread's CPU time, not wall time: the figures are about one core,
// and CPU time stays meaningful on a shared, oversubscribed build machine (where wall time
// mostly measures the neighbours). Time blocked in I/O (the writer's final fdatasync) is not
// counted either; the bench is about the codec.
struct CpuClock {
  using time_point = double;
  static double now() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};

double seconds_since(double start) { return CpuClock::now() - start; }

using bench::Figure;

// ---- raw Cap'n Proto walk ------------------------------------------------------------------

// Touches the fields TraceReader::next decodes, summing them so nothing is optimised away.
struct RawWalker {
  uint64_t sum = 0;
  std::vector<std::string_view> strings;

  template <typename R>
  void token(R r) {
    sum += r.getAuid() + r.getEuid() + r.getEgid() + r.getRuid() + r.getRgid() + r.getPid() +
           r.getAsid() + r.getPidversion();
  }
  void str(uint32_t i) {
    sum += strings[i].size() + static_cast<unsigned char>(strings[i].empty() ? 0 : strings[i][0]);
  }
  void identity(wire::CodeIdentity::Reader r) {
    str(r.getPath());
    if (r.hasCdhash()) sum += r.getCdhash()[0];
    str(r.getSigningId());
    str(r.getTeamId());
    sum += r.getPlatform() + static_cast<uint16_t>(r.getSignature()) + r.getHardenedRuntime();
  }
  void event(wire::Event::Reader e) {
    sum += e.getTimeDeltaNs();
    auto body = e.getBody();
    switch (body.which()) {
      case wire::Event::Body::PROCESS_SPAWN: {
        auto b = body.getProcessSpawn();
        token(b.getToken());
        token(b.getParent());
        if (b.hasResponsible()) token(b.getResponsible());
        identity(b.getImage());
        break;
      }
      case wire::Event::Body::PROCESS_EXEC: {
        auto b = body.getProcessExec();
        token(b.getPrevious());
        token(b.getToken());
        identity(b.getImage());
        break;
      }
      case wire::Event::Body::PROCESS_EXIT: {
        auto b = body.getProcessExit();
        token(b.getToken());
        sum += static_cast<uint32_t>(b.getStatus()) + static_cast<uint16_t>(b.getStage());
        break;
      }
      case wire::Event::Body::FILE_CHANGE: {
        auto b = body.getFileChange();
        str(b.getPath());
        str(b.getNewPath());
        if (b.hasImage()) identity(b.getImage());
        break;
      }
      case wire::Event::Body::FLOW: {
        auto f = body.getFlow();
        sum += f.getFlowId() + f.getIdentifier().getHi() + f.getIdentifier().getLo();
        sum += f.getSourceAppAuditToken().getPresent() + f.getSourceAppAuditToken().getSizeBytes();
        token(f.getSourceAppAuditToken());
        sum += f.getSourceProcessAuditToken().getPresent() +
               f.getSourceProcessAuditToken().getSizeBytes();
        token(f.getSourceProcessAuditToken());
        str(f.getSourceAppIdentifier());
        str(f.getSourceAppVersion());
        str(f.getSourceAppUniqueIdentifier());
        str(f.getHostname());
        str(f.getRemoteHostname());
        str(f.getLocalEndpoint().getAddress());
        sum += f.getLocalEndpoint().getPort();
        str(f.getRemoteEndpoint().getAddress());
        sum += f.getRemoteEndpoint().getPort();
        sum +=
            static_cast<uint16_t>(f.getDirection()) + f.getProtocol() + f.getFamily() + f.getType();
        sum += static_cast<uint32_t>(f.getProcPid()) + static_cast<uint32_t>(f.getEprocPid());
        sum += f.getProcUuid().getHi() + f.getProcUuid().getLo() + f.getEprocUuid().getHi() +
               f.getEprocUuid().getLo() + f.getInBytes() + f.getOutBytes();
        break;
      }
      case wire::Event::Body::LOOKUP: {
        auto l = body.getLookup();
        sum += l.getFlowId() + static_cast<uint16_t>(l.getCall());
        auto args = l.getArgs();
        if (args.hasToken()) token(args.getToken());
        sum += static_cast<uint32_t>(args.getPid()) + args.getCodeHandle();
        str(args.getRequirement());
        str(args.getPath());
        sum += static_cast<uint16_t>(l.getOutcome().getDomain()) +
               static_cast<uint32_t>(l.getOutcome().getCode());
        auto data = l.getData();
        sum += data.getCodeHandle();
        str(data.getPath());
        if (data.hasToken()) token(data.getToken());
        sum += static_cast<uint32_t>(data.getPid());
        if (data.hasIdentity()) identity(data.getIdentity());
        sum += l.getDurationNs();
        break;
      }
      case wire::Event::Body::VERDICT: {
        auto v = body.getVerdict();
        sum += v.getFlowId() + static_cast<uint16_t>(v.getDecision()) +
               static_cast<uint16_t>(v.getStatus());
        if (v.hasIdentity()) identity(v.getIdentity());
        sum += static_cast<uint16_t>(v.getLabel());
        str(v.getRule());
        break;
      }
      case wire::Event::Body::MARKER:
        str(body.getMarker().getText());
        break;
      case wire::Event::Body::DROPPED_EVENTS:
        sum += body.getDroppedEvents().getCount();
        str(body.getDroppedEvents().getReason());
        break;
      default:
        break;
    }
  }

  // Walks every uncompressed, unpacked event chunk of a trace in memory; returns events walked.
  uint64_t walk(std::string_view bytes) {
    uint64_t events = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    for (uint64_t at = frame::kPreambleBytes; at + frame::kFrameHeaderBytes <= bytes.size();) {
      auto h = frame::decode(data + at);
      const unsigned char* payload = data + at + frame::kFrameHeaderBytes;
      at += frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
      if (h.kind != static_cast<uint8_t>(frame::ChunkKind::kEvents)) continue;
      capnp::ReaderOptions options;
      options.traversalLimitInWords = 64u << 20;
      capnp::FlatArrayMessageReader message(
          kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(payload),
                                          h.raw_bytes / 8),
          options);
      auto chunk = message.getRoot<wire::Chunk>();
      strings.clear();
      for (auto s : chunk.getStrings())
        strings.emplace_back(reinterpret_cast<const char*>(s.begin()), s.size());
      for (auto e : chunk.getEvents()) {
        event(e);
        ++events;
      }
    }
    return events;
  }
};

// ---- the benchmark -------------------------------------------------------------------------

struct Encoding {
  const char* name;
  Compression compression;
  bool packed;
};

// A read-only mapping of a whole file (empty when it cannot be mapped).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p =
          ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = p;
        size_ = static_cast<std::size_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int run(const Options& options) {
  std::printf("trace_bench: %llu events, chunk_events_max %u, best of %d passes\n",
              static_cast<unsigned long long>(options.events), options.chunk_events,
              options.passes);
  // A pool of distinct events; the writer cycles through it with shifted times.
  EventMix mix(0x7472616365ULL);
  std::vector<Event> pool;
  const std::size_t pool_size =
      static_cast<std::size_t>(std::min<uint64_t>(options.events, 1u << 18));
  while (pool.size() < pool_size) mix.next_group(pool);
  pool.resize(pool_size);
  const uint64_t pool_span_ns = pool.back().time_ns - pool.front().time_ns + 1;
  std::array<uint64_t, kEventKindCount> kinds{};
  for (const Event& e : pool) ++kinds[e.body.index()];
  std::printf("mix:");
  for (int k = 0; k < kEventKindCount; ++k) {
    if (kinds[k] != 0) {
      std::printf(" %s %.1f%%", std::string(name_of(static_cast<EventKind>(k))).c_str(),
                  100.0 * static_cast<double>(kinds[k]) / static_cast<double>(pool.size()));
    }
  }
  std::printf("\n\n");

  std::vector<Figure> figures;
  const Encoding encodings[] = {{"plain", Compression::kNone, false},
                                {"packed", Compression::kNone, true},
                                {"zstd", Compression::kZstd, false},
                                {"packed+zstd", Compression::kZstd, true}};
  const std::string base = options.dir + "/flowid_trace_bench_" + std::to_string(::getpid());
  TraceHeader header;
  header.recorder = "trace_bench";
  header.clock = "virtual";
  double plain_read_nodigest = 0;
  double zstd_read_nodigest = 0;
  std::string plain_path;
  for (const Encoding& enc : encodings) {
    if (!options.only.empty() && options.only != enc.name) continue;
    const std::string path = base + "_" + enc.name + ".fltr";
    WriterOptions wo;
    wo.compression = enc.compression;
    wo.packed = enc.packed;
    wo.chunk_events_max = options.chunk_events;
    wo.zstd_level = options.zstd_level;
    double write_s = 1e30;
    uint64_t file_bytes = 0;
    for (int pass = 0; pass < options.passes; ++pass) {
      std::string error;
      auto start = CpuClock::now();
      auto writer = open_writer(path, header, wo, &error);
      if (!writer) {
        std::fprintf(stderr, "trace_bench: %s\n", error.c_str());
        return 1;
      }
      Event e;
      for (uint64_t i = 0; i < options.events; ++i) {
        const std::size_t slot = i % pool.size();
        e = pool[slot];
        e.time_ns += (i / pool.size()) * pool_span_ns;
        writer->append(e);
      }
      writer->finish();
      file_bytes = writer->bytes_written();
      writer.reset();
      write_s = std::min(write_s, seconds_since(start));
    }
    const double events = static_cast<double>(options.events);
    const std::string suffix =
        std::string(enc.name) == "plain"
            ? ""
            : std::string("_") +
                  (std::string(enc.name) == "packed+zstd" ? "packed_zstd" : enc.name);
    figures.push_back({"trace_write" + suffix + "_events_per_s", events / write_s, "events/s",
                       std::string("write, ") + enc.name});
    figures.push_back(
        {"trace_bytes_per_event" + (suffix.empty() ? std::string("_unpacked") : suffix),
         static_cast<double>(file_bytes) / events, "bytes/event",
         std::string("file bytes per event, ") + enc.name});

    for (bool verify : {false, true}) {
      double read_s = 1e30;
      uint64_t read_events = 0;
      for (int pass = 0; pass < options.passes; ++pass) {
        ReaderOptions ro;
        ro.verify_digest = verify;
        auto start = CpuClock::now();
        auto reader = open_reader(path, ro);
        Event e;
        uint64_t n = 0;
        uint64_t sum = 0;
        while (reader->next(e)) {
          ++n;
          sum += e.time_ns;
        }
        read_s = std::min(read_s, seconds_since(start));
        if (!reader->clean() || n != options.events || sum == 0) {
          std::fprintf(stderr, "trace_bench: read back %llu of %llu events from %s, clean=%d\n",
                       static_cast<unsigned long long>(n),
                       static_cast<unsigned long long>(options.events), path.c_str(),
                       reader->clean());
          return 1;
        }
        read_events = n;
      }
      const double rate = static_cast<double>(read_events) / read_s;
      if (std::string(enc.name) == "plain" && !verify) plain_read_nodigest = rate;
      if (std::string(enc.name) == "zstd" && !verify) zstd_read_nodigest = rate;
      figures.push_back({"trace_read" + suffix + (verify ? "_digest" : "") + "_events_per_s", rate,
                         "events/s",
                         std::string("read, ") + enc.name +
                             (verify ? ", digest verified" : " (default options)")});
    }
    if (std::string(enc.name) == "plain") {
      plain_path = path;
    } else if (!options.keep_files) {
      ::unlink(path.c_str());
    }
  }

  // The reader against the raw Cap'n Proto walk, in two setups, with their passes interleaved
  // (walk, read, walk, read, ...) so that both sides of a ratio meet the same neighbours on a
  // shared machine; best of --passes for each:
  //   - the raw walk over the plain file's bytes in memory, the reader over the file (pread);
  //   - both over the same file, freshly mmapped for each pass (both pay the page faults; the
  //     reader reads the mapping through memory_reader).
  // And the reader over the bytes in memory: its own cost apart from reading the file.
  if (!plain_path.empty()) {
    const std::string bytes = slurp(plain_path);
    double walk_s = 1e30, read_file_s = 1e30, read_memory_s = 1e30;
    double walk_mapped_s = 1e30, read_mapped_s = 1e30;
    uint64_t walked = 0;
    uint64_t sum = 0;
    auto read_all = [&](TraceReader& reader, const char* what) {
      Event e;
      uint64_t n = 0;
      while (reader.next(e)) {
        ++n;
        sum += e.time_ns;
      }
      if (!reader.clean() || n != options.events) {
        std::fprintf(stderr, "trace_bench: %s read gave %llu of %llu events\n", what,
                     static_cast<unsigned long long>(n),
                     static_cast<unsigned long long>(options.events));
        return false;
      }
      return true;
    };
    for (int pass = 0; pass < options.passes; ++pass) {
      RawWalker walker;
      auto start = CpuClock::now();
      walked = walker.walk(bytes);
      walk_s = std::min(walk_s, seconds_since(start));
      sum += walker.sum;

      start = CpuClock::now();
      auto file_reader = open_reader(plain_path);
      if (!read_all(*file_reader, "file")) return 1;
      read_file_s = std::min(read_file_s, seconds_since(start));

      start = CpuClock::now();
      auto memory = memory_reader(bytes);
      if (!read_all(*memory, "in-memory")) return 1;
      read_memory_s = std::min(read_memory_s, seconds_since(start));

      MappedFile mapped(plain_path);
      RawWalker mapped_walker;
      start = CpuClock::now();
      const uint64_t walked_mapped = mapped_walker.walk(mapped.bytes());
      walk_mapped_s = std::min(walk_mapped_s, seconds_since(start));
      sum += mapped_walker.sum;
      if (walked_mapped != walked) {
        std::fprintf(stderr, "trace_bench: the mmapped walk saw %llu events, not %llu\n",
                     static_cast<unsigned long long>(walked_mapped),
                     static_cast<unsigned long long>(walked));
        return 1;
      }

      MappedFile mapped_again(plain_path);
      start = CpuClock::now();
      auto mapped_reader = memory_reader(mapped_again.bytes());
      if (!read_all(*mapped_reader, "mmapped")) return 1;
      read_mapped_s = std::min(read_mapped_s, seconds_since(start));
    }
    const double n = static_cast<double>(walked);
    figures.push_back({"trace_raw_capnp_walk_events_per_s", n / walk_s, "events/s",
                       "raw Cap'n Proto walk (same chunks, same fields, no Event), memory"});
    figures.push_back({"trace_read_interleaved_events_per_s", n / read_file_s, "events/s",
                       "TraceReader over the file, passes between the walk's"});
    figures.push_back({"trace_read_memory_events_per_s", n / read_memory_s, "events/s",
                       "TraceReader over the bytes in memory"});
    figures.push_back({"trace_read_to_raw_walk_ratio", walk_s / read_file_s, "ratio",
                       "reader (file, pread) / raw walk (memory) (target >= 0.8)"});
    figures.push_back({"trace_raw_capnp_walk_mmap_events_per_s", n / walk_mapped_s, "events/s",
                       "raw walk over the mmapped file"});
    figures.push_back({"trace_read_mmap_events_per_s", n / read_mapped_s, "events/s",
                       "TraceReader over the same mmapped file"});
    figures.push_back({"trace_read_mmap_to_raw_walk_mmap_ratio", walk_mapped_s / read_mapped_s,
                       "ratio", "reader / raw walk, both over the mmapped file (target >= 0.8)"});
    if (plain_read_nodigest > 0 && zstd_read_nodigest > 0) {
      figures.push_back({"trace_read_zstd_to_plain_ratio", zstd_read_nodigest / plain_read_nodigest,
                         "ratio", "zstd read / plain read (target >= 0.5)"});
    }
    if (sum == 42) std::printf("(unlikely checksum)\n");
    if (!options.keep_files) ::unlink(plain_path.c_str());
  }

  bench::print_figures(figures, 62);
  return 0;
}

}  // namespace
}  // namespace flowid::trace

int main(int argc, char** argv) {
  flowid::trace::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "trace_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--events") {
      options.events = std::stoull(value());
    } else if (arg == "--quick") {
      options.events = 200'000;
      options.passes = 1;
    } else if (arg == "--chunk-events") {
      options.chunk_events = static_cast<uint32_t>(std::stoul(value()));
    } else if (arg == "--passes") {
      options.passes = std::max(1, std::stoi(value()));
    } else if (arg == "--zstd-level") {
      options.zstd_level = std::stoi(value());
    } else if (arg == "--keep") {
      options.keep_files = true;
    } else if (arg == "--dir") {
      options.dir = value();
    } else if (arg == "--only") {
      options.only = value();
    } else {
      std::fprintf(stderr,
                   "usage: trace_bench [--events N] [--quick] [--chunk-events N] [--passes N] "
                   "[--dir DIR] [--keep] [--only plain|packed|zstd|packed+zstd]\n");
      return 2;
    }
  }
  if (options.events == 0) options.events = 1;
  return flowid::trace::run(options);
}
