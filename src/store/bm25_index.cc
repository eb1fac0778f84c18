#include "store/bm25_index.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <unistd.h>

#include "store/catalog.h"
#include "util/checksum.h"

namespace quarry {
namespace {

// bm25.idx: this header, then chunk ids (i64 x n_docs, ascending), their
// documents (i64 x n_docs), term offsets
// (u64 x n_terms + 1), term bytes (sorted, padded to 8), posting offsets
// (u64 x n_terms + 1), posting documents (u32 x n_postings), posting impacts
// (f32 x n_postings). checksum covers every byte after the header.
constexpr char kMagic[8] = {'Q', 'B', 'M', '2', '5', 'v', '4', '\0'};

struct Header {
  char magic[8];
  int64_t generation;
  float k1, b;
  uint32_t n_docs, n_terms;
  uint64_t term_blob_bytes, n_postings;
  uint64_t checksum;
};


template <typename T>
void Append(std::string* out, const T* p, size_t n) {
  out->append(reinterpret_cast<const char*>(p), n * sizeof(T));
}

}  // namespace

Bm25Index::~Bm25Index() = default;

void Bm25Index::PointInto(uint32_t n_docs, uint32_t n_terms, uint64_t blob_bytes, uint64_t n_postings) {
  // Layout after the header: chunk ids, their documents, term offsets, term
  // bytes (padded to 8), posting offsets, posting documents, posting impacts.
  const char* base = storage_.data() + sizeof(Header);
  n_docs_ = n_docs;
  n_terms_ = n_terms;
  chunk_ids_ = reinterpret_cast<const int64_t*>(base);
  base += n_docs * 8ull;
  doc_ids_ = reinterpret_cast<const int64_t*>(base);
  base += n_docs * 8ull;
  term_offsets_ = reinterpret_cast<const uint64_t*>(base);
  base += (n_terms + 1ull) * 8;
  term_blob_ = base;
  base += (blob_bytes + 7) / 8 * 8;
  post_offsets_ = reinterpret_cast<const uint64_t*>(base);
  base += (n_terms + 1ull) * 8;
  post_docs_ = reinterpret_cast<const uint32_t*>(base);
  post_impacts_ = reinterpret_cast<const float*>(base + n_postings * 4);
}

Result<std::unique_ptr<Bm25Index>> Bm25Index::Build(Catalog& catalog, const Bm25Params& p) {
  auto gen = catalog.Generation();
  if (!gen.ok()) return gen.status();
  // Pass 1: vocabulary, document lengths, postings (term id, doc, tf).
  std::unordered_map<std::string, uint32_t> vocab;
  std::vector<std::string> terms;
  std::vector<int64_t> chunk_ids, doc_ids;
  std::vector<uint32_t> lengths;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> lists;  // per term: (doc, tf)
  QUARRY_RETURN_IF_ERROR(catalog.ForEachChunkTerms([&](int64_t chunk_id, int64_t doc_id, std::string_view blob) {
    const auto doc = static_cast<uint32_t>(chunk_ids.size());
    chunk_ids.push_back(chunk_id);
    doc_ids.push_back(doc_id);
    lengths.push_back(0);
    Catalog::DecodeTerms(blob, [&](std::string_view term, uint32_t tf) {
      if (term.empty()) {
        lengths.back() = tf;
        return;
      }
      auto [it, inserted] = vocab.try_emplace(std::string(term), static_cast<uint32_t>(terms.size()));
      if (inserted) {
        terms.emplace_back(term);
        lists.emplace_back();
      }
      lists[it->second].push_back({doc, tf});
    });
  }));
  const double n = static_cast<double>(chunk_ids.size());
  double total = 0;
  for (uint32_t l : lengths) total += l;
  const double avgdl = n > 0 ? std::max(total / n, 1.0) : 1.0;

  // Serialise straight into the file layout: sorted terms, impacts.
  std::vector<uint32_t> order(terms.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return terms[a] < terms[b]; });
  uint64_t blob_bytes = 0, n_post = 0;
  for (const auto& t : terms) blob_bytes += t.size();
  for (const auto& l : lists) n_post += l.size();

