// `flowid timeline`: a fuzz counterexample becomes one self-contained HTML page (nothing fetched)
// that a real browser loads with no console error, showing a lane per execution and the
// violation marker; a recording of 100 k events makes a page that loads too.
//
// The browser is headless Chromium (Debian's chromium package; FLOWID_CHROMIUM names another
// binary). Without one the browser tests skip and say so. Chromium runs as a subprocess under
// timeout(1), with its own profile directory, never waited for with a sleep. The screenshot goes
// to the test's output folder: the directory of GTEST_OUTPUT=xml:DIR/ when set, else a temporary
// one; FLOWID_TIMELINE_SCREENSHOT=PATH also copies it there (docs/images/timeline.png is made so).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using testing::CommandResult;
using testing::run_flowid;
using testing::run_program;
using testing::TempDir;

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The Chromium to drive, or empty when there is none.
std::string chromium() {
  if (const char* env = std::getenv("FLOWID_CHROMIUM"); env != nullptr && *env != '\0')
    return fs::exists(env) ? env : "";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "chrome"}) {
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/snap/bin"}) {
      const fs::path p = fs::path(dir) / name;
      if (fs::exists(p)) return p.string();
    }
  }
  return {};
}

// Headless Chromium on a file, under a 120-second timeout, with a fresh profile.
CommandResult run_chromium(const std::string& browser, const TempDir& dir,
                           std::vector<std::string> extra, const std::string& page) {
  std::vector<std::string> args = {"120",
                                   browser,
                                   "--headless=new",
                                   "--disable-gpu",
                                   "--no-sandbox",
                                   "--no-first-run",
                                   "--disable-extensions",
                                   "--user-data-dir=" + dir.file("profile"),
                                   "--enable-logging=stderr",
                                   "--v=0"};
  for (auto& e : extra) args.push_back(std::move(e));
  args.push_back("file://" + page);
  return run_program("/usr/bin/timeout", args);
}

// Console errors in Chromium's log: uncaught exceptions and console messages (the page logs none).
std::vector<std::string> console_errors(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("Uncaught") != std::string::npos || line.find(":CONSOLE") != std::string::npos)
      out.push_back(line);
  }
  return out;
}

// The folder a test leaves files in: GTEST_OUTPUT's directory, else `fallback`.
fs::path output_folder(const fs::path& fallback) {
  const char* env = std::getenv("GTEST_OUTPUT");
  if (env == nullptr) return fallback;
  std::string value = env;
  if (value.starts_with("xml:")) value = value.substr(4);
  if (value.starts_with("json:")) value = value.substr(5);
  fs::path dir = value.ends_with("/") ? fs::path(value) : fs::path(value).parent_path();
  if (dir.empty()) return fallback;
  std::error_code ignored;
  fs::create_directories(dir, ignored);
  return dir;
}

// A pid-path counterexample from the fuzzer (fault F1, pid reuse), and its page.
class Counterexample : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fuzz = run_flowid({"fuzz", "--strategy", "pid-path", "--faults", "F1", "--budget", "2000",
                            "--seed", "1", "--out", dir_.path().string()});
    ASSERT_EQ(fuzz.exit_code, 1) << fuzz.err << fuzz.out;
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      if (entry.path().extension() == ".trace") trace_ = entry.path().string();
    }
    ASSERT_FALSE(trace_.empty()) << fuzz.out;
    page_ = dir_.file("race.html");
    auto r = run_flowid({"timeline", trace_, "-o", page_});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    html_ = read_text(page_);
  }

  TempDir dir_;
  std::string trace_;
  std::string page_;
  std::string html_;
};

TEST_F(Counterexample, PageIsOneSelfContainedFile) {
  EXPECT_TRUE(html_.starts_with("<!DOCTYPE html>"));
  EXPECT_EQ(count_of(html_, "id=\"flowid-data\""), 1u);
  for (const char* remote : {"src=\"http", "href=\"http", "src='http", "href='http", "url(http",
                             "@import", "<link", "src=\"//", "href=\"//"}) {
    EXPECT_EQ(html_.find(remote), std::string::npos) << remote;
  }
  // The data cannot close its script element: exactly two script elements end.
  EXPECT_EQ(count_of(html_, "</script>"), 2u);
  // The counterexample's flow, its verdict and the violation are in the data.
  EXPECT_NE(html_.find("\"violations\":[{"), std::string::npos);
  EXPECT_NE(html_.find("verdict flow #1"), std::string::npos);
  EXPECT_NE(html_.find("while resolving flow"), std::string::npos);  // the fault, highlighted.
}

