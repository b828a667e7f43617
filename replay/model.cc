// Model replay (see replay.h): the world rebuilt from a trace, the resolver asking the sim, the
// oracle judging. The races of a resolution are reconstructed from the trace's interleaving.
#include <fmt/format.h>

#include <map>
#include <set>

#include "harness/event_format.h"
#include "harness/scenario.h"
#include "replay/replay.h"

namespace flowid::replay {
namespace {

bool changes_world(EventKind kind) {
  return kind == EventKind::kProcessSpawn || kind == EventKind::kProcessExec ||
         kind == EventKind::kProcessExit || kind == EventKind::kFileChange;
}

// A world change, or a lookup fault (F8) a run recorded as a marker: both are replayed in place.
bool changes_replayed_world(const Event& event) {
  if (changes_world(event.kind())) return true;
  const auto* marker = std::get_if<Marker>(&event.body);
  return marker != nullptr && scenario::is_lookup_fault_marker(marker->text);
}

std::optional<uint64_t> flow_of(const Event& event) {
  if (auto* l = std::get_if<Lookup>(&event.body)) return l->flow_id;
  if (auto* v = std::get_if<Verdict>(&event.body)) return v->flow_id;
  return std::nullopt;
}

std::string describe_event(const Event& event) {
  std::string line = format_event_line(event);
  // Drop the timestamp column: the event index already says where it is.
  auto first = line.find_first_not_of(' ');
  auto space = line.find(' ', first == std::string::npos ? 0 : first);
  return space == std::string::npos ? line : line.substr(space + 1);
}

class ModelReplay {
 public:
  ModelReplay(const std::string& path, const std::vector<Event>& events, Resolver& resolver,
              const Filter& filter, const ModelOptions& options)
      : events_(events),
        resolver_(resolver),
        filter_(filter),
        options_(options),
        world_(world_config(options)),
        consumed_(events.size(), false) {
    result_.path = path;
    if (options.golden) {
      for (const auto& v : *options.golden) golden_[v.flow_id] = v;
    }
    world_.set_event_listener([this](const Event& event) {
      if (changes_world(event.kind())) resolver_.observe(event);
    });
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto flow = flow_of(events[i]);
      if (!flow || *flow == 0) continue;
      if (events[i].kind() == EventKind::kLookup) first_lookup_.emplace(*flow, i);
      if (events[i].kind() == EventKind::kVerdict) verdict_at_.emplace(*flow, i);
    }
  }

  TraceReplayResult run() {
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (consumed_[i]) continue;
      const Event& event = events_[i];
      const EventKind kind = event.kind();
      if (changes_replayed_world(event)) {
        apply(i);
      } else if (kind == EventKind::kFlow) {
        const Flow& flow = std::get<Flow>(event.body);
        // A flow whose process the trace never showed (a log with bare pids) is still resolved,
        // so its verdict is shown; the world has no truth for it, so the oracle stays silent.
        apply(i);
        flows_[flow.flow_id] = flow;
        if (!first_lookup_.count(flow.flow_id) && !verdict_at_.count(flow.flow_id)) {
          // No lookups, no verdict: resolve right away, or after the world events of the
          // lookup delay (they are its races).
          resolve(flow.flow_id, i + 1, delayed_lookup_end(i));
        }
      } else if (kind == EventKind::kLookup || kind == EventKind::kVerdict) {
        uint64_t flow_id = *flow_of(event);
        if (resolved_.count(flow_id) || !flows_.count(flow_id)) continue;
        auto verdict = verdict_at_.find(flow_id);
        std::size_t end = verdict == verdict_at_.end() ? events_.size() : verdict->second;
        resolve(flow_id, i, std::max(end, i));
      }
    }
    // Golden entries for flows this trace never showed.
    for (const auto& [flow_id, v] : golden_) {
      result_.differences.push_back(
          {flow_id, v, std::nullopt, "flow in the golden file but not in the trace"});
    }
    result_.events = events_.size();
    result_.verdict_digest = digest_;
    return std::move(result_);
  }

 private:
  static WorldConfig world_config(const ModelOptions& options) {
    WorldConfig config = options.world;
    config.log_events = false;
    config.start_launchd = false;  // the trace's own events say which processes exist.
    return config;
  }

