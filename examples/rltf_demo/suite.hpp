#pragma once
/// \file
/// The demo's synthetic problem suite: small Python problems with unit tests, generated
/// deterministically from a seed.
///
/// Each problem asks for one short function described by a comment line, e.g.
///
///     # bump(x): x plus 37                      <- the prompt (code: a comment)
///     def bump(x):                              <- the reference completion
///         return x + 37
///
/// and carries assertion tests with literal expected values (`assert bump(5) == 42`). There are
/// fourteen families (arithmetic, conditionals, strings, lists, loops, ...), each instantiated
/// with a function name and one or two parameters.
///
/// The suite has three splits, disjoint by instance:
/// - `sft`: instances with reference solutions, for supervised fine-tuning; their parameter
///   values and function names come from a *seen* part of each domain;
/// - `rl`: instances for reinforcement learning from unit tests (tests only are needed), drawn
///   from the whole domain;
/// - `heldout`: instances for evaluation, each using at least one parameter value or function
///   name that never occurs in the SFT data.
/// So a model that memorises SFT data is imperfect on held-out instances, and RL on the `rl`
/// split (whose values overlap the unseen part) has room to help.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/detail/random.hpp"

namespace rltf::demo {

/// How the suite is generated.
struct SuiteOptions {
  std::uint64_t seed = 2024;           ///< everything below is a function of this seed
  std::size_t sft_per_family = 48;     ///< SFT instances per family
  std::size_t rl_per_family = 48;      ///< RL instances per family
  std::size_t heldout_per_family = 16; ///< held-out instances per family
  std::size_t tests_per_problem = 5;   ///< assertion tests per problem
  /// Fraction of each parameter domain (and of the function names) withheld from SFT data.
  double unseen_fraction = 0.35;
  /// true: every held-out instance uses at least one withheld value or name (generalisation
  /// beyond the SFT data); false: held-out instances are drawn from the whole domain, as the RL
  /// split's are (new instances of the distribution RL trains on).
  bool novel_heldout = true;
  /// Families to use, by name (empty: all of family_names()).
  std::vector<std::string> families;
};

/// The options as JSON (`nlohmann::json j = options;`).
inline void to_json(nlohmann::json& j, const SuiteOptions& o) {
  j = {{"seed", o.seed},
       {"sft_per_family", o.sft_per_family},
       {"rl_per_family", o.rl_per_family},
       {"heldout_per_family", o.heldout_per_family},
       {"tests_per_problem", o.tests_per_problem},
       {"unseen_fraction", o.unseen_fraction},
       {"novel_heldout", o.novel_heldout},
       {"families", o.families}};
}

/// The three splits.
struct Suite {
  std::vector<Problem> sft;     ///< with reference solutions
  std::vector<Problem> rl;      ///< for RL (reference solutions kept, but RL needs only tests)
  std::vector<Problem> heldout; ///< for evaluation only
};

namespace detail {

/// A Python literal for a list of ints: "[1, 2, 3]".
inline std::string demo_list(const std::vector<long long>& xs) {
  std::string s = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + std::to_string(xs[i]);
  return s + "]";
}
/// A Python literal for a string of lowercase letters: "'abc'".
inline std::string demo_str(const std::string& s) { return "'" + s + "'"; }

/// One instantiation: the values chosen for a family's parameters.
struct Params {
  std::string fn; ///< function name
  long long a = 0;
  long long b = 0;
  std::string w; ///< a word
  char ch = 'a';
  char ch2 = 'b';
  [[nodiscard]] std::string key(std::string_view family) const {
    return std::string(family) + "|" + fn + "|" + std::to_string(a) + "|" + std::to_string(b) + "|" + w + "|" + ch +
           "|" + ch2;
  }
};

/// Draws test inputs and the rest of a problem for one family.
struct Family {
  std::string_view name;
  long long a_lo, a_hi; ///< domain of the main constant, inclusive (empty when a_hi < a_lo)
  long long b_lo, b_hi; ///< domain of the second constant
  bool uses_word, uses_char, uses_char2;
  std::function<std::string(const Params&)> prompt;
  std::function<std::string(const Params&)> solution;
  /// One test: assertion code, from the params and an RNG for its input.
  std::function<std::string(const Params&, Rng&)> test;
};

inline const std::vector<std::string>& demo_words() {
  static const std::vector<std::string> words{"ab",  "cat", "dog", "sun", "map", "key", "box", "red",
                                              "fig", "owl", "jam", "ice", "tea", "zip", "hop", "lo",
                                              "mix", "pen", "rug", "van", "web", "yak", "elm", "gum"};
  return words;
}
inline const std::vector<std::string>& demo_names() {
  static const std::vector<std::string> names{"f",     "g",    "h",    "calc", "solve", "run",  "go",    "fn",
                                              "work",  "step", "eval", "make", "bump",  "pick", "tally", "shift",
                                              "apply", "comp", "get",  "find", "do_it", "task", "op",    "main2"};
  return names;
}

inline long long demo_int(Rng& rng, long long lo, long long hi) {
  return lo + static_cast<long long>(rltf::detail::uniform_index(rng, static_cast<std::size_t>(hi - lo + 1)));
}
inline std::string demo_word(Rng& rng) {
  return demo_words()[rltf::detail::uniform_index(rng, demo_words().size())];
}
inline std::string demo_letters(Rng& rng, std::size_t lo, std::size_t hi, std::string_view alphabet) {
  const std::size_t n = lo + rltf::detail::uniform_index(rng, hi - lo + 1);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += alphabet[rltf::detail::uniform_index(rng, alphabet.size())];
  return s;
}
inline std::vector<long long> demo_ints(Rng& rng, std::size_t lo, std::size_t hi, long long vlo, long long vhi) {
  const std::size_t n = lo + rltf::detail::uniform_index(rng, hi - lo + 1);
  std::vector<long long> xs;
  for (std::size_t i = 0; i < n; ++i) xs.push_back(demo_int(rng, vlo, vhi));
  return xs;
}

/// FNV-1a: a portable hash of a family's name, to give each family its own random stream.
inline std::uint64_t demo_hash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

inline std::string demo_call(const Params& p, const std::string& arg) { return p.fn + "(" + arg + ")"; }
inline std::string demo_assert(const Params& p, const std::string& arg, const std::string& expected) {
  return "assert " + demo_call(p, arg) + " == " + expected;
}

inline const std::vector<Family>& demo_families() {
  using P = Params;
  static const std::vector<Family> families{
      {"add", 2, 60, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(x): x plus " + std::to_string(p.a) + "\n"; },
       [](const P& p) { return "def " + p.fn + "(x):\n    return x + " + std::to_string(p.a) + "\n"; },
       [](const P& p, Rng& r) {
         const long long x = demo_int(r, 0, 99);
         return demo_assert(p, std::to_string(x), std::to_string(x + p.a));
       }},
      {"mul", 2, 40, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(x): x times " + std::to_string(p.a) + "\n"; },
       [](const P& p) { return "def " + p.fn + "(x):\n    return x * " + std::to_string(p.a) + "\n"; },
       [](const P& p, Rng& r) {
         const long long x = demo_int(r, 0, 99);
         return demo_assert(p, std::to_string(x), std::to_string(x * p.a));
       }},
      {"affine", 2, 9, 1, 30, false, false, false,
       [](const P& p) {
         return "# " + p.fn + "(x): x times " + std::to_string(p.a) + " plus " + std::to_string(p.b) + "\n";
       },
       [](const P& p) {
         return "def " + p.fn + "(x):\n    return x * " + std::to_string(p.a) + " + " + std::to_string(p.b) + "\n";
       },
       [](const P& p, Rng& r) {
         const long long x = demo_int(r, 0, 50);
         return demo_assert(p, std::to_string(x), std::to_string(x * p.a + p.b));
       }},
      {"clip", 5, 60, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(x): x, but at most " + std::to_string(p.a) + "\n"; },
       [](const P& p) {
         const std::string c = std::to_string(p.a);
         return "def " + p.fn + "(x):\n    if x > " + c + ":\n        return " + c + "\n    return x\n";
       },
       [](const P& p, Rng& r) {
         const long long x = demo_int(r, 0, 2 * p.a);
         return demo_assert(p, std::to_string(x), std::to_string(x > p.a ? p.a : x));
       }},
      {"prefix", 0, -1, 0, -1, true, false, false,
       [](const P& p) { return "# " + p.fn + "(s): '" + p.w + "' followed by s\n"; },
       [](const P& p) { return "def " + p.fn + "(s):\n    return '" + p.w + "' + s\n"; },
       [](const P& p, Rng& r) {
         const std::string s = demo_word(r);
         return demo_assert(p, demo_str(s), demo_str(p.w + s));
       }},
      {"count", 0, -1, 0, -1, false, true, false,
       [](const P& p) { return "# " + p.fn + "(s): how many '" + std::string(1, p.ch) + "' in s\n"; },
       [](const P& p) { return "def " + p.fn + "(s):\n    return s.count('" + std::string(1, p.ch) + "')\n"; },
       [](const P& p, Rng& r) {
         const std::string alphabet = std::string("xyz") + p.ch + p.ch;
         const std::string s = demo_letters(r, 0, 8, alphabet);
         long long n = 0;
         for (char c : s) n += c == p.ch;
         return demo_assert(p, demo_str(s), std::to_string(n));
       }},
      {"filter_gt", 0, 50, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(xs): items of xs above " + std::to_string(p.a) + "\n"; },
       [](const P& p) {
         return "def " + p.fn + "(xs):\n    return [v for v in xs if v > " + std::to_string(p.a) + "]\n";
       },
       [](const P& p, Rng& r) {
         const auto xs = demo_ints(r, 0, 6, 0, 2 * p.a + 10);
         std::vector<long long> out;
         for (auto v : xs)
           if (v > p.a) out.push_back(v);
         return demo_assert(p, demo_list(xs), demo_list(out));
       }},
      {"sum_times", 2, 30, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(xs): sum of xs times " + std::to_string(p.a) + "\n"; },
       [](const P& p) { return "def " + p.fn + "(xs):\n    return sum(xs) * " + std::to_string(p.a) + "\n"; },
       [](const P& p, Rng& r) {
         const auto xs = demo_ints(r, 0, 5, 0, 20);
         long long s = 0;
         for (auto v : xs) s += v;
         return demo_assert(p, demo_list(xs), std::to_string(s * p.a));
       }},
      {"loop_sum", 2, 20, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(n): total of i * " + std::to_string(p.a) + " for i below n\n"; },
       [](const P& p) {
         return "def " + p.fn + "(n):\n    t = 0\n    for i in range(n):\n        t += i * " + std::to_string(p.a) +
                "\n    return t\n";
       },
       [](const P& p, Rng& r) {
         const long long n = demo_int(r, 0, 12);
         return demo_assert(p, std::to_string(n), std::to_string(p.a * n * (n - 1) / 2));
       }},
      {"repeat", 2, 9, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(s): s repeated " + std::to_string(p.a) + " times\n"; },
       [](const P& p) { return "def " + p.fn + "(s):\n    return s * " + std::to_string(p.a) + "\n"; },
       [](const P& p, Rng& r) {
         const std::string s = demo_letters(r, 0, 3, "abc");
         std::string out;
         for (long long i = 0; i < p.a; ++i) out += s;
         return demo_assert(p, demo_str(s), demo_str(out));
       }},
      {"divisible", 2, 30, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(x): is x a multiple of " + std::to_string(p.a) + "\n"; },
       [](const P& p) { return "def " + p.fn + "(x):\n    return x % " + std::to_string(p.a) + " == 0\n"; },
       [](const P& p, Rng& r) {
         // Half the inputs are multiples, so a wrong constant fails some tests and passes others.
         const long long x = (r() & 1U) != 0 ? p.a * demo_int(r, 0, 9) : demo_int(r, 0, 200);
         return demo_assert(p, std::to_string(x), x % p.a == 0 ? "True" : "False");
       }},
      {"count_eq", 0, 9, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(xs): how often " + std::to_string(p.a) + " occurs in xs\n"; },
       [](const P& p) { return "def " + p.fn + "(xs):\n    return xs.count(" + std::to_string(p.a) + ")\n"; },
       [](const P& p, Rng& r) {
         const auto xs = demo_ints(r, 0, 8, 0, 9);
         long long n = 0;
         for (auto v : xs) n += v == p.a;
         return demo_assert(p, demo_list(xs), std::to_string(n));
       }},
      {"replace", 0, -1, 0, -1, false, true, true,
       [](const P& p) {
         return "# " + p.fn + "(s): s with '" + std::string(1, p.ch) + "' replaced by '" + std::string(1, p.ch2) +
                "'\n";
       },
       [](const P& p) {
         return "def " + p.fn + "(s):\n    return s.replace('" + std::string(1, p.ch) + "', '" + std::string(1, p.ch2) +
                "')\n";
       },
       [](const P& p, Rng& r) {
         const std::string alphabet = std::string("xy") + p.ch + p.ch + p.ch2;
         std::string s = demo_letters(r, 1, 7, alphabet);
         std::string out = s;
         for (char& c : out)
           if (c == p.ch) c = p.ch2;
         return demo_assert(p, demo_str(s), demo_str(out));
       }},
      {"max_plus", 1, 50, 0, -1, false, false, false,
       [](const P& p) { return "# " + p.fn + "(xs): largest of xs plus " + std::to_string(p.a) + "\n"; },
       [](const P& p) { return "def " + p.fn + "(xs):\n    return max(xs) + " + std::to_string(p.a) + "\n"; },
       [](const P& p, Rng& r) {
         const auto xs = demo_ints(r, 1, 6, 0, 99);
         long long m = xs[0];
         for (auto v : xs) m = v > m ? v : m;
         return demo_assert(p, demo_list(xs), std::to_string(m + p.a));
       }},
  };
  return families;
}

/// Splits a domain into (seen, unseen) parts with a seeded shuffle; the unseen part has
/// round(fraction · size) elements, at least one when the domain has two or more.
template <class T>
std::pair<std::vector<T>, std::vector<T>> demo_split(std::vector<T> domain, double fraction, Rng& rng) {
  if (domain.empty()) return {};
  rltf::detail::shuffle(domain, rng);
  std::size_t unseen = static_cast<std::size_t>(fraction * static_cast<double>(domain.size()) + 0.5);
  if (domain.size() >= 2 && unseen == 0) unseen = 1;
  if (unseen >= domain.size()) unseen = domain.size() - 1;
  std::vector<T> b(domain.begin(), domain.begin() + static_cast<std::ptrdiff_t>(unseen));
  std::vector<T> a(domain.begin() + static_cast<std::ptrdiff_t>(unseen), domain.end());
  return {a, b};
}

} // namespace detail

/// The names of the families, in generation order.
[[nodiscard]] inline std::vector<std::string> family_names() {
  std::vector<std::string> out;
  for (const auto& f : detail::demo_families()) out.emplace_back(f.name);
  return out;
}

/// Generates the suite. Equal options give equal suites on every platform. Throws
/// rltf::invalid_argument for an unknown family or an unseen_fraction outside [0, 1).
[[nodiscard]] inline Suite make_suite(const SuiteOptions& options = {}) {
  if (!(options.unseen_fraction >= 0.0 && options.unseen_fraction < 1.0))
    throw invalid_argument("demo::make_suite: unseen_fraction must be in [0, 1)");
  if (options.tests_per_problem == 0) throw invalid_argument("demo::make_suite: tests_per_problem must be ≥ 1");
  const auto& all = detail::demo_families();
  for (const auto& name : options.families) {
    bool found = false;
    for (const auto& f : all) found = found || f.name == name;
    if (!found) throw invalid_argument("demo::make_suite: unknown family '" + name + "'");
  }
  Suite suite;
  Rng rng = make_rng(options.seed);
  // Function names: one split for the whole suite.
  auto [seen_names, unseen_names] = detail::demo_split(detail::demo_names(), options.unseen_fraction, rng);
  std::vector<char> letters;
  for (char c = 'a'; c <= 'w'; ++c) letters.push_back(c); // x, y, z fill the test strings
  for (const auto& fam : all) {
    bool wanted = options.families.empty();
    for (const auto& name : options.families) wanted = wanted || fam.name == name;
    if (!wanted) continue;
    Rng frng = make_rng(options.seed ^ detail::demo_hash(fam.name));
    std::vector<long long> adom, bdom;
    for (long long v = fam.a_lo; v <= fam.a_hi; ++v) adom.push_back(v);
    for (long long v = fam.b_lo; v <= fam.b_hi; ++v) bdom.push_back(v);
    auto [a_seen, a_unseen] = detail::demo_split(adom, options.unseen_fraction, frng);
    auto [b_seen, b_unseen] = detail::demo_split(bdom, options.unseen_fraction, frng);
    auto [w_seen, w_unseen] = detail::demo_split(detail::demo_words(), options.unseen_fraction, frng);
    auto [c_seen, c_unseen] = detail::demo_split(letters, options.unseen_fraction, frng);
    auto pick = [&frng](const auto& v) { return v[rltf::detail::uniform_index(frng, v.size())]; };
    // Draws parameters: `novel` = false uses only seen values; true makes at least one unseen.
    auto draw = [&](bool seen_only, bool novel) {
      detail::Params p;
      const bool any = !seen_only && !novel;
      auto from = [&](const auto& seen, const auto& unseen, bool force_unseen) {
        if (force_unseen) return pick(unseen);
        if (any) {
          const std::size_t i = rltf::detail::uniform_index(frng, seen.size() + unseen.size());
          return i < seen.size() ? seen[i] : unseen[i - seen.size()];
        }
        return pick(seen);
      };
      // Which parameter carries the novelty, when one must.
      std::vector<int> slots{0};
      if (!adom.empty()) slots.push_back(1);
      if (!bdom.empty()) slots.push_back(2);
      if (fam.uses_word) slots.push_back(3);
      if (fam.uses_char) slots.push_back(4);
      const int novel_slot = novel ? slots[rltf::detail::uniform_index(frng, slots.size())] : -1;
      p.fn = from(seen_names, unseen_names, novel_slot == 0);
      if (!adom.empty()) p.a = from(a_seen, a_unseen, novel_slot == 1);
      if (!bdom.empty()) p.b = from(b_seen, b_unseen, novel_slot == 2);
      if (fam.uses_word) p.w = from(w_seen, w_unseen, novel_slot == 3);
      if (fam.uses_char) p.ch = from(c_seen, c_unseen, novel_slot == 4);
      if (fam.uses_char2) {
        do p.ch2 = from(c_seen, c_unseen, false);
        while (p.ch2 == p.ch);
      }
      return p;
    };
    std::set<std::string> used;
    auto make = [&](const detail::Params& p, std::string_view split, std::size_t index) {
      Problem prob;
      prob.task_id = "demo/" + std::string(split) + "/" + std::string(fam.name) + "/" + std::to_string(index);
      prob.prompt = fam.prompt(p);
      prob.solutions.push_back(fam.solution(p));
      prob.entry_point = p.fn;
      prob.prompt_is_code = true;
      std::set<std::string> seen_tests;
      for (std::size_t t = 0; t < 8 * options.tests_per_problem && prob.tests.tests.size() < options.tests_per_problem;
           ++t) {
        std::string code = fam.test(p, frng);
        if (seen_tests.insert(code).second) prob.tests.tests.push_back(TestCase{TestKind::assertion, code, {}, {}});
      }
      return prob;
    };
    auto fill = [&](std::vector<Problem>& out, std::size_t count, bool seen_only, bool novel, std::string_view split) {
      std::size_t made = 0;
      for (std::size_t attempt = 0; made < count && attempt < 200 * count; ++attempt) {
        const auto p = draw(seen_only, novel);
        if (!used.insert(p.key(fam.name)).second) continue;
        out.push_back(make(p, split, made));
        ++made;
      }
    };
    // Held-out first, so the other splits avoid its instances.
    fill(suite.heldout, options.heldout_per_family, false, options.novel_heldout, "heldout");
    fill(suite.sft, options.sft_per_family, true, false, "sft");
    fill(suite.rl, options.rl_per_family, false, false, "rl");
  }
  return suite;
}

} // namespace rltf::demo
