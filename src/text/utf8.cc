#include "text/utf8.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace quarry::text {

size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return i;
    i += static_cast<size_t>(n);
  }
  return std::string_view::npos;
}

namespace {
std::string Map(std::string_view s, int options) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(options));
  if (n < 0) return std::string(s);
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(out, &std::free);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}
}  // namespace

std::string NormalizeText(std::string_view s) {
  // In pieces of about 64 KiB, cut before an ASCII byte (nothing composes
  // with a following ASCII character), so memory stays near the text's size
  // (utf8proc decodes a whole input to 4 bytes per character), and ASCII
  // pieces skip utf8proc.
  constexpr size_t kPiece = 64 * 1024;
  std::string out;
  out.reserve(s.size());
  bool after_cr = false;
  auto emit = [&](std::string_view nfc) {
    for (char c : nfc) {
      if (after_cr && c == '\n') {
        after_cr = false;
        continue;
      }
      after_cr = c == '\r';
      if (c == '\r') {
        out += '\n';
      } else if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
        out += ' ';
      } else {
        out += c;
      }
    }
  };
  size_t at = 0;
  while (at < s.size()) {
    size_t end = std::min(s.size(), at + kPiece);
    while (end < s.size() && static_cast<unsigned char>(s[end]) >= 0x80) ++end;
    const std::string_view piece = s.substr(at, end - at);
    if (std::all_of(piece.begin(), piece.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
      emit(piece);
    } else {
      emit(Map(piece, UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    }
    at = end;
  }
  return out;
}

std::string Nfkc(std::string_view s) { return Map(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT); }

std::string FoldCase(std::string_view s) {
  return Map(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
}

size_t CountCodepoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

size_t Utf8Floor(std::string_view s, size_t max_bytes) {
  if (max_bytes >= s.size()) return s.size();
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

size_t Utf8CompletePrefix(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const size_t need = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

std::string ValidUtf8(std::string_view s) {
  size_t bad = FindInvalidUtf8(s);
  if (bad == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      out += s[i++];
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (len <= 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for the first byte; resynchronise on the next
      ++i;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
      continue;
    }
    out.append(s.substr(i, static_cast<size_t>(len)));
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string EncodeUtf8(uint32_t cp) {
  std::string o;
  if (cp < 0x80) {
    o += static_cast<char>(cp);
  } else if (cp < 0x800) {
    o += static_cast<char>(0xC0 | (cp >> 6));
    o += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    o += static_cast<char>(0xE0 | (cp >> 12));
    o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    o += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    o += static_cast<char>(0xF0 | (cp >> 18));
    o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    o += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return o;
}

std::string BreakMarkers(std::string_view s, const std::vector<std::string>& markers) {
  // Markers by first byte, longest first.
  std::vector<const std::string*> by_byte[256];
  for (const auto& m : markers) {
    if (!m.empty()) by_byte[static_cast<unsigned char>(m[0])].push_back(&m);
  }
  for (auto& b : by_byte) {
    std::sort(b.begin(), b.end(), [](const std::string* a, const std::string* c) { return a->size() > c->size(); });
  }
  static constexpr std::string_view kZeroWidthSpace = "\xE2\x80\x8B";
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const std::string* hit = nullptr;
    for (const std::string* m : by_byte[static_cast<unsigned char>(s[i])]) {
      if (s.compare(i, m->size(), *m) == 0) {
        hit = m;
        break;
      }
    }
    if (hit == nullptr) {
      out += s[i++];
      continue;
    }
    const auto lead = static_cast<unsigned char>((*hit)[0]);
    const size_t first = std::min(hit->size(), size_t{lead < 0x80 ? 1u : lead >= 0xF0 ? 4u : lead >= 0xE0 ? 3u : 2u});
    out.append(*hit, 0, first);
    out += kZeroWidthSpace;
    out.append(*hit, first);
    i += hit->size();
  }
  return out;
}

}  // namespace quarry::text
