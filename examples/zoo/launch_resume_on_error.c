/* launch_resume_on_error: spawns suspended and checks, but resumes when the check errs.
 *
 * Mistake: the launcher spawns the program suspended and checks the running image, the sound
 * way, but only a definite "does not satisfy" (errSecCSReqFailed, unsigned) kills it. Any other
 * error from the Security framework (errSecCSNoSuchCode under load, an invalid handle) resumes
 * the process, so as not to fail the user's launch on a flaky API.
 * Real-world pattern: `if (status == errSecCSReqFailed) kill(); else resume();` error handling.
 * Faults needed: F8 (a transient failure of the lookup of the suspended process), while the
 * program on disk does not satisfy the requirement: replaced (F5, as in the scenario) or never
 * signed right, which is what the requirement is there to refuse and needs no fault. */
#include "zoo.h"

static int definite_refusal(flowid_outcome o) {
  return o.domain == FLOWID_DOMAIN_OSSTATUS &&
         (o.code == FLOWID_SECCS_REQ_FAILED || o.code == FLOWID_SECCS_UNSIGNED);
}

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  flowid_audit_token token;
  flowid_code_ref code = 0;
  flowid_outcome o;
  (void)instance;
  out->method = "spawn-suspended-check";
  o = ls->spawn_suspended(ls->context, path, &token);
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  o = seam->guest_by_audit_token(seam->context, &token, &code);
  if (o.code == 0) o = seam->check_validity(seam->context, code, requirement);
  /* The bug: only a definite refusal kills; an error resumes unchecked code. */
  if (definite_refusal(o) || ls->resume(ls->context, &token).code != 0) {
    (void)ls->kill(ls->context, &token);
    out->refusal = o;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
  out->execution = token;
}

ZOO_PLUGIN("zoo_launch_resume_on_error", NULL, NULL, zoo_token_resolve, NULL, launch)
