// libFuzzer target: arbitrary bytes as a flowid trace (traces from the field are untrusted input,
// DESIGN §4). The reader must never crash, hang or read out of bounds: every problem becomes a
// TraceIssue. Small ReaderOptions limits let the fuzzer reach the bounds.
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
  for (bool verify : {true, false}) {
    trace::ReaderOptions options;
    options.traversal_limit_words = 1u << 16;
    options.chunk_bytes_max = 1u << 20;
    options.verify_digest = verify;
    auto reader = trace::memory_reader(bytes, options);
    Event event;
    uint64_t count = 0;
    uint64_t digest = trace::kDigestSeed;
    while (count < kEventsMax && reader->next(event)) {
      digest = trace::event_digest(digest, event);
      ++count;
    }
    (void)reader->footer();
    (void)reader->clean();
    for (const auto& issue : reader->issues()) (void)trace::describe(issue, "fuzz");
    (void)digest;
  }
  return 0;
}
