#include "harness/fuzz/fuzz_input.h"

#include <utility>

namespace flowid::fuzz {

DecodedInput decode_fuzz_input(std::span<const uint8_t> bytes, std::optional<bool> kind,
                               std::vector<std::string> borrowed_signing_ids, std::string name) {
  const uint8_t first = bytes.empty() ? 0 : bytes.front();
  DecodedInput decoded;
  decoded.launchers = kind.value_or((first & 1) != 0);
  decoded.swarm = (first & 2) == 0;
  decoded.strategy_pick = static_cast<std::size_t>(first >> 2);
  GeneratorOptions options;
  options.launchers = decoded.launchers;
  options.swarm = decoded.swarm;
  options.borrowed_signing_ids = std::move(borrowed_signing_ids);
  const std::span<const uint8_t> rest = bytes.empty() ? bytes : bytes.subspan(1);
  Choices choices(rest.data(), rest.size());
  decoded.generated = generate_case(options, choices, std::move(name));
  return decoded;
}

}  // namespace flowid::fuzz
