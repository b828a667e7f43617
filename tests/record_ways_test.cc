// The recorder must see every way out of the traced tree (docs/recording.md, "What the recorder
// sees"). One probe mode per system call (recorder/tools/record_probe.cc), each run twice under
// `flowid record`: recording, where the trace must show the call (a flow, or a marker for a
// channel it cannot follow), and `--rules deny-all --enforce`, where the call must fail and,
// for datagrams, nothing may be delivered. Delivery is checked after the probe has exited with a
// non-blocking read of the receiving socket: loopback delivery happens inside the send call,
// so no waiting is involved. The seccomp program itself is checked instruction by instruction
// with a small classic-BPF interpreter, including the compatibility ABIs this machine may not
// be able to run.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "harness/event_format.h"
#include "recorder/seccomp_filter.h"
#include "tests/cli_runner.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using testing::CommandResult;
using testing::run_flowid;
using testing::TempDir;

const std::string kProbe = FLOWID_RECORD_PROBE_PATH;

std::vector<Event> read_events(const std::string& path) {
  std::vector<Event> events;
  auto reader = trace::open_reader(path);
  if (!reader || !reader->ok()) return events;
  Event event;
  while (reader->next(event)) events.push_back(event);
  return events;
}

template <typename T>
std::vector<T> all_of(const std::vector<Event>& events) {
  std::vector<T> out;
  for (const auto& event : events) {
    if (auto* body = std::get_if<T>(&event.body)) out.push_back(*body);
  }
  return out;
}

std::string dump(const std::vector<Event>& events) {
  std::string text;
  for (const auto& event : events) text += format_event_line(event) + "\n";
  return text;
}

