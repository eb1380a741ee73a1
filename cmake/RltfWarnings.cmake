# Warning and sanitizer settings for rltf's own tests, examples and benchmarks.
# Never attached to the exported targets: nothing leaks to consumers.
add_library(rltf_warnings INTERFACE)
target_compile_options(rltf_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror=return-type
  # GCC < 14 warns when a designated initializer omits members that have default member
  # initializers, which is exactly how rltf's option aggregates are meant to be used.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-missing-field-initializers>)
if(RLTF_WERROR)
  target_compile_options(rltf_warnings INTERFACE -Werror)
endif()

add_library(rltf_sanitize INTERFACE)
if(RLTF_SANITIZE)
  target_compile_options(rltf_sanitize INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                                 -fno-omit-frame-pointer)
  target_link_options(rltf_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# rltf_add_program(NAME SOURCES... [TORCH]) — an executable linked to the core (and the torch backend).
# rltf_programs: what the programs share and the library does not install (command lines, plots,
# the demo's harness): examples/common/rltf_programs/ and examples/rltf_demo/.
add_library(rltf_programs INTERFACE)
target_include_directories(rltf_programs INTERFACE ${PROJECT_SOURCE_DIR}/examples/common ${PROJECT_SOURCE_DIR}/examples)
# The programs' command lines are CLI11 (Debian libcli11-dev, header-only); the library does not use it.
find_package(CLI11 2.1 CONFIG REQUIRED)
target_link_libraries(rltf_programs INTERFACE CLI11::CLI11)

function(rltf_add_program name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE rltf::rltf rltf_programs rltf_warnings ${ARG_LIBS})
  if(ARG_TORCH)
    target_link_libraries(${name} PRIVATE rltf::torch)
  else()
    target_link_libraries(${name} PRIVATE rltf_sanitize)
  endif()
endfunction()
