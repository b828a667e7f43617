// flowid_record_probe: a small program that makes real connections, for the recorder's tests
// and its benchmark. Usage:
//   connect HOST PORT [COUNT [PROCS]]   PROCS processes x COUNT TCP connects; prints
//                                       "connects=N failed=F errno=E p50_ns=X p99_ns=Y"
//   exec-connect HOST PORT              connect once, then exec itself as "connect HOST PORT 1"
//   pid-reuse HOST PORT                 (inside a new pid namespace) child A connects and exits;
//                                       ns_last_pid is set so that child B gets A's pid; B
//                                       connects. Prints "first=PID second=PID". Exit 77 when
//                                       ns_last_pid cannot be written.
//   hold HOST PORT reap|zombie MS       a child connects; after MS ms it is SIGKILLed, then
//                                       reaped at once (reap) or only after 8*MS ms (zombie).
//                                       Prints "child=PID".
//   local HOST PORT DIR                 connects to an AF_UNIX stream listener and sends one
//                                       datagram to an AF_UNIX datagram socket (both made in
//                                       DIR), then one TCP connect. Prints "local=2".
// Ways out (each prints "MODE=E", E the call's errno or 0, and exits 0; HOST PORT as above,
// ignored where no destination is involved):
//   sendto HOST PORT                    one UDP datagram from an unconnected socket
//   sendto-unspec HOST PORT             the same with the address's family set to AF_UNSPEC
//   sendmsg HOST PORT                   the same with sendmsg and msg_name
//   sendmmsg HOST PORT [PORT2]          one sendmmsg: a datagram to PORT, another to PORT2
//                                       (default PORT again); prints "sendmmsg=E sent=N"
//   sendmmsg-connected HOST PORT        connect a UDP socket, then sendmmsg without addresses
//   io_uring HOST PORT                  io_uring_setup
//   pidfd_getfd HOST PORT               pidfd_getfd of its own stdout through a pidfd of itself
//   ptrace HOST PORT                    PTRACE_SEIZE of a child of its own
//   process_vm_writev HOST PORT         a write into its own memory through its pid
//   raw-socket | packet-socket | sctp-socket HOST PORT   socket() of that kind
//   scm-rights HOST PORT SOCKET         sends a UDP socket by SCM_RIGHTS to the AF_UNIX datagram
//                                       socket bound at path SOCKET
//   i386-connect HOST PORT              a TCP connect through the i386 socketcall (int 0x80)
// Exit status 0 when every connect succeeded, 1 otherwise, 2 on bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

void sleep_ms(unsigned ms) {
  timespec duration{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000L};
  while (::nanosleep(&duration, &duration) != 0 && errno == EINTR) {
  }
}

// One TCP connect; returns 0 or errno. *elapsed_ns: socket + connect time.
int connect_once(const sockaddr_in& address, uint64_t* elapsed_ns) {
  uint64_t start = monotonic_ns();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int error = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    error = errno;
  }
  *elapsed_ns = monotonic_ns() - start;
  ::close(fd);
  return error;
}

struct Totals {
  uint64_t connects = 0;
  uint64_t failed = 0;
  int first_errno = 0;
};

