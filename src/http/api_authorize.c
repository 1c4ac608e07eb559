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
#include "core/json.h"
#include "http/http.h"

static int uid_from(md_arena *a, const md_jv *v, const char *what, md_euid *out, md_diag *d)
{
    if (v && v->kind == MD_JV_STRING) {
        const char *text = md_arena_strndup(a, v->u.s.ptr, v->u.s.len);
        return text ? md_euid_parse(a, text, v->u.s.len, out, d)
                    : md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    if (v && v->kind == MD_JV_OBJECT) {
        md_diag ud = {0};
        int rc = md_euid_from_jv(a, v, out, &ud);
        if (rc)
            md_diag_set(d, rc, 0, 0, "%s: %s", what, ud.msg);
        return rc;
    }
    return md_diag_set(d, MANDATE_EPARSE, 0, 0,
                       "%s must be an entity uid: \"Type::\\\"id\\\"\" or {\"type\":..,\"id\":..}",
                       what);
}

/* Appends "key":"<uid in Cedar syntax>" as a JSON string; *longest is raised to the length of
 * the uid in Cedar syntax. */
static int put_uid(md_buf *b, const char *key, const md_euid *u, size_t *longest)
{
    size_t n = 0;
    int rc = md_buf_puts(b, key);
    if (!rc)
        rc = md_euid_print_json(b, u, &n);
    if (n > *longest)
        *longest = n;
    return rc;
}

/* The determining policies as a JSON array of names. */
static int put_reasons(md_buf *b, const md_response *resp)
{
    int rc = md_buf_puts(b, "[");
    for (size_t i = 0; !rc && i < resp->n_reasons; i++) {
        md_str n = md_policy_name(resp->reasons[i]);
        if (i)
            rc = md_buf_puts(b, ",");
        if (!rc)
            rc = md_buf_json_str(b, n.ptr, n.len);
    }
    return rc ? rc : md_buf_puts(b, "]");
}

/* The errors as [{"policy","message"}]. */
static int put_errors(md_buf *b, const md_response *resp)
{
    int rc = md_buf_puts(b, "[");
    for (size_t i = 0; !rc && i < resp->n_errors; i++) {
        md_str n = md_policy_name(resp->errors[i].policy);
        rc = md_buf_puts(b, i ? ",{\"policy\":" : "{\"policy\":");
        if (!rc)
            rc = md_buf_json_str(b, n.ptr, n.len);
        if (!rc)
            rc = md_buf_puts(b, ",\"message\":");
        if (!rc)
            rc = md_buf_json_str(b, resp->errors[i].msg, strlen(resp->errors[i].msg));
        if (!rc)
            rc = md_buf_puts(b, "}");
    }
    return rc ? rc : md_buf_puts(b, "]");
}

/* The ledger entry of one decision, written with its keys in sorted order so that the ledger
 * stores it as given (its canonical form) instead of re-serializing it. *reasons_at and
 * *reasons_len get where the reasons array is in b, *longest_uid the length of the longest uid
 * in Cedar syntax. */
static int entry_body(md_buf *b, const md_request *r, const char *caller, const char *dec,
                      const md_response *resp, const char *policies_sha256, size_t *reasons_at,
                      size_t *reasons_len, size_t *longest_uid)
{
    int rc = md_buf_reserve(b, 512);
    if (rc == 0)
        rc = put_uid(b, "{\"action\":", &r->action, longest_uid);
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
        rc = put_uid(b, "\",\"principal\":", &r->principal, longest_uid);
    if (rc == 0)
        rc = md_buf_puts(b, ",\"reasons\":");
    *reasons_at = b->len;
    if (rc == 0)
        rc = put_reasons(b, resp);
    *reasons_len = b->len - *reasons_at;
    if (rc == 0)
        rc = put_uid(b, ",\"resource\":", &r->resource, longest_uid);
    return rc ? rc : md_buf_puts(b, "}");
}

/* Submits the decision's ledger entry; *ticket gets its index. */
static int record(mandate_server *s, const char *body, size_t len, md_http_resp *rs,
                  uint64_t *ticket, md_diag *d)
{
    mandate_ledger_entry e = {.type = MANDATE_ENTRY_DECISION, .body = body, .body_len = len};
    mandate_diag ld = {0};
    int rc = mandate_ledger_submit(s->ledger, &e, ticket, &ld);
    if (rc)
        return md_diag_set(d, MANDATE_ESTORE, 0, 0, "the evidence ledger refused the decision: %s",
                           ld.message);
    md_http_hold(rs, *ticket);
    return 0;
}

/* Decides one request object and appends its decision object to out. Returns 0, or an error
 * with d set (a malformed request: MANDATE_EPARSE/ESCHEMA/...; an internal failure otherwise),
 * leaving out as it was. */
static int decide(mandate_server *s, md_http_snapshot *snap, md_arena *a, const md_jv *item,
                  const char *caller, bool caller_inactive, md_http_resp *rs, md_buf *out,
                  md_diag *d)
{
    if (item->kind != MD_JV_OBJECT)
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "a request must be a JSON object");
    if (md_jv_get(item, "token")) {
        json_t *j = md_jv_to_json(item);
        if (!j)
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
        int rc = md_http_agent_decide(s, a, j, caller, rs, out, d);
        json_decref(j);
        return rc;
    }
    for (size_t i = 0; i < item->n; i++) {
        /* A key as a C string (up to a NUL byte), as members were always compared. */
        md_str k = item->u.c.keys[i];
        const char *nul = memchr(k.ptr, 0, k.len);
        if (nul)
            k.len = (size_t)(nul - k.ptr);
        if (!md_str_eq_c(k, "principal") && !md_str_eq_c(k, "action") &&
            !md_str_eq_c(k, "resource") && !md_str_eq_c(k, "context"))
            return md_diag_set(d, MANDATE_EPARSE, 0, 0, "unknown request member '%.*s'", (int)k.len,
                               k.ptr);
    }
    md_request r;
    memset(&r, 0, sizeof r);
    int rc;
    if ((rc = uid_from(a, md_jv_get(item, "principal"), "principal", &r.principal, d)) ||
        (rc = uid_from(a, md_jv_get(item, "action"), "action", &r.action, d)) ||
        (rc = uid_from(a, md_jv_get(item, "resource"), "resource", &r.resource, d)))
        return rc;
    /* Plain decisions consult no registry: a suspended or departed caller gets none, and an
     * agent's key asks only as that agent (as on the agent path). */
    if (caller_inactive)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                           "'%s' is suspended or departed: it gets no decisions", caller);
    md_euid me;
    if (!strncmp(caller, "Agent::", 7) &&
        (md_euid_parse(a, caller, strlen(caller), &me, NULL) || !md_euid_eq(&me, &r.principal)))
        return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                           "the key of '%s' may only ask as that agent, not as another principal",
                           caller);
    const md_jv *cv = md_jv_get(item, "context");
    if (cv && cv->kind != MD_JV_OBJECT)
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "context must be a JSON object");
    md_diag cd = {0};
    rc = md_context_from_jv(a, cv, s->schema, &r.action, &r.context, &cd);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "context: %s", cd.msg);
    if (s->schema && (rc = md_request_validate(s->schema, &r, d)))
        return rc;
    md_response resp;
    if ((rc = md_authorize(a, snap->ps, &r, s->entities, &resp)))
        return md_diag_set(d, rc == MANDATE_ENOMEM ? rc : MANDATE_EINTERNAL, 0, 0,
                           "authorization failed: %s", mandate_strerror(rc));

    const char *dec = resp.allow ? "allow" : "deny";
    /* One scratch buffer: the entry body (which holds the reasons array the response repeats),
     * then the errors array. */
    md_buf work;
    md_buf_init(&work, SIZE_MAX / 2);
    size_t reasons_at = 0, reasons_len = 0, entry_len = 0, errors_at = 0, longest_uid = 0;
    rc = entry_body(&work, &r, caller, dec, &resp, snap->sha256, &reasons_at, &reasons_len,
                    &longest_uid);
    entry_len = errors_at = work.len;
    if (!rc)
        rc = put_errors(&work, &resp);
    /* Each list is capped at max_body; so is a uid in the entry, and the entry at max_body +
     * 64 KiB. */
    if (!rc && (reasons_len > s->o.max_body || work.len - errors_at > s->o.max_body))
        rc = MANDATE_ETOOBIG;
    if (rc)
        md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
    uint64_t ticket = 0;
    bool recorded = !rc && s->o.record_decisions >= 0;
    if (recorded && (longest_uid > s->o.max_body || entry_len > s->o.max_body + (64u << 10)))
        rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "cannot write the ledger entry: %s",
                         mandate_strerror(MANDATE_ETOOBIG));
    else if (recorded)
        rc = record(s, work.data, entry_len, rs, &ticket, d);
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
        rc = md_buf_reserve(out, 64 + work.len - entry_len + reasons_len);
    if (!rc)
        rc = md_buf_puts(out, recorded ? "{\"entry\":" : "{");
    if (!rc && recorded)
        rc = md_buf_puts(out, p);
    if (!rc && !(rc = md_buf_puts(out, "\"decision\":\"")) && !(rc = md_buf_puts(out, dec)) &&
        !(rc = md_buf_puts(out, "\",\"reasons\":")) &&
        !(rc = md_buf_append(out, work.data + reasons_at, reasons_len)) &&
        !(rc = md_buf_puts(out, ",\"errors\":")) &&
        !(rc = md_buf_append(out, work.data + errors_at, work.len - errors_at)))
        rc = md_buf_puts(out, "}");
    md_buf_release(&work);
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
    const md_jv *reqs = md_jv_get(c->doc, "requests");
    md_diag d = {0};
    md_buf out;
    md_buf_init(&out, SIZE_MAX / 2);
    if (!reqs) {
        int rc = decide(s, snap, rq->arena, c->doc, c->identity, c->caller_inactive, rs, &out, &d);
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
    if (reqs->kind != MD_JV_ARRAY || reqs->n == 0) {
        md_http_snapshot_release(snap);
        return md_http_error(rs, 400, "bad_request", "requests must be a non-empty array");
    }
    if (reqs->n > s->o.max_batch) {
        md_http_snapshot_release(snap);
        return md_http_error(rs, 413, "batch_too_large",
                             "a batch holds at most %u requests, this one has %zu", s->o.max_batch,
                             reqs->n);
    }
    if (c->doc->n != 1) {
        md_http_snapshot_release(snap);
        return md_http_error(rs, 400, "bad_request", "a batch has only the member 'requests'");
    }
    int fatal = md_buf_puts(&out, "{\"decisions\":[");
    for (size_t i = 0; i < reqs->n; i++) {
        if (fatal || (i && (fatal = md_buf_puts(&out, ","))))
            break;
        md_diag_clear(&d);
        int rc = decide(s, snap, rq->arena, &reqs->u.c.items[i], c->identity, c->caller_inactive,
                        rs, &out, &d);
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
