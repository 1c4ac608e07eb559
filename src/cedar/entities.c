/*
 * entities.c: the entity store (see cedar_int.h and entities.h): insertion-ordered chunks, an
 * open-addressing hash index, and the ancestor closure computed once by md_entities_seal.
 *
 * Layout: each entity is one 128-byte, line-aligned entry: a copy of its id when the id is short
 * (the entity's uid.id points there), then the md_entity, so that the first cache line holds the
 * id, the uid and attrs. Sealing points every entity-valued attribute and tag that names a
 * stored entity at that entity's own uid (records hold a uid by pointer), so following an
 * attribute such as principal.owner needs no hashing: md_entities_resolve maps the id pointer back
 * to its entry (a binary search over the chunks' address ranges) and checks it. Sealing also notes
 * in each entry the first entities its attributes name, for md_entities_prefetch_named. Chunk 0
 * starts small and doubles up to CHUNK_SIZE (small stores stay small); later chunks are full size.
 *
 * Closure: Tarjan's strongly-connected-components algorithm, run iteratively over the parent
 * edges between stored entities. Components complete in reverse topological order (a component
 * finishes after every component it can reach), so each entity's closure is built from its
 * parents' finished closures: memoised, linear in the size of the output, no recursion. A parent
 * that is not in the store is an ancestor but contributes nothing further. An entity with exactly
 * one parent P (in the store, not on a cycle with it) shares the array "ancestors of P plus P",
 * built once per P; this is the common shape (many users in one group) and costs no copy.
 */
#include <stdlib.h>

#include "cedar/entities.h"

#define CHUNK_SHIFT 12u
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define CHUNK_MASK (CHUNK_SIZE - 1u)
#define FIRST_CHUNK 16u /* entries of chunk 0 at first; it doubles up to CHUNK_SIZE */
#define LINE 64u

typedef struct slot {
    uint32_t idx1; /* index + 1; 0 for an empty slot */
    uint32_t tag;  /* high bits of the hash, to skip most key comparisons */
} slot;

/* One stored entity: two cache lines. The first holds a short id's bytes, the uid and attrs,
 * so that finding an entity by uid and reading an attribute touch one line. */
typedef struct entry {
    char id[24]; /* the id, NUL-terminated, when it fits */
    md_entity e;
    /* Set by sealing: the first entity this one's attributes name, that entity's attributes, and
     * the second one named (NULL when none), for md_entities_prefetch_named. */
    const void *named[3];
} entry;

_Static_assert(sizeof(entry) == 128, "an entry is two cache lines");
_Static_assert(offsetof(entry, e.attrs) + sizeof(void *) <= 64, "uid and attrs in line 0");

/* Address range of one chunk, for md_entities_resolve. */
typedef struct span {
    uintptr_t lo, hi;
    uint32_t chunk;
} span;

struct md_entities {
    md_arena *a;
    entry **chunks;
    size_t chunks_cap;
    size_t cap0; /* entries chunk 0 holds */
    size_t n;
    slot *tab;
    size_t tab_cap; /* a power of two, or 0 */
    span *spans;    /* sorted by lo; set by md_entities_seal */
    size_t n_spans;
    uintptr_t lo, hi; /* the spans' bounds */
    md_str *types;    /* the distinct entity type names of stored uids (open addressing) */
    size_t types_cap, n_types;
    bool sealed;
    bool has_cycle;
    md_euid cycle_at;
};

static md_entity *at(const md_entities *es, size_t i)
{
    return &es->chunks[i >> CHUNK_SHIFT][i & CHUNK_MASK].e;
}

/* n zeroed entries starting on a cache line. */
static entry *entries_new(md_arena *a, size_t n)
{
    char *p = md_arena_alloc(a, n * sizeof(entry) + LINE);
    if (!p)
        return NULL;
    return (entry *)(void *)(p + (LINE - (uintptr_t)p % LINE) % LINE);
}

