// flowid: the command line entry point. Wiring only: each subcommand lives in its own file.
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"

namespace flowid::cli {

std::string exit_code_help() {
  return "Exit codes (every subcommand but record, which exits with its command's status):\n"
         "  0   success\n"
         "  1   differences, findings or violations were found\n"
         "  2   usage error (bad flags or arguments); nothing was run\n"
         "  3   an input could not be read (missing file, not a trace, bad rule file, plugin that\n"
         "      does not load) or an output could not be written (the run's results are lost)\n"
         "  4   an input was read only in part (truncated or damaged trace)\n"
         "  70  internal error (a bug in flowid: please report it)\n"
         "When several apply, the largest wins: a damaged trace that also shows differences exits\n"
         "4, a run with findings whose report could not be written exits 3.\n"
         "\n"
         "Example (README.md, \"Your first hour\"):\n"
         "  flowid sample -o s.trace && flowid replay s.trace\n";
}

namespace {

// Every unsigned option refuses a negative number (CLI11 would wrap "-1" to 2^64-1): one check
// for every subcommand, so a new option cannot forget it.
void refuse_negative_numbers(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_type_name() != "UINT") continue;
    option->check(CLI::Validator(
        [](std::string& value) -> std::string {
          if (value.find('-') == std::string::npos) return {};
          return "must be a number 0 or more, got " + value;
        },
        "", "non-negative"));
  }
  for (CLI::App* sub : app.get_subcommands({})) refuse_negative_numbers(*sub);
}

}  // namespace

}  // namespace flowid::cli

int main(int argc, char** argv) {
  using namespace flowid::cli;
  CLI::App app{
      "flowid: record, replay and fault-inject the code that attributes network flows to\n"
      "programs and decides whether to let them through."};
  app.set_version_flag("--version", std::string("flowid ") + FLOWID_VERSION);
  app.require_subcommand(1);
  app.footer(exit_code_help());

  std::vector<Subcommand> subcommands;
  subcommands.push_back(add_inspect(app));
  subcommands.push_back(add_stats(app));
  subcommands.push_back(add_sample(app));
  subcommands.push_back(add_record(app));
  subcommands.push_back(add_replay(app));
  subcommands.push_back(add_matrix(app));
  subcommands.push_back(add_fixture(app));
  subcommands.push_back(add_suite(app));
  subcommands.push_back(add_diff(app));
  subcommands.push_back(add_import(app));
  subcommands.push_back(add_fuzz(app));
  subcommands.push_back(add_explore(app));
  subcommands.push_back(add_explain(app));
  subcommands.push_back(add_export(app));
  subcommands.push_back(add_timeline(app));
  subcommands.push_back(add_strategies(app));
  refuse_negative_numbers(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    // record exits with its command's status, so its own failures use codes a command rarely
    // does (like env(1) and timeout(1)).
    return app.get_subcommand("record")->parsed() ? kExitRecordFailed : kExitUsage;
  }
  int exit_code = kExitUsage;
  try {
    for (auto& sub : subcommands) {
      if (sub.app->parsed()) {
        exit_code = sub.run();
        break;
      }
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "flowid: internal error: {}\n", e.what());
    return kExitInternal;
  }
  // A report that did not reach standard output (a full disk, a closed pipe) is not a success.
  std::string error;
  if (!flush_stdout(&error)) {
    fmt::print(stderr, "flowid: {}\n", error);
    const bool record = app.get_subcommand("record")->parsed();
    return record ? kExitRecordFailed : std::max(exit_code, static_cast<int>(kExitInputError));
  }
  return exit_code;
}
