// `flowid fuzz --engine rapidcheck`: the rapidcheck stateful model (proptest/rc_model.h) as a
// fuzzing engine. cli/fuzz.cc parses the options and hands over here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/fuzz/faults.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"

namespace flowid::cli {

struct RapidcheckRun {
  fuzz::StrategyUnderTest strategy;
  fuzz::FaultSet plan = fuzz::kNoFaults;
  uint64_t seed = 1;
  uint64_t cases = 10000;
  bool swarm = true;
  std::string out_dir;
  bool json = false;
  bool expect_all = false;
  std::vector<scenario::Scenario> corpus;  // replayed first, like the default engine does.
};

// Exit codes as for `flowid fuzz`: 0 nothing found, 1 a violation or a corpus regression,
// 70 the model produced a schedule the runner refused (a flowid bug), 2 bad options.
int run_fuzz_rapidcheck(const RapidcheckRun& run);

}  // namespace flowid::cli
