#!/usr/bin/env bash
# bench_http.sh: POST /v1/authorize over HTTP with wrk (keep-alive, 64 connections) on the agent
# workload of ../shared/bench (N=1000: 56 policies, ~1000 entities, 10,000 requests), with every
# decision appended to the evidence ledger and durable before its response. Checks the server's
# decisions against the reference engine's expected_decisions.jsonl first, then prints
# decisions/s and p50/p99 latency (median of RUNS runs), the server's CPU time per decision
# (/proc), and the ledger's group commits during the runs (from /metrics: commits, entries per
# commit, mean write and commit time, and the group commit and server-side latency histograms:
# how much of wrk's latency is the disk and how much the server's own path).
#
# Then runs Cerbos (@cerbos/cerbos-linux-x64 from npm, through ../shared/bench/peers/cerbos_bench.js)
# on the same requests with the same connection count, so the two figures come from one run.
#
# Knobs: MANDATE_BIN (build-rel/mandate, built (RelWithDebInfo) if missing), WORKLOAD
# (../shared/bench/workloads/n1000), CONNS (64), DURATION (10 s), RUNS (3), THREADS (server
# worker threads, 1: on 2 cores shared with wrk and the ledger's committer, 1 measured about 10%
# less CPU per decision and a lower p99 than 2 in five alternating pairs), WRK_THREADS (1),
# BATCH (1: one decision per HTTP request; N: batches of N).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${MANDATE_SHARED_DIR:-$ROOT/../shared}
WORKLOAD=${WORKLOAD:-$SHARED/bench/workloads/n1000}
CONNS=${CONNS:-64} DURATION=${DURATION:-10} RUNS=${RUNS:-3} THREADS=${THREADS:-1}
WRK_THREADS=${WRK_THREADS:-1} BATCH=${BATCH:-1}
BIN=${MANDATE_BIN:-$ROOT/build-rel/mandate}

# shellcheck source=bench/http_common.sh
. "$ROOT/bench/http_common.sh"
bench_setup bench-http

DATA=$WORK/data
"$BIN" init --data "$DATA" --origin bench.example/log >/dev/null
cp "$WORKLOAD/policies.cedar" "$WORKLOAD/schema.cedarschema" "$WORKLOAD/entities.json" "$DATA/"
# The bench identity may also read /metrics (Group::"monitoring" in the admin policies).
cat >"$DATA/admin-entities.json" <<'JSON'
[{"uid":{"type":"Service","id":"bench"},"attrs":{},"parents":[{"type":"Group","id":"monitoring"}]}]
JSON
KEY=$("$BIN" key create --for 'Service::"bench"' --data "$DATA" 2>/dev/null)
bench_serve "$DATA" "$THREADS"

# Bodies: one request per line (or batches of BATCH), and a check of every decision.
python3 - "$WORKLOAD" "$WORK" "$URL" "$KEY" "$BATCH" <<'PY'
import json, sys, urllib.request
wl, work, url, key, batch = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
reqs = [l.strip() for l in open(wl + "/requests.jsonl") if l.strip()]
expected = [json.loads(l)["decision"] for l in open(wl + "/expected_decisions.jsonl") if l.strip()]
with open(work + "/bodies.jsonl", "w") as f:
    if batch <= 1:
        f.write("\n".join(reqs) + "\n")
    else:
        for i in range(0, len(reqs), batch):
            f.write('{"requests":[' + ",".join(reqs[i:i + batch]) + "]}\n")
bad = 0
for i in range(0, len(reqs), 100):
    body = ('{"requests":[' + ",".join(reqs[i:i + 100]) + "]}").encode()
    r = urllib.request.Request(url + "/v1/authorize", body, {"Authorization": "Bearer " + key})
    got = json.load(urllib.request.urlopen(r))["decisions"]
    for j, d in enumerate(got):
        if d["decision"] != expected[i + j]:
            bad += 1
print("checked %d decisions against expected_decisions.jsonl: %d differ" % (len(reqs), bad))
sys.exit(1 if bad else 0)
PY

