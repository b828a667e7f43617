// What the recorder reads about a live Linux process, and how it maps onto an audit token.
//
// Linux audit-token mapping (DESIGN §1 token order [auid, euid, egid, ruid, rgid, pid, asid,
// pidversion]):
//   auid       = /proc/PID/loginuid (4294967295 = unset, also when the kernel has no audit)
//   euid, egid = /proc/PID/status "Uid:" / "Gid:" second column
//   ruid, rgid = /proc/PID/status "Uid:" / "Gid:" first column
//   pid        = the thread-group id (the process id, not the thread that made the call)
//   asid       = /proc/PID/sessionid (the audit session id; 4294967295 when unset)
//   pidversion = linux_pidversion(start_ticks, generation) below.
// start_ticks is field 22 of /proc/PID/stat: the process start time in clock ticks since boot.
// Linux keeps the start time across exec, so the recorder counts the execs it has seen for each
// process (its generation) and folds the count into the top byte:
//   pidversion = uint32(start_ticks + (generation << 24))
// A process that has not exec'd since the recorder first saw it has pidversion == start_ticks
// (truncated to 32 bits), which anyone can check against /proc. Two executions of one pid are
// told apart unless they started in the same clock tick (10 ms at USER_HZ 100) with the same
// generation; the supervisor bumps the generation when it sees such a pid come back (see
// recorder.cc, "same-tick reuse").
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "harness/model.h"

namespace flowid::recorder {

inline constexpr uint32_t kAuditUnset = 0xffffffffu;

uint32_t linux_pidversion(uint64_t start_ticks, uint32_t generation);

// Fields of /proc/PID/stat the recorder uses.
struct ProcStat {
  int32_t pid = 0;
  int32_t ppid = 0;
  char state = '?';
  uint64_t start_ticks = 0;
  std::string comm;
};

// Credentials from /proc/PID/status, loginuid and sessionid.
struct ProcCredentials {
  int32_t tgid = 0;
  uint32_t ruid = 0, euid = 0, rgid = 0, egid = 0;
  uint32_t loginuid = kAuditUnset;
  uint32_t sessionid = kAuditUnset;
};

// Each reader takes a directory fd on /proc/PID (or /proc/PID/task/TID) and returns 0 or the
// errno the kernel answered (ENOENT, ESRCH, EACCES, ...). Reading through a directory fd that was
// opened while the process was known to be alive keeps the reads bound to that process: once it
// is gone they fail instead of describing whoever has the pid next.
int read_proc_stat(int proc_dirfd, ProcStat* out);
int read_proc_credentials(int proc_dirfd, ProcCredentials* out);
// Parses the text of /proc/PID/stat (exposed for tests). False when malformed.
bool parse_proc_stat(std::string_view text, ProcStat* out);

AuditToken linux_audit_token(const ProcCredentials& credentials, uint64_t start_ticks,
                             uint32_t generation);

// The executable behind /proc/PID/exe: its path (with " (deleted)" when unlinked, as the kernel
// says it), device and inode.
struct ExeFile {
  std::string path;
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size_bytes = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
};

// readlinkat(dirfd, "exe") and an fstat of the file it opens. *exe_fd receives an open read-only
// fd on the executable (the caller closes it) or -1. Returns 0 or errno.
int read_proc_exe(int proc_dirfd, ExeFile* out, int* exe_fd);

// The Linux "code handle" of an executable recorded in LookupData::code_handle for kProcExe: the
// file's identity as (device << 32) | low 32 bits of the inode, with the device in the kernel's
// 32-bit encoding (major << 20 | minor). Equal handles name the same file on one host.
uint64_t file_handle_of(uint64_t device, uint64_t inode);

// The Linux cdhash: the first 20 bytes of the SHA-256 of the file's content.
Cdhash cdhash_of_content(std::string_view bytes);

// Hashes executables, remembering files it has already hashed by (device, inode, size, mtime,
// ctime) so that a process making thousands of connects costs one hash. Returns 0 or errno.
class ExeHashCache final {
 public:
  int hash(int exe_fd, const ExeFile& file, Cdhash* out);
  uint64_t cache_hits() const { return hits_; }

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint64_t, int64_t, int64_t>;
  static constexpr std::size_t kEntriesMax = 4096;
  std::map<Key, Cdhash> entries_;
  uint64_t hits_ = 0;
};

// A code identity for an unsigned Linux executable: path, cdhash, signature kind unsigned.
CodeIdentity linux_code_identity(std::string_view path, const Cdhash& cdhash);

}  // namespace flowid::recorder
