// Fixtures: scenarios compiled to traces (DESIGN §4). A compiled trace holds the world events of
// the scenario, for each flow the lookups that EVERY reference resolver makes (so that any of them
// can be replayed faithfully from it), interleaved with the races as they happened, and the
// verdicts of the scenario's record-with strategy. Its header names the scenario's processes and
// flows (labels), and its events carry the scenario's virtual time (one step time per step).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/fuzz/property.h"
#include "harness/scenario.h"
#include "trace/trace.h"

namespace flowid::replay {

// Header keys that carry the scenario's names: label.execution.PID.PIDVERSION = p2 names an
// execution, label.flow.ID = f1 a flow.
inline constexpr std::string_view kExecutionLabelPrefix = "label.execution.";
inline constexpr std::string_view kFlowLabelPrefix = "label.flow.";

struct CompiledScenario {
  trace::TraceHeader header;
  std::vector<Event> events;
};

// Runs every reference resolver (or launcher) over the scenario and merges their lookups.
// Errors ("FILE:LINE: ...") when the scenario does not run or record_with is unknown.
// With `recorder`, the trace records that strategy's own run (its seam calls, with the races
// interleaved between them, and its verdicts) instead of record_with's: a counterexample's trace
// then holds exactly the calls of the resolver or launcher that failed.
std::optional<CompiledScenario> compile_scenario(const scenario::Scenario& scenario,
                                                 std::string* error,
                                                 const fuzz::StrategyUnderTest* recorder = nullptr);

// Compiles and writes the trace. Errors name the output file.
bool write_compiled(const CompiledScenario& compiled, const std::string& path,
                    const trace::WriterOptions& options, std::string* error);

}  // namespace flowid::replay
