// eslogger (macOS Endpoint Security) JSON: one JSON object per line.
//
// Identity: eslogger carries real audit tokens, so executions are exactly the source's
// (pid, pidversion). Tokens come as objects {asid, auid, egid, euid, pid, pidversion, rgid, ruid}
// (extra keys such as Jamf's "uuid" are ignored) or, in some schema versions, as arrays of 8
// integers in audit_token_t order. Mapping:
//   fork (event_type 11) -> ProcessSpawn(child token, child's parent token, responsible, image)
//   exec (9)             -> ProcessExec(process token, target token, target image)
//   exit (15)            -> ProcessExit(process token, stat, reaped)
// ES reports no separate reap, and a pid can only be reused after its reap, so exits are
// recorded as reaped. Other event types are ignored and counted. A jump in global_seq_num is
// written as DroppedEvents (the ES client lost messages), except across a gap of more than a
// minute or a step back in time (a new session or a pause: a Marker says so).
//
// Parsing uses simdjson's On-Demand API with one reused parser: each object is walked once, in
// whatever key order eslogger wrote (it varies per line), and values that are not needed
// (env, fds, stat, entitlements ...) are skipped without building anything.
#include <fmt/format.h>
#include <simdjson.h>

#include "import/lifecycle.h"
#include "import/parser.h"
#include "import/text.h"

namespace flowid::import {
namespace {

namespace od = simdjson::ondemand;

// Codesigning flags (xnu's cs_blobs.h) that decide the signature kind.
constexpr uint32_t kCsAdhoc = 0x00000002;
constexpr uint32_t kCsRuntime = 0x00010000;
constexpr uint32_t kCsSigned = 0x20000000;

constexpr int64_t kEventExec = 9;
constexpr int64_t kEventFork = 11;
constexpr int64_t kEventExit = 15;

// es_cs_validation_category_t values (macOS 26+).
enum : int64_t {
  kCategoryInvalid = 0,
  kCategoryPlatform = 1,
  kCategoryTestflight = 2,
  kCategoryDevelopment = 3,
  kCategoryAppStore = 4,
  kCategoryEnterprise = 5,
  kCategoryDeveloperId = 6,
  kCategoryLocalSigning = 7,
  kCategoryNone = 10,
};

struct Problem {
  std::string_view reason;
  std::string message;
};

// One es_process_t as eslogger prints it. Reused across records (strings keep capacity).
struct EsProcess {
  bool has_token = false;
  AuditToken token;
  bool has_parent = false;
  AuditToken parent;
  bool has_responsible = false;
  AuditToken responsible;
  CodeIdentity image;
  bool path_truncated = false;
  uint32_t codesigning_flags = 0;
  std::optional<int64_t> validation_category;

  void reset() {
    has_token = has_parent = has_responsible = false;
    image.path.clear();
    image.cdhash.reset();
    image.signing_id.clear();
    image.team_id.clear();
    image.platform = false;
    image.signature = SignatureKind::kUnsigned;
    image.hardened_runtime = false;
    path_truncated = false;
    codesigning_flags = 0;
    validation_category.reset();
  }
  std::optional<AuditToken> responsible_if_other() const {
    if (!has_responsible || responsible == token) return std::nullopt;
    return responsible;
  }
};

SignatureKind signature_kind(const EsProcess& p) {
  if (p.validation_category) {
    switch (*p.validation_category) {
      case kCategoryPlatform:
        return SignatureKind::kPlatform;
      case kCategoryAppStore:
        return SignatureKind::kAppStore;
      case kCategoryDeveloperId:
      case kCategoryTestflight:
      case kCategoryDevelopment:
      case kCategoryEnterprise:
        return SignatureKind::kDeveloperId;
      case kCategoryLocalSigning:
        return SignatureKind::kAdHoc;
      case kCategoryInvalid:
      case kCategoryNone:
        return SignatureKind::kUnsigned;
      default:
        break;  // Rosetta, OOP JIT, future values: decide from the flags.
    }
  }
  if (p.image.platform) return SignatureKind::kPlatform;
  if ((p.codesigning_flags & kCsSigned) == 0 && !p.image.cdhash) return SignatureKind::kUnsigned;
  if ((p.codesigning_flags & kCsAdhoc) != 0) return SignatureKind::kAdHoc;
  if (!p.image.team_id.empty()) return SignatureKind::kDeveloperId;
  return SignatureKind::kAdHoc;
}

class EsloggerParser final : public LineParser {
 public:
  explicit EsloggerParser(ImportContext& context)
      : context_(context),
        assembler_(context.options().limits.json_record_bytes_max),
        lifecycle_(context) {}

