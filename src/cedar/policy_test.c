/*
 * policy_test.c: runs data-driven policy test cases (see policy_test.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/entities.h"
#include "cedar/policy_test.h"

/* A message made in the arena, or a fixed one when the arena is out of memory (a failed case
 * must never read as a pass). */
static const char *or_oom(const char *s)
{
    return s ? s : "out of memory while running the case";
}

static const char *const case_fields[] = {"name",    "principal", "action",      "resource",
                                          "context", "decision",  "reasons",     "reason",
                                          "errors",  "validate",  "description", NULL};

/* An entity uid given as Cedar syntax (`User::"alice"`) or as JSON ({"type", "id"}). */
static int case_uid(md_arena *a, const json_t *j, const char *what, md_euid *out, md_diag *d)
{
    md_diag ud = {0};
    int rc;
    if (json_is_string(j))
        rc = md_euid_parse(a, json_string_value(j), json_string_length(j), out, &ud);
    else if (json_is_object(j))
        rc = md_euid_from_json(a, j, out, &ud);
    else
        return md_diag_set(d, MANDATE_EPARSE, 0, 0,
                           "%s should be a uid such as \"User::\\\"alice\\\"\" or {\"type\": ..., "
                           "\"id\": ...}",
                           what);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "%s: %s", what, ud.msg);
    return 0;
}

/* Whether policy p is the one an expected id names: its id or its @id annotation. */
static bool names_policy(const md_policy *p, const char *want, size_t wlen)
{
    md_str w = {want, wlen};
    if (md_str_eq(p->id, w))
        return true;
    for (size_t i = 0; i < p->n_annotations; i++)
        if (md_str_eq_c(p->annotations[i].key, "id") && md_str_eq(p->annotations[i].value, w))
            return true;
    return false;
}

/* Compares an expected list of policy ids with the policies found; appends a description of the
 * difference to b and returns false when they differ. */
static bool same_policies(const json_t *want, const md_policy *const *got, size_t n,
                          const char *what, md_buf *b, md_diag *d)
{
    if (!json_is_array(want)) {
        md_diag_set(d, MANDATE_EPARSE, 0, 0, "%s should be an array of policy ids", what);
        return false;
    }
    for (size_t i = 0; i < json_array_size(want); i++) {
        if (!json_is_string(json_array_get(want, i))) {
            md_diag_set(d, MANDATE_EPARSE, 0, 0, "%s should hold policy ids (strings)", what);
            return false;
        }
    }
    bool ok = json_array_size(want) == n;
    for (size_t i = 0; i < json_array_size(want) && ok; i++) {
        const json_t *w = json_array_get(want, i);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = names_policy(got[k], json_string_value(w), json_string_length(w));
        ok = found;
    }
    if (ok)
        return true;
    char *wj = json_dumps(want, JSON_COMPACT);
    md_buf_printf(b, "%s%s: expected %s, got [", b->len ? "; " : "", what, wj ? wj : "?");
    free(wj);
    for (size_t k = 0; k < n; k++)
        md_buf_printf(b, "%s\"%.*s\"", k ? "," : "", (int)got[k]->id.len, got[k]->id.ptr);
    md_buf_puts(b, "]");
    return false;
}

static void describe_errors(md_buf *b, const md_response *r)
{
    for (size_t k = 0; k < r->n_errors; k++)
        md_buf_printf(b, "%s%.*s: %s",
                      k ? "; " : " (policy errors: ", (int)r->errors[k].policy->id.len,
                      r->errors[k].policy->id.ptr, r->errors[k].msg);
    if (r->n_errors)
        md_buf_puts(b, ")");
}

