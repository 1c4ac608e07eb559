/*
 * policy_index.c: an index of a policy set by action, so the authorizer evaluates only the
 * policies whose action scope can hold. A policy's action scope is one of: any action; `==` a
 * uid; `in` a uid or a list of uids. For a request with action A, the candidates are the
 * any-action policies, the `==` A policies, and the `in` X policies for X = A or an ancestor of A
 * (from the entity store's precomputed ancestors). Skipping the others never changes a decision:
 * their scope is false, so they are neither satisfied nor erroring (scopes cannot error). One
 * table keyed by action uid holds both the `==` and the `in` lists, so the request's action is
 * hashed once, and each of its ancestors once.
 *
 * When the candidates are gathered in a bitmap, the policies whose principal or resource scope
 * requires an entity type other than the request's (`principal is User`, `resource == T::"x"`)
 * are dropped too: such a scope is false, exactly as for the action.
 */
#include <stdlib.h>

#include "cedar/cedar_int.h"

/* The policies keyed by one action uid: `action == key` and `action in key` (or a list holding
 * key), so that one hash of the request's action finds both. */
typedef struct bucket {
    md_euid key;
    size_t n_eq, n_in;
    uint32_t *eq, *in;           /* positions, ascending */
    uint64_t *eq_bits, *in_bits; /* the same as bitmaps, in small policy sets */
    bool used;
} bucket;

/* Policy sets of up to SMALL_WORDS * 64 policies also keep every list as a bitmap, so that the
 * candidates are a few ORs and ANDs of words. */
#define SMALL_WORDS 16

/* Most distinct entity types one scope position may require before the type filter is off. */
#define MAX_TYPES 16

/* Which policies a request's principal (or resource) type admits, as bitmaps over positions: the
 * policies whose scope requires no type, and per required type the policies requiring it. */
typedef struct type_filter {
    bool off; /* too many distinct types: no filtering */
    size_t n;
    uint32_t sig[MAX_TYPES]; /* md_key_sig of each type, compared first */
    md_str type[MAX_TYPES];
    uint64_t *bits[MAX_TYPES];
    uint64_t *any_type;
} type_filter;

struct md_policy_index {
    size_t n_any;
    uint32_t *any;
    size_t cap; /* power of two */
    bucket *tab;
    size_t words; /* of the bitmaps below */
    type_filter principal, resource;
    uint64_t *plain;    /* no slots, action scope any, ==, in or in [...]: held when a candidate */
    uint64_t *any_bits; /* any as a bitmap, in small policy sets (else NULL) */
};

static void mark(uint64_t *bits, const uint32_t *v, size_t k)
{
    for (size_t i = 0; i < k; i++)
        bits[v[i] >> 6] |= 1ull << (v[i] & 63);
}

static uint64_t *bitmap_of(md_arena *a, size_t words, const uint32_t *pos, size_t n)
{
    uint64_t *bits = md_arena_array(a, words, sizeof *bits);
    if (bits)
        mark(bits, pos, n);
    return bits;
}

/* The entity type a scope requires (== T::"x", is T, is T in E), or NULL. */
static const md_str *required_type(const md_scope *s)
{
    if (s->kind == MD_SCOPE_IS || s->kind == MD_SCOPE_IS_IN)
        return &s->type;
    if (s->kind == MD_SCOPE_EQ && !s->slot)
        return &s->uid.type;
    return NULL;
}

static int filter_add(md_arena *a, type_filter *f, size_t words, const md_scope *s, uint32_t pos)
{
    const md_str *t = required_type(s);
    uint64_t **bits = &f->any_type;
    if (t) {
        size_t i = 0;
        while (i < f->n && !md_bytes_eq(f->type[i], *t))
            i++;
        if (i == MAX_TYPES) {
            f->off = true;
            return 0;
        }
        if (i == f->n) {
            f->sig[i] = md_key_sig(*t);
            f->type[f->n++] = *t;
        }
        bits = &f->bits[i];
    }
    if (!*bits && !(*bits = md_arena_array(a, words, sizeof **bits)))
        return MANDATE_ENOMEM;
    (*bits)[pos >> 6] |= 1ull << (pos & 63);
    return 0;
}

/* Clears the bits of the policies whose scope requires another type than t. */
static void filter_apply(const type_filter *f, size_t words, md_str t, uint64_t *bits)
{
    if (f->off)
        return;
    const uint64_t *match = NULL;
    uint32_t sig = md_key_sig(t);
    for (size_t i = 0; i < f->n && !match; i++)
        if (f->sig[i] == sig && md_bytes_eq(f->type[i], t))
            match = f->bits[i];
    for (size_t w = 0; w < words; w++)
        bits[w] &= (f->any_type ? f->any_type[w] : 0) | (match ? match[w] : 0);
}

static bucket *find(bucket *t, size_t cap, const md_euid *k, bool insert)
{
    size_t mask = cap - 1, i = (size_t)md_euid_hash(k) & mask;
    while (t[i].used) {
        if (md_bytes_eq(t[i].key.id, k->id) && md_bytes_eq(t[i].key.type, k->type))
            return &t[i];
        i = (i + 1) & mask;
    }
    if (!insert)
        return NULL;
    t[i].used = true;
    t[i].key = *k;
    return &t[i];
}

