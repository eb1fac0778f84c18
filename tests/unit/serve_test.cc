// quarry serve over real HTTP on loopback, without models: search, documents,
// errors, authentication, limits, shutdown. (Chat: tests/integration.)
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve_process.h"
#include "test_util.h"
#include "unit/fixtures.h"
#include "quarry/model.h"
#include "unit/tiny_checkpoint.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::ServeProcess;

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.str() + "/kb";
    fs::create_directories(dir_.path() / "docs");
    test::WriteFile(dir_.str() + "/docs/tides.txt", "Tides are caused by the gravitational pull of the moon on the oceans.");
    test::WriteFile(dir_.str() + "/docs/bees.md", "# Bees\n\nHoney bees dance to tell the hive where flowers are.");
    auto r = test::RunCmd(test::Quarry() + " add " + dir_.str() + "/docs --no-embed --db " + db_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"--db", db_, "--no-embed"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static json Json(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

  test::TempDir dir_;
  std::string db_;
};

TEST_F(Serve, SearchUploadListAndDeleteOverHttp) {
  ServeProcess s(Args());
  ASSERT_TRUE(s.up()) << s.err();
  auto c = s.Client();
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);

  auto r = c.Post("/v1/search", R"({"query": "why are there tides", "k": 1, "mode": "bm25"})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = Json(r);
  ASSERT_EQ(j["results"].size(), 1u) << j.dump();
  EXPECT_NE(j["results"][0]["source"].get<std::string>().find("tides.txt"), std::string::npos);
  EXPECT_EQ(j["results"][0]["rank"], 1);
  auto per_doc = c.Post("/v1/search", R"({"query": "why are there tides", "k": 1, "mode": "bm25", "per_document": true})",
                        "application/json");
  ASSERT_TRUE(per_doc);
  ASSERT_EQ(per_doc->status, 200) << per_doc->body;
  EXPECT_EQ(Json(per_doc)["results"][0]["doc_id"], j["results"][0]["doc_id"]);

  // Upload: the type comes from the content; the name cannot leave the upload folder.
  httplib::MultipartFormDataItems items = {
      {"file", "Volcanoes erupt when magma rises through the crust.", "../../outside/volcano.txt", "text/plain"},
      {"file", std::string("\x00\x01\x02 not text", 13), "blob.txt", "application/octet-stream"},
      {"metadata", R"({"team": "geo"})", "", ""}};
  auto up = c.Post("/v1/documents", items);
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  json u = Json(up);
  EXPECT_EQ(u["added"], 1) << u.dump();
  EXPECT_EQ(u["failed"], 1) << u.dump();
  EXPECT_EQ(u["files"][0]["status"], "added");
  EXPECT_EQ(u["files"][1]["status"], "failed");
  EXPECT_NE(u["files"][1]["reason"].get<std::string>().find("not a type Quarry reads"), std::string::npos);
  const std::string stored = u["files"][0]["source"];
  EXPECT_EQ(fs::path(stored).parent_path(), fs::canonical(db_ + "/uploads")) << stored;
  EXPECT_FALSE(fs::exists(dir_.path() / "outside"));

  // Found by search right away, with its metadata.
  auto f = Json(c.Post("/v1/search", R"({"query": "magma", "mode": "bm25", "where": ["team=geo"]})", "application/json"));
  ASSERT_EQ(f["results"].size(), 1u) << f.dump();
  const int64_t id = f["results"][0]["doc_id"];

  auto list = Json(c.Get("/v1/documents"));
  EXPECT_EQ(list["data"].size(), 3u) << list.dump();
  auto one = Json(c.Get("/v1/documents/" + std::to_string(id) + "?text=1"));
  EXPECT_EQ(one["text"], "Volcanoes erupt when magma rises through the crust.") << one.dump();

  auto del = c.Delete("/v1/documents/" + std::to_string(id));
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200) << del->body;
  EXPECT_FALSE(fs::exists(stored));
  auto again = c.Delete("/v1/documents/" + std::to_string(id));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 404);
  EXPECT_EQ(Json(c.Post("/v1/search", R"({"query": "magma", "mode": "bm25"})", "application/json"))["results"].size(), 0u);
}

