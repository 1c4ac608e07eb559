#!/usr/bin/env bash
# serve_api.sh: end to end against a real `mandate serve` on 127.0.0.1: every route with curl,
# authentication failures, forbidden calls, atomic policy replacement, the ledger routes, the
# registry, delegations, the kill switch, approvals, outcomes and the trace, and a
# graceful shutdown (SIGTERM) after which every acknowledged decision is in the ledger.
. "$(dirname "$0")/../http/lib.sh"
make_data
start_server --threads 2 --key-cache-ms 200
A=(-H "Authorization: Bearer $KEY_ADMIN")
B=(-H "Authorization: Bearer $KEY_BOB")
G=(-H "Authorization: Bearer $KEY_AGENT")
J=(-H "Content-Type: application/json")

expect 200 "GET /healthz" "$URL/healthz"
body_has '"status":"ok"' "healthz says ok"
expect 200 "GET /.well-known/jwks.json" "$URL/.well-known/jwks.json"
body_has '"crv":"Ed25519"' "jwks has an Ed25519 key"
expect 404 "unknown route" "$URL/v1/nothing"
expect 405 "wrong method" -X DELETE "$URL/v1/policies"

# Authentication failures.
expect 401 "no key" "$URL/v1/policies"
body_has '"unauthenticated"' "401 says unauthenticated"
expect 401 "garbage key" -H "Authorization: Bearer nope" "$URL/v1/policies"
expect 401 "wrong secret" -H "Authorization: Bearer ${KEY_BOB%?}x" "$URL/v1/policies"
expect 401 "not a bearer" -H "Authorization: Basic YWxpY2U6eA==" "$URL/v1/policies"
curl -s -D "$WORK/h" -o /dev/null "$URL/metrics"
grep -qi '^WWW-Authenticate: Bearer' "$WORK/h" && ok "401 has WWW-Authenticate" || fail "no WWW-Authenticate"

# Forbidden by the admin policies.
expect 403 "bob may not read metrics" "${B[@]}" "$URL/metrics"
expect 403 "bob may not replace policies" "${B[@]}" "${J[@]}" -X PUT -d '{"policies":""}' "$URL/v1/policies"
expect 403 "an agent may not read the ledger" "${G[@]}" "$URL/v1/ledger/checkpoint"
body_has '"forbidden"' "403 says forbidden"

# Authorize: allow, deny, batch, bad requests.
expect 200 "authorize allow" "${G[@]}" "${J[@]}" -d '{"principal":"Agent::\"support-drafter\"","action":"Action::\"draft_reply\"","resource":"Ticket::\"T-1001\""}' "$URL/v1/authorize"
body_has '"decision":"allow"' "draft_reply is allowed"
body_has '"reasons":["support-draft"]' "reason is support-draft"
expect 200 "authorize deny" "${B[@]}" "${J[@]}" -d '{"principal":{"type":"Human","id":"alice"},"action":{"type":"Action","id":"export"},"resource":{"type":"Ticket","id":"T-1001"}}' "$URL/v1/authorize"
body_has '"decision":"deny"' "export is denied"
body_has '"no-export"' "deny names no-export"
expect 200 "authorize batch" "${A[@]}" "${J[@]}" -d '{"requests":[{"principal":"Agent::\"support-drafter\"","action":"Action::\"send_reply\"","resource":"Ticket::\"T-1001\"","context":{"approved":true,"approver":{"__entity":{"type":"Human","id":"lee"}}}},{"principal":"Agent::\"support-drafter\"","action":"Action::\"send_reply\"","resource":"Ticket::\"T-1001\"","context":{"approved":false}}]}' "$URL/v1/authorize"
body_has '"decisions":[{"entry":' "batch answers decisions"
[ "$(grep -o '"decision":"allow"' "$WORK/body" | wc -l)" = 1 ] && [ "$(grep -o '"decision":"deny"' "$WORK/body" | wc -l)" = 1 ] && ok "batch: one allow, one deny" || fail "batch decisions: $(cat "$WORK/body")"
expect 400 "authorize with a bad uid" "${A[@]}" -d '{"principal":"alice","action":"Action::\"x\"","resource":"T::\"1\""}' "$URL/v1/authorize"
body_has '"decision":"deny"' "a bad request is a deny"
expect 400 "authorize with truncated JSON" "${A[@]}" -d '{"principal":' "$URL/v1/authorize"
expect 200 "authorize with a malformed delegation token" "${A[@]}" -d '{"action":"Action::\"draft_reply\"","resource":"Ticket::\"T-1001\"","token":"a.b.c"}' "$URL/v1/authorize"
body_has '"check":"token"' "the agent path denies on the token check"
expect 403 "an agent key asking as another agent" "${G[@]}" -d '{"principal":"Agent::\"other\"","action":"Action::\"draft_reply\"","resource":"Ticket::\"T-1001\"","token":"a.b.c"}' "$URL/v1/authorize"
expect 401 "authorize without a key" -d '{}' "$URL/v1/authorize"

