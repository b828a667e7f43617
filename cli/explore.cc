// `flowid explore`: every schedule of up to K interferences over a set of base worlds, with a
// guarantee line at the end (harness/explore/explore.h explains the search). The command owns
// what is not pure: threads, the clock, progress, files.
//
// Bases are spread over --jobs threads whole (each base is explored by one thread, in a fixed
// order, with its own pruning table), so the result — counts, violations, counterexamples — is
// the same for any number of jobs. --shard i/n keeps bases i, i+n, i+2n, ... for CI matrices.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/explain.h"
#include "cli/output.h"
#include "cli/plugin_pool.h"
#include "cli/report.h"
#include "harness/event_format.h"
#include "harness/explore/explore.h"
#include "harness/fuzz/campaign.h"
#include "harness/fuzz/generator.h"
#include "harness/strategies/catalog.h"
#include "plugin/loader.h"
#include "replay/perturb.h"
#include "replay/scenario_files.h"

namespace flowid::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kJobsMax = 64;

struct ExploreCliOptions {
  std::string resolver;
  std::string launcher;
  uint32_t depth = 2;
  std::string scenarios;
  std::optional<uint32_t> worlds;
  uint32_t jobs = 1;
  std::string shard;
  bool json = false;
  std::string junit_path;
  std::string out_dir = "flowid-explore-out";
  uint64_t max_schedules = 0;
  bool progress = false;
  uint32_t shrink_runs = 3000;
  std::vector<std::string> merge;  // --merge A.json B.json ...: shard reports as one.
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

struct BaseOutcome {
  explore::BaseReport report;
  double seconds = 0;
  std::optional<fuzz::Counterexample> counterexample;
  std::optional<replay::CounterexampleFiles> files;
  std::string write_error;
  std::vector<std::string> schedule_lines;
  std::vector<std::string> why;  // the short explanation of the written trace (cli/explain.h).
};

std::string strategy_name(const ExploreCliOptions& o) {
  if (!o.launcher.empty()) return o.launcher;
  return o.resolver.empty() ? "token+recheck" : o.resolver;
}

// The bases: a user's scenarios (those of the strategy's kind), or the bundled worlds.
bool load_bases(const ExploreCliOptions& o, bool launcher, std::vector<scenario::Scenario>& bases,
                std::string* source, std::string* error) {
  if (o.scenarios.empty()) {
    bases = explore::small_worlds(launcher, plugin_identifiers(strategy_name(o), 4));
    if (o.worlds && *o.worlds < bases.size()) bases.resize(*o.worlds);
    *source = "bundled base worlds";
    return true;
  }
  std::vector<scenario::Scenario> all;
  if (std::filesystem::is_directory(o.scenarios)) {
    auto corpus = replay::load_corpus(o.scenarios, error);
    if (!corpus) return false;
    all = std::move(*corpus);
  } else {
    auto one = replay::load_scenario(o.scenarios, error);
    if (!one) return false;
    all.push_back(std::move(*one));
  }
  std::size_t other_kind = 0;
  for (auto& s : all) {
    if (s.tests_launchers() == launcher) {
      bases.push_back(std::move(s));
    } else {
      ++other_kind;
    }
  }
  if (bases.empty()) {
    *error = fmt::format("{}: no {} scenario ({} of the other kind)", o.scenarios,
                         launcher ? "launch" : "resolve", other_kind);
    return false;
  }
  if (o.worlds && *o.worlds < bases.size()) bases.resize(*o.worlds);
  *source = other_kind == 0 ? o.scenarios
                            : fmt::format("{} ({} {} scenarios skipped)", o.scenarios, other_kind,
                                          launcher ? "resolve" : "launch");
  return true;
}

std::string safe_name(std::string text) {
  for (char& c : text) {
    if (c == '/' || c == ' ' || c == '.') c = '_';
  }
  return text;
}

// Shrinks a violation and writes its scenario and trace (the strategy's own run).
void save(BaseOutcome& outcome, const fuzz::StrategyUnderTest& strategy,
          const ExploreCliOptions& o) {
  const explore::Violation& v = *outcome.report.violation;
  fuzz::ShrinkOptions shrink;
  shrink.runs_max = o.shrink_runs;
  fuzz::Counterexample cx = fuzz::shrink_and_credit(v.tagged, strategy, shrink);
  const std::string flag = strategy.launcher ? "--launcher" : "--resolver";
  const std::string name = safe_name(fmt::format("{}--{}", strategy.name, outcome.report.name));
  const std::string scenario_path = o.out_dir + "/" + name + ".scenario";
  cx.reproduce =
      fmt::format("flowid matrix --scenarios {} {} {} -v", scenario_path, flag, strategy.name);
  auto& s = cx.shrink.shrunk.scenario;
  s.description = fmt::format(
      "Found by flowid explore: strategy {} violates {} ({}) in base {} after {} interference{}. "
      "Faults: {}. "
      "Shrunk from {} to {} steps. Reproduce: {}",
      strategy.name, fuzz::format_invariants(cx.shrink.verdict.violated),
      name_of(cx.shrink.verdict.cell), outcome.report.name, v.schedule.size(),
      v.schedule.size() == 1 ? "" : "s", fuzz::format_fault_set(cx.credited),
      cx.shrink.original_size, cx.shrink.shrunk_size, cx.reproduce);
  std::string error;
  outcome.files =
      replay::write_counterexample(cx, strategy.name, o.out_dir, name, false, &error, &strategy);
  if (!outcome.files) outcome.write_error = error;
  if (outcome.files) outcome.why = short_explanation(outcome.files->trace_path, strategy);
  outcome.counterexample = std::move(cx);
}

struct Totals {
  uint64_t schedules = 0, states = 0, pruned = 0, infeasible = 0, duplicates = 0, violations = 0;
  std::array<uint64_t, explore::kDepthMax + 1> by_depth{};
  bool complete = true;
  std::size_t errors = 0;
};

Totals total(const std::vector<BaseOutcome>& outcomes) {
  Totals t;
  for (const auto& o : outcomes) {
    const auto& r = o.report;
    t.schedules += r.schedules;
    t.states += r.states;
    t.pruned += r.pruned;
    t.infeasible += r.infeasible;
    t.duplicates += r.duplicates;
    t.violations += r.violation ? 1 : 0;
    t.errors += r.error.empty() ? 0 : 1;
    t.complete = t.complete && r.complete;
    for (std::size_t k = 0; k < t.by_depth.size(); ++k) t.by_depth[k] += r.by_depth[k];
  }
  return t;
}

std::string depth_counts(const std::array<uint64_t, explore::kDepthMax + 1>& by_depth,
                         uint32_t depth) {
  std::string out;
  for (uint32_t k = 0; k <= std::min(depth, explore::kDepthMax); ++k) {
    out += fmt::format("{}K={}: {}", out.empty() ? "" : ", ", k, by_depth[k]);
  }
  return out;
}

std::string guarantee_line(const Totals& t, uint32_t depth, std::size_t bases,
                           const std::string& strategy) {
  if (t.errors > 0)
    return fmt::format("no guarantee: {} base{} did not run", t.errors, t.errors == 1 ? "" : "s");
  if (t.violations > 0) {
    return fmt::format("{} violates its invariants in {} of {} base{}", strategy, t.violations,
                       bases, bases == 1 ? "" : "s");
  }
  if (!t.complete) return "no guarantee: the exploration was stopped before it was complete";
  return fmt::format(
      "guarantee: no violation in any schedule with <= {} interference{} over these {} base "
      "world{}",
      depth, depth == 1 ? "" : "s", bases, bases == 1 ? "" : "s");
}

std::string violation_summary(const BaseOutcome& o) {
  const auto& v = *o.report.violation;
  return fmt::format("{} {} after {} interference{}: {}",
                     fuzz::format_invariants(v.verdict.violated), name_of(v.verdict.cell),
                     v.schedule.size(), v.schedule.size() == 1 ? "" : "s",
                     v.verdict.first_violation);
}

void print_human(const std::vector<BaseOutcome>& outcomes, const ExploreCliOptions& o,
                 const std::string& strategy, bool launcher, double seconds) {
  const Totals t = total(outcomes);
  for (const auto& out : outcomes) {
    const auto& r = out.report;
    std::string status = "ok";
    if (!r.error.empty())
      status = "ERROR " + r.error;
    else if (r.violation)
      status = "VIOLATION " + violation_summary(out);
    else if (!r.complete)
      status = "stopped";
    fmt::print("  {:<32} {:>9} schedules {:>8} states {:>8} pruned  {:.2f}s  {}\n", r.name,
               r.schedules, r.states, r.pruned, out.seconds, status);
  }
  for (const auto& out : outcomes) {
    if (!out.report.violation) continue;
    fmt::print("\n{} in {}: {}\n", strategy, out.report.name, violation_summary(out));
    for (const auto& line : out.schedule_lines) fmt::print("    {}\n", line);
    if (out.counterexample) {
      const auto& cx = *out.counterexample;
      fmt::print("  shrunk: {} -> {} steps, faults {}\n", cx.shrink.original_size,
                 cx.shrink.shrunk_size, fuzz::format_fault_set(cx.credited));
    }
    if (out.files) {
      fmt::print("  scenario:  {}\n  trace:     {}\n", out.files->scenario_path,
                 out.files->trace_path);
      fmt::print("  reproduce: {}\n", out.counterexample->reproduce);
      if (!launcher) {
        fmt::print("  replay:    flowid replay --mode model --resolver {} {}\n", strategy,
                   out.files->trace_path);
      }
      for (const auto& line : out.why) fmt::print("{}\n", line);
    } else if (!out.write_error.empty()) {
      fmt::print("  (counterexample not written: {})\n", out.write_error);
    }
  }
  fmt::print(
      "\nexplored {} schedules ({}), {} distinct states, {} pruned as seen, {} same-step choices "
      "merged, "
      "{} infeasible, {:.2f} s\n",
      t.schedules, depth_counts(t.by_depth, o.depth), t.states, t.pruned, t.duplicates,
      t.infeasible, seconds);
  fmt::print("{}\n", guarantee_line(t, o.depth, outcomes.size(), strategy));
}

// The report as JSON (docs/schemas/explore.schema.json). Like the suite report it holds no times,
// so the same inputs give the same bytes whatever --jobs is (times are in the human report and in
// JUnit).
nlohmann::ordered_json report_json(const std::vector<BaseOutcome>& outcomes,
                                   const ExploreCliOptions& o, const std::string& strategy,
                                   const std::string& source) {
  const Totals t = total(outcomes);
  nlohmann::ordered_json json;
  json["report"] = "explore";
  json["strategy"] = strategy;
  json["depth"] = o.depth;
  json["bases_source"] = source;
  json["shard"] = o.shard.empty() ? "1/1" : o.shard;
  json["schedules"] = t.schedules;
  json["states"] = t.states;
  json["pruned"] = t.pruned;
  json["merged"] = t.duplicates;
  json["infeasible"] = t.infeasible;
  auto& by_depth = json["schedules_by_depth"] = nlohmann::ordered_json::array();
  for (uint32_t k = 0; k <= std::min(o.depth, explore::kDepthMax); ++k)
    by_depth.push_back(t.by_depth[k]);
  json["complete"] = t.complete;
  json["violations"] = t.violations;
  json["guarantee"] = guarantee_line(t, o.depth, outcomes.size(), strategy);
  auto& bases = json["bases"] = nlohmann::ordered_json::array();
  for (const auto& out : outcomes) {
    const auto& r = out.report;
    nlohmann::ordered_json base;
    base["name"] = r.name;
    base["schedules"] = r.schedules;
    base["states"] = r.states;
    base["pruned"] = r.pruned;
    base["infeasible"] = r.infeasible;
    base["complete"] = r.complete;
    base["error"] = r.error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.error);
    base["violation"] = nullptr;
    if (r.violation) {
      const auto& v = *r.violation;
      nlohmann::ordered_json violation;
      violation["invariants"] = fuzz::invariant_names(v.verdict.violated);
      violation["cell"] = name_of(v.verdict.cell);
      violation["message"] = v.verdict.first_violation;
      violation["schedule"] = out.schedule_lines;
      violation["scenario"] = nullptr;
      violation["trace"] = nullptr;
      violation["reproduce"] = nullptr;
      if (out.files) {
        violation["scenario"] = out.files->scenario_path;
        violation["trace"] = out.files->trace_path;
        violation["reproduce"] = out.counterexample->reproduce;
      }
      base["violation"] = std::move(violation);
    }
    bases.push_back(std::move(base));
  }
  return json;
}

