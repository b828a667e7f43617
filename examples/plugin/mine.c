/*
 * An example resolver plugin, written the way a flowid user would write one: plain C, only
 * <flowid/plugin.h>, every question asked through the seam.
 *
 * Strategy ("token first, safe fallback"):
 * 1. Take the flow's process token (the socket's creator); fall back to the app token only when
 *    the process token is absent altogether. A malformed token gives "unknown".
 * 2. The token-bound chain guest_by_audit_token -> static_code -> code_path ->
 *    signing_information: every answer belongs to exactly the execution the token names, so
 *    success is "verified".
 * 3. ESRCH or errSecCSGuestInvalid: the execution is gone; say so and do NOT look the pid up
 *    again (whatever has the pid now is another execution).
 * 4. Any other failure (EPERM for a sandboxed caller): proc_pidpath_audittoken, which the kernel
 *    checks against pidversion. Success is a path, not a verified signature: "unverified".
 * 5. If that is refused too: read the pid's current token, the path by pid, and the token again;
 *    both tokens must name the flow's (pid, pidversion), or the answer belongs to someone else.
 *
 * Build: cc -shared -fPIC -I<flowid>/include mine.c -o libmine.so
 * Test:  flowid replay --mode model --resolver ./libmine.so TRACE...
 */
#include <flowid/plugin.h>
#include <stdlib.h>
#include <string.h>

/* Per-instance state. The seam lends strings only until its next call, and in step 5 a seam call
 * comes after the path is read, so the path is copied here; the attribution may point into it
 * because flowid copies the answer before it calls this instance again. */
#define MINE_PATH_CAPACITY 4096
typedef struct mine_instance {
  char path[MINE_PATH_CAPACITY];
} mine_instance;

static void* create_instance(void* user_data) {
  (void)user_data;
  return calloc(1, sizeof(mine_instance));
}

static void destroy_instance(void* instance) { free(instance); }

static int is_gone(flowid_outcome outcome) {
  return (outcome.domain == FLOWID_DOMAIN_OSSTATUS &&
          (outcome.code == FLOWID_OSSTATUS_ESRCH || outcome.code == FLOWID_SECCS_GUEST_INVALID)) ||
         (outcome.domain == FLOWID_DOMAIN_ERRNO && outcome.code == FLOWID_ERRNO_ESRCH);
}

static uint32_t failure_status(flowid_outcome outcome) {
  return is_gone(outcome) ? FLOWID_STATUS_GONE : FLOWID_STATUS_UNKNOWN;
}

static int same_execution(const flowid_audit_token* a, const flowid_audit_token* b) {
  return a->words[FLOWID_TOKEN_PID] == b->words[FLOWID_TOKEN_PID] &&
         a->words[FLOWID_TOKEN_PIDVERSION] == b->words[FLOWID_TOKEN_PIDVERSION];
}

static void claim(flowid_attribution* out, uint32_t status, const flowid_audit_token* token,
                  const char* method) {
  out->status = status;
  out->has_claimed_execution = 1;
  out->claimed_pid = (int32_t)token->words[FLOWID_TOKEN_PID];
  out->claimed_pidversion = token->words[FLOWID_TOKEN_PIDVERSION];
  out->method = method;
}

static void claim_path(flowid_attribution* out, const flowid_audit_token* token, const char* path,
                       size_t path_len, const char* method) {
  claim(out, FLOWID_STATUS_UNVERIFIED, token, method);
  out->has_identity = 1;
  memset(&out->identity, 0, sizeof out->identity);
  out->identity.path = path;
  out->identity.path_len = path_len;
}

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* source = &flow->source_process_audit_token;
  const flowid_audit_token* token;
  flowid_code_ref code = 0;
  flowid_code_ref on_disk = 0;
  const char* path = NULL;
  size_t path_len = 0;
  flowid_outcome outcome;
  flowid_audit_token before;
  flowid_audit_token after;
  int32_t pid;
  mine_instance* self = (mine_instance*)instance;
  (void)now_ns;

  if (!source->present) source = &flow->source_app_audit_token;
  if (!source->present || source->size_bytes != FLOWID_AUDIT_TOKEN_SIZE_BYTES) {
    out->status = FLOWID_STATUS_UNKNOWN;
    out->method = source->present ? "malformed-token" : "no-token";
    return;
  }
  token = &source->token;

  /* 2. The token-bound chain. */
  outcome = seam->guest_by_audit_token(seam->context, token, &code);
  if (outcome.code == 0) outcome = seam->static_code(seam->context, code, &on_disk);
  if (outcome.code == 0) outcome = seam->code_path(seam->context, on_disk, &path, &path_len);
  if (outcome.code == 0) {
    outcome = seam->signing_information(seam->context, on_disk, &out->identity);
    if (outcome.code == 0) {
      /* signing_information's identity carries the code's path already. */
      out->has_identity = 1;
      claim(out, FLOWID_STATUS_VERIFIED, token, "token");
      return;
    }
  }
  /* 3. Gone: no second look by pid. */
  if (is_gone(outcome)) {
    claim(out, FLOWID_STATUS_GONE, token, "token");
    return;
  }

  /* 4. The kernel-checked path. */
  outcome = seam->proc_pidpath_audittoken(seam->context, token, &path, &path_len);
  if (outcome.code == 0) {
    claim_path(out, token, path, path_len, "audittoken-path");
    return;
  }
  if (is_gone(outcome)) {
    claim(out, FLOWID_STATUS_GONE, token, "audittoken-path");
    return;
  }

  /* 5. Path by pid, between two reads of the pid's current token. */
  pid = seam->audit_token_to_pid(seam->context, token);
  outcome = seam->token_for_pid(seam->context, pid, &before);
  if (outcome.code != 0) {
    claim(out, failure_status(outcome), token, "pid-recheck");
    return;
  }
  if (!same_execution(&before, token)) {
    claim(out, FLOWID_STATUS_GONE, token, "pid-recheck");
    return;
  }
  outcome = seam->proc_pidpath(seam->context, pid, &path, &path_len);
  if (outcome.code != 0) {
    claim(out, failure_status(outcome), token, "pid-recheck");
    return;
  }
  if (path_len >= sizeof self->path) {
    claim(out, FLOWID_STATUS_UNKNOWN, token, "path-too-long");
    return;
  }
  memcpy(self->path, path, path_len);
  self->path[path_len] = '\0';
  outcome = seam->token_for_pid(seam->context, pid, &after);
  if (outcome.code != 0) {
    claim(out, failure_status(outcome), token, "pid-recheck");
    return;
  }
  if (!same_execution(&after, token)) {
    claim(out, FLOWID_STATUS_GONE, token, "pid-recheck");
    return;
  }
  claim_path(out, token, self->path, path_len, "pid-recheck");
}

static const flowid_plugin kPlugin = {
    FLOWID_PLUGIN_ABI_VERSION,
    "mine",
    NULL, /* user_data */
    create_instance,
    destroy_instance,
    resolve,
    NULL, /* decide: leave verdicts to flowid's rules */
    NULL, /* launch */
};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
