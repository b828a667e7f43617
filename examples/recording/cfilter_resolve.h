/* The resolver and the decision of the C test filter (examples/recording/cfilter.c), shared with
 * its plugin build (cfilter_plugin.c) so that `flowid replay --resolver libcfilter.so` replays the
 * very code that made the recording. Written against `os`, a table of OS calls: flowid_seam from
 * include/flowid/plugin.h, which a product fills with SecCodeCopyGuestWithAttributes,
 * proc_pidpath & co., and the test fills from flowid's simulated world.
 *
 * Resolution: the process token when the flow carries a whole one (else the app token):
 * guest_by_audit_token -> static_code -> signing_information, "verified". A sandboxed caller gets
 * EPERM there: it falls back to the token's pid and proc_pidpath, "unverified" (a path named by a
 * pid). ESRCH / errSecCSGuestInvalid: "gone". Anything else: "unknown".
 * Decision: verified -> allow, unverified -> ask, gone / unknown -> drop. */
#ifndef FLOWID_TESTS_RECAPI_CFILTER_RESOLVE_H
#define FLOWID_TESTS_RECAPI_CFILTER_RESOLVE_H

#include <flowid/plugin.h>
#include <stddef.h>

static void cfilter_resolve(const flowid_seam* os, const flowid_flow* flow,
                            flowid_attribution* out) {
  const flowid_flow_token* source = &flow->source_process_audit_token;
  flowid_code_ref code = 0;
  flowid_code_ref on_disk = 0;
  flowid_outcome outcome;
  if (!source->present || source->size_bytes != FLOWID_AUDIT_TOKEN_SIZE_BYTES)
    source = &flow->source_app_audit_token;
  out->method = "token";
  if (!source->present || source->size_bytes != FLOWID_AUDIT_TOKEN_SIZE_BYTES) {
    out->status = FLOWID_STATUS_UNKNOWN;
    return;
  }
  outcome = os->guest_by_audit_token(os->context, &source->token, &code);
  if (outcome.code == 0) outcome = os->static_code(os->context, code, &on_disk);
  if (outcome.code == 0) outcome = os->signing_information(os->context, on_disk, &out->identity);
  if (outcome.code == 0) {
    out->status = FLOWID_STATUS_VERIFIED;
    out->has_identity = 1;
    out->has_claimed_execution = 1;
    out->claimed_pid = (int32_t)source->token.words[FLOWID_TOKEN_PID];
    out->claimed_pidversion = source->token.words[FLOWID_TOKEN_PIDVERSION];
    return;
  }
  if (outcome.domain == FLOWID_DOMAIN_OSSTATUS && outcome.code == FLOWID_OSSTATUS_EPERM) {
    const char* path = NULL;
    size_t path_len = 0;
    int32_t pid = os->audit_token_to_pid(os->context, &source->token);
    out->method = "pid-fallback";
    if (os->proc_pidpath(os->context, pid, &path, &path_len).code == 0) {
      out->status = FLOWID_STATUS_UNVERIFIED;
      out->has_identity = 1;
      out->identity.path = path;
      out->identity.path_len = path_len;
      return;
    }
    out->status = FLOWID_STATUS_UNKNOWN;
    return;
  }
  out->status =
      outcome.domain == FLOWID_DOMAIN_OSSTATUS &&
              (outcome.code == FLOWID_OSSTATUS_ESRCH || outcome.code == FLOWID_SECCS_GUEST_INVALID)
          ? FLOWID_STATUS_GONE
          : FLOWID_STATUS_UNKNOWN;
}

static uint32_t cfilter_decision(uint32_t status) {
  switch (status) {
    case FLOWID_STATUS_VERIFIED:
      return FLOWID_DECISION_ALLOW;
    case FLOWID_STATUS_UNVERIFIED:
      return FLOWID_DECISION_ASK;
    default:
      return FLOWID_DECISION_DROP;
  }
}

#endif
