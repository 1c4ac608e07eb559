/* report.c: the governance scorecard in one pass over the ledger (see report.h and
 * docs/report.md for every definition). */
#include "govern/report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "govern/jscan.h"

#define DAY_MS 86400000LL
#define WEEK_MS (7 * DAY_MS)
#define MAX_JSON (256u << 20)
#define THEATRE_MIN_AI 20
#define THEATRE_ADOPTION_E4 2000  /* +20% */
#define THEATRE_COVERAGE_E4 -1000 /* -0.1 */
#define NONE (-1)                 /* a null share, percentile or change */

/* Counters of one workflow in one bucket (slot 0: decisions without a workflow). */
typedef struct cell {
    uint64_t decisions, ai, ai_allowed, impactful, imp_accountable, imp_approved, deleg_ok, digests,
        outcomes, overrides, approvals;
} cell;

/* A sum of cells; the digest share's terms count only workflows that declare outputs. */
typedef struct tally {
    cell c;
    uint64_t digest_den, digest_num;
} tally;

typedef struct workflow {
    const char *raw; /* the uid as written in bodies (escapes kept); "" for slot 0 */
    size_t raw_len;
    uint64_t hash;
    char *name; /* decoded uid */
    size_t name_len;
    char *owner; /* decoded owner uid of the latest add entry, NULL when none */
    size_t owner_len;
    bool registered, outputs;
    cell *series; /* one per bucket */
} workflow;

enum { ALLOWED_AGENT = 1, ALLOWED_DIGEST = 2 };

/* An allowed decision of the window, for joining its outcomes. */
typedef struct allowed {
    uint64_t index;
    uint32_t wf;
    uint16_t bucket;
    uint8_t flags;
} allowed;

/* An approval_required agent decision with a workflow, for joining its approval events. */
typedef struct requested {
    uint64_t index;
    uint32_t wf;
} requested;

typedef struct dwell {
    int64_t ms;
    uint32_t wf;
    uint16_t bucket;
} dwell;

/* A delegation's jti and whether it is short-lived and names actions and resources. */
typedef struct deleg {
    uint64_t hash;
    const char *jti; /* raw, in the arena; NULL for an empty slot */
    uint32_t len;
    bool ok;
} deleg;

typedef struct report {
    int64_t since, until, bucket_ms, long_s;
    uint32_t nb;
    md_arena *arena;
    workflow *wf;
    uint32_t n_wf, cap_wf;
    uint32_t *wf_map; /* open addressing: slot + 1, 0 empty */
    size_t wf_map_cap;
    deleg *dl;
    size_t n_dl, dl_cap;
    allowed *al;
    size_t n_al, cap_al;
    requested *rq;
    size_t n_rq, cap_rq;
    dwell *dw;
    size_t n_dw, cap_dw;
    uint64_t scanned;
    int failed; /* the visitor's error, with the message in d */
    md_diag *d;
} report;

/* ---- small containers ---- */

/* Makes room for one more element of size sz in *p (capacity *cap, doubling). */
static int room(void *pp, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 256;
    if (want > SIZE_MAX / sz)
        return MANDATE_ENOMEM;
    void *q = realloc(*(void **)pp, want * sz);
    if (!q)
        return MANDATE_ENOMEM;
    *(void **)pp = q;
    *cap = want;
    return 0;
}

static uint64_t hash_raw(const char *p, size_t n)
{
    return md_hash_bytes(p, n, 0x6d616e64617465ull);
}

static int corrupt(report *r, uint64_t index, int type, const char *what)
{
    const char *name = mandate_entry_type_name(type);
    r->failed = md_diag_set(r->d, MANDATE_ECORRUPT, 0, 0, "ledger entry %" PRIu64 " (%s): %s",
                            index, name ? name : "?", what);
    return r->failed;
}

static int nomem(report *r)
{
    r->failed = md_diag_set(r->d, MANDATE_ENOMEM, 0, 0, "report: out of memory");
    return r->failed;
}

/* Copies a decoded string into the arena. */
static int decode(report *r, md_jsv v, char **out, size_t *out_len)
{
    char *s = md_arena_alloc(r->arena, v.n + 1);
    if (!s)
        return MANDATE_ENOMEM;
    int rc = md_jscan_str_decode(v, s, out_len);
    *out = s;
    return rc;
}

