// Hugging Face BERT-family checkpoint -> GGUF embedding model or cross-encoder.
//
// Follows llama.cpp's own converter (convert_hf_to_gguf.py, conversion/bert.py,
// gguf-py/gguf/vocab.py) for key names, tensor names, the WordPiece "phantom
// space" vocabulary and XLM-RoBERTa's unigram one, without Python or torch.
// One deliberate difference: for BertForSequenceClassification the converter
// drops the pooler and feeds the [CLS] state straight to the classifier; here
// the pooler becomes llama.cpp's "cls" (dense + tanh) and the classifier its
// "cls.output", which is what transformers computes.
#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <cstring>

#include "model/safetensors.h"
#include "model/gguf_write.h"
#include "quarry/model.h"

namespace quarry {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// gguf-py TokenType values.
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5 };
// llama.cpp pooling types.
enum Pooling : uint32_t { kPoolNone = 0, kPoolMean = 1, kPoolCls = 2, kPoolLast = 3, kPoolRank = 4 };

// What the checkpoint is: a BERT or XLM-RoBERTa encoder, bare (an embedder,
// pooled as its sentence-transformers config says) or with a one-logit
// sequence-classification head (a cross-encoder: llama.cpp's rank pooling).
struct Arch {
  bool roberta = false;
  bool classifier = false;
};

std::optional<json> ReadJson(const fs::path& p, Status* err) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream in(p);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) {
    *err = Status::Corruption(p.string() + ": not valid JSON");
    return std::nullopt;
  }
  return j;
}

