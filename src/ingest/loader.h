// Loaders: a file (or stdin) -> documents with extracted UTF-8 text.
// One file per format in this folder; LoadPath dispatches on the extension.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/status.h"

namespace quarry {

struct Section {
  size_t start = 0, end = 0;  // byte range of the document text
  std::string heading;        // heading path, " > " separated ("" at top level)
};

struct LoadedDocument {
  std::string source;    // path, or path#record-id
  std::string title;
  std::string text;      // valid, NFC-normalised UTF-8; never empty
  std::vector<Section> sections;  // ordered, non-overlapping; empty = one untitled section
  std::string metadata;  // JSON object ("{}" when none)
  std::string content_hash;
};

struct LoadOptions {
  uint64_t max_file_bytes = 100ull << 20;  // larger files are refused unread (JSONL/CSV stream instead)
  std::string text_column = "text";        // CSV
  std::string metadata = "{}";             // JSON object merged into every document's metadata
  uint64_t max_record_bytes = 16ull << 20; // a JSONL line or CSV record
  size_t max_html_depth = 1024;            // deeper element nesting is refused before parsing
  size_t max_html_nodes = 500000;          // more elements are refused before parsing
  size_t html_piece_bytes = 1u << 20;      // larger pages are parsed in pieces of about this size
  double max_zip_ratio = 200;              // DOCX text: unpacked / packed
};

// Receives each document of a file, or the failure of one record (its source
// says which); the file's own failure is LoadPath's return value.
using DocumentSink = std::function<void(Result<LoadedDocument>)>;

// A whole file; larger than max_bytes is refused unread. Errors name the path.
Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes = UINT64_MAX);

// Extensions LoadPath understands (for directory walks).
bool IsSupportedExtension(const std::string& path);

Status LoadPath(const std::string& path, const LoadOptions& options, const DocumentSink& sink);
// In-memory content (stdin) treated as plain text or Markdown.
Result<LoadedDocument> LoadBytes(const std::string& source, std::string bytes, const LoadOptions& options);

// Shared by the loaders. StampDocument merges --meta into the document's
// metadata and sets its content hash from the raw bytes (so the caller can
// free them before FinishDocument); FinishDocument checks UTF-8 and
// emptiness and normalises the text.
void StampDocument(LoadedDocument* doc, std::string_view raw, const LoadOptions& options);
Result<LoadedDocument> FinishDocument(LoadedDocument doc);

// Format-specific extraction (ingest/load_*.cc).
Status ExtractMarkdown(std::string_view text, LoadedDocument* doc);
Status ExtractHtml(std::string_view html, LoadedDocument* doc, const LoadOptions& options);
Status ExtractPdf(const std::string& bytes, LoadedDocument* doc);
Status ExtractDocx(const std::string& path, LoadedDocument* doc, const LoadOptions& options);
Status LoadJsonRecords(const std::string& path, const LoadOptions& options, const DocumentSink& sink);
Status LoadCsvRecords(const std::string& path, const LoadOptions& options, const DocumentSink& sink);

}  // namespace quarry
