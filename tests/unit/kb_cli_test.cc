// `quarry add | rm | ls | show | stats | search | eval` end to end, as a user
// runs them, with a tiny embedding model the test builds itself (no model
// download): bad input, crashes mid-ingest, re-runs, deletes, search shapes.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "quarry/model.h"
#include "test_util.h"
#include "unit/fixtures.h"
#include "unit/tiny_checkpoint.h"

namespace quarry {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class KbCli : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TinyBert spec;
    spec.vocab.insert(spec.vocab.end(), {"volcano", "coffee", "water", "planet", "mars", "banana", "apple"});
    test::WriteTinyBert(dir_.str() + "/hf", spec);
    model_ = dir_.str() + "/tiny.gguf";
    ASSERT_TRUE(ImportHfModel(dir_.str() + "/hf", model_).ok());
    db_ = dir_.str() + "/kb";
    docs_ = dir_.str() + "/docs";
    fs::create_directories(docs_);
  }
  test::CommandResult Q(const std::string& args) {
    return test::RunCmd("QUARRY_MODELS_DIR=" + dir_.str() + "/models " + test::Quarry() + " " + args + " --db " + db_ +
                        " --embed-model " + model_);
  }
  json QJson(const std::string& args) {
    auto r = Q(args + " --json");
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << args << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return j;
  }
  // A tiny random cross-encoder over the same vocabulary, imported by the CLI.
  std::string CrossEncoder() {
    test::TinyBert spec;
    spec.vocab.insert(spec.vocab.end(), {"volcano", "coffee", "water", "planet", "mars", "banana", "apple"});
    spec.cross_encoder = true;
    test::WriteTinyBert(dir_.str() + "/ce", spec);
    const std::string rr = dir_.str() + "/rerank.gguf";
    auto imported = test::RunCmd(test::Quarry() + " model import " + dir_.str() + "/ce -o " + rr + " --json");
    EXPECT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_EQ(json::parse(imported.out, nullptr, false).value("pooling", ""), "rank") << imported.out;
    return rr;
  }
  void Write(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(docs_ + "/" + rel).parent_path());
    test::WriteFile(docs_ + "/" + rel, content);
  }
  test::TempDir dir_;
  std::string model_, db_, docs_;
};

TEST_F(KbCli, AddSkipsUnchangedAndReplacesChanged) {
  Write("a.txt", "The apple is red.");
  Write("b.md", "# Fruit\n\nThe banana is yellow.");
  Write("sub/c.html", "<html><body><p>Mars is a planet.</p></body></html>");
  Write("notes.bin", "ignored: not a supported type");
  auto first = QJson("add " + docs_);
  EXPECT_EQ(first["added"], 3);
  EXPECT_EQ(first["failed"], 0);
  auto again = QJson("add " + docs_);
  EXPECT_EQ(again["added"], 0);
  EXPECT_EQ(again["unchanged"], 3);
  Write("a.txt", "The coffee is hot.");
  auto changed = QJson("add " + docs_);
  EXPECT_EQ(changed["replaced"], 1);
  EXPECT_EQ(changed["unchanged"], 2);
  // The old text is gone from the index, the new one is found.
  EXPECT_TRUE(QJson("search apple --mode bm25")["results"].empty());
  auto hot = QJson("search coffee --mode bm25");
  ASSERT_EQ(hot["results"].size(), 1u);
  EXPECT_EQ(hot["results"][0]["source"], docs_ + "/a.txt");
  auto ls = QJson("ls");
  ASSERT_EQ(ls["documents"].size(), 3u);
  auto stats = QJson("stats");
  EXPECT_EQ(stats["documents"], 3);
  EXPECT_EQ(stats["embeddings"], stats["chunks"]);
}

