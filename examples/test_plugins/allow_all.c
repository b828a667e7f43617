/* A plugin whose decide lets every flow through, whatever the rules say: the fail-open mistake.
 * Its resolver is sound, so every finding is the decision's: the oracle must report I4 where a
 * deny rule names the flow's program. Used by tests/plugin_test.cc only. */
#include "token_resolve.h"

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  (void)attribution;
  *decision_out = FLOWID_DECISION_ALLOW;
  return 1;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "allow-all", NULL, NULL, NULL, token_resolve, decide, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
