/*
 * registry.c: the registry of humans, agents, services, groups and workflows (see registry_int.h
 * and include/mandate/registry.h): opening over a data directory, immutable snapshots exported to
 * the Cedar engine, changes with their ledger entries, delegations and the token hooks.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cedar/entities.h"
#include "account/account_int.h"
#include "core/json.h"
#include "registry/registry_int.h"
#include "token/token_int.h"

static const char *const kind_names[] = {NULL, "human", "agent", "service", "group", "workflow"};
static const char *const kind_types[] = {NULL, "Human", "Agent", "Service", "Group", "Workflow"};

MD_EXPORT const char *mandate_kind_name(int kind)
{
    return kind >= 1 && kind <= 5 ? kind_names[kind] : NULL;
}

MD_EXPORT int mandate_kind_from_name(const char *name)
{
    for (int k = 1; name && k <= 5; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return 0;
}

const char *md_reg_kind_type(int kind)
{
    return kind >= 1 && kind <= 5 ? kind_types[kind] : NULL;
}

static int kind_of_type(md_str type)
{
    for (int k = 1; k <= 5; k++)
        if (md_str_eq_c(type, kind_types[k]))
            return k;
    return 0;
}

MD_EXPORT const char *mandate_status_name(int kind, int status)
{
    switch (status) {
    case MANDATE_STATUS_ACTIVE: return "active";
    case MANDATE_STATUS_SUSPENDED: return "suspended";
    case MANDATE_STATUS_DEPARTED: return kind == MANDATE_KIND_HUMAN ? "departed" : "retired";
    default: return NULL;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- uids ---- */

int md_reg_canonical(md_arena *a, int kind, const char *id, const char **out, md_diag *d)
{
    if (!id || !*id)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "missing %s id",
                           kind ? kind_names[kind] : "principal");
    size_t n = strlen(id);
    if (n > MD_REG_MAX_ID)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "id '%.40s...' is longer than %d bytes", id,
                           MD_REG_MAX_ID);
    md_euid u;
    md_diag pd = {0};
    if (strstr(id, "::")) {
        if (md_euid_parse(a, id, n, &u, &pd))
            return md_diag_set(d, MANDATE_EINVAL, 0, 0, "'%s' is not a Cedar uid: %s", id, pd.msg);
        if (kind && !md_str_eq_c(u.type, kind_types[kind]))
            return md_diag_set(d, MANDATE_EINVAL, 0, 0, "'%s' is not a %s (expected %s::\"...\")",
                               id, kind_names[kind], kind_types[kind]);
    } else {
        if (!kind)
            return md_diag_set(d, MANDATE_EINVAL, 0, 0, "'%s' is not a Cedar uid", id);
        u.type = md_str_c(kind_types[kind]);
        u.id = (md_str){id, n};
    }
    md_buf b;
    md_buf_init(&b, 4 * MD_REG_MAX_ID + 64);
    int rc = md_euid_print(&b, &u);
    if (!rc && !(*out = md_arena_strndup(a, b.data, b.len)))
        rc = MANDATE_ENOMEM;
    md_buf_release(&b);
    return rc ? md_diag_set(d, rc, 0, 0, "cannot store uid '%s'", id) : 0;
}

/* ---- counter maps ---- */

static uint64_t str_hash(const char *s)
{
    return md_hash_bytes(s, strlen(s), 0x6d616e64);
}

md_reg_count *md_reg_map_get(md_reg_map *m, const char *key, bool create)
{
    if (m->cap) {
        for (size_t i = (size_t)str_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
            if (!m->slots[i].key)
                break;
            if (!strcmp(m->slots[i].key, key))
                return &m->slots[i];
        }
    }
    if (!create)
        return NULL;
    if (m->n >= MD_REG_CACHE_MAX)
        md_reg_map_clear(m);
    if ((m->n + 1) * 10 > m->cap * 7) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        md_reg_count *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].key)
                continue;
            size_t j = (size_t)str_hash(m->slots[i].key) & (cap - 1);
            while (slots[j].key)
                j = (j + 1) & (cap - 1);
            slots[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t i = (size_t)str_hash(key) & (m->cap - 1);
    while (m->slots[i].key)
        i = (i + 1) & (m->cap - 1);
    size_t n = strlen(key);
    if (!(m->slots[i].key = malloc(n + 1)))
        return NULL;
    memcpy(m->slots[i].key, key, n + 1);
    m->slots[i].minute = INT64_MIN;
    m->slots[i].n = m->slots[i].n_day = 0;
    m->n++;
    return &m->slots[i];
}

void md_reg_map_clear(md_reg_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ---- deferred counts ---- */

static void delta_free(md_reg_delta *x)
{
    free(x->jti);
    free(x->agent);
    free(x->action);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool same(const char *a, const char *b)
{
    return a ? b && !strcmp(a, b) : !b;
}

int md_registry_defer(mandate_registry *r, const char *jti, const char *agent, const char *action,
                      int64_t minute, md_diag *d)
{
    /* Merge with a pending delta for the same counter (the hot ones repeat within a group). */
    for (size_t i = r->n_pending; i-- > 0;) {
        md_reg_delta *x = &r->pending[i];
        if (same(x->jti, jti) && same(x->agent, agent) && same(x->action, action) &&
            (jti || x->minute == minute)) {
            x->n++;
            return 0;
        }
    }
    if (r->n_pending == r->cap_pending) {
        size_t cap = r->cap_pending ? 2 * r->cap_pending : 16;
        md_reg_delta *v = realloc(r->pending, cap * sizeof *v);
        if (!v)
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory counting a use");
        r->pending = v;
        r->cap_pending = cap;
    }
    md_reg_delta x = {dup_or_null(jti), dup_or_null(agent), dup_or_null(action), minute, 1};
    if ((jti && !x.jti) || (agent && !x.agent) || (action && !x.action)) {
        delta_free(&x);
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory counting a use");
    }
    r->pending[r->n_pending++] = x;
    atomic_store(&r->pending_hint, 1);
    return 0;
}

void md_registry_prune_later(mandate_registry *r, int64_t before)
{
    r->prune_before = before;
    atomic_store(&r->pending_hint, 1);
}

int md_registry_flush_uses(mandate_registry *r, bool durable, md_diag *d)
{
    if (!r->n_pending && !r->prune_before)
        return 0;
    md_rstore *st = r->st;
    uint64_t seq = 0;
    /* Not durable: the ledger's commit right after covers it (same WAL), unless the store is
     * another database. */
    int rc = st->ops->begin(st, durable || r->separate_store, d);
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < r->n_pending; i++) {
        md_reg_delta *x = &r->pending[i];
        rc = x->jti ? st->ops->uses_add(st, x->jti, x->n, d)
                    : st->ops->usage_add(st, x->agent, x->action, x->minute, x->n, d);
    }
    if (!rc && r->prune_before)
        rc = st->ops->usage_prune(st, r->prune_before, d);
    if (!rc)
        rc = st->ops->meta_get(st, "usage_seq", &seq, d);
    if (!rc)
        rc = st->ops->meta_put(st, "usage_seq", seq + 1, d);
    if (!rc)
        rc = st->ops->commit(st, d);
    if (rc) {
        st->ops->rollback(st); /* the deltas stay pending */
        return rc;
    }
    for (size_t i = 0; i < r->n_pending; i++)
        delta_free(&r->pending[i]);
    r->n_pending = 0;
    r->prune_before = 0;
    atomic_store(&r->pending_hint, 0);
    r->usage_seq = seq + 1;
    md_registry_bump(r);
    return 0;
}

/* The ledger's before-commit hook. */
static int flush_before_commit(void *arg, mandate_diag *diag)
{
    mandate_registry *r = arg;
    md_diag d = {0};
    /* Set before the entries of this group were submitted (under mu, then the ledger's lock). */
    if (!atomic_load(&r->pending_hint))
        return 0;
    pthread_mutex_lock(&r->mu);
    int rc = md_registry_flush_uses(r, false, &d);
    pthread_mutex_unlock(&r->mu);
    if (rc && diag) {
        diag->code = rc;
        snprintf(diag->message, sizeof diag->message, "writing the use counts: %.400s", d.msg);
    }
    return rc;
}

md_reg_count *md_registry_uses_slot(mandate_registry *r, const char *jti, int *rc, md_diag *d)
{
    md_reg_count *c = md_reg_map_get(&r->uses, jti, false);
    if (c)
        return c;
    uint64_t v = 0;
    if ((*rc = r->st->ops->uses_get(r->st, jti, &v, d)))
        return NULL;
    for (size_t i = 0; i < r->n_pending; i++) /* counted, not yet in the store */
        if (r->pending[i].jti && !strcmp(r->pending[i].jti, jti))
            v += r->pending[i].n;
    if (!(c = md_reg_map_get(&r->uses, jti, true))) {
        *rc = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory counting uses");
        return NULL;
    }
    c->n = v;
    return c;
}

int md_registry_uses(mandate_registry *r, const char *jti, uint64_t *n, md_diag *d)
{
    int rc = 0;
    md_reg_count *c = md_registry_uses_slot(r, jti, &rc, d);
    if (c)
        *n = c->n;
    return rc;
}

int md_registry_usage(mandate_registry *r, const char *agent, const char *action, int64_t m,
                      md_reg_count **out, md_diag *d)
{
    char key[2 * (4 * MD_REG_MAX_ID + 64) + 2];
    size_t la = strlen(agent), lb = strlen(action);
    if (la + lb + 2 > sizeof key)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "usage key too long");
    memcpy(key, agent, la);
    key[la] = '\x1f';
    memcpy(key + la + 1, action, lb + 1);
    md_reg_count *c = md_reg_map_get(&r->usage, key, true);
    if (!c)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory counting usage");
    if (c->minute != m) {
        uint64_t h = 0, day = 0;
        int rc = r->st->ops->usage_sum(r->st, agent, action, m - 59, &h, d);
        if (!rc)
            rc = r->st->ops->usage_sum(r->st, agent, action, m - 1439, &day, d);
        if (rc)
            return rc;
        for (size_t i = 0; i < r->n_pending; i++) { /* counted, not yet in the store */
            const md_reg_delta *x = &r->pending[i];
            if (x->jti || strcmp(x->agent, agent) || strcmp(x->action, action))
                continue;
            h += x->minute >= m - 59 ? x->n : 0;
            day += x->minute >= m - 1439 ? x->n : 0;
        }
        c->minute = m;
        c->n = h;
        c->n_day = day;
    }
    *out = c;
    return 0;
}

