/*
 * test_parser.c: the Cedar policy parser (src/cedar/lexer.c, parser.c): every construct of the
 * grammar, precedence, desugaring, error positions and messages, caps, and the conformance
 * corpus (read from MANDATE_SHARED_DIR when it is there).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

#include "cedar/cedar_int.h"

/* ---- helpers ---- */

static md_arena *arena;

static int setup(void **state)
{
    arena = md_arena_new();
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    md_arena_free(arena);
    arena = NULL;
    return 0;
}

static md_policyset *parse_ok(const char *text)
{
    md_policyset *ps = NULL;
    md_diag d = {0};
    int rc = md_policyset_parse(arena, text, strlen(text), NULL, &ps, &d);
    if (rc)
        print_error("unexpected error %d at %u:%u: %s\n", rc, d.line, d.col, d.msg);
    assert_int_equal(rc, 0);
    assert_non_null(ps);
    return ps;
}

/* Parses text expecting an error; checks code, position and that msg contains want. */
static void parse_err(const char *text, int code, uint32_t line, uint32_t col, const char *want)
{
    md_policyset *ps = NULL;
    md_diag d = {0};
    int rc = md_policyset_parse(arena, text, strlen(text), NULL, &ps, &d);
    if (rc != code || d.line != line || d.col != col || !strstr(d.msg, want))
        print_error("text: %s\ngot %d at %u:%u: %s\nwant %d at %u:%u: ...%s...\n", text, rc, d.line,
                    d.col, d.msg, code, line, col, want);
    assert_int_equal(rc, code);
    assert_int_equal(d.code, code);
    assert_int_equal(d.line, line);
    assert_int_equal(d.col, col);
    assert_non_null(strstr(d.msg, want));
}

/* Prints an expression as an s-expression, for structure checks. */
static void sx(md_buf *b, const md_expr *e)
{
    static const char *const ops[] = {
        [MD_E_IF] = "if",
        [MD_E_AND] = "&&",
        [MD_E_OR] = "||",
        [MD_E_NOT] = "!",
        [MD_E_NEG] = "neg",
        [MD_E_IS_EMPTY] = "isEmpty",
        [MD_E_EQ] = "==",
        [MD_E_NE] = "!=",
        [MD_E_LT] = "<",
        [MD_E_LE] = "<=",
        [MD_E_GT] = ">",
        [MD_E_GE] = ">=",
        [MD_E_ADD] = "+",
        [MD_E_SUB] = "-",
        [MD_E_MUL] = "*",
        [MD_E_IN] = "in",
        [MD_E_CONTAINS] = "contains",
        [MD_E_CONTAINS_ALL] = "containsAll",
        [MD_E_CONTAINS_ANY] = "containsAny",
        [MD_E_HAS_TAG] = "hasTag",
        [MD_E_GET_TAG] = "getTag",
    };
    switch (e->op) {
    case MD_E_LIT:
        switch (e->u.lit.kind) {
        case MD_V_BOOL: md_buf_puts(b, e->u.lit.u.b ? "true" : "false"); break;
        case MD_V_LONG: md_buf_printf(b, "%lld", (long long)e->u.lit.u.i); break;
        case MD_V_STRING: md_buf_json_str(b, e->u.lit.u.s.ptr, e->u.lit.u.s.len); break;
        case MD_V_ENTITY:
            md_buf_printf(b, "%.*s::", (int)e->u.lit.u.uid.type.len, e->u.lit.u.uid.type.ptr);
            md_buf_json_str(b, e->u.lit.u.uid.id.ptr, e->u.lit.u.uid.id.len);
            break;
        default: md_buf_puts(b, "?lit"); break;
        }
        break;
    case MD_E_VAR: {
        static const char *const v[] = {"principal", "action", "resource", "context"};
        md_buf_puts(b, v[e->u.var]);
        break;
    }
    case MD_E_SLOT:
        md_buf_puts(b, e->u.slot == MD_SLOT_PRINCIPAL ? "?principal" : "?resource");
        break;
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR:
        md_buf_puts(b, e->op == MD_E_GET_ATTR ? "(. " : "(has ");
        sx(b, e->u.attr.a);
        md_buf_printf(b, " %.*s)", (int)e->u.attr.name.len, e->u.attr.name.ptr);
        break;
    case MD_E_LIKE:
        md_buf_puts(b, "(like ");
        sx(b, e->u.like.a);
        md_buf_puts(b, " ");
        for (size_t i = 0; i < e->u.like.pat.n; i++) {
            const md_pat_elem *pe = &e->u.like.pat.elems[i];
            if (pe->star)
                md_buf_puts(b, "<*>");
            else
                md_buf_append(b, pe->lit.ptr, pe->lit.len);
        }
        md_buf_puts(b, ")");
        break;
    case MD_E_IS:
        md_buf_puts(b, "(is ");
        sx(b, e->u.is.a);
        md_buf_printf(b, " %.*s", (int)e->u.is.type.len, e->u.is.type.ptr);
        if (e->u.is.in) {
            md_buf_puts(b, " in ");
            sx(b, e->u.is.in);
        }
        md_buf_puts(b, ")");
        break;
    case MD_E_SET:
        md_buf_puts(b, "[");
        for (size_t i = 0; i < e->u.list.n; i++) {
            if (i)
                md_buf_puts(b, " ");
            sx(b, e->u.list.items[i]);
        }
        md_buf_puts(b, "]");
        break;
    case MD_E_RECORD:
        md_buf_puts(b, "{");
        for (size_t i = 0; i < e->u.rec.n; i++) {
            if (i)
                md_buf_puts(b, " ");
            md_buf_printf(b, "%.*s:", (int)e->u.rec.keys[i].len, e->u.rec.keys[i].ptr);
            sx(b, e->u.rec.vals[i]);
        }
        md_buf_puts(b, "}");
        break;
    case MD_E_CALL:
        md_buf_printf(b, "(call%d", (int)e->u.call.fn);
        for (size_t i = 0; i < e->u.call.n; i++) {
            md_buf_puts(b, " ");
            sx(b, e->u.call.args[i]);
        }
        md_buf_puts(b, ")");
        break;
    default:
        md_buf_printf(b, "(%s", ops[e->op]);
        if (e->u.k.a) {
            md_buf_puts(b, " ");
            sx(b, e->u.k.a);
        }
        if (e->u.k.b) {
            md_buf_puts(b, " ");
            sx(b, e->u.k.b);
        }
        if (e->u.k.c) {
            md_buf_puts(b, " ");
            sx(b, e->u.k.c);
        }
        md_buf_puts(b, ")");
        break;
    }
}

