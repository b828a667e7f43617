/* token_then_pid_info: checks the token, then reads the signing information by pid.
 *
 * Mistake: the resolver confirms the execution is alive with the token (guest by audit token
 * succeeds), then calls its older pid-based helper to read the signing information, as two
 * steps. The check and the use name the process differently; between them the process can exit
 * and its pid be taken.
 * Real-world pattern: a token check added in front of an existing pid-based
 * getSigningInfo(pid) helper, so the helper did not have to change.
 * Faults needed: F1 as a race inside the lookup (exit and pid reuse between the two calls). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_outcome o;
  int32_t pid;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  o = seam->guest_by_audit_token(seam->context, &t->token, &code);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  /* The bug: the code handle from the token is dropped; the helper works from the pid. */
  memset(&id, 0, sizeof id);
  o = seam->guest_by_pid(seam->context, pid, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, t->token.words[FLOWID_TOKEN_PIDVERSION],
            "token+pid-info");
}

ZOO_PLUGIN("zoo_token_then_pid_info", NULL, NULL, resolve, NULL, NULL)
