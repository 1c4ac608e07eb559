/*
 * store.h: the storage backend interface of libmandate: one table of function pointers per
 * backend. SQLite (store_sqlite.c) is the embedded default; a PostgreSQL backend implements the
 * same table.
 *
 * A md_store is one connection. It is not thread-safe: a module that needs concurrency opens
 * one store per thread (or guards one with a mutex). Writes happen inside begin/commit; commit
 * returns 0 only once the transaction is durable (SQLite: WAL with synchronous=FULL), and after a
 * failed commit nothing of the transaction may be assumed stored.
 *
 * The ledger's tables: entries keyed by a contiguous index from 0, tree nodes keyed by
 * (level, index) holding 32-byte hashes, checkpoints keyed by tree size holding note text, and a
 * small key/value meta table. Nothing SQLite-specific leaks through this interface: rows come
 * back through iterators whose data is borrowed until the next call.
 *
 * Depends on core only.
 */
#ifndef MD_STORE_H
#define MD_STORE_H

#include "core/core.h"

typedef struct md_store md_store;
typedef struct md_store_iter md_store_iter;
typedef struct md_store_ops md_store_ops;

/* The base of every backend's connection struct. */
struct md_store {
    const md_store_ops *ops;
};

/* MD_STORE_TREE: every node completed by entry `from` or a later one, in completion order (by
 * the last entry each covers, then by level), with row.level set; a backend that does not keep
 * that order (SQLite's earlier layout) fails iter_open with MANDATE_ENOTFOUND, and the caller
 * reads level by level instead. */
enum md_store_kind {
    MD_STORE_ENTRIES = 1,
    MD_STORE_NODES = 2,
    MD_STORE_CHECKPOINTS = 3,
    MD_STORE_TREE = 4
};

/* A row from an iterator; data is borrowed until the next md_store_next or md_store_iter_close. */
typedef struct md_store_row {
    uint64_t level; /* nodes only */
    uint64_t index; /* entry index, node index, or checkpoint tree size */
    const void *data;
    size_t len;
} md_store_row;

/* A tree node for nodes_put. */
typedef struct md_store_node {
    unsigned level;
    uint64_t index;
    uint8_t hash[32];
} md_store_node;

/* MD_STORE_STREAM: a connection that reads sequentially (ledger scans): no memory map and a
 * small page cache, so that reading a whole large database does not keep it in memory. */
/* MD_STORE_BG_CHECKPOINT: a writer whose commits should not pay for WAL checkpoints (SQLite:
 * a background thread with its own connection runs them). */
/* MD_STORE_UPGRADE: the ledger's writer: converts tables of an earlier version's layout in place
 * (one transaction). Other connections read such a database as it is and refuse to add nodes. */
enum {
    MD_STORE_CREATE = 1,
    MD_STORE_READONLY = 2,
    MD_STORE_STREAM = 4,
    MD_STORE_BG_CHECKPOINT = 8,
    MD_STORE_UPGRADE = 16
};

struct md_store_ops {
    const char *name;
    void (*close)(md_store *s);
    int (*begin)(md_store *s, md_diag *d);
    int (*commit)(md_store *s, md_diag *d);
    void (*rollback)(md_store *s);
    /* A read snapshot: every read until end_read sees one consistent state. */
    int (*begin_read)(md_store *s, md_diag *d);
    void (*end_read)(md_store *s);
    /* meta: small named values; get fails with MANDATE_ENOTFOUND. */
    int (*meta_get)(md_store *s, const char *key, md_buf *out, md_diag *d);
    int (*meta_put)(md_store *s, const char *key, const void *v, size_t n, md_diag *d);
    /* entries: count is 1 + the highest index (0 when empty). */
    int (*entry_count)(md_store *s, uint64_t *n, md_diag *d);
    int (*entry_put)(md_store *s, uint64_t index, const void *data, size_t len, md_diag *d);
    int (*entry_get)(md_store *s, uint64_t index, md_buf *out, md_diag *d);
    int (*node_put)(md_store *s, unsigned level, uint64_t index, const uint8_t hash[32],
                    md_diag *d);
    /* Batch writes (one group commit): entries first .. first + n - 1 with data[i] of lens[i]
     * bytes, and n nodes. Same effect as n single puts; a duplicate key fails the call (and, as
     * any failed write, the caller rolls the transaction back). */
    int (*entries_put)(md_store *s, uint64_t first, size_t n, const void *const *data,
                       const size_t *lens, md_diag *d);
    int (*nodes_put)(md_store *s, const md_store_node *nodes, size_t n, md_diag *d);
    int (*node_get)(md_store *s, unsigned level, uint64_t index, uint8_t hash[32], md_diag *d);
    int (*checkpoint_put)(md_store *s, uint64_t size, const void *note, size_t len, md_diag *d);
    /* size UINT64_MAX: the latest; *size_out gets the size found. */
    int (*checkpoint_get)(md_store *s, uint64_t size, md_buf *out, uint64_t *size_out, md_diag *d);
    /* Iterates rows of one kind in key order: entries/checkpoints from index `from`; nodes of
     * one level (`level`) from index `from`. */
    int (*iter_open)(md_store *s, int kind, unsigned level, uint64_t from, md_store_iter **out,
                     md_diag *d);
    /* 1 with a row, 0 at the end, negative on error. */
    int (*iter_next)(md_store_iter *it, md_store_row *row, md_diag *d);
    void (*iter_close)(md_store_iter *it);
};

/* Opens a store. uri is "sqlite:PATH" or a plain path (SQLite); "postgres://..." is reserved
 * for the PostgreSQL backend. flags: MD_STORE_CREATE makes the file and schema. */
int md_store_open(md_store **out, const char *uri, int flags, md_diag *d);
int md_store_sqlite_open(md_store **out, const char *path, int flags, md_diag *d);
/* Closes a store; accepts NULL. */
void md_store_close(md_store *s);

/* Testing hook: when set, the next commit fails as an fsync failure would (SQLite backend). */
void md_store_sqlite_fail_commits(md_store *s, int fail);

#endif
