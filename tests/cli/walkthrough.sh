#!/usr/bin/env bash
# walkthrough.sh: runs examples/walkthrough/run.sh (the README's story: delegate, authorize,
# approval_required, approve, retry, outcome, trace, verify, kill switch) against a server on a
# free port over the demo data set (set up by scripts/demo.sh with DEMO_NO_SERVE=1), then stops
# the server and verifies its ledger. run.sh fails at the first unexpected answer.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MANDATE_BIN:-build/mandate}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
WORK=$(mktemp -d /tmp/mandate-walk-test-XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$PORT DEMO_DIR=$WORK/demo DEMO_NO_BUILD=1 DEMO_NO_SERVE=1 MANDATE_BIN=$BIN \
    bash "$ROOT/scripts/demo.sh" >"$WORK/demo.out" 2>&1 || { cat "$WORK/demo.out"; echo "FAIL: demo.sh"; exit 1; }
DATA=$WORK/demo/data
"$BIN" serve --data "$DATA" --listen 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do grep -q '^mandate: listening' "$WORK/server.log" && break; sleep 0.1; done
grep -q '^mandate: listening' "$WORK/server.log" || { cat "$WORK/server.log"; echo "FAIL: server did not start"; exit 1; }
rc=0
MANDATE_BIN=$BIN bash "$ROOT/examples/walkthrough/run.sh" "$WORK/demo/demo.env" || rc=$?
kill -TERM "$PID"
src=0
wait "$PID" || src=$?
PID=
if grep -q "AddressSanitizer\|runtime error:\|LeakSanitizer" "$WORK/server.log"; then cat "$WORK/server.log"; echo "FAIL: sanitizer report"; exit 1; fi
[ "$src" = 0 ] || { cat "$WORK/server.log"; echo "FAIL: server exit $src"; exit 1; }
[ "$rc" = 0 ] || { echo "FAIL: the walkthrough stopped (exit $rc)"; exit 1; }
"$BIN" ledger verify --data "$DATA" || { echo "FAIL: ledger verify"; exit 1; }
echo "all checks passed"
