/*
 * review.c: the access review (govern.h, docs/governance.md). One scan of the ledger keeps
 * aggregates keyed by interned names (principals, actions, resource types, delegations, policy
 * ids); the findings are made from them, the registry snapshot and the policy scopes, then sorted
 * and written as JSON.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "govern/jscan.h"
#include "govern/report.h"
#include "govern/review_int.h"

enum { SEV_HIGH, SEV_MEDIUM, SEV_LOW };
static const char *const sev_names[] = {"high", "medium", "low"};

#define MAX_NAME 4096   /* longer strings are not names (uids are capped far below) */
#define MAX_REASONS 3   /* distinct deny reasons kept per (agent, action) */
#define MAX_CHECKS 16   /* distinct checks counted per (agent, action) */
#define MAX_CHAIN 64    /* parents followed from a used delegation */
#define DAY_MS 86400000 /* milliseconds in a day */

/* ---- growable arrays and evidence ---- */

static int grow(void *vp, size_t *cap, size_t need, size_t elem)
{
    void **v = vp;
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * elem);
    if (!nv)
        return MANDATE_ENOMEM;
    *v = nv;
    *cap = c;
    return 0;
}

typedef struct evid {
    uint64_t count;
    uint32_t n;
    uint64_t idx[MD_REVIEW_MAX_EVIDENCE];
} evid;

/* Entries arrive in index order, so the first ones kept are the smallest. */
static void evid_add(evid *e, uint64_t index)
{
    e->count++;
    if (e->n < MD_REVIEW_MAX_EVIDENCE)
        e->idx[e->n++] = index;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- names ---- */

enum { NAME_USED = 1, NAME_REVOKED = 2, NAME_AGENT = 4, NAME_OWNER_DONE = 8 };

typedef struct name {
    const char *s; /* the decoded string, NUL-terminated */
    uint32_t len;
    uint8_t flags;
    uint64_t h;
    uint32_t agent, approver, deleg; /* 1 + position in their arrays; 0 none */
    uint32_t owner;                  /* an agent's owner as a name (NAME_OWNER_DONE), 0 none */
    uint64_t determined;             /* decisions of the window this policy id determined */
    int64_t reg_add, reg_status;     /* its newest registry add and status entries; -1 none */
    int64_t policy_entry;            /* the newest policy entry naming this policy id; -1 none */
} name;

typedef struct names {
    md_arena *a;
    name *v; /* v[0] is unused: id 0 means "no name" */
    size_t n, cap;
    uint32_t *slots;
    size_t mask;
} names;

static int names_rehash(names *t)
{
    size_t cap = t->mask ? 2 * (t->mask + 1) : 1024;
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s)
        return MANDATE_ENOMEM;
    for (size_t id = 1; id < t->n; id++) {
        size_t i = t->v[id].h & (cap - 1);
        while (s[i])
            i = (i + 1) & (cap - 1);
        s[i] = (uint32_t)id;
    }
    free(t->slots);
    t->slots = s;
    t->mask = cap - 1;
    return 0;
}

/* The id of the string s[0..n), added when add is set; 0 when absent (or out of memory: *rc). */
static uint32_t names_get(names *t, const char *s, size_t n, bool add, int *rc)
{
    if (!t->mask && names_rehash(t)) {
        *rc = MANDATE_ENOMEM;
        return 0;
    }
    uint64_t h = md_hash_bytes(s, n, 0x7265766965);
    size_t i = h & t->mask;
    for (uint32_t id; (id = t->slots[i]); i = (i + 1) & t->mask)
        if (t->v[id].h == h && t->v[id].len == n && !memcmp(t->v[id].s, s, n))
            return id;
    if (!add)
        return 0;
    if (t->n == 0)
        t->n = 1;
    char *copy = md_arena_strndup(t->a, s, n);
    if (!copy || grow(&t->v, &t->cap, t->n + 1, sizeof *t->v)) {
        *rc = MANDATE_ENOMEM;
        return 0;
    }
    uint32_t id = (uint32_t)t->n++;
    t->v[id] = (name){
        .s = copy, .len = (uint32_t)n, .h = h, .reg_add = -1, .reg_status = -1, .policy_entry = -1};
    if (n > 7 && !memcmp(s, "Agent::", 7))
        t->v[id].flags |= NAME_AGENT;
    if ((t->n - 1) * 2 > t->mask) {
        if (names_rehash(t))
            *rc = MANDATE_ENOMEM;
    } else {
        t->slots[i] = id;
    }
    return id;
}

/* The id of a JSON string value (decoded), 0 when v is not a usable string. */
static uint32_t names_jv(names *t, md_jsv v, int *rc)
{
    if (v.kind != MD_JSV_STRING || v.n > MAX_NAME)
        return 0;
    if (!memchr(v.p, '\\', v.n))
        return names_get(t, v.p, v.n, true, rc);
    char buf[MAX_NAME + 1];
    size_t n;
    if (md_jscan_str_decode(v, buf, &n))
        return 0;
    return names_get(t, buf, n, true, rc);
}

/* The entity type part of a uid's text (Ns::Type::"id" -> Ns::Type), as a name. */
static uint32_t names_type_of(names *t, md_jsv v, int *rc)
{
    if (v.kind != MD_JSV_STRING || v.n > MAX_NAME)
        return 0;
    char buf[MAX_NAME + 1];
    size_t n;
    if (md_jscan_str_decode(v, buf, &n))
        return 0;
    buf[n] = 0;
    const char *q = strstr(buf, "::\"");
    return q && q > buf ? names_get(t, buf, (size_t)(q - buf), true, rc) : 0;
}

/* ---- a map from 64-bit keys to 64-bit values (open addressing) ---- */

typedef struct u64map {
    uint64_t *keys; /* key + 1; 0 is an empty slot */
    uint64_t *vals;
    size_t cap, n;
} u64map;

static int map_put(u64map *m, uint64_t key, uint64_t val);

