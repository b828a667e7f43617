// Every event and header written by the trace codec reads back exactly (operator==), whatever
// the chunking, compression and packing; footer counts and digest agree with the events.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "harness/builders.h"
#include "tests/event_gen.h"
#include "trace/frame.h"
#include "trace/trace.h"

namespace flowid::trace {
namespace {

struct ReadBack {
  std::vector<Event> events;
  std::unique_ptr<TraceReader> reader;
};

ReadBack read_all(std::unique_ptr<TraceReader> reader) {
  ReadBack out;
  // One Event reused for every next(): the reader must not leave stale fields behind when the
  // kind changes or stays the same.
  Event e;
  while (reader->next(e)) out.events.push_back(e);
  out.reader = std::move(reader);
  return out;
}

TraceFooter expected_footer(const std::vector<Event>& events, uint64_t skipped_records) {
  TraceFooter f;
  f.digest = kDigestSeed;
  for (const Event& e : events) {
    ++f.event_counts[e.body.index()];
    f.digest = event_digest(f.digest, e);
  }
  f.event_count = events.size();
  f.complete = true;
  f.skipped_records = skipped_records;
  return f;
}

rc::Gen<WriterOptions> writer_options() {
  return rc::gen::exec([] {
    WriterOptions o;
    o.compression = *rc::gen::element(Compression::kNone, Compression::kZstd);
    o.chunk_events_max = *rc::gen::element(1u, 2u, 3u, 7u, 64u, 4096u);
    o.chunk_bytes_max = *rc::gen::element(1u << 20, 4096u, 512u);
    o.packed = *rc::gen::arbitrary<bool>();
    o.zstd_level = *rc::gen::inRange(1, 6);
    return o;
  });
}

RC_GTEST_PROP(TraceRoundTrip, AnyEventsAndHeaderRoundTripExactly, (const TraceHeader& header)) {
  const auto events = *rc::gen::container<std::vector<Event>>(gen::event());
  const WriterOptions options = *writer_options();
  const uint64_t skipped = *gen::integer<uint64_t>();

  std::string bytes;
  {
    auto writer = memory_writer(&bytes, header, options);
    for (const Event& e : events) writer->append(e);
    writer->finish(skipped);
    RC_ASSERT(writer->last_error().empty());
    RC_ASSERT(writer->bytes_written() == bytes.size());
  }

  ReaderOptions verify;
  verify.verify_digest = true;
  auto back = read_all(memory_reader(bytes, verify));
  RC_ASSERT(back.reader->ok());
  RC_ASSERT(back.reader->header() == header);
  RC_ASSERT(back.events == events);
  RC_ASSERT(back.reader->issues().empty());
  RC_ASSERT(back.reader->clean());
  RC_ASSERT(back.reader->footer().has_value());
  RC_ASSERT(*back.reader->footer() == expected_footer(events, skipped));
  RC_ASSERT(back.reader->stats().skipped_unknown_events == 0u);
  RC_ASSERT(back.reader->stats().file_bytes == bytes.size());
}

RC_GTEST_PROP(TraceRoundTrip, OrderedEventsRoundTripAcrossChunkSizes, ()) {
  const auto events = *gen::ordered_events();
  TraceHeader header;
  std::string reference;
  for (uint32_t chunk_events_max : {1u, 5u, 4096u}) {
    for (Compression compression : {Compression::kNone, Compression::kZstd}) {
      WriterOptions options;
      options.chunk_events_max = chunk_events_max;
      options.compression = compression;
      auto bytes = write_to_bytes(header, events, options);
      auto back = read_all(memory_reader(bytes));
      RC_ASSERT(back.events == events);
      RC_ASSERT(back.reader->clean());
      RC_ASSERT(back.reader->footer()->digest == expected_footer(events, 0).digest);
    }
  }
}

// Many events of every kind in one chunk, read with one reused Event: the reader's parked
// string buffers (handed between the kinds once a chunk is long) must never leak a stale value.
RC_GTEST_PROP(TraceRoundTrip, LongChunksOfMixedKindsRoundTripExactly, ()) {
  const auto events = *rc::gen::container<std::vector<Event>>(300, gen::event());
  WriterOptions options;
  options.chunk_events_max = *rc::gen::element(260u, 4096u);
  auto back = read_all(memory_reader(write_to_bytes(TraceHeader{}, events, options)));
  RC_ASSERT(back.events == events);
  RC_ASSERT(back.reader->clean());
}

// The chunk checksum is part of the format: these values must never change.
TEST(ChunkChecksum, ValuesArePinned) {
  std::string bytes;
  for (int i = 0; i < 5000; ++i) bytes.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  const std::pair<std::size_t, uint64_t> pinned[] = {
      {0, 0xd5d5db16379b6a1fULL},   {1, 0x9bc982ff33d18898ULL},    {3, 0x7f4f148ec7c8aebdULL},
      {4, 0x454010edeadf9bccULL},   {7, 0x3138274f614c2544ULL},    {8, 0x610382b26d292e1eULL},
      {15, 0xa07d448745abb729ULL},  {63, 0xf64363cc06cbbae6ULL},   {64, 0xb63176ff64cd96e1ULL},
      {65, 0x47b4b6a6e7036229ULL},  {127, 0xfbd989f1b80dfcc7ULL},  {128, 0xb66199d18ee86da1ULL},
      {129, 0xa628e3e0b9f8035fULL}, {1000, 0xe4e174bdd09a3174ULL}, {4101, 0x66216ab530f45cd0ULL},
  };
  for (const auto& [size, value] : pinned) {
    EXPECT_EQ(hash::bytes(frame::kPayloadCheckSeed, bytes.data(), size), value) << size << " bytes";
  }
}

// The reader hashes a long payload a few blocks at a time; any split gives the one-call value.
RC_GTEST_PROP(ChunkChecksum, BlocksFedInPiecesGiveTheSameHash, (const std::string& data)) {
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const std::string input = data + std::string(64, 'x');  // at least one whole block.
  const auto* p = reinterpret_cast<const unsigned char*>(input.data());
  const std::size_t blocks = input.size() / hash::kBlockBytes;
  hash::Blocks state(seed);
  std::size_t done = 0;
  while (done < blocks) {
    const std::size_t n = *rc::gen::inRange<std::size_t>(1, blocks - done + 1);
    state.feed(p + done * hash::kBlockBytes, n);
    done += n;
  }
  RC_ASSERT(state.finish(p + blocks * hash::kBlockBytes, input.size()) ==
            hash::bytes(seed, input.data(), input.size()));
}

// The digest is part of the format: a change to the canonical encoding must be deliberate.
TEST(EventDigest, IsStableForAKnownSequence) {
  auto token = build::token(744, 3);
  std::vector<Event> events = {
      build::spawn(10, token, build::token(1, 1),
                   build::platform_binary("/bin/ls", "com.apple.ls")),
      build::flow(20, build::tcp_flow(1, token)),
      build::lookup_event(30, build::lookup(1, LookupCall::kGuestByAuditToken,
                                            build::osstatus(codes::kOsStatusEperm))),
      build::verdict_event(40, build::verdict(1, Decision::kAllow, AttributionStatus::kVerified)),
      build::marker(50, "hello"),
      build::dropped(60, 3, "overrun"),
  };
  uint64_t digest = kDigestSeed;
  for (const Event& e : events) digest = event_digest(digest, e);
  // Any field change moves the digest.
  uint64_t changed = kDigestSeed;
  auto copy = events;
  std::get<Flow>(copy[1].body).remote_endpoint.port ^= 1;
  for (const Event& e : copy) changed = event_digest(changed, e);
  EXPECT_NE(digest, changed);
  // Order matters.
  uint64_t swapped = kDigestSeed;
  std::swap(copy[0], copy[1]);
  for (const Event& e : copy) swapped = event_digest(swapped, e);
  EXPECT_NE(changed, swapped);
  EXPECT_EQ(event_digest(kDigestSeed, build::marker(1, "x")),
            event_digest(kDigestSeed, build::marker(1, "x")));
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/flowid_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TraceFile, WritesAndMapsAFile) {
  const std::string path = temp_path("roundtrip.fltr");
  TraceHeader header;
  header.recorder = "trace_roundtrip_test";
  header.resolver_config = {{"strategy", "token"}, {"seed", "42"}};
  auto token = build::token(100, 1);
  std::vector<Event> events;
  for (uint64_t i = 0; i < 1000; ++i) {
    events.push_back(
        build::flow(i * 10, build::tcp_flow(i, token, "host" + std::to_string(i % 7))));
    events.push_back(build::lookup_event(i * 10 + 1, build::lookup(i, LookupCall::kCodePath)));
  }
  for (Compression compression : {Compression::kNone, Compression::kZstd}) {
    std::string error;
    WriterOptions options;
    options.compression = compression;
    options.chunk_events_max = 300;
    auto writer = open_writer(path, header, options, &error);
    ASSERT_NE(writer, nullptr) << error;
    for (const Event& e : events) writer->append(e);
    writer->finish();
    ASSERT_TRUE(writer->last_error().empty()) << writer->last_error();
    writer.reset();

    auto back = read_all(open_reader(path));
    EXPECT_TRUE(back.reader->clean());
    EXPECT_EQ(back.reader->header(), header);
    EXPECT_EQ(back.events, events);
    EXPECT_EQ(back.reader->stats().chunks_by_compression[static_cast<int>(compression)],
              1u + 7u + 1u);  // header, ceil(2000/300) event chunks, footer.
  }
  ::unlink(path.c_str());
}

// A long trace of every kind, read from the mapped file: chunks of hundreds of events whose next
// chunk is checksummed while they are read.
TEST(TraceFile, ALongMixedTraceReadsBackFromTheMappedFile) {
  const std::string path = temp_path("mixed.fltr");
  std::vector<Event> events;
  for (uint64_t i = 0; i < 3000; ++i) {
    const auto token =
        build::token(static_cast<int32_t>(100 + i % 50), static_cast<uint32_t>(i % 7));
    const auto image = build::developer_id_app(
        "/Applications/App" + std::to_string(i % 40) + ".app/Contents/MacOS/App",
        "com.vendor.app" + std::to_string(i % 40), "TEAM" + std::to_string(1000 + i % 9));
    switch (i % 6) {
      case 0:
        events.push_back(build::flow(
            i, build::tcp_flow(i, token, "host" + std::to_string(i % 11) + ".example.com")));
        break;
      case 1: {
        Lookup l = build::lookup(i, LookupCall::kSigningInformation);
        l.args.token = token;
        l.data.identity = image;
        events.push_back(build::lookup_event(i, l));
        break;
      }
      case 2: {
        Lookup l = build::lookup(i, LookupCall::kProcPidpath, build::posix(3));
        l.data.path = image.path;
        events.push_back(build::lookup_event(i, l));
        break;
      }
      case 3:
        events.push_back(build::verdict_event(
            i, build::verdict(i, Decision::kAllow, AttributionStatus::kVerified, image)));
        break;
      case 4:
        events.push_back(i % 12 == 4 ? build::spawn(i, token, build::token(1, 1), image)
                                     : build::marker(i, "a marker long enough to allocate " +
                                                            std::to_string(i)));
        break;
      default:
        events.push_back(build::verdict_event(
            i, build::verdict(i, Decision::kDrop, AttributionStatus::kUnknown)));
    }
  }
  std::string error;
  WriterOptions options;
  options.chunk_events_max = 700;
  auto writer = open_writer(path, TraceHeader{}, options, &error);
  ASSERT_NE(writer, nullptr) << error;
  for (const Event& e : events) writer->append(e);
  writer->finish();
  writer.reset();
  for (bool verify : {false, true}) {
    ReaderOptions ro;
    ro.verify_digest = verify;
    auto back = read_all(open_reader(path, ro));
    EXPECT_TRUE(back.reader->clean());
    EXPECT_EQ(back.events, events);
    EXPECT_EQ(back.reader->stats().chunk_count, 1u + 5u + 1u);
  }
  ::unlink(path.c_str());
}

TEST(TraceFile, FlushMakesAppendedEventsReadableWithoutFinish) {
  const std::string path = temp_path("flushed.fltr");
  std::string error;
  auto writer = open_writer(path, TraceHeader{}, WriterOptions{}, &error);
  ASSERT_NE(writer, nullptr) << error;
  std::vector<Event> events = {build::marker(1, "a"), build::marker(2, "b")};
  for (const Event& e : events) writer->append(e);
  writer->flush();
  // Read while the writer is still open, as after a SIGKILL right now.
  auto back = read_all(memory_reader(slurp(path)));
  EXPECT_EQ(back.events, events);
  ASSERT_EQ(back.reader->issues().size(), 1u);
  EXPECT_EQ(back.reader->issues()[0].kind, TraceIssue::Kind::kMissingFooter);
  EXPECT_FALSE(back.reader->clean());
  writer->finish();
  ::unlink(path.c_str());
}

TEST(TraceFile, MissingFileIsNotATrace) {
  auto reader = open_reader(temp_path("does-not-exist"));
  EXPECT_FALSE(reader->ok());
  ASSERT_EQ(reader->issues().size(), 1u);
  EXPECT_EQ(reader->issues()[0].kind, TraceIssue::Kind::kNotATrace);
  EXPECT_NE(describe(reader->issues()[0], "x.fltr").find("x.fltr: at byte 0"), std::string::npos);
}

TEST(TraceReader, UnalignedMemoryIsReadCorrectly) {
  std::vector<Event> events = {build::marker(5, "unaligned")};
  auto bytes = write_to_bytes(TraceHeader{}, events);
  std::string shifted = "x" + bytes;
  auto back = read_all(memory_reader(std::string_view(shifted).substr(1)));
  EXPECT_EQ(back.events, events);
  EXPECT_TRUE(back.reader->clean());
}

TEST(TraceReader, StatsCountPayloadBytes) {
  std::vector<Event> events(100, build::marker(5, "stats"));
  auto bytes = write_to_bytes(TraceHeader{}, events);
  auto back = read_all(memory_reader(bytes));
  const ReadStats& s = back.reader->stats();
  EXPECT_EQ(s.chunk_count, 3u);
  EXPECT_GT(s.raw_payload_bytes, 0u);
  EXPECT_EQ(s.raw_payload_bytes, s.stored_payload_bytes);  // uncompressed, unpacked.
  EXPECT_LE(s.stored_payload_bytes + 16 + 3 * 32, bytes.size());
}

}  // namespace
}  // namespace flowid::trace

