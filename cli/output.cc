#include "cli/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "replay/scenario_files.h"

namespace flowid::cli {
namespace {

// Writes all of text to fd; false with errno set on failure.
bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A temporary name beside path (same folder, so the rename stays on one filesystem), made
// unique by mkstemp. -1 with errno on failure.
int make_temp_beside(const std::string& path, std::string* temp_path) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  std::string pattern = ((dir.empty() ? std::filesystem::path(".") : dir) /
                         ("." + target.filename().string() + ".flowid-XXXXXX"))
                            .string();
  int fd = ::mkstemp(pattern.data());
  if (fd >= 0) {
    // mkstemp makes the file 0600; an output gets the usual permissions (umask applies).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    *temp_path = pattern;
  }
  return fd;
}

// Where an output really goes: through a symbolic link to its target (the link stays a link).
// Sets *direct for a target that exists and is not a regular file (a device such as /dev/null or
// /dev/full, a FIFO): those are written in place, never replaced by a rename.
std::string resolve_target(const std::string& path, bool* direct) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  *direct = !ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status);
  std::filesystem::path resolved(path);
  // A bounded walk: a loop of links ends here, and the writer then reports it.
  for (int hops = 0; hops < 16; ++hops) {
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(resolved, ec)) || ec) break;
    auto next = std::filesystem::read_symlink(resolved, ec);
    if (ec) break;
    resolved = next.is_absolute() ? next : resolved.parent_path() / next;
  }
  return resolved.string();
}

}  // namespace

void print_error_line(std::string_view command, std::string_view message) {
  std::fflush(stdout);  // what was printed before the error stays before it.
  fmt::print(stderr, "flowid {}: {}\n", command, message);
}

bool same_file(const std::string& a, const std::string& b) {
  if (a == "-" || b == "-") return false;
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

std::string output_names_input(const std::string& output, const std::vector<std::string>& inputs) {
  for (const auto& input : inputs) {
    if (same_file(output, input)) {
      return fmt::format(
          "{} is also an input ({}): refusing to overwrite it (choose another output path)", output,
          input);
    }
  }
  return {};
}

bool write_file_atomically(const std::string& path, std::string_view text, std::string* error) {
  if (path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      *error = fmt::format("standard output: {}", std::strerror(errno));
      return false;
    }
    return flush_stdout(error);
  }
  bool direct = false;
  const std::string target = resolve_target(path, &direct);
  if (direct) {
    int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write_all(fd, text);
    const int saved = errno;
    if (fd >= 0) ok = (::close(fd) == 0) && ok;
    if (ok) return true;
    *error = fmt::format("{}: cannot write: {}", path,
                         std::strerror(fd >= 0 && saved != 0 ? saved : errno));
    return false;
  }
  std::string temp;
  int fd = make_temp_beside(target, &temp);
  if (fd < 0) {
    *error = fmt::format("{}: cannot create a file beside it: {}", path, std::strerror(errno));
    return false;
  }
  bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  const int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (ok && ::rename(temp.c_str(), target.c_str()) == 0) return true;
  *error = fmt::format("{}: cannot write: {}", path, std::strerror(ok ? errno : saved));
  ::unlink(temp.c_str());
  return false;
}

PendingOutput::PendingOutput(std::string path, bool in_place) : path_(std::move(path)) {
  bool direct = in_place;
  if (path_ != "-") {
    bool device = false;
    path_ = resolve_target(path_, &device);
    direct = direct || device;
  }
  if (path_ == "-" || direct) {
    temp_path_ = path_;
    return;
  }
  int fd = make_temp_beside(path_, &temp_path_);
  if (fd >= 0) {
    ::close(fd);
  } else {
    temp_path_ = path_;  // the writer reports why it cannot write there.
  }
}

PendingOutput::~PendingOutput() {
  if (!committed_ && temp_path_ != path_) ::unlink(temp_path_.c_str());
}

bool PendingOutput::commit(std::string* error) {
  if (temp_path_ == path_) {
    committed_ = true;
    return true;
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    *error =
        fmt::format("{}: cannot move {} into place: {}", path_, temp_path_, std::strerror(errno));
    return false;
  }
  committed_ = true;
  return true;
}

bool flush_stdout(std::string* error) {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    *error = fmt::format("standard output: {}", errno != 0 ? std::strerror(errno) : "write failed");
    return false;
  }
  return true;
}

InputPath InputPath::resolve(const std::string& path, std::string* error) {
  InputPath input;
  if (path != "-") {
    input.path_ = path;
    return input;
  }
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  std::string pattern =
      ((ec ? std::filesystem::path("/tmp") : dir) / "flowid-stdin-XXXXXX").string();
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    *error =
        fmt::format("-: cannot make a temporary copy of standard input: {}", std::strerror(errno));
    return input;
  }
  input.path_ = pattern;
  input.temporary_ = true;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(0, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (n > 0 && !write_all(fd, std::string_view(buffer, static_cast<std::size_t>(n))))) {
      *error = fmt::format("-: cannot read standard input: {}", std::strerror(errno));
      ::close(fd);
      input.path_.clear();
      return input;
    }
    if (n == 0) break;
  }
  ::close(fd);
  return input;
}

InputPath::InputPath(InputPath&& other) noexcept
    : path_(std::move(other.path_)), temporary_(other.temporary_) {
  other.temporary_ = false;
}

InputPath& InputPath::operator=(InputPath&& other) noexcept {
  if (this != &other) {
    if (temporary_) ::unlink(path_.c_str());
    path_ = std::move(other.path_);
    temporary_ = other.temporary_;
    other.temporary_ = false;
  }
  return *this;
}

InputPath::~InputPath() {
  if (temporary_) ::unlink(path_.c_str());
}

std::optional<std::string> fixtures_dir(std::string* error) {
  if (const char* dir = std::getenv("FLOWID_FIXTURES"); dir != nullptr && *dir != '\0') {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      *error = fmt::format(
          "FLOWID_FIXTURES={}: not a folder (it names the bundled fixtures folder, the one "
          "holding scenarios/ and counterexamples/; unset it to use the bundled copy)",
          dir);
      return std::nullopt;
    }
  }
  return replay::default_fixtures_dir();
}

}  // namespace flowid::cli
