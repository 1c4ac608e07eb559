#!/usr/bin/env bash
# bench_http_agent.sh: POST /v1/authorize with a delegation token (the agent path: agent and owner
# status, the token, the three checks, the accountability gate, the use count) over HTTP with wrk
# (keep-alive, 64 connections), every decision durable in the ledger before its response. The
# data is the demo data set (examples/demo/load.sh: default policy pack, registry); alice
# delegates draft_reply on tickets to her agent support-drafter, which asks to draft a reply
# (allowed, mode delegated, no approval). Prints decisions/s and p50/p99 latency (median of RUNS
# runs) and the server's CPU time per decision.
#
# Knobs: MANDATE_BIN (build-rel/mandate, built (RelWithDebInfo) if missing), CONNS (64), DURATION
# (10 s), RUNS (3), THREADS (server worker threads, 1), WRK_THREADS (1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONNS=${CONNS:-64} DURATION=${DURATION:-10} RUNS=${RUNS:-3} THREADS=${THREADS:-1}
WRK_THREADS=${WRK_THREADS:-1}
BIN=${MANDATE_BIN:-$ROOT/build-rel/mandate}

# shellcheck source=bench/http_common.sh
. "$ROOT/bench/http_common.sh"
bench_setup bench-agent

DATA=$WORK/data
"$BIN" init --data "$DATA" --origin bench.example/agent-log >/dev/null
MANDATE_BIN=$BIN "$ROOT/examples/demo/load.sh" "$DATA"
KEY=$("$BIN" key create --for 'Agent::"support-drafter"' --data "$DATA" 2>/dev/null)
TOKEN=$("$BIN" delegate --data "$DATA" --actor 'Human::"alice"' --from alice --to support-drafter \
    --task "bench: draft replies" --workflow support-reply --action 'Action::"draft_reply"' \
    --resource Ticket --uses 100000000 --lifetime 28800)
bench_serve "$DATA" "$THREADS"

printf '{"action":"Action::\\"draft_reply\\"","resource":"Ticket::\\"T-1\\"","context":{"reply":"Hello ACME"},"token":"%s"}\n' \
    "$TOKEN" >"$WORK/body.json"
# One request first: it must be an allow with an entry.
curl -s -H "Authorization: Bearer $KEY" --data-binary @"$WORK/body.json" "$URL/v1/authorize" >"$WORK/first.json"
python3 - "$WORK/first.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("decision") != "allow" or "entry" not in d or d.get("mode") != "delegated":
    sys.exit("bench_http_agent.sh: the first request was not an allow with an entry: %s" % d)
print("first request: allow, mode %s, accountable %s, entry %d" % (d["mode"], d["accountable"], d["entry"]))
PY

cat >"$WORK/body.lua" <<'LUA'
local req
function init(args)
  local headers = { ["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. os.getenv("KEY") }
  local f = io.open(os.getenv("BODY")); local body = f:read("*l"); f:close()
  req = wrk.format("POST", "/v1/authorize", headers, body)
end
function request() return req end
LUA
bench_lua_result >>"$WORK/body.lua"

echo "mandate serve: $THREADS threads, wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, token requests" \
     "(agent path), decisions recorded in the ledger (durable before each response)"
export KEY BODY=$WORK/body.json
bench_wrk_cpu "$WORK/body.lua"
python3 - "$WORK/results" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+)=([\d.]+)", l)) for l in open(sys.argv[1])]
med = lambda k: statistics.median(float(r[k]) for r in rows)
errs = sum(int(r["errors"]) + int(r["non2xx"]) for r in rows)
print("agent decisions/s %.0f  p50 %.2f ms  p99 %.2f ms  errors %d" % (med("rps"), med("p50"), med("p99"), errs))
sys.exit(1 if errs else 0)
PY
