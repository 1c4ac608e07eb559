/*
 * api_authorize.c: POST /v1/authorize, single ({"principal","action","resource","context"}) and
 * batch ({"requests":[...]}). Plain Cedar against the active policy set, schema and entities;
 * every decision is appended to the evidence ledger and the response is sent only once the
 * entries are durable (md_http_settle). Anything that cannot be decided denies (fail closed).
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"

static int uid_from(md_arena *a, json_t *v, const char *what, md_euid *out, md_diag *d)
{
    if (json_is_string(v))
        return md_euid_parse(a, json_string_value(v), json_string_length(v), out, d);
    if (json_is_object(v)) {
        md_diag ud = {0};
        int rc = md_euid_from_json(a, v, out, &ud);
        if (rc)
            md_diag_set(d, rc, 0, 0, "%s: %s", what, ud.msg);
        return rc;
    }
    return md_diag_set(d, MANDATE_EPARSE, 0, 0,
                       "%s must be an entity uid: \"Type::\\\"id\\\"\" or {\"type\":..,\"id\":..}",
                       what);
}

static json_t *uid_json(const md_euid *u)
{
    md_buf b;
    md_buf_init(&b, 1 << 20);
    json_t *j = NULL;
    if (!md_euid_print(&b, u))
        j = json_stringn(b.data, b.len);
    md_buf_release(&b);
    return j;
}

/* Decides one request object. Returns 0 with *out a decision object, or an error with d set
 * (a malformed request: MANDATE_EPARSE/ESCHEMA/...; an internal failure otherwise). */
static int decide(mandate_server *s, md_http_snapshot *snap, md_arena *a, json_t *item,
                  const char *caller, md_http_resp *rs, json_t **out, md_diag *d)
{
    *out = NULL;
    if (!json_is_object(item))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "a request must be a JSON object");
    if (json_object_get(item, "token"))
        return md_http_agent_decide(s, a, item, caller, rs, out, d);
    const char *k;
    json_t *v;
    json_object_foreach(item, k, v)
    {
        if (strcmp(k, "principal") && strcmp(k, "action") && strcmp(k, "resource") &&
            strcmp(k, "context"))
            return md_diag_set(d, MANDATE_EPARSE, 0, 0, "unknown request member '%s'", k);
    }
    md_request r;
    memset(&r, 0, sizeof r);
    int rc;
    if ((rc = uid_from(a, json_object_get(item, "principal"), "principal", &r.principal, d)) ||
        (rc = uid_from(a, json_object_get(item, "action"), "action", &r.action, d)) ||
        (rc = uid_from(a, json_object_get(item, "resource"), "resource", &r.resource, d)))
        return rc;
    json_t *ctx = json_object_get(item, "context");
    json_t *empty = NULL;
    if (!ctx && !(ctx = empty = json_object()))
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    if (!json_is_object(ctx)) {
        json_decref(empty);
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "context must be a JSON object");
    }
    md_diag cd = {0};
    rc = md_context_from_json(a, ctx, s->schema, &r.action, &r.context, &cd);
    json_decref(empty);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "context: %s", cd.msg);
    if (s->schema && (rc = md_request_validate(s->schema, &r, d)))
        return rc;
    md_response resp;
    if ((rc = md_authorize(a, snap->ps, &r, s->entities, &resp)))
        return md_diag_set(d, rc == MANDATE_ENOMEM ? rc : MANDATE_EINTERNAL, 0, 0,
                           "authorization failed: %s", mandate_strerror(rc));

    json_t *reasons = json_array(), *errors = json_array();
    json_t *o = json_object();
    json_t *entry = json_object();
    rc = (!reasons || !errors || !o || !entry) ? MANDATE_ENOMEM : 0;
    for (size_t i = 0; !rc && i < resp.n_reasons; i++) {
        md_str n = md_http_policy_name(resp.reasons[i]);
        if (json_array_append_new(reasons, json_stringn(n.ptr, n.len)))
            rc = MANDATE_ENOMEM;
    }
    for (size_t i = 0; !rc && i < resp.n_errors; i++) {
        md_str n = md_http_policy_name(resp.errors[i].policy);
        if (json_array_append_new(errors, json_pack("{s:s%,s:s}", "policy", n.ptr, n.len, "message",
                                                    resp.errors[i].msg)))
            rc = MANDATE_ENOMEM;
    }
    const char *dec = resp.allow ? "allow" : "deny";
    if (!rc && s->o.record_decisions >= 0) {
        json_object_set_new(entry, "api", json_string("authorize"));
        json_object_set_new(entry, "caller", json_string(caller));
        json_object_set_new(entry, "principal", uid_json(&r.principal));
        json_object_set_new(entry, "action", uid_json(&r.action));
        json_object_set_new(entry, "resource", uid_json(&r.resource));
        json_object_set_new(entry, "decision", json_string(dec));
        json_object_set(entry, "reasons", reasons);
        json_object_set_new(entry, "policies_sha256", json_string(snap->sha256));
        char *body = json_dumps(entry, JSON_COMPACT);
        if (!body) {
            rc = MANDATE_ENOMEM;
        } else {
            mandate_ledger_entry e = {
                .type = MANDATE_ENTRY_DECISION, .body = body, .body_len = strlen(body)};
            mandate_diag ld = {0};
            uint64_t ticket = 0;
            rc = mandate_ledger_submit(s->ledger, &e, &ticket, &ld);
            free(body);
            if (rc) {
                md_diag_set(d, MANDATE_ESTORE, 0, 0, "the evidence ledger refused the decision: %s",
                            ld.message);
                rc = MANDATE_ESTORE;
            } else {
                rs->pending = true;
                if (ticket > rs->ticket || !rs->ticket)
                    rs->ticket = ticket;
                json_object_set_new(o, "entry", json_integer((json_int_t)ticket));
            }
        }
    }
    json_decref(entry);
    if (rc) {
        json_decref(reasons);
        json_decref(errors);
        json_decref(o);
        if (!d->code)
            md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
        return rc;
    }
    json_object_set_new(o, "decision", json_string(dec));
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "errors", errors);
    if (resp.allow)
        rs->n_allow++;
    else
        rs->n_deny++;
    *out = o;
    return 0;
}

