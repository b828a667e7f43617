// The embeddable recording API (include/flowid/record.h), as a product uses it.
//
// - A content filter written in C (examples/recording/cfilter.c, compiled as C99) resolves flows
//   through a table of OS calls that this test fills from flowid's simulated world, and records
//   flows, lookups, verdicts and the world's lifecycle through the API. `flowid replay` in
//   faithful mode, with the same resolver built as a plugin, gives back the filter's verdicts;
//   model mode judges them against the rebuilt world.
// - A recording process killed with SIGKILL leaves a trace that reads back clean up to its last
//   chunk: every event flushed before the kill is there.
// - A flight recorder dumps, on a trigger or on demand, exactly the window asked for.
// - Several threads record at once; every event is either in the trace or counted as dropped.
// - Hostnames are kept, hashed or dropped as the options say.
#include <flowid/record.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "examples/recording/cfilter.h"
#include "harness/world.h"
#include "plugin/bridge.h"
#include "tests/cli_runner.h"
#include "trace/trace.h"

namespace flowid {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("flowid-record-api-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<Event> read_events(const fs::path& path, std::vector<trace::TraceIssue>* issues,
                               trace::TraceHeader* header = nullptr) {
  auto reader = trace::open_reader(path.string());
  std::vector<Event> events;
  Event e;
  while (reader->next(e)) events.push_back(e);
  if (issues != nullptr) *issues = reader->issues();
  if (header != nullptr) *header = reader->header();
  return events;
}

flowid_audit_token to_c(const AuditToken& t) {
  flowid_audit_token out{};
  std::copy(t.words.begin(), t.words.end(), out.words);
  return out;
}

// A CodeIdentity as C; the strings point into `in`, which must outlive the result.
flowid_code_identity to_c(const CodeIdentity& in) {
  flowid_code_identity out{};
  out.path = in.path.data();
  out.path_len = in.path.size();
  out.signing_id = in.signing_id.data();
  out.signing_id_len = in.signing_id.size();
  out.team_id = in.team_id.data();
  out.team_id_len = in.team_id.size();
  if (in.cdhash) {
    out.has_cdhash = 1;
    std::memcpy(out.cdhash, in.cdhash->data(), in.cdhash->size());
  }
  out.platform = in.platform ? 1 : 0;
  out.signature = static_cast<uint32_t>(in.signature);
  out.hardened_runtime = in.hardened_runtime ? 1 : 0;
  return out;
}

flowid_flow_token to_c(const FlowToken& t) {
  return flowid_flow_token{t.present ? 1u : 0u, t.size_bytes, to_c(t.token)};
}

// The NEFilterFlow as the product sees it; strings point into `in`.
flowid_rec_flow to_c(const Flow& in) {
  flowid_rec_flow out{};
  out.flow.flow_id = in.flow_id;
  std::memcpy(out.flow.identifier, in.identifier.data(), 16);
  out.flow.source_app_audit_token = to_c(in.source_app_audit_token);
  out.flow.source_process_audit_token = to_c(in.source_process_audit_token);
  out.flow.source_app_identifier = in.source_app_identifier.c_str();
  out.flow.hostname = in.hostname.c_str();
  out.flow.remote_hostname = in.remote_hostname.c_str();
  out.flow.remote_address = in.remote_endpoint.address.c_str();
  out.flow.remote_port = in.remote_endpoint.port;
  out.flow.local_port = in.local_endpoint.port;
  out.flow.direction = static_cast<uint32_t>(in.direction);
  out.flow.protocol = in.protocol;
  out.flow.family = in.family;
  out.flow.type = in.type;
  out.flow.proc_pid = in.proc_pid;
  out.flow.eproc_pid = in.eproc_pid;
  out.source_app_version = in.source_app_version.c_str();
  out.source_app_unique_identifier = in.source_app_unique_identifier.data();
  out.source_app_unique_identifier_len = in.source_app_unique_identifier.size();
  out.local_address = in.local_endpoint.address.c_str();
  std::memcpy(out.proc_uuid, in.proc_uuid.data(), 16);
  std::memcpy(out.eproc_uuid, in.eproc_uuid.data(), 16);
  out.in_bytes = in.in_bytes;
  out.out_bytes = in.out_bytes;
  return out;
}

// What an Endpoint Security client would forward: the world's lifecycle and file events.
void forward(flowid_recorder* rec, const Event& e) {
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ProcessSpawn>) {
          auto token = to_c(b.token), parent = to_c(b.parent);
          flowid_audit_token responsible{};
          if (b.responsible) responsible = to_c(*b.responsible);
          auto image = to_c(b.image);
          ASSERT_EQ(flowid_rec_spawn(rec, e.time_ns, &token, &parent,
                                     b.responsible ? &responsible : nullptr, &image),
                    FLOWID_REC_OK);
        } else if constexpr (std::is_same_v<T, ProcessExec>) {
          auto previous = to_c(b.previous), token = to_c(b.token);
          auto image = to_c(b.image);
          ASSERT_EQ(flowid_rec_exec(rec, e.time_ns, &previous, &token, &image), FLOWID_REC_OK);
        } else if constexpr (std::is_same_v<T, ProcessExit>) {
          auto token = to_c(b.token);
          ASSERT_EQ(
              flowid_rec_exit(rec, e.time_ns, &token, b.status, static_cast<uint32_t>(b.stage)),
              FLOWID_REC_OK);
        } else if constexpr (std::is_same_v<T, FileChange>) {
          flowid_code_identity image{};
          if (b.image) image = to_c(*b.image);
          ASSERT_EQ(flowid_rec_file(rec, e.time_ns, static_cast<uint32_t>(b.op), b.path.c_str(),
                                    b.new_path.c_str(), b.image ? &image : nullptr),
                    FLOWID_REC_OK);
        }
        // Flows are recorded by the filter itself when it is asked about them.
      },
      e.body);
}

