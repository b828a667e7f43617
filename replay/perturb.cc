#include "replay/perturb.h"

#include <fmt/format.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "harness/builders.h"
#include "harness/random.h"
#include "replay/fixture.h"
#include "replay/scenario_files.h"

namespace flowid::replay {
namespace {

using fuzz::Fault;

// Named bound: faults drawn per flow (one), and flows perturbed per trace.
constexpr std::size_t kPerturbedFlowsMax = 100000;

struct Insertion {
  std::size_t before = 0;  // index in the original events.
  Event event;
};

std::string token_text(const AuditToken& token) {
  return fmt::format("{}.{}", token.pid(), token.pidversion());
}

CodeIdentity synthetic_intruder() {
  CodeIdentity id;
  id.path = "/Applications/Intruder.app/Contents/MacOS/Intruder";
  id.signature = SignatureKind::kDeveloperId;
  id.signing_id = "com.example.intruder";
  id.team_id = "INTRUDER01";
  id.cdhash = build::cdhash_of("flowid-perturb-intruder");
  return id;
}

// What the plan asks of the trace, found in one pass before it (and a sweep beside it), so that
// the plan costs time linear in the trace (times a log for the maps). A flow's lookups and verdict
// used to be found by scanning forward from it (to the end of the trace when it had none), and
// every intruder by scanning every event: quadratic (100 k flows 33 s; bench/perturb_bench.cc).
struct TraceIndex {
  // Per flow, in trace order: the flow's lookups after it, up to its verdict (if any).
  struct FlowPoints {
    std::vector<std::size_t> lookups;
    std::optional<std::size_t> verdict;
  };
  std::vector<FlowPoints> flows;
  // Intruder candidates: every spawn / exec image but launchd's, in trace order, and where each
  // path sits among them.
  std::vector<const CodeIdentity*> others;
  std::unordered_map<std::string_view, std::vector<std::size_t>> others_by_path;
  // An execution's image: its last spawn or exec anywhere in the trace.
  std::map<ExecutionId, const CodeIdentity*> last_image;
  std::vector<CodeIdentity> images;  // every spawn / exec image (kept for the intruders).
  uint32_t pidversion_max = 0;
  std::map<ExecutionId, std::size_t> ended_at;  // execution -> index of its exit/exec event.

  explicit TraceIndex(const std::vector<Event>& events) {
    std::unordered_map<uint64_t, std::vector<std::size_t>> open;  // flow id -> ordinals.
    std::map<ExecutionId, std::size_t> last_image_index;          // into images.
    std::vector<std::size_t> others_index;                        // into images.
    for (std::size_t i = 0; i < events.size(); ++i) {
      const Event& e = events[i];
      if (const auto* flow = std::get_if<Flow>(&e.body)) {
        open[flow->flow_id].push_back(flows.size());
        flows.emplace_back();
      } else if (const auto* lookup = std::get_if<Lookup>(&e.body)) {
        if (auto it = open.find(lookup->flow_id); it != open.end()) {
          for (std::size_t f : it->second) flows[f].lookups.push_back(i);
        }
      } else if (const auto* verdict = std::get_if<Verdict>(&e.body)) {
        if (auto it = open.find(verdict->flow_id); it != open.end()) {
          for (std::size_t f : it->second) flows[f].verdict = i;
          open.erase(it);
        }
      } else if (const auto* spawn = std::get_if<ProcessSpawn>(&e.body)) {
        add_image(spawn->image, spawn->token, last_image_index, others_index);
      } else if (const auto* exec = std::get_if<ProcessExec>(&e.body)) {
        add_image(exec->image, exec->token, last_image_index, others_index);
        ended_at.emplace(exec->previous.execution(), i);
      } else if (const auto* exit = std::get_if<ProcessExit>(&e.body)) {
        ended_at.emplace(exit->token.execution(), i);
      }
    }
    // images no longer grows: the indices gathered in the pass become pointers.
    for (auto& [execution, at] : last_image_index) last_image[execution] = &images[at];
    for (std::size_t at : others_index) others.push_back(&images[at]);
    for (std::size_t at = 0; at < others.size(); ++at)
      others_by_path[others[at]->path].push_back(at);
  }