  void begin_input() override {
    last_global_seq_.reset();
    last_seq_time_.reset();
  }

  void line(std::string_view text, uint64_t line_number) override {
    assembler_.feed(text, line_number);
    JsonRecordAssembler::Record record;
    for (;;) {
      auto result = assembler_.next(&record);
      if (result == JsonRecordAssembler::Result::kNeedMore || context_.stopped()) return;
      handle_assembled(result, record);
    }
  }

  void end_input() override {
    JsonRecordAssembler::Record record;
    auto result = assembler_.finish(&record);
    if (result != JsonRecordAssembler::Result::kNeedMore) handle_assembled(result, record);
  }

 private:
  void handle_assembled(JsonRecordAssembler::Result result,
                        const JsonRecordAssembler::Record& record) {
    using R = JsonRecordAssembler::Result;
    switch (result) {
      case R::kRecord:
        context_.record_read();
        record_line_ = record.first_line;
        if (!parse_record(record.text)) {
          context_.bad_record(record.first_line, problem_.reason, problem_.message);
        }
        return;
      case R::kUnterminated:
        context_.bad_record(record.first_line, "malformed JSON",
                            "JSON object not terminated (line cut short?)");
        return;
      case R::kTooLarge:
        context_.bad_record(record.first_line, "record too large",
                            "JSON record larger than the record size limit");
        return;
      case R::kStray:
        context_.bad_record(record.first_line, "malformed JSON",
                            fmt::format("not a JSON object: '{}'", record.text.substr(0, 40)));
        return;
      case R::kNeedMore:
        return;
    }
  }

  bool fail(std::string_view reason, std::string message) {
    problem_ = Problem{reason, std::move(message)};
    return false;
  }
  bool json_fail(simdjson::error_code error, std::string_view where) {
    return fail("malformed JSON",
                fmt::format("malformed JSON in {}: {}", where, simdjson::error_message(error)));
  }

  // `where` and `field` name the token in messages ("process" + ".audit_token"); they are only
  // formatted when something is wrong, so the common path allocates nothing.
  bool parse_token(od::value value, AuditToken& token, std::string_view owner,
                   std::string_view field_name) {
    auto at = [&] { return fmt::format("{}.{}", owner, field_name); };
    od::json_type type;
    if (auto error = value.type().get(type)) return json_fail(error, at());
    if (type == od::json_type::array) {
      od::array array;
      if (auto error = value.get_array().get(array)) return json_fail(error, at());
      std::size_t count = 0;
      for (auto element : array) {
        uint64_t word = 0;
        if (auto error = element.get_uint64().get(word)) {
          return fail("bad audit token", fmt::format("{}: entry {} is not an unsigned integer ({})",
                                                     at(), count, simdjson::error_message(error)));
        }
        if (word > 0xffffffffULL) {
          return fail("bad audit token",
                      fmt::format("{}: entry {} = {} does not fit 32 bits", at(), count, word));
        }
        if (count < AuditToken::kWordCount) token.words[count] = static_cast<uint32_t>(word);
        ++count;
      }
      if (count != AuditToken::kWordCount) {
        return fail("bad audit token",
                    fmt::format("{}: audit token array has {} entries (expected 8)", at(), count));
      }
      return true;
    }
    if (type != od::json_type::object) {
      return fail("bad audit token",
                  fmt::format("{}: audit token is neither object nor array", at()));
    }
    od::object object;
    if (auto error = value.get_object().get(object)) return json_fail(error, at());
    uint32_t seen = 0;
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, at());
      int word = -1;
      if (key == "auid")
        word = AuditToken::kAuid;
      else if (key == "euid")
        word = AuditToken::kEuid;
      else if (key == "egid")
        word = AuditToken::kEgid;
      else if (key == "ruid")
        word = AuditToken::kRuid;
      else if (key == "rgid")
        word = AuditToken::kRgid;
      else if (key == "pid")
        word = AuditToken::kPid;
      else if (key == "asid")
        word = AuditToken::kAsid;
      else if (key == "pidversion")
        word = AuditToken::kPidversion;
      if (word < 0) continue;  // "uuid" (Jamf) and future keys.
      uint64_t v = 0;
      if (auto error = field.value().get_uint64().get(v)) {
        return fail("bad audit token", fmt::format("{}.{}: not an unsigned integer ({})", at(), key,
                                                   simdjson::error_message(error)));
      }
      if (v > 0xffffffffULL) {
        return fail("bad audit token",
                    fmt::format("{}.{} = {} does not fit 32 bits", at(), key, v));
      }
      token.words[static_cast<std::size_t>(word)] = static_cast<uint32_t>(v);
      seen |= 1u << word;
    }
    if (seen != 0xffu) {
      static constexpr std::string_view kNames[] = {"auid", "euid", "egid", "ruid",
                                                    "rgid", "pid",  "asid", "pidversion"};
      for (int w = 0; w < 8; ++w) {
        if ((seen & (1u << w)) == 0) {
          return fail("bad audit token", fmt::format("{}: audit token lacks {}", at(), kNames[w]));
        }
      }
    }
    return true;
  }

