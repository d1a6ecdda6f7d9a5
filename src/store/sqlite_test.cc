#include "store/sqlite.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "support/scratch_dir.h"

namespace hpd::store {
namespace {

class DatabaseTest : public hpd::testing::ScratchDirTest {};

int64_t Count(Database& db) {
  StatusOr<Statement> query = db.Prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(query.ok());
  EXPECT_TRUE(query->Step().ok());
  return query->Int(0);
}

TEST_F(DatabaseTest, InTransactionCommitsWhatSucceedsAndRollsBackWhatFails) {
  StatusOr<std::unique_ptr<Database>> db =
      Database::Open(dir_ / "t.db", Database::Mode::kReadWrite);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Execute("CREATE TABLE t (x INTEGER)").ok());
  EXPECT_TRUE(
      (*db)->InTransaction([&] { return (*db)->Execute("INSERT INTO t VALUES (1)"); }).ok());
  EXPECT_EQ(Count(**db), 1);
  const Status failed = (*db)->InTransaction([&] {
    HPD_RETURN_IF_ERROR((*db)->Execute("INSERT INTO t VALUES (2)"));
    return Named(InternalError("no"), "Nope");
  });
  EXPECT_EQ(failed.error_name(), "Nope");
  EXPECT_EQ(Count(**db), 1);  // the insert before the failure is gone
  // The connection is usable afterwards: no transaction was left open.
  EXPECT_TRUE(
      (*db)->InTransaction([&] { return (*db)->Execute("INSERT INTO t VALUES (3)"); }).ok());
  EXPECT_EQ(Count(**db), 2);
}

}  // namespace
}  // namespace hpd::store