SuiteReport suite_of(const std::vector<BaseOutcome>& outcomes, const std::string& strategy,
                     uint32_t depth) {
  SuiteReport suite;
  suite.title = fmt::format("flowid explore {} depth {}", strategy, depth);
  for (const auto& out : outcomes) {
    CaseReport c;
    c.name = out.report.name;
    c.seconds = out.seconds;
    if (!out.report.error.empty()) c.errors.push_back(out.report.error);
    if (out.report.violation) {
      c.failures.push_back(violation_summary(out));
      for (const auto& line : out.schedule_lines) c.failures.push_back(line);
      if (out.files) c.failures.push_back("reproduce: " + out.counterexample->reproduce);
    }
    if (!out.report.complete) c.warnings.push_back("stopped before complete");
    suite.cases.push_back(std::move(c));
  }
  return suite;
}

int run_explore(const ExploreCliOptions& o) {
  if (!o.resolver.empty() && !o.launcher.empty()) {
    print_error("explore", "--resolver and --launcher exclude each other");
    return kExitUsage;
  }
  if (o.depth > explore::kDepthMax) {
    print_error("explore",
                "--depth {} is beyond {} (the schedule count grows by about two orders of "
                "magnitude per level)",
                o.depth, explore::kDepthMax);
    return kExitUsage;
  }
  std::string shard_error;
  auto shard = parse_shard(o.shard, &shard_error);
  if (!shard) {
    print_error("explore", "{}", shard_error);
    return kExitUsage;
  }
  const std::string name = strategy_name(o);
  std::string error;
  const std::unique_ptr<plugin::WorkerPool> pool = plugin_pool_for({name});
  auto strategy =
      strategy_under_test(name, !o.launcher.empty(), pool.get(), "explore", "resolver", &error);
  if (!strategy) {
    print_error("explore", "{}", error);
    return plugin::looks_like_plugin_path(name) ? kExitInputError : kExitUsage;
  }
  std::vector<scenario::Scenario> all;
  std::string source;
  if (!load_bases(o, strategy->launcher, all, &source, &error)) {
    print_error("explore", "{}", error);
    return kExitInputError;
  }
  std::vector<scenario::Scenario> bases;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i % shard->count == shard->index) bases.push_back(std::move(all[i]));
  }
  const uint32_t jobs = std::clamp<uint32_t>(o.jobs, 1, kJobsMax);
  if (!o.json) {
    fmt::print("flowid explore: {} at depth {} over {} of {} ({} job{}{})\n", name, o.depth,
               bases.size(), source, jobs, jobs == 1 ? "" : "s",
               o.shard.empty() ? "" : fmt::format(", shard {}/{}", shard->index, shard->count));
    std::fflush(stdout);
  }

  explore::ExploreOptions options;
  options.depth = o.depth;
  options.schedules_max = o.max_schedules;
  std::vector<BaseOutcome> outcomes(bases.size());
  std::atomic<std::size_t> next{0};
  std::atomic<uint64_t> ticks{0};
  std::atomic<std::size_t> finished{0};
  g_interrupted.store(false);
  auto previous_int = std::signal(SIGINT, on_interrupt);
  auto previous_term = std::signal(SIGTERM, on_interrupt);
  const auto start = Clock::now();
  auto work = [&] {
    for (std::size_t i = next.fetch_add(1); i < bases.size(); i = next.fetch_add(1)) {
      const auto base_start = Clock::now();
      outcomes[i].report =
          explore::explore_base(bases[i], *strategy, options, &g_interrupted, &ticks);
      if (outcomes[i].report.violation) {
        const auto prepared = explore::prepare_base(bases[i]);
        outcomes[i].schedule_lines =
            explore::describe_schedule(prepared, outcomes[i].report.violation->schedule);
        save(outcomes[i], *strategy, o);
      }
      outcomes[i].seconds = std::chrono::duration<double>(Clock::now() - base_start).count();
      finished.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t j = 1; j < jobs; ++j) threads.emplace_back(work);
  // Progress from a watcher thread: plain lines when stderr is not a terminal.
  const bool progress = o.progress || (::isatty(2) == 1 && !o.json);
  std::mutex mutex;
  std::condition_variable cv;
  bool stop_progress = false;
  std::thread watcher;
  if (progress) {
    watcher = std::thread([&] {
      const bool tty = ::isatty(2) == 1;
      std::unique_lock lock(mutex);
      while (
          !cv.wait_for(lock, std::chrono::seconds(tty ? 1 : 10), [&] { return stop_progress; })) {
        const double s = std::chrono::duration<double>(Clock::now() - start).count();
        fmt::print(stderr, "{}explore: {} schedules, {}/{} bases, {:.0f}s{}", tty ? "\r\033[K" : "",
                   ticks.load(), finished.load(), bases.size(), s, tty ? "" : "\n");
      }
      if (tty) fmt::print(stderr, "\r\033[K");
    });
  }
  work();
  for (auto& t : threads) t.join();
  if (watcher.joinable()) {
    {
      std::lock_guard lock(mutex);
      stop_progress = true;
    }
    cv.notify_all();
    watcher.join();
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  if (o.json) {
    print_json(report_json(outcomes, o, name, source));
    if (std::ferror(stdout) != 0 || std::fflush(stdout) != 0) {
      print_error("explore", "cannot write the report to standard output");
      return kExitInputError;
    }
  } else {
    print_human(outcomes, o, name, strategy->launcher, seconds);
    if (std::fflush(stdout) != 0) return kExitInputError;
  }
  const std::string junit_path =
      o.junit_path.empty() ? junit_path_from_environment("flowid-explore") : o.junit_path;
  if (!junit_path.empty() && !write_junit(suite_of(outcomes, name, o.depth), junit_path, &error)) {
    print_error("explore", "{}", error);
    return kExitInputError;
  }
  const Totals t = total(outcomes);
  if (t.errors > 0) return kExitInputError;
  if (t.violations > 0) return kExitFindings;
  return kExitOk;
}

}  // namespace