// Runs count connects; writes latencies (ns) to fd as uint64 values when fd >= 0.
Totals run_connects(const sockaddr_in& address, long count, int latency_fd) {
  Totals totals;
  std::vector<uint64_t> latencies;
  latencies.reserve(static_cast<std::size_t>(count));
  for (long i = 0; i < count; ++i) {
    uint64_t elapsed = 0;
    int error = connect_once(address, &elapsed);
    ++totals.connects;
    if (error != 0) {
      ++totals.failed;
      if (totals.first_errno == 0) totals.first_errno = error;
    }
    latencies.push_back(elapsed);
  }
  if (latency_fd >= 0) {
    const char* data = reinterpret_cast<const char*>(latencies.data());
    std::size_t left = latencies.size() * sizeof(uint64_t);
    while (left > 0) {
      ssize_t n = ::write(latency_fd, data, left);
      if (n <= 0) break;
      data += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  return totals;
}

// One child's connects; its report goes to fd: 3 x uint64 (connects, failed, first errno), then
// the latencies. Exits 0 when every connect succeeded.
[[noreturn]] void connect_child(const sockaddr_in& address, long count, int fd) {
  Totals totals;
  std::vector<uint64_t> message(3);
  message.reserve(3 + static_cast<std::size_t>(count));
  for (long i = 0; i < count; ++i) {
    uint64_t elapsed = 0;
    int error = connect_once(address, &elapsed);
    ++totals.connects;
    if (error != 0) {
      ++totals.failed;
      if (totals.first_errno == 0) totals.first_errno = error;
    }
    message.push_back(elapsed);
  }
  message[0] = totals.connects;
  message[1] = totals.failed;
  message[2] = static_cast<uint64_t>(totals.first_errno);
  const char* data = reinterpret_cast<const char*>(message.data());
  std::size_t left = message.size() * sizeof(uint64_t);
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n <= 0) break;
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  ::_exit(totals.failed == 0 ? 0 : 1);
}

int mode_connect(const sockaddr_in& address, long count, long processes) {
  // A pipe per child: reports larger than PIPE_BUF would interleave in a shared one.
  std::vector<pid_t> children;
  std::vector<int> reports;
  for (long p = 0; p < processes; ++p) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return 1;
    pid_t child = ::fork();
    if (child == 0) {
      ::close(pipe_fds[0]);
      connect_child(address, count, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    if (child < 0) return 1;
    children.push_back(child);
    reports.push_back(pipe_fds[0]);
  }
  Totals totals;
  std::vector<uint64_t> latencies;
  for (int fd : reports) {
    std::vector<uint64_t> received;
    uint64_t value = 0;
    while (::read(fd, &value, sizeof value) == sizeof value) received.push_back(value);
    ::close(fd);
    if (received.size() < 3) continue;  // the child died before reporting.
    totals.connects += received[0];
    totals.failed += received[1];
    if (totals.first_errno == 0) totals.first_errno = static_cast<int>(received[2]);
    latencies.insert(latencies.end(), received.begin() + 3, received.end());
  }
  for (pid_t child : children) ::waitpid(child, nullptr, 0);
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double q) -> uint64_t {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * static_cast<double>(latencies.size())))];
  };
  std::printf("connects=%llu failed=%llu errno=%d p50_ns=%llu p99_ns=%llu\n",
              static_cast<unsigned long long>(totals.connects),
              static_cast<unsigned long long>(totals.failed), totals.first_errno,
              static_cast<unsigned long long>(percentile(0.50)),
              static_cast<unsigned long long>(percentile(0.99)));
  return totals.failed == 0 && totals.connects == static_cast<uint64_t>(count * processes) ? 0 : 1;
}

bool write_ns_last_pid(pid_t value) {
  int fd = ::open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string text = std::to_string(value);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

int mode_pid_reuse(const sockaddr_in& address) {
  uint64_t elapsed = 0;
  pid_t first = ::fork();
  if (first == 0) ::_exit(connect_once(address, &elapsed) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(first, &status, 0);
  // Let at least two clock ticks pass, so the next execution has another start time.
  sleep_ms(40);
  if (!write_ns_last_pid(first - 1)) {
    std::fprintf(stderr, "pid-reuse: cannot write /proc/sys/kernel/ns_last_pid: %s\n",
                 std::strerror(errno));
    return 77;
  }
  pid_t second = ::fork();
  if (second == 0) ::_exit(connect_once(address, &elapsed) == 0 ? 0 : 1);
  int second_status = 0;
  ::waitpid(second, &second_status, 0);
  std::printf("first=%d second=%d\n", first, second);
  bool both_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && WIFEXITED(second_status) &&
                 WEXITSTATUS(second_status) == 0;
  if (first != second) return 78;
  return both_ok ? 0 : 1;
}

int mode_hold(const sockaddr_in& address, bool reap, unsigned kill_after_ms) {
  pid_t child = ::fork();
  if (child == 0) {
    uint64_t elapsed = 0;
    ::_exit(connect_once(address, &elapsed) == 0 ? 0 : 1);
  }
  std::printf("child=%d\n", child);
  std::fflush(stdout);
  sleep_ms(kill_after_ms);
  ::kill(child, SIGKILL);
  if (!reap) sleep_ms(8 * kill_after_ms);
  ::waitpid(child, nullptr, 0);
  return 0;
}

// Two local-socket calls: a connect to a unix stream listener and a sendto to a unix datagram
// socket, both bound in dir. Returns 0 or errno.
int local_calls(const std::string& dir) {
  auto unix_address = [&](const char* name) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s/%s", dir.c_str(), name);
    return address;
  };
  sockaddr_un stream_address = unix_address("stream.sock");
  sockaddr_un datagram_address = unix_address("datagram.sock");
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int receiver = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int sender = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int error = 0;
  const auto* stream = reinterpret_cast<const sockaddr*>(&stream_address);
  const auto* datagram = reinterpret_cast<const sockaddr*>(&datagram_address);
  if (listener < 0 || receiver < 0 || client < 0 || sender < 0 ||
      ::bind(listener, stream, sizeof stream_address) != 0 || ::listen(listener, 1) != 0 ||
      ::bind(receiver, datagram, sizeof datagram_address) != 0 ||
      ::connect(client, stream, sizeof stream_address) != 0 ||
      ::sendto(sender, "x", 1, 0, datagram, sizeof datagram_address) != 1) {
    error = errno;
  }
  for (int fd : {listener, receiver, client, sender}) {
    if (fd >= 0) ::close(fd);
  }
  return error;
}

int udp_socket() { return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

int errno_of(long result) { return result < 0 ? errno : 0; }

int way_sendto(const sockaddr_in& address) {
  int fd = udp_socket();
  return errno_of(
      ::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&address), sizeof address));
}

