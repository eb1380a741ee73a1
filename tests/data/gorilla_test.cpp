#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <doctest/doctest.h>

#include "rltf/data/gorilla.hpp"

namespace {
const std::string gorilla_data_dir = std::string(RLTF_SOURCE_DIR) + "/data/gorilla/";

std::filesystem::path write_gorilla_temp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("rltf_gorilla_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}
} // namespace

TEST_CASE("load_gorilla_apis: the bundled API database") {
  const auto apis = rltf::load_gorilla_apis(gorilla_data_dir + "huggingface_api.jsonl.gz");
  REQUIRE(apis.size() == 936);
  const auto& a = apis.front();
  CHECK(a.domain == "Natural Language Processing Feature Extraction");
  CHECK(a.framework == "Hugging Face Transformers");
  CHECK(a.functionality == "Feature Extraction");
  CHECK(a.api_name == "YituTech/conv-bert-base");
  CHECK(a.api_call == "AutoModel.from_pretrained('YituTech/conv-bert-base')");
  CHECK(a.api_arguments == "N/A");
  CHECK(a.python_environment_requirements == "transformers");
  std::set<std::string> domains;
  for (const auto& x : apis) domains.insert(x.domain);
  CHECK(domains.size() == 40);
}

TEST_CASE("load_gorilla_examples: the bundled eval set, instruction and reference code parsed") {
  const auto ex = rltf::load_gorilla_examples(gorilla_data_dir + "huggingface_eval.jsonl.gz");
  REQUIRE(ex.size() == 911);
  const auto& e = ex.front();
  CHECK(e.question_id == 1);
  CHECK(e.instruction.starts_with("Design a feature for a social media website to recommend articles"));
  CHECK(e.instruction.find("###") == std::string::npos);
  CHECK(e.api_call == "AutoModel.from_pretrained('princeton-nlp/unsup-simcse-roberta-base')");
  CHECK(e.api_name == "princeton-nlp/unsup-simcse-roberta-base");
  CHECK(e.domain == "Natural Language Processing Sentence Similarity");
  CHECK(e.provider == "Hugging Face Transformers");
  CHECK(e.code.starts_with("from transformers import AutoTokenizer, AutoModel"));
  std::size_t with_code = 0;
  for (const auto& x : ex) with_code += x.code.empty() ? 0 : 1;
  CHECK(with_code == 887);                             // "<<<code>>>:" is in 887 of the 911 records
  CHECK(ex[40].code.find("```") == std::string::npos); // line 41 ends its code with a fence, removed
}

TEST_CASE("load_gorilla_*: bad input names the file, line and field") {
  const std::string good_api =
      R"J({"domain": "d", "framework": "f", "functionality": "x", "api_name": "n", "api_call": "c()", "api_arguments": null, "python_environment_requirements": [], "example_code": null, "performance": {}, "description": "s"})J";
  const auto p1 = write_gorilla_temp("apis.jsonl", good_api + "\n" + R"J({"domain": "d", "framework": "f"})J" + "\n");
  try {
    (void)rltf::load_gorilla_apis(p1);
    FAIL("no error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.file() == p1.string());
    CHECK(e.line() == 2);
    CHECK(e.field() == "functionality");
  }
  const auto p2 = write_gorilla_temp(
      "eval.jsonl",
      R"J({"code": "###Instruction: do\n###Output: x", "api_call": "c()", "provider": "p", "api_data": {"domain": 3}})J"
      "\n");
  try {
    (void)rltf::load_gorilla_examples(p2);
    FAIL("no error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.line() == 1);
    CHECK(e.field() == "api_data.domain");
  }
  const auto p3 = write_gorilla_temp("eval2.jsonl", "\n{\"code\": 1}\n");
  try {
    (void)rltf::load_gorilla_examples(p3);
    FAIL("no error");
  } catch (const rltf::parse_error& e) {
    CHECK(e.line() == 2);
    CHECK(e.field() == "code");
  }
  const auto p4 = write_gorilla_temp("eval3.jsonl", "{not json\n");
  CHECK_THROWS_AS((void)rltf::load_gorilla_examples(p4), rltf::parse_error);
}

TEST_CASE("split_gorilla: seeded, disjoint, sized by the fractions, each part in input order") {
  const auto ex = rltf::load_gorilla_examples(gorilla_data_dir + "huggingface_eval.jsonl.gz");
  const auto s = rltf::split_gorilla(ex, {.sft = 0.5, .rl = 0.3, .seed = 7});
  CHECK(s.sft.size() == 456); // round(455.5)
  CHECK(s.rl.size() == 273);  // round(273.3)
  CHECK(s.heldout.size() == 911 - 456 - 273);
  std::set<std::size_t> ids;
  for (const auto* part : {&s.sft, &s.rl, &s.heldout}) {
    for (std::size_t i = 1; i < part->size(); ++i) CHECK((*part)[i - 1].question_id < (*part)[i].question_id);
    for (const auto& x : *part) ids.insert(x.question_id);
  }
  CHECK(ids.size() == 911);
  const auto again = rltf::split_gorilla(ex, {.sft = 0.5, .rl = 0.3, .seed = 7});
  CHECK(again.rl.front().question_id == s.rl.front().question_id);
  const auto other = rltf::split_gorilla(ex, {.sft = 0.5, .rl = 0.3, .seed = 8});
  bool differs = false;
  for (std::size_t i = 0; i < s.sft.size(); ++i) differs = differs || other.sft[i].question_id != s.sft[i].question_id;
  CHECK(differs);
  CHECK_THROWS_AS((void)rltf::split_gorilla(ex, {.sft = 0.8, .rl = 0.3}), rltf::invalid_argument);
}
