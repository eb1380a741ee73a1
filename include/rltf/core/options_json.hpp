#pragma once
/// \file
/// Option aggregates to and from JSON, both directions generated from ONE field list per aggregate,
/// so that they cannot drift apart:
///
/// \code
/// struct MyOptions { std::size_t steps = 10; float lr = 1e-3F; rltf::algo::Reduction reduction{}; };
/// RLTF_OPTIONS_JSON(MyOptions, steps, lr, reduction) // at namespace scope, in MyOptions' namespace
///
/// nlohmann::json j = MyOptions{};                       // {"lr": 0.001, "reduction": "token_mean", "steps": 10}
/// auto o = j.get<MyOptions>();                          // and back
/// auto run = rltf::load_options<rltf::RltfOptions>("run.json"); // a file, errors name it
/// \endcode
///
/// Reading is strict: an unknown key or a value of the wrong type is an error naming the full key
/// path (`rollout.sampling.temperature: expected a number, got "hot"`); a missing key keeps the
/// value already there (the aggregate's default when read into a fresh one, or the enclosing
/// aggregate's default for a nested one, e.g. GrpoOptions' 8 samples per problem). Enums are
/// written and read by name, from a table declared with RLTF_ENUM_JSON(E, table). A field list
/// that omits a member of the aggregate does not compile (the members are counted).

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/preprocessor/seq/for_each.hpp>
#include <boost/preprocessor/stringize.hpp>
#include <boost/preprocessor/variadic/to_seq.hpp>
#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/detail/file.hpp"
#include "rltf/detail/json.hpp"

namespace rltf {

/// An option value that JSON cannot give: an unknown key, a wrong type, an unknown enum name.
/// key_path() is the full path of the offending key ("rollout.sampling.temperature", "k[2]"; empty
/// for the document itself), reason() what was wrong; what() is "key_path: reason".
class options_error : public invalid_argument {
public:
  options_error(std::string key_path, std::string reason)
      : invalid_argument(key_path.empty() ? reason : key_path + ": " + reason), key_path_(std::move(key_path)),
        reason_(std::move(reason)) {}

  [[nodiscard]] const std::string& key_path() const noexcept { return key_path_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
  std::string key_path_;
  std::string reason_;
};

namespace detail {

/// One member of an option aggregate: its JSON key and its pointer to member.
template <class S, class M>
struct option_field {
  std::string_view name;
  M S::*member;
};

/// True for aggregates declared with RLTF_OPTIONS_JSON (their field list is found by ADL).
template <class T>
concept json_options = requires {
  rltf_option_fields(std::type_identity<T>{});
};

/// True for enums declared with RLTF_ENUM_JSON (their name table is found by ADL).
template <class E>
concept json_enum = std::is_enum_v<E> && requires {
  rltf_enum_names(std::type_identity<E>{});
};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

/// Converts to anything: counts an aggregate's members (T{any, any, ...} compiles up to their number).
struct any_member {
  template <class U>
  operator U() const; // NOLINT(google-explicit-constructor): declared only, for unevaluated use
};

template <class T, std::size_t... I>
consteval bool brace_initializable(std::index_sequence<I...>) {
  return requires { T{(static_cast<void>(I), any_member{})...}; };
}

/// The number of members of the aggregate T.
template <class T, std::size_t N = 0>
consteval std::size_t member_count() {
  if constexpr (N > 64 || !brace_initializable<T>(std::make_index_sequence<N + 1>{}))
    return N;
  else
    return member_count<T, N + 1>();
}

[[nodiscard]] inline std::string join_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

template <class T>
[[nodiscard]] nlohmann::json option_value_to_json(const T& value);

template <class T>
void option_value_from_json(const nlohmann::json& j, T& out, const std::string& path);

/// The names of the enum E, for messages: "a", "b" or "c".
template <class E>
[[nodiscard]] std::string enum_choices() {
  const auto names = rltf_enum_names(std::type_identity<E>{});
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += "\"" + std::string(names[i].first) + "\"";
  }
  return out;
}

template <class T>
[[nodiscard]] nlohmann::json option_value_to_json(const T& value) {
  if constexpr (json_options<T>) {
    nlohmann::json j = nlohmann::json::object();
    std::apply([&](const auto&... f) { ((j[std::string(f.name)] = option_value_to_json(value.*(f.member))), ...); },
               rltf_option_fields(std::type_identity<T>{}));
    return j;
  } else if constexpr (json_enum<T>) {
    for (const auto& [name, v] : rltf_enum_names(std::type_identity<T>{}))
      if (v == value) return std::string(name);
    throw invalid_argument("rltf options: enum value " + std::to_string(static_cast<std::underlying_type_t<T>>(value)) +
                           " has no name");
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return value.string();
  } else if constexpr (is_vector<T>::value) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : value) j.push_back(option_value_to_json(v));
    return j;
  } else if constexpr (is_optional<T>::value) {
    return value ? option_value_to_json(*value) : nlohmann::json(nullptr);
  } else {
    static_assert(std::is_arithmetic_v<T> || std::is_same_v<T, std::string>,
                  "rltf options: a field of this type has no JSON form; declare its aggregate with "
                  "RLTF_OPTIONS_JSON or its enum with RLTF_ENUM_JSON");
    return value;
  }
}

