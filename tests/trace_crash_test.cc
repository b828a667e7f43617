// Crash safety of the trace reader: a trace cut at any byte reads back every whole chunk before
// the cut and says where it was cut; damaged bytes never crash the reader (run this under ASan
// and UBSan too) and are reported with the damaged chunk and its offset; hostile frames that pass
// their checksums are caught at the chunk boundary. All randomness comes from fixed seeds.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <random>

#include "harness/builders.h"
#include "trace/flowid_trace.capnp.h"
#include "trace/frame.h"
#include "trace/trace.h"

namespace flowid::trace {
namespace {

using Kind = TraceIssue::Kind;

// A small trace of mixed events, chunk_events_max = 3, and for every event the byte offset at
// which its chunk ends (the event is durable once the file reaches that offset).
struct SmallTrace {
  std::string bytes;
  std::vector<Event> events;
  std::vector<uint64_t> chunk_end_of_event;
  std::vector<uint64_t> frame_starts;  // every frame's offset, header chunk first.
};

SmallTrace make_small_trace(Compression compression, bool packed) {
  SmallTrace t;
  auto app = build::token(501, 7);
  auto helper = build::token(502, 9);
  auto image = build::developer_id_app("/Applications/Mail.app/Contents/MacOS/Mail",
                                       "com.apple.mail", "TEAM123456");
  t.events = {
      build::spawn(100, app, build::token(1, 1), image),
      build::flow(110, build::tcp_flow(1, app, "imap.example.com")),
      build::lookup_event(111, build::lookup(1, LookupCall::kGuestByAuditToken)),
      build::verdict_event(
          112, build::verdict(1, Decision::kAllow, AttributionStatus::kVerified, image)),
      build::exec(120, app, helper, build::ad_hoc_binary("/tmp/\xff helper")),
      build::file_replace(130, "/Applications/Mail.app/Contents/MacOS/Mail", image),
      build::flow(140, build::tcp_flow(2, helper, "evil.example")),
      build::lookup_event(141, build::lookup(2, LookupCall::kProcPidpath, build::posix(3))),
      build::exit(150, helper, ExitStage::kExited),
      build::marker(160, "marker"),
      build::dropped(170, 4, "ring overrun"),
  };
  WriterOptions options;
  options.chunk_events_max = 3;
  options.compression = compression;
  options.packed = packed;
  TraceHeader header;
  header.recorder = "trace_crash_test";
  auto writer = memory_writer(&t.bytes, header, options);
  for (const Event& e : t.events) writer->append(e);
  writer->finish();
  // Walk the frames: each event chunk's event_count says which events it holds.
  for (uint64_t at = frame::kPreambleBytes; at < t.bytes.size();) {
    t.frame_starts.push_back(at);
    auto h = frame::decode(reinterpret_cast<const unsigned char*>(t.bytes.data()) + at);
    at += frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
    if (h.kind == static_cast<uint8_t>(frame::ChunkKind::kEvents)) {
      t.chunk_end_of_event.insert(t.chunk_end_of_event.end(), h.event_count, at);
    }
  }
  return t;
}

struct ReadResult {
  std::vector<Event> events;
  std::unique_ptr<TraceReader> reader;
};

ReadResult read_all(std::string_view bytes, const ReaderOptions& options = {}) {
  ReadResult r;
  r.reader = memory_reader(bytes, options);
  Event e;
  while (r.reader->next(e)) r.events.push_back(e);
  return r;
}

const TraceIssue* find_issue(const TraceReader& reader, Kind kind) {
  for (const TraceIssue& i : reader.issues()) {
    if (i.kind == kind) return &i;
  }
  return nullptr;
}

std::string issues_text(const TraceReader& reader) {
  std::string s;
  for (const TraceIssue& i : reader.issues()) s += describe(i, "trace") + "\n";
  return s;
}

class TruncationTest : public ::testing::TestWithParam<std::pair<Compression, bool>> {};

TEST_P(TruncationTest, EveryCutReadsEveryWholeChunkAndSaysWhere) {
  const SmallTrace t = make_small_trace(GetParam().first, GetParam().second);
  ASSERT_GE(t.frame_starts.size(), 6u) << "want a header, several event chunks and a footer";
  for (std::size_t cut = 0; cut <= t.bytes.size(); ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut) + " of " + std::to_string(t.bytes.size()));
    auto r = read_all(std::string_view(t.bytes).substr(0, cut));
    std::vector<Event> expected;
    for (std::size_t i = 0; i < t.events.size(); ++i) {
      if (t.chunk_end_of_event[i] <= cut) expected.push_back(t.events[i]);
    }
    EXPECT_EQ(r.events, expected);
    if (cut == t.bytes.size()) {
      EXPECT_TRUE(r.reader->clean()) << issues_text(*r.reader);
      continue;
    }
    EXPECT_FALSE(r.reader->clean());
    EXPECT_FALSE(r.reader->footer().has_value());
    if (cut < frame::kPreambleBytes) {
      EXPECT_FALSE(r.reader->ok());
      ASSERT_FALSE(r.reader->issues().empty());
      EXPECT_EQ(r.reader->issues()[0].kind, cut == 0 ? Kind::kNotATrace : Kind::kTruncated);
      continue;
    }
    // The frame the cut falls into (or the boundary it falls on).
    uint64_t frame_start = frame::kPreambleBytes;
    bool on_boundary = cut == frame::kPreambleBytes;
    for (uint64_t s : t.frame_starts) {
      if (s <= cut) frame_start = s;
      if (s == cut) on_boundary = true;
    }
    const TraceIssue* missing = find_issue(*r.reader, Kind::kMissingFooter);
    ASSERT_NE(missing, nullptr) << issues_text(*r.reader);
    const TraceIssue* truncated = find_issue(*r.reader, Kind::kTruncated);
    if (on_boundary) {
      EXPECT_EQ(truncated, nullptr) << issues_text(*r.reader);
      EXPECT_EQ(missing->offset, cut);
    } else {
      ASSERT_NE(truncated, nullptr) << issues_text(*r.reader);
      EXPECT_EQ(truncated->offset, frame_start) << "everything before the offset was read";
      EXPECT_NE(truncated->message.find("ends at byte " + std::to_string(cut)), std::string::npos)
          << truncated->message;
    }
    EXPECT_EQ(find_issue(*r.reader, Kind::kDamagedChunk), nullptr) << issues_text(*r.reader);
    // A cut inside the header chunk leaves nothing readable.
    EXPECT_EQ(r.reader->ok(), cut >= t.frame_starts[1]);
    if (cut >= t.frame_starts[1]) {
      EXPECT_EQ(r.reader->header().recorder, "trace_crash_test");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Encodings, TruncationTest,
                         ::testing::Values(std::pair{Compression::kNone, false},
                                           std::pair{Compression::kZstd, false},
                                           std::pair{Compression::kNone, true},
                                           std::pair{Compression::kZstd, true}));

// Events of the trace minus the chunk that holds byte `offset`.
std::vector<Event> without_chunk_at(const SmallTrace& t, uint64_t offset) {
  uint64_t start = 0, end = t.bytes.size();
  for (std::size_t i = 0; i < t.frame_starts.size(); ++i) {
    if (t.frame_starts[i] <= offset) {
      start = t.frame_starts[i];
      end = i + 1 < t.frame_starts.size() ? t.frame_starts[i + 1] : t.bytes.size();
    }
  }
  std::vector<Event> out;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    bool in_chunk = t.chunk_end_of_event[i] == end && end != start;
    if (!in_chunk) out.push_back(t.events[i]);
  }
  return out;
}

TEST(DamagedTrace, EverySingleByteFlipIsReportedAtItsChunk) {
  for (auto [compression, packed] :
       {std::pair{Compression::kNone, false}, std::pair{Compression::kZstd, true}}) {
    const SmallTrace t = make_small_trace(compression, packed);
    std::mt19937_64 rng(0xF10D);
    for (std::size_t offset = frame::kPreambleBytes; offset < t.bytes.size(); ++offset) {
      std::string damaged = t.bytes;
      damaged[offset] = static_cast<char>(damaged[offset] ^ (1 + rng() % 255));
      SCOPED_TRACE("flip at byte " + std::to_string(offset));
      auto r = read_all(damaged);
      EXPECT_FALSE(r.reader->clean());
      const TraceIssue* issue = find_issue(*r.reader, Kind::kDamagedChunk);
      ASSERT_NE(issue, nullptr) << issues_text(*r.reader);
      uint64_t frame_start = 0;
      for (uint64_t s : t.frame_starts) {
        if (s <= offset) frame_start = s;
      }
      EXPECT_EQ(issue->offset, frame_start) << issues_text(*r.reader);
      EXPECT_EQ(r.events, without_chunk_at(t, offset)) << issues_text(*r.reader);
      EXPECT_NE(describe(*issue, "t.fltr").find("t.fltr: at byte " + std::to_string(frame_start)),
                std::string::npos);
    }
  }
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/flowid_crash_" + std::to_string(::getpid()) + "_" + name;
}

// Reads bytes from memory and, written to a file, through the mapped-file reader.
std::vector<ReadResult> read_both_ways(const std::string& bytes, const std::string& name) {
  std::vector<ReadResult> out;
  out.push_back(read_all(bytes));
  const std::string path = temp_path(name);
  {
    std::ofstream file(path, std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ReadResult mapped;
  mapped.reader = open_reader(path);
  Event e;
  while (mapped.reader->next(e)) mapped.events.push_back(e);
  ::unlink(path.c_str());
  out.push_back(std::move(mapped));
  return out;
}

// The checksum of the chunk after an event chunk is computed while that chunk's events are read,
// a few blocks per event. It must still cover the whole chunk, and be checked before any of its
// events is used, when the event chunk before it is dropped half-way through (the lookahead then
// stops early) and when every event is read (it completes).
TEST(DamagedTrace, TheChunkAfterAnEventChunkIsVerifiedWhateverHappensToTheOneBefore) {
  std::vector<Event> big;
  for (uint64_t i = 0; i < 400; ++i) {
    big.push_back(build::flow(
        1000 + i, build::tcp_flow(i, build::token(7, 1), "h" + std::to_string(i) + ".example")));
  }
  const std::string written = write_to_bytes(TraceHeader{}, big);  // header, one chunk, footer.
  const auto* w = reinterpret_cast<const unsigned char*>(written.data());
  const uint64_t events_at =
      16 + frame::kFrameHeaderBytes + frame::padded8(frame::decode(w + 16).stored_bytes);
  const uint64_t footer_at = events_at + frame::kFrameHeaderBytes +
                             frame::padded8(frame::decode(w + events_at).stored_bytes);
  const std::string big_chunk = written.substr(events_at, footer_at - events_at);

  // A chunk of 50 markers whose event 3 names a string past the table (dropped there), or a
  // clean one.
  auto markers = [](bool hostile) {
    capnp::MallocMessageBuilder m;
    auto chunk = m.initRoot<wire::Chunk>();
    chunk.setBaseTimeNs(10);
    auto strings = chunk.initStrings(2);
    strings.set(1, kj::StringPtr("m").asBytes());
    auto list = chunk.initEvents(50);
    for (unsigned i = 0; i < 50; ++i) {
      list[i].setTimeDeltaNs(1);
      list[i].getBody().initMarker().setText(hostile && i == 3 ? 999 : 1);
    }
    auto words = capnp::messageToFlatArray(m);
    return std::string(words.asChars().begin(), words.asChars().size());
  };

  for (bool hostile : {true, false}) {
    for (bool damage_next : {false, true}) {
      SCOPED_TRACE(std::string(hostile ? "dropped" : "whole") + " chunk before a " +
                   (damage_next ? "damaged" : "good") + " one");
      std::string bytes = written.substr(0, events_at);  // preamble and header chunk.
      const std::string payload = markers(hostile);
      frame::append_frame(bytes, frame::ChunkKind::kEvents, payload, 50,
                          static_cast<uint32_t>(payload.size()));
      const uint64_t next_at = bytes.size();
      bytes += big_chunk;
      if (damage_next) bytes[next_at + frame::kFrameHeaderBytes + big_chunk.size() / 2] ^= 0x20;
      std::vector<Event> expected;
      for (uint64_t i = 0; i < (hostile ? 3u : 50u); ++i)
        expected.push_back(build::marker(11 + i, "m"));
      if (!damage_next) expected.insert(expected.end(), big.begin(), big.end());
      for (const ReadResult& r : read_both_ways(bytes, "lookahead.fltr")) {
        EXPECT_EQ(r.events, expected) << issues_text(*r.reader);
        std::vector<uint64_t> damaged_at;
        for (const TraceIssue& i : r.reader->issues()) {
          if (i.kind == Kind::kDamagedChunk) damaged_at.push_back(i.offset);
        }
        std::vector<uint64_t> expected_at;
        if (hostile) expected_at.push_back(events_at);
        if (damage_next) expected_at.push_back(next_at);
        EXPECT_EQ(damaged_at, expected_at) << issues_text(*r.reader);
        if (damage_next) {
          bool named = false;
          for (const TraceIssue& i : r.reader->issues()) {
            if (i.offset == next_at && i.kind == Kind::kDamagedChunk) {
              EXPECT_EQ(i.chunk_index, 2u);
              EXPECT_NE(i.message.find("checksum"), std::string::npos) << i.message;
              named = true;
            }
          }
          EXPECT_TRUE(named);
        }
      }
    }
  }
}

bool is_subsequence(const std::vector<Event>& part, const std::vector<Event>& whole) {
  std::size_t j = 0;
  for (const Event& e : part) {
    while (j < whole.size() && !(whole[j] == e)) ++j;
    if (j == whole.size()) return false;
    ++j;
  }
  return true;
}

TEST(DamagedTrace, RandomDamageNeverCrashesAndNeverInventsEvents) {
  std::mt19937_64 rng(20261122);
  const SmallTrace traces[] = {make_small_trace(Compression::kNone, false),
                               make_small_trace(Compression::kZstd, false),
                               make_small_trace(Compression::kNone, true)};
  constexpr int kIterations = 3000;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    const SmallTrace& t = traces[iteration % 3];
    std::string damaged = t.bytes;
    switch (rng() % 4) {
      case 0:  // a few flipped bytes anywhere, preamble included.
        for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
          damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
        }
        break;
      case 1: {  // a run of garbage.
        std::size_t at = rng() % damaged.size();
        std::size_t len = 1 + rng() % 64;
        for (std::size_t i = at; i < std::min(damaged.size(), at + len); ++i) {
          damaged[i] = static_cast<char>(rng());
        }
        break;
      }
      case 2: {  // a duplicated or dropped region (misaligned frames).
        std::size_t at = rng() % damaged.size();
        std::size_t len = 1 + rng() % 100;
        if (rng() % 2) {
          damaged.insert(at, damaged.substr(at, len));
        } else {
          damaged.erase(at, len);
        }
        break;
      }
      case 3: {  // pure garbage, sometimes behind a valid preamble.
        std::string garbage(rng() % 2000, '\0');
        for (char& c : garbage) c = static_cast<char>(rng());
        damaged = (rng() % 2 ? frame::preamble(kFormatVersion) : std::string()) + garbage;
        break;
      }
    }
    auto r = read_all(damaged);
    ASSERT_TRUE(is_subsequence(r.events, t.events))
        << "iteration " << iteration << " read an event that was never written";
    for (const TraceIssue& i : r.reader->issues()) {
      ASSERT_LE(i.offset, damaged.size()) << "iteration " << iteration;
    }
  }
}

TEST(UnfinishedTrace, WriterWithoutFinishReadsWithMissingFooter) {
  std::string bytes;
  std::vector<Event> events = {build::marker(1, "one"), build::marker(2, "two"),
                               build::marker(3, "three")};
  std::string at_sigkill;
  {
    WriterOptions options;
    options.chunk_events_max = 2;
    auto writer = memory_writer(&bytes, TraceHeader{}, options);
    for (const Event& e : events) writer->append(e);
    at_sigkill = bytes;  // SIGKILL now: only the first whole chunk is on disk.
  }                      // destroyed without finish(): whole chunks, no footer.
  for (const auto& [image, expected_count] :
       {std::pair{at_sigkill, std::size_t{2}}, std::pair{bytes, std::size_t{3}}}) {
    auto r = read_all(image);
    EXPECT_TRUE(r.reader->ok());
    EXPECT_EQ(r.events, std::vector<Event>(events.begin(), events.begin() + expected_count));
    ASSERT_EQ(r.reader->issues().size(), 1u) << issues_text(*r.reader);
    EXPECT_EQ(r.reader->issues()[0].kind, Kind::kMissingFooter);
    EXPECT_EQ(r.reader->issues()[0].offset, image.size());
    EXPECT_FALSE(r.reader->footer().has_value());
    EXPECT_FALSE(r.reader->clean());
  }
}

// A message that passes the frame checksum but is not a valid Chunk: capnp's kj::Exception must
// be caught at the chunk boundary and the next chunk still read.
TEST(HostileTrace, UndecodableChunksAreReportedAndSkipped) {
  const std::vector<Event> good = {build::marker(7, "after")};
  std::string bytes = frame::preamble(kFormatVersion);
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<wire::Header>().setFormatVersion(kFormatVersion);
    auto words = capnp::messageToFlatArray(m);
    auto raw = words.asChars();
    frame::append_frame(bytes, frame::ChunkKind::kHeader, {raw.begin(), raw.size()}, 0,
                        static_cast<uint32_t>(raw.size()));
  }
  std::vector<uint64_t> hostile_starts;
  auto add_hostile = [&](std::string payload, uint32_t event_count) {
    hostile_starts.push_back(bytes.size());
    frame::append_frame(bytes, frame::ChunkKind::kEvents, payload, event_count,
                        static_cast<uint32_t>(payload.size()));
  };
  // 1. Words of garbage: a segment table claiming a huge segment.
  add_hostile(std::string("\x00\x00\x00\x00\xff\xff\xff\x7f", 8) + std::string(8, '\x01'), 1);
  // 2. A root pointer pointing far outside the message.
  add_hostile(std::string("\x00\x00\x00\x00\x02\x00\x00\x00", 8) +
                  std::string("\xfc\xff\xff\x7f\x01\x00\x01\x00", 8) + std::string(8, '\0'),
              0);
  // 3. A well-formed Chunk whose event refers to a string past the table.
  {
    capnp::MallocMessageBuilder m;
    auto chunk = m.initRoot<wire::Chunk>();
    chunk.initStrings(1);
    chunk.initEvents(1)[0].getBody().initMarker().setText(12345);
    auto words = capnp::messageToFlatArray(m);
    add_hostile(std::string(words.asChars().begin(), words.asChars().size()), 1);
  }
  // 4. A cdhash of the wrong size.
  {
    capnp::MallocMessageBuilder m;
    auto chunk = m.initRoot<wire::Chunk>();
    chunk.initStrings(1);
    auto v = chunk.initEvents(1)[0].getBody().initVerdict();
    v.initIdentity().initCdhash(3);
    auto words = capnp::messageToFlatArray(m);
    add_hostile(std::string(words.asChars().begin(), words.asChars().size()), 1);
  }
  // 5. A frame that claims more bytes than the reader allows (with a valid header check).
  {
    hostile_starts.push_back(bytes.size());
    std::string payload(64, '\0');
    frame::append_frame(bytes, frame::ChunkKind::kEvents, payload, 1, 1u << 30);
  }
  // Then a good chunk written by the real writer (its frames after the preamble).
  std::string tail = write_to_bytes(TraceHeader{}, good);
  {
    // Skip the tail's preamble and header chunk; keep its event chunk (no footer: the digest
    // would not match the hostile chunks' absence anyway).
    auto h = frame::decode(reinterpret_cast<const unsigned char*>(tail.data()) + 16);
    uint64_t events_at = 16 + frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
    auto e = frame::decode(reinterpret_cast<const unsigned char*>(tail.data()) + events_at);
    bytes += tail.substr(events_at, frame::kFrameHeaderBytes + frame::padded8(e.stored_bytes));
  }
  ReaderOptions options;
  options.chunk_bytes_max = 1u << 20;
  auto r = read_all(bytes, options);
  EXPECT_EQ(r.events, good);
  std::vector<uint64_t> damaged_at;
  for (const TraceIssue& i : r.reader->issues()) {
    if (i.kind == Kind::kDamagedChunk) damaged_at.push_back(i.offset);
  }
  EXPECT_EQ(damaged_at, hostile_starts) << issues_text(*r.reader);
  EXPECT_NE(find_issue(*r.reader, Kind::kMissingFooter), nullptr);
}

