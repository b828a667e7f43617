// Subcommands of the flowid CLI. Each add_* function registers one subcommand on the top-level
// app and returns the action to run when that subcommand was chosen. main() only wires them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace flowid::cli {

// Exit codes, documented in `flowid --help` and docs/cli.md. CI relies on them.
enum ExitCode : int {
  kExitOk = 0,
  kExitFindings = 1,      // differences, findings or violations were found.
  kExitUsage = 2,         // bad flags or arguments.
  kExitInputError = 3,    // an input could not be read at all (missing, not a trace, bad rules).
  kExitDamagedInput = 4,  // an input was read only in part (truncated or damaged trace).
  kExitInternal = 70,     // a bug in flowid.
  // record only (it exits with its command's status): flowid itself failed (usage, setup, the
  // trace could not be written), and the command was not found, as env(1) and timeout(1) say.
  kExitRecordFailed = 125,
  kExitRecordCommandNotFound = 127,
};

struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Subcommand add_inspect(CLI::App& parent);
Subcommand add_stats(CLI::App& parent);
Subcommand add_sample(CLI::App& parent);
Subcommand add_record(CLI::App& parent);
Subcommand add_replay(CLI::App& parent);
Subcommand add_matrix(CLI::App& parent);
Subcommand add_fixture(CLI::App& parent);
Subcommand add_suite(CLI::App& parent);
Subcommand add_diff(CLI::App& parent);
Subcommand add_import(CLI::App& parent);
Subcommand add_fuzz(CLI::App& parent);
Subcommand add_explore(CLI::App& parent);
Subcommand add_explain(CLI::App& parent);
Subcommand add_export(CLI::App& parent);
Subcommand add_timeline(CLI::App& parent);
Subcommand add_strategies(CLI::App& parent);

// Text shown at the end of `flowid --help`.
std::string exit_code_help();

}  // namespace flowid::cli
