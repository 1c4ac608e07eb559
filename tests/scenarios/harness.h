/*
 * harness.h: the decision path of the accountability scenarios and the property test.
 *
 * hz_open makes a data directory with a real registry (mandate_registry_open: the story world's
 * humans, groups, workflows, agents and a service, the resources as user entities, the default
 * pack's schema and policies); the ledger and the accountability handle are the registry's.
 * hz_decide sends an agent acting for a human delegator through the real agent decision path
 * (mandate_agent_authorize, with a delegation the registry issues once per delegator and agent):
 * the three checks, the gate, the decision entry. The two requests the agent path does not take,
 * an agent with no delegator (mode auto) and a human acting directly, go through a thin path
 * that builds context.mandate the same way, runs the Cedar checks, calls md_account_gate,
 * appends the decision entry and calls md_account_decided. Approvals go through
 * mandate_registry_approve (membership from the registry's entities).
 */
#ifndef HARNESS_H
#define HARNESS_H

#include "account/account_int.h"
#include "mandate/mandate.h"

typedef struct hz_token {
    char delegator[64], agent[64];
    char *token; /* NULL: the registry refused to issue it (reason in why) */
    char why[400];
} hz_token;

typedef struct hz {
    char dir[256];
    mandate_registry *reg;
    mandate_ledger *ledger; /* the registry's */
    mandate_account *acc;   /* the registry's */
    hz_token tokens[64];
    size_t n_tokens;
    md_arena *a;
    const md_schema *schema;
    md_policyset *ps;
    md_entities *es;
    char *entities_json;
} hz;

typedef struct hz_req {
    const char *principal, *action, *resource;
    const char *context;     /* the caller's JSON; NULL = {} */
    const char *delegator;   /* NULL: nobody delegated (mode auto) */
    const char *approval_id; /* the retry */
    int64_t now_ms;          /* 0 = the clock */
} hz_req;

typedef struct hz_result {
    int outcome; /* MD_ACCOUNT_* */
    char reason[512];
    char approval_id[64];
    char mode[16];
    char accountable[128];
    uint64_t index; /* the decision's ledger index */
} hz_result;

/* policies: Cedar text, NULL = the default pack (policies/default.cedar). */
int hz_open(hz *h, const char *policies);
void hz_close(hz *h);
int hz_decide(hz *h, const hz_req *r, hz_result *out);
/* Approve (mode verified|decided) or reject (mode NULL) as approver. */
int hz_approve(hz *h, const char *id, const char *approver, const char *mode, int64_t now_ms,
               mandate_diag *d);
int hz_reject(hz *h, const char *id, const char *approver, const char *reason, int64_t now_ms,
              mandate_diag *d);

#endif
