// `flowid fuzz`: property-based fault injection against a resolver or launcher strategy
// (docs/model.md, docs/fuzzing.md). Cases are generated schedules (harness/fuzz/); the oracle's
// invariants are the properties. A run
//   1. replays the counterexample corpus first (the bundled fixtures/counterexamples and any
//      --corpus DIR), like a regression database;
//   2. generates cases until the budget (time or cases) is spent or every fault in the plan has a
//      credited violation, on --jobs threads (case k always uses the same seed, whatever thread
//      runs it);
//   3. shrinks each violation that brings a new fault, writes it as DIR/NAME.scenario (reviewable,
//      replayed by later runs) and DIR/NAME.trace (`flowid replay --mode model` reproduces it),
//      and prints the seed and a one-line reproduce command;
//   4. re-runs a sample of cases and compares digests (determinism, I6);
//   5. prints a per-fault report: found or not, after how many cases and how long, the shrunk size.
// `flowid fuzz --matrix` does this for every reference strategy x every fault (one fault per
// cell, deterministic case budget) and prints the table as Markdown or JSON.
//
// Exit codes: 1 when a violation was found or a corpus entry regressed; for --matrix, 1 when a
// cell differs from the bundled expectations (a cell is expected to find a violation exactly when
// fixtures/counterexamples holds STRATEGY--FN.scenario).
#include <fmt/format.h>

#include <unistd.h>
#include <fstream>
#include <iterator>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <span>
#include <thread>

#include "cli/commands.h"
#include "cli/explain.h"
#include "cli/fuzz_json.h"
#include "cli/fuzz_rapidcheck.h"
#include "cli/output.h"
#include "cli/plugin_pool.h"
#include "cli/report.h"
#include "harness/event_format.h"
#include "harness/fuzz/campaign.h"
#include "harness/fuzz/fuzz_input.h"
#include "harness/strategies/catalog.h"
#include "plugin/loader.h"
#include "replay/perturb.h"
#include "replay/scenario_files.h"

