/*
 * test_format.c: the policy formatter (md_policy_format): exact layouts, comments kept,
 * idempotence, errors; and on the whole conformance corpus: every policy file formats, formatting
 * is idempotent, and every corpus request gets the same decision, determining policies and
 * erroring policies with the original and the formatted policies.
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
#include "cedar/entities.h"
#include "cedar/format.h"

/* Formats text; the result is malloc'd. */
static char *fmt(const char *text)
{
    md_buf b;
    md_buf_init(&b, 1 << 24);
    md_diag d = {0};
    if (md_policy_format(text, strlen(text), &b, &d))
        fail_msg("format failed: %s", d.msg);
    char *r = strdup(b.data ? b.data : "");
    md_buf_release(&b);
    return r;
}

/* format(text) must be want, and format(want) must be want. */
static void formats_to(const char *text, const char *want)
{
    char *got = fmt(text);
    if (strcmp(got, want))
        fail_msg("format of:\n%s\ngot:\n%s\nwant:\n%s", text, got, want);
    char *again = fmt(got);
    assert_string_equal(again, got);
    free(again);
    free(got);
}

static void test_layout(void **state)
{
    (void)state;
    formats_to("permit(principal,action,resource);", "permit (principal, action, resource);\n");
    formats_to("  forbid ( principal == User :: \"a\" , action , resource ) when{true}  ;",
               "forbid (principal == User::\"a\", action, resource)\nwhen { true };\n");
    formats_to("@id(\"x\")@other permit(principal,action,resource)unless{-1<- 2&&!(context.b)};",
               "@id(\"x\")\n@other\npermit (principal, action, resource)\n"
               "unless { -1 < -2 && !(context.b) };\n");
    /* policies are separated by one blank line */
    formats_to("permit(principal,action,resource);\n\n\n\nforbid(principal,action,resource);",
               "permit (principal, action, resource);\n\nforbid (principal, action, resource);\n");
    /* a long scope gets one element per line; a long condition breaks at && */
    formats_to("permit(principal in Group::\"administrators-of-the-world\", action in "
               "[Action::\"read\"], resource);",
               "permit (\n  principal in Group::\"administrators-of-the-world\",\n"
               "  action in [Action::\"read\"],\n  resource\n);\n");
    formats_to("permit(principal,action,resource) when { context.aaaaaaaaaaaa == 1 && "
               "context.bbbbbbbbbbbbbbb == 2 && context.cccccccccccccccccccc == 3 };",
               "permit (principal, action, resource)\nwhen {\n  context.aaaaaaaaaaaa == 1 &&\n"
               "  context.bbbbbbbbbbbbbbb == 2 &&\n  context.cccccccccccccccccccc == 3\n};\n");
    /* calls, indexing, records, sets, templates, is/in, has, like */
    formats_to("permit(principal==?principal,action,resource is Photo in ?resource) when { "
               "ip(\"1.2.3.4\").isInRange( ip(\"1.2.3.0/24\") ) && context [\"a b\"] like \"x*\" "
               "&& {a:1,\"b\":[1,2]} has a && [ ] .isEmpty() };",
               "permit (principal == ?principal, action, resource is Photo in ?resource)\n"
               "when {\n  ip(\"1.2.3.4\").isInRange(ip(\"1.2.3.0/24\")) &&\n"
               "  context[\"a b\"] like \"x*\" &&\n  {a: 1, \"b\": [1, 2]} has a &&\n"
               "  [].isEmpty()\n};\n");
    formats_to("", "");
}

