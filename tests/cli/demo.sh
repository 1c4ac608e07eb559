#!/usr/bin/env bash
# demo.sh: scripts/demo.sh (the README's first command) without the build and in the background:
# with DEMO_NO_SERVE=1 it loads the demo data set into a fresh directory and prints the first
# calls; this test checks the data set is there, starts the server on the port the script was
# given, runs the two curl lines it printed and expects allow and deny, then stops the server.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MANDATE_BIN:-build/mandate}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
WORK=$(mktemp -d /tmp/mandate-demo-test-XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

PORT=$PORT DEMO_DIR=$WORK/demo DEMO_NO_BUILD=1 DEMO_NO_SERVE=1 MANDATE_BIN=$BIN \
    bash "$ROOT/scripts/demo.sh" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/out" "$WORK/err"; fail "demo.sh failed"; exit 1; }
ok "demo.sh set up $WORK/demo"
DATA=$WORK/demo/data
[ "$("$BIN" human list --data "$DATA" | grep -o '"uid":"Human' | wc -l)" = 8 ] && ok "8 humans" || fail "humans: $("$BIN" human list --data "$DATA")"
[ "$("$BIN" workflow list --data "$DATA" | grep -o '"uid":"Workflow' | wc -l)" = 4 ] && ok "4 workflows" || fail "workflows"
[ "$("$BIN" group list --data "$DATA" | grep -o '"uid":"Group' | wc -l)" = 6 ] && ok "6 groups" || fail "groups"
"$BIN" agent show support-drafter --data "$DATA" | grep -q '"owner":"Human::\\"alice\\""' && ok "support-drafter is owned by alice" || fail "agent owner"
"$BIN" agent list --data "$DATA" | grep -q '"uid":"Agent::\\"coder\\""' && ok "coder is there" || fail "coder"
grep -q '@id("support-agents-send")' "$DATA/policies.cedar" && ok "the default pack is the policy set" || fail "policies"
[ -s "$DATA/schema.cedarschema" ] && ok "schema" || fail "schema"
grep -q "^URL=http://127.0.0.1:$PORT$" "$WORK/demo/demo.env" && ok "demo.env names the URL" || fail "demo.env"
[ "$(stat -c %a "$WORK/demo/demo.env")" = 600 ] && ok "demo.env is private" || fail "demo.env mode"
grep -c '^  curl ' "$WORK/out" | grep -qx 2 && ok "two curl lines printed" || fail "curl lines: $(cat "$WORK/out")"
grep -q 'examples/walkthrough/run.sh' "$WORK/out" && ok "points at the walkthrough" || fail "no walkthrough hint"

"$BIN" serve --data "$DATA" --listen 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do grep -q '^mandate: listening' "$WORK/server.log" && break; sleep 0.1; done
grep -q '^mandate: listening' "$WORK/server.log" || { cat "$WORK/server.log"; fail "server did not start"; exit 1; }
ALLOW=$(grep '^  curl ' "$WORK/out" | sed -n 1p)
DENY=$(grep '^  curl ' "$WORK/out" | sed -n 2p)
eval "$ALLOW" >"$WORK/a" 2>&1
grep -q '"decision":"allow"' "$WORK/a" && grep -q '"mode":"delegated"' "$WORK/a" && ok "the first call is allowed (delegated)" || fail "first call: $(cat "$WORK/a")"
eval "$DENY" >"$WORK/d" 2>&1
grep -q '"decision":"deny"' "$WORK/d" && grep -q '"check":"policy"' "$WORK/d" && ok "the second call is denied (policy)" || fail "second call: $(cat "$WORK/d")"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" = 0 ] && ok "server stopped cleanly" || { fail "server exit $rc"; cat "$WORK/server.log"; }
grep -q "AddressSanitizer\|runtime error:\|LeakSanitizer" "$WORK/server.log" && fail "sanitizer report: $(cat "$WORK/server.log")"
[ "$fails" = 0 ] && echo "all checks passed" || { echo "$fails check(s) failed"; exit 1; }