uint64_t world_clock(void* world) { return static_cast<World*>(world)->now_ns(); }

CodeIdentity signed_app(std::string path, std::string signing_id, std::string team) {
  CodeIdentity id;
  id.path = std::move(path);
  id.signing_id = std::move(signing_id);
  id.team_id = std::move(team);
  id.signature = SignatureKind::kDeveloperId;
  id.hardened_runtime = true;
  Cdhash cdhash{};
  for (std::size_t i = 0; i < cdhash.size(); ++i)
    cdhash[i] = static_cast<uint8_t>(id.path.size() * 7 + i);
  id.cdhash = cdhash;
  return id;
}

// Records a session of the C filter against a simulated world: a signed app (verified, allowed),
// a helper under /usr/libexec that the sandboxed filter may not look up by token (EPERM: pid
// fallback, unverified, ask), and an unsigned program that exits before its flow is handled
// (ESRCH: gone, dropped). Returns the decisions the filter gave, by flow id.
std::map<uint64_t, uint32_t> record_session(const fs::path& trace_path) {
  WorldConfig world_config;  // sandboxed root caller; EPERM for /usr/libexec/ (seed 000).
  World world(world_config);
  EXPECT_EQ(world.install_file(signed_app("/Applications/Good.app/Contents/MacOS/Good",
                                          "com.example.good", "GOODTEAM01")),
            WorldError::kNone);
  CodeIdentity helper = signed_app("/usr/libexec/helperd", "com.apple.helperd", "");
  helper.signature = SignatureKind::kPlatform;
  helper.platform = true;
  EXPECT_EQ(world.install_file(helper), WorldError::kNone);
  CodeIdentity x;
  x.path = "/tmp/x";
  EXPECT_EQ(world.install_file(x), WorldError::kNone);

  flowid_rec_options options;
  flowid_rec_options_init(&options);
  options.recorder_name = "cfilter-test 1.0";
  options.clock = "virtual";
  options.caller_sandboxed = 1;
  options.caller_root = 1;
  const flowid_rec_config_entry config[] = {{"strategy", "cfilter"}};
  options.config = config;
  options.config_count = 1;
  flowid_recorder* rec = nullptr;
  EXPECT_EQ(flowid_rec_open_file(trace_path.c_str(), &options, &rec), FLOWID_REC_OK)
      << flowid_rec_error_message();

  plugin::CSeamTables tables(world, nullptr);
  cfilter filter{tables.seam(), rec, world_clock, &world, 0};
  std::map<uint64_t, uint32_t> decisions;
  auto drain = [&] {
    for (const Event& e : world.take_log()) forward(rec, e);
  };
  auto handle = [&](const Flow& flow) {
    drain();
    flowid_rec_flow c = to_c(flow);
    decisions[flow.flow_id] = cfilter_handle_new_flow(&filter, &c);
  };

  auto good = world.start_process("/Applications/Good.app/Contents/MacOS/Good");
  auto helperd = world.start_process("/usr/libexec/helperd");
  world.advance(1'000'000);
  auto good_flow = world.open_flow(good.value);
  handle(good_flow.value);
  world.advance(1'000'000);
  auto helper_flow = world.open_flow(helperd.value);
  handle(helper_flow.value);
  world.advance(1'000'000);
  auto quick = world.start_process("/tmp/x");
  auto quick_flow = world.open_flow(quick.value);
  world.advance(2'000'000);
  EXPECT_EQ(world.exit_process(quick.value), WorldError::kNone);
  handle(quick_flow.value);
  drain();
  EXPECT_EQ(filter.record_failures, 0u);
  EXPECT_EQ(flowid_rec_close(rec), FLOWID_REC_OK) << flowid_rec_error_message();
  return decisions;
}

