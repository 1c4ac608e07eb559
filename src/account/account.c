/*
 * account.c: the accountability handle, the gate of the decision path, approvals (view,
 * approve, reject, expire) and outcomes. See account_int.h for the state machine and
 * docs/accountability.md for the model.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "account/account_int.h"
#include "cedar/entities.h" /* md_json_parse */

static const char *const modes_approve[] = {"verified", "decided"};
static const char *const kinds[] = {
    "code", "summary", "recommendation", "customer_response", "classification", "orchestration"};
static const char *const dispositions[] = {"accepted", "edited", "rejected"};

static bool in_list(const char *s, const char *const *l, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, l[i]) == 0)
            return true;
    return false;
}

int64_t md_account_now(int64_t now_ms)
{
    if (now_ms)
        return now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int md_account_finish(mandate_diag *out, const md_diag *d, int rc)
{
    if (out && rc) {
        out->code = rc;
        out->line = d->line;
        out->column = d->col;
        snprintf(out->message, sizeof out->message, "%s",
                 d->code && d->msg[0] ? d->msg : mandate_strerror(rc));
    } else if (out) {
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int md_account_log(mandate_account *acc, int type, json_t *body, int64_t now_ms, uint64_t *index,
                   md_diag *d)
{
    if (!body)
        return MANDATE_ENOMEM;
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (!text)
        return MANDATE_ENOMEM;
    mandate_ledger_entry e = {
        .type = type, .time_ms = now_ms, .body = text, .body_len = strlen(text)};
    mandate_diag ld = {0};
    int rc = mandate_ledger_append(acc->ledger, &e, index, &ld);
    free(text);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "recording the %s entry in the ledger failed: %s",
                           mandate_entry_type_name(type), ld.message);
    return 0;
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jidx(int64_t i)
{
    return i >= 0 ? json_integer((json_int_t)i) : json_null();
}

static json_t *jstrs(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* ---- open / close ---- */

MD_EXPORT int mandate_account_open(mandate_account **out, const mandate_account_opts *o,
                                   mandate_diag *diag)
{
    md_diag d = {0};
    if (!out || !o || !o->ledger || (!o->data_dir && !o->store_uri))
        return md_account_finish(diag, &d,
                                 md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                                             "account: a ledger and a data directory are needed"));
    *out = NULL;
    mandate_account *acc = calloc(1, sizeof *acc);
    if (!acc)
        return md_account_finish(diag, &d, MANDATE_ENOMEM);
    acc->ledger = o->ledger;
    acc->ttl_ms = o->approval_ttl_ms > 0 ? o->approval_ttl_ms : 15 * 60 * 1000;
    pthread_mutex_init(&acc->mu, NULL);
    int rc;
    if (o->store_uri) {
        rc = md_astore_open(&acc->st, o->store_uri, &d);
    } else {
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/mandate.db", o->data_dir);
        rc = n < 0 || (size_t)n >= sizeof path
                 ? md_diag_set(&d, MANDATE_ETOOBIG, 0, 0, "data directory path is too long")
                 : md_astore_open(&acc->st, path, &d);
    }
    if (rc) {
        mandate_account_close(acc);
        return md_account_finish(diag, &d, rc);
    }
    *out = acc;
    return 0;
}

MD_EXPORT void mandate_account_close(mandate_account *acc)
{
    if (!acc)
        return;
    md_astore_close(acc->st);
    pthread_mutex_destroy(&acc->mu);
    free(acc);
}

/* ---- approval rows ---- */

typedef struct row_ctx {
    md_arena *a;
    md_astore_approval *r;
} row_ctx;

static const char *adup(md_arena *a, const char *s)
{
    return s ? md_arena_strndup(a, s, strlen(s)) : NULL;
}

static int copy_row(void *ctx, const md_astore_approval *in)
{
    row_ctx *c = ctx;
    *c->r = *in;
    c->r->id = adup(c->a, in->id);
    c->r->digest = adup(c->a, in->digest);
    c->r->request = adup(c->a, in->request);
    c->r->status = adup(c->a, in->status);
    c->r->approver = adup(c->a, in->approver);
    c->r->mode = adup(c->a, in->mode);
    c->r->reason = adup(c->a, in->reason);
    return c->r->id && c->r->status && c->r->request ? 0 : MANDATE_ENOMEM;
}

static int load(mandate_account *acc, md_arena *a, const char *id, md_astore_approval *r,
                md_diag *d)
{
    if (!id || !*id || strlen(id) > 128)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "not an approval id: '%s'", id ? id : "");
    row_ctx c = {a, r};
    return acc->st->ops->approval_get(acc->st, id, copy_row, &c, d);
}

/* Moves r to status `to` (from its current status) and writes its fields. */
static int move(mandate_account *acc, md_astore_approval *r, const char *to, md_diag *d)
{
    const char *from = r->status;
    md_astore_approval n = *r;
    n.status = to;
    bool moved = false;
    int rc = acc->st->ops->approval_transition(acc->st, &n, from, &moved, d);
    if (rc)
        return rc;
    if (!moved)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                           "approval '%s' changed meanwhile (it is no longer %s)", r->id, from);
    r->status = to;
    return 0;
}

/* Expires r if it is pending or approved and past its expiry: a ledger entry, then EDENIED. */
static int expire_if_due(mandate_account *acc, md_astore_approval *r, int64_t now, md_diag *d)
{
    if (now <= r->expires_ms ||
        (strcmp(r->status, MD_APPROVAL_PENDING) && strcmp(r->status, MD_APPROVAL_APPROVED)))
        return 0;
    const char *before = r->status;
    int rc = move(acc, r, MD_APPROVAL_EXPIRED, d);
    if (rc)
        return rc;
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:s,s:I}", "event", "expired", "approval", r->id, "digest",
                  r->digest, "status_before", before, "expires_ms", (json_int_t)r->expires_ms);
    if ((rc = md_account_log(acc, MANDATE_ENTRY_APPROVAL, body, now, NULL, d)))
        return rc;
    return md_diag_set(d, MANDATE_EDENIED, 0, 0, "approval '%s' expired at %lld ms", r->id,
                       (long long)r->expires_ms);
}

