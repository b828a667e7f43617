/* sound_app_first (SOUND): delegation-aware, app first, every call by token.
 *
 * For a delegated flow the user wants to see the app, so this resolver tries the source app
 * token first and the process token second; for an ordinary flow there is one token. Each try is
 * by token only: the path through proc_pidpath_audittoken (kernel-checked against the
 * pidversion), the identity through the guest by audit token, and the two must agree. An app
 * that has quit fails its token lookup (ESRCH) and the process token is used instead. Must
 * produce no violation anywhere. */
#include "zoo.h"

static flowid_outcome by_token(const flowid_seam* seam, const flowid_audit_token* token,
                               flowid_code_identity* id) {
  const char* path = NULL;
  size_t path_len = 0;
  flowid_outcome o = seam->proc_pidpath_audittoken(seam->context, token, &path, &path_len);
  char copy[ZOO_PATH_MAX];
  if (o.code != 0) return o;
  if (!zoo_copy_string(copy, sizeof copy, path, path_len)) {
    o.domain = FLOWID_DOMAIN_OSSTATUS;
    o.code = FLOWID_SECCS_INVALID_OBJECT_REF;
    return o;
  }
  o = zoo_token_identity(seam, token, id);
  if (o.code == 0 && (id->path_len != path_len || memcmp(id->path, copy, path_len) != 0)) {
    o.domain = FLOWID_DOMAIN_OSSTATUS;
    o.code = FLOWID_OSSTATUS_ESRCH; /* another image by now: that execution is not running. */
  }
  return o;
}

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* tries[2];
  flowid_code_identity id;
  flowid_outcome o = {FLOWID_DOMAIN_OSSTATUS, FLOWID_SECCS_INVALID_OBJECT_REF};
  int n = 0;
  int i;
  (void)instance;
  (void)now_ns;
  out->method = "app-first";
  if (zoo_usable(&flow->source_app_audit_token)) tries[n++] = &flow->source_app_audit_token;
  if (zoo_usable(&flow->source_process_audit_token)) tries[n++] = &flow->source_process_audit_token;
  for (i = 0; i < n; ++i) {
    const flowid_audit_token* token = &tries[i]->token;
    memset(&id, 0, sizeof id);
    o = by_token(seam, token, &id);
    if (o.code == 0) {
      zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)token->words[FLOWID_TOKEN_PID],
                token->words[FLOWID_TOKEN_PIDVERSION], i == 0 && n == 2 ? "app-token" : "token");
      return;
    }
  }
  if (n > 0 && zoo_is_gone(o)) out->status = FLOWID_STATUS_GONE;
}

ZOO_PLUGIN("zoo_sound_app_first", NULL, NULL, resolve, NULL, NULL)
