#!/usr/bin/env bash
# smoke.sh FUZZER SECONDS: a short libFuzzer run for the test suite. The fuzzer first runs every
# file of ../shared/cedar-conformance/corpus-tests once (policies, schemas and entities of the
# Cedar corpus; inputs of the other kinds are refused early), then mutates for SECONDS. New
# inputs go to a temporary folder (the shared suite is read-only); a crash, a leak or a
# sanitizer report fails the test and leaves the input in the log.
set -euo pipefail
fuzzer=$1 seconds=$2
shared=${MANDATE_SHARED_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
seeds=$shared/cedar-conformance/corpus-tests
[ -d "$seeds" ] || { echo "no seed corpus at $seeds"; exit 1; }
work=$(mktemp -d /tmp/mandate-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$fuzzer" -max_total_time="$seconds" \
    -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 "$work" "$seeds" 2>&1 | tail -25
echo "$(basename "$fuzzer"): ${seconds} s, no finding"
