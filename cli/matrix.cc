// `flowid matrix`: every reference strategy against every fault scenario, as a strategy x fault
// table (docs/model.md). Each cell is the worst outcome over the scenarios that exercise that fault
// — correct, downgraded (labelled unverified, gone or unknown; or a launch refused safely),
// MISATTRIBUTED, BYPASSED or CRASHED — with the scenario that produced it. Scenarios carry their
// expected cells; a cell that differs from its expectation fails the run (exit 1), and so does a
// violation of a strategy with no expect line (a plugin, or a saved counterexample's own strategy).
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/plugin_pool.h"
#include "cli/report.h"
#include "harness/event_format.h"
#include "harness/scenario.h"
#include "harness/strategies/catalog.h"
#include "plugin/loader.h"
#include "replay/scenario_files.h"

namespace flowid::cli {
namespace {

constexpr int kFaultCount = 11;

struct MatrixOptions {
  std::string scenarios_dir;
  bool json = false;
  bool verbose = false;
  std::vector<std::string> strategies;
  std::vector<std::string> launchers;  // --launcher: launcher names or launcher plugin files.
};

struct CellEntry {
  Cell cell = Cell::kCorrect;
  std::string scenario;
  bool present = false;
};

struct StrategyRow {
  std::string name;
  bool launcher = false;
  std::array<CellEntry, kFaultCount> cells{};
  // A plugin file gives a resolver row and, when it has a launch entry, a launcher row: the table
  // tells the two apart.
  std::string label() const {
    return launcher && plugin::looks_like_plugin_path(name) ? name + " (launcher)" : name;
  }
};

struct Mismatch {
  std::string scenario;
  std::string file;
  int line = 0;
  std::string strategy;
  Cell expected;
  Cell actual;
};

struct RunRecord {
  std::string scenario;
  std::string strategy;
  scenario::RunResult result;
  std::optional<Cell> expected;
};

int fault_index(const std::string& fault) { return std::stoi(fault.substr(1)) - 1; }

void print_markdown(const std::vector<StrategyRow>& rows) {
  std::string header = "| strategy |";
  std::string rule = "| --- |";
  for (int f = 0; f < kFaultCount; ++f) {
    header += fmt::format(" F{} |", f + 1);
    rule += " --- |";
  }
  fmt::print("{}\n{}\n", header, rule);
  for (const auto& row : rows) {
    std::string line = fmt::format("| {} |", row.label());
    for (const auto& c : row.cells) {
      line += c.present ? fmt::format(" {} ({}) |", name_of(c.cell), c.scenario) : " - |";
    }
    fmt::print("{}\n", line);
  }
}

// The matrix as docs/schemas/matrix.schema.json describes it.
void print_matrix_json(const std::vector<StrategyRow>& rows, const std::vector<RunRecord>& runs,
                       const std::vector<Mismatch>& mismatches) {
  using nlohmann::ordered_json;
  ordered_json json;
  json["report"] = "matrix";
  json["faults"] = ordered_json::array();
  for (int f = 0; f < kFaultCount; ++f) json["faults"].push_back(fmt::format("F{}", f + 1));
  json["strategies"] = ordered_json::array();
  for (const auto& row : rows) {
    ordered_json r;
    r["name"] = row.name;
    r["kind"] = row.launcher ? "launcher" : "resolver";
    r["cells"] = ordered_json::object();
    for (int f = 0; f < kFaultCount; ++f) {
      const auto& c = row.cells[static_cast<std::size_t>(f)];
      if (!c.present) continue;
      r["cells"][fmt::format("F{}", f + 1)] = {{"cell", std::string(name_of(c.cell))},
                                               {"scenario", c.scenario}};
    }
    json["strategies"].push_back(std::move(r));
  }
  json["runs"] = ordered_json::array();
  for (const auto& run : runs) {
    ordered_json r;
    r["scenario"] = run.scenario;
    r["strategy"] = run.strategy;
    r["cell"] = std::string(name_of(run.result.cell));
    r["expected"] = run.expected ? ordered_json(std::string(name_of(*run.expected))) : nullptr;
    r["findings"] = ordered_json::array();
    for (const auto& flow : run.result.flows) {
      for (const auto& finding : flow.check.findings) r["findings"].push_back(describe(finding));
    }
    for (const auto& launch : run.result.launches) {
      for (const auto& finding : launch.check.findings) r["findings"].push_back(describe(finding));
    }
    json["runs"].push_back(std::move(r));
  }
  json["mismatches"] = ordered_json::array();
  for (const auto& m : mismatches) {
    json["mismatches"].push_back({{"scenario", m.scenario},
                                  {"strategy", m.strategy},
                                  {"expected", std::string(name_of(m.expected))},
                                  {"actual", std::string(name_of(m.actual))},
                                  {"line", m.line}});
  }
  print_json(json);
}

// A lookup as a line of its own: the event line without its time stamp ("lookup flow 3 ...").
std::string lookup_line(const Lookup& lookup) {
  const std::string line = format_event_line(Event{0, lookup});
  const auto at = line.find("lookup");
  return at == std::string::npos ? line : line.substr(at);
}

void print_run_details(const RunRecord& run) {
  fmt::print("{} x {}: {}\n", run.scenario, run.strategy, name_of(run.result.cell));
  for (const auto& flow : run.result.flows) {
    const auto& check = flow.check;
    fmt::print(
        "  flow {} (#{}): {} {} via {}{} -> {} [{}]\n", flow.name, flow.flow.flow_id,
        name_of(check.attribution.status),
        check.attribution.identity ? describe_identity(*check.attribution.identity) : "no identity",
        check.attribution.method.empty() ? "-" : check.attribution.method, "",
        name_of(check.verdict.decision), check.verdict.rule);
    for (const auto& l : check.lookups) fmt::print("      {}\n", lookup_line(l));
    for (const auto& f : check.findings) fmt::print("    ! {}\n", describe(f));
  }
  for (const auto& launch : run.result.launches) {
    const auto& check = launch.check;
    fmt::print("  launch {}: {} via {}\n", launch.path,
               check.result.launched ? "launched" : "refused", check.result.method);
    for (const auto& l : check.lookups) fmt::print("      {}\n", lookup_line(l));
    for (const auto& f : check.findings) fmt::print("    ! {}\n", describe(f));
  }
}

// The scenarios: the bundled ones, a folder, one file, or "-" (standard input). Returns the exit
// code (the problem printed) when they cannot be read, else kExitOk.
int load_matrix_scenarios(const MatrixOptions& options, std::vector<scenario::Scenario>* out) {
  std::string dir = options.scenarios_dir;
  if (dir.empty()) {
    std::string error;
    auto fixtures = fixtures_dir(&error);
    if (!fixtures) {
      print_error("matrix", "{}", error);
      return kExitInputError;
    }
    dir = *fixtures + "/scenarios";
  }
  // "-": one scenario on standard input.
  std::string stdin_error;
  InputPath input = InputPath::resolve(dir, &stdin_error);
  if (input.path().empty()) {
    print_error("matrix", "{}", stdin_error);
    return kExitInputError;
  }
  dir = input.path();
  // One scenario file (the natural way to look at one counterexample) or a folder of them.
  std::error_code file_error;
  auto files = std::filesystem::is_regular_file(dir, file_error) ? std::vector<std::string>{dir}
                                                                 : replay::scenario_files(dir);
  if (files.empty()) {
    print_error("matrix", "{}: no *.scenario files", dir);
    return kExitInputError;
  }
  for (const auto& file : files) {
    std::string error;
    auto s = replay::load_scenario(file, &error);
    if (!s) {
      print_error("matrix", "{}", error);
      return kExitInputError;
    }
    out->push_back(std::move(*s));
  }
  return kExitOk;
}

// The rows: the reference strategies asked for (all by default), then each plugin given by path
// (a launcher row too when it has a launch entry). Returns the exit code for an unknown name or
// a plugin that does not load, else kExitOk.
int matrix_rows(const MatrixOptions& options, std::vector<StrategyRow>* out) {
  auto wanted = [&options](std::string_view name) {
    if (options.strategies.empty() && options.launchers.empty()) return true;
    return std::find(options.strategies.begin(), options.strategies.end(), name) !=
               options.strategies.end() ||
           std::find(options.launchers.begin(), options.launchers.end(), name) !=
               options.launchers.end();
  };
  for (auto name : resolver_names()) {
    if (wanted(name)) out->push_back({std::string(name), false, {}});
  }
  for (auto name : launcher_names()) {
    if (wanted(name)) out->push_back({std::string(name), true, {}});
  }
  for (const auto& name : options.strategies) {
    if (plugin::looks_like_plugin_path(name)) {
      // A plugin (--strategy ./libmine.so): one more resolver row, and a launcher row when the
      // plugin has a launch entry.
      std::string error;
      auto module = plugin::load_plugin(name, &error);
      if (!module) {
        print_error("matrix", "{}", error);
        return kExitInputError;
      }
      out->push_back({name, false, {}});
      if (plugin::has_launch(*module)) out->push_back({name, true, {}});
      continue;
    }
    if (!make_resolver(name) && !make_launcher(name)) {
      print_error("matrix", "unknown strategy '{}'", name);
      return kExitUsage;
    }
  }

  for (const auto& name : options.launchers) {
    if (plugin::looks_like_plugin_path(name)) {
      // A launcher plugin (--launcher ./libmine.so): its launcher row only.
      std::string error;
      if (!plugin::load_launcher_plugin(name, &error)) {
        print_error("matrix", "{}", error);
        return kExitInputError;
      }
      out->push_back({name, true, {}});
      continue;
    }
    if (!make_launcher(name)) {
      print_error("matrix", "unknown launcher '{}'", name);
      return kExitUsage;
    }
  }
  return kExitOk;
}

int run_matrix(const MatrixOptions& options) {
  std::vector<scenario::Scenario> scenarios;
  if (int code = load_matrix_scenarios(options, &scenarios); code != kExitOk) return code;
  std::vector<StrategyRow> rows;
  if (int code = matrix_rows(options, &rows); code != kExitOk) return code;

  std::vector<std::string> names = options.strategies;
  names.insert(names.end(), options.launchers.begin(), options.launchers.end());
  const std::unique_ptr<plugin::WorkerPool> pool = plugin_pool_for(names);
  std::vector<RunRecord> runs;
  std::vector<Mismatch> mismatches;
  std::vector<std::string> plugin_failures;
  int exit_code = kExitOk;
  for (auto& row : rows) {
    for (const auto& s : scenarios) {
      if (s.tests_launchers() != row.launcher) continue;
      RunRecord run;
      run.scenario = s.name;
      run.strategy = row.name;
      if (row.launcher) {
        std::string error;
        auto launcher = launcher_for(row.name, pool.get(), &error);  // checked above.
        if (!launcher) {
          print_error("matrix", "{}", error);
          return kExitInputError;
        }
        run.result = scenario::run_launcher(s, *launcher);
      } else {
        std::string error;
        auto resolver = resolver_for(row.name, pool.get(), &error);  // checked above.
        if (!resolver) {
          print_error("matrix", "{}", error);
          return kExitInputError;
        }
        run.result = scenario::run_resolver(s, *resolver);
      }
      if (!run.result.ok()) {
        print_error("matrix", "{} (strategy {})", run.result.error, row.name);
        return kExitInputError;
      }
      for (const auto& e : s.expectations) {
        if (e.strategy != row.name) continue;
        run.expected = e.cell;
        if (e.cell != run.result.cell) {
          mismatches.push_back({s.name, s.file, e.line, row.name, e.cell, run.result.cell});
        }
      }
      // A run with no expect line for its strategy (a plugin, or the strategy a saved
      // counterexample was found for) fails wherever the oracle saw a violation.
      const Cell cell = run.result.cell;
      if (!run.expected &&
          (cell == Cell::kMisattributed || cell == Cell::kBypassed || cell == Cell::kCrashed)) {
        plugin_failures.push_back(
            fmt::format("{}: {}: {}{} is {}", s.file, s.name,
                        plugin::looks_like_plugin_path(row.name) ? "plugin " : "strategy ",
                        row.label(), name_of(cell)));
      }
      for (const auto& fault : s.faults) {
        auto& entry = row.cells[static_cast<std::size_t>(fault_index(fault))];
        // Keep the worst cell; on a tie, the first scenario (files are sorted by name).
        if (!entry.present || scenario::worse(entry.cell, run.result.cell) != entry.cell) {
          entry = {run.result.cell, s.name, true};
        }
      }
      runs.push_back(std::move(run));
    }
  }

  if (options.json) {
    print_matrix_json(rows, runs, mismatches);
  } else {
    print_markdown(rows);
    if (options.verbose) {
      fmt::print("\n");
      for (const auto& run : runs) print_run_details(run);
    }
    fmt::print("\n{} scenarios x {} strategies, {} runs; {} expectation{} not met\n",
               scenarios.size(), rows.size(), runs.size(), mismatches.size(),
               mismatches.size() == 1 ? "" : "s");
  }
  std::fflush(stdout);
  for (const auto& m : mismatches) {
    fmt::print(stderr, "{}:{}: {} expected {} for {}, got {}\n", m.file, m.line, m.scenario,
               name_of(m.expected), m.strategy, name_of(m.actual));
    exit_code = kExitFindings;
  }
  for (const auto& line : plugin_failures) fmt::print(stderr, "{}\n", line);
  if (!plugin_failures.empty()) exit_code = kExitFindings;
  return exit_code;
}

}  // namespace

Subcommand add_matrix(CLI::App& parent) {
  auto options = std::make_shared<MatrixOptions>();
  CLI::App* app = parent.add_subcommand(
      "matrix",
      "Run every strategy against every fault scenario; print the strategy x fault table");
  app->add_option(
      "--scenarios", options->scenarios_dir,
      "A .scenario file ('-': standard input), or a folder of them (default: the bundled "
      "fixtures/scenarios, or $FLOWID_FIXTURES/scenarios)");
  app->add_option("--strategy,--resolver", options->strategies,
                  "Only these strategies (repeat or comma-separate); a plugin file (./libmine.so) "
                  "adds its resolver "
                  "row, and its launcher row when it has a launch entry")
      ->delimiter(',');
  app->add_option("--launcher", options->launchers,
                  "Only these launchers (repeat or comma-separate); a launcher plugin file adds "
                  "its launcher row only")
      ->delimiter(',');
  app->add_flag("--json", options->json,
                "One JSON object: cells, every run with its findings, mismatches");
  app->add_flag("-v,--verbose", options->verbose,
                "Also show each run's lookups, claims and findings");
  app->footer(help_footer(
      "flowid matrix --scenarios fixtures/scenarios/f01_pid_reuse.scenario -v",
      "0 every expectation met; 1 a scenario's `expect` line is not met, or a strategy without "
      "one\n"
      "(a plugin) violates an invariant; 2 usage (an unknown strategy included); 3 a scenario, "
      "plugin\n"
      "or FLOWID_FIXTURES could not be read, or standard output could not be written. The largest\n"
      "applicable code wins."));
  return {app, [options] { return run_matrix(*options); }};
}

}  // namespace flowid::cli
