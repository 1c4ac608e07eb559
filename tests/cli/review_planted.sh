#!/usr/bin/env bash
# review_planted.sh: acceptance 1 of issue 8. tests/govern/govern_gen.c builds a synthetic
# organisation through the registry, fills a 90-day window of its ledger with activity and plants
# known problems, listed in a manifest. `mandate review` must report exactly the planted findings
# (each with evidence indices that exist and are entries of a fitting type), `mandate report` must
# flag theatre for the planted workflow only, and a world without plants must give no finding.
# Before that: every entry the generator wrote directly must have the shape of the entry the real
# code wrote for the same variant (one plain decision comes from a real `mandate serve`), and a
# second reading of the rules (tests/govern/govern_check.py rules) must agree with the manifest.
. "$(dirname "$0")/../http/lib.sh"
GEN=${GOVERN_GEN:-$(dirname "$BIN")/tests/govern_gen}
CHECK=(python3 "$ROOT/tests/govern/govern_check.py" --bin "$BIN")
# The window [NOW - 90d, NOW) opens two hours before the wall clock, which the registry's own
# entries carry; the generated activity fills the rest of it.
NOW=$(($(date +%s) * 1000 + 90 * 86400000 - 7200000))

# check DESC CMD...: runs a check, prints its output, counts a failure.
check() {
    local desc=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then ok "$desc: $(tail -n 1 "$WORK/out")"; else
        cat "$WORK/out"
        fail "$desc"
    fi
}

# generate NAME PLANTS ENTRIES
generate() {
    if "$GEN" --data "$WORK/$1" --now "$NOW" --entries "$3" --seed 8 --plant "$2" \
        --manifest "$WORK/$1.json" 2>"$WORK/$1.log"; then
        ok "generated $1: $(cat "$WORK/$1.log")"
    else
        fail "govern_gen $1: $(cat "$WORK/$1.log")"
        return 1
    fi
}

# plain_reference DIR: one plain decision through a real `mandate serve` on 127.0.0.1; PLAIN
# gets the ledger index of its entry.
plain_reference() {
    local key
    PLAIN=
    key=$("$BIN" key create --for 'Service::"support-portal"' --data "$1" 2>/dev/null) || return 1
    DATA=$1
    start_server --threads 2
    expect 200 "a plain decision through mandate serve" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' \
        -d '{"principal":"Human::\"support-03\"","action":"Action::\"send_reply\"","resource":"Ticket::\"T-1005\""}' \
        "$URL/v1/authorize"
    stop_server
    grep -q '"decision":"allow"' "$WORK/body" && PLAIN=$(sed -n 's/.*"entry":\([0-9]*\).*/\1/p' "$WORK/body")
}

# review_and_report NAME: runs both commands on the world NAME and checks them.
review_and_report() {
    local d="$WORK/$1" m="$WORK/$1.json"
    check "$1: the rules read a second way agree with the manifest" \
        "${CHECK[@]}" rules --data "$d" --now "$NOW" --manifest "$m"
    if "$BIN" review --data "$d" --since 90d --now "$NOW" --format json >"$WORK/$1.review" \
        2>"$WORK/err"; then
        check "$1: review finds what was planted, nothing else" \
            "${CHECK[@]}" review --data "$d" --manifest "$m" --review "$WORK/$1.review"
    else
        fail "$1: mandate review failed: $(cat "$WORK/err")"
    fi
    if "$BIN" report --data "$d" --since 90d --now "$NOW" --format json >"$WORK/$1.report" \
        2>"$WORK/err"; then
        check "$1: report flags theatre where it was planted only" \
            "${CHECK[@]}" report --manifest "$m" --report "$WORK/$1.report"
    else
        fail "$1: mandate report failed: $(cat "$WORK/err")"
    fi
}

if generate planted all 4000; then
    if plain_reference "$WORK/planted" && [ -n "$PLAIN" ]; then
        check "planted: generated entries have the real entries' shapes" \
            "${CHECK[@]}" shapes --data "$WORK/planted" --manifest "$WORK/planted.json" \
            --plain "$PLAIN"
    else
        fail "no plain decision from mandate serve"
    fi
    review_and_report planted
fi
generate clean none 3000 && review_and_report clean
finish