TEST(RecordApi, CFilterRecordingReplaysFaithfullyAndIsJudgedInModelMode) {
  const fs::path dir = temp_dir("cfilter");
  const fs::path trace_path = dir / "cfilter.trace";
  const auto decisions = record_session(trace_path);
  ASSERT_EQ(decisions.size(), 3u);
  std::vector<uint32_t> in_order;
  for (const auto& [id, d] : decisions) in_order.push_back(d);
  EXPECT_EQ(in_order, (std::vector<uint32_t>{FLOWID_DECISION_ALLOW, FLOWID_DECISION_ASK,
                                             FLOWID_DECISION_DROP}));

  // The trace is whole and holds what the filter decided.
  std::vector<trace::TraceIssue> issues;
  trace::TraceHeader header;
  const auto events = read_events(trace_path, &issues, &header);
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(header.recorder, "cfilter-test 1.0");
  EXPECT_TRUE(header.caller.sandboxed);
  std::map<uint64_t, Verdict> verdicts;
  std::size_t lookups = 0, spawns = 0;
  for (const Event& e : events) {
    if (const auto* v = std::get_if<Verdict>(&e.body)) verdicts[v->flow_id] = *v;
    lookups += std::holds_alternative<Lookup>(e.body);
    spawns += std::holds_alternative<ProcessSpawn>(e.body);
  }
  ASSERT_EQ(verdicts.size(), 3u);
  for (const auto& [id, v] : verdicts)
    EXPECT_EQ(static_cast<uint32_t>(v.decision), decisions.at(id)) << "flow " << id;
  EXPECT_GE(lookups, 7u);  // 3 (verified) + 3 (EPERM, pid, path) + 1 (ESRCH).
  EXPECT_EQ(spawns, 4u);   // launchd and the three programs.

  // Faithful replay of the same C resolver (as a plugin): every verdict as recorded, no call
  // off the recorded script.
  auto faithful = testing::run_flowid(
      {"replay", "--mode", "faithful", "--resolver", FLOWID_CFILTER_PLUGIN, trace_path.string()});
  EXPECT_EQ(faithful.exit_code, 0) << faithful.out << faithful.err;
  // The comparison is real: a pid-keyed resolver asks calls the filter never made.
  auto other = testing::run_flowid(
      {"replay", "--mode", "faithful", "--resolver", "pid-path", trace_path.string()});
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;

  // Model mode: the world rebuilt from the recorded lifecycle; the oracle judges every flow.
  auto model = testing::run_flowid({"replay", "--mode", "model", "--resolver",
                                    FLOWID_CFILTER_PLUGIN, "--json", trace_path.string()});
  EXPECT_EQ(model.exit_code, 0) << model.out << model.err;
  EXPECT_NE(model.out.find("\"flows\":3"), std::string::npos) << model.out;
  fs::remove_all(dir);
}

// The flow numbered i of the kill test, so that the parent knows what to expect.
Flow numbered_flow(uint64_t i) {
  Flow f;
  f.flow_id = i;
  f.hostname = "host-" + std::to_string(i) + ".example";
  f.remote_endpoint = {"192.0.2.1", static_cast<uint16_t>(i % 65536)};
  f.proc_pid = static_cast<int32_t>(100 + i % 1000);
  return f;
}

