/*
 * store_sqlite.c: the SQLite backend of the store interface (store.h).
 *
 * One sqlite3 connection per md_store, WAL journal, synchronous=FULL (a commit returns only
 * after the WAL is fsynced), prepared statements kept for the connection's life. Integer keys
 * are stored as SQLite INTEGERs (indices stay below 2^63).
 *
 * Batch puts use multi-row INSERTs of 64, 16 and 4 rows (then single rows) with ON CONFLICT
 * ROLLBACK: no statement journal, and a duplicate key ends the transaction; the store then
 * refuses further writes until rollback, as the interface asks of callers anyway.
 *
 * Tree nodes live in ledger_tree keyed by their completion position, pos = e * 64 + level, e the
 * last entry the node covers: every node an append completes sorts after all stored ones, so a
 * group commit dirties the B-tree's last pages only (keyed by (level, index), each level's tail
 * was a page of its own). A database with the earlier ledger_node(level, idx, hash) table is
 * converted by the ledger's writer (MD_STORE_UPGRADE); other connections read it as it is.
 *
 * MD_STORE_BG_CHECKPOINT (the ledger's writer): WAL checkpoints run on a thread with its own
 * connection instead of inside the commit that crosses the threshold, so a commit never waits
 * for pages to be copied into the database file and fsynced (synchronous=FULL there too).
 */
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "store/store.h"

enum {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_META_GET,
    ST_META_PUT,
    ST_ENTRY_COUNT,
    ST_ENTRY_PUT,
    ST_ENTRY_GET,
    ST_NODE_PUT,
    ST_NODE_GET,
    ST_NODE_GET_LEGACY,
    ST_CP_PUT,
    ST_CP_GET,
    ST_CP_LATEST,
    ST_ENTRY_PUT_MANY, /* N_MANY statements, one per size in many_rows */
    ST_NODE_PUT_MANY = ST_ENTRY_PUT_MANY + 3,
    ST_COUNT = ST_NODE_PUT_MANY + 3
};

/* Rows per multi-row INSERT of entries_put / nodes_put (fewer statement executions per batch). */
#define N_MANY 3
static const int many_rows[N_MANY] = {64, 16, 4};

/* Background checkpoints: start one when the WAL holds this many frames (pages) more than
 * after the last one; past CKPT_INLINE frames (the thread cannot keep up, or readers hold the
 * WAL) the committing connection checkpoints itself. Small and frequent: a checkpoint's fsync
 * of the database file delays the writer's WAL fsyncs while it runs, so its size sets the tail
 * of commit latency (bench_http p99: 17 ms at SQLite's default of 1000, 8 ms at 256). */
#define CKPT_FRAMES 256
#define CKPT_INLINE 20000

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_META_GET] = "SELECT value FROM mandate_meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT OR REPLACE INTO mandate_meta(key, value) VALUES (?1, ?2)",
    [ST_ENTRY_COUNT] = "SELECT max(idx) FROM ledger_entry",
    [ST_ENTRY_PUT] = "INSERT INTO ledger_entry(idx, data) VALUES (?1, ?2)",
    [ST_ENTRY_GET] = "SELECT data FROM ledger_entry WHERE idx = ?1",
    [ST_NODE_PUT] = "INSERT INTO ledger_tree(pos, hash) VALUES (?1, ?2)",
    [ST_NODE_GET] = "SELECT hash FROM ledger_tree WHERE pos = ?1",
    [ST_NODE_GET_LEGACY] = "SELECT hash FROM ledger_node WHERE level = ?1 AND idx = ?2",
    [ST_CP_PUT] = "INSERT OR IGNORE INTO ledger_checkpoint(size, note) VALUES (?1, ?2)",
    [ST_CP_GET] = "SELECT size, note FROM ledger_checkpoint WHERE size = ?1",
    [ST_CP_LATEST] = "SELECT size, note FROM ledger_checkpoint ORDER BY size DESC LIMIT 1",
    /* ST_ENTRY_PUT_MANY.., ST_NODE_PUT_MANY..: built by many_sql */
};

/* "INSERT OR ROLLBACK INTO t(cols) VALUES (?,?),(?,?),..." with `rows` tuples of `arity`
 * parameters. */
