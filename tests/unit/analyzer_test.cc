#include "text/analyzer.h"
#include "text/language.h"
#include "text/utf8.h"

#include <gtest/gtest.h>

namespace quarry::text {
namespace {

std::vector<std::string> A(const std::string& s, const std::string& stemmer = "porter") {
  auto a = Analyzer::Create({stemmer, true});
  EXPECT_TRUE(a.ok());
  return (*a)->Analyze(s);
}

using V = std::vector<std::string>;

TEST(Analyzer, StemsFoldsAndDropsStopwords) {
  EXPECT_EQ(A("The cats are RUNNING in the gardens"), (V{"cat", "run", "garden"}));
  EXPECT_EQ(A("John's book"), (V{"john", "book"}));
  EXPECT_EQ(A("running", "none"), (V{"running"}));
}

TEST(Analyzer, UnicodeNormalisationAndCaseFolding) {
  EXPECT_EQ(A("ÉCOLE école", "none"), (V{"école", "école"}));
  EXPECT_EQ(A("\xEF\xAC\x81le", "none"), (V{"file"}));  // U+FB01 ligature (NFKC)
  EXPECT_EQ(A("Straße", "none"), (V{"strasse"}));     // full case folding
}

TEST(Analyzer, KeepsNumbersAndAbbreviationsWhole) {
  EXPECT_EQ(A("pi is 3.14, not 3", "none"), (V{"pi", "3.14", "3"}));
  EXPECT_EQ(A("the U.S.A. and 1,000 people", "none"), (V{"u.s.a", "1,000", "people"}));
  EXPECT_EQ(A("state-of-the-art e-mail", "none"), (V{"state", "art", "e", "mail"}));
}

// What the knowledge base indexes: one-letter and one-digit words go (they
// match nearly every passage); longer ones, numbers with a point, and lone
// CJK characters stay.
TEST(Analyzer, DropsSingleCharactersWhenAsked) {
  auto a = Analyzer::Create({"porter", true, /*drop_single_chars=*/true});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->Analyze("IL-6 and T cells in type 2 diabetes"), (V{"il", "cell", "type", "diabet"}));
  EXPECT_EQ((*a)->Analyze("pi is 3.14, not 3; e-mail x"), (V{"pi", "3.14", "mail"}));
  EXPECT_EQ((*a)->Analyze("我 é"), (V{"我", "é"}));
  EXPECT_EQ(A("T cells"), (V{"t", "cell"}));  // kept by default
}

TEST(Analyzer, CjkBecomesOverlappingBigrams) {
  EXPECT_EQ(A("北京大学"), (V{"北京", "京大", "大学"}));
  EXPECT_EQ(A("我"), (V{"我"}));
  EXPECT_EQ(A("東京タワー is tall"), (V{"東京", "京タ", "タワ", "ワー", "tall"}));
  EXPECT_EQ(A("서울 특별시"), (V{"서울", "특별", "별시"}));
}

TEST(Analyzer, InvalidUtf8YieldsNothing) { EXPECT_TRUE(A("abc \xff\xfe def").empty()); }

TEST(Analyzer, UnknownStemmerIsAnError) {
  auto a = Analyzer::Create({"klingon", true});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("porter"), std::string::npos);
}

}  // namespace
}  // namespace quarry::text

