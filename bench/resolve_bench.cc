// Resolution benchmark (issue 3): simulated flows resolved per second per reference strategy, on
// one thread, so that fuzzing campaigns can be sized ("millions of cases").
//
// Two figures per strategy:
// - direct: resolver.resolve(flow, now, world) straight against the simulated World seam; the
//   raw cost of the strategy plus the world's answers.
// - checked: resolve_and_check(world, resolver, filter, flow): the same behind an ObservedSeam
//   that collects every lookup, then the filter's verdict and the oracle's I1-I4 checks; the
//   number the fuzzer and the matrix actually see.
//
// The world imitates a busy Mac: a few hundred executables (platform daemons, a quarter of them
// under /usr/libexec so that the sandboxed caller's token lookups answer EPERM and the fallbacks
// run; Developer ID and App Store apps, ad-hoc and unsigned tools) and a few thousand processes.
// Flows are opened in batches (a filter's queue) and resolved after the batch is opened, so some
// processes exit (as zombies or reaped), exec, or lose their pid to a new process (the
// reuse-last-freed pid policy hands a freed pid out at once) between a flow and its resolution.
// A few flows are delegated (F6) or carry an absent or malformed token (F7). Lifecycle events
// reach the resolver's observe(), as in a scenario run.
//
// Only the resolution of each batch is timed; opening flows and the churn around them are not
// (their rate is printed once, as world_open_flow_per_s). The world stays bounded: event logging
// is off, flow truth is cleared after every batch, zombies are reaped and pids recycle. Every
// strategy gets a fresh world from the same seed, so all of them resolve the same flows. Rates
// are per second of this thread's CPU time (see CpuClock), best of --passes.
//
// Usage: resolve_bench [--flows N] [--quick] [--passes N] [--batch N] [--executables N]
//                      [--processes N] [--strategy NAME] [--seed S]
// Output: a human table, then one JSON object per figure per line:
//   {"bench": "resolve_direct_token_recheck_flows_per_s", "value": V, "unit": "flows/s"}
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_figures.h"
#include "harness/builders.h"
#include "harness/filter.h"
#include "harness/oracle.h"
#include "harness/random.h"
#include "harness/resolver.h"
#include "harness/strategies/catalog.h"
#include "harness/world.h"

namespace flowid {
namespace {

struct Options {
  uint64_t flows = 1'000'000;
  int passes = 2;
  uint32_t batch_flows = 128;  // flows opened before the batch is resolved.
  uint32_t executables = 300;
  uint32_t processes = 3000;
  uint64_t seed = 0x7265736f6c7665ULL;
  std::string only_strategy;  // empty: every reference resolver.
};

// Rates are per second of this thread's CPU time, not wall time: the figures are about one core,
// and CPU time stays meaningful on a shared, oversubscribed build machine.
struct CpuClock {
  static double now() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};

using bench::Figure;

// "token+pid-fallback" -> "token_pid_fallback", for figure names.
std::string slug(std::string_view name) {
  std::string out;
  for (char c : name) out += (c == '+' || c == '-') ? '_' : c;
  return out;
}

// ---- the simulated population --------------------------------------------------------------

// Per-mille odds of what happens around one flow. The numbers aim at "something happens in a
// few percent of flows", enough to keep every fallback and gone path busy without turning the
// run into a fault scenario.
constexpr uint64_t kExitAfterFlowPerMille = 20;  // the flow's process exits before resolution.
constexpr uint64_t kZombieOfExitPerMille = 500;  // ... and stays a zombie until the next batch.
constexpr uint64_t kExecAfterFlowPerMille = 5;   // the flow's process execs another image (F4).
constexpr uint64_t kDelegatedPerMille = 50;      // the flow works for another app (F6).
constexpr uint64_t kAbsentProcessTokenPerMille = 10;  // an old system: no process token (F7).
constexpr uint64_t kMalformedTokenPerMille = 3;       // a process token of the wrong size (F7).
constexpr uint64_t kFlowSpacingNs = 10'000;           // virtual time between two flows.

class Population {
 public:
  Population(const Options& options, Resolver& resolver) : rng_(options.seed ^ 0x706f70ULL) {
    WorldConfig config;
    config.seed = options.seed;
    config.pid_policy = PidPolicy::kReuseLastFreed;
    config.log_events = false;
    world_ = std::make_unique<World>(config);
    world_->set_logging(false);
    // The resolver hears of lifecycle events as it would in production (opensnitch-model keeps a
    // pid cache that exits invalidate).
    world_->set_event_listener([&resolver](const Event& event) {
      switch (event.kind()) {
        case EventKind::kProcessSpawn:
        case EventKind::kProcessExec:
        case EventKind::kProcessExit:
          resolver.observe(event);
          break;
        default:
          break;
      }
    });
    install_executables(options.executables);
    for (uint32_t i = 0; i < options.processes; ++i) processes_.push_back(spawn_random());
    for (int i = 0; i < 120; ++i) {
      hosts_.push_back("api" + std::to_string(i) + ".service" + std::to_string(i % 17) +
                       ".example.com");
    }
  }