/* A person's uid: a Cedar uid, or a plain id taken as Human::"id". */
static int person_uid(md_arena *a, const char *text, const char **out, md_euid *uid, md_diag *d)
{
    if (text && *text && !strstr(text, "::") && !strpbrk(text, "\"\\") &&
        strlen(text) <= MD_ACCOUNT_MAX_FIELD) {
        const char *full = md_arena_printf(a, "Human::\"%s\"", text);
        if (!full)
            return MANDATE_ENOMEM;
        text = full;
    }
    return md_account_uid(a, text, out, uid, d);
}

static const char *type_last(md_str type, md_arena *a)
{
    size_t i = type.len;
    while (i >= 2 && !(type.ptr[i - 1] == ':' && type.ptr[i - 2] == ':'))
        i--;
    if (i < 2)
        i = 0;
    return md_arena_strndup(a, type.ptr + i, type.len - i);
}

/* ---- the gate ---- */

const char *md_account_outcome_name(int outcome)
{
    switch (outcome) {
    case MD_ACCOUNT_ALLOW: return "allow";
    case MD_ACCOUNT_APPROVAL_REQUIRED: return "approval_required";
    default: return "deny";
    }
}

static int verdict_deny(md_account_verdict *v, md_arena *a, const char *fmt, const char *msg)
{
    v->outcome = MD_ACCOUNT_DENY;
    v->mode = NULL;
    v->accountable = NULL;
    v->reason = md_arena_printf(a, fmt, msg);
    if (!v->reason)
        v->reason = "out of memory";
    return 0;
}

static const char *join(md_arena *a, const char *const *v, size_t n)
{
    md_buf b;
    md_buf_init(&b, 1u << 16);
    for (size_t i = 0; i < n; i++)
        if (md_buf_puts(&b, i ? ", " : "") || md_buf_puts(&b, v[i]))
            break;
    const char *s = md_arena_strndup(a, b.data ? b.data : "", b.len);
    md_buf_release(&b);
    return s;
}

static json_t *request_doc(const md_account_req *r, const md_obligations *ob, const char *p,
                           const char *ac, const char *res, const char *ctx_canon,
                           const md_account_verdict *v)
{
    json_t *ctx = json_loads(ctx_canon, 0, NULL);
    json_t *sep = json_array();
    if (sep && ob->sep_delegator)
        json_array_append_new(sep, json_string("delegator"));
    if (sep && ob->sep_owner)
        json_array_append_new(sep, json_string("owner"));
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "principal", p,
                     "action", ac, "resource", res, "context", ctx ? ctx : json_object(),
                     "approval", ob->approval, "policy", ob->approval_policy, "approvers",
                     jstrs(ob->approvers_text, ob->n_approvers), "separation",
                     sep ? sep : json_array(), "delegator", jstr(r->delegator), "owner",
                     jstr(r->owner), "workflow", jstr(r->workflow), "delegation",
                     jstr(r->delegation), "impact", jstrs(v->impacts, v->n_impacts));
}

