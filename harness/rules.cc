// The rule file parser: a small TOML subset written by hand (docs/rules.md documents the format).
//
// Why a subset and not a TOML library: the format must stay reviewable in a pull request and
// every mistake must come back as "FILE:LINE: what is wrong and how to fix it". The parser reads
// one line at a time; a line is blank, a comment, a section header ([policy] or [[rule]]) or a
// `key = value` pair. Values are basic strings "...", literal strings '...', true and false.
// Checks that need a whole rule (no action, no key, an ambiguous signing id) run when the rule
// ends and point at the line that has to change.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "harness/filter.h"

namespace flowid {
namespace {

// A rule file larger than this is refused before parsing: rule files are written by people.
constexpr std::size_t kRuleFileBytesMax = 16u << 20;

constexpr std::string_view kRuleKeys = "name, action, cdhash, signing_id, team_id, platform, path";
constexpr std::string_view kPolicyKeys = "unverified, gone, unknown, no_rule";

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}
std::string_view trim(std::string_view s) {
  s = trim_left(s);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// True when what is left of a line is nothing or a comment.
bool only_comment_left(std::string_view rest) {
  rest = trim_left(rest);
  return rest.empty() || rest.front() == '#';
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

struct Value {
  enum class Kind : uint8_t { kString, kBool, kNumber };
  Kind kind = Kind::kString;
  std::string text;  // kString: the decoded string; kNumber: the literal as written.
  bool boolean = false;
};

std::string_view kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kString:
      return "a string";
    case Value::Kind::kBool:
      return "a boolean";
    case Value::Kind::kNumber:
      return "a number";
  }
  return "a value";
}

// The rule being read, with the lines its keys came from (for messages).
struct PendingRule {
  Rule rule;
  int header_line = 0;
  int name_line = 0;
  int action_line = 0;
  int signing_id_line = 0;
  int platform_line = 0;
  std::map<std::string, int, std::less<>> key_lines;
};

class Parser {
 public:
  Parser(std::string_view text, std::string_view file, RuleError* error)
      : text_(text), file_(file), error_(error) {}

  std::optional<RuleSet> parse() {
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    std::string_view rest = text_;
    if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
    while (!rest.empty()) {
      ++line_;
      const std::size_t newline = rest.find('\n');
      std::string_view line = rest.substr(0, newline);
      rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!parse_line(line)) return std::nullopt;
    }
    if (!finish_rule()) return std::nullopt;
    return std::move(result_);
  }

 private:
  enum class Section : uint8_t { kNone, kPolicy, kRule };

  bool fail(int line, std::string message) {
    if (error_ != nullptr) *error_ = RuleError{std::string(file_), line, std::move(message)};
    return false;
  }
  bool fail(std::string message) { return fail(line_, std::move(message)); }

  bool parse_line(std::string_view raw) {
    const std::string_view line = trim_left(raw);
    if (line.empty() || line.front() == '#') return true;
    if (line.front() == '[') return parse_header(line);
    return parse_pair(line);
  }

  bool parse_header(std::string_view line) {
    const bool array = line.substr(0, 2) == "[[";
    const std::string_view close = array ? "]]" : "]";
    const std::size_t open_size = array ? 2 : 1;
    const std::size_t end = line.find(close, open_size);
    if (end == std::string_view::npos) {
      return fail(fmt::format("unterminated section header: expected '{}'", close));
    }
    const std::string_view name = trim(line.substr(open_size, end - open_size));
    if (!only_comment_left(line.substr(end + close.size()))) {
      return fail("unexpected text after the section header");
    }
    if (!finish_rule()) return false;
    if (array && name == "rule") {
      section_ = Section::kRule;
      pending_ = PendingRule{};
      pending_.header_line = line_;
      pending_.rule.line = line_;
      return true;
    }
    if (!array && name == "policy") {
      if (policy_line_ != 0) {
        return fail(
            fmt::format("duplicate [policy] section (the first is on line {})", policy_line_));
      }
      section_ = Section::kPolicy;
      policy_line_ = line_;
      return true;
    }
    if (!array && name == "rule") {
      return fail("unknown section [rule]: each rule starts with [[rule]] (double brackets)");
    }
    if (array && name == "policy") {
      return fail("unknown section [[policy]]: there is one policy table, written [policy]");
    }
    return fail(fmt::format("unknown section {}{}{}: expected [policy] or [[rule]]",
                            array ? "[[" : "[", name, close));
  }

