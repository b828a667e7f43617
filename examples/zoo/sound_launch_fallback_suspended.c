/* sound_launch_fallback_suspended (SOUND launcher): kernel-checked launch, with a suspended spawn
 * as the fallback.
 *
 * Like launch_kernel_req_fallback, but the fallback for a kernel-checked spawn that fails for a
 * reason other than the requirement is a suspended spawn whose running image is checked (guest by
 * audit token + check validity) before it is resumed; any error kills it. No code runs unchecked
 * on either path. Its resolver is token-only. Must produce no violation anywhere. */
#include "zoo.h"

static int requirement_refusal(flowid_outcome o) {
  return o.domain == FLOWID_DOMAIN_OSSTATUS &&
         (o.code == FLOWID_SECCS_REQ_FAILED || o.code == FLOWID_SECCS_UNSIGNED ||
          o.code == FLOWID_SECCS_REQ_INVALID);
}

static void suspended(const char* path, const char* requirement, const flowid_seam* seam,
                      const flowid_launch_seam* ls, flowid_launch_result* out) {
  flowid_audit_token token;
  flowid_code_ref code = 0;
  flowid_outcome o = ls->spawn_suspended(ls->context, path, &token);
  out->method = "spawn-suspended-check-resume";
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  o = seam->guest_by_audit_token(seam->context, &token, &code);
  if (o.code == 0) o = seam->check_validity(seam->context, code, requirement);
  if (o.code == 0) o = ls->resume(ls->context, &token);
  if (o.code != 0) {
    (void)ls->kill(ls->context, &token);
    out->refusal = o;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
  out->execution = token;
}

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  flowid_outcome o;
  (void)instance;
  out->method = "kernel-requirement";
  o = ls->spawn_with_requirement(ls->context, path, requirement, &out->execution);
  if (o.code == 0) {
    out->launched = 1;
    out->has_execution = 1;
    return;
  }
  if (requirement_refusal(o)) {
    out->refusal = o;
    return;
  }
  suspended(path, requirement, seam, ls, out);
}

ZOO_PLUGIN("zoo_sound_launch_fallback_suspended", NULL, NULL, zoo_token_resolve, NULL, launch)