namespace flowid::cli {
namespace {

using Clock = std::chrono::steady_clock;
using fuzz::Fault;
using fuzz::FaultSet;

// Named bounds.
constexpr uint64_t kCasesLimit = uint64_t{1} << 40;
constexpr uint32_t kUncreditedShrinksMax = 16;  // per fault: shrinks that did not credit it.
constexpr uint32_t kJobsMax = 256;
constexpr uint64_t kDeterminismSample = 64;
constexpr uint64_t kMatrixDefaultCases = 3000;
constexpr uint64_t kTallyFlushCases = 64;
// Cases per round trip for a strategy checked elsewhere (an isolated plugin's worker).
constexpr uint64_t kBatchElsewhere = 16;
// Cases per round trip when the worker generates them (a few milliseconds of work).
constexpr uint64_t kBatchGenerated = 64;
// --shard i/n: case numbers are dealt in blocks of this many, block b to shard b % n, so each
// shard's batches stay whole (kShardBlock is a multiple of every batch size).
constexpr uint64_t kShardBlock = 64;
static_assert(kShardBlock % kBatchGenerated == 0 && kShardBlock % kBatchElsewhere == 0);

struct FuzzOptions {
  std::string strategy;
  std::string launcher;
  std::string faults = "all";
  std::string budget = "30s";
  std::optional<uint64_t> seed;
  std::optional<uint64_t> single_case;
  uint32_t jobs = 1;
  std::vector<std::string> corpus_dirs;
  bool no_default_corpus = false;
  std::string out_dir = "flowid-fuzz-out";
  bool json = false;
  std::string junit_path;
  bool matrix = false;
  bool progress = false;
  bool no_swarm = false;
  bool keep_going = false;
  bool expect_all = false;
  uint32_t shrink_runs = 3000;
  std::string engine = "default";
  std::string decode_input;        // --decode-input FILE: a libFuzzer input as a case.
  std::string shard;               // --shard i/n.
  std::vector<std::string> merge;  // --merge A.json B.json ...: shard reports as one.
};

struct Budget {
  std::optional<double> seconds;
  std::optional<uint64_t> cases;
};

// "30s", "500ms", "2m", "1h", "10000", "10000cases".
std::optional<Budget> parse_budget(const std::string& text) {
  Budget budget;
  auto number = [](std::string_view digits) -> std::optional<double> {
    if (digits.empty()) return std::nullopt;
    std::size_t used = 0;
    try {
      double v = std::stod(std::string(digits), &used);
      if (used != digits.size() || v < 0) return std::nullopt;
      return v;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  struct Unit {
    std::string_view suffix;
    double seconds;
  };
  static constexpr Unit kUnits[] = {{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
  std::string_view t = text;
  if (t.ends_with("cases")) {
    auto n = number(t.substr(0, t.size() - 5));
    if (!n) return std::nullopt;
    budget.cases = static_cast<uint64_t>(*n);
    return budget;
  }
  for (const auto& unit : kUnits) {
    if (t.size() > unit.suffix.size() && t.ends_with(unit.suffix)) {
      auto n = number(t.substr(0, t.size() - unit.suffix.size()));
      if (n) {
        budget.seconds = *n * unit.seconds;
        return budget;
      }
    }
  }
  auto n = number(t);
  if (!n) return std::nullopt;
  budget.cases = static_cast<uint64_t>(*n);
  return budget;
}

// What a campaign found for one fault.
struct FaultFinding {
  uint64_t case_index = 0;
  double seconds = 0;  // time to find (before shrinking).
  fuzz::Counterexample counterexample;
  std::optional<replay::CounterexampleFiles> files;
  std::string write_error;
  std::vector<std::string> why;  // the short explanation of the written trace (cli/explain.h).
};

struct CampaignReport {
  std::string strategy;
  bool launcher = false;  // the strategy is a launcher: model replay does not run launches.
  FaultSet plan = 0;
  uint64_t seed = 0;
  fuzz::CampaignTally tally;
  double seconds = 0;
  std::array<std::optional<FaultFinding>, fuzz::kFaultCount> found;
  // A violation whose shrunk schedule needs no fault at all (e.g. a path-only claim that an
  // identity deny rule cannot match): a weakness of the strategy, credited to no fault.
  std::optional<FaultFinding> baseline;
  std::vector<fuzz::CorpusVerdict> corpus;
  uint64_t determinism_checked = 0;
  std::vector<std::string> determinism_failures;
  std::vector<std::string> invalid_cases;  // generator bugs.
  std::optional<Shard> shard;              // --shard i/n (n > 1).
};

class Campaign {
 public:
  Campaign(fuzz::CampaignOptions options, FaultSet plan, Budget budget, uint32_t jobs,
           bool keep_going, fuzz::ShrinkOptions shrink, bool progress, Shard shard = {})
      : shard_(shard),
        options_(std::move(options)),
        plan_(plan),
        budget_(budget),
        jobs_(jobs),
        keep_going_(keep_going),
        shrink_(shrink),
        progress_(progress) {}

  CampaignReport run() {
    report_.strategy = options_.strategy.name;
    report_.launcher = options_.strategy.launcher;
    report_.plan = plan_;
    report_.seed = options_.seed;
    if (shard_.count > 1) report_.shard = shard_;
    start_ = Clock::now();
    std::vector<std::thread> threads;
    for (uint32_t j = 0; j < jobs_; ++j) threads.emplace_back([this] { work(); });
    if (progress_) {
      while (running_.load() != 0 || threads_started_.load() < jobs_) {
        print_progress();
        std::unique_lock lock(progress_mutex_);
        progress_cv_.wait_for(lock, std::chrono::milliseconds(250));
        if (threads_started_.load() == jobs_ && running_.load() == 0) break;
      }
    }
    for (auto& t : threads) t.join();
    if (progress_ && terminal_) fmt::print(stderr, "\r\033[K");
    report_.seconds = elapsed();
    return std::move(report_);
  }

 private:
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  bool all_found_locked() const {
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      if (fuzz::contains(plan_, fuzz::fault_at(i)) && !report_.found[static_cast<std::size_t>(i)] &&
          uncredited_[static_cast<std::size_t>(i)] < kUncreditedShrinksMax) {
        return false;
      }
    }
    return true;
  }

  void work() {
    ++running_;
    ++threads_started_;
    fuzz::CampaignTally local;
    const uint64_t cases_max = budget_.cases.value_or(kCasesLimit);
    // A strategy checked elsewhere (an isolated plugin) gets its cases in batches: one round trip
    // to its worker per batch (only the batch's parameters when the worker generates the cases
    // itself). Case k's record is the same either way.
    const uint64_t batch = options_.strategy.generate_elsewhere ? kBatchGenerated
                           : options_.strategy.check_elsewhere  ? kBatchElsewhere
                                                                : 1;
    std::vector<fuzz::CaseRecord> records;
    std::size_t at = 0;
    while (true) {
      if (at == records.size()) {
        if (budget_.seconds && elapsed() >= *budget_.seconds) break;
        const uint64_t first = case_number(next_.fetch_add(batch));
        if (first >= cases_max || first > stop_after_.load()) break;
        records = fuzz::run_cases(options_, first, std::min(batch, cases_max - first));
        at = 0;
      }
      fuzz::CaseRecord record = std::move(records[at++]);
      const uint64_t k = record.index;
      if (k > stop_after_.load()) break;
      local.add(record);
      if (!record.verdict.ran()) {
        std::lock_guard lock(mutex_);
        if (report_.invalid_cases.size() < 8) {
          report_.invalid_cases.push_back(fmt::format("case {}: {}", k, record.verdict.error));
        }
      } else if (record.verdict.failed()) {
        consider(record);
      }
      if (local.cases >= kTallyFlushCases) flush(local);
    }
    flush(local);
    --running_;
    progress_cv_.notify_all();
  }

  // The case number of this shard's p-th case (p itself without sharding): disjoint across the
  // shards of one --seed, together the cases of the unsharded run.
  uint64_t case_number(uint64_t p) const {
    if (shard_.count <= 1) return p;
    const uint64_t block = p / kShardBlock;
    return (block * shard_.count + shard_.index) * kShardBlock + p % kShardBlock;
  }

  void flush(fuzz::CampaignTally& local) {
    std::lock_guard lock(mutex_);
    report_.tally.merge(local);
    local = fuzz::CampaignTally{};
  }

  // Shrinks a failing case when it may credit a fault that has no (earlier) finding yet.
  void consider(const fuzz::CaseRecord& record) {
    const double found_at = elapsed();
    FaultSet wanted = 0;
    {
      std::lock_guard lock(mutex_);
      for (int i = 0; i < fuzz::kFaultCount; ++i) {
        const auto index = static_cast<std::size_t>(i);
        if (!fuzz::contains(plan_ & record.generated.injected, fuzz::fault_at(i))) continue;
        if (report_.found[index] && report_.found[index]->case_index < record.index) continue;
        if (!report_.found[index] && uncredited_[index] >= kUncreditedShrinksMax) continue;
        wanted |= fuzz::bit(fuzz::fault_at(i));
      }
    }
    bool try_baseline = false;
    if (wanted == 0) {
      std::lock_guard lock(mutex_);
      try_baseline = !report_.baseline && baseline_attempts_ < kUncreditedShrinksMax;
      if (!try_baseline) return;
      ++baseline_attempts_;
    }
    fuzz::Counterexample cx = fuzz::minimize(options_, record, shrink_);
    std::lock_guard lock(mutex_);
    if ((cx.credited & plan_) == 0) {
      if (!report_.baseline || report_.baseline->case_index > record.index) {
        report_.baseline = FaultFinding{record.index, found_at, cx, std::nullopt, {}, {}};
      }
    }
    bool credited_any = false;
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      const auto index = static_cast<std::size_t>(i);
      if (!fuzz::contains(wanted, fuzz::fault_at(i))) continue;
      if (!fuzz::contains(cx.credited, fuzz::fault_at(i))) {
        ++uncredited_[index];
        continue;
      }
      if (report_.found[index] && report_.found[index]->case_index < record.index) continue;
      report_.found[index] = FaultFinding{record.index, found_at, cx, std::nullopt, {}, {}};
      credited_any = true;
    }
    (void)credited_any;
    if (!keep_going_ && all_found_locked()) {
      uint64_t last = 0;
      for (const auto& f : report_.found) {
        if (f) last = std::max(last, f->case_index);
      }
      // Cases below the last credited one still run, so the earliest finding per fault wins
      // however the cases were spread over threads.
      uint64_t current = stop_after_.load();
      while (last < current && !stop_after_.compare_exchange_weak(current, last)) {
      }
    }
  }

  // On a terminal: one line redrawn in place four times a second. Elsewhere (a CI log): a plain
  // line every kPlainProgressSeconds, so the log holds a readable history, not control codes.
  void print_progress() {
    std::lock_guard lock(mutex_);
    const double t = elapsed();
    if (!terminal_) {
      if (t < next_plain_progress_) return;
      next_plain_progress_ = t + kPlainProgressSeconds;
    }
    const uint64_t cases = report_.tally.cases;
    const std::string budget =
        budget_.seconds
            ? fmt::format("{:.1f}s of {:.0f}s", t, *budget_.seconds)
            : fmt::format("{:.1f}s, {} of {} cases", t, cases, budget_.cases.value_or(0));
    std::string line = fmt::format(
        "{}flowid fuzz: {}: {} cases ({:.0f}/s) {} failing |", terminal_ ? "\r\033[K" : "", budget,
        cases, t > 0 ? static_cast<double>(cases) / t : 0.0, report_.tally.failed);
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      if (!fuzz::contains(plan_, fuzz::fault_at(i))) continue;
      const auto index = static_cast<std::size_t>(i);
      line +=
          fmt::format(" {}{}{}", fuzz::fault_id(fuzz::fault_at(i)),
                      report_.found[index] ? "!" : ":", report_.tally.faults[index].cases_injected);
    }
    fmt::print(stderr, "{}{}", line, terminal_ ? "" : "\n");
    std::fflush(stderr);
  }

  static constexpr double kPlainProgressSeconds = 10;
  const bool terminal_ = ::isatty(2) == 1;
  double next_plain_progress_ = 0;

  Shard shard_;
  fuzz::CampaignOptions options_;
  FaultSet plan_;
  Budget budget_;
  uint32_t jobs_;
  bool keep_going_;
  fuzz::ShrinkOptions shrink_;
  bool progress_;
  Clock::time_point start_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> stop_after_{~uint64_t{0}};
  std::atomic<uint32_t> running_{0};
  std::atomic<uint32_t> threads_started_{0};
  std::mutex mutex_;
  std::mutex progress_mutex_;
  std::condition_variable progress_cv_;
  std::array<uint32_t, fuzz::kFaultCount> uncredited_{};
  uint32_t baseline_attempts_ = 0;
  CampaignReport report_;
};

// The bundled counterexamples; nullopt (with *error) when FLOWID_FIXTURES names no folder.
std::optional<std::string> default_corpus_dir(std::string* error) {
  auto dir = fixtures_dir(error);
  if (!dir) return std::nullopt;
  return *dir + "/counterexamples";
}

// Loads the corpus folders. A --corpus folder that does not exist is an error (a typo must not
// silently skip the regression corpus), and so is FLOWID_FIXTURES naming no folder; the bundled
// corpus may be absent (an installed flowid without fixtures).
bool load_corpora(const FuzzOptions& options, std::vector<scenario::Scenario>& corpus,
                  std::string* error) {
  std::vector<std::pair<std::string, bool>> dirs;
  if (!options.no_default_corpus) {
    auto bundled = default_corpus_dir(error);
    if (!bundled) return false;
    dirs.emplace_back(*bundled, false);
  }
  for (const auto& d : options.corpus_dirs) dirs.emplace_back(d, true);
  for (const auto& [dir, required] : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      if (!required) continue;
      *error = fmt::format("--corpus {}: no such folder", dir);
      return false;
    }
    auto loaded = replay::load_corpus(dir, error);
    if (!loaded) return false;
    for (auto& s : *loaded) corpus.push_back(std::move(s));
  }
  return true;
}

void check_determinism(const fuzz::CampaignOptions& options, uint64_t cases_run,
                       CampaignReport& report) {
  const uint64_t sample = std::min<uint64_t>(kDeterminismSample, cases_run);
  SplitMix64 pick(options.seed ^ 0xd37e4317ULL);
  for (uint64_t i = 0; i < sample; ++i) {
    const uint64_t k = cases_run <= kDeterminismSample ? i : pick.below(cases_run);
    auto a = fuzz::run_case(options, k);
    auto b = fuzz::run_case(options, k);
    ++report.determinism_checked;
    if (a.verdict.digest != b.verdict.digest) {
      report.determinism_failures.push_back(fmt::format("case {}: digest {:016x} then {:016x}", k,
                                                        a.verdict.digest, b.verdict.digest));
    }
  }
}

// The command that shows a saved counterexample failing again: model replay of its trace for a
// resolver (the trace holds the failing resolver's own calls and lookup faults), the matrix row
// of its scenario for a launcher (model replay rebuilds resolutions, not launches).
std::string replay_command(const CampaignReport& report, const std::string& scenario_path,
                           const std::string& trace_path) {
  if (report.launcher) {
    return fmt::format("flowid matrix --scenarios {} --launcher {} -v", scenario_path,
                       report.strategy);
  }
  return fmt::format("flowid replay --mode model --resolver {} {}", report.strategy, trace_path);
}

void print_human(const CampaignReport& report, const fuzz::CampaignOptions& options) {
  const auto& t = report.tally;
  fmt::print("flowid fuzz: strategy {}, faults {}, seed {}{}\n", report.strategy,
             fuzz::format_fault_set(report.plan), report.seed,
             report.shard ? fmt::format(", shard {}/{}", report.shard->index, report.shard->count)
                          : std::string());
  fmt::print("{} cases in {:.2f}s ({:.0f} cases/s), {} failing, {} invalid\n", t.cases,
             report.seconds,
             report.seconds > 0 ? static_cast<double>(t.cases) / report.seconds : 0.0, t.failed,
             t.invalid);
  if (!report.corpus.empty()) {
    std::size_t applicable = 0;
    std::size_t failed = 0;
    for (const auto& c : report.corpus) {
      applicable += c.applicable ? 1 : 0;
      failed += c.passed() ? 0 : 1;
    }
    fmt::print("corpus: {} entries replayed first, {} regressed\n", applicable, failed);
    for (const auto& c : report.corpus) {
      if (!c.passed()) fmt::print("  ! {}\n", c.problem());
    }
  }
  fmt::print(
      "\n| fault | cases with it | violation | invariant | cell | after cases | after | shrunk "
      "steps |\n");
  fmt::print("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    const Fault fault = fuzz::fault_at(i);
    if (!fuzz::contains(report.plan, fault)) continue;
    const auto index = static_cast<std::size_t>(i);
    const auto& f = report.found[index];
    if (f) {
      const auto& s = f->counterexample.shrink;
      fmt::print("| {} {} | {} | yes | {} | {} | {} | {:.3f}s | {} (from {}) |\n",
                 fuzz::fault_id(fault), fuzz::fault_name(fault), t.faults[index].cases_injected,
                 fuzz::format_invariants(s.verdict.violated), name_of(s.verdict.cell),
                 f->case_index + 1, f->seconds, s.shrunk_size, s.original_size);
    } else {
      fmt::print("| {} {} | {} | no | - | - | - | - | - |\n", fuzz::fault_id(fault),
                 fuzz::fault_name(fault), t.faults[index].cases_injected);
    }
  }
  if (report.baseline) {
    const auto& s = report.baseline->counterexample.shrink;
    fmt::print("| baseline (no fault) | - | yes | {} | {} | {} | {:.3f}s | {} (from {}) |\n",
               fuzz::format_invariants(s.verdict.violated), name_of(s.verdict.cell),
               report.baseline->case_index + 1, report.baseline->seconds, s.shrunk_size,
               s.original_size);
  }
  // Each counterexample once (a case may be credited to several faults).
  std::vector<uint64_t> shown;
  std::vector<const FaultFinding*> findings;
  for (const auto& f : report.found) {
    if (f) findings.push_back(&*f);
  }
  if (report.baseline) findings.push_back(&*report.baseline);
  for (const FaultFinding* f : findings) {
    if (std::find(shown.begin(), shown.end(), f->case_index) != shown.end()) continue;
    shown.push_back(f->case_index);
    const auto& s = f->counterexample.shrink;
    fmt::print("\nviolation: {} (faults {})\n", s.verdict.first_violation,
               fuzz::format_fault_set(f->counterexample.credited));
    fmt::print("  seed {}, case {} (case seed {})\n", options.seed, f->case_index,
               f->counterexample.case_seed);
    fmt::print("  reproduce: {}\n", f->counterexample.reproduce);
    if (f->files) {
      fmt::print("  scenario:  {}\n  trace:     {}\n", f->files->scenario_path,
                 f->files->trace_path);
      fmt::print("  replay:    {}\n",
                 replay_command(report, f->files->scenario_path, f->files->trace_path));
      for (const auto& line : f->why) fmt::print("{}\n", line);
    } else if (!f->write_error.empty()) {
      fmt::print("  (not saved: {})\n", f->write_error);
    }
  }
  if (report.determinism_checked > 0) {
    fmt::print("\ndeterminism: {} cases run twice, {} digest mismatches\n",
               report.determinism_checked, report.determinism_failures.size());
    for (const auto& d : report.determinism_failures) fmt::print("  ! {}\n", d);
  }
  for (const auto& e : report.invalid_cases)
    fmt::print("  ! invalid generated case (a flowid bug): {}\n", e);
}

// The report as docs/schemas/fuzz.schema.json describes it (the same keys as --engine rapidcheck).
nlohmann::ordered_json report_json(const CampaignReport& report) {
  const auto& t = report.tally;
  auto json =
      fuzz_report_skeleton("default", report.strategy, report.launcher, report.plan, report.seed);
  if (report.shard) json["shard"] = fmt::format("{}/{}", report.shard->index, report.shard->count);
  json["cases"] = t.cases;
  json["seconds"] = report.seconds;
  json["cases_per_second"] =
      report.seconds > 0 ? static_cast<double>(t.cases) / report.seconds : 0.0;
  json["failing_cases"] = t.failed;
  json["invalid_cases"] = t.invalid;
  json["determinism"]["checked"] = report.determinism_checked;
  for (const auto& m : report.determinism_failures) json["determinism"]["mismatches"].push_back(m);
  json["corpus"] = corpus_json(report.corpus);
  auto finding_of = [](const FaultFinding& f, std::optional<Fault> fault,
                       std::optional<double> seconds) {
    const auto& s = f.counterexample.shrink;
    return finding_json(FindingFacts{fault, f.case_index, seconds, s.original_size, s.runs},
                        f.counterexample, f.files);
  };
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    const Fault fault = fuzz::fault_at(i);
    if (!fuzz::contains(report.plan, fault)) continue;
    const auto index = static_cast<std::size_t>(i);
    const auto& f = report.found[index];
    json["results"].push_back(
        fault_result_json(fault, t.faults[index].cases_injected, f.has_value()));
    if (f) json["findings"].push_back(finding_of(*f, fault, f->seconds));
  }
  if (report.baseline) {
    json["baseline"] = finding_of(*report.baseline, std::nullopt, report.baseline->seconds);
  }
  return json;
}

SuiteReport suite_of(const CampaignReport& report) {
  SuiteReport suite;
  suite.kind = "fuzz";
  suite.title = fmt::format("flowid fuzz {}", report.strategy);
  suite.classname = fmt::format("flowid.fuzz.{}", plugin::file_safe_name(report.strategy));
  suite.seconds = report.seconds;
  for (const auto& c : report.corpus) {
    if (!c.applicable) continue;
    CaseReport r;
    r.name = "corpus:" + c.file;
    r.digest = c.verdict.digest;
    if (!c.passed()) r.failures.push_back(c.problem());
    suite.cases.push_back(std::move(r));
  }
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    const Fault fault = fuzz::fault_at(i);
    if (!fuzz::contains(report.plan, fault)) continue;
    CaseReport r;
    r.name = fmt::format("{} {}", fuzz::fault_id(fault), fuzz::fault_name(fault));
    r.flows = report.tally.faults[static_cast<std::size_t>(i)].cases_injected;
    if (const auto& f = report.found[static_cast<std::size_t>(i)]) {
      r.failures.push_back(fmt::format("{} (reproduce: {})",
                                       f->counterexample.shrink.verdict.first_violation,
                                       f->counterexample.reproduce));
      r.seconds = f->seconds;
    }
    suite.cases.push_back(std::move(r));
  }
  if (report.baseline) {
    // A violation that needs no fault at all: a weakness of the strategy, counted like any other.
    const auto& b = *report.baseline;
    CaseReport r;
    r.name = "baseline (no fault)";
    r.failures.push_back(fmt::format("{} (reproduce: {})",
                                     b.counterexample.shrink.verdict.first_violation,
                                     b.counterexample.reproduce));
    r.seconds = b.seconds;
    suite.cases.push_back(std::move(r));
  }
  for (const auto& d : report.determinism_failures) {
    CaseReport r;
    r.name = "determinism";
    r.failures.push_back(d);
    suite.cases.push_back(std::move(r));
  }
  return suite;
}