/* The slot of a workflow uid (raw string value), made on first sight. */
static int wf_slot(report *r, uint64_t index, int type, md_jsv uid, uint32_t *slot)
{
    uint64_t h = hash_raw(uid.p, uid.n);
    size_t mask = r->wf_map_cap - 1, i = h & mask;
    for (uint32_t s; (s = r->wf_map[i]) != 0; i = (i + 1) & mask) {
        const workflow *w = &r->wf[s - 1];
        if (w->hash == h && w->raw_len == uid.n && memcmp(w->raw, uid.p, uid.n) == 0) {
            *slot = s - 1;
            return 0;
        }
    }
    if ((uint64_t)(r->n_wf + 1) * r->nb > MD_REPORT_MAX_CELLS) {
        r->failed = md_diag_set(r->d, MANDATE_ETOOBIG, 0, 0,
                                "report: %u workflows x %u buckets is over the cap of %u; "
                                "shorten the window",
                                r->n_wf + 1, r->nb, MD_REPORT_MAX_CELLS);
        return r->failed;
    }
    size_t cap = r->cap_wf;
    if (room(&r->wf, &cap, r->n_wf, sizeof *r->wf))
        return nomem(r);
    r->cap_wf = (uint32_t)cap;
    workflow *w = &r->wf[r->n_wf];
    *w = (workflow){.raw_len = uid.n, .hash = h};
    char *raw = md_arena_strndup(r->arena, uid.p, uid.n);
    w->series = calloc(r->nb, sizeof *w->series);
    if (!raw || !w->series) {
        free(w->series);
        return nomem(r);
    }
    w->raw = raw;
    int rc = decode(r, uid, &w->name, &w->name_len);
    if (rc) {
        free(w->series);
        return rc == MANDATE_ENOMEM ? nomem(r) : corrupt(r, index, type, "bad workflow uid");
    }
    r->wf_map[i] = ++r->n_wf;
    *slot = r->n_wf - 1;
    if (r->n_wf * 2 <= r->wf_map_cap)
        return 0;
    /* Grow the index to keep it at most half full. */
    size_t ncap = r->wf_map_cap * 2;
    uint32_t *m = calloc(ncap, sizeof *m);
    if (!m)
        return nomem(r);
    for (uint32_t s = 1; s <= r->n_wf; s++) {
        size_t j = r->wf[s - 1].hash & (ncap - 1);
        while (m[j])
            j = (j + 1) & (ncap - 1);
        m[j] = s;
    }
    free(r->wf_map);
    r->wf_map = m;
    r->wf_map_cap = ncap;
    return 0;
}

static deleg *dl_find(deleg *t, size_t cap, uint64_t h, const char *p, size_t n)
{
    size_t i = h & (cap - 1);
    while (t[i].jti && !(t[i].hash == h && t[i].len == n && memcmp(t[i].jti, p, n) == 0))
        i = (i + 1) & (cap - 1);
    return &t[i];
}

static int dl_put(report *r, md_jsv jti, bool ok)
{
    if ((r->n_dl + 1) * 2 > r->dl_cap) {
        size_t ncap = r->dl_cap ? r->dl_cap * 2 : 1024;
        deleg *t = calloc(ncap, sizeof *t);
        if (!t)
            return nomem(r);
        for (size_t i = 0; i < r->dl_cap; i++)
            if (r->dl[i].jti)
                *dl_find(t, ncap, r->dl[i].hash, r->dl[i].jti, r->dl[i].len) = r->dl[i];
        free(r->dl);
        r->dl = t;
        r->dl_cap = ncap;
    }
    uint64_t h = hash_raw(jti.p, jti.n);
    deleg *e = dl_find(r->dl, r->dl_cap, h, jti.p, jti.n);
    if (!e->jti) {
        const char *copy = md_arena_strndup(r->arena, jti.p, jti.n);
        if (!copy)
            return nomem(r);
        *e = (deleg){h, copy, (uint32_t)jti.n, ok};
        r->n_dl++;
    }
    e->ok = ok; /* a later entry for the same jti wins */
    return 0;
}

static bool dl_ok(const report *r, md_jsv jti)
{
    if (!r->dl_cap)
        return false;
    const deleg *e = dl_find(r->dl, r->dl_cap, hash_raw(jti.p, jti.n), jti.p, jti.n);
    return e->jti && e->ok;
}

/* ---- reading entries ---- */

enum { K_ABSENT = 1 << MD_JSV_ABSENT, K_NULL = 1 << MD_JSV_NULL, K_NUMBER = 1 << MD_JSV_NUMBER };
enum { K_STRING = 1 << MD_JSV_STRING, K_ARRAY = 1 << MD_JSV_ARRAY, K_OBJECT = 1 << MD_JSV_OBJECT };
#define K_OPT (K_ABSENT | K_NULL)

/* Scans body for keys, each of which must be of one of the kinds in its mask. */
static int read_fields(report *r, uint64_t index, int type, const char *body, size_t len,
                       const char *const *keys, const unsigned *kinds, size_t n, md_jsv *out)
{
    if (md_jscan_object(body, len, keys, n, out))
        return corrupt(r, index, type, "the body is not a well-formed JSON object");
    for (size_t i = 0; i < n; i++) {
        if (!(kinds[i] & (1u << out[i].kind))) {
            char what[96];
            snprintf(what, sizeof what, "field '%s' has the wrong type", keys[i]);
            return corrupt(r, index, type, what);
        }
    }
    return 0;
}

static uint32_t bucket_of(const report *r, int64_t t)
{
    return r->nb - 1 - (uint32_t)((r->until - 1 - t) / r->bucket_ms);
}

static bool in_window(const report *r, int64_t t)
{
    return t >= r->since && t < r->until;
}

static bool impactful(md_jsv impact, bool *yes)
{
    *yes = false;
    if (impact.kind != MD_JSV_ARRAY)
        return true;
    size_t pos = 0;
    md_jsv item;
    int got;
    while ((got = md_jscan_array_next(impact, &pos, &item)) == 1) {
        if (item.kind != MD_JSV_STRING)
            return false;
        if (md_jsv_is(item, "customer") || md_jsv_is(item, "employee") ||
            md_jsv_is(item, "production"))
            *yes = true;
    }
    return got == 0;
}

static const char human_prefix[] = "Human::\\\"";

