// BM25 index, vector index, fusion and metrics, on small data built in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "eval/metrics.h"
#include "retrieve/filter.h"
#include "retrieve/fusion.h"
#include "store/bm25_index.h"
#include "store/catalog.h"
#include "store/vector_index.h"
#include "test_util.h"
#include "unit/fixtures.h"

namespace quarry {
namespace {

ChunkInput Chunk(std::vector<std::string> terms, std::vector<float> v = {}) {
  ChunkInput c;
  c.text = "x";
  c.encoded_terms = Catalog::EncodeTerms(terms);
  c.vector = std::move(v);
  return c;
}

DocumentRow Doc(const std::string& source) {
  DocumentRow d;
  d.source = source;
  d.content_hash = source;
  return d;
}

TEST(Bm25, MatchesLuceneFormula) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  ASSERT_TRUE(cat.ok());
  ASSERT_TRUE((*cat)->PutDocument(Doc("a"), {Chunk({"apple", "banana", "apple"})}, "").ok());
  ASSERT_TRUE((*cat)->PutDocument(Doc("b"), {Chunk({"banana", "cherry"})}, "").ok());
  ASSERT_TRUE((*cat)->PutDocument(Doc("c"), {Chunk({"cherry", "date", "elder", "fig"})}, "").ok());
  Bm25Params p{0.9f, 0.4f};
  auto idx = Bm25Index::Open(**cat, p);
  ASSERT_TRUE(idx.ok()) << idx.status().message();
  auto hits = (*idx)->Search({"apple", "cherry"}, 10);
  ASSERT_EQ(hits.size(), 3u);
  // Lucene: idf = ln(1 + (N - df + 0.5) / (df + 0.5)); tf / (tf + k1 * (1 - b + b * dl / avgdl)).
  const double N = 3, avgdl = 3.0;
  auto idf = [&](double df) { return std::log(1 + (N - df + 0.5) / (df + 0.5)); };
  auto part = [&](double tf, double dl) { return tf / (tf + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl)); };
  const double a = idf(1) * part(2, 3);
  const double b = idf(2) * part(1, 2);
  const double c = idf(2) * part(1, 4);
  EXPECT_NEAR(hits[0].second, a, 1e-5);  // doc a: apple x2, rare term
  EXPECT_NEAR(hits[1].second, b, 1e-5);  // doc b: shorter than c
  EXPECT_NEAR(hits[2].second, c, 1e-5);
  // A repeated query term counts twice, as in Lucene's bag-of-words query.
  auto twice = (*idx)->Search({"apple", "apple"}, 1);
  EXPECT_NEAR(twice[0].second, 2 * a, 1e-5);
  EXPECT_TRUE((*idx)->Search({"zebra"}, 5).empty());
}

TEST(Bm25, IndexFilePersistsAndFollowsTheCatalog) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  ASSERT_TRUE((*cat)->PutDocument(Doc("a"), {Chunk({"alpha"})}, "").ok());
  auto first = Bm25Index::Open(**cat, {});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE((*first)->rebuilt());
  EXPECT_TRUE(std::filesystem::exists(d.path() / "bm25.idx"));
  auto again = Bm25Index::Open(**cat, {});
  EXPECT_FALSE((*again)->rebuilt());  // loaded from the file
  EXPECT_EQ((*again)->Search({"alpha"}, 1).size(), 1u);
  auto other_params = Bm25Index::Open(**cat, {1.2f, 0.75f});
  EXPECT_TRUE((*other_params)->rebuilt());
  // A new document makes the file stale.
  ASSERT_TRUE((*cat)->PutDocument(Doc("b"), {Chunk({"beta"})}, "").ok());
  auto after = Bm25Index::Open(**cat, {});
  EXPECT_TRUE((*after)->rebuilt());
  EXPECT_EQ((*after)->Search({"beta"}, 1).size(), 1u);
  // Deleting is honoured.
  auto doc = (*cat)->FindBySource("b");
  ASSERT_TRUE((*cat)->DeleteDocument((**doc).id).ok());
  auto gone = Bm25Index::Open(**cat, {});
  EXPECT_TRUE((*gone)->Search({"beta"}, 1).empty());
}

