// `flowid record --system`: the whole machine, best effort (docs/recording.md, "--system").
// Lifecycle from the process connector (and the process table at start); connections from
// socket diagnostics, polled, attributed through /proc/*/fd (a bare-pid method: at most
// "unverified"). Nothing is held or enforced.
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "harness/strategies/linux_pidfd.h"
#include "recorder/internal.h"
#include "recorder/linux_process.h"
#include "recorder/live_seam.h"
#include "recorder/proc_connector.h"
#include "recorder/recorder.h"

namespace flowid::recorder {
namespace {

using internal::monotonic_ns;

struct SocketSeen {
  uint64_t cookie = 0;
  uint32_t inode = 0;
  uint32_t family = 0;
  uint32_t protocol = 0;
  Endpoint local;
  Endpoint remote;
};

Endpoint endpoint_from_diag(uint8_t family, const __be32* address, __be16 port) {
  sockaddr_storage storage{};
  std::size_t length = 0;
  if (family == AF_INET) {
    auto& in4 = reinterpret_cast<sockaddr_in&>(storage);
    in4.sin_family = AF_INET;
    std::memcpy(&in4.sin_addr, address, 4);
    in4.sin_port = port;
    length = sizeof in4;
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(storage);
    in6.sin6_family = AF_INET6;
    std::memcpy(&in6.sin6_addr, address, 16);
    in6.sin6_port = port;
    length = sizeof in6;
  }
  uint32_t ignored = 0;
  return internal::endpoint_of(storage, length, &ignored);
}

// Lists connected TCP and UDP sockets of one family. Returns 0 or errno.
int list_sockets(uint8_t family, uint8_t protocol, std::vector<SocketSeen>* out) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return errno;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = family;
  message.request.sdiag_protocol = protocol;
  // Every state a connected, owned socket can be in: not LISTEN (10), TIME_WAIT (6) or CLOSE
  // (7). For UDP "established" (1) means connected.
  message.request.idiag_states = ~((1u << 10) | (1u << 6) | (1u << 7));
  if (::send(fd, &message, sizeof message, 0) < 0) {
    int error = errno;
    ::close(fd);
    return error;
  }
  alignas(nlmsghdr) char buffer[32768];
  bool done = false;
  for (int reads = 0; reads < 100000 && !done; ++reads) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    auto remaining = static_cast<std::size_t>(n);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_type == NLMSG_DONE || header->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      auto* diag = static_cast<inet_diag_msg*>(NLMSG_DATA(header));
      if (diag->id.idiag_dport == 0) continue;
      SocketSeen seen;
      seen.cookie = (uint64_t{diag->id.idiag_cookie[1]} << 32) | diag->id.idiag_cookie[0];
      seen.inode = diag->idiag_inode;
      seen.family = diag->idiag_family;
      seen.protocol = protocol;
      seen.local = endpoint_from_diag(diag->idiag_family, diag->id.idiag_src, diag->id.idiag_sport);
      seen.remote =
          endpoint_from_diag(diag->idiag_family, diag->id.idiag_dst, diag->id.idiag_dport);
      out->push_back(seen);
    }
  }
  ::close(fd);
  return 0;
}

// socket inode -> pid, from every /proc/PID/fd (the OpenSnitch /proc method).
std::map<uint32_t, int32_t> socket_owners() {
  std::map<uint32_t, int32_t> owners;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return owners;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string fd_dir = std::string("/proc/") + entry->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* fd_entry = ::readdir(fds)) {
      char target[64];
      ssize_t n = ::readlinkat(::dirfd(fds), fd_entry->d_name, target, sizeof target - 1);
      if (n <= 8 || std::strncmp(target, "socket:[", 8) != 0) continue;
      target[n] = '\0';
      owners.emplace(static_cast<uint32_t>(std::strtoul(target + 8, nullptr, 10)),
                     static_cast<int32_t>(pid));
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  return owners;
}

