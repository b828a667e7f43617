// The tree recorder: a single-threaded supervisor loop over one epoll set (the seccomp listener,
// a signalfd, a flush timer, the process connector and one pidfd per known process). See
// recorder.h for what is recorded per flow and linux_process.h for the token mapping.
//
// Starting the command. The child is created with clone(CLONE_FILES): it shares the
// supervisor's fd table until its execve, so the listener fd its seccomp() call creates lands in
// the supervisor's table with no SCM_RIGHTS message (sendmsg is itself intercepted) and no
// pidfd_getfd (which needs ptrace rights). execve gives the child a private copy of the table
// and closes the close-on-exec entries in that copy; the child first marks close-on-exec every fd
// flowid opened itself (the trace file among them), so the command inherits exactly the fds
// flowid inherited.
//
// Lifecycle. With the process connector, fork / exec / exit come from the kernel: it queues the
// message inside the fork, exec or exit itself, so draining the connector before each
// notification puts every lifecycle event before the flows that follow it. Without it (not
// root, or inside a pid namespace), the supervisor learns a process when it first makes an
// intercepted call (a spawn, with its parent from /proc/PID/stat), an exec from the execve
// notification (recorded when the target exists and is executable: execvp's PATH probing fails
// with ENOENT and is not an exec), and an exit when the pidfd it holds for each known process
// becomes readable (with the wait status when the process is its child; the supervisor is a
// child subreaper, so orphans of the tree become its children).
#include "recorder/recorder.h"

#include <fcntl.h>
#include <linux/seccomp.h>
// Linux 5.5's flag; older kernel headers (Ubuntu 20.04's 5.4, the ClusterFuzzLite image) lack the
// name. The kernel this runs on must still have it (start-up says so: Linux 5.5 or newer).
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "harness/strategies/linux_pidfd.h"
#include "recorder/internal.h"
#include "recorder/linux_process.h"
#include "recorder/live_seam.h"
#include "recorder/proc_connector.h"
#include "recorder/seccomp_filter.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace flowid::recorder {
namespace {

using internal::monotonic_ns;

using internal::pidfd_getfd;
using internal::pidfd_open;
using internal::status_for_label;
using internal::UniqueFd;

// Reads size bytes at address in the task's memory. Returns 0 or errno.
int read_tracee(pid_t pid, uint64_t address, void* out, std::size_t size_bytes) {
  iovec local{out, size_bytes};
  iovec remote{reinterpret_cast<void*>(address), size_bytes};
  ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) return errno;
  return static_cast<std::size_t>(n) == size_bytes ? 0 : EFAULT;
}

// Reads a NUL-terminated string (at most 4095 bytes) from the task's memory, page by page so
// that a string ending just before an unmapped page still reads.
int read_tracee_string(pid_t pid, uint64_t address, std::string* out) {
  constexpr std::size_t kPageBytes = 4096;
  constexpr std::size_t kLengthMax = 4095;
  out->clear();
  while (out->size() < kLengthMax) {
    std::size_t chunk = kPageBytes - (address % kPageBytes);
    chunk = std::min(chunk, kLengthMax - out->size());
    char buffer[kPageBytes];
    if (int error = read_tracee(pid, address, buffer, chunk)) return error;
    std::size_t length = strnlen(buffer, chunk);
    out->append(buffer, length);
    if (length < chunk) return 0;
    address += chunk;
  }
  return ENAMETOOLONG;
}

// The fds open in this process, by number.
std::set<int> open_fds() {
  std::set<int> fds;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    int fd = -1;
    std::string name = entry.path().filename().string();
    if (std::sscanf(name.c_str(), "%d", &fd) == 1) fds.insert(fd);
  }
  return fds;
}

int wait_status_of(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return (info.si_status & 0xff) << 8;
    case CLD_KILLED:
      return info.si_status & 0x7f;
    case CLD_DUMPED:
      return (info.si_status & 0x7f) | 0x80;
    default:
      return 0;
  }
}

// "what: ENAME (message)" for markers.
std::string fmt_note(const std::string& what, int error) {
  const char* name = ::strerrorname_np(error);
  return what + ": " + (name != nullptr ? name : std::to_string(error)) + " (" +
         std::strerror(error) + ")";
}

bool fd_readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 0) > 0;
}

CodeIdentity image_or_path(const std::optional<CodeIdentity>& identity, const std::string& path) {
  if (identity) return *identity;
  CodeIdentity bare;
  bare.path = path;
  return bare;
}

constexpr int32_t kStatusUnknown = -1;  // exit status the supervisor could not learn.
constexpr std::size_t kTrackedProcessesMax = 65536;
constexpr int kEpollBatch = 64;

// What the recorder knows about one process of the tree.
struct Tracked {
  int32_t pid = 0;  // thread-group id.
  uint64_t start_ticks = 0;
  uint32_t generation = 0;
  AuditToken token;
  CodeIdentity image;
  UniqueFd pidfd;  // watched for exit (supervisor lifecycle only).
};

// The epoll data word: a kind tag in the top byte, a number (fd or pid) below.
enum class Source : uint8_t { kNotify = 1, kSignal, kTimer, kConnector, kPidfd };
uint64_t epoll_key(Source source, uint64_t value) {
  return (uint64_t{static_cast<uint8_t>(source)} << 56) | value;
}

class TreeRecorder {
 public:
  TreeRecorder(const RecordOptions& options, trace::TraceWriter& writer, RecordStats& stats,
               bool use_connector, ProcConnector* connector, uint64_t epoch_ns)
      : options_(options),
        writer_(writer),
        stats_(stats),
        use_connector_(use_connector),
        connector_(connector),
        filter_(options.rules ? std::make_optional<Filter>(*options.rules) : std::nullopt),
        epoch_ns_(epoch_ns),
        run_salt_(internal::realtime_ns()),
        ticks_per_second_(internal::clock_ticks_per_second()),
        boottime_offset_ns_(internal::boottime_offset_ns()) {}

  // Sets up epoll around notify_fd and the child, then supervises until the tree has gone.
  void run(int notify_fd, pid_t root_pid, RecordResult* result);

 private:
  uint64_t now() const { return monotonic_ns() - epoch_ns_; }
  // Events go out in time order: a kernel-stamped connector event that is drained after a flow
  // the supervisor stamped later is clamped to that flow's time.
  void append(Event event) {
    event.time_ns = std::max(event.time_ns, last_time_ns_);
    last_time_ns_ = event.time_ns;
    if (std::holds_alternative<Flow>(event.body)) ++flows_appended_;
    writer_.append(event);
    ++stats_.events;
    dirty_ = true;
    note_written();
  }
  // A chunk write (when a chunk fills, or at a flush) takes every event appended so far: when
  // the file grew without an error, all flows appended so far are in it.
  void note_written() {
    if (writer_.last_error().empty() && writer_.bytes_written() != bytes_seen_) {
      bytes_seen_ = writer_.bytes_written();
      flows_in_file_ = flows_appended_;
    }
  }
  void append(EventBody body) { append(Event{now(), std::move(body)}); }

