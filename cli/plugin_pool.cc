#include "cli/plugin_pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string_view>

#include "plugin/loader.h"

namespace flowid::cli {

plugin::IsolationOptions isolation_from_environment() {
  plugin::IsolationOptions options;
  if (const char* timeout = std::getenv("FLOWID_PLUGIN_TIMEOUT_MS"); timeout != nullptr) {
    const unsigned long value = std::strtoul(timeout, nullptr, 10);
    if (value > 0 && value < 3600000) options.call_timeout_ms = static_cast<uint32_t>(value);
  }
  if (const char* whole = std::getenv("FLOWID_PLUGIN_WHOLE_CASES"); whole != nullptr) {
    options.whole_cases = std::string_view(whole) != "0";
  }
  return options;
}

std::unique_ptr<plugin::WorkerPool> plugin_pool_for(const std::vector<std::string>& names) {
  if (std::none_of(names.begin(), names.end(), plugin::looks_like_plugin_path)) return nullptr;
  if (const char* isolation = std::getenv("FLOWID_PLUGIN_ISOLATION");
      isolation != nullptr && std::string_view(isolation) == "0") {
    return nullptr;
  }
  return std::make_unique<plugin::WorkerPool>(isolation_from_environment());
}

std::optional<fuzz::StrategyUnderTest> strategy_under_test(const std::string& name, bool launcher,
                                                           plugin::WorkerPool* pool,
                                                           std::string_view command,
                                                           std::string_view resolver_word,
                                                           std::string* error) {
  if (plugin::looks_like_plugin_path(name)) {
    return launcher ? launcher_strategy_for(name, pool, error) : strategy_for(name, pool, error);
  }
  auto strategy = fuzz::reference_strategy(name);
  if (!strategy || strategy->launcher != launcher) {
    *error = fmt::format("unknown {} '{}' (flowid {} --help lists them)",
                         launcher ? "launcher" : resolver_word, name, command);
    return std::nullopt;
  }
  return strategy;
}

std::vector<std::string> plugin_identifiers(const std::string& name, std::size_t max) {
  if (!plugin::looks_like_plugin_path(name)) return {};
  std::ifstream in(name, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return fuzz::identifiers_in(bytes, max);
}

}  // namespace flowid::cli
