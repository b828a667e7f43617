/* delegated_app_by_pid: for a delegated flow, names the app by the app token's pid.
 *
 * Mistake: when the socket was opened by a helper on behalf of an app (source app token !=
 * source process token), the filter wants to show the app, not nsurlsessiond. It takes the pid
 * out of the app token and asks for the guest by pid, ignoring the process token and the app
 * token's pidversion. A helper often finishes a download after its app has quit.
 * Real-world pattern: LuLu's use of the flow's eproc pid / sourceAppAuditToken pid for delegated
 * flows (flowid's lulu-model fails f06 the same way).
 * Faults needed: two. F6 (a delegated flow) and F1 (its app exits and the app's pid is reused
 * before the lookup). */
#include "zoo.h"

static int delegated(const flowid_flow* flow) {
  return zoo_usable(&flow->source_app_audit_token) &&
         zoo_usable(&flow->source_process_audit_token) &&
         flow->source_app_audit_token.token.words[FLOWID_TOKEN_PID] !=
             flow->source_process_audit_token.token.words[FLOWID_TOKEN_PID];
}

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_outcome o;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  memset(&id, 0, sizeof id);
  if (delegated(flow)) {
    const flowid_audit_token* app = &flow->source_app_audit_token.token;
    int32_t app_pid = seam->audit_token_to_pid(seam->context, app);
    /* The bug: the app is looked up by its pid, which may belong to someone else by now. */
    o = seam->guest_by_pid(seam->context, app_pid, &code);
    if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
    if (o.code == 0) {
      zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, app_pid, app->words[FLOWID_TOKEN_PIDVERSION],
                "app-pid");
      return;
    }
  }
  if (t == NULL) return;
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)t->token.words[FLOWID_TOKEN_PID],
              t->token.words[FLOWID_TOKEN_PIDVERSION], "token");
  } else if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
  }
}

ZOO_PLUGIN("zoo_delegated_app_by_pid", NULL, NULL, resolve, NULL, NULL)
