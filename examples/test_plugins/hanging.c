/* A plugin that never returns from resolve: flowid must kill it after its time limit and report
 * the flow, not hang. Used by tests/plugin_test.cc only. */
#include <flowid/plugin.h>
#include <stddef.h>

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  volatile int forever = 1;
  (void)instance;
  (void)flow;
  (void)now_ns;
  (void)seam;
  while (forever) {
  }
  out->status = FLOWID_STATUS_UNKNOWN;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "hanging", NULL, NULL, NULL, resolve, NULL, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
