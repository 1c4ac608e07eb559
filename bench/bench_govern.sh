#!/usr/bin/env bash
# bench_govern.sh: acceptance 2 of issue 8: `mandate review --since 90d` and `mandate report
# --since 90d` over a ledger of 1,000,000 entries, each under 10 s and under 1 GiB of memory.
#
# The ledger is made once by tests/govern/govern_gen.c (every plant, activity spread over 90 days)
# and kept in CACHE for later runs (its generation time is printed when it is made). Then each
# command runs RUNS times; the figures are the median wall time, the median CPU time (user +
# system) and the largest peak RSS of the runs (getrusage of the child).
#
# Knobs: BUILD (the build folder, default build-rel; configured and built (RelWithDebInfo) when
# its mandate or govern_gen is missing), ENTRIES (1000000), RUNS (3), THREADS (generator threads,
# 2), CACHE (${TMPDIR:-/tmp}/mandate-bench-govern-ENTRIES), FRESH=1 (make the ledger again).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-rel}
ENTRIES=${ENTRIES:-1000000} RUNS=${RUNS:-3} THREADS=${THREADS:-2}
CACHE=${CACHE:-${TMPDIR:-/tmp}/mandate-bench-govern-$ENTRIES}
BIN=$BUILD/mandate GEN=$BUILD/tests/govern_gen
LIMIT_S=10 LIMIT_KB=$((1024 * 1024))

if [ ! -x "$BIN" ] || [ ! -x "$GEN" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMANDATE_FORMAT_CHECK=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target mandate govern_gen >/dev/null
fi

if [ "${FRESH:-0}" = 1 ] || [ ! -f "$CACHE/now" ]; then
    rm -rf "$CACHE"
    mkdir -p "$CACHE"
    # The window opens 2 hours before the wall clock (the registry's entries carry it).
    now=$(($(date +%s) * 1000 + 90 * 86400000 - 7200000))
    echo "generating $ENTRIES entries in $CACHE/data ..."
    start=$(date +%s%N)
    (cd "$ROOT" && "$GEN" --data "$CACHE/data" --now "$now" --entries "$ENTRIES" --plant all \
        --threads "$THREADS" --manifest "$CACHE/manifest.json")
    end=$(date +%s%N)
    awk -v ns=$((end - start)) -v n="$ENTRIES" \
        'BEGIN { printf "generation: %.1f s, %.0f entries/s\n", ns / 1e9, n / (ns / 1e9) }'
    echo "$now" >"$CACHE/now"
else
    echo "using the ledger in $CACHE/data (FRESH=1 makes it again)"
fi
NOW=$(cat "$CACHE/now")
echo "ledger: $(du -sh "$CACHE/data/mandate.db" | cut -f1), window: 90 days before $NOW;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# measure NAME ARGS...: RUNS runs of mandate ARGS; prints one line of figures.
measure() {
    local name=$1
    shift
    python3 - "$name" "$RUNS" "$LIMIT_S" "$LIMIT_KB" "$BIN" "$@" <<'PY'
import os, statistics, subprocess, sys, time
name, runs, limit_s, limit_kb, cmd = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
wall, cpu, rss = [], [], []
for _ in range(runs):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall.append(time.monotonic() - t0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed (exit %d)" % (name, os.waitstatus_to_exitcode(status)))
    cpu.append(ru.ru_utime + ru.ru_stime)
    rss.append(ru.ru_maxrss)  # KiB on Linux
w, c, r = statistics.median(wall), statistics.median(cpu), max(rss)
verdict = "ok" if w < limit_s and r < limit_kb else "MISSED"
print("%-7s median %6.2f s wall (runs %s), %6.2f s CPU, peak RSS %7.1f MiB   target < %g s, < %d MiB: %s"
      % (name, w, ", ".join("%.2f" % x for x in wall), c, r / 1024, limit_s, limit_kb // 1024, verdict))
sys.exit(0 if verdict == "ok" else 1)
PY
}

rc=0
measure review review --data "$CACHE/data" --since 90d --now "$NOW" --format json || rc=1
measure report report --data "$CACHE/data" --since 90d --now "$NOW" --format json || rc=1
exit $rc