# Policies.
expect 200 "GET /v1/policies" "${B[@]}" "$URL/v1/policies"
body_has '"count":5' "five active policies"
OLD_SHA=$(sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/' "$WORK/body")
expect 200 "validate a good set" "${B[@]}" -d '{"policies":"permit(principal, action == Action::\"read_ticket\", resource);"}' "$URL/v1/policies/validate"
body_has '"valid":true' "good set is valid"
expect 200 "validate a bad set" "${B[@]}" -d '{"policies":"permit(principal, action, resource) when { resource.nope };"}' "$URL/v1/policies/validate"
body_has '"valid":false' "bad set is invalid"
expect 422 "PUT a set that does not validate" "${A[@]}" -X PUT -d '{"policies":"permit(principal, action, resource) when { resource.nope };"}' "$URL/v1/policies"
expect 422 "PUT a set that does not parse" "${A[@]}" -X PUT -d '{"policies":"permit(principal"}' "$URL/v1/policies"
expect 200 "the old set stays" "${B[@]}" "$URL/v1/policies"
body_has "\"sha256\":\"$OLD_SHA\"" "sha256 unchanged"
expect 200 "PUT a good set" "${A[@]}" -X PUT -d '{"policies":"@id(\"open-export\")\npermit(principal is Human, action == Action::\"export\", resource);"}' "$URL/v1/policies"
body_has '"version":2' "version 2 active"
expect 200 "the new set decides" "${B[@]}" -d '{"principal":"Human::\"alice\"","action":"Action::\"export\"","resource":"Ticket::\"T-1001\""}' "$URL/v1/authorize"
body_has '"decision":"allow"' "export now allowed"

# Ledger.
expect 200 "GET /v1/ledger/checkpoint" "${B[@]}" "$URL/v1/ledger/checkpoint"
body_has '"origin":"test.example/log"' "checkpoint origin"
expect 200 "GET /v1/ledger/entries" "${B[@]}" "$URL/v1/ledger/entries?start=0&limit=3"
body_has '"index":2' "three entries"
expect 200 "GET /v1/ledger/entries/0" "${B[@]}" "$URL/v1/ledger/entries/0"
body_has '"type":"policy"' "entry 0 records the policy set loaded at start"
expect 404 "entry past the end" "${B[@]}" "$URL/v1/ledger/entries/100000"
expect 200 "inclusion proof" "${B[@]}" "$URL/v1/ledger/proofs/inclusion?index=1"
cp "$WORK/body" "$WORK/proof.json"
body_has '"proof":[' "inclusion proof has hashes"
expect 200 "consistency proof" "${B[@]}" "$URL/v1/ledger/proofs/consistency?size1=1&size2=4"
body_has '"size2":4' "consistency proof to 4"
expect 400 "proof without index" "${B[@]}" "$URL/v1/ledger/proofs/inclusion"

# Metrics.
expect 200 "GET /metrics" "${A[@]}" "$URL/metrics"
body_has 'mandate_decisions_total{decision="allow"} 3' "metrics count 3 allows"
body_has 'mandate_ledger_entries ' "metrics has the ledger size"

# The registry, delegations, the kill switch, approvals, outcomes and the trace.
KEY_LEE=$("$BIN" key create --for 'Human::"lee"' --data "$DATA" 2>/dev/null)
L=(-H "Authorization: Bearer $KEY_LEE")
expect 401 "register without a key" "${J[@]}" -d '{"id":"alice"}' "$URL/v1/humans"
expect 403 "bob may not register people" "${B[@]}" "${J[@]}" -d '{"id":"mallory"}' "$URL/v1/humans"
body_has '"forbidden"' "403 says forbidden"
expect 201 "register alice" "${A[@]}" "${J[@]}" -d '{"id":"alice","name":"Alice"}' "$URL/v1/humans"
body_has '"uid":"Human::\"alice\""' "alice is Human::\"alice\""
expect 201 "register lee" "${A[@]}" "${J[@]}" -d '{"id":"lee"}' "$URL/v1/humans"
expect 409 "register alice twice" "${A[@]}" "${J[@]}" -d '{"id":"alice"}' "$URL/v1/humans"
expect 400 "an agent without an owner" "${A[@]}" "${J[@]}" -d '{"id":"support-drafter"}' "$URL/v1/agents"
expect 201 "register the agent" "${A[@]}" "${J[@]}" -d '{"id":"support-drafter","owner":"alice","model":"m"}' "$URL/v1/agents"
expect 201 "register a group" "${A[@]}" "${J[@]}" -d '{"id":"ops"}' "$URL/v1/groups"
expect 201 "register a service" "${A[@]}" "${J[@]}" -d '{"id":"ci","owner":"alice"}' "$URL/v1/services"
expect 201 "register a workflow" "${A[@]}" "${J[@]}" -d '{"id":"support-reply","owner":"alice","outputs":["customer_response"],"impacts":["customer"]}' "$URL/v1/workflows"
expect 200 "bob lists humans" "${B[@]}" "$URL/v1/humans"
body_has '"uid":"Human::\"lee\""' "the list has lee"
for k in agents services groups workflows; do expect 200 "bob lists $k" "${B[@]}" "$URL/v1/$k"; done
expect 200 "bob shows the agent" "${B[@]}" "$URL/v1/agents/support-drafter"
body_has '"owner":"Human::\"alice\""' "the agent's owner is alice"
expect 200 "show by percent-encoded uid" "${B[@]}" "$URL/v1/humans/Human%3A%3A%22lee%22"
expect 404 "show an unknown human" "${B[@]}" "$URL/v1/humans/zed"
expect 404 "a human is not an agent" "${B[@]}" "$URL/v1/agents/lee"
expect 403 "an agent may not read the registry" "${G[@]}" "$URL/v1/agents"
expect 401 "registry with a bad key" -H "Authorization: Bearer mdk_nope" "$URL/v1/agents"

# Policies with an approval, so that sends need a support lead.
expect 200 "policies with an approval" "${A[@]}" -X PUT -d '{"policies":"@id(\"agents-draft\")\npermit(principal is Agent, action == Action::\"draft_reply\", resource is Ticket);\n@id(\"agents-send\") @impact(\"customer\") @approval(\"verified\") @approvers(\"Group::\\\"support-leads\\\"\")\npermit(principal is Agent, action == Action::\"send_reply\", resource is Ticket);\n@id(\"people-reply\")\npermit(principal is Human, action in [Action::\"draft_reply\", Action::\"send_reply\"], resource is Ticket);\n@id(\"open-export\")\npermit(principal is Human, action == Action::\"export\", resource);"}' "$URL/v1/policies"

# Delegations.
expect 403 "an agent issues no root delegation" "${G[@]}" "${J[@]}" -d '{"to":"support-drafter","task":"t","actions":["Action::\"draft_reply\""],"resources":["Ticket"]}' "$URL/v1/delegations"
expect 403 "alice delegates only as herself" "${A[@]}" "${J[@]}" -d '{"from":"lee","to":"support-drafter","task":"t","actions":["Action::\"draft_reply\""],"resources":["Ticket"]}' "$URL/v1/delegations"
expect 401 "delegate without a key" "${J[@]}" -d '{}' "$URL/v1/delegations"
expect 201 "alice delegates to her agent" "${A[@]}" "${J[@]}" -d '{"to":"support-drafter","task":"reply to T-1001","actions":["Action::\"draft_reply\"","Action::\"send_reply\""],"resources":["Ticket"],"uses":10}' "$URL/v1/delegations"
TOK=$(sed 's/.*"token":"\([^"]*\)".*/\1/' "$WORK/body")
# The context each action's type in the quickstart schema takes (the agent path checks it).
req() { local ctx='{}'; [ "$1" = send_reply ] && ctx='{"approved":true}'
    printf '{"action":"Action::\\"%s\\"","resource":"Ticket::\\"T-1001\\"","context":%s,"token":"%s"%s}' "$1" "$ctx" "$TOK" "${2:-}"; }
expect 200 "the agent drafts on the delegation" "${G[@]}" -d "$(req draft_reply)" "$URL/v1/authorize"
body_has '"decision":"allow"' "draft allowed"
body_has '"mode":"delegated"' "mode delegated"

# Approvals.
expect 200 "the agent sends" "${G[@]}" -d "$(req send_reply)" "$URL/v1/authorize"
body_has '"decision":"approval_required"' "send needs an approval"
APR=$(sed -n 's/.*"id":"\(apr_[0-9a-f]*\)".*/\1/p' "$WORK/body")
expect 401 "approvals without a key" "$URL/v1/approvals"
expect 403 "an agent may not list approvals" "${G[@]}" "$URL/v1/approvals"
expect 200 "lee lists pending approvals" "${L[@]}" "$URL/v1/approvals"
body_has "$APR" "the approval is pending"
expect 200 "lee views it" "${L[@]}" "$URL/v1/approvals/$APR"
body_has '"status":"pending"' "pending"
expect 404 "an unknown approval" "${L[@]}" "$URL/v1/approvals/apr_00000000000000000000000000000000"
expect 403 "the agent may not approve" "${G[@]}" "${J[@]}" -d '{"mode":"verified"}' "$URL/v1/approvals/$APR/approve"
expect 403 "bob is not a support lead" "${B[@]}" "${J[@]}" -d '{"mode":"verified"}' "$URL/v1/approvals/$APR/approve"
body_has '"refused"' "403 says refused"
expect 400 "approve without a mode" "${L[@]}" "${J[@]}" -d '{}' "$URL/v1/approvals/$APR/approve"
expect 200 "lee verifies" "${L[@]}" "${J[@]}" -d '{"mode":"verified","reason":"ok"}' "$URL/v1/approvals/$APR/approve"
expect 200 "the retry" "${G[@]}" -d "$(req send_reply ",\"approval_id\":\"$APR\"")" "$URL/v1/authorize"
body_has '"decision":"allow"' "the retry is allowed"
body_has '"accountable":"Human::\"lee\""' "lee is accountable"
DEC=$(sed 's/.*"entry":\([0-9]*\).*/\1/' "$WORK/body")
expect 200 "a second retry" "${G[@]}" -d "$(req send_reply ",\"approval_id\":\"$APR\"")" "$URL/v1/authorize"
body_has '"decision":"deny"' "the second retry is denied"
expect 200 "another send" "${G[@]}" -d "$(req send_reply)" "$URL/v1/authorize"
APR2=$(sed -n 's/.*"id":"\(apr_[0-9a-f]*\)".*/\1/p' "$WORK/body")
expect 403 "bob may not reject either" "${B[@]}" "${J[@]}" -d '{"reason":"x"}' "$URL/v1/approvals/$APR2/reject"
expect 200 "lee rejects" "${L[@]}" "${J[@]}" -d '{"reason":"tone"}' "$URL/v1/approvals/$APR2/reject"
expect 200 "rejected approvals" "${B[@]}" "$URL/v1/approvals?status=rejected"
body_has '"reason":"tone"' "the rejection is listed"