// A base filled with --no-embed (BM25 only) gets its embeddings from a plain
// `add` of the same files, in place: same documents, same ids and versions.
TEST_F(KbCli, AddingAgainEmbedsDocumentsAddedWithoutEmbeddings) {
  Write("a.txt", "The volcano on Mars is tall.");
  Write("b.md", "# Fruit\n\nThe banana is yellow. The apple is red.");
  auto bm25 = QJson("add " + docs_ + " --no-embed");
  EXPECT_EQ(bm25["added"], 2);
  EXPECT_EQ(QJson("stats")["embeddings"], 0);
  auto dense = Q("search volcano --mode dense");
  EXPECT_EQ(dense.exit_code, 2);  // an option the base cannot serve
  EXPECT_NE(dense.err.find("without --no-embed"), std::string::npos) << dense.err;
  const json before = QJson("ls")["documents"];

  auto embed = QJson("add " + docs_);
  EXPECT_EQ(embed["embedded"], 2) << embed.dump();
  EXPECT_EQ(embed["added"], 0);
  EXPECT_EQ(embed["replaced"], 0);
  EXPECT_EQ(embed["unchanged"], 0);
  auto stats = QJson("stats");
  EXPECT_EQ(stats["documents"], 2);
  EXPECT_EQ(stats["embeddings"], stats["chunks"]);
  const json after = QJson("ls")["documents"];
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i]["id"], before[i]["id"]);
    EXPECT_EQ(after[i]["version"], before[i]["version"]);
  }
  auto found = QJson("search volcano --mode dense");
  ASSERT_FALSE(found["results"].empty()) << found.dump();
  EXPECT_EQ(QJson("search banana --mode bm25")["results"].size(), 1u);

  // Embedded once: nothing more to do. A file added later without embeddings
  // is the only one embedded next time.
  auto again = QJson("add " + docs_);
  EXPECT_EQ(again["unchanged"], 2);
  EXPECT_EQ(again["embedded"], 0);
  Write("c.txt", "Coffee and water.");
  EXPECT_EQ(QJson("add " + docs_ + " --no-embed")["added"], 1);
  auto third = QJson("add " + docs_);
  EXPECT_EQ(third["embedded"], 1);
  EXPECT_EQ(third["unchanged"], 2);
  stats = QJson("stats");
  EXPECT_EQ(stats["embeddings"], stats["chunks"]);
}

TEST_F(KbCli, OneBadFileNeverAbortsTheBatch) {
  Write("good.txt", "A good document about water.");
  Write("binary.txt", std::string("\x7f" "ELF\0\0\0\x01", 8));
  Write("latin1.txt", "caf\xe9");
  Write("empty.md", "\n\n   \n");
  Write("fake.pdf", "<html>oops</html>");
  Write("truncated.pdf", test::MakePdf({"page text"}).substr(0, 50));
  Write("big.txt", std::string(2 << 20, 'x'));
  fs::create_directory_symlink(docs_, docs_ + "/loop");  // the folder contains itself
  Write("locked.txt", "secret");
  const std::string locked = docs_ + "/locked.txt";
  chmod(locked.c_str(), 0);
  // Root reads anything; drop the capabilities that allow it so the refusal is real.
  std::string prefix;
  if (geteuid() == 0) {
    ASSERT_EQ(chown(locked.c_str(), 65534, 65534), 0);
    prefix = "setpriv --bounding-set=-dac_override,-dac_read_search ";
  }
  auto r = test::RunCmd(prefix + test::Quarry() + " add " + docs_ + " --max-file-size 1 --json --db " + db_ +
                        " --embed-model " + model_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["added"], 1);
  std::map<std::string, std::string> why;
  for (const auto& f : j["failures"]) why[fs::path(f["source"].get<std::string>()).filename().string()] = f["reason"];
  EXPECT_NE(why["binary.txt"].find("binary"), std::string::npos);
  EXPECT_NE(why["latin1.txt"].find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(why["empty.md"].find("empty"), std::string::npos);
  EXPECT_NE(why["fake.pdf"].find("not a PDF"), std::string::npos);
  EXPECT_NE(why["truncated.pdf"].find("PDF"), std::string::npos);
  EXPECT_NE(why["big.txt"].find("too large"), std::string::npos);
  EXPECT_NE(why["loop"].find("loop"), std::string::npos);
  EXPECT_NE(why["locked.txt"].find("ermission denied"), std::string::npos) << why["locked.txt"];
  EXPECT_EQ(j["failed"], static_cast<int>(why.size()));
  // Each failure is on stderr with its path.
  EXPECT_NE(r.err.find("latin1.txt: invalid UTF-8"), std::string::npos) << r.err;
  // Nothing stored was lost, and the good file is searchable.
  auto hits = QJson("search water --mode bm25");
  ASSERT_EQ(hits["results"].size(), 1u);
  EXPECT_EQ(hits["results"][0]["source"], docs_ + "/good.txt");
}

// Regression: files of types Quarry does not read were skipped without a word.
TEST_F(KbCli, AFolderWalkSaysWhatItSkipped) {
  Write("notes.md", "Water boils at 100 degrees.");
  Write("photo.png", "not really a png");
  Write("photo2.png", "nor this");
  Write("Makefile", "all:");
  auto text = Q("add " + docs_);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.err.find("skipped 3 files of types Quarry does not read (1 without extension, 2 .png)"), std::string::npos)
      << text.err;
  Write("more.md", "Ice melts at 0 degrees.");
  auto j = QJson("add " + docs_);
  EXPECT_EQ(j["added"], 1);
  EXPECT_EQ(j["skipped"][".png"], 2);
  EXPECT_EQ(j["skipped"][""], 1);
}

