/* launch_kernel_req_fallback: a kernel-checked launch with a check-then-spawn fallback.
 *
 * Mistake: the launcher uses the kernel-checked launch requirement (sound), but when that call
 * fails for a reason other than the requirement (EAGAIN, an older OS without launch
 * constraints), it falls back to checking the path and spawning it: the seed-003 race again,
 * reachable only after the first failure.
 * Real-world pattern: compatibility fallbacks (`if (@available(...)) ... else ...`, or "retry the
 * old way on error") around a new, safe API.
 * Faults needed: two. F8 (the kernel-checked spawn fails transiently) and F11 (the file is
 * swapped between the fallback's check and its exec). */
#include "zoo.h"

static int requirement_refusal(flowid_outcome o) {
  return o.domain == FLOWID_DOMAIN_OSSTATUS &&
         (o.code == FLOWID_SECCS_REQ_FAILED || o.code == FLOWID_SECCS_UNSIGNED ||
          o.code == FLOWID_SECCS_REQ_INVALID);
}

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  flowid_outcome o;
  (void)instance;
  (void)seam;
  out->method = "kernel-requirement";
  o = ls->spawn_with_requirement(ls->context, path, requirement, &out->execution);
  if (o.code != 0 && !requirement_refusal(o)) {
    /* The bug: the fallback is the racy check-then-spawn. */
    out->method = "check-then-spawn-fallback";
    o = ls->check_file(ls->context, path, requirement);
    if (o.code == 0) o = ls->spawn(ls->context, path, &out->execution);
  }
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
}

ZOO_PLUGIN("zoo_launch_kernel_req_fallback", NULL, NULL, zoo_token_resolve, NULL, launch)