  void watch(int fd, Source source, uint64_t value) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = epoll_key(source, value);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event);
  }

  // Lifecycle.
  Tracked* find_live(int32_t pid) {
    auto it = table_.find(pid);
    return it == table_.end() ? nullptr : &it->second;
  }
  std::optional<Tracked> snapshot(int32_t pid, int dirfd_or_negative);
  AuditToken parent_token(int32_t ppid);
  Tracked* adopt(Tracked fresh, const AuditToken& parent, uint64_t time_ns);
  Tracked* learn_from_call(int32_t tgid, int32_t ppid, const ProcStat& stat,
                           const ProcCredentials& credentials, const CodeIdentity& image,
                           uint64_t time_ns);
  void record_exit(int32_t pid, int32_t status, ExitStage stage, uint64_t time_ns);
  void record_exec(Tracked& tracked, const CodeIdentity& image, uint64_t time_ns);
  void drain_connector();
  void on_pidfd_ready(int32_t pid);
  void reap_children();
  void report_dropped(uint64_t count, std::string reason);

  // Notifications.
  void on_notification();
  void handle_network(const seccomp_notif& notification);
  bool record_flow(const seccomp_notif& notification, const sockaddr_storage* destination_or_null,
                   std::size_t destination_bytes, int memory_error);
  Flow flow_to(const sockaddr_storage* destination_or_null, std::size_t destination_bytes,
               int memory_error, std::vector<std::string>* notes);
  void complete_flow(Flow& flow, int socket_fd, uint64_t flow_time,
                     std::vector<std::string>* notes);
  void read_socket_type(Flow& flow, int socket_fd, std::vector<std::string>* notes);
  Verdict decide(const Flow& flow, const Attribution& attribution) const;
  bool count_verdict(const Verdict& verdict);
  // The exec generation the table knows for an execution (tgid, start time), else 0.
  uint32_t generation_of(int32_t tgid, uint64_t start_ticks) {
    Tracked* known = find_live(tgid);
    return known != nullptr && known->start_ticks == start_ticks ? known->generation : 0;
  }
  void handle_exec(const seccomp_notif& notification);
  void handle_channel(const seccomp_notif& notification, const char* name);
  void mark_channel(pid_t pid, const std::string& what, const char* answer);
  void respond(uint64_t id, int error);
  void answer_kernel(uint64_t id, int error);

  // Write-ahead: the answers of a batch of notifications wait until the batch's events are in
  // the file (write(2), not fsync: a crash of flowid loses nothing that passed; a crash of the
  // machine may). A write error fails the batch closed (fail_closed()).
  void commit();
  void fail_closed();
  void begin_stop();

  const RecordOptions& options_;
  trace::TraceWriter& writer_;
  RecordStats& stats_;
  UniqueFd sync_fd_;  // the trace, read-only: fdatasync on the flush timer.
  bool use_connector_;
  ProcConnector* connector_;
  std::optional<Filter> filter_;
  uint64_t epoch_ns_;
  uint64_t run_salt_;
  uint64_t ticks_per_second_;
  uint64_t boottime_offset_ns_;

  UniqueFd epoll_;
  int notify_fd_ = -1;
  pid_t root_pid_ = 0;
  bool root_finished_ = false;
  int root_status_ = 0;
  std::map<int32_t, Tracked> table_;
  ExeHashCache hashes_;
  // The recorder's strategy asks observed_seam_, which records each lookup in flow_lookups_ and
  // forwards it to live_seam_.
  LiveLinuxSeam live_seam_{hashes_, [this](int32_t tgid, uint64_t start_ticks) {
                             return generation_of(tgid, start_ticks);
                           }};
  FlowLookups flow_lookups_{live_seam_};
  ObservedLinuxSeam observed_seam_{live_seam_, flow_lookups_};
  uint64_t next_flow_id_ = 1;
  bool dirty_ = false;
  uint64_t last_time_ns_ = 0;
  std::vector<char> notification_buffer_;
  std::vector<char> response_buffer_;

  // Counted into stats_ when the batch reaches the file.
  struct Batch {
    uint64_t flows = 0, lookups = 0, allowed = 0, dropped = 0, asked = 0, denied = 0;
    std::vector<std::pair<uint64_t, int>> answers;  // notification id, errno (0: continue).
  };
  Batch batch_;
  std::set<std::pair<int32_t, std::string>> channels_marked_;
  uint64_t written_since_sync_ = 0;
  uint64_t flows_appended_ = 0;
  uint64_t flows_in_file_ = 0;
  uint64_t bytes_seen_ = 0;
  bool listener_closed_ = false;
  bool listener_hung_up_ = false;
  bool stopping_ = false;
  uint64_t stop_deadline_ns_ = 0;

 public:
  bool listener_closed() const { return listener_closed_; }
  // After the writer's finish(): when a write failed, the flow count is the file's.
  void settle_counts() {
    note_written();
    if (writer_.last_error().empty() || listener_closed_) return;  // fail_closed() counted.
    stats_.flows = flows_in_file_;
    stats_.unwritten_flows = flows_appended_ - flows_in_file_;
  }
};

