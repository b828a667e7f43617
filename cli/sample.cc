// `flowid sample -o FILE`: writes the bundled sample trace, a small hand-made recording of the
// situation in seed 000: a sandboxed NE system extension resolving flows with
// SecCodeCopyGuestWithAttributes and falling back to proc_pidpath (the token+pid-fallback
// strategy, which its header names) —
//   - Safari's flow, made by nsurlsessiond on Safari's behalf (procPID 744, eprocPID 600): the
//     source process token is nsurlsessiond's, and that is what the extension verifies,
//   - trustd under /usr/libexec refused with EPERM (100001) to the sandboxed caller,
//   - the simulator runtime's copy of trustd, same name, resolving fine,
//   - a short-lived process gone before the lookup (ESRCH 100003).
// It exists so that a new user has something real-shaped to inspect and replay before recording
// their own. Its lookups are exactly the calls token+pid-fallback makes, in its order (guest,
// static code, path, signing information; on failure audit_token_to_pid and proc_pidpath), so
// `flowid replay` of it passes: tests/cli_test.cc checks that.
#include <fmt/format.h>

#include <cerrno>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "harness/builders.h"
#include "trace/trace.h"

namespace flowid::cli {
namespace {

constexpr std::string_view kSimRuntimeRoot =
    "/Library/Developer/CoreSimulator/Volumes/iOS_21A328/Library/Developer/CoreSimulator/"
    "Profiles/Runtimes/iOS 17.0.simruntime/Contents/Resources/RuntimeRoot";

// Builds the sample's events in time order. Lookups carry realistic handles and outcomes.
std::vector<Event> sample_events() {
  using namespace build;
  std::vector<Event> events;
  uint64_t t = 1'000'000;
  auto tick = [&t](uint64_t ns) { return t += ns; };

  const AuditToken launchd = token(1, 1, 0);
  const CodeIdentity safari =
      platform_binary("/Applications/Safari.app/Contents/MacOS/Safari", "com.apple.Safari");
  const CodeIdentity nsurlsessiond =
      platform_binary("/usr/libexec/nsurlsessiond", "com.apple.nsurlsessiond");
  const CodeIdentity trustd = platform_binary("/usr/libexec/trustd", "com.apple.trustd");
  const CodeIdentity sim_trustd =
      platform_binary(fmt::format("{}/usr/libexec/trustd", kSimRuntimeRoot), "com.apple.trustd");
  const CodeIdentity tool =
      developer_id_app("/usr/local/bin/sync-helper", "com.example.sync", "EXAMPLE123");

  const AuditToken safari_token = token(744, 1201);
  const AuditToken nsurl_token = token(600, 311, 501);
  const AuditToken trustd_token = token(14727, 1250, 0);
  const AuditToken sim_trustd_token = token(89172, 1304);
  const AuditToken tool_token = token(15001, 1410);

  events.push_back(marker(tick(0), "NE filter extension started (sandboxed, running as root)"));
  events.push_back(spawn(tick(1000), safari_token, launchd, safari));
  events.push_back(spawn(tick(1000), nsurl_token, launchd, nsurlsessiond));
  events.push_back(spawn(tick(1000), trustd_token, launchd, trustd));
  events.push_back(spawn(tick(1000), sim_trustd_token, launchd, sim_trustd));

  // Flow 1: Safari's request, carried out by nsurlsessiond (delegation).
  Flow f1 = tcp_flow(1, safari_token, "www.imdb.com");
  f1.source_process_audit_token = flow_token(nsurl_token);
  f1.source_app_identifier = ".com.apple.Safari";
  f1.source_app_version = "17.0";
  f1.remote_endpoint = Endpoint{"18.165.186.203", 443};
  f1.local_endpoint = Endpoint{"192.168.1.6", 52304};
  f1.proc_pid = 744;
  f1.eproc_pid = 600;
  events.push_back(flow(tick(50'000), f1));
  Lookup l = lookup(1, LookupCall::kGuestByAuditToken);
  l.args.token = nsurl_token;
  l.data.code_handle = 1;
  l.duration_ns = 41'000;
  events.push_back(lookup_event(tick(41'000), l));
  l = lookup(1, LookupCall::kStaticCode);
  l.args.code_handle = 1;
  l.data.code_handle = 2;
  l.duration_ns = 12'000;
  events.push_back(lookup_event(tick(12'000), l));
  l = lookup(1, LookupCall::kCodePath);
  l.args.code_handle = 2;
  l.data.path = nsurlsessiond.path;
  l.duration_ns = 9'000;
  events.push_back(lookup_event(tick(9'000), l));
  l = lookup(1, LookupCall::kSigningInformation);
  l.args.code_handle = 2;
  l.data.identity = nsurlsessiond;
  l.duration_ns = 35'000;
  events.push_back(lookup_event(tick(35'000), l));
  Verdict v = verdict(1, Decision::kAllow, AttributionStatus::kVerified, nsurlsessiond);
  v.rule = "nsurlsessiond";
  events.push_back(verdict_event(tick(2'000), v));

  // Flow 2: trustd under /usr/libexec: the token lookup is refused with EPERM; the insecure pid
  // fallback names /usr/libexec/trustd, which the product shows as unverified.
  events.push_back(flow(tick(900'000), tcp_flow(2, trustd_token, "ocsp.apple.com")));
  l = lookup(2, LookupCall::kGuestByAuditToken, osstatus(codes::kOsStatusEperm));
  l.args.token = trustd_token;
  l.duration_ns = 18'000;
  events.push_back(lookup_event(tick(18'000), l));
  l = lookup(2, LookupCall::kAuditTokenToPid);
  l.args.token = trustd_token;
  l.data.pid = trustd_token.pid();
  events.push_back(lookup_event(tick(500), l));
  l = lookup(2, LookupCall::kProcPidpath);
  l.args.pid = trustd_token.pid();
  l.data.path = trustd.path;
  l.duration_ns = 6'000;
  events.push_back(lookup_event(tick(6'000), l));
  CodeIdentity path_only;
  path_only.path = trustd.path;
  v = verdict(2, Decision::kAsk, AttributionStatus::kUnverified, path_only);
  v.rule = "policy:unverified";
  events.push_back(verdict_event(tick(2'000), v));

  // Flow 3: the simulator runtime's trustd: same name, other path, resolves.
  events.push_back(flow(tick(700'000), tcp_flow(3, sim_trustd_token, "ocsp2.apple.com")));
  l = lookup(3, LookupCall::kGuestByAuditToken);
  l.args.token = sim_trustd_token;
  l.data.code_handle = 3;
  events.push_back(lookup_event(tick(40'000), l));
  l = lookup(3, LookupCall::kStaticCode);
  l.args.code_handle = 3;
  l.data.code_handle = 4;
  events.push_back(lookup_event(tick(11'000), l));
  l = lookup(3, LookupCall::kCodePath);
  l.args.code_handle = 4;
  l.data.path = sim_trustd.path;
  events.push_back(lookup_event(tick(8'000), l));
  l = lookup(3, LookupCall::kSigningInformation);
  l.args.code_handle = 4;
  l.data.identity = sim_trustd;
  events.push_back(lookup_event(tick(30'000), l));
  v = verdict(3, Decision::kAllow, AttributionStatus::kVerified, sim_trustd);
  v.rule = "trustd";
  events.push_back(verdict_event(tick(2'000), v));

  // Flow 4: a short-lived tool exits before the extension gets to it: ESRCH both ways.
  events.push_back(spawn(tick(3'000'000), tool_token, launchd, tool));
  events.push_back(flow(tick(20'000), tcp_flow(4, tool_token, "sync.example.com")));
  events.push_back(exit(tick(15'000), tool_token));
  l = lookup(4, LookupCall::kGuestByAuditToken, osstatus(codes::kOsStatusEsrch));
  l.args.token = tool_token;
  events.push_back(lookup_event(tick(25'000), l));
  l = lookup(4, LookupCall::kAuditTokenToPid);
  l.args.token = tool_token;
  l.data.pid = tool_token.pid();
  events.push_back(lookup_event(tick(500), l));
  l = lookup(4, LookupCall::kProcPidpath, posix(ESRCH));
  l.args.pid = tool_token.pid();
  events.push_back(lookup_event(tick(4'000), l));
  v = verdict(4, Decision::kDrop, AttributionStatus::kGone);
  v.rule = "policy:gone";
  events.push_back(verdict_event(tick(2'000), v));
  events.push_back(marker(tick(1'000'000), "NE filter extension stopped"));
  return events;
}

// The extension's rules, embedded in the header so that replay applies the same filter.
constexpr std::string_view kSampleRules = R"(# The sample extension's rules (docs/rules.md).
[policy]
unverified = "ask"
gone = "drop"
unknown = "drop"
no_rule = "ask"

[[rule]]
name = "nsurlsessiond"
action = "allow"
signing_id = "com.apple.nsurlsessiond"
platform = true

[[rule]]
name = "trustd"
action = "allow"
signing_id = "com.apple.trustd"
platform = true
)";

struct SampleOptions {
  std::string output;
  bool zstd = false;
};

int run_sample(const SampleOptions& options) {
  trace::TraceHeader header;
  header.recorder = fmt::format("flowid sample {} (hand-made from seed 000)", FLOWID_VERSION);
  header.host = "sample-mac";
  header.os = "macOS 14.0 (23A344)";
  header.clock = "mach_absolute_time";
  header.caller = {true, true, 0, "NEFilterDataProvider system extension"};
  header.resolver_config = {{"strategy", "token+pid-fallback"},
                            {"source", "seeds/000"},
                            {"rules", std::string(kSampleRules)}};
  trace::WriterOptions writer_options;
  writer_options.compression = options.zstd ? trace::Compression::kZstd : trace::Compression::kNone;
  std::string error;
  PendingOutput pending(options.output);
  auto writer = trace::open_writer(pending.temp_path(), header, writer_options, &error);
  if (!writer) {
    print_error("sample", "{}: {}", options.output, error);
    return kExitInputError;
  }
  auto events = sample_events();
  for (const auto& event : events) writer->append(event);
  writer->finish();
  error = writer->last_error();
  if (!error.empty() || !pending.commit(&error)) {
    print_error("sample", "{}: {}", options.output,
                error.empty() ? "cannot write the trace" : error);
    return kExitInputError;
  }
  fmt::print(stderr, "wrote {} events to {}\n", events.size(), options.output);
  return kExitOk;
}

}  // namespace

Subcommand add_sample(CLI::App& parent) {
  auto options = std::make_shared<SampleOptions>();
  CLI::App* app = parent.add_subcommand(
      "sample", "Write the bundled sample trace (seed 000's situation, hand-made)");
  app->add_option("-o,--output", options->output, "Output trace file")->required();
  app->add_flag("--zstd", options->zstd, "Compress chunks with zstd");
  app->footer(help_footer("flowid sample -o s.trace && flowid replay s.trace",
                          "0 written; 2 usage; 3 the trace could not be written."));
  return {app, [options] { return run_sample(*options); }};
}

}  // namespace flowid::cli
