// libFuzzer target: the derived index files as untrusted input.
// - bm25.idx bytes behind its checksum: the input is XORed into a valid index
//   file, the checksum recomputed, and the result parsed and searched.
// - vectors.hnsw: the input is XORed into a valid graph file, which is then
//   opened as a search would (checksum gate) and searched.
// Either must answer or rebuild; nothing may read out of bounds.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "store/bm25_index.h"
#include "store/catalog.h"
#include "store/vector_index.h"

namespace {

using namespace quarry;

struct Setup {
  std::string dir;
  std::unique_ptr<Catalog> catalog;
  std::string bm25, hnsw;
  int64_t generation = 0;
  static constexpr size_t kDim = 8;

  Setup() {
    dir = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/quarry-fuzz-index-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    auto opened = Catalog::Open(dir, true);
    if (!opened.ok()) __builtin_trap();
    catalog = std::move(*opened);
    std::mt19937 rng(5);
    std::normal_distribution<float> g;
    for (int i = 0; i < 60; ++i) {
      DocumentRow d;
      d.source = "d" + std::to_string(i);
      d.content_hash = d.source;
      ChunkInput c;
      c.text = "x";
      c.encoded_terms = Catalog::EncodeTerms({"w" + std::to_string(i % 9), "common", "t" + std::to_string(i % 4)});
      std::vector<float> v(kDim);
      float n = 0;
      for (auto& x : v) {
        x = g(rng);
        n += x * x;
      }
      for (auto& x : v) x /= std::sqrt(n);
      c.vector = v;
      (void)catalog->PutDocument(d, {c}, "m");
    }
    auto gen = catalog->Generation();
    auto built = Bm25Index::Build(*catalog, {});
    if (!gen.ok() || !built.ok()) __builtin_trap();
    generation = *gen;
    bm25 = (*built)->file_bytes();
    VectorIndexOptions vo;
    vo.force_ann = true;
    vo.build_threads = 1;
    (void)VectorIndex::Open(*catalog, "m", kDim, vo);
    std::ifstream in(dir + "/vectors.hnsw", std::ios::binary);
    hnsw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ~Setup() { std::filesystem::remove_all(dir); }
};

void Xor(std::string* bytes, const uint8_t* data, size_t size, size_t skip) {
  if (bytes->size() <= skip) return;
  for (size_t i = 0; i + 4 < size; i += 5) {
    uint32_t at;
    std::memcpy(&at, data + i, 4);
    (*bytes)[skip + at % (bytes->size() - skip)] ^= static_cast<char>(data[i + 4]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup s;
  if (size == 0) return 0;
  if (data[0] & 1) {
    std::string bytes = s.bm25;
    Xor(&bytes, data + 1, size - 1, 0);
    Bm25Index::ResealForTesting(&bytes);
    if (auto idx = Bm25Index::FromFileBytes(std::move(bytes), s.generation, {})) {
      for (const auto& [id, score] : idx->Search({"w3", "common", "t1", "absent"}, 10)) {
        if (!std::isfinite(score)) __builtin_trap();
        (void)id;
      }
    }
  } else {
    std::string bytes = s.hnsw;
    Xor(&bytes, data + 1, size - 1, 0);
    {
      std::ofstream out(s.dir + "/vectors.hnsw", std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    VectorIndexOptions vo;
    vo.force_ann = true;
    vo.build_threads = 1;
    auto idx = VectorIndex::Open(*s.catalog, "m", Setup::kDim, vo);
    if (!idx.ok()) __builtin_trap();  // a damaged graph is rebuilt, never an error
    const float q[Setup::kDim] = {1, 0, 0, 0, 0, 0, 0, 0};
    (void)(*idx)->Search(q, 5);
    // Leave the damaged file for the next input only if the index did not replace it.
  }
  return 0;
}
