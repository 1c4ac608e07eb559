/*
 * test_eval.c: the Cedar evaluator (eval.c): every operator's value and error behaviour, the
 * short-circuits, policy scopes and conditions, slots, deep and long expressions.
 *
 * Most cases are a table of (expression text, expected value text or error) parsed with
 * md_expr_parse and evaluated against a small entity store; cases the parser cannot express
 * (slots, chains longer than the parser's depth cap, hand-made patterns) build the AST by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <time.h>

#include "cedar/cedar_int.h"
#include "cedar/eval.h"

/* ---- fixture: an entity store and a request ---- */

typedef struct fx {
    md_arena *a;       /* store, request, ASTs */
    md_arena *scratch; /* evaluation scratch */
    md_entities *es;
    md_request req;
} fx;

static md_euid uid(const char *type, const char *id)
{
    return (md_euid){md_str_c(type), md_str_c(id)};
}

static md_value vlong(int64_t i)
{
    md_value v = {.kind = MD_V_LONG};
    v.u.i = i;
    return v;
}

static md_value vstr(const char *s)
{
    md_value v = {.kind = MD_V_STRING};
    v.u.s = md_str_c(s);
    return v;
}

static md_value vbool(bool b)
{
    md_value v = {.kind = MD_V_BOOL};
    v.u.b = b;
    return v;
}

static md_value vent(const char *type, const char *id)
{
    md_value v = {.kind = MD_V_ENTITY};
    v.u.uid = uid(type, id);
    return v;
}

static const md_record *rec(md_arena *a, size_t n, const md_field *f)
{
    const md_record *r = NULL;
    assert_int_equal(md_record_new(a, f, n, &r, NULL), 0);
    return r;
}

static void add_entity(fx *f, md_euid u, const md_record *attrs, const md_record *tags,
                       size_t n_parents, const md_euid *parents)
{
    md_entity e = {0};
    e.uid = u;
    e.attrs = attrs ? attrs : md_record_empty();
    e.tags = tags ? tags : md_record_empty();
    if (n_parents) {
        md_euid *p = md_arena_array(f->a, n_parents, sizeof *p);
        assert_non_null(p);
        memcpy(p, parents, n_parents * sizeof *p);
        e.parents = p;
        e.n_parents = n_parents;
    }
    assert_int_equal(md_entities_add(f->es, &e), 0);
}

/*
 * Store:
 *   User::"alice"  {age: 30, name: "alice", manager: User::"bob", tags: ["a","b"],
 *                   addr: {city: "Paris", zip: "75001"}}  tags {team: "red", level: 3}
 *                  in Group::"admins"
 *   User::"bob"    {} in Group::"staff"
 *   Group::"admins" in Group::"staff";  Group::"staff" (no parents)
 *   NS::Doc::"d1"  {owner: User::"alice", public: false, team: Group::"staff"}
 *   Action::"read" in Action::"all";  Action::"all"
 * Request: User::"alice" / Action::"read" / NS::Doc::"d1",
 *   context {n: 3, s: "hello", flag: true, big: 2^63-1, small: -2^63, list: [1,2,3],
 *            rec: {x: 1}, ent: User::"bob", ghost: User::"ghost"}
 */
static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->a = md_arena_new();
    f->scratch = md_arena_new();
    assert_non_null(f->a);
    assert_non_null(f->scratch);
    assert_int_equal(md_entities_new(f->a, &f->es), 0);

    md_value tagvals[2] = {vstr("a"), vstr("b")};
    const md_set *tagset = NULL;
    assert_int_equal(md_set_new(f->a, tagvals, 2, &tagset), 0);
    md_value tagsv = {.kind = MD_V_SET};
    tagsv.u.set = tagset;
    md_field addr_f[] = {{MD_STR_LIT("city"), vstr("Paris")}, {MD_STR_LIT("zip"), vstr("75001")}};
    md_value addrv = {.kind = MD_V_RECORD};
    addrv.u.rec = rec(f->a, 2, addr_f);
    md_field alice_f[] = {
        {MD_STR_LIT("age"), vlong(30)},
        {MD_STR_LIT("name"), vstr("alice")},
        {MD_STR_LIT("manager"), vent("User", "bob")},
        {MD_STR_LIT("tags"), tagsv},
        {MD_STR_LIT("addr"), addrv},
    };
    md_field alice_t[] = {{MD_STR_LIT("team"), vstr("red")}, {MD_STR_LIT("level"), vlong(3)}};
    md_euid admins = uid("Group", "admins"), staff = uid("Group", "staff");
    add_entity(f, uid("User", "alice"), rec(f->a, 5, alice_f), rec(f->a, 2, alice_t), 1, &admins);
    add_entity(f, uid("User", "bob"), NULL, NULL, 1, &staff);
    add_entity(f, admins, NULL, NULL, 1, &staff);
    add_entity(f, staff, NULL, NULL, 0, NULL);
    md_field doc_f[] = {{MD_STR_LIT("owner"), vent("User", "alice")},
                        {MD_STR_LIT("public"), vbool(false)},
                        {MD_STR_LIT("team"), vent("Group", "staff")}};
    add_entity(f, uid("NS::Doc", "d1"), rec(f->a, 3, doc_f), NULL, 0, NULL);
    md_euid all = uid("Action", "all");
    add_entity(f, uid("Action", "read"), NULL, NULL, 1, &all);
    add_entity(f, all, NULL, NULL, 0, NULL);
    md_diag d = {0};
    assert_int_equal(md_entities_seal(f->es, &d), 0);

    md_value l3[3] = {vlong(1), vlong(2), vlong(3)};
    const md_set *list = NULL;
    assert_int_equal(md_set_new(f->a, l3, 3, &list), 0);
    md_value listv = {.kind = MD_V_SET};
    listv.u.set = list;
    md_field x_f[] = {{MD_STR_LIT("x"), vlong(1)}};
    md_value recv = {.kind = MD_V_RECORD};
    recv.u.rec = rec(f->a, 1, x_f);
    md_field ctx_f[] = {
        {MD_STR_LIT("n"), vlong(3)},
        {MD_STR_LIT("s"), vstr("hello")},
        {MD_STR_LIT("flag"), vbool(true)},
        {MD_STR_LIT("big"), vlong(INT64_MAX)},
        {MD_STR_LIT("small"), vlong(INT64_MIN)},
        {MD_STR_LIT("list"), listv},
        {MD_STR_LIT("rec"), recv},
        {MD_STR_LIT("ent"), vent("User", "bob")},
        {MD_STR_LIT("ghost"), vent("User", "ghost")},
    };
    f->req.principal = uid("User", "alice");
    f->req.action = uid("Action", "read");
    f->req.resource = uid("NS::Doc", "d1");
    f->req.context.kind = MD_V_RECORD;
    f->req.context.u.rec = rec(f->a, MD_ARRAY_LEN(ctx_f), ctx_f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    md_arena_free(f->scratch);
    md_arena_free(f->a);
    free(f);
    return 0;
}

