// Where a trace's bytes come from, as the world serves them: a file that shrinks while it is read
// (a recorder rewriting the path), a device that never ends (/dev/zero), a FIFO whose writer
// waits for the reader, stdin. The reader must survive each, read at most about a chunk ahead,
// and report what it could not read as a truncation. Every test synchronises by handshake.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "harness/builders.h"
#include "tests/cli_runner.h"
#include "trace/frame.h"
#include "trace/trace.h"

namespace flowid::trace {
namespace {

using Kind = TraceIssue::Kind;

// `count` flows, lookups and verdicts, all distinct (flow ids and host names numbered).
std::vector<Event> many_events(uint64_t count) {
  std::vector<Event> events;
  events.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const auto token = build::token(static_cast<int32_t>(1000 + i % 50), 1);
    switch (i % 3) {
      case 0:
        events.push_back(
            build::flow(i * 10, build::tcp_flow(i, token, fmt::format("h{}.example", i))));
        break;
      case 1:
        events.push_back(
            build::lookup_event(i * 10, build::lookup(i, LookupCall::kGuestByAuditToken)));
        break;
      default:
        events.push_back(build::marker(i * 10, fmt::format("marker {}", i)));
    }
  }
  return events;
}

struct Written {
  std::string bytes;
  std::vector<uint64_t> frame_starts;  // every frame's offset, header chunk first.
};

Written write_trace(const std::vector<Event>& events, uint32_t chunk_events) {
  Written w;
  WriterOptions options;
  options.chunk_events_max = chunk_events;
  auto writer = memory_writer(&w.bytes, TraceHeader{}, options);
  for (const Event& e : events) writer->append(e);
  writer->finish();
  for (uint64_t at = frame::kPreambleBytes; at < w.bytes.size();) {
    w.frame_starts.push_back(at);
    auto h = frame::decode(reinterpret_cast<const unsigned char*>(w.bytes.data()) + at);
    at += frame::kFrameHeaderBytes + frame::padded8(h.stored_bytes);
  }
  return w;
}

bool has_issue(const TraceReader& reader, Kind kind) {
  for (const auto& issue : reader.issues()) {
    if (issue.kind == kind) return true;
  }
  return false;
}

class SourceTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  flowid::testing::TempDir dir_;
};

