// Evaluation on public datasets and a user's own: `quarry eval retrieval |
// qa | summarize | translate` are thin front ends over these functions.
//
// Retrieval: ingest a BEIR corpus into a knowledge base, run the split's
// queries in each mode, score documents (a document ranks by its best chunk)
// with nDCG@10, Recall@100 and MRR@10.
//
// Grounded tasks: each in several modes side by side (closed-book vs RAG vs
// RAG with candidates; a lead baseline vs summaries; zero-shot vs translation
// memory), with paired bootstrap intervals for the differences.
//
// Threads: the functions here use the knowledge base and generator they are
// given and nothing shared; run one evaluation per KnowledgeBase/Generator.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "quarry/rag.h"

namespace quarry::eval {

struct Passage {
  std::string title, text;
};

struct QaExample {
  std::string id, question;
  std::vector<std::string> answers;  // any one is right; empty when unanswerable
  bool unanswerable = false;         // SQuAD v2 is_impossible: only a refusal is right
  std::vector<Passage> passages;     // the dataset's own retrieval pool for this question
};

struct QaDataset {
  std::string name;
  bool per_question_pool = false;  // RGB: each question retrieves from its own passages (noise included)
  bool has_unanswerable = false;   // then the "I don't know" gate stays on and refusals are scored
  std::vector<QaExample> examples;
};

// nq-open-oracle (.jsonl or .jsonl.gz: question, answers, ctxs), RGB (.json
// lines: query, answer, positive, negative), SQuAD v1/v2 and CMRC 2018 (.json:
// data, paragraphs, qas; v2's is_impossible questions are kept as
// unanswerable), or a user's own JSON lines {question, answers, contexts?}
// (answers: a string or a list; contexts: strings or {title, text}). A
// directory holding exactly one such file works too.
//
// noise_only (RGB only): RGB's negative rejection test. Each question gets
// only its negative (noise) passages and is unanswerable: a refusal is the
// right answer. Other formats fail with InvalidArgument.
Result<QaDataset> ReadQaDataset(const std::string& path, size_t limit, bool noise_only = false);

struct SummaryExample {
  std::string id, text;
  std::vector<std::string> references;  // one or more; scored against the best (rouge-score's max)
};
// DialogSum/SAMSum (.jsonl: dialogue and summary, or summary1..summaryN as
// DialogSum's test split has) or LCSTS (a directory or file pair
// test.src.txt / test.tgt.txt, one example per line). A record without a
// text or a reference is an error naming the file, line and fields, never a
// silent zero.
Result<std::vector<SummaryExample>> ReadSummaryDataset(const std::string& path, size_t limit, std::string* name);

// Whether an answer declines: the gate's "I don't know", or the model saying
// it does not know or that the sources do not say (English and Chinese).
bool IsRefusal(std::string_view answer);

// Lines of a text file, at most limit (0: all).
Result<std::vector<std::string>> ReadLines(const std::string& path, size_t limit);

using EvalProgress = std::function<void(const std::string& mode, size_t done, size_t total)>;

// A metric over any sample of the examples (indices may repeat): what the
// bootstrap recomputes.
using SampleMetric = std::function<double(const std::vector<size_t>& sample)>;
// The mean over the sample of per-example values.
SampleMetric MeanOf(std::vector<double> per_example);

struct TaskModeResult {
  std::string mode;
  std::map<std::string, double> metrics;
  std::map<std::string, SampleMetric> resample;  // the metrics that can be resampled
  size_t examples = 0;
  double seconds = 0;
  // Non-empty when this mode's answers reused the greedy first candidate of
  // that mode ("rag" of "rag+candidates"): its seconds exclude the decoding.
  std::string reused;
  std::vector<std::string> predictions;
  // Grounded QA modes, per example: what the model wrote before its citations
  // were checked, the passages it was given, the ones the answer cites and the
  // ones the data says hold a gold answer (how citation precision is judged).
  struct Grounding {
    std::string generated;
    std::vector<Source> sources;
    std::vector<int> cited, gold;
  };
  std::vector<Grounding> grounding;
};

// A difference between two modes' scores on the same examples, with its
// paired bootstrap 95% interval (Koehn 2004; sacreBLEU's paired-bs): the
// examples are resampled with replacement, the same sample for both modes.
struct ModeDifference {
  std::string mode, baseline, metric;
  double difference = 0, low = 0, high = 0;
  size_t examples = 0;
  bool significant() const { return low > 0 || high < 0; }
};
// Each mode against the first (the baseline), each "X+candidates" row
// against X, and each selector's row "X+candidates:S" against X (one greedy
// answer) when X ran, else against X+candidates.
std::vector<ModeDifference> CompareModes(const std::vector<TaskModeResult>& results, int iterations = 1000,
                                         uint32_t seed = 12345);

// Decoding several examples together (eval/batching.h): the generator was
// opened with room for `examples` prompts as parallel sequences; each
// example's pipeline sees `context` tokens and `sequences` sequences, what it
// would have alone. examples 1: one example at a time.
struct EvalBatch {
  int examples = 1;
  int context = 0;
  int sequences = 1;
  // A mode "X" that runs with "X+candidates" takes its greedy answers from
  // candidate 1 of the same prompts (decoded once, up to batched kernels'
  // rounding) instead of decoding them again. false: every mode decodes on
  // its own (to time each mode alone).
  bool share_greedy = true;
};

struct QaEvalOptions {
  std::vector<std::string> modes = {"closed-book", "rag", "rag+candidates"};
  AskOptions ask;   // k, selector, sampling; candidates applies to rag+candidates only
  int candidates = 4;
  EvalBatch batch;
};

// The dataset's passages are added to kb first (a no-op when already there).
Result<std::vector<TaskModeResult>> EvaluateQa(KnowledgeBase& kb, Generator& gen, const QaDataset& data,
                                               const QaEvalOptions& options, const EvalProgress& progress = nullptr);

struct SummarizeEvalOptions {
  std::vector<std::string> modes = {"lead", "summary", "summary+candidates"};
  SummarizeOptions summarize;
  int candidates = 4;
  EvalBatch batch;
};
// kb (may be null) supplies embeddings for the support selector.
Result<std::vector<TaskModeResult>> EvaluateSummaries(Generator& gen, KnowledgeBase* kb, const std::vector<SummaryExample>& data,
                                                      const SummarizeEvalOptions& options, const EvalProgress& progress = nullptr);

struct TranslateEvalOptions {
  std::vector<std::string> modes = {"zero-shot", "tm", "tm+candidates"};
  TranslateOptions translate;  // target language; tm is set for the tm modes
  int candidates = 4;
  EvalBatch batch;
};
// references[i] holds one or more references for sources[i] (sacreBLEU's
// multi-reference BLEU and chrF).
Result<std::vector<TaskModeResult>> EvaluateTranslation(Generator& gen, KnowledgeBase* tm, const std::vector<std::string>& sources,
                                                        const std::vector<std::vector<std::string>>& references,
                                                        const TranslateEvalOptions& options, const EvalProgress& progress = nullptr);


// ---------------------------------------------------------------------------
// Retrieval

struct RetrievalEvalOptions {
  std::string beir_dir;
  std::string split = "test";
  std::vector<SearchOptions::Mode> modes = {SearchOptions::Mode::kBm25, SearchOptions::Mode::kDense,
                                            SearchOptions::Mode::kHybrid};
  SearchOptions search;       // fusion settings etc.; k and candidates are set per run
  size_t limit_queries = 0;   // 0: all
  AddOptions add;             // how the corpus is ingested
};

struct ModeResult {
  std::string mode;
  double ndcg_at_10 = 0, recall_at_100 = 0, mrr_at_10 = 0;
  size_t queries = 0;
  double seconds = 0;  // searching only
};

struct RetrievalEvalReport {
  std::string dataset, split;
  size_t queries = 0;
  AddReport ingest;
  std::vector<ModeResult> modes;
};

const char* ModeName(SearchOptions::Mode m);

Result<RetrievalEvalReport> EvaluateRetrieval(KnowledgeBase& kb, const RetrievalEvalOptions& options,
                                              const AddProgressFn& ingest_progress = nullptr,
                                              const std::function<void(const std::string& mode, size_t done, size_t total)>& query_progress = nullptr);


// A directory under CacheDir()/eval for a knowledge base built from one
// evaluation input (a dataset file or folder), reused across runs. key holds
// whatever else shapes its contents (chunking, stemmer, embedder).
std::string CachedKnowledgeBaseDir(const std::string& kind, const std::string& input, const std::string& key);

}  // namespace quarry::eval