// Every input limit is the user's to set from the command line, and a file
// over one fails alone.
TEST_F(KbCli, InputLimitsAreFlagsAndFailOneFileEach) {
  std::string words;
  for (int i = 0; i < 3000; ++i) words += "word" + std::to_string(i) + " ";
  Write("long.txt", words);
  Write("short.txt", "short water note");
  std::string page = "<html><body>";
  for (int i = 0; i < 50; ++i) page += "<p>water</p>";
  Write("page.html", page + "</body></html>");
  Write("r.jsonl", "{\"_id\": 1, \"text\": \"" + std::string(3 << 20, 'x') + "\"}\n{\"_id\": 2, \"text\": \"water\"}\n");
  auto r = test::RunCmd(test::Quarry() + " add " + docs_ + " --no-embed --json --max-chunks 3 --max-html-nodes 20 --max-record-size 1 --db " + db_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["added"], 2) << j.dump();  // short.txt, r.jsonl#2
  std::map<std::string, std::string> why;
  for (const auto& f : j["failures"]) why[fs::path(f["source"].get<std::string>()).filename().string()] = f["reason"];
  EXPECT_NE(why["long.txt"].find("over the limit of 3 per document; raise the limit, or split the document [--max-chunks]"), std::string::npos) << why["long.txt"];
  EXPECT_NE(why["page.html"].find("--max-html-nodes"), std::string::npos) << why["page.html"];
  EXPECT_NE(why["r.jsonl:1"].find("--max-record-size"), std::string::npos) << j.dump();
}

TEST_F(KbCli, FilesOverTheDefaultLimitAreRefusedWithoutReadingThem) {
  Write("small.txt", "Water is wet.");
  Write("huge.txt", "");
  fs::resize_file(docs_ + "/huge.txt", 101ull << 20);  // sparse: no disk, no read
  auto r = Q("add " + docs_ + " --json");
  EXPECT_EQ(r.exit_code, 1);
  auto j = json::parse(r.out);
  EXPECT_EQ(j["added"], 1);
  ASSERT_EQ(j["failures"].size(), 1u);
  EXPECT_EQ(j["failures"][0]["source"], docs_ + "/huge.txt");
  EXPECT_NE(j["failures"][0]["reason"].get<std::string>().find("too large (101 MiB; the limit is 100 MiB"), std::string::npos)
      << j["failures"][0]["reason"];
}

