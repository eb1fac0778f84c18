// BM25 over chunks, Lucene's formula (idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
// tf / (tf + k1 * (1 - b + b * dl / avgdl))), with impacts precomputed per
// posting so a query is a sum over its terms' posting lists.
//
// Derived from the catalog's analyzed terms and kept in one file beside the
// database (bm25.idx), stamped with the catalog generation and k1/b; a stale or
// missing file is rebuilt on open, and so is a damaged one (checksum and
// bounds are checked on load: the file is untrusted input).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "quarry/status.h"

namespace quarry {

class Catalog;

struct Bm25Params {
  float k1 = 0.9f;
  float b = 0.4f;
};

class Bm25Index {
 public:
  // Loads dir/bm25.idx if it reflects the catalog's current generation and
  // params, else rebuilds it from the catalog (and saves it when possible).
  static Result<std::unique_ptr<Bm25Index>> Open(Catalog& catalog, const Bm25Params& params);
  // An index from the bytes of a bm25.idx file, or null when they are not a
  // valid one for this generation and these parameters: bad magic, sizes,
  // checksum, or any offset out of bounds. Never trusts the bytes.
  static std::unique_ptr<Bm25Index> FromFileBytes(std::string bytes, int64_t generation, const Bm25Params& params);
  // Recomputes the checksum of bm25.idx bytes, so tests and fuzzers can reach
  // the checks behind it with damage the checksum would otherwise catch.
  static void ResealForTesting(std::string* bytes);
  // The bytes Save writes (tests and fuzzers).
  const std::string& file_bytes() const { return storage_; }
  // Builds in memory only.
  static Result<std::unique_ptr<Bm25Index>> Build(Catalog& catalog, const Bm25Params& params);
  ~Bm25Index();

  // Top k chunks for the analyzed query terms (duplicates count twice, as in Lucene).
  // Thread-safe: an index never changes once opened.
  std::vector<std::pair<int64_t, float>> Search(const std::vector<std::string>& terms, size_t k) const;

  // The document of an indexed chunk, or -1 when the index has no such
  // chunk. Of the catalog as of the index's generation: a search uses it only
  // while that is the catalog's present one.
  int64_t DocumentOf(int64_t chunk_id) const;

  size_t num_chunks() const { return n_docs_; }
  size_t num_terms() const { return n_terms_; }
  bool rebuilt() const { return rebuilt_; }

 private:
  Bm25Index() = default;
  int64_t FindTerm(std::string_view term) const;
  void BuildLookup();
  // Bounds of every offset and posting of a loaded file.
  bool Valid(uint64_t blob_bytes, uint64_t n_postings) const;
  void PointInto(uint32_t n_docs, uint32_t n_terms, uint64_t blob_bytes, uint64_t n_postings);
  Status Save(const std::string& path, int64_t generation, const Bm25Params& p) const;

  // Either owned vectors (built) or views into a mapped file (loaded).
  std::string storage_;         // file bytes when loaded
  const int64_t* chunk_ids_ = nullptr;  // ascending
  const int64_t* doc_ids_ = nullptr;    // per chunk: its document
  const uint64_t* term_offsets_ = nullptr;
  const char* term_blob_ = nullptr;
  const uint64_t* post_offsets_ = nullptr;
  const uint32_t* post_docs_ = nullptr;   // per posting: position of the chunk
  const float* post_impacts_ = nullptr;   // per posting: its BM25 contribution
  uint32_t n_docs_ = 0, n_terms_ = 0;
  bool rebuilt_ = false;
  std::unordered_map<std::string_view, uint32_t> lookup_;  // term -> id (BuildLookup, once opened)
  using Entry = std::pair<float, uint32_t>;  // (score, position)
};

}  // namespace quarry