static char *many_sql(const char *head, int arity, int rows)
{
    size_t cap = strlen(head) + (size_t)rows * (size_t)(arity * 2 + 3) + 1;
    char *q = malloc(cap);
    if (!q)
        return NULL;
    size_t n = (size_t)snprintf(q, cap, "%s", head);
    for (int i = 0; i < rows; i++) {
        q[n++] = i ? ',' : ' ';
        q[n++] = '(';
        for (int j = 0; j < arity; j++) {
            if (j)
                q[n++] = ',';
            q[n++] = '?';
        }
        q[n++] = ')';
    }
    q[n] = 0;
    return q;
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS mandate_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ledger_entry(idx INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ledger_tree(pos INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ledger_checkpoint(size INTEGER PRIMARY KEY, note BLOB NOT NULL);";

/* The background checkpointer of a MD_STORE_BG_CHECKPOINT connection. */
typedef struct sq_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db; /* its own connection */
    int frames;  /* WAL frames after the last commit */
    int done;    /* WAL frames when the last checkpoint started */
    int running, stop;
} sq_ckpt;

typedef struct sq_store {
    md_store base;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char *path;
    int fail_commits;
    int aborted;      /* a write failed: refuse writes until rollback */
    int legacy_nodes; /* reading ledger_node(level, idx, hash) of an earlier version */
    sq_ckpt *ckpt;
} sq_store;

/* How an iterator reads: plain (key, data) rows; ledger_tree (pos, hash) rows from a scan (one
 * level, or MD_STORE_TREE); or one level's nodes by point lookups. */
enum it_mode { IT_ROWS, IT_TREE_SCAN, IT_TREE_POINTS };

struct md_store_iter {
    sq_store *s;
    sqlite3_stmt *st;
    int kind;
    enum it_mode mode;
    /* ledger_tree nodes of one level: point lookups of index `next` while the level is
     * contiguous (st), and a scan for the next stored node after a gap (gap). */
    unsigned level;
    uint64_t next;
    sqlite3_stmt *gap;
};

/* Levels up to this one are read with one scan of ledger_tree (a level-k node is one row in
 * about 2^(k+1)); higher levels with a point lookup per node. */
#define SCAN_MAX_LEVEL 4
/* Entries stay below 2^57, so pos = e * 64 + level fits in an SQLite INTEGER. */
#define POS_ENTRY_LIMIT ((uint64_t)1 << 57)

/* The completion position of node (level, index); false when no such node can be stored. */
static bool node_pos(unsigned level, uint64_t index, sqlite3_int64 *pos)
{
    if (level > 56 || index >= (POS_ENTRY_LIMIT >> level))
        return false;
    uint64_t last = ((index + 1) << level) - 1;
    *pos = (sqlite3_int64)(last << 6 | level);
    return true;
}

/* The node at pos: false for a position no node has (a corrupt row). */
static bool pos_node(sqlite3_int64 pos, unsigned *level, uint64_t *index)
{
    if (pos < 0)
        return false;
    uint64_t p = (uint64_t)pos, end = (p >> 6) + 1;
    *level = (unsigned)(p & 63);
    if (*level > 56 || (end & (((uint64_t)1 << *level) - 1)))
        return false;
    *index = (end >> *level) - 1;
    return true;
}

static int sq_err(sq_store *s, md_diag *d, int code, const char *what)
{
    return md_diag_set(d, code, 0, 0, "%s on '%s' failed: %s", what, s->path,
                       s->db ? sqlite3_errmsg(s->db) : "no connection");
}

static sqlite3_stmt *stmt(sq_store *s, int which, md_diag *d)
{
    if (!s->st[which]) {
        char *built = NULL;
        if (which >= ST_ENTRY_PUT_MANY && which < ST_NODE_PUT_MANY)
            built = many_sql("INSERT OR ROLLBACK INTO ledger_entry(idx, data) VALUES", 2,
                             many_rows[which - ST_ENTRY_PUT_MANY]);
        else if (which >= ST_NODE_PUT_MANY)
            built = many_sql("INSERT OR ROLLBACK INTO ledger_tree(pos, hash) VALUES", 2,
                             many_rows[which - ST_NODE_PUT_MANY]);
        const char *sql = built ? built : stmt_sql[which];
        if (!sql) {
            md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
            return NULL;
        }
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[which], NULL);
        free(built);
        if (rc != SQLITE_OK) {
            sq_err(s, d, MANDATE_ESTORE, "preparing a statement");
            return NULL;
        }
    }
    return s->st[which];
}

static int exec_simple(sq_store *s, int which, const char *what, md_diag *d)
{
    sqlite3_stmt *st = stmt(s, which, d);
    if (!st)
        return MANDATE_ESTORE;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_err(s, d, MANDATE_ESTORE, what);
    return 0;
}

static void ckpt_stop(sq_store *s);

static void sq_close(md_store *base)
{
    sq_store *s = (sq_store *)base;
    ckpt_stop(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static int sq_begin(md_store *base, md_diag *d)
{
    ((sq_store *)base)->aborted = 0;
    return exec_simple((sq_store *)base, ST_BEGIN, "beginning a transaction", d);
}

static void sq_rollback(md_store *base)
{
    sq_store *s = (sq_store *)base;
    s->aborted = 0;
    if (!sqlite3_get_autocommit(s->db))
        exec_simple(s, ST_ROLLBACK, "rollback", NULL);
}

/* A write failed: the transaction must be rolled back (a multi-row put already was). */
static int write_failed(sq_store *s, md_diag *d, const char *what)
{
    int rc = sq_err(s, d, MANDATE_ESTORE, what);
    s->aborted = 1;
    return rc;
}

static int check_writable(sq_store *s, md_diag *d)
{
    if (!s->aborted)
        return 0;
    return md_diag_set(d, MANDATE_ESTORE, 0, 0,
                       "writing to '%s' after a failed write: roll the transaction back first",
                       s->path);
}

static int sq_begin_read(md_store *base, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    int rc = exec_simple(s, ST_BEGIN_READ, "beginning a read", d);
    if (rc)
        return rc;
    /* Take the snapshot now rather than at the first read. */
    uint64_t n;
    rc = base->ops->entry_count(base, &n, d);
    if (rc)
        sq_rollback(base);
    return rc;
}

static int sq_commit(md_store *base, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    if (s->fail_commits) {
        sq_rollback(base);
        return md_diag_set(d, MANDATE_ESTORE, 0, 0,
                           "commit on '%s' failed: fsync failed (injected)", s->path);
    }
    if (s->aborted) {
        int rc = check_writable(s, d);
        sq_rollback(base);
        return rc;
    }
    int rc = exec_simple(s, ST_COMMIT, "commit", d);
    if (rc)
        sq_rollback(base);
    return rc;
}

static int read_blob(sqlite3_stmt *st, int col, md_buf *out)
{
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    out->len = 0;
    if (n == 0)
        return md_buf_append(out, "", 0);
    return md_buf_append(out, p, (size_t)n);
}

static int sq_meta_get(md_store *base, const char *key, md_buf *out, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = stmt(s, ST_META_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW)
        ret = read_blob(st, 0, out);
    else if (rc == SQLITE_DONE)
        ret = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no '%s' in '%s'", key, s->path);
    else
        ret = sq_err(s, d, MANDATE_ESTORE, "reading meta");
    sqlite3_reset(st);
    return ret;
}

static int sq_meta_put(md_store *base, const char *key, const void *v, size_t n, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = stmt(s, ST_META_PUT, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sq_err(s, d, MANDATE_ESTORE, "writing meta");
}

static int sq_entry_count(md_store *base, uint64_t *n, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = stmt(s, ST_ENTRY_COUNT, d);
    if (!st)
        return MANDATE_ESTORE;
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            *n = 0;
        } else {
            sqlite3_int64 v = sqlite3_column_int64(st, 0);
            if (v < 0)
                ret =
                    md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "negative entry index in '%s'", s->path);
            else
                *n = (uint64_t)v + 1;
        }
    } else {
        ret = sq_err(s, d, MANDATE_ESTORE, "counting entries");
    }
    sqlite3_reset(st);
    return ret;
}

static int sq_entry_put(md_store *base, uint64_t index, const void *data, size_t len, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    if (check_writable(s, d))
        return MANDATE_ESTORE;
    sqlite3_stmt *st = stmt(s, ST_ENTRY_PUT, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    sqlite3_bind_blob(st, 2, data, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : write_failed(s, d, "writing an entry");
}

/* Binds row i of a batch put to the parameters from p on (entries: idx, data; nodes: level, idx,
 * hash). */
typedef void (*bind_row_fn)(sqlite3_stmt *st, int p, const void *rows, size_t i);

typedef struct entry_rows {
    uint64_t first;
    const void *const *data;
    const size_t *lens;
} entry_rows;

static void bind_entry(sqlite3_stmt *st, int p, const void *rows, size_t i)
{
    const entry_rows *e = rows;
    sqlite3_bind_int64(st, p, (sqlite3_int64)(e->first + i));
    sqlite3_bind_blob(st, p + 1, e->data[i], (int)e->lens[i], SQLITE_STATIC);
}

/* Nodes are checked by node_positions before binding. */
static void bind_node(sqlite3_stmt *st, int p, const void *rows, size_t i)
{
    const md_store_node *x = (const md_store_node *)rows + i;
    sqlite3_int64 pos = 0;
    node_pos(x->level, x->index, &pos);
    sqlite3_bind_int64(st, p, pos);
    sqlite3_bind_blob(st, p + 1, x->hash, 32, SQLITE_STATIC);
}

static int bad_node(sq_store *s, unsigned level, uint64_t index, md_diag *d)
{
    s->aborted = 1;
    if (s->legacy_nodes)
        return md_diag_set(d, MANDATE_ESTORE, 0, 0,
                           "the tree nodes of '%s' are in an earlier version's layout: open the "
                           "ledger for writing (mandate serve) to convert them first",
                           s->path);
    return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                       "tree node level %u index %llu is beyond what '%s' can hold", level,
                       (unsigned long long)index, s->path);
}

/* Writes the first rows of a batch with the multi-row statements first_stmt.. (64, 16, 4 rows);
 * *done gets how many, the rest (under 4) are left to single-row puts. */
static int put_many(sq_store *s, int first_stmt, int arity, size_t n, bind_row_fn bind,
                    const void *rows, size_t *done, const char *what, md_diag *d)
{
    size_t i = 0;
    *done = 0;
    if (check_writable(s, d))
        return MANDATE_ESTORE;
    for (int k = 0; k < N_MANY; k++) {
        size_t chunk = (size_t)many_rows[k];
        sqlite3_stmt *st = n - i >= chunk ? stmt(s, first_stmt + k, d) : NULL;
        if (n - i >= chunk && !st)
            return MANDATE_ESTORE;
        for (; n - i >= chunk; i += chunk) {
            for (size_t j = 0; j < chunk; j++)
                bind(st, arity * (int)j + 1, rows, i + j);
            int rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_DONE)
                return write_failed(s, d, what);
        }
    }
    *done = i;
    return 0;
}

static int sq_entries_put(md_store *base, uint64_t first, size_t n, const void *const *data,
                          const size_t *lens, md_diag *d)
{
    entry_rows rows = {first, data, lens};
    size_t i;
    int rc = put_many((sq_store *)base, ST_ENTRY_PUT_MANY, 2, n, bind_entry, &rows, &i,
                      "writing entries", d);
    for (; rc == 0 && i < n; i++)
        rc = sq_entry_put(base, first + i, data[i], lens[i], d);
    return rc;
}

static int sq_entry_get(md_store *base, uint64_t index, md_buf *out, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = stmt(s, ST_ENTRY_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW)
        ret = read_blob(st, 0, out);
    else if (rc == SQLITE_DONE)
        ret = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no entry %llu in '%s'",
                          (unsigned long long)index, s->path);
    else
        ret = sq_err(s, d, MANDATE_ESTORE, "reading an entry");
    sqlite3_reset(st);
    return ret;
}

