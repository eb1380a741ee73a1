# Finds rltf's dependencies. Used by the build tree and by the installed package.
include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(range-v3 REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(xtensor REQUIRED)
# PCRE2 (UTF + Unicode properties) runs tokenizer.json's Split regexes; ICU's NFC normalizes text
# for tokenizers whose tokenizer.json asks for it (rltf/tokenize/hf.hpp).
find_package(PkgConfig REQUIRED)
pkg_check_modules(RLTF_PCRE2 REQUIRED IMPORTED_TARGET GLOBAL libpcre2-8)
pkg_check_modules(RLTF_ICU_UC REQUIRED IMPORTED_TARGET GLOBAL icu-uc)

# LibTorch is optional. Debian's libtorch-dev ships Caffe2/Torch CMake configs.
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
