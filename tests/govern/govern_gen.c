/*
 * govern_gen.c: builds a data directory for the governance review and report (issue 8,
 * docs/governance.md): a synthetic organisation registered through the real registry API, a
 * window of time-stamped activity in its ledger, and known problems planted on purpose.
 *
 *   govern_gen --data DIR --now MS [--days 90] [--entries N] [--seed S] [--plant LIST]
 *              [--manifest FILE] [--pack DIR] [--threads T]
 *
 * The world (groups, humans, services, workflows, agents, the policy set) goes through the
 * registry (mandate_registry_add, set_policies, ...), so those entries are the real ones and carry
 * the wall clock. A few operations of every kind then run through the real code too (a delegation
 * by mandate_registry_delegate, agent decisions by mandate_agent_authorize, approvals by
 * mandate_approval_view and mandate_registry_approve, outcomes by mandate_outcome_record): their
 * entries are the references that tests/cli/review_planted.sh compares the written entries with.
 * The bulk of the activity (delegations, agent and plain decisions, approval events, outcomes)
 * is written straight into the registry's ledger (mandate_ledger_submit, many in flight, from T
 * threads), with exactly the body shapes those functions write, in canonical form already (keys
 * sorted, no spaces), and time stamps spread over the window. Status changes (a departed owner,
 * a retired agent) come last, through the registry again. The manifest also lists which entries
 * the real code wrote and the reference entry of every variant.
 *
 * The baseline is clean under every rule of docs/governance.md; each plant adds exactly the
 * findings the manifest lists ({"kind","subject"}). Depends on the public API, and on src/core
 * (md_buf) for building entry bodies.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "core/core.h"
#include "mandate/mandate.h"

#define DAY_MS (86400LL * 1000)
#define HOUR_MS (3600LL * 1000)
#define MIN_MS (60LL * 1000)
#define APPROVAL_TTL_MS HOUR_MS
#define MIN_TASKS 10         /* per active agent: keeps every agent's gaps under a week or two */
#define RUBBER_MIN_EVENTS 12 /* a planted rubber stamp decides at least this many approvals */
#define DENIALS 12           /* out_of_envelope: denied attempts of one agent and action */

/* ---- random numbers: splitmix64, reproducible from --seed ---- */

static uint64_t rng_state;

static uint64_t mix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
    return mix(&rng_state);
}

/* Uniform in [lo, hi]. */
static int64_t rnd_range(int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static void hex_from(uint64_t *state, char *out, size_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < bytes; i++) {
        uint8_t b = (uint8_t)mix(state);
        out[2 * i] = hex[b >> 4];
        out[2 * i + 1] = hex[b & 15];
    }
    out[2 * bytes] = 0;
}

static void rnd_hex(char *out, size_t bytes)
{
    hex_from(&rng_state, out, bytes);
}

/* A jti as the token service makes them: 16 random bytes in base64url without padding. */
static void rnd_jti(char out[23])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 21; i++)
        out[i] = b64[rnd() & 63];
    out[21] = b64[(rnd() & 3) << 4];
    out[22] = 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the organisation ---- */

enum { T_TICKET, T_BRANCH, T_RECORD, T_DOCUMENT, T_REPORT, N_TYPES };
static const char *const type_names[N_TYPES] = {"Ticket", "Branch", "EmployeeRecord", "Document",
                                                "Report"};

enum { A_DRAFT, A_SEND, A_CLASSIFY, A_PUSH, A_UPDATE, A_SUMMARIZE, A_EXPORT, N_ACTIONS };
static const char *const action_uids[N_ACTIONS] = {"Action::\"draft_reply\"",
                                                   "Action::\"send_reply\"",
                                                   "Action::\"classify_ticket\"",
                                                   "Action::\"push\"",
                                                   "Action::\"update_employee_record\"",
                                                   "Action::\"summarize\"",
                                                   "Action::\"export_report\""};

/* The plants, in the order of the contract's finding kinds. */
enum {
    P_SLACK,
    P_ENVELOPE,
    P_ORPHAN,
    P_OWNERLESS,
    P_DORMANT,
    P_RUBBER,
    P_SEPARATION,
    P_LONG,
    P_UNUSED,
    P_IDLE,
    P_THEATRE,
    N_PLANTS
};
static const char *const plant_names[N_PLANTS] = {
    "privilege_slack",    "out_of_envelope", "orphan_agent",
    "ownerless_workflow", "dormant_agent",   "rubber_stamp",
    "separation_breach",  "long_delegation", "unused_delegation",
    "idle_policy",        "theatre"};

static const char *const groups[][2] = {
    {"support", NULL},     {"support-leads", "support"},
    {"engineers", NULL},   {"release-managers", NULL},
    {"contractors", NULL}, {"hr", NULL},
    {"hr-managers", "hr"}, {"finance", NULL},
    {"platform", NULL},
};

/* Humans come in teams: ids prefix-01 .. prefix-NN, all members of the team's groups. */
typedef struct team {
    const char *prefix;
    int n;
    const char *groups[2];
} team;

static const team teams[] = {
    {"support", 12, {"support", NULL}},
    {"lead", 4, {"support-leads", NULL}},
    {"eng", 8, {"engineers", NULL}},
    {"rm", 3, {"engineers", "release-managers"}},
    {"contractor", 2, {"engineers", "contractors"}},
    {"hr", 4, {"hr", NULL}},
    {"hrm", 3, {"hr-managers", NULL}},
    {"fin", 3, {"finance", NULL}},
    {"owner", 8, {"platform", NULL}},
};

/* Humans only some plants need (their ids continue a team's numbering). */
typedef struct extra_human {
    const char *id;
    const char *group;
    int plant;
} extra_human;

static const extra_human extra_humans[] = {
    {"lead-05", "support-leads", P_RUBBER}, /* approves in seconds */
    {"lead-06", "support-leads", P_RUBBER}, /* approves everything */
    {"owner-09", "platform", P_ORPHAN},     /* leaves; owns summary-agent-3 */
};

enum { W_SUPPORT, W_TRIAGE, W_CODING, W_HR, W_SUMMARIES, W_REPORTING, N_WORKFLOWS };

typedef struct workflow {
    const char *id, *owner, *output, *impact;
} workflow;

static const workflow workflows[N_WORKFLOWS] = {
    {"support-reply", "owner-01", "customer_response", "customer"},
    {"triage", "owner-02", "classification", "internal"},
    {"coding", "owner-03", "code", "production"},
    {"hr-assist", "owner-04", "recommendation", "employee"},
    {"summaries", "owner-05", "summary", "internal"},
    {"reporting", "owner-06", "summary", "internal"},
};

/* What an agent does in its tasks. */
enum {
    R_NORMAL,    /* every action and resource type its policies permit */
    R_DRAFTONLY, /* privilege_slack: never sends what it may send */
    R_DENIED,    /* out_of_envelope: also keeps trying an action it may not take */
    R_DORMANT,   /* dormant_agent: nothing at all */
};

typedef struct agent_def {
    const char *id, *owner;
    int wf, role, plant; /* plant: -1 always there, else only with that plant */
} agent_def;

static const agent_def agent_defs[] = {
    {"support-agent-1", "owner-07", W_SUPPORT, R_NORMAL, -1},
    {"support-agent-2", "owner-07", W_SUPPORT, R_NORMAL, -1},
    {"support-agent-3", "owner-08", W_SUPPORT, R_NORMAL, -1},
    {"support-agent-4", "owner-01", W_SUPPORT, R_NORMAL, -1},
    {"triage-agent-1", "owner-02", W_TRIAGE, R_NORMAL, -1},
    {"triage-agent-2", "owner-08", W_TRIAGE, R_NORMAL, -1},
    {"triage-agent-3", "owner-02", W_TRIAGE, R_NORMAL, -1},
    {"coding-agent-1", "owner-03", W_CODING, R_NORMAL, -1},
    {"coding-agent-2", "owner-03", W_CODING, R_NORMAL, -1},
    {"coding-agent-3", "owner-07", W_CODING, R_NORMAL, -1},
    {"hr-agent-1", "owner-04", W_HR, R_NORMAL, -1},
    {"hr-agent-2", "owner-04", W_HR, R_NORMAL, -1},
    {"summary-agent-1", "owner-05", W_SUMMARIES, R_NORMAL, -1},
    {"summary-agent-2", "owner-08", W_SUMMARIES, R_NORMAL, -1},
    {"report-agent-1", "owner-07", W_REPORTING, R_NORMAL, -1},
    {"support-agent-5", "owner-08", W_SUPPORT, R_DRAFTONLY, P_SLACK},
    {"coding-agent-4", "owner-03", W_CODING, R_DENIED, P_ENVELOPE},
    {"summary-agent-3", "owner-09", W_SUMMARIES, R_NORMAL, P_ORPHAN},
    {"coding-agent-5", "owner-07", W_CODING, R_DORMANT, P_DORMANT},
};
#define N_AGENTS MD_ARRAY_LEN(agent_defs)

static const struct {
    const char *id, *owner;
} services[] = {{"support-portal", "owner-01"}, {"ci", "owner-03"}, {"hr-portal", "owner-04"}};

/* Who delegates to a workflow's agents: people prefix-first .. prefix-last. */
typedef struct pool {
    const char *prefix;
    int first, last;
} pool;

static const pool delegators[N_WORKFLOWS] = {
    {"support", 1, 12}, {"support", 1, 12}, {"eng", 1, 8},
    {"hr", 1, 4},       {"fin", 1, 3},      {"eng", 1, 8},
};

/* The policy set. Every policy decides something in a clean window: agent permits through the
 * agent path, people's permits and the forbid through plain decisions. The idle plant adds a
 * permit nobody uses. */
