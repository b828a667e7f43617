// `flowid export --format perfetto TRACE -o OUT.json`: a trace as Chrome trace-event JSON, the
// format Perfetto (ui.perfetto.dev) and chrome://tracing open, built with nlohmann ordered_json
// and described by docs/schemas/trace-event.schema.json.
//
// Mapping. The whole trace is one process (pid 1, named after the file). Each execution is one
// track (tid 2, 3, ... in the order they first appear, named "PID.PIDVERSION LABEL IMAGE" by
// thread_name metadata); tid 1 is the world's track (file changes, markers, events of no known
// execution). Seam calls are complete events ("ph": "X") on the track of the flow's own
// execution (the one that opened it); flows, verdicts and lifecycle events are instant events
// ("ph": "i", thread scope). Timestamps are microseconds of the trace's clock. A call that took
// no time on the clock (virtual time) is drawn 1 µs wide, and calls on one track never overlap:
// each starts where the previous one ended, so a resolution reads left to right as it happened.
//
// The output goes to a temporary file renamed into place; an output naming the input is refused.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/trace_io.h"
#include "harness/event_format.h"
#include "replay/fixture.h"

namespace flowid::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kPid = 1;
constexpr int kWorldTid = 1;
constexpr double kMinCallUs = 1.0;

struct ExportOptions {
  std::string format = "perfetto";
  std::string input;
  std::string output;
};

double us(uint64_t ns, uint64_t unit) { return static_cast<double>(ns * unit) / 1000.0; }