static int sq_node_put(md_store *base, unsigned level, uint64_t index, const uint8_t hash[32],
                       md_diag *d)
{
    sq_store *s = (sq_store *)base;
    if (check_writable(s, d))
        return MANDATE_ESTORE;
    sqlite3_int64 pos;
    if (s->legacy_nodes || !node_pos(level, index, &pos))
        return bad_node(s, level, index, d);
    sqlite3_stmt *st = stmt(s, ST_NODE_PUT, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_int64(st, 1, pos);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : write_failed(s, d, "writing a tree node");
}

static int sq_nodes_put(md_store *base, const md_store_node *nodes, size_t n, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_int64 pos;
    for (size_t k = 0; k < n; k++)
        if (s->legacy_nodes || !node_pos(nodes[k].level, nodes[k].index, &pos))
            return bad_node(s, nodes[k].level, nodes[k].index, d);
    size_t i;
    int rc = put_many(s, ST_NODE_PUT_MANY, 2, n, bind_node, nodes, &i, "writing tree nodes", d);
    for (; rc == 0 && i < n; i++)
        rc = sq_node_put(base, nodes[i].level, nodes[i].index, nodes[i].hash, d);
    return rc;
}

static int sq_node_get(md_store *base, unsigned level, uint64_t index, uint8_t hash[32], md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_int64 pos = 0;
    bool valid = s->legacy_nodes || node_pos(level, index, &pos);
    sqlite3_stmt *st =
        valid ? stmt(s, s->legacy_nodes ? ST_NODE_GET_LEGACY : ST_NODE_GET, d) : NULL;
    if (valid && !st)
        return MANDATE_ESTORE;
    int rc = SQLITE_DONE;
    if (st && s->legacy_nodes) {
        sqlite3_bind_int(st, 1, (int)level);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    } else if (st) {
        sqlite3_bind_int64(st, 1, pos);
    }
    if (st)
        rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32)
            ret = md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                              "tree node level %u index %llu in '%s' is not 32 bytes", level,
                              (unsigned long long)index, s->path);
        else
            memcpy(hash, sqlite3_column_blob(st, 0), 32);
    } else if (rc == SQLITE_DONE) {
        ret = md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                          "tree node level %u index %llu is missing from '%s'", level,
                          (unsigned long long)index, s->path);
    } else {
        ret = sq_err(s, d, MANDATE_ESTORE, "reading a tree node");
    }
    if (st)
        sqlite3_reset(st);
    return ret;
}

