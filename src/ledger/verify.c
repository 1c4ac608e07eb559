/*
 * verify.c: the offline ledger verifier. It recomputes every leaf and every complete-subtree
 * hash from the stored entries and compares each with the stored node; every stored checkpoint's
 * signature is checked and its root compared with the recomputed root at its size.
 *
 * Blame: a mismatch whose recomputed children were themselves consistent is a root cause; the
 * mismatches it causes above it are not reported. The report names the root cause with the
 * lowest entry index; checkpoint faults are reported only when entries and nodes are clean.
 *
 * Two threads: the entries are cut into aligned chunks of 2^CHUNK_LOG entries. For a chunk, a
 * worker (either thread, each with its own store connection and read snapshot) reads its entries,
 * computes their leaf hashes and every complete subtree inside the chunk (levels 0..CHUNK_LOG),
 * and compares those with the stored nodes, recording a status per node. The main thread then
 * replays the chunks in index order through the same blame logic as a one-pass verifier (the
 * reference, run_serial, kept for tests): the right-edge frontier, the levels above the chunk
 * (few nodes, read with its own cursors) and the checkpoints. So the first bad index is the same
 * as a serial pass would name. Memory: CHUNK_SLOTS chunks in flight, O(2^CHUNK_LOG) each.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ledger/ledger_int.h"

typedef struct cp_info {
    uint64_t size;
    uint8_t root[MD_HASH_LEN];
} cp_info;

typedef struct vstate {
    md_store *s;
    md_store_iter *it[MD_MERKLE_MAX_LEVEL + 1];
    int broken[MD_MERKLE_MAX_LEVEL + 1];
    uint8_t dirty[MD_MERKLE_MAX_LEVEL + 1];
    int cur_dirty;
    unsigned last_level;
    int any_dirty;
    int fatal;
    md_diag *d;
    mandate_ledger_report *r;
    /* best root cause among entries and nodes */
    int have;
    const char *kind;
    uint64_t index;
    unsigned level;
    char msg[400];
    /* first checkpoint fault */
    int have_cp;
    uint64_t cp_size;
    char cp_msg[400];
} vstate;

static void blame(vstate *v, const char *kind, uint64_t index, unsigned level, const char *fmt, ...)
    MD_PRINTF(5, 6);

static void blame(vstate *v, const char *kind, uint64_t index, unsigned level, const char *fmt, ...)
{
    if (v->have && v->index <= index)
        return;
    v->have = 1;
    v->kind = kind;
    v->index = index;
    v->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

static void blame_cp(vstate *v, uint64_t size, const char *fmt, ...) MD_PRINTF(3, 4);

static void blame_cp(vstate *v, uint64_t size, const char *fmt, ...)
{
    if (v->have_cp && v->cp_size <= size)
        return;
    v->have_cp = 1;
    v->cp_size = size;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->cp_msg, sizeof v->cp_msg, fmt, ap);
    va_end(ap);
}

/* Compares the recomputed node (level, idx) with the next stored node of that level. */
static int check_node(vstate *v, unsigned level, uint64_t idx, const uint8_t h[MD_HASH_LEN],
                      int children_dirty)
{
    if (v->broken[level])
        return 1;
    if (!v->it[level]) {
        int rc = v->s->ops->iter_open(v->s, MD_STORE_NODES, level, 0, &v->it[level], v->d);
        if (rc) {
            v->fatal = rc;
            return 1;
        }
    }
    md_store_row row;
    int got = v->s->ops->iter_next(v->it[level], &row, v->d);
    if (got < 0) {
        v->fatal = got;
        return 1;
    }
    uint64_t first = idx << level, last = ((idx + 1) << level) - 1;
    if (got == 0 || row.index != idx) {
        v->broken[level] = 1;
        v->any_dirty = 1;
        if (!children_dirty)
            blame(v, level ? "node" : "entry", first, level,
                  "tree node level %u index %" PRIu64 " (entries %" PRIu64 "..%" PRIu64
                  ") is missing",
                  level, idx, first, last);
        return 1;
    }
    v->r->nodes++;
    if (row.len == MD_HASH_LEN && memcmp(row.data, h, MD_HASH_LEN) == 0)
        return children_dirty;
    v->any_dirty = 1;
    if (!children_dirty) {
        if (level == 0)
            blame(v, "entry", idx, 0,
                  "entry %" PRIu64 " does not match its stored leaf hash (the entry or its leaf "
                  "hash was altered)",
                  idx);
        else
            blame(v, "node", first, level,
                  "tree node level %u index %" PRIu64 " (entries %" PRIu64 "..%" PRIu64
                  ") does not match the hash of its children",
                  level, idx, first, last);
    }
    return 1;
}

