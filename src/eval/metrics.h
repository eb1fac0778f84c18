// Retrieval metrics over ranked document ids and graded judgments (BEIR's
// conventions: pytrec_eval's nDCG with linear gain, recall and MRR at a cutoff).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace quarry::eval {

using Qrels = std::map<std::string, int>;  // doc id -> relevance (> 0 relevant)

double NdcgAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k);
double RecallAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k);
double MrrAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k);

// ---------------------------------------------------------------------------
// Text metrics. Tokens are lower-cased words; each CJK character is a token of
// its own, so Chinese is scored by character as CMRC and LCSTS evaluations do.

std::vector<std::string> TextTokens(std::string_view text);

// SQuAD-style: best over the gold answers, after normalisation (case,
// punctuation, English articles).
double ExactMatch(std::string_view prediction, const std::vector<std::string>& golds);
double TokenF1(std::string_view prediction, const std::vector<std::string>& golds);
// A gold answer's tokens appear contiguously in the prediction.
bool AnswerContains(std::string_view prediction, const std::vector<std::string>& golds);

// ROUGE-L F1 (longest common subsequence of tokens).
double RougeL(std::string_view prediction, std::string_view reference);
// Several references: the best F-measure over them (rouge-score's score_multi).
double RougeL(std::string_view prediction, const std::vector<std::string>& references);

// Corpus chrF (character 6-grams, beta 2, whitespace ignored) and corpus BLEU
// (4-grams, brevity penalty, exponential smoothing; punctuation split off and
// CJK characters as tokens), both on a 0-100 scale as sacreBLEU reports them.
double CorpusChrF(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
double CorpusBleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// Several references per hypothesis (references[k] holds hypothesis k's), as
// sacreBLEU scores them: BLEU clips each n-gram by its largest count in any one
// reference and takes the reference length closest to the hypothesis's (ties:
// the shorter); chrF takes each hypothesis's statistics against the reference
// it scores best with.
double CorpusChrF(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references);
double CorpusBleu(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references);
// The corpus scores are sums of per-sentence statistics: these give one
// sentence's, and the score of summed ones (for resampling: the bootstrap).
std::vector<double> BleuSentenceStats(std::string_view hypothesis, const std::vector<std::string>& references);
double BleuFromStats(const std::vector<double>& summed);
std::vector<double> ChrFSentenceStats(std::string_view hypothesis, const std::vector<std::string>& references);
double ChrFFromStats(const std::vector<double>& summed);

}  // namespace quarry::eval
