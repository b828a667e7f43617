// Loading a user's resolver plugin (include/flowid/plugin.h) from a shared library, and the one
// place the CLI turns `--resolver NAME-OR-PATH` into a resolver.
//
// A value that contains a '/' or ends in ".so" / ".dylib" is a plugin path; anything else is a
// reference strategy's name. Loading opens the library (dlopen, RTLD_NOW | RTLD_LOCAL), finds
// flowid_plugin_entry, asks it for the table with this host's ABI version and checks the answer;
// every failure is an error message that names the file ("libmine.so: plugin ABI 2, this flowid
// speaks 1"). The library stays loaded while any resolver made from it exists.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "harness/fuzz/property.h"
#include "harness/resolver.h"
#include "plugin/bridge.h"
#include "plugin/pool.h"

namespace flowid::plugin {

// True when name_or_path names a plugin file rather than a reference strategy.
bool looks_like_plugin_path(const std::string& name_or_path);

// Loads and checks a plugin; null with *error set on failure.
std::shared_ptr<const PluginModule> load_plugin(const std::string& path, std::string* error);

// load_plugin, plus: the table must have a launch function ("FILE: not a launcher plugin ...").
std::shared_ptr<const PluginModule> load_launcher_plugin(const std::string& path,
                                                         std::string* error);

// The name a resolver or launcher goes by in file names (golden files): a reference strategy's
// name as it is, a plugin path's file stem ("./build/libmine.so" -> "libmine"), never a '/'.
std::string file_safe_name(const std::string& name_or_path);

}  // namespace flowid::plugin

namespace flowid {

// In all of these, `pool` is where plugin instances run isolated (plugin/pool.h); null runs
// plugins in this process. The command makes the pool (cli/plugin_pool.cc reads the environment).

// A fresh resolver: a reference strategy by name, or an instance of the plugin at a path. Null
// with *error set ("unknown resolver 'x' (known: ...)" or the loader's message) on failure.
// Each call makes a new resolver with fresh state; a plugin library is loaded again each time
// (the dynamic loader shares one copy per process).
std::unique_ptr<Resolver> resolver_for(const std::string& name_or_path, plugin::WorkerPool* pool,
                                       std::string* error);

// A fresh launcher: a reference launcher by name, or an instance of a launcher plugin (one whose
// table has launch) at a path. Null with *error set on failure.
std::unique_ptr<Launcher> launcher_for(const std::string& name_or_path, plugin::WorkerPool* pool,
                                       std::string* error);

// The launcher under test for `flowid fuzz --launcher`: a reference launcher by name, or a
// launcher plugin (loaded once, a fresh instance per case). With a pool whose options have
// whole_cases, each case runs whole in a worker (StrategyUnderTest::check_elsewhere).
std::optional<fuzz::StrategyUnderTest> launcher_strategy_for(const std::string& name_or_path,
                                                             plugin::WorkerPool* pool,
                                                             std::string* error);

// A loaded plugin as the strategy under test: a fresh instance per case, in a worker of pool (the
// whole case there when the pool's options say so) or, with a null pool, in this process.
fuzz::StrategyUnderTest plugin_strategy(const std::string& name,
                                        std::shared_ptr<const plugin::PluginModule> module,
                                        plugin::WorkerPool* pool, bool launcher);

// The strategy under test for `flowid fuzz` / corpus replay: a reference strategy by name, or a
// plugin (loaded once, a fresh instance per case). nullopt with *error set on failure.
std::optional<fuzz::StrategyUnderTest> strategy_for(const std::string& name_or_path,
                                                    plugin::WorkerPool* pool, std::string* error);

}  // namespace flowid
