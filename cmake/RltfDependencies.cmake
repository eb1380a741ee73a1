# Finds rltf's dependencies. Used by the build tree and by the installed package.
include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(xtensor REQUIRED)
# zlib reads the gzip datasets (rltf/data/detail/gzip.hpp): part of rltf::rltf's link interface.
find_package(ZLIB REQUIRED)

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
