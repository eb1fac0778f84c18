// Text metrics for the generation evals, checked against the reference
// implementations (sacreBLEU 2.x, rouge-score, the SQuAD v1.1 script).
#include <gtest/gtest.h>

#include "eval/metrics.h"

namespace quarry::eval {
namespace {

TEST(QaMetrics, SquadNormalisationIgnoresCaseArticlesAndPunctuation) {
  EXPECT_EQ(ExactMatch("The Eiffel Tower.", {"eiffel tower"}), 1.0);
  EXPECT_EQ(ExactMatch("Eiffel", {"eiffel tower"}), 0.0);
  EXPECT_EQ(ExactMatch("Paris", {"London", "paris"}), 1.0);  // best over golds
}

TEST(QaMetrics, TokenF1CountsOverlap) {
  // pred {wilhelm, röntgen} vs gold {wilhelm, conrad, röntgen}: P=1, R=2/3.
  EXPECT_NEAR(TokenF1("Wilhelm Röntgen", {"Wilhelm Conrad Röntgen"}), 0.8, 1e-9);
  EXPECT_EQ(TokenF1("nothing shared", {"Paris"}), 0.0);
}

TEST(QaMetrics, ChineseIsScoredByCharacter) {
  // 12人 vs 12 : tokens {12, 人} vs {12}.
  EXPECT_NEAR(TokenF1("12人", {"12"}), 2.0 / 3.0, 1e-9);
  EXPECT_TRUE(AnswerContains("死亡人数为12人。", {"12人"}));
  EXPECT_FALSE(AnswerContains("死亡人数为13人。", {"12人"}));
}

TEST(QaMetrics, ContainsNeedsTheWholeAnswerInOrder) {
  EXPECT_TRUE(AnswerContains("The game was played in Tampa, Florida in 2021.", {"Tampa, Florida"}));
  EXPECT_FALSE(AnswerContains("Florida, near Tampa", {"Tampa, Florida"}));
  EXPECT_FALSE(AnswerContains("anything", {""}));
}

TEST(SummaryMetrics, RougeLMatchesRougeScore) {
  // rouge_score.RougeScorer(['rougeL']).score(target, prediction).fmeasure
  EXPECT_NEAR(RougeL("The cat sat on the mat.", "The cat is sitting on the mat."), 0.7692307692307692, 1e-9);
  EXPECT_EQ(RougeL("", "reference"), 0.0);
  EXPECT_EQ(RougeL("same words here", "same words here"), 1.0);
}

// DialogSum's test split has three references per dialogue. rouge-score
// 0.1.2: RougeScorer(['rougeL']).score_multi(refs, prediction).fmeasure.
TEST(SummaryMetrics, SeveralReferencesScoreLikeRougeScoresScoreMulti) {
  const std::vector<std::string> refs = {"The cat is sitting on the mat.", "A cat sat on a mat today.", "Dogs bark."};
  EXPECT_NEAR(RougeL("The cat sat on the mat.", refs), 0.7692307692307692, 1e-9);
  EXPECT_NEAR(RougeL("The cat sat on the mat.", std::vector<std::string>{refs[1], refs[2]}), 0.6153846153846153, 1e-9);
  EXPECT_EQ(RougeL("The cat sat on the mat.", std::vector<std::string>{}), 0.0);
}

TEST(TranslationMetrics, ChrFMatchesSacreBleu) {
  std::vector<std::string> hyps = {"The cat sat on the mat.", "A quick brown fox jumps over the lazy dog!"};
  std::vector<std::string> refs = {"The cat is sitting on the mat.", "The quick brown fox jumped over the lazy dog."};
  EXPECT_NEAR(CorpusChrF(hyps, refs), 66.45083298107278, 0.01);
  EXPECT_NEAR(CorpusChrF({"今天天气很好。"}, {"今天的天气非常好。"}), 18.207605029132164, 0.01);
  EXPECT_NEAR(CorpusChrF(refs, refs), 100.0, 1e-9);
}

TEST(TranslationMetrics, BleuMatchesSacreBleu) {
  std::vector<std::string> hyps = {"The cat sat on the mat.", "A quick brown fox jumps over the lazy dog!"};
  std::vector<std::string> refs = {"The cat is sitting on the mat.", "The quick brown fox jumped over the lazy dog."};
  EXPECT_NEAR(CorpusBleu(hyps, refs), 39.905308879531816, 0.01);
  // sacreBLEU tokenize='zh'
  EXPECT_NEAR(CorpusBleu({"今天天气很好。"}, {"今天的天气非常好。"}), 17.09588824982593, 0.01);
  EXPECT_NEAR(CorpusBleu(refs, refs), 100.0, 1e-9);
  EXPECT_EQ(CorpusBleu({""}, {"something"}), 0.0);
}

// Several references per sentence, as WMT and FLORES-style sets have them.
// Values from sacrebleu 2.4.3: corpus_bleu / corpus_chrf(hyps, [refs1, refs2]).
TEST(TranslationMetrics, MultipleReferencesMatchSacreBleu) {
  const std::vector<std::string> hyps = {"The cat sat on the mat.", "A quick brown fox jumps over the lazy dog!", "It is raining today."};
  const std::vector<std::vector<std::string>> refs = {{"The cat is sitting on the mat.", "A cat sat on the mat."},
                                                      {"The quick brown fox jumped over the lazy dog.", "A fast brown fox leaps over a lazy dog!"},
                                                      {"Today it rains.", "It is raining."}};
  EXPECT_NEAR(CorpusBleu(hyps, refs), 58.35193051865707, 0.01);
  EXPECT_NEAR(CorpusChrF(hyps, refs), 80.4585879244123, 0.01);
  std::vector<std::string> first;
  for (const auto& r : refs) first.push_back(r[0]);
  EXPECT_NEAR(CorpusBleu(hyps, first), 34.696265473465715, 0.01);
  EXPECT_NEAR(CorpusChrF(hyps, first), 60.61830693098022, 0.01);
}

// sacreBLEU's default 13a tokenisation: numbers keep their inner '.' and ','
// and apostrophes stay in words. sacrebleu 2.4.3: 34.98761149110957.
TEST(TranslationMetrics, BleuTokenisesLike13a) {
  EXPECT_NEAR(CorpusBleu({"It costs 3.5 dollars, (roughly) 1,000 yen - don't worry."},
                         {"It costs 3.5 dollars , roughly 1,000 yen; don't worry!"}),
              34.98761149110957, 0.01);
}

}  // namespace
}  // namespace quarry::eval
