// A small code requirement language, evaluated against a CodeIdentity.
//
// This models the part of Apple's code signing requirement language that launchers and resolvers
// use to pin code (seed 003's LaunchCodeRequirement, SecCodeCheckValidity). Grammar, with `and`
// binding tighter than `or`, and parentheses optional:
//
//   expr     := and_expr { ("or" | "||") and_expr }
//   and_expr := unary { ("and" | "&&") unary }
//   unary    := ("!" | "not") unary | "(" expr ")" | clause
//   clause   := "anchor" "apple"                       -- Apple's own (platform) code
//             | "anchor" "apple" "generic"             -- any Apple-issued chain: platform,
//                                                          Developer ID, App Store (not ad-hoc)
//             | "identifier" ["="] STRING-or-WORD      -- signing id equals
//             | "certificate" "leaf" "[" "subject.OU" "]" "=" STRING-or-WORD
//                                                       -- team id equals (non-empty)
//             | "cdhash" H"hex40"                        -- cdhash equals
//             | "always" | "never"
//
// Unsigned code satisfies no requirement: check() answers errSecCSUnsigned for it before the
// expression is looked at, as SecCodeCheckValidity does. Parse errors are values that name the
// byte offset in the text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model.h"

namespace flowid {

struct RequirementError {
  std::size_t offset = 0;  // byte offset in the requirement text.
  std::string message;
  // "requirement 'TEXT': at byte N: MESSAGE".
  std::string describe(std::string_view text) const;
};

struct RequirementParseResult;

class Requirement final {
 public:
  enum class NodeKind : uint8_t {
    kAnd,
    kOr,
    kNot,
    kAnchorApple,
    kAnchorAppleGeneric,
    kIdentifier,
    kTeamId,
    kCdhash,
    kAlways,
    kNever,
  };
  // One node of the expression tree; children are indices into nodes_ (-1 = none).
  struct Node {
    NodeKind kind = NodeKind::kNever;
    std::string value;  // kIdentifier, kTeamId.
    Cdhash cdhash{};    // kCdhash.
    int32_t left = -1;
    int32_t right = -1;
  };

  // Parses text. Exactly one of the result's two members is set.
  static RequirementParseResult parse(std::string_view text);

  // True when identity satisfies the expression (unsigned code never does).
  bool satisfied_by(const CodeIdentity& identity) const;
  // The SecCodeCheckValidity answer: ok, errSecCSUnsigned or errSecCSReqFailed (OSStatus).
  LookupOutcome check(const CodeIdentity& identity) const;

  // A canonical rendering (fully parenthesised where it matters), for messages.
  std::string describe() const;
  const std::string& text() const { return text_; }

 private:
  friend class RequirementParser;
  bool eval(int32_t node, const CodeIdentity& identity) const;
  std::string describe(int32_t node) const;

  std::string text_;
  std::vector<Node> nodes_;
  int32_t root_ = -1;
};

struct RequirementParseResult {
  std::optional<Requirement> requirement;
  std::optional<RequirementError> error;
};

// The SecCodeCheckValidity answer for `requirement_text` (empty = no requirement: any signed code
// passes) against identity; errSecCSReqInvalid when the text does not parse.
LookupOutcome check_requirement_text(std::string_view requirement_text,
                                     const CodeIdentity& identity);

}  // namespace flowid
