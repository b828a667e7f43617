// Raw Linux audit records (audit.log, `ausearch --raw`, or the same lines with "node=" prefixes).
//
// Records are grouped into events by their audit(SECONDS.MILLIS:SERIAL) id. An event is complete
// at its EOE record; events are handled in serial order, so records that arrive out of order
// (several events interleaved, EOEs late) are put back in order within a window of
// ImportLimits::auditd_open_events_max open events; an event without an EOE (older kernels,
// single-record events) is handled when it leaves the window or at the end of the input.
//
// Identity: auditd names processes by pid only. Versions are inferred from record order: each
// successful clone / fork / vfork gives the child pid a new version and each successful execve
// gives the pid a new version (numbered 1, 2, 3 ... across the import). A pid first seen in some
// other record gets a version at its first appearance (a pre-existing execution). The token's
// other words come from the SYSCALL record: auid, euid, egid, uid -> ruid, gid -> rgid and
// ses -> asid. Because each record is written by the kernel in the context of the calling task,
// a connect's pid is exact; only the version depends on having seen every clone and execve (if
// audit rules dropped some, versions merge executions — the header says so).
// Mapping:
//   clone / fork / vfork (child pid = exit)  -> ProcessSpawn (clone with CLONE_THREAD: ignored)
//   execve / execveat                         -> ProcessExec, plus a Marker with EXECVE's argv
//   connect with an AF_INET / AF_INET6 SOCKADDR -> Flow (remote endpoint decoded from hex;
//                                                  failed attempts too: the filter sees them)
//   exit_group                                -> ProcessExit
// clone3 is counted as unmapped: its flags live in user memory, so a thread cannot be told
// from a process. PROCTITLE is kept in the Marker of an execve or connect.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "import/lifecycle.h"
#include "import/parser.h"
#include "import/text.h"

