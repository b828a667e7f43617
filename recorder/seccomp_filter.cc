#include "recorder/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <initializer_list>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif

namespace flowid::recorder {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
constexpr bool kHasCompat = true;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
constexpr bool kHasCompat = false;
#else
#error "flowid record: unsupported architecture (add its AUDIT_ARCH here)"
#endif

constexpr uint32_t kX32Bit = 0x40000000;
constexpr uint32_t kSockTypeMask = 0xf;  // SOCK_TYPE_MASK: the type without SOCK_CLOEXEC etc.
constexpr uint32_t kSockPacket = 10;     // the obsolete SOCK_PACKET type (a packet socket).

// The network-related system calls of the x86 compatibility ABIs, by number (arch/x86/entry/
// syscalls/syscall_32.tbl and syscall_64.tbl, x32 entries). socketcall (i386 102) is matched on
// its call number below.
constexpr uint32_t kI386Socketcall = 102;
constexpr uint32_t kI386Calls[] = {362 /*connect*/,     369 /*sendto*/, 370 /*sendmsg*/,
                                   345 /*sendmmsg*/,    359 /*socket*/, 425 /*io_uring_setup*/,
                                   438 /*pidfd_getfd*/, 26 /*ptrace*/,  348 /*process_vm_writev*/};
constexpr uint32_t kSocketcallCalls[] = {1 /*SYS_SOCKET*/, 3 /*SYS_CONNECT*/, 11 /*SYS_SENDTO*/,
                                         16 /*SYS_SENDMSG*/, 20 /*SYS_SENDMMSG*/};
constexpr uint32_t kX32Calls[] = {42 /*connect*/,      44 /*sendto*/,  518 /*sendmsg*/,
                                  538 /*sendmmsg*/,    41 /*socket*/,  425 /*io_uring_setup*/,
                                  438 /*pidfd_getfd*/, 521 /*ptrace*/, 540 /*process_vm_writev*/};

constexpr uint32_t arg_low(int index) {
  return static_cast<uint32_t>(offsetof(struct seccomp_data, args) + 8 * index);
}

// A fixed-capacity classic BPF program with symbolic jump targets: jumps name a label, and
// resolve() turns labels into the 8-bit relative offsets once the program is laid out.
class Program {
 public:
  static constexpr int kCapacity = 96;
  enum Label : uint8_t {
    kNone,
    kAllow,
    kNotify,
    kExec,
    kSendto,
    kSocket,
    kInetSocket,
    kForeign,
    kI386,
    kX32,
    kForeignNotify,
    kForeignDefault,
    kLabelCount
  };

  void load(uint32_t offset) { add(BPF_LD | BPF_W | BPF_ABS, offset); }
  void jeq(uint32_t value, Label yes, Label no = kNone) { jump(BPF_JEQ, value, yes, no); }
  void jge(uint32_t value, Label yes, Label no = kNone) { jump(BPF_JGE, value, yes, no); }
  void bit_and(uint32_t mask) { add(BPF_ALU | BPF_AND | BPF_K, mask); }
  void ret(uint32_t action) { add(BPF_RET | BPF_K, action); }
  void go(Label target) { jump(BPF_JA, 0, target, kNone); }
  void here(Label label) { at_[label] = size_; }

  // False when a jump does not fit in 8 bits or a label was never placed (a bug).
  bool resolve() {
    if (overflow_) return false;
    for (int i = 0; i < size_; ++i) {
      for (int side = 0; side < 2; ++side) {
        Label label = targets_[i][side];
        if (label == kNone) continue;
        int target = at_[label];
        int offset = target - i - 1;
        if (target < 0 || offset < 0 || offset > 255) return false;
        if (BPF_OP(code_[i].code) == BPF_JA) {
          code_[i].k = static_cast<uint32_t>(offset);
        } else if (side == 0) {
          code_[i].jt = static_cast<uint8_t>(offset);
        } else {
          code_[i].jf = static_cast<uint8_t>(offset);
        }
      }
    }
    return true;
  }
  sock_fprog fprog() { return {static_cast<unsigned short>(size_), code_}; }