static const char policy_text[] =
    "// Policy set of the synthetic organisation written by tests/govern/govern_gen.c.\n"
    "@id(\"support-agents-draft\")\n@impact(\"internal\")\n"
    "permit (principal is Agent in Workflow::\"support-reply\", action == "
    "Action::\"draft_reply\", resource is Ticket);\n\n"
    "@id(\"support-agents-send\")\n@impact(\"customer\")\n@approval(\"verified\")\n"
    "@approvers(\"Group::\\\"support-leads\\\"\")\n"
    "permit (principal is Agent in Workflow::\"support-reply\", action == Action::\"send_reply\", "
    "resource is Ticket);\n\n"
    "@id(\"support-staff-reply\")\n@impact(\"customer\")\n"
    "permit (principal in Group::\"support\", action in [Action::\"draft_reply\", "
    "Action::\"send_reply\"], resource is Ticket);\n\n"
    "@id(\"triage-agents-classify\")\n@impact(\"internal\")\n"
    "permit (principal is Agent in Workflow::\"triage\", action == Action::\"classify_ticket\", "
    "resource is Ticket);\n\n"
    "@id(\"triage-staff-classify\")\n@impact(\"internal\")\n"
    "permit (principal in Group::\"support\", action == Action::\"classify_ticket\", resource is "
    "Ticket);\n\n"
    "@id(\"coding-agents-push-branches\")\n@impact(\"internal\")\n"
    "permit (principal is Agent in Workflow::\"coding\", action == Action::\"push\", resource is "
    "Branch)\nwhen { !resource.production };\n\n"
    "@id(\"coding-agents-push-production\")\n@impact(\"production\")\n@approval(\"decided\")\n"
    "@approvers(\"Group::\\\"release-managers\\\"\")\n@separation(\"delegator\")\n"
    "permit (principal is Agent in Workflow::\"coding\", action == Action::\"push\", resource is "
    "Branch)\nwhen { resource.production };\n\n"
    "@id(\"engineers-push\")\n@impact(\"production\")\n"
    "permit (principal in Group::\"engineers\", action == Action::\"push\", resource is "
    "Branch);\n\n"
    "@id(\"contractors-no-production\")\n"
    "forbid (principal in Group::\"contractors\", action == Action::\"push\", resource is "
    "Branch)\nwhen { resource.production };\n\n"
    "@id(\"hr-agents-update-records\")\n@impact(\"employee\")\n@approval(\"decided\")\n"
    "@approvers(\"Group::\\\"hr-managers\\\"\")\n@separation(\"delegator\")\n"
    "permit (principal is Agent in Workflow::\"hr-assist\", action == "
    "Action::\"update_employee_record\", resource is EmployeeRecord);\n\n"
    "@id(\"hr-staff-update-records\")\n@impact(\"employee\")\n"
    "permit (principal in Group::\"hr\", action == Action::\"update_employee_record\", resource "
    "is EmployeeRecord);\n\n"
    "@id(\"summaries\")\n@impact(\"internal\")\n"
    "permit (principal is Agent in Workflow::\"summaries\", action == Action::\"summarize\", "
    "resource);\n\n"
    "@id(\"reporting-agents-summarize\")\n@impact(\"internal\")\n"
    "permit (principal is Agent in Workflow::\"reporting\", action == Action::\"summarize\", "
    "resource is Document);\n\n"
    "@id(\"people-summarize\")\n@impact(\"internal\")\n"
    "permit (principal is Human, action == Action::\"summarize\", resource);\n";

static const char idle_policy_text[] =
    "\n@id(\"finance-export-reports\")\n@impact(\"internal\")\n"
    "permit (principal in Group::\"finance\", action == Action::\"export_report\", resource is "
    "Report);\n";
#define IDLE_POLICY_ID "finance-export-reports"

/* The application's part of the schema beside the pack's (policies/ *.cedarschema). */
static const char schema_extra[] =
    "\n// Added by govern_gen: triage and finance reports.\n"
    "entity Report;\n"
    "action classify_ticket appliesTo {\n  principal: [Agent, Human],\n  resource: [Ticket],\n"
    "  context: ActionContext,\n};\n"
    "action export_report appliesTo {\n  principal: [Human],\n  resource: [Report],\n"
    "  context: ActionContext,\n};\n";

/* ---- the generated world, in memory ---- */

typedef struct resource {
    int type;
    bool production;
    char uid[40];
} resource;

static resource *resources;
static size_t n_resources, res_first[N_TYPES], res_count[N_TYPES];

/* Humans by index: plain id and Cedar uid. */
#define MAX_HUMANS 64
static char human_id[MAX_HUMANS][24], human_uid[MAX_HUMANS][40];
static size_t n_humans;
static char agent_uid[N_AGENTS][48], workflow_uid[N_WORKFLOWS][48];

static bool planted[N_PLANTS];

static bool agent_exists(size_t a)
{
    return agent_defs[a].plant < 0 || planted[agent_defs[a].plant];
}

static int human_index(const char *id)
{
    for (size_t i = 0; i < n_humans; i++)
        if (strcmp(human_id[i], id) == 0)
            return (int)i;
    return -1;
}

static int human_at(const char *prefix, int number)
{
    char id[24];
    snprintf(id, sizeof id, "%s-%02d", prefix, number);
    return human_index(id);
}

static void add_resources(int type, int n, const char *fmt, int first)
{
    res_first[type] = n_resources;
    res_count[type] = (size_t)n;
    for (int i = 0; i < n; i++) {
        resource *r = &resources[n_resources++];
        char id[24];
        snprintf(id, sizeof id, fmt, first + i);
        r->type = type;
        r->production = type == T_BRANCH && i < 2;
        snprintf(r->uid, sizeof r->uid, "%s::\"%s\"", type_names[type], id);
    }
}

static int32_t pick_resource(int type)
{
    return (int32_t)(res_first[type] + (size_t)rnd_range(0, (int64_t)res_count[type] - 1));
}

static void build_names(void)
{
    for (size_t t = 0; t < MD_ARRAY_LEN(teams); t++)
        for (int i = 1; i <= teams[t].n; i++)
            snprintf(human_id[n_humans++], sizeof human_id[0], "%s-%02d", teams[t].prefix, i);
    for (size_t i = 0; i < MD_ARRAY_LEN(extra_humans); i++)
        if (planted[extra_humans[i].plant])
            snprintf(human_id[n_humans++], sizeof human_id[0], "%s", extra_humans[i].id);
    for (size_t i = 0; i < n_humans; i++)
        snprintf(human_uid[i], sizeof human_uid[0], "Human::\"%s\"", human_id[i]);
    for (size_t i = 0; i < N_AGENTS; i++)
        snprintf(agent_uid[i], sizeof agent_uid[0], "Agent::\"%s\"", agent_defs[i].id);
    for (size_t i = 0; i < N_WORKFLOWS; i++)
        snprintf(workflow_uid[i], sizeof workflow_uid[0], "Workflow::\"%s\"", workflows[i].id);
    if (!(resources = calloc(400, sizeof *resources))) {
        fprintf(stderr, "govern_gen: out of memory\n");
        exit(4);
    }
    add_resources(T_TICKET, 200, "T-%d", 1000);
    add_resources(T_BRANCH, 22, "branch-%d", 0);
    snprintf(resources[res_first[T_BRANCH]].uid, sizeof resources[0].uid, "Branch::\"main\"");
    snprintf(resources[res_first[T_BRANCH] + 1].uid, sizeof resources[0].uid,
             "Branch::\"release\"");
    add_resources(T_RECORD, 40, "E-%d", 1);
    add_resources(T_DOCUMENT, 100, "D-%d", 1);
    add_resources(T_REPORT, 5, "R-%d", 1);
}

/* A non-production branch. */
static int32_t pick_feature_branch(void)
{
    return (int32_t)(res_first[T_BRANCH] + 2 +
                     (size_t)rnd_range(0, (int64_t)res_count[T_BRANCH] - 3));
}

/* ---- files of the data directory ---- */

