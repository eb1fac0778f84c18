// PDF via poppler-cpp: one section per page ("page N").
#include <poppler-document.h>
#include <poppler-page.h>

#include <memory>

#include "ingest/loader.h"

namespace quarry {

Status ExtractPdf(const std::string& bytes, LoadedDocument* doc) {
  std::unique_ptr<poppler::document> pdf(poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) return Status::Corruption(doc->source + ": damaged or truncated PDF (poppler cannot open it)");
  if (pdf->is_locked()) return Status::Unsupported(doc->source + ": encrypted PDF; decrypt it first (e.g. qpdf --decrypt)");
  const poppler::ustring title = pdf->get_title();
  if (!title.empty()) {
    auto t = title.to_utf8();
    doc->title.assign(t.begin(), t.end());
  }
  for (int i = 0; i < pdf->pages(); ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) continue;
    auto utf8 = page->text().to_utf8();
    Section s{doc->text.size(), 0, "page " + std::to_string(i + 1)};
    doc->text.append(utf8.begin(), utf8.end());
    doc->text += "\n\n";
    s.end = doc->text.size();
    doc->sections.push_back(s);
  }
  if (doc->text.find_first_not_of(" \t\r\n\f") == std::string::npos) {
    return Status::InvalidArgument(doc->source + ": PDF has no extractable text: its pages are images (a scan: run OCR first) or its text streams are damaged");
  }
  return Status::OK();
}

}  // namespace quarry