// Text as a JSON string: bytes that are not UTF-8 are shown as \xNN (a viewer wants text).
std::string text(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xe  ? 3
                      : (c >> 3) == 0x1e ? 4
                                         : 0;
    bool ok = len > 0 && i + len <= bytes.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(bytes[i + k]) & 0xc0) == 0x80;
    if (ok) {
      out.append(bytes.substr(i, len));
      i += len;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

class Exporter {
 public:
  Exporter(const trace::TraceHeader& header, const std::string& source) : header_(header) {
    for (const auto& [key, value] : header.resolver_config) {
      if (key.starts_with(replay::kExecutionLabelPrefix))
        exec_labels_[key.substr(replay::kExecutionLabelPrefix.size())] = value;
      else if (key.starts_with(replay::kFlowLabelPrefix))
        flow_labels_[key.substr(replay::kFlowLabelPrefix.size())] = value;
    }
    Json meta = {{"name", "process_name"},
                 {"ph", "M"},
                 {"pid", kPid},
                 {"tid", kWorldTid},
                 {"args", {{"name", text("flowid trace " + source)}}}};
    metadata_.push_back(std::move(meta));
    thread_name(kWorldTid, "world (files, markers)");
  }

  void add(const Event& event) {
    const double ts = us(event.time_ns, header_.time_unit_ns);
    std::visit([&](const auto& body) { on(ts, body); }, event.body);
  }

  Json finish() {
    Json events = Json::array();
    for (auto& m : metadata_) events.push_back(std::move(m));
    for (auto& e : events_) events.push_back(std::move(e));
    Json out;
    out["traceEvents"] = std::move(events);
    out["displayTimeUnit"] = "ns";
    Json other = Json::object();
    other["recorder"] = text(header_.recorder);
    other["clock"] = text(header_.clock);
    for (const auto& [key, value] : header_.resolver_config) other[text(key)] = text(value);
    out["otherData"] = std::move(other);
    return out;
  }

 private:
  void thread_name(int tid, const std::string& name) {
    metadata_.push_back({{"name", "thread_name"},
                         {"ph", "M"},
                         {"pid", kPid},
                         {"tid", tid},
                         {"args", {{"name", text(name)}}}});
    metadata_.push_back({{"name", "thread_sort_index"},
                         {"ph", "M"},
                         {"pid", kPid},
                         {"tid", tid},
                         {"args", {{"sort_index", tid}}}});
  }

  int track(const ExecutionId& id, const std::string& image = {}) {
    auto it = tids_.find(id);
    if (it != tids_.end()) return it->second;
    const int tid = static_cast<int>(tids_.size()) + 2;
    tids_[id] = tid;
    std::string name = fmt::format("{}.{}", id.pid, id.pidversion);
    auto label = exec_labels_.find(name);
    if (label != exec_labels_.end()) name += " " + label->second;
    if (!image.empty()) name += " " + image;
    thread_name(tid, name);
    return tid;
  }

  std::string flow_name(uint64_t id) const {
    auto it = flow_labels_.find(std::to_string(id));
    return it == flow_labels_.end() ? fmt::format("flow #{}", id)
                                    : fmt::format("flow #{} ({})", id, it->second);
  }

  void instant(double ts, int tid, const std::string& name, const char* category, Json args) {
    events_.push_back({{"name", text(name)},
                       {"cat", category},
                       {"ph", "i"},
                       {"s", "t"},
                       {"ts", ts},
                       {"pid", kPid},
                       {"tid", tid},
                       {"args", std::move(args)}});
  }

  void on(double ts, const ProcessSpawn& e) {
    const int tid = track(e.token.execution(), e.image.path);
    instant(ts, tid, "spawn", "lifecycle",
            {{"execution", short_execution(e.token)},
             {"image", text(e.image.path)},
             {"parent", short_execution(e.parent)}});
  }
  void on(double ts, const ProcessExec& e) {
    instant(ts, track(e.previous.execution()), "exec", "lifecycle",
            {{"into", short_execution(e.token)}, {"image", text(e.image.path)}});
    instant(ts, track(e.token.execution(), e.image.path), "exec'd", "lifecycle",
            {{"from", short_execution(e.previous)}, {"image", text(e.image.path)}});
  }
  void on(double ts, const ProcessExit& e) {
    instant(ts, track(e.token.execution()),
            e.stage == ExitStage::kExited ? "exit (zombie)" : "exit", "lifecycle",
            {{"status", e.status}});
  }
  void on(double ts, const FileChange& e) {
    Json args = {{"op", name_of(e.op)}, {"path", text(e.path)}};
    if (e.op == FileOp::kRename) args["new_path"] = text(e.new_path);
    instant(ts, kWorldTid, fmt::format("file {} {}", name_of(e.op), e.path), "world",
            std::move(args));
  }
  void on(double ts, const Flow& e) {
    int tid = kWorldTid;
    if (e.source_process_audit_token.well_formed())
      tid = track(e.source_process_audit_token.token.execution());
    else if (e.source_app_audit_token.well_formed())
      tid = track(e.source_app_audit_token.token.execution());
    flow_tid_[e.flow_id] = tid;
    instant(ts, tid, flow_name(e.flow_id), "flow",
            {{"flow", e.flow_id},
             {"remote",
              text(e.remote_hostname.empty() ? e.remote_endpoint.address : e.remote_hostname)},
             {"port", e.remote_endpoint.port}});
  }
  void on(double ts, const Lookup& e) {
    auto it = flow_tid_.find(e.flow_id);
    const int tid = it == flow_tid_.end() ? kWorldTid : it->second;
    double& free_at = track_free_at_[tid];
    const double start = std::max(ts, free_at);
    const double dur = std::max(us(e.duration_ns, header_.time_unit_ns), kMinCallUs);
    free_at = start + dur;
    Json args = {{"flow", e.flow_id}, {"outcome", describe_outcome(e.outcome)}};
    if (e.args.token) args["token"] = short_execution(*e.args.token);
    if (e.args.pid != 0) args["pid"] = e.args.pid;
    if (!e.data.path.empty()) args["path"] = text(e.data.path);
    events_.push_back({{"name", name_of(e.call)},
                       {"cat", "seam"},
                       {"ph", "X"},
                       {"ts", start},
                       {"dur", dur},
                       {"pid", kPid},
                       {"tid", tid},
                       {"args", std::move(args)}});
  }
  void on(double ts, const Verdict& e) {
    auto it = flow_tid_.find(e.flow_id);
    const int tid = it == flow_tid_.end() ? kWorldTid : it->second;
    const double at = std::max(ts, track_free_at_[tid]);
    Json args = {{"flow", e.flow_id},
                 {"decision", name_of(e.decision)},
                 {"status", name_of(e.status)},
                 {"rule", text(e.rule)}};
    if (e.identity) args["identity"] = text(describe_identity(*e.identity));
    instant(at, tid,
            fmt::format("verdict {}: {} {}", flow_name(e.flow_id).substr(5), name_of(e.decision),
                        name_of(e.status)),
            "verdict", std::move(args));
  }
  void on(double ts, const Marker& e) { instant(ts, kWorldTid, e.text, "marker", Json::object()); }
  void on(double ts, const DroppedEvents& e) {
    instant(ts, kWorldTid, fmt::format("{} events dropped", e.count), "dropped",
            {{"reason", text(e.reason)}});
  }

  const trace::TraceHeader& header_;
  std::map<std::string, std::string> exec_labels_;
  std::map<std::string, std::string> flow_labels_;
  std::map<ExecutionId, int> tids_;
  std::map<uint64_t, int> flow_tid_;
  std::map<int, double> track_free_at_;
  std::vector<Json> metadata_;
  std::vector<Json> events_;
};

int run_export(const ExportOptions& o) {
  if (o.format != "perfetto") {
    print_error("export", "unknown --format '{}' (perfetto)", o.format);
    return kExitUsage;
  }
  if (std::string problem = output_names_input(o.output, {o.input}); !problem.empty()) {
    print_error("export", "{}", problem);
    return kExitUsage;
  }
  auto reader = open_trace(o.input);
  if (!reader) return kExitInputError;
  Exporter exporter(reader->header(), o.input);
  Event event;
  while (reader->next(event)) exporter.add(event);
  const int read_status = report_read_issues(*reader, o.input);
  std::string json = exporter.finish().dump();
  json += '\n';
  std::string error;
  if (!write_file_atomically(o.output, json, &error)) {
    print_error("export", "{}", error);
    return kExitInputError;
  }
  return read_status;
}

}  // namespace

Subcommand add_export(CLI::App& parent) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* app = parent.add_subcommand(
      "export", "A trace in another tool's format: --format perfetto (Chrome trace-event JSON)");
  app->add_option("--format", o->format, "perfetto (default): opens in ui.perfetto.dev");
  app->add_option("input", o->input, "The trace ('-': standard input)")->required();
  app->add_option("-o,--output", o->output, "The JSON file to write ('-': standard output)")
      ->required();
  app->footer(help_footer(
      "flowid export --format perfetto s.trace -o s.json",
      "0 written; 2 bad flags or an output that names the input; 3 the trace could not be read\n"
      "or the output not written; 4 a damaged trace (what was readable is exported).",
      "Open the file in https://ui.perfetto.dev or chrome://tracing: one track per execution."));
  return {app, [o] { return run_export(*o); }};
}

}  // namespace flowid::cli
