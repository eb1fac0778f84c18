#include "ingest/loader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "text/utf8.h"
#include "util/sha256.h"

namespace quarry {
namespace fs = std::filesystem;

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Ext(const std::string& path) { return Lower(fs::path(path).extension().string()); }

std::string Printable(std::string_view head) {
  std::string out;
  for (char c : head.substr(0, 12)) out += (c >= 32 && c < 127) ? c : '.';
  return out;
}

bool LooksBinary(std::string_view s) { return s.substr(0, 8192).find('\0') != std::string_view::npos; }

// Why bytes with NULs are not a text document: UTF-16/32 text (a byte-order
// mark, or ASCII with a zero beside every character) says how to convert it.
std::string NotText(std::string_view s) {
  auto starts = [&](std::string_view bom) { return s.substr(0, bom.size()) == bom; };
  const std::string convert = "; convert it to UTF-8 first (iconv -f %s -t UTF-8)";
  auto say = [&](const char* what, const char* enc) {
    std::string m = std::string(what) + convert;
    m.replace(m.find("%s"), 2, enc);
    return m;
  };
  if (starts(std::string_view("\xFF\xFE\0\0", 4)) || starts(std::string_view("\0\0\xFE\xFF", 4))) return say("UTF-32 text", "UTF-32");
  if (starts("\xFF\xFE") || starts("\xFE\xFF")) return say("UTF-16 text", "UTF-16");
  const std::string_view head = s.substr(0, 8192);
  size_t even = 0, odd = 0, ascii = 0;
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\0') (i % 2 ? odd : even)++;
    else if (static_cast<unsigned char>(head[i]) < 0x80) ++ascii;
  }
  const size_t half = head.size() / 2;
  if (half > 0 && (odd * 10 >= half * 9 || even * 10 >= half * 9) && ascii * 10 >= half * 9) {
    return say(odd > even ? "UTF-16LE text" : "UTF-16BE text", odd > even ? "UTF-16LE" : "UTF-16BE");
  }
  return "binary data (contains NUL bytes), not a text document";
}

}  // namespace

Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return Status::IOError(path + ": " + ec.message());
  if (size > max_bytes) {
    return Status::InvalidArgument(path + ": too large (" + std::to_string(size >> 20) + " MiB; the limit is " +
                                   std::to_string(max_bytes >> 20) + " MiB)")
        .About("max_file_bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot read: " + std::strerror(errno));
  std::string data(size, '\0');
  if (!in.read(data.data(), static_cast<std::streamsize>(size))) return Status::IOError(path + ": read failed");
  return data;
}

bool IsSupportedExtension(const std::string& path) {
  static const char* exts[] = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".jsonl", ".json", ".csv", ".rst", ".log"};
  const std::string e = Ext(path);
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* x) { return e == x; });
}

void StampDocument(LoadedDocument* doc, std::string_view raw, const LoadOptions& options) {
  // Merge --meta into the document's own metadata.
  nlohmann::json meta = nlohmann::json::parse(doc->metadata.empty() ? "{}" : doc->metadata, nullptr, false);
  if (!meta.is_object()) meta = nlohmann::json::object();
  nlohmann::json extra = nlohmann::json::parse(options.metadata, nullptr, false);
  if (extra.is_object()) meta.update(extra);
  doc->metadata = meta.dump();
  doc->content_hash = Sha256Hex({raw, std::string_view("\0", 1), doc->metadata});
}