// Every malformed request gets a 4xx in OpenAI's error shape, and the server
// keeps serving.
TEST_F(Serve, ACrossEncoderReordersSearchesUnlessARequestSaysNot) {
  test::TinyBert spec;
  spec.cross_encoder = true;
  test::WriteTinyBert(dir_.str() + "/ce", spec);
  const std::string rr = dir_.str() + "/rerank.gguf";
  ASSERT_TRUE(ImportHfModel(dir_.str() + "/ce", rr).ok());
  const std::string q = R"({"query": "the bees and the tides", "mode": "bm25")";
  {
    // One thread: ggml's OpenMP workers are invisible to the TSan build that runs this suite.
    ServeProcess s(Args({"--rerank-model", rr, "--threads", "1", "--max-rerank-depth", "5"}));
    ASSERT_TRUE(s.up()) << s.err();
    auto c = s.Client();
    json on = Json(c.Post("/v1/search", q + "}", "application/json"));
    ASSERT_EQ(on["results"].size(), 2u) << on.dump() << "\n" << s.err();
    EXPECT_GE(on["results"][0]["rerank_score"].get<double>(), on["results"][1]["rerank_score"].get<double>());
    json off = Json(c.Post("/v1/search", q + R"(, "rerank": false})", "application/json"));
    ASSERT_EQ(off["results"].size(), 2u) << off.dump();
    EXPECT_FALSE(off["results"][0].contains("rerank_score"));
    auto depth = c.Post("/v1/search", q + R"(, "rerank_depth": 0})", "application/json");
    ASSERT_TRUE(depth);
    EXPECT_EQ(depth->status, 400) << depth->body;
    // One request cannot hold the shared cross-encoder for long: the server's limit.
    auto deep = c.Post("/v1/search", q + R"(, "rerank_depth": 6})", "application/json");
    ASSERT_TRUE(deep);
    EXPECT_EQ(deep->status, 400) << deep->body;
    EXPECT_NE(deep->body.find("at most 5"), std::string::npos) << deep->body;
    auto at_limit = c.Post("/v1/search", q + R"(, "rerank_depth": 5})", "application/json");
    ASSERT_TRUE(at_limit);
    EXPECT_EQ(at_limit->status, 200) << at_limit->body;
    auto unranked = c.Post("/v1/search", q + R"(, "rerank": false, "rerank_depth": 500})", "application/json");
    ASSERT_TRUE(unranked);
    EXPECT_EQ(unranked->status, 200) << unranked->body;
  }
  {
    ServeProcess s(Args());
    ASSERT_TRUE(s.up()) << s.err();
    auto r = s.Client().Post("/v1/search", q + R"(, "rerank": true})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("--rerank-model"), std::string::npos) << r->body;
  }
  // A model that is not a cross-encoder stops the server at start, naming the flag.
  test::WriteTinyBert(dir_.str() + "/emb", test::TinyBert{});
  ASSERT_TRUE(ImportHfModel(dir_.str() + "/emb", dir_.str() + "/emb.gguf").ok());
  ServeProcess bad(Args({"--rerank-model", dir_.str() + "/emb.gguf"}));
  EXPECT_FALSE(bad.up());
  EXPECT_NE(bad.err().find("not a reranker"), std::string::npos) << bad.err();
  EXPECT_NE(bad.err().find("--rerank-model"), std::string::npos) << bad.err();
}

TEST_F(Serve, BadRequestsGetClearErrorsNeverACrash) {
  ServeProcess s(Args({"--max-body-size", "1", "--llm", dir_.str() + "/no-such-model.gguf"}));
  ASSERT_TRUE(s.up()) << s.err();
  auto c = s.Client();
  struct Case {
    std::string path, body;
    int status;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"/v1/search", "not json", 400, ""},
      {"/v1/search", "[1, 2]", 400, ""},
      {"/v1/search", R"({"query": 5})", 400, "query"},
      {"/v1/search", R"({"query": "x", "k": "ten"})", 400, "k"},
      {"/v1/search", R"({"query": "x", "k": -3})", 400, "k"},
      {"/v1/search", R"({"query": "x", "k": 1e30})", 400, "k"},
      {"/v1/search", R"({"query": "x", "colour": "red"})", 400, "colour"},
      {"/v1/search", R"({"query": "x", "dense_weight": 7})", 400, "dense_weight"},
      {"/v1/search", R"({"query": "x", "mode": "psychic"})", 400, "mode"},
      {"/v1/search", R"({"query": "x", "where": ["team==kb"]})", 400, ""},
      {"/v1/search", R"({"query": "   "})", 400, ""},
      {"/v1/search", R"({"k": 3})", 400, "query"},
      {"/v1/chat/completions", R"({"model": "quarry", "messages": "hi"})", 400, "messages"},
      {"/v1/chat/completions", R"({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})", 404, "model"},
      {"/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "hi"}]})", 400, "messages"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "temperature": 9})", 400, "temperature"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "n": 3})", 400, "n"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "relevance_cut": 2})", 400, "relevance_cut"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stop": [1]})", 400, "stop"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]})", 400, "stop"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "stop": ["a", ""]})", 400, "stop"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]})", 400, "tools"},
      {"/v1/embeddings", R"({"input": []})", 400, "input"},
      {"/v1/embeddings", R"({"input": [1, 2]})", 400, "input"},
      {"/v1/embeddings", R"({"input": ""})", 400, "input"},
      {"/v1/embeddings", R"({"input": ["a text", " \n"]})", 400, "input"},
  };
  for (const auto& k : cases) {
    auto r = c.Post(k.path, k.body, "application/json");
    ASSERT_TRUE(r) << k.body;
    EXPECT_EQ(r->status, k.status) << k.path << " " << k.body << " -> " << r->body;
    json e = Json(r);
    ASSERT_TRUE(e.contains("error")) << r->body;
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
    if (!k.param.empty()) {
      EXPECT_EQ(e["error"]["param"], k.param) << r->body;
    }
  }
  // What clients send at their defaults passes validation (then fails on the missing model: 404).
  auto defaults = c.Post("/v1/chat/completions",
                         R"({"model": "quarry", "messages": [{"role": "user", "content": "hi"}], "n": 1, "stop": null,
                             "presence_penalty": 0, "frequency_penalty": 0, "logit_bias": {}, "logprobs": false,
                             "response_format": {"type": "text"}, "stream_options": null})",
                         "application/json");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->status, 404) << defaults->body;
  EXPECT_NE(defaults->body.find("no-such-model.gguf"), std::string::npos) << defaults->body;
  auto big = c.Post("/v1/search", std::string(2 << 20, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_TRUE(Json(big).contains("error")) << big->body;
  auto nowhere = c.Get("/v1/nothing");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404);
  // A path served under other methods: 405, naming them (also in Allow).
  auto wrong_method = [&](const httplib::Result& r, const std::string& allow) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405) << r->body;
    EXPECT_EQ(r->get_header_value("Allow"), allow);
    EXPECT_EQ(Json(r)["error"]["code"], "method_not_allowed") << r->body;
    EXPECT_NE(Json(r)["error"]["message"].get<std::string>().find(allow), std::string::npos) << r->body;
  };
  wrong_method(c.Get("/v1/search"), "POST");
  wrong_method(c.Put("/v1/search", "{}", "application/json"), "POST");
  wrong_method(c.Post("/v1/models", "{}", "application/json"), "GET");
  wrong_method(c.Delete("/v1/documents"), "GET, POST");
  wrong_method(c.Patch("/v1/documents/1", "{}", "application/json"), "DELETE, GET");
  wrong_method(c.Post("/", "{}", "application/json"), "GET");
  auto not_an_id = c.Get("/v1/documents/abc");
  ASSERT_TRUE(not_an_id);
  EXPECT_EQ(not_an_id->status, 404) << not_an_id->body;
  auto put_nowhere = c.Put("/v1/nothing", "{}", "application/json");
  ASSERT_TRUE(put_nowhere);
  EXPECT_EQ(put_nowhere->status, 404) << put_nowhere->body;
  EXPECT_EQ(Json(put_nowhere)["error"]["code"], "unknown_route") << put_nowhere->body;
  auto head = c.Head("/v1/models");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  auto not_multipart = c.Post("/v1/documents", "{}", "application/json");
  ASSERT_TRUE(not_multipart);
  EXPECT_EQ(not_multipart->status, 415);
  auto not_a_file = c.Post("/v1/documents", httplib::MultipartFormDataItems{{"note", "hello", "", ""}});
  ASSERT_TRUE(not_a_file);
  EXPECT_EQ(not_a_file->status, 400) << not_a_file->body;
  EXPECT_EQ(Json(not_a_file)["error"]["param"], "note");
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(s.Stop(SIGTERM), 0) << s.err();
}