/* Parses an expression and compares its s-expression. */
static void expr_is(const char *text, const char *want)
{
    const md_expr *e = NULL;
    md_diag d = {0};
    int rc = md_expr_parse(arena, text, strlen(text), &e, &d);
    if (rc)
        print_error("%s: error %d at %u:%u: %s\n", text, rc, d.line, d.col, d.msg);
    assert_int_equal(rc, 0);
    md_buf b;
    md_buf_init(&b, 1 << 20);
    sx(&b, e);
    if (strcmp(b.data, want) != 0)
        print_error("%s\n got  %s\n want %s\n", text, b.data, want);
    assert_string_equal(b.data, want);
    md_buf_release(&b);
}

static void expr_err(const char *text, int code, uint32_t line, uint32_t col, const char *want)
{
    const md_expr *e = NULL;
    md_diag d = {0};
    int rc = md_expr_parse(arena, text, strlen(text), &e, &d);
    if (rc != code || d.line != line || d.col != col || !strstr(d.msg, want))
        print_error("text: %s\ngot %d at %u:%u: %s\nwant %d at %u:%u: ...%s...\n", text, rc, d.line,
                    d.col, d.msg, code, line, col, want);
    assert_int_equal(rc, code);
    assert_int_equal(d.line, line);
    assert_int_equal(d.col, col);
    assert_non_null(strstr(d.msg, want));
}

static const md_expr *cond0(const md_policy *p)
{
    assert_true(p->n_conds >= 1);
    return p->conds[0].body;
}

/* ---- policy structure ---- */

static void test_empty_input(void **state)
{
    md_policyset *ps = parse_ok("");
    assert_int_equal(ps->n, 0);
    assert_int_equal(ps->n_templates, 0);
    ps = parse_ok("  // only a comment\n\t \n// and another");
    assert_int_equal(ps->n, 0);
    md_diag d = {0};
    assert_int_equal(md_policyset_parse(arena, NULL, 0, NULL, &ps, &d), 0);
    assert_int_equal(ps->n, 0);
}

static void test_simple_policy(void **state)
{
    const char *text = "// leading comment\n  permit(principal, action, resource);";
    md_policyset *ps = parse_ok(text);
    assert_int_equal(ps->n, 1);
    const md_policy *p = ps->policies[0];
    assert_true(md_str_eq_c(p->id, "policy0"));
    assert_true(p->permit);
    assert_false(p->is_template);
    assert_int_equal(p->principal.kind, MD_SCOPE_ANY);
    assert_int_equal(p->action.kind, MD_SCOPE_ANY);
    assert_int_equal(p->resource.kind, MD_SCOPE_ANY);
    assert_int_equal(p->n_conds, 0);
    assert_int_equal(p->n_annotations, 0);
    assert_int_equal(p->line, 2);
    assert_int_equal(p->col, 3);
    assert_true(md_str_eq_c(p->text, "permit(principal, action, resource);"));
}

static void test_ids_and_templates(void **state)
{
    md_policyset *ps = parse_ok("forbid(principal, action, resource);\n"
                                "@id(\"x\") permit(principal == ?principal, action, resource);\n"
                                "permit(principal, action, resource in ?resource) when { true };\n"
                                "permit(principal, action, resource,);\n");
    assert_int_equal(ps->n, 2);
    assert_int_equal(ps->n_templates, 2);
    assert_true(md_str_eq_c(ps->policies[0]->id, "policy0"));
    assert_false(ps->policies[0]->permit);
    assert_true(md_str_eq_c(ps->policies[1]->id, "policy3"));
    assert_true(md_str_eq_c(ps->templates[0]->id, "policy1"));
    assert_true(md_str_eq_c(ps->templates[1]->id, "policy2"));
    assert_true(ps->templates[0]->is_template);
    assert_true(ps->templates[0]->principal.slot);
    assert_int_equal(ps->templates[0]->principal.kind, MD_SCOPE_EQ);
    assert_true(ps->templates[1]->resource.slot);
    assert_int_equal(ps->templates[1]->resource.kind, MD_SCOPE_IN);
    assert_int_equal(ps->templates[1]->line, 3);
    assert_true(md_str_eq_c(ps->templates[0]->text,
                            "@id(\"x\") permit(principal == ?principal, action, resource);"));

    md_diag d = {0};
    const char *t = "permit(principal, action, resource); permit(principal, action, resource);";
    assert_int_equal(md_policyset_parse(arena, t, strlen(t), "p", &ps, &d), 0);
    assert_true(md_str_eq_c(ps->policies[1]->id, "p1"));
}

static void test_annotations(void **state)
{
    md_policyset *ps = parse_ok("@id(\"a\\tb\") @advice @if(\"x\") @principal(\"\")\n"
                                "permit(principal, action, resource);");
    const md_policy *p = ps->policies[0];
    assert_int_equal(p->n_annotations, 4);
    assert_true(md_str_eq_c(p->annotations[0].key, "id"));
    assert_true(md_str_eq_c(p->annotations[0].value, "a\tb"));
    assert_true(md_str_eq_c(p->annotations[1].key, "advice"));
    assert_int_equal(p->annotations[1].value.len, 0);
    assert_true(md_str_eq_c(p->annotations[2].key, "if"));
    assert_true(md_str_eq_c(p->annotations[3].key, "principal"));
    assert_int_equal(p->line, 1);
    assert_int_equal(p->col, 1);

    parse_err("@a(\"1\")\n  @b @a\npermit(principal, action, resource);", MANDATE_EPARSE, 2, 6,
              "duplicate annotation '@a'");
    parse_err("@a @a(\"x\") permit(principal, action, resource);", MANDATE_EPARSE, 1, 4,
              "duplicate annotation '@a'");
    parse_err("@a(x) permit(principal, action, resource);", MANDATE_EPARSE, 1, 4,
              "expected a string as the annotation's value, found 'x'");
    parse_err("@a(\"x\")", MANDATE_EPARSE, 1, 8,
              "expected 'permit' or 'forbid' after the annotations, found end of input");
}

