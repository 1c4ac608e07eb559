/*
 * test_validator.c: the strict-mode policy validator (src/cedar/validator.c).
 *
 * Most behaviour is pinned by data-driven cases, the .txt files of tests/validator (one case a
 * file):
 *
 *   # what the case is about
 *   --- schema: common.cedarschema      (a schema file beside the cases, or "--- schema" and
 *                                         the schema text on the following lines)
 *   --- policy
 *   <Cedar policy text>
 *   --- expect
 *   LINE:COL: error|warning: [kind] message      (one line per diagnostic, in order; none
 *                                                  when the policies validate cleanly)
 *
 * Positions are in the policy text. The folder is found through MANDATE_SOURCE_DIR or the working
 * directory (ctest runs tests from the repository root). With MANDATE_VALIDATOR_PRINT=1 the
 * test prints what each case produced, to write new cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/validator.h"

static const char *const all_kinds[] = {
    "unknown-entity-type",   "unknown-action",
    "invalid-enum-value",    "no-applicable-action",
    "unexpected-type",       "incompatible-types",
    "heterogeneous-set",     "empty-set",
    "unknown-attribute",     "unsafe-optional-attribute",
    "unsafe-tag-access",     "no-tags",
    "extension-non-literal", "invalid-extension-literal",
    "wrong-arity",           "impossible-policy",
};

static void case_dir(char *out, size_t n)
{
    const char *src = getenv("MANDATE_SOURCE_DIR");
    snprintf(out, n, "%s%stests/validator", src ? src : "", src ? "/" : "");
}

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    md_diag d = {0};
    if (md_read_file(path, 1u << 22, &text, len, &d))
        return NULL;
    return text;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sections of a case file, as slices of its text (modified in place). */
typedef struct vcase {
    const char *schema_file; /* NULL: inline schema text */
    const char *schema;
    size_t schema_len;
    const char *policy;
    size_t policy_len;
    const char *expect;
} vcase;

static bool parse_case(char *text, vcase *c)
{
    memset(c, 0, sizeof *c);
    char *schema = NULL, *policy = NULL, *expect = NULL;
    char *p = text;
    while (*p) {
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (!strncmp(p, "--- ", 4)) {
            *p = '\0'; /* ends the previous section */
            if (eol)
                *eol = '\0';
            if (!strncmp(p + 4, "schema: ", 8)) {
                c->schema_file = p + 12;
            } else if (!strcmp(p + 4, "schema")) {
                schema = next;
            } else if (!strcmp(p + 4, "policy")) {
                policy = next;
            } else if (!strcmp(p + 4, "expect")) {
                expect = next;
            } else {
                return false;
            }
        }
        p = next;
    }
    if (!policy || !expect || (!schema && !c->schema_file))
        return false;
    if (schema) {
        c->schema = schema;
        c->schema_len = strlen(schema);
    }
    c->policy = policy;
    c->policy_len = strlen(policy);
    c->expect = expect;
    return true;
}

static void format_diags(md_buf *b, const md_vdiag *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        md_buf_printf(b, "%u:%u: %s: [%s] %s\n", d[i].line, d[i].col,
                      d[i].warning ? "warning" : "error", d[i].kind, d[i].msg);
}

