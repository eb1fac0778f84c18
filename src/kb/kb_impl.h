// KnowledgeBase internals shared by kb/knowledge_base.cc (ingest, catalog
// operations) and retrieve/search.cc (queries).
#pragma once

#include <memory>
#include <string>

#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "store/bm25_index.h"
#include "store/catalog.h"
#include "store/vector_index.h"
#include "text/analyzer.h"

namespace quarry {

struct KnowledgeBase::Impl {
  KnowledgeBaseOptions options;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<text::Analyzer> analyzer;
  std::unique_ptr<Embedder> embedder;      // loaded on first use
  // Shared with the process's other handles on this base (kb/shared_index.h);
  // reopened when the catalog generation moves.
  std::shared_ptr<const Bm25Index> bm25;
  std::shared_ptr<const VectorIndex> vectors;
  int64_t bm25_generation = -1, vectors_generation = -1;
  std::string embed_model;                 // what the user named (or the stored one)
  std::string base_id;                     // the catalog file's device:inode (IndexKey)

  Status EnsureEmbedder();
  // Bring the derived indexes up to the catalog's generation. A search
  // passes stale_ok: while another handle in the process opens the new
  // generation, it searches the previous one instead of waiting (see
  // kb/shared_index.h); writers must see their own changes. *current, when
  // given, says whether the BM25 index is of the generation just read.
  Status EnsureBm25(bool stale_ok = false, bool* current = nullptr);
  // Names this base's index of a kind and parameters in SharedIndex.
  std::string IndexKey(const std::string& kind, const std::string& params) const;
  Status EnsureVectors(bool stale_ok = false);
};

}  // namespace quarry