// A search finds each candidate's document in the BM25 index instead of the
// catalog while the index is of the present generation.
TEST(Bm25, KnowsEachChunksDocumentThroughSaveAndLoad) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  std::map<int64_t, int64_t> doc_of;
  for (int i = 0; i < 6; ++i) {
    std::vector<ChunkInput> chunks;
    for (int c = 0; c <= i % 3; ++c) chunks.push_back(Chunk({"w" + std::to_string(c)}));
    auto put = (*cat)->PutDocument(Doc("d" + std::to_string(i)), chunks, "");
    ASSERT_TRUE(put.ok());
    auto rows = (*cat)->DocumentChunks(put->doc_id);
    ASSERT_TRUE(rows.ok());
    for (const auto& r : *rows) doc_of[r.id] = put->doc_id;
  }
  ASSERT_EQ(doc_of.size(), 12u);
  auto built = Bm25Index::Open(**cat, {});
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE((*built)->rebuilt());
  auto loaded = Bm25Index::Open(**cat, {});
  ASSERT_TRUE(loaded.ok());
  ASSERT_FALSE((*loaded)->rebuilt());
  for (const auto* idx : {built->get(), loaded->get()}) {
    for (const auto& [chunk, doc] : doc_of) EXPECT_EQ(idx->DocumentOf(chunk), doc) << chunk;
    EXPECT_EQ(idx->DocumentOf(0), -1);
    EXPECT_EQ(idx->DocumentOf(doc_of.rbegin()->first + 1), -1);
  }
  // Chunk ids out of order in a file that passes the checksum: rejected, as
  // the lookup searches them.
  std::string bytes = (*built)->file_bytes();
  auto gen = (*cat)->Generation();
  ASSERT_TRUE(gen.ok());
  const size_t ids_at = 56;  // the chunk ids follow the 56-byte header
  int64_t first, second;
  std::memcpy(&first, bytes.data() + ids_at, 8);
  std::memcpy(&second, bytes.data() + ids_at + 8, 8);
  ASSERT_EQ(first, doc_of.begin()->first);
  std::memcpy(bytes.data() + ids_at, &second, 8);
  std::memcpy(bytes.data() + ids_at + 8, &first, 8);
  Bm25Index::ResealForTesting(&bytes);
  EXPECT_EQ(Bm25Index::FromFileBytes(bytes, *gen, {}), nullptr);
}

std::vector<float> RandomUnit(std::mt19937& rng, size_t dim) {
  std::normal_distribution<float> n;
  std::vector<float> v(dim);
  double s = 0;
  for (auto& x : v) x = n(rng), s += x * x;
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

TEST(VectorIndex, HnswAgreesWithExactSearchAndHonoursDeletes) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  std::mt19937 rng(1);
  const size_t dim = 32, n = 2000;
  std::vector<std::vector<float>> vs;
  for (size_t i = 0; i < n; ++i) {
    vs.push_back(RandomUnit(rng, dim));
    ASSERT_TRUE((*cat)->PutDocument(Doc("d" + std::to_string(i)), {Chunk({"t"}, vs.back())}, "m").ok());
  }
  VectorIndexOptions ann;
  ann.force_ann = true;
  auto exact = VectorIndex::Open(**cat, "m", dim);
  auto approx = VectorIndex::Open(**cat, "m", dim, ann);
  ASSERT_TRUE(exact.ok() && approx.ok());
  EXPECT_FALSE((*exact)->approximate());
  EXPECT_TRUE((*approx)->approximate());
  double recall = 0;
  for (int q = 0; q < 50; ++q) {
    auto query = RandomUnit(rng, dim);
    auto e = (*exact)->Search(query.data(), 10), a = (*approx)->Search(query.data(), 10);
    for (const auto& x : a) recall += std::count_if(e.begin(), e.end(), [&](const auto& y) { return y.first == x.first; });
  }
  EXPECT_GE(recall / 500.0, 0.95);
  // The graph is saved and reused; a deleted chunk never comes back.
  EXPECT_TRUE(std::filesystem::exists(d.path() / "vectors.hnsw"));
  auto target = (*exact)->Search(vs[5].data(), 1);
  ASSERT_EQ(target.size(), 1u);
  auto doc = (*cat)->FindBySource("d5");
  ASSERT_TRUE((*cat)->DeleteDocument((**doc).id).ok());
  auto reopened = VectorIndex::Open(**cat, "m", dim, ann);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), n - 1);
  for (const auto& [id, s] : (*reopened)->Search(vs[5].data(), 20)) EXPECT_NE(id, target[0].first);
}