namespace flowid::import {
namespace {

constexpr uint64_t kCloneThread = 0x00010000;
constexpr uint64_t kAuditArchLe = 0x40000000;
constexpr int64_t kEinprogress = -115;

enum class Call : uint8_t {
  kOther,
  kConnect,
  kClone,
  kFork,
  kClone3,
  kExecve,
  kExitGroup,
  kSocketcall
};

struct ArchTable {
  uint64_t arch;
  std::string_view name;
  int connect, clone, fork, vfork, execve, execveat, exit_group, clone3, socketcall;
};

// Syscall numbers per audit arch (AUDIT_ARCH_*). -1: the arch has no such call.
constexpr ArchTable kArches[] = {
    {0xc000003e, "x86_64", 42, 56, 57, 58, 59, 322, 231, 435, -1},
    {0x40000003, "i386", 362, 120, 2, 190, 11, 358, 252, 435, 102},
    {0xc00000b7, "aarch64", 203, 220, -1, -1, 221, 281, 94, 435, -1},
    {0x80000015, "ppc64", 328, 120, 2, 189, 11, 362, 234, 435, 102},
    {0xc0000015, "ppc64le", 328, 120, 2, 189, 11, 362, 234, 435, 102},
    {0x40000028, "arm", 283, 120, 2, 190, 11, 387, 248, 435, -1},
};

const ArchTable* arch_table(uint64_t arch) {
  for (const auto& a : kArches) {
    if (a.arch == arch) return &a;
  }
  return nullptr;
}

Call classify(const ArchTable& a, int64_t nr) {
  if (nr == a.connect) return Call::kConnect;
  if (nr == a.clone) return Call::kClone;
  if (nr == a.fork || nr == a.vfork) return Call::kFork;
  if (nr == a.clone3) return Call::kClone3;
  if (nr == a.execve || nr == a.execveat) return Call::kExecve;
  if (nr == a.exit_group) return Call::kExitGroup;
  if (nr == a.socketcall) return Call::kSocketcall;
  return Call::kOther;
}

// Splits "key=value key="quoted value" ..." into pairs. Values in double quotes may hold spaces;
// single-quoted msg='...' blocks are taken whole.
template <typename Fn>
void for_each_field(std::string_view body, Fn&& fn) {
  std::size_t p = 0;
  while (p < body.size()) {
    while (p < body.size() && body[p] == ' ') ++p;
    std::size_t eq = body.find('=', p);
    if (eq == std::string_view::npos) return;
    std::string_view key = body.substr(p, eq - p);
    std::size_t v = eq + 1;
    std::string_view value;
    if (v < body.size() && (body[v] == '"' || body[v] == '\'')) {
      char quote = body[v];
      std::size_t close = body.find(quote, v + 1);
      if (close == std::string_view::npos) close = body.size();
      value = body.substr(v, std::min(close + 1, body.size()) - v);
      p = close + 1;
    } else {
      std::size_t space = body.find(' ', v);
      if (space == std::string_view::npos) space = body.size();
      value = body.substr(v, space - v);
      p = space;
    }
    fn(key, value);
  }
}

// `ausearch -i` replaces the id's SECONDS.MILLIS with a local date and time formatted by the
// locale of the host that ran it ("11/14/2023 10:15:02.123:456", "14.11.2023 10:15:02.123:456",
// "2023-11-14 ..." ...). A raw id is digits, one '.', one ':'; an interpreted one has a space
// between its date and time, or more than one ':' (the clock's), whatever the locale.
bool interpreted_id(std::string_view id) {
  if (id.find(' ') != std::string_view::npos) return true;
  std::size_t colons = 0;
  for (char c : id) colons += c == ':' ? 1 : 0;
  return colons > 1 || id.find('/') != std::string_view::npos;
}

// An EXECVE argument or PROCTITLE: "quoted text", or hex (used when the text has special
// bytes), or (null).
bool decode_audit_string(std::string_view value, std::string& out) {
  out.clear();
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    out.assign(value.substr(1, value.size() - 2));
    return true;
  }
  if (value == "(null)") return true;
  return decode_hex(value, out);
}

// The length the kernel counts in aN_len for a piece: the text between the quotes, or every
// hex digit.
uint64_t printed_length_of(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') return value.size() - 2;
  return value == "(null)" ? 0 : value.size();
}

// Bounds on one execve's arguments: the kernel's own limit (ARG_MAX) is far below these.
constexpr uint64_t kExecveArgsMax = 1u << 20;
constexpr uint64_t kArgvBytesMax = 8u << 20;
constexpr std::size_t kUnreadTypesKept = 64;

struct ExecveArg {
  std::string text;
  uint64_t pieces = 0;  // aN[i] pieces joined so far.
  // aN_len is the kernel's length of the argument as printed (audit_log_execve_info): bytes
  // when the pieces are quoted, hex digits (twice the bytes) when they are hex-encoded.
  std::optional<uint64_t> declared_length;
  uint64_t printed_length = 0;
};

struct AuditEvent {
  uint64_t time_ns = 0;
  uint64_t line = 0;
  bool complete = false;
  bool bad = false;
  bool has_syscall = false;
  uint64_t arch = 0;
  int64_t syscall = -1;
  bool success = false;
  int64_t exit = 0;
  uint64_t a0 = 0;
  int32_t pid = -1;
  int32_t ppid = -1;
  uint32_t auid = 0, uid = 0, gid = 0, euid = 0, egid = 0, ses = 0;
  std::string exe;
  std::string comm;
  bool has_sockaddr = false;
  std::string sockaddr;
  std::string proctitle;
  std::map<uint32_t, ExecveArg> args;  // by argument number.
  uint64_t argv_bytes = 0;
  std::string first_record_type;
  std::vector<std::string> unread_types;  // record types of the event that are not read.
};

class AuditdParser final : public LineParser {
 public:
  explicit AuditdParser(ImportContext& context) : context_(context), lifecycle_(context) {}

  void begin_input() override {}