static int sq_cp_put(md_store *base, uint64_t size, const void *note, size_t len, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = stmt(s, ST_CP_PUT, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    sqlite3_bind_blob(st, 2, note, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : write_failed(s, d, "writing a checkpoint");
}

static int sq_cp_get(md_store *base, uint64_t size, md_buf *out, uint64_t *size_out, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = stmt(s, size == UINT64_MAX ? ST_CP_LATEST : ST_CP_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    if (size != UINT64_MAX)
        sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        if (size_out)
            *size_out = (uint64_t)sqlite3_column_int64(st, 0);
        ret = read_blob(st, 1, out);
    } else if (rc == SQLITE_DONE) {
        ret = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no checkpoint in '%s'", s->path);
    } else {
        ret = sq_err(s, d, MANDATE_ESTORE, "reading a checkpoint");
    }
    sqlite3_reset(st);
    return ret;
}

static int prepare(sq_store *s, const char *sql, sqlite3_stmt **st, md_diag *d)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return sq_err(s, d, MANDATE_ESTORE, "preparing a scan");
    return 0;
}

/* A scan of one level's nodes from position `from` on (in index order, as pos grows with the
 * index within a level). */
static const char tree_scan_sql[] =
    "SELECT pos, hash FROM ledger_tree WHERE pos >= ?1 AND (pos & 63) = ?2 ORDER BY pos";

static int sq_iter_open(md_store *base, int kind, unsigned level, uint64_t from,
                        md_store_iter **out, md_diag *d)
{
    sq_store *s = (sq_store *)base;
    const char *sql;
    switch (kind) {
    case MD_STORE_ENTRIES:
        sql = "SELECT idx, data FROM ledger_entry WHERE idx >= ?1 ORDER BY idx";
        break;
    case MD_STORE_NODES:
        sql = s->legacy_nodes
                  ? "SELECT idx, hash FROM ledger_node WHERE level = ?2 AND idx >= ?1 ORDER BY idx"
              : level <= SCAN_MAX_LEVEL ? tree_scan_sql
                                        : "SELECT hash FROM ledger_tree WHERE pos = ?1";
        break;
    case MD_STORE_CHECKPOINTS:
        sql = "SELECT size, note FROM ledger_checkpoint WHERE size >= ?1 ORDER BY size";
        break;
    case MD_STORE_TREE:
        if (s->legacy_nodes)
            return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                               "'%s' keeps its tree nodes in an earlier layout, by level", s->path);
        sql = "SELECT pos, hash FROM ledger_tree WHERE pos >= ?1 ORDER BY pos";
        from = from < POS_ENTRY_LIMIT ? from << 6 : (uint64_t)INT64_MAX;
        break;
    default: return md_diag_set(d, MANDATE_EINVAL, 0, 0, "unknown store row kind %d", kind);
    }
    md_store_iter *it = calloc(1, sizeof *it);
    if (!it)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    it->s = s;
    it->kind = kind;
    it->level = level;
    it->next = from;
    int rc = prepare(s, sql, &it->st, d);
    if (rc) {
        free(it);
        return rc;
    }
    if (kind == MD_STORE_NODES && !s->legacy_nodes) {
        sqlite3_int64 pos;
        if (!node_pos(level, from, &pos))
            it->next = UINT64_MAX; /* nothing can be stored there */
        if (level <= SCAN_MAX_LEVEL) {
            sqlite3_bind_int64(it->st, 1, it->next == UINT64_MAX ? INT64_MAX : pos);
            sqlite3_bind_int(it->st, 2, (int)level);
        }
        it->mode = level <= SCAN_MAX_LEVEL ? IT_TREE_SCAN : IT_TREE_POINTS;
        *out = it;
        return 0;
    }
    sqlite3_bind_int64(it->st, 1, (sqlite3_int64)from);
    if (kind == MD_STORE_NODES)
        sqlite3_bind_int(it->st, 2, (int)level);
    it->mode = kind == MD_STORE_TREE ? IT_TREE_SCAN : IT_ROWS;
    *out = it;
    return 0;
}

