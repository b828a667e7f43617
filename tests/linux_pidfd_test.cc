// The linux-pidfd decision (harness/strategies/linux_pidfd.h), the live recorder's strategy, on a
// scripted LinuxSeam: the exact calls it asks, in order, and the verdict each kind of evidence
// gives. The recorder tests check the same decision against the kernel (tests/record*_test.cc);
// these need no kernel feature.
#include "harness/strategies/linux_pidfd.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "harness/builders.h"
#include "harness/strategies/catalog.h"
#include "tests/fake_seam.h"

namespace flowid {
namespace {

using C = LookupCall;
using S = AttributionStatus;

constexpr int32_t kPid = 4242;
const AuditToken kToken = build::token(kPid, 500);
const CodeIdentity kCurl = build::unsigned_binary("/usr/bin/curl");

// Answers each Linux call with the evidence below (errno 0 = success) and records the calls.
struct Evidence {
  int pidfd_error = 0;
  int valid_before_error = 0;
  int stat_error = 0;
  int exe_error = 0;
  int hash_error = 0;
  int valid_after_error = 0;
};

class ScriptedLinuxSeam final : public LinuxSeam {
 public:
  explicit ScriptedLinuxSeam(Evidence evidence) : evidence_(evidence) {}
  std::vector<LookupCall> calls;
  std::vector<int32_t> pids;

  SeamResult<int32_t> pidfd_open(int32_t pid) override {
    return {note(C::kPidfdOpen, pid, evidence_.pidfd_error), pid};
  }
  LookupOutcome notif_id_valid(int32_t pid) override {
    const bool first = validity_checks_++ == 0;
    return note(C::kNotifIdValid, pid,
                first ? evidence_.valid_before_error : evidence_.valid_after_error);
  }
  SeamResult<LinuxProcStat> proc_stat(int32_t pid) override {
    return {note(C::kProcStat, pid, evidence_.stat_error), LinuxProcStat{kToken, kPid}};
  }
  SeamResult<LinuxExe> proc_exe(int32_t pid) override {
    return {note(C::kProcExe, pid, evidence_.exe_error), LinuxExe{kCurl.path, 77}};
  }
  SeamResult<CodeIdentity> exe_hash(int32_t pid, std::string_view path) override {
    EXPECT_EQ(path, kCurl.path);
    return {note(C::kExeHash, pid, evidence_.hash_error), kCurl};
  }

 private:
  LookupOutcome note(LookupCall call, int32_t pid, int error) {
    calls.push_back(call);
    pids.push_back(pid);
    return build::posix(error);
  }
  Evidence evidence_;
  int validity_checks_ = 0;
};

Flow notified_flow() {
  Flow flow = build::tcp_flow(1, kToken);
  flow.proc_pid = kPid;
  return flow;
}

const std::vector<LookupCall> kEveryCall = {C::kPidfdOpen, C::kNotifIdValid, C::kProcStat,
                                            C::kProcExe,   C::kExeHash,      C::kNotifIdValid};

TEST(LinuxPidfd, AValidNotificationAndAPinnedTaskAreVerified) {
  ScriptedLinuxSeam seam({});
  const Attribution a = strategies::resolve_linux_pidfd(notified_flow(), seam);
  EXPECT_EQ(seam.calls, kEveryCall);
  EXPECT_EQ(seam.pids, std::vector<int32_t>(kEveryCall.size(), kPid));
  EXPECT_EQ(a.status, S::kVerified);
  EXPECT_EQ(a.identity, kCurl);
  EXPECT_EQ(a.claimed_execution, kToken.execution());
}

TEST(LinuxPidfd, ANotifierThatDiedIsGoneWithoutIdentity) {
  for (const Evidence evidence :
       {Evidence{.valid_before_error = ENOENT}, Evidence{.valid_after_error = ENOENT},
        Evidence{.pidfd_error = ESRCH}, Evidence{.stat_error = ESRCH},
        Evidence{.exe_error = ESRCH}}) {
    ScriptedLinuxSeam seam(evidence);
    const Attribution a = strategies::resolve_linux_pidfd(notified_flow(), seam);
    EXPECT_EQ(a.status, S::kGone) << ::testing::PrintToString(seam.calls);
    EXPECT_FALSE(a.identity.has_value()) << "I3: what /proc showed may be a newcomer's";
  }
}

TEST(LinuxPidfd, AnUnreadableExecutableIsUnknownAndNotHashed) {
  ScriptedLinuxSeam seam({.exe_error = EACCES});
  const Attribution a = strategies::resolve_linux_pidfd(notified_flow(), seam);
  EXPECT_EQ(seam.calls, (std::vector<LookupCall>{C::kPidfdOpen, C::kNotifIdValid, C::kProcStat,
                                                 C::kProcExe, C::kNotifIdValid}));
  EXPECT_EQ(a.status, S::kUnknown);
  EXPECT_FALSE(a.identity.has_value());

  ScriptedLinuxSeam unhashed({.hash_error = EIO});
  EXPECT_EQ(strategies::resolve_linux_pidfd(notified_flow(), unhashed).status, S::kUnknown);
}

TEST(LinuxPidfd, ARefusedPidfdLeavesTheBarePidUnverified) {
  ScriptedLinuxSeam seam({.pidfd_error = EPERM});
  const Attribution a = strategies::resolve_linux_pidfd(notified_flow(), seam);
  EXPECT_EQ(seam.calls, kEveryCall);
  EXPECT_EQ(a.status, S::kUnverified);
  EXPECT_EQ(a.identity, kCurl);
}

TEST(LinuxByPid, TheSystemRecordersAnswerIsAtMostUnverified) {
  ScriptedLinuxSeam seam({});
  const Attribution found = strategies::resolve_linux_by_pid(notified_flow(), seam);
  EXPECT_EQ(seam.calls, (std::vector<LookupCall>{C::kProcStat, C::kProcExe, C::kExeHash}));
  EXPECT_EQ(found.status, S::kUnverified);
  EXPECT_EQ(found.identity, kCurl);

  ScriptedLinuxSeam unhashed({.hash_error = EIO});
  const Attribution path_only = strategies::resolve_linux_by_pid(notified_flow(), unhashed);
  EXPECT_EQ(path_only.status, S::kUnverified);
  ASSERT_TRUE(path_only.identity.has_value());
  EXPECT_EQ(path_only.identity->path, kCurl.path);
  EXPECT_FALSE(path_only.identity->cdhash.has_value());

  ScriptedLinuxSeam gone({.stat_error = ESRCH});
  const Attribution unknown = strategies::resolve_linux_by_pid(notified_flow(), gone);
  EXPECT_EQ(gone.calls, (std::vector<LookupCall>{C::kProcStat}));
  EXPECT_EQ(unknown.status, S::kUnknown);
  EXPECT_FALSE(unknown.identity.has_value());
}

TEST(LinuxPidfd, ASeamWithoutLinuxLookupsIsAskedNothing) {
  testing::ScriptedSeam seam({});
  auto resolver = make_resolver("linux-pidfd");
  ASSERT_NE(resolver, nullptr);
  const Attribution a = resolver->resolve(notified_flow(), 0, seam);
  EXPECT_EQ(a.status, S::kUnknown);
  EXPECT_TRUE(seam.lookups().empty());
  EXPECT_TRUE(seam.off_script().empty());
}

}  // namespace
}  // namespace flowid
