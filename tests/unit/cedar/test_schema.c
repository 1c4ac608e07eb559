/* test_schema.c: the human-readable schema parser (src/cedar/schema.c): syntax, Cedar's name
 * resolution, common-type inlining, errors with positions, caps, and action entities. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "cedar/cedar_int.h"
#include "cedar/schema.h"

typedef struct fx {
    md_arena *a;
    md_diag d;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->a = md_arena_new();
    *state = f;
    return f->a ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    md_arena_free(f->a);
    free(f);
    return 0;
}

static const md_schema *ok(fx *f, const char *text)
{
    const md_schema *s = NULL;
    md_diag_clear(&f->d);
    int rc = md_schema_parse(f->a, text, strlen(text), &s, &f->d);
    if (rc)
        fprintf(stderr, "unexpected error %d at %u:%u: %s\n", rc, f->d.line, f->d.col, f->d.msg);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

/* Parses text expecting error code; checks that the message contains want and returns it. */
static const char *bad(fx *f, const char *text, int code, const char *want)
{
    const md_schema *s = (const md_schema *)1;
    md_diag_clear(&f->d);
    int rc = md_schema_parse(f->a, text, strlen(text), &s, &f->d);
    if (rc != code || !strstr(f->d.msg, want))
        fprintf(stderr, "got %d '%s', wanted %d '%s'\n", rc, f->d.msg, code, want);
    assert_int_equal(rc, code);
    assert_null(s);
    assert_int_equal(f->d.code, code);
    assert_non_null(strstr(f->d.msg, want));
    return f->d.msg;
}

static const md_entity_type *et(const md_schema *s, const char *name)
{
    const md_entity_type *e = md_schema_entity_type(s, md_str_c(name));
    if (!e)
        fprintf(stderr, "no entity type '%s'\n", name);
    assert_non_null(e);
    return e;
}

static const md_action *act(const md_schema *s, const char *type, const char *id)
{
    md_euid u = {md_str_c(type), md_str_c(id)};
    const md_action *a = md_schema_action(s, &u);
    assert_non_null(a);
    return a;
}

static const md_type *attr(const md_type *rec, const char *name, bool *required)
{
    assert_int_equal(rec->kind, MD_T_RECORD);
    for (size_t i = 0; i < rec->u.rec.n; i++)
        if (md_str_eq_c(rec->u.rec.attrs[i].name, name)) {
            if (required)
                *required = rec->u.rec.attrs[i].required;
            return rec->u.rec.attrs[i].type;
        }
    fprintf(stderr, "no attribute '%s'\n", name);
    fail();
    return NULL;
}

static void assert_entity_type(const md_type *t, const char *name)
{
    assert_int_equal(t->kind, MD_T_ENTITY);
    assert_true(md_str_eq_c(t->u.name, name));
}

static bool has_str(size_t n, const md_str *v, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (md_str_eq_c(v[i], s))
            return true;
    return false;
}

/* ---- syntax ---- */

static void test_entity_basic(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "entity User = { name: String, age?: Long, admin: Bool };");
    assert_int_equal(s->n_entity_types, 1);
    const md_entity_type *u = et(s, "User");
    bool req = false;
    assert_int_equal(attr(u->shape, "name", &req)->kind, MD_T_STRING);
    assert_true(req);
    assert_int_equal(attr(u->shape, "age", &req)->kind, MD_T_LONG);
    assert_false(req);
    assert_int_equal(attr(u->shape, "admin", NULL)->kind, MD_T_BOOL);
    assert_null(u->tags);
    assert_false(u->is_enum);
    /* attributes sorted by name */
    assert_true(md_str_eq_c(u->shape->u.rec.attrs[0].name, "admin"));
    assert_true(md_str_eq_c(u->shape->u.rec.attrs[2].name, "name"));
}

static void test_entity_multi_names_parents_tags(void **state)
{
    fx *f = *state;
    const md_schema *s =
        ok(f, "entity A, B in [C, D] = { x: Long } tags Set<String>; entity C; entity D;");
    assert_int_equal(s->n_entity_types, 4);
    for (int i = 0; i < 2; i++) {
        const md_entity_type *e = et(s, i ? "B" : "A");
        assert_int_equal(e->n_member_of, 2);
        assert_true(has_str(e->n_member_of, e->member_of, "C"));
        assert_true(has_str(e->n_member_of, e->member_of, "D"));
        assert_non_null(e->tags);
        assert_int_equal(e->tags->kind, MD_T_SET);
        assert_int_equal(e->tags->u.elem->kind, MD_T_STRING);
        assert_int_equal(attr(e->shape, "x", NULL)->kind, MD_T_LONG);
    }
    /* sorted by name */
    assert_true(md_str_eq_c(s->entity_types[0].name, "A"));
    assert_true(md_str_eq_c(s->entity_types[3].name, "D"));
    /* a declared entity type without shape has an empty record */
    assert_int_equal(et(s, "C")->shape->kind, MD_T_RECORD);
    assert_int_equal(et(s, "C")->shape->u.rec.n, 0);
}

