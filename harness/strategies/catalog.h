// The names of the reference strategies and how to construct them: what `flowid strategies`
// prints and what `--resolver NAME` / `--launcher NAME` accept.
//
// There is no registry to add to at run time: the catalog is a constant table compiled into
// catalog.cc, and make_* construct a fresh strategy (with its own empty caches) on every call.
// Users' own strategies arrive as plugins (DESIGN §6), not through this table.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "harness/resolver.h"

namespace flowid {

struct StrategyInfo {
  std::string_view name;
  std::string_view description;  // one line, for --help and `flowid strategies`.
};

// In the order they should be listed (roughly: least to most careful, then the models).
std::span<const StrategyInfo> resolver_catalog();
std::span<const StrategyInfo> launcher_catalog();

std::vector<std::string_view> resolver_names();
std::vector<std::string_view> launcher_names();

// The one-line description, or empty for an unknown name.
std::string_view resolver_description(std::string_view name);
std::string_view launcher_description(std::string_view name);

// A new strategy with default options, or null for an unknown name.
std::unique_ptr<Resolver> make_resolver(std::string_view name);
std::unique_ptr<Launcher> make_launcher(std::string_view name);

}  // namespace flowid