TEST_F(Counterexample, BadOutputsAndInputsAreRefusedNamingTheFile) {
  const std::string before = read_text(trace_);
  auto same = run_flowid({"timeline", trace_, "-o", trace_});
  EXPECT_EQ(same.exit_code, 2) << same.err;
  EXPECT_EQ(read_text(trace_), before);
  auto missing = run_flowid({"timeline", dir_.file("nope.trace"), "-o", dir_.file("n.html")});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_NE(missing.err.find(dir_.file("nope.trace")), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir_.file("n.html")));
  auto help = run_flowid({"timeline", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("flowid timeline findings/NAME.trace -o race.html"), std::string::npos);
}

TEST_F(Counterexample, LoadsInChromiumWithLanesViolationAndScreenshot) {
  const std::string browser = chromium();
  if (browser.empty())
    GTEST_SKIP() << "no chromium binary (apt-get install chromium, or set FLOWID_CHROMIUM)";
  auto dom = run_chromium(browser, dir_, {"--dump-dom"}, page_);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_GE(count_of(dom.out, "class=\"lane"), 3u) << dom.out.substr(0, 4000);
  EXPECT_NE(dom.out.find("id=\"violation\""), std::string::npos) << dom.out.substr(0, 4000);
  EXPECT_NE(dom.out.find("violation, flow #1"), std::string::npos);
  EXPECT_EQ(console_errors(dom.err), std::vector<std::string>{}) << dom.err;

  const fs::path folder = output_folder(dir_.path());
  const std::string png = (folder / "timeline.png").string();
  std::error_code ignored;
  fs::remove(png, ignored);
  auto shot = run_chromium(browser, dir_,
                           {"--screenshot=" + png, "--window-size=1200,800", "--hide-scrollbars",
                            "--force-device-scale-factor=1"},
                           page_);
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  EXPECT_EQ(console_errors(shot.err), std::vector<std::string>{}) << shot.err;
  const std::string bytes = read_text(png);
  ASSERT_GT(bytes.size(), 1000u) << png;
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  if (const char* copy = std::getenv("FLOWID_TIMELINE_SCREENSHOT"); copy != nullptr && *copy)
    fs::copy_file(png, copy, fs::copy_options::overwrite_existing);
}

// A recording of 100 k events (the sample trace's events repeated, each copy with its own flow
// ids and later times): the page is written, and loads.
TEST(Timeline, RecordingOf100kEventsMakesAPageThatLoads) {
  TempDir dir;
  ASSERT_EQ(run_flowid({"sample", "-o", dir.file("s.trace")}).exit_code, 0);
  auto reader = trace::open_reader(dir.file("s.trace"));
  ASSERT_TRUE(reader && reader->ok());
  std::vector<Event> sample;
  Event event;
  uint64_t span = 1;
  while (reader->next(event)) {
    sample.push_back(event);
    span = std::max(span, event.time_ns + 1);
  }
  ASSERT_FALSE(sample.empty());
  std::string error;
  auto writer = trace::open_writer(dir.file("big.trace"), reader->header(), {}, &error);
  ASSERT_TRUE(writer) << error;
  std::size_t written = 0;
  for (uint64_t copy = 0; written < 100'000; ++copy) {
    for (Event e : sample) {
      e.time_ns += copy * span;
      std::visit(
          [&](auto& body) {
            if constexpr (requires { body.flow_id; }) body.flow_id += copy * 1000;
          },
          e.body);
      writer->append(e);
      ++written;
    }
  }
  writer->finish();
  ASSERT_EQ(writer->last_error(), "");

  const std::string page = dir.file("big.html");
  auto r = run_flowid({"timeline", dir.file("big.trace"), "-o", page});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = read_text(page);
  EXPECT_GT(html.size(), 1'000'000u);

  const std::string browser = chromium();
  if (browser.empty())
    GTEST_SKIP() << "no chromium binary (apt-get install chromium, or set FLOWID_CHROMIUM)";
  auto dom = run_chromium(browser, dir, {"--dump-dom"}, page);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_GE(count_of(dom.out, "class=\"lane"), 2u);
  EXPECT_EQ(console_errors(dom.err), std::vector<std::string>{}) << dom.err;
}

}  // namespace
}  // namespace flowid
