// Writes a tiny random BERT sentence-transformers checkpoint for importer tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace quarry::test {

struct TinyBert {
  int hidden = 8, layers = 2, heads = 2, ff = 16, positions = 32, type_vocab = 2;
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on",
                                    "mat", "dog", "##s", "a", "hello", "world", "."};
  std::string dtype = "F32";        // of the safetensors data: F32, F16 or BF16
  bool with_pooling = true;         // write modules.json + 1_Pooling/config.json
  bool tokenizer_json = false;      // write tokenizer.json instead of vocab.txt
  std::vector<std::string> drop;    // tensor names to leave out
  std::string architecture = "BertModel";
  // A one-logit BertForSequenceClassification (pooler + classifier, no
  // sentence-transformers pooling): a reranker once imported.
  bool cross_encoder = false;
};

// Returns the tensor shapes written (HF names -> PyTorch shape).
std::map<std::string, std::vector<long>> WriteTinyBert(const std::string& dir, const TinyBert& spec);

// Writes a safetensors file from named float tensors, stored as dtype.
void WriteSafeTensors(const std::string& path, const std::map<std::string, std::pair<std::vector<long>, std::vector<float>>>& t,
                      const std::string& dtype);

}  // namespace quarry::test
