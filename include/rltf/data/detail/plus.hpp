#pragma once
/// \file
/// EvalPlus (HumanEval+, MBPP+) test construction. The released files hold test inputs only; the
/// expected output of each input comes from running the canonical solution on it. We build one
/// assertion test per input that, inside the sandboxed child, calls the reference (in its own
/// namespace) and the candidate on deep copies of the same input and compares them as EvalPlus
/// does: exact equality, the dataset's atol (1e-6 for float outputs when atol is 0) with rtol 1e-7,
/// and EvalPlus's special oracles. Internal.

#include <algorithm>
#include <cstddef>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/problem.hpp"
#include "rltf/data/detail/json.hpp"

namespace rltf::data::detail {

/// Which EvalPlus dataset a task comes from (the special oracles differ).
enum class plus_dataset { humaneval, mbpp };

/// Python expression turning the decoded JSON inputs `X` of an MBPP+ task into the argument types
/// the task expects (tuples, sets, complex numbers), following EvalPlus's MBPP+ v0.2.0 input
/// deserialisation; "X" when the task needs none.
[[nodiscard]] inline std::string mbpp_plus_input_transform(long task) {
  static const std::set<long> tuple_args{2,   116, 132, 143, 222, 261, 273, 394, 399, 421, 424,
                                         429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809};
  static const std::set<long> nested_tuple_args{63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780};
  static const std::set<long> first_list_of_tuples{75, 413, 444, 753};
  static const std::set<long> first_tuple{250, 405, 446, 617, 720, 763, 808};
  static const std::set<long> tuple_of_tuples{259, 401, 445};
  static const std::set<long> all_tuples{580, 615, 791};
  if (tuple_args.count(task)) return "[[tuple(a) for a in inp] for inp in X]";
  if (nested_tuple_args.count(task)) return "[[[tuple(b) for b in a] for a in inp] for inp in X]";
  if (first_list_of_tuples.count(task)) return "[[[tuple(b) for b in inp[0]]] + [inp[1]] for inp in X]";
  if (task == 106 || task == 750) return "[[inp[0]] + [tuple(inp[1])] for inp in X]";
  if (task == 115) return "[[[set(b) if isinstance(b, list) and len(b) else {} for b in inp[0]]] for inp in X]";
  if (task == 124) return "[(float(inp[0]), complex(inp[1])) for inp in X]";
  if (first_tuple.count(task)) return "[[tuple(inp[0])] + [inp[1]] for inp in X]";
  if (tuple_of_tuples.count(task)) return "[[tuple(tuple(b) for b in a) for a in inp] for inp in X]";
  if (task == 278) return "[[tuple(tuple(b) if isinstance(b, list) else b for b in inp[0])] for inp in X]";
  if (task == 307) return "[[tuple(inp[0])] + [inp[1], inp[2]] for inp in X]";
  if (task == 722) return "[[{k: tuple(v) for k, v in inp[0].items()}] + inp[1:] for inp in X]";
  if (task == 252) return "[[complex(inp[0])] for inp in X]";
  if (all_tuples.count(task)) return "[__rltf_deep_tuple(inp) for inp in X]";
  return "X";
}

/// The Python setup code of an EvalPlus task: decodes the inputs, loads the reference solution in
/// its own namespace and defines `__rltf_plus_check(i)`, which asserts that the candidate's output
/// on input i matches the reference's.
[[nodiscard]] inline std::string plus_setup_code(plus_dataset dataset, const std::string& entry_point,
                                                 const std::string& reference_source, const std::string& inputs_json,
                                                 double atol, long mbpp_task) {
  std::string transform = dataset == plus_dataset::mbpp ? mbpp_plus_input_transform(mbpp_task) : "X";
  // The setup runs in the candidate's namespace: use reserved names only.
  if (transform == "X")
    transform = "__rltf_raw";
  else
    transform.replace(transform.rfind(" in X]"), 6, " in __rltf_raw]");
  std::string oracle = "none";
  if (dataset == plus_dataset::humaneval && entry_point == "find_zero") oracle = "poly";
  if (dataset == plus_dataset::mbpp) {
    static const std::set<std::string> set_eq{
        "similar_elements", "find_char_long",     "common_in_nested_lists", "extract_singly",
        "larg_nnum",        "intersection_array", "find_dissimilar",        "Diff"};
    static const std::set<std::string> not_none{"check_str", "text_match_three", "text_starta_endb"};
    if (entry_point == "are_equivalent") oracle = "any";
    if (entry_point == "sum_div") oracle = "or_zero";
    if (set_eq.count(entry_point)) oracle = "set";
    if (not_none.count(entry_point)) oracle = "not_none";
  }
  std::string s;
  s += "import copy as __rltf_copy, json as __rltf_json, math as __rltf_math\n";
  s += "def __rltf_deep_tuple(x):\n"
       "    return tuple(__rltf_deep_tuple(v) for v in x) if isinstance(x, list) else x\n";
  s += "__rltf_raw = __rltf_json.loads(" + python_literal(inputs_json) + ")\n";
  s += "__rltf_inputs = " + transform + "\n";
  s += "del __rltf_raw\n";
  s += "__rltf_reference_ns = {'__name__': '__rltf_reference__'}\n";
  s += "exec(compile(" + python_literal(reference_source) + ", '<reference>', 'exec'), __rltf_reference_ns)\n";
  s += "__rltf_reference = __rltf_reference_ns[" + python_literal(entry_point) + "]\n";
  s += "__rltf_atol = " + nlohmann::json(atol).dump() + "\n";
  s += "__rltf_oracle = " + python_literal(oracle) + "\n";
  s += R"PY(def __rltf_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(v, float) for v in x)
    return False
def __rltf_allclose(out, exp, rtol, atol):
    if isinstance(out, bool) != isinstance(exp, bool):
        return False
    if isinstance(out, (int, float)) and isinstance(exp, (int, float)):
        return abs(out - exp) <= atol + rtol * abs(exp)
    if isinstance(out, (list, tuple)) and isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(__rltf_allclose(o, e, rtol, atol) for o, e in zip(out, exp))
    return False
def __rltf_short(x):
    r = repr(x)
    return r if len(r) <= 120 else r[:117] + '...'
def __rltf_plus_check(i):
    inp = __rltf_inputs[i]
    exp = __rltf_reference(*__rltf_copy.deepcopy(inp))
    if __rltf_oracle == 'not_none':
        exp = exp is not None
)PY";
  s += "    out = " + entry_point + "(*__rltf_copy.deepcopy(inp))\n";
  s += R"PY(    if __rltf_oracle == 'not_none':  # the only use of `out` that a non-data result allows
        exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    else:
        exact = out == exp
    if __rltf_oracle == 'any':
        exact = True
    elif __rltf_oracle == 'or_zero':
        exact = exact or out == 0
    elif __rltf_oracle == 'set':
        exact = set(out) == set(exp)
    elif __rltf_oracle == 'poly':
        assert abs(sum(c * out ** k for k, c in enumerate(inp[0]))) <= __rltf_atol, \
            'input %d: find_zero(%s) = %s is not a root' % (i, __rltf_short(inp), __rltf_short(out))
        return
    atol = __rltf_atol
    if atol == 0 and __rltf_is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        assert __rltf_allclose(out, exp, 1e-7, atol), \
            'input %d: expected %s, got %s' % (i, __rltf_short(exp), __rltf_short(out))
    else:
        assert exact, 'input %d: expected %s, got %s' % (i, __rltf_short(exp), __rltf_short(out))
)PY";
  return s;
}