/* The first request: a new pending approval bound to the digest. */
static int gate_new(mandate_account *acc, const md_account_req *r, const md_obligations *ob,
                    md_arena *a, md_account_verdict *v, const char *p, const char *ac,
                    const char *res, const char *ctx_canon, int64_t now, md_diag *d)
{
    uint8_t rnd[16];
    char hex[33];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    const char *id = md_arena_printf(a, "apr_%s", hex);
    json_t *doc = request_doc(r, ob, p, ac, res, ctx_canon, v);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!id || !text) {
        free(text);
        return MANDATE_ENOMEM;
    }
    md_astore_approval row = {.id = id,
                              .digest = v->digest,
                              .request = text,
                              .status = MD_APPROVAL_PENDING,
                              .created_ms = now,
                              .expires_ms = now + acc->ttl_ms,
                              .dwell_ms = -1,
                              .request_index = -1,
                              .decide_index = -1,
                              .use_index = -1};
    pthread_mutex_lock(&acc->mu);
    int rc = acc->st->ops->approval_insert(acc->st, &row, d);
    pthread_mutex_unlock(&acc->mu);
    free(text);
    if (rc)
        return rc;
    v->outcome = MD_ACCOUNT_APPROVAL_REQUIRED;
    v->approval_id = id;
    v->expires_ms = row.expires_ms;
    const char *m = strcmp(ob->approval, "required") == 0 ? "an" : ob->approval;
    v->reason =
        md_arena_printf(a, "policy %s needs %s%s approval by %s; approval id %s",
                        ob->approval_policy, m, strcmp(m, "an") ? "" : "", v->approvers, id);
    return v->reason ? 0 : MANDATE_ENOMEM;
}

/* The retry: consumes the approval when it holds for exactly this request. */
static int gate_use(mandate_account *acc, const md_account_req *r, const md_obligations *ob,
                    md_arena *a, md_account_verdict *v, int64_t now, md_diag *d)
{
    md_astore_approval row;
    pthread_mutex_lock(&acc->mu);
    int rc = load(acc, a, r->approval_id, &row, d);
    if (rc)
        goto out;
    if (strlen(row.digest) != 64 || sodium_memcmp(row.digest, v->digest, 64) != 0) {
        rc = md_diag_set(d, MANDATE_EDENIED, 0, 0,
                         "approval '%s' was given for a different request (digest %.16s..., this "
                         "request %.16s...): a changed request needs a new approval",
                         row.id, row.digest, v->digest);
        goto out;
    }
    if ((rc = expire_if_due(acc, &row, now, d)))
        goto out;
    if (strcmp(row.status, MD_APPROVAL_APPROVED) != 0) {
        const char *why = strcmp(row.status, MD_APPROVAL_USED) == 0
                              ? "was already used: an approval allows one request"
                          : strcmp(row.status, MD_APPROVAL_REJECTED) == 0 ? "was rejected"
                          : strcmp(row.status, MD_APPROVAL_EXPIRED) == 0  ? "expired"
                                                                          : "is not approved yet";
        rc = md_diag_set(d, MANDATE_EDENIED, 0, 0, "approval '%s' %s%s%s", row.id, why,
                         row.approver ? " by " : "", row.approver ? row.approver : "");
        goto out;
    }
    if (strcmp(ob->approval, "required") != 0 && (!row.mode || strcmp(row.mode, ob->approval))) {
        rc = md_diag_set(d, MANDATE_EDENIED, 0, 0,
                         "approval '%s' is %s but policy %s now needs a %s approval", row.id,
                         row.mode ? row.mode : "without a mode", ob->approval_policy, ob->approval);
        goto out;
    }
    if ((rc = move(acc, &row, MD_APPROVAL_USED, d)))
        goto out;
    v->outcome = MD_ACCOUNT_ALLOW;
    v->approval_id = row.id;
    v->approver = row.approver;
    v->accountable = row.approver;
    v->mode = row.mode;
    v->dwell_ms = row.dwell_ms;
    v->expires_ms = row.expires_ms;
out:
    pthread_mutex_unlock(&acc->mu);
    return rc;
}

