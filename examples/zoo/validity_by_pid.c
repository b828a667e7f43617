/* validity_by_pid: checks the signature of the guest it obtained by pid.
 *
 * Mistake: the resolver is careful about the signature (SecCodeCheckValidity on the running code,
 * unsigned code is never verified) but obtains that code with the pid from the token, not with
 * the token. A perfect check of the wrong process.
 * Real-world pattern: code that predates audit tokens in NEFilterFlow (sourceAppAuditToken
 * converted to a pid on the first line) with a strict signature check bolted on later.
 * Faults needed: F1 (exit and pid reuse before the lookup); also F4 (exec after the flow). */
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
  out->method = "pid-guest";
  if (t == NULL) return;
  pid = seam->audit_token_to_pid(seam->context, &t->token);
  memset(&id, 0, sizeof id);
  o = seam->guest_by_pid(seam->context, pid, &code);
  if (o.code == 0) o = seam->check_validity(seam->context, code, "");
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code != 0) {
    out->status = zoo_is_gone(o) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
    return;
  }
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, t->token.words[FLOWID_TOKEN_PIDVERSION],
            "pid-guest");
}

ZOO_PLUGIN("zoo_validity_by_pid", NULL, NULL, resolve, NULL, NULL)