 private:
  void add(uint16_t op, uint32_t k) {
    if (size_ == kCapacity) {
      overflow_ = true;
      return;
    }
    code_[size_] = sock_filter{op, 0, 0, k};
    targets_[size_][0] = targets_[size_][1] = kNone;
    ++size_;
  }
  void jump(uint16_t op, uint32_t value, Label yes, Label no) {
    add(BPF_JMP | op | BPF_K, value);
    if (!overflow_) {
      targets_[size_ - 1][0] = yes;
      targets_[size_ - 1][1] = no;
    }
  }

  sock_filter code_[kCapacity];
  Label targets_[kCapacity][2];
  int at_[kLabelCount] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  int size_ = 0;
  bool overflow_ = false;
};

// The native ABI: calls that name a destination, exec, and the channels the supervisor
// cannot follow (it records a marker for those, and denies them under enforcement).
void native_part(Program& p, const FilterSpec& spec) {
  p.load(offsetof(struct seccomp_data, nr));
  if (kHasCompat) p.jge(kX32Bit, Program::kX32);
  for (uint32_t nr : {SYS_connect, SYS_sendmsg, SYS_sendmmsg, SYS_io_uring_setup, SYS_pidfd_getfd,
                      SYS_ptrace, SYS_process_vm_writev}) {
    p.jeq(nr, Program::kNotify);
  }
  p.jeq(SYS_execve, Program::kExec);
  p.jeq(SYS_execveat, Program::kExec);
  p.jeq(SYS_socket, Program::kSocket);
  p.jeq(SYS_sendto, Program::kSendto, Program::kAllow);
  // sendto with a null address can only reach the connected peer, which connect chose.
  p.here(Program::kSendto);
  p.load(arg_low(4));
  p.jeq(0, Program::kNone, Program::kNotify);
  p.load(arg_low(4) + 4);
  p.jeq(0, Program::kAllow, Program::kNotify);
  // socket(): local families and ordinary TCP / UDP / ICMP sockets pass; raw and packet
  // sockets (which send without a destination the filter sees) and SCTP (connectx is a
  // setsockopt) go up.
  p.here(Program::kSocket);
  p.load(arg_low(0));
  p.jeq(AF_UNIX, Program::kAllow);
  p.jeq(AF_NETLINK, Program::kAllow);
  p.jeq(AF_INET, Program::kInetSocket);
  p.jeq(AF_INET6, Program::kInetSocket, Program::kNotify);
  p.here(Program::kInetSocket);
  p.load(arg_low(2));
  p.jeq(IPPROTO_SCTP, Program::kNotify);
  p.load(arg_low(1));
  p.bit_and(kSockTypeMask);
  p.jeq(SOCK_RAW, Program::kNotify);
  p.jeq(kSockPacket, Program::kNotify, Program::kAllow);
  p.here(Program::kAllow);
  p.ret(SECCOMP_RET_ALLOW);
  p.here(Program::kExec);
  p.ret(spec.intercept_exec ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW);
  p.here(Program::kNotify);
  p.ret(SECCOMP_RET_USER_NOTIF);
}

// i386 (int 0x80, or a 32-bit program) and x32 calls are not decoded. Under enforcement any of
// them kills the process; when recording, the network-related ones go up (the supervisor
// records a marker) and the rest pass.
void foreign_part(Program& p, const FilterSpec& spec) {
  p.here(Program::kForeign);
  if (spec.enforce || !kHasCompat) {
    p.here(Program::kI386);
    p.here(Program::kX32);
    p.here(Program::kForeignNotify);
    p.here(Program::kForeignDefault);
    p.ret(spec.enforce ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ALLOW);
    return;
  }
  p.jeq(AUDIT_ARCH_I386, Program::kI386, Program::kForeignDefault);
  p.here(Program::kI386);
  p.load(offsetof(struct seccomp_data, nr));
  for (uint32_t nr : kI386Calls) p.jeq(nr, Program::kForeignNotify);
  p.jeq(kI386Socketcall, Program::kNone, Program::kForeignDefault);
  p.load(arg_low(0));
  for (uint32_t call : kSocketcallCalls) p.jeq(call, Program::kForeignNotify);
  p.go(Program::kForeignDefault);
  p.here(Program::kX32);
  for (uint32_t nr : kX32Calls) p.jeq(nr | kX32Bit, Program::kForeignNotify);
  p.go(Program::kForeignDefault);
  p.here(Program::kForeignNotify);
  p.ret(SECCOMP_RET_USER_NOTIF);
  p.here(Program::kForeignDefault);
  p.ret(SECCOMP_RET_ALLOW);
}

bool build_program(const FilterSpec& spec, Program* p) {
  p->load(offsetof(struct seccomp_data, arch));
  p->jeq(kNativeArch, Program::kNone, Program::kForeign);
  native_part(*p, spec);
  foreign_part(*p, spec);
  return p->resolve();
}

}  // namespace

