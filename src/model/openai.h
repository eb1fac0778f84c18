// OpenAI-compatible HTTP backends for generation and embeddings.
#pragma once

#include <memory>
#include <string>

#include "quarry/model.h"

namespace quarry {

// "openai:http://127.0.0.1:8080/v1#MODEL" -> its parts. Without a path the
// base is /v1; without #MODEL the request names "default".
struct OpenAiSpec {
  std::string url;               // scheme://host:port/base
  std::string scheme_host_port;  // scheme://host:port
  std::string base_path;         // /v1
  std::string model;
};
Result<OpenAiSpec> ParseOpenAiSpec(const std::string& spec);

Result<std::unique_ptr<Generator>> OpenOpenAiGenerator(const std::string& spec, const GeneratorOptions& options);
// Asks the server for one vector to learn the dimension.
Result<std::unique_ptr<Embedder>> OpenOpenAiEmbedder(const std::string& spec, const EmbedderOptions& options);

}  // namespace quarry