/* ---- snapshots ---- */

void md_snapshot_release(md_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        md_arena *a = s->a;
        md_arena_free(a);
    }
}

static int cmp_principal(const void *k, const void *e)
{
    return strcmp((const char *)k, (*(md_reg_principal *const *)e)->uid);
}

const md_reg_principal *md_snapshot_find(const md_snapshot *s, const char *uid)
{
    if (!s || !uid || !s->n)
        return NULL;
    if (s->index_cap) {
        size_t mask = s->index_cap - 1;
        for (size_t i = (size_t)str_hash(uid) & mask;; i = (i + 1) & mask) {
            uint32_t k = s->index[i];
            if (!k)
                return NULL;
            if (!strcmp(s->p[k - 1]->uid, uid))
                return s->p[k - 1];
        }
    }
    md_reg_principal **p = bsearch(uid, s->p, s->n, sizeof *s->p, cmp_principal);
    return p ? *p : NULL;
}

static int cmp_str(const void *k, const void *e)
{
    return strcmp((const char *)k, *(const char *const *)e);
}

bool md_snapshot_revoked(const md_snapshot *s, const char *jti)
{
    return s->n_revoked && bsearch(jti, s->revoked, s->n_revoked, sizeof *s->revoked, cmp_str);
}

/* Builds a snapshot from the store (mu held). */
typedef struct loader {
    md_snapshot *s;
    size_t cap;
    md_diag *d;
    int rc;
    md_arena *tmp; /* one stored document's parse, reset per principal */
} loader;

/* The string member key of a stored document, copied into a; NULL (and *rc 0) when absent or
 * null. A member of another type, or a string holding a NUL byte, is a corrupt document. */
static const char *doc_str(md_arena *a, const md_jv *doc, const char *key, int *rc)
{
    const md_jv *v = md_jv_get(doc, key);
    if (!v || v->kind == MD_JV_NULL || *rc)
        return NULL;
    if (v->kind != MD_JV_STRING || memchr(v->u.s.ptr, 0, v->u.s.len)) {
        *rc = MANDATE_ECORRUPT;
        return NULL;
    }
    const char *out = md_arena_strndup(a, v->u.s.ptr, v->u.s.len);
    if (!out)
        *rc = MANDATE_ENOMEM;
    return out;
}

/* The array of strings member key (absent: none). */
static int doc_strs(md_arena *a, const md_jv *doc, const char *key, const char ***out, size_t *n)
{
    const md_jv *arr = md_jv_get(doc, key);
    *n = 0;
    *out = NULL;
    if (!arr || arr->kind == MD_JV_NULL)
        return 0;
    if (arr->kind != MD_JV_ARRAY)
        return MANDATE_ECORRUPT;
    if (arr->n == 0)
        return 0;
    const char **v = md_arena_array(a, arr->n, sizeof *v);
    if (!v)
        return MANDATE_ENOMEM;
    for (size_t i = 0; i < arr->n; i++) {
        const md_jv *it = &arr->u.c.items[i];
        if (it->kind != MD_JV_STRING || memchr(it->u.s.ptr, 0, it->u.s.len))
            return MANDATE_ECORRUPT;
        if (!(v[i] = md_arena_strndup(a, it->u.s.ptr, it->u.s.len)))
            return MANDATE_ENOMEM;
    }
    *out = v;
    *n = arr->n;
    return 0;
}

static int load_principal(void *ctx, const md_rstore_principal *row)
{
    loader *l = ctx;
    md_snapshot *s = l->s;
    md_arena *a = s->a;
    if (s->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        md_reg_principal **p = md_arena_array(a, cap, sizeof *p);
        if (!p)
            return md_diag_set(l->d, MANDATE_ENOMEM, 0, 0, "out of memory loading the registry");
        if (s->n)
            memcpy(p, s->p, s->n * sizeof *p);
        s->p = p;
        l->cap = cap;
    }
    md_reg_principal *p = md_arena_alloc(a, sizeof *p);
    md_arena_reset(l->tmp);
    md_jv *doc = NULL;
    md_diag jd = {0};
    int prc = md_json_parse_arena(l->tmp, row->doc, row->doc_len, 4, &doc, &jd);
    if (prc == MANDATE_ENOMEM)
        return md_diag_set(l->d, prc, 0, 0, "out of memory loading the registry");
    if (prc || doc->kind != MD_JV_OBJECT)
        return md_diag_set(l->d, MANDATE_ECORRUPT, 0, 0, "registry: bad stored document for '%s'",
                           row->uid);
    int rc = MANDATE_ENOMEM;
    if (!p || !(p->uid = md_arena_strndup(a, row->uid, strlen(row->uid))) ||
        !(p->doc = md_arena_strndup(a, row->doc, row->doc_len)))
        goto out;
    p->kind = row->kind;
    p->status = row->status;
    if (md_euid_parse(a, p->uid, strlen(p->uid), &p->euid, NULL) ||
        kind_of_type(p->euid.type) != p->kind) {
        rc = md_diag_set(l->d, MANDATE_ECORRUPT, 0, 0, "registry: bad stored uid '%s'", row->uid);
        goto out;
    }
    rc = 0;
    p->name = doc_str(a, doc, "name", &rc);
    p->owner = doc_str(a, doc, "owner", &rc);
    p->workflow = doc_str(a, doc, "workflow", &rc);
    p->model = doc_str(a, doc, "model", &rc);
    p->provider = doc_str(a, doc, "provider", &rc);
    if (rc)
        goto out;
    if (p->owner && md_euid_parse(a, p->owner, strlen(p->owner), &p->owner_euid, NULL)) {
        rc = md_diag_set(l->d, MANDATE_ECORRUPT, 0, 0, "registry: bad owner of '%s'", row->uid);
        goto out;
    }
    if ((rc = doc_strs(a, doc, "member_of", &p->member_of, &p->n_member_of)) ||
        (rc = doc_strs(a, doc, "outputs", &p->outputs, &p->n_outputs)) ||
        (rc = doc_strs(a, doc, "impacts", &p->impacts, &p->n_impacts)) ||
        (rc = doc_strs(a, doc, "actions", &p->actions, &p->n_actions)) ||
        (rc = doc_strs(a, doc, "resource_types", &p->resource_types, &p->n_resource_types)))
        goto out;
    rc = MANDATE_ENOMEM;
    md_value *items = md_arena_array(a, p->n_impacts + 1, sizeof *items);
    if (!items)
        goto out;
    for (size_t i = 0; i < p->n_impacts; i++)
        items[i] = (md_value){.kind = MD_V_STRING, .u.s = md_str_c(p->impacts[i])};
    const md_set *set;
    if ((rc = md_set_new(a, items, p->n_impacts, &set)))
        goto out;
    p->impact_set = (md_value){.kind = MD_V_SET, .u.set = set};
    s->p[s->n++] = p;
    rc = 0;
out:
    if (rc && !l->d->code)
        md_diag_set(l->d, rc, 0, 0, "registry: cannot load '%s'", row->uid);
    return rc;
}

static int load_revoked(void *ctx, const char *jti)
{
    loader *l = ctx;
    md_snapshot *s = l->s;
    if (s->n_revoked == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        const char **v = md_arena_array(s->a, cap, sizeof *v);
        if (!v)
            return MANDATE_ENOMEM;
        if (s->n_revoked)
            memcpy(v, s->revoked, s->n_revoked * sizeof *v);
        s->revoked = v;
        l->cap = cap;
    }
    if (!(s->revoked[s->n_revoked] = md_arena_strndup(s->a, jti, strlen(jti))))
        return MANDATE_ENOMEM;
    s->n_revoked++;
    return 0;
}

/* ---- registry principals as Cedar entities ---- */

static md_value v_str(const char *s)
{
    return (md_value){.kind = MD_V_STRING, .u.s = md_str_c(s)};
}

static int v_uid(md_arena *a, const char *uid, md_value *out)
{
    out->kind = MD_V_ENTITY;
    return md_euid_parse(a, uid, strlen(uid), &out->u.uid, NULL) ? MANDATE_ECORRUPT : 0;
}

static int v_strset(md_arena *a, const char **v, size_t n, md_value *out)
{
    md_value *items = md_arena_array(a, n + 1, sizeof *items);
    if (!items)
        return MANDATE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        items[i] = v_str(v[i]);
    const md_set *set;
    int rc = md_set_new(a, items, n, &set);
    *out = (md_value){.kind = MD_V_SET, .u.set = set};
    return rc;
}