/* Two passes over the policies: count into each list, then fill. */
static int add(md_arena *a, size_t *n, uint32_t **list, uint32_t pos, bool fill)
{
    if (!fill) {
        (*n)++;
        return 0;
    }
    if (!*list) {
        *list = md_arena_array(a, *n, sizeof **list);
        if (!*list)
            return MANDATE_ENOMEM;
        *n = 0;
    }
    if (*n == 0 || (*list)[*n - 1] != pos) /* `in [X, X]` lists X once */
        (*list)[(*n)++] = pos;
    return 0;
}

int md_policyset_reindex(md_arena *a, md_policyset *ps)
{
    if (ps->n >= MD_CANDIDATE_PLAIN)
        return MANDATE_ETOOBIG;
    size_t keys = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const md_scope *s = &ps->policies[i]->action;
        keys += s->kind == MD_SCOPE_IN_LIST ? s->n_uids : 1;
    }
    md_policy_index *ix = md_arena_alloc(a, sizeof *ix);
    size_t cap = 16;
    while (cap < keys * 2)
        cap *= 2;
    if (!ix || !(ix->tab = md_arena_array(a, cap, sizeof *ix->tab)) ||
        !(ix->any = md_arena_array(a, ps->n + 1, sizeof *ix->any)))
        return MANDATE_ENOMEM;
    ix->cap = cap;
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < ps->n; i++) {
            const md_scope *s = &ps->policies[i]->action;
            uint32_t pos = (uint32_t)i;
            int rc = 0;
            bucket *b;
            if (s->slot) {
                /* Cedar allows no action slot; evaluate such a policy always. */
                if (fill)
                    ix->any[ix->n_any++] = pos;
                continue;
            }
            switch (s->kind) {
            case MD_SCOPE_EQ:
                b = find(ix->tab, cap, &s->uid, true);
                rc = add(a, &b->n_eq, &b->eq, pos, fill);
                break;
            case MD_SCOPE_IN:
                b = find(ix->tab, cap, &s->uid, true);
                rc = add(a, &b->n_in, &b->in, pos, fill);
                break;
            case MD_SCOPE_IN_LIST:
                for (size_t k = 0; k < s->n_uids && !rc; k++) {
                    b = find(ix->tab, cap, &s->uids[k], true);
                    rc = add(a, &b->n_in, &b->in, pos, fill);
                }
                break;
            default:
                if (fill)
                    ix->any[ix->n_any++] = pos;
            }
            if (rc)
                return rc;
        }
    }
    ix->words = (ps->n + 63) / 64;
    if (!(ix->plain = md_arena_array(a, ix->words + 1, sizeof *ix->plain)))
        return MANDATE_ENOMEM;
    for (size_t i = 0; i < ps->n; i++) {
        const md_policy *p = ps->policies[i];
        md_scope_kind k = p->action.kind;
        if (!p->principal.slot && !p->action.slot && !p->resource.slot &&
            (k == MD_SCOPE_ANY || k == MD_SCOPE_EQ || k == MD_SCOPE_IN || k == MD_SCOPE_IN_LIST))
            ix->plain[i >> 6] |= 1ull << (i & 63);
        int rc = filter_add(a, &ix->principal, ix->words, &p->principal, (uint32_t)i);
        if (!rc)
            rc = filter_add(a, &ix->resource, ix->words, &p->resource, (uint32_t)i);
        if (rc)
            return rc;
    }
    if (ix->words <= SMALL_WORDS) {
        if (!(ix->any_bits = bitmap_of(a, ix->words, ix->any, ix->n_any)))
            return MANDATE_ENOMEM;
        for (size_t i = 0; i < cap; i++) {
            bucket *b = &ix->tab[i];
            if (b->used && (!(b->eq_bits = bitmap_of(a, ix->words, b->eq, b->n_eq)) ||
                            !(b->in_bits = bitmap_of(a, ix->words, b->in, b->n_in))))
                return MANDATE_ENOMEM;
        }
    }
    ps->index = ix;
    ps->indexed = ps->n;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void append(uint32_t *out, size_t *n, const uint32_t *v, size_t k)
{
    if (k)
        memcpy(out + *n, v, k * sizeof *v);
    *n += k;
}

/* MD_CANDIDATE_PLAIN for an indexed plain policy, else 0. */
static inline uint32_t flag(const md_policyset *ps, size_t i)
{
    return i < ps->indexed && (ps->index->plain[i >> 6] >> (i & 63) & 1) ? MD_CANDIDATE_PLAIN : 0;
}

/* A position list to merge into the candidates. */
typedef struct run {
    const uint32_t *pos;
    size_t n;
} run;

