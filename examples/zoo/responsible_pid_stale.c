/* responsible_pid_stale: attributes a helper's flow to its responsible app by that app's pid.
 *
 * Mistake: the resolver asks for the responsible pid of the flow's process (the app an XPC
 * helper works for), then reads that pid's path and reports it as the verified program. The
 * responsible pid is just a number: once the app has quit, it may belong to anything.
 * Real-world pattern: responsibility_get_pid_responsible_for_pid() used by Little Snitch-like
 * UIs to show "Safari (via nsurlsessiond)", with the answer fed back into the rule match.
 * Faults needed: two. F6 (a helper spawned on behalf of an app) and F1 (the app exits and its
 * pid is reused before the helper's flow is resolved). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  const char* path = NULL;
  size_t path_len = 0;
  int32_t pid;
  int32_t responsible = 0;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  pid = seam->audit_token_to_pid(seam->context, &t->token);
  o = seam->responsible_pid(seam->context, pid, &responsible);
  if (o.code == 0 && responsible != pid && responsible > 0) {
    /* The bug: the responsible pid's current holder is taken to be the app. */
    o = seam->proc_pidpath(seam->context, responsible, &path, &path_len);
    if (o.code == 0) {
      memset(&id, 0, sizeof id);
      id.path = path;
      id.path_len = path_len;
      zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, responsible, 0, "responsible-pid");
      return;
    }
  }
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, pid, t->token.words[FLOWID_TOKEN_PIDVERSION],
              "token");
  } else if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
  }
}

ZOO_PLUGIN("zoo_responsible_pid_stale", NULL, NULL, resolve, NULL, NULL)