TEST(RecordApi, KillNineLosesAtMostTheLastChunk) {
  const fs::path dir = temp_dir("kill9");
  const fs::path trace_path = dir / "killed.trace";
  constexpr uint64_t kFlushed = 2000;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    flowid_rec_options options;
    flowid_rec_options_init(&options);
    options.chunk_events = 64;
    flowid_recorder* rec = nullptr;
    if (flowid_rec_open_file(trace_path.c_str(), &options, &rec) != FLOWID_REC_OK) ::_exit(2);
    uint64_t i = 0;
    for (; i < kFlushed; ++i) {
      Flow f = numbered_flow(i);
      flowid_rec_flow c = to_c(f);
      if (flowid_rec_flow_event(rec, i, &c) != FLOWID_REC_OK) ::_exit(3);
    }
    if (flowid_rec_flush(rec) != FLOWID_REC_OK) ::_exit(4);
    if (::write(ready[1], "r", 1) != 1) ::_exit(5);
    for (;; ++i) {  // recording goes on until the parent kills us.
      Flow f = numbered_flow(i);
      flowid_rec_flow c = to_c(f);
      flowid_rec_flow_event(rec, i, &c);  // a full queue drops: fine here.
    }
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  std::vector<trace::TraceIssue> issues;
  const auto events = read_events(trace_path, &issues);
  // No footer (killed), perhaps a chunk cut mid-write; nothing damaged.
  bool missing_footer = false;
  for (const auto& issue : issues) {
    EXPECT_TRUE(issue.kind == trace::TraceIssue::Kind::kMissingFooter ||
                issue.kind == trace::TraceIssue::Kind::kTruncated)
        << issue.message;
    missing_footer |= issue.kind == trace::TraceIssue::Kind::kMissingFooter;
  }
  EXPECT_TRUE(missing_footer);
  // Every flushed flow is there, whole and in order; later ones follow in order, with drops
  // counted where they happened.
  uint64_t next = 0;
  for (const Event& e : events) {
    if (const auto* d = std::get_if<DroppedEvents>(&e.body)) {
      next += d->count;
      continue;
    }
    const auto* f = std::get_if<Flow>(&e.body);
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(*f, numbered_flow(next));
    ++next;
  }
  EXPECT_GE(next, kFlushed);
  fs::remove_all(dir);
}

flowid_recorder* open_ring(uint32_t mib) {
  flowid_rec_options options;
  flowid_rec_options_init(&options);
  options.ring_mib = mib;
  options.clock = "virtual";
  flowid_recorder* rec = nullptr;
  EXPECT_EQ(flowid_rec_open_ring(&options, &rec), FLOWID_REC_OK) << flowid_rec_error_message();
  return rec;
}

void record_marker(flowid_recorder* rec, uint64_t time_ns, uint64_t n) {
  const std::string text = "marker " + std::to_string(n);
  ASSERT_EQ(flowid_rec_marker(rec, time_ns, text.c_str()), FLOWID_REC_OK);
}