std::vector<sock_filter> notify_filter_program(const FilterSpec& spec) {
  Program p;
  if (!build_program(spec, &p)) return {};
  sock_fprog program = p.fprog();
  return std::vector<sock_filter>(program.filter, program.filter + program.len);
}

int install_notify_filter(const FilterSpec& spec) {
  Program p;  // on the stack: no allocation in the freshly cloned child.
  if (!build_program(spec, &p)) return -EINVAL;  // a layout bug: refuse rather than misfilter.

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  sock_fprog program = p.fprog();
  // WAIT_KILLABLE_RECV (Linux 5.19+): once the supervisor has the notification, only a fatal
  // signal interrupts the wait, so a signal handler in the tracee does not restart the call and
  // notify the same flow twice. Older kernels reject the flag; then install without it.
  long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                      &program);
  if (fd < 0 && errno == EINVAL) {
    fd =
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
  }
  if (fd < 0) return -errno;
  return static_cast<int>(fd);
}

bool is_native_call(uint32_t arch) { return arch == kNativeArch; }
bool is_connect_syscall(int nr) { return nr == SYS_connect; }
bool is_sendto_syscall(int nr) { return nr == SYS_sendto; }
bool is_sendmsg_syscall(int nr) { return nr == SYS_sendmsg; }
bool is_sendmmsg_syscall(int nr) { return nr == SYS_sendmmsg; }
bool is_execve_syscall(int nr) { return nr == SYS_execve; }
bool is_execveat_syscall(int nr) { return nr == SYS_execveat; }

const char* channel_name(uint32_t arch, int nr, uint64_t arg0) {
  if (arch != kNativeArch || (kHasCompat && (static_cast<uint32_t>(nr) & kX32Bit) != 0)) {
    if (kHasCompat && arch == AUDIT_ARCH_I386 && nr == static_cast<int>(kI386Socketcall)) {
      switch (arg0) {
        case 1:
          return "i386 socketcall(socket)";
        case 3:
          return "i386 socketcall(connect)";
        case 11:
          return "i386 socketcall(sendto)";
        case 16:
          return "i386 socketcall(sendmsg)";
        case 20:
          return "i386 socketcall(sendmmsg)";
        default:
          return "i386 socketcall";
      }
    }
    return arch == kNativeArch ? "x32 network call" : "i386 network call";
  }
  switch (nr) {
    case SYS_io_uring_setup:
      return "io_uring_setup";
    case SYS_pidfd_getfd:
      return "pidfd_getfd";
    case SYS_ptrace:
      return "ptrace";
    case SYS_process_vm_writev:
      return "process_vm_writev";
    case SYS_socket:
      return "socket";
    default:
      return nullptr;
  }
}

}  // namespace flowid::recorder
