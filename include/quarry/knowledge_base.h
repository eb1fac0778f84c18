// A knowledge base: documents ingested from files, chunked, embedded and
// indexed for BM25, dense and hybrid retrieval. One directory holds it: the
// SQLite catalog (the source of truth) and derived indexes rebuilt on demand.
//
// Threads and ownership: a KnowledgeBase object is not safe for concurrent
// use; give each thread its own. Any number of objects, in any number of
// threads and processes, may open the same directory at once: SQLite
// serialises writers (waiting, never failing, while another writes), and an
// object notices another's writes at its next call and reloads its derived
// indexes. Objects on one base in one process share those indexes: each new
// state is loaded once, and while it loads the other objects' searches use
// the previous one; an object's own Add and Remove return once every search
// started after them can see their changes. Option structs are plain values.
// Nothing returned refers back into the object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quarry/model.h"
#include "quarry/status.h"

namespace quarry {

struct KnowledgeBaseOptions {
  std::string dir = ".quarry";
  std::string embed_model;        // name or GGUF path; default: the one the base was built with, else kDefaultEmbedder
  int threads = 0;                // 0: all hardware threads
  float bm25_k1 = 0.9f;           // Lucene/Anserini BEIR defaults
  float bm25_b = 0.4f;
  std::string stemmer = "porter"; // libstemmer algorithm, or "none"
  size_t ann_threshold = 20000;   // exact dense search below this many vectors, HNSW above

  // InvalidArgument naming the field (Status::option) when one is out of
  // range: threads >= 0, k1 in [0, 10], b in [0, 1], dir not empty.
  Status Validate() const;
};

struct AddOptions {
  std::vector<std::string> globs;     // directory walks keep files whose name matches one (default: known types)
  std::string metadata = "{}";        // JSON object added to every document's metadata
  std::string text_column = "text";   // CSV
  // Limits on hostile or broken input; a file over one fails alone, with an
  // error that names the limit.
  uint64_t max_file_bytes = 100ull << 20;    // a file read whole; for DOCX, its unpacked text
  uint64_t max_record_bytes = 16ull << 20;   // one JSONL line or CSV record
  size_t max_html_depth = 1024;              // HTML element nesting
  size_t max_html_nodes = 500000;            // HTML elements (the parse tree takes ~400 bytes each)
  double max_zip_ratio = 200;                // DOCX: unpacked size / packed size of its text
  int64_t max_chunks = 100000;               // chunks of one document
  int chunk_tokens = 256;
  int overlap_tokens = 32;
  bool embed = true;                  // false: BM25 only (dense search sees these chunks once added again with embed)

  // Limits > 0, max_zip_ratio >= 1, chunk_tokens in [16, 8192],
  // overlap_tokens in [0, chunk_tokens), metadata a JSON object.
  Status Validate() const;
};

struct AddFailure {
  std::string source;
  std::string reason;
  std::string option;  // the AddOptions field whose limit it hit, if any (Status::option)
};

struct AddReport {
  int added = 0, unchanged = 0, replaced = 0, failed = 0;
  int embedded = 0;  // unchanged documents, stored before without embeddings, that now have them
  int64_t chunks = 0;                  // chunks written
  // Files a folder walk passed over: their type is not one Quarry reads (or
  // they match no --glob). Counted by extension, e.g. {".png": 3, "": 1}.
  std::map<std::string, int> skipped;
  std::vector<AddFailure> failures;
  // Where the time went, seconds: loading and extracting text, chunking, BM25
  // analysis, embedding, writing to the catalog, bringing derived indexes up to date.
  double total_s = 0, parse_s = 0, chunk_s = 0, analyze_s = 0, embed_s = 0, store_s = 0, index_s = 0;
};

struct AddProgress {
  int64_t files_done = 0, files_total = 0;  // files_total is known after the walk
  int64_t documents = 0, chunks = 0;
  std::string current;
};
using AddProgressFn = std::function<void(const AddProgress&)>;

struct Document {
  int64_t id = 0;
  std::string source, title, metadata, content_hash, created_at, updated_at;
  int64_t bytes = 0, chunks = 0, version = 0;
};

struct Chunk {
  int64_t id = 0, doc_id = 0;
  int seq = 0;
  std::string text, heading;
  int64_t start = 0, end = 0;  // code point offsets into the document's extracted text
  int tokens = 0;
};

struct KnowledgeBaseStats {
  std::string dir;
  int64_t documents = 0, chunks = 0, embeddings = 0, bytes = 0;
  std::string embed_model, embed_model_id;
  int64_t embed_dim = 0;
  int64_t schema_version = 0;
  int64_t db_bytes = 0, bm25_bytes = 0, hnsw_bytes = 0;
};

struct SearchOptions {
  enum class Mode { kHybrid, kBm25, kDense };
  enum class Fusion { kRrf, kWeighted };
  size_t k = 10;
  Mode mode = Mode::kHybrid;
  Fusion fusion = Fusion::kRrf;
  int rrf_k = 60;
  float dense_weight = 0.5f;      // weighted fusion: dense share of the min-max normalised scores
  size_t candidates = 100;        // per retriever, before fusion and filters (at least k)
  std::vector<std::string> where; // "key=value", "key!=value", "key>=3", "date<2024-01-01"
  bool mmr = false;               // maximal marginal relevance over the fused list
  float mmr_lambda = 0.7f;
  // A cross-encoder re-scores the first rerank_depth fused hits against the
  // query: they come first, in its order, SearchHit::rerank_score (and score)
  // its logit; any further hits follow in fused order. Applied before MMR.
  // Not owned; it must outlive the call.
  Reranker* reranker = nullptr;
  size_t rerank_depth = 30;
  // One hit per document: its first chunk in the fused ranking (later
  // chunks of a document are dropped after fusion, before the reranker and
  // MMR). k counts documents; each retriever reads 4x candidates chunks.
  bool per_document = false;

