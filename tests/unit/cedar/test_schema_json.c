/*
 * test_schema_json.c: the JSON schema format (md_schema_parse_json) and the schema printers:
 * hand-written JSON schemas resolve as the human syntax does, malformed ones are refused with a
 * message naming the field, and every corpus schema converts human -> JSON -> md_schema and
 * human -> human -> md_schema to an equal schema.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "cedar/cedar_int.h"
#include "cedar/schema_json.h"

static const md_schema *human(md_arena *a, const char *text)
{
    const md_schema *s = NULL;
    md_diag d = {0};
    if (md_schema_parse(a, text, strlen(text), &s, &d))
        fail_msg("human schema does not parse: %s", d.msg);
    return s;
}

static const md_schema *json(md_arena *a, const char *text)
{
    const md_schema *s = NULL;
    md_diag d = {0};
    if (md_schema_parse_json(a, text, strlen(text), &s, &d))
        fail_msg("JSON schema does not parse: %s", d.msg);
    return s;
}

/* The JSON text must be refused with a message holding want. */
static void json_fails(const char *text, int code, const char *want)
{
    md_arena *a = md_arena_new();
    const md_schema *s = NULL;
    md_diag d = {0};
    int rc = md_schema_parse_json(a, text, strlen(text), &s, &d);
    if (rc != code || !strstr(d.msg, want))
        fail_msg("want %d '%s', got %d '%s' for %s", code, want, rc, d.msg, text);
    assert_null(s);
    md_arena_free(a);
}

static void test_json_equals_human(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    const char *h = "namespace App {\n"
                    "  type Ctx = {ip: ipaddr, \"n m\"?: Set<Long>};\n"
                    "  entity Group;\n"
                    "  entity User in [Group] = {name: String, age?: Long, boss: User, "
                    "t: datetime} tags String;\n"
                    "  entity Color enum [\"red\", \"green\"];\n"
                    "  action \"all\";\n"
                    "  action view in [\"all\"] appliesTo {principal: [User], resource: [Group, "
                    "Color], context: Ctx};\n"
                    "}\n"
                    "entity Root { flag: Bool, d: decimal };\n"
                    "action \"top\" appliesTo { principal: Root, resource: [App::User] };\n";
    const char *j =
        "{\"App\": {\"commonTypes\": {\"Ctx\": {\"type\": \"Record\", \"attributes\": {"
        "  \"ip\": {\"type\": \"Extension\", \"name\": \"ipaddr\"},"
        "  \"n m\": {\"type\": \"Set\", \"element\": {\"type\": \"Long\"}, \"required\": false}}}},"
        " \"entityTypes\": {\"Group\": {},"
        "  \"User\": {\"memberOfTypes\": [\"Group\"], \"tags\": {\"type\": \"String\"},"
        "   \"shape\": {\"type\": \"Record\", \"attributes\": {"
        "     \"name\": {\"type\": \"String\"}, \"age\": {\"type\": \"Long\", \"required\": false},"
        "     \"boss\": {\"type\": \"Entity\", \"name\": \"User\"},"
        "     \"t\": {\"type\": \"EntityOrCommon\", \"name\": \"datetime\"}}}},"
        "  \"Color\": {\"enum\": [\"red\", \"green\"]}},"
        " \"actions\": {\"all\": {}, \"view\": {\"memberOf\": [{\"id\": \"all\"}],"
        "   \"appliesTo\": {\"principalTypes\": [\"User\"], \"resourceTypes\": [\"Group\", "
        "\"Color\"], \"context\": {\"type\": \"Ctx\"}}}}},"
        " \"\": {\"entityTypes\": {\"Root\": {\"shape\": {\"type\": \"Record\", \"attributes\": {"
        "   \"flag\": {\"type\": \"Boolean\"}, \"d\": {\"type\": \"decimal\"}}}}},"
        "  \"actions\": {\"top\": {\"appliesTo\": {\"principalTypes\": [\"Root\"],"
        "   \"resourceTypes\": [\"App::User\"]}, \"annotations\": {\"doc\": \"x\"}}}}}";
    const md_schema *sh = human(a, h), *sj = json(a, j);
    assert_true(md_schema_equal(sh, sj));
    /* the parsed schema is the expected one, not merely equal to another parse */
    const md_entity_type *u = md_schema_entity_type(sj, MD_STR_LIT("App::User"));
    assert_non_null(u);
    assert_int_equal(u->shape->u.rec.n, 4);
    assert_true(md_str_eq_c(u->shape->u.rec.attrs[0].name, "age"));
    assert_false(u->shape->u.rec.attrs[0].required);
    assert_int_equal(u->shape->u.rec.attrs[1].type->kind, MD_T_ENTITY);
    assert_int_equal(u->shape->u.rec.attrs[3].type->kind, MD_T_DATETIME);
    assert_non_null(u->tags);
    md_euid view = {MD_STR_LIT("App::Action"), MD_STR_LIT("view")};
    const md_action *ac = md_schema_action(sj, &view);
    assert_non_null(ac);
    assert_int_equal(ac->n_member_of, 1);
    assert_int_equal(ac->context->u.rec.n, 2);
    assert_int_equal(ac->context->u.rec.attrs[0].type->kind, MD_T_IP);
    /* a change is noticed by the equality */
    const md_schema *other = human(a, "entity Root;");
    assert_false(md_schema_equal(sh, other));
    md_arena_free(a);
}

