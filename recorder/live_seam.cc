#include "recorder/live_seam.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <string>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace flowid::recorder {

void LiveLinuxSeam::begin(int notify_fd, uint64_t id) {
  notify_fd_ = notify_fd;
  id_ = id;
  last_duration_ns_ = 0;
  pidfd_.reset();
  dirfd_.reset();
  proc_opened_ = false;
  dirfd_error_ = 0;
  stat_.reset();
  exe_ = ExeFile{};
  exe_file_.reset();
}

template <typename Body>
int LiveLinuxSeam::timed(Body&& body) {
  const uint64_t start = internal::monotonic_ns();
  const int error = body();
  last_duration_ns_ = internal::monotonic_ns() - start;
  return error;
}

SeamResult<int32_t> LiveLinuxSeam::pidfd_open(int32_t pid) {
  // A thread id from a non-leader thread needs PIDFD_THREAD.
  const int error = timed([&] {
    pidfd_.reset(internal::pidfd_open(pid, 0));
    if (!pidfd_.valid() && errno == EINVAL) pidfd_.reset(internal::pidfd_open(pid, PIDFD_THREAD));
    return pidfd_.valid() ? 0 : errno;
  });
  open_proc(pid);  // not part of the timed lookup.
  return {internal::errno_outcome(error), pid};
}

void LiveLinuxSeam::open_proc(int32_t pid) {
  dirfd_.reset(
      ::open(("/proc/" + std::to_string(pid)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  dirfd_error_ = dirfd_.valid() ? 0 : errno;
  proc_opened_ = true;
}

LookupOutcome LiveLinuxSeam::notif_id_valid(int32_t pid) {
  (void)pid;  // the notification names its task.
  return internal::errno_outcome(timed([&] {
    uint64_t cookie = id_;
    return ::ioctl(notify_fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &cookie) == 0 ? 0 : errno;
  }));
}

SeamResult<LinuxProcStat> LiveLinuxSeam::proc_stat(int32_t pid) {
  if (!proc_opened_) open_proc(pid);  // by bare pid: no pidfd_open was asked.
  Stat read;
  const int error = timed([&] {
    if (!dirfd_.valid()) return dirfd_error_ == ENOENT ? ESRCH : dirfd_error_;
    if (int stat_error = read_proc_stat(dirfd_.get(), &read.stat)) return stat_error;
    return read_proc_credentials(dirfd_.get(), &read.credentials);
  });
  if (error != 0) return {internal::errno_outcome(error), {}};
  LinuxProcStat answer;
  answer.tgid = read.credentials.tgid;
  answer.token = linux_audit_token(read.credentials, read.stat.start_ticks,
                                   generation_of_(read.credentials.tgid, read.stat.start_ticks));
  stat_ = std::move(read);
  return {internal::errno_outcome(0), answer};
}

SeamResult<LinuxExe> LiveLinuxSeam::proc_exe(int32_t pid) {
  (void)pid;
  int exe_fd = -1;
  const int error = timed([&] {
    if (!dirfd_.valid()) return ESRCH;
    return read_proc_exe(dirfd_.get(), &exe_, &exe_fd);
  });
  exe_file_.reset(exe_fd);
  if (error != 0) {
    exe_ = ExeFile{};
    return {internal::errno_outcome(error), {}};
  }
  return {internal::errno_outcome(0), LinuxExe{exe_.path, file_handle_of(exe_.device, exe_.inode)}};
}

SeamResult<CodeIdentity> LiveLinuxSeam::exe_hash(int32_t pid, std::string_view path) {
  (void)pid;
  (void)path;  // the file proc_exe opened is hashed, never the path (which may name another).
  Cdhash cdhash{};
  const int error = timed([&] { return hashes_.hash(exe_file_.get(), exe_, &cdhash); });
  if (error != 0) return {internal::errno_outcome(error), {}};
  return {internal::errno_outcome(0), linux_code_identity(exe_.path, cdhash)};
}

void FlowLookups::on_lookup(const Lookup& lookup) {
  Lookup& recorded = lookups_.emplace_back(lookup);
  recorded.duration_ns = live_.last_duration_ns();
  if (recorded.call == LookupCall::kNotifIdValid)
    recorded.args.code_handle = live_.notification_id();
}

Lookup* FlowLookups::first(LookupCall call) {
  for (Lookup& lookup : lookups_) {
    if (lookup.call == call) return &lookup;
  }
  return nullptr;
}

}  // namespace flowid::recorder
