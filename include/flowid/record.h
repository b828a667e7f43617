/*
 * flowid recording API, version 1: how a filter (a macOS Network Extension provider, a Linux
 * firewall daemon) writes flowid traces itself, from C, Objective-C or Swift, so that its field
 * recordings hold the lookup outcomes (EPERM, ESRCH, errSecCSNoSuchCode...) that log text loses.
 *
 * A recorder (flowid_recorder, opaque) is opened either to a file or to an in-memory ring (a
 * flight recorder). The filter records, as they happen:
 *   - each flow it is asked about (the NEFilterFlow fields, both audit tokens): flowid_rec_flow;
 *   - each identity lookup it makes for that flow (which call, its arguments, its outcome domain
 *     and code, what it returned): flowid_rec_lookup;
 *   - the attribution it reached and the verdict it gave: flowid_rec_verdict;
 *   - process lifecycle and file events when it has them (Endpoint Security, a process
 *     connector): flowid_rec_spawn, flowid_rec_exec, flowid_rec_exit, flowid_rec_file;
 *   - free text for people: flowid_rec_marker.
 * A ring is written to a file on demand (flowid_rec_dump) or when a condition the host registers
 * fires (flowid_rec_add_trigger): a verdict's decision or label, a lookup outcome, a marker text.
 *
 * Conventions.
 * - The types, enums and codes of include/flowid/plugin.h are reused: tokens, flows, outcomes,
 *   code identities, FLOWID_STATUS_*, FLOWID_DECISION_*, FLOWID_DIRECTION_*, FLOWID_DOMAIN_*.
 *   A lookup's call is one of FLOWID_CALL_*, named after the flowid_seam member it records.
 * - Every function returns a flowid_rec_status; FLOWID_REC_OK (0) is success. On failure
 *   flowid_rec_error_message() gives a sentence naming the file or the argument at fault; it is
 *   per thread and stays valid until the thread's next call into this API.
 * - Thread safety: every recording call may be made from any number of threads at once on the
 *   same recorder. A flow's own events (its flow, its lookups, its verdict) must be recorded in
 *   that order (from one thread, or with the caller's own ordering).
 * - Never blocking on I/O: recording calls copy the event into a bounded queue and return; one
 *   writer thread per recorder does the encoding and the writing. When the queue is full the event
 *   is dropped, the call returns FLOWID_REC_DROPPED, and the number dropped is written into the
 *   trace as a "dropped events" event (reason "recorder queue full") where the loss happened.
 *   Only flowid_rec_flush, flowid_rec_dump and flowid_rec_close wait, and say so.
 * - Memory is bounded: the queue (queue_events slots of about 450 bytes each, allocated at open:
 *   7 MiB by default, plus the strings of the events in it), for a ring ring_mib MiB of events
 *   (their memory as held: about 450 bytes each plus their strings), and one chunk being encoded.
 * - Crash safety: a file recorder's writer hands each batch to the kernel as whole chunks, so a
 *   process killed at any point (SIGKILL included) leaves a trace that reads back clean up to its
 *   last whole chunk; only the events still in the queue, and the chunk being written, are lost.
 *   The trace then has no footer, which readers report as "missing footer".
 * - Strings passed in are copied before the call returns. Paths are bytes: a (pointer, length)
 *   pair wherever plugin.h uses one; NUL-terminated text elsewhere; NULL reads as empty.
 * - Times are nanoseconds on the caller's clock (the header's `clock`), or FLOWID_REC_NOW: the
 *   recorder's CLOCK_MONOTONIC reading, in ns since the recorder was opened.
 *
 * Privacy: a trace holds executable paths, signing identities, addresses and hostnames. The
 * hostnames option (FLOWID_REC_HOSTNAMES_*) keeps, hashes or drops hostnames before they are
 * queued; paths are always kept (flowid cannot judge an attribution without them).
 *
 * This header compiles as C99 and as C++. No C++ type or exception crosses it.
 */
#ifndef FLOWID_RECORD_H
#define FLOWID_RECORD_H

#include <flowid/plugin.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOWID_RECORD_ABI_VERSION 1u

/* ------------------------------------------------------------------------------------------- */
/* Status codes and errors. */