static const char *run_case(md_arena *a, const json_t *c, const md_policyset *ps,
                            const md_schema *schema, const md_entities *es)
{
    md_diag d = {0};
    md_buf b;
    md_buf_init(&b, 4096);
    const char *res = NULL;
    if (!json_is_object(c)) {
        res = "the case should be an object";
        goto done;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)c, key, v)
    {
        bool known = false;
        for (size_t i = 0; case_fields[i] && !known; i++)
            known = !strcmp(key, case_fields[i]);
        if (!known) {
            res = or_oom(
                md_arena_printf(a,
                                "malformed case: unknown field '%.60s' (fields: name, principal, "
                                "action, resource, context, decision, reasons, errors, validate)",
                                key));
            goto done;
        }
    }
    const char *want = json_string_value(json_object_get(c, "decision"));
    if (!want || (strcmp(want, "allow") && strcmp(want, "deny"))) {
        res = "malformed case: \"decision\" should be \"allow\" or \"deny\"";
        goto done;
    }
    md_request req;
    const json_t *ctx = json_object_get(c, "context");
    json_t *empty = NULL;
    if (!ctx)
        ctx = empty = json_object();
    const json_t *val = json_object_get(c, "validate");
    int rc = case_uid(a, json_object_get(c, "principal"), "principal", &req.principal, &d);
    if (!rc)
        rc = case_uid(a, json_object_get(c, "action"), "action", &req.action, &d);
    if (!rc)
        rc = case_uid(a, json_object_get(c, "resource"), "resource", &req.resource, &d);
    if (!rc)
        rc = md_context_from_json(a, ctx, schema, &req.action, &req.context, &d);
    json_decref(empty);
    if (!rc && schema && (!val || json_is_true(val)))
        rc = md_request_validate(schema, &req, &d);
    if (rc) {
        res = or_oom(md_arena_printf(a, "invalid request: %s", d.msg));
        goto done;
    }
    md_response r;
    if ((rc = md_authorize(a, ps, &req, es, &r))) {
        res = or_oom(md_arena_printf(a, "authorization failed: %s", mandate_strerror(rc)));
        goto done;
    }
    bool ok = true;
    if (strcmp(want, r.allow ? "allow" : "deny")) {
        md_buf_printf(&b, "decision: expected %s, got %s", want, r.allow ? "allow" : "deny");
        for (size_t k = 0; k < r.n_reasons; k++)
            md_buf_printf(&b, "%s%.*s", k ? ", " : " (determined by ", (int)r.reasons[k]->id.len,
                          r.reasons[k]->id.ptr);
        if (r.n_reasons)
            md_buf_puts(&b, ")");
        describe_errors(&b, &r);
        ok = false;
    }
    const json_t *wr = json_object_get(c, "reasons");
    if (!wr)
        wr = json_object_get(c, "reason");
    if (wr && !same_policies(wr, r.reasons, r.n_reasons, "reasons", &b, &d))
        ok = false;
    const json_t *we = json_object_get(c, "errors");
    if (we) {
        const md_policy **errp = md_arena_array(a, r.n_errors + 1, sizeof *errp);
        for (size_t k = 0; errp && k < r.n_errors; k++)
            errp[k] = r.errors[k].policy;
        if (!errp || !same_policies(we, errp, r.n_errors, "errors", &b, &d)) {
            if (ok)
                describe_errors(&b, &r);
            ok = false;
        }
    }
    if (d.code) {
        res = or_oom(md_arena_printf(a, "malformed case: %s", d.msg));
        goto done;
    }
    if (!ok)
        res = or_oom(b.data ? md_arena_strndup(a, b.data, b.len) : NULL);
done:
    md_buf_release(&b);
    return res;
}

int md_policy_test_run(md_arena *a, const json_t *cases, const md_policyset *ps,
                       const md_schema *schema, const md_entities *es, md_ptest_outcome **out,
                       size_t *n_out, md_diag *d)
{
    if (!a || !ps || !es || !out || !n_out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_policy_test_run: missing argument");
    if (!json_is_array(cases))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "the test cases should be a JSON array");
    size_t n = json_array_size(cases);
    md_ptest_outcome *v = md_arena_array(a, n + 1, sizeof *v);
    if (!v)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(cases, i);
        const json_t *nm = json_object_get(c, "name");
        v[i].name = json_is_string(nm)
                        ? md_arena_strndup(a, json_string_value(nm), json_string_length(nm))
                        : md_arena_printf(a, "case %zu", i + 1);
        v[i].detail = run_case(a, c, ps, schema, es);
        if (!v[i].name)
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
        v[i].pass = v[i].detail == NULL;
    }
    *out = v;
    *n_out = n;
    return 0;
}