static void test_scope_principal_resource(void **state)
{
    md_policyset *ps = parse_ok("permit(principal == User::\"alice\", action, resource in "
                                "Folder::\"f\");\n"
                                "permit(principal is NS::User, action, resource is Doc in "
                                "Folder::\"f\");\n"
                                "permit(principal is User in Group::\"g\", action, resource == "
                                "(Doc::\"d\"));");
    const md_policy *p = ps->policies[0];
    assert_int_equal(p->principal.kind, MD_SCOPE_EQ);
    assert_true(md_str_eq_c(p->principal.uid.type, "User"));
    assert_true(md_str_eq_c(p->principal.uid.id, "alice"));
    assert_int_equal(p->resource.kind, MD_SCOPE_IN);
    assert_true(md_str_eq_c(p->resource.uid.type, "Folder"));
    p = ps->policies[1];
    assert_int_equal(p->principal.kind, MD_SCOPE_IS);
    assert_true(md_str_eq_c(p->principal.type, "NS::User"));
    assert_int_equal(p->resource.kind, MD_SCOPE_IS_IN);
    assert_true(md_str_eq_c(p->resource.type, "Doc"));
    assert_true(md_str_eq_c(p->resource.uid.id, "f"));
    p = ps->policies[2];
    assert_int_equal(p->principal.kind, MD_SCOPE_IS_IN);
    assert_true(md_str_eq_c(p->principal.uid.type, "Group"));
    assert_int_equal(p->resource.kind, MD_SCOPE_EQ);
    assert_true(md_str_eq_c(p->resource.uid.id, "d"));
}

static void test_scope_action(void **state)
{
    md_policyset *ps =
        parse_ok("permit(principal, action == Action::\"read\", resource);\n"
                 "permit(principal, action in NS::Action::\"g\", resource);\n"
                 "permit(principal, action in [Action::\"a\", NS::Action::\"b\",], resource);\n"
                 "permit(principal, action in [], resource);");
    assert_int_equal(ps->policies[0]->action.kind, MD_SCOPE_EQ);
    assert_true(md_str_eq_c(ps->policies[0]->action.uid.id, "read"));
    assert_int_equal(ps->policies[1]->action.kind, MD_SCOPE_IN);
    assert_true(md_str_eq_c(ps->policies[1]->action.uid.type, "NS::Action"));
    const md_scope *s = &ps->policies[2]->action;
    assert_int_equal(s->kind, MD_SCOPE_IN_LIST);
    assert_int_equal(s->n_uids, 2);
    assert_true(md_str_eq_c(s->uids[1].type, "NS::Action"));
    assert_true(md_str_eq_c(s->uids[1].id, "b"));
    assert_int_equal(ps->policies[3]->action.kind, MD_SCOPE_IN_LIST);
    assert_int_equal(ps->policies[3]->action.n_uids, 0);

    parse_err("permit(principal, action == User::\"a\", resource);", MANDATE_EPARSE, 1, 29,
              "expected action entities (of type Action or NS::Action)");
    parse_err("permit(principal, action in [Action::\"a\", 1], resource);", MANDATE_EPARSE, 1, 43,
              "expected only action entity uids");
    parse_err("permit(principal, action == [Action::\"a\"], resource);", MANDATE_EPARSE, 1, 29,
              "expected an action entity uid after 'action ==', found '[Action::\"a\"]'");
    parse_err("permit(principal, action is Action, resource);", MANDATE_EPARSE, 1, 26,
              "'is' is not allowed in the action scope");
    parse_err("permit(principal, action == ?principal, resource);", MANDATE_EPARSE, 1, 29,
              "expected an action entity uid");
}

static void test_scope_errors(void **state)
{
    parse_err("permit(principal, action);", MANDATE_EPARSE, 1, 25,
              "the policy scope is missing 'resource'");
    parse_err("permit();", MANDATE_EPARSE, 1, 8, "the policy scope is missing 'principal'");
    parse_err("permit(principal, action, resource, context);", MANDATE_EPARSE, 1, 37,
              "the policy scope has only principal, action and resource");
    parse_err("permit(action, principal, resource);", MANDATE_EPARSE, 1, 8,
              "expected 'principal' in the policy scope, found 'action'");
    parse_err("permit(principal == \"alice\", action, resource);", MANDATE_EPARSE, 1, 21,
              "expected an entity uid or ?principal after 'principal ==', found '\"alice\"'");
    parse_err("permit(principal in [User::\"a\"], action, resource);", MANDATE_EPARSE, 1, 21,
              "expected an entity uid or ?principal after 'principal in'");
    parse_err("permit(principal is User == User::\"a\", action, resource);", MANDATE_EPARSE, 1, 26,
              "'is' cannot be combined with '=='");
    parse_err("permit(principal in Group::\"g\" is User, action, resource);", MANDATE_EPARSE, 1, 21,
              "write 'principal is Type in ...'");
    parse_err("permit(principal = User::\"a\", action, resource);", MANDATE_EPARSE, 1, 18,
              "'=' is not an operator; use '=='");
    parse_err("permit(principal != User::\"a\", action, resource);", MANDATE_EPARSE, 1, 18,
              "'!=' is not allowed in the policy scope");
    parse_err("permit(principal: User, action, resource);", MANDATE_EPARSE, 1, 17,
              "type constraints with ':' are not supported");
    parse_err("permit(principal is User::\"a\", action, resource);", MANDATE_EPARSE, 1, 21,
              "expected an entity type after 'is', found the entity uid 'User::\"a\"'");
    parse_err("allow(principal, action, resource);", MANDATE_EPARSE, 1, 1,
              "expected 'permit' or 'forbid', found 'allow'");
}

static void test_slots(void **state)
{
    md_policyset *ps =
        parse_ok("permit(principal is User in ?principal, action, resource == ?resource);");
    assert_int_equal(ps->n_templates, 1);
    const md_policy *t = ps->templates[0];
    assert_int_equal(t->principal.kind, MD_SCOPE_IS_IN);
    assert_true(t->principal.slot);
    assert_int_equal(t->resource.kind, MD_SCOPE_EQ);
    assert_true(t->resource.slot);

    parse_err("permit(principal == ?resource, action, resource);", MANDATE_EPARSE, 1, 21,
              "expected an entity uid or ?principal after 'principal ==', found '?resource'");
    parse_err("permit(principal, action, resource) when { principal == ?principal };",
              MANDATE_EPARSE, 1, 57, "template slot '?principal' is only allowed in the policy");
    parse_err("permit(principal == ?other, action, resource);", MANDATE_EPARSE, 1, 21,
              "unknown template slot '?other'");
}

static void test_conditions(void **state)
{
    md_policyset *ps = parse_ok("permit(principal, action, resource)\n"
                                "  when { true }\n  unless { false }\n  when { 1 == 1 };");
    const md_policy *p = ps->policies[0];
    assert_int_equal(p->n_conds, 3);
    assert_true(p->conds[0].when);
    assert_false(p->conds[1].when);
    assert_true(p->conds[2].when);
    assert_int_equal(p->conds[2].body->op, MD_E_EQ);
    assert_int_equal(p->conds[2].body->line, 4);
    assert_int_equal(p->conds[2].body->col, 10);

    parse_err("permit(principal, action, resource) when {};", MANDATE_EPARSE, 1, 37,
              "the 'when' condition is empty");
    parse_err("permit(principal, action, resource) if { true };", MANDATE_EPARSE, 1, 37,
              "expected 'when' or 'unless', found 'if'");
    parse_err("permit(principal, action, resource) when { true ;", MANDATE_EPARSE, 1, 49,
              "expected '}' after the condition, found ';'");
}

