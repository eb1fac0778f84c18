#include "ingest/chunker.h"

#include <algorithm>

#include "text/utf8.h"

namespace quarry {
namespace {

struct Unit {
  size_t start, end;  // byte range, without surrounding whitespace
  int tokens;
};

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Does a sentence end at s[i] (the last byte of a terminator)?
size_t SentenceEnd(std::string_view s, size_t i) {
  const char c = s[i];
  if ((c == '.' || c == '!' || c == '?') && (i + 1 == s.size() || IsSpace(s[i + 1]))) return i + 1;
  // CJK full stops: 。！？ (E3 80 82, EF BC 81, EF BC 9F) need no following space.
  if (i >= 2) {
    std::string_view t = s.substr(i - 2, 3);
    if (t == "\xE3\x80\x82" || t == "\xEF\xBC\x81" || t == "\xEF\xBC\x9F") return i + 1;
  }
  return 0;
}

void Trim(std::string_view s, size_t* a, size_t* b) {
  while (*a < *b && IsSpace(s[*a])) ++*a;
  while (*b > *a && IsSpace(s[*b - 1])) --*b;
}

class Splitter {
 public:
  Splitter(std::string_view text, int limit, const std::function<int(std::string_view)>& count)
      : s_(text), limit_(limit), count_(count) {}

  // Units of [a, b): sentences, each at most `limit` tokens.
  void Split(size_t a, size_t b, std::vector<Unit>* out) {
    // Paragraphs (blank lines), then sentences / lines.
    size_t p = a;
    while (p < b) {
      size_t q = p;
      while (q < b) {
        if (s_[q] == '\n') {
          size_t r = q + 1;
          while (r < b && (s_[r] == ' ' || s_[r] == '\t' || s_[r] == '\r')) ++r;
          if (r < b && s_[r] == '\n') break;  // blank line
        }
        ++q;
      }
      Sentences(p, q, out);
      p = q + 1;
    }
  }

 private:
  void Sentences(size_t a, size_t b, std::vector<Unit>* out) {
    size_t start = a;
    for (size_t i = a; i < b; ++i) {
      size_t e = SentenceEnd(s_.substr(0, b), i);
      if (e == 0 && s_[i] == '\n') e = i;  // line breaks inside a paragraph end a unit
      if (e) {
        Add(start, e, out);
        start = e;
      }
    }
    Add(start, b, out);
  }

  void Add(size_t a, size_t b, std::vector<Unit>* out) {
    Trim(s_, &a, &b);
    if (a >= b) return;
    const int n = count_(s_.substr(a, b - a));
    if (n <= limit_) {
      out->push_back({a, b, n});
      return;
    }
    // Too long: split at spaces, greedily.
    size_t ws = s_.find_first_of(" \t\n", a);
    if (ws != std::string_view::npos && ws < b) {
      size_t piece = a;
      size_t last_fit = a;
      for (size_t i = a; i <= b; ++i) {
        if (i == b || IsSpace(s_[i])) {
          if (count_(s_.substr(piece, i - piece)) > limit_) {
            if (last_fit > piece) {
              Add(piece, last_fit, out);
              piece = last_fit;
              while (piece < b && IsSpace(s_[piece])) ++piece;
              i = piece;
              last_fit = piece;
              continue;
            }
            // A single word longer than the limit.
            size_t word_end = i;
            HardSplit(piece, word_end, out);
            piece = word_end;
            while (piece < b && IsSpace(s_[piece])) ++piece;
            last_fit = piece;
            i = piece;
            continue;
          }
          last_fit = i;
        }
      }
      if (piece < b) Add(piece, b, out);
      return;
    }
    HardSplit(a, b, out);
  }

  // No spaces (CJK, a long token run): cut at code point boundaries, binary
  // searching the longest prefix within the limit (at least one code point).
  void HardSplit(size_t a, size_t b, std::vector<Unit>* out) {
    std::vector<size_t> cut;  // code point boundaries in (a, b]
    for (size_t i = a + 1; i < b; ++i) {
      if ((static_cast<unsigned char>(s_[i]) & 0xC0) != 0x80) cut.push_back(i);
    }
    cut.push_back(b);
    size_t from = a, first = 0;
    while (from < b) {
      long lo = static_cast<long>(first), hi = static_cast<long>(cut.size()) - 1, best = lo;
      while (lo <= hi) {
        const long mid = (lo + hi) / 2;
        if (count_(s_.substr(from, cut[static_cast<size_t>(mid)] - from)) <= limit_) {
          best = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      const size_t end = cut[static_cast<size_t>(best)];
      out->push_back({from, end, count_(s_.substr(from, end - from))});
      from = end;
      first = static_cast<size_t>(best) + 1;
    }
  }

  std::string_view s_;
  int limit_;
  const std::function<int(std::string_view)>& count_;
};

}  // namespace

std::vector<TextChunk> ChunkDocument(std::string_view text, const std::vector<Section>& sections,
                                     const ChunkerOptions& o, const std::function<int(std::string_view)>& count) {
  std::vector<Section> secs = sections;
  if (secs.empty()) secs.push_back({0, text.size(), ""});
  const int limit = std::max(o.chunk_tokens, 8);
  const int overlap = std::clamp(o.overlap_tokens, 0, limit / 2);
  std::vector<TextChunk> out;
  for (const Section& sec : secs) {
    std::vector<Unit> units;
    Splitter(text, limit, count).Split(sec.start, std::min(sec.end, text.size()), &units);
    size_t i = 0;
    while (i < units.size()) {
      size_t j = i;
      int total = 0;
      while (j < units.size() && (j == i || total + units[j].tokens <= limit)) total += units[j++].tokens;
      out.push_back({units[i].start, units[j - 1].end, sec.heading, total});
      if (j >= units.size()) break;
      // Overlap: restart at the trailing units that fit in `overlap` tokens.
      size_t k = j;
      int back = 0;
      while (k > i + 1 && back + units[k - 1].tokens <= overlap) back += units[--k].tokens;
      i = k;
    }
  }
  return out;
}

}  // namespace quarry
