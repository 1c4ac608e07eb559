/*
 * test_policy_index.c: the policy set's action index (policy_index.c) and its use by the
 * authorizer: which policies are candidates for a request (action, principal type, resource
 * type), the MD_CANDIDATE_PLAIN mark, policies linked after indexing, and, for small and large
 * policy sets, the same decisions, reasons and errors with the index as without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "cedar/cedar_int.h"

typedef struct fx {
    md_arena *a;
    md_entities *es;
} fx;

static md_euid uid(const char *type, const char *id)
{
    return (md_euid){md_str_c(type), md_str_c(id)};
}

static void add(fx *f, md_euid u, const md_euid *parent)
{
    md_entity e = {.uid = u};
    if (parent) {
        md_euid *p = md_arena_array(f->a, 1, sizeof *p);
        assert_non_null(p);
        *p = *parent;
        e.parents = p;
        e.n_parents = 1;
    }
    assert_int_equal(md_entities_add(f->es, &e), 0);
}

/* Action::"read" in Action::"all"; Action::"write"; User::"alice" in Group::"staff". */
static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->a = md_arena_new();
    assert_non_null(f->a);
    assert_int_equal(md_entities_new(f->a, &f->es), 0);
    md_euid all = uid("Action", "all"), staff = uid("Group", "staff");
    add(f, all, NULL);
    add(f, uid("Action", "read"), &all);
    add(f, uid("Action", "write"), NULL);
    add(f, staff, NULL);
    add(f, uid("User", "alice"), &staff);
    md_diag d = {0};
    assert_int_equal(md_entities_seal(f->es, &d), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    md_arena_free(f->a);
    free(f);
    return 0;
}

static md_policyset *parse(fx *f, const char *text)
{
    md_policyset *ps = NULL;
    md_diag d = {0};
    if (md_policyset_parse(f->a, text, strlen(text), NULL, &ps, &d))
        fail_msg("parse: %s", d.msg);
    assert_non_null(ps->index);
    return ps;
}

static md_request req(const char *pt, const char *pid, const char *act, const char *rt,
                      const char *rid)
{
    md_request r = {
        .principal = uid(pt, pid), .action = uid("Action", act), .resource = uid(rt, rid)};
    r.context.kind = MD_V_RECORD;
    r.context.u.rec = md_record_empty();
    return r;
}

/* The candidates as a string "0p 1p 3 ..." (p: MD_CANDIDATE_PLAIN). */
static const char *candidates(fx *f, const md_policyset *ps, const md_request *r, char *buf,
                              size_t cap)
{
    const uint32_t *pos = NULL;
    size_t n = 0;
    const md_entity *act = md_entities_find(f->es, &r->action);
    assert_int_equal(md_policyset_candidates(f->a, ps, r, act, &pos, &n), 0);
    assert_true(n != SIZE_MAX);
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%u%s", i ? " " : "",
                              (unsigned)(pos[i] & ~MD_CANDIDATE_PLAIN),
                              pos[i] & MD_CANDIDATE_PLAIN ? "p" : "");
    return buf;
}

static const char *const small_set =
    "permit(principal, action, resource);\n"                               /* 0 */
    "permit(principal is User, action == Action::\"read\", resource);\n"   /* 1 */
    "permit(principal is Agent, action == Action::\"read\", resource);\n"  /* 2 */
    "permit(principal, action in Action::\"all\", resource is NS::Doc);\n" /* 3 */
    "permit(principal, action in [Action::\"write\", Action::\"all\"], resource is Other);\n"
    "forbid(principal == User::\"alice\", action == Action::\"write\", resource);\n" /* 5 */
    "forbid(principal == User::\"bob\", action, resource);\n"                        /* 6 */
    "permit(principal in ?principal, action == Action::\"read\", resource);\n";      /* template */