TEST_F(KbCli, KillDashNineMidIngestLeavesAConsistentBaseAndRerunFinishes) {
  const int kFiles = 4000;
  for (int i = 0; i < kFiles; ++i) Write("f" + std::to_string(i) + ".txt", "document number " + std::to_string(i) + " about water");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string bin = test::Quarry();
    execl(bin.c_str(), bin.c_str(), "add", docs_.c_str(), "--no-embed", "--db", db_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once some documents are committed.
  int before = 0;
  sqlite3* db = nullptr;
  for (int tries = 0; tries < 20000 && before < 20; ++tries) {
    if (!db && fs::exists(db_ + "/quarry.db")) sqlite3_open_v2((db_ + "/quarry.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    if (db) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM documents", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        before = sqlite3_column_int(st, 0);
      }
      sqlite3_finalize(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "quarry finished before it could be killed";
  // Consistent: integrity check passes, every stored document has its chunks and terms.
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.id) "
                               "OR EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.id AND NOT EXISTS "
                               "(SELECT 1 FROM chunk_terms t WHERE t.chunk_id = c.id))",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  auto stats = json::parse(test::RunCmd(test::Quarry() + " stats --json --db " + db_).out);
  const int stored = stats["documents"];
  EXPECT_GE(stored, before);
  EXPECT_LT(stored, kFiles);
  // Re-running finishes the job without redoing what was stored.
  auto r = test::RunCmd(test::Quarry() + " add " + docs_ + " --no-embed --json --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["unchanged"], stored);
  EXPECT_EQ(j["added"].get<int>() + stored, kFiles);
  auto hits = json::parse(test::RunCmd(test::Quarry() + " search 3999 --mode bm25 --json --db " + db_).out);
  EXPECT_EQ(hits["results"].size(), 1u);
}

// Several processes on one base, its creation included: every one succeeds
// (waiting for the others' locks), and the counts each reports add up to what
// the base holds: a document stored by one is "unchanged" for the others.
TEST_F(KbCli, ConcurrentWritersAllSucceedAndReportWhatTheyDid) {
  const int kFiles = 30, kWriters = 6;
  for (int i = 0; i < kFiles; ++i) Write("f" + std::to_string(i) + ".txt", "concurrent document " + std::to_string(i) + " about water");
  for (int round = 0; round < 3; ++round) {
    fs::remove_all(db_);
    std::string line;
    for (int w = 0; w < kWriters; ++w) {
      line += test::Quarry() + " add " + docs_ + " --no-embed --json --db " + db_ + " >" + dir_.str() + "/w" + std::to_string(w) +
              ".json 2>" + dir_.str() + "/w" + std::to_string(w) + ".err || echo fail" + std::to_string(w) + " & ";
    }
    line += test::Quarry() + " search water --mode bm25 --json --db " + db_ + " >/dev/null 2>&1 & wait";
    auto r = test::RunCmd(line);
    EXPECT_EQ(r.out, "") << "round " << round;  // no writer failed
    int added = 0;
    for (int w = 0; w < kWriters; ++w) {
      std::ifstream in(dir_.str() + "/w" + std::to_string(w) + ".json");
      json j = json::parse(in, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << "writer " << w << " round " << round;
      EXPECT_EQ(j["added"].get<int>() + j["unchanged"].get<int>(), kFiles) << j.dump();
      EXPECT_EQ(j["replaced"], 0) << j.dump();
      EXPECT_EQ(j["failed"], 0) << j.dump();
      added += j["added"].get<int>();
    }
    EXPECT_EQ(added, kFiles) << "round " << round;
    auto stats = json::parse(test::RunCmd(test::Quarry() + " stats --json --db " + db_).out);
    EXPECT_EQ(stats["documents"], kFiles);
  }
  // Writers and removers together: each file ends up present exactly once or removed.
  std::string line;
  for (int i = kFiles; i < kFiles + 10; ++i) Write("g" + std::to_string(i) + ".txt", "late document " + std::to_string(i));
  for (int w = 0; w < 3; ++w) line += test::Quarry() + " add " + docs_ + " --no-embed --db " + db_ + " >/dev/null || echo fail & ";
  line += test::Quarry() + " rm '" + docs_ + "/f1*' --db " + db_ + " >/dev/null || echo fail & wait";
  EXPECT_EQ(test::RunCmd(line).out, "");
  auto ls = json::parse(test::RunCmd(test::Quarry() + " ls --json --db " + db_).out);
  std::set<std::string> sources;
  for (const auto& d : ls["documents"]) EXPECT_TRUE(sources.insert(d["source"].get<std::string>()).second) << d["source"];
  for (int i = kFiles; i < kFiles + 10; ++i) EXPECT_EQ(sources.count(docs_ + "/g" + std::to_string(i) + ".txt"), 1u) << i;
  for (int i = 2; i < 10; ++i) EXPECT_EQ(sources.count(docs_ + "/f" + std::to_string(i) + ".txt"), 1u) << i;
}

// The catalog itself damaged: commands stop with an error that says what to
// do, and nothing tries to "repair" it by writing over it.
TEST_F(KbCli, ADamagedCatalogSaysHowToRecover) {
  Write("a.txt", "apple water");
  ASSERT_EQ(test::RunCmd(test::Quarry() + " add " + docs_ + " --no-embed --db " + db_).exit_code, 0);
  {
    std::fstream f(db_ + "/quarry.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("garbage garbage garbage garbage!", 32);  // the SQLite header
  }
  const auto size = fs::file_size(db_ + "/quarry.db");
  for (const char* cmd : {" search water --mode bm25", " ls", " add "}) {
    auto r = test::RunCmd(test::Quarry() + cmd + (std::string(cmd) == " add " ? docs_ + " --no-embed" : "") + " --db " + db_);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.err.find("quarry.db"), std::string::npos) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("restore"), std::string::npos) << cmd << ": " << r.err;
  }
  EXPECT_EQ(fs::file_size(db_ + "/quarry.db"), size);
}

// Chunk offsets are code points into the document, right for overlapping
// chunks of multi-byte text (they are counted in one pass that moves back as
// well as forward; recounting from the start made ingest quadratic).
TEST_F(KbCli, ChunkOffsetsAreCodePointsIntoTheDocument) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "第" + std::to_string(i) + "段：活字印刷术 café naïve text number " + std::to_string(i) + ". ";
  Write("doc.txt", text);
  ASSERT_EQ(test::RunCmd(test::Quarry() + " add " + docs_ + " --no-embed --chunk-tokens 32 --overlap 8 --db " + db_).exit_code, 0);
  auto shown = test::RunCmd(test::Quarry() + " show 1 --json --db " + db_);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  std::vector<std::string> cps;  // the text's code points
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    cps.push_back(text.substr(i, len));
    i += len;
  }
  auto chunks = json::parse(shown.out)["chunk_list"];
  ASSERT_GT(chunks.size(), 20u);
  int64_t prev_end = 0;
  bool overlapped = false;
  for (const auto& c : chunks) {
    const int64_t start = c["start"], end = c["end"];
    ASSERT_LE(end, static_cast<int64_t>(cps.size()));
    std::string slice;
    for (int64_t k = start; k < end; ++k) slice += cps[static_cast<size_t>(k)];
    EXPECT_EQ(slice, c["text"].get<std::string>()) << "chunk " << c["seq"];
    overlapped = overlapped || start < prev_end;
    prev_end = end;
  }
  EXPECT_TRUE(overlapped);
}

TEST_F(KbCli, RemoveByIdPathAndGlob) {
  Write("one.txt", "apple");
  Write("two.md", "banana");
  Write("three.txt", "coffee");
  Write("four.md", "water");
  ASSERT_EQ(QJson("add " + docs_)["added"], 4);
  auto ls = QJson("ls")["documents"];
  int64_t id_one = 0;
  for (const auto& d : ls) {
    if (d["source"] == docs_ + "/one.txt") id_one = d["id"];
  }
  auto r = Q("rm " + std::to_string(id_one));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("one.txt"), std::string::npos);
  EXPECT_EQ(Q("rm '" + docs_ + "/*.md'").exit_code, 0);
  EXPECT_EQ(Q("rm " + docs_ + "/three.txt").exit_code, 0);
  EXPECT_TRUE(QJson("ls")["documents"].empty());
  for (const char* w : {"apple", "banana", "coffee", "water"}) {
    EXPECT_TRUE(QJson(std::string("search ") + w)["results"].empty()) << w;
  }
  auto missing = Q("rm 12345");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no matching document"), std::string::npos);
}

TEST_F(KbCli, SearchModesFiltersAndJsonShape) {
  Write("red.txt", "The apple is red and sweet.");
  Write("mars.txt", "Mars is the red planet with a volcano.");
  ASSERT_EQ(QJson("add " + docs_ + "/red.txt --meta lang=en --meta year=2020")["added"], 1);
  ASSERT_EQ(QJson("add " + docs_ + "/mars.txt --meta lang=fr --meta year=2024")["added"], 1);
  for (const char* mode : {"bm25", "dense", "hybrid"}) {
    auto j = QJson(std::string("search 'red planet' -k 5 --mode ") + mode);
    ASSERT_EQ(j["results"].size(), 2u) << mode;
    const auto& h = j["results"][0];
    for (const char* key : {"score", "doc_id", "source", "start", "end", "text", "chunk_id", "heading"}) {
      EXPECT_TRUE(h.contains(key)) << mode << " " << key;
    }
  }
  auto bm = QJson("search 'red planet' --mode bm25");
  EXPECT_EQ(bm["results"][0]["source"], docs_ + "/mars.txt");
  auto fr = QJson("search red --where lang=en");
  ASSERT_EQ(fr["results"].size(), 1u);
  EXPECT_EQ(fr["results"][0]["source"], docs_ + "/red.txt");
  auto recent = QJson("search red --where 'year>=2021'");
  ASSERT_EQ(recent["results"].size(), 1u);
  EXPECT_EQ(recent["results"][0]["metadata"]["year"], 2024);
  auto mmr = QJson("search red --mmr -k 2");
  EXPECT_EQ(mmr["results"].size(), 2u);
  auto bad = Q("search red --where nonsense");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("nonsense"), std::string::npos);
  // Regression: an empty query returned every document.
  for (const char* q : {"''", "'  '"}) {
    auto empty = Q(std::string("search ") + q);
    EXPECT_EQ(empty.exit_code, 2) << q;
    EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;
  }
}

