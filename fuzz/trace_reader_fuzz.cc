// libFuzzer target: arbitrary bytes as a flowid trace (traces from the field are untrusted input,
// DESIGN §4). The reader must never crash, hang or read out of bounds: every problem becomes a
// TraceIssue. Small ReaderOptions limits let the fuzzer reach the bounds.
//
// Per input: one reader straight over libFuzzer's buffer (no copy, no file). Whether the footer
// digest is verified is taken from the input's size (even: verified) rather than reading every
// input twice: verification only adds the digest over the events read (the digest is taken here
// otherwise) and the comparison at the footer, and the fuzzer varies sizes all the time.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "trace/trace.h"

namespace {
// Named bound: events read from one input (a hostile chunk may claim many).
constexpr uint64_t kEventsMax = 1u << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flowid;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const bool verify = size % 2 == 0;
  trace::ReaderOptions options;
  options.traversal_limit_words = 1u << 16;
  options.chunk_bytes_max = 1u << 20;
  options.verify_digest = verify;
  auto reader = trace::memory_reader(bytes, options);
  Event event;
  uint64_t count = 0;
  uint64_t digest = trace::kDigestSeed;
  while (count < kEventsMax && reader->next(event)) {
    if (!verify) digest = trace::event_digest(digest, event);
    ++count;
  }
  (void)reader->footer();
  (void)reader->clean();
  (void)reader->stats();
  // Every issue points into the input and says something (as tests/trace_crash_test.cc checks);
  // describe() is one format call, exercised on the first.
  for (const auto& issue : reader->issues()) {
    if (issue.offset > size || issue.message.empty()) __builtin_trap();
  }
  if (!reader->issues().empty()) (void)trace::describe(reader->issues().front(), "fuzz");
  (void)digest;
  return 0;
}