// Writes each distinct counterexample once; every finding of the same case shares the files.
// Each trace records `recorder`'s own run (the strategy that failed), so the printed replay line
// meets the same seam calls and races.
void save_counterexamples(CampaignReport& report, const std::string& dir, bool matrix_names,
                          bool expect_all, const fuzz::StrategyUnderTest& recorder) {
  for (std::size_t i = 0; i < report.found.size(); ++i) {
    auto& f = report.found[i];
    if (!f) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (report.found[j] && report.found[j]->case_index == f->case_index &&
          report.found[j]->files) {
        f->files = report.found[j]->files;
      }
    }
    if (f->files) continue;
    const std::string name = matrix_names
                                 ? fmt::format("{}--{}", report.strategy,
                                               fuzz::fault_id(fuzz::fault_at(static_cast<int>(i))))
                                 : fuzz::case_name(report.strategy, report.seed, f->case_index);
    std::string error;
    f->files = replay::write_counterexample(f->counterexample, report.strategy, dir, name,
                                            expect_all, &error, &recorder);
    if (!f->files) f->write_error = error;
    if (f->files) f->why = short_explanation(f->files->trace_path, recorder);
  }
  if (report.baseline && !matrix_names) {
    auto& b = *report.baseline;
    std::string error;
    b.files = replay::write_counterexample(
        b.counterexample, report.strategy, dir,
        fuzz::case_name(report.strategy, report.seed, b.case_index), expect_all, &error, &recorder);
    if (!b.files) b.write_error = error;
    if (b.files) b.why = short_explanation(b.files->trace_path, recorder);
  }
}