int md_account_gate(mandate_account *acc, const md_account_req *r, md_arena *a,
                    md_account_verdict *v, md_diag *d)
{
    if (!acc || !r || !a || !v)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "account gate: missing argument");
    memset(v, 0, sizeof *v);
    v->reason = "";
    v->dwell_ms = -1;
    int64_t now = md_account_now(r->now_ms);
    md_diag od = {0};
    md_obligations ob;
    if (md_obligations_from_policies(a, r->reasons, r->n_reasons, &ob, &od))
        return verdict_deny(v, a, "%s", od.msg);
    /* Impact: the policies' and the workflow's. */
    const char **impacts = NULL;
    size_t n_impacts = 0;
    for (size_t i = 0; i < ob.n_impacts + r->n_workflow_impacts; i++) {
        const char *s = i < ob.n_impacts ? ob.impacts[i] : r->workflow_impacts[i - ob.n_impacts];
        bool seen = false;
        for (size_t k = 0; k < n_impacts && !seen; k++)
            seen = strcmp(impacts[k], s) == 0;
        if (seen)
            continue;
        const char **ni = md_arena_array(a, n_impacts + 1, sizeof *ni);
        if (!ni)
            return verdict_deny(v, a, "%s", "out of memory");
        if (n_impacts)
            memcpy(ni, impacts, n_impacts * sizeof *ni);
        ni[n_impacts++] = s;
        impacts = ni;
    }
    v->impacts = impacts;
    v->n_impacts = n_impacts;
    bool impactful = false;
    for (size_t i = 0; i < n_impacts; i++)
        impactful |= md_impact_is_impactful(impacts[i]);
    md_euid pu;
    const char *p = NULL;
    if (md_account_uid(a, r->principal, &p, &pu, &od))
        return verdict_deny(v, a, "%s", od.msg);
    const char *ptype = type_last(pu.type, a);
    bool human = ptype && strcmp(ptype, "Human") == 0;

    if (ob.approval) {
        v->approval_mode = ob.approval;
        v->approvers = join(a, ob.approvers_text, ob.n_approvers);
        const char *ac, *res, *ctx_canon;
        char digest[65];
        if (md_account_uid(a, r->action, &ac, NULL, &od) ||
            md_account_uid(a, r->resource, &res, NULL, &od) ||
            md_request_canonical(a, r->principal, r->action, r->resource, r->context_json, NULL,
                                 &ctx_canon, digest, &od))
            return verdict_deny(v, a, "the request cannot be bound to an approval: %s", od.msg);
        v->digest = md_arena_strndup(a, digest, 64);
        if (!v->digest)
            return verdict_deny(v, a, "%s", "out of memory");
        int rc = r->approval_id ? gate_use(acc, r, &ob, a, v, now, &od)
                                : gate_new(acc, r, &ob, a, v, p, ac, res, ctx_canon, now, &od);
        if (rc)
            return verdict_deny(v, a, "%s", od.msg[0] ? od.msg : mandate_strerror(rc));
        if (v->outcome == MD_ACCOUNT_APPROVAL_REQUIRED)
            return 0;
    } else if (human) {
        v->outcome = MD_ACCOUNT_ALLOW;
        v->mode = "decided";
        v->accountable = p;
    } else if (r->delegator) {
        const char *del;
        md_euid du;
        if (md_account_uid(a, r->delegator, &del, &du, &od))
            return verdict_deny(v, a, "%s", od.msg);
        v->outcome = MD_ACCOUNT_ALLOW;
        v->mode = "delegated";
        v->accountable = del;
    } else {
        v->outcome = MD_ACCOUNT_ALLOW;
        v->mode = "auto";
        v->accountable = NULL;
        if (r->owner && md_account_uid(a, r->owner, &v->accountable, NULL, &od))
            return verdict_deny(v, a, "%s", od.msg);
    }
    if (impactful && (!v->accountable || strcmp(v->mode, "auto") == 0)) {
        const char *list = join(a, impacts, n_impacts);
        return verdict_deny(
            v, a,
            "an action with impact %s never runs in mode auto: no human delegated or approved it",
            list ? list : "");
    }
    return 0;
}

