// NEFilterFlow descriptions in `log stream` / `log show` output.
//
// Every log line (it starts with a timestamp "2022-12-24 15:29:05.393943+0200") becomes a
// Marker holding the whole line, so the extension's own logging stays next to the flows; lines
// that continue a multi-line message are appended to its marker. A run of indented
// "key = value" lines is a flow's description when it carries one of NEFilterFlow's keys
// (identifier, procPID, sourceAppIdentifier, remoteEndpoint ...), whatever the line before it
// says ("Handling new flow:", LuLu's "flow:"); it becomes one Flow event, the heading line kept as
// a marker before it. Keys the model does not hold are counted per key; a key = value run
// without flow keys stays in its log line's marker and is counted. Bad values inside a
// description (a pid that is not a number, a malformed UUID or endpoint) are bad records at the
// line of the key.
//
// Identity: procPID / eprocPID are bare pids. They go into the Flow's proc_pid / eproc_pid and
// the flow's tokens stay absent: a pid names no execution, and inventing a pidversion would make
// a pid-derived attribution look token-bound. Only a description that carries a token in full
// (sourceAppAuditToken / sourceProcessAuditToken as NSData with every byte) fills a FlowToken;
// an abbreviated NSData ("... ") is counted as unmapped and left absent.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <vector>

#include "import/parser.h"
#include "import/text.h"