// --per-document: each document once, as its first chunk in the chunk
// ranking of the same mode; -k counts documents.
TEST_F(KbCli, SearchPerDocumentGivesEachDocumentOnceAsItsBestChunk) {
  std::string long_text;
  for (int i = 0; i < 12; ++i) long_text += "The apple " + std::to_string(i) + " grows near water and a volcano. ";
  Write("long.txt", long_text + "Apple apple apple planet.");
  Write("short.txt", "An apple and a banana.");
  Write("other.txt", "Coffee on mars.");
  ASSERT_EQ(QJson("add " + docs_ + " --chunk-tokens 24 --overlap 0")["added"], 3);
  for (const char* mode : {"bm25", "dense", "hybrid"}) {
    auto chunks = QJson(std::string("search apple -k 50 --mode ") + mode)["results"];
    auto docs = QJson(std::string("search apple -k 50 --per-document --mode ") + mode)["results"];
    std::vector<int64_t> first;  // each document's first chunk in the chunk ranking
    std::set<int64_t> seen;
    for (const auto& h : chunks) {
      if (seen.insert(h["doc_id"].get<int64_t>()).second) first.push_back(h["chunk_id"].get<int64_t>());
    }
    ASSERT_GT(chunks.size(), seen.size()) << mode << ": the long document must span several chunks";
    ASSERT_EQ(docs.size(), seen.size()) << mode;
    std::set<int64_t> doc_ids, chunk_ids(first.begin(), first.end());
    for (const auto& h : docs) {
      EXPECT_TRUE(doc_ids.insert(h["doc_id"].get<int64_t>()).second) << mode << ": a document twice";
      EXPECT_TRUE(chunk_ids.count(h["chunk_id"].get<int64_t>())) << mode << ": not the document's best chunk";
    }
    // A small k looks candidates' documents up (in the BM25 index; dense mode
    // in the catalog) instead of reading every candidate's row: the same
    // documents, in the same order.
    for (size_t k : {1, 2}) {
      auto head = QJson("search apple -k " + std::to_string(k) + " --per-document --mode " + mode)["results"];
      ASSERT_EQ(head.size(), k) << mode;
      for (size_t i = 0; i < k; ++i) EXPECT_EQ(head[i]["chunk_id"], docs[i]["chunk_id"]) << mode << " k " << k;
    }
  }
  // BM25 alone ranks documents by their best chunk.
  auto bm = QJson("search apple -k 50 --per-document --mode bm25")["results"];
  EXPECT_EQ(bm[0]["source"], docs_ + "/long.txt");
}