void md_account_verdict_write(const md_account_verdict *v, md_jobj *o)
{
    if (v->outcome != MD_ACCOUNT_ALLOW)
        md_jobj_str(o, "decision", md_account_outcome_name(v->outcome));
    md_jobj_str(o, "mode", v->mode);
    md_jobj_str(o, "accountable", v->accountable);
    md_jobj_strs(o, "impact", v->impacts, v->n_impacts);
    if (v->digest)
        md_jobj_str(o, "request_digest", v->digest);
    if (!v->approval_id)
        return;
    bool used = v->outcome == MD_ACCOUNT_ALLOW;
    md_jobj ap;
    md_jobj_init(&ap);
    md_jobj_str(&ap, "id", v->approval_id);
    md_jobj_str(&ap, "status", used ? "used" : "required");
    md_jobj_str(&ap, "approver", v->approver);
    md_jobj_str(&ap, "mode", used ? v->mode : v->approval_mode);
    md_jobj_str(&ap, "approvers", v->approvers);
    if (v->dwell_ms >= 0)
        md_jobj_int(&ap, "dwell_ms", v->dwell_ms);
    else
        md_jobj_str(&ap, "dwell_ms", NULL);
    md_jobj_int(&ap, "expires_ms", v->expires_ms);
    if (used)
        md_jobj_str(&ap, "required", v->approval_mode);
    md_buf b;
    md_buf_init(&b, MD_JSON_MAX_TEXT);
    int rc = md_jobj_finish(&ap, &b);
    if (rc && !o->rc)
        o->rc = rc;
    md_jobj_raw(o, "approval", b.data, b.len);
    md_buf_release(&b);
}

int md_account_decided(mandate_account *acc, const md_account_verdict *v, uint64_t ledger_index,
                       md_diag *d)
{
    if (!acc || !v)
        return MANDATE_EINVAL;
    if (!v->approval_id || v->outcome == MD_ACCOUNT_DENY)
        return 0;
    md_arena *a = md_arena_new();
    if (!a)
        return MANDATE_ENOMEM;
    md_astore_approval row;
    pthread_mutex_lock(&acc->mu);
    int rc = load(acc, a, v->approval_id, &row, d);
    if (!rc) {
        if (v->outcome == MD_ACCOUNT_APPROVAL_REQUIRED)
            row.request_index = (int64_t)ledger_index;
        else
            row.use_index = (int64_t)ledger_index;
        rc = move(acc, &row, row.status, d);
    }
    pthread_mutex_unlock(&acc->mu);
    md_arena_free(a);
    return rc;
}

/* ---- approvals for people ---- */

static json_t *row_json(const md_astore_approval *r)
{
    json_t *req = json_loads(r->request, 0, NULL);
    return json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", r->id,
                     "status", r->status, "digest", r->digest, "request", req ? req : json_null(),
                     "created_ms", (json_int_t)r->created_ms, "expires_ms",
                     (json_int_t)r->expires_ms, "approver", jstr(r->approver), "mode",
                     jstr(r->mode), "reason", jstr(r->reason), "decided_ms",
                     r->decided_ms ? json_integer(r->decided_ms) : json_null(), "dwell_ms",
                     jidx(r->dwell_ms), "request_index", jidx(r->request_index), "decide_index",
                     jidx(r->decide_index), "use_index", jidx(r->use_index));
}

static int dump_owned(json_t *j, char **out)
{
    *out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return *out ? 0 : MANDATE_ENOMEM;
}

MD_EXPORT int mandate_approval_view(mandate_account *acc, const char *id, const char *viewer,
                                    int64_t now_ms, char **json_out, mandate_diag *diag)
{
    md_diag d = {0};
    if (!acc || !json_out)
        return md_account_finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no handle"));
    *json_out = NULL;
    md_arena *a = md_arena_new();
    if (!a)
        return md_account_finish(diag, &d, MANDATE_ENOMEM);
    int64_t now = md_account_now(now_ms);
    md_astore_approval row;
    const char *who = NULL;
    pthread_mutex_lock(&acc->mu);
    int rc = viewer ? person_uid(a, viewer, &who, NULL, &d) : 0;
    if (!rc)
        rc = load(acc, a, id, &row, &d);
    if (!rc && (rc = expire_if_due(acc, &row, now, &d)) == MANDATE_EDENIED) {
        md_diag_clear(&d);
        rc = 0; /* viewing an expired approval is fine; it now says expired */
    }
    if (!rc && who && strcmp(row.status, MD_APPROVAL_PENDING) == 0) {
        bool first = false;
        rc = acc->st->ops->view_record(acc->st, row.id, who, now, &first, &d);
        if (!rc && first)
            rc = md_account_log(acc, MANDATE_ENTRY_APPROVAL,
                                json_pack("{s:s,s:s,s:s,s:s}", "event", "viewed", "approval",
                                          row.id, "viewer", who, "digest", row.digest),
                                now, NULL, &d);
    }
    pthread_mutex_unlock(&acc->mu);
    if (!rc)
        rc = dump_owned(row_json(&row), json_out);
    md_arena_free(a);
    return md_account_finish(diag, &d, rc);
}