static void test_missing_semicolon(void **state)
{
    parse_err("permit(principal, action, resource)\npermit(principal, action, resource);",
              MANDATE_EPARSE, 2, 1, "expected ';' after the policy, found 'permit'");
    parse_err("permit(principal, action, resource) when { true }", MANDATE_EPARSE, 1, 50,
              "expected ';' after the policy, found end of input");
}

/* ---- expressions ---- */

static void test_literals_and_vars(void **state)
{
    expr_is("true", "true");
    expr_is("false", "false");
    expr_is("42", "42");
    expr_is("\"hi\"", "\"hi\"");
    expr_is("principal", "principal");
    expr_is("context", "context");
    expr_is("User::\"a\"", "User::\"a\"");
    expr_is("A::B::C::\"x y\"", "A::B::C::\"x y\"");
    expr_is("A :: B // c\n :: \"x\"", "A::B::\"x\"");
    expr_is("principal::\"p\"", "principal::\"p\"");
    expr_is("permit::when::\"p\"", "permit::when::\"p\"");
}

static void test_precedence_real(void **state)
{
    expr_is("true || false && true", "(|| true (&& false true))");
    expr_is("true && false || true", "(|| (&& true false) true)");
    expr_is("1 + 2 * 3 < 7 - 1", "(< (+ 1 (* 2 3)) (- 7 1))");
    expr_is("1 - 2 - 3", "(- (- 1 2) 3)");
    expr_is("(1 + 2) * 3", "(* (+ 1 2) 3)");
    expr_is("principal in Group::\"g\" && !context.x",
            "(&& (in principal Group::\"g\") (! (. context x)))");
    expr_is("1 == 1 || 2 != 2", "(|| (== 1 1) (!= 2 2))");
    expr_is("1 <= 2 && 3 >= 2 && 1 > 0", "(&& (&& (<= 1 2) (>= 3 2)) (> 1 0))");
    expr_is("-context.a * 2", "(* (neg (. context a)) 2)");
    expr_is("!principal.a.b", "(! (. (. principal a) b))");
    expr_is("if true then 1 else 2 + 3", "(if true 1 (+ 2 3))");
    expr_is("if a::\"x\" in b::\"y\" then 1 else if true then 2 else 3",
            "(if (in a::\"x\" b::\"y\") 1 (if true 2 3))");
    expr_is("(if true then 1 else 2) + 1", "(+ (if true 1 2) 1)");
}

static void test_unary(void **state)
{
    expr_is("!!true", "(! (! true))");
    expr_is("!!!!true", "(! (! (! (! true))))");
    expr_is("-1", "-1");
    expr_is("--1", "(neg -1)");
    expr_is("- 7", "-7");
    expr_is("-(1)", "(neg 1)");
    expr_is("-principal.age", "(neg (. principal age))");
    expr_err("!!!!!true", MANDATE_EPARSE, 1, 1, "too many '!' in a row (at most 4)");
    expr_err("-----1", MANDATE_EPARSE, 1, 1, "too many '-' in a row");
    expr_err("!-1", MANDATE_EPARSE, 1, 2, "expected an expression, found '-'");
}

static void test_long_range(void **state)
{
    expr_is("-9223372036854775808", "-9223372036854775808");
    expr_is("9223372036854775807", "9223372036854775807");
    expr_is("--9223372036854775808", "(neg -9223372036854775808)");
    expr_is("1 - -9223372036854775808", "(- 1 -9223372036854775808)");
    expr_err("9223372036854775808", MANDATE_EPARSE, 1, 1,
             "integer literal 9223372036854775808 is out of range for a Long");
    expr_err("-9223372036854775809", MANDATE_EPARSE, 1, 2,
             "integer literal -9223372036854775809 is out of range for a Long");
    expr_err("1 + 99999999999999999999999", MANDATE_EPARSE, 1, 5,
             "integer literal '99999999999999999999999' is too large");
    expr_err("-(9223372036854775808)", MANDATE_EPARSE, 1, 3, "out of range for a Long");
}

static void test_member_access(void **state)
{
    expr_is("principal.a[\"b c\"].d", "(. (. (. principal a) b c) d)");
    expr_is("context.principal", "(. context principal)");
    expr_is("{a: 1}.a", "(. {a:1} a)");
    expr_is("\"s\".x", "(. \"s\" x)");
    expr_err("principal.if", MANDATE_EPARSE, 1, 11,
             "'if' is a reserved word and cannot be used as an attribute name");
    expr_err("principal[x]", MANDATE_EPARSE, 1, 11, "expected a string literal and ']'");
    expr_err("principal(1)", MANDATE_EPARSE, 1, 1, "variable principal cannot be called");
    expr_err("(1)(2)", MANDATE_EPARSE, 1, 4, "only extension functions can be called");
    expr_err("foo.bar", MANDATE_EPARSE, 1, 1, "unknown variable 'foo'");
    expr_err("A::B", MANDATE_EPARSE, 1, 1, "'A::B' is an entity type, not a value");
    expr_err("principal.__cedar", MANDATE_EPARSE, 1, 11, "'__cedar' is reserved");
}

static void test_methods(void **state)
{
    expr_is("[1, 2].contains(1)", "(contains [1 2] 1)");
    expr_is("[1].containsAll([1])", "(containsAll [1] [1])");
    expr_is("[1].containsAny([])", "(containsAny [1] [])");
    expr_is("[].isEmpty()", "(isEmpty [])");
    expr_is("principal.hasTag(\"t\") && principal.getTag(\"t\") == 1",
            "(&& (hasTag principal \"t\") (== (getTag principal \"t\") 1))");
    expr_err("[1].contains(1, 2)", MANDATE_EPARSE, 1, 5, "'contains' takes 1 argument, found 2");
    expr_err("[1].isEmpty(1)", MANDATE_EPARSE, 1, 5, "'isEmpty' takes 0 arguments, found 1");
    expr_err("principal.foo()", MANDATE_EPARSE, 1, 11, "unknown method 'foo'");
    expr_err("contains([1], 1)", MANDATE_EPARSE, 1, 1, "'contains' is a method, not a function");
}

