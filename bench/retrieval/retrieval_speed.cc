// Single-thread query speed of Quarry's retrieval indexes, for bench/retrieval/run.py.
//
//   retrieval_speed bm25 --db DIR --queries queries.jsonl --run RUN.txt [--k 100]
//       BM25 (analyzer + index) over a knowledge base; writes a TREC run of document ids.
//   retrieval_speed ann --dir WORK --n 100000 --dim 384 --queries 1000
//       Synthetic clustered unit vectors stored through the catalog, HNSW built by
//       VectorIndex; writes WORK/base.f32 and WORK/queries.f32 for the raw-library peers.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "store/bm25_index.h"
#include "store/catalog.h"
#include "store/vector_index.h"
#include "text/analyzer.h"

using namespace quarry;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

json Summary(std::vector<double> lat, double total_s) {
  std::sort(lat.begin(), lat.end());
  return {{"queries", lat.size()}, {"seconds", total_s}, {"qps", lat.size() / total_s}, {"p50_ms", lat[lat.size() / 2]},
          {"p99_ms", lat[static_cast<size_t>(lat.size() * 0.99)]}};
}

int Bm25(const std::string& db, const std::string& queries_path, const std::string& run_path, size_t k, float k1, float b) {
  auto cat = Catalog::Open(db, false);
  if (!cat.ok()) return std::cerr << cat.status().message() << "\n", 1;
  auto idx = Bm25Index::Open(**cat, {k1, b});
  if (!idx.ok()) return std::cerr << idx.status().message() << "\n", 1;
  auto an = text::Analyzer::Create(text::AnalyzerOptions::ForIndex());
  std::vector<std::pair<std::string, std::string>> queries;
  std::ifstream in(queries_path);
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object()) queries.push_back({j["_id"].is_string() ? j["_id"].get<std::string>() : j["_id"].dump(), j["text"]});
  }
  std::vector<std::vector<std::pair<int64_t, float>>> results(queries.size());
  for (const auto& q : queries) (*idx)->Search((*an)->Analyze(q.second), k);  // warm-up pass
  std::vector<double> lat;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < queries.size(); ++i) {
    const auto s = Clock::now();
    results[i] = (*idx)->Search((*an)->Analyze(queries[i].second), k);
    lat.push_back(Ms(s, Clock::now()));
  }
  const double total = std::chrono::duration<double>(Clock::now() - t0).count();
  // chunk id -> record id (source "path#id"), for the run file.
  std::unordered_map<int64_t, std::string> doc_of;
  auto st = (*cat)->db()->Prepare("SELECT c.id, d.source FROM chunks c JOIN documents d ON d.id = c.doc_id");
  while (st->Step()) {
    std::string src = st->Text(1);
    doc_of[st->Int(0)] = src.substr(src.rfind('#') + 1);
  }
  std::ofstream run(run_path);
  for (size_t i = 0; i < queries.size(); ++i) {
    int rank = 0;
    std::unordered_map<std::string, bool> seen;
    for (const auto& [chunk, score] : results[i]) {
      const std::string& d = doc_of[chunk];
      if (seen[d]) continue;
      seen[d] = true;
      run << queries[i].first << " Q0 " << d << " " << ++rank << " " << score << " quarry\n";
    }
  }
  // Analysis alone, to split the cost.
  const auto ta = Clock::now();
  size_t n_terms = 0;
  for (const auto& q : queries) n_terms += (*an)->Analyze(q.second).size();
  const double analyze_s = std::chrono::duration<double>(Clock::now() - ta).count();
  json out = Summary(lat, total);
  out["analyze_us_per_query"] = analyze_s * 1e6 / static_cast<double>(queries.size());
  out["terms_per_query"] = static_cast<double>(n_terms) / static_cast<double>(queries.size());
  out["chunks"] = (*idx)->num_chunks();
  out["terms"] = (*idx)->num_terms();
  std::cout << out.dump() << "\n";
  return 0;
}

