// The quarry command line: usage errors exit 2 with a message that says what to do.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "quarry/model.h"
#include "test_util.h"
#include "unit/fixtures.h"
#include "unit/tiny_checkpoint.h"

namespace quarry {
namespace {

using test::Quarry;
using test::RunCmd;

// Keeps tests away from the user's model cache.
std::string Env(const test::TempDir& d) {
  return "QUARRY_MODELS_DIR=" + d.str() + "/models QUARRY_CACHE_DIR=" + d.str() + "/cache ";
}

TEST(Cli, NoSubcommandIsAUsageError) {
  auto r = RunCmd(Quarry());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("subcommand"), std::string::npos) << r.err;
}

TEST(Cli, HelpListsTheSubcommands) {
  auto r = RunCmd(Quarry() + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"model", "embed", "generate"}) EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  for (const char* sub : {"model list --help", "model pull --help", "model import --help", "embed --help", "generate --help"}) {
    auto h = RunCmd(Quarry() + " " + sub);
    EXPECT_EQ(h.exit_code, 0) << sub;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << sub;
  }
}

// Each task's --select default is its options struct's (measured per task),
// the same in the task's command and in its eval.
TEST(Cli, EachTaskShowsItsOwnSelectorDefault) {
  const std::pair<const char*, const char*> cases[] = {
      {"ask", "--select TEXT=likelihood "},
      {"eval qa", "--select TEXT=likelihood "},
      {"summarize", "--select TEXT=agreement=0.5,support=0.5\n"},
      {"eval summarize", "--select TEXT=agreement=0.5,support=0.5\n"},
      {"translate", "--select TEXT=likelihood "},
      {"eval translate", "--select TEXT=likelihood "},
  };
  for (const auto& [command, shown] : cases) {
    auto h = RunCmd(Quarry() + " " + command + " --help");
    EXPECT_EQ(h.exit_code, 0) << command;
    EXPECT_NE(h.out.find(shown), std::string::npos) << command << ":\n" << h.out;
  }
}

// --language names the language of a document's summary; a --query summary
// has no document to take it from and ignored it silently.
TEST(Cli, SummaryLanguageIsForDocuments) {
  auto r = RunCmd(Quarry() + " summarize --query coffee --language French");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--query excludes --language"), std::string::npos) << r.err;
}

// CLI11 reads integers with strtoull in base 0: -1 wrapped to 2^64 - 1 and a
// leading zero made the number octal.
TEST(Cli, IntegersAreDecimalAndUnsignedOnesTakeNoSign) {
  test::TempDir dir;
  const std::string db = " --db " + dir.str() + "/none";
  auto negative = RunCmd(Quarry() + " search coffee -k -1" + db);
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_NE(negative.err.find("-k: expected a whole number, 0 or more, not '-1'"), std::string::npos) << negative.err;
  auto hex = RunCmd(Quarry() + " search coffee -k 0x10" + db);
  EXPECT_EQ(hex.exit_code, 2);
  EXPECT_NE(hex.err.find("not '0x10'"), std::string::npos) << hex.err;
  auto leading_zero = RunCmd(Quarry() + " search coffee -k 0100000" + db);
  EXPECT_EQ(leading_zero.exit_code, 2);
  EXPECT_NE(leading_zero.err.find("not 100000 [-k]"), std::string::npos) << leading_zero.err;  // octal: 32768
}

TEST(Cli, EmptyPromptIsRejectedBeforeAModelLoads) {
  auto r = RunCmd(Quarry() + " generate -m no-such-model.gguf \"  \"");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the prompt is empty"), std::string::npos) << r.err;
}

TEST(Cli, EmptyTextToEmbedIsRejectedBeforeAModelLoads) {
  auto r = RunCmd(Quarry() + " embed -m no-such-model.gguf fine \"  \"");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("TEXT 2 is empty"), std::string::npos) << r.err;
  auto none = RunCmd("printf '\\n \\n' | " + Quarry() + " embed -m no-such-model.gguf -");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("stdin held no text"), std::string::npos) << none.err;
}