static void test_comments(void **state)
{
    (void)state;
    /* own-line comments stay on their own lines, trailing ones at the end of their line */
    formats_to("// header\n\n// more\npermit(principal, // who\n action, resource) // end\n;\n"
               "// tail\n",
               "// header\n\n// more\npermit (\n  principal, // who\n  action,\n  resource\n) // "
               "end\n;\n\n// tail\n");
    formats_to("permit(principal,action,resource) when {\n  // why\n  context.ok   \n};",
               "permit (principal, action, resource)\nwhen {\n  // why\n  context.ok\n};\n");
    formats_to("permit(principal,action,resource);  // trailing   \r\n// own\r\nforbid(principal,"
               "action,resource);",
               "permit (principal, action, resource); // trailing\n\n// own\n"
               "forbid (principal, action, resource);\n");
    /* a comment holding a quote or "//" */
    formats_to("permit(principal,action,resource) when { \"//\" == \"a\" // x \"y\n};",
               "permit (principal, action, resource)\nwhen {\n  \"//\" == \"a\" // x \"y\n};\n");
    formats_to("// only a comment\n", "// only a comment\n");
}

static void test_errors(void **state)
{
    (void)state;
    md_buf b;
    md_buf_init(&b, 1 << 20);
    md_diag d = {0};
    assert_int_equal(md_policy_format("permit(principal,action,resource", 32, &b, &d),
                     MANDATE_EPARSE);
    assert_true(d.line == 1 && d.col > 0);
    assert_int_equal(b.len, 0);
    md_buf_release(&b);
    /* the output cap is honoured */
    md_buf_init(&b, 10);
    md_diag_clear(&d);
    const char *t = "permit(principal,action,resource);";
    assert_int_equal(md_policy_format(t, strlen(t), &b, &d), MANDATE_ETOOBIG);
    md_buf_release(&b);
}

/* ---- corpus ---- */

typedef struct stats {
    size_t files, requests, same, idempotent;
} stats;

static bool same_ids(const md_policy *const *a, size_t na, const md_policy *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        bool f = false;
        for (size_t k = 0; k < nb && !f; k++)
            f = md_str_eq(a[i]->id, b[k]->id);
        if (!f)
            return false;
    }
    return true;
}

static char *load(const char *root, const char *rel, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char *text = NULL;
    md_diag d = {0};
    if (md_read_file(path, 1 << 26, &text, len, &d))
        fail_msg("cannot read %s: %s", path, d.msg);
    return text;
}

