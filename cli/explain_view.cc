// The explain view (see explain_view.h): lanes, the timeline with its interferences, the claim
// against the truth. Every line is cut to kExplainWidth columns (paths are shortened from the
// left, where their least telling part is).
#include "cli/explain_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "harness/event_format.h"
#include "harness/fuzz/property.h"
#include "replay/fixture.h"

namespace flowid::cli {
namespace {

constexpr std::size_t kLanesMax = 12;  // more executions are listed but get no lane.

std::string cut(std::string line, std::size_t width = kExplainWidth) {
  if (line.size() <= width) return line;
  line.resize(width - 3);
  return line + "...";
}

// Breaks a long line at spaces; continuation lines start with `indent` spaces.
std::vector<std::string> wrap(const std::string& line, std::size_t indent,
                              std::size_t width = kExplainWidth) {
  std::vector<std::string> out;
  std::string rest = line;
  while (rest.size() > width) {
    std::size_t at = rest.rfind(' ', width);
    if (at == std::string::npos || at <= indent) break;
    out.push_back(rest.substr(0, at));
    rest = std::string(indent, ' ') + rest.substr(at + 1);
  }
  out.push_back(cut(rest, width));
  return out;
}

// "/Applications/Good.app/Contents/MacOS/Good" -> ".../Contents/MacOS/Good" when too long.
std::string short_path(const std::string& path, std::size_t width = 44) {
  if (path.size() <= width) return path;
  return "..." + path.substr(path.size() - (width - 3));
}

struct Lane {
  ExecutionId id;
  std::string label;  // the scenario's name, or "".
  std::string image;
  char letter = ' ';  // ' ': no lane (too many executions).
};

// With --flow N, what the picture keeps of a large trace: the pids the flow and its resolver's
// calls name (their executions, before and after pid reuse, get lanes and their lifecycle is
// shown), and the paths those calls and executions name (their file changes are shown). Without
// --flow (a counterexample's few steps) everything is kept.
struct Focus {
  bool all = true;
  std::set<int32_t> pids;
  std::set<std::string> paths;

  static Focus of(const ExplainInput& input) {
    Focus f;
    if (!input.flow) return f;
    f.all = false;
    for (const auto& event : input.events) {
      const auto* flow = std::get_if<Flow>(&event.body);
      if (flow == nullptr || flow->flow_id != *input.flow) continue;
      for (const FlowToken* t :
           {&flow->source_app_audit_token, &flow->source_process_audit_token}) {
        if (t->present) f.pids.insert(t->token.pid());
      }
    }
    if (auto calls = input.calls.find(*input.flow); calls != input.calls.end()) {
      for (const auto& call : calls->second) {
        if (call.args.token) f.pids.insert(call.args.token->pid());
        if (call.args.pid != 0) f.pids.insert(call.args.pid);
        if (call.data.token) f.pids.insert(call.data.token->pid());
        if (call.data.pid != 0) f.pids.insert(call.data.pid);
        if (!call.args.path.empty()) f.paths.insert(call.args.path);
        if (!call.data.path.empty()) f.paths.insert(call.data.path);
        if (call.data.identity) f.paths.insert(call.data.identity->path);
      }
    }
    for (const auto& event : input.events) {
      if (const auto* sp = std::get_if<ProcessSpawn>(&event.body); sp && f.keeps(sp->token))
        f.paths.insert(sp->image.path);
      if (const auto* ex = std::get_if<ProcessExec>(&event.body); ex && f.keeps(ex->token))
        f.paths.insert(ex->image.path);
    }
    return f;
  }
  bool keeps(const AuditToken& token) const { return all || pids.count(token.pid()) > 0; }
  bool keeps(const Event& event) const {
    if (all) return true;
    return std::visit(
        [&](const auto& body) -> bool {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, ProcessSpawn>) return keeps(body.token);
          if constexpr (std::is_same_v<T, ProcessExec>) return keeps(body.previous);
          if constexpr (std::is_same_v<T, ProcessExit>) return keeps(body.token);
          if constexpr (std::is_same_v<T, FileChange>)
            return paths.count(body.path) > 0 || paths.count(body.new_path) > 0;
          if constexpr (std::is_same_v<T, Marker>) return true;
          return true;
        },
        event.body);
  }
};

// Everything the view needs to name things.
class Names {
 public:
  Names(const ExplainInput& input, const Focus& focus) {
    for (const auto& [key, value] : input.header.resolver_config) {
      std::string_view k = key;
      if (k.starts_with(replay::kExecutionLabelPrefix)) {
        exec_labels_[std::string(k.substr(replay::kExecutionLabelPrefix.size()))] = value;
      } else if (k.starts_with(replay::kFlowLabelPrefix)) {
        flow_labels_[std::string(k.substr(replay::kFlowLabelPrefix.size()))] = value;
      }
    }
    for (const auto& event : input.events) {
      const auto* sp = std::get_if<ProcessSpawn>(&event.body);
      if (sp != nullptr && focus.keeps(sp->token)) add(sp->token, sp->image.path);
      const auto* ex = std::get_if<ProcessExec>(&event.body);
      if (ex != nullptr && focus.keeps(ex->token)) add(ex->token, ex->image.path);
    }
  }

