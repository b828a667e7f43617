#include "import/parser.h"

namespace flowid::import {

void JsonRecordAssembler::feed(std::string_view line, uint64_t line_number) {
  line_ = line;
  pos_ = 0;
  line_number_ = line_number;
  fresh_line_ = true;
}

bool JsonRecordAssembler::scan() {
  const char* data = line_.data();
  const std::size_t size = line_.size();
  std::size_t p = pos_;
  while (p < size) {
    if (in_string_) {
      // Skip ordinary string bytes quickly: only '"' and '\\' matter inside a string.
      while (p < size && !escape_ && data[p] != '"' && data[p] != '\\') ++p;
      if (p >= size) break;
      char c = data[p++];
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else {
        in_string_ = false;
      }
      continue;
    }
    char c = data[p++];
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        ++depth_;
        break;
      case '}':
      case ']':
        if (--depth_ == 0) {
          pos_ = p;
          return true;
        }
        break;
      default:
        break;
    }
  }
  pos_ = p;
  return false;
}

JsonRecordAssembler::Result JsonRecordAssembler::next(Record* record) {
  if (open_ && fresh_line_ && !line_.empty() && line_[0] == '{' && pos_ == 0) {
    // A new top-level object starts in column 0 while one is open: the open one was cut short.
    record->text = {};
    record->first_line = first_line_;
    open_ = false;
    buffer_.clear();
    return Result::kUnterminated;
  }
  fresh_line_ = false;
  std::size_t segment_start = pos_;
  if (!open_) {
    while (pos_ < line_.size() && (line_[pos_] == ' ' || line_[pos_] == '\t' ||
                                   line_[pos_] == '\r' || line_[pos_] == '\n')) {
      ++pos_;
    }
    if (pos_ >= line_.size()) return Result::kNeedMore;
    char c = line_[pos_];
    if (c != '{' && c != '[') {
      record->text = line_.substr(pos_);
      record->first_line = line_number_;
      pos_ = line_.size();
      return Result::kStray;
    }
    open_ = true;
    buffered_ = false;
    too_large_ = false;
    start_ = pos_;
    segment_start = pos_;
    first_line_ = line_number_;
    depth_ = 0;
    in_string_ = false;
    escape_ = false;
  }
  if (scan()) {
    open_ = false;
    record->first_line = first_line_;
    if (too_large_) {
      buffer_.clear();
      record->text = {};
      return Result::kTooLarge;
    }
    if (buffered_) {
      buffer_.append(line_.substr(segment_start, pos_ - segment_start));
      record->text = buffer_;
    } else {
      record->text = line_.substr(start_, pos_ - start_);
    }
    return Result::kRecord;
  }
  // The line ended inside the record: keep its text (unless it is already too large).
  if (!too_large_) {
    if (!buffered_) {
      buffer_.assign(line_.substr(start_));
      buffered_ = true;
    } else {
      buffer_.append(line_.substr(segment_start));
    }
    buffer_.push_back('\n');
    if (buffer_.size() > record_bytes_max_) {
      too_large_ = true;
      buffer_.clear();
      buffer_.shrink_to_fit();
    }
  }
  return Result::kNeedMore;
}

JsonRecordAssembler::Result JsonRecordAssembler::finish(Record* record) {
  if (!open_) return Result::kNeedMore;
  open_ = false;
  buffer_.clear();
  record->text = {};
  record->first_line = first_line_;
  return Result::kUnterminated;
}

}  // namespace flowid::import
