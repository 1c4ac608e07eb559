/*
 * cedar_conformance.c: runs the Cedar project's conformance suite (cedar-integration-tests format,
 * see ../shared/cedar-conformance/README.md) through the engine as the reference harness does:
 * parse policies, schema and entities (schema-based), then for each request parse the context with
 * the schema, validate the request when asked, authorize, and compare the decision, the set of
 * determining policies and the set of erroring policies.
 *
 * usage: cedar_conformance DIR [--verbose] [--limit N] [--only SUBSTRING]
 * It also validates each test's policies against its schema in strict mode and compares with
 * shouldValidate. Prints mismatches (up to 50 unless --verbose) and a summary; exits 0 only when
 * every request matches on all three and every validation verdict matches.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"
#include "cedar/validator.h"

typedef struct counts {
    size_t tests, tests_failed_setup, requests, decision_ok, reason_ok, errors_ok, all_ok;
    size_t validated, validate_ok;
} counts;

static int verbose;
static size_t shown;

static void report(const char *test, const char *fmt, const char *detail)
{
    if (!verbose && shown >= 50)
        return;
    shown++;
    fprintf(stderr, "MISMATCH %s: %s%s\n", test, fmt, detail ? detail : "");
}

static char *load(const char *dir, const char *rel, size_t *len, md_diag *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *text = NULL;
    if (md_read_file(path, MD_CEDAR_MAX_JSON_TEXT, &text, len, d))
        return NULL;
    return text;
}

/* Compares an expected JSON array of policy ids with the engine's set. */
static bool same_ids(const json_t *want, const md_policy *const *got, size_t n)
{
    if (!json_is_array(want) || json_array_size(want) != n)
        return false;
    for (size_t i = 0; i < json_array_size(want); i++) {
        const char *id = json_string_value(json_array_get(want, i));
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = id && md_str_eq_c(got[j]->id, id);
        if (!found)
            return false;
    }
    return true;
}

static void describe(md_buf *b, const md_response *r)
{
    md_buf_printf(b, " got %s reasons [", r->allow ? "allow" : "deny");
    for (size_t i = 0; i < r->n_reasons; i++)
        md_buf_printf(b, "%s%.*s", i ? "," : "", (int)r->reasons[i]->id.len, r->reasons[i]->id.ptr);
    md_buf_puts(b, "] errors [");
    for (size_t i = 0; i < r->n_errors; i++)
        md_buf_printf(b, "%s%.*s: %s", i ? "; " : "", (int)r->errors[i].policy->id.len,
                      r->errors[i].policy->id.ptr, r->errors[i].msg);
    md_buf_puts(b, "]");
}

