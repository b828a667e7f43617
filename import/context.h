// The state every importer writes through: the output trace (opened lazily, once the first
// timestamp fixes the trace's epoch), the statistics, the bad-record policy (strict stops,
// lenient skips and counts) and the input position used in every message.
//
// Times: importers hand in wall-clock nanoseconds since the Unix epoch as the source states
// them. The trace's time 0 is the first timestamp of the import (header start_wall_time_ns);
// event times are relative to it. Events before any timestamp get time 0; an event whose
// timestamp precedes the epoch (inputs out of order) gets time 0 too and is counted as unmapped.
// Within one input, a step back in time of more than a second, or a gap of more than
// kSessionGapNs, is written as a Marker before the event saying what it is (a new session, a
// clock change or a pause), never as lost events.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "import/import.h"

namespace flowid::import {

class ImportContext {
 public:
  ImportContext(trace::TraceHeader header, const ImportOptions& options, WriterFactory open_writer,
                ImportStats& stats);
  ImportContext(const ImportContext&) = delete;
  ImportContext& operator=(const ImportContext&) = delete;

  const ImportOptions& options() const { return options_; }
  ImportStats& stats() { return stats_; }

  // The input being read; messages say "NAME:LINE: ...".
  // Starts the input's first segment.
  void set_input(std::string_view name) {
    input_name_ = name;
    input_wall_ns_.reset();
    segment_shift_ns_ = 0;
    segment_number_ = 1;
  }
  // Gaps longer than this between two events of one input are a pause or a new session.
  static constexpr uint64_t kSessionGapNs = 60'000'000'000ULL;
  // Steps back in time shorter than this are ordinary reordering, not a new session.
  static constexpr uint64_t kStepBackReportedNs = 1'000'000'000ULL;
  // A new segment's first event is placed this long after the latest event written before it.
  static constexpr uint64_t kSegmentSeparationNs = 1'000'000'000ULL;
  const std::string& input_name() const { return input_name_; }

  // Sets the header's host before the trace is opened (later calls are ignored).
  void set_host(std::string_view host);

  // Writes an event. When `wall_time_ns` is set, event.time_ns is overwritten with the time
  // relative to the trace's epoch; otherwise the event gets the time of the previous event.
  // `event` is taken by reference so importers can reuse one scratch event per kind.
  void emit(Event& event, std::optional<uint64_t> wall_time_ns);
  // Convenience: a Marker at the given time.
  void marker(std::string text, std::optional<uint64_t> wall_time_ns);

  // A bad record at `line`. Strict: records the error and stops the import. Lenient: counts it
  // under `reason`, marks it in the trace (DroppedEvents) and goes on.
  void bad_record(uint64_t line, std::string_view reason, std::string_view message);
  void ignored(std::string_view reason, uint64_t count = 1);
  void unmapped(std::string_view reason, uint64_t count = 1);
  void record_read() { ++stats_.records; }

  // True once the import must stop (strict bad record, output failure).
  bool stopped() const { return stopped_; }

  uint64_t next_flow_id() { return ++last_flow_id_; }

  // Finishes the trace (opening it if nothing was written). Returns false when the output
  // could not be opened or written (stats.error says why).
  bool finish(std::optional<std::string> stop_note);

  // Imports of several inputs write each input (or run of inputs in time order) to a spill
  // first, with absolute wall-clock times, and merge the spills by time into the output (see
  // driver.cc). begin_spill sends events to `spill`; end_spill finishes it (false when it
  // failed). open_merged opens the output with `epoch_wall_ns` as time 0, write_merged writes
  // one merged event (its time already relative).
  void begin_spill(std::unique_ptr<trace::TraceWriter> spill);
  bool end_spill();
  bool open_merged(uint64_t epoch_wall_ns);
  void write_merged(const Event& event);
  // The latest and earliest placed wall times (absolute ns; see Segments above) since the last
  // begin_spill, if any.
  std::optional<uint64_t> spill_last_wall_ns() const { return spill_last_wall_ns_; }
  std::optional<uint64_t> spill_first_wall_ns() const { return spill_first_wall_ns_; }

  // Who held which pid when, from every lifecycle event written so far (all inputs), so that a
  // flow that names only a pid can be joined with the execution behind it (JoinResult).
  // Recording is off unless the import has something to join (enable_pid_history).
  void enable_pid_history() { history_enabled_ = true; }
  void note_start(const AuditToken& token, const CodeIdentity& image,
                  std::optional<uint64_t> wall_time_ns);
  void note_end(const AuditToken& token, std::optional<uint64_t> wall_time_ns);
  bool has_lifecycle() const { return !pid_history_.empty(); }
  struct JoinResult {
    std::optional<AuditToken> token;
    std::string how;  // for the Marker that says how the flow got its token.
  };
  // The execution of `pid` behind a flow logged at `wall_time_ns`: the one holding the pid
  // then, unless `app_identifier` (NEFilterFlow's sourceAppIdentifier) names a different
  // program and the pid's previous execution, exited before the flow was logged, is that
  // program (the flow was logged after its process exited and the pid was reused).
  JoinResult join(int32_t pid, uint64_t wall_time_ns, std::string_view app_identifier) const;
  bool output_failed() const { return output_failed_; }
  // Writes the complete events so far to the output (the open chunk too), if it is open.
  void flush_output();

 private:
  bool open_if_needed();
  void write(const Event& event);
  void flush_dropped();
  // The wall time an event is placed at (see Segments above): the source's time plus the
  // segment's shift, never before the latest placed so far. Writes the step-back and gap Markers.
  uint64_t place(uint64_t wall_time_ns);

  trace::TraceHeader header_;
  ImportOptions options_;
  WriterFactory open_writer_;
  ImportStats& stats_;
  std::unique_ptr<trace::TraceWriter> writer_;
  std::string input_name_;
  std::optional<uint64_t> epoch_wall_ns_;
  uint64_t last_time_ns_ = 0;
  uint64_t last_flow_id_ = 0;
  bool host_set_ = false;
  bool stopped_ = false;
  bool output_failed_ = false;
  // Events that arrived before the first timestamp, written once the epoch is known (bounded
  // by ImportLimits::pending_untimed_events_max; beyond it the trace opens without an epoch).
  std::vector<Event> pending_;
  // Consecutive bad records are coalesced into one DroppedEvents event.
  uint64_t dropped_count_ = 0;
  std::string dropped_reason_;
  bool spilling_ = false;
  std::optional<uint64_t> spill_last_wall_ns_;
  std::optional<uint64_t> spill_first_wall_ns_;
  std::optional<uint64_t> last_wall_ns_;
  std::optional<uint64_t> input_wall_ns_;  // the latest source time of the current segment.
  uint64_t segment_shift_ns_ = 0;          // added to the source times of the current segment.
  uint64_t segment_number_ = 1;            // of the current input, for the Marker.
  // The latest placed time written to the current output or spill.
  std::optional<uint64_t> placed_max_ns_;

  struct Span {
    AuditToken token;
    uint64_t start_ns = 0;
    std::optional<uint64_t> end_ns;
    std::string signing_id;
    std::string path;
  };
  // Executions per pid, oldest first; the last kSpansPerPid per pid are kept.
  std::unordered_map<int32_t, std::deque<Span>> pid_history_;
  bool history_enabled_ = false;
  uint64_t history_spans_ = 0;
};

}  // namespace flowid::import
