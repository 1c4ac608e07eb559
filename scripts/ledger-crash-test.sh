#!/usr/bin/env bash
# ledger-crash-test.sh: kill -9 a process appending to the ledger from 8 threads, CYCLES times;
# after each kill, every append that was acknowledged must be present with its content, and
# `mandate ledger verify` must pass.
#   usage: scripts/ledger-crash-test.sh [CYCLES]   (default 200; env MANDATE_BIN = the binary)
set -u
BIN=${MANDATE_BIN:-build/mandate}
CYCLES=${1:-200}
work=$(mktemp -d /tmp/mandate-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$BIN" init --data "$work/d" --origin crash.test/log >/dev/null || { echo "init failed"; exit 1; }
total=0
for c in $(seq 1 "$CYCLES"); do
    "$BIN" ledger append --data "$work/d" --stress 8 >"$work/acks" 2>"$work/err" &
    pid=$!
    sleep "0.$((RANDOM % 4 + 1))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    n=$(wc -l <"$work/acks")
    if [ "$n" -gt 0 ]; then
        awk '$1 == "ack" { print $2, $3, $4 }' "$work/acks" | sort >"$work/want"
        lo=$(sort -n "$work/want" | head -1 | cut -d' ' -f1)
        hi=$(sort -n "$work/want" | tail -1 | cut -d' ' -f1)
        "$BIN" ledger get --data "$work/d" "$lo" --count $((hi - lo + 1)) >"$work/dump" || {
            echo "cycle $c: cannot read back entries $lo..$hi"; exit 1; }
        sed -E 's/^\{"index":([0-9]+),.*"body":\{"seq":([0-9]+),"writer":([0-9]+)\}.*/\1 \3 \2/' \
            "$work/dump" | sort >"$work/have"
        missing=$(comm -23 "$work/want" "$work/have" | wc -l)
        if [ "$missing" -ne 0 ]; then
            echo "cycle $c: $missing acknowledged appends are missing, e.g.:"
            comm -23 "$work/want" "$work/have" | head -5
            exit 1
        fi
    fi
    total=$((total + n))
    if ! out=$("$BIN" ledger verify --data "$work/d"); then
        echo "cycle $c: verify failed: $out"
        exit 1
    fi
done
echo "crash test: $CYCLES kill -9 cycles, $total acknowledged appends all present; $out"