// Derived files are untrusted input (SQLite's corrupt*.test in spirit): a
// few flipped bytes anywhere never crash a search; the file is rebuilt from
// the catalog and answers exactly as a clean one.
void FlipBytes(const std::filesystem::path& p, std::mt19937& rng, int n) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<size_t>(std::filesystem::file_size(p));
  for (int i = 0; i < n; ++i) {
    const size_t at = std::uniform_int_distribution<size_t>(0, size - 1)(rng);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ (1 << std::uniform_int_distribution<int>(0, 7)(rng)));
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
  }
}

TEST(DerivedFiles, DamagedBm25IndexIsRebuiltNeverTrusted) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  std::mt19937 rng(7);
  const char* words[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> t;
    for (int j = 0; j < 12; ++j) t.push_back(words[rng() % 8] + std::to_string(rng() % 40));
    ASSERT_TRUE((*cat)->PutDocument(Doc("d" + std::to_string(i)), {Chunk(t)}, "").ok());
  }
  const std::vector<std::string> query = {"alpha1", "beta2", "gamma3", "theta39"};
  auto clean = Bm25Index::Open(**cat, {});
  ASSERT_TRUE(clean.ok());
  const auto expected = (*clean)->Search(query, 10);
  ASSERT_FALSE(expected.empty());
  const auto path = d.path() / "bm25.idx";
  const std::string good = test::ReadFileBytes(path.string());
  for (int trial = 0; trial < 60; ++trial) {
    test::WriteFile(path.string(), good);
    FlipBytes(path, rng, 1 + trial % 4);
    auto idx = Bm25Index::Open(**cat, {});
    ASSERT_TRUE(idx.ok()) << idx.status().message();
    EXPECT_EQ((*idx)->Search(query, 10), expected) << "trial " << trial;
  }
  // Truncated, or not an index at all.
  for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("garbage")}) {
    test::WriteFile(path.string(), bad);
    auto idx = Bm25Index::Open(**cat, {});
    ASSERT_TRUE(idx.ok());
    EXPECT_EQ((*idx)->Search(query, 10), expected);
  }
}

// Behind the checksum: damage that passes it (resealed) still never reaches a
// search, including header sizes whose arithmetic would overflow.
TEST(DerivedFiles, Bm25BoundsHoldWhenTheChecksumPasses) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE((*cat)->PutDocument(Doc("d" + std::to_string(i)), {Chunk({"w" + std::to_string(i % 7), "common"})}, "").ok());
  auto clean = Bm25Index::Build(**cat, {});
  ASSERT_TRUE(clean.ok());
  const std::string good = (*clean)->file_bytes();
  auto generation = (*cat)->Generation();
  ASSERT_TRUE(generation.ok());
  const int64_t gen = *generation;
  ASSERT_NE(Bm25Index::FromFileBytes(good, gen, {}), nullptr);
  EXPECT_EQ(Bm25Index::FromFileBytes(good, gen + 1, {}), nullptr);  // stale
  // n_postings (header bytes 40..47) so large that 8 * n wraps around to the file's size.
  std::string wrap = good;
  uint64_t n_postings = 0;
  std::memcpy(&n_postings, wrap.data() + 40, 8);
  const uint64_t huge = (uint64_t{1} << 61) + n_postings;  // 8 * huge == 8 * n_postings (mod 2^64)
  std::memcpy(wrap.data() + 40, &huge, 8);
  Bm25Index::ResealForTesting(&wrap);
  EXPECT_EQ(Bm25Index::FromFileBytes(wrap, gen, {}), nullptr);
  std::mt19937 rng(11);
  int accepted = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = good;
    for (int f = 0; f < 1 + trial % 3; ++f) bad[48 + rng() % (bad.size() - 48)] ^= static_cast<char>(1 << (rng() % 8));
    Bm25Index::ResealForTesting(&bad);
    auto idx = Bm25Index::FromFileBytes(bad, gen, {});
    if (idx == nullptr) continue;
    ++accepted;  // damage to ids or impacts within bounds: wrong scores at worst, never a bad read
    for (const auto& [id, score] : idx->Search({"w3", "common", "absent"}, 10)) EXPECT_TRUE(std::isfinite(score)) << id;
  }
  EXPECT_LT(accepted, 2000);
}