static int emit_check(void *ctx, unsigned level, uint64_t idx, const uint8_t h[MD_HASH_LEN])
{
    vstate *v = ctx;
    /* dirty[k] belongs to the frontier's left subtree at level k; cur_dirty to the new one. */
    if (level == 0)
        v->cur_dirty = check_node(v, 0, idx, h, 0);
    else
        v->cur_dirty = check_node(v, level, idx, h, v->dirty[level - 1] || v->cur_dirty);
    v->last_level = level;
    return 0;
}

static int load_checkpoints(vstate *v, const md_note_verifier *key, uint64_t n, cp_info **out,
                            size_t *count)
{
    md_store_iter *it = NULL;
    int rc = v->s->ops->iter_open(v->s, MD_STORE_CHECKPOINTS, 0, 0, &it, v->d);
    if (rc)
        return rc;
    cp_info *cps = NULL;
    size_t nc = 0, cap = 0;
    md_store_row row;
    int got;
    while ((got = v->s->ops->iter_next(it, &row, v->d)) == 1) {
        v->r->checkpoints++;
        md_diag d;
        md_diag_clear(&d);
        size_t tl = 0;
        uint64_t size = 0;
        uint8_t root[MD_HASH_LEN];
        if (md_note_open(key, row.data, row.len, &tl, &d) != 0 ||
            md_checkpoint_parse(row.data, tl, NULL, &size, root, &d) != 0) {
            blame_cp(v, row.index, "checkpoint at tree size %" PRIu64 ": %s", row.index, d.msg);
            continue;
        }
        if (size != row.index) {
            blame_cp(v, row.index,
                     "checkpoint stored at tree size %" PRIu64 " is signed for size %" PRIu64,
                     row.index, size);
            continue;
        }
        if (size > n) {
            blame(v, "entry", n, 0,
                  "entries from index %" PRIu64
                  " on are missing: a signed checkpoint covers %" PRIu64
                  " entries but only %" PRIu64 " are stored",
                  n, size, n);
            continue;
        }
        if (nc == cap) {
            cap = cap ? cap * 2 : 64;
            void *p = realloc(cps, cap * sizeof *cps);
            if (!p) {
                got = md_diag_set(v->d, MANDATE_ENOMEM, 0, 0, "out of memory");
                break;
            }
            cps = p;
        }
        cps[nc].size = size;
        memcpy(cps[nc].root, root, MD_HASH_LEN);
        nc++;
    }
    v->s->ops->iter_close(it);
    if (got < 0) {
        free(cps);
        return got;
    }
    *out = cps;
    *count = nc;
    return 0;
}

static void check_root(vstate *v, const md_merkle_frontier *fr, const cp_info *cp)
{
    uint8_t root[MD_HASH_LEN];
    md_merkle_frontier_root(fr, root);
    if (memcmp(root, cp->root, MD_HASH_LEN) == 0 || v->any_dirty)
        return;
    blame_cp(v, cp->size,
             "checkpoint at tree size %" PRIu64
             " is validly signed but its root does not match the stored entries: entries "
             "before index %" PRIu64 " were rewritten",
             cp->size, cp->size);
}

static int load_key(vstate *v, const char *vkey_text, md_note_verifier *out)
{
    md_store *s = v->s;
    md_diag *d = v->d;
    char vkey[512];
    md_note_verifier key;
    md_buf b;
    md_buf_init(&b, 1024);
    int rc = 0;
    if (vkey_text) {
        rc = md_note_verifier_parse(vkey_text, strlen(vkey_text), &key, d);
    } else {
        md_note_verifier tmp;
        rc = s->ops->meta_get(s, "ledger.verifier_key", &b, d);
        if (rc == 0 && b.len < sizeof vkey) {
            memcpy(vkey, b.data, b.len);
            vkey[b.len] = 0;
            rc = md_note_verifier_parse(vkey, b.len, &tmp, d);
            key = tmp;
        } else if (rc == 0) {
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "the stored verifier key is malformed");
        }
    }
    md_buf_release(&b);
    if (rc == 0)
        *out = key;
    return rc;
}