# Outcomes and the trace.
SHA=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
expect 401 "outcome without a key" "${J[@]}" -d '{}' "$URL/v1/outcomes"
expect 400 "outcome with a bad digest" "${G[@]}" "${J[@]}" -d "{\"decision\":$DEC,\"kind\":\"customer_response\",\"sha256\":\"xyz\",\"disposition\":\"accepted\"}" "$URL/v1/outcomes"
expect 201 "the agent records the outcome" "${G[@]}" "${J[@]}" -d "{\"decision\":$DEC,\"kind\":\"customer_response\",\"sha256\":\"$SHA\",\"uri\":\"mail://acme/T-1001\",\"disposition\":\"accepted\"}" "$URL/v1/outcomes"
expect 401 "trace without a key" "$URL/v1/trace?q=$SHA"
expect 403 "an agent may not trace" "${G[@]}" "$URL/v1/trace?q=$SHA"
expect 400 "trace without a query" "${B[@]}" "$URL/v1/trace"
expect 404 "trace of nothing" "${B[@]}" "$URL/v1/trace?q=mail%3A%2F%2Fnowhere"
expect 200 "bob traces the artifact" "${B[@]}" "$URL/v1/trace?q=$SHA"
body_has '"mode":"verified"' "the trace names the mode"
body_has '"approver":"Human::\"lee\""' "the trace names the approver"
cp "$WORK/body" "$WORK/trace.json"
expect 200 "the verifier key" "${B[@]}" "$URL/v1/ledger/checkpoint"
VKEY=$(sed 's/.*"verifier_key":"\([^"]*\)".*/\1/' "$WORK/body")
"$BIN" trace --verify "$WORK/trace.json" --key "$VKEY" >/dev/null && ok "the trace verifies offline" || fail "trace verify"