class SystemRecorder {
 public:
  SystemRecorder(trace::TraceWriter& writer, RecordStats& stats)
      : writer_(writer), stats_(stats), epoch_ns_(monotonic_ns()) {}

  void append(uint64_t time_ns, EventBody body) {
    time_ns = std::max(time_ns, last_time_ns_);
    last_time_ns_ = time_ns;
    if (std::holds_alternative<Flow>(body)) ++flows_appended_;
    writer_.append(Event{time_ns, std::move(body)});
    ++stats_.events;
    note_written();
  }
  // Every chunk write takes all events appended so far (see recorder.cc).
  void note_written() {
    if (writer_.last_error().empty() && writer_.bytes_written() != bytes_seen_) {
      bytes_seen_ = writer_.bytes_written();
      flows_in_file_ = flows_appended_;
    }
  }
  uint64_t flows_appended() const { return flows_appended_; }
  uint64_t flows_in_file() const { return flows_in_file_; }
  uint64_t now() const { return monotonic_ns() - epoch_ns_; }

  // Reads a process through its /proc directory (by bare pid), for the lifecycle events.
  struct Seen {
    AuditToken token;
    CodeIdentity image;
    int32_t ppid = 0;
  };
  std::optional<Seen> read_process(int32_t pid) {
    live_seam_.begin(-1, 0);
    const SeamResult<LinuxProcStat> stat = live_seam_.proc_stat(pid);
    if (!stat.ok()) return std::nullopt;
    Seen seen;
    seen.token = stat.value.token;
    seen.ppid = live_seam_.stat()->stat.ppid;
    if (const SeamResult<LinuxExe> exe = live_seam_.proc_exe(pid); exe.ok()) {
      SeamResult<CodeIdentity> hash = live_seam_.exe_hash(pid, exe.value.path);
      if (hash.ok()) {
        seen.image = std::move(hash.value);
      } else {
        seen.image.path = exe.value.path;
      }
    }
    return seen;
  }

  void initial_table() {
    append(now(), Marker{"initial process table"});
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return;
    while (dirent* entry = ::readdir(proc)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (*end != '\0' || pid <= 0) continue;
      if (auto seen = read_process(static_cast<int32_t>(pid))) {
        tokens_[static_cast<int32_t>(pid)] = seen->token;
        append(now(), ProcessSpawn{seen->token, parent(seen->ppid), std::nullopt, seen->image});
        ++stats_.spawns;
      }
    }
    ::closedir(proc);
  }

  AuditToken parent(int32_t ppid) {
    if (auto it = tokens_.find(ppid); it != tokens_.end()) return it->second;
    AuditToken token;
    token.words[AuditToken::kPid] = static_cast<uint32_t>(ppid);
    return token;
  }

  void on_proc_events(ProcConnector& connector) {
    std::vector<ProcEvent> events;
    uint64_t lost = connector.drain(&events);
    if (lost > 0) {
      stats_.dropped_events += lost;
      append(now(),
             DroppedEvents{lost, "process connector: messages lost (socket buffer overrun)"});
    }
    for (const auto& event : events) {
      if (event.pid != event.tgid) continue;  // threads.
      uint64_t time_ns = event.timestamp_ns > epoch_ns_ ? event.timestamp_ns - epoch_ns_ : 0;
      switch (event.kind) {
        case ProcEvent::Kind::kFork: {
          generations_[event.tgid] = 0;
          auto seen = read_process(event.tgid);
          AuditToken token = seen ? seen->token : parent(event.parent_tgid);
          token.words[AuditToken::kPid] = static_cast<uint32_t>(event.tgid);
          tokens_[event.tgid] = token;
          append(time_ns, ProcessSpawn{token, parent(event.parent_tgid), std::nullopt,
                                       seen ? seen->image : CodeIdentity{}});
          ++stats_.spawns;
          break;
        }
        case ProcEvent::Kind::kExec: {
          AuditToken previous = parent(event.tgid);
          ++generations_[event.tgid];
          auto seen = read_process(event.tgid);
          if (!seen) break;
          tokens_[event.tgid] = seen->token;
          append(time_ns, ProcessExec{previous, seen->token, seen->image});
          ++stats_.execs;
          break;
        }
        case ProcEvent::Kind::kExit: {
          append(time_ns, ProcessExit{parent(event.tgid), static_cast<int32_t>(event.exit_code),
                                      ExitStage::kExited});
          tokens_.erase(event.tgid);
          generations_.erase(event.tgid);
          ++stats_.exits;
          break;
        }
      }
    }
  }

