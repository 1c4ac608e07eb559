/*
 * account_sqlite.c: the SQLite backend of the account store (account_store.h), and the URI
 * dispatch of md_astore_open.
 *
 * Its own connection to the database file the ledger uses (WAL, synchronous=FULL, busy timeout
 * 10 s), prepared statements kept for the connection's life. Tables are prefixed account_.
 */
#include <sqlite3.h>
#include <stdlib.h>

#include "store/account_store.h"
#include "store/sqlite_conn.h"

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_META_GET,
    Q_META_PUT,
    Q_A_INSERT,
    Q_A_GET,
    Q_A_EACH,
    Q_A_EACH_ALL,
    Q_A_MOVE,
    Q_A_OVERDUE,
    Q_V_INSERT,
    Q_V_GET,
    Q_I_PUT,
    Q_I_GET,
    Q_COUNT
};

#define A_COLS                                                                                     \
    "id, digest, request, status, created_ms, expires_ms, approver, mode, reason, decided_ms,"     \
    " dwell_ms, request_index, decide_index, use_index"

static const char *const q_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_META_GET] = "SELECT value FROM account_meta WHERE key = ?1",
    [Q_META_PUT] = "INSERT OR REPLACE INTO account_meta(key, value) VALUES (?1, ?2)",
    [Q_A_INSERT] = "INSERT INTO account_approval(" A_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                   " ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [Q_A_GET] = "SELECT " A_COLS " FROM account_approval WHERE id = ?1",
    [Q_A_EACH] = "SELECT " A_COLS " FROM account_approval WHERE status = ?1"
                 " ORDER BY created_ms, id LIMIT ?2",
    [Q_A_EACH_ALL] = "SELECT " A_COLS " FROM account_approval ORDER BY created_ms, id LIMIT ?1",
    [Q_A_MOVE] = "UPDATE account_approval SET status = ?2, approver = ?3, mode = ?4, reason = ?5,"
                 " decided_ms = ?6, dwell_ms = ?7, request_index = ?8, decide_index = ?9,"
                 " use_index = ?10 WHERE id = ?1 AND status = ?11",
    [Q_A_OVERDUE] = "SELECT " A_COLS " FROM account_approval WHERE expires_ms < ?1 AND status IN"
                    " ('pending', 'approved') ORDER BY expires_ms, id LIMIT ?2",
    [Q_V_INSERT] = "INSERT OR IGNORE INTO account_view(id, viewer, time_ms) VALUES (?1, ?2, ?3)",
    [Q_V_GET] = "SELECT time_ms FROM account_view WHERE id = ?1 AND viewer = ?2",
    [Q_I_PUT] = "INSERT OR IGNORE INTO account_index(key, idx) VALUES (?1, ?2)",
    [Q_I_GET] = "SELECT idx FROM account_index WHERE key = ?1 ORDER BY idx DESC LIMIT ?2",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS account_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS account_approval(id TEXT PRIMARY KEY, digest TEXT NOT NULL,"
    " request TEXT NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, approver TEXT, mode TEXT, reason TEXT,"
    " decided_ms INTEGER NOT NULL DEFAULT 0, dwell_ms INTEGER NOT NULL DEFAULT -1,"
    " request_index INTEGER NOT NULL DEFAULT -1, decide_index INTEGER NOT NULL DEFAULT -1,"
    " use_index INTEGER NOT NULL DEFAULT -1) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS account_approval_status ON account_approval(status, created_ms);"
    "CREATE TABLE IF NOT EXISTS account_view(id TEXT NOT NULL, viewer TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, PRIMARY KEY(id, viewer)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS account_index(key TEXT NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(key, idx)) WITHOUT ROWID;";

typedef struct sq {
    md_astore base;
    md_sqlite_conn c;
} sq;

static int sq_fail(sq *s, md_diag *d, const char *what)
{
    return md_sqlite_conn_fail(&s->c, d, what);
}

static sqlite3_stmt *q(sq *s, int which, md_diag *d)
{
    return md_sqlite_conn_stmt(&s->c, which, d);
}

static void done(sqlite3_stmt *st)
{
    md_sqlite_conn_done(st);
}

static int run(sq *s, sqlite3_stmt *st, const char *what, md_diag *d)
{
    return md_sqlite_conn_run(&s->c, st, what, true, d);
}

static void bind_str(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_str(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void sq_close(md_astore *base)
{
    sq *s = (sq *)base;
    md_sqlite_conn_close(&s->c);
    free(s);
}

static int sq_begin(md_astore *base, md_diag *d)
{
    sq *s = (sq *)base;
    return run(s, q(s, Q_BEGIN, d), "begin", d);
}

static int sq_commit(md_astore *base, md_diag *d)
{
    sq *s = (sq *)base;
    return run(s, q(s, Q_COMMIT, d), "commit", d);
}

static void sq_rollback(md_astore *base)
{
    sq *s = (sq *)base;
    if (s->c.db && !sqlite3_get_autocommit(s->c.db))
        run(s, q(s, Q_ROLLBACK, NULL), "rollback", NULL);
}

static int sq_meta_get(md_astore *base, const char *key, int64_t *v, md_diag *d)
{
    return md_sqlite_conn_get_i64(&((sq *)base)->c, Q_META_GET, key, v, "reading a setting", d);
}

static int sq_meta_put(md_astore *base, const char *key, int64_t v, md_diag *d)
{
    return md_sqlite_conn_put_i64(&((sq *)base)->c, Q_META_PUT, key, v, "writing a setting", true,
                                  d);
}

static void bind_approval_tail(sqlite3_stmt *st, const md_astore_approval *a, int first)
{
    /* approver, mode, reason, decided_ms, dwell_ms, request_index, decide_index, use_index */
    bind_str(st, first, a->approver);
    bind_str(st, first + 1, a->mode);
    bind_str(st, first + 2, a->reason);
    sqlite3_bind_int64(st, first + 3, a->decided_ms);
    sqlite3_bind_int64(st, first + 4, a->dwell_ms);
    sqlite3_bind_int64(st, first + 5, a->request_index);
    sqlite3_bind_int64(st, first + 6, a->decide_index);
    sqlite3_bind_int64(st, first + 7, a->use_index);
}

static int sq_approval_insert(md_astore *base, const md_astore_approval *a, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_A_INSERT, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, a->id);
    bind_str(st, 2, a->digest);
    bind_str(st, 3, a->request);
    bind_str(st, 4, a->status);
    sqlite3_bind_int64(st, 5, a->created_ms);
    sqlite3_bind_int64(st, 6, a->expires_ms);
    bind_approval_tail(st, a, 7);
    return run(s, st, "inserting an approval", d);
}

static void read_row(sqlite3_stmt *st, md_astore_approval *a)
{
    *a = (md_astore_approval){
        .id = col_str(st, 0),
        .digest = col_str(st, 1),
        .request = col_str(st, 2),
        .status = col_str(st, 3),
        .created_ms = sqlite3_column_int64(st, 4),
        .expires_ms = sqlite3_column_int64(st, 5),
        .approver = col_str(st, 6),
        .mode = col_str(st, 7),
        .reason = col_str(st, 8),
        .decided_ms = sqlite3_column_int64(st, 9),
        .dwell_ms = sqlite3_column_int64(st, 10),
        .request_index = sqlite3_column_int64(st, 11),
        .decide_index = sqlite3_column_int64(st, 12),
        .use_index = sqlite3_column_int64(st, 13),
    };
}

/* Steps st and hands every row to cb; returns the count through *n. */
static int each_row(sq *s, sqlite3_stmt *st, md_astore_approval_cb cb, void *ctx, size_t *n,
                    md_diag *d)
{
    int rc, ret = 0;
    size_t count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        md_astore_approval a;
        read_row(st, &a);
        count++;
        if ((ret = cb(ctx, &a)))
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = sq_fail(s, d, "reading approvals");
    done(st);
    if (n)
        *n = count;
    return ret;
}

static int sq_approval_get(md_astore *base, const char *id, md_astore_approval_cb cb, void *ctx,
                           md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_A_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, id);
    size_t n = 0;
    int rc = each_row(s, st, cb, ctx, &n, d);
    if (!rc && n == 0)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no approval '%s'", id);
    return rc;
}

static int sq_approval_each(md_astore *base, const char *status, size_t limit,
                            md_astore_approval_cb cb, void *ctx, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, status ? Q_A_EACH : Q_A_EACH_ALL, d);
    if (!st)
        return MANDATE_ESTORE;
    int i = 1;
    if (status)
        bind_str(st, i++, status);
    sqlite3_bind_int64(st, i, limit ? (int64_t)limit : -1);
    return each_row(s, st, cb, ctx, NULL, d);
}

