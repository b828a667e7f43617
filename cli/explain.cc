// `flowid explain TRACE|SCENARIO [--resolver S|./lib.so] [--flow N]`: why a resolver got a flow
// wrong, as one terminal picture (cli/explain_view.h). A scenario is first compiled with the
// resolver's own run (its seam calls, the races between them, the scenario's names as labels);
// a trace is taken as it is. Either way the events are model-replayed with the resolver, through
// a decorator that keeps its seam calls per flow, and the oracle's findings come with them.
#include "cli/explain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/plugin_pool.h"
#include "cli/report.h"
#include "harness/strategies/catalog.h"
#include "replay/fixture.h"
#include "replay/replay.h"
#include "replay/scenario_files.h"
#include "replay/world_config.h"

namespace flowid::cli {
namespace {

// Keeps the seam calls the resolver makes, per flow, and forwards everything else.
class CallKeeper final : public LookupObserver {
 public:
  explicit CallKeeper(std::map<uint64_t, std::vector<Lookup>>& calls) : calls_(calls) {}
  void on_lookup(const Lookup& lookup) override { calls_[lookup.flow_id].push_back(lookup); }

 private:
  std::map<uint64_t, std::vector<Lookup>>& calls_;
};

class KeepingResolver final : public Resolver {
 public:
  KeepingResolver(Resolver& inner, std::map<uint64_t, std::vector<Lookup>>& calls)
      : inner_(inner), keeper_(calls), calls_(calls) {}
  std::string_view name() const override { return inner_.name(); }
  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    calls_[flow.flow_id].clear();  // a flow resolved again: its last resolution is the one shown.
    ObservedSeam observed(seam, nullptr, keeper_);
    observed.set_flow(flow.flow_id);
    return inner_.resolve(flow, now_ns, observed);
  }
  void observe(const Event& event) override { inner_.observe(event); }
  std::optional<Decision> decide(const Flow& flow, const Attribution& attribution) override {
    return inner_.decide(flow, attribution);
  }

 private:
  Resolver& inner_;
  CallKeeper keeper_;
  std::map<uint64_t, std::vector<Lookup>>& calls_;
};

// Model replay of events with the strategy; fills calls, verdicts, findings and notes.
bool replay_into(ExplainInput& input, const fuzz::StrategyUnderTest& strategy, std::string* error) {
  if (strategy.launcher || !strategy.make_resolver) {
    *error = fmt::format(
        "{}: explain shows resolutions; '{}' is a launcher (use flowid matrix "
        "--launcher {} -v on its scenario)",
        input.source, strategy.name, strategy.name);
    return false;
  }
  replay::ModelOptions model;
  if (!replay::world_config_from_header(input.header, input.source, &model.world, error))
    return false;
  auto rules = replay::rules_from_header(input.header, input.source, error);
  if (!rules && !error->empty()) return false;
  Filter filter(rules ? *rules : RuleSet{});
  auto resolver = strategy.make_resolver();
  if (!resolver) {
    *error = fmt::format("{}: resolver '{}' could not be made", input.source, strategy.name);
    return false;
  }
  KeepingResolver keeping(*resolver, input.calls);
  auto result = replay::replay_model_events(input.source, input.events, keeping, filter, model);
  for (const auto& v : result.produced) input.produced[v.flow_id] = v;
  input.findings = std::move(result.findings);
  input.notes = std::move(result.model_errors);
  input.resolver = strategy.name;
  return true;
}

std::string header_value(const trace::TraceHeader& header, std::string_view key) {
  for (const auto& [k, v] : header.resolver_config) {
    if (k == key) return v;
  }
  return {};
}

bool looks_like_trace(const std::string& path) {
  if (path == "-") return true;
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 8 && std::string_view(magic, 8) == "FLOWIDTR";
}

struct ExplainOptions {
  std::string input;
  std::string resolver;
  std::optional<uint64_t> flow;
  bool short_form = false;
};

int run_explain(ExplainOptions o) {
  std::string error;
  // "-": standard input, copied to a temporary file (a trace is read twice).
  InputPath stdin_copy;
  if (o.input == "-") {
    stdin_copy = InputPath::resolve(o.input, &error);
    if (stdin_copy.path().empty()) {
      print_error("explain", "{}", error);
      return kExitInputError;
    }
    o.input = stdin_copy.path();
  }
  const bool is_trace = looks_like_trace(o.input);
  std::optional<scenario::Scenario> loaded;
  std::string name = o.resolver;
  if (!is_trace) {
    std::ifstream probe(o.input);
    if (!probe) {
      print_error("explain", "{}: cannot open", o.input);
      return kExitInputError;
    }
    loaded = replay::load_scenario(o.input, &error);
    if (!loaded) {
      print_error("explain", "{} (not a trace, and not a scenario)", error);
      return kExitInputError;
    }
    if (loaded->tests_launchers()) {
      print_error("explain",
                  "{}: a launch scenario; explain shows resolutions (flowid matrix --scenarios {} "
                  "-v shows launches)",
                  o.input, o.input);
      return kExitUsage;
    }
    if (name.empty()) name = loaded->record_with;
  }
  auto pool = plugin_pool_for({name.empty() ? std::string("token+recheck") : name});
  ExplainInput input;
  bool damaged = false;
  if (is_trace) {
    if (name.empty()) {
      // The trace's own recording strategy when it is a resolver this flowid knows.
      auto reader = trace::open_reader(o.input);
      const std::string recorded =
          reader && reader->ok() ? header_value(reader->header(), "record-with") : "";
      const auto names = resolver_names();
      const bool known =
          std::find(names.begin(), names.end(), std::string_view(recorded)) != names.end();
      name = known ? recorded : "token+recheck";
    }
    auto strategy = strategy_under_test(name, false, pool.get(), "explain", "resolver", &error);
    if (!strategy) {
      print_error("explain", "{}", error);
      return kExitInputError;
    }
    auto built = explain_trace_input(o.input, *strategy, &error, &damaged);
    if (!built) {
      print_error("explain", "{}", error);
      return kExitInputError;
    }
    input = std::move(*built);
  } else {
    auto strategy = strategy_under_test(name, false, pool.get(), "explain", "resolver", &error);
    if (!strategy) {
      print_error("explain", "{}", error);
      return kExitInputError;
    }
    auto compiled = replay::compile_scenario(*loaded, &error, &*strategy);
    if (!compiled) {
      print_error("explain", "{}", error);
      return kExitInputError;
    }
    input.source = o.input;
    input.header = std::move(compiled->header);
    input.events = std::move(compiled->events);
    if (!replay_into(input, *strategy, &error)) {
      print_error("explain", "{}", error);
      return kExitInputError;
    }
  }
  input.flow = o.flow;
  const auto lines = o.short_form ? explain_short_lines(input) : explain_lines(input);
  for (const auto& line : lines) fmt::print("{}\n", line);
  return damaged ? kExitDamagedInput : kExitOk;
}

}  // namespace