static int on_decision(report *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    enum { ACCOUNTABLE, DECISION, DELEGATION, IMPACT, KIND, MODE, WORKFLOW, N };
    static const char *const keys[N] = {"accountable", "decision", "delegation", "impact",
                                        "kind",        "mode",     "workflow"};
    static const unsigned kinds[N] = {K_OPT | K_STRING, K_OPT | K_STRING, K_OPT | K_STRING,
                                      K_OPT | K_ARRAY,  K_OPT | K_STRING, K_OPT | K_STRING,
                                      K_OPT | K_STRING};
    if (t >= r->until)
        return 0;
    md_jsv v[N];
    int rc = read_fields(r, index, MANDATE_ENTRY_DECISION, body, len, keys, kinds, N, v);
    if (rc)
        return rc;
    bool agent = md_jsv_is(v[KIND], "agent"), allow = md_jsv_is(v[DECISION], "allow");
    bool requested_approval = agent && md_jsv_is(v[DECISION], "approval_required");
    bool window = in_window(r, t);
    uint32_t wf = 0;
    if (v[WORKFLOW].kind == MD_JSV_STRING && (window || requested_approval) &&
        (rc = wf_slot(r, index, MANDATE_ENTRY_DECISION, v[WORKFLOW], &wf)))
        return rc;
    if (requested_approval && wf) {
        if (room(&r->rq, &r->cap_rq, r->n_rq, sizeof *r->rq))
            return nomem(r);
        r->rq[r->n_rq++] = (requested){index, wf};
    }
    if (!window)
        return 0;
    uint32_t b = bucket_of(r, t);
    cell *c = &r->wf[wf].series[b];
    c->decisions++;
    if (agent) {
        c->ai++;
        if (allow) {
            bool imp;
            if (!impactful(v[IMPACT], &imp))
                return corrupt(r, index, MANDATE_ENTRY_DECISION, "impact is not a list of names");
            c->ai_allowed++;
            if (imp) {
                md_jsv a = v[ACCOUNTABLE];
                c->impactful++;
                c->imp_accountable += a.kind == MD_JSV_STRING && a.n > sizeof human_prefix - 1 &&
                                      memcmp(a.p, human_prefix, sizeof human_prefix - 1) == 0;
                c->imp_approved += md_jsv_is(v[MODE], "verified") || md_jsv_is(v[MODE], "decided");
            }
            c->deleg_ok += v[DELEGATION].kind == MD_JSV_STRING && dl_ok(r, v[DELEGATION]);
        }
    }
    if (allow) {
        if (room(&r->al, &r->cap_al, r->n_al, sizeof *r->al))
            return nomem(r);
        r->al[r->n_al++] = (allowed){index, wf, (uint16_t)b, agent ? ALLOWED_AGENT : 0};
    }
    return 0;
}

/* Binary search of a decision index in an array sorted by index (the scan's order). */
#define FIND_INDEX(arr, n, want, out)                                                              \
    do {                                                                                           \
        size_t lo_ = 0, hi_ = (n);                                                                 \
        while (lo_ < hi_) {                                                                        \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                                                   \
            if ((arr)[mid_].index < (want))                                                        \
                lo_ = mid_ + 1;                                                                    \
            else                                                                                   \
                hi_ = mid_;                                                                        \
        }                                                                                          \
        (out) = lo_ < (n) && (arr)[lo_].index == (want) ? &(arr)[lo_] : NULL;                      \
    } while (0)

static int on_outcome(report *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    enum { DECISION, DISPOSITION, SHA256, N };
    static const char *const keys[N] = {"decision", "disposition", "sha256"};
    static const unsigned kinds[N] = {K_OPT | K_NUMBER, K_OPT | K_STRING, K_OPT | K_STRING};
    if (t >= r->until || r->n_al == 0)
        return 0;
    md_jsv v[N];
    int64_t di;
    int rc = read_fields(r, index, MANDATE_ENTRY_OUTCOME, body, len, keys, kinds, N, v);
    if (rc || v[DECISION].kind != MD_JSV_NUMBER)
        return rc;
    if (md_jscan_int(v[DECISION], &di))
        return corrupt(r, index, MANDATE_ENTRY_OUTCOME, "decision is not a ledger index");
    allowed *a = NULL;
    if (di >= 0)
        FIND_INDEX(r->al, r->n_al, (uint64_t)di, a);
    if (!a)
        return 0;
    cell *c = &r->wf[a->wf].series[a->bucket];
    c->outcomes++;
    c->overrides += md_jsv_is(v[DISPOSITION], "edited") || md_jsv_is(v[DISPOSITION], "rejected");
    if (v[SHA256].kind == MD_JSV_STRING && v[SHA256].n > 0 && (a->flags & ALLOWED_AGENT) &&
        !(a->flags & ALLOWED_DIGEST)) {
        a->flags |= ALLOWED_DIGEST;
        c->digests++;
    }
    return 0;
}