/* Runs one case file; returns true when it matches. Records the kinds seen. */
static bool run_case(const char *dir, const char *name, bool *seen_kinds)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        print_error("%s/%s: path too long\n", dir, name);
        return false;
    }
    size_t len;
    char *text = slurp(path, &len);
    if (!text) {
        print_error("%s: cannot read\n", path);
        return false;
    }
    bool ok = false;
    char *schema_text = NULL;
    md_arena *a = md_arena_new();
    md_buf got;
    md_buf_init(&got, 1 << 20);
    vcase c;
    md_diag d = {0};
    if (!a || !parse_case(text, &c)) {
        print_error("%s: malformed case file\n", name);
        goto done;
    }
    const char *st = c.schema;
    size_t sl = c.schema_len;
    if (c.schema_file) {
        if (snprintf(path, sizeof path, "%s/%s", dir, c.schema_file) >= (int)sizeof path ||
            !(schema_text = slurp(path, &sl))) {
            print_error("%s: cannot read schema %s\n", name, c.schema_file);
            goto done;
        }
        st = schema_text;
    }
    const md_schema *s = NULL;
    md_policyset *ps = NULL;
    if (md_schema_parse(a, st, sl, &s, &d)) {
        print_error("%s: schema: %u:%u: %s\n", name, d.line, d.col, d.msg);
        goto done;
    }
    if (md_policyset_parse(a, c.policy, c.policy_len, NULL, &ps, &d)) {
        print_error("%s: policy: %u:%u: %s\n", name, d.line, d.col, d.msg);
        goto done;
    }
    size_t n = 0;
    const md_vdiag *out = NULL;
    if (md_validate(a, ps, s, &n, &out)) {
        print_error("%s: md_validate failed\n", name);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < MD_ARRAY_LEN(all_kinds); k++)
            if (!strcmp(out[i].kind, all_kinds[k]))
                seen_kinds[k] = true;
    format_diags(&got, out, n);
    const char *g = got.data ? got.data : "";
    if (getenv("MANDATE_VALIDATOR_PRINT"))
        printf("=== %s\n%s", name, g);
    ok = !strcmp(g, c.expect);
    if (!ok)
        print_error("%s: diagnostics differ\n--- want\n%s--- got\n%s", name, c.expect, g);
done:
    md_buf_release(&got);
    free(schema_text);
    free(text);
    md_arena_free(a);
    return ok;
}

static void test_cases(void **state)
{
    (void)state;
    char dir[1024];
    case_dir(dir, sizeof dir);
    DIR *dh = opendir(dir);
    if (!dh)
        fail_msg("cannot open %s (run from the repository root or set MANDATE_SOURCE_DIR)", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".txt"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = strdup(de->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(dh);
    qsort(names, n, sizeof *names, by_name);
    bool seen[MD_ARRAY_LEN(all_kinds)] = {0};
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!run_case(dir, names[i], seen))
            failed++;
        free(names[i]);
    }
    free(names);
    print_message("%zu validator cases, %zu failed\n", n, failed);
    assert_true(n >= 40);
    assert_int_equal(failed, 0);
    for (size_t k = 0; k < MD_ARRAY_LEN(all_kinds); k++) {
        if (!seen[k])
            print_error("no case produces the kind %s\n", all_kinds[k]);
        assert_true(seen[k]);
    }
}

/* ---- direct tests ---- */

static const char schema_text[] = "entity User { age?: Long };\n"
                                  "entity Doc;\n"
                                  "action view appliesTo { principal: User, resource: Doc };\n";

static void validate_text(md_arena *a, const char *policies, size_t *n, const md_vdiag **out,
                          md_policyset **ps_out)
{
    const md_schema *s = NULL;
    md_policyset *ps = NULL;
    md_diag d = {0};
    assert_int_equal(md_schema_parse(a, schema_text, strlen(schema_text), &s, &d), 0);
    assert_int_equal(md_policyset_parse(a, policies, strlen(policies), NULL, &ps, &d), 0);
    if (ps_out) {
        *ps_out = ps;
        return;
    }
    assert_int_equal(md_validate(a, ps, s, n, out), 0);
}

static void test_has_error(void **state)
{
    (void)state;
    md_vdiag d[2] = {{.warning = true}, {.warning = true}};
    assert_false(md_vdiag_has_error(d, 2));
    d[1].warning = false;
    assert_true(md_vdiag_has_error(d, 2));
    assert_false(md_vdiag_has_error(NULL, 0));
}