typedef int32_t flowid_rec_status;
enum {
  FLOWID_REC_OK = 0,
  FLOWID_REC_INVALID_ARGUMENT = 1, /* a NULL handle, an unknown enum value, a bad option. */
  FLOWID_REC_IO_ERROR = 2,         /* a file could not be opened or written (message: which). */
  FLOWID_REC_DROPPED = 3,          /* the queue was full: this event was dropped and counted. */
  FLOWID_REC_WRONG_MODE = 4,       /* a ring-only call on a file recorder. */
  FLOWID_REC_CLOSED = 5,           /* the recorder is closing. */
  FLOWID_REC_INTERNAL = 6          /* a bug in flowid; the message says what. */
};

/* The message of this thread's last failed call ("" when it succeeded). Never NULL. */
const char* flowid_rec_error_message(void);

/* ------------------------------------------------------------------------------------------- */
/* Opening. */

typedef struct flowid_recorder flowid_recorder;

enum {
  FLOWID_REC_HOSTNAMES_KEEP = 0, /* hostnames as the flow gives them. */
  FLOWID_REC_HOSTNAMES_HASH = 1, /* "h:" + 16 hex digits of a keyed hash (hostname_salt). */
  FLOWID_REC_HOSTNAMES_DROP = 2  /* empty. */
};

/* Free-form key = value pairs for the trace header (resolver_config): "strategy", "rules" (a
 * rule file's text: `flowid replay` then decides with it), "filter.version", ... */
typedef struct flowid_rec_config_entry {
  const char* key;
  const char* value;
} flowid_rec_config_entry;

typedef struct flowid_rec_options {
  uint32_t abi_version;        /* FLOWID_RECORD_ABI_VERSION (flowid_rec_options_init sets it). */
  const char* recorder_name;   /* header "recorder"; default "flowid-rec-api 0.1.0". */
  const char* host;            /* header "host"; default: gethostname(). */
  const char* os;              /* header "os"; default: uname(). */
  const char* clock;           /* header "clock"; default "CLOCK_MONOTONIC". */
  uint64_t start_wall_time_ns; /* wall clock at time 0; 0: taken at open. */
  const flowid_rec_config_entry* config;
  size_t config_count;
  uint32_t queue_events;  /* hand-off queue capacity in events (rounded up to a power of two);
                             default 16384. */
  uint32_t chunk_events;  /* events per trace chunk; default 1024. */
  uint32_t ring_mib;      /* ring size for flowid_rec_open_ring; default 16. */
  uint32_t sync;          /* nonzero: fdatasync after each batch (file recorders). */
  uint32_t hostnames;     /* FLOWID_REC_HOSTNAMES_*; default KEEP. */
  uint64_t hostname_salt; /* key of the hostname hash (pick one per deployment). */
  /* The caller, as the trace header's CallerContext (a sandboxed extension answers EPERM). */
  uint32_t caller_sandboxed;
  uint32_t caller_root;
  uint32_t caller_uid;
} flowid_rec_options;

/* Fills *options with the defaults above. */
void flowid_rec_options_init(flowid_rec_options* options);

/* Opens a recorder writing a trace to path (created or truncated). options may be NULL. */
flowid_rec_status flowid_rec_open_file(const char* path, const flowid_rec_options* options,
                                       flowid_recorder** out);
/* Opens a flight recorder: the last ring_mib MiB of events are kept in memory, older ones are
 * forgotten, nothing is written until a dump. */
flowid_rec_status flowid_rec_open_ring(const flowid_rec_options* options, flowid_recorder** out);

/* Writes what is queued, then (file) the footer, and frees the recorder. Waits for the writer.
 * Returns the first write error of the recorder's life, if any. NULL is accepted (OK). */
flowid_rec_status flowid_rec_close(flowid_recorder* recorder);

/* Waits until every event recorded before the call is in the file (file recorder) or in the ring
 * (ring recorder). */
flowid_rec_status flowid_rec_flush(flowid_recorder* recorder);

/* ------------------------------------------------------------------------------------------- */
/* Recording. */

#define FLOWID_REC_NOW UINT64_MAX

/* A flow: plugin.h's flowid_flow plus the NEFilterFlow fields a resolver does not need but a
 * recording keeps. Strings NUL-terminated (NULL = empty) except the (pointer, length) ones. */
