#include "harness/event_format.h"

#include <fmt/format.h>

namespace flowid {
namespace {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// A minimal JSON object builder: keys are trusted literals, values are escaped.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_ += '{'; }
  void finish() { out_ += '}'; }

  void key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += k;
    out_ += "\":";
  }
  void number(std::string_view k, int64_t v) {
    key(k);
    out_ += fmt::format("{}", v);
  }
  void unsigned_number(std::string_view k, uint64_t v) {
    key(k);
    out_ += fmt::format("{}", v);
  }
  void boolean(std::string_view k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
  }
  void text(std::string_view k, std::string_view v) {
    key(k);
    append_json_string(out_, v);
  }
  void bytes(std::string_view k, std::string_view v) {
    key(k);
    append_json_bytes(out_, v);
  }
  void null(std::string_view k) {
    key(k);
    out_ += "null";
  }
  std::string& raw() { return out_; }

 private:
  std::string& out_;
  bool first_ = true;
};

void append_token(std::string& out, const AuditToken& t) {
  JsonObject o(out);
  o.unsigned_number("auid", t.auid());
  o.unsigned_number("euid", t.euid());
  o.unsigned_number("egid", t.egid());
  o.unsigned_number("ruid", t.ruid());
  o.unsigned_number("rgid", t.rgid());
  o.number("pid", t.pid());
  o.unsigned_number("asid", t.asid());
  o.unsigned_number("pidversion", t.pidversion());
  o.finish();
}

void token_field(JsonObject& o, std::string_view k, const AuditToken& t) {
  o.key(k);
  append_token(o.raw(), t);
}

void optional_token_field(JsonObject& o, std::string_view k, const std::optional<AuditToken>& t) {
  if (t) {
    token_field(o, k, *t);
  } else {
    o.null(k);
  }
}

void flow_token_field(JsonObject& o, std::string_view k, const FlowToken& t) {
  if (!t.present) {
    o.null(k);
    return;
  }
  if (t.well_formed()) {
    token_field(o, k, t.token);
    return;
  }
  // A malformed token keeps its size and the words that were present.
  o.key(k);
  JsonObject m(o.raw());
  m.unsigned_number("malformed_size_bytes", t.size_bytes);
  m.key("words");
  std::string& out = m.raw();
  out += '[';
  for (std::size_t i = 0; i < t.token.words.size(); ++i) {
    if (i) out += ',';
    out += fmt::format("{}", t.token.words[i]);
  }
  out += ']';
  m.finish();
}

void identity_field(JsonObject& o, std::string_view k, const CodeIdentity& id) {
  o.key(k);
  JsonObject m(o.raw());
  m.bytes("path", id.path);
  if (id.cdhash) {
    m.text("cdhash", hex(id.cdhash->data(), id.cdhash->size()));
  } else {
    m.null("cdhash");
  }
  m.text("signing_id", id.signing_id);
  m.text("team_id", id.team_id);
  m.boolean("platform", id.platform);
  m.text("signature", name_of(id.signature));
  m.boolean("hardened_runtime", id.hardened_runtime);
  m.finish();
}

void optional_identity_field(JsonObject& o, std::string_view k,
                             const std::optional<CodeIdentity>& id) {
  if (id) {
    identity_field(o, k, *id);
  } else {
    o.null(k);
  }
}

void endpoint_field(JsonObject& o, std::string_view k, const Endpoint& e) {
  o.key(k);
  JsonObject m(o.raw());
  m.bytes("address", e.address);
  m.unsigned_number("port", e.port);
  m.finish();
}

struct JsonBody {
  JsonObject& o;