static void test_json_resolution(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    /* {"type": "Long"} is the primitive even where an entity type Long exists */
    const md_schema *s = json(a, "{\"N\": {\"entityTypes\": {\"Long\": {}, \"E\": {\"shape\": "
                                 "{\"type\": \"Record\", \"attributes\": {\"a\": {\"type\": "
                                 "\"Long\"}, \"b\": {\"type\": \"EntityOrCommon\", \"name\": "
                                 "\"Long\"}}}}}, \"actions\": {}}}");
    const md_entity_type *e = md_schema_entity_type(s, MD_STR_LIT("N::E"));
    assert_int_equal(e->shape->u.rec.attrs[0].type->kind, MD_T_LONG);
    assert_int_equal(e->shape->u.rec.attrs[1].type->kind, MD_T_ENTITY);
    assert_true(md_str_eq_c(e->shape->u.rec.attrs[1].type->u.name, "N::Long"));
    /* a shape given as a common type */
    s = json(a, "{\"\": {\"commonTypes\": {\"S\": {\"type\": \"Record\", \"attributes\": {\"x\": "
                "{\"type\": \"String\"}}}}, \"entityTypes\": {\"E\": {\"shape\": {\"type\": "
                "\"S\"}}}, \"actions\": {}}}");
    e = md_schema_entity_type(s, MD_STR_LIT("E"));
    assert_int_equal(e->shape->u.rec.n, 1);
    assert_true(md_str_eq_c(e->shape->u.rec.attrs[0].name, "x"));
    /* an empty principalTypes list applies to nothing */
    s = json(a, "{\"\": {\"entityTypes\": {\"E\": {}}, \"actions\": {\"a\": {\"appliesTo\": "
                "{\"principalTypes\": [], \"resourceTypes\": [\"E\"]}}}}}");
    assert_int_equal(s->n_actions, 1);
    assert_false(s->actions[0].has_applies_to && s->actions[0].n_principals);
    /* action groups in another namespace, and entity types of the empty namespace */
    s = json(a, "{\"\": {\"entityTypes\": {\"U\": {}}, \"actions\": {\"g\": {}}},"
                " \"A::B\": {\"entityTypes\": {}, \"actions\": {\"v\": {\"memberOf\": [{\"id\": "
                "\"g\", \"type\": \"Action\"}], \"appliesTo\": {\"principalTypes\": [\"U\"], "
                "\"resourceTypes\": [\"U\"]}}}}}");
    md_euid v = {MD_STR_LIT("A::B::Action"), MD_STR_LIT("v")};
    const md_action *ac = md_schema_action(s, &v);
    assert_non_null(ac);
    assert_true(md_str_eq_c(ac->member_of[0].type, "Action"));
    assert_true(md_str_eq_c(ac->principals[0], "U"));
    md_arena_free(a);
}

static void test_json_errors(void **state)
{
    (void)state;
    json_fails("[1]", MANDATE_ESCHEMA, "should be an object");
    json_fails("{\"\": {\"entityTypes\": {}}}", MANDATE_ESCHEMA, "missing field 'actions'");
    json_fails("{\"\": {\"entityTypes\": {}, \"actions\": {}, \"bogus\": 1}}", MANDATE_ESCHEMA,
               "unknown field 'bogus'");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\", "
               "\"attributes\": {\"a\": {\"type\": \"Nope\"}}}}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "unknown common type 'Nope'");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\", "
               "\"attributes\": {\"a\": {\"type\": \"E\"}}}}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "unknown common type 'E'");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Record\", "
               "\"attributes\": {}, \"additionalAttributes\": true}}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "open records");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"tags\": {\"type\": \"Entity\", \"name\": "
               "\"F\"}}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "unknown entity type 'F'");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"tags\": {\"type\": \"Extension\", \"name\": "
               "\"money\"}}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "unknown extension type 'money'");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"enum\": [\"a\"], \"shape\": {\"type\": "
               "\"Record\", \"attributes\": {}}}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "enumerated entity type cannot have shape");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"memberOfTypes\": null}}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "may not be null");
    json_fails("{\"\": {\"entityTypes\": {\"if\": {}}, \"actions\": {}}}", MANDATE_ESCHEMA,
               "'if' is not a valid entity type name");
    json_fails("{\"\": {\"entityTypes\": {}, \"actions\": {\"a\": {\"attributes\": {}}}}}",
               MANDATE_ESCHEMA, "action attributes are not supported");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Long\"}}}, "
               "\"actions\": {}}}",
               MANDATE_ESCHEMA, "must be a record");
    json_fails("{\"\": {\"entityTypes\": {}, \"actions\": {\"a\": {\"memberOf\": [{\"id\": "
               "\"b\"}]}}}}",
               MANDATE_ESCHEMA, "unknown action group");
    json_fails("{\"\": {\"entityTypes\": {\"E\": {\"shape\": {\"type\": \"Set\"}}}, "
               "\"actions\": {}}}",
               MANDATE_ESCHEMA, "needs an \"element\" field");
    json_fails("{\"\": {\"entityTypes\": {}, \"actions\": {}}", MANDATE_EPARSE, "");
    json_fails("{\"\": {\"commonTypes\": {\"Long\": {\"type\": \"String\"}}, \"entityTypes\": "
               "{}, \"actions\": {}}}",
               MANDATE_ESCHEMA, "reserved");
}

