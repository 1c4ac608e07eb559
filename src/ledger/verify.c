/*
 * verify.c: the offline ledger verifier. One pass over the stored entries in index order
 * recomputes every leaf and every complete-subtree hash and compares each with the stored node
 * (one cursor per tree level, so memory stays O(log n)); every stored checkpoint's signature is
 * checked and its root compared with the recomputed root at its size.
 *
 * Blame: a mismatch whose recomputed children were themselves consistent is a root cause; the
 * mismatches it causes above it are not reported. The report names the root cause with the
 * lowest entry index; checkpoint faults are reported only when entries and nodes are clean.
 */
#include <inttypes.h>
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

static int run(vstate *v, const char *vkey_text)
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
    if (rc)
        return rc;
    uint64_t n = 0;
    if ((rc = s->ops->entry_count(s, &n, d)) != 0)
        return rc;
    cp_info *cps = NULL;
    size_t nc = 0, ci = 0;
    if ((rc = load_checkpoints(v, &key, n, &cps, &nc)) != 0)
        return rc;
    if (v->r->checkpoints == 0)
        blame_cp(v, 0, "the database holds no checkpoint at all (they were deleted)");
    md_merkle_frontier fr;
    memset(&fr, 0, sizeof fr);
    while (ci < nc && cps[ci].size == 0)
        check_root(v, &fr, &cps[ci++]);
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
    /* Nodes beyond the tree. */
    for (unsigned lev = 0; lev <= MD_MERKLE_MAX_LEVEL; lev++) {
        if (v->broken[lev])
            continue;
        if (!v->it[lev]) {
            if ((n >> lev) == 0 && lev > 0)
                break;
            if ((rc = s->ops->iter_open(s, MD_STORE_NODES, lev, 0, &v->it[lev], d)) != 0)
                goto out;
        }
        got = s->ops->iter_next(v->it[lev], &row, d);
        if (got < 0) {
            rc = got;
            goto out;
        }
        if (got == 1)
            blame(v, "entry", n, 0,
                  "entries from index %" PRIu64 " on are missing: tree node level %u index %" PRIu64
                  " lies beyond the tree of %" PRIu64 " entries",
                  n, lev, row.index, n);
    }
out:
    free(cps);
    return rc;
}

MD_EXPORT int mandate_ledger_verify(const char *db_path, const char *verifier_key,
                                    mandate_ledger_report *r, mandate_diag *diag)
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
        rc = run(v, verifier_key);
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