static int on_approval(report *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    enum { DWELL, EVENT, REQUEST, N };
    static const char *const keys[N] = {"dwell_ms", "event", "request_index"};
    static const unsigned kinds[N] = {K_OPT | K_NUMBER, K_OPT | K_STRING, K_OPT | K_NUMBER};
    if (!in_window(r, t))
        return 0;
    md_jsv v[N];
    int64_t req = -1, ms = 0;
    int rc = read_fields(r, index, MANDATE_ENTRY_APPROVAL, body, len, keys, kinds, N, v);
    if (rc || !(md_jsv_is(v[EVENT], "approved") || md_jsv_is(v[EVENT], "rejected")))
        return rc;
    if ((v[REQUEST].kind == MD_JSV_NUMBER && md_jscan_int(v[REQUEST], &req)) ||
        (v[DWELL].kind == MD_JSV_NUMBER && md_jscan_int(v[DWELL], &ms)))
        return corrupt(r, index, MANDATE_ENTRY_APPROVAL,
                       "request_index or dwell_ms is not an "
                       "integer");
    const requested *q = NULL;
    if (req >= 0)
        FIND_INDEX(r->rq, r->n_rq, (uint64_t)req, q);
    uint32_t wf = q ? q->wf : 0, b = bucket_of(r, t);
    r->wf[wf].series[b].approvals++;
    if (v[DWELL].kind == MD_JSV_NUMBER) {
        if (room(&r->dw, &r->cap_dw, r->n_dw, sizeof *r->dw))
            return nomem(r);
        r->dw[r->n_dw++] = (dwell){ms, wf, (uint16_t)b};
    }
    return 0;
}

static int on_registry(report *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    enum { KIND, OP, PRINCIPAL, UID, N };
    static const char *const keys[N] = {"kind", "op", "principal", "uid"};
    static const unsigned kinds[N] = {K_OPT | K_STRING, K_OPT | K_STRING, K_OPT | K_OBJECT,
                                      K_OPT | K_STRING};
    enum { OUTPUTS, OWNER, NP };
    static const char *const pkeys[NP] = {"outputs", "owner"};
    static const unsigned pkinds[NP] = {K_OPT | K_ARRAY, K_OPT | K_STRING};
    if (t >= r->until)
        return 0;
    md_jsv v[N], p[NP] = {{0}};
    int rc = read_fields(r, index, MANDATE_ENTRY_REGISTRY, body, len, keys, kinds, N, v);
    if (rc || !md_jsv_is(v[OP], "add") || !md_jsv_is(v[KIND], "workflow") ||
        v[UID].kind != MD_JSV_STRING || v[UID].n == 0)
        return rc;
    if (v[PRINCIPAL].kind == MD_JSV_OBJECT &&
        (rc = read_fields(r, index, MANDATE_ENTRY_REGISTRY, v[PRINCIPAL].p, v[PRINCIPAL].n, pkeys,
                          pkinds, NP, p)))
        return rc;
    uint32_t s;
    if ((rc = wf_slot(r, index, MANDATE_ENTRY_REGISTRY, v[UID], &s)))
        return rc;
    workflow *w = &r->wf[s];
    w->registered = true;
    w->outputs = md_jsv_nonempty_array(p[OUTPUTS]);
    w->owner = NULL;
    if (p[OWNER].kind == MD_JSV_STRING && (rc = decode(r, p[OWNER], &w->owner, &w->owner_len)))
        return rc == MANDATE_ENOMEM ? nomem(r)
                                    : corrupt(r, index, MANDATE_ENTRY_REGISTRY, "bad owner uid");
    return 0;
}

static int on_delegation(report *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    enum { ACTIONS, EXP, IAT, JTI, OP, RESOURCES, N };
    static const char *const keys[N] = {"actions", "exp", "iat", "jti", "op", "resources"};
    static const unsigned kinds[N] = {K_OPT | K_ARRAY,  K_OPT | K_NUMBER, K_OPT | K_NUMBER,
                                      K_OPT | K_STRING, K_OPT | K_STRING, K_OPT | K_ARRAY};
    if (t >= r->until)
        return 0;
    md_jsv v[N];
    int rc = read_fields(r, index, MANDATE_ENTRY_DELEGATION, body, len, keys, kinds, N, v);
    if (rc || !md_jsv_is(v[OP], "delegate") || v[JTI].kind != MD_JSV_STRING)
        return rc;
    int64_t iat = 0, exp = 0, life;
    bool timed = v[IAT].kind == MD_JSV_NUMBER && v[EXP].kind == MD_JSV_NUMBER;
    if (timed && (md_jscan_int(v[IAT], &iat) || md_jscan_int(v[EXP], &exp)))
        return corrupt(r, index, MANDATE_ENTRY_DELEGATION, "iat or exp is not an integer");
    bool ok = timed && !__builtin_sub_overflow(exp, iat, &life) && life > 0 && life <= r->long_s &&
              md_jsv_nonempty_array(v[ACTIONS]) && md_jsv_nonempty_array(v[RESOURCES]);
    return dl_put(r, v[JTI], ok);
}

static int visit(void *arg, uint64_t index, int type, int64_t t, const char *body, size_t len)
{
    report *r = arg;
    r->scanned++;
    switch (type) {
    case MANDATE_ENTRY_DECISION: return on_decision(r, index, t, body, len);
    case MANDATE_ENTRY_OUTCOME: return on_outcome(r, index, t, body, len);
    case MANDATE_ENTRY_APPROVAL: return on_approval(r, index, t, body, len);
    case MANDATE_ENTRY_REGISTRY: return on_registry(r, index, t, body, len);
    case MANDATE_ENTRY_DELEGATION: return on_delegation(r, index, t, body, len);
    default: return 0;
    }
}

/* ---- figures ---- */