static void test_entity_without_eq_and_single_parent(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "entity A in C { x: Long, }; entity C; entity E in [];");
    const md_entity_type *a = et(s, "A");
    assert_int_equal(a->n_member_of, 1);
    assert_true(md_str_eq_c(a->member_of[0], "C"));
    assert_int_equal(a->shape->u.rec.n, 1);
    assert_int_equal(et(s, "E")->n_member_of, 0);
    bad(f, "entity A = ;", MANDATE_EPARSE, "expected '{' after '='");
}

static void test_enum_entity(void **state)
{
    fx *f = *state;
    const md_schema *s =
        ok(f, "entity Color enum [\"red\", \"gr\\u{e9}en\"]; entity P in [Color];");
    const md_entity_type *c = et(s, "Color");
    assert_true(c->is_enum);
    assert_int_equal(c->n_enum, 2);
    assert_true(md_str_eq_c(c->enum_ids[0], "red"));
    assert_true(md_str_eq_c(c->enum_ids[1], "gr\xc3\xa9"
                                            "en"));
    assert_int_equal(c->shape->u.rec.n, 0);
    bad(f, "entity E enum [];", MANDATE_EPARSE, "expected an entity id as a string literal");
    bad(f, "entity E in [F] enum [\"a\"]; entity F;", MANDATE_EPARSE, "found 'enum'");
}

static void test_types_set_record_ext(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "entity E { s: Set<Set<{ a: Long, b?: ipaddr }>>, d: decimal, "
                               "t: datetime, u: duration, v: __cedar::ipaddr, w: __cedar::Bool };");
    const md_type *sh = et(s, "E")->shape;
    const md_type *t = attr(sh, "s", NULL);
    assert_int_equal(t->kind, MD_T_SET);
    assert_int_equal(t->u.elem->kind, MD_T_SET);
    const md_type *r = t->u.elem->u.elem;
    bool req = true;
    assert_int_equal(attr(r, "b", &req)->kind, MD_T_IP);
    assert_false(req);
    assert_int_equal(attr(sh, "d", NULL)->kind, MD_T_DECIMAL);
    assert_int_equal(attr(sh, "t", NULL)->kind, MD_T_DATETIME);
    assert_int_equal(attr(sh, "u", NULL)->kind, MD_T_DURATION);
    assert_int_equal(attr(sh, "v", NULL)->kind, MD_T_IP);
    assert_int_equal(attr(sh, "w", NULL)->kind, MD_T_BOOL);
}

static void test_quoted_attribute_names(void **state)
{
    fx *f = *state;
    const md_schema *s =
        ok(f, "entity E { \"in\": Long, \"a b\": String, \"\\n\": Bool, \"\": Long };");
    const md_type *sh = et(s, "E")->shape;
    assert_int_equal(sh->u.rec.n, 4);
    assert_int_equal(attr(sh, "in", NULL)->kind, MD_T_LONG);
    assert_int_equal(attr(sh, "a b", NULL)->kind, MD_T_STRING);
    assert_int_equal(attr(sh, "\n", NULL)->kind, MD_T_BOOL);
    assert_true(md_str_eq_c(sh->u.rec.attrs[0].name, "")); /* sorted bytewise */
    bad(f, "entity E { in: Long };", MANDATE_EPARSE, "'in' is a reserved identifier");
}

static void test_comments_annotations_whitespace(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "// header\n@doc(\"users\") @x\nnamespace NS { // c\n"
                               "  @doc(\"u\") entity U { @doc(\"n\") @in name: String };\n"
                               "  @doc action \"view\" appliesTo { principal: U, resource: U };\n"
                               "}\n@doc(\"top\") entity\xc2\xa0T;// end");
    et(s, "NS::U");
    et(s, "T");
    act(s, "NS::Action", "view");
    bad(f, "@doc(\"a\") @doc(\"b\") entity A;", MANDATE_EPARSE, "duplicate annotation '@doc'");
    bad(f, "entity A { @a @b @a x: Long };", MANDATE_EPARSE, "duplicate annotation '@a'");
}

