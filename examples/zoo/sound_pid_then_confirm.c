/* sound_pid_then_confirm (SOUND): looks up by pid first, then confirms the whole token.
 *
 * The opposite order to token+recheck: the code is obtained by pid (guest by pid, its signing
 * information), and only then is the pid's current token fetched (task_name_for_pid +
 * TASK_AUDIT_TOKEN) and compared with the flow's token, pid AND pidversion. If they are equal the
 * execution that holds the pid now is the flow's, and it held the pid when the code was read
 * (an execution never gets its pid back after losing it), so the answer is verified; otherwise
 * nothing is claimed. Must produce no violation anywhere. */
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
  out->method = "pid-confirmed";
  if (t == NULL) return;
  pid = (int32_t)t->token.words[FLOWID_TOKEN_PID];
  pidversion = t->token.words[FLOWID_TOKEN_PIDVERSION];
  memset(&id, 0, sizeof id);
  o = seam->guest_by_pid(seam->context, pid, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code == 0) o = seam->token_for_pid(seam->context, pid, &now);
  if (o.code != 0) {
    if (zoo_is_gone(o)) out->status = FLOWID_STATUS_GONE;
    return;
  }
  if ((int32_t)now.words[FLOWID_TOKEN_PID] != pid ||
      now.words[FLOWID_TOKEN_PIDVERSION] != pidversion) {
    out->status = FLOWID_STATUS_GONE; /* the pid has moved on: the flow's execution ended. */
    return;
  }
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, pidversion, "pid-confirmed");
}

ZOO_PLUGIN("zoo_sound_pid_then_confirm", NULL, NULL, resolve, NULL, NULL)