static void tally_add(tally *t, const cell *c, bool outputs)
{
    t->c.decisions += c->decisions;
    t->c.ai += c->ai;
    t->c.ai_allowed += c->ai_allowed;
    t->c.impactful += c->impactful;
    t->c.imp_accountable += c->imp_accountable;
    t->c.imp_approved += c->imp_approved;
    t->c.deleg_ok += c->deleg_ok;
    t->c.digests += c->digests;
    t->c.outcomes += c->outcomes;
    t->c.overrides += c->overrides;
    t->c.approvals += c->approvals;
    if (outputs) {
        t->digest_den += c->ai_allowed;
        t->digest_num += c->digests;
    }
}

static void tally_merge(tally *t, const tally *u)
{
    tally_add(t, &u->c, false);
    t->digest_den += u->digest_den;
    t->digest_num += u->digest_num;
}

/* num/den in units of 1e-4, rounded half away from zero; NONE when den is 0. */
static int64_t ratio_e4(uint64_t num, uint64_t den)
{
    if (den == 0)
        return NONE;
    return (int64_t)(((unsigned __int128)num * 20000 + den) / ((unsigned __int128)den * 2));
}

static int64_t round_e4(double x)
{
    return (int64_t)llround(x * 10000.0);
}

typedef struct shares {
    int64_t accountable, approval, digest, delegation, override, coverage; /* e4 or NONE */
    double coverage_exact; /* the mean before rounding, for the theatre's change */
} shares;

static shares shares_of(const tally *t)
{
    const uint64_t num[4] = {t->c.imp_accountable, t->c.imp_approved, t->digest_num, t->c.deleg_ok};
    const uint64_t den[4] = {t->c.impactful, t->c.impactful, t->digest_den, t->c.ai_allowed};
    int64_t e4[4];
    double sum = 0;
    int n = 0;
    for (int i = 0; i < 4; i++) {
        e4[i] = ratio_e4(num[i], den[i]);
        if (den[i]) {
            sum += (double)num[i] / (double)den[i];
            n++;
        }
    }
    shares s = {e4[0], e4[1], e4[2], e4[3], ratio_e4(t->c.overrides, t->c.outcomes), NONE, 0};
    if (n) {
        s.coverage_exact = sum / n;
        s.coverage = round_e4(s.coverage_exact);
    }
    return s;
}

/* Prints v / 10^decimals with the trailing zeros of the fraction dropped: 8123 -> 0.8123,
 * 10000 -> 1, -900 -> -0.09 (decimals 4). NONE prints null when nullable. */