std::optional<Tracked> TreeRecorder::snapshot(int32_t pid, int dirfd_or_negative) {
  UniqueFd owned;
  int dirfd = dirfd_or_negative;
  if (dirfd < 0) {
    owned.reset(
        ::open(("/proc/" + std::to_string(pid)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!owned.valid()) return std::nullopt;
    dirfd = owned.get();
  }
  ProcStat stat;
  ProcCredentials credentials;
  if (read_proc_stat(dirfd, &stat) != 0 || read_proc_credentials(dirfd, &credentials) != 0) {
    return std::nullopt;
  }
  Tracked tracked;
  tracked.pid = credentials.tgid;
  tracked.start_ticks = stat.start_ticks;
  tracked.token = linux_audit_token(credentials, stat.start_ticks, 0);
  ExeFile exe;
  int exe_fd = -1;
  if (read_proc_exe(dirfd, &exe, &exe_fd) == 0) {
    Cdhash cdhash{};
    if (hashes_.hash(exe_fd, exe, &cdhash) == 0) {
      tracked.image = linux_code_identity(exe.path, cdhash);
    } else {
      tracked.image.path = exe.path;
    }
    ::close(exe_fd);
  }
  return tracked;
}

AuditToken TreeRecorder::parent_token(int32_t ppid) {
  if (Tracked* parent = find_live(ppid)) return parent->token;
  if (ppid == ::getpid()) {
    if (auto self = snapshot(ppid, -1)) return self->token;
  }
  if (auto other = snapshot(ppid, -1)) return other->token;
  AuditToken token;
  token.words[AuditToken::kPid] = static_cast<uint32_t>(ppid);
  return token;
}

Tracked* TreeRecorder::adopt(Tracked fresh, const AuditToken& parent, uint64_t time_ns) {
  if (table_.size() >= kTrackedProcessesMax && !table_.contains(fresh.pid)) {
    report_dropped(1, "process table full: a process of the tree is not tracked");
    return nullptr;
  }
  fresh.token.words[AuditToken::kPidversion] =
      linux_pidversion(fresh.start_ticks, fresh.generation);
  if (!use_connector_) {
    fresh.pidfd.reset(pidfd_open(fresh.pid, 0));
    if (fresh.pidfd.valid()) watch(fresh.pidfd.get(), Source::kPidfd, uint64_t(fresh.pid));
  }
  ProcessSpawn spawn{fresh.token, parent, std::nullopt, fresh.image};
  append(Event{time_ns, spawn});
  ++stats_.spawns;
  auto [it, inserted] = table_.insert_or_assign(fresh.pid, std::move(fresh));
  (void)inserted;
  return &it->second;
}

// A call from tgid: make sure the table describes this execution. A different start time (or
// a process the supervisor saw exit) means the pid was reused: the old execution's exit is
// recorded first, then the new one's spawn.
Tracked* TreeRecorder::learn_from_call(int32_t tgid, int32_t ppid, const ProcStat& stat,
                                       const ProcCredentials& credentials,
                                       const CodeIdentity& image, uint64_t time_ns) {
  uint32_t generation = 0;
  if (Tracked* known = find_live(tgid)) {
    bool exited = known->pidfd.valid() && fd_readable(known->pidfd.get());
    if (known->start_ticks == stat.start_ticks && !exited) {
      // Same execution; credentials may have changed (setuid programs cannot gain privileges
      // under no_new_privs, but may drop them).
      uint32_t version = known->token.pidversion();
      known->token = linux_audit_token(credentials, stat.start_ticks, known->generation);
      known->token.words[AuditToken::kPidversion] = version;
      return known;
    }
    // Same-tick reuse: the new execution must not get the old one's pidversion.
    if (known->start_ticks == stat.start_ticks) generation = known->generation + 1;
    record_exit(tgid, kStatusUnknown, ExitStage::kReaped, time_ns);
  }
  Tracked fresh;
  fresh.pid = tgid;
  fresh.start_ticks = stat.start_ticks;
  fresh.generation = generation;
  fresh.token = linux_audit_token(credentials, stat.start_ticks, generation);
  fresh.image = image;
  return adopt(std::move(fresh), parent_token(ppid), time_ns);
}

void TreeRecorder::record_exit(int32_t pid, int32_t status, ExitStage stage, uint64_t time_ns) {
  auto it = table_.find(pid);
  if (it == table_.end()) return;
  append(Event{time_ns, ProcessExit{it->second.token, status, stage}});
  ++stats_.exits;
  table_.erase(it);  // closes the pidfd, which removes it from the epoll set.
}

void TreeRecorder::record_exec(Tracked& tracked, const CodeIdentity& image, uint64_t time_ns) {
  AuditToken previous = tracked.token;
  ++tracked.generation;
  tracked.token.words[AuditToken::kPidversion] =
      linux_pidversion(tracked.start_ticks, tracked.generation);
  tracked.image = image;
  append(Event{time_ns, ProcessExec{previous, tracked.token, image}});
  ++stats_.execs;
}

void TreeRecorder::report_dropped(uint64_t count, std::string reason) {
  stats_.dropped_events += count;
  append(DroppedEvents{count, std::move(reason)});
}

void TreeRecorder::drain_connector() {
  if (!use_connector_ || connector_ == nullptr) return;
  std::vector<ProcEvent> events;
  uint64_t lost = connector_->drain(&events);
  if (lost > 0) {
    report_dropped(lost, "process connector: messages lost (socket buffer overrun)");
  }
  for (const ProcEvent& event : events) {
    uint64_t time_ns = event.timestamp_ns > epoch_ns_ ? event.timestamp_ns - epoch_ns_ : 0;
    switch (event.kind) {
      case ProcEvent::Kind::kFork: {
        if (event.pid != event.tgid) break;  // a new thread, not a new process.
        Tracked* parent = find_live(event.parent_tgid);
        if (parent == nullptr) break;  // not in the tree.
        Tracked fresh;
        fresh.pid = event.tgid;
        if (auto seen = snapshot(event.tgid, -1)) {
          fresh.start_ticks = seen->start_ticks;
          fresh.token = seen->token;
        } else {
          // Gone already: derive the start tick from the fork's own timestamp.
          fresh.start_ticks =
              (event.timestamp_ns + boottime_offset_ns_) / (1'000'000'000u / ticks_per_second_);
          fresh.token = parent->token;
          fresh.token.words[AuditToken::kPid] = static_cast<uint32_t>(event.tgid);
        }
        fresh.image = parent->image;  // a fork runs its parent's image until it execs.
        AuditToken parent_token_copy = parent->token;
        if (Tracked* stale = find_live(event.tgid)) {
          (void)stale;
          record_exit(event.tgid, kStatusUnknown, ExitStage::kReaped, time_ns);
        }
        adopt(std::move(fresh), parent_token_copy, time_ns);
        break;
      }
      case ProcEvent::Kind::kExec: {
        Tracked* tracked = find_live(event.tgid);
        if (tracked == nullptr) break;
        CodeIdentity image;
        if (auto seen = snapshot(event.tgid, -1)) image = seen->image;
        record_exec(*tracked, image, time_ns);
        break;
      }
      case ProcEvent::Kind::kExit:
        if (event.pid != event.tgid) break;  // a thread; the process lives on.
        record_exit(event.tgid, static_cast<int32_t>(event.exit_code), ExitStage::kExited, time_ns);
        break;
    }
  }
}

void TreeRecorder::on_pidfd_ready(int32_t pid) {
  auto it = table_.find(pid);
  if (it == table_.end()) return;
  int32_t status = kStatusUnknown;
  siginfo_t info{};
  // Our own child (the command, or an orphan we adopted as subreaper): learn its status and
  // reap it. Someone else's child: its parent reaps it; the status stays unknown.
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(it->second.pidfd.get()), &info,
               WEXITED | WNOHANG) == 0 &&
      info.si_pid != 0) {
    status = wait_status_of(info);
    if (info.si_pid == root_pid_) {
      root_finished_ = true;
      root_status_ = status;
    }
  }
  record_exit(pid, status, ExitStage::kExited, now());
}

void TreeRecorder::reap_children() {
  for (int reaps = 0; reaps < 4096; ++reaps) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    pid_t pid = info.si_pid;
    int status = wait_status_of(info);
    if (!use_connector_) record_exit(pid, status, ExitStage::kExited, now());
    if (pid == root_pid_) {
      root_finished_ = true;
      root_status_ = status;
    }
    siginfo_t reaped{};
    ::waitid(P_PID, static_cast<id_t>(pid), &reaped, WEXITED | WNOHANG);
  }
}

void TreeRecorder::respond(uint64_t id, int error) { batch_.answers.emplace_back(id, error); }

