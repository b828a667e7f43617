// Helpers for the importer tests and fuzz targets: import bytes and read the trace back.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "import/import.h"
#include "trace/trace.h"

namespace flowid::import::testing {

struct Imported {
  ImportStatus status = ImportStatus::kOk;
  ImportStats stats;
  std::string bytes;
  trace::TraceHeader header;
  std::vector<Event> events;
  std::optional<trace::TraceFooter> footer;
  bool clean = false;

  // Events of one kind, in order.
  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& e : events) {
      if (const T* v = std::get_if<T>(&e.body)) out.push_back(*v);
    }
    return out;
  }
  std::string config(std::string_view key) const {
    for (const auto& [k, v] : header.resolver_config) {
      if (k == key) return v;
    }
    return {};
  }
};

inline Imported read_back(std::string bytes) {
  Imported out;
  out.bytes = std::move(bytes);
  auto reader = trace::memory_reader(out.bytes);
  if (!reader->ok()) return out;
  out.header = reader->header();
  Event e;
  while (reader->next(e)) out.events.push_back(e);
  out.footer = reader->footer();
  out.clean = reader->clean();
  return out;
}

inline Imported run_import(std::string_view input, Format format, bool lenient = false,
                           std::string_view name = "input") {
  ImportOptions options;
  options.lenient = lenient;
  std::string bytes;
  ImportStats stats;
  ImportStatus status = import_bytes(input, format, options, &bytes, stats, name);
  Imported out = read_back(std::move(bytes));
  out.status = status;
  out.stats = std::move(stats);
  return out;
}

inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace flowid::import::testing
