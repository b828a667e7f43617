/*
 * flowid plugin ABI, version 1: how a user's resolver, written in any language that can export a
 * C function, is tested by flowid without rebuilding flowid.
 *
 * A plugin is a shared library that exports one function, flowid_plugin_entry. flowid calls it
 * once after loading the library, passing the ABI version it speaks; the plugin returns a table
 * (flowid_plugin) whose abi_version must equal the host's, or NULL to refuse. flowid checks the
 * version before it calls anything else and stops with an error naming the file when they differ.
 *
 * The plugin never touches the OS to answer "which program owns this flow": every question goes
 * through the seam (flowid_seam), a table of C function pointers with exactly the calls, argument
 * and result codes of flowid's C++ seam (harness/seam.h, DESIGN.md section 1). In a replay or a
 * fuzz run the answers come from a simulated or recorded world, which is how flowid can put the
 * resolver through pid reuse, exit races and exec-after-flow deterministically.
 *
 * Conventions.
 * - Every seam call returns a flowid_outcome {domain, code}; code 0 is success in every domain.
 *   The codes a resolver reacts to are named below (FLOWID_OSSTATUS_*, FLOWID_SECCS_*, ...).
 * - Strings the seam returns (paths, signing ids) are (pointer, length) pairs: paths are bytes,
 *   not necessarily UTF-8. They stay valid until the next call on the same seam, or until
 *   resolve returns, whichever comes first; copy what you keep. They are also NUL-terminated.
 * - Strings the host hands in (flow fields) are NUL-terminated and valid for the duration of the
 *   call they are passed to.
 * - Strings the plugin hands back (in flowid_attribution) must stay valid until the plugin's
 *   next call on the same instance, or until the instance is destroyed; the host copies them as
 *   soon as resolve returns.
 * - A plugin instance is used from one thread at a time. The host may create several instances
 *   (one per fuzz case, one per replayed trace) and use different instances on different threads
 *   at once, so per-instance state belongs in the instance, not in globals.
 * - Structs the host fills may grow in later versions only by appending fields, and only with a
 *   new ABI version.
 *
 * This header compiles as C99 and as C++.
 */
#ifndef FLOWID_PLUGIN_H
#define FLOWID_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOWID_PLUGIN_ABI_VERSION 1u

/* The name of the one symbol a plugin exports. */
#define FLOWID_PLUGIN_ENTRY_SYMBOL "flowid_plugin_entry"

#if defined(_WIN32)
#define FLOWID_PLUGIN_EXPORT __declspec(dllexport)
#else
#define FLOWID_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------------------------- */
/* Outcomes. */

/* Which error space a code belongs to. */
enum {
  FLOWID_DOMAIN_OSSTATUS = 0,   /* Security framework OSStatus. */
  FLOWID_DOMAIN_ERRNO = 1,      /* POSIX errno. */
  FLOWID_DOMAIN_KERN_RETURN = 2 /* Mach kern_return_t. */
};

/* Codes a resolver reacts to differently (the same values as flowid::codes). */
#define FLOWID_OSSTATUS_EPERM 100001       /* kPOSIXErrorEPERM: sandboxed caller. */
#define FLOWID_OSSTATUS_ESRCH 100003       /* kPOSIXErrorESRCH: that execution is gone. */
#define FLOWID_SECCS_NO_SUCH_CODE (-67065) /* errSecCSNoSuchCode */
#define FLOWID_SECCS_STATIC_CODE_CHANGED (-67034)
#define FLOWID_SECCS_REQ_FAILED (-67050)
#define FLOWID_SECCS_UNSIGNED (-67062)
#define FLOWID_SECCS_INVALID_OBJECT_REF (-67071) /* a handle that names nothing. */
#define FLOWID_SECCS_GUEST_INVALID (-67063)      /* the guest died under the handle. */
#define FLOWID_SECCS_REQ_INVALID (-67052)
#define FLOWID_SECCS_STATIC_CODE_NOT_FOUND (-67068)
#define FLOWID_KERN_INVALID_ARGUMENT 4
#define FLOWID_KERN_FAILURE 5
/* {FLOWID_DOMAIN_KERN_RETURN, FLOWID_KERN_ABORTED}: the host has aborted this resolve (for
 * example the per-flow bound on seam calls is spent). Every further seam call of the same resolve
 * returns it at once; the plugin should return promptly; its answer is discarded. */