  // An image from the trace whose path differs from the victim's (drawn with `random`), or a
  // synthetic one. Draws exactly as picking from the list of differing images would.
  CodeIdentity intruder(const ExecutionId& victim, SplitMix64& random) const {
    std::string_view victim_path;
    if (auto it = last_image.find(victim); it != last_image.end()) victim_path = it->second->path;
    const std::vector<std::size_t>* same = nullptr;
    if (auto it = others_by_path.find(victim_path); it != others_by_path.end()) same = &it->second;
    const std::size_t different = others.size() - (same ? same->size() : 0);
    if (different == 0) return synthetic_intruder();
    const std::size_t k = random.below(different);
    // The k-th image that is not the victim's path: the least c with c = k + #{same <= c}.
    std::size_t c = k;
    if (same != nullptr) {
      for (;;) {
        const auto below = static_cast<std::size_t>(
            std::upper_bound(same->begin(), same->end(), c) - same->begin());
        if (k + below == c) break;
        c = k + below;
      }
    }
    return *others[c];
  }

 private:
  void add_image(const CodeIdentity& image, const AuditToken& token,
                 std::map<ExecutionId, std::size_t>& last_image_index,
                 std::vector<std::size_t>& others_index) {
    images.push_back(image);
    pidversion_max = std::max(pidversion_max, token.pidversion());
    last_image_index[token.execution()] = images.size() - 1;
    if (image.path != "/sbin/launchd") others_index.push_back(images.size() - 1);
  }
};

// The executions the loop of apply_fault_plan has passed, kept as it goes: the image each
// execution had at its last spawn or exec so far (F5), and the spawns still alive, not launchd's
// and not ended by the plan, in trace order (F6 takes the last one of another execution).
class Sweep {
 public:
  Sweep(const std::vector<Event>& events, const std::map<ExecutionId, std::size_t>& ended_at)
      : events_(events), ended_at_(ended_at) {}

  // Takes in events[i] (called for every i in order, before the flow at i is perturbed).
  void pass(std::size_t i, const std::set<ExecutionId>& plan_ended) {
    const Event& e = events_[i];
    if (const auto* spawn = std::get_if<ProcessSpawn>(&e.body)) {
      const ExecutionId id = spawn->token.execution();
      image_[id] = &spawn->image;
      auto end = ended_at_.find(id);
      if (spawn->image.path != "/sbin/launchd" && (end == ended_at_.end() || end->second > i) &&
          !plan_ended.count(id)) {
        live_.emplace(i, id);
        live_of_[id].push_back(i);
      }
    } else if (const auto* exec = std::get_if<ProcessExec>(&e.body)) {
      image_[exec->token.execution()] = &exec->image;
      end_here(exec->previous.execution(), i);
    } else if (const auto* exit = std::get_if<ProcessExit>(&e.body)) {
      end_here(exit->token.execution(), i);
    }
  }
  void end_by_plan(const ExecutionId& id) { forget(id); }

  const CodeIdentity* image_before(const ExecutionId& id) const {
    auto it = image_.find(id);
    return it == image_.end() ? nullptr : it->second;
  }
  std::optional<AuditToken> last_live_spawn_but(const ExecutionId& id) const {
    for (auto it = live_.rbegin(); it != live_.rend(); ++it) {
      if (it->second != id) return std::get<ProcessSpawn>(events_[it->first].body).token;
    }
    return std::nullopt;
  }

 private:
  void end_here(const ExecutionId& id, std::size_t i) {
    auto end = ended_at_.find(id);
    if (end != ended_at_.end() && end->second == i) forget(id);
  }
  void forget(const ExecutionId& id) {
    auto it = live_of_.find(id);
    if (it == live_of_.end()) return;
    for (std::size_t spawn_at : it->second) live_.erase(spawn_at);
    live_of_.erase(it);
  }

