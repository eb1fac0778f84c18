// The JSON shapes every front end prints (quarry/json.h).
#include "quarry/json.h"

#include <gtest/gtest.h>

namespace quarry {
namespace {

TEST(Json, MetadataThatIsNotAnObjectPrintsAsEmptyObject) {
  // Was: the CLI printed json::parse(..., allow_exceptions=false)'s discarded
  // value, which dumps as "<discarded>" (not JSON) for a damaged catalog row.
  for (const char* stored : {"", "not json", "[1,2]", "{\"a\":"}) {
    Document d;
    d.metadata = stored;
    SearchHit h;
    h.metadata = stored;
    EXPECT_EQ(ToJson(d)["metadata"], nlohmann::json::object()) << stored;
    EXPECT_EQ(ToJson(h, 1)["metadata"], nlohmann::json::object()) << stored;
    EXPECT_TRUE(nlohmann::json::parse(ToJson(d).dump(), nullptr, false).is_object()) << stored;
  }
  Document d;
  d.metadata = R"({"lang":"zh"})";
  EXPECT_EQ(ToJson(d)["metadata"]["lang"], "zh");
}

TEST(Json, HitCarriesOnlyTheScoresItHas) {
  SearchHit h;
  h.chunk.doc_id = 7;
  h.score = 0.5;
  h.bm25_score = 3.0;
  h.bm25_rank = 2;
  nlohmann::json j = ToJson(h, 4);
  EXPECT_EQ(j["rank"], 4);
  EXPECT_EQ(j["doc_id"], 7);
  EXPECT_EQ(j["bm25_rank"], 2);
  EXPECT_FALSE(j.contains("dense_score"));
  EXPECT_FALSE(j.contains("rerank_score"));
  h.rerank_score = -1.25;
  h.fused_rank = 3;
  j = ToJson(h, 1);
  EXPECT_EQ(j["rerank_score"], -1.25);
  EXPECT_EQ(j["fused_rank"], 3);
}

TEST(Json, CitationsKeepEveryPassageAndMarkTheCitedOnes) {
  Answer a;
  for (int n = 1; n <= 3; ++n) {
    Source s;
    s.n = n;
    s.text = "passage " + std::to_string(n);
    s.trimmed = n == 2;
    a.sources.push_back(s);
  }
  a.cited = {3, 1};
  const nlohmann::json c = CitationsJson(a);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_TRUE(c[0]["cited"]);
  EXPECT_FALSE(c[1]["cited"]);
  EXPECT_TRUE(c[2]["cited"]);
  EXPECT_TRUE(c[1]["trimmed"]);
  EXPECT_EQ(c[2]["n"], 3);
  EXPECT_EQ(c[2]["text"], "passage 3");
}

}  // namespace
}  // namespace quarry