Result<LoadedDocument> FinishDocument(LoadedDocument doc) {
  const size_t bad = text::FindInvalidUtf8(doc.text);
  if (bad != std::string::npos) {
    return Status::Corruption(doc.source + ": invalid UTF-8 at byte " + std::to_string(bad) + "; convert it to UTF-8 first (e.g. iconv)");
  }
  if (doc.text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
    return Status::InvalidArgument(doc.source + ": empty document (no text to index)");
  }
  // NFC can change byte lengths; sections are recomputed from the normalised pieces.
  if (doc.sections.empty()) {
    doc.text = text::NormalizeText(doc.text);
  } else {
    std::string norm;
    norm.reserve(doc.text.size() + doc.text.size() / 16);  // one allocation, not a doubling's slack
    std::vector<Section> secs;
    for (const Section& s : doc.sections) {
      Section n{norm.size(), 0, s.heading};
      norm += text::NormalizeText(std::string_view(doc.text).substr(s.start, s.end - s.start));
      n.end = norm.size();
      if (n.end > n.start) secs.push_back(n);
    }
    doc.text = std::move(norm);
    doc.sections = std::move(secs);
  }
  return doc;
}

Result<LoadedDocument> LoadBytes(const std::string& source, std::string bytes, const LoadOptions& options) {
  LoadedDocument doc;
  doc.source = source;
  if (LooksBinary(bytes)) return Status::InvalidArgument(source + ": " + NotText(bytes));
  if (text::FindInvalidUtf8(bytes) != std::string::npos) {
    doc.text = bytes;
    StampDocument(&doc, bytes, options);
    return FinishDocument(std::move(doc));  // reports the byte offset
  }
  QUARRY_RETURN_IF_ERROR(ExtractMarkdown(bytes, &doc));
  StampDocument(&doc, bytes, options);
  return FinishDocument(std::move(doc));
}

Status LoadPath(const std::string& path, const LoadOptions& options, const DocumentSink& sink) {
  const std::string ext = Ext(path);
  if (ext == ".jsonl" || ext == ".json") return LoadJsonRecords(path, options, sink);
  if (ext == ".csv") return LoadCsvRecords(path, options, sink);

  LoadedDocument doc;
  doc.source = path;
  if (ext == ".docx") {
    std::error_code ec;
    if (fs::file_size(path, ec) > options.max_file_bytes) {
      return Status::InvalidArgument(path + ": too large (over the file size limit)").About("max_file_bytes");
    }
    QUARRY_RETURN_IF_ERROR(ExtractDocx(path, &doc, options));
    {
      auto raw = ReadFile(path, options.max_file_bytes);
      if (!raw.ok()) return raw.status();
      StampDocument(&doc, *raw, options);
    }
    auto d = FinishDocument(std::move(doc));
    if (!d.ok()) return d.status();
    sink(std::move(d));
    return Status::OK();
  }
  auto raw = ReadFile(path, options.max_file_bytes);
  if (!raw.ok()) return raw.status();
  if (ext == ".pdf") {
    if (raw->compare(0, 5, "%PDF-") != 0) return Status::Corruption(path + ": not a PDF (starts with '" + Printable(*raw) + "')");
    QUARRY_RETURN_IF_ERROR(ExtractPdf(*raw, &doc));
  } else {
    if (LooksBinary(*raw)) return Status::InvalidArgument(path + ": " + NotText(*raw));
    const size_t bad = text::FindInvalidUtf8(*raw);
    if (bad != std::string::npos) {
      return Status::Corruption(path + ": invalid UTF-8 at byte " + std::to_string(bad) + "; convert it to UTF-8 first (e.g. iconv)");
    }
    if (ext == ".html" || ext == ".htm") {
      QUARRY_RETURN_IF_ERROR(ExtractHtml(*raw, &doc, options));
    } else if (ext == ".md" || ext == ".markdown") {
      QUARRY_RETURN_IF_ERROR(ExtractMarkdown(*raw, &doc));
    } else {
      doc.text = std::move(*raw);  // plain text: the raw bytes are the text
      raw->clear();
    }
  }
  StampDocument(&doc, raw->empty() ? std::string_view(doc.text) : std::string_view(*raw), options);
  // The raw bytes are not needed past the hash: free them before normalising
  // makes another copy of the text. (Swap: assigning an empty string keeps
  // the buffer.)
  std::string().swap(*raw);
  auto d = FinishDocument(std::move(doc));
  if (!d.ok()) return d.status();
  sink(std::move(d));
  return Status::OK();
}

}  // namespace quarry
