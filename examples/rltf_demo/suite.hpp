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

#include <algorithm>
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

/// Which suite make_suite() generates.
///
/// - `bugs` (the default): eight families whose SFT references carry a family-level bug (`>=` for
///   `>`, an off-by-one range or index, a wrong sign) in a fraction `flaw_fraction` of them; the
///   tests are always right and include the boundary cases that expose each bug. What SFT cannot
///   teach (which of the two forms it saw is right), the unit tests can.
/// - `names`: the older suite of fourteen families whose held-out problems carry a function name
///   or constant withheld from the SFT data (a skill the tests cannot reward; docs/results.md).
enum class SuiteKind { bugs, names };

/// "bugs" / "names".
[[nodiscard]] constexpr std::string_view to_string(SuiteKind k) noexcept {
  return k == SuiteKind::bugs ? "bugs" : "names";
}

/// How the suite is generated.
struct SuiteOptions {
  std::uint64_t seed = 2024;        ///< everything below is a function of this seed
  SuiteKind kind = SuiteKind::bugs; ///< which suite
  /// `bugs` suite: the fraction of SFT references that carry their family's bug (each reference
  /// independently, from the seed); 0 gives the clean references (the oracle's data).
  double flaw_fraction = 0.5;
  std::size_t sft_per_family = 24;     ///< SFT instances per family
  std::size_t rl_per_family = 24;      ///< RL instances per family
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
       {"kind", to_string(o.kind)},
       {"flaw_fraction", o.flaw_fraction},
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
  std::vector<Problem> sft;     ///< with reference solutions (in the `bugs` suite, some flawed)
  std::vector<Problem> rl;      ///< for RL (clean reference solutions kept, but RL needs only tests)
  std::vector<Problem> heldout; ///< for evaluation only (clean references)
  /// The SFT problems with their clean references (the oracle's data); equal to `sft` when no
  /// reference is flawed.
  std::vector<Problem> sft_clean;
  std::vector<bool> sft_flawed; ///< per SFT problem: its reference carries the family's bug
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
inline std::string demo_word(Rng& rng) { return demo_words()[rltf::detail::uniform_index(rng, demo_words().size())]; }
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

// ---- The `bugs` suite ----------------------------------------------------------------------

/// The kind of feedback a family of the `bugs` suite is built to exercise.
enum class BugKind {
  plain,   ///< a wrong comparison, range or sign: a plain test failure
  fine,    ///< the bug raises an error on its own line of the program (fine-grained feedback)
  clauses, ///< several independent clauses, each with its own bug and boundary test (partial credit)
};

/// One family of the `bugs` suite: a function of one input (an int, or a list of ints) with two
/// constants A and B, a clean reference, the same reference with a bug at each of its `sites`,
/// and tests computed here (the expected values never come from a reference).
struct BugFamily {
  std::string_view name;
  BugKind kind;
  std::size_t sites;    ///< independent bug sites (clauses)
  bool list_input;      ///< the input is a list (else one int)
  long long a_lo, a_hi; ///< A's domain
  long long b_lo, b_hi; ///< B's domain (an offset from A when b_after_a)
  bool b_after_a;       ///< B = A + b (so B > A)
  std::function<std::string(long long, long long)> prompt;
  /// The reference, with the bugs of `mask` (bit i: site i); mask 0 is the clean one.
  std::function<std::string(long long, long long, unsigned)> solution;
  /// The expected result of the function on `in` (a Python literal).
  std::function<std::string(long long, long long, const std::vector<long long>&)> expect;
  /// Boundary inputs: together they expose the bug at every site.
  std::function<std::vector<std::vector<long long>>(long long, long long)> boundary;
  /// A random input.
  std::function<std::vector<long long>(long long, long long, Rng&)> random_input;
};

inline std::string bug_cmp(bool bug, const char* clean, const char* flawed) { return bug ? flawed : clean; }
inline std::string bug_n(long long v) { return std::to_string(v); }
inline std::vector<long long> bug_list(Rng& r, std::size_t lo, std::size_t hi, long long vlo, long long vhi) {
  return demo_ints(r, lo, hi, vlo, vhi);
}

inline const std::vector<BugFamily>& bug_families() {
  using V = std::vector<long long>;
  using VV = std::vector<V>;
  static const std::vector<BugFamily> families{
      // items above A, plus B: `>=` for `>` (a list holding A exposes it)
      {"above", BugKind::plain, 1, true, 0, 9, 1, 9, false,
       [](long long a, long long b) {
         return "# above(xs): the items of xs greater than " + bug_n(a) + ", each plus " + bug_n(b) + "\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def above(xs):\n    return [v + " + bug_n(b) + " for v in xs if v " + bug_cmp(m & 1U, ">", ">=") +
                " " + bug_n(a) + "]\n";
       },
       [](long long a, long long b, const V& xs) {
         V out;
         for (auto v : xs)
           if (v > a) out.push_back(v + b);
         return demo_list(out);
       },
       [](long long a, long long) {
         return VV{{a, a + 3}, {a + 1, a}};
       },
       [](long long a, long long, Rng& r) { return bug_list(r, 0, 5, 0, a + 6); }},
      // [i·A + B for i = 1..n]: an off-by-one range
      {"upto", BugKind::plain, 1, false, 1, 9, 0, 9, false,
       [](long long a, long long b) {
         return "# upto(n): i times " + bug_n(a) + " plus " + bug_n(b) + ", for i from 1 to n\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def upto(n):\n    return [i * " + bug_n(a) + " + " + bug_n(b) + " for i in range(1, " +
                bug_cmp(m & 1U, "n + 1", "n") + ")]\n";
       },
       [](long long a, long long b, const V& in) {
         V out;
         for (long long i = 1; i <= in[0]; ++i) out.push_back(i * a + b);
         return demo_list(out);
       },
       [](long long, long long) {
         return VV{{1}, {3}};
       },
       [](long long, long long, Rng& r) { return V{demo_int(r, 0, 6)}; }},
      // (x − A)·B: a wrong sign
      {"shift", BugKind::plain, 1, false, 1, 9, 2, 9, false,
       [](long long a, long long b) { return "# shift(x): x minus " + bug_n(a) + ", times " + bug_n(b) + "\n"; },
       [](long long a, long long b, unsigned m) {
         return "def shift(x):\n    return (x " + bug_cmp(m & 1U, "-", "+") + " " + bug_n(a) + ") * " + bug_n(b) + "\n";
       },
       [](long long a, long long b, const V& in) { return bug_n((in[0] - a) * b); },
       [](long long a, long long) { return VV{{a}}; },
       [](long long, long long, Rng& r) { return V{demo_int(r, 0, 20)}; }},
      // B plus the sum of i·A for i = 1..n, in a loop: an off-by-one range
      {"total", BugKind::plain, 1, false, 1, 9, 0, 9, false,
       [](long long a, long long b) {
         return "# total(n): " + bug_n(b) + " plus the sum of i times " + bug_n(a) + " for i from 1 to n\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def total(n):\n    t = " + bug_n(b) + "\n    for i in range(1, " + bug_cmp(m & 1U, "n + 1", "n") +
                "):\n        t += i * " + bug_n(a) + "\n    return t\n";
       },
       [](long long a, long long b, const V& in) { return bug_n(b + a * in[0] * (in[0] + 1) / 2); },
       [](long long, long long) {
         return VV{{1}, {4}};
       },
       [](long long, long long, Rng& r) { return V{demo_int(r, 0, 9)}; }},
      // (last item + A)·B: xs[len(xs)] raises IndexError on the buggy line itself
      {"last", BugKind::fine, 1, true, 0, 9, 2, 9, false,
       [](long long a, long long b) {
         return "# last(xs): the last item of xs plus " + bug_n(a) + ", times " + bug_n(b) + "\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def last(xs):\n    y = xs[" + bug_cmp(m & 1U, "-1", "len(xs)") + "] + " + bug_n(a) +
                "\n    return y * " + bug_n(b) + "\n";
       },
       [](long long a, long long b, const V& xs) { return bug_n((xs.back() + a) * b); },
       [](long long a, long long) { return VV{{a}}; },
       [](long long, long long, Rng& r) { return bug_list(r, 1, 5, 0, 20); }},
      // item number A (from 1) plus B: xs[A] is an off-by-one index, an IndexError on its own line
      // when xs has A items
      {"nth", BugKind::fine, 1, true, 1, 6, 0, 13, false,
       [](long long a, long long b) {
         return "# nth(xs): item number " + bug_n(a) + " of xs (counting from 1), plus " + bug_n(b) + "\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def nth(xs):\n    y = xs[" + bug_cmp(m & 1U, bug_n(a - 1).c_str(), bug_n(a).c_str()) +
                "]\n    return y + " + bug_n(b) + "\n";
       },
       [](long long a, long long b, const V& xs) { return bug_n(xs[static_cast<std::size_t>(a - 1)] + b); },
       [](long long a, long long) {
         V xs;
         for (long long i = 0; i < a; ++i) xs.push_back(10 + 3 * i);
         return VV{xs};
       },
       [](long long a, long long, Rng& r) {
         return bug_list(r, static_cast<std::size_t>(a), static_cast<std::size_t>(a) + 3, 0, 30);
       }},
      // 'low' below A, 'high' above B, else 'mid': two clauses, each with its own boundary
      {"grade", BugKind::clauses, 2, false, 1, 9, 1, 9, true,
       [](long long a, long long b) {
         return "# grade(x): 'low' below " + bug_n(a) + ", 'high' above " + bug_n(b) + ", else 'mid'\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def grade(x):\n    if x " + bug_cmp(m & 1U, "<", "<=") + " " + bug_n(a) +
                ":\n        return 'low'\n    if x " + bug_cmp(m & 2U, ">", ">=") + " " + bug_n(b) +
                ":\n        return 'high'\n    return 'mid'\n";
       },
       [](long long a, long long b, const V& in) {
         return std::string(in[0] < a ? "'low'" : in[0] > b ? "'high'" : "'mid'");
       },
       [](long long a, long long b) {
         return VV{{a}, {b}, {a - 1}, {b + 1}};
       },
       [](long long, long long b, Rng& r) { return V{demo_int(r, 0, b + 4)}; }},
      // the items from A to B, both included: two clauses of one condition
      {"window", BugKind::clauses, 2, true, 1, 9, 1, 9, true,
       [](long long a, long long b) {
         return "# window(xs): the items of xs from " + bug_n(a) + " to " + bug_n(b) + ", both included\n";
       },
       [](long long a, long long b, unsigned m) {
         return "def window(xs):\n    return [v for v in xs if v " + bug_cmp(m & 1U, ">=", ">") + " " + bug_n(a) +
                " and v " + bug_cmp(m & 2U, "<=", "<") + " " + bug_n(b) + "]\n";
       },
       [](long long a, long long b, const V& xs) {
         V out;
         for (auto v : xs)
           if (v >= a && v <= b) out.push_back(v);
         return demo_list(out);
       },
       [](long long a, long long b) {
         return VV{{a - 1, a}, {b, b + 1}};
       },
       [](long long, long long b, Rng& r) { return bug_list(r, 0, 5, 0, b + 3); }},
  };
  return families;
}

/// The Python literal of a family's input.
inline std::string bug_input(const BugFamily& f, const std::vector<long long>& in) {
  return f.list_input ? demo_list(in) : std::to_string(in.at(0));
}

/// The `bugs` suite (see SuiteKind).
inline Suite make_bug_suite(const SuiteOptions& options) {
  Suite suite;
  for (const auto& fam : bug_families()) {
    bool wanted = options.families.empty();
    for (const auto& name : options.families) wanted = wanted || fam.name == name;
    if (!wanted) continue;
    // One stream for the instances and tests, another for which references are flawed, so that
    // every flaw_fraction gives the same problems.
    Rng rng = make_rng(options.seed ^ demo_hash(fam.name));
    Rng flaw_rng = make_rng(options.seed ^ demo_hash(fam.name) ^ 0x5bd1e9955bd1e995ULL);
    std::set<std::pair<long long, long long>> used;
    const std::size_t domain = static_cast<std::size_t>((fam.a_hi - fam.a_lo + 1) * (fam.b_hi - fam.b_lo + 1));
    const std::size_t wanted_total = options.sft_per_family + options.rl_per_family + options.heldout_per_family;
    if (wanted_total > domain)
      throw invalid_argument("demo::make_suite: family '" + std::string(fam.name) + "' has " + std::to_string(domain) +
                             " instances, fewer than the " + std::to_string(wanted_total) + " asked for");
    auto make = [&](std::string_view split, std::size_t index, unsigned mask) {
      long long a = 0, b = 0;
      do {
        a = demo_int(rng, fam.a_lo, fam.a_hi);
        b = demo_int(rng, fam.b_lo, fam.b_hi);
      } while (!used.insert({a, b}).second);
      const long long B = fam.b_after_a ? a + b : b;
      Problem prob;
      prob.task_id = "demo/" + std::string(split) + "/" + std::string(fam.name) + "/" + std::to_string(index);
      prob.prompt = fam.prompt(a, B);
      prob.solutions.push_back(fam.solution(a, B, mask));
      prob.entry_point = std::string(fam.name);
      prob.prompt_is_code = true;
      std::set<std::string> seen;
      auto add = [&](const std::vector<long long>& in) {
        std::string code =
            "assert " + std::string(fam.name) + "(" + bug_input(fam, in) + ") == " + fam.expect(a, B, in);
        if (prob.tests.tests.size() < options.tests_per_problem && seen.insert(code).second)
          prob.tests.tests.push_back(TestCase{TestKind::assertion, code, {}, {}});
      };
      for (const auto& in : fam.boundary(a, B)) add(in);
      for (std::size_t t = 0; t < 20 * options.tests_per_problem && prob.tests.tests.size() < options.tests_per_problem;
           ++t)
        add(fam.random_input(a, B, rng));
      Problem clean = prob;
      clean.solutions = {fam.solution(a, B, 0)};
      return std::pair{prob, clean};
    };
    for (std::size_t i = 0; i < options.heldout_per_family; ++i) suite.heldout.push_back(make("heldout", i, 0).second);
    for (std::size_t i = 0; i < options.sft_per_family; ++i) {
      unsigned mask = 0;
      if (rltf::detail::uniform01(flaw_rng) < options.flaw_fraction) {
        // A flawed reference: a non-empty set of its family's bug sites, uniformly.
        const std::size_t subsets = (std::size_t{1} << fam.sites) - 1;
        mask = static_cast<unsigned>(1 + rltf::detail::uniform_index(flaw_rng, subsets));
      }
      auto [flawed, clean] = make("sft", i, mask);
      suite.sft.push_back(std::move(flawed));
      suite.sft_clean.push_back(std::move(clean));
      suite.sft_flawed.push_back(mask != 0);
    }
    for (std::size_t i = 0; i < options.rl_per_family; ++i) suite.rl.push_back(make("rl", i, 0).second);
  }
  return suite;
}

} // namespace detail