TEST(RecordApi, RingDumpOnTriggerKeepsExactlyTheWindowBeforeIt) {
  const fs::path dir = temp_dir("ring");
  flowid_recorder* rec = open_ring(4);
  // Dump the last 10 events when a flow is dropped; the last 5 µs when a lookup meets ESRCH.
  flowid_rec_trigger by_count{};
  by_count.kind = FLOWID_TRIGGER_VERDICT_DECISION;
  by_count.value = FLOWID_DECISION_DROP;
  by_count.window.max_events = 10;
  const std::string count_prefix = (dir / "dropped").string();
  by_count.path_prefix = count_prefix.c_str();
  by_count.max_dumps = 1;
  ASSERT_EQ(flowid_rec_add_trigger(rec, &by_count), FLOWID_REC_OK) << flowid_rec_error_message();
  flowid_rec_trigger by_age{};
  by_age.kind = FLOWID_TRIGGER_LOOKUP_OUTCOME;
  by_age.outcome = {FLOWID_DOMAIN_OSSTATUS, FLOWID_OSSTATUS_ESRCH};
  by_age.window.max_age_ns = 5000;
  const std::string age_prefix = (dir / "esrch").string();
  by_age.path_prefix = age_prefix.c_str();
  ASSERT_EQ(flowid_rec_add_trigger(rec, &by_age), FLOWID_REC_OK);

  // Events 0..99 at 1 µs steps: markers, a dropped verdict at 60, a second one at 80 (max_dumps
  // 1: no second dump), an ESRCH lookup at 90.
  flowid_attribution gone{};
  gone.status = FLOWID_STATUS_GONE;
  for (uint64_t i = 0; i < 100; ++i) {
    const uint64_t t = i * 1000;
    if (i == 60 || i == 80) {
      ASSERT_EQ(flowid_rec_verdict(rec, t, i, FLOWID_DECISION_DROP, &gone, "policy:gone"),
                FLOWID_REC_OK);
    } else if (i == 90) {
      flowid_rec_lookup l{};
      l.flow_id = i;
      l.call = FLOWID_CALL_GUEST_BY_AUDIT_TOKEN;
      l.has_token = 1;
      l.outcome = {FLOWID_DOMAIN_OSSTATUS, FLOWID_OSSTATUS_ESRCH};
      ASSERT_EQ(flowid_rec_lookup_event(rec, t, &l), FLOWID_REC_OK);
    } else {
      record_marker(rec, t, i);
    }
  }
  ASSERT_EQ(flowid_rec_flush(rec), FLOWID_REC_OK);

  std::vector<trace::TraceIssue> issues;
  trace::TraceHeader header;
  auto dropped = read_events(dir / "dropped-1.trace", &issues, &header);
  EXPECT_TRUE(issues.empty());
  ASSERT_EQ(dropped.size(), 10u);  // events 51..60, the verdict last.
  EXPECT_EQ(dropped.front().time_ns, 51'000u);
  EXPECT_TRUE(std::holds_alternative<Verdict>(dropped.back().body));
  EXPECT_EQ(dropped.back().time_ns, 60'000u);
  bool names_trigger = false;
  for (const auto& [k, v] : header.resolver_config)
    names_trigger |= k == "flight-recorder.trigger" && v == "verdict decision 1";
  EXPECT_TRUE(names_trigger);
  EXPECT_FALSE(fs::exists(dir / "dropped-2.trace"));

  auto esrch = read_events(dir / "esrch-1.trace", &issues);
  EXPECT_TRUE(issues.empty());
  ASSERT_EQ(esrch.size(), 6u);  // 85..90 µs: within 5 µs of the lookup.
  EXPECT_EQ(esrch.front().time_ns, 85'000u);
  EXPECT_TRUE(std::holds_alternative<Lookup>(esrch.back().body));

  // On demand: the last 3 events of all 100.
  const fs::path on_demand = dir / "now.trace";
  ASSERT_EQ(flowid_rec_dump(rec, on_demand.c_str(), flowid_rec_window{3, 0}), FLOWID_REC_OK);
  auto last = read_events(on_demand, &issues);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last.front().time_ns, 97'000u);

  flowid_rec_stats stats{};
  ASSERT_EQ(flowid_rec_get_stats(rec, &stats), FLOWID_REC_OK);
  EXPECT_EQ(stats.dumps, 3u);
  EXPECT_EQ(stats.ring_events, 100u);
  EXPECT_EQ(stats.evicted, 0u);
  EXPECT_EQ(flowid_rec_close(rec), FLOWID_REC_OK);
  fs::remove_all(dir);
}

TEST(RecordApi, RingForgetsTheOldestToStayWithinItsSize) {
  const fs::path dir = temp_dir("ring-size");
  flowid_recorder* rec = open_ring(1);
  constexpr uint64_t kEvents = 50'000;  // far more than 1 MiB of events.
  for (uint64_t i = 0; i < kEvents; ++i) {
    record_marker(rec, i, i);
    if (i % 1000 == 999) {
      ASSERT_EQ(flowid_rec_flush(rec), FLOWID_REC_OK);  // no queue drops.
    }
  }
  ASSERT_EQ(flowid_rec_flush(rec), FLOWID_REC_OK);
  flowid_rec_stats stats{};
  ASSERT_EQ(flowid_rec_get_stats(rec, &stats), FLOWID_REC_OK);
  EXPECT_LE(stats.ring_bytes, 1u << 20);
  EXPECT_GT(stats.evicted, 0u);
  EXPECT_EQ(stats.evicted + stats.ring_events, kEvents);
  const fs::path all = dir / "all.trace";
  ASSERT_EQ(flowid_rec_dump(rec, all.c_str(), flowid_rec_window{0, 0}), FLOWID_REC_OK);
  auto events = read_events(all, nullptr);
  ASSERT_EQ(events.size(), stats.ring_events);
  EXPECT_EQ(std::get<Marker>(events.back().body).text, "marker " + std::to_string(kEvents - 1));
  EXPECT_EQ(events.front().time_ns, stats.evicted);  // the oldest kept is the first not evicted.
  EXPECT_EQ(flowid_rec_close(rec), FLOWID_REC_OK);
  fs::remove_all(dir);
}

TEST(RecordApi, ConcurrentThreadsKeepEachFlowInOrderAndCountWhatTheyDrop) {
  const fs::path dir = temp_dir("threads");
  const fs::path trace_path = dir / "threads.trace";
  flowid_rec_options options;
  flowid_rec_options_init(&options);
  options.queue_events = 256;  // small: drops are likely, and must be accounted for.
  flowid_recorder* rec = nullptr;
  ASSERT_EQ(flowid_rec_open_file(trace_path.c_str(), &options, &rec), FLOWID_REC_OK);
  constexpr int kThreads = 4;
  constexpr uint64_t kFlowsPerThread = 5000;
  std::vector<uint64_t> rejected(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kFlowsPerThread; ++i) {
        const uint64_t id = static_cast<uint64_t>(t) * 1'000'000 + i + 1;
        Flow f = numbered_flow(id);
        flowid_rec_flow c = to_c(f);
        flowid_rec_lookup l{};
        l.flow_id = id;
        l.call = FLOWID_CALL_GUEST_BY_PID;
        l.pid = f.proc_pid;
        l.outcome = {FLOWID_DOMAIN_OSSTATUS, FLOWID_OSSTATUS_ESRCH};
        flowid_attribution gone{};
        gone.status = FLOWID_STATUS_GONE;
        rejected[t] += flowid_rec_flow_event(rec, FLOWID_REC_NOW, &c) != FLOWID_REC_OK;
        rejected[t] += flowid_rec_lookup_event(rec, FLOWID_REC_NOW, &l) != FLOWID_REC_OK;
        rejected[t] += flowid_rec_verdict(rec, FLOWID_REC_NOW, id, FLOWID_DECISION_DROP, &gone,
                                          nullptr) != FLOWID_REC_OK;
      }
    });
  }
  for (auto& th : threads) th.join();
  flowid_rec_stats stats{};
  ASSERT_EQ(flowid_rec_get_stats(rec, &stats), FLOWID_REC_OK);
  ASSERT_EQ(flowid_rec_close(rec), FLOWID_REC_OK) << flowid_rec_error_message();
  uint64_t total_rejected = 0;
  for (uint64_t r : rejected) total_rejected += r;
  const uint64_t attempts = kThreads * kFlowsPerThread * 3;
  EXPECT_EQ(stats.dropped, total_rejected);
  EXPECT_EQ(stats.recorded + stats.dropped, attempts);

  std::vector<trace::TraceIssue> issues;
  const auto events = read_events(trace_path, &issues);
  EXPECT_TRUE(issues.empty());
  uint64_t counted_drops = 0, kept = 0;
  std::map<uint64_t, int> stage;  // per flow: 1 flow, 2 lookup, 3 verdict seen last.
  for (const Event& e : events) {
    if (const auto* d = std::get_if<DroppedEvents>(&e.body)) {
      EXPECT_EQ(d->reason, "recorder queue full");
      counted_drops += d->count;
      continue;
    }
    ++kept;
    const int s = std::holds_alternative<Flow>(e.body)     ? 1
                  : std::holds_alternative<Lookup>(e.body) ? 2
                                                           : 3;
    const uint64_t id = s == 1   ? std::get<Flow>(e.body).flow_id
                        : s == 2 ? std::get<Lookup>(e.body).flow_id
                                 : std::get<Verdict>(e.body).flow_id;
    EXPECT_LT(stage[id], s) << "flow " << id << " out of order";
    stage[id] = s;
  }
  EXPECT_EQ(counted_drops, stats.dropped);
  EXPECT_EQ(kept, stats.recorded);
  fs::remove_all(dir);
}