  bool parse_pair(std::string_view line) {
    if (line.front() == '"' || line.front() == '\'') {
      return fail("quoted keys are not supported: write the key bare, e.g. signing_id = \"...\"");
    }
    std::size_t key_end = 0;
    while (key_end < line.size() && is_bare_key_char(line[key_end])) ++key_end;
    const std::string_view key = line.substr(0, key_end);
    if (key.empty()) {
      return fail(fmt::format("expected a key, a section header or a comment, got '{}'", line));
    }
    std::string_view rest = trim_left(line.substr(key_end));
    if (!rest.empty() && rest.front() == '.') return fail("dotted keys are not supported");
    if (rest.empty() || rest.front() != '=') {
      return fail(fmt::format("expected '=' after key '{}'", key));
    }
    rest = trim_left(rest.substr(1));
    Value value;
    if (!parse_value(key, rest, value)) return false;
    if (!only_comment_left(rest)) {
      return fail(fmt::format("unexpected text after the value of '{}': '{}'", key, trim(rest)));
    }
    switch (section_) {
      case Section::kNone:
        return fail(fmt::format(
            "key '{}' outside a section: start the table with [policy] or [[rule]]", key));
      case Section::kPolicy:
        return set_policy(key, value);
      case Section::kRule:
        return set_rule_key(key, value);
    }
    return false;
  }

  // Parses the value at the start of rest and advances rest past it.
  bool parse_value(std::string_view key, std::string_view& rest, Value& value) {
    if (rest.empty() || rest.front() == '#')
      return fail(fmt::format("missing value for '{}'", key));
    const char first = rest.front();
    if (first == '"') return parse_basic_string(rest, value);
    if (first == '\'') return parse_literal_string(rest, value);
    if (first == '[') return fail("arrays are not supported: write one rule per [[rule]] table");
    if (first == '{') return fail("inline tables are not supported");
    std::size_t end = 0;
    while (end < rest.size() && !is_space(rest[end]) && rest[end] != '#') ++end;
    const std::string_view word = rest.substr(0, end);
    rest.remove_prefix(end);
    if (word == "true" || word == "false") {
      value.kind = Value::Kind::kBool;
      value.boolean = word == "true";
      return true;
    }
    if ((word.front() >= '0' && word.front() <= '9') || word.front() == '+' ||
        word.front() == '-') {
      value.kind = Value::Kind::kNumber;
      value.text = std::string(word);
      return true;
    }
    return fail(fmt::format("bad value '{}' for '{}': strings are quoted, e.g. {} = \"{}\"", word,
                            key, key, word));
  }

  bool parse_basic_string(std::string_view& rest, Value& value) {
    if (rest.substr(0, 3) == "\"\"\"") return fail("multi-line strings are not supported");
    value.kind = Value::Kind::kString;
    std::size_t i = 1;
    while (i < rest.size()) {
      const char c = rest[i];
      if (c == '"') {
        rest.remove_prefix(i + 1);
        return true;
      }
      if (c != '\\') {
        value.text.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= rest.size()) break;
      const char escape = rest[i + 1];
      i += 2;
      switch (escape) {
        case '"':
          value.text.push_back('"');
          break;
        case '\\':
          value.text.push_back('\\');
          break;
        case 't':
          value.text.push_back('\t');
          break;
        case 'n':
          value.text.push_back('\n');
          break;
        case 'r':
          value.text.push_back('\r');
          break;
        case 'u': {
          uint32_t code_point = 0;
          for (int digit = 0; digit < 4; ++digit, ++i) {
            const int v = i < rest.size() ? hex_digit_value(rest[i]) : -1;
            if (v < 0) return fail("bad \\u escape: expected four hex digits");
            code_point = code_point * 16 + static_cast<uint32_t>(v);
          }
          if (code_point >= 0xD800 && code_point <= 0xDFFF) {
            return fail("bad \\u escape: surrogate code points are not characters");
          }
          append_utf8(value.text, code_point);
          break;
        }
        default:
          return fail(fmt::format(
              "unknown escape '\\{}' in string (known: \\\" \\\\ \\t \\n \\r \\uXXXX)", escape));
      }
    }
    return fail("unterminated string: expected a closing '\"' on the same line");
  }

