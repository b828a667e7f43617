// flowid: the command line entry point. Wiring only: each subcommand lives in its own file.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

int main(int argc, char** argv) {
  CLI::App app{"flowid: record, replay and fault-inject flow attribution code"};
  app.set_version_flag("--version", std::string("flowid ") + FLOWID_VERSION);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  if (app.get_subcommands().empty()) {
    fmt::print("{}", app.help());
  }
  return 0;
}
