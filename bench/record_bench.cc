// record_bench: the cost of `flowid record` on a connect-heavy workload. flowid_record_probe runs
// PROCS processes x CONNECTS loopback TCP connects against a server this benchmark starts on
// 127.0.0.1, once plain and once under `flowid record`; the figures are the wall-time ratio, the
// added latency per connect (p50, p99) and the flows recorded vs expected.
//
// Usage: record_bench [--connects N] [--procs P] [--runs R] [--flowid PATH]
// (defaults 2500 x 8, best of 3 runs each). Prints a table and one
// {"bench": NAME, "value": V, "unit": U} line per figure.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "trace/trace.h"

namespace {

uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

// Accepts and closes connections on 127.0.0.1 until stopped.
class LoopbackServer {
 public:
  LoopbackServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 4096);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd entry{fd_, POLLIN, 0};
        if (::poll(&entry, 1, 50) <= 0) continue;
        for (int i = 0; i < 256; ++i) {
          int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (client < 0) break;
          ::close(client);
        }
      }
    });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct RunResult {
  bool ok = false;
  double wall_s = 0;
  unsigned long long connects = 0, failed = 0, p50_ns = 0, p99_ns = 0;
};

// Runs argv, captures stdout, parses the probe's summary line.
RunResult run(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {};
  uint64_t start = monotonic_ns();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  RunResult result;
  result.wall_s = static_cast<double>(monotonic_ns() - start) / 1e9;
  int error = 0;
  result.ok =
      std::sscanf(out.c_str(), "connects=%llu failed=%llu errno=%d p50_ns=%llu p99_ns=%llu",
                  &result.connects, &result.failed, &error, &result.p50_ns, &result.p99_ns) == 5 &&
      WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return result;
}

void json(const char* name, double value, const char* unit) {
  std::printf("{\"bench\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}\n", name, value, unit);
}

}  // namespace

int main(int argc, char** argv) {
  long connects = 2500, procs = 8, runs = 3;
  std::string probe = FLOWID_RECORD_PROBE_PATH;
  std::string flowid =
      (std::filesystem::path(probe).parent_path().parent_path() / "cli" / "flowid").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--connects")
      connects = std::atol(argv[i + 1]);
    else if (flag == "--procs")
      procs = std::atol(argv[i + 1]);
    else if (flag == "--runs")
      runs = std::atol(argv[i + 1]);
    else if (flag == "--flowid")
      flowid = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--connects N] [--procs P] [--runs R] [--flowid PATH]\n",
                   argv[0]);
      return 2;
    }
  }
  if (connects < 1 || procs < 1 || procs > 64 || runs < 1 || runs > 20) return 2;
  LoopbackServer server;
  std::string port = std::to_string(server.port());
  std::string trace_path =
      (std::filesystem::temp_directory_path() / ("record_bench." + std::to_string(::getpid())))
          .string();
  std::vector<std::string> plain = {
      probe, "connect", "127.0.0.1", port, std::to_string(connects), std::to_string(procs)};
  std::vector<std::string> recorded = {flowid, "record", "-q", "-o", trace_path, "--"};
  recorded.insert(recorded.end(), plain.begin(), plain.end());

  // Best of R for each (the machine is shared); plain and recorded alternate.
  RunResult best_plain, best_recorded;
  for (long r = 0; r < runs; ++r) {
    RunResult p = run(plain);
    RunResult q = run(recorded);
    if (!p.ok || !q.ok) {
      std::fprintf(stderr, "record_bench: a run failed (plain ok=%d, recorded ok=%d)\n", p.ok,
                   q.ok);
      std::filesystem::remove(trace_path);
      return 1;
    }
    if (r == 0 || p.wall_s < best_plain.wall_s) best_plain = p;
    if (r == 0 || q.wall_s < best_recorded.wall_s) best_recorded = q;
  }
  // Count what the last recorded run wrote.
  uint64_t flows = 0, verdicts = 0, dropped = 0;
  bool clean = false;
  if (auto reader = flowid::trace::open_reader(trace_path)) {
    flowid::Event event;
    while (reader->next(event)) {
      if (std::holds_alternative<flowid::Flow>(event.body)) ++flows;
      if (std::holds_alternative<flowid::Verdict>(event.body)) ++verdicts;
      if (auto* d = std::get_if<flowid::DroppedEvents>(&event.body)) dropped += d->count;
    }
    clean = reader->clean();
  }
  std::filesystem::remove(trace_path);
  const uint64_t expected = static_cast<uint64_t>(connects * procs);
  double ratio = best_recorded.wall_s / best_plain.wall_s;
  double added_p50_us = (static_cast<double>(best_recorded.p50_ns) - best_plain.p50_ns) / 1e3;
  double added_p99_us = (static_cast<double>(best_recorded.p99_ns) - best_plain.p99_ns) / 1e3;

  std::printf("record_bench: %ld processes x %ld loopback TCP connects, best of %ld\n", procs,
              connects, runs);
  std::printf("  %-28s %12s %12s\n", "", "plain", "recorded");
  std::printf("  %-28s %12.3f %12.3f\n", "wall time (s)", best_plain.wall_s, best_recorded.wall_s);
  std::printf("  %-28s %12.1f %12.1f\n", "connect p50 (us)", best_plain.p50_ns / 1e3,
              best_recorded.p50_ns / 1e3);
  std::printf("  %-28s %12.1f %12.1f\n", "connect p99 (us)", best_plain.p99_ns / 1e3,
              best_recorded.p99_ns / 1e3);
  std::printf(
      "  wall-time ratio %.2fx (target <= 1.5x); added per connect p50 %.1f us, p99 %.1f us\n",
      ratio, added_p50_us, added_p99_us);
  std::printf(
      "  flows recorded %llu / expected %llu, verdicts %llu, dropped events %llu, trace %s\n",
      static_cast<unsigned long long>(flows), static_cast<unsigned long long>(expected),
      static_cast<unsigned long long>(verdicts), static_cast<unsigned long long>(dropped),
      clean ? "clean" : "NOT CLEAN");
  json("record_wall_ratio", ratio, "x");
  json("record_plain_wall", best_plain.wall_s, "s");
  json("record_recorded_wall", best_recorded.wall_s, "s");
  json("record_added_latency_p50", added_p50_us, "us");
  json("record_added_latency_p99", added_p99_us, "us");
  json("record_flows_recorded", static_cast<double>(flows), "flows");
  json("record_flows_lost", static_cast<double>(expected > flows ? expected - flows : 0), "flows");
  return flows == expected && clean ? 0 : 1;
}