  const std::vector<Lane>& lanes() const { return lanes_; }
  std::size_t lane_count() const { return std::min(lanes_.size(), kLanesMax); }

  const Lane* lane(const ExecutionId& id) const {
    for (const auto& l : lanes_) {
      if (l.id == id) return &l;
    }
    return nullptr;
  }
  int lane_index(const ExecutionId& id) const {
    for (std::size_t i = 0; i < lane_count(); ++i) {
      if (lanes_[i].id == id) return static_cast<int>(i);
    }
    return -1;
  }

  // "100.1 [A p1]", "100.1" when unknown.
  std::string execution(const ExecutionId& id) const {
    std::string text = fmt::format("{}.{}", id.pid, id.pidversion);
    const Lane* l = lane(id);
    if (l == nullptr) return text;
    std::string tag;
    if (l->letter != ' ') tag += l->letter;
    if (!l->label.empty()) tag += (tag.empty() ? "" : " ") + l->label;
    return tag.empty() ? text : fmt::format("{} [{}]", text, tag);
  }
  std::string execution(const AuditToken& token) const { return execution(token.execution()); }

  // "#1 (f1)" or "#1".
  std::string flow(uint64_t id) const {
    auto it = flow_labels_.find(std::to_string(id));
    return it == flow_labels_.end() ? fmt::format("#{}", id)
                                    : fmt::format("#{} ({})", id, it->second);
  }

 private:
  void add(const AuditToken& token, const std::string& image) {
    const ExecutionId id = token.execution();
    if (lane(id) != nullptr) return;
    Lane l;
    l.id = id;
    l.image = image;
    auto it = exec_labels_.find(fmt::format("{}.{}", id.pid, id.pidversion));
    if (it != exec_labels_.end()) l.label = it->second;
    if (lanes_.size() < kLanesMax) l.letter = static_cast<char>('A' + lanes_.size());
    lanes_.push_back(std::move(l));
  }

