/*
 * mandate/registry.h: the registry of identities (humans, agents, services, groups, workflows),
 * delegations bound to it (issue, re-delegate, revoke, use counts), the kill switch, and the
 * authorization path for an agent acting on a delegation (ARCHITECTURE.md section 3).
 * docs/identity.md describes the model, the CLI and the decision path.
 *
 * A mandate_registry is an opaque handle made by mandate_registry_open over a data directory made
 * by `mandate init` (mandate_ledger_init): the registry's tables live in DIR/mandate.db beside the
 * ledger, every decision and every change is a ledger entry, and delegations are signed with
 * DIR/delegation.key (made on first open, mode 0600). A handle may be shared by threads: decisions
 * run concurrently over an immutable, sealed snapshot of the registry (registry entities merged
 * with the caller's entities, the policies, the schema); every change publishes a new snapshot
 * atomically, so the very next decision sees it. Changes made by another process are picked up
 * by the next decision too (the store's data version is checked on every decision).
 *
 * The agent path fails closed: every error (token, store, evaluation, ledger) is a deny with the
 * check that failed and why, and an erroring `forbid` policy denies (the plain Cedar API keeps
 * Cedar's semantics). Errors are negative mandate_err codes with a message in the mandate_diag.
 * Strings returned through out-parameters are owned by the caller and freed with free().
 */
#ifndef MANDATE_REGISTRY_H
#define MANDATE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mandate/account.h"
#include "mandate/cedar.h"
#include "mandate/error.h"
#include "mandate/ledger.h"
#include "mandate/token.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mandate_registry mandate_registry;

/* What a principal is; the Cedar entity type is the capitalised name (Human, Agent, ...). */
typedef enum mandate_kind {
    MANDATE_KIND_HUMAN = 1,
    MANDATE_KIND_AGENT = 2,
    MANDATE_KIND_SERVICE = 3,
    MANDATE_KIND_GROUP = 4,
    MANDATE_KIND_WORKFLOW = 5,
} mandate_kind;

/* "human", "agent", ...; NULL for an unknown kind. */
const char *mandate_kind_name(int kind);
/* The kind for a name ("human", ...), or 0. */
int mandate_kind_from_name(const char *name);

typedef enum mandate_status {
    MANDATE_STATUS_ACTIVE = 0,
    MANDATE_STATUS_SUSPENDED = 1,
    MANDATE_STATUS_DEPARTED = 2, /* a human departed; an agent, service or workflow retired */
} mandate_status;

/* "active", "suspended", "departed" (humans) or "retired" (the others); NULL when unknown. */
const char *mandate_status_name(int kind, int status);

typedef struct mandate_registry_opts {
    const char *data_dir;    /* required: made by `mandate init` */
    const char *store_uri;   /* the registry store; NULL = DIR/mandate.db ("sqlite:PATH" too) */
    const char *issuer;      /* iss of delegation tokens; NULL = "mandate.local" */
    const char *audience;    /* aud; NULL = "mandate" */
    int64_t max_lifetime;    /* cap on a delegation's lifetime, seconds; 0 = the token default */
    int64_t approval_ttl_ms; /* how long an approval id stays valid; 0 = 15 minutes */
    /* Read-only: the ledger is opened without its signing key, so no writer lock is taken and the
     * handle works while another process (`mandate serve`) writes the data directory; no
     * delegation key is made. Every change (add, status, freeze, delegations, revocations,
     * approvals, agent decisions) is refused with MANDATE_EDENIED; set_policies, set_schema and
     * set_entities only change what this handle's snapshots use (no policy entry is logged). */
    bool read_only;
} mandate_registry_opts;

int mandate_registry_open(mandate_registry **out, const mandate_registry_opts *o,
                          mandate_diag *diag);
/* Waits for no decision; the caller stops using the handle first. Accepts NULL. */
void mandate_registry_close(mandate_registry *r);
/* The version of the registry snapshot decisions use now (bumped by every change). */
uint64_t mandate_registry_version(mandate_registry *r);
/* The same, false when no current snapshot can be had (the version is then unknown). */
bool mandate_registry_current_version(mandate_registry *r, uint64_t *version);
/* The evidence ledger the registry writes to (the database's one writer). Borrowed: valid until
 * mandate_registry_close; do not close it. */
