#!/usr/bin/env bash
# demo.sh: the README's first command. Installs what is missing (scripts/setup.sh; Debian
# packages, as root), builds mandate, makes a fresh data directory under ./var/demo with the demo
# data set (examples/demo: humans, groups, workflows, agents with their owners, the default
# policy pack), API keys and a delegation from alice to her support agent, prints how to call the
# server, then runs `mandate serve` on 127.0.0.1:$PORT in the foreground (Ctrl-C stops it).
#
# Environment:
#   PORT=8080          the port to listen on
#   DEMO_DIR=var/demo  where the data directory and demo.env go (wiped and made again)
#   DEMO_NO_SERVE=1    set up and print everything, but do not start the server (tests start it)
#   DEMO_NO_BUILD=1    skip setup and build; use $MANDATE_BIN (default build/mandate)
# var/demo/demo.env holds the URL, the API keys and the delegation token, for
# examples/walkthrough/run.sh (the whole story with curl) and for your own calls.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
DEMO_DIR=${DEMO_DIR:-var/demo}
if [ -z "${DEMO_NO_BUILD:-}" ]; then
  ./scripts/setup.sh
  echo "demo: building (scripts/build.sh build) ..."
  ./scripts/build.sh build >/dev/null
fi
BIN=${MANDATE_BIN:-build/mandate}
[ -x "$BIN" ] || { echo "demo: no binary at $BIN" >&2; exit 1; }
export MANDATE_BIN=$BIN

DATA=$DEMO_DIR/data
if [ -d "$DEMO_DIR" ] && [ -n "$(ls -A "$DEMO_DIR")" ] && [ ! -e "$DEMO_DIR/demo.env" ]; then
  echo "demo: $DEMO_DIR exists and was not made by demo.sh; not touching it" >&2
  exit 1
fi
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
chmod 700 "$DEMO_DIR"
"$BIN" init --data "$DATA" --origin demo.mandate/log >/dev/null
examples/demo/load.sh "$DATA"

key() { "$BIN" key create --for "$1" --data "$DATA" 2>/dev/null; }
KEY_OLGA=$(key 'Human::"olga"')
KEY_ALICE=$(key 'Human::"alice"')
KEY_LENA=$(key 'Human::"lena"')
KEY_BOB=$(key 'Human::"bob"')
KEY_DRAFTER=$(key 'Agent::"support-drafter"')
KEY_CODER=$(key 'Agent::"coder"')
# alice delegates ticket work to her agent for 8 hours (the server's ledger records it).
TOKEN=$("$BIN" delegate --data "$DATA" --actor 'Human::"alice"' --from alice --to support-drafter \
  --task "answer the customer on ticket T-1" --workflow support-reply \
  --action 'Action::"draft_reply"' --action 'Action::"send_reply"' --resource Ticket \
  --uses 100 --lifetime 28800)
URL=http://127.0.0.1:$PORT
umask 077
cat >"$DEMO_DIR/demo.env" <<EOF
# written by scripts/demo.sh: the demo server and its API keys (secrets: keep this file private)
URL=$URL
DATA=$DATA
KEY_OLGA=$KEY_OLGA
KEY_ALICE=$KEY_ALICE
KEY_LENA=$KEY_LENA
KEY_BOB=$KEY_BOB
KEY_DRAFTER=$KEY_DRAFTER
KEY_CODER=$KEY_CODER
TOKEN=$TOKEN
EOF

q() { printf "'%s'" "$1"; }
allow_body="{\"action\":\"Action::\\\"draft_reply\\\"\",\"resource\":\"Ticket::\\\"T-1\\\"\",\"context\":{\"reply\":\"Hello ACME\"},\"token\":\"$TOKEN\"}"
deny_body="{\"action\":\"Action::\\\"push\\\"\",\"resource\":\"Branch::\\\"main\\\"\",\"token\":\"$TOKEN\"}"
cat <<EOF

mandate demo: data directory $DATA (registry, ledger, keys), settings in $DEMO_DIR/demo.env
  humans alice, sam, lena (support lead), bob, carol (release managers), hank, hilda (HR), olga
  agents support-drafter (owner alice), coder (bob), hr-bot (hank), summarizer (olga)
  policies: the default accountability pack (policies/default.cedar)
  alice has delegated ticket work to support-drafter for 8 hours (\$TOKEN in demo.env)

First allowed decision (support-drafter drafts a reply on alice's delegation; mode delegated):
  curl -s -H $(q "Authorization: Bearer $KEY_DRAFTER") -d $(q "$allow_body") $URL/v1/authorize

First denied decision (the same agent tries to push to production: no policy permits it):
  curl -s -H $(q "Authorization: Bearer $KEY_DRAFTER") -d $(q "$deny_body") $URL/v1/authorize

The whole story (delegate, authorize, approval_required, approve, retry, outcome, trace, verify),
in another terminal while the server runs:
  examples/walkthrough/run.sh $DEMO_DIR/demo.env

The API: docs/server.md and docs/openapi.yaml. Ctrl-C stops the server.
EOF
if [ -n "${DEMO_NO_SERVE:-}" ]; then
  exit 0
fi
echo
exec "$BIN" serve --data "$DATA" --listen 127.0.0.1 --port "$PORT"
