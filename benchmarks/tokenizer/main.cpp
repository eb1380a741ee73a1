// GPT-2 encoding speed: rltf::Gpt2Tokenizer against two baselines measured in the same run on the
// same text, with identical output required:
//   - naive C++: GPT-2's reference algorithm as written in encoder.py (repeatedly scan the word's
//     pairs for the lowest rank in a string-keyed table, merge every occurrence, repeat), no cache;
//   - Python: GPT-2's reference encoder (tools/gpt2_reference_bpe.py, encoder.py's algorithm with
//     its per-word cache) run by the real interpreter; only its encode() is timed.
// Also rltf::HfTokenizer (the generic tokenizer.json tokenizer) on GPT-2's tokenizer.json (same
// ids required) and on Qwen2's (PCRE2 Split regex + NFC), same text, same run.
// The text is every HumanEval and MBPP prompt, reference solution and test (~1 MB of code).
//
//   rltf-bench-tokenizer [--quick] [--repeat N] [--data-dir DIR] [--work DIR] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/data/humaneval.hpp"
#include "rltf/data/mbpp.hpp"
#include "rltf/tokenize/detail/pretokenize.hpp"
#include "rltf/tokenize/detail/utf8.hpp"
#include "rltf/tokenize/gpt2.hpp"
#include "rltf/tokenize/hf.hpp"
#include "rltf_programs/options.hpp"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

/// encoder.py's bpe(), transcribed: the word as a list of byte-level strings; while some adjacent
/// pair has a rank, take the lowest-ranked pair and merge all its occurrences left to right.
class NaiveBpe {
public:
  NaiveBpe(const fs::path& encoder_json, const fs::path& vocab_bpe) {
    std::ifstream in(encoder_json);
    const auto encoder = nlohmann::json::parse(in);
    for (const auto& [k, v] : encoder.items()) encoder_[k] = v.get<rltf::token_id>();
    std::ifstream merges(vocab_bpe);
    std::string line;
    std::getline(merges, line); // #version
    int rank = 0;
    while (std::getline(merges, line))
      if (!line.empty()) ranks_[line] = rank++;
  }

  [[nodiscard]] std::vector<rltf::token_id> encode(std::string_view text) const {
    std::vector<rltf::token_id> out;
    rltf::tokenize::detail::gpt2_pretokenize(text, [&](std::size_t b, std::size_t e) {
      std::vector<std::string> word;
      for (std::size_t i = b; i < e; ++i) {
        std::string ch;
        rltf::tokenize::detail::append_utf8(
            ch, rltf::tokenize::detail::byte_to_unicode()[static_cast<unsigned char>(text[i])]);
        word.push_back(std::move(ch));
      }
      while (word.size() > 1) {
        int best = std::numeric_limits<int>::max();
        std::size_t at = 0;
        for (std::size_t i = 0; i + 1 < word.size(); ++i) {
          const auto it = ranks_.find(word[i] + " " + word[i + 1]);
          if (it != ranks_.end() && it->second < best) best = it->second, at = i;
        }
        if (best == std::numeric_limits<int>::max()) break;
        const std::string first = word[at];
        const std::string second = word[at + 1];
        std::vector<std::string> merged;
        for (std::size_t i = 0; i < word.size();) {
          if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
            merged.push_back(first + second);
            i += 2;
          } else {
            merged.push_back(word[i++]);
          }
        }
        word = std::move(merged);
      }
      for (const auto& w : word) out.push_back(encoder_.at(w));
    });
    return out;
  }

private:
  std::unordered_map<std::string, rltf::token_id> encoder_;
  std::unordered_map<std::string, int> ranks_;
};