/// An EvalPlus input list: an array of argument lists (an empty object, as Mbpp/793's plus_input
/// is stored, counts as no inputs).
/// Inputs are kept as raw JSON text so that big integers and NaN/Infinity reach Python unchanged.
[[nodiscard]] inline std::vector<std::string_view> plus_inputs(const nlohmann::json& obj, std::string_view row,
                                                               const char* key, json_where w) {
  const auto& v = require_field(obj, key, w);
  if (v.is_object() && v.empty()) return {};
  if (!v.is_array()) throw parse_error(w.file, w.line, key, "expected an array of argument lists, got " + json_type(v));
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!v[i].is_array())
      throw parse_error(w.file, w.line, std::string(key) + "[" + std::to_string(i) + "]",
                        "expected an array of arguments, got " + json_type(v[i]));
  auto raw = json_raw_elements(json_raw_member(row, key));
  if (raw.size() != v.size()) throw parse_error(w.file, w.line, key, "could not delimit the inputs in the line's text");
  return raw;
}

/// The tests of an EvalPlus task: one assertion test per selected input.
[[nodiscard]] inline TestSuite plus_suite(plus_dataset dataset, const std::string& entry_point,
                                          const std::string& reference_source,
                                          const std::vector<std::string_view>& base,
                                          const std::vector<std::string_view>& plus, std::size_t max_plus, double atol,
                                          long mbpp_task) {
  std::string inputs = "[";
  std::size_t count = 0;
  const auto add = [&](std::string_view x) {
    if (count++ != 0) inputs += ",";
    inputs += x;
  };
  for (const auto x : base) add(x);
  const std::size_t take = std::min(max_plus, plus.size());
  for (std::size_t i = 0; i < take; ++i) add(plus[i]);
  inputs += "]";
  TestSuite suite;
  suite.setup_code = plus_setup_code(dataset, entry_point, reference_source, inputs, atol, mbpp_task);
  suite.tests.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    suite.tests.push_back(TestCase{TestKind::assertion, "__rltf_plus_check(" + std::to_string(i) + ")", "", ""});
  return suite;
}