  void line(std::string_view text, uint64_t line_number) override {
    std::string_view t = trim(text);
    if (t.empty() || t.front() == '#' || t == "----" || t.substr(0, 6) == "time->") return;
    if (t.substr(0, 5) == "node=") {
      std::size_t space = t.find(' ');
      t = space == std::string_view::npos ? std::string_view{} : t.substr(space + 1);
    }
    // The enriched part of a record (log_format=ENRICHED) follows a 0x1d separator.
    std::size_t gs = t.find('\x1d');
    if (gs != std::string_view::npos) t = t.substr(0, gs);
    constexpr std::string_view kMsg = " msg=audit(";
    std::size_t msg = t.find(kMsg);
    if (t.substr(0, 5) != "type=" || msg == std::string_view::npos) {
      context_.bad_record(line_number, "not an audit record",
                          fmt::format("not an audit record: '{}'", t.substr(0, 40)));
      return;
    }
    std::string_view type = t.substr(5, msg - 5);
    std::size_t id_start = msg + kMsg.size();
    std::size_t close = t.find(')', id_start);
    std::string_view id = t.substr(
        id_start, close == std::string_view::npos ? std::string_view::npos : close - id_start);
    if (interpreted_id(id)) {
      // `ausearch -i`: the id's time is a local date without a zone, and uids, syscalls and
      // addresses are rewritten as names on the host that ran ausearch; none of it maps back.
      context_.bad_record(line_number, "ausearch -i interpreted record",
                          "an `ausearch -i` interpreted record (local time without a zone, names "
                          "instead of numbers): not accepted; export with `ausearch --raw`");
      return;
    }
    std::size_t dot = id.find('.');
    std::size_t colon = id.find(':');
    if (close == std::string_view::npos || dot == std::string_view::npos ||
        colon == std::string_view::npos || colon < dot) {
      context_.bad_record(
          line_number, "bad audit id",
          fmt::format("malformed audit(SECONDS.MILLIS:SERIAL): '{}'", t.substr(msg + 1, 48)));
      return;
    }
    auto seconds = parse_uint(id.substr(0, dot));
    auto millis = parse_uint(id.substr(dot + 1, colon - dot - 1));
    auto serial = parse_uint(id.substr(colon + 1));
    if (!seconds || !millis || !serial || *millis > 999 || *seconds > 10'000'000'000ULL) {
      context_.bad_record(
          line_number, "bad audit id",
          fmt::format("malformed audit(SECONDS.MILLIS:SERIAL): '{}'", t.substr(msg + 1, 48)));
      return;
    }
    context_.record_read();
    // Kernel records have "): " after the id; some auditd DAEMON_* records have only ") ".
    std::string_view body = t.substr(close + 1);
    if (!body.empty() && body.front() == ':') body.remove_prefix(1);
    auto [it, inserted] = open_.try_emplace(*serial);
    AuditEvent& event = it->second;
    if (inserted) {
      event.time_ns = *seconds * 1'000'000'000ULL + *millis * 1'000'000ULL;
      event.line = line_number;
      event.first_record_type.assign(type);
    }
    if (!event.bad) add_record(event, type, body, line_number);
    drain(false);
  }

  void end_input() override { drain(true); }

 private:
  void bad(AuditEvent& event, uint64_t line, std::string_view reason, std::string message) {
    event.bad = true;
    context_.bad_record(line, reason, message);
  }