namespace flowid::trace {
namespace {

// chunk_bytes_max bounds the writer's memory: no chunk message grows past it by more than the
// one event that crossed it.
TEST(TraceWriter, ChunksStayWithinChunkBytesMax) {
  WriterOptions options;
  options.chunk_bytes_max = 4096;
  std::vector<Event> events;
  auto image = build::developer_id_app("/Applications/Some App.app/Contents/MacOS/Some App",
                                       "com.example.someapp", "ABCDE12345");
  for (uint64_t i = 0; i < 500; ++i) {
    Lookup l = build::lookup(i, LookupCall::kSigningInformation);
    l.data.identity = image;
    l.data.identity->path += std::to_string(i);  // distinct strings: nothing shared.
    l.args.token = build::token(static_cast<int32_t>(i), 1);
    events.push_back(build::lookup_event(i, l));
    events.push_back(
        build::flow(i, build::tcp_flow(i, build::token(1, 1), "h" + std::to_string(i))));
  }
  auto bytes = write_to_bytes(TraceHeader{}, events, options);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t event_chunks = 0;
  for (uint64_t at = 16; at < bytes.size();) {
    auto h = frame::decode(data + at);
    at += frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
    if (h.kind != static_cast<uint8_t>(frame::ChunkKind::kEvents)) continue;
    ++event_chunks;
    EXPECT_LE(h.raw_bytes, options.chunk_bytes_max + 512u) << "chunk " << event_chunks;
  }
  EXPECT_GT(event_chunks, 10u);
  auto back = read_all(memory_reader(bytes));
  EXPECT_EQ(back.events, events);
}

}  // namespace
}  // namespace flowid::trace
