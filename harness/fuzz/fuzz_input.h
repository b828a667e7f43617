// The layout of a libFuzzer input, shared by the schedule target (fuzz/schedule_fuzz.cc), the
// user-plugin target (fuzz/flowid_plugin_fuzzer.cc) and `flowid fuzz --decode-input`, so a crash
// input found by the engine becomes the same case again in the CLI.
//
// Byte 0: bit 0 asks for launcher cases (a target whose strategy is only a resolver or only a
// launcher ignores it), bit 1 turns swarm mode off, bits 2-7 pick a reference strategy (modulo
// the number of strategies of the case's kind; the plugin target ignores them). The remaining
// bytes drive the generator (Choices over bytes; an exhausted input reads zeros, the simplest
// choice).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "harness/fuzz/generator.h"

namespace flowid::fuzz {

struct DecodedInput {
  bool launchers = false;
  bool swarm = true;
  std::size_t strategy_pick = 0;  // bits 2-7 of byte 0, not yet reduced modulo a count.
  GeneratedCase generated;
};

// Decodes an input. `kind` forces resolver (false) or launcher (true) cases; nullopt lets byte 0
// choose. `borrowed_signing_ids` is the generator's dictionary (GeneratorOptions). An empty input
// decodes as a single zero byte.
DecodedInput decode_fuzz_input(std::span<const uint8_t> bytes, std::optional<bool> kind,
                               std::vector<std::string> borrowed_signing_ids = {},
                               std::string name = "libfuzzer");

}  // namespace flowid::fuzz
