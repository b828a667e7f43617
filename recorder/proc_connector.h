// The netlink process connector (NETLINK_CONNECTOR / CN_IDX_PROC): the kernel reports every
// fork, exec and exit on the machine. It needs CAP_NET_ADMIN in the initial user and pid
// namespaces; elsewhere open() fails (EPERM) and the recorder falls back to what the seccomp
// supervisor observes.
//
// Lost messages are counted exactly: the kernel numbers connector messages per CPU (cn_msg.seq)
// and stamps each with its CPU, so a gap in one CPU's sequence is that many lost events (the
// socket buffer overflowed). ENOBUFS from recv() says the same thing without a number; the
// sequence gap supplies it.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace flowid::recorder {

struct ProcEvent {
  enum class Kind : uint8_t { kFork, kExec, kExit };
  Kind kind = Kind::kFork;
  uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC, as the kernel stamped it.
  int32_t pid = 0;            // the thread the event is about (the child, for a fork).
  int32_t tgid = 0;           // its process.
  int32_t parent_pid = 0;     // fork only.
  int32_t parent_tgid = 0;    // fork only.
  uint32_t exit_code = 0;     // exit only: the wait status.
};

class ProcConnector final {
 public:
  ProcConnector() = default;
  ~ProcConnector();
  ProcConnector(const ProcConnector&) = delete;
  ProcConnector& operator=(const ProcConnector&) = delete;

  // Opens the socket and subscribes. Returns 0 or errno (EPERM without the capability or inside
  // a namespace, EPROTONOSUPPORT without CONFIG_PROC_EVENTS).
  int open();
  int fd() const { return fd_; }
  // Reads every queued message without blocking and appends fork/exec/exit events to *out.
  // Returns the number of events lost since the last call (sequence gaps and overruns).
  uint64_t drain(std::vector<ProcEvent>* out);

 private:
  static constexpr int kReceiveBufferBytes = 8 << 20;
  int fd_ = -1;
  std::map<uint32_t, uint32_t> next_seq_by_cpu_;
  bool overrun_pending_ = false;
};

}  // namespace flowid::recorder