typedef struct flowid_rec_flow {
  flowid_flow flow; /* flow_id, identifier, both tokens, hostnames, remote endpoint, ... */
  const char* source_app_version;
  const char* source_app_unique_identifier; /* bytes (20 on macOS). */
  size_t source_app_unique_identifier_len;
  const char* local_address;
  uint8_t proc_uuid[16];
  uint8_t eproc_uuid[16];
  uint64_t in_bytes;
  uint64_t out_bytes;
} flowid_rec_flow;

/* The lookup calls, numbered as flowid's traces number them; the names are flowid_seam's and
 * flowid_launch_seam's members. */
enum {
  FLOWID_CALL_GUEST_BY_AUDIT_TOKEN = 0,
  FLOWID_CALL_GUEST_BY_PID = 1,
  FLOWID_CALL_STATIC_CODE = 2,
  FLOWID_CALL_CODE_PATH = 3,
  FLOWID_CALL_CHECK_VALIDITY = 4,
  FLOWID_CALL_SIGNING_INFORMATION = 5,
  FLOWID_CALL_AUDIT_TOKEN_TO_PID = 6,
  FLOWID_CALL_PROC_PIDPATH = 7,
  FLOWID_CALL_PROC_PIDPATH_AUDITTOKEN = 8,
  FLOWID_CALL_TOKEN_FOR_PID = 9,
  FLOWID_CALL_KILL_ZERO = 10,
  FLOWID_CALL_RESPONSIBLE_PID = 11,
  /* Linux (the flowid recorder's own lookups). */
  FLOWID_CALL_PIDFD_OPEN = 12,
  FLOWID_CALL_PROC_EXE = 13,
  FLOWID_CALL_EXE_HASH = 14,
  FLOWID_CALL_NOTIF_ID_VALID = 15,
  FLOWID_CALL_PROC_STAT = 16,
  /* Launcher calls (flowid_launch_seam). */
  FLOWID_CALL_CHECK_FILE = 17,
  FLOWID_CALL_SPAWN = 18,
  FLOWID_CALL_SPAWN_WITH_REQUIREMENT = 19,
  FLOWID_CALL_COPY_TO_PRIVATE = 20,
  FLOWID_CALL_SPAWN_SUSPENDED = 21,
  FLOWID_CALL_RESUME = 22,
  FLOWID_CALL_KILL = 23
};
#define FLOWID_CALL_COUNT 24

/* One lookup. Set only the fields the call has, as flowid's own seam records them (faithful
 * replay matches a replayed call to a recorded one by call and arguments):
 *   arguments: token (has_token) for *_audit_token / audit_token_to_pid / proc_pidpath_audittoken;
 *              pid for *_pid, kill_zero, responsible_pid; code for static_code, code_path,
 *              check_validity (+ requirement), signing_information.
 *   returned (on success only): code for guest_by_* and static_code; path for code_path and
 *              proc_pidpath*; identity for signing_information; token for token_for_pid; pid for
 *              audit_token_to_pid and responsible_pid. */
typedef struct flowid_rec_lookup {
  uint64_t flow_id; /* the flow being resolved; 0 for none. */
  uint32_t call;    /* FLOWID_CALL_* */
  /* Arguments. */
  uint32_t has_token;
  flowid_audit_token token;
  int32_t pid;
  flowid_code_ref code;
  const char* requirement;
  const char* path;
  size_t path_len;
  /* Outcome. */
  flowid_outcome outcome;
  /* Returned data. */
  flowid_code_ref returned_code;
  const char* returned_path;
  size_t returned_path_len;
  uint32_t returned_has_token;
  flowid_audit_token returned_token;
  int32_t returned_pid;
  uint32_t returned_has_identity;
  flowid_code_identity returned_identity;
  uint64_t duration_ns; /* how long the call took, if measured. */
} flowid_rec_lookup;

flowid_rec_status flowid_rec_flow_event(flowid_recorder* recorder, uint64_t time_ns,
                                        const flowid_rec_flow* flow);
flowid_rec_status flowid_rec_lookup_event(flowid_recorder* recorder, uint64_t time_ns,
                                          const flowid_rec_lookup* lookup);

/* The attribution (status, identity) and the verdict for a flow. The label the user sees is
 * derived as flowid's filter derives it: no identity -> unknown; verified -> verified; otherwise
 * unverified (shown with a warning). rule names what decided (NULL = empty). */