bool any_problem(const CampaignReport& report) {
  if (report.baseline) return true;
  for (const auto& f : report.found) {
    if (f) return true;
  }
  for (const auto& c : report.corpus) {
    if (!c.passed()) return true;
  }
  return !report.determinism_failures.empty() || !report.invalid_cases.empty();
}

std::optional<fuzz::StrategyUnderTest> strategy_of(const FuzzOptions& options,
                                                   plugin::WorkerPool* pool, std::string* error) {
  const bool launcher = !options.launcher.empty();
  const std::string name =
      launcher ? options.launcher : (options.strategy.empty() ? "token+recheck" : options.strategy);
  return strategy_under_test(name, launcher, pool, "fuzz", "strategy", error);
}

int run_single_case(const FuzzOptions& options, const fuzz::CampaignOptions& campaign,
                    FaultSet plan) {
  const uint64_t k = *options.single_case;
  auto record = fuzz::run_case(campaign, k);
  fmt::print("case {} (seed {}, case seed {}): {} steps, faults {}\n", k, campaign.seed,
             record.seed, fuzz::schedule_size(record.generated.scenario),
             fuzz::format_fault_set(record.generated.injected));
  if (!record.verdict.ran()) {
    print_error("fuzz", "the generated case does not run (a flowid bug): {}", record.verdict.error);
    return kExitInternal;
  }
  if (!record.verdict.failed()) {
    fmt::print("no violation ({}); digest {:016x}\n", name_of(record.verdict.cell),
               record.verdict.digest);
    return kExitOk;
  }
  fuzz::ShrinkOptions shrink;
  shrink.runs_max = options.shrink_runs;
  CampaignReport report;
  report.strategy = campaign.strategy.name;
  report.seed = campaign.seed;
  report.plan = plan;
  auto cx = fuzz::minimize(campaign, record, shrink);
  std::size_t slot = 0;
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    if (fuzz::contains(cx.credited, fuzz::fault_at(i))) {
      slot = static_cast<std::size_t>(i);
      break;
    }
  }
  report.found[slot] = FaultFinding{k, 0, cx, std::nullopt, {}, {}};
  save_counterexamples(report, options.out_dir, false, options.expect_all, campaign.strategy);
  const auto& f = *report.found[slot];
  fmt::print("violation: {}\n", cx.shrink.verdict.first_violation);
  fmt::print("shrunk from {} to {} steps ({} runs), faults {}\n\n{}\n", cx.shrink.original_size,
             cx.shrink.shrunk_size, cx.shrink.runs, fuzz::format_fault_set(cx.credited),
             scenario::format_scenario(cx.shrink.shrunk.scenario));
  fmt::print("reproduce: {}\n", cx.reproduce);
  if (f.files) fmt::print("scenario: {}\ntrace: {}\n", f.files->scenario_path, f.files->trace_path);
  for (const auto& line : f.why) fmt::print("{}\n", line);
  if (!f.write_error.empty()) print_error("fuzz", "{}", f.write_error);
  return kExitFindings;
}