void TreeRecorder::commit() {
  if (listener_closed_) return;
  if (options_.write_ahead && dirty_ && !batch_.answers.empty()) {
    writer_.flush();
    dirty_ = false;
    note_written();
  }
  if (!writer_.last_error().empty()) {
    fail_closed();
    return;
  }
  stats_.flows += batch_.flows;
  stats_.lookups += batch_.lookups;
  stats_.allowed += batch_.allowed;
  stats_.dropped += batch_.dropped;
  stats_.asked += batch_.asked;
  stats_.denied += batch_.denied;
  for (const auto& [id, error] : batch_.answers) answer_kernel(id, error);
  batch_ = Batch{};
}

// The trace cannot be written: close the listener, so that the held calls of the batch and
// every later intercepted call of the tree fail with ENOSYS (nothing passes that the trace does
// not hold), and stop as on SIGTERM.
void TreeRecorder::fail_closed() {
  // Exact counts of what reached the file (some of the failed batch may have, in a chunk that
  // filled before the failing write).
  stats_.flows = flows_in_file_;
  stats_.unwritten_flows = flows_appended_ - flows_in_file_;
  stats_.failed_closed_flows = batch_.flows;
  batch_ = Batch{};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, notify_fd_, nullptr);
  ::close(notify_fd_);
  listener_closed_ = true;
  listener_hung_up_ = true;
  if (!stopping_ && !root_finished_) ::kill(root_pid_, SIGTERM);
  begin_stop();
}

void TreeRecorder::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  stop_deadline_ns_ = now() + uint64_t{options_.stop_grace_ms} * 1'000'000;
}

void TreeRecorder::answer_kernel(uint64_t id, int error) {
  auto* response = reinterpret_cast<seccomp_notif_resp*>(response_buffer_.data());
  std::memset(response_buffer_.data(), 0, response_buffer_.size());
  response->id = id;
  if (error == 0) {
    response->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else {
    response->error = -error;
  }
  if (::ioctl(notify_fd_, SECCOMP_IOCTL_NOTIF_SEND, response) != 0) {
    if (errno == ENOENT) ++stats_.vanished;
  }
}

void TreeRecorder::on_notification() {
  std::memset(notification_buffer_.data(), 0, notification_buffer_.size());
  auto* notification = reinterpret_cast<seccomp_notif*>(notification_buffer_.data());
  if (::ioctl(notify_fd_, SECCOMP_IOCTL_NOTIF_RECV, notification) != 0) {
    return;  // ENOENT: the caller died before we received it; EINTR: try again later.
  }
  drain_connector();  // lifecycle first: the kernel queued it before this call was made.
  int nr = notification->data.nr;
  if (is_native_call(notification->data.arch) &&
      (is_execve_syscall(nr) || is_execveat_syscall(nr))) {
    handle_exec(*notification);
  } else if (const char* channel =
                 channel_name(notification->data.arch, nr, notification->data.args[0])) {
    handle_channel(*notification, channel);
  } else {
    handle_network(*notification);
  }
}

// A call the recorder cannot follow to a destination (seccomp_filter.h lists them): a marker
// names it and the process; under enforcement it fails.
void TreeRecorder::handle_channel(const seccomp_notif& notification, const char* name) {
  std::string what = name;
  int error = EPERM;
  if (what == "socket") {
    const auto& args = notification.data.args;
    what = "socket(family " + std::to_string(static_cast<int>(args[0])) + ", type " +
           std::to_string(static_cast<int>(args[1]) & 0xf) + ", protocol " +
           std::to_string(static_cast<int>(args[2])) +
           "): a raw, packet, SCTP or unusual-family socket";
    error = EACCES;
  } else if (what == "io_uring_setup") {
    what += ": its connects and sends make no system call the filter sees";
    error = ENOSYS;  // what programs expect where io_uring is unsupported: they fall back.
  } else if (what == "pidfd_getfd") {
    what += ": takes a file (perhaps a connected socket) from another process";
  } else if (what == "ptrace" || what == "process_vm_writev") {
    what += ": can drive another process, perhaps outside the tree";
  } else {
    what += ": not decoded (another ABI), its destination is not recorded";
  }
  ++stats_.channels;
  mark_channel(static_cast<pid_t>(notification.pid), what,
               options_.enforce ? "denied" : "passed, not followed");
  respond(notification.id, options_.enforce ? error : 0);
}

// One marker per process and kind of call (a debugger's PEEKs would flood the trace).
void TreeRecorder::mark_channel(pid_t pid, const std::string& what, const char* answer) {
  if (!channels_marked_.emplace(pid, what).second) return;
  char exe[4096];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), exe, sizeof exe - 1);
  std::string path = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "?";
  append(Marker{"way out: pid " + std::to_string(pid) + " (" + path + ") " + what + "; " + answer});
}

