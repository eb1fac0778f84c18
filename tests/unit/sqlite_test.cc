// The SQLite wrapper: a connection keeps the statements it got back and hands
// them out again for the same SQL.
#include <gtest/gtest.h>

#include "store/sqlite.h"
#include "test_util.h"

namespace quarry::sql {
namespace {

TEST(SqliteStatements, OneSqlCanBeLiveTwiceAndComesBackWithoutBindings) {
  test::TempDir d;
  auto db = Db::Open(d.str() + "/t.db", false);
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto a = (*db)->Prepare("SELECT ?");
  ASSERT_TRUE(a.ok());
  a->Bind(1, int64_t{1});
  ASSERT_TRUE(a->Step());
  {
    auto b = (*db)->Prepare("SELECT ?");  // a is still live: a statement of its own
    ASSERT_TRUE(b.ok());
    b->Bind(1, int64_t{2});
    ASSERT_TRUE(b->Step());
    EXPECT_EQ(b->Int(0), 2);
  }
  EXPECT_EQ(a->Int(0), 1);
  *a = Stmt();  // given back
  auto c = (*db)->Prepare("SELECT ?");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Step());
  EXPECT_TRUE(c->IsNull(0)) << "a reused statement kept an old binding";
}

// A statement given back in the middle of its rows is reset: it holds no read
// transaction that would keep another connection from writing.
TEST(SqliteStatements, AStatementGivenBackMidwayHoldsNoLock) {
  test::TempDir d;
  const std::string path = d.str() + "/t.db";
  auto reader = Db::Open(path, false);
  auto writer = Db::Open(path, false);
  ASSERT_TRUE(reader.ok() && writer.ok());
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);").ok());
  {
    auto s = (*reader)->Prepare("SELECT x FROM t");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->Step());  // one row read, two left: a read transaction is open
  }
  for (sqlite3_stmt* s = sqlite3_next_stmt((*reader)->raw(), nullptr); s; s = sqlite3_next_stmt((*reader)->raw(), s)) {
    EXPECT_FALSE(sqlite3_stmt_busy(s)) << sqlite3_sql(s);
  }
  EXPECT_TRUE((*writer)->Exec("INSERT INTO t VALUES (4)").ok());
  auto again = (*reader)->Prepare("SELECT x FROM t");
  ASSERT_TRUE(again.ok());
  int rows = 0;
  while (again->Step()) ++rows;
  EXPECT_EQ(rows, 4);
}

}  // namespace
}  // namespace quarry::sql