template <class F>
double best_seconds(int repeat, F&& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = clock_type::now();
    f();
    best = std::min(best, std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  return best;
}

int bench(bool quick, int repeat, const fs::path& data, const fs::path& work, const fs::path& json_out) {
  if (quick) repeat = 1;
  fs::create_directories(work);

  // The corpus: real code and prompts.
  std::string corpus;
  for (const auto& p : rltf::data::load_humaneval(data / "HumanEval.jsonl.gz")) {
    corpus += p.prompt + p.solutions.at(0) + "\n";
    for (const auto& t : p.tests.tests) corpus += t.code + "\n";
  }
  for (const auto& p : rltf::data::load_mbpp(data / "mbpp.jsonl")) {
    corpus += p.prompt + "\n" + p.solutions.at(0) + "\n";
    for (const auto& t : p.tests.tests) corpus += t.code + "\n";
  }
  if (quick) corpus.resize(std::min<std::size_t>(corpus.size(), 100000));
  while (corpus.size() > 0 && (static_cast<unsigned char>(corpus.back()) & 0xC0) == 0x80) corpus.pop_back();
  const fs::path corpus_file = work / "corpus.txt";
  std::ofstream(corpus_file, std::ios::binary) << corpus;
  const double mb = static_cast<double>(corpus.size()) / 1e6;
  const fs::path dir = data / "models" / "gpt2-tokenizer";

  // rltf: a fresh tokenizer per repetition (cold cache), then a second pass on the warm cache.
  std::vector<rltf::token_id> ids;
  double cold_encode = std::numeric_limits<double>::infinity();
  double warm = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeat; ++r) {
    const auto tok = rltf::Gpt2Tokenizer::from_directory(dir);
    cold_encode = std::min(cold_encode, best_seconds(1, [&] { ids = tok.encode(corpus); }));
    std::vector<rltf::token_id> again;
    warm = std::min(warm, best_seconds(1, [&] { again = tok.encode(corpus); }));
    if (again != ids) {
      std::cerr << "warm and cold encodings differ\n";
      return 1;
    }
  }
  const auto tok_uncached = rltf::Gpt2Tokenizer::from_directory(dir, {.cache_capacity = 0});
  const double uncached = best_seconds(repeat, [&] {
    if (tok_uncached.encode(corpus) != ids) std::exit(1);
  });
  const auto t_load0 = clock_type::now();
  const auto loaded = rltf::Gpt2Tokenizer::from_directory(dir);
  const double load = std::chrono::duration<double>(clock_type::now() - t_load0).count();

  // The generic tokenizer.json tokenizer: GPT-2's file (identical ids required) and Qwen2's.
  double hf_gpt2 = std::numeric_limits<double>::infinity();
  double hf_qwen = std::numeric_limits<double>::infinity();
  double hf_qwen_warm = std::numeric_limits<double>::infinity();
  std::size_t qwen_tokens = 0;
  for (int r = 0; r < repeat; ++r) {
    const auto hf = rltf::HfTokenizer::from_tokenizer_json(data / "models" / "lm-buddy-fake-gpt2" / "tokenizer.json");
    std::vector<rltf::token_id> hf_ids;
    hf_gpt2 = std::min(hf_gpt2, best_seconds(1, [&] { hf_ids = hf.encode(corpus, rltf::SpecialTokens::ordinary); }));
    if (hf_ids != ids) {
      std::cerr << "HfTokenizer on GPT-2's tokenizer.json differs from Gpt2Tokenizer\n";
      return 1;
    }
    const auto qwen = rltf::HfTokenizer::from_directory(data / "models" / "qwen2-tokenizer");
    std::vector<rltf::token_id> qwen_ids;
    hf_qwen = std::min(hf_qwen, best_seconds(1, [&] { qwen_ids = qwen.encode(corpus); }));
    hf_qwen_warm = std::min(hf_qwen_warm, best_seconds(1, [&] { qwen_ids = qwen.encode(corpus); }));
    if (qwen.decode(qwen_ids) != corpus) {
      std::cerr << "HfTokenizer (Qwen2) does not round-trip the corpus\n";
      return 1;
    }
    qwen_tokens = qwen_ids.size();
  }

  // Naive C++ baseline.
  const NaiveBpe naive(dir / "encoder.json", dir / "vocab.bpe");
  std::vector<rltf::token_id> naive_ids;
  const double naive_s = best_seconds(quick ? 1 : std::min(repeat, 2), [&] { naive_ids = naive.encode(corpus); });
  if (naive_ids != ids) {
    std::cerr << "the naive baseline's ids differ from rltf's\n";
    return 1;
  }

  // Python reference.
  const fs::path py_out = work / "python.json";
  const std::string cmd = std::string(RLTF_PYTHON) + " " +
                          (fs::path(RLTF_SOURCE_DIR) / "tools" / "gpt2_reference_bpe.py").string() + " " +
                          (dir / "encoder.json").string() + " " + (dir / "vocab.bpe").string() + " " +
                          corpus_file.string() + " --repeat " + std::to_string(repeat) + " > " + py_out.string();
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "the Python reference failed: " << cmd << "\n";
    return 1;
  }
  std::ifstream py_in(py_out);
  const auto py = nlohmann::json::parse(py_in);
  if (py.at("ids").get<std::vector<rltf::token_id>>() != ids) {
    std::cerr << "the Python reference's ids differ from rltf's\n";
    return 1;
  }
  const double python_s = py.at("seconds").get<double>();

  std::printf("GPT-2 BPE encode, %.2f MB of HumanEval + MBPP code, %zu tokens (identical in all four)\n", mb,
              ids.size());
  std::printf("  %-40s %9.4f s  %8.2f MB/s\n", "rltf Gpt2Tokenizer, cold cache", cold_encode, mb / cold_encode);
  std::printf("  %-40s %9.4f s  %8.2f MB/s\n", "rltf Gpt2Tokenizer, warm cache", warm, mb / warm);
  std::printf("  %-40s %9.4f s  %8.2f MB/s\n", "rltf Gpt2Tokenizer, cache off", uncached, mb / uncached);
  std::printf("  %-40s %9.4f s  %8.2f MB/s  (%.2fx Gpt2Tokenizer's time)\n", "rltf HfTokenizer, GPT-2 json, cold",
              hf_gpt2, mb / hf_gpt2, hf_gpt2 / cold_encode);
  std::printf("  %-40s %9.4f s  %8.2f MB/s  (%.2fx Gpt2Tokenizer's time; %zu Qwen2 tokens)\n",
              "rltf HfTokenizer, Qwen2 json, cold", hf_qwen, mb / hf_qwen, hf_qwen / cold_encode, qwen_tokens);
  std::printf("  %-40s %9.4f s  %8.2f MB/s\n", "rltf HfTokenizer, Qwen2 json, warm", hf_qwen_warm, mb / hf_qwen_warm);
  std::printf("  %-40s %9.4f s  %8.2f MB/s\n", "naive C++ (encoder.py's loop, no cache)", naive_s, mb / naive_s);
  std::printf("  %-40s %9.4f s  %8.2f MB/s  (%s)\n", "Python reference (encoder.py + cache)", python_s, mb / python_s,
              py.at("engine").get<std::string>().c_str());
  std::printf("  speed-up of rltf (cold) over naive C++: %.1fx; over Python: %.1fx\n", naive_s / cold_encode,
              python_s / cold_encode);
  std::printf("  loading encoder.json + vocab.bpe: %.3f s (%zu merges)\n", load, loaded.merge_count());

  if (!json_out.empty()) {
    nlohmann::json j{{"corpus_bytes", corpus.size()},
                     {"tokens", ids.size()},
                     {"rltf_cold_s", cold_encode},
                     {"rltf_warm_s", warm},
                     {"rltf_uncached_s", uncached},
                     {"hf_gpt2_cold_s", hf_gpt2},
                     {"hf_qwen2_cold_s", hf_qwen},
                     {"hf_qwen2_warm_s", hf_qwen_warm},
                     {"qwen2_tokens", qwen_tokens},
                     {"naive_cpp_s", naive_s},
                     {"python_s", python_s},
                     {"python_engine", py.at("engine")},
                     {"load_s", load}};
    std::ofstream(json_out) << j.dump(2) << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int repeat = 3;
  fs::path data = fs::path(RLTF_SOURCE_DIR) / "data";
  fs::path work = fs::temp_directory_path() / "rltf-bench-tokenizer";
  fs::path json_out;
  rltf::programs::Cli cli("rltf-bench-tokenizer", "GPT-2 BPE encoding speed: rltf::Gpt2Tokenizer against a naive "
                                                  "C++ merge loop and GPT-2's Python encoder (docs/tokenizers.md).");
  cli.flag("--quick", quick, "one repeat");
  cli.count("--repeat", repeat, "repeats (the best counts)", 1, 1000);
  cli.text("--data-dir", data, "rltf's data folder", "DIR");
  cli.text("--work", work, "scratch folder", "DIR");
  cli.text("--json", json_out, "also write the results as JSON here", "FILE");
  return cli.run(argc, argv, [&] { return bench(quick, repeat, data, work, json_out); });
}