static int put_fixed(md_buf *b, int64_t v, int decimals)
{
    int64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t whole = a / (uint64_t)scale, frac = a % (uint64_t)scale;
    int digits = decimals;
    while (digits > 0 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    if (digits == 0)
        return md_buf_printf(b, "%s%" PRIu64, v < 0 ? "-" : "", whole);
    return md_buf_printf(b, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "", whole, digits, frac);
}

static int put_e4(md_buf *b, int64_t v)
{
    return v == NONE ? md_buf_puts(b, "null") : put_fixed(b, v, 4);
}

static int put_ms(md_buf *b, int64_t v, bool present)
{
    return present ? md_buf_printf(b, "%" PRId64, v) : md_buf_puts(b, "null");
}

/* Nearest-rank percentiles of a group of dwell samples sorted by ms. */
typedef struct pct {
    int64_t p50, p90;
    bool present;
} pct;

static pct percentiles(const dwell *s, size_t n)
{
    if (n == 0)
        return (pct){0, 0, false};
    return (pct){s[(50 * n + 99) / 100 - 1].ms, s[(90 * n + 99) / 100 - 1].ms, true};
}

static int put_metrics(md_buf *b, const tally *t, pct p)
{
    shares s = shares_of(t);
    int rc = md_buf_printf(b,
                           "\"decisions\":%" PRIu64 ",\"ai_decisions\":%" PRIu64
                           ",\"ai_allowed\":%" PRIu64 ",\"impactful\":%" PRIu64
                           ",\"accountable_share\":",
                           t->c.decisions, t->c.ai, t->c.ai_allowed, t->c.impactful);
    rc = rc ? rc : put_e4(b, s.accountable);
    rc = rc ? rc : md_buf_puts(b, ",\"approval_share\":");
    rc = rc ? rc : put_e4(b, s.approval);
    rc = rc ? rc : md_buf_puts(b, ",\"digest_share\":");
    rc = rc ? rc : put_e4(b, s.digest);
    rc = rc ? rc : md_buf_puts(b, ",\"delegation_share\":");
    rc = rc ? rc : put_e4(b, s.delegation);
    rc = rc ? rc : md_buf_puts(b, ",\"override_rate\":");
    rc = rc ? rc : put_e4(b, s.override);
    rc = rc ? rc
            : md_buf_printf(b,
                            ",\"outcomes\":%" PRIu64 ",\"approvals\":%" PRIu64 ",\"dwell_p50_ms\":",
                            t->c.outcomes, t->c.approvals);
    rc = rc ? rc : put_ms(b, p.p50, p.present);
    rc = rc ? rc : md_buf_puts(b, ",\"dwell_p90_ms\":");
    rc = rc ? rc : put_ms(b, p.p90, p.present);
    rc = rc ? rc : md_buf_puts(b, ",\"coverage\":");
    return rc ? rc : put_e4(b, s.coverage);
}

/* The theatre rule over per-bucket tallies (docs/report.md). */
static int put_theatre(md_buf *b, const tally *buckets, uint32_t nb)
{
    tally first = {0}, second = {0};
    for (uint32_t i = 0; i < nb / 2; i++) {
        tally_merge(&first, &buckets[i]);
        tally_merge(&second, &buckets[nb - nb / 2 + i]);
    }
    uint64_t a1 = first.c.ai, a2 = second.c.ai;
    int64_t adoption = NONE;
    if (a1) {
        int64_t up = (int64_t)ratio_e4(a2 > a1 ? a2 - a1 : a1 - a2, a1);
        adoption = a2 >= a1 ? up : -up;
    }
    shares s1 = shares_of(&first), s2 = shares_of(&second);
    int64_t coverage = s1.coverage == NONE || s2.coverage == NONE
                           ? NONE
                           : round_e4(s2.coverage_exact - s1.coverage_exact);
    bool enough = a1 >= THEATRE_MIN_AI && a2 >= THEATRE_MIN_AI;
    bool grew = adoption != NONE && adoption >= THEATRE_ADOPTION_E4;
    bool fell = coverage != NONE && coverage <= THEATRE_COVERAGE_E4;
    bool flag = enough && grew && fell;
    int rc = md_buf_printf(b, "{\"flag\":%s,\"adoption_change\":", flag ? "true" : "false");
    rc = rc ? rc : put_e4(b, adoption);
    rc = rc ? rc : md_buf_puts(b, ",\"coverage_change\":");
    rc = rc ? rc : put_e4(b, coverage);
    rc = rc ? rc : md_buf_printf(b, ",\"reason\":\"%s", flag ? "adoption grew " : "not flagged: ");
    /* The reason quotes the figures the rule compared (adoption as a percentage). */
    if (flag) {
        rc = rc ? rc : put_fixed(b, adoption, 2);
        rc = rc ? rc
                : md_buf_printf(b,
                                "%% (%" PRIu64 " to %" PRIu64 " AI decisions) while coverage fell ",
                                a1, a2);
        rc = rc ? rc : put_fixed(b, -coverage, 4);
        rc = rc ? rc : md_buf_puts(b, " (");
        rc = rc ? rc : put_fixed(b, s1.coverage, 4);
        rc = rc ? rc : md_buf_puts(b, " to ");
        rc = rc ? rc : put_fixed(b, s2.coverage, 4);
        rc = rc ? rc : md_buf_puts(b, ")");
    } else {
        const char *sep = "";
        if (!enough) {
            rc = rc ? rc
                    : md_buf_printf(b,
                                    "fewer than %d AI decisions in a half (first %" PRIu64
                                    ", second %" PRIu64 ")",
                                    THEATRE_MIN_AI, a1, a2);
            sep = "; ";
        }
        if (adoption != NONE && !grew) {
            rc = rc ? rc : md_buf_printf(b, "%sadoption changed %s", sep, adoption > 0 ? "+" : "");
            rc = rc ? rc : put_fixed(b, adoption, 2);
            rc = rc ? rc : md_buf_puts(b, "%, less than +20%");
            sep = "; ";
        }
        if (coverage == NONE) {
            rc = rc ? rc : md_buf_printf(b, "%scoverage is undefined in a half", sep);
        } else if (!fell) {
            rc = rc ? rc : md_buf_printf(b, "%scoverage changed %s", sep, coverage > 0 ? "+" : "");
            rc = rc ? rc : put_fixed(b, coverage, 4);
            rc = rc ? rc : md_buf_puts(b, ", not down by 0.1 or more");
        }
    }
    return rc ? rc : md_buf_puts(b, "\"}");
}

static const char *const definitions[][2] = {
    {"decisions", "All decision entries in the period (agent path and plain authorize)."},
    {"ai_decisions", "Decisions on the agent path (kind agent): adoption of AI."},
    {"ai_allowed", "Agent decisions that were allowed."},
    {"impactful", "Allowed agent decisions whose impact includes customer, employee or "
                  "production."},
    {"accountable_share", "Impactful decisions whose accountable party is a Human, over "
                          "impactful decisions."},
    {"approval_share", "Impactful decisions allowed in mode verified or decided (a human "
                       "approved or decided), over impactful decisions."},
    {"digest_share", "Allowed agent decisions of workflows that declare outputs that have an "
                     "outcome with a sha256, over allowed agent decisions of those workflows."},
    {"delegation_share", "Allowed agent decisions on a delegation living at most "
                         "long_delegation_s whose scope names actions and resources, over "
                         "allowed agent decisions."},
    {"override_rate", "Outcomes of the period's decisions with disposition edited or rejected, "
                      "over those outcomes."},
    {"outcomes", "Outcome entries recorded before the period's end for decisions of the "
                 "period."},
    {"approvals", "Approval events approved or rejected in the period."},
    {"dwell_p50_ms", "Nearest-rank median of those events' dwell_ms (null dwell left out)."},
    {"dwell_p90_ms", "Nearest-rank 90th percentile of those events' dwell_ms (null dwell left "
                     "out)."},
    {"coverage", "Mean of accountable_share, approval_share, digest_share and delegation_share "
                 "over those that are not null."},
    {"theatre", "Flagged when, between the first and the second half of the buckets, AI "
                "decisions grew by 20% or more and coverage fell by 0.1 or more, with at least "
                "20 AI decisions in each half."},
};

/* ---- dwell percentiles per group ---- */

static int by_ms(const void *x, const void *y)
{
    const dwell *a = x, *b = y;
    return (a->ms > b->ms) - (a->ms < b->ms);
}

static int by_bucket(const void *x, const void *y)
{
    const dwell *a = x, *b = y;
    return a->bucket != b->bucket ? (a->bucket > b->bucket) - (a->bucket < b->bucket) : by_ms(x, y);
}

static int by_wf(const void *x, const void *y)
{
    const dwell *a = x, *b = y;
    return a->wf != b->wf ? (a->wf > b->wf) - (a->wf < b->wf) : by_ms(x, y);
}

static int by_wf_bucket(const void *x, const void *y)
{
    const dwell *a = x, *b = y;
    return a->wf != b->wf ? (a->wf > b->wf) - (a->wf < b->wf) : by_bucket(x, y);
}

typedef struct dwells {
    pct overall;
    pct *bucket;    /* [nb] */
    pct *wf;        /* [n_wf] */
    pct *wf_bucket; /* [n_wf * nb] */
} dwells;

static int dwells_compute(report *r, dwells *out)
{
    out->bucket = calloc(r->nb, sizeof *out->bucket);
    out->wf = calloc(r->n_wf, sizeof *out->wf);
    out->wf_bucket = calloc((size_t)r->n_wf * r->nb, sizeof *out->wf_bucket);
    if (!out->bucket || !out->wf || !out->wf_bucket)
        return MANDATE_ENOMEM;
    dwell *s = r->dw;
    size_t n = r->n_dw;
    if (n == 0)
        return 0;
    qsort(s, n, sizeof *s, by_ms);
    out->overall = percentiles(s, n);
    qsort(s, n, sizeof *s, by_bucket);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i; j < n && s[j].bucket == s[i].bucket; j++)
            ;
        out->bucket[s[i].bucket] = percentiles(s + i, j - i);
    }
    qsort(s, n, sizeof *s, by_wf);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i; j < n && s[j].wf == s[i].wf; j++)
            ;
        out->wf[s[i].wf] = percentiles(s + i, j - i);
    }
    qsort(s, n, sizeof *s, by_wf_bucket);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i; j < n && s[j].wf == s[i].wf && s[j].bucket == s[i].bucket; j++)
            ;
        out->wf_bucket[(size_t)s[i].wf * r->nb + s[i].bucket] = percentiles(s + i, j - i);
    }
    return 0;
}

