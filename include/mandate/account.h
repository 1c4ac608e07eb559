/*
 * mandate/account.h: accountability: approvals bound to the exact request, outcomes, and the
 * trace from an artifact back to the agent, the delegation, the policies, the approver and the
 * accountable human. docs/accountability.md describes the model, the annotations and the CLI.
 *
 * A mandate_account is an opaque handle made by mandate_account_open over a data directory made
 * by `mandate init`: its tables (account_*) live in DIR/mandate.db beside the ledger's, over its
 * own connection; every approve, reject, view, expiry and outcome is a ledger entry appended
 * through the mandate_ledger the caller passes (borrowed: it must outlive the handle). A handle
 * may be shared by threads (one mutex guards its store connection).
 *
 * The decision path calls the gate (src/account/account_int.h, md_account_gate) after its Cedar
 * checks allowed; everything else here is for people and tools: view, approve or reject, record
 * outcomes, trace. Errors are negative mandate_err codes with a message in the mandate_diag;
 * MANDATE_EDENIED when the caller may not do what it asked (an agent approving, an approver
 * outside the policy's @approvers, a used or expired approval). Strings returned through
 * out-parameters are owned by the caller and freed with free().
 */
#ifndef MANDATE_ACCOUNT_H
#define MANDATE_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mandate/cedar.h"
#include "mandate/error.h"
#include "mandate/ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mandate_account mandate_account;

typedef struct mandate_account_opts {
    const char *data_dir;    /* DIR/mandate.db; required unless store_uri is given */
    const char *store_uri;   /* "sqlite:PATH" or a path; NULL = DIR/mandate.db */
    mandate_ledger *ledger;  /* borrowed; required (entries are appended through it) */
    int64_t approval_ttl_ms; /* how long an approval id stays valid; 0 = 15 minutes */
} mandate_account_opts;

int mandate_account_open(mandate_account **out, const mandate_account_opts *o, mandate_diag *diag);
/* Accepts NULL. Does not close the ledger. */
void mandate_account_close(mandate_account *acc);

/* ---- the canonical request ---- */
/* The canonical form of a request that approvals are bound to: the JSON array
 *   ["mandate.request.v1", PRINCIPAL, ACTION, RESOURCE, CONTEXT]
 * where the uids are re-printed in Cedar's canonical syntax (Type::"id", namespaces joined by
 * ::, no spaces) and CONTEXT is the caller's context object (without "mandate", which the decision
 * path fills in) with object keys sorted bytewise, no whitespace, strings as UTF-8 with the
 * minimal JSON escapes, integers in decimal; floating-point numbers and duplicate keys are
 * rejected (Cedar has neither) and nesting is capped at 64. The digest is SHA-256 of those bytes,
 * lowercase hex. *canonical (may be NULL) is owned. */
int mandate_request_canonical(const char *principal, const char *action, const char *resource,
                              const char *context_json, char **canonical, char digest_hex[65],
                              mandate_diag *diag);

/* ---- approvals ---- */
/* The approval as JSON {"id","status","digest","request":{principal,action,resource,context},
 * "obligations":{...},"created_ms","expires_ms","approver","mode","reason","dwell_ms",...}. When
 * viewer is not NULL this is a view: the viewer's first view is recorded (a ledger entry
 * "viewed") and starts the dwell clock of that viewer's decision. now_ms 0 = the clock. */
int mandate_approval_view(mandate_account *acc, const char *id, const char *viewer, int64_t now_ms,
                          char **json_out, mandate_diag *diag);

typedef struct mandate_approval_input {
    const char *id;       /* the approval id from the approval_required decision */
    const char *approver; /* a Human uid (Human::"alice" or plain alice) */
    bool approve;         /* false: reject */
    const char *mode;     /* "verified" or "decided"; required to approve */
    const char *reason;   /* optional, at most 2048 bytes */
    int64_t now_ms;       /* 0 = the clock */
} mandate_approval_input;

/* Approves or rejects a pending approval. entities_json (len 0 = strlen) is the Cedar entities
 * JSON the approver's membership is checked in (mandate_registry_entities_json); the approver must
 * be a Human, active when the store says so, `in` every @approvers entity of the policy, not the
 * request's principal and not separated from it (@separation). The decision is a ledger entry (type
 * approval, event approved or rejected) with the approver, mode, reason and dwell time; its index
 * goes to *index (may be NULL). An expired approval is marked expired (a ledger entry) and refused.
 */
int mandate_approval_decide(mandate_account *acc, const char *entities_json, size_t len,
                            const mandate_approval_input *in, uint64_t *index, mandate_diag *diag);
/* A JSON array of approvals with this status ("pending", "approved", ...; NULL = all), oldest
 * first, at most limit (0 = 1000). */
int mandate_approval_list(mandate_account *acc, const char *status, size_t limit, char **json_out,
                          mandate_diag *diag);
/* Marks every pending or approved approval past its expiry as expired, one ledger entry each. */
int mandate_approval_expire(mandate_account *acc, int64_t now_ms, size_t *n_expired,
                            mandate_diag *diag);

/* ---- outcomes ---- */
typedef struct mandate_outcome {
    uint64_t decision;       /* ledger index of the allowed decision it came from */
    const char *kind;        /* code, summary, recommendation, customer_response, ... */
    const char *sha256;      /* the artifact's SHA-256, 64 hex digits */
    const char *uri;         /* where it is; optional */
    const char *disposition; /* accepted, edited or rejected */
    const char *recorded_by; /* a uid or free text; optional */
    int64_t now_ms;          /* 0 = the clock */
} mandate_outcome;

/* Records an outcome of an allowed decision: a ledger entry (type outcome). */
int mandate_outcome_record(mandate_account *acc, const mandate_outcome *o, uint64_t *index,
                           mandate_diag *diag);

/* ---- trace ---- */
/* The chain behind an artifact, as JSON. query is an artifact's SHA-256 (64 hex), a decision id
 * (the decision's ledger index, "123" or "decision:123") or an artifact URI. The answer names
 * the artifact (outcome), decision, agent, workflow, delegation chain, determining policies,
 * approval (who, mode, dwell) and accountable human (with the mode), each with its ledger index
 * and an inclusion proof against the checkpoint in "checkpoint" (signed for the current size
 * when the ledger holds its key, else the latest). Elements the ledger has no entry for are
 * listed in "missing". MANDATE_ENOTFOUND when nothing matches the query. */
int mandate_trace(mandate_account *acc, const char *query, char **json_out, mandate_diag *diag);

/* Checks a trace offline: the checkpoint's signature against verifier_key, and for every element
 * that its entry hashes to the proof's leaf and the proof leads to the checkpoint's root.
 * MANDATE_OK, or MANDATE_ECRYPTO naming the first element that fails. *n_proofs (may be NULL)
 * gets the number of proofs checked. */
int mandate_trace_verify(const char *json, size_t len, const char *verifier_key, size_t *n_proofs,
                         mandate_diag *diag);

/* ---- the policy pack ---- */
/* Loads a policy pack directory: every DIR/ *.cedarschema file, in name order, concatenated into
 * one schema text, and the policy file (NULL = "default.cedar") as policy text. Both owned.
 * The schema is parsed and the policies are validated against it before returning. */
int mandate_account_load_pack(const char *dir, const char *policy_file, char **schema_text,
                              size_t *schema_len, char **policy_text, size_t *policy_len,
                              mandate_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