/* Row from a (pos, hash) scan: level and index decoded from pos; a scan of one level (not
 * MD_STORE_TREE) gets rows of its level only. */
static int tree_row(md_store_iter *it, sqlite3_stmt *st, md_store_row *row, md_diag *d)
{
    sqlite3_int64 pos = sqlite3_column_int64(st, 0);
    unsigned level;
    if (!pos_node(pos, &level, &row->index) || (it->kind != MD_STORE_TREE && level != it->level))
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                           "tree row at position %lld in '%s' names no node", (long long)pos,
                           it->s->path);
    row->level = it->kind == MD_STORE_TREE ? level : 0;
    row->data = sqlite3_column_blob(st, 1);
    row->len = (size_t)sqlite3_column_bytes(st, 1);
    if (!row->data)
        row->data = "";
    it->next = row->index + 1;
    return 1;
}

/* A high level of ledger_tree: a point lookup of the next index, and after a miss the next
 * stored node of the level, wherever it is. */
static int tree_point_next(md_store_iter *it, md_store_row *row, md_diag *d)
{
    sqlite3_int64 pos;
    if (it->next == UINT64_MAX || !node_pos(it->level, it->next, &pos))
        return 0;
    sqlite3_reset(it->st);
    sqlite3_bind_int64(it->st, 1, pos);
    int rc = sqlite3_step(it->st);
    if (rc == SQLITE_ROW) {
        row->level = 0;
        row->index = it->next++;
        row->data = sqlite3_column_blob(it->st, 0);
        row->len = (size_t)sqlite3_column_bytes(it->st, 0);
        if (!row->data)
            row->data = "";
        return 1;
    }
    if (rc != SQLITE_DONE)
        return sq_err(it->s, d, MANDATE_ESTORE, "reading a tree node");
    if (!it->gap && (rc = prepare(it->s, tree_scan_sql, &it->gap, d)) != 0)
        return rc;
    sqlite3_reset(it->gap);
    sqlite3_bind_int64(it->gap, 1, pos);
    sqlite3_bind_int(it->gap, 2, (int)it->level);
    rc = sqlite3_step(it->gap);
    if (rc == SQLITE_DONE) {
        it->next = UINT64_MAX;
        return 0;
    }
    if (rc != SQLITE_ROW)
        return sq_err(it->s, d, MANDATE_ESTORE, "scanning tree nodes");
    return tree_row(it, it->gap, row, d);
}

