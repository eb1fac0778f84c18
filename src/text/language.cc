#include "text/language.h"

#include <cctype>
#include <cstdio>  // compact_lang_det.h uses FILE without including it

#include <cld2/public/compact_lang_det.h>

#include "text/utf8.h"

namespace quarry::text {

std::string LanguageOf(std::string_view text) {
  const std::string_view head = text.substr(0, Utf8Floor(text, 16384));
  bool reliable = false;
  int valid_prefix = 0;
  const CLD2::Language lang =
      CLD2::DetectLanguageCheckUTF8(head.data(), static_cast<int>(head.size()), true, &reliable, &valid_prefix);
  if (!reliable || lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE) return "";
  if (lang == CLD2::CHINESE_T) return "Traditional Chinese";
  if (lang == CLD2::NORWEGIAN_N) return "Norwegian Nynorsk";
  // CLD2 names are upper case with underscores (SCOTS_GAELIC) but for a few
  // (Chinese, Japanese, Korean): write them as words.
  std::string name = CLD2::LanguageName(lang);
  bool start = true;
  for (char& c : name) {
    if (c == '_') {
      c = ' ';
      start = true;
    } else {
      c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
      start = false;
    }
  }
  return name;
}

}  // namespace quarry::text
