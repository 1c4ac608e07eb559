/*
 * trace.c: the trace index and the trace.
 *
 * The index (account_index: key -> ledger indices) is a cache derived from the ledger: it is
 * brought up to the ledger's size before every trace by scanning the entries it has not seen
 * (meta "scanned"), so entries written by any module (registry, delegations, policies,
 * decisions) are found without hooks. Keys: uid:<Cedar uid> (registry entries), delegation:<jti>,
 * revocation:<jti>, policy:<id>, approval:<id>, sha256:<hex>, uri:<uri>, outcome-of:<decision>.
 *
 * A trace starts from an outcome (by artifact digest or URI) or a decision (by its ledger
 * index) and reads the decision entry; every other element is the newest entry about it before
 * the decision. Each element carries its entry and an inclusion proof against one checkpoint.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "account/account_int.h"
#include "ledger/ledger_int.h" /* md_entry_encode, md_merkle_leaf_hash, md_b64_encode */

#define SCAN_BATCH 4096
#define MAX_HITS 256

static const char *jget(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int put(mandate_account *acc, const char *prefix, const char *v, uint64_t idx, md_diag *d)
{
    if (!v || !*v || strlen(v) > MD_ACCOUNT_MAX_FIELD)
        return 0;
    char key[MD_ACCOUNT_MAX_FIELD + 32];
    snprintf(key, sizeof key, "%s:%s", prefix, v);
    return acc->st->ops->index_put(acc->st, key, idx, d);
}

static int index_entry(mandate_account *acc, uint64_t idx, const json_t *e, md_diag *d)
{
    const char *type = jget(e, "type");
    const json_t *b = json_object_get(e, "body");
    if (!type || !json_is_object(b))
        return 0;
    int rc = 0;
    if (strcmp(type, "decision") == 0) {
        rc = put(acc, "approval", jget(json_object_get(b, "approval"), "id"), idx, d);
    } else if (strcmp(type, "approval") == 0) {
        rc = put(acc, "approval", jget(b, "approval"), idx, d);
    } else if (strcmp(type, "outcome") == 0) {
        char dec[32];
        snprintf(dec, sizeof dec, "%lld",
                 (long long)json_integer_value(json_object_get(b, "decision")));
        if (!(rc = put(acc, "sha256", jget(b, "sha256"), idx, d)) &&
            !(rc = put(acc, "uri", jget(b, "uri"), idx, d)))
            rc = put(acc, "outcome-of", dec, idx, d);
    } else if (strcmp(type, "registry") == 0) {
        rc = put(acc, "uid", jget(b, "uid"), idx, d);
    } else if (strcmp(type, "delegation") == 0) {
        rc = put(acc, "delegation", jget(b, "jti"), idx, d);
    } else if (strcmp(type, "revocation") == 0) {
        rc = put(acc, "revocation", jget(b, "jti"), idx, d);
    } else if (strcmp(type, "policy") == 0) {
        size_t i;
        json_t *v;
        rc = put(acc, "policy", jget(b, "id"), idx, d);
        json_array_foreach(json_object_get(b, "policies"), i, v)
        {
            if (rc)
                break;
            rc = put(acc, "policy", json_string_value(v), idx, d);
        }
    }
    return rc;
}

int md_account_index_catch_up(mandate_account *acc, md_diag *d)
{
    uint64_t size = mandate_ledger_size(acc->ledger);
    int rc = 0;
    pthread_mutex_lock(&acc->mu);
    for (;;) {
        int64_t from = 0;
        if ((rc = acc->st->ops->meta_get(acc->st, "scanned", &from, d)))
            break;
        if ((uint64_t)from >= size)
            break;
        uint64_t to = (uint64_t)from + SCAN_BATCH < size ? (uint64_t)from + SCAN_BATCH : size;
        if ((rc = acc->st->ops->begin(acc->st, d)))
            break;
        for (uint64_t i = (uint64_t)from; i < to && !rc; i++) {
            char *text = NULL;
            mandate_diag ld = {0};
            if ((rc = mandate_ledger_get(acc->ledger, i, &text, &ld))) {
                rc = md_diag_set(d, rc, 0, 0, "trace index: reading ledger entry %llu: %s",
                                 (unsigned long long)i, ld.message);
                break;
            }
            json_t *e = json_loads(text, 0, NULL);
            free(text);
            rc = e ? index_entry(acc, i, e, d) : 0;
            json_decref(e);
        }
        if (!rc)
            rc = acc->st->ops->meta_put(acc->st, "scanned", (int64_t)to, d);
        if (!rc)
            rc = acc->st->ops->commit(acc->st, d);
        if (rc) {
            acc->st->ops->rollback(acc->st);
            break;
        }
    }
    pthread_mutex_unlock(&acc->mu);
    return rc;
}

typedef struct hits {
    size_t n;
    uint64_t idx[MAX_HITS];
} hits;

static int hit(void *ctx, const char *key, uint64_t index)
{
    (void)key;
    hits *h = ctx;
    if (h->n < MAX_HITS)
        h->idx[h->n++] = index;
    return 0;
}

/* Indices for prefix:value, newest first. */
static int lookup(mandate_account *acc, const char *prefix, const char *v, hits *h, md_diag *d)
{
    h->n = 0;
    if (!v)
        return 0;
    char key[MD_ACCOUNT_MAX_FIELD + 32];
    snprintf(key, sizeof key, "%s:%s", prefix, v);
    pthread_mutex_lock(&acc->mu);
    int rc = acc->st->ops->index_get(acc->st, key, MAX_HITS, hit, h, d);
    pthread_mutex_unlock(&acc->mu);
    return rc;
}

/* The newest index of prefix:v before `before`, or -1. */
static int64_t newest_before(mandate_account *acc, const char *prefix, const char *v,
                             uint64_t before, md_diag *d)
{
    hits h;
    if (lookup(acc, prefix, v, &h, d))
        return -1;
    for (size_t i = 0; i < h.n; i++)
        if (h.idx[i] < before)
            return (int64_t)h.idx[i];
    return -1;
}

typedef struct tctx {
    mandate_account *acc;
    uint64_t size; /* the checkpoint's size */
    json_t *missing;
    md_diag *d;
    int rc;
} tctx;

static json_t *get_entry(tctx *t, uint64_t idx)
{
    char *text = NULL;
    mandate_diag ld = {0};
    if (mandate_ledger_get(t->acc->ledger, idx, &text, &ld)) {
        t->rc = md_diag_set(t->d, MANDATE_ESTORE, 0, 0, "trace: reading ledger entry %llu: %s",
                            (unsigned long long)idx, ld.message);
        return NULL;
    }
    json_t *e = json_loads(text, 0, NULL);
    free(text);
    return e;
}

/* {"index", "entry", "proof"} plus what o already holds; o is consumed and returned. */
static json_t *element(tctx *t, json_t *o, int64_t idx, const char *what)
{
    if (!o)
        return NULL;
    if (idx < 0) {
        json_object_set_new(o, "index", json_null());
        json_array_append_new(t->missing, json_string(what));
        return o;
    }
    json_object_set_new(o, "index", json_integer(idx));
    json_object_set_new(o, "entry", get_entry(t, (uint64_t)idx));
    json_t *proof = json_null();
    if ((uint64_t)idx < t->size) {
        char *pj = NULL;
        mandate_diag ld = {0};
        if (mandate_ledger_prove(t->acc->ledger, (uint64_t)idx, t->size, &pj, &ld) == 0) {
            proof = json_loads(pj, 0, NULL);
            free(pj);
        } else if (!t->rc) {
            t->rc = md_diag_set(t->d, MANDATE_ESTORE, 0, 0, "trace: proving entry %lld: %s",
                                (long long)idx, ld.message);
        }
    }
    json_object_set_new(o, "proof", proof ? proof : json_null());
    return o;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static bool hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int checkpoint(tctx *t, json_t **out)
{
    char *note = NULL;
    mandate_diag ld = {0};
    if (mandate_ledger_checkpoint(t->acc->ledger, &note, &ld) &&
        mandate_ledger_latest_checkpoint(t->acc->ledger, &note, &ld))
        return md_diag_set(t->d, MANDATE_ESTORE, 0, 0, "trace: no checkpoint: %s", ld.message);
    uint8_t root[32];
    char b64[64];
    int rc = mandate_ledger_check_checkpoint(
        note, strlen(note), mandate_ledger_verifier_key(t->acc->ledger), &t->size, root, &ld);
    if (rc) {
        free(note);
        return md_diag_set(t->d, rc, 0, 0, "trace: the checkpoint does not verify: %s", ld.message);
    }
    md_b64_encode(root, 32, b64, sizeof b64);
    *out = json_pack("{s:s,s:I,s:s,s:s}", "note", note, "size", (json_int_t)t->size, "root", b64,
                     "origin", mandate_ledger_origin(t->acc->ledger));
    free(note);
    return *out ? 0 : MANDATE_ENOMEM;
}

static json_t *uid_element(tctx *t, const char *uid, uint64_t before, const char *what)
{
    if (!uid)
        return json_null();
    return element(t, json_pack("{s:s}", "uid", uid),
                   newest_before(t->acc, "uid", uid, before, t->d), what);
}

static int trace(mandate_account *acc, const char *query, json_t **out, md_diag *d)
{
    int rc = md_account_index_catch_up(acc, d);
    if (rc)
        return rc;
    tctx t = {.acc = acc, .missing = json_array(), .d = d};
    json_t *res = NULL, *cp = NULL, *dec = NULL, *outcome = NULL;
    int64_t out_idx = -1, dec_idx = -1;
    char q[MD_ACCOUNT_MAX_FIELD + 1];
    if (strlen(query) > MD_ACCOUNT_MAX_FIELD) {
        rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "trace query is over %u bytes",
                         MD_ACCOUNT_MAX_FIELD);
        goto out;
    }
    snprintf(q, sizeof q, "%s", query);
    hits h;
    if (hex64(q)) {
        for (char *c = q; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if ((rc = lookup(acc, "sha256", q, &h, d)))
            goto out;
        out_idx = h.n ? (int64_t)h.idx[0] : -1;
    } else if (all_digits(q) || (strncmp(q, "decision:", 9) == 0 && all_digits(q + 9))) {
        dec_idx = strtoll(strncmp(q, "decision:", 9) == 0 ? q + 9 : q, NULL, 10);
        if ((rc = lookup(acc, "outcome-of", strncmp(q, "decision:", 9) == 0 ? q + 9 : q, &h, d)))
            goto out;
        out_idx = h.n ? (int64_t)h.idx[0] : -1;
    } else {
        if ((rc = lookup(acc, "uri", q, &h, d)))
            goto out;
        out_idx = h.n ? (int64_t)h.idx[0] : -1;
    }
    if (out_idx >= 0) {
        if (!(outcome = get_entry(&t, (uint64_t)out_idx))) {
            rc = t.rc ? t.rc : MANDATE_ECORRUPT;
            goto out;
        }
        if (dec_idx < 0)
            dec_idx =
                json_integer_value(json_object_get(json_object_get(outcome, "body"), "decision"));
    }
    if (dec_idx < 0 || (uint64_t)dec_idx >= mandate_ledger_size(acc->ledger)) {
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "trace: nothing matches '%s'", query);
        goto out;
    }
    if (!(dec = get_entry(&t, (uint64_t)dec_idx))) {
        rc = t.rc ? t.rc : MANDATE_ECORRUPT;
        goto out;
    }
    const char *type = jget(dec, "type");
    if (!type || strcmp(type, "decision")) {
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                         "trace: ledger entry %lld is a %s, not a "
                         "decision",
                         (long long)dec_idx, type ? type : "?");
        goto out;
    }
    if ((rc = checkpoint(&t, &cp)))
        goto out;
    const json_t *b = json_object_get(dec, "body");
    uint64_t before = (uint64_t)dec_idx;
    res = json_object();
    json_object_set_new(res, "query", json_string(query));
    json_object_set_new(res, "checkpoint", cp);
    cp = NULL;
    /* artifact */
    if (outcome) {
        const json_t *ob = json_object_get(outcome, "body");
        json_object_set_new(
            res, "artifact",
            element(&t,
                    json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?}", "kind", json_object_get(ob, "kind"),
                              "sha256", json_object_get(ob, "sha256"), "uri",
                              json_object_get(ob, "uri"), "disposition",
                              json_object_get(ob, "disposition"), "recorded_by",
                              json_object_get(ob, "recorded_by")),
                    out_idx, "artifact"));
    } else {
        json_object_set_new(res, "artifact", json_null());
    }
    /* decision */
    json_object_set_new(
        res, "decision",
        element(&t,
                json_pack("{s:I,s:O?,s:O?,s:O?,s:O?}", "id", (json_int_t)dec_idx, "decision",
                          json_object_get(b, "decision"), "action", json_object_get(b, "action"),
                          "resource", json_object_get(b, "resource"), "impact",
                          json_object_get(b, "impact")),
                dec_idx, "decision"));
    json_object_set_new(res, "agent", uid_element(&t, jget(b, "principal"), before, "agent"));
    json_object_set_new(res, "workflow", uid_element(&t, jget(b, "workflow"), before, "workflow"));
    /* delegation chain: the token's jti, then each parent */
    json_t *chain = json_array();
    const char *jti = jget(b, "delegation");
    json_t *hold = NULL;
    for (int hop = 0; jti && *jti && hop < MD_ACCOUNT_MAX_CHAIN; hop++) {
        int64_t di = newest_before(acc, "delegation", jti, before, d);
        json_t *el = element(&t, json_pack("{s:s}", "jti", jti), di, "delegation");
        json_array_append_new(chain, el);
        if (di < 0)
            break;
        const json_t *db = json_object_get(json_object_get(el, "entry"), "body");
        json_object_set(el, "delegators", json_object_get(db, "delegators"));
        json_object_set(el, "subject", json_object_get(db, "subject"));
        json_decref(hold);
        hold = json_incref(el);
        jti = jget(db, "parent");
        before = (uint64_t)di;
    }
    json_decref(hold);
    before = (uint64_t)dec_idx;
    json_object_set_new(res, "delegation_chain", chain);
    json_object_set_new(res, "delegator",
                        uid_element(&t, jget(b, "delegator"), before, "delegator"));
    /* determining policies */
    json_t *pols = json_array();
    size_t i;
    json_t *pv;
    json_array_foreach(json_object_get(b, "policies"), i, pv)
    {
        const char *pid = json_string_value(pv);
        if (pid)
            json_array_append_new(pols,
                                  element(&t, json_pack("{s:s}", "id", pid),
                                          newest_before(acc, "policy", pid, before, d), "policy"));
    }
    json_object_set_new(res, "policies", pols);
    /* approval */
    const json_t *ap = json_object_get(b, "approval");
    const char *apid = jget(ap, "id");
    if (apid) {
        json_t *a = json_pack("{s:s,s:O?,s:O?,s:O?}", "id", apid, "approver",
                              json_object_get(ap, "approver"), "mode", json_object_get(ap, "mode"),
                              "dwell_ms", json_object_get(ap, "dwell_ms"));
        json_t *events = json_array();
        if ((rc = lookup(acc, "approval", apid, &h, d)))
            goto out;
        for (size_t k = h.n; k-- > 0;) {
            if (h.idx[k] == (uint64_t)dec_idx)
                continue;
            json_t *el = element(&t, json_object(), (int64_t)h.idx[k], "approval");
            const json_t *eb = json_object_get(json_object_get(el, "entry"), "body");
            json_object_set(el, "event", json_object_get(eb, "event"));
            if (jget(eb, "event") && strcmp(jget(eb, "event"), "approved") == 0)
                json_object_set(a, "reason", json_object_get(eb, "reason"));
            json_array_append_new(events, el);
        }
        json_object_set_new(a, "events", events);
        json_object_set_new(res, "approval", a);
    } else {
        json_object_set_new(res, "approval", json_null());
    }
    /* the accountable human */
    const char *who = jget(b, "accountable");
    json_t *acct = uid_element(&t, who, before, "accountable");
    if (json_is_object(acct))
        json_object_set(acct, "mode", json_object_get(b, "mode"));
    else {
        json_decref(acct);
        acct = json_pack("{s:n,s:O?}", "uid", "mode", json_object_get(b, "mode"));
        json_array_append_new(t.missing, json_string("accountable"));
    }
    json_object_set_new(res, "accountable", acct);
    json_object_set(res, "missing", t.missing);
    json_object_set_new(res, "complete", json_boolean(json_array_size(t.missing) == 0));
    rc = t.rc;