static void test_syntax_error_positions(void **state)
{
    fx *f = *state;
    bad(f, "entity A;\nentity B {\n  x: Long\n  y: Long };", MANDATE_EPARSE,
        "expected ',' or '}' after the attribute's type, found 'y'");
    assert_int_equal(f->d.line, 4);
    assert_int_equal(f->d.col, 3);
    bad(f, "entity A { x: Set<> };", MANDATE_EPARSE, "expected a type");
    assert_int_equal(f->d.col, 19);
    bad(f, "entity A;\n  $", MANDATE_EPARSE, "unexpected character '$'");
    assert_int_equal(f->d.line, 2);
    assert_int_equal(f->d.col, 3);
    bad(f, "entity A { \"abc: Long };", MANDATE_EPARSE, "unterminated string");
    bad(f, "namespace NS { entity A;", MANDATE_EPARSE, "namespace 'NS' is not closed");
    bad(f, "namespace NS { namespace M {} }", MANDATE_EPARSE, "cannot be nested");
    bad(f, "entity A;;", MANDATE_EPARSE, "found ';'");
    bad(f, "entity A { x: 12 };", MANDATE_EPARSE, "found a number");
}

static void test_string_escapes(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "action \"a\\x41\\t\\u{1F600}\\\\\\\"\\'\\0z\";");
    assert_int_equal(s->n_actions, 1);
    md_str id = s->actions[0].uid.id;
    assert_int_equal(id.len, 12);
    assert_memory_equal(id.ptr, "aA\t\xf0\x9f\x98\x80\\\"'\0z", 12);
    bad(f, "entity E { \"\\q\": Long };", MANDATE_EPARSE, "invalid escape");
    bad(f, "entity E { \"\\x80\": Long };", MANDATE_EPARSE, "out of range");
    bad(f, "entity E { \"\\u{D800}\": Long };", MANDATE_EPARSE, "not a Unicode scalar value");
    bad(f, "entity E { \"\\u{1234567}\": Long };", MANDATE_EPARSE, "more than 6 hex digits");
    bad(f, "entity E { \"a\rb\": Long };", MANDATE_EPARSE, "bare carriage return");
}

static void test_invalid_utf8(void **state)
{
    fx *f = *state;
    bad(f, "entity A;\nentity B { \"\xff\": Long };", MANDATE_EPARSE, "not valid UTF-8");
    assert_int_equal(f->d.line, 2);
    assert_int_equal(f->d.col, 13);
}

/* ---- name resolution ---- */

static void test_common_types_inlined(void **state)
{
    fx *f = *state;
    const md_schema *s =
        ok(f, "type Name = String; type Person = { name: Name, friends: Set<Person2> };"
              "type Person2 = { nick?: Name }; entity U { p: Person } tags Name;");
    const md_type *p = attr(et(s, "U")->shape, "p", NULL);
    assert_int_equal(attr(p, "name", NULL)->kind, MD_T_STRING);
    const md_type *fr = attr(p, "friends", NULL);
    assert_int_equal(fr->kind, MD_T_SET);
    bool req = true;
    assert_int_equal(attr(fr->u.elem, "nick", &req)->kind, MD_T_STRING);
    assert_false(req);
    assert_int_equal(et(s, "U")->tags->kind, MD_T_STRING);
    /* common types are not entity types */
    assert_null(md_schema_entity_type(s, MD_STR_LIT("Name")));
}

static void test_resolution_ns_common_before_ns_entity(void **state)
{
    fx *f = *state;
    /* inside NS, T is NS's common type even though NS also declares an entity type T */
    const md_schema *s = ok(f, "namespace NS { type T = Long; entity T; entity U { t: T }; }");
    assert_int_equal(attr(et(s, "NS::U")->shape, "t", NULL)->kind, MD_T_LONG);
    et(s, "NS::T");
}

static void test_resolution_ns_entity_before_empty_common(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "type X = Long; namespace NS { entity U { t: T, x: X }; entity T; }"
                               "namespace M { entity V { t: T }; type T = { a: Bool }; }");
    assert_entity_type(attr(et(s, "NS::U")->shape, "t", NULL), "NS::T");
    /* no NS::X: falls back to the empty namespace's common type */
    assert_int_equal(attr(et(s, "NS::U")->shape, "x", NULL)->kind, MD_T_LONG);
    assert_int_equal(attr(et(s, "M::V")->shape, "t", NULL)->kind, MD_T_RECORD);
}

