/*
 * api_authorize.c: POST /v1/authorize, single ({"principal","action","resource","context"}) and
 * batch ({"requests":[...]}). Plain Cedar against the active policy set, schema and entities;
 * every decision is appended to the evidence ledger and the response is sent only once the
 * entries are durable (md_http_settle). Anything that cannot be decided denies (fail closed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cedar/entities.h"
#include "http/http.h"

/* {"type": T, "id": I} and nothing else, T a valid type name: the uid md_euid_from_json makes
 * (both strings copied into a), without its per-call scratch arenas. False for any other shape,
 * which md_euid_from_json then decides. */
static bool plain_json_uid(md_arena *a, json_t *v, md_euid *out)
{
    json_t *t = json_object_get(v, "type"), *id = json_object_get(v, "id");
    if (json_object_size(v) != 2 || !json_is_string(t) || !json_is_string(id))
        return false;
    md_str type = {json_string_value(t), json_string_length(t)};
    if (!md_cedar_name_valid(type))
        return false;
    out->type = md_arena_str(a, type);
    out->id = md_arena_str(a, (md_str){json_string_value(id), json_string_length(id)});
    return out->type.ptr && out->id.ptr;
}

static int uid_from(md_arena *a, json_t *v, const char *what, md_euid *out, md_diag *d)
{
    if (json_is_string(v))
        return md_euid_parse(a, json_string_value(v), json_string_length(v), out, d);
    if (json_is_object(v) && plain_json_uid(a, v, out))
        return 0;
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

/* Appends "key":"<uid in Cedar syntax>" (scratch holds the printed uid). */
static int put_uid(md_buf *b, md_buf *scratch, const char *key, const md_euid *u)
{
    scratch->len = 0;
    int rc = md_euid_print(scratch, u);
    if (rc == 0)
        rc = md_buf_puts(b, key);
    return rc ? rc : md_buf_json_str(b, scratch->data, scratch->len);
}

/* The ledger entry of one decision, written with its keys in sorted order so that the ledger
 * stores it as given (its canonical form) instead of re-serializing it. */
static int entry_body(md_buf *b, md_buf *scratch, const md_request *r, const char *caller,
                      const char *dec, const md_buf *reasons, const char *policies_sha256)
{
    int rc = put_uid(b, scratch, "{\"action\":", &r->action);
    if (rc == 0)
        rc = md_buf_puts(b, ",\"api\":\"authorize\",\"caller\":");
    if (rc == 0)
        rc = md_buf_json_str(b, caller, strlen(caller));
    if (rc == 0)
        rc = md_buf_puts(b, ",\"decision\":\"");
    if (rc == 0)
        rc = md_buf_puts(b, dec);
    if (rc == 0)
        rc = md_buf_puts(b, "\",\"policies_sha256\":\"");
    if (rc == 0)
        rc = md_buf_puts(b, policies_sha256);
    if (rc == 0)
        rc = put_uid(b, scratch, "\",\"principal\":", &r->principal);
    if (rc == 0)
        rc = md_buf_puts(b, ",\"reasons\":");
    if (rc == 0)
        rc = md_buf_append(b, reasons->data, reasons->len);
    if (rc == 0)
        rc = put_uid(b, scratch, ",\"resource\":", &r->resource);
    return rc ? rc : md_buf_puts(b, "}");
}

/* The determining policies as a JSON array of names, and the errors as [{"policy","message"}]. */
static int policy_lists(const md_response *resp, md_buf *reasons, md_buf *errors)
{
    int rc = md_buf_puts(reasons, "[");
    for (size_t i = 0; !rc && i < resp->n_reasons; i++) {
        md_str n = md_policy_name(resp->reasons[i]);
        if (i)
            rc = md_buf_puts(reasons, ",");
        if (!rc)
            rc = md_buf_json_str(reasons, n.ptr, n.len);
    }
    if (!rc)
        rc = md_buf_puts(reasons, "]");
    if (!rc)
        rc = md_buf_puts(errors, "[");
    for (size_t i = 0; !rc && i < resp->n_errors; i++) {
        md_str n = md_policy_name(resp->errors[i].policy);
        rc = md_buf_puts(errors, i ? ",{\"policy\":" : "{\"policy\":");
        if (!rc)
            rc = md_buf_json_str(errors, n.ptr, n.len);
        if (!rc)
            rc = md_buf_puts(errors, ",\"message\":");
        if (!rc)
            rc = md_buf_json_str(errors, resp->errors[i].msg, strlen(resp->errors[i].msg));
        if (!rc)
            rc = md_buf_puts(errors, "}");
    }
    return rc ? rc : md_buf_puts(errors, "]");
}

/* Submits the decision's ledger entry; *ticket gets its index. */
static int record(mandate_server *s, md_http_snapshot *snap, const md_request *r,
                  const char *caller, const char *dec, const md_buf *reasons, md_http_resp *rs,
                  uint64_t *ticket, md_diag *d)
{
    md_buf body, scratch;
    md_buf_init(&body, s->o.max_body + (64u << 10));
    md_buf_init(&scratch, s->o.max_body);
    int rc = entry_body(&body, &scratch, r, caller, dec, reasons, snap->sha256);
    md_buf_release(&scratch);
    if (rc) {
        md_buf_release(&body);
        return md_diag_set(d, rc, 0, 0, "cannot write the ledger entry: %s", mandate_strerror(rc));
    }
    mandate_ledger_entry e = {
        .type = MANDATE_ENTRY_DECISION, .body = body.data, .body_len = body.len};
    mandate_diag ld = {0};
    rc = mandate_ledger_submit(s->ledger, &e, ticket, &ld);
    md_buf_release(&body);
    if (rc)
        return md_diag_set(d, MANDATE_ESTORE, 0, 0, "the evidence ledger refused the decision: %s",
                           ld.message);
    rs->pending = true;
    if (*ticket > rs->ticket || !rs->ticket)
        rs->ticket = *ticket;
    return 0;
}

/* Decides one request object and appends its decision object to out. Returns 0, or an error
 * with d set (a malformed request: MANDATE_EPARSE/ESCHEMA/...; an internal failure otherwise),
 * leaving out as it was. */
static int decide(mandate_server *s, md_http_snapshot *snap, md_arena *a, json_t *item,
                  const char *caller, md_http_resp *rs, md_buf *out, md_diag *d)
{
    if (!json_is_object(item))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "a request must be a JSON object");
    if (json_object_get(item, "token")) {
        json_t *o = NULL;
        int rc = md_http_agent_decide(s, a, item, caller, rs, &o, d);
        if (rc)
            return rc;
        char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        rc = text ? md_buf_puts(out, text) : MANDATE_ENOMEM;
        free(text);
        return rc ? md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc)) : 0;
    }
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

    const char *dec = resp.allow ? "allow" : "deny";
    md_buf reasons, errors;
    md_buf_init(&reasons, s->o.max_body);
    md_buf_init(&errors, s->o.max_body);
    rc = policy_lists(&resp, &reasons, &errors);
    if (rc)
        md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
    uint64_t ticket = 0;
    bool recorded = !rc && s->o.record_decisions >= 0;
    if (recorded)
        rc = record(s, snap, &r, caller, dec, &reasons, rs, &ticket, d);
    /* {"entry":N,"decision":..,"reasons":[..],"errors":[..]} (entry only when recorded) */
    size_t mark = out->len;
    char num[40], *p = num + sizeof num;
    *--p = 0;
    *--p = ',';
    for (uint64_t t = ticket;; t /= 10) {
        *--p = (char)('0' + t % 10);
        if (t < 10)
            break;
    }
    if (!rc)
        rc = md_buf_puts(out, recorded ? "{\"entry\":" : "{");
    if (!rc && recorded)
        rc = md_buf_puts(out, p);
    if (!rc && !(rc = md_buf_puts(out, "\"decision\":\"")) && !(rc = md_buf_puts(out, dec)) &&
        !(rc = md_buf_puts(out, "\",\"reasons\":")) &&
        !(rc = md_buf_append(out, reasons.data, reasons.len)) &&
        !(rc = md_buf_puts(out, ",\"errors\":")) &&
        !(rc = md_buf_append(out, errors.data, errors.len)))
        rc = md_buf_puts(out, "}");
    md_buf_release(&reasons);
    md_buf_release(&errors);
    if (rc) {
        out->len = mark;
        if (!d->code)
            md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
        return d->code;
    }
    if (resp.allow)
        rs->n_allow++;
    else
        rs->n_deny++;
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
    md_buf out;
    md_buf_init(&out, SIZE_MAX / 2);
    if (!reqs) {
        int rc = decide(s, snap, rq->arena, c->body, c->identity, rs, &out, &d);
        md_http_snapshot_release(snap);
        if (rc) {
            md_buf_release(&out);
            rs->n_err++;
            rs->pending = false; /* nothing to wait for: a failed single request submits nothing */
            if (is_client_error(rc))
                return md_http_error(rs, rc == MANDATE_EDENIED ? 403 : 400, client_code(rc), "%s",
                                     d.msg);
            return md_http_error(rs, rc == MANDATE_ESTORE ? 503 : 500,
                                 rc == MANDATE_ESTORE ? "ledger_unavailable" : "internal", "%s",
                                 d.msg);
        }
        return md_http_text(rs, 200, &out);
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
    size_t i;
    json_t *item;
    int fatal = md_buf_puts(&out, "{\"decisions\":[");
    json_array_foreach(reqs, i, item)
    {
        if (fatal || (i && (fatal = md_buf_puts(&out, ","))))
            break;
        md_diag_clear(&d);
        int rc = decide(s, snap, rq->arena, item, c->identity, rs, &out, &d);
        if (rc && !is_client_error(rc)) {
            fatal = rc;
            break;
        }
        if (rc) {
            rs->n_err++;
            if ((fatal = md_buf_puts(&out, "{\"decision\":\"deny\",\"error\":{\"code\":\"")) ||
                (fatal = md_buf_puts(&out, client_code(rc))) ||
                (fatal = md_buf_puts(&out, "\",\"message\":")) ||
                (fatal = md_buf_json_str(&out, d.msg, strlen(d.msg))) ||
                (fatal = md_buf_puts(&out, "}}")))
                break;
        }
    }
    if (!fatal)
        fatal = md_buf_puts(&out, "]}");
    md_http_snapshot_release(snap);
    if (fatal) {
        /* Entries already submitted still become durable; the caller gets a deny for all. */
        md_buf_release(&out);
        rs->n_err += 1 + rs->n_allow + rs->n_deny; /* the failed item and those before it */
        rs->n_allow = rs->n_deny = 0;
        rs->pending = false;
        return md_http_error(rs, fatal == MANDATE_ESTORE ? 503 : 500,
                             fatal == MANDATE_ESTORE ? "ledger_unavailable" : "internal", "%s",
                             d.msg[0] ? d.msg : mandate_strerror(fatal));
    }
    return md_http_text(rs, 200, &out);
}
