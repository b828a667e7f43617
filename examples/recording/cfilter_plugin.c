/* The C test filter's resolver as a flowid plugin, for `flowid replay --resolver libcfilter.so`
 * on the traces the filter recorded (tests/record_api_test.cc). It decides every verdict itself
 * (decide returns 1), as the filter did while recording. */
#include "cfilter_resolve.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* attribution) {
  (void)instance;
  (void)now_ns;
  cfilter_resolve(seam, flow, attribution);
}

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  *decision_out = cfilter_decision(attribution->status);
  return 1;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "cfilter", NULL, NULL, NULL, resolve, decide, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
