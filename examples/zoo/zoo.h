/* Helpers shared by the bug zoo's plugins (examples/zoo/). Each zoo plugin is one plausible
 * production mistake in an otherwise ordinary resolver or launcher; what they share here is the
 * ordinary part: picking the flow's token, the token lookup chain, filling a claim, and a small
 * identity cache with its own copies of the strings (seam strings die at the next seam call).
 * Nothing in this file is wrong on purpose: every bug lives in its plugin's own .c file. */
#ifndef FLOWID_ZOO_H
#define FLOWID_ZOO_H

#include <flowid/plugin.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Sizes of the cache a zoo plugin keeps per instance. */
#define ZOO_PATH_MAX 1024
#define ZOO_ID_MAX 256
#define ZOO_CACHE_SLOTS 16

static inline int zoo_usable(const flowid_flow_token* t) {
  return t->present && t->size_bytes == FLOWID_AUDIT_TOKEN_SIZE_BYTES;
}

/* The socket's creator when the flow carries it (macOS 13+), else the app token; NULL when
 * neither is usable. */
static inline const flowid_flow_token* zoo_pick_token(const flowid_flow* flow) {
  if (flow->source_process_audit_token.present) {
    return zoo_usable(&flow->source_process_audit_token) ? &flow->source_process_audit_token : NULL;
  }
  return zoo_usable(&flow->source_app_audit_token) ? &flow->source_app_audit_token : NULL;
}

/* "That execution is gone": ESRCH as an OSStatus (Security framework) or as an errno
 * (proc_pidpath_audittoken), or errSecCSGuestInvalid. */
static inline int zoo_is_gone(flowid_outcome o) {
  if (o.domain == FLOWID_DOMAIN_ERRNO) return o.code == FLOWID_ERRNO_ESRCH;
  return o.domain == FLOWID_DOMAIN_OSSTATUS &&
         (o.code == FLOWID_OSSTATUS_ESRCH || o.code == FLOWID_SECCS_GUEST_INVALID);
}

static inline int zoo_is_eperm(flowid_outcome o) {
  return o.domain == FLOWID_DOMAIN_OSSTATUS && o.code == FLOWID_OSSTATUS_EPERM;
}

/* The token chain: the running code of exactly that execution, and its signing information. */
static inline flowid_outcome zoo_token_identity(const flowid_seam* seam,
                                                const flowid_audit_token* token,
                                                flowid_code_identity* identity) {
  flowid_code_ref code = 0;
  flowid_outcome o = seam->guest_by_audit_token(seam->context, token, &code);
  if (o.code == 0) o = seam->signing_information(seam->context, code, identity);
  return o;
}

static inline void zoo_claim(flowid_attribution* out, uint32_t status,
                             const flowid_code_identity* id, int32_t pid, uint32_t pidversion,
                             const char* method) {
  out->status = status;
  out->method = method;
  if (id != NULL) {
    out->has_identity = 1;
    out->identity = *id;
  }
  out->has_claimed_execution = 1;
  out->claimed_pid = pid;
  out->claimed_pidversion = pidversion;
}

/* An identity with its own copies of the strings. */
typedef struct zoo_saved {
  char path[ZOO_PATH_MAX];
  char signing_id[ZOO_ID_MAX];
  char team_id[ZOO_ID_MAX];
  flowid_code_identity identity;
} zoo_saved;

static inline int zoo_copy_string(char* dst, size_t cap, const char* src, size_t len) {
  if (len >= cap) return 0;
  if (len > 0) memcpy(dst, src, len);
  dst[len] = '\0';
  return 1;
}

/* Copies id into s; 0 when a string does not fit (then s is not usable). */
static inline int zoo_save(zoo_saved* s, const flowid_code_identity* id) {
  if (!zoo_copy_string(s->path, sizeof s->path, id->path, id->path_len) ||
      !zoo_copy_string(s->signing_id, sizeof s->signing_id, id->signing_id, id->signing_id_len) ||
      !zoo_copy_string(s->team_id, sizeof s->team_id, id->team_id, id->team_id_len)) {
    return 0;
  }
  s->identity = *id;
  s->identity.path = s->path;
  s->identity.signing_id = s->signing_id;
  s->identity.team_id = s->team_id;
  return 1;
}

