// Realism rules: what no real machine can do, stated once and obeyed by every schedule engine
// (the seeded generator, the rapidcheck model, the exhaustive explorer). A schedule that breaks
// one of them is a bug in the engine that made it, not a finding about the resolver: a
// counterexample a user cannot meet on a Mac teaches nothing and erodes trust in the others.
//
// The rules:
// - R1 protected files are immutable. System Integrity Protection and the sealed system volume
//   keep /System, /usr (but /usr/local), /bin, /sbin and Apple's own applications from being
//   replaced, removed or renamed, or from being the target of a rename, even by root.
// - R2 delegation agrees with responsibility. A flow whose app token names app A (F6) comes from
//   a helper that the kernel records as acting for A (spawned with responsible = A), and a helper
//   responsible for A never opens a flow for another app.
// - R3 pidversions never repeat. (pid, pidversion) names one execution forever; the simulated
//   kernel guarantees it (World), and the tests check it over generated schedules.
//
// check_realism() walks a scenario the way the runner will (top-level steps, then each
// resolution's races in call order) and names the first broken rule as "FILE:LINE: R1 ...".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/scenario.h"

namespace flowid::fuzz {

// R1: true for paths that SIP or the sealed system volume protect.
bool is_protected_path(std::string_view path);

// The first realism rule the scenario breaks, as "FILE:LINE: Rn: what", or nullopt.
std::optional<std::string> check_realism(const scenario::Scenario& scenario);

}  // namespace flowid::fuzz