/* Nodes stored beyond a tree of n entries mean entries were deleted from the end. */
static int check_beyond(vstate *v, uint64_t n, int reuse_cursors)
{
    md_store *s = v->s;
    md_store_row row;
    for (unsigned lev = 0; lev <= MD_MERKLE_MAX_LEVEL; lev++) {
        if (v->broken[lev])
            continue;
        if (!v->it[lev] || !reuse_cursors) {
            if ((n >> lev) == 0 && lev > 0)
                break;
            if (v->it[lev]) {
                s->ops->iter_close(v->it[lev]);
                v->it[lev] = NULL;
            }
            /* A cursor that consumed nodes 0 .. (n >> lev) - 1 would be here. */
            int rc = s->ops->iter_open(s, MD_STORE_NODES, lev, reuse_cursors ? 0 : n >> lev,
                                       &v->it[lev], v->d);
            if (rc)
                return rc;
        }
        int got = s->ops->iter_next(v->it[lev], &row, v->d);
        if (got < 0)
            return got;
        if (got == 1)
            blame(v, "entry", n, 0,
                  "entries from index %" PRIu64 " on are missing: tree node level %u index %" PRIu64
                  " lies beyond the tree of %" PRIu64 " entries",
                  n, lev, row.index, n);
    }
    return 0;
}

/* What both verifiers do first: the key, the entry count, the signed checkpoints (checked at
 * the sizes they claim as the replay reaches them) and the empty tree's checkpoints. */
static int verify_begin(vstate *v, const char *vkey_text, uint64_t *n, cp_info **cps, size_t *nc,
                        size_t *ci, md_merkle_frontier *fr)
{
    md_note_verifier key;
    int rc = load_key(v, vkey_text, &key);
    if (rc == 0)
        rc = v->s->ops->entry_count(v->s, n, v->d);
    if (rc == 0)
        rc = load_checkpoints(v, &key, *n, cps, nc);
    if (rc)
        return rc;
    if (v->r->checkpoints == 0)
        blame_cp(v, 0, "the database holds no checkpoint at all (they were deleted)");
    memset(fr, 0, sizeof *fr);
    *ci = 0;
    while (*ci < *nc && (*cps)[*ci].size == 0)
        check_root(v, fr, &(*cps)[(*ci)++]);
    return 0;
}

/* The reference verifier: one pass, one thread, one cursor per level. */
static int run_serial(vstate *v, const char *vkey_text)
{
    md_store *s = v->s;
    md_diag *d = v->d;
    uint64_t n = 0;
    cp_info *cps = NULL;
    size_t nc = 0, ci = 0;
    md_merkle_frontier fr;
    int rc = verify_begin(v, vkey_text, &n, &cps, &nc, &ci, &fr);
    if (rc)
        return rc;
    md_store_iter *it = NULL;
    if ((rc = s->ops->iter_open(s, MD_STORE_ENTRIES, 0, 0, &it, d)) != 0)
        goto out;
    md_store_row row;
    int got;
    uint64_t i = 0;
    while ((got = s->ops->iter_next(it, &row, d)) == 1) {
        if (row.index != i) {
            blame(v, "entry", i, 0, "entry %" PRIu64 " is missing (the next stored is %" PRIu64 ")",
                  i, row.index);
            v->any_dirty = 1;
            break;
        }
        v->r->entries++;
        if (md_entry_decode(row.data, row.len, NULL, NULL, NULL, NULL) != 0) {
            blame(v, "entry", i, 0, "entry %" PRIu64 " is malformed", i);
            v->any_dirty = 1;
        }
        uint8_t leaf[MD_HASH_LEN];
        md_merkle_leaf_hash(row.data, row.len, leaf);
        md_merkle_frontier_push(&fr, leaf, emit_check, v);
        v->dirty[v->last_level] = (uint8_t)v->cur_dirty;
        if (v->fatal) {
            rc = v->fatal;
            break;
        }
        i++;
        while (ci < nc && cps[ci].size == i)
            check_root(v, &fr, &cps[ci++]);
    }
    s->ops->iter_close(it);
    if (rc == 0 && got < 0)
        rc = got;
    if (rc)
        goto out;
    rc = check_beyond(v, n, 1);
out:
    free(cps);
    return rc;
}

