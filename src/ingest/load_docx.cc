// DOCX: word/document.xml from the zip; paragraphs (<w:p>) of text runs
// (<w:t>, <w:tab/>, <w:br/>); paragraphs styled HeadingN start sections.
#include <cstdlib>
#include <string>
#include <vector>

#include "ingest/loader.h"
#include "util/zip_reader.h"

namespace quarry {
namespace {

void DecodeEntities(std::string_view s, std::string* out) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out->push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out->push_back('&');
      continue;
    }
    std::string_view e = s.substr(i + 1, semi - i - 1);
    uint32_t cp = 0;
    if (e == "amp") cp = '&';
    else if (e == "lt") cp = '<';
    else if (e == "gt") cp = '>';
    else if (e == "quot") cp = '"';
    else if (e == "apos") cp = '\'';
    else if (!e.empty() && e[0] == '#') cp = static_cast<uint32_t>(std::strtoul(std::string(e.substr(e.size() > 1 && (e[1] == 'x' || e[1] == 'X') ? 2 : 1)).c_str(), nullptr, e.size() > 1 && (e[1] == 'x' || e[1] == 'X') ? 16 : 10));
    if (cp == 0 || cp > 0x10FFFF) {
      out->push_back('&');
      continue;
    }
    if (cp < 0x80) out->push_back(static_cast<char>(cp));
    else if (cp < 0x800) { out->push_back(static_cast<char>(0xC0 | (cp >> 6))); out->push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
    else if (cp < 0x10000) { out->push_back(static_cast<char>(0xE0 | (cp >> 12))); out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); out->push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
    else { out->push_back(static_cast<char>(0xF0 | (cp >> 18))); out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F))); out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F))); out->push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
    i = semi;
  }
}

// Tag name of the element starting at xml[i] == '<' ("w:p", "/w:p", ...).
std::string_view TagName(std::string_view xml, size_t i) {
  size_t j = i + 1;
  while (j < xml.size() && xml[j] != ' ' && xml[j] != '>' && xml[j] != '/' && xml[j] != '\t' && xml[j] != '\n') ++j;
  if (j < xml.size() && xml[j] == '/' && j == i + 1) {  // closing tag
    ++j;
    while (j < xml.size() && xml[j] != '>' && xml[j] != ' ') ++j;
  }
  return xml.substr(i + 1, j - i - 1);
}

}  // namespace

Status ExtractDocx(const std::string& path, LoadedDocument* doc, const LoadOptions& options) {
  auto zip = ZipReader::Open(path);
  if (!zip.ok()) return Status::Corruption(path + ": not a DOCX file (not a zip archive)");
  // The unpacked text counts against the size limit: a small archive can hold
  // a huge document (or be a zip bomb).
  auto xml = zip->Read("word/document.xml", options.max_file_bytes, options.max_zip_ratio);
  if (!xml.ok()) {
    if (xml.status().code() == Status::Code::kNotFound) return Status::Corruption(path + ": not a DOCX file (no word/document.xml)");
    if (xml.status().code() == Status::Code::kInvalidArgument) {
      const bool ratio = xml.status().message().find("packed size") != std::string::npos;
      return Status::InvalidArgument(xml.status().message() +
                                     (ratio ? " (a zip bomb, or very repetitive text; raise the limit if it is genuine)"
                                            : " (the file size limit applies to the unpacked text)"))
          .About(ratio ? "max_zip_ratio" : "max_file_bytes");
    }
    return xml.status();
  }
  std::string_view x = *xml;
  std::vector<std::string> heads;
  Section cur{0, 0, ""};
  std::string para;
  int para_heading = 0;
  bool in_text = false;
  size_t text_start = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] != '<') continue;
    const size_t close = x.find('>', i);
    if (close == std::string_view::npos) break;
    std::string_view name = TagName(x, i);
    std::string_view tag = x.substr(i, close - i + 1);
    if (name == "w:t") {
      in_text = tag.size() < 2 || tag[tag.size() - 2] != '/';
      text_start = close + 1;
    } else if (name == "/w:t") {
      if (in_text) DecodeEntities(x.substr(text_start, i - text_start), &para);
      in_text = false;
    } else if (name == "w:tab") {
      para += '\t';
    } else if (name == "w:br" || name == "w:cr") {
      para += '\n';
    } else if (name == "w:pStyle") {
      size_t v = tag.find("w:val=\"");
      if (v != std::string_view::npos) {
        std::string_view val = tag.substr(v + 7, tag.find('"', v + 7) - v - 7);
        if (val.rfind("Heading", 0) == 0 && val.size() > 7 && val[7] >= '1' && val[7] <= '9') para_heading = val[7] - '0';
        else if (val == "Title") para_heading = 1;
      }
    } else if (name == "w:p" && tag.size() >= 2 && tag[tag.size() - 2] == '/') {
      doc->text += "\n";  // empty paragraph
    } else if (name == "/w:p") {
      if (para_heading > 0 && !para.empty()) {
        cur.end = doc->text.size();
        if (cur.end > cur.start) doc->sections.push_back(cur);
        heads.resize(static_cast<size_t>(para_heading));
        heads.back() = para;
        std::string joined;
        for (const auto& h : heads) {
          if (!h.empty()) joined += (joined.empty() ? "" : " > ") + h;
        }
        cur = Section{doc->text.size(), 0, joined};
        if (doc->title.empty()) doc->title = para;
      }
      doc->text += para;
      doc->text += "\n\n";
      para.clear();
      para_heading = 0;
    }
    i = close;
  }
  cur.end = doc->text.size();
  if (cur.end > cur.start) doc->sections.push_back(cur);
  return Status::OK();
}

}  // namespace quarry