  // The end of the events that run before the delayed lookup of the flow at i: those at most
  // lookup_delay_ns after it.
  std::size_t delayed_lookup_end(std::size_t i) const {
    if (options_.lookup_delay_ns == 0) return i + 1;
    const uint64_t until = events_[i].time_ns + options_.lookup_delay_ns;
    std::size_t end = i + 1;
    while (end < events_.size() && events_[end].time_ns <= until) ++end;
    return end;
  }

  bool apply(std::size_t i) {
    if (const auto* marker = std::get_if<Marker>(&events_[i].body)) {
      std::string error;
      if (scenario::apply_lookup_fault_marker(marker->text, world_, &error)) return true;
      result_.model_errors.push_back(fmt::format("event {}: {}", i, error));
      return false;
    }
    WorldError error = world_.apply(events_[i]);
    if (error == WorldError::kNone) return true;
    result_.model_errors.push_back(
        fmt::format("event {} ({}): {}", i, describe_event(events_[i]), name_of(error)));
    return false;
  }

  // Resolves flow_id. World events in [from, end) not yet applied are its races: an event after
  // k of the flow's lookups runs before the replayed resolver's seam call k+1.
  void resolve(uint64_t flow_id, std::size_t from, std::size_t end) {
    resolved_.insert(flow_id);
    std::vector<std::pair<std::size_t, std::size_t>> races;  // (lookups before, event index)
    std::size_t lookups_seen = 0;
    for (std::size_t j = from; j < end; ++j) {
      if (consumed_[j]) continue;
      const Event& e = events_[j];
      if (auto* l = std::get_if<Lookup>(&e.body); l != nullptr && l->flow_id == flow_id) {
        ++lookups_seen;
        consumed_[j] = true;
      } else if (changes_replayed_world(e)) {
        races.emplace_back(lookups_seen, j);
        consumed_[j] = true;
      }
    }
    std::size_t next_race = 0;
    uint32_t calls = 0;
    if (!races.empty()) {
      world_.set_scheduler_hook([&](LookupCall, World&) {
        ++calls;
        while (next_race < races.size() && races[next_race].first + 1 <= calls) {
          apply(races[next_race++].second);
        }
      });
    }
    FlowCheck check =
        resolve_and_check(world_, resolver_, filter_, flows_[flow_id], options_.oracle);
    world_.clear_scheduler_hook();
    while (next_race < races.size()) apply(races[next_race++].second);

    ++result_.flows;
    for (auto& finding : check.findings) result_.findings.push_back(std::move(finding));
    if (options_.golden) {
      auto it = golden_.find(flow_id);
      if (it == golden_.end()) {
        result_.differences.push_back(
            {flow_id, std::nullopt, check.verdict, "flow missing from the golden file"});
      } else {
        std::string what = compare_verdicts(it->second, check.verdict);
        if (!what.empty())
          result_.differences.push_back({flow_id, it->second, check.verdict, what});
        golden_.erase(it);
      }
    }
    digest_ = trace::event_digest(digest_, Event{world_.now_ns(), check.verdict});
    result_.produced.push_back(std::move(check.verdict));
  }

  const std::vector<Event>& events_;
  Resolver& resolver_;
  const Filter& filter_;
  const ModelOptions& options_;
  World world_;
  std::vector<bool> consumed_;
  std::map<uint64_t, std::size_t> first_lookup_;
  std::map<uint64_t, std::size_t> verdict_at_;
  std::map<uint64_t, Flow> flows_;
  std::set<uint64_t> resolved_;
  std::map<uint64_t, Verdict> golden_;
  uint64_t digest_ = trace::kDigestSeed;
  TraceReplayResult result_;
};

}  // namespace

TraceReplayResult replay_model_events(const std::string& path, const std::vector<Event>& events,
                                      Resolver& resolver, const Filter& filter,
                                      const ModelOptions& options) {
  return ModelReplay(path, events, resolver, filter, options).run();
}

TraceReplayResult replay_model(const std::string& path, trace::TraceReader& reader,
                               Resolver& resolver, const Filter& filter,
                               const ModelOptions& options) {
  if (!reader.ok()) {
    TraceReplayResult result;
    result.path = path;
    result.readable = false;
    for (const auto& issue : reader.issues())
      result.read_issues.push_back(trace::describe(issue, path));
    return result;
  }
  std::vector<Event> events;
  Event event;
  while (reader.next(event)) events.push_back(event);
  TraceReplayResult result = replay_model_events(path, events, resolver, filter, options);
  for (const auto& issue : reader.issues())
    result.read_issues.push_back(trace::describe(issue, path));
  return result;
}

}  // namespace flowid::replay