// Clustered unit vectors: real sentence embeddings are far from uniform on the sphere.
std::vector<float> Synthetic(size_t n, size_t dim, const std::vector<float>& centers, size_t n_centers, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_int_distribution<size_t> pick(0, n_centers - 1);
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const float* c = &centers[pick(rng) * dim];
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) {
      float x = c[j] + 0.08f * g(rng);
      v[i * dim + j] = x;
      norm += x * x;
    }
    for (size_t j = 0; j < dim; ++j) v[i * dim + j] = static_cast<float>(v[i * dim + j] / std::sqrt(norm));
  }
  return v;
}

// Synthetic text: words drawn from a Zipf(1.0) distribution over a 100k-word
// vocabulary, as natural text roughly is; queries of 4-8 words from the same law.
int Bm25Synthetic(const std::string& dir, size_t n, size_t words, size_t nq, size_t k) {
  std::filesystem::remove_all(dir);
  std::mt19937 rng(11);
  const size_t vocab = 100000;
  std::vector<double> cdf(vocab);
  double z = 0;
  for (size_t i = 0; i < vocab; ++i) cdf[i] = (z += 1.0 / static_cast<double>(i + 1));
  std::uniform_real_distribution<double> u(0.0, z);
  auto word = [&]() { return "w" + std::to_string(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin()); };
  auto cat = Catalog::Open(dir, true);
  if (!cat.ok()) return std::cerr << cat.status().message() << "\n", 1;
  auto t = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    DocumentRow d;
    d.source = "s" + std::to_string(i);
    d.content_hash = d.source;
    ChunkInput c;
    std::vector<std::string> terms;
    for (size_t w = 0; w < words; ++w) terms.push_back(word());
    c.encoded_terms = Catalog::EncodeTerms(terms);
    c.text = d.source;
    auto id = (*cat)->PutDocument(d, {c}, "");
    if (!id.ok()) return std::cerr << id.status().message() << "\n", 1;
  }
  const double store_s = std::chrono::duration<double>(Clock::now() - t).count();
  t = Clock::now();
  auto idx = Bm25Index::Open(**cat, {});
  if (!idx.ok()) return std::cerr << idx.status().message() << "\n", 1;
  const double build_s = std::chrono::duration<double>(Clock::now() - t).count();
  t = Clock::now();
  idx = Bm25Index::Open(**cat, {});  // as a later process would: from the file
  const double load_s = std::chrono::duration<double>(Clock::now() - t).count();
  std::vector<std::vector<std::string>> queries(nq);
  std::uniform_int_distribution<size_t> len(4, 8);
  for (auto& q : queries) {
    for (size_t i = len(rng); i > 0; --i) q.push_back(word());
  }
  for (size_t i = 0; i < std::min<size_t>(nq, 100); ++i) (*idx)->Search(queries[i], k);  // warm-up
  std::vector<double> lat;
  const auto t0 = Clock::now();
  for (const auto& q : queries) {
    const auto s = Clock::now();
    (*idx)->Search(q, k);
    lat.push_back(Ms(s, Clock::now()));
  }
  const double total = std::chrono::duration<double>(Clock::now() - t0).count();
  json out = Summary(lat, total);
  out["chunks"] = n;
  out["words_per_chunk"] = words;
  out["terms"] = (*idx)->num_terms();
  out["store_seconds"] = store_s;
  out["build_seconds"] = build_s;
  out["load_seconds"] = load_s;
  std::cout << out.dump() << "\n";
  return 0;
}

