#!/usr/bin/env bash
# run_cedar_bench.sh: the Cedar engine against cedar-wasm, same workload, same run, same machine.
#
#   bench/run_cedar_bench.sh            # N=1000 and N=100000 agent workloads + conformance corpus
#   QUICK=1 bench/run_cedar_bench.sh    # N=1000 only, 3 passes
#
# Builds mandate (release), generates the N=100000 workload with the shared generator into
# $BENCH_DIR (default: a temporary folder outside the repository), installs cedar-wasm with npm
# into $BENCH_DIR/peers, runs bench_cedar and the shared cedar_wasm_bench.js on each workload
# and prints a table with the throughput ratio. Nothing is installed under the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${MANDATE_SHARED_DIR:-$(cd .. && pwd)/shared}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d -t mandate-bench-XXXXXX)}
RUNS=${RUNS:-5}
SIZES=${SIZES:-"1000 100000"}
CEDAR_WASM=${CEDAR_WASM:-@cedar-policy/cedar-wasm@4.13.0}
if [ -n "${QUICK:-}" ]; then SIZES=1000; RUNS=3; fi

./scripts/build.sh build-bench -DMANDATE_FORMAT_CHECK=OFF >&2
bin=build-bench/bench/bench_cedar
mkdir -p "$BENCH_DIR/peers" "$BENCH_DIR/results"
if [ ! -d "$BENCH_DIR/peers/node_modules/@cedar-policy/cedar-wasm" ]; then
  (cd "$BENCH_DIR/peers" && npm init -y >/dev/null && npm install --no-audit --no-fund "$CEDAR_WASM" >/dev/null)
fi
export PEER_DIR="$BENCH_DIR/peers"

rows=()
for n in $SIZES; do
  if [ "$n" = 1000 ]; then
    w="$shared/bench/workloads/n1000"
  else
    w="$BENCH_DIR/workloads/n$n"
    [ -f "$w/requests.jsonl" ] || node "$shared/bench/gen_workload.js" --n "$n" --out "$w" >/dev/null
  fi
  # cedar-wasm first: on a generated workload it writes the reference decisions that
  # bench_cedar then checks (the committed N=1000 workload already has them).
  echo "== N=$n: cedar-wasm" >&2
  fc=2000; we=0
  if [ "$n" != 1000 ]; then fc=0; we=1; fi
  node "$shared/bench/peers/cedar_wasm_bench.js" --workload "$w" --runs "$RUNS" --slice closure \
    --full_check "$fc" --write_expected "$we" --out "$BENCH_DIR/results/cedar-wasm-n$n.json" >/dev/null
  echo "== N=$n: mandate" >&2
  "$bin" --workload "$w" --runs "$RUNS" >"$BENCH_DIR/results/mandate-n$n.json"
  cat "$BENCH_DIR/results/mandate-n$n.json" >&2
  rows+=("$n")
done
if [ -z "${QUICK:-}" ]; then
  echo "== conformance corpus: mandate" >&2
  "$bin" --conformance "$shared/cedar-conformance" --runs "$RUNS" >"$BENCH_DIR/results/mandate-corpus.json"
fi

node - "$BENCH_DIR/results" "${rows[@]}" <<'JS'
const fs = require('fs'); const path = require('path');
const [dir, ...sizes] = process.argv.slice(2);
const rd = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
const f = (x, d = 0) => Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log('| engine | N entities | requests | decisions/s | p50 µs | p99 µs | CPU µs/decision | decisions = reference |');
console.log('|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  const m = rd(`mandate-n${n}.json`), c = rd(`cedar-wasm-n${n}.json`);
  console.log(`| mandate | ${f(m.entities)} | ${f(m.requests)} | ${f(m.dps_median)} | ${f(m.p50_us_median, 2)} | ${f(m.p99_us_median, 2)} | ${f(m.cpu_us_per_decision_median, 2)} | ${m.decision_match}/${m.expected_checked} (reasons ${m.reason_match}) |`);
  if (m.copied_dps_median !== undefined)
    console.log(`| mandate, each request copied into a reused arena before its timed decision | ${f(m.entities)} | ${f(m.requests)} | ${f(m.copied_dps_median)} | ${f(m.copied_p50_us_median, 2)} | ${f(m.copied_p99_us_median, 2)} | | ${m.copied_decision_match}/${m.expected_checked} (reasons ${m.copied_reason_match}) |`);
  console.log(`| cedar-wasm ${c.version} | ${f(c.entities)} | ${f(c.requests)} | ${f(c.dps_median)} | ${f(c.p50_us_median, 1)} | ${f(c.p99_us_median, 1)} | ${f(c.cpu_us_per_decision_median, 1)} | (reference) |`);
  console.log(`| **ratio** | N=${n} | | **${f(m.dps_median / c.dps_median, 1)}x** | | | | |`);
  console.log(`memory N=${n}: ${f(m.entity_arena_bytes_per_entity)} arena bytes/entity, ${f(m.rss_bytes_per_entity)} RSS bytes/entity`);
}
if (fs.existsSync(path.join(dir, 'mandate-corpus.json'))) {
  const m = rd('mandate-corpus.json');
  console.log(`conformance corpus: ${f(m.requests)} requests over ${f(m.tests)} tests: ${f(m.dps_median)} decisions/s, p50 ${f(m.p50_us_median, 2)} µs, p99 ${f(m.p99_us_median, 2)} µs`);
}
JS
echo "results: $BENCH_DIR/results" >&2
