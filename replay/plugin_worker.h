// Crash and hang isolation for plugins: the plugin runs in a persistent worker process, flowid
// talks to it over a socket.
//
// A worker is forked from flowid once and then serves many calls: create an instance, resolve a
// flow, decide, launch, destroy the instance. flowid sends a request and then serves the seam
// calls the plugin makes while it handles it (each one a message to flowid, which asks its own
// C++ seam through CSeamTables and sends the answer back), until the reply arrives. So the
// simulated world, the oracle's observer and its seam call budget all stay in flowid's process,
// exactly as when the plugin runs in process, and every call runs once.
//
// When the worker dies during a call (a signal, or the plugin called exit) or does not answer
// within the time limit (it is then killed), the call throws std::runtime_error naming the plugin
// file, what it was doing and the signal ("plugin ./libmine.so crashed with signal 11
// (Segmentation fault) resolving flow 3"); the oracle reports that as an I7 finding for the flow or
// launch. The next call of that resolver or launcher starts a new worker and a fresh instance
// there (so plugin state from earlier flows of the same case is gone after a crash).
//
// Workers are pooled per plugin file and isolation options for the whole process: a resolver
// binds to a worker no other live resolver is bound to, or, at IsolationOptions::max_workers,
// shares the least busy one (calls on one worker are serialized). The workers stay until the
// process exits. Cost: a few socket round trips per call instead of a fork per flow.
#pragma once

#include <cstdint>
#include <memory>

#include "harness/plugin/plugin_resolver.h"
#include "harness/resolver.h"
#include "replay/plugin_loader.h"

namespace flowid::plugin {

// A resolver (or launcher, for a plugin with launch) whose plugin instance lives in a worker
// process of the pool for (module->file, options).
std::unique_ptr<Resolver> make_worker_resolver(std::shared_ptr<const PluginModule> module,
                                               const IsolationOptions& options);
std::unique_ptr<Launcher> make_worker_launcher(std::shared_ptr<const PluginModule> module,
                                               const IsolationOptions& options);

// How many worker processes this process has started so far (tests check that a run forks
// once, not once per flow).
uint64_t worker_processes_started();

}  // namespace flowid::plugin