int Ann(const std::string& dir, size_t n, size_t dim, size_t nq, size_t k, int build_threads) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const size_t n_centers = 2000;
  std::vector<float> centers(n_centers * dim);
  for (auto& c : centers) c = g(rng) / std::sqrt(static_cast<float>(dim));
  std::vector<float> base = Synthetic(n, dim, centers, n_centers, rng);
  std::vector<float> queries = Synthetic(nq, dim, centers, n_centers, rng);
  std::ofstream(dir + "/base.f32", std::ios::binary).write(reinterpret_cast<const char*>(base.data()), static_cast<std::streamsize>(base.size() * 4));
  std::ofstream(dir + "/queries.f32", std::ios::binary).write(reinterpret_cast<const char*>(queries.data()), static_cast<std::streamsize>(queries.size() * 4));

  const std::string kb = dir + "/kb";
  auto cat = Catalog::Open(kb, true);
  if (!cat.ok()) return std::cerr << cat.status().message() << "\n", 1;
  auto t = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    DocumentRow d;
    d.source = "v" + std::to_string(i);
    d.content_hash = d.source;
    ChunkInput c;
    c.text = d.source;
    c.vector.assign(base.begin() + static_cast<std::ptrdiff_t>(i * dim), base.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
    auto id = (*cat)->PutDocument(d, {c}, "synthetic");
    if (!id.ok()) return std::cerr << id.status().message() << "\n", 1;
  }
  const double store_s = std::chrono::duration<double>(Clock::now() - t).count();
  VectorIndexOptions vo;
  vo.force_ann = true;
  vo.build_threads = build_threads;
  t = Clock::now();
  auto idx = VectorIndex::Open(**cat, "synthetic", dim, vo);
  if (!idx.ok()) return std::cerr << idx.status().message() << "\n", 1;
  const double build_s = std::chrono::duration<double>(Clock::now() - t).count();
  // Reopen: the graph comes from the file (as every later query process sees it).
  t = Clock::now();
  idx = VectorIndex::Open(**cat, "synthetic", dim, vo);
  const double load_s = std::chrono::duration<double>(Clock::now() - t).count();

  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i + 1);  // chunk ids follow insertion order
  for (size_t q = 0; q < std::min<size_t>(nq, 100); ++q) (*idx)->Search(&queries[q * dim], k);  // warm-up
  std::vector<double> lat;
  double recall = 0;
  const auto t0 = Clock::now();
  std::vector<std::vector<std::pair<int64_t, float>>> got(nq);
  for (size_t q = 0; q < nq; ++q) {
    const auto s = Clock::now();
    got[q] = (*idx)->Search(&queries[q * dim], k);
    lat.push_back(Ms(s, Clock::now()));
  }
  const double total = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> exact_lat;
  std::ofstream truth_out(dir + "/truth.i32", std::ios::binary);
  for (size_t q = 0; q < nq; ++q) {
    const auto s = Clock::now();
    auto truth = ExactTopK(base.data(), ids.data(), n, dim, &queries[q * dim], k);
    exact_lat.push_back(Ms(s, Clock::now()));
    for (const auto& [id, sc] : got[q]) {
      recall += std::count_if(truth.begin(), truth.end(), [&](const auto& x) { return x.first == id; });
    }
    for (const auto& [id, sc] : truth) {
      int32_t row = static_cast<int32_t>(id - 1);
      truth_out.write(reinterpret_cast<const char*>(&row), 4);
    }
  }
  json out = Summary(lat, total);
  out["recall_at_10"] = recall / static_cast<double>(nq * k);
  out["n"] = n;
  out["dim"] = dim;
  out["store_seconds"] = store_s;
  out["build_seconds"] = build_s;
  out["load_seconds"] = load_s;
  std::sort(exact_lat.begin(), exact_lat.end());
  out["exact_p50_ms"] = exact_lat[exact_lat.size() / 2];
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Quarry retrieval speed"};
  app.require_subcommand(1);
  std::string db, queries, run, dir;
  size_t k = 100, n = 100000, dim = 384, nq = 1000;
  float k1 = 0.9f, b = 0.4f;
  auto* bm = app.add_subcommand("bm25");
  bm->add_option("--db", db)->required();
  bm->add_option("--queries", queries)->required();
  bm->add_option("--run", run)->required();
  bm->add_option("--k", k);
  bm->add_option("--k1", k1);
  bm->add_option("--b", b);
  auto* ann = app.add_subcommand("ann");
  ann->add_option("--dir", dir)->required();
  ann->add_option("--n", n);
  ann->add_option("--dim", dim);
  ann->add_option("--queries", nq);
  int build_threads = 1;
  ann->add_option("--build-threads", build_threads, "Threads building the graph (queries always use one)");
  size_t words = 120;
  auto* syn = app.add_subcommand("bm25-synthetic");
  syn->add_option("--dir", dir)->required();
  syn->add_option("--n", n);
  syn->add_option("--words", words);
  syn->add_option("--queries", nq);
  CLI11_PARSE(app, argc, argv);
  if (bm->parsed()) return Bm25(db, queries, run, k, k1, b);
  if (syn->parsed()) return Bm25Synthetic(dir, n, words, nq, 100);
  return Ann(dir, n, dim, nq, 10, build_threads);
}
