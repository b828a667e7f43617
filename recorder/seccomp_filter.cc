#include "recorder/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace flowid::recorder {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
constexpr bool kCheckX32 = true;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
constexpr bool kCheckX32 = false;
#else
#error "flowid record: unsupported architecture (add its AUDIT_ARCH here)"
#endif

constexpr uint32_t kX32Bit = 0x40000000;
constexpr uint32_t kArgLowOffset(int index) {
  return static_cast<uint32_t>(offsetof(struct seccomp_data, args) + 8 * index);
}

// A fixed-capacity program builder; jumps are patched by label after the program is laid out.
struct Program {
  static constexpr int kCapacity = 32;
  sock_filter code[kCapacity];
  int size = 0;
  void add(uint16_t op, uint32_t k, uint8_t jt = 0, uint8_t jf = 0) {
    code[size++] = sock_filter{op, jt, jf, k};
  }
};

}  // namespace

int install_notify_filter(const FilterSpec& spec) {
  // Layout (indices are fixed so the relative jumps can be computed by hand):
  //  0 ld arch
  //  1 jeq native ? 2 : FOREIGN
  //  2 ld nr
  //  3 jge x32 ? FOREIGN : 4        (x86_64 only; aarch64 uses "ja 0")
  //  4 jeq connect  -> NOTIFY
  //  5 jeq sendmsg  -> NOTIFY
  //  6 jeq execve   -> EXEC
  //  7 jeq execveat -> EXEC
  //  8 jeq io_uring_setup -> URING
  //  9 jeq sendto ? 11 : 10
  // 10 ret ALLOW
  // 11 ld arg4 low
  // 12 jeq 0 ? 13 : NOTIFY
  // 13 ld arg4 high
  // 14 jeq 0 ? ALLOW(15) : NOTIFY
  // 15 ret ALLOW
  // 16 EXEC:    ret exec action (NOTIFY or ALLOW)
  // 17 URING:   ret ERRNO(ENOSYS) or ALLOW
  // 18 NOTIFY:  ret USER_NOTIF
  // 19 FOREIGN: ret ALLOW or KILL_PROCESS
  constexpr int kExec = 16, kUring = 17, kNotify = 18, kForeign = 19;
  Program p;
  auto to = [&](int target) { return static_cast<uint8_t>(target - p.size - 1); };
  p.add(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  p.add(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 0, to(kForeign));
  p.add(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  if (kCheckX32) {
    p.add(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, to(kForeign), 0);
  } else {
    p.add(BPF_JMP | BPF_JA, 0);
  }
  p.add(BPF_JMP | BPF_JEQ | BPF_K, SYS_connect, to(kNotify), 0);
  p.add(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendmsg, to(kNotify), 0);
  p.add(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, to(kExec), 0);
  p.add(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, to(kExec), 0);
  p.add(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, to(kUring), 0);
  p.add(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendto, 1, 0);
  p.add(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  p.add(BPF_LD | BPF_W | BPF_ABS, kArgLowOffset(4));
  p.add(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, to(kNotify));
  p.add(BPF_LD | BPF_W | BPF_ABS, kArgLowOffset(4) + 4);
  p.add(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, to(kNotify));
  p.add(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  p.add(BPF_RET | BPF_K, spec.intercept_exec ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW);
  p.add(BPF_RET | BPF_K,
        spec.enforce ? (SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)) : SECCOMP_RET_ALLOW);
  p.add(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
  p.add(BPF_RET | BPF_K, spec.enforce ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW);
  if (p.size != kForeign + 1) return -EINVAL;  // the hand-computed layout is wrong: a bug.

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  sock_fprog program{static_cast<unsigned short>(p.size), p.code};
  // WAIT_KILLABLE_RECV (Linux 5.19+): once the supervisor has the notification, only a fatal
  // signal interrupts the wait, so a signal handler in the tracee does not restart the call and
  // notify the same flow twice. Older kernels reject the flag; then install without it.
  long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                      &program);
  if (fd < 0 && errno == EINVAL) {
    fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                   &program);
  }
  if (fd < 0) return -errno;
  return static_cast<int>(fd);
}

bool is_connect_syscall(int nr) { return nr == SYS_connect; }
bool is_sendto_syscall(int nr) { return nr == SYS_sendto; }
bool is_sendmsg_syscall(int nr) { return nr == SYS_sendmsg; }
bool is_execve_syscall(int nr) { return nr == SYS_execve; }
bool is_execveat_syscall(int nr) { return nr == SYS_execveat; }

}  // namespace flowid::recorder
