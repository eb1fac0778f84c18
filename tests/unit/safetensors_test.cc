#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"
#include "unit/tiny_checkpoint.h"

namespace quarry {
namespace {

TEST(SafeTensors, ReadsF32F16AndBF16) {
  for (const std::string dtype : {"F32", "F16", "BF16"}) {
    test::TempDir dir;
    test::WriteSafeTensors(dir.str() + "/model.safetensors", {{"w", {{2, 3}, {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f}}}}, dtype);
    auto list = ListSafeTensors(dir.str());
    ASSERT_TRUE(list.ok()) << list.status().message();
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].dtype, dtype);
    EXPECT_EQ((*list)[0].shape, (std::vector<int64_t>{2, 3}));
    auto v = ReadSafeTensorF32((*list)[0]);
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ(*v, (std::vector<float>{1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f})) << dtype;
  }
}

TEST(SafeTensors, RejectsTruncatedFile) {
  test::TempDir dir;
  const std::string f = dir.str() + "/model.safetensors";
  test::WriteSafeTensors(f, {{"w", {{4, 4}, std::vector<float>(16, 1.0f)}}}, "F32");
  std::filesystem::resize_file(f, std::filesystem::file_size(f) - 10);
  auto list = ListSafeTensors(dir.str());
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), Status::Code::kCorruption);
  EXPECT_NE(list.status().message().find("model.safetensors"), std::string::npos);
}

TEST(SafeTensors, RejectsGarbageHeader) {
  test::TempDir dir;
  std::ofstream(dir.str() + "/model.safetensors") << "this is not a safetensors file at all";
  auto list = ListSafeTensors(dir.str());
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), Status::Code::kCorruption);
}

TEST(SafeTensors, MissingCheckpointSaysWhatIsSupported) {
  test::TempDir dir;
  std::ofstream(dir.str() + "/pytorch_model.bin") << "x";
  auto list = ListSafeTensors(dir.str());
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), Status::Code::kNotFound);
  EXPECT_NE(list.status().message().find("pytorch_model.bin"), std::string::npos);
}

}  // namespace
}  // namespace quarry
