#!/usr/bin/env bash
# run.sh: differential test of the Cedar engine against the reference engine (cedar-wasm 4.12.0
# through ../shared/tools/cedar-oracle). Generates N random cases with gen.js (fixed SEED), answers
# them with the oracle and with cedar_diff (the engine), and compares decision, reason set and error
# set per request (compare.js). Ends with "N passed, M failed"; exit 0 only with no mismatch.
#
# usage: tests/differential/run.sh [N [SEED]]        (default 1000 cases, seed 1)
# Environment:
#   CEDAR_DIFF         the cedar_diff binary (default: found next to $MANDATE_BIN, or in build*/)
#   CEDAR_ORACLE_DIR   an oracle folder where `npm ci` was already run (default: a fresh copy of
#                      ../shared/tools/cedar-oracle installed into a temporary folder)
#   MANDATE_SHARED_DIR the shared folder (default ../shared next to the repository)
#   DIFF_SHOW          mismatching cases printed in full (default 10)
#   DIFF_KEEP=1        keep the work folder (cases, both answers, failures.jsonl)
# Exit status: 0 no mismatch, 1 mismatches, 2 setup failure (no node/npm, no oracle, no binary).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-1000}
seed=${2:-1}
shared=${MANDATE_SHARED_DIR:-$root/../shared}

die() {
  echo "differential: $*" >&2
  exit 2
}

command -v node >/dev/null || die "node is not installed"
work=$(mktemp -d "${TMPDIR:-/tmp}/cedar-diff.XXXXXX") || die "cannot create a temporary folder"
if [ "${DIFF_KEEP:-0}" = 1 ]; then
  trap 'echo "work folder kept: $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi

# The engine's driver.
bin=${CEDAR_DIFF:-}
if [ -z "$bin" ] && [ -n "${MANDATE_BIN:-}" ]; then
  bin=$(dirname "$MANDATE_BIN")/tests/differential/cedar_diff
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  bin=$(ls -t "$root"/build*/tests/differential/cedar_diff 2>/dev/null | head -n 1)
fi
[ -n "$bin" ] && [ -x "$bin" ] || die "cedar_diff not found: build it (cmake --build <dir> --target cedar_diff) or set CEDAR_DIFF"

# The oracle, installed outside the repository.
oracle=${CEDAR_ORACLE_DIR:-}
if [ -z "$oracle" ]; then
  [ -f "$shared/tools/cedar-oracle/oracle.js" ] || die "no oracle at $shared/tools/cedar-oracle"
  command -v npm >/dev/null || die "npm is not installed"
  cp -r "$shared/tools/cedar-oracle" "$work/oracle" || die "cannot copy the oracle"
  rm -rf "$work/oracle/node_modules"
  (cd "$work/oracle" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1) ||
    die "npm ci failed for the oracle: $(tail -n 5 "$work/npm.log")"
  oracle=$work/oracle
fi
version=$(cd "$oracle" && node oracle.js --version) || die "the oracle does not run in $oracle"

echo "differential: $n cases, seed $seed, oracle $version, engine $bin"
node "$here/gen.js" --seed "$seed" --count "$n" >"$work/cases.jsonl" || die "gen.js failed"
node "$here/oracle_batch.js" "$oracle" "$work/cases.jsonl" >"$work/oracle.jsonl" || die "the oracle failed"
"$bin" "$work/cases.jsonl" >"$work/ours.jsonl" 2>"$work/ours.err"
rc=$?
if [ $rc -ne 0 ]; then
  # a crash (or sanitizer report) is a failure of the engine, not of the setup
  echo "differential: cedar_diff exited with status $rc" >&2
  tail -n 30 "$work/ours.err" >&2
  echo "0 passed, $n failed"
  exit 1
fi
node "$here/compare.js" "$work/cases.jsonl" "$work/oracle.jsonl" "$work/ours.jsonl" \
  --show "${DIFF_SHOW:-10}" --save "$work/failures.jsonl"