  World& world() { return *world_; }
  const std::vector<CodeIdentity>& images() const { return images_; }

  // Opens one flow into `out` (reusing its storage), then maybe lets its process exit or exec.
  void open_flow(Flow& out) {
    const std::size_t slot = rng_.below(processes_.size());
    const AuditToken process = processes_[slot];
    FlowOptions options;
    options.hostname = hosts_[rng_.chance(1, 3) ? rng_.below(hosts_.size()) : rng_.below(8)];
    options.remote_port = rng_.chance(1, 4) ? 80 : 443;
    options.udp = rng_.chance(1, 5);
    if (rng_.chance(kDelegatedPerMille, 1000)) {
      options.app = processes_[rng_.below(processes_.size())];
    }
    if (rng_.chance(kAbsentProcessTokenPerMille, 1000)) {
      options.process_token_shape = TokenShape::kAbsent;
    } else if (rng_.chance(kMalformedTokenPerMille, 1000)) {
      options.process_token_shape = TokenShape::kMalformed;
    }
    const WorldError error = world_->open_flow_into(process, options, out);
    if (error != WorldError::kNone) {
      std::fprintf(stderr, "resolve_bench: open_flow_into: %s\n",
                   std::string(name_of(error)).c_str());
      std::exit(1);
    }
    world_->advance(kFlowSpacingNs);

    if (rng_.chance(kExitAfterFlowPerMille, 1000)) {
      const bool zombie = rng_.chance(kZombieOfExitPerMille, 1000);
      check(world_->exit_process(process, 0, zombie ? ExitStage::kExited : ExitStage::kReaped),
            "exit_process");
      if (zombie) zombies_.push_back(process);
      // The population stays constant; under reuse-last-freed the newcomer takes the pid just
      // freed (F1) when the exit reaped it.
      processes_[slot] = spawn_random();
    } else if (rng_.chance(kExecAfterFlowPerMille, 1000)) {
      WorldResult<AuditToken> r = world_->exec_process(process, random_path());
      check(r.error, "exec_process");
      processes_[slot] = r.value;
    }
  }

  // Between batches: reap zombies (their pids come free) and forget flow truth.
  void end_batch() {
    for (const AuditToken& zombie : zombies_) check(world_->reap_process(zombie), "reap_process");
    zombies_.clear();
    world_->clear_flow_truth();
  }

 private:
  static void check(WorldError error, const char* what) {
    if (error == WorldError::kNone) return;
    std::fprintf(stderr, "resolve_bench: %s: %s\n", what, std::string(name_of(error)).c_str());
    std::exit(1);
  }

  void install_executables(uint32_t count) {
    static const char* const kPlatformDirs[] = {"/usr/libexec/", "/usr/sbin/",
                                                "/System/Library/CoreServices/", "/usr/bin/"};
    for (uint32_t i = 0; i < count; ++i) {
      const std::string n = std::to_string(i);
      CodeIdentity image;
      switch (i % 6) {
        case 0:
        case 1:
          // Half of the platform binaries live under /usr/libexec (EPERM to the sandboxed caller).
          image = build::platform_binary(
              std::string(kPlatformDirs[i % 6 == 0 ? 0 : 1 + (i / 6) % 3]) + "daemon" + n,
              "com.apple.daemon" + n);
          break;
        case 2:
        case 3:
          image = build::developer_id_app("/Applications/App" + n + ".app/Contents/MacOS/App" + n,
                                          "com.vendor" + std::to_string(i % 40) + ".app" + n,
                                          "TEAM" + std::to_string(100000 + i % 40));
          break;
        case 4:
          image = build::app_store_app("/Applications/Store" + n + ".app/Contents/MacOS/Store" + n,
                                       "com.store.app" + n, "STORE" + std::to_string(i % 25));
          break;
        default:
          image = i % 12 == 5 ? build::ad_hoc_binary("/Users/me/bin/tool" + n)
                              : build::unsigned_binary("/opt/homebrew/bin/tool" + n);
      }
      check(world_->install_file(image), "install_file");
      images_.push_back(std::move(image));
    }
  }