mandate_ledger *mandate_registry_ledger(mandate_registry *r);
/* The accountability handle opened on the same data directory and ledger (approvals, outcomes,
 * trace; mandate/account.h). Borrowed: valid until mandate_registry_close; do not close it. */
mandate_account *mandate_registry_account(mandate_registry *r);
/* Approves or rejects a pending approval (mandate_approval_decide) with the approver's membership
 * checked in the entities decisions see now (registry merged with the caller's). */
int mandate_registry_approve(mandate_registry *r, const mandate_approval_input *in, uint64_t *index,
                             mandate_diag *diag);

/* A principal to register. Ids are plain (`alice`) or uids of the kind's type (`Human::"alice"`);
 * references (owner, workflow, member_of) likewise, plain ids naming the expected type. */
typedef struct mandate_principal {
    int kind;                     /* a mandate_kind */
    const char *id;               /* required */
    const char *name;             /* display name; optional */
    const char *owner;            /* a human: required for agents and workflows */
    const char *workflow;         /* agents: the workflow they serve; optional */
    const char *model, *provider; /* agents; optional */
    const char *const *member_of; /* groups this principal (or group) belongs to */
    size_t n_member_of;
    const char *const *outputs; /* workflows: code, summary, recommendation, ... */
    size_t n_outputs;
    const char *const *impacts; /* workflows: customer, employee, production, internal */
    size_t n_impacts;
    const char *const *actions; /* workflows: entitled action uids; none = any */
    size_t n_actions;
    const char *const *resource_types; /* workflows: entitled resource types; none = any */
    size_t n_resource_types;
} mandate_principal;

/* Registers a principal (status active). References must exist: an agent's owner must be a
 * registered human. actor names who made the change (a uid or free text); it goes into the
 * ledger entry. MANDATE_EEXIST when the id is taken. */
int mandate_registry_add(mandate_registry *r, const mandate_principal *p, const char *actor,
                         mandate_diag *diag);
/* Suspends, resumes or retires (departs) a principal. The kill switch: the next decision that
 * depends on it (as agent, owner, delegator or workflow) is a deny, tokens issued before
 * included. One ledger entry (type registry) naming the actor. */
int mandate_registry_set_status(mandate_registry *r, const char *uid, int status, const char *actor,
                                mandate_diag *diag);
/* Freezes (every agent decision denies) or unfreezes everything; a ledger entry. */
int mandate_registry_freeze(mandate_registry *r, bool frozen, const char *actor,
                            mandate_diag *diag);
bool mandate_registry_frozen(mandate_registry *r);
/* The status (MANDATE_STATUS_*) of a registered principal, uid in any Cedar spelling, from the
 * current snapshot (from the store when no snapshot builds). MANDATE_ENOTFOUND when uid is not
 * registered; MANDATE_EINVAL when it is not a uid. */
int mandate_registry_principal_status(mandate_registry *r, const char *uid, int *status,
                                      mandate_diag *diag);
/* A JSON array of the principals of one kind (0 = every kind), in uid order; owned. */
int mandate_registry_list(mandate_registry *r, int kind, char **json_out, mandate_diag *diag);
/* One principal as a JSON object; owned. MANDATE_ENOTFOUND when unknown. */
int mandate_registry_show(mandate_registry *r, const char *uid, char **json_out,
                          mandate_diag *diag);
/* The Cedar entities decisions see now (registry merged with the caller's), as entities JSON. */
int mandate_registry_entities_json(mandate_registry *r, char **json_out, mandate_diag *diag);

/* Inputs of the engine, kept in memory (not in the store): Cedar policy text, an optional schema
 * (Cedar schema text; NULL clears it) and the caller's entities JSON (merged with the registry's:
 * for a uid in both, attributes are merged with the registry's winning and parents are joined).
 * Each call builds and publishes a new snapshot, or fails and leaves the current one. */
int mandate_registry_set_policies(mandate_registry *r, const char *text, size_t len,
                                  mandate_diag *diag);
int mandate_registry_set_schema(mandate_registry *r, const char *text, size_t len,
                                mandate_diag *diag);
int mandate_registry_set_entities(mandate_registry *r, const char *json, size_t len,
                                  mandate_diag *diag);