// --merge: the shards' reports as one (cli/fuzz_json.h merge_fuzz_reports), printed as JSON.
int run_merge(const FuzzOptions& options) {
  std::vector<nlohmann::ordered_json> reports;
  for (const auto& path : options.merge) {
    std::ifstream in(path);
    if (!in) {
      print_error("fuzz", "{}: cannot read the report", path);
      return kExitInputError;
    }
    auto json = nlohmann::ordered_json::parse(in, nullptr, false);
    if (json.is_discarded()) {
      print_error("fuzz", "{}: not JSON (want a `flowid fuzz --json` report)", path);
      return kExitInputError;
    }
    reports.push_back(std::move(json));
  }
  std::string error;
  auto merged = merge_fuzz_reports(reports, options.merge, &error);
  if (!merged) {
    print_error("fuzz", "{}", error);
    return kExitInputError;
  }
  print_json(*merged);
  if ((*merged)["invalid_cases"].get<uint64_t>() > 0) return kExitInternal;
  bool problem = !(*merged)["findings"].empty() || !(*merged)["baseline"].is_null() ||
                 !(*merged)["determinism"]["mismatches"].empty();
  for (const auto& c : (*merged)["corpus"]) problem = problem || !c["passed"].get<bool>();
  return problem ? kExitFindings : kExitOk;
}

