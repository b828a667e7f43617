/* A plugin built for a future ABI (version 2): flowid must refuse it with a clear error. Used by
 * tests/plugin_test.cc only. */
#include <flowid/plugin.h>
#include <stddef.h>

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  (void)instance;
  (void)flow;
  (void)now_ns;
  (void)seam;
  out->status = FLOWID_STATUS_UNKNOWN;
}

static const flowid_plugin kPlugin = {2u, "from-the-future", NULL, NULL, NULL, resolve, NULL, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
