/* pid_cache_path_check: a pid-keyed cache, revalidated by "still alive, same path".
 *
 * Mistake: the cache entry for a pid is reused when kill(pid, 0) says the pid is alive and
 * proc_pidpath(pid) still returns the cached path. That rejects most pid reuse, but not a new
 * process started from the same path after the file there was replaced: same pid, same path,
 * other code, and the cached signing identity (with the old cdhash) is reported as verified.
 * Real-world pattern: "cheap revalidation" of a pid cache (kill + path compare) instead of
 * comparing the audit token's pidversion; common in filters that moved from pids to tokens.
 * Faults needed: the flow's pid must end up with a process running from the cached path. Either
 * F1 with F5 (the executable at that path was replaced before the newcomer started: the scenario)
 * or F1 twice (the flow's process exits, and the program that held the pid before it takes the
 * pid back before the lookup; `flowid fuzz` found this route). */
#include "zoo.h"

static int still_same(const flowid_seam* seam, int32_t pid, const zoo_entry* e) {
  const char* path = NULL;
  size_t path_len = 0;
  if (seam->kill_zero(seam->context, pid).code != 0) return 0;
  if (seam->proc_pidpath(seam->context, pid, &path, &path_len).code != 0) return 0;
  return path_len == e->saved.identity.path_len && memcmp(path, e->saved.path, path_len) == 0;
}

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  zoo_cache* cache = instance;
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  int32_t pid;
  uint32_t pidversion;
  zoo_entry* e;
  out->method = "token";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  pidversion = t->token.words[FLOWID_TOKEN_PIDVERSION];
  e = zoo_cache_by_pid(cache, pid);
  if (e != NULL && still_same(seam, pid, e)) {
    /* The bug: alive + same path is taken for same execution, same code. */
    zoo_claim(out, FLOWID_STATUS_VERIFIED, zoo_answer(cache, e), pid, pidversion, "pid-cache");
    return;
  }
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  e = zoo_cache_put(cache, pid, pidversion, now_ns, &id);
  zoo_claim(out, FLOWID_STATUS_VERIFIED, e != NULL ? zoo_answer(cache, e) : &id, pid, pidversion,
            "token");
}

ZOO_PLUGIN("zoo_pid_cache_path_check", zoo_cache_create, zoo_cache_destroy, resolve, NULL, NULL)
