// `flowid replay TRACE...`: replays traces against a resolver strategy and a rule file and says,
// per trace, whether the verdicts match what was expected. Human summary by default, --json for
// tools, --junit FILE for CI systems; exit code 1 on any difference or finding.
//
// With no --mode, a trace is replayed faithfully (the seam answers from its recorded lookups)
// unless it was imported (`flowid import`): imported traces carry no lookups, so they are
// replayed in model mode, and the report says so in one line. With no --resolver, faithful
// replay uses the strategy the trace says it recorded (its header's resolver_config "strategy",
// when that is a built-in one), so the first replay of a recording meets the same calls.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/plugin_pool.h"
#include "cli/report.h"
#include "harness/event_format.h"
#include "harness/filter.h"
#include "harness/strategies/catalog.h"
#include "plugin/loader.h"
#include "replay/linux_seam.h"
#include "replay/perturb.h"
#include "replay/replay.h"
#include "replay/world_config.h"

namespace flowid::cli {
namespace {

struct ReplayOptions {
  std::vector<std::string> traces;
  std::string mode;      // empty: faithful, or model for an imported trace.
  std::string resolver;  // empty: the trace's recorded strategy (faithful), else token+recheck.
  std::string rules_path;
  std::string golden;
  bool update_golden = false;
  bool json = false;
  std::string junit_path;
  std::string shard;
  bool check_determinism = false;
  bool quiet = false;
  std::string inject;             // perturbed mode: the fault plan.
  uint64_t seed = 1;              // perturbed mode: where the plan puts each fault.
  bool verdicts = false;          // per flow, what each strategy decided.
  std::string verdict_resolvers;  // with --verdicts: comma-separated names (default all).
  uint64_t lookup_delay_ms = 0;   // model mode: flows without lookups are looked up this late.
  uint64_t max_failures = 20;     // per trace: failure lines listed (the rest are counted).
  std::string filter;             // traces whose path contains one of these (comma-separated).
};

constexpr std::string_view kDefaultResolver = "token+recheck";

// True for a trace written by `flowid import`: it has flows, lifecycle and verdicts but no
// recorded lookups, so faithful replay has nothing to answer from.
bool is_imported(const trace::TraceHeader& header) {
  return header.recorder.rfind("flowid import", 0) == 0;
}

// The resolver for one trace: --resolver, else (faithful) the built-in strategy its header says
// it recorded, else token+recheck.
std::string resolver_for_trace(const ReplayOptions& options, const trace::TraceHeader& header,
                               std::string_view mode) {
  if (!options.resolver.empty()) return options.resolver;
  if (mode == "faithful") {
    for (const auto& [key, value] : header.resolver_config) {
      if (key == "strategy" && make_resolver(value)) return value;
    }
  }
  return std::string(kDefaultResolver);
}

// The mode for one trace: --mode, else faithful (model for an imported trace).
std::string mode_for_trace(const ReplayOptions& options, const trace::TraceHeader& header) {
  if (!options.mode.empty()) return options.mode;
  return is_imported(header) ? "model" : "faithful";
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The golden file for a trace: --golden names a file (one trace) or a directory holding
// TRACE-STEM.RESOLVER.golden files (a plugin's RESOLVER is its file's stem: libmine for
// ./build/libmine.so, never a path).
std::string golden_path_for(const ReplayOptions& options, const std::string& trace_path) {
  if (options.golden.empty()) return {};
  std::filesystem::path golden(options.golden);
  if (std::filesystem::is_directory(golden)) {
    auto stem = std::filesystem::path(trace_path).stem().string();
    const std::string resolver =
        options.resolver.empty() ? std::string(kDefaultResolver) : options.resolver;
    return (golden / fmt::format("{}.{}.golden", stem, plugin::file_safe_name(resolver))).string();
  }
  return options.golden;
}

// The rules for a trace: --rules when given, else the rules embedded in the trace's header (a
// compiled fixture carries its own; a Linux recording says record-only or names its rule file),
// else none.
std::optional<RuleSet> rules_for(const std::optional<RuleSet>& cli_rules,
                                 const trace::TraceReader& reader, const std::string& path,
                                 std::string* error) {
  if (cli_rules) return cli_rules;
  auto embedded = replay::rules_from_header(reader.header(), path, error);
  if (!embedded && !error->empty()) return std::nullopt;
  return embedded ? embedded : std::optional<RuleSet>(RuleSet{});
}

// Lookups that no flow of the trace claims: the trace is inconsistent (damaged input, exit 4).
std::string describe_unmatched(const std::string& path, const replay::TraceReplayResult& result) {
  std::string flows = fmt::format("{}", fmt::join(result.unmatched_lookup_flows, ", "));
  if (result.unmatched_lookup_flow_count > result.unmatched_lookup_flows.size()) flows += ", ...";
  return fmt::format(
      "{}: {} lookups for {} flows the trace does not show before their verdict "
      "(flow ids {}); they were not replayed",
      path, result.unmatched_lookups, result.unmatched_lookup_flow_count, flows);
}

// Replays one trace once with a fresh resolver.
replay::TraceReplayResult replay_once(const ReplayOptions& options, const std::string& path,
                                      const std::optional<RuleSet>& cli_rules,
                                      const std::vector<Verdict>* golden,
                                      plugin::WorkerPool* pool) {
  auto reader = trace::open_reader(path);
  replay::TraceReplayResult failed;
  failed.path = path;
  if (!reader->ok()) {
    failed.readable = false;
    for (const auto& issue : reader->issues())
      failed.read_issues.push_back(trace::describe(issue, path));
    return failed;
  }
  std::string error;
  auto rules = rules_for(cli_rules, *reader, path, &error);
  if (!rules) {
    failed.readable = false;
    failed.read_issues.push_back(error);
    return failed;
  }
  Filter filter(*rules);
  const std::string mode = mode_for_trace(options, reader->header());
  const std::string resolver_name = resolver_for_trace(options, reader->header(), mode);
  auto resolver = resolver_for(resolver_name, pool, &error);  // validated in run_replay.
  if (!resolver) {
    failed.readable = false;
    failed.read_issues.push_back(error);
    return failed;
  }
  if (mode == "model" || mode == "perturbed") {
    replay::ModelOptions model;
    if (!replay::world_config_from_header(reader->header(), path, &model.world, &error)) {
      failed.readable = false;
      failed.read_issues.push_back(error);
      return failed;
    }
    model.golden = golden;
    model.lookup_delay_ns = options.lookup_delay_ms * 1'000'000ULL;
    if (mode == "model") {
      auto result = replay::replay_model(path, *reader, *resolver, filter, model);
      if (options.mode.empty()) {
        result.notes.insert(
            result.notes.begin(),
            fmt::format("imported trace ({}): it recorded no lookups, so it was replayed in model "
                        "mode with {} (--mode model to say so)",
                        reader->header().recorder, resolver_name));
      }
      return result;
    }
    // Perturbed: the trace's events with the fault plan applied, then model replay.
    std::vector<Event> events;
    Event event;
    while (reader->next(event)) events.push_back(event);
    auto faults = fuzz::parse_fault_list(options.inject, &error);  // validated in run_replay.
    auto perturbed =
        replay::apply_fault_plan(events, reader->header().caller, *faults, options.seed);
    model.world.caller = perturbed.caller;
    auto result = replay::replay_model_events(path, perturbed.events, *resolver, filter, model);
    for (const auto& issue : reader->issues())
      result.read_issues.push_back(trace::describe(issue, path));
    for (auto& line : perturbed.applied) result.notes.push_back("injected: " + line);
    for (auto& line : perturbed.not_applicable) result.notes.push_back("not injected: " + line);
    return result;
  }
  replay::FaithfulOptions faithful;
  faithful.golden = golden;
  faithful.keep_produced = options.update_golden;  // only --update-golden writes them out.
  auto result = replay::replay_faithful(path, *reader, *resolver, filter, faithful);
  if (options.resolver.empty() && resolver_name != kDefaultResolver) {
    result.notes.insert(
        result.notes.begin(),
        fmt::format("resolver {}: the strategy the trace recorded (--resolver NAME for another)",
                    resolver_name));
  }
  if (is_imported(reader->header())) {
    result.notes.insert(
        result.notes.begin(),
        "imported trace: it recorded no lookups, so faithful replay has nothing to answer "
        "from (--mode model replays it)");
  }
  return result;
}

// Shows what --update-golden changes: one line per flow whose verdict line differs.
void print_golden_changes(const std::string& golden_path,
                          const std::optional<std::string>& old_text, const std::string& new_text) {
  std::map<std::string, std::string> old_lines;
  std::map<std::string, std::string> new_lines;
  auto collect = [](const std::string& text, std::map<std::string, std::string>& lines) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("flow ", 0) != 0) continue;
      lines[line.substr(0, line.find(':'))] = line;
    }
  };
  if (old_text) collect(*old_text, old_lines);
  collect(new_text, new_lines);
  int changes = 0;
  for (const auto& [flow, line] : new_lines) {
    auto it = old_lines.find(flow);
    if (it == old_lines.end()) {
      fmt::print("  + {}\n", line);
      ++changes;
    } else if (it->second != line) {
      fmt::print("  - {}\n  + {}\n", it->second, line);
      ++changes;
    }
  }
  for (const auto& [flow, line] : old_lines) {
    if (!new_lines.count(flow)) {
      fmt::print("  - {}\n", line);
      ++changes;
    }
  }
  fmt::print("{}: {}\n", golden_path,
             !old_text      ? "created"
             : changes == 0 ? "unchanged"
                            : fmt::format("{} flows changed", changes));
}