/* The candidates in a small policy set, from the precomputed bitmaps. */
static int candidates_small(md_arena *a, const md_policyset *ps, const md_request *req,
                            const md_entity *e, const uint32_t **out, size_t *n_out)
{
    const md_policy_index *ix = ps->index;
    size_t words = (ps->n + 63) / 64;
    uint64_t bits[SMALL_WORDS];
    for (size_t w = 0; w < words; w++)
        bits[w] = w < ix->words ? ix->any_bits[w] : 0;
    const bucket *b = find(ix->tab, ix->cap, &req->action, false);
    for (size_t w = 0; b && w < ix->words; w++)
        bits[w] |= b->eq_bits[w] | b->in_bits[w];
    for (size_t i = 0; e && i < e->n_ancestors; i++)
        if ((b = find(ix->tab, ix->cap, &e->ancestors[i], false)) && b->n_in)
            for (size_t w = 0; w < ix->words; w++)
                bits[w] |= b->in_bits[w];
    filter_apply(&ix->principal, ix->words, req->principal.type, bits);
    filter_apply(&ix->resource, ix->words, req->resource.type, bits);
    for (size_t i = ps->indexed; i < ps->n; i++)
        bits[i >> 6] |= 1ull << (i & 63);
    uint32_t found[SMALL_WORDS * 64];
    size_t n = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t plain = w < ix->words ? ix->plain[w] : 0; /* (no bit past indexed is set) */
        for (uint64_t x = bits[w]; x; x &= x - 1) {
            unsigned bit = (unsigned)__builtin_ctzll(x);
            found[n++] = (uint32_t)(w * 64 + bit) | (plain >> bit & 1 ? MD_CANDIDATE_PLAIN : 0);
        }
    }
    uint32_t *pos = md_arena_array(a, n + 1, sizeof *pos);
    if (!pos)
        return MANDATE_ENOMEM;
    memcpy(pos, found, n * sizeof *pos);
    *out = pos;
    *n_out = n;
    return 0;
}

int md_policyset_candidates(md_arena *a, const md_policyset *ps, const md_request *req,
                            const md_entity *e, const uint32_t **out, size_t *n_out)
{
    const md_policy_index *ix = ps->index;
    if (ix->any_bits && ps->n <= SMALL_WORDS * 64)
        return candidates_small(a, ps, req, e, out, n_out);
    const md_euid *action = &req->action;
    run lists[64];
    size_t n_lists = 0, total = ix->n_any + (ps->n - ps->indexed);
    const bucket *b = find(ix->tab, ix->cap, action, false);
    if (b) {
        lists[n_lists++] = (run){b->eq, b->n_eq};
        lists[n_lists++] = (run){b->in, b->n_in};
    }
    for (size_t i = 0; e && i < e->n_ancestors; i++) {
        if (!(b = find(ix->tab, ix->cap, &e->ancestors[i], false)) || !b->n_in)
            continue;
        if (n_lists == MD_ARRAY_LEN(lists)) {
            /* An action in more than 62 indexed groups: evaluate everything. */
            *out = NULL;
            *n_out = SIZE_MAX;
            return 0;
        }
        lists[n_lists++] = (run){b->in, b->n_in};
    }
    for (size_t i = 0; i < n_lists; i++)
        total += lists[i].n;
    uint32_t *pos = md_arena_array(a, total + 1, sizeof *pos);
    if (!pos)
        return MANDATE_ENOMEM;
    size_t n = 0, words = (ps->n + 63) / 64;
    if (words <= total) {
        /* The union in policy order without repeats: a bitmap over positions, read in order. */
        uint64_t local[16] = {0};
        uint64_t *bits =
            words <= MD_ARRAY_LEN(local) ? local : md_arena_array(a, words, sizeof *bits);
        if (!bits)
            return MANDATE_ENOMEM;
        mark(bits, ix->any, ix->n_any);
        for (size_t i = 0; i < n_lists; i++)
            mark(bits, lists[i].pos, lists[i].n);
        filter_apply(&ix->principal, ix->words, req->principal.type, bits);
        filter_apply(&ix->resource, ix->words, req->resource.type, bits);
        for (size_t i = ps->indexed; i < ps->n; i++)
            bits[i >> 6] |= 1ull << (i & 63);
        for (size_t w = 0; w < words; w++)
            for (uint64_t x = bits[w]; x; x &= x - 1) {
                size_t i = w * 64 + (size_t)__builtin_ctzll(x);
                pos[n++] = (uint32_t)i | flag(ps, i);
            }
    } else {
        /* Few candidates among many policies: concatenate, sort, drop repeats. */
        append(pos, &n, ix->any, ix->n_any);
        for (size_t i = 0; i < n_lists; i++)
            append(pos, &n, lists[i].pos, lists[i].n);
        for (size_t i = ps->indexed; i < ps->n; i++)
            pos[n++] = (uint32_t)i;
        qsort(pos, n, sizeof *pos, cmp_u32);
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (w == 0 || pos[w - 1] != pos[i])
                pos[w++] = pos[i];
        n = w;
        for (size_t i = 0; i < n; i++)
            pos[i] |= flag(ps, pos[i]);
    }
    *out = pos;
    *n_out = n;
    return 0;
}
