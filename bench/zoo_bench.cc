// The bug zoo benchmark (docs/zoo.md): how many of the zoo's planted bugs `flowid fuzz` finds, and
// how fast, run exactly as a user runs it: the real CLI on each plugin, one process per
// (engine, variant, seed), its --json report parsed.
//
// For each engine (the default engine with a time budget; rapidcheck with a case budget) and each
// variant in build/examples/zoo (libzoo_NAME.so: NAME starting with "sound_" is a sound variant,
// NAME containing "launch" is a launcher), over seeds 1..N:
//   - a buggy variant is caught for a seed when the run reports a violation (exit 1);
//   - time to find: seconds_to_find of the earliest finding (the default engine: when the failing
//     case ran; rapidcheck: its whole run up to the failure, shrinking included); a finding
//     without a time is estimated from its case number and the run's cases/s, and marked "~";
//   - shrunk size: steps of the saved counterexample;
//   - a sound variant with any violation is a false alarm.
// Printed: one human table per engine, then one JSON line per run and per summary figure
// ({"bench": NAME, "value": V, "unit": U}, as the other benchmarks).
//
//   build/bench/zoo_bench                                 all variants, seeds 1..5, 10 s, both
//   engines build/bench/zoo_bench --variants path_cache,gone_fail_open --seeds 2 --budget 3s
//   build/bench/zoo_bench --engines default --seeds 1
#include <fcntl.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_runner.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string flowid = FLOWID_CLI_PATH;
  std::string plugins = FLOWID_ZOO_PLUGIN_DIR;
  std::vector<std::string> variants;  // empty: every libzoo_*.so in plugins.
  std::vector<std::string> engines = {"default", "rapidcheck"};
  uint64_t seeds = 5;
  std::string budget = "10s";
  uint64_t rc_cases = 10000;
};

// The same runner the CLI tests use: fork, exec, both streams drained concurrently.
using Output = flowid::testing::CommandResult;
Output run(const std::string& program, const std::vector<std::string>& args) {
  return flowid::testing::run_program(program, args);
}

struct Variant {
  std::string name;
  bool sound = false;
  bool launcher = false;
  std::string library;
};

struct Result {
  std::string engine;
  std::string variant;
  bool sound = false;
  uint64_t seed = 0;
  int exit_code = 0;
  bool caught = false;       // a violation was reported.
  bool unsupported = false;  // the engine refuses this kind of variant (exit 2, it says why).
  bool error = false;        // the run did not complete (usage error, model bug, ...).
  std::string error_text;
  double seconds = 0;      // time to find, when caught.
  bool estimated = false;  // seconds estimated from a baseline finding's case number.
  uint64_t cases = 0;      // cases to find (or cases run).
  uint64_t shrunk = 0;     // shrunk steps, when caught.
  std::string via;         // the fault(s) the finding was credited to, or "baseline".
};

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Both engines write the same report (docs/schemas/fuzz.schema.json): the earliest of the findings
// and the baseline is the catch.
void parse_report(const std::string& json_text, Result& r) {
  simdjson::dom::parser parser;
  simdjson::padded_string json(json_text);
  auto doc = parser.parse(json);
  if (doc.error() != simdjson::SUCCESS) {
    r.error = true;
    r.error_text = "unparsable report: " + first_line(json_text);
    return;
  }
  const double rate = doc["cases_per_second"].get_double().value();
  std::optional<double> best;
  auto consider = [&](simdjson::dom::element f, bool baseline) {
    const uint64_t cases = f["cases_to_find"].get_uint64().value();
    double s = 0;
    bool estimated = false;
    if (f["seconds_to_find"].get_double().get(s) != simdjson::SUCCESS) {
      s = rate > 0 ? static_cast<double>(cases) / rate : 0;
      estimated = true;
    }
    if (best && *best <= s) return;
    best = s;
    r.estimated = estimated;
    r.cases = cases;
    r.shrunk = f["shrunk_steps"].get_uint64().value();
    std::string_view fault;
    if (baseline) {
      r.via = "baseline";
    } else if (f["fault"].get_string().get(fault) == simdjson::SUCCESS) {
      r.via = std::string(fault);
    } else {
      r.via.clear();  // credited faults, comma-separated
      for (simdjson::dom::element c : f["credited_faults"].get_array()) {
        r.via += (r.via.empty() ? "" : ",") + std::string(c.get_string().value());
      }
    }
  };
  for (simdjson::dom::element f : doc["findings"].get_array()) consider(f, false);
  simdjson::dom::element baseline;
  if (doc["baseline"].get(baseline) == simdjson::SUCCESS && !baseline.is_null()) {
    consider(baseline, true);
  }
  if (best) {
    r.caught = true;
    r.seconds = *best;
  } else {
    r.cases = doc["cases"].get_uint64().value();
  }
}