TEST(HostileTrace, TraversalLimitStopsAmplificationWithoutCrashing) {
  std::vector<Event> events(200, build::flow(1, build::tcp_flow(1, build::token(5, 5))));
  auto bytes = write_to_bytes(TraceHeader{}, events);
  ReaderOptions options;
  options.traversal_limit_words = 64;  // far too small for a chunk of 200 flows.
  auto r = read_all(bytes, options);
  EXPECT_LT(r.events.size(), events.size());
  ASSERT_NE(find_issue(*r.reader, Kind::kDamagedChunk), nullptr);
  EXPECT_NE(find_issue(*r.reader, Kind::kDamagedChunk)->message.find("limit"), std::string::npos)
      << find_issue(*r.reader, Kind::kDamagedChunk)->message;
}

TEST(HostileTrace, FooterDigestMismatchIsReported) {
  std::vector<Event> events = {build::marker(1, "a"), build::marker(2, "b")};
  auto bytes = write_to_bytes(TraceHeader{}, events);
  // Rewrite the footer with a wrong digest (valid frame, so only the digest check can see it).
  auto h = frame::decode(reinterpret_cast<const unsigned char*>(bytes.data()) + 16);
  uint64_t at = 16 + frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
  auto e = frame::decode(reinterpret_cast<const unsigned char*>(bytes.data()) + at);
  at += frame::kFrameHeaderBytes + frame::padded8(e.stored_bytes);
  bytes.resize(at);
  capnp::MallocMessageBuilder m;
  auto footer = m.initRoot<wire::Footer>();
  footer.setEventCount(2);
  footer.setDigest(12345);
  footer.setComplete(true);
  auto words = capnp::messageToFlatArray(m);
  frame::append_frame(bytes, frame::ChunkKind::kFooter,
                      {words.asChars().begin(), words.asChars().size()}, 0,
                      static_cast<uint32_t>(words.asChars().size()));
  ReaderOptions verify;
  verify.verify_digest = true;
  auto r = read_all(bytes, verify);
  EXPECT_EQ(r.events, events);
  const TraceIssue* issue = find_issue(*r.reader, Kind::kDamagedChunk);
  ASSERT_NE(issue, nullptr);
  EXPECT_EQ(issue->offset, at);
  EXPECT_NE(issue->message.find("digest"), std::string::npos);
  // By default only the event count is compared, and it matches.
  EXPECT_TRUE(read_all(bytes).reader->clean());
}

// Frames are independent, so a whole chunk cut out cleanly passes every checksum; the footer's
// event count (always compared) still gives it away.
TEST(HostileTrace, AWholeMissingChunkIsReportedAtTheFooter) {
  const SmallTrace t = make_small_trace(Compression::kNone, false);
  // Drop the second event chunk (frame_starts[0] is the header chunk).
  std::string bytes = t.bytes.substr(0, t.frame_starts[2]) + t.bytes.substr(t.frame_starts[3]);
  auto r = read_all(bytes);
  EXPECT_EQ(r.events.size(), t.events.size() - 3);
  const TraceIssue* issue = find_issue(*r.reader, Kind::kDamagedChunk);
  ASSERT_NE(issue, nullptr) << issues_text(*r.reader);
  EXPECT_EQ(issue->offset, t.frame_starts.back() - (t.frame_starts[3] - t.frame_starts[2]));
  EXPECT_NE(issue->message.find("missing"), std::string::npos) << issue->message;
  EXPECT_FALSE(r.reader->clean());
}

}  // namespace
}  // namespace flowid::trace
