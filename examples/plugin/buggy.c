/*
 * A deliberately buggy resolver plugin: the classic pid-path mistake. It turns the flow's token
 * into a bare pid, asks proc_pidpath "what runs under this pid NOW" and calls the answer
 * verified. When the process exited and the pid was reused (fault F1), exec'd after the flow
 * (F4), or lost the race between flow and lookup (F2), the path belongs to another program, and
 * a rule that allows that program lets the flow through: flowid's oracle reports it as an I1
 * (verified but wrong) and I4 (verdict safety) violation.
 *
 * flowid's own test suite builds this and checks that `flowid fuzz --resolver ./libbuggy.so` and
 * `flowid replay --mode model --resolver ./libbuggy.so` catch it.
 */
#include <flowid/plugin.h>
#include <string.h>

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* source = &flow->source_process_audit_token;
  const char* path = NULL;
  size_t path_len = 0;
  int32_t pid;
  flowid_outcome outcome;
  (void)instance;
  (void)now_ns;

  if (!source->present) source = &flow->source_app_audit_token;
  if (!source->present || source->size_bytes != FLOWID_AUDIT_TOKEN_SIZE_BYTES) {
    out->status = FLOWID_STATUS_UNKNOWN;
    out->method = "no-token";
    return;
  }
  pid = seam->audit_token_to_pid(seam->context, &source->token);
  outcome = seam->proc_pidpath(seam->context, pid, &path, &path_len);
  if (outcome.code != 0) {
    out->status = FLOWID_STATUS_UNKNOWN;
    out->method = "pid-path";
    return;
  }
  /* The bug: a path read by bare pid is claimed as verified and as the token's execution. */
  out->status = FLOWID_STATUS_VERIFIED;
  out->has_identity = 1;
  memset(&out->identity, 0, sizeof out->identity);
  out->identity.path = path;
  out->identity.path_len = path_len;
  out->has_claimed_execution = 1;
  out->claimed_pid = pid;
  out->claimed_pidversion = source->token.words[FLOWID_TOKEN_PIDVERSION];
  out->method = "pid-path";
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION, "buggy", NULL, NULL, NULL, resolve, NULL, NULL,
};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