static void test_candidates(void **state)
{
    fx *f = *state;
    md_policyset *ps = parse(f, small_set);
    char buf[256];
    md_request r = req("User", "alice", "read", "NS::Doc", "d1");
    /* ruled out: 2 by the principal's type, 4 by the resource's, 5 by the action; 6 only by
     * the principal's id, which the index does not look at */
    assert_string_equal(candidates(f, ps, &r, buf, sizeof buf), "0p 1p 3p 6p");
    r = req("Agent", "x", "write", "Other", "o");
    assert_string_equal(candidates(f, ps, &r, buf, sizeof buf), "0p 4p");
    r = req("User", "bob", "write", "NS::Doc", "d1");
    assert_string_equal(candidates(f, ps, &r, buf, sizeof buf), "0p 5p 6p");
    /* an action missing from the store: only == and `in` itself */
    r = req("User", "alice", "nosuch", "NS::Doc", "d1");
    assert_string_equal(candidates(f, ps, &r, buf, sizeof buf), "0p 6p");
    /* a linked template comes after the indexed policies: always a candidate, never plain */
    md_euid staff = uid("Group", "staff");
    md_diag d = {0};
    assert_int_equal(
        md_policyset_link(f->a, ps, ps->templates[0]->id, MD_STR_LIT("l0"), &staff, NULL, &d), 0);
    assert_int_equal(ps->indexed, 7);
    r = req("Agent", "x", "write", "Other", "o");
    assert_string_equal(candidates(f, ps, &r, buf, sizeof buf), "0p 4p 7");
    /* and it is evaluated in full: its action scope does not hold for write, but does for read */
    md_response out;
    assert_int_equal(md_authorize(f->a, ps, &r, f->es, &out), 0);
    assert_int_equal(out.n_reasons, 2); /* 0 and 4 */
    r = req("User", "alice", "read", "NS::Doc", "d1");
    assert_int_equal(md_authorize(f->a, ps, &r, f->es, &out), 0);
    assert_true(out.allow);
    assert_int_equal(out.n_reasons, 4); /* 0, 1, 3 and the link l0 */
    assert_true(md_str_eq(out.reasons[3]->id, MD_STR_LIT("l0")));
}

/* The same response with and without the index, for every request of a small grid. */
static void check_same(fx *f, const md_policyset *ps, const md_request *r)
{
    md_policyset plain = *ps;
    plain.index = NULL;
    md_response x, y;
    assert_int_equal(md_authorize(f->a, ps, r, f->es, &x), 0);
    assert_int_equal(md_authorize(f->a, &plain, r, f->es, &y), 0);
    assert_int_equal(x.allow, y.allow);
    assert_int_equal(x.n_reasons, y.n_reasons);
    for (size_t i = 0; i < x.n_reasons; i++)
        assert_ptr_equal(x.reasons[i], y.reasons[i]);
    assert_int_equal(x.n_errors, y.n_errors);
    for (size_t i = 0; i < x.n_errors; i++) {
        assert_ptr_equal(x.errors[i].policy, y.errors[i].policy);
        assert_string_equal(x.errors[i].msg, y.errors[i].msg);
    }
}

static void check_grid(fx *f, const md_policyset *ps)
{
    static const char *const pt[] = {"User", "Agent", "Group"};
    static const char *const pid[] = {"alice", "bob"};
    static const char *const act[] = {"read", "write", "all", "nosuch"};
    static const char *const rt[] = {"NS::Doc", "Other"};
    for (size_t i = 0; i < MD_ARRAY_LEN(pt); i++)
        for (size_t j = 0; j < MD_ARRAY_LEN(pid); j++)
            for (size_t k = 0; k < MD_ARRAY_LEN(act); k++)
                for (size_t l = 0; l < MD_ARRAY_LEN(rt); l++) {
                    md_request r = req(pt[i], pid[j], act[k], rt[l], "d1");
                    check_same(f, ps, &r);
                }
}

static void test_same_as_unindexed_small(void **state)
{
    fx *f = *state;
    check_grid(f, parse(f, small_set));
    /* conditions that error must be reported the same way */
    check_grid(f, parse(f, "permit(principal is User, action in Action::\"all\", resource) "
                           "when { principal.missing };\n"
                           "forbid(principal, action == Action::\"write\", resource is Other) "
                           "when { resource.nope };"));
}

/* Over SMALL_WORDS * 64 policies the index merges position lists instead of bitmaps. */
static void test_same_as_unindexed_large(void **state)
{
    fx *f = *state;
    static const char *const shapes[] = {
        "permit(principal is User, action == Action::\"read\", resource);\n",
        "permit(principal, action in Action::\"all\", resource is NS::Doc);\n",
        "forbid(principal == User::\"bob\", action, resource);\n",
        "permit(principal is Agent, action in [Action::\"write\"], resource);\n",
        "permit(principal in Group::\"staff\", action == Action::\"write\", resource);\n",
    };
    md_buf b;
    md_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < 1500; i++)
        assert_int_equal(md_buf_append(&b, shapes[i % MD_ARRAY_LEN(shapes)],
                                       strlen(shapes[i % MD_ARRAY_LEN(shapes)])),
                         0);
    md_policyset *ps = parse(f, b.data);
    md_buf_release(&b);
    assert_int_equal(ps->n, 1500);
    md_request r = req("User", "bob", "nosuch", "Other", "o");
    /* only the forbids on bob: positions 2, 7, ... */
    const uint32_t *pos = NULL;
    size_t n = 0;
    assert_int_equal(md_policyset_candidates(f->a, ps, &r, NULL, &pos, &n), 0);
    assert_int_equal(n, 300);
    assert_int_equal(pos[1], 7u | MD_CANDIDATE_PLAIN);
    check_grid(f, ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_candidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_as_unindexed_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_as_unindexed_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
