/*
 * test_review_slack.c: privilege slack (docs/governance.md): the (action, resource type) pairs the
 * policy scopes permit an agent (principal ==/in/is, action ==/in, resource ==/in/is, the schema's
 * appliesTo and entity hierarchy, conditional permits, unconditional forbids, the workflow's
 * entitlements) against the pairs its allowed decisions exercised; per agent and per workflow.
 * Near misses: every permitted pair used, an agent with no decision (dormant, not slack), pairs
 * outside the workflow's entitlements. The fix text must parse and validate against the schema
 * with the engine's own parser and strict validator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cedar/validator.h"
#include "unit/govern/review_world.h"

static const char policies[] =
    "@id(\"w1-docs\")\n"
    "@impact(\"internal\")\n"
    "permit (principal is Agent in Workflow::\"w1\", action in [Action::\"read\", "
    "Action::\"write\"], resource is Doc);\n"
    "@id(\"w1-publish\")\n"
    "@approval(\"verified\")\n"
    "@approvers(\"Group::\\\"leads\\\"\")\n"
    "permit (principal is Agent in Workflow::\"w1\", action == Action::\"publish\", resource)\n"
    "when { resource in Folder::\"public\" };\n"
    "@id(\"agents-delete\")\n"
    "permit (principal is Agent, action == Action::\"delete\", resource is Doc);\n"
    "@id(\"no-agent-delete\")\n"
    "forbid (principal is Agent, action == Action::\"delete\", resource);\n"
    "@id(\"no-share-secret\")\n"
    "forbid (principal is Agent, action == Action::\"share\", resource == Doc::\"secret\");\n"
    "@id(\"a3-reports\")\n"
    "permit (principal == Agent::\"a3\", action == Action::\"read\", resource in "
    "Folder::\"f\");\n"
    "@id(\"w3-any\")\n"
    "permit (principal is Agent in Workflow::\"w3\", action, resource is Doc);\n"
    "@id(\"team-share\")\n"
    "permit (principal in Group::\"team\", action in [Action::\"share\", Action::\"read\"], "
    "resource);\n";

static json_t *pairs_of(json_t *f, const char *key)
{
    return json_object_get(json_object_get(f, "data"), key);
}

static bool has_pair(json_t *list, const char *action, const char *type)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *p = json_array_get(list, i);
        if (!strcmp(json_string_value(json_array_get(p, 0)), action) &&
            !strcmp(json_string_value(json_array_get(p, 1)), type))
            return true;
    }
    return false;
}

/* The fix parses as Cedar and validates (strict) against the world's schema. */
static void check_fix_validates(const char *fix)
{
    md_arena *a = md_arena_new();
    char *schema_text = world_schema();
    const md_schema *schema = NULL;
    md_diag d = {0};
    assert_int_equal(md_schema_parse(a, schema_text, strlen(schema_text), &schema, &d), 0);
    free(schema_text);
    md_policyset *ps = NULL;
    if (md_policyset_parse(a, fix, strlen(fix), "fix", &ps, &d))
        fail_msg("the fix does not parse (%u:%u %s):\n%s", d.line, d.col, d.msg, fix);
    size_t n = 0;
    const md_vdiag *vd = NULL;
    assert_int_equal(md_validate(a, ps, schema, &n, &vd), 0);
    for (size_t i = 0; i < n; i++)
        if (!vd[i].warning)
            fail_msg("the fix does not validate: %s (%s)\n%s", vd[i].msg, vd[i].kind, fix);
    md_arena_free(a);
}

static size_t count_policies(const char *fix)
{
    size_t n = 0;
    for (const char *p = fix; (p = strstr(p, "permit (")); p++)
        n++;
    return n;
}

static void add_entitled(world *w, const char *id, const char *owner, const char *action)
{
    mandate_principal p = {.kind = MANDATE_KIND_WORKFLOW,
                           .id = id,
                           .owner = owner,
                           .actions = &action,
                           .n_actions = 1};
    mandate_diag d;
    if (mandate_registry_add(w->r, &p, "test", &d))
        fail_msg("add %s: %s", id, d.message);
}

