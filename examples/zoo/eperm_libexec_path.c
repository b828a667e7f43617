/* eperm_libexec_path: after EPERM, trusts a SIP-protected path read by pid.
 *
 * Mistake: a sandboxed filter cannot look up some /usr/libexec daemons by token (EPERM). The
 * resolver reasons that those paths are SIP-protected, so the path alone identifies the program,
 * reads it with proc_pidpath(pid) and reports a verified platform identity, with the signing
 * identifier Apple gives its daemons (com.apple.NAME for /usr/libexec/NAME). The path is
 * trustworthy; the pid is not: if the daemon exits and launchd starts another daemon that gets
 * the pid before the path is read, the flow is pinned on the wrong daemon.
 * Real-world pattern: "SIP paths are safe" shortcuts in filters that hit the seed-000 sandbox
 * EPERM (LuLu and others special-case /usr/libexec and /System).
 * Faults needed: two. F3 (EPERM from the token lookup of a /usr/libexec daemon) and, during that
 * lookup, F1 with a platform daemon as the newcomer (exit and pid reuse before proc_pidpath). */
#include "zoo.h"

/* com.apple.NAME for /usr/libexec/NAME, in the instance (it outlives the call). */
static int apple_identifier(zoo_cache* c, const char* path, size_t path_len,
                            flowid_code_identity* id) {
  const size_t prefix = strlen("/usr/libexec/");
  const size_t name_len = path_len - prefix;
  if (name_len == 0 || memchr(path + prefix, '/', name_len) != NULL) return 0;
  if (!zoo_copy_string(c->answer.path, sizeof c->answer.path, path, path_len)) return 0;
  if (name_len + 10 >= sizeof c->answer.signing_id) return 0;
  memcpy(c->answer.signing_id, "com.apple.", 10);
  memcpy(c->answer.signing_id + 10, path + prefix, name_len);
  c->answer.signing_id[10 + name_len] = '\0';
  memset(id, 0, sizeof *id);
  id->path = c->answer.path;
  id->path_len = path_len;
  id->signing_id = c->answer.signing_id;
  id->signing_id_len = 10 + name_len;
  id->team_id = "";
  id->platform = 1;
  id->signature = FLOWID_SIGNATURE_PLATFORM;
  return 1;
}

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  zoo_cache* cache = instance;
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  const char* path = NULL;
  size_t path_len = 0;
  int32_t pid;
  uint32_t pidversion;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  pidversion = t->token.words[FLOWID_TOKEN_PIDVERSION];
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, pidversion, "token");
    return;
  }
  if (!zoo_is_eperm(o)) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  if (seam->proc_pidpath(seam->context, pid, &path, &path_len).code != 0) return;
  if (!zoo_prefix(path, path_len, "/usr/libexec/")) return;
  /* The bug: a SIP path read through a bare pid is claimed as the token's program. */
  if (!apple_identifier(cache, path, path_len, &id)) return;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, pidversion, "sip-path");
}

ZOO_PLUGIN("zoo_eperm_libexec_path", zoo_cache_create, zoo_cache_destroy, resolve, NULL, NULL)