static void test_extension_functions(void **state)
{
    char want[128];
    snprintf(want, sizeof want, "(call%d \"1.2\")", (int)MD_FN_DECIMAL);
    expr_is("decimal(\"1.2\")", want);
    snprintf(want, sizeof want, "(call%d (call%d \"10.0.0.1\") (call%d \"10.0.0.0/8\"))",
             (int)MD_FN_IS_IN_RANGE, (int)MD_FN_IP, (int)MD_FN_IP);
    expr_is("ip(\"10.0.0.1\").isInRange(ip(\"10.0.0.0/8\"))", want);
    snprintf(want, sizeof want, "(call%d (call%d \"2024-01-01\"))", (int)MD_FN_TO_DATE,
             (int)MD_FN_DATETIME);
    expr_is("datetime(\"2024-01-01\").toDate()", want);
    snprintf(want, sizeof want, "(call%d (. context d) (call%d \"1h\"))", (int)MD_FN_OFFSET,
             (int)MD_FN_DURATION);
    expr_is("context.d.offset(duration(\"1h\"))", want);
    snprintf(want, sizeof want, "(call%d 1 2)", (int)MD_FN_LESS_THAN);
    expr_is("1.lessThan(2)", want);
    /* Cedar checks extension arity at evaluation, not parsing (the corpus relies on it). */
    snprintf(want, sizeof want, "(call%d \"a\" \"b\")", (int)MD_FN_IP);
    expr_is("ip(\"a\", \"b\",)", want);
    snprintf(want, sizeof want, "(call%d 1 2 3)", (int)MD_FN_IS_MULTICAST);
    expr_is("1.isMulticast(2, 3)", want);

    expr_err("1 + foo(\"x\")", MANDATE_EPARSE, 1, 5, "unknown extension function 'foo'");
    expr_err("ns::ip(\"x\")", MANDATE_EPARSE, 1, 1, "unknown extension function 'ns::ip'");
    expr_err("context.ip(\"x\")", MANDATE_EPARSE, 1, 9,
             "'ip' is a function, not a method; call it as ip(...)");
    expr_err("lessThan(1, 2)", MANDATE_EPARSE, 1, 1, "'lessThan' is a method, not a function");
}

static void test_has(void **state)
{
    expr_is("principal has name", "(has principal name)");
    expr_is("principal has \"a b\"", "(has principal a b)");
    expr_is("context has principal", "(has context principal)");
    expr_is("principal has a.b.c",
            "(&& (&& (has principal a) (has (. principal a) b)) (has (. (. principal a) b) c))");
    expr_is("principal has a.b && true",
            "(&& (&& (has principal a) (has (. principal a) b)) true)");
    expr_err("principal has if", MANDATE_EPARSE, 1, 15, "'if' is a reserved word");
    expr_err("principal has a.true", MANDATE_EPARSE, 1, 17, "'true' is a reserved word");
    expr_err("principal has 1", MANDATE_EPARSE, 1, 15, "expected an attribute name");
    expr_err("principal has a::b", MANDATE_EPARSE, 1, 16, "a name with '::' cannot be");
}

static void test_like(void **state)
{
    expr_is("context.s like \"a*b\"", "(like (. context s) a<*>b)");
    expr_is("\"x\" like \"\\*lit**\"", "(like \"x\" *lit<*>)");
    expr_is("\"x\" like \"\\u{2a}\"", "(like \"x\" <*>)");
    expr_is("\"x\" like \"\"", "(like \"x\" )");
    const md_expr *e;
    md_diag d = {0};
    const char *t = "\"x\" like \"*a\\*b*\"";
    assert_int_equal(md_expr_parse(arena, t, strlen(t), &e, &d), 0);
    assert_int_equal(e->u.like.pat.n, 3);
    assert_true(e->u.like.pat.elems[0].star);
    assert_true(md_str_eq_c(e->u.like.pat.elems[1].lit, "a*b"));
    assert_true(e->u.like.pat.elems[2].star);
    expr_err("\"x\" like principal", MANDATE_EPARSE, 1, 10, "expected a pattern string");
    expr_err("\"x\" like \"a\\qb\"", MANDATE_EPARSE, 1, 12, "invalid escape '\\q' in string");
}

static void test_is(void **state)
{
    expr_is("principal is User", "(is principal User)");
    expr_is("principal is NS::User in Group::\"g\"", "(is principal NS::User in Group::\"g\")");
    expr_is("principal is principal", "(is principal principal)");
    expr_is("principal is User && true", "(&& (is principal User) true)");
    expr_err("principal is if", MANDATE_EPARSE, 1, 14, "'if' is a reserved word");
    expr_err("principal is 1", MANDATE_EPARSE, 1, 14, "expected an entity type after 'is'");
}

static void test_relations(void **state)
{
    expr_err("1 < 2 < 3", MANDATE_EPARSE, 1, 7, "relational operators cannot be chained");
    expr_err("1 == 2 in 3", MANDATE_EPARSE, 1, 8, "cannot be chained");
    expr_err("1 = 2", MANDATE_EPARSE, 1, 3, "'=' is not an operator; use '=='");
    expr_err("4 / 2", MANDATE_EPARSE, 1, 3, "Cedar has no division operator");
    expr_err("4 % 2", MANDATE_EPARSE, 1, 3, "remainder");
    expr_err("1 + if true then 1 else 2", MANDATE_EPARSE, 1, 5, "needs parentheses");
    expr_err("1 | 2", MANDATE_EPARSE, 1, 3, "unexpected character '|'; did you mean '||'?");
    expr_err("true && ", MANDATE_EPARSE, 1, 9, "expected an expression, found end of input");
    expr_err("1 2", MANDATE_EPARSE, 1, 3, "expected the end of the expression, found '2'");
}

static void test_sets_and_records(void **state)
{
    expr_is("[]", "[]");
    expr_is("[1, [2, \"x\"], {},]", "[1 [2 \"x\"] {}]");
    expr_is("{a: 1, \"b c\": [true], principal: 2, permit: 3,}",
            "{a:1 b c:[true] principal:2 permit:3}");
    expr_is("{}", "{}");
    expr_err("{a: 1, b: 2, \"a\": 3}", MANDATE_EPARSE, 1, 14,
             "duplicate key 'a' in the record literal");
    expr_err("{if: 1}", MANDATE_EPARSE, 1, 2, "'if' is a reserved word");
    expr_err("{1: 1}", MANDATE_EPARSE, 1, 2, "expected a record key");
    expr_err("{a: 1 b: 2}", MANDATE_EPARSE, 1, 7, "expected ',' or '}' in the record literal");
    expr_err("[1, 2", MANDATE_EPARSE, 1, 6, "expected ',' or ']' in the set literal");
    expr_err("Ty::{id: \"x\"}", MANDATE_EPARSE, 1, 5, "entity literals of the form Type::{...}");

    /* Many keys: the sort-based duplicate check. */
    md_buf b;
    md_buf_init(&b, 1 << 20);
    md_buf_puts(&b, "{");
    for (int i = 0; i < 200; i++)
        md_buf_printf(&b, "k%d: %d, ", i, i);
    md_buf_puts(&b, "k150: 0}");
    const md_expr *e;
    md_diag d = {0};
    assert_int_equal(md_expr_parse(arena, b.data, b.len, &e, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "duplicate key 'k150'"));
    md_buf_release(&b);
}