static bool is_client_error(int rc)
{
    return rc == MANDATE_EPARSE || rc == MANDATE_ESCHEMA || rc == MANDATE_EINVAL ||
           rc == MANDATE_ETOOBIG || rc == MANDATE_ENOTFOUND || rc == MANDATE_EDENIED;
}

static const char *client_code(int rc)
{
    return rc == MANDATE_EDENIED ? "forbidden" : "bad_request";
}

int md_api_authorize(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                     md_http_resp *rs)
{
    md_http_snapshot *snap = md_http_snapshot_acquire(s);
    json_t *reqs = json_object_get(c->body, "requests");
    md_diag d = {0};
    if (!reqs) {
        json_t *o = NULL;
        int rc = decide(s, snap, rq->arena, c->body, c->identity, rs, &o, &d);
        md_http_snapshot_release(snap);
        if (rc) {
            rs->n_err++;
            rs->pending = false; /* nothing to wait for: a failed single request submits nothing */
            if (is_client_error(rc))
                return md_http_error(rs, rc == MANDATE_EDENIED ? 403 : 400, client_code(rc), "%s",
                                     d.msg);
            return md_http_error(rs, rc == MANDATE_ESTORE ? 503 : 500,
                                 rc == MANDATE_ESTORE ? "ledger_unavailable" : "internal", "%s",
                                 d.msg);
        }
        return md_http_json(rs, 200, o);
    }
    if (!json_is_array(reqs) || json_array_size(reqs) == 0) {
        md_http_snapshot_release(snap);
        return md_http_error(rs, 400, "bad_request", "requests must be a non-empty array");
    }
    if (json_array_size(reqs) > s->o.max_batch) {
        md_http_snapshot_release(snap);
        return md_http_error(rs, 413, "batch_too_large",
                             "a batch holds at most %u requests, this one has %zu", s->o.max_batch,
                             json_array_size(reqs));
    }
    if (json_object_size(c->body) != 1) {
        md_http_snapshot_release(snap);
        return md_http_error(rs, 400, "bad_request", "a batch has only the member 'requests'");
    }
    json_t *out = json_array();
    size_t i;
    json_t *item;
    int fatal = 0;
    json_array_foreach(reqs, i, item)
    {
        json_t *o = NULL;
        md_diag_clear(&d);
        int rc = decide(s, snap, rq->arena, item, c->identity, rs, &o, &d);
        if (rc && !is_client_error(rc)) {
            fatal = rc;
            break;
        }
        if (rc) {
            rs->n_err++;
            o = json_pack("{s:s,s:{s:s,s:s}}", "decision", "deny", "error", "code", client_code(rc),
                          "message", d.msg);
        }
        if (!out || !o || json_array_append_new(out, o)) {
            fatal = MANDATE_ENOMEM;
            break;
        }
    }
    md_http_snapshot_release(snap);
    if (fatal) {
        /* Entries already submitted still become durable; the caller gets a deny for all. */
        json_decref(out);
        rs->n_err += 1 + rs->n_allow + rs->n_deny; /* the failed item and those before it */
        rs->n_allow = rs->n_deny = 0;
        rs->pending = false;
        return md_http_error(rs, fatal == MANDATE_ESTORE ? 503 : 500,
                             fatal == MANDATE_ESTORE ? "ledger_unavailable" : "internal", "%s",
                             d.msg[0] ? d.msg : mandate_strerror(fatal));
    }
    return md_http_json(rs, 200, json_pack("{s:o}", "decisions", out));
}