static int sq_approval_transition(md_astore *base, const md_astore_approval *a, const char *from,
                                  bool *moved, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_A_MOVE, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, a->id);
    bind_str(st, 2, a->status);
    bind_approval_tail(st, a, 3);
    bind_str(st, 11, from);
    int rc = run(s, st, "updating an approval", d);
    *moved = !rc && sqlite3_changes(s->c.db) == 1;
    return rc;
}

static int sq_approval_overdue(md_astore *base, int64_t now_ms, size_t limit,
                               md_astore_approval_cb cb, void *ctx, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_A_OVERDUE, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    return each_row(s, st, cb, ctx, NULL, d);
}

static int sq_view_record(md_astore *base, const char *id, const char *viewer, int64_t time_ms,
                          bool *first, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_V_INSERT, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, id);
    bind_str(st, 2, viewer);
    sqlite3_bind_int64(st, 3, time_ms);
    int rc = run(s, st, "recording a view", d);
    *first = !rc && sqlite3_changes(s->c.db) == 1;
    return rc;
}

static int sq_view_get(md_astore *base, const char *id, const char *viewer, int64_t *time_ms,
                       md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_V_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, id);
    bind_str(st, 2, viewer);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *time_ms = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        ret = MANDATE_ENOTFOUND;
    else
        ret = sq_fail(s, d, "reading a view");
    done(st);
    return ret;
}

