/* A launcher plugin (the launch entry): spawn the program suspended, check the image the new
 * execution really runs against the requirement through the seam, then resume it, or kill it.
 * The same calls as flowid's spawn-suspended-check-resume strategy, written against the C seams:
 * sound, so the oracle must find nothing. Its resolver is token-only. Used by
 * tests/plugin_test.cc only. */
#include "token_resolve.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* launch_seam,
                   flowid_launch_result* out) {
  flowid_audit_token token;
  flowid_code_ref code = 0;
  flowid_outcome outcome;
  (void)instance;
  out->method = "spawn-suspended-check-resume";
  outcome = launch_seam->spawn_suspended(launch_seam->context, path, &token);
  if (outcome.code != 0) {
    out->refusal = outcome;
    return;
  }
  outcome = seam->guest_by_audit_token(seam->context, &token, &code);
  if (outcome.code == 0) outcome = seam->check_validity(seam->context, code, requirement);
  if (outcome.code == 0) outcome = launch_seam->resume(launch_seam->context, &token);
  if (outcome.code != 0) {
    (void)launch_seam->kill(launch_seam->context, &token);
    out->refusal = outcome;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
  out->execution = token;
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "launching", NULL, NULL, NULL, token_resolve, NULL, launch};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