  bool parse_literal_string(std::string_view& rest, Value& value) {
    if (rest.substr(0, 3) == "'''") return fail("multi-line strings are not supported");
    const std::size_t end = rest.find('\'', 1);
    if (end == std::string_view::npos) {
      return fail("unterminated string: expected a closing \"'\" on the same line");
    }
    value.kind = Value::Kind::kString;
    value.text = std::string(rest.substr(1, end - 1));
    rest.remove_prefix(end + 1);
    return true;
  }

  bool expect(std::string_view key, const Value& value, Value::Kind kind) {
    if (value.kind == kind) return true;
    return fail(fmt::format("bad value type for '{}': expected {}, got {}", key, kind_name(kind),
                            kind_name(value.kind)));
  }

  bool expect_nonempty_string(std::string_view key, const Value& value) {
    if (!expect(key, value, Value::Kind::kString)) return false;
    if (value.text.empty()) return fail(fmt::format("'{}' must not be empty", key));
    return true;
  }

  // A key may appear once per table.
  bool first_time(std::map<std::string, int, std::less<>>& seen, std::string_view key) {
    if (auto it = seen.find(key); it != seen.end()) {
      return fail(fmt::format("duplicate key '{}' (first set on line {})", key, it->second));
    }
    seen.emplace(std::string(key), line_);
    return true;
  }

  bool set_policy(std::string_view key, const Value& value) {
    FilterPolicy& policy = result_.policy;
    FilterPolicy::Entry* entry = nullptr;
    if (key == "unverified") entry = &policy.unverified;
    if (key == "gone") entry = &policy.gone;
    if (key == "unknown") entry = &policy.unknown;
    if (entry == nullptr && key != "no_rule") {
      return fail(fmt::format("unknown key '{}' in [policy]; known keys: {}", key, kPolicyKeys));
    }
    if (!first_time(policy_keys_, key)) return false;
    if (!expect(key, value, Value::Kind::kString)) return false;
    if (entry == nullptr) {
      const std::optional<Decision> decision = parse_decision(value.text);
      if (!decision) {
        return fail(fmt::format(
            "bad value '{}' for no_rule: expected \"allow\", \"drop\" or \"ask\"", value.text));
      }
      policy.no_rule = *decision;
      return true;
    }
    if (value.text == "rules") {
      *entry = {FilterPolicy::Mode::kApplyRules, Decision::kDrop};
      return true;
    }
    const std::optional<Decision> decision = parse_decision(value.text);
    if (!decision) {
      return fail(
          fmt::format("bad value '{}' for {}: expected \"allow\", \"drop\", \"ask\" or \"rules\"",
                      value.text, key));
    }
    *entry = {FilterPolicy::Mode::kDecide, *decision};
    return true;
  }

