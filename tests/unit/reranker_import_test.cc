// Cross-encoders through the importer: a tiny random BertForSequenceClassification
// and XLMRobertaForSequenceClassification checkpoint, imported to GGUF, scored
// by Reranker (llama.cpp rank pooling) and checked against a plain
// double-precision forward pass written from transformers' modeling_bert.py /
// modeling_xlm_roberta.py (embeddings, post-norm attention blocks with erf GELU,
// and each model's classification head).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "quarry/model.h"
#include "quarry/rag.h"
#include "test_util.h"
#include "unit/tiny_checkpoint.h"

namespace quarry {
namespace {
using nlohmann::json;
using Tensors = std::map<std::string, std::pair<std::vector<long>, std::vector<float>>>;

struct Tiny {
  bool roberta = false;
  int hidden = 8, layers = 2, heads = 2, ff = 16, positions = 32;
  int type_vocab = 2;
  int pos_offset = 0;         // RoBERTa: pad_token_id + 1
  int labels = 1;
  bool same_type_rows = true;  // segment B's type embedding equal to segment A's
  float eps = 1e-12f;
  std::string prefix;          // "bert." or "roberta."
  int vocab = 16;
  bool classifier = true;      // false: the bare encoder (an embedder, mean pooling)
};

Tiny BertSpec() {
  Tiny t;
  t.prefix = "bert.";
  return t;
}

Tiny XlmrSpec() {
  Tiny t;
  t.roberta = true;
  t.type_vocab = 1;
  t.pos_offset = 2;
  t.eps = 1e-5f;
  t.prefix = "roberta.";
  return t;
}

Tensors MakeWeights(const Tiny& s) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  Tensors t;
  auto add = [&](const std::string& name, std::vector<long> shape, float mean = 0.0f, float scale = 1.0f) {
    long n = 1;
    for (long d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = mean + scale * nd(rng);
    t[name] = {shape, v};
  };
  const long h = s.hidden;
  const std::string p = s.prefix;
  add(p + "embeddings.word_embeddings.weight", {s.vocab, h});
  add(p + "embeddings.position_embeddings.weight", {s.positions + s.pos_offset, h});
  add(p + "embeddings.token_type_embeddings.weight", {s.type_vocab, h});
  if (s.same_type_rows && s.type_vocab > 1) {
    auto& v = t[p + "embeddings.token_type_embeddings.weight"].second;
    for (long r = 1; r < s.type_vocab; ++r) std::copy(v.begin(), v.begin() + h, v.begin() + r * h);
  }
  add(p + "embeddings.LayerNorm.weight", {h}, 1.0f, 0.3f);
  add(p + "embeddings.LayerNorm.bias", {h}, 0.0f, 0.3f);
  for (int l = 0; l < s.layers; ++l) {
    const std::string e = p + "encoder.layer." + std::to_string(l) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(e + m + ".weight", {h, h});
      add(e + m + ".bias", {h});
    }
    add(e + "attention.output.LayerNorm.weight", {h}, 1.0f, 0.3f);
    add(e + "attention.output.LayerNorm.bias", {h}, 0.0f, 0.3f);
    add(e + "intermediate.dense.weight", {s.ff, h});
    add(e + "intermediate.dense.bias", {s.ff});
    add(e + "output.dense.weight", {h, s.ff});
    add(e + "output.dense.bias", {h});
    add(e + "output.LayerNorm.weight", {h}, 1.0f, 0.3f);
    add(e + "output.LayerNorm.bias", {h}, 0.0f, 0.3f);
  }
  if (s.classifier && s.roberta) {
    add("classifier.dense.weight", {h, h}, 0.0f, 2.0f);
    add("classifier.dense.bias", {h});
    add("classifier.out_proj.weight", {s.labels, h}, 0.0f, 2.0f);
    add("classifier.out_proj.bias", {s.labels});
  } else if (s.classifier) {
    add(p + "embeddings.position_ids", {1, s.positions}, 0.0f, 0.0f);
    add(p + "pooler.dense.weight", {h, h}, 0.0f, 2.0f);
    add(p + "pooler.dense.bias", {h});
    add("classifier.weight", {s.labels, h}, 0.0f, 2.0f);
    add("classifier.bias", {s.labels});
  }
  return t;
}

void WriteCheckpoint(const std::string& dir, const Tiny& s, const Tensors& t) {
  std::filesystem::create_directories(dir);
  test::WriteSafeTensors(dir + "/model.safetensors", t, "F32");
  const std::string arch = std::string(s.roberta ? "XLMRoberta" : "Bert") + (s.classifier ? "ForSequenceClassification" : "Model");
  json config = {{"architectures", {arch}},
                 {"model_type", s.roberta ? "xlm-roberta" : "bert"}, {"hidden_size", s.hidden},
                 {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads}, {"intermediate_size", s.ff},
                 {"max_position_embeddings", s.positions + s.pos_offset}, {"vocab_size", s.vocab},
                 {"type_vocab_size", s.type_vocab}, {"layer_norm_eps", s.eps}, {"hidden_act", "gelu"},
                 {"id2label", {{"0", "LABEL_0"}}}};
  if (s.roberta) config["pad_token_id"] = 1;
  if (!s.classifier) {
    std::ofstream(dir + "/modules.json") << json::array({{{"idx", 0}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                                                         {{"idx", 1}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}})
                                                .dump();
    std::filesystem::create_directories(dir + "/1_Pooling");
    std::ofstream(dir + "/1_Pooling/config.json") << json{{"pooling_mode_mean_tokens", true}}.dump();
  }
  std::ofstream(dir + "/config.json") << config.dump(2);
  if (s.roberta) {
    // A unigram vocabulary where every test word is one piece.
    json vocab = json::array({{"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}, {"\xE2\x96\x81the", -2.0},
                              {"\xE2\x96\x81" "cat", -2.0}, {"\xE2\x96\x81sat", -2.0}, {"\xE2\x96\x81on", -2.0},
                              {"\xE2\x96\x81mat", -2.0}, {"\xE2\x96\x81hello", -2.0}, {"\xE2\x96\x81world", -2.0},
                              {"\xE2\x96\x81", -3.0}, {"a", -4.0}, {"t", -4.0}, {"c", -4.0}, {"<mask>", 0.0}});
    json added = json::array();
    for (int id : {0, 1, 2, 3, 15}) added.push_back({{"id", id}, {"content", vocab[id][0]}, {"special", true}});
    json tok = {{"model", {{"type", "Unigram"}, {"unk_id", 3}, {"vocab", vocab}}},
                {"added_tokens", added},
                {"normalizer", nullptr},
                {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}}}};
    std::ofstream(dir + "/tokenizer.json") << tok.dump();
    std::ofstream(dir + "/tokenizer_config.json")
        << json{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"sep_token", "</s>"}, {"cls_token", "<s>"},
                {"unk_token", "<unk>"}, {"pad_token", "<pad>"}, {"mask_token", "<mask>"}}.dump();
  } else {
    std::ofstream v(dir + "/vocab.txt");
    for (const char* w : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "##s",
                          "a", "hello", "world", "."}) {
      v << w << "\n";
    }
    std::ofstream(dir + "/tokenizer_config.json") << json{{"do_lower_case", true}, {"cls_token", "[CLS]"}, {"sep_token", "[SEP]"}}.dump();
  }
}