  std::unique_ptr<Bm25Index> idx(new Bm25Index());
  std::string& s = idx->storage_;
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.generation = *gen;
  h.k1 = p.k1;
  h.b = p.b;
  h.n_docs = static_cast<uint32_t>(chunk_ids.size());
  h.n_terms = static_cast<uint32_t>(terms.size());
  h.term_blob_bytes = blob_bytes;
  h.n_postings = n_post;
  s.reserve(sizeof h + chunk_ids.size() * 16 + (terms.size() + 1) * 16 + blob_bytes + n_post * 8 + 64);
  Append(&s, &h, 1);
  Append(&s, chunk_ids.data(), chunk_ids.size());
  Append(&s, doc_ids.data(), doc_ids.size());
  uint64_t off = 0;
  Append(&s, &off, 1);
  for (uint32_t t : order) {
    off += terms[t].size();
    Append(&s, &off, 1);
  }
  for (uint32_t t : order) s.append(terms[t]);
  while (s.size() % 8) s.push_back('\0');
  off = 0;
  Append(&s, &off, 1);
  for (uint32_t t : order) {
    off += lists[t].size();
    Append(&s, &off, 1);
  }
  // Postings as two parallel arrays: documents, then impacts.
  for (uint32_t t : order) {
    for (auto [doc, tf] : lists[t]) Append(&s, &doc, 1);
  }
  for (uint32_t t : order) {
    const double df = static_cast<double>(lists[t].size());
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (auto [doc, tf] : lists[t]) {
      const double norm = p.k1 * (1.0 - p.b + p.b * lengths[doc] / avgdl);
      const float impact = static_cast<float>(idf * tf / (tf + norm));
      Append(&s, &impact, 1);
    }
  }
  h.checksum = Checksum(s.data() + sizeof h, s.size() - sizeof h);
  std::memcpy(s.data(), &h, sizeof h);
  idx->PointInto(h.n_docs, h.n_terms, blob_bytes, n_post);
  idx->BuildLookup();
  idx->rebuilt_ = true;
  return idx;
}

Result<std::unique_ptr<Bm25Index>> Bm25Index::Open(Catalog& catalog, const Bm25Params& p) {
  auto gen = catalog.Generation();
  if (!gen.ok()) return gen.status();
  const std::string path = catalog.dir() + "/bm25.idx";
  {
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (in && !ec && size >= sizeof(Header)) {
      std::string bytes(size, '\0');
      if (in.read(bytes.data(), static_cast<std::streamsize>(size))) {
        if (auto idx = FromFileBytes(std::move(bytes), *gen, p)) return idx;
      }
    }
    // Missing, stale or damaged (or written by something else): rebuilt from the catalog.
  }
  auto idx = Build(catalog, p);
  if (!idx.ok()) return idx.status();
  // A read-only location only costs the rebuild next time; not an error.
  (void)(*idx)->Save(path, *gen, p);
  return idx;
}

std::unique_ptr<Bm25Index> Bm25Index::FromFileBytes(std::string bytes, int64_t generation, const Bm25Params& p) {
  Header h{};
  if (bytes.size() < sizeof h) return nullptr;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.generation != generation || h.k1 != p.k1 || h.b != p.b) return nullptr;
  // Sizes from the header are checked against the file before any arithmetic
  // on them can overflow.
  const uint64_t size = bytes.size();
  if (h.term_blob_bytes > size || h.n_postings > size / 8) return nullptr;
  const uint64_t want = sizeof h + h.n_docs * 16ull + (h.n_terms + 1ull) * 8 * 2 + (h.term_blob_bytes + 7) / 8 * 8 + h.n_postings * 8;
  if (size != want) return nullptr;
  if (Checksum(bytes.data() + sizeof h, size - sizeof h) != h.checksum) return nullptr;
  std::unique_ptr<Bm25Index> idx(new Bm25Index());
  idx->storage_ = std::move(bytes);
  idx->PointInto(h.n_docs, h.n_terms, h.term_blob_bytes, h.n_postings);
  if (!idx->Valid(h.term_blob_bytes, h.n_postings)) return nullptr;
  idx->BuildLookup();
  return idx;
}

void Bm25Index::ResealForTesting(std::string* bytes) {
  Header h{};
  if (bytes->size() < sizeof h) return;
  std::memcpy(&h, bytes->data(), sizeof h);
  h.checksum = Checksum(bytes->data() + sizeof h, bytes->size() - sizeof h);
  std::memcpy(bytes->data(), &h, sizeof h);
}

