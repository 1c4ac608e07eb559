# http_common.sh: what bench_http.sh and bench_http_agent.sh share (sourced, not run): wrk and the
# mandate binary when missing, a scratch directory removed at exit with the server stopped, the
# server started on a free port, and its CPU ticks and ledger size.
# Expects ROOT and BIN; sets WORK, then PID and URL (bench_serve).

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