  const std::vector<Event>& events_;
  const std::map<ExecutionId, std::size_t>& ended_at_;
  std::map<ExecutionId, const CodeIdentity*> image_;
  std::map<std::size_t, ExecutionId> live_;  // spawn index -> its execution.
  std::map<ExecutionId, std::vector<std::size_t>> live_of_;
};

}  // namespace

PerturbedEvents apply_fault_plan(const std::vector<Event>& events,
                                 const trace::CallerContext& caller, fuzz::FaultSet faults,
                                 uint64_t seed) {
  PerturbedEvents out;
  out.caller = caller;
  SplitMix64 random(seed);
  std::vector<Fault> plan;
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    if (fuzz::contains(faults, fuzz::fault_at(i))) plan.push_back(fuzz::fault_at(i));
  }
  if (plan.empty()) {
    out.events = events;
    return out;
  }

  // What the trace holds: images (for intruders), the highest pidversion, where each execution
  // ends, each flow's lookups and verdict. The sweep follows the loop below: what it has passed.
  const TraceIndex trace_index(events);
  const std::map<ExecutionId, std::size_t>& ended_at = trace_index.ended_at;
  uint32_t next_pidversion = trace_index.pidversion_max + 1000;
  Sweep sweep(events, ended_at);

  std::vector<Insertion> insertions;
  std::map<std::size_t, Flow> rewritten_flows;  // index -> new flow event body.
  std::set<ExecutionId> ended_by_plan;
  std::size_t perturbed = 0;

