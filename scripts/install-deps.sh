#!/usr/bin/env bash
# Installs rltf's build and test dependencies from Debian's archive. Idempotent: packages that
# are already installed are skipped, and apt is not touched at all when nothing is missing.
# Runs apt-get through sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache git clang-format
  libeigen3-dev xtensor-dev libboost-dev doctest-dev nlohmann-json3-dev libcpp-httplib-dev
  libtorch-dev libgloo-dev libopenblas0-pthread
  python3 python3-torch
  libcli11-dev
  zlib1g-dev
  libsqlite3-dev pkg-config
  libpcre2-dev
  libicu-dev
  pyflakes3 python3-pyflakes
  python3-numpy
)
if [[ "${RLTF_NO_TORCH:-0}" == "1" ]]; then
  packages=("${packages[@]/libtorch-dev/}")
  packages=("${packages[@]/libgloo-dev/}")
  packages=("${packages[@]/libopenblas0-pthread/}")
  packages=("${packages[@]/python3-torch/}")
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi

# Debian's LibTorch calls whatever libblas.so.3 the system selects; the reference BLAS is about 10x
# slower than OpenBLAS at matrix products. Installing OpenBLAS selects it automatically; this puts
# the selection back to automatic if it was pinned by hand.
use_openblas() {
  local alt=libblas.so.3-$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  if update-alternatives --query "$alt" 2>/dev/null | grep -q "^Status: manual"; then
    "${sudo[@]}" update-alternatives --auto "$alt" >/dev/null
  fi
}

missing=()
for p in "${packages[@]}"; do
  [[ -z "$p" ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "rltf: all dependencies are installed"
else
  if ((${#sudo[@]})) && ! command -v sudo >/dev/null; then
    echo "rltf: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "rltf: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[[ "${RLTF_NO_TORCH:-0}" == "1" ]] || use_openblas
