#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to build ringpipe: installs the build dependencies (when
# run as root and something is missing) and configures the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true

packages=(meson ninja-build pkg-config g++ libucx-dev ucx-utils libssl-dev libgtest-dev
          libgmock-dev libbenchmark-dev iproute2 clang libclang-rt-14-dev cmake openmpi-bin
          python3-dev python3-pybind11 pybind11-dev python3-numpy python3-torch python3-pytest)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$build_dir/build.ninja" ]; then
  # nvcc builds the benchmarks' GPU kernels. CUDA's profile script puts it on PATH only for
  # login shells, so name it by absolute path for this build directory.
  native=()
  nvcc=$(command -v nvcc || true)
  if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
  if [ -n "$nvcc" ]; then
    mkdir -p "$build_dir"
    printf "[binaries]\ncuda = '%s'\n" "$(readlink -f "$nvcc")" >"$build_dir/nvcc.ini"
    native=(--native-file "$build_dir/nvcc.ini")
  fi
  meson setup "$build_dir" -Dwerror=true "${native[@]}" "$@"
fi
