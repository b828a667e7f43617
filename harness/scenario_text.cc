// Scenario text: the lexer, each step kind's parser and writer side by side (a kind's text form
// is read and written in one place, so the two cannot drift), then the scenario statements
// (scenario, world, rule, expect, ...) and format_scenario. Everything a step holds is checked
// here, so a bad value is an error naming FILE:LINE before anything runs; the runner
// (scenario_run.cc) only meets problems that depend on the steps before (an unknown process name,
// a world that refuses).
#include "harness/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace flowid::scenario {
namespace {

// ---- Lexing.

struct Line {
  int number = 0;
  bool indented = false;
  std::vector<std::string> tokens;
  std::string comment;  // text after '#' on a line with no tokens.
};

// Splits a line into tokens: whitespace separates, "double quotes" group (\" and \\ escape
// inside), '#' outside quotes starts a comment. Returns false on an unterminated quote.
bool tokenize(std::string_view text, Line& line) {
  std::string current;
  bool in_token = false;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 1 < text.size()) {
        current += text[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        current += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      in_token = true;
      continue;
    }
    if (c == '#') {
      if (in_token) line.tokens.push_back(current);
      in_token = false;
      if (line.tokens.empty()) {
        std::string_view rest = text.substr(i + 1);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        line.comment = std::string(rest);
      }
      return true;
    }
    if (c == ' ' || c == '\t') {
      if (in_token) line.tokens.push_back(current);
      current.clear();
      in_token = false;
      continue;
    }
    current += c;
    in_token = true;
  }
  if (quoted) return false;
  if (in_token) line.tokens.push_back(current);
  return true;
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<int64_t> parse_i64(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "5ms", "20us", "1s", "100ns", "3" (ns).
std::optional<uint64_t> parse_duration_ns(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    uint64_t ns;
  };
  static constexpr Unit kUnits[] = {
      {"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}};
  for (const auto& unit : kUnits) {
    if (text.size() > unit.suffix.size() && text.ends_with(unit.suffix)) {
      auto number = parse_u64(text.substr(0, text.size() - unit.suffix.size()));
      if (number) return *number * unit.ns;
    }
  }
  return parse_u64(text);
}

// "osstatus:N", "errno:N", "kern:N".
std::optional<LookupOutcome> parse_outcome_text(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto code = parse_i64(text.substr(colon + 1));
  std::string_view domain = text.substr(0, colon);
  LookupOutcome outcome;
  if (domain == "osstatus")
    outcome.domain = OutcomeDomain::kOsStatus;
  else if (domain == "errno")
    outcome.domain = OutcomeDomain::kErrno;
  else if (domain == "kern")
    outcome.domain = OutcomeDomain::kKernReturn;
  else
    return std::nullopt;
  if (!code) return std::nullopt;
  outcome.code = static_cast<int32_t>(*code);
  return outcome;
}

// ---- Steps: each kind's text form, parsed and written side by side.

std::optional<TokenShape> parse_token_shape(std::string_view text) {
  if (text == "absent") return TokenShape::kAbsent;
  if (text == "malformed") return TokenShape::kMalformed;
  if (text == "ok") return TokenShape::kWellFormed;
  return std::nullopt;
}
std::string_view token_shape_word(TokenShape shape) {
  switch (shape) {
    case TokenShape::kAbsent:
      return "absent";
    case TokenShape::kMalformed:
      return "malformed";
    case TokenShape::kWellFormed:
      return "ok";
  }
  return "ok";
}

// Quotes a token when the tokenizer would otherwise split or misread it.
std::string quote_if_needed(std::string_view text) {
  bool plain = !text.empty();
  for (char c : text) plain = plain && c != ' ' && c != '\t' && c != '"' && c != '#' && c != '\\';
  if (plain) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One step's tokens after the verb, split into positional arguments and key=value options (a
// flag is an option with no '='), read into typed values. The first bad value is the error.
class Fields {
 public:
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::optional<std::string>>> options;

  const std::string& arg(std::size_t i) const { return args[i]; }
  const std::string& error() const { return error_; }
  bool fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return false;
  }

  std::optional<std::string> text(std::string_view key) {
    const auto* o = find(key);
    if (o == nullptr) return std::nullopt;
    if (!o->second) {
      fail(fmt::format("'{}' needs a value: {}=...", key, key));
      return std::nullopt;
    }
    return *o->second;
  }
  bool flag(std::string_view key) {
    const auto* o = find(key);
    if (o != nullptr && o->second) fail(fmt::format("'{}' takes no value", key));
    return o != nullptr;
  }
  // An unsigned option no larger than `max`.
  template <typename T>
  std::optional<T> number(std::string_view key, uint64_t max = std::numeric_limits<T>::max()) {
    auto value = text(key);
    if (!value) return std::nullopt;
    auto n = parse_u64(*value);
    if (!n || *n > max) {
      fail(fmt::format("bad {} '{}'", key, *value));
      return std::nullopt;
    }
    return static_cast<T>(*n);
  }
  std::optional<TokenShape> shape(std::string_view key) {
    auto value = text(key);
    if (!value) return std::nullopt;
    auto shape = parse_token_shape(*value);
    if (!shape) fail(fmt::format("bad {} '{}' (absent, malformed, ok)", key, *value));
    return shape;
  }
  LookupCall call(std::size_t i) {
    auto call = parse_lookup_call(args[i]);
    if (!call) fail(fmt::format("unknown call '{}'", args[i]));
    return call.value_or(LookupCall::kGuestByAuditToken);
  }
  uint64_t duration(std::size_t i) {
    auto ns = parse_duration_ns(args[i]);
    if (!ns) fail(fmt::format("bad duration '{}' (e.g. 5ms, 20us, 1s)", args[i]));
    return ns.value_or(0);
  }

 private:
  const std::pair<std::string, std::optional<std::string>>* find(std::string_view key) const {
    for (const auto& o : options) {
      if (o.first == key) return &o;
    }
    return nullptr;
  }
  std::string error_;
};

// A step's line being written: positional arguments, then options.
struct Writer {
  std::string line;
  void arg(std::string_view text) { line += " " + quote_if_needed(text); }
  void option(std::string_view key, const std::optional<std::string>& value) {
    if (value) line += fmt::format(" {}={}", key, quote_if_needed(*value));
  }
  template <typename T>
  void option(std::string_view key, const std::optional<T>& value) {
    if (value) line += fmt::format(" {}={}", key, *value);
  }
  void flag(std::string_view key, bool on) {
    if (on) line += fmt::format(" {}", key);
  }
};

// file / replace PATH KIND [signing_id=S] [team_id=T] [runtime] [content=N]
bool parse_file_spec(Fields& f, step::FileSpec& s) {
  s.path = f.arg(0);
  auto kind = parse_signature_kind(f.arg(1));
  if (!kind) {
    return f.fail(fmt::format(
        "unknown signature kind '{}' (unsigned, ad-hoc, developer-id, app-store, platform)",
        f.arg(1)));
  }
  s.signature = *kind;
  s.signing_id = f.text("signing_id").value_or("");
  s.team_id = f.text("team_id").value_or("");
  s.runtime = f.flag("runtime");
  s.content = f.number<uint32_t>("content");
  if ((*kind == SignatureKind::kDeveloperId || *kind == SignatureKind::kAppStore) &&
      s.team_id.empty()) {
    return f.fail("developer-id and app-store code needs team_id=...");
  }
  if (*kind != SignatureKind::kUnsigned && *kind != SignatureKind::kAdHoc && s.signing_id.empty())
    return f.fail("signed code needs signing_id=...");
  return true;
}
void format_file_spec(const step::FileSpec& s, Writer& w) {
  w.arg(s.path);
  w.arg(name_of(s.signature));
  if (!s.signing_id.empty()) w.option("signing_id", std::optional<std::string>(s.signing_id));
  if (!s.team_id.empty()) w.option("team_id", std::optional<std::string>(s.team_id));
  w.flag("runtime", s.runtime);
  w.option("content", s.content);
}
bool parse(Fields& f, step::InstallFile& s) { return parse_file_spec(f, s.file); }
void format(const step::InstallFile& s, Writer& w) { format_file_spec(s.file, w); }
bool parse(Fields& f, step::ReplaceFile& s) { return parse_file_spec(f, s.file); }
void format(const step::ReplaceFile& s, Writer& w) { format_file_spec(s.file, w); }

// remove PATH
bool parse(Fields& f, step::RemoveFile& s) {
  s.path = f.arg(0);
  return true;
}
void format(const step::RemoveFile& s, Writer& w) { w.arg(s.path); }

// rename FROM TO
bool parse(Fields& f, step::RenameFile& s) {
  s.from = f.arg(0);
  s.to = f.arg(1);
  return true;
}
void format(const step::RenameFile& s, Writer& w) {
  w.arg(s.from);
  w.arg(s.to);
}

// spawn NAME PATH [parent=NAME] [responsible=NAME] [uid=N]
bool parse(Fields& f, step::Spawn& s) {
  s.name = f.arg(0);
  s.path = f.arg(1);
  s.parent = f.text("parent");
  s.responsible = f.text("responsible");
  s.uid = f.number<uint32_t>("uid");
  return true;
}
void format(const step::Spawn& s, Writer& w) {
  w.arg(s.name);
  w.arg(s.path);
  w.option("parent", s.parent);
  w.option("responsible", s.responsible);
  w.option("uid", s.uid);
}

// exec NAME PATH
bool parse(Fields& f, step::Exec& s) {
  s.name = f.arg(0);
  s.path = f.arg(1);
  return true;
}
void format(const step::Exec& s, Writer& w) {
  w.arg(s.name);
  w.arg(s.path);
}

// exit NAME [zombie] [status=N]   (status may be negative)
bool parse(Fields& f, step::Exit& s) {
  s.name = f.arg(0);
  s.zombie = f.flag("zombie");
  if (auto status = f.text("status")) {
    auto n = parse_i64(*status);
    if (!n || *n < std::numeric_limits<int32_t>::min() || *n > std::numeric_limits<int32_t>::max())
      return f.fail(fmt::format("bad status '{}'", *status));
    s.status = static_cast<int32_t>(*n);
  }
  return true;
}
void format(const step::Exit& s, Writer& w) {
  w.arg(s.name);
  w.flag("zombie", s.zombie);
  w.option("status", s.status);
}

// reap NAME
bool parse(Fields& f, step::Reap& s) {
  s.name = f.arg(0);
  return true;
}
void format(const step::Reap& s, Writer& w) { w.arg(s.name); }

// flow FLOW NAME [app=NAME] [host=H] [port=N] [udp] [ipv6] [inbound] [app-token=SHAPE]
// [process-token=SHAPE]
bool parse(Fields& f, step::OpenFlow& s) {
  s.flow = f.arg(0);
  s.process = f.arg(1);
  s.app = f.text("app");
  s.host = f.text("host");
  s.port = f.number<uint16_t>("port");
  s.udp = f.flag("udp");
  s.ipv6 = f.flag("ipv6");
  s.inbound = f.flag("inbound");
  s.app_token = f.shape("app-token");
  s.process_token = f.shape("process-token");
  return true;
}
void format(const step::OpenFlow& s, Writer& w) {
  w.arg(s.flow);
  w.arg(s.process);
  w.option("app", s.app);
  w.option("host", s.host);
  w.option("port", s.port);
  w.flag("udp", s.udp);
  w.flag("ipv6", s.ipv6);
  w.flag("inbound", s.inbound);
  if (s.app_token)
    w.option("app-token", std::optional<std::string_view>(token_shape_word(*s.app_token)));
  if (s.process_token)
    w.option("process-token", std::optional<std::string_view>(token_shape_word(*s.process_token)));
}

// advance DURATION
bool parse(Fields& f, step::Advance& s) {
  s.ns = f.duration(0);
  return true;
}
void format(const step::Advance& s, Writer& w) { w.arg(format_duration_ns(s.ns)); }

// fail-next CALL COUNT DOMAIN:CODE
bool parse(Fields& f, step::FailNext& s) {
  s.call = f.call(0);
  auto count = parse_u64(f.arg(1));
  if (!count || *count > std::numeric_limits<uint32_t>::max())
    return f.fail(fmt::format("bad count '{}'", f.arg(1)));
  s.count = static_cast<uint32_t>(*count);
  auto outcome = parse_outcome_text(f.arg(2));
  if (!outcome)
    return f.fail(fmt::format("bad outcome '{}' (osstatus:N, errno:N or kern:N)", f.arg(2)));
  s.outcome = *outcome;
  return true;
}
void format(const step::FailNext& s, Writer& w) {
  w.arg(name_of(s.call));
  w.arg(fmt::format("{}", s.count));
  w.arg(format_outcome(s.outcome));
}

// delay CALL DURATION
bool parse(Fields& f, step::Delay& s) {
  s.call = f.call(0);
  s.ns = f.duration(1);
  return true;
}
void format(const step::Delay& s, Writer& w) {
  w.arg(name_of(s.call));
  w.arg(format_duration_ns(s.ns));
}

// resolve FLOW
bool parse(Fields& f, step::Resolve& s) {
  s.flow = f.arg(0);
  return true;
}
void format(const step::Resolve& s, Writer& w) { w.arg(s.flow); }

// launch PATH requirement="..."
bool parse(Fields& f, step::Launch& s) {
  s.path = f.arg(0);
  auto requirement = f.text("requirement");
  if (!requirement) return f.fail("launch needs requirement=\"...\"");
  s.requirement = *requirement;
  return true;
}
void format(const step::Launch& s, Writer& w) {
  w.arg(s.path);
  w.option("requirement", std::optional<std::string>(s.requirement));
}

// Each kind's verb, positional argument count and options, in StepKind order.
struct Verb {
  std::string_view name;
  std::size_t positional;
  std::array<std::string_view, 8> options;  // empty names unused.
};
constexpr std::array<Verb, kStepKindCount> kVerbs = {{
    {"file", 2, {"signing_id", "team_id", "runtime", "content"}},
    {"replace", 2, {"signing_id", "team_id", "runtime", "content"}},
    {"remove", 1, {}},
    {"rename", 2, {}},
    {"spawn", 2, {"parent", "responsible", "uid"}},
    {"exec", 2, {}},
    {"exit", 1, {"zombie", "status"}},
    {"reap", 1, {}},
    {"flow", 2, {"app", "host", "port", "udp", "ipv6", "inbound", "app-token", "process-token"}},
    {"advance", 1, {}},
    {"fail-next", 3, {}},
    {"delay", 2, {}},
    {"resolve", 1, {}},
    {"launch", 1, {"requirement"}},
}};

const Verb& verb_of(StepKind kind) { return kVerbs[static_cast<std::size_t>(kind)]; }

std::optional<StepKind> step_kind_of(std::string_view verb) {
  for (std::size_t i = 0; i < kVerbs.size(); ++i) {
    if (kVerbs[i].name == verb) return static_cast<StepKind>(i);
  }
  return std::nullopt;
}

// A default value of alternative `index` of the step variant.
template <std::size_t... I>
StepAction action_of(std::size_t index, std::index_sequence<I...> /*unused*/) {
  StepAction out;
  ((index == I ? (out.emplace<I>(), 0) : 0), ...);
  return out;
}

// Parses a step from its tokens (the verb first). Sets *error to the problem (no position).
std::optional<Step> parse_step_tokens(const std::vector<std::string>& tokens, int line,
                                      std::string* error) {
  auto kind = tokens.empty() ? std::nullopt : step_kind_of(tokens[0]);
  if (!kind) {
    *error = fmt::format("unknown statement '{}'", tokens.empty() ? "" : tokens[0]);
    return std::nullopt;
  }
  const Verb& v = verb_of(*kind);
  Fields fields;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    auto eq = token.find('=');
    if (fields.args.size() < v.positional && eq == std::string::npos) {
      fields.args.push_back(token);
      continue;
    }
    std::string key = token.substr(0, eq);
    if (std::find(v.options.begin(), v.options.end(), key) == v.options.end() || key.empty()) {
      *error = fmt::format("'{}' does not take '{}'", v.name, key);
      return std::nullopt;
    }
    for (const auto& [seen, value] : fields.options) {
      if (seen == key) {
        *error = fmt::format("'{}' is given twice", key);
        return std::nullopt;
      }
    }
    fields.options.emplace_back(
        key, eq == std::string::npos ? std::nullopt : std::optional(token.substr(eq + 1)));
  }
  if (fields.args.size() != v.positional) {
    *error =
        fmt::format("'{}' takes {} argument{}", v.name, v.positional, v.positional == 1 ? "" : "s");
    return std::nullopt;
  }
  Step step(action_of(static_cast<std::size_t>(*kind), std::make_index_sequence<kStepKindCount>()),
            line);
  std::visit([&fields](auto& action) { parse(fields, action); }, step.action);
  if (!fields.error().empty()) {
    *error = fields.error();
    return std::nullopt;
  }
  return step;
}

}  // namespace

// The largest unit that writes ns exactly: "1ms", "250us", "3ns", "0".
std::string format_duration_ns(uint64_t ns) {
  if (ns == 0) return "0";
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
}

std::string format_outcome(const LookupOutcome& outcome) {
  const char* domain = outcome.domain == OutcomeDomain::kErrno        ? "errno"
                       : outcome.domain == OutcomeDomain::kKernReturn ? "kern"
                                                                      : "osstatus";
  return fmt::format("{}:{}", domain, outcome.code);
}

std::string format_step(const Step& step) {
  Writer w;
  w.line = std::string(verb_of(step.kind()).name);
  std::visit([&w](const auto& action) { format(action, w); }, step.action);
  return w.line;
}

std::optional<Step> parse_step(std::string_view text, std::string_view file, int line,
                               std::string* error) {
  Line tokens;
  std::string what;
  if (!tokenize(text, tokens)) {
    what = "unterminated \"quoted string\"";
  } else if (auto step = parse_step_tokens(tokens.tokens, line, &what)) {
    return step;
  }
  *error = fmt::format("{}:{}: {}", file, line, what);
  return std::nullopt;
}

std::vector<std::string> Step::operands() const {
  Writer w;
  std::visit([&w](const auto& action) { format(action, w); }, action);
  // Positional arguments come first; the verb's count says how many tokens they are.
  Line line;
  tokenize(w.line, line);
  line.tokens.resize(std::min(line.tokens.size(), verb_of(kind()).positional));
  return line.tokens;
}

bool operator==(const Step& a, const Step& b) { return a.action == b.action && a.races == b.races; }

namespace {
// ---- Rules written inline in a scenario, turned into the rule file format.

std::string toml_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

bool Scenario::tests_launchers() const {
  for (const auto& s : steps) {
    if (s.kind() == StepKind::kLaunch) return true;
  }
  return false;
}

std::optional<Cell> parse_cell(std::string_view name) {
  for (auto cell :
       {Cell::kCorrect, Cell::kDowngraded, Cell::kMisattributed, Cell::kBypassed, Cell::kCrashed}) {
    std::string_view known = name_of(cell);
    if (known.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size(); ++i) {
      same = same && std::tolower(static_cast<unsigned char>(known[i])) ==
                         std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return cell;
  }
  return std::nullopt;
}

Cell worse(Cell a, Cell b) {
  auto rank = [](Cell c) {
    switch (c) {
      case Cell::kCorrect:
        return 0;
      case Cell::kDowngraded:
        return 1;
      case Cell::kCrashed:
        return 2;
      case Cell::kMisattributed:
        return 3;
      case Cell::kBypassed:
        return 4;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

namespace {

// One `world KEY=VALUE` setting applied to the scenario; the problem, or empty.
std::string parse_world_setting(const std::string& token, Scenario& scenario) {
  auto eq = token.find('=');
  if (eq == std::string::npos) return (fmt::format("expected key=value, got '{}'", token));
  std::string key = token.substr(0, eq);
  std::string value = token.substr(eq + 1);
  if (key == "pid-policy") {
    if (value == "sequential")
      scenario.world.pid_policy = PidPolicy::kSequential;
    else if (value == "lowest-free")
      scenario.world.pid_policy = PidPolicy::kLowestFree;
    else if (value == "reuse-last")
      scenario.world.pid_policy = PidPolicy::kReuseLastFreed;
    else
      return (fmt::format("unknown pid-policy '{}' (sequential, lowest-free, reuse-last)", value));
  } else if (key == "pid-min" || key == "pid-max") {
    auto n = parse_u64(value);
    if (!n || *n < 2 || *n > 0x7fffffff) return (fmt::format("bad {} '{}'", key, value));
    (key == "pid-min" ? scenario.world.pid_min : scenario.world.pid_max) = static_cast<int32_t>(*n);
  } else if (key == "seed") {
    auto n = parse_u64(value);
    if (!n) return (fmt::format("bad seed '{}'", value));
    scenario.world.seed = *n;
  } else if (key == "caller") {
    scenario.world.caller.sandboxed = false;
    scenario.world.caller.root = false;
    std::size_t p = 0;
    while (p <= value.size()) {
      auto comma = value.find(',', p);
      if (comma == std::string::npos) comma = value.size();
      std::string part = value.substr(p, comma - p);
      if (part == "sandboxed")
        scenario.world.caller.sandboxed = true;
      else if (part == "root")
        scenario.world.caller.root = true;
      else if (part != "unsandboxed" && part != "user") {
        return fmt::format("unknown caller trait '{}' (sandboxed, unsandboxed, root, user)", part);
      }
      p = comma + 1;
    }
  } else if (key == "step-time") {
    auto ns = parse_duration_ns(value);
    if (!ns) return (fmt::format("bad step-time '{}' (e.g. 1ms, 20us, 0 for none)", value));
    scenario.step_time_ns = *ns;
  } else if (key == "eperm-prefix") {
    scenario.world.eperm_path_prefixes.push_back(value);
  } else if (key == "no-eperm") {
    scenario.world.eperm_path_prefixes.clear();
  } else {
    return (
        fmt::format("unknown world setting '{}' (pid-policy, pid-min, "
                    "pid-max, seed, caller, step-time, eperm-prefix, no-eperm)",
                    key));
  }
  return {};
}

// `rule NAME ACTION KEY=VALUE ...` as a [[rule]] table of the rule file format (which checks
// the keys and values); the problem, or empty.
std::string rule_toml(const std::vector<std::string>& t, std::string* out) {
  if (t.size() < 4) {
    return "'rule NAME ACTION KEY=VALUE ...' (e.g. rule safari allow "
           "signing_id=com.apple.Safari platform=true)";
  }
  std::string toml =
      "[[rule]]\nname = " + toml_quote(t[1]) + "\naction = " + toml_quote(t[2]) + "\n";
  for (std::size_t i = 3; i < t.size(); ++i) {
    auto eq = t[i].find('=');
    if (eq == std::string::npos) return fmt::format("expected key=value, got '{}'", t[i]);
    std::string key = t[i].substr(0, eq);
    std::string value = t[i].substr(eq + 1);
    if (key == "platform") {
      if (value != "true" && value != "false") return "platform=true or platform=false";
      toml += key + " = " + value + "\n";
    } else {
      toml += key + " = " + toml_quote(value) + "\n";
    }
  }
  *out = std::move(toml);
  return {};
}

}  // namespace

std::optional<Scenario> parse_scenario(std::string_view text, std::string_view file,
                                       std::string* error) {
  Scenario scenario;
  scenario.file = std::string(file);
  int number = 0;
  bool seen_statement = false;
  std::string policy_toml;
  std::string rules_toml;
  auto fail = [&](int line, const std::string& what) {
    *error = fmt::format("{}:{}: {}", file, line, what);
    return std::nullopt;
  };

  std::vector<Step>* race_target = nullptr;             // the steps of the last resolve/launch.
  std::vector<std::pair<std::string, int>> rule_lines;  // TOML text per inline rule.
  std::vector<std::pair<std::string, int>> policy_lines;

  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    Line line;
    line.number = number;
    line.indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    if (!tokenize(raw, line)) return fail(number, "unterminated \"quoted string\"");
    if (line.tokens.empty()) {
      // The comment block before the first statement describes the scenario.
      if (!seen_statement && !line.comment.empty()) {
        if (!scenario.description.empty()) scenario.description += ' ';
        scenario.description += line.comment;
      }
      if (end == text.size()) break;
      continue;
    }
    seen_statement = true;
    const auto& t = line.tokens;
    const std::string& verb = t[0];

    if (line.indented) {
      // before-call N: STEP
      if (verb != "before-call" || t.size() < 3 || t[1].empty() || t[1].back() != ':') {
        return fail(number, "an indented line must be a race: 'before-call N: STEP'");
      }
      if (race_target == nullptr || race_target->empty()) {
        return fail(number, "a race line must follow a 'resolve' or 'launch' line");
      }
      auto n = parse_u64(std::string_view(t[1]).substr(0, t[1].size() - 1));
      if (!n || *n == 0) return fail(number, fmt::format("bad call number '{}' (1, 2, ...)", t[1]));
      std::vector<std::string> inner(t.begin() + 2, t.end());
      std::string what;
      auto step = parse_step_tokens(inner, number, &what);
      if (!step) return fail(number, what);
      if (step->kind() == StepKind::kResolve || step->kind() == StepKind::kLaunch ||
          step->kind() == StepKind::kFlow) {
        return fail(number, fmt::format("'{}' cannot run inside a resolution", inner[0]));
      }
      race_target->back().races.emplace_back(static_cast<uint32_t>(*n), std::move(*step));
      continue;
    }
    race_target = nullptr;

    if (verb == "scenario") {
      if (t.size() != 2) return fail(number, "'scenario NAME'");
      scenario.name = t[1];
    } else if (verb == "describe") {
      if (t.size() < 2) return fail(number, "'describe \"TEXT\"'");
      scenario.description.clear();
      for (std::size_t i = 1; i < t.size(); ++i) scenario.description += (i > 1 ? " " : "") + t[i];
    } else if (verb == "fault") {
      if (t.size() < 2) return fail(number, "'fault F1 [F2 ...]'");
      for (std::size_t i = 1; i < t.size(); ++i) {
        auto n = t[i].size() > 1 && t[i][0] == 'F' ? parse_u64(std::string_view(t[i]).substr(1))
                                                   : std::nullopt;
        if (!n || *n < 1 || *n > 11)
          return fail(number, fmt::format("unknown fault '{}' (F1 ... F11)", t[i]));
        scenario.faults.push_back(t[i]);
      }
    } else if (verb == "record-with") {
      if (t.size() != 2) return fail(number, "'record-with STRATEGY'");
      scenario.record_with = t[1];
    } else if (verb == "world") {
      for (std::size_t i = 1; i < t.size(); ++i) {
        std::string what = parse_world_setting(t[i], scenario);
        if (!what.empty()) return fail(number, what);
      }
    } else if (verb == "rules") {
      if (t.size() != 2) return fail(number, "'rules FILE'");
      scenario.rules_file = t[1];
    } else if (verb == "rule") {
      std::string toml;
      std::string what = rule_toml(t, &toml);
      if (!what.empty()) return fail(number, what);
      rule_lines.emplace_back(std::move(toml), number);
    } else if (verb == "policy") {
      for (std::size_t i = 1; i < t.size(); ++i) {
        auto eq = t[i].find('=');
        if (eq == std::string::npos)
          return fail(number, fmt::format("expected key=value, got '{}'", t[i]));
        policy_lines.emplace_back(
            t[i].substr(0, eq) + " = " + toml_quote(t[i].substr(eq + 1)) + "\n", number);
      }
    } else if (verb == "expect") {
      if (t.size() != 3)
        return fail(
            number,
            "'expect STRATEGY CELL' (correct, downgraded, MISATTRIBUTED, BYPASSED, CRASHED)");
      auto cell = parse_cell(t[2]);
      if (!cell)
        return fail(
            number,
            fmt::format("unknown cell '{}' (correct, downgraded, MISATTRIBUTED, BYPASSED, CRASHED)",
                        t[2]));
      scenario.expectations.push_back({t[1], *cell, number});
    } else {
      std::string what;
      auto step = parse_step_tokens(t, number, &what);
      if (!step) return fail(number, what);
      const bool takes_races =
          step->kind() == StepKind::kResolve || step->kind() == StepKind::kLaunch;
      scenario.steps.push_back(std::move(*step));
      if (takes_races) race_target = &scenario.steps;
    }
    if (end == text.size()) break;
  }

  if (scenario.name.empty()) return fail(1, "missing 'scenario NAME'");
  bool resolves = false;
  bool launches = false;
  for (const auto& s : scenario.steps) {
    resolves = resolves || s.kind() == StepKind::kResolve;
    launches = launches || s.kind() == StepKind::kLaunch;
  }
  if (resolves && launches) {
    return fail(1, "a scenario tests resolvers (resolve) or launchers (launch), not both");
  }

  // Inline rules and policy: parse each piece with the rule file parser so errors keep their line.
  if (!policy_lines.empty()) policy_toml = "[policy]\n";
  for (const auto& [toml, origin] : policy_lines) {
    RuleError rule_error;
    if (!parse_rules("[policy]\n" + toml, file, &rule_error))
      return fail(origin, rule_error.message);
    policy_toml += toml;
  }
  for (const auto& [toml, origin] : rule_lines) {
    RuleError rule_error;
    if (!parse_rules(toml, file, &rule_error)) return fail(origin, rule_error.message);
    rules_toml += toml;
  }
  if (!policy_toml.empty() || !rules_toml.empty()) {
    RuleError rule_error;
    auto rules = parse_rules(policy_toml + rules_toml, file, &rule_error);
    if (!rules) return fail(rule_lines.empty() ? 1 : rule_lines.front().second, rule_error.message);
    scenario.rules = std::move(*rules);
  }
  return scenario;
}

namespace {

std::string_view decision_word(Decision d) { return name_of(d); }

std::string policy_word(const FilterPolicy::Entry& e) {
  return e.mode == FilterPolicy::Mode::kApplyRules ? std::string("rules")
                                                   : std::string(decision_word(e.decision));
}

}  // namespace

std::string format_scenario(const Scenario& s) {
  std::string out;
  // The description becomes the leading comment block, wrapped at ~96 columns.
  if (!s.description.empty()) {
    std::string line = "#";
    std::size_t p = 0;
    while (p < s.description.size()) {
      auto space = s.description.find(' ', p);
      if (space == std::string::npos) space = s.description.size();
      std::string word = s.description.substr(p, space - p);
      if (line.size() + 1 + word.size() > 96 && line.size() > 1) {
        out += line + "\n";
        line = "#";
      }
      line += " " + word;
      p = space + 1;
    }
    out += line + "\n";
  }
  out += fmt::format("scenario {}\n", quote_if_needed(s.name));
  if (!s.faults.empty()) {
    out += "fault";
    for (const auto& f : s.faults) out += " " + f;
    out += "\n";
  }
  if (s.record_with != "token+recheck")
    out += fmt::format("record-with {}\n", quote_if_needed(s.record_with));

  const WorldConfig defaults;
  const WorldConfig& w = s.world;
  std::string world;
  if (w.pid_policy != defaults.pid_policy) {
    world += w.pid_policy == PidPolicy::kLowestFree       ? " pid-policy=lowest-free"
             : w.pid_policy == PidPolicy::kReuseLastFreed ? " pid-policy=reuse-last"
                                                          : " pid-policy=sequential";
  }
  if (w.pid_min != defaults.pid_min) world += fmt::format(" pid-min={}", w.pid_min);
  if (w.pid_max != defaults.pid_max) world += fmt::format(" pid-max={}", w.pid_max);
  if (w.seed != defaults.seed) world += fmt::format(" seed={}", w.seed);
  if (w.caller.sandboxed != defaults.caller.sandboxed || w.caller.root != defaults.caller.root) {
    world += fmt::format(" caller={},{}", w.caller.sandboxed ? "sandboxed" : "unsandboxed",
                         w.caller.root ? "root" : "user");
  }
  if (w.eperm_path_prefixes != defaults.eperm_path_prefixes) {
    world += " no-eperm";
    for (const auto& prefix : w.eperm_path_prefixes)
      world += " eperm-prefix=" + quote_if_needed(prefix);
  }
  if (s.step_time_ns != kDefaultStepTimeNs)
    world += " step-time=" + format_duration_ns(s.step_time_ns);
  if (!world.empty()) out += "world" + world + "\n";

  if (!s.rules_file.empty()) {
    out += fmt::format("rules {}\n", quote_if_needed(s.rules_file));
  } else {
    const FilterPolicy policy_defaults;
    const FilterPolicy& p = s.rules.policy;
    if (!(p == policy_defaults)) {
      out += fmt::format("policy unverified={} gone={} unknown={} no_rule={}\n",
                         policy_word(p.unverified), policy_word(p.gone), policy_word(p.unknown),
                         decision_word(p.no_rule));
    }
    for (const auto& r : s.rules.rules) {
      std::string line =
          fmt::format("rule {} {}", quote_if_needed(r.name), decision_word(r.action));
      if (r.cdhash)
        line += " cdhash=" + [&] {
          std::string h;
          for (uint8_t b : *r.cdhash) h += fmt::format("{:02x}", b);
          return h;
        }();
      if (!r.signing_id.empty()) line += " signing_id=" + quote_if_needed(r.signing_id);
      if (!r.team_id.empty()) line += " team_id=" + quote_if_needed(r.team_id);
      if (r.platform) line += " platform=true";
      if (!r.path.empty()) line += " path=" + quote_if_needed(r.path);
      out += line + "\n";
    }
  }
  out += "\n";
  for (const auto& step : s.steps) {
    out += format_step(step) + "\n";
    for (const auto& race : step.races) {
      out += fmt::format("  before-call {}: {}\n", race.before_call, format_step(race.step));
    }
  }
  if (!s.expectations.empty()) out += "\n";
  for (const auto& e : s.expectations) {
    out += fmt::format("expect {} {}\n", quote_if_needed(e.strategy), name_of(e.cell));
  }
  return out;
}

}  // namespace flowid::scenario
