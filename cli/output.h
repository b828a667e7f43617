// Where every subcommand's results go, and how its errors are worded.
//
// Nothing a user had is lost and nothing is silently green: an output path that names one of
// the command's inputs is refused before anything is read; every output file is written to a
// temporary file beside its target and renamed into place only once it is complete and flushed
// (a failed or interrupted run leaves the previous file as it was); every write is checked, and
// a write that fails is an error with a non-zero exit (kExitInputError, like an unwritable
// output anywhere else). "-" names standard input for inputs and standard output for outputs.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowid::cli {

// "flowid COMMAND: message" on stderr: the one error prefix of every subcommand.
void print_error_line(std::string_view command, std::string_view message);
template <typename... Args>
void print_error(std::string_view command, fmt::format_string<Args...> format, Args&&... args) {
  print_error_line(command, fmt::format(format, std::forward<Args>(args)...));
}

// True when both paths name the same existing file (after links and relative paths).
bool same_file(const std::string& a, const std::string& b);

// The error for an output path that names one of the inputs ("" when it names none):
// "OUT is also an input: refusing to overwrite it (choose another output path)".
std::string output_names_input(const std::string& output, const std::vector<std::string>& inputs);

// Writes text to path through a temporary file and a rename ("-": standard output, flushed and
// checked). False with *error naming the file and the system's reason.
bool write_file_atomically(const std::string& path, std::string_view text, std::string* error);

// An output written by code that takes a path (trace writers): it writes temp_path(), and
// commit() renames that into place. Without a commit the temporary file is removed. in_place:
// write the target itself (temp_path() == path()), for a streaming output whose readers watch it
// grow (an import from a pipe flushes its events to the file while it waits for more).
class PendingOutput final {
 public:
  explicit PendingOutput(std::string path, bool in_place = false);
  ~PendingOutput();
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // Renames the finished temporary file onto path(); false with *error naming both.
  bool commit(std::string* error);

 private:
  std::string path_;
  std::string temp_path_;
  bool committed_ = false;
};

// Flushes standard output; false (with *error) when anything written to it was lost (a full
// disk, a closed pipe). main() calls it after every subcommand.
bool flush_stdout(std::string* error);

// An input named "-" is standard input. Commands that open their inputs more than once (replay
// reads a trace once per strategy) first copy standard input to a temporary file, removed when
// the returned object goes away; other paths are returned as they are.
class InputPath final {
 public:
  // Empty path() and *error set when standard input could not be read.
  static InputPath resolve(const std::string& path, std::string* error);
  InputPath() = default;
  InputPath(InputPath&& other) noexcept;
  InputPath& operator=(InputPath&& other) noexcept;
  ~InputPath();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool temporary_ = false;
};

// The bundled fixtures folder: $FLOWID_FIXTURES when set (an error when it is not a folder:
// a typo must not silently skip the fixtures), else the installed or source-tree copy.
std::optional<std::string> fixtures_dir(std::string* error);

}  // namespace flowid::cli