TEST_F(Serve, ApiKeysGuardEverythingButHealth) {
  const std::string keys = dir_.str() + "/keys";
  test::WriteFile(keys, "# keys\nfile-key-123456\n");
  ServeProcess s(Args({"--api-keys-file", keys}), {"QUARRY_API_KEY=env-key-abcdef"});
  ASSERT_TRUE(s.up()) << s.err();
  for (const std::string key : {"", "wrong-key-000000"}) {
    auto r = s.Client(key).Post("/v1/search", R"({"query": "tides", "mode": "bm25"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << key;
    EXPECT_EQ(Json(r)["error"]["code"], "invalid_api_key");
    auto m = s.Client(key).Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 401);
  }
  for (const std::string key : {"file-key-123456", "env-key-abcdef"}) {
    auto r = s.Client(key).Post("/v1/search", R"({"query": "tides", "mode": "bm25"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << key << " " << r->body;
  }
  auto h = s.Client().Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  // The UI's static files hold no data: the page loads without a key, then asks for one.
  auto page = s.Client().Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<title>Quarry</title>"), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  auto stats = s.Client().Get("/v1/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->status, 401);
}

TEST_F(Serve, WithoutKeysOnlyLoopbackIsServed) {
  ServeProcess open(Args({"--host", "0.0.0.0"}));
  EXPECT_FALSE(open.up());
  EXPECT_EQ(open.exit_code(), 2);
  EXPECT_NE(open.err().find("refusing to listen on 0.0.0.0 without API keys"), std::string::npos) << open.err();
  ServeProcess keyed(Args({"--host", "0.0.0.0"}), {"QUARRY_API_KEY=a-long-enough-key"});
  EXPECT_TRUE(keyed.up()) << keyed.err();
}