# The kill switch.
expect 403 "bob may not freeze" "${B[@]}" -X POST "$URL/v1/freeze"
expect 403 "the agent may not freeze" "${G[@]}" -X POST "$URL/v1/freeze"
expect 401 "freeze without a key" -X POST "$URL/v1/freeze"
expect 200 "alice freezes" "${A[@]}" -X POST "$URL/v1/freeze"
expect 200 "a decision while frozen" "${G[@]}" -d "$(req draft_reply)" "$URL/v1/authorize"
body_has '"check":"frozen"' "denied: frozen"
expect 200 "alice unfreezes" "${A[@]}" -X POST "$URL/v1/unfreeze"
expect 403 "bob may not suspend" "${B[@]}" -X POST "$URL/v1/agents/support-drafter/suspend"
expect 200 "alice suspends the agent" "${A[@]}" -X POST "$URL/v1/agents/support-drafter/suspend"
expect 200 "a decision while suspended" "${G[@]}" -d "$(req draft_reply)" "$URL/v1/authorize"
body_has '"check":"agent"' "denied: agent suspended"
expect 404 "suspend an unknown agent" "${A[@]}" -X POST "$URL/v1/agents/nobody/suspend"
expect 200 "alice resumes the agent" "${A[@]}" -X POST "$URL/v1/agents/support-drafter/resume"
expect 403 "the agent may not revoke" "${G[@]}" "${J[@]}" -d "{\"delegation\":\"$TOK\"}" "$URL/v1/delegations/revoke"
expect 403 "bob may not revoke alice's delegation" "${B[@]}" "${J[@]}" -d "{\"delegation\":\"$TOK\"}" "$URL/v1/delegations/revoke"
expect 200 "alice revokes the delegation" "${A[@]}" "${J[@]}" -d "{\"delegation\":\"$TOK\",\"reason\":\"done\"}" "$URL/v1/delegations/revoke"
expect 200 "a decision on a revoked delegation" "${G[@]}" -d "$(req draft_reply)" "$URL/v1/authorize"
body_has '"check":"token"' "denied: revoked"

