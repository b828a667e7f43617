// The bundled base worlds of flowid explore: the situations a flow can be in, each as small as it
// can be, under the two ways users write rules. Interferences are the explorer's job: a base holds
// no fault beyond its situation.
//
// Rule sets:
//   allowlist  unknown programs are dropped; trusted programs are allowed by identity and by path
//              (a flow wrongly attributed to one of them passes: BYPASSED);
//   denylist   everything passes except the flow's own program, denied by identity and by path (a
//              fail-open or a misattribution lets it escape: BYPASSED).
// Unverified, gone and unknown attributions are dropped under both: a correct strategy loses an
// answer (downgraded), never safety.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "harness/explore/explore.h"
#include "harness/fuzz/programs.h"

namespace flowid::explore {

namespace {

using fuzz::kPrograms;

const fuzz::Program& program(int index) { return kPrograms[static_cast<std::size_t>(index)]; }

// A path as a scenario token (quoted when it holds a space, as the simulator runtime's does).
std::string q(std::string_view path) {
  return path.find(' ') == std::string_view::npos ? std::string(path) : fmt::format("\"{}\"", path);
}

std::string file_line(const fuzz::Program& p, std::string_view signing_id_override = {}) {
  std::string line = fmt::format("file {} {}", q(p.path), p.kind);
  const std::string_view signing_id = signing_id_override.empty() ? p.signing_id : signing_id_override;
  if (!signing_id.empty()) line += fmt::format(" signing_id={}", signing_id);
  if (!p.team_id.empty()) line += fmt::format(" team_id={}", p.team_id);
  return line + "\n";
}

// A rule naming a program by identity (signing id with its team, or platform), or "" when the
// program has no identity to name (unsigned, ad-hoc).
std::string identity_rule(std::string_view name, std::string_view action, const fuzz::Program& p,
                          std::string_view signing_id_override = {}) {
  const std::string_view signing_id = signing_id_override.empty() ? p.signing_id : signing_id_override;
  if (signing_id.empty() || p.kind == "ad-hoc" || p.kind == "unsigned") return {};
  if (p.kind == "platform") return fmt::format("rule {} {} signing_id={} platform=true\n", name, action, signing_id);
  return fmt::format("rule {} {} signing_id={} team_id={}\n", name, action, signing_id, p.team_id);
}

std::string path_rule(std::string_view name, std::string_view action, const fuzz::Program& p) {
  return fmt::format("rule {} {} path={}\n", name, action, q(p.path));
}

enum class Rules : uint8_t { kAllowlist, kDenylist };

struct World {
  std::string name;
  std::string description;
  Rules rules = Rules::kAllowlist;
  bool sandboxed = false;
  int program = fuzz::kEvil;          // the flow's program
  std::string signing_id_override;    // a borrowed identifier for the impostor
  int app = -1;                       // F6: the app a helper works for (the helper is nsurlsessiond)
  std::string flow_options;           // token shapes
  int flows = 1;                      // lookups of the same process (the second meets caches)
};

std::string text_of(const World& w) {
  const fuzz::Program& p = program(w.program);
  std::string text = fmt::format("# {}\nscenario {}\n", w.description, w.name);
  text += fmt::format("world pid-policy=reuse-last caller={},root\n", w.sandboxed ? "sandboxed" : "unsandboxed");
  if (w.rules == Rules::kAllowlist) {
    text += "policy no_rule=drop unknown=drop gone=drop unverified=drop\n";
    for (int trusted : {fuzz::kGood, fuzz::kCurl, fuzz::kTrustd}) {
      const fuzz::Program& t = program(trusted);
      const std::string_view base = t.path.substr(t.path.rfind('/') + 1);
      text += identity_rule(fmt::format("allow-{}", base), "allow", t);
      text += path_rule(fmt::format("allow-{}-path", base), "allow", t);
    }
  } else {
    text += "policy no_rule=allow unknown=drop gone=drop unverified=drop\n";
    const fuzz::Program& denied = w.app >= 0 ? program(w.app) : p;
    text += identity_rule("deny", "drop", denied, w.app >= 0 ? std::string_view{} : w.signing_id_override);
    text += path_rule("deny-path", "drop", denied);
  }
  // The programs of the situation, then the newcomer programs (the explorer adds those it lacks).
  std::vector<int> installed;
  auto install = [&](int index, std::string_view signing_id = {}) {
    for (int i : installed) {
      if (program(i).path == program(index).path) return;
    }
    installed.push_back(index);
    text += file_line(program(index), signing_id);
  };
  install(w.program, w.signing_id_override);
  if (w.app >= 0) install(w.app);
  if (w.program == fuzz::kSimTrustd) install(fuzz::kTrustd);
  const std::string uid = p.path.starts_with("/usr/libexec/") || w.program == fuzz::kSimTrustd ? " uid=0" : "";
  if (w.app >= 0) {
    text += fmt::format("spawn app {}\n", q(program(w.app).path));
    text += fmt::format("spawn p1 {} responsible=app{}\n", q(p.path), uid);
  } else {
    text += fmt::format("spawn p1 {}{}\n", q(p.path), uid);
  }
  for (int f = 1; f <= w.flows; ++f) {
    text += fmt::format("flow f{} p1{}{} host=example.com\n", f, w.app >= 0 ? " app=app" : "", w.flow_options);
    text += fmt::format("resolve f{}\n", f);
  }
  return text;
}

std::vector<World> resolver_worlds(const std::vector<std::string>& borrowed) {
  using fuzz::kAdHoc;
  using fuzz::kCurl;
  using fuzz::kEvil;
  using fuzz::kGood;
  std::vector<World> worlds;
  auto add = [&](World w) { worlds.push_back(std::move(w)); };
  // name, description, rules, sandboxed caller, program [, borrowed id, app, token options, flows]
  auto world = [](std::string name, std::string description, Rules rules, bool sandboxed, int program,
                  std::string signing_id_override = {}, int app = -1, std::string flow_options = {}, int flows = 1) {
    World w;
    w.name = std::move(name);
    w.description = std::move(description);
    w.rules = rules;
    w.sandboxed = sandboxed;
    w.program = program;
    w.signing_id_override = std::move(signing_id_override);
    w.app = app;
    w.flow_options = std::move(flow_options);
    w.flows = flows;
    return w;
  };
  // Ordinary programs of each class.
  add(world("w-untrusted", "An untrusted download opens a flow; only trusted programs may connect.", Rules::kAllowlist, false, kEvil));
  add(world("w-trusted-denied", "A trusted app the user has blocked opens a flow.", Rules::kDenylist, false, kGood));
  add(world("w-platform-denied", "A platform tool the user has blocked opens a flow.", Rules::kDenylist, false, kCurl));
  add(world("w-adhoc", "Ad-hoc signed code opens a flow; only trusted programs may connect.", Rules::kAllowlist, false, kAdHoc));
  // Two lookups of one process: what a resolver remembers from the first meets the second.
  add(world("w-trusted-twice", "A trusted app opens two flows; only trusted programs may connect.", Rules::kAllowlist, false, kGood, "", -1, "", 2));
  add(world("w-untrusted-twice", "An untrusted download opens two flows; only trusted programs may connect.", Rules::kAllowlist, false, kEvil, "", -1, "", 2));
  add(world("w-denied-twice", "A trusted app the user has blocked opens two flows.", Rules::kDenylist, false, kGood, "", -1, "", 2));
  // F3: a sandboxed filter asks about a platform daemon (token lookups answer EPERM).
  add(world("w-daemon-sandboxed", "A sandboxed filter sees a flow of a platform daemon the user has blocked.", Rules::kDenylist, true, fuzz::kTrustd));
  add(world("w-daemon-sandboxed-allowlist", "A sandboxed filter sees a flow of a platform daemon; only trusted programs may connect.", Rules::kAllowlist, true, fuzz::kNsurlsessiond));
  // F6: a helper opens the socket for an app.
  add(world("w-delegated-untrusted", "A helper opens a flow for an untrusted app; only trusted programs may connect.", Rules::kAllowlist, false, fuzz::kNsurlsessiond, "", kEvil));
  add(world("w-delegated-denied", "A helper opens a flow for an app the user has blocked.", Rules::kDenylist, false, fuzz::kNsurlsessiond, "", kGood));
  // F7: absent and malformed tokens.
  add(world("w-token-absent", "An untrusted flow arrives without its process token.", Rules::kAllowlist, false, kEvil, "", -1, " process-token=absent"));
  add(world("w-tokens-malformed", "An untrusted flow arrives with malformed tokens.", Rules::kAllowlist, false, kEvil, "", -1, " app-token=malformed process-token=malformed"));
  add(world("w-token-absent-denied", "A blocked app's flow arrives without its process token.", Rules::kDenylist, false, kGood, "", -1, " process-token=absent"));
  // F10: same name, other code.
  add(world("w-sim-daemon", "The simulator's copy of a daemon opens a flow; the genuine daemon is trusted.", Rules::kAllowlist, false, fuzz::kSimTrustd));
  add(world("w-impostor-apple", "Ad-hoc code that borrows an Apple identifier opens a flow.", Rules::kAllowlist, false, fuzz::kImpostorApple));
  add(world("w-impostor-team", "Another team's build with a trusted app's identifier opens a flow.", Rules::kAllowlist, false, fuzz::kImpostorTeam));
  for (std::size_t i = 0; i < borrowed.size(); ++i) {
    add(world(fmt::format("w-impostor-borrowed-{}", i + 1),
         fmt::format("Another team's build signed as {} (an identifier the code under test names) opens a flow; the user blocked its path.", borrowed[i]),
         Rules::kDenylist, false, fuzz::kImpostorBorrowed, borrowed[i]));
  }
  return worlds;
}

constexpr std::string_view kToolRequirement =
    "anchor apple generic and certificate leaf[subject.OU] = \\\"TOOLTEAM01\\\"";

std::string launcher_world(std::string_view name, std::string_view description, int launches) {
  const fuzz::Program& tool = program(fuzz::kTool);
  std::string text = fmt::format("# {}\nscenario {}\n", description, name);
  text += file_line(tool);
  for (int i = 0; i < launches; ++i) text += fmt::format("launch {} requirement=\"{}\"\n", tool.path, kToolRequirement);
  return text;
}

}  // namespace

std::vector<scenario::Scenario> small_worlds(bool launchers, const std::vector<std::string>& borrowed_signing_ids) {
  std::vector<std::string> texts;
  if (launchers) {
    texts.push_back(launcher_world("w-launch", "A launcher starts a signed tool that must satisfy its team's requirement.", 1));
    texts.push_back(launcher_world("w-launch-twice", "A launcher starts the same signed tool twice.", 2));
  } else {
    for (const World& w : resolver_worlds(borrowed_signing_ids)) texts.push_back(text_of(w));
  }
  std::vector<scenario::Scenario> out;
  for (const std::string& text : texts) {
    std::string error;
    auto parsed = scenario::parse_scenario(text, "<bundled world>", &error);
    if (!parsed) throw std::logic_error("bundled world does not parse: " + error + "\n" + text);
    parsed->file = fmt::format("<bundled world {}>", parsed->name);
    out.push_back(std::move(*parsed));
  }
  return out;
}

}  // namespace flowid::explore
