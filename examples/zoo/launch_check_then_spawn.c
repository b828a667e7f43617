/* launch_check_then_spawn: checks the file at the path, then spawns the path.
 *
 * Mistake: SecStaticCodeCheckValidity on the path, then posix_spawn of the same path. The check
 * and the exec open the file separately; whoever can write the directory can swap the file in
 * between (seed 003).
 * Real-world pattern: privileged helpers and MDM agents that "verify before running" a tool in
 * a user-writable location.
 * Faults needed: F11 (the file is swapped between check and exec). */
#include "zoo.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  flowid_outcome o;
  (void)instance;
  (void)seam;
  out->method = "check-then-spawn";
  o = ls->check_file(ls->context, path, requirement);
  if (o.code == 0) o = ls->spawn(ls->context, path, &out->execution);
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
}

ZOO_PLUGIN("zoo_launch_check_then_spawn", NULL, NULL, zoo_token_resolve, NULL, launch)
