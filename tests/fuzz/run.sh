#!/bin/sh
# Builds the rendezvous wire decoder's libFuzzer target with clang (with ASan and UBSan), makes
# its seed corpus from the real encoder, and fuzzes for SECONDS (default 60). Exits 77 (skip)
# when clang's libFuzzer is not installed.
# Usage: tests/fuzz/run.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -eu
source_dir=$1
build_dir=$2
seconds=${3:-60}
work="$build_dir/fuzz"
mkdir -p "$work/corpus"
clang=$(command -v clang++ || command -v clang++-14 || true)
flags="-std=c++20 -O1 -g -I$source_dir/include -I$source_dir/src -I$build_dir"
sources="$source_dir/src/rendezvous/wire.cpp $source_dir/src/error.cpp"
if [ -z "$clang" ] ||
   ! $clang $flags -fsanitize=fuzzer,address,undefined "$source_dir/tests/fuzz/wire_fuzz.cpp" \
       $sources -o "$work/wire_fuzz" 2>"$work/build.log"; then
  echo "SKIP: clang++ with libFuzzer is not available"; cat "$work/build.log" 2>/dev/null || true
  exit 77
fi
$clang $flags "$source_dir/tests/fuzz/make_corpus.cpp" $sources -o "$work/make_corpus"
"$work/make_corpus" "$work/corpus"
# Inputs that once crashed the decoder stay in the corpus, so they run first every time.
cp "$source_dir"/tests/fuzz/regressions/* "$work/corpus/"
# -rss_limit_mb: the decoder allocates at most a frame's bounded fields; more is a finding.
# Findings (crash-*, leak-*, timeout-*) are kept in the build tree, never in the source tree.
status=0
"$work/wire_fuzz" -max_total_time="$seconds" -rss_limit_mb=512 -max_len=70000 \
  -artifact_prefix="$work/" \
  -error_exitcode=1 -timeout_exitcode=1 \
  -print_final_stats=1 "$work/corpus" >"$work/fuzz.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then cat "$work/fuzz.log"; else tail -n 6 "$work/fuzz.log"; fi
exit "$status"