// --verdicts: replays each trace once per strategy and prints, per flow, what each decided,
// marking the flows on which they differ, then each strategy's verdict digest.
int run_verdicts(const ReplayOptions& options, const std::optional<RuleSet>& cli_rules) {
  std::vector<std::string> names;
  if (options.verdict_resolvers.empty()) {
    for (auto name : resolver_names()) names.emplace_back(name);
  } else {
    std::string list = options.verdict_resolvers + ",";
    for (std::size_t p = 0, c; (c = list.find(',', p)) != std::string::npos; p = c + 1) {
      if (c > p) names.push_back(list.substr(p, c - p));
    }
  }
  const std::unique_ptr<plugin::WorkerPool> pool = plugin_pool_for(names);
  std::size_t width = 0;
  for (const auto& name : names) {
    std::string error;
    if (!resolver_for(name, pool.get(), &error)) {
      print_error("replay", "--verdict-resolvers: {}", error);
      return plugin::looks_like_plugin_path(name) ? kExitInputError : kExitUsage;
    }
    width = std::max(width, name.size());
  }
  int exit_code = kExitOk;
  for (const auto& path : options.traces) {
    std::vector<replay::TraceReplayResult> results;
    ReplayOptions one = options;
    if (one.mode.empty()) one.mode = "model";
    for (const auto& name : names) {
      one.resolver = name;
      results.push_back(replay_once(one, path, cli_rules, nullptr, pool.get()));
    }
    fmt::print("{}: per-flow verdicts, {} replay\n", path, one.mode);
    bool readable = true;
    for (const auto& r : results) {
      for (const auto& issue : r.read_issues) fmt::print("  error: {}\n", issue);
      readable = readable && r.readable;
    }
    if (!readable) {
      exit_code = std::max(exit_code, static_cast<int>(kExitInputError));
      continue;
    }
    // Flows are replayed in the same order whatever the strategy.
    std::size_t differing = 0;
    const std::size_t flows = results.front().produced.size();
    for (std::size_t f = 0; f < flows; ++f) {
      bool differs = false;
      for (const auto& r : results) {
        differs =
            differs || f >= r.produced.size() || !(r.produced[f] == results.front().produced[f]);
      }
      differing += differs;
      fmt::print("  flow {}{}\n", results.front().produced[f].flow_id,
                 differs ? "  (strategies differ)" : "");
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (f >= results[i].produced.size()) continue;
        std::string line = replay::format_golden_line(results[i].produced[f]);
        auto colon = line.find(": ");
        fmt::print("    {:<{}}  {}\n", names[i], width,
                   colon == std::string::npos ? line : line.substr(colon + 2));
      }
    }
    fmt::print("  {} of {} flows decided differently; verdict digests:", differing, flows);
    for (std::size_t i = 0; i < results.size(); ++i) {
      fmt::print(" {} {:016x}{}", names[i], results[i].verdict_digest,
                 i + 1 < results.size() ? "," : "\n");
    }
  }
  return exit_code;
}