/* The string items of a JSON array member. */
static bool json_has_str(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

static const char *jget(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Everything that must hold before a person may decide on an approval (mu held). */
static int may_decide(mandate_account *acc, md_arena *a, const md_entities *es,
                      const mandate_approval_input *in, const char *who, const md_euid *wu,
                      md_astore_approval *row, json_t **req_out, int64_t now, md_diag *d)
{
    const char *t = type_last(wu->type, a);
    if (!t || strcmp(t, "Human") != 0)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                           strcmp(t ? t : "", "Agent") == 0
                               ? "an agent never approves: '%s' is an agent"
                               : "only a human approves: '%s' is not a Human",
                           who);
    const md_entity *e = es ? md_entities_find(es, wu) : NULL;
    if (!e)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "approver '%s' is not a known entity", who);
    md_value st;
    if (md_record_get(e->attrs, MD_STR_LIT("status"), &st) &&
        (st.kind != MD_V_STRING || !md_str_eq_c(st.u.s, "active")))
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "approver '%s' is not active", who);
    int rc = load(acc, a, in->id, row, d);
    if (rc)
        return rc;
    if ((rc = expire_if_due(acc, row, now, d)))
        return rc;
    if (strcmp(row->status, MD_APPROVAL_PENDING) != 0)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "approval '%s' is %s, not pending", row->id,
                           row->status);
    json_t *req = json_loads(row->request, 0, NULL);
    if (!req)
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "approval '%s': stored request unreadable",
                           row->id);
    *req_out = req;
    const char *principal = jget(req, "principal"), *delegator = jget(req, "delegator");
    const char *owner = jget(req, "owner"), *need = jget(req, "approval");
    const json_t *sep = json_object_get(req, "separation");
    if (principal && strcmp(principal, who) == 0)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "'%s' may not approve its own request", who);
    if (delegator && strcmp(delegator, who) == 0 && json_has_str(sep, "delegator"))
        return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                           "'%s' delegated this request and policy %s separates the delegator "
                           "from the approver (@separation(\"delegator\"))",
                           who, jget(req, "policy"));
    if (owner && strcmp(owner, who) == 0 && json_has_str(sep, "owner"))
        return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                           "'%s' owns the agent and policy %s separates the owner from the "
                           "approver (@separation(\"owner\"))",
                           who, jget(req, "policy"));
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(req, "approvers"), i, g)
    {
        md_euid gu;
        const char *gt = json_string_value(g);
        md_diag pd = {0};
        if (!gt || md_euid_parse(a, gt, strlen(gt), &gu, &pd))
            return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "approval '%s': bad approvers", row->id);
        if (!md_entities_in(es, wu, &gu))
            return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                               "'%s' may not approve: not in %s (@approvers of policy %s)", who, gt,
                               jget(req, "policy"));
    }
    if (in->approve) {
        if (!in_list(in->mode, modes_approve, 2))
            return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                               "an approval states its mode: verified or decided, not '%s'",
                               in->mode ? in->mode : "");
        if (need && strcmp(need, "required") && strcmp(need, in->mode))
            return md_diag_set(d, MANDATE_EDENIED, 0, 0, "policy %s needs a %s approval, not %s",
                               jget(req, "policy"), need, in->mode);
    } else if (in->mode && *in->mode && !in_list(in->mode, modes_approve, 2)) {
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "mode must be verified or decided, not '%s'",
                           in->mode);
    }
    return 0;
}

