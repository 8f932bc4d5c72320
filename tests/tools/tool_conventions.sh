#!/bin/sh
# Every tool follows the same command-line conventions: --help prints its own usage on stdout
# and exits 0, --version prints "NAME VERSION" and exits 0, and an unknown option is refused
# on stderr, naming the option, with exit status 2.
# Usage: tool_conventions.sh VERSION TOOL...
set -u
version=$1
shift
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0

fail() {
  echo "FAIL $1: $2"
  failures=$((failures + 1))
}

for tool in "$@"; do
  name=$(basename "$tool")
  before=$failures
  # Each run is bounded: none of these may join a ring or wait for anything.
  timeout 30 "$tool" --help >"$scratch/out" 2>"$scratch/err"
  status=$?
  [ "$status" -eq 0 ] || fail "$name --help" "exit status $status"
  grep -q "^Usage: $name " "$scratch/out" || fail "$name --help" "no 'Usage: $name' line on stdout"
  [ -s "$scratch/err" ] && fail "$name --help" "wrote to stderr: $(cat "$scratch/err")"

  timeout 30 "$tool" --version >"$scratch/out" 2>"$scratch/err"
  status=$?
  [ "$status" -eq 0 ] || fail "$name --version" "exit status $status"
  [ "$(cat "$scratch/out")" = "$name $version" ] ||
    fail "$name --version" "printed '$(cat "$scratch/out")', not '$name $version'"

  timeout 30 "$tool" --no-such-option >"$scratch/out" 2>"$scratch/err"
  status=$?
  [ "$status" -eq 2 ] || fail "$name --no-such-option" "exit status $status, not 2"
  grep -q -- "--no-such-option" "$scratch/err" ||
    fail "$name --no-such-option" "stderr does not name the option: $(cat "$scratch/err")"
  [ -s "$scratch/out" ] && fail "$name --no-such-option" "wrote to stdout: $(cat "$scratch/out")"

  [ "$failures" -eq "$before" ] && echo "ok $name"
done
[ "$failures" -eq 0 ]
