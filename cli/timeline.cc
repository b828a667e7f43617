// `flowid timeline TRACE... -o out.html`: traces as one self-contained HTML page (inline CSS and
// JS, nothing fetched) that draws a lane per execution, the flows, the seam calls as spans, the
// verdicts, the world changes that landed while a flow was being resolved (highlighted as faults)
// and the violation of a counterexample, with zoom (wheel) and pan (drag).
//
// Data. Each trace is read whole and model-replayed with a resolver the way `flowid explain` does
// it (cli/explain.h: the trace's recording strategy when flowid knows it, else --resolver), so the
// oracle's findings say which flow broke which invariant. A trace the model cannot replay (a field
// recording with no world in its header) is still drawn, without findings, and says why. The page
// carries everything as one JSON blob (nlohmann ordered_json) in <script type="application/json"
// id="flowid-data">, with "</" written "<\/" so no string can close the script element.
//
// Layout. The x axis is the event's position in its trace (a step), not its time: a
// counterexample's virtual time puts a whole race at one instant, and steps show the order that
// decided it; each item keeps its time for the tooltip. Items are compact arrays
// [lane, x0, x1, kind, text, time_ns] so a recording of 100 k events stays a few megabytes; the
// page draws on a canvas only the items in view, one per pixel column per lane and kind.
//
// DOM, for tests and users: the lane names are div.lane (data-lane = index), a violation is a
// div.violation over the canvas (the first one id="violation"), the summary is #summary.
//
// The output goes to a temporary file renamed into place; an output naming an input is refused.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/explain.h"
#include "cli/output.h"
#include "cli/plugin_pool.h"
#include "cli/report.h"
#include "cli/trace_io.h"
#include "harness/event_format.h"
#include "harness/strategies/catalog.h"
#include "replay/fixture.h"

namespace flowid::cli {
namespace {

using Json = nlohmann::ordered_json;

// Item kinds, as the page's KINDS table names them.
enum Kind : int {
  kFlow = 0,       // a flow from its opening to its verdict.
  kCall = 1,       // one seam call with its outcome.
  kVerdict = 2,    // the filter's verdict.
  kFault = 3,      // a world change that landed while a flow was being resolved.
  kLifecycle = 4,  // spawn, exec, exit outside any resolution.
  kWorld = 5,      // file changes, markers, dropped events.
};

struct TimelineOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string resolver;
};

std::string header_value(const trace::TraceHeader& header, std::string_view key) {
  for (const auto& [k, v] : header.resolver_config) {
    if (k == key) return v;
  }
  return {};
}

// Builds the lanes and items of one trace into the page's data.
class TraceLayout {
 public:
  TraceLayout(const ExplainInput& input, std::size_t trace_index, Json& lanes, Json& items,
              Json& violations)
      : input_(input), trace_(trace_index), lanes_(lanes), items_(items), violations_(violations) {
    for (const auto& [key, value] : input.header.resolver_config) {
      if (key.starts_with(replay::kExecutionLabelPrefix))
        exec_labels_[key.substr(replay::kExecutionLabelPrefix.size())] = value;
      else if (key.starts_with(replay::kFlowLabelPrefix))
        flow_labels_[key.substr(replay::kFlowLabelPrefix.size())] = value;
    }
    world_lane_ = add_lane("world", "", "files, markers");
  }

  void lay_out() {
    for (const auto& event : input_.events) {
      std::visit([&](const auto& body) { on(event.time_ns, body); }, event.body);
      ++step_;
    }
    // Flows never given a verdict end where the trace ends.
    for (auto& [id, open] : open_flows_) flow_span(id, open, step_, "no verdict");
  }

 private:
  struct OpenFlow {
    int lane = 0;
    double x0 = 0;
    uint64_t time_ns = 0;
  };

  int add_lane(const std::string& name, const std::string& label, const std::string& image) {
    const int index = static_cast<int>(lanes_.size());
    lanes_.push_back({{"trace", trace_}, {"name", name}, {"label", label}, {"image", image}});
    return index;
  }

  int lane(const ExecutionId& id, const std::string& image = {}) {
    auto it = lane_of_.find(id);
    if (it != lane_of_.end()) {
      if (!image.empty() && lanes_[it->second]["image"].get<std::string>().empty())
        lanes_[it->second]["image"] = image;
      return it->second;
    }
    const std::string name = fmt::format("{}.{}", id.pid, id.pidversion);
    auto label = exec_labels_.find(name);
    const int index = add_lane(name, label == exec_labels_.end() ? "" : label->second, image);
    lane_of_[id] = index;
    return index;
  }