  void poll_sockets() {
    std::vector<SocketSeen> sockets;
    for (uint8_t family : {uint8_t{AF_INET}, uint8_t{AF_INET6}}) {
      for (uint8_t protocol : {uint8_t{IPPROTO_TCP}, uint8_t{IPPROTO_UDP}}) {
        list_sockets(family, protocol, &sockets);
      }
    }
    std::vector<SocketSeen> fresh;
    std::set<uint64_t> current;
    for (const auto& socket : sockets) {
      current.insert(socket.cookie);
      if (!known_sockets_.contains(socket.cookie)) fresh.push_back(socket);
    }
    known_sockets_ = std::move(current);
    if (fresh.empty()) return;
    auto owners = socket_owners();
    for (const auto& socket : fresh) {
      uint64_t flow_id = next_flow_id_++;
      uint64_t time_ns = now();
      Flow flow;
      flow.flow_id = flow_id;
      flow.identifier = internal::flow_uuid(epoch_ns_, flow_id);
      flow.direction = FlowDirection::kAny;
      flow.family = socket.family;
      flow.protocol = socket.protocol;
      flow.type = socket.protocol == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
      flow.local_endpoint = socket.local;
      flow.remote_endpoint = socket.remote;
      Attribution attribution;
      flow_lookups_.clear();
      if (auto owner = owners.find(socket.inode); owner != owners.end()) {
        flow.proc_pid = flow.eproc_pid = owner->second;
        live_seam_.begin(-1, 0);
        observed_seam_.set_flow(flow_id);
        attribution = strategies::resolve_linux_by_pid(flow, observed_seam_);
        if (const Lookup* stat = flow_lookups_.first(LookupCall::kProcStat);
            stat != nullptr && stat->outcome.ok() && stat->data.token) {
          flow.source_process_audit_token =
              FlowToken{true, AuditToken::kByteSize, *stat->data.token};
          flow.source_app_audit_token = flow.source_process_audit_token;
          flow.source_app_identifier = live_seam_.exe().path;
        }
      }
      Verdict verdict;
      verdict.flow_id = flow_id;
      verdict.decision = Decision::kAllow;
      verdict.rule = "policy:record-only";
      verdict.status = internal::status_for_label(&verdict.label, attribution.status);
      verdict.identity = attribution.identity;
      append(time_ns, flow);
      ++stats_.flows;
      for (auto& lookup : flow_lookups_.lookups()) {
        append(time_ns, std::move(lookup));
        ++stats_.lookups;
      }
      append(time_ns, verdict);
      ++stats_.allowed;
    }
  }

 private:
  trace::TraceWriter& writer_;
  RecordStats& stats_;
  uint64_t epoch_ns_;
  uint64_t last_time_ns_ = 0;
  uint64_t flows_appended_ = 0;
  uint64_t flows_in_file_ = 0;
  uint64_t bytes_seen_ = 0;
  uint64_t next_flow_id_ = 1;
  std::map<int32_t, AuditToken> tokens_;
  std::map<int32_t, uint32_t> generations_;
  std::set<uint64_t> known_sockets_;
  ExeHashCache hashes_;
  // Flows are resolved by the bare-pid decision (harness/strategies/linux_pidfd.h) asking
  // observed_seam_, which records each lookup in flow_lookups_; lifecycle reads ask live_seam_.
  LiveLinuxSeam live_seam_{hashes_, [this](int32_t pid, uint64_t start_ticks) {
                             (void)start_ticks;
                             auto it = generations_.find(pid);
                             return it == generations_.end() ? 0u : it->second;
                           }};
  FlowLookups flow_lookups_{live_seam_};
  ObservedLinuxSeam observed_seam_{live_seam_, flow_lookups_};
};

}  // namespace