  const std::string& random_path() { return images_[rng_.below(images_.size())].path; }

  AuditToken spawn_random() {
    SpawnOptions options;
    // A tenth of the processes are helpers working for an app (responsible != itself).
    if (!processes_.empty() && rng_.chance(1, 10)) {
      options.responsible = processes_[rng_.below(processes_.size())];
    }
    if (rng_.chance(1, 5)) options.uid = 0;
    WorldResult<AuditToken> r = world_->start_process(random_path(), options);
    check(r.error, "start_process");
    return r.value;
  }

  SplitMix64 rng_;
  std::unique_ptr<World> world_;
  std::vector<CodeIdentity> images_;
  std::vector<AuditToken> processes_;
  std::vector<AuditToken> zombies_;
  std::vector<std::string> hosts_;
};

// A rule set like a user's: some apps allowed by signing id + team, a team allowed, a few
// daemons by platform signing id, one tool blocked by cdhash, a path rule; unverified is shown
// with a warning and decided by the rules (the most work for the filter).
RuleSet make_rules(const std::vector<CodeIdentity>& images) {
  RuleSet rules;
  rules.policy.unverified = {FilterPolicy::Mode::kApplyRules, Decision::kAsk};
  for (std::size_t i = 0; i < images.size(); i += 7) {
    const CodeIdentity& image = images[i];
    Rule rule;
    rule.name = "rule" + std::to_string(i);
    rule.action = i % 3 == 0 ? Decision::kDrop : Decision::kAllow;
    if (image.signature == SignatureKind::kPlatform) {
      rule.signing_id = image.signing_id;
      rule.platform = true;
      rule.tier = RuleTier::kSigningId;
    } else if (!image.team_id.empty()) {
      if (i % 2 == 0) {
        rule.team_id = image.team_id;
        rule.tier = RuleTier::kTeamId;
      } else {
        rule.signing_id = image.signing_id;
        rule.team_id = image.team_id;
        rule.tier = RuleTier::kSigningId;
      }
    } else if (image.cdhash) {
      rule.cdhash = image.cdhash;
      rule.tier = RuleTier::kCdhash;
    } else {
      rule.path = image.path;
      rule.tier = RuleTier::kPath;
    }
    rules.rules.push_back(std::move(rule));
  }
  return rules;
}

// ---- the benchmark -------------------------------------------------------------------------

struct PassResult {
  double resolve_s = 0;                // CPU seconds spent resolving (the timed part).
  double open_s = 0;                   // CPU seconds spent opening flows and churning the world.
  std::array<uint64_t, 4> statuses{};  // by AttributionStatus (direct) / by Cell (checked).
  uint64_t findings = 0;
  uint64_t seam_calls = 0;
};

enum class Mode { kDirect, kChecked };

PassResult run_pass(const Options& options, std::string_view strategy, Mode mode) {
  std::unique_ptr<Resolver> resolver = make_resolver(strategy);
  Population population(options, *resolver);
  World& world = population.world();
  const Filter filter(make_rules(population.images()));
  std::vector<Flow> flows(options.batch_flows);
  PassResult result;
  const uint64_t seam_calls_before = world.seam_call_count();
  uint64_t done = 0;
  while (done < options.flows) {
    const auto n =
        static_cast<std::size_t>(std::min<uint64_t>(options.batch_flows, options.flows - done));
    double start = CpuClock::now();
    for (std::size_t i = 0; i < n; ++i) population.open_flow(flows[i]);
    const double opened = CpuClock::now();
    result.open_s += opened - start;
    if (mode == Mode::kDirect) {
      for (std::size_t i = 0; i < n; ++i) {
        const Attribution a = resolver->resolve(flows[i], world.now_ns(), world);
        ++result.statuses[static_cast<std::size_t>(a.status)];
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const FlowCheck check = resolve_and_check(world, *resolver, filter, flows[i]);
        const auto cell = static_cast<std::size_t>(check.cell);
        ++result.statuses[std::min<std::size_t>(cell, 3)];
        result.findings += check.findings.size();
      }
    }
    const double resolved = CpuClock::now();
    result.resolve_s += resolved - opened;
    start = resolved;
    population.end_batch();
    result.open_s += CpuClock::now() - start;
    done += n;
  }
  result.seam_calls = world.seam_call_count() - seam_calls_before;
  return result;
}

PassResult best_of(const Options& options, std::string_view strategy, Mode mode) {
  PassResult best;
  best.resolve_s = 1e30;
  for (int pass = 0; pass < options.passes; ++pass) {
    PassResult r = run_pass(options, strategy, mode);
    if (r.resolve_s < best.resolve_s) best = r;
  }
  return best;
}

std::string percent(uint64_t part, uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%",
                whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

int run(const Options& options) {
  std::printf(
      "resolve_bench: %llu flows per strategy and mode, %u executables, %u processes, "
      "batches of %u, best of %d passes, one thread\n\n",
      static_cast<unsigned long long>(options.flows), options.executables, options.processes,
      options.batch_flows, options.passes);
  std::vector<Figure> figures;
  std::printf("%-20s %14s %14s %10s  %-40s %s\n", "strategy", "direct flows/s", "checked flows/s",
              "calls/flow", "direct: verified/unverified/gone/unknown", "checked: findings/flow");
  for (std::string_view name : resolver_names()) {
    if (!options.only_strategy.empty() && name != options.only_strategy) continue;
    const PassResult direct = best_of(options, name, Mode::kDirect);
    const PassResult checked = best_of(options, name, Mode::kChecked);
    const double flows = static_cast<double>(options.flows);
    const double direct_rate = flows / direct.resolve_s;
    const double checked_rate = flows / checked.resolve_s;
    const std::string s = slug(name);
    figures.push_back({"resolve_direct_" + s + "_flows_per_s", direct_rate, "flows/s",
                       std::string(name) + ", direct against the World"});
    figures.push_back({"resolve_checked_" + s + "_flows_per_s", checked_rate, "flows/s",
                       std::string(name) + ", resolve_and_check (filter + oracle)"});
    if (name == "token+recheck") {
      figures.push_back({"world_open_flow_per_s", flows / direct.open_s, "flows/s",
                         "World: open_flow_into + churn (untimed above)"});
    }
    const auto& st = direct.statuses;
    std::printf("%-20s %14.0f %14.0f %10.2f  %-40s %.3f\n", std::string(name).c_str(), direct_rate,
                checked_rate, static_cast<double>(direct.seam_calls) / flows,
                (percent(st[0], options.flows) + " / " + percent(st[1], options.flows) + " / " +
                 percent(st[2], options.flows) + " / " + percent(st[3], options.flows))
                    .c_str(),
                static_cast<double>(checked.findings) / flows);
  }
  std::printf("\n");
  bench::print_figures(figures, 56);
  return 0;
}

}  // namespace
}  // namespace flowid

int main(int argc, char** argv) {
  flowid::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "resolve_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--flows") {
      options.flows = std::stoull(value());
    } else if (arg == "--quick") {
      options.flows = 50'000;
      options.passes = 1;
    } else if (arg == "--passes") {
      options.passes = std::max(1, std::stoi(value()));
    } else if (arg == "--batch") {
      options.batch_flows = static_cast<uint32_t>(std::max(1UL, std::stoul(value())));
    } else if (arg == "--executables") {
      options.executables = static_cast<uint32_t>(std::max(6UL, std::stoul(value())));
    } else if (arg == "--processes") {
      options.processes = static_cast<uint32_t>(std::max(2UL, std::stoul(value())));
    } else if (arg == "--strategy") {
      options.only_strategy = value();
      if (!flowid::make_resolver(options.only_strategy)) {
        std::fprintf(stderr, "resolve_bench: unknown strategy '%s'\n",
                     options.only_strategy.c_str());
        return 2;
      }
    } else if (arg == "--seed") {
      options.seed = std::stoull(value(), nullptr, 0);
    } else {
      std::fprintf(stderr,
                   "usage: resolve_bench [--flows N] [--quick] [--passes N] [--batch N] "
                   "[--executables N] [--processes N] [--strategy NAME] [--seed S]\n");
      return 2;
    }
  }
  if (options.flows == 0) options.flows = 1;
  return flowid::run(options);
}