// Searches keep being answered while a large upload is ingested; SIGTERM
// lets the upload finish and the server exit cleanly.
TEST_F(Serve, SearchesAnswerDuringAnUploadAndSigtermDrains) {
  ServeProcess s(Args());
  ASSERT_TRUE(s.up()) << s.err();
  std::string big;
  for (int i = 0; big.size() < (6u << 20); ++i) big += "Paragraph " + std::to_string(i) + " about lighthouses and their keepers.\n\n";
  std::atomic<bool> uploading{true};
  int upload_status = 0;
  std::thread upload([&] {
    auto r = s.Client().Post("/v1/documents", httplib::MultipartFormDataItems{{"file", big, "big.md", "text/markdown"}});
    upload_status = r ? r->status : -1;
    uploading = false;
  });
  int answered_during = 0;
  auto c = s.Client();
  while (uploading) {
    auto r = c.Post("/v1/search", R"({"query": "honey bees", "mode": "bm25", "k": 1})", "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    if (uploading) ++answered_during;
  }
  upload.join();
  EXPECT_EQ(upload_status, 200);
  EXPECT_GT(answered_during, 0);

  // A second upload, then SIGTERM once the server is ingesting it: it
  // completes, then the process exits 0.
  std::thread second([&] {
    auto r = s.Client().Post("/v1/documents", httplib::MultipartFormDataItems{{"file", big + "more", "big2.md", "text/markdown"}});
    upload_status = r ? r->status : -1;
  });
  bool ingesting = false;
  for (int i = 0; i < 600 && !ingesting; ++i) {
    auto m = s.Client().Get("/metrics");
    ingesting = m && m->body.find("quarry_http_requests_in_flight 1") != std::string::npos;
    if (!ingesting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ingesting);
  EXPECT_EQ(s.Stop(SIGTERM), 0) << s.err();
  second.join();
  EXPECT_EQ(upload_status, 200);
  auto ls = test::RunCmd(test::Quarry() + " ls --json --db " + db_);
  EXPECT_NE(ls.out.find("big2.md"), std::string::npos) << ls.out;
}

}  // namespace
}  // namespace quarry