  void operator()(const ProcessSpawn& e) {
    token_field(o, "token", e.token);
    token_field(o, "parent", e.parent);
    optional_token_field(o, "responsible", e.responsible);
    identity_field(o, "image", e.image);
  }
  void operator()(const ProcessExec& e) {
    token_field(o, "previous", e.previous);
    token_field(o, "token", e.token);
    identity_field(o, "image", e.image);
  }
  void operator()(const ProcessExit& e) {
    token_field(o, "token", e.token);
    o.number("status", e.status);
    o.text("stage", name_of(e.stage));
  }
  void operator()(const FileChange& e) {
    o.text("op", name_of(e.op));
    o.bytes("path", e.path);
    if (e.op == FileOp::kRename) o.bytes("new_path", e.new_path);
    optional_identity_field(o, "image", e.image);
  }
  void operator()(const Flow& f) {
    o.unsigned_number("flow_id", f.flow_id);
    o.text("identifier", uuid_text(f.identifier));
    flow_token_field(o, "source_app_audit_token", f.source_app_audit_token);
    flow_token_field(o, "source_process_audit_token", f.source_process_audit_token);
    o.bytes("source_app_identifier", f.source_app_identifier);
    o.bytes("source_app_version", f.source_app_version);
    o.text("source_app_unique_identifier",
           hex(reinterpret_cast<const uint8_t*>(f.source_app_unique_identifier.data()),
               f.source_app_unique_identifier.size()));
    o.bytes("hostname", f.hostname);
    o.bytes("remote_hostname", f.remote_hostname);
    endpoint_field(o, "local_endpoint", f.local_endpoint);
    endpoint_field(o, "remote_endpoint", f.remote_endpoint);
    o.text("direction", name_of(f.direction));
    o.unsigned_number("protocol", f.protocol);
    o.unsigned_number("family", f.family);
    o.unsigned_number("type", f.type);
    o.number("proc_pid", f.proc_pid);
    o.number("eproc_pid", f.eproc_pid);
    o.text("proc_uuid", uuid_text(f.proc_uuid));
    o.text("eproc_uuid", uuid_text(f.eproc_uuid));
    o.unsigned_number("in_bytes", f.in_bytes);
    o.unsigned_number("out_bytes", f.out_bytes);
  }
  void operator()(const Lookup& l) {
    o.unsigned_number("flow_id", l.flow_id);
    o.text("call", name_of(l.call));
    o.key("args");
    {
      JsonObject a(o.raw());
      if (l.args.token) token_field(a, "token", *l.args.token);
      if (l.args.pid != 0) a.number("pid", l.args.pid);
      if (l.args.code_handle != 0) a.unsigned_number("code_handle", l.args.code_handle);
      if (!l.args.requirement.empty()) a.bytes("requirement", l.args.requirement);
      if (!l.args.path.empty()) a.bytes("path", l.args.path);
      a.finish();
    }
    o.key("outcome");
    {
      JsonObject r(o.raw());
      r.text("domain", name_of(l.outcome.domain));
      r.number("code", l.outcome.code);
      r.text("name", describe_outcome(l.outcome));
      r.finish();
    }
    o.key("data");
    {
      JsonObject d(o.raw());
      if (l.data.code_handle != 0) d.unsigned_number("code_handle", l.data.code_handle);
      if (!l.data.path.empty()) d.bytes("path", l.data.path);
      if (l.data.token) token_field(d, "token", *l.data.token);
      if (l.data.pid != 0) d.number("pid", l.data.pid);
      if (l.data.identity) identity_field(d, "identity", *l.data.identity);
      d.finish();
    }
    o.unsigned_number("duration_ns", l.duration_ns);
  }
  void operator()(const Verdict& v) {
    o.unsigned_number("flow_id", v.flow_id);
    o.text("decision", name_of(v.decision));
    o.text("status", name_of(v.status));
    optional_identity_field(o, "identity", v.identity);
    o.text("label", name_of(v.label));
    o.bytes("rule", v.rule);
  }
  void operator()(const Marker& m) { o.bytes("text", m.text); }
  void operator()(const DroppedEvents& d) {
    o.unsigned_number("count", d.count);
    o.bytes("reason", d.reason);
  }
};

// Printable form of a byte string for human output: non-printable bytes as \xNN.
std::string printable(std::string_view text) {
  if (valid_utf8(text)) {
    bool clean = true;
    for (unsigned char c : text) clean = clean && c >= 0x20 && c != 0x7f;
    if (clean) return std::string(text);
  }
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string flow_token_text(const FlowToken& t) {
  if (!t.present) return "none";
  if (!t.well_formed()) return fmt::format("malformed({} bytes)", t.size_bytes);
  return short_execution(t.token);
}

std::string protocol_name(uint32_t protocol) {
  switch (protocol) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
      return "icmp";
    case 58:
      return "icmpv6";
    default:
      return fmt::format("proto{}", protocol);
  }
}

std::string lookup_args_text(const Lookup& l) {
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!out.empty()) out += ", ";
    out += part;
  };
  if (l.args.token) add(short_execution(*l.args.token));
  if (l.args.pid != 0) add(fmt::format("pid {}", l.args.pid));
  if (l.args.code_handle != 0) add(fmt::format("code #{}", l.args.code_handle));
  if (!l.args.path.empty()) add(printable(l.args.path));
  if (!l.args.requirement.empty()) add(fmt::format("req '{}'", printable(l.args.requirement)));
  return out;
}

std::string lookup_data_text(const Lookup& l) {
  std::string out;
  auto add = [&out](const std::string& part) {
    out += ' ';
    out += part;
  };
  if (l.data.code_handle != 0) add(fmt::format("code #{}", l.data.code_handle));
  if (!l.data.path.empty()) add(printable(l.data.path));
  if (l.data.token) add(short_execution(*l.data.token));
  if (l.data.pid != 0) add(fmt::format("pid {}", l.data.pid));
  if (l.data.identity) add(describe_identity(*l.data.identity));
  return out;
}