// Sorts one trace's result into the case report: failures (listed up to --max-failures, all
// counted per kind), warnings and notes. Flows that a damaged region cut off (the trace lost
// their verdict or lookups) are skipped, not failed: the damage itself is the case's error.
void fill_case(const ReplayOptions& options, replay::TraceReplayResult& result, CaseReport& c) {
  std::map<std::string, uint64_t> by_kind;
  auto fail = [&](std::string kind, std::string line) {
    ++by_kind[kind];
    if (c.failures.size() < options.max_failures) {
      c.failures.push_back(std::move(line));
    } else {
      ++c.failures_not_listed;
    }
  };
  const bool damaged = !result.read_issues.empty();
  // Flows whose verdict (or expectation) the damage took: their off-script calls are the lost
  // lookups, not the resolver's doing.
  std::vector<uint64_t> cut_flows;
  for (const auto& d : result.differences) {
    if (damaged && (!d.produced || !d.expected)) {
      c.skipped.push_back(
          fmt::format("flow {}: in the damaged part of the trace ({})", d.flow_id, d.what));
      cut_flows.push_back(d.flow_id);
      continue;
    }
    fail("verdict difference", fmt::format("flow {}: {}", d.flow_id, d.what));
  }
  for (const auto& finding : result.findings) {
    if (finding.severity == Severity::kViolation) {
      fail(std::string(name_of(finding.invariant)), describe(finding));
    } else {
      c.warnings.push_back(describe(finding));
    }
  }
  for (const auto& e : result.model_errors) c.warnings.push_back("world: " + e);
  for (const auto& note : result.notes) c.notes.push_back(note);
  for (const auto& call : result.off_script) {
    if (std::find(cut_flows.begin(), cut_flows.end(), call.flow_id) != cut_flows.end()) continue;
    fail("off-script call",
         fmt::format("flow {}: off-script call {} (the trace recorded no such lookup)",
                     call.flow_id, replay::describe(call)));
  }
  c.failures_by_kind.assign(by_kind.begin(), by_kind.end());
}