/* ---- delegations ---- */
/* Issues a root delegation from a human to an agent. The delegator must be an active human, the
 * agent registered and active with an active owner, the workflow (if any) active. A ledger entry
 * (type delegation). *token is owned; err (may be NULL) gets the token reason on failure. */
int mandate_registry_delegate(mandate_registry *r, const mandate_delegation *d, const char *actor,
                              char **token, mandate_token_error *err, mandate_diag *diag);
/* Re-delegates: verifies parent (with its own ancestors in parents, parent first; not needed when
 * cached) and signs a narrower child for d->subject; a ledger entry. */
int mandate_registry_redelegate(mandate_registry *r, const char *parent, const char *const *parents,
                                size_t n_parents, const mandate_delegation *d, const char *actor,
                                char **token, mandate_token_error *err, mandate_diag *diag);
/* Revokes a delegation by jti, or by its compact token (which must be signed by this registry's
 * key ring: MANDATE_EINVAL otherwise); everything delegated from it stops at the next decision.
 * Idempotent; a ledger entry (type revocation) the first time. */
int mandate_registry_revoke(mandate_registry *r, const char *jti_or_token, const char *actor,
                            const char *reason, mandate_diag *diag);
/* Whether actor is a party to a delegation and so may revoke it without a wider right: 0 when
 * token (compact, signed by this registry's key ring; expired or revoked ones too) names actor as
 * one of its delegators (the human at its root, an agent that re-delegated it) or its agent is
 * owned by actor; MANDATE_EDENIED when not, and for a bare jti (who issued it is not known
 * without the token); MANDATE_EINVAL when token is not a delegation signed here; MANDATE_ENOMEM,
 * or a store error while reading the agent's owner. */
int mandate_registry_revoke_party(mandate_registry *r, const char *jti_or_token, const char *actor,
                                  mandate_diag *diag);
/* The public keys that verify delegations, as a JWKS document; owned. */
int mandate_registry_jwks(mandate_registry *r, char **json_out, mandate_diag *diag);

/* ---- the agent decision path ---- */
typedef struct mandate_agent_request {
    const char *token;          /* the delegation, compact JWS; required */
    size_t token_len;           /* 0 = strlen(token) */
    const char *const *parents; /* ancestors of a re-delegated token, parent first */
    size_t n_parents;
    const char *principal;    /* optional: when given, must be the token's subject */
    const char *action;       /* Cedar uid: Action::"send" */
    const char *resource;     /* Cedar uid */
    const char *context_json; /* a JSON object without a "mandate" key; NULL = {} */
    int64_t now;              /* seconds; 0 = time(NULL) */
    const char *approval_id;  /* the retry of an approval_required request: its approval id */
} mandate_agent_request;

/* Which check decided a deny (MANDATE_CHECK_NONE for an allow). Stable numbers and names. */
typedef enum mandate_check {
    MANDATE_CHECK_NONE = 0,      /* "none": allowed */
    MANDATE_CHECK_REQUEST = 1,   /* "request": malformed request (uid, context) */
    MANDATE_CHECK_FROZEN = 2,    /* "frozen": the global freeze is on */
    MANDATE_CHECK_AGENT = 3,     /* "agent": unknown, suspended or retired agent, inactive owner */
    MANDATE_CHECK_TOKEN = 4,     /* "token": the delegation did not verify (token_reason says) */
    MANDATE_CHECK_WORKFLOW = 5,  /* "workflow": unknown/inactive workflow, or not entitled */
    MANDATE_CHECK_POLICY = 6,    /* "policy": the policies deny the agent */
    MANDATE_CHECK_DELEGATOR = 7, /* "delegator": the policies deny the delegator */
    MANDATE_CHECK_SCOPE = 8,     /* "scope": outside the delegation's actions or resources */
    MANDATE_CHECK_INTERNAL = 9,  /* "internal": store or evaluation failure (fail closed) */
    MANDATE_CHECK_LEDGER = 10,   /* "ledger": the decision could not be recorded (fail closed) */
    MANDATE_CHECK_APPROVAL = 11, /* "approval": accountability (docs/accountability.md): an
                                  * approval is required (decision approval_required), or the
                                  * approval presented was refused, or an impactful action has
                                  * no accountable human */
} mandate_check;

const char *mandate_check_name(int check);

typedef struct mandate_agent_result mandate_agent_result;

