/*
 * review_int.h: private to the review (review.c, slack.c): the scope analysis behind privilege
 * slack.
 *
 * A "pair" is an (action, resource type) pair: the action's canonical uid text (Action::"send")
 * and a resource entity type name (Ticket). The universe of pairs is every pair the schema's
 * appliesTo allows for principals of type Agent, joined with the pairs seen in the window's
 * agent decisions (so a ledger without a schema still has one). For one agent, each pair gets
 * flags: permitted by some permit whose scope covers the agent, the action and the type;
 * permitted by an unconditional one (else it is "conditional": the permit's `when`/`unless` is
 * not analysed and counts as permitting); removed by an unconditional forbid whose scope covers
 * the agent, the action and the whole type. docs/governance.md states the rule.
 *
 * Everything lives in the arena given to md_slack_new; the policy set, schema and entity store
 * are borrowed.
 */
#ifndef MD_GOVERN_REVIEW_INT_H
#define MD_GOVERN_REVIEW_INT_H

#include "govern/govern.h"
#include "registry/registry_int.h"

typedef struct md_pair {
    md_str action; /* canonical uid text, NUL-terminated */
    md_str rtype;  /* entity type name, NUL-terminated */
} md_pair;

typedef struct md_slack md_slack;

enum {
    MD_SLACK_PERMIT = 1,        /* some permit covers it */
    MD_SLACK_UNCONDITIONAL = 2, /* a permit without conditions covers it */
    MD_SLACK_FORBID = 4,        /* an unconditional forbid covers the whole type */
    MD_SLACK_ENTITLED = 8,      /* the agent's workflow is entitled to it (or lists nothing) */
};

/* The universe: the schema's pairs for Agent principals, then the observed pairs not in it. */
int md_slack_new(md_arena *a, const md_policyset *ps, const md_schema *schema,
                 const md_entities *es, const md_pair *observed, size_t n_observed, md_slack **out,
                 md_diag *d);
size_t md_slack_count(const md_slack *s);
const md_pair *md_slack_pair(const md_slack *s, size_t i);
/* The position of a pair in the universe, or SIZE_MAX. */
size_t md_slack_find(const md_slack *s, md_str action, md_str rtype);
/* flags[i] for every universe pair i, for one agent (workflow: the agent's, may be NULL). An
 * agent is permitted pair i when flags & PERMIT, ENTITLED and not FORBID. */
void md_slack_agent(const md_slack *s, const md_reg_principal *agent,
                    const md_reg_principal *workflow, uint8_t *flags);
/* The fix: narrowed copies of the permits that grant the exercised pairs (positions in the
 * universe) to the agents, each keeping its annotations and conditions, one per resource type,
 * with principal == the agent (n_agents 1, workflow NULL) or principal is Agent in the workflow.
 * The text parses as Cedar and validates against the schema the pairs came from. */
int md_slack_fix(const md_slack *s, const md_reg_principal *const *agents, size_t n_agents,
                 const char *workflow, const size_t *exercised, size_t n_exercised, size_t n_unused,
                 md_buf *out);

#endif
