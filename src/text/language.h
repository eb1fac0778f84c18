// Which natural language a text is written in.
#pragma once

#include <string>
#include <string_view>

namespace quarry::text {

// The English name of text's language ("French", "Chinese", "Traditional
// Chinese"), told from its first 16 KiB by CLD2 (83 languages), or "" when the
// text is too short or mixed to tell reliably. text must be valid UTF-8.
std::string LanguageOf(std::string_view text);

}  // namespace quarry::text
