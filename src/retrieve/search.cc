// KnowledgeBase::Search: BM25 and dense candidates, filters, fusion, an
// optional cross-encoder over the fused head, MMR.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "kb/kb_impl.h"
#include "retrieve/filter.h"
#include "retrieve/fusion.h"

namespace quarry {

Result<std::vector<SearchHit>> KnowledgeBase::Search(const std::string& query, const SearchOptions& o) {
  QUARRY_RETURN_IF_ERROR(o.Validate());
  Impl& im = *impl_;
  using Mode = SearchOptions::Mode;
  // An empty query would match nothing by BM25 and everything by vectors.
  if (query.find_first_not_of(" \t\r\n") == std::string::npos) return Status::InvalidArgument("the search query is empty");
  auto filters = ParseFilters(o.where);
  if (!filters.ok()) return filters.status();
  // Filters apply after retrieval, and documents hold several chunks: fetch
  // deeper so k survive them.
  const size_t depth = std::max(o.candidates, o.k) * (filters->empty() ? 1 : 10) * (o.per_document ? 4 : 1);

  Ranked sparse, dense;
  bool bm25_current = false;  // the BM25 index is of the catalog's present generation
  if (o.mode != Mode::kDense) {
    QUARRY_RETURN_IF_ERROR(im.EnsureBm25(/*stale_ok=*/true, &bm25_current));
    for (const auto& [id, s] : im.bm25->Search(im.analyzer->Analyze(query), depth)) sparse.push_back({id, s});
  }
  if (o.mode != Mode::kBm25) {
    QUARRY_RETURN_IF_ERROR(im.EnsureVectors(/*stale_ok=*/true));
    if (im.vectors && im.vectors->size() > 0) {
      QUARRY_RETURN_IF_ERROR(im.EnsureEmbedder());
      auto q = im.embedder->Embed({query}, Embedder::Role::kQuery);
      if (!q.ok()) return q.status();
      for (const auto& [id, s] : im.vectors->Search((*q)[0].data(), depth)) dense.push_back({id, s});
    } else if (o.mode == Mode::kDense) {
      return Status::InvalidArgument(im.options.dir + ": no embeddings stored (documents were added without them); search in BM25 mode, or add them again without --no-embed to embed them").About("mode");
    }
  }

  // Which candidates still exist, and their documents. Where the search
  // returns (or reranks) at most half of its candidates and no filter needs
  // their rows, only ids and documents are looked up here and just the rows
  // returned are read in full below: a full row costs ~2.5x a lookup (text,
  // title, metadata), so reading 100 rows for k = 10 was most of a BM25 search.
  // A BM25 index of the present generation holds every chunk and its document,
  // so the lookups go to the catalog only for chunks it lacks (or when stale).
  std::vector<int64_t> ids;
  for (const auto* l : {&sparse, &dense}) {
    for (const auto& [id, s] : *l) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::vector<Catalog::ChunkView>> read;    // every row read, in the batches read
  std::unordered_map<int64_t, Catalog::ChunkView*> rows;  // into read (an inner vector's rows never move)
  std::unordered_map<int64_t, int64_t> doc_of;  // candidate chunk -> its document
  const size_t returned = std::max(o.k, o.reranker ? o.rerank_depth : 0);
  if (filters->empty() && 2 * returned <= ids.size()) {
    std::vector<int64_t> unknown;
    for (int64_t id : ids) {
      const int64_t doc = bm25_current ? im.bm25->DocumentOf(id) : -1;
      if (doc >= 0) doc_of.emplace(id, doc);
      else unknown.push_back(id);
    }
    if (!unknown.empty()) {
      auto docs = im.catalog->ChunkDocuments(unknown);
      if (!docs.ok()) return docs.status();
      doc_of.insert(docs->begin(), docs->end());
    }
  } else {
    auto views = im.catalog->GetChunks(ids);
    if (!views.ok()) return views.status();
    for (auto& v : read.emplace_back(std::move(*views))) {
      if (!MatchesFilters(*filters, v.metadata, v.source, v.title)) continue;
      doc_of[v.chunk.id] = v.chunk.doc_id;
      rows[v.chunk.id] = &v;
    }
  }
  // Reads the rows of fused[0, n) not read yet. A chunk deleted since the
  // lookup above leaves the list, and what moves up into the head is read.
  auto read_head = [&](Ranked& fused, size_t n) -> Status {
    for (;;) {
      const auto head = fused.begin() + static_cast<std::ptrdiff_t>(std::min(n, fused.size()));
      std::vector<int64_t> missing;
      for (auto it = fused.begin(); it != head; ++it) {
        if (!rows.count(it->first)) missing.push_back(it->first);
      }
      if (missing.empty()) return Status::OK();
      auto views = im.catalog->GetChunks(missing);
      if (!views.ok()) return views.status();
      for (auto& v : read.emplace_back(std::move(*views))) rows[v.chunk.id] = &v;
      fused.erase(std::remove_if(fused.begin(), head, [&](const auto& e) { return !rows.count(e.first); }), head);
    }
  };
  // Per document, candidates count documents (of a few chunks each). A k
  // above the candidates raises them, as it raised the depth fetched.
  const size_t candidates = std::max(o.candidates, o.k) * (o.per_document ? 4 : 1);
  auto keep = [&](Ranked& l) {
    l.erase(std::remove_if(l.begin(), l.end(), [&](const auto& e) { return !doc_of.count(e.first); }), l.end());
    if (l.size() > candidates) l.resize(candidates);
  };
  keep(sparse);
  keep(dense);

  Ranked fused;
  if (o.mode == Mode::kBm25) fused = sparse;
  else if (o.mode == Mode::kDense) fused = dense;
  else if (o.fusion == SearchOptions::Fusion::kRrf) fused = FuseRrf({sparse, dense}, o.rrf_k);
  else fused = FuseWeighted({sparse, dense}, {1.0 - o.dense_weight, o.dense_weight});
  if (o.per_document) {
    // Each document as its first chunk in the fused ranking.
    std::unordered_set<int64_t> seen;
    fused.erase(std::remove_if(fused.begin(), fused.end(),
                               [&](const auto& e) { return !seen.insert(doc_of.at(e.first)).second; }),
                fused.end());
  }

  // Cross-encoder: the head it reads comes first, in its order, its logits
  // replacing the fused scores; the rest follow in fused order.
  std::unordered_map<int64_t, std::pair<int, double>> reranked;  // id -> fused rank, logit
  if (o.reranker && !fused.empty()) {
    QUARRY_RETURN_IF_ERROR(read_head(fused, o.rerank_depth));
    const size_t n = std::min(fused.size(), o.rerank_depth);
    std::vector<std::string> texts;
    texts.reserve(n);
    for (size_t i = 0; i < n; ++i) texts.push_back(rows.at(fused[i].first)->chunk.text);
    auto logits = o.reranker->Score(query, texts);
    if (!logits.ok()) return logits.status();
    if (logits->size() != n) {
      return Status::Internal("the reranker returned " + std::to_string(logits->size()) + " scores for " + std::to_string(n) + " passages");
    }
    for (size_t i = 0; i < n; ++i) {
      fused[i].second = (*logits)[i];
      reranked[fused[i].first] = {static_cast<int>(i) + 1, (*logits)[i]};
    }
    std::stable_sort(fused.begin(), fused.begin() + static_cast<std::ptrdiff_t>(n),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
  }

  if (o.mmr && fused.size() > 1 && im.vectors) {
    // Similarities between candidates need their vectors.
    const size_t pool = std::min(fused.size(), std::max<size_t>(o.k * 4, 20));
    fused.resize(pool);
    auto model = im.catalog->GetMeta("embed_model_id");
    if (!model.ok()) return model.status();
    std::vector<std::vector<float>> vecs;
    for (const auto& [id, s] : fused) {
      auto v = im.catalog->GetEmbedding(id, *model);
      if (!v.ok()) return v.status();
      vecs.push_back(std::move(*v));
    }
    fused = Mmr(fused, o.k, o.mmr_lambda, [&](size_t a, size_t b) {
      if (vecs[a].empty() || vecs[a].size() != vecs[b].size()) return 0.0;
      double s = 0;
      for (size_t i = 0; i < vecs[a].size(); ++i) s += static_cast<double>(vecs[a][i]) * vecs[b][i];
      return s;
    });
  }
  if (fused.size() > o.k) fused.resize(o.k);
  QUARRY_RETURN_IF_ERROR(read_head(fused, fused.size()));

  std::unordered_map<int64_t, std::pair<int, double>> srank, drank;
  for (size_t i = 0; i < sparse.size(); ++i) srank[sparse[i].first] = {static_cast<int>(i) + 1, sparse[i].second};
  for (size_t i = 0; i < dense.size(); ++i) drank[dense[i].first] = {static_cast<int>(i) + 1, dense[i].second};
  std::vector<SearchHit> hits;
  for (const auto& [id, score] : fused) {
    // Each id is fused once, so its view's strings can move into the hit.
    Catalog::ChunkView* v = rows.at(id);
    SearchHit h;
    h.chunk = Chunk{v->chunk.id,    v->chunk.doc_id, v->chunk.seq, std::move(v->chunk.text), std::move(v->chunk.heading),
                    v->chunk.start, v->chunk.end,    v->chunk.tokens};
    h.source = std::move(v->source);
    h.title = std::move(v->title);
    h.metadata = std::move(v->metadata);
    h.score = score;
    if (auto it = srank.find(id); it != srank.end()) h.bm25_rank = it->second.first, h.bm25_score = it->second.second;
    if (auto it = drank.find(id); it != drank.end()) h.dense_rank = it->second.first, h.dense_score = it->second.second;
    if (auto it = reranked.find(id); it != reranked.end()) h.fused_rank = it->second.first, h.rerank_score = it->second.second;
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace quarry