// --mode, --inject and standard input given once; false (the problem printed) when not.
bool mode_options_valid(const ReplayOptions& options) {
  if (!options.mode.empty() && options.mode != "faithful" && options.mode != "model" &&
      options.mode != "perturbed") {
    print_error("replay", "unknown mode '{}' (modes: faithful, model, perturbed)", options.mode);
    return false;
  }
  if ((options.mode == "perturbed") != !options.inject.empty()) {
    print_error("replay", "--inject LIST goes with --mode perturbed (and perturbed needs it)");
    return false;
  }
  if (!options.inject.empty()) {
    std::string error;
    if (!fuzz::parse_fault_list(options.inject, &error)) {
      print_error("replay", "--inject: {}", error);
      return false;
    }
  }
  if (std::count(options.traces.begin(), options.traces.end(), "-") > 1) {
    print_error("replay", "'-' (standard input) may be given once");
    return false;
  }
  return true;
}

// --update-golden has a golden path, and no output (JUnit report, golden file) names an input.
bool outputs_valid(const ReplayOptions& options, const std::string& junit_path) {
  if (options.update_golden && options.golden.empty()) {
    print_error("replay", "--update-golden needs --golden FILE-or-DIR");
    return false;
  }
  std::vector<std::string> inputs = options.traces;
  if (!options.rules_path.empty()) inputs.push_back(options.rules_path);
  if (!options.golden.empty() && !options.update_golden) inputs.push_back(options.golden);
  if (auto error = output_names_input(junit_path, inputs); !junit_path.empty() && !error.empty()) {
    print_error("replay", "--junit {}", error);
    return false;
  }
  if (options.update_golden) {
    for (const auto& trace : options.traces) {
      const std::string golden = golden_path_for(options, trace);
      if (auto error = output_names_input(golden, options.traces); !error.empty()) {
        print_error("replay", "--golden {}", error);
        return false;
      }
    }
  }
  return true;
}