  // k in [1, 10000], candidates in [1, 100000], rrf_k >= 1, dense_weight and
  // mmr_lambda in [0, 1], rerank_depth in [1, 1000].
  Status Validate() const;
};

struct SearchHit {
  Chunk chunk;
  std::string source, title, metadata;
  double score = 0;
  std::optional<double> bm25_score, dense_score;
  int bm25_rank = 0, dense_rank = 0;  // 1-based; 0 when that retriever did not return it
  std::optional<double> rerank_score; // the cross-encoder's logit (also in score) when reranked
  int fused_rank = 0;                 // 1-based rank before reranking; 0 when not reranked
};

// The text Add would extract from one file (any supported format; JSONL and
// CSV records joined by blank lines), without storing anything. Errors name
// the file.
Result<std::string> ExtractText(const std::string& path, const AddOptions& options = {});

class KnowledgeBase {
 public:
  // create=false fails with NotFound when dir holds no knowledge base.
  static Result<std::unique_ptr<KnowledgeBase>> Open(const KnowledgeBaseOptions& options, bool create);
  ~KnowledgeBase();

  // Files, directories (recursive) and "-" (stdin). One bad file never stops the
  // batch: it is counted in the report. Unchanged files (same content hash) are skipped.
  Result<AddReport> Add(const std::vector<std::string>& paths, const AddOptions& options,
                        const AddProgressFn& progress = nullptr);

  // Removes documents by id, exact source, or glob over sources. Returns the removed sources.
  Result<std::vector<std::string>> Remove(const std::string& id_path_or_glob);

  Result<std::vector<Document>> ListDocuments();
  Result<std::optional<Document>> GetDocument(int64_t id);
  Result<std::vector<Chunk>> GetChunks(int64_t doc_id);
  // The document's extracted text, put back together from its chunks
  // (overlaps removed). NotFound when there is no such document.
  Result<std::string> GetDocumentText(int64_t doc_id);
  Result<KnowledgeBaseStats> Stats();

  Result<std::vector<SearchHit>> Search(const std::string& query, const SearchOptions& options);

  // Vectors of texts from the base's embedding model (L2-normalised: dot
  // product is cosine similarity), as documents or as queries (see
  // Embedder::Role). Loads the model on first use. InvalidArgument, before
  // any model loads, when a text is empty or only whitespace.
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                Embedder::Role role = Embedder::Role::kDocument);
  // Tokens Embed reads of text: the embedding model's count, at most its
  // max_tokens (longer texts are truncated). Loads the model on first use.
  Result<int> EmbeddingTokens(std::string_view text);
  // True when the base has embeddings (dense scores mean something).
  Result<bool> HasEmbeddings();
  // The embedding model's relevance threshold for query (Embedder::min_relevance).
  Result<double> MinRelevance(std::string_view query);

  // Analyzed BM25 terms of a text (for tests and tooling).
  std::vector<std::string> AnalyzeForBm25(const std::string& text);

 private:
  KnowledgeBase();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quarry
