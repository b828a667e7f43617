// The body every importer fuzz target shares: arbitrary bytes through one importer, strict and
// lenient, into an in-memory trace that must then read back cleanly (the importer never writes a
// broken trace) with the event and skipped-record counts it reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "import/import.h"
#include "trace/trace.h"

namespace flowid::fuzzing {

inline int import_one_input(const uint8_t* data, size_t size, import::Format format) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool lenient : {false, true}) {
    import::ImportOptions options;
    options.lenient = lenient;
    // Small limits so the fuzzer reaches the bounds (long lines, big records, full windows).
    options.limits.line_bytes_max = 4096;
    options.limits.json_record_bytes_max = 8192;
    options.limits.auditd_open_events_max = 4;
    options.limits.exited_executions_remembered = 4;
    options.limits.pending_untimed_events_max = 8;
    std::string bytes;
    import::ImportStats stats;
    import::ImportStatus status =
        import::import_bytes(input, format, options, &bytes, stats, "fuzz");
    if (status == import::ImportStatus::kOutputFailed) std::abort();
    auto reader = trace::memory_reader(bytes);
    Event event;
    uint64_t events = 0;
    while (reader->next(event)) ++events;
    if (!reader->clean() || events != stats.events) std::abort();
    if (lenient && (status != import::ImportStatus::kOk ||
                    reader->footer()->skipped_records != stats.skipped_records)) {
      std::abort();
    }
  }
  return 0;
}

}  // namespace flowid::fuzzing
