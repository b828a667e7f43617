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
  std::string line = fmt::format("file {} {}", q(p.path), name_of(p.kind));
  const std::string_view signing_id =
      signing_id_override.empty() ? p.signing_id : signing_id_override;
  if (!signing_id.empty()) line += fmt::format(" signing_id={}", signing_id);
  if (!p.team_id.empty()) line += fmt::format(" team_id={}", p.team_id);
  return line + "\n";
}

// A rule naming a program by identity (signing id with its team, or platform), or "" when the
// program has no identity to name (unsigned, ad-hoc).
std::string identity_rule(std::string_view name, std::string_view action, const fuzz::Program& p,
                          std::string_view signing_id_override = {}) {
  const std::string_view signing_id =
      signing_id_override.empty() ? p.signing_id : signing_id_override;
  if (signing_id.empty() || p.kind == SignatureKind::kAdHoc || p.kind == SignatureKind::kUnsigned)
    return {};
  if (p.kind == SignatureKind::kPlatform)
    return fmt::format("rule {} {} signing_id={} platform=true\n", name, action, signing_id);
  return fmt::format("rule {} {} signing_id={} team_id={}\n", name, action, signing_id, p.team_id);
}

std::string path_rule(std::string_view name, std::string_view action, const fuzz::Program& p) {
  return fmt::format("rule {} {} path={}\n", name, action, q(p.path));
}

enum class Rules : uint8_t { kAllowlist, kDenylist };

// Where a flow stands when it is opened: the situations of the fault catalogue that shape a flow
// (F3, F6, F7, F10) and the ordinary ones, each as small as it can be.
struct Situation {
  std::string name;
  std::string description;
  int program = fuzz::kEvil;        // the flow's program
  bool sandboxed = false;           // F3: the filter is sandboxed (token lookups of daemons: EPERM)
  int app = -1;                     // F6: the app a helper (the program) works for
  std::string flow_options;         // F7: token shapes
  int flows = 1;                    // lookups of the same process (the second meets caches)
  bool second_process = false;      // a second process of the same program opens the second flow
  std::string signing_id_override;  // F10: an identifier the code under test names, borrowed
};

struct World {
  Situation situation;
  Rules rules = Rules::kAllowlist;
};

std::string text_of(const World& world) {
  const Situation& w = world.situation;
  const fuzz::Program& p = program(w.program);
  const bool allowlist = world.rules == Rules::kAllowlist;
  std::string text =
      fmt::format("# {} {}\nscenario w-{}-{}\n", w.description,
                  allowlist ? "Only trusted programs may connect." : "The user blocked it.", w.name,
                  allowlist ? "allowlist" : "denylist");
  text += fmt::format("world pid-policy=reuse-last caller={},root\n",
                      w.sandboxed ? "sandboxed" : "unsandboxed");
  if (allowlist) {
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
    text += identity_rule("deny", "drop", denied,
                          w.app >= 0 ? std::string_view{} : w.signing_id_override);
    text += path_rule("deny-path", "drop", denied);
  }
  // The programs of the situation (the explorer adds the newcomer programs it lacks).
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
  const std::string uid =
      p.path.starts_with("/usr/libexec/") || w.program == fuzz::kSimTrustd ? " uid=0" : "";
  const std::string responsible = w.app >= 0 ? " responsible=app" : "";
  if (w.app >= 0) text += fmt::format("spawn app {}\n", q(program(w.app).path));
  text += fmt::format("spawn p1 {}{}{}\n", q(p.path), responsible, uid);
  for (int f = 1; f <= w.flows; ++f) {
    std::string owner = "p1";
    if (f > 1 && w.second_process) {
      owner = fmt::format("p{}", f);
      text += fmt::format("spawn {} {}{}{}\n", owner, q(p.path), responsible, uid);
    }
    text += fmt::format("flow f{} {}{}{} host=example.com\n", f, owner,
                        w.app >= 0 ? " app=app" : "", w.flow_options);
    text += fmt::format("resolve f{}\n", f);
  }
  return text;
}

