// Tetragon JSON events (`tetra getevents -o json`: one object per line; pretty-printed objects
// and concatenated files are read too).
//
// Identity: Tetragon names each execution by exec_id (base64 "node:ktime:pid"), unique per
// exec. Executions get pidversions in first-seen order of their exec_id (1, 2, 3 ... across the
// import), and the first sight of each exec_id writes a Marker "tetragon exec_id ID =
// pid.pidversion BINARY" so the mapping is in the trace. Tetragon reports uid (the real uid,
// used for ruid and euid) and auid; egid, rgid and asid are not in the source and stay 0.
// Mapping:
//   process_exec    -> ProcessExec when the pid's live execution is the parent (an exec
//                      without fork: parent pid == pid), else ProcessSpawn(process, parent)
//   process_exit    -> ProcessExit(status)
//   process_connect -> Flow (both flow tokens = the process's token, well formed: exec_id is a
//                      real execution identity); local source_ip:port, remote destination
//   process_close   -> Marker naming the flow it closes and the bytes sent / received
// process_kprobe, process_listen and other kinds are ignored and counted.
#include <fmt/format.h>
#include <simdjson.h>

#include <deque>
#include <map>

#include "import/lifecycle.h"
#include "import/parser.h"
#include "import/text.h"

namespace flowid::import {
namespace {

namespace od = simdjson::ondemand;

// Linux numbers (the trace says family numbers are the source OS's).
constexpr uint32_t kAfInet = 2;
constexpr uint32_t kAfInet6 = 10;
constexpr uint32_t kIpprotoTcp = 6;
constexpr uint32_t kIpprotoUdp = 17;
constexpr uint32_t kSockStream = 1;
constexpr uint32_t kSockDgram = 2;
// Connections remembered for matching process_close to its flow.
constexpr std::size_t kOpenConnectionsMax = 1u << 16;

struct TetraProcess {
  bool present = false;
  std::string exec_id;
  std::string parent_exec_id;
  int64_t pid = -1;
  uint64_t uid = 0;
  uint64_t auid = 0;
  std::string binary;
  std::string flags;
  void reset() {
    present = false;
    exec_id.clear();
    parent_exec_id.clear();
    pid = -1;
    uid = auid = 0;
    binary.clear();
    flags.clear();
  }
};

struct Problem {
  std::string_view reason;
  std::string message;
};

class TetragonParser final : public LineParser {
 public:
  explicit TetragonParser(ImportContext& context)
      : context_(context),
        assembler_(context.options().limits.json_record_bytes_max),
        lifecycle_(context) {}

  void begin_input() override {}

  void line(std::string_view text, uint64_t line_number) override {
    assembler_.feed(text, line_number);
    JsonRecordAssembler::Record record;
    for (;;) {
      auto result = assembler_.next(&record);
      if (result == JsonRecordAssembler::Result::kNeedMore || context_.stopped()) return;
      handle(result, record);
    }
  }

  void end_input() override {
    JsonRecordAssembler::Record record;
    auto result = assembler_.finish(&record);
    if (result != JsonRecordAssembler::Result::kNeedMore) handle(result, record);
  }

