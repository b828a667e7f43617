// Import speed and size ratio on a large generated eslogger capture.
//
// Generates a realistic eslogger JSON Lines file (fork / exec / exit of a churning process tree,
// full es_process_t objects with stat blocks, exec args, env and fds, plus event types the
// importer ignores), imports it into a zstd trace on one core, and reports MB/s of input and
// the input : trace size ratio. Usage: import_bench [--mb N] [--keep DIR]
// (default 256 MB in a temporary directory that is removed afterwards).
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "import/import.h"
#include "trace/trace.h"

namespace {

// splitmix64: a deterministic generator, so every run imports the same bytes.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

struct Proc {
  uint32_t pid;
  uint32_t pidversion;
  uint32_t uid;
  std::size_t image;
};

constexpr const char* kImages[] = {
    "/bin/zsh",
    "/bin/sh",
    "/usr/bin/curl",
    "/usr/bin/git",
    "/usr/bin/ssh",
    "/usr/libexec/xpcproxy",
    "/usr/sbin/ipconfig",
    "/usr/bin/python3",
    "/Applications/Safari.app/Contents/MacOS/Safari",
    "/System/Library/PrivateFrameworks/IntlPreferences.framework/Support/localizationswitcherd",
    "/Applications/Mullvad VPN.app/Contents/MacOS/Mullvad VPN",
    "/opt/homebrew/bin/node",
    "/usr/local/bin/helper",
    "/usr/libexec/nsurlsessiond",
    "/usr/libexec/trustd"};
constexpr std::size_t kImageCount = sizeof(kImages) / sizeof(kImages[0]);

std::string token(const Proc& p) {
  return fmt::format(
      R"({{"auid":{},"euid":{},"egid":20,"ruid":{},"rgid":20,"pid":{},"asid":100017,"pidversion":{}}})",
      p.uid, p.uid, p.uid, p.pid, p.pidversion);
}

std::string stat_block(uint64_t ino) {
  return fmt::format(
      R"({{"st_dev":16777234,"st_ino":{},"st_mode":33261,"st_nlink":1,"st_uid":0,"st_gid":0,"st_rdev":0,"st_size":{},"st_blocks":152,"st_blksize":4096,"st_flags":524320,"st_gen":0,"st_atimespec":"2025-07-09T06:27:14.000000000Z","st_mtimespec":"2025-07-09T06:27:14.000000000Z","st_ctimespec":"2025-07-09T06:27:14.000000000Z","st_birthtimespec":"2025-07-09T06:27:14.000000000Z"}})",
      ino, 100000 + ino % 5000000);
}

std::string process(const Proc& p, const Proc& parent) {
  const bool platform = p.image < 10;
  return fmt::format(
      R"({{"audit_token":{},"parent_audit_token":{},"responsible_audit_token":{},"ppid":{},"original_ppid":{},"group_id":{},"session_id":{},"executable":{{"path":"{}","path_truncated":false,"stat":{}}},"cdhash":"{:016X}{:016X}{:08X}","signing_id":"com.example.{}","team_id":{},"is_platform_binary":{},"is_es_client":false,"codesigning_flags":{},"cs_validation_category":{},"start_time":"2025-08-07T15:13:09.798115Z","tty":null}})",
      token(p), token(parent), token(parent), parent.pid, parent.pid, parent.pid, parent.pid,
      kImages[p.image], stat_block(p.image * 7919 + 11), p.image * 0x9e3779b97f4a7c15ULL,
      p.image + 1, static_cast<uint32_t>(p.image * 2654435761u), p.image,
      platform ? "null" : "\"ABCDE12345\"", platform ? "true" : "false",
      platform ? 637623057 : 570491649, platform ? 1 : 6);
}

// Writes about `target_bytes` of eslogger JSON Lines to `path`.
uint64_t generate(const std::string& path, uint64_t target_bytes) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return 0;
  Rng rng{0x1234};
  std::vector<Proc> live{{1, 100, 0, 5}};
  uint32_t next_pid = 200;
  uint32_t next_version = 1000;
  uint64_t written = 0;
  uint64_t seq = 0;
  uint64_t t_ns = 0;
  std::string line;
  while (written < target_bytes) {
    t_ns += 1000 + rng.below(2'000'000);
    const uint64_t s = t_ns / 1'000'000'000ULL;
    const std::string time = fmt::format("2025-08-07T{:02}:{:02}:{:02}.{:09}Z", 15 + s / 3600 % 8,
                                         s / 60 % 60, s % 60, t_ns % 1'000'000'000ULL);
    const uint64_t action = rng.below(100);
    ++seq;
    std::string head = fmt::format(
        R"({{"schema_version":1,"version":9,"time":"{}","mach_time":{},"seq_num":{},"global_seq_num":{},"thread":{{"thread_id":{}}},"action_type":1,"action":{{"result":{{"result_type":0,"result":{{"auth":0}}}}}},)",
        time, 400000000000 + t_ns / 41, seq, seq, 600000 + rng.below(50000));
    if (action < 35 || live.size() < 8) {  // fork
      Proc& parent = live[rng.below(live.size())];
      Proc child{next_pid, next_version++, parent.uid, parent.image};
      next_pid = next_pid >= 99998 ? 200 : next_pid + 1;
      line =
          head + fmt::format(R"("event_type":11,"process":{},"event":{{"fork":{{"child":{}}}}}}})",
                             process(parent, live[0]), process(child, parent));
      live.push_back(child);
    } else if (action < 70) {  // exec
      std::size_t i = 1 + rng.below(live.size() - 1);
      Proc before = live[i];
      Proc after{before.pid, next_version++, before.uid, rng.below(kImageCount)};
      std::string args =
          fmt::format(R"(["{}","--flag","value-{}"])", kImages[after.image], rng.below(1000));
      line =
          head +
          fmt::format(
              R"("event_type":9,"process":{},"event":{{"exec":{{"target":{},"args":{},"env":["PATH=/usr/bin:/bin:/usr/sbin:/sbin","HOME=/Users/me","USER=me","SHELL=/bin/zsh","TMPDIR=/var/folders/04/rh7vng8164sd599dwgzzq_kh0000gn/T/","XPC_FLAGS=0x0","LOGNAME=me","LANG=en_US.UTF-8"],"cwd":{{"path":"/Users/me","path_truncated":false,"stat":{}}},"fds":[{{"fd":0,"fdtype":1}},{{"fd":1,"fdtype":1}},{{"fd":2,"fdtype":1}}],"last_fd":2,"image_cputype":16777228,"image_cpusubtype":2,"script":null,"dyld_exec_path":"{}"}}}}}})",
              process(before, live[0]), process(after, live[0]), args, stat_block(42),
              kImages[after.image]);
      live[i] = after;
    } else if (action < 95 && live.size() > 8) {  // exit
      std::size_t i = 1 + rng.below(live.size() - 1);
      line =
          head + fmt::format(R"("event_type":15,"process":{},"event":{{"exit":{{"stat":{}}}}}}})",
                             process(live[i], live[0]), rng.below(2) * 256);
      live[i] = live.back();
      live.pop_back();
    } else {  // an event type the importer ignores (open)
      Proc& p = live[rng.below(live.size())];
      line =
          head +
          fmt::format(
              R"("event_type":10,"process":{},"event":{{"open":{{"fflag":1,"file":{{"path":"/etc/hosts","path_truncated":false,"stat":{}}}}}}}}})",
              process(p, live[0]), stat_block(99));
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out);
    written += line.size();
  }
  std::fclose(out);
  return written;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t megabytes = 256;
  std::string keep;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
      megabytes = std::stoull(argv[++i]);
    else if (std::strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
      keep = argv[++i];
    else {
      fmt::print(stderr, "usage: import_bench [--mb N] [--keep DIR]\n");
      return 2;
    }
  }
  namespace fs = std::filesystem;
  fs::path dir = keep.empty()
                     ? fs::temp_directory_path() / fmt::format("flowid-import-bench-{}", ::getpid())
                     : fs::path(keep);
  fs::create_directories(dir);
  const std::string input = (dir / "capture.jsonl").string();
  const std::string output = (dir / "capture.trace").string();

  const uint64_t input_bytes = generate(input, megabytes << 20);
  if (input_bytes == 0) {
    fmt::print(stderr, "import_bench: cannot write {}\n", input);
    return 1;
  }

  std::FILE* in = std::fopen(input.c_str(), "rb");
  std::vector<flowid::import::InputSpec> specs{{input, flowid::import::Format::kEslogger}};
  std::vector<flowid::import::ByteSource> sources{
      [in](char* buffer, std::size_t capacity, std::string*) -> int64_t {
        return static_cast<int64_t>(std::fread(buffer, 1, capacity, in));
      }};
  flowid::trace::WriterOptions writer_options;
  writer_options.compression = flowid::trace::Compression::kZstd;
  flowid::import::WriterFactory factory = [&](const flowid::trace::TraceHeader& header,
                                              std::string* error) {
    return flowid::trace::open_writer(output, header, writer_options, error);
  };
  flowid::import::ImportStats stats;
  const auto start = std::chrono::steady_clock::now();
  auto status = flowid::import::import_streams(specs, sources, {}, factory, stats);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fclose(in);
  if (status != flowid::import::ImportStatus::kOk) {
    fmt::print(stderr, "import_bench: import failed: {}\n", stats.error.value_or("?"));
    return 1;
  }
  const uint64_t trace_bytes = fs::file_size(output);
  const double mb_per_s = static_cast<double>(input_bytes) / 1e6 / seconds;
  const double ratio = static_cast<double>(input_bytes) / static_cast<double>(trace_bytes);
  const double events_per_s = static_cast<double>(stats.events) / seconds;

  fmt::print("import_bench: eslogger JSON Lines -> zstd trace, one core\n");
  fmt::print("  {:<34} {:>14}\n", "input", fmt::format("{:.1f} MB", input_bytes / 1e6));
  fmt::print("  {:<34} {:>14}\n", "records", stats.records);
  fmt::print("  {:<34} {:>14}\n", "events written", stats.events);
  fmt::print("  {:<34} {:>14}\n", "trace", fmt::format("{:.2f} MB", trace_bytes / 1e6));
  fmt::print("  {:<34} {:>14}\n", "time", fmt::format("{:.2f} s", seconds));
  fmt::print("  {:<34} {:>14}\n", "import speed (target >= 100)",
             fmt::format("{:.1f} MB/s", mb_per_s));
  fmt::print("  {:<34} {:>14}\n", "input : trace (target >= 20)", fmt::format("{:.1f} : 1", ratio));
  fmt::print("{{\"bench\": \"import_eslogger_speed\", \"value\": {:.1f}, \"unit\": \"MB/s\"}}\n",
             mb_per_s);
  fmt::print(
      "{{\"bench\": \"import_eslogger_size_ratio\", \"value\": {:.1f}, \"unit\": "
      "\"input:trace\"}}\n",
      ratio);
  fmt::print(
      "{{\"bench\": \"import_eslogger_events\", \"value\": {:.0f}, \"unit\": \"events/s\"}}\n",
      events_per_s);

  if (keep.empty()) fs::remove_all(dir);
  return 0;
}
