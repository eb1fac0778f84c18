#include "store/vector_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <unistd.h>

#include "store/catalog.h"
#include "util/checksum.h"

namespace quarry {
namespace fs = std::filesystem;

std::vector<std::pair<int64_t, float>> ExactTopK(const float* m, const int64_t* ids, size_t n, size_t dim,
                                                 const float* q, size_t k) {
  std::vector<std::pair<float, size_t>> scored(n);
  for (size_t i = 0; i < n; ++i) {
    const float* v = m + i * dim;
    // Eight independent sums let the compiler use SIMD lanes (a single running
    // sum is a dependency chain it may not reorder).
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= dim; j += 8) {
      for (size_t l = 0; l < 8; ++l) acc[l] += v[j + l] * q[j + l];
    }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < dim; ++j) s += v[j] * q[j];
    scored[i] = {s, i};
  }
  const size_t top = std::min(k, n);
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(top), scored.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  std::vector<std::pair<int64_t, float>> out;
  out.reserve(top);
  for (size_t i = 0; i < top; ++i) out.push_back({ids[scored[i].second], scored[i].first});
  return out;
}

namespace {

class ExactIndex final : public VectorIndex {
 public:
  ExactIndex(std::vector<float> m, std::vector<int64_t> ids, size_t dim) : m_(std::move(m)), ids_(std::move(ids)), dim_(dim) {}
  std::vector<std::pair<int64_t, float>> Search(const float* q, size_t k) const override {
    return ExactTopK(m_.data(), ids_.data(), ids_.size(), dim_, q, k);
  }
  size_t size() const override { return ids_.size(); }
  bool approximate() const override { return false; }

 private:
  std::vector<float> m_;
  std::vector<int64_t> ids_;
  size_t dim_;
};

class HnswIndex final : public VectorIndex {
 public:
  HnswIndex(size_t dim) : space_(dim) {}
  std::vector<std::pair<int64_t, float>> Search(const float* q, size_t k) const override {
    std::vector<std::pair<int64_t, float>> out;
    if (live_ == 0) return out;
    auto pq = index_->searchKnn(q, std::min(k, live_));
    out.resize(pq.size());
    for (size_t i = pq.size(); i-- > 0;) {  // the queue pops the farthest first
      out[i] = {static_cast<int64_t>(pq.top().second), 1.0f - pq.top().first};
      pq.pop();
    }
    return out;
  }
  size_t size() const override { return live_; }
  bool approximate() const override { return true; }

  hnswlib::InnerProductSpace space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
  size_t live_ = 0;
};

}  // namespace

