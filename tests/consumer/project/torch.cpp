// A user's program on the LibTorch backend (rltf::torch): the loss of main.cpp on torch tensors.
#include <rltf/algo/policy_gradient.hpp>
#include <rltf/torch/backend.hpp>

#include <iostream>
#include <vector>

int main() {
  using B = rltf::TorchBackend;
  const auto logp = B::from_values(std::vector<float>{-1, -2, 0, -0.5F, 0, 0}, {2, 3});
  const auto rewards = B::from_values(std::vector<float>{1, 2, 5, -1, 3, 3}, {2, 3});
  const auto mask = B::from_values(std::vector<float>{1, 1, 0, 1, 0, 0}, {2, 3});
  std::cout << "consumer_torch ok: loss " << B::item(rltf::algo::policy_gradient_loss<B>(logp, rewards, mask)) << '\n';
}
