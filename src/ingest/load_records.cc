// Record files, streamed one record at a time (no size limit):
//  - JSONL / JSON in BEIR corpus form: {"_id", "title", "text", "metadata"}
//  - CSV with a header row; --text-column names the text (default "text"),
//    "_id"/"id" and "title" columns are used when present, the rest is metadata.
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "ingest/loader.h"
#include "text/utf8.h"

namespace quarry {
using nlohmann::json;

namespace {

// ":12" / "[3]": where a record sits in its file. (Built with += : GCC 12
// warns falsely (-Wrestrict) on "literal" + std::to_string(n).)
std::string Where(const char* open, size_t n, const char* close) {
  std::string w = open;
  w += std::to_string(n);
  w += close;
  return w;
}

std::string IdString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return {};
}

// One BEIR-style record -> document (or the reason it is not one).
Result<LoadedDocument> FromRecord(const std::string& path, const std::string& where, const json& rec,
                                  const std::string& raw, const LoadOptions& options) {
  if (!rec.is_object()) return Status::Corruption(path + where + ": record is not a JSON object");
  std::string id = rec.contains("_id") ? IdString(rec["_id"]) : rec.contains("id") ? IdString(rec["id"]) : std::string();
  if (id.empty()) return Status::InvalidArgument(path + where + ": record has no \"_id\" (string or integer)");
  if (!rec.contains("text") || !rec["text"].is_string()) {
    return Status::InvalidArgument(path + where + ": record " + id + " has no string \"text\"");
  }
  LoadedDocument doc;
  doc.source = path + "#" + id;
  std::string title = rec.contains("title") && rec["title"].is_string() ? rec["title"].get<std::string>() : std::string();
  const std::string body = rec["text"].get<std::string>();
  doc.title = title;
  // Title and text form one field, as BEIR's "flat" baselines index them.
  doc.text = title.empty() ? body : title + "\n\n" + body;
  json meta = rec.contains("metadata") && rec["metadata"].is_object() ? rec["metadata"] : json::object();
  meta["_id"] = id;
  doc.metadata = meta.dump();
  StampDocument(&doc, raw, options);
  return FinishDocument(std::move(doc));
}

std::string MiB(uint64_t n) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  return b;
}

// One line into *line, without its '\n'. false at the end of the input. A
// line longer than max is skipped to its end and *too_long set.
bool ReadLine(std::istream& in, std::string* line, uint64_t max, bool* too_long) {
  line->clear();
  *too_long = false;
  int c;
  bool any = false;
  while ((c = in.get()) != EOF) {
    any = true;
    if (c == '\n') return true;
    if (line->size() >= max) {
      *too_long = true;
      line->clear();
      line->shrink_to_fit();
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      return true;
    }
    *line += static_cast<char>(c);
  }
  return any;
}

// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines.
// A row over max bytes stops the read (*too_long): without its end, where the
// next row starts cannot be known (an unclosed quote).
bool ReadCsvRow(std::istream& in, std::vector<std::string>* row, size_t* line, uint64_t max, bool* too_long) {
  row->clear();
  *too_long = false;
  std::string field;
  bool quoted = false, any = false;
  uint64_t bytes = 0;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    if (++bytes > max) {
      *too_long = true;
      return true;
    }
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') {
          field += '"';
          in.get();
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++*line;
        field += static_cast<char>(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row->push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++*line;
      break;
    } else if (c != '\r') {
      field += static_cast<char>(c);
    }
  }
  if (!any) return false;
  row->push_back(std::move(field));
  return true;
}

}  // namespace

