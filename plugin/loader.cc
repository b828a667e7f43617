// dlopen-based plugin loading, and turning a strategy name or plugin path into a resolver.
#include "plugin/loader.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <filesystem>
#include <system_error>

#include "harness/strategies/catalog.h"

namespace flowid::plugin {

bool looks_like_plugin_path(const std::string& name_or_path) {
  auto ends_with = [&](std::string_view suffix) {
    return name_or_path.size() >= suffix.size() &&
           name_or_path.compare(name_or_path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name_or_path.find('/') != std::string::npos || ends_with(".so") || ends_with(".dylib");
}

std::shared_ptr<const PluginModule> load_plugin(const std::string& path, std::string* error) {
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) {
    *error = fmt::format("{}: no such plugin file", path);
    return nullptr;
  }
  // dlopen searches the library path for a bare name; a name without a '/' is made relative to
  // the working directory so `--resolver libmine.so` means the file here, as a user expects.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  void* handle = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    *error =
        fmt::format("{}: cannot load plugin: {}", path, why != nullptr ? why : "unknown error");
    return nullptr;
  }
  std::shared_ptr<void> keep_alive(handle, [](void* h) { ::dlclose(h); });
  ::dlerror();
  void* symbol = ::dlsym(handle, FLOWID_PLUGIN_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    *error = fmt::format("{}: not a flowid plugin (no {} symbol exported)", path,
                         FLOWID_PLUGIN_ENTRY_SYMBOL);
    return nullptr;
  }
  flowid_plugin_entry_fn entry = nullptr;
  static_assert(sizeof entry == sizeof symbol);
  std::memcpy(&entry, &symbol, sizeof entry);
  const flowid_plugin* table = entry(FLOWID_PLUGIN_ABI_VERSION);
  std::string why;
  if (!validate_table(table, FLOWID_PLUGIN_ABI_VERSION, &why)) {
    *error = fmt::format("{}: {}", path, why);
    return nullptr;
  }
  auto module = std::make_shared<PluginModule>();
  module->file = path;
  module->table = table;
  module->keep_alive = std::move(keep_alive);
  return module;
}

std::shared_ptr<const PluginModule> load_launcher_plugin(const std::string& path,
                                                         std::string* error) {
  auto module = load_plugin(path, error);
  if (module && !has_launch(*module)) {
    *error = fmt::format(
        "{}: not a launcher plugin (its flowid_plugin table has no launch function)", path);
    return nullptr;
  }
  return module;
}

std::string file_safe_name(const std::string& name_or_path) {
  if (!looks_like_plugin_path(name_or_path)) return name_or_path;
  std::string stem = std::filesystem::path(name_or_path).stem().string();
  return stem.empty() ? std::string("plugin") : stem;
}

}  // namespace flowid::plugin

namespace flowid {

fuzz::StrategyUnderTest plugin_strategy(const std::string& name,
                                        std::shared_ptr<const plugin::PluginModule> module,
                                        plugin::WorkerPool* pool, bool launcher) {
  fuzz::StrategyUnderTest strategy;
  strategy.name = name;
  strategy.launcher = launcher;
  if (launcher) {
    strategy.make_launcher = [module, pool] { return plugin::make_plugin_launcher(module, pool); };
  } else {
    strategy.make_resolver = [module, pool] { return plugin::make_plugin_resolver(module, pool); };
  }
  if (pool != nullptr && pool->options().whole_cases) {
    strategy.check_elsewhere = [module, pool, launcher](std::span<const scenario::Scenario> s,
                                                        const OracleOptions& oracle) {
      return pool->check_cases(module, s, launcher, oracle);
    };
    strategy.generate_elsewhere = [module, pool](const fuzz::CaseBatch& batch) {
      return pool->generate_cases(module, batch);
    };
  }
  return strategy;
}

std::unique_ptr<Resolver> resolver_for(const std::string& name_or_path, plugin::WorkerPool* pool,
                                       std::string* error) {
  if (plugin::looks_like_plugin_path(name_or_path)) {
    auto module = plugin::load_plugin(name_or_path, error);
    if (!module) return nullptr;
    return plugin::make_plugin_resolver(std::move(module), pool);
  }
  auto resolver = make_resolver(name_or_path);
  if (!resolver) {
    *error = fmt::format("unknown resolver '{}' (known: {}; or a plugin path such as ./libmine.so)",
                         name_or_path, fmt::join(resolver_names(), ", "));
  }
  return resolver;
}

std::unique_ptr<Launcher> launcher_for(const std::string& name_or_path, plugin::WorkerPool* pool,
                                       std::string* error) {
  if (plugin::looks_like_plugin_path(name_or_path)) {
    auto module = plugin::load_launcher_plugin(name_or_path, error);
    if (!module) return nullptr;
    return plugin::make_plugin_launcher(std::move(module), pool);
  }
  auto launcher = make_launcher(name_or_path);
  if (!launcher) {
    *error = fmt::format("unknown launcher '{}' (known: {}; or a plugin path such as ./libmine.so)",
                         name_or_path, fmt::join(launcher_names(), ", "));
  }
  return launcher;
}

std::optional<fuzz::StrategyUnderTest> launcher_strategy_for(const std::string& name_or_path,
                                                             plugin::WorkerPool* pool,
                                                             std::string* error) {
  if (plugin::looks_like_plugin_path(name_or_path)) {
    auto module = plugin::load_launcher_plugin(name_or_path, error);
    if (!module) return std::nullopt;
    return plugin_strategy(name_or_path, std::move(module), pool, true);
  }
  auto strategy = fuzz::reference_strategy(name_or_path);
  if (!strategy || !strategy->launcher) {
    *error = fmt::format("unknown launcher '{}'", name_or_path);
    return std::nullopt;
  }
  return strategy;
}

std::optional<fuzz::StrategyUnderTest> strategy_for(const std::string& name_or_path,
                                                    plugin::WorkerPool* pool, std::string* error) {
  if (plugin::looks_like_plugin_path(name_or_path)) {
    auto module = plugin::load_plugin(name_or_path, error);
    if (!module) return std::nullopt;
    return plugin_strategy(name_or_path, std::move(module), pool, false);
  }
  auto strategy = fuzz::reference_strategy(name_or_path);
  if (!strategy) *error = fmt::format("unknown strategy '{}'", name_or_path);
  return strategy;
}

}  // namespace flowid
