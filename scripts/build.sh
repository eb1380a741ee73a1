#!/usr/bin/env bash
# Configures and builds rltf in build/release (or $RLTF_BUILD_DIR). Extra arguments go to CMake's
# configure step; RLTF_TARGETS (space-separated) builds only those targets (default: everything).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${RLTF_BUILD_DIR:-$root/build/release}
jobs=${RLTF_JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRLTF_WERROR=ON "$@"
targets=()
for t in ${RLTF_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$jobs" "${targets[@]}"
