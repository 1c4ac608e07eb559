#!/usr/bin/env bash
# demo.sh: installs what is missing, builds mandate and decides two requests of the quick-start
# example with `mandate authorize`: an agent drafting a reply (allowed) and the same agent sending
# it without an approval (denied).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build >/dev/null
ex=examples/quickstart
run() {
  echo "\$ mandate authorize --principal '$1' --action '$2' --resource '$3' --context '$4'"
  set +e
  build/mandate authorize --policies $ex/policies.cedar --schema $ex/schema.cedarschema \
    --entities $ex/entities.json --principal "$1" --action "$2" --resource "$3" --context "$4"
  echo "(exit status $?)"
  set -e
}
run 'Agent::"support-drafter"' 'Action::"draft_reply"' 'Ticket::"T-1001"' '{}'
run 'Agent::"support-drafter"' 'Action::"send_reply"' 'Ticket::"T-1001"' '{"approved": false}'
run 'Agent::"support-drafter"' 'Action::"send_reply"' 'Ticket::"T-1001"' \
    '{"approved": true, "approver": {"__entity": {"type": "Human", "id": "lee"}}}'
echo
echo "Try your own: build/mandate authorize --help"