static int sq_index_put(md_astore *base, const char *key, uint64_t index, md_diag *d)
{
    return md_sqlite_conn_put_i64(&((sq *)base)->c, Q_I_PUT, key, (int64_t)index,
                                  "writing the trace index", true, d);
}

static int sq_index_get(md_astore *base, const char *key, size_t limit, md_astore_index_cb cb,
                        void *ctx, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_I_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, key);
    sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : -1);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((ret = cb(ctx, key, (uint64_t)sqlite3_column_int64(st, 0))))
            break;
    if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = sq_fail(s, d, "reading the trace index");
    done(st);
    return ret;
}

static const md_astore_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .approval_insert = sq_approval_insert,
    .approval_get = sq_approval_get,
    .approval_each = sq_approval_each,
    .approval_transition = sq_approval_transition,
    .approval_overdue = sq_approval_overdue,
    .view_record = sq_view_record,
    .view_get = sq_view_get,
    .index_put = sq_index_put,
    .index_get = sq_index_get,
};

int md_astore_sqlite_open(md_astore **out, const char *path, md_diag *d)
{
    *out = NULL;
    sq *s = calloc(1, sizeof *s);
    if (!s)
        return MANDATE_ENOMEM;
    s->base.ops = &sq_ops;
    int rc = md_sqlite_conn_open(&s->c, "account store", path, false, "PRAGMA synchronous=FULL",
                                 schema_sql, q_sql, Q_COUNT, d);
    if (rc) {
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int md_astore_open(md_astore **out, const char *uri, md_diag *d)
{
    *out = NULL;
    if (!uri)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "account store: no store uri");
    if (strncmp(uri, "sqlite:", 7) == 0)
        return md_astore_sqlite_open(out, uri + 7, d);
    if (strncmp(uri, "postgres://", 11) == 0 || strncmp(uri, "postgresql://", 13) == 0)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "account store: '%s': the PostgreSQL backend is not built in", uri);
    return md_astore_sqlite_open(out, uri, d);
}

void md_astore_close(md_astore *s)
{
    if (s)
        s->ops->close(s);
}
