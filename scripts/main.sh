#!/usr/bin/env bash
# The main job: install dependencies, build the demo, and run it — a tiny GPT-2 trained from
# scratch by supervised learning on a synthetic suite of Python problems, then improved with
# RLTF; prints held-out pass@1/pass@k of SFT against RLTF and writes a plot to out/demo.
# Extra arguments go to rltf-demo (e.g. --quick, --fresh, --seed N). Run again after a stop
# (even kill -9), the same command continues where it stopped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${RLTF_BUILD_DIR:-$root/build/release}
"$root/scripts/install-deps.sh"
# Only the demo: the test suite's LibTorch translation units are test.sh's business.
RLTF_BUILD_DIR=$build RLTF_TARGETS=rltf-demo "$root/scripts/build.sh"
demo=$(find "$build" -type f -name rltf-demo -perm -u+x | head -n 1)
[[ -n "$demo" ]] || { echo "main.sh: rltf-demo was not built in $build" >&2; exit 1; }
exec "$demo" --out "$root/out/demo" "$@"
