// The documents stand on their own: every ```sh block of README.md and docs/*.md runs as
// written, one shell per document (set -eu, blocks in order), in a fresh folder that sees the
// checkout's tests/, fixtures/, examples/ and scripts/, this build as build/ and its flowid on
// PATH, the way a
// user who has run scripts/quickstart.sh and put build/cli on PATH runs them.
//
// Skipped, explicitly:
//   - a block preceded by a line "<!-- not run by the test suite: REASON -->" (root, network, a
//     recording, a synopsis, or minutes of work), the reason said in the document;
//   - README.md's "## Performance" section: benchmarks, whose figures are measured, not tested;
//   - docs/plugins.md's tutorial: tests/plugin_test.cc runs it (it installs flowid first).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/cli_runner.h"

namespace flowid {
namespace {

struct Script {
  std::string text;
  int blocks = 0;
  int skipped = 0;
};

Script extract(const std::filesystem::path& document) {
  std::ifstream in(document);
  Script script;
  const bool readme = document.filename() == "README.md";
  const bool plugins = document.filename() == "plugins.md";
  bool skipped_section = false;
  bool in_block = false;
  bool skip_block = false;
  bool skip_next = false;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!in_block && line.rfind("## ", 0) == 0) {
      skipped_section = (readme && line == "## Performance") ||
                        (plugins && line == "## Test your resolver in ten minutes");
    }
    if (!in_block && line.rfind("<!-- not run by the test suite", 0) == 0) {
      skip_next = true;
      continue;
    }
    if (!in_block && line == "```sh") {
      in_block = true;
      skip_block = skip_next || skipped_section;
      skip_next = false;
      if (skip_block) {
        ++script.skipped;
      } else {
        ++script.blocks;
        script.text +=
            "# " + document.filename().string() + ":" + std::to_string(line_number) + "\n";
      }
      continue;
    }
    if (in_block && line == "```") {
      in_block = false;
      continue;
    }
    if (in_block && !skip_block) script.text += line + "\n";
  }
  return script;
}

std::vector<std::filesystem::path> documents() {
  const std::filesystem::path source = FLOWID_SOURCE_DIR;
  std::vector<std::filesystem::path> found = {source / "README.md"};
  for (const auto& entry : std::filesystem::directory_iterator(source / "docs")) {
    if (entry.path().extension() == ".md") found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

class DocumentBlocks : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(DocumentBlocks, RunAsWritten) {
  const Script script = extract(GetParam());
  if (script.blocks == 0)
    GTEST_SKIP() << GetParam() << ": no runnable sh block (" << script.skipped << " marked)";
  testing::TempDir dir;
  const std::string source = FLOWID_SOURCE_DIR;
  const std::string bin = std::filesystem::path(FLOWID_CLI_PATH).parent_path().string();
  std::string header = "set -eu\ncd '" + dir.path().string() + "'\n";
  for (const char* linked : {"tests", "fixtures", "examples", "scripts"}) {
    header += "ln -s '" + source + "/" + linked + "' " + linked + "\n";
  }
  // build/: this build, where the documents' build/examples/... plugins are.
  header += "ln -s '" + std::filesystem::path(bin).parent_path().string() + "' build\n";
  header += "export PATH='" + bin + "':\"$PATH\"\nset -x\n";
  auto r = testing::run_program("/bin/bash", {"-c", header + script.text});
  EXPECT_EQ(r.exit_code, 0) << GetParam() << "\nscript:\n"
                            << script.text << "\nstdout:\n"
                            << r.out << "\nstderr:\n"
                            << r.err;
}

std::string name_of_document(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  std::string name = info.param.stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
      '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Docs, DocumentBlocks, ::testing::ValuesIn(documents()), name_of_document);

// The first commands a new user meets are runnable ones, not all marked away.
TEST(DocumentBlocksCoverage, ReadmeAndTheCommandDocumentsRunSomething) {
  const std::filesystem::path source = FLOWID_SOURCE_DIR;
  for (const char* document : {"README.md", "docs/fuzzing.md", "docs/importers.md"}) {
    EXPECT_GE(extract(source / document).blocks, 1) << document;
  }
}

}  // namespace
}  // namespace flowid
