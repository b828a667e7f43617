/* A launcher plugin with seed 003's time-of-check/time-of-use hole: check the file at the path,
 * then spawn the path. A file swapped between the two runs unchecked code: the oracle must report
 * I5 (F11) and the fuzzer must find it. Used by tests/plugin_test.cc only. */
#include "token_resolve.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* launch_seam,
                   flowid_launch_result* out) {
  flowid_outcome outcome;
  (void)instance;
  (void)seam;
  out->method = "check-then-spawn";
  outcome = launch_seam->check_file(launch_seam->context, path, requirement);
  if (outcome.code == 0) outcome = launch_seam->spawn(launch_seam->context, path, &out->execution);
  if (outcome.code != 0) {
    out->refusal = outcome;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "launch-toctou", NULL, NULL, NULL, token_resolve, NULL, launch};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
