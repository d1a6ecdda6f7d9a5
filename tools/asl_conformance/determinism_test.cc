// Running a case twice gives byte-identical histories: the interpreter reads no clock and no
// unseeded randomness, and the executor delivers in a fixed order (issue acceptance: "running a
// case twice gives byte-identical normalised histories; no test sleeps").
#include <gtest/gtest.h>

#include "asl_conformance/conformance_case.h"
#include "asl_conformance/runner.h"
#include "common/json.h"
#include "support/corpus.h"

namespace hpd::conformance {
namespace {

TEST(DeterminismTest, EveryCaseRunsTwiceToTheSameHistory) {
  HPD_SKIP_WITHOUT_CORPUS(hpd::testing::ConformanceCasesDir());
  const RunIdentity identity = RunIdentity::Default();
  size_t compared = 0;
  for (const auto& file : hpd::testing::ConformanceCaseFiles()) {
    auto loaded = LoadCase(file, hpd::testing::ConformanceCasesDir());
    ASSERT_TRUE(loaded.ok()) << file << ": " << loaded.status();
    CaseResult first = RunCase(*loaded, identity);
    CaseResult second = RunCase(*loaded, identity);
    ASSERT_EQ(first.history.has_value(), second.history.has_value()) << file;
    if (!first.history) continue;  // skipped (JSONata)
    EXPECT_EQ(SerializeJson(*first.history), SerializeJson(*second.history)) << file;
    ++compared;
  }
  EXPECT_GT(compared, 600u);
}

}  // namespace
}  // namespace hpd::conformance
