/* static_changed_ignored: errSecCSStaticCodeChanged is read as "the app was updated in place".
 *
 * Mistake: the resolver validates the code on disk (SecCodeCopyStaticCode, then its signing
 * information) and remembers each path's identity. When the running code no longer matches the
 * file (errSecCSStaticCodeChanged), it assumes a Sparkle-style in-place update of the same app
 * and answers with the identity it remembers for that path. But the running code is exactly what
 * does not match: a process started from a swapped file, with the genuine file put back.
 * Real-world pattern: "ignore errSecCSStaticCodeChanged, apps update themselves while running"
 * workarounds in filters that got bug reports about updated apps losing their rules.
 * Faults needed: F5 twice: the executable is replaced, a process starts from it, and the
 * original is put back (or the file replaced again) before the lookup. */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  zoo_cache* cache = instance;
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_code_ref on_disk = 0;
  flowid_outcome o;
  const char* path = NULL;
  size_t path_len = 0;
  int32_t pid;
  uint32_t pidversion;
  zoo_entry* e;
  out->method = "static";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  pidversion = t->token.words[FLOWID_TOKEN_PIDVERSION];
  memset(&id, 0, sizeof id);
  o = seam->guest_by_audit_token(seam->context, &t->token, &code);
  if (o.code == 0) o = seam->static_code(seam->context, code, &on_disk);
  if (o.code == 0) o = seam->signing_information(seam->context, on_disk, &id);
  if (o.code == 0) {
    e = zoo_cache_put(cache, pid, pidversion, now_ns, &id);
    zoo_claim(out, FLOWID_STATUS_VERIFIED, e != NULL ? zoo_answer(cache, e) : &id, pid, pidversion,
              "static");
    return;
  }
  if (o.domain != FLOWID_DOMAIN_OSSTATUS || o.code != FLOWID_SECCS_STATIC_CODE_CHANGED) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  /* The bug: "updated in place"; the remembered identity of the path is reused. */
  if (seam->code_path(seam->context, code, &path, &path_len).code != 0) return;
  e = zoo_cache_by_path(cache, path, path_len);
  if (e == NULL) return;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, zoo_answer(cache, e), pid, pidversion, "updated-in-place");
}

ZOO_PLUGIN("zoo_static_changed_ignored", zoo_cache_create, zoo_cache_destroy, resolve, NULL, NULL)