TEST(RecordApi, HostnamesAreKeptHashedOrDroppedAsAsked) {
  const fs::path dir = temp_dir("hostnames");
  std::map<uint32_t, std::string> seen;
  for (uint32_t mode :
       {FLOWID_REC_HOSTNAMES_KEEP, FLOWID_REC_HOSTNAMES_HASH, FLOWID_REC_HOSTNAMES_DROP}) {
    const fs::path path = dir / ("h" + std::to_string(mode) + ".trace");
    flowid_rec_options options;
    flowid_rec_options_init(&options);
    options.hostnames = mode;
    options.hostname_salt = 42;
    flowid_recorder* rec = nullptr;
    ASSERT_EQ(flowid_rec_open_file(path.c_str(), &options, &rec), FLOWID_REC_OK);
    Flow f = numbered_flow(7);
    f.remote_hostname = "secret.example.org";
    flowid_rec_flow c = to_c(f);
    ASSERT_EQ(flowid_rec_flow_event(rec, 1, &c), FLOWID_REC_OK);
    ASSERT_EQ(flowid_rec_close(rec), FLOWID_REC_OK);
    auto events = read_events(path, nullptr);
    ASSERT_EQ(events.size(), 1u);
    const Flow& got = std::get<Flow>(events[0].body);
    EXPECT_EQ(got.remote_endpoint, f.remote_endpoint);  // addresses are kept in every mode.
    seen[mode] = got.hostname + "|" + got.remote_hostname;
  }
  EXPECT_EQ(seen[FLOWID_REC_HOSTNAMES_KEEP], "host-7.example|secret.example.org");
  EXPECT_EQ(seen[FLOWID_REC_HOSTNAMES_DROP], "|");
  const std::string& hashed = seen[FLOWID_REC_HOSTNAMES_HASH];
  EXPECT_EQ(hashed.size(), 2 * 18 + 1) << hashed;
  EXPECT_EQ(hashed.rfind("h:", 0), 0u);
  EXPECT_EQ(hashed.find("example"), std::string::npos);
  fs::remove_all(dir);
}

