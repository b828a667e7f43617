#include <fmt/format.h>

#include "trace/trace.h"

namespace flowid::trace {

std::string_view name_of(TraceIssue::Kind kind) {
  switch (kind) {
    case TraceIssue::Kind::kNotATrace:
      return "not-a-trace";
    case TraceIssue::Kind::kNewerFormat:
      return "newer-format";
    case TraceIssue::Kind::kTruncated:
      return "truncated";
    case TraceIssue::Kind::kDamagedChunk:
      return "damaged-chunk";
    case TraceIssue::Kind::kMissingFooter:
      return "missing-footer";
  }
  return "invalid";
}

std::string describe(const TraceIssue& issue, std::string_view file) {
  return fmt::format("{}: at byte {} (chunk {}): {}: {}", file, issue.offset, issue.chunk_index,
                     name_of(issue.kind), issue.message);
}

}  // namespace flowid::trace
