// The BM25 analyzer: text -> index terms.
//
// Unicode NFKC + case folding; words are runs of letters and digits (with
// Lucene StandardTokenizer's joins: "u.s.a", "3.14", "o'neil"); English
// possessives dropped; English stopwords removed; optionally, one-character
// ASCII words removed; Snowball stemming (Porter by default, as Anserini's
// BEIR baselines use); Han/Kana/Hangul runs become overlapping bigrams (a lone
// character stays a unigram), as Lucene's CJK analyzer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/status.h"

struct sb_stemmer;  // libstemmer

namespace quarry::text {

struct AnalyzerOptions {
  std::string stemmer = "porter";  // any libstemmer algorithm ("english" = Porter2), or "none"
  bool stopwords = true;           // Lucene's English stopword set
  // Drop words of one ASCII letter or digit ("T cells", "IL-6", "type 2"), as
  // bm25s and scikit-learn do: they match everywhere and say little. Worth
  // +0.003 to +0.007 nDCG@10 on SciFact, NQ and RGB en (docs/benchmarks.md).
  bool drop_single_chars = false;

  // What a knowledge base indexes and searches its BM25 terms with.
  static AnalyzerOptions ForIndex(std::string stemmer = "porter") { return {std::move(stemmer), true, true}; }
};

class Analyzer {
 public:
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options = {});
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Appends the terms of text, in order, duplicates kept.
  void Analyze(std::string_view text, std::vector<std::string>* terms) const;
  std::vector<std::string> Analyze(std::string_view text) const {
    std::vector<std::string> t;
    Analyze(text, &t);
    return t;
  }

 private:
  explicit Analyzer(const AnalyzerOptions& o) : options_(o) {}
  void Emit(std::string word, std::vector<std::string>* terms) const;
  AnalyzerOptions options_;
  ::sb_stemmer* stemmer_ = nullptr;
};

}  // namespace quarry::text
