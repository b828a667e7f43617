// Rendering events for people (one line per event) and for machines (one JSON object per event,
// as `flowid inspect --json` prints them).
//
// JSON strings must be valid Unicode, but paths and some identifiers are bytes. A byte string
// that is valid UTF-8 is written as a JSON string; one that is not is written as
// {"hex": "..."} so that nothing is lost or silently replaced.
#pragma once

#include <string>
#include <string_view>

#include "harness/model.h"

namespace flowid {

// Appends `text` to `out` as a JSON value (string or {"hex": ...}), escaped.
void append_json_bytes(std::string& out, std::string_view text);

// "744.3" (pid.pidversion) — the short form of an execution used in human output.
std::string short_execution(const AuditToken& token);
std::string hex(const uint8_t* data, std::size_t size);
std::string uuid_text(const Uuid& uuid);  // 976999BB-C169-42BE-9CAF-41D22E332848

// "  12.000345678" seconds with ns precision, right-aligned.
std::string format_time_ns(uint64_t time_ns);

// One human-readable line (no trailing newline), e.g.
//   "  0.000001000 flow     #1 744.3 tcp -> www.imdb.com 18.165.186.203:443 app=.com.apple.Safari"
std::string format_event_line(const Event& event);

// One JSON object (no trailing newline) with "t" (ns), "kind" and the event's fields.
// `index` is the event's 0-based position in the trace.
std::string format_event_json(const Event& event, uint64_t index);

// The identity in one short phrase: "/usr/libexec/trustd (platform com.apple.trustd)".
std::string describe_identity(const CodeIdentity& identity);

}  // namespace flowid
