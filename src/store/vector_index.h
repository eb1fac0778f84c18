// Dense retrieval over the catalog's embeddings (inner product of L2-normalised
// vectors = cosine). Exact search below a size threshold; above it an HNSW
// graph (hnswlib) kept in dir/vectors.hnsw, brought up to date with the
// catalog on open (new chunks added, deleted ones marked) and saved.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "quarry/status.h"

namespace quarry {

class Catalog;

struct VectorIndexOptions {
  size_t exact_threshold = 20000;  // below this many vectors, search exhaustively
  size_t m = 16;                   // HNSW graph degree
  size_t ef_construction = 200;
  size_t ef_search = 96;
  bool force_ann = false;          // use HNSW whatever the size (tests, benchmarks)
  int build_threads = 0;           // threads inserting into the graph; 0: all hardware threads
};

class VectorIndex {
 public:
  static Result<std::unique_ptr<VectorIndex>> Open(Catalog& catalog, const std::string& model_id, size_t dim,
                                                   const VectorIndexOptions& options = {});
  virtual ~VectorIndex() = default;
  // Top k (chunk id, cosine similarity), best first.
  virtual std::vector<std::pair<int64_t, float>> Search(const float* query, size_t k) const = 0;
  virtual size_t size() const = 0;
  virtual bool approximate() const = 0;
};

// Exhaustive inner-product top-k over a row-major matrix (exposed for benchmarks).
std::vector<std::pair<int64_t, float>> ExactTopK(const float* matrix, const int64_t* ids, size_t n, size_t dim,
                                                 const float* query, size_t k);

}  // namespace quarry