static int sq_iter_next(md_store_iter *it, md_store_row *row, md_diag *d)
{
    if (it->mode == IT_TREE_POINTS)
        return tree_point_next(it, row, d);
    int rc = sqlite3_step(it->st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return sq_err(it->s, d, MANDATE_ESTORE, "scanning rows");
    if (it->mode == IT_TREE_SCAN)
        return tree_row(it, it->st, row, d);
    row->level = 0;
    sqlite3_int64 k = sqlite3_column_int64(it->st, 0);
    row->index = (uint64_t)k;
    row->data = sqlite3_column_blob(it->st, 1);
    row->len = (size_t)sqlite3_column_bytes(it->st, 1);
    if (!row->data)
        row->data = "";
    if (k < 0)
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "negative row key %lld in '%s'", (long long)k,
                           it->s->path);
    return 1;
}

static void sq_iter_close(md_store_iter *it)
{
    if (!it)
        return;
    sqlite3_finalize(it->st);
    sqlite3_finalize(it->gap);
    free(it);
}

static const md_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .begin_read = sq_begin_read,
    .end_read = sq_rollback,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .entry_count = sq_entry_count,
    .entry_put = sq_entry_put,
    .entry_get = sq_entry_get,
    .node_put = sq_node_put,
    .node_get = sq_node_get,
    .entries_put = sq_entries_put,
    .nodes_put = sq_nodes_put,
    .checkpoint_put = sq_cp_put,
    .checkpoint_get = sq_cp_get,
    .iter_open = sq_iter_open,
    .iter_next = sq_iter_next,
    .iter_close = sq_iter_close,
};

