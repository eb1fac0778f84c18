// Grounded generation over a knowledge base: question answering with
// citations, summaries and retrieval-augmented translation.
//
// Each task follows the same loop: retrieve evidence, pack it into the
// model's window as numbered, quoted sources, let the generator G propose N
// candidates C = G(z; theta), score each with a retrieval model
// S(C) = R(C; phi), and return C* = argmax S(C).
//
// Threads: these functions keep no state of their own; they use the
// KnowledgeBase, Generator and Reranker they are given, which must not be in
// use by another thread during the call (see knowledge_base.h, model.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "quarry/status.h"

namespace quarry {

// One numbered passage the model was given.
struct Source {
  int n = 0;           // citation number, 1-based, in the order given to the model
  SearchHit hit;       // where it came from (chunk, document, retrieval scores)
  std::string text;    // what the model saw: the chunk, possibly cut at a sentence end
  int tokens = 0;      // exact generator tokens of the formatted source block
  bool trimmed = false;
  std::optional<double> relevance;  // question-passage cosine (Ask, on a base with embeddings)
};

struct Candidate {
  std::string text;
  double score = 0;                       // the selector's combined score
  std::map<std::string, double> scores;   // each selector's own score, in [0, 1]
  int source = 0;                         // per-source strategy: the source it was made from
  Generation generation;
};

// How candidates are scored: selector name -> weight. Names: "support"
// (embedding similarity of each candidate sentence to the evidence),
// "likelihood" (the generator's mean token probability), "agreement" (mean
// token F1 with the other candidates: minimum Bayes risk), "rerank" (a
// cross-encoder, when one is configured).
using SelectorWeights = std::map<std::string, double>;
// "support", "likelihood", "agreement", "rerank" or "support=0.5,agreement=0.5".
Result<SelectorWeights> ParseSelector(const std::string& spec);

struct GenerateOptions {
  // Grounded tasks decode greedily with a light repetition penalty (what
  // docs/benchmarks.md measures): small models otherwise loop on a passage.
  GenerateOptions() { sampling.repeat_penalty = 1.1f; }
  SamplingOptions sampling;       // max_tokens, temperature, seed, ...
  int candidates = 1;             // N
  // With N > 1, candidate 0 decodes with `sampling` (greedy at temperature 0)
  // and the others sample at max(sampling.temperature, candidate_temperature).
  float candidate_temperature = 0.7f;
  SelectorWeights select = {{"support", 1.0}};
  Reranker* reranker = nullptr;   // needed by the "rerank" selector

  // sampling valid, candidates in [1, 64], candidate_temperature in [0, 5],
  // selector weights >= 0 with a positive sum.
  Status Validate() const;
};

struct AskOptions {
  SearchOptions search;           // k passages retrieved (default 8)
  GenerateOptions generate;
  enum class Strategy {
    kJoint,      // every candidate sees all sources
    kPerSource,  // candidate i sees only source i; its score is weighed by that source's retrieval score
  };
  Strategy strategy = Strategy::kJoint;
  // Below this cosine similarity between the question and its best passage
  // nothing counts as relevant and the answer says so instead of guessing.
  // Only applies when the base has embeddings.
  // Unset: the embedding model's own threshold (Embedder::min_relevance).
  std::optional<double> min_relevance;
  // The relevance cut (Ask only): of the packed passages, keep those whose
  // relevance above the embedding model's own threshold (whatever
  // min_relevance says) is at least this share of the best passage's, so a
  // question the base answers in one place is not given four unrelated
  // passages to misread. A passage within a tenth of (1 - that threshold) of
  // the best always stays, and nothing is cut when the best is under it.
  // 0: keep all. Only applies when the base has embeddings, to the joint
  // strategy, and without a cross-encoder (whose order stands). Measured in
  // docs/benchmarks.md ("The relevance cut, end to end"). A question of
  // several parts, each ending with a question mark, is searched part by
  // part (the parts' hits taken in turn, up to search.k) and each part is cut
  // against its own best passage.
  double relevance_cut = 0.3;
  // The reading check (Ask only): before answering, the generator is asked
  // whether the packed sources state the answer (a one-token Yes/No turn over
  // the answer's own prompt, so in-process it costs a few tokens: the sources
  // are evaluated once for both). Below this probability of "Yes" against
  // "No" the answer is "I don't know" instead of a guess from passages that
  // only look relevant. 0: off. A remote generator is weighed through its
  // server's top_logprobs; where the server returns none the check passes.
  double min_answerable = 0;
  int context_tokens = 0;         // budget for sources; 0: whatever the window leaves
  // With --candidates, likelihood: over the four QA sets measured (NQ-open,
  // RGB en and zh, CMRC 2018; 100 questions each, 256 tokens) it had the
  // highest mean share of answers containing the gold answer, 1.2 points
  // above one greedy answer; it is one question below greedy on RGB en. No
  // selector differed significantly from greedy on any set (docs/benchmarks.md).
  AskOptions() {
    search.k = 8;
    generate.select = {{"likelihood", 1.0}};
  }

