// `flowid fixture build` compiles scenario files into traces; `flowid suite` is the bundled
// regression suite: every fixture compiled, replayed faithfully with every reference resolver and
// compared with its golden verdicts, and judged by the oracle — printed as a fixture x strategy
// table. It is what `scripts/quickstart.sh` shows a new user.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "harness/scenario.h"
#include "harness/strategies/catalog.h"
#include "replay/fixture.h"
#include "replay/replay.h"
#include "replay/scenario_files.h"

namespace flowid::cli {
namespace {

struct BuildOptions {
  std::vector<std::string> scenarios;
  std::string output_dir = ".";
  bool zstd = false;
};

int run_build(const BuildOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) {
    print_error("fixture build", "{}: {}", options.output_dir, ec.message());
    return kExitInputError;
  }
  trace::WriterOptions writer;
  writer.compression = options.zstd ? trace::Compression::kZstd : trace::Compression::kNone;
  int exit_code = kExitOk;
  for (const auto& path : options.scenarios) {
    std::string error;
    auto s = replay::load_scenario(path, &error);
    std::optional<replay::CompiledScenario> compiled;
    if (s) compiled = replay::compile_scenario(*s, &error);
    if (!compiled) {
      print_error("fixture build", "{}", error);
      exit_code = kExitInputError;
      continue;
    }
    auto out = (std::filesystem::path(options.output_dir) /
                (std::filesystem::path(path).stem().string() + ".trace"))
                   .string();
    if (auto refused = output_names_input(out, options.scenarios); !refused.empty()) {
      print_error("fixture build", "{}", refused);
      exit_code = std::max(exit_code, static_cast<int>(kExitUsage));
      continue;
    }
    PendingOutput pending(out);
    if (!replay::write_compiled(*compiled, pending.temp_path(), writer, &error) ||
        !pending.commit(&error)) {
      print_error("fixture build", "{}", error);
      exit_code = kExitInputError;
      continue;
    }
    fmt::print("{} -> {} ({} events)\n", path, out, compiled->events.size());
  }
  return exit_code;
}

struct SuiteOptions {
  std::string fixtures_dir;
  bool update_golden = false;
  bool json = false;
  std::string junit_path;
  std::vector<std::string> strategies;
  std::string filter;
};

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct SuiteCell {
  std::string text = "-";
  bool passed = true;
};

// Faithful replay of a fixture's compiled trace (`bytes`) with `strategy` against its golden
// verdicts, or (--update-golden) writing them; the findings go into `c`. Returns the exit code
// a golden file that could not be written calls for, else kExitOk.
int replay_against_golden(const SuiteOptions& options, const scenario::Scenario& scenario,
                          const std::string& bytes, const std::string& golden_dir,
                          const std::string& stem, const std::string& strategy, CaseReport& c) {
  int exit_code = kExitOk;
  std::string error;
  const std::string golden_path = fmt::format("{}/{}.{}.golden", golden_dir, stem, strategy);
  c.golden = golden_path;
  auto reader = trace::memory_reader(bytes);
  auto resolver = make_resolver(strategy);
  Filter filter(scenario.rules);
  std::optional<std::vector<Verdict>> golden;
  if (!options.update_golden) {
    auto text = read_text(golden_path);
    if (!text) {
      c.failures.push_back(
          fmt::format("{}: no golden file (run `flowid suite --update-golden`)", golden_path));
    } else {
      golden = replay::parse_golden(*text, golden_path, &error);
      if (!golden) c.errors.push_back(error);
    }
  }
  replay::FaithfulOptions faithful;
  faithful.golden = golden ? &*golden : nullptr;
  auto result = replay::replay_faithful(c.name, *reader, *resolver, filter, faithful);
  c.flows = result.flows;
  c.events = result.events;
  c.digest = result.verdict_digest;
  for (const auto& call : result.off_script) {
    c.failures.push_back(
        fmt::format("flow {}: off-script {}", call.flow_id, replay::describe(call)));
  }
  if (options.update_golden) {
    std::string text = replay::format_golden(
        result.produced,
        fmt::format("golden verdicts: fixtures/scenarios/{}.scenario replayed faithfully with {}",
                    stem, strategy));
    auto old = read_text(golden_path);
    if (!old || *old != text) {
      if (write_file_atomically(golden_path, text, &error)) {
        fmt::print(stderr, "{}: {}\n", golden_path, old ? "updated" : "created");
      } else {
        c.errors.push_back(error);
        exit_code = std::max(exit_code, static_cast<int>(kExitInputError));
      }
    }
  } else if (golden) {
    for (const auto& d : result.differences) {
      c.failures.push_back(fmt::format("flow {}: golden differs: {}", d.flow_id, d.what));
    }
  }
  return exit_code;
}

// The suite as a table of cells (fixtures x strategies), then every failed run's findings.
void print_suite_table(const SuiteReport& report, const std::vector<std::string>& columns,
                       const std::vector<std::pair<std::string, std::vector<SuiteCell>>>& table) {
  std::string header = "| fixture |";
  std::string rule = "| --- |";
  for (const auto& c : columns) {
    header += " " + c + " |";
    rule += " --- |";
  }
  fmt::print("{}\n\n{}\n{}\n", report.title, header, rule);
  for (const auto& [name, cells] : table) {
    std::string line = "| " + name + " |";
    for (const auto& cell : cells) line += " " + cell.text + " |";
    fmt::print("{}\n", line);
  }
  std::size_t failed = 0;
  for (const auto& c : report.cases) failed += !c.passed();
  fmt::print(
      "\ncells: the oracle's verdict on each strategy (correct, downgraded = labelled "
      "unverified,\n"
      "gone or unknown, MISATTRIBUTED, BYPASSED). Every run is also replayed faithfully from "
      "the\n"
      "compiled trace and compared with fixtures/golden.\n");
  fmt::print("{} runs: {} passed, {} failed\n", report.cases.size(), report.cases.size() - failed,
             failed);
  for (const auto& c : report.cases) {
    if (c.passed()) continue;
    fmt::print("FAIL {}\n", c.name);
    for (const auto& e : c.errors) fmt::print("    error: {}\n", e);
    for (const auto& f : c.failures) fmt::print("    {}\n", f);
  }
}

int run_suite(const SuiteOptions& options) {
  std::string dir = options.fixtures_dir;
  if (dir.empty()) {
    std::string error;
    auto bundled = fixtures_dir(&error);
    if (!bundled) {
      print_error("suite", "{}", error);
      return kExitInputError;
    }
    dir = *bundled;
  }
  const std::string junit_path =
      options.junit_path.empty() ? junit_path_from_environment("flowid-suite") : options.junit_path;
  const std::string golden_dir = dir + "/golden";
  auto files = replay::scenario_files(dir + "/scenarios");
  if (files.empty()) {
    print_error("suite", "{}/scenarios: no *.scenario files", dir);
    return kExitInputError;
  }
  std::vector<std::string> columns;
  for (auto name : resolver_names()) columns.emplace_back(name);
  for (auto name : launcher_names()) columns.emplace_back(name);
  if (!options.strategies.empty()) {
    for (const auto& name : options.strategies) {
      if (!make_resolver(name) && !make_launcher(name)) {
        print_error("suite", "unknown strategy '{}'", name);
        return kExitUsage;
      }
    }
    columns = options.strategies;
  }
  if (options.update_golden) std::filesystem::create_directories(golden_dir);

  SuiteReport report;
  report.kind = "fixture";
  report.classname = "flowid.suite";
  const auto suite_started = std::chrono::steady_clock::now();
  report.title = fmt::format("flowid suite: {} fixtures x {} strategies ({})", files.size(),
                             columns.size(), dir);
  std::vector<std::pair<std::string, std::vector<SuiteCell>>> table;
  int exit_code = kExitOk;
  std::size_t filtered_out = 0;
  for (const auto& file : files) {
    std::string error;
    auto s = replay::load_scenario(file, &error);
    if (s &&
        !filter_matches(options.filter, std::filesystem::path(file).stem().string(), s->faults)) {
      ++filtered_out;
      continue;
    }
    std::optional<replay::CompiledScenario> compiled;
    if (s) compiled = replay::compile_scenario(*s, &error);
    if (!compiled) {
      print_error("suite", "{}", error);
      return kExitInputError;
    }
    // Through the real codec: the suite replays the bytes a user would keep in their repo.
    std::string bytes = trace::write_to_bytes(compiled->header, compiled->events);
    const std::string stem = std::filesystem::path(file).stem().string();
    std::vector<SuiteCell> row;
    for (const auto& strategy : columns) {
      SuiteCell cell;
      const bool is_launcher = make_launcher(strategy) != nullptr;
      if (is_launcher != s->tests_launchers()) {
        row.push_back(cell);
        continue;
      }
      CaseReport c;
      c.name = fmt::format("{} x {}", stem, strategy);
      c.classname = fmt::format("flowid.suite.{}", strategy);
      auto started = std::chrono::steady_clock::now();
      scenario::RunResult run;
      if (is_launcher) {
        auto launcher = make_launcher(strategy);
        run = scenario::run_launcher(*s, *launcher);
      } else {
        auto resolver = make_resolver(strategy);
        run = scenario::run_resolver(*s, *resolver);
      }
      cell.text = std::string(name_of(run.cell));
      for (const auto& e : s->expectations) {
        if (e.strategy == strategy && e.cell != run.cell) {
          c.failures.push_back(fmt::format("{}:{}: expected {}, got {}", file, e.line,
                                           name_of(e.cell), name_of(run.cell)));
        }
      }
      if (!is_launcher) {
        exit_code = std::max(
            exit_code, replay_against_golden(options, *s, bytes, golden_dir, stem, strategy, c));
      }
      c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      cell.passed = c.passed();
      if (!cell.passed) {
        cell.text += " (FAIL)";
        exit_code = kExitFindings;
      }
      report.cases.push_back(std::move(c));
      row.push_back(cell);
    }
    table.emplace_back(s->name, std::move(row));
  }

  if (table.empty()) {
    print_error("suite", "--filter {} matches no fixture in {}/scenarios (by name or fault)",
                options.filter, dir);
    return kExitUsage;
  }
  if (filtered_out > 0) {
    report.title = fmt::format("flowid suite: {} of {} fixtures (--filter {}) x {} strategies ({})",
                               table.size(), files.size(), options.filter, columns.size(), dir);
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - suite_started).count();
  if (options.json) {
    print_report(report, true, false);
  } else {
    print_suite_table(report, columns, table);
  }
  if (!junit_path.empty()) {
    std::string error;
    if (!write_junit(report, junit_path, &error)) {
      print_error("suite", "{}", error);
      return std::max(exit_code, static_cast<int>(kExitInputError));
    }
  }
  return options.update_golden && exit_code == kExitFindings ? kExitOk : exit_code;
}

}  // namespace

