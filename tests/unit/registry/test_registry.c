/*
 * test_registry.c: the registry and the agent decision path end to end: registry lifecycle and
 * entities, bad delegations that need the registry (suspended agent or delegator, departed owner,
 * revoked token and parent, use limit through the store), ten escalation scenarios, the kill
 * switch (the very next decision denies, tokens issued before included), usage counters in
 * context.mandate, the strict erroring forbid, and a ledger entry for every decision and change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch.h"
#include "mandate/mandate.h"
#include "mandate/registry.h"
#include "registry/registry_int.h"
#include "store/registry_store.h"

#define NOW 1800000000LL

static const char policies[] =
    "@id(\"agents-broad\")\n"
    "permit (principal is Agent, action, resource);\n"
    "@id(\"support-staff\")\n"
    "permit (principal in Group::\"support\", action in [Action::\"read\", Action::\"draft\"],"
    " resource is Ticket);\n"
    "@id(\"leads-send\")\n"
    "permit (principal in Group::\"support-leads\", action in [Action::\"send\", "
    "Action::\"export\"], resource is Ticket);\n"
    "@id(\"finance-refund\")\n"
    "permit (principal in Group::\"finance\", action == Action::\"refund\", resource);\n"
    "@id(\"own-docs\")\n"
    "permit (principal is Human, action == Action::\"edit\", resource is Doc)"
    " when { resource.owner == principal };\n"
    "@id(\"no-contractor-send\")\n"
    "forbid (principal, action == Action::\"send\", resource)"
    " when { principal has contractor && principal.contractor };\n"
    "@id(\"export-rate\")\n"
    "forbid (principal is Agent, action == Action::\"export\", resource)"
    " when { context.mandate.usage.hour >= 2 };\n"
    "@id(\"probe-erroring\")\n"
    "forbid (principal is Agent, action == Action::\"probe\", resource)"
    " when { context.nosuch == 1 };\n"
    "@id(\"humans-probe\")\n"
    "permit (principal is Human, action == Action::\"probe\", resource);\n"
    "@id(\"impact-check\")\n"
    "forbid (principal is Agent, action == Action::\"publish\", resource)"
    " unless { context.mandate.impact.contains(\"customer\") &&"
    " context.mandate.delegator == Human::\"alice\" && context.mandate.task like \"*ticket*\" };\n"
    "@id(\"humans-publish\")\n"
    "permit (principal is Human, action == Action::\"publish\", resource);\n"
    "@id(\"humans-archive\")\n"
    "permit (principal is Human, action == Action::\"archive\", resource);\n"
    "@id(\"no-drafter-archive\")\n"
    "forbid (principal == Agent::\"drafter\", action == Action::\"archive\", resource);\n";

static const char user_entities[] =
    "[{\"uid\":{\"type\":\"Human\",\"id\":\"erin\"},\"attrs\":{\"contractor\":true},\"parents\":[]}"
    ","
    " {\"uid\":{\"type\":\"Doc\",\"id\":\"alice-1\"},\"attrs\":{\"owner\":{\"__entity\":"
    "{\"type\":\"Human\",\"id\":\"alice\"}}},\"parents\":[]},"
    " {\"uid\":{\"type\":\"Doc\",\"id\":\"alice-2\"},\"attrs\":{\"owner\":{\"__entity\":"
    "{\"type\":\"Human\",\"id\":\"alice\"}}},\"parents\":[]},"
    " {\"uid\":{\"type\":\"Doc\",\"id\":\"bob-1\"},\"attrs\":{\"owner\":{\"__entity\":"
    "{\"type\":\"Human\",\"id\":\"bob\"}}},\"parents\":[]}]";

typedef struct fx {
    char dir[64];
    mandate_registry *r;
} fx;

static void add(mandate_registry *r, mandate_principal p)
{
    mandate_diag d;
    int rc = mandate_registry_add(r, &p, "Human::\"admin\"", &d);
    if (rc)
        fail_msg("add %s: %s", p.id, d.message);
}

static void open_registry(fx *f)
{
    mandate_diag d;
    mandate_registry_opts o = {.data_dir = f->dir};
    if (mandate_registry_open(&f->r, &o, &d))
        fail_msg("open: %s", d.message);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mandate-reg-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    rmdir(f->dir);
    mandate_diag d;
    if (mandate_ledger_init(f->dir, "test.registry/log", &d))
        fail_msg("init: %s", d.message);
    open_registry(f);
    mandate_registry *r = f->r;
    const char *support[] = {"support"}, *leads[] = {"support", "support-leads"},
               *fin[] = {"finance"};
    add(r, (mandate_principal){.kind = MANDATE_KIND_GROUP, .id = "support"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_GROUP, .id = "support-leads"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_GROUP, .id = "finance"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_HUMAN,
                               .id = "alice",
                               .name = "Alice",
                               .member_of = leads,
                               .n_member_of = 2});
    add(r, (mandate_principal){
               .kind = MANDATE_KIND_HUMAN, .id = "bob", .member_of = support, .n_member_of = 1});
    add(r, (mandate_principal){
               .kind = MANDATE_KIND_HUMAN, .id = "carol", .member_of = fin, .n_member_of = 1});
    add(r, (mandate_principal){.kind = MANDATE_KIND_HUMAN, .id = "dave"});
    add(r, (mandate_principal){
               .kind = MANDATE_KIND_HUMAN, .id = "erin", .member_of = leads, .n_member_of = 2});
    const char *outs[] = {"customer_response"}, *imps[] = {"customer"};
    add(r, (mandate_principal){.kind = MANDATE_KIND_WORKFLOW,
                               .id = "support-reply",
                               .owner = "alice",
                               .outputs = outs,
                               .n_outputs = 1,
                               .impacts = imps,
                               .n_impacts = 1});
    add(r, (mandate_principal){.kind = MANDATE_KIND_AGENT,
                               .id = "drafter",
                               .owner = "alice",
                               .workflow = "support-reply",
                               .model = "m1",
                               .provider = "p"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_AGENT, .id = "helper", .owner = "alice"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_AGENT, .id = "bobbot", .owner = "bob"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_AGENT, .id = "lone", .owner = "dave"});
    if (mandate_registry_set_policies(r, policies, strlen(policies), &d))
        fail_msg("policies: %s", d.message);
    if (mandate_registry_set_entities(r, user_entities, strlen(user_entities), &d))
        fail_msg("entities: %s", d.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    mandate_registry_close(f->r);
    if (scratch_remove(f->dir) != 0)
        return 1;
    free(f);
    return 0;
}

/* Issues a root delegation; fails the test when it cannot. Returns owned. */
static char *delegate(mandate_registry *r, const char *from, const char *to, const char *action,
                      const char *resource, const char *workflow, uint64_t uses)
{
    const char *acts[] = {action}, *res[] = {resource};
    mandate_delegation dl = {.subject = to,
                             .delegator = from,
                             .task = "answer ticket 42",
                             .workflow = workflow,
                             .actions = acts,
                             .n_actions = 1,
                             .resources = res,
                             .n_resources = 1,
                             .max_uses = uses ? uses : 100,
                             .now = NOW};
    char *tok = NULL;
    mandate_token_error e;
    mandate_diag d;
    if (mandate_registry_delegate(r, &dl, "Human::\"admin\"", &tok, &e, &d))
        fail_msg("delegate %s -> %s: %s", from, to, d.message);
    return tok;
}

