#!/usr/bin/env bash
# run.sh: the whole story against a running `mandate serve`, with curl (see README.md here):
# a human delegates to an agent, the agent drafts (allowed) and sends (approval_required), a
# support lead views and verifies the exact reply, the agent retries once (allowed; a modified
# or second retry is refused), records what it sent, and anyone traces the artifact back to the
# agent, the delegation, the policies, the approver and the accountable human, with ledger
# proofs checked offline. Then the kill switch.
#
# usage: examples/walkthrough/run.sh [ENV_FILE]   (default var/demo/demo.env, written by
#        scripts/demo.sh: URL, DATA and the API keys of the demo data set)
# Needs curl and python3 (JSON); exits non-zero as soon as an answer is not the expected one.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ENV_FILE=${1:-$ROOT/var/demo/demo.env}
[ -r "$ENV_FILE" ] || { echo "run.sh: no $ENV_FILE (start scripts/demo.sh first)" >&2; exit 2; }
# shellcheck disable=SC1090
. "$ENV_FILE"
BIN=${MANDATE_BIN:-$ROOT/build/mandate}
WORK=$(mktemp -d /tmp/mandate-walkthrough-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# call WHO METHOD PATH [BODY]: prints the call, runs it; status in $ST, body in $WORK/body.
call() {
  local who=$1 method=$2 path=$3 body=${4:-} key
  key=$(eval "printf %s \"\$KEY_$who\"")
  local shown=$body
  [ ${#shown} -gt 160 ] && shown="${shown:0:157}..."
  printf '$ curl -X %s -H "Authorization: Bearer $KEY_%s" %s%s\n' "$method" "$who" \
    "${body:+-d '$shown' }" "$URL$path"
  if [ -n "$body" ]; then
    ST=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $key" \
      -H 'Content-Type: application/json' -d "$body" "$URL$path")
  else
    ST=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $key" \
      "$URL$path")
  fi
  python3 - "$WORK/body" "$ST" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    out = json.dumps(json.loads(text), indent=None, sort_keys=True)
except ValueError:
    out = text
print("  -> %s %s" % (sys.argv[2], out if len(out) < 600 else out[:597] + "..."))
PY
}
# field EXPR: a value of the last answer (EXPR over d, e.g. d["approval"]["id"]).
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$WORK/body"; }
expect() { # expect STATUS [EXPR VALUE]...
  local want=$1
  shift
  [ "$ST" = "$want" ] || { echo "run.sh: expected HTTP $want, got $ST" >&2; exit 1; }
  while [ $# -ge 2 ]; do
    local got
    got=$(field "$1")
    [ "$got" = "$2" ] || { echo "run.sh: expected $1 == $2, got $got" >&2; exit 1; }
    shift 2
  done
}
req() { # req ACTION RESOURCE REPLY [extra JSON members]
  printf '{"action":"Action::\\"%s\\"","resource":"Ticket::\\"%s\\"","context":{"reply":"%s"},"token":"%s"%s}' \
    "$1" "$2" "$3" "$T2" "${4:-}"
}

step "0. the server is up, with the demo data set"
curl -s "$URL/healthz"; echo
call OLGA GET /v1/agents/support-drafter
expect 200 'd["owner"]' 'Human::"alice"'

step "1. alice delegates ticket T-2 to her agent: draft and send, 5 uses (a signed token)"
call ALICE POST /v1/delegations '{"to":"support-drafter","task":"answer Globex on T-2","workflow":"support-reply","actions":["Action::\"draft_reply\"","Action::\"send_reply\""],"resources":["Ticket::\"T-2\""],"uses":5,"lifetime":3600}'
expect 201
T2=$(field 'd["token"]')

step "2. the agent drafts a reply: allowed, mode delegated, alice accountable"
REPLY="Dear Globex, your refund of 40 EUR is on its way."
call DRAFTER POST /v1/authorize "$(req draft_reply T-2 "$REPLY")"
expect 200 'd["decision"]' allow 'd["mode"]' delegated 'd["accountable"]' 'Human::"alice"'

step "3. the agent sends it: the customer sees it, so a support lead must verify it first"
call DRAFTER POST /v1/authorize "$(req send_reply T-2 "$REPLY")"
expect 200 'd["decision"]' approval_required 'd["approval"]["approvers"]' 'Group::"support-leads"'
APR=$(field 'd["approval"]["id"]')
echo "approval id: $APR (bound to the digest of this exact request; nothing was sent yet)"

step "4. who may approve: not the agent, not alice (not a lead)"
call DRAFTER POST "/v1/approvals/$APR/approve" '{"mode":"verified"}'
expect 403
call ALICE POST "/v1/approvals/$APR/approve" '{"mode":"verified"}'
expect 403 'd["error"]["code"]' refused

step "5. lena, a support lead, lists what waits for her and reads the exact reply"
call LENA GET /v1/approvals
expect 200
call LENA GET "/v1/approvals/$APR"
expect 200 'd["status"]' pending 'd["request"]["context"]["reply"]' "$REPLY"

step "6. a retry with a changed reply is refused (and does not use up the approval)"
call DRAFTER POST /v1/authorize "$(req send_reply T-2 "Dear Globex, your refund of 4000 EUR is on its way." ",\"approval_id\":\"$APR\"")"
expect 200 'd["decision"]' deny 'd["check"]' approval

step "7. lena verifies the reply: I checked the AI output"
call LENA POST "/v1/approvals/$APR/approve" '{"mode":"verified","reason":"amount matches the refund policy"}'
expect 200 'd["status"]' approved

step "8. the agent retries the exact request with the approval id: allowed once, lena accountable"
call DRAFTER POST /v1/authorize "$(req send_reply T-2 "$REPLY" ",\"approval_id\":\"$APR\"")"
expect 200 'd["decision"]' allow 'd["mode"]' verified 'd["accountable"]' 'Human::"lena"'
DECISION=$(field 'd["entry"]')
call DRAFTER POST /v1/authorize "$(req send_reply T-2 "$REPLY" ",\"approval_id\":\"$APR\"")"
expect 200 'd["decision"]' deny

step "9. the agent records what it sent: the reply's SHA-256 and where it is"
SHA=$(printf '%s' "$REPLY" | sha256sum | cut -d' ' -f1)
call DRAFTER POST /v1/outcomes "{\"decision\":$DECISION,\"kind\":\"customer_response\",\"sha256\":\"$SHA\",\"uri\":\"mail://globex/T-2/1\",\"disposition\":\"accepted\"}"
expect 201

step "10. trace the artifact: agent, delegation, policies, approver, accountable human, with proofs"
call LENA GET "/v1/trace?q=$SHA"
expect 200 'd["accountable"]["uid"]' 'Human::"lena"' 'd["accountable"]["mode"]' verified \
  'd["approval"]["approver"]' 'Human::"lena"' 'd["complete"]' True
cp "$WORK/body" "$WORK/trace.json"
python3 - "$WORK/trace.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print("  artifact  ", t["artifact"]["sha256"][:16] + "...", t["artifact"]["uri"], "entry", t["artifact"]["index"])
print("  decision  ", t["decision"]["decision"], t["decision"]["action"], "entry", t["decision"]["index"])
print("  agent     ", t["agent"]["uid"], "entry", t["agent"]["index"])
print("  delegation", [h["jti"] for h in t["delegation_chain"]], "by", t["delegation_chain"][0]["delegators"])
print("  policies  ", [p["id"] for p in t["policies"]])
print("  approval  ", t["approval"]["approver"], t["approval"]["mode"], "dwell", t["approval"]["dwell_ms"], "ms")
print("  accountable", t["accountable"]["uid"], t["accountable"]["mode"])
PY

step "11. verify offline: the trace's proofs against the signed checkpoint, and the whole ledger"
call LENA GET /v1/ledger/checkpoint
expect 200
VKEY=$(field 'd["verifier_key"]')
echo "\$ mandate trace --verify trace.json --key '$VKEY'"
"$BIN" trace --verify "$WORK/trace.json" --key "$VKEY"
if [ -n "${DATA:-}" ] && [ -r "$DATA/mandate.db" ] && command -v sqlite3 >/dev/null; then
  sqlite3 "$DATA/mandate.db" ".backup '$WORK/copy.db'"
  echo "\$ mandate ledger verify --db copy-of-mandate.db --key '$VKEY'"
  "$BIN" ledger verify --db "$WORK/copy.db" --key "$VKEY"
fi

step "12. the kill switch: security suspends the agent; its next decision is denied"
call BOB POST /v1/agents/support-drafter/suspend
expect 200 'd["status"]' suspended
call DRAFTER POST /v1/authorize "$(req draft_reply T-2 "$REPLY")"
expect 200 'd["decision"]' deny 'd["check"]' agent
call OLGA POST /v1/agents/support-drafter/resume
expect 200 'd["status"]' active

printf '\n\033[1mdone:\033[0m every step answered as expected.\n'
