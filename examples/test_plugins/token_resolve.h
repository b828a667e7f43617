/* The resolve shared by the test plugins that exercise decide and launch: token lookups only
 * (guest_by_audit_token -> static_code -> signing_information), "verified" on success, "gone"
 * on ESRCH / errSecCSGuestInvalid, "unknown" otherwise. Sound, so that whatever the oracle finds
 * in a test comes from the entry under test, not from the resolver. Test plugins only. */
#ifndef FLOWID_TEST_PLUGINS_TOKEN_RESOLVE_H
#define FLOWID_TEST_PLUGINS_TOKEN_RESOLVE_H

#include <flowid/plugin.h>
#include <stddef.h>

static int token_resolve_is_gone(flowid_outcome outcome) {
  return outcome.domain == FLOWID_DOMAIN_OSSTATUS &&
         (outcome.code == FLOWID_OSSTATUS_ESRCH || outcome.code == FLOWID_SECCS_GUEST_INVALID);
}

static void token_resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                          const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* source = &flow->source_process_audit_token;
  flowid_code_ref code = 0;
  flowid_code_ref on_disk = 0;
  flowid_outcome outcome;
  (void)instance;
  (void)now_ns;
  if (!source->present) source = &flow->source_app_audit_token;
  out->method = "token";
  if (!source->present || source->size_bytes != FLOWID_AUDIT_TOKEN_SIZE_BYTES) {
    out->status = FLOWID_STATUS_UNKNOWN;
    return;
  }
  outcome = seam->guest_by_audit_token(seam->context, &source->token, &code);
  if (outcome.code == 0) outcome = seam->static_code(seam->context, code, &on_disk);
  if (outcome.code == 0)
    outcome = seam->signing_information(seam->context, on_disk, &out->identity);
  if (outcome.code == 0) {
    out->status = FLOWID_STATUS_VERIFIED;
    out->has_identity = 1;
    out->has_claimed_execution = 1;
    out->claimed_pid = (int32_t)source->token.words[FLOWID_TOKEN_PID];
    out->claimed_pidversion = source->token.words[FLOWID_TOKEN_PIDVERSION];
    return;
  }
  out->status = token_resolve_is_gone(outcome) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
}

#endif