  std::map<std::string, std::string> exec_labels_;
  std::map<std::string, std::string> flow_labels_;
  std::vector<Lane> lanes_;
};

// The execution that opened a flow: its process token when well formed, else its app token.
std::optional<ExecutionId> opener(const Flow& flow) {
  if (flow.source_process_audit_token.well_formed())
    return flow.source_process_audit_token.token.execution();
  if (flow.source_app_audit_token.well_formed())
    return flow.source_app_audit_token.token.execution();
  return std::nullopt;
}

std::string call_text(const Lookup& lookup, const Names& names) {
  const LookupArgs& a = lookup.args;
  std::vector<std::string> args;
  if (a.token) args.push_back(names.execution(*a.token));
  if (a.pid != 0) args.push_back(std::to_string(a.pid));
  if (a.code_handle != 0) args.push_back(fmt::format("code#{}", a.code_handle));
  if (!a.path.empty()) args.push_back(short_path(a.path, 30));
  if (!a.requirement.empty()) args.push_back("requirement");
  std::string joined;
  for (const auto& arg : args) joined += (joined.empty() ? "" : ", ") + arg;
  std::string text = fmt::format("{}({}) -> ", name_of(lookup.call), joined);
  if (!lookup.outcome.ok()) return text + describe_outcome(lookup.outcome);
  const LookupData& d = lookup.data;
  if (d.identity) return text + describe_identity(*d.identity);
  if (!d.path.empty()) return text + short_path(d.path);
  if (d.token) return text + names.execution(*d.token);
  if (d.code_handle != 0) return text + fmt::format("code#{}", d.code_handle);
  if (d.pid != 0) return text + std::to_string(d.pid);
  return text + "ok";
}

std::string verdict_text(const Verdict& v) {
  std::string text = fmt::format("{}, {}", name_of(v.decision), name_of(v.status));
  if (v.identity) text += ": " + describe_identity(*v.identity);
  if (!v.rule.empty()) text += fmt::format(" (rule {})", v.rule);
  return text;
}

// One world event in words, or "" for events that are not world changes.
std::string world_text(const Event& event, const Names& names) {
  return std::visit(
      [&](const auto& body) -> std::string {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, ProcessSpawn>) {
          return fmt::format("spawn {} {}", names.execution(body.token),
                             short_path(body.image.path));
        } else if constexpr (std::is_same_v<T, ProcessExec>) {
          return fmt::format("exec {} -> {} {}", names.execution(body.previous),
                             names.execution(body.token), short_path(body.image.path));
        } else if constexpr (std::is_same_v<T, ProcessExit>) {
          return fmt::format("exit {}{}", names.execution(body.token),
                             body.stage == ExitStage::kExited ? " (zombie)" : "");
        } else if constexpr (std::is_same_v<T, FileChange>) {
          std::string text = fmt::format("file {} {}", name_of(body.op), short_path(body.path));
          if (body.op == FileOp::kRename) text += " -> " + short_path(body.new_path);
          if (body.image) text += fmt::format(" ({})", name_of(body.image->signature));
          return text;
        } else if constexpr (std::is_same_v<T, Marker>) {
          return body.text;
        } else if constexpr (std::is_same_v<T, DroppedEvents>) {
          return fmt::format("{} events dropped ({})", body.count, body.reason);
        } else {
          return {};
        }
      },
      event.body);
}

std::string time_text(uint64_t ns) {
  return fmt::format("{:>9.3f}", static_cast<double>(ns) / 1e6);
}

struct FlowState {
  uint64_t recorded_lookups = 0;  // the trace's lookups of this flow seen so far.
  std::size_t calls_shown = 0;    // the resolver's own calls printed so far.
  bool opened = false;
  bool resolving = false;
  bool done = false;
};

class Timeline {
 public:
  Timeline(const ExplainInput& input, const Names& names, const Focus& focus)
      : input_(input), names_(names), focus_(focus) {
    alive_.assign(names.lane_count(), ' ');
  }

  std::vector<std::string> lines() {
    for (const auto& event : input_.events) step(event);
    return std::move(lines_);
  }

  // The interferences per flow, for the short form.
  const std::map<uint64_t, std::vector<std::string>>& interferences() const {
    return interferences_;
  }

 private:
  bool in_scope(uint64_t flow_id) const { return !input_.flow || *input_.flow == flow_id; }

  std::string lanes_with(int lane, char mark) const {
    std::string out;
    for (std::size_t i = 0; i < alive_.size(); ++i) {
      out += static_cast<int>(i) == lane ? mark : alive_[i];
      out += ' ';
    }
    return out;
  }

  void row(uint64_t time_ns, int lane, char mark, const std::string& text) {
    lines_.push_back(
        cut(fmt::format("{} {} {}", time_text(time_ns), lanes_with(lane, mark), text)));
  }
  void blank_row(const std::string& text) {
    lines_.push_back(cut(fmt::format("{:>9} {} {}", "", lanes_with(-1, ' '), text)));
  }

  // The lane a call reached: its token's execution, or whatever holds its pid now.
  int reached(const Lookup& lookup) const {
    if (lookup.args.token) return names_.lane_index(lookup.args.token->execution());
    if (lookup.args.pid != 0) {
      for (std::size_t i = 0; i < alive_.size(); ++i) {
        if (names_.lanes()[i].id.pid == lookup.args.pid && alive_[i] != ' ')
          return static_cast<int>(i);
      }
    }
    return -1;
  }

