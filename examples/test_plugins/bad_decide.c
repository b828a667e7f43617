/* A plugin whose decide breaks the contract: it answers decision 7 (not ALLOW, DROP or ASK) for
 * odd flow ids and crashes (SIGSEGV) deciding even ones. flowid must report both against the
 * flow, not act on 7 or crash itself. Used by tests/plugin_test.cc only. */
#include <signal.h>

#include "token_resolve.h"

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)attribution;
  if (flow->flow_id % 2 == 0) raise(SIGSEGV);
  *decision_out = 7;
  return 1;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "bad-decide", NULL, NULL, NULL, token_resolve, decide, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
