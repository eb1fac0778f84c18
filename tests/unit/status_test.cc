#include <gtest/gtest.h>

#include "quarry/status.h"

namespace quarry {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Status Chain(int x) {
  QUARRY_RETURN_IF_ERROR(Half(x).status());
  return Status::OK();
}

TEST(Status, ResultCarriesValueOrError) {
  auto ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "3 is odd");
  EXPECT_EQ(bad.status().ToString(), "invalid argument: 3 is odd");
}

TEST(Status, ReturnIfErrorPropagates) {
  EXPECT_TRUE(Chain(2).ok());
  EXPECT_EQ(Chain(5).message(), "5 is odd");
}

}  // namespace
}  // namespace quarry