  std::string flow_name(uint64_t id) const {
    auto it = flow_labels_.find(std::to_string(id));
    return it == flow_labels_.end() ? fmt::format("#{}", id)
                                    : fmt::format("#{} ({})", id, it->second);
  }

  void item(int lane, double x0, double x1, Kind kind, const std::string& text, uint64_t t) {
    items_.push_back(Json::array({lane, x0, x1, kind, text, t}));
  }

  // World changes during a resolution are the faults that can fool it.
  void change(uint64_t t, int lane, const std::string& text) {
    if (open_flows_.empty()) {
      item(lane, step_, step_ + 1, kLifecycle, text, t);
      return;
    }
    std::string during;
    for (const auto& [id, open] : open_flows_)
      during += (during.empty() ? "" : ", ") + flow_name(id);
    item(lane, step_, step_ + 1, kFault, fmt::format("{} (while resolving flow {})", text, during),
         t);
  }

  void flow_span(uint64_t id, const OpenFlow& open, double x1, const std::string& end) {
    item(open.lane, open.x0, std::max(x1, open.x0 + 1), kFlow,
         fmt::format("flow {} ({})", flow_name(id), end), open.time_ns);
  }

  void on(uint64_t t, const ProcessSpawn& e) {
    change(t, lane(e.token.execution(), e.image.path),
           fmt::format("spawn {} {} (parent {})", short_execution(e.token), e.image.path,
                       short_execution(e.parent)));
  }
  void on(uint64_t t, const ProcessExec& e) {
    lane(e.previous.execution());
    change(t, lane(e.token.execution(), e.image.path),
           fmt::format("exec {} -> {} {}", short_execution(e.previous), short_execution(e.token),
                       e.image.path));
  }
  void on(uint64_t t, const ProcessExit& e) {
    change(
        t, lane(e.token.execution()),
        fmt::format("{} {} (status {})", e.stage == ExitStage::kExited ? "exit (zombie)" : "exit",
                    short_execution(e.token), e.status));
  }
  void on(uint64_t t, const FileChange& e) {
    std::string text = fmt::format("file {} {}", name_of(e.op), e.path);
    if (e.op == FileOp::kRename) text += " -> " + e.new_path;
    change(t, world_lane_, text);
  }
  void on(uint64_t t, const Flow& e) {
    int at = world_lane_;
    if (e.source_process_audit_token.well_formed())
      at = lane(e.source_process_audit_token.token.execution());
    else if (e.source_app_audit_token.well_formed())
      at = lane(e.source_app_audit_token.token.execution());
    flow_lane_[e.flow_id] = at;
    open_flows_[e.flow_id] = {at, static_cast<double>(step_), t};
    const std::string remote =
        e.remote_hostname.empty() ? e.remote_endpoint.address : e.remote_hostname;
    flow_remote_[e.flow_id] = fmt::format("{}:{}", remote, e.remote_endpoint.port);
  }
  void on(uint64_t t, const Lookup& e) {
    auto it = flow_lane_.find(e.flow_id);
    const int at = it == flow_lane_.end() ? world_lane_ : it->second;
    std::string text = fmt::format("{}", name_of(e.call));
    if (e.args.token)
      text += fmt::format("({})", short_execution(*e.args.token));
    else if (e.args.pid != 0)
      text += fmt::format("({})", e.args.pid);
    text += fmt::format(" -> {} (flow {})", describe_outcome(e.outcome), flow_name(e.flow_id));
    item(at, step_, step_ + 1, kCall, text, t);
  }
  void on(uint64_t t, const Verdict& e) {
    auto it = flow_lane_.find(e.flow_id);
    const int at = it == flow_lane_.end() ? world_lane_ : it->second;
    auto produced = input_.produced.find(e.flow_id);
    const Verdict& shown = produced == input_.produced.end() ? e : produced->second;
    std::string text = fmt::format("verdict flow {}: {} {}", flow_name(e.flow_id),
                                   name_of(shown.decision), name_of(shown.status));
    if (shown.identity) text += " " + describe_identity(*shown.identity);
    if (!shown.rule.empty()) text += " (rule " + shown.rule + ")";
    item(at, step_, step_ + 1, kVerdict, text, t);
    auto open = open_flows_.find(e.flow_id);
    if (open != open_flows_.end()) {
      flow_span(e.flow_id, open->second, step_ + 1, "to " + flow_remote_[e.flow_id]);
      open_flows_.erase(open);
    }
    for (const auto& f : input_.findings) {
      if (f.flow_id != e.flow_id || f.severity != Severity::kViolation || judged_[e.flow_id])
        continue;
      judged_[e.flow_id] = true;
      violations_.push_back({{"trace", trace_},
                             {"lane", at},
                             {"x", step_},
                             {"flow", flow_name(e.flow_id)},
                             {"invariant", name_of(f.invariant)},
                             {"claim", text},
                             {"message", describe(f)}});
    }
  }
  void on(uint64_t t, const Marker& e) { item(world_lane_, step_, step_ + 1, kWorld, e.text, t); }
  void on(uint64_t t, const DroppedEvents& e) {
    item(world_lane_, step_, step_ + 1, kWorld,
         fmt::format("{} events dropped ({})", e.count, e.reason), t);
  }

