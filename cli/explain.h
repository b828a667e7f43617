// What `flowid explain` loads before it draws (cli/explain_view.h draws): a trace or a scenario,
// model-replayed with the resolver being explained so the view shows that resolver's own seam
// calls, verdicts and the oracle's findings. Shared with `flowid fuzz` and `flowid explore`,
// which print the short form after each counterexample they write.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/explain_view.h"
#include "harness/fuzz/property.h"

namespace flowid::cli {

// A trace's events model-replayed with `strategy` (a resolver). Errors name the file.
// *damaged is set when the trace was read only in part (what was readable is explained).
std::optional<ExplainInput> explain_trace_input(const std::string& path,
                                                const fuzz::StrategyUnderTest& strategy,
                                                std::string* error, bool* damaged = nullptr);

// The short form of a counterexample's trace, each line indented by two spaces, ready to print;
// one line saying why when it cannot be explained (a launcher's counterexample, an unreadable
// trace).
std::vector<std::string> short_explanation(const std::string& trace_path,
                                           const fuzz::StrategyUnderTest& strategy);

}  // namespace flowid::cli