// --decode-input FILE: a libFuzzer crash input (schedule_fuzz's, or flowid_plugin_fuzzer's with
// --resolver / --launcher naming the plugin) decoded as the target decodes it
// (harness/fuzz/fuzz_input.h), checked, shrunk and saved as a scenario and a trace like any
// counterexample.
int run_decode_input(const FuzzOptions& options) {
  std::ifstream in(options.decode_input, std::ios::binary);
  if (!in) {
    print_error("fuzz", "{}: cannot read the input", options.decode_input);
    return kExitInputError;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const bool named = !options.strategy.empty() || !options.launcher.empty();
  std::optional<bool> kind;
  std::string name = !options.launcher.empty() ? options.launcher : options.strategy;
  if (named) kind = !options.launcher.empty();
  const std::string stem = std::filesystem::path(options.decode_input).filename().string();
  const auto decoded = fuzz::decode_fuzz_input(
      std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), kind,
      plugin_identifiers(name, 32), "decoded");
  if (!named) {
    // schedule_fuzz's input: the reference strategy its first byte picks.
    const auto names = decoded.launchers ? launcher_names() : resolver_names();
    name = std::string(names[decoded.strategy_pick % names.size()]);
  }
  std::string error;
  const std::unique_ptr<plugin::WorkerPool> pool = plugin_pool_for({name});
  auto strategy =
      strategy_under_test(name, decoded.launchers, pool.get(), "fuzz", "strategy", &error);
  if (!strategy) {
    print_error("fuzz", "{}", error);
    return plugin::looks_like_plugin_path(name) ? kExitInputError : kExitUsage;
  }
  const auto& generated = decoded.generated;
  fmt::print("{}: {} {} case, {} steps, faults {}\n", options.decode_input, name,
             decoded.launchers ? "launcher" : "resolver", fuzz::schedule_size(generated.scenario),
             fuzz::format_fault_set(generated.injected));
  const fuzz::CaseVerdict verdict = fuzz::check_scenario(generated.scenario, *strategy);
  if (!verdict.ran()) {
    print_error("fuzz", "the decoded case does not run (a flowid bug): {}", verdict.error);
    return kExitInternal;
  }
  if (!verdict.failed()) {
    fmt::print("no violation ({}); digest {:016x}\n", name_of(verdict.cell), verdict.digest);
    return kExitOk;
  }
  fuzz::ShrinkOptions shrink;
  shrink.runs_max = options.shrink_runs;
  fuzz::Counterexample cx = fuzz::shrink_and_credit(generated, *strategy, shrink);
  cx.reproduce =
      fmt::format("flowid fuzz --decode-input {}{}", options.decode_input,
                  named ? fmt::format(" --{} {}", decoded.launchers ? "launcher" : "resolver", name)
                        : std::string());
  const auto files = replay::write_counterexample(cx, strategy->name, options.out_dir,
                                                  "decoded-" + plugin::file_safe_name(stem),
                                                  options.expect_all, &error, &*strategy);
  fmt::print("violation: {}\n", cx.shrink.verdict.first_violation);
  fmt::print("shrunk from {} to {} steps ({} runs), faults {}\n\n{}\n", cx.shrink.original_size,
             cx.shrink.shrunk_size, cx.shrink.runs, fuzz::format_fault_set(cx.credited),
             scenario::format_scenario(cx.shrink.shrunk.scenario));
  fmt::print("reproduce: {}\n", cx.reproduce);
  if (!files) {
    print_error("fuzz", "{}", error);
    return std::max(static_cast<int>(kExitFindings), static_cast<int>(kExitInputError));
  }
  fmt::print("scenario: {}\ntrace: {}\n", files->scenario_path, files->trace_path);
  for (const auto& line : short_explanation(files->trace_path, *strategy)) fmt::print("{}\n", line);
  return kExitFindings;
}

// --engine rapidcheck: the stateful model (proptest/rc_model.h), a case-count budget only (its
// cases are numbered by rapidcheck's run, not by time).
int run_rapidcheck_engine(const FuzzOptions& options, const fuzz::CampaignOptions& campaign,
                          const Budget& budget) {
  constexpr uint64_t kDefaultCases = 10000;
  if (options.matrix || options.single_case || options.jobs > 1) {
    print_error(
        "fuzz",
        "--engine rapidcheck runs one property on one thread (no --matrix, --case, --jobs)");
    return kExitUsage;
  }
  if (budget.seconds && options.budget != "30s") {
    print_error("fuzz",
                "--engine rapidcheck takes a case budget (--budget 5000cases), not a duration");
    return kExitUsage;
  }
  RapidcheckRun run;
  run.strategy = campaign.strategy;
  run.plan = campaign.generator.faults;
  run.seed = campaign.seed;
  run.cases = budget.cases.value_or(kDefaultCases);
  run.swarm = campaign.generator.swarm;
  run.out_dir = options.out_dir;
  run.json = options.json;
  run.expect_all = options.expect_all;
  std::string error;
  if (!load_corpora(options, run.corpus, &error)) {
    print_error("fuzz", "{}", error);
    return kExitInputError;
  }
  return run_fuzz_rapidcheck(run);
}

int run_fuzz(const FuzzOptions& options) {
  std::string error;
  // Made before any thread starts: its fork server starts the plugin's workers.
  const std::unique_ptr<plugin::WorkerPool> pool =
      plugin_pool_for({options.strategy, options.launcher});
  auto strategy = strategy_of(options, pool.get(), &error);
  if (!strategy) {
    print_error("fuzz", "{}", error);
    // A plugin that does not load is an input error (exit 3), as in replay and matrix.
    const std::string& name = options.launcher.empty() ? options.strategy : options.launcher;
    return plugin::looks_like_plugin_path(name) ? kExitInputError : kExitUsage;
  }
  const std::string junit_path =
      options.junit_path.empty() ? junit_path_from_environment("flowid-fuzz") : options.junit_path;
  auto faults = fuzz::parse_fault_list(options.faults, &error);
  if (!faults) {
    print_error("fuzz", "--faults: {}", error);
    return kExitUsage;
  }
  const FaultSet plan =
      *faults & (strategy->launcher ? fuzz::kLauncherFaults : fuzz::kResolverFaults);
  if (plan == 0) {
    print_error("fuzz", "none of {} applies to a {} (resolvers: F1-F10; launchers: F5, F8, F11)",
                options.faults, strategy->launcher ? "launcher" : "resolver");
    return kExitUsage;
  }
  auto budget = parse_budget(options.budget);
  if (!budget) {
    print_error("fuzz",
                "--budget '{}': expected a duration (30s, 500ms, 2m) or a case count (10000)",
                options.budget);
    return kExitUsage;
  }
  fuzz::CampaignOptions campaign;
  campaign.strategy = *strategy;
  campaign.generator.faults = plan;
  campaign.generator.swarm = !options.no_swarm;
  // A plugin's own identifiers (its allowlists, the programs it special-cases) become the
  // generator's dictionary: impostors borrow them. Derived from the file, so a reproduce command
  // naming the same plugin regenerates the same cases.
  campaign.generator.borrowed_signing_ids =
      plugin_identifiers(!options.launcher.empty() ? options.launcher : options.strategy, 32);
  // No seed given: one from the clock, printed so the run can be repeated.
  campaign.seed = options.seed.value_or(
      static_cast<uint64_t>(Clock::now().time_since_epoch().count()) & 0xffffffffULL);
  auto shard = parse_shard(options.shard, &error);
  if (!shard) {
    print_error("fuzz", "{}", error);
    return kExitUsage;
  }
  if (!options.shard.empty() && (options.single_case || options.engine == "rapidcheck")) {
    print_error("fuzz",
                "--shard splits the default engine's campaign (not --case or --engine "
                "rapidcheck)");
    return kExitUsage;
  }
  if (options.single_case) return run_single_case(options, campaign, plan);
  if (options.engine == "rapidcheck") return run_rapidcheck_engine(options, campaign, *budget);

  CampaignReport corpus_report;
  std::vector<scenario::Scenario> corpus;
  if (!load_corpora(options, corpus, &error)) {
    print_error("fuzz", "{}", error);
    return kExitInputError;
  }
  std::vector<fuzz::CorpusVerdict> corpus_verdicts;
  for (const auto& s : corpus) corpus_verdicts.push_back(fuzz::replay_corpus_entry(s, *strategy));

  fuzz::ShrinkOptions shrink;
  shrink.runs_max = options.shrink_runs;
  const uint32_t jobs = std::clamp<uint32_t>(options.jobs, 1, kJobsMax);
  const bool progress = options.progress || (::isatty(2) == 1 && !options.json);
  Campaign run(campaign, plan, *budget, jobs, options.keep_going, shrink, progress, *shard);
  CampaignReport report = run.run();
  report.corpus = std::move(corpus_verdicts);
  check_determinism(campaign, report.tally.cases, report);
  save_counterexamples(report, options.out_dir, false, options.expect_all, campaign.strategy);

  if (options.json) {
    print_json(report_json(report));
  } else {
    print_human(report, campaign);
  }
  const int exit_code = !report.invalid_cases.empty() ? kExitInternal
                        : any_problem(report)         ? kExitFindings
                                                      : kExitOk;
  if (!junit_path.empty() && !write_junit(suite_of(report), junit_path, &error)) {
    print_error("fuzz", "{}", error);
    return std::max(exit_code, static_cast<int>(kExitInputError));
  }
  return exit_code;
}

