#include "replay/replay.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "harness/event_format.h"

namespace flowid::replay {
namespace {

std::string identity_summary(const std::optional<CodeIdentity>& id) {
  return id ? describe_identity(*id) : std::string("no identity");
}

// Percent-encodes whitespace and '%' so that a value is one token in a golden line.
std::string encode_token(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c <= 0x20 || c == '%' || c == 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::optional<std::string> decode_token(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // '%' needs two hex digits after it.
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || ptr != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::optional<Cdhash> parse_cdhash(std::string_view hex_text) {
  if (hex_text.size() != 40) return std::nullopt;
  Cdhash h{};
  for (std::size_t i = 0; i < h.size(); ++i) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(hex_text.data() + 2 * i, hex_text.data() + 2 * i + 2, value, 16);
    if (ec != std::errc() || ptr != hex_text.data() + 2 * i + 2) return std::nullopt;
    h[i] = static_cast<uint8_t>(value);
  }
  return h;
}

std::optional<VerdictLabel> parse_label(std::string_view name) {
  for (auto label : {VerdictLabel::kVerified, VerdictLabel::kUnverifiedWarning, VerdictLabel::kUnknown}) {
    if (name_of(label) == name) return label;
  }
  return std::nullopt;
}

// A flow waiting for its verdict.
struct PendingFlow {
  Flow flow;
  std::vector<Lookup> lookups;
  uint64_t time_ns = 0;
};

}  // namespace

std::string compare_verdicts(const Verdict& expected, const Verdict& produced) {
  std::vector<std::string> parts;
  if (expected.decision != produced.decision) {
    parts.push_back(fmt::format("decision {} -> {}", name_of(expected.decision), name_of(produced.decision)));
  }
  if (expected.status != produced.status) {
    parts.push_back(fmt::format("status {} -> {}", name_of(expected.status), name_of(produced.status)));
  }
  if (expected.label != produced.label) {
    parts.push_back(fmt::format("label {} -> {}", name_of(expected.label), name_of(produced.label)));
  }
  if (expected.identity != produced.identity) {
    parts.push_back(fmt::format("identity {} -> {}", identity_summary(expected.identity),
                                identity_summary(produced.identity)));
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

std::string format_golden_line(const Verdict& v) {
  std::string line = fmt::format("flow {}: {} {} [{}]", v.flow_id, name_of(v.decision),
                                 name_of(v.status), name_of(v.label));
  line += fmt::format(" rule={}", v.rule.empty() ? "-" : encode_token(v.rule));
  if (!v.identity) {
    line += " identity=none";
    return line;
  }
  const CodeIdentity& id = *v.identity;
  line += fmt::format(" cdhash={} signature={} platform={} runtime={} signing_id={} team_id={}",
                      id.cdhash ? hex(id.cdhash->data(), id.cdhash->size()) : "-",
                      name_of(id.signature), id.platform ? 1 : 0, id.hardened_runtime ? 1 : 0,
                      id.signing_id.empty() ? "-" : encode_token(id.signing_id),
                      id.team_id.empty() ? "-" : encode_token(id.team_id));
  // The path goes last and unencoded up to the end of the line, so it reads naturally; only a
  // newline inside it must be encoded.
  std::string path;
  for (char c : id.path) {
    if (c == '\n' || c == '%' || c == '\r') {
      path += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      path += c;
    }
  }
  line += " path=" + path;
  return line;
}

std::string format_golden(const std::vector<Verdict>& verdicts, const std::string& comment) {
  std::string out;
  if (!comment.empty()) {
    std::size_t start = 0;
    while (start <= comment.size()) {
      auto end = comment.find('\n', start);
      if (end == std::string::npos) end = comment.size();
      out += "# " + comment.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  for (const auto& v : verdicts) out += format_golden_line(v) + "\n";
  return out;
}

std::optional<std::vector<Verdict>> parse_golden(std::string_view text, std::string_view file,
                                                 std::string* error) {
  std::vector<Verdict> verdicts;
  int line_number = 0;
  std::size_t start = 0;
  auto fail = [&](const std::string& what) {
    *error = fmt::format("{}:{}: {}", file, line_number, what);
    return std::nullopt;
  };
  while (start < text.size()) {
    ++line_number;
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;

    Verdict v;
    // "flow N: DECISION STATUS [LABEL] key=value ... path=REST"
    if (line.substr(0, 5) != "flow ") return fail("expected 'flow N: ...'");
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail("expected ':' after the flow id");
    auto id_text = line.substr(5, colon - 5);
    auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), v.flow_id);
    if (ec != std::errc() || ptr != id_text.data() + id_text.size()) {
      return fail(fmt::format("bad flow id '{}'", id_text));
    }
    std::string_view rest = line.substr(colon + 1);
    std::string_view path_part;
    if (auto p = rest.find(" path="); p != std::string_view::npos) {
      path_part = rest.substr(p + 6);
      rest = rest.substr(0, p);
    }
    std::vector<std::string_view> tokens;
    std::size_t i = 0;
    while (i < rest.size()) {
      while (i < rest.size() && rest[i] == ' ') ++i;
      std::size_t j = i;
      while (j < rest.size() && rest[j] != ' ') ++j;
      if (j > i) tokens.push_back(rest.substr(i, j - i));
      i = j;
    }
    if (tokens.size() < 3) return fail("expected DECISION STATUS [LABEL]");
    auto decision = parse_decision(tokens[0]);
    if (!decision) return fail(fmt::format("unknown decision '{}'", tokens[0]));
    v.decision = *decision;
    auto status = parse_attribution_status(tokens[1]);
    if (!status) return fail(fmt::format("unknown status '{}'", tokens[1]));
    v.status = *status;
    if (tokens[2].size() < 2 || tokens[2].front() != '[' || tokens[2].back() != ']') {
      return fail(fmt::format("expected [label], got '{}'", tokens[2]));
    }
    auto label = parse_label(tokens[2].substr(1, tokens[2].size() - 2));
    if (!label) return fail(fmt::format("unknown label '{}'", tokens[2]));
    v.label = *label;

    bool identity_none = false;
    CodeIdentity id;
    bool any_identity_key = false;
    for (std::size_t t = 3; t < tokens.size(); ++t) {
      auto eq = tokens[t].find('=');
      if (eq == std::string_view::npos) return fail(fmt::format("expected key=value, got '{}'", tokens[t]));
      auto key = tokens[t].substr(0, eq);
      auto value = tokens[t].substr(eq + 1);
      auto decoded = decode_token(value);
      if (!decoded) return fail(fmt::format("bad %-escape in '{}'", tokens[t]));
      if (key == "rule") {
        v.rule = value == "-" ? "" : *decoded;
      } else if (key == "identity") {
        if (value != "none") return fail("identity= may only be 'none'");
        identity_none = true;
      } else if (key == "cdhash") {
        any_identity_key = true;
        if (value != "-") {
          auto h = parse_cdhash(value);
          if (!h) return fail(fmt::format("cdhash must be 40 hex digits, got '{}'", value));
          id.cdhash = h;
        }
      } else if (key == "signature") {
        any_identity_key = true;
        auto kind = parse_signature_kind(value);
        if (!kind) return fail(fmt::format("unknown signature kind '{}'", value));
        id.signature = *kind;
      } else if (key == "platform" || key == "runtime") {
        any_identity_key = true;
        if (value != "0" && value != "1") return fail(fmt::format("{} must be 0 or 1", key));
        (key == "platform" ? id.platform : id.hardened_runtime) = value == "1";
      } else if (key == "signing_id") {
        any_identity_key = true;
        id.signing_id = value == "-" ? "" : *decoded;
      } else if (key == "team_id") {
        any_identity_key = true;
        id.team_id = value == "-" ? "" : *decoded;
      } else {
        return fail(fmt::format("unknown key '{}'", key));
      }
    }
    if (!identity_none) {
      if (!any_identity_key && path_part.empty()) return fail("expected identity=none or identity fields");
      auto path = decode_token(path_part);
      if (!path) return fail("bad %-escape in path");
      id.path = *path;
      v.identity = id;
    }
    verdicts.push_back(std::move(v));
  }
  return verdicts;
}

TraceReplayResult replay_faithful(const std::string& path, trace::TraceReader& reader,
                                  Resolver& resolver, const Filter& filter,
                                  const FaithfulOptions& options) {
  TraceReplayResult result;
  result.path = path;
  if (!reader.ok()) {
    result.readable = false;
    for (const auto& issue : reader.issues()) result.read_issues.push_back(trace::describe(issue, path));
    return result;
  }

  std::map<uint64_t, Verdict> golden;
  if (options.golden) {
    for (const auto& v : *options.golden) golden[v.flow_id] = v;
  }

  // Flows waiting for their verdict, by flow id; lookups of flows not (yet) seen wait here too.
  std::map<uint64_t, PendingFlow> pending;
  std::map<uint64_t, std::vector<Lookup>> orphan_lookups;
  RecordedSeam seam;
  uint64_t digest = trace::kDigestSeed;

  auto replay_flow = [&](PendingFlow& p, const std::optional<Verdict>& recorded) {
    seam.reset(p.flow.flow_id, p.lookups);
    Attribution attribution = resolver.resolve(p.flow, p.time_ns, seam);
    Verdict produced = filter.decide(p.flow, attribution);
    ++result.flows;
    result.lookups_answered += seam.answered();
    for (const auto& call : seam.off_script()) result.off_script.push_back(call);

    std::optional<Verdict> expected = recorded;
    if (options.golden) {
      auto it = golden.find(p.flow.flow_id);
      expected = it == golden.end() ? std::nullopt : std::optional<Verdict>(it->second);
      if (it != golden.end()) golden.erase(it);
    }
    if (expected) {
      std::string what = compare_verdicts(*expected, produced);
      if (!what.empty()) result.differences.push_back({p.flow.flow_id, expected, produced, what});
    } else {
      result.differences.push_back({p.flow.flow_id, std::nullopt, produced,
                                    options.golden ? "flow missing from the golden file"
                                                   : "the trace recorded no verdict for this flow"});
    }
    digest = trace::event_digest(digest, Event{p.time_ns, produced});
    result.produced.push_back(std::move(produced));
  };

  Event event;
  while (reader.next(event)) {
    ++result.events;
    switch (event.kind()) {
      case EventKind::kFlow: {
        auto& flow = std::get<Flow>(event.body);
        PendingFlow p{flow, {}, event.time_ns};
        if (auto it = orphan_lookups.find(flow.flow_id); it != orphan_lookups.end()) {
          p.lookups = std::move(it->second);
          orphan_lookups.erase(it);
        }
        pending[flow.flow_id] = std::move(p);
        break;
      }
      case EventKind::kLookup: {
        auto& lookup = std::get<Lookup>(event.body);
        if (auto it = pending.find(lookup.flow_id); it != pending.end()) {
          it->second.lookups.push_back(lookup);
        } else if (lookup.flow_id != 0) {
          orphan_lookups[lookup.flow_id].push_back(lookup);
        }
        break;
      }
      case EventKind::kVerdict: {
        auto& verdict = std::get<Verdict>(event.body);
        auto it = pending.find(verdict.flow_id);
        if (it == pending.end()) break;  // a verdict for a flow the trace never showed.
        replay_flow(it->second, verdict);
        pending.erase(it);
        break;
      }
      case EventKind::kProcessSpawn:
      case EventKind::kProcessExec:
      case EventKind::kProcessExit:
        resolver.observe(event);
        break;
      default:
        break;
    }
  }
  // Flows the trace never gave a verdict (cut short, or a recording without verdicts).
  for (auto& [flow_id, p] : pending) replay_flow(p, std::nullopt);
  // Golden entries for flows the trace does not have.
  for (auto& [flow_id, v] : golden) {
    result.differences.push_back({flow_id, v, std::nullopt, "flow in the golden file but not in the trace"});
  }
  for (const auto& issue : reader.issues()) result.read_issues.push_back(trace::describe(issue, path));
  result.verdict_digest = digest;
  return result;
}

}  // namespace flowid::replay