int way_sendmsg(const sockaddr_in& address) {
  int fd = udp_socket();
  char byte = 'x';
  iovec io{&byte, 1};
  msghdr header{};
  header.msg_name = const_cast<sockaddr_in*>(&address);
  header.msg_namelen = sizeof address;
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  return errno_of(::sendmsg(fd, &header, 0));
}

// Two messages, to first and second (null: no address, for a connected socket).
int way_sendmmsg(int fd, const sockaddr_in* first, const sockaddr_in* second, int* sent) {
  char bytes[2] = {'a', 'b'};
  iovec io[2] = {{&bytes[0], 1}, {&bytes[1], 1}};
  mmsghdr messages[2] = {};
  const sockaddr_in* to[2] = {first, second};
  for (int i = 0; i < 2; ++i) {
    messages[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(to[i]);
    messages[i].msg_hdr.msg_namelen = to[i] != nullptr ? sizeof(sockaddr_in) : 0;
    messages[i].msg_hdr.msg_iov = &io[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  *sent = ::sendmmsg(fd, messages, 2, 0);
  return errno_of(*sent);
}

int way_io_uring() {
  io_uring_params params{};
  long fd = ::syscall(SYS_io_uring_setup, 4, &params);
  int error = errno_of(fd);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return error;
}

int way_pidfd_getfd() {
  long pidfd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
  if (pidfd < 0) return errno;
  return errno_of(::syscall(SYS_pidfd_getfd, pidfd, 1, 0));
}

int way_ptrace() {
  int gate[2];
  if (::pipe(gate) != 0) return errno;
  pid_t child = ::fork();
  if (child == 0) {
    char byte;
    [[maybe_unused]] ssize_t n = ::read(gate[0], &byte, 1);
    ::_exit(0);
  }
  int error = errno_of(::ptrace(PTRACE_SEIZE, child, nullptr, nullptr));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return error;
}

int way_process_vm_writev() {
  static char target[8] = "before";
  char source[8] = "after";
  iovec local{source, sizeof source};
  iovec remote{target, sizeof target};
  return errno_of(::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0));
}

int way_scm_rights(const std::string& path) {
  int sender = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int passed = udp_socket();
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::snprintf(to.sun_path, sizeof to.sun_path, "%s", path.c_str());
  char byte = 'x';
  iovec io{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
  header.msg_name = &to;
  header.msg_namelen = sizeof to;
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&header);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &passed, sizeof passed);
  return errno_of(::sendmsg(sender, &header, 0));
}

#if defined(__x86_64__)
// connect through the i386 entry point: int 0x80, socketcall(SYS_CONNECT, args). The
// arguments must lie below 4 GiB, where a 32-bit pointer can name them.
int way_i386_connect(const sockaddr_in& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  void* low =
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return errno;
  std::memcpy(low, &address, sizeof address);
  auto* args = reinterpret_cast<uint32_t*>(static_cast<char*>(low) + 64);
  args[0] = static_cast<uint32_t>(fd);
  args[1] = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(low));
  args[2] = sizeof address;
  long result = 0;
  asm volatile("int $0x80"
               : "=a"(result)
               : "a"(102), "b"(3), "c"(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(args)))
               : "memory", "r8", "r9", "r10", "r11");
  return result < 0 ? static_cast<int>(-result) : 0;
}
#else
int way_i386_connect(const sockaddr_in&) { return ENOSYS; }
#endif