// Replays one trace into `c` (its golden file read, or rewritten with --update-golden); the
// exit code it calls for.
// `resolved` is `options` with standard input ("-") replaced by its copy; `name` is the trace as
// the user gave it, `path` where it is read.
int replay_case(const ReplayOptions& options, const ReplayOptions& resolved,
                const std::string& path, const std::string& name, const std::string& resolver_name,
                const std::optional<RuleSet>& cli_rules, plugin::WorkerPool* pool, CaseReport& c) {
  int exit_code = kExitOk;
  const auto case_start = std::chrono::steady_clock::now();
  c.name = name;

  std::string golden_path = golden_path_for(options, name);
  c.golden = golden_path;
  std::optional<std::vector<Verdict>> golden;
  if (!golden_path.empty() && !options.update_golden) {
    auto text = read_file(golden_path);
    if (!text) {
      c.errors.push_back(fmt::format("{}: cannot read golden file", golden_path));
    } else {
      std::string error;
      golden = replay::parse_golden(*text, golden_path, &error);
      if (!golden) c.errors.push_back(error);
    }
  }
  if (!c.errors.empty()) return kExitInputError;

  auto result = replay_once(resolved, path, cli_rules, golden ? &*golden : nullptr, pool);
  c.flows = result.flows;
  c.events = result.events;
  c.digest = result.verdict_digest;
  for (const auto& issue : result.read_issues) c.errors.push_back(issue);
  if (result.unmatched_lookups > 0) c.errors.push_back(describe_unmatched(path, result));
  if (!result.readable) return kExitInputError;
  if (options.update_golden) {
    auto old_text = read_file(golden_path);
    std::string text = replay::format_golden(
        result.produced,
        fmt::format("golden verdicts: {} replayed {} with resolver {}",
                    std::filesystem::path(name).filename().string(),
                    options.mode.empty() ? "faithful" : options.mode, resolver_name));
    if (!options.json) print_golden_changes(golden_path, old_text, text);
    std::string error;
    if (!write_file_atomically(golden_path, text, &error)) {
      c.errors.push_back(error);
      exit_code = std::max(exit_code, static_cast<int>(kExitInputError));
    }
    // After an update the produced verdicts are the expectation: only off-script calls and
    // read problems still count.
    result.differences.clear();
  }
  fill_case(options, result, c);
  if (options.check_determinism) {
    auto again = replay_once(resolved, path, cli_rules, golden ? &*golden : nullptr, pool);
    if (again.verdict_digest != result.verdict_digest) {
      c.failures.push_back(fmt::format("nondeterministic: verdict digest {:016x} then {:016x}",
                                       result.verdict_digest, again.verdict_digest));
    }
  }
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - case_start).count();
  if (!c.failures.empty() || c.failures_not_listed > 0)
    exit_code = std::max(exit_code, static_cast<int>(kExitFindings));
  if (!c.errors.empty()) exit_code = std::max(exit_code, static_cast<int>(kExitDamagedInput));
  return exit_code;
}

