// A user's program on the core alone (rltf::rltf): no tensor library, no LibTorch.
#include <rltf/rltf.hpp>

#include <cmath>
#include <iostream>

int main() {
  const double p = rltf::eval::pass_at_k(5, 2, 2); // 1 - C(3,2) / C(5,2)
  if (std::abs(p - 0.7) > 1e-12) return 1;
  std::cout << "consumer_core ok: pass@2 " << p << '\n';
}
