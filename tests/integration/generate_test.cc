// The in-process llama.cpp generator, greedy: SmolLM2-135M-Instruct for the
// mechanics, the default generator through the CLI.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "quarry/registry.h"
#include "quarry/model.h"
#include "test_util.h"
#include "text/utf8.h"

namespace quarry {
namespace {

class SmolLM : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto path = ResolveModel(kSmallGenerator);
    ASSERT_TRUE(path.ok()) << path.status().message();
    auto g = Generator::Open(*path);
    ASSERT_TRUE(g.ok()) << g.status().message();
    gen_ = std::move(*g).release();
  }
  static void TearDownTestSuite() {
    delete gen_;
    gen_ = nullptr;
  }
  static SamplingOptions Greedy(int n = 48) {
    SamplingOptions s;
    s.temperature = 0;
    s.max_tokens = n;
    return s;
  }
  static Generator* gen_;
};
Generator* SmolLM::gen_ = nullptr;

TEST_F(SmolLM, AnswersTheCapitalOfFrance) {
  ASSERT_NE(gen_, nullptr);
  auto g = gen_->Chat({{"user", "What is the capital of France?"}}, Greedy());
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_NE(g->text.find("Paris"), std::string::npos) << g->text;
  EXPECT_GT(g->prompt_tokens, 5);
  EXPECT_GT(g->completion_tokens, 0);
  EXPECT_GT(g->time_to_first_token_ms, 0);
}

TEST_F(SmolLM, GreedyIsDeterministicAndStreamsWholeText) {
  ASSERT_NE(gen_, nullptr);
  std::string streamed;
  int pieces = 0;
  auto a = gen_->Chat({{"user", "Name three colours."}}, Greedy(), [&](std::string_view p) {
    streamed += p;
    ++pieces;
    return true;
  });
  auto b = gen_->Chat({{"user", "Name three colours."}}, Greedy());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->text.empty());
  EXPECT_EQ(a->text, b->text);
  EXPECT_EQ(streamed, a->text);
  EXPECT_GT(pieces, 1);
}

// The context keeps the last conversation: a call repeating its start
// evaluates only the rest, and answers as a fresh evaluation would.
TEST_F(SmolLM, APromptSharingThePreviousCallsStartEvaluatesOnlyTheRest) {
  ASSERT_NE(gen_, nullptr);
  const std::vector<ChatMessage> first = {{"system", "You answer in one short sentence."}, {"user", "What colour is the sky?"}};
  auto a = gen_->Chat(first, Greedy(12));
  ASSERT_TRUE(a.ok()) << a.status().message();
  // The same prompt again: everything but the last token (whose logits are needed) is kept.
  auto again = gen_->Chat(first, Greedy(12));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->cached_tokens, again->prompt_tokens - 1);
  EXPECT_EQ(again->text, a->text);
  // A follow-up turn: the first prompt and the reply are kept.
  std::vector<ChatMessage> follow = first;
  follow.push_back({"assistant", again->text});
  follow.push_back({"user", "And at night?"});
  auto f = gen_->Chat(follow, Greedy(12));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_GE(f->cached_tokens, a->prompt_tokens);
  EXPECT_LT(f->cached_tokens, f->prompt_tokens);
  // Candidates over a prompt that shares the system turn: every sequence starts
  // from the kept cells, and the greedy one matches a lone greedy answer.
  auto path = ResolveModel(kSmallGenerator);
  ASSERT_TRUE(path.ok());
  GeneratorOptions go;
  go.sequences = 3;
  auto three = Generator::Open(*path, go);
  ASSERT_TRUE(three.ok()) << three.status().message();
  ASSERT_TRUE((*three)->Chat(first, Greedy(4)).ok());
  const std::vector<ChatMessage> other = {{"system", "You answer in one short sentence."}, {"user", "Name a fruit."}};
  SamplingOptions s = Greedy(12);
  s.temperature = 0.8f;
  s.greedy_first = true;
  auto cands = (*three)->ChatBatch({other, other, other}, s);
  ASSERT_TRUE(cands.ok()) << cands.status().message();
  for (const auto& c : *cands) {
    EXPECT_GT(c.cached_tokens, 0);
    EXPECT_LT(c.cached_tokens, c.prompt_tokens);
  }
  auto lone = (*three)->Chat(other, Greedy(12));
  ASSERT_TRUE(lone.ok()) << lone.status().message();
  EXPECT_EQ(lone->cached_tokens, lone->prompt_tokens - 1);
  EXPECT_EQ(lone->text, (*cands)[0].text);
  // A prompt with another start keeps nothing past what it shares.
  auto fresh = gen_->Chat({{"user", "Name a fruit."}}, Greedy(4));
  ASSERT_TRUE(fresh.ok());
  EXPECT_LT(fresh->cached_tokens, 4);
}

