// Shrinking a failing case to a minimal schedule that still fails the same invariant.
//
// Delta debugging (Zeller's ddmin, simplified to chunk removal) over the schedule, in passes
// repeated until none makes progress:
//   1. remove chunks of top-level steps (halves, quarters, ... single steps) — a step whose
//      removal breaks the script (a spawn a later exit names) makes the candidate not run, and a
//      candidate that does not run is rejected, so the schedule stays valid without a separate
//      dependency analysis;
//   2. remove single races of a resolution, then move the remaining ones to earlier seam calls;
//   2b. remove dependent pairs together: two world changes about the same process or file (a
//      swap and the swap back, an exit as a zombie and its reap), wherever they sit;
//   2c. when nothing else shrinks, move races out of their resolution to just before it (same
//      size, but a resolution that only hosted a newcomer's spawn can then go);
//   3. remove rules, one at a time;
//   4. simplify values: the world back to defaults (sequential pids, unsandboxed caller), the
//      policy back to defaults, step options removed one at a time.
// A candidate is kept when it runs and still violates the target invariant (the most severe one
// the original violated). Every candidate costs one run; runs_max bounds the work.
#pragma once

#include <cstdint>

#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"

namespace flowid::fuzz {

struct ShrinkOptions {
  uint32_t runs_max = 3000;  // candidate runs, in total.
  OracleOptions oracle;
};

struct ShrinkResult {
  GeneratedCase shrunk;
  CaseVerdict verdict;  // of the shrunk case.
  Invariant target = Invariant::kI1VerifiedIsCorrect;
  uint32_t runs = 0;  // candidates tried.
  std::size_t original_size = 0;
  std::size_t shrunk_size = 0;  // schedule_size() of the shrunk scenario.
};

// Shrinks a failing case. A case that does not fail is returned unchanged.
ShrinkResult shrink_case(const GeneratedCase& failing, const StrategyUnderTest& strategy,
                         const ShrinkOptions& options = {});

}  // namespace flowid::fuzz