cat >"$WORK/bodies.lua" <<'LUA'
local reqs, idx, threads = {}, 0, 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args)
  local headers = { ["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer " .. os.getenv("KEY") }
  for line in io.lines(os.getenv("BODIES")) do
    if #line > 0 then reqs[#reqs + 1] = wrk.format("POST", "/v1/authorize", headers, line) end
  end
  idx = ((tid or 0) * 7919) % #reqs
end
function request() idx = idx + 1; if idx > #reqs then idx = 1 end; return reqs[idx] end
LUA
bench_lua_result >>"$WORK/bodies.lua"

echo "mandate serve: $THREADS threads, wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, batch $BATCH," \
     "decisions recorded in the ledger (durable before each response)"
metrics() { curl -s -H "Authorization: Bearer $KEY" "$URL/metrics" >"$1"; }
metrics "$WORK/metrics0"
export KEY BODIES=$WORK/bodies.jsonl
bench_wrk_cpu "$WORK/bodies.lua"
metrics "$WORK/metrics1"
python3 - "$WORK/metrics0" "$WORK/metrics1" <<'PY'
import re, sys
def read(path):
    return {l.split()[0]: float(l.split()[1]) for l in open(path)
            if l.startswith("mandate_") and len(l.split()) == 2}
a, b = read(sys.argv[1]), read(sys.argv[2])
d = {k: b.get(k, 0) - a.get(k, 0) for k in b}
def quantile(name, q):
    """Upper bound of the histogram bucket holding quantile q of the runs' observations (ms)."""
    buckets = sorted((float(m.group(1)), v) for k, v in d.items()
                     for m in [re.match(name + r'_bucket\{le="([^"]+)"\}$', k)] if m)
    total = buckets[-1][1] if buckets else 0
    for le, n in buckets:
        if total and n >= q * total:
            return "%g" % (le * 1e3) if le != float("inf") else "more"
    return "?"
c = d.get("mandate_ledger_commits_total", 0)
if c:
    print("ledger during the runs: %d commits, %.1f entries per commit; write %.2f ms + commit"
          " (fsync) %.2f ms mean per commit; longest commit since start %.1f ms"
          % (c, d["mandate_ledger_committed_entries_total"] / c,
             d["mandate_ledger_write_seconds_total"] / c * 1e3,
             d["mandate_ledger_commit_seconds_total"] / c * 1e3,
             b.get("mandate_ledger_commit_max_seconds", 0) * 1e3))
    print("histograms during the runs (bucket bounds): group commit (write + fsync) p50 <= %s ms,"
          " p99 <= %s ms; in the server, request to durable answer p50 <= %s ms, p99 <= %s ms"
          % (quantile("mandate_ledger_group_commit_seconds", 0.5),
             quantile("mandate_ledger_group_commit_seconds", 0.99),
             quantile("mandate_authorize_duration_seconds", 0.5),
             quantile("mandate_authorize_duration_seconds", 0.99)))
PY
python3 - "$WORK/results" "$BATCH" "$ENTRIES" <<'PY'
import re, statistics, sys
rows = [dict(re.findall(r"(\w+)=([\d.]+)", l)) for l in open(sys.argv[1])]
batch = int(sys.argv[2])
rps = statistics.median(float(r["rps"]) for r in rows)
p50 = statistics.median(float(r["p50"]) for r in rows)
p99 = statistics.median(float(r["p99"]) for r in rows)
errs = sum(int(r["errors"]) + int(r["non2xx"]) for r in rows)
print("decisions/s %.0f (HTTP requests/s %.0f)  p50 %.2f ms  p99 %.2f ms  errors %d  ledger entries %s"
      % (rps * batch, rps, p50, p99, errs, sys.argv[3]))
PY
# Cerbos on the same requests, same machine, same connection count, right after (CERBOS=0 skips).
if [ "${CERBOS:-1}" != 0 ]; then
    PEER_DIR=${PEER_DIR:-$WORK/peers}
    export PEER_DIR
    if [ ! -x "$PEER_DIR/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64" ]; then
        mkdir -p "$PEER_DIR"
        (cd "$PEER_DIR" && npm init -y >/dev/null && \
            npm install --no-audit --no-fund @cerbos/cerbos-linux-x64@0.55.0 >/dev/null)
    fi
    node "$SHARED/bench/peers/cerbos_bench.js" --workload "$WORKLOAD" --scratch "$WORK/cerbos" \
        --conns "$CONNS" --runs "$RUNS" --duration "$DURATION" --lat_runs 1 \
        --out "$WORK/cerbos.json" >/dev/null
    node -e '
const r = require(process.argv[1]);
console.log("Cerbos " + r.version + ": decisions/s " + Math.round(r.dps_median) +
            "  p50 " + (r.p50_us_median / 1000).toFixed(2) + " ms  p99 " +
            (r.p99_us_median / 1000).toFixed(2) + " ms  (decisions differing from Cedar: " +
            r.mismatches + " of " + r.requests + ")");' "$WORK/cerbos.json"
fi
