/* malformed_pid0_kernel: reads a malformed token anyway and lets "pid 0" through as the kernel.
 *
 * Mistake: the resolver copies the token bytes without checking their size. A short token (20
 * bytes) leaves the pid word zero, and the filter's exception "pid 0 is the kernel: never block
 * it" then allows a flow of an ordinary program, against the user's deny rule.
 * Real-world pattern: `memcpy(&token, data.bytes, sizeof token)` on an NSData of unknown length,
 * combined with the kernel_task exception most macOS firewalls carry.
 * Faults needed: F7 (a malformed token). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = flow->source_process_audit_token.present
                                   ? &flow->source_process_audit_token
                                   : &flow->source_app_audit_token;
  flowid_code_identity id;
  flowid_outcome o;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (!t->present) return;
  /* The bug: the size is not checked; the words of a short token are read as if complete. */
  if (t->token.words[FLOWID_TOKEN_PID] == 0) {
    out->method = "kernel";
    return;
  }
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)t->token.words[FLOWID_TOKEN_PID],
              t->token.words[FLOWID_TOKEN_PIDVERSION], "token");
  } else if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
  }
}

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  if (attribution->method != NULL && strcmp(attribution->method, "kernel") == 0) {
    *decision_out = FLOWID_DECISION_ALLOW; /* kernel_task is never blocked. */
    return 1;
  }
  return 0;
}

ZOO_PLUGIN("zoo_malformed_pid0_kernel", NULL, NULL, resolve, decide, NULL)