  // search and generate valid, search.k <= 100, min_relevance in [-1, 1],
  // relevance_cut and min_answerable in [0, 1], context_tokens >= 0.
  Status Validate() const;
};

struct Answer {
  std::string text;                  // C*, the selected candidate
  bool grounded = false;             // false: nothing relevant was found and text says "I don't know"
  std::vector<Source> sources;       // numbered as in the prompt
  std::vector<int> cited;            // source numbers the text cites as [n]
  std::vector<Candidate> candidates; // all N, in generation order
  int selected = 0;                  // index into candidates
  double best_relevance = 0;         // question-passage cosine of the best source
  std::optional<double> answerable;  // the reading check's p("Yes"), when it ran
  double retrieve_ms = 0, check_ms = 0, generate_ms = 0, select_ms = 0, time_to_first_token_ms = 0;
  int prompt_tokens = 0, completion_tokens = 0;
};

// Streams the answer through on_piece when it is generated as one candidate
// (with several, nothing is final until the selector has chosen).
Result<Answer> Ask(KnowledgeBase& kb, Generator& gen, const std::string& question, const AskOptions& options,
                   const TokenCallback& on_piece = nullptr);

// Closed-book: the same generator and candidate loop without retrieval (for
// evaluation). With no evidence, candidates are chosen by likelihood.
Result<Answer> AskClosedBook(Generator& gen, const std::string& question, const GenerateOptions& options,
                             KnowledgeBase* kb_for_embeddings = nullptr, const TokenCallback& on_piece = nullptr);

struct SummarizeOptions {
  // With --candidates, support and agreement together: on 100 DialogSum
  // dialogues they picked the best summaries of the four selectors (ROUGE-L
  // +1.0 over one greedy summary, support alone -0.1; docs/benchmarks.md).
  SummarizeOptions() { generate.select = {{"support", 0.5}, {"agreement", 0.5}}; }
  GenerateOptions generate;
  int context_tokens = 0;  // window share for the text; 0: whatever the window leaves
  std::string language;    // summary language ("" = the text's own, when it can be told)
};

// Summary of one text. When it does not fit the window it is summarised in
// parts (map) and the part summaries are summarised together (reduce).
// kb supplies embeddings for the "support" selector (may be null).
Result<Answer> SummarizeText(Generator& gen, const std::string& text, const SummarizeOptions& options,
                             KnowledgeBase* kb = nullptr, const TokenCallback& on_piece = nullptr);

// Query-focused summary over the collection: what the sources say about query, cited.
Result<Answer> SummarizeQuery(KnowledgeBase& kb, Generator& gen, const std::string& query, const AskOptions& options,
                              const TokenCallback& on_piece = nullptr);

// ---------------------------------------------------------------------------
// Translation memories: pairs of segments kept as a small knowledge base whose
// documents are source segments with the target in their metadata.

struct TranslationPair {
  std::string source, target;
};

struct TmImportReport {
  int pairs = 0, skipped = 0;
  std::string source_lang, target_lang;
  AddReport add;
};

// Reads pairs from .tmx (TMX 1.4 <tu>/<tuv xml:lang>/<seg>) or .tsv
// ("source<TAB>target" per line). For TMX, source_lang/target_lang choose the
// languages (default: the header's srclang and the other one).
Result<std::vector<TranslationPair>> ReadTranslationPairs(const std::string& path, std::string* source_lang,
                                                          std::string* target_lang, int* skipped);

// Stores pairs in the translation memory at tm_dir (created when missing).
Result<TmImportReport> ImportTranslationMemory(const std::string& tm_dir, const std::vector<TranslationPair>& pairs,
                                               const std::string& source_lang, const std::string& target_lang,
                                               const KnowledgeBaseOptions& kb_options, const AddProgressFn& progress = nullptr);

struct TranslateOptions {
  // With --candidates, likelihood: on 100 FLORES sentences into French and
  // into Chinese it was the best selector (chrF +0.1 and +0.5 over one greedy
  // translation; support -1.0 and -0.9; docs/benchmarks.md). Sampled
  // candidates rarely beat the greedy one; one candidate is the default.
  TranslateOptions() { generate.select = {{"likelihood", 1.0}}; }
  std::string target_lang;      // "French", "fr", "zho_Hans": named to the model as given
  std::string source_lang;      // optional
  GenerateOptions generate;
  KnowledgeBase* tm = nullptr;  // translation memory; its nearest pairs become examples
  int examples = 4;
};

// One segment. "support" scores candidates by their similarity to the source
// text under the memory's embedder (cross-lingual: meaningful with a
// multilingual embedder such as the default); without a memory, by
// likelihood. Answer::sources are the memory pairs used, with the target in
// Source::text.
Result<Answer> Translate(Generator& gen, const std::string& text, const TranslateOptions& options,
                         const TokenCallback& on_piece = nullptr);

}  // namespace quarry