// A special token's text from tokenizer_config.json / special_tokens_map.json:
// either "[CLS]" or {"content": "[CLS]", ...}.
std::string TokenText(const json& cfg, const std::string& key) {
  if (!cfg.contains(key)) return {};
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

struct Vocab {
  bool unigram = false;  // XLM-R's SentencePiece model ("t5" in llama.cpp) rather than WordPiece
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<float> scores;               // unigram only
  std::string charsmap;                    // unigram only: SentencePiece's precompiled normaliser
  bool add_space_prefix = true, remove_extra_whitespaces = true;
  std::map<std::string, int> ids;
  bool lowercase = true;
  std::optional<bool> strip_accents;
  bool add_bos = true, add_eos = true;
};

std::optional<std::string> Base64Decode(const std::string& in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if ((bits += 6) >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// The first normaliser / pre-tokeniser of `type`, alone or inside a Sequence.
const json* FindStep(const json& step, const char* list, const std::string& type) {
  if (!step.is_object()) return nullptr;
  if (step.value("type", "") == type) return &step;
  if (step.contains(list) && step[list].is_array()) {
    for (const json& s : step[list]) {
      if (s.is_object() && s.value("type", "") == type) return &s;
    }
  }
  return nullptr;
}

// XLM-RoBERTa's SentencePiece unigram model as tokenizer.json holds it:
// model.vocab is [[piece, score], ...] in id order, the normaliser carries the
// precompiled charsmap (base64), the Metaspace pre-tokeniser the dummy prefix.
Status LoadUnigram(const fs::path& file, const json& tok, const std::optional<json>& tok_cfg, int64_t vocab_size, Vocab* v) {
  const json& model = tok["model"];
  if (!model["vocab"].is_array() || model["vocab"].empty()) return Status::Corruption(file.string() + ": unigram model without a vocab list");
  std::set<int64_t> special;
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array()) {
    for (const auto& a : tok["added_tokens"]) {
      if (a.value("special", false) && a.contains("id") && a["id"].is_number_integer()) special.insert(a["id"].get<int64_t>());
    }
  }
  const int64_t unk = model.value("unk_id", int64_t{-1});
  const json& list = model["vocab"];
  const int64_t n = std::max<int64_t>(vocab_size, static_cast<int64_t>(list.size()));
  v->unigram = true;
  for (int64_t i = 0; i < n; ++i) {
    if (i >= static_cast<int64_t>(list.size())) {
      v->tokens.push_back("[PAD" + std::to_string(i) + "]");
      v->scores.push_back(-10000.0f);
      v->types.push_back(kUnused);
      continue;
    }
    const json& e = list[static_cast<size_t>(i)];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) {
      return Status::Corruption(file.string() + ": unigram vocab entry " + std::to_string(i) + " is not [piece, score]");
    }
    const std::string piece = e[0].get<std::string>();
    v->ids.emplace(piece, static_cast<int>(i));
    v->tokens.push_back(piece);
    v->scores.push_back(e[1].get<float>());
    v->types.push_back(i == unk ? kUnknown : special.count(i) ? kControl : kNormal);
  }
  if (const json* pc = FindStep(tok["normalizer"], "normalizers", "Precompiled")) {
    if (pc->contains("precompiled_charsmap") && (*pc)["precompiled_charsmap"].is_string()) {
      auto bytes = Base64Decode((*pc)["precompiled_charsmap"].get<std::string>());
      if (!bytes) return Status::Corruption(file.string() + ": precompiled_charsmap is not base64");
      v->charsmap = std::move(*bytes);
    }
  }
  if (const json* ms = FindStep(tok["pre_tokenizer"], "pretokenizers", "Metaspace")) {
    if (ms->contains("add_prefix_space") && (*ms)["add_prefix_space"].is_boolean()) v->add_space_prefix = (*ms)["add_prefix_space"].get<bool>();
    if (ms->contains("prepend_scheme") && (*ms)["prepend_scheme"].is_string()) v->add_space_prefix = (*ms)["prepend_scheme"].get<std::string>() != "never";
  }
  if (tok_cfg && tok_cfg->contains("clean_up_tokenization_spaces") && (*tok_cfg)["clean_up_tokenization_spaces"].is_boolean()) {
    v->remove_extra_whitespaces = (*tok_cfg)["clean_up_tokenization_spaces"].get<bool>();
  }
  // A sentence is <s> ... </s>; a pair <s> A </s></s> B </s> (llama.cpp adds the separator).
  v->add_bos = v->add_eos = true;
  return Status::OK();
}

Status LoadVocab(const fs::path& dir, int64_t vocab_size, Vocab* v) {
  Status err;
  std::set<std::string> special;
  auto tok_json = ReadJson(dir / "tokenizer.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  std::map<int, std::string> by_id;
  if (tok_json) {
    const json& model = (*tok_json)["model"];
    if (model.is_object() && model.value("type", "") == "Unigram") {
      auto tok_cfg = ReadJson(dir / "tokenizer_config.json", &err);
      QUARRY_RETURN_IF_ERROR(err);
      return LoadUnigram(dir / "tokenizer.json", *tok_json, tok_cfg, vocab_size, v);
    }
    if (!model.is_object() || model.value("type", "") != "WordPiece" || !model["vocab"].is_object()) {
      return Status::Unsupported((dir / "tokenizer.json").string() + ": tokenizer model is '" +
                                 (model.is_object() ? model.value("type", "?") : std::string("?")) +
                                 "'; only WordPiece (BERT) and Unigram (XLM-RoBERTa) tokenizers are supported");
    }
    for (auto& [tok, id] : model["vocab"].items()) by_id[id.get<int>()] = tok;
    if (tok_json->contains("added_tokens")) {
      for (const auto& a : (*tok_json)["added_tokens"]) {
        by_id[a.value("id", -1)] = a.value("content", "");
        if (a.value("special", false)) special.insert(a.value("content", ""));
      }
    }
    const json& norm = (*tok_json)["normalizer"];
    if (norm.is_object() && norm.value("type", "") == "BertNormalizer") {
      v->lowercase = norm.value("lowercase", true);
      if (norm.contains("strip_accents") && norm["strip_accents"].is_boolean()) v->strip_accents = norm["strip_accents"].get<bool>();
    }
    const json& post = (*tok_json)["post_processor"];
    if (post.is_object() && post.value("type", "") == "TemplateProcessing" && post["single"].is_array()) {
      const json& single = post["single"];
      v->add_bos = !single.empty() && single.front().contains("SpecialToken");
      v->add_eos = !single.empty() && single.back().contains("SpecialToken");
    }
  } else {
    std::ifstream in(dir / "vocab.txt");
    if (!in) return Status::NotFound(dir.string() + ": neither tokenizer.json nor vocab.txt; the tokenizer is required");
    std::string line;
    int id = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      by_id[id++] = line;
    }
  }
  if (by_id.empty()) return Status::Corruption(dir.string() + ": empty vocabulary");

  auto tok_cfg = ReadJson(dir / "tokenizer_config.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  auto map_cfg = ReadJson(dir / "special_tokens_map.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  if (tok_cfg && !tok_json && tok_cfg->contains("do_lower_case") && (*tok_cfg)["do_lower_case"].is_boolean()) {
    v->lowercase = (*tok_cfg)["do_lower_case"].get<bool>();
  }
  if (tok_cfg && !tok_json && tok_cfg->contains("strip_accents") && (*tok_cfg)["strip_accents"].is_boolean()) {
    v->strip_accents = (*tok_cfg)["strip_accents"].get<bool>();
  }
  // Special tokens named by the configs (or BERT's conventional names) are CONTROL.
  for (const char* key : {"cls_token", "sep_token", "unk_token", "pad_token", "mask_token"}) {
    std::string t;
    if (tok_cfg) t = TokenText(*tok_cfg, key);
    if (t.empty() && map_cfg) t = TokenText(*map_cfg, key);
    if (!t.empty()) special.insert(t);
  }
  if (!tok_json) {
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) special.insert(t);
  }

  const int64_t n = std::max<int64_t>(vocab_size, by_id.rbegin()->first + 1);
  for (int64_t i = 0; i < n; ++i) {
    auto it = by_id.find(static_cast<int>(i));
    if (it == by_id.end()) {
      v->tokens.push_back("[PAD" + std::to_string(i) + "]");
      v->types.push_back(kUnused);
      continue;
    }
    const std::string& tok = it->second;
    v->ids.emplace(tok, static_cast<int>(i));
    if (special.count(tok)) {
      v->tokens.push_back(tok);
      v->types.push_back(kControl);
    } else if (tok.rfind("##", 0) == 0) {  // word continuation: no phantom space
      v->tokens.push_back(tok.substr(2));
      v->types.push_back(kNormal);
    } else {
      v->tokens.push_back("\xE2\x96\x81" + tok);  // U+2581 marks a word start
      v->types.push_back(kNormal);
    }
  }
  return Status::OK();
}

Result<uint32_t> ReadPooling(const fs::path& dir, const std::string& override_mode) {
  if (!override_mode.empty()) {
    if (override_mode == "mean") return kPoolMean;
    if (override_mode == "cls") return kPoolCls;
    if (override_mode == "last") return kPoolLast;
    return Status::InvalidArgument("pooling '" + override_mode + "': use mean, cls or last");
  }
  Status err;
  auto modules = ReadJson(dir / "modules.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  std::string pooling_dir;
  if (modules && modules->is_array()) {
    for (const auto& m : *modules) {
      std::string type = m.value("type", "");
      if (type.size() >= 7 && type.compare(type.size() - 7, 7, "Pooling") == 0) pooling_dir = m.value("path", "");
    }
  }
  if (pooling_dir.empty()) {
    return Status::Unsupported(dir.string() + ": no pooling configuration (modules.json with a Pooling module); "
                               "name one: mean, cls or last")
        .About("pooling");
  }
  auto cfg = ReadJson(dir / pooling_dir / "config.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  if (!cfg) return Status::NotFound((dir / pooling_dir / "config.json").string() + ": missing pooling config");
  if (cfg->value("pooling_mode_mean_tokens", false)) return kPoolMean;
  if (cfg->value("pooling_mode_cls_token", false)) return kPoolCls;
  if (cfg->value("pooling_mode_lasttoken", false)) return kPoolLast;
  std::string mode = cfg->value("pooling_mode", "");
  if (mode == "mean") return kPoolMean;
  if (mode == "cls") return kPoolCls;
  if (mode == "lasttoken") return kPoolLast;
  return Status::Unsupported((dir / pooling_dir / "config.json").string() +
                             ": pooling mode is not mean, cls or last-token (llama.cpp supports only these)");
}

// HF tensor name -> GGUF tensor name; "" to drop; nullopt when unknown.
std::optional<std::string> MapTensorName(std::string name, const Arch& arch) {
  if (name.rfind("bert.", 0) == 0) name = name.substr(5);
  if (name.rfind("roberta.", 0) == 0) name = name.substr(8);
  auto ends = [&](const std::string& suf) {
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
  if (ends(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
  // Classification heads: BERT's is pooler (dense + tanh) then classifier;
  // RoBERTa's is classifier.dense (+ tanh) then classifier.out_proj.
  if (arch.classifier && !arch.roberta) {
    if (name == "pooler.dense.weight" || name == "pooler.dense.bias") return "cls" + name.substr(12);
    if (name == "classifier.weight" || name == "classifier.bias") return "cls.output" + name.substr(10);
  }
  if (arch.classifier && arch.roberta) {
    if (name == "classifier.dense.weight" || name == "classifier.dense.bias") return "cls" + name.substr(16);
    if (name == "classifier.out_proj.weight" || name == "classifier.out_proj.bias") return "cls.output" + name.substr(19);
  }
  if (name == "embeddings.position_ids" || name.rfind("pooler.", 0) == 0 || name.rfind("cls.", 0) == 0 ||
      name.rfind("lm_head.", 0) == 0) {
    return "";
  }
  static const std::map<std::string, std::string> fixed = {
      {"embeddings.word_embeddings", "token_embd"},
      {"embeddings.token_type_embeddings", "token_types"},
      {"embeddings.position_embeddings", "position_embd"},
      {"embeddings.LayerNorm", "token_embd_norm"},
  };
  static const std::vector<std::pair<std::string, std::string>> layer = {
      {"attention.self.query", "attn_q"},
      {"attention.self.key", "attn_k"},
      {"attention.self.value", "attn_v"},
      {"attention.output.dense", "attn_output"},
      {"attention.output.LayerNorm", "attn_output_norm"},
      {"intermediate.dense", "ffn_up"},
      {"output.dense", "ffn_down"},
      {"output.LayerNorm", "layer_output_norm"},
  };
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return std::nullopt;
  const std::string base = name.substr(0, dot), suffix = name.substr(dot);  // ".weight" / ".bias"
  if (suffix != ".weight" && suffix != ".bias") return std::nullopt;
  if (auto it = fixed.find(base); it != fixed.end()) return it->second + suffix;
  // encoder.layer.<N>.<module>
  static const std::string kLayer = "encoder.layer.";
  if (base.rfind(kLayer, 0) != 0) return std::nullopt;
  const size_t num_end = base.find('.', kLayer.size());
  if (num_end == std::string::npos || num_end == kLayer.size()) return std::nullopt;
  const std::string num = base.substr(kLayer.size(), num_end - kLayer.size());
  if (num.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::string module = base.substr(num_end + 1);
  for (const auto& [hf, gg] : layer) {
    if (module == hf) return "blk." + num + "." + gg + suffix;
  }
  return std::nullopt;
}


}  // namespace

Status WriteGgufFile(gguf_context* g, const std::string& out_path) {
  std::error_code ec;
  const std::string tmp = out_path + ".tmp";
  if (!gguf_write_to_file(g, tmp.c_str(), false)) {
    fs::remove(tmp, ec);
    return Status::IOError(out_path + ": cannot write (directory missing or disk full?)");
  }
  fs::rename(tmp, out_path, ec);
  if (ec) return Status::IOError(out_path + ": cannot move into place: " + ec.message());
  return Status::OK();
}

Result<ImportReport> ImportHfModel(const std::string& hf_dir, const std::string& out_gguf, const ImportOptions& options) {
  const fs::path dir(hf_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(hf_dir + ": not a directory");
  Status err;
  auto config = ReadJson(dir / "config.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  if (!config) return Status::NotFound(hf_dir + ": no config.json; is this a Hugging Face model directory?");

  // Architecture.
  static const std::map<std::string, Arch> kArchs = {
      {"BertModel", {false, false}},          {"BertForMaskedLM", {false, false}},
      {"BertForPreTraining", {false, false}}, {"BertForSequenceClassification", {false, true}},
      {"XLMRobertaModel", {true, false}},     {"XLMRobertaForSequenceClassification", {true, true}},
  };
  std::string arch_name;
  if (config->contains("architectures") && (*config)["architectures"].is_array() && !(*config)["architectures"].empty() &&
      (*config)["architectures"][0].is_string()) {
    arch_name = (*config)["architectures"][0].get<std::string>();
  }
  const std::string model_type = config->value("model_type", "");
  if (arch_name.empty() && model_type == "bert") arch_name = "BertModel";
  if (arch_name.empty() && model_type == "xlm-roberta") arch_name = "XLMRobertaModel";
  const auto arch_it = kArchs.find(arch_name);
  if (arch_it == kArchs.end()) {
    return Status::Unsupported((dir / "config.json").string() + ": architecture '" +
                               (arch_name.empty() ? model_type : arch_name) +
                               "' is not supported; the importer handles BERT and XLM-RoBERTa encoders (BertModel, "
                               "XLMRobertaModel, e.g. all-MiniLM-L6-v2, bge-m3) and their cross-encoders "
                               "(BertForSequenceClassification, XLMRobertaForSequenceClassification, e.g. "
                               "ms-marco-MiniLM-L-6-v2, bge-reranker-v2-m3)");
  }
  const Arch arch = arch_it->second;
  if (config->value("position_embedding_type", "absolute") != "absolute") {
    return Status::Unsupported((dir / "config.json").string() + ": position_embedding_type '" +
                               config->value("position_embedding_type", "") + "' is not supported (only absolute)");
  }
  const std::string act = config->value("hidden_act", "gelu");
  if (act != "gelu") {
    return Status::Unsupported((dir / "config.json").string() + ": hidden_act '" + act + "' is not supported (llama.cpp's BERT uses gelu)");
  }
  int64_t hp[6];
  const char* names[6] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                          "max_position_embeddings", "vocab_size"};
  for (int i = 0; i < 6; ++i) {
    if (!config->contains(names[i]) || !(*config)[names[i]].is_number_integer() || (*config)[names[i]].get<int64_t>() <= 0) {
      return Status::Corruption((dir / "config.json").string() + ": missing positive integer '" + names[i] + "'");
    }
    hp[i] = (*config)[names[i]].get<int64_t>();
  }
  const int64_t n_embd = hp[0], n_layer = hp[1], n_head = hp[2], n_ff = hp[3], n_vocab = hp[5];
  // RoBERTa numbers positions from pad_token_id + 1; llama.cpp from 0, so the
  // first rows of the position table go (as llama.cpp's converter does).
  const int64_t pos_offset = arch.roberta ? config->value("pad_token_id", int64_t{1}) + 1 : 0;
  const int64_t n_ctx = hp[4] - pos_offset;
  if (n_ctx <= 0) return Status::Corruption((dir / "config.json").string() + ": max_position_embeddings is not above pad_token_id + 1");
  const float eps = config->value("layer_norm_eps", 1e-12f);
  const int64_t type_vocab = config->value("type_vocab_size", int64_t{2});

  uint32_t pooling = kPoolRank;
  if (arch.classifier) {
    if (!options.pooling.empty()) {
      return Status::InvalidArgument(hf_dir + ": a cross-encoder scores with its classification head; pooling '" +
                                     options.pooling + "' does not apply")
          .About("pooling");
    }
  } else {
    auto p = ReadPooling(dir, options.pooling);
    if (!p.ok()) return p.status();
    pooling = *p;
  }

  Vocab vocab;
  QUARRY_RETURN_IF_ERROR(LoadVocab(dir, n_vocab, &vocab));
  if (arch.roberta != vocab.unigram) {
    return Status::Unsupported(hf_dir + ": " + arch_name + " with a " + (vocab.unigram ? "unigram" : "WordPiece") +
                               " tokenizer; BERT models need WordPiece (vocab.txt or tokenizer.json), XLM-RoBERTa "
                               "models need tokenizer.json with its Unigram model");
  }

  auto tensors = ListSafeTensors(hf_dir);
  if (!tensors.ok()) return tensors.status();

  // Metadata.
  std::unique_ptr<gguf_context, GgufFree> gg(gguf_init_empty());
  gguf_context* g = gg.get();
  const std::string name = options.name.empty() ? fs::absolute(dir).lexically_normal().filename().string() : options.name;
  // The type of the weight matrices; vectors and the tables below stay F32.
  const ggml_type matrix_type = options.type == ImportOptions::Type::kBF16  ? GGML_TYPE_BF16
                                : options.type == ImportOptions::Type::kF16 ? GGML_TYPE_F16
                                                                            : GGML_TYPE_F32;
  gguf_set_val_str(g, "general.architecture", "bert");
  gguf_set_val_str(g, "general.type", "model");
  gguf_set_val_str(g, "general.name", name.empty() ? "model" : name.c_str());
  gguf_set_val_u32(g, "general.file_type",  // llama_ftype
                   matrix_type == GGML_TYPE_BF16 ? 32 : matrix_type == GGML_TYPE_F16 ? 1 : 0);
  gguf_set_val_u32(g, "general.quantization_version", 2);
  gguf_set_val_str(g, "quarry.importer", "quarry model import 1");
  gguf_set_val_u32(g, "bert.block_count", static_cast<uint32_t>(n_layer));
  gguf_set_val_u32(g, "bert.context_length", static_cast<uint32_t>(n_ctx));
  gguf_set_val_u32(g, "bert.embedding_length", static_cast<uint32_t>(n_embd));
  gguf_set_val_u32(g, "bert.feed_forward_length", static_cast<uint32_t>(n_ff));
  gguf_set_val_u32(g, "bert.attention.head_count", static_cast<uint32_t>(n_head));
  gguf_set_val_f32(g, "bert.attention.layer_norm_epsilon", eps);
  gguf_set_val_bool(g, "bert.attention.causal", false);
  gguf_set_val_u32(g, "bert.pooling_type", pooling);

  gguf_set_val_str(g, "tokenizer.ggml.model", vocab.unigram ? "t5" : "bert");
  gguf_set_val_str(g, "tokenizer.ggml.pre", "default");
  std::vector<const char*> tok_ptrs;
  for (const auto& t : vocab.tokens) tok_ptrs.push_back(t.c_str());
  gguf_set_arr_str(g, "tokenizer.ggml.tokens", tok_ptrs.data(), tok_ptrs.size());
  gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, vocab.types.data(), vocab.types.size());
  gguf_set_val_u32(g, "tokenizer.ggml.token_type_count", static_cast<uint32_t>(type_vocab));
  if (vocab.unigram) {
    gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, vocab.scores.data(), vocab.scores.size());
    gguf_set_val_bool(g, "tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
    gguf_set_val_bool(g, "tokenizer.ggml.remove_extra_whitespaces", vocab.remove_extra_whitespaces);
    if (!vocab.charsmap.empty()) {
      gguf_set_arr_data(g, "tokenizer.ggml.precompiled_charsmap", GGUF_TYPE_UINT8, vocab.charsmap.data(), vocab.charsmap.size());
    }
  }
  auto special_id = [&](const char* key, std::initializer_list<const char*> cfg_keys, const char* fallback) {
    Status e;
    std::string text;
    for (const char* file : {"tokenizer_config.json", "special_tokens_map.json"}) {
      if (auto cfg = ReadJson(dir / file, &e)) {
        for (const char* k : cfg_keys) {
          if (text.empty()) text = TokenText(*cfg, k);
        }
      }
    }
    if (text.empty()) text = fallback;
    if (auto it = vocab.ids.find(text); it != vocab.ids.end()) gguf_set_val_u32(g, key, static_cast<uint32_t>(it->second));
  };
  const bool u = vocab.unigram;
  special_id("tokenizer.ggml.bos_token_id", {"bos_token", "cls_token"}, u ? "<s>" : "[CLS]");
  special_id("tokenizer.ggml.eos_token_id", {"eos_token", "sep_token"}, u ? "</s>" : "[SEP]");
  special_id("tokenizer.ggml.unknown_token_id", {"unk_token"}, u ? "<unk>" : "[UNK]");
  special_id("tokenizer.ggml.seperator_token_id", {"sep_token"}, u ? "</s>" : "[SEP]");  // sic: llama.cpp's spelling
  special_id("tokenizer.ggml.padding_token_id", {"pad_token"}, u ? "<pad>" : "[PAD]");
  special_id("tokenizer.ggml.mask_token_id", {"mask_token"}, u ? "<mask>" : "[MASK]");
  gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", vocab.add_bos);
  gguf_set_val_bool(g, "tokenizer.ggml.add_eos_token", vocab.add_eos);
  // How llama.cpp (and Quarry's reranker, which follows its server) lays out a
  // query-document pair: BERT's [CLS] A [SEP] B [SEP] has one separator (the
  // end-of-sequence [SEP]); XLM-R's <s> A </s></s> B </s> has two. Embedding
  // a single text ignores this flag.
  gguf_set_val_bool(g, "tokenizer.ggml.add_sep_token", vocab.unigram);
  if (!vocab.unigram) {
    gguf_set_val_bool(g, "tokenizer.ggml.normalizer.lowercase", vocab.lowercase);
    if (vocab.strip_accents) gguf_set_val_bool(g, "tokenizer.ggml.normalizer.strip_accents", *vocab.strip_accents);
  }

  // Tensors: every expected tensor must be present, every present one known.
  std::set<std::string> expected = {"token_embd.weight", "token_types.weight", "position_embd.weight",
                                    "token_embd_norm.weight", "token_embd_norm.bias"};
  if (arch.classifier) expected.insert({"cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias"});
  for (int64_t l = 0; l < n_layer; ++l) {
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "attn_output_norm", "ffn_up", "ffn_down", "layer_output_norm"}) {
      for (const char* s : {".weight", ".bias"}) expected.insert("blk." + std::to_string(l) + "." + t + s);
    }
  }
  const size_t meta = ggml_tensor_overhead() * (tensors->size() + 1);
  std::unique_ptr<ggml_context, GgmlFree> ctx(ggml_init({meta, nullptr, /*no_alloc=*/true}));
  std::vector<std::vector<uint8_t>> data;  // must outlive gguf_write_to_file
  data.reserve(tensors->size());
  ImportReport report;
  for (const SafeTensor& t : *tensors) {
    auto mapped = MapTensorName(t.name, arch);
    if (!mapped) {
      return Status::Unsupported(t.file + ": tensor '" + t.name + "' has no GGUF counterpart in the BERT architecture");
    }
    if (mapped->empty()) continue;
    if (!expected.erase(*mapped)) return Status::Corruption(t.file + ": duplicate or unexpected tensor '" + t.name + "'");
    if (t.shape.empty() || t.shape.size() > 2) return Status::Unsupported(t.file + ": tensor '" + t.name + "' is not 1-D or 2-D");
    if (*mapped == "cls.output.weight" && t.shape[0] != 1) {
      return Status::Unsupported(t.file + ": the classifier has " + std::to_string(t.shape[0]) +
                                 " outputs; a reranker gives one relevance score per pair (num_labels 1)");
    }
    auto values = ReadSafeTensorF32(t);
    if (!values.ok()) return values.status();
    std::vector<int64_t> shape = t.shape;
    size_t skip = 0;  // leading values dropped (RoBERTa's unused position rows)
    if (*mapped == "position_embd.weight" && pos_offset > 0) {
      if (shape.size() != 2 || shape[0] <= pos_offset) return Status::Corruption(t.file + ": position table too short for pad_token_id");
      shape[0] -= pos_offset;
      skip = static_cast<size_t>(pos_offset * shape[1]);
    }
    if (*mapped == "token_types.weight" && arch.classifier && !arch.roberta && shape.size() == 2 && shape[0] >= 2 &&
        !std::equal(values->begin(), values->begin() + shape[1], values->begin() + shape[1])) {
      report.notes.push_back("llama.cpp gives every token the first segment's type embedding; this model was trained "
                             "with a second one for the document, so its scores differ somewhat from transformers'");
    }
    int64_t ne[2] = {shape.back(), shape.size() == 2 ? shape[0] : 1};  // ggml: innermost first
    // As llama.cpp's converter: tables llama.cpp adds to activations directly
    // (it views token type row 0 and adds it; ggml's add takes no F16 operand)
    // stay F32, like every vector.
    const bool matrix = shape.size() == 2 && *mapped != "token_types.weight" && *mapped != "position_embd.weight";
    const ggml_type type = matrix ? matrix_type : GGML_TYPE_F32;
    ggml_tensor* gt = ggml_new_tensor(ctx.get(), type, static_cast<int>(shape.size()), ne);
    ggml_set_name(gt, mapped->c_str());
    std::vector<uint8_t> bytes(ggml_nbytes(gt));
    const float* src = values->data() + skip;
    if (type == GGML_TYPE_BF16) {
      ggml_fp32_to_bf16_row_ref(src, reinterpret_cast<ggml_bf16_t*>(bytes.data()), ggml_nelements(gt));  // round to nearest even
    } else if (type == GGML_TYPE_F16) {
      ggml_fp32_to_fp16_row(src, reinterpret_cast<ggml_fp16_t*>(bytes.data()), ggml_nelements(gt));
    } else {
      std::memcpy(bytes.data(), src, bytes.size());
    }
    data.push_back(std::move(bytes));
    gguf_add_tensor(g, gt);
    gguf_set_tensor_data(g, gt->name, data.back().data());
    ++report.tensors;
  }
  if (!expected.empty()) {
    return Status::Corruption(hf_dir + ": checkpoint lacks tensor " + *expected.begin() + " (" +
                              std::to_string(expected.size()) + " missing)");
  }

  QUARRY_RETURN_IF_ERROR(WriteGgufFile(g, out_gguf));
  report.architecture = "bert";
  report.vocab_size = static_cast<int>(vocab.tokens.size());
  report.embedding_length = static_cast<int>(n_embd);
  report.pooling = pooling == kPoolMean ? "mean" : pooling == kPoolCls ? "cls" : pooling == kPoolLast ? "last" : "rank";
  return report;
}

}  // namespace quarry
