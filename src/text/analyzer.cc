#include "text/analyzer.h"

#include <libstemmer.h>
#include <utf8proc.h>

#include <algorithm>
#include <unordered_set>

#include "text/utf8.h"

namespace quarry::text {
namespace {

// Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET.
const std::unordered_set<std::string_view>& StopWords() {
  static const std::unordered_set<std::string_view> s = {
      "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
      "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
      "will", "with"};
  return s;
}

enum class Kind { kOther, kWord, kCjk };

bool IsCjk(utf8proc_int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2FA1F) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
         (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) ||
         (c >= 0xFF66 && c <= 0xFF9F);
}

Kind Classify(utf8proc_int32_t c) {
  if (c < 0x80) {
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') ? Kind::kWord : Kind::kOther;
  }
  if (IsCjk(c)) return Kind::kCjk;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
      return Kind::kWord;
    default:
      return Kind::kOther;
  }
}

bool IsDigit(utf8proc_int32_t c) {
  return c < 0x80 ? (c >= '0' && c <= '9') : utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}

}  // namespace

Result<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  std::unique_ptr<Analyzer> a(new Analyzer(options));
  if (options.stemmer != "none" && !options.stemmer.empty()) {
    a->stemmer_ = sb_stemmer_new(options.stemmer.c_str(), "UTF_8");
    if (!a->stemmer_) {
      std::string known;
      for (const char** p = sb_stemmer_list(); *p; ++p) known += std::string(known.empty() ? "" : ", ") + *p;
      return Status::InvalidArgument("unknown stemmer '" + options.stemmer + "' (known: none, " + known + ")");
    }
  }
  return a;
}

Analyzer::~Analyzer() {
  if (stemmer_) sb_stemmer_delete(stemmer_);
}

void Analyzer::Emit(std::string word, std::vector<std::string>* terms) const {
  // Possessives: "john's" -> "john" (EnglishPossessiveFilter).
  if (word.size() > 2 && word.compare(word.size() - 2, 2, "'s") == 0) word.resize(word.size() - 2);
  if (word.empty() || (options_.drop_single_chars && word.size() == 1)) return;  // one byte: ASCII
  if (options_.stopwords && StopWords().count(word)) return;
  if (stemmer_) {
    const sb_symbol* s = sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (s) word.assign(reinterpret_cast<const char*>(s), static_cast<size_t>(sb_stemmer_length(stemmer_)));
  }
  terms->push_back(std::move(word));
}

void Analyzer::Analyze(std::string_view raw, std::vector<std::string>* terms) const {
  const bool ascii = std::all_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii && FindInvalidUtf8(raw) != std::string_view::npos) return;
  // Fold and decode once. ASCII (most queries) needs only lower-casing, which is
  // what NFKC + case folding does to it.
  std::string s;
  std::vector<utf8proc_int32_t> cps;
  std::vector<size_t> offs;
  if (ascii) {
    s.assign(raw);
    cps.resize(s.size());
    offs.resize(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] >= 'A' && s[i] <= 'Z') s[i] = static_cast<char>(s[i] - 'A' + 'a');
      cps[i] = static_cast<unsigned char>(s[i]);
      offs[i] = i;
    }
  } else {
    s = FoldCase(raw);
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    const utf8proc_ssize_t n = static_cast<utf8proc_ssize_t>(s.size());
    for (utf8proc_ssize_t i = 0; i < n;) {
      utf8proc_int32_t c;
      utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &c);
      if (len <= 0) break;
      cps.push_back(c);
      offs.push_back(static_cast<size_t>(i));
      i += len;
    }
  }
  offs.push_back(s.size());
  const size_t m = cps.size();
  size_t i = 0;
  while (i < m) {
    Kind k = Classify(cps[i]);
    if (k == Kind::kOther) {
      ++i;
      continue;
    }
    if (k == Kind::kCjk) {
      size_t j = i;
      while (j < m && Classify(cps[j]) == Kind::kCjk) ++j;
      if (j - i == 1) {
        terms->push_back(s.substr(offs[i], offs[i + 1] - offs[i]));
      } else {
        for (size_t a = i; a + 1 < j; ++a) terms->push_back(s.substr(offs[a], offs[a + 2] - offs[a]));
      }
      i = j;
      continue;
    }
    // A word: letters/digits, joined across one '.', ',' or '\'' (and U+2019)
    // that sits between two word characters of a compatible kind.
    size_t j = i + 1;
    while (j < m) {
      Kind kj = Classify(cps[j]);
      if (kj == Kind::kWord) {
        ++j;
        continue;
      }
      const utf8proc_int32_t c = cps[j];
      if (j + 1 < m && Classify(cps[j + 1]) == Kind::kWord) {
        const bool digits = IsDigit(cps[j - 1]) && IsDigit(cps[j + 1]);
        const bool letters = !IsDigit(cps[j - 1]) && !IsDigit(cps[j + 1]);
        if (((c == '.' || c == ',') && digits) || ((c == '\'' || c == 0x2019 || c == '.') && letters)) {
          j += 2;
          continue;
        }
      }
      break;
    }
    std::string word;
    for (size_t c = i; c < j; ++c) {  // U+2019 (right single quote) counts as an apostrophe
      if (cps[c] == 0x2019) word += '\'';
      else word.append(s, offs[c], offs[c + 1] - offs[c]);
    }
    Emit(std::move(word), terms);
    i = j;
  }
}

}  // namespace quarry::text
