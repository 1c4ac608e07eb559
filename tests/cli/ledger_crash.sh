#!/usr/bin/env bash
# ledger_crash.sh: the short variant of scripts/ledger-crash-test.sh (5 kill -9 cycles).
exec bash "$(dirname "$0")/../../scripts/ledger-crash-test.sh" 5
