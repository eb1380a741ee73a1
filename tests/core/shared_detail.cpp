// The internals several folders share: the bounded whole-file read (rltf/detail/file.hpp) and the
// typed JSON field checks (rltf/detail/json.hpp), used by data/, tokenize/, formats/ and options.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "rltf/detail/file.hpp"
#include "rltf/detail/json.hpp"

namespace shared_detail_test {

namespace fs = std::filesystem;

inline fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(RLTF_BINARY_DIR) / "test-scratch" / "shared_detail" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

} // namespace shared_detail_test

TEST_CASE("read_file: the exact bytes, bounded, with errors naming the file") {
  using namespace shared_detail_test;
  const auto dir = scratch_dir("read");
  std::string bytes;
  for (std::size_t i = 0; i < 200000; ++i) bytes.push_back(static_cast<char>((i * 7919) % 256)); // NULs included
  const auto path = dir / "data.bin";
  std::ofstream(path, std::ios::binary) << bytes;
  CHECK(rltf::detail::read_file(path, bytes.size()) == bytes); // exactly at the limit
  CHECK(rltf::detail::read_file(path, std::size_t{1} << 30) == bytes);
  CHECK_THROWS_AS((void)rltf::detail::read_file(path, bytes.size() - 1), rltf::io_error);
  CHECK(message_of([&] { (void)rltf::detail::read_file(path, 1000); }) ==
        "'" + path.string() + "' is larger than the limit of 1000 bytes for this file");
  const auto empty = dir / "empty";
  std::ofstream(empty).flush();
  CHECK(rltf::detail::read_file(empty, 0).empty());
  CHECK(message_of([&] { (void)rltf::detail::read_file(dir / "absent", 10); }) ==
        "cannot open '" + (dir / "absent").string() + "' for reading");
  CHECK_THROWS_AS((void)rltf::detail::read_file(dir, 10), rltf::io_error); // a directory is not a file
}

TEST_CASE("shared JSON checks: syntax errors by line, typed fields by file, line and name") {
  using namespace shared_detail_test;
  try {
    (void)rltf::detail::parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}", "x.json");
    FAIL("no error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == "x.json");
    CHECK(e.line() == 3);
  }
  const std::string file = "rows.jsonl";
  const rltf::detail::json_where w{file, 4};
  const auto row = nlohmann::json::parse(R"({"s": "x", "n": 3, "id": 11, "list": ["a", 2], "num": "0.5",
                                            "neg": -2, "nested": {"k": 1}})");
  CHECK(rltf::detail::require_string(row, "s", w) == "x");
  CHECK(message_of([&] { (void)rltf::detail::require_string(row, "n", w); }) ==
        "rows.jsonl:4: field 'n': expected a string, got number");
  CHECK(message_of([&] { (void)rltf::detail::require_string(row, "absent", w); }) ==
        "rows.jsonl:4: field 'absent': missing");
  CHECK(rltf::detail::optional_string(row, "absent", w, "d") == "d");
  CHECK(rltf::detail::require_id(row, "id", w) == "11");
  CHECK(message_of([&] { (void)rltf::detail::require_strings(row, "list", w); }) ==
        "rows.jsonl:4: field 'list[1]': expected a string, got number");
  CHECK(message_of([&] { (void)rltf::detail::require_array(row, "s", w); }) ==
        "rows.jsonl:4: field 's': expected an array, got string");
  CHECK(rltf::detail::require_number(row, "num", w) == 0.5);
  CHECK(rltf::detail::require_number(row, "n", w) == 3.0);
  CHECK(rltf::detail::expect_unsigned(row.at("n"), w, "n") == 3);
  CHECK(message_of([&] { (void)rltf::detail::expect_unsigned(row.at("neg"), w, "neg"); }) ==
        "rows.jsonl:4: field 'neg': must not be negative, got -2");
  CHECK(message_of([&] { (void)rltf::detail::expect_unsigned(row.at("s"), w, "s"); }) ==
        "rows.jsonl:4: field 's': must be a non-negative integer, got \"x\"");
  // A nested field is named by its path.
  CHECK(message_of([&] { (void)rltf::detail::require_field(row.at("nested"), "j", w, "nested.j"); }) ==
        "rows.jsonl:4: field 'nested.j': missing");
  CHECK(rltf::detail::json_brief(std::string(100, 'a')).size() == 64);
}