// Several conversations at once, then their follow-ups together (a batched
// eval's reading checks, then its answers): each conversation finds its own
// prompt and reply kept, and answers as it would alone.
TEST_F(SmolLM, EverySequenceKeepsItsOwnConversationForTheNextCall) {
  auto path = ResolveModel(kSmallGenerator);
  ASSERT_TRUE(path.ok());
  GeneratorOptions go;
  go.sequences = 2;
  auto two = Generator::Open(*path, go);
  ASSERT_TRUE(two.ok()) << two.status().message();
  std::vector<std::vector<ChatMessage>> convs = {{{"user", "What colour is the sky?"}},
                                                 {{"system", "You are terse."}, {"user", "Name a large animal."}}};
  auto first = (*two)->ChatBatch(convs, Greedy(8));
  ASSERT_TRUE(first.ok()) << first.status().message();
  for (size_t i = 0; i < convs.size(); ++i) {
    convs[i].push_back({"assistant", (*first)[i].text});
    convs[i].push_back({"user", "Say it again in other words."});
  }
  auto next = (*two)->ChatBatch(convs, Greedy(8));
  ASSERT_TRUE(next.ok()) << next.status().message();
  for (size_t i = 0; i < convs.size(); ++i) {
    EXPECT_GE((*next)[i].cached_tokens, (*first)[i].prompt_tokens) << "conversation " << i;
    EXPECT_LT((*next)[i].cached_tokens, (*next)[i].prompt_tokens) << "conversation " << i;
    auto alone = Generator::Open(*path);
    ASSERT_TRUE(alone.ok());
    auto a = (*alone)->Chat(convs[i], Greedy(8));
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(a->cached_tokens, 0);
    EXPECT_EQ(a->text, (*next)[i].text) << "conversation " << i;
  }
  // A call continuing only the second conversation finds it where it was kept.
  convs[1].push_back({"assistant", (*next)[1].text});
  convs[1].push_back({"user", "Thanks."});
  auto last = (*two)->Chat(convs[1], Greedy(8));
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_GE(last->cached_tokens, (*next)[1].prompt_tokens);
}

TEST_F(SmolLM, ChoicesAreWeighedBeforeSampling) {
  ASSERT_NE(gen_, nullptr);
  SamplingOptions s = Greedy(1);
  s.choices = {"Yes", "No"};
  auto g = gen_->Chat({{"user", "Is Paris the capital of France? Answer Yes or No."}}, s);
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_EQ(g->choice_probs.size(), 2u);
  EXPECT_GT(g->choice_probs[0], 0);
  EXPECT_GT(g->choice_probs[1], 0);
  EXPECT_LE(g->choice_probs[0] + g->choice_probs[1], 1.0 + 1e-9);
  // The sampled token is the likelier one when it is a choice.
  if (g->text == "Yes" || g->text == "No") {
    EXPECT_EQ(g->text == "Yes", g->choice_probs[0] > g->choice_probs[1]) << g->text;
  }
  // Without choices, none are weighed.
  auto plain = gen_->Chat({{"user", "Is Paris the capital of France? Answer Yes or No."}}, Greedy(1));
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->choice_probs.empty());
  // A choice must be one token of the vocabulary.
  s.choices = {"Yes", "Absolutely not, never"};
  auto bad = gen_->Chat({{"user", "Is it?"}}, s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Absolutely not, never"), std::string::npos) << bad.status().message();
}

