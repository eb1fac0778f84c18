#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>

#include "cli.h"

namespace quarry::cli {
std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::string FlagFor(const std::string& option) {
  static const std::map<std::string, std::string> flags = {
      {"dir", "`quarry add PATH` creates one, --db names another"},
      {"embed_model", "--embed-model"},
      {"stemmer", "--stemmer"},
      {"mode", "--mode"},
      {"max_file_bytes", "--max-file-size"},
      {"max_record_bytes", "--max-record-size"},
      {"max_html_depth", "--max-html-depth"},
      {"max_html_nodes", "--max-html-nodes"},
      {"max_zip_ratio", "--max-zip-ratio"},
      {"max_chunks", "--max-chunks"},
      {"text_column", "--text-column"},
      {"max_tokens", "--max-tokens, --candidates, --ctx"},
      {"reranker", "--rerank-model"},
      {"rerank_depth", "--rerank-depth"},
      {"rerank_model", "--rerank-model"},
      {"max_rerank_depth", "--max-rerank-depth"},
      {"target_lang", "--to"},
      {"tm", "--tm"},
      {"pooling", "--pooling"},
      {"type", "--type"},
      {"port", "--port"},
      {"api_keys", "--api-keys-file or $QUARRY_API_KEY"},
      {"generators", "--generators"},
      {"max_queued", "--queue"},
      {"searchers", "--searchers"},
      {"http_threads", "--http-threads"},
      {"max_body_bytes", "--max-body-size"},
      {"generation_timeout_s", "--timeout"},
      {"threads", "--threads"},
      {"bm25_k1", "--k1"},
      {"bm25_b", "--b"},
      {"chunk_tokens", "--chunk-tokens"},
      {"overlap_tokens", "--overlap"},
      {"metadata", "--meta"},
      {"k", "-k"},
      {"candidates", "--candidates"},
      {"rrf_k", "--rrf-k"},
      {"dense_weight", "--dense-weight"},
      {"mmr_lambda", "--mmr-lambda"},
      {"temperature", "--temperature"},
      {"candidate_temperature", "--candidate-temperature"},
      {"top_p", "--top-p"},
      {"top_k", "--top-k"},
      {"repeat_penalty", "--repeat-penalty"},
      {"select", "--select"},
      {"min_relevance", "--min-relevance"},
      {"min_answerable", "--min-answerable"},
      {"relevance_cut", "--relevance-cut"},
      {"context_tokens", "--context-tokens"},
      {"examples", "--examples"},
      {"stop", "--stop"},
  };
  auto it = flags.find(option);
  return it == flags.end() ? "" : it->second;
}

std::string WithHint(const std::string& message, const std::string& option) {
  const std::string flag = FlagFor(option);
  return flag.empty() ? message : message + " [" + flag + "]";
}

namespace {
// CLI11 2.1 reads integers with strtoull/strtoll in base 0: "-1" given to an
// unsigned option wraps to 2^64 - 1, and "010" is octal 8. Integers on
// Quarry's command line are decimal, and unsigned ones take no sign.
void DecimalIntegers(CLI::App* app) {
  for (CLI::Option* o : app->get_options()) {
    const std::string type = o->get_type_name();
    const bool is_unsigned = type.rfind("UINT", 0) == 0;
    if (!is_unsigned && type.rfind("INT", 0) != 0) continue;
    o->transform(CLI::Validator(
        [is_unsigned](std::string& s) -> std::string {
          const size_t digits = !is_unsigned && !s.empty() && s[0] == '-' ? 1 : 0;
          if (digits == s.size() || s.find_first_not_of("0123456789", digits) != std::string::npos) {
            return (is_unsigned ? "expected a whole number, 0 or more, not '" : "expected a whole number, not '") + s + "'";
          }
          const size_t first = std::min(s.find_first_not_of('0', digits), s.size() - 1);
          s.erase(digits, first - digits);  // leading zeros: not octal
          return "";
        },
        ""));
  }
  for (CLI::App* sub : app->get_subcommands({})) DecimalIntegers(sub);
}
}  // namespace
}  // namespace quarry::cli

int main(int argc, char** argv) {
  using namespace quarry::cli;
  // Buffers of 1 MiB and more (a file's bytes, its text, index arrays) are
  // their own mappings, returned to the system when freed. glibc's default
  // raises that threshold to the largest block freed so far, after which big
  // buffers come from the heap and their freed pages stay in RSS: a 7.6 MB
  // HTML page peaked at 4.6x its size, 3.7x with this.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  CLI::App app{
      "Quarry: a private, offline retrieval-augmented generation engine.\n"
      "Models live in $QUARRY_MODELS_DIR (default ~/.cache/quarry/models)."};
  app.name("quarry");
  app.set_version_flag("--version", std::string("quarry 0.1.0"));
  app.require_subcommand(1);
  app.fallthrough(false);
  Registry reg;
  RegisterModel(app, reg);
  RegisterEmbed(app, reg);
  RegisterGenerate(app, reg);
  RegisterKnowledgeBase(app, reg);
  RegisterSearch(app, reg);
  RegisterAsk(app, reg);
  RegisterEval(app, reg);
  RegisterServe(app, reg);
  DecimalIntegers(&app);
  std::string names;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::cerr << "quarry: error: unknown command '" << argv[1] << "' (commands: " << names << ")\n"
              << "Run 'quarry --help' for usage.\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "quarry: error: " << e.what() << "\n";
    std::string path = "quarry";
    for (const CLI::App* sub = &app; sub;) {
      auto subs = sub->get_subcommands();
      if (subs.empty()) break;
      sub = subs.front();
      path += " " + sub->get_name();
    }
    std::cerr << "Run '" << path << " --help' for usage.\n";
    return kExitUsage;
  }
  if (!reg.run) return kExitUsage;
  return reg.run();
}
