/* launch_copy_runs_original: copies the program somewhere private, checks the copy, runs the
 * original.
 *
 * Mistake: the launcher knows about the check/exec race and copies the program to a directory
 * only it can write, checks the copy, and then (a slip in a refactor) spawns the original path
 * rather than the copy. The check is of a file that never runs.
 * Real-world pattern: "copy to a private location" mitigations where the path variable passed to
 * posix_spawn is the caller's, not the copy's.
 * Faults needed: F11 (the original is swapped after the copy was made). */
#include "zoo.h"

static void launch(void* instance, const char* path, const char* requirement,
                   const flowid_seam* seam, const flowid_launch_seam* ls,
                   flowid_launch_result* out) {
  const char* copy = NULL;
  size_t copy_len = 0;
  flowid_outcome o;
  (void)instance;
  (void)seam;
  out->method = "copy-check-run-original";
  o = ls->copy_to_private(ls->context, path, &copy, &copy_len);
  if (o.code == 0) o = ls->check_file(ls->context, copy, requirement);
  /* The bug: the original path is spawned. */
  if (o.code == 0) o = ls->spawn(ls->context, path, &out->execution);
  if (o.code != 0) {
    out->refusal = o;
    return;
  }
  out->launched = 1;
  out->has_execution = 1;
}

ZOO_PLUGIN("zoo_launch_copy_runs_original", NULL, NULL, zoo_token_resolve, NULL, launch)