/// One row of an EvalPlus release (HumanEval+ or MBPP+) as a Problem: task_id, prompt, the
/// canonical solution, entry_point, and one test per base (if `base_inputs`) and plus input,
/// checked against the reference program. Errors name the file, line and field.
[[nodiscard]] inline Problem plus_problem(plus_dataset dataset, const nlohmann::json& j, std::string_view row,
                                          json_where w, bool base_inputs, std::size_t max_plus_inputs) {
  Problem p;
  p.task_id = require_string(j, "task_id", w);
  long mbpp_task = 0;
  if (dataset == plus_dataset::mbpp) {
    const auto slash = p.task_id.rfind('/');
    try {
      mbpp_task = std::stol(p.task_id.substr(slash == std::string::npos ? 0 : slash + 1));
    } catch (const std::exception&) {
      throw parse_error(w.file, w.line, "task_id", "expected 'Mbpp/<number>', got '" + p.task_id + "'");
    }
  }
  p.prompt = require_string(j, "prompt", w);
  const std::string canonical = require_string(j, "canonical_solution", w);
  p.solutions.push_back(canonical);
  p.entry_point = require_string(j, "entry_point", w);
  if (p.entry_point.empty()) throw parse_error(w.file, w.line, "entry_point", "must not be empty");
  // HumanEval's prompt is the function's signature and docstring, completed by the solution;
  // MBPP's is an instruction, and the solution is the whole program.
  p.prompt_is_code = dataset == plus_dataset::humaneval;
  const auto base = plus_inputs(j, row, "base_input", w);
  const auto plus = plus_inputs(j, row, "plus_input", w);
  const double atol = require_number(j, "atol", w);
  p.tests = plus_suite(dataset, p.entry_point, p.prompt_is_code ? p.prompt + canonical : canonical,
                       base_inputs ? base : std::vector<std::string_view>{}, plus, max_plus_inputs, atol, mbpp_task);
  return p;
}

} // namespace rltf::data::detail