TEST(RecordApi, ErrorsAreStatusesWithAMessageNamingTheCulprit) {
  flowid_recorder* rec = nullptr;
  EXPECT_EQ(flowid_rec_open_file("/nonexistent-dir/x.trace", nullptr, &rec), FLOWID_REC_IO_ERROR);
  EXPECT_EQ(rec, nullptr);
  EXPECT_NE(std::string(flowid_rec_error_message()).find("/nonexistent-dir/x.trace"),
            std::string::npos)
      << flowid_rec_error_message();
  flowid_rec_options options;
  flowid_rec_options_init(&options);
  options.abi_version = 99;
  EXPECT_EQ(flowid_rec_open_ring(&options, &rec), FLOWID_REC_INVALID_ARGUMENT);
  EXPECT_EQ(flowid_rec_marker(nullptr, 0, "x"), FLOWID_REC_INVALID_ARGUMENT);

  const fs::path dir = temp_dir("errors");
  ASSERT_EQ(flowid_rec_open_file((dir / "f.trace").c_str(), nullptr, &rec), FLOWID_REC_OK);
  EXPECT_EQ(flowid_rec_dump(rec, (dir / "d.trace").c_str(), flowid_rec_window{}),
            FLOWID_REC_WRONG_MODE);
  flowid_attribution a{};
  a.status = 9;
  EXPECT_EQ(flowid_rec_verdict(rec, 0, 1, FLOWID_DECISION_ALLOW, &a, nullptr),
            FLOWID_REC_INVALID_ARGUMENT);
  EXPECT_NE(std::string(flowid_rec_error_message()).find("attribution status 9"),
            std::string::npos);
  flowid_rec_lookup l{};
  l.call = FLOWID_CALL_COUNT;
  EXPECT_EQ(flowid_rec_lookup_event(rec, 0, &l), FLOWID_REC_INVALID_ARGUMENT);
  EXPECT_EQ(flowid_rec_marker(rec, 0, "ok"), FLOWID_REC_OK);
  EXPECT_STREQ(flowid_rec_error_message(), "");
  EXPECT_EQ(flowid_rec_close(rec), FLOWID_REC_OK);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace flowid