#define FLOWID_KERN_ABORTED 14
#define FLOWID_ERRNO_ESRCH 3 /* as an errno (FLOWID_DOMAIN_ERRNO). */

typedef struct flowid_outcome {
  int32_t domain; /* FLOWID_DOMAIN_* */
  int32_t code;   /* 0 = success. */
} flowid_outcome;

/* ------------------------------------------------------------------------------------------- */
/* Tokens, flows, code identity. */

/* audit_token_t: 8 words in the kernel's order. (pid, pidversion) names one execution. */
enum {
  FLOWID_TOKEN_AUID = 0,
  FLOWID_TOKEN_EUID = 1,
  FLOWID_TOKEN_EGID = 2,
  FLOWID_TOKEN_RUID = 3,
  FLOWID_TOKEN_RGID = 4,
  FLOWID_TOKEN_PID = 5,
  FLOWID_TOKEN_ASID = 6,
  FLOWID_TOKEN_PIDVERSION = 7
};
#define FLOWID_AUDIT_TOKEN_SIZE_BYTES 32u

typedef struct flowid_audit_token {
  uint32_t words[8];
} flowid_audit_token;

/* A token as a flow carries it: it may be absent, or of the wrong size (malformed). A usable
 * token has present != 0 and size_bytes == FLOWID_AUDIT_TOKEN_SIZE_BYTES. */
typedef struct flowid_flow_token {
  uint32_t present;
  uint32_t size_bytes;
  flowid_audit_token token;
} flowid_flow_token;

enum { FLOWID_DIRECTION_ANY = 0, FLOWID_DIRECTION_OUTBOUND = 1, FLOWID_DIRECTION_INBOUND = 2 };

/* The fields of an NEFilterSocketFlow a resolver uses. Strings are NUL-terminated. */
typedef struct flowid_flow {
  uint64_t flow_id;
  uint8_t identifier[16];
  flowid_flow_token source_app_audit_token;
  flowid_flow_token source_process_audit_token; /* macOS 13+: the socket's creator. */
  const char* source_app_identifier;
  const char* hostname;
  const char* remote_hostname;
  const char* remote_address;
  uint16_t remote_port;
  uint16_t local_port;
  uint32_t direction; /* FLOWID_DIRECTION_* */
  uint32_t protocol;  /* IPPROTO_* */
  uint32_t family;    /* AF_* */
  uint32_t type;      /* SOCK_* */
  int32_t proc_pid;
  int32_t eproc_pid;
} flowid_flow;

enum {
  FLOWID_SIGNATURE_UNSIGNED = 0,
  FLOWID_SIGNATURE_AD_HOC = 1,
  FLOWID_SIGNATURE_DEVELOPER_ID = 2,
  FLOWID_SIGNATURE_APP_STORE = 3,
  FLOWID_SIGNATURE_PLATFORM = 4
};

/* What is known about a piece of code. Strings are (pointer, length); see the conventions above
 * for how long they live. signing_id and team_id are empty (length 0) when absent. */
typedef struct flowid_code_identity {
  const char* path;
  size_t path_len;
  const char* signing_id;
  size_t signing_id_len;
  const char* team_id;
  size_t team_id_len;
  uint32_t has_cdhash;
  uint8_t cdhash[20];
  uint32_t platform;
  uint32_t signature; /* FLOWID_SIGNATURE_* */
  uint32_t hardened_runtime;
} flowid_code_identity;

/* A SecCode / SecStaticCode handle the seam handed out; 0 names nothing. */
typedef uint64_t flowid_code_ref;

/* ------------------------------------------------------------------------------------------- */
/* The seam: every question the resolver asks the world. context is opaque; pass it back. The
 * calls follow flowid's list of seam calls, in its order (checked when flowid is built). */