/* ---- hand-built ASTs ---- */

static md_arena *ast_arena;

static md_expr *mk(md_op op)
{
    md_expr *e = md_arena_alloc(ast_arena, sizeof *e);
    assert_non_null(e);
    e->op = op;
    e->line = e->col = 1;
    return e;
}

static const md_expr *lit(md_value v)
{
    md_expr *e = mk(MD_E_LIT);
    e->u.lit = v;
    return e;
}

static const md_expr *bin(md_op op, const md_expr *a, const md_expr *b)
{
    md_expr *e = mk(op);
    e->u.k.a = a;
    e->u.k.b = b;
    return e;
}

static const md_expr *un(md_op op, const md_expr *a)
{
    return bin(op, a, NULL);
}

static const md_expr *var(md_var v)
{
    md_expr *e = mk(MD_E_VAR);
    e->u.var = v;
    return e;
}

static const md_expr *getattr(const md_expr *a, const char *name)
{
    md_expr *e = mk(MD_E_GET_ATTR);
    e->u.attr.a = a;
    e->u.attr.name = md_str_c(name);
    return e;
}

/* ---- evaluation helpers ---- */

static int eval_ast(fx *f, const md_expr *e, const md_policy *p, md_value *out, md_diag *d)
{
    md_diag_clear(d);
    md_arena_reset(f->scratch);
    return md_eval_expr(e, &f->req, f->es, p, f->scratch, out, d);
}

static void expect_bool_ast(fx *f, const md_expr *e, bool want)
{
    md_value v;
    md_diag d;
    int rc = eval_ast(f, e, NULL, &v, &d);
    if (rc)
        fail_msg("unexpected error %d: %s", rc, d.msg);
    assert_int_equal(v.kind, MD_V_BOOL);
    assert_int_equal(v.u.b, want);
}

static void expect_err_ast(fx *f, const md_expr *e, int code)
{
    md_value v;
    md_diag d;
    int rc = eval_ast(f, e, NULL, &v, &d);
    assert_int_equal(rc, code);
    assert_int_equal(d.code, code);
    assert_true(d.msg[0] != '\0');
}

/* ---- tests with hand-built ASTs ---- */

static void test_and_or_short_circuit_ast(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    const md_expr *t = lit(vbool(true)), *F = lit(vbool(false)), *one = lit(vlong(1));
    expect_bool_ast(f, bin(MD_E_AND, F, one), false);
    expect_bool_ast(f, bin(MD_E_OR, t, one), true);
    expect_err_ast(f, bin(MD_E_AND, t, one), MANDATE_EEVAL);
    expect_err_ast(f, bin(MD_E_OR, F, one), MANDATE_EEVAL);
    expect_err_ast(f, bin(MD_E_AND, one, F), MANDATE_EEVAL);
    expect_err_ast(f, bin(MD_E_OR, one, t), MANDATE_EEVAL);
    expect_bool_ast(f, bin(MD_E_AND, t, t), true);
    expect_bool_ast(f, bin(MD_E_OR, F, F), false);
}

/* Left-deep (as the parser builds `a && b && c`) and right-deep chains far longer than the
 * parser's depth cap: no stack overflow, short-circuit at the first false/true. */
static void test_long_chains(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    const md_expr *t = lit(vbool(true)), *F = lit(vbool(false)), *one = lit(vlong(1));
    for (int op = 0; op < 2; op++) {
        md_op o = op ? MD_E_OR : MD_E_AND;
        const md_expr *unit = op ? F : t; /* does not stop the chain */
        const md_expr *stop = op ? t : F; /* stops the chain */
        const md_expr *left = unit, *right = unit;
        for (int i = 0; i < 20000; i++) {
            left = bin(o, left, unit);
            right = bin(o, unit, right);
        }
        expect_bool_ast(f, left, op == 1 ? false : true);
        expect_bool_ast(f, right, op == 1 ? false : true);
        /* stop in the middle, then an ill-typed operand that must not be evaluated */
        left = unit;
        right = one;
        for (int i = 0; i < 20000; i++) {
            left = bin(o, left, i == 10000 ? stop : i > 10000 ? one : unit);
            right = bin(o, i == 9999 ? stop : i < 9999 ? one : unit, right);
        }
        expect_bool_ast(f, left, op == 1);
        expect_bool_ast(f, right, op == 1);
        /* an ill-typed operand before the stop is an error */
        left = unit;
        for (int i = 0; i < 20000; i++)
            left = bin(o, left, i == 5000 ? one : i == 15000 ? stop : unit);
        expect_err_ast(f, left, MANDATE_EEVAL);
    }
}