// A UDP socket on 127.0.0.1 that counts what reached it.
class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~UdpReceiver() { ::close(fd_); }
  std::string port() const { return std::to_string(port_); }
  int datagrams() const {
    int count = 0;
    char byte[16];
    while (::recv(fd_, byte, sizeof byte, 0) >= 0) ++count;
    return count;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// An AF_UNIX datagram socket outside the tree; counts the fds passed to it.
class UnixReceiver {
 public:
  explicit UnixReceiver(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  ~UnixReceiver() { ::close(fd_); }
  int fds_received() const {
    int count = 0;
    while (true) {
      char byte;
      iovec io{&byte, 1};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr header{};
      header.msg_iov = &io;
      header.msg_iovlen = 1;
      header.msg_control = control;
      header.msg_controllen = sizeof control;
      if (::recvmsg(fd_, &header, MSG_CMSG_CLOEXEC) < 0) return count;
      for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
        if (c->cmsg_type != SCM_RIGHTS) continue;
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        ::close(fd);
        ++count;
      }
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::vector<std::string> record_args(const std::string& output, const std::string& rules,
                                     std::vector<std::string> command) {
  std::vector<std::string> args = {"record", "-o", output};
  if (!rules.empty()) args.insert(args.end(), {"--rules", rules, "--enforce"});
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

bool seccomp_notify_available() {
  static const bool available = [] {
    TempDir dir;
    return run_flowid(record_args(dir.file("probe.trace"), "", {"/bin/true"})).exit_code == 0;
  }();
  return available;
}

#define REQUIRE_SECCOMP_NOTIFY()                                                         \
  if (!seccomp_notify_available()) {                                                     \
    GTEST_SKIP() << "seccomp user notification is unavailable on this kernel / sandbox"; \
  }

std::string deny_all_rules(const TempDir& dir) {
  std::string path = dir.file("deny-all.rules");
  std::ofstream(path) << "[policy]\nno_rule = \"drop\"\n";
  return path;
}

// ------------------------------------------------------------------------------------------
// Calls that name a destination: each is a flow, and deny-all stops it.

struct FlowCase {
  std::string mode;
  int flows;      // flows the trace holds (recording and enforcing alike).
  int datagrams;  // datagrams delivered when recording.
};

class RecordWaysFlow : public ::testing::TestWithParam<FlowCase> {};

TEST_P(RecordWaysFlow, IsRecordedAndDeniedUnderEnforce) {
  REQUIRE_SECCOMP_NOTIFY();
  const FlowCase& c = GetParam();
  TempDir dir;
  for (bool enforce : {false, true}) {
    SCOPED_TRACE(enforce ? "enforce deny-all" : "recording");
    UdpReceiver first, second;
    std::string path = dir.file(c.mode + (enforce ? "-enforce" : "") + ".trace");
    CommandResult result =
        run_flowid(record_args(path, enforce ? deny_all_rules(dir) : "",
                               {kProbe, c.mode, "127.0.0.1", first.port(), second.port()}));
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    std::string expected = c.mode + "=" + (enforce ? std::to_string(EACCES) : "0");
    EXPECT_NE(result.out.find(expected), std::string::npos) << result.out;
    auto events = read_events(path);
    auto flows = all_of<Flow>(events);
    auto verdicts = all_of<Verdict>(events);
    ASSERT_EQ(static_cast<int>(flows.size()), c.flows) << dump(events);
    ASSERT_EQ(verdicts.size(), flows.size());
    for (std::size_t i = 0; i < flows.size(); ++i) {
      EXPECT_EQ(flows[i].remote_endpoint.address, "127.0.0.1");
      EXPECT_EQ(flows[i].type, static_cast<uint32_t>(SOCK_DGRAM));
      EXPECT_EQ(verdicts[i].decision, enforce ? Decision::kDrop : Decision::kAllow);
    }
    EXPECT_EQ(first.datagrams() + second.datagrams(), enforce ? 0 : c.datagrams);
    EXPECT_NE(result.err.find(std::to_string(flows.size()) + " flows"), std::string::npos)
        << result.err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Calls, RecordWaysFlow,
    ::testing::Values(FlowCase{"sendto", 1, 1},
                      // UDP takes an AF_UNSPEC address as AF_INET: was passed as a local call.
                      FlowCase{"sendto-unspec", 1, 1}, FlowCase{"sendmsg", 1, 1},
                      // Two destinations in one call: two flows, both decided; one denied
                      // destination fails the whole call.
                      FlowCase{"sendmmsg", 2, 2},
                      // connect chose the peer (the one flow); the sendmmsg after it names none.
                      FlowCase{"sendmmsg-connected", 1, 2}),
    [](const auto& param_info) {
      std::string name = param_info.param.mode;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

// ------------------------------------------------------------------------------------------
// Channels the recorder cannot follow to a destination: marked when recording, failed under
// enforcement.

struct ChannelCase {
  std::string mode;
  std::string marker;  // what the marker names.
  int enforce_errno;
};

class RecordWaysChannel : public ::testing::TestWithParam<ChannelCase> {};

TEST_P(RecordWaysChannel, IsMarkedAndDeniedUnderEnforce) {
  REQUIRE_SECCOMP_NOTIFY();
  const ChannelCase& c = GetParam();
  TempDir dir;
  std::string socket_path = dir.file("outside.sock");
  for (bool enforce : {false, true}) {
    SCOPED_TRACE(enforce ? "enforce deny-all" : "recording");
    ::unlink(socket_path.c_str());
    UnixReceiver outside(socket_path);
    std::string path = dir.file(c.mode + (enforce ? "-enforce" : "") + ".trace");
    CommandResult result = run_flowid(record_args(path, enforce ? deny_all_rules(dir) : "",
                                                  {kProbe, c.mode, "127.0.0.1", "9", socket_path}));
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    auto events = read_events(path);
    auto markers = all_of<Marker>(events);
    bool marked = std::any_of(markers.begin(), markers.end(), [&](const Marker& m) {
      return m.text.find("way out: ") == 0 && m.text.find(c.marker) != std::string::npos &&
             m.text.find(kProbe) != std::string::npos &&
             m.text.find(enforce ? "denied" : "passed") != std::string::npos;
    });
    EXPECT_TRUE(marked) << dump(events);
    EXPECT_NE(result.err.find("1 calls through ways out not followed"), std::string::npos)
        << result.err;
    EXPECT_TRUE(all_of<Flow>(events).empty()) << dump(events);
    if (enforce) {
      EXPECT_NE(result.out.find(c.mode + "=" + std::to_string(c.enforce_errno)), std::string::npos)
          << result.out;
    }
    if (c.mode == "scm-rights") {
      EXPECT_NE(result.out.find(c.mode + "=" + std::to_string(enforce ? EACCES : 0)),
                std::string::npos);
      EXPECT_EQ(outside.fds_received(), enforce ? 0 : 1);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Calls, RecordWaysChannel,
    ::testing::Values(ChannelCase{"io_uring", "io_uring_setup", ENOSYS},
                      ChannelCase{"pidfd_getfd", "pidfd_getfd", EPERM},
                      ChannelCase{"ptrace", "ptrace", EPERM},
                      ChannelCase{"process_vm_writev", "process_vm_writev", EPERM},
                      ChannelCase{"raw-socket", "socket(family 2, type 3", EACCES},
                      ChannelCase{"packet-socket", "socket(family 17, type 2", EACCES},
                      ChannelCase{"sctp-socket", "protocol 132", EACCES},
                      ChannelCase{"scm-rights", "SCM_RIGHTS passes a socket of family 2", EACCES}),
    [](const auto& param_info) {
      std::string name = param_info.param.mode;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

// A 64-bit program can make i386 system calls with int 0x80; an architecture-blind filter would
// let socketcall(SYS_CONNECT) through.
TEST(RecordWaysCompat, I386SocketcallIsMarkedAndKillsUnderEnforce) {
  REQUIRE_SECCOMP_NOTIFY();
  CommandResult direct = testing::run_program(kProbe, {"i386-connect", "127.0.0.1", "9"});
  if (direct.out.find("i386-connect=") == std::string::npos) {
    GTEST_SKIP() << "int 0x80 is not available on this kernel (IA32 emulation off)";
  }
  TempDir dir;
  std::string path = dir.file("i386.trace");
  CommandResult result =
      run_flowid(record_args(path, "", {kProbe, "i386-connect", "127.0.0.1", "9"}));
  auto markers = all_of<Marker>(read_events(path));
  EXPECT_TRUE(std::any_of(markers.begin(), markers.end(), [](const Marker& m) {
    return m.text.find("i386 socketcall(connect)") != std::string::npos;
  })) << result.err;
  result = run_flowid(record_args(dir.file("i386-enforce.trace"), deny_all_rules(dir),
                                  {kProbe, "i386-connect", "127.0.0.1", "9"}));
  EXPECT_EQ(result.exit_code, 128 + SIGSYS) << result.out << result.err;
}

// ------------------------------------------------------------------------------------------
// The seccomp program, run on synthetic seccomp_data.

uint32_t run_bpf(const std::vector<sock_filter>& program, const seccomp_data& data) {
  uint32_t a = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& op = program[pc];
    switch (op.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        std::memcpy(&a, bytes + op.k, 4);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a &= op.k;
        break;
      case BPF_JMP | BPF_JA:
        pc += op.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == op.k ? op.jt : op.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= op.k ? op.jt : op.jf;
        break;
      case BPF_RET | BPF_K:
        return op.k;
      default:
        ADD_FAILURE() << "unexpected BPF op " << op.code;
        return 0;
    }
  }
  ADD_FAILURE() << "ran off the end of the program";
  return 0;
}

#if defined(__x86_64__)
seccomp_data call(uint32_t arch, int nr, std::vector<uint64_t> args = {}) {
  seccomp_data data{};
  data.arch = arch;
  data.nr = nr;
  for (std::size_t i = 0; i < args.size(); ++i) data.args[i] = args[i];
  return data;
}

TEST(RecordFilterProgram, SendsEveryWayOutUpOnEveryAbi) {
  constexpr uint32_t kX64 = AUDIT_ARCH_X86_64, kI386 = AUDIT_ARCH_I386, kX32 = 0x40000000;
  constexpr uint32_t kNotify = SECCOMP_RET_USER_NOTIF, kAllow = SECCOMP_RET_ALLOW;
  constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
  struct Case {
    const char* what;
    seccomp_data data;
    uint32_t recording, enforcing;
  };
  const Case cases[] = {
      {"connect", call(kX64, SYS_connect), kNotify, kNotify},
      {"sendmsg", call(kX64, SYS_sendmsg), kNotify, kNotify},
      {"sendmmsg", call(kX64, SYS_sendmmsg), kNotify, kNotify},
      {"sendto, no address", call(kX64, SYS_sendto, {3, 0, 1, 0, 0, 0}), kAllow, kAllow},
      {"sendto, address above 4 GiB", call(kX64, SYS_sendto, {3, 0, 1, 0, uint64_t{1} << 32, 16}),
       kNotify, kNotify},
      {"io_uring_setup", call(kX64, SYS_io_uring_setup), kNotify, kNotify},
      {"pidfd_getfd", call(kX64, SYS_pidfd_getfd), kNotify, kNotify},
      {"ptrace", call(kX64, SYS_ptrace), kNotify, kNotify},
      {"process_vm_writev", call(kX64, SYS_process_vm_writev), kNotify, kNotify},
      {"tcp socket", call(kX64, SYS_socket, {AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0}), kAllow,
       kAllow},
      {"udp6 socket", call(kX64, SYS_socket, {AF_INET6, SOCK_DGRAM, 0}), kAllow, kAllow},
      {"unix socket", call(kX64, SYS_socket, {AF_UNIX, SOCK_STREAM, 0}), kAllow, kAllow},
      {"raw socket", call(kX64, SYS_socket, {AF_INET, SOCK_RAW | SOCK_NONBLOCK, 1}), kNotify,
       kNotify},
      {"packet socket", call(kX64, SYS_socket, {AF_PACKET, SOCK_DGRAM, 0}), kNotify, kNotify},
      {"sctp socket", call(kX64, SYS_socket, {AF_INET6, SOCK_STREAM, IPPROTO_SCTP}), kNotify,
       kNotify},
      {"vsock socket", call(kX64, SYS_socket, {AF_VSOCK, SOCK_STREAM, 0}), kNotify, kNotify},
      {"read", call(kX64, SYS_read), kAllow, kAllow},
      {"execve (connector lifecycle)", call(kX64, SYS_execve), kAllow, kAllow},
      {"i386 socketcall(connect)", call(kI386, 102, {3, 0}), kNotify, kKill},
      {"i386 socketcall(sendmmsg)", call(kI386, 102, {20, 0}), kNotify, kKill},
      {"i386 socketcall(recv)", call(kI386, 102, {10, 0}), kAllow, kKill},
      {"i386 connect", call(kI386, 362), kNotify, kKill},
      {"i386 sendmmsg", call(kI386, 345), kNotify, kKill},
      {"i386 read", call(kI386, 3), kAllow, kKill},
      {"x32 connect", call(kX64, 42 | kX32), kNotify, kKill},
      {"x32 sendmmsg", call(kX64, 538 | kX32), kNotify, kKill},
      {"x32 read", call(kX64, 0 | kX32), kAllow, kKill},
      {"another architecture", call(AUDIT_ARCH_AARCH64, 203), kAllow, kKill},
  };
  auto recording = recorder::notify_filter_program({.intercept_exec = false, .enforce = false});
  auto enforcing = recorder::notify_filter_program({.intercept_exec = false, .enforce = true});
  ASSERT_FALSE(recording.empty());
  ASSERT_FALSE(enforcing.empty());
  for (const Case& c : cases) {
    EXPECT_EQ(run_bpf(recording, c.data), c.recording) << c.what << " (recording)";
    EXPECT_EQ(run_bpf(enforcing, c.data), c.enforcing) << c.what << " (enforcing)";
  }
  auto supervisor = recorder::notify_filter_program({.intercept_exec = true, .enforce = false});
  EXPECT_EQ(run_bpf(supervisor, call(kX64, SYS_execveat)), kNotify);
}

TEST(RecordFilterProgram, NamesTheChannels) {
  EXPECT_STREQ(recorder::channel_name(AUDIT_ARCH_X86_64, SYS_pidfd_getfd, 0), "pidfd_getfd");
  EXPECT_STREQ(recorder::channel_name(AUDIT_ARCH_I386, 102, 3), "i386 socketcall(connect)");
  EXPECT_STREQ(recorder::channel_name(AUDIT_ARCH_X86_64, 42 | 0x40000000, 0), "x32 network call");
  EXPECT_EQ(recorder::channel_name(AUDIT_ARCH_X86_64, SYS_connect, 0), nullptr);
  EXPECT_EQ(recorder::channel_name(AUDIT_ARCH_X86_64, SYS_sendmmsg, 0), nullptr);
}
#endif

}  // namespace
}  // namespace flowid