static void test_agent_slack(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_GROUP, "team", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    const char *wfs[] = {"w1", "w2", "w4"};
    for (int i = 0; i < 3; i++)
        world_add(&w, MANDATE_KIND_WORKFLOW, wfs[i], "alice", NULL, NULL);
    add_entitled(&w, "w3", "alice", "Action::\"read\"");
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", "w1", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a2", "alice", "w1", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a3", "alice", "w2", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a4", "alice", "w3", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a5", "alice", "w4", "team");
    world_now(&w);
    int64_t t = w.now - DAY;
    /* a1 reads and publishes, never writes. */
    uint64_t e1 = world_decision(&w, t, "a1", "read", "Doc::\"d1\"", "allow", "none", NULL, "alice",
                                 "w1-docs");
    world_decision(&w, t + 1, "a1", "publish", "Report::\"r1\"", "allow", "none", NULL, "alice",
                   "w1-publish");
    world_decision(&w, t + 2, "a1", "delete", "Doc::\"d1\"", "deny", "policy", NULL, "alice",
                   "no-agent-delete");
    /* Allowed before the window: does not count as exercised. */
    world_decision(&w, w.now - 40 * DAY, "a1", "write", "Doc::\"d1\"", "allow", "none", NULL,
                   "alice", "w1-docs");
    /* a2 uses every pair it may: no finding (and w1 as a whole used everything too). */
    world_decision(&w, t, "a2", "read", "Doc::\"d2\"", "allow", "none", NULL, "alice", "w1-docs");
    world_decision(&w, t, "a2", "write", "Doc::\"d2\"", "allow", "none", NULL, "alice", "w1-docs");
    world_decision(&w, t, "a2", "publish", "Report::\"r2\"", "allow", "none", NULL, "alice",
                   "w1-publish");
    /* a3 made no decision: dormant, not slack. a4 is entitled to read only and reads. */
    world_decision(&w, t, "a4", "read", "Doc::\"d4\"", "allow", "none", NULL, "alice", "w3-any");
    /* a5 (in Group::"team") was only denied. */
    world_decision(&w, t, "a5", "write", "Doc::\"d5\"", "deny", "policy", NULL, "alice", NULL);
    world_review(&w, 30 * DAY, NULL, false);

    json_t *f = world_find(&w, "privilege_slack", "Agent::\"a1\"");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "medium");
    json_t *perm = pairs_of(f, "permitted"), *used = pairs_of(f, "exercised"),
           *unused = pairs_of(f, "unused"), *cond = pairs_of(f, "conditional");
    assert_int_equal(json_array_size(perm), 3);
    assert_true(has_pair(perm, "Action::\"read\"", "Doc"));
    assert_true(has_pair(perm, "Action::\"write\"", "Doc"));
    assert_true(has_pair(perm, "Action::\"publish\"", "Report"));
    assert_false(has_pair(perm, "Action::\"delete\"", "Doc")); /* removed by the forbid */
    assert_false(has_pair(perm, "Action::\"share\"", "Doc"));  /* only one resource forbidden */
    assert_int_equal(json_array_size(used), 2);
    assert_int_equal(json_array_size(unused), 1);
    assert_true(has_pair(unused, "Action::\"write\"", "Doc"));
    assert_int_equal(json_array_size(cond), 1);
    assert_true(has_pair(cond, "Action::\"publish\"", "Report"));
    assert_int_equal(json_integer_value(json_array_get(json_object_get(f, "evidence"), 0)), e1);
    assert_int_equal(jint(f, "evidence_count"), 3);
    const char *fix = jstr(f, "fix");
    check_fix_validates(fix);
    assert_int_equal(count_policies(fix), 2);
    assert_non_null(strstr(fix, "principal == Agent::\"a1\""));
    assert_non_null(strstr(fix, "action == Action::\"read\""));
    assert_non_null(strstr(fix, "resource is Doc"));
    assert_null(strstr(fix, "Action::\"write\""));
    /* Obligations and conditions of the narrowed permits are kept. */
    assert_non_null(strstr(fix, "@impact(\"internal\")"));
    assert_non_null(strstr(fix, "@approval(\"verified\")"));
    assert_non_null(strstr(fix, "resource is Report"));
    assert_non_null(strstr(fix, "when { resource in Folder::\"public\" };"));

    assert_null(world_find(&w, "privilege_slack", "Agent::\"a2\""));
    assert_null(world_find(&w, "privilege_slack", "Workflow::\"w1\""));
    assert_null(world_find(&w, "privilege_slack", "Agent::\"a3\""));
    assert_non_null(world_find(&w, "dormant_agent", "Agent::\"a3\""));
    assert_null(world_find(&w, "privilege_slack", "Agent::\"a4\""));
    assert_null(world_find(&w, "privilege_slack", "Workflow::\"w3\""));

    /* a5: `principal in Group::"team"` grants share and read on Doc and Report; nothing used. */
    f = world_find(&w, "privilege_slack", "Agent::\"a5\"");
    assert_non_null(f);
    perm = pairs_of(f, "permitted");
    assert_int_equal(json_array_size(perm), 4);
    assert_true(has_pair(perm, "Action::\"share\"", "Report"));
    assert_int_equal(json_array_size(pairs_of(f, "exercised")), 0);
    fix = jstr(f, "fix");
    check_fix_validates(fix);
    assert_int_equal(count_policies(fix), 0);
    assert_non_null(strstr(fix, "used none of the 4 pairs"));
    assert_non_null(world_find(&w, "privilege_slack", "Workflow::\"w4\""));
    world_close(&w);
}