/* Re-delegates one action on one resource (3 uses) from the parent's subject to another agent;
 * fails the test when it cannot. Returns owned. */
static char *redelegate(mandate_registry *r, const char *parent, const char *to, const char *action,
                        const char *resource)
{
    const char *acts[] = {action}, *res[] = {resource};
    mandate_delegation child = {.subject = to,
                                .task = "t2",
                                .actions = acts,
                                .n_actions = 1,
                                .resources = res,
                                .n_resources = 1,
                                .max_uses = 3,
                                .now = NOW};
    char *tok = NULL;
    mandate_token_error e;
    mandate_diag d;
    if (mandate_registry_redelegate(r, parent, NULL, 0, &child, "a", &tok, &e, &d))
        fail_msg("redelegate to %s: %s", to, d.message);
    return tok;
}

static mandate_agent_result *decide_p(mandate_registry *r, const char *tok, const char *const *par,
                                      size_t np, const char *action, const char *resource,
                                      const char *ctx)
{
    mandate_agent_request rq = {.token = tok,
                                .parents = par,
                                .n_parents = np,
                                .action = action,
                                .resource = resource,
                                .context_json = ctx,
                                .now = NOW + 10};
    mandate_agent_result *res = NULL;
    mandate_diag d;
    assert_int_equal(mandate_agent_authorize(r, &rq, &res, &d), 0);
    assert_non_null(res);
    /* Every decision is in the ledger. */
    assert_int_not_equal(mandate_agent_result_ledger_index(res), UINT64_MAX);
    return res;
}

static mandate_agent_result *decide(mandate_registry *r, const char *tok, const char *action,
                                    const char *resource)
{
    return decide_p(r, tok, NULL, 0, action, resource, NULL);
}

/* Asserts a decision, and for a deny the check (and token reason when not 0). */
static void expect(mandate_agent_result *res, bool allow, int check, int token_reason,
                   const char *what)
{
    char *j = mandate_agent_result_to_json(res);
    if (mandate_agent_result_allowed(res) != allow || mandate_agent_result_check(res) != check ||
        (token_reason && mandate_agent_result_token_reason(res) != token_reason))
        fail_msg("%s: want %s/%s/%s, got %s", what, allow ? "allow" : "deny",
                 mandate_check_name(check), mandate_token_reason_name(token_reason), j);
    free(j);
    mandate_agent_result_free(res);
}

static void test_positive_controls(void **state)
{
    fx *f = *state;
    char *t = delegate(f->r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"read\"", "Ticket",
                       "Workflow::\"support-reply\"", 0);
    mandate_agent_result *res = decide(f->r, t, "Action::\"read\"", "Ticket::\"42\"");
    assert_true(mandate_agent_result_allowed(res));
    assert_int_equal(mandate_agent_result_policy_count(res), 1);
    assert_string_equal(mandate_agent_result_policy(res, 0), "agents-broad");
    char *j = mandate_agent_result_to_json(res);
    assert_non_null(strstr(j, "\"delegator\":\"Human::\\\"alice\\\"\""));
    assert_non_null(strstr(j, "\"workflow\":\"Workflow::\\\"support-reply\\\"\""));
    free(j);
    mandate_agent_result_free(res);
    /* The principal, when named, must be the token's subject. */
    mandate_agent_request rq = {.token = t,
                                .principal = "Agent::\"helper\"",
                                .action = "Action::\"read\"",
                                .resource = "Ticket::\"1\"",
                                .now = NOW + 10};
    mandate_diag d;
    assert_int_equal(mandate_agent_authorize(f->r, &rq, &res, &d), 0);
    expect(res, false, MANDATE_CHECK_REQUEST, 0, "principal is not the subject");
    rq.principal = "drafter";
    assert_int_equal(mandate_agent_authorize(f->r, &rq, &res, &d), 0);
    expect(res, true, MANDATE_CHECK_NONE, 0, "principal named plainly");
    /* context.mandate: impact, delegator, task. */
    char *p = delegate(f->r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"publish\"",
                       "Ticket", "Workflow::\"support-reply\"", 0);
    expect(decide(f->r, p, "Action::\"publish\"", "Ticket::\"1\""), true, 0, 0, "impact ok");
    char *p2 = delegate(f->r, "Human::\"alice\"", "Agent::\"helper\"", "Action::\"publish\"",
                        "Ticket", NULL, 0);
    expect(decide(f->r, p2, "Action::\"publish\"", "Ticket::\"1\""), false, MANDATE_CHECK_POLICY, 0,
           "no workflow: no customer impact");
    /* A malformed request is a deny, recorded. */
    expect(decide(f->r, t, "not a uid", "Ticket::\"1\""), false, MANDATE_CHECK_REQUEST, 0,
           "bad action");
    expect(decide_p(f->r, t, NULL, 0, "Action::\"read\"", "Ticket::\"1\"", "{\"mandate\":1}"),
           false, MANDATE_CHECK_REQUEST, 0, "context with mandate");
    expect(decide(f->r, "garbage", "Action::\"read\"", "Ticket::\"1\""), false, MANDATE_CHECK_TOKEN,
           MANDATE_TOKEN_MALFORMED, "garbage token");
    free(t);
    free(p);
    free(p2);
}

/* mandate_agent_authorize_submit: the same decision; its entry has the ticket as index, is
 * durable once mandate_ledger_wait returns, and holds the decision. */
static void test_submit_then_wait(void **state)
{
    fx *f = *state;
    char *t = delegate(f->r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"read\"", "Ticket",
                       "Workflow::\"support-reply\"", 0);
    mandate_ledger *l = mandate_registry_ledger(f->r);
    const char *resources[] = {"Ticket::\"42\"", "Repo::\"x\""};
    for (int i = 0; i < 2; i++) {
        mandate_agent_request rq = {
            .token = t, .action = "Action::\"read\"", .resource = resources[i], .now = NOW + 10};
        mandate_agent_result *res = NULL;
        mandate_diag d;
        assert_int_equal(mandate_agent_authorize_submit(f->r, &rq, &res, &d), 0);
        assert_non_null(res);
        assert_int_equal(mandate_agent_result_allowed(res), i == 0);
        uint64_t ticket = mandate_agent_result_ledger_index(res);
        assert_int_not_equal(ticket, UINT64_MAX);
        assert_int_equal(mandate_ledger_wait(l, ticket, &d), 0);
        assert_true(mandate_ledger_size(l) > ticket);
        char *entry = NULL;
        assert_int_equal(mandate_ledger_get(l, ticket, &entry, &d), 0);
        assert_non_null(strstr(entry, i == 0 ? "\"decision\":\"allow\"" : "\"decision\":\"deny\""));
        assert_non_null(strstr(entry, i == 0 ? "Ticket::" : "Repo::"));
        free(entry);
        mandate_agent_result_free(res);
    }
    mandate_diag d;
    mandate_agent_result *res = (mandate_agent_result *)1;
    assert_int_equal(mandate_agent_authorize_submit(f->r, NULL, &res, &d), MANDATE_EINVAL);
    assert_null(res);
    free(t);
}

