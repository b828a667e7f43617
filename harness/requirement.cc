#include "harness/requirement.h"

#include <fmt/format.h>

namespace flowid {

std::string RequirementError::describe(std::string_view text) const {
  return fmt::format("requirement '{}': at byte {}: {}", text, offset, message);
}

namespace {

enum class TokenKind : uint8_t {
  kWord,
  kString,
  kHex,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kEquals,
  kBang,
  kAndAnd,
  kOrOr,
  kEnd
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // word / string contents / hex digits.
  std::size_t offset = 0;
};

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// Recursive descent over a token list. Depth is bounded by kNestingMax so that hostile text (a
// requirement read from a trace) cannot exhaust the stack.
class RequirementParser final {
 public:
  static constexpr int kNestingMax = 64;

  explicit RequirementParser(std::string_view text) : text_(text) {}

  RequirementParseResult run() {
    RequirementParseResult result;
    if (!tokenize()) {
      result.error = error_;
      return result;
    }
    req_.text_ = std::string(text_);
    int32_t root = parse_or(0);
    if (root >= 0 && peek().kind != TokenKind::kEnd) {
      fail(peek().offset, fmt::format("unexpected '{}' after a complete requirement", peek().text));
      root = -1;
    }
    if (root < 0) {
      result.error = error_;
      return result;
    }
    req_.root_ = root;
    result.requirement = std::move(req_);
    return result;
  }

 private:
  bool tokenize() {
    std::size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
        continue;
      }
      Token t;
      t.offset = i;
      if (c == '(' || c == ')' || c == '[' || c == ']' || c == '=' || c == '!') {
        t.kind = c == '('   ? TokenKind::kLParen
                 : c == ')' ? TokenKind::kRParen
                 : c == '[' ? TokenKind::kLBracket
                 : c == ']' ? TokenKind::kRBracket
                 : c == '=' ? TokenKind::kEquals
                            : TokenKind::kBang;
        t.text = text_.substr(i, 1);
        ++i;
      } else if ((c == '&' || c == '|') && i + 1 < text_.size() && text_[i + 1] == c) {
        t.kind = c == '&' ? TokenKind::kAndAnd : TokenKind::kOrOr;
        t.text = text_.substr(i, 2);
        i += 2;
      } else if (c == '"' || (c == 'H' && i + 1 < text_.size() && text_[i + 1] == '"')) {
        bool hex = c == 'H';
        std::size_t start = i + (hex ? 2 : 1);
        std::size_t end = text_.find('"', start);
        if (end == std::string_view::npos) return fail(i, "unterminated string");
        t.kind = hex ? TokenKind::kHex : TokenKind::kString;
        t.text = text_.substr(start, end - start);
        i = end + 1;
      } else if (is_word_char(c)) {
        std::size_t start = i;
        while (i < text_.size() && is_word_char(text_[i])) ++i;
        t.kind = TokenKind::kWord;
        t.text = text_.substr(start, i - start);
      } else {
        return fail(i, fmt::format("unexpected character '{}'", c));
      }
      tokens_.push_back(t);
    }
    Token end;
    end.offset = text_.size();
    end.text = "end of text";
    tokens_.push_back(end);
    return true;
  }

