// Markdown: ATX headings (# .. ######) start sections whose heading path is
// the chain of enclosing headings; '#' lines inside code fences are text.
#include <vector>

#include "ingest/loader.h"

namespace quarry {

Status ExtractMarkdown(std::string_view text, LoadedDocument* doc) {
  doc->text.assign(text);
  std::vector<std::string> path;  // heading text per level (1..6)
  auto joined = [&] {
    std::string s;
    for (const auto& h : path) {
      if (h.empty()) continue;
      s += (s.empty() ? "" : " > ") + h;
    }
    return s;
  };
  Section cur{0, 0, ""};
  bool in_fence = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    size_t indent = line.find_first_not_of(' ');
    std::string_view t = indent == std::string_view::npos || indent > 3 ? std::string_view() : line.substr(indent);
    if (t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~") in_fence = !in_fence;
    size_t level = 0;
    while (!in_fence && level < t.size() && t[level] == '#') ++level;
    if (level >= 1 && level <= 6 && (level == t.size() || t[level] == ' ' || t[level] == '\t')) {
      std::string title(t.substr(level));
      while (!title.empty() && (title.back() == '#' || title.back() == ' ' || title.back() == '\t' || title.back() == '\r')) title.pop_back();
      size_t first = title.find_first_not_of(" \t");
      title = first == std::string::npos ? std::string() : title.substr(first);
      cur.end = pos;
      if (cur.end > cur.start) doc->sections.push_back(cur);
      path.resize(level);
      path[level - 1] = title;
      cur = Section{pos, 0, joined()};
      if (doc->title.empty() && level == 1) doc->title = title;
    }
    pos = eol + 1;
  }
  cur.end = text.size();
  if (cur.end > cur.start) doc->sections.push_back(cur);
  return Status::OK();
}

}  // namespace quarry
