#!/bin/sh
# Installs the build into a scratch root, then checks that bin holds exactly the programs named
# in RINGPIPE_INSTALLED_TOOLS, each answering --version; builds and runs a consumer against the
# library with only what pkg-config reports and with CMake's find_package (shared and static),
# compiles every public header on its own, and imports the installed Python package to run a
# 2-rank ring.
set -eu
build=$1
python=${2:-}  # the interpreter the Python package was built for, if it was
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

if ! log=$(meson install -C "$build" --destdir "$root" --no-rebuild 2>&1); then
  echo "$log"; exit 1
fi
pc=$(find "$root" -name ringpipe.pc | head -n 1)
[ -n "$pc" ] || { echo "ringpipe.pc was not installed"; exit 1; }
# The installed file with its prefix moved into the scratch root (a sysroot would also move
# the absolute paths of dependencies, such as the CUDA runtime archive).
mkdir "$root/pkgconfig"
sed "s|^prefix=|prefix=$root|" "$pc" >"$root/pkgconfig/ringpipe.pc"
export PKG_CONFIG_PATH="$root/pkgconfig"
cflags=$(pkg-config --cflags ringpipe)
libs=$(pkg-config --libs ringpipe)
echo "pkg-config: $cflags $libs"

include_dir=$(find "$root" -type d -path '*/include/ringpipe' | head -n 1)
for header in "$include_dir"/*.hpp; do
  if grep -nE '#include *<(ucp|uct|ucs|cuda|nccl)' "$header"; then
    echo "public header $(basename "$header") includes a transport header"; exit 1
  fi
  echo "#include <ringpipe/$(basename "$header")>" |
    c++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only $cflags -x c++ -
done

c++ -std=c++20 -Wall -Wextra -Werror "$here/consumer.cpp" $cflags $libs -o "$root/consumer"
lib_dir=$(dirname "$(find "$root" -name 'libringpipe.so' | head -n 1)")

# The installed programs: the expected names, no others, each with its name and the version.
version=$(pkg-config --modversion ringpipe)
expected=$(for tool in ${RINGPIPE_INSTALLED_TOOLS:-}; do echo "$tool"; done | sort | tr '\n' ' ')
bin_dir=$(find "$root" -type d -name bin | head -n 1)
installed=$( [ -n "$bin_dir" ] && ls "$bin_dir" | sort | tr '\n' ' ')
if [ "$installed" != "$expected" ]; then
  echo "bin holds '$installed', expected '$expected'"; exit 1
fi
for tool in ${RINGPIPE_INSTALLED_TOOLS:-}; do
  answer=$(LD_LIBRARY_PATH="$lib_dir" "$bin_dir/$tool" --version)
  [ "$answer" = "$tool $version" ] || { echo "$tool --version printed '$answer'"; exit 1; }
done
LD_LIBRARY_PATH="$lib_dir" "$root/consumer"

# The static library, with the private dependencies pkg-config lists for static linking.
static_lib="$lib_dir/libringpipe.a"
[ -f "$static_lib" ] || { echo "libringpipe.a was not installed"; exit 1; }
static_libs=$(pkg-config --static --libs ringpipe | sed 's/-lringpipe//')
c++ -std=c++20 -Wall -Wextra -Werror "$here/consumer.cpp" $cflags "$static_lib" $static_libs \
  -pthread -o "$root/consumer-static"
if ldd "$root/consumer-static" | grep -q libringpipe; then
  echo "the static consumer loads libringpipe.so"; exit 1
fi
"$root/consumer-static"

# CMake's find_package, from the installed package alone, for both libraries.
config=$(find "$root" -name ringpipeConfig.cmake | head -n 1)
[ -n "$config" ] || { echo "ringpipeConfig.cmake was not installed"; exit 1; }
if ! log=$(cmake -S "$here/cmake_consumer" -B "$root/cmake-build" \
    -Dringpipe_DIR="$(dirname "$config")" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" 2>&1 &&
    cmake --build "$root/cmake-build" 2>&1); then
  echo "$log"; exit 1
fi
LD_LIBRARY_PATH="$lib_dir" "$root/cmake-build/consumer_shared"
if ldd "$root/cmake-build/consumer_static" | grep -q libringpipe; then
  echo "the static CMake consumer loads libringpipe.so"; exit 1
fi
"$root/cmake-build/consumer_static"

# The Python package, imported from the scratch root only (not the build tree), runs a 2-rank
# ring under the installed launcher.
if [ -n "$python" ]; then
  package=$(find "$root" -path '*/ringpipe/__init__.py' | head -n 1)
  [ -n "$package" ] || { echo "the Python package was not installed"; exit 1; }
  site=$(dirname "$(dirname "$package")")
  launcher=$(find "$root" -name ringpipe-run -type f | head -n 1)
  [ -n "$launcher" ] || { echo "ringpipe-run was not installed"; exit 1; }
  env -u PYTHONPATH PYTHONPATH="$site" timeout 120 "$launcher" -n 2 -- "$python" -c '
import ringpipe
assert ringpipe.__file__.startswith("'"$site"'"), ringpipe.__file__
with ringpipe.Ring() as ring:
    out = bytes(range(ring.rank, ring.rank + 64))
    area = bytearray(64)
    receive = ring.pred.irecv(area, tag=1)
    ring.succ.send(out, tag=1, timeout=30)
    receive.wait(timeout=30)
    pred = ring.pred.peer
    assert area == bytes(range(pred, pred + 64)), area
print("python consumer ok", flush=True)
'
fi
