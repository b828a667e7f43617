// libFuzzer target for a user's own resolver or launcher plugin (include/flowid/plugin.h): the
// input bytes drive the compositional schedule generator (layout: harness/fuzz/fuzz_input.h), the
// plugin resolves every flow (or performs every launch) in the simulated world, and the oracle
// judges it. A violated invariant is a crash: the invariant, the scenario and the command that
// turns the crash input into a replayable scenario + trace are printed before aborting.
//
// The plugin comes from, in order:
//   - an object linked into this binary that defines flowid_plugin_entry (CMake:
//     -DFLOWID_PLUGIN_FUZZER_LINK=path/to/libmyresolver.a), found through a weak reference;
//   - the shared library named by the FLOWID_PLUGIN environment variable (dlopen'ed here, in
//     process: a crash in the plugin is a crash the engine reports).
// A plugin with a launch function gets launcher cases when bit 0 of the first byte is set,
// resolver cases otherwise. Its own signing identifiers (strings in the library file) are the
// generator's dictionary, as in `flowid fuzz --resolver`.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "flowid/plugin.h"
#include "harness/fuzz/fuzz_input.h"
#include "harness/fuzz/property.h"
#include "plugin/bridge.h"
#include "plugin/loader.h"
#include "plugin/pool.h"

extern "C" __attribute__((weak)) const flowid_plugin* flowid_plugin_entry(uint32_t host_abi);

namespace {

struct Target {
  std::string name;  // the --resolver / --launcher argument of the reproduce line.
  std::shared_ptr<const flowid::plugin::PluginModule> module;
  std::vector<std::string> identifiers;
};

[[noreturn]] void give_up(const std::string& why) {
  std::fprintf(stderr, "flowid_plugin_fuzzer: %s\n", why.c_str());
  std::exit(2);
}

Target load_target() {
  Target target;
  if (flowid_plugin_entry != nullptr) {
    const flowid_plugin* table = flowid_plugin_entry(FLOWID_PLUGIN_ABI_VERSION);
    std::string why;
    if (!flowid::plugin::validate_table(table, FLOWID_PLUGIN_ABI_VERSION, &why)) {
      give_up("the linked-in plugin: " + why);
    }
    auto module = std::make_shared<flowid::plugin::PluginModule>();
    module->file = "(linked in)";
    module->table = table;
    target.name = "PLUGIN.so";
    target.module = std::move(module);
    return target;
  }
  const char* path = std::getenv("FLOWID_PLUGIN");
  if (path == nullptr || *path == '\0') {
    give_up(
        "set FLOWID_PLUGIN to your plugin library (FLOWID_PLUGIN=./libmine.so), or link the "
        "plugin in (-DFLOWID_PLUGIN_FUZZER_LINK)");
  }
  std::string error;
  target.module = flowid::plugin::load_plugin(path, &error);
  if (!target.module) give_up(error);
  target.name = path;
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  target.identifiers = flowid::fuzz::identifiers_in(bytes, 32);
  return target;
}

// Loaded before the first input, where giving up is a plain exit rather than a failed input.
const Target* g_target = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static const Target target = load_target();
  g_target = &target;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flowid;
  using namespace flowid::fuzz;
  const Target& kTarget = *g_target;
  static const bool kCanLaunch = plugin::has_launch(*kTarget.module);
  static const StrategyUnderTest kResolver =
      plugin_strategy(kTarget.name, kTarget.module, nullptr, false);
  static const std::optional<StrategyUnderTest> kLauncher =
      kCanLaunch ? std::optional(plugin_strategy(kTarget.name, kTarget.module, nullptr, true))
                 : std::nullopt;
  const DecodedInput input = decode_fuzz_input(
      std::span(data, size), kCanLaunch ? std::nullopt : std::optional(false), kTarget.identifiers);
  const StrategyUnderTest& strategy = input.launchers ? *kLauncher : kResolver;
  const CaseVerdict v = check_scenario(input.generated.scenario, strategy);
  if (v.ran() && !v.failed()) return 0;
  const std::string text = scenario::format_scenario(input.generated.scenario);
  std::fprintf(stderr,
               "flowid_plugin_fuzzer: %s: %s\n%s\nreproduce: flowid fuzz --decode-input CRASH_FILE "
               "--%s %s\n",
               kTarget.name.c_str(),
               v.ran() ? ("violation: " + v.first_violation).c_str()
                       : ("generated schedule does not run (a flowid bug): " + v.error).c_str(),
               text.c_str(), input.launchers ? "launcher" : "resolver", kTarget.name.c_str());
  std::abort();
}