/* ---- the JSON ---- */

static int by_name(const void *x, const void *y)
{
    const workflow *a = *(const workflow *const *)x, *b = *(const workflow *const *)y;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static bool listed(const report *r, const workflow *w)
{
    if (w->registered)
        return true;
    for (uint32_t i = 0; i < r->nb; i++)
        if (w->series[i].decisions || w->series[i].approvals)
            return true;
    return false;
}

static int put_series(md_buf *b, const report *r, const tally *t, const pct *p)
{
    int rc = md_buf_puts(b, "\"series\":[");
    for (uint32_t i = 0; rc == 0 && i < r->nb; i++) {
        int64_t end = r->until - (int64_t)(r->nb - 1 - i) * r->bucket_ms;
        int64_t start = end - r->bucket_ms < r->since ? r->since : end - r->bucket_ms;
        rc = md_buf_printf(b, "%s{\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64 ",", i ? "," : "",
                           start, end);
        rc = rc ? rc : put_metrics(b, &t[i], p[i]);
        rc = rc ? rc : md_buf_puts(b, "}");
    }
    return rc ? rc : md_buf_puts(b, "]");
}

static int put_workflow(md_buf *b, const report *r, const dwells *dw, const workflow *w, tally *t)
{
    size_t s = (size_t)(w - r->wf);
    tally total = {0};
    for (uint32_t i = 0; i < r->nb; i++) {
        t[i] = (tally){0};
        tally_add(&t[i], &w->series[i], w->outputs);
        tally_merge(&total, &t[i]);
    }
    int rc = md_buf_puts(b, "{\"workflow\":");
    rc = rc ? rc : md_buf_json_str(b, w->name, w->name_len);
    rc = rc ? rc : md_buf_puts(b, ",\"owner\":");
    rc = rc ? rc : w->owner ? md_buf_json_str(b, w->owner, w->owner_len) : md_buf_puts(b, "null");
    rc = rc ? rc : md_buf_puts(b, ",\"totals\":{");
    rc = rc ? rc : put_metrics(b, &total, dw->wf[s]);
    rc = rc ? rc : md_buf_puts(b, "},");
    rc = rc ? rc : put_series(b, r, t, dw->wf_bucket + (size_t)s * r->nb);
    rc = rc ? rc : md_buf_puts(b, ",\"theatre\":");
    rc = rc ? rc : put_theatre(b, t, r->nb);
    return rc ? rc : md_buf_puts(b, "}");
}

static int put_report(md_buf *b, report *r, uint64_t size, const dwells *dw)
{
    tally *overall_b = calloc(r->nb, sizeof *overall_b), *t = calloc(r->nb, sizeof *t);
    const workflow **order = calloc(r->n_wf, sizeof *order);
    int rc = overall_b && t && order ? 0 : MANDATE_ENOMEM;
    tally overall = {0};
    uint32_t n_listed = 0;
    for (uint32_t s = 0; rc == 0 && s < r->n_wf; s++) {
        for (uint32_t i = 0; i < r->nb; i++)
            tally_add(&overall_b[i], &r->wf[s].series[i], r->wf[s].outputs);
        if (s > 0 && listed(r, &r->wf[s]))
            order[n_listed++] = &r->wf[s];
    }
    for (uint32_t i = 0; rc == 0 && i < r->nb; i++)
        tally_merge(&overall, &overall_b[i]);
    if (rc == 0)
        qsort(order, n_listed, sizeof *order, by_name);
    rc = rc ? rc
            : md_buf_printf(b,
                            "{\"version\":1,\"since_ms\":%" PRId64 ",\"until_ms\":%" PRId64
                            ",\"bucket_ms\":%" PRId64 ",\"ledger\":{\"size\":%" PRIu64
                            ",\"scanned\":%" PRIu64 "},\"overall\":{",
                            r->since, r->until, r->bucket_ms, size, r->scanned);
    rc = rc ? rc : put_metrics(b, &overall, dw->overall);
    rc = rc ? rc : md_buf_puts(b, "},");
    rc = rc ? rc : put_series(b, r, overall_b, dw->bucket);
    rc = rc ? rc : md_buf_puts(b, ",\"workflows\":[");
    for (uint32_t k = 0; rc == 0 && k < n_listed; k++) {
        rc = k ? md_buf_puts(b, ",") : 0;
        rc = rc ? rc : put_workflow(b, r, dw, order[k], t);
    }
    rc = rc ? rc : md_buf_puts(b, "],\"theatre\":");
    rc = rc ? rc : put_theatre(b, overall_b, r->nb);
    rc = rc ? rc : md_buf_puts(b, ",\"definitions\":{");
    for (size_t i = 0; rc == 0 && i < MD_ARRAY_LEN(definitions); i++) {
        rc = md_buf_puts(b, i ? ",\"" : "\"");
        rc = rc ? rc : md_buf_puts(b, definitions[i][0]);
        rc = rc ? rc : md_buf_puts(b, "\":");
        rc = rc ? rc : md_buf_json_str(b, definitions[i][1], strlen(definitions[i][1]));
    }
    rc = rc ? rc : md_buf_puts(b, "}}");
    free(overall_b);
    free(t);
    free(order);
    return rc;
}

static void report_release(report *r)
{
    for (uint32_t s = 0; s < r->n_wf; s++)
        free(r->wf[s].series);
    free(r->wf);
    free(r->wf_map);
    free(r->dl);
    free(r->al);
    free(r->rq);
    free(r->dw);
    md_arena_free(r->arena);
}

static int report_init(report *r, const md_report_opts *o, md_diag *d)
{
    int64_t width;
    *r = (report){.since = o->since_ms, .until = o->until_ms, .d = d};
    r->long_s = o->long_delegation_s ? o->long_delegation_s : MD_REPORT_LONG_DELEGATION_S;
    if (o->long_delegation_s < 0 || o->since_ms >= o->until_ms ||
        __builtin_sub_overflow(o->until_ms, o->since_ms, &width))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "report: the window must be since_ms < until_ms and "
                           "long_delegation_s >= 0");
    r->bucket_ms = width >= 28 * DAY_MS ? WEEK_MS : DAY_MS;
    int64_t nb = width / r->bucket_ms + (width % r->bucket_ms != 0);
    if (nb > MD_REPORT_MAX_BUCKETS)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0,
                           "report: a window of %" PRId64 " buckets is over the cap of %d", nb,
                           MD_REPORT_MAX_BUCKETS);
    r->nb = (uint32_t)nb;
    r->wf_map_cap = 64;
    r->arena = md_arena_new();
    r->wf_map = calloc(r->wf_map_cap, sizeof *r->wf_map);
    if (!r->arena || !r->wf_map)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "report: out of memory");
    uint32_t none;
    return wf_slot(r, 0, 0, (md_jsv){MD_JSV_STRING, "", 0}, &none);
}