Status Bm25Index::Save(const std::string& path, int64_t, const Bm25Params&) const {
  // A per-process temporary name: a reader rebuilding a stale index while the
  // writer saves its own must not interleave bytes; rename() is atomic.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IOError(tmp + ": cannot write");
    out.write(storage_.data(), static_cast<std::streamsize>(storage_.size()));
    if (!out) return Status::IOError(tmp + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return ec ? Status::IOError(path + ": " + ec.message()) : Status::OK();
}

bool Bm25Index::Valid(uint64_t blob_bytes, uint64_t n_postings) const {
  // Every offset a search follows stays inside its array: a file that passes
  // the checksum by accident still cannot send a query out of bounds.
  if (term_offsets_[0] != 0 || post_offsets_[0] != 0) return false;
  for (uint32_t d = 1; d < n_docs_; ++d) {
    if (chunk_ids_[d] <= chunk_ids_[d - 1]) return false;  // DocumentOf searches them
  }
  for (uint32_t t = 0; t < n_terms_; ++t) {
    if (term_offsets_[t + 1] < term_offsets_[t] || term_offsets_[t + 1] > blob_bytes) return false;
    if (post_offsets_[t + 1] < post_offsets_[t] || post_offsets_[t + 1] > n_postings) return false;
  }
  if (post_offsets_[n_terms_] != n_postings) return false;
  for (uint64_t i = 0; i < n_postings; ++i) {
    if (post_docs_[i] >= n_docs_ || !std::isfinite(post_impacts_[i])) return false;
  }
  return true;
}

void Bm25Index::BuildLookup() {
  // The dictionary is a sorted string table on disk; a hash map over it makes
  // each lookup one probe instead of a binary search of compares.
  lookup_.reserve(n_terms_);
  for (uint32_t i = 0; i < n_terms_; ++i) {
    lookup_.emplace(std::string_view(term_blob_ + term_offsets_[i], term_offsets_[i + 1] - term_offsets_[i]), i);
  }
}

int64_t Bm25Index::DocumentOf(int64_t chunk_id) const {
  const int64_t* end = chunk_ids_ + n_docs_;
  const int64_t* it = std::lower_bound(chunk_ids_, end, chunk_id);
  return it != end && *it == chunk_id ? doc_ids_[it - chunk_ids_] : -1;
}

int64_t Bm25Index::FindTerm(std::string_view term) const {
  auto it = lookup_.find(term);
  return it == lookup_.end() ? -1 : static_cast<int64_t>(it->second);
}

std::vector<std::pair<int64_t, float>> Bm25Index::Search(const std::vector<std::string>& terms, size_t k) const {
  std::vector<std::pair<int64_t, float>> out;
  if (n_docs_ == 0 || k == 0) return out;
  // Term-at-a-time into a dense accumulator: posting lists are contiguous arrays,
  // so this loop is most of the work a query does. The scratch is the
  // thread's: handles in one process share an index, and search it at once.
  struct Scratch {
    std::vector<float> acc;  // all zero between queries (each query resets what it touched)
    std::vector<Entry> heap;
    std::vector<std::pair<uint64_t, uint64_t>> lists;
  };
  thread_local Scratch scratch;
  auto& lists = scratch.lists;
  lists.clear();
  uint64_t total = 0;
  for (const auto& t : terms) {
    const int64_t id = FindTerm(t);
    if (id < 0) continue;
    lists.push_back({post_offsets_[id], post_offsets_[id + 1]});
    total += post_offsets_[id + 1] - post_offsets_[id];
  }
  if (lists.empty()) return out;
  if (scratch.acc.size() < n_docs_) scratch.acc.resize(n_docs_, 0.0f);
  float* acc = scratch.acc.data();
  for (const auto& [b, e] : lists) {
    const uint32_t* docs = post_docs_;
    const float* imp = post_impacts_;
    for (uint64_t i = b; i < e; ++i) acc[docs[i]] += imp[i];
  }
  // Top k in one pass over the scored documents (from the posting lists when
  // they are short compared to the collection, else a scan of the accumulator,
  // which also resets it): a bounded min-heap behind a threshold test that,
  // once the heap is full, almost always fails. Ties keep the lower position.
  auto& heap = scratch.heap;
  heap.clear();
  auto worse = [](const Entry& a, const Entry& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; };
  float threshold = 0.0f;
  auto offer = [&](float s, uint32_t d) {
    if (s <= threshold) return;
    heap.push_back({s, d});
    std::push_heap(heap.begin(), heap.end(), worse);
    if (heap.size() > k) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.pop_back();
    }
    if (heap.size() == k) threshold = heap.front().first;
  };
  if (total * 4 < n_docs_) {
    for (const auto& [b, e] : lists) {
      for (uint64_t i = b; i < e; ++i) {
        const uint32_t d = post_docs_[i];
        const float s = acc[d];
        acc[d] = 0.0f;  // taken (and reset): later postings of d see 0
        if (s > 0.0f) offer(s, d);
      }
    }
  } else {
    for (uint32_t d = 0; d < n_docs_; ++d) {
      const float s = acc[d];
      acc[d] = 0.0f;
      offer(s, d);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), worse);
  out.reserve(heap.size());
  for (const auto& [score, d] : heap) out.push_back({chunk_ids_[d], score});
  return out;
}

}  // namespace quarry