// Regression: -k above --candidates returned only the candidates (100 by
// default for -k 150): each retriever's list was cut to the candidates after
// it had fetched k.
TEST_F(KbCli, SearchReturnsKHitsWhenKExceedsTheCandidates) {
  for (int i = 0; i < 30; ++i) Write("d" + std::to_string(i) + ".txt", "An apple note number " + std::to_string(i) + ".");
  ASSERT_EQ(QJson("add " + docs_)["added"], 30);
  for (const char* mode : {"bm25", "dense", "hybrid"}) {
    EXPECT_EQ(QJson(std::string("search apple -k 25 --candidates 5 --mode ") + mode)["results"].size(), 25u) << mode;
    EXPECT_EQ(QJson(std::string("search apple -k 25 --candidates 5 --per-document --mode ") + mode)["results"].size(), 25u) << mode;
  }
}

TEST_F(KbCli, SearchRerankOrdersTheFusedHeadByTheCrossEncoder) {
  const std::string rr = CrossEncoder();
  const std::vector<std::string> texts = {"The apple is red.", "An apple and a banana.", "Mars has an apple volcano.",
                                          "Water and an apple.", "Coffee with apple.", "The apple planet."};
  for (size_t i = 0; i < texts.size(); ++i) Write("f" + std::to_string(i) + ".txt", texts[i]);
  ASSERT_EQ(QJson("add " + docs_)["added"], 6);

  auto fused = QJson("search apple --mode bm25 -k 5");
  ASSERT_EQ(fused["results"].size(), 5u);
  auto j = QJson("search apple --mode bm25 -k 3 --rerank-depth 5 --rerank-model " + rr);
  ASSERT_EQ(j["results"].size(), 3u) << j.dump();
  // What the cross-encoder itself says about the fused top 5, best first.
  auto reranker = Reranker::Open(rr, 1);
  ASSERT_TRUE(reranker.ok()) << reranker.status().message();
  std::vector<std::string> head;
  for (const auto& h : fused["results"]) head.push_back(h["text"]);
  auto want = (*reranker)->Score("apple", head);
  ASSERT_TRUE(want.ok());
  std::vector<size_t> order = {0, 1, 2, 3, 4};
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*want)[a] > (*want)[b]; });
  for (size_t r = 0; r < 3; ++r) {
    const auto& h = j["results"][r];
    EXPECT_EQ(h["text"], head[order[r]]) << r;
    EXPECT_NEAR(h["rerank_score"].get<double>(), (*want)[order[r]], 1e-4);
    EXPECT_EQ(h["score"], h["rerank_score"]);
    EXPECT_EQ(h["fused_rank"], static_cast<int>(order[r]) + 1);
  }
  // An embedder is not a cross-encoder; a depth of 0 is a usage error naming the flag.
  auto wrong = Q("search apple --rerank-model " + model_);
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("not a reranker"), std::string::npos) << wrong.err;
  auto zero = Q("search apple --rerank-depth 0 --rerank-model " + rr);
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find("--rerank-depth"), std::string::npos) << zero.err;
}

