// Opening traces for subcommands, with the errors every subcommand reports the same way.
#pragma once

#include <memory>
#include <string>

#include "trace/trace.h"

namespace flowid::cli {

// Opens path ("-": stdin). When nothing can be read, prints "flowid: FILE: at byte N ...: why" to
// stderr and returns null.
std::unique_ptr<trace::TraceReader> open_trace(const std::string& path);

// After reading: prints every issue the reader met to stderr, one line each, naming the file,
// the byte offset and the chunk. Returns kExitOk for a clean trace, kExitDamagedInput otherwise.
int report_read_issues(const trace::TraceReader& reader, const std::string& path);

}  // namespace flowid::cli
