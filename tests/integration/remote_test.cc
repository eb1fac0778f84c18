// The OpenAI-compatible backends against a real server on loopback:
// llama.cpp's llama-server, built by scripts/setup from the same pinned
// source, serving the default chat and embedding models.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "quarry/registry.h"
#include "quarry/model.h"
#include "test_util.h"

namespace quarry {
namespace {

using nlohmann::json;
using test::Quarry;
using test::RunCmd;
using test::TempDir;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// One llama-server process, stopped on destruction.
class Server {
 public:
  Server(const std::string& model, std::vector<std::string> extra, const std::string& log) : port_(FreePort()) {
    std::vector<std::string> args = {QUARRY_LLAMA_BIN "/llama-server", "-m", model, "--host", "127.0.0.1", "--port",
                                     std::to_string(port_), "-t", "2", "--no-webui"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Waits until /health answers 200 (the model is loaded).
  bool Ready() const {
    httplib::Client c("http://127.0.0.1:" + std::to_string(port_));
    c.set_connection_timeout(1);
    for (int i = 0; i < 240; ++i) {
      if (auto r = c.Get("/health"); r && r->status == 200) return true;
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) return false;  // it exited
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }
  std::string spec() const { return "openai:http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  int port_;
  pid_t pid_ = -1;
};

class Remote : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto gen = ResolveModel(kSmallGenerator);
    // MiniLM: llama-server embeds raw text, without E5's "query: "/"passage: " prefixes.
    auto emb = ResolveModel("minilm-l6");
    ASSERT_TRUE(gen.ok() && emb.ok());
    chat_ = new Server(*gen, {"-c", "4096", "-np", "4"}, (dir_->path() / "chat.log").string());
    embed_ = new Server(*emb, {"--embedding"}, (dir_->path() / "embed.log").string());
    ASSERT_TRUE(chat_->Ready()) << "llama-server (chat) did not start; see " << (dir_->path() / "chat.log");
    ASSERT_TRUE(embed_->Ready()) << "llama-server (embeddings) did not start; see " << (dir_->path() / "embed.log");
  }
  static void TearDownTestSuite() {
    delete chat_;
    delete embed_;
    delete dir_;
  }
  static std::string Db() { return (dir_->path() / "kb").string(); }
  static TempDir* dir_;
  static Server* chat_;
  static Server* embed_;
};
TempDir* Remote::dir_ = nullptr;
Server* Remote::chat_ = nullptr;
Server* Remote::embed_ = nullptr;

TEST_F(Remote, KnowledgeBaseEmbedsThroughTheServer) {
  auto add = RunCmd(Quarry() + " add --db " + Db() + " --embed-model " + embed_->spec() + " " QUARRY_SOURCE_DIR "/samples");
  ASSERT_EQ(add.exit_code, 0) << add.err;
  auto s = RunCmd(Quarry() + " search --db " + Db() + " --mode dense --json -k 1 \"how long to steep coffee in a French press\"");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  json r = json::parse(s.out)["results"];
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0]["source"].get<std::string>().find("coffee-brewing.html"), std::string::npos);
  // The server runs the same GGUF: its vectors match the in-process ones.
  auto local = OpenEmbedder("minilm-l6");
  auto remote = OpenEmbedder(embed_->spec());
  ASSERT_TRUE(local.ok() && remote.ok()) << (remote.ok() ? "" : remote.status().message());
  EXPECT_EQ((*remote)->dimension(), (*local)->dimension());
  auto a = (*local)->Embed({"The Sun is a star."});
  auto b = (*remote)->Embed({"The Sun is a star."});
  ASSERT_TRUE(a.ok() && b.ok());
  double dot = 0;
  for (size_t i = 0; i < (*a)[0].size(); ++i) dot += (*a)[0][i] * (*b)[0][i];
  EXPECT_GT(dot, 0.999);
}

TEST_F(Remote, AskThroughTheServerStreamsAndCites) {
  ASSERT_EQ(RunCmd(Quarry() + " add --db " + Db() + " --embed-model " + embed_->spec() + " " QUARRY_SOURCE_DIR "/samples").exit_code, 0);
  const std::string ask = Quarry() + " ask --db " + Db() + " --llm " + chat_->spec() + " -k 3 ";
  auto text = RunCmd(ask + "\"How long should coffee steep in a French press?\"");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  // An answer streamed, then its sources (which ones depends on what this small model wrote).
  const size_t sources = text.out.find("\nSources:");
  ASSERT_NE(sources, std::string::npos) << text.out;
  EXPECT_GT(sources, 0u);

  auto j = RunCmd(ask + "--json --candidates 3 --select support=0.5,likelihood=0.5 \"How long should coffee steep in a French press?\"");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json a = json::parse(j.out);
  EXPECT_TRUE(a["grounded"].get<bool>());
  ASSERT_EQ(a["candidates"].size(), 3u);
  for (const auto& c : a["candidates"]) {
    EXPECT_FALSE(c["text"].get<std::string>().empty());
    EXPECT_GT(c["scores"]["likelihood"].get<double>(), 0.0);  // the server's logprobs came back
  }
  EXPECT_NE(a["citations"][0]["source"].get<std::string>().find("coffee-brewing.html"), std::string::npos);
  EXPECT_EQ(a["model"].get<std::string>().rfind("openai:http://127.0.0.1:", 0), 0u);
}

// With a system message given: the server renders the model's Jinja template,
// which adds a default system turn when there is none; llama.cpp's built-in
// template in-process does not.
TEST_F(Remote, GreedyChatMatchesInProcess) {
  auto remote = OpenGenerator(chat_->spec());
  auto local = OpenGenerator(kSmallGenerator);
  ASSERT_TRUE(remote.ok() && local.ok());
  SamplingOptions s;
  s.temperature = 0;
  s.max_tokens = 16;
  const std::vector<ChatMessage> msgs = {{"system", "You are a helpful assistant."}, {"user", "What is the capital of France?"}};
  auto a = (*local)->Chat(msgs, s);
  std::string streamed;
  auto b = (*remote)->Chat(msgs, s, [&](std::string_view p) {
    streamed.append(p);
    return true;
  });
  ASSERT_TRUE(a.ok() && b.ok()) << (b.ok() ? "" : b.status().message());
  EXPECT_EQ(b->text, streamed);
  EXPECT_EQ(b->text, a->text);
  // Choices are weighed from the server's top_logprobs: the same probabilities.
  s.max_tokens = 1;
  s.choices = {"Yes", "No"};
  const std::vector<ChatMessage> yes_no = {{"system", "You are a helpful assistant."},
                                           {"user", "Is Paris the capital of France? Answer Yes or No."}};
  auto la = (*local)->Chat(yes_no, s);
  auto rb = (*remote)->Chat(yes_no, s);
  ASSERT_TRUE(la.ok() && rb.ok()) << (rb.ok() ? "" : rb.status().message());
  ASSERT_EQ(la->choice_probs.size(), 2u);
  ASSERT_EQ(rb->choice_probs.size(), 2u);
  EXPECT_GT(la->choice_probs[0] + la->choice_probs[1], 0.05);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(rb->choice_probs[i], la->choice_probs[i], 0.02) << s.choices[i];
  EXPECT_GT((*remote)->CountTokens("What is the capital of France?"), 3);
  EXPECT_EQ((*remote)->CountTokens("What is the capital of France?"), (*local)->CountTokens("What is the capital of France?"));
}

}  // namespace
}  // namespace quarry
