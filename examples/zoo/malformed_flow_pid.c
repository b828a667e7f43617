/* malformed_flow_pid: with no usable token, falls back on the flow's pid field.
 *
 * Mistake: when both audit tokens are absent or malformed (old OS, a flow from a kernel
 * extension, a Data of the wrong size), the resolver uses the flow's procPID (the socket's pid)
 * to look up the code, and reports it as verified since "the kernel gave us that pid".
 * Real-world pattern: `flow.sourceAppAuditToken == nil ? flow.pid : ...` fallbacks; the pid field
 * of the flow has no pidversion, so it names whoever holds the pid at lookup time.
 * Faults needed: two. F7 (absent or malformed tokens) and F1 (the owner exits and its pid is
 * reused before the lookup). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_code_ref code = 0;
  flowid_outcome o;
  (void)instance;
  (void)now_ns;
  memset(&id, 0, sizeof id);
  out->method = "token";
  if (t != NULL) {
    o = zoo_token_identity(seam, &t->token, &id);
    if (o.code == 0) {
      zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)t->token.words[FLOWID_TOKEN_PID],
                t->token.words[FLOWID_TOKEN_PIDVERSION], "token");
    } else if (zoo_is_gone(o)) {
      out->status = FLOWID_STATUS_GONE;
    }
    return;
  }
  if (flow->proc_pid <= 0) return;
  /* The bug: the pid field carries no pidversion, yet its answer is claimed verified. */
  o = seam->guest_by_pid(seam->context, flow->proc_pid, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, &id);
  if (o.code != 0) return;
  zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, flow->proc_pid, 0, "flow-pid");
}

ZOO_PLUGIN("zoo_malformed_flow_pid", NULL, NULL, resolve, NULL, NULL)
