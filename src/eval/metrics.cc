#include "eval/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>

namespace quarry::eval {

double NdcgAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k) {
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) dcg += it->second / std::log2(static_cast<double>(i) + 2.0);
  }
  std::vector<int> ideal;
  for (const auto& [d, r] : rel) {
    if (r > 0) ideal.push_back(r);
  }
  std::sort(ideal.begin(), ideal.end(), std::greater<int>());
  double idcg = 0;
  for (size_t i = 0; i < std::min(k, ideal.size()); ++i) idcg += ideal[i] / std::log2(static_cast<double>(i) + 2.0);
  return idcg > 0 ? dcg / idcg : 0.0;
}

double RecallAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k) {
  size_t relevant = 0, found = 0;
  for (const auto& [d, r] : rel) relevant += r > 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    found += it != rel.end() && it->second > 0;
  }
  return relevant ? static_cast<double>(found) / static_cast<double>(relevant) : 0.0;
}

double MrrAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k) {
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) return 1.0 / (static_cast<double>(i) + 1.0);
  }
  return 0.0;
}

namespace {

// Next code point of valid-enough UTF-8 (invalid bytes read as themselves).
uint32_t NextCodePoint(std::string_view s, size_t* i, size_t* len) {
  const unsigned char c = static_cast<unsigned char>(s[*i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (*i + n > s.size()) n = 1;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *len = n;
  return cp;
}

bool IsCjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x3040 && cp <= 0x30FF) ||
         (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FA1F);
}

bool IsPunctOrSpace(uint32_t cp) {
  if (cp < 0x80) return !std::isalnum(static_cast<int>(cp));
  return (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
         (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) || cp == 0xA0 ||
         cp == 0xB7 || cp == 0xAB || cp == 0xBB;
}

std::vector<std::string> Normalized(std::string_view s) {
  std::vector<std::string> out;
  for (auto& t : TextTokens(s)) {
    if (t != "a" && t != "an" && t != "the") out.push_back(std::move(t));
  }
  return out;
}

double F1Of(const std::vector<std::string>& p, const std::vector<std::string>& g) {
  if (p.empty() || g.empty()) return p.empty() && g.empty() ? 1.0 : 0.0;
  std::map<std::string, int> counts;
  for (const auto& t : g) ++counts[t];
  int common = 0;
  for (const auto& t : p) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) --it->second, ++common;
  }
  if (common == 0) return 0.0;
  const double prec = static_cast<double>(common) / p.size(), rec = static_cast<double>(common) / g.size();
  return 2 * prec * rec / (prec + rec);
}

// BLEU tokens as sacreBLEU makes them: mteval-v13a rules (ASCII symbols
// split off; '.' and ',' too unless between digits; '-' after a digit;
// apostrophes stay in words), with CJK characters and CJK punctuation alone
// (its "zh" tokenizer).
std::vector<std::string> BleuTokens(std::string_view s) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    if (!w.empty()) out.push_back(std::move(w)), w.clear();
  };
  auto digit_at = [&](size_t at) { return at < s.size() && std::isdigit(static_cast<unsigned char>(s[at])); };
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = NextCodePoint(s, &i, &len);
    const std::string ch(s.substr(i, len));
    bool alone = false;
    if (cp < 0x80) {
      const char c = static_cast<char>(cp);
      alone = (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= '!' && c <= '&') || (c >= '(' && c <= '+') ||
              (c >= ':' && c <= '@') || c == '/' ||
              ((c == '.' || c == ',') && !(i > 0 && digit_at(i - 1) && digit_at(i + 1))) || (c == '-' && i > 0 && digit_at(i - 1));
    } else {
      alone = IsCjk(cp) || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF65 && IsPunctOrSpace(cp));
    }
    i += len;
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') {
      flush();
    } else if (alone) {
      flush();
      out.push_back(ch);
    } else {
      w += ch;
    }
  }
  flush();
  return out;
}

}  // namespace

