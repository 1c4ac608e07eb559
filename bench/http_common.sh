# http_common.sh: what bench_http.sh and bench_http_agent.sh share (sourced, not run): wrk and the
# mandate binary when missing, a scratch directory removed at exit with the server stopped, the
# server started on a free port, its CPU ticks and ledger size, and wrk runs with the server CPU
# per decision they cost (bench_wrk_cpu).
# Expects ROOT and BIN (and RUNS, CONNS, DURATION, WRK_THREADS for bench_wrk); sets WORK, then
# PID and URL (bench_serve), and ENTRIES (bench_wrk_cpu).

bench_setup() {
    if ! command -v wrk >/dev/null; then
        echo "installing wrk from Debian" >&2
        (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
    fi
    if [ ! -x "$BIN" ]; then
        cmake -S "$ROOT" -B "$ROOT/build-rel" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DMANDATE_FORMAT_CHECK=OFF >/dev/null
        cmake --build "$ROOT/build-rel" -j2 --target mandate >/dev/null
    fi
    WORK=$(mktemp -d "/tmp/mandate-$1-XXXXXX")
    PID=
    trap bench_cleanup EXIT
}

bench_cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}

# bench_serve DATA THREADS: starts `mandate serve` on 127.0.0.1 and waits for its port.
bench_serve() {
    "$BIN" serve --data "$1" --port 0 --threads "$2" --max-connections 4096 >"$WORK/server.log" 2>&1 &
    PID=$!
    local port=
    for _ in $(seq 1 100); do
        port=$(sed -n 's|^mandate: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$WORK/server.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$WORK/server.log"; exit 1; }
    URL=http://127.0.0.1:$port
}

# The server's CPU time in clock ticks: "user system".
cpu_ticks() { sed 's/^.*) //' "/proc/$PID/stat" | awk '{print $12, $13}'; }
ledger_size() { curl -s "$URL/healthz" | sed 's/.*"ledger_size":\([0-9]*\).*/\1/'; }

# The wrk script's done(): one line "RESULT rps= p50= p99= errors= non2xx=" (ms), appended to the
# caller's Lua script.
bench_lua_result() {
    cat <<'LUA'
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50=%.3f p99=%.3f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.errors.status))
end
LUA
}

# bench_wrk LUA: RUNS runs of wrk (WRK_THREADS, CONNS, DURATION) with that script against URL;
# the RESULT lines are printed and appended to $WORK/results. The script's environment (KEY,
# bodies) comes from the caller's exports.
bench_wrk() {
    : >"$WORK/results"
    for _ in $(seq 1 "$RUNS"); do
        wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$1" "$URL" |
            grep '^RESULT' | tee -a "$WORK/results"
    done
}

# bench_wrk_cpu LUA: bench_wrk, then one line of the server's CPU time per decision during the
# runs (user and system, from /proc; decisions counted by the ledger's growth). Sets ENTRIES to
# the ledger's size after the runs.
bench_wrk_cpu() {
    local u0 s0 u1 s1 size0
    read -r u0 s0 < <(cpu_ticks)
    size0=$(ledger_size)
    bench_wrk "$1"
    read -r u1 s1 < <(cpu_ticks)
    ENTRIES=$(ledger_size)
    python3 -c 'import sys; u, s, n, hz = (int(x) for x in sys.argv[1:]); print(
    "server CPU during the runs: %.1f µs per decision (user %.1f + system %.1f, %d decisions)"
    % ((u + s) * 1e6 / hz / n, u * 1e6 / hz / n, s * 1e6 / hz / n, n))' \
        "$((u1 - u0))" "$((s1 - s0))" "$((ENTRIES - size0))" "$(getconf CLK_TCK)"
}
