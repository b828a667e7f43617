/* transient_retry_by_pid: retries a transient token failure with a pid-based call.
 *
 * Mistake: when the token lookup fails with a transient error (errSecCSNoSuchCode under load, a
 * KERN_FAILURE), the resolver "retries" with the pid-based variant of the call, since the pid
 * is right there in the token. Between the failed call and the retry the process may exit and
 * its pid be taken, and the retry's answer is reported as verified.
 * Real-world pattern: retry helpers that switch API on failure (token -> pid) to "improve the
 * hit rate", added after complaints about flows labelled unknown on busy machines.
 * Faults needed: two. F8 (a transient failure of the token lookup) and a race after it: F1
 * (exit and pid reuse before the retry). */
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
  if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
    return;
  }
  if (zoo_is_eperm(o)) return;
  /* The bug: the retry goes through the pid. */
  o = seam->guest_by_pid(seam->context, pid, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code != 0) return;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, pidversion, "retry-by-pid");
}

ZOO_PLUGIN("zoo_transient_retry_by_pid", NULL, NULL, resolve, NULL, NULL)
