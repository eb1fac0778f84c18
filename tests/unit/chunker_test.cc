#include "ingest/chunker.h"

#include <gtest/gtest.h>

#include "text/utf8.h"

namespace quarry {
namespace {

// One token per whitespace-separated word, and one per CJK character.
int Count(std::string_view s) {
  int n = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0xE0) {  // a 3-byte (CJK) character
      ++n;
      in_word = false;
      i += 2;
      continue;
    }
    const bool ws = c == ' ' || c == '\n' || c == '\t';
    if (!ws && !in_word) ++n;
    in_word = !ws;
  }
  return n;
}

std::string Words(int n, const std::string& w = "word") {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + w + std::to_string(i);
  return s;
}

void CheckInvariants(const std::string& text, const std::vector<TextChunk>& chunks, int limit) {
  ASSERT_FALSE(chunks.empty());
  for (const auto& c : chunks) {
    ASSERT_LE(c.end, text.size());
    ASSERT_LT(c.start, c.end);
    EXPECT_LE(Count(std::string_view(text).substr(c.start, c.end - c.start)), limit);
    // Boundaries fall on whole UTF-8 characters.
    EXPECT_EQ(text::FindInvalidUtf8(std::string_view(text).substr(c.start, c.end - c.start)), std::string::npos);
  }
}

TEST(Chunker, ShortDocumentIsOneChunk) {
  const std::string t = "Just a short note.";
  auto c = ChunkDocument(t, {}, {64, 8}, Count);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(t.substr(c[0].start, c[0].end - c[0].start), t);
  EXPECT_EQ(c[0].tokens, 4);
}

TEST(Chunker, BreaksAtSentencesWithinTheLimit) {
  std::string t;
  for (int i = 0; i < 30; ++i) t += "Sentence number " + std::to_string(i) + " has six words. ";
  auto c = ChunkDocument(t, {}, {20, 0}, Count);
  CheckInvariants(t, c, 20);
  EXPECT_GT(c.size(), 5u);
  for (const auto& ch : c) {
    EXPECT_EQ(t.substr(ch.start, 8), "Sentence");        // starts at a sentence
    EXPECT_EQ(t[ch.end - 1], '.');                        // ends at one
  }
}

TEST(Chunker, OverlapRepeatsTrailingSentences) {
  std::string t;
  for (int i = 0; i < 10; ++i) t += "Alpha beta gamma delta " + std::to_string(i) + ". ";
  auto c = ChunkDocument(t, {}, {15, 5}, Count);
  ASSERT_GE(c.size(), 2u);
  for (size_t i = 1; i < c.size(); ++i) EXPECT_LT(c[i].start, c[i - 1].end) << "chunk " << i << " should overlap";
}

TEST(Chunker, ParagraphsAreNotMergedAcrossSections) {
  const std::string t = "Intro text here.\n\nFirst section body.\n\nSecond section body.";
  const size_t a = t.find("First"), b = t.find("Second");
  std::vector<Section> secs = {{0, a, ""}, {a, b, "A"}, {b, t.size(), "B"}};
  auto c = ChunkDocument(t, secs, {100, 10}, Count);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[1].heading, "A");
  EXPECT_EQ(c[2].heading, "B");
  EXPECT_EQ(t.substr(c[2].start, c[2].end - c[2].start), "Second section body.");
}

TEST(Chunker, VeryLongLineWithoutPunctuationIsSplitAtWords) {
  const std::string t = Words(1000);
  auto c = ChunkDocument(t, {}, {50, 0}, Count);
  CheckInvariants(t, c, 50);
  EXPECT_GE(c.size(), 20u);
  for (const auto& ch : c) EXPECT_EQ(t.substr(ch.start, 4), "word");
}

TEST(Chunker, CjkWithoutSpacesIsSplitAtCharacters) {
  std::string t;
  for (int i = 0; i < 300; ++i) t += "漢字";  // 600 characters, no spaces or punctuation
  auto c = ChunkDocument(t, {}, {64, 0}, Count);
  CheckInvariants(t, c, 64);
  size_t covered = 0;
  for (const auto& ch : c) covered += ch.end - ch.start;
  EXPECT_EQ(covered, t.size());  // no overlap asked: the chunks tile the text
  EXPECT_EQ(c.size(), 10u);      // 600 / 64, rounded up
}

TEST(Chunker, CjkSentencesEndAtFullStops) {
  std::string t;
  for (int i = 0; i < 20; ++i) t += "这是一个句子。";  // 7 characters each
  auto c = ChunkDocument(t, {}, {15, 0}, Count);
  CheckInvariants(t, c, 15);
  for (const auto& ch : c) EXPECT_EQ(t.substr(ch.end - 3, 3), "。");
}

}  // namespace
}  // namespace quarry