/* SELECT sum(col) FROM table of the data directory's database (0 when empty). */
static long long db_sum(const fx *f, const char *sql)
{
    char path[300];
    snprintf(path, sizeof path, "%s/mandate.db", f->dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Uses and usage are counted in memory at once and written to the store before the ledger
 * commit that holds the decision: once an entry is durable, so is its count. */
static void test_counts_durable_with_entry(void **state)
{
    fx *f = *state;
    char *t = delegate(f->r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"read\"", "Ticket",
                       "Workflow::\"support-reply\"", 3);
    mandate_ledger *l = mandate_registry_ledger(f->r);
    mandate_agent_request rq = {
        .token = t, .action = "Action::\"read\"", .resource = "Ticket::\"1\"", .now = NOW + 10};
    mandate_diag d;
    uint64_t tickets[2];
    for (int i = 0; i < 2; i++) {
        mandate_agent_result *res = NULL;
        assert_int_equal(mandate_agent_authorize_submit(f->r, &rq, &res, &d), 0);
        assert_true(mandate_agent_result_allowed(res));
        tickets[i] = mandate_agent_result_ledger_index(res);
        mandate_agent_result_free(res);
    }
    assert_int_equal(mandate_ledger_wait(l, tickets[1], &d), 0);
    assert_int_equal(db_sum(f, "SELECT coalesce(sum(uses), 0) FROM registry_uses"), 2);
    assert_int_equal(db_sum(f, "SELECT coalesce(sum(count), 0) FROM registry_usage"), 2);
    /* The third use is the last; the fourth is refused from the in-memory count. */
    expect(decide(f->r, t, "Action::\"read\"", "Ticket::\"1\""), true, 0, 0, "third use");
    expect(decide(f->r, t, "Action::\"read\"", "Ticket::\"1\""), false, MANDATE_CHECK_TOKEN,
           MANDATE_TOKEN_USES_EXHAUSTED, "fourth use");
    assert_int_equal(db_sum(f, "SELECT coalesce(sum(uses), 0) FROM registry_uses"), 3);
    /* Closed and reopened: the count is the store's. */
    mandate_registry_close(f->r);
    open_registry(f);
    assert_int_equal(mandate_registry_set_policies(f->r, policies, strlen(policies), &d), 0);
    assert_int_equal(mandate_registry_set_entities(f->r, user_entities, strlen(user_entities), &d),
                     0);
    expect(decide(f->r, t, "Action::\"read\"", "Ticket::\"1\""), false, MANDATE_CHECK_TOKEN,
           MANDATE_TOKEN_USES_EXHAUSTED, "after reopening");
    free(t);
}

/* Counts not yet written are part of every counter read from the store: a cleared cache loses
 * nothing, and a flush does not count them twice. */
static void test_pending_counts(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    md_diag d = {0};
    const int64_t m = 29000000;
    const char *ag = "Agent::\"a\"", *ac = "Action::\"b\"";
    /* got[round][flushed]: rc sum, pending, uses, usage hour, usage day (assertions after the
     * lock is released: a failing one must not leave the registry locked for the teardown). */
    uint64_t got[2][2][5];
    memset(got, 0, sizeof got);
    pthread_mutex_lock(&r->mu);
    for (int round = 0; round < 2; round++) {
        int rc = md_registry_defer(r, "jti-x", NULL, NULL, 0, &d);
        rc |= md_registry_defer(r, "jti-x", NULL, NULL, 0, &d);
        rc |= md_registry_defer(r, NULL, ag, ac, m - 30, &d);
        rc |= md_registry_defer(r, NULL, ag, ac, m - 100, &d);
        rc |= md_registry_defer(r, NULL, ag, ac, m, &d);
        for (int flushed = 0; flushed < 2; flushed++) {
            if (flushed)
                rc |= md_registry_flush_uses(r, false, &d);
            got[round][flushed][1] = r->n_pending;
            md_reg_map_clear(&r->uses);
            md_reg_map_clear(&r->usage);
            rc |= md_registry_uses(r, "jti-x", &got[round][flushed][2], &d);
            md_reg_count *c = NULL;
            rc |= md_registry_usage(r, ag, ac, m, &c, &d);
            if (c) {
                got[round][flushed][3] = c->n;
                got[round][flushed][4] = c->n_day;
            }
            got[round][flushed][0] = (uint64_t)rc;
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (int round = 0; round < 2; round++)
        for (int flushed = 0; flushed < 2; flushed++) {
            uint64_t *g = got[round][flushed];
            assert_int_equal(g[0], 0);
            assert_int_equal(g[1], flushed ? 0 : 4); /* merged per counter */
            assert_int_equal(g[2], 2 * (round + 1));
            assert_int_equal(g[3], 2 * (round + 1)); /* the last hour */
            assert_int_equal(g[4], 3 * (round + 1)); /* the last day */
        }
}

/* Acceptance 1: the bad-token cases that need the registry, end to end. */
static void test_bad_tokens_registry(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    mandate_diag d;
    const char *rd = "Action::\"read\"", *tk = "Ticket::\"1\"";
    /* Suspended agent. */
    char *t1 = delegate(r, "Human::\"alice\"", "Agent::\"helper\"", rd, "Ticket", NULL, 0);
    expect(decide(r, t1, rd, tk), true, 0, 0, "helper before");
    assert_int_equal(mandate_registry_set_status(r, "Agent::\"helper\"", MANDATE_STATUS_SUSPENDED,
                                                 "Human::\"sec\"", &d),
                     0);
    expect(decide(r, t1, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_SUBJECT_INACTIVE,
           "suspended agent");
    mandate_agent_request rq = {.token = t1,
                                .principal = "Agent::\"helper\"",
                                .action = rd,
                                .resource = tk,
                                .now = NOW + 10};
    mandate_agent_result *res;
    assert_int_equal(mandate_agent_authorize(r, &rq, &res, &d), 0);
    expect(res, false, MANDATE_CHECK_AGENT, 0, "suspended agent named");
    assert_int_equal(mandate_registry_set_status(r, "helper", MANDATE_STATUS_ACTIVE, "sec", &d),
                     MANDATE_EINVAL); /* a plain id needs a kind */
    assert_int_equal(mandate_registry_set_status(r, "Agent::\"helper\"", MANDATE_STATUS_ACTIVE,
                                                 "Human::\"sec\"", &d),
                     0);
    expect(decide(r, t1, rd, tk), true, 0, 0, "resumed agent");
    /* Retired agent. */
    char *tl = delegate(r, "Human::\"dave\"", "Agent::\"lone\"", rd, "Ticket", NULL, 0);
    assert_int_equal(mandate_registry_set_status(r, "Agent::\"lone\"", MANDATE_STATUS_DEPARTED,
                                                 "Human::\"sec\"", &d),
                     0);
    expect(decide(r, tl, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_SUBJECT_INACTIVE,
           "retired agent");
    /* Suspended delegator: bob delegates to drafter (owned by alice). */
    char *t2 = delegate(r, "Human::\"bob\"", "Agent::\"drafter\"", rd, "Ticket", NULL, 0);
    expect(decide(r, t2, rd, tk), true, 0, 0, "bob's delegation before");
    assert_int_equal(mandate_registry_set_status(r, "Human::\"bob\"", MANDATE_STATUS_SUSPENDED,
                                                 "Human::\"sec\"", &d),
                     0);
    expect(decide(r, t2, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_DELEGATOR_INACTIVE,
           "suspended delegator");
    /* Departed owner: bobbot's owner bob departs; alice's delegation to bobbot stops. */
    assert_int_equal(mandate_registry_set_status(r, "Human::\"bob\"", MANDATE_STATUS_ACTIVE,
                                                 "Human::\"sec\"", &d),
                     0);
    char *t3 = delegate(r, "Human::\"alice\"", "Agent::\"bobbot\"", rd, "Ticket", NULL, 0);
    expect(decide(r, t3, rd, tk), true, 0, 0, "bobbot before");
    assert_int_equal(mandate_registry_set_status(r, "Human::\"bob\"", MANDATE_STATUS_DEPARTED,
                                                 "Human::\"hr\"", &d),
                     0);
    expect(decide(r, t3, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_OWNER_INACTIVE,
           "departed owner");
    /* A departed delegator cannot delegate. */
    char *none = NULL;
    const char *acts[] = {rd}, *ress[] = {"Ticket"};
    mandate_delegation dl = {.subject = "Agent::\"drafter\"",
                             .delegator = "Human::\"bob\"",
                             .task = "t",
                             .actions = acts,
                             .n_actions = 1,
                             .resources = ress,
                             .n_resources = 1,
                             .max_uses = 1,
                             .now = NOW};
    mandate_token_error te;
    assert_int_equal(mandate_registry_delegate(r, &dl, "x", &none, &te, &d), MANDATE_EDENIED);
    assert_int_equal(te.reason, MANDATE_TOKEN_DELEGATOR_INACTIVE);
    assert_null(none);
    /* Revoked token, by jti through the store. */
    char *t4 = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", rd, "Ticket", NULL, 0);
    expect(decide(r, t4, rd, tk), true, 0, 0, "before revocation");
    assert_int_equal(mandate_registry_revoke(r, t4, "Human::\"sec\"", "leaked", &d), 0);
    assert_int_equal(mandate_registry_revoke(r, t4, "Human::\"sec\"", "again", &d), 0);
    expect(decide(r, t4, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_REVOKED, "revoked");
    /* Revoked parent: alice -> drafter -> helper; revoke the root, the child stops. */
    const char *acts2[] = {rd, "Action::\"draft\""};
    mandate_delegation root = {.subject = "Agent::\"drafter\"",
                               .delegator = "Human::\"alice\"",
                               .task = "t",
                               .actions = acts2,
                               .n_actions = 2,
                               .resources = ress,
                               .n_resources = 1,
                               .max_uses = 10,
                               .now = NOW};
    char *pt = NULL, *ct = NULL;
    assert_int_equal(mandate_registry_delegate(r, &root, "a", &pt, &te, &d), 0);
    mandate_delegation child = {.subject = "Agent::\"helper\"",
                                .task = "t2",
                                .actions = acts,
                                .n_actions = 1,
                                .resources = ress,
                                .n_resources = 1,
                                .max_uses = 3,
                                .now = NOW};
    if (mandate_registry_redelegate(r, pt, NULL, 0, &child, "a", &ct, &te, &d))
        fail_msg("redelegate: %s", d.message);
    const char *par[] = {pt};
    expect(decide_p(r, ct, par, 1, rd, tk, NULL), true, 0, 0, "child before");
    /* Widening a re-delegation is refused. */
    char *wide = NULL;
    child.actions = acts2;
    child.n_actions = 2;
    child.subject = "Agent::\"helper\"";
    const char *acts3[] = {rd, "Action::\"send\""};
    child.actions = acts3;
    assert_int_not_equal(mandate_registry_redelegate(r, pt, NULL, 0, &child, "a", &wide, &te, &d),
                         0);
    assert_int_equal(te.reason, MANDATE_TOKEN_SCOPE_WIDENED);
    assert_int_equal(mandate_registry_revoke(r, pt, "Human::\"sec\"", "root revoked", &d), 0);
    expect(decide_p(r, ct, par, 1, rd, tk, NULL), false, MANDATE_CHECK_TOKEN,
           MANDATE_TOKEN_PARENT_REVOKED, "revoked parent");
    /* Use limit through the store, surviving a reopen. */
    char *t5 = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", rd, "Ticket", NULL, 2);
    expect(decide(r, t5, rd, tk), true, 0, 0, "use 1");
    expect(decide(r, t5, rd, tk), true, 0, 0, "use 2");
    expect(decide(r, t5, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_USES_EXHAUSTED,
           "use 3");
    char *t6 = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", rd, "Ticket", NULL, 1);
    expect(decide(r, t6, rd, tk), true, 0, 0, "t6 use 1");
    mandate_registry_close(r);
    open_registry(f);
    r = f->r;
    assert_int_equal(mandate_registry_set_policies(r, policies, strlen(policies), &d), 0);
    assert_int_equal(mandate_registry_set_entities(r, user_entities, strlen(user_entities), &d), 0);
    expect(decide(r, t6, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_USES_EXHAUSTED,
           "use limit after reopen");
    expect(decide(r, t4, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_REVOKED,
           "revocation after reopen");
    free(t1);
    free(tl);
    free(t2);
    free(t3);
    free(t4);
    free(t5);
    free(t6);
    free(pt);
    free(ct);
}

/* Acceptance 2: an agent whose own policies allow (agents-broad) is denied because its delegator
 * may not, or because the action is outside the delegation's scope. */
static void test_escalation(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    const char *A = "Human::\"alice\"", *DR = "Agent::\"drafter\"";
    struct {
        const char *from, *to, *d_action, *d_resource, *action, *resource;
        int check;
        const char *what;
    } cases[] = {
        {"Human::\"bob\"", DR, "Action::\"send\"", "Ticket", "Action::\"send\"", "Ticket::\"1\"",
         MANDATE_CHECK_DELEGATOR, "1 bob is not a lead: cannot send"},
        {"Human::\"bob\"", DR, "Action::\"refund\"", "Ticket", "Action::\"refund\"",
         "Ticket::\"1\"", MANDATE_CHECK_DELEGATOR, "2 bob is not in finance: cannot refund"},
        {"Human::\"dave\"", DR, "Action::\"read\"", "Ticket", "Action::\"read\"", "Ticket::\"1\"",
         MANDATE_CHECK_DELEGATOR, "3 dave has no group: cannot read"},
        {A, DR, "Action::\"edit\"", "Doc::\"bob-1\"", "Action::\"edit\"", "Doc::\"bob-1\"",
         MANDATE_CHECK_DELEGATOR, "4 alice does not own bob's doc"},
        {A, DR, "Action::\"read\"", "Ticket::\"1\"", "Action::\"read\"", "Ticket::\"2\"",
         MANDATE_CHECK_SCOPE, "5 resource outside the delegated uid"},
        {A, DR, "Action::\"read\"", "Ticket", "Action::\"draft\"", "Ticket::\"1\"",
         MANDATE_CHECK_SCOPE, "6 action outside the delegated actions"},
        {A, DR, "Action::\"edit\"", "Doc::\"alice-1\"", "Action::\"edit\"", "Doc::\"alice-2\"",
         MANDATE_CHECK_SCOPE, "7 alice may edit both docs, delegated one"},
        {"Human::\"carol\"", DR, "Action::\"refund\"", "Ticket", "Action::\"send\"",
         "Ticket::\"1\"", MANDATE_CHECK_DELEGATOR, "9 carol may refund, not send"},
        {"Human::\"erin\"", DR, "Action::\"send\"", "Ticket", "Action::\"send\"", "Ticket::\"1\"",
         MANDATE_CHECK_DELEGATOR, "10 erin is a lead but a contractor (user entity): forbid"},
        {A, DR, "Action::\"read\"", "Doc", "Action::\"read\"", "Ticket::\"1\"", MANDATE_CHECK_SCOPE,
         "11 resource type outside the delegated types"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        char *t = delegate(r, cases[i].from, cases[i].to, cases[i].d_action, cases[i].d_resource,
                           NULL, 0);
        expect(decide(r, t, cases[i].action, cases[i].resource), false, cases[i].check, 0,
               cases[i].what);
        free(t);
    }
    /* 8: re-delegation narrows: drafter got read+draft, gave helper read; helper drafts. */
    const char *acts2[] = {"Action::\"read\"", "Action::\"draft\""}, *ress[] = {"Ticket"};
    mandate_delegation root = {.subject = DR,
                               .delegator = A,
                               .task = "t",
                               .actions = acts2,
                               .n_actions = 2,
                               .resources = ress,
                               .n_resources = 1,
                               .max_uses = 10,
                               .now = NOW};
    char *pt = NULL;
    mandate_token_error te;
    mandate_diag d;
    assert_int_equal(mandate_registry_delegate(r, &root, "a", &pt, &te, &d), 0);
    char *ct = redelegate(r, pt, "Agent::\"helper\"", "Action::\"read\"", "Ticket");
    const char *par[] = {pt};
    expect(decide_p(r, ct, par, 1, "Action::\"draft\"", "Ticket::\"1\"", NULL), false,
           MANDATE_CHECK_SCOPE, 0, "8 sub-agent outside its narrowed scope");
    expect(decide_p(r, ct, par, 1, "Action::\"read\"", "Ticket::\"1\"", NULL), true, 0, 0,
           "8 control: inside the narrowed scope");
    expect(decide_p(r, pt, NULL, 0, "Action::\"draft\"", "Ticket::\"1\"", NULL), true, 0, 0,
           "8 control: the parent may draft");
    free(pt);
    free(ct);
}

/* Every delegator in the act chain must be allowed the request, not only the root human: alice
 * may archive and helper's own policies allow it, but drafter, who re-delegated to helper, may
 * not (no-drafter-archive). */
static void test_every_delegator(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    const char *ar = "Action::\"archive\"", *tk = "Ticket::\"1\"";
    char *direct = delegate(r, "Human::\"alice\"", "Agent::\"helper\"", ar, "Ticket", NULL, 0);
    expect(decide(r, direct, ar, tk), true, 0, 0, "control: alice -> helper");
    char *pt = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", ar, "Ticket", NULL, 0);
    expect(decide(r, pt, ar, tk), false, MANDATE_CHECK_POLICY, 0, "drafter itself may not");
    char *ct = redelegate(r, pt, "Agent::\"helper\"", ar, "Ticket");
    const char *par[] = {pt};
    mandate_agent_result *res = decide_p(r, ct, par, 1, ar, tk, NULL);
    assert_non_null(strstr(mandate_agent_result_reason(res), "Agent::\"drafter\""));
    assert_int_equal(mandate_agent_result_policy_count(res), 1);
    assert_string_equal(mandate_agent_result_policy(res, 0), "no-drafter-archive");
    expect(res, false, MANDATE_CHECK_DELEGATOR, 0, "drafter in the chain may not archive");
    free(direct);
    free(pt);
    free(ct);
}

/* With a schema, the agent path checks the request against it (context included) and parses
 * the context as the action's context type says; a mismatch denies with the reason. */
static void test_context_schema(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    mandate_diag d;
    FILE *fp = fopen("policies/schema.cedarschema", "r");
    assert_non_null(fp);
    char schema[16384];
    size_t n = fread(schema, 1, sizeof schema - 1, fp);
    fclose(fp);
    schema[n] = 0;
    snprintf(schema + n, sizeof schema - n,
             "entity Ticket;\n"
             "action read appliesTo { principal: [Agent, Human], resource: [Ticket],\n"
             "  context: { mandate?: MandateContext, channel?: String, limit?: decimal } };\n"
             "action reply appliesTo { principal: [Agent, Human], resource: [Ticket],\n"
             "  context: { channel?: String } };\n"
             "action export appliesTo { principal: [Agent, Human], resource: [Ticket],\n"
             "  context: { mandate?: { task: Long } } };\n");
    assert_int_equal(mandate_registry_set_entities(r, "[]", 2, &d), 0);
    if (mandate_registry_set_schema(r, schema, strlen(schema), &d))
        fail_msg("schema: %s", d.message);
    static const char pol[] = "permit (principal, action, resource);\n"
                              "forbid (principal, action, resource) when { context has limit && "
                              "context.limit.greaterThan(decimal(\"10.0\")) };\n";
    assert_int_equal(mandate_registry_set_policies(r, pol, strlen(pol), &d), 0);
    const char *rd = "Action::\"read\"", *tk = "Ticket::\"1\"";
    char *t = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", rd, "Ticket", NULL, 0);
    expect(decide_p(r, t, NULL, 0, rd, tk, "{\"channel\":\"email\",\"limit\":\"2.5\"}"), true, 0, 0,
           "context of the declared type");
    /* decimal from the schema: 20.0 > 10.0 (a plain string would make the forbid err) */
    mandate_agent_result *res = decide_p(r, t, NULL, 0, rd, tk, "{\"limit\":\"20.0\"}");
    assert_int_equal(mandate_agent_result_error_count(res), 0);
    expect(res, false, MANDATE_CHECK_POLICY, 0, "decimal parsed by the schema");
    /* An action whose context type does not declare `mandate` (a schema for the plain Cedar
     * path): the caller's context is checked without it. */
    const char *rp = "Action::\"reply\"";
    char *t2 = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", rp, "Ticket", NULL, 0);
    expect(decide_p(r, t2, NULL, 0, rp, tk, "{\"channel\":\"email\"}"), true, 0, 0,
           "mandate not declared: the caller's context");
    free(t2);
    struct {
        const char *ctx, *action, *resource, *want;
    } bad[] = {
        {"{\"channel\":5}", rd, tk, "channel"},
        {"{\"nosuch\":1}", rd, tk, "nosuch"},
        {"{\"limit\":\"ten\"}", rd, tk, "limit"},
        {NULL, "Action::\"draft\"", tk, "Action::\"draft\""},
        {NULL, rd, "Doc::\"alice-1\"", "Doc"},
        {"{\"channel\":5}", rp, tk, "channel"},
        {NULL, "Action::\"export\"", tk, "mandate"}, /* declared, of another type */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        res = decide_p(r, t, NULL, 0, bad[i].action, bad[i].resource, bad[i].ctx);
        if (!strstr(mandate_agent_result_reason(res), bad[i].want))
            fail_msg("case %zu: reason '%s' does not name %s", i, mandate_agent_result_reason(res),
                     bad[i].want);
        if (getenv("MANDATE_TEST_VERBOSE"))
            fprintf(stderr, "    %s\n", mandate_agent_result_reason(res));
        expect(res, false, MANDATE_CHECK_REQUEST, 0, "context or request outside the schema");
    }
    free(t);
}

/* Acceptance 3: the kill switch. */
static void test_kill_switch(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    mandate_diag d;
    const char *rd = "Action::\"read\"", *tk = "Ticket::\"1\"";
    const char *agents[] = {"Agent::\"drafter\"", "Agent::\"helper\"", "Agent::\"bobbot\""};
    char *toks[3];
    for (int i = 0; i < 3; i++)
        toks[i] = delegate(r, "Human::\"alice\"", agents[i], rd, "Ticket",
                           i == 0 ? "Workflow::\"support-reply\"" : NULL, 0);
    for (int i = 0; i < 3; i++)
        expect(decide(r, toks[i], rd, tk), true, 0, 0, "before");
    /* Suspend one agent: only it stops. */
    assert_int_equal(
        mandate_registry_set_status(r, agents[1], MANDATE_STATUS_SUSPENDED, "Human::\"sec\"", &d),
        0);
    expect(decide(r, toks[1], rd, tk), false, MANDATE_CHECK_TOKEN, 0, "suspended helper");
    expect(decide(r, toks[0], rd, tk), true, 0, 0, "drafter unaffected");
    expect(decide(r, toks[2], rd, tk), true, 0, 0, "bobbot unaffected");
    assert_int_equal(
        mandate_registry_set_status(r, agents[1], MANDATE_STATUS_ACTIVE, "Human::\"sec\"", &d), 0);
    /* Suspend the human: every agent she owns or delegated to stops. */
    assert_int_equal(mandate_registry_set_status(r, "Human::\"alice\"", MANDATE_STATUS_SUSPENDED,
                                                 "Human::\"sec\"", &d),
                     0);
    for (int i = 0; i < 3; i++)
        expect(decide(r, toks[i], rd, tk), false, MANDATE_CHECK_TOKEN, 0, "alice suspended");
    assert_int_equal(mandate_registry_set_status(r, "Human::\"alice\"", MANDATE_STATUS_ACTIVE,
                                                 "Human::\"sec\"", &d),
                     0);
    expect(decide(r, toks[0], rd, tk), true, 0, 0, "alice resumed");
    /* Suspend the workflow: the agent working in it stops. */
    assert_int_equal(mandate_registry_set_status(r, "Workflow::\"support-reply\"",
                                                 MANDATE_STATUS_SUSPENDED, "Human::\"sec\"", &d),
                     0);
    expect(decide(r, toks[0], rd, tk), false, MANDATE_CHECK_WORKFLOW, 0, "workflow suspended");
    expect(decide(r, toks[2], rd, tk), true, 0, 0, "outside the workflow");
    assert_int_equal(mandate_registry_set_status(r, "Workflow::\"support-reply\"",
                                                 MANDATE_STATUS_ACTIVE, "Human::\"sec\"", &d),
                     0);
    /* Global freeze. */
    assert_int_equal(mandate_registry_freeze(r, true, "Human::\"ciso\"", &d), 0);
    assert_true(mandate_registry_frozen(r));
    for (int i = 0; i < 3; i++)
        expect(decide(r, toks[i], rd, tk), false, MANDATE_CHECK_FROZEN, 0, "frozen");
    assert_int_equal(mandate_registry_freeze(r, false, "Human::\"ciso\"", &d), 0);
    for (int i = 0; i < 3; i++)
        expect(decide(r, toks[i], rd, tk), true, 0, 0, "unfrozen");
    /* Every change is a ledger entry naming who did it. */
    char db[128];
    snprintf(db, sizeof db, "%s/mandate.db", f->dir);
    mandate_ledger *l = NULL;
    mandate_ledger_opts lo = {.db_path = db};
    assert_int_equal(mandate_ledger_open(&l, &lo, &d), 0);
    uint64_t n = mandate_ledger_size(l);
    int ciso = 0, sec = 0, decisions = 0;
    for (uint64_t i = 0; i < n; i++) {
        char *j = NULL;
        assert_int_equal(mandate_ledger_get(l, i, &j, &d), 0);
        if (strstr(j, "\"type\":\"registry\"") && strstr(j, "ciso"))
            ciso++;
        if (strstr(j, "\"type\":\"registry\"") && strstr(j, "\"op\":\"suspend\"") &&
            strstr(j, "sec"))
            sec++;
        if (strstr(j, "\"type\":\"decision\""))
            decisions++;
        free(j);
    }
    mandate_ledger_close(l);
    assert_int_equal(ciso, 2);
    assert_int_equal(sec, 3);
    assert_int_equal(decisions, 3 + 3 + 3 + 1 + 2 + 3 + 3);
    for (int i = 0; i < 3; i++)
        free(toks[i]);
}

/* The kill switch under concurrency: threads decide in a loop (without the ledger, to go fast);
 * every decision that starts after mandate_registry_set_status returned is a deny. */
typedef struct race {
    mandate_registry *r;
    const char *tok;
    atomic_int phase; /* 0 running, 1 suspended (set after the call returned), 2 stop */
    atomic_int bad, after;
} race;

static void *racer(void *arg)
{
    race *x = arg;
    while (atomic_load(&x->phase) != 2) {
        int ph = atomic_load(&x->phase);
        mandate_agent_request rq = {.token = x->tok,
                                    .action = "Action::\"read\"",
                                    .resource = "Ticket::\"1\"",
                                    .now = NOW + 10};
        mandate_agent_result *res = NULL;
        if (md_agent_decide(x->r, &rq, &res) || !res) {
            atomic_fetch_add(&x->bad, 1);
            continue;
        }
        if (ph == 1) {
            atomic_fetch_add(&x->after, 1);
            if (mandate_agent_result_allowed(res))
                atomic_fetch_add(&x->bad, 1);
        }
        mandate_agent_result_free(res);
    }
    return NULL;
}

static void test_kill_switch_concurrent(void **state)
{
    fx *f = *state;
    char *t = delegate(f->r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"read\"", "Ticket",
                       NULL, 1000000);
    race x = {.r = f->r, .tok = t};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, racer, &x), 0);
    usleep(20000);
    mandate_diag d;
    assert_int_equal(mandate_registry_set_status(f->r, "Agent::\"drafter\"",
                                                 MANDATE_STATUS_SUSPENDED, "Human::\"sec\"", &d),
                     0);
    atomic_store(&x.phase, 1);
    usleep(20000);
    atomic_store(&x.phase, 2);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&x.bad), 0);
    assert_true(atomic_load(&x.after) > 0);
    free(t);
}

static void test_usage_counters_and_strict_forbid(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    char *t = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"export\"", "Ticket",
                       NULL, 0);
    expect(decide(r, t, "Action::\"export\"", "Ticket::\"1\""), true, 0, 0, "export 1");
    expect(decide(r, t, "Action::\"export\"", "Ticket::\"2\""), true, 0, 0, "export 2");
    mandate_agent_result *res = decide(r, t, "Action::\"export\"", "Ticket::\"3\"");
    assert_int_equal(mandate_agent_result_policy_count(res), 1);
    assert_string_equal(mandate_agent_result_policy(res, 0), "export-rate");
    expect(res, false, MANDATE_CHECK_POLICY, 0, "export 3: usage.hour >= 2");
    free(t);
    /* An erroring forbid denies on the agent path (Cedar alone would allow). */
    t = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"probe\"", "Ticket", NULL,
                 0);
    res = decide(r, t, "Action::\"probe\"", "Ticket::\"1\"");
    assert_int_equal(mandate_agent_result_error_count(res), 1);
    assert_non_null(strstr(mandate_agent_result_reason(res), "erroring forbid"));
    expect(res, false, MANDATE_CHECK_POLICY, 0, "erroring forbid");
    res = decide_p(r, t, NULL, 0, "Action::\"probe\"", "Ticket::\"1\"", "{\"nosuch\":2}");
    expect(res, true, 0, 0, "forbid evaluates without error");
    free(t);
}

/* A run of changes builds one snapshot, at the next read, and that read sees every change. */
static void test_bulk_changes_one_rebuild(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    mandate_diag d;
    const char *fin[] = {"finance"};
    uint64_t version = mandate_registry_version(r);
    uint64_t built = r->rebuilds;
    char id[32];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "bulk-%d", i);
        add(r, (mandate_principal){
                   .kind = MANDATE_KIND_HUMAN, .id = id, .member_of = fin, .n_member_of = 1});
    }
    assert_int_equal(mandate_registry_set_status(r, "Human::\"bulk-7\"", MANDATE_STATUS_SUSPENDED,
                                                 "Human::\"admin\"", &d),
                     0);
    assert_int_equal(mandate_registry_freeze(r, true, "Human::\"admin\"", &d), 0);
    assert_int_equal(r->rebuilds, built);    /* nothing built yet */
    assert_true(mandate_registry_frozen(r)); /* the first read builds, and sees the freeze */
    assert_int_equal(r->rebuilds, built + 1);
    assert_int_equal(mandate_registry_version(r), version + 42);
    char *ents = NULL;
    assert_int_equal(mandate_registry_entities_json(r, &ents, &d), 0);
    assert_non_null(strstr(ents, "\"bulk-39\""));
    assert_non_null(strstr(ents, "\"bulk-0\""));
    free(ents);
    assert_int_equal(r->rebuilds, built + 1); /* later reads reuse it */
    assert_int_equal(mandate_registry_freeze(r, false, "Human::\"admin\"", &d), 0);
    assert_false(mandate_registry_frozen(r));
    assert_int_equal(r->rebuilds, built + 2);
}

/* A store error while picking up another process's change: the next read still sees it. */
static int (*real_meta_get)(md_rstore *, const char *, uint64_t *, md_diag *);
static int fail_meta_gets;
static int flaky_meta_get(md_rstore *s, const char *k, uint64_t *v, md_diag *d)
{
    if (fail_meta_gets > 0) {
        fail_meta_gets--;
        return md_diag_set(d, MANDATE_EIO, 0, 0, "injected read error");
    }
    return real_meta_get(s, k, v, d);
}

static void test_refresh_error_stays_stale(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    assert_false(mandate_registry_frozen(r));
    /* Another process freezes: its commit, then the shared change counter. */
    char path[128];
    snprintf(path, sizeof path, "%s/mandate.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT OR REPLACE INTO registry_meta(key, value)"
                     " VALUES('frozen', 1);"
                     "UPDATE registry_meta SET value = value + 1 WHERE key = 'version';",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    atomic_fetch_add(r->gen, 1);
    md_rstore_ops ops = *r->st->ops;
    const md_rstore_ops *saved = r->st->ops;
    real_meta_get = ops.meta_get;
    ops.meta_get = flaky_meta_get;
    r->st->ops = &ops;
    fail_meta_gets = 1;
    assert_true(mandate_registry_frozen(r)); /* the read fails: closed */
    assert_true(mandate_registry_frozen(r)); /* and the next ones see the freeze */
    assert_true(mandate_registry_frozen(r));
    r->st->ops = saved;
}

/* A read-only handle on a directory without registry.gen asks the store on every read. */
static void test_read_only_without_gen_file(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mandate-reg-ro-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rmdir(dir);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(dir, "test.registry/ro", &d), 0);
    mandate_registry *w = NULL, *ro = NULL;
    mandate_registry_opts o = {.data_dir = dir};
    assert_int_equal(mandate_registry_open(&w, &o, &d), 0); /* makes the tables */
    mandate_registry_close(w);
    char gen[128];
    snprintf(gen, sizeof gen, "%s/registry.gen", dir);
    assert_int_equal(unlink(gen), 0);
    mandate_registry_opts ro_o = {.data_dir = dir, .read_only = true};
    assert_int_equal(mandate_registry_open(&ro, &ro_o, &d), 0);
    assert_false(mandate_registry_frozen(ro));
    assert_int_equal(mandate_registry_open(&w, &o, &d), 0); /* a new registry.gen */
    assert_int_equal(mandate_registry_freeze(w, true, "Human::\"ciso\"", &d), 0);
    assert_true(mandate_registry_frozen(ro));
    mandate_registry_close(w);
    mandate_registry_close(ro);
    assert_int_equal(scratch_remove(dir), 0);
}

/* Re-delegations share their root's uses, and may not add a workflow the root did not name. */
static void test_redelegation_shares_uses(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    const char *rd = "Action::\"read\"", *tk = "Ticket::\"9\"";
    char *root = delegate(r, "Human::\"alice\"", "Agent::\"helper\"", rd, "Ticket", NULL, 2);
    const char *acts[] = {rd}, *res[] = {"Ticket"};
    const mandate_delegation base = {.task = "t",
                                     .actions = acts,
                                     .n_actions = 1,
                                     .resources = res,
                                     .n_resources = 1,
                                     .now = NOW};
    char *kids[3];
    for (int i = 0; i < 3; i++) {
        mandate_delegation child = base;
        child.subject = i == 2 ? "Agent::\"lone\"" : "Agent::\"bobbot\"";
        mandate_token_error e;
        mandate_diag d;
        if (mandate_registry_redelegate(r, root, NULL, 0, &child, "a", &kids[i], &e, &d))
            fail_msg("redelegate %d: %s", i, d.message);
    }
    /* A workflow the parent did not name is refused (while the root still has uses). */
    mandate_delegation wf = base;
    wf.subject = "Agent::\"bobbot\"";
    wf.workflow = "Workflow::\"support-reply\"";
    char *tok = NULL;
    mandate_token_error e;
    mandate_diag d;
    assert_int_not_equal(mandate_registry_redelegate(r, root, NULL, 0, &wf, "a", &tok, &e, &d), 0);
    assert_int_equal(e.reason, MANDATE_TOKEN_WORKFLOW_MISMATCH);
    assert_null(tok);
    /* A lifetime past the parent's end is refused, however large (no overflow). */
    wf.workflow = NULL;
    wf.lifetime = INT64_MAX;
    assert_int_not_equal(mandate_registry_redelegate(r, root, NULL, 0, &wf, "a", &tok, &e, &d), 0);
    assert_int_equal(e.reason, MANDATE_TOKEN_EXPIRY_WIDENED);
    const char *par[] = {root};
    expect(decide_p(r, kids[0], par, 1, rd, tk, NULL), true, 0, 0, "first use");
    expect(decide_p(r, kids[1], par, 1, rd, tk, NULL), true, 0, 0, "second use");
    expect(decide_p(r, kids[2], par, 1, rd, tk, NULL), false, MANDATE_CHECK_TOKEN,
           MANDATE_TOKEN_USES_EXHAUSTED, "a third child over a root of two uses");
    expect(decide(r, root, rd, tk), false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_USES_EXHAUSTED,
           "the root itself, its uses spent by its children");
    for (int i = 0; i < 3; i++)
        free(kids[i]);
    free(root);
}

/* Who may revoke with delegations.revoke alone: a party to the delegation, proven by its token. */
static void test_revoke_party(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    const char *rd = "Action::\"read\"";
    char *root = delegate(r, "Human::\"alice\"", "Agent::\"helper\"", rd, "Ticket", NULL, 5);
    char *kid = redelegate(r, root, "Agent::\"bobbot\"", rd, "Ticket::\"9\"");
    mandate_diag d;
    assert_int_equal(mandate_registry_revoke_party(r, root, "Human::\"alice\"", &d), 0);
    assert_int_equal(mandate_registry_revoke_party(r, root, "Human :: \"alice\"", &d), 0);
    assert_int_equal(mandate_registry_revoke_party(r, root, "Human::\"bob\"", &d), MANDATE_EDENIED);
    assert_non_null(strstr(d.message, "neither delegated"));
    /* The child: the human at the root, the agent that re-delegated it, the child agent's owner. */
    assert_int_equal(mandate_registry_revoke_party(r, kid, "Human::\"alice\"", &d), 0);
    assert_int_equal(mandate_registry_revoke_party(r, kid, "Agent::\"helper\"", &d), 0);
    assert_int_equal(mandate_registry_revoke_party(r, kid, "Human::\"bob\"", &d), 0);
    assert_int_equal(mandate_registry_revoke_party(r, kid, "Human::\"dave\"", &d), MANDATE_EDENIED);
    assert_int_equal(mandate_registry_revoke_party(r, kid, "Agent::\"bobbot\"", &d),
                     MANDATE_EDENIED);
    /* A bare jti proves nothing; nor does a token with a broken signature. */
    assert_int_equal(mandate_registry_revoke_party(r, "some-jti", "Human::\"alice\"", &d),
                     MANDATE_EDENIED);
    size_t n = strlen(root);
    root[n - 2] = root[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(mandate_registry_revoke_party(r, root, "Human::\"alice\"", &d),
                     MANDATE_EINVAL);
    assert_non_null(strstr(d.message, "not a delegation signed here"));
    /* Nor does revocation take a jti out of a token that does not verify. */
    assert_int_equal(mandate_registry_revoke(r, root, "Human::\"admin\"", NULL, &d),
                     MANDATE_EINVAL);
    assert_int_equal(mandate_registry_revoke_party(r, "a.b.c", "Human::\"alice\"", &d),
                     MANDATE_EINVAL);
    free(kid);
    free(root);
}

static void test_registry_model(void **state)
{
    fx *f = *state;
    mandate_registry *r = f->r;
    mandate_diag d;
    /* Ownership is required and must name a registered human. */
    mandate_principal p = {.kind = MANDATE_KIND_AGENT, .id = "orphan"};
    assert_int_equal(mandate_registry_add(r, &p, "x", &d), MANDATE_EINVAL);
    p.owner = "nobody";
    assert_int_equal(mandate_registry_add(r, &p, "x", &d), MANDATE_ENOTFOUND);
    assert_non_null(strstr(d.message, "Human::\"nobody\""));
    p.owner = "Agent::\"drafter\"";
    assert_int_equal(mandate_registry_add(r, &p, "x", &d), MANDATE_EINVAL);
    p.owner = "alice";
    assert_int_equal(mandate_registry_add(r, &p, "x", &d), 0);
    assert_int_equal(mandate_registry_add(r, &p, "x", &d), MANDATE_EEXIST);
    uint64_t v = mandate_registry_version(r);
    mandate_principal w = {.kind = MANDATE_KIND_WORKFLOW, .id = "wf2"};
    assert_int_equal(mandate_registry_add(r, &w, "x", &d), MANDATE_EINVAL); /* no owner */
    assert_int_equal(mandate_registry_version(r), v);
    char *j = NULL;
    assert_int_equal(mandate_registry_show(r, "Agent::\"drafter\"", &j, &d), 0);
    assert_non_null(strstr(j, "\"owner\":\"Human::\\\"alice\\\"\""));
    assert_non_null(strstr(j, "\"status\":\"active\""));
    free(j);
    assert_int_equal(mandate_registry_list(r, MANDATE_KIND_HUMAN, &j, &d), 0);
    assert_non_null(strstr(j, "Human::\\\"erin\\\""));
    assert_null(strstr(j, "Agent::"));
    free(j);
    assert_int_equal(mandate_registry_entities_json(r, &j, &d), 0);
    assert_non_null(strstr(j, "\"impacts\":[\"customer\"]"));
    free(j);
    assert_int_equal(mandate_registry_show(r, "Agent::\"nope\"", &j, &d), MANDATE_ENOTFOUND);
    /* Bad policies leave the snapshot as it was. */
    assert_int_not_equal(mandate_registry_set_policies(r, "permit(", 7, &d), 0);
    char *t = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"read\"", "Ticket",
                       NULL, 0);
    expect(decide(r, t, "Action::\"read\"", "Ticket::\"1\""), true, 0, 0, "policies kept");
    free(t);
    assert_int_equal(mandate_registry_jwks(r, &j, &d), 0);
    assert_non_null(strstr(j, "\"kty\":\"OKP\""));
    free(j);
    /* A second handle on the same directory sees changes made by the first. The ledger has one
     * writer at a time, so the second handle decides without appending (md_agent_decide). */
    mandate_registry *r2 = NULL;
    mandate_registry_opts o = {.data_dir = f->dir};
    assert_int_equal(mandate_registry_open(&r2, &o, &d), 0);
    assert_int_equal(mandate_registry_set_policies(r2, policies, strlen(policies), &d), 0);
    t = delegate(r, "Human::\"alice\"", "Agent::\"drafter\"", "Action::\"read\"", "Ticket", NULL,
                 0);
    mandate_agent_request rq = {
        .token = t, .action = "Action::\"read\"", .resource = "Ticket::\"1\"", .now = NOW + 10};
    mandate_agent_result *res = NULL;
    assert_int_equal(md_agent_decide(r2, &rq, &res), 0);
    expect(res, true, 0, 0, "second handle");
    if (mandate_registry_set_status(r, "Agent::\"drafter\"", MANDATE_STATUS_SUSPENDED,
                                    "Human::\"sec\"", &d))
        fail_msg("suspend through the first handle: %s", d.message);
    assert_int_equal(md_agent_decide(r2, &rq, &res), 0);
    expect(res, false, MANDATE_CHECK_TOKEN, MANDATE_TOKEN_SUBJECT_INACTIVE,
           "second handle sees the suspension");
    free(t);
    mandate_registry_close(r2);
    mandate_registry_opts bad = {.data_dir = "/nonexistent/x"};
    assert_int_equal(mandate_registry_open(&r2, &bad, &d), MANDATE_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_positive_controls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_then_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_durable_with_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_tokens_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_delegator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_switch_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_counters_and_strict_forbid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_changes_one_rebuild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_error_stays_stale, setup, teardown),
        cmocka_unit_test(test_read_only_without_gen_file),
        cmocka_unit_test_setup_teardown(test_redelegation_shares_uses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_party, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