  void show_calls(uint64_t flow_id, std::size_t upto, uint64_t time_ns) {
    auto it = input_.calls.find(flow_id);
    if (it == input_.calls.end()) return;
    FlowState& f = flows_[flow_id];
    upto = std::min(upto, it->second.size());
    for (; f.calls_shown < upto; ++f.calls_shown) {
      const Lookup& call = it->second[f.calls_shown];
      row(time_ns, reached(call), '?',
          fmt::format("  call {}  {}", f.calls_shown + 1, call_text(call, names_)));
    }
  }

  void start_resolution(uint64_t flow_id, uint64_t time_ns) {
    FlowState& f = flows_[flow_id];
    if (f.resolving || f.done) return;
    f.resolving = true;
    auto it = input_.calls.find(flow_id);
    const std::size_t n = it == input_.calls.end() ? 0 : it->second.size();
    row(time_ns, -1, ' ',
        fmt::format("resolve {} by {}: {} seam call{}", names_.flow(flow_id), input_.resolver, n,
                    n == 1 ? "" : "s"));
  }

  void step(const Event& event) {
    const uint64_t t = event.time_ns;
    // One flow: nothing after its verdict, and only the world changes that concern it.
    if (input_.flow && flows_[*input_.flow].done) return;
    if (!focus_.keeps(event)) return;
    if (const auto* flow = std::get_if<Flow>(&event.body)) {
      if (!in_scope(flow->flow_id)) return;
      flows_[flow->flow_id].opened = true;
      auto who = opener(*flow);
      std::string host =
          !flow->remote_hostname.empty() ? flow->remote_hostname : flow->remote_endpoint.address;
      row(t, who ? names_.lane_index(*who) : -1, 'F',
          fmt::format("flow {} opened by {} -> {}:{}", names_.flow(flow->flow_id),
                      who ? names_.execution(*who) : std::string("(no token)"), host,
                      flow->remote_endpoint.port));
      return;
    }
    if (const auto* lookup = std::get_if<Lookup>(&event.body)) {
      if (!in_scope(lookup->flow_id)) return;
      start_resolution(lookup->flow_id, t);
      FlowState& f = flows_[lookup->flow_id];
      ++f.recorded_lookups;
      return;
    }
    if (const auto* verdict = std::get_if<Verdict>(&event.body)) {
      if (!in_scope(verdict->flow_id)) return;
      start_resolution(verdict->flow_id, t);
      show_calls(verdict->flow_id, SIZE_MAX, t);
      FlowState& f = flows_[verdict->flow_id];
      f.resolving = false;
      f.done = true;
      auto produced = input_.produced.find(verdict->flow_id);
      const Verdict& shown = produced == input_.produced.end() ? *verdict : produced->second;
      row(t, -1, ' ',
          fmt::format("verdict {}: {}", names_.flow(verdict->flow_id), verdict_text(shown)));
      return;
    }
    // A world change: its lane mark, and where it landed for each flow open at the time.
    std::string text = world_text(event, names_);
    int lane = -1;
    char mark = ' ';
    std::vector<std::pair<int, char>> after;  // lane states to set once the row is drawn.
    if (const auto* s = std::get_if<ProcessSpawn>(&event.body)) {
      lane = names_.lane_index(s->token.execution());
      mark = 'o';
      after.emplace_back(lane, '|');
    } else if (const auto* e = std::get_if<ProcessExec>(&event.body)) {
      lane = names_.lane_index(e->previous.execution());
      mark = 'e';
      after.emplace_back(lane, ' ');
      after.emplace_back(names_.lane_index(e->token.execution()), '|');
    } else if (const auto* x = std::get_if<ProcessExit>(&event.body)) {
      lane = names_.lane_index(x->token.execution());
      const bool zombie = x->stage == ExitStage::kExited;
      mark = zombie ? 'z' : 'x';
      after.emplace_back(lane, zombie ? ':' : ' ');
    }
    std::vector<std::string> where;
    for (auto& [id, f] : flows_) {
      if (!f.opened || f.done) continue;
      if (!f.resolving) {
        where.push_back(
            fmt::format("after flow {} opened, before its resolution", names_.flow(id)));
        interferences_[id].push_back(text + " (before the resolution)");
        continue;
      }
      show_calls(id, f.recorded_lookups, t);
      auto it = input_.calls.find(id);
      const std::size_t n = it == input_.calls.end() ? 0 : it->second.size();
      const std::string at =
          f.calls_shown < n
              ? fmt::format("before call {} of {}", f.calls_shown + 1, names_.flow(id))
              : fmt::format("after the last call of {}", names_.flow(id));
      where.push_back(at);
      interferences_[id].push_back(fmt::format("{} ({})", text, at.substr(0, at.find(" of "))));
    }
    row(t, lane, mark, where.empty() ? text : "!! " + text);
    for (const auto& [index, state] : after) {
      if (index >= 0) alive_[static_cast<std::size_t>(index)] = state;
    }
    for (const auto& w : where) blank_row("   landed " + w);
  }

