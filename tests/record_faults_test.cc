// `flowid record` when the world misbehaves: a hang-up, a trace that cannot be written, and a
// SIGKILL of flowid itself. The invariant under test: no flow passes that the trace does not
// hold, and the summary never claims more than the file holds. Synchronisation is by the trace
// file (flows appearing on disk) and the probe's own report, never by a fixed delay.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/cli_runner.h"
#include "tests/file_wait.h"
#include "tests/loopback_server.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using testing::LoopbackServer;
using testing::TempDir;

const std::string kProbe = FLOWID_RECORD_PROBE_PATH;

struct ReadBack {
  uint64_t flows = 0;
  uint64_t verdicts = 0;
  bool complete = false;
};

ReadBack read_back(const std::string& path) {
  ReadBack result;
  auto reader = trace::open_reader(path);
  if (!reader || !reader->ok()) return result;
  Event event;
  while (reader->next(event)) {
    result.flows += std::holds_alternative<Flow>(event.body);
    result.verdicts += std::holds_alternative<Verdict>(event.body);
  }
  result.complete = reader->footer() && reader->footer()->complete;
  return result;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts flowid with stdout / stderr to files and, when file_size_limit > 0, RLIMIT_FSIZE.
pid_t spawn_flowid(const std::vector<std::string>& args, const TempDir& dir,
                   rlim_t file_size_limit = 0) {
  std::string out = dir.file("out"), err = dir.file("err");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    if (file_size_limit > 0) {
      rlimit limit{file_size_limit, file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    std::vector<char*> argv = {const_cast<char*>(FLOWID_CLI_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(FLOWID_CLI_PATH, argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits until the trace holds at least `flows` flows (a sanitizer build of flowid starts slowly).
bool wait_for_flows(const std::string& path, uint64_t flows) {
  return testing::wait_for_file(path, [&] { return read_back(path).flows >= flows; });
}

bool wait_for_text(const std::string& path, const std::string& needle) {
  return testing::wait_for_file(path,
                                [&] { return slurp(path).find(needle) != std::string::npos; });
}

// The number right after `prefix`, or right before `suffix`, in text (no std::regex: GCC 12
// warns inside <regex> under the sanitizer build).
std::optional<uint64_t> number_after(const std::string& text, const std::string& prefix) {
  auto at = text.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  at += prefix.size();
  auto end = at;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == at) return std::nullopt;
  return std::stoull(text.substr(at, end - at));
}
std::optional<uint64_t> number_before(const std::string& text, const std::string& suffix) {
  auto end = text.find(suffix);
  if (end == std::string::npos) return std::nullopt;
  auto at = end;
  while (at > 0 && std::isdigit(static_cast<unsigned char>(text[at - 1]))) --at;
  if (at == end) return std::nullopt;
  return std::stoull(text.substr(at, end - at));
}

// "connects=N failed=F" from the probe: how many connects passed.
uint64_t passed_connects(const std::string& out) {
  auto connects = number_after(out, "connects=");
  auto failed = number_after(out, "failed=");
  if (!connects || !failed) return 0;
  return *connects - *failed;
}

std::vector<std::string> storm(const std::string& trace, const LoopbackServer& server,
                               const std::string& count) {
  return {"record", "-o",      trace,       "--lifecycle", "supervisor", "--",
          kProbe,   "connect", "127.0.0.1", server.port(), count};
}

// An ssh session that drops sends SIGHUP: like SIGTERM, the trace gets its footer.
TEST(RecordFaults, SighupFinishesTheTraceCleanly) {
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("hup.trace");
  pid_t flowid = spawn_flowid(storm(path, server, "100000000"), dir);
  ASSERT_TRUE(wait_for_flows(path, 1)) << slurp(dir.file("err"));
  ::kill(flowid, SIGHUP);
  int status = 0;
  ::waitpid(flowid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGHUP) << slurp(dir.file("err"));  // passed on.
  ReadBack trace = read_back(path);
  EXPECT_TRUE(trace.complete);
  EXPECT_GT(trace.flows, 0u);
  EXPECT_EQ(trace.flows, trace.verdicts);
  EXPECT_NE(slurp(dir.file("err")).find(std::to_string(trace.flows) + " flows ("),
            std::string::npos)
      << slurp(dir.file("err"));
}

// A trace that cannot be written (here: a 96 KiB file size limit, as with a full disk): flowid
// stops at the first write error, fails the tree's intercepted calls closed, and says exactly
// how many flows the file holds.
// Without write-ahead (--no-write-ahead) flows that passed may be missing, but the count must
// still be the file's.
class RecordWriteError : public ::testing::TestWithParam<bool> {};

TEST_P(RecordWriteError, StopsAndTheSummaryMatchesTheFile) {
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("full.trace");
  auto args = storm(path, server, "100000000");
  if (!GetParam()) args.insert(args.begin() + 1, "--no-write-ahead");
  pid_t flowid = spawn_flowid(args, dir, 96 * 1024);
  int status = 0;
  ::waitpid(flowid, &status, 0);
  std::string err = slurp(dir.file("err"));
  ASSERT_TRUE(WIFEXITED(status)) << status << err;
  EXPECT_EQ(WEXITSTATUS(status), 125) << err;  // flowid's own failure, not the command's.
  EXPECT_NE(err.find("full.trace: write: File too large"), std::string::npos) << err;
  const auto holds = number_after(err, "the trace holds ");
  ASSERT_TRUE(holds) << err;
  const uint64_t claimed = *holds;
  ReadBack trace = read_back(path);
  // Without write-ahead the first 200 ms of flows may already overflow the limit.
  EXPECT_TRUE(!GetParam() || trace.flows > 0);
  EXPECT_EQ(trace.flows, claimed) << err;
  EXPECT_NE(err.find(": " + std::to_string(claimed) + " flows ("), std::string::npos) << err;
  EXPECT_FALSE(trace.complete);
  if (GetParam()) {
    // Write-ahead: the flows not in the file are among those held at the failure, which were
    // failed closed; none of them passed.
    uint64_t missing = 0, held = 0;
    if (auto n = number_before(err, " more flows are not in it")) missing = *n;
    if (auto n = number_before(err, " flows held at the failure")) held = *n;
    EXPECT_LE(missing, held) << err;
    EXPECT_EQ(err.find("answered before they were written"), std::string::npos) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, RecordWriteError, ::testing::Bool(), [](const auto& param_info) {
  return param_info.param ? "WriteAhead" : "NoWriteAhead";
});

// A real full disk: a 256 KiB tmpfs in a private mount namespace (root only). The trace is
// copied out before the namespace, and the mount with it, goes away.
TEST(RecordFaults, FullDiskStopsAndTheSummaryMatchesTheFile) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and unshare(1) to mount a small tmpfs";
  }
  LoopbackServer server;
  TempDir dir;
  std::string mount_point = dir.file("small");
  std::string copy = dir.file("copy.trace");
  ::mkdir(mount_point.c_str(), 0755);
  std::string script = "mount -t tmpfs -o size=256k flowid-test '" + mount_point +
                       "' || exit 77; " + FLOWID_CLI_PATH + " record -o '" + mount_point +
                       "/full.trace' --lifecycle supervisor -- " + kProbe + " connect 127.0.0.1 " +
                       server.port() + " 100000000; status=$?; cp '" + mount_point +
                       "/full.trace' '" + copy + "'; exit $status";
  testing::CommandResult result =
      testing::run_program("/usr/bin/unshare", {"--mount", "/bin/sh", "-c", script});
  if (result.exit_code == 77) GTEST_SKIP() << "cannot mount tmpfs here: " << result.err;
  EXPECT_EQ(result.exit_code, 125) << result.err;  // flowid's own failure, not the command's.
  EXPECT_NE(result.err.find("write: No space left on device"), std::string::npos) << result.err;
  const auto holds = number_after(result.err, "the trace holds ");
  ASSERT_TRUE(holds) << result.err;
  ReadBack trace = read_back(copy);
  EXPECT_GT(trace.flows, 0u);
  EXPECT_EQ(trace.flows, *holds) << result.err;
  EXPECT_NE(result.err.find(": " + std::to_string(*holds) + " flows ("), std::string::npos);
}

// SIGKILL of flowid in a connect storm: with write-ahead, every connect that passed is in the
// trace (the ones held when flowid died fail with ENOSYS).
TEST(RecordFaults, SigkillLosesNoFlowThatPassed) {
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("kill.trace");
  pid_t flowid = spawn_flowid(storm(path, server, "20000"), dir);
  ASSERT_TRUE(wait_for_flows(path, 200)) << slurp(dir.file("err"));
  ::kill(flowid, SIGKILL);
  ::waitpid(flowid, nullptr, 0);
  // The probe, orphaned, finishes on its own (ENOSYS from here on) and reports.
  ASSERT_TRUE(wait_for_text(dir.file("out"), "connects="));
  uint64_t passed = passed_connects(slurp(dir.file("out")));
  EXPECT_NE(slurp(dir.file("out")).find("errno=38"), std::string::npos);
  ReadBack trace = read_back(path);
  EXPECT_GE(trace.flows, passed) << slurp(dir.file("out"));
  EXPECT_GT(passed, 0u);
}

}  // namespace
}  // namespace flowid
