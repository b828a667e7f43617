# The flowid trace schema (DESIGN §4). One Cap'n Proto message per framed chunk: the header chunk
# holds a Header, each event chunk a Chunk, the footer chunk a Footer (framing: trace/trace.h).
#
# Evolution rules: fields and union members are only ever appended (new ordinals); nothing is
# renamed to a different meaning or removed. A reader meets a newer writer's event kind as an
# unknown `Event.body` discriminant and skips it; a newer field in a known struct is simply
# never looked at. Enum values follow the numbering of the C++ enums in harness/model.h, which is
# append-only for the same reason.
#
# Strings are interned per chunk: every string field of an event is a UInt32 index into
# `Chunk.strings`, whose entry 0 is always the empty string (so a field an older writer did not
# know reads as ""). Strings are `Data`, not `Text`: paths are bytes and not always UTF-8.
# Optional values (tokens, cdhash, identities) are pointers; a null pointer means absent.

@0xb1cb4db346830a7b;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("flowid::trace::wire");

enum SignatureKind { unsigned @0; adHoc @1; developerId @2; appStore @3; platform @4; }
enum ExitStage { exited @0; reaped @1; }
enum FileOp { create @0; replace @1; remove @2; rename @3; }
enum FlowDirection { any @0; outbound @1; inbound @2; }
# The calls of harness/seam_calls.h with the same numbers (trace/wire_convert.h checks them).
enum LookupCall {
  guestByAuditToken @0; guestByPid @1; staticCode @2; codePath @3; checkValidity @4;
  signingInformation @5; auditTokenToPid @6; procPidpath @7; procPidpathAudittoken @8;
  tokenForPid @9; killZero @10; responsiblePid @11; pidfdOpen @12; procExe @13; exeHash @14;
  notifIdValid @15; procStat @16; checkFile @17; spawn @18; spawnWithRequirement @19;
  copyToPrivate @20; spawnSuspended @21; resume @22; kill @23;
}
enum OutcomeDomain { osStatus @0; errno @1; kernReturn @2; }
enum Decision { allow @0; drop @1; ask @2; }
enum AttributionStatus { verified @0; unverified @1; gone @2; unknown @3; }
enum VerdictLabel { verified @0; unverifiedWarning @1; unknown @2; }

# audit_token_t, word by word in the kernel's order.
struct AuditToken {
  auid @0 :UInt32;
  euid @1 :UInt32;
  egid @2 :UInt32;
  ruid @3 :UInt32;
  rgid @4 :UInt32;
  pid @5 :UInt32;
  asid @6 :UInt32;
  pidversion @7 :UInt32;
}

struct CodeIdentity {
  path @0 :UInt32;        # string index.
  cdhash @1 :Data;        # exactly 20 bytes; null when absent (unsigned code).
  signingId @2 :UInt32;   # string index.
  teamId @3 :UInt32;      # string index.
  platform @4 :Bool;
  signature @5 :SignatureKind;
  hardenedRuntime @6 :Bool;
}

struct ProcessSpawn {
  token @0 :AuditToken;
  parent @1 :AuditToken;
  responsible @2 :AuditToken;  # null when the process is its own responsible process.
  image @3 :CodeIdentity;
}

struct ProcessExec {
  previous @0 :AuditToken;
  token @1 :AuditToken;
  image @2 :CodeIdentity;
}

struct ProcessExit {
  token @0 :AuditToken;
  status @1 :Int32;
  stage @2 :ExitStage;
}

struct FileChange {
  op @0 :FileOp;
  path @1 :UInt32;      # string index.
  newPath @2 :UInt32;   # string index.
  image @3 :CodeIdentity;  # null when absent.
}