# A key revoked from the CLI stops working within the key cache time (200 ms here).
KEY_TMP=$("$BIN" key create --for 'Human::"carol"' --data "$DATA" 2>/dev/null)
expect 200 "carol's new key works" -H "Authorization: Bearer $KEY_TMP" "$URL/v1/policies"
ID=${KEY_TMP#mdk_}; ID=${ID%%_*}
"$BIN" key revoke "$ID" --data "$DATA" >/dev/null || fail "key revoke"
sleep 0.5
expect 401 "carol's revoked key is refused" -H "Authorization: Bearer $KEY_TMP" "$URL/v1/policies"
"$BIN" key list --data "$DATA" | grep -q '"revoked": true' && ok "key list shows the revocation" || fail "key list"

# Graceful shutdown under load: every acknowledged decision is in the ledger afterwards.
shutdown_under_load() {
    local label=$1 before acked after
    before=$(curl -s "$URL/healthz" | sed 's/.*"ledger_size":\([0-9]*\).*/\1/')
    rm -f "$WORK"/acks.*
    for i in $(seq 1 8); do
        ( for j in $(seq 1 25); do
            curl -s --max-time 10 "${A[@]}" -d '{"principal":"Human::\"alice\"","action":"Action::\"export\"","resource":"Ticket::\"T-1001\""}' "$URL/v1/authorize" | grep -c '"entry"'
          done >"$WORK/acks.$i" ) &
    done
    sleep 0.5
    stop_server
    wait
    acked=$(cat "$WORK"/acks.* | awk '{s+=$1} END {print s+0}')
    after=$("$BIN" ledger verify --data "$DATA" 2>/dev/null | sed -n 's/^ok: \([0-9]*\) entries.*/\1/p')
    if [ -z "$after" ]; then after=$(sqlite3 "$DATA/mandate.db" 'select count(*) from ledger_entry' 2>/dev/null); fi
    if [ -n "$after" ] && [ "$after" -ge $((before + acked)) ]; then ok "$label: shutdown kept all $acked acknowledged decisions ($after entries)"; else fail "$label: after shutdown: $after entries, want >= $before + $acked"; fi
    "$BIN" ledger verify --data "$DATA" >/dev/null 2>&1 && ok "$label: ledger verifies after shutdown" || fail "$label: ledger verify failed"
}
shutdown_under_load poll

# The epoll event loop: libmicrohttpd suspends and resumes connections differently there.
start_server --threads 2 --event-loop epoll
expect 200 "epoll: authorize allow" "${G[@]}" "${J[@]}" -d '{"principal":"Agent::\"support-drafter\"","action":"Action::\"draft_reply\"","resource":"Ticket::\"T-1001\""}' "$URL/v1/authorize"
body_has '"decision":"allow"' "epoll: draft_reply is allowed"
shutdown_under_load epoll
"$BIN" serve --data "$DATA" --port 0 --event-loop select >/dev/null 2>"$WORK/err" && fail "--event-loop select was accepted"
grep -q "event-loop must be poll or epoll, not 'select'" "$WORK/err" && ok "an unknown event loop is refused by name" || fail "event-loop error: $(cat "$WORK/err")"
finish
