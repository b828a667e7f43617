/* A plugin that crashes on the first flow it resolves: flowid must report it against the case
 * that triggered it, not crash itself. Used by tests/plugin_test.cc only. */
#include <flowid/plugin.h>
#include <signal.h>
#include <stddef.h>

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  (void)instance;
  (void)flow;
  (void)now_ns;
  (void)seam;
  (void)out;
  raise(SIGSEGV);
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "crashing", NULL, NULL, NULL, resolve, NULL, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
