// The HF -> GGUF importer, on tiny checkpoints the test writes itself.
#include <gguf.h>
#include <gtest/gtest.h>

#include <cmath>

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

TEST(Importer, F16KeepsVectorsInF32) {
  test::TempDir dir;
  test::TinyBert spec;
  spec.dtype = "BF16";
  test::WriteTinyBert(dir.str() + "/hf", spec);
  ImportOptions o;
  o.type = ImportOptions::Type::kF16;
  ASSERT_TRUE(ImportHfModel(dir.str() + "/hf", dir.str() + "/m.gguf", o).ok());
  Gguf g(dir.str() + "/m.gguf");
  EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "blk.0.attn_q.weight")), GGML_TYPE_F16);
  EXPECT_EQ(gguf_get_tensor_type(g.ctx, gguf_find_tensor(g.ctx, "blk.0.attn_q.bias")), GGML_TYPE_F32);
  EXPECT_EQ(gguf_get_val_u32(g.ctx, g.Key("general.file_type")), 1u);
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
  EXPECT_NE(r.status().message().find("--pooling"), std::string::npos);
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

}  // namespace
}  // namespace quarry