int run_replay(const ReplayOptions& options) {
  if (!mode_options_valid(options)) return kExitUsage;
  const std::string resolver_name =
      options.resolver.empty() ? std::string(kDefaultResolver) : options.resolver;
  // Made before any thread starts: its fork server starts the plugin's workers.
  const std::unique_ptr<plugin::WorkerPool> pool = plugin_pool_for({resolver_name});
  {
    // A name or a plugin path (--resolver ./libmine.so). A plugin that cannot be loaded is an
    // input error (exit 3), an unknown name a usage error.
    std::string error;
    if (!resolver_for(resolver_name, pool.get(), &error)) {
      print_error("replay", "{}", error);
      return plugin::looks_like_plugin_path(resolver_name) ? kExitInputError : kExitUsage;
    }
  }
  const std::string junit_path = options.junit_path.empty()
                                     ? junit_path_from_environment("flowid-replay")
                                     : options.junit_path;
  if (!outputs_valid(options, junit_path)) return kExitUsage;
  std::optional<RuleSet> cli_rules;
  if (!options.rules_path.empty()) {
    RuleError error;
    cli_rules = load_rules(options.rules_path, &error);
    if (!cli_rules) {
      print_error("replay", "{}", error.describe());
      return kExitInputError;
    }
  }
  // "-": standard input, copied once (a trace is opened more than once).
  std::vector<InputPath> inputs;
  ReplayOptions resolved = options;
  for (auto& trace : resolved.traces) {
    std::string error;
    inputs.push_back(InputPath::resolve(trace, &error));
    if (inputs.back().path().empty()) {
      print_error("replay", "{}", error);
      return kExitInputError;
    }
    trace = inputs.back().path();
  }

  if (options.verdicts || !options.verdict_resolvers.empty()) {
    if (options.mode == "faithful") {
      print_error(
          "replay",
          "--verdicts needs --mode model or perturbed (faithful replay answers from the trace's "
          "recorded lookups, one strategy's)");
      return kExitUsage;
    }
    return run_verdicts(resolved, cli_rules);
  }

  std::string shard_error;
  auto shard = parse_shard(options.shard, &shard_error);
  if (!shard) {
    print_error("replay", "{}", shard_error);
    return kExitUsage;
  }

  SuiteReport report;
  report.kind = "replay";
  report.title = fmt::format(
      "replay {} resolver={}{}",
      options.mode.empty() ? "faithful (model for imported traces)" : options.mode,
      !options.resolver.empty()                                ? options.resolver
      : options.mode == "model" || options.mode == "perturbed" ? resolver_name
                                                               : "(the trace's recorded strategy)",
      options.rules_path.empty() ? "" : " rules=" + options.rules_path);
  // flowid.replay.MODE.RESOLVER; faithful replay with no --resolver uses each trace's own strategy.
  report.classname =
      fmt::format("flowid.replay.{}", options.mode.empty() ? "faithful" : options.mode);
  if (!options.resolver.empty() || options.mode == "model" || options.mode == "perturbed") {
    report.classname += "." + plugin::file_safe_name(resolver_name);
  }
  const auto suite_start = std::chrono::steady_clock::now();
  int exit_code = kExitOk;
  for (std::size_t i = 0; i < resolved.traces.size(); ++i) {
    if (i % shard->count != shard->index) continue;
    if (!filter_matches(options.filter, options.traces[i])) continue;
    CaseReport c;
    exit_code =
        std::max(exit_code, replay_case(options, resolved, resolved.traces[i], options.traces[i],
                                        resolver_name, cli_rules, pool.get(), c));
    report.cases.push_back(std::move(c));
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - suite_start).count();

  print_report(report, options.json, options.quiet);
  if (!junit_path.empty()) {
    std::string error;
    if (!write_junit(report, junit_path, &error)) {
      print_error("replay", "{}", error);
      return std::max(exit_code, static_cast<int>(kExitInputError));
    }
  }
  return exit_code;
}

}  // namespace

