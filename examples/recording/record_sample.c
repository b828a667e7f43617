/* flowid_record_sample TRACE [DUMP_PREFIX]: the C filter of cfilter.c, run against a small fake
 * OS, records three flows to TRACE through include/flowid/record.h; with DUMP_PREFIX it also
 * runs a flight recorder that dumps the last 8 events to DUMP_PREFIX-1.trace when a flow is
 * dropped. What a product does, minus the real OS: the table `os` below is where a macOS filter
 * puts SecCodeCopyGuestWithAttributes, proc_pidpath and friends.
 *
 * The fake OS: a signed app (verified -> allow), a helper the sandboxed filter may not look up
 * by token (EPERM -> pid fallback, unverified -> ask) and a program that exited before its flow
 * was handled (ESRCH -> gone -> drop). Exit 0 on success, 1 on a recording error (printed). */
#include <stdio.h>
#include <string.h>

#include "examples/recording/cfilter.h"

typedef struct fake_process {
  int32_t pid;
  uint32_t pidversion;
  const char* path;
  const char* signing_id;
  const char* team_id;
  uint32_t signature;
  int alive;
  int eperm; /* the sandbox refuses token lookups of it. */
} fake_process;

static const fake_process kProcesses[] = {
    {100, 2, "/Applications/Good.app/Contents/MacOS/Good", "com.example.good", "GOODTEAM01",
     FLOWID_SIGNATURE_DEVELOPER_ID, 1, 0},
    {101, 3, "/usr/libexec/helperd", "com.apple.helperd", "", FLOWID_SIGNATURE_PLATFORM, 1, 1},
    {102, 4, "/tmp/x", "", "", FLOWID_SIGNATURE_UNSIGNED, 0, 0},
};
#define PROCESS_COUNT (sizeof kProcesses / sizeof kProcesses[0])

static flowid_outcome ok(void) {
  flowid_outcome o = {FLOWID_DOMAIN_OSSTATUS, 0};
  return o;
}
static flowid_outcome osstatus(int32_t code) {
  flowid_outcome o = {FLOWID_DOMAIN_OSSTATUS, code};
  return o;
}
static flowid_outcome unsupported(void) {
  flowid_outcome o = {FLOWID_DOMAIN_KERN_RETURN, FLOWID_KERN_FAILURE};
  return o;
}

/* Code refs: 1 + index for running code, 101 + index for the code on disk. */
static const fake_process* by_code(flowid_code_ref code) {
  if (code >= 101 && code < 101 + PROCESS_COUNT) return &kProcesses[code - 101];
  if (code >= 1 && code < 1 + PROCESS_COUNT) return &kProcesses[code - 1];
  return NULL;
}

static flowid_outcome guest_by_audit_token(void* c, const flowid_audit_token* token,
                                           flowid_code_ref* out) {
  size_t i;
  (void)c;
  for (i = 0; i < PROCESS_COUNT; ++i) {
    const fake_process* p = &kProcesses[i];
    if ((uint32_t)p->pid != token->words[FLOWID_TOKEN_PID] ||
        p->pidversion != token->words[FLOWID_TOKEN_PIDVERSION])
      continue;
    if (!p->alive) return osstatus(FLOWID_OSSTATUS_ESRCH);
    if (p->eperm) return osstatus(FLOWID_OSSTATUS_EPERM);
    *out = 1 + i;
    return ok();
  }
  return osstatus(FLOWID_OSSTATUS_ESRCH);
}
static flowid_outcome guest_by_pid(void* c, int32_t pid, flowid_code_ref* out) {
  (void)c;
  (void)pid;
  (void)out;
  return unsupported();
}
static flowid_outcome static_code(void* c, flowid_code_ref code, flowid_code_ref* out) {
  (void)c;
  if (code < 1 || code > PROCESS_COUNT) return osstatus(FLOWID_SECCS_INVALID_OBJECT_REF);
  *out = code + 100;
  return ok();
}
static flowid_outcome code_path(void* c, flowid_code_ref code, const char** path, size_t* len) {
  const fake_process* p = by_code(code);
  (void)c;
  if (p == NULL) return osstatus(FLOWID_SECCS_INVALID_OBJECT_REF);
  *path = p->path;
  *len = strlen(p->path);
  return ok();
}
static flowid_outcome check_validity(void* c, flowid_code_ref code, const char* requirement) {
  (void)c;
  (void)code;
  (void)requirement;
  return unsupported();
}
static flowid_outcome signing_information(void* c, flowid_code_ref code,
                                          flowid_code_identity* out) {
  const fake_process* p = by_code(code);
  (void)c;
  if (p == NULL) return osstatus(FLOWID_SECCS_INVALID_OBJECT_REF);
  memset(out, 0, sizeof *out);
  out->path = p->path;
  out->path_len = strlen(p->path);
  out->signing_id = p->signing_id;
  out->signing_id_len = strlen(p->signing_id);
  out->team_id = p->team_id;
  out->team_id_len = strlen(p->team_id);
  out->signature = p->signature;
  out->platform = p->signature == FLOWID_SIGNATURE_PLATFORM;
  return ok();
}
static int32_t audit_token_to_pid(void* c, const flowid_audit_token* token) {
  (void)c;
  return (int32_t)token->words[FLOWID_TOKEN_PID];
}
static flowid_outcome proc_pidpath(void* c, int32_t pid, const char** path, size_t* len) {
  size_t i;
  (void)c;
  for (i = 0; i < PROCESS_COUNT; ++i) {
    if (kProcesses[i].pid == pid && kProcesses[i].alive) {
      *path = kProcesses[i].path;
      *len = strlen(kProcesses[i].path);
      return ok();
    }
  }
  return osstatus(FLOWID_OSSTATUS_ESRCH);
}
static flowid_outcome proc_pidpath_audittoken(void* c, const flowid_audit_token* token,
                                              const char** path, size_t* len) {
  (void)c;
  (void)token;
  (void)path;
  (void)len;
  return unsupported();
}
static flowid_outcome token_for_pid(void* c, int32_t pid, flowid_audit_token* out) {
  (void)c;
  (void)pid;
  (void)out;
  return unsupported();
}
static flowid_outcome kill_zero(void* c, int32_t pid) {
  (void)c;
  (void)pid;
  return unsupported();
}
static flowid_outcome responsible_pid(void* c, int32_t pid, int32_t* out) {
  (void)c;
  (void)pid;
  (void)out;
  return unsupported();
}