typedef struct flowid_seam {
  uint32_t abi_version; /* FLOWID_PLUGIN_ABI_VERSION of the host. */
  void* context;
  /* SecCodeCopyGuestWithAttributes(audit token): the running code of exactly that execution. */
  flowid_outcome (*guest_by_audit_token)(void* context, const flowid_audit_token* token,
                                         flowid_code_ref* code_out);
  /* SecCodeCopyGuestWithAttributes(pid): whatever has the pid now. */
  flowid_outcome (*guest_by_pid)(void* context, int32_t pid, flowid_code_ref* code_out);
  /* SecCodeCopyStaticCode: the code on disk behind running code. */
  flowid_outcome (*static_code)(void* context, flowid_code_ref code, flowid_code_ref* static_out);
  /* SecCodeCopyPath. */
  flowid_outcome (*code_path)(void* context, flowid_code_ref code, const char** path_out,
                              size_t* path_len_out);
  /* SecCodeCheckValidity(code, requirement); requirement is NUL-terminated text. */
  flowid_outcome (*check_validity)(void* context, flowid_code_ref code, const char* requirement);
  /* SecCodeCopySigningInformation; the identity's path is the code's path. */
  flowid_outcome (*signing_information)(void* context, flowid_code_ref code,
                                        flowid_code_identity* identity_out);
  /* audit_token_to_pid: never fails. */
  int32_t (*audit_token_to_pid)(void* context, const flowid_audit_token* token);
  /* proc_pidpath(pid): the path of whatever has the pid NOW. */
  flowid_outcome (*proc_pidpath)(void* context, int32_t pid, const char** path_out,
                                 size_t* path_len_out);
  /* proc_pidpath_audittoken(token): the path, kernel-checked against pidversion. */
  flowid_outcome (*proc_pidpath_audittoken)(void* context, const flowid_audit_token* token,
                                            const char** path_out, size_t* path_len_out);
  /* task_name_for_pid + TASK_AUDIT_TOKEN: the current token of whatever has the pid. */
  flowid_outcome (*token_for_pid)(void* context, int32_t pid, flowid_audit_token* token_out);
  /* kill(pid, 0): alive? Says nothing about which program; zombies answer alive. */
  flowid_outcome (*kill_zero)(void* context, int32_t pid);
  /* The pid of the app responsible for pid. */
  flowid_outcome (*responsible_pid)(void* context, int32_t pid, int32_t* pid_out);
} flowid_seam;

/* ------------------------------------------------------------------------------------------- */
/* What the plugin answers. */

/* "verified" may be claimed only when the identity is bound to the flow's own execution (a
 * token-based lookup); anything derived from a bare pid is at most "unverified"; "gone" means
 * the execution exited before it could be resolved. */
enum {
  FLOWID_STATUS_VERIFIED = 0,
  FLOWID_STATUS_UNVERIFIED = 1,
  FLOWID_STATUS_GONE = 2,
  FLOWID_STATUS_UNKNOWN = 3
};

/* The host zero-fills this (status UNKNOWN) before calling resolve. */
typedef struct flowid_attribution {
  uint32_t status; /* FLOWID_STATUS_* */
  uint32_t has_identity;
  flowid_code_identity identity;
  uint32_t has_claimed_execution; /* the execution the identity is believed to belong to. */
  int32_t claimed_pid;
  uint32_t claimed_pidversion;
  const char* method; /* NUL-terminated, short ("token", "pid-fallback"); may be NULL. */
} flowid_attribution;

enum { FLOWID_DECISION_ALLOW = 0, FLOWID_DECISION_DROP = 1, FLOWID_DECISION_ASK = 2 };

/* ------------------------------------------------------------------------------------------- */
/* The launcher seam (for plugins that launch programs under a code requirement). */

typedef struct flowid_launch_seam {
  void* context;
  /* SecStaticCodeCheckValidity on the file at path now. */
  flowid_outcome (*check_file)(void* context, const char* path, const char* requirement);
  /* posix_spawn(path): the token of the new execution. */
  flowid_outcome (*spawn)(void* context, const char* path, flowid_audit_token* token_out);
  /* posix_spawn with a kernel-checked launch requirement. */
  flowid_outcome (*spawn_with_requirement)(void* context, const char* path, const char* requirement,
                                           flowid_audit_token* token_out);
  /* Copies path to a location only the caller can write; the new path lives like seam strings. */
  flowid_outcome (*copy_to_private)(void* context, const char* path, const char** path_out,
                                    size_t* path_len_out);
  flowid_outcome (*spawn_suspended)(void* context, const char* path, flowid_audit_token* token_out);
  flowid_outcome (*resume)(void* context, const flowid_audit_token* token);
  flowid_outcome (*kill)(void* context, const flowid_audit_token* token);
} flowid_launch_seam;