  const ExplainInput& input_;
  const Names& names_;
  const Focus& focus_;
  std::string alive_;
  std::map<uint64_t, FlowState> flows_;
  std::map<uint64_t, std::vector<std::string>> interferences_;
  std::vector<std::string> lines_;
};

std::vector<const Finding*> findings_of(const ExplainInput& input, uint64_t flow_id) {
  std::vector<const Finding*> out;
  for (const auto& f : input.findings) {
    if (f.flow_id == flow_id) out.push_back(&f);
  }
  std::stable_sort(out.begin(), out.end(), [](const Finding* a, const Finding* b) {
    return a->severity == Severity::kViolation && b->severity != Severity::kViolation;
  });
  return out;
}

std::vector<uint64_t> flows_in(const ExplainInput& input) {
  std::vector<uint64_t> ids;
  for (const auto& event : input.events) {
    if (const auto* flow = std::get_if<Flow>(&event.body)) {
      if (!input.flow || *input.flow == flow->flow_id) ids.push_back(flow->flow_id);
    }
  }
  return ids;
}

std::string truth_text(const Finding& f, const Names& names) {
  std::string text = f.true_execution ? names.execution(*f.true_execution) : "(no execution)";
  if (f.true_image) text += ": " + describe_identity(*f.true_image);
  return text;
}

// The claim, the truth and the broken invariant of one flow, each line indented by `indent`.
std::vector<std::string> judgement(const ExplainInput& input, const Names& names, uint64_t flow_id,
                                   std::string_view indent, std::size_t width = kExplainWidth) {
  std::vector<std::string> out;
  const auto findings = findings_of(input, flow_id);
  auto produced = input.produced.find(flow_id);
  if (produced != input.produced.end()) {
    out.push_back(fmt::format("{}claim   {}", indent, verdict_text(produced->second)));
  } else {
    out.push_back(fmt::format("{}claim   (no verdict)", indent));
  }
  const Finding* first = findings.empty() ? nullptr : findings.front();
  if (first != nullptr && first->claim && first->claim->claimed_execution) {
    out.push_back(fmt::format("{}  as    {} ({})", indent,
                              names.execution(*first->claim->claimed_execution),
                              first->claim->method.empty() ? "no method" : first->claim->method));
  }
  if (first != nullptr)
    out.push_back(fmt::format("{}truth   {}", indent, truth_text(*first, names)));
  if (findings.empty()) {
    out.push_back(fmt::format("{}broken  nothing: the oracle found no invariant broken", indent));
  }
  for (const Finding* f : findings) {
    out.push_back(fmt::format("{}broken  {} {}: {}", indent, name_of(f->invariant),
                              name_of(f->severity), f->message));
  }
  if (produced != input.produced.end()) {
    Attribution claim;
    if (first != nullptr && first->claim) {
      claim = *first->claim;
    } else {
      claim.status = produced->second.status;
      claim.identity = produced->second.identity;
    }
    std::vector<Finding> all;
    for (const Finding* f : findings) all.push_back(*f);
    out.push_back(fmt::format("{}cell    {}", indent, name_of(classify_flow(claim, all))));
  }
  std::vector<std::string> wrapped;
  for (const auto& line : out) {
    for (auto& part : wrap(line, indent.size() + 8, width)) wrapped.push_back(std::move(part));
  }
  return wrapped;
}