/* A fixed-size cache of identities under an integer key (pid, or pid and pidversion) or a path
 * key; the oldest slot is overwritten when full. */
typedef struct zoo_entry {
  int used;
  int32_t pid;
  uint32_t pidversion;
  uint64_t stored_ns;
  zoo_saved saved;
} zoo_entry;

typedef struct zoo_cache {
  zoo_entry slots[ZOO_CACHE_SLOTS];
  unsigned next;
  /* The strings of the last answer handed back, kept until the next call. */
  zoo_saved answer;
} zoo_cache;

static inline void* zoo_cache_create(void* user_data) {
  (void)user_data;
  return calloc(1, sizeof(zoo_cache));
}

static inline void zoo_cache_destroy(void* instance) { free(instance); }

static inline zoo_entry* zoo_cache_by_pid(zoo_cache* c, int32_t pid) {
  unsigned i;
  for (i = 0; i < ZOO_CACHE_SLOTS; ++i) {
    if (c->slots[i].used && c->slots[i].pid == pid) return &c->slots[i];
  }
  return NULL;
}

static inline zoo_entry* zoo_cache_by_path(zoo_cache* c, const char* path, size_t len) {
  unsigned i;
  for (i = 0; i < ZOO_CACHE_SLOTS; ++i) {
    const zoo_saved* s = &c->slots[i].saved;
    if (c->slots[i].used && s->identity.path_len == len && memcmp(s->path, path, len) == 0) {
      return &c->slots[i];
    }
  }
  return NULL;
}

/* Stores id under (pid, pidversion); returns the entry, or NULL when it could not be copied. */
static inline zoo_entry* zoo_cache_put(zoo_cache* c, int32_t pid, uint32_t pidversion,
                                       uint64_t now_ns, const flowid_code_identity* id) {
  zoo_entry* e = zoo_cache_by_path(c, id->path, id->path_len);
  zoo_entry* same_pid = zoo_cache_by_pid(c, pid);
  if (same_pid != NULL) e = same_pid;
  if (e == NULL) {
    e = &c->slots[c->next];
    c->next = (c->next + 1) % ZOO_CACHE_SLOTS;
  }
  if (!zoo_save(&e->saved, id)) {
    e->used = 0;
    return NULL;
  }
  e->used = 1;
  e->pid = pid;
  e->pidversion = pidversion;
  e->stored_ns = now_ns;
  return e;
}

/* Hands back a cached identity: copied into the instance's answer slot, which lives until the
 * next call on the instance (a later put may overwrite the entry itself). */
static inline const flowid_code_identity* zoo_answer(zoo_cache* c, const zoo_entry* e) {
  c->answer = e->saved;
  c->answer.identity.path = c->answer.path;
  c->answer.identity.signing_id = c->answer.signing_id;
  c->answer.identity.team_id = c->answer.team_id;
  return &c->answer.identity;
}

static inline int zoo_prefix(const char* s, size_t len, const char* prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(s, prefix, n) == 0;
}

#define ZOO_PLUGIN(NAME, CREATE, DESTROY, RESOLVE, DECIDE, LAUNCH)                           \
  static const flowid_plugin kZooPlugin = {                                                  \
      FLOWID_PLUGIN_ABI_VERSION, NAME, NULL, CREATE, DESTROY, RESOLVE, DECIDE, LAUNCH};      \
  FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) { \
    return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kZooPlugin : NULL;               \
  }

/* The plain token resolver (guest by token, signing information of the running code): what the
 * launcher zoo plugins use for resolve, so that their findings come from launch. */
static inline void zoo_token_resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                                     const flowid_seam* seam, flowid_attribution* out) {
  const flowid_flow_token* t = zoo_pick_token(flow);
  flowid_code_identity id;
  flowid_outcome o;
  (void)instance;
  (void)now_ns;
  out->method = "token";
  if (t == NULL) return;
  memset(&id, 0, sizeof id);
  o = zoo_token_identity(seam, &t->token, &id);
  if (o.code == 0) {
    zoo_claim(out, FLOWID_STATUS_VERIFIED, &id, (int32_t)t->token.words[FLOWID_TOKEN_PID],
              t->token.words[FLOWID_TOKEN_PIDVERSION], "token");
  } else if (zoo_is_gone(o)) {
    out->status = FLOWID_STATUS_GONE;
  }
}

#endif