std::vector<std::string> TextTokens(std::string_view s) {
  std::vector<std::string> out;
  std::string w;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = NextCodePoint(s, &i, &len);
    if (IsCjk(cp)) {
      if (!w.empty()) out.push_back(std::move(w)), w.clear();
      out.emplace_back(s.substr(i, len));
    } else if (IsPunctOrSpace(cp)) {
      if (!w.empty()) out.push_back(std::move(w)), w.clear();
    } else if (cp < 0x80) {
      w += static_cast<char>(std::tolower(static_cast<int>(cp)));
    } else {
      w.append(s.substr(i, len));
    }
    i += len;
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

double ExactMatch(std::string_view prediction, const std::vector<std::string>& golds) {
  const auto p = Normalized(prediction);
  for (const auto& g : golds) {
    if (p == Normalized(g)) return 1.0;
  }
  return 0.0;
}

double TokenF1(std::string_view prediction, const std::vector<std::string>& golds) {
  const auto p = Normalized(prediction);
  double best = 0;
  for (const auto& g : golds) best = std::max(best, F1Of(p, Normalized(g)));
  return best;
}

bool AnswerContains(std::string_view prediction, const std::vector<std::string>& golds) {
  const auto p = Normalized(prediction);
  for (const auto& g : golds) {
    const auto t = Normalized(g);
    if (!t.empty() && std::search(p.begin(), p.end(), t.begin(), t.end()) != p.end()) return true;
  }
  return false;
}

double RougeL(std::string_view prediction, const std::vector<std::string>& references) {
  double best = 0;
  for (const auto& ref : references) best = std::max(best, RougeL(prediction, ref));
  return best;
}

double RougeL(std::string_view prediction, std::string_view reference) {
  const auto p = TextTokens(prediction), r = TextTokens(reference);
  if (p.empty() || r.empty()) return 0.0;
  std::vector<int> prev(r.size() + 1, 0), cur(r.size() + 1, 0);
  for (size_t i = 1; i <= p.size(); ++i) {
    for (size_t j = 1; j <= r.size(); ++j) cur[j] = p[i - 1] == r[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  const double lcs = prev[r.size()];
  if (lcs == 0) return 0.0;
  const double prec = lcs / p.size(), rec = lcs / r.size();
  return 2 * prec * rec / (prec + rec);
}

namespace {

std::vector<std::string> ChrFChars(std::string_view s) {
  std::vector<std::string> c;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = NextCodePoint(s, &i, &len);
    if (cp != ' ' && cp != '\t' && cp != '\n' && cp != '\r') c.emplace_back(s.substr(i, len));
    i += len;
  }
  return c;
}

constexpr int kChrFOrder = 6;
// Per order n: hypothesis n-grams, reference n-grams, matches.
using ChrFStats = std::array<double, 3 * kChrFOrder>;

ChrFStats ChrFSentence(const std::vector<std::string>& h, const std::vector<std::string>& r) {
  ChrFStats st{};
  for (int n = 1; n <= kChrFOrder; ++n) {
    std::map<std::string, int> hc, rc;
    for (size_t i = 0; i + n <= h.size(); ++i) {
      std::string g;
      for (int j = 0; j < n; ++j) g += h[i + j];
      ++hc[g];
    }
    for (size_t i = 0; i + n <= r.size(); ++i) {
      std::string g;
      for (int j = 0; j < n; ++j) g += r[i + j];
      ++rc[g];
    }
    double match = 0;
    for (const auto& [g, c] : hc) {
      auto it = rc.find(g);
      if (it != rc.end()) match += std::min(c, it->second);
    }
    st[3 * (n - 1)] = h.size() >= static_cast<size_t>(n) ? static_cast<double>(h.size() - n + 1) : 0;
    st[3 * (n - 1) + 1] = r.size() >= static_cast<size_t>(n) ? static_cast<double>(r.size() - n + 1) : 0;
    st[3 * (n - 1) + 2] = match;
  }
  return st;
}

// sacreBLEU's chrF (eps_smoothing off): precision and recall averaged over the
// orders both sides have, then F-beta with beta 2.
double ChrFScore(const ChrFStats& st) {
  constexpr double kB2 = 4.0;
  double prec = 0, rec = 0;
  int orders = 0;
  for (int n = 0; n < kChrFOrder; ++n) {
    const double hyp = st[3 * n], ref = st[3 * n + 1], match = st[3 * n + 2];
    if (hyp == 0 || ref == 0) continue;
    prec += match / hyp;
    rec += match / ref;
    ++orders;
  }
  if (orders == 0) return 0.0;
  prec /= orders;
  rec /= orders;
  if (prec + rec == 0) return 0.0;
  return 100.0 * (1 + kB2) * prec * rec / (kB2 * prec + rec);
}

std::vector<std::vector<std::string>> OneEach(const std::vector<std::string>& refs) {
  std::vector<std::vector<std::string>> out;
  out.reserve(refs.size());
  for (const auto& r : refs) out.push_back({r});
  return out;
}

}  // namespace

std::vector<double> ChrFSentenceStats(std::string_view hyp, const std::vector<std::string>& refs) {
  const auto h = ChrFChars(hyp);
  // Several references: the statistics of the one this hypothesis matches best.
  ChrFStats best{};
  double best_f = -1;
  for (const auto& ref : refs) {
    const ChrFStats st = ChrFSentence(h, ChrFChars(ref));
    const double f = ChrFScore(st);
    if (f > best_f) best_f = f, best = st;
  }
  return std::vector<double>(best.begin(), best.end());
}

double ChrFFromStats(const std::vector<double>& summed) {
  ChrFStats st{};
  for (size_t i = 0; i < st.size() && i < summed.size(); ++i) st[i] = summed[i];
  return ChrFScore(st);
}

double CorpusChrF(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs) {
  std::vector<double> total(3 * kChrFOrder, 0.0);
  for (size_t k = 0; k < hyps.size() && k < refs.size(); ++k) {
    const auto st = ChrFSentenceStats(hyps[k], refs[k]);
    for (size_t i = 0; i < total.size(); ++i) total[i] += st[i];
  }
  return ChrFFromStats(total);
}

double CorpusChrF(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  return CorpusChrF(hyps, OneEach(refs));
}

std::vector<double> BleuSentenceStats(std::string_view hyp, const std::vector<std::string>& refs) {
  std::vector<double> st(10, 0.0);  // correct[4], total[4], hypothesis length, reference length
  if (refs.empty()) return st;
  const auto h = BleuTokens(hyp);
  std::vector<std::vector<std::string>> rs;
  for (const auto& r : refs) rs.push_back(BleuTokens(r));
  // The reference length closest to the hypothesis's (ties: the shorter).
  size_t closest = rs[0].size();
  const auto dist = [&](size_t len) { return len > h.size() ? len - h.size() : h.size() - len; };
  for (const auto& r : rs) {
    if (dist(r.size()) < dist(closest) || (dist(r.size()) == dist(closest) && r.size() < closest)) closest = r.size();
  }
  st[8] = static_cast<double>(h.size());
  st[9] = static_cast<double>(closest);
  for (int n = 1; n <= 4; ++n) {
    std::map<std::vector<std::string>, int> hc, max_rc;
    for (size_t i = 0; i + n <= h.size(); ++i) ++hc[std::vector<std::string>(h.begin() + i, h.begin() + i + n)];
    // Each n-gram is clipped by its largest count in any one reference.
    for (const auto& r : rs) {
      std::map<std::vector<std::string>, int> rc;
      for (size_t i = 0; i + n <= r.size(); ++i) ++rc[std::vector<std::string>(r.begin() + i, r.begin() + i + n)];
      for (const auto& [g, c] : rc) max_rc[g] = std::max(max_rc[g], c);
    }
    for (const auto& [g, c] : hc) {
      auto it = max_rc.find(g);
      if (it != max_rc.end()) st[n - 1] += std::min(c, it->second);
    }
    st[4 + n - 1] = h.size() >= static_cast<size_t>(n) ? static_cast<double>(h.size() - n + 1) : 0;
  }
  return st;
}

double BleuFromStats(const std::vector<double>& st) {
  if (st.size() < 10 || st[8] == 0) return 0.0;
  double log_sum = 0, smooth = 1;
  for (int n = 0; n < 4; ++n) {
    const double correct = st[n], total = st[4 + n];
    if (total == 0) return 0.0;
    double p;
    if (correct == 0) {
      smooth *= 2;
      p = 1.0 / (smooth * total);
    } else {
      p = correct / total;
    }
    log_sum += std::log(p) / 4;
  }
  const double hyp_len = st[8], ref_len = st[9];
  const double bp = hyp_len < ref_len ? std::exp(1 - ref_len / hyp_len) : 1.0;
  return 100.0 * bp * std::exp(log_sum);
}

double CorpusBleu(const std::vector<std::string>& hyps, const std::vector<std::vector<std::string>>& refs) {
  std::vector<double> total(10, 0.0);
  for (size_t k = 0; k < hyps.size() && k < refs.size(); ++k) {
    const auto st = BleuSentenceStats(hyps[k], refs[k]);
    for (size_t i = 0; i < total.size(); ++i) total[i] += st[i];
  }
  return BleuFromStats(total);
}

double CorpusBleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  return CorpusBleu(hyps, OneEach(refs));
}

}  // namespace quarry::eval
