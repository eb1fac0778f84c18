// quarry embed TEXT...
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "quarry/registry.h"
#include "quarry/model.h"

namespace quarry::cli {

void RegisterEmbed(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("embed", "Embed texts with the sentence-embedding model (one vector per text)");
  static std::vector<std::string> texts;
  static std::string model = kDefaultEmbedder;
  static bool as_json = false, as_query = false;
  static int threads = 0;
  cmd->add_option("TEXT", texts, "Texts to embed; '-' reads one text per line from stdin")->required();
  cmd->add_option("-m,--model", model, "Embedding model: name or GGUF path")->capture_default_str();
  cmd->add_option("-t,--threads", threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--query", as_query, "Embed the texts as search queries (models with query/passage prefixes, e.g. E5)");
  cmd->add_flag("--json", as_json, "Print {\"model\":..., \"data\":[{\"index\":i, \"embedding\":[...]}]}");
  cmd->callback([&reg] {
    reg.run = [] {
      // A blank text has nothing to embed (its vector would be the model's bias): an error,
      // raised before any model loads, as OpenAI's /v1/embeddings does.
      auto blank = [](const std::string& t) { return t.find_first_not_of(" \t\r\n") == std::string::npos; };
      std::vector<std::string> inputs;
      for (size_t i = 0; i < texts.size(); ++i) {
        if (texts[i] != "-") {
          if (blank(texts[i])) return Fail(Status::InvalidArgument("TEXT " + std::to_string(i + 1) + " is empty: give the text to embed"));
          inputs.push_back(texts[i]);
          continue;
        }
        std::istringstream in(ReadStdin());
        for (std::string line; std::getline(in, line);) {
          if (!blank(line)) inputs.push_back(line);
        }
      }
      if (inputs.empty()) return Fail(Status::InvalidArgument("stdin held no text to embed (one text per line)"));
      auto path = ResolveModel(model);
      if (!path.ok()) return Fail(path.status());
      EmbedderOptions opt;
      opt.threads = threads;
      auto emb = Embedder::Open(*path, opt);
      if (!emb.ok()) return Fail(emb.status());
      auto vecs = (*emb)->Embed(inputs, as_query ? Embedder::Role::kQuery : Embedder::Role::kDocument);
      if (!vecs.ok()) return Fail(vecs.status());
      if (as_json) {
        nlohmann::json out = {{"model", (*emb)->model_id()}, {"dimension", (*emb)->dimension()}, {"data", nlohmann::json::array()}};
        for (size_t i = 0; i < vecs->size(); ++i) out["data"].push_back({{"index", i}, {"embedding", (*vecs)[i]}});
        PrintJson(out, -1);
      } else {
        for (const auto& v : *vecs) {
          for (size_t i = 0; i < v.size(); ++i) std::printf(i ? " %.6f" : "%.6f", v[i]);
          std::printf("\n");
        }
      }
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
