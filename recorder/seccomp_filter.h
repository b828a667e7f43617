// The seccomp program the recorder installs in the traced command, and the few raw syscalls
// around user notification (raw seccomp(2) + classic BPF: no libseccomp needed).
//
// Sent to the supervisor (SECCOMP_RET_USER_NOTIF), native ABI:
//   - the calls that name a destination: connect, sendmsg, sendmmsg, and sendto with an
//     address (sendto with a null address can only use the peer an earlier, filtered connect
//     chose, so the kernel lets it through). sendmsg / sendmmsg always come up: their addresses
//     live inside msghdr, where BPF cannot look;
//   - execve / execveat with intercept_exec (an unprivileged supervisor sees execs that way);
//   - the channels the supervisor cannot follow to a destination: io_uring_setup (a ring can
//     connect and send with no system call), pidfd_getfd (taking another process's socket),
//     ptrace and process_vm_writev (driving another process), and socket() for raw and packet
//     sockets, SCTP, and any family other than AF_UNIX / AF_NETLINK / AF_INET / AF_INET6. The
//     supervisor records a marker for each and, under enforcement, fails it.
// Calls of another ABI (i386 via int 0x80 or a 32-bit program, x32) are not decoded: under
// enforcement any of them kills the process, so a 32-bit socketcall cannot slip past a deny
// rule; when recording, their network-related calls come up to be marked and the rest pass.
// Whatever comes up fails with ENOSYS once the supervisor is gone.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace flowid::recorder {

struct FilterSpec {
  bool intercept_exec = false;
  bool enforce = false;
};

// Installs the program on the calling thread (after PR_SET_NO_NEW_PRIVS) and returns the
// listener fd (close-on-exec) or -errno. Async-signal-safe apart from the stack buffer: it is
// called in the freshly cloned child.
int install_notify_filter(const FilterSpec& spec);
// The same program, for tests (empty on a layout bug).
std::vector<sock_filter> notify_filter_program(const FilterSpec& spec);

// Syscall numbers the supervisor dispatches on.
bool is_native_call(uint32_t arch);  // seccomp_data.arch is the native ABI's.
bool is_connect_syscall(int nr);
bool is_sendto_syscall(int nr);
bool is_sendmsg_syscall(int nr);
bool is_sendmmsg_syscall(int nr);
bool is_execve_syscall(int nr);
bool is_execveat_syscall(int nr);
// For a notified call that names no destination the supervisor can record (see above): a
// short name ("pidfd_getfd", "i386 socketcall(connect)", "socket"); null for the others.
const char* channel_name(uint32_t arch, int nr, uint64_t arg0);

}  // namespace flowid::recorder
