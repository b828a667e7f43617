/* pid_ttl_cache: a verdict cache keyed by pid, with a five-second lifetime.
 *
 * Mistake: the cache key is the pid alone, so an entry outlives the execution it was made for.
 * Real-world pattern: LuLu-style "process cache" dictionaries keyed by pid (or by pid + path
 * read later), added to avoid a SecCode round trip per flow; expiry is by time, not by the exit
 * of the process (LuLu #69 was this shape).
 * Faults needed: F1 (the flow's program exits and another program takes its pid before that
 * pid's next flow is resolved). */
#include "zoo.h"

#define TTL_NS 5000000000ull

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
  if (e != NULL && now_ns - e->stored_ns < TTL_NS) {
    /* The bug: a hit on the pid is taken to be the same execution. */
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

ZOO_PLUGIN("zoo_pid_ttl_cache", zoo_cache_create, zoo_cache_destroy, resolve, NULL, NULL)
