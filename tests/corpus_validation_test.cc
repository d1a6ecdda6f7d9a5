// Every definition that ran on AWS (the conformance corpus) or on the peer engine (the bench
// workloads) must validate OK.
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "asl/parser.h"
#include "common/json.h"
#include "support/corpus.h"

namespace hpd::asl {
namespace {

using ::hpd::testing::BenchWorkloadFiles;
using ::hpd::testing::BenchWorkloadsDir;
using ::hpd::testing::ConformanceCaseFiles;
using ::hpd::testing::ConformanceCasesDir;
using ::hpd::testing::LoadJsonFile;
using ::hpd::testing::ReadFile;

std::string Describe(const ParseResult& result) {
  return DiagnosticsToText(result.diagnostics);
}

TEST(CorpusValidationTest, EveryConformanceDefinitionValidates) {
  HPD_SKIP_WITHOUT_CORPUS(ConformanceCasesDir());
  size_t checked = 0;
  for (const auto& file : ConformanceCaseFiles()) {
    auto doc = LoadJsonFile(file);
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
  HPD_SKIP_WITHOUT_CORPUS(BenchWorkloadsDir());
  const auto files = BenchWorkloadFiles();
  for (const auto& file : files) {
    ParseResult result = ParseDefinition(ReadFile(file));
    EXPECT_TRUE(result.ok()) << file << "\n" << Describe(result);
  }
  EXPECT_GE(files.size(), 7u);
}

}  // namespace
}  // namespace hpd::asl