static int write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, len, f) != len) {
        fprintf(stderr, "govern_gen: cannot write '%s': %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* One "Type::\"id\"" parent reference of the entities format. */
static int parent_ref(md_buf *b, const char *type, const char *id, bool first)
{
    return md_buf_printf(b, "%s{\"type\":\"%s\",\"id\":\"%s\"}", first ? "" : ",", type, id);
}

/* entities.json: the resources, and the people and groups with their membership, which the
 * server's plain decisions see (the registry merges its own view over them for the agent path). */
static int entities_json(md_buf *b)
{
    int rc = md_buf_puts(b, "[");
    for (size_t i = 0; !rc && i < MD_ARRAY_LEN(groups); i++) {
        rc = md_buf_printf(b,
                           "{\"uid\":{\"type\":\"Group\",\"id\":\"%s\"},\"attrs\":{"
                           "\"status\":\"active\"},\"parents\":[",
                           groups[i][0]);
        if (!rc && groups[i][1])
            rc = parent_ref(b, "Group", groups[i][1], true);
        rc = rc ? rc : md_buf_puts(b, "]},");
    }
    size_t h = 0;
    for (size_t t = 0; !rc && t < MD_ARRAY_LEN(teams); t++)
        for (int i = 0; !rc && i < teams[t].n; i++, h++) {
            rc = md_buf_printf(b,
                               "{\"uid\":{\"type\":\"Human\",\"id\":\"%s\"},\"attrs\":{"
                               "\"status\":\"active\"},\"parents\":[",
                               human_id[h]);
            for (int k = 0; !rc && k < 2 && teams[t].groups[k]; k++)
                rc = parent_ref(b, "Group", teams[t].groups[k], k == 0);
            rc = rc ? rc : md_buf_puts(b, "]},");
        }
    for (size_t i = 0; !rc && i < n_resources; i++) {
        const resource *r = &resources[i];
        const char *q = strchr(r->uid, '"');
        rc = md_buf_printf(b, "%s{\"uid\":{\"type\":\"%s\",\"id\":\"%.*s\"},\"attrs\":{",
                           i ? "," : "", type_names[r->type], (int)(strlen(q) - 2), q + 1);
        if (!rc && r->type == T_TICKET)
            rc = md_buf_printf(b, "\"customer\":\"customer-%zu\"", i % 37);
        if (!rc && r->type == T_BRANCH)
            rc = md_buf_printf(b, "\"repository\":\"shop\",\"production\":%s",
                               r->production ? "true" : "false");
        if (!rc && r->type == T_RECORD)
            rc = md_buf_printf(b, "\"employee\":{\"__entity\":{\"type\":\"Human\",\"id\":\"%s\"}}",
                               human_id[(i - res_first[T_RECORD]) % n_humans]);
        if (!rc)
            rc = md_buf_puts(b, "},\"parents\":[]}");
    }
    return rc ? rc : md_buf_puts(b, "]\n");
}

/* ---- the activity plan ---- */

/* A delegation and what the agent does on it. */
typedef struct task {
    int agent, delegator; /* indices into agent_defs and the humans */
    int64_t iat;          /* seconds */
    int64_t lifetime;     /* seconds */
    uint32_t max_uses;
    uint8_t n_actions, actions[3];
    uint8_t n_scope;
    int32_t scope[4]; /* a resource index, or -(type + 1) for every resource of a type */
    char jti[23], digest[65];
    char text[48];
    bool real; /* issued by mandate_registry_delegate */
} task;

enum { D_ALLOW, D_REQUIRED, D_RETRY, D_DENY };

typedef struct decision {
    int64_t t; /* ms */
    uint32_t task;
    uint8_t action, kind;
    int8_t disposition; /* the outcome's: -1 none, else an index of dispositions[] */
    int32_t resource;
    int32_t approval; /* index, or -1 */
    uint64_t index;   /* ledger index, once written */
} decision;

typedef struct approval {
    char id[40], digest[65];
    uint32_t request; /* the approval_required decision */
    int approver;
    bool approve, viewed;
    int64_t created, viewed_at, decided_at; /* ms */
} approval;

/* A plain (non-agent) decision by a person through POST /v1/authorize. */
typedef struct plain {
    int human;
    uint8_t action, policy;
    bool allow;
    int32_t resource;
} plain;

enum { E_DELEGATE, E_DECIDE, E_VIEW, E_APPROVE, E_OUTCOME, E_PLAIN };

typedef struct event {
    int64_t t; /* ms */
    uint32_t seq, ref;
    uint8_t kind;
} event;

#define VEC(T)                                                                                     \
    struct {                                                                                       \
        T *v;                                                                                      \
        size_t n, cap;                                                                             \
    }

static VEC(task) tasks;
static VEC(decision) decisions;
static VEC(approval) approvals;
static VEC(plain) plains;
static VEC(event) events;

#define PUSH(vec)                                                                                  \
    ((vec).n == (vec).cap ? grow((void **)&(vec).v, &(vec).cap, sizeof *(vec).v) : (void)0,        \
     memset(&(vec).v[(vec).n], 0, sizeof *(vec).v), &(vec).v[(vec).n++])

static void grow(void **v, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 1024;
    void *p = realloc(*v, n * size);
    if (!p) {
        fprintf(stderr, "govern_gen: out of memory\n");
        exit(4);
    }
    *v = p;
    *cap = n;
}

static uint32_t event_seq;

static void add_event(int kind, int64_t t, size_t ref)
{
    event *e = PUSH(events);
    e->t = t;
    e->seq = event_seq++;
    e->kind = (uint8_t)kind;
    e->ref = (uint32_t)ref;
}

static const char *const dispositions[] = {"accepted", "edited", "rejected"};

static int8_t pick_disposition(void)
{
    uint64_t x = rnd() % 100;
    return (int8_t)(x < 85 ? 0 : x < 95 ? 1 : 2);
}

/* Approver behaviour, per approver: how many approvals it decided so far. */
static uint32_t approver_count[MAX_HUMANS];
static int fast_approver = -1, yes_approver = -1, breach_approver = -1;

/* The policy each agent request is decided by; its obligations. */
typedef struct rule {
    const char *id, *impact;
    const char *approval;  /* NULL, "verified" or "decided" */
    const char *approvers; /* the @approvers group */
    const char *approver_prefix;
    int approver_last;
} rule;

static const rule rules[] = {
    {"support-agents-draft", "internal", NULL, NULL, NULL, 0},
    {"support-agents-send", "customer", "verified", "Group::\"support-leads\"", "lead", 4},
    {"triage-agents-classify", "internal", NULL, NULL, NULL, 0},
    {"coding-agents-push-branches", "internal", NULL, NULL, NULL, 0},
    {"coding-agents-push-production", "production", "decided", "Group::\"release-managers\"", "rm",
     3},
    {"hr-agents-update-records", "employee", "decided", "Group::\"hr-managers\"", "hrm", 3},
    {"summaries", "internal", NULL, NULL, NULL, 0},
    {"reporting-agents-summarize", "internal", NULL, NULL, NULL, 0},
};
enum {
    RU_DRAFT,
    RU_SEND,
    RU_CLASSIFY,
    RU_BRANCHES,
    RU_PRODUCTION,
    RU_HR,
    RU_SUMMARIES,
    RU_REPORTING
};

static const rule *rule_for(const decision *d)
{
    int wf = agent_defs[tasks.v[d->task].agent].wf;
    switch (d->action) {
    case A_DRAFT: return &rules[RU_DRAFT];
    case A_SEND: return &rules[RU_SEND];
    case A_CLASSIFY: return &rules[RU_CLASSIFY];
    case A_PUSH:
        return resources[d->resource].production ? &rules[RU_PRODUCTION] : &rules[RU_BRANCHES];
    case A_UPDATE: return &rules[RU_HR];
    default: return &rules[wf == W_REPORTING ? RU_REPORTING : RU_SUMMARIES];
    }
}

/* Who approves the j-th request of a rule: the planted rubber stamps take half of the support
 * leads' requests; everyone else in turn. */
static int pick_approver(const rule *ru, uint32_t j)
{
    if (ru == &rules[RU_SEND] && planted[P_RUBBER]) {
        if (j % 4 == 0)
            return fast_approver;
        if (j % 4 == 1)
            return yes_approver;
    }
    return human_at(ru->approver_prefix, 1 + (int)(j % (uint32_t)ru->approver_last));
}

static uint32_t rule_requests[MD_ARRAY_LEN(rules)];

/* Fills in how an approver handles its k-th approval: clean approvers look for a while and
 * reject now and then; the planted ones do not. */
static void approver_behaviour(approval *ap, int64_t *dwell_ms)
{
    uint32_t k = approver_count[ap->approver]++;
    ap->approve = k % 10 != 3;
    ap->viewed = true;
    bool fast = k % 20 == 7;
    if (ap->approver == yes_approver) {
        ap->approve = true;
    } else if (ap->approver == fast_approver) {
        fast = k % 5 != 4;
        ap->viewed = k % 10 != 5;
    }
    if (fast)
        *dwell_ms = rnd_range(2000, 25000);
    else
        *dwell_ms = (int64_t)(35000.0 * pow(40.0, rnd_unit())); /* 35 s to 23 min */
}

/* ---- the registry: world and real operations ---- */

#define ACTOR "cli:govern_gen"

typedef struct gen {
    const char *data, *manifest, *pack;
    int64_t now_ms, days;
    uint64_t entries, seed;
    mandate_registry *reg;
    mandate_ledger *ledger;
    mandate_account *acc;
    char policies_sha256[65];
    uint64_t registry_version;
    int64_t begin_ms, end_ms; /* the activity's span */
    /* real references for the shape test, by variant */
    uint64_t ref[16];
    const char *ref_name[16];
    size_t n_ref;
    uint64_t real_end; /* entries [0, real_end) and [final_start, size) came from the real code */
    uint64_t final_start;
    char long_jti[23], unused_jti[23];
} gen;

static int fail(const char *what, const mandate_diag *d)
{
    fprintf(stderr, "govern_gen: %s: %s\n", what, d->message);
    return 4;
}

static int add_principal(gen *g, int kind, const char *id, const char *owner, const char *wf,
                         const char *const *member_of, size_t n_member_of, const workflow *w)
{
    mandate_diag d = {0};
    const char *outputs[1] = {w ? w->output : NULL}, *impacts[1] = {w ? w->impact : NULL};
    mandate_principal p = {.kind = kind,
                           .id = id,
                           .owner = owner,
                           .workflow = wf,
                           .member_of = member_of,
                           .n_member_of = n_member_of,
                           .outputs = outputs,
                           .n_outputs = w ? 1 : 0,
                           .impacts = impacts,
                           .n_impacts = w ? 1 : 0};
    if (kind == MANDATE_KIND_AGENT) {
        p.model = "synthetic-llm";
        p.provider = "local";
    }
    if (mandate_registry_add(g->reg, &p, ACTOR, &d))
        return fail(id, &d);
    return 0;
}

static int build_world(gen *g)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < MD_ARRAY_LEN(groups); i++)
        rc = add_principal(g, MANDATE_KIND_GROUP, groups[i][0], NULL, NULL, &groups[i][1],
                           groups[i][1] ? 1 : 0, NULL);
    size_t h = 0;
    for (size_t t = 0; !rc && t < MD_ARRAY_LEN(teams); t++)
        for (int i = 0; !rc && i < teams[t].n; i++, h++)
            rc = add_principal(g, MANDATE_KIND_HUMAN, human_id[h], NULL, NULL, teams[t].groups,
                               teams[t].groups[1] ? 2 : 1, NULL);
    for (size_t i = 0; !rc && i < MD_ARRAY_LEN(extra_humans); i++)
        if (planted[extra_humans[i].plant])
            rc = add_principal(g, MANDATE_KIND_HUMAN, extra_humans[i].id, NULL, NULL,
                               &extra_humans[i].group, 1, NULL);
    for (size_t i = 0; !rc && i < MD_ARRAY_LEN(services); i++)
        rc = add_principal(g, MANDATE_KIND_SERVICE, services[i].id, services[i].owner, NULL, NULL,
                           0, NULL);
    for (size_t i = 0; !rc && i < N_WORKFLOWS; i++)
        rc = add_principal(g, MANDATE_KIND_WORKFLOW, workflows[i].id, workflows[i].owner, NULL,
                           NULL, 0, &workflows[i]);
    for (size_t i = 0; !rc && i < N_AGENTS; i++)
        if (agent_exists(i))
            rc = add_principal(g, MANDATE_KIND_AGENT, agent_defs[i].id, agent_defs[i].owner,
                               workflows[agent_defs[i].wf].id, NULL, 0, NULL);
    return rc;
}

/* The policy set, schema and resources: written to the data directory (where `mandate serve`,
 * review and report read them) and given to the registry (which logs the policy entry). */
static int load_policies(gen *g)
{
    mandate_diag d = {0};
    char *schema = NULL, *pack_policies = NULL;
    size_t schema_len = 0, pack_len = 0;
    md_buf s, e, p;
    md_buf_init(&s, 1 << 24);
    md_buf_init(&e, 1 << 24);
    md_buf_init(&p, 1 << 24);
    int rc = mandate_account_load_pack(g->pack, NULL, &schema, &schema_len, &pack_policies,
                                       &pack_len, &d);
    if (rc) {
        rc = fail("cannot load the schema of the policy pack", &d);
        goto out;
    }
    if (md_buf_append(&s, schema, schema_len) || md_buf_puts(&s, schema_extra) ||
        md_buf_puts(&p, policy_text) || (planted[P_IDLE] && md_buf_puts(&p, idle_policy_text)) ||
        entities_json(&e)) {
        rc = 4;
        goto out;
    }
    uint8_t hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)p.data, p.len);
    sodium_bin2hex(g->policies_sha256, sizeof g->policies_sha256, hash, sizeof hash);
    if (write_file(g->data, "schema.cedarschema", s.data, s.len) ||
        write_file(g->data, "policies.cedar", p.data, p.len) ||
        write_file(g->data, "entities.json", e.data, e.len)) {
        rc = 4;
        goto out;
    }
    if (mandate_registry_set_schema(g->reg, s.data, s.len, &d) ||
        mandate_registry_set_entities(g->reg, e.data, e.len, &d) ||
        mandate_registry_set_policies(g->reg, p.data, p.len, &d))
        rc = fail("the registry refused the generated policies", &d);
out:
    free(schema);
    free(pack_policies);
    md_buf_release(&s);
    md_buf_release(&e);
    md_buf_release(&p);
    return rc;
}

static void note_ref(gen *g, const char *variant, uint64_t index)
{
    for (size_t i = 0; i < g->n_ref; i++)
        if (strcmp(g->ref_name[i], variant) == 0)
            return;
    if (g->n_ref < MD_ARRAY_LEN(g->ref)) {
        g->ref_name[g->n_ref] = variant;
        g->ref[g->n_ref++] = index;
    }
}

/* The body of the ledger entry at index, parsed. */
static json_t *entry_body(gen *g, uint64_t index)
{
    char *text = NULL;
    mandate_diag d = {0};
    if (mandate_ledger_get(g->ledger, index, &text, &d))
        return NULL;
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    json_t *body = json_incref(json_object_get(j, "body"));
    json_decref(j);
    return body;
}