TEST(DerivedFiles, DamagedHnswGraphIsRebuiltNeverTrusted) {
  test::TempDir d;
  auto cat = Catalog::Open(d.str(), true);
  std::mt19937 rng(3);
  const size_t dim = 16;
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE((*cat)->PutDocument(Doc("d" + std::to_string(i)), {Chunk({"t"}, RandomUnit(rng, dim))}, "m").ok());
  }
  VectorIndexOptions ann;
  ann.force_ann = true;
  const auto query = RandomUnit(rng, dim);
  ASSERT_TRUE(VectorIndex::Open(**cat, "m", dim, ann).ok());
  const auto path = d.path() / "vectors.hnsw";
  const std::string good = test::ReadFileBytes(path.string());
  for (int trial = 0; trial < 30; ++trial) {
    test::WriteFile(path.string(), good);
    FlipBytes(path, rng, 1 + trial % 4);
    auto idx = VectorIndex::Open(**cat, "m", dim, ann);
    ASSERT_TRUE(idx.ok()) << idx.status().message();
    EXPECT_EQ((*idx)->Search(query.data(), 5).size(), 5u) << "trial " << trial;
  }
}

TEST(Fusion, ReciprocalRankAndWeighted) {
  Ranked a = {{1, 9.0}, {2, 5.0}, {3, 1.0}}, b = {{3, 0.9}, {1, 0.8}};
  auto rrf = FuseRrf({a, b}, 60);
  ASSERT_EQ(rrf.size(), 3u);
  EXPECT_EQ(rrf[0].first, 1);  // ranks 1 and 2
  EXPECT_NEAR(rrf[0].second, 1.0 / 61 + 1.0 / 62, 1e-12);
  EXPECT_EQ(rrf[1].first, 3);  // ranks 3 and 1
  auto w = FuseWeighted({a, b}, {0.5, 0.5});
  EXPECT_EQ(w[0].first, 1);
  EXPECT_NEAR(w[0].second, 0.5 * 1.0 + 0.5 * 0.0, 1e-12);  // best in a, worst in b
}

TEST(Fusion, MmrPrefersDiverseItems) {
  Ranked r = {{1, 1.0}, {2, 0.99}, {3, 0.5}};
  // Items 1 and 2 are duplicates; 3 is different.
  auto sim = [](size_t x, size_t y) { return (x < 2 && y < 2) ? 1.0 : 0.0; };
  auto out = Mmr(r, 2, 0.5, sim);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].first, 1);
  EXPECT_EQ(out[1].first, 3);
}

TEST(Filters, ParseAndMatch) {
  auto f = ParseFilters({"lang=en", "year>=2020", "date<2024-06-01"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(MatchesFilters(*f, R"({"lang":"en","year":2021,"date":"2024-01-15"})", "s", "t"));
  EXPECT_FALSE(MatchesFilters(*f, R"({"lang":"en","year":2019,"date":"2024-01-15"})", "s", "t"));
  EXPECT_FALSE(MatchesFilters(*f, R"({"lang":"en","year":2021,"date":"2024-07-01"})", "s", "t"));
  EXPECT_FALSE(MatchesFilters(*f, R"({"year":2021,"date":"2024-01-15"})", "s", "t"));  // missing key
  auto ne = ParseFilters({"lang!=fr"});
  EXPECT_TRUE(MatchesFilters(*ne, R"({})", "s", "t"));
  EXPECT_FALSE(ParseFilters({"novalue"}).ok());
  // Regression: "team==kb" was accepted and compared with "=kb".
  auto twice = ParseFilters({"team==kb"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("did you mean team=kb?"), std::string::npos) << twice.status().message();
  EXPECT_FALSE(ParseFilters({"year>=>2020"}).ok());
}

TEST(Metrics, NdcgRecallMrr) {
  eval::Qrels rel = {{"a", 1}, {"b", 1}};
  std::vector<std::string> ranked = {"x", "a", "y", "b"};
  const double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0), idcg = 1 + 1 / std::log2(3.0);
  EXPECT_NEAR(eval::NdcgAt(ranked, rel, 10), dcg / idcg, 1e-12);
  EXPECT_NEAR(eval::NdcgAt(ranked, rel, 1), 0.0, 1e-12);
  EXPECT_NEAR(eval::RecallAt(ranked, rel, 2), 0.5, 1e-12);
  EXPECT_NEAR(eval::RecallAt(ranked, rel, 100), 1.0, 1e-12);
  EXPECT_NEAR(eval::MrrAt(ranked, rel, 10), 0.5, 1e-12);
  EXPECT_NEAR(eval::MrrAt(ranked, rel, 1), 0.0, 1e-12);
}

}  // namespace
}  // namespace quarry