static void test_resolution_empty_ns_fallback(void **state)
{
    fx *f = *state;
    const md_schema *s =
        ok(f, "entity G; type C = { g: G }; namespace NS { entity U in [G] { c: C, g: G }; "
              "action a appliesTo { principal: G, resource: U, context: C }; }");
    const md_entity_type *u = et(s, "NS::U");
    assert_true(md_str_eq_c(u->member_of[0], "G"));
    assert_entity_type(attr(u->shape, "g", NULL), "G");
    assert_entity_type(attr(attr(u->shape, "c", NULL), "g", NULL), "G");
    const md_action *a = act(s, "NS::Action", "a");
    assert_true(md_str_eq_c(a->principals[0], "G"));
    assert_true(md_str_eq_c(a->resources[0], "NS::U"));
    assert_entity_type(attr(a->context, "g", NULL), "G");
}

static void test_resolution_user_shadows_builtin(void **state)
{
    fx *f = *state;
    /* an entity type Long in the empty namespace takes the name; __cedar::Long stays the
     * built-in */
    const md_schema *s = ok(f, "entity Long; entity U { a: Long, b: __cedar::Long };"
                               "namespace NS { entity V { a: Long, s: String }; }");
    assert_entity_type(attr(et(s, "U")->shape, "a", NULL), "Long");
    assert_int_equal(attr(et(s, "U")->shape, "b", NULL)->kind, MD_T_LONG);
    assert_entity_type(attr(et(s, "NS::V")->shape, "a", NULL), "Long");
    assert_int_equal(attr(et(s, "NS::V")->shape, "s", NULL)->kind, MD_T_STRING);
    /* a common type decimal in NS shadows the extension type inside NS only */
    s = ok(f,
           "namespace NS { type decimal = String; entity V { d: decimal, e: __cedar::decimal }; }"
           "entity W { d: decimal };");
    assert_int_equal(attr(et(s, "NS::V")->shape, "d", NULL)->kind, MD_T_STRING);
    assert_int_equal(attr(et(s, "NS::V")->shape, "e", NULL)->kind, MD_T_DECIMAL);
    assert_int_equal(attr(et(s, "W")->shape, "d", NULL)->kind, MD_T_DECIMAL);
}

static void test_resolution_qualified_names(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "namespace A::B { entity C { x: A::B::C, y: C, z: D::E }; }"
                               "namespace D { entity E; }");
    const md_type *sh = et(s, "A::B::C")->shape;
    assert_entity_type(attr(sh, "x", NULL), "A::B::C");
    assert_entity_type(attr(sh, "y", NULL), "A::B::C");
    assert_entity_type(attr(sh, "z", NULL), "D::E");
    /* a qualified name is taken as written: A::B::D::E does not exist and D::E is not tried
     * relative to the namespace */
    bad(f, "namespace N { entity U { x: M::T }; } namespace N::M { entity T; }", MANDATE_EPARSE,
        "unknown type 'M::T'");
    /* a qualified path may have white space around '::' */
    s = ok(f, "namespace NS { entity A { x: NS :: B }; entity B; }");
    assert_entity_type(attr(et(s, "NS::A")->shape, "x", NULL), "NS::B");
}

static void test_action_type_as_attribute(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "namespace NS { entity E { a: Action }; action x; }");
    assert_entity_type(attr(et(s, "NS::E")->shape, "a", NULL), "NS::Action");
    bad(f, "namespace NS { entity E { a: Action }; }", MANDATE_EPARSE, "unknown type 'Action'");
    bad(f, "entity A; action a appliesTo { principal: Action, resource: A };", MANDATE_EPARSE,
        "is the type of actions");
}

static void test_unknown_type_message(void **state)
{
    fx *f = *state;
    bad(f, "entity User {\n  name: Strin\n};", MANDATE_EPARSE,
        "unknown type 'Strin' in attribute 'name' of entity type 'User'");
    assert_int_equal(f->d.line, 2);
    assert_int_equal(f->d.col, 9);
    bad(f, "namespace NS { entity U { r: { deep: Strin } }; }", MANDATE_EPARSE,
        "neither 'NS::Strin' nor 'Strin' is declared");
    bad(f, "entity E { x: __cedar::Foo };", MANDATE_EPARSE, "unknown type '__cedar::Foo'");
    bad(f, "entity A in [C];", MANDATE_EPARSE, "unknown parent type 'C' in entity type 'A'");
    bad(f, "entity E tags Strin;", MANDATE_EPARSE, "in the tags of entity type 'E'");
    /* an unused common type must still resolve */
    bad(f, "type T = Nope;", MANDATE_EPARSE, "unknown type 'Nope' in common type 'T'");
}

static void test_common_type_cycle(void **state)
{
    fx *f = *state;
    bad(f, "type A = B; type B = { x: A };", MANDATE_EPARSE, "cycle in common type references");
    bad(f, "type A = { x: Set<A> };", MANDATE_EPARSE, "containing 'A'");
}

/* ---- actions ---- */