/* A delegation issued by the registry; the task records what its ledger entry says. */
static int real_delegate(gen *g, size_t ti, char **token)
{
    task *tk = &tasks.v[ti];
    const char *acts[3], *scope[4];
    for (int i = 0; i < tk->n_actions; i++)
        acts[i] = action_uids[tk->actions[i]];
    for (int i = 0; i < tk->n_scope; i++)
        scope[i] = tk->scope[i] >= 0 ? resources[tk->scope[i]].uid : type_names[-tk->scope[i] - 1];
    const agent_def *ag = &agent_defs[tk->agent];
    mandate_delegation dl = {.subject = agent_uid[tk->agent],
                             .delegator = human_uid[tk->delegator],
                             .task = tk->text,
                             .workflow = workflow_uid[ag->wf],
                             .actions = acts,
                             .n_actions = tk->n_actions,
                             .resources = scope,
                             .n_resources = tk->n_scope,
                             .max_uses = tk->max_uses,
                             .lifetime = tk->lifetime,
                             .now = tk->iat};
    mandate_token_error te;
    mandate_diag d = {0};
    if (mandate_registry_delegate(g->reg, &dl, human_uid[tk->delegator], token, &te, &d))
        return fail("the registry refused a delegation", &d);
    uint64_t index = mandate_ledger_size(g->ledger) - 1;
    json_t *body = entry_body(g, index);
    const char *jti = json_string_value(json_object_get(body, "jti"));
    const char *digest = json_string_value(json_object_get(body, "digest"));
    if (!jti || !digest || strlen(jti) >= sizeof tk->jti || strlen(digest) != 64) {
        json_decref(body);
        fprintf(stderr, "govern_gen: the delegation entry %" PRIu64 " is not as expected\n", index);
        return 4;
    }
    snprintf(tk->jti, sizeof tk->jti, "%s", jti);
    snprintf(tk->digest, sizeof tk->digest, "%s", digest);
    json_decref(body);
    tk->real = true;
    note_ref(g, "delegation/delegate", index);
    return 0;
}

static size_t new_task(int agent, int delegator, int64_t iat, int64_t lifetime, const char *text)
{
    size_t ti = tasks.n;
    task *tk = PUSH(tasks);
    tk->agent = agent;
    tk->delegator = delegator;
    tk->iat = iat;
    tk->lifetime = lifetime;
    snprintf(tk->text, sizeof tk->text, "%s", text);
    return ti;
}

static void task_scope(size_t ti, int n_actions, const uint8_t *actions, int n_scope,
                       const int32_t *scope, uint32_t max_uses)
{
    task *tk = &tasks.v[ti];
    tk->n_actions = (uint8_t)n_actions;
    memcpy(tk->actions, actions, (size_t)n_actions);
    tk->n_scope = (uint8_t)n_scope;
    memcpy(tk->scope, scope, (size_t)n_scope * sizeof *scope);
    tk->max_uses = max_uses;
}

static int agent_index(const char *id)
{
    for (size_t i = 0; i < N_AGENTS; i++)
        if (strcmp(agent_defs[i].id, id) == 0)
            return (int)i;
    return -1;
}

static size_t add_decision(size_t ti, uint8_t action, int32_t res, int kind, int64_t t)
{
    size_t di = decisions.n;
    decision *d = PUSH(decisions);
    d->t = t;
    d->task = (uint32_t)ti;
    d->action = action;
    d->resource = res;
    d->kind = (uint8_t)kind;
    d->approval = -1;
    d->disposition = -1;
    return di;
}

static const char *const kind_names[] = {"allow", "approval_required", "allow", "deny"};

/* One request through mandate_agent_authorize at now seconds; it must come out as kind. The
 * decision joins the plan as a real one; *apr (may be NULL) gets a new approval's id. */
static int real_decide(gen *g, size_t ti, const char *token, uint8_t action, int32_t res,
                       const char *ctx, int64_t now, int kind, int32_t apr, size_t *di)
{
    mandate_agent_request rq = {.token = token,
                                .action = action_uids[action],
                                .resource = resources[res].uid,
                                .context_json = ctx,
                                .now = now,
                                .approval_id = apr >= 0 ? approvals.v[apr].id : NULL};
    mandate_agent_result *out = NULL;
    mandate_diag d = {0};
    if (mandate_agent_authorize(g->reg, &rq, &out, &d) || !out)
        return fail("agent authorize", &d);
    const char *got = mandate_agent_result_decision(out);
    uint64_t index = mandate_agent_result_ledger_index(out);
    int rc = 0;
    if (strcmp(got, kind_names[kind]) || index == UINT64_MAX) {
        fprintf(stderr, "govern_gen: %s on %s by %s: %s (%s), expected %s\n", action_uids[action],
                resources[res].uid, agent_uid[tasks.v[ti].agent], got,
                mandate_agent_result_reason(out), kind_names[kind]);
        rc = 4;
    } else {
        *di = add_decision(ti, action, res, kind, now * 1000);
        decision *dc = &decisions.v[*di];
        dc->index = index;
        dc->approval = apr;
        if (kind == D_REQUIRED) {
            approval *ap = PUSH(approvals);
            snprintf(ap->id, sizeof ap->id, "%s", mandate_agent_result_approval_id(out));
            ap->request = (uint32_t)*di;
            ap->created = now * 1000;
            dc->approval = (int32_t)(approvals.n - 1);
        }
    }
    mandate_agent_result_free(out);
    return rc;
}

/* The approver looks at the request (unless view_ms is 0) and decides, through the real code. */
static int real_approve(gen *g, int32_t ai, int approver, int64_t view_ms, int64_t decide_ms,
                        bool approve, const char *reason)
{
    approval *ap = &approvals.v[ai];
    mandate_diag d = {0};
    char *json = NULL;
    ap->approver = approver;
    ap->approve = approve;
    ap->viewed = view_ms != 0;
    ap->viewed_at = view_ms;
    ap->decided_at = decide_ms;
    approver_count[approver]++;
    if (view_ms) {
        if (mandate_approval_view(g->acc, ap->id, human_uid[approver], view_ms, &json, &d))
            return fail("approval view", &d);
        free(json);
        note_ref(g, "approval/viewed", mandate_ledger_size(g->ledger) - 1);
    }
    const rule *ru = rule_for(&decisions.v[ap->request]);
    mandate_approval_input in = {.id = ap->id,
                                 .approver = human_uid[approver],
                                 .approve = approve,
                                 .mode = approve ? ru->approval : NULL,
                                 .reason = reason,
                                 .now_ms = decide_ms};
    uint64_t index;
    if (mandate_registry_approve(g->reg, &in, &index, &d))
        return fail("approve", &d);
    note_ref(g, approve ? "approval/approved" : "approval/rejected", index);
    return 0;
}

static int real_outcome(gen *g, size_t di, int64_t now_ms)
{
    decision *dc = &decisions.v[di];
    dc->disposition = 0;
    char sha[65];
    rnd_hex(sha, 32);
    char uri[64];
    snprintf(uri, sizeof uri, "artifact://%s/%" PRIu64,
             workflows[agent_defs[tasks.v[dc->task].agent].wf].id, dc->index);
    mandate_outcome o = {.decision = dc->index,
                         .kind = workflows[agent_defs[tasks.v[dc->task].agent].wf].output,
                         .sha256 = sha,
                         .uri = uri,
                         .disposition = dispositions[0],
                         .recorded_by = agent_uid[tasks.v[dc->task].agent],
                         .now_ms = now_ms};
    uint64_t index;
    mandate_diag d = {0};
    if (mandate_outcome_record(g->acc, &o, &index, &d))
        return fail("outcome", &d);
    note_ref(g, "outcome", index);
    return 0;
}

/* A delegation of one action on one scope, issued by the registry; *tok gets its token. */
static int real_grant(gen *g, const char *agent, int delegator, int64_t at, int64_t lifetime,
                      const char *text, uint8_t action, int32_t scope, uint32_t uses, char **tok,
                      size_t *ti)
{
    free(*tok);
    *tok = NULL;
    *ti = new_task(agent_index(agent), delegator, at, lifetime, text);
    task_scope(*ti, 1, &action, 1, &scope, uses);
    return real_delegate(g, *ti, tok);
}

/* The real operations, at the wall clock R (seconds): a clean support task (draft, a send
 * approved after a look, a second send rejected), and the plants that need the real code:
 * the delegator approving its own request, a denied attempt, a long and an unused delegation. */
static int real_phase(gen *g, int64_t R)
{
    static const uint8_t draft_send[] = {A_DRAFT, A_SEND};
    int32_t t1000 = (int32_t)res_first[T_TICKET], t1001 = t1000 + 1;
    int32_t any_branch = -(T_BRANCH + 1), any_doc = -(T_DOCUMENT + 1);
    char *tok = NULL;
    size_t di, dr, dx;
    int rc;
    size_t ti = new_task(agent_index("support-agent-1"), human_at("support", 1), R, 3600,
                         "reply to ticket T-1000");
    task_scope(ti, 2, draft_send, 1, &t1000, 4);
    if ((rc = real_delegate(g, ti, &tok)) ||
        (rc = real_decide(g, ti, tok, A_DRAFT, t1000, NULL, R + 5, D_ALLOW, -1, &di)) ||
        (rc = real_outcome(g, di, (R + 20) * 1000)))
        goto out;
    note_ref(g, "decision/agent/allow", decisions.v[di].index);
    const char *reply = "{\"reply\":\"Your refund is on its way.\"}";
    if ((rc = real_decide(g, ti, tok, A_SEND, t1000, reply, R + 30, D_REQUIRED, -1, &dr)))
        goto out;
    note_ref(g, "decision/agent/approval_required", decisions.v[dr].index);
    int32_t ai = decisions.v[dr].approval;
    if ((rc = real_approve(g, ai, human_at("lead", 2), (R + 40) * 1000, (R + 135) * 1000, true,
                           "checked the reply")) ||
        (rc = real_decide(g, ti, tok, A_SEND, t1000, reply, R + 140, D_RETRY, ai, &dx)) ||
        (rc = real_outcome(g, dx, (R + 150) * 1000)))
        goto out;
    note_ref(g, "decision/agent/allow+approval", decisions.v[dx].index);
    if ((rc = real_decide(g, ti, tok, A_SEND, t1000, "{\"reply\":\"Refund denied.\"}", R + 200,
                          D_REQUIRED, -1, &dr)) ||
        (rc = real_approve(g, decisions.v[dr].approval, human_at("lead", 3), (R + 210) * 1000,
                           (R + 280) * 1000, false, "wrong customer")))
        goto out;
    if (planted[P_SEPARATION]) {
        const char *r2 = "{\"reply\":\"We have escalated your case.\"}";
        if ((rc = real_grant(g, "support-agent-2", breach_approver, R + 300, 3600,
                             "reply to ticket T-1001", A_SEND, t1001, 2, &tok, &ti)) ||
            (rc = real_decide(g, ti, tok, A_SEND, t1001, r2, R + 310, D_REQUIRED, -1, &dr)))
            goto out;
        ai = decisions.v[dr].approval;
        if ((rc = real_approve(g, ai, breach_approver, (R + 320) * 1000, (R + 400) * 1000, true,
                               "fine")) ||
            (rc = real_decide(g, ti, tok, A_SEND, t1001, r2, R + 410, D_RETRY, ai, &dx)) ||
            (rc = real_outcome(g, dx, (R + 420) * 1000)))
            goto out;
    }
    if (planted[P_ENVELOPE]) {
        if ((rc = real_grant(g, "coding-agent-4", human_at("eng", 2), R + 500, 7200,
                             "ship feature work", A_PUSH, any_branch, 3, &tok, &ti)) ||
            (rc = real_decide(g, ti, tok, A_UPDATE, (int32_t)res_first[T_RECORD], NULL, R + 510,
                              D_DENY, -1, &di)))
            goto out;
        note_ref(g, "decision/agent/deny", decisions.v[di].index);
    }
    if (planted[P_LONG]) {
        if ((rc = real_grant(g, "coding-agent-1", human_at("eng", 1), R + 600, 86400,
                             "migrate the build", A_PUSH, any_branch, 10, &tok, &ti)))
            goto out;
        snprintf(g->long_jti, sizeof g->long_jti, "%s", tasks.v[ti].jti);
    }
    if (planted[P_UNUSED]) {
        if ((rc = real_grant(g, "summary-agent-1", human_at("fin", 1), R + 700, 7200,
                             "summarize the quarter", A_SUMMARIZE, any_doc, 3, &tok, &ti)))
            goto out;
        snprintf(g->unused_jti, sizeof g->unused_jti, "%s", tasks.v[ti].jti);
    }
out:
    free(tok);
    return rc;
}