static void test_depth_guard(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    const md_expr *e = lit(vbool(true));
    for (int i = 0; i < 100000; i++)
        e = un(MD_E_NOT, e);
    expect_err_ast(f, e, MANDATE_ETOOBIG);
    e = lit(vbool(true));
    for (int i = 0; i < 1000; i++)
        e = un(MD_E_NOT, e);
    expect_bool_ast(f, e, true);
}

static void test_slots_ast(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    md_expr *sp = mk(MD_E_SLOT);
    sp->u.slot = MD_SLOT_PRINCIPAL;
    md_expr *sr = mk(MD_E_SLOT);
    sr->u.slot = MD_SLOT_RESOURCE;
    md_policy p = {0};
    p.has_principal_slot = true;
    p.principal_slot = uid("User", "alice");
    md_value v;
    md_diag d;
    assert_int_equal(eval_ast(f, bin(MD_E_EQ, sp, var(MD_VAR_PRINCIPAL)), &p, &v, &d), 0);
    assert_true(v.kind == MD_V_BOOL && v.u.b);
    /* an unlinked slot is an error, not a crash */
    assert_int_equal(eval_ast(f, sr, &p, &v, &d), MANDATE_EEVAL);
    assert_int_equal(eval_ast(f, sp, NULL, &v, &d), MANDATE_EEVAL);
    p.has_resource_slot = true;
    p.resource_slot = uid("NS::Doc", "d1");
    assert_int_equal(eval_ast(f, bin(MD_E_EQ, sr, var(MD_VAR_RESOURCE)), &p, &v, &d), 0);
    assert_true(v.kind == MD_V_BOOL && v.u.b);
}

static const md_expr *like(const md_expr *a, size_t n, const md_pat_elem *elems)
{
    md_expr *e = mk(MD_E_LIKE);
    e->u.like.a = a;
    e->u.like.pat.n = n;
    e->u.like.pat.elems = elems;
    return e;
}

static void test_like_ast(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    static const md_pat_elem star = {true, {"", 0}};
    /* consecutive stars, empty literal runs and split literals are all legal patterns */
    md_pat_elem p1[] = {
        {false, MD_STR_LIT("he")}, {false, MD_STR_LIT("")}, {false, MD_STR_LIT("l")}, star, star,
        {false, MD_STR_LIT("o")}};
    expect_bool_ast(f, like(lit(vstr("hello")), 6, p1), true);
    expect_bool_ast(f, like(lit(vstr("helo")), 6, p1), true);
    expect_bool_ast(f, like(lit(vstr("hel")), 6, p1), false);
    expect_bool_ast(f, like(lit(vstr("")), 0, NULL), true);
    expect_bool_ast(f, like(lit(vstr("x")), 0, NULL), false);
    md_pat_elem p2[] = {star};
    expect_bool_ast(f, like(lit(vstr("")), 1, p2), true);
    /* pathological for backtracking matchers: must be fast */
    enum { N = 20000 };
    char *text = md_arena_alloc(f->a, N + 1);
    memset(text, 'a', N);
    md_pat_elem bad[41];
    for (int i = 0; i < 41; i++)
        bad[i] = (i % 2) ? (md_pat_elem){false, MD_STR_LIT("a")} : star;
    bad[39] = (md_pat_elem){false, MD_STR_LIT("b")};
    clock_t t0 = clock();
    expect_bool_ast(f, like(lit(vstr(text)), 41, bad), false);
    expect_bool_ast(f, like(lit(vstr(text)), 39, bad), true);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
    expect_err_ast(f, like(lit(vlong(1)), 1, p2), MANDATE_EEVAL);
}

/* ---- tables of parsed expressions ---- */

#define ERR NULL /* the expression must raise an evaluation error */

typedef struct ecase {
    const char *expr;
    const char *want; /* Cedar text of the expected value, or ERR */
} ecase;

