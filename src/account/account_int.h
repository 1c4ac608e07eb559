/*
 * account_int.h: private declarations of the accountability module (src/account/) and the gate
 * the agent decision path calls.
 *
 * obligations.c: obligations from the annotations of the determining permit policies.
 * canon.c: the canonical request and its digest. account.c: the handle, the gate, approvals,
 * outcomes. trace.c: the trace index (a cache rebuilt from the ledger) and the trace. pack.c:
 * loading a policy pack directory.
 *
 * The gate runs after the decision path's Cedar checks allowed; it never turns a deny into an
 * allow. It returns a verdict for every request: allow (with the mode and the accountable human),
 * approval_required (with a new approval id bound to the request digest) or deny (a used,
 * expired, rejected or mismatched approval, an impactful action without a human, a malformed
 * annotation: fail closed). Approvals move pending -> deciding -> approved|rejected -> used, or
 * -> expired, by compare-and-set in the store, so one approval allows one decision.
 *
 * May depend on: core, cedar (cedar_int.h), store/account_store.h, the public ledger.h and
 * (for offline verification of traces) ledger_int.h's entry encoding and leaf hash.
 */
#ifndef MD_ACCOUNT_INT_H
#define MD_ACCOUNT_INT_H

#include <jansson.h>
#include <pthread.h>

#include "cedar/cedar_int.h"
#include "core/core.h"
#include "core/json.h"
#include "mandate/account.h"
#include "store/account_store.h"

#define MD_ACCOUNT_MAX_CONTEXT (1u << 20) /* bytes of a request context */
#define MD_ACCOUNT_MAX_DEPTH 64           /* nesting of the canonical context */
#define MD_ACCOUNT_MAX_REASON 2048        /* bytes of an approver's reason */
#define MD_ACCOUNT_MAX_FIELD 1024         /* bytes of a uid, uri, kind, ... */
#define MD_ACCOUNT_MAX_CHAIN 16           /* delegation hops followed by trace */
#define MD_ACCOUNT_MAX_LIST 64            /* policies / impacts / approvers per decision */

struct mandate_account {
    pthread_mutex_t mu; /* guards st */
    md_astore *st;
    mandate_ledger *ledger;
    int64_t ttl_ms;
};

/* ---- obligations (obligations.c) ---- */
typedef struct md_obligations {
    const char *approval;        /* NULL: none; "required" (either mode), "verified" or "decided" */
    const char *approval_policy; /* the policy that asked for it */
    size_t n_approvers;          /* every one must hold: the approver `in` each */
    md_euid *approvers;
    const char **approvers_text; /* canonical uid text */
    bool sep_delegator, sep_owner;
    size_t n_impacts; /* sorted, unique: customer, employee, production, internal */
    const char **impacts;
} md_obligations;

/* Folds the annotations of the determining policies (forbids are ignored). A malformed value is
 * MANDATE_EINVAL naming the policy: the gate denies (fail closed). */
int md_obligations_from_policies(md_arena *a, const md_policy *const *ps, size_t n,
                                 md_obligations *out, md_diag *d);
/* True for customer, employee and production. */
bool md_impact_is_impactful(const char *impact);

/* ---- canonical request (canon.c) ---- */
/* Canonical uid text of a Cedar uid (Type::"id"), in a. */
int md_account_uid(md_arena *a, const char *text, const char **out, md_euid *uid, md_diag *d);
/* The canonical request bytes (NUL-terminated, in a) and its hex digest. */
int md_request_canonical(md_arena *a, const char *principal, const char *action,
                         const char *resource, const char *context_json, const char **canonical,
                         const char **context_canonical, char digest_hex[65], md_diag *d);

/* ---- the gate (account.c) ---- */
enum { MD_ACCOUNT_ALLOW = 0, MD_ACCOUNT_DENY = 1, MD_ACCOUNT_APPROVAL_REQUIRED = 2 };

typedef struct md_account_req {
    const char *principal, *action, *resource; /* Cedar uids */
    const char *context_json;                  /* the caller's context, no "mandate"; NULL = {} */
    const char *delegator; /* the root delegator (a Human uid); NULL when no human delegated */
    const char *owner;     /* the agent's owner; NULL when none */
    const char *workflow;  /* NULL when none */
    const char *const *workflow_impacts;
    size_t n_workflow_impacts;
    const char *delegation;          /* the token's jti; NULL */
    const md_policy *const *reasons; /* the agent check's determining policies */
    size_t n_reasons;
    const char *approval_id; /* the retry's approval id; NULL on a first request */
    int64_t now_ms;          /* 0 = the clock */
} md_account_req;

typedef struct md_account_verdict {
    int outcome;               /* MD_ACCOUNT_* */
    const char *reason;        /* why (deny, approval_required); "" for an allow */
    const char *mode;          /* verified, decided, delegated, auto; NULL unless allowed */
    const char *accountable;   /* the accountable human's uid; NULL unless allowed */
    const char *digest;        /* the request digest when an approval is involved, else NULL */
    const char *approval_id;   /* new (approval_required) or used (allow); NULL otherwise */
    const char *approval_mode; /* the mode the policy asks for ("required" = either) */
    const char *approvers;     /* the @approvers, comma separated, for the message */
    const char *approver;      /* who approved (when used) */
    int64_t dwell_ms;          /* the approver's dwell time (-1 when never viewed) */
    int64_t expires_ms;        /* for approval_required */
    size_t n_impacts;
    const char **impacts;
} md_account_verdict;

/* Decides the accountability part of one request that the Cedar checks allowed. The verdict
 * lives in a. Returns 0 for every verdict (store failures are a deny saying so); a negative
 * error only for misuse (NULL arguments): treat it as a deny. A retry consumes its approval
 * here, before the decision is recorded: if recording then fails, the approval stays used
 * (fail closed). */
int md_account_gate(mandate_account *acc, const md_account_req *r, md_arena *a,
                    md_account_verdict *v, md_diag *d);
/* "allow", "deny" or "approval_required". */
const char *md_account_outcome_name(int outcome);
/* Adds the verdict's fields to a decision's result or entry: "decision" (when outcome is not
 * allow), "mode", "accountable", "impact", "request_digest", "approval" {id, status, approver,
 * mode, approvers, dwell_ms, expires_ms, and "required" once used}. */
void md_account_verdict_write(const md_account_verdict *v, md_jobj *o);
/* After the decision entry was appended at ledger_index: binds the approval to it. */
int md_account_decided(mandate_account *acc, const md_account_verdict *v, uint64_t ledger_index,
                       md_diag *d);

/* Approve or reject with an entity store the caller already has (the registry's snapshot). */
int md_approval_decide(mandate_account *acc, const md_entities *es,
                       const mandate_approval_input *in, uint64_t *index, md_diag *d);

/* Appends a ledger entry (body consumed) at time now_ms. */
int md_account_log(mandate_account *acc, int type, json_t *body, int64_t now_ms, uint64_t *index,
                   md_diag *d);
int64_t md_account_now(int64_t now_ms);
/* Copies a md_diag into a public mandate_diag and returns rc. */
int md_account_finish(mandate_diag *out, const md_diag *d, int rc);

/* ---- trace (trace.c) ---- */
/* Brings the trace index up to the ledger's size (scans entries not indexed yet). */
int md_account_index_catch_up(mandate_account *acc, md_diag *d);

#endif
