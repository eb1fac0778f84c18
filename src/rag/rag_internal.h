// Parts shared by the grounded tasks (ask, summarize, translate): prompt
// text, context packing, candidate generation and selection.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/rag.h"

namespace quarry::rag {

// Sentences of text, trimmed, without empty ones. Ends: . ! ? followed by
// space or the end, CJK 。！？, and line breaks.
std::vector<std::string> SplitSentences(std::string_view text);
// Byte offsets just past each sentence end in text (the last is text.size()).
std::vector<size_t> SentenceEnds(std::string_view text);

// Retrieved text is data: each source is a "[n] title" header and its text.
// Lines that would read as a header or as the prompt's own labels
// ("Question:") are neutralised, and the text ends at the first chat-template
// control string ("<|im_start|>", "[INST]"), so a document cannot end its
// block or speak as the user or the system. (The generator also breaks every
// control string of its own vocabulary in any message; see FormatChat.)
std::string QuoteData(std::string_view text);
std::string SourceBlock(int n, const std::string& title, std::string_view text);

// Best-first, duplicate-free sources whose blocks fit budget tokens; the
// first source that does not fit whole is cut at its last fitting sentence
// end, and packing stops there.
std::vector<Source> PackSources(const std::vector<SearchHit>& hits, int budget_tokens,
                                const std::function<int(std::string_view)>& count_tokens);

// The questions a question asks, each ending with a question mark
// ("明长城全长多少公里？泡龙井茶用多少度的水？"): each is searched on its own.
// A part too short to search alone ("Really?") joins the next; text after
// the last mark joins the last part. One question: itself.
std::vector<std::string> QuestionParts(std::string_view question);

// [n] and [n, m] citations in text, ascending, limited to 1..max_n.
std::vector<int> CitedNumbers(std::string_view text, int max_n);
// text with its citations removed (they mean nothing to an embedder or reranker).
std::string WithoutCitations(std::string_view text);

// Inline citations an answer can be trusted to carry. The answer is read
// sentence by sentence (a sentence keeps the "[n]" markers that follow it),
// judged by what it says beyond the question: its terms (BM25 analysis, so
// CJK works) less the question's. A marker naming no source is removed, and
// so is one whose passage holds less than half as much of what the sentence
// says as the best passage does (a passage retrieved for the question's words
// alone); markers on a sentence that says nothing any passage holds ("This
// is stated in [1], [2] and [3].") are judged by the sentence before it. A
// sentence left without a marker gets the passage that holds at least half of
// what it says, as " [n]" before its closing punctuation. A sentence after
// the first that only says where the answer comes from ("This is based on
// the information provided in sources [2].") is left out, all but its markers
// the sentence before lacks; a "Sources:" line after the first sentence ends
// the answer (what follows is a list the model copied from its prompt).
// Sentences nothing supports stay uncited. Deterministic; used for every
// grounded answer.
class CitationAttributor {
 public:
  explicit CitationAttributor(const std::vector<Source>& sources, std::string_view question = {});
  ~CitationAttributor();
  // The whole answer, attributed.
  std::string Attribute(std::string_view answer) const;
  // Streaming: feed pieces as they come; returns the text that is final now:
  // whole sentences, attributed, and of the sentence still being written the
  // part attribution cannot change (up to its first marker or closing
  // punctuation). Finish() returns the rest. The pieces returned, joined,
  // equal Attribute(whole answer).
  std::string Feed(std::string_view piece);
  std::string Finish();

 private:
  // previous: the last sentence with text before it, as attributed (markers
  // on a sentence that says nothing checkable are judged by it); first: there
  // is none.
  std::string AttributeSentence(std::string_view sentence, std::string_view previous, bool first) const;
  // Whether the sentence is a "Sources:" heading that ends the answer.
  bool EndsTheAnswer(std::string_view sentence, bool first) const;
  // The next sentence attributed, and remembered in *previous as the one
  // before the sentence after it; nullopt where it ends the answer.
  std::optional<std::string> Next(std::string_view sentence, std::string* previous) const;
  // The markers checked and the missing one added (AttributeSentence less the
  // sentences that go). in_text: a marker the sentence reads as a word
  // ("According to [4], ...") that fails names the passage holding the
  // sentence instead of going.
  std::string AttributeMarkers(std::string_view sentence, std::string_view previous, bool in_text) const;
  struct Terms;
  std::unique_ptr<Terms> terms_;
  int max_n_ = 0;
  std::string pending_;   // text not yet attributed, from the start of a sentence
  size_t released_ = 0;   // bytes of pending_ already returned (its stable prefix)
  std::string previous_;  // the last sentence with text, as attributed while streaming
  bool ended_ = false;    // a "Sources:" heading came: the rest is dropped
};

// The end of each sentence of an answer, extended over the citation markers
// (and spaces before them) that follow it; the last is text.size().
std::vector<size_t> CitedSentenceEnds(std::string_view text);

// Messages for a question over sources (ask) or for a summary of what sources
// say about a query.
std::vector<ChatMessage> AskMessages(const std::string& question, const std::vector<Source>& sources);
// The reading check: AskMessages' prompt with a Yes/No question after the
// question, so the two share every token up to it.
std::vector<ChatMessage> CheckMessages(const std::string& question, const std::vector<Source>& sources);
std::vector<ChatMessage> QuerySummaryMessages(const std::string& query, const std::vector<Source>& sources);

// Tokens of the messages' fixed part: the template around them.
int PromptTokens(const Generator& gen, const std::vector<ChatMessage>& messages);

struct Evidence {
  std::vector<std::string> texts;  // what candidates are checked against
  std::string query;               // for the reranker
};

// What a summary's candidates are checked against: the text, a few sentences
// a piece.
Evidence SummaryEvidence(const std::string& text);
// What a translation's candidates are checked against: the source text's
// sentences (support is then cross-lingual similarity, which needs a
// multilingual embedder such as the default; the memory's pairs are other
// sentences and say nothing about this one's meaning).
Evidence TranslationEvidence(const std::string& text);

// Runs the candidate loop: conversations[i] makes candidate i (one
// conversation with candidates > 1 makes them all). Scores each candidate,
// weighs it by weights[i] when given, and fills answer->text, candidates,
// selected, timings and usage. embed supplies vectors for "support".
Status GenerateAndSelect(Generator& gen, const std::vector<std::vector<ChatMessage>>& conversations,
                         const GenerateOptions& options, const Evidence& evidence, const std::vector<double>& weights,
                         KnowledgeBase* embed, const TokenCallback& on_piece, Answer* answer);

// Scores candidate texts with each selector in weights; fills scores and score.
Status ScoreCandidates(const SelectorWeights& weights, const Evidence& evidence, KnowledgeBase* embed,
                       Reranker* reranker, std::vector<Candidate>* candidates);

}  // namespace quarry::rag
