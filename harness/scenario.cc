#include "harness/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "harness/assert.h"
#include "harness/builders.h"

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

// The largest unit that writes ns exactly: "1ms", "250us", "3ns", "0".
std::string format_duration_ns(uint64_t ns) {
  if (ns == 0) return "0";
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
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

// Step verbs, their kinds and how many positional arguments they take.
struct Verb {
  std::string_view name;
  StepKind kind;
  std::size_t positional;
};
constexpr Verb kVerbs[] = {
    {"file", StepKind::kFile, 2},          {"replace", StepKind::kReplace, 2},
    {"remove", StepKind::kRemove, 1},      {"rename", StepKind::kRename, 2},
    {"spawn", StepKind::kSpawn, 2},        {"exec", StepKind::kExec, 2},
    {"exit", StepKind::kExit, 1},          {"reap", StepKind::kReap, 1},
    {"flow", StepKind::kFlow, 2},          {"advance", StepKind::kAdvance, 1},
    {"fail-next", StepKind::kFailNext, 3}, {"delay", StepKind::kDelay, 2},
    {"resolve", StepKind::kResolve, 1},    {"launch", StepKind::kLaunch, 1},
};

// Options each verb accepts (flags have no value).
bool option_allowed(StepKind kind, std::string_view key) {
  auto in = [key](std::initializer_list<std::string_view> keys) {
    for (auto k : keys) {
      if (k == key) return true;
    }
    return false;
  };
  switch (kind) {
    case StepKind::kFile:
    case StepKind::kReplace:
      return in({"signing_id", "team_id", "runtime", "content"});
    case StepKind::kSpawn:
      return in({"parent", "responsible", "uid"});
    case StepKind::kExit:
      return in({"zombie", "status"});
    case StepKind::kFlow:
      return in({"app", "host", "port", "udp", "ipv6", "inbound", "app-token", "process-token"});
    case StepKind::kLaunch:
      return in({"requirement"});
    default:
      return false;
  }
}

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

const std::string* Step::option(std::string_view key) const {
  for (const auto& [k, v] : options) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool Scenario::tests_launchers() const {
  for (const auto& s : steps) {
    if (s.kind == StepKind::kLaunch) return true;
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
      Line inner;
      inner.number = number;
      inner.tokens.assign(t.begin() + 2, t.end());
      // Parsed below as an ordinary step; then attached to the resolve/launch.
      const Verb* v = nullptr;
      for (const auto& candidate : kVerbs) {
        if (candidate.name == inner.tokens[0]) v = &candidate;
      }
      if (!v || v->kind == StepKind::kResolve || v->kind == StepKind::kLaunch ||
          v->kind == StepKind::kFlow) {
        return fail(number, fmt::format("'{}' cannot run inside a resolution", inner.tokens[0]));
      }
      Step step;
      step.kind = v->kind;
      step.line = number;
      for (std::size_t i = 1; i < inner.tokens.size(); ++i) {
        const auto& tok = inner.tokens[i];
        auto eq = tok.find('=');
        if (step.args.size() < v->positional && eq == std::string::npos) {
          step.args.push_back(tok);
        } else {
          std::string key = eq == std::string::npos ? tok : tok.substr(0, eq);
          if (!option_allowed(step.kind, key)) {
            return fail(number, fmt::format("'{}' does not take '{}'", v->name, key));
          }
          step.options.emplace_back(key, eq == std::string::npos ? "" : tok.substr(eq + 1));
        }
      }
      if (step.args.size() != v->positional) {
        return fail(number, fmt::format("'{}' takes {} argument{}", v->name, v->positional,
                                        v->positional == 1 ? "" : "s"));
      }
      race_target->back().races.emplace_back(static_cast<uint32_t>(*n), std::move(step));
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
        auto eq = t[i].find('=');
        if (eq == std::string::npos)
          return fail(number, fmt::format("expected key=value, got '{}'", t[i]));
        std::string key = t[i].substr(0, eq);
        std::string value = t[i].substr(eq + 1);
        if (key == "pid-policy") {
          if (value == "sequential")
            scenario.world.pid_policy = PidPolicy::kSequential;
          else if (value == "lowest-free")
            scenario.world.pid_policy = PidPolicy::kLowestFree;
          else if (value == "reuse-last")
            scenario.world.pid_policy = PidPolicy::kReuseLastFreed;
          else
            return fail(number,
                        fmt::format("unknown pid-policy '{}' (sequential, lowest-free, reuse-last)",
                                    value));
        } else if (key == "pid-min" || key == "pid-max") {
          auto n = parse_u64(value);
          if (!n || *n < 2 || *n > 0x7fffffff)
            return fail(number, fmt::format("bad {} '{}'", key, value));
          (key == "pid-min" ? scenario.world.pid_min : scenario.world.pid_max) =
              static_cast<int32_t>(*n);
        } else if (key == "seed") {
          auto n = parse_u64(value);
          if (!n) return fail(number, fmt::format("bad seed '{}'", value));
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
              return fail(
                  number,
                  fmt::format("unknown caller trait '{}' (sandboxed, unsandboxed, root, user)",
                              part));
            }
            p = comma + 1;
          }
        } else if (key == "step-time") {
          auto ns = parse_duration_ns(value);
          if (!ns)
            return fail(number,
                        fmt::format("bad step-time '{}' (e.g. 1ms, 20us, 0 for none)", value));
          scenario.step_time_ns = *ns;
        } else if (key == "eperm-prefix") {
          scenario.world.eperm_path_prefixes.push_back(value);
        } else if (key == "no-eperm") {
          scenario.world.eperm_path_prefixes.clear();
        } else {
          return fail(number,
                      fmt::format("unknown world setting '{}' (pid-policy, pid-min, "
                                  "pid-max, seed, caller, step-time, eperm-prefix, no-eperm)",
                                  key));
        }
      }
    } else if (verb == "rules") {
      if (t.size() != 2) return fail(number, "'rules FILE'");
      scenario.rules_file = t[1];
    } else if (verb == "rule") {
      // rule NAME ACTION key=value ...
      if (t.size() < 4)
        return fail(number,
                    "'rule NAME ACTION KEY=VALUE ...' (e.g. rule safari allow "
                    "signing_id=com.apple.Safari platform=true)");
      std::string toml =
          "[[rule]]\nname = " + toml_quote(t[1]) + "\naction = " + toml_quote(t[2]) + "\n";
      for (std::size_t i = 3; i < t.size(); ++i) {
        auto eq = t[i].find('=');
        if (eq == std::string::npos)
          return fail(number, fmt::format("expected key=value, got '{}'", t[i]));
        std::string key = t[i].substr(0, eq);
        std::string value = t[i].substr(eq + 1);
        if (key == "platform") {
          if (value != "true" && value != "false")
            return fail(number, "platform=true or platform=false");
          toml += key + " = " + value + "\n";
        } else {
          toml += key + " = " + toml_quote(value) + "\n";
        }
      }
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
      const Verb* v = nullptr;
      for (const auto& candidate : kVerbs) {
        if (candidate.name == verb) v = &candidate;
      }
      if (!v) return fail(number, fmt::format("unknown statement '{}'", verb));
      Step step;
      step.kind = v->kind;
      step.line = number;
      for (std::size_t i = 1; i < t.size(); ++i) {
        auto eq = t[i].find('=');
        if (step.args.size() < v->positional && eq == std::string::npos) {
          step.args.push_back(t[i]);
        } else {
          std::string key = eq == std::string::npos ? t[i] : t[i].substr(0, eq);
          if (!option_allowed(step.kind, key)) {
            return fail(number, fmt::format("'{}' does not take '{}'", v->name, key));
          }
          step.options.emplace_back(key, eq == std::string::npos ? "" : t[i].substr(eq + 1));
        }
      }
      if (step.args.size() != v->positional) {
        return fail(number, fmt::format("'{}' takes {} argument{}", v->name, v->positional,
                                        v->positional == 1 ? "" : "s"));
      }
      scenario.steps.push_back(std::move(step));
      if (v->kind == StepKind::kResolve || v->kind == StepKind::kLaunch)
        race_target = &scenario.steps;
    }
    if (end == text.size()) break;
  }

  if (scenario.name.empty()) return fail(1, "missing 'scenario NAME'");
  bool resolves = false;
  bool launches = false;
  for (const auto& s : scenario.steps) {
    resolves = resolves || s.kind == StepKind::kResolve;
    launches = launches || s.kind == StepKind::kLaunch;
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

// ---- Running.

namespace {

class Runner {
 public:
  Runner(const Scenario& scenario, const OracleOptions& oracle, RunObserver* observer)
      : scenario_(scenario),
        oracle_(oracle),
        observer_(observer),
        world_(config_for(scenario)),
        filter_(scenario.rules) {
    world_.set_event_listener([this](const Event& event) {
      record(event);
      if (resolver_ != nullptr) resolver_->observe(event);
    });
  }

  // During a resolution, world events come from its races: keep them with the number of seam
  // calls made so far, to interleave them with the lookups afterwards.
  void record(const Event& event) {
    if (resolving_) {
      race_events_.emplace_back(calls_ == 0 ? 0 : calls_ - 1, event);
    } else {
      result_.events.push_back(event);
    }
  }

  // Exactly one of resolver and launcher is set; strategy is its name.
  RunResult run(std::string_view strategy, Resolver* resolver, Launcher* launcher) {
    resolver_ = resolver;
    launcher_ = launcher;
    result_.strategy = std::string(strategy);
    for (std::size_t i = 0; i < scenario_.steps.size(); ++i) {
      const auto& step = scenario_.steps[i];
      step_index_ = i;
      if (i > 0) world_.advance(scenario_.step_time_ns);
      observe(RunPoint{i, 0});
      if (!apply(step)) break;
      if constexpr (kConsistencyChecks) {
        std::optional<std::string> problem = world_.check_consistency();
        FLOWID_ASSERT(!problem, fmt::format("{}:{}: after this step: {}", scenario_.file, step.line,
                                            problem.value_or("")));
      }
    }
    resolver_ = nullptr;
    return std::move(result_);
  }

 private:
  static WorldConfig config_for(const Scenario& scenario) {
    WorldConfig config = scenario.world;
    config.log_events = false;  // the listener collects events.
    return config;
  }

  bool failed(const Step& step, const std::string& what) {
    if (result_.error.empty())
      result_.error = fmt::format("{}:{}: {}", scenario_.file, step.line, what);
    return false;
  }

  std::optional<AuditToken> process(const Step& step, const std::string& name) {
    auto it = processes_.find(name);
    if (it == processes_.end()) {
      failed(step, fmt::format("no process named '{}' (name it in a spawn line first)", name));
      return std::nullopt;
    }
    return it->second;
  }

  std::optional<CodeIdentity> identity(const Step& step) {
    const std::string& path = step.args[0];
    auto kind = parse_signature_kind(step.args[1]);
    if (!kind) {
      failed(
          step,
          fmt::format(
              "unknown signature kind '{}' (unsigned, ad-hoc, developer-id, app-store, platform)",
              step.args[1]));
      return std::nullopt;
    }
    uint32_t content = ++content_versions_[path];
    if (const auto* c = step.option("content")) {
      auto n = parse_u64(*c);
      if (!n) {
        failed(step, fmt::format("bad content '{}'", *c));
        return std::nullopt;
      }
      content = static_cast<uint32_t>(*n);
    }
    CodeIdentity id;
    id.path = path;
    id.signature = *kind;
    id.platform = *kind == SignatureKind::kPlatform;
    if (*kind != SignatureKind::kUnsigned)
      id.cdhash = build::cdhash_of(fmt::format("{}#{}", path, content));
    if (const auto* s = step.option("signing_id")) id.signing_id = *s;
    if (const auto* s = step.option("team_id")) id.team_id = *s;
    id.hardened_runtime = step.option("runtime") != nullptr;
    if (*kind == SignatureKind::kAdHoc && id.signing_id.empty()) {
      auto slash = path.rfind('/');
      id.signing_id = slash == std::string::npos ? path : path.substr(slash + 1);
    }
    if ((*kind == SignatureKind::kDeveloperId || *kind == SignatureKind::kAppStore) &&
        id.team_id.empty()) {
      failed(step, "developer-id and app-store code needs team_id=...");
      return std::nullopt;
    }
    if (*kind != SignatureKind::kUnsigned && *kind != SignatureKind::kAdHoc &&
        id.signing_id.empty()) {
      failed(step, "signed code needs signing_id=...");
      return std::nullopt;
    }
    return id;
  }

  bool world_error(const Step& step, WorldError error) {
    if (error == WorldError::kNone) return true;
    return failed(step, fmt::format("the world refused: {}", name_of(error)));
  }

  bool apply(const Step& step) {
    switch (step.kind) {
      case StepKind::kFile: {
        auto id = identity(step);
        return id && world_error(step, world_.install_file(*id));
      }
      case StepKind::kReplace: {
        auto id = identity(step);
        return id && world_error(step, world_.replace_file(*id));
      }
      case StepKind::kRemove:
        return world_error(step, world_.remove_file(step.args[0]));
      case StepKind::kRename:
        return world_error(step, world_.rename_file(step.args[0], step.args[1]));
      case StepKind::kSpawn: {
        SpawnOptions options;
        if (const auto* p = step.option("parent")) {
          auto parent = process(step, *p);
          if (!parent) return false;
          options.parent = parent;
        }
        if (const auto* r = step.option("responsible")) {
          auto responsible = process(step, *r);
          if (!responsible) return false;
          options.responsible = responsible;
        }
        if (const auto* u = step.option("uid")) {
          auto n = parse_u64(*u);
          if (!n) return failed(step, fmt::format("bad uid '{}'", *u));
          options.uid = static_cast<uint32_t>(*n);
        }
        auto r = world_.start_process(step.args[1], options);
        if (!r.ok()) return world_error(step, r.error);
        processes_[step.args[0]] = r.value;
        result_.executions.emplace_back(step.args[0], r.value);
        return true;
      }
      case StepKind::kExec: {
        auto token = process(step, step.args[0]);
        if (!token) return false;
        auto r = world_.exec_process(*token, step.args[1]);
        if (!r.ok()) return world_error(step, r.error);
        processes_[step.args[0]] = r.value;
        result_.executions.emplace_back(step.args[0], r.value);
        return true;
      }
      case StepKind::kExit: {
        auto token = process(step, step.args[0]);
        if (!token) return false;
        int32_t status = 0;
        if (const auto* s = step.option("status")) {
          auto n = parse_i64(*s);
          if (!n) return failed(step, fmt::format("bad status '{}'", *s));
          status = static_cast<int32_t>(*n);
        }
        auto stage = step.option("zombie") ? ExitStage::kExited : ExitStage::kReaped;
        return world_error(step, world_.exit_process(*token, status, stage));
      }
      case StepKind::kReap: {
        auto token = process(step, step.args[0]);
        return token && world_error(step, world_.reap_process(*token));
      }
      case StepKind::kFlow:
        return open_flow(step);
      case StepKind::kAdvance: {
        auto ns = parse_duration_ns(step.args[0]);
        if (!ns)
          return failed(step, fmt::format("bad duration '{}' (e.g. 5ms, 20us, 1s)", step.args[0]));
        world_.advance(*ns);
        return true;
      }
      case StepKind::kFailNext: {
        auto call = parse_lookup_call(step.args[0]);
        if (!call) return failed(step, fmt::format("unknown call '{}'", step.args[0]));
        auto count = parse_u64(step.args[1]);
        if (!count) return failed(step, fmt::format("bad count '{}'", step.args[1]));
        auto outcome = parse_outcome(step, step.args[2]);
        if (!outcome) return false;
        world_.fail_next(*call, static_cast<uint32_t>(*count), *outcome);
        record(Event{world_.now_ns(), Marker{lookup_fault_marker(step)}});
        return true;
      }
      case StepKind::kDelay: {
        auto call = parse_lookup_call(step.args[0]);
        if (!call) return failed(step, fmt::format("unknown call '{}'", step.args[0]));
        auto ns = parse_duration_ns(step.args[1]);
        if (!ns) return failed(step, fmt::format("bad duration '{}'", step.args[1]));
        world_.set_lookup_duration(*call, *ns);
        record(Event{world_.now_ns(), Marker{lookup_fault_marker(step)}});
        return true;
      }
      case StepKind::kResolve:
        return resolve(step);
      case StepKind::kLaunch:
        return launch(step);
    }
    return false;
  }

  std::optional<LookupOutcome> parse_outcome(const Step& step, const std::string& text) {
    auto outcome = parse_outcome_text(text);
    if (!outcome)
      failed(step, fmt::format("bad outcome '{}' (osstatus:N, errno:N or kern:N)", text));
    return outcome;
  }

  bool open_flow(const Step& step) {
    auto token = process(step, step.args[1]);
    if (!token) return false;
    FlowOptions options;
    std::string host;
    if (const auto* a = step.option("app")) {
      auto app = process(step, *a);
      if (!app) return false;
      options.app = app;
    }
    if (const auto* h = step.option("host")) {
      host = *h;
      options.hostname = host;
    }
    if (const auto* p = step.option("port")) {
      auto n = parse_u64(*p);
      if (!n || *n > 65535) return failed(step, fmt::format("bad port '{}'", *p));
      options.remote_port = static_cast<uint16_t>(*n);
    }
    options.udp = step.option("udp") != nullptr;
    options.ipv6 = step.option("ipv6") != nullptr;
    if (step.option("inbound")) options.direction = FlowDirection::kInbound;
    auto shape = [&](const char* key, TokenShape& out) {
      const auto* v = step.option(key);
      if (!v) return true;
      if (*v == "absent")
        out = TokenShape::kAbsent;
      else if (*v == "malformed")
        out = TokenShape::kMalformed;
      else if (*v == "ok")
        out = TokenShape::kWellFormed;
      else
        return failed(step, fmt::format("bad {} '{}' (absent, malformed, ok)", key, *v));
      return true;
    };
    if (!shape("app-token", options.app_token_shape) ||
        !shape("process-token", options.process_token_shape)) {
      return false;
    }
    auto r = world_.open_flow(*token, options);
    if (!r.ok()) return world_error(step, r.error);
    if (flows_.count(step.args[0]))
      return failed(step, fmt::format("flow '{}' already exists", step.args[0]));
    flows_[step.args[0]] = r.value;
    return true;
  }

  void observe(const RunPoint& point) {
    if (observer_ != nullptr) observer_->at(point, RunState{world_, processes_, flows_});
  }

  // Installs the race steps as a scheduler hook that counts seam calls.
  void arm_races(const Step& step) {
    calls_ = 0;
    resolving_ = true;
    resolve_start_ns_ = world_.now_ns();
    race_events_.clear();
    if (step.races.empty() && observer_ == nullptr) return;
    world_.set_scheduler_hook([this, &step](LookupCall call, World&) {
      ++calls_;
      for (const auto& race : step.races) {
        if (race.before_call == calls_) apply(race.step);
      }
      observe(RunPoint{step_index_, calls_, call});
    });
  }

  // Runs the race steps the strategy did not reach (they count as after the last call).
  void finish_races(const Step& step) {
    world_.clear_scheduler_hook();
    calls_ = calls_ + 1;
    for (const auto& race : step.races) {
      if (race.before_call >= calls_) apply(race.step);
    }
    resolving_ = false;
  }

  // Appends a resolution's lookups with its race events between them: an event that ran before
  // seam call k follows the first k-1 lookups.
  // Lookups are stamped with the latest time seen so far in the resolution (the seam does not
  // say when each call returned), so timestamps never go backwards.
  void append_interleaved(const std::vector<Lookup>& lookups) {
    std::size_t next = 0;
    uint64_t time_ns = resolve_start_ns_;
    for (std::size_t i = 0; i < lookups.size(); ++i) {
      while (next < race_events_.size() && race_events_[next].first <= i) {
        time_ns = std::max(time_ns, race_events_[next].second.time_ns);
        result_.events.push_back(race_events_[next++].second);
      }
      result_.events.push_back(Event{time_ns, lookups[i]});
    }
    for (; next < race_events_.size(); ++next) result_.events.push_back(race_events_[next].second);
    race_events_.clear();
  }

  bool resolve(const Step& step) {
    if (resolver_ == nullptr)
      return failed(step, "this scenario resolves flows: run it with a resolver strategy");
    auto it = flows_.find(step.args[0]);
    if (it == flows_.end()) return failed(step, fmt::format("no flow named '{}'", step.args[0]));
    arm_races(step);
    FlowOutcome outcome;
    outcome.name = step.args[0];
    outcome.flow = it->second;
    outcome.check = resolve_and_check(world_, *resolver_, filter_, it->second, oracle_);
    finish_races(step);
    outcome.resolved_ns = world_.now_ns();
    append_interleaved(outcome.check.lookups);
    result_.events.push_back(Event{world_.now_ns(), outcome.check.verdict});
    result_.cell = worse(result_.cell, outcome.check.cell);
    result_.flows.push_back(std::move(outcome));
    return result_.error.empty();
  }

  bool launch(const Step& step) {
    if (launcher_ == nullptr)
      return failed(step, "this scenario launches programs: run it with a launcher strategy");
    const auto* requirement = step.option("requirement");
    if (!requirement) return failed(step, "launch needs requirement=\"...\"");
    arm_races(step);
    LaunchOutcome outcome;
    outcome.path = step.args[0];
    outcome.check = launch_and_check(world_, *launcher_, step.args[0], *requirement, oracle_);
    finish_races(step);
    append_interleaved(outcome.check.lookups);
    result_.cell = worse(result_.cell, outcome.check.cell);
    result_.launches.push_back(std::move(outcome));
    return result_.error.empty();
  }

  const Scenario& scenario_;
  OracleOptions oracle_;
  RunObserver* observer_ = nullptr;
  std::size_t step_index_ = 0;
  World world_;
  Filter filter_;
  Resolver* resolver_ = nullptr;
  Launcher* launcher_ = nullptr;
  std::map<std::string, AuditToken> processes_;
  std::map<std::string, Flow> flows_;
  std::map<std::string, uint32_t> content_versions_;
  uint32_t calls_ = 0;
  bool resolving_ = false;
  uint64_t resolve_start_ns_ = 0;
  std::vector<std::pair<std::size_t, Event>> race_events_;  // (lookups before it, event).
  RunResult result_;
};

}  // namespace

RunResult run_resolver(const Scenario& scenario, Resolver& resolver, const OracleOptions& oracle,
                       RunObserver* observer) {
  return Runner(scenario, oracle, observer).run(resolver.name(), &resolver, nullptr);
}

RunResult run_launcher(const Scenario& scenario, Launcher& launcher, const OracleOptions& oracle,
                       RunObserver* observer) {
  return Runner(scenario, oracle, observer).run(launcher.name(), nullptr, &launcher);
}

std::string lookup_fault_marker(const Step& step) {
  std::string text(kLookupFaultMarkerPrefix);
  text += step.kind == StepKind::kFailNext ? "fail-next" : "delay";
  for (const auto& arg : step.args) text += " " + arg;
  return text;
}

bool is_lookup_fault_marker(std::string_view text) {
  return text.starts_with(kLookupFaultMarkerPrefix);
}

bool apply_lookup_fault_marker(std::string_view text, World& world, std::string* error) {
  Line line;
  if (!is_lookup_fault_marker(text) ||
      !tokenize(text.substr(kLookupFaultMarkerPrefix.size()), line)) {
    *error = fmt::format("not a lookup fault: '{}'", text);
    return false;
  }
  const auto& t = line.tokens;
  const bool fail_next = t.size() == 4 && t[0] == "fail-next";
  const bool delay = t.size() == 3 && t[0] == "delay";
  auto call = t.size() >= 2 ? parse_lookup_call(t[1]) : std::nullopt;
  if ((!fail_next && !delay) || !call) {
    *error = fmt::format(
        "bad lookup fault '{}' (fail-next CALL COUNT DOMAIN:CODE, or delay CALL DURATION)", text);
    return false;
  }
  if (delay) {
    auto ns = parse_duration_ns(t[2]);
    if (!ns) {
      *error = fmt::format("bad duration in '{}'", text);
      return false;
    }
    world.set_lookup_duration(*call, *ns);
    return true;
  }
  auto count = parse_u64(t[2]);
  auto outcome = parse_outcome_text(t[3]);
  if (!count || !outcome) {
    *error = fmt::format("bad count or outcome in '{}'", text);
    return false;
  }
  world.fail_next(*call, static_cast<uint32_t>(*count), *outcome);
  return true;
}

}  // namespace flowid::scenario

namespace flowid::scenario {
namespace {

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

std::string_view verb_of(StepKind kind) {
  for (const auto& v : kVerbs) {
    if (v.kind == kind) return v.name;
  }
  return "?";
}

std::string format_step(const Step& step) {
  std::string line(verb_of(step.kind));
  for (const auto& a : step.args) line += " " + quote_if_needed(a);
  for (const auto& [key, value] : step.options) {
    line += " ";
    if (value.empty()) {
      line += key;
    } else {
      // key=value with the value quoted when needed: key="a b".
      line += key + "=" + quote_if_needed(value);
    }
  }
  return line;
}

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
