// Schema evolution, for real: traces written with tests/data/newer_trace.capnp (the real schema
// plus a new event kind and new fields, as a later flowid would write them) are read by this
// flowid's reader. Unknown event kinds are skipped and counted, unknown fields ignored, a newer
// format version read best-effort, an unknown chunk kind skipped.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include "harness/builders.h"
#include "tests/data/newer_trace.capnp.h"
#include "trace/frame.h"
#include "trace/trace.h"

namespace flowid::trace {
namespace {

namespace nw = newer_wire;

std::string flat(capnp::MessageBuilder& m) {
  auto words = capnp::messageToFlatArray(m);
  return std::string(words.asChars().begin(), words.asChars().size());
}

void add_frame(std::string& out, frame::ChunkKind kind, capnp::MessageBuilder& m,
               uint32_t event_count) {
  std::string payload = flat(m);
  frame::append_frame(out, kind, payload, event_count, static_cast<uint32_t>(payload.size()));
}

kj::ArrayPtr<const kj::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// The schema's UUID encoding: two big-endian halves.
uint64_t uuid_half(const Uuid& u, int half) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | u[half * 8 + i];
  return v;
}

// What a newer flowid writes: a marker with a severity, a future event, a flow with a QUIC
// connection id, another future event, a verdict whose identity has launch constraints.
struct NewerTrace {
  std::string bytes;
  std::vector<Event> known_events;  // what this reader should see.
  TraceHeader header;
};

NewerTrace make_newer_trace(uint32_t format_version, bool with_future_events,
                            bool with_index_chunk) {
  NewerTrace t;
  t.header.format_version = format_version;
  t.header.recorder = "flowid-record 9.0";
  t.header.host = "future-host";
  t.header.clock = "CLOCK_MONOTONIC";
  t.header.caller.description = "seccomp supervisor";
  t.header.resolver_config = {{"strategy", "token+recheck"}};
  t.bytes = frame::preamble(format_version);
  {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<nw::Header>();
    h.setFormatVersion(format_version);
    h.setRecorder(bytes_of(t.header.recorder));
    h.setHost(bytes_of(t.header.host));
    h.setClock(bytes_of(t.header.clock));
    h.setTimeUnitNs(1);
    h.initCaller().setDescription(bytes_of(t.header.caller.description));
    auto kv = h.initResolverConfig(1);
    kv[0].setKey(bytes_of("strategy"));
    kv[0].setValue(bytes_of("token+recheck"));
    h.setHostUuid(bytes_of("0123456789abcdef"));
    add_frame(t.bytes, frame::ChunkKind::kHeader, m, 0);
  }
  if (with_index_chunk) {
    // A chunk kind this reader does not know (say, a seek index): skipped.
    capnp::MallocMessageBuilder m;
    m.initRoot<nw::Marker>().setSeverity(1);
    std::string payload = flat(m);
    frame::append_frame(t.bytes, static_cast<frame::ChunkKind>(9), payload, 0,
                        static_cast<uint32_t>(payload.size()));
  }

  auto image = build::developer_id_app("/Applications/Zoom.app/zoom", "us.zoom.xos", "BJ4HAAB9B3");
  auto flow = build::tcp_flow(77, build::token(900, 4), "zoom.us");
  capnp::MallocMessageBuilder m;
  auto chunk = m.initRoot<nw::Chunk>();
  chunk.setBaseTimeNs(1000);
  // Strings: 0 empty, then what the events use.
  const std::vector<std::string> strings = {"",
                                            "hello from the future",
                                            "a note the old reader never sees",
                                            flow.source_app_identifier,
                                            flow.hostname,
                                            flow.remote_hostname,
                                            flow.local_endpoint.address,
                                            flow.remote_endpoint.address,
                                            image.path,
                                            image.signing_id,
                                            image.team_id,
                                            "rule:zoom",
                                            "launch-constraint-text",
                                            flow.source_app_version,
                                            flow.source_app_unique_identifier};
  auto index_of = [&](const std::string& s) -> uint32_t {
    for (uint32_t i = 0; i < strings.size(); ++i) {
      if (strings[i] == s) return i;
    }
    ADD_FAILURE() << "string not in table: " << s;
    return 0;
  };
  const int event_count = with_future_events ? 5 : 3;
  auto events = chunk.initEvents(event_count);
  int slot = 0;
  uint64_t time = 1000;
  {
    auto e = events[slot++];
    e.setTimeDeltaNs(0);
    auto marker = e.getBody().initMarker();
    marker.setText(1);
    marker.setSeverity(3);
    t.known_events.push_back(build::marker(1000, "hello from the future"));
  }
  if (with_future_events) {
    auto e = events[slot++];
    e.setTimeDeltaNs(5);
    time += 5;
    auto future = e.getBody().initFutureEvent();
    future.setAnswer(42);
    future.setNote(2);
    future.initNested(2)[1].setPid(77);
  }
  {
    auto e = events[slot++];
    e.setTimeDeltaNs(10);
    time += 10;
    auto f = e.getBody().initFlow();
    f.setFlowId(flow.flow_id);
    f.getIdentifier().setHi(uuid_half(flow.identifier, 0));
    f.getIdentifier().setLo(uuid_half(flow.identifier, 1));
    f.getProcUuid().setHi(uuid_half(flow.proc_uuid, 0));
    f.getProcUuid().setLo(uuid_half(flow.proc_uuid, 1));
    f.getEprocUuid().setHi(uuid_half(flow.eproc_uuid, 0));
    f.getEprocUuid().setLo(uuid_half(flow.eproc_uuid, 1));
    auto set_token = [](auto g, const FlowToken& ft) {
      g.setPresent(ft.present);
      g.setSizeBytes(ft.size_bytes);
      g.setAuid(ft.token.words[0]);
      g.setEuid(ft.token.words[1]);
      g.setEgid(ft.token.words[2]);
      g.setRuid(ft.token.words[3]);
      g.setRgid(ft.token.words[4]);
      g.setPid(ft.token.words[5]);
      g.setAsid(ft.token.words[6]);
      g.setPidversion(ft.token.words[7]);
    };
    set_token(f.getSourceAppAuditToken(), flow.source_app_audit_token);
    set_token(f.getSourceProcessAuditToken(), flow.source_process_audit_token);
    f.setSourceAppIdentifier(index_of(flow.source_app_identifier));
    f.setSourceAppVersion(index_of(flow.source_app_version));
    f.setSourceAppUniqueIdentifier(index_of(flow.source_app_unique_identifier));
    f.setHostname(index_of(flow.hostname));
    f.setRemoteHostname(index_of(flow.remote_hostname));
    f.getLocalEndpoint().setAddress(index_of(flow.local_endpoint.address));
    f.getLocalEndpoint().setPort(flow.local_endpoint.port);
    f.getRemoteEndpoint().setAddress(index_of(flow.remote_endpoint.address));
    f.getRemoteEndpoint().setPort(flow.remote_endpoint.port);
    f.setDirection(static_cast<nw::FlowDirection>(flow.direction));
    f.setProtocol(flow.protocol);
    f.setFamily(flow.family);
    f.setType(flow.type);
    f.setProcPid(flow.proc_pid);
    f.setEprocPid(flow.eproc_pid);
    f.setInBytes(flow.in_bytes);
    f.setOutBytes(flow.out_bytes);
    f.setQuicConnectionId(bytes_of("quic-cid-0001"));
    f.getFlowLabel().setA(0xABCD);
    f.getFlowLabel().setB("new text field");
    t.known_events.push_back(build::flow(time, flow));
  }
  if (with_future_events) {
    auto e = events[slot++];
    e.setTimeDeltaNs(1);
    time += 1;
    e.getBody().initFutureEvent().setAnswer(43);
  }
  {
    auto e = events[slot++];
    e.setTimeDeltaNs(100);
    time += 100;
    auto v = e.getBody().initVerdict();
    v.setFlowId(77);
    v.setDecision(nw::Decision::DROP);
    v.setStatus(nw::AttributionStatus::VERIFIED);
    auto id = v.initIdentity();
    id.setPath(index_of(image.path));
    id.setCdhash(kj::ArrayPtr<const kj::byte>(image.cdhash->data(), image.cdhash->size()));
    id.setSigningId(index_of(image.signing_id));
    id.setTeamId(index_of(image.team_id));
    id.setSignature(static_cast<nw::SignatureKind>(image.signature));
    id.setHardenedRuntime(image.hardened_runtime);
    id.setPlatform(image.platform);
    id.setLaunchConstraints(index_of("launch-constraint-text"));
    v.setLabel(nw::VerdictLabel::VERIFIED);
    v.setRule(index_of("rule:zoom"));
    Verdict expected = build::verdict(77, Decision::kDrop, AttributionStatus::kVerified, image);
    expected.label = VerdictLabel::kVerified;
    expected.rule = "rule:zoom";
    t.known_events.push_back(build::verdict_event(time, expected));
  }
  auto table = chunk.initStrings(static_cast<unsigned>(strings.size()));
  for (unsigned i = 0; i < strings.size(); ++i) table.set(i, bytes_of(strings[i]));
  add_frame(t.bytes, frame::ChunkKind::kEvents, m, static_cast<uint32_t>(event_count));

  {
    capnp::MallocMessageBuilder fm;
    auto footer = fm.initRoot<nw::Footer>();
    auto counts = footer.initEventCounts(kEventKindCount + 1);  // the newer writer has 10 kinds.
    uint64_t digest = kDigestSeed;
    for (const Event& e : t.known_events) {
      counts.set(e.body.index(), counts[e.body.index()] + 1);
      digest = event_digest(digest, e);
    }
    if (with_future_events) counts.set(kEventKindCount, 2);
    footer.setEventCount(static_cast<uint64_t>(event_count));
    // A newer writer's digest covers its future events too, which this reader cannot fold in;
    // without them it is exactly ours.
    footer.setDigest(with_future_events ? 0x5eed : digest);
    footer.setComplete(true);
    add_frame(t.bytes, frame::ChunkKind::kFooter, fm, 0);
  }
  return t;
}

std::vector<Event> read_events(TraceReader& reader) {
  std::vector<Event> out;
  Event e;
  while (reader.next(e)) out.push_back(e);
  return out;
}

TEST(TraceEvolution, UnknownEventKindsAreSkippedAndCounted) {
  NewerTrace t = make_newer_trace(kFormatVersion, /*with_future_events=*/true, false);
  auto reader = memory_reader(t.bytes);
  ASSERT_TRUE(reader->ok());
  EXPECT_EQ(reader->header(), t.header);
  EXPECT_EQ(read_events(*reader), t.known_events);
  EXPECT_EQ(reader->stats().skipped_unknown_events, 2u);
  EXPECT_TRUE(reader->issues().empty()) << describe(reader->issues()[0], "newer");
  ASSERT_TRUE(reader->footer().has_value());
  EXPECT_EQ(reader->footer()->event_count, 5u);
  EXPECT_EQ(reader->footer()->event_counts[static_cast<int>(EventKind::kFlow)], 1u);
  EXPECT_TRUE(reader->clean());
}

TEST(TraceEvolution, UnknownFieldsAreIgnoredAndTheDigestStillMatches) {
  NewerTrace t = make_newer_trace(kFormatVersion, /*with_future_events=*/false, false);
  ReaderOptions verify;
  verify.verify_digest = true;
  auto reader = memory_reader(t.bytes, verify);
  EXPECT_EQ(reader->header(), t.header);
  EXPECT_EQ(read_events(*reader), t.known_events);
  EXPECT_EQ(reader->stats().skipped_unknown_events, 0u);
  EXPECT_TRUE(reader->clean()) << (reader->issues().empty()
                                       ? std::string()
                                       : describe(reader->issues()[0], "newer"));
}

TEST(TraceEvolution, NewerFormatVersionIsReadBestEffort) {
  NewerTrace t = make_newer_trace(kFormatVersion + 1, true, /*with_index_chunk=*/true);
  auto reader = memory_reader(t.bytes);
  ASSERT_TRUE(reader->ok());
  EXPECT_EQ(read_events(*reader), t.known_events);
  ASSERT_EQ(reader->issues().size(), 1u);
  EXPECT_EQ(reader->issues()[0].kind, TraceIssue::Kind::kNewerFormat);
  EXPECT_EQ(reader->issues()[0].offset, 8u) << "the preamble's version field";
  EXPECT_NE(describe(reader->issues()[0], "new.fltr").find("new.fltr: at byte 8"),
            std::string::npos);
  EXPECT_EQ(reader->header().format_version, kFormatVersion + 1);
  EXPECT_TRUE(reader->clean()) << "a newer version is not damage";
}

// The other direction: what this flowid writes, read with the newer schema, shows the new fields
// at their defaults (what a newer reader relies on to read our traces).
TEST(TraceEvolution, OlderTracesReadWithTheNewerSchemaShowDefaults) {
  Flow flow = build::tcp_flow(5, build::token(10, 2));
  auto bytes = write_to_bytes(TraceHeader{}, {build::flow(3, flow)});
  auto h = frame::decode(reinterpret_cast<const unsigned char*>(bytes.data()) + 16);
  uint64_t at = 16 + frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
  auto e = frame::decode(reinterpret_cast<const unsigned char*>(bytes.data()) + at);
  kj::ArrayPtr<const capnp::word> words(
      reinterpret_cast<const capnp::word*>(bytes.data() + at + frame::kFrameHeaderBytes),
      e.raw_bytes / 8);
  capnp::FlatArrayMessageReader message(words);
  auto chunk = message.getRoot<nw::Chunk>();
  ASSERT_EQ(chunk.getEvents().size(), 1u);
  auto f = chunk.getEvents()[0].getBody().getFlow();
  EXPECT_EQ(f.getFlowId(), 5u);
  EXPECT_FALSE(f.hasQuicConnectionId());
  EXPECT_EQ(f.getFlowLabel().getA(), 0u);
}

}  // namespace
}  // namespace flowid::trace
