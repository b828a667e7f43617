// `flowid strategies`: the reference resolver and launcher strategies, one line each, with what
// they do; the names that --resolver, --strategy and --launcher accept besides a plugin file.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "cli/commands.h"
#include "cli/report.h"
#include "harness/strategies/catalog.h"

namespace flowid::cli {
namespace {

struct StrategiesOptions {
  bool json = false;
};

int run_strategies(const StrategiesOptions& options) {
  if (options.json) {
    nlohmann::ordered_json out = {{"resolvers", nlohmann::ordered_json::array()},
                                  {"launchers", nlohmann::ordered_json::array()}};
    for (const auto& info : resolver_catalog()) {
      out["resolvers"].push_back({{"name", info.name}, {"description", info.description}});
    }
    for (const auto& info : launcher_catalog()) {
      out["launchers"].push_back({{"name", info.name}, {"description", info.description}});
    }
    print_json(out);
    return kExitOk;
  }
  std::size_t width = 0;
  for (const auto& info : resolver_catalog()) width = std::max(width, info.name.size());
  for (const auto& info : launcher_catalog()) width = std::max(width, info.name.size());
  fmt::print("Resolvers (--resolver NAME for replay, --strategy NAME for fuzz and matrix):\n");
  for (const auto& info : resolver_catalog())
    fmt::print("  {:<{}}  {}\n", info.name, width, info.description);
  fmt::print("Launchers (--launcher NAME for fuzz and matrix):\n");
  for (const auto& info : launcher_catalog())
    fmt::print("  {:<{}}  {}\n", info.name, width, info.description);
  fmt::print("A plugin file (./libmine.so) stands wherever a name does: docs/plugins.md.\n");
  return kExitOk;
}

}  // namespace

Subcommand add_strategies(CLI::App& parent) {
  auto options = std::make_shared<StrategiesOptions>();
  CLI::App* app =
      parent.add_subcommand("strategies", "List the reference resolver and launcher strategies");
  app->add_flag("--json", options->json,
                "One JSON object: resolvers and launchers, each with name and description");
  app->footer(
      help_footer("flowid strategies", "0 listed; 3 standard output could not be written."));
  return {app, [options] { return run_strategies(*options); }};
}

}  // namespace flowid::cli