static const ecase cases[] = {
    /* literals and variables */
    {"true", "true"},
    {"-42", "-42"},
    {"\"a\\tb\"", "\"a\\tb\""},
    {"principal", "User::\"alice\""},
    {"action", "Action::\"read\""},
    {"resource", "NS::Doc::\"d1\""},
    {"context.n", "3"},
    {"context", "context"},
    /* if */
    {"if true then 1 else 2", "1"},
    {"if false then 1 else 2", "2"},
    {"if 1 then 1 else 2", ERR},
    {"if \"true\" then 1 else 2", ERR},
    {"if true then 1 else 1 + \"a\"", "1"},
    {"if false then context.nope else 0", "0"},
    {"if context.flag then context.nope else 0", ERR},
    /* && and || */
    {"true && false", "false"},
    {"true && true", "true"},
    {"false && (1 + \"a\" == 2)", "false"},
    {"false && 1", "false"},
    {"true && 1", ERR},
    {"1 && true", ERR},
    {"1 && false", ERR},
    {"true || 1", "true"},
    {"false || 1", ERR},
    {"1 || true", ERR},
    {"false || false", "false"},
    {"true || context.nope", "true"},
    {"context.flag && context.n == 3 && principal.age > 18", "true"},
    {"true && true && true && 7", ERR},
    {"true && false && 7", "false"},
    {"false || false || true || 7", "true"},
    {"(true && false) || (false || true)", "true"},
    /* ! and unary - */
    {"!true", "false"},
    {"!!false", "false"},
    {"!1", ERR},
    {"!\"\"", ERR},
    {"-(3)", "-3"},
    {"-context.n", "-3"},
    {"-context.big", "-9223372036854775807"},
    {"-context.small", ERR},
    {"-(\"a\")", ERR},
    {"-9223372036854775808", "context.small"},
    /* == and != */
    {"1 == 1", "true"},
    {"1 == 2", "false"},
    {"1 == \"1\"", "false"},
    {"true == 1", "false"},
    {"\"ab\" == \"ab\"", "true"},
    {"[1, 2] == [2, 1, 1]", "true"},
    {"[1, 2] == [1, 2, 3]", "false"},
    {"{a: 1, b: 2} == {b: 2, a: 1}", "true"},
    {"{a: 1} == {a: 1, b: 2}", "false"},
    {"{a: 1} == {a: true}", "false"},
    {"principal == User::\"alice\"", "true"},
    {"User::\"alice\" == NS::User::\"alice\"", "false"},
    {"User::\"alice\" == \"alice\"", "false"},
    {"context.ghost == User::\"ghost\"", "true"},
    {"1 != 2", "true"},
    {"1 != 1", "false"},
    {"1 != true", "true"},
    {"[context.rec] == [{x: 1}]", "true"},
    {"(1 + \"a\") == 1", ERR},
    {"1 == context.nope", ERR},
    /* < <= > >= */
    {"1 < 2", "true"},
    {"2 < 1", "false"},
    {"2 <= 2", "true"},
    {"3 <= 2", "false"},
    {"3 > 2", "true"},
    {"2 > 2", "false"},
    {"2 >= 3", "false"},
    {"3 >= 3", "true"},
    {"-5 < context.small", "false"},
    {"1 < \"a\"", ERR},
    {"\"a\" < \"b\"", ERR},
    {"true < false", ERR},
    {"[1] <= [2]", ERR},
    {"principal > principal", ERR},
    /* + - * */
    {"1 + 2", "3"},
    {"5 - 7", "-2"},
    {"6 * 7", "42"},
    {"-3 * 3", "-9"},
    {"context.big + 0", "9223372036854775807"},
    {"context.big + 1", ERR},
    {"context.small - 1", ERR},
    {"context.small + -1", ERR},
    {"context.big - -1", ERR},
    {"context.big * 2", ERR},
    {"context.small * -1", ERR},
    {"-1 * context.big", "-9223372036854775807"},
    {"context.small + context.big", "-1"},
    {"1 + \"a\"", ERR},
    {"\"a\" + \"b\"", ERR},
    {"true - 1", ERR},
    {"2 * [1]", ERR},
    /* in */
    {"principal in Group::\"admins\"", "true"},
    {"principal in Group::\"staff\"", "true"},
    {"principal in principal", "true"},
    {"User::\"bob\" in Group::\"admins\"", "false"},
    {"Group::\"staff\" in Group::\"admins\"", "false"},
    {"principal in [Group::\"x\", Group::\"admins\"]", "true"},
    {"principal in [Group::\"x\", Group::\"y\"]", "false"},
    {"principal in []", "false"},
    {"principal in [Group::\"admins\", 1]", ERR},
    {"principal in [1]", ERR},
    {"principal in 1", ERR},
    {"principal in \"Group::admins\"", ERR},
    {"principal in {a: Group::\"admins\"}", ERR},
    {"1 in Group::\"staff\"", ERR},
    {"[principal] in [Group::\"staff\"]", ERR},
    {"User::\"ghost\" in User::\"ghost\"", "true"},
    {"User::\"ghost\" in Group::\"staff\"", "false"},
    {"action in Action::\"all\"", "true"},
    {"action in [Action::\"all\"]", "true"},
    {"resource.owner in Group::\"admins\"", "true"},
    /* contains, containsAll, containsAny */
    {"[1, 2, 3].contains(2)", "true"},
    {"[1, 2, 3].contains(\"2\")", "false"},
    {"[].contains(1)", "false"},
    {"context.list.contains(3)", "true"},
    {"[[1]].contains([1])", "true"},
    {"[{a: 1}].contains({a: 1})", "true"},
    {"[principal].contains(User::\"alice\")", "true"},
    {"context.n.contains(1)", ERR},
    {"\"abc\".contains(\"a\")", ERR},
    {"[1, 2, 3].containsAll([1, 3])", "true"},
    {"[1].containsAll([1, 2])", "false"},
    {"[1].containsAll([])", "true"},
    {"[].containsAll([])", "true"},
    {"[1, 2].containsAll(1)", ERR},
    {"1.containsAll([1])", ERR},
    {"[1, 2].containsAny([5, 2])", "true"},
    {"[1, 2].containsAny([5, 6])", "false"},
    {"[1, 2].containsAny([])", "false"},
    {"[].containsAny([1])", "false"},
    {"[1, 2].containsAny(2)", ERR},
    {"context.rec.containsAny([1])", ERR},
    /* isEmpty */
    {"[].isEmpty()", "true"},
    {"[1].isEmpty()", "false"},
    {"context.list.isEmpty()", "false"},
    {"\"\".isEmpty()", ERR},
    {"context.rec.isEmpty()", ERR},
    /* has */
    {"principal has age", "true"},
    {"principal has nope", "false"},
    {"principal has \"age\"", "true"},
    {"context has n", "true"},
    {"context has nope", "false"},
    {"context.ghost has x", "false"},
    {"User::\"bob\" has age", "false"},
    {"context.n has x", ERR},
    {"context.s has x", ERR},
    {"context.list has x", ERR},
    {"context.rec has x", "true"},
    {"{a: 1} has a", "true"},
    {"{a: 1} has b", "false"},
    {"principal has addr.city", "true"},
    {"principal has addr.country", "false"},
    {"principal has nope.city", "false"},
    /* attribute access */
    {"principal.age", "30"},
    {"principal[\"age\"]", "30"},
    {"principal.nope", ERR},
    {"User::\"bob\".age", ERR},
    {"context.ghost.x", ERR},
    {"context.n.x", ERR},
    {"context.list.x", ERR},
    {"context.rec.x", "1"},
    {"context.rec.y", ERR},
    {"resource.owner.age", "30"},
    {"principal.addr.city", "\"Paris\""},
    {"principal.addr[\"zip\"]", "\"75001\""},
    {"principal.manager in Group::\"staff\"", "true"},
    /* targets read from stored entities share their entity's strings (compared by entry) */
    {"principal in resource.owner", "true"},
    {"User::\"bob\" in resource.owner", "false"},
    {"principal in principal.manager", "false"},
    {"principal.manager in principal.manager", "true"},
    {"principal in resource.team", "true"},
    {"User::\"bob\" in resource.team", "true"},
    {"Group::\"staff\" in resource.team", "true"},
    {"Group::\"admins\" in resource.team", "true"},
    {"User::\"ghost\" in resource.team", "false"},
    {"resource in resource.team", "false"},
    {"resource.team in Group::\"staff\"", "true"},
    {"resource.team in principal", "false"},
    {"principal in [User::\"bob\", resource.team]", "true"},
    {"principal.manager in [resource.owner]", "false"},
    {"principal.manager.nope", ERR},
    {"{a: {b: 2}}.a.b", "2"},
    {"principal.tags", "[\"b\", \"a\"]"},
    /* hasTag, getTag */
    {"principal.hasTag(\"team\")", "true"},
    {"principal.hasTag(\"x\")", "false"},
    {"principal.hasTag(\"age\")", "false"},
    {"context.ghost.hasTag(\"team\")", "false"},
    {"principal.getTag(\"team\")", "\"red\""},
    {"principal.getTag(\"level\") + 1", "4"},
    {"principal.getTag(\"x\")", ERR},
    {"principal.getTag(\"age\")", ERR},
    {"User::\"bob\".getTag(\"team\")", ERR},
    {"context.ghost.getTag(\"team\")", ERR},
    {"principal.hasTag(1)", ERR},
    {"principal.getTag(principal)", ERR},
    {"context.rec.hasTag(\"x\")", ERR},
    {"context.rec.getTag(\"x\")", ERR},
    /* like */
    {"\"hello\" like \"h*o\"", "true"},
    {"\"hello\" like \"h*x\"", "false"},
    {"\"hello\" like \"hello\"", "true"},
    {"\"hello\" like \"hell\"", "false"},
    {"\"hello\" like \"*\"", "true"},
    {"\"\" like \"*\"", "true"},
    {"\"\" like \"\"", "true"},
    {"\"a*b\" like \"a\\*b\"", "true"},
    {"\"axb\" like \"a\\*b\"", "false"},
    {"\"abcabc\" like \"*abc\"", "true"},
    {"\"abcab\" like \"*abc\"", "false"},
    {"\"ab\" like \"a**b\"", "true"},
    {"\"h\\u{e9}llo\" like \"h*llo\"", "true"},
    {"\"h\\u{e9}llo\" like \"h\\u{e9}*\"", "true"},
    {"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" like "
     "\"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\"",
     "false"},
    {"1 like \"*\"", ERR},
    {"principal like \"*\"", ERR},
    /* is */
    {"principal is User", "true"},
    {"principal is Group", "false"},
    {"resource is NS::Doc", "true"},
    {"resource is Doc", "false"},
    {"1 is User", ERR},
    {"context is User", ERR},
    {"principal is User in Group::\"staff\"", "true"},
    {"principal is User in Group::\"other\"", "false"},
    {"principal is Group in Group::\"staff\"", "false"},
    {"principal is Group in 1", "false"},
    {"principal is User in 1", ERR},
    {"principal is User in [Group::\"x\", Group::\"admins\"]", "true"},
    {"1 is User in Group::\"staff\"", ERR},
    /* set and record literals */
    {"[1, 1, 2] == [2, 1]", "true"},
    {"[principal, context.n]", "[3, User::\"alice\"]"},
    {"[1, 1 + \"a\"]", ERR},
    {"[context.nope]", ERR},
    {"{a: 1 + \"a\"}", ERR},
    {"{a: principal.age}.a", "30"},
    {"{a: 1, b: [true]}", "{b: [true], a: 1}"},
    {"{}", "{}"},
    /* extension functions */
    {"decimal(\"1.23\").lessThan(decimal(\"2.0\"))", "true"},
    {"decimal(\"1.0\") == decimal(\"1.0000\")", "true"},
    {"decimal(\"x\")", ERR},
    {"decimal(1 + \"a\")", ERR},
    {"ip(\"10.0.0.1\").isInRange(ip(\"10.0.0.0/8\"))", "true"},
    {"ip(context.s)", ERR},
    {"decimal(\"1.0\") < decimal(\"2.0\")", ERR},
    {"datetime(\"2024-01-01\") < datetime(\"2024-01-02\")", "true"},
    {"datetime(\"2024-01-02\") <= datetime(\"2024-01-02\")", "true"},
    {"datetime(\"2024-01-01\") > datetime(\"2024-01-02\")", "false"},
    {"duration(\"1h\") > duration(\"59m\")", "true"},
    {"duration(\"1h\") >= duration(\"60m\")", "true"},
    {"duration(\"1h\") < datetime(\"2024-01-01\")", ERR},
    {"1 < duration(\"1h\")", ERR},
    {"duration(\"1h\") == duration(\"60m\")", "true"},
    {"duration(\"1h\") == 3600000", "false"},
};

