// Waiting for a file that another process writes (a trace being recorded, a child's stdout sent
// to a file), by handshake rather than by sleeping: an inotify watch on the file's folder wakes
// the test each time something there is created, written, closed or renamed into place, and the
// condition is checked then. The deadline only bounds a wait that would otherwise hang when the
// other side is broken (a sanitizer build of flowid may take seconds to start); a passing run
// never reaches it and never waits longer than the writer takes.
#pragma once

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace flowid::testing {

// True once ready() holds (checked at the start and after each change in the folder of `path`),
// false when `timeout` passes first or the folder cannot be watched.
template <typename Ready>
bool wait_for_file(const std::string& path, Ready ready,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return false;
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  const bool watching =
      ::inotify_add_watch(fd, folder.c_str(),
                          IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) >= 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool done = false;
  // Checked after the watch is in place, so a change between the check and the wait is seen.
  while (watching && !(done = ready())) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) continue;
    char events[4096];
    while (::read(fd, events, sizeof events) > 0) {
    }
  }
  ::close(fd);
  return done;
}

}  // namespace flowid::testing
