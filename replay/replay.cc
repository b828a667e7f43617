#include "replay/replay.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <utility>

#include "harness/event_format.h"
#include "replay/linux_seam.h"

namespace flowid::replay {
namespace {

std::string identity_summary(const std::optional<CodeIdentity>& id) {
  return id ? describe_identity(*id) : std::string("no identity");
}

// Percent-encodes whitespace and '%' so that a value is one token in a golden line.
std::string encode_token(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c <= 0x20 || c == '%' || c == 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::optional<std::string> decode_token(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // '%' needs two hex digits after it.
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || ptr != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::optional<Cdhash> parse_cdhash(std::string_view hex_text) {
  if (hex_text.size() != 40) return std::nullopt;
  Cdhash h{};
  for (std::size_t i = 0; i < h.size(); ++i) {
    unsigned value = 0;
    auto [ptr, ec] =
        std::from_chars(hex_text.data() + 2 * i, hex_text.data() + 2 * i + 2, value, 16);
    if (ec != std::errc() || ptr != hex_text.data() + 2 * i + 2) return std::nullopt;
    h[i] = static_cast<uint8_t>(value);
  }
  return h;
}

std::optional<VerdictLabel> parse_label(std::string_view name) {
  for (auto label :
       {VerdictLabel::kVerified, VerdictLabel::kUnverifiedWarning, VerdictLabel::kUnknown}) {
    if (name_of(label) == name) return label;
  }
  return std::nullopt;
}

// A flow waiting for its verdict. Its storage is reused for later flows (see PendingFlows):
// the flow stays in the Event the trace reader decoded it into (handed over by swapping
// pointers, so a flow is never copied), and the lookups live in the first lookup_count entries
// of lookup_slots; the entries after them are spare Lookups whose strings keep their capacity.
struct PendingFlow {
  std::unique_ptr<Event> event = std::make_unique<Event>();  // holds a Flow once opened.
  std::vector<Lookup> lookup_slots;
  std::size_t lookup_count = 0;

  const Flow& flow() const { return std::get<Flow>(event->body); }
  uint64_t time_ns() const { return event->time_ns; }
  std::span<const Lookup> lookups() const { return {lookup_slots.data(), lookup_count}; }
  // Copies into a spare entry: its strings already have the capacity, so nothing allocates.
  void add_lookup(const Lookup& lookup) {
    if (lookup_count == lookup_slots.size()) lookup_slots.emplace_back();
    lookup_slots[lookup_count++] = lookup;
  }
};

// The flows waiting for their verdict, by flow id. A trace has few flows in flight at once
// while millions pass through, so this avoids a node-based map (an allocation per flow, and a
// copy of each flow and its lookups): slots are reused (their strings keep their capacity), and
// the index is a flat open-addressing table (linear probing, backward-shift deletion) from flow
// id to slot. Invariants: every active slot's flow id is in the index exactly once; free_ holds
// the other slots; the table is at most half full.
class PendingFlows {
 public:
  PendingFlows() : table_(kInitialCapacity) {}

  bool empty() const { return size_ == 0; }

  PendingFlow* find(uint64_t flow_id) {
    for (std::size_t i = home(flow_id);; i = (i + 1) & mask()) {
      const Entry& e = table_[i];
      if (e.slot == kEmpty) return nullptr;
      if (e.flow_id == flow_id) return &slots_[e.slot];
    }
  }

  // The slot for flow_id, emptied of lookups: an existing entry for the same id is reused (a
  // flow seen twice replaces the first), otherwise a free slot is taken.
  PendingFlow& open(uint64_t flow_id) {
    if (PendingFlow* existing = find(flow_id)) {
      existing->lookup_count = 0;
      return *existing;
    }
    if ((size_ + 1) * 2 > table_.size()) grow();
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    insert(Entry{flow_id, slot});
    ++size_;
    PendingFlow& p = slots_[slot];
    p.lookup_count = 0;
    return p;
  }

  // Frees flow_id's slot (its storage stays for reuse). Requires flow_id to be pending.
  void close(uint64_t flow_id) {
    std::size_t i = home(flow_id);
    while (table_[i].flow_id != flow_id || table_[i].slot == kEmpty) i = (i + 1) & mask();
    free_.push_back(table_[i].slot);
    --size_;
    // Backward-shift deletion: pull later entries of the probe run into the hole unless their
    // home lies cyclically in (hole, j].
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask(); table_[j].slot != kEmpty; j = (j + 1) & mask()) {
      const std::size_t h = home(table_[j].flow_id);
      const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (stays) continue;
      table_[hole] = table_[j];
      hole = j;
    }
    table_[hole].slot = kEmpty;
  }

  // The pending flows in flow id order.
  std::vector<PendingFlow*> in_flow_id_order() {
    std::vector<PendingFlow*> out;
    out.reserve(size_);
    for (const Entry& e : table_) {
      if (e.slot != kEmpty) out.push_back(&slots_[e.slot]);
    }
    std::sort(out.begin(), out.end(), [](const PendingFlow* a, const PendingFlow* b) {
      return a->flow().flow_id < b->flow().flow_id;
    });
    return out;
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr std::size_t kInitialCapacity = 64;  // a power of two.
  struct Entry {
    uint64_t flow_id = 0;
    uint32_t slot = kEmpty;
  };

  std::size_t mask() const { return table_.size() - 1; }
  std::size_t home(uint64_t flow_id) const {
    // Fibonacci hashing: flow ids are often consecutive; the multiply spreads them.
    return static_cast<std::size_t>((flow_id * 0x9e3779b97f4a7c15ULL) >> 32) & mask();
  }
  void insert(Entry entry) {
    std::size_t i = home(entry.flow_id);
    while (table_[i].slot != kEmpty) i = (i + 1) & mask();
    table_[i] = entry;
  }
  void grow() {
    std::vector<Entry> old(table_.size() * 2);
    old.swap(table_);
    for (const Entry& e : old) {
      if (e.slot != kEmpty) insert(e);
    }
  }

  std::vector<Entry> table_;
  std::vector<PendingFlow> slots_;
  std::vector<uint32_t> free_;
  std::size_t size_ = 0;
};

}  // namespace

std::string compare_verdicts(const Verdict& expected, const Verdict& produced) {
  std::vector<std::string> parts;
  if (expected.decision != produced.decision) {
    parts.push_back(
        fmt::format("decision {} -> {}", name_of(expected.decision), name_of(produced.decision)));
  }
  if (expected.status != produced.status) {
    parts.push_back(
        fmt::format("status {} -> {}", name_of(expected.status), name_of(produced.status)));
  }
  if (expected.label != produced.label) {
    parts.push_back(
        fmt::format("label {} -> {}", name_of(expected.label), name_of(produced.label)));
  }
  if (expected.identity != produced.identity) {
    parts.push_back(fmt::format("identity {} -> {}", identity_summary(expected.identity),
                                identity_summary(produced.identity)));
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

std::string format_golden_line(const Verdict& v) {
  std::string line = fmt::format("flow {}: {} {} [{}]", v.flow_id, name_of(v.decision),
                                 name_of(v.status), name_of(v.label));
  line += fmt::format(" rule={}", v.rule.empty() ? "-" : encode_token(v.rule));
  if (!v.identity) {
    line += " identity=none";
    return line;
  }
  const CodeIdentity& id = *v.identity;
  line += fmt::format(" cdhash={} signature={} platform={} runtime={} signing_id={} team_id={}",
                      id.cdhash ? hex(id.cdhash->data(), id.cdhash->size()) : "-",
                      name_of(id.signature), id.platform ? 1 : 0, id.hardened_runtime ? 1 : 0,
                      id.signing_id.empty() ? "-" : encode_token(id.signing_id),
                      id.team_id.empty() ? "-" : encode_token(id.team_id));
  // The path goes last and unencoded up to the end of the line, so it reads naturally; only a
  // newline inside it must be encoded.
  std::string path;
  for (char c : id.path) {
    if (c == '\n' || c == '%' || c == '\r') {
      path += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      path += c;
    }
  }
  line += " path=" + path;
  return line;
}

std::string format_golden(const std::vector<Verdict>& verdicts, const std::string& comment) {
  std::string out;
  if (!comment.empty()) {
    std::size_t start = 0;
    while (start <= comment.size()) {
      auto end = comment.find('\n', start);
      if (end == std::string::npos) end = comment.size();
      out += "# " + comment.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  for (const auto& v : verdicts) out += format_golden_line(v) + "\n";
  return out;
}

std::optional<std::vector<Verdict>> parse_golden(std::string_view text, std::string_view file,
                                                 std::string* error) {
  std::vector<Verdict> verdicts;
  int line_number = 0;
  std::size_t start = 0;
  auto fail = [&](const std::string& what) {
    *error = fmt::format("{}:{}: {}", file, line_number, what);
    return std::nullopt;
  };
  while (start < text.size()) {
    ++line_number;
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;

    Verdict v;
    // "flow N: DECISION STATUS [LABEL] key=value ... path=REST"
    if (line.substr(0, 5) != "flow ") return fail("expected 'flow N: ...'");
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail("expected ':' after the flow id");
    auto id_text = line.substr(5, colon - 5);
    auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), v.flow_id);
    if (ec != std::errc() || ptr != id_text.data() + id_text.size()) {
      return fail(fmt::format("bad flow id '{}'", id_text));
    }
    std::string_view rest = line.substr(colon + 1);
    std::string_view path_part;
    if (auto p = rest.find(" path="); p != std::string_view::npos) {
      path_part = rest.substr(p + 6);
      rest = rest.substr(0, p);
    }
    std::vector<std::string_view> tokens;
    std::size_t i = 0;
    while (i < rest.size()) {
      while (i < rest.size() && rest[i] == ' ') ++i;
      std::size_t j = i;
      while (j < rest.size() && rest[j] != ' ') ++j;
      if (j > i) tokens.push_back(rest.substr(i, j - i));
      i = j;
    }
    if (tokens.size() < 3) return fail("expected DECISION STATUS [LABEL]");
    auto decision = parse_decision(tokens[0]);
    if (!decision) return fail(fmt::format("unknown decision '{}'", tokens[0]));
    v.decision = *decision;
    auto status = parse_attribution_status(tokens[1]);
    if (!status) return fail(fmt::format("unknown status '{}'", tokens[1]));
    v.status = *status;
    if (tokens[2].size() < 2 || tokens[2].front() != '[' || tokens[2].back() != ']') {
      return fail(fmt::format("expected [label], got '{}'", tokens[2]));
    }
    auto label = parse_label(tokens[2].substr(1, tokens[2].size() - 2));
    if (!label) return fail(fmt::format("unknown label '{}'", tokens[2]));
    v.label = *label;

    bool identity_none = false;
    CodeIdentity id;
    bool any_identity_key = false;
    for (std::size_t t = 3; t < tokens.size(); ++t) {
      auto eq = tokens[t].find('=');
      if (eq == std::string_view::npos)
        return fail(fmt::format("expected key=value, got '{}'", tokens[t]));
      auto key = tokens[t].substr(0, eq);
      auto value = tokens[t].substr(eq + 1);
      auto decoded = decode_token(value);
      if (!decoded) return fail(fmt::format("bad %-escape in '{}'", tokens[t]));
      if (key == "rule") {
        v.rule = value == "-" ? "" : *decoded;
      } else if (key == "identity") {
        if (value != "none") return fail("identity= may only be 'none'");
        identity_none = true;
      } else if (key == "cdhash") {
        any_identity_key = true;
        if (value != "-") {
          auto h = parse_cdhash(value);
          if (!h) return fail(fmt::format("cdhash must be 40 hex digits, got '{}'", value));
          id.cdhash = h;
        }
      } else if (key == "signature") {
        any_identity_key = true;
        auto kind = parse_signature_kind(value);
        if (!kind) return fail(fmt::format("unknown signature kind '{}'", value));
        id.signature = *kind;
      } else if (key == "platform" || key == "runtime") {
        any_identity_key = true;
        if (value != "0" && value != "1") return fail(fmt::format("{} must be 0 or 1", key));
        (key == "platform" ? id.platform : id.hardened_runtime) = value == "1";
      } else if (key == "signing_id") {
        any_identity_key = true;
        id.signing_id = value == "-" ? "" : *decoded;
      } else if (key == "team_id") {
        any_identity_key = true;
        id.team_id = value == "-" ? "" : *decoded;
      } else {
        return fail(fmt::format("unknown key '{}'", key));
      }
    }
    if (!identity_none) {
      if (!any_identity_key && path_part.empty())
        return fail("expected identity=none or identity fields");
      auto path = decode_token(path_part);
      if (!path) return fail("bad %-escape in path");
      id.path = *path;
      v.identity = id;
    }
    verdicts.push_back(std::move(v));
  }
  return verdicts;
}

TraceReplayResult replay_faithful(const std::string& path, trace::TraceReader& reader,
                                  Resolver& resolver, const Filter& filter,
                                  const FaithfulOptions& options) {
  TraceReplayResult result;
  result.path = path;
  if (!reader.ok()) {
    result.readable = false;
    for (const auto& issue : reader.issues())
      result.read_issues.push_back(trace::describe(issue, path));
    return result;
  }

  std::map<uint64_t, Verdict> golden;
  if (options.golden) {
    for (const auto& v : *options.golden) golden[v.flow_id] = v;
  }

  // A capacity hint, not a limit: growing a vector of millions of verdicts by doubling moves
  // every verdict about once more and touches twice the memory, a fifth of the replay time on
  // a large trace (bench/replay_bench.cc). A flow takes at least a flow and a verdict event, a
  // few hundred bytes uncompressed, so the file size bounds the flow count well enough; the
  // reservation is address space, and the pages left unused are never touched.
  constexpr uint64_t kTraceBytesPerFlowMin = 256;
  constexpr uint64_t kProducedReserveMax = uint64_t{4} << 20;
  if (options.keep_produced) {
    result.produced.reserve(static_cast<std::size_t>(
        std::min(reader.stats().file_bytes / kTraceBytesPerFlowMin, kProducedReserveMax)));
  }

  // Flows waiting for their verdict, by flow id; lookups of flows not (yet) seen wait here too.
  PendingFlows pending;
  std::map<uint64_t, std::vector<Lookup>> orphan_lookups;
  RecordedSeam seam;
  // A Linux recording's lookups are Linux calls: LinuxRecordedSeam derives the seam's answers.
  LinuxRecordedSeam linux_seam;
  const bool linux_answers =
      options.answers == FaithfulAnswers::kLinuxRecording ||
      (options.answers == FaithfulAnswers::kAuto && is_linux_recording(reader.header()));
  uint64_t digest = trace::kDigestSeed;
  Event digest_event;  // reused: the produced verdict passes through it on its way to result.

  auto resolve_with = [&](auto& answering_seam, const PendingFlow& p) {
    answering_seam.reset(p.flow().flow_id, p.lookups());
    Attribution attribution = resolver.resolve(p.flow(), p.time_ns(), answering_seam);
    result.lookups_answered += answering_seam.answered();
    for (const auto& call : answering_seam.off_script()) result.off_script.push_back(call);
    return attribution;
  };
  // A resolver that throws (a plugin that crashed or hung under isolation) is an I7 finding for
  // the flow, as in model replay; the flow then gets the filter's verdict for "unknown", or drop
  // when the resolver's own decision threw.
  auto totality_failure = [&](const Flow& flow, std::string_view what) {
    Finding f;
    f.invariant = Invariant::kI7Totality;
    f.severity = Severity::kViolation;
    f.flow_id = flow.flow_id;
    std::string text = "a non-standard exception";
    try {
      throw;
    } catch (const std::exception& e) {
      text = e.what();
    } catch (...) {
    }
    f.message = fmt::format("resolver '{}' {}threw {}", resolver.name(), what, text);
    result.findings.push_back(std::move(f));
  };
  // recorded: the trace's verdict for the flow, or null.
  auto replay_flow = [&](PendingFlow& p, const Verdict* recorded) {
    Attribution attribution{AttributionStatus::kUnknown, std::nullopt, std::nullopt, "aborted"};
    bool resolved = false;
    try {
      attribution = linux_answers ? resolve_with(linux_seam, p) : resolve_with(seam, p);
      resolved = true;
    } catch (...) {
      totality_failure(p.flow(), "");
    }
    Verdict produced = filter.decide(p.flow(), attribution);
    if (resolved) {
      try {
        if (std::optional<Decision> own = resolver.decide(p.flow(), attribution)) {
          apply_resolver_decision(produced, *own, resolver.name());
        }
      } catch (...) {
        totality_failure(p.flow(), "decide ");
        produced.decision = Decision::kDrop;
        produced.rule = "aborted";
      }
    }
    ++result.flows;

    const Verdict* expected = recorded;
    auto golden_entry = golden.end();
    if (options.golden) {
      golden_entry = golden.find(p.flow().flow_id);
      expected = golden_entry == golden.end() ? nullptr : &golden_entry->second;
    }
    if (expected != nullptr) {
      std::string what = compare_verdicts(*expected, produced);
      if (!what.empty())
        result.differences.push_back({p.flow().flow_id, *expected, produced, what});
    } else {
      result.differences.push_back({p.flow().flow_id, std::nullopt, produced,
                                    options.golden
                                        ? "flow missing from the golden file"
                                        : "the trace recorded no verdict for this flow"});
    }
    if (golden_entry != golden.end()) golden.erase(golden_entry);
    digest_event.time_ns = p.time_ns();
    Verdict& digested = digest_event.body.emplace<Verdict>(std::move(produced));
    digest = trace::event_digest(digest, digest_event);
    if (options.keep_produced) result.produced.push_back(std::move(digested));
  };

  // The event being read. A flow's event is handed to its pending slot by swapping pointers
  // (the slot's previous event, with its string capacities, becomes the one the reader fills).
  auto event_holder = std::make_unique<Event>();
  while (reader.next(*event_holder)) {
    Event& event = *event_holder;
    ++result.events;
    switch (event.kind()) {
      case EventKind::kFlow: {
        const uint64_t flow_id = std::get<Flow>(event.body).flow_id;
        PendingFlow& p = pending.open(flow_id);
        std::swap(p.event, event_holder);
        if (!orphan_lookups.empty()) {
          if (auto it = orphan_lookups.find(flow_id); it != orphan_lookups.end()) {
            for (const Lookup& lookup : it->second) p.add_lookup(lookup);
            orphan_lookups.erase(it);
          }
        }
        break;
      }
      case EventKind::kLookup: {
        auto& lookup = std::get<Lookup>(event.body);
        if (PendingFlow* p = pending.find(lookup.flow_id)) {
          p->add_lookup(lookup);
        } else if (lookup.flow_id != 0) {
          orphan_lookups[lookup.flow_id].push_back(lookup);
        }
        break;
      }
      case EventKind::kVerdict: {
        auto& verdict = std::get<Verdict>(event.body);
        PendingFlow* p = pending.find(verdict.flow_id);
        if (p == nullptr) break;  // a verdict for a flow the trace never showed.
        replay_flow(*p, &verdict);
        pending.close(verdict.flow_id);
        break;
      }
      case EventKind::kProcessSpawn:
      case EventKind::kProcessExec:
      case EventKind::kProcessExit:
        resolver.observe(event);
        break;
      default:
        break;
    }
  }
  // Flows the trace never gave a verdict (cut short, or a recording without verdicts).
  for (PendingFlow* p : pending.in_flow_id_order()) replay_flow(*p, nullptr);
  // Golden entries for flows the trace does not have.
  for (auto& [flow_id, v] : golden) {
    result.differences.push_back(
        {flow_id, v, std::nullopt, "flow in the golden file but not in the trace"});
  }
  // Lookups still waiting: their flow never came (orphan_lookups is ordered by flow id).
  for (const auto& [flow_id, lookups] : orphan_lookups) {
    result.unmatched_lookups += lookups.size();
    ++result.unmatched_lookup_flow_count;
    if (result.unmatched_lookup_flows.size() < TraceReplayResult::kUnmatchedFlowsShown) {
      result.unmatched_lookup_flows.push_back(flow_id);
    }
  }
  for (const auto& issue : reader.issues())
    result.read_issues.push_back(trace::describe(issue, path));
  result.verdict_digest = digest;
  return result;
}

}  // namespace flowid::replay