out:
    json_decref(t.missing);
    json_decref(outcome);
    json_decref(dec);
    json_decref(cp);
    if (rc) {
        json_decref(res);
        res = NULL;
    }
    *out = res;
    return rc;
}

MD_EXPORT int mandate_trace(mandate_account *acc, const char *query, char **json_out,
                            mandate_diag *diag)
{
    md_diag d = {0};
    if (!acc || !query || !json_out)
        return md_account_finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no query"));
    *json_out = NULL;
    json_t *res = NULL;
    int rc = trace(acc, query, &res, &d);
    if (!rc && !(*json_out = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS)))
        rc = MANDATE_ENOMEM;
    json_decref(res);
    return md_account_finish(diag, &d, rc);
}

/* ---- offline verification ---- */

typedef struct vctx {
    uint64_t size;
    char root[64];
    size_t n;
    md_diag *d;
} vctx;

static int verify_element(vctx *v, const json_t *o)
{
    json_int_t idx = json_integer_value(json_object_get(o, "index"));
    const json_t *e = json_object_get(o, "entry"), *p = json_object_get(o, "proof");
    if (!json_is_object(p))
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0,
                           "entry %lld has no proof against the checkpoint", (long long)idx);
    const char *tname = jget(e, "type");
    const json_t *body = json_object_get(e, "body");
    char *btext = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    if (!tname || !btext) {
        free(btext);
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0, "entry %lld is malformed", (long long)idx);
    }
    mandate_ledger_entry le = {.type = mandate_entry_type_from_name(tname),
                               .time_ms = json_integer_value(json_object_get(e, "time_ms")),
                               .body = btext,
                               .body_len = strlen(btext)};
    md_buf enc;
    md_buf_init(&enc, 4u << 20);
    uint8_t leaf[32];
    char leaf64[64];
    int rc = md_entry_encode(&le, &enc, v->d);
    free(btext);
    if (!rc) {
        md_merkle_leaf_hash(enc.data, enc.len, leaf);
        md_b64_encode(leaf, 32, leaf64, sizeof leaf64);
    }
    md_buf_release(&enc);
    if (rc)
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0, "entry %lld cannot be encoded",
                           (long long)idx);
    const char *pl = jget(p, "leaf_hash"), *pr = jget(p, "root");
    if (json_integer_value(json_object_get(e, "index")) != idx ||
        json_integer_value(json_object_get(p, "index")) != idx)
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0, "entry %lld: index mismatch",
                           (long long)idx);
    if (!pl || strcmp(pl, leaf64))
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0,
                           "entry %lld does not hash to the proof's leaf", (long long)idx);
    if ((uint64_t)json_integer_value(json_object_get(p, "tree_size")) != v->size || !pr ||
        strcmp(pr, v->root))
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0,
                           "entry %lld: the proof is not against the checkpoint", (long long)idx);
    char *ptext = json_dumps(p, JSON_COMPACT);
    mandate_diag ld = {0};
    rc = ptext ? mandate_ledger_check_proof(ptext, strlen(ptext), &ld) : MANDATE_ENOMEM;
    free(ptext);
    if (rc)
        return md_diag_set(v->d, MANDATE_ECRYPTO, 0, 0,
                           "entry %lld: the inclusion proof does not hold: %s", (long long)idx,
                           ld.message);
    v->n++;
    return 0;
}

