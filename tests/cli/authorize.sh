#!/usr/bin/env bash
# authorize.sh: `mandate authorize` and `mandate policy check` on the quick-start example:
# decisions, JSON output, exit codes, and clear errors for bad input.
set -u
bin=${MANDATE_BIN:?MANDATE_BIN must name the mandate binary}
ex=examples/quickstart
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name expected-exit expected-stdout-substring expected-stderr-substring -- command...
  local name=$1 want_rc=$2 want_out=$3 want_err=$4
  shift 5
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want_rc" ] && { [ -z "$want_out" ] || grep -qF -- "$want_out" "$tmp/out"; } &&
     { [ -z "$want_err" ] || grep -qF -- "$want_err" "$tmp/err"; }; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $rc (want $want_rc)"
    echo "  stdout: $(cat "$tmp/out")"
    echo "  stderr: $(cat "$tmp/err")"
  fi
}

az() {
  "$bin" authorize --policies $ex/policies.cedar --schema $ex/schema.cedarschema \
    --entities $ex/entities.json "$@"
}

check "draft allowed" 0 '{"decision":"allow","reason":["policy0"],"errors":[]}' "" -- \
  az --principal 'Agent::"support-drafter"' --action 'Action::"draft_reply"' --resource 'Ticket::"T-1001"'
check "send without approval denied" 1 '{"decision":"deny","reason":[],"errors":[]}' "" -- \
  az --principal 'Agent::"support-drafter"' --action 'Action::"send_reply"' --resource 'Ticket::"T-1001"' \
     --context '{"approved": false}'
check "send with lead approval allowed" 0 '"reason":["policy1"]' "" -- \
  az --principal 'Agent::"support-drafter"' --action 'Action::"send_reply"' --resource 'Ticket::"T-1001"' \
     --context '{"approved": true, "approver": {"__entity": {"type": "Human", "id": "lee"}}}'
check "forbid wins" 1 '"reason":["policy3"]' "" -- \
  az --principal 'Human::"alice"' --action 'Action::"export"' --resource 'Ticket::"T-1001"'
check "request outside appliesTo is an input error" 3 "" "does not apply to" -- \
  az --principal 'Ticket::"T-1001"' --action 'Action::"export"' --resource 'Ticket::"T-1001"'
check "bad uid syntax" 3 "" "expected an entity uid" -- \
  az --principal 'Agent:"x"' --action 'Action::"draft_reply"' --resource 'Ticket::"T-1001"'
check "bad context JSON" 3 "" "context" -- \
  az --principal 'Agent::"support-drafter"' --action 'Action::"send_reply"' --resource 'Ticket::"T-1001"' \
     --context '{"approved": tru'
check "missing flag is a usage error" 2 "" "usage: mandate authorize" -- \
  "$bin" authorize --policies $ex/policies.cedar
check "help" 0 "Exit status" "" -- "$bin" authorize --help
check "missing file" 3 "" "cannot open 'no-such.cedar'" -- \
  "$bin" authorize --policies no-such.cedar --principal 'A::"a"' --action 'Action::"a"' --resource 'A::"a"'
# Without a schema, {"type","id"} in attributes is a record, not an entity: the policy errors.
check "without schema" 1 '"errors":[{"policy":"policy0","message":' "" -- \
  "$bin" authorize --policies $ex/policies.cedar --entities $ex/entities.json \
  --principal 'Agent::"support-drafter"' --action 'Action::"draft_reply"' --resource 'Ticket::"T-1001"'

printf 'permit(principal, action, resource);\nforbid(principal, action, resource) when { 1 + };\n' >"$tmp/bad.cedar"
check "policy check ok" 0 "policies.cedar: 5 policies" "" -- "$bin" policy check $ex/policies.cedar
check "policy check reports line:column" 3 "" "bad.cedar:2:" -- "$bin" policy check "$tmp/bad.cedar"
check "unknown command" 2 "" "unknown command 'frobnicate'" -- "$bin" frobnicate

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
