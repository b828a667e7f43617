#include "recorder/linux_process.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "recorder/sha256.h"

namespace flowid::recorder {
namespace {

// Reads a whole small /proc file relative to dirfd. Returns 0 or errno.
int read_small_file(int dirfd, const char* name, std::string* out) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out->clear();
  char buffer[4096];
  int error = 0;
  for (int reads = 0; reads < 64; ++reads) {  // /proc files here are far below 256 KiB.
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    if (n == 0) break;
    out->append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return error;
}

template <typename T>
bool parse_number(std::string_view text, T* out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  auto result = std::from_chars(text.data(), text.data() + text.size(), *out);
  return result.ec == std::errc{};
}

// "Uid:\t1000\t1000\t1000\t1000" -> first two columns.
bool parse_id_pair(std::string_view line, uint32_t* real, uint32_t* effective) {
  auto tab = line.find_first_of(" \t");
  if (tab == std::string_view::npos) return false;
  line.remove_prefix(tab);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  auto result = std::from_chars(line.data(), line.data() + line.size(), *real);
  if (result.ec != std::errc{}) return false;
  line.remove_prefix(static_cast<std::size_t>(result.ptr - line.data()));
  return parse_number(line, effective);
}

}  // namespace

uint32_t linux_pidversion(uint64_t start_ticks, uint32_t generation) {
  return static_cast<uint32_t>(start_ticks + (uint64_t{generation} << 24));
}

bool parse_proc_stat(std::string_view text, ProcStat* out) {
  // "PID (COMM) S PPID ...": comm may contain spaces and ')', so split at the last ')'.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return false;
  }
  if (!parse_number(text.substr(0, open), &out->pid)) return false;
  out->comm.assign(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  // Fields from 3 (state) on, separated by single spaces.
  int field = 3;
  std::size_t position = 0;
  bool have_start = false;
  while (position < rest.size() && field <= 22) {
    while (position < rest.size() && rest[position] == ' ') ++position;
    std::size_t end = rest.find(' ', position);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view value = rest.substr(position, end - position);
    if (field == 3 && !value.empty()) out->state = value.front();
    if (field == 4 && !parse_number(value, &out->ppid)) return false;
    if (field == 22) have_start = parse_number(value, &out->start_ticks);
    position = end;
    ++field;
  }
  return have_start;
}

int read_proc_stat(int proc_dirfd, ProcStat* out) {
  std::string text;
  if (int error = read_small_file(proc_dirfd, "stat", &text)) return error;
  if (text.empty()) return ESRCH;  // the task went away between open and read.
  return parse_proc_stat(text, out) ? 0 : EPROTO;
}

int read_proc_credentials(int proc_dirfd, ProcCredentials* out) {
  std::string text;
  if (int error = read_small_file(proc_dirfd, "status", &text)) return error;
  if (text.empty()) return ESRCH;
  bool have_tgid = false, have_uid = false, have_gid = false;
  std::string_view rest = text;
  while (!rest.empty() && !(have_tgid && have_uid && have_gid)) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (line.starts_with("Tgid:")) {
      have_tgid = parse_number(line.substr(5), &out->tgid);
    } else if (line.starts_with("Uid:")) {
      have_uid = parse_id_pair(line, &out->ruid, &out->euid);
    } else if (line.starts_with("Gid:")) {
      have_gid = parse_id_pair(line, &out->rgid, &out->egid);
    }
  }
  if (!(have_tgid && have_uid && have_gid)) return EPROTO;
  // loginuid and sessionid exist only with CONFIG_AUDIT; without it both stay unset.
  std::string value;
  if (read_small_file(proc_dirfd, "loginuid", &value) == 0) {
    parse_number(std::string_view(value), &out->loginuid);
  }
  if (read_small_file(proc_dirfd, "sessionid", &value) == 0) {
    parse_number(std::string_view(value), &out->sessionid);
  }
  return 0;
}

AuditToken linux_audit_token(const ProcCredentials& credentials, uint64_t start_ticks,
                             uint32_t generation) {
  AuditToken token;
  token.words[AuditToken::kAuid] = credentials.loginuid;
  token.words[AuditToken::kEuid] = credentials.euid;
  token.words[AuditToken::kEgid] = credentials.egid;
  token.words[AuditToken::kRuid] = credentials.ruid;
  token.words[AuditToken::kRgid] = credentials.rgid;
  token.words[AuditToken::kPid] = static_cast<uint32_t>(credentials.tgid);
  token.words[AuditToken::kAsid] = credentials.sessionid;
  token.words[AuditToken::kPidversion] = linux_pidversion(start_ticks, generation);
  return token;
}

int read_proc_exe(int proc_dirfd, ExeFile* out, int* exe_fd) {
  *exe_fd = -1;
  char target[4096];
  ssize_t n = ::readlinkat(proc_dirfd, "exe", target, sizeof target - 1);
  if (n < 0) return errno;
  out->path.assign(target, static_cast<std::size_t>(n));
  int fd = ::openat(proc_dirfd, "exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    return error;
  }
  out->device = info.st_dev;
  out->inode = info.st_ino;
  out->size_bytes = static_cast<uint64_t>(info.st_size);
  out->mtime_ns = int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec;
  out->ctime_ns = int64_t{info.st_ctim.tv_sec} * 1'000'000'000 + info.st_ctim.tv_nsec;
  *exe_fd = fd;
  return 0;
}

uint64_t file_handle_of(uint64_t device, uint64_t inode) {
  uint64_t encoded_device = (uint64_t{major(device)} << 20) | (minor(device) & 0xfffff);
  return ((encoded_device & 0xffffffffu) << 32) | (inode & 0xffffffffu);
}

Cdhash cdhash_of_content(std::string_view bytes) {
  Sha256Digest digest = sha256(bytes);
  Cdhash cdhash;
  std::copy_n(digest.begin(), cdhash.size(), cdhash.begin());
  return cdhash;
}

int ExeHashCache::hash(int exe_fd, const ExeFile& file, Cdhash* out) {
  Key key{file.device, file.inode, file.size_bytes, file.mtime_ns, file.ctime_ns};
  if (auto it = entries_.find(key); it != entries_.end()) {
    ++hits_;
    *out = it->second;
    return 0;
  }
  Sha256 hasher;
  std::vector<char> buffer(1 << 16);
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(exe_fd, buffer.data(), buffer.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    hasher.update(buffer.data(), static_cast<std::size_t>(n));
    offset += n;
  }
  Sha256Digest digest = hasher.finish();
  std::copy_n(digest.begin(), out->size(), out->begin());
  if (entries_.size() >= kEntriesMax) entries_.clear();
  entries_.emplace(key, *out);
  return 0;
}

CodeIdentity linux_code_identity(std::string_view path, const Cdhash& cdhash) {
  CodeIdentity identity;
  identity.path = std::string(path);
  identity.cdhash = cdhash;
  identity.signature = SignatureKind::kUnsigned;
  return identity;
}

}  // namespace flowid::recorder
