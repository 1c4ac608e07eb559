#!/usr/bin/env bash
# ledger_cli.sh: `mandate init` and `mandate ledger ...` end to end, including verify on a copy
# of the database, and bad input giving clear errors with exit codes, never a crash.
set -u
BIN=${MANDATE_BIN:-build/mandate}
work=$(mktemp -d /tmp/mandate-cli-XXXXXX)
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
D="$work/d"
check "help" 0 "$BIN" ledger --help
contains out "verify"
check "init help" 0 "$BIN" init --help
check "init" 0 "$BIN" init --data "$D" --origin cli.test/log
contains out "cli.test/log+"
[ "$(stat -c %a "$D/ledger.key")" = 600 ] || { echo "FAIL: key mode"; fails=$((fails + 1)); }
check "init twice" 3 "$BIN" init --data "$D"
contains err "already holds a ledger"
check "append" 0 "$BIN" ledger append --data "$D" --type decision '{"z":1,"a":"x"}'
contains out '{"index":0}'
for i in 1 2 3 4 5 6 7 8 9; do "$BIN" ledger append --data "$D" --type outcome "{\"i\":$i}" >/dev/null; done
echo '{"from":"stdin"}' | "$BIN" ledger append --data "$D" --type note - >"$work/out"
contains out '{"index":10}'
check "get" 0 "$BIN" ledger get --data "$D" 0
contains out '"body":{"a":"x","z":1}'
check "checkpoint" 0 "$BIN" ledger checkpoint --data "$D"
contains out "^11$"
cp "$work/out" "$work/cp.txt"
check "prove" 0 "$BIN" ledger prove --data "$D" 4
cp "$work/out" "$work/p.json"
check "prove check" 0 "$BIN" ledger prove --check "$work/p.json"
sed -i 's/"index":4/"index":5/' "$work/p.json"
check "prove check altered" 1 "$BIN" ledger prove --check "$work/p.json"
check "consistency" 0 "$BIN" ledger prove --data "$D" --consistency 3 --size 11
cp "$work/out" "$work/c.json"
check "consistency check" 0 "$BIN" ledger prove --check "$work/c.json"
check "pubkey" 0 "$BIN" ledger pubkey --data "$D"
cp "$work/out" "$work/pub"
check "verify" 0 "$BIN" ledger verify --data "$D"
contains out "ok: 11 entries"
# Offline on a copy, with the auditor's key.
cp "$D/mandate.db" "$work/copy.db"
check "verify copy" 0 "$BIN" ledger verify --db "$work/copy.db" --key-file "$work/pub"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$work/copy.db" "UPDATE ledger_entry SET data = CAST(replace(CAST(data AS TEXT), '\"i\":7', '\"i\":8') AS BLOB) WHERE idx = 7"
    check "verify tampered copy" 1 "$BIN" ledger verify --db "$work/copy.db" --key-file "$work/pub"
    contains out "first bad index 7 (entry)"
    # A data directory of an earlier version (tree nodes in ledger_node(level, idx, hash)):
    # read as it is (verify, proofs), converted by the first writer, then appended to.
    L="$work/legacy"
    cp -r "$D" "$L"
    sqlite3 "$L/mandate.db" "CREATE TABLE ledger_node(level INTEGER NOT NULL, idx INTEGER NOT NULL,
        hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;
        INSERT INTO ledger_node SELECT pos & 63, (((pos >> 6) + 1) >> (pos & 63)) - 1, hash
        FROM ledger_tree; DROP TABLE ledger_tree;"
    check "verify earlier layout" 0 "$BIN" ledger verify --db "$L/mandate.db" --key-file "$work/pub"
    contains out "ok: 11 entries, 19 nodes"
    cp "$L/mandate.db" "$work/legacy-tampered.db"
    sqlite3 "$work/legacy-tampered.db" "UPDATE ledger_node SET hash = zeroblob(32) WHERE level = 1 AND idx = 2"
    check "verify tampered earlier layout" 1 "$BIN" ledger verify --db "$work/legacy-tampered.db" --key-file "$work/pub"
    contains out "first bad index 4 (node, level 1)"
    check "prove earlier layout" 0 "$BIN" ledger prove --data "$L" 4
    cmp -s "$work/out" <(sed 's/"index":5/"index":4/' "$work/p.json") ||
        { echo "FAIL: proof from the earlier layout differs"; fails=$((fails + 1)); }
    check "append converts" 0 "$BIN" ledger append --data "$L" --type note '{"after":"upgrade"}'
    contains out '{"index":11}'
    [ "$(sqlite3 "$L/mandate.db" "SELECT count(*) FROM sqlite_master WHERE name = 'ledger_node'")" = 0 ] ||
        { echo "FAIL: ledger_node left after the writer opened the database"; fails=$((fails + 1)); }
    check "verify converted" 0 "$BIN" ledger verify --data "$L"
    contains out "ok: 12 entries, 22 nodes"
fi
# Bad input: clear errors, exit codes, never a crash.
check "past the end" 3 "$BIN" ledger prove --data "$D" 99
contains err "past the end"
check "get past the end" 3 "$BIN" ledger get --data "$D" 99
check "bad index" 2 "$BIN" ledger prove --data "$D" -- -1
check "bad json" 3 "$BIN" ledger append --data "$D" --type note '{"a":'
contains err "not valid JSON"
check "bad type" 2 "$BIN" ledger append --data "$D" --type nope '{}'
check "no data" 2 env -u MANDATE_DATA "$BIN" ledger get 0
check "unknown sub" 2 "$BIN" ledger frobnicate
# One writing process per ledger: while one holds it, another's append is refused clearly (and
# the holder is not disturbed); readers are not blocked; the lock goes with the holder.
"$BIN" ledger append --data "$D" --stress 1 --count 0 >/dev/null 2>&1 &
holder=$!
sleep 1
check "second writer refused" 3 "$BIN" ledger append --data "$D" --type note '{}'
contains err "open for writing by another process"
check "reader while a writer runs" 0 "$BIN" ledger get --data "$D" 0
kill -9 "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
check "writer after the holder died" 0 "$BIN" ledger append --data "$D" --type note '{}'
check "verify after a killed writer" 0 "$BIN" ledger verify --db "$D/mandate.db"
head -c 10000 /dev/urandom >"$work/junk.db"
check "junk db" 1 "$BIN" ledger verify --db "$work/junk.db"
check "missing db" 3 "$BIN" ledger verify --db "$work/none.db"
check "wrong key" 1 "$BIN" ledger verify --db "$D/mandate.db" --key "x+00000000+AAAA"
"$BIN" init --data "$work/o" >/dev/null
cp "$work/o/ledger.key" "$D/ledger.key"
check "wrong signing key" 1 "$BIN" ledger append --data "$D" --type note '{}'
contains err "wrong key"
chmod 644 "$D/ledger.key"
check "open key" 3 "$BIN" ledger append --data "$D" --type note '{}'
contains err "chmod 600"
echo 'garbage' >"$work/p2.json"
check "garbage proof" 3 "$BIN" ledger prove --check "$work/p2.json"
[ "$fails" -eq 0 ] && echo "ledger cli: all checks passed"
exit "$fails"
