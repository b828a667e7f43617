// The fork server (see fork_server.h).
#include "plugin/fork_server.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>

#include "plugin/loader.h"
#include "plugin/wire.h"
#include "plugin/worker.h"

namespace flowid::plugin {
namespace {

constexpr char kSpawn = 'S';
constexpr char kReap = 'R';
constexpr char kSpawned = 's';
constexpr char kFailed = 'e';
constexpr char kReaped = 'r';
constexpr int kControlFd = 3;

template <typename T>
void append(std::string& packet, T value) {
  packet.append(reinterpret_cast<const char*>(&value), sizeof value);
}
template <typename T>
T read_at(const std::string& packet, std::size_t at) {
  T value{};
  if (packet.size() >= at + sizeof value) std::memcpy(&value, packet.data() + at, sizeof value);
  return value;
}

// Keeps stdin/out/err and `keep` (moved to fd 3) only: a socket of another worker left open in a
// process would hide that worker's death from flowid.
void keep_only(int keep) {
  if (keep != kControlFd && ::dup2(keep, kControlFd) != kControlFd) ::_exit(kWorkerProtocolError);
#if defined(__linux__)
  ::close_range(kControlFd + 1, ~0U, 0);
#else
  for (int fd = kControlFd + 1, end = static_cast<int>(::getdtablesize()); fd < end; ++fd)
    ::close(fd);
#endif
}

class Server {
 public:
  [[noreturn]] void run() {
    for (;;) {
      char buffer[8192];
      const ssize_t got = ::recv(kControlFd, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) ::_exit(0);  // flowid is gone.
      const std::string packet(buffer, static_cast<std::size_t>(got));
      if (packet[0] == kSpawn) {
        spawn(packet.substr(1));
      } else if (packet[0] == kReap) {
        reap(read_at<pid_t>(packet, 1), read_at<uint32_t>(packet, 1 + sizeof(pid_t)));
      } else {
        ::_exit(kWorkerProtocolError);
      }
    }
  }

 private:
  void answer(const std::string& packet) {
    if (::send(kControlFd, packet.data(), packet.size(), 0) != static_cast<ssize_t>(packet.size()))
      ::_exit(0);
  }

  void spawn(const std::string& path) {
    std::string error;
    auto& module = modules_[path];
    if (!module) module = load_plugin(path, &error);
    if (!module) {
      modules_.erase(path);
      answer(std::string(1, kFailed) + error);
      return;
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      answer(fmt::format("{}socketpair: {}", kFailed, std::strerror(errno)));
      return;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t child = ::fork();
    if (child == 0) {
      keep_only(fds[1]);
      worker_main(kControlFd, module);
    }
    ::close(fds[1]);
    if (child < 0) {
      answer(fmt::format("{}fork: {}", kFailed, std::strerror(errno)));
    } else {
      std::string reply(1, kSpawned);
      append(reply, child);
      if (!wire::send_fd(kControlFd, fds[0], reply)) ::_exit(0);
    }
    ::close(fds[0]);
  }

  void reap(pid_t pid, uint32_t wait_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    int status = 0;
    bool killed = false;
    for (;;) {
      const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
      if (reaped == pid) break;
      if (reaped < 0 && errno == EINTR) continue;
      if (reaped < 0) {
        status = -1;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        killed = true;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      const timespec pause{0, 100000};  // 0.1 ms: a crashed worker is reapable almost at once.
      ::nanosleep(&pause, nullptr);
    }
    std::string reply(1, kReaped);
    append(reply, status);
    append(reply, static_cast<uint8_t>(killed ? 1 : 0));
    answer(reply);
  }

  std::map<std::string, std::shared_ptr<const PluginModule>> modules_;
};

}  // namespace

ForkServer::ForkServer() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::runtime_error(fmt::format("plugin isolation: socketpair: {}", std::strerror(errno)));
  }
  // Whatever flowid has buffered for stdout / stderr would otherwise also sit in the server's
  // copy of the buffers, and be written a second time if a plugin flushes them.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = ::fork();
  if (child < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(fmt::format("plugin isolation: fork: {}", std::strerror(error)));
  }
  if (child == 0) {
    keep_only(fds[1]);
    Server().run();
  }
  ::close(fds[1]);
  control_ = fds[0];
  pid_ = child;
}

ForkServer::~ForkServer() {
  ::close(control_);  // the server sees the end of the stream and exits.
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string ForkServer::request(const std::string& packet, int* fd) {
  std::lock_guard lock(mutex_);
  if (::send(control_, packet.data(), packet.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(packet.size())) {
    throw std::runtime_error(
        fmt::format("plugin isolation: the fork server is gone ({})", std::strerror(errno)));
  }
  std::string reply;
  const int received = wire::receive_fd(control_, &reply);
  if (fd != nullptr) {
    *fd = received;
  } else if (received >= 0) {
    ::close(received);
  }
  if (reply.empty()) throw std::runtime_error("plugin isolation: the fork server is gone");
  return reply;
}

ForkServer::Spawned ForkServer::spawn(const std::string& path) {
  int fd = -1;
  const std::string reply = request(std::string(1, kSpawn) + path, &fd);
  if (reply[0] != kSpawned || fd < 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(
        fmt::format("plugin isolation: cannot start a worker: {}", reply.substr(1)));
  }
  return {read_at<pid_t>(reply, 1), fd};
}

ForkServer::Ended ForkServer::reap(pid_t pid, uint32_t wait_ms) {
  std::string packet(1, kReap);
  append(packet, pid);
  append(packet, wait_ms);
  const std::string reply = request(packet, nullptr);
  if (reply[0] != kReaped)
    throw std::runtime_error("plugin isolation: the fork server answered nonsense");
  return {read_at<int>(reply, 1), read_at<uint8_t>(reply, 1 + sizeof(int)) != 0};
}

}  // namespace flowid::plugin
