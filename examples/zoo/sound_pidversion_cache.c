/* sound_pidversion_cache (SOUND): a cache keyed by the whole execution, (pid, pidversion).
 *
 * Written the way a careful filter caches: the key is the audit token's pid AND pidversion, so an
 * entry can only ever be found again for the execution it was made for (pidversions never repeat;
 * an exec gets a new one). Misses go through the token (guest by audit token, signing information
 * of the running code, never the file on disk). A hit is served even after the process exited:
 * the identity is still that execution's. Errors: gone on ESRCH / errSecCSGuestInvalid, unknown
 * otherwise (EPERM included). Must produce no violation anywhere. */
#include "zoo.h"

static zoo_entry* find(zoo_cache* c, int32_t pid, uint32_t pidversion) {
  unsigned i;
  for (i = 0; i < ZOO_CACHE_SLOTS; ++i) {
    zoo_entry* e = &c->slots[i];
    if (e->used && e->pid == pid && e->pidversion == pidversion) return e;
  }
  return NULL;
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
  unsigned slot;
  out->method = "execution-cache";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  pidversion = t->token.words[FLOWID_TOKEN_PIDVERSION];
  e = find(cache, pid, pidversion);
  if (e != NULL) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, zoo_answer(cache, e), pid, pidversion,
              "execution-cache");
    return;
  }
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  slot = cache->next;
  cache->next = (cache->next + 1) % ZOO_CACHE_SLOTS;
  e = &cache->slots[slot];
  e->used = zoo_save(&e->saved, &id);
  e->pid = pid;
  e->pidversion = pidversion;
  e->stored_ns = now_ns;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, e->used ? zoo_answer(cache, e) : &id, pid, pidversion,
            "token");
}

ZOO_PLUGIN("zoo_sound_pidversion_cache", zoo_cache_create, zoo_cache_destroy, resolve, NULL, NULL)
