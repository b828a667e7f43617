// The `flowid explain` view: a failing schedule told as a terminal picture, readable at 100
// columns. Pure: it takes a trace's header and events plus what the explained resolver did in a
// model replay of them (its own seam calls per flow, its verdicts, the oracle's findings), and
// returns lines. Loading files and running the resolver are cli/explain.cc's.
//
// The picture has four parts:
//   - the executions, one lane each (a letter), named pid.pidversion, by image, and by the
//     scenario's label when the trace carries one (label.execution.PID.PIDVERSION = p2);
//   - the flows (label.flow.ID = f1) and the execution that opened each;
//   - the timeline: every event in trace order at its virtual time, a mark in the lane it concerns
//     (o spawn, e exec'd away, x exit, z zombie, F flow opened, ? a seam call reached it, | alive),
//     each resolution as the resolver's own seam calls with their outcomes, and every world change
//     that landed after a flow opened and before its verdict marked "!!" with where it landed
//     (before call k of the resolution, or between the flow and its resolution);
//   - per flow: the claim against the truth and the invariant the oracle says it broke.
//
// Where races land is read from the trace the way model replay reads it: a world event that
// follows k of a flow's recorded lookups ran before seam call k+1 of the replayed resolver.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/model.h"
#include "harness/oracle.h"
#include "trace/trace.h"

namespace flowid::cli {

inline constexpr std::size_t kExplainWidth = 100;  // no line is longer.
// The short form's lines are two columns narrower: fuzz and explore indent them by two.
inline constexpr std::size_t kExplainShortWidth = kExplainWidth - 2;

struct ExplainInput {
  std::string source;  // the trace or scenario file, for the title.
  trace::TraceHeader header;
  std::vector<Event> events;
  std::string resolver;                           // the resolver explained.
  std::map<uint64_t, std::vector<Lookup>> calls;  // its own seam calls, per flow id.
  std::map<uint64_t, Verdict> produced;           // its verdicts, per flow id.
  std::vector<Finding> findings;                  // the oracle's, violations and warnings.
  std::vector<std::string> notes;                 // model replay's complaints, shown as they are.
  std::optional<uint64_t> flow;                   // only this flow (--flow N).
};

// The full view.
std::vector<std::string> explain_lines(const ExplainInput& input);

// The short form printed by `flowid fuzz` and `flowid explore` after each counterexample: the
// first flow with a violation (else the first flow), what landed around it, its calls, claim,
// truth and the invariant. Empty when the trace has no flow.
std::vector<std::string> explain_short_lines(const ExplainInput& input);

}  // namespace flowid::cli