static void test_actions_applies_to(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "namespace App { entity U; entity G; entity R;"
                               "action \"read\", write appliesTo { principal: [U, G], resource: R,"
                               "  context: { ip: ipaddr, n?: Long }, }; }");
    assert_int_equal(s->n_actions, 2);
    const md_action *r = act(s, "App::Action", "read");
    assert_true(r->has_applies_to);
    assert_int_equal(r->n_principals, 2);
    assert_true(has_str(r->n_principals, r->principals, "App::U"));
    assert_true(has_str(r->n_principals, r->principals, "App::G"));
    assert_int_equal(r->n_resources, 1);
    assert_true(md_str_eq_c(r->resources[0], "App::R"));
    assert_int_equal(attr(r->context, "ip", NULL)->kind, MD_T_IP);
    act(s, "App::Action", "write");
    md_euid missing = {MD_STR_LIT("Action"), MD_STR_LIT("read")};
    assert_null(md_schema_action(s, &missing));
}

static void test_action_without_applies_to(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "action a; action b attributes {};");
    const md_action *a = act(s, "Action", "a");
    assert_false(a->has_applies_to);
    assert_int_equal(a->n_principals, 0);
    assert_int_equal(a->n_resources, 0);
    assert_int_equal(a->context->kind, MD_T_RECORD);
    assert_int_equal(a->context->u.rec.n, 0);
    act(s, "Action", "b");
}

static void test_action_context_common_type(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "type Ctx = { mfa: Bool }; entity E;"
                               "action a appliesTo { principal: E, resource: E, context: Ctx };");
    assert_int_equal(attr(act(s, "Action", "a")->context, "mfa", NULL)->kind, MD_T_BOOL);
    bad(f, "type C = Long; entity E; action a appliesTo { principal: E, resource: E, context: C };",
        MANDATE_EPARSE, "must be a record type");
    bad(f, "entity E; action a appliesTo { principal: E, resource: E, context: E };",
        MANDATE_EPARSE, "unknown common type 'E'");
    bad(f, "entity E; action a appliesTo { principal: E, resource: E, context: Set<Long> };",
        MANDATE_EPARSE, "must be a record type");
}

static void test_action_applies_to_errors(void **state)
{
    fx *f = *state;
    bad(f, "entity A; action a appliesTo { principal: A };", MANDATE_EPARSE,
        "missing 'resource' declaration for action 'a'");
    bad(f, "entity A; action a appliesTo { resource: A };", MANDATE_EPARSE,
        "missing 'principal' declaration");
    bad(f, "entity A; action a appliesTo { principal: [], resource: A };", MANDATE_EPARSE,
        "'principal' is '[]'");
    bad(f, "entity A; action a appliesTo { principal: A, principal: A, resource: A };",
        MANDATE_EPARSE, "duplicate 'principal' declaration");
    bad(f, "entity A; action a appliesTo { principal: A, resource: A, context: {}, context: {} };",
        MANDATE_EPARSE, "duplicate context declaration");
    bad(f, "action a appliesTo {};", MANDATE_EPARSE, "expected 'principal', 'resource'");
    bad(f, "action a appliesTo { principal: U, resource: U };", MANDATE_EPARSE,
        "unknown principal type 'U'");
}

static void test_action_groups(void **state)
{
    fx *f = *state;
    const md_schema *s =
        ok(f, "action root; namespace NS { action read, \"write\" in [all, \"root\"];"
              "action all in Other::Action::\"x\"; } namespace Other { action x; }");
    const md_action *r = act(s, "NS::Action", "read");
    assert_int_equal(r->n_member_of, 2);
    md_euid all = {MD_STR_LIT("NS::Action"), MD_STR_LIT("all")};
    md_euid root = {MD_STR_LIT("Action"), MD_STR_LIT("root")}; /* empty-namespace fallback */
    assert_true(md_euid_eq(&r->member_of[0], &all));
    assert_true(md_euid_eq(&r->member_of[1], &root));
    const md_action *a = act(s, "NS::Action", "all");
    md_euid x = {MD_STR_LIT("Other::Action"), MD_STR_LIT("x")};
    assert_true(md_euid_eq(&a->member_of[0], &x));
    /* actions sorted by uid */
    for (size_t i = 1; i < s->n_actions; i++)
        assert_true(md_euid_cmp(&s->actions[i - 1].uid, &s->actions[i].uid) < 0);
    bad(f, "action a in b;", MANDATE_EPARSE, "unknown action group Action::\"b\"");
    bad(f, "namespace NS { action a in Foo::\"b\"; }", MANDATE_EPARSE,
        "neither NS::Foo::\"b\" nor Foo::\"b\" is declared");
}