TEST(Cli, UnknownSubcommandIsAUsageError) {
  auto r = RunCmd(Quarry() + " frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
}

TEST(Cli, MissingArgumentNamesIt) {
  auto r = RunCmd(Quarry() + " embed");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("TEXT"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("quarry embed --help"), std::string::npos) << r.err;
}

TEST(Cli, OutOfRangeOptionIsRejected) {
  auto r = RunCmd(Quarry() + " generate --temperature -1 hello");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
  auto r2 = RunCmd(Quarry() + " generate --max-tokens 0 hello");
  EXPECT_EQ(r2.exit_code, 2);
  auto r3 = RunCmd(Quarry() + " model import /tmp -o x.gguf --type q9");
  EXPECT_EQ(r3.exit_code, 2);
  EXPECT_NE(r3.err.find("q9"), std::string::npos) << r3.err;
}

TEST(Cli, MissingModelFileIsNamed) {
  test::TempDir d;
  auto r = RunCmd(Env(d) + Quarry() + " embed --model /nonexistent/model.gguf hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, KnownModelNotPulledSaysHowToGetIt) {
  test::TempDir d;
  auto r = RunCmd(Env(d) + Quarry() + " generate --model smollm2-135m hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("quarry model pull smollm2-135m"), std::string::npos) << r.err;
}

TEST(Cli, PullUnknownModelListsKnownOnes) {
  test::TempDir d;
  auto r = RunCmd(Env(d) + Quarry() + " model pull no-such-model");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-model"), std::string::npos);
  EXPECT_NE(r.err.find("minilm-l6"), std::string::npos) << r.err;
}

TEST(Cli, NotAModelFileIsReported) {
  test::TempDir d;
  std::ofstream(d.str() + "/junk.gguf") << "definitely not gguf";
  auto r = RunCmd(Env(d) + Quarry() + " embed --model " + d.str() + "/junk.gguf hello");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("junk.gguf"), std::string::npos) << r.err;
}

TEST(Cli, ModelListOnEmptyCacheOffersKnownModels) {
  test::TempDir d;
  auto r = RunCmd(Env(d) + Quarry() + " model list --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"models\": []"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("smollm2-135m"), std::string::npos);
}

// The table's columns line up whatever the file names: a name longer than
// the old fixed 36 characters (qwen2.5-coder-0.5b-instruct-q4_k_m.gguf) pushed
// its row's columns out from under the header.
TEST(Cli, ModelListColumnsFitTheLongestName) {
  test::TempDir d;
  test::WriteTinyBert(d.str() + "/hf", test::TinyBert{});
  std::filesystem::create_directories(d.str() + "/models");
  const std::string name = "a-rather-long-embedding-model-file-name.gguf";
  ASSERT_TRUE(ImportHfModel(d.str() + "/hf", d.str() + "/models/" + name).ok());
  auto r = RunCmd(Env(d) + Quarry() + " model list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, row, line;
  while (std::getline(lines, line)) {
    if (line.find("  FILE ") == 0) header = line;
    if (line.find(name) != std::string::npos) row = line;
  }
  ASSERT_FALSE(header.empty()) << r.out;
  ASSERT_FALSE(row.empty()) << r.out;
  EXPECT_EQ(row.find("embedder"), header.find("ROLE")) << r.out;
}

// eval translate on plain parallel text: the references go line for line,
// and a mismatch is named before any model is loaded.
TEST(Cli, EvalTranslateChecksItsPlainTextFiles) {
  test::TempDir d;
  test::WriteFile(d.str() + "/src.txt", "one\ntwo\n");
  test::WriteFile(d.str() + "/ref1.txt", "un\ndeux\n");
  test::WriteFile(d.str() + "/ref2.txt", "un\n");
  auto r = test::RunCmd(test::Quarry() + " eval translate --src " + d.str() + "/src.txt --ref " + d.str() + "/ref1.txt --ref " + d.str() +
                        "/ref2.txt --to French");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ref2.txt has 1 lines for 2 source sentences"), std::string::npos) << r.err;
  auto no_ref = test::RunCmd(test::Quarry() + " eval translate --src " + d.str() + "/src.txt --to French");
  EXPECT_NE(no_ref.exit_code, 0);
  EXPECT_NE(no_ref.err.find("--src needs at least one --ref"), std::string::npos) << no_ref.err;
  auto neither = test::RunCmd(test::Quarry() + " eval translate --to French");
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_NE(neither.err.find("either --data"), std::string::npos) << neither.err;
}

}  // namespace
}  // namespace quarry
