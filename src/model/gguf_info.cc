#include <gguf.h>

#include <filesystem>
#include <map>
#include <memory>

#include "quarry/model.h"

namespace quarry {
namespace {

struct GgufDeleter {
  void operator()(gguf_context* c) const { gguf_free(c); }
};

int64_t IntValue(const gguf_context* ctx, const std::string& key) {
  int64_t id = gguf_find_key(ctx, key.c_str());
  if (id < 0) return -1;
  switch (gguf_get_kv_type(ctx, id)) {
    case GGUF_TYPE_UINT8: return gguf_get_val_u8(ctx, id);
    case GGUF_TYPE_INT8: return gguf_get_val_i8(ctx, id);
    case GGUF_TYPE_UINT16: return gguf_get_val_u16(ctx, id);
    case GGUF_TYPE_INT16: return gguf_get_val_i16(ctx, id);
    case GGUF_TYPE_UINT32: return gguf_get_val_u32(ctx, id);
    case GGUF_TYPE_INT32: return gguf_get_val_i32(ctx, id);
    case GGUF_TYPE_UINT64: return static_cast<int64_t>(gguf_get_val_u64(ctx, id));
    case GGUF_TYPE_INT64: return gguf_get_val_i64(ctx, id);
    default: return -1;
  }
}

std::string StrValue(const gguf_context* ctx, const char* key) {
  int64_t id = gguf_find_key(ctx, key);
  if (id < 0 || gguf_get_kv_type(ctx, id) != GGUF_TYPE_STRING) return {};
  return gguf_get_val_str(ctx, id);
}

}  // namespace

Result<ModelInfo> InspectModel(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::NotFound(path + ": no such file");
  gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
  std::unique_ptr<gguf_context, GgufDeleter> ctx(gguf_init_from_file(path.c_str(), params));
  if (!ctx) return Status::Corruption(path + ": not a valid GGUF file");
  ModelInfo info;
  info.path = path;
  info.file_size = std::filesystem::file_size(path, ec);
  info.architecture = StrValue(ctx.get(), "general.architecture");
  info.name = StrValue(ctx.get(), "general.name");
  const std::string a = info.architecture;
  info.embedding_length = IntValue(ctx.get(), a + ".embedding_length");
  info.context_length = IntValue(ctx.get(), a + ".context_length");
  info.block_count = IntValue(ctx.get(), a + ".block_count");
  int64_t pooling = IntValue(ctx.get(), a + ".pooling_type");
  info.pooling_type = static_cast<int>(pooling);
  info.has_chat_template = gguf_find_key(ctx.get(), "tokenizer.chat_template") >= 0;
  info.tensor_count = gguf_get_n_tensors(ctx.get());
  // The dominant tensor type by bytes describes the file better than general.file_type,
  // which older converters leave out.
  std::map<std::string, size_t> bytes_by_type;
  for (int64_t i = 0; i < info.tensor_count; ++i) {
    bytes_by_type[ggml_type_name(gguf_get_tensor_type(ctx.get(), i))] += gguf_get_tensor_size(ctx.get(), i);
  }
  size_t best = 0;
  for (const auto& [type, n] : bytes_by_type) {
    if (n > best) best = n, info.file_type = type;
  }
  return info;
}

}  // namespace quarry