static int exec_sql(sq_store *s, const char *sql, const char *what, md_diag *d)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        int rc = md_diag_set(d, MANDATE_ESTORE, 0, 0, "%s on '%s' failed: %s", what, s->path,
                             err ? err : sqlite3_errmsg(s->db));
        sqlite3_free(err);
        return rc;
    }
    return 0;
}

/* The ledger's tables, as bits of ledger_tables' mask. */
enum {
    T_META = 1,
    T_ENTRY = 2,
    T_CHECKPOINT = 4,
    T_TREE = 8,
    T_NODE_LEGACY = 16 /* ledger_node(level, idx, hash) of an earlier version */
};

/* Which of the ledger's tables the database has, read once at open: 0 with *mask set, or an
 * error code (d set). */
static int ledger_tables(sq_store *s, unsigned *mask, md_diag *d)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tables[] = {{"mandate_meta", T_META},
                  {"ledger_entry", T_ENTRY},
                  {"ledger_checkpoint", T_CHECKPOINT},
                  {"ledger_tree", T_TREE},
                  {"ledger_node", T_NODE_LEGACY}};
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1,
                                &st, NULL);
    *mask = 0;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; name && i < sizeof tables / sizeof *tables; i++)
            if (!strcmp(name, tables[i].name))
                *mask |= tables[i].bit;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    int code = (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) ? MANDATE_ECORRUPT : MANDATE_ESTORE;
    return md_diag_set(d, code, 0, 0, "cannot read database '%s': %s", s->path,
                       sqlite3_errmsg(s->db));
}

static int not_mandate(sq_store *s, md_diag *d)
{
    return md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                       "'%s' is not a mandate database (ledger tables missing)", s->path);
}

/* The converter of ledger_node(level, idx, hash) into ledger_tree(pos, hash); rows whose
 * position would not fit are refused rather than converted. */
static const char convert_check_sql[] =
    "SELECT count(*) FROM ledger_node WHERE typeof(level) != 'integer' OR typeof(idx) !="
    " 'integer' OR level < 0 OR level > 56 OR idx < 0 OR idx >= (1 << (57 - level))";