// The reader has read into the first event chunk when the file is cut to a few chunks: what
// follows must be reported as a truncation, never a SIGBUS, and every event read is right.
TEST_F(SourceTest, AFileThatShrinksWhileItIsReadEndsInATruncation) {
  const auto events = many_events(40'000);
  const Written w = write_trace(events, 2000);  // ~20 chunks of ~200 KB.
  ASSERT_GT(w.frame_starts.size(), 12u);
  const std::string file = path("shrinking.fltr");
  std::ofstream(file, std::ios::binary) << w.bytes;

  auto reader = open_reader(file);
  ASSERT_TRUE(reader->ok());
  Event e;
  ASSERT_TRUE(reader->next(e));
  EXPECT_EQ(e, events[0]);
  // Cut inside the 10th chunk, far beyond what the reader has read so far.
  const uint64_t cut = w.frame_starts[10] + 100;
  ASSERT_EQ(::truncate(file.c_str(), static_cast<off_t>(cut)), 0);

  uint64_t read = 1;
  while (reader->next(e)) {
    ASSERT_LT(read, events.size());
    ASSERT_EQ(e, events[read]) << "event " << read;
    ++read;
  }
  EXPECT_EQ(read, 2000u * 9);  // chunks 1 .. 9 hold events; chunk 10 is cut.
  EXPECT_TRUE(has_issue(*reader, Kind::kTruncated));
  EXPECT_FALSE(reader->clean());
  bool said_shrank = false;
  for (const auto& issue : reader->issues()) {
    if (issue.kind == Kind::kTruncated) {
      EXPECT_EQ(issue.offset, w.frame_starts[10]);
      said_shrank = issue.message.find("shrank") != std::string::npos;
    }
  }
  EXPECT_TRUE(said_shrank);
}

// Not a trace: the magic is checked in the first bytes, so the device is not read on and on.
TEST_F(SourceTest, DevZeroIsNotATraceAndIsNotReadWhole) {
  auto reader = open_reader("/dev/zero");
  EXPECT_FALSE(reader->ok());
  ASSERT_FALSE(reader->issues().empty());
  EXPECT_EQ(reader->issues()[0].kind, Kind::kNotATrace);
  Event e;
  EXPECT_FALSE(reader->next(e));
}

TEST_F(SourceTest, TheCliRefusesDevZeroAtOnce) {
  for (const char* command : {"inspect", "stats", "replay"}) {
    auto r = flowid::testing::run_flowid({command, "/dev/zero"});
    EXPECT_EQ(r.exit_code, 3) << command << ": " << r.err;
    const std::string said = r.out + r.err;  // (replay reports in its case table.)
    EXPECT_NE(said.find("/dev/zero"), std::string::npos) << command << ": " << said;
    EXPECT_NE(said.find("not-a-trace"), std::string::npos) << command << ": " << said;
  }
}

// The writer of the FIFO sends one chunk at a time and waits until the reader has read its
// events before it sends the next: a reader that reads the whole stream before decoding
// anything never returns. It must stream, and read everything right.
TEST_F(SourceTest, AFifoIsReadChunkByChunk) {
  const auto events = many_events(5000);
  const Written w = write_trace(events, 1000);  // header, 5 event chunks, footer.
  ASSERT_EQ(w.frame_starts.size(), 7u);
  const std::string fifo = path("trace.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  std::mutex m;
  std::condition_variable cv;
  uint64_t events_read = 0;
  std::thread writer([&] {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto send = [&](uint64_t from, uint64_t to) {
      for (uint64_t at = from; at < to;) {
        ssize_t n = ::write(fd, w.bytes.data() + at, to - at);
        ASSERT_GT(n, 0);
        at += static_cast<uint64_t>(n);
      }
    };
    send(0, w.frame_starts[2]);  // preamble, header, first event chunk.
    for (std::size_t chunk = 2; chunk < w.frame_starts.size(); ++chunk) {
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return events_read >= (chunk - 1) * 1000; });
      }
      send(w.frame_starts[chunk],
           chunk + 1 < w.frame_starts.size() ? w.frame_starts[chunk + 1] : w.bytes.size());
    }
    ::close(fd);
  });

  auto reader = open_reader(fifo);
  ASSERT_TRUE(reader->ok());
  Event e;
  uint64_t read = 0;
  while (reader->next(e)) {
    ASSERT_EQ(e, events[read]);
    ++read;
    std::lock_guard lock(m);
    events_read = read;
    cv.notify_one();
  }
  writer.join();
  EXPECT_EQ(read, events.size());
  EXPECT_TRUE(reader->clean());
  EXPECT_EQ(reader->stats().file_bytes, w.bytes.size());
}

// A FIFO cut inside a chunk: a truncation, as for a file.
TEST_F(SourceTest, AFifoThatEndsInsideAChunkIsATruncation) {
  const auto events = many_events(3000);
  const Written w = write_trace(events, 1000);
  const std::string fifo = path("cut.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const uint64_t cut = w.frame_starts[3] + 40;
    for (uint64_t at = 0; at < cut;) {
      ssize_t n = ::write(fd, w.bytes.data() + at, cut - at);
      ASSERT_GT(n, 0);
      at += static_cast<uint64_t>(n);
    }
    ::close(fd);
  });
  auto reader = open_reader(fifo);
  Event e;
  uint64_t read = 0;
  while (reader->next(e)) ++read;
  writer.join();
  EXPECT_EQ(read, 2000u);
  EXPECT_TRUE(has_issue(*reader, Kind::kTruncated));
}

// `-` reads the trace from stdin (a pipe here), with the same output as the file.
TEST_F(SourceTest, TheCliReadsATraceFromStdin) {
  const Written w = write_trace(many_events(3000), 1000);
  const std::string file = path("stdin.fltr");
  std::ofstream(file, std::ios::binary) << w.bytes;
  auto from_file = flowid::testing::run_flowid({"inspect", "--json", file});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  auto from_stdin = flowid::testing::run_program(
      "/bin/sh", {"-c", fmt::format("cat '{}' | '{}' inspect --json -", file, FLOWID_CLI_PATH)});
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_file.out);
}

}  // namespace
}  // namespace flowid::trace