TEST_F(KbCli, StdinAndShow) {
  auto r = test::RunCmd("echo 'A note about a volcano.' | " + test::Quarry() + " add - --json --db " + db_ + " --embed-model " + model_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["added"], 1);
  auto ls = QJson("ls")["documents"];
  ASSERT_EQ(ls.size(), 1u);
  auto show = QJson("show " + std::to_string(ls[0]["id"].get<int64_t>()));
  EXPECT_EQ(show["chunk_list"][0]["text"], "A note about a volcano.");
  EXPECT_EQ(Q("show 999").exit_code, 1);
}

// Regression: every stdin document was named by the hash of an empty string
// (the bytes moved before they were hashed), so the second replaced the first.
TEST_F(KbCli, EachStdinDocumentIsKeptAndTheSameTextOnlyOnce) {
  auto add = [&](const std::string& text) {
    auto r = test::RunCmd("echo '" + text + "' | " + test::Quarry() + " add - --json --db " + db_ + " --embed-model " + model_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  };
  EXPECT_EQ(add("one volcano")["added"], 1);
  json second = add("two planets");
  EXPECT_EQ(second["added"], 1);
  EXPECT_EQ(second["replaced"], 0);
  EXPECT_EQ(add("one volcano")["unchanged"], 1);
  auto ls = QJson("ls")["documents"];
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_NE(ls[0]["source"], ls[1]["source"]);
}

TEST_F(KbCli, MissingKnowledgeBaseSaysHowToMakeOne) {
  auto r = Q("search anything");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("quarry add"), std::string::npos) << r.err;
}

