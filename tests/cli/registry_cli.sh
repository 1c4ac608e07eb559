#!/usr/bin/env bash
# registry_cli.sh: `mandate human|agent|workflow|group ...`, `mandate delegate`, `revoke`,
# `freeze`/`unfreeze` and `mandate authorize --token` end to end on a fresh data directory:
# allow, escalation through the delegator, scope, the kill switch with a token issued before, and
# a ledger entry per decision and change.
set -u
BIN=${MANDATE_BIN:-build/mandate}
work=$(mktemp -d /tmp/mandate-reg-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
check() { # check DESC WANT_EXIT CMD...
    local desc=$1 want=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $desc: exit $got, want $want"; cat "$work/out" "$work/err"; fails=$((fails + 1))
    fi
}
contains() { grep -q -- "$2" "$work/$1" || { echo "FAIL: $1 lacks '$2'"; cat "$work/$1"; fails=$((fails + 1)); }; }
export MANDATE_DATA="$work/d"
check "init" 0 "$BIN" init --origin reg.cli/log
check "help" 0 "$BIN" agent --help
contains out "suspend"
check "group" 0 "$BIN" group add leads --actor 'Human::"root"'
check "alice" 0 "$BIN" human add alice --name Alice --member-of leads
contains out 'Human::"alice"'
check "bob" 0 "$BIN" human add bob
check "workflow" 0 "$BIN" workflow add support-reply --owner alice --output customer_response --impact customer
check "agent" 0 "$BIN" agent add drafter --owner alice --workflow support-reply --model m --provider p
check "agent without owner" 3 "$BIN" agent add orphan
contains err "needs an owner"
check "agent unknown owner" 3 "$BIN" agent add orphan --owner nobody
contains err "not registered"
check "duplicate" 3 "$BIN" human add alice
check "list" 0 "$BIN" agent list
contains out '"owner":"Human::\\"alice\\""'
check "show" 0 "$BIN" human show alice
contains out '"status":"active"'
check "show unknown" 3 "$BIN" human show zed
cat >"$work/p.cedar" <<'P'
permit (principal is Agent, action, resource);
permit (principal in Group::"leads", action in [Action::"read", Action::"send"], resource is Ticket);
permit (principal is Human, action == Action::"read", resource is Ticket);
P
check "delegate" 0 "$BIN" delegate --from alice --to drafter --task "reply to ticket 42" \
    --action 'Action::"read"' --action 'Action::"send"' --resource Ticket --uses 10 --workflow support-reply
tok=$(cat "$work/out")
check "bob delegates send" 0 "$BIN" delegate --from bob --to drafter --task t --action 'Action::"send"' --resource Ticket --uses 5
bobtok=$(cat "$work/out")
A=("$BIN" authorize --policies "$work/p.cedar" --resource 'Ticket::"42"')
check "allow" 0 "${A[@]}" --token "$tok" --action 'Action::"send"'
contains out '"decision":"allow"'
contains out '"delegator":"Human::\\"alice\\""'
check "escalation: bob may not send" 1 "${A[@]}" --token "$bobtok" --action 'Action::"send"'
contains out '"check":"delegator"'
check "narrow delegation" 0 "$BIN" delegate --from alice --to drafter --task t --action 'Action::"read"' --resource 'Ticket::"42"'
narrow=$(cat "$work/out")
check "scope" 1 "${A[@]}" --token "$narrow" --action 'Action::"send"'
contains out '"check":"scope"'
check "principal mismatch" 1 "${A[@]}" --token "$tok" --principal 'Agent::"other"' --action 'Action::"read"'
check "plain authorize unchanged" 0 "$BIN" authorize --policies "$work/p.cedar" --principal 'Human::"x"' --action 'Action::"read"' --resource 'Ticket::"1"'
# Kill switch: the token was issued before each change.
check "suspend agent" 0 "$BIN" agent suspend drafter --actor 'Human::"sec"'
check "suspended" 1 "${A[@]}" --token "$tok" --action 'Action::"read"'
contains out '"token_reason":"subject_inactive"'
check "resume agent" 0 "$BIN" agent resume drafter --actor 'Human::"sec"'
check "resumed" 0 "${A[@]}" --token "$tok" --action 'Action::"read"'
check "suspend human" 0 "$BIN" human suspend alice --actor 'Human::"sec"'
check "owner suspended" 1 "${A[@]}" --token "$tok" --action 'Action::"read"'
check "resume human" 0 "$BIN" human resume alice --actor 'Human::"sec"'
check "suspend workflow" 0 "$BIN" workflow suspend support-reply --actor 'Human::"sec"'
check "workflow suspended" 1 "${A[@]}" --token "$tok" --action 'Action::"read"'
contains out '"check":"workflow"'
check "resume workflow" 0 "$BIN" workflow resume support-reply --actor 'Human::"sec"'
check "freeze" 0 "$BIN" freeze --actor 'Human::"ciso"'
check "frozen" 1 "${A[@]}" --token "$tok" --action 'Action::"read"'
contains out '"check":"frozen"'
check "no delegations while frozen" 3 "$BIN" delegate --from alice --to drafter --task t --action 'Action::"read"' --resource Ticket
check "unfreeze" 0 "$BIN" unfreeze --actor 'Human::"ciso"'
check "unfrozen" 0 "${A[@]}" --token "$tok" --action 'Action::"read"'
check "revoke" 0 "$BIN" revoke "$tok" --reason leaked --actor 'Human::"sec"'
check "revoked" 1 "${A[@]}" --token "$tok" --action 'Action::"read"'
contains out '"token_reason":"revoked"'
check "depart" 0 "$BIN" human depart bob --actor 'Human::"hr"'
check "jwks" 0 "$BIN" delegate jwks
contains out '"kty":"OKP"'
# Bad input: clear errors, never a crash.
check "garbage token" 1 "${A[@]}" --token garbage --action 'Action::"read"'
contains out '"token_reason":"malformed"'
check "bad uses" 2 "$BIN" delegate --from alice --to drafter --task t --action 'Action::"read"' --resource Ticket --uses x
check "no data dir" 3 "$BIN" human list --data "$work/none"
# The ledger holds every decision and change, and verifies.
check "verify" 0 "$BIN" ledger verify
check "registry entries" 0 "$BIN" ledger get 1
contains out '"type":"registry"'
n=$(sqlite3 "$MANDATE_DATA/mandate.db" "select count(*) from ledger_entry" 2>/dev/null || echo skip)
if [ "$n" != skip ] && [ "$n" -lt 25 ]; then echo "FAIL: only $n ledger entries"; fails=$((fails + 1)); fi
if [ "$fails" -ne 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "registry_cli: all passed"
