// The interface every format's parser implements, and the helpers they share.
//
// A parser is fed the lines of one input at a time (without the line terminator, numbered from
// 1) and writes events through the ImportContext. It keeps only bounded state between lines.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "import/context.h"

namespace flowid::import {

class LineParser {
 public:
  virtual ~LineParser() = default;
  // A new input starts (per-input state such as sequence numbers is reset).
  virtual void begin_input() = 0;
  virtual void line(std::string_view text, uint64_t line_number) = 0;
  // The input ended: flush what is pending (an open block, buffered auditd events).
  virtual void end_input() = 0;
};

std::unique_ptr<LineParser> make_eslogger_parser(ImportContext& context);
std::unique_ptr<LineParser> make_nefilterflow_parser(ImportContext& context);
std::unique_ptr<LineParser> make_tetragon_parser(ImportContext& context);
std::unique_ptr<LineParser> make_auditd_parser(ImportContext& context);
std::unique_ptr<LineParser> make_parser(Format format, ImportContext& context);

// Assembles JSON values that span lines (pretty-printed Tetragon events, concatenated files)
// or share one ("}{"), while a JSON Lines input passes through one line per record. It tracks
// strings and nesting only; the JSON parser does the rest. A line that starts with '{' in
// column 0 while a record is open means the open record was cut short: it is reported as
// unterminated and a new record starts there, so one bad line never swallows the next ones.
class JsonRecordAssembler {
 public:
  struct Record {
    std::string_view text;  // valid until the next call.
    uint64_t first_line = 0;
  };
  enum class Result : uint8_t { kNeedMore, kRecord, kUnterminated, kTooLarge, kStray };

  explicit JsonRecordAssembler(uint64_t record_bytes_max) : record_bytes_max_(record_bytes_max) {}

  // Feeds a line; then call next() until it returns kNeedMore. `line` must stay valid until
  // next() returned kNeedMore.
  void feed(std::string_view line, uint64_t line_number);
  // kRecord: *record is a complete value. kUnterminated / kTooLarge: a record starting at
  // record->first_line was dropped. kStray: text outside any value (record->text says what).
  Result next(Record* record);
  // At the end of the input: kUnterminated if a record was open.
  Result finish(Record* record);

 private:
  // Scans line_[pos_..] continuing the current record; returns true when a value ended.
  bool scan();

  uint64_t record_bytes_max_;
  std::string_view line_;
  std::size_t pos_ = 0;
  uint64_t line_number_ = 0;
  bool fresh_line_ = false;
  // The open record: its text is either a view of the current line (the common JSONL case,
  // no copy) or accumulated in buffer_.
  std::string buffer_;
  bool open_ = false;
  bool buffered_ = false;
  std::size_t start_ = 0;
  uint64_t first_line_ = 0;
  uint32_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  bool too_large_ = false;
};

// Per-pid knowledge of the execution the source last described, shared by the importers to
// keep lifecycle events consistent (a spawn before any exec or exit of an execution, an exit
// only for a live execution). Bounded by the number of distinct pids (pid_max).
struct ExecutionState {
  AuditToken token;
  bool alive = true;
};
using ExecutionTable = std::unordered_map<int32_t, ExecutionState>;

}  // namespace flowid::import
