/* path_cache: caches signing information by executable path.
 *
 * Mistake: checking a signature is slow, so the resolver asks for the running code by token,
 * reads its path, and answers from a path-keyed cache when it has seen that path before. A file
 * replaced on disk (an update, or an attacker writing into a user-writable app bundle) gives new
 * processes other code at the same path, and they inherit the old program's identity.
 * Real-world pattern: LuLu/Little Snitch-style "signing info by path" dictionaries.
 * Faults needed: F5 (the executable is replaced before a new process starts from it). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  zoo_cache* cache = instance;
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_outcome o;
  const char* path = NULL;
  size_t path_len = 0;
  int32_t pid;
  uint32_t pidversion;
  zoo_entry* e;
  out->method = "token";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  pidversion = t->token.words[FLOWID_TOKEN_PIDVERSION];
  o = seam->guest_by_audit_token(seam->context, &t->token, &code);
  if (o.code == 0) o = seam->code_path(seam->context, code, &path, &path_len);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  e = zoo_cache_by_path(cache, path, path_len);
  if (e != NULL) {
    /* The bug: same path, so same code. */
    zoo_claim(out, FLOWID_STATUS_VERIFIED, zoo_answer(cache, e), pid, pidversion, "path-cache");
    return;
  }
  memset(&id, 0, sizeof id);
  o = seam->signing_information(seam->context, code, &id);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  e = zoo_cache_put(cache, pid, pidversion, now_ns, &id);
  zoo_claim(out, FLOWID_STATUS_VERIFIED, e != NULL ? zoo_answer(cache, e) : &id, pid, pidversion,
            "token");
}

ZOO_PLUGIN("zoo_path_cache", zoo_cache_create, zoo_cache_destroy, resolve, NULL, NULL)
