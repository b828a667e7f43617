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
#include "harness/plugin/plugin_resolver.h"
#include "harness/resolver.h"

namespace flowid::plugin {

// True when name_or_path names a plugin file rather than a reference strategy.
bool looks_like_plugin_path(const std::string& name_or_path);

// Loads and checks a plugin; null with *error set on failure.
std::shared_ptr<const PluginModule> load_plugin(const std::string& path, std::string* error);

// Crash and hang isolation. A plugin is the user's code, loaded into flowid's process: a crash
// or an endless loop in it must become a finding against the flow (and so the trace or fuzz case)
// that triggered it, not a dead or stuck flowid. With isolation on, the plugin's instances live
// in a persistent worker process (replay/plugin_worker.h): every call into the plugin (create,
// resolve, decide, launch, destroy) is a request to the worker, whose seam calls come back to
// flowid's process and are answered there. A worker killed by a signal, or still busy at the time
// limit (then killed), makes the call throw, which the oracle reports as an I7 (totality)
// violation naming the plugin, the flow or launch and the signal; the fuzzer adds its reproduce
// command. The next call starts a new worker.
struct IsolationOptions {
  bool enabled = true;
  uint32_t resolve_timeout_ms = 10000;  // per call (one resolve, decide or launch).
  // Worker processes per plugin at most; beyond that, resolvers share workers.
  uint32_t max_workers = 16;
};

// The options from the environment: FLOWID_PLUGIN_ISOLATION=0 turns isolation off,
// FLOWID_PLUGIN_TIMEOUT_MS sets the per-call limit.
IsolationOptions isolation_from_environment();

// A fresh plugin resolver, wrapped for isolation when options.enabled.
std::unique_ptr<Resolver> make_plugin_resolver(std::shared_ptr<const PluginModule> module,
                                               const IsolationOptions& options);

// A fresh plugin launcher (module must have a launch function), wrapped for isolation when
// options.enabled.
std::unique_ptr<Launcher> make_plugin_launcher(std::shared_ptr<const PluginModule> module,
                                               const IsolationOptions& options);

// load_plugin, plus: the table must have a launch function ("FILE: not a launcher plugin ...").
std::shared_ptr<const PluginModule> load_launcher_plugin(const std::string& path, std::string* error);

// The name a resolver or launcher goes by in file names (golden files): a reference strategy's
// name as it is, a plugin path's file stem ("./build/libmine.so" -> "libmine"), never a '/'.
std::string file_safe_name(const std::string& name_or_path);

}  // namespace flowid::plugin

namespace flowid {

// A fresh resolver: a reference strategy by name, or an instance of the plugin at a path. Null
// with *error set ("unknown resolver 'x' (known: ...)" or the loader's message) on failure.
// Each call makes a new resolver with fresh state; a plugin library is loaded again each time
// (the dynamic loader shares one copy per process).
std::unique_ptr<Resolver> resolver_for(const std::string& name_or_path, std::string* error);

// A fresh launcher: a reference launcher by name, or an instance of a launcher plugin (one whose
// table has launch) at a path. Null with *error set on failure.
std::unique_ptr<Launcher> launcher_for(const std::string& name_or_path, std::string* error);

// The launcher under test for `flowid fuzz --launcher`: a reference launcher by name, or a
// launcher plugin (loaded once, a fresh instance per case).
std::optional<fuzz::StrategyUnderTest> launcher_strategy_for(const std::string& name_or_path,
                                                             std::string* error);

// The strategy under test for `flowid fuzz` / corpus replay: a reference strategy by name, or a
// plugin (loaded once, a fresh instance per case). nullopt with *error set on failure.
std::optional<fuzz::StrategyUnderTest> strategy_for(const std::string& name_or_path,
                                                    std::string* error);

}  // namespace flowid
