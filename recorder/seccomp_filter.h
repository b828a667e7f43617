// The seccomp program the recorder installs in the traced command, and the few raw syscalls
// around user notification (raw seccomp(2) + classic BPF: no libseccomp needed).
//
// The program sends connect, sendmsg and sendto-with-an-address to the supervisor
// (SECCOMP_RET_USER_NOTIF). sendto with a null address is allowed in the kernel: it can only
// use the peer the socket is already connected to, and that connect was filtered. sendmsg is
// always sent up because its address lives inside the msghdr, where BPF cannot look. With
// intercept_exec, execve and execveat are sent up too so that an unprivileged supervisor sees
// execs (it answers them with SECCOMP_USER_NOTIF_FLAG_CONTINUE).
//
// System calls of another architecture (i386 / x32 compatibility calls, including socketcall)
// cannot be decoded by this program: they are allowed when recording and kill the process when
// enforcing, so that a 32-bit program cannot slip past a deny rule. Under enforcement
// io_uring_setup fails with ENOSYS too, because io_uring can connect without a system call the
// filter sees.
#pragma once

#include <cstdint>

namespace flowid::recorder {

struct FilterSpec {
  bool intercept_exec = false;
  bool enforce = false;
};

// Installs the program on the calling thread (after PR_SET_NO_NEW_PRIVS) and returns the
// listener fd (close-on-exec) or -errno. Async-signal-safe apart from the stack buffer: it is
// called in the freshly cloned child.
int install_notify_filter(const FilterSpec& spec);

// Syscall numbers the supervisor dispatches on.
bool is_connect_syscall(int nr);
bool is_sendto_syscall(int nr);
bool is_sendmsg_syscall(int nr);
bool is_execve_syscall(int nr);
bool is_execveat_syscall(int nr);

}  // namespace flowid::recorder