# Flows are the bulk of a trace, so their tokens, UUIDs and endpoints are inline groups (no
# pointers to follow, nothing to allocate). A UUID is two big-endian halves of its 16 bytes.
struct Flow {
  flowId @0 :UInt64;
  identifier :group { hi @1 :UInt64; lo @2 :UInt64; }
  sourceAppAuditToken :group {
    present @3 :Bool; sizeBytes @4 :UInt32;
    auid @5 :UInt32; euid @6 :UInt32; egid @7 :UInt32; ruid @8 :UInt32;
    rgid @9 :UInt32; pid @10 :UInt32; asid @11 :UInt32; pidversion @12 :UInt32;
  }
  sourceProcessAuditToken :group {
    present @13 :Bool; sizeBytes @14 :UInt32;
    auid @15 :UInt32; euid @16 :UInt32; egid @17 :UInt32; ruid @18 :UInt32;
    rgid @19 :UInt32; pid @20 :UInt32; asid @21 :UInt32; pidversion @22 :UInt32;
  }
  sourceAppIdentifier @23 :UInt32;        # string indices from here ...
  sourceAppVersion @24 :UInt32;
  sourceAppUniqueIdentifier @25 :UInt32;
  hostname @26 :UInt32;
  remoteHostname @27 :UInt32;             # ... to here.
  localEndpoint :group { address @28 :UInt32; port @29 :UInt16; }
  remoteEndpoint :group { address @30 :UInt32; port @31 :UInt16; }
  direction @32 :FlowDirection;
  protocol @33 :UInt32;
  family @34 :UInt32;
  type @35 :UInt32;
  procPid @36 :Int32;
  eprocPid @37 :Int32;
  procUuid :group { hi @38 :UInt64; lo @39 :UInt64; }
  eprocUuid :group { hi @40 :UInt64; lo @41 :UInt64; }
  inBytes @42 :UInt64;
  outBytes @43 :UInt64;
}

struct Lookup {
  flowId @0 :UInt64;
  call @1 :LookupCall;
  args :group {
    token @2 :AuditToken;        # null when absent.
    pid @3 :Int32;
    codeHandle @4 :UInt64;
    requirement @5 :UInt32;      # string index.
    path @6 :UInt32;             # string index.
  }
  outcome :group {
    domain @7 :OutcomeDomain;
    code @8 :Int32;
  }
  data :group {
    codeHandle @9 :UInt64;
    path @10 :UInt32;            # string index.
    token @11 :AuditToken;       # null when absent.
    pid @12 :Int32;
    identity @13 :CodeIdentity;  # null when absent.
  }
  durationNs @14 :UInt64;
}

struct Verdict {
  flowId @0 :UInt64;
  decision @1 :Decision;
  status @2 :AttributionStatus;
  identity @3 :CodeIdentity;     # null when absent.
  label @4 :VerdictLabel;
  rule @5 :UInt32;               # string index.
}

struct Marker {
  text @0 :UInt32;               # string index.
}

struct DroppedEvents {
  count @0 :UInt64;
  reason @1 :UInt32;             # string index.
}

struct Event {
  # Time since the previous event of the chunk (the first: since Chunk.baseTimeNs), in the
  # header's time unit, as a wrapping difference: small for ordered events, exact for any.
  timeDeltaNs @0 :UInt64;
  # The discriminant is the EventKind numbering of harness/model.h.
  body :union {
    processSpawn @1 :ProcessSpawn;
    processExec @2 :ProcessExec;
    processExit @3 :ProcessExit;
    fileChange @4 :FileChange;
    flow @5 :Flow;
    lookup @6 :Lookup;
    verdict @7 :Verdict;
    marker @8 :Marker;
    droppedEvents @9 :DroppedEvents;
  }
}

struct Chunk {
  baseTimeNs @0 :UInt64;
  firstEventIndex @1 :UInt64;     # index of events[0] in the whole trace.
  strings @2 :List(Data);         # entry 0 is always empty.
  events @3 :List(Event);
}

struct KeyValue {
  key @0 :Data;
  value @1 :Data;
}

struct CallerContext {
  sandboxed @0 :Bool;
  root @1 :Bool;
  uid @2 :UInt32;
  description @3 :Data;
}

struct Header {
  formatVersion @0 :UInt32;
  recorder @1 :Data;
  host @2 :Data;
  os @3 :Data;
  clock @4 :Data;
  timeUnitNs @5 :UInt64;
  startWallTimeNs @6 :UInt64;
  caller @7 :CallerContext;
  resolverConfig @8 :List(KeyValue);
}

struct Footer {
  eventCounts @0 :List(UInt64);   # indexed by EventKind; a newer writer may have more kinds.
  eventCount @1 :UInt64;
  digest @2 :UInt64;
  complete @3 :Bool;
  skippedRecords @4 :UInt64;
}