/* ---- the two-thread verifier ---- */

#define CHUNK_LOG_DEFAULT 13
#define CHUNK_LOG_MAX 16
#define CHUNK_SLOTS 4

static unsigned chunk_log = CHUNK_LOG_DEFAULT;

void md_ledger_verify_set_chunk_log(unsigned lg)
{
    chunk_log = lg >= 1 && lg <= CHUNK_LOG_MAX ? lg : CHUNK_LOG_DEFAULT;
}

enum { NODE_OK = 0, NODE_BAD = 1, NODE_MISSING = 2 };
enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_READY = 2 };

typedef struct chunk {
    int state;
    uint64_t id;
    uint64_t valid;     /* entries present from the chunk's start, before a gap or the end */
    int gap;            /* entry start + valid is missing */
    int gap_next_known; /* ... and the next stored entry is gap_next */
    uint64_t gap_next;
    uint64_t malformed;        /* the first malformed entry in the chunk, or UINT64_MAX */
    uint8_t (*h)[MD_HASH_LEN]; /* level k's hashes at h + off[k] */
    uint8_t *st;               /* level k's node statuses at st + off[k] */
} chunk;

typedef struct par {
    vstate *v;
    const char *db_path;
    uint64_t n, nchunks;
    unsigned lg;
    uint64_t off[CHUNK_LOG_MAX + 2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk slots[CHUNK_SLOTS];
    uint64_t next_claim, done;
    int stop;
    int err; /* the first worker error */
    md_diag err_diag;
} par;

/* Sets the status of stored node j of level k of chunk c: the level is broken from its first
 * missing node on, so a node is only matched in sequence. */
static void mark_node(par *p, chunk *c, unsigned k, uint64_t j, const md_store_row *row)
{
    const uint8_t *h = c->h[p->off[k] + j];
    c->st[p->off[k] + j] =
        row->len == MD_HASH_LEN && memcmp(row->data, h, MD_HASH_LEN) == 0 ? NODE_OK : NODE_BAD;
}

static void mark_missing(par *p, chunk *c, unsigned k, uint64_t from)
{
    for (uint64_t j = from; j < c->valid >> k; j++)
        c->st[p->off[k] + j] = NODE_MISSING;
}

/* The chunk's stored nodes in one scan in completion order (MANDATE_ENOTFOUND when the store
 * keeps no such order). */
static int compare_tree(par *p, md_store *s, chunk *c, uint64_t start, md_diag *d)
{
    md_store_iter *it = NULL;
    md_diag nd;
    md_diag_clear(&nd);
    int rc = s->ops->iter_open(s, MD_STORE_TREE, 0, start, &it, &nd);
    if (rc)
        return rc == MANDATE_ENOTFOUND ? rc : md_diag_set(d, rc, 0, 0, "%s", nd.msg);
    uint64_t next[MD_MERKLE_MAX_LEVEL + 1] = {0};
    bool broken[MD_MERKLE_MAX_LEVEL + 1] = {0};
    md_store_row row;
    int got;
    while ((got = s->ops->iter_next(it, &row, d)) == 1) {
        unsigned k = (unsigned)row.level; /* the store keeps (index + 1) << k under 2^64 */
        if (((row.index + 1) << k) - 1 >= start + c->valid)
            break; /* past the chunk's valid entries */
        if (k > p->lg || broken[k])
            continue;
        uint64_t j = row.index - (start >> k);
        if (j != next[k]) {
            broken[k] = true;
            continue;
        }
        mark_node(p, c, k, j, &row);
        next[k]++;
    }
    s->ops->iter_close(it);
    if (got < 0)
        return got;
    for (unsigned k = 0; k <= p->lg; k++)
        mark_missing(p, c, k, next[k]);
    return 0;
}

/* The chunk's stored nodes level by level. */
static int compare_levels(par *p, md_store *s, chunk *c, uint64_t start, md_diag *d)
{
    for (unsigned k = 0; k <= p->lg && (c->valid >> k); k++) {
        md_store_iter *it = NULL;
        int rc = s->ops->iter_open(s, MD_STORE_NODES, k, start >> k, &it, d);
        if (rc)
            return rc;
        uint64_t j = 0;
        md_store_row row;
        for (; j < c->valid >> k; j++) {
            int got = s->ops->iter_next(it, &row, d);
            if (got < 0) {
                s->ops->iter_close(it);
                return got;
            }
            if (got == 0 || row.index != (start >> k) + j)
                break;
            mark_node(p, c, k, j, &row);
        }
        s->ops->iter_close(it);
        mark_missing(p, c, k, j);
    }
    return 0;
}

/* Reads the entries and nodes of chunk c->id with store s; hashes and compares. */
static int fill_chunk(par *p, md_store *s, chunk *c, md_diag *d)
{
    uint64_t csize = (uint64_t)1 << p->lg, start = c->id << p->lg;
    uint64_t end = start + csize < p->n ? start + csize : p->n;
    c->valid = 0;
    c->gap = 0;
    c->gap_next_known = 0;
    c->malformed = UINT64_MAX;
    md_store_iter *it = NULL;
    int rc = s->ops->iter_open(s, MD_STORE_ENTRIES, 0, start, &it, d);
    if (rc)
        return rc;
    md_store_row row;
    for (uint64_t i = start; i < end; i++) {
        int got = s->ops->iter_next(it, &row, d);
        if (got < 0) {
            s->ops->iter_close(it);
            return got;
        }
        if (got == 0 || row.index != i) {
            c->gap = 1;
            c->gap_next_known = got == 1;
            c->gap_next = got == 1 ? row.index : 0;
            break;
        }
        if (c->malformed == UINT64_MAX &&
            md_entry_decode(row.data, row.len, NULL, NULL, NULL, NULL) != 0)
            c->malformed = i;
        md_merkle_leaf_hash(row.data, row.len, c->h[i - start]);
        c->valid++;
    }
    s->ops->iter_close(it);
    for (unsigned k = 1; k <= p->lg && (c->valid >> k); k++) {
        uint8_t(*h)[MD_HASH_LEN] = c->h + p->off[k], (*below)[MD_HASH_LEN] = c->h + p->off[k - 1];
        for (uint64_t j = 0; j < c->valid >> k; j++)
            md_merkle_node_hash(below[2 * j], below[2 * j + 1], h[j]);
    }
    rc = compare_tree(p, s, c, start, d);
    return rc == MANDATE_ENOTFOUND ? compare_levels(p, s, c, start, d) : rc;
}

/* Claims and fills one chunk; called with p->mu held, returns with it held. 0 when there was
 * nothing to claim. */
static int work_one(par *p, md_store *s)
{
    if (p->stop || p->next_claim >= p->nchunks || p->next_claim >= p->done + CHUNK_SLOTS)
        return 0;
    chunk *c = &p->slots[p->next_claim % CHUNK_SLOTS];
    c->id = p->next_claim++;
    c->state = SLOT_BUSY;
    pthread_mutex_unlock(&p->mu);
    md_diag d;
    md_diag_clear(&d);
    int rc = fill_chunk(p, s, c, &d);
    pthread_mutex_lock(&p->mu);
    if (rc && !p->err) {
        p->err = rc;
        p->err_diag = d;
        p->stop = 1;
    }
    c->state = SLOT_READY;
    pthread_cond_broadcast(&p->cv);
    return 1;
}

typedef struct helper {
    par *p;
    md_store *s;
} helper;

static void *helper_main(void *arg)
{
    helper *hp = arg;
    par *p = hp->p;
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->next_claim < p->nchunks) {
        if (!work_one(p, hp->s) && !p->stop && p->next_claim < p->nchunks)
            pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* check_node's logic for a node whose comparison a worker already made. */
static int node_status(vstate *v, unsigned level, uint64_t idx, int status, int children_dirty)
{
    if (v->broken[level])
        return 1;
    uint64_t first = idx << level, last = ((idx + 1) << level) - 1;
    if (status == NODE_MISSING) {
        v->broken[level] = 1;
        v->any_dirty = 1;
        if (!children_dirty)
            blame(v, level ? "node" : "entry", first, level,
                  "tree node level %u index %" PRIu64 " (entries %" PRIu64 "..%" PRIu64
                  ") is missing",
                  level, idx, first, last);
        return 1;
    }
    v->r->nodes++;
    if (status == NODE_OK)
        return children_dirty;
    v->any_dirty = 1;
    if (!children_dirty) {
        if (level == 0)
            blame(v, "entry", idx, 0,
                  "entry %" PRIu64 " does not match its stored leaf hash (the entry or its leaf "
                  "hash was altered)",
                  idx);
        else
            blame(v, "node", first, level,
                  "tree node level %u index %" PRIu64 " (entries %" PRIu64 "..%" PRIu64
                  ") does not match the hash of its children",
                  level, idx, first, last);
    }
    return 1;
}

/* Replays one filled chunk in index order, as run_serial's loop would. Returns 1 to stop (a
 * missing entry), a negative error, or 0. */
static int replay(par *p, chunk *c, md_merkle_frontier *fr, const cp_info *cps, size_t nc,
                  size_t *ci)
{
    vstate *v = p->v;
    uint64_t start = c->id << p->lg;
    for (uint64_t j = 0; j < c->valid; j++) {
        uint64_t i = start + j;
        v->r->entries++;
        if (i == c->malformed) {
            blame(v, "entry", i, 0, "entry %" PRIu64 " is malformed", i);
            v->any_dirty = 1;
        }
        /* md_merkle_frontier_push with the chunk's hashes below level lg. */
        uint8_t cur[MD_HASH_LEN];
        memcpy(cur, c->h[j], MD_HASH_LEN);
        uint64_t idx = i;
        unsigned level = 0;
        v->cur_dirty = node_status(v, 0, idx, c->st[j], 0);
        while ((fr->size >> level) & 1) {
            level++;
            idx >>= 1;
            int cd = v->dirty[level - 1] || v->cur_dirty;
            if (level <= p->lg) {
                uint64_t local = idx - (start >> level);
                memcpy(cur, c->h[p->off[level] + local], MD_HASH_LEN);
                v->cur_dirty = node_status(v, level, idx, c->st[p->off[level] + local], cd);
            } else {
                md_merkle_node_hash(fr->h[level - 1], cur, cur);
                v->cur_dirty = check_node(v, level, idx, cur, cd);
                if (v->fatal)
                    return v->fatal;
            }
        }
        memcpy(fr->h[level], cur, MD_HASH_LEN);
        fr->size++;
        v->dirty[level] = (uint8_t)v->cur_dirty;
        while (*ci < nc && cps[*ci].size == i + 1)
            check_root(v, fr, &cps[(*ci)++]);
    }
    if (c->gap) {
        uint64_t i = start + c->valid;
        if (c->gap_next_known)
            blame(v, "entry", i, 0, "entry %" PRIu64 " is missing (the next stored is %" PRIu64 ")",
                  i, c->gap_next);
        else
            blame(v, "entry", i, 0, "entry %" PRIu64 " is missing", i);
        v->any_dirty = 1;
        return 1;
    }
    return 0;
}

static int run_parallel(vstate *v, const char *db_path, const char *vkey_text)
{
    md_store *s = v->s;
    md_diag *d = v->d;
    uint64_t n = 0;
    cp_info *cps = NULL;
    size_t nc = 0, ci = 0;
    md_merkle_frontier fr;
    int rc = verify_begin(v, vkey_text, &n, &cps, &nc, &ci, &fr);
    if (rc)
        return rc;

    par *p = calloc(1, sizeof *p);
    if (!p) {
        free(cps);
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    p->v = v;
    p->n = n;
    p->lg = chunk_log;
    p->nchunks = (n + ((uint64_t)1 << p->lg) - 1) >> p->lg;
    uint64_t total = 0;
    for (unsigned k = 0; k <= p->lg + 1; k++) {
        p->off[k] = total;
        total += ((uint64_t)1 << p->lg) >> k;
    }
    for (int i = 0; i < CHUNK_SLOTS && rc == 0; i++) {
        p->slots[i].h = malloc((size_t)total * MD_HASH_LEN);
        p->slots[i].st = malloc((size_t)total);
        if (!p->slots[i].h || !p->slots[i].st)
            rc = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* The helper reads with its own connection; its snapshot is at least as new as ours, and
     * the first n entries and their complete subtrees never change in an append-only log. */
    helper hp = {p, NULL};
    pthread_t th;
    int have_thread = 0;
    if (rc == 0 && p->nchunks > 1) {
        md_diag hd;
        md_diag_clear(&hd);
        if (md_store_open(&hp.s, db_path, MD_STORE_READONLY, &hd) == 0 &&
            hp.s->ops->begin_read(hp.s, &hd) == 0 &&
            pthread_create(&th, NULL, helper_main, &hp) == 0)
            have_thread = 1; /* otherwise this thread does all the work */
    }
    int stopped = 0;
    pthread_mutex_lock(&p->mu);
    while (rc == 0 && !stopped && p->done < p->nchunks) {
        chunk *c = &p->slots[p->done % CHUNK_SLOTS];
        if (p->err) {
            rc = p->err;
            *d = p->err_diag;
            break;
        }
        if (c->state == SLOT_READY && c->id == p->done) {
            pthread_mutex_unlock(&p->mu);
            int r = replay(p, c, &fr, cps, nc, &ci);
            pthread_mutex_lock(&p->mu);
            if (r < 0)
                rc = r;
            else if (r > 0)
                stopped = 1;
            c->state = SLOT_FREE;
            p->done++;
            pthread_cond_broadcast(&p->cv);
            continue;
        }
        if (!work_one(p, s))
            pthread_cond_wait(&p->cv, &p->mu);
    }
    if (rc == 0 && p->err) {
        rc = p->err;
        *d = p->err_diag;
    }
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (have_thread)
        pthread_join(th, NULL);
    if (hp.s) {
        hp.s->ops->end_read(hp.s);
        md_store_close(hp.s);
    }
    for (int i = 0; i < CHUNK_SLOTS; i++) {
        free(p->slots[i].h);
        free(p->slots[i].st);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    if (rc == 0 && !stopped)
        rc = check_beyond(v, n, 0);
    free(cps);
    return rc;
}

static int verify(const char *db_path, const char *verifier_key, mandate_ledger_report *r,
                  mandate_diag *diag, int serial)
{
    md_diag d;
    md_diag_clear(&d);
    mandate_ledger_report dummy;
    if (!r)
        r = &dummy;
    memset(r, 0, sizeof *r);
    vstate *v = calloc(1, sizeof *v);
    if (!v) {
        md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory");
        goto report;
    }
    v->d = &d;
    v->r = r;
    int rc = md_store_open(&v->s, db_path, 0, &d);
    if (rc == 0 && (rc = v->s->ops->begin_read(v->s, &d)) == 0) {
        rc = serial ? run_serial(v, verifier_key) : run_parallel(v, db_path, verifier_key);
        for (int i = 0; i <= MD_MERKLE_MAX_LEVEL; i++)
            if (v->it[i])
                v->s->ops->iter_close(v->it[i]);
        v->s->ops->end_read(v->s);
    }
    md_store_close(v->s);
    if (rc == 0 && (v->have || v->have_cp)) {
        r->bad = 1;
        if (v->have) {
            r->bad_kind = v->kind;
            r->bad_index = v->index;
            r->bad_level = v->level;
            md_diag_set(&d, MANDATE_ECORRUPT, 0, 0, "%s", v->msg);
        } else {
            r->bad_kind = "checkpoint";
            r->bad_index = v->cp_size;
            md_diag_set(&d, MANDATE_ECORRUPT, 0, 0, "%s", v->cp_msg);
        }
        rc = MANDATE_ECORRUPT;
    }
    free(v);
    if (diag) {
        diag->code = rc;
        diag->line = 0;
        diag->column = 0;
        snprintf(diag->message, sizeof diag->message, "%s", rc ? d.msg : "");
    }
    return rc;
report:
    if (diag) {
        diag->code = d.code;
        snprintf(diag->message, sizeof diag->message, "%s", d.msg);
    }
    return d.code;
}

MD_EXPORT int mandate_ledger_verify(const char *db_path, const char *verifier_key,
                                    mandate_ledger_report *r, mandate_diag *diag)
{
    return verify(db_path, verifier_key, r, diag, 0);
}

int md_ledger_verify_serial(const char *db_path, const char *verifier_key, mandate_ledger_report *r,
                            mandate_diag *diag)
{
    return verify(db_path, verifier_key, r, diag, 1);
}
