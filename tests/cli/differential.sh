#!/usr/bin/env bash
# differential.sh: the ctest entry of the differential test: 1,000 random cases with a fixed seed,
# every answer compared with the reference engine (see tests/differential/run.sh). Needs node and
# npm (the oracle is installed with `npm ci` into a temporary folder).
set -u
exec bash "$(dirname "$0")/../differential/run.sh" 1000 20240601