 private:
  void handle(JsonRecordAssembler::Result result, const JsonRecordAssembler::Record& record) {
    using R = JsonRecordAssembler::Result;
    record_line_ = record.first_line;
    switch (result) {
      case R::kRecord:
        context_.record_read();
        if (!parse(record.text))
          context_.bad_record(record.first_line, problem_.reason, problem_.message);
        return;
      case R::kUnterminated:
        context_.bad_record(record.first_line, "malformed JSON", "JSON object not terminated");
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

  bool get_text(od::value v, std::string& out, std::string_view where) {
    std::string_view s;
    if (auto error = v.get_string().get(s)) {
      return fail("bad field",
                  fmt::format("{} is not a string ({})", where, simdjson::error_message(error)));
    }
    out.assign(s);
    return true;
  }
  // Tetragon writes some numbers as strings ("bytes_sent": "78").
  bool get_number(od::value v, uint64_t& out, std::string_view where) {
    od::json_type type;
    if (auto error = v.type().get(type)) return json_fail(error, where);
    if (type == od::json_type::string) {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS)
        return json_fail(simdjson::INCORRECT_TYPE, where);
      auto n = parse_uint(s);
      if (!n)
        return fail("bad field", fmt::format("{} = '{}' is not a number", where, s.substr(0, 30)));
      out = *n;
      return true;
    }
    if (auto error = v.get_uint64().get(out)) {
      return fail("bad field", fmt::format("{} is not an unsigned integer ({})", where,
                                           simdjson::error_message(error)));
    }
    return true;
  }

  bool parse_process(od::value value, TetraProcess& out, std::string_view where) {
    out.reset();
    od::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return fail("bad field", fmt::format("{} is not an object", where));
    }
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, where);
      od::value v;
      if (auto error = field.value().get(v)) return json_fail(error, where);
      if (key == "exec_id") {
        if (!get_text(v, out.exec_id, "exec_id")) return false;
      } else if (key == "parent_exec_id") {
        if (!get_text(v, out.parent_exec_id, "parent_exec_id")) return false;
      } else if (key == "pid") {
        uint64_t pid = 0;
        if (!get_number(v, pid, "pid")) return false;
        if (pid > INT32_MAX) return fail("bad field", fmt::format("pid {} out of range", pid));
        out.pid = static_cast<int64_t>(pid);
      } else if (key == "uid") {
        if (!get_number(v, out.uid, "uid")) return false;
      } else if (key == "auid") {
        if (!get_number(v, out.auid, "auid")) return false;
      } else if (key == "binary") {
        if (!get_text(v, out.binary, "binary")) return false;
      } else if (key == "flags") {
        if (!get_text(v, out.flags, "flags")) return false;
      }
    }
    if (out.exec_id.empty()) return fail("missing field", fmt::format("{} has no exec_id", where));
    if (out.pid < 0) return fail("missing field", fmt::format("{} has no pid", where));
    out.present = true;
    return true;
  }

