// The one list of lookup calls: every question a resolver, a launcher or the live Linux recorder
// asks the world, in the order of their trace numbers. Each entry is
//   X(Enumerator, number, "trace-name", method, CAPNP_ENUMERANT)
// Enumerator and number are LookupCall's (harness/model.h), and number is part of the trace format
// (append only, never reuse); "trace-name" is how events are written for people and parsed back
// (harness/model.cc); method is the member function of the interface the call belongs to
// (harness/seam.h: Seam, LinuxSeam, LaunchSeam) and of the plugin ABI's C tables
// (include/flowid/plugin.h: flowid_seam, flowid_launch_seam); CAPNP_ENUMERANT is the call's name in
// trace/flowid_trace.capnp's LookupCall as the Cap'n Proto compiler spells it in C++.
//
// What the list generates: LookupCall and its count, the trace names, the plugin worker's wire
// call numbers and the C tables' filling (plugin/). What it checks at compile time (the rest is
// hand-written because each call's arguments and answer differ): that the Cap'n Proto enum carries
// each call with the same number (trace/), that each interface declares each of its calls
// (harness/seam.cc), and that the plugin ABI's tables hold exactly the macOS and launch calls in
// list order (plugin/bridge.cc). Every implementation of an interface is abstract until it
// defines a new pure virtual method, and switches over LookupCall have no default, so adding a
// call here is a compile error everywhere it must be handled.
#pragma once

// The macOS calls a resolver makes (Seam), which plugins reach through flowid_seam.
#define FLOWID_MACOS_LOOKUP_CALLS(X)                                                           \
  X(kGuestByAuditToken, 0, "guest-by-audit-token", guest_by_audit_token, GUEST_BY_AUDIT_TOKEN) \
  X(kGuestByPid, 1, "guest-by-pid", guest_by_pid, GUEST_BY_PID)                                \
  X(kStaticCode, 2, "static-code", static_code, STATIC_CODE)                                   \
  X(kCodePath, 3, "code-path", code_path, CODE_PATH)                                           \
  X(kCheckValidity, 4, "check-validity", check_validity, CHECK_VALIDITY)                       \
  X(kSigningInformation, 5, "signing-information", signing_information, SIGNING_INFORMATION)   \
  X(kAuditTokenToPid, 6, "audit-token-to-pid", audit_token_to_pid, AUDIT_TOKEN_TO_PID)         \
  X(kProcPidpath, 7, "proc-pidpath", proc_pidpath, PROC_PIDPATH)                               \
  X(kProcPidpathAudittoken, 8, "proc-pidpath-audittoken", proc_pidpath_audittoken,             \
    PROC_PIDPATH_AUDITTOKEN)                                                                   \
  X(kTokenForPid, 9, "token-for-pid", token_for_pid, TOKEN_FOR_PID)                            \
  X(kKillZero, 10, "kill-zero", kill_zero, KILL_ZERO)                                          \
  X(kResponsiblePid, 11, "responsible-pid", responsible_pid, RESPONSIBLE_PID)

// The Linux calls the live recorder makes (LinuxSeam). Not part of the plugin ABI.
#define FLOWID_LINUX_LOOKUP_CALLS(X)                                     \
  X(kPidfdOpen, 12, "pidfd-open", pidfd_open, PIDFD_OPEN)                \
  X(kProcExe, 13, "proc-exe", proc_exe, PROC_EXE)                        \
  X(kExeHash, 14, "exe-hash", exe_hash, EXE_HASH)                        \
  X(kNotifIdValid, 15, "notif-id-valid", notif_id_valid, NOTIF_ID_VALID) \
  X(kProcStat, 16, "proc-stat", proc_stat, PROC_STAT)

// The calls a launcher makes (LaunchSeam), which plugins reach through flowid_launch_seam.
#define FLOWID_LAUNCH_CALLS(X)                                                   \
  X(kCheckFile, 17, "check-file", check_file, CHECK_FILE)                        \
  X(kSpawn, 18, "spawn", spawn, SPAWN)                                           \
  X(kSpawnWithRequirement, 19, "spawn-with-requirement", spawn_with_requirement, \
    SPAWN_WITH_REQUIREMENT)                                                      \
  X(kCopyToPrivate, 20, "copy-to-private", copy_to_private, COPY_TO_PRIVATE)     \
  X(kSpawnSuspended, 21, "spawn-suspended", spawn_suspended, SPAWN_SUSPENDED)    \
  X(kResume, 22, "resume", resume, RESUME)                                       \
  X(kKill, 23, "kill", kill, KILL)

// Every call, in trace-number order.
#define FLOWID_LOOKUP_CALLS(X) \
  FLOWID_MACOS_LOOKUP_CALLS(X) FLOWID_LINUX_LOOKUP_CALLS(X) FLOWID_LAUNCH_CALLS(X)
