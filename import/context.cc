#include "import/context.h"

#include <fmt/format.h>

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

void ImportContext::emit(Event& event, std::optional<uint64_t> wall_time_ns) {
  if (stopped_) return;
  if (wall_time_ns) {
    if (!epoch_wall_ns_ && !writer_) epoch_wall_ns_ = *wall_time_ns;
    if (epoch_wall_ns_ && *wall_time_ns >= *epoch_wall_ns_) {
      event.time_ns = *wall_time_ns - *epoch_wall_ns_;
    } else {
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
