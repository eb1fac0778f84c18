// Hugging Face BERT-family checkpoint -> GGUF embedding model.
//
// Follows llama.cpp's own converter (convert_hf_to_gguf.py, conversion/bert.py,
// gguf-py/gguf/vocab.py) for key names, tensor names and the WordPiece
// "phantom space" vocabulary, without Python or torch.
#include <ggml.h>
#include <gguf.h>

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
enum Pooling : uint32_t { kPoolNone = 0, kPoolMean = 1, kPoolCls = 2, kPoolLast = 3 };

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
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::map<std::string, int> ids;
  bool lowercase = true;
  std::optional<bool> strip_accents;
  bool add_bos = true, add_eos = true;
};

Status LoadVocab(const fs::path& dir, int64_t vocab_size, Vocab* v) {
  Status err;
  std::set<std::string> special;
  auto tok_json = ReadJson(dir / "tokenizer.json", &err);
  QUARRY_RETURN_IF_ERROR(err);
  std::map<int, std::string> by_id;
  if (tok_json) {
    const json& model = (*tok_json)["model"];
    if (!model.is_object() || model.value("type", "") != "WordPiece" || !model["vocab"].is_object()) {
      return Status::Unsupported((dir / "tokenizer.json").string() + ": tokenizer model is '" +
                                 (model.is_object() ? model.value("type", "?") : std::string("?")) +
                                 "'; only WordPiece (BERT) tokenizers are supported");
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
std::optional<std::string> MapTensorName(std::string name) {
  if (name.rfind("bert.", 0) == 0) name = name.substr(5);
  auto ends = [&](const std::string& suf) {
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
  if (ends(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
  if (name == "embeddings.position_ids" || name.rfind("pooler.", 0) == 0 || name.rfind("cls.", 0) == 0) return "";
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
  static const std::set<std::string> kBert = {"BertModel", "BertForMaskedLM", "BertForPreTraining"};
  std::string arch_name;
  if (config->contains("architectures") && (*config)["architectures"].is_array() && !(*config)["architectures"].empty()) {
    arch_name = (*config)["architectures"][0].get<std::string>();
  }
  const std::string model_type = config->value("model_type", "");
  if (!kBert.count(arch_name) && !(arch_name.empty() && model_type == "bert")) {
    return Status::Unsupported((dir / "config.json").string() + ": architecture '" +
                               (arch_name.empty() ? model_type : arch_name) +
                               "' is not supported; the importer handles BERT-family encoders "
                               "(BertModel, e.g. all-MiniLM-L6-v2, bge-small-en-v1.5)");
  }
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
    if (!config->contains(names[i]) || !(*config)[names[i]].is_number_integer()) {
      return Status::Corruption((dir / "config.json").string() + ": missing integer '" + names[i] + "'");
    }
    hp[i] = (*config)[names[i]].get<int64_t>();
  }
  const int64_t n_embd = hp[0], n_layer = hp[1], n_head = hp[2], n_ff = hp[3], n_ctx = hp[4], n_vocab = hp[5];
  const float eps = config->value("layer_norm_eps", 1e-12f);
  const int64_t type_vocab = config->value("type_vocab_size", 2);

  auto pooling = ReadPooling(dir, options.pooling);
  if (!pooling.ok()) return pooling.status();

  Vocab vocab;
  QUARRY_RETURN_IF_ERROR(LoadVocab(dir, n_vocab, &vocab));

  auto tensors = ListSafeTensors(hf_dir);
  if (!tensors.ok()) return tensors.status();

  // Metadata.
  std::unique_ptr<gguf_context, GgufFree> gg(gguf_init_empty());
  gguf_context* g = gg.get();
  const std::string name = options.name.empty() ? fs::absolute(dir).lexically_normal().filename().string() : options.name;
  const bool f16 = options.type == ImportOptions::Type::kF16;
  gguf_set_val_str(g, "general.architecture", "bert");
  gguf_set_val_str(g, "general.type", "model");
  gguf_set_val_str(g, "general.name", name.empty() ? "model" : name.c_str());
  gguf_set_val_u32(g, "general.file_type", f16 ? 1 : 0);
  gguf_set_val_u32(g, "general.quantization_version", 2);
  gguf_set_val_str(g, "quarry.importer", "quarry model import 1");
  gguf_set_val_u32(g, "bert.block_count", static_cast<uint32_t>(n_layer));
  gguf_set_val_u32(g, "bert.context_length", static_cast<uint32_t>(n_ctx));
  gguf_set_val_u32(g, "bert.embedding_length", static_cast<uint32_t>(n_embd));
  gguf_set_val_u32(g, "bert.feed_forward_length", static_cast<uint32_t>(n_ff));
  gguf_set_val_u32(g, "bert.attention.head_count", static_cast<uint32_t>(n_head));
  gguf_set_val_f32(g, "bert.attention.layer_norm_epsilon", eps);
  gguf_set_val_bool(g, "bert.attention.causal", false);
  gguf_set_val_u32(g, "bert.pooling_type", *pooling);

  gguf_set_val_str(g, "tokenizer.ggml.model", "bert");
  gguf_set_val_str(g, "tokenizer.ggml.pre", "default");
  std::vector<const char*> tok_ptrs;
  for (const auto& t : vocab.tokens) tok_ptrs.push_back(t.c_str());
  gguf_set_arr_str(g, "tokenizer.ggml.tokens", tok_ptrs.data(), tok_ptrs.size());
  gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, vocab.types.data(), vocab.types.size());
  gguf_set_val_u32(g, "tokenizer.ggml.token_type_count", static_cast<uint32_t>(type_vocab));
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
  special_id("tokenizer.ggml.bos_token_id", {"bos_token", "cls_token"}, "[CLS]");
  special_id("tokenizer.ggml.eos_token_id", {"eos_token", "sep_token"}, "[SEP]");
  special_id("tokenizer.ggml.unknown_token_id", {"unk_token"}, "[UNK]");
  special_id("tokenizer.ggml.seperator_token_id", {"sep_token"}, "[SEP]");  // sic: llama.cpp's spelling
  special_id("tokenizer.ggml.padding_token_id", {"pad_token"}, "[PAD]");
  special_id("tokenizer.ggml.mask_token_id", {"mask_token"}, "[MASK]");
  gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", vocab.add_bos);
  gguf_set_val_bool(g, "tokenizer.ggml.add_eos_token", vocab.add_eos);
  gguf_set_val_bool(g, "tokenizer.ggml.normalizer.lowercase", vocab.lowercase);
  if (vocab.strip_accents) gguf_set_val_bool(g, "tokenizer.ggml.normalizer.strip_accents", *vocab.strip_accents);

  // Tensors: every expected tensor must be present, every present one known.
  std::set<std::string> expected = {"token_embd.weight", "token_types.weight", "position_embd.weight",
                                    "token_embd_norm.weight", "token_embd_norm.bias"};
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
    auto mapped = MapTensorName(t.name);
    if (!mapped) {
      return Status::Unsupported(t.file + ": tensor '" + t.name + "' has no GGUF counterpart in the BERT architecture");
    }
    if (mapped->empty()) continue;
    if (!expected.erase(*mapped)) return Status::Corruption(t.file + ": duplicate or unexpected tensor '" + t.name + "'");
    if (t.shape.empty() || t.shape.size() > 2) return Status::Unsupported(t.file + ": tensor '" + t.name + "' is not 1-D or 2-D");
    auto values = ReadSafeTensorF32(t);
    if (!values.ok()) return values.status();
    int64_t ne[2] = {t.shape.back(), t.shape.size() == 2 ? t.shape[0] : 1};  // ggml: innermost first
    const bool half = f16 && t.shape.size() == 2;
    ggml_tensor* gt = ggml_new_tensor(ctx.get(), half ? GGML_TYPE_F16 : GGML_TYPE_F32, static_cast<int>(t.shape.size()), ne);
    ggml_set_name(gt, mapped->c_str());
    std::vector<uint8_t> bytes(ggml_nbytes(gt));
    if (half) {
      ggml_fp32_to_fp16_row(values->data(), reinterpret_cast<ggml_fp16_t*>(bytes.data()), static_cast<int64_t>(values->size()));
    } else {
      std::memcpy(bytes.data(), values->data(), bytes.size());
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
  report.pooling = *pooling == kPoolMean ? "mean" : *pooling == kPoolCls ? "cls" : "last";
  return report;
}

}  // namespace quarry