namespace quarry::text {
namespace {

// 中 is E4 B8 AD: a model's token can end after any of its bytes.
TEST(Utf8, AnIncompleteTailIsHeldBack) {
  EXPECT_EQ(Utf8CompletePrefix("ab"), 2u);
  EXPECT_EQ(Utf8CompletePrefix("ab\xE4"), 2u);
  EXPECT_EQ(Utf8CompletePrefix("ab\xE4\xB8"), 2u);
  EXPECT_EQ(Utf8CompletePrefix("ab\xE4\xB8\xAD"), 5u);
  EXPECT_EQ(Utf8CompletePrefix("\xF0\x9F\x98"), 0u);
  // Bytes no character can continue are not held (ValidUtf8 replaces them).
  EXPECT_EQ(Utf8CompletePrefix("a\x80"), 2u);
}

TEST(Utf8, InvalidSequencesBecomeReplacementCharacters) {
  EXPECT_EQ(ValidUtf8("中文"), "中文");
  EXPECT_EQ(ValidUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ValidUtf8("a\xE4\xB8"), "a\xEF\xBF\xBD");  // a cut-off character: one U+FFFD
  EXPECT_EQ(FindInvalidUtf8(ValidUtf8("\xC0\x80\xED\xA0\x80 ok \x80\x80")), std::string_view::npos);
}

// A document that carries a chat template's control strings must reach the
// model as text: each marker is broken so no tokenizer matches it.
TEST(Utf8, MarkersAreBrokenLongestFirst) {
  const std::vector<std::string> m = {"<|im_end|>", "<|im_start|>", "<|im", "", "「特」"};
  const std::string zw = "\xE2\x80\x8B";
  EXPECT_EQ(BreakMarkers("no markers here", m), "no markers here");
  EXPECT_EQ(BreakMarkers("a<|im_end|>b", m), "a<" + zw + "|im_end|>b");
  EXPECT_EQ(BreakMarkers("<|im_start|>system", m), "<" + zw + "|im_start|>system");
  EXPECT_EQ(BreakMarkers("<<|im_end|>|im_end|>", m), "<<" + zw + "|im_end|>|im_end|>");
  EXPECT_EQ(BreakMarkers("x「特」y", m), "x「" + zw + "特」y");  // after the first character, not byte
  const std::string twice = BreakMarkers(BreakMarkers("<|im_end|><|im_start|>", m), m);
  for (const auto& marker : m) {
    if (!marker.empty()) {
      EXPECT_EQ(twice.find(marker), std::string::npos) << marker;
    }
  }
}

// Normalised in pieces (bounded memory), the result is the whole text's:
// a combining mark or an LF right at a piece boundary still joins its base.
TEST(Utf8, NormalizeTextIsTheSameAcrossPieceBoundaries) {
  const std::string acute = "\xCC\x81", e_acute = "\xC3\xA9";
  std::string in(65535, 'a');
  in += "e" + acute;  // 'e' ends the first 64 KiB piece
  std::string want(65535, 'a');
  want += e_acute;
  in += std::string(65535, 'b') + "\r\n" + "x\x01y\rz";  // CR last in a piece, LF first in the next
  want += std::string(65535, 'b') + "\n" + "x y\nz";
  EXPECT_EQ(NormalizeText(in), want);
  EXPECT_EQ(NormalizeText("Cafe" + acute + "\r\n"), "Caf" + e_acute + "\n");
}

// What summarize names as the summary's language when the user gives none.
TEST(LanguageOf, NamesTheLanguageOfAParagraph) {
  const std::pair<const char*, const char*> cases[] = {
      {"Le marché du port ouvre chaque matin avant l'aube. Les pêcheurs y vendent leurs poissons aux restaurants "
       "de la ville, et les touristes viennent les regarder.",
       "French"},
      {"Der Hafenmarkt öffnet jeden Morgen vor der Dämmerung. Die Fischer verkaufen ihren Fang an die Restaurants "
       "der Stadt, und die Touristen schauen ihnen dabei zu.",
       "German"},
      {"港口的鱼市每天清晨开门。渔民把捕到的鱼卖给城里的餐馆，游客们也常常来看热闹。", "Chinese"},
      {"港口的魚市每天清晨開門。漁民把捕到的魚賣給城裡的餐館，遊客們也常常來看熱鬧。", "Traditional Chinese"},
      {"港の魚市場は毎朝夜明け前に開きます。漁師たちは町のレストランに魚を売り、観光客も見に来ます。", "Japanese"},
      {"항구의 어시장은 매일 새벽에 문을 엽니다. 어부들은 도시의 식당에 생선을 팔고 관광객들도 구경하러 옵니다.", "Korean"},
      {"Рыбный рынок в порту открывается каждое утро до рассвета. Рыбаки продают улов ресторанам города, а "
       "туристы приходят посмотреть.",
       "Russian"},
      {"The harbour market opens every morning before dawn. Fishermen sell their catch to the restaurants of the "
       "town, and tourists come to watch.",
       "English"},
      {"", ""},  // too little to tell: no guess
      {"42", ""},
  };
  for (const auto& [text, language] : cases) EXPECT_EQ(LanguageOf(text), language) << text;
}

}  // namespace
}  // namespace quarry::text