TEST_F(SmolLM, TextFirstKeepsACitationMarkerFromOpeningTheAnswer) {
  // Small generators copy the prompt's "[1][3]" example and stop: an answer of
  // markers only. text_first forbids "[" as the first token, nothing else.
  ASSERT_NE(gen_, nullptr);
  const std::string prompt = "Cited: [1][2]\nCited: [2][3]\nCited: [3][4]\nCited:";
  auto plain = gen_->Complete(prompt, Greedy(8));
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  const size_t p0 = plain->text.find_first_not_of(' ');
  ASSERT_NE(p0, std::string::npos);
  ASSERT_EQ(plain->text[p0], '[') << "the control: greedy continues the markers: " << plain->text;
  SamplingOptions s = Greedy(8);
  s.text_first = true;
  auto first = gen_->Complete(prompt, s);
  ASSERT_TRUE(first.ok()) << first.status().message();
  const size_t f0 = first->text.find_first_not_of(' ');
  ASSERT_NE(f0, std::string::npos) << "'" << first->text << "'";
  EXPECT_NE(first->text[f0], '[') << first->text;
}

TEST_F(SmolLM, MaxTokensStopsWithLength) {
  ASSERT_NE(gen_, nullptr);
  auto g = gen_->Chat({{"user", "Write a long story about a dragon."}}, Greedy(5));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->completion_tokens, 5);
  EXPECT_EQ(g->finish_reason, "length");
}

TEST_F(SmolLM, CallbackCanStopEarly) {
  ASSERT_NE(gen_, nullptr);
  int calls = 0;
  auto g = gen_->Chat({{"user", "Count from one to twenty."}}, Greedy(64), [&](std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(calls, 3);
}

// OpenAI's "stop": the reply ends before the first stop sequence, even one
// spread over several tokens; the stream never shows any of it; text held
// back for a stop sequence that does not come is released at the end.
TEST_F(SmolLM, StopSequencesEndTheReplyBeforeThem) {
  ASSERT_NE(gen_, nullptr);
  const std::vector<ChatMessage> chat = {{"user", "Describe the sea in three sentences."}};
  auto full = gen_->Chat(chat, Greedy(40));
  ASSERT_TRUE(full.ok());
  const std::string& text = full->text;
  const size_t at = text.find(' ', text.size() / 2);
  ASSERT_NE(at, std::string::npos) << text;
  const std::string stop = text.substr(at, std::min<size_t>(7, text.size() - at));  // a space and what follows: several tokens
  SamplingOptions s = Greedy(40);
  s.stop = {"no such text", stop};
  std::string streamed;
  auto cut = gen_->Chat(chat, s, [&](std::string_view p) { return streamed += p, true; });
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->text, text.substr(0, text.find(stop))) << "stop '" << stop << "' in: " << text;
  EXPECT_EQ(streamed, cut->text);
  EXPECT_EQ(cut->finish_reason, "stop");

  // The reply's last characters begin this stop sequence, which never comes: held, then released.
  s.stop = {text.substr(text.size() - 2) + "\x01"};
  streamed.clear();
  auto whole = gen_->Chat(chat, s, [&](std::string_view p) { return streamed += p, true; });
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->text, text);
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(whole->finish_reason, full->finish_reason);

  s.stop = {""};
  EXPECT_FALSE(gen_->Chat(chat, s).ok());
}

TEST_F(SmolLM, SeedMakesSamplingReproducible) {
  ASSERT_NE(gen_, nullptr);
  SamplingOptions s = Greedy(24);
  s.temperature = 0.9f;
  s.seed = 1234;
  auto a = gen_->Chat({{"user", "Tell me about the sea."}}, s);
  auto b = gen_->Chat({{"user", "Tell me about the sea."}}, s);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->text, b->text);
}