Status LoadJsonRecords(const std::string& path, const LoadOptions& options, const DocumentSink& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot read");
  const bool jsonl = path.size() >= 6 && (path.compare(path.size() - 6, 6, ".jsonl") == 0 || path.compare(path.size() - 6, 6, ".JSONL") == 0);
  if (!jsonl) {
    // A .json file: one object, or an array of objects (read whole, within the size limit).
    std::error_code ec;
    if (std::filesystem::file_size(path, ec) > options.max_file_bytes) {
      return Status::InvalidArgument(path + ": too large for a .json file; write it as .jsonl (one record per line) to stream it");
    }
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text::FindInvalidUtf8(raw) != std::string::npos) return Status::Corruption(path + ": invalid UTF-8");
    json j = json::parse(raw, nullptr, false);
    if (j.is_discarded()) return Status::Corruption(path + ": not valid JSON");
    if (j.is_object()) j = json::array({j});
    if (!j.is_array()) return Status::Corruption(path + ": expected a JSON object or an array of objects");
    for (size_t i = 0; i < j.size(); ++i) sink(FromRecord(path, Where("[", i, "]"), j[i], j[i].dump(), options));
    return Status::OK();
  }
  std::string line;
  size_t n = 0;
  bool too_long = false;
  while (ReadLine(in, &line, options.max_record_bytes, &too_long)) {
    ++n;
    const std::string where = Where(":", n, "");
    if (too_long) {
      sink(Status::InvalidArgument(path + where + ": line is longer than the record size limit of " + MiB(options.max_record_bytes))
               .About("max_record_bytes"));
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (text::FindInvalidUtf8(line) != std::string::npos) {
      sink(Status::Corruption(path + where + ": invalid UTF-8"));
      continue;
    }
    json rec = json::parse(line, nullptr, false);
    if (rec.is_discarded()) {
      sink(Status::Corruption(path + where + ": not valid JSON"));
      continue;
    }
    auto d = FromRecord(path, where, rec, line, options);
    sink(std::move(d));
  }
  if (n == 0) return Status::InvalidArgument(path + ": empty file");
  return Status::OK();
}

Status LoadCsvRecords(const std::string& path, const LoadOptions& options, const DocumentSink& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot read");
  std::vector<std::string> header, row;
  size_t line = 1;
  bool too_long = false;
  if (!ReadCsvRow(in, &header, &line, options.max_record_bytes, &too_long)) return Status::InvalidArgument(path + ": empty file");
  if (too_long) {
    return Status::InvalidArgument(path + ": the header row is longer than the record size limit of " + MiB(options.max_record_bytes) +
                                   " (not a CSV file?)")
        .About("max_record_bytes");
  }
  if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);  // BOM
  // Column names become metadata keys: they must be text (found by fuzzing:
  // an invalid byte here aborted the whole add when the metadata was written).
  for (const auto& h : header) {
    if (text::FindInvalidUtf8(h) != std::string::npos) {
      return Status::Corruption(path + ":1: the header row is not valid UTF-8; convert the file to UTF-8 first (e.g. iconv)");
    }
  }
  int text_col = -1, id_col = -1, title_col = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == options.text_column) text_col = static_cast<int>(i);
    if (header[i] == "_id" || (header[i] == "id" && id_col < 0)) id_col = static_cast<int>(i);
    if (header[i] == "title") title_col = static_cast<int>(i);
  }
  if (text_col < 0) {
    std::string cols;
    for (const auto& h : header) cols += (cols.empty() ? "" : ", ") + h;
    return Status::InvalidArgument(path + ": no column '" + options.text_column + "' (columns: " + cols + "); choose the text column")
        .About("text_column");
  }
  size_t rowno = 0;
  while (true) {
    const size_t start_line = line + 0;
    if (!ReadCsvRow(in, &row, &line, options.max_record_bytes, &too_long)) break;
    ++rowno;
    if (too_long) {
      return Status::InvalidArgument(path + Where(":", start_line, "") + ": record is longer than the record size limit of " +
                                     MiB(options.max_record_bytes) + " (an unclosed quote?); the rest of the file was not read")
          .About("max_record_bytes");
    }
    if (row.size() == 1 && row[0].empty()) continue;
    const std::string where = Where(":", start_line, "");
    if (row.size() != header.size()) {
      sink(Status::Corruption(path + where + ": " + std::to_string(row.size()) + " fields, the header has " + std::to_string(header.size())));
      continue;
    }
    json rec = json::object();
    json meta = json::object();
    for (size_t i = 0; i < header.size(); ++i) {
      if (static_cast<int>(i) != text_col && static_cast<int>(i) != id_col && static_cast<int>(i) != title_col) meta[header[i]] = row[i];
    }
    rec["_id"] = id_col >= 0 ? row[static_cast<size_t>(id_col)] : "row" + std::to_string(rowno);
    rec["text"] = row[static_cast<size_t>(text_col)];
    if (title_col >= 0) rec["title"] = row[static_cast<size_t>(title_col)];
    rec["metadata"] = meta;
    std::string raw;
    for (const auto& f : row) raw += f + '\x1f';
    bool utf8 = true;
    for (const auto& f : row) utf8 = utf8 && text::FindInvalidUtf8(f) == std::string::npos;
    if (!utf8) {
      sink(Status::Corruption(path + where + ": invalid UTF-8"));
      continue;
    }
    sink(FromRecord(path, where, rec, raw, options));
  }
  return Status::OK();
}

}  // namespace quarry
