// Pieces shared by the tree recorder (recorder.cc) and the system recorder (system_recorder.cc).
// Internal to recorder/.
#pragma once

#include <sys/socket.h>

#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "harness/model.h"
#include "trace/trace.h"

namespace flowid::recorder::internal {

// Owns one fd.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The pidfd system calls (glibc 2.36 has no wrappers for them on every target). -1 and errno on
// failure.
int pidfd_open(pid_t pid, unsigned flags);
int pidfd_getfd(int pidfd, int target_fd);

uint64_t monotonic_ns();
uint64_t realtime_ns();
// CLOCK_BOOTTIME - CLOCK_MONOTONIC now: converts connector timestamps to /proc start ticks.
uint64_t boottime_offset_ns();
uint64_t clock_ticks_per_second();

// True when this process is in the initial user and pid namespaces (the process connector
// only reports there). Uses the fixed inode numbers the kernel gives the initial namespaces.
bool in_initial_namespaces();

trace::TraceHeader make_header(std::string_view recorder_name, std::string_view description);

// "127.0.0.1" / "::1" / unix path ("@name" for the abstract namespace) and the port.
Endpoint endpoint_of(const sockaddr_storage& address, std::size_t length_bytes, uint32_t* family);

// True when the address is IPv4 / IPv6, or too short to say (the call is then recorded as a
// flow, not passed unseen).
bool is_network_family(const sockaddr_storage& address, std::size_t length_bytes);

Uuid flow_uuid(uint64_t run_salt, uint64_t flow_id);

LookupOutcome errno_outcome(int error);

// The label a record-only verdict shows for an attribution status; returns the status.
AttributionStatus status_for_label(VerdictLabel* label, AttributionStatus status);

// A lookup event with flow, call, pid argument, outcome and duration filled in.
Lookup make_lookup(uint64_t flow_id, LookupCall call, int32_t pid, int error, uint64_t duration_ns);

}  // namespace flowid::recorder::internal