  void add_record(AuditEvent& event, std::string_view type, std::string_view body, uint64_t line) {
    if (type == "EOE") {
      event.complete = true;
    } else if (type == "SYSCALL") {
      add_syscall(event, body, line);
    } else if (type == "SOCKADDR") {
      for_each_field(body, [&](std::string_view key, std::string_view value) {
        if (key != "saddr") return;
        event.sockaddr.clear();
        if (!decode_hex(value, event.sockaddr)) {
          bad(event, line, "bad SOCKADDR",
              fmt::format("SOCKADDR saddr '{}' is not hex", value.substr(0, 40)));
          return;
        }
        event.has_sockaddr = true;
      });
    } else if (type == "EXECVE") {
      add_execve(event, body, line);
    } else if (type == "PROCTITLE") {
      for_each_field(body, [&](std::string_view key, std::string_view value) {
        if (key != "proctitle") return;
        if (!decode_audit_string(value, event.proctitle)) {
          bad(event, line, "bad PROCTITLE", "PROCTITLE is neither quoted nor hex");
          return;
        }
        for (char& c : event.proctitle) {
          if (c == '\0') c = ' ';
        }
      });
    } else if (type != "PATH" && type != "CWD") {
      // Counted once, when the event is handled: as the event's kind if it has no SYSCALL,
      // else as a record of the syscall event that is not read.
      if (event.unread_types.size() < kUnreadTypesKept) event.unread_types.emplace_back(type);
    }
  }

  // EXECVE arguments: aN="text" or aN=HEX, or the long form the kernel uses for an argument
  // too long for one record: aN_len=LENGTH, then aN[0]=..., aN[1]=... (quoted or hex), possibly
  // over several EXECVE records of the event. The pieces are joined in order.
  void add_execve(AuditEvent& event, std::string_view body, uint64_t line) {
    for_each_field(body, [&](std::string_view key, std::string_view value) {
      if (event.bad || key.size() < 2 || key[0] != 'a' || key[1] < '0' || key[1] > '9') return;
      std::size_t digits = 1;
      while (digits < key.size() && key[digits] >= '0' && key[digits] <= '9') ++digits;
      auto index = parse_uint(key.substr(1, digits - 1));
      std::string_view rest = key.substr(digits);
      if (!index || *index >= kExecveArgsMax) {
        bad(event, line, "bad EXECVE", fmt::format("EXECVE argument {} out of range", key));
        return;
      }
      ExecveArg& arg = event.args[static_cast<uint32_t>(*index)];
      if (rest == "_len") {
        auto length = parse_uint(value);
        if (!length) {
          bad(event, line, "bad EXECVE",
              fmt::format("EXECVE {}={} is not a number", key, value.substr(0, 20)));
          return;
        }
        arg.declared_length = *length;
        return;
      }
      std::optional<uint64_t> piece;
      if (!rest.empty()) {
        if (rest.front() != '[' || rest.back() != ']' ||
            !(piece = parse_uint(rest.substr(1, rest.size() - 2)))) {
          bad(event, line, "bad EXECVE",
              fmt::format("EXECVE key {} is not aN, aN_len or aN[i]", key.substr(0, 40)));
          return;
        }
        if (*piece != arg.pieces) {
          bad(event, line, "bad EXECVE",
              fmt::format("EXECVE {} out of order (expected piece {})", key, arg.pieces));
          return;
        }
      }
      std::string decoded;
      if (!decode_audit_string(value, decoded)) {
        bad(event, line, "bad EXECVE", fmt::format("EXECVE {} is neither quoted nor hex", key));
        return;
      }
      ++arg.pieces;
      arg.printed_length += printed_length_of(value);
      arg.text += decoded;
      event.argv_bytes += decoded.size();
      if (event.argv_bytes > kArgvBytesMax) {
        bad(event, line, "bad EXECVE",
            fmt::format("EXECVE arguments longer than {} bytes", kArgvBytesMax));
      }
    });
  }

  // argv for the execve Marker; an argument whose printed pieces do not add up to its aN_len
  // (pieces missing from the log) is counted as unmapped.
  std::string joined_argv(const AuditEvent& e) {
    std::string out;
    for (const auto& [index, arg] : e.args) {
      if (arg.declared_length && *arg.declared_length != arg.printed_length) {
        context_.unmapped("auditd EXECVE long argument shorter than its aN_len (pieces missing)");
      }
      if (!out.empty()) out.push_back(' ');
      out += arg.text;
    }
    return out;
  }

