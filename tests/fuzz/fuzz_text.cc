// libFuzzer target: the text pipeline a document goes through after loading,
// on arbitrary bytes: UTF-8 repair, normalisation, BM25 analysis (Porter and
// CJK paths), language identification (summarize's default language),
// chunking, and the prompt's quoting of retrieved text.
#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/chunker.h"
#include "rag/rag_internal.h"
#include "text/analyzer.h"
#include "text/language.h"
#include "text/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::string valid = quarry::text::ValidUtf8(raw);
  if (quarry::text::FindInvalidUtf8(valid) != std::string_view::npos) __builtin_trap();
  const std::string text = quarry::text::NormalizeText(valid);
  (void)quarry::text::Nfkc(text);
  (void)quarry::text::Utf8CompletePrefix(raw);
  (void)quarry::text::LanguageOf(text);

  static auto porter = quarry::text::Analyzer::Create({"porter", true});
  static auto none = quarry::text::Analyzer::Create({"none", true});
  std::vector<std::string> terms;
  (*porter)->Analyze(raw, &terms);  // invalid UTF-8 must yield nothing, not a crash
  (*none)->Analyze(text, &terms);

  // Sections from the first bytes, so the fuzzer can reach the section logic.
  std::vector<quarry::Section> sections;
  if (size > 2 && text.size() > 2) {
    const size_t cut = data[0] % text.size();
    sections.push_back({0, cut, "A"});
    sections.push_back({cut, text.size(), "A > B"});
  }
  quarry::ChunkerOptions co;
  co.chunk_tokens = 16 + data[size > 1 ? 1 : 0] % 64;
  co.overlap_tokens = size > 3 ? data[2] % 16 : 0;
  auto count = [](std::string_view s) {
    int n = 0;
    bool in = false;
    for (char c : s) {
      const bool sp = c == ' ' || c == '\n' || c == '\t';
      n += !sp && !in;
      in = !sp;
    }
    return n + static_cast<int>(s.size() / 16);
  };
  for (const auto& c : quarry::ChunkDocument(text, sections, co, count)) {
    if (c.start > c.end || c.end > text.size()) __builtin_trap();
  }
  (void)quarry::rag::QuoteData(text);
  (void)quarry::rag::SplitSentences(text);
  return 0;
}
