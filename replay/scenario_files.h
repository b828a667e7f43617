// Loading scenario files from disk (the parser in harness/scenario.h is pure).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "harness/scenario.h"

namespace flowid::replay {

// Reads and parses a scenario file; a `rules FILE` line is resolved relative to the scenario's
// folder and loaded. Errors are "FILE:LINE: what".
std::optional<scenario::Scenario> load_scenario(const std::string& path, std::string* error);

// The *.scenario files in a folder, sorted by name.
std::vector<std::string> scenario_files(const std::string& folder);

// Where the bundled fixtures are: $FLOWID_FIXTURES; else, for an installed flowid, the copy
// cmake --install put under DATADIR/flowid/fixtures, found relative to the running executable
// (BINDIR/../share/flowid/fixtures by default, so a moved prefix still works and the source tree
// is not needed); else the source tree's fixtures/ folder as configured at build time (a flowid
// run from its build tree).
std::string default_fixtures_dir();

}  // namespace flowid::replay