static const char convert_sql[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE ledger_tree(pos INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
    "INSERT INTO ledger_tree(pos, hash) SELECT ((((idx + 1) << level) - 1) << 6) | level, hash"
    " FROM ledger_node ORDER BY 1;"
    "DROP TABLE ledger_node;"
    "COMMIT;";

/* Finds the tree table: ledger_tree; or ledger_node of an earlier version, which the ledger's
 * writer converts (one transaction) and any other connection reads as it is. */
static int tree_layout(sq_store *s, int flags, unsigned tables, md_diag *d)
{
    if ((tables & T_TREE) || !(tables & T_NODE_LEGACY))
        return (tables & T_TREE) || (flags & MD_STORE_CREATE) ? 0 : not_mandate(s, d);
    if (!(flags & MD_STORE_UPGRADE) || (flags & MD_STORE_READONLY)) {
        s->legacy_nodes = 1;
        return 0;
    }
    sqlite3_stmt *st = NULL;
    int bad = -1;
    if (sqlite3_prepare_v2(s->db, convert_check_sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        bad = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (bad != 0)
        return bad < 0 ? sq_err(s, d, MANDATE_ESTORE, "reading the tree nodes")
                       : md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                                     "'%s' has %d tree node rows with an impossible level or "
                                     "index: inspect it with 'mandate ledger verify' from a "
                                     "read-only copy",
                                     s->path, bad);
    char *err = NULL;
    if (sqlite3_exec(s->db, convert_sql, NULL, NULL, &err) != SQLITE_OK) {
        int rc = md_diag_set(d, MANDATE_ESTORE, 0, 0,
                             "converting the tree nodes of '%s' to this version's layout failed "
                             "(nothing was changed): %s",
                             s->path, err ? err : sqlite3_errmsg(s->db));
        sqlite3_free(err);
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}

/* ---- background checkpoints ---- */

static void *ckpt_main(void *arg)
{
    sq_ckpt *c = arg;
    prctl(PR_SET_NAME, "md-sqlite-ckpt", 0, 0, 0);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && c->frames < c->done + CKPT_FRAMES)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->done = c->frames;
        c->running = 1;
        pthread_mutex_unlock(&c->mu);
        /* PASSIVE: copies what it can without blocking the writer or readers; the writer
         * restarts the WAL from its start once everything was copied. Errors leave the WAL
         * growing (commits stay durable there) and the next attempt retries. */
        sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
        c->running = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* After every commit of the writer connection: frames is the WAL's size in pages. */
static int ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    sq_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    if (frames < c->done)
        c->done = 0; /* the WAL restarted */
    c->frames = frames;
    if (frames >= c->done + CKPT_FRAMES && !c->running)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (frames >= CKPT_INLINE)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static int ckpt_start(sq_store *s, md_diag *d)
{
    sq_ckpt *c = calloc(1, sizeof *c);
    if (!c)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    char *err = NULL;
    if (sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-2048", NULL, NULL, &err) !=
            SQLITE_OK ||
        pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        int rc =
            md_diag_set(d, MANDATE_ESTORE, 0, 0, "cannot start checkpoints on '%s': %s", s->path,
                        err     ? err
                        : c->db ? sqlite3_errmsg(c->db)
                                : "out of memory");
        sqlite3_free(err);
        sqlite3_close(c->db);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        free(c);
        return rc;
    }
    s->ckpt = c;
    sqlite3_wal_hook(s->db, ckpt_wal_hook, c); /* replaces the automatic checkpoint */
    return 0;
}

static void ckpt_stop(sq_store *s)
{
    sq_ckpt *c = s->ckpt;
    if (!c)
        return;
    sqlite3_wal_hook(s->db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    s->ckpt = NULL;
}

int md_store_sqlite_open(md_store **out, const char *path, int flags, md_diag *d)
{
    *out = NULL;
    sq_store *s = calloc(1, sizeof *s);
    if (!s)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    s->base.ops = &sqlite_ops;
    s->path = strdup(path);
    int rc;
    if (!s->path) {
        rc = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
        goto fail;
    }
    int oflags = SQLITE_OPEN_NOMUTEX;
    if (flags & MD_STORE_READONLY)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | ((flags & MD_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot open database '%s': %s", path,
                         s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_timeout(s->db, 10000);
    unsigned tables;
    if ((rc = ledger_tables(s, &tables, d)) != 0)
        goto fail;
    if (!(flags & MD_STORE_CREATE) &&
        (tables & (T_META | T_ENTRY | T_CHECKPOINT)) != (T_META | T_ENTRY | T_CHECKPOINT)) {
        rc = not_mandate(s, d);
        goto fail;
    }
    if (!(flags & MD_STORE_READONLY)) {
        if ((rc = exec_sql(s, "PRAGMA journal_mode=WAL", "setting WAL mode", d)) != 0)
            goto fail;
    }
    if ((rc = exec_sql(s, "PRAGMA synchronous=FULL", "setting synchronous=FULL", d)) != 0)
        goto fail;
    /* Page cache and memory-mapped reads: proofs and verify read tree nodes at random. */
    if ((rc = exec_sql(s,
                       (flags & MD_STORE_STREAM) ? "PRAGMA cache_size=-2048; PRAGMA mmap_size=0"
                                                 : "PRAGMA cache_size=-65536; "
                                                   "PRAGMA mmap_size=1073741824",
                       "setting the page cache", d)) != 0)
        goto fail;
    /* Before creating the schema: a database of an earlier version keeps its nodes. */
    if ((rc = tree_layout(s, flags, tables, d)) != 0)
        goto fail;
    if ((flags & MD_STORE_CREATE) && (rc = exec_sql(s, schema_sql, "creating the schema", d)) != 0)
        goto fail;
    if ((flags & MD_STORE_BG_CHECKPOINT) && !(flags & MD_STORE_READONLY) &&
        (rc = ckpt_start(s, d)) != 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    sq_close(&s->base);
    return rc;
}

void md_store_sqlite_fail_commits(md_store *s, int fail)
{
    if (s && s->ops == &sqlite_ops)
        ((sq_store *)s)->fail_commits = fail;
}