static void corpus_test(const char *root, const char *file, stats *st)
{
    size_t len = 0, plen = 0, elen = 0, slen = 0;
    char *text = load(root, file, &len);
    json_t *test = NULL, *ents = NULL;
    md_diag d = {0};
    assert_int_equal(md_json_parse(text, len, &test, &d), 0);
    const char *pf = json_string_value(json_object_get(test, "policies"));
    const char *sf = json_string_value(json_object_get(test, "schema"));
    const char *ef = json_string_value(json_object_get(test, "entities"));
    char *ptext = load(root, pf, &plen);
    md_arena *a = md_arena_new();
    md_policyset *ps = NULL, *fps = NULL;
    if (md_policyset_parse(a, ptext, plen, NULL, &ps, &d)) {
        /* a file that does not parse cannot be formatted: the formatter says so */
        md_buf b;
        md_buf_init(&b, 1 << 26);
        md_diag fd = {0};
        assert_int_equal(md_policy_format(ptext, plen, &b, &fd), d.code);
        md_buf_release(&b);
        goto out;
    }
    st->files++;
    md_buf b, b2;
    md_buf_init(&b, 1 << 26);
    md_buf_init(&b2, 1 << 26);
    if (md_policy_format(ptext, plen, &b, &d))
        fail_msg("%s: format failed: %s", pf, d.msg);
    if (md_policy_format(b.data ? b.data : "", b.len, &b2, &d))
        fail_msg("%s: formatted text does not format: %s", pf, d.msg);
    if (b.len == b2.len && !memcmp(b.data, b2.data, b.len))
        st->idempotent++;
    else
        fprintf(stderr, "%s: not idempotent:\n%s\n---\n%s\n", pf, b.data, b2.data);
    if (md_policyset_parse(a, b.data ? b.data : "", b.len, NULL, &fps, &d))
        fail_msg("%s: formatted text does not parse: %s", pf, d.msg);
    assert_int_equal(ps->n, fps->n);
    const md_schema *schema = NULL;
    md_entities *es = NULL;
    char *stext = sf ? load(root, sf, &slen) : NULL;
    char *etext = load(root, ef, &elen);
    if ((sf && md_schema_parse(a, stext, slen, &schema, &d)) ||
        md_json_parse(etext, elen, &ents, &d) || md_entities_from_json(a, ents, schema, &es, &d))
        goto done; /* setup the conformance suite also refuses */
    const json_t *reqs = json_object_get(test, "requests");
    md_arena *scratch = md_arena_new();
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        const json_t *rq = json_array_get(reqs, i);
        md_request req;
        md_diag rd = {0};
        md_arena_reset(scratch);
        if (md_euid_from_json(scratch, json_object_get(rq, "principal"), &req.principal, &rd) ||
            md_euid_from_json(scratch, json_object_get(rq, "action"), &req.action, &rd) ||
            md_euid_from_json(scratch, json_object_get(rq, "resource"), &req.resource, &rd) ||
            md_context_from_json(scratch, json_object_get(rq, "context"), schema, &req.action,
                                 &req.context, &rd))
            continue;
        md_response r1, r2;
        assert_int_equal(md_authorize(scratch, ps, &req, es, &r1), 0);
        assert_int_equal(md_authorize(scratch, fps, &req, es, &r2), 0);
        st->requests++;
        const md_policy **e1 = md_arena_array(scratch, r1.n_errors + 1, sizeof *e1);
        const md_policy **e2 = md_arena_array(scratch, r2.n_errors + 1, sizeof *e2);
        for (size_t k = 0; k < r1.n_errors; k++)
            e1[k] = r1.errors[k].policy;
        for (size_t k = 0; k < r2.n_errors; k++)
            e2[k] = r2.errors[k].policy;
        if (r1.allow == r2.allow && same_ids(r1.reasons, r1.n_reasons, r2.reasons, r2.n_reasons) &&
            same_ids(e1, r1.n_errors, e2, r2.n_errors))
            st->same++;
        else
            fprintf(stderr, "%s request %zu: decision changed by formatting\n", file, i);
    }
    md_arena_free(scratch);
done:
    free(stext);
    free(etext);
    md_buf_release(&b);
    md_buf_release(&b2);
out:
    json_decref(ents);
    json_decref(test);
    md_arena_free(a);
    free(ptext);
    free(text);
}

static void scan(const char *root, const char *sub, stats *st)
{
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        char rel[8192];
        if (de->d_name[0] == '.')
            continue;
        snprintf(rel, sizeof rel, "%s/%s", sub, de->d_name);
        if (!strcmp(sub, "tests")) {
            scan(root, rel, st);
            continue;
        }
        if (l < 5 || strcmp(de->d_name + l - 5, ".json") || strstr(de->d_name, ".entities.json"))
            continue;
        corpus_test(root, rel, st);
    }
    closedir(dh);
}

static void test_corpus(void **state)
{
    (void)state;
    const char *shared = getenv("MANDATE_SHARED_DIR");
    char root[4096];
    snprintf(root, sizeof root, "%s/cedar-conformance", shared ? shared : "../shared");
    DIR *probe = opendir(root);
    if (!probe) {
        fprintf(stderr, "skipping: no corpus at %s\n", root);
        skip();
    }
    closedir(probe);
    stats st = {0};
    scan(root, "corpus-tests", &st);
    scan(root, "tests", &st);
    fprintf(stderr,
            "policy files formatted: %zu, idempotent: %zu; requests: %zu, same decision, reasons "
            "and errors: %zu\n",
            st.files, st.idempotent, st.requests, st.same);
    assert_true(st.files > 7800);
    assert_int_equal(st.idempotent, st.files);
    assert_true(st.requests > 60000);
    assert_int_equal(st.same, st.requests);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
