#include "cli/trace_io.h"

#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"

namespace flowid::cli {

std::unique_ptr<trace::TraceReader> open_trace(const std::string& path) {
  // "-": stdin, read as a stream (the reader takes a duplicate and closes it).
  auto reader = path == "-" ? trace::open_reader_fd(::dup(0), "-") : trace::open_reader(path);
  if (reader && reader->ok()) return reader;
  if (reader && !reader->issues().empty()) {
    for (const auto& issue : reader->issues()) {
      fmt::print(stderr, "flowid: {}\n", trace::describe(issue, path));
    }
  } else {
    fmt::print(stderr, "flowid: {}: cannot read trace\n", path);
  }
  return nullptr;
}

int report_read_issues(const trace::TraceReader& reader, const std::string& path) {
  for (const auto& issue : reader.issues()) {
    fmt::print(stderr, "flowid: {}\n", trace::describe(issue, path));
  }
  return reader.clean() ? kExitOk : kExitDamagedInput;
}

}  // namespace flowid::cli
