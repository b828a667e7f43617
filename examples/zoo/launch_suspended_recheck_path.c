/* launch_suspended_recheck_path: spawns suspended, then re-checks the PATH before resuming.
 *
 * Mistake: the launcher checks the file, spawns it suspended, and "to close the race" checks the
 * file at the path once more before resuming. The second check is of the path, not of the image
 * the suspended process maps: a swap before the spawn and a swap back before the re-check pass
 * both checks while the swapped code runs.
 * Real-world pattern: double-checking the path around posix_spawn, believed equivalent to
 * checking the process (SecStaticCode by URL vs SecCode by audit token).
 * Faults needed: F11 twice: the file swapped before the spawn and put back before the re-check. */
#include "zoo.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  flowid_audit_token token;
  flowid_outcome o;
  (void)instance;
  (void)seam;
  out->method = "check-spawn-suspended-recheck-path";
  o = ls->check_file(ls->context, path, requirement);
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  o = ls->spawn_suspended(ls->context, path, &token);
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  /* The bug: the path is checked again, not the suspended process's image. */
  o = ls->check_file(ls->context, path, requirement);
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

ZOO_PLUGIN("zoo_launch_suspended_recheck_path", NULL, NULL, zoo_token_resolve, NULL, launch)