Result run_one(const Options& o, const std::string& engine, const Variant& v, uint64_t seed,
               const fs::path& out) {
  Result r;
  r.engine = engine;
  r.variant = v.name;
  r.sound = v.sound;
  r.seed = seed;
  std::vector<std::string> args = {"fuzz",
                                   v.launcher ? "--launcher" : "--resolver",
                                   v.library,
                                   "--seed",
                                   std::to_string(seed),
                                   "--json",
                                   "--no-default-corpus",
                                   "--out",
                                   out.string()};
  if (engine == "rapidcheck") {
    args.insert(args.end(),
                {"--engine", "rapidcheck", "--budget", std::to_string(o.rc_cases) + "cases"});
  } else {
    args.insert(args.end(), {"--budget", o.budget});
  }
  const auto start = Clock::now();
  Output output = run(o.flowid, args);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  r.exit_code = output.exit_code;
  if (output.exit_code == 2 && output.err.find("is a launcher") != std::string::npos) {
    r.unsupported = true;  // e.g. the rapidcheck engine models resolver schedules only.
    r.error_text = first_line(output.err);
    return r;
  }
  if (output.exit_code != 0 && output.exit_code != 1) {
    r.error = true;
    r.error_text = fmt::format("exit {}: {}", output.exit_code, first_line(output.err));
    return r;
  }
  parse_report(output.out, r);
  if (!r.error && r.caught != (output.exit_code == 1)) {
    // Exit 1 without a finding in the report: a corpus or determinism failure; keep it visible.
    r.error = true;
    r.error_text = fmt::format("exit {} but report says caught={} (wall {:.1f} s)",
                               output.exit_code, r.caught, wall);
  }
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<Variant> discover(const Options& o) {
  std::vector<Variant> out;
  std::vector<std::string> names = o.variants;
  if (names.empty()) {
    for (const auto& entry : fs::directory_iterator(o.plugins)) {
      const std::string file = entry.path().filename().string();
      if (file.starts_with("libzoo_") && file.ends_with(".so"))
        names.push_back(file.substr(7, file.size() - 10));
    }
    std::sort(names.begin(), names.end());
  }
  for (const auto& name : names) {
    Variant v;
    v.name = name;
    v.sound = name.starts_with("sound_");
    v.launcher = name.find("launch") != std::string::npos;
    v.library = (fs::path(o.plugins) / ("libzoo_" + name + ".so")).string();
    out.push_back(std::move(v));
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void print_run_json(const Result& r) {
  fmt::print(
      "{{\"bench\": \"zoo_run\", \"engine\": \"{}\", \"variant\": \"{}\", \"kind\": \"{}\", "
      "\"seed\": {}, "
      "\"exit\": {}, \"caught\": {}, \"seconds_to_find\": {}, \"estimated\": {}, \"cases\": {}, "
      "\"shrunk_steps\": {}, "
      "\"via\": {}, \"unsupported\": {}, \"error\": {}}}\n",
      r.engine, r.variant, r.sound ? "sound" : "buggy", r.seed, r.exit_code,
      r.caught ? "true" : "false", r.caught ? fmt::format("{:.6f}", r.seconds) : "null",
      r.estimated ? "true" : "false", r.cases, r.caught ? std::to_string(r.shrunk) : "null",
      r.caught ? json_string(r.via) : "null", r.unsupported ? "true" : "false",
      r.error || r.unsupported ? json_string(r.error_text) : "null");
}

void figure(const std::string& name, double value, const char* unit) {
  fmt::print("{{\"bench\": \"{}\", \"value\": {:.6g}, \"unit\": \"{}\"}}\n", name, value, unit);
}

// One engine's table: a row per variant, then the totals; JSON figures for the totals.
void report_engine(const std::string& engine, const std::vector<Variant>& variants,
                   const std::vector<Result>& results, uint64_t seeds,
                   const std::string& budget_text) {
  fmt::print("\n## engine {} ({} per run, seeds 1..{})\n\n", engine, budget_text, seeds);
  fmt::print(
      "| variant | kind | caught | median time to find (s) | median / max shrunk steps | notes "
      "|\n");
  fmt::print("| --- | --- | --- | --- | --- | --- |\n");
  uint64_t pairs = 0, caught_pairs = 0, variants_all = 0, variants_any = 0, buggy = 0,
           false_alarms = 0;
  uint64_t errors = 0, not_supported = 0;
  std::vector<double> all_times;
  std::vector<double> all_shrunk;
  for (const auto& v : variants) {
    std::vector<double> times, shrunk;
    uint64_t caught = 0, estimated = 0, runs = 0, unsupported = 0, incomplete = 0;
    std::string notes;
    std::string first_error;
    std::vector<std::string> via;  // distinct credited faults over the seeds.
    for (const auto& r : results) {
      if (r.engine != engine || r.variant != v.name) continue;
      if (r.unsupported) {
        ++unsupported;
        continue;
      }
      ++runs;
      if (r.error) {
        // Counted as not caught (and not as a false alarm); the note says how many and why.
        ++errors;
        ++incomplete;
        if (first_error.empty()) first_error = fmt::format("seed {}: {}", r.seed, r.error_text);
        continue;
      }
      if (!r.caught) continue;
      ++caught;
      times.push_back(r.seconds);
      shrunk.push_back(static_cast<double>(r.shrunk));
      if (r.estimated) ++estimated;
      if (std::find(via.begin(), via.end(), r.via) == via.end()) via.push_back(r.via);
    }
    if (!via.empty()) {
      std::sort(via.begin(), via.end());
      std::string joined;
      for (const auto& f : via) joined += (joined.empty() ? "" : " ") + f;
      notes = "via " + joined + (notes.empty() ? "" : "; " + notes);
    }
    if (incomplete > 0) {
      notes += fmt::format("{}{} run{} did not complete ({})", notes.empty() ? "" : "; ",
                           incomplete, incomplete == 1 ? "" : "s", first_error);
    }
    if (unsupported > 0) {
      fmt::print("| {} | {} | not supported | - | - | this engine refuses it (exit 2) |\n", v.name,
                 v.sound ? "sound" : "launcher");
      ++not_supported;
      continue;
    }
    if (estimated > 0)
      notes += fmt::format("{}{} baseline (time estimated)", notes.empty() ? "" : "; ", estimated);
    if (v.sound) {
      false_alarms += caught;
      fmt::print("| {} | sound | {} false alarm{} / {} | - | - | {} |\n", v.name, caught,
                 caught == 1 ? "" : "s", runs, notes);
      continue;
    }
    ++buggy;
    pairs += runs;
    caught_pairs += caught;
    if (runs > 0 && caught == runs) ++variants_all;
    if (caught > 0) ++variants_any;
    all_times.insert(all_times.end(), times.begin(), times.end());
    all_shrunk.insert(all_shrunk.end(), shrunk.begin(), shrunk.end());
    fmt::print(
        "| {} | {} | {}/{} | {} | {} | {} |\n", v.name, v.launcher ? "launcher" : "resolver",
        caught, runs,
        times.empty() ? "-" : fmt::format("{}{:.3f}", estimated > 0 ? "~" : "", median(times)),
        shrunk.empty() ? "-"
                       : fmt::format("{:.0f} / {:.0f}", median(shrunk),
                                     *std::max_element(shrunk.begin(), shrunk.end())),
        notes);
  }
  const double max_shrunk =
      all_shrunk.empty() ? 0 : *std::max_element(all_shrunk.begin(), all_shrunk.end());
  fmt::print(
      "\nengine {}: caught {}/{} (variant, seed) runs; {}/{} buggy variants caught in every seed, "
      "{}/{} in at least "
      "one; median time to find {:.3f} s; shrunk steps median {:.0f}, max {:.0f}; false alarms {}; "
      "runs that did not "
      "complete {}; variants it does not support {}\n",
      engine, caught_pairs, pairs, variants_all, buggy, variants_any, buggy, median(all_times),
      median(all_shrunk), max_shrunk, false_alarms, errors, not_supported);
  figure("zoo_" + engine + "_caught_runs", static_cast<double>(caught_pairs), "runs");
  figure("zoo_" + engine + "_total_runs", static_cast<double>(pairs), "runs");
  figure("zoo_" + engine + "_variants_caught_every_seed", static_cast<double>(variants_all),
         "variants");
  figure("zoo_" + engine + "_variants_caught_any_seed", static_cast<double>(variants_any),
         "variants");
  figure("zoo_" + engine + "_buggy_variants", static_cast<double>(buggy), "variants");
  figure("zoo_" + engine + "_median_time_to_find", median(all_times), "s");
  figure("zoo_" + engine + "_median_shrunk_steps", median(all_shrunk), "steps");
  figure("zoo_" + engine + "_max_shrunk_steps", max_shrunk, "steps");
  figure("zoo_" + engine + "_false_alarms", static_cast<double>(false_alarms), "runs");
  figure("zoo_" + engine + "_incomplete_runs", static_cast<double>(errors), "runs");
  figure("zoo_" + engine + "_unsupported_variants", static_cast<double>(not_supported), "variants");
}

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--variants") {
      o.variants = split(value());
    } else if (arg == "--engines") {
      o.engines = split(value());
    } else if (arg == "--seeds") {
      o.seeds = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--budget") {
      o.budget = value();
    } else if (arg == "--rc-cases") {
      o.rc_cases = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--flowid") {
      o.flowid = value();
    } else if (arg == "--plugins") {
      o.plugins = value();
    } else {
      fmt::print(stderr,
                 "usage: zoo_bench [--variants A,B] [--engines default,rapidcheck] [--seeds N] "
                 "[--budget 10s] "
                 "[--rc-cases 10000] [--flowid PATH] [--plugins DIR]\n");
      return false;
    }
  }
  for (const auto& e : o.engines) {
    if (e != "default" && e != "rapidcheck") {
      fmt::print(stderr, "zoo_bench: unknown engine '{}' (default, rapidcheck)\n", e);
      return false;
    }
  }
  return o.seeds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) return 2;
  std::error_code ec;
  if (!fs::is_directory(o.plugins, ec)) {
    fmt::print(stderr, "zoo_bench: {}: no such folder (build the flowid_zoo target)\n", o.plugins);
    return 2;
  }
  const std::vector<Variant> variants = discover(o);
  for (const auto& v : variants) {
    if (!fs::exists(v.library)) {
      fmt::print(stderr, "zoo_bench: {}: no such plugin\n", v.library);
      return 2;
    }
  }
  const fs::path out = fs::temp_directory_path() / fmt::format("flowid-zoo-bench-{}", ::getpid());
  std::vector<Result> results;
  for (const auto& engine : o.engines) {
    for (const auto& v : variants) {
      for (uint64_t seed = 1; seed <= o.seeds; ++seed) {
        results.push_back(run_one(o, engine, v, seed, out));
        const Result& r = results.back();
        fmt::print(stderr, "{} {} seed {}: {}\n", engine, v.name, seed,
                   r.error || r.unsupported ? r.error_text
                   : r.caught               ? fmt::format("caught in {:.3f} s", r.seconds)
                                            : "not caught");
      }
    }
  }
  fs::remove_all(out, ec);
  for (const auto& engine : o.engines) {
    report_engine(engine, variants, results, o.seeds,
                  engine == "rapidcheck" ? fmt::format("{} cases", o.rc_cases) : o.budget);
  }
  fmt::print("\n");
  for (const auto& r : results) print_run_json(r);
  return 0;
}