// The ways-out modes; -1 when mode is not one of them.
int way_out(const std::string& mode, const sockaddr_in& address, int argc, char** argv) {
  auto report = [&](int error) {
    std::printf("%s=%d\n", mode.c_str(), error);
    return 0;
  };
  if (mode == "sendto") return report(way_sendto(address));
  if (mode == "sendto-unspec") {
    // udp_sendmsg() takes an AF_UNSPEC address as AF_INET: a datagram leaves all the same.
    sockaddr_in unspec = address;
    unspec.sin_family = AF_UNSPEC;
    return report(way_sendto(unspec));
  }
  if (mode == "sendmsg") return report(way_sendmsg(address));
  if (mode == "sendmmsg" || mode == "sendmmsg-connected") {
    sockaddr_in second = address;
    if (argc > 4) second.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[4])));
    int fd = udp_socket();
    bool connected = mode == "sendmmsg-connected";
    if (connected &&
        ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      return report(errno);
    }
    int sent = 0;
    int error = connected ? way_sendmmsg(fd, nullptr, nullptr, &sent)
                          : way_sendmmsg(fd, &address, &second, &sent);
    std::printf("%s=%d sent=%d\n", mode.c_str(), error, sent);
    return 0;
  }
  if (mode == "io_uring") return report(way_io_uring());
  if (mode == "pidfd_getfd") return report(way_pidfd_getfd());
  if (mode == "ptrace") return report(way_ptrace());
  if (mode == "process_vm_writev") return report(way_process_vm_writev());
  if (mode == "raw-socket") {
    return report(errno_of(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)));
  }
  if (mode == "packet-socket") {
    return report(errno_of(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0)));
  }
  if (mode == "sctp-socket") {
    return report(errno_of(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP)));
  }
  if (mode == "scm-rights" && argc > 4) return report(way_scm_rights(argv[4]));
  if (mode == "i386-connect") return report(way_i386_connect(address));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s connect|exec-connect|pid-reuse|hold|local HOST PORT ...\n",
                 argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[3])));
  if (::inet_pton(AF_INET, argv[2], &address.sin_addr) != 1) {
    std::fprintf(stderr, "bad IPv4 address '%s'\n", argv[2]);
    return 2;
  }
  if (mode == "connect") {
    long count = argc > 4 ? std::atol(argv[4]) : 1;
    long processes = argc > 5 ? std::atol(argv[5]) : 1;
    if (count < 1 || processes < 1 || processes > 64) return 2;
    if (processes == 1) {
      Totals totals = run_connects(address, count, -1);
      std::printf("connects=%llu failed=%llu errno=%d\n",
                  static_cast<unsigned long long>(totals.connects),
                  static_cast<unsigned long long>(totals.failed), totals.first_errno);
      return totals.failed == 0 ? 0 : 1;
    }
    return mode_connect(address, count, processes);
  }
  if (mode == "exec-connect") {
    uint64_t elapsed = 0;
    if (connect_once(address, &elapsed) != 0) return 1;
    char* args[] = {argv[0], const_cast<char*>("connect"), argv[2], argv[3], nullptr};
    ::execv("/proc/self/exe", args);
    return 1;
  }
  if (mode == "pid-reuse") return mode_pid_reuse(address);
  if (int status = way_out(mode, address, argc, argv); status >= 0) return status;
  if (mode == "local" && argc >= 5) {
    if (int error = local_calls(argv[4])) {
      std::fprintf(stderr, "local sockets: %s\n", std::strerror(error));
      return 1;
    }
    std::printf("local=2\n");
    uint64_t elapsed = 0;
    return connect_once(address, &elapsed) == 0 ? 0 : 1;
  }
  if (mode == "hold" && argc >= 6) {
    return mode_hold(address, std::string(argv[4]) == "reap",
                     static_cast<unsigned>(std::atoi(argv[5])));
  }
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
