/* esrch_guest_by_pid: on ESRCH from the token lookup, ask for the guest by pid instead.
 *
 * Mistake: ESRCH is read as "the token is stale" (the process re-exec'd, or the token was
 * captured early) rather than "that execution is gone"; the resolver retries with
 * SecCodeCopyGuestWithAttributes(kSecGuestAttributePid) and reports the full signing information
 * of whatever holds the pid now, as verified.
 * Real-world pattern: the pid fallback after an audit-token failure found in OpenSnitch-style
 * and Santa-style clients that were written against pids first and got tokens later.
 * Faults needed: F1 (exit and pid reuse before the lookup). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_outcome o;
  int32_t pid;
  uint32_t pidversion;
  (void)instance;
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
  if (!zoo_is_gone(o)) return;
  /* The bug: a gone execution is looked up again by its pid. */
  o = seam->guest_by_pid(seam->context, pid, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code != 0) {
    out->status = FLOWID_STATUS_GONE;
    return;
  }
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, pidversion, "esrch-pid-retry");
}

ZOO_PLUGIN("zoo_esrch_guest_by_pid", NULL, NULL, resolve, NULL, NULL)