/* Points the entry's uid.id at its own copy when the id fits. */
static void own_id(entry *x)
{
    md_str id = x->e.uid.id;
    if (id.len >= sizeof x->id || !id.ptr)
        return;
    if (id.len)
        memmove(x->id, id.ptr, id.len);
    x->id[id.len] = '\0';
    x->e.uid.id.ptr = x->id;
}

/* Points *t at the store's copy of the type name, so that the uids of stored entities (and the
 * attribute values and ancestors that share them) compare types by pointer. */
static int share_type(md_entities *es, md_str *t)
{
    if ((es->n_types + 1) * 2 > es->types_cap) {
        size_t cap = es->types_cap ? es->types_cap * 2 : 16;
        md_str *v = md_arena_array(es->a, cap, sizeof *v);
        if (!v)
            return MANDATE_ENOMEM;
        for (size_t i = 0; i < es->types_cap; i++) {
            if (!es->types[i].ptr)
                continue;
            size_t j = (size_t)md_hash_bytes(es->types[i].ptr, es->types[i].len, 0) & (cap - 1);
            while (v[j].ptr)
                j = (j + 1) & (cap - 1);
            v[j] = es->types[i];
        }
        es->types = v;
        es->types_cap = cap;
    }
    size_t mask = es->types_cap - 1, j = (size_t)md_hash_bytes(t->ptr, t->len, 0) & mask;
    for (; es->types[j].ptr; j = (j + 1) & mask)
        if (md_bytes_eq(es->types[j], *t)) {
            *t = es->types[j];
            return 0;
        }
    md_str copy = md_arena_str(es->a, *t);
    if (!copy.ptr)
        return MANDATE_ENOMEM;
    es->types[j] = copy;
    es->n_types++;
    *t = copy;
    return 0;
}

int md_entities_new(md_arena *a, md_entities **out)
{
    if (!a || !out)
        return MANDATE_EINVAL;
    md_entities *es = md_arena_alloc(a, sizeof *es);
    if (!es)
        return MANDATE_ENOMEM;
    es->a = a;
    *out = es;
    return 0;
}

/* Returns the slot holding uid, or the empty slot where it would go. */
static slot *lookup(const md_entities *es, const md_euid *uid, uint64_t h)
{
    size_t mask = es->tab_cap - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t pos = (size_t)h & mask;; pos = (pos + 1) & mask) {
        slot *s = &es->tab[pos];
        if (s->idx1 == 0)
            return s;
        const md_euid *v = &at(es, s->idx1 - 1)->uid;
        if (s->tag == tag && md_bytes_eq(v->id, uid->id) && md_bytes_eq(v->type, uid->type))
            return s;
    }
}

static int grow_table(md_entities *es)
{
    size_t cap = es->tab_cap ? es->tab_cap * 2 : 64;
    slot *tab = md_arena_array(es->a, cap, sizeof *tab);
    if (!tab)
        return MANDATE_ENOMEM;
    es->tab = tab;
    es->tab_cap = cap;
    for (size_t i = 0; i < es->n; i++) {
        uint64_t h = md_euid_hash(&at(es, i)->uid);
        slot *s = lookup(es, &at(es, i)->uid, h);
        s->idx1 = (uint32_t)(i + 1);
        s->tag = (uint32_t)(h >> 32);
    }
    return 0;
}

