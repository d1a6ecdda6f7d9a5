// Every definition that ran on AWS (the conformance corpus) or on the peer engine (the bench
// workloads) must validate OK.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "asl/parser.h"
#include "common/json.h"

namespace hpd::asl {
namespace {

namespace fs = std::filesystem;

fs::path SharedDir() {
  const char* env = std::getenv("HPD_SHARED_DIR");
  return env && *env ? fs::path(env) : fs::path("../shared");
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<fs::path> JsonFilesUnder(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Describe(const ParseResult& result) {
  return DiagnosticsToText(result.diagnostics);
}

TEST(CorpusValidationTest, EveryConformanceDefinitionValidates) {
  const fs::path dir = SharedDir() / "conformance" / "cases";
  auto files = JsonFilesUnder(dir, ".json");
  if (files.empty()) GTEST_SKIP() << "no conformance corpus at " << dir << " (set HPD_SHARED_DIR)";
  size_t checked = 0;
  for (const auto& file : files) {
    auto doc = ParseJson(ReadFile(file));
    ASSERT_TRUE(doc.ok()) << file << ": " << doc.status();
    const auto* definition = doc->as_object().if_contains("definition");
    ASSERT_NE(definition, nullptr) << file;
    ParseResult result = ParseDefinition(SerializeJson(*definition));
    EXPECT_TRUE(result.ok()) << file << "\n" << Describe(result);
    ++checked;
  }
  EXPECT_GT(checked, 700u);
}

TEST(CorpusValidationTest, EveryBenchWorkloadValidates) {
  const fs::path dir = SharedDir() / "bench" / "workloads";
  auto files = JsonFilesUnder(dir, ".asl.json");
  if (files.empty()) GTEST_SKIP() << "no bench workloads at " << dir << " (set HPD_SHARED_DIR)";
  for (const auto& file : files) {
    ParseResult result = ParseDefinition(ReadFile(file));
    EXPECT_TRUE(result.ok()) << file << "\n" << Describe(result);
  }
  EXPECT_GE(files.size(), 7u);
}

}  // namespace
}  // namespace hpd::asl
