#include <gtest/gtest.h>

#include <cmath>

#include "quarry/knowledge_base.h"
#include "quarry/rag.h"
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

// The option structs own their defaults and ranges: every front end (CLI,
// server, library user) gets the same verdict, naming the field at fault.
TEST(Options, DefaultsAreValidAndEachBadValueNamesItsField) {
  EXPECT_TRUE(KnowledgeBaseOptions().Validate().ok());
  EXPECT_TRUE(AddOptions().Validate().ok());
  EXPECT_TRUE(SearchOptions().Validate().ok());
  EXPECT_TRUE(AskOptions().Validate().ok());
  EXPECT_EQ(GenerateOptions().sampling.temperature, 0.0f);  // grounded answers are greedy by default
  EXPECT_EQ(GenerateOptions().sampling.repeat_penalty, 1.1f);

  auto field = [](const Status& s) { return s.code() == Status::Code::kInvalidArgument ? s.option() : "ok"; };
  KnowledgeBaseOptions kb;
  kb.bm25_b = 1.5f;
  EXPECT_EQ(field(kb.Validate()), "bm25_b");
  AddOptions add;
  add.overlap_tokens = add.chunk_tokens;
  EXPECT_EQ(field(add.Validate()), "overlap_tokens");
  add = AddOptions();
  add.metadata = "[1, 2]";
  EXPECT_EQ(field(add.Validate()), "metadata");
  SearchOptions so;
  so.k = 0;
  EXPECT_EQ(field(so.Validate()), "k");
  so = SearchOptions();
  so.dense_weight = std::nanf("");
  EXPECT_EQ(field(so.Validate()), "dense_weight");
  AskOptions ask;
  ask.generate.sampling.top_p = 0;
  EXPECT_EQ(field(ask.Validate()), "top_p");
  ask = AskOptions();
  ask.generate.candidates = 65;
  EXPECT_EQ(field(ask.Validate()), "candidates");
  ask = AskOptions();
  ask.min_relevance = 2.0;
  EXPECT_EQ(field(ask.Validate()), "min_relevance");
  ask = AskOptions();
  ask.min_answerable = 1.5;
  EXPECT_EQ(field(ask.Validate()), "min_answerable");
  ask = AskOptions();
  ask.generate.sampling.choices = {"Yes", ""};
  EXPECT_EQ(field(ask.Validate()), "choices");
  ask = AskOptions();
  ask.generate.select = {{"support", 0}};
  EXPECT_EQ(field(ask.Validate()), "select");
}

}  // namespace
}  // namespace quarry
