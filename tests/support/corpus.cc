#include "support/corpus.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "common/json.h"

namespace hpd::testing {
namespace {

namespace fs = std::filesystem;

// Regular files under `dir` (recursively) whose names end in `suffix`, sorted.
std::vector<fs::path> FilesUnder(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().ends_with(suffix)) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

fs::path SharedDir() {
  const char* env = std::getenv("HPD_SHARED_DIR");
  return env != nullptr && *env != '\0' ? fs::path(env) : fs::path("../shared");
}

fs::path ConformanceCasesDir() { return SharedDir() / "conformance" / "cases"; }

fs::path BenchWorkloadsDir() { return SharedDir() / "bench" / "workloads"; }

std::vector<fs::path> ConformanceCaseFiles(std::string_view category) {
  const fs::path cases = ConformanceCasesDir();
  return FilesUnder(category.empty() ? cases : cases / category, ".json");
}

std::vector<fs::path> BenchWorkloadFiles() { return FilesUnder(BenchWorkloadsDir(), ".asl.json"); }

std::vector<fs::path> DefinitionFiles() {
  std::vector<fs::path> files = ConformanceCaseFiles();
  const std::vector<fs::path> workloads = BenchWorkloadFiles();
  files.insert(files.end(), workloads.begin(), workloads.end());
  return files;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + path.string());
  return std::move(contents).str();
}

StatusOr<boost::json::value> LoadJsonFile(const fs::path& path) {
  StatusOr<boost::json::value> value = ParseJson(ReadFile(path));
  if (!value.ok()) return value.status().WithContext("file " + path.string());
  return value;
}

StatusOr<boost::json::value> LoadDefinition(const fs::path& path) {
  HPD_ASSIGN_OR_RETURN(boost::json::value document, LoadJsonFile(path));
  if (path.filename().string().ends_with(".asl.json")) return document;
  const boost::json::object* test_case = document.if_object();
  const boost::json::value* definition =
      test_case != nullptr ? test_case->if_contains("definition") : nullptr;
  if (definition == nullptr) {
    return NotFoundError("no \"definition\" member in " + path.string());
  }
  if (const boost::json::string* text = definition->if_string()) {
    StatusOr<boost::json::value> parsed = ParseJson(std::string_view(text->data(), text->size()));
    if (!parsed.ok()) return parsed.status().WithContext("definition in " + path.string());
    return parsed;
  }
  return *definition;
}

std::string MissingCorpusMessage(const fs::path& folder) {
  return "no shared corpus at " + folder.string() +
         "; set HPD_SHARED_DIR to the folder holding conformance/cases and bench/workloads "
         "(default ../shared from the repository root) to run this test";
}

boost::json::value Json(std::string_view text) {
  StatusOr<boost::json::value> value = ParseJson(text);
  EXPECT_TRUE(value.ok()) << value.status() << " in " << text;
  return value.ok() ? *value : boost::json::value();
}

}  // namespace hpd::testing