/* The entity of a principal: attributes status, name, owner, workflow, model, provider, outputs,
 * impacts; parents: its groups, and an agent's workflow. */
static int principal_entity(md_arena *a, const md_reg_principal *p, md_entity *e)
{
    md_field f[10];
    size_t nf = 0;
    int rc = 0;
    f[nf++] = (md_field){MD_STR_LIT("status"), v_str(mandate_status_name(p->kind, p->status))};
    if (p->name)
        f[nf++] = (md_field){MD_STR_LIT("name"), v_str(p->name)};
    if (p->owner) {
        f[nf] = (md_field){.key = MD_STR_LIT("owner")};
        if ((rc = v_uid(a, p->owner, &f[nf++].val)))
            return rc;
    }
    if (p->workflow) {
        f[nf] = (md_field){.key = MD_STR_LIT("workflow")};
        if ((rc = v_uid(a, p->workflow, &f[nf++].val)))
            return rc;
    }
    if (p->model)
        f[nf++] = (md_field){MD_STR_LIT("model"), v_str(p->model)};
    if (p->provider)
        f[nf++] = (md_field){MD_STR_LIT("provider"), v_str(p->provider)};
    if (p->kind == MANDATE_KIND_WORKFLOW) {
        f[nf] = (md_field){.key = MD_STR_LIT("outputs")};
        if ((rc = v_strset(a, p->outputs, p->n_outputs, &f[nf++].val)))
            return rc;
        f[nf++] = (md_field){MD_STR_LIT("impacts"), p->impact_set};
    }
    md_str dup;
    if ((rc = md_record_new(a, f, nf, &e->attrs, &dup)))
        return rc;
    size_t np = p->n_member_of + (p->workflow && p->kind == MANDATE_KIND_AGENT);
    md_euid *parents = md_arena_array(a, np + 1, sizeof *parents);
    if (!parents)
        return MANDATE_ENOMEM;
    for (size_t i = 0; i < p->n_member_of; i++)
        if (md_euid_parse(a, p->member_of[i], strlen(p->member_of[i]), &parents[i], NULL))
            return MANDATE_ECORRUPT;
    if (np > p->n_member_of &&
        md_euid_parse(a, p->workflow, strlen(p->workflow), &parents[np - 1], NULL))
        return MANDATE_ECORRUPT;
    e->uid = p->euid;
    e->parents = parents;
    e->n_parents = np;
    e->tags = NULL;
    return 0;
}

/* A registry entity merged with the caller's entity of the same uid: the caller's attributes
 * the registry does not set, the registry's, and both lists of parents. */
static int merge_entity(md_arena *a, md_entity *reg, const md_entity *user)
{
    size_t n = reg->attrs->n + user->attrs->n;
    md_field *f = md_arena_array(a, n + 1, sizeof *f);
    md_euid *parents = md_arena_array(a, reg->n_parents + user->n_parents + 1, sizeof *parents);
    if (!f || !parents)
        return MANDATE_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < reg->attrs->n; i++)
        f[k++] = md_record_at(reg->attrs, i);
    for (size_t i = 0; i < user->attrs->n; i++)
        if (!md_record_get(reg->attrs, user->attrs->keys[i], NULL))
            f[k++] = md_record_at(user->attrs, i);
    md_str dup;
    int rc = md_record_new(a, f, k, &reg->attrs, &dup);
    if (rc)
        return rc;
    memcpy(parents, reg->parents, reg->n_parents * sizeof *parents);
    size_t np = reg->n_parents;
    for (size_t i = 0; i < user->n_parents; i++) {
        bool seen = false;
        for (size_t j = 0; j < np && !seen; j++)
            seen = md_euid_eq(&parents[j], &user->parents[i]);
        if (!seen)
            parents[np++] = user->parents[i];
    }
    reg->parents = parents;
    reg->n_parents = np;
    reg->tags = user->tags;
    return 0;
}

static int build_entities(mandate_registry *r, md_snapshot *s, md_diag *d)
{
    md_arena *a = s->a;
    md_entity *reg = md_arena_array(a, s->n + 1, sizeof *reg);
    bool *merged = md_arena_array(a, s->n + 1, sizeof *merged);
    if (!reg || !merged)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory building entities");
    int rc;
    for (size_t i = 0; i < s->n; i++)
        if ((rc = principal_entity(a, s->p[i], &reg[i])))
            return md_diag_set(d, rc, 0, 0, "registry: cannot export '%s' as an entity",
                               s->p[i]->uid);
    md_entities *user = NULL;
    if (r->entities) {
        if ((rc = md_entities_from_text(a, r->entities, r->entities_len, s->schema, &user, d)))
            return rc;
    }
    if ((rc = md_entities_new(a, &s->es)))
        return md_diag_set(d, rc, 0, 0, "out of memory building entities");
    md_buf b;
    md_buf_init(&b, 1u << 20);
    for (size_t i = 0; user && i < md_entities_count(user) && !rc; i++) {
        const md_entity *ue = md_entities_at(user, i);
        b.len = 0;
        const md_reg_principal *p = NULL;
        if (kind_of_type(ue->uid.type) && !(rc = md_euid_print(&b, &ue->uid)))
            p = md_snapshot_find(s, b.data);
        if (rc)
            break;
        if (p) {
            size_t at = (size_t)((md_reg_principal **)bsearch(p->uid, s->p, s->n, sizeof *s->p,
                                                              cmp_principal) -
                                 s->p);
            merged[at] = true;
            rc = merge_entity(a, &reg[at], ue);
        } else {
            rc = md_entities_add(s->es, ue);
        }
    }
    md_buf_release(&b);
    for (size_t i = 0; i < s->n && !rc; i++)
        rc = md_entities_add(s->es, &reg[i]);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "cannot merge the registry's entities with the given ones");
    return md_entities_seal(s->es, d);
}

/* The uid hash index of a snapshot's principals (at most half full), so that a decision's
 * lookups cost a hash and one compare instead of a binary search of string compares. */
static int build_index(md_snapshot *s, md_diag *d)
{
    s->index = NULL;
    s->index_cap = 0;
    if (!s->n || s->n >= UINT32_MAX / 4)
        return 0; /* empty or huge: bsearch */
    size_t cap = 16;
    while (cap < 2 * s->n)
        cap *= 2;
    uint32_t *ix = md_arena_array(s->a, cap, sizeof *ix);
    if (!ix)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory indexing the registry");
    memset(ix, 0, cap * sizeof *ix);
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (size_t)str_hash(s->p[k]->uid) & (cap - 1);
        while (ix[i])
            i = (i + 1) & (cap - 1);
        ix[i] = (uint32_t)(k + 1);
    }
    s->index = ix;
    s->index_cap = cap;
    return 0;
}

/* Resolves every principal's owner and workflow once per snapshot (after build_index). */
static void link_principals(md_snapshot *s)
{
    for (size_t k = 0; k < s->n; k++) {
        md_reg_principal *p = s->p[k];
        p->owner_p = md_snapshot_find(s, p->owner);
        p->workflow_p = md_snapshot_find(s, p->workflow);
    }
}

/* Builds the current snapshot from the store and the caller's texts (mu held). */
static int build_snapshot(mandate_registry *r, md_snapshot **out, md_diag *d)
{
    md_arena *a = md_arena_new();
    md_snapshot *s = a ? md_arena_alloc(a, sizeof *s) : NULL;
    if (!s) {
        md_arena_free(a);
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory building a registry snapshot");
    }
    s->a = a;
    atomic_init(&s->refs, 1);
    uint64_t frozen = 0;
    loader l = {.s = s, .d = d, .tmp = md_arena_new()};
    int rc = l.tmp ? r->st->ops->meta_get(r->st, "version", &s->version, d)
                   : md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory building a snapshot");
    if (!rc)
        rc = r->st->ops->meta_get(r->st, "frozen", &frozen, d);
    if (!rc)
        rc = r->st->ops->principal_each(r->st, load_principal, &l, d);
    md_arena_free(l.tmp);
    l.cap = 0;
    if (!rc)
        rc = r->st->ops->revoked_each(r->st, load_revoked, &l, d);
    s->frozen = frozen != 0;
    if (!rc && r->schema)
        rc = md_schema_parse(a, r->schema, r->schema_len, &s->schema, d);
    if (!rc)
        rc =
            md_policyset_parse(a, r->policies ? r->policies : "", r->policies_len, NULL, &s->ps, d);
    if (!rc)
        rc = build_entities(r, s, d);
    if (!rc && !(rc = build_index(s, d)))
        link_principals(s);
    if (rc) {
        if (!d->code)
            md_diag_set(d, rc, 0, 0, "cannot build the registry snapshot");
        md_arena_free(a);
        return rc;
    }
    *out = s;
    return 0;
}

void md_registry_bump(mandate_registry *r)
{
    atomic_fetch_add(r->gen, 1);
}

int md_registry_writable(const mandate_registry *r, md_diag *d)
{
    return r->read_only ? md_diag_set(d, MANDATE_EDENIED, 0, 0,
                                      "the registry was opened read-only: changes are refused")
                        : 0;
}