int md_approval_decide(mandate_account *acc, const md_entities *es,
                       const mandate_approval_input *in, uint64_t *index, md_diag *d)
{
    if (!acc || !in)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "approve: missing argument");
    if (in->reason && strlen(in->reason) > MD_ACCOUNT_MAX_REASON)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "reason of %zu bytes is over the cap of %u",
                           strlen(in->reason), MD_ACCOUNT_MAX_REASON);
    md_arena *a = md_arena_new();
    if (!a)
        return MANDATE_ENOMEM;
    int64_t now = md_account_now(in->now_ms);
    const char *who;
    md_euid wu;
    json_t *req = NULL;
    md_astore_approval row;
    uint64_t idx = 0;
    int rc = person_uid(a, in->approver, &who, &wu, d);
    if (rc) {
        md_arena_free(a);
        return rc;
    }
    pthread_mutex_lock(&acc->mu);
    if ((rc = may_decide(acc, a, es, in, who, &wu, &row, &req, now, d)))
        goto out;
    int64_t viewed = 0;
    row.dwell_ms = -1;
    int vr = acc->st->ops->view_get(acc->st, row.id, who, &viewed, d);
    if (vr == 0)
        row.dwell_ms = now - viewed;
    else if (vr != MANDATE_ENOTFOUND) {
        rc = vr;
        goto out;
    }
    row.approver = who;
    row.mode = in->approve ? in->mode : (in->mode && *in->mode ? in->mode : NULL);
    row.reason = in->reason && *in->reason ? in->reason : NULL;
    row.decided_ms = now;
    if ((rc = move(acc, &row, MD_APPROVAL_DECIDING, d)))
        goto out;
    json_t *body = json_pack(
        "{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:O?,s:O?,s:O?,s:o,s:O?}", "event",
        in->approve ? "approved" : "rejected", "approval", row.id, "digest", row.digest, "approver",
        who, "mode", jstr(row.mode), "reason", jstr(row.reason), "dwell_ms", jidx(row.dwell_ms),
        "viewed_ms", vr == 0 ? json_integer(viewed) : json_null(), "request_index",
        jidx(row.request_index), "principal", json_object_get(req, "principal"), "action",
        json_object_get(req, "action"), "resource", json_object_get(req, "resource"), "required",
        jstr(jget(req, "approval")), "approvers", json_object_get(req, "approvers"));
    if ((rc = md_account_log(acc, MANDATE_ENTRY_APPROVAL, body, now, &idx, d))) {
        md_diag scratch = {0};
        move(acc, &row, MD_APPROVAL_PENDING, &scratch);
        goto out;
    }
    row.decide_index = (int64_t)idx;
    rc = move(acc, &row, in->approve ? MD_APPROVAL_APPROVED : MD_APPROVAL_REJECTED, d);
    if (!rc && index)
        *index = idx;
out:
    pthread_mutex_unlock(&acc->mu);
    json_decref(req);
    md_arena_free(a);
    return rc;
}

MD_EXPORT int mandate_approval_decide(mandate_account *acc, const char *entities_json, size_t len,
                                      const mandate_approval_input *in, uint64_t *index,
                                      mandate_diag *diag)
{
    md_diag d = {0};
    if (!entities_json)
        return md_account_finish(
            diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "approve: entities are needed"));
    md_arena *a = md_arena_new();
    if (!a)
        return md_account_finish(diag, &d, MANDATE_ENOMEM);
    md_entities *es = NULL;
    int rc =
        md_entities_from_text(a, entities_json, len ? len : strlen(entities_json), NULL, &es, &d);
    if (!rc)
        rc = md_approval_decide(acc, es, in, index, &d);
    md_arena_free(a);
    return md_account_finish(diag, &d, rc);
}

typedef struct list_ctx {
    json_t *arr;
} list_ctx;

static int list_row(void *ctx, const md_astore_approval *r)
{
    list_ctx *c = ctx;
    return json_array_append_new(c->arr, row_json(r)) ? MANDATE_ENOMEM : 0;
}

MD_EXPORT int mandate_approval_list(mandate_account *acc, const char *status, size_t limit,
                                    char **json_out, mandate_diag *diag)
{
    md_diag d = {0};
    if (!acc || !json_out)
        return md_account_finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no handle"));
    *json_out = NULL;
    list_ctx c = {json_array()};
    if (!c.arr)
        return md_account_finish(diag, &d, MANDATE_ENOMEM);
    pthread_mutex_lock(&acc->mu);
    int rc = acc->st->ops->approval_each(acc->st, status, limit ? limit : 1000, list_row, &c, &d);
    pthread_mutex_unlock(&acc->mu);
    if (rc) {
        json_decref(c.arr);
        return md_account_finish(diag, &d, rc);
    }
    return md_account_finish(diag, &d, dump_owned(c.arr, json_out));
}

typedef struct ids_ctx {
    md_arena *a;
    size_t n;
    const char *ids[256];
} ids_ctx;

static int collect_id(void *ctx, const md_astore_approval *r)
{
    ids_ctx *c = ctx;
    if (c->n < MD_ARRAY_LEN(c->ids) && !(c->ids[c->n++] = adup(c->a, r->id)))
        return MANDATE_ENOMEM;
    return 0;
}