constexpr double kTolerance = 1e-3;

// transformers' forward pass, in double precision, for one tokenised pair
// (skip_pooler: BERT's classifier straight on the [CLS] state, a wrong head).
double Reference(const Tiny& s, const Tensors& t, const std::vector<int>& ids, const std::vector<int>& types,
                 bool skip_pooler = false) {
  using Vec = std::vector<double>;
  const int h = s.hidden, n = static_cast<int>(ids.size()), dh = h / s.heads;
  auto W = [&](const std::string& name) -> const std::vector<float>& { return t.at(s.prefix + name).second; };
  auto linear = [](const std::vector<float>& w, const std::vector<float>& b, const Vec& x) {
    Vec y(b.size());
    for (size_t o = 0; o < b.size(); ++o) {
      double acc = b[o];
      for (size_t i = 0; i < x.size(); ++i) acc += static_cast<double>(w[o * x.size() + i]) * x[i];
      y[o] = acc;
    }
    return y;
  };
  auto norm = [&](Vec x, const std::vector<float>& g, const std::vector<float>& b) {
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= h;
    for (double v : x) var += (v - mean) * (v - mean);
    var /= h;
    for (int i = 0; i < h; ++i) x[i] = (x[i] - mean) / std::sqrt(var + s.eps) * g[i] + b[i];
    return x;
  };
  std::vector<Vec> x(n, Vec(h));
  for (int p = 0; p < n; ++p) {
    for (int i = 0; i < h; ++i) {
      x[p][i] = W("embeddings.word_embeddings.weight")[ids[p] * h + i] +
                W("embeddings.position_embeddings.weight")[(p + s.pos_offset) * h + i] +
                W("embeddings.token_type_embeddings.weight")[types[p] * h + i];
    }
    x[p] = norm(x[p], W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"));
  }
  for (int l = 0; l < s.layers; ++l) {
    const std::string e = "encoder.layer." + std::to_string(l) + ".";
    auto lin = [&](const std::string& m, const Vec& v) { return linear(W(e + m + ".weight"), W(e + m + ".bias"), v); };
    std::vector<Vec> q(n), k(n), v(n), ctx(n, Vec(h, 0.0));
    for (int p = 0; p < n; ++p) {
      q[p] = lin("attention.self.query", x[p]);
      k[p] = lin("attention.self.key", x[p]);
      v[p] = lin("attention.self.value", x[p]);
    }
    for (int hd = 0; hd < s.heads; ++hd) {
      for (int i = 0; i < n; ++i) {
        Vec a(n);
        double mx = -1e300, sum = 0;
        for (int j = 0; j < n; ++j) {
          double d = 0;
          for (int c = 0; c < dh; ++c) d += q[i][hd * dh + c] * k[j][hd * dh + c];
          a[j] = d / std::sqrt(static_cast<double>(dh));
          mx = std::max(mx, a[j]);
        }
        for (double& z : a) sum += (z = std::exp(z - mx));
        for (int j = 0; j < n; ++j) {
          for (int c = 0; c < dh; ++c) ctx[i][hd * dh + c] += a[j] / sum * v[j][hd * dh + c];
        }
      }
    }
    for (int p = 0; p < n; ++p) {
      Vec att = lin("attention.output.dense", ctx[p]);
      for (int i = 0; i < h; ++i) att[i] += x[p][i];
      x[p] = norm(att, W(e + "attention.output.LayerNorm.weight"), W(e + "attention.output.LayerNorm.bias"));
      Vec mid = lin("intermediate.dense", x[p]);
      for (double& z : mid) z = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
      Vec out = lin("output.dense", mid);
      for (int i = 0; i < h; ++i) out[i] += x[p][i];
      x[p] = norm(out, W(e + "output.LayerNorm.weight"), W(e + "output.LayerNorm.bias"));
    }
  }
  auto head = [&](const std::string& a, const std::string& b, const Vec& v) { return linear(t.at(a).second, t.at(b).second, v); };
  Vec pooled = s.roberta ? head("classifier.dense.weight", "classifier.dense.bias", x[0])
                         : head(s.prefix + "pooler.dense.weight", s.prefix + "pooler.dense.bias", x[0]);
  for (double& z : pooled) z = std::tanh(z);
  if (skip_pooler) pooled = x[0];
  return s.roberta ? head("classifier.out_proj.weight", "classifier.out_proj.bias", pooled)[0]
                   : head("classifier.weight", "classifier.bias", pooled)[0];
}

void ExpectScoresMatchReference(const Tiny& spec, const std::vector<std::vector<int>>& pairs,
                                const std::vector<std::vector<int>>& types) {
  test::TempDir dir;
  const Tensors weights = MakeWeights(spec);
  WriteCheckpoint(dir.str() + "/hf", spec, weights);
  const std::string out = dir.str() + "/rerank.gguf";
  auto rep = ImportHfModel(dir.str() + "/hf", out);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->pooling, "rank");
  EXPECT_TRUE(rep->notes.empty());
  auto info = InspectModel(out);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->pooling_type, 4);  // LLAMA_POOLING_TYPE_RANK

  auto rr = Reranker::Open(out, 1);
  ASSERT_TRUE(rr.ok()) << rr.status().message();
  const std::vector<std::string> docs = {"the cat sat on the mat", "hello world", "the mat"};
  auto got = (*rr)->Score("the cat", docs);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), docs.size());
  std::vector<double> want;
  for (size_t i = 0; i < docs.size(); ++i) want.push_back(Reference(spec, weights, pairs[i], types[i]));
  for (size_t i = 0; i < docs.size(); ++i) {
    // llama.cpp's float32 kernels and tanh-form GELU against erf GELU in double.
    // (seen: within 3e-4).
    EXPECT_NEAR((*got)[i], want[i], kTolerance) << docs[i];
  }
  // The check can tell documents apart: their scores differ by several times the tolerance.
  EXPECT_GT(std::fabs(want[0] - want[1]), 5 * kTolerance);
  EXPECT_GT(std::fabs(want[1] - want[2]), 5 * kTolerance);
  EXPECT_GT(std::fabs(want[0] - want[2]), 5 * kTolerance);
  if (!spec.roberta) {
    // llama.cpp's own converter drops BERT's pooler and applies the classifier
    // to the raw [CLS] state; the check would catch that mapping.
    for (size_t i = 0; i < docs.size(); ++i) {
      EXPECT_GT(std::fabs((*got)[i] - Reference(spec, weights, pairs[i], types[i], /*skip_pooler=*/true)), 10 * kTolerance);
    }
  }
}