/* Decides one request of an agent acting on a delegation: resolve the agent, verify the token,
 * build context.mandate, then three checks that must all allow (the policies for the agent; the
 * same request for the root delegator; the delegation's scope), then the accountability gate
 * (obligations of the determining permits: an approval bound to the exact request, the mode and
 * the accountable human). A request that needs an approval gets the decision approval_required
 * (check approval) with an approval id; its retry carries the id (approval_id) and is allowed
 * once, for that exact request. An allow counts one use of the delegation (and its ancestors)
 * and one usage of (agent, action). Every decision is appended to the ledger and durable before
 * this returns.
 *
 * Returns 0 with *out set for every decision, allow or deny (a failure inside the path is a deny
 * with check internal or ledger, and result's error says what). Returns a negative error with
 * *out NULL only for misuse (NULL arguments) or when no result could be allocated: treat that as
 * a deny too. Free the result with mandate_agent_result_free. */
int mandate_agent_authorize(mandate_registry *r, const mandate_agent_request *req,
                            mandate_agent_result **out, mandate_diag *diag);
/* The same decision, but its ledger entry is only submitted (mandate_ledger_submit), so a server
 * can answer other requests while the entry becomes durable: mandate_agent_result_ledger_index
 * gives the entry's ticket, and the decision must not be acted on or reported before
 * mandate_ledger_wait(mandate_registry_ledger(r), ticket) returns 0. When the wait fails the
 * decision was not recorded: treat it as a deny. A decision that went through the approval gate
 * (approval_required, or the retry that uses an approval) is still waited for inside, because its
 * approval is bound to the durable entry; waiting again returns at once. */
int mandate_agent_authorize_submit(mandate_registry *r, const mandate_agent_request *req,
                                   mandate_agent_result **out, mandate_diag *diag);

bool mandate_agent_result_allowed(const mandate_agent_result *res);
/* "allow", "deny" or "approval_required" (static). */
const char *mandate_agent_result_decision(const mandate_agent_result *res);
/* The approval id: the new one of an approval_required decision, or the one an allow used; NULL
 * otherwise. Borrowed. */
const char *mandate_agent_result_approval_id(const mandate_agent_result *res);
/* For an allow: the accountability mode (verified, decided, delegated, auto) and the accountable
 * human's uid; NULL otherwise. Borrowed. */
const char *mandate_agent_result_mode(const mandate_agent_result *res);
const char *mandate_agent_result_accountable(const mandate_agent_result *res);
int mandate_agent_result_check(const mandate_agent_result *res);
/* Why: what failed, quoting the subject ("" for an allow). Borrowed. */
const char *mandate_agent_result_reason(const mandate_agent_result *res);
/* For check token: the mandate_token_reason; 0 otherwise. */
int mandate_agent_result_token_reason(const mandate_agent_result *res);
/* The mandate_err behind an internal, ledger or request deny; 0 otherwise. */
int mandate_agent_result_error(const mandate_agent_result *res);
/* Determining policies: for an allow, the agent check's permits; for a policy or delegator deny,
 * that check's forbids (none when nothing permitted). Borrowed. */
size_t mandate_agent_result_policy_count(const mandate_agent_result *res);
const char *mandate_agent_result_policy(const mandate_agent_result *res, size_t i);
/* Evaluation errors of the checks ("policy: message", prefixed "delegator: " for check b). */
size_t mandate_agent_result_error_count(const mandate_agent_result *res);
const char *mandate_agent_result_error_message(const mandate_agent_result *res, size_t i);
/* The ledger index of the decision entry; UINT64_MAX when it was not recorded. */
uint64_t mandate_agent_result_ledger_index(const mandate_agent_result *res);
/* {"decision":"allow"|"deny"|"approval_required","check":..,"reason":..,"token_reason":..,
 *  "principal":..,"delegator":..,"delegation":..,"policies":[..],"errors":[..],"ledger_index":..,
 *  "mode":..,"accountable":..,"impact":[..],"approval":{"id",...}|null}; owned. Policies are
 *  named by their @id annotation when they have one (as in the policy ledger entries). */
char *mandate_agent_result_to_json(const mandate_agent_result *res);
void mandate_agent_result_free(mandate_agent_result *res);

#ifdef __cplusplus
}
#endif
#endif