/* ---- planning the activity ---- */

static const int64_t lifetimes[] = {3600, 7200, 14400, 21600}; /* all short: <= 6 h */

/* Plans one request of a task at t (ms) and what follows from it: the approval and its retry,
 * and the outcome (when with_outcome). Returns the number of allowed uses it makes. */
static uint32_t plan_request(size_t ti, uint8_t action, int32_t res, int64_t t, bool with_outcome)
{
    size_t di = add_decision(ti, action, res, D_ALLOW, t);
    const rule *ru = rule_for(&decisions.v[di]);
    if (!ru->approval) {
        add_event(E_DECIDE, t, di);
        if (with_outcome) {
            decisions.v[di].disposition = pick_disposition();
            add_event(E_OUTCOME, t + rnd_range(5000, 300000), di);
        }
        return 1;
    }
    decisions.v[di].kind = D_REQUIRED;
    add_event(E_DECIDE, t, di);
    size_t ai = approvals.n;
    approval *ap = PUSH(approvals);
    ap->request = (uint32_t)di;
    ap->created = t;
    memcpy(ap->id, "apr_", 4);
    rnd_hex(ap->id + 4, 16);
    ap->approver = pick_approver(ru, rule_requests[ru - rules]++);
    decisions.v[di].approval = (int32_t)ai;
    int64_t dwell;
    approver_behaviour(ap, &dwell);
    int64_t seen = t + rnd_range(5000, 120000);
    if (ap->viewed) {
        ap->viewed_at = seen;
        add_event(E_VIEW, seen, ai);
    }
    ap->decided_at = seen + dwell;
    add_event(E_APPROVE, ap->decided_at, ai);
    if (!ap->approve)
        return 0;
    int64_t retry = ap->decided_at + rnd_range(2000, 60000);
    size_t ri = add_decision(ti, action, res, D_RETRY, retry);
    decisions.v[ri].approval = (int32_t)ai;
    add_event(E_DECIDE, retry, ri);
    if (with_outcome) {
        decisions.v[ri].disposition = pick_disposition();
        add_event(E_OUTCOME, retry + rnd_range(5000, 300000), ri);
    }
    return 1;
}

static int pick_delegator(int wf)
{
    const pool *p = &delegators[wf];
    return human_at(p->prefix, (int)rnd_range(p->first, p->last));
}

/* Outcomes of the theatre workflow thin out as its use grows: at x (0..1 through the window)
 * only 1 - 0.95x of its actions still record their output. */
static bool records_outcome(const agent_def *ag, double x)
{
    if (planted[P_THEATRE] && ag->wf == W_TRIAGE)
        return rnd_unit() < 1.0 - 0.95 * x;
    return true;
}

static const char *const task_texts[N_WORKFLOWS] = {
    "reply to the customer",     "classify incoming tickets",       "ship feature work",
    "update an employee record", "summarize for the weekly review", "write the monthly report"};

/* A task's text: what and the id of the resource ("reply to ticket T-1042"). */
static void task_text(size_t ti, const char *what, int32_t res)
{
    const char *id = strchr(resources[res].uid, '"');
    snprintf(tasks.v[ti].text, sizeof tasks.v[ti].text, "%s %.*s", what, (int)(strlen(id) - 2),
             id + 1);
}

/* One task of agent a starting at t0 (ms), x through the window; denied: also try an action the
 * agent may not take (out_of_envelope). */
static void plan_task(int a, int64_t t0, double x, bool denied)
{
    const agent_def *ag = &agent_defs[a];
    int64_t lifetime = lifetimes[rnd() % MD_ARRAY_LEN(lifetimes)];
    if (ag->wf == W_SUPPORT || ag->wf == W_HR)
        lifetime = lifetime < 7200 ? 7200 : lifetime; /* room for an approval */
    size_t ti = new_task(a, pick_delegator(ag->wf), t0 / 1000, lifetime, task_texts[ag->wf]);
    rnd_jti(tasks.v[ti].jti);
    rnd_hex(tasks.v[ti].digest, 32);
    add_event(E_DELEGATE, tasks.v[ti].iat * 1000, ti);
    int64_t t = tasks.v[ti].iat * 1000 + rnd_range(5000, 60000);
    uint32_t uses = 0;
    uint8_t acts[2];
    int32_t scope[4];
    int n_acts = 1, n_scope = 1;
    switch (ag->wf) {
    case W_SUPPORT: {
        int n = (int)rnd_range(1, 2);
        acts[0] = A_DRAFT;
        acts[1] = A_SEND;
        n_acts = ag->role == R_DRAFTONLY ? 1 : 2;
        n_scope = n;
        for (int i = 0; i < n; i++) {
            int32_t ticket = pick_resource(T_TICKET);
            if (i && ticket == scope[0])
                ticket = ticket == (int32_t)res_first[T_TICKET] ? ticket + 1 : ticket - 1;
            scope[i] = ticket;
            int64_t ts = t + i * rnd_range(60000, 300000);
            uses += plan_request(ti, A_DRAFT, ticket, ts, true);
            if (ag->role != R_DRAFTONLY)
                uses += plan_request(ti, A_SEND, ticket, ts + rnd_range(60000, 600000), true);
        }
        task_text(ti, "reply to ticket", scope[0]);
        break;
    }
    case W_TRIAGE: {
        acts[0] = A_CLASSIFY;
        scope[0] = -(T_TICKET + 1);
        for (int i = 0, n = (int)rnd_range(3, 6); i < n; i++, t += rnd_range(20000, 600000))
            uses +=
                plan_request(ti, A_CLASSIFY, pick_resource(T_TICKET), t, records_outcome(ag, x));
        break;
    }
    case W_CODING: {
        acts[0] = A_PUSH;
        scope[0] = -(T_BRANCH + 1);
        for (int i = 0, n = (int)rnd_range(1, 2); i < n; i++, t += rnd_range(60000, 900000))
            uses += plan_request(ti, A_PUSH, pick_feature_branch(), t, true);
        if (rnd() % 2) {
            uses += plan_request(ti, A_PUSH, (int32_t)res_first[T_BRANCH] + (int32_t)(rnd() % 2), t,
                                 true);
            t += rnd_range(60000, 300000);
        }
        if (denied) {
            size_t di = add_decision(ti, A_UPDATE, pick_resource(T_RECORD), D_DENY, t);
            add_event(E_DECIDE, t, di);
        }
        break;
    }
    case W_HR: {
        acts[0] = A_UPDATE;
        scope[0] = pick_resource(T_RECORD);
        uses += plan_request(ti, A_UPDATE, scope[0], t, true);
        task_text(ti, "update record", scope[0]);
        break;
    }
    case W_SUMMARIES: {
        acts[0] = A_SUMMARIZE;
        scope[0] = -(T_DOCUMENT + 1);
        scope[1] = -(T_TICKET + 1);
        n_scope = 2;
        for (int i = 0, n = (int)rnd_range(2, 4); i < n; i++, t += rnd_range(20000, 600000)) {
            int type = i == 0   ? T_DOCUMENT
                       : i == 1 ? T_TICKET
                                : (rnd() % 2 ? T_DOCUMENT : T_TICKET);
            uses += plan_request(ti, A_SUMMARIZE, pick_resource(type), t, true);
        }
        break;
    }
    default: {
        acts[0] = A_SUMMARIZE;
        scope[0] = -(T_DOCUMENT + 1);
        for (int i = 0, n = (int)rnd_range(1, 3); i < n; i++, t += rnd_range(20000, 600000))
            uses += plan_request(ti, A_SUMMARIZE, pick_resource(T_DOCUMENT), t, true);
        break;
    }
    }
    task_scope(ti, n_acts, acts, n_scope, scope, uses + (uint32_t)rnd_range(0, 3));
}

/* Plain decisions of people (through POST /v1/authorize), one kind after another: each of the
 * people's policies and the forbid decide some. */
typedef struct plain_kind {
    const char *prefix;
    int last;
    uint8_t action;
    int type;       /* resource type; for push: -1 feature branch, -2 production branch */
    uint8_t policy; /* index into plain_policies */
    bool allow;
} plain_kind;

static const char *const plain_policies[] = {"support-staff-reply",     "triage-staff-classify",
                                             "engineers-push",          "contractors-no-production",
                                             "hr-staff-update-records", "people-summarize"};
static const char *const plain_callers[] = {"Service::\"support-portal\"",
                                            "Service::\"support-portal\"",
                                            "Service::\"ci\"",
                                            "Service::\"ci\"",
                                            "Service::\"hr-portal\"",
                                            NULL};

static const plain_kind plain_kinds[] = {
    {"support", 12, A_DRAFT, T_TICKET, 0, true},    {"lead", 4, A_SEND, T_TICKET, 0, true},
    {"support", 12, A_CLASSIFY, T_TICKET, 1, true}, {"eng", 8, A_PUSH, T_BRANCH, 2, true},
    {"contractor", 2, A_PUSH, -1, 2, true},         {"contractor", 2, A_PUSH, -2, 3, false},
    {"hr", 4, A_UPDATE, T_RECORD, 4, true},         {"fin", 3, A_SUMMARIZE, T_DOCUMENT, 5, true},
    {"support", 12, A_SEND, T_TICKET, 0, true},
};

static void plan_plain(size_t i, int64_t t)
{
    const plain_kind *k = &plain_kinds[i % MD_ARRAY_LEN(plain_kinds)];
    size_t pi = plains.n;
    plain *p = PUSH(plains);
    p->human = human_at(k->prefix, (int)rnd_range(1, k->last));
    p->action = k->action;
    p->policy = k->policy;
    p->allow = k->allow;
    p->resource = k->type == -1   ? pick_feature_branch()
                  : k->type == -2 ? (int32_t)res_first[T_BRANCH] + (int32_t)(rnd() % 2)
                                  : pick_resource(k->type);
    add_event(E_PLAIN, t, pi);
}

/* Where task i of n goes (0..1 through the window): evenly spread, or, for the theatre
 * workflow, with a density growing as 1 + 2x (its use grows by about two thirds). */
static double task_position(const agent_def *ag, int i, int n)
{
    double u = (i + 0.5 + (rnd_unit() - 0.5) * 0.6) / n;
    if (planted[P_THEATRE] && ag->wf == W_TRIAGE)
        return (-1.0 + sqrt(1.0 + 8.0 * u)) / 2.0;
    return u;
}

/* Tasks per agent by workflow, relative. Triage is kept small enough that its planted growth
 * leaves the overall adoption change well under the theatre threshold. */
static const double workflow_weight[N_WORKFLOWS] = {1.0, 0.6, 1.2, 0.6, 1.0, 0.6};

