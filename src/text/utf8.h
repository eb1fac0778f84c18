// UTF-8 checks and normalisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quarry::text {

// Byte offset of the first invalid UTF-8 sequence, or npos when s is valid.
size_t FindInvalidUtf8(std::string_view s);

// Unicode NFC, CRLF/CR -> LF, other control characters (but \n and \t) dropped.
// Input must be valid UTF-8.
std::string NormalizeText(std::string_view s);

// Unicode NFKC (compatibility forms: full-width Latin and punctuation ->
// ASCII, ligatures split). Input must be valid UTF-8.
std::string Nfkc(std::string_view s);

// NFKC + case folding (for search terms). Input must be valid UTF-8.
std::string FoldCase(std::string_view s);

// Number of code points in s (valid UTF-8).
size_t CountCodepoints(std::string_view s);

// UTF-8 bytes of one code point (<= U+10FFFF).
std::string EncodeUtf8(uint32_t cp);

// Largest n <= max_bytes such that s[0, n) ends on a code point boundary.
size_t Utf8Floor(std::string_view s, size_t max_bytes);

// Length of s less a trailing sequence that is the start of a character still
// incomplete (more bytes may complete it). For text that arrives in pieces.
size_t Utf8CompletePrefix(std::string_view s);

// s with each invalid UTF-8 sequence (and a truncated tail) replaced by
// U+FFFD, so it is safe to print or put into JSON.
std::string ValidUtf8(std::string_view s);

}  // namespace quarry::text

namespace quarry::text {

// s with every occurrence of any of `markers` broken by a zero-width space
// (U+200B) after its first character, so a tokenizer that matches those
// strings as special tokens reads them as plain text. Longest match first;
// empty markers are ignored.
std::string BreakMarkers(std::string_view s, const std::vector<std::string>& markers);

}  // namespace quarry::text
