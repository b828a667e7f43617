// The simulated world's settings and the rules, stored in a trace header's resolver_config so that
// model replay rebuilds the same world a fixture was compiled in. Keys: world.pid-policy,
// world.pid-min, world.pid-max, world.seed, world.eperm-prefixes (one per line), rules (the rule
// file text). The caller context comes from the header's own caller field.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/filter.h"
#include "harness/world.h"
#include "trace/trace.h"

namespace flowid::replay {

void append_world_config(const WorldConfig& config,
                         std::vector<std::pair<std::string, std::string>>& out);

// The world a trace describes: defaults, then the header's caller, then any world.* entries.
// Returns false with *error ("FILE: header entry world.pid-max: ...") on a malformed entry.
bool world_config_from_header(const trace::TraceHeader& header, const std::string& file,
                              WorldConfig* config, std::string* error);

// The rules embedded in the header, if any (nullopt without a "rules" entry). A malformed entry
// is an error naming the file.
std::optional<RuleSet> rules_from_header(const trace::TraceHeader& header, const std::string& file,
                                         std::string* error);

}  // namespace flowid::replay
