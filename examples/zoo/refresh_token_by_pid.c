/* refresh_token_by_pid: "refreshes" the flow's token from the pid before using it.
 *
 * Mistake: the flow's token is believed to be possibly stale (captured when the socket was
 * created), so the resolver fetches the pid's current token (task_name_for_pid +
 * TASK_AUDIT_TOKEN) and looks that up instead. The current token is exactly the one that may
 * belong to another execution: after an exec the pid is the same and the program is not.
 * Real-world pattern: "get a fresh audit token" helpers in endpoint agents, written to work
 * around ESRCH from stale tokens.
 * Faults needed: F4 (the flow's process execs another program before the lookup); F1 too. */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_audit_token fresh;
  flowid_outcome o;
  int32_t pid;
  (void)instance;
  (void)now_ns;
  out->method = "fresh-token";
  if (t == NULL) return;
  pid = seam->audit_token_to_pid(seam->context, &t->token);
  memset(&id, 0, sizeof id);
  /* The bug: the flow's own token is replaced by whatever holds the pid now. */
  o = seam->token_for_pid(seam->context, pid, &fresh);
  if (o.code != 0) fresh = t->token;
  o = zoo_token_identity(seam, &fresh, &id);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, t->token.words[FLOWID_TOKEN_PIDVERSION],
            "fresh-token");
}

ZOO_PLUGIN("zoo_refresh_token_by_pid", NULL, NULL, resolve, NULL, NULL)
