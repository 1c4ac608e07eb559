/*
 * cedar_diff.c: the engine's side of the differential test (tests/differential/run.sh). Reads the
 * cases that gen.js writes (one JSON object per line, the cedar-oracle's input format: policies as
 * {staticPolicies, templates, templateLinks}, schema-less entities, requests) and answers every
 * request through the engine's internal API, as the oracle does through cedar-wasm.
 *
 * usage: cedar_diff CASES.jsonl > OURS.jsonl
 * Output: one line per request, in case order:
 *   {"case":"S:K","req":I,"decision":"allow"|"deny","reason":[ids],"errors":[ids],
 *    "messages":{"id":"error message",...}}
 * or, when the case (policies, templates, links, entities) or the request could not be loaded,
 *   {"case":"S:K","req":I,"failure":"<stage>: <message>"}
 * Ids are sorted bytewise. Exit status 0, or 2 on a usage or I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar_int.h"

static int by_id(const void *a, const void *b)
{
    const md_str *x = a, *y = b;
    return md_str_cmp(*x, *y);
}

/* Appends a sorted JSON array of ids. */
static void put_ids(md_buf *b, md_str *ids, size_t n)
{
    qsort(ids, n, sizeof *ids, by_id);
    md_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            md_buf_puts(b, ",");
        md_buf_json_str(b, ids[i].ptr, ids[i].len);
    }
    md_buf_puts(b, "]");
}

static void put_failure(md_buf *out, const char *id, size_t req, const char *stage, const char *msg)
{
    md_buf_puts(out, "{\"case\":");
    md_buf_json_str(out, id, strlen(id));
    md_buf_printf(out, ",\"req\":%zu,\"failure\":", req);
    md_buf msgb;
    md_buf_init(&msgb, 1 << 16);
    md_buf_printf(&msgb, "%s: %s", stage, msg);
    md_buf_json_str(out, msgb.data ? msgb.data : "", msgb.len);
    md_buf_release(&msgb);
    md_buf_puts(out, "}\n");
}

/* Loads the policy set: static policies (ids policy0..), templates t0.. (parsed together so that
 * their ids come out as t0, t1, ... in order), then the template links. */
static int load_policies(md_arena *a, const json_t *pol, md_policyset **out, const char **stage,
                         md_diag *d)
{
    const char *text = json_string_value(json_object_get(pol, "staticPolicies"));
    *stage = "policies";
    if (!text)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "staticPolicies is not a string");
    int rc = md_policyset_parse(a, text, strlen(text), NULL, out, d);
    if (rc)
        return rc;
    const json_t *tmpl = json_object_get(pol, "templates");
    if (json_is_object(tmpl) && json_object_size(tmpl) > 0) {
        *stage = "templates";
        md_buf all;
        md_buf_init(&all, MD_CEDAR_MAX_POLICY_TEXT);
        for (size_t k = 0; k < json_object_size(tmpl); k++) {
            char key[32];
            snprintf(key, sizeof key, "t%zu", k);
            const char *t = json_string_value(json_object_get(tmpl, key));
            if (!t) {
                md_buf_release(&all);
                return md_diag_set(d, MANDATE_EINVAL, 0, 0, "templates must be named t0, t1, ...");
            }
            md_buf_puts(&all, t);
            md_buf_puts(&all, "\n");
        }
        md_policyset *tps = NULL;
        rc = md_policyset_parse(a, all.data, all.len, "t", &tps, d);
        if (!rc)
            rc = md_policyset_merge(a, *out, tps, d);
        md_buf_release(&all);
        if (rc)
            return rc;
    }
    const json_t *links = json_object_get(pol, "templateLinks");
    *stage = "templateLinks";
    for (size_t i = 0; i < json_array_size(links); i++) {
        const json_t *l = json_array_get(links, i);
        const char *tid = json_string_value(json_object_get(l, "templateId"));
        const char *nid = json_string_value(json_object_get(l, "newId"));
        const json_t *vals = json_object_get(l, "values");
        const json_t *pv = json_object_get(vals, "?principal");
        const json_t *rv = json_object_get(vals, "?resource");
        md_euid pu, ru;
        if (!tid || !nid)
            return md_diag_set(d, MANDATE_EINVAL, 0, 0, "link %zu lacks templateId or newId", i);
        if ((pv && (rc = md_euid_from_json(a, pv, &pu, d))) ||
            (rv && (rc = md_euid_from_json(a, rv, &ru, d))))
            return rc;
        rc = md_policyset_link(a, *out, md_str_c(tid), md_str_c(nid), pv ? &pu : NULL,
                               rv ? &ru : NULL, d);
        if (rc)
            return rc;
    }
    return 0;
}

