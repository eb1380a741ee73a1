#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "rltf/eval/text_metrics.hpp"

using MetricTokens = std::vector<std::string>;

TEST_CASE("code_tokens: identifier and number runs, every other non-space character alone") {
  CHECK(rltf::code_tokens("x=f(a_1, 'b')") == MetricTokens{"x", "=", "f", "(", "a_1", ",", "'", "b", "'", ")"});
  CHECK(rltf::whitespace_tokens("  a  b\tc\n") == MetricTokens{"a", "b", "c"});
  CHECK(rltf::code_tokens("").empty());
}

TEST_CASE("sentence_bleu: BLEU-4 with add-one smoothing of the 2- to 4-gram precisions, by hand") {
  // a b c d vs a b c e: p1 = 3/4; p2 = (2+1)/(3+1); p3 = (1+1)/(2+1); p4 = (0+1)/(1+1); BP = 1.
  CHECK(rltf::sentence_bleu("a b c d", "a b c e") ==
        doctest::Approx(std::pow(3.0 / 4 * 3.0 / 4 * 2.0 / 3 * 0.5, 0.25)).epsilon(1e-12));
  // a b vs a b c d: p1 = 1, p2 = (1+1)/(1+1), p3 = p4 = (0+1)/(0+1); BP = exp(1 - 4/2).
  CHECK(rltf::sentence_bleu("a b", "a b c d") == doctest::Approx(std::exp(-1.0)).epsilon(1e-12));
  CHECK(rltf::sentence_bleu("a b c d", "a b c d") == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(rltf::sentence_bleu("x y", "a b") == 0.0);
  CHECK(rltf::sentence_bleu("", "a b") == 0.0);
  // Code tokens: f(x) vs f(y) = f ( x ) / f ( y ): p1 = 3/4, p2 = (1+1)/(3+1), p3 = (0+1)/(2+1), p4 = 1/2.
  CHECK(rltf::sentence_bleu("f(x)", "f(y)") == doctest::Approx(std::pow(0.75 * 0.5 / 3.0 * 0.5, 0.25)).epsilon(1e-12));
}

TEST_CASE("corpus_bleu: clipped counts and lengths summed over the corpus, unsmoothed") {
  const std::vector<MetricTokens> c{{"a", "b", "c", "d"}, {"a", "b"}};
  const std::vector<MetricTokens> r{{"a", "b", "c", "d"}, {"a", "b", "c"}};
  // Matches 6/6, 4/4, 2/2, 1/1: precision 1; c = 6, r = 7: BP = exp(1 - 7/6).
  CHECK(rltf::corpus_bleu(c, r) == doctest::Approx(std::exp(1.0 - 7.0 / 6.0)).epsilon(1e-12));
  // Clipping: "a a a a" vs "a b": p1 = 1/4, no 2-gram match: 0 without smoothing.
  const std::vector<MetricTokens> c2{{"a", "a", "a", "a"}};
  const std::vector<MetricTokens> r2{{"a", "b"}};
  CHECK(rltf::corpus_bleu(c2, r2) == 0.0);
  CHECK(rltf::bleu_counts(c2[0], r2[0]).matches[0] == 1);
  CHECK_THROWS_AS((void)rltf::corpus_bleu(c, r2), rltf::invalid_argument);
}

TEST_CASE("rouge_l: the LCS F-measure, by hand") {
  CHECK(rltf::rouge_l("a b c d", "a b c e") == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(rltf::rouge_l("a b", "a b c d") == doctest::Approx(2.0 / 3.0).epsilon(1e-12)); // P 1, R 1/2
  // LCS of a x b y c and a b c z: a b c = 3; P = 3/5, R = 3/4; F = 2PR/(P+R) = 2/3.
  CHECK(rltf::rouge_l("a x b y c", "a b c z") == doctest::Approx(2.0 * 0.6 * 0.75 / 1.35).epsilon(1e-12));
  CHECK(rltf::rouge_l("", "a") == 0.0);
  CHECK(rltf::rouge_l("q", "a") == 0.0);
}