  bool set_rule_key(std::string_view key, const Value& value) {
    static constexpr std::array<std::string_view, 7> kKnown = {
        "name", "action", "cdhash", "signing_id", "team_id", "platform", "path"};
    if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
      return fail(fmt::format("unknown key '{}' in [[rule]]; known keys: {}", key, kRuleKeys));
    }
    if (!first_time(pending_.key_lines, key)) return false;
    Rule& rule = pending_.rule;
    if (key == "name") {
      if (!expect_nonempty_string(key, value)) return false;
      if (auto it = rule_names_.find(value.text); it != rule_names_.end()) {
        return fail(fmt::format("duplicate rule name '{}' (first used on line {})", value.text,
                                it->second));
      }
      rule_names_.emplace(value.text, line_);
      rule.name = value.text;
      pending_.name_line = line_;
      return true;
    }
    if (key == "action") {
      if (!expect(key, value, Value::Kind::kString)) return false;
      const std::optional<Decision> action = parse_decision(value.text);
      if (!action) {
        return fail(
            fmt::format("bad action '{}': expected \"allow\", \"drop\" or \"ask\"", value.text));
      }
      rule.action = *action;
      pending_.action_line = line_;
      return true;
    }
    if (key == "cdhash") return set_cdhash(value);
    if (key == "platform") {
      if (!expect(key, value, Value::Kind::kBool)) return false;
      rule.platform = value.boolean;
      pending_.platform_line = line_;
      return true;
    }
    if (!expect_nonempty_string(key, value)) return false;
    if (key == "signing_id") {
      rule.signing_id = value.text;
      pending_.signing_id_line = line_;
    } else if (key == "team_id") {
      if (value.text.find_first_of(" \t") != std::string::npos) {
        return fail(fmt::format("team_id '{}' contains whitespace", value.text));
      }
      rule.team_id = value.text;
    } else {  // path
      if (value.text.front() != '/') {
        return fail(
            fmt::format("path '{}' is not absolute: a rule names one file, from '/'", value.text));
      }
      rule.path = value.text;
    }
    return true;
  }

  bool set_cdhash(const Value& value) {
    if (!expect("cdhash", value, Value::Kind::kString)) return false;
    const std::string& hex = value.text;
    Cdhash cdhash{};
    if (hex.size() != cdhash.size() * 2) {
      return fail(
          fmt::format("cdhash must be 40 hex digits (20 bytes), got {} characters", hex.size()));
    }
    for (std::size_t i = 0; i < cdhash.size(); ++i) {
      const int high = hex_digit_value(hex[2 * i]);
      const int low = hex_digit_value(hex[2 * i + 1]);
      if (high < 0 || low < 0) {
        return fail(fmt::format("cdhash must be 40 hex digits: '{}' is not a hex digit",
                                high < 0 ? hex[2 * i] : hex[2 * i + 1]));
      }
      cdhash[i] = static_cast<uint8_t>(high * 16 + low);
    }
    pending_.rule.cdhash = cdhash;
    return true;
  }

  // Whole-rule checks, then the rule joins the set. Called at every header and at the end.
  bool finish_rule() {
    if (section_ != Section::kRule) return true;
    section_ = Section::kNone;
    Rule& rule = pending_.rule;
    if (rule.name.empty()) {
      return fail(pending_.header_line, "rule has no name: add name = \"...\" (verdicts cite it)");
    }
    if (pending_.action_line == 0) {
      return fail(
          pending_.header_line,
          fmt::format("rule '{}' has no action: add action = \"allow\", \"drop\" or \"ask\"",
                      rule.name));
    }
    const bool has_key =
        rule.cdhash || !rule.signing_id.empty() || !rule.team_id.empty() || !rule.path.empty();
    if (!has_key) {
      return fail(pending_.header_line,
                  fmt::format("rule '{}' names no code: set at least one of cdhash, signing_id, "
                              "team_id, path",
                              rule.name));
    }
    if (rule.platform && rule.signing_id.empty()) {
      return fail(pending_.platform_line,
                  fmt::format("rule '{}': platform = true only narrows a signing_id; add "
                              "signing_id = \"com.apple....\"",
                              rule.name));
    }
    if (rule.platform && !rule.team_id.empty()) {
      return fail(pending_.platform_line,
                  fmt::format("rule '{}': platform binaries have no team id; use either team_id or "
                              "platform = true, not both",
                              rule.name));
    }
    if (!rule.signing_id.empty() && rule.team_id.empty() && !rule.platform) {
      return fail(
          pending_.signing_id_line,
          fmt::format("rule '{}': signing_id '{}' alone is ambiguous (anyone can sign code "
                      "with any identifier); add team_id = \"...\" for Developer ID and App "
                      "Store code, or platform = true for Apple platform binaries",
                      rule.name, rule.signing_id));
    }
    if (rule.cdhash) {
      rule.tier = RuleTier::kCdhash;
    } else if (!rule.signing_id.empty()) {
      rule.tier = RuleTier::kSigningId;
    } else if (!rule.team_id.empty()) {
      rule.tier = RuleTier::kTeamId;
    } else {
      rule.tier = RuleTier::kPath;
    }
    result_.rules.push_back(std::move(rule));
    return true;
  }

  std::string_view text_;
  std::string_view file_;
  RuleError* error_;
  int line_ = 0;
  Section section_ = Section::kNone;
  int policy_line_ = 0;
  std::map<std::string, int, std::less<>> policy_keys_;
  std::map<std::string, int, std::less<>> rule_names_;  // name -> line, for duplicates.
  PendingRule pending_;
  RuleSet result_;
};

}  // namespace

