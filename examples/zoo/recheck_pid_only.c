/* recheck_pid_only: a pid fallback "made safe" by re-checking the pid, not the pidversion.
 *
 * Mistake: when the token lookup says the execution is gone, the resolver looks the code up by
 * pid and then confirms with task_name_for_pid + TASK_AUDIT_TOKEN that the pid still matches
 * the flow's token, comparing only the pid word. An exec keeps the pid and changes the
 * pidversion, so the confirmation always passes after an exec.
 * Real-world pattern: a half-applied fix for pid reuse: the audit token is fetched to compare,
 * but only audit_token_to_pid() of it is compared.
 * Faults needed: F4 (the flow's process execs another program before the lookup). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_audit_token now;
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
  out->status = FLOWID_STATUS_GONE;
  o = seam->guest_by_pid(seam->context, pid, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code == 0) o = seam->token_for_pid(seam->context, pid, &now);
  /* The bug: only the pid word is compared; the pidversion would have said "another execution". */
  if (o.code != 0 || (int32_t)now.words[FLOWID_TOKEN_PID] != pid) return;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, pidversion, "pid-rechecked");
}

ZOO_PLUGIN("zoo_recheck_pid_only", NULL, NULL, resolve, NULL, NULL)
