/* api.c: the public Cedar API (include/mandate/cedar.h) over the engine's internal modules. */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"
#include "mandate/cedar.h"

struct mandate_policies {
    md_arena *arena;
    md_policyset *ps;
};

struct mandate_schema {
    md_arena *arena;
    const md_schema *schema;
};

struct mandate_entities {
    md_arena *arena;
    md_entities *es;
};

struct mandate_decision {
    md_arena *arena;
    md_response r;
};

static void to_public(mandate_diag *out, const md_diag *d, int rc)
{
    if (!out)
        return;
    out->code = rc;
    out->line = d->line;
    out->column = d->col;
    snprintf(out->message, sizeof out->message, "%s", d->msg[0] ? d->msg : mandate_strerror(rc));
}

static int fail(mandate_diag *out, md_diag *d, int rc)
{
    if (rc && !d->code)
        md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
    to_public(out, d, rc);
    return rc;
}

MD_EXPORT int mandate_policies_parse(mandate_policies **out, const char *text, size_t len,
                                     const char *id_prefix, mandate_diag *diag)
{
    md_diag d = {0};
    if (!out || (!text && len))
        return fail(diag, &d, MANDATE_EINVAL);
    *out = NULL;
    mandate_policies *p = calloc(1, sizeof *p);
    if (!p || !(p->arena = md_arena_new())) {
        free(p);
        return fail(diag, &d, MANDATE_ENOMEM);
    }
    int rc = md_policyset_parse(p->arena, text ? text : "", len, id_prefix, &p->ps, &d);
    if (rc) {
        mandate_policies_free(p);
        return fail(diag, &d, rc);
    }
    *out = p;
    return fail(diag, &d, 0);
}

MD_EXPORT void mandate_policies_free(mandate_policies *ps)
{
    if (!ps)
        return;
    md_arena_free(ps->arena);
    free(ps);
}

MD_EXPORT size_t mandate_policies_count(const mandate_policies *ps)
{
    return ps ? ps->ps->n : 0;
}

MD_EXPORT const char *mandate_policies_id(const mandate_policies *ps, size_t i)
{
    return ps && i < ps->ps->n ? ps->ps->policies[i]->id.ptr : NULL;
}

MD_EXPORT int mandate_policies_link(mandate_policies *ps, const char *template_id,
                                    const char *new_id, const char *principal, const char *resource,
                                    mandate_diag *diag)
{
    md_diag d = {0};
    if (!ps || !template_id || !new_id)
        return fail(diag, &d, MANDATE_EINVAL);
    md_euid p, r;
    int rc = 0;
    if (principal && (rc = md_euid_parse(ps->arena, principal, strlen(principal), &p, &d)))
        return fail(diag, &d, rc);
    if (resource && (rc = md_euid_parse(ps->arena, resource, strlen(resource), &r, &d)))
        return fail(diag, &d, rc);
    md_str tid = md_arena_str(ps->arena, md_str_c(template_id));
    md_str nid = md_arena_str(ps->arena, md_str_c(new_id));
    if (!tid.ptr || !nid.ptr)
        return fail(diag, &d, MANDATE_ENOMEM);
    rc = md_policyset_link(ps->arena, ps->ps, tid, nid, principal ? &p : NULL, resource ? &r : NULL,
                           &d);
    return fail(diag, &d, rc);
}

MD_EXPORT int mandate_schema_parse(mandate_schema **out, const char *text, size_t len,
                                   mandate_diag *diag)
{
    md_diag d = {0};
    if (!out || (!text && len))
        return fail(diag, &d, MANDATE_EINVAL);
    *out = NULL;
    mandate_schema *s = calloc(1, sizeof *s);
    if (!s || !(s->arena = md_arena_new())) {
        free(s);
        return fail(diag, &d, MANDATE_ENOMEM);
    }
    int rc = md_schema_parse(s->arena, text ? text : "", len, &s->schema, &d);
    if (rc) {
        mandate_schema_free(s);
        return fail(diag, &d, rc);
    }
    *out = s;
    return fail(diag, &d, 0);
}

MD_EXPORT void mandate_schema_free(mandate_schema *s)
{
    if (!s)
        return;
    md_arena_free(s->arena);
    free(s);
}

MD_EXPORT int mandate_entities_parse(mandate_entities **out, const char *json, size_t len,
                                     const mandate_schema *schema, mandate_diag *diag)
{
    md_diag d = {0};
    if (!out || !json)
        return fail(diag, &d, MANDATE_EINVAL);
    *out = NULL;
    if (len > MD_CEDAR_MAX_JSON_TEXT) {
        md_diag_set(&d, MANDATE_ETOOBIG, 0, 0, "entities JSON is larger than %u bytes",
                    MD_CEDAR_MAX_JSON_TEXT);
        return fail(diag, &d, MANDATE_ETOOBIG);
    }
    mandate_entities *e = calloc(1, sizeof *e);
    int rc = MANDATE_ENOMEM;
    if (e && (e->arena = md_arena_new()))
        rc = md_entities_from_text(e->arena, json, len, schema ? schema->schema : NULL, &e->es, &d);
    if (rc) {
        mandate_entities_free(e);
        return fail(diag, &d, rc);
    }
    *out = e;
    return fail(diag, &d, 0);
}