static void test_action_cycle(void **state)
{
    fx *f = *state;
    bad(f, "action a in b; action b in c; action c in a;", MANDATE_EPARSE,
        "cycle in the action hierarchy");
    bad(f, "action a in a;", MANDATE_EPARSE,
        "cycle in the action hierarchy containing Action::\"a\"");
}

static void test_deep_action_hierarchy(void **state)
{
    fx *f = *state;
    /* a chain of 20000 actions: no recursion limit, no cycle */
    md_buf b;
    md_buf_init(&b, 1u << 22);
    assert_int_equal(md_buf_puts(&b, "action a0;\n"), 0);
    for (int i = 1; i < 20000; i++)
        assert_int_equal(md_buf_printf(&b, "action a%d in a%d;\n", i, i - 1), 0);
    const md_schema *s = ok(f, b.data);
    assert_int_equal(s->n_actions, 20000);
    md_buf_release(&b);
}

/* ---- duplicates and reserved names ---- */

static void test_duplicates(void **state)
{
    fx *f = *state;
    bad(f, "entity A; entity A;", MANDATE_EPARSE, "entity type 'A' is declared twice");
    bad(f, "entity A, A;", MANDATE_EPARSE, "declared twice (first at 1:8)");
    bad(f, "namespace N { type T = Long; type T = String; }", MANDATE_EPARSE,
        "common type 'N::T' is declared twice");
    bad(f, "action a; action \"a\";", MANDATE_EPARSE, "action Action::\"a\" is declared twice");
    bad(f, "namespace N {} namespace N {}", MANDATE_EPARSE, "namespace 'N' is declared twice");
    /* declarations outside namespaces form one namespace */
    bad(f, "entity A; namespace N { entity B; } entity A;", MANDATE_EPARSE, "declared twice");
    /* the same name in different namespaces is fine */
    const md_schema *s =
        ok(f, "namespace N { entity A; action a; } namespace M { entity A; action a; }");
    assert_int_equal(s->n_entity_types, 2);
    assert_int_equal(s->n_actions, 2);
    /* a repeated attribute: the last declaration wins, as in Cedar */
    s = ok(f, "entity A { x: Long, x: String };");
    assert_int_equal(et(s, "A")->shape->u.rec.n, 1);
    assert_int_equal(attr(et(s, "A")->shape, "x", NULL)->kind, MD_T_STRING);
}

static void test_reserved_names(void **state)
{
    fx *f = *state;
    bad(f, "entity in;", MANDATE_EPARSE, "'in' is a reserved identifier");
    bad(f, "type true = Long;", MANDATE_EPARSE, "'true' is a reserved identifier");
    bad(f, "type Long = String;", MANDATE_EPARSE, "'Long' is a reserved schema keyword");
    bad(f, "type Set = Long;", MANDATE_EPARSE, "reserved schema keyword");
    bad(f, "entity Action;", MANDATE_EPARSE, "entity type 'Action' cannot be declared");
    bad(f, "namespace A::__cedar { entity B; }", MANDATE_EPARSE, "reserved '__cedar'");
    bad(f, "entity __cedar;", MANDATE_EPARSE, "'__cedar' is reserved");
    /* keywords of the schema syntax are ordinary identifiers where a name is expected */
    const md_schema *s = ok(f, "entity namespace, entity, type, enum; entity Set { s: Set };");
    assert_entity_type(attr(et(s, "Set")->shape, "s", NULL), "Set");
    ok(f, "type decimal = Long; action in_, \"in\";");
}

static void test_rfc70_shadowing(void **state)
{
    fx *f = *state;
    bad(f, "entity A; namespace NS { entity A; }", MANDATE_EPARSE,
        "shadowed by the definition of 'NS::A'");
    bad(f, "namespace NS { type T = Long; } entity T;", MANDATE_EPARSE, "shadowed");
    bad(f, "action a; namespace NS { action a; }", MANDATE_EPARSE,
        "shadowed by the definition of NS::Action::\"a\"");
}

/* ---- caps ---- */

static void test_cap_nesting_depth(void **state)
{
    fx *f = *state;
    md_buf b;
    md_buf_init(&b, 1u << 20);
    md_buf_puts(&b, "entity E { x: ");
    for (int i = 0; i < MD_CEDAR_MAX_DEPTH + 10; i++)
        md_buf_puts(&b, "Set<");
    md_buf_puts(&b, "Long");
    for (int i = 0; i < MD_CEDAR_MAX_DEPTH + 10; i++)
        md_buf_puts(&b, ">");
    md_buf_puts(&b, " };");
    bad(f, b.data, MANDATE_ETOOBIG, "nest too deeply");
    md_buf_release(&b);
    /* just under the cap is fine */
    md_buf_init(&b, 1u << 20);
    md_buf_puts(&b, "entity E { x: ");
    for (int i = 0; i < MD_CEDAR_MAX_DEPTH - 2; i++)
        md_buf_puts(&b, "Set<");
    md_buf_puts(&b, "Long");
    for (int i = 0; i < MD_CEDAR_MAX_DEPTH - 2; i++)
        md_buf_puts(&b, ">");
    md_buf_puts(&b, " };");
    ok(f, b.data);
    md_buf_release(&b);
}