  void add_syscall(AuditEvent& event, std::string_view body, uint64_t line) {
    event.has_syscall = true;
    bool ok = true;
    std::string what;
    auto u32 = [&](std::string_view key, std::string_view value, uint32_t& out) {
      auto v = parse_uint(value);
      if (!v || *v > 0xffffffffULL) {
        ok = false;
        what = fmt::format("SYSCALL {}={} is not a 32-bit number", key, value.substr(0, 20));
        return;
      }
      out = static_cast<uint32_t>(*v);
    };
    auto pid_of = [&](std::string_view key, std::string_view value, int32_t& out) {
      auto v = parse_uint(value);
      if (!v || *v > INT32_MAX) {
        ok = false;
        what = fmt::format("SYSCALL {}={} is not a pid", key, value.substr(0, 20));
        return;
      }
      out = static_cast<int32_t>(*v);
    };
    for_each_field(body, [&](std::string_view key, std::string_view value) {
      if (!ok) return;
      if (key == "arch") {
        auto v = parse_hex_uint(value);
        if (!v) {
          ok = false;
          what = fmt::format("SYSCALL arch={} is not hex", value.substr(0, 20));
        } else {
          event.arch = *v;
        }
      } else if (key == "syscall") {
        auto v = parse_int(value);
        if (!v) {
          ok = false;
          what = fmt::format("SYSCALL syscall={} is not a number", value.substr(0, 20));
        } else {
          event.syscall = *v;
        }
      } else if (key == "success") {
        event.success = value == "yes" || value == "\"yes\"";
      } else if (key == "exit") {
        auto v = parse_int(value);
        if (!v) {
          ok = false;
          what = fmt::format("SYSCALL exit={} is not a number", value.substr(0, 20));
        } else {
          event.exit = *v;
        }
      } else if (key == "a0") {
        auto v = parse_hex_uint(value);
        if (!v) {
          ok = false;
          what = fmt::format("SYSCALL a0={} is not hex", value.substr(0, 20));
        } else {
          event.a0 = *v;
        }
      } else if (key == "pid") {
        pid_of(key, value, event.pid);
      } else if (key == "ppid") {
        pid_of(key, value, event.ppid);
      } else if (key == "auid") {
        u32(key, value, event.auid);
      } else if (key == "uid") {
        u32(key, value, event.uid);
      } else if (key == "gid") {
        u32(key, value, event.gid);
      } else if (key == "euid") {
        u32(key, value, event.euid);
      } else if (key == "egid") {
        u32(key, value, event.egid);
      } else if (key == "ses") {
        u32(key, value, event.ses);
      } else if (key == "exe") {
        decode_audit_string(value, event.exe);
      } else if (key == "comm") {
        decode_audit_string(value, event.comm);
      }
    });
    if (ok && (event.pid < 0 || event.syscall < 0)) {
      ok = false;
      what = "SYSCALL record without pid or syscall";
    }
    if (!ok) bad(event, line, "bad SYSCALL", what);
  }

  // Handles complete events at the front of the window (all of them when `all`), and the
  // oldest ones beyond the window's bound.
  void drain(bool all) {
    while (!open_.empty()) {
      auto it = open_.begin();
      if (!all && !it->second.complete &&
          open_.size() <= context_.options().limits.auditd_open_events_max) {
        return;
      }
      handle(it->second);
      open_.erase(it);
      if (context_.stopped()) return;
    }
  }

  AuditToken token_with(const AuditEvent& e, int32_t pid, uint32_t version) const {
    AuditToken t;
    t.words = {e.auid, e.euid, e.egid, e.uid, e.gid, static_cast<uint32_t>(pid), e.ses, version};
    return t;
  }