Subcommand add_replay(CLI::App& parent) {
  auto options = std::make_shared<ReplayOptions>();
  CLI::App* app = parent.add_subcommand(
      "replay", "Replay traces against a resolver strategy and rules; compare the verdicts");
  app->add_option("TRACE", options->traces, "Trace files ('-': standard input)")->required();
  app->add_option(
         "--mode", options->mode,
         "faithful: the seam answers from the trace's recorded lookups; model: the world is "
         "rebuilt from the trace's events and the simulator answers, checked by the oracle; "
         "perturbed: model mode with --inject faults placed by --seed. Default: faithful, or "
         "model for a trace made by `flowid import` (it records no lookups)")
      ->check(CLI::IsMember({"faithful", "model", "perturbed"}));
  app->add_option(
      "--resolver", options->resolver,
      "Resolver strategy (`flowid strategies` lists them) or a plugin file (./libmine.so, "
      "docs/plugins.md). Default: in faithful mode the strategy the trace recorded when it is a "
      "built-in one, else token+recheck");
  app->add_option("--rules", options->rules_path,
                  "Rule file (docs/rules.md); default: the rules embedded in the trace, else none");
  app->add_option(
      "--golden", options->golden,
      "Expected verdicts: a golden file, or a directory of TRACE-STEM.RESOLVER.golden "
      "files (RESOLVER: a plugin file's stem, libmine for ./libmine.so); default: the verdicts "
      "recorded in the trace");
  app->add_flag("--update-golden", options->update_golden,
                "Write the produced verdicts to the golden files and show what changed");
  app->add_flag("--json", options->json, "One JSON object with every trace's result");
  app->add_option(
      "--junit", options->junit_path,
      "Also write a JUnit XML report (one test case per trace); default from GTEST_OUTPUT=xml:PATH "
      "or XML_OUTPUT_FILE when set");
  app->add_option(
      "--max-failures", options->max_failures,
      "Failure lines listed per trace; the rest are counted, per invariant or kind (default 20)");
  app->add_option(
      "--filter", options->filter,
      "Only traces whose path contains one of these comma-separated texts; -TEXT excludes");
  app->add_option("--shard", options->shard,
                  "Replay only shard i of n (0-based, 'i/n'); default from GTEST_SHARD_INDEX and "
                  "GTEST_TOTAL_SHARDS");
  app->add_flag("--check-determinism", options->check_determinism,
                "Replay every trace twice and compare the verdict digests");
  app->add_option(
      "--inject", options->inject,
      "Perturbed mode: faults to inject, e.g. pid-reuse,exit-race or F1,F2 (one per flow)");
  app->add_option("--seed", options->seed, "Perturbed mode: the seed that places the faults")
      ->default_str("1");
  app->add_flag("-q,--quiet", options->quiet, "Only the summary line and failures");
  app->add_flag("--verdicts", options->verdicts,
                "Model/perturbed mode: replay each trace with every built-in strategy and show, "
                "per flow, what each decided and where they differ, then each verdict digest");
  app->add_option("--verdict-resolvers", options->verdict_resolvers,
                  "With --verdicts: the strategies to compare (comma-separated, e.g. "
                  "pid-path,token+recheck); default all built-in ones");
  app->add_option("--lookup-delay-ms", options->lookup_delay_ms,
                  "Model mode: a flow the trace shows no lookup for (an imported trace) is "
                  "looked up this long after it, after the world events in between (default 0: "
                  "at the flow itself)")
      ->default_str("0");
  app->footer(help_footer(
      "flowid sample -o s.trace && flowid replay s.trace",
      "0 every trace replayed as expected; 1 a verdict difference, an off-script call or an\n"
      "invariant violation; 2 usage; 3 a trace, golden file, rule file or plugin could not be "
      "read, or\n"
      "the report could not be written; 4 a trace was damaged (its intact part was replayed; flows "
      "in\n"
      "the damaged part are listed as skipped). The largest applicable code wins.",
      "Warnings (such as an unverified label on another program's name) are shown but do not "
      "fail."));
  return {app, [options] { return run_replay(*options); }};
}

}  // namespace flowid::cli