  // A string or null (null -> empty).
  bool parse_optional_string(od::value value, std::string& out, std::string_view where) {
    od::json_type type;
    if (auto error = value.type().get(type)) return json_fail(error, where);
    if (type == od::json_type::null) {
      out.clear();
      return true;
    }
    std::string_view text;
    if (auto error = value.get_string().get(text)) {
      return fail("bad field", fmt::format("{}: expected a string or null ({})", where,
                                           simdjson::error_message(error)));
    }
    out.assign(text);
    return true;
  }

  bool parse_process(od::value value, EsProcess& out, std::string_view where) {
    out.reset();
    od::object object;
    if (auto error = value.get_object().get(object)) {
      return fail("bad field", fmt::format("{}: expected an object ({})", where,
                                           simdjson::error_message(error)));
    }
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, where);
      od::value v;
      if (auto error = field.value().get(v)) return json_fail(error, where);
      if (key == "audit_token") {
        if (!parse_token(v, out.token, where, "audit_token")) return false;
        out.has_token = true;
      } else if (key == "parent_audit_token") {
        if (!parse_token(v, out.parent, where, "parent_audit_token")) return false;
        out.has_parent = true;
      } else if (key == "responsible_audit_token") {
        if (!parse_token(v, out.responsible, where, "responsible_audit_token")) {
          return false;
        }
        out.has_responsible = true;
      } else if (key == "executable") {
        if (!parse_executable(v, out, where)) return false;
      } else if (key == "cdhash") {
        std::string_view hex;
        od::json_type type;
        if (auto error = v.type().get(type)) return json_fail(error, where);
        if (type == od::json_type::null) continue;
        if (auto error = v.get_string().get(hex)) return json_fail(error, where);
        if (hex.empty()) continue;
        Cdhash cdhash{};
        if (!decode_hex_exact(hex, cdhash)) {
          return fail("bad cdhash",
                      fmt::format("{}.cdhash '{}' is not 40 hex digits", where, hex.substr(0, 64)));
        }
        // ES reports 20 zero bytes for code without a cdhash (unsigned).
        bool all_zero = true;
        for (uint8_t b : cdhash) all_zero = all_zero && b == 0;
        if (!all_zero) out.image.cdhash = cdhash;
      } else if (key == "signing_id") {
        if (!parse_optional_string(v, out.image.signing_id, where)) return false;
      } else if (key == "team_id") {
        if (!parse_optional_string(v, out.image.team_id, where)) return false;
      } else if (key == "is_platform_binary") {
        if (auto error = v.get_bool().get(out.image.platform)) {
          return fail("bad field", fmt::format("{}.is_platform_binary is not a boolean ({})", where,
                                               simdjson::error_message(error)));
        }
      } else if (key == "codesigning_flags") {
        uint64_t flags = 0;
        if (auto error = v.get_uint64().get(flags)) {
          return fail("bad field", fmt::format("{}.codesigning_flags is not an unsigned "
                                               "integer ({})",
                                               where, simdjson::error_message(error)));
        }
        out.codesigning_flags = static_cast<uint32_t>(flags);
      } else if (key == "cs_validation_category") {
        int64_t category = 0;
        if (auto error = v.get_int64().get(category)) {
          return fail("bad field", fmt::format("{}.cs_validation_category is not an integer "
                                               "({})",
                                               where, simdjson::error_message(error)));
        }
        out.validation_category = category;
      }
      // ppid, original_ppid, group_id, session_id, start_time, tty, is_es_client and unknown
      // keys are not part of the model: skipped.
    }
    out.image.hardened_runtime = (out.codesigning_flags & kCsRuntime) != 0;
    out.image.signature = signature_kind(out);
    if (!out.has_token) {
      return fail("missing field", fmt::format("{} has no audit_token", where));
    }
    return true;
  }

  bool parse_executable(od::value value, EsProcess& out, std::string_view where) {
    od::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return fail("bad field", fmt::format("{}.executable is not an object", where));
    }
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, where);
      if (key == "path") {
        std::string_view path;
        if (field.value().get_string().get(path) != simdjson::SUCCESS) {
          return fail("bad field", fmt::format("{}.executable.path is not a string", where));
        }
        out.image.path.assign(path);
      } else if (key == "path_truncated") {
        if (field.value().get_bool().get(out.path_truncated) != simdjson::SUCCESS) {
          return fail("bad field",
                      fmt::format("{}.executable.path_truncated is not a boolean", where));
        }
      }
    }
    return true;
  }

  // The "event" object: {"exec": {...}} / {"fork": {...}} / {"exit": {...}} / other.
  bool parse_event(od::value value) {
    od::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return fail("bad field", "event is not an object");
    }
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, "event");
      od::value v;
      if (auto error = field.value().get(v)) return json_fail(error, "event");
      if (key == "exec" || key == "fork") {
        event_kind_ = key == "exec" ? kEventExec : kEventFork;
        od::object inner;
        if (v.get_object().get(inner) != simdjson::SUCCESS) {
          return fail("bad field", fmt::format("event.{} is not an object", key));
        }
        const std::string_view wanted = key == "exec" ? "target" : "child";
        for (auto f : inner) {
          std::string_view k;
          if (auto error = f.unescaped_key().get(k)) return json_fail(error, "event");
          if (k != wanted) continue;
          od::value pv;
          if (auto error = f.value().get(pv)) return json_fail(error, "event");
          if (!parse_process(pv, target_,
                             key == "exec" ? "event.exec.target" : "event.fork.child")) {
            return false;
          }
          has_target_ = true;
        }
      } else if (key == "exit") {
        event_kind_ = kEventExit;
        od::object inner;
        if (v.get_object().get(inner) != simdjson::SUCCESS) {
          return fail("bad field", "event.exit is not an object");
        }
        for (auto f : inner) {
          std::string_view k;
          if (auto error = f.unescaped_key().get(k)) return json_fail(error, "event");
          if (k != "stat") continue;
          int64_t stat = 0;
          if (f.value().get_int64().get(stat) != simdjson::SUCCESS) {
            return fail("bad field", "event.exit.stat is not an integer");
          }
          exit_stat_ = static_cast<int32_t>(stat);
        }
      }
    }
    return true;
  }

  bool parse_record(std::string_view text) {
    padded_.assign(text.data(), text.size());
    padded_.append(simdjson::SIMDJSON_PADDING, ' ');
    od::document doc;
    if (auto error =
            parser_
                .iterate(simdjson::padded_string_view(padded_.data(), text.size(), padded_.size()))
                .get(doc)) {
      return json_fail(error, "record");
    }
    od::object root;
    if (auto error = doc.get_object().get(root)) return json_fail(error, "record");

    event_type_.reset();
    time_ns_.reset();
    global_seq_.reset();
    has_process_ = has_target_ = false;
    event_kind_ = -1;
    exit_stat_ = 0;
    for (auto field : root) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, "record");
      od::value v;
      if (auto error = field.value().get(v)) return json_fail(error, "record");
      if (key == "event_type") {
        int64_t type = 0;
        if (v.get_int64().get(type) != simdjson::SUCCESS) {
          return fail("bad field", "event_type is not an integer");
        }
        event_type_ = type;
      } else if (key == "time") {
        std::string_view time;
        if (v.get_string().get(time) != simdjson::SUCCESS) {
          return fail("bad field", "time is not a string");
        }
        time_ns_ = parse_iso8601_ns(time);
        if (!time_ns_) {
          return fail("bad time",
                      fmt::format("time '{}' is not an ISO 8601 timestamp", time.substr(0, 48)));
        }
      } else if (key == "global_seq_num") {
        uint64_t seq = 0;
        if (v.get_uint64().get(seq) != simdjson::SUCCESS) {
          return fail("bad field", "global_seq_num is not an unsigned integer");
        }
        global_seq_ = seq;
      } else if (key == "process") {
        if (!parse_process(v, process_, "process")) return false;
        has_process_ = true;
      } else if (key == "event") {
        if (!parse_event(v)) return false;
      }
      // schema_version, version, mach_time, seq_num, thread, action_type, action and unknown
      // keys are not needed.
    }
    return map_record();
  }

  bool map_record() {
    if (!event_type_) return fail("missing field", "record has no event_type");
    if (!time_ns_) return fail("missing field", "record has no time");
    note_sequence();
    const int64_t type = *event_type_;
    if (type != kEventExec && type != kEventFork && type != kEventExit) {
      context_.ignored(fmt::format("eslogger event_type {}", type));
      return true;
    }
    if (!has_process_) return fail("missing field", "record has no process");
    if (event_kind_ != type) {
      return fail("missing field", fmt::format("event_type {} but event has no \"{}\" object", type,
                                               type == kEventExec   ? "exec"
                                               : type == kEventFork ? "fork"
                                                                    : "exit"));
    }
    if (process_.path_truncated) context_.unmapped("path truncated by the source");
    const AuditToken parent = process_.has_parent ? process_.parent : AuditToken{};
    if (!process_.has_parent) context_.unmapped("parent_audit_token not in the source");
    if (!lifecycle_.ensure_live(process_.token, parent, process_.responsible_if_other(),
                                process_.image, time_ns_, record_line_)) {
      return true;  // counted by the lifecycle.
    }
    if (type == kEventExit) {
      lifecycle_.exited(ProcessExit{process_.token, exit_stat_, ExitStage::kReaped}, time_ns_);
      return true;
    }
    if (!has_target_) {
      return fail("missing field",
                  type == kEventExec ? "event.exec has no target" : "event.fork has no child");
    }
    if (target_.path_truncated) context_.unmapped("path truncated by the source");
    if (type == kEventExec) {
      if (target_.token.pid() != process_.token.pid()) {
        return fail("inconsistent record",
                    fmt::format("exec target pid {} differs from process pid {}",
                                target_.token.pid(), process_.token.pid()));
      }
      if (target_.token.pidversion() == process_.token.pidversion()) {
        context_.unmapped("exec without a new pidversion");
      }
      lifecycle_.execed(ProcessExec{process_.token, target_.token, target_.image}, time_ns_);
      return true;
    }
    AuditToken child_parent = target_.has_parent ? target_.parent : process_.token;
    lifecycle_.spawned(
        ProcessSpawn{target_.token, child_parent, target_.responsible_if_other(), target_.image},
        time_ns_);
    return true;
  }

  // A jump in global_seq_num means the ES client dropped messages; a decrease means a new
  // eslogger session (the counter restarts), not a loss.
  // A jump across a gap in time of more than ImportContext::kSessionGapNs, or across a step
  // back in time, is a new session or a pause (the context writes a Marker for the time; this
  // one says what the counter did), not lost messages.
  void note_sequence() {
    if (!global_seq_) return;
    const std::optional<uint64_t> last_time = last_seq_time_;
    last_seq_time_ = time_ns_;
    const bool session_break =
        last_time && time_ns_ &&
        (*time_ns_ < *last_time || *time_ns_ > *last_time + ImportContext::kSessionGapNs);
    if (last_global_seq_ && *global_seq_ > *last_global_seq_ + 1 && session_break) {
      context_.marker(
          fmt::format("eslogger global_seq_num jumps from {} to {} across a {} in time ({}:{}): "
                      "a new session or a pause, not lost events",
                      *last_global_seq_, *global_seq_, *time_ns_ < *last_time ? "step back" : "gap",
                      context_.input_name(), record_line_),
          time_ns_);
    } else if (last_global_seq_ && *global_seq_ > *last_global_seq_ + 1) {
      uint64_t lost = *global_seq_ - *last_global_seq_ - 1;
      dropped_scratch_.body = DroppedEvents{
          lost, fmt::format("eslogger global_seq_num jumped from {} to {} ({}:{})",
                            *last_global_seq_, *global_seq_, context_.input_name(), record_line_)};
      context_.emit(dropped_scratch_, time_ns_);
    }
    last_global_seq_ = global_seq_;
  }

  ImportContext& context_;
  JsonRecordAssembler assembler_;
  Lifecycle lifecycle_;
  od::parser parser_;
  std::string padded_;
  Problem problem_;
  uint64_t record_line_ = 0;

  // The record being parsed.
  std::optional<int64_t> event_type_;
  std::optional<uint64_t> time_ns_;
  std::optional<uint64_t> global_seq_;
  bool has_process_ = false;
  bool has_target_ = false;
  int64_t event_kind_ = -1;
  int32_t exit_stat_ = 0;
  EsProcess process_;
  EsProcess target_;

  std::optional<uint64_t> last_global_seq_;
  std::optional<uint64_t> last_seq_time_;  // the time of the record of last_global_seq_.
  Event dropped_scratch_;
};

}  // namespace

std::unique_ptr<LineParser> make_eslogger_parser(ImportContext& context) {
  return std::make_unique<EsloggerParser>(context);
}

}  // namespace flowid::import