static void reset_plan(size_t keep_tasks, size_t keep_decisions, size_t keep_approvals,
                       const uint32_t *counts)
{
    tasks.n = keep_tasks;
    decisions.n = keep_decisions;
    approvals.n = keep_approvals;
    plains.n = 0;
    events.n = 0;
    event_seq = 0;
    memcpy(approver_count, counts, sizeof approver_count);
    memset(rule_requests, 0, sizeof rule_requests);
}

/* Plans the agents' activity at scale (tasks per unit of weight) over [begin, end]. */
static void plan_agents(gen *g, double scale)
{
    int denials = planted[P_ENVELOPE] ? DENIALS - 1 : 0; /* one is real */
    for (size_t a = 0; a < N_AGENTS; a++) {
        const agent_def *ag = &agent_defs[a];
        if (!agent_exists(a) || ag->role == R_DORMANT)
            continue;
        int n = (int)lround(scale * workflow_weight[ag->wf]);
        n = n < MIN_TASKS ? MIN_TASKS : n;
        for (int i = 0; i < n; i++) {
            double x = task_position(ag, i, n);
            int64_t t0 = g->begin_ms + (int64_t)(x * (double)(g->end_ms - g->begin_ms));
            bool deny = ag->role == R_DENIED && denials > 0 && i % 2 == 0;
            denials -= deny;
            plan_task((int)a, t0, x, deny);
        }
    }
}

/* The planted real delegations that synthetic decisions use: the out_of_envelope one gets an
 * allowed push too, the long one three. */
static void plan_real_tasks(gen *g)
{
    for (size_t ti = 0; ti < tasks.n; ti++) {
        const task *tk = &tasks.v[ti];
        if (!tk->real)
            continue;
        if (strcmp(tk->jti, g->long_jti) == 0) {
            for (int i = 0; i < 3; i++)
                plan_request(ti, A_PUSH, pick_feature_branch(),
                             g->begin_ms + (int64_t)i * 4 * HOUR_MS + rnd_range(0, HOUR_MS), true);
        } else if (agent_defs[tk->agent].role == R_DENIED) {
            plan_request(ti, A_PUSH, pick_feature_branch(), g->begin_ms + rnd_range(0, 1800000),
                         true);
        }
    }
}

/* ---- writing the entries ---- */

/* A JSON object written key by key, in the order given: the callers give them sorted, so the
 * body is already in the canonical form the ledger stores. */
typedef struct jw {
    md_buf *b;
    bool first;
    int err;
} jw;

static void jw_key(jw *w, const char *k)
{
    if (!w->first)
        w->err |= md_buf_append(w->b, ",", 1);
    w->err |= md_buf_append(w->b, "\"", 1) | md_buf_puts(w->b, k) | md_buf_append(w->b, "\":", 2);
    w->first = false;
}

static void jw_open(jw *w, const char *k)
{
    if (k)
        jw_key(w, k);
    w->err |= md_buf_puts(w->b, "{");
    w->first = true;
}

static void jw_close(jw *w)
{
    w->err |= md_buf_puts(w->b, "}");
    w->first = false;
}

static void jw_str(jw *w, const char *k, const char *v)
{
    jw_key(w, k);
    w->err |= v ? md_buf_json_str(w->b, v, strlen(v)) : md_buf_puts(w->b, "null");
}

static void jw_int(jw *w, const char *k, int64_t v)
{
    char digits[24];
    size_t n = sizeof digits;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        digits[--n] = '-';
    jw_key(w, k);
    w->err |= md_buf_append(w->b, digits + n, sizeof digits - n);
}

static void jw_null(jw *w, const char *k)
{
    jw_key(w, k);
    w->err |= md_buf_puts(w->b, "null");
}

/* An array of strings; v may hold NULLs, which are skipped. */
static void jw_strs(jw *w, const char *k, const char *const *v, size_t n)
{
    jw_key(w, k);
    w->err |= md_buf_puts(w->b, "[");
    for (size_t i = 0, out = 0; i < n; i++)
        if (v[i]) {
            w->err |= md_buf_puts(w->b, out++ ? "," : "");
            w->err |= md_buf_json_str(w->b, v[i], strlen(v[i]));
        }
    w->err |= md_buf_puts(w->b, "]");
}

static jw jw_begin(md_buf *b)
{
    b->len = 0;
    jw w = {b, true, 0};
    jw_open(&w, NULL);
    return w;
}

/* Allowed uses of (agent, action) so far, oldest first, for context.mandate.usage. */
typedef struct usage_log {
    int64_t *t;
    size_t n, cap, hour, day; /* first entries inside the last hour and day */
} usage_log;

static usage_log usage_logs[N_AGENTS][N_ACTIONS];

static void usage_count(usage_log *u, int64_t t, int64_t *hour, int64_t *day)
{
    while (u->hour < u->n && u->t[u->hour] <= t - HOUR_MS)
        u->hour++;
    while (u->day < u->n && u->t[u->day] <= t - DAY_MS)
        u->day++;
    *hour = (int64_t)(u->n - u->hour);
    *day = (int64_t)(u->n - u->day);
}

static void usage_add(usage_log *u, int64_t t)
{
    if (u->n == u->cap)
        grow((void **)&u->t, &u->cap, sizeof *u->t);
    u->t[u->n++] = t;
}

/* The context an agent's request carried (its digest binds the approval). */
static void request_context(const decision *d, size_t n, char *out)
{
    const char *key = d->action == A_SEND ? "reply" : d->action == A_PUSH ? "commit" : "change";
    snprintf(out, n, "{\"%s\":\"%s %u\"}", key, key, d->approval);
}

/* SHA-256 (hex) of ["mandate.request.v1",P,A,R,CONTEXT], as mandate_request_canonical. */
static int request_digest(const decision *d, char out[65])
{
    char ctx[64];
    md_buf b;
    md_buf_init(&b, 4096);
    request_context(d, sizeof ctx, ctx);
    const char *parts[3] = {agent_uid[tasks.v[d->task].agent], action_uids[d->action],
                            resources[d->resource].uid};
    int rc = md_buf_puts(&b, "[\"mandate.request.v1\"");
    for (int i = 0; i < 3; i++)
        rc |= md_buf_puts(&b, ",") | md_buf_json_str(&b, parts[i], strlen(parts[i]));
    rc |= md_buf_printf(&b, ",%s]", ctx);
    uint8_t h[crypto_hash_sha256_BYTES];
    if (!rc) {
        crypto_hash_sha256(h, (const unsigned char *)b.data, b.len);
        sodium_bin2hex(out, 65, h, sizeof h);
    }
    md_buf_release(&b);
    return rc;
}

static const char *const approve_reasons[] = {"checked the reply", "looks right",
                                              "verified against the ticket", "ok to ship",
                                              "matches the request"};
static const char *const reject_reasons[] = {"wrong customer", "tone is off", "not in this release",
                                             "missing the details"};

static void body_decision(gen *g, decision *d, md_buf *b)
{
    const task *tk = &tasks.v[d->task];
    const agent_def *ag = &agent_defs[tk->agent];
    const rule *ru = rule_for(d);
    approval *ap = d->approval >= 0 ? &approvals.v[d->approval] : NULL;
    bool allow = d->kind == D_ALLOW || d->kind == D_RETRY;
    int64_t hour, day;
    usage_log *u = &usage_logs[tk->agent][d->action];
    usage_count(u, d->t, &hour, &day);
    if (allow)
        usage_add(u, d->t);
    if (d->kind == D_REQUIRED)
        request_digest(d, ap->digest);
    const char *accountable = d->kind == D_ALLOW   ? human_uid[tk->delegator]
                              : d->kind == D_RETRY ? human_uid[ap->approver]
                                                   : NULL;
    const char *mode = d->kind == D_ALLOW ? "delegated" : d->kind == D_RETRY ? ru->approval : NULL;
    char reason[300] = "";
    if (d->kind == D_REQUIRED)
        snprintf(reason, sizeof reason, "policy %s needs %s approval by %s; approval id %s", ru->id,
                 ru->approval, ru->approvers, ap->id);
    if (d->kind == D_DENY)
        snprintf(reason, sizeof reason, "no policy permits agent '%s' to do %s on %s",
                 agent_uid[tk->agent], action_uids[d->action], resources[d->resource].uid);
    jw w = jw_begin(b);
    jw_str(&w, "accountable", accountable);
    jw_str(&w, "action", action_uids[d->action]);
    if (ap) {
        jw_open(&w, "approval");
        jw_str(&w, "approver", d->kind == D_RETRY ? human_uid[ap->approver] : NULL);
        jw_str(&w, "approvers", ru->approvers);
        if (d->kind == D_RETRY && ap->viewed)
            jw_int(&w, "dwell_ms", ap->decided_at - ap->viewed_at);
        else
            jw_null(&w, "dwell_ms");
        jw_int(&w, "expires_ms", ap->created + APPROVAL_TTL_MS);
        jw_str(&w, "id", ap->id);
        jw_str(&w, "mode", ru->approval);
        if (d->kind == D_RETRY)
            jw_str(&w, "required", ru->approval);
        jw_str(&w, "status", d->kind == D_RETRY ? "used" : "required");
        jw_close(&w);
    }
    jw_str(&w, "check", allow ? "none" : d->kind == D_REQUIRED ? "approval" : "policy");
    jw_str(&w, "decision", kind_names[d->kind]);
    jw_str(&w, "delegation", tk->jti);
    jw_str(&w, "delegator", human_uid[tk->delegator]);
    jw_strs(&w, "errors", NULL, 0);
    if (d->kind != D_DENY) {
        const char *wi = workflows[ag->wf].impact;
        const char *impact[2] = {ru->impact, strcmp(wi, ru->impact) ? wi : NULL};
        jw_strs(&w, "impact", impact, 2);
    }
    jw_str(&w, "kind", "agent");
    jw_str(&w, "mode", mode);
    jw_strs(&w, "policies", &ru->id, d->kind == D_DENY ? 0 : 1);
    jw_str(&w, "principal", agent_uid[tk->agent]);
    jw_str(&w, "reason", reason);
    jw_int(&w, "registry_version", (int64_t)g->registry_version);
    if (ap)
        jw_str(&w, "request_digest", ap->digest);
    jw_str(&w, "resource", resources[d->resource].uid);
    jw_str(&w, "task", tk->text);
    jw_int(&w, "time", d->t / 1000);
    jw_str(&w, "token_digest", tk->digest);
    jw_null(&w, "token_reason");
    jw_open(&w, "usage");
    jw_int(&w, "day", day);
    jw_int(&w, "hour", hour);
    jw_close(&w);
    jw_str(&w, "workflow", workflow_uid[ag->wf]);
    jw_close(&w);
}

