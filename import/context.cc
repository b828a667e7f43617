#include "import/context.h"

#include <fmt/format.h>

#include <time.h>

#include <utility>

namespace flowid::import {
namespace {

// How many bad records are kept verbatim for the summary.
constexpr std::size_t kFirstSkippedShown = 5;

void bump(std::map<std::string, uint64_t, std::less<>>& counts, std::string_view reason,
          uint64_t count) {
  auto it = counts.find(reason);
  if (it == counts.end()) {
    counts.emplace(std::string(reason), count);
  } else {
    it->second += count;
  }
}

}  // namespace

ImportContext::ImportContext(trace::TraceHeader header, const ImportOptions& options,
                             WriterFactory open_writer, ImportStats& stats)
    : header_(std::move(header)),
      options_(options),
      open_writer_(std::move(open_writer)),
      stats_(stats) {}

void ImportContext::set_host(std::string_view host) {
  if (host_set_ || writer_ || host.empty()) return;
  header_.host = std::string(host);
  host_set_ = true;
}

bool ImportContext::open_if_needed() {
  if (writer_) return true;
  if (output_failed_) return false;
  // Without any timestamp before the output had to open, times stay Unix-epoch nanoseconds
  // (start_wall_time_ns 0 says so).
  if (!epoch_wall_ns_) epoch_wall_ns_ = 0;
  header_.start_wall_time_ns = *epoch_wall_ns_;
  std::string error;
  writer_ = open_writer_(header_, &error);
  if (!writer_) {
    output_failed_ = true;
    stopped_ = true;
    stats_.error = error.empty() ? std::string("cannot open the output trace") : error;
    return false;
  }
  for (const Event& e : pending_) write(e);
  pending_.clear();
  pending_.shrink_to_fit();
  return !output_failed_;
}

void ImportContext::write(const Event& event) {
  writer_->append(event);
  ++stats_.events;
  ++stats_.events_by_kind[static_cast<std::size_t>(event.kind())];
  if (!writer_->last_error().empty() && !output_failed_) {
    output_failed_ = true;
    stopped_ = true;
    stats_.error = writer_->last_error();
  }
}

void ImportContext::flush_dropped() {
  if (dropped_count_ == 0) return;
  Event e{last_time_ns_, DroppedEvents{dropped_count_, std::move(dropped_reason_)}};
  dropped_count_ = 0;
  dropped_reason_.clear();
  if (!writer_ && !epoch_wall_ns_ && pending_.size() < options_.limits.pending_untimed_events_max) {
    pending_.push_back(std::move(e));
    return;
  }
  if (open_if_needed()) write(e);
}

// Seconds with milliseconds, for Markers.
static std::string seconds_between(uint64_t a, uint64_t b) {
  const uint64_t d = a > b ? a - b : b - a;
  return fmt::format("{}.{:03} s", d / 1'000'000'000ULL, (d / 1'000'000ULL) % 1000);
}

// Hostile inputs may step back and forth between 0 and the largest timestamps: placed times
// stop at the largest value rather than wrap around.
static uint64_t saturating_add(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

// "2024-01-01T00:30:00.000000000Z".
static std::string utc_text(uint64_t ns) {
  const auto seconds = static_cast<time_t>(ns / 1'000'000'000ULL);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1'000'000'000ULL);
}

uint64_t ImportContext::place(uint64_t wall_time_ns) {
  const std::optional<uint64_t> latest = input_wall_ns_;
  if (latest && wall_time_ns + kStepBackReportedNs < *latest) {
    // A new segment, placed after everything written so far. Its state is set first: the
    // Marker below goes through emit too, and is the segment's first event.
    const uint64_t after = placed_max_ns_.value_or(*latest + segment_shift_ns_);
    segment_shift_ns_ = saturating_add(after, kSegmentSeparationNs) - wall_time_ns;
    ++segment_number_;
    input_wall_ns_ = wall_time_ns;
    unmapped("time steps back within an input (a new segment: a new session or a clock change)");
    marker(fmt::format("time steps back {} in {}: a new session or a clock change in the input, "
                       "not lost events; its events keep their order in the input. Segment {} of "
                       "{} starts at wall clock {} and is placed {} later, {} after the latest "
                       "event before it: wall clock = start_wall_time_ns + time_ns - {} ns for "
                       "its events",
                       seconds_between(*latest, wall_time_ns), input_name_, segment_number_,
                       input_name_, utc_text(wall_time_ns), seconds_between(0, segment_shift_ns_),
                       seconds_between(0, kSegmentSeparationNs), segment_shift_ns_),
           wall_time_ns);
  } else if (latest && wall_time_ns > *latest + kSessionGapNs) {
    input_wall_ns_ = wall_time_ns;
    marker(fmt::format("gap of {} in {}: nothing recorded in between (a pause or a new "
                       "session), not lost events",
                       seconds_between(*latest, wall_time_ns), input_name_),
           wall_time_ns);
  }
  if (!input_wall_ns_ || wall_time_ns > *input_wall_ns_) input_wall_ns_ = wall_time_ns;
  uint64_t placed = saturating_add(wall_time_ns, segment_shift_ns_);
  if (placed_max_ns_ && placed < *placed_max_ns_) {
    // Counted once per timestamp: the events of one record share it.
    if (last_wall_ns_ != wall_time_ns) {
      unmapped(
          "timestamp at most 1 s before an earlier event of the input (placed at the "
          "earlier event's time)");
    }
    placed = *placed_max_ns_;
  }
  placed_max_ns_ = placed;
  return placed;
}

void ImportContext::emit(Event& event, std::optional<uint64_t> wall_time_ns) {
  if (stopped_) return;
  if (wall_time_ns) {
    const uint64_t placed = place(*wall_time_ns);
    last_wall_ns_ = *wall_time_ns;
    if (!spill_last_wall_ns_ || placed > *spill_last_wall_ns_) spill_last_wall_ns_ = placed;
    if (!spill_first_wall_ns_ || placed < *spill_first_wall_ns_) spill_first_wall_ns_ = placed;
    if (!epoch_wall_ns_ && !writer_) epoch_wall_ns_ = placed;
    if (epoch_wall_ns_ && placed >= *epoch_wall_ns_) {
      event.time_ns = placed - *epoch_wall_ns_;
    } else {
      // Not reached: placed times never go back, and the epoch is the first of them.
      event.time_ns = 0;
      unmapped("timestamp before the trace's first timestamp (time set to 0)");
    }
  } else {
    event.time_ns = last_time_ns_;
  }
  last_time_ns_ = event.time_ns;
  flush_dropped();
  if (!writer_ && !epoch_wall_ns_ && pending_.size() < options_.limits.pending_untimed_events_max) {
    pending_.push_back(event);
    return;
  }
  if (open_if_needed()) write(event);
}

void ImportContext::marker(std::string text, std::optional<uint64_t> wall_time_ns) {
  Event e{0, Marker{std::move(text)}};
  emit(e, wall_time_ns);
}

void ImportContext::bad_record(uint64_t line, std::string_view reason, std::string_view message) {
  if (stopped_) return;
  std::string where = fmt::format("{}:{}: {}", input_name_, line, message);
  if (!options_.lenient) {
    stats_.error = std::move(where);
    stopped_ = true;
    return;
  }
  ++stats_.skipped_records;
  bump(stats_.skipped_by_reason, reason, 1);
  if (stats_.first_skipped.size() < kFirstSkippedShown) stats_.first_skipped.push_back(where);
  if (dropped_count_ == 0) dropped_reason_ = std::move(where);
  ++dropped_count_;
  if (dropped_count_ == 2) dropped_reason_ += " (and the records after it)";
}

void ImportContext::ignored(std::string_view reason, uint64_t count) {
  bump(stats_.ignored_by_reason, reason, count);
}

void ImportContext::unmapped(std::string_view reason, uint64_t count) {
  bump(stats_.unmapped_by_reason, reason, count);
}

void ImportContext::begin_spill(std::unique_ptr<trace::TraceWriter> spill) {
  writer_ = std::move(spill);
  spilling_ = true;
  epoch_wall_ns_ = 0;  // spills hold absolute wall-clock times; the merge rebases them.
  last_time_ns_ = 0;
  placed_max_ns_.reset();
  spill_last_wall_ns_.reset();
  spill_first_wall_ns_.reset();
}

bool ImportContext::end_spill() {
  flush_dropped();
  bool ok = !output_failed_;
  if (writer_) {
    writer_->finish(0);
    if (!writer_->last_error().empty() && ok) {
      output_failed_ = true;
      stopped_ = true;
      stats_.error = writer_->last_error();
      ok = false;
    }
  }
  writer_.reset();
  return ok;
}

bool ImportContext::open_merged(uint64_t epoch_wall_ns) {
  spilling_ = false;
  writer_.reset();
  epoch_wall_ns_ = epoch_wall_ns;
  last_time_ns_ = 0;
  // Events were counted once when spilled; the merge writes them again.
  stats_.events = 0;
  stats_.events_by_kind = {};
  return open_if_needed();
}

void ImportContext::write_merged(const Event& event) {
  if (output_failed_) return;
  last_time_ns_ = event.time_ns;
  write(event);
}

namespace {
constexpr std::size_t kSpansPerPid = 16;

// NEFilterFlow's sourceAppIdentifier is the signing identifier with the team id (or "." for
// Apple) in front: ".com.apple.Safari", "ABCDE12345.com.example.app".
bool identifier_names(std::string_view app_identifier, std::string_view signing_id) {
  if (signing_id.empty() || app_identifier.size() <= signing_id.size()) {
    return !signing_id.empty() && app_identifier == signing_id;
  }
  return app_identifier.substr(app_identifier.size() - signing_id.size()) == signing_id &&
         app_identifier[app_identifier.size() - signing_id.size() - 1] == '.';
}
}  // namespace

void ImportContext::note_start(const AuditToken& token, const CodeIdentity& image,
                               std::optional<uint64_t> wall_time_ns) {
  if (!history_enabled_) return;
  auto& spans = pid_history_[token.pid()];
  const uint64_t at = wall_time_ns.value_or(last_wall_ns_.value_or(0));
  if (!spans.empty() && !spans.back().end_ns) spans.back().end_ns = at;
  if (spans.size() >= kSpansPerPid) {
    spans.pop_front();
  } else if (history_spans_ >= options_.limits.pid_history_spans_max) {
    unmapped("execution not remembered for joins (pid history full)");
    return;
  } else {
    ++history_spans_;
  }
  spans.push_back(Span{token, at, std::nullopt, image.signing_id, image.path});
}

void ImportContext::note_end(const AuditToken& token, std::optional<uint64_t> wall_time_ns) {
  if (!history_enabled_) return;
  auto it = pid_history_.find(token.pid());
  if (it == pid_history_.end()) return;
  for (auto& span : it->second) {
    if (span.token.execution() == token.execution() && !span.end_ns) {
      span.end_ns = wall_time_ns.value_or(last_wall_ns_.value_or(span.start_ns));
    }
  }
}

ImportContext::JoinResult ImportContext::join(int32_t pid, uint64_t wall_time_ns,
                                              std::string_view app_identifier) const {
  auto it = pid_history_.find(pid);
  if (it == pid_history_.end()) {
    return {std::nullopt, fmt::format("no execution of pid {} in the lifecycle inputs", pid)};
  }
  const Span* holder = nullptr;
  // The latest execution that ended at or before the flow and that app_identifier names.
  const Span* previous = nullptr;
  for (const auto& span : it->second) {
    if (span.start_ns > wall_time_ns) continue;
    if (!span.end_ns || *span.end_ns > wall_time_ns) {
      holder = &span;
    } else if (!app_identifier.empty() && identifier_names(app_identifier, span.signing_id) &&
               (previous == nullptr || *span.end_ns >= *previous->end_ns)) {
      previous = &span;
    }
  }
  const bool holder_matches =
      holder != nullptr &&
      (app_identifier.empty() || identifier_names(app_identifier, holder->signing_id));
  if (holder != nullptr && holder_matches) {
    return {holder->token, fmt::format("execution holding pid {} at the flow's time", pid)};
  }
  if (previous != nullptr) {
    return {previous->token,
            fmt::format("pid {}'s execution {}.{} ({}), which exited {} ms before the flow was "
                        "logged: it matches sourceAppIdentifier {}{}",
                        pid, previous->token.pid(), previous->token.pidversion(), previous->path,
                        (wall_time_ns - *previous->end_ns) / 1'000'000, app_identifier,
                        holder != nullptr ? fmt::format("; pid {} is held by {}.{} ({}) by then",
                                                        pid, holder->token.pid(),
                                                        holder->token.pidversion(), holder->path)
                                          : std::string())};
  }
  if (holder != nullptr) {
    return {holder->token, fmt::format("execution holding pid {} at the flow's time ({}), although "
                                       "sourceAppIdentifier {} does not name it",
                                       pid, holder->path, app_identifier)};
  }
  return {std::nullopt, fmt::format("no execution held pid {} at the flow's time", pid)};
}

void ImportContext::flush_output() {
  if (!writer_ || output_failed_) return;
  writer_->flush();
  if (!writer_->last_error().empty()) {
    output_failed_ = true;
    stopped_ = true;
    stats_.error = writer_->last_error();
  }
}

bool ImportContext::finish(std::optional<std::string> stop_note) {
  if (output_failed_) return false;
  // A strict stop is not a lenient skip: stop_note is written as a marker, not counted.
  bool was_stopped = stopped_;
  stopped_ = false;
  flush_dropped();
  if (stop_note) marker(std::move(*stop_note), std::nullopt);
  stopped_ = was_stopped;
  if (!open_if_needed()) return false;
  writer_->finish(stats_.skipped_records);
  if (!writer_->last_error().empty()) {
    output_failed_ = true;
    stats_.error = writer_->last_error();
    return false;
  }
  return true;
}

}  // namespace flowid::import
