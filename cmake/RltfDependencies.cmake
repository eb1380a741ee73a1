# Finds rltf's dependencies for rltf's own build. The installed package finds them again, per
# component, in rltfConfig.cmake.in: keep the two files' versions in step.
set(THREADS_PREFER_PTHREAD_FLAG ON)

# The core, rltf::rltf.
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
# zlib reads the gzip datasets (rltf/data/detail/gzip.hpp): part of rltf::rltf's link interface.
find_package(ZLIB REQUIRED)

# The component eigen, rltf::eigen.
find_package(Eigen3 3.3 REQUIRED NO_MODULE)

# The component xtensor, rltf::xtensor.
find_package(xtensor REQUIRED)
# PCRE2 (UTF + Unicode properties) runs tokenizer.json's Split regexes; ICU's NFC normalizes text
# for tokenizers whose tokenizer.json asks for it (rltf/tokenize/hf.hpp).
find_package(PkgConfig REQUIRED)
pkg_check_modules(RLTF_PCRE2 REQUIRED IMPORTED_TARGET GLOBAL libpcre2-8)
pkg_check_modules(RLTF_ICU_UC REQUIRED IMPORTED_TARGET GLOBAL icu-uc)

# The component torch, rltf::torch: optional. Debian's libtorch-dev ships Caffe2/Torch CMake configs.
if(NOT DEFINED RLTF_WITH_TORCH)
  set(RLTF_WITH_TORCH ON)
endif()
set(RLTF_HAS_TORCH OFF)
if(RLTF_WITH_TORCH)
  find_package(Torch QUIET)
  if(Torch_FOUND)
    set(RLTF_HAS_TORCH ON)
    set(RLTF_TORCH_LINK ${TORCH_LIBRARIES})
  endif()
endif()