static void run_case(const char *line, size_t len, md_buf *out)
{
    json_error_t je;
    json_t *c = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    const char *id = c ? json_string_value(json_object_get(c, "case")) : NULL;
    const json_t *reqs = json_object_get(c, "requests");
    md_arena *a = md_arena_new();
    md_arena *scratch = md_arena_new();
    md_diag d = {0};
    const char *stage = "case";
    md_policyset *ps = NULL;
    md_entities *es = NULL;
    if (!c || !id) {
        put_failure(out, id ? id : "?", 0, "case", c ? "no case id" : je.text);
        goto done;
    }
    if (!a || !scratch) {
        put_failure(out, id, 0, "case", "out of memory");
        goto done;
    }
    int rc = load_policies(a, json_object_get(c, "policies"), &ps, &stage, &d);
    if (!rc) {
        stage = "entities";
        rc = md_entities_from_json(a, json_object_get(c, "entities"), NULL, &es, &d);
    }
    if (rc) {
        for (size_t i = 0; i < json_array_size(reqs); i++)
            put_failure(out, id, i, stage, d.msg);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        const json_t *rq = json_array_get(reqs, i);
        md_request req;
        md_diag rd = {0};
        md_arena_reset(scratch);
        if (md_euid_from_json(scratch, json_object_get(rq, "principal"), &req.principal, &rd) ||
            md_euid_from_json(scratch, json_object_get(rq, "action"), &req.action, &rd) ||
            md_euid_from_json(scratch, json_object_get(rq, "resource"), &req.resource, &rd) ||
            md_context_from_json(scratch, json_object_get(rq, "context"), NULL, &req.action,
                                 &req.context, &rd)) {
            put_failure(out, id, i, "request", rd.msg);
            continue;
        }
        md_response r;
        if (md_authorize(scratch, ps, &req, es, &r)) {
            put_failure(out, id, i, "authorize", "the authorizer failed");
            continue;
        }
        md_str *ids = md_arena_array(scratch, r.n_reasons + r.n_errors + 1, sizeof *ids);
        if (!ids) {
            put_failure(out, id, i, "authorize", "out of memory");
            continue;
        }
        md_buf_puts(out, "{\"case\":");
        md_buf_json_str(out, id, strlen(id));
        md_buf_printf(out, ",\"req\":%zu,\"decision\":\"%s\",\"reason\":", i,
                      r.allow ? "allow" : "deny");
        for (size_t k = 0; k < r.n_reasons; k++)
            ids[k] = r.reasons[k]->id;
        put_ids(out, ids, r.n_reasons);
        md_buf_puts(out, ",\"errors\":");
        for (size_t k = 0; k < r.n_errors; k++)
            ids[k] = r.errors[k].policy->id;
        put_ids(out, ids, r.n_errors);
        md_buf_puts(out, ",\"messages\":{");
        for (size_t k = 0; k < r.n_errors; k++) {
            md_str pid = r.errors[k].policy->id;
            md_buf_puts(out, k ? "," : "");
            md_buf_json_str(out, pid.ptr, pid.len);
            md_buf_puts(out, ":");
            md_buf_json_str(out, r.errors[k].msg, strlen(r.errors[k].msg));
        }
        md_buf_puts(out, "}}\n");
    }
done:
    md_arena_free(scratch);
    md_arena_free(a);
    json_decref(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cedar_diff CASES.jsonl\n");
        return 2;
    }
    FILE *f = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
    if (!f) {
        fprintf(stderr, "cedar_diff: cannot open '%s'\n", argv[1]);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    md_buf out;
    md_buf_init(&out, (size_t)1 << 30);
    while ((n = getline(&line, &cap, f)) > 0) {
        if (n == 1 && line[0] == '\n')
            continue;
        out.len = 0;
        run_case(line, (size_t)n, &out);
        if (out.len)
            fwrite(out.data, 1, out.len, stdout);
    }
    free(line);
    md_buf_release(&out);
    if (f != stdin)
        fclose(f);
    return 0;
}
