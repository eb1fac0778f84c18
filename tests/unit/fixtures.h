// Small real files the loader tests write themselves.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace quarry::test {

// A valid PDF with one page per string (Helvetica, ASCII text).
std::string MakePdf(const std::vector<std::string>& pages);
// A DOCX whose paragraphs are (style, text); style "" or e.g. "Heading1".
void WriteDocx(const std::string& path, const std::vector<std::pair<std::string, std::string>>& paragraphs);
void WriteFile(const std::string& path, const std::string& content);
std::string ReadFileBytes(const std::string& path);

}  // namespace quarry::test