Result<std::unique_ptr<VectorIndex>> VectorIndex::Open(Catalog& catalog, const std::string& model_id, size_t dim,
                                                       const VectorIndexOptions& o) {
  auto gen = catalog.Generation();
  if (!gen.ok()) return gen.status();
  const std::string path = catalog.dir() + "/vectors.hnsw", stamp_path = path + ".json";

  auto count = catalog.CountEmbeddings(model_id);
  if (!count.ok()) return count.status();
  std::vector<float> matrix;
  std::vector<int64_t> ids;
  auto load_all = [&]() -> Status {
    matrix.clear();
    ids.clear();
    return catalog.ForEachEmbedding(model_id, [&](int64_t id, const float* v, size_t d) {
      if (d != dim) return;
      ids.push_back(id);
      matrix.insert(matrix.end(), v, v + d);
    });
  };
  if (static_cast<size_t>(*count) < o.exact_threshold && !o.force_ann) {
    QUARRY_RETURN_IF_ERROR(load_all());
    return std::unique_ptr<VectorIndex>(new ExactIndex(std::move(matrix), std::move(ids), dim));
  }

  auto h = std::make_unique<HnswIndex>(dim);
  std::error_code ec;
  nlohmann::json stamp;
  if (std::ifstream in(stamp_path); in) stamp = nlohmann::json::parse(in, nullptr, false);
  // The graph file is untrusted input to hnswlib, which follows its offsets
  // blindly: it is loaded only when its checksum is the one its stamp recorded.
  bool usable = fs::exists(path, ec) && stamp.is_object() && stamp.value("model", "") == model_id &&
                stamp.value("dim", 0) == static_cast<int>(dim) && stamp.value("m", 0) == static_cast<int>(o.m);
  if (usable) {
    auto sum = ChecksumFile(path);
    usable = sum.ok() && stamp.value("checksum", std::string()) == std::to_string(*sum);
  }
  const bool fresh = usable && stamp.value("generation", int64_t{-1}) == *gen;
  try {
    if (usable) {
      h->index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&h->space_, path, false,
                                                                   static_cast<size_t>(*count) + 1024);
    }
  } catch (const std::exception&) {
    h->index_.reset();  // unreadable: rebuild below
  }
  if (fresh && h->index_) {
    h->index_->setEf(o.ef_search);
    h->live_ = static_cast<size_t>(*count);
    return std::unique_ptr<VectorIndex>(std::move(h));
  }
  QUARRY_RETURN_IF_ERROR(load_all());
  // Deleted nodes still cost search time; past half the graph, start over.
  if (h->index_ && h->index_->num_deleted_ * 2 > h->index_->cur_element_count) h->index_.reset();
  if (!h->index_) {
    h->index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&h->space_, ids.size() + 1024, o.m, o.ef_construction, 42);
  }
  auto& idx = *h->index_;
  std::unordered_set<int64_t> want(ids.begin(), ids.end());
  // Mark chunks that left the catalog (chunk ids are never reused: AUTOINCREMENT).
  std::vector<hnswlib::labeltype> gone;
  for (const auto& [label, internal] : idx.label_lookup_) {
    if (!want.count(static_cast<int64_t>(label)) && !idx.isMarkedDeleted(internal)) gone.push_back(label);
  }
  for (auto label : gone) idx.markDelete(label);
  // Add the new ones.
  if (idx.max_elements_ < ids.size() + idx.cur_element_count) idx.resizeIndex(ids.size() + idx.cur_element_count + 1024);
  std::vector<size_t> todo;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!idx.label_lookup_.count(static_cast<hnswlib::labeltype>(ids[i]))) todo.push_back(i);
  }
  // hnswlib's insertion is thread-safe (per-node locks); the graph then depends on
  // thread timing, which changes which near neighbours are linked, not correctness.
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const unsigned nt = todo.size() < 1000 ? 1u : o.build_threads > 0 ? static_cast<unsigned>(o.build_threads) : hw;
  std::atomic<size_t> next{0};
  std::string error;
  std::mutex error_mu;
  auto worker = [&] {
    try {
      for (size_t j; (j = next.fetch_add(1)) < todo.size();) {
        const size_t i = todo[j];
        idx.addPoint(matrix.data() + i * dim, static_cast<hnswlib::labeltype>(ids[i]));
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> l(error_mu);
      error = e.what();
      next = todo.size();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < nt; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!error.empty()) return Status::Internal(path + ": building the HNSW graph failed: " + error);
  idx.setEf(o.ef_search);
  h->live_ = ids.size();
  // Graph first, stamp second: a reader that sees the new stamp also sees the new graph.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());  // see Bm25Index::Save
  try {
    idx.saveIndex(tmp);
    auto sum = ChecksumFile(tmp);
    fs::rename(tmp, path, ec);
    const std::string stamp_tmp = stamp_path + ".tmp." + std::to_string(::getpid());
    std::ofstream(stamp_tmp) << nlohmann::json{{"model", model_id}, {"dim", dim}, {"m", o.m}, {"generation", *gen},
                                               {"checksum", sum.ok() ? std::to_string(*sum) : std::string()}}
                                    .dump();
    fs::rename(stamp_tmp, stamp_path, ec);
  } catch (const std::exception&) {
    // Read-only location: the graph is rebuilt next time, queries still work.
  }
  return std::unique_ptr<VectorIndex>(std::move(h));
}

}  // namespace quarry
