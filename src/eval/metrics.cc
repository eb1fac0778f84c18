#include "eval/metrics.h"

#include <algorithm>
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

// BLEU tokens: CJK characters and ASCII punctuation alone, the rest split on whitespace.
std::vector<std::string> BleuTokens(std::string_view s) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    if (!w.empty()) out.push_back(std::move(w)), w.clear();
  };
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = NextCodePoint(s, &i, &len);
    const std::string ch(s.substr(i, len));
    i += len;
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') {
      flush();
    } else if (IsCjk(cp) || (cp < 0x80 && std::ispunct(static_cast<int>(cp))) || (cp >= 0x3000 && cp <= 0x303F) ||
               (cp >= 0xFF00 && cp <= 0xFF65 && IsPunctOrSpace(cp))) {
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

double CorpusChrF(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  constexpr int kOrder = 6;
  constexpr double kBeta = 2.0;
  double match[kOrder] = {}, hyp_total[kOrder] = {}, ref_total[kOrder] = {};
  auto chars = [](std::string_view s) {
    std::vector<std::string> c;
    for (size_t i = 0; i < s.size();) {
      size_t len = 1;
      const uint32_t cp = NextCodePoint(s, &i, &len);
      if (cp != ' ' && cp != '\t' && cp != '\n' && cp != '\r') c.emplace_back(s.substr(i, len));
      i += len;
    }
    return c;
  };
  for (size_t k = 0; k < hyps.size() && k < refs.size(); ++k) {
    const auto h = chars(hyps[k]), r = chars(refs[k]);
    for (int n = 1; n <= kOrder; ++n) {
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
      for (const auto& [g, c] : hc) {
        auto it = rc.find(g);
        if (it != rc.end()) match[n - 1] += std::min(c, it->second);
      }
      hyp_total[n - 1] += h.size() >= static_cast<size_t>(n) ? h.size() - n + 1 : 0;
      ref_total[n - 1] += r.size() >= static_cast<size_t>(n) ? r.size() - n + 1 : 0;
    }
  }
  double prec = 0, rec = 0;
  int orders = 0;
  for (int n = 0; n < kOrder; ++n) {
    if (hyp_total[n] == 0 || ref_total[n] == 0) continue;
    prec += match[n] / hyp_total[n];
    rec += match[n] / ref_total[n];
    ++orders;
  }
  if (orders == 0) return 0.0;
  prec /= orders;
  rec /= orders;
  if (prec + rec == 0) return 0.0;
  const double b2 = kBeta * kBeta;
  return 100.0 * (1 + b2) * prec * rec / (b2 * prec + rec);
}

double CorpusBleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  double correct[4] = {}, total[4] = {};
  double hyp_len = 0, ref_len = 0;
  for (size_t k = 0; k < hyps.size() && k < refs.size(); ++k) {
    const auto h = BleuTokens(hyps[k]), r = BleuTokens(refs[k]);
    hyp_len += static_cast<double>(h.size());
    ref_len += static_cast<double>(r.size());
    for (int n = 1; n <= 4; ++n) {
      std::map<std::vector<std::string>, int> hc, rc;
      for (size_t i = 0; i + n <= h.size(); ++i) ++hc[std::vector<std::string>(h.begin() + i, h.begin() + i + n)];
      for (size_t i = 0; i + n <= r.size(); ++i) ++rc[std::vector<std::string>(r.begin() + i, r.begin() + i + n)];
      for (const auto& [g, c] : hc) {
        auto it = rc.find(g);
        if (it != rc.end()) correct[n - 1] += std::min(c, it->second);
      }
      total[n - 1] += h.size() >= static_cast<size_t>(n) ? h.size() - n + 1 : 0;
    }
  }
  if (hyp_len == 0) return 0.0;
  double log_sum = 0, smooth = 1;
  for (int n = 0; n < 4; ++n) {
    if (total[n] == 0) return 0.0;
    double p;
    if (correct[n] == 0) {
      smooth *= 2;
      p = 1.0 / (smooth * total[n]);
    } else {
      p = correct[n] / total[n];
    }
    log_sum += std::log(p) / 4;
  }
  const double bp = hyp_len < ref_len ? std::exp(1 - ref_len / hyp_len) : 1.0;
  return 100.0 * bp * std::exp(log_sum);
}

}  // namespace quarry::eval