// The repeat penalty works on what the model generated: SmolLM2 continues
// this prompt greedily into a sentence it then repeats word for word; a
// strong penalty makes it say new words instead, and a penalty of 1 leaves
// the greedy text as it was.
TEST_F(SmolLM, RepeatPenaltyBreaksARepetitionLoop) {
  ASSERT_NE(gen_, nullptr);
  const std::string prompt = "apple apple apple apple apple apple apple apple";
  auto distinct_share = [](const std::string& text) {  // distinct words / words
    std::istringstream in(text);
    std::set<std::string> seen;
    int words = 0;
    for (std::string w; in >> w; ++words) seen.insert(w);
    return words == 0 ? 1.0 : static_cast<double>(seen.size()) / words;
  };
  SamplingOptions plain = Greedy(96);
  SamplingOptions one = plain;
  one.repeat_penalty = 1.0f;
  SamplingOptions strong = plain;
  strong.repeat_penalty = 2.0f;
  auto a = gen_->Complete(prompt, plain);
  auto b = gen_->Complete(prompt, one);
  auto c = gen_->Complete(prompt, strong);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->text, b->text);
  EXPECT_LT(distinct_share(a->text), 0.6) << a->text;
  EXPECT_GT(distinct_share(c->text), distinct_share(a->text) + 0.2) << c->text;
}

TEST_F(SmolLM, PromptLongerThanContextIsAClearError) {
  ASSERT_NE(gen_, nullptr);
  std::string huge;
  for (int i = 0; i < gen_->context_size() + 100; ++i) huge += " word";
  auto g = gen_->Complete(huge, Greedy());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(g.status().message().find("context"), std::string::npos);
}

// SmolLM2's byte-level tokenizer spells most Chinese characters in several
// tokens, so some limit below cuts one in half: neither the text nor any
// streamed piece may end in (or hold) a broken sequence.
TEST_F(SmolLM, ATokenLimitNeverLeavesABrokenCharacter) {
  ASSERT_NE(gen_, nullptr);
  bool cut_inside = false;
  std::string previous;
  for (int n = 1; n <= 12; ++n) {
    std::string streamed;
    bool pieces_valid = true;
    auto g = gen_->Chat({{"user", "请用中文写一句关于月亮的话。"}}, Greedy(n), [&](std::string_view p) {
      pieces_valid = pieces_valid && text::FindInvalidUtf8(p) == std::string_view::npos;
      streamed += p;
      return true;
    });
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_TRUE(pieces_valid) << "max_tokens " << n;
    EXPECT_EQ(text::FindInvalidUtf8(g->text), std::string::npos) << "max_tokens " << n;
    EXPECT_EQ(streamed, g->text);
    // One more token and no more text: that token began a character the limit cut off.
    cut_inside = cut_inside || (n > 1 && g->finish_reason == "length" && g->text == previous);
    previous = g->text;
  }
  EXPECT_TRUE(cut_inside) << "no limit fell inside a character: the test proves nothing";
}

TEST(GenerateCli, JsonOfATruncatedChineseAnswerIsValid) {
  for (int n : {1, 2, 3, 5, 7}) {
    auto r = test::RunCmd(test::Quarry() + " generate -m " + kSmallGenerator + " --json --max-tokens " + std::to_string(n) +
                          " '请用中文写一句关于月亮的话。'");
    ASSERT_EQ(r.exit_code, 0) << "max_tokens " << n << ": " << r.err;
    EXPECT_EQ(text::FindInvalidUtf8(r.out), std::string::npos);
    EXPECT_FALSE(nlohmann::json::parse(r.out, nullptr, false).is_discarded()) << r.out;
  }
}

TEST(GenerateCli, JsonReportsTokensAndTimings) {
  auto r = test::RunCmd(test::Quarry() + " generate --json --temperature 0 --max-tokens 32 'What is the capital of France?'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["text"].get<std::string>().find("Paris"), std::string::npos) << j.dump();
  EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_GT(j["timings"]["time_to_first_token_ms"].get<double>(), 0);
  EXPECT_TRUE(j["timings"].contains("tokens_per_s"));
}

TEST(GenerateCli, StreamsPlainText) {
  auto r = test::RunCmd(test::Quarry() + " generate --temperature 0 --max-tokens 32 'What is the capital of France?'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Paris"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace quarry