static void test_string_escapes(void **state)
{
    const md_expr *e;
    md_diag d = {0};
    const char *t = "\"\\n\\r\\t\\\\\\0\\'\\\"\\u{48}\\u{1F600}\\x41\\u{1_0}é\"";
    assert_int_equal(md_expr_parse(arena, t, strlen(t), &e, &d), 0);
    const char want[] = "\n\r\t\\\0'\"H\xf0\x9f\x98\x80"
                        "A\x10\xc3\xa9";
    assert_int_equal(e->u.lit.u.s.len, sizeof want - 1);
    assert_memory_equal(e->u.lit.u.s.ptr, want, sizeof want - 1);

    parse_err("permit(principal, action, resource)\n when { \"ab\\q\" };", MANDATE_EPARSE, 2, 12,
              "invalid escape '\\q' in string");
    expr_err("\"a\nb\\z\"", MANDATE_EPARSE, 2, 2, "invalid escape '\\z' in string");
    expr_err("\"\\x80\"", MANDATE_EPARSE, 1, 2, "invalid escape '\\x80' in string");
    expr_err("\"\\u{D800}\"", MANDATE_EPARSE, 1, 2, "lone surrogate");
    expr_err("\"\\u{110000}\"", MANDATE_EPARSE, 1, 2, "beyond U+10FFFF");
    expr_err("\"\\u{}\"", MANDATE_EPARSE, 1, 2, "empty");
    expr_err("\"\\u{1234567}\"", MANDATE_EPARSE, 1, 2, "more than 6 digits");
    expr_err("\"\\u0041\"", MANDATE_EPARSE, 1, 2, "expected '{'");
    expr_err("\"\\*\"", MANDATE_EPARSE, 1, 2, "only allowed in 'like' patterns");
    expr_err("  \"abc", MANDATE_EPARSE, 1, 3, "unterminated string");
    expr_err("User::\"a\\qb\"", MANDATE_EPARSE, 1, 9, "invalid escape '\\q'");
    expr_err("\"ab\rc\"", MANDATE_EPARSE, 1, 4,
             "a carriage return in a string must be written as \\r");
}

static void test_reserved_names(void **state)
{
    expr_err("if::\"x\"", MANDATE_EPARSE, 1, 1,
             "'if' is a reserved word and cannot be used in a name");
    expr_err("A::in::\"x\"", MANDATE_EPARSE, 1, 4, "'in' is a reserved word");
    expr_err("__cedar::A::\"x\"", MANDATE_EPARSE, 1, 1, "'__cedar' is reserved");
    expr_err("then", MANDATE_EPARSE, 1, 1, "expected an expression, found 'then'");
    expr_err("foo", MANDATE_EPARSE, 1, 1,
             "unknown variable 'foo'; the variables are principal, action, resource and context");
}

static void test_lexer(void **state)
{
    /* Unicode whitespace (NBSP, ideographic space) is whitespace, as Rust's \s. */
    expr_is("1\xc2\xa0+\xe3\x80\x80"
            "2",
            "(+ 1 2)");
    expr_err("1 + \xff", MANDATE_EPARSE, 1, 5, "invalid UTF-8 byte 0xff");
    expr_err("1 # 2", MANDATE_EPARSE, 1, 3, "unexpected character '#'");
    expr_err("1 + \xc3\xa9", MANDATE_EPARSE, 1, 5, "unexpected character U+00E9");
    expr_err("\"a\xc3\"", MANDATE_EPARSE, 1, 3, "invalid UTF-8 byte 0xc3 in a string");
    expr_err("// \xff\n1", MANDATE_EPARSE, 1, 4, "invalid UTF-8 byte 0xff in a comment");
    expr_err("? principal", MANDATE_EPARSE, 1, 1, "unexpected character '?'");
    /* An embedded NUL outside a string is an error, inside one it is data. */
    const char t[] = "\"a\0b\"";
    const md_expr *e;
    md_diag d = {0};
    assert_int_equal(md_expr_parse(arena, t, sizeof t - 1, &e, &d), 0);
    assert_int_equal(e->u.lit.u.s.len, 3);
    assert_int_equal(md_expr_parse(arena, "1\0", 2, &e, &d), MANDATE_EPARSE);
}

static void test_expression_positions(void **state)
{
    md_policyset *ps = parse_ok("permit(principal, action, resource)\nwhen {\n  principal.a + 1 "
                                "> 2\n};");
    const md_expr *e = cond0(ps->policies[0]);
    assert_int_equal(e->op, MD_E_GT);
    assert_int_equal(e->line, 3);
    assert_int_equal(e->col, 3);
    assert_int_equal(e->u.k.b->line, 3);
    assert_int_equal(e->u.k.b->col, 21);
    assert_int_equal(e->u.k.a->u.k.b->col, 17);
}

/* ---- caps ---- */

static void test_depth_cap(void **state)
{
    md_buf b;
    md_buf_init(&b, 1 << 20);
    const md_expr *e;
    md_diag d = {0};

    /* 100 nested parentheses and sets are fine. */
    for (int i = 0; i < 100; i++)
        md_buf_puts(&b, "([");
    md_buf_puts(&b, "1");
    for (int i = 0; i < 100; i++)
        md_buf_puts(&b, "])");
    assert_int_equal(md_expr_parse(arena, b.data, b.len, &e, &d), 0);
    md_buf_release(&b);

    /* Parentheses past the cap. */
    md_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100000; i++)
        md_buf_puts(&b, "(");
    md_diag_clear(&d);
    assert_int_equal(md_expr_parse(arena, b.data, b.len, &e, &d), MANDATE_ETOOBIG);
    assert_non_null(strstr(d.msg, "nested more than 512 levels"));
    md_buf_release(&b);

    /* A long member chain builds a deep tree: capped too. */
    md_buf_init(&b, 1 << 20);
    md_buf_puts(&b, "context");
    for (int i = 0; i < 5000; i++)
        md_buf_puts(&b, ".a");
    md_diag_clear(&d);
    assert_int_equal(md_expr_parse(arena, b.data, b.len, &e, &d), MANDATE_ETOOBIG);
    md_buf_release(&b);

    /* So does a long chain of binary operators (left-deep). */
    md_buf_init(&b, 1 << 20);
    md_buf_puts(&b, "1");
    for (int i = 0; i < 5000; i++)
        md_buf_puts(&b, " + 1");
    md_diag_clear(&d);
    assert_int_equal(md_expr_parse(arena, b.data, b.len, &e, &d), MANDATE_ETOOBIG);
    md_buf_release(&b);

    /* Records nested past the cap inside a policy. */
    md_buf_init(&b, 1 << 20);
    md_buf_puts(&b, "permit(principal, action, resource) when { ");
    for (int i = 0; i < 2000; i++)
        md_buf_puts(&b, "{a: ");
    md_policyset *ps;
    md_diag_clear(&d);
    assert_int_equal(md_policyset_parse(arena, b.data, b.len, NULL, &ps, &d), MANDATE_ETOOBIG);
    md_buf_release(&b);

    /* A wide set is not deep. */
    md_buf_init(&b, 1 << 20);
    md_buf_puts(&b, "[");
    for (int i = 0; i < 5000; i++)
        md_buf_puts(&b, "1,");
    md_buf_puts(&b, "]");
    md_diag_clear(&d);
    assert_int_equal(md_expr_parse(arena, b.data, b.len, &e, &d), 0);
    assert_int_equal(e->u.list.n, 5000);
    md_buf_release(&b);
}

