/* eperm_fail_open: EPERM from the token lookup is taken to mean "a system daemon; allow it".
 *
 * Mistake: a sandboxed filter gets kPOSIXErrorEPERM when it asks about some platform binaries;
 * the code decides that whatever the sandbox hides from it must be Apple's own and lets the flow
 * through, overriding the user's rules.
 * Real-world pattern: "don't break the OS" exceptions in content filters (allow on EPERM, allow
 * pid 0, allow when the system denies the query), written after a support ticket about a
 * blocked system service.
 * Faults needed: F3 (a sandboxed caller looking up a /usr/libexec daemon the user has denied). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)t->token.words[FLOWID_TOKEN_PID],
              t->token.words[FLOWID_TOKEN_PIDVERSION], "token");
  } else if (zoo_is_eperm(o)) {
    out->method = "eperm";
  } else if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
  }
}

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  /* The bug: "the sandbox would not tell us, so it is a system process". */
  if (attribution->method != NULL && strcmp(attribution->method, "eperm") == 0) {
    *decision_out = FLOWID_DECISION_ALLOW;
    return 1;
  }
  return 0;
}

ZOO_PLUGIN("zoo_eperm_fail_open", NULL, NULL, resolve, decide, NULL)