static void body_delegation(const task *tk, md_buf *b)
{
    const char *acts[3], *scope[4];
    for (int i = 0; i < tk->n_actions; i++)
        acts[i] = action_uids[tk->actions[i]];
    for (int i = 0; i < tk->n_scope; i++)
        scope[i] = tk->scope[i] >= 0 ? resources[tk->scope[i]].uid : type_names[-tk->scope[i] - 1];
    jw w = jw_begin(b);
    jw_strs(&w, "actions", acts, tk->n_actions);
    jw_str(&w, "actor", human_uid[tk->delegator]);
    jw_strs(&w, "delegators", (const char *const[]){human_uid[tk->delegator]}, 1);
    jw_int(&w, "depth", 0);
    jw_str(&w, "digest", tk->digest);
    jw_int(&w, "exp", tk->iat + tk->lifetime);
    jw_int(&w, "iat", tk->iat);
    jw_str(&w, "jti", tk->jti);
    jw_int(&w, "max_uses", tk->max_uses);
    jw_str(&w, "op", "delegate");
    jw_null(&w, "parent");
    jw_strs(&w, "resources", scope, tk->n_scope);
    jw_str(&w, "subject", agent_uid[tk->agent]);
    jw_str(&w, "task", tk->text);
    jw_str(&w, "workflow", workflow_uid[agent_defs[tk->agent].wf]);
    jw_close(&w);
}

static void body_view(const approval *ap, md_buf *b)
{
    jw w = jw_begin(b);
    jw_str(&w, "approval", ap->id);
    jw_str(&w, "digest", ap->digest);
    jw_str(&w, "event", "viewed");
    jw_str(&w, "viewer", human_uid[ap->approver]);
    jw_close(&w);
}

static void body_approve(const approval *ap, md_buf *b)
{
    const decision *d = &decisions.v[ap->request];
    const rule *ru = rule_for(d);
    jw w = jw_begin(b);
    jw_str(&w, "action", action_uids[d->action]);
    jw_str(&w, "approval", ap->id);
    jw_str(&w, "approver", human_uid[ap->approver]);
    jw_strs(&w, "approvers", &ru->approvers, 1);
    jw_str(&w, "digest", ap->digest);
    if (ap->viewed)
        jw_int(&w, "dwell_ms", ap->decided_at - ap->viewed_at);
    else
        jw_null(&w, "dwell_ms");
    jw_str(&w, "event", ap->approve ? "approved" : "rejected");
    jw_str(&w, "mode", ap->approve ? ru->approval : NULL);
    jw_str(&w, "principal", agent_uid[tasks.v[d->task].agent]);
    jw_str(&w, "reason",
           ap->approve ? approve_reasons[ap->request % MD_ARRAY_LEN(approve_reasons)]
                       : reject_reasons[ap->request % MD_ARRAY_LEN(reject_reasons)]);
    jw_int(&w, "request_index", (int64_t)d->index);
    jw_str(&w, "required", ru->approval);
    jw_str(&w, "resource", resources[d->resource].uid);
    if (ap->viewed)
        jw_int(&w, "viewed_ms", ap->viewed_at);
    else
        jw_null(&w, "viewed_ms");
    jw_close(&w);
}

static void body_outcome(const decision *d, md_buf *b)
{
    const task *tk = &tasks.v[d->task];
    const workflow *wf = &workflows[agent_defs[tk->agent].wf];
    const approval *ap = d->approval >= 0 ? &approvals.v[d->approval] : NULL;
    char sha[65], uri[64];
    uint64_t state = d->index * 0x2545f4914f6cdd1dULL; /* the artifact's digest, by decision */
    hex_from(&state, sha, 32);
    snprintf(uri, sizeof uri, "artifact://%s/%" PRIu64, wf->id, d->index);
    jw w = jw_begin(b);
    jw_str(&w, "accountable", ap ? human_uid[ap->approver] : human_uid[tk->delegator]);
    jw_str(&w, "action", action_uids[d->action]);
    jw_int(&w, "decision", (int64_t)d->index);
    jw_str(&w, "disposition", dispositions[d->disposition]);
    jw_str(&w, "kind", wf->output);
    jw_str(&w, "mode", ap ? rule_for(d)->approval : "delegated");
    jw_str(&w, "principal", agent_uid[tk->agent]);
    jw_str(&w, "recorded_by", agent_uid[tk->agent]);
    jw_str(&w, "resource", resources[d->resource].uid);
    jw_str(&w, "sha256", sha);
    jw_str(&w, "uri", uri);
    jw_close(&w);
}

static void body_plain(gen *g, const plain *p, md_buf *b)
{
    const char *caller = plain_callers[p->policy] ? plain_callers[p->policy] : human_uid[p->human];
    jw w = jw_begin(b);
    jw_str(&w, "action", action_uids[p->action]);
    jw_str(&w, "api", "authorize");
    jw_str(&w, "caller", caller);
    jw_str(&w, "decision", p->allow ? "allow" : "deny");
    jw_str(&w, "policies_sha256", g->policies_sha256);
    jw_str(&w, "principal", human_uid[p->human]);
    jw_strs(&w, "reasons", &plain_policies[p->policy], 1);
    jw_str(&w, "resource", resources[p->resource].uid);
    jw_close(&w);
}

static int by_time(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The entries are submitted by several threads (the ledger canonicalises each body in the
 * submitting thread, the expensive part). Everything about one agent goes through one thread,
 * so a decision is written before its approval events and outcome; the threads advance together
 * through windows of activity time, so the ledger's order follows time within a window. */
#define WINDOW_MS (30 * MIN_MS)

typedef struct worker {
    gen *g;
    int id;
    uint64_t last_ticket;
    bool wrote;
    int rc;
} worker;

static pthread_barrier_t window_barrier;
static atomic_int emit_failed;
static int n_workers = 2;
static int agent_worker[N_AGENTS];

static int event_agent(const event *e)
{
    switch (e->kind) {
    case E_DELEGATE: return tasks.v[e->ref].agent;
    case E_DECIDE:
    case E_OUTCOME: return tasks.v[decisions.v[e->ref].task].agent;
    case E_VIEW:
    case E_APPROVE: return tasks.v[decisions.v[approvals.v[e->ref].request].task].agent;
    default: return -1;
    }
}

static int event_worker(const event *e)
{
    int a = event_agent(e);
    return a < 0 ? (int)(e->ref % (uint32_t)n_workers) : agent_worker[a];
}

/* Agents to threads, the busiest first to the least loaded. */
static void assign_workers(void)
{
    uint64_t load[N_AGENTS] = {0}, per_worker[16] = {0};
    bool done[N_AGENTS] = {false};
    for (size_t i = 0; i < events.n; i++) {
        int a = event_agent(&events.v[i]);
        if (a >= 0)
            load[a]++;
    }
    for (size_t k = 0; k < N_AGENTS; k++) {
        size_t best = 0;
        for (size_t a = 1; a < N_AGENTS; a++)
            if (!done[a] && (done[best] || load[a] > load[best]))
                best = a;
        int w = 0;
        for (int i = 1; i < n_workers; i++)
            if (per_worker[i] < per_worker[w])
                w = i;
        done[best] = true;
        agent_worker[best] = w;
        per_worker[w] += load[best];
    }
}

static int emit_one(worker *wk, const event *e, md_buf *b)
{
    int type = MANDATE_ENTRY_DECISION;
    decision *dc = NULL;
    switch (e->kind) {
    case E_DELEGATE:
        type = MANDATE_ENTRY_DELEGATION;
        body_delegation(&tasks.v[e->ref], b);
        break;
    case E_DECIDE:
        dc = &decisions.v[e->ref];
        body_decision(wk->g, dc, b);
        break;
    case E_VIEW:
        type = MANDATE_ENTRY_APPROVAL;
        body_view(&approvals.v[e->ref], b);
        break;
    case E_APPROVE:
        type = MANDATE_ENTRY_APPROVAL;
        body_approve(&approvals.v[e->ref], b);
        break;
    case E_OUTCOME:
        type = MANDATE_ENTRY_OUTCOME;
        body_outcome(&decisions.v[e->ref], b);
        break;
    default: body_plain(wk->g, &plains.v[e->ref], b); break;
    }
    mandate_ledger_entry en = {.type = type, .time_ms = e->t, .body = b->data, .body_len = b->len};
    mandate_diag d = {0};
    uint64_t ticket;
    if (mandate_ledger_submit(wk->g->ledger, &en, &ticket, &d))
        return fail("cannot append", &d);
    if (dc)
        dc->index = ticket;
    if (!wk->wrote || ticket > wk->last_ticket)
        wk->last_ticket = ticket;
    wk->wrote = true;
    return 0;
}

static void *emit_worker(void *arg)
{
    worker *wk = arg;
    md_buf b;
    md_buf_init(&b, 1 << 20);
    size_t i = 0;
    int64_t first = events.n ? events.v[0].t : 0;
    while (i < events.n) {
        int64_t window_end = first + ((events.v[i].t - first) / WINDOW_MS + 1) * WINDOW_MS;
        for (; i < events.n && events.v[i].t < window_end; i++)
            if (!atomic_load(&emit_failed) && event_worker(&events.v[i]) == wk->id &&
                (wk->rc = emit_one(wk, &events.v[i], &b)) != 0)
                atomic_store(&emit_failed, 1);
        pthread_barrier_wait(&window_barrier);
    }
    md_buf_release(&b);
    return NULL;
}

/* Writes every planned event, in time order per agent; returns once all are durable. */
static int emit(gen *g)
{
    qsort(events.v, events.n, sizeof *events.v, by_time);
    assign_workers();
    worker wk[16];
    pthread_t th[16];
    int started = 0, rc = 0;
    pthread_barrier_init(&window_barrier, NULL, (unsigned)n_workers);
    for (; started < n_workers; started++) {
        wk[started] = (worker){.g = g, .id = started};
        if (pthread_create(&th[started], NULL, emit_worker, &wk[started])) {
            fprintf(stderr, "govern_gen: cannot start a thread\n");
            exit(4); /* the started ones would wait at the barrier for ever */
        }
    }
    uint64_t last = 0;
    bool any = false;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        rc = rc ? rc : wk[i].rc;
        if (wk[i].wrote && (!any || wk[i].last_ticket > last))
            last = wk[i].last_ticket;
        any |= wk[i].wrote;
    }
    pthread_barrier_destroy(&window_barrier);
    mandate_diag d = {0};
    if (!rc && any && mandate_ledger_wait(g->ledger, last, &d))
        rc = fail("the ledger did not acknowledge", &d);
    return rc;
}

/* ---- the whole run ---- */

/* Status changes come last, after the activity they end (index order is the ledger's order). */
typedef struct change {
    const char *uid_fmt, *id;
    int status, plant;
} change;

static const change final_changes[] = {
    {"Human::\"%s\"", "support-12", MANDATE_STATUS_DEPARTED, -1},
    {"Agent::\"%s\"", "triage-agent-3", MANDATE_STATUS_DEPARTED, -1},
    {"Human::\"%s\"", "owner-06", MANDATE_STATUS_DEPARTED, P_OWNERLESS},
    {"Human::\"%s\"", "owner-09", MANDATE_STATUS_DEPARTED, P_ORPHAN},
};

static int apply_changes(gen *g, bool count_only, uint64_t *n)
{
    *n = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(final_changes); i++) {
        const change *c = &final_changes[i];
        if (c->plant >= 0 && !planted[c->plant])
            continue;
        (*n)++;
        if (count_only)
            continue;
        char uid[64];
        mandate_diag d = {0};
        snprintf(uid, sizeof uid, c->uid_fmt, c->id);
        if (mandate_registry_set_status(g->reg, uid, c->status, ACTOR, &d))
            return fail(uid, &d);
    }
    return 0;
}

