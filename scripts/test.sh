#!/usr/bin/env bash
# test.sh: installs what is missing, builds mandate twice (optimised, and with AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs the whole test suite in both builds with ctest; then builds
# the libFuzzer targets with clang (which also keeps the code clean under clang's warnings) and
# runs each briefly over the Cedar corpus.
# The Cedar conformance suite is read from ../shared/cedar-conformance (MANDATE_SHARED_DIR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
shared=${MANDATE_SHARED_DIR:-$(cd .. && pwd)/shared}
jobs=$(nproc)

echo "== build (release) =="
./scripts/build.sh build -DMANDATE_SHARED_DIR="$shared"
echo "== build (asan+ubsan) =="
./scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DMANDATE_SANITIZE=ON \
  -DMANDATE_FORMAT_CHECK=OFF -DMANDATE_SHARED_DIR="$shared"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== tests (asan+ubsan) =="
ctest --test-dir build-asan --output-on-failure -j"$jobs"
echo "== fuzz targets (clang, asan+ubsan, short runs) =="
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMANDATE_FUZZ=ON \
  -DMANDATE_SANITIZE=ON -DMANDATE_FORMAT_CHECK=OFF -DMANDATE_SHARED_DIR="$shared" >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_entities fuzz_policy fuzz_schema
ctest --test-dir build-fuzz --output-on-failure -L fuzz -j"$jobs"
echo "== tests (release) =="
ctest --test-dir build --output-on-failure -j"$jobs"
