// The shared corpora that tests check the code against: the conformance cases AWS recorded
// (conformance/cases/<category>/*.json) and the bench workloads (bench/workloads/*.asl.json).
// They live beside the repository, in $HPD_SHARED_DIR (ctest sets it; default ../shared from the
// working directory, which ctest makes the repository root).
//
// A test that reads a corpus skips, saying why, when the folder is absent:
//
//   TEST(FooCorpusTest, MatchesAws) {
//     HPD_SKIP_WITHOUT_CORPUS(hpd::testing::ConformanceCasesDir());
//     for (const auto& file : hpd::testing::ConformanceCaseFiles()) { ... }
//   }
#ifndef HPD_TESTS_SUPPORT_CORPUS_H_
#define HPD_TESTS_SUPPORT_CORPUS_H_

#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hpd::testing {

// $HPD_SHARED_DIR if set and non-empty, else "../shared".
std::filesystem::path SharedDir();
// SharedDir()/conformance/cases and SharedDir()/bench/workloads.
std::filesystem::path ConformanceCasesDir();
std::filesystem::path BenchWorkloadsDir();

// The *.json case files under ConformanceCasesDir(), or only those of one category (a folder
// such as "choice_operators"), sorted. Empty if the folder does not exist.
std::vector<std::filesystem::path> ConformanceCaseFiles(std::string_view category = {});
// The *.asl.json definitions in BenchWorkloadsDir(), sorted. Empty if the folder does not exist.
std::vector<std::filesystem::path> BenchWorkloadFiles();
// Every file that holds a definition: ConformanceCaseFiles(), then BenchWorkloadFiles().
std::vector<std::filesystem::path> DefinitionFiles();

// The bytes of `path`. Throws std::runtime_error naming the file if it cannot be read, which
// fails the calling test.
std::string ReadFile(const std::filesystem::path& path);

// The file parsed with ParseJson, whose error gets the file as context. Throws like ReadFile if
// the file cannot be read.
StatusOr<boost::json::value> LoadJsonFile(const std::filesystem::path& path);

// `text` parsed as JSON; a parse error fails the calling test (non-fatally) and gives null.
boost::json::value Json(std::string_view text);

// The state machine definition in a corpus file: a bench workload (*.asl.json) is one; a
// conformance case holds one in its "definition" member (an object, or JSON text). NotFoundError
// if a case has none.
StatusOr<boost::json::value> LoadDefinition(const std::filesystem::path& path);

// Why a test that needs `folder` skips, and how to make it run.
std::string MissingCorpusMessage(const std::filesystem::path& folder);

}  // namespace hpd::testing

// In a test body: skips the test, with MissingCorpusMessage, unless `folder` is a directory.
#define HPD_SKIP_WITHOUT_CORPUS(folder)                                         \
  do {                                                                          \
    const std::filesystem::path hpd_corpus_folder_ = (folder);                  \
    if (!std::filesystem::is_directory(hpd_corpus_folder_)) {                   \
      GTEST_SKIP() << ::hpd::testing::MissingCorpusMessage(hpd_corpus_folder_); \
    }                                                                           \
  } while (false)

#endif  // HPD_TESTS_SUPPORT_CORPUS_H_
