#!/usr/bin/env bash
# approve_cli.sh: `mandate approve`, `reject`, `approvals list|show|expire` and `outcome` on the
# demo data set: an agent's send needs a lead's verified approval (authorize --token answers
# approval_required), who may and may not approve, rejection, listing, expiry, outcomes of
# allowed decisions only, and the trace naming the accountable human.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MANDATE_BIN:-build/mandate}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
work=$(mktemp -d /tmp/mandate-approve-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
check() { # check DESC WANT_EXIT CMD...
    local desc=$1 want=$2
    shift 2
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $desc: exit $got, want $want"; cat "$work/out" "$work/err"; fails=$((fails + 1))
    else
        echo "ok: $desc"
    fi
}
contains() { grep -q -- "$2" "$work/$1" || { echo "FAIL: $1 lacks '$2'"; cat "$work/$1"; fails=$((fails + 1)); }; }
export MANDATE_DATA="$work/d"
check "init" 0 "$BIN" init --origin approve.cli/log
MANDATE_BIN=$BIN "$ROOT/examples/demo/load.sh" "$MANDATE_DATA" || { echo "FAIL: load"; exit 1; }
for c in approve reject approvals outcome; do
    check "$c --help" 0 "$BIN" "$c" --help
    contains out "usage: mandate"
done
check "approve without arguments" 2 "$BIN" approve
check "approve without --mode" 2 "$BIN" approve apr_x --approver lena
check "approvals with a bad verb" 2 "$BIN" approvals frobnicate
check "outcome without --sha256" 2 "$BIN" outcome --decision 1 --kind code --disposition accepted

TOKEN=$("$BIN" delegate --from alice --to support-drafter --task "answer T-1" \
    --action 'Action::"draft_reply"' --action 'Action::"send_reply"' --resource Ticket --uses 10)
[ -n "$TOKEN" ] || { echo "FAIL: delegate"; exit 1; }
P=(--policies "$MANDATE_DATA/policies.cedar" --schema "$MANDATE_DATA/schema.cedarschema"
   --entities "$MANDATE_DATA/entities.json" --token "$TOKEN")
send() { "$BIN" authorize "${P[@]}" --action 'Action::"send_reply"' --resource 'Ticket::"T-1"' --context "{\"reply\":\"$1\"}" "${@:2}"; }
check "send needs an approval" 1 send "Hello"
contains out '"decision":"approval_required"'
APR=$(sed -n 's/.*"id":"\(apr_[0-9a-f]*\)".*/\1/p' "$work/out")
[ -n "$APR" ] || { echo "FAIL: no approval id"; fails=$((fails + 1)); }
check "approvals list (pending)" 0 "$BIN" approvals list --status pending
contains out "$APR"
check "approvals show records lena's view" 0 "$BIN" approvals show "$APR" --viewer lena
contains out '"status":"pending"'
contains out 'Hello'
check "approvals show unknown" 3 "$BIN" approvals show apr_00000000000000000000000000000000
check "alice is no support lead" 1 "$BIN" approve "$APR" --approver alice --mode verified
contains err "not in"
check "an agent never approves" 1 "$BIN" approve "$APR" --approver 'Agent::"support-drafter"' --mode verified
contains err "an agent never approves"
check "a bad mode" 3 "$BIN" approve "$APR" --approver lena --mode checked
check "lena verifies" 0 "$BIN" approve "$APR" --approver lena --mode verified --reason "looks right"
contains out '"status":"approved"'
check "approving twice is refused" 1 "$BIN" approve "$APR" --approver lena --mode verified
check "approvals list (approved)" 0 "$BIN" approvals list --status approved
contains out '"reason":"looks right"'
if "$BIN" authorize --help 2>&1 | grep -q -- '--approval'; then
    check "the retry with the approval is allowed" 0 send "Hello" --approval "$APR"
    contains out '"accountable":"Human::\\"lena\\""'
    check "a second retry is refused" 1 send "Hello" --approval "$APR"
fi

check "another send" 1 send "Rude reply"
APR2=$(sed -n 's/.*"id":"\(apr_[0-9a-f]*\)".*/\1/p' "$work/out")
check "lena rejects" 0 "$BIN" reject "$APR2" --approver lena --reason "tone"
contains out '"status":"rejected"'
check "approvals list (rejected)" 0 "$BIN" approvals list --status rejected
contains out '"reason":"tone"'
check "approvals expire" 0 "$BIN" approvals expire
contains out '"expired":'

# Outcomes: of an allowed decision only.
check "draft is allowed" 0 "$BIN" authorize "${P[@]}" --action 'Action::"draft_reply"' --resource 'Ticket::"T-1"'
IDX=$(sed -n 's/.*"ledger_index":\([0-9]*\).*/\1/p' "$work/out")
SHA=$(printf 'Hello' | sha256sum | cut -d' ' -f1)
check "outcome of the draft" 0 "$BIN" outcome --decision "$IDX" --kind customer_response --sha256 "$SHA" --uri draft://T-1/1 --disposition edited --by 'Human::"alice"'
contains out '"outcome":'
check "outcome with a bad digest" 3 "$BIN" outcome --decision "$IDX" --kind customer_response --sha256 xyz --disposition edited
check "outcome with a bad kind" 3 "$BIN" outcome --decision "$IDX" --kind poem --sha256 "$SHA" --disposition edited
check "outcome of a non-decision" 3 "$BIN" outcome --decision 0 --kind code --sha256 "$SHA" --disposition accepted
check "trace the draft" 0 "$BIN" trace "$SHA"
contains out '"mode":"delegated"'
contains out '"uid":"Human::\\"alice\\""'
[ "$fails" = 0 ] && echo "all checks passed" || { echo "$fails check(s) failed"; exit 1; }