std::string header_value(const trace::TraceHeader& header, std::string_view key) {
  for (const auto& [k, v] : header.resolver_config) {
    if (k == key) return v;
  }
  return {};
}

std::string title(const ExplainInput& input) {
  std::string scenario = header_value(input.header, "scenario");
  return cut(fmt::format("flowid explain: {}{} (resolver {})", input.source,
                         scenario.empty() ? "" : ", scenario " + scenario, input.resolver));
}

}  // namespace

std::vector<std::string> explain_lines(const ExplainInput& input) {
  const Focus focus = Focus::of(input);
  const Names names(input, focus);
  std::vector<std::string> out;
  out.push_back(title(input));
  out.push_back("");
  out.push_back("executions (one lane each)");
  for (const auto& l : names.lanes()) {
    out.push_back(cut(fmt::format("  {}  {:<12} {:<8} {}", l.letter,
                                  fmt::format("{}.{}", l.id.pid, l.id.pidversion),
                                  l.label.empty() ? "-" : l.label, l.image)));
  }
  if (names.lanes().size() > kLanesMax)
    out.push_back(fmt::format("  ({} executions past the first {} have no lane)",
                              names.lanes().size() - kLanesMax, kLanesMax));
  const auto flows = flows_in(input);
  if (flows.empty()) {
    out.push_back("");
    out.push_back(input.flow ? fmt::format("no flow #{} in this trace", *input.flow)
                             : std::string("no flow in this trace"));
    return out;
  }
  out.push_back("");
  out.push_back(
      "timeline (ms; lanes: o spawn  e exec'd away  x exit  z zombie  F flow  ? call reached it)");
  std::string letters;
  for (std::size_t i = 0; i < names.lane_count(); ++i) {
    letters += names.lanes()[i].letter;
    letters += ' ';
  }
  out.push_back(cut(fmt::format("{:>9} {} {}", "time", letters, "what")));
  Timeline timeline(input, names, focus);
  for (auto& line : timeline.lines()) out.push_back(std::move(line));
  for (uint64_t id : flows) {
    out.push_back("");
    out.push_back(cut(fmt::format("flow {}", names.flow(id))));
    for (auto& line : judgement(input, names, id, "  ")) out.push_back(std::move(line));
  }
  if (!input.notes.empty()) {
    out.push_back("");
    out.push_back("model replay notes");
    for (const auto& n : input.notes) out.push_back(cut("  " + n));
  }
  return out;
}

std::vector<std::string> explain_short_lines(const ExplainInput& input) {
  const auto flows = flows_in(input);
  if (flows.empty()) return {};
  uint64_t chosen = flows.front();
  for (uint64_t id : flows) {
    bool violated = false;
    for (const Finding* f : findings_of(input, id)) violated |= f->severity == Severity::kViolation;
    if (violated) {
      chosen = id;
      break;
    }
  }
  ExplainInput one = input;
  one.flow = chosen;
  const Focus focus = Focus::of(one);
  const Names names(one, focus);
  Timeline timeline(one, names, focus);
  (void)timeline.lines();
  std::vector<std::string> out;
  std::string opened;
  for (const auto& event : input.events) {
    if (const auto* flow = std::get_if<Flow>(&event.body); flow && flow->flow_id == chosen) {
      auto who = opener(*flow);
      const Lane* lane = who ? names.lane(*who) : nullptr;
      opened = who ? names.execution(*who) : "(no token)";
      if (lane != nullptr) opened += " " + short_path(lane->image);
    }
  }
  constexpr std::size_t kWidth = kExplainShortWidth;
  out.push_back(cut(fmt::format("why: flow {} opened by {}", names.flow(chosen), opened), kWidth));
  auto landed = timeline.interferences().find(chosen);
  if (landed != timeline.interferences().end()) {
    for (const auto& text : landed->second) out.push_back(cut("  !! " + text, kWidth));
  }
  auto calls = input.calls.find(chosen);
  if (calls != input.calls.end()) {
    std::size_t k = 0;
    for (const auto& call : calls->second)
      out.push_back(cut(fmt::format("  call {}  {}", ++k, call_text(call, names)), kWidth));
  }
  for (auto& line : judgement(input, names, chosen, "  ", kWidth)) out.push_back(std::move(line));
  return out;
}

}  // namespace flowid::cli
