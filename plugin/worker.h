// The worker side of plugin isolation: the loop a worker process runs.
//
// A worker holds plugin instances and serves flowid's requests one at a time over its socket:
// create / destroy an instance, resolve, decide, launch (the plugin's seam calls go back to flowid
// as kSeamCall messages and are answered by flowid's own seams), or check a whole fuzz case (the
// scenario runs here with the plugin in this process and only the verdict goes back: one round
// trip per case). It ends when flowid closes the socket (exit 0) or sends something it cannot
// read (exit kWorkerProtocolError); a plugin's crash ends it with the plugin's signal.
#pragma once

#include <memory>

#include "harness/fuzz/property.h"
#include "plugin/bridge.h"

namespace flowid::plugin {

// Exit statuses of a worker that stops on its own (not the plugin's doing).
inline constexpr int kWorkerPeerGone = 0;
inline constexpr int kWorkerProtocolError = 113;
// Cases one kGenerate request may ask for at most.
inline constexpr uint64_t kGenerateBatchMax = 1u << 16;

// Serves requests on fd until flowid hangs up; never returns.
[[noreturn]] void worker_main(int fd, std::shared_ptr<const PluginModule> module);

// The plugin run in this process: a fresh PluginResolver (or PluginLauncher) per case.
fuzz::StrategyUnderTest in_process_strategy(std::shared_ptr<const PluginModule> module,
                                            bool launcher);

}  // namespace flowid::plugin