/* Maps DIR/registry.gen, making it on first use. */
static int map_gen(mandate_registry *r, const char *dir, md_diag *d)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/registry.gen", dir) >= sizeof path)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "data directory path too long");
    if (r->read_only) {
        /* Reads the counter when the file exists; a private zero page otherwise (a read-only
         * handle then checks the store's data version on every snapshot acquire). */
        int fd = open(path, O_RDONLY);
        struct stat sb;
        bool shared = fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size >= 4096;
        void *m = shared ? mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0)
                         : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        r->gen_private = !shared;
        if (fd >= 0)
            close(fd);
        if (m == MAP_FAILED)
            return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot map '%s': %s", path, strerror(errno));
        r->gen = m;
        return 0;
    }
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || (sb.st_size < 4096 && ftruncate(fd, 4096) != 0)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot open '%s': %s", path, strerror(e));
    }
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot map '%s': %s", path, strerror(errno));
    r->gen = m;
    return 0;
}

/* Rebuilds and publishes (mu held). */
static int republish(mandate_registry *r, md_diag *d)
{
    md_snapshot *s;
    int rc = build_snapshot(r, &s, d);
    if (rc)
        return rc;
    md_snapshot *old = r->cur;
    r->cur = s;
    r->stale = false;
    r->rebuilds++;
    md_snapshot_release(old);
    return 0;
}

/* After a change to the principals committed by this handle (mu held): the next acquire
 * publishes it, before any decision reads the registry. */
static void mark_stale(mandate_registry *r)
{
    r->stale = true;
}

/* Picks up changes committed by this handle (stale) and by other connections (mu held). A
 * failed rebuild leaves the snapshot stale, so the next acquire tries again rather than going
 * on with the old one. */
static int refresh(mandate_registry *r, md_diag *d)
{
    uint64_t g = atomic_load(r->gen);
    if (r->cur && g == r->seen_gen && !r->stale && !r->gen_private)
        return 0;
    r->seen_gen = g;
    bool changed = false;
    uint64_t version = 0, seq = 0;
    int rc = r->st->ops->changed(r->st, &changed, d);
    if (!rc && changed && !(rc = r->st->ops->meta_get(r->st, "version", &version, d)) &&
        !(rc = r->st->ops->meta_get(r->st, "usage_seq", &seq, d))) {
        /* Clearing the caches loses nothing: a counter read from the store gets the pending
         * deltas added (md_registry_uses_slot, md_registry_usage). */
        if (seq != r->usage_seq) {
            md_reg_map_clear(&r->uses);
            md_reg_map_clear(&r->usage);
            r->usage_seq = seq;
        }
        if (!r->cur || version != r->cur->version) {
            md_reg_map_clear(&r->uses);
            r->stale = true;
        }
    }
    if (rc) {
        /* The change the counter announced may be unread now (changed() reports a change once):
         * the next read rebuilds everything from the store instead of deciding on cur. */
        md_reg_map_clear(&r->uses);
        md_reg_map_clear(&r->usage);
        r->stale = true;
        return rc;
    }
    return r->stale || !r->cur ? republish(r, d) : 0;
}

int md_registry_acquire(mandate_registry *r, md_snapshot **out, md_diag *d)
{
    pthread_mutex_lock(&r->mu);
    int rc = refresh(r, d);
    md_snapshot *s = r->cur;
    if (!rc && s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&r->mu);
    if (!rc && !s)
        rc = md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "the registry has no snapshot");
    *out = rc ? NULL : s;
    return rc;
}

MD_EXPORT uint64_t mandate_registry_version(mandate_registry *r)
{
    uint64_t v = 0;
    return mandate_registry_current_version(r, &v) ? v : 0;
}

MD_EXPORT bool mandate_registry_current_version(mandate_registry *r, uint64_t *version)
{
    md_snapshot *s;
    md_diag d = {0};
    if (!r || !version || md_registry_acquire(r, &s, &d))
        return false;
    *version = s->version;
    md_snapshot_release(s);
    return true;
}

MD_EXPORT mandate_ledger *mandate_registry_ledger(mandate_registry *r)
{
    return r ? r->ledger : NULL;
}

MD_EXPORT mandate_account *mandate_registry_account(mandate_registry *r)
{
    return r ? r->account : NULL;
}

MD_EXPORT int mandate_registry_approve(mandate_registry *r, const mandate_approval_input *in,
                                       uint64_t *index, mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || !in)
        return md_account_finish(
            diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "approve: missing argument"));
    md_snapshot *s = NULL;
    int rc = md_registry_writable(r, &d);
    if (!rc)
        rc = md_registry_acquire(r, &s, &d);
    if (!rc)
        rc = md_approval_decide(r->account, s->es, in, index, &d);
    md_snapshot_release(s);
    return md_account_finish(diag, &d, rc);
}

MD_EXPORT bool mandate_registry_frozen(mandate_registry *r)
{
    md_snapshot *s;
    md_diag d = {0};
    if (!r || md_registry_acquire(r, &s, &d))
        return true; /* fail closed */
    bool f = s->frozen;
    md_snapshot_release(s);
    return f;
}

/* ---- token hooks ---- */

static _Thread_local md_snapshot *tl_snap;

void md_registry_set_thread_snapshot(md_snapshot *s)
{
    tl_snap = s;
}

static int hook_revoked(void *ctx, const char *jti, bool *revoked)
{
    if (!tl_snap)
        return MANDATE_EINTERNAL;
    *revoked = md_snapshot_revoked(tl_snap, jti);
    return 0;
}

static int hook_uses(void *ctx, const char *jti, uint64_t *uses)
{
    mandate_registry *r = ctx;
    pthread_mutex_lock(&r->mu);
    int rc = md_registry_uses(r, jti, uses, NULL);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static const md_reg_principal *find_any(const md_snapshot *s, const char *uid)
{
    const md_reg_principal *p = md_snapshot_find(s, uid);
    if (p || !uid)
        return p;
    /* Not in canonical spelling: canonicalise and retry. */
    md_arena *a = md_arena_new();
    const char *c = NULL;
    if (a && !md_reg_canonical(a, 0, uid, &c, NULL))
        p = md_snapshot_find(s, c);
    md_arena_free(a);
    return p;
}

static int hook_status(void *ctx, const char *uid, mandate_principal_status *st)
{
    if (!tl_snap)
        return MANDATE_EINTERNAL;
    const md_reg_principal *p = find_any(tl_snap, uid);
    if (!p || (p->kind != MANDATE_KIND_HUMAN && p->kind != MANDATE_KIND_AGENT &&
               p->kind != MANDATE_KIND_SERVICE)) {
        *st = MANDATE_PRINCIPAL_UNKNOWN;
        return 0;
    }
    if (p->status != MANDATE_STATUS_ACTIVE) {
        *st = p->status == MANDATE_STATUS_SUSPENDED ? MANDATE_PRINCIPAL_SUSPENDED
                                                    : MANDATE_PRINCIPAL_DEPARTED;
        return 0;
    }
    *st = MANDATE_PRINCIPAL_ACTIVE;
    if (p->kind == MANDATE_KIND_AGENT || (p->kind == MANDATE_KIND_SERVICE && p->owner)) {
        const md_reg_principal *o = p->owner_p;
        if (!o || o->kind != MANDATE_KIND_HUMAN || o->status != MANDATE_STATUS_ACTIVE)
            *st = MANDATE_PRINCIPAL_OWNER_INACTIVE;
    }
    return 0;
}

/* ---- open / close ---- */

static int path_in(char *buf, size_t n, const char *dir, const char *name)
{
    return (size_t)snprintf(buf, n, "%s/%s", dir, name) >= n ? MANDATE_ETOOBIG : 0;
}

/* Loads DIR/delegation.key ("<kid> <hex seed>\n"), making it (mode 0600) on first use. */
static int load_delegation_key(mandate_registry *r, const char *dir, md_diag *d)
{
    char path[4096];
    if (path_in(path, sizeof path, dir, "delegation.key"))
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "data directory path too long");
    unsigned char seed[32];
    char kid[64], hex[65], line[160];
    int rc = 0;
    FILE *f = fopen(path, "r");
    if (!f && errno == ENOENT && r->read_only)
        return 0; /* read-only: no key is made, nothing is signed */
    if (!f && errno == ENOENT) {
        unsigned char rnd[6];
        randombytes_buf(seed, sizeof seed);
        randombytes_buf(rnd, sizeof rnd);
        char rh[13];
        sodium_bin2hex(rh, sizeof rh, rnd, sizeof rnd);
        snprintf(kid, sizeof kid, "delegation-%s", rh);
        sodium_bin2hex(hex, sizeof hex, seed, sizeof seed);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot create delegation key '%s': %s", path,
                             strerror(errno));
            goto out;
        }
        int n = snprintf(line, sizeof line, "%s %s\n", kid, hex);
        bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
        close(fd);
        sodium_memzero(line, sizeof line);
        if (!ok) {
            rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot write delegation key '%s'", path);
            goto out;
        }
    } else if (!f) {
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot open delegation key '%s': %s", path,
                         strerror(errno));
        goto out;
    } else {
        bool ok = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        char *sp = ok ? strchr(line, ' ') : NULL;
        size_t bin_len = 0;
        if (!sp || (size_t)(sp - line) >= sizeof kid ||
            sodium_hex2bin(seed, sizeof seed, sp + 1, strcspn(sp + 1, "\n"), NULL, &bin_len,
                           NULL) != 0 ||
            bin_len != 32) {
            sodium_memzero(line, sizeof line);
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "delegation key '%s' is malformed", path);
            goto out;
        }
        memcpy(kid, line, (size_t)(sp - line));
        kid[sp - line] = 0;
        sodium_memzero(line, sizeof line);
    }
    if ((rc = mandate_keyring_add_seed(r->kr, kid, seed)) ||
        (rc = mandate_keyring_set_signer(r->kr, kid)))
        md_diag_set(d, rc, 0, 0, "cannot load delegation key '%s'", path);
out:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

static void to_public(mandate_diag *out, const md_diag *d, int rc)
{
    if (!out)
        return;
    out->code = rc;
    out->line = d->line;
    out->column = d->col;
    snprintf(out->message, sizeof out->message, "%s",
             d->msg[0] ? d->msg : (rc ? mandate_strerror(rc) : ""));
}

static int finish(mandate_diag *out, md_diag *d, int rc)
{
    if (rc && !d->code)
        md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
    to_public(out, d, rc);
    return rc;
}

MD_EXPORT int mandate_registry_open(mandate_registry **out, const mandate_registry_opts *o,
                                    mandate_diag *diag)
{
    md_diag d = {0};
    if (!out || !o || !o->data_dir || !*o->data_dir)
        return finish(diag, &d,
                      md_diag_set(&d, MANDATE_EINVAL, 0, 0, "registry: no data directory given"));
    *out = NULL;
    if (sodium_init() < 0)
        return finish(diag, &d, md_diag_set(&d, MANDATE_ECRYPTO, 0, 0, "libsodium init failed"));
    mandate_registry *r = calloc(1, sizeof *r);
    if (!r)
        return finish(diag, &d, MANDATE_ENOMEM);
    pthread_mutex_init(&r->mu, NULL);
    char db[4096], key[4096];
    int rc = 0;
    if (path_in(db, sizeof db, o->data_dir, "mandate.db") ||
        path_in(key, sizeof key, o->data_dir, "ledger.key")) {
        rc = md_diag_set(&d, MANDATE_ETOOBIG, 0, 0, "data directory path too long");
        goto out;
    }
    struct stat sb;
    if (stat(db, &sb) != 0) {
        rc = md_diag_set(&d, MANDATE_ENOTFOUND, 0, 0,
                         "no database in '%s' (make it with 'mandate init --data %s')", o->data_dir,
                         o->data_dir);
        goto out;
    }
    r->read_only = o->read_only;
    /* Read-only: no signing key, so no writer lock; no tree cache (nothing is proved here). */
    mandate_ledger_opts lo = {.db_path = db,
                              .key_path = o->read_only ? NULL : key,
                              .cache_level = o->read_only ? 64 : 0,
                              .streaming = o->read_only};
    mandate_diag ld;
    if ((rc = mandate_ledger_open(&r->ledger, &lo, &ld))) {
        md_diag_set(&d, rc, 0, 0, "cannot open ledger in '%s': %s", o->data_dir, ld.message);
        goto out;
    }
    mandate_account_opts ao = {
        .data_dir = o->data_dir, .ledger = r->ledger, .approval_ttl_ms = o->approval_ttl_ms};
    if ((rc = mandate_account_open(&r->account, &ao, &ld))) {
        md_diag_set(&d, rc, 0, 0, "cannot open the accountability store in '%s': %s", o->data_dir,
                    ld.message);
        goto out;
    }
    r->separate_store = o->store_uri && strcmp(o->store_uri, db) != 0;
    if ((rc = md_rstore_open(&r->st, o->store_uri ? o->store_uri : db, &d)) ||
        (rc = map_gen(r, o->data_dir, &d)))
        goto out;
    if ((rc = mandate_keyring_new(&r->kr)) || (rc = load_delegation_key(r, o->data_dir, &d)))
        goto out;
    mandate_token_service_opts to = {
        .keyring = r->kr,
        .issuer = o->issuer ? o->issuer : "mandate.local",
        .audience = o->audience ? o->audience : "mandate",
        .max_lifetime = o->max_lifetime,
        .hooks = {r, hook_revoked, hook_uses, hook_status},
    };
    if ((rc = mandate_token_service_open(&r->ts, &to))) {
        md_diag_set(&d, rc, 0, 0, "cannot open the delegation token service");
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    rc = refresh(r, &d);
    if (!rc)
        rc = r->st->ops->meta_get(r->st, "usage_seq", &r->usage_seq, &d);
    if (!rc && !r->cur)
        rc = republish(r, &d);
    pthread_mutex_unlock(&r->mu);
    if (!rc && !r->read_only)
        mandate_ledger_set_before_commit(r->ledger, flush_before_commit, r);
out:
    if (rc) {
        mandate_registry_close(r);
        return finish(diag, &d, rc);
    }
    *out = r;
    return finish(diag, &d, 0);
}

MD_EXPORT void mandate_registry_close(mandate_registry *r)
{
    if (!r)
        return;
    /* The ledger first: draining its queue runs the hook, which writes the counts of the entries
     * it commits while the store is still open. What is left (counts of decisions that made no
     * entry) is written durably after it. */
    mandate_ledger_close(r->ledger);
    r->ledger = NULL;
    if (r->st && !r->read_only) {
        md_diag d = {0};
        pthread_mutex_lock(&r->mu);
        md_registry_flush_uses(r, true, &d);
        pthread_mutex_unlock(&r->mu);
    }
    for (size_t i = 0; i < r->n_pending; i++)
        delta_free(&r->pending[i]);
    free(r->pending);
    md_snapshot_release(r->cur);
    mandate_token_service_close(r->ts);
    mandate_keyring_free(r->kr);
    md_rstore_close(r->st);
    mandate_account_close(r->account);
    md_reg_map_clear(&r->uses);
    md_reg_map_clear(&r->usage);
    if (r->gen)
        munmap((void *)r->gen, 4096);
    free(r->policies);
    free(r->schema);
    free(r->entities);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- ledger ---- */

/* Appends (wait) or submits one entry; *index gets its index (its ticket when not waited for). */
int md_registry_append_text(mandate_registry *r, int type, const char *body, size_t len, bool wait,
                            uint64_t *index, md_diag *d)
{
    mandate_ledger_entry e = {.type = type, .body = body, .body_len = len};
    mandate_diag ld;
    uint64_t ticket = UINT64_MAX;
    int rc = wait ? mandate_ledger_append(r->ledger, &e, &ticket, &ld)
                  : mandate_ledger_submit(r->ledger, &e, &ticket, &ld);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "cannot append to the ledger: %s", ld.message);
    if (index)
        *index = ticket;
    return 0;
}

int md_registry_log(mandate_registry *r, int type, json_t *body, uint64_t *index, md_diag *d)
{
    if (!body)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory writing a ledger entry");
    md_buf text;
    md_buf_init(&text, MD_REG_MAX_TEXT);
    int rc = md_json_dump(body, &text); /* sorted keys: the ledger's canonical form */
    json_decref(body);
    if (rc)
        rc = md_diag_set(d, rc, 0, 0, "writing a ledger entry: %s", mandate_strerror(rc));
    else
        rc = md_registry_append_text(r, type, text.data, text.len, true, index, d);
    md_buf_release(&text);
    return rc;
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ---- changes ---- */

/* Bumps the version inside a transaction (mu held). */
static int bump_version(mandate_registry *r, md_diag *d)
{
    uint64_t v = 0;
    int rc = r->st->ops->meta_get(r->st, "version", &v, d);
    return rc ? rc : r->st->ops->meta_put(r->st, "version", v + 1, d);
}

typedef struct kind_probe {
    int kind, status;
} kind_probe;

static int probe_cb(void *ctx, const md_rstore_principal *p)
{
    kind_probe *k = ctx;
    k->kind = p->kind;
    k->status = p->status;
    return 0;
}

/* Canonicalises references of kind `kind` into a JSON array, checking they are registered. */
static int refs(mandate_registry *r, md_arena *a, int kind, const char *const *ids, size_t n,
                json_t *arr, md_diag *d)
{
    if (n > MD_REG_MAX_LIST)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "more than %d entries in a list",
                           MD_REG_MAX_LIST);
    for (size_t i = 0; i < n; i++) {
        const char *c;
        int rc = md_reg_canonical(a, kind, ids[i], &c, d);
        if (rc)
            return rc;
        if (kind) {
            kind_probe k = {0};
            rc = r->st->ops->principal_get(r->st, c, probe_cb, &k, d);
            if (rc == MANDATE_ENOTFOUND) {
                d->code = 0;
                return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "%s '%s' is not registered",
                                   kind_names[kind], c);
            }
            if (rc)
                return rc;
        }
        if (json_array_append_new(arr, json_string(c)))
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    return 0;
}

static int plain_list(const char *const *v, size_t n, const char *what, json_t *arr, md_diag *d)
{
    if (n > MD_REG_MAX_LIST)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "more than %d %s", MD_REG_MAX_LIST, what);
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || !*v[i] || strlen(v[i]) > MD_REG_MAX_ID)
            return md_diag_set(d, MANDATE_EINVAL, 0, 0, "an empty or over-long entry in %s", what);
        if (json_array_append_new(arr, json_string(v[i])))
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    return 0;
}

static bool valid_text(const char *s)
{
    return !s || strlen(s) <= MD_REG_MAX_ID;
}

