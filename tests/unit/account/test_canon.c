/*
 * test_canon.c: the canonical request: key order and whitespace do not change the digest, any
 * value change does; uids are canonicalised; floats, duplicate keys, "mandate" and deep nesting
 * are refused. Also the obligations read from annotations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "account/account_int.h"

static void digest_of(const char *p, const char *ctx, char out[65])
{
    mandate_diag d = {0};
    int rc =
        mandate_request_canonical(p, "Action::\"send\"", "Ticket::\"T-1\"", ctx, NULL, out, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.message);
    assert_int_equal(rc, 0);
}

static void order_and_whitespace(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    digest_of("Agent::\"x\"", "{\"a\":1,\"b\":{\"y\":[1,2],\"x\":\"s\"}}", a);
    digest_of("Agent::\"x\"", " {\n\"b\" : { \"x\":\"s\",\t\"y\" : [ 1 , 2 ] } ,\"a\":1 }", b);
    digest_of(" Agent :: \"x\" ", "{\"b\":{\"x\":\"s\",\"y\":[1,2]},\"a\":1}", c);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    char *canon = NULL;
    mandate_diag d = {0};
    assert_int_equal(mandate_request_canonical("Agent::\"x\"", "Action::\"send\"",
                                               "Ticket::\"T-1\"", "{\"b\":true, \"a\":\"\\u00e9\"}",
                                               &canon, a, &d),
                     0);
    assert_string_equal(canon,
                        "[\"mandate.request.v1\",\"Agent::\\\"x\\\"\",\"Action::\\\"send\\\"\","
                        "\"Ticket::\\\"T-1\\\"\",{\"a\":\"\xc3\xa9\",\"b\":true}]");
    free(canon);
}

static void any_value_change(void **state)
{
    (void)state;
    const char *base = "{\"a\":1,\"b\":{\"y\":[1,2],\"x\":\"s\"}}";
    const char *changed[] = {
        "{\"a\":2,\"b\":{\"y\":[1,2],\"x\":\"s\"}}",
        "{\"a\":1,\"b\":{\"y\":[2,1],\"x\":\"s\"}}",
        "{\"a\":1,\"b\":{\"y\":[1,2],\"x\":\"S\"}}",
        "{\"a\":1,\"b\":{\"y\":[1,2],\"x\":\"s \"}}",
        "{\"a\":\"1\",\"b\":{\"y\":[1,2],\"x\":\"s\"}}",
        "{\"a\":1,\"b\":{\"y\":[1,2],\"x\":\"s\"},\"c\":null}",
        "{\"a\":1,\"b\":{\"y\":[1,2]}}",
        "{\"A\":1,\"b\":{\"y\":[1,2],\"x\":\"s\"}}",
        "{\"a\":1,\"b\":{\"y\":[1,2,2],\"x\":\"s\"}}",
        "{\"a\":true,\"b\":{\"y\":[1,2],\"x\":\"s\"}}",
    };
    char d0[65], d1[65];
    digest_of("Agent::\"x\"", base, d0);
    for (size_t i = 0; i < sizeof changed / sizeof *changed; i++) {
        digest_of("Agent::\"x\"", changed[i], d1);
        assert_string_not_equal(d0, d1);
    }
    digest_of("Agent::\"y\"", base, d1);
    assert_string_not_equal(d0, d1);
    mandate_diag d = {0};
    assert_int_equal(mandate_request_canonical("Agent::\"x\"", "Action::\"send\"",
                                               "Ticket::\"T-2\"", base, NULL, d1, &d),
                     0);
    assert_string_not_equal(d0, d1);
}

static void refused(void **state)
{
    (void)state;
    char h[65];
    mandate_diag d = {0};
    const char *bad[] = {"{\"a\":1.5}", "{\"a\":1,\"a\":2}", "{\"mandate\":{}}", "[1]",
                         "{",           "{\"a\":1e3}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_true(mandate_request_canonical("Agent::\"x\"", "Action::\"send\"", "Ticket::\"T-1\"",
                                              bad[i], NULL, h, &d) < 0);
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n] = 0;
    char ctx[420];
    snprintf(ctx, sizeof ctx, "{\"a\":%s}", deep);
    assert_int_equal(mandate_request_canonical("Agent::\"x\"", "Action::\"send\"",
                                               "Ticket::\"T-1\"", ctx, NULL, h, &d),
                     MANDATE_ETOOBIG);
    assert_true(mandate_request_canonical("Agent x", "Action::\"send\"", "Ticket::\"T-1\"", "{}",
                                          NULL, h, &d) < 0);
}

static const md_policyset *parse(md_arena *a, const char *text)
{
    md_policyset *ps = NULL;
    md_diag d = {0};
    assert_int_equal(md_policyset_parse(a, text, strlen(text), NULL, &ps, &d), 0);
    return ps;
}

static void obligations(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    const md_policyset *ps = parse(
        a,
        "@impact(\"customer, production\") @approval(\"required\") @approvers(\"Group::\\\"a\\\"\")"
        " permit(principal, action, resource);"
        "@approval(\"decided\") @approvers(\"Group::\\\"b\\\"\") @separation(\"delegator\")"
        " permit(principal, action, resource);"
        "@approval(\"verified\") forbid(principal, action, resource);");
    md_obligations ob;
    md_diag d = {0};
    assert_int_equal(
        md_obligations_from_policies(a, (const md_policy *const *)ps->policies, 3, &ob, &d), 0);
    assert_string_equal(ob.approval, "decided");
    assert_int_equal(ob.n_approvers, 2);
    assert_true(ob.sep_delegator);
    assert_false(ob.sep_owner);
    assert_int_equal(ob.n_impacts, 2);
    assert_string_equal(ob.impacts[0], "customer");
    const char *bad[] = {
        "@impact(\"cosmic\") permit(principal, action, resource);",
        "@approval(\"maybe\") @approvers(\"Group::\\\"a\\\"\") permit(principal, action, "
        "resource);",
        "@approval(\"verified\") permit(principal, action, resource);",
        "@approval(\"required\") @approvers(\"not a uid\") permit(principal, action, resource);",
        "@approval(\"verified\") @approvers(\"G::\\\"a\\\"\") permit(principal, action, resource);"
        "@approval(\"decided\") @approvers(\"G::\\\"a\\\"\") permit(principal, action, resource);",
        "@separation(\"everyone\") permit(principal, action, resource);",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const md_policyset *b = parse(a, bad[i]);
        md_diag_clear(&d);
        assert_int_equal(
            md_obligations_from_policies(a, (const md_policy *const *)b->policies, b->n, &ob, &d),
            MANDATE_EINVAL);
    }
    md_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_and_whitespace),
        cmocka_unit_test(any_value_change),
        cmocka_unit_test(refused),
        cmocka_unit_test(obligations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
