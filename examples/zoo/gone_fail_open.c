/* gone_fail_open: a flow whose process has already exited is allowed.
 *
 * Mistake: when the token lookup says the execution is gone, the filter reasons that nobody is
 * left to protect against and lets the flow through. Short-lived programs (curl in a script,
 * a dropper that sends one request and exits) get out regardless of the rules.
 * Real-world pattern: LuLu #760 (an unsigned program that exited before the lookup was allowed);
 * OpenSnitch's "process not found -> default action" with default allow.
 * Faults needed: F2 (the flow's process exits before the lookup). */
#include "zoo.h"

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  (void)instance;
  (void)flow;
  /* The bug: gone is treated as harmless. */
  if (attribution->status == FLOWID_STATUS_GONE) {
    *decision_out = FLOWID_DECISION_ALLOW;
    return 1;
  }
  return 0;
}

ZOO_PLUGIN("zoo_gone_fail_open", NULL, NULL, zoo_token_resolve, decide, NULL)
