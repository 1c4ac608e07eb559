/*
 * policy_index.c: an index of a policy set by action, so the authorizer evaluates only the
 * policies whose action scope can hold. A policy's action scope is one of: any action; `==` a
 * uid; `in` a uid or a list of uids. For a request with action A, the candidates are the
 * any-action policies, the `==` A policies, and the `in` X policies for X = A or an ancestor of A
 * (from the entity store's precomputed ancestors). Skipping the others never changes a decision:
 * their scope is false, so they are neither satisfied nor erroring (scopes cannot error).
 */
#include <stdlib.h>

#include "cedar/cedar_int.h"

typedef struct bucket {
    md_euid key;
    size_t n;
    uint32_t *pos; /* ascending */
    bool used;
} bucket;

struct md_policy_index {
    size_t n_any;
    uint32_t *any;
    size_t cap; /* power of two */
    bucket *eq; /* `action == key` */
    bucket *in; /* `action in key` or `action in [.., key, ..]` */
};

static bucket *find(bucket *t, size_t cap, const md_euid *k, bool insert)
{
    size_t mask = cap - 1, i = (size_t)md_euid_hash(k) & mask;
    while (t[i].used) {
        if (md_euid_eq(&t[i].key, k))
            return &t[i];
        i = (i + 1) & mask;
    }
    if (!insert)
        return NULL;
    t[i].used = true;
    t[i].key = *k;
    return &t[i];
}

/* Two passes over the policies: count into each bucket, then fill. */
static int add(md_arena *a, bucket *t, size_t cap, const md_euid *k, uint32_t pos, bool fill)
{
    bucket *b = find(t, cap, k, true);
    if (!fill) {
        b->n++;
        return 0;
    }
    if (!b->pos) {
        b->pos = md_arena_array(a, b->n, sizeof *b->pos);
        if (!b->pos)
            return MANDATE_ENOMEM;
        b->n = 0;
    }
    if (b->n == 0 || b->pos[b->n - 1] != pos) /* `in [X, X]` lists X once */
        b->pos[b->n++] = pos;
    return 0;
}

int md_policyset_reindex(md_arena *a, md_policyset *ps)
{
    if (ps->n > UINT32_MAX)
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
    if (!ix || !(ix->eq = md_arena_array(a, cap, sizeof *ix->eq)) ||
        !(ix->in = md_arena_array(a, cap, sizeof *ix->in)) ||
        !(ix->any = md_arena_array(a, ps->n + 1, sizeof *ix->any)))
        return MANDATE_ENOMEM;
    ix->cap = cap;
    for (int fill = 0; fill < 2; fill++) {
        for (size_t i = 0; i < ps->n; i++) {
            const md_scope *s = &ps->policies[i]->action;
            uint32_t pos = (uint32_t)i;
            int rc = 0;
            if (s->slot) {
                /* Cedar allows no action slot; evaluate such a policy always. */
                if (fill)
                    ix->any[ix->n_any++] = pos;
                continue;
            }
            switch (s->kind) {
            case MD_SCOPE_EQ: rc = add(a, ix->eq, cap, &s->uid, pos, fill); break;
            case MD_SCOPE_IN: rc = add(a, ix->in, cap, &s->uid, pos, fill); break;
            case MD_SCOPE_IN_LIST:
                for (size_t k = 0; k < s->n_uids && !rc; k++)
                    rc = add(a, ix->in, cap, &s->uids[k], pos, fill);
                break;
            default:
                if (fill)
                    ix->any[ix->n_any++] = pos;
            }
            if (rc)
                return rc;
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
    memcpy(out + *n, v, k * sizeof *v);
    *n += k;
}

static void mark(uint64_t *bits, const uint32_t *v, size_t k)
{
    for (size_t i = 0; i < k; i++)
        bits[v[i] >> 6] |= 1ull << (v[i] & 63);
}

int md_policyset_candidates(md_arena *a, const md_policyset *ps, const md_euid *action,
                            const md_entity *e, const uint32_t **out, size_t *n_out)
{
    const md_policy_index *ix = ps->index;
    const bucket *lists[64];
    size_t n_lists = 0, total = ix->n_any + (ps->n - ps->indexed);
    const bucket *b = find(ix->eq, ix->cap, action, false);
    if (b)
        lists[n_lists++] = b;
    if ((b = find(ix->in, ix->cap, action, false)))
        lists[n_lists++] = b;
    for (size_t i = 0; e && i < e->n_ancestors; i++) {
        if (!(b = find(ix->in, ix->cap, &e->ancestors[i], false)))
            continue;
        if (n_lists == MD_ARRAY_LEN(lists)) {
            /* An action in more than 62 indexed groups: evaluate everything. */
            *out = NULL;
            *n_out = SIZE_MAX;
            return 0;
        }
        lists[n_lists++] = b;
    }
    for (size_t i = 0; i < n_lists; i++)
        total += lists[i]->n;
    uint32_t *pos = md_arena_array(a, total + 1, sizeof *pos);
    if (!pos)
        return MANDATE_ENOMEM;
    size_t n = 0, words = (ps->n + 63) / 64;
    if (words <= total) {
        /* The union in policy order without repeats: a bitmap over positions, read in order. */
        uint64_t *bits = md_arena_array(a, words, sizeof *bits);
        if (!bits)
            return MANDATE_ENOMEM;
        mark(bits, ix->any, ix->n_any);
        for (size_t i = 0; i < n_lists; i++)
            mark(bits, lists[i]->pos, lists[i]->n);
        for (size_t i = ps->indexed; i < ps->n; i++)
            bits[i >> 6] |= 1ull << (i & 63);
        for (size_t w = 0; w < words; w++)
            for (uint64_t x = bits[w]; x; x &= x - 1)
                pos[n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
    } else {
        /* Few candidates among many policies: concatenate, sort, drop repeats. */
        append(pos, &n, ix->any, ix->n_any);
        for (size_t i = 0; i < n_lists; i++)
            append(pos, &n, lists[i]->pos, lists[i]->n);
        for (size_t i = ps->indexed; i < ps->n; i++)
            pos[n++] = (uint32_t)i;
        qsort(pos, n, sizeof *pos, cmp_u32);
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (w == 0 || pos[w - 1] != pos[i])
                pos[w++] = pos[i];
        n = w;
    }
    *out = pos;
    *n_out = n;
    return 0;
}
