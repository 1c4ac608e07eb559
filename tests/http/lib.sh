# lib.sh: helpers for the end-to-end server tests (tests/cli/serve_*.sh): make a data directory
# with the quick-start policies and three API keys, start `mandate serve` on 127.0.0.1 on a free
# port, call it with curl, stop it with SIGTERM and check that it exited cleanly.
set -u
BIN=${MANDATE_BIN:-build/mandate}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/mandate-serve-test-XXXXXX)
DATA=$WORK/data
SERVER_PID=
PORT=
FAILS=0
trap 'stop_server >/dev/null 2>&1; rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

make_data() {
    "$BIN" init --data "$DATA" --origin test.example/log >/dev/null || { echo "init failed"; exit 1; }
    cp "$ROOT"/examples/quickstart/{policies.cedar,schema.cedarschema,entities.json} "$DATA"/
    cat >"$DATA/admin-entities.json" <<'JSON'
[{"uid":{"type":"Human","id":"alice"},"attrs":{},"parents":[{"type":"Group","id":"admins"}]}]
JSON
    KEY_ADMIN=$("$BIN" key create --for 'Human::"alice"' --data "$DATA" 2>/dev/null)
    KEY_BOB=$("$BIN" key create --for 'Human::"bob"' --data "$DATA" 2>/dev/null)
    KEY_AGENT=$("$BIN" key create --for 'Agent::"support-drafter"' --data "$DATA" 2>/dev/null)
    [ -n "$KEY_ADMIN" ] && [ -n "$KEY_BOB" ] && [ -n "$KEY_AGENT" ] || { echo "key create failed"; exit 1; }
}

# start_server [extra flags...]
start_server() {
    "$BIN" serve --data "$DATA" --listen 127.0.0.1 --port 0 "$@" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do # up to 30 s: sanitizers on a loaded machine start slowly
        PORT=$(sed -n 's|^mandate: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$WORK/server.log")
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "server did not start:"; cat "$WORK/server.log"; exit 1; }
    URL=http://127.0.0.1:$PORT
}

# stop_server: SIGTERM, wait, check the exit status and that no sanitizer complained.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    if [ "$rc" != 0 ]; then fail "server exited with status $rc"; cat "$WORK/server.log"; fi
    if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$WORK/server.log"; then
        fail "sanitizer report in the server log"; cat "$WORK/server.log"
    fi
    grep -q "^mandate: stopped$" "$WORK/server.log" || fail "server did not stop cleanly"
}

# expect STATUS DESCRIPTION curl-args... : runs curl, checks the status; body in $WORK/body.
expect() {
    local want=$1 what=$2
    shift 2
    local got
    got=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 "$@")
    if [ "$got" = "$want" ]; then ok "$what ($got)"; else fail "$what: got $got, want $want: $(head -c 300 "$WORK/body")"; fi
}

# body_has TEXT DESCRIPTION
body_has() {
    if grep -qF -- "$1" "$WORK/body"; then ok "$2"; else fail "$2: body lacks '$1': $(head -c 300 "$WORK/body")"; fi
}

finish() {
    stop_server
    if [ "$FAILS" != 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
    echo "all checks passed"
}
