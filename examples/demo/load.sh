#!/usr/bin/env bash
# load.sh: loads the demo data set into a data directory made by `mandate init`:
#   - the registry (docs/identity.md): groups, humans, workflows and agents with their owners;
#   - the default policy pack (policies/default.cedar) as DIR/policies.cedar and its schema
#     (policies/*.cedarschema, concatenated in name order) as DIR/schema.cedarschema;
#   - the resources (entities.json here) as DIR/entities.json;
#   - who may call which API route (admin-entities.json here: olga administers, bob is security).
# usage: examples/demo/load.sh DIR   (MANDATE_BIN: the binary, default build/mandate)
# Run it before `mandate serve` starts on DIR: one process writes a data directory's ledger.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${1:?usage: load.sh DIR}
BIN=${MANDATE_BIN:-$ROOT/build/mandate}
m() { "$BIN" "$@" --data "$DIR" --actor 'Human::"olga"' >/dev/null; }

# Groups: support (leads verify customer replies), engineering (release managers decide pushes
# to production), HR (managers decide changes to employee records).
m group add support --name "Customer support"
m group add support-leads --name "Support leads" --member-of support
m group add engineers --name "Engineers"
m group add release-managers --name "Release managers"
m group add hr --name "Human resources"
m group add hr-managers --name "HR managers" --member-of hr

# People.
m human add alice --name "Alice (support)" --member-of support
m human add sam --name "Sam (support)" --member-of support
m human add lena --name "Lena (support lead)" --member-of support-leads
m human add bob --name "Bob (engineer, release manager)" --member-of engineers --member-of release-managers
m human add carol --name "Carol (engineer, release manager)" --member-of engineers --member-of release-managers
m human add hank --name "Hank (HR manager)" --member-of hr-managers
m human add hilda --name "Hilda (HR manager)" --member-of hr-managers
m human add olga --name "Olga (platform owner)"

# AI-assisted workflows: what they produce and whom they affect.
m workflow add support-reply --owner alice --output customer_response --impact customer
m workflow add coding --owner bob --output code --impact production
m workflow add hr-assist --owner hank --output recommendation --impact employee
m workflow add summaries --owner olga --output summary --impact internal

# Agents, each with an owner who answers for it.
m agent add support-drafter --owner alice --workflow support-reply --model demo-llm --provider local
m agent add coder --owner bob --workflow coding --model demo-llm --provider local
m agent add hr-bot --owner hank --workflow hr-assist --model demo-llm --provider local
m agent add summarizer --owner olga --workflow summaries --model demo-llm --provider local

# Policies, schema, resources, admin membership.
cp "$ROOT/policies/default.cedar" "$DIR/policies.cedar"
cat "$ROOT"/policies/*.cedarschema >"$DIR/schema.cedarschema"
cp "$HERE/entities.json" "$DIR/entities.json"
cp "$HERE/admin-entities.json" "$DIR/admin-entities.json"
