/* launch_spawn_then_check: spawns, then checks the running process and kills it if it fails.
 *
 * Mistake: the launcher checks the image the new process really runs (right object), but after
 * plain posix_spawn, not a suspended spawn: by the time it looks, the code has already run.
 * Killing it afterwards does not undo what it did.
 * Real-world pattern: "verify the child by its audit token" fixes of a check-then-spawn race that
 * forgot POSIX_SPAWN_START_SUSPENDED.
 * Faults needed: none beyond a program that does not satisfy the requirement: replaced on disk
 * (F5, as in the scenario) or never signed right (a baseline finding). */
#include "zoo.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  flowid_audit_token token;
  flowid_code_ref code = 0;
  flowid_outcome o;
  (void)instance;
  out->method = "spawn-then-check";
  /* The bug: the code runs before it is checked. */
  o = ls->spawn(ls->context, path, &token);
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  o = seam->guest_by_audit_token(seam->context, &token, &code);
  if (o.code == 0) o = seam->check_validity(seam->context, code, requirement);
  if (o.code != 0) {
    (void)ls->kill(ls->context, &token);
    out->refusal = o;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
  out->execution = token;
}

ZOO_PLUGIN("zoo_launch_spawn_then_check", NULL, NULL, zoo_token_resolve, NULL, launch)