// --merge: the --json reports of the shards of one exploration (same strategy, depth and bases)
// as one report: counts summed, bases back in their unsharded order (base j of shard i/n was base
// i + j*n), the guarantee line stated again over the joined bases. Exits as the joined run would.
int run_merge(const ExploreCliOptions& o) {
  using nlohmann::ordered_json;
  std::vector<ordered_json> reports;
  std::vector<std::pair<std::size_t, std::size_t>> shards;
  for (const auto& path : o.merge) {
    std::ifstream in(path);
    auto json = in ? ordered_json::parse(in, nullptr, false) : ordered_json();
    if (!in || json.is_discarded() || !json.is_object() || json.value("report", "") != "explore") {
      print_error("explore", "{}: not a readable `flowid explore --json` report", path);
      return kExitInputError;
    }
    std::string error;
    auto shard = parse_shard(json.value("shard", ""), &error);
    if (json.value("shard", "") == "1/1") shard = Shard{0, 1};  // an unsharded run.
    if (!shard) {
      print_error("explore", "{}: {}", path, error);
      return kExitInputError;
    }
    const ordered_json& first = reports.empty() ? json : reports.front();
    for (const char* key : {"strategy", "depth", "bases_source"}) {
      if (json[key] != first[key]) {
        print_error("explore", "{}: {} {}, {}: {} {}: not shards of one exploration", path, key,
                    json[key].dump(), o.merge.front(), key, first[key].dump());
        return kExitInputError;
      }
    }
    for (const auto& [index, count] : shards) {
      if (count != shard->count) {
        print_error("explore", "{}: shard {}/{}, {}: shard of {}: not shards of one exploration",
                    path, shard->index, shard->count, o.merge.front(), count);
        return kExitInputError;
      }
      if (index == shard->index) {
        print_error("explore", "{}: shard {}/{} given twice", path, index, count);
        return kExitInputError;
      }
    }
    shards.emplace_back(shard->index, shard->count);
    reports.push_back(std::move(json));
  }
  ordered_json merged = reports.front();
  merged.erase("shard");
  std::vector<std::pair<std::size_t, ordered_json>> bases;  // (unsharded position, base).
  Totals t;
  for (std::size_t r = 0; r < reports.size(); ++r) {
    const auto& report = reports[r];
    t.schedules += report["schedules"].get<uint64_t>();
    t.states += report["states"].get<uint64_t>();
    t.pruned += report["pruned"].get<uint64_t>();
    t.duplicates += report["merged"].get<uint64_t>();
    t.infeasible += report["infeasible"].get<uint64_t>();
    t.violations += report["violations"].get<uint64_t>();
    t.complete = t.complete && report["complete"].get<bool>();
    const auto& depths = report["schedules_by_depth"];
    for (std::size_t k = 0; k < depths.size() && k < t.by_depth.size(); ++k) {
      t.by_depth[k] += depths[k].get<uint64_t>();
    }
    std::size_t j = 0;
    for (const auto& base : report["bases"]) {
      if (!base["error"].is_null()) ++t.errors;
      bases.emplace_back(shards[r].first + j * shards[r].second, base);
      ++j;
    }
  }
  std::sort(bases.begin(), bases.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::sort(shards.begin(), shards.end());
  merged["shards"] = ordered_json::array();
  for (const auto& [index, count] : shards) {
    merged["shards"].push_back(fmt::format("{}/{}", index, count));
  }
  merged["schedules"] = t.schedules;
  merged["states"] = t.states;
  merged["pruned"] = t.pruned;
  merged["merged"] = t.duplicates;
  merged["infeasible"] = t.infeasible;
  auto& by_depth = merged["schedules_by_depth"] = ordered_json::array();
  for (std::size_t k = 0; k < reports.front()["schedules_by_depth"].size(); ++k) {
    by_depth.push_back(t.by_depth[k]);
  }
  merged["complete"] = t.complete;
  merged["violations"] = t.violations;
  merged["guarantee"] = guarantee_line(t, reports.front()["depth"].get<uint32_t>(), bases.size(),
                                       reports.front()["strategy"].get<std::string>());
  merged["bases"] = ordered_json::array();
  for (auto& [position, base] : bases) merged["bases"].push_back(std::move(base));
  print_json(merged);
  if (t.errors > 0) return kExitInputError;
  return t.violations > 0 ? kExitFindings : kExitOk;
}

Subcommand add_explore(CLI::App& parent) {
  auto o = std::make_shared<ExploreCliOptions>();
  CLI::App* app = parent.add_subcommand(
      "explore",
      "Every schedule of up to K interferences over small base worlds: a guarantee, not a sample");
  std::string resolvers;
  for (auto n : resolver_names()) resolvers += (resolvers.empty() ? "" : ", ") + std::string(n);
  std::string launchers;
  for (auto n : launcher_names()) launchers += (launchers.empty() ? "" : ", ") + std::string(n);
  app->add_option("--resolver,--strategy", o->resolver,
                  "Resolver under test (default token+recheck): " + resolvers +
                      ", or a plugin file (./libmine.so)");
  app->add_option("--launcher", o->launcher,
                  "Launcher under test instead: " + launchers + ", or a launcher plugin file");
  app->add_option("-k,--depth", o->depth,
                  "Interferences per schedule, at most (default 2; up to 4)")
      ->check(CLI::Range(0u, explore::kDepthMax));
  app->add_option(
      "--scenarios", o->scenarios,
      "Base scenarios: a folder of *.scenario or one file (default: the bundled base worlds)");
  app->add_option("--worlds", o->worlds, "Only the first N bases");
  app->add_option("-j,--jobs", o->jobs,
                  "Threads; bases are spread over them whole (same result for any number)");
  app->add_option("--shard", o->shard,
                  "Only bases i, i+n, i+2n, ... of the list (i/n, 0-based; CI matrices)");
  app->add_option("--max-schedules", o->max_schedules,
                  "Stop a base after N schedules (it is then incomplete)");
  app->add_option("--out", o->out_dir,
                  "Where counterexamples are written (default flowid-explore-out)");
  app->add_option("--shrink-runs", o->shrink_runs,
                  "Bound on candidate runs while shrinking one counterexample");
  app->add_flag("--json", o->json, "One JSON object instead of the human report");
  app->add_option("--merge", o->merge,
                  "Join the --json reports of the shards of one exploration into one JSON report "
                  "on stdout (bases in their unsharded order, the guarantee over all of them)")
      ->expected(1, -1);
  app->add_option("--junit", o->junit_path, "Also write JUnit XML (one test case per base)");
  app->add_flag("--progress", o->progress,
                "Progress lines on stderr even when it is not a terminal");
  app->footer(help_footer(
      "flowid explore --resolver pid-path --depth 1",
      "0 no violation (the last line states the guarantee, or why there is none);\n"
      "1 a violation (each with a shrunk scenario, its trace and a reproduce line); 2 bad flags;\n"
      "3 a plugin, scenario or output could not be used. docs/exploring.md has the details.",
      "A plugin the same way: flowid explore --resolver ./libmine.so --depth 2 --jobs 2\n"
      "JUnit goes to --junit FILE, or where GTEST_OUTPUT=xml:PATH or XML_OUTPUT_FILE says."));
  return {app, [o] { return o->merge.empty() ? run_explore(*o) : run_merge(*o); }};
}

}  // namespace flowid::cli