int md_entities_add(md_entities *es, const md_entity *e)
{
    if (!es || !e || es->sealed)
        return MANDATE_EINVAL;
    if (es->n >= MD_ENTITIES_MAX)
        return MANDATE_ETOOBIG;
    /* Keep the load factor under 0.7. */
    if ((es->n + 1) * 10 > es->tab_cap * 7) {
        int rc = grow_table(es);
        if (rc)
            return rc;
    }
    uint64_t h = md_euid_hash(&e->uid);
    slot *s = lookup(es, &e->uid, h);
    if (s->idx1)
        return MANDATE_EEXIST;
    size_t ci = es->n >> CHUNK_SHIFT;
    if (ci >= es->chunks_cap) {
        size_t cap = es->chunks_cap ? es->chunks_cap * 2 : 16;
        entry **chunks = md_arena_array(es->a, cap, sizeof *chunks);
        if (!chunks)
            return MANDATE_ENOMEM;
        if (es->chunks_cap)
            memcpy(chunks, es->chunks, es->chunks_cap * sizeof *chunks);
        es->chunks = chunks;
        es->chunks_cap = cap;
    }
    if (ci == 0 && es->n == es->cap0) {
        /* Chunk 0 grows by doubling; the old copy stays in the arena, unused. */
        size_t cap = es->cap0 ? es->cap0 * 2 : FIRST_CHUNK;
        entry *c0 = entries_new(es->a, cap);
        if (!c0)
            return MANDATE_ENOMEM;
        for (size_t i = 0; i < es->n; i++) {
            c0[i] = es->chunks[0][i];
            own_id(&c0[i]);
        }
        es->chunks[0] = c0;
        es->cap0 = cap;
    } else if (ci > 0 && !es->chunks[ci]) {
        es->chunks[ci] = entries_new(es->a, CHUNK_SIZE);
        if (!es->chunks[ci])
            return MANDATE_ENOMEM;
    }
    entry *x = &es->chunks[ci][es->n & CHUNK_MASK];
    md_entity *dst = &x->e;
    *dst = *e;
    own_id(x);
    int rc = dst->uid.type.ptr ? share_type(es, &dst->uid.type) : 0;
    if (rc)
        return rc;
    if (!dst->attrs)
        dst->attrs = md_record_empty();
    if (!dst->tags)
        dst->tags = md_record_empty();
    if (!dst->parents)
        dst->n_parents = 0;
    dst->n_ancestors = 0;
    dst->ancestors = NULL;
    s->idx1 = (uint32_t)(es->n + 1);
    s->tag = (uint32_t)(h >> 32);
    es->n++;
    return 0;
}

const md_entity *md_entities_resolve(const md_entities *es, const md_euid *uid)
{
    uintptr_t p = (uintptr_t)uid->id.ptr;
    if (p < es->lo || p >= es->hi)
        return NULL;
    size_t lo = 0, hi = es->n_spans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p < es->spans[mid].lo)
            hi = mid;
        else if (p >= es->spans[mid].hi)
            lo = mid + 1;
        else {
            size_t off = p - es->spans[mid].lo;
            if (off % sizeof(entry) != offsetof(entry, id))
                return NULL;
            size_t i = ((size_t)es->spans[mid].chunk << CHUNK_SHIFT) + off / sizeof(entry);
            if (i >= es->n)
                return NULL;
            const md_entity *e = at(es, i);
            /* Same pointers and lengths: the same uid, with no byte compared. */
            if (e->uid.id.ptr != uid->id.ptr || e->uid.id.len != uid->id.len ||
                e->uid.type.len != uid->type.len ||
                (e->uid.type.ptr != uid->type.ptr &&
                 memcmp(e->uid.type.ptr, uid->type.ptr, uid->type.len) != 0))
                return NULL;
            return e;
        }
    }
    return NULL;
}

const md_entity *md_entities_find(const md_entities *es, const md_euid *uid)
{
    if (!es || !uid || es->n == 0)
        return NULL;
    const md_entity *e = md_entities_resolve(es, uid);
    if (e)
        return e;
    slot *s = lookup(es, uid, md_euid_hash(uid));
    return s->idx1 ? at(es, s->idx1 - 1) : NULL;
}