void TreeRecorder::handle_exec(const seccomp_notif& notification) {
  pid_t pid = static_cast<pid_t>(notification.pid);
  bool at = is_execveat_syscall(notification.data.nr);
  std::string path;
  int read_error = read_tracee_string(pid, notification.data.args[at ? 1 : 0], &path);
  uint64_t id = notification.id;
  bool valid = ::ioctl(notify_fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
  if (read_error == 0 && valid) {
    std::string proc = "/proc/" + std::to_string(pid);
    UniqueFd dirfd(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // Where the kernel will look for the file: relative to the cwd or to execveat's dirfd.
    std::string base =
        at && static_cast<int>(notification.data.args[0]) != AT_FDCWD
            ? proc + "/fd/" + std::to_string(static_cast<int>(notification.data.args[0]))
            : proc + "/cwd";
    std::string lookup_path = path.empty()          ? base
                              : path.front() == '/' ? proc + "/root" + path
                                                    : base + "/" + path;
    struct stat target;
    bool executable = ::stat(lookup_path.c_str(), &target) == 0 && S_ISREG(target.st_mode) &&
                      (target.st_mode & 0111) != 0;
    ProcStat stat;
    ProcCredentials credentials;
    if (executable && dirfd.valid() && read_proc_stat(dirfd.get(), &stat) == 0 &&
        read_proc_credentials(dirfd.get(), &credentials) == 0) {
      std::string shown = path;
      if (path.empty() || path.front() != '/') {
        char target_path[4096];
        ssize_t n = ::readlink(base.c_str(), target_path, sizeof target_path - 1);
        if (n > 0) {
          shown = std::string(target_path, static_cast<std::size_t>(n)) +
                  (path.empty() ? "" : "/" + path);
        }
      }
      CodeIdentity image;
      image.path = shown;
      UniqueFd file(::open(lookup_path.c_str(), O_RDONLY | O_CLOEXEC));
      ExeFile exe;
      exe.path = shown;
      exe.device = target.st_dev;
      exe.inode = target.st_ino;
      exe.size_bytes = static_cast<uint64_t>(target.st_size);
      exe.mtime_ns = int64_t{target.st_mtim.tv_sec} * 1'000'000'000 + target.st_mtim.tv_nsec;
      exe.ctime_ns = int64_t{target.st_ctim.tv_sec} * 1'000'000'000 + target.st_ctim.tv_nsec;
      Cdhash cdhash{};
      if (file.valid() && hashes_.hash(file.get(), exe, &cdhash) == 0) {
        image = linux_code_identity(shown, cdhash);
      }
      Tracked* tracked = find_live(credentials.tgid);
      if (tracked == nullptr || tracked->start_ticks != stat.start_ticks) {
        if (auto seen = snapshot(credentials.tgid, dirfd.get())) {
          tracked =
              learn_from_call(credentials.tgid, stat.ppid, stat, credentials, seen->image, now());
        }
      }
      if (tracked != nullptr) record_exec(*tracked, image, now());
    }
  }
  respond(notification.id, 0);
}

// What one intercepted send or connect names: its destinations (sendmmsg may name several),
// or the reason none could be read.
struct Destinations {
  std::vector<std::pair<sockaddr_storage, std::size_t>> addresses;
  int memory_error = 0;           // reading a msghdr / mmsghdr failed: one flow, "(unreadable)".
  bool hands_out_socket = false;  // SCM_RIGHTS carrying a non-local socket (see scan_rights).
  std::vector<std::string> notes;
};

// Adds address (length bytes at address in the tracee) unless the call already named it.
void add_destination(pid_t pid, uint64_t address, uint64_t length, Destinations* out) {
  if (address == 0 || length == 0) return;
  sockaddr_storage destination{};
  std::size_t bytes = std::min<uint64_t>(length, sizeof destination);
  if (int error = read_tracee(pid, address, &destination, bytes)) {
    out->memory_error = error;
    return;
  }
  for (const auto& [seen, seen_bytes] : out->addresses) {
    if (seen_bytes == bytes && std::memcmp(&seen, &destination, bytes) == 0) return;
  }
  out->addresses.emplace_back(destination, bytes);
}

// SCM_RIGHTS in a msghdr: a socket passed to another process, which may be outside the tree
// and would then use it unfiltered. Every passed fd that is not a local (AF_UNIX / AF_NETLINK)
// socket, or that cannot be inspected, is noted.
void scan_rights(pid_t pid, int pidfd, const msghdr& header, Destinations* out) {
  constexpr std::size_t kControlMax = 4096;
  if (header.msg_control == nullptr || header.msg_controllen == 0) return;
  std::vector<char> control(std::min<std::size_t>(header.msg_controllen, kControlMax));
  if (read_tracee(pid, reinterpret_cast<uint64_t>(header.msg_control), control.data(),
                  control.size()) != 0) {
    return;  // the kernel will fail the call with EFAULT.
  }
  msghdr local{};
  local.msg_control = control.data();
  local.msg_controllen = control.size();
  for (cmsghdr* c = CMSG_FIRSTHDR(&local); c != nullptr; c = CMSG_NXTHDR(&local, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const char* data = reinterpret_cast<const char*>(CMSG_DATA(c));
    for (std::size_t i = 0; i < count; ++i) {
      int fd = 0;
      std::memcpy(&fd, data + i * sizeof fd, sizeof fd);
      UniqueFd copy(pidfd >= 0 ? pidfd_getfd(pidfd, fd) : -1);
      int domain = -1;
      socklen_t length = sizeof domain;
      bool known =
          copy.valid() && (::getsockopt(copy.get(), SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 ||
                           errno == ENOTSOCK);
      if (known && (domain == -1 || domain == AF_UNIX || domain == AF_NETLINK)) continue;
      out->hands_out_socket = true;
      out->notes.push_back(
          known ? "SCM_RIGHTS passes a socket of family " + std::to_string(domain) + " (fd " +
                      std::to_string(fd) + ") over a unix socket"
                : "SCM_RIGHTS passes fd " + std::to_string(fd) + ", which could not be inspected");
    }
  }
}

Destinations destinations_of(const seccomp_notif& notification) {
  pid_t pid = static_cast<pid_t>(notification.pid);
  int nr = notification.data.nr;
  const auto& args = notification.data.args;
  Destinations out;
  if (is_connect_syscall(nr)) {
    if (args[1] == 0 || args[2] == 0) {
      out.addresses.emplace_back(sockaddr_storage{}, 0);  // the kernel fails it (EFAULT).
    } else {
      add_destination(pid, args[1], args[2], &out);
    }
    return out;
  }
  if (is_sendto_syscall(nr)) {
    add_destination(pid, args[4], args[5], &out);
    return out;
  }
  UniqueFd pidfd;
  auto scan = [&](const msghdr& header) {
    if (header.msg_control == nullptr || header.msg_controllen == 0) return;
    if (!pidfd.valid()) pidfd.reset(pidfd_open(pid, 0));
    scan_rights(pid, pidfd.get(), header, &out);
  };
  if (is_sendmsg_syscall(nr)) {
    msghdr header{};
    out.memory_error = read_tracee(pid, args[1], &header, sizeof header);
    if (out.memory_error != 0) return out;
    scan(header);
    add_destination(pid, reinterpret_cast<uint64_t>(header.msg_name), header.msg_namelen, &out);
    return out;
  }
  // sendmmsg: the kernel sends at most UIO_MAXIOV (1024) messages per call.
  std::size_t count = std::min<uint64_t>(args[2], 1024);
  std::vector<mmsghdr> vector(count);
  if (count > 0) {
    out.memory_error = read_tracee(pid, args[1], vector.data(), count * sizeof(mmsghdr));
  }
  if (out.memory_error != 0) return out;
  for (const mmsghdr& message : vector) {
    scan(message.msg_hdr);
    add_destination(pid, reinterpret_cast<uint64_t>(message.msg_hdr.msg_name),
                    message.msg_hdr.msg_namelen, &out);
  }
  return out;
}

void TreeRecorder::handle_network(const seccomp_notif& notification) {
  pid_t pid = static_cast<pid_t>(notification.pid);
  uint64_t id = notification.id;
  Destinations named = destinations_of(notification);
  bool deny = false;
  if (named.hands_out_socket) {
    ++stats_.channels;
    deny = options_.enforce;
    for (const auto& note : named.notes) {
      mark_channel(pid, note, deny ? "denied (EACCES)" : "passed");
    }
  }
  if (named.memory_error != 0) {
    // The msghdr itself was unreadable: recorded as one flow to an unreadable address.
    deny = record_flow(notification, nullptr, 0, named.memory_error) || deny;
    respond(id, deny ? EACCES : 0);
    return;
  }
  if (named.addresses.empty()) {
    // A send on a connected socket: its flow was recorded at connect.
    ++stats_.unaddressed_sends;
    respond(id, deny ? EACCES : 0);
    return;
  }
  bool is_send = !is_connect_syscall(notification.data.nr);
  for (auto [destination, bytes] : named.addresses) {
    if (is_send && bytes >= sizeof(sockaddr_in) && destination.ss_family == AF_UNSPEC) {
      // udp_sendmsg() sends to an AF_UNSPEC address as if it were AF_INET (IPv6 sockets drop
      // it and use the connected peer): a flow, recorded as AF_INET. On an IPv6 socket this
      // records a flow that does not happen, the safe side. (connect with AF_UNSPEC
      // disconnects.)
      destination.ss_family = AF_INET;
    }
    if (bytes > 0 && !internal::is_network_family(destination, bytes)) {
      // A local socket (AF_UNIX: nscd, syslog, D-Bus; AF_NETLINK; AF_UNSPEC to disconnect a
      // UDP socket): not a network flow, which is all a content filter sees. Passed at once.
      ++stats_.local_calls;
      continue;
    }
    deny = record_flow(notification, &destination, bytes, 0) || deny;
  }
  respond(id, deny ? EACCES : 0);
}

// One flow of the call: build the flow from the address, resolve it with the recorder's strategy
// (each lookup recorded), complete the flow with what the lookups pinned, filter, and record
// flow, lookups and verdict. Returns true when the verdict denies the call (enforcement).
bool TreeRecorder::record_flow(const seccomp_notif& notification,
                               const sockaddr_storage* destination_or_null,
                               std::size_t destination_bytes, int memory_error) {
  if (options_.lookup_delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.lookup_delay_ms));
  }
  const uint64_t flow_time = now();
  std::vector<std::string> notes;
  Flow flow = flow_to(destination_or_null, destination_bytes, memory_error, &notes);
  flow.proc_pid = static_cast<pid_t>(notification.pid);  // the notifying task, until resolved.

  live_seam_.begin(notify_fd_, notification.id);
  flow_lookups_.clear();
  observed_seam_.set_flow(flow.flow_id);
  const Attribution attribution = strategies::resolve_linux_pidfd(flow, observed_seam_);

  complete_flow(flow, static_cast<int>(notification.data.args[0]), flow_time, &notes);
  const Verdict verdict = decide(flow, attribution);
  append(Event{flow_time, flow});
  ++batch_.flows;
  for (auto& lookup : flow_lookups_.lookups()) {
    append(Event{flow_time, std::move(lookup)});
    ++batch_.lookups;
  }
  for (auto& note : notes) {
    append(Marker{"flow " + std::to_string(flow.flow_id) + ": " + note});
  }
  append(verdict);
  return count_verdict(verdict);
}

// A new flow to the address the call named (flow id, identifier, endpoint, family from the
// address); the caller's identity comes from the lookups.
Flow TreeRecorder::flow_to(const sockaddr_storage* destination_or_null,
                           std::size_t destination_bytes, int memory_error,
                           std::vector<std::string>* notes) {
  Flow flow;
  flow.flow_id = next_flow_id_++;
  flow.identifier = internal::flow_uuid(run_salt_, flow.flow_id);
  flow.direction = FlowDirection::kOutbound;
  if (memory_error == 0) {
    sockaddr_storage destination{};
    if (destination_or_null != nullptr) destination = *destination_or_null;
    flow.remote_endpoint = internal::endpoint_of(destination, destination_bytes, &flow.family);
  } else {
    flow.remote_endpoint.address = "(unreadable)";
    notes->push_back(fmt_note("reading the destination address", memory_error));
  }
  return flow;
}

// After the lookups: the process table learns the execution they described (lifecycle events
// this call reveals come before the flow), and the flow gets its token, identifier and socket
// type (through the pidfd the lookups pinned).
void TreeRecorder::complete_flow(Flow& flow, int socket_fd, uint64_t flow_time,
                                 std::vector<std::string>* notes) {
  read_socket_type(flow, socket_fd, notes);
  const Lookup* valid_before = flow_lookups_.first(LookupCall::kNotifIdValid);
  Lookup* stat_lookup = flow_lookups_.first(LookupCall::kProcStat);
  const Lookup* hash_lookup = flow_lookups_.first(LookupCall::kExeHash);
  std::optional<AuditToken> token;
  if (stat_lookup != nullptr && stat_lookup->outcome.ok()) token = stat_lookup->data.token;
  std::optional<CodeIdentity> identity;
  if (hash_lookup != nullptr && hash_lookup->outcome.ok()) identity = hash_lookup->data.identity;

  if (token && valid_before != nullptr && valid_before->outcome.ok()) {
    const LiveLinuxSeam::Stat& read = *live_seam_.stat();
    Tracked* tracked =
        learn_from_call(read.credentials.tgid, read.stat.ppid, read.stat, read.credentials,
                        image_or_path(identity, live_seam_.exe().path), flow_time);
    // The table numbers executions (same-tick reuse bumps the generation): the recorded token is
    // the table's.
    if (tracked != nullptr) token = tracked->token;
    stat_lookup->data.token = token;
  }
  if (token) {
    flow.source_app_audit_token = FlowToken{true, AuditToken::kByteSize, *token};
    flow.source_process_audit_token = flow.source_app_audit_token;
    flow.proc_pid = token->pid();
  }
  flow.eproc_pid = flow.proc_pid;
  if (identity) flow.source_app_identifier = identity->path;
}

// The socket's family, type and protocol, from a copy of the tracee's fd.
void TreeRecorder::read_socket_type(Flow& flow, int socket_fd, std::vector<std::string>* notes) {
  if (live_seam_.pinned() < 0) return;
  UniqueFd copy(pidfd_getfd(live_seam_.pinned(), socket_fd));
  if (!copy.valid()) {
    notes->push_back(fmt_note("pidfd_getfd(fd " + std::to_string(socket_fd) +
                                  ") for the socket type; family from the address",
                              errno));
    return;
  }
  auto option = [&](int name, uint32_t* out) {
    int value = 0;
    socklen_t length = sizeof value;
    if (::getsockopt(copy.get(), SOL_SOCKET, name, &value, &length) == 0) {
      *out = static_cast<uint32_t>(value);
    }
  };
  option(SO_DOMAIN, &flow.family);
  option(SO_TYPE, &flow.type);
  option(SO_PROTOCOL, &flow.protocol);
}

// The filter's verdict, or the record-only policy's when no rules were given.
Verdict TreeRecorder::decide(const Flow& flow, const Attribution& attribution) const {
  if (filter_) return filter_->decide(flow, attribution);
  Verdict verdict;
  verdict.flow_id = flow.flow_id;
  verdict.decision = Decision::kAllow;
  verdict.identity = attribution.identity;
  verdict.status = status_for_label(&verdict.label, attribution.status);
  verdict.rule = "policy:record-only";
  return verdict;
}

// Counts the verdict into the batch; true when it denies the call (enforcement).
bool TreeRecorder::count_verdict(const Verdict& verdict) {
  switch (verdict.decision) {
    case Decision::kAllow:
      ++batch_.allowed;
      break;
    case Decision::kDrop:
      ++batch_.dropped;
      break;
    case Decision::kAsk:
      ++batch_.asked;
      break;
  }
  const bool deny = options_.enforce && verdict.decision != Decision::kAllow;
  if (deny) ++batch_.denied;
  return deny;
}

}  // namespace

namespace {

void TreeRecorder::run(int notify_fd, pid_t root_pid, RecordResult* result) {
  notify_fd_ = notify_fd;
  root_pid_ = root_pid;
  stats_.lifecycle_source = use_connector_ ? "connector" : "supervisor";

  seccomp_notif_sizes sizes{};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    sizes.seccomp_notif = sizeof(seccomp_notif);
    sizes.seccomp_notif_resp = sizeof(seccomp_notif_resp);
  }
  notification_buffer_.assign(std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)), 0);
  response_buffer_.assign(
      std::max<std::size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)), 0);

  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  // Only a regular file: a read end held on a FIFO would keep its writer from seeing EPIPE.
  sync_fd_.reset(::open(options_.output_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  struct stat output {};
  if (!options_.write_ahead ||
      (sync_fd_.valid() && (::fstat(sync_fd_.get(), &output) != 0 || !S_ISREG(output.st_mode)))) {
    sync_fd_.reset();  // without write-ahead, the writer's flush syncs by itself.
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGCHLD);
  UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec interval{};
  interval.it_interval.tv_sec = options_.flush_interval_ms / 1000;
  interval.it_interval.tv_nsec = (options_.flush_interval_ms % 1000) * 1'000'000L;
  interval.it_value = interval.it_interval;
  ::timerfd_settime(timer.get(), 0, &interval, nullptr);
  watch(notify_fd_, Source::kNotify, 0);
  watch(signal_fd.get(), Source::kSignal, 0);
  watch(timer.get(), Source::kTimer, 0);
  if (use_connector_) watch(connector_->fd(), Source::kConnector, 0);

  // The command's own spawn: it is flowid's child, still running flowid's image until its exec.
  uint64_t spawn_time = 0;  // the epoch is taken just before the clone.
  if (auto child = snapshot(root_pid, -1)) {
    child->image = snapshot(::getpid(), -1).value_or(Tracked{}).image;
    adopt(std::move(*child), parent_token(::getpid()), spawn_time);
  }

  bool tree_gone = false;
  epoll_event ready[kEpollBatch];
  while (!tree_gone) {
    if (listener_hung_up_) {
      reap_children();
      if (root_finished_) break;
    }
    int count = ::epoll_wait(epoll_.get(), ready, kEpollBatch, -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // Lifecycle before calls: exits and connector events first, notifications last.
    bool notify_ready = false;
    for (int i = 0; i < count; ++i) {
      auto source = static_cast<Source>(ready[i].data.u64 >> 56);
      uint64_t value = ready[i].data.u64 & ((uint64_t{1} << 56) - 1);
      switch (source) {
        case Source::kNotify:
          if (ready[i].events & EPOLLIN) notify_ready = true;
          if ((ready[i].events & EPOLLHUP) && !(ready[i].events & EPOLLIN)) {
            // Every task of the tree has exited (the kernel may say so before the last one is
            // reaped): stop watching the listener and wait for the command's wait status.
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, notify_fd_, nullptr);
            listener_hung_up_ = true;
          }
          break;
        case Source::kConnector:
          drain_connector();
          break;
        case Source::kPidfd:
          on_pidfd_ready(static_cast<int32_t>(value));
          break;
        case Source::kSignal: {
          signalfd_siginfo info{};
          while (::read(signal_fd.get(), &info, sizeof info) == sizeof info) {
            if (info.ssi_signo == SIGCHLD) {
              continue;  // reaped below.
            }
            if (stopping_) {
              tree_gone = true;  // a second signal: stop now.
              break;
            }
            begin_stop();
            // A signal sent to flowid alone (kill) is passed on to the command; one from the
            // terminal already reached the whole foreground process group.
            if (info.ssi_code == SI_USER || info.ssi_code == SI_QUEUE) {
              if (!root_finished_) ::kill(root_pid_, static_cast<int>(info.ssi_signo));
            }
          }
          reap_children();
          break;
        }
        case Source::kTimer: {
          uint64_t expirations = 0;
          [[maybe_unused]] ssize_t n = ::read(timer.get(), &expirations, sizeof expirations);
          if (dirty_ && batch_.answers.empty()) {
            writer_.flush();
            dirty_ = false;
            note_written();
            if (!writer_.last_error().empty() && !listener_closed_) fail_closed();
          }
          // Durability against a crash of the machine, every flush interval (the write-ahead
          // flushes only reach the page cache).
          if (written_since_sync_ != writer_.bytes_written() && sync_fd_.valid()) {
            ::fdatasync(sync_fd_.get());
            written_since_sync_ = writer_.bytes_written();
          }
          if (stopping_ && now() >= stop_deadline_ns_) tree_gone = true;
          break;
        }
      }
    }
    if (notify_ready) {
      // Bounded: at most one batch of notifications per wakeup, so exits are not starved.
      for (int handled = 0; handled < kEpollBatch && !listener_closed_; ++handled) {
        if (!fd_readable(notify_fd_)) break;
        on_notification();
      }
      commit();
    }
  }
  commit();
  drain_connector();
  reap_children();
  result->command_finished = root_finished_;
  result->wait_status = root_status_;
}

int run_child(const RecordOptions& options, const std::string& executable,
              const std::vector<int>& fds_to_close_on_exec, const sigset_t& original_mask,
              const struct sigaction& original_xfsz, int report_fd, bool intercept_exec) {
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  ::sigaction(SIGXFSZ, &original_xfsz, nullptr);
  FilterSpec spec{intercept_exec, options.enforce};
  int listener = install_notify_filter(spec);
  [[maybe_unused]] ssize_t written = ::write(report_fd, &listener, sizeof listener);
  if (listener < 0) ::_exit(126);
  // The fd table is still shared with flowid: flags set here mark flowid's entries too, which
  // is harmless; the exec below copies the table and closes the marked entries in the copy.
  for (int fd : fds_to_close_on_exec) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::vector<char*> argv;
  for (const auto& argument : options.command) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  ::execv(executable.c_str(), argv.data());
  int error = errno;
  std::string message = "flowid record: " + options.command[0] + ": " + std::strerror(error) + "\n";
  [[maybe_unused]] ssize_t shown = ::write(2, message.data(), message.size());
  ::_exit(error == ENOENT ? 127 : 126);
}

}  // namespace