/// The names of a suite's families, in generation order.
[[nodiscard]] inline std::vector<std::string> family_names(SuiteKind kind = SuiteKind::bugs) {
  std::vector<std::string> out;
  if (kind == SuiteKind::bugs)
    for (const auto& f : detail::bug_families()) out.emplace_back(f.name);
  else
    for (const auto& f : detail::demo_families()) out.emplace_back(f.name);
  return out;
}

/// Generates the suite. Equal options give equal suites on every platform. Throws
/// rltf::invalid_argument for an unknown family, an unseen_fraction outside [0, 1) or a
/// flaw_fraction outside [0, 1].
[[nodiscard]] inline Suite make_suite(const SuiteOptions& options = {}) {
  if (!(options.unseen_fraction >= 0.0 && options.unseen_fraction < 1.0))
    throw invalid_argument("demo::make_suite: unseen_fraction must be in [0, 1)");
  if (!(options.flaw_fraction >= 0.0 && options.flaw_fraction <= 1.0))
    throw invalid_argument("demo::make_suite: flaw_fraction must be in [0, 1]");
  if (options.tests_per_problem == 0) throw invalid_argument("demo::make_suite: tests_per_problem must be ≥ 1");
  const auto names = family_names(options.kind);
  for (const auto& name : options.families)
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw invalid_argument("demo::make_suite: unknown family '" + name + "' in the " +
                             std::string(to_string(options.kind)) + " suite");
  if (options.kind == SuiteKind::bugs) return detail::make_bug_suite(options);
  const auto& all = detail::demo_families();
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
  suite.sft_clean = suite.sft;
  suite.sft_flawed.assign(suite.sft.size(), false);
  return suite;
}

} // namespace rltf::demo