static void run_test(const char *root, const char *file, counts *c)
{
    md_diag d = {0};
    md_arena *a = md_arena_new();
    char *text = NULL, *ptext = NULL, *stext = NULL, *etext = NULL;
    json_t *test = NULL, *ents = NULL;
    size_t len = 0;
    char where[512];
    snprintf(where, sizeof where, "%s", file);
    c->tests++;
    if (!a || !(text = load(root, file, &len, &d)))
        goto setup_failed;
    if (md_json_parse(text, len, &test, &d))
        goto setup_failed;
    const json_t *reqs = json_object_get(test, "requests");
    size_t plen = 0, slen = 0, elen = 0;
    const char *pf = json_string_value(json_object_get(test, "policies"));
    const char *sf = json_string_value(json_object_get(test, "schema"));
    const char *ef = json_string_value(json_object_get(test, "entities"));
    md_policyset *ps = NULL;
    const md_schema *schema = NULL;
    md_entities *es = NULL;
    if (!pf || !ef || !(ptext = load(root, pf, &plen, &d)) || !(etext = load(root, ef, &elen, &d)))
        goto setup_failed;
    if (md_policyset_parse(a, ptext, plen, NULL, &ps, &d))
        goto setup_failed;
    if (sf) {
        if (!(stext = load(root, sf, &slen, &d)) || md_schema_parse(a, stext, slen, &schema, &d))
            goto setup_failed;
    }
    if (md_json_parse(etext, elen, &ents, &d))
        goto setup_failed;

    /* Strict validation (issue 3): passes iff there is no error diagnostic. */
    const json_t *sv = json_object_get(test, "shouldValidate");
    if (schema && json_is_boolean(sv)) {
        size_t nd = 0;
        const md_vdiag *vd = NULL;
        if (md_validate(a, ps, schema, &nd, &vd) == 0) {
            bool passes = !md_vdiag_has_error(vd, nd);
            c->validated++;
            if (passes == json_is_true(sv)) {
                c->validate_ok++;
            } else {
                md_buf msg;
                md_buf_init(&msg, 1 << 16);
                md_buf_printf(&msg, "shouldValidate is %s, validator %s", passes ? "false" : "true",
                              passes ? "passes" : "reports:");
                for (size_t k = 0; k < nd && k < 5; k++)
                    md_buf_printf(&msg, " [%s] %s;", vd[k].kind, vd[k].msg);
                report(where, msg.data ? msg.data : "", NULL);
                md_buf_release(&msg);
            }
        }
    }
    if (md_entities_from_json(a, ents, schema, &es, &d))
        goto setup_failed;

    md_arena *scratch = md_arena_new();
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        const json_t *rq = json_array_get(reqs, i);
        md_request req;
        md_diag rd = {0};
        md_buf msg;
        md_buf_init(&msg, 1 << 20);
        c->requests++;
        md_arena_reset(scratch);
        const json_t *vr = json_object_get(rq, "validateRequest");
        bool validate = schema && (!vr || json_is_true(vr));
        if (md_euid_from_json(scratch, json_object_get(rq, "principal"), &req.principal, &rd) ||
            md_euid_from_json(scratch, json_object_get(rq, "action"), &req.action, &rd) ||
            md_euid_from_json(scratch, json_object_get(rq, "resource"), &req.resource, &rd) ||
            md_context_from_json(scratch, json_object_get(rq, "context"), schema, &req.action,
                                 &req.context, &rd) ||
            (validate && md_request_validate(schema, &req, &rd))) {
            md_buf_printf(&msg, "request %zu rejected: %s", i, rd.msg);
            report(where, msg.data, NULL);
            md_buf_release(&msg);
            continue;
        }
        md_response r;
        if (md_authorize(scratch, ps, &req, es, &r)) {
            report(where, "authorizer failed", NULL);
            md_buf_release(&msg);
            continue;
        }
        const char *want = json_string_value(json_object_get(rq, "decision"));
        bool dec_ok = want && !strcmp(want, r.allow ? "allow" : "deny");
        bool rea_ok = same_ids(json_object_get(rq, "reason"), r.reasons, r.n_reasons);
        const md_policy **errp = md_arena_array(scratch, r.n_errors + 1, sizeof *errp);
        for (size_t k = 0; errp && k < r.n_errors; k++)
            errp[k] = r.errors[k].policy;
        bool err_ok = errp && same_ids(json_object_get(rq, "errors"), errp, r.n_errors);
        c->decision_ok += dec_ok;
        c->reason_ok += rea_ok;
        c->errors_ok += err_ok;
        c->all_ok += dec_ok && rea_ok && err_ok;
        if (!(dec_ok && rea_ok && err_ok)) {
            char *wj = json_dumps(rq, JSON_COMPACT);
            md_buf_printf(&msg, "request %zu (%s%s%s):", i, dec_ok ? "" : "decision ",
                          rea_ok ? "" : "reason ", err_ok ? "" : "errors");
            describe(&msg, &r);
            md_buf_printf(&msg, " want %s", wj ? wj : "?");
            free(wj);
            report(where, msg.data, NULL);
        }
        md_buf_release(&msg);
    }
    md_arena_free(scratch);
    goto done;

setup_failed:
    c->tests_failed_setup++;
    c->requests += json_array_size(json_object_get(test, "requests"));
    report(where, "setup failed: ", d.msg);
done:
    json_decref(ents);
    json_decref(test);
    free(text);
    free(ptext);
    free(stext);
    free(etext);
    md_arena_free(a);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects test files: corpus-tests/<hash>.json (not .entities.json) and tests/<group>/<n>.json. */
static size_t collect(const char *root, const char *sub, char ***list, size_t n, size_t *cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    DIR *dir = opendir(path);
    if (!dir)
        return n;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        char rel[4096];
        snprintf(rel, sizeof rel, "%s/%s", sub, de->d_name);
        if (!strcmp(sub, "tests")) {
            n = collect(root, rel, list, n, cap);
            continue;
        }
        if (l < 5 || strcmp(de->d_name + l - 5, ".json") || strstr(de->d_name, ".entities.json"))
            continue;
        if (n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            *list = realloc(*list, *cap * sizeof **list);
        }
        (*list)[n++] = strdup(rel);
    }
    closedir(dir);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cedar_conformance DIR [--verbose] [--limit N] [--only SUBSTR]\n");
        return 2;
    }
    const char *root = argv[1], *only = NULL;
    size_t limit = (size_t)-1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
    }
    char **files = NULL;
    size_t cap = 0, n = collect(root, "corpus-tests", &files, 0, &cap);
    n = collect(root, "tests", &files, n, &cap);
    if (n == 0) {
        fprintf(stderr, "cedar_conformance: no tests found under '%s'\n", root);
        return 2;
    }
    qsort(files, n, sizeof *files, by_name);
    counts c = {0};
    for (size_t i = 0; i < n && c.tests < limit; i++) {
        if (!only || strstr(files[i], only))
            run_test(root, files[i], &c);
        free(files[i]);
    }
    free(files);
    printf("cedar conformance: %zu tests (%zu failed to load), %zu requests\n", c.tests,
           c.tests_failed_setup, c.requests);
    printf("  decision match: %zu / %zu\n", c.decision_ok, c.requests);
    printf("  reason match:   %zu / %zu\n", c.reason_ok, c.requests);
    printf("  errors match:   %zu / %zu\n", c.errors_ok, c.requests);
    printf("  shouldValidate: %zu / %zu tests\n", c.validate_ok, c.validated);
    size_t total = c.requests + c.validated, ok = c.all_ok + c.validate_ok;
    printf("%zu passed, %zu failed\n", ok, total - ok);
    return ok == total ? 0 : 1;
}