  bool fail(std::size_t offset, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_.offset = offset;
      error_.message = std::move(message);
    }
    return false;
  }

  const Token& peek() const { return tokens_[pos_]; }
  const Token& take() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool is_word(const Token& t, std::string_view w) const {
    return t.kind == TokenKind::kWord && t.text == w;
  }

  int32_t add(Requirement::Node node) {
    req_.nodes_.push_back(std::move(node));
    return static_cast<int32_t>(req_.nodes_.size() - 1);
  }
  int32_t binary(Requirement::NodeKind kind, int32_t left, int32_t right) {
    Requirement::Node n;
    n.kind = kind;
    n.left = left;
    n.right = right;
    return add(std::move(n));
  }

  int32_t parse_or(int depth) {
    int32_t left = parse_and(depth);
    while (left >= 0 && (is_word(peek(), "or") || peek().kind == TokenKind::kOrOr)) {
      take();
      int32_t right = parse_and(depth);
      if (right < 0) return -1;
      left = binary(Requirement::NodeKind::kOr, left, right);
    }
    return left;
  }

  int32_t parse_and(int depth) {
    int32_t left = parse_unary(depth);
    while (left >= 0 && (is_word(peek(), "and") || peek().kind == TokenKind::kAndAnd)) {
      take();
      int32_t right = parse_unary(depth);
      if (right < 0) return -1;
      left = binary(Requirement::NodeKind::kAnd, left, right);
    }
    return left;
  }

  int32_t parse_unary(int depth) {
    if (depth >= kNestingMax) {
      fail(peek().offset, fmt::format("nested deeper than {}", kNestingMax));
      return -1;
    }
    if (peek().kind == TokenKind::kBang || is_word(peek(), "not")) {
      take();
      int32_t inner = parse_unary(depth + 1);
      if (inner < 0) return -1;
      return binary(Requirement::NodeKind::kNot, inner, -1);
    }
    if (peek().kind == TokenKind::kLParen) {
      take();
      int32_t inner = parse_or(depth + 1);
      if (inner < 0) return -1;
      if (peek().kind != TokenKind::kRParen) {
        fail(peek().offset, fmt::format("expected ')' but found '{}'", peek().text));
        return -1;
      }
      take();
      return inner;
    }
    return parse_clause();
  }

  // A value after identifier / certificate: a quoted string or a bare word.
  bool take_value(std::string* out) {
    const Token& t = peek();
    if (t.kind != TokenKind::kString && t.kind != TokenKind::kWord) {
      return fail(t.offset, fmt::format("expected a quoted string but found '{}'", t.text));
    }
    *out = std::string(take().text);
    return true;
  }

  bool expect(TokenKind kind, std::string_view what) {
    if (peek().kind != kind) {
      return fail(peek().offset, fmt::format("expected {} but found '{}'", what, peek().text));
    }
    take();
    return true;
  }

  int32_t parse_clause() {
    const Token& t = peek();
    Requirement::Node n;
    if (is_word(t, "anchor")) {
      take();
      if (!is_word(peek(), "apple")) {
        fail(peek().offset,
             fmt::format("expected 'apple' after 'anchor' but found '{}'", peek().text));
        return -1;
      }
      take();
      n.kind = Requirement::NodeKind::kAnchorApple;
      if (is_word(peek(), "generic")) {
        take();
        n.kind = Requirement::NodeKind::kAnchorAppleGeneric;
      }
      return add(std::move(n));
    }
    if (is_word(t, "identifier")) {
      take();
      if (peek().kind == TokenKind::kEquals) take();
      n.kind = Requirement::NodeKind::kIdentifier;
      if (!take_value(&n.value)) return -1;
      return add(std::move(n));
    }
    if (is_word(t, "certificate")) {
      take();
      if (!is_word(peek(), "leaf")) {
        fail(peek().offset,
             fmt::format("only 'certificate leaf' is supported, found '{}'", peek().text));
        return -1;
      }
      take();
      if (!expect(TokenKind::kLBracket, "'['")) return -1;
      if (!is_word(peek(), "subject.OU")) {
        fail(peek().offset,
             fmt::format("only the field subject.OU is supported, found '{}'", peek().text));
        return -1;
      }
      take();
      if (!expect(TokenKind::kRBracket, "']'")) return -1;
      if (!expect(TokenKind::kEquals, "'='")) return -1;
      n.kind = Requirement::NodeKind::kTeamId;
      if (!take_value(&n.value)) return -1;
      if (n.value.empty()) {
        fail(t.offset, "empty team id");
        return -1;
      }
      return add(std::move(n));
    }
    if (is_word(t, "cdhash")) {
      take();
      const Token& h = peek();
      if (h.kind != TokenKind::kHex) {
        fail(h.offset, fmt::format("expected H\"<40 hex digits>\" but found '{}'", h.text));
        return -1;
      }
      if (h.text.size() != n.cdhash.size() * 2) {
        fail(h.offset, fmt::format("a cdhash has 40 hex digits, found {}", h.text.size()));
        return -1;
      }
      for (std::size_t i = 0; i < n.cdhash.size(); ++i) {
        int hi = hex_value(h.text[2 * i]);
        int lo = hex_value(h.text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
          fail(h.offset, "not a hex digit in cdhash");
          return -1;
        }
        n.cdhash[i] = static_cast<uint8_t>(hi * 16 + lo);
      }
      take();
      n.kind = Requirement::NodeKind::kCdhash;
      return add(std::move(n));
    }
    if (is_word(t, "always") || is_word(t, "never")) {
      n.kind = t.text == "always" ? Requirement::NodeKind::kAlways : Requirement::NodeKind::kNever;
      take();
      return add(std::move(n));
    }
    if (t.kind == TokenKind::kEnd) {
      fail(t.offset, "expected a requirement clause but the text ended");
    } else {
      fail(t.offset, fmt::format("unknown requirement clause '{}'", t.text));
    }
    return -1;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  Requirement req_;
  bool failed_ = false;
  RequirementError error_;
};