MD_EXPORT void mandate_entities_free(mandate_entities *es)
{
    if (!es)
        return;
    md_arena_free(es->arena);
    free(es);
}

MD_EXPORT size_t mandate_entities_count(const mandate_entities *es)
{
    return es ? md_entities_count(es->es) : 0;
}

MD_EXPORT int mandate_authorize(const mandate_policies *ps, const mandate_entities *es,
                                const mandate_schema *schema, const mandate_request *req,
                                mandate_decision **out, mandate_diag *diag)
{
    md_diag d = {0};
    if (!ps || !es || !req || !out || !req->principal || !req->action || !req->resource)
        return fail(diag, &d, MANDATE_EINVAL);
    *out = NULL;
    mandate_decision *dec = calloc(1, sizeof *dec);
    if (!dec || !(dec->arena = md_arena_new())) {
        free(dec);
        return fail(diag, &d, MANDATE_ENOMEM);
    }
    md_arena *a = dec->arena;
    const md_schema *s = schema ? schema->schema : NULL;
    md_request r;
    md_jv *ctx = NULL; /* none: an empty record */
    int rc = md_euid_parse(a, req->principal, strlen(req->principal), &r.principal, &d);
    if (!rc)
        rc = md_euid_parse(a, req->action, strlen(req->action), &r.action, &d);
    if (!rc)
        rc = md_euid_parse(a, req->resource, strlen(req->resource), &r.resource, &d);
    if (!rc && req->context_json) {
        md_diag cd = {0};
        rc = md_json_parse_arena(a, req->context_json, strlen(req->context_json), MD_JSON_MAX_DEPTH,
                                 &ctx, &cd);
        if (rc)
            md_diag_set(&d, rc, cd.line, cd.col, "context: %s", cd.msg);
    }
    if (!rc)
        rc = md_context_from_jv(a, ctx, s, &r.action, &r.context, &d);
    if (!rc && s && req->validate)
        rc = md_request_validate(s, &r, &d);
    if (!rc)
        rc = md_authorize(a, ps->ps, &r, es->es, &dec->r);
    if (rc) {
        mandate_decision_free(dec);
        return fail(diag, &d, rc);
    }
    *out = dec;
    return fail(diag, &d, 0);
}

MD_EXPORT bool mandate_decision_allowed(const mandate_decision *d)
{
    return d && d->r.allow;
}

MD_EXPORT size_t mandate_decision_reason_count(const mandate_decision *d)
{
    return d ? d->r.n_reasons : 0;
}

MD_EXPORT const char *mandate_decision_reason(const mandate_decision *d, size_t i)
{
    return d && i < d->r.n_reasons ? d->r.reasons[i]->id.ptr : NULL;
}

MD_EXPORT size_t mandate_decision_error_count(const mandate_decision *d)
{
    return d ? d->r.n_errors : 0;
}

MD_EXPORT const char *mandate_decision_error_policy(const mandate_decision *d, size_t i)
{
    return d && i < d->r.n_errors ? d->r.errors[i].policy->id.ptr : NULL;
}

MD_EXPORT const char *mandate_decision_error_message(const mandate_decision *d, size_t i)
{
    return d && i < d->r.n_errors ? d->r.errors[i].msg : NULL;
}

MD_EXPORT char *mandate_decision_to_json(const mandate_decision *d)
{
    if (!d)
        return NULL;
    md_buf b;
    md_buf_init(&b, SIZE_MAX / 2);
    int rc = md_buf_printf(&b, "{\"decision\":\"%s\",\"reason\":[", d->r.allow ? "allow" : "deny");
    for (size_t i = 0; i < d->r.n_reasons && !rc; i++) {
        if (i)
            rc = md_buf_append(&b, ",", 1);
        if (!rc)
            rc = md_buf_json_str(&b, d->r.reasons[i]->id.ptr, d->r.reasons[i]->id.len);
    }
    if (!rc)
        rc = md_buf_puts(&b, "],\"errors\":[");
    for (size_t i = 0; i < d->r.n_errors && !rc; i++) {
        const md_policy_error *e = &d->r.errors[i];
        rc = md_buf_puts(&b, i ? ",{\"policy\":" : "{\"policy\":");
        if (!rc)
            rc = md_buf_json_str(&b, e->policy->id.ptr, e->policy->id.len);
        if (!rc)
            rc = md_buf_puts(&b, ",\"message\":");
        if (!rc)
            rc = md_buf_json_str(&b, e->msg, strlen(e->msg));
        if (!rc)
            rc = md_buf_append(&b, "}", 1);
    }
    if (!rc)
        rc = md_buf_puts(&b, "]}");
    if (rc) {
        md_buf_release(&b);
        return NULL;
    }
    return b.data;
}

MD_EXPORT void mandate_decision_free(mandate_decision *d)
{
    if (!d)
        return;
    md_arena_free(d->arena);
    free(d);
}