std::vector<Situation> situations(const std::vector<std::string>& borrowed) {
  using fuzz::kEvil;
  using fuzz::kGood;
  std::vector<Situation> out;
  auto add = [&](std::string name, std::string description, int program) -> Situation& {
    Situation s;
    s.name = std::move(name);
    s.description = std::move(description);
    s.program = program;
    out.push_back(std::move(s));
    return out.back();
  };
  // Ordinary programs of each class.
  add("untrusted", "An untrusted download opens a flow.", kEvil);
  add("trusted", "A trusted app opens a flow.", kGood);
  add("platform", "A platform tool opens a flow.", fuzz::kCurl);
  add("adhoc", "Ad-hoc signed code opens a flow.", fuzz::kAdHoc);
  // What a resolver remembers from one lookup meets the next: the same process, or another
  // process of the same program.
  add("trusted-twice", "A trusted app opens two flows.", kGood).flows = 2;
  add("untrusted-twice", "An untrusted download opens two flows.", kEvil).flows = 2;
  Situation& two =
      add("trusted-two-processes", "Two processes of a trusted app open a flow each.", kGood);
  two.flows = 2;
  two.second_process = true;
  // F3: a sandboxed filter asks about a platform daemon (token lookups answer EPERM).
  add("daemon-sandboxed", "A sandboxed filter sees a flow of a platform daemon.", fuzz::kTrustd)
      .sandboxed = true;
  // F6: a helper opens the socket for an app.
  add("delegated-untrusted", "A helper opens a flow for an untrusted app.", fuzz::kNsurlsessiond)
      .app = kEvil;
  add("delegated-trusted", "A helper opens a flow for a trusted app.", fuzz::kNsurlsessiond).app =
      kGood;
  // F7: absent and malformed tokens.
  add("token-absent", "A flow of an untrusted download arrives without its process token.", kEvil)
      .flow_options = " process-token=absent";
  add("tokens-malformed", "A flow of an untrusted download arrives with malformed tokens.", kEvil)
      .flow_options = " app-token=malformed process-token=malformed";
  // F10: same name, other code.
  add("sim-daemon", "The simulator's copy of a platform daemon opens a flow.", fuzz::kSimTrustd);
  add("impostor-apple", "Ad-hoc code that borrows an Apple identifier opens a flow.",
      fuzz::kImpostorApple);
  add("impostor-team", "Another team's build signed with a trusted app's identifier opens a flow.",
      fuzz::kImpostorTeam);
  for (std::size_t i = 0; i < borrowed.size(); ++i) {
    add(fmt::format("impostor-borrowed-{}", i + 1),
        fmt::format("Another team's build signed as {} (an identifier the code under test names) "
                    "opens a flow.",
                    borrowed[i]),
        fuzz::kImpostorBorrowed)
        .signing_id_override = borrowed[i];
  }
  return out;
}

constexpr std::string_view kToolRequirement =
    "anchor apple generic and certificate leaf[subject.OU] = \\\"TOOLTEAM01\\\"";

std::string launcher_world(std::string_view name, std::string_view description, int launches) {
  const fuzz::Program& tool = program(fuzz::kTool);
  std::string text = fmt::format("# {}\nscenario {}\n", description, name);
  text += file_line(tool);
  for (int i = 0; i < launches; ++i)
    text += fmt::format("launch {} requirement=\"{}\"\n", tool.path, kToolRequirement);
  return text;
}

}  // namespace

std::vector<scenario::Scenario> small_worlds(bool launchers,
                                             const std::vector<std::string>& borrowed_signing_ids) {
  std::vector<std::string> texts;
  if (launchers) {
    texts.push_back(launcher_world(
        "w-launch", "A launcher starts a signed tool that must satisfy its team's requirement.",
        1));
    texts.push_back(
        launcher_world("w-launch-twice", "A launcher starts the same signed tool twice.", 2));
  } else {
    for (const Situation& situation : situations(borrowed_signing_ids)) {
      texts.push_back(text_of(World{situation, Rules::kAllowlist}));
      texts.push_back(text_of(World{situation, Rules::kDenylist}));
    }
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