static int map_grow(u64map *m)
{
    u64map nm = {0};
    nm.cap = m->cap ? 2 * m->cap : 256;
    nm.keys = calloc(nm.cap, sizeof *nm.keys);
    nm.vals = calloc(nm.cap, sizeof *nm.vals);
    if (!nm.keys || !nm.vals) {
        free(nm.keys);
        free(nm.vals);
        return MANDATE_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            map_put(&nm, m->keys[i] - 1, m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = nm;
    return 0;
}

static size_t map_slot(const u64map *m, uint64_t key)
{
    uint64_t h = (key + 1) * 0x9e3779b97f4a7c15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key + 1)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_put(u64map *m, uint64_t key, uint64_t val)
{
    if ((m->n + 1) * 10 > m->cap * 7 && map_grow(m))
        return MANDATE_ENOMEM;
    size_t i = map_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = key + 1;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

static bool map_get(const u64map *m, uint64_t key, uint64_t *val)
{
    if (!m->cap)
        return false;
    size_t i = map_slot(m, key);
    if (!m->keys[i])
        return false;
    *val = m->vals[i];
    return true;
}

static void map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
}

static uint64_t pack(uint32_t hi, uint32_t lo)
{
    return (uint64_t)hi << 32 | lo;
}

/* ---- aggregates ---- */

typedef struct agent_acc {
    uint32_t name;
    bool any; /* a decision before until */
    int64_t last_ms;
    uint64_t n_window;
    evid ev;
    uint64_t *pairs; /* exercised (action, resource type) names, packed */
    size_t n_pairs, cap_pairs;
} agent_acc;

typedef struct deny_group {
    uint32_t agent, action, rtype; /* rtype: of the first denied request */
    uint32_t checks[MAX_CHECKS];
    uint64_t counts[MAX_CHECKS];
    size_t n_checks;
    char *reasons[MAX_REASONS];
    size_t n_reasons;
    evid ev;
} deny_group;

typedef struct approver_acc {
    uint32_t name;
    uint64_t decisions, approved, fast;
    int64_t *dwell;
    size_t n_dwell, cap_dwell;
    evid ev;
} approver_acc;

typedef struct breach {
    uint32_t approver, agent, delegator, owner;
    uint64_t approval_index, request_index;
    char *approval;
} breach;

typedef struct deleg {
    uint32_t jti, parent, subject, root;
    int64_t iat, exp, time_ms;
    uint64_t index;
    bool in_window;
} deleg;

typedef struct finding {
    int sev;
    const char *kind;
    char *subject, *title, *fix;
    json_t *data;    /* while the finding is being made */
    char *data_text; /* then, once sealed (compact JSON in the arena) */
    uint64_t *ev;
    size_t n_ev;
    uint64_t ev_count;
} finding;

typedef struct review {
    const md_review_opts *o;
    md_snapshot *snap;
    const md_policyset *ps;
    const md_schema *schema;
    md_arena *a;
    names nm;
    agent_acc *agents;
    size_t n_agents, cap_agents;
    deny_group *groups;
    size_t n_groups, cap_groups;
    u64map group_of; /* (agent, action) -> group */
    approver_acc *appr;
    size_t n_appr, cap_appr;
    breach *breaches;
    size_t n_breaches, cap_breaches;
    deleg *delegs;
    size_t n_delegs, cap_delegs;
    u64map requests; /* approval_required decision index -> (delegator, principal) */
    u64map observed; /* (action, resource type) of agent decisions in the window */
    finding *f;
    size_t n_f, cap_f;
    uint64_t scanned;
    int rc;
    md_diag *d;
} review;

/* The element of a per-name array (agents, approvers) for name id, made zeroed on first use;
 * *slot_of_name is the name's 1 + position. NULL when out of memory. */
static void *slot(review *r, uint32_t id, uint32_t *slot_of_name, void *arr, size_t *n, size_t *cap,
                  size_t elem)
{
    void **v = arr;
    if (*slot_of_name)
        return (char *)*v + (*slot_of_name - 1) * elem;
    if (grow(v, cap, *n + 1, elem)) {
        r->rc = MANDATE_ENOMEM;
        return NULL;
    }
    void *e = (char *)*v + *n * elem;
    memset(e, 0, elem);
    memcpy(e, &id, sizeof id); /* the name is the first member */
    *slot_of_name = (uint32_t)++ * n;
    return e;
}

static agent_acc *agent_of(review *r, uint32_t id)
{
    return slot(r, id, &r->nm.v[id].agent, &r->agents, &r->n_agents, &r->cap_agents,
                sizeof *r->agents);
}

static void add_pair(review *r, agent_acc *a, uint64_t pair)
{
    for (size_t i = 0; i < a->n_pairs; i++)
        if (a->pairs[i] == pair)
            return;
    if (grow(&a->pairs, &a->cap_pairs, a->n_pairs + 1, sizeof *a->pairs))
        r->rc = MANDATE_ENOMEM;
    else
        a->pairs[a->n_pairs++] = pair;
}

static void deny_add(review *r, uint32_t agent, uint32_t action, uint32_t rtype, md_jsv check,
                     md_jsv reason, uint64_t index)
{
    uint64_t g;
    if (!map_get(&r->group_of, pack(agent, action), &g)) {
        if (grow(&r->groups, &r->cap_groups, r->n_groups + 1, sizeof *r->groups) ||
            map_put(&r->group_of, pack(agent, action), r->n_groups)) {
            r->rc = MANDATE_ENOMEM;
            return;
        }
        g = r->n_groups++;
        memset(&r->groups[g], 0, sizeof r->groups[g]);
        r->groups[g] = (deny_group){.agent = agent, .action = action, .rtype = rtype};
    }
    deny_group *dg = &r->groups[g];
    evid_add(&dg->ev, index);
    uint32_t c = names_jv(&r->nm, check, &r->rc);
    size_t k = 0;
    while (k < dg->n_checks && dg->checks[k] != c)
        k++;
    if (k == dg->n_checks && k < MAX_CHECKS)
        dg->checks[dg->n_checks++] = c;
    if (k < MAX_CHECKS)
        dg->counts[k]++;
    if (dg->n_reasons == MAX_REASONS || reason.kind != MD_JSV_STRING || !reason.n ||
        reason.n > MAX_NAME)
        return;
    char buf[MAX_NAME + 1];
    size_t n;
    if (md_jscan_str_decode(reason, buf, &n))
        return;
    for (size_t i = 0; i < dg->n_reasons; i++)
        if (strlen(dg->reasons[i]) == n && !memcmp(dg->reasons[i], buf, n))
            return;
    if (!(dg->reasons[dg->n_reasons] = md_arena_strndup(r->a, buf, n)))
        r->rc = MANDATE_ENOMEM;
    else
        dg->n_reasons++;
}

/* An agent's owner (from the registry snapshot) as a name; 0 when it has none. */
static uint32_t owner_of(review *r, uint32_t agent)
{
    name *n = &r->nm.v[agent];
    if (!(n->flags & NAME_OWNER_DONE)) {
        const md_reg_principal *p = md_snapshot_find(r->snap, n->s);
        uint32_t o =
            p && p->owner ? names_get(&r->nm, p->owner, strlen(p->owner), true, &r->rc) : 0;
        n = &r->nm.v[agent]; /* names_get may have moved the array */
        n->owner = o;
        n->flags |= NAME_OWNER_DONE;
    }
    return n->owner;
}

/* ---- the scan ---- */

static bool in_window(const review *r, int64_t t)
{
    return t >= r->o->since_ms && t < r->o->until_ms;
}

static void count_policies(review *r, md_jsv list)
{
    size_t pos = 0;
    md_jsv it;
    while (list.kind == MD_JSV_ARRAY && md_jscan_array_next(list, &pos, &it) == 1) {
        uint32_t id = names_jv(&r->nm, it, &r->rc);
        if (id)
            r->nm.v[id].determined++;
    }
}

static void on_decision(review *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    static const char *const keys[] = {"action",    "check",   "decision", "delegation",
                                       "delegator", "kind",    "policies", "principal",
                                       "reason",    "reasons", "resource"};
    enum {
        ACTION,
        CHECK,
        DECISION,
        DELEGATION,
        DELEGATOR,
        KIND,
        POLICIES,
        PRINCIPAL,
        REASON,
        REASONS,
        RESOURCE
    };
    md_jsv v[MD_ARRAY_LEN(keys)];
    if (md_jscan_object(body, len, keys, MD_ARRAY_LEN(keys), v))
        return; /* not a decision body this review can read */
    uint32_t jti = names_jv(&r->nm, v[DELEGATION], &r->rc);
    if (jti)
        r->nm.v[jti].flags |= NAME_USED;
    uint32_t principal = names_jv(&r->nm, v[PRINCIPAL], &r->rc);
    bool allow = md_jsv_is(v[DECISION], "allow"), deny = md_jsv_is(v[DECISION], "deny");
    if (md_jsv_is(v[DECISION], "approval_required")) {
        uint32_t delegator = names_jv(&r->nm, v[DELEGATOR], &r->rc);
        if (map_put(&r->requests, index, pack(delegator, principal)))
            r->rc = MANDATE_ENOMEM;
    }
    agent_acc *acc = NULL;
    if (principal && (r->nm.v[principal].flags & NAME_AGENT) && (acc = agent_of(r, principal))) {
        if (!acc->any || t > acc->last_ms)
            acc->last_ms = t;
        acc->any = true;
    }
    if (!in_window(r, t))
        return;
    count_policies(r, v[POLICIES]);
    count_policies(r, v[REASONS]);
    if (!acc)
        return;
    acc->n_window++;
    evid_add(&acc->ev, index);
    uint32_t action = names_jv(&r->nm, v[ACTION], &r->rc);
    uint32_t rtype = names_type_of(&r->nm, v[RESOURCE], &r->rc);
    if (action && rtype) {
        if (map_put(&r->observed, pack(action, rtype), 1))
            r->rc = MANDATE_ENOMEM;
        if (allow)
            add_pair(r, &r->agents[r->nm.v[principal].agent - 1], pack(action, rtype));
    }
    if (deny && action && md_jsv_is(v[KIND], "agent"))
        deny_add(r, principal, action, rtype, v[CHECK], v[REASON], index);
}

static approver_acc *approver_of(review *r, uint32_t id)
{
    return slot(r, id, &r->nm.v[id].approver, &r->appr, &r->n_appr, &r->cap_appr, sizeof *r->appr);
}

static void on_approval(review *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    static const char *const keys[] = {"approval", "approver",  "dwell_ms",
                                       "event",    "principal", "request_index"};
    enum { APPROVAL, APPROVER, DWELL, EVENT, PRINCIPAL, REQUEST };
    md_jsv v[MD_ARRAY_LEN(keys)];
    if (!in_window(r, t) || md_jscan_object(body, len, keys, MD_ARRAY_LEN(keys), v))
        return;
    bool approved = md_jsv_is(v[EVENT], "approved");
    if (!approved && !md_jsv_is(v[EVENT], "rejected"))
        return;
    uint32_t who = names_jv(&r->nm, v[APPROVER], &r->rc);
    approver_acc *a = who ? approver_of(r, who) : NULL;
    if (!a)
        return;
    a->decisions++;
    a->approved += approved;
    evid_add(&a->ev, index);
    int64_t dwell = 0;
    bool has_dwell = md_jscan_int(v[DWELL], &dwell) == 0;
    if (!has_dwell || dwell < r->o->th.rubber_stamp_dwell_ms)
        a->fast++;
    if (has_dwell) {
        if (grow(&a->dwell, &a->cap_dwell, a->n_dwell + 1, sizeof *a->dwell))
            r->rc = MANDATE_ENOMEM;
        else
            a->dwell[a->n_dwell++] = dwell;
    }
    int64_t req = -1;
    uint64_t packed = 0;
    if (!approved || md_jscan_int(v[REQUEST], &req) || req < 0 ||
        !map_get(&r->requests, (uint64_t)req, &packed))
        return;
    uint32_t delegator = (uint32_t)(packed >> 32), agent = (uint32_t)packed;
    uint32_t p = names_jv(&r->nm, v[PRINCIPAL], &r->rc);
    if (p)
        agent = p;
    uint32_t owner = agent ? owner_of(r, agent) : 0;
    if (who != delegator && who != owner)
        return;
    if (grow(&r->breaches, &r->cap_breaches, r->n_breaches + 1, sizeof *r->breaches)) {
        r->rc = MANDATE_ENOMEM;
        return;
    }
    breach *b = &r->breaches[r->n_breaches++];
    *b = (breach){who, agent, delegator, owner, index, (uint64_t)req, NULL};
    char buf[MAX_NAME + 1];
    size_t n;
    if (v[APPROVAL].kind == MD_JSV_STRING && v[APPROVAL].n <= MAX_NAME &&
        !md_jscan_str_decode(v[APPROVAL], buf, &n) &&
        !(b->approval = md_arena_strndup(r->a, buf, n)))
        r->rc = MANDATE_ENOMEM;
}

static void on_delegation(review *r, uint64_t index, int64_t t, const char *body, size_t len)
{
    static const char *const keys[] = {"delegators", "exp", "iat", "jti", "parent", "subject"};
    enum { DELEGATORS, EXP, IAT, JTI, PARENT, SUBJECT };
    md_jsv v[MD_ARRAY_LEN(keys)];
    if (t >= r->o->until_ms || md_jscan_object(body, len, keys, MD_ARRAY_LEN(keys), v))
        return;
    uint32_t jti = names_jv(&r->nm, v[JTI], &r->rc);
    if (!jti || r->nm.v[jti].deleg)
        return;
    deleg dl = {.jti = jti, .time_ms = t, .index = index, .in_window = in_window(r, t)};
    if (md_jscan_int(v[IAT], &dl.iat) || md_jscan_int(v[EXP], &dl.exp))
        return;
    dl.parent = names_jv(&r->nm, v[PARENT], &r->rc);
    dl.subject = names_jv(&r->nm, v[SUBJECT], &r->rc);
    size_t pos = 0;
    md_jsv it;
    while (md_jscan_array_next(v[DELEGATORS], &pos, &it) == 1)
        dl.root = names_jv(&r->nm, it, &r->rc); /* the last one is the root delegator */
    if (grow(&r->delegs, &r->cap_delegs, r->n_delegs + 1, sizeof *r->delegs)) {
        r->rc = MANDATE_ENOMEM;
        return;
    }
    r->delegs[r->n_delegs++] = dl;
    r->nm.v[jti].deleg = (uint32_t)r->n_delegs;
}

static void on_small(review *r, int type, uint64_t index, int64_t t, const char *body, size_t len)
{
    static const char *const keys[] = {"jti", "op", "policies", "uid"};
    enum { JTI, OP, POLICIES, UID };
    md_jsv v[MD_ARRAY_LEN(keys)];
    if (md_jscan_object(body, len, keys, MD_ARRAY_LEN(keys), v))
        return;
    if (type == MANDATE_ENTRY_REVOCATION) {
        uint32_t jti = t < r->o->until_ms ? names_jv(&r->nm, v[JTI], &r->rc) : 0;
        if (jti)
            r->nm.v[jti].flags |= NAME_REVOKED;
    } else if (type == MANDATE_ENTRY_REGISTRY) {
        uint32_t uid = names_jv(&r->nm, v[UID], &r->rc);
        if (uid && md_jsv_is(v[OP], "add"))
            r->nm.v[uid].reg_add = (int64_t)index;
        else if (uid && (md_jsv_is(v[OP], "suspend") || md_jsv_is(v[OP], "resume") ||
                         md_jsv_is(v[OP], "retire")))
            r->nm.v[uid].reg_status = (int64_t)index;
    } else if (type == MANDATE_ENTRY_POLICY && t < r->o->until_ms) {
        size_t pos = 0;
        md_jsv it;
        while (md_jscan_array_next(v[POLICIES], &pos, &it) == 1) {
            uint32_t id = names_jv(&r->nm, it, &r->rc);
            if (id)
                r->nm.v[id].policy_entry = (int64_t)index;
        }
    }
}

static int visit(void *arg, uint64_t index, int type, int64_t time_ms, const char *body, size_t len)
{
    review *r = arg;
    r->scanned++;
    if (time_ms >= r->o->until_ms && type != MANDATE_ENTRY_REGISTRY)
        return 0;
    switch (type) {
    case MANDATE_ENTRY_DECISION: on_decision(r, index, time_ms, body, len); break;
    case MANDATE_ENTRY_APPROVAL: on_approval(r, index, time_ms, body, len); break;
    case MANDATE_ENTRY_DELEGATION: on_delegation(r, index, time_ms, body, len); break;
    case MANDATE_ENTRY_REVOCATION:
    case MANDATE_ENTRY_REGISTRY:
    case MANDATE_ENTRY_POLICY: on_small(r, type, index, time_ms, body, len); break;
    default: break;
    }
    return r->rc;
}

/* ---- findings ---- */

/* Turns the last finding's data into text, so that thousands of findings hold no JSON trees. */
static void seal_last(review *r)
{
    finding *f = r->n_f ? &r->f[r->n_f - 1] : NULL;
    if (!f || !f->data)
        return;
    char *text = json_dumps(f->data, JSON_COMPACT);
    if (!text || !(f->data_text = md_arena_strndup(r->a, text, strlen(text))))
        r->rc = MANDATE_ENOMEM;
    free(text);
    json_decref(f->data);
    f->data = NULL;
}

static finding *new_finding(review *r, int sev, const char *kind, const char *subject)
{
    seal_last(r);
    if (grow(&r->f, &r->cap_f, r->n_f + 1, sizeof *r->f)) {
        r->rc = MANDATE_ENOMEM;
        return NULL;
    }
    finding *f = &r->f[r->n_f++];
    memset(f, 0, sizeof *f);
    f->sev = sev;
    f->kind = kind;
    f->subject = md_arena_strndup(r->a, subject, strlen(subject));
    f->data = json_object();
    if (!f->subject || !f->data)
        r->rc = MANDATE_ENOMEM;
    return r->rc ? NULL : f;
}

static void set_text(review *r, char **slot, const char *fmt, ...) MD_PRINTF(3, 4);
static void set_text(review *r, char **slot, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? md_arena_alloc(r->a, (size_t)n + 1) : NULL;
    if (!s) {
        r->rc = MANDATE_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *slot = s;
}

static void set_evidence(review *r, finding *f, const uint64_t *idx, size_t n, uint64_t count)
{
    f->ev = md_arena_array(r->a, n + 1, sizeof *f->ev);
    if (!f->ev) {
        r->rc = MANDATE_ENOMEM;
        return;
    }
    if (n) {
        memcpy(f->ev, idx, n * sizeof *idx);
        qsort(f->ev, n, sizeof *f->ev, cmp_u64);
    }
    f->n_ev = n < MD_REVIEW_MAX_EVIDENCE ? n : MD_REVIEW_MAX_EVIDENCE;
    f->ev_count = count;
}

static void set_evid(review *r, finding *f, const evid *e)
{
    set_evidence(r, f, e->idx, e->n, e->count);
}

static void data_set(review *r, finding *f, const char *key, json_t *v)
{
    if (!v || json_object_set_new(f->data, key, v))
        r->rc = MANDATE_ENOMEM;
}

static json_t *jname(const review *r, uint32_t id)
{
    return id ? json_string(r->nm.v[id].s) : json_null();
}

static const char *nm(const review *r, uint32_t id)
{
    return id ? r->nm.v[id].s : "(unknown)";
}

/* Registry evidence: the entry that registered a principal (with add) and its newest status
 * change. */
static size_t reg_evidence(const review *r, const char *uid, uint64_t *out, bool add)
{
    int rc = 0;
    uint32_t id = names_get((names *)&r->nm, uid, strlen(uid), false, &rc);
    size_t n = 0;
    if (add && id && r->nm.v[id].reg_add >= 0)
        out[n++] = (uint64_t)r->nm.v[id].reg_add;
    if (id && r->nm.v[id].reg_status >= 0)
        out[n++] = (uint64_t)r->nm.v[id].reg_status;
    return n;
}

static const md_reg_principal *find(const review *r, const char *uid)
{
    return uid ? md_snapshot_find(r->snap, uid) : NULL;
}

static agent_acc *acc_of(const review *r, const char *uid)
{
    int rc = 0;
    uint32_t id = names_get((names *)&r->nm, uid, strlen(uid), false, &rc);
    return id && r->nm.v[id].agent ? &r->agents[r->nm.v[id].agent - 1] : NULL;
}

static void orphans(review *r)
{
    for (size_t i = 0; i < r->snap->n && !r->rc; i++) {
        const md_reg_principal *p = r->snap->p[i];
        bool agent = p->kind == MANDATE_KIND_AGENT, wf = p->kind == MANDATE_KIND_WORKFLOW;
        if ((!agent && !wf) || p->status != MANDATE_STATUS_ACTIVE)
            continue;
        const md_reg_principal *o = find(r, p->owner);
        const char *st = !o || o->kind != MANDATE_KIND_HUMAN
                             ? "missing"
                             : mandate_status_name(o->kind, o->status);
        bool bad = !o || o->kind != MANDATE_KIND_HUMAN || o->status == MANDATE_STATUS_DEPARTED ||
                   (agent && o->status == MANDATE_STATUS_SUSPENDED);
        if (!bad)
            continue;
        finding *f =
            new_finding(r, SEV_HIGH, agent ? "orphan_agent" : "ownerless_workflow", p->uid);
        if (!f)
            return;
        uint64_t ev[4];
        size_t n = reg_evidence(r, p->uid, ev, true);
        if (p->owner)
            n += reg_evidence(r, p->owner, ev + n, false);
        set_evidence(r, f, ev, n, n);
        if (!p->owner)
            set_text(r, &f->title, "%s is active and has no owner", p->uid);
        else
            set_text(r, &f->title, "%s is active but its owner %s %s", p->uid, p->owner,
                     !strcmp(st, "missing") ? "is not a registered human" : "is not active");
        const char *kind = agent ? "agent" : "workflow";
        set_text(r, &f->fix,
                 "Suspend it until an active person owns it (mandate %s suspend '%s'), then "
                 "register it again with --owner naming an active human who answers for it.",
                 kind, p->uid);
        data_set(r, f, "owner", p->owner ? json_string(p->owner) : json_null());
        data_set(r, f, "owner_status", json_string(st));
    }
}

static void dormant(review *r)
{
    int64_t cutoff = r->o->until_ms - r->o->th.dormant_days * DAY_MS;
    for (size_t i = 0; i < r->snap->n && !r->rc; i++) {
        const md_reg_principal *p = r->snap->p[i];
        if (p->kind != MANDATE_KIND_AGENT || p->status != MANDATE_STATUS_ACTIVE)
            continue;
        agent_acc *a = acc_of(r, p->uid);
        if (a && (a->n_window || (a->any && a->last_ms >= cutoff)))
            continue;
        finding *f = new_finding(r, SEV_LOW, "dormant_agent", p->uid);
        if (!f)
            return;
        uint64_t ev[2];
        size_t n = reg_evidence(r, p->uid, ev, true) > 0; /* the add entry (first) alone */
        set_evidence(r, f, ev, n, n);
        if (a && a->any)
            set_text(r, &f->title, "%s made no decision in the last %lld days", p->uid,
                     (long long)r->o->th.dormant_days);
        else
            set_text(r, &f->title, "%s has never made a decision", p->uid);
        set_text(r, &f->fix,
                 "Retire it if nothing needs it any more (mandate agent retire '%s'); an idle "
                 "identity keeps its permissions and its owner's authority.",
                 p->uid);
        data_set(r, f, "last_decision_ms",
                 a && a->any ? json_integer((json_int_t)a->last_ms) : json_null());
        data_set(r, f, "dormant_days", json_integer((json_int_t)r->o->th.dormant_days));
    }
}

static json_t *pair_json(const md_pair *p)
{
    return json_pack("[s,s]", p->action.ptr, p->rtype.ptr);
}

/* One privilege_slack finding for agents[0..n) (a workflow when wf is set). */
static void slack_finding(review *r, md_slack *sl, const md_reg_principal *const *agents, size_t n,
                          const char *wf, uint8_t *flags, uint8_t *perm, uint8_t *uncond,
                          uint8_t *used)
{
    size_t np = md_slack_count(sl);
    memset(perm, 0, np);
    memset(uncond, 0, np);
    memset(used, 0, np);
    bool active = false;
    uint64_t ev[MD_REVIEW_MAX_EVIDENCE * 64];
    size_t n_ev = 0;
    uint64_t ev_count = 0;
    for (size_t k = 0; k < n; k++) {
        agent_acc *a = acc_of(r, agents[k]->uid);
        md_slack_agent(sl, agents[k], find(r, agents[k]->workflow), flags);
        for (size_t i = 0; i < np; i++) {
            bool p = (flags[i] & (MD_SLACK_PERMIT | MD_SLACK_ENTITLED | MD_SLACK_FORBID)) ==
                     (MD_SLACK_PERMIT | MD_SLACK_ENTITLED);
            perm[i] |= p;
            uncond[i] |= p && (flags[i] & MD_SLACK_UNCONDITIONAL);
        }
        if (!a || !a->n_window)
            continue;
        active = true;
        for (size_t j = 0; j < a->n_pairs; j++) {
            const name *act = &r->nm.v[a->pairs[j] >> 32], *typ = &r->nm.v[(uint32_t)a->pairs[j]];
            size_t at = md_slack_find(sl, (md_str){act->s, act->len}, (md_str){typ->s, typ->len});
            if (at != SIZE_MAX)
                used[at] = 1;
        }
        for (uint32_t j = 0; j < a->ev.n; j++) {
            if (n_ev == MD_ARRAY_LEN(ev)) { /* keep the smallest */
                qsort(ev, n_ev, sizeof *ev, cmp_u64);
                n_ev = MD_REVIEW_MAX_EVIDENCE;
            }
            ev[n_ev++] = a->ev.idx[j];
        }
        ev_count += a->ev.count;
    }
    size_t n_perm = 0, n_unused = 0, n_used = 0;
    for (size_t i = 0; i < np; i++) {
        n_perm += perm[i];
        n_unused += perm[i] && !used[i];
        n_used += used[i];
    }
    if (!active || !n_unused)
        return;
    const char *subject = wf ? wf : agents[0]->uid;
    finding *f = new_finding(r, SEV_MEDIUM, "privilege_slack", subject);
    if (!f)
        return;
    set_evidence(r, f, ev, n_ev, ev_count);
    json_t *lists[4] = {json_array(), json_array(), json_array(), json_array()};
    size_t *ex = md_arena_array(r->a, n_used + 1, sizeof *ex), k = 0;
    if (!ex)
        r->rc = MANDATE_ENOMEM;
    for (size_t i = 0; i < np && ex; i++) {
        const md_pair *p = md_slack_pair(sl, i);
        if (perm[i])
            json_array_append_new(lists[0], pair_json(p));
        if (used[i]) {
            json_array_append_new(lists[1], pair_json(p));
            ex[k++] = i;
        }
        if (perm[i] && !used[i])
            json_array_append_new(lists[2], pair_json(p));
        if (perm[i] && !uncond[i])
            json_array_append_new(lists[3], pair_json(p));
    }
    data_set(r, f, "permitted", lists[0]);
    data_set(r, f, "exercised", lists[1]);
    data_set(r, f, "unused", lists[2]);
    data_set(r, f, "conditional", lists[3]);
    if (wf) {
        json_t *names_j = json_array();
        for (size_t j = 0; j < n && names_j; j++)
            json_array_append_new(names_j, json_string(agents[j]->uid));
        data_set(r, f, "agents", names_j);
    }
    set_text(r, &f->title,
             "%s%s may do %zu (action, resource type) pair%s and used %zu in the window; %zu "
             "unused",
             wf ? "the agents of " : "", subject, n_perm, n_perm == 1 ? "" : "s", n_used, n_unused);
    md_buf fix;
    md_buf_init(&fix, 4u << 20);
    if (!r->rc && md_slack_fix(sl, agents, n, wf, ex, k, n_unused, &fix))
        r->rc = MANDATE_ENOMEM;
    if (!r->rc && !(f->fix = md_arena_strndup(r->a, fix.data ? fix.data : "", fix.len)))
        r->rc = MANDATE_ENOMEM;
    md_buf_release(&fix);
}

static void slack(review *r)
{
    md_pair *obs = md_arena_array(r->a, r->observed.n + 1, sizeof *obs);
    if (!obs) {
        r->rc = MANDATE_ENOMEM;
        return;
    }
    size_t n_obs = 0;
    for (size_t i = 0; i < r->observed.cap; i++) {
        if (!r->observed.keys[i])
            continue;
        uint64_t k = r->observed.keys[i] - 1;
        const name *act = &r->nm.v[k >> 32], *typ = &r->nm.v[(uint32_t)k];
        obs[n_obs++] = (md_pair){{act->s, act->len}, {typ->s, typ->len}};
    }
    md_slack *sl = NULL;
    if ((r->rc = md_slack_new(r->a, r->ps, r->schema, r->snap->es, obs, n_obs, &sl, r->d)))
        return;
    size_t np = md_slack_count(sl);
    uint8_t *buf = md_arena_array(r->a, 4 * (np + 1), 1);
    const md_reg_principal **wf_agents = md_arena_array(r->a, r->snap->n + 1, sizeof *wf_agents);
    if (!buf || !wf_agents) {
        r->rc = MANDATE_ENOMEM;
        return;
    }
    uint8_t *flags = buf, *perm = buf + np + 1, *unc = buf + 2 * (np + 1),
            *used = buf + 3 * (np + 1);
    for (size_t i = 0; i < r->snap->n && !r->rc; i++) {
        const md_reg_principal *p = r->snap->p[i];
        if (p->kind == MANDATE_KIND_AGENT && p->status == MANDATE_STATUS_ACTIVE)
            slack_finding(r, sl, (const md_reg_principal *const *)&r->snap->p[i], 1, NULL, flags,
                          perm, unc, used);
    }
    for (size_t i = 0; i < r->snap->n && !r->rc; i++) {
        const md_reg_principal *w = r->snap->p[i];
        if (w->kind != MANDATE_KIND_WORKFLOW || w->status != MANDATE_STATUS_ACTIVE)
            continue;
        size_t n = 0;
        for (size_t k = 0; k < r->snap->n; k++) {
            const md_reg_principal *p = r->snap->p[k];
            if (p->kind == MANDATE_KIND_AGENT && p->status == MANDATE_STATUS_ACTIVE &&
                p->workflow && !strcmp(p->workflow, w->uid))
                wf_agents[n++] = p;
        }
        if (n)
            slack_finding(r, sl, wf_agents, n, w->uid, flags, perm, unc, used);
    }
}

static void envelope(review *r)
{
    for (size_t i = 0; i < r->n_groups && !r->rc; i++) {
        deny_group *g = &r->groups[i];
        finding *f = new_finding(r, g->ev.count >= 10 ? SEV_HIGH : SEV_MEDIUM, "out_of_envelope",
                                 nm(r, g->agent));
        if (!f)
            return;
        set_evid(r, f, &g->ev);
        json_t *checks = json_object(), *reasons = json_array();
        for (size_t k = 0; k < g->n_checks && checks; k++)
            json_object_set_new(checks, g->checks[k] ? nm(r, g->checks[k]) : "unknown",
                                json_integer((json_int_t)g->counts[k]));
        for (size_t k = 0; k < g->n_reasons && reasons; k++)
            json_array_append_new(reasons, json_string(g->reasons[k]));
        data_set(r, f, "action", json_string(nm(r, g->action)));
        data_set(r, f, "denials", json_integer((json_int_t)g->ev.count));
        data_set(r, f, "checks", checks);
        data_set(r, f, "reasons", reasons);
        set_text(r, &f->title, "%s was denied %s %llu time%s in the window", nm(r, g->agent),
                 nm(r, g->action), (unsigned long long)g->ev.count, g->ev.count == 1 ? "" : "s");
        set_text(r, &f->fix,
                 "Find out why %s keeps asking for %s. If its task needs it, widen its envelope "
                 "with a reviewed permit, e.g. permit (principal == %s, action == %s, resource "
                 "is %s); otherwise narrow its task or suspend it (mandate agent suspend '%s').",
                 nm(r, g->agent), nm(r, g->action), nm(r, g->agent), nm(r, g->action),
                 g->rtype ? nm(r, g->rtype) : "<type>", nm(r, g->agent));
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void rubber_stamps(review *r)
{
    const md_review_thresholds *th = &r->o->th;
    for (size_t i = 0; i < r->n_appr && !r->rc; i++) {
        approver_acc *a = &r->appr[i];
        if ((int64_t)a->decisions < th->rubber_stamp_min_approvals)
            continue;
        bool fast = (double)a->fast > th->rubber_stamp_share * (double)a->decisions;
        bool all = a->approved == a->decisions;
        if (!fast && !all)
            continue;
        finding *f = new_finding(r, SEV_HIGH, "rubber_stamp", nm(r, a->name));
        if (!f)
            return;
        set_evid(r, f, &a->ev);
        if (a->n_dwell)
            qsort(a->dwell, a->n_dwell, sizeof *a->dwell, cmp_i64);
        data_set(r, f, "decisions", json_integer((json_int_t)a->decisions));
        data_set(r, f, "approved", json_integer((json_int_t)a->approved));
        data_set(r, f, "fast", json_integer((json_int_t)a->fast));
        data_set(r, f, "median_dwell_ms",
                 a->n_dwell ? json_integer((json_int_t)a->dwell[(a->n_dwell - 1) / 2])
                            : json_null());
        data_set(r, f, "rule",
                 json_string(fast && all ? "fast,approves_all"
                             : fast      ? "fast"
                                         : "approves_all"));
        set_text(r, &f->title,
                 "%s approved %llu of %llu requests; %llu decided in under %lld ms or never "
                 "opened",
                 nm(r, a->name), (unsigned long long)a->approved, (unsigned long long)a->decisions,
                 (unsigned long long)a->fast, (long long)th->rubber_stamp_dwell_ms);
        set_text(r, &f->fix,
                 "Re-check the requests %s approved (the evidence); a sign-off given in seconds, "
                 "unopened, or to everything is not a review. Require a second approver or remove "
                 "%s from the @approvers group of the permits that ask for approval.",
                 nm(r, a->name), nm(r, a->name));
    }
}

static void separation(review *r)
{
    for (size_t i = 0; i < r->n_breaches && !r->rc; i++) {
        breach *b = &r->breaches[i];
        finding *f = new_finding(r, SEV_HIGH, "separation_breach", nm(r, b->approver));
        if (!f)
            return;
        uint64_t ev[2] = {b->request_index, b->approval_index};
        set_evidence(r, f, ev, 2, 2);
        bool as_delegator = b->approver == b->delegator, as_owner = b->approver == b->owner;
        const char *role = as_delegator && as_owner ? "delegator,owner"
                           : as_delegator           ? "delegator"
                                                    : "owner";
        data_set(r, f, "approval", b->approval ? json_string(b->approval) : json_null());
        data_set(r, f, "agent", jname(r, b->agent));
        data_set(r, f, "delegator", jname(r, b->delegator));
        data_set(r, f, "owner", jname(r, b->owner));
        data_set(r, f, "role", json_string(role));
        set_text(r, &f->title, "%s approved a request of %s as its own %s", nm(r, b->approver),
                 nm(r, b->agent),
                 as_delegator && as_owner ? "delegator and owner"
                 : as_delegator           ? "delegator"
                                          : "owner");
        set_text(r, &f->fix,
                 "Have someone else re-check the request (evidence) and add "
                 "@separation(\"delegator,owner\") to the permit that asked for the approval, so "
                 "that the person who delegated the task or owns the agent cannot approve it.");
    }
}

/* A used delegation makes its ancestors used too (their authority was exercised). */
static void propagate_use(review *r)
{
    for (size_t i = 0; i < r->n_delegs; i++) {
        if (!(r->nm.v[r->delegs[i].jti].flags & NAME_USED))
            continue;
        uint32_t p = r->delegs[i].parent;
        for (int k = 0; p && k < MAX_CHAIN && !(r->nm.v[p].flags & NAME_USED); k++) {
            r->nm.v[p].flags |= NAME_USED;
            p = r->nm.v[p].deleg ? r->delegs[r->nm.v[p].deleg - 1].parent : 0;
        }
    }
}

static void delegations(review *r)
{
    propagate_use(r);
    int64_t long_s = r->o->th.long_delegation_s;
    for (size_t i = 0; i < r->n_delegs && !r->rc; i++) {
        deleg *dl = &r->delegs[i];
        if (!dl->in_window)
            continue;
        const name *jti = &r->nm.v[dl->jti];
        bool too_long = dl->exp - dl->iat > long_s;
        bool unused = !(jti->flags & NAME_USED) && dl->exp <= r->o->until_ms / 1000;
        for (int k = 0; k < 2 && !r->rc; k++) {
            if (!(k ? unused : too_long))
                continue;
            finding *f =
                new_finding(r, SEV_LOW, k ? "unused_delegation" : "long_delegation", jti->s);
            if (!f)
                return;
            set_evidence(r, f, &dl->index, 1, 1);
            data_set(r, f, "subject", jname(r, dl->subject));
            data_set(r, f, "delegator", jname(r, dl->root));
            data_set(r, f, "iat", json_integer((json_int_t)dl->iat));
            data_set(r, f, "exp", json_integer((json_int_t)dl->exp));
            data_set(r, f, "lifetime_s", json_integer((json_int_t)(dl->exp - dl->iat)));
            data_set(r, f, "revoked", json_boolean(jti->flags & NAME_REVOKED));
            if (k) {
                set_text(r, &f->title, "delegation %s from %s to %s expired unused", jti->s,
                         nm(r, dl->root), nm(r, dl->subject));
                set_text(r, &f->fix,
                         "Delegate when the task starts and for as long as it runs; ask %s why "
                         "the grant to %s was never used.",
                         nm(r, dl->root), nm(r, dl->subject));
            } else {
                set_text(r, &f->title, "delegation %s from %s to %s lives %lld s (over %lld s)",
                         jti->s, nm(r, dl->root), nm(r, dl->subject),
                         (long long)(dl->exp - dl->iat), (long long)long_s);
                set_text(r, &f->fix,
                         "Issue delegations for at most %lld s (mandate delegate --lifetime "
                         "%lld ...)%s%s.",
                         (long long)long_s, (long long)long_s,
                         jti->flags & NAME_REVOKED ? "; this one is revoked already"
                                                   : "; revoke this one if it is still valid: "
                                                     "mandate revoke ",
                         jti->flags & NAME_REVOKED ? "" : jti->s);
            }
        }
    }
}

static void idle_policies(review *r)
{
    for (size_t i = 0; r->ps && i < r->ps->n && !r->rc; i++) {
        const md_policy *p = r->ps->policies[i];
        md_str pn = md_policy_name(p);
        uint32_t id = names_get(&r->nm, pn.ptr, pn.len, true, &r->rc);
        if (!id || r->nm.v[id].determined)
            continue;
        char *subject = md_arena_strndup(r->a, pn.ptr, pn.len);
        finding *f = subject ? new_finding(r, SEV_LOW, "idle_policy", subject) : NULL;
        if (!f) {
            r->rc = MANDATE_ENOMEM;
            return;
        }
        uint64_t ev = (uint64_t)r->nm.v[id].policy_entry;
        set_evidence(r, f, &ev, r->nm.v[id].policy_entry >= 0, r->nm.v[id].policy_entry >= 0);
        data_set(r, f, "effect", json_string(p->permit ? "permit" : "forbid"));
        data_set(r, f, "conditions", json_integer((json_int_t)p->n_conds));
        set_text(r, &f->title, "policy %s determined no decision in the window", subject);
        set_text(r, &f->fix,
                 "Remove policy %s from the active set if nothing needs it any more, or find out "
                 "why it never matches (a %s that never decides is untested authority).",
                 subject, p->permit ? "permit" : "forbid");
    }
}

static void theatre_one(review *r, json_t *t, const char *subject, const char *path)
{
    if (!json_is_true(json_object_get(t, "flag")))
        return;
    finding *f = new_finding(r, SEV_HIGH, "theatre", subject);
    if (!f)
        return;
    set_evidence(r, f, NULL, 0, 0);
    json_t *ac = json_object_get(t, "adoption_change"), *cc = json_object_get(t, "coverage_change");
    const char *reason = json_string_value(json_object_get(t, "reason"));
    data_set(r, f, "adoption_change", ac ? json_incref(ac) : json_null());
    data_set(r, f, "coverage_change", cc ? json_incref(cc) : json_null());
    data_set(r, f, "reason", json_string(reason ? reason : ""));
    data_set(r, f, "report_path", json_string(path));
    set_text(r, &f->title,
             "%s: AI decisions grew %.1f%% while governance coverage fell %.1f points",
             !strcmp(subject, "*") ? "overall" : subject, 100 * json_number_value(ac),
             -100 * json_number_value(cc));
    set_text(r, &f->fix,
             "Stop widening AI use in %s until coverage is back: name an accountable human for "
             "impactful actions, require verified/decided approvals, record outcome digests and "
             "issue short, narrow delegations (mandate report shows which measure fell).",
             !strcmp(subject, "*") ? "every workflow" : subject);
}

/* The report the theatre findings come from, built on its own thread over a second ledger
 * handle while the review scans (or on this thread afterwards). */
typedef struct report_job {
    mandate_ledger *l;
    md_report_opts o;
    char *json;
    int rc;
    md_diag d;
    pthread_t thread;
    bool started;
} report_job;

static void *report_main(void *arg)
{
    report_job *j = arg;
    j->rc = md_report_build(j->l, &j->o, &j->json, &j->d);
    return NULL;
}

static void theatre(review *r, report_job *job)
{
    if (job->started)
        pthread_join(job->thread, NULL);
    else
        report_main(job);
    job->started = false;
    if (job->rc) {
        r->rc =
            md_diag_set(r->d, job->rc, 0, 0, "the report for the theatre findings: %s", job->d.msg);
        return;
    }
    json_t *rep = json_loads(job->json, 0, NULL);
    if (!rep) {
        r->rc = md_diag_set(r->d, MANDATE_EINTERNAL, 0, 0, "the report is not JSON");
        return;
    }
    theatre_one(r, json_object_get(rep, "theatre"), "*", "theatre");
    json_t *wfs = json_object_get(rep, "workflows");
    for (size_t i = 0; i < json_array_size(wfs) && !r->rc; i++) {
        json_t *w = json_array_get(wfs, i);
        const char *uid = json_string_value(json_object_get(w, "workflow"));
        char path[64];
        snprintf(path, sizeof path, "workflows.%zu.theatre", i);
        if (uid)
            theatre_one(r, json_object_get(w, "theatre"), uid, path);
    }
    json_decref(rep);
}

static int cmp_finding(const void *a, const void *b)
{
    const finding *x = a, *y = b;
    if (x->sev != y->sev)
        return x->sev - y->sev;
    int c = strcmp(x->kind, y->kind);
    if (!c)
        c = strcmp(x->subject, y->subject);
    if (!c && x->n_ev && y->n_ev && x->ev[0] != y->ev[0])
        c = x->ev[0] < y->ev[0] ? -1 : 1;
    if (!c)
        c = strcmp(x->title ? x->title : "", y->title ? y->title : "");
    return c;
}

static int put_str(md_buf *b, const char *key, const char *v)
{
    int rc = md_buf_printf(b, ",\"%s\":", key);
    return rc ? rc : md_buf_json_str(b, v ? v : "", v ? strlen(v) : 0);
}

/* The review JSON, written straight into out (findings are many; no tree of them is built). */
static int to_text(review *r, md_buf *out)
{
    const md_review_thresholds *th = &r->o->th;
    seal_last(r);
    if (r->rc)
        return r->rc;
    if (r->n_f)
        qsort(r->f, r->n_f, sizeof *r->f, cmp_finding);
    size_t sev[3] = {0, 0, 0};
    for (size_t i = 0; i < r->n_f; i++)
        sev[r->f[i].sev]++;
    json_t *share = json_real(th->rubber_stamp_share);
    char *share_text = share ? json_dumps(share, JSON_ENCODE_ANY) : NULL;
    json_decref(share);
    if (!share_text)
        return MANDATE_ENOMEM;
    int rc = md_buf_printf(
        out,
        "{\"version\":1,\"since_ms\":%lld,\"until_ms\":%lld,\"ledger\":{\"size\":%llu,"
        "\"scanned\":%llu},\"thresholds\":{\"dormant_days\":%lld,\"rubber_stamp_dwell_ms\":%lld,"
        "\"rubber_stamp_share\":%s,\"rubber_stamp_min_approvals\":%lld,\"long_delegation_s\":"
        "%lld},\"findings\":[",
        (long long)r->o->since_ms, (long long)r->o->until_ms,
        (unsigned long long)mandate_ledger_size(r->o->ledger), (unsigned long long)r->scanned,
        (long long)th->dormant_days, (long long)th->rubber_stamp_dwell_ms, share_text,
        (long long)th->rubber_stamp_min_approvals, (long long)th->long_delegation_s);
    free(share_text);
    for (size_t i = 0; i < r->n_f && !rc; i++) {
        const finding *f = &r->f[i];
        rc = md_buf_printf(out, "%s{\"kind\":\"%s\",\"severity\":\"%s\"", i ? "," : "", f->kind,
                           sev_names[f->sev]);
        if (!rc)
            rc = put_str(out, "subject", f->subject);
        if (!rc)
            rc = put_str(out, "title", f->title);
        if (!rc)
            rc = md_buf_puts(out, ",\"evidence\":[");
        for (size_t k = 0; k < f->n_ev && !rc; k++)
            rc = md_buf_printf(out, "%s%llu", k ? "," : "", (unsigned long long)f->ev[k]);
        if (!rc)
            rc = md_buf_printf(out, "],\"evidence_count\":%llu", (unsigned long long)f->ev_count);
        if (!rc)
            rc = put_str(out, "fix", f->fix);
        if (!rc)
            rc = md_buf_printf(out, ",\"data\":%s}", f->data_text ? f->data_text : "{}");
    }
    if (!rc)
        rc = md_buf_printf(out,
                           "],\"summary\":{\"high\":%zu,\"medium\":%zu,\"low\":%zu,\"total\":%zu}}",
                           sev[SEV_HIGH], sev[SEV_MEDIUM], sev[SEV_LOW], r->n_f);
    return rc;
}

static void review_release(review *r)
{
    for (size_t i = 0; i < r->n_agents; i++)
        free(r->agents[i].pairs);
    for (size_t i = 0; i < r->n_appr; i++)
        free(r->appr[i].dwell);
    for (size_t i = 0; i < r->n_f; i++)
        json_decref(r->f[i].data);
    free(r->agents);
    free(r->groups);
    free(r->appr);
    free(r->breaches);
    free(r->delegs);
    free(r->f);
    free(r->nm.v);
    free(r->nm.slots);
    map_free(&r->group_of);
    map_free(&r->requests);
    map_free(&r->observed);
    md_snapshot_release(r->snap);
    md_arena_free(r->a);
}

int md_review_build(const md_review_opts *o, char **json_out, md_diag *d)
{
    if (!o || !o->ledger || !o->registry || !json_out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "review: a ledger and a registry are needed");
    *json_out = NULL;
    if (o->since_ms >= o->until_ms)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "review: the window is empty");
    int rc = md_review_thresholds_check(&o->th, d);
    if (rc)
        return rc;
    review r = {.o = o, .d = d};
    if (!(r.a = md_arena_new()))
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    r.nm.a = r.a;
    if ((rc = md_registry_acquire(o->registry, &r.snap, d))) {
        review_release(&r);
        return rc;
    }
    r.ps = o->policies ? o->policies : r.snap->ps;
    r.schema = o->schema ? o->schema : r.snap->schema;
    report_job job = {.l = o->report_ledger ? o->report_ledger : o->ledger,
                      .o = {.since_ms = o->since_ms,
                            .until_ms = o->until_ms,
                            .long_delegation_s = o->th.long_delegation_s}};
    if (!o->no_theatre && o->report_ledger)
        job.started = pthread_create(&job.thread, NULL, report_main, &job) == 0;
    mandate_diag ld = {0};
    rc = mandate_ledger_scan(o->ledger, 0, 0, visit, &r, &ld);
    if (rc && !r.rc)
        rc = md_diag_set(d, rc, 0, 0, "review: cannot read the ledger: %s", ld.message);
    else if (r.rc)
        rc = r.rc;
    if (!rc) {
        orphans(&r);
        dormant(&r);
        if (!r.rc)
            slack(&r);
        envelope(&r);
        rubber_stamps(&r);
        separation(&r);
        delegations(&r);
        idle_policies(&r);
        if (!r.rc && !o->no_theatre)
            theatre(&r, &job);
        rc = r.rc;
    }
    if (job.started)
        pthread_join(job.thread, NULL);
    free(job.json);
    md_buf out;
    md_buf_init(&out, MD_REVIEW_MAX_JSON);
    if (!rc && (rc = to_text(&r, &out)))
        md_diag_set(d, rc, 0, 0, "review: cannot write the JSON (%s)", mandate_strerror(rc));
    if (!rc)
        *json_out = out.data;
    else
        md_buf_release(&out);
    review_release(&r);
    if (rc && !d->code)
        md_diag_set(d, rc, 0, 0, "review: %s", mandate_strerror(rc));
    return rc;
}