flowid_rec_status flowid_rec_verdict(flowid_recorder* recorder, uint64_t time_ns, uint64_t flow_id,
                                     uint32_t decision /* FLOWID_DECISION_* */,
                                     const flowid_attribution* attribution, const char* rule);

/* Lifecycle. responsible and image may be NULL (absent). */
flowid_rec_status flowid_rec_spawn(flowid_recorder* recorder, uint64_t time_ns,
                                   const flowid_audit_token* token,
                                   const flowid_audit_token* parent,
                                   const flowid_audit_token* responsible,
                                   const flowid_code_identity* image);
flowid_rec_status flowid_rec_exec(flowid_recorder* recorder, uint64_t time_ns,
                                  const flowid_audit_token* previous,
                                  const flowid_audit_token* token,
                                  const flowid_code_identity* image);
enum { FLOWID_EXIT_EXITED = 0 /* a zombie still holds the pid */, FLOWID_EXIT_REAPED = 1 };
flowid_rec_status flowid_rec_exit(flowid_recorder* recorder, uint64_t time_ns,
                                  const flowid_audit_token* token, int32_t status,
                                  uint32_t stage /* FLOWID_EXIT_* */);
enum {
  FLOWID_FILE_CREATE = 0,
  FLOWID_FILE_REPLACE = 1,
  FLOWID_FILE_REMOVE = 2,
  FLOWID_FILE_RENAME = 3
};
flowid_rec_status flowid_rec_file(flowid_recorder* recorder, uint64_t time_ns,
                                  uint32_t op /* FLOWID_FILE_* */, const char* path,
                                  const char* new_path, const flowid_code_identity* image);
flowid_rec_status flowid_rec_marker(flowid_recorder* recorder, uint64_t time_ns, const char* text);

/* ------------------------------------------------------------------------------------------- */
/* Flight recorder (ring recorders only). */

/* What to keep in a dump: the events of the last max_age_ns (0: no age limit) and at most
 * max_events of them (0: no count limit), ending with the newest event. */
typedef struct flowid_rec_window {
  uint64_t max_events;
  uint64_t max_age_ns;
} flowid_rec_window;

/* Writes the window of the ring to path now (the caller waits for the write). Events recorded
 * before the call are included. */
flowid_rec_status flowid_rec_dump(flowid_recorder* recorder, const char* path,
                                  flowid_rec_window window);

enum {
  FLOWID_TRIGGER_VERDICT_DECISION = 0, /* a verdict with decision == value. */
  FLOWID_TRIGGER_VERDICT_LABEL = 1,    /* a verdict whose label == value (FLOWID_LABEL_*). */
  FLOWID_TRIGGER_LOOKUP_OUTCOME = 2,   /* a lookup with outcome {domain, code}. */
  FLOWID_TRIGGER_MARKER = 3            /* a marker whose text contains `text`. */
};
enum { FLOWID_LABEL_VERIFIED = 0, FLOWID_LABEL_UNVERIFIED_WARNING = 1, FLOWID_LABEL_UNKNOWN = 2 };

/* When the condition matches an event, the writer thread (never the recording thread) writes
 * the window ending with that event to path_prefix + "-N.trace" (N = 1, 2, ... per trigger), at
 * most max_dumps times (0: no limit). The header names the trigger ("flight-recorder.trigger"). */
typedef struct flowid_rec_trigger {
  uint32_t kind; /* FLOWID_TRIGGER_* */
  uint32_t value;
  flowid_outcome outcome;
  const char* text;
  flowid_rec_window window;
  const char* path_prefix;
  uint32_t max_dumps;
} flowid_rec_trigger;

flowid_rec_status flowid_rec_add_trigger(flowid_recorder* recorder,
                                         const flowid_rec_trigger* trigger);

/* Counters, for the host's own health reporting. */
typedef struct flowid_rec_stats {
  uint64_t recorded; /* events accepted into the queue. */
  uint64_t dropped;  /* events dropped because the queue was full. */
  uint64_t written;  /* events written to the file, or moved into the ring. */
  uint64_t evicted;  /* ring: events forgotten to stay within ring_mib. */
  uint64_t dumps;    /* ring: dump files written (on demand and triggered). */
  uint64_t ring_bytes;
  uint64_t ring_events;
} flowid_rec_stats;

flowid_rec_status flowid_rec_get_stats(flowid_recorder* recorder, flowid_rec_stats* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLOWID_RECORD_H */