Subcommand add_fixture(CLI::App& parent) {
  auto options = std::make_shared<BuildOptions>();
  CLI::App* app =
      parent.add_subcommand("fixture", "Work with scenario fixtures (docs/scenarios.md)");
  app->require_subcommand(1);
  CLI::App* build = app->add_subcommand(
      "build", "Compile scenario files into traces (every reference resolver's lookups recorded)");
  build->add_option("SCENARIO", options->scenarios, "Scenario files")->required();
  build->add_option("-o,--output-dir", options->output_dir, "Where to write STEM.trace files")
      ->default_str(".");
  build->add_flag("--zstd", options->zstd, "Compress chunks with zstd");
  const std::string build_footer = help_footer(
      "flowid fixture build fixtures/scenarios/pid-reuse.scenario -o /tmp/fixtures",
      "0 built; 2 usage (an output naming an input included); 3 a scenario could not be read "
      "or a trace written.");
  app->footer(build_footer);
  build->footer(build_footer);
  return {app, [options] { return run_build(*options); }};
}

Subcommand add_suite(CLI::App& parent) {
  auto options = std::make_shared<SuiteOptions>();
  CLI::App* app = parent.add_subcommand(
      "suite", "Run the bundled regression suite: every fixture x every reference strategy");
  app->add_option("--fixtures", options->fixtures_dir,
                  "Fixture folder with scenarios/ and golden/ (default: the bundled fixtures)");
  app->add_option("--strategy", options->strategies, "Only these strategies")->delimiter(',');
  app->add_option("--filter", options->filter,
                  "Only fixtures whose name contains one of these comma-separated texts, or that "
                  "test one of these faults (F1..F11); -TEXT excludes");
  app->add_flag("--update-golden", options->update_golden,
                "Write the produced verdicts as the new golden files (shows which changed)");
  app->add_flag("--json", options->json, "One JSON object with every run");
  app->add_option("--junit", options->junit_path,
                  "Also write a JUnit XML report; default from GTEST_OUTPUT=xml:PATH or "
                  "XML_OUTPUT_FILE when set");
  app->footer(help_footer(
      "flowid suite --strategy token+recheck --filter F1,F2 --junit suite.xml",
      "0 every run passed; 1 a golden verdict differs, a call is off-script or an expectation\n"
      "fails; 2 usage; 3 fixtures unreadable (FLOWID_FIXTURES not a folder included) or the\n"
      "report could not be written. The largest applicable code wins."));
  return {app, [options] { return run_suite(*options); }};
}

}  // namespace flowid::cli