MD_EXPORT int mandate_registry_principal_status(mandate_registry *r, const char *uid, int *status,
                                                mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || !uid || !status)
        return finish(diag, &d, MANDATE_EINVAL);
    md_arena *a = md_arena_new();
    const char *c = NULL;
    int rc = a ? md_reg_canonical(a, 0, uid, &c, &d) : MANDATE_ENOMEM;
    md_snapshot *s = NULL;
    if (!rc && !md_registry_acquire(r, &s, &d)) {
        const md_reg_principal *p = md_snapshot_find(s, c);
        if (p)
            *status = p->status;
        else
            rc = MANDATE_ENOTFOUND;
        md_snapshot_release(s);
    } else if (!rc) {
        /* No snapshot (one that does not build): the store still knows. */
        kind_probe k = {0};
        md_diag_clear(&d);
        pthread_mutex_lock(&r->mu);
        rc = r->st->ops->principal_get(r->st, c, probe_cb, &k, &d);
        pthread_mutex_unlock(&r->mu);
        if (!rc)
            *status = k.status;
    }
    md_arena_free(a);
    if (rc == MANDATE_ENOTFOUND)
        md_diag_clear(&d);
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_add(mandate_registry *r, const mandate_principal *p,
                                   const char *actor, mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || !p || !mandate_kind_name(p->kind))
        return finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "registry: bad principal"));
    if (md_registry_writable(r, &d))
        return finish(diag, &d, d.code);
    md_arena *a = md_arena_new();
    json_t *doc = json_object(), *member = json_array(),
           *l[4] = {json_array(), json_array(), json_array(), json_array()};
    const char *uid = NULL, *owner = NULL, *wf = NULL;
    char *text = NULL;
    int rc = 0;
    bool locked = false;
    if (!a || !doc || !member || !l[0] || !l[1] || !l[2] || !l[3]) {
        rc = md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory");
        goto out;
    }
    if ((rc = md_reg_canonical(a, p->kind, p->id, &uid, &d)))
        goto out;
    if (!valid_text(p->name) || !valid_text(p->model) || !valid_text(p->provider)) {
        rc = md_diag_set(&d, MANDATE_ETOOBIG, 0, 0,
                         "a name, model or provider of '%s' is longer "
                         "than %d bytes",
                         uid, MD_REG_MAX_ID);
        goto out;
    }
    bool needs_owner = p->kind == MANDATE_KIND_AGENT || p->kind == MANDATE_KIND_WORKFLOW;
    if (needs_owner && !p->owner) {
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0, "%s '%s' needs an owner (an active human)",
                         kind_names[p->kind], uid);
        goto out;
    }
    if (p->owner && (p->kind == MANDATE_KIND_HUMAN || p->kind == MANDATE_KIND_GROUP)) {
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0, "a %s has no owner", kind_names[p->kind]);
        goto out;
    }
    if (p->workflow && p->kind != MANDATE_KIND_AGENT) {
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0, "only agents serve a workflow");
        goto out;
    }
    if ((p->n_outputs || p->n_impacts || p->n_actions || p->n_resource_types) &&
        p->kind != MANDATE_KIND_WORKFLOW) {
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "outputs, impacts, actions and resource types are for workflows");
        goto out;
    }
    if (p->n_member_of && p->kind == MANDATE_KIND_WORKFLOW) {
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0, "a workflow is not a member of groups");
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    locked = true;
    if ((rc = r->st->ops->begin(r->st, true, &d)))
        goto out;
    json_t *one = json_array();
    if (p->owner) {
        if (!one || (rc = refs(r, a, MANDATE_KIND_HUMAN, &p->owner, 1, one, &d)))
            goto txn;
        owner = json_string_value(json_array_get(one, 0));
        json_object_set(doc, "owner", json_array_get(one, 0));
    }
    if (p->workflow) {
        json_array_clear(one);
        if ((rc = refs(r, a, MANDATE_KIND_WORKFLOW, &p->workflow, 1, one, &d)))
            goto txn;
        wf = json_string_value(json_array_get(one, 0));
        json_object_set(doc, "workflow", json_array_get(one, 0));
    }
    if ((rc = refs(r, a, MANDATE_KIND_GROUP, p->member_of, p->n_member_of, member, &d)) ||
        (rc = plain_list(p->outputs, p->n_outputs, "outputs", l[0], &d)) ||
        (rc = plain_list(p->impacts, p->n_impacts, "impacts", l[1], &d)) ||
        (rc = refs(r, a, 0, p->actions, p->n_actions, l[2], &d)) ||
        (rc = plain_list(p->resource_types, p->n_resource_types, "resource types", l[3], &d)))
        goto txn;
    if (p->name)
        json_object_set_new(doc, "name", json_string(p->name));
    if (p->model)
        json_object_set_new(doc, "model", json_string(p->model));
    if (p->provider)
        json_object_set_new(doc, "provider", json_string(p->provider));
    if (json_array_size(member))
        json_object_set(doc, "member_of", member);
    const char *keys[4] = {"outputs", "impacts", "actions", "resource_types"};
    for (int i = 0; i < 4; i++)
        if (json_array_size(l[i]))
            json_object_set(doc, keys[i], l[i]);
    if (!(text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS))) {
        rc = md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory");
        goto txn;
    }
    md_rstore_principal row = {uid, p->kind, MANDATE_STATUS_ACTIVE, text, strlen(text)};
    if (!(rc = r->st->ops->principal_insert(r->st, &row, &d)) && !(rc = bump_version(r, &d)))
        rc = r->st->ops->commit(r->st, &d);
txn:
    json_decref(one);
    (void)owner;
    (void)wf;
    if (rc) {
        r->st->ops->rollback(r->st);
        goto out;
    }
    md_registry_bump(r);
    mark_stale(r);
    pthread_mutex_unlock(&r->mu);
    locked = false;
    json_t *body = json_pack("{s:s,s:s,s:s,s:O,s:o}", "op", "add", "uid", uid, "kind",
                             kind_names[p->kind], "principal", doc, "actor", jstr(actor));
    rc = md_registry_log(r, MANDATE_ENTRY_REGISTRY, body, NULL, &d);
out:
    if (locked)
        pthread_mutex_unlock(&r->mu);
    free(text);
    json_decref(doc);
    json_decref(member);
    for (int i = 0; i < 4; i++)
        json_decref(l[i]);
    md_arena_free(a);
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_set_status(mandate_registry *r, const char *uid, int status,
                                          const char *actor, mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || !uid || status < MANDATE_STATUS_ACTIVE || status > MANDATE_STATUS_DEPARTED)
        return finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "registry: bad status"));
    if (md_registry_writable(r, &d))
        return finish(diag, &d, d.code);
    md_arena *a = md_arena_new();
    const char *c = NULL;
    kind_probe k = {0};
    int rc = a ? md_reg_canonical(a, 0, uid, &c, &d) : MANDATE_ENOMEM;
    if (rc)
        goto out;
    pthread_mutex_lock(&r->mu);
    if (!(rc = r->st->ops->begin(r->st, true, &d))) {
        if (!(rc = r->st->ops->principal_get(r->st, c, probe_cb, &k, &d)) &&
            !(rc = r->st->ops->principal_set_status(r->st, c, status, &d)) &&
            !(rc = bump_version(r, &d)))
            rc = r->st->ops->commit(r->st, &d);
        if (rc)
            r->st->ops->rollback(r->st);
    }
    if (!rc) {
        md_registry_bump(r);
        mark_stale(r);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc)
        goto out;
    static const char *const ops[] = {"resume", "suspend", "retire"};
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "op", ops[status], "uid", c, "kind",
                             kind_names[k.kind], "from", mandate_status_name(k.kind, k.status),
                             "to", mandate_status_name(k.kind, status), "actor", jstr(actor));
    rc = md_registry_log(r, MANDATE_ENTRY_REGISTRY, body, NULL, &d);
out:
    md_arena_free(a);
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_freeze(mandate_registry *r, bool frozen, const char *actor,
                                      mandate_diag *diag)
{
    md_diag d = {0};
    if (!r)
        return finish(diag, &d, MANDATE_EINVAL);
    if (md_registry_writable(r, &d))
        return finish(diag, &d, d.code);
    pthread_mutex_lock(&r->mu);
    int rc = r->st->ops->begin(r->st, true, &d);
    if (!rc) {
        if (!(rc = r->st->ops->meta_put(r->st, "frozen", frozen, &d)) &&
            !(rc = bump_version(r, &d)))
            rc = r->st->ops->commit(r->st, &d);
        if (rc)
            r->st->ops->rollback(r->st);
    }
    if (!rc) {
        md_registry_bump(r);
        mark_stale(r);
    }
    pthread_mutex_unlock(&r->mu);
    if (!rc) {
        json_t *body =
            json_pack("{s:s,s:o}", "op", frozen ? "freeze" : "unfreeze", "actor", jstr(actor));
        rc = md_registry_log(r, MANDATE_ENTRY_REGISTRY, body, NULL, &d);
    }
    return finish(diag, &d, rc);
}

/* Replaces one of the caller's texts and republishes; restores the old text on failure. */
static int set_text(mandate_registry *r, char **slot, size_t *slot_len, const char *text,
                    size_t len, md_diag *d)
{
    char *copy = NULL;
    if (text) {
        if (len > MD_CEDAR_MAX_JSON_TEXT)
            return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "input of %zu bytes is over the cap", len);
        if (!(copy = malloc(len + 1)))
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
        memcpy(copy, text, len);
        copy[len] = 0;
    }
    pthread_mutex_lock(&r->mu);
    char *old = *slot;
    size_t old_len = *slot_len;
    *slot = copy;
    *slot_len = copy ? len : 0;
    int rc = republish(r, d);
    if (rc) {
        *slot = old;
        *slot_len = old_len;
        old = copy;
    }
    pthread_mutex_unlock(&r->mu);
    free(old);
    return rc;
}

/* A policy entry for the set decisions now use, so that traces can name the entry that loaded
 * each determining policy; skipped when the same text was the last one logged (a restart). */