RecordResult record_system(const SystemOptions& options) {
  RecordResult result;
  if (::geteuid() != 0) {
    result.error = RecordError::kSetup;
    result.message = "--system needs root (the process connector and every /proc/PID/fd)";
    return result;
  }
  ProcConnector connector;
  if (int error = internal::in_initial_namespaces() ? connector.open() : EPERM) {
    result.error = RecordError::kSetup;
    result.message = std::string("the process connector is unavailable: ") + std::strerror(error);
    return result;
  }
  trace::TraceHeader header =
      internal::make_header(options.recorder_name, "system-wide recorder (flowid record --system)");
  header.resolver_config = {
      {"strategy", "linux-sock-diag-proc (bare pid: unverified)"},
      {"lifecycle", "connector"},
      {"poll_interval_ms", std::to_string(options.poll_interval_ms)},
      {"pidversion", "uint32(start_ticks + (exec_generation << 24))"},
      {"clock_ticks_per_second", std::to_string(internal::clock_ticks_per_second())},
  };
  std::string open_error;
  auto writer = trace::open_writer(options.output_path, header, options.writer, &open_error);
  if (!writer) {
    result.error = RecordError::kOutput;
    result.message = open_error;
    return result;
  }
  sigset_t signals, original;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  ::sigprocmask(SIG_BLOCK, &signals, &original);
  struct sigaction ignore_xfsz = {};
  struct sigaction original_xfsz = {};
  ignore_xfsz.sa_handler = SIG_IGN;  // a file size limit gives a write error, not a kill.
  ::sigaction(SIGXFSZ, &ignore_xfsz, &original_xfsz);
  int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);

  SystemRecorder recorder(*writer, result.stats);
  result.stats.lifecycle_source = "connector";
  recorder.initial_table();
  uint64_t start = monotonic_ns();
  uint64_t last_flush = start;
  while (true) {
    pollfd entries[2] = {{connector.fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    ::poll(entries, 2, static_cast<int>(options.poll_interval_ms));
    if (entries[1].revents & POLLIN) break;
    recorder.on_proc_events(connector);
    recorder.poll_sockets();
    uint64_t now = monotonic_ns();
    if (now - last_flush >= uint64_t{options.flush_interval_ms} * 1'000'000) {
      writer->flush();
      recorder.note_written();
      last_flush = now;
      if (!writer->last_error().empty()) break;  // stop at the first write error.
    }
    if (options.duration_ms > 0 && now - start >= uint64_t{options.duration_ms} * 1'000'000) break;
  }
  recorder.on_proc_events(connector);
  writer->finish();
  recorder.note_written();
  ::close(signal_fd);
  ::sigprocmask(SIG_SETMASK, &original, nullptr);
  ::sigaction(SIGXFSZ, &original_xfsz, nullptr);
  result.stats.bytes_written = writer->bytes_written();
  if (!writer->last_error().empty()) {
    result.error = RecordError::kOutput;
    result.stats.flows = recorder.flows_in_file();
    result.stats.unwritten_flows = recorder.flows_appended() - recorder.flows_in_file();
    result.message = writer->last_error() +
                     "; recording stopped at the first write error: the trace holds " +
                     std::to_string(result.stats.flows) + " flows up to its last whole chunk; " +
                     std::to_string(result.stats.unwritten_flows) + " more are not in it";
  }
  result.command_finished = true;
  return result;
}

}  // namespace flowid::recorder