int md_report_build(mandate_ledger *l, const md_report_opts *o, char **json_out, md_diag *d)
{
    if (!l || !o || !json_out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "report: no ledger, options or output");
    *json_out = NULL;
    report r;
    dwells dw = {0};
    md_buf b;
    md_buf_init(&b, MAX_JSON);
    int rc = report_init(&r, o, d);
    uint64_t size = rc ? 0 : mandate_ledger_size(l);
    if (rc == 0 && size > 0) {
        mandate_diag sd = {0};
        rc = mandate_ledger_scan(l, 0, size, visit, &r, &sd);
        if (rc && !r.failed)
            rc = md_diag_set(d, rc, 0, 0, "report: cannot read the ledger: %s", sd.message);
    }
    if (rc == 0 && (rc = dwells_compute(&r, &dw)))
        md_diag_set(d, rc, 0, 0, "report: out of memory");
    if (rc == 0 && (rc = put_report(&b, &r, size, &dw)))
        md_diag_set(d, rc, 0, 0, "report: %s",
                    rc == MANDATE_ETOOBIG ? "the JSON is over 256 MiB" : "out of memory");
    free(dw.bucket);
    free(dw.wf);
    free(dw.wf_bucket);
    report_release(&r);
    if (rc) {
        md_buf_release(&b);
        return rc;
    }
    *json_out = b.data;
    return 0;
}