static int walk(vctx *v, const json_t *j, int depth)
{
    if (depth > 16)
        return md_diag_set(v->d, MANDATE_ETOOBIG, 0, 0, "trace nests too deep");
    if (json_is_object(j)) {
        if (json_is_integer(json_object_get(j, "index")) && json_object_get(j, "entry"))
            return verify_element(v, j);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)j, k, x)
        {
            if (strcmp(k, "checkpoint") == 0)
                continue;
            int rc = walk(v, x, depth + 1);
            if (rc)
                return rc;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *x;
        json_array_foreach(j, i, x)
        {
            int rc = walk(v, x, depth + 1);
            if (rc)
                return rc;
        }
    }
    return 0;
}

MD_EXPORT int mandate_trace_verify(const char *json, size_t len, const char *verifier_key,
                                   size_t *n_proofs, mandate_diag *diag)
{
    md_diag d = {0};
    if (n_proofs)
        *n_proofs = 0;
    if (!json || !verifier_key)
        return md_account_finish(diag, &d,
                                 md_diag_set(&d, MANDATE_EINVAL, 0, 0, "trace verify: no input"));
    json_t *t = json_loadb(json, len ? len : strlen(json), JSON_REJECT_DUPLICATES, NULL);
    const char *note = jget(json_object_get(t, "checkpoint"), "note");
    vctx v = {.d = &d};
    uint8_t root[32];
    mandate_diag ld = {0};
    int rc = 0;
    if (!t || !note)
        rc = md_diag_set(&d, MANDATE_EPARSE, 0, 0, "trace verify: not a trace with a checkpoint");
    else if (mandate_ledger_check_checkpoint(note, strlen(note), verifier_key, &v.size, root, &ld))
        rc = md_diag_set(&d, MANDATE_ECRYPTO, 0, 0, "the trace's checkpoint does not verify: %s",
                         ld.message);
    if (!rc) {
        md_b64_encode(root, 32, v.root, sizeof v.root);
        rc = walk(&v, t, 0);
    }
    json_decref(t);
    if (n_proofs)
        *n_proofs = v.n;
    return md_account_finish(diag, &d, rc);
}
