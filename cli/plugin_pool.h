// Where the CLI decides how plugins run: the isolation settings from the environment, and the one
// WorkerPool a command makes (before it starts threads) and passes to what makes resolvers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plugin/pool.h"

namespace flowid::cli {

// FLOWID_PLUGIN_TIMEOUT_MS: the per-call limit (default 10000). FLOWID_PLUGIN_WHOLE_CASES=0: fuzz
// cases go to the worker call by call instead of whole.
plugin::IsolationOptions isolation_from_environment();

// The pool for a command that runs the named strategies (names or plugin paths): null when none
// is a plugin path, or when FLOWID_PLUGIN_ISOLATION=0 (plugins then run in flowid's process).
std::unique_ptr<plugin::WorkerPool> plugin_pool_for(const std::vector<std::string>& names);

}  // namespace flowid::cli