  bool parse(std::string_view text) {
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
    kind_.clear();
    time_ns_.reset();
    process_.reset();
    parent_.reset();
    source_ip_.clear();
    destination_ip_.clear();
    source_port_ = destination_port_ = 0;
    protocol_.clear();
    status_ = 0;
    bytes_sent_ = bytes_received_ = 0;
    for (auto field : root) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, "record");
      od::value v;
      if (auto error = field.value().get(v)) return json_fail(error, "record");
      if (key == "time") {
        std::string_view t;
        if (v.get_string().get(t) != simdjson::SUCCESS)
          return fail("bad field", "time is not a string");
        time_ns_ = parse_iso8601_ns(t);
        if (!time_ns_) {
          return fail("bad time",
                      fmt::format("time '{}' is not an ISO 8601 timestamp", t.substr(0, 48)));
        }
      } else if (key == "node_name") {
        std::string_view node;
        if (v.get_string().get(node) == simdjson::SUCCESS) context_.set_host(node);
      } else if (key.substr(0, 8) == "process_") {
        kind_.assign(key);
        if (key == "process_exec" || key == "process_exit" || key == "process_connect" ||
            key == "process_close") {
          if (!parse_body(v)) return false;
        }
      }
    }
    return map();
  }

  bool parse_body(od::value value) {
    od::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return fail("bad field", fmt::format("{} is not an object", kind_));
    }
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return json_fail(error, kind_);
      od::value v;
      if (auto error = field.value().get(v)) return json_fail(error, kind_);
      uint64_t n = 0;
      if (key == "process") {
        if (!parse_process(v, process_, "process")) return false;
      } else if (key == "parent") {
        if (!parse_process(v, parent_, "parent")) return false;
      } else if (key == "source_ip") {
        if (!get_text(v, source_ip_, "source_ip")) return false;
      } else if (key == "destination_ip") {
        if (!get_text(v, destination_ip_, "destination_ip")) return false;
      } else if (key == "source_port" || key == "destination_port") {
        if (!get_number(v, n, key)) return false;
        if (n > 65535) return fail("bad field", fmt::format("{} {} out of range", key, n));
        (key == "source_port" ? source_port_ : destination_port_) = static_cast<uint16_t>(n);
      } else if (key == "protocol") {
        if (!get_text(v, protocol_, "protocol")) return false;
      } else if (key == "status") {
        if (!get_number(v, n, "status")) return false;
        status_ = static_cast<int32_t>(n);
      } else if (key == "stats") {
        od::object stats;
        if (v.get_object().get(stats) != simdjson::SUCCESS)
          return fail("bad field", "stats is not an object");
        for (auto s : stats) {
          std::string_view k;
          if (auto error = s.unescaped_key().get(k)) return json_fail(error, "stats");
          if (k != "bytes_sent" && k != "bytes_received") continue;
          od::value sv;
          if (auto error = s.value().get(sv)) return json_fail(error, "stats");
          if (!get_number(sv, k == "bytes_sent" ? bytes_sent_ : bytes_received_, k)) return false;
        }
      }
    }
    return true;
  }

  // The pid an exec_id names: base64 of "node:ktime:pid". -1 when it does not decode.
  static int64_t pid_of_exec_id(std::string_view exec_id) {
    std::string decoded;
    if (!decode_base64(exec_id, decoded)) return -1;
    std::size_t colon = decoded.rfind(':');
    if (colon == std::string::npos) return -1;
    auto pid = parse_uint(std::string_view(decoded).substr(colon + 1));
    if (!pid || *pid > INT32_MAX) return -1;
    return static_cast<int64_t>(*pid);
  }

  // An execution the source names only by exec_id (a parent_exec_id): its pid as already
  // known, else as the exec_id says.
  TetraProcess reference(const std::string& exec_id) const {
    TetraProcess ref;
    ref.exec_id = exec_id;
    auto it = exec_ids_.find(exec_id);
    ref.pid = it != exec_ids_.end() ? it->second.pid : pid_of_exec_id(exec_id);
    ref.present = ref.pid >= 0;
    return ref;
  }

  // The token of a Tetragon execution; the first sight of an exec_id assigns its pidversion.
  // An exec_id seen again with another pid (an exec_id is unique per execution, so the source
  // reuses it: a corrupt record, or captures of two nodes with the same name) is a different
  // execution: it gets its own pidversion, under the key "EXEC_ID pid PID", and a Marker.
  AuditToken token_for(const TetraProcess& p, std::optional<uint64_t> time) {
    auto it = exec_ids_.find(p.exec_id);
    if (it != exec_ids_.end() && it->second.pid != p.pid && p.pid >= 0) {
      const std::string key = fmt::format("{} pid {}", p.exec_id, p.pid);
      auto again = exec_ids_.find(key);
      if (again == exec_ids_.end()) {
        const uint32_t version = ++last_pidversion_;
        again = exec_ids_.emplace(key, ExecInfo{version, static_cast<int32_t>(p.pid)}).first;
        context_.unmapped("tetragon exec_id reused by another pid (a separate execution)");
        context_.marker(
            fmt::format("tetragon exec_id {} = {}.{} {}: already {}.{}, reused by "
                        "another pid at {}:{} (taken as a separate execution)",
                        p.exec_id, p.pid, version,
                        p.binary.empty() ? "(named only as a parent)" : p.binary, it->second.pid,
                        it->second.pidversion, context_.input_name(), record_line_),
            time);
      }
      it = again;
    }
    uint32_t pidversion = 0;
    if (it != exec_ids_.end()) {
      pidversion = it->second.pidversion;
    } else {
      pidversion = ++last_pidversion_;
      exec_ids_.emplace(p.exec_id, ExecInfo{pidversion, static_cast<int32_t>(p.pid)});
      context_.marker(fmt::format("tetragon exec_id {} = {}.{} {}", p.exec_id, p.pid, pidversion,
                                  p.binary.empty() ? "(named only as a parent)" : p.binary),
                      time);
    }
    AuditToken t;
    t.words[AuditToken::kAuid] = static_cast<uint32_t>(p.auid);
    t.words[AuditToken::kEuid] = static_cast<uint32_t>(p.uid);
    t.words[AuditToken::kRuid] = static_cast<uint32_t>(p.uid);
    t.words[AuditToken::kPid] = static_cast<uint32_t>(p.pid);
    t.words[AuditToken::kPidversion] = pidversion;
    return t;
  }

  // The token of p's parent: the record's parent object when it is that execution, else the
  // execution parent_exec_id names. Ancestors get their pidversions before p (older first).
  // A parent_exec_id that is missing or does not decode to a pid falls back on the record's
  // parent object (when p is the record's process and the object is not p itself), counted.
  AuditToken parent_token(const TetraProcess& p) {
    if (parent_.present && parent_.exec_id == p.parent_exec_id) return token_for(parent_, time_ns_);
    if (!p.parent_exec_id.empty()) {
      TetraProcess ref = reference(p.parent_exec_id);
      if (ref.present) return token_for(ref, time_ns_);
    }
    if (&p == &process_ && parent_.present && parent_.pid >= 0 &&
        parent_.exec_id != process_.exec_id) {
      context_.unmapped(p.parent_exec_id.empty()
                            ? "tetragon parent_exec_id missing (the record's parent object used)"
                            : "tetragon parent_exec_id that does not decode to a pid (the "
                              "record's parent object used)");
      return token_for(parent_, time_ns_);
    }
    context_.unmapped(
        p.parent_exec_id.empty()
            ? "parent execution not in the source"
            : "tetragon parent_exec_id that does not decode to a pid (parent left 0)");
    return AuditToken{};
  }

  // The record's parent object when it is the execution `parent` names, for its image.
  CodeIdentity parent_image(const AuditToken& parent) {
    if (parent_.present && exec_ids_.count(parent_.exec_id) != 0 && parent_.pid == parent.pid() &&
        exec_ids_.at(parent_.exec_id).pidversion == parent.pidversion()) {
      return image_of(parent_);
    }
    return CodeIdentity{};
  }

  // Numbers the record's grandparent (named by the parent's parent_exec_id) before the parent
  // and the process, so that within a record older executions get lower pidversions.
  void number_ancestors() {
    if (!parent_.present || parent_.parent_exec_id.empty()) return;
    TetraProcess ref = reference(parent_.parent_exec_id);
    if (ref.present) token_for(ref, time_ns_);
  }

  bool known(const std::string& exec_id) const { return exec_ids_.count(exec_id) != 0; }

  void forget_after_exit(const std::string& exec_id) {
    exited_.push_back(exec_id);
    if (exited_.size() > context_.options().limits.exited_executions_remembered) {
      exec_ids_.erase(exited_.front());
      exited_.pop_front();
    }
  }

  CodeIdentity image_of(const TetraProcess& p) {
    CodeIdentity image;
    image.path = p.binary;  // Linux sources give no code signature: path only.
    return image;
  }

  // A subject process: make sure the trace has it (pre-existing on first sight). When the
  // record's parent has the same pid, the parent is this pid's previous execution (an exec
  // without fork whose process_exec is not in the source): the parent is made live and the
  // exec into p is written, inferred and marked.
  bool ensure_subject(const AuditToken& token, const AuditToken& parent, const TetraProcess& p) {
    const ExecutionState* state = lifecycle_.find(token.pid());
    const bool live =
        state != nullptr && state->alive && state->token.execution() == token.execution();
    // The parent may be known only from parent_exec_id (no parent object in the record): the
    // same pid still means an exec without fork, never a spawn by the child's own pid.
    if (!live && parent.pid() == token.pid() && parent.pidversion() != 0 &&
        parent.execution() != token.execution() && !known_live(token)) {
      const bool object = parent_.present && parent_.exec_id == p.parent_exec_id;
      const AuditToken grandparent = object ? parent_token(parent_) : AuditToken{};
      if (lifecycle_.ensure_live(parent, grandparent, std::nullopt, parent_image(parent), time_ns_,
                                 record_line_)) {
        context_.unmapped("tetragon exec inferred from a parent with the same pid");
        context_.marker(fmt::format("exec of {}.{} into {}.{} inferred: {}:{} names it as the "
                                    "parent of the same pid (its process_exec is not in the "
                                    "source)",
                                    parent.pid(), parent.pidversion(), token.pid(),
                                    token.pidversion(), context_.input_name(), record_line_),
                        time_ns_);
        lifecycle_.execed(ProcessExec{parent, token, image_of(p)}, time_ns_);
        return true;
      }
    }
    return lifecycle_.ensure_live(token, parent, std::nullopt, image_of(p), time_ns_, record_line_);
  }

  // True when the token's execution was live in the trace and has exited since.
  bool known_live(const AuditToken& token) const {
    const ExecutionState* state = lifecycle_.find(token.pid());
    return state != nullptr && state->token.execution() == token.execution();
  }

  bool map() {
    if (kind_.empty()) return fail("missing field", "record has no process_* event");
    if (kind_ != "process_exec" && kind_ != "process_exit" && kind_ != "process_connect" &&
        kind_ != "process_close") {
      context_.ignored(fmt::format("tetragon {}", kind_));
      return true;
    }
    // Real Tetragon output has events without "time" (cilium/tetragon testdata/events.json).
    if (!time_ns_) context_.unmapped("tetragon record without time (previous event's time used)");
    if (!process_.present) return fail("missing field", fmt::format("{} has no process", kind_));
    if (kind_ == "process_exec") return map_exec();
    number_ancestors();
    const AuditToken parent = parent_token(process_);
    AuditToken token = token_for(process_, time_ns_);
    // A connect or close reported after its execution's exit (out-of-order streams) is still
    // written: the flow happened and its token names the execution (counted as unmapped).
    const bool live = ensure_subject(token, parent, process_);
    if (kind_ == "process_exit") {
      if (!live) return true;
      lifecycle_.exited(ProcessExit{token, status_, ExitStage::kReaped}, time_ns_);
      forget_after_exit(process_.exec_id);
      return true;
    }
    const bool v6 = destination_ip_.find(':') != std::string::npos;
    if (kind_ == "process_connect") {
      Flow flow;
      flow.flow_id = context_.next_flow_id();
      flow.source_app_audit_token = FlowToken{true, AuditToken::kByteSize, token};
      flow.source_process_audit_token = flow.source_app_audit_token;
      flow.local_endpoint = Endpoint{source_ip_, source_port_};
      flow.remote_endpoint = Endpoint{destination_ip_, destination_port_};
      flow.direction = FlowDirection::kOutbound;
      flow.family = v6 ? kAfInet6 : kAfInet;
      if (protocol_ == "TCP") {
        flow.protocol = kIpprotoTcp;
        flow.type = kSockStream;
      } else if (protocol_ == "UDP") {
        flow.protocol = kIpprotoUdp;
        flow.type = kSockDgram;
      } else {
        context_.unmapped("tetragon connect protocol other than TCP/UDP (left 0)");
      }
      flow.proc_pid = flow.eproc_pid = static_cast<int32_t>(process_.pid);
      if (connections_.size() >= kOpenConnectionsMax) connections_.erase(connections_.begin());
      connections_[connection_key()] = flow.flow_id;
      scratch_.body = std::move(flow);
      context_.emit(scratch_, time_ns_);
      return true;
    }
    // process_close.
    auto it = connections_.find(connection_key());
    std::string which = "an unrecorded connection";
    if (it != connections_.end()) {
      which = fmt::format("flow #{}", it->second);
      connections_.erase(it);
    } else {
      context_.unmapped("tetragon close without a recorded connect");
    }
    context_.marker(fmt::format("tetragon process_close of {} ({}:{} -> {}:{}): bytes_sent {}, "
                                "bytes_received {}",
                                which, source_ip_, source_port_, destination_ip_, destination_port_,
                                bytes_sent_, bytes_received_),
                    time_ns_);
    return true;
  }

  std::string connection_key() const {
    return fmt::format("{}|{}|{}|{}|{}", process_.exec_id, source_ip_, source_port_,
                       destination_ip_, destination_port_);
  }

  bool map_exec() {
    if (known(process_.exec_id)) {
      context_.unmapped("tetragon process_exec for an exec_id already seen");
      return true;
    }
    number_ancestors();
    const bool has_parent = parent_.present && parent_.exec_id == process_.parent_exec_id;
    const AuditToken parent_token = this->parent_token(process_);
    if (has_parent) {
      // The parent is a subject too: it is running, so the trace must have it.
      const AuditToken grandparent = this->parent_token(parent_);
      const ExecutionState* state = lifecycle_.find(parent_token.pid());
      if (state == nullptr || state->token.execution() != parent_token.execution() ||
          !state->alive) {
        lifecycle_.ensure_live(parent_token, grandparent, std::nullopt, image_of(parent_), time_ns_,
                               record_line_);
      }
    }
    AuditToken token = token_for(process_, time_ns_);
    if (!has_parent && parent_token.pid() == token.pid() && parent_token.pidversion() != 0) {
      // The parent is known only from parent_exec_id and has the same pid: this pid's previous
      // execution, which must be live for the exec.
      const ExecutionState* before = lifecycle_.find(parent_token.pid());
      if (before == nullptr || !before->alive ||
          before->token.execution() != parent_token.execution()) {
        lifecycle_.ensure_live(parent_token, AuditToken{}, std::nullopt, CodeIdentity{}, time_ns_,
                               record_line_);
      }
    }
    const ExecutionState* state = lifecycle_.find(token.pid());
    const bool exec_in_place = parent_token.pid() == process_.pid && state != nullptr &&
                               state->alive && state->token.execution() == parent_token.execution();
    if (exec_in_place) {
      lifecycle_.execed(ProcessExec{parent_token, token, image_of(process_)}, time_ns_);
    } else {
      lifecycle_.spawned(ProcessSpawn{token, parent_token, std::nullopt, image_of(process_)},
                         time_ns_);
    }
    return true;
  }

  ImportContext& context_;
  JsonRecordAssembler assembler_;
  Lifecycle lifecycle_;
  od::parser parser_;
  std::string padded_;
  Problem problem_;
  uint64_t record_line_ = 0;

  std::string kind_;
  std::optional<uint64_t> time_ns_;
  TetraProcess process_;
  TetraProcess parent_;
  std::string source_ip_;
  std::string destination_ip_;
  uint16_t source_port_ = 0;
  uint16_t destination_port_ = 0;
  std::string protocol_;
  int32_t status_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;

  // exec_id -> assigned pidversion. std::map: deterministic, and bounded (exited entries are
  // forgotten beyond ImportLimits::exited_executions_remembered).
  struct ExecInfo {
    uint32_t pidversion = 0;
    int32_t pid = -1;
  };
  std::map<std::string, ExecInfo, std::less<>> exec_ids_;
  std::deque<std::string> exited_;
  uint32_t last_pidversion_ = 0;
  std::map<std::string, uint64_t> connections_;
  Event scratch_;
};

}  // namespace

std::unique_ptr<LineParser> make_tetragon_parser(ImportContext& context) {
  return std::make_unique<TetragonParser>(context);
}

}  // namespace flowid::import
