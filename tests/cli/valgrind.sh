#!/usr/bin/env bash
# valgrind.sh: the CLI on good and bad input under valgrind: no invalid access, no leak.
# (The unit tests run under ASan+UBSan; this covers the optimised binary as users run it.)
set -u
bin=${MANDATE_BIN:?MANDATE_BIN must name the mandate binary}
if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind is not installed (scripts/setup.sh installs it)"
  exit 1
fi
ex=examples/quickstart
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
vg() { # name -- command...: the command may fail, valgrind must find nothing
  local name=$1
  shift 2
  valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect "$@" >"$tmp/out" 2>"$tmp/err"
  if [ $? -eq 99 ]; then
    fail=$((fail + 1))
    echo "FAIL $name"
    head -40 "$tmp/err"
  else
    pass=$((pass + 1))
  fi
}
common=(--policies $ex/policies.cedar --schema $ex/schema.cedarschema --entities $ex/entities.json)
vg "allow" -- "$bin" authorize "${common[@]}" --principal 'Agent::"support-drafter"' \
  --action 'Action::"draft_reply"' --resource 'Ticket::"T-1001"'
vg "deny with context" -- "$bin" authorize "${common[@]}" --principal 'Agent::"support-drafter"' \
  --action 'Action::"send_reply"' --resource 'Ticket::"T-1001"' --context '{"approved": false}'
vg "no schema, erroring policy" -- "$bin" authorize --policies $ex/policies.cedar \
  --entities $ex/entities.json --principal 'Agent::"support-drafter"' \
  --action 'Action::"draft_reply"' --resource 'Ticket::"T-1001"'
printf 'permit(principal, action, resource) when { [[[[1, "a"]]]].contains(ip("1.2.3.4/33")) };\nforbid(principal,' >"$tmp/bad.cedar"
vg "bad policy" -- "$bin" policy check "$tmp/bad.cedar"
printf 'entity A in [B] { x: Set<Strin> };\naction "a" appliesTo { principal: A, resource: [C] };' >"$tmp/bad.cedarschema"
vg "bad schema" -- "$bin" authorize --policies $ex/policies.cedar --schema "$tmp/bad.cedarschema" \
  --principal 'A::"a"' --action 'Action::"a"' --resource 'A::"a"'
printf '[{"uid": {"type": "A", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "ip", "arg": 7}}}, "parents": [' >"$tmp/bad.json"
vg "bad entities" -- "$bin" authorize --policies $ex/policies.cedar --entities "$tmp/bad.json" \
  --principal 'A::"a"' --action 'Action::"a"' --resource 'A::"a"'
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$tmp/deep.json" 2>/dev/null ||
  node -e 'console.log("[".repeat(100000) + "]".repeat(100000))' >"$tmp/deep.json"
vg "deep entities JSON" -- "$bin" authorize --policies $ex/policies.cedar --entities "$tmp/deep.json" \
  --principal 'A::"a"' --action 'Action::"a"' --resource 'A::"a"'
node -e 'console.log("permit(principal, action, resource) when { " + "(".repeat(5000) + "1" + ")".repeat(5000) + " };")' >"$tmp/deep.cedar"
vg "deep policy" -- "$bin" policy check "$tmp/deep.cedar"
vg "duplicate uids" -- "$bin" authorize --policies $ex/policies.cedar --entities /dev/stdin \
  --principal 'A::"a"' --action 'Action::"a"' --resource 'A::"a"' <<<'[{"uid":{"type":"A","id":"a"},"attrs":{"k":1},"parents":[]},{"uid":{"type":"A","id":"a"},"attrs":{"k":2},"parents":[]}]'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