  // The token of ppid as far as the trace knows it (a referenced-only pid gets a version that
  // its own first appearance will use).
  AuditToken parent_token(const AuditEvent& e) {
    if (e.ppid <= 0) return AuditToken{};
    const ExecutionState* state = lifecycle_.find(e.ppid);
    if (state != nullptr && state->alive) return state->token;
    auto [it, inserted] = referenced_only_.try_emplace(e.ppid, 0);
    if (inserted) it->second = ++last_version_;
    AuditToken t;
    t.words[AuditToken::kPid] = static_cast<uint32_t>(e.ppid);
    t.words[AuditToken::kPidversion] = it->second;
    return t;
  }

  // The live token of the event's subject, written as pre-existing on first appearance (with
  // `image`, default the SYSCALL's exe).
  std::optional<AuditToken> subject(const AuditEvent& e,
                                    std::optional<CodeIdentity> first_image = std::nullopt) {
    const ExecutionState* state = lifecycle_.find(e.pid);
    if (state != nullptr && state->alive) {
      AuditToken t = token_with(e, e.pid, state->token.pidversion());
      lifecycle_.ensure_live(t, AuditToken{}, std::nullopt, CodeIdentity{}, e.time_ns, e.line);
      return t;
    }
    // The parent is numbered before the child: an older execution never gets a higher
    // version than its descendants.
    const AuditToken parent = parent_token(e);
    uint32_t version = 0;
    auto ref = referenced_only_.find(e.pid);
    if (ref != referenced_only_.end()) {
      version = ref->second;
      referenced_only_.erase(ref);
    } else {
      version = ++last_version_;
    }
    AuditToken t = token_with(e, e.pid, version);
    CodeIdentity image;
    if (first_image) {
      image = *first_image;
    } else {
      image.path = e.exe;
    }
    if (!lifecycle_.ensure_live(t, parent, std::nullopt, image, e.time_ns, e.line)) {
      return std::nullopt;
    }
    return t;
  }

  void handle(AuditEvent& e) {
    if (e.bad) return;
    if (!e.has_syscall) {
      context_.ignored(fmt::format("auditd {} event (no SYSCALL)", e.first_record_type));
      return;
    }
    for (const auto& type : e.unread_types) {
      context_.ignored(fmt::format("auditd {} record of a syscall event (not read)", type));
    }
    const ArchTable* arch = arch_table(e.arch);
    if (arch == nullptr) {
      context_.unmapped(fmt::format("auditd arch {:x} unknown (event not mapped)", e.arch));
      return;
    }
    Call call = classify(*arch, e.syscall);
    if (call == Call::kSocketcall) call = e.a0 == 3 ? Call::kConnect : Call::kOther;  // SYS_CONNECT
    switch (call) {
      case Call::kOther:
        context_.ignored(fmt::format("auditd {} syscall {}", arch->name, e.syscall));
        return;
      case Call::kClone3:
        context_.unmapped("auditd clone3 (flags not in the record: child not created)");
        return;
      case Call::kClone:
      case Call::kFork: {
        if (!e.success || e.exit <= 0 || e.exit > INT32_MAX) {
          context_.ignored("auditd failed clone/fork");
          return;
        }
        if (call == Call::kClone && (e.a0 & kCloneThread) != 0) {
          context_.ignored("auditd clone of a thread");
          return;
        }
        auto parent = subject(e);
        if (!parent) return;
        const int32_t child_pid = static_cast<int32_t>(e.exit);
        referenced_only_.erase(child_pid);
        AuditToken child = token_with(e, child_pid, ++last_version_);
        CodeIdentity image;
        image.path = e.exe;  // a fork runs its parent's image until it execs.
        lifecycle_.spawned(ProcessSpawn{child, *parent, std::nullopt, image}, e.time_ns);
        return;
      }
      case Call::kExecve: {
        if (!e.success) {
          context_.ignored("auditd failed execve");
          return;
        }
        CodeIdentity image;
        image.path = e.exe;
        // A pid first seen at its execve existed before it, running an image the record does
        // not name (exe is the new one): it is announced as pre-existing with an empty image,
        // then the execve is an exec like any other.
        const ExecutionState* state = lifecycle_.find(e.pid);
        std::optional<AuditToken> previous;
        if (state != nullptr && state->alive) {
          previous = state->token;  // its uids as before the execve (setuid changes them).
        } else {
          previous = subject(e, CodeIdentity{});
        }
        if (!previous) return;
        AuditToken token = token_with(e, e.pid, ++last_version_);
        lifecycle_.execed(ProcessExec{*previous, token, image}, e.time_ns);
        context_.marker(
            fmt::format("auditd execve {}.{} {} argv: {}{}{}", e.pid, token.pidversion(), e.exe,
                        joined_argv(e), e.proctitle.empty() ? "" : " proctitle: ", e.proctitle),
            e.time_ns);
        return;
      }
      case Call::kExitGroup: {
        const ExecutionState* state = lifecycle_.find(e.pid);
        if (state == nullptr || !state->alive) {
          context_.unmapped("auditd exit_group of a pid not in the trace");
          return;
        }
        lifecycle_.exited(ProcessExit{state->token, static_cast<int32_t>(e.a0), ExitStage::kReaped},
                          e.time_ns);
        return;
      }
      case Call::kConnect:
        connect(e, *arch);
        return;
      case Call::kSocketcall:
        return;
    }
  }