static void test_printers(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    const md_schema *s = human(a, "entity Long; entity E { a: __cedar::Long, b: Long, "
                                  "\"if\": String };\n namespace N { entity F in [E]; "
                                  "action \"x\\\"y\" appliesTo {principal: F, resource: E}; }");
    md_buf b;
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_schema_print_human(&b, s), 0);
    assert_non_null(strstr(b.data, "a: __cedar::Long"));
    assert_non_null(strstr(b.data, "b: Long"));
    assert_non_null(strstr(b.data, "\"if\": String"));
    assert_non_null(strstr(b.data, "action \"x\\\"y\""));
    const md_schema *back = human(a, b.data);
    assert_true(md_schema_equal(s, back));
    md_buf_release(&b);
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_schema_print_json(&b, s), 0);
    assert_non_null(strstr(b.data, "\"type\": \"Long\""));
    assert_non_null(strstr(b.data, "{\"type\": \"Entity\", \"name\": \"Long\"}"));
    back = json(a, b.data);
    assert_true(md_schema_equal(s, back));
    md_buf_release(&b);
    md_arena_free(a);
}

/* Every corpus schema converts to JSON and back, and to the human syntax and back. */
static void test_corpus_roundtrip(void **state)
{
    (void)state;
    const char *shared = getenv("MANDATE_SHARED_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cedar-conformance/corpus-tests", shared ? shared : "../shared");
    DIR *dh = opendir(dir);
    if (!dh) {
        fprintf(stderr, "skipping: no corpus at %s\n", dir);
        skip();
    }
    struct dirent *de;
    size_t n = 0, bad = 0;
    md_arena *a = md_arena_new();
    md_buf b;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 12 || strcmp(de->d_name + l - 12, ".cedarschema"))
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = NULL;
        size_t len = 0;
        md_diag d = {0};
        assert_int_equal(md_read_file(path, 1 << 24, &text, &len, &d), 0);
        md_arena_reset(a);
        const md_schema *s = NULL, *sj = NULL, *sh = NULL;
        if (md_schema_parse(a, text, len, &s, &d)) {
            free(text);
            continue; /* the corpus holds a few schemas Cedar rejects too */
        }
        n++;
        md_buf_init(&b, 1 << 26);
        int rc = md_schema_print_json(&b, s);
        if (!rc)
            rc = md_schema_parse_json(a, b.data, b.len, &sj, &d);
        if (rc || !md_schema_equal(s, sj)) {
            if (bad++ < 5)
                fprintf(stderr, "JSON round trip of %s: %s\n%s\n", de->d_name,
                        rc ? d.msg : "not equal", b.data);
        }
        md_buf_release(&b);
        md_buf_init(&b, 1 << 26);
        rc = md_schema_print_human(&b, s);
        if (!rc)
            rc = md_schema_parse(a, b.data, b.len, &sh, &d);
        if (rc || !md_schema_equal(s, sh)) {
            if (bad++ < 5)
                fprintf(stderr, "human round trip of %s: %s\n%s\n", de->d_name,
                        rc ? d.msg : "not equal", b.data);
        }
        md_buf_release(&b);
        free(text);
    }
    closedir(dh);
    md_arena_free(a);
    fprintf(stderr, "corpus schemas converted both ways: %zu, failures: %zu\n", n, bad);
    assert_true(n > 7000);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_equals_human), cmocka_unit_test(test_json_resolution),
        cmocka_unit_test(test_json_errors),       cmocka_unit_test(test_printers),
        cmocka_unit_test(test_corpus_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
