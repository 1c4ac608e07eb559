/*
 * api_account.c: accountability over HTTP (docs/accountability.md, docs/server.md): approvals
 * (list, view, approve, reject), outcomes and the trace. The approver is always the caller's
 * identity (a human; the admin policies and the account module both refuse agents), and a view
 * by a human is recorded (it starts that approver's dwell clock). Approvals use the registry's
 * accountability handle, on the server's one ledger.
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"

static json_t *loads_owned(char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

static mandate_account *account(mandate_server *s)
{
    return mandate_registry_account(s->registry);
}

int md_api_approvals_list(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                          md_http_resp *rs)
{
    (void)c;
    const char *status = md_http_query_param(rq->arena, rq->query, "status");
    const char *lim = md_http_query_param(rq->arena, rq->query, "limit");
    long limit = 100;
    if (lim) {
        char *end = NULL;
        limit = strtol(lim, &end, 10);
        if (!end || *end || limit < 1 || limit > 1000)
            return md_http_error(rs, 400, "invalid", "limit must be 1..1000");
    }
    if (!status)
        status = "pending";
    else if (!strcmp(status, "all"))
        status = NULL;
    char *json = NULL;
    mandate_diag d = {0};
    int rc = mandate_approval_list(account(s), status, (size_t)limit, &json, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(rs, 200, loads_owned(json));
}

int md_api_approvals_view(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                          md_http_resp *rs)
{
    const char *id = md_http_path_arg(rq->arena, c->path_arg);
    const char *viewer = !strncmp(c->identity, "Human::", 7) ? c->identity : NULL;
    char *json = NULL;
    mandate_diag d = {0};
    int rc = mandate_approval_view(account(s), id, viewer, 0, &json, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(rs, 200, loads_owned(json));
}

static int decide(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs,
                  bool approve)
{
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v)
    {
        if (strcmp(k, "mode") && strcmp(k, "reason"))
            return md_http_error(rs, 400, "invalid", "unknown member '%s'", k);
        if (!json_is_string(v))
            return md_http_error(rs, 400, "invalid", "'%s' must be a string", k);
    }
    const char *mode = json_string_value(json_object_get(c->body, "mode"));
    if (approve && !mode)
        return md_http_error(rs, 400, "invalid",
                             "'mode' is required: verified (I checked the AI output) or decided "
                             "(I made this decision)");
    mandate_approval_input in = {.id = md_http_path_arg(rq->arena, c->path_arg),
                                 .approver = c->identity,
                                 .approve = approve,
                                 .mode = mode,
                                 .reason = json_string_value(json_object_get(c->body, "reason"))};
    uint64_t index = 0;
    mandate_diag d = {0};
    int rc = mandate_registry_approve(s->registry, &in, &index, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(rs, 200,
                        json_pack("{s:s,s:s,s:s,s:I}", "approval", in.id, "status",
                                  approve ? "approved" : "rejected", "approver", c->identity,
                                  "entry", (json_int_t)index));
}

int md_api_approvals_approve(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                             md_http_resp *rs)
{
    return decide(s, rq, c, rs, true);
}

int md_api_approvals_reject(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                            md_http_resp *rs)
{
    return decide(s, rq, c, rs, false);
}

int md_api_outcomes(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                    md_http_resp *rs)
{
    (void)rq;
    json_t *b = c->body;
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        if (strcmp(k, "decision") && strcmp(k, "kind") && strcmp(k, "sha256") && strcmp(k, "uri") &&
            strcmp(k, "disposition"))
            return md_http_error(rs, 400, "invalid", "unknown member '%s'", k);
        if (strcmp(k, "decision") && !json_is_string(v))
            return md_http_error(rs, 400, "invalid", "'%s' must be a string", k);
    }
    json_t *dec = json_object_get(b, "decision");
    if (!json_is_integer(dec) || json_integer_value(dec) < 0)
        return md_http_error(rs, 400, "invalid",
                             "'decision' (the decision's ledger index) must be an integer >= 0");
    mandate_outcome o = {.decision = (uint64_t)json_integer_value(dec),
                         .kind = json_string_value(json_object_get(b, "kind")),
                         .sha256 = json_string_value(json_object_get(b, "sha256")),
                         .uri = json_string_value(json_object_get(b, "uri")),
                         .disposition = json_string_value(json_object_get(b, "disposition")),
                         .recorded_by = c->identity};
    if (!o.kind || !o.sha256 || !o.disposition)
        return md_http_error(rs, 400, "invalid", "'kind', 'sha256' and 'disposition' are required");
    mandate_diag d = {0};
    /* An agent records outcomes of its own decisions only. */
    if (!strncmp(c->identity, "Agent::", 7)) {
        char *text = NULL;
        if (mandate_ledger_get(s->ledger, o.decision, &text, &d))
            return md_http_error(rs, 404, "not_found", "no ledger entry %llu",
                                 (unsigned long long)o.decision);
        json_t *e = loads_owned(text);
        const char *p = json_string_value(json_object_get(json_object_get(e, "body"), "principal"));
        bool own = p && !strcmp(p, c->identity);
        json_decref(e);
        if (!own)
            return md_http_error(rs, 403, "forbidden",
                                 "'%s' may only record outcomes of its own decisions", c->identity);
    }
    uint64_t index = 0;
    int rc = mandate_outcome_record(account(s), &o, &index, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(
        rs, 201,
        json_pack("{s:I,s:I}", "entry", (json_int_t)index, "decision", (json_int_t)o.decision));
}

int md_api_trace(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs)
{
    (void)c;
    const char *q = md_http_query_param(rq->arena, rq->query, "q");
    if (!q || !*q)
        return md_http_error(rs, 400, "invalid",
                             "give q: an artifact's SHA-256, an artifact URI or a decision id");
    char *json = NULL;
    mandate_diag d = {0};
    int rc = mandate_trace(account(s), q, &json, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(rs, 200, loads_owned(json));
}
