// The live Linux recorder (`flowid record`): runs a command under a seccomp user-notification
// supervisor and writes a trace of its flows, the identity lookups made for each flow with the
// kernel's real answers, the verdicts, and the process tree's lifecycle.
//
// How one flow is handled (the calling thread waits at connect / sendto / sendmsg / sendmmsg
// meanwhile; a sendmmsg naming several destinations is one flow per destination;
// like a paused flow in a Network Extension filter):
//   1. read the destination sockaddr from the tracee's memory (process_vm_readv); a call to a
//      non-IP address (AF_UNIX, AF_NETLINK; AF_UNSPEC for connect, which disconnects) is passed
//      at once and only counted (a send to AF_UNSPEC is a flow: IPv4 UDP takes it as AF_INET);
//   2. resolve with the recorder's strategy, linux-pidfd (harness/strategies/linux_pidfd.h),
//      which asks the live LinuxSeam (live_seam.h) through an observer that records each call:
//      pidfd_open(pid)                    -> lookup kPidfdOpen, then /proc/PID as a directory fd;
//      SECCOMP_IOCTL_NOTIF_ID_VALID       -> lookup kNotifIdValid: the memory read, the pidfd
//        and the directory fd all belong to the notifying task (seccomp_unotify(2) TOCTOU rule);
//      /proc/PID/stat + status + loginuid + sessionid via the directory fd -> lookup kProcStat
//        (its data.token is the Linux audit token, see linux_process.h);
//      /proc/PID/exe readlink + fstat     -> lookup kProcExe (data.path, data.code_handle =
//        file_handle_of(device, inode));
//      SHA-256 of the executable          -> lookup kExeHash (data.identity: path, cdhash);
//      SECCOMP_IOCTL_NOTIF_ID_VALID again -> lookup kNotifIdValid;
//      and decides: verified when the notification was still valid at the end and the reads
//      went through the pidfd-pinned process; gone when the task died; unverified when only the
//      bare pid could be used (pidfd_open failed for another reason than ESRCH); unknown when
//      the executable could not be read;
//   3. complete the flow: the process table learns the execution the lookups described (its
//      token is the flow's), and pidfd_getfd + getsockopt(SO_DOMAIN/SO_TYPE/SO_PROTOCOL) through
//      the pinned pidfd give the socket's family, type and protocol (a marker records the
//      failure when ptrace access is refused);
//   4. filter: without rules every flow is allowed ("policy:record-only"); with rules the Filter
//      decides, and with enforce a drop or ask answers the call with EACCES.
// Events of one flow are appended in the order flow, lookups..., verdict, preceded by any
// lifecycle event the flow revealed (an exit of the pid's previous owner, a spawn).
//
// The answers of a batch of held calls go out only once the batch's events are in the file
// (write-ahead): a crash of flowid loses no flow that passed, and a write error fails the held
// calls closed and stops the recording. Calls the recorder cannot follow to a destination
// (seccomp_filter.h) get a "way out" marker and fail under enforcement.
//
// If the supervisor dies, the kernel fails every intercepted call of the tree with ENOSYS
// (the listener is gone): nothing passes unfiltered.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/filter.h"
#include "trace/trace.h"

namespace flowid::recorder {

enum class LifecycleSource : uint8_t {
  kAuto = 0,        // the process connector when it can be used, the supervisor otherwise.
  kConnector = 1,   // netlink process connector (root, initial namespaces); fail otherwise.
  kSupervisor = 2,  // what the supervisor observes: execve notifications, pidfds, its children.
};

struct RecordOptions {
  std::vector<std::string> command;  // argv; argv[0] is looked up in PATH.
  std::string output_path;
  std::optional<RuleSet> rules;  // absent: allow everything ("policy:record-only").
  std::string rules_path;        // for the trace header.
  bool enforce = false;          // answer drop / ask verdicts with EACCES.
  LifecycleSource lifecycle = LifecycleSource::kAuto;
  // Test aid modelling a slow filter: after reading a flow's address, wait this long before the
  // identity lookups, so a test can kill or replace the caller while it is held.
  uint32_t lookup_delay_ms = 0;
  // Grace period after SIGINT / SIGTERM for the tree to exit before the trace is closed.
  uint32_t stop_grace_ms = 5000;
  uint32_t flush_interval_ms = 200;
  // Write-ahead: a batch of held calls is answered only once its events are in the file, so a
  // crash (kill -9) of flowid loses no flow that passed and a write error fails the held calls
  // closed. false: answer at once and write every flush_interval_ms (for measurement only).
  bool write_ahead = true;
  std::string recorder_name = "flowid-record";
  trace::WriterOptions writer;
};

struct RecordStats {
  uint64_t flows = 0;                // flows in the trace (with write-ahead: answered ones).
  uint64_t unwritten_flows = 0;      // after a write error: flows not in the trace.
  uint64_t failed_closed_flows = 0;  // held when a write failed: answered ENOSYS.
  uint64_t channels = 0;             // calls through ways out the recorder cannot follow (marked).
  uint64_t lookups = 0;
  uint64_t allowed = 0;
  uint64_t dropped = 0;  // drop verdicts.
  uint64_t asked = 0;    // ask verdicts.
  uint64_t denied = 0;   // calls answered with EACCES (enforce).
  uint64_t spawns = 0;
  uint64_t execs = 0;
  uint64_t exits = 0;
  uint64_t dropped_events = 0;     // lifecycle events the source lost.
  uint64_t unaddressed_sends = 0;  // sendmsg without an address: passed, not a new flow.
  uint64_t local_calls = 0;        // connect / sendto / sendmsg to a non-IP address
                                   // (AF_UNIX, AF_NETLINK; connect to AF_UNSPEC): passed,
                                   // not a flow.
  uint64_t vanished = 0;           // answers to notifications whose caller was already gone.
  uint64_t events = 0;
  uint64_t bytes_written = 0;
  std::string lifecycle_source;  // "connector" or "supervisor".
};

enum class RecordError : uint8_t {
  kNone = 0,
  kCommandNotFound,
  kSeccompUnavailable,
  kOutput,  // the trace could not be opened or written.
  kSetup,   // anything else that stopped the recording from starting.
};

struct RecordResult {
  RecordError error = RecordError::kNone;
  std::string message;  // set when error != kNone, or for a write failure mid-run.
  bool command_finished = false;
  int wait_status = 0;  // the traced command's wait status when command_finished.
  RecordStats stats;
};

RecordResult record_command(const RecordOptions& options);

// `flowid record --system`: every process on the machine, from the process connector, and
// connections from socket diagnostics (NETLINK_SOCK_DIAG) attributed through /proc. Best
// effort, never enforced; what was lost is counted in DroppedEvents.
struct SystemOptions {
  std::string output_path;
  uint32_t duration_ms = 0;        // 0: until SIGINT / SIGTERM.
  uint32_t poll_interval_ms = 50;  // how often sockets are listed.
  uint32_t flush_interval_ms = 200;
  std::string recorder_name = "flowid-record";
  trace::WriterOptions writer;
};

RecordResult record_system(const SystemOptions& options);

// Searches PATH the way execvp does. Returns the path of an executable regular file, or
// nullopt.
std::optional<std::string> resolve_command(const std::string& name);

}  // namespace flowid::recorder