  std::size_t flow_ordinal = 0;
  for (std::size_t i = 0; i < events.size() && perturbed < kPerturbedFlowsMax; ++i) {
    sweep.pass(i, ended_by_plan);
    const auto* flow = std::get_if<Flow>(&events[i].body);
    if (flow == nullptr) continue;
    ++perturbed;
    const Fault fault = plan[random.below(plan.size())];
    const std::string where = fmt::format("flow {}", flow->flow_id);
    // The flow's lookups (and verdict) after it: the candidate insertion points.
    const TraceIndex::FlowPoints& found = trace_index.flows[flow_ordinal++];
    std::vector<std::size_t> points = found.lookups;
    if (points.empty()) points.push_back(found.verdict ? *found.verdict : i + 1);
    const std::size_t call = random.below(points.size());
    const std::size_t before = points[call];
    const uint64_t time_ns = before < events.size() ? events[before].time_ns : events[i].time_ns;

    const FlowToken& process_token = flow->source_process_audit_token;
    const FlowToken& source =
        process_token.well_formed() ? process_token : flow->source_app_audit_token;
    const bool has_execution = source.well_formed();
    const AuditToken token = source.token;
    const auto end = ended_at.find(token.execution());
    const bool alive_there = has_execution && !ended_by_plan.count(token.execution()) &&
                             (end == ended_at.end() || end->second > before);
    auto intruder = [&]() { return trace_index.intruder(token.execution(), random); };
    const std::string at =
        call == 0 ? std::string("before the resolution") : fmt::format("before call {}", call + 1);

    switch (fault) {
      case Fault::kPidReuse:
      case Fault::kExitRace:
      case Fault::kZombie:
      case Fault::kExecAfterFlow: {
        if (!alive_there) {
          out.not_applicable.push_back(
              fmt::format("{}: {} needs a live execution", where, fuzz::fault_id(fault)));
          break;
        }
        ended_by_plan.insert(token.execution());
        sweep.end_by_plan(token.execution());
        if (fault == Fault::kExecAfterFlow) {
          ProcessExec exec;
          exec.previous = token;
          exec.token = token;
          exec.token.words[AuditToken::kPidversion] = next_pidversion++;
          exec.image = intruder();
          out.applied.push_back(fmt::format("{}: F4 exec {} -> {} {}", where, token_text(token),
                                            exec.image.path, at));
          insertions.push_back({before, Event{time_ns, exec}});
          break;
        }
        ProcessExit exit;
        exit.token = token;
        exit.stage = fault == Fault::kZombie ? ExitStage::kExited : ExitStage::kReaped;
        insertions.push_back({before, Event{time_ns, exit}});
        if (fault == Fault::kPidReuse) {
          ProcessSpawn spawn;
          spawn.token = token;
          spawn.token.words[AuditToken::kPidversion] = next_pidversion++;
          spawn.parent = AuditToken{};
          spawn.image = intruder();
          out.applied.push_back(fmt::format("{}: F1 exit {} and spawn {} with pid {} {}", where,
                                            token_text(token), spawn.image.path, token.pid(), at));
          insertions.push_back({before, Event{time_ns, spawn}});
        } else {
          out.applied.push_back(fmt::format("{}: {} exit{} {} {}", where, fuzz::fault_id(fault),
                                            fault == Fault::kZombie ? " (zombie)" : "",
                                            token_text(token), at));
        }
        break;
      }
      case Fault::kReplacedOnDisk: {
        const CodeIdentity* seen = sweep.image_before(token.execution());
        const CodeIdentity image = seen != nullptr ? *seen : CodeIdentity{};
        if (!has_execution || seen == nullptr || image.path.empty()) {
          out.not_applicable.push_back(fmt::format("{}: F5 needs the execution's image", where));
          break;
        }
        FileChange change;
        change.op = FileOp::kReplace;
        change.path = image.path;
        CodeIdentity replacement;
        replacement.path = image.path;
        replacement.signature = SignatureKind::kUnsigned;
        change.image = replacement;
        out.applied.push_back(
            fmt::format("{}: F5 replace {} with unsigned content {}", where, image.path, at));
        insertions.push_back({before, Event{time_ns, change}});
        break;
      }
      case Fault::kDelegation: {
        // Another execution alive at the flow becomes the app the socket was opened for.
        const std::optional<AuditToken> app = sweep.last_live_spawn_but(token.execution());
        if (!app) {
          out.not_applicable.push_back(fmt::format("{}: F6 needs another live execution", where));
          break;
        }
        Flow rewritten = rewritten_flows.count(i) ? rewritten_flows[i] : *flow;
        rewritten.source_app_audit_token = FlowToken{true, AuditToken::kByteSize, *app};
        rewritten_flows[i] = rewritten;
        out.applied.push_back(fmt::format("{}: F6 app token {}", where, token_text(*app)));
        break;
      }
      case Fault::kMalformedToken: {
        Flow rewritten = rewritten_flows.count(i) ? rewritten_flows[i] : *flow;
        if (random.chance(1, 2)) {
          rewritten.source_process_audit_token.present = true;
          rewritten.source_process_audit_token.size_bytes = 20;
          out.applied.push_back(fmt::format("{}: F7 process token malformed (20 bytes)", where));
        } else {
          rewritten.source_process_audit_token = FlowToken{};
          out.applied.push_back(fmt::format("{}: F7 process token absent", where));
        }
        rewritten_flows[i] = rewritten;
        break;
      }
      case Fault::kSandboxEperm:
        out.caller.sandboxed = true;
        out.applied.push_back(fmt::format("{}: F3 caller sandboxed", where));
        break;
      case Fault::kTransientFailure:
      case Fault::kSameName:
      case Fault::kLaunchToctou:
        out.not_applicable.push_back(
            fmt::format("{}: {} has no event form", where, fuzz::fault_id(fault)));
        break;
    }
  }

