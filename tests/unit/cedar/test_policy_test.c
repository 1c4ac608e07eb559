/*
 * test_policy_test.c: data-driven policy test cases (md_policy_test_run): passing cases pass,
 * and a case that expects another decision, other determining policies or other errors fails
 * with a message saying what differed; malformed cases fail alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"
#include "cedar/policy_test.h"

static const char policies[] =
    "@id(\"admins\") permit(principal in Group::\"admins\", action, resource);\n"
    "forbid(principal, action == Action::\"delete\", resource) unless { context.sure };\n"
    "permit(principal, action == Action::\"view\", resource) when { resource.public };\n";

static const char entities[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"ann\"}, \"attrs\": {}, \"parents\": "
    "[{\"type\": \"Group\", \"id\": \"admins\"}]},"
    " {\"uid\": {\"type\": \"User\", \"id\": \"bob\"}, \"attrs\": {}, \"parents\": []},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"d\"}, \"attrs\": {\"public\": true}, \"parents\": "
    "[]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"x\"}, \"attrs\": {}, \"parents\": []}]";

static md_ptest_outcome *run(md_arena *a, const char *cases_json, size_t *n)
{
    md_diag d = {0};
    md_policyset *ps = NULL;
    md_entities *es = NULL;
    json_t *ej = NULL, *cj = NULL;
    assert_int_equal(md_policyset_parse(a, policies, strlen(policies), NULL, &ps, &d), 0);
    assert_int_equal(md_json_parse(entities, strlen(entities), &ej, &d), 0);
    assert_int_equal(md_entities_from_json(a, ej, NULL, &es, &d), 0);
    if (md_json_parse(cases_json, strlen(cases_json), &cj, &d))
        fail_msg("bad cases JSON: %s", d.msg);
    md_ptest_outcome *out = NULL;
    assert_int_equal(md_policy_test_run(a, cj, ps, NULL, es, &out, n, &d), 0);
    json_decref(ej);
    json_decref(cj);
    return out;
}

static void test_passing(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    size_t n = 0;
    md_ptest_outcome *o =
        run(a,
            "[{\"name\": \"admin views\", \"principal\": \"User::\\\"ann\\\"\", \"action\": "
            "\"Action::\\\"view\\\"\", \"resource\": \"Doc::\\\"x\\\"\", \"decision\": \"allow\", "
            "\"reasons\": [\"admins\"]},"
            " {\"principal\": {\"type\": \"User\", \"id\": \"bob\"}, \"action\": {\"type\": "
            "\"Action\", \"id\": \"view\"}, \"resource\": {\"type\": \"Doc\", \"id\": \"d\"}, "
            "\"decision\": \"allow\", \"reasons\": [\"policy2\"], \"errors\": []},"
            " {\"principal\": \"User::\\\"bob\\\"\", \"action\": \"Action::\\\"view\\\"\", "
            "\"resource\": \"Doc::\\\"x\\\"\", \"decision\": \"deny\", \"errors\": [\"policy2\"]},"
            " {\"principal\": \"User::\\\"ann\\\"\", \"action\": \"Action::\\\"delete\\\"\", "
            "\"resource\": \"Doc::\\\"x\\\"\", \"context\": {\"sure\": false}, \"decision\": "
            "\"deny\", \"reason\": [\"policy1\"]}]",
            &n);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        if (!o[i].pass)
            fail_msg("case %zu failed: %s", i, o[i].detail);
    assert_string_equal(o[0].name, "admin views");
    assert_string_equal(o[1].name, "case 2");
    md_arena_free(a);
}

static void expect_fail(const char *cases, const char *want)
{
    md_arena *a = md_arena_new();
    size_t n = 0;
    md_ptest_outcome *o = run(a, cases, &n);
    assert_int_equal(n, 1);
    assert_false(o[0].pass);
    assert_non_null(o[0].detail);
    if (!strstr(o[0].detail, want))
        fail_msg("detail '%s' lacks '%s'", o[0].detail, want);
    md_arena_free(a);
}

#define REQ(p, act, r)                                                                             \
    "\"principal\": \"User::\\\"" p "\\\"\", \"action\": \"Action::\\\"" act                       \
    "\\\"\", \"resource\": \"Doc::\\\"" r "\\\"\""

static void test_failing(void **state)
{
    (void)state;
    expect_fail("[{" REQ("bob", "view", "x") ", \"decision\": \"allow\"}]",
                "decision: expected allow, got deny (policy errors: policy2: ");
    expect_fail("[{" REQ("ann", "view", "d") ", \"decision\": \"allow\", \"reasons\": "
                                             "[\"admins\"]}]",
                "reasons: expected [\"admins\"], got [\"policy0\",\"policy2\"]");
    expect_fail("[{" REQ("ann", "delete", "x") ", \"context\": {\"sure\": false}, "
                                               "\"decision\": \"allow\"}]",
                "decision: expected allow, got deny (determined by policy1)");
    expect_fail("[{" REQ("bob", "view", "x") ", \"decision\": \"deny\", \"errors\": []}]",
                "errors: expected [], got [\"policy2\"]");
    /* malformed cases */
    expect_fail("[{" REQ("bob", "view", "x") ", \"decision\": \"maybe\"}]",
                "\"decision\" should be \"allow\" or \"deny\"");
    expect_fail("[{" REQ("bob", "view", "x") ", \"decision\": \"deny\", \"reasonz\": []}]",
                "unknown field 'reasonz'");
    expect_fail("[{\"principal\": \"User:bob\", \"action\": \"Action::\\\"view\\\"\", "
                "\"resource\": \"Doc::\\\"x\\\"\", \"decision\": \"deny\"}]",
                "invalid request: principal: ");
    expect_fail("[{" REQ("bob", "view", "x") ", \"decision\": \"deny\", \"reasons\": [1]}]",
                "malformed case: reasons should hold policy ids");
    expect_fail("[7]", "the case should be an object");
}

static void test_not_array(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    md_diag d = {0};
    md_policyset *ps = NULL;
    md_entities *es = NULL;
    assert_int_equal(md_policyset_parse(a, policies, strlen(policies), NULL, &ps, &d), 0);
    assert_int_equal(md_entities_new(a, &es), 0);
    assert_int_equal(md_entities_seal(es, &d), 0);
    json_t *obj = json_object();
    md_ptest_outcome *o = NULL;
    size_t n = 0;
    assert_int_equal(md_policy_test_run(a, obj, ps, NULL, es, &o, &n, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "JSON array"));
    json_decref(obj);
    md_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passing),
        cmocka_unit_test(test_failing),
        cmocka_unit_test(test_not_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
