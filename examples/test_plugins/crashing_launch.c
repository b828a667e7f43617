/* A launcher plugin that crashes (SIGSEGV) in launch: flowid must report an I7 finding for the
 * launch that triggered it, not crash. Used by tests/plugin_test.cc only. */
#include <signal.h>

#include "token_resolve.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* launch_seam,
                   flowid_launch_result* out) {
  (void)instance;
  (void)path;
  (void)requirement;
  (void)seam;
  (void)launch_seam;
  (void)out;
  raise(SIGSEGV);
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "crashing-launch", NULL, NULL, NULL, token_resolve, NULL, launch};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
