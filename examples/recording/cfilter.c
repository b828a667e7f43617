/* The C test filter (cfilter.h): handleNewFlow, with a recording wrapper around its OS table.
 * The wrapper is a flowid_seam whose every member calls the real one and records the call with
 * its arguments, outcome and returned data, filled as flowid's own seam records them (so that
 * faithful replay matches the replayed resolver's calls to these). Compiled as C99. */
#include "cfilter.h"

#include <string.h>

#include "cfilter_resolve.h"

typedef struct recording_os {
  flowid_seam table;
  cfilter* filter;
  uint64_t flow_id;
} recording_os;

static const flowid_seam* inner(void* context) { return ((recording_os*)context)->filter->os; }

static void record(void* context, flowid_rec_lookup* lookup) {
  recording_os* r = (recording_os*)context;
  lookup->flow_id = r->flow_id;
  if (flowid_rec_lookup_event(r->filter->recorder, r->filter->now_ns(r->filter->clock_context),
                              lookup) != FLOWID_REC_OK)
    ++r->filter->record_failures;
}

static flowid_rec_lookup lookup_of(uint32_t call) {
  flowid_rec_lookup l;
  memset(&l, 0, sizeof l);
  l.call = call;
  return l;
}

static flowid_outcome rec_guest_by_audit_token(void* context, const flowid_audit_token* token,
                                               flowid_code_ref* code_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->guest_by_audit_token(os->context, token, code_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_GUEST_BY_AUDIT_TOKEN);
  l.has_token = 1;
  l.token = *token;
  l.outcome = o;
  if (o.code == 0) l.returned_code = *code_out;
  record(context, &l);
  return o;
}

static flowid_outcome rec_guest_by_pid(void* context, int32_t pid, flowid_code_ref* code_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->guest_by_pid(os->context, pid, code_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_GUEST_BY_PID);
  l.pid = pid;
  l.outcome = o;
  if (o.code == 0) l.returned_code = *code_out;
  record(context, &l);
  return o;
}

static flowid_outcome rec_static_code(void* context, flowid_code_ref code,
                                      flowid_code_ref* static_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->static_code(os->context, code, static_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_STATIC_CODE);
  l.code = code;
  l.outcome = o;
  if (o.code == 0) l.returned_code = *static_out;
  record(context, &l);
  return o;
}

static flowid_outcome rec_code_path(void* context, flowid_code_ref code, const char** path_out,
                                    size_t* path_len_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->code_path(os->context, code, path_out, path_len_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_CODE_PATH);
  l.code = code;
  l.outcome = o;
  if (o.code == 0) {
    l.returned_path = *path_out;
    l.returned_path_len = *path_len_out;
  }
  record(context, &l);
  return o;
}

static flowid_outcome rec_check_validity(void* context, flowid_code_ref code,
                                         const char* requirement) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->check_validity(os->context, code, requirement);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_CHECK_VALIDITY);
  l.code = code;
  l.requirement = requirement;
  l.outcome = o;
  record(context, &l);
  return o;
}

static flowid_outcome rec_signing_information(void* context, flowid_code_ref code,
                                              flowid_code_identity* identity_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->signing_information(os->context, code, identity_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_SIGNING_INFORMATION);
  l.code = code;
  l.outcome = o;
  if (o.code == 0) {
    l.returned_has_identity = 1;
    l.returned_identity = *identity_out;
  }
  record(context, &l);
  return o;
}

static int32_t rec_audit_token_to_pid(void* context, const flowid_audit_token* token) {
  const flowid_seam* os = inner(context);
  int32_t pid = os->audit_token_to_pid(os->context, token);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_AUDIT_TOKEN_TO_PID);
  l.has_token = 1;
  l.token = *token;
  l.returned_pid = pid;
  record(context, &l);
  return pid;
}

static flowid_outcome rec_proc_pidpath(void* context, int32_t pid, const char** path_out,
                                       size_t* path_len_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->proc_pidpath(os->context, pid, path_out, path_len_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_PROC_PIDPATH);
  l.pid = pid;
  l.outcome = o;
  if (o.code == 0) {
    l.returned_path = *path_out;
    l.returned_path_len = *path_len_out;
  }
  record(context, &l);
  return o;
}

static flowid_outcome rec_proc_pidpath_audittoken(void* context, const flowid_audit_token* token,
                                                  const char** path_out, size_t* path_len_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->proc_pidpath_audittoken(os->context, token, path_out, path_len_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_PROC_PIDPATH_AUDITTOKEN);
  l.has_token = 1;
  l.token = *token;
  l.outcome = o;
  if (o.code == 0) {
    l.returned_path = *path_out;
    l.returned_path_len = *path_len_out;
  }
  record(context, &l);
  return o;
}

static flowid_outcome rec_token_for_pid(void* context, int32_t pid, flowid_audit_token* token_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->token_for_pid(os->context, pid, token_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_TOKEN_FOR_PID);
  l.pid = pid;
  l.outcome = o;
  if (o.code == 0) {
    l.returned_has_token = 1;
    l.returned_token = *token_out;
  }
  record(context, &l);
  return o;
}

static flowid_outcome rec_kill_zero(void* context, int32_t pid) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->kill_zero(os->context, pid);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_KILL_ZERO);
  l.pid = pid;
  l.outcome = o;
  record(context, &l);
  return o;
}

static flowid_outcome rec_responsible_pid(void* context, int32_t pid, int32_t* pid_out) {
  const flowid_seam* os = inner(context);
  flowid_outcome o = os->responsible_pid(os->context, pid, pid_out);
  flowid_rec_lookup l = lookup_of(FLOWID_CALL_RESPONSIBLE_PID);
  l.pid = pid;
  l.outcome = o;
  if (o.code == 0) l.returned_pid = *pid_out;
  record(context, &l);
  return o;
}

uint32_t cfilter_handle_new_flow(cfilter* filter, const flowid_rec_flow* flow) {
  recording_os os;
  flowid_attribution attribution;
  uint32_t decision;
  memset(&os, 0, sizeof os);
  memset(&attribution, 0, sizeof attribution);
  attribution.status = FLOWID_STATUS_UNKNOWN;
  os.table.abi_version = FLOWID_PLUGIN_ABI_VERSION;
  os.table.context = &os;
  os.table.guest_by_audit_token = rec_guest_by_audit_token;
  os.table.guest_by_pid = rec_guest_by_pid;
  os.table.static_code = rec_static_code;
  os.table.code_path = rec_code_path;
  os.table.check_validity = rec_check_validity;
  os.table.signing_information = rec_signing_information;
  os.table.audit_token_to_pid = rec_audit_token_to_pid;
  os.table.proc_pidpath = rec_proc_pidpath;
  os.table.proc_pidpath_audittoken = rec_proc_pidpath_audittoken;
  os.table.token_for_pid = rec_token_for_pid;
  os.table.kill_zero = rec_kill_zero;
  os.table.responsible_pid = rec_responsible_pid;
  os.filter = filter;
  os.flow_id = flow->flow.flow_id;

  if (flowid_rec_flow_event(filter->recorder, filter->now_ns(filter->clock_context), flow) !=
      FLOWID_REC_OK)
    ++filter->record_failures;
  cfilter_resolve(&os.table, &flow->flow, &attribution);
  decision = cfilter_decision(attribution.status);
  if (flowid_rec_verdict(filter->recorder, filter->now_ns(filter->clock_context),
                         flow->flow.flow_id, decision, &attribution, "cfilter") != FLOWID_REC_OK)
    ++filter->record_failures;
  return decision;
}