/* Evaluates text; returns the evaluator's result code, or MANDATE_EPARSE (reported) when the
 * text does not parse. */
static int eval_text(fx *f, const char *text, md_value *out, md_diag *d)
{
    const md_expr *e = NULL;
    md_diag_clear(d);
    int rc = md_expr_parse(f->a, text, strlen(text), &e, d);
    if (rc) {
        print_error("cannot parse `%s`: %s\n", text, d->msg);
        return MANDATE_EPARSE;
    }
    md_diag_clear(d);
    return md_eval_expr(e, &f->req, f->es, NULL, f->scratch, out, d);
}

static void test_expression_table(void **state)
{
    fx *f = *state;
    int failures = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        const ecase *c = &cases[i];
        md_value got, want;
        md_diag d;
        md_arena_reset(f->scratch);
        int rc = eval_text(f, c->expr, &got, &d);
        if (!c->want) {
            if (rc != MANDATE_EEVAL || d.code != MANDATE_EEVAL || !d.msg[0]) {
                print_error("case %zu `%s`: expected an evaluation error, got rc %d\n", i, c->expr,
                            rc);
                failures++;
            }
            continue;
        }
        if (rc) {
            print_error("case %zu `%s`: unexpected error %d: %s\n", i, c->expr, rc, d.msg);
            failures++;
            continue;
        }
        /* the expected value is evaluated too (it is a literal, or `context`) */
        md_diag d2;
        int rc2 = eval_text(f, c->want, &want, &d2);
        assert_int_equal(rc2, 0);
        if (!md_value_eq(&got, &want)) {
            md_buf b;
            md_buf_init(&b, 4096);
            md_value_print(&b, &got);
            print_error("case %zu `%s`: got %s, want %s\n", i, c->expr, b.data ? b.data : "",
                        c->want);
            md_buf_release(&b);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Errors carry messages in the style of the Rust engine, with the subject quoted. */
static void test_error_messages(void **state)
{
    fx *f = *state;
    static const struct {
        const char *expr, *msg;
    } cases_msg[] = {
        {"1 + \"a\"", "type error: expected long, got string"},
        {"principal.level", "`User::\"alice\"` does not have the attribute `level`"},
        {"context.big + 1", "integer overflow while attempting to add"},
        {"User::\"x\".a", "entity `User::\"x\"` does not exist"},
        {"principal.getTag(\"nope\")", "`User::\"alice\"` does not have the tag `nope`"},
        {"if 1 then 2 else 3", "type error: expected bool, got long"},
        {"context.nope", "record does not have the attribute `nope`"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases_msg); i++) {
        md_value v;
        md_diag d;
        md_arena_reset(f->scratch);
        assert_int_equal(eval_text(f, cases_msg[i].expr, &v, &d), MANDATE_EEVAL);
        if (!strstr(d.msg, cases_msg[i].msg))
            fail_msg("`%s`: message `%s` lacks `%s`", cases_msg[i].expr, d.msg, cases_msg[i].msg);
    }
}

/* md_record_get's value, or NULL when the key is absent; the last few results stay valid. */
static const md_value *rget(const md_record *r, md_str key)
{
    static md_value ring[8];
    static unsigned next;
    md_value *v = &ring[next++ % 8];
    return md_record_get(r, key, v) ? v : NULL;
}

/* Scalars and attribute reads allocate nothing; strings are borrowed, not copied. */
static void test_no_allocation_for_scalars(void **state)
{
    fx *f = *state;
    const char *texts[] = {
        "principal.age > 18 && context.flag && principal in Group::\"staff\" && "
        "principal.name like \"a*\" && resource.owner == principal && "
        "principal.hasTag(\"team\") && principal.addr.city == \"Paris\"",
    };
    md_value v;
    md_diag d;
    md_arena_reset(f->scratch);
    size_t before = md_arena_used(f->scratch);
    assert_int_equal(eval_text(f, texts[0], &v, &d), 0);
    assert_true(v.kind == MD_V_BOOL && v.u.b);
    assert_int_equal(md_arena_used(f->scratch), before);
    assert_int_equal(eval_text(f, "principal.name", &v, &d), 0);
    const md_entity *alice = md_entities_find(f->es, &f->req.principal);
    assert_non_null(alice);
    assert_ptr_equal(v.u.s.ptr, rget(alice->attrs, MD_STR_LIT("name"))->u.s.ptr);
}

/* ---- policies ---- */

static md_scope scope_any(void)
{
    return (md_scope){.kind = MD_SCOPE_ANY};
}

static int eval_pol(fx *f, const md_policy *p, bool *sat, md_diag *d)
{
    md_diag_clear(d);
    md_arena_reset(f->scratch);
    return md_eval_policy(p, &f->req, f->es, f->scratch, sat, d);
}

static void expect_policy(fx *f, const md_policy *p, int want /* 0, 1, or -1 for an error */)
{
    bool sat = false;
    md_diag d;
    int rc = eval_pol(f, p, &sat, &d);
    if (want < 0) {
        assert_int_equal(rc, MANDATE_EEVAL);
        assert_true(d.msg[0] != '\0');
        return;
    }
    if (rc)
        fail_msg("unexpected error %d: %s", rc, d.msg);
    assert_int_equal(sat, want);
}

static void test_policy_scopes(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    md_policy p = {0};
    p.permit = true;
    p.principal = p.action = p.resource = scope_any();
    expect_policy(f, &p, 1);

    p.principal = (md_scope){.kind = MD_SCOPE_EQ, .uid = uid("User", "alice")};
    expect_policy(f, &p, 1);
    p.principal.uid = uid("User", "bob");
    expect_policy(f, &p, 0);
    p.principal = (md_scope){.kind = MD_SCOPE_IN, .uid = uid("Group", "staff")};
    expect_policy(f, &p, 1); /* transitively, through Group::"admins" */
    p.principal.uid = uid("Group", "other");
    expect_policy(f, &p, 0);
    p.principal = (md_scope){.kind = MD_SCOPE_IS, .type = MD_STR_LIT("User")};
    expect_policy(f, &p, 1);
    p.principal.type = MD_STR_LIT("Group");
    expect_policy(f, &p, 0);
    p.principal = (md_scope){
        .kind = MD_SCOPE_IS_IN, .type = MD_STR_LIT("User"), .uid = uid("Group", "admins")};
    expect_policy(f, &p, 1);
    p.principal.type = MD_STR_LIT("Admin");
    expect_policy(f, &p, 0);
    p.principal.type = MD_STR_LIT("User");
    p.principal.uid = uid("User", "alice"); /* `in` includes equality */
    expect_policy(f, &p, 1);
    p.principal = scope_any();

    md_euid acts[2] = {uid("Action", "write"), uid("Action", "all")};
    p.action = (md_scope){.kind = MD_SCOPE_IN_LIST, .n_uids = 2, .uids = acts};
    expect_policy(f, &p, 1);
    p.action.n_uids = 1;
    expect_policy(f, &p, 0);
    p.action.n_uids = 0; /* action in [] */
    expect_policy(f, &p, 0);
    p.action = (md_scope){.kind = MD_SCOPE_EQ, .uid = uid("Action", "read")};
    expect_policy(f, &p, 1);

    p.resource = (md_scope){.kind = MD_SCOPE_IS, .type = MD_STR_LIT("NS::Doc")};
    expect_policy(f, &p, 1);
    p.resource.type = MD_STR_LIT("Doc"); /* the full name is compared */
    expect_policy(f, &p, 0);
}

static void test_policy_slots(void **state)
{
    fx *f = *state;
    md_policy p = {0};
    p.principal = (md_scope){.kind = MD_SCOPE_IN, .slot = true};
    p.action = scope_any();
    p.resource = (md_scope){.kind = MD_SCOPE_EQ, .slot = true};
    expect_policy(f, &p, -1); /* not linked */
    p.has_principal_slot = p.has_resource_slot = true;
    p.principal_slot = uid("Group", "admins");
    p.resource_slot = uid("NS::Doc", "d1");
    expect_policy(f, &p, 1);
    p.resource_slot = uid("NS::Doc", "d2");
    expect_policy(f, &p, 0);
    p.principal_slot = uid("Group", "nope");
    expect_policy(f, &p, 0);
    /* An unfilled slot errors only where the model evaluates it: the principal scope first,
     * the resource scope after the principal and action scopes held. */
    p.has_resource_slot = false;
    expect_policy(f, &p, 0); /* principal scope false: the resource slot is never reached */
    p.principal_slot = uid("Group", "admins");
    expect_policy(f, &p, -1);
    p.action = (md_scope){.kind = MD_SCOPE_EQ, .uid = uid("Action", "write")};
    expect_policy(f, &p, 0);
    p.has_principal_slot = false;
    expect_policy(f, &p, -1); /* the principal slot is evaluated first */
    /* `is` scopes need no slot value */
    p.principal = (md_scope){.kind = MD_SCOPE_IS, .slot = false, .type = MD_STR_LIT("User")};
    p.action = scope_any();
    p.resource = (md_scope){.kind = MD_SCOPE_IS_IN, .slot = true, .type = MD_STR_LIT("NS::Doc")};
    p.has_resource_slot = true;
    p.resource_slot = uid("NS::Doc", "d1");
    expect_policy(f, &p, 1);
    p.resource.type = MD_STR_LIT("Doc");
    expect_policy(f, &p, 0);
}

static void test_policy_conditions(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    const md_expr *t = lit(vbool(true)), *F = lit(vbool(false)), *one = lit(vlong(1));
    md_policy p = {0};
    p.principal = p.action = p.resource = scope_any();
    md_cond conds[3];
    p.conds = conds;

    conds[0] = (md_cond){true, t};
    conds[1] = (md_cond){false, F};
    p.n_conds = 2;
    expect_policy(f, &p, 1); /* when true, unless false */
    conds[1] = (md_cond){false, t};
    expect_policy(f, &p, 0);
    /* conditions are evaluated in order and stop at the first unsatisfied one */
    conds[0] = (md_cond){true, F};
    conds[1] = (md_cond){true, one};
    expect_policy(f, &p, 0);
    conds[0] = (md_cond){true, t};
    expect_policy(f, &p, -1); /* `when { 1 }` is a type error */
    conds[1] = (md_cond){false, one};
    expect_policy(f, &p, -1); /* so is `unless { 1 }` */
    /* an unsatisfied scope stops before the conditions */
    p.principal = (md_scope){.kind = MD_SCOPE_EQ, .uid = uid("User", "bob")};
    expect_policy(f, &p, 0);
    p.principal = scope_any();
    /* attribute of a missing entity: error */
    conds[0] = (md_cond){true, getattr(lit(vent("User", "ghost")), "x")};
    p.n_conds = 1;
    expect_policy(f, &p, -1);
    conds[0] = (md_cond){true, bin(MD_E_EQ, getattr(var(MD_VAR_PRINCIPAL), "age"), lit(vlong(30)))};
    expect_policy(f, &p, 1);
}

/* Whole policies from text: scopes then conditions, short-circuiting, templates. */
static void test_policy_text(void **state)
{
    fx *f = *state;
    static const struct {
        const char *text;
        int want; /* 1 satisfied, 0 not, -1 error */
    } pols[] = {
        {"permit(principal in Group::\"staff\", action in [Action::\"all\", Action::\"x\"], "
         "resource is NS::Doc) when { resource.owner == principal } unless { resource.public };",
         1},
        {"permit(principal, action, resource);", 1},
        {"forbid(principal, action, resource) when { principal.nope };", -1},
        {"permit(principal == User::\"bob\", action, resource) when { principal.nope };", 0},
        {"permit(principal is User in Group::\"admins\", action == Action::\"read\", "
         "resource == NS::Doc::\"d1\") when { context.n < 5 } when { true } unless { false };",
         1},
        {"permit(principal is Group, action, resource);", 0},
        {"permit(principal, action in Action::\"all\", resource in NS::Doc::\"d1\");", 1},
        {"permit(principal, action in [], resource);", 0},
        {"permit(principal, action, resource) when { false } when { 1 };", 0},
        {"permit(principal, action, resource) when { true } unless { 1 };", -1},
        {"permit(principal, action, resource) unless { context.flag };", 0},
        {"permit(principal, action, resource) when { context.n };", -1},
        {"permit(principal, action, resource is NS::Doc in Group::\"staff\");", 0},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(pols); i++) {
        md_policyset *ps = NULL;
        md_diag d = {0};
        if (md_policyset_parse(f->a, pols[i].text, strlen(pols[i].text), NULL, &ps, &d))
            fail_msg("cannot parse policy %zu: %s", i, d.msg);
        assert_int_equal(ps->n, 1);
        bool sat = false;
        md_diag_clear(&d);
        md_arena_reset(f->scratch);
        int rc = md_eval_policy(ps->policies[0], &f->req, f->es, f->scratch, &sat, &d);
        if (pols[i].want < 0) {
            if (rc != MANDATE_EEVAL)
                fail_msg("policy %zu: expected an error, got rc %d", i, rc);
        } else if (rc || sat != (pols[i].want == 1)) {
            fail_msg("policy %zu: rc %d (%s), satisfied %d, want %d", i, rc, d.msg, sat,
                     pols[i].want);
        }
    }
}

static void test_template_link(void **state)
{
    fx *f = *state;
    const char *text = "permit(principal in ?principal, action, resource == ?resource) "
                       "when { resource.owner == principal };";
    md_policyset *ps = NULL;
    md_diag d = {0};
    assert_int_equal(md_policyset_parse(f->a, text, strlen(text), NULL, &ps, &d), 0);
    assert_int_equal(ps->n_templates, 1);
    md_euid admins = uid("Group", "admins"), d1 = uid("NS::Doc", "d1"), bob = uid("User", "bob");
    assert_int_equal(
        md_policyset_link(f->a, ps, ps->templates[0]->id, MD_STR_LIT("l0"), &admins, &d1, &d), 0);
    assert_int_equal(
        md_policyset_link(f->a, ps, ps->templates[0]->id, MD_STR_LIT("l1"), &bob, &d1, &d), 0);
    assert_int_equal(ps->n, 2);
    bool sat = false;
    assert_int_equal(md_eval_policy(ps->policies[0], &f->req, f->es, f->scratch, &sat, &d), 0);
    assert_true(sat);
    assert_int_equal(md_eval_policy(ps->policies[1], &f->req, f->es, f->scratch, &sat, &d), 0);
    assert_false(sat);
    /* the template itself has no slot values: evaluating it is an error, not a crash */
    md_diag_clear(&d);
    assert_int_equal(md_eval_policy(ps->templates[0], &f->req, f->es, f->scratch, &sat, &d),
                     MANDATE_EEVAL);
}

/* The cached entry point gives the same answers as the plain one across many policies. */
static void test_policy_cache(void **state)
{
    fx *f = *state;
    ast_arena = f->a;
    md_eval_cache cache;
    md_eval_cache_init(&cache, &f->req, f->es);
    md_policy p = {0};
    p.principal = (md_scope){.kind = MD_SCOPE_IN, .uid = uid("Group", "staff")};
    p.action = (md_scope){.kind = MD_SCOPE_IN, .uid = uid("Action", "all")};
    p.resource = (md_scope){.kind = MD_SCOPE_IS, .type = MD_STR_LIT("NS::Doc")};
    md_cond cond = {true,
                    bin(MD_E_EQ, getattr(var(MD_VAR_RESOURCE), "owner"), var(MD_VAR_PRINCIPAL))};
    p.conds = &cond;
    p.n_conds = 1;
    md_diag d = {0};
    for (int i = 0; i < 3; i++) {
        bool sat = false;
        assert_int_equal(md_eval_policy_cached(&p, &cache, false, f->scratch, &sat, &d), 0);
        assert_true(sat);
    }
    assert_int_equal(cache.done, 7u); /* principal, action and resource were looked up */
    p.principal.uid = uid("Group", "other");
    bool sat = true;
    assert_int_equal(md_eval_policy_cached(&p, &cache, false, f->scratch, &sat, &d), 0);
    assert_false(sat);
    /* a request whose principal is not in the store */
    md_request r2 = f->req;
    r2.principal = uid("User", "ghost");
    md_eval_cache_init(&cache, &r2, f->es);
    p.principal = (md_scope){.kind = MD_SCOPE_IN, .uid = uid("User", "ghost")};
    assert_int_equal(md_eval_policy_cached(&p, &cache, false, f->scratch, &sat, &d), 0);
    assert_false(sat);                     /* resource.owner is alice, not ghost */
    md_eval_cache_init(&cache, &r2, NULL); /* no store at all: nothing has attributes */
    p.action = p.resource = scope_any();
    cond.body = getattr(var(MD_VAR_PRINCIPAL), "x");
    assert_int_equal(md_eval_policy_cached(&p, &cache, false, f->scratch, &sat, &d), MANDATE_EEVAL);
}

static void test_bad_arguments(void **state)
{
    fx *f = *state;
    md_value v;
    md_diag d = {0};
    bool sat;
    assert_int_equal(md_eval_expr(NULL, &f->req, f->es, NULL, f->scratch, &v, &d), MANDATE_EINVAL);
    assert_int_equal(md_eval_policy(NULL, &f->req, f->es, f->scratch, &sat, &d), MANDATE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_and_or_short_circuit_ast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots_ast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_like_ast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expression_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_allocation_for_scalars, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
