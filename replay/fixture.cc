#include "replay/fixture.h"

#include <fmt/format.h>

#include <map>

#include "harness/strategies/catalog.h"
#include "replay/world_config.h"

namespace flowid::replay {
namespace {

// Adds to `base` the lookups of `other` it lacks, counting duplicates: if `other` made the same
// call with the same answer twice and `base` holds it once, one more copy is added.
void merge_lookups(std::vector<Lookup>& base, const std::vector<Lookup>& other) {
  std::vector<bool> used(base.size(), false);
  for (const auto& lookup : other) {
    bool found = false;
    for (std::size_t i = 0; i < base.size() && !found; ++i) {
      if (!used[i] && base[i] == lookup) {
        used[i] = true;
        found = true;
      }
    }
    if (!found) {
      base.push_back(lookup);
      used.push_back(true);
    }
  }
}

// The scenario's names as header labels, so a trace reads like its scenario:
// label.execution.PID.PIDVERSION = NAME and label.flow.ID = NAME.
void add_labels(const scenario::RunResult& run, trace::TraceHeader& header) {
  for (const auto& [name, token] : run.executions) {
    header.resolver_config.emplace_back(
        fmt::format("{}{}.{}", kExecutionLabelPrefix, token.pid(), token.pidversion()), name);
  }
  for (const auto& flow : run.flows) {
    header.resolver_config.emplace_back(fmt::format("{}{}", kFlowLabelPrefix, flow.flow.flow_id),
                                        flow.name);
  }
}

}  // namespace

std::optional<CompiledScenario> compile_scenario(const scenario::Scenario& s, std::string* error,
                                                 const fuzz::StrategyUnderTest* recorder) {
  CompiledScenario compiled;
  trace::TraceHeader& h = compiled.header;
  h.recorder = fmt::format("flowid fixture build {}", FLOWID_VERSION_STRING);
  h.host = "flowid-sim";
  h.os = "simulated macOS";
  h.clock = "virtual";
  h.caller = s.world.caller;
  h.resolver_config.emplace_back("scenario", s.name);
  std::string faults;
  for (const auto& f : s.faults) faults += (faults.empty() ? "" : ",") + f;
  if (!faults.empty()) h.resolver_config.emplace_back("faults", faults);
  append_world_config(s.world, h.resolver_config);
  h.resolver_config.emplace_back("rules", format_rules(s.rules));

  if (s.tests_launchers()) {
    const bool own_launcher = recorder != nullptr && recorder->launcher;
    const std::string launcher_name = own_launcher ? recorder->name
                                      : s.record_with == "token+recheck"
                                          ? std::string("kernel-launch-requirement")
                                          : s.record_with;
    auto launcher = own_launcher ? recorder->make_launcher() : make_launcher(launcher_name);
    if (!launcher) {
      *error = fmt::format("{}: record-with names no launcher: '{}'", s.file, launcher_name);
      return std::nullopt;
    }
    h.resolver_config.emplace_back("record-with", launcher_name);
    auto run = scenario::run_launcher(s, *launcher);
    if (!run.ok()) {
      *error = run.error;
      return std::nullopt;
    }
    add_labels(run, h);
    compiled.events = std::move(run.events);
    return compiled;
  }

  const bool own_resolver = recorder != nullptr && !recorder->launcher;
  const std::string record_with = own_resolver ? recorder->name : s.record_with;
  auto main_resolver = own_resolver ? recorder->make_resolver() : make_resolver(s.record_with);
  if (!main_resolver) {
    *error = fmt::format("{}: record-with names no resolver: '{}'", s.file, s.record_with);
    return std::nullopt;
  }
  h.resolver_config.emplace_back("record-with", record_with);
  auto main = scenario::run_resolver(s, *main_resolver);
  if (!main.ok()) {
    *error = main.error;
    return std::nullopt;
  }
  add_labels(main, h);

  // Every reference resolver's lookups per flow, so any of them replays faithfully.
  std::map<uint64_t, std::vector<Lookup>> recorded;
  for (const auto& flow : main.flows) recorded[flow.flow.flow_id] = flow.check.lookups;
  std::map<uint64_t, std::vector<Lookup>> merged = recorded;
  for (auto name : resolver_names()) {
    if (name == record_with) continue;
    auto resolver = make_resolver(name);
    auto run = scenario::run_resolver(s, *resolver);
    if (!run.ok()) {
      *error = run.error;
      return std::nullopt;
    }
    for (const auto& flow : run.flows) merge_lookups(merged[flow.flow.flow_id], flow.check.lookups);
  }

  // The extra lookups go after the recording strategy's own (and after its races), just before
  // the verdict, so the interleaving that encodes the races is unchanged.
  for (auto& event : main.events) {
    if (auto* verdict = std::get_if<Verdict>(&event.body)) {
      const auto& own = recorded[verdict->flow_id];
      const auto& all = merged[verdict->flow_id];
      for (std::size_t i = own.size(); i < all.size(); ++i) {
        compiled.events.push_back(Event{event.time_ns, all[i]});
      }
    }
    compiled.events.push_back(std::move(event));
  }
  return compiled;
}

bool write_compiled(const CompiledScenario& compiled, const std::string& path,
                    const trace::WriterOptions& options, std::string* error) {
  auto writer = trace::open_writer(path, compiled.header, options, error);
  if (!writer) {
    *error = fmt::format("{}: {}", path, *error);
    return false;
  }
  for (const auto& event : compiled.events) writer->append(event);
  writer->finish();
  return true;
}

}  // namespace flowid::replay
