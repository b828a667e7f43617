/* A plugin that decides its own verdicts (the decide entry): anything it could not verify is
 * dropped, stricter than the fixtures' policies (which ask for unverified claims); verified flows
 * are left to flowid's rules (decide returns 0). Sound: the oracle must find nothing. Used by
 * tests/plugin_test.cc only. */
#include "token_resolve.h"

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  if (attribution->status == FLOWID_STATUS_VERIFIED) return 0; /* the rule file decides. */
  *decision_out = FLOWID_DECISION_DROP;
  return 1;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "deciding", NULL, NULL, NULL, token_resolve, decide, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
