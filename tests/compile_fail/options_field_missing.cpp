// An option aggregate whose JSON field list omits a member must not compile: to_json and from_json
// would silently drop it. The control build lists every member.
#include <cstddef>

#include "rltf/core/options_json.hpp"

namespace compile_fail_test {

struct Options {
  std::size_t steps = 1;
  float lr = 0.5F;
};

#ifdef RLTF_COMPILE_FAIL_CONTROL
RLTF_OPTIONS_JSON(Options, steps, lr)
#else
RLTF_OPTIONS_JSON(Options, steps)
#endif

} // namespace compile_fail_test
