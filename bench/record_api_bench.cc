// Recording API benchmark (include/flowid/record.h): what recording costs the filter's own
// threads, how many flows per second a recorder takes from 4 threads, and how long a 64 MiB
// flight recorder takes to dump.
//
// A "flow" is what a content filter records for one new flow: the flow (both tokens, hostnames,
// endpoints), three lookups (guest_by_audit_token, static_code, signing_information returning an
// identity with a path from a pool of 300 executables) and the verdict: 5 calls. Each call is
// timed on the calling thread (CLOCK_MONOTONIC around the call; the two clock reads, about 20-40
// ns, are included), so the percentiles are what the filter pays, wherever the writer thread
// runs. The 4-thread run is the "under load" figure: four recording threads and the writer on a
// 2-core machine shared with other builds, the load average printed alongside.
//
// Usage: record_api_bench [--flows N] [--threads T] [--ring-mib M] [--dir DIR]
// Output: a human table, then one JSON object per figure per line:
//   {"bench": "record_api_lookup_p99_ns_4t", "value": V, "unit": "ns"}
#include <flowid/record.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_figures.h"

namespace {

uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct Paths {
  std::vector<std::string> paths;
  Paths() {
    for (int i = 0; i < 300; ++i)
      paths.push_back("/Applications/App" + std::to_string(i) + ".app/Contents/MacOS/App" +
                      std::to_string(i));
  }
};

struct Latencies {
  std::vector<uint32_t> flow;    // flow + verdict calls.
  std::vector<uint32_t> lookup;  // lookup calls.
  uint64_t rejected = 0;
};

// Records `flows` flows with ids starting at `first_id`; times each call.
void record_flows(flowid_recorder* rec, uint64_t first_id, uint64_t flows, const Paths& pool,
                  Latencies* out) {
  out->flow.reserve(flows * 2);
  out->lookup.reserve(flows * 3);
  const char* host = "api.example.com";
  for (uint64_t i = 0; i < flows; ++i) {
    const uint64_t id = first_id + i;
    const std::string& path = pool.paths[id % pool.paths.size()];
    flowid_rec_flow flow{};
    flow.flow.flow_id = id;
    flow.flow.source_app_audit_token.present = 1;
    flow.flow.source_app_audit_token.size_bytes = FLOWID_AUDIT_TOKEN_SIZE_BYTES;
    flow.flow.source_app_audit_token.token.words[FLOWID_TOKEN_PID] = 100 + id % 5000;
    flow.flow.source_app_audit_token.token.words[FLOWID_TOKEN_PIDVERSION] = 7;
    flow.flow.source_process_audit_token = flow.flow.source_app_audit_token;
    flow.flow.source_app_identifier = "com.example.app";
    flow.flow.remote_hostname = host;
    flow.flow.remote_address = "93.184.216.34";
    flow.flow.remote_port = 443;
    flow.flow.direction = FLOWID_DIRECTION_OUTBOUND;
    flow.local_address = "192.168.1.6";
    uint64_t t0 = now_ns();
    out->rejected += flowid_rec_flow_event(rec, FLOWID_REC_NOW, &flow) != FLOWID_REC_OK;
    uint64_t t1 = now_ns();
    out->flow.push_back(static_cast<uint32_t>(t1 - t0));

    flowid_code_identity identity{};
    identity.path = path.data();
    identity.path_len = path.size();
    identity.signing_id = "com.example.app";
    identity.signing_id_len = 15;
    identity.team_id = "TEAM012345";
    identity.team_id_len = 10;
    identity.has_cdhash = 1;
    identity.signature = FLOWID_SIGNATURE_DEVELOPER_ID;
    const uint32_t calls[] = {FLOWID_CALL_GUEST_BY_AUDIT_TOKEN, FLOWID_CALL_STATIC_CODE,
                              FLOWID_CALL_SIGNING_INFORMATION};
    for (uint32_t call : calls) {
      flowid_rec_lookup l{};
      l.flow_id = id;
      l.call = call;
      if (call == FLOWID_CALL_GUEST_BY_AUDIT_TOKEN) {
        l.has_token = 1;
        l.token = flow.flow.source_app_audit_token.token;
        l.returned_code = id * 2;
      } else if (call == FLOWID_CALL_STATIC_CODE) {
        l.code = id * 2;
        l.returned_code = id * 2 + 1;
      } else {
        l.code = id * 2 + 1;
        l.returned_has_identity = 1;
        l.returned_identity = identity;
      }
      t0 = now_ns();
      out->rejected += flowid_rec_lookup_event(rec, FLOWID_REC_NOW, &l) != FLOWID_REC_OK;
      t1 = now_ns();
      out->lookup.push_back(static_cast<uint32_t>(t1 - t0));
    }
    flowid_attribution attribution{};
    attribution.status = FLOWID_STATUS_VERIFIED;
    attribution.has_identity = 1;
    attribution.identity = identity;
    t0 = now_ns();
    out->rejected += flowid_rec_verdict(rec, FLOWID_REC_NOW, id, FLOWID_DECISION_ALLOW,
                                        &attribution, "allow-team") != FLOWID_REC_OK;
    t1 = now_ns();
    out->flow.push_back(static_cast<uint32_t>(t1 - t0));
  }
}

constexpr uint32_t kQueueEvents = 1u << 17;

double percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

struct Run {
  Latencies all;
  double seconds = 0;          // recording calls only.
  double seconds_drained = 0;  // until close returned (everything written).
  flowid_rec_stats stats{};
};

Run run_file(const std::string& path, int threads, uint64_t flows_per_thread, const Paths& pool) {
  flowid_rec_options options;
  flowid_rec_options_init(&options);
  options.queue_events = kQueueEvents;
  flowid_recorder* rec = nullptr;
  if (flowid_rec_open_file(path.c_str(), &options, &rec) != FLOWID_REC_OK) {
    std::fprintf(stderr, "record_api_bench: %s\n", flowid_rec_error_message());
    std::exit(1);
  }
  std::vector<Latencies> per(threads);
  std::vector<std::thread> workers;
  const uint64_t start = now_ns();
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      record_flows(rec, static_cast<uint64_t>(t) * flows_per_thread + 1, flows_per_thread, pool,
                   &per[t]);
    });
  for (auto& w : workers) w.join();
  Run run;
  run.seconds = static_cast<double>(now_ns() - start) / 1e9;
  flowid_rec_get_stats(rec, &run.stats);
  if (flowid_rec_close(rec) != FLOWID_REC_OK)
    std::fprintf(stderr, "record_api_bench: %s\n", flowid_rec_error_message());
  run.seconds_drained = static_cast<double>(now_ns() - start) / 1e9;
  for (auto& l : per) {
    run.all.flow.insert(run.all.flow.end(), l.flow.begin(), l.flow.end());
    run.all.lookup.insert(run.all.lookup.end(), l.lookup.begin(), l.lookup.end());
    run.all.rejected += l.rejected;
  }
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t flows = 200'000;
  int threads = 4;
  uint32_t ring_mib = 64;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--flows")
      flows = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--ring-mib")
      ring_mib = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    else if (a == "--dir")
      dir = argv[i + 1];
  }
  const Paths pool;
  using flowid::bench::Figure;
  std::vector<Figure> figures;
  const std::string trace = dir + "/record_api_bench.trace";

  Run one = run_file(trace, 1, flows, pool);
  figures.push_back({"record_api_lookup_p50_ns_1t", percentile(one.all.lookup, 0.50), "ns",
                     "lookup call, 1 thread, p50"});
  figures.push_back({"record_api_lookup_p99_ns_1t", percentile(one.all.lookup, 0.99), "ns",
                     "lookup call, 1 thread, p99"});
  figures.push_back({"record_api_flow_p99_ns_1t", percentile(one.all.flow, 0.99), "ns",
                     "flow / verdict call, 1 thread, p99"});

  // The 4-thread run records no more than the queue holds (5 events a flow), so no call is a
  // drop (a drop returns sooner than a push and would flatter the percentiles) and every flow
  // counts in flows/s.
  const uint64_t many_flows = std::min<uint64_t>(flows, kQueueEvents / 5);
  Run many = run_file(trace, threads, many_flows / threads, pool);
  const double total_flows = static_cast<double>(many_flows / threads) * threads;
  figures.push_back({"record_api_lookup_p50_ns_4t", percentile(many.all.lookup, 0.50), "ns",
                     "lookup call, " + std::to_string(threads) + " threads, p50"});
  figures.push_back({"record_api_lookup_p99_ns_4t", percentile(many.all.lookup, 0.99), "ns",
                     "lookup call, " + std::to_string(threads) + " threads, p99"});
  figures.push_back({"record_api_lookup_p999_ns_4t", percentile(many.all.lookup, 0.999), "ns",
                     "lookup call, " + std::to_string(threads) + " threads, p99.9"});
  figures.push_back({"record_api_flow_p99_ns_4t", percentile(many.all.flow, 0.99), "ns",
                     "flow / verdict call, " + std::to_string(threads) + " threads, p99"});
  figures.push_back({"record_api_flows_per_s_4t", total_flows / many.seconds, "flows/s",
                     "flows/s, " + std::to_string(threads) + " threads, calls returned"});
  figures.push_back({"record_api_flows_per_s_4t_written", total_flows / many.seconds_drained,
                     "flows/s",
                     "flows/s, " + std::to_string(threads) + " threads, all written (close)"});
  figures.push_back({"record_api_dropped_4t", static_cast<double>(many.stats.dropped), "events",
                     "events dropped (must be 0)"});
  std::filesystem::remove(trace);

  // Flight recorder: fill a ring of ring_mib MiB, then dump it whole.
  flowid_rec_options options;
  flowid_rec_options_init(&options);
  options.ring_mib = ring_mib;
  options.queue_events = kQueueEvents;
  flowid_recorder* ring = nullptr;
  if (flowid_rec_open_ring(&options, &ring) != FLOWID_REC_OK) return 1;
  flowid_rec_stats stats{};
  uint64_t next = 1;
  do {
    Latencies ignored;
    record_flows(ring, next, 20'000, pool, &ignored);
    next += 20'000;
    flowid_rec_flush(ring);
    flowid_rec_get_stats(ring, &stats);
  } while (stats.evicted == 0);
  const std::string dump = dir + "/record_api_bench_dump.trace";
  const uint64_t d0 = now_ns();
  if (flowid_rec_dump(ring, dump.c_str(), flowid_rec_window{0, 0}) != FLOWID_REC_OK) {
    std::fprintf(stderr, "record_api_bench: %s\n", flowid_rec_error_message());
    return 1;
  }
  const double dump_ms = static_cast<double>(now_ns() - d0) / 1e6;
  const double dump_mb = static_cast<double>(std::filesystem::file_size(dump)) / 1e6;
  flowid_rec_close(ring);
  std::filesystem::remove(dump);
  figures.push_back({"record_api_ring_dump_ms", dump_ms, "ms",
                     "dump of a full " + std::to_string(ring_mib) + " MiB ring"});
  figures.push_back({"record_api_ring_dump_events", static_cast<double>(stats.ring_events),
                     "events", "events in the ring"});
  figures.push_back({"record_api_ring_dump_file_mb", dump_mb, "MB", "dump file size"});
  flowid::bench::print_figures(figures, 44);
  return 0;
}