static void test_clean_and_diag_fields(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    size_t n = 99;
    const md_vdiag *out = NULL;
    validate_text(a, "permit(principal, action, resource) when { principal has age };", &n, &out,
                  NULL);
    assert_int_equal(n, 0);

    validate_text(a,
                  "permit(principal, action, resource);\n"
                  "forbid(principal, action, resource) when {\n  principal.age > 1 };",
                  &n, &out, NULL);
    assert_int_equal(n, 1);
    assert_false(out[0].warning);
    assert_string_equal(out[0].kind, "unsafe-optional-attribute");
    assert_int_equal(out[0].line, 3);
    assert_int_equal(out[0].col, 3);
    assert_true(md_str_eq_c(out[0].policy->id, "policy1"));
    md_arena_free(a);
}

/* The model discards the errors of an operand that short-circuiting makes irrelevant. */
static void test_short_circuit(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    size_t n;
    const md_vdiag *out;
    validate_text(a, "permit(principal, action, resource) when { false && 1 + \"a\" == 2 };", &n,
                  &out, NULL);
    assert_int_equal(n, 1);
    assert_true(out[0].warning);
    assert_string_equal(out[0].kind, "impossible-policy");
    validate_text(a, "permit(principal, action, resource) when { true || principal.age > 1 };", &n,
                  &out, NULL);
    assert_int_equal(n, 0);
    validate_text(a, "permit(principal, action, resource) when { true && principal.age > 1 };", &n,
                  &out, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].kind, "unsafe-optional-attribute");
    md_arena_free(a);
}

/* Linked policies: the slot values' entity types must be known. */
static void test_linked(void **state)
{
    (void)state;
    md_arena *a = md_arena_new();
    md_policyset *ps = NULL;
    const md_schema *s = NULL;
    md_diag d = {0};
    assert_int_equal(md_schema_parse(a, schema_text, strlen(schema_text), &s, &d), 0);
    const char *t = "permit(principal == ?principal, action, resource);";
    assert_int_equal(md_policyset_parse(a, t, strlen(t), NULL, &ps, &d), 0);
    assert_int_equal(ps->n_templates, 1);
    md_euid good = {MD_STR_LIT("User"), MD_STR_LIT("alice")};
    md_euid bad = {MD_STR_LIT("Admin"), MD_STR_LIT("root")};
    assert_int_equal(
        md_policyset_link(a, ps, ps->templates[0]->id, MD_STR_LIT("l1"), &good, NULL, &d), 0);
    size_t n;
    const md_vdiag *out;
    assert_int_equal(md_validate(a, ps, s, &n, &out), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        md_policyset_link(a, ps, ps->templates[0]->id, MD_STR_LIT("l2"), &bad, NULL, &d), 0);
    assert_int_equal(md_validate(a, ps, s, &n, &out), 0);
    assert_true(n >= 1);
    assert_true(md_str_eq_c(out[0].policy->id, "l2"));
    assert_string_equal(out[0].kind, "unknown-entity-type");
    assert_non_null(strstr(out[0].msg, "`Admin`"));
    md_arena_free(a);
}

/* Errors are reported once even when many environments produce them. */
static void test_dedup(void **state)
{
    (void)state;
    static const char many[] =
        "entity A; entity B; entity C;\n"
        "action x appliesTo { principal: [A, B, C], resource: [A, B, C] };\n"
        "action y appliesTo { principal: [A, B, C], resource: [A, B, C] };\n";
    md_arena *a = md_arena_new();
    const md_schema *s = NULL;
    md_policyset *ps = NULL;
    md_diag d = {0};
    assert_int_equal(md_schema_parse(a, many, strlen(many), &s, &d), 0);
    const char *p = "permit(principal, action, resource) when { resource.size > 1 };";
    assert_int_equal(md_policyset_parse(a, p, strlen(p), NULL, &ps, &d), 0);
    size_t n;
    const md_vdiag *out;
    assert_int_equal(md_validate(a, ps, s, &n, &out), 0);
    assert_int_equal(n, 3); /* one per resource type */
    for (size_t i = 0; i < n; i++)
        assert_string_equal(out[i].kind, "unknown-attribute");
    md_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_has_error),
        cmocka_unit_test(test_clean_and_diag_fields),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_linked),
        cmocka_unit_test(test_dedup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
