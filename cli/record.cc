// `flowid record [-o FILE] [--rules FILE [--enforce]] -- COMMAND [ARGS...]`: runs COMMAND under
// the live Linux recorder (recorder/recorder.h) and writes a trace; `flowid record --system`
// records the whole machine (root). Wiring and messages only: the work is in recorder/.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>

#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"
#include "harness/filter.h"
#include "recorder/recorder.h"

namespace flowid::cli {
namespace {

struct RecordCliOptions {
  std::string output = "flowid.trace";
  std::string rules_path;
  bool enforce = false;
  bool system = false;
  double duration_seconds = 0;
  std::string lifecycle = "auto";
  bool quiet = false;
  bool zstd = false;
  uint32_t lookup_delay_ms = 0;
  bool no_write_ahead = false;
  std::vector<std::string> command;
};

std::string human_bytes(uint64_t bytes) {
  if (bytes >= (1u << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  if (bytes >= (1u << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / (1 << 10));
  return fmt::format("{} B", bytes);
}

void print_summary(const recorder::RecordStats& s, const std::string& path) {
  fmt::print(stderr,
             "flowid record: {} flows ({} allowed, {} dropped, {} asked; {} denied), {} lookups, "
             "{} local-socket calls passed, {} calls through ways out not followed, {} spawns, "
             "{} execs, {} exits, {} dropped events (lifecycle: {}) -> {} ({})\n",
             s.flows, s.allowed, s.dropped, s.asked, s.denied, s.lookups, s.local_calls, s.channels,
             s.spawns, s.execs, s.exits, s.dropped_events, s.lifecycle_source, path,
             human_bytes(s.bytes_written));
}

int exit_code_for(const recorder::RecordResult& result) {
  switch (result.error) {
    case recorder::RecordError::kNone:
      break;
    case recorder::RecordError::kCommandNotFound:
      return kExitRecordCommandNotFound;
    case recorder::RecordError::kSeccompUnavailable:
    case recorder::RecordError::kOutput:
    case recorder::RecordError::kSetup:
      return kExitRecordFailed;
  }
  if (!result.command_finished) return 128 + SIGTERM;
  if (WIFEXITED(result.wait_status)) return WEXITSTATUS(result.wait_status);
  if (WIFSIGNALED(result.wait_status)) return 128 + WTERMSIG(result.wait_status);
  return kExitInternal;
}

int run_record(const RecordCliOptions& options) {
  trace::WriterOptions writer;
  writer.compression = options.zstd ? trace::Compression::kZstd : trace::Compression::kNone;
  recorder::RecordResult result;
  if (options.system) {
    if (!options.command.empty() || !options.rules_path.empty() || options.enforce) {
      print_error("record", "--system takes no command, --rules or --enforce");
      return kExitRecordFailed;
    }
    recorder::SystemOptions system;
    system.output_path = options.output;
    system.duration_ms = static_cast<uint32_t>(options.duration_seconds * 1000);
    system.recorder_name = std::string("flowid-record ") + FLOWID_VERSION;
    system.writer = writer;
    result = recorder::record_system(system);
  } else {
    if (options.command.empty()) {
      fmt::print(stderr,
                 "flowid record: no command (usage: flowid record [-o FILE] -- COMMAND "
                 "[ARGS...])\n");
      return kExitRecordFailed;
    }
    if (options.enforce && options.rules_path.empty()) {
      print_error("record", "--enforce needs --rules FILE");
      return kExitRecordFailed;
    }
    recorder::RecordOptions record;
    record.command = options.command;
    record.output_path = options.output;
    record.enforce = options.enforce;
    record.lookup_delay_ms = options.lookup_delay_ms;
    record.write_ahead = !options.no_write_ahead;
    record.recorder_name = std::string("flowid-record ") + FLOWID_VERSION;
    record.writer = writer;
    if (options.lifecycle == "connector") {
      record.lifecycle = recorder::LifecycleSource::kConnector;
    } else if (options.lifecycle == "supervisor") {
      record.lifecycle = recorder::LifecycleSource::kSupervisor;
    }
    if (!options.rules_path.empty()) {
      RuleError error;
      auto rules = load_rules(options.rules_path, &error);
      if (!rules) {
        print_error("record", "{}", error.describe());
        return kExitRecordFailed;
      }
      record.rules = std::move(*rules);
      record.rules_path = options.rules_path;
    }
    result = recorder::record_command(record);
  }
  if (result.error != recorder::RecordError::kNone && result.stats.events == 0 &&
      !result.command_finished) {
    print_error("record", "{}", result.message);
    return exit_code_for(result);
  }
  if (!result.message.empty()) print_error("record", "{}", result.message);
  if (!options.quiet) print_summary(result.stats, options.output);
  if (!options.system && !result.command_finished) {
    fmt::print(stderr,
               "flowid record: stopped before the command finished; its remaining "
               "intercepted calls fail with ENOSYS\n");
  }
  if (options.system)
    return result.error == recorder::RecordError::kNone ? kExitOk : kExitRecordFailed;
  return exit_code_for(result);
}

}  // namespace

Subcommand add_record(CLI::App& parent) {
  auto options = std::make_shared<RecordCliOptions>();
  CLI::App* app = parent.add_subcommand(
      "record",
      "Run a command under a seccomp supervisor and record its flows, identity lookups,\n"
      "verdicts and process lifecycle into a trace (Linux; no root needed)");
  app->add_option("-o,--output", options->output, "Trace file to write")->capture_default_str();
  app->add_option("--rules", options->rules_path,
                  "Rule file (docs/rules.md): verdicts come from the filter instead of "
                  "allow-all")
      ->check(CLI::ExistingFile);
  app->add_flag("--enforce", options->enforce,
                "Apply the verdicts: a drop or ask verdict fails the call with EACCES");
  app->add_option("--lifecycle", options->lifecycle,
                  "Where spawn / exec / exit come from: auto (process connector when root, "
                  "else the supervisor), connector, supervisor")
      ->check(CLI::IsMember({"auto", "connector", "supervisor"}))
      ->capture_default_str();
  app->add_flag("--system", options->system,
                "Record every process on the machine (root; process connector + socket "
                "diagnostics, best effort, never enforced)");
  app->add_option("--duration", options->duration_seconds,
                  "With --system: stop after this many seconds (default: at SIGINT/SIGTERM)");
  app->add_flag("--zstd", options->zstd, "Compress trace chunks with zstd");
  app->add_flag("-q,--quiet", options->quiet, "No summary line on stderr");
  app->add_option("--lookup-delay-ms", options->lookup_delay_ms,
                  "Test aid: hold each flow this long between reading its address and the "
                  "identity lookups (a slow filter)");
  app->add_flag("--no-write-ahead", options->no_write_ahead,
                "Benchmark aid: answer held calls before their events are written (a kill -9 "
                "of flowid then loses up to 200 ms of flows that passed)");
  app->add_option("COMMAND", options->command, "The command and its arguments, after --");
  app->footer(help_footer(
      "flowid record -o curl.trace -- curl -s https://example.com && flowid replay curl.trace",
      "the command's own exit status (128+N when it was killed by signal N), like time(1) and\n"
      "strace(1); flowid's own failures use codes a command rarely does, like env(1) and "
      "timeout(1):\n"
      "125 flowid failed (usage error, unreadable rule file, trace not writable, seccomp user\n"
      "notification unavailable, or the trace could not be written during the run: the tree's\n"
      "intercepted calls then fail with ENOSYS); 127 the command was not found. With --system: 0\n"
      "recorded, 125 failed.",
      "SIGINT/SIGTERM/SIGHUP: the signal is passed on to the command and the trace is closed when "
      "the\n"
      "tree has exited (or after 5 s, or at a second signal). A held call is answered only once "
      "its\n"
      "flow is in the trace; if flowid itself dies, the tree's intercepted calls fail with "
      "ENOSYS:\n"
      "nothing passes unfiltered. See docs/recording.md."));
  return {app, [options] { return run_record(*options); }};
}

}  // namespace flowid::cli