// Ranges are checked by the library; the CLI turns the field it names into
// its own flag.
TEST_F(KbCli, OutOfRangeOptionsAreUsageErrorsNamingTheFlag) {
  Write("a.txt", "water");
  ASSERT_EQ(Q("add " + docs_ + " --no-embed").exit_code, 0);
  auto w = Q("search water --dense-weight 1.5");
  EXPECT_EQ(w.exit_code, 2) << w.err;
  EXPECT_NE(w.err.find("the dense weight must be in [0, 1], not 1.5 [--dense-weight]"), std::string::npos) << w.err;
  auto o = Q("add " + docs_ + " --no-embed --chunk-tokens 32 --overlap 32");
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("[--overlap]"), std::string::npos) << o.err;
  auto b = Q("search water --b 2");
  EXPECT_EQ(b.exit_code, 2) << b.err;
  EXPECT_NE(b.err.find("BM25 b must be in [0, 1], not 2 [--b]"), std::string::npos) << b.err;
}

TEST_F(KbCli, EvalRetrievalOnABeirDataset) {
  const std::string beir = dir_.str() + "/beir";
  fs::create_directories(beir + "/qrels");
  test::WriteFile(beir + "/corpus.jsonl",
                  "{\"_id\": \"d1\", \"title\": \"Apples\", \"text\": \"Apple trees grow apples.\"}\n"
                  "{\"_id\": \"d2\", \"title\": \"Mars\", \"text\": \"Mars has a volcano.\"}\n"
                  "{\"_id\": \"d3\", \"title\": \"Coffee\", \"text\": \"Coffee needs hot water.\"}\n");
  test::WriteFile(beir + "/queries.jsonl",
                  "{\"_id\": \"q1\", \"text\": \"volcano on mars\"}\n{\"_id\": \"q2\", \"text\": \"coffee water\"}\n"
                  "{\"_id\": \"q3\", \"text\": \"unjudged query\"}\n");
  test::WriteFile(beir + "/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td3\t1\n");
  auto r = test::RunCmd(test::Quarry() + " eval retrieval --beir " + beir + " --mode bm25,dense,hybrid --json --db " + db_ +
                        " --embed-model " + model_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["queries"], 2);
  for (const char* mode : {"bm25", "dense", "hybrid"}) {
    for (const char* key : {"ndcg@10", "recall@100", "mrr@10"}) EXPECT_TRUE(j["modes"][mode].contains(key)) << mode << key;
  }
  EXPECT_DOUBLE_EQ(j["modes"]["bm25"]["ndcg@10"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["modes"]["bm25"]["mrr@10"].get<double>(), 1.0);
  // With a cross-encoder every mode is reported as reranked.
  auto rr = test::RunCmd(test::Quarry() + " eval retrieval --beir " + beir + " --mode bm25,hybrid --json --db " + db_ +
                         " --embed-model " + model_ + " --rerank-depth 3 --rerank-model " + CrossEncoder());
  ASSERT_EQ(rr.exit_code, 0) << rr.err;
  auto jr = json::parse(rr.out);
  ASSERT_EQ(jr["modes"].size(), 2u) << rr.out;
  EXPECT_TRUE(jr["modes"]["bm25+rerank"].contains("ndcg@10")) << rr.out;
  EXPECT_TRUE(jr["modes"]["hybrid+rerank"].contains("ndcg@10")) << rr.out;
  auto bad = test::RunCmd(test::Quarry() + " eval retrieval --beir " + beir + " --split dev --db " + db_);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("available: test"), std::string::npos) << bad.err;
  // A judged query with no text (public sets have them) scores 0 instead of ending the run.
  test::WriteFile(beir + "/queries.jsonl", "{\"_id\": \"q1\", \"text\": \"volcano on mars\"}\n{\"_id\": \"q2\", \"text\": \" \"}\n");
  auto blank = test::RunCmd(test::Quarry() + " eval retrieval --beir " + beir + " --mode bm25 --json --db " + db_ + " --embed-model " + model_);
  ASSERT_EQ(blank.exit_code, 0) << blank.err;
  auto jb = json::parse(blank.out);
  EXPECT_EQ(jb["queries"], 2);
  EXPECT_DOUBLE_EQ(jb["modes"]["bm25"]["ndcg@10"].get<double>(), 0.5);
}

}  // namespace
}  // namespace quarry
