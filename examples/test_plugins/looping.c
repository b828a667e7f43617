/* A plugin that asks the seam the same question until it gets an error: flowid's per-flow bound
 * on seam calls must stop it (every call then answers FLOWID_KERN_ABORTED) and report an I7
 * finding, without an exception crossing this C code. Used by tests/plugin_test.cc only. */
#include <flowid/plugin.h>
#include <stddef.h>

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  flowid_outcome outcome;
  (void)instance;
  (void)now_ns;
  do {
    outcome = seam->kill_zero(seam->context, flow->proc_pid);
  } while (outcome.code == 0 || outcome.code == FLOWID_OSSTATUS_ESRCH ||
           outcome.code == FLOWID_ERRNO_ESRCH);
  out->status = outcome.code == FLOWID_KERN_ABORTED ? FLOWID_STATUS_UNKNOWN : FLOWID_STATUS_GONE;
  out->method = "looping";
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "looping", NULL, NULL, NULL, resolve, NULL, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