void md_entities_find_many(const md_entities *es, const md_euid *const *uids, size_t n,
                           const md_entity **out)
{
    uint64_t h[8];
    if (!es || es->n == 0 || n > MD_ARRAY_LEN(h)) {
        for (size_t i = 0; i < n; i++)
            out[i] = md_entities_find(es, uids[i]);
        return;
    }
    /* Start every slot's cache miss before waiting on any of them. */
    for (size_t i = 0; i < n; i++) {
        h[i] = md_euid_hash(uids[i]);
        __builtin_prefetch(&es->tab[(size_t)h[i] & (es->tab_cap - 1)]);
    }
    /* Then every likely entry's (the first slot with the same tag), before comparing uids. */
    size_t mask = es->tab_cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t tag = (uint32_t)(h[i] >> 32);
        for (size_t pos = (size_t)h[i] & mask;; pos = (pos + 1) & mask) {
            const slot *sl = &es->tab[pos];
            if (sl->idx1 == 0)
                break;
            if (sl->tag == tag) {
                const entry *x =
                    &es->chunks[(sl->idx1 - 1) >> CHUNK_SHIFT][(sl->idx1 - 1) & CHUNK_MASK];
                __builtin_prefetch(x);
                __builtin_prefetch((const char *)x + LINE);
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        slot *sl = lookup(es, uids[i], h[i]);
        out[i] = sl->idx1 ? at(es, sl->idx1 - 1) : NULL;
    }
}

static int64_t find_index(const md_entities *es, const md_euid *uid)
{
    slot *s = lookup(es, uid, md_euid_hash(uid));
    return s->idx1 ? (int64_t)s->idx1 - 1 : -1;
}

size_t md_entities_count(const md_entities *es)
{
    return es ? es->n : 0;
}

const md_entity *md_entities_at(const md_entities *es, size_t i)
{
    return es && i < es->n ? at(es, i) : NULL;
}

static bool sorted_contains(const md_euid *arr, size_t n, const md_euid *x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = md_euid_cmp(&arr[mid], x);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool md_entities_in(const md_entities *es, const md_euid *a, const md_euid *b)
{
    if (md_euid_eq(a, b))
        return true;
    const md_entity *e = md_entities_find(es, a);
    return e && sorted_contains(e->ancestors, e->n_ancestors, b);
}

bool md_entities_has_cycle(const md_entities *es, md_euid *where)
{
    if (!es || !es->has_cycle)
        return false;
    if (where)
        *where = es->cycle_at;
    return true;
}

/* ---- sealing ---- */

/* Scratch state of one seal, all in a scratch arena freed at the end. */
typedef struct sealer {
    md_entities *es;
    md_arena *sa;
    size_t *poff;       /* CSR offsets of in-store parent edges, n + 1 */
    int32_t *pidx;      /* parent index, -1 for a parent not in the store */
    uint32_t *comp;     /* component id + 1, 0 while not finished */
    const md_euid **up; /* lazily built "ancestors plus self" arrays (in the store arena) */
    uint32_t *n_up;
    md_euid *buf; /* gathering buffer */
    size_t buf_len, buf_cap;
    size_t total; /* ancestor entries materialised so far */
} sealer;

static int charge(sealer *s, size_t n)
{
    if (n > MD_ENTITIES_MAX_CLOSURE - s->total)
        return MANDATE_ETOOBIG;
    s->total += n;
    return 0;
}

static int buf_reserve(sealer *s, size_t more)
{
    if (s->buf_len + more <= s->buf_cap)
        return 0;
    size_t cap = s->buf_cap ? s->buf_cap : 64;
    while (cap < s->buf_len + more) {
        if (cap > SIZE_MAX / 2 / sizeof(md_euid))
            return MANDATE_ETOOBIG;
        cap *= 2;
    }
    md_euid *nb = md_arena_array(s->sa, cap, sizeof *nb);
    if (!nb)
        return MANDATE_ENOMEM;
    if (s->buf_len)
        memcpy(nb, s->buf, s->buf_len * sizeof *nb);
    s->buf = nb;
    s->buf_cap = cap;
    return 0;
}

static int buf_push_many(sealer *s, const md_euid *u, size_t n)
{
    int rc = buf_reserve(s, n);
    if (rc)
        return rc;
    if (n)
        memcpy(s->buf + s->buf_len, u, n * sizeof *u);
    s->buf_len += n;
    return 0;
}

static int euid_qcmp(const void *a, const void *b)
{
    return md_euid_cmp(a, b);
}

/* Sorts and deduplicates the buffer. */
static void buf_normalise(sealer *s)
{
    if (s->buf_len < 2)
        return;
    qsort(s->buf, s->buf_len, sizeof *s->buf, euid_qcmp);
    size_t w = 1;
    for (size_t i = 1; i < s->buf_len; i++)
        if (!md_euid_eq(&s->buf[w - 1], &s->buf[i]))
            s->buf[w++] = s->buf[i];
    s->buf_len = w;
}

/* Returns the shared array "ancestors of q, plus q" (built on first use). */
static int up_of(sealer *s, uint32_t q, const md_euid **out, uint32_t *n_out)
{
    if (!s->up[q]) {
        const md_entity *p = at(s->es, q);
        size_t n = p->n_ancestors;
        int rc = charge(s, n + 1);
        if (rc)
            return rc;
        md_euid *arr = md_arena_array(s->es->a, n + 1, sizeof *arr);
        if (!arr)
            return MANDATE_ENOMEM;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (md_euid_cmp(&p->ancestors[mid], &p->uid) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo)
            memcpy(arr, p->ancestors, lo * sizeof *arr);
        arr[lo] = p->uid;
        if (n > lo)
            memcpy(arr + lo + 1, p->ancestors + lo, (n - lo) * sizeof *arr);
        s->up[q] = arr;
        s->n_up[q] = (uint32_t)(n + 1);
    }
    *out = s->up[q];
    *n_out = s->n_up[q];
    return 0;
}

/* Copies the buffer (minus self) into the store arena as e's ancestors. */
static int set_ancestors_from_buf(sealer *s, md_entity *e)
{
    size_t n = 0;
    md_euid *arr = NULL;
    if (s->buf_len) {
        int rc = charge(s, s->buf_len);
        if (rc)
            return rc;
        arr = md_arena_array(s->es->a, s->buf_len, sizeof *arr);
        if (!arr)
            return MANDATE_ENOMEM;
        for (size_t i = 0; i < s->buf_len; i++)
            if (!md_euid_eq(&s->buf[i], &e->uid))
                arr[n++] = s->buf[i];
    }
    e->ancestors = n ? arr : NULL;
    e->n_ancestors = n;
    return 0;
}

/* Closure of one finished component: members[0..m). comp_id is already set on the members. */
static int finish_component(sealer *s, const uint32_t *members, size_t m, uint32_t comp_id)
{
    if (m == 1) {
        uint32_t v = members[0];
        md_entity *e = at(s->es, v);
        size_t b = s->poff[v], end = s->poff[v + 1];
        bool self_loop = false;
        for (size_t k = b; k < end; k++)
            if (s->pidx[k] == (int32_t)v)
                self_loop = true;
        if (!self_loop) {
            if (end == b) {
                e->ancestors = NULL;
                e->n_ancestors = 0;
                return 0;
            }
            if (end - b == 1 && s->pidx[b] >= 0) {
                const md_euid *arr;
                uint32_t n;
                int rc = up_of(s, (uint32_t)s->pidx[b], &arr, &n);
                if (rc)
                    return rc;
                e->ancestors = arr;
                e->n_ancestors = n;
                return 0;
            }
        }
    }
    s->buf_len = 0;
    int rc = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        uint32_t v = members[i];
        const md_entity *e = at(s->es, v);
        for (size_t k = s->poff[v]; k < s->poff[v + 1] && !rc; k++) {
            int32_t q = s->pidx[k];
            if (q < 0) {
                rc = buf_push_many(s, &e->parents[k - s->poff[v]], 1);
            } else if (s->comp[q] == comp_id) {
                /* same component: every member is pushed below */
            } else {
                const md_entity *p = at(s->es, (size_t)q);
                rc = buf_push_many(s, p->ancestors, p->n_ancestors);
                if (!rc)
                    rc = buf_push_many(s, &p->uid, 1);
            }
        }
    }
    bool cycle = m > 1;
    if (m == 1)
        for (size_t k = s->poff[members[0]]; k < s->poff[members[0] + 1]; k++)
            if (s->pidx[k] == (int32_t)members[0])
                cycle = true;
    if (cycle) {
        for (size_t i = 0; i < m && !rc; i++)
            rc = buf_push_many(s, &at(s->es, members[i])->uid, 1);
        if (!s->es->has_cycle) {
            s->es->has_cycle = true;
            s->es->cycle_at = at(s->es, members[0])->uid;
        }
    }
    if (rc)
        return rc;
    buf_normalise(s);
    for (size_t i = 0; i < m && !rc; i++)
        rc = set_ancestors_from_buf(s, at(s->es, members[i]));
    return rc;
}

static int span_cmp(const void *a, const void *b)
{
    uintptr_t x = ((const span *)a)->lo, y = ((const span *)b)->lo;
    return x < y ? -1 : x > y;
}

static int index_spans(md_entities *es)
{
    size_t n = (es->n + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
    span *sp = md_arena_array(es->a, n ? n : 1, sizeof *sp);
    if (!sp)
        return MANDATE_ENOMEM;
    for (size_t c = 0; c < n; c++) {
        uintptr_t lo = (uintptr_t)es->chunks[c];
        sp[c] = (span){lo, lo + (c ? CHUNK_SIZE : es->cap0) * sizeof(entry), (uint32_t)c};
    }
    qsort(sp, n, sizeof *sp, span_cmp);
    es->spans = sp;
    es->n_spans = n;
    es->lo = n ? sp[0].lo : 0;
    es->hi = 0;
    for (size_t c = 0; c < n; c++)
        if (sp[c].hi > es->hi)
            es->hi = sp[c].hi;
    return 0;
}

/* Points every entity-valued field of r that names a stored entity at that entity's uid (the same
 * uid, so nothing observable changes; the store's records are its own to write) and notes the
 * first two entities named in x->named. */
static void share_uids(const md_entities *es, const md_record *r, entry *x)
{
    md_rval *f = (md_rval *)r->vals;
    size_t n_named = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (f[i].kind != MD_V_ENTITY)
            continue;
        const md_euid *u = f[i].u.uid;
        const md_entity *t = md_entities_resolve(es, u);
        if (!t) {
            int64_t k = find_index(es, u);
            if (k < 0)
                continue;
            t = at(es, (size_t)k);
        }
        f[i].u.uid = &t->uid;
        if (!x || n_named == 2)
            continue;
        const entry *tx = (const entry *)(const void *)((const char *)t - offsetof(entry, e));
        if (n_named++ == 0) {
            x->named[0] = tx;
            x->named[1] = t->attrs;
        } else {
            x->named[2] = tx;
        }
    }
}

void md_entities_prefetch_named(const md_entity *e)
{
    const entry *x = (const entry *)(const void *)((const char *)e - offsetof(entry, e));
    for (int k = 0; k < 3; k += 2)
        if (x->named[k]) {
            __builtin_prefetch(x->named[k]);
            __builtin_prefetch((const char *)x->named[k] + LINE);
        }
    if (x->named[1]) {
        uintptr_t r = (uintptr_t)x->named[1];
        for (unsigned k = 0; k < 3; k++)
            __builtin_prefetch((const void *)(r + LINE * k));
    }
}

typedef struct frame {
    uint32_t v;
    size_t edge;
} frame;

int md_entities_seal(md_entities *es, md_diag *d)
{
    if (!es)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "cannot seal a NULL entity store");
    if (es->sealed)
        return 0;
    size_t n = es->n;
    int rc = 0;
    sealer s = {.es = es};
    s.sa = md_arena_new();
    if (!s.sa)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory sealing the entity store");
    size_t n_edges = 0;
    for (size_t i = 0; i < n; i++)
        n_edges += at(es, i)->n_parents;
    s.poff = md_arena_array(s.sa, n + 1, sizeof *s.poff);
    s.pidx = md_arena_array(s.sa, n_edges ? n_edges : 1, sizeof *s.pidx);
    s.comp = md_arena_array(s.sa, n ? n : 1, sizeof *s.comp);
    s.up = md_arena_array(s.sa, n ? n : 1, sizeof *s.up);
    s.n_up = md_arena_array(s.sa, n ? n : 1, sizeof *s.n_up);
    uint32_t *index = md_arena_array(s.sa, n ? n : 1, sizeof *index);
    uint32_t *low = md_arena_array(s.sa, n ? n : 1, sizeof *low);
    uint32_t *stack = md_arena_array(s.sa, n ? n : 1, sizeof *stack);
    frame *frames = md_arena_array(s.sa, n ? n : 1, sizeof *frames);
    if (!s.poff || !s.pidx || !s.comp || !s.up || !s.n_up || !index || !low || !stack || !frames) {
        rc = MANDATE_ENOMEM;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const md_entity *e = at(es, i);
        s.poff[i] = k;
        for (size_t j = 0; j < e->n_parents; j++) {
            int64_t q = find_index(es, &e->parents[j]);
            s.pidx[k++] = (int32_t)q;
        }
    }
    s.poff[n] = k;

    /* Iterative Tarjan. index[v] == 0: not visited; comp[v] != 0: finished (not on stack). */
    uint32_t counter = 0, comps = 0;
    size_t sp = 0;
    for (size_t r = 0; r < n && !rc; r++) {
        if (index[r])
            continue;
        size_t fp = 0;
        index[r] = low[r] = ++counter;
        stack[sp++] = (uint32_t)r;
        frames[fp++] = (frame){(uint32_t)r, s.poff[r]};
        while (fp && !rc) {
            frame *f = &frames[fp - 1];
            uint32_t v = f->v;
            if (f->edge < s.poff[v + 1]) {
                int32_t w = s.pidx[f->edge++];
                if (w < 0)
                    continue;
                if (!index[w]) {
                    index[w] = low[w] = ++counter;
                    stack[sp++] = (uint32_t)w;
                    frames[fp++] = (frame){(uint32_t)w, s.poff[w]};
                } else if (!s.comp[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            fp--;
            if (low[v] == index[v]) {
                uint32_t id = ++comps;
                size_t top = sp;
                do {
                    sp--;
                    s.comp[stack[sp]] = id;
                } while (stack[sp] != v);
                rc = finish_component(&s, stack + sp, top - sp, id);
            }
            if (fp) {
                uint32_t u = frames[fp - 1].v;
                if (low[v] < low[u])
                    low[u] = low[v];
            }
        }
    }
    if (!rc)
        rc = index_spans(es);
    for (size_t i = 0; i < n && !rc; i++) {
        entry *x = &es->chunks[i >> CHUNK_SHIFT][i & CHUNK_MASK];
        x->named[0] = x->named[1] = x->named[2] = NULL;
        share_uids(es, x->e.attrs, x);
        share_uids(es, x->e.tags, NULL);
    }
    if (!rc)
        es->sealed = true;
done:
    md_arena_free(s.sa);
    if (rc == MANDATE_ENOMEM)
        return md_diag_set(d, rc, 0, 0, "out of memory computing the entity ancestor closure");
    if (rc == MANDATE_ETOOBIG)
        return md_diag_set(d, rc, 0, 0,
                           "the entity hierarchy is too deep: its ancestor closure has over %u "
                           "entries",
                           MD_ENTITIES_MAX_CLOSURE);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "cannot compute the entity ancestor closure: %s",
                           mandate_strerror(rc));
    return 0;
}