[[noreturn]] inline void option_type_error(const std::string& path, std::string_view expected,
                                           const nlohmann::json& got) {
  throw options_error(path, "expected " + std::string(expected) + ", got " + json_brief(got));
}

template <class T>
void option_value_from_json(const nlohmann::json& j, T& out, const std::string& path) {
  if constexpr (json_options<T>) {
    if (!j.is_object()) option_type_error(path, "an object", j);
    const auto fields = rltf_option_fields(std::type_identity<T>{});
    for (const auto& [key, value] : j.items()) {
      bool known = false;
      std::apply(
          [&](const auto&... f) {
            ((f.name == key ? (option_value_from_json(value, out.*(f.member), join_key(path, key)), known = true)
                            : false),
             ...);
          },
          fields);
      if (!known) {
        std::string names;
        std::apply([&](const auto&... f) { ((names += (names.empty() ? "" : ", ") + std::string(f.name)), ...); },
                   fields);
        throw options_error(join_key(path, key), "unknown key (known keys: " + names + ")");
      }
    }
  } else if constexpr (json_enum<T>) {
    if (j.is_string()) {
      const auto& s = j.get_ref<const std::string&>();
      for (const auto& [name, v] : rltf_enum_names(std::type_identity<T>{}))
        if (name == s) {
          out = v;
          return;
        }
    }
    option_type_error(path, enum_choices<T>(), j);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) option_type_error(path, "true or false", j);
    out = j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_unsigned_v<T>) {
      if (!j.is_number_unsigned()) option_type_error(path, "a non-negative integer", j);
      const auto v = j.get<std::uint64_t>();
      if (v > std::numeric_limits<T>::max())
        throw options_error(path, "expected an integer ≤ " + std::to_string(std::numeric_limits<T>::max()) + ", got " +
                                      json_brief(j));
      out = static_cast<T>(v);
    } else {
      if (!j.is_number_integer() || (j.is_number_unsigned() && j.get<std::uint64_t>() > std::uint64_t{1} << 63))
        option_type_error(path, "an integer", j);
      const auto v = j.get<std::int64_t>();
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
        throw options_error(path, "expected an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                                      std::to_string(std::numeric_limits<T>::max()) + "], got " + json_brief(j));
      out = static_cast<T>(v);
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) option_type_error(path, "a number", j);
    const auto v = j.get<double>();
    if (std::isfinite(v) && std::abs(v) > static_cast<double>(std::numeric_limits<T>::max()))
      throw options_error(path, "the number " + json_brief(j) + " is out of range");
    out = static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) option_type_error(path, "a string", j);
    out = j.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    if (!j.is_string()) option_type_error(path, "a string (a path)", j);
    out = j.get<std::string>();
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) option_type_error(path, "an array", j);
    T values(j.size());
    for (std::size_t i = 0; i < j.size(); ++i)
      option_value_from_json(j[i], values[i], path + "[" + std::to_string(i) + "]");
    out = std::move(values);
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) {
      out.reset();
    } else {
      typename T::value_type v = out.value_or(typename T::value_type{});
      option_value_from_json(j, v, path);
      out = std::move(v);
    }
  } else {
    static_assert(std::is_same_v<T, void>, "rltf options: a field of this type cannot be read from JSON; declare its "
                                           "aggregate with RLTF_OPTIONS_JSON or its enum with RLTF_ENUM_JSON");
  }
}