static void test_size_cap(void **state)
{
    /* The length is checked before the text is read. */
    static const char small[] = "permit(principal, action, resource);";
    md_policyset *ps;
    md_diag d = {0};
    assert_int_equal(
        md_policyset_parse(arena, small, (size_t)MD_CEDAR_MAX_POLICY_TEXT + 1, NULL, &ps, &d),
        MANDATE_ETOOBIG);
    assert_non_null(strstr(d.msg, "over the limit"));
    const md_expr *e;
    md_diag_clear(&d);
    assert_int_equal(md_expr_parse(arena, small, (size_t)MD_CEDAR_MAX_POLICY_TEXT + 1, &e, &d),
                     MANDATE_ETOOBIG);
}

/* ---- entry points ---- */

static void test_euid_parse(void **state)
{
    md_euid u;
    md_diag d = {0};
    const char *t = "NS::User::\"al\\\"ice\"";
    assert_int_equal(md_euid_parse(arena, t, strlen(t), &u, &d), 0);
    assert_true(md_str_eq_c(u.type, "NS::User"));
    assert_true(md_str_eq_c(u.id, "al\"ice"));
    t = " Action :: \"\" ";
    assert_int_equal(md_euid_parse(arena, t, strlen(t), &u, &d), 0);
    assert_true(md_str_eq_c(u.type, "Action"));
    assert_int_equal(u.id.len, 0);
    t = "User";
    assert_int_equal(md_euid_parse(arena, t, strlen(t), &u, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "expected an entity uid like Type::\"id\", found 'User'"));
    md_diag_clear(&d);
    t = "User::\"a\" x";
    assert_int_equal(md_euid_parse(arena, t, strlen(t), &u, &d), MANDATE_EPARSE);
    assert_int_equal(d.col, 11);
    md_diag_clear(&d);
    t = "\"a\"";
    assert_int_equal(md_euid_parse(arena, t, strlen(t), &u, &d), MANDATE_EPARSE);
}

static void test_merge(void **state)
{
    md_policyset *a = parse_ok("permit(principal, action, resource);");
    md_policyset *b = NULL;
    md_diag d = {0};
    const char *t = "forbid(principal, action, resource); permit(principal == ?principal, action, "
                    "resource);";
    assert_int_equal(md_policyset_parse(arena, t, strlen(t), "b", &b, &d), 0);
    assert_int_equal(md_policyset_merge(arena, a, b, &d), 0);
    assert_int_equal(a->n, 2);
    assert_int_equal(a->n_templates, 1);
    assert_true(md_str_eq_c(a->policies[1]->id, "b0"));
    assert_true(md_str_eq_c(a->templates[0]->id, "b1"));
    /* Merging again collides. */
    assert_int_equal(md_policyset_merge(arena, a, b, &d), MANDATE_EEXIST);
    assert_non_null(strstr(d.msg, "'b0'"));
    assert_int_equal(a->n, 2);
}

static void test_link(void **state)
{
    md_policyset *ps =
        parse_ok("permit(principal == ?principal, action, resource in ?resource) when { true };\n"
                 "permit(principal, action, resource == ?resource);");
    md_euid alice = {MD_STR_LIT("User"), MD_STR_LIT("alice")};
    md_euid doc = {MD_STR_LIT("Doc"), MD_STR_LIT("d")};
    md_diag d = {0};
    assert_int_equal(
        md_policyset_link(arena, ps, MD_STR_LIT("policy0"), MD_STR_LIT("link0"), &alice, &doc, &d),
        0);
    assert_int_equal(ps->n, 1);
    const md_policy *p = ps->policies[0];
    assert_true(md_str_eq_c(p->id, "link0"));
    assert_true(md_str_eq_c(p->template_id, "policy0"));
    assert_false(p->is_template);
    assert_true(p->has_principal_slot && p->has_resource_slot);
    assert_true(md_str_eq_c(p->principal_slot.id, "alice"));
    assert_int_equal(p->principal.kind, MD_SCOPE_EQ);
    assert_false(p->principal.slot);
    assert_true(md_str_eq_c(p->principal.uid.id, "alice"));
    assert_int_equal(p->resource.kind, MD_SCOPE_IN);
    assert_true(md_str_eq_c(p->resource.uid.type, "Doc"));
    assert_int_equal(p->n_conds, 1);
    assert_true(ps->templates[0]->principal.slot); /* the template is unchanged */

    assert_int_equal(
        md_policyset_link(arena, ps, MD_STR_LIT("policy0"), MD_STR_LIT("link0"), &alice, &doc, &d),
        MANDATE_EEXIST);
    md_diag_clear(&d);
    assert_int_equal(md_policyset_link(arena, ps, MD_STR_LIT("policy0"), MD_STR_LIT("policy1"),
                                       &alice, &doc, &d),
                     MANDATE_EEXIST);
    md_diag_clear(&d);
    assert_int_equal(
        md_policyset_link(arena, ps, MD_STR_LIT("nope"), MD_STR_LIT("x"), &alice, &doc, &d),
        MANDATE_ENOTFOUND);
    md_diag_clear(&d);
    assert_int_equal(
        md_policyset_link(arena, ps, MD_STR_LIT("policy1"), MD_STR_LIT("x"), &alice, &doc, &d),
        MANDATE_EINVAL);
    assert_non_null(strstr(d.msg, "?resource"));
    md_diag_clear(&d);
    assert_int_equal(
        md_policyset_link(arena, ps, MD_STR_LIT("policy1"), MD_STR_LIT("x"), NULL, &doc, &d), 0);
    assert_int_equal(ps->n, 2);
    assert_false(ps->policies[1]->has_principal_slot);
}

