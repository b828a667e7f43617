/* signing_id_no_team: a built-in allowlist that matches the signing identifier only.
 *
 * Mistake: the filter ships a list of updaters it always lets through (so that apps can update
 * even under a strict rule set) and matches them by signing identifier. Signing identifiers are
 * chosen by whoever signs: any Developer ID can sign a binary as
 * org.sparkle-project.Sparkle.Autoupdate. Without the team id the allowlist lets through code
 * the user's own rules deny.
 * Real-world pattern: identifier-only matching (`if ([signingID isEqualToString:...])`) instead
 * of a designated requirement (identifier + anchor + team).
 * Faults needed: none of the timing faults: a program whose signing id collides with a trusted
 * one (the F10 family: same name, other code). */
#include "zoo.h"

static const char* const kUpdaters[] = {"org.sparkle-project.Sparkle.Autoupdate",
                                        "com.google.Keystone.Agent",
                                        "com.microsoft.autoupdate.helper"};

static int32_t decide(void* instance, const flowid_flow* flow,
                      const flowid_attribution* attribution, uint32_t* decision_out) {
  size_t i;
  (void)instance;
  (void)flow;
  if (attribution->status != FLOWID_STATUS_VERIFIED || !attribution->has_identity) return 0;
  for (i = 0; i < sizeof kUpdaters / sizeof kUpdaters[0]; ++i) {
    const flowid_code_identity* id = &attribution->identity;
    /* The bug: no team id (nor anchor) in the comparison. */
    if (id->signing_id_len == strlen(kUpdaters[i]) &&
        memcmp(id->signing_id, kUpdaters[i], id->signing_id_len) == 0) {
      *decision_out = FLOWID_DECISION_ALLOW;
      return 1;
    }
  }
  return 0;
}

ZOO_PLUGIN("zoo_signing_id_no_team", NULL, NULL, zoo_token_resolve, decide, NULL)