/// Checks at compile time that a field list names every member of its aggregate exactly once.
template <class T, class Fields>
consteval bool field_list_complete(const Fields& fields) {
  constexpr std::size_t listed = std::tuple_size_v<Fields>;
  static_assert(listed == member_count<T>(),
                "RLTF_OPTIONS_JSON: the field list must name every member of the aggregate (in any order)");
  const auto names =
      std::apply([](const auto&... f) { return std::array<std::string_view, listed>{f.name...}; }, fields);
  bool distinct = true;
  for (std::size_t i = 0; i < listed; ++i)
    for (std::size_t j = i + 1; j < listed; ++j) distinct = distinct && names[i] != names[j];
  return distinct;
}

} // namespace detail

/// Reads `j` into `options` in place: the keys present replace the values they name, the others
/// keep theirs. Throws rltf::options_error naming the key path on an unknown key or a wrong type.
template <detail::json_options T>
void options_from_json(const nlohmann::json& j, T& options) {
  detail::option_value_from_json(j, options, "");
}

/// Reads the option aggregate T from the JSON file `path`, on top of `defaults` (T's own defaults
/// unless given). Throws rltf::io_error when the file cannot be read (or exceeds 16 MiB) and
/// rltf::parse_error naming the file, and the line of a syntax error or the key path of a bad value.
template <detail::json_options T>
[[nodiscard]] T load_options(const std::filesystem::path& path, T defaults = T{}) {
  const std::string file = path.string();
  const nlohmann::json j = detail::parse_json(detail::read_file(path, std::size_t{16} << 20), file);
  try {
    detail::option_value_from_json(j, defaults, "");
  } catch (const options_error& e) {
    throw parse_error(file, 0, e.key_path(), e.reason());
  }
  return defaults;
}

} // namespace rltf

/// \cond
#define RLTF_DETAIL_OPTION_FIELD(r, T, name)                                                                           \
  , std::make_tuple(::rltf::detail::option_field<T, decltype(T::name)>{BOOST_PP_STRINGIZE(name), &T::name})
/// \endcond

/// Declares the JSON form of the option aggregate T from its field list, at namespace scope in
/// T's namespace: `to_json` and `from_json` for nlohmann::json (found by ADL), both generated from
/// the list. Every member must be listed (checked at compile time).
#define RLTF_OPTIONS_JSON(T, ...)                                                                                      \
  [[maybe_unused]] constexpr auto rltf_option_fields(std::type_identity<T>) {                                          \
    return std::tuple_cat(                                                                                             \
        std::tuple<> {} BOOST_PP_SEQ_FOR_EACH(RLTF_DETAIL_OPTION_FIELD, T, BOOST_PP_VARIADIC_TO_SEQ(__VA_ARGS__)));    \
  }                                                                                                                    \
  static_assert(::rltf::detail::field_list_complete<T>(rltf_option_fields(std::type_identity<T>{})),                   \
                "RLTF_OPTIONS_JSON(" #T "): a member is listed twice");                                                \
  [[maybe_unused]] inline void to_json(nlohmann::json& j, const T& v) { j = ::rltf::detail::option_value_to_json(v); } \
  [[maybe_unused]] inline void from_json(const nlohmann::json& j, T& v) { ::rltf::options_from_json(j, v); }

/// Declares the JSON names of the enum E: `table` is a range of {name, value} pairs (e.g.
/// rltf::algo::baselines), at namespace scope in E's namespace.
#define RLTF_ENUM_JSON(E, table)                                                                                       \
  [[maybe_unused]] constexpr std::span<const std::pair<std::string_view, E>> rltf_enum_names(std::type_identity<E>) {  \
    return table;                                                                                                      \
  }