// ---- --matrix

struct MatrixCell {
  std::string strategy;
  Fault fault = Fault::kPidReuse;
  bool launcher = false;
  CampaignReport report;
  bool expected_found = false;
};

int run_matrix_mode(const FuzzOptions& options) {
  std::string error;
  auto budget = parse_budget(options.budget);
  if (!budget) {
    print_error("fuzz", "--budget '{}': expected a duration or a case count", options.budget);
    return kExitUsage;
  }
  // The matrix is a deterministic table unless a time budget is asked for explicitly.
  if (options.budget == "30s") budget = Budget{std::nullopt, kMatrixDefaultCases};
  auto faults = fuzz::parse_fault_list(options.faults, &error);
  if (!faults) {
    print_error("fuzz", "--faults: {}", error);
    return kExitUsage;
  }
  const uint64_t seed = options.seed.value_or(1);
  std::string expectations_dir;
  if (options.corpus_dirs.empty()) {
    auto bundled = default_corpus_dir(&error);
    if (!bundled) {
      print_error("fuzz", "{}", error);
      return kExitInputError;
    }
    expectations_dir = *bundled;
  } else {
    expectations_dir = options.corpus_dirs.front();
    std::error_code ec;
    if (!std::filesystem::is_directory(expectations_dir, ec)) {
      print_error("fuzz", "--corpus {}: no such folder", expectations_dir);
      return kExitInputError;
    }
  }
  std::vector<MatrixCell> cells;
  auto add_row = [&](std::string_view name, bool launcher) {
    if (!options.strategy.empty() && options.strategy != name) return;
    const FaultSet applicable =
        *faults & (launcher ? fuzz::kLauncherFaults : fuzz::kResolverFaults);
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      if (!fuzz::contains(applicable, fuzz::fault_at(i))) continue;
      MatrixCell cell;
      cell.strategy = std::string(name);
      cell.fault = fuzz::fault_at(i);
      cell.launcher = launcher;
      std::error_code ec;
      cell.expected_found = std::filesystem::exists(
          fmt::format("{}/{}--{}.scenario", expectations_dir, name, fuzz::fault_id(cell.fault)),
          ec);
      cells.push_back(std::move(cell));
    }
  };
  for (auto name : resolver_names()) add_row(name, false);
  for (auto name : launcher_names()) add_row(name, true);

  fuzz::ShrinkOptions shrink;
  shrink.runs_max = options.shrink_runs;
  const uint32_t jobs = std::clamp<uint32_t>(options.jobs, 1, kJobsMax);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t c = next.fetch_add(1); c < cells.size(); c = next.fetch_add(1)) {
      auto& cell = cells[c];
      fuzz::CampaignOptions campaign;
      campaign.strategy = *fuzz::reference_strategy(cell.strategy);
      campaign.generator.faults = fuzz::bit(cell.fault);
      campaign.generator.swarm = false;
      campaign.seed = seed;
      Campaign run(campaign, fuzz::bit(cell.fault), *budget, 1, false, shrink, false);
      cell.report = run.run();
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  if (!options.out_dir.empty() && options.out_dir != "flowid-fuzz-out") {
    for (auto& cell : cells) {
      if (auto strategy = fuzz::reference_strategy(cell.strategy)) {
        save_counterexamples(cell.report, options.out_dir, true, true, *strategy);
      }
    }
  }

  std::vector<std::string> mismatches;
  for (const auto& cell : cells) {
    const bool found = cell.report.found[static_cast<std::size_t>(cell.fault)].has_value();
    if (found != cell.expected_found) {
      mismatches.push_back(fmt::format("{} x {}: {} a violation, {}", cell.strategy,
                                       fuzz::fault_id(cell.fault), found ? "found" : "did not find",
                                       cell.expected_found ? "expected one" : "expected none"));
    }
  }

  if (options.json) {
    // docs/schemas/fuzz-matrix.schema.json: each cell's finding has the fuzz report's keys.
    nlohmann::ordered_json json;
    json["report"] = "fuzz-matrix";
    json["seed"] = seed;
    json["cells"] = nlohmann::ordered_json::array();
    for (const auto& cell : cells) {
      const auto& f = cell.report.found[static_cast<std::size_t>(cell.fault)];
      nlohmann::ordered_json c;
      c["strategy"] = cell.strategy;
      c["kind"] = cell.launcher ? "launcher" : "resolver";
      c["fault"] = std::string(fuzz::fault_id(cell.fault));
      c["cases"] = cell.report.tally.cases;
      c["seconds"] = cell.report.seconds;
      c["found"] = f.has_value();
      c["expected_found"] = cell.expected_found;
      c["finding"] = nullptr;
      if (f) {
        const auto& s = f->counterexample.shrink;
        c["finding"] = finding_json(
            FindingFacts{cell.fault, f->case_index, f->seconds, s.original_size, s.runs},
            f->counterexample, f->files);
      }
      json["cells"].push_back(std::move(c));
    }
    json["mismatches"] = mismatches;
    print_json(json);
  } else {
    std::vector<Fault> columns;
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      if (fuzz::contains(*faults, fuzz::fault_at(i))) columns.push_back(fuzz::fault_at(i));
    }
    std::string header = "| strategy |";
    std::string rule = "| --- |";
    for (Fault f : columns) {
      header += fmt::format(" {} |", fuzz::fault_id(f));
      rule += " --- |";
    }
    fmt::print("{}\n{}\n", header, rule);
    std::string current;
    std::string line;
    auto flush_line = [&] {
      if (!current.empty()) fmt::print("{}\n", line);
    };
    for (const auto& name_list : {resolver_names(), launcher_names()}) {
      for (auto name : name_list) {
        bool any = false;
        std::string row = fmt::format("| {} |", name);
        for (Fault f : columns) {
          const MatrixCell* cell = nullptr;
          for (const auto& c : cells) {
            if (c.strategy == name && c.fault == f) cell = &c;
          }
          if (cell == nullptr) {
            row += " n/a |";
            continue;
          }
          any = true;
          const auto& found = cell->report.found[static_cast<std::size_t>(f)];
          if (found) {
            const auto& s = found->counterexample.shrink;
            row += fmt::format(" {} {} @{} ({} steps) |", name_of(s.verdict.cell),
                               fuzz::format_invariants(s.verdict.violated), found->case_index + 1,
                               s.shrunk_size);
          } else {
            row += fmt::format(" none in {} |", cell->report.tally.cases);
          }
        }
        if (any) fmt::print("{}\n", row);
      }
    }
    (void)flush_line;
    fmt::print(
        "\nseed {}; each cell: one fault, cases until the first violation (shrunk size), or none "
        "in N cases\n",
        seed);
  }
  std::fflush(stdout);
  for (const auto& m : mismatches) print_error("fuzz --matrix", "{}", m);
  return mismatches.empty() ? kExitOk : kExitFindings;
}

}  // namespace

