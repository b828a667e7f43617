/* transient_fail_open: a lookup that fails for a transient reason lets the flow through.
 *
 * Mistake: when the token lookup fails with anything but "gone" or EPERM (errSecCSNoSuchCode
 * under load, KERN_FAILURE), the filter allows the flow rather than hold up the user's
 * connection, on the theory that a retry would have worked. The user's deny rule is skipped.
 * Real-world pattern: LuLu #484 (process alive but unresolvable -> flow allowed); "fail open on
 * error" defaults in filters that were once blamed for breaking networking.
 * Faults needed: F8 (a transient failure of the token lookup). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)t->token.words[FLOWID_TOKEN_PID],
              t->token.words[FLOWID_TOKEN_PIDVERSION], "token");
  } else if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
  } else if (!zoo_is_eperm(o)) {
    out->method = "transient";
  }
}

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  /* The bug: a transient failure fails open. */
  if (attribution->method != NULL && strcmp(attribution->method, "transient") == 0) {
    *decision_out = FLOWID_DECISION_ALLOW;
    return 1;
  }
  return 0;
}

ZOO_PLUGIN("zoo_transient_fail_open", NULL, NULL, resolve, decide, NULL)
