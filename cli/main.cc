// flowid: the command line entry point. Wiring only: each subcommand lives in its own file.
#include <fmt/format.h>

#include <exception>
#include <vector>

#include "cli/commands.h"

namespace flowid::cli {

std::string exit_code_help() {
  return "Exit codes:\n"
         "  0   success\n"
         "  1   differences, findings or violations were found\n"
         "  2   usage error (bad flags or arguments)\n"
         "  3   an input could not be read (missing file, not a trace, bad rule file)\n"
         "  4   an input was read only in part (truncated or damaged trace)\n"
         "  70  internal error (a bug in flowid: please report it)\n";
}

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
    return kExitUsage;
  }
  try {
    for (auto& sub : subcommands) {
      if (sub.app->parsed()) return sub.run();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "flowid: internal error: {}\n", e.what());
    return kExitInternal;
  }
  return kExitUsage;
}
