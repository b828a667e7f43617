/* pidpath_after_token_error: when the token lookup fails, ask proc_pidpath(pid) and keep going.
 *
 * Mistake: after SecCodeCopyGuestWithAttributes(audit token) fails (the execution is gone, or any
 * other error), the resolver falls back on the bare pid's path and still reports the answer as
 * verified, because "the token said this pid".
 * Real-world pattern: the getProcessPath(pid) fallback many macOS firewalls keep for the cases
 * where the Security framework says no; the path is then shown and matched as if checked.
 * Faults needed: F1 (the flow's process exits and its pid is reused before the lookup). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  const char* path = NULL;
  size_t path_len = 0;
  int32_t pid;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  pid = seam->audit_token_to_pid(seam->context, &t->token);
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, t->token.words[FLOWID_TOKEN_PIDVERSION],
              "token");
    return;
  }
  o = seam->proc_pidpath(seam->context, pid, &path, &path_len);
  if (o.code != 0) return;
  /* The bug: whatever holds the pid now is claimed as the token's execution, verified. */
  memset(&id, 0, sizeof id);
  id.path = path;
  id.path_len = path_len;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, t->token.words[FLOWID_TOKEN_PIDVERSION],
            "pid-path-fallback");
}

ZOO_PLUGIN("zoo_pidpath_after_token_error", NULL, NULL, resolve, NULL, NULL)