std::string RuleError::describe() const {
  if (line > 0) return fmt::format("{}:{}: {}", file, line, message);
  return fmt::format("{}: {}", file, message);
}

std::optional<RuleSet> parse_rules(std::string_view text, std::string_view file, RuleError* error) {
  return Parser(text, file, error).parse();
}

// The one place the core reads a file: the contract puts rule loading next to parsing, and a
// rule file is configuration, not an observation of the world.
std::optional<RuleSet> load_rules(const std::string& path, RuleError* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error != nullptr) {
      *error = RuleError{path, 0, fmt::format("cannot open rule file: {}", std::strerror(errno))};
    }
    return std::nullopt;
  }
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kRuleFileBytesMax) {
      if (error != nullptr) {
        *error =
            RuleError{path, 0, fmt::format("rule file is larger than {} bytes", kRuleFileBytesMax)};
      }
      return std::nullopt;
    }
  }
  if (in.bad()) {
    if (error != nullptr) *error = RuleError{path, 0, "read error"};
    return std::nullopt;
  }
  return parse_rules(text, path, error);
}

namespace {

// A basic TOML string with the escapes the parser understands.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
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
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string policy_value(const FilterPolicy::Entry& e) {
  return e.mode == FilterPolicy::Mode::kApplyRules ? std::string("rules")
                                                   : std::string(name_of(e.decision));
}

}  // namespace

RuleSet record_only_rules() {
  RuleSet rules;
  const FilterPolicy::Entry allow{FilterPolicy::Mode::kDecide, Decision::kAllow};
  rules.policy.unverified = allow;
  rules.policy.gone = allow;
  rules.policy.unknown = allow;
  rules.policy.no_rule = Decision::kAllow;
  return rules;
}

std::string format_rules(const RuleSet& set) {
  std::string out = "[policy]\n";
  out += fmt::format("unverified = \"{}\"\ngone = \"{}\"\nunknown = \"{}\"\nno_rule = \"{}\"\n",
                     policy_value(set.policy.unverified), policy_value(set.policy.gone),
                     policy_value(set.policy.unknown), name_of(set.policy.no_rule));
  for (const Rule& r : set.rules) {
    out += fmt::format("\n[[rule]]  # {} tier\nname = {}\naction = \"{}\"\n", name_of(r.tier),
                       toml_string(r.name), name_of(r.action));
    if (r.cdhash) {
      out += "cdhash = \"";
      for (uint8_t b : *r.cdhash) out += fmt::format("{:02x}", b);
      out += "\"\n";
    }
    if (!r.signing_id.empty()) out += fmt::format("signing_id = {}\n", toml_string(r.signing_id));
    if (!r.team_id.empty()) out += fmt::format("team_id = {}\n", toml_string(r.team_id));
    if (r.platform) out += "platform = true\n";
    if (!r.path.empty()) out += fmt::format("path = {}\n", toml_string(r.path));
  }
  return out;
}

}  // namespace flowid