static void test_workflow_slack(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_WORKFLOW, "w1", "alice", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "b1", "alice", "w1", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "b2", "alice", "w1", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "b3", "alice", "w1", NULL);
    world_now(&w);
    int64_t t = w.now - DAY;
    world_decision(&w, t, "b1", "read", "Doc::\"d\"", "allow", "none", NULL, "alice", "w1-docs");
    world_decision(&w, t, "b2", "read", "Doc::\"d\"", "allow", "none", NULL, "alice", "w1-docs");
    world_review(&w, 30 * DAY, NULL, false);
    json_t *f = world_find(&w, "privilege_slack", "Workflow::\"w1\"");
    assert_non_null(f);
    json_t *data = json_object_get(f, "data");
    assert_int_equal(json_array_size(json_object_get(data, "agents")), 3);
    assert_true(has_pair(pairs_of(f, "unused"), "Action::\"write\"", "Doc"));
    assert_true(has_pair(pairs_of(f, "unused"), "Action::\"publish\"", "Report"));
    assert_int_equal(json_array_size(pairs_of(f, "exercised")), 1);
    assert_int_equal(jint(f, "evidence_count"), 2);
    const char *fix = jstr(f, "fix");
    check_fix_validates(fix);
    assert_int_equal(count_policies(fix), 1);
    assert_non_null(strstr(fix, "principal is Agent in Workflow::\"w1\""));
    assert_non_null(strstr(fix, "action == Action::\"read\""));
    assert_non_null(world_find(&w, "privilege_slack", "Agent::\"b1\""));
    assert_non_null(world_find(&w, "privilege_slack", "Agent::\"b2\""));
    assert_null(world_find(&w, "privilege_slack", "Agent::\"b3\"")); /* no decision */
    /* Once the last pairs are used, neither the agents nor the workflow have slack left. */
    world_decision(&w, t + 1, "b3", "write", "Doc::\"d\"", "allow", "none", NULL, "alice",
                   "w1-docs");
    world_decision(&w, t + 2, "b3", "publish", "Report::\"r\"", "allow", "none", NULL, "alice",
                   "w1-publish");
    world_review(&w, 30 * DAY, NULL, false);
    assert_null(world_find(&w, "privilege_slack", "Workflow::\"w1\""));
    /* b3 never read: it still has slack of its own. */
    assert_non_null(world_find(&w, "privilege_slack", "Agent::\"b3\""));
    assert_non_null(world_find(&w, "privilege_slack", "Agent::\"b1\""));
    world_close(&w);
}

/* Without a schema the universe is what the window's agent decisions touched. */
static void test_no_schema(void **state)
{
    world w;
    world_open(&w, "permit (principal is Agent, action, resource);\n");
    mandate_diag d;
    assert_int_equal(mandate_registry_set_schema(w.r, NULL, 0, &d), 0);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a2", "alice", NULL, NULL);
    world_now(&w);
    int64_t t = w.now - DAY;
    world_decision(&w, t, "a1", "read", "Doc::\"d\"", "allow", "none", NULL, "alice", "policy0");
    world_decision(&w, t, "a2", "send", "Mail::\"m\"", "allow", "none", NULL, "alice", "policy0");
    world_review(&w, 30 * DAY, NULL, false);
    json_t *f = world_find(&w, "privilege_slack", "Agent::\"a1\"");
    assert_non_null(f);
    assert_true(has_pair(pairs_of(f, "unused"), "Action::\"send\"", "Mail"));
    assert_int_equal(json_array_size(pairs_of(f, "permitted")), 2);
    md_arena *a = md_arena_new();
    md_policyset *ps = NULL;
    const char *fix = jstr(f, "fix");
    md_diag pd = {0};
    assert_int_equal(md_policyset_parse(a, fix, strlen(fix), "fix", &ps, &pd), 0);
    assert_int_equal(ps->n, 1);
    md_arena_free(a);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_slack),
        cmocka_unit_test(test_workflow_slack),
        cmocka_unit_test(test_no_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