static int log_policies(mandate_registry *r, const char *text, size_t len, md_diag *d)
{
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)text, len);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    uint64_t tag = 0;
    for (int i = 0; i < 8; i++)
        tag = tag << 8 | h[i];
    md_snapshot *s = NULL;
    int rc = md_registry_acquire(r, &s, d);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    uint64_t last = r->policy_logged;
    if (!last && r->st->ops->meta_get(r->st, "policy_logged", &last, d))
        last = 0;
    pthread_mutex_unlock(&r->mu);
    if (last == tag) {
        r->policy_logged = tag;
        md_snapshot_release(s);
        return 0;
    }
    json_t *ids = json_array();
    for (size_t i = 0; ids && s->ps && i < s->ps->n; i++) {
        md_str n = md_policy_name(s->ps->policies[i]);
        json_array_append_new(ids, json_stringn(n.ptr, n.len));
    }
    md_snapshot_release(s);
    json_t *body = ids ? json_pack("{s:s,s:s,s:o,s:s}", "op", "activate", "sha256", hex, "policies",
                                   ids, "actor", "registry")
                       : NULL;
    uint64_t idx;
    if ((rc = md_registry_log(r, MANDATE_ENTRY_POLICY, body, &idx, d)))
        return rc;
    pthread_mutex_lock(&r->mu);
    r->policy_logged = tag;
    if (!(rc = r->st->ops->begin(r->st, false, d))) {
        if (!(rc = r->st->ops->meta_put(r->st, "policy_logged", tag, d)))
            rc = r->st->ops->commit(r->st, d);
        if (rc)
            r->st->ops->rollback(r->st);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

MD_EXPORT int mandate_registry_set_policies(mandate_registry *r, const char *text, size_t len,
                                            mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || (!text && len))
        return finish(diag, &d, MANDATE_EINVAL);
    pthread_mutex_lock(&r->mu);
    char *prev = r->policies ? malloc(r->policies_len + 1) : NULL;
    size_t prev_len = r->policies_len;
    if (prev)
        memcpy(prev, r->policies, prev_len + 1);
    bool had = r->policies != NULL;
    pthread_mutex_unlock(&r->mu);
    if (had && !prev)
        return finish(diag, &d, md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory"));
    int rc = set_text(r, &r->policies, &r->policies_len, text ? text : "", len, &d);
    if (!rc && !r->read_only && (rc = log_policies(r, text ? text : "", len, &d)) != 0) {
        /* Not recorded: the previous set stays active (fail closed). */
        md_diag ud = {0};
        set_text(r, &r->policies, &r->policies_len, prev, prev_len, &ud);
    }
    free(prev);
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_set_schema(mandate_registry *r, const char *text, size_t len,
                                          mandate_diag *diag)
{
    md_diag d = {0};
    if (!r)
        return finish(diag, &d, MANDATE_EINVAL);
    return finish(diag, &d, set_text(r, &r->schema, &r->schema_len, text, len, &d));
}

MD_EXPORT int mandate_registry_set_entities(mandate_registry *r, const char *json, size_t len,
                                            mandate_diag *diag)
{
    md_diag d = {0};
    if (!r)
        return finish(diag, &d, MANDATE_EINVAL);
    return finish(diag, &d, set_text(r, &r->entities, &r->entities_len, json, len, &d));
}

/* ---- listing ---- */

static json_t *principal_json(const md_reg_principal *p)
{
    json_error_t je;
    json_t *o = json_loads(p->doc, 0, &je);
    if (!o)
        return NULL;
    json_object_set_new(o, "uid", json_string(p->uid));
    json_object_set_new(o, "kind", json_string(kind_names[p->kind]));
    json_object_set_new(o, "status", json_string(mandate_status_name(p->kind, p->status)));
    return o;
}

static int dump(json_t *j, char **out, md_diag *d)
{
    *out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return *out ? 0 : md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
}

MD_EXPORT int mandate_registry_list(mandate_registry *r, int kind, char **json_out,
                                    mandate_diag *diag)
{
    md_diag d = {0};
    md_snapshot *s;
    if (!r || !json_out)
        return finish(diag, &d, MANDATE_EINVAL);
    *json_out = NULL;
    int rc = md_registry_acquire(r, &s, &d);
    if (rc)
        return finish(diag, &d, rc);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->n; i++)
        if (!kind || s->p[i]->kind == kind)
            if (json_array_append_new(arr, principal_json(s->p[i]))) {
                json_decref(arr);
                arr = NULL;
            }
    md_snapshot_release(s);
    return finish(diag, &d, dump(arr, json_out, &d));
}

MD_EXPORT int mandate_registry_show(mandate_registry *r, const char *uid, char **json_out,
                                    mandate_diag *diag)
{
    md_diag d = {0};
    md_snapshot *s;
    if (!r || !uid || !json_out)
        return finish(diag, &d, MANDATE_EINVAL);
    *json_out = NULL;
    int rc = md_registry_acquire(r, &s, &d);
    if (rc)
        return finish(diag, &d, rc);
    const md_reg_principal *p = find_any(s, uid);
    if (!p)
        rc = md_diag_set(&d, MANDATE_ENOTFOUND, 0, 0, "'%s' is not registered", uid);
    else
        rc = dump(principal_json(p), json_out, &d);
    md_snapshot_release(s);
    return finish(diag, &d, rc);
}

static json_t *uid_json(const md_euid *u)
{
    return json_pack("{s:s%,s:s%}", "type", u->type.ptr, u->type.len, "id", u->id.ptr, u->id.len);
}

static json_t *value_json(const md_value *v)
{
    switch (v->kind) {
    case MD_V_STRING: return json_stringn(v->u.s.ptr, v->u.s.len);
    case MD_V_ENTITY: return json_pack("{s:o}", "__entity", uid_json(&v->u.uid));
    case MD_V_SET: {
        json_t *a = json_array();
        for (size_t i = 0; a && i < v->u.set->n; i++)
            json_array_append_new(a, value_json(&v->u.set->items[i]));
        return a;
    }
    default: return json_null();
    }
}

MD_EXPORT int mandate_registry_entities_json(mandate_registry *r, char **json_out,
                                             mandate_diag *diag)
{
    md_diag d = {0};
    md_snapshot *s;
    if (!r || !json_out)
        return finish(diag, &d, MANDATE_EINVAL);
    *json_out = NULL;
    int rc = md_registry_acquire(r, &s, &d);
    if (rc)
        return finish(diag, &d, rc);
    json_t *arr = json_array();
    md_arena *a = md_arena_new();
    for (size_t i = 0; arr && a && i < s->n; i++) {
        md_entity e;
        if (principal_entity(a, s->p[i], &e))
            continue;
        json_t *attrs = json_object(), *parents = json_array();
        for (size_t k = 0; k < e.attrs->n; k++) {
            md_field f = md_record_at(e.attrs, k);
            json_object_setn_new(attrs, f.key.ptr, f.key.len, value_json(&f.val));
        }
        for (size_t k = 0; k < e.n_parents; k++)
            json_array_append_new(parents, uid_json(&e.parents[k]));
        json_array_append_new(arr, json_pack("{s:o,s:o,s:o}", "uid", uid_json(&e.uid), "attrs",
                                             attrs, "parents", parents));
    }
    md_arena_free(a);
    md_snapshot_release(s);
    return finish(diag, &d, dump(arr, json_out, &d));
}

/* ---- delegations ---- */

static int check_party(const md_snapshot *s, const char *uid, int kind, const char *role,
                       mandate_token_error *err, md_diag *d)
{
    const md_reg_principal *p = find_any(s, uid);
    int reason = 0;
    const char *why = NULL;
    if (!p || p->kind != kind) {
        reason = MANDATE_TOKEN_PRINCIPAL_UNKNOWN;
        why = "is not a registered";
    } else if (p->status != MANDATE_STATUS_ACTIVE) {
        reason = role[0] == 'd' ? MANDATE_TOKEN_DELEGATOR_INACTIVE : MANDATE_TOKEN_SUBJECT_INACTIVE;
        why = "is not an active";
    } else if (p->owner) {
        const md_reg_principal *o = md_snapshot_find(s, p->owner);
        if (!o || o->status != MANDATE_STATUS_ACTIVE) {
            reason = MANDATE_TOKEN_OWNER_INACTIVE;
            why = "has no active owner: not an acting";
        }
    }
    if (!reason)
        return 0;
    if (err) {
        err->reason = reason;
        snprintf(err->message, sizeof err->message, "%s '%s' %s %s", role, uid, why,
                 kind_names[kind]);
    }
    return md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s '%s' %s %s", role, uid, why, kind_names[kind]);
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int log_delegation(mandate_registry *r, const char *token, const char *const *parents,
                          size_t n_parents, int64_t now, const char *actor, md_diag *d)
{
    mandate_token *t = NULL;
    mandate_token_error e;
    mandate_token_verify_args va = {.now = now, .parents = parents, .n_parents = n_parents};
    int rc = mandate_token_verify(r->ts, token, strlen(token), &va, &t, &e);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "the issued delegation does not verify: %s", e.message);
    const mandate_token_claims *c = mandate_token_get_claims(t);
    char digest[65];
    sodium_bin2hex(digest, sizeof digest, c->digest, 32);
    json_t *body = json_pack(
        "{s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:i,s:o,s:s,s:o}", "op", "delegate", "jti",
        c->jti, "parent", jstr(c->parent), "subject", c->sub, "delegators",
        str_array(c->delegators, c->n_delegators), "actions", str_array(c->actions, c->n_actions),
        "resources", str_array(c->resources, c->n_resources), "workflow", jstr(c->workflow),
        "max_uses", (json_int_t)c->max_uses, "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp,
        "depth", (int)c->depth, "task", jstr(c->task), "digest", digest, "actor", jstr(actor));
    mandate_token_free(t);
    return md_registry_log(r, MANDATE_ENTRY_DELEGATION, body, NULL, d);
}

MD_EXPORT int mandate_registry_delegate(mandate_registry *r, const mandate_delegation *dl,
                                        const char *actor, char **token, mandate_token_error *err,
                                        mandate_diag *diag)
{
    md_diag d = {0};
    if (err)
        memset(err, 0, sizeof *err);
    if (!r || !dl || !token || !dl->subject || !dl->delegator)
        return finish(diag, &d,
                      md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                                  "delegate: subject and delegator "
                                  "are required"));
    if (md_registry_writable(r, &d))
        return finish(diag, &d, d.code);
    *token = NULL;
    md_snapshot *s;
    int rc = md_registry_acquire(r, &s, &d);
    if (rc)
        return finish(diag, &d, rc);
    if (s->frozen) {
        rc = md_diag_set(&d, MANDATE_EDENIED, 0, 0, "the registry is frozen: no delegations");
        goto out;
    }
    if ((rc = check_party(s, dl->delegator, MANDATE_KIND_HUMAN, "delegator", err, &d)) ||
        (rc = check_party(s, dl->subject, MANDATE_KIND_AGENT, "agent", err, &d)))
        goto out;
    if (dl->workflow) {
        const md_reg_principal *w = find_any(s, dl->workflow);
        if (!w || w->kind != MANDATE_KIND_WORKFLOW || w->status != MANDATE_STATUS_ACTIVE) {
            rc = md_diag_set(&d, MANDATE_EDENIED, 0, 0, "workflow '%s' is not an active workflow",
                             dl->workflow);
            goto out;
        }
    }
    md_registry_set_thread_snapshot(s);
    rc = mandate_token_issue(r->ts, dl, token, err);
    md_registry_set_thread_snapshot(NULL);
    if (rc) {
        md_diag_set(&d, rc, 0, 0, "cannot issue the delegation: %s", err ? err->message : "");
        goto out;
    }
    md_registry_set_thread_snapshot(s);
    rc = log_delegation(r, *token, NULL, 0, dl->now, actor, &d);
    md_registry_set_thread_snapshot(NULL);
out:
    md_snapshot_release(s);
    if (rc) {
        free(*token);
        *token = NULL;
    }
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_redelegate(mandate_registry *r, const char *parent,
                                          const char *const *parents, size_t n_parents,
                                          const mandate_delegation *dl, const char *actor,
                                          char **token, mandate_token_error *err,
                                          mandate_diag *diag)
{
    md_diag d = {0};
    mandate_token_error e0;
    if (!err)
        err = &e0;
    memset(err, 0, sizeof *err);
    if (!r || !parent || !dl || !token)
        return finish(diag, &d, MANDATE_EINVAL);
    if (md_registry_writable(r, &d))
        return finish(diag, &d, d.code);
    *token = NULL;
    md_snapshot *s;
    int rc = md_registry_acquire(r, &s, &d);
    if (rc)
        return finish(diag, &d, rc);
    mandate_token *pt = NULL;
    if (s->frozen) {
        rc = md_diag_set(&d, MANDATE_EDENIED, 0, 0, "the registry is frozen: no delegations");
        goto out;
    }
    if ((rc = check_party(s, dl->subject, MANDATE_KIND_AGENT, "agent", err, &d)))
        goto out;
    md_registry_set_thread_snapshot(s);
    mandate_token_verify_args va = {.now = dl->now, .parents = parents, .n_parents = n_parents};
    rc = mandate_token_verify(r->ts, parent, strlen(parent), &va, &pt, err);
    if (!rc)
        rc = mandate_token_redelegate(r->ts, pt, dl, token, err);
    if (!rc) {
        const char **chain = calloc(n_parents + 1, sizeof *chain);
        if (!chain) {
            rc = md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory");
        } else {
            chain[0] = parent;
            for (size_t i = 0; i < n_parents; i++)
                chain[i + 1] = parents[i];
            rc = log_delegation(r, *token, chain, n_parents + 1, dl->now, actor, &d);
            free(chain);
        }
    }
    md_registry_set_thread_snapshot(NULL);
    if (rc && !d.code)
        md_diag_set(&d, rc, 0, 0, "cannot re-delegate: %s", err->message);
out:
    mandate_token_free(pt);
    md_snapshot_release(s);
    if (rc) {
        free(*token);
        *token = NULL;
    }
    return finish(diag, &d, rc);
}

/* Whether what looks like a compact token (two dots) rather than a jti. */
static bool is_compact(const char *what)
{
    const char *dot = strchr(what, '.');
    return dot && strchr(dot + 1, '.');
}

/* A compact token signed by this registry's key ring (signature and claim form checked, nothing
 * about its life); MANDATE_EINVAL for any other text. */
static int signed_token(mandate_registry *r, const char *tok, mandate_token **t, md_diag *d)
{
    mandate_token_error te = {0};
    if (mandate_token_inspect(r->ts, tok, strlen(tok), t, &te))
        return md_diag_set(d, te.reason == MANDATE_TOKEN_INTERNAL ? MANDATE_ENOMEM : MANDATE_EINVAL,
                           0, 0, "not a delegation signed here: %s", te.message);
    return 0;
}

/* The jti of a token signed here (signed_token). */
static int token_jti(mandate_registry *r, const char *tok, char *jti, size_t n, md_diag *d)
{
    mandate_token *t = NULL;
    int rc = signed_token(r, tok, &t, d);
    if (rc)
        return rc;
    const char *v = mandate_token_get_claims(t)->jti;
    if (strlen(v) >= n)
        rc = md_diag_set(d, MANDATE_EINVAL, 0, 0, "jti too long");
    else
        memcpy(jti, v, strlen(v) + 1);
    mandate_token_free(t);
    return rc;
}

MD_EXPORT int mandate_registry_revoke(mandate_registry *r, const char *what, const char *actor,
                                      const char *reason, mandate_diag *diag)
{
    md_diag d = {0};
    char jti[160];
    if (!r || !what || !*what)
        return finish(diag, &d, MANDATE_EINVAL);
    if (md_registry_writable(r, &d))
        return finish(diag, &d, d.code);
    int rc = 0;
    if (is_compact(what)) {
        if ((rc = token_jti(r, what, jti, sizeof jti, &d)))
            return finish(diag, &d, rc);
    } else {
        if (strlen(what) >= sizeof jti)
            return finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "jti too long"));
        memcpy(jti, what, strlen(what) + 1);
    }
    bool added = false;
    pthread_mutex_lock(&r->mu);
    if (!(rc = r->st->ops->begin(r->st, true, &d))) {
        if (!(rc = r->st->ops->revoke(r->st, jti, now_ms(), actor ? actor : "",
                                      reason ? reason : "", &added, &d)) &&
            (!added || !(rc = bump_version(r, &d))))
            rc = r->st->ops->commit(r->st, &d);
        if (rc)
            r->st->ops->rollback(r->st);
    }
    if (!rc && added) {
        md_registry_bump(r);
        mark_stale(r);
    }
    pthread_mutex_unlock(&r->mu);
    if (!rc && added) {
        json_t *body = json_pack("{s:s,s:s,s:o,s:o}", "op", "revoke", "jti", jti, "reason",
                                 jstr(reason), "actor", jstr(actor));
        rc = md_registry_log(r, MANDATE_ENTRY_REVOCATION, body, NULL, &d);
    }
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_revoke_party(mandate_registry *r, const char *what,
                                            const char *actor, mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || !what || !actor)
        return finish(diag, &d, MANDATE_EINVAL);
    if (!is_compact(what))
        return finish(diag, &d,
                      md_diag_set(&d, MANDATE_EDENIED, 0, 0,
                                  "'%s' may revoke by jti only with the right to revoke any "
                                  "delegation; present the delegation's token instead",
                                  actor));
    mandate_token *t = NULL;
    int trc = signed_token(r, what, &t, &d);
    if (trc)
        return finish(diag, &d, trc);
    const mandate_token_claims *c = mandate_token_get_claims(t);
    md_arena *a = md_arena_new();
    const char *who = NULL;
    int rc = a ? md_reg_canonical(a, 0, actor, &who, &d) : MANDATE_ENOMEM;
    bool party = false;
    for (size_t i = 0; !rc && !party && i < c->n_delegators; i++)
        party = !strcmp(c->delegators[i], who);
    md_snapshot *s = NULL;
    if (!rc && !party && !(rc = md_registry_acquire(r, &s, &d))) {
        const md_reg_principal *agent = md_snapshot_find(s, c->sub);
        party = agent && agent->owner && !strcmp(agent->owner, who);
        md_snapshot_release(s);
    }
    if (!rc && !party)
        rc = md_diag_set(&d, MANDATE_EDENIED, 0, 0,
                         "'%s' neither delegated '%s' (nor anything it was re-delegated from) nor "
                         "owns '%s'",
                         who, c->jti, c->sub);
    md_arena_free(a);
    mandate_token_free(t);
    return finish(diag, &d, rc);
}

MD_EXPORT int mandate_registry_jwks(mandate_registry *r, char **json_out, mandate_diag *diag)
{
    md_diag d = {0};
    if (!r || !json_out)
        return finish(diag, &d, MANDATE_EINVAL);
    return finish(diag, &d, mandate_keyring_jwks(r->kr, json_out));
}