static void test_multiple_policies_text(void **state)
{
    md_policyset *ps = parse_ok("permit(principal, action, resource);\n"
                                "\n"
                                "  @id(\"b\")\n"
                                "  forbid(principal, action, resource) // why\n"
                                "  unless { false };  permit(principal,action,resource);");
    assert_int_equal(ps->n, 3);
    assert_int_equal(ps->policies[1]->line, 3);
    assert_int_equal(ps->policies[1]->col, 3);
    assert_true(md_str_eq_c(ps->policies[1]->text,
                            "@id(\"b\")\n  forbid(principal, action, resource) // why\n  unless "
                            "{ false };"));
    assert_int_equal(ps->policies[2]->line, 5);
    assert_int_equal(ps->policies[2]->col, 22);
    assert_true(md_str_eq_c(ps->policies[2]->text, "permit(principal,action,resource);"));
}

static void test_comments_between_tokens(void **state)
{
    md_policyset *ps = parse_ok("permit // a\n( // b\nprincipal // c\n== // d\nUser // e\n:: // "
                                "f\n\"x\", action, resource) // g\nwhen // h\n{ // i\ntrue // "
                                "j\n} // k\n; // l");
    assert_int_equal(ps->n, 1);
    assert_true(md_str_eq_c(ps->policies[0]->principal.uid.type, "User"));
    assert_true(md_str_eq_c(ps->policies[0]->principal.uid.id, "x"));
}

static void test_columns_count_bytes(void **state)
{
    /* "é" is two bytes: the error column is a byte column. */
    expr_err("\"é\" + #", MANDATE_EPARSE, 1, 8, "unexpected character '#'");
    expr_err("\"é\néé\" #", MANDATE_EPARSE, 2, 7, "unexpected character '#'");
}

static void test_if_errors(void **state)
{
    expr_err("if true 1 else 2", MANDATE_EPARSE, 1, 9,
             "expected 'then' after the 'if' condition, found '1'");
    expr_err("if true then 1", MANDATE_EPARSE, 1, 15,
             "expected 'else' after the 'then' branch, found end of input");
    expr_err("if then 1 else 2", MANDATE_EPARSE, 1, 4, "expected an expression, found 'then'");
}

static void test_escapes_in_ids_and_annotations(void **state)
{
    md_policyset *ps = parse_ok("@note(\"caf\\u{e9}\\n\") permit(principal == "
                                "User::\"\\u{1F600}\\\\\", action, resource);");
    const md_policy *p = ps->policies[0];
    assert_true(md_str_eq_c(p->annotations[0].value, "caf\xc3\xa9\n"));
    assert_true(md_str_eq_c(p->principal.uid.id, "\xf0\x9f\x98\x80\\"));
    parse_err("@note(\"a\\qb\") permit(principal, action, resource);", MANDATE_EPARSE, 1, 9,
              "invalid escape '\\q' in string");
}

static void test_record_keys_after_unescaping(void **state)
{
    /* Keys are compared after unescaping: "\u{61}" is the key a. */
    expr_err("{a: 1, \"\\u{61}\": 2}", MANDATE_EPARSE, 1, 8, "duplicate key 'a'");
    expr_is("{\"\": 1}", "{:1}");
}

static void test_invalid_arguments(void **state)
{
    md_policyset *ps;
    md_diag d = {0};
    assert_int_equal(md_policyset_parse(NULL, "", 0, NULL, &ps, &d), MANDATE_EINVAL);
    md_diag_clear(&d);
    assert_int_equal(md_policyset_parse(arena, NULL, 3, NULL, &ps, &d), MANDATE_EINVAL);
    md_diag_clear(&d);
    const md_expr *e;
    assert_int_equal(md_expr_parse(arena, "", 0, &e, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "expected an expression, found end of input"));
}

static void test_unless_and_has_in_policy(void **state)
{
    md_policyset *ps = parse_ok("forbid(principal, action, resource) unless { context has "
                                "\"a\" && context.a has b.c };");
    const md_policy *p = ps->policies[0];
    assert_false(p->permit);
    assert_int_equal(p->n_conds, 1);
    assert_false(p->conds[0].when);
    const md_expr *e = cond0(p);
    assert_int_equal(e->op, MD_E_AND);
    assert_int_equal(e->u.k.a->op, MD_E_HAS_ATTR);
    assert_int_equal(e->u.k.b->op, MD_E_AND); /* the desugared path */
    assert_int_equal(e->u.k.b->u.k.b->op, MD_E_HAS_ATTR);
    assert_true(md_str_eq_c(e->u.k.b->u.k.b->u.attr.name, "c"));
}

static void test_slot_in_md_expr_parse(void **state)
{
    /* Single expressions may hold slots (as Cedar's Expr parser allows); policies may not. */
    expr_is("principal == ?principal", "(== principal ?principal)");
    expr_is("[?resource]", "[?resource]");
}

/* ---- the conformance corpus ---- */

static void test_corpus_parses(void **state)
{
    const char *dir = getenv("MANDATE_SHARED_DIR");
    char pat[1024];
    snprintf(pat, sizeof pat, "%s/cedar-conformance/corpus-tests/*.cedar", dir ? dir : "../shared");
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0) {
        print_message("conformance corpus not found (%s); skipped\n", pat);
        skip();
    }
    size_t failed = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *text;
        size_t len;
        md_diag d = {0};
        assert_int_equal(md_read_file(g.gl_pathv[i], 1 << 24, &text, &len, &d), 0);
        md_arena *a = md_arena_new();
        md_policyset *ps;
        if (md_policyset_parse(a, text, len, NULL, &ps, &d) != 0) {
            print_error("%s:%u:%u: %s\n", g.gl_pathv[i], d.line, d.col, d.msg);
            failed++;
        } else if (ps->n != 1 || !md_str_eq_c(ps->policies[0]->id, "policy0")) {
            failed++;
        }
        md_arena_free(a);
        free(text);
    }
    assert_true(g.gl_pathc > 7000);
    globfree(&g);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simple_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_and_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_annotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_principal_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_action, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_semicolon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literals_and_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence_real, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_has, setup, teardown),
        cmocka_unit_test_setup_teardown(test_like, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sets_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lexer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expression_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_euid_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiple_policies_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments_between_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_columns_count_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_if_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_in_ids_and_annotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_keys_after_unescaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unless_and_has_in_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_in_md_expr_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corpus_parses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