TEST(RerankerImport, BertCrossEncoderScoresLikeTransformers) {
  // [CLS] the cat [SEP] <document> [SEP]; the document's segment is type 1.
  const std::vector<std::vector<int>> pairs = {
      {2, 5, 6, 3, 5, 6, 7, 8, 5, 9, 3}, {2, 5, 6, 3, 13, 14, 3}, {2, 5, 6, 3, 5, 9, 3}};
  const std::vector<std::vector<int>> types = {
      {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 1, 1, 1}};
  ExpectScoresMatchReference(BertSpec(), pairs, types);
}

TEST(RerankerImport, XlmRobertaCrossEncoderScoresLikeTransformers) {
  // <s> the cat </s></s> <document> </s>; positions start at pad_token_id + 1.
  const std::vector<std::vector<int>> pairs = {
      {0, 4, 5, 2, 2, 4, 5, 6, 7, 4, 8, 2}, {0, 4, 5, 2, 2, 9, 10, 2}, {0, 4, 5, 2, 2, 4, 8, 2}};
  std::vector<std::vector<int>> types;
  for (const auto& p : pairs) types.emplace_back(p.size(), 0);
  ExpectScoresMatchReference(XlmrSpec(), pairs, types);
}

// Regression: a pair longer than the model's positions aborted in ggml
// (get_rows past the position table). Now the document loses its tail, as
// transformers' default truncation does, and the closing [SEP] stays.
TEST(RerankerImport, LongPairsAreTruncatedToTheModelsPositions) {
  test::TempDir dir;
  const Tiny spec = BertSpec();
  const Tensors weights = MakeWeights(spec);
  WriteCheckpoint(dir.str() + "/hf", spec, weights);
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", dir.str() + "/r.gguf").ok());
  auto rr = Reranker::Open(dir.str() + "/r.gguf", 1);
  ASSERT_TRUE(rr.ok()) << rr.status().message();
  std::string doc;
  std::vector<int> doc_ids;
  for (int i = 0; i < 10; ++i) {
    doc += "the cat sat on the mat ";
    doc_ids.insert(doc_ids.end(), {5, 6, 7, 8, 5, 9});
  }
  auto got = (*rr)->Score("the cat", {doc});
  ASSERT_TRUE(got.ok()) << got.status().message();
  std::vector<int> ids = {2, 5, 6, 3}, types = {0, 0, 0, 0};
  const size_t keep = static_cast<size_t>(spec.positions) - ids.size() - 1;
  ids.insert(ids.end(), doc_ids.begin(), doc_ids.begin() + static_cast<long>(keep));
  ids.push_back(3);
  types.resize(ids.size(), 1);
  ASSERT_EQ(ids.size(), static_cast<size_t>(spec.positions));
  EXPECT_NEAR((*got)[0], Reference(spec, weights, ids, types), kTolerance);
}

