// The knowledge base's source of truth: one SQLite database (WAL) holding
// documents, chunks, their embeddings and their analyzed terms. BM25 and ANN
// indexes are derived from it (store/bm25_index.h, store/vector_index.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/status.h"
#include "store/sqlite.h"

namespace quarry {

struct DocumentRow {
  int64_t id = 0;
  std::string source;        // file path, or path#record-id for records of a JSONL/CSV file
  std::string content_hash;  // sha256 of the loaded content
  std::string metadata;      // JSON object
  std::string title;
  int64_t bytes = 0;
  int64_t chunks = 0;
  int64_t version = 1;       // bumped each time the content changes
  std::string created_at, updated_at;
};

struct ChunkRow {
  int64_t id = 0;
  int64_t doc_id = 0;
  int seq = 0;
  std::string text;
  int64_t start = 0, end = 0;  // code point offsets into the document's extracted text
  std::string heading;         // heading path, " > " separated
  int tokens = 0;              // embedding-model tokens
};

struct ChunkInput {
  ChunkRow row;                        // seq, offsets, heading, tokens; row.text is not read
  std::string_view text;               // the chunk's text, valid until PutDocument returns (a view
                                       // into the document: a large one is not held twice)
  std::vector<float> vector;           // empty when not embedded
  std::string encoded_terms;           // analyzed BM25 terms, Catalog::EncodeTerms (compact: a document's
                                       // terms as strings would take many times its size)
};

struct CatalogStats {
  int64_t documents = 0, chunks = 0, embeddings = 0, bytes = 0;
  std::string embed_model, embed_model_id;
  int64_t embed_dim = 0;
  int64_t generation = 0;
  int64_t schema_version = 0;
};

class Catalog {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens dir/quarry.db, creating dir and the schema when create is true.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& dir, bool create);

  const std::string& dir() const { return dir_; }
  sql::Db* db() { return db_.get(); }

  // Changes on every committed write; derived indexes record the value they reflect.
  Result<int64_t> Generation();

  Result<std::optional<DocumentRow>> FindBySource(const std::string& source);
  Result<std::optional<DocumentRow>> GetDocument(int64_t id);
  Result<std::vector<DocumentRow>> ListDocuments();
  Result<std::vector<ChunkRow>> DocumentChunks(int64_t doc_id);

  // Inserts the document or atomically replaces one with the same source.
  // Decided inside the write transaction, so concurrent writers each report
  // what they really did: a source another process stored meanwhile with the
  // same content is left alone (kUnchanged). The same content stored earlier
  // without embeddings, now put with them, has its chunks replaced and keeps
  // its id and version (kEmbedded).
  struct PutResult {
    enum Outcome { kAdded, kReplaced, kUnchanged, kEmbedded };
    int64_t doc_id = 0;
    Outcome outcome = kAdded;
  };
  Result<PutResult> PutDocument(const DocumentRow& doc, const std::vector<ChunkInput>& chunks, const std::string& model_id);
  Status DeleteDocument(int64_t id);

  Result<std::string> GetMeta(const std::string& key);
  Status SetMeta(const std::string& key, const std::string& value);

  Result<CatalogStats> Stats();
  Result<int64_t> CountEmbeddings(const std::string& model_id);
  // Whether any chunk of document doc_id has an embedding.
  Result<bool> HasEmbeddings(int64_t doc_id);

  // Scans for index (re)builds.
  Status ForEachChunkTerms(const std::function<void(int64_t chunk_id, int64_t doc_id, std::string_view blob)>& fn);
  Status ForEachEmbedding(const std::string& model_id, const std::function<void(int64_t chunk_id, const float* v, size_t dim)>& fn);

  struct ChunkView {
    ChunkRow chunk;
    std::string source, title, metadata;
  };
  Result<std::vector<ChunkView>> GetChunks(const std::vector<int64_t>& chunk_ids);
  // The document of each chunk that exists, as (chunk id, document id): what
  // a search needs of its candidates before it knows which it returns.
  Result<std::vector<std::pair<int64_t, int64_t>>> ChunkDocuments(const std::vector<int64_t>& chunk_ids);
  Result<std::vector<float>> GetEmbedding(int64_t chunk_id, const std::string& model_id);

  // Term blob codec: varint(len) bytes varint(tf) ...
  static std::string EncodeTerms(const std::vector<std::string>& terms);
  static void DecodeTerms(std::string_view blob, const std::function<void(std::string_view term, uint32_t tf)>& fn);

 private:
  Catalog(std::string dir, std::unique_ptr<sql::Db> db) : dir_(std::move(dir)), db_(std::move(db)) {}
  Status Migrate();
  Status MapForLookups();
  Status PutChunks(int64_t doc_id, const std::vector<ChunkInput>& chunks, const std::string& model_id);
  static std::string IdList(const std::vector<int64_t>& ids);
  std::string dir_;
  std::unique_ptr<sql::Db> db_;
  bool mapped_ = false;  // reads through a memory map (set by the first lookup by id)
};

}  // namespace quarry
