// Perturbed replay's fault plan (replay/perturb.cc, issue 20): apply_fault_plan over a trace of N
// flows must cost time linear in the trace. It was quadratic (each flow scanned forward to its
// verdict, each F1 intruder scanned every event): 10 k flows 0.32 s, 100 k 33 s, 10^6 did not
// finish in 300 s.
//
// The trace: a few hundred processes alive at a time (spawned, later exited, pids reused), each
// flow opened by one of them with one or two lookups and a verdict, several flows in flight at
// once, and every 50th flow without a verdict (a flow the recording cut off). Every fault of the
// plan (all eleven), one seed. The output digest (events and the applied / not-applicable lines)
// lets two builds be compared: a faster plan must give the same rewritten trace.
//
// Usage: perturb_bench [--flows N ...] (default 10000 100000 1000000)
// Output: a human table, then one JSON object per figure per line:
//   {"bench": "perturb_1000000_flows_s", "value": V, "unit": "s"}
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_figures.h"
#include "harness/builders.h"
#include "harness/fuzz/faults.h"
#include "replay/perturb.h"
#include "trace/trace.h"

namespace flowid {
namespace {

std::vector<Event> make_trace(uint64_t flows) {
  constexpr uint64_t kLive = 300;    // processes alive at a time.
  constexpr uint64_t kInFlight = 8;  // flows opened before the first of them gets its verdict.
  std::vector<Event> events;
  events.reserve(flows * 5 + 2 * kLive);
  std::vector<AuditToken> live(kLive);
  uint32_t pidversion = 1;
  std::vector<CodeIdentity> images;
  for (int i = 0; i < 40; ++i) {
    images.push_back(
        build::developer_id_app(fmt::format("/Applications/App{}.app/Contents/MacOS/App", i),
                                fmt::format("com.example.app{}", i), "TEAM000001"));
  }
  uint64_t t = 0;
  for (uint64_t p = 0; p < kLive; ++p) {
    live[p] = build::token(static_cast<int32_t>(1000 + p), pidversion++);
    events.push_back(build::spawn(t++, live[p], build::token(1, 1), images[p % images.size()]));
  }
  std::vector<uint64_t> waiting;  // flows opened, verdict not yet written.
  for (uint64_t f = 1; f <= flows; ++f) {
    const uint64_t p = (f * 7919) % kLive;
    if (f % 97 == 0) {  // the process exits; its pid is reused by a new one.
      events.push_back(build::exit(t++, live[p]));
      live[p] = build::token(live[p].pid(), pidversion++);
      events.push_back(build::spawn(t++, live[p], build::token(1, 1), images[f % images.size()]));
    }
    events.push_back(build::flow(t++, build::tcp_flow(f, live[p], "host.example")));
    events.push_back(build::lookup_event(t++, build::lookup(f, LookupCall::kGuestByAuditToken)));
    if (f % 3 == 0)
      events.push_back(build::lookup_event(t++, build::lookup(f, LookupCall::kSigningInformation)));
    waiting.push_back(f);
    if (waiting.size() == kInFlight) {
      for (uint64_t id : waiting) {
        if (id % 50 == 0) continue;
        events.push_back(build::verdict_event(
            t++, build::verdict(id, Decision::kAllow, AttributionStatus::kVerified, images[0])));
      }
      waiting.clear();
    }
  }
  return events;
}

uint64_t digest_of(const replay::PerturbedEvents& out) {
  uint64_t d = trace::kDigestSeed;
  for (const Event& e : out.events) d = trace::event_digest(d, e);
  for (const auto* lines : {&out.applied, &out.not_applicable}) {
    for (const auto& line : *lines) d = trace::event_digest(d, build::marker(0, line));
  }
  return d;
}

}  // namespace
}  // namespace flowid

int main(int argc, char** argv) {
  std::vector<uint64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--flows" && i + 1 < argc) {
      sizes.push_back(std::stoull(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: perturb_bench [--flows N ...]\n");
      return 2;
    }
  }
  if (sizes.empty()) sizes = {10'000, 100'000, 1'000'000};
  std::vector<flowid::bench::Figure> figures;
  for (uint64_t flows : sizes) {
    const auto events = flowid::make_trace(flows);
    const auto start = std::chrono::steady_clock::now();
    const auto out = flowid::replay::apply_fault_plan(events, {}, flowid::fuzz::kAllFaults, 42);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%llu flows, %zu events -> %zu events, %zu faults applied, digest %016llx\n",
                static_cast<unsigned long long>(flows), events.size(), out.events.size(),
                out.applied.size(), static_cast<unsigned long long>(flowid::digest_of(out)));
    figures.push_back({fmt::format("perturb_{}_flows_s", flows), seconds, "s",
                       fmt::format("apply_fault_plan, {} flows (wall)", flows)});
  }
  flowid::bench::print_figures(figures, 50);
  return 0;
}