std::optional<ExplainInput> explain_trace_input(const std::string& path,
                                                const fuzz::StrategyUnderTest& strategy,
                                                std::string* error, bool* damaged) {
  auto reader = trace::open_reader(path);
  if (!reader || !reader->ok()) {
    *error = reader && !reader->issues().empty() ? trace::describe(reader->issues().front(), path)
                                                 : fmt::format("{}: cannot read", path);
    return std::nullopt;
  }
  ExplainInput input;
  input.source = path;
  input.header = reader->header();
  Event event;
  while (reader->next(event)) input.events.push_back(event);
  if (damaged != nullptr) *damaged = !reader->clean();
  if (!replay_into(input, strategy, error)) return std::nullopt;
  return input;
}

std::vector<std::string> short_explanation(const std::string& trace_path,
                                           const fuzz::StrategyUnderTest& strategy) {
  if (strategy.launcher)
    return {"  (a launcher's counterexample: its replay line shows the launch)"};
  std::string error;
  auto input = explain_trace_input(trace_path, strategy, &error);
  if (!input) return {"  (no explanation: " + error + ")"};
  std::vector<std::string> out;
  for (const auto& line : explain_short_lines(*input)) out.push_back("  " + line);
  out.push_back(fmt::format("  the whole picture: flowid explain {} --resolver {}", trace_path,
                            strategy.name));
  return out;
}

Subcommand add_explain(CLI::App& parent) {
  auto o = std::make_shared<ExplainOptions>();
  CLI::App* app = parent.add_subcommand(
      "explain",
      "Why a resolver got a flow wrong: lanes per execution, its seam calls, the races, the claim "
      "against the truth");
  app->add_option("input", o->input, "A trace, or a scenario file ('-': standard input)")
      ->required();
  app->add_option("--resolver,--strategy", o->resolver,
                  "The resolver explained (default: the one the trace or scenario records "
                  "with), or a plugin file (./libmine.so)");
  app->add_option("--flow", o->flow, "Only this flow (its trace number, #N)");
  app->add_flag("--short", o->short_form,
                "The short form fuzz and explore print: the failing flow only");
  app->footer(help_footer(
      "flowid explain fixtures/scenarios/f01_pid_reuse.scenario --resolver pid-path",
      "0 the explanation was shown (whatever it shows); 2 bad flags or a launch scenario;\n"
      "3 the input, the resolver or a plugin could not be used; 4 a damaged trace (what was\n"
      "readable is shown). docs/explain.md reads an explanation line by line.",
      "A fuzz counterexample: flowid explain findings/NAME.trace --resolver pid-path --flow 1"));
  return {app, [o] { return run_explain(*o); }};
}

}  // namespace flowid::cli