// What reached the file when writing failed: the summary's counts are of flows in the trace.
std::string describe_loss(const RecordStats& stats, bool write_ahead) {
  std::string text = "; recording stopped at the first write error: the trace holds " +
                     std::to_string(stats.flows) + " flows up to its last whole chunk";
  if (stats.unwritten_flows > 0) {
    text += "; " + std::to_string(stats.unwritten_flows) + " more flows are not in it";
    if (!write_ahead) text += " (answered before they were written: --no-write-ahead)";
  }
  if (stats.failed_closed_flows > 0) {
    text += "; the " + std::to_string(stats.failed_closed_flows) +
            " flows held at the failure were failed closed (ENOSYS)";
  }
  return text + "; every later intercepted call of the tree failed with ENOSYS";
}

std::optional<std::string> resolve_command(const std::string& name) {
  auto executable = [](const std::string& path) {
    struct stat info;
    return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    return executable(name) ? std::make_optional(name) : std::nullopt;
  }
  const char* path_variable = std::getenv("PATH");
  std::string_view directories = path_variable != nullptr ? path_variable : "/usr/bin:/bin";
  while (true) {
    auto colon = directories.find(':');
    std::string directory(directories.substr(0, colon));
    std::string candidate = (directory.empty() ? std::string(".") : directory) + "/" + name;
    if (executable(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    directories.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

RecordResult record_command(const RecordOptions& options) {
  RecordResult result;
  // The fds flowid inherited: the command inherits exactly these.
  std::set<int> inherited = open_fds();
  if (options.command.empty()) {
    result.error = RecordError::kSetup;
    result.message = "no command given (usage: flowid record [-o FILE] -- COMMAND [ARGS...])";
    return result;
  }
  auto executable = resolve_command(options.command[0]);
  if (!executable) {
    result.error = RecordError::kCommandNotFound;
    result.message = options.command[0] + ": command not found";
    return result;
  }

  // Lifecycle source.
  std::unique_ptr<ProcConnector> connector;
  bool use_connector = false;
  std::string connector_problem;
  if (options.lifecycle != LifecycleSource::kSupervisor) {
    if (!internal::in_initial_namespaces()) {
      connector_problem = "not in the initial user and pid namespaces";
    } else {
      connector = std::make_unique<ProcConnector>();
      int error = connector->open();
      if (error == 0) {
        use_connector = true;
      } else {
        connector_problem = std::strerror(error);
        connector.reset();
      }
    }
    if (!use_connector && options.lifecycle == LifecycleSource::kConnector) {
      result.error = RecordError::kSetup;
      result.message = "the process connector is unavailable: " + connector_problem +
                       " (it needs root in the initial namespaces; use --lifecycle supervisor)";
      return result;
    }
  }

  trace::TraceHeader header = internal::make_header(
      options.recorder_name, "seccomp user-notification supervisor (flowid record)");
  std::string joined;
  for (const auto& argument : options.command) joined += (joined.empty() ? "" : " ") + argument;
  header.resolver_config = {
      {"strategy", "linux-pidfd-proc"},
      {"command", joined},
      // The rules themselves, so that replay applies them by default; the file name for people.
      {"rules", format_rules(options.rules ? *options.rules : record_only_rules())},
      {"rules-file", options.rules ? options.rules_path : "none (policy:record-only)"},
      {"enforce", options.enforce ? "yes" : "no"},
      {"lifecycle", use_connector ? "connector" : "supervisor"},
      {"token", "[loginuid, euid, egid, ruid, rgid, tgid, sessionid, pidversion]"},
      {"pidversion",
       "uint32(start_ticks + (exec_generation << 24)); start_ticks = "
       "/proc/PID/stat field 22"},
      {"clock_ticks_per_second", std::to_string(internal::clock_ticks_per_second())},
      {"cdhash", "sha256(executable)[0:20]"},
      {"code_handle", "(device << 32) | inode & 0xffffffff"},
      // What this recorder could see (docs/recording.md, "What the recorder sees").
      {"flows-from", "connect, sendto with an address, sendmsg, sendmmsg"},
      {"ways-out-marked",
       "io_uring_setup, pidfd_getfd, ptrace, process_vm_writev, raw / packet "
       "/ SCTP / other-family sockets, SCM_RIGHTS of a non-local socket, "
       "i386 and x32 network calls"},
      {"write-ahead", options.write_ahead ? "yes" : "no"},
  };
  if (!connector_problem.empty()) {
    header.resolver_config.emplace_back("connector_unavailable", connector_problem);
  }
  std::string open_error;
  trace::WriterOptions writer_options = options.writer;
  writer_options.sync_on_flush = !options.write_ahead;
  auto writer = trace::open_writer(options.output_path, header, writer_options, &open_error);
  if (!writer) {
    result.error = RecordError::kOutput;
    result.message = open_error.empty() ? options.output_path + ": cannot open" : open_error;
    return result;
  }

  sigset_t blocked, original;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGHUP);
  sigaddset(&blocked, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &blocked, &original);
  // A file size limit (ulimit -f) must give flowid a write error to act on, not kill it.
  struct sigaction ignore_xfsz = {};
  struct sigaction original_xfsz = {};
  ignore_xfsz.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore_xfsz, &original_xfsz);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    result.error = RecordError::kSetup;
    result.message = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  std::vector<int> close_on_exec;
  for (int fd : open_fds()) {
    if (!inherited.contains(fd)) close_on_exec.push_back(fd);
  }
  bool intercept_exec = !use_connector;
  uint64_t epoch_ns = monotonic_ns();  // the trace's time 0: just before the command starts.
  long child = ::syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (child == 0) {
    run_child(options, *executable, close_on_exec, original, original_xfsz, report[1],
              intercept_exec);
  }
  if (child < 0) {
    result.error = RecordError::kSetup;
    result.message = std::string("clone: ") + std::strerror(errno);
    ::close(report[0]);
    ::close(report[1]);
    return result;
  }
  int listener = -1;
  ssize_t n = ::read(report[0], &listener, sizeof listener);
  ::close(report[0]);
  ::close(report[1]);
  if (n != sizeof listener || listener < 0) {
    int error = n == sizeof listener ? -listener : EPROTO;
    siginfo_t info{};
    ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED);
    result.error = RecordError::kSeccompUnavailable;
    result.message = std::string("seccomp user notification is unavailable: ") +
                     std::strerror(error) +
                     (error == EINVAL || error == ENOSYS
                          ? " (the kernel needs CONFIG_SECCOMP_FILTER and Linux 5.5 or newer)"
                      : error == EACCES ? " (no_new_privs could not be set)"
                                        : "");
    writer->finish();
    ::sigprocmask(SIG_SETMASK, &original, nullptr);
    ::sigaction(SIGXFSZ, &original_xfsz, nullptr);
    return result;
  }

  TreeRecorder recorder(options, *writer, result.stats, use_connector, connector.get(), epoch_ns);
  recorder.run(listener, static_cast<pid_t>(child), &result);
  writer->finish();
  recorder.settle_counts();
  // From here on, calls of anything left in the tree fail with ENOSYS.
  if (!recorder.listener_closed()) ::close(listener);
  result.stats.bytes_written = writer->bytes_written();
  if (!writer->last_error().empty()) {
    result.error = RecordError::kOutput;
    result.message = writer->last_error() + describe_loss(result.stats, options.write_ahead);
  }
  ::sigprocmask(SIG_SETMASK, &original, nullptr);
  ::sigaction(SIGXFSZ, &original_xfsz, nullptr);
  return result;
}

}  // namespace flowid::recorder