  const ExplainInput& input_;
  const std::size_t trace_;
  Json& lanes_;
  Json& items_;
  Json& violations_;
  std::map<std::string, std::string> exec_labels_;
  std::map<std::string, std::string> flow_labels_;
  std::map<ExecutionId, int> lane_of_;
  std::map<uint64_t, int> flow_lane_;
  std::map<uint64_t, std::string> flow_remote_;
  std::map<uint64_t, OpenFlow> open_flows_;
  std::map<uint64_t, bool> judged_;
  int world_lane_ = 0;
  std::size_t step_ = 0;
};

// The page around the data; the data's JSON goes between kPageHead and kPageTail.
constexpr std::string_view kPageHead = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>flowid timeline</title>
<style>
  html, body { margin: 0; height: 100%; font: 13px/1.35 system-ui, sans-serif; color: #222; }
  body { display: flex; flex-direction: column; }
  header { padding: 6px 10px; border-bottom: 1px solid #ccc; background: #f6f6f6; }
  header h1 { font-size: 15px; margin: 0 0 2px 0; }
  #summary { white-space: pre-wrap; }
  #summary .bad { color: #b00; font-weight: 600; }
  #legend span { display: inline-block; margin-right: 12px; }
  #legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
  #main { position: relative; flex: 1; display: flex; overflow: hidden; }
  #names { width: 260px; flex: none; position: relative; overflow: hidden; border-right: 1px solid #ccc; background: #fafafa; }
  .lane { position: absolute; left: 0; right: 0; padding: 0 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; box-sizing: border-box; border-bottom: 1px solid #eee; }
  .lane .label { font-weight: 600; color: #0a5; margin-left: 4px; }
  .lane .image { color: #666; margin-left: 4px; }
  .lane.trace-start { border-top: 2px solid #888; }
  #view { position: relative; flex: 1; overflow: hidden; cursor: grab; }
  #view.dragging { cursor: grabbing; }
  canvas { position: absolute; left: 0; top: 0; }
  .violation { position: absolute; width: 0; border-left: 2px dashed #d00; pointer-events: none; }
  .violation span { position: absolute; top: 2px; left: 4px; background: #d00; color: #fff; padding: 0 4px; white-space: nowrap; font-size: 12px; }
  #tip { position: absolute; display: none; pointer-events: none; background: #222; color: #fff; padding: 3px 6px; font-size: 12px; max-width: 640px; white-space: pre-wrap; z-index: 3; }
</style>
</head>
<body>
<header>
  <h1 id="title">flowid timeline</h1>
  <div id="summary"></div>
  <div id="legend"></div>
</header>
<div id="main">
  <div id="names"></div>
  <div id="view"><canvas id="canvas"></canvas><div id="tip"></div></div>
</div>
<script type="application/json" id="flowid-data">)html";

constexpr std::string_view kPageTail = R"html(</script>
<script>
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("flowid-data").textContent);
  const KINDS = [
    { name: "flow", color: "#9cc3e6", row: 0.15, h: 0.2 },
    { name: "seam call", color: "#2a6fb0", row: 0.4, h: 0.35 },
    { name: "verdict", color: "#1a8a3a", row: 0.3, h: 0.55 },
    { name: "fault (landed during a resolution)", color: "#e0301e", row: 0.2, h: 0.7 },
    { name: "spawn / exec / exit", color: "#999999", row: 0.4, h: 0.35 },
    { name: "world (files, markers)", color: "#b08a2a", row: 0.4, h: 0.35 }
  ];
  const LANE_H = 30;
  const lanes = data.lanes, items = data.items, violations = data.violations;
  const names = document.getElementById("names");
  const view = document.getElementById("view");
  const canvas = document.getElementById("canvas");
  const tip = document.getElementById("tip");
  const ctx = canvas.getContext("2d");

  document.getElementById("title").textContent = "flowid timeline: " + data.title;
  const summary = document.getElementById("summary");
  summary.textContent = data.notes.join("\n");
  for (const v of violations) {
    const line = document.createElement("div");
    line.className = "bad";
    line.textContent = "violation, flow " + v.flow + ": " + v.message;
    summary.appendChild(line);
  }
  const legend = document.getElementById("legend");
  for (const k of KINDS) {
    const s = document.createElement("span");
    const i = document.createElement("i");
    i.style.background = k.color;
    s.appendChild(i);
    s.appendChild(document.createTextNode(k.name));
    legend.appendChild(s);
  }

  // Per lane, the items sorted by start, and the longest item (to find those reaching into view).
  const byLane = lanes.map(() => []);
  const longest = lanes.map(() => 1);
  let maxX = 1;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    byLane[it[0]].push(i);
    longest[it[0]] = Math.max(longest[it[0]], it[2] - it[1]);
    maxX = Math.max(maxX, it[2]);
  }
  for (const list of byLane) list.sort((a, b) => items[a][1] - items[b][1]);

  const laneDivs = lanes.map((l, i) => {
    const d = document.createElement("div");
    d.className = "lane" + (i > 0 && lanes[i - 1].trace !== l.trace ? " trace-start" : "");
    d.dataset.lane = String(i);
    d.style.height = LANE_H + "px";
    d.style.lineHeight = LANE_H + "px";
    d.title = l.name + " " + l.label + " " + l.image;
    d.appendChild(document.createTextNode(l.name));
    if (l.label) { const s = document.createElement("span"); s.className = "label"; s.textContent = l.label; d.appendChild(s); }
    if (l.image) { const s = document.createElement("span"); s.className = "image"; s.textContent = l.image; d.appendChild(s); }
    names.appendChild(d);
    return d;
  });
  const marks = violations.map((v, i) => {
    const d = document.createElement("div");
    d.className = "violation";
    if (i === 0) d.id = "violation";
    d.dataset.lane = String(v.lane);
    const s = document.createElement("span");
    s.textContent = v.invariant + " violated: flow " + v.flow;
    d.appendChild(s);
    view.appendChild(d);
    return d;
  });

  // The view: x0 is the first step shown, scale pixels per step, y0 the first pixel row.
  let width = 0, height = 0, x0 = -0.5, scale = 1, y0 = 0;
  function fit() {
    width = view.clientWidth; height = view.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.floor(width * dpr));
    canvas.height = Math.max(1, Math.floor(height * dpr));
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function firstAtOrAfter(list, x) {
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (items[list[mid]][1] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
  let pending = false;
  function draw() {
    pending = false;
    ctx.clearRect(0, 0, width, height);
    const xEnd = x0 + width / scale;
    const firstLane = Math.max(0, Math.floor(y0 / LANE_H));
    const lastLane = Math.min(lanes.length - 1, Math.floor((y0 + height) / LANE_H));
    // Step grid.
    const stepPx = scale >= 8 ? 1 : Math.pow(10, Math.ceil(Math.log10(8 / scale)));
    ctx.fillStyle = "#f2f2f2";
    if (width / (stepPx * scale) < 2000) {
      for (let s = Math.ceil(x0 / stepPx) * stepPx; s <= xEnd; s += stepPx * 2)
        ctx.fillRect((s - x0) * scale, 0, stepPx * scale, height);
    }
    for (let l = firstLane; l <= lastLane; l++) {
      const top = l * LANE_H - y0;
      ctx.fillStyle = "#e4e4e4";
      ctx.fillRect(0, top + LANE_H - 1, width, 1);
      const list = byLane[l];
      const lastPx = [-1, -1, -1, -1, -1, -1];
      for (let j = firstAtOrAfter(list, x0 - longest[l]); j < list.length; j++) {
        const it = items[list[j]];
        if (it[1] > xEnd) break;
        if (it[2] < x0) continue;
        const k = KINDS[it[3]];
        const px = Math.floor((it[1] - x0) * scale);
        const w = Math.max(1, (it[2] - it[1]) * scale - (it[3] === 0 ? 0 : 1));
        if (w < 2 && px <= lastPx[it[3]]) continue;  // one item per pixel column is enough.
        lastPx[it[3]] = px;
        ctx.fillStyle = k.color;
        ctx.fillRect(px, top + LANE_H * k.row, w, LANE_H * k.h);
        if (w > 40 && it[3] !== 0) {
          ctx.save();
          ctx.beginPath(); ctx.rect(px, top, w - 2, LANE_H); ctx.clip();
          ctx.fillStyle = it[3] === 4 || it[3] === 5 ? "#000" : "#fff";
          ctx.font = "10px sans-serif";
          ctx.fillText(it[4], px + 2, top + LANE_H * 0.68);
          ctx.restore();
        }
      }
    }
    laneDivs.forEach((d, i) => { d.style.top = (i * LANE_H - y0) + "px"; });
    marks.forEach((d, i) => {
      const v = violations[i];
      d.style.left = ((v.x + 0.5 - x0) * scale) + "px";
      d.style.top = (v.lane * LANE_H - y0 - 4) + "px";
      d.style.height = (LANE_H + 8) + "px";
    });
  }
  function redraw() { if (!pending) { pending = true; requestAnimationFrame(draw); } }

  function itemAt(mx, my) {
    const l = Math.floor((my + y0) / LANE_H);
    if (l < 0 || l >= lanes.length) return null;
    const x = x0 + mx / scale;
    const list = byLane[l];
    let best = null;
    for (let j = firstAtOrAfter(list, x - longest[l]); j < list.length; j++) {
      const it = items[list[j]];
      if (it[1] > x) break;
      if (it[2] >= x && (best === null || it[3] !== 0)) best = it;
    }
    return best;
  }

  view.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = view.getBoundingClientRect();
    const at = x0 + (e.clientX - r.left) / scale;
    const factor = Math.exp(-e.deltaY * 0.0015);
    scale = Math.min(400, Math.max(width / (maxX * 4), scale * factor));
    x0 = at - (e.clientX - r.left) / scale;
    redraw();
  }, { passive: false });
  let drag = null;
  view.addEventListener("mousedown", (e) => {
    drag = { x: e.clientX, y: e.clientY, x0: x0, y0: y0 };
    view.classList.add("dragging");
  });
  window.addEventListener("mouseup", () => { drag = null; view.classList.remove("dragging"); });
  window.addEventListener("mousemove", (e) => {
    const r = view.getBoundingClientRect();
    if (drag) {
      x0 = drag.x0 - (e.clientX - drag.x) / scale;
      const maxY = Math.max(0, lanes.length * LANE_H - height);
      y0 = Math.min(maxY, Math.max(0, drag.y0 - (e.clientY - drag.y)));
      tip.style.display = "none";
      redraw();
      return;
    }
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const it = mx >= 0 && my >= 0 && mx < width && my < height ? itemAt(mx, my) : null;
    if (!it) { tip.style.display = "none"; return; }
    tip.textContent = it[4] + "\nstep " + it[1] + ", time " + (it[5] / 1e6).toFixed(6) + " ms (" + lanes[it[0]].name + ")";
    tip.style.left = Math.min(mx + 12, Math.max(0, width - 320)) + "px";
    tip.style.top = (my + 14) + "px";
    tip.style.display = "block";
  });
  window.addEventListener("resize", () => { fit(); redraw(); });

  fit();
  // Start with the whole trace in view, or around the violation when the trace is long.
  scale = Math.max(0.01, width / (maxX + 3));  // room for the violation's label.
  if (violations.length > 0 && scale < 4) {
    scale = 12;
    x0 = violations[0].x - width / scale * 0.7;
    y0 = Math.max(0, violations[0].lane * LANE_H - height / 2);
  }
  draw();
})();
</script>
</body>
</html>
)html";

std::string resolver_for(const std::string& path, const std::string& asked) {
  if (!asked.empty()) return asked;
  auto reader = trace::open_reader(path);
  const std::string recorded =
      reader && reader->ok() ? header_value(reader->header(), "record-with") : "";
  const auto names = resolver_names();
  const bool known =
      std::find(names.begin(), names.end(), std::string_view(recorded)) != names.end();
  return known ? recorded : "token+recheck";
}

// One trace as explain loads it; when the model cannot replay it, the events alone (a note says
// why). nullopt when the trace cannot be read at all.
std::optional<ExplainInput> load(const std::string& path, const std::string& resolver,
                                 plugin::WorkerPool* pool, std::vector<std::string>& notes,
                                 bool* damaged) {
  std::string error;
  auto strategy = strategy_under_test(resolver, false, pool, "timeline", "resolver", &error);
  if (strategy) {
    auto input = explain_trace_input(path, *strategy, &error, damaged);
    if (input) {
      notes.push_back(fmt::format("{}: replayed with {}{}", path, input->resolver,
                                  input->findings.empty() ? ", no finding" : ""));
      for (const auto& n : input->notes) notes.push_back(fmt::format("{}: {}", path, n));
      return input;
    }
  }
  auto reader = open_trace(path);
  if (!reader) return std::nullopt;
  notes.push_back(fmt::format("{}: drawn without a replay ({})", path, error));
  ExplainInput input;
  input.source = path;
  input.header = reader->header();
  Event event;
  while (reader->next(event)) input.events.push_back(event);
  *damaged = report_read_issues(*reader, path) != kExitOk;
  return input;
}

int run_timeline(const TimelineOptions& o) {
  if (std::string problem = output_names_input(o.output, o.inputs); !problem.empty()) {
    print_error("timeline", "{}", problem);
    return kExitUsage;
  }
  std::vector<std::string> names;
  for (const auto& input : o.inputs) names.push_back(resolver_for(input, o.resolver));
  auto pool = plugin_pool_for(names);
  Json lanes = Json::array();
  Json items = Json::array();
  Json violations = Json::array();
  std::vector<std::string> notes;
  std::string title;
  bool damaged = false;
  for (std::size_t i = 0; i < o.inputs.size(); ++i) {
    bool this_damaged = false;
    auto input = load(o.inputs[i], names[i], pool.get(), notes, &this_damaged);
    if (!input) return kExitInputError;  // open_trace named the file.
    damaged |= this_damaged;
    const std::string scenario = header_value(input->header, "scenario");
    title +=
        (title.empty() ? "" : ", ") + o.inputs[i] + (scenario.empty() ? "" : " (" + scenario + ")");
    TraceLayout(*input, i, lanes, items, violations).lay_out();
  }
  Json data;
  data["title"] = title;
  data["notes"] = notes;
  data["lanes"] = std::move(lanes);
  data["violations"] = std::move(violations);
  data["items"] = std::move(items);
  std::string json = data.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string page(kPageHead);
  page.reserve(kPageHead.size() + json.size() + kPageTail.size() + 64);
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && (json[i + 1] == '/' || json[i + 1] == '!')) {
      page += json[i + 1] == '/' ? "<\\/" : "\\u003c!";  // neither closes nor comments the script.
      ++i;
    } else {
      page += json[i];
    }
  }
  page += kPageTail;
  std::string error;
  if (!write_file_atomically(o.output, page, &error)) {
    print_error("timeline", "{}", error);
    return kExitInputError;
  }
  return damaged ? kExitDamagedInput : kExitOk;
}

}  // namespace

Subcommand add_timeline(CLI::App& parent) {
  auto o = std::make_shared<TimelineOptions>();
  CLI::App* app = parent.add_subcommand(
      "timeline",
      "Traces as one self-contained HTML page: lanes per execution, flows, seam calls, verdicts, "
      "faults, the violation; zoom and pan");
  app->add_option("inputs", o->inputs, "The traces")->required();
  app->add_option("-o,--output", o->output, "The HTML file to write")->required();
  app->add_option("--resolver,--strategy", o->resolver,
                  "The resolver replayed to find violations (default: the one each trace records "
                  "with, else token+recheck), or a plugin file (./libmine.so)");
  app->footer(help_footer(
      "flowid timeline findings/NAME.trace -o race.html",
      "0 written; 2 bad flags or an output that names an input; 3 a trace could not be read or\n"
      "the page not written; 4 a damaged trace (what was readable is drawn).",
      "Open the page in any browser; it fetches nothing. Wheel zooms, drag pans, hover names an\n"
      "item. docs/timeline.md reads a timeline."));
  return {app, [o] { return run_timeline(*o); }};
}

}  // namespace flowid::cli
