// quarry serve with a real generator over real HTTP: OpenAI chat completions
// with retrieval and citations, streamed and not; overload; disconnects.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "quarry/registry.h"
#include "serve_process.h"
#include "test_util.h"

namespace quarry {
namespace {

using json = nlohmann::json;
using test::RunCmd;
using test::ServeProcess;

constexpr const char* kQuestion = "How long should coffee steep in a French press?";

class ServeChat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto r = RunCmd(test::Quarry() + " add --db " + Db() + " " + QUARRY_SOURCE_DIR "/samples");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Db() { return (dir_->path() / "kb").string(); }
  static std::vector<std::string> Args(std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"--db", Db(), "--llm", kSmallGenerator};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static std::string ChatBody(const std::string& model, const std::string& content, int max_tokens, bool stream) {
    return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", content}}}}, {"max_tokens", max_tokens}, {"stream", stream}}
        .dump();
  }
  // The data: payloads of a server-sent event stream, in order.
  static std::vector<std::string> Events(const std::string& body) {
    std::vector<std::string> out;
    size_t at = 0;
    while ((at = body.find("data: ", at)) != std::string::npos) {
      const size_t end = body.find("\n\n", at);
      out.push_back(body.substr(at + 6, end - at - 6));
      at = end == std::string::npos ? body.size() : end;
    }
    return out;
  }
  // Waits (up to a minute) for /metrics to count one cancelled generation,
  // which stopped before max_tokens.
  static void ExpectOneCancelledBefore(ServeProcess& s, int max_tokens) {
    std::string metrics;
    for (int i = 0; i < 600; ++i) {
      auto m = s.Client().Get("/metrics");
      ASSERT_TRUE(m);
      metrics = m->body;
      if (metrics.find("quarry_generations_cancelled_total 1") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(metrics.find("quarry_generations_cancelled_total 1"), std::string::npos) << metrics;
    const size_t at = metrics.find("quarry_tokens_total{kind=\"completion\"} ");
    ASSERT_NE(at, std::string::npos);
    EXPECT_LT(std::stoi(metrics.substr(at + 39)), max_tokens) << metrics;
  }
  static test::TempDir* dir_;
};
test::TempDir* ServeChat::dir_ = nullptr;

// The server runs the CLI's pipeline: same answer as `quarry ask` (greedy),
// streamed or not, with the passages as citations.
TEST_F(ServeChat, AnswersWithCitationsStreamedOrNotAsTheCliDoes) {
  ServeProcess s(Args());
  ASSERT_TRUE(s.up()) << s.err();
  auto c = s.Client();
  auto r = c.Post("/v1/chat/completions", ChatBody("quarry", kQuestion, 48, false), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  const std::string answer = j["choices"][0]["message"]["content"];
  EXPECT_FALSE(answer.empty());
  ASSERT_FALSE(j["citations"].empty()) << j.dump();
  EXPECT_NE(j["citations"][0]["source"].get<std::string>().find("coffee-brewing.html"), std::string::npos) << j["citations"].dump();
  EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), 0);

  auto cli = RunCmd(test::Quarry() + " ask --json -n 48 --llm " + kSmallGenerator + " --db " + Db() + " \"" + kQuestion + "\"");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(json::parse(cli.out)["answer"], answer);

  auto st = c.Post("/v1/chat/completions", ChatBody("quarry", kQuestion, 48, true), "application/json");
  ASSERT_TRUE(st);
  ASSERT_EQ(st->status, 200) << st->body;
  EXPECT_NE(st->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  const auto events = Events(st->body);
  ASSERT_GE(events.size(), 3u) << st->body;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string streamed;
  for (size_t i = 0; i + 2 < events.size(); ++i) streamed += json::parse(events[i])["choices"][0]["delta"].value("content", "");
  EXPECT_EQ(streamed, answer);
  json last = json::parse(events[events.size() - 2]);
  EXPECT_FALSE(last["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(last["citations"].size(), j["citations"].size());

  // Plain chat: no retrieval, no citations.
  auto plain = c.Post("/v1/chat/completions", ChatBody("quarry-chat", "Say hello.", 8, false), "application/json");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  EXPECT_FALSE(json::parse(plain->body).contains("citations"));

  // "stop" (OpenAI's stop sequences): the reply ends before the first one, streamed or not.
  const std::string said = json::parse(plain->body)["choices"][0]["message"]["content"];
  const size_t space = said.find(' ', 1);
  ASSERT_NE(space, std::string::npos) << said;
  json stop_body = json::parse(ChatBody("quarry-chat", "Say hello.", 8, false));
  stop_body["stop"] = said.substr(space, 3);
  auto stopped = c.Post("/v1/chat/completions", stop_body.dump(), "application/json");
  ASSERT_TRUE(stopped);
  ASSERT_EQ(stopped->status, 200) << stopped->body;
  json sj = json::parse(stopped->body)["choices"][0];
  EXPECT_EQ(sj["message"]["content"], said.substr(0, space));
  EXPECT_EQ(sj["finish_reason"], "stop");
  stop_body["stream"] = true;
  auto stopped_stream = c.Post("/v1/chat/completions", stop_body.dump(), "application/json");
  ASSERT_TRUE(stopped_stream);
  std::string deltas;
  for (const std::string& e : Events(stopped_stream->body)) {
    if (e != "[DONE]") deltas += json::parse(e)["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(deltas, said.substr(0, space));
}

// One generation slot and no queue: a second chat gets 429 with Retry-After
// while the first streams; a client that disconnects stops its generation.
TEST_F(ServeChat, OverCapacityGets429AndADisconnectCancelsGeneration) {
  ServeProcess s(Args({"--generators", "1", "--queue", "0"}));
  ASSERT_TRUE(s.up()) << s.err();
  constexpr int kMax = 400;
  std::atomic<bool> first_piece{false}, hang_up{false};
  std::thread streamer([&] {
    auto c = s.Client();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = ChatBody("quarry-chat", "Write a very long story about the sea, chapter after chapter.", kMax, true);
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      first_piece = true;
      return !hang_up.load();
    };
    c.send(req);
  });
  for (int i = 0; i < 1200 && !first_piece; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(first_piece);
  auto busy = s.Client().Post("/v1/chat/completions", ChatBody("quarry-chat", "Hi", 4, false), "application/json");
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 429) << busy->body;
  EXPECT_FALSE(busy->get_header_value("Retry-After").empty());
  EXPECT_EQ(json::parse(busy->body)["error"]["type"], "rate_limit_error");

  hang_up = true;
  streamer.join();
  ExpectOneCancelledBefore(s, kMax);
  // The slot is free again.
  auto after = s.Client().Post("/v1/chat/completions", ChatBody("quarry-chat", "Hi", 4, false), "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
}

// A client that gives up on a non-streamed answer (its read timeout, a closed
// tab) stops the generation too, though nothing was written to it yet.
TEST_F(ServeChat, ADisconnectCancelsANonStreamedGeneration) {
  ServeProcess s(Args({"--generators", "1", "--queue", "0"}));
  ASSERT_TRUE(s.up()) << s.err();
  constexpr int kMax = 400;
  ASSERT_TRUE(s.Client().Post("/v1/chat/completions", ChatBody("quarry-chat", "Hi", 2, false), "application/json"));  // loads the model
  auto impatient = s.Client();
  impatient.set_read_timeout(1, 0);
  auto r = impatient.Post("/v1/chat/completions", ChatBody("quarry-chat", "Write a very long story about the sea, chapter after chapter.", kMax, false),
                          "application/json");
  EXPECT_FALSE(r);  // gave up after a second
  ExpectOneCancelledBefore(s, kMax);
  auto after = s.Client().Post("/v1/chat/completions", ChatBody("quarry-chat", "Hi", 4, false), "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
}

// --timeout ends an answer that runs long, as max_tokens would.
TEST_F(ServeChat, AnAnswerThatRunsPastTheTimeoutEndsAsCut) {
  ServeProcess s(Args({"--timeout", "0.3"}));
  ASSERT_TRUE(s.up()) << s.err();
  auto c = s.Client();
  ASSERT_TRUE(c.Post("/v1/chat/completions", ChatBody("quarry-chat", "Hi", 2, false), "application/json"));  // loads the model
  auto r = c.Post("/v1/chat/completions", ChatBody("quarry-chat", "Write a very long story about the sea.", 400, false), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_LT(j["usage"]["completion_tokens"].get<int>(), 400);
}

// The official clients, unchanged, against the real server with an API key:
// models, chat (plain and streamed, citations as an extra field), embeddings,
// and a wrong key refused. scripts/setup installs them (tests/e2e).
TEST_F(ServeChat, OfficialOpenAiClientsWorkUnchanged) {
  const std::string key = "e2e-key-0123456789";
  ServeProcess s(Args(), {"QUARRY_API_KEY=" + key});
  ASSERT_TRUE(s.up()) << s.err();
  const std::string args = " " + s.url() + "/v1 " + key + " \"" + kQuestion + "\" coffee-brewing.html";
  const std::string e2e = QUARRY_SOURCE_DIR "/tests/e2e";
  auto py = RunCmd(CacheDir() + "/venv-e2e/bin/python " + e2e + "/openai_client.py" + args);
  EXPECT_EQ(py.exit_code, 0) << py.out << py.err;
  auto js = RunCmd("node " + e2e + "/openai_client.mjs" + args);
  EXPECT_EQ(js.exit_code, 0) << js.out << js.err;
  // Both clients got the same (greedy) answer.
  if (py.exit_code == 0 && js.exit_code == 0) {
    EXPECT_EQ(json::parse(py.out)["answer"], json::parse(js.out)["answer"]);
  }
}

// The web UI in a real browser: upload, ask, open a citation, delete; the
// screenshot is kept as a test artifact (build/<preset>/test-artifacts/).
TEST_F(ServeChat, WebUiUploadAskCiteAndDeleteInABrowser) {
  ServeProcess s(Args());
  ASSERT_TRUE(s.up()) << s.err();
  test::TempDir d;
  const std::string file = d.str() + "/skerry-island.md";
  std::ofstream(file) << "# Skerry Island light\n\nThe lighthouse keeper on Skerry Island in 1890 was Ada Lindqvist. "
                         "She kept the lamp burning through the great storm of that winter.\n";
  std::filesystem::create_directories(QUARRY_ARTIFACT_DIR);
  const std::string shot = std::string(QUARRY_ARTIFACT_DIR) + "/web_ui.png";
  std::filesystem::remove(shot);
  auto r = RunCmd("node " QUARRY_SOURCE_DIR "/tests/e2e/web_ui.mjs " + s.url() + "/ " + file +
                  " 'Who was the lighthouse keeper on Skerry Island in 1890?' " + shot);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_NE(j["passage_where"].get<std::string>().find("skerry-island.md"), std::string::npos) << r.out;
  EXPECT_NE(j["passage_text"].get<std::string>().find("Ada Lindqvist"), std::string::npos) << r.out;
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
}

}  // namespace
}  // namespace quarry