// The bare XLM-R encoder (bge-m3's architecture) imports as an embedder with
// its unigram vocabulary: llama.cpp tokenises with it as transformers does.
TEST(RerankerImport, XlmRobertaEncoderImportsAsAnEmbedder) {
  test::TempDir dir;
  Tiny spec = XlmrSpec();
  spec.classifier = false;
  WriteCheckpoint(dir.str() + "/hf", spec, MakeWeights(spec));
  auto rep = ImportHfModel(dir.str() + "/hf", dir.str() + "/e.gguf");
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->pooling, "mean");
  auto emb = Embedder::Open(dir.str() + "/e.gguf");
  ASSERT_TRUE(emb.ok()) << emb.status().message();
  EXPECT_EQ((*emb)->CountTokens("the cat"), 4);           // <s> the cat </s>
  EXPECT_EQ((*emb)->CountTokens("the cat sat on the mat"), 8);
  auto v = (*emb)->Embed({"the cat sat", "hello world"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ((*v)[0].size(), static_cast<size_t>(spec.hidden));
  EXPECT_NE((*v)[0], (*v)[1]);
  EXPECT_FALSE(Reranker::Open(dir.str() + "/e.gguf", 1).ok());
}

TEST(RerankerImport, SegmentTypeDifferenceIsReported) {
  test::TempDir dir;
  Tiny spec = BertSpec();
  spec.same_type_rows = false;
  WriteCheckpoint(dir.str() + "/hf", spec, MakeWeights(spec));
  auto rep = ImportHfModel(dir.str() + "/hf", dir.str() + "/r.gguf");
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  ASSERT_EQ(rep->notes.size(), 1u);
  EXPECT_NE(rep->notes[0].find("type embedding"), std::string::npos) << rep->notes[0];
}

TEST(RerankerImport, ClassifiersWithSeveralLabelsAndPoolingOverridesAreRefused) {
  test::TempDir dir;
  Tiny spec = XlmrSpec();
  spec.labels = 3;
  WriteCheckpoint(dir.str() + "/hf", spec, MakeWeights(spec));
  auto rep = ImportHfModel(dir.str() + "/hf", dir.str() + "/r.gguf");
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.status().message().find("3 outputs"), std::string::npos) << rep.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "r.gguf"));

  WriteCheckpoint(dir.str() + "/b", BertSpec(), MakeWeights(BertSpec()));
  ImportOptions o;
  o.pooling = "mean";
  auto pooled = ImportHfModel(dir.str() + "/b", dir.str() + "/b.gguf", o);
  ASSERT_FALSE(pooled.ok());
  EXPECT_EQ(pooled.status().option(), "pooling");
}

TEST(RerankerImport, AnEmbedderIsNotAReranker) {
  test::TempDir dir;
  test::WriteTinyBert(dir.str() + "/hf", test::TinyBert{});
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", dir.str() + "/e.gguf").ok());
  auto rr = Reranker::Open(dir.str() + "/e.gguf", 1);
  ASSERT_FALSE(rr.ok());
  EXPECT_NE(rr.status().message().find("not a reranker"), std::string::npos) << rr.status().message();
}

}  // namespace
}  // namespace quarry