  // Merge: insertions go before their index, in the order they were made. Later exits and execs
  // of executions the plan ended are dropped; an intruder holding a pid is reaped before a later
  // spawn of that pid.
  std::stable_sort(insertions.begin(), insertions.end(),
                   [](const Insertion& a, const Insertion& b) { return a.before < b.before; });
  std::map<int32_t, AuditToken> intruder_by_pid;
  std::size_t next_insertion = 0;
  // Each insertion adds an event and may add the reap of an intruder: no regrowth (an Event is
  // large; moving millions of them is most of the cost on a large trace).
  out.events.reserve(events.size() + 2 * insertions.size());
  auto emit = [&](const Event& event) {
    if (const auto* spawn = std::get_if<ProcessSpawn>(&event.body)) {
      auto held = intruder_by_pid.find(spawn->token.pid());
      if (held != intruder_by_pid.end()) {
        out.events.push_back(
            Event{event.time_ns, ProcessExit{held->second, 0, ExitStage::kReaped}});
        intruder_by_pid.erase(held);
      }
    }
    out.events.push_back(event);
  };
  for (std::size_t i = 0; i <= events.size(); ++i) {
    while (next_insertion < insertions.size() && insertions[next_insertion].before == i) {
      const Event& inserted = insertions[next_insertion].event;
      emit(inserted);
      if (const auto* spawn = std::get_if<ProcessSpawn>(&inserted.body))
        intruder_by_pid[spawn->token.pid()] = spawn->token;
      if (const auto* exec = std::get_if<ProcessExec>(&inserted.body))
        intruder_by_pid[exec->token.pid()] = exec->token;
      ++next_insertion;
    }
    if (i == events.size()) break;
    const Event& event = events[i];
    if (const auto* exit = std::get_if<ProcessExit>(&event.body)) {
      if (ended_by_plan.count(exit->token.execution())) continue;
    } else if (const auto* exec = std::get_if<ProcessExec>(&event.body)) {
      if (ended_by_plan.count(exec->previous.execution())) continue;
    } else if (auto rewritten = rewritten_flows.find(i); rewritten != rewritten_flows.end()) {
      out.events.push_back(Event{event.time_ns, rewritten->second});
      continue;
    }
    emit(event);
  }
  return out;
}

std::optional<CounterexampleFiles> write_counterexample(
    const fuzz::Counterexample& counterexample, const std::string& strategy, const std::string& dir,
    const std::string& name, bool expectations_for_all, std::string* error,
    const fuzz::StrategyUnderTest* recorder) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = fmt::format("{}: cannot create: {}", dir, ec.message());
    return std::nullopt;
  }
  scenario::Scenario s = counterexample.shrink.shrunk.scenario;
  s.name = name;
  s.file = dir + "/" + name + ".scenario";
  fuzz::add_reference_expectations(s, expectations_for_all ? std::string() : strategy);
  CounterexampleFiles files{dir + "/" + name + ".scenario", dir + "/" + name + ".trace"};
  {
    std::ofstream out(files.scenario_path, std::ios::binary | std::ios::trunc);
    out << scenario::format_scenario(s);
    if (!out) {
      *error = fmt::format("{}: cannot write", files.scenario_path);
      return std::nullopt;
    }
  }
  auto compiled = compile_scenario(s, error, recorder);
  if (!compiled) return std::nullopt;
  compiled->header.resolver_config.emplace_back("fuzz.strategy", strategy);
  compiled->header.resolver_config.emplace_back("fuzz.case_seed",
                                                std::to_string(counterexample.case_seed));
  compiled->header.resolver_config.emplace_back("fuzz.reproduce", counterexample.reproduce);
  if (!write_compiled(*compiled, files.trace_path, trace::WriterOptions{}, error))
    return std::nullopt;
  return files;
}

std::optional<std::vector<scenario::Scenario>> load_corpus(const std::string& dir,
                                                           std::string* error) {
  std::vector<scenario::Scenario> corpus;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    *error = fmt::format("{}: not a folder", dir);
    return std::nullopt;
  }
  for (const auto& file : scenario_files(dir)) {
    auto s = load_scenario(file, error);
    if (!s) return std::nullopt;
    corpus.push_back(std::move(*s));
  }
  return corpus;
}

}  // namespace flowid::replay
