// The one canonical digest of an event sequence.
//
// Every field of every event goes into it (harness/event_digest.cc defines the encoding), so two
// runs with the same digest produced the same events, field for field. The trace footer stores it
// (it is part of the trace format: changing the encoding breaks every recorded trace), and the
// fuzzer's determinism check (I6) compares it between two runs of a case.
#pragma once

#include <cstdint>

#include "harness/model.h"

namespace flowid {

// Folds one event into `state`. Two runs that produce the same events produce the same digest on
// every platform. Start a sequence from kDigestSeed.
uint64_t event_digest(uint64_t state, const Event& event);
inline constexpr uint64_t kDigestSeed = 0x666c6f7769640001ULL;

}  // namespace flowid