Subcommand add_fuzz(CLI::App& parent) {
  auto options = std::make_shared<FuzzOptions>();
  CLI::App* app = parent.add_subcommand("fuzz",
                                        "Property-based fault injection: generated schedules with "
                                        "faults F1-F11, checked by the oracle");
  std::string resolvers;
  for (auto name : resolver_names())
    resolvers += (resolvers.empty() ? "" : ", ") + std::string(name);
  std::string launchers;
  for (auto name : launcher_names())
    launchers += (launchers.empty() ? "" : ", ") + std::string(name);
  CLI::Option* strategy =
      app->add_option("--strategy,--resolver", options->strategy,
                      "Resolver strategy under test (default token+recheck): " + resolvers +
                          ", or a plugin file (./libmine.so, docs/plugins.md)");
  app->add_option(
         "--launcher", options->launcher,
         "Launcher strategy under test instead: " + launchers + ", or a launcher plugin file")
      ->excludes(strategy);
  app->add_option(
      "--faults", options->faults,
      "Fault plan: F1,F3 or names (pid-reuse, exit-race, sandbox-eperm, exec-after-flow, "
      "replaced-on-disk, delegation, malformed-token, transient-failure, zombie, same-name, "
      "launch-toctou), or all / resolver / launcher (default all)");
  app->add_option("--budget", options->budget,
                  "Time (30s, 500ms, 2m) or number of cases (10000); default 30s");
  CLI::Option* seed =
      app->add_option("--seed", options->seed, "Run seed (default: from the clock, printed)");
  app->add_option("--case", options->single_case,
                  "Run only case K of --seed (reproduce a finding; needs --seed)")
      ->needs(seed);
  app->add_option("-j,--jobs", options->jobs,
                  "Threads (each with its own worlds); case K always uses the same seed")
      ->check(CLI::Range(uint32_t{1}, kJobsMax));
  app->add_option("--corpus", options->corpus_dirs,
                  "Counterexample folder replayed first (repeatable; the bundled "
                  "fixtures/counterexamples always is)");
  app->add_flag("--no-default-corpus", options->no_default_corpus,
                "Do not replay fixtures/counterexamples");
  app->add_option("--out", options->out_dir,
                  "Where counterexamples are written (default flowid-fuzz-out)");
  app->add_flag("--json", options->json, "One JSON object instead of the human report");
  app->add_option("--junit", options->junit_path,
                  "Also write JUnit XML (one test case per fault and corpus entry)");
  app->add_flag("--matrix", options->matrix,
                "Every reference strategy x every fault (one fault per cell; default budget 3000 "
                "cases per cell); "
                "Markdown table, or --json");
  app->add_flag(
      "--progress", options->progress,
      "Progress on stderr even when it is not a terminal: then a plain line every 10 s with the "
      "time or cases spent of the budget");
  app->add_flag("--no-swarm", options->no_swarm,
                "Enable every planned fault in every case (default: swarm subsets)");
  app->add_flag("--keep-going", options->keep_going,
                "Do not stop once every planned fault has a violation");
  app->add_flag("--expect-all", options->expect_all,
                "Saved counterexamples get expect lines for the strategy under test too (building "
                "the bundled corpus)");
  app->add_option(
         "--engine", options->engine,
         "default: flowid's seeded episode generator (fast, parallel, time budgets); rapidcheck: "
         "the rapidcheck stateful model, schedules built command by command and shrunk by "
         "rapidcheck (case budgets, one thread)")
      ->check(CLI::IsMember({"default", "rapidcheck"}))
      ->capture_default_str();
  app->add_option("--decode-input", options->decode_input,
                  "A libFuzzer input (a crash of fuzz/schedule_fuzz, or of flowid_plugin_fuzzer "
                  "with --resolver/--launcher naming the plugin) as a case: checked, shrunk and "
                  "saved as a scenario and a trace in --out")
      ->excludes("--matrix")
      ->excludes("--case");
  app->add_option("--shard", options->shard,
                  "Only this shard's cases of --seed (i/n, 0-based): shards of one seed are "
                  "disjoint and together the unsharded run's cases (CI matrices; --merge joins "
                  "their --json reports)")
      ->excludes("--matrix");
  app->add_option("--merge", options->merge,
                  "Join the --json reports of the shards of one run (same strategy, faults and "
                  "seed) into one report on stdout; exits as the joined run would")
      ->expected(1, -1);
  app->add_option("--shrink-runs", options->shrink_runs,
                  "Bound on candidate runs while shrinking one case (default 3000)");
  app->footer(help_footer(
      "flowid fuzz --strategy token+pid-fallback --budget 10s --seed 1",
      "0 no violation; 1 a violation was found, a corpus entry regressed or determinism failed "
      "(with\n"
      "--matrix: a cell differs from fixtures/counterexamples, where a cell is expected to find a\n"
      "violation exactly when STRATEGY--FN.scenario exists); 2 usage; 3 a plugin, a --corpus "
      "folder or\n"
      "FLOWID_FIXTURES could not be read, or the report could not be written; 70 a generated case "
      "did\n"
      "not run (a flowid bug). The largest applicable code wins. docs/fuzzing.md has the "
      "details."));
  return {app, [options] {
            if (!options->decode_input.empty()) return run_decode_input(*options);
            if (!options->merge.empty()) return run_merge(*options);
            return options->matrix ? run_matrix_mode(*options) : run_fuzz(*options);
          }};
}

}  // namespace flowid::cli
