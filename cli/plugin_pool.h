// Where the CLI decides how plugins run: the isolation settings from the environment, and the one
// WorkerPool a command makes (before it starts threads) and passes to what makes resolvers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/fuzz/property.h"
#include "plugin/pool.h"

namespace flowid::cli {

// FLOWID_PLUGIN_TIMEOUT_MS: the per-call limit (default 10000). FLOWID_PLUGIN_WHOLE_CASES=0: fuzz
// cases go to the worker call by call instead of whole.
plugin::IsolationOptions isolation_from_environment();

// The pool for a command that runs the named strategies (names or plugin paths): null when none
// is a plugin path, or when FLOWID_PLUGIN_ISOLATION=0 (plugins then run in flowid's process).
std::unique_ptr<plugin::WorkerPool> plugin_pool_for(const std::vector<std::string>& names);

// The strategy under test for a command that takes --resolver/--strategy or --launcher: a
// reference strategy by name, or a plugin file (loaded once, a fresh instance per case). On an
// unknown name *error reads "unknown RESOLVER_WORD|launcher 'NAME' (flowid COMMAND --help lists
// them)".
std::optional<fuzz::StrategyUnderTest> strategy_under_test(const std::string& name, bool launcher,
                                                           plugin::WorkerPool* pool,
                                                           std::string_view command,
                                                           std::string_view resolver_word,
                                                           std::string* error);

// Signing identifiers named in a plugin file (fuzz::identifiers_in over its bytes, at most `max`);
// none for a reference strategy's name.
std::vector<std::string> plugin_identifiers(const std::string& name, std::size_t max);

}  // namespace flowid::cli