RequirementParseResult Requirement::parse(std::string_view text) {
  return RequirementParser(text).run();
}

bool Requirement::eval(int32_t node, const CodeIdentity& identity) const {
  const Node& n = nodes_[static_cast<std::size_t>(node)];
  switch (n.kind) {
    case NodeKind::kAnd:
      return eval(n.left, identity) && eval(n.right, identity);
    case NodeKind::kOr:
      return eval(n.left, identity) || eval(n.right, identity);
    case NodeKind::kNot:
      return !eval(n.left, identity);
    case NodeKind::kAnchorApple:
      return identity.signature == SignatureKind::kPlatform;
    case NodeKind::kAnchorAppleGeneric:
      return identity.signature == SignatureKind::kPlatform ||
             identity.signature == SignatureKind::kDeveloperId ||
             identity.signature == SignatureKind::kAppStore;
    case NodeKind::kIdentifier:
      return identity.signature != SignatureKind::kUnsigned && identity.signing_id == n.value;
    case NodeKind::kTeamId:
      // Only certificate-signed code has a leaf certificate; ad-hoc code has none.
      return (identity.signature == SignatureKind::kDeveloperId ||
              identity.signature == SignatureKind::kAppStore) &&
             identity.team_id == n.value;
    case NodeKind::kCdhash:
      return identity.cdhash.has_value() && *identity.cdhash == n.cdhash;
    case NodeKind::kAlways:
      return true;
    case NodeKind::kNever:
      return false;
  }
  return false;
}

bool Requirement::satisfied_by(const CodeIdentity& identity) const {
  if (identity.signature == SignatureKind::kUnsigned || root_ < 0) return false;
  return eval(root_, identity);
}

LookupOutcome Requirement::check(const CodeIdentity& identity) const {
  if (identity.signature == SignatureKind::kUnsigned) {
    return {OutcomeDomain::kOsStatus, codes::kSecCsUnsigned};
  }
  if (!satisfied_by(identity)) return {OutcomeDomain::kOsStatus, codes::kSecCsReqFailed};
  return {};
}

std::string Requirement::describe(int32_t node) const {
  const Node& n = nodes_[static_cast<std::size_t>(node)];
  switch (n.kind) {
    case NodeKind::kAnd:
      return fmt::format("({} and {})", describe(n.left), describe(n.right));
    case NodeKind::kOr:
      return fmt::format("({} or {})", describe(n.left), describe(n.right));
    case NodeKind::kNot:
      return fmt::format("!{}", describe(n.left));
    case NodeKind::kAnchorApple:
      return "anchor apple";
    case NodeKind::kAnchorAppleGeneric:
      return "anchor apple generic";
    case NodeKind::kIdentifier:
      return fmt::format("identifier \"{}\"", n.value);
    case NodeKind::kTeamId:
      return fmt::format("certificate leaf[subject.OU] = \"{}\"", n.value);
    case NodeKind::kCdhash: {
      std::string hex;
      for (uint8_t b : n.cdhash) hex += fmt::format("{:02x}", b);
      return fmt::format("cdhash H\"{}\"", hex);
    }
    case NodeKind::kAlways:
      return "always";
    case NodeKind::kNever:
      return "never";
  }
  return "?";
}

std::string Requirement::describe() const { return root_ < 0 ? "" : describe(root_); }

LookupOutcome check_requirement_text(std::string_view requirement_text,
                                     const CodeIdentity& identity) {
  if (identity.signature == SignatureKind::kUnsigned) {
    return {OutcomeDomain::kOsStatus, codes::kSecCsUnsigned};
  }
  bool blank = requirement_text.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) return {};
  auto parsed = Requirement::parse(requirement_text);
  if (!parsed.requirement) return {OutcomeDomain::kOsStatus, codes::kSecCsReqInvalid};
  return parsed.requirement->check(identity);
}

}  // namespace flowid