static uint64_t g_now = 0;
static uint64_t clock_now(void* context) {
  (void)context;
  return g_now;
}

static int check(flowid_rec_status status, const char* what) {
  if (status == FLOWID_REC_OK) return 1;
  fprintf(stderr, "flowid_record_sample: %s: %s\n", what, flowid_rec_error_message());
  return 0;
}

/* Records the three flows through `recorder`. */
static int run_filter(flowid_recorder* recorder, const flowid_seam* os) {
  cfilter filter;
  size_t i;
  memset(&filter, 0, sizeof filter);
  filter.os = os;
  filter.recorder = recorder;
  filter.now_ns = clock_now;
  for (i = 0; i < PROCESS_COUNT; ++i) {
    const fake_process* p = &kProcesses[i];
    flowid_rec_flow flow;
    uint32_t decision;
    memset(&flow, 0, sizeof flow);
    flow.flow.flow_id = 1 + i;
    flow.flow.source_app_audit_token.present = 1;
    flow.flow.source_app_audit_token.size_bytes = FLOWID_AUDIT_TOKEN_SIZE_BYTES;
    flow.flow.source_app_audit_token.token.words[FLOWID_TOKEN_PID] = (uint32_t)p->pid;
    flow.flow.source_app_audit_token.token.words[FLOWID_TOKEN_PIDVERSION] = p->pidversion;
    flow.flow.source_process_audit_token = flow.flow.source_app_audit_token;
    flow.flow.source_app_identifier = p->signing_id;
    flow.flow.remote_hostname = "api.example.com";
    flow.flow.remote_address = "93.184.216.34";
    flow.flow.remote_port = 443;
    flow.flow.direction = FLOWID_DIRECTION_OUTBOUND;
    flow.flow.protocol = 6; /* TCP */
    flow.flow.family = 2;   /* AF_INET */
    flow.flow.type = 1;     /* SOCK_STREAM */
    flow.flow.proc_pid = p->pid;
    flow.flow.eproc_pid = p->pid;
    g_now += 1000000;
    decision = cfilter_handle_new_flow(&filter, &flow);
    printf("flow %u: %s\n", (unsigned)(1 + i),
           decision == FLOWID_DECISION_ALLOW  ? "allow"
           : decision == FLOWID_DECISION_DROP ? "drop"
                                              : "ask");
  }
  return filter.record_failures == 0;
}

int main(int argc, char** argv) {
  flowid_seam os;
  flowid_rec_options options;
  flowid_recorder* recorder = NULL;
  const flowid_rec_config_entry config[] = {{"strategy", "cfilter"}};
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: flowid_record_sample TRACE [DUMP_PREFIX]\n");
    return 2;
  }
  memset(&os, 0, sizeof os);
  os.abi_version = FLOWID_PLUGIN_ABI_VERSION;
  os.guest_by_audit_token = guest_by_audit_token;
  os.guest_by_pid = guest_by_pid;
  os.static_code = static_code;
  os.code_path = code_path;
  os.check_validity = check_validity;
  os.signing_information = signing_information;
  os.audit_token_to_pid = audit_token_to_pid;
  os.proc_pidpath = proc_pidpath;
  os.proc_pidpath_audittoken = proc_pidpath_audittoken;
  os.token_for_pid = token_for_pid;
  os.kill_zero = kill_zero;
  os.responsible_pid = responsible_pid;

  flowid_rec_options_init(&options);
  options.recorder_name = "flowid_record_sample 1.0";
  options.clock = "virtual";
  options.caller_sandboxed = 1;
  options.caller_root = 1;
  options.config = config;
  options.config_count = 1;
  if (!check(flowid_rec_open_file(argv[1], &options, &recorder), "open")) return 1;
  if (!run_filter(recorder, &os)) return 1;
  if (!check(flowid_rec_close(recorder), "close")) return 1;

  if (argc == 3) { /* The same session into a flight recorder that dumps on a dropped flow. */
    flowid_rec_trigger trigger;
    memset(&trigger, 0, sizeof trigger);
    trigger.kind = FLOWID_TRIGGER_VERDICT_DECISION;
    trigger.value = FLOWID_DECISION_DROP;
    trigger.window.max_events = 8;
    trigger.path_prefix = argv[2];
    trigger.max_dumps = 1;
    g_now = 0;
    if (!check(flowid_rec_open_ring(&options, &recorder), "open ring")) return 1;
    if (!check(flowid_rec_add_trigger(recorder, &trigger), "trigger")) return 1;
    if (!run_filter(recorder, &os)) return 1;
    if (!check(flowid_rec_close(recorder), "close ring")) return 1;
  }
  return 0;
}
