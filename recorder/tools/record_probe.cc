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
// Exit status 0 when every connect succeeded, 1 otherwise, 2 on bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
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

int mode_connect(const sockaddr_in& address, long count, long processes) {
  // Children report totals and latencies through a pipe: 3 x uint64, then the latencies.
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return 1;
  std::vector<pid_t> children;
  for (long p = 0; p < processes; ++p) {
    pid_t child = ::fork();
    if (child == 0) {
      ::close(pipe_fds[0]);
      int latency_pipe[2];
      if (::pipe(latency_pipe) != 0) ::_exit(1);
      // Collect latencies locally, then send totals + latencies in one go.
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
      std::vector<uint64_t> message = {totals.connects, totals.failed,
                                       static_cast<uint64_t>(totals.first_errno)};
      message.insert(message.end(), latencies.begin(), latencies.end());
      const char* data = reinterpret_cast<const char*>(message.data());
      std::size_t left = message.size() * sizeof(uint64_t);
      while (left > 0) {
        ssize_t n = ::write(pipe_fds[1], data, left);
        if (n <= 0) break;
        data += n;
        left -= static_cast<std::size_t>(n);
      }
      ::_exit(totals.failed == 0 ? 0 : 1);
    }
    if (child < 0) return 1;
    children.push_back(child);
  }
  ::close(pipe_fds[1]);
  std::vector<uint64_t> received;
  uint64_t value = 0;
  while (::read(pipe_fds[0], &value, sizeof value) == sizeof value) received.push_back(value);
  for (pid_t child : children) ::waitpid(child, nullptr, 0);
  // Parse: messages are not interleaved below PIPE_BUF only; for large counts each child's
  // message may interleave, so totals are recounted from the children's exit statuses as well.
  Totals totals;
  std::vector<uint64_t> latencies;
  std::size_t at = 0;
  for (long p = 0; p < processes && at + 3 <= received.size(); ++p) {
    totals.connects += received[at];
    totals.failed += received[at + 1];
    if (totals.first_errno == 0) totals.first_errno = static_cast<int>(received[at + 2]);
    std::size_t n = static_cast<std::size_t>(received[at]);
    at += 3;
    for (std::size_t i = 0; i < n && at < received.size(); ++i) latencies.push_back(received[at++]);
  }
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s connect|exec-connect|pid-reuse|hold|local HOST PORT ...\n", argv[0]);
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