static void test_cap_inlined_depth(void **state)
{
    fx *f = *state;
    /* each common type nests the previous one: inlining goes past the depth cap */
    md_buf b;
    md_buf_init(&b, 1u << 20);
    md_buf_puts(&b, "type T0 = Long;\n");
    for (int i = 1; i < MD_CEDAR_MAX_DEPTH + 10; i++)
        md_buf_printf(&b, "type T%d = Set<T%d>;\n", i, i - 1);
    bad(f, b.data, MANDATE_ETOOBIG, "nests too deeply once common types are inlined");
    md_buf_release(&b);
    /* aliases declared in reverse order recurse: the chain is capped as well */
    md_buf_init(&b, 1u << 20);
    for (int i = 0; i < MD_CEDAR_MAX_DEPTH + 10; i++)
        md_buf_printf(&b, "type T%d = T%d;\n", i, i + 1);
    md_buf_printf(&b, "type T%d = Long;\n", MD_CEDAR_MAX_DEPTH + 10);
    bad(f, b.data, MANDATE_ETOOBIG, "too deeply");
    md_buf_release(&b);
}

static void test_cap_inlined_size(void **state)
{
    fx *f = *state;
    /* T(i) = {a: T(i-1), b: T(i-1)} doubles at each step: 2^40 nodes once expanded */
    md_buf b;
    md_buf_init(&b, 1u << 20);
    md_buf_puts(&b, "type T0 = Long;\n");
    for (int i = 1; i <= 40; i++)
        md_buf_printf(&b, "type T%d = { a: T%d, b: T%d };\n", i, i - 1, i - 1);
    bad(f, b.data, MANDATE_ETOOBIG, "expands to more than");
    md_buf_release(&b);
    /* 2^10 nodes is fine, and the type is shared, not copied */
    md_buf_init(&b, 1u << 20);
    md_buf_puts(&b, "type T0 = Long;\n");
    for (int i = 1; i <= 10; i++)
        md_buf_printf(&b, "type T%d = { a: T%d, b: T%d };\n", i, i - 1, i - 1);
    md_buf_puts(&b, "entity E { x: T10 };");
    const md_schema *s = ok(f, b.data);
    const md_type *x = attr(et(s, "E")->shape, "x", NULL);
    assert_ptr_equal(attr(x, "a", NULL), attr(x, "b", NULL));
    md_buf_release(&b);
}

static void test_cap_text_size_and_args(void **state)
{
    fx *f = *state;
    const md_schema *s = NULL;
    const char *text = "entity A;";
    md_diag_clear(&f->d);
    assert_int_equal(md_schema_parse(f->a, text, (size_t)MD_CEDAR_MAX_POLICY_TEXT + 1, &s, &f->d),
                     MANDATE_ETOOBIG);
    assert_non_null(strstr(f->d.msg, "over the limit"));
    assert_int_equal(md_schema_parse(NULL, text, 9, &s, NULL), MANDATE_EINVAL);
    assert_int_equal(md_schema_parse(f->a, text, 9, NULL, NULL), MANDATE_EINVAL);
    /* the empty schema */
    assert_int_equal(md_schema_parse(f->a, "", 0, &s, NULL), 0);
    assert_int_equal(s->n_entity_types, 0);
    assert_int_equal(s->n_actions, 0);
    assert_null(md_schema_entity_type(NULL, MD_STR_LIT("A")));
    assert_null(md_schema_entity_type(s, MD_STR_LIT("A")));
    /* text with a NUL byte outside a string is an error, not the end of input */
    assert_int_equal(md_schema_parse(f->a, "entity A;\0entity B;", 19, &s, NULL), MANDATE_EPARSE);
}

static void test_namespaces_mixed(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "entity Top; namespace A { entity X in [Top]; } action t;"
                               "namespace B::C { entity Y { x: A::X }; action u in t; }"
                               "entity Top2;");
    assert_int_equal(s->n_entity_types, 4);
    et(s, "Top2");
    assert_entity_type(attr(et(s, "B::C::Y")->shape, "x", NULL), "A::X");
    const md_action *u = act(s, "B::C::Action", "u");
    md_euid t = {MD_STR_LIT("Action"), MD_STR_LIT("t")};
    assert_true(md_euid_eq(&u->member_of[0], &t));
}