struct LineBody {
  std::string operator()(const ProcessSpawn& e) const {
    return fmt::format("{} parent {} {}", short_execution(e.token), short_execution(e.parent),
                       describe_identity(e.image));
  }
  std::string operator()(const ProcessExec& e) const {
    return fmt::format("{} -> {} {}", short_execution(e.previous), short_execution(e.token),
                       describe_identity(e.image));
  }
  std::string operator()(const ProcessExit& e) const {
    return fmt::format("{} status {} ({})", short_execution(e.token), e.status, name_of(e.stage));
  }
  std::string operator()(const FileChange& e) const {
    std::string line = fmt::format("{} {}", name_of(e.op), printable(e.path));
    if (e.op == FileOp::kRename) line += fmt::format(" -> {}", printable(e.new_path));
    if (e.image) line += fmt::format(" now {}", describe_identity(*e.image));
    return line;
  }
  std::string operator()(const Flow& f) const {
    std::string line = fmt::format(
        "#{} app {} proc {} {} {} {}:{}", f.flow_id, flow_token_text(f.source_app_audit_token),
        flow_token_text(f.source_process_audit_token), protocol_name(f.protocol),
        f.direction == FlowDirection::kInbound ? "<-" : "->", printable(f.remote_endpoint.address),
        f.remote_endpoint.port);
    if (!f.hostname.empty()) line += fmt::format(" ({})", printable(f.hostname));
    if (!f.source_app_identifier.empty()) {
      line += fmt::format(" app-id {}", printable(f.source_app_identifier));
    }
    if (f.proc_pid != 0 || f.eproc_pid != 0) {
      line += fmt::format(" procPID {} eprocPID {}", f.proc_pid, f.eproc_pid);
    }
    return line;
  }
  std::string operator()(const Lookup& l) const {
    return fmt::format("#{} {}({}) -> {}{}", l.flow_id, name_of(l.call), lookup_args_text(l),
                       describe_outcome(l.outcome), lookup_data_text(l));
  }
  std::string operator()(const Verdict& v) const {
    std::string line = fmt::format("#{} {} {} [{}]", v.flow_id, name_of(v.decision),
                                   name_of(v.status), name_of(v.label));
    if (v.identity) line += fmt::format(" {}", describe_identity(*v.identity));
    if (!v.rule.empty()) line += fmt::format(" by {}", printable(v.rule));
    return line;
  }
  std::string operator()(const Marker& m) const { return printable(m.text); }
  std::string operator()(const DroppedEvents& d) const {
    return fmt::format("{} events lost: {}", d.count, printable(d.reason));
  }
};

}  // namespace

void append_json_bytes(std::string& out, std::string_view text) {
  if (valid_utf8(text)) {
    append_json_string(out, text);
    return;
  }
  out += "{\"hex\":\"";
  out += hex(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  out += "\"}";
}

std::string short_execution(const AuditToken& token) {
  return fmt::format("{}.{}", token.pid(), token.pidversion());
}

std::string hex(const uint8_t* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xF];
  }
  return out;
}

std::string uuid_text(const Uuid& u) {
  return fmt::format(
      "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-"
      "{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
      u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
      u[15]);
}

std::string format_time_ns(uint64_t time_ns) {
  return fmt::format("{:>6}.{:09}", time_ns / 1000000000ULL, time_ns % 1000000000ULL);
}

std::string describe_identity(const CodeIdentity& id) {
  std::string out = printable(id.path.empty() ? std::string_view("<no path>") : id.path);
  // Built with fmt rather than operator+ chains: GCC 12 at -O3 reports a false -Wrestrict on
  // `str += " " + other` (GCC bug 105651).
  std::string detail(name_of(id.signature));
  if (!id.signing_id.empty()) detail += fmt::format(" {}", printable(id.signing_id));
  if (!id.team_id.empty()) detail += fmt::format(" team {}", printable(id.team_id));
  if (id.cdhash) detail += fmt::format(" cdhash {}..", hex(id.cdhash->data(), 4));
  return fmt::format("{} ({})", out, detail);
}

std::string format_event_line(const Event& event) {
  return fmt::format("{} {:<7} {}", format_time_ns(event.time_ns), name_of(event.kind()),
                     std::visit(LineBody{}, event.body));
}

std::string format_event_json(const Event& event, uint64_t index) {
  std::string out;
  out.reserve(256);
  JsonObject o(out);
  o.unsigned_number("index", index);
  o.unsigned_number("t", event.time_ns);
  o.text("kind", name_of(event.kind()));
  std::visit(JsonBody{o}, event.body);
  o.finish();
  return out;
}

}  // namespace flowid