  void connect(const AuditEvent& e, const ArchTable& arch) {
    if (!e.has_sockaddr || e.sockaddr.size() < 2) {
      context_.ignored("auditd connect without SOCKADDR");
      return;
    }
    const auto* b = reinterpret_cast<const uint8_t*>(e.sockaddr.data());
    // sa_family is in the host's byte order; ports and addresses in network order.
    const bool little_endian = (arch.arch & kAuditArchLe) != 0;
    const uint32_t family = little_endian ? (b[0] | (b[1] << 8)) : ((b[0] << 8) | b[1]);
    Flow flow;
    if (family == 2 && e.sockaddr.size() >= 8) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, b + 4, text, sizeof text);
      flow.remote_endpoint = Endpoint{text, static_cast<uint16_t>((b[2] << 8) | b[3])};
    } else if (family == 10 && e.sockaddr.size() >= 24) {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(AF_INET6, b + 8, text, sizeof text);
      flow.remote_endpoint = Endpoint{text, static_cast<uint16_t>((b[2] << 8) | b[3])};
    } else if (family == 2 || family == 10) {
      context_.bad_record(e.line, "bad SOCKADDR", "SOCKADDR too short for its address family");
      return;
    } else {
      context_.ignored(fmt::format("auditd connect to address family {}", family));
      return;
    }
    if (!e.success && e.exit != kEinprogress) context_.unmapped("auditd connect that failed");
    auto token = subject(e);
    if (!token) return;
    flow.flow_id = context_.next_flow_id();
    flow.family = family;
    flow.direction = FlowDirection::kOutbound;
    flow.source_app_audit_token = FlowToken{true, AuditToken::kByteSize, *token};
    flow.source_process_audit_token = flow.source_app_audit_token;
    flow.proc_pid = flow.eproc_pid = e.pid;
    context_.unmapped("auditd connect: protocol and socket type not in the source (left 0)");
    if (!e.proctitle.empty() || !e.comm.empty()) {
      context_.marker(fmt::format("auditd connect by {}.{} {} comm {} proctitle: {}", e.pid,
                                  token->pidversion(), e.exe, e.comm, e.proctitle),
                      e.time_ns);
    }
    scratch_.body = std::move(flow);
    context_.emit(scratch_, e.time_ns);
  }

  ImportContext& context_;
  Lifecycle lifecycle_;
  // Open events by serial: std::map so they are handled in serial order.
  std::map<uint64_t, AuditEvent> open_;
  std::unordered_map<int32_t, uint32_t> referenced_only_;
  uint32_t last_version_ = 0;
  Event scratch_;
};

}  // namespace

std::unique_ptr<LineParser> make_auditd_parser(ImportContext& context) {
  return std::make_unique<AuditdParser>(context);
}

}  // namespace flowid::import