static void test_long_lists_deduplicated(void **state)
{
    fx *f = *state;
    md_buf b;
    md_buf_init(&b, 1u << 20);
    md_buf_puts(&b, "entity A, B; action g1, g2; action a in [");
    for (int i = 0; i < 40; i++)
        md_buf_puts(&b, i % 2 ? "g1, " : "g2, ");
    md_buf_puts(&b, "g1] appliesTo { principal: [");
    for (int i = 0; i < 40; i++)
        md_buf_puts(&b, i % 2 ? "A, " : "B, ");
    md_buf_puts(&b, "A], resource: A }; entity C in [");
    for (int i = 0; i < 40; i++)
        md_buf_puts(&b, "A, ");
    md_buf_puts(&b, "B];");
    const md_schema *s = ok(f, b.data);
    const md_action *a = act(s, "Action", "a");
    assert_int_equal(a->n_member_of, 2);
    assert_int_equal(a->n_principals, 2);
    assert_int_equal(et(s, "C")->n_member_of, 2);
    md_buf_release(&b);
}

/* ---- action entities ---- */

static void test_add_action_entities(void **state)
{
    fx *f = *state;
    const md_schema *s = ok(f, "action all; action read, write in [all]; namespace N { action x in "
                               "[Action::\"all\"]; }");
    md_entities *es = NULL;
    assert_int_equal(md_entities_new(f->a, &es), 0);
    assert_int_equal(md_schema_add_action_entities(s, es, &f->d), 0);
    assert_int_equal(md_entities_count(es), 4);
    assert_int_equal(md_entities_seal(es, &f->d), 0);
    md_euid read = {MD_STR_LIT("Action"), MD_STR_LIT("read")};
    md_euid all = {MD_STR_LIT("Action"), MD_STR_LIT("all")};
    md_euid x = {MD_STR_LIT("N::Action"), MD_STR_LIT("x")};
    const md_entity *e = md_entities_find(es, &read);
    assert_non_null(e);
    assert_int_equal(e->n_parents, 1);
    assert_int_equal(e->attrs->n, 0);
    assert_int_equal(e->tags->n, 0);
    assert_true(md_entities_in(es, &read, &all));
    assert_true(md_entities_in(es, &x, &all));
    assert_false(md_entities_in(es, &all, &read));
    /* adding them twice: the uids exist already */
    md_entities *es2 = NULL;
    assert_int_equal(md_entities_new(f->a, &es2), 0);
    assert_int_equal(md_schema_add_action_entities(s, es2, NULL), 0);
    md_diag_clear(&f->d);
    assert_int_equal(md_schema_add_action_entities(s, es2, &f->d), MANDATE_EEXIST);
    assert_non_null(strstr(f->d.msg, "already in the entity store"));
    assert_int_equal(md_schema_add_action_entities(NULL, es2, NULL), MANDATE_EINVAL);
}

/* Every schema of the Cedar corpus parses (MANDATE_SHARED_DIR or ../shared). */
static void test_corpus_schemas(void **state)
{
    fx *f = *state;
    const char *dir = getenv("MANDATE_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/cedar-conformance/sample-data/sandbox_b/schema.cedarschema",
             dir ? dir : "../shared");
    char *text;
    size_t len;
    if (md_read_file(path, 1 << 24, &text, &len, NULL)) {
        skip();
        return;
    }
    const md_schema *s = NULL;
    int rc = md_schema_parse(f->a, text, len, &s, &f->d);
    free(text);
    assert_int_equal(rc, 0);
    const md_action *a = act(s, "Action", "addPhoto");
    assert_true(md_str_eq_c(a->resources[0], "Album"));
    const md_type *photo = attr(a->context, "photo", NULL);
    assert_int_equal(attr(photo, "filesize_mb", NULL)->kind, MD_T_LONG);
    assert_int_equal(et(s, "Photo")->n_member_of, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entity_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entity_multi_names_parents_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entity_without_eq_and_single_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enum_entity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_types_set_record_ext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoted_attribute_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments_annotations_whitespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_common_types_inlined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolution_ns_common_before_ns_entity, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resolution_ns_entity_before_empty_common, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resolution_empty_ns_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolution_user_shadows_builtin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolution_qualified_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_type_as_attribute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_common_type_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions_applies_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_without_applies_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_context_common_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_applies_to_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_action_hierarchy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rfc70_shadowing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_nesting_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_inlined_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_inlined_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_text_size_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespaces_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lists_deduplicated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_action_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corpus_schemas, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