typedef struct flowid_launch_result {
  uint32_t launched; /* some code was started (and not killed before running). */
  uint32_t has_execution;
  flowid_audit_token execution;
  flowid_outcome refusal; /* why the launch was refused, when it was. */
  const char* method;
} flowid_launch_result;

/* ------------------------------------------------------------------------------------------- */
/* The plugin table. */

typedef struct flowid_plugin {
  /* Must be FLOWID_PLUGIN_ABI_VERSION: flowid refuses the plugin otherwise. */
  uint32_t abi_version;
  /* Shown in reports; NUL-terminated; lives as long as the library is loaded. */
  const char* name;
  /* Passed to create_instance. */
  void* user_data;

  /* Optional (may be NULL): a fresh resolver instance with its own state (caches). flowid
   * creates one per replayed trace and per fuzz case, so no state leaks between cases. When
   * NULL, the instance pointer passed to the calls below is user_data. Returning NULL is a
   * failure to create, reported against the case. */
  void* (*create_instance)(void* user_data);
  /* Optional: releases what create_instance made. */
  void (*destroy_instance)(void* instance);

  /* Required: resolves one flow seen at now_ns (virtual time) using only the seam. Fills
   * *attribution (which the host has zero-filled to UNKNOWN). */
  void (*resolve)(void* instance, const flowid_flow* flow, uint64_t now_ns, const flowid_seam* seam,
                  flowid_attribution* attribution);

  /* Optional (may be NULL): the plugin's own verdict for a flow, called right after resolve on
   * the same instance with the attribution resolve produced (strings in it are the host's, valid
   * for this call). Returns nonzero and fills *decision_out (FLOWID_DECISION_*) to decide, 0 to
   * leave the decision to flowid's rules (the rule file). A decision replaces the rules' decision
   * (the verdict names rule "decide:NAME"; the label the user sees still follows the attribution)
   * and the oracle checks it like any verdict: allowing a flow whose program a deny rule names is
   * an I4 violation. A decision outside FLOWID_DECISION_* is an I7 finding for the flow. Not
   * called for a flow whose resolve failed (crashed, hung, or was aborted). */
  int32_t (*decide)(void* instance, const flowid_flow* flow, const flowid_attribution* attribution,
                    uint32_t* decision_out);

  /* Optional (may be NULL): launches path only if it satisfies requirement (a code requirement
   * in Apple's language; may be empty). A plugin with launch is also a launcher strategy
   * (`flowid fuzz --launcher ./libmine.so`, `flowid matrix --launcher ./libmine.so`). Everything
   * goes through launch_seam (check the file, spawn, spawn with a kernel-checked requirement,
   * copy to a private place, spawn suspended, resume, kill) and seam (look at the running image
   * of what was spawned: guest_by_audit_token + check_validity). Strings either seam returns live
   * like resolve's seam strings. Fill *result (zero-filled by the host): launched and the
   * execution's token when code was started, the refusal outcome otherwise. The oracle judges
   * what really ran in the simulated world (I5), not what the plugin says. One instance (from
   * create_instance) per launcher; path and requirement are valid for the call. */
  void (*launch)(void* instance, const char* path, const char* requirement, const flowid_seam* seam,
                 const flowid_launch_seam* launch_seam, flowid_launch_result* result);
} flowid_plugin;

/* The one symbol a plugin exports. host_abi_version is the version flowid speaks; return a table
 * with that abi_version, or NULL when the plugin cannot speak it. The table must live as long as
 * the library is loaded (a static const object is the usual choice). */
typedef const flowid_plugin* (*flowid_plugin_entry_fn)(uint32_t host_abi_version);

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLOWID_PLUGIN_H */
