// safetensors ↔ torch::Tensor: dtypes, the host F16/BF16 conversions against LibTorch's, round trips.

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <rltf/formats/safetensors.hpp>
#include <rltf/torch/safetensors.hpp>

TEST_CASE("torch safetensors: F32/F16/BF16/I64 tensors round trip; host conversions match LibTorch's") {
  const auto dir = std::filesystem::path(RLTF_BINARY_DIR) / "torch_safetensors_test";
  std::filesystem::create_directories(dir);
  auto gen = at::detail::createCPUGenerator(5);
  const torch::Tensor f32 = torch::randn({64, 33}, gen) * 1000;
  std::map<std::string, torch::Tensor> tensors = {
      {"f32", f32},
      {"f16", f32.to(torch::kFloat16)},
      {"bf16", f32.to(torch::kBFloat16)},
      {"i64", torch::arange(-5, 5, torch::kInt64).view({2, 5})},
      {"strided", f32.t()}, // non-contiguous: written row-major
  };
  rltf::save_safetensors(dir / "t.safetensors", tensors);
  const auto loaded = rltf::load_safetensors(dir / "t.safetensors");
  REQUIRE(loaded.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    CAPTURE(name);
    CHECK((loaded.at(name).scalar_type() == t.scalar_type()));
    CHECK(torch::equal(loaded.at(name), t));
  }
  // the torch-free conversions give LibTorch's rounding, bit for bit
  const auto file = rltf::safetensors::File::open(dir / "t.safetensors");
  const std::vector<float> values = file.to_f32("f32");
  const auto f16_bytes = rltf::safetensors::from_f32(rltf::safetensors::Dtype::F16, values);
  const auto bf16_bytes = rltf::safetensors::from_f32(rltf::safetensors::Dtype::BF16, values);
  const auto f16_file = file.data("f16");
  const auto bf16_file = file.data("bf16");
  CHECK(std::equal(f16_bytes.begin(), f16_bytes.end(), f16_file.begin(), f16_file.end()));
  CHECK(std::equal(bf16_bytes.begin(), bf16_bytes.end(), bf16_file.begin(), bf16_file.end()));
  CHECK(torch::equal(torch::tensor(file.to_f32("f16")).view({64, 33}), tensors["f16"].to(torch::kFloat32)));
  CHECK(torch::equal(torch::tensor(file.to_f32("bf16")).view({64, 33}), tensors["bf16"].to(torch::kFloat32)));
  // every half bit pattern converts to float as LibTorch does
  const torch::Tensor all = torch::arange(0, 65536, torch::kInt32).to(torch::kInt16);
  const torch::Tensor as_half = all.view(torch::kFloat16).to(torch::kFloat32);
  std::vector<float> mine(65536);
  for (std::uint32_t h = 0; h < 65536; ++h) mine[h] = rltf::formats::detail::f16_to_f32(static_cast<std::uint16_t>(h));
  const torch::Tensor ours = torch::tensor(mine);
  CHECK(torch::equal(ours.isnan(), as_half.isnan()));
  CHECK(torch::equal(torch::nan_to_num(ours, 0), torch::nan_to_num(as_half, 0)));
  CHECK_THROWS_AS(
      rltf::save_safetensors(dir / "u.safetensors",
                             std::map<std::string, torch::Tensor>{{"c", torch::zeros({2}, torch::kComplexFloat)}}),
      rltf::invalid_argument);
  std::filesystem::remove_all(dir);
}
