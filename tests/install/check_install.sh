#!/bin/sh
# Installs the build into a scratch root, then builds and runs a consumer against it with only
# what pkg-config reports, and compiles every public header on its own.
set -eu
build=$1
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
