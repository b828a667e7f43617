#include "recorder/internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace flowid::recorder::internal {
namespace {

uint64_t read_clock(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

// PROC_USER_INIT_INO and PROC_PID_INIT_INO (include/linux/proc_ns.h): stable kernel ABI.
constexpr ino_t kInitialUserNamespaceInode = 0xEFFFFFFDU;
constexpr ino_t kInitialPidNamespaceInode = 0xEFFFFFFCU;

}  // namespace

int pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}
int pidfd_getfd(int pidfd, int target_fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target_fd, 0));
}

uint64_t monotonic_ns() { return read_clock(CLOCK_MONOTONIC); }
uint64_t realtime_ns() { return read_clock(CLOCK_REALTIME); }
uint64_t boottime_offset_ns() { return read_clock(CLOCK_BOOTTIME) - read_clock(CLOCK_MONOTONIC); }

uint64_t clock_ticks_per_second() {
  long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<uint64_t>(ticks) : 100;
}

bool in_initial_namespaces() {
  struct stat user_ns, pid_ns;
  if (::stat("/proc/self/ns/user", &user_ns) != 0 || ::stat("/proc/self/ns/pid", &pid_ns) != 0) {
    return false;
  }
  return user_ns.st_ino == kInitialUserNamespaceInode && pid_ns.st_ino == kInitialPidNamespaceInode;
}

trace::TraceHeader make_header(std::string_view recorder_name, std::string_view description) {
  trace::TraceHeader header;
  header.recorder = std::string(recorder_name);
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) header.host = host;
  utsname names{};
  if (::uname(&names) == 0) {
    header.os = std::string(names.sysname) + " " + names.release + " " + names.machine;
  }
  header.clock = "CLOCK_MONOTONIC";
  header.time_unit_ns = 1;
  header.start_wall_time_ns = realtime_ns();
  header.caller.sandboxed = false;
  header.caller.root = ::geteuid() == 0;
  header.caller.uid = ::geteuid();
  header.caller.description = std::string(description);
  return header;
}

bool is_network_family(const sockaddr_storage& address, std::size_t length_bytes) {
  if (length_bytes < sizeof(sa_family_t)) return true;
  return address.ss_family == AF_INET || address.ss_family == AF_INET6;
}

Endpoint endpoint_of(const sockaddr_storage& address, std::size_t length_bytes, uint32_t* family) {
  Endpoint endpoint;
  *family = length_bytes >= sizeof(sa_family_t) ? address.ss_family : AF_UNSPEC;
  char text[INET6_ADDRSTRLEN] = {};
  switch (*family) {
    case AF_INET: {
      if (length_bytes < sizeof(sockaddr_in)) break;
      const auto& in4 = reinterpret_cast<const sockaddr_in&>(address);
      ::inet_ntop(AF_INET, &in4.sin_addr, text, sizeof text);
      endpoint.address = text;
      endpoint.port = ntohs(in4.sin_port);
      break;
    }
    case AF_INET6: {
      if (length_bytes < sizeof(sockaddr_in6)) break;
      const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
      ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
      endpoint.address = text;
      endpoint.port = ntohs(in6.sin6_port);
      break;
    }
    case AF_UNIX: {
      const auto& un = reinterpret_cast<const sockaddr_un&>(address);
      std::size_t path_bytes = length_bytes - offsetof(sockaddr_un, sun_path);
      if (length_bytes <= offsetof(sockaddr_un, sun_path)) {
        endpoint.address = "(unnamed)";
      } else if (un.sun_path[0] == '\0') {
        endpoint.address.assign(1, '@');
        endpoint.address.append(un.sun_path + 1, path_bytes - 1);
      } else {
        endpoint.address = std::string(un.sun_path, strnlen(un.sun_path, path_bytes));
      }
      break;
    }
    case AF_UNSPEC:
      endpoint.address = "(unspecified)";
      break;
    default:
      endpoint.address.assign("(family ");
      endpoint.address.append(std::to_string(*family));
      endpoint.address.push_back(')');
      break;
  }
  return endpoint;
}

Uuid flow_uuid(uint64_t run_salt, uint64_t flow_id) {
  Uuid uuid{};
  for (int i = 0; i < 8; ++i) {
    uuid[i] = static_cast<uint8_t>(run_salt >> (8 * i));
    uuid[8 + i] = static_cast<uint8_t>(flow_id >> (56 - 8 * i));
  }
  uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x80);  // version 8: custom layout.
  uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant.
  return uuid;
}

LookupOutcome errno_outcome(int error) { return LookupOutcome{OutcomeDomain::kErrno, error}; }

AttributionStatus status_for_label(VerdictLabel* label, AttributionStatus status) {
  *label = status == AttributionStatus::kVerified     ? VerdictLabel::kVerified
           : status == AttributionStatus::kUnverified ? VerdictLabel::kUnverifiedWarning
                                                      : VerdictLabel::kUnknown;
  return status;
}

Lookup make_lookup(uint64_t flow_id, LookupCall call, int32_t pid, int error,
                   uint64_t duration_ns) {
  Lookup lookup;
  lookup.flow_id = flow_id;
  lookup.call = call;
  lookup.args.pid = pid;
  lookup.outcome = errno_outcome(error);
  lookup.duration_ns = duration_ns;
  return lookup;
}

}  // namespace flowid::recorder::internal
