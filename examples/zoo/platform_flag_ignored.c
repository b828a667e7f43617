/* platform_flag_ignored: "is it Apple's?" judged by the signing identifier's prefix.
 *
 * Mistake: the resolver normalizes what it reports for the rule engine and sets the identity's
 * platform flag when the signing identifier starts with com.apple., instead of taking the flag
 * the Security framework reports (or checking the anchor). Ad-hoc signing lets anyone call a
 * binary com.apple.anything; it then matches rules written for Apple's own program
 * (signing_id=com.apple.X platform=true).
 * Real-world pattern: "allow Apple programs" / "is Apple binary" helpers implemented as a prefix
 * test on the bundle or signing identifier.
 * Faults needed: none of the timing faults: an ad-hoc program that borrows an Apple identifier
 * (the F10 family: same name, other code). */
#include "zoo.h"

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  zoo_token_resolve(instance, flow, now_ns, seam, out);
  if (out->status != FLOWID_STATUS_VERIFIED || !out->has_identity) return;
  /* The bug: the platform flag is derived from the identifier. */
  if (zoo_prefix(out->identity.signing_id, out->identity.signing_id_len, "com.apple.")) {
    out->identity.platform = 1;
    out->method = "token+apple-prefix";
  }
}

ZOO_PLUGIN("zoo_platform_flag_ignored", NULL, NULL, resolve, NULL, NULL)