namespace flowid::import {
namespace {

// "  key = value" -> key, value. False when the line is not indented or has no " = ".
bool split_key_value(std::string_view line, std::string_view* key, std::string_view* value) {
  if (line.empty() || (line[0] != ' ' && line[0] != '\t')) return false;
  std::string_view t = trim(line);
  std::size_t eq = t.find(" = ");
  if (eq == std::string_view::npos) {
    // "key =" with an empty value.
    if (t.size() >= 2 && t.substr(t.size() - 2) == " =") {
      *key = trim(t.substr(0, t.size() - 2));
      *value = {};
      return !key->empty() && key->find(' ') == std::string_view::npos;
    }
    return false;
  }
  *key = trim(t.substr(0, eq));
  *value = trim(t.substr(eq + 3));
  return !key->empty() && key->find(' ') == std::string_view::npos;
}

enum class DataResult : uint8_t { kOk, kNull, kAbbreviated, kBad };

// NSData's description as NEFilterFlow prints it: "20:{length = 20, bytes = 0xd43e...}" (the
// "N:" prefix is optional), "<d43e30f8 96b84332 ...>" or "(null)". Long data is abbreviated
// with "..." and cannot be recovered.
DataResult parse_nsdata(std::string_view text, std::string& out) {
  out.clear();
  if (text.empty() || text == "(null)" || text == "nil") return DataResult::kNull;
  std::optional<uint64_t> declared;
  std::string_view hex;
  std::size_t brace = text.find('{');
  if (brace != std::string_view::npos) {
    if (text.back() != '}') return DataResult::kBad;
    std::string_view inner = text.substr(brace + 1, text.size() - brace - 2);
    constexpr std::string_view kLength = "length = ";
    constexpr std::string_view kBytes = "bytes = 0x";
    std::size_t l = inner.find(kLength);
    std::size_t b = inner.find(kBytes);
    if (l == std::string_view::npos || b == std::string_view::npos) return DataResult::kBad;
    std::size_t comma = inner.find(',', l);
    if (comma == std::string_view::npos) return DataResult::kBad;
    declared = parse_uint(inner.substr(l + kLength.size(), comma - l - kLength.size()));
    if (!declared) return DataResult::kBad;
    hex = trim(inner.substr(b + kBytes.size()));
  } else if (text.front() == '<' && text.back() == '>') {
    hex = text.substr(1, text.size() - 2);
  } else {
    return DataResult::kBad;
  }
  if (hex.find("...") != std::string_view::npos) return DataResult::kAbbreviated;
  std::string compact;
  compact.reserve(hex.size());
  for (char c : hex) {
    if (c != ' ') compact.push_back(c);
  }
  if (!decode_hex(compact, out)) return DataResult::kBad;
  if (declared && *declared != out.size()) return DataResult::kBad;
  return DataResult::kOk;
}

// "192.168.50.138:53497", "[2001:db8::1]:443", "2001:db8::1.443" (Apple's IPv6 form),
// "host.example:80", or an address without a port.
bool parse_endpoint(std::string_view text, Endpoint& out) {
  out = Endpoint{};
  if (text.empty() || text == "(null)") return true;
  auto port_of = [](std::string_view p, uint16_t& port) {
    auto v = parse_uint(p);
    if (!v || *v > 65535) return false;
    port = static_cast<uint16_t>(*v);
    return true;
  };
  if (text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    out.address = std::string(text.substr(1, close - 1));
    if (close + 1 == text.size()) return true;
    if (text[close + 1] != ':') return false;
    return port_of(text.substr(close + 2), out.port);
  }
  std::size_t colons = static_cast<std::size_t>(std::count(text.begin(), text.end(), ':'));
  if (colons > 1) {  // IPv6: "address.port".
    std::size_t dot = text.rfind('.');
    if (dot != std::string_view::npos && text.find(':', dot) == std::string_view::npos &&
        text.substr(0, dot).find('.') == std::string_view::npos) {
      out.address = std::string(text.substr(0, dot));
      return port_of(text.substr(dot + 1), out.port);
    }
    out.address = std::string(text);
    return true;
  }
  if (colons == 1) {
    std::size_t colon = text.find(':');
    out.address = std::string(text.substr(0, colon));
    return port_of(text.substr(colon + 1), out.port);
  }
  out.address = std::string(text);
  return true;
}

// The keys of NEFilterFlow's description (NEFilterFlow, NEFilterSocketFlow,
// NEFilterBrowserFlow): a key = value block carrying any of them is a flow, whatever the log
// line before it says ("new flow", LuLu's "flow:", nothing at all).
bool is_flow_key(std::string_view key) {
  static constexpr std::string_view kKeys[] = {"identifier",
                                               "procPID",
                                               "eprocPID",
                                               "sourceAppIdentifier",
                                               "remoteEndpoint",
                                               "localEndpoint",
                                               "sourceAppUniqueIdentifier",
                                               "sourceAppVersion",
                                               "procUUID",
                                               "eprocUUID",
                                               "sourceAppAuditToken",
                                               "sourceProcessAuditToken",
                                               "remoteHostname"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

class NeFilterFlowParser final : public LineParser {
 public:
  explicit NeFilterFlowParser(ImportContext& context) : context_(context) {}

  void begin_input() override {
    marker_.reset();
    block_.clear();
    block_bytes_ = 0;
    skipping_block_ = false;
    log_time_.reset();
  }

  void line(std::string_view text, uint64_t line_number) override {
    std::size_t consumed = 0;
    bool had_offset = false;
    if (auto time = parse_log_timestamp(text, &consumed, &had_offset)) {
      finish_block();
      flush_marker();
      context_.record_read();
      if (!had_offset) context_.unmapped("log timestamp without a UTC offset (read as UTC)");
      marker_ = PendingMarker{std::string(text), *time};
      log_time_ = *time;
      return;
    }
    std::string_view key;
    std::string_view value;
    if (split_key_value(text, &key, &value)) {
      if (skipping_block_) return;  // the rest of a block that was too long.
      if (block_bytes_ + text.size() > kBlockBytesMax) {
        block_.clear();
        block_bytes_ = 0;
        skipping_block_ = true;
        context_.bad_record(line_number, "key = value block too long",
                            fmt::format("key = value block longer than {} bytes", kBlockBytesMax));
        return;
      }
      block_.push_back(BlockLine{std::string(text), line_number});
      block_bytes_ += text.size();
      return;
    }
    finish_block();
    // Not a log line and not part of a description: kept as Marker text, not parsed (counted,
    // so that nothing is left unread without the summary saying so).
    if (trim(text).empty()) {
      if (marker_) marker_->text.push_back('\n');
      return;
    }
    context_.ignored(log_time_ ? "nefilterflow lines continuing a log message (kept in its "
                                 "Marker, not parsed)"
                               : "nefilterflow lines before the first log timestamp (kept as a "
                                 "Marker, not parsed)");
    if (marker_) {
      marker_->text.push_back('\n');
      marker_->text.append(text);
    } else {
      marker_ = PendingMarker{std::string(text), log_time_};
    }
  }

  void end_input() override {
    finish_block();
    flush_marker();
  }

 private:
  // A flow description is held until it ends (bounded: a real one is about 1 KiB).
  static constexpr std::size_t kBlockBytesMax = 1u << 20;

  std::optional<uint64_t> log_time_;  // the time of the input's last log line.
  struct PendingMarker {
    std::string text;
    std::optional<uint64_t> time;
  };
  struct BlockLine {
    std::string text;
    uint64_t line = 0;
  };

  void flush_marker() {
    if (!marker_) return;
    scratch_.body = Marker{std::move(marker_->text)};
    context_.emit(scratch_, marker_->time);
    block_time_ = marker_->time;
    marker_.reset();
  }

  // The indented key = value lines after a log line: a flow if they carry a description key,
  // else part of the log message (kept in its Marker, counted).
  void finish_block() {
    skipping_block_ = false;
    if (block_.empty()) return;
    std::vector<BlockLine> lines = std::move(block_);
    block_.clear();
    block_bytes_ = 0;
    bool flow = false;
    for (const auto& l : lines) {
      std::string_view key;
      std::string_view value;
      split_key_value(l.text, &key, &value);
      flow = flow || is_flow_key(key);
    }
    if (!flow) {
      context_.ignored(
          "nefilterflow key = value lines without flow keys (kept in the log "
          "line's Marker)");
      if (!marker_) marker_ = PendingMarker{std::string(), std::nullopt};
      for (const auto& l : lines) {
        if (!marker_->text.empty()) marker_->text.push_back('\n');
        marker_->text.append(l.text);
      }
      return;
    }
    flush_marker();  // the heading line goes before its flow.
    flow_ = Flow{};
    has_identifier_ = false;
    for (const auto& l : lines) {
      std::string_view key;
      std::string_view value;
      split_key_value(l.text, &key, &value);
      if (!apply(key, value)) {
        context_.bad_record(l.line, problem_reason_, problem_);
        return;
      }
    }
    if (!has_identifier_) {
      context_.bad_record(lines.front().line, "flow without identifier",
                          "flow description has no identifier");
      return;
    }
    flow_.flow_id = context_.next_flow_id();
    if (!flow_.source_app_audit_token.present && !flow_.source_process_audit_token.present) {
      if (context_.has_lifecycle() && block_time_ && flow_.proc_pid > 0) {
        join_tokens();
      } else {
        context_.unmapped("flow without audit token (procPID/eprocPID kept as bare pids)");
      }
    }
    scratch_.body = std::move(flow_);
    context_.emit(scratch_, block_time_);
  }

  // Another input of the import described executions (eslogger, Tetragon, auditd): procPID is
  // joined by (pid, time) with the execution behind it (source_process_audit_token), eprocPID
  // likewise (source_app_audit_token). A Marker before the flow says how.
  void join_tokens() {
    const auto process = context_.join(flow_.proc_pid, *block_time_, flow_.source_app_identifier);
    std::string how =
        fmt::format("flow #{} procPID {}: {}", flow_.flow_id, flow_.proc_pid, process.how);
    if (process.token) {
      flow_.source_process_audit_token = FlowToken{true, AuditToken::kByteSize, *process.token};
      flow_.source_app_audit_token = flow_.source_process_audit_token;
    }
    if (flow_.eproc_pid > 0 && flow_.eproc_pid != flow_.proc_pid) {
      const auto app = context_.join(flow_.eproc_pid, *block_time_, {});
      how += fmt::format("; eprocPID {}: {}", flow_.eproc_pid, app.how);
      flow_.source_app_audit_token =
          app.token ? FlowToken{true, AuditToken::kByteSize, *app.token} : FlowToken{};
    }
    context_.unmapped(process.token
                          ? "flow token joined by (pid, time) with another input's executions"
                          : "flow token not joined: no execution of its pid at its time");
    context_.marker(fmt::format("token by join: {}", how), block_time_);
  }

  bool fail(std::string_view reason, std::string message) {
    problem_reason_ = reason;
    problem_ = std::move(message);
    return false;
  }

  bool number(std::string_view key, std::string_view value, uint64_t max, uint64_t& out) {
    auto v = parse_uint(value);
    if (!v || *v > max) {
      return fail("bad flow field",
                  fmt::format("{} = '{}' is not a number in range", key, value.substr(0, 40)));
    }
    out = *v;
    return true;
  }

  bool token(std::string_view key, std::string_view value, FlowToken& out) {
    std::string bytes;
    switch (parse_nsdata(value, bytes)) {
      case DataResult::kNull:
        out = FlowToken{};
        return true;
      case DataResult::kAbbreviated:
        context_.unmapped("audit token abbreviated in the description (left absent)");
        out = FlowToken{};
        return true;
      case DataResult::kBad:
        return fail("bad flow field",
                    fmt::format("{} = '{}' is not NSData", key, value.substr(0, 60)));
      case DataResult::kOk:
        break;
    }
    out = FlowToken{};
    out.present = true;
    out.size_bytes = static_cast<uint32_t>(bytes.size());
    // audit_token_t words are host-endian uint32 (little-endian on every Mac NE runs on).
    for (std::size_t w = 0; w < AuditToken::kWordCount && 4 * w + 4 <= bytes.size(); ++w) {
      uint32_t word = 0;
      for (int b = 3; b >= 0; --b) {
        word = (word << 8) | static_cast<uint8_t>(bytes[4 * w + static_cast<std::size_t>(b)]);
      }
      out.token.words[w] = word;
    }
    if (!out.well_formed()) context_.unmapped("audit token of the wrong size (kept as malformed)");
    return true;
  }

  bool uuid(std::string_view key, std::string_view value, Uuid& out) {
    if (value.empty() || value == "(null)") return true;
    auto u = parse_uuid(value);
    if (!u)
      return fail("bad flow field",
                  fmt::format("{} = '{}' is not a UUID", key, value.substr(0, 40)));
    out = *u;
    return true;
  }

  static std::string text_value(std::string_view value) {
    return value == "(null)" ? std::string() : std::string(value);
  }

  bool apply(std::string_view key, std::string_view value) {
    uint64_t n = 0;
    if (key == "identifier") {
      if (!uuid(key, value, flow_.identifier)) return false;
      has_identifier_ = true;
    } else if (key == "hostname") {
      flow_.hostname = text_value(value);
    } else if (key == "remoteHostname") {
      flow_.remote_hostname = text_value(value);
    } else if (key == "sourceAppIdentifier") {
      flow_.source_app_identifier = text_value(value);
    } else if (key == "sourceAppVersion") {
      flow_.source_app_version = text_value(value);
    } else if (key == "sourceAppUniqueIdentifier") {
      std::string bytes;
      switch (parse_nsdata(value, bytes)) {
        case DataResult::kOk:
          flow_.source_app_unique_identifier = std::move(bytes);
          break;
        case DataResult::kNull:
          break;
        case DataResult::kAbbreviated:
          context_.unmapped("sourceAppUniqueIdentifier abbreviated (left empty)");
          break;
        case DataResult::kBad:
          return fail("bad flow field", fmt::format("sourceAppUniqueIdentifier = '{}' is not "
                                                    "NSData",
                                                    value.substr(0, 60)));
      }
    } else if (key == "procPID" || key == "eprocPID") {
      auto v = parse_int(value);
      if (!v || *v < 0 || *v > INT32_MAX) {
        return fail("bad flow field",
                    fmt::format("{} = '{}' is not a pid", key, value.substr(0, 40)));
      }
      (key == "procPID" ? flow_.proc_pid : flow_.eproc_pid) = static_cast<int32_t>(*v);
    } else if (key == "direction") {
      if (value == "outbound" || value == "2") {
        flow_.direction = FlowDirection::kOutbound;
      } else if (value == "inbound" || value == "1") {
        flow_.direction = FlowDirection::kInbound;
      } else if (value == "any" || value == "0") {
        flow_.direction = FlowDirection::kAny;
      } else {
        return fail("bad flow field", fmt::format("direction = '{}' is not outbound, inbound or "
                                                  "any",
                                                  value.substr(0, 40)));
      }
    } else if (key == "inBytes") {
      if (!number(key, value, UINT64_MAX, flow_.in_bytes)) return false;
    } else if (key == "outBytes") {
      if (!number(key, value, UINT64_MAX, flow_.out_bytes)) return false;
    } else if (key == "localEndpoint" || key == "remoteEndpoint") {
      Endpoint& e = key == "localEndpoint" ? flow_.local_endpoint : flow_.remote_endpoint;
      if (!parse_endpoint(value, e)) {
        return fail("bad flow field",
                    fmt::format("{} = '{}' is not an endpoint", key, value.substr(0, 60)));
      }
    } else if (key == "protocol" || key == "family" || key == "type") {
      if (!number(key, value, UINT32_MAX, n)) return false;
      (key == "protocol" ? flow_.protocol
       : key == "family" ? flow_.family
                         : flow_.type) = static_cast<uint32_t>(n);
    } else if (key == "procUUID") {
      return uuid(key, value, flow_.proc_uuid);
    } else if (key == "eprocUUID") {
      return uuid(key, value, flow_.eproc_uuid);
    } else if (key == "sourceAppAuditToken") {
      return token(key, value, flow_.source_app_audit_token);
    } else if (key == "sourceProcessAuditToken") {
      return token(key, value, flow_.source_process_audit_token);
    } else {
      // signature, socketID, url, filterState ... are not part of the model: named and counted.
      context_.ignored(fmt::format("nefilterflow flow key {} (not modelled)", key.substr(0, 40)));
    }
    return true;
  }

  ImportContext& context_;
  std::optional<PendingMarker> marker_;
  std::vector<BlockLine> block_;
  std::size_t block_bytes_ = 0;
  bool skipping_block_ = false;  // after a block over kBlockBytesMax, until it ends.
  bool has_identifier_ = false;
  std::optional<uint64_t> block_time_;
  Flow flow_;
  Event scratch_;
  std::string_view problem_reason_;
  std::string problem_;
};

}  // namespace

std::unique_ptr<LineParser> make_nefilterflow_parser(ImportContext& context) {
  return std::make_unique<NeFilterFlowParser>(context);
}

}  // namespace flowid::import
