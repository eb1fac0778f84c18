#include "unit/tiny_checkpoint.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace quarry::test {
using nlohmann::json;

namespace {
uint16_t ToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7FFFFF;
  int exp = static_cast<int>((x >> 23) & 0xFF) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);  // tiny values flush to zero (fine for tests)
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7C00);
  return static_cast<uint16_t>(sign | (exp << 10) | (mant >> 13));
}
}  // namespace

void WriteSafeTensors(const std::string& path,
                      const std::map<std::string, std::pair<std::vector<long>, std::vector<float>>>& tensors,
                      const std::string& dtype) {
  json header = json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const size_t begin = data.size();
    for (float f : t.second) {
      if (dtype == "F32") {
        data.append(reinterpret_cast<const char*>(&f), 4);
      } else if (dtype == "F16") {
        uint16_t h = ToF16(f);
        data.append(reinterpret_cast<const char*>(&h), 2);
      } else {  // BF16: truncate
        uint32_t x;
        std::memcpy(&x, &f, 4);
        uint16_t h = static_cast<uint16_t>(x >> 16);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
    header[name] = {{"dtype", dtype}, {"shape", t.first}, {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  uint64_t n = h.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << data;
}

std::map<std::string, std::vector<long>> WriteTinyBert(const std::string& dir, const TinyBert& s) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.2f);
  std::map<std::string, std::pair<std::vector<long>, std::vector<float>>> t;
  auto add = [&](const std::string& name, std::vector<long> shape, float fill = NAN) {
    long n = 1;
    for (long d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = std::isnan(fill) ? nd(rng) : fill;
    t[name] = {shape, v};
  };
  const long h = s.hidden, V = static_cast<long>(s.vocab.size());
  add("embeddings.word_embeddings.weight", {V, h});
  add("embeddings.position_embeddings.weight", {s.positions, h});
  add("embeddings.token_type_embeddings.weight", {s.type_vocab, h});
  add("embeddings.LayerNorm.weight", {h}, 1.0f);
  add("embeddings.LayerNorm.bias", {h}, 0.0f);
  add("embeddings.position_ids", {1, s.positions}, 0.0f);  // dropped by the importer
  add("pooler.dense.weight", {h, h});                      // dropped by the importer
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
      add(p + m + ".weight", {h, h});
      add(p + m + ".bias", {h});
    }
    add(p + "attention.output.LayerNorm.weight", {h}, 1.0f);
    add(p + "attention.output.LayerNorm.bias", {h}, 0.0f);
    add(p + "intermediate.dense.weight", {s.ff, h});
    add(p + "intermediate.dense.bias", {s.ff});
    add(p + "output.dense.weight", {h, s.ff});
    add(p + "output.dense.bias", {h});
    add(p + "output.LayerNorm.weight", {h}, 1.0f);
    add(p + "output.LayerNorm.bias", {h}, 0.0f);
  }
  if (s.cross_encoder) {
    add("pooler.dense.bias", {h});
    add("classifier.weight", {1, h});
    add("classifier.bias", {1});
    for (auto& x : t["classifier.weight"].second) x *= 10;  // scores that tell texts apart
  }
  for (const auto& d : s.drop) t.erase(d);
  WriteSafeTensors(dir + "/model.safetensors", t, s.dtype);

  json config = {{"architectures", {s.cross_encoder ? std::string("BertForSequenceClassification") : s.architecture}}, {"model_type", "bert"}, {"hidden_size", s.hidden},
                 {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads}, {"intermediate_size", s.ff},
                 {"max_position_embeddings", s.positions}, {"vocab_size", V}, {"type_vocab_size", s.type_vocab},
                 {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}};
  std::ofstream(dir + "/config.json") << config.dump(2);
  if (s.tokenizer_json) {
    json vocab = json::object();
    for (size_t i = 0; i < s.vocab.size(); ++i) vocab[s.vocab[i]] = i;
    json added = json::array();
    for (size_t i = 0; i < 5; ++i) added.push_back({{"id", i}, {"content", s.vocab[i]}, {"special", true}});
    json tok = {{"model", {{"type", "WordPiece"}, {"vocab", vocab}}}, {"added_tokens", added},
                {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}, {"strip_accents", nullptr}}}};
    std::ofstream(dir + "/tokenizer.json") << tok.dump();
  } else {
    std::ofstream v(dir + "/vocab.txt");
    for (const auto& w : s.vocab) v << w << "\n";
  }
  std::ofstream(dir + "/tokenizer_config.json") << json{{"do_lower_case", true}, {"cls_token", "[CLS]"}, {"sep_token", "[SEP]"}}.dump();
  if (s.with_pooling && !s.cross_encoder) {
    std::ofstream(dir + "/modules.json")
        << json::array({{{"idx", 0}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                        {{"idx", 1}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}})
               .dump();
    fs::create_directories(dir + "/1_Pooling");
    std::ofstream(dir + "/1_Pooling/config.json") << json{{"pooling_mode_mean_tokens", true}}.dump();
  }
  std::map<std::string, std::vector<long>> shapes;
  for (const auto& [k, v] : t) shapes[k] = v.first;
  return shapes;
}

}  // namespace quarry::test