MD_EXPORT int mandate_approval_expire(mandate_account *acc, int64_t now_ms, size_t *n_expired,
                                      mandate_diag *diag)
{
    md_diag d = {0};
    if (!acc)
        return md_account_finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no handle"));
    int64_t now = md_account_now(now_ms);
    size_t total = 0;
    int rc = 0;
    md_arena *a = md_arena_new();
    if (!a)
        return md_account_finish(diag, &d, MANDATE_ENOMEM);
    pthread_mutex_lock(&acc->mu);
    for (;;) {
        ids_ctx c = {.a = a};
        if ((rc = acc->st->ops->approval_overdue(acc->st, now, MD_ARRAY_LEN(c.ids), collect_id, &c,
                                                 &d)))
            break;
        for (size_t i = 0; i < c.n && !rc; i++) {
            md_astore_approval row;
            if ((rc = load(acc, a, c.ids[i], &row, &d)))
                break;
            rc = expire_if_due(acc, &row, now, &d);
            if (rc == MANDATE_EDENIED) {
                md_diag_clear(&d);
                rc = 0;
                total++;
            }
        }
        if (rc || c.n < MD_ARRAY_LEN(c.ids))
            break;
        md_arena_reset(a);
    }
    pthread_mutex_unlock(&acc->mu);
    md_arena_free(a);
    if (n_expired)
        *n_expired = total;
    return md_account_finish(diag, &d, rc);
}

/* ---- outcomes ---- */

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool printable(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

MD_EXPORT int mandate_outcome_record(mandate_account *acc, const mandate_outcome *o,
                                     uint64_t *index, mandate_diag *diag)
{
    md_diag d = {0};
    int rc = 0;
    if (!acc || !o)
        return md_account_finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no outcome"));
    if (!in_list(o->kind, kinds, MD_ARRAY_LEN(kinds)))
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "outcome kind '%s' is not one of code, summary, recommendation, "
                         "customer_response, classification, orchestration",
                         o->kind ? o->kind : "");
    else if (!is_hex64(o->sha256))
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "outcome sha256 '%s' is not 64 lowercase hex digits",
                         o->sha256 ? o->sha256 : "");
    else if (!in_list(o->disposition, dispositions, MD_ARRAY_LEN(dispositions)))
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "disposition '%s' is not accepted, edited or rejected",
                         o->disposition ? o->disposition : "");
    else if ((o->uri && (strlen(o->uri) > MD_ACCOUNT_MAX_FIELD || !printable(o->uri))) ||
             (o->recorded_by &&
              (strlen(o->recorded_by) > MD_ACCOUNT_MAX_FIELD || !printable(o->recorded_by))))
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "outcome uri or recorded_by is over %u bytes or holds control bytes",
                         MD_ACCOUNT_MAX_FIELD);
    if (rc)
        return md_account_finish(diag, &d, rc);
    char *text = NULL;
    mandate_diag ld = {0};
    if (mandate_ledger_get(acc->ledger, o->decision, &text, &ld))
        return md_account_finish(diag, &d,
                                 md_diag_set(&d, MANDATE_ENOTFOUND, 0, 0,
                                             "no decision at ledger index %llu: %s",
                                             (unsigned long long)o->decision, ld.message));
    json_t *e = json_loads(text, 0, NULL);
    free(text);
    const json_t *body = json_object_get(e, "body");
    const char *type = jget(e, "type"), *dec = jget(body, "decision");
    if (!type || strcmp(type, "decision") || !dec || strcmp(dec, "allow")) {
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "ledger entry %llu is not an allowed decision (%s %s): outcomes follow "
                         "allowed actions",
                         (unsigned long long)o->decision, type ? type : "?", dec ? dec : "");
        json_decref(e);
        return md_account_finish(diag, &d, rc);
    }
    json_t *ob = json_pack(
        "{s:I,s:s,s:s,s:o,s:s,s:o,s:O?,s:O?,s:O?,s:O?,s:O?}", "decision", (json_int_t)o->decision,
        "kind", o->kind, "sha256", o->sha256, "uri", jstr(o->uri), "disposition", o->disposition,
        "recorded_by", jstr(o->recorded_by), "principal", json_object_get(body, "principal"),
        "action", json_object_get(body, "action"), "resource", json_object_get(body, "resource"),
        "accountable", json_object_get(body, "accountable"), "mode", json_object_get(body, "mode"));
    json_decref(e);
    if (!ob)
        return md_account_finish(
            diag, &d,
            md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                        "decision %llu lacks principal, action, resource, mode or accountable",
                        (unsigned long long)o->decision));
    rc = md_account_log(acc, MANDATE_ENTRY_OUTCOME, ob, md_account_now(o->now_ms), index, &d);
    return md_account_finish(diag, &d, rc);
}