/* Plans agents' activity for about budget entries (at least MIN_TASKS tasks per agent) and
 * people's plain decisions for the rest. */
static int plan(gen *g, int64_t budget)
{
    size_t keep_t = tasks.n, keep_d = decisions.n, keep_a = approvals.n;
    uint32_t counts[MAX_HUMANS];
    memcpy(counts, approver_count, sizeof counts);
    double scale = 20;
    int64_t target = budget - budget / 12;
    for (int attempt = 0; attempt < 4; attempt++) {
        reset_plan(keep_t, keep_d, keep_a, counts);
        rng_state = g->seed * 0x2545f4914f6cdd1dULL + 7;
        plan_agents(g, scale);
        plan_real_tasks(g);
        if (events.n == 0)
            break;
        scale *= (double)target / (double)events.n;
        if (scale < 1)
            scale = 1;
    }
    int64_t plain_n = budget - (int64_t)events.n;
    if (plain_n < (int64_t)(2 * MD_ARRAY_LEN(plain_kinds))) {
        fprintf(stderr,
                "govern_gen: %" PRIu64
                " entries are too few for this world (it needs about %" PRId64 ")\n",
                g->entries, (int64_t)g->entries - plain_n + 2 * (int64_t)MD_ARRAY_LEN(plain_kinds));
        return 2;
    }
    for (int64_t i = 0; i < plain_n; i++)
        plan_plain((size_t)i, rnd_range(g->begin_ms, g->end_ms));
    if (planted[P_RUBBER] && (approver_count[fast_approver] < RUBBER_MIN_EVENTS ||
                              approver_count[yes_approver] < RUBBER_MIN_EVENTS)) {
        fprintf(stderr, "govern_gen: too few approvals for the rubber stamps; more --entries\n");
        return 2;
    }
    return 0;
}

static void manifest_finding(jw *w, size_t *n, const char *kind, const char *subject)
{
    w->err |= md_buf_puts(w->b, (*n)++ ? "," : "");
    w->first = true;
    jw_open(w, NULL);
    jw_str(w, "kind", kind);
    jw_str(w, "subject", subject);
    jw_close(w);
}

static int write_manifest(gen *g)
{
    md_buf b;
    md_buf_init(&b, 1 << 20);
    jw w = jw_begin(&b);
    size_t n = 0;
    jw_int(&w, "version", 1);
    jw_int(&w, "now_ms", g->now_ms);
    jw_int(&w, "since_ms", g->now_ms - g->days * DAY_MS);
    jw_int(&w, "days", g->days);
    jw_int(&w, "seed", (int64_t)g->seed);
    jw_int(&w, "entries", (int64_t)mandate_ledger_size(g->ledger));
    jw_str(&w, "policies_sha256", g->policies_sha256);
    const char *names[N_PLANTS];
    for (int i = 0; i < N_PLANTS; i++)
        names[i] = planted[i] ? plant_names[i] : NULL;
    jw_strs(&w, "plants", names, N_PLANTS);
    jw_key(&w, "findings");
    w.err |= md_buf_puts(&b, "[");
    const char *subjects[N_PLANTS] = {"Agent::\"support-agent-5\"",
                                      "Agent::\"coding-agent-4\"",
                                      "Agent::\"summary-agent-3\"",
                                      "Workflow::\"reporting\"",
                                      "Agent::\"coding-agent-5\"",
                                      NULL,
                                      human_uid[breach_approver],
                                      g->long_jti,
                                      g->unused_jti,
                                      IDLE_POLICY_ID,
                                      "Workflow::\"triage\""};
    for (int i = 0; i < N_PLANTS; i++) {
        if (!planted[i])
            continue;
        if (i == P_RUBBER) {
            manifest_finding(&w, &n, plant_names[i], human_uid[fast_approver]);
            manifest_finding(&w, &n, plant_names[i], human_uid[yes_approver]);
        } else {
            manifest_finding(&w, &n, plant_names[i], subjects[i]);
        }
    }
    w.err |= md_buf_puts(&b, "]");
    w.first = false;
    jw_str(&w, "theatre_workflow", planted[P_THEATRE] ? "Workflow::\"triage\"" : NULL);
    jw_key(&w, "real");
    w.err |= md_buf_printf(&b, "[[0,%" PRIu64 "],[%" PRIu64 ",%" PRIu64 "]]", g->real_end,
                           g->final_start, mandate_ledger_size(g->ledger));
    jw_open(&w, "references");
    for (size_t i = 0; i < g->n_ref; i++)
        jw_int(&w, g->ref_name[i], (int64_t)g->ref[i]);
    jw_close(&w);
    jw_close(&w);
    w.err |= md_buf_puts(&b, "\n");
    int rc = w.err ? 4 : 0;
    if (!rc) {
        FILE *f = fopen(g->manifest, "w");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
            fprintf(stderr, "govern_gen: cannot write '%s': %s\n", g->manifest, strerror(errno));
            rc = 4;
        }
    }
    md_buf_release(&b);
    return rc;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int generate(gen *g)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rng_state = g->seed;
    build_names();
    fast_approver = planted[P_RUBBER] ? human_index("lead-05") : -1;
    yes_approver = planted[P_RUBBER] ? human_index("lead-06") : -1;
    breach_approver = human_at("lead", 1);
    int64_t wall = wall_ms();
    if (g->now_ms < wall + 2 * HOUR_MS || g->now_ms - g->days * DAY_MS > wall) {
        fprintf(stderr,
                "govern_gen: --now must lie between 2 hours and %" PRId64
                " days after the wall clock (%" PRId64 "), since the registry's entries carry it\n",
                g->days, wall);
        return 2;
    }
    mandate_diag d = {0};
    char db[4096];
    struct stat st;
    snprintf(db, sizeof db, "%s/mandate.db", g->data);
    if (stat(db, &st) != 0 && mandate_ledger_init(g->data, "govern.gen/ledger", &d))
        return fail("cannot make the data directory", &d);
    mandate_registry_opts ro = {
        .data_dir = g->data, .max_lifetime = 86400, .approval_ttl_ms = APPROVAL_TTL_MS};
    if (mandate_registry_open(&g->reg, &ro, &d))
        return fail("cannot open the registry", &d);
    g->ledger = mandate_registry_ledger(g->reg);
    g->acc = mandate_registry_account(g->reg);
    int rc = 0;
    if (mandate_ledger_size(g->ledger) != 0) {
        fprintf(stderr, "govern_gen: the ledger of '%s' is not empty\n", g->data);
        rc = 2;
    }
    if (!rc)
        rc = build_world(g);
    if (!rc)
        rc = load_policies(g);
    if (!rc)
        rc = real_phase(g, wall / 1000);
    g->real_end = mandate_ledger_size(g->ledger);
    g->registry_version = mandate_registry_version(g->reg);
    g->begin_ms = wall + HOUR_MS;
    if (g->begin_ms < g->now_ms - g->days * DAY_MS)
        g->begin_ms = g->now_ms - g->days * DAY_MS;
    g->end_ms = g->now_ms - 8 * HOUR_MS;
    uint64_t n_changes = 0;
    apply_changes(g, true, &n_changes);
    int64_t budget = (int64_t)g->entries - (int64_t)g->real_end - (int64_t)n_changes;
    if (!rc)
        rc = plan(g, budget);
    double planned = seconds_since(&t0);
    if (!rc)
        rc = emit(g);
    double written = seconds_since(&t0);
    g->final_start = mandate_ledger_size(g->ledger);
    if (!rc)
        rc = apply_changes(g, false, &n_changes);
    if (!rc && g->manifest)
        rc = write_manifest(g);
    if (!rc)
        fprintf(stderr,
                "govern_gen: %" PRIu64 " entries (%zu written directly) in %.2f s (world and plan "
                "%.2f s, %.0f entries/s written)\n",
                mandate_ledger_size(g->ledger), events.n, seconds_since(&t0), planned,
                (double)events.n / (written - planned > 0 ? written - planned : 1e-9));
    mandate_registry_close(g->reg);
    return rc;
}

/* ---- main ---- */

static const char usage[] =
    "usage: govern_gen --data DIR --now MS [--days 90] [--entries N] [--seed S]\n"
    "                  [--plant all|none|KIND,...] [--manifest FILE] [--pack DIR] [--threads T]\n"
    "Builds a data directory for `mandate review` and `mandate report`: a synthetic organisation\n"
    "registered through the registry, about N ledger entries of activity spread over the DAYS\n"
    "before MS (ms since the epoch), and the planted problems (kinds: privilege_slack,\n"
    "out_of_envelope, orphan_agent, ownerless_workflow, dormant_agent, rubber_stamp,\n"
    "separation_breach, long_delegation, unused_delegation, idle_policy, theatre), listed in the\n"
    "manifest (JSON) as {\"kind\",\"subject\"} findings. DIR is made with `mandate init` "
    "semantics\n"
    "when it does not exist. The registry's own entries carry the wall clock, so MS should lie\n"
    "at least 2 hours after it and at most DAYS after it. --pack: the schema files to use\n"
    "(default policies). --threads: submitting threads (default 2).\n";

static int parse_plants(const char *list)
{
    if (strcmp(list, "none") == 0)
        return 0;
    if (strcmp(list, "all") == 0) {
        for (int i = 0; i < N_PLANTS; i++)
            planted[i] = true;
        return 0;
    }
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < N_PLANTS; i++)
            if (strlen(plant_names[i]) == n && strncmp(plant_names[i], p, n) == 0)
                found = i;
        if (found < 0) {
            fprintf(stderr, "govern_gen: unknown plant '%.*s'\n", (int)n, p);
            return 2;
        }
        planted[found] = true;
        p += n + (p[n] == ',');
    }
    return 0;
}

static bool parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    gen g = {.days = 90, .entries = 10000, .seed = 1, .pack = "policies"};
    const char *plant_list = "all";
    int64_t v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool num = val && parse_int(val, &v);
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (!val) {
            fprintf(stderr, "govern_gen: %s needs a value\n%s", a, usage);
            return 2;
        } else if (strcmp(a, "--data") == 0) {
            g.data = val;
        } else if (strcmp(a, "--manifest") == 0) {
            g.manifest = val;
        } else if (strcmp(a, "--pack") == 0) {
            g.pack = val;
        } else if (strcmp(a, "--plant") == 0) {
            plant_list = val;
        } else if (strcmp(a, "--now") == 0 && num) {
            g.now_ms = v;
        } else if (strcmp(a, "--days") == 0 && num && v >= 1 && v <= 3660) {
            g.days = v;
        } else if (strcmp(a, "--entries") == 0 && num) {
            g.entries = (uint64_t)v;
        } else if (strcmp(a, "--seed") == 0 && num) {
            g.seed = (uint64_t)v;
        } else if (strcmp(a, "--threads") == 0 && num && v >= 1 && v <= 16) {
            n_workers = (int)v;
        } else {
            fprintf(stderr, "govern_gen: bad argument '%s %s'\n%s", a, val, usage);
            return 2;
        }
        i++;
    }
    if (!g.data || !g.now_ms) {
        fprintf(stderr, "govern_gen: --data and --now are required\n%s", usage);
        return 2;
    }
    int rc = parse_plants(plant_list);
    if (rc)
        return rc;
    return generate(&g);
}
