/*
 * registry_sqlite.c: the SQLite backend of the registry store (registry_store.h), and the URI
 * dispatch of md_rstore_open.
 *
 * Its own connection to the database file the ledger uses, WAL journal, busy timeout 10 s,
 * prepared statements kept for the connection's life. Tables are prefixed registry_. A durable
 * transaction commits with synchronous=FULL; a non-durable one with synchronous=NORMAL (in WAL
 * mode the commit is in the log but not yet fsynced: the next FULL commit on the database, the
 * ledger's, makes it durable with it).
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "store/registry_store.h"
#include "store/sqlite_conn.h"

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SYNC_FULL,
    Q_SYNC_NORMAL,
    Q_DATA_VERSION,
    Q_META_GET,
    Q_META_PUT,
    Q_P_INSERT,
    Q_P_UPDATE,
    Q_P_STATUS,
    Q_P_GET,
    Q_P_EACH,
    Q_REVOKE,
    Q_REVOKED_EACH,
    Q_USES_GET,
    Q_USES_ADD,
    Q_USAGE_ADD,
    Q_USAGE_SUM,
    Q_USAGE_PRUNE,
    Q_COUNT
};

static const char *const q_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [Q_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_META_GET] = "SELECT value FROM registry_meta WHERE key = ?1",
    [Q_META_PUT] = "INSERT OR REPLACE INTO registry_meta(key, value) VALUES (?1, ?2)",
    [Q_P_INSERT] = "INSERT INTO registry_principal(uid, kind, status, doc) VALUES (?1, ?2, ?3, ?4)",
    [Q_P_UPDATE] = "UPDATE registry_principal SET kind = ?2, status = ?3, doc = ?4 WHERE uid = ?1",
    [Q_P_STATUS] = "UPDATE registry_principal SET status = ?2 WHERE uid = ?1",
    [Q_P_GET] = "SELECT uid, kind, status, doc FROM registry_principal WHERE uid = ?1",
    [Q_P_EACH] = "SELECT uid, kind, status, doc FROM registry_principal ORDER BY uid",
    [Q_REVOKE] = "INSERT OR IGNORE INTO registry_revoked(jti, time_ms, actor, reason)"
                 " VALUES (?1, ?2, ?3, ?4)",
    [Q_REVOKED_EACH] = "SELECT jti FROM registry_revoked ORDER BY jti",
    [Q_USES_GET] = "SELECT uses FROM registry_uses WHERE jti = ?1",
    [Q_USES_ADD] = "INSERT INTO registry_uses(jti, uses) VALUES (?1, ?2)"
                   " ON CONFLICT(jti) DO UPDATE SET uses = uses + excluded.uses",
    [Q_USAGE_ADD] =
        "INSERT INTO registry_usage(agent, action, minute, count) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(agent, action, minute) DO UPDATE SET count = count + excluded.count",
    [Q_USAGE_SUM] = "SELECT coalesce(sum(count), 0) FROM registry_usage"
                    " WHERE agent = ?1 AND action = ?2 AND minute >= ?3",
    [Q_USAGE_PRUNE] = "DELETE FROM registry_usage WHERE minute < ?1",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS registry_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS registry_principal(uid TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
    " status INTEGER NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS registry_revoked(jti TEXT PRIMARY KEY, time_ms INTEGER NOT NULL,"
    " actor TEXT NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS registry_uses(jti TEXT PRIMARY KEY, uses INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS registry_usage(agent TEXT NOT NULL, action TEXT NOT NULL,"
    " minute INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY(agent, action, minute))"
    " WITHOUT ROWID;";

typedef struct sq {
    md_rstore base;
    md_sqlite_conn c;
    int64_t data_version; /* -1 before the first call of changed */
} sq;

static int sq_fail(sq *s, md_diag *d, const char *what)
{
    return md_sqlite_conn_fail(&s->c, d, what);
}

static sqlite3_stmt *q(sq *s, int which, md_diag *d)
{
    return md_sqlite_conn_stmt(&s->c, which, d);
}

/* Runs a statement with no result rows. */
static int run(sq *s, sqlite3_stmt *st, const char *what, md_diag *d)
{
    return md_sqlite_conn_run(&s->c, st, what, false, d);
}

static void bind_str(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

static void sq_close(md_rstore *base)
{
    sq *s = (sq *)base;
    md_sqlite_conn_close(&s->c);
    free(s);
}

static void sq_rollback(md_rstore *base)
{
    sq *s = (sq *)base;
    if (s->c.db && !sqlite3_get_autocommit(s->c.db))
        run(s, q(s, Q_ROLLBACK, NULL), "rollback", NULL);
}

static int sq_begin(md_rstore *base, bool durable, md_diag *d)
{
    sq *s = (sq *)base;
    int rc = run(s, q(s, durable ? Q_SYNC_FULL : Q_SYNC_NORMAL, d), "setting synchronous", d);
    return rc ? rc : run(s, q(s, Q_BEGIN, d), "beginning a transaction", d);
}

static int sq_commit(md_rstore *base, md_diag *d)
{
    sq *s = (sq *)base;
    int rc = run(s, q(s, Q_COMMIT, d), "commit", d);
    if (rc)
        sq_rollback(base);
    return rc;
}

static int sq_changed(md_rstore *base, bool *changed, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_DATA_VERSION, d);
    if (!st)
        return MANDATE_ESTORE;
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, d, "reading the data version");
    *changed = v != s->data_version;
    s->data_version = v;
    return 0;
}

static int sq_meta_get(md_rstore *base, const char *key, uint64_t *v, md_diag *d)
{
    int64_t x = 0;
    int rc = md_sqlite_conn_get_i64(&((sq *)base)->c, Q_META_GET, key, &x, "reading a setting", d);
    *v = (uint64_t)x;
    return rc;
}

static int sq_meta_put(md_rstore *base, const char *key, uint64_t v, md_diag *d)
{
    return md_sqlite_conn_put_i64(&((sq *)base)->c, Q_META_PUT, key, (int64_t)v,
                                  "writing a setting", false, d);
}

static int put_principal(sq *s, int which, const md_rstore_principal *p, md_diag *d)
{
    sqlite3_stmt *st = q(s, which, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, p->uid);
    sqlite3_bind_int(st, 2, p->kind);
    sqlite3_bind_int(st, 3, p->status);
    sqlite3_bind_text(st, 4, p->doc, (int)p->doc_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_CONSTRAINT)
        return md_diag_set(d, MANDATE_EEXIST, 0, 0, "'%s' is already registered", p->uid);
    if (rc != SQLITE_DONE)
        return sq_fail(s, d, "writing a principal");
    if (which != Q_P_INSERT && sqlite3_changes(s->c.db) == 0)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "'%s' is not registered", p->uid);
    return 0;
}

static int sq_p_insert(md_rstore *base, const md_rstore_principal *p, md_diag *d)
{
    return put_principal((sq *)base, Q_P_INSERT, p, d);
}

static int sq_p_update(md_rstore *base, const md_rstore_principal *p, md_diag *d)
{
    return put_principal((sq *)base, Q_P_UPDATE, p, d);
}

static int sq_p_status(md_rstore *base, const char *uid, int status, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_P_STATUS, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, uid);
    sqlite3_bind_int(st, 2, status);
    int rc = run(s, st, "writing a status", d);
    if (!rc && sqlite3_changes(s->c.db) == 0)
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "'%s' is not registered", uid);
    return rc;
}

/* Steps a principal query, calling cb per row. */
static int each_principal(sq *s, sqlite3_stmt *st, md_rstore_principal_cb cb, void *ctx,
                          size_t *rows, md_diag *d)
{
    int ret = 0, rc;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        md_rstore_principal p = {
            .uid = (const char *)sqlite3_column_text(st, 0),
            .kind = sqlite3_column_int(st, 1),
            .status = sqlite3_column_int(st, 2),
            .doc = (const char *)sqlite3_column_text(st, 3),
        };
        p.doc_len = (size_t)sqlite3_column_bytes(st, 3);
        if (!p.uid || !p.doc) {
            ret = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "registry store: out of memory");
            break;
        }
        ++*rows;
        if ((ret = cb(ctx, &p)) != 0)
            break;
    }
    if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = sq_fail(s, d, "reading principals");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static int sq_p_get(md_rstore *base, const char *uid, md_rstore_principal_cb cb, void *ctx,
                    md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_P_GET, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, uid);
    size_t rows;
    int rc = each_principal(s, st, cb, ctx, &rows, d);
    if (!rc && rows == 0)
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "'%s' is not registered", uid);
    return rc;
}

static int sq_p_each(md_rstore *base, md_rstore_principal_cb cb, void *ctx, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_P_EACH, d);
    size_t rows;
    return st ? each_principal(s, st, cb, ctx, &rows, d) : MANDATE_ESTORE;
}

static int sq_revoke(md_rstore *base, const char *jti, int64_t time_ms, const char *actor,
                     const char *reason, bool *added, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_REVOKE, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, jti);
    sqlite3_bind_int64(st, 2, time_ms);
    bind_str(st, 3, actor);
    bind_str(st, 4, reason);
    int rc = run(s, st, "writing a revocation", d);
    if (!rc && added)
        *added = sqlite3_changes(s->c.db) > 0;
    return rc;
}

static int sq_revoked_each(md_rstore *base, md_rstore_revoked_cb cb, void *ctx, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_REVOKED_EACH, d);
    if (!st)
        return MANDATE_ESTORE;
    int ret = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *jti = (const char *)sqlite3_column_text(st, 0);
        if (!jti) {
            ret = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "registry store: out of memory");
            break;
        }
        if ((ret = cb(ctx, jti)) != 0)
            break;
    }
    if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = sq_fail(s, d, "reading revocations");
    sqlite3_reset(st);
    return ret;
}

static int sq_uses_get(md_rstore *base, const char *jti, uint64_t *n, md_diag *d)
{
    int64_t x = 0;
    int rc =
        md_sqlite_conn_get_i64(&((sq *)base)->c, Q_USES_GET, jti, &x, "reading a use count", d);
    *n = (uint64_t)x;
    return rc;
}

static int sq_uses_add(md_rstore *base, const char *jti, uint64_t n, md_diag *d)
{
    return md_sqlite_conn_put_i64(&((sq *)base)->c, Q_USES_ADD, jti, (int64_t)n,
                                  "writing a use count", false, d);
}

static int sq_usage_add(md_rstore *base, const char *agent, const char *action, int64_t minute,
                        uint64_t n, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_USAGE_ADD, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, agent);
    bind_str(st, 2, action);
    sqlite3_bind_int64(st, 3, minute);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
    return run(s, st, "writing a usage counter", d);
}

static int sq_usage_sum(md_rstore *base, const char *agent, const char *action, int64_t since,
                        uint64_t *sum, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_USAGE_SUM, d);
    if (!st)
        return MANDATE_ESTORE;
    bind_str(st, 1, agent);
    bind_str(st, 2, action);
    sqlite3_bind_int64(st, 3, since);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *sum = (uint64_t)sqlite3_column_int64(st, 0);
    else
        ret = sq_fail(s, d, "reading usage counters");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static int sq_usage_prune(md_rstore *base, int64_t before, md_diag *d)
{
    sq *s = (sq *)base;
    sqlite3_stmt *st = q(s, Q_USAGE_PRUNE, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_int64(st, 1, before);
    return run(s, st, "pruning usage counters", d);
}

static const md_rstore_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .changed = sq_changed,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .principal_insert = sq_p_insert,
    .principal_update = sq_p_update,
    .principal_set_status = sq_p_status,
    .principal_get = sq_p_get,
    .principal_each = sq_p_each,
    .revoke = sq_revoke,
    .revoked_each = sq_revoked_each,
    .uses_get = sq_uses_get,
    .uses_add = sq_uses_add,
    .usage_add = sq_usage_add,
    .usage_sum = sq_usage_sum,
    .usage_prune = sq_usage_prune,
};

int md_rstore_sqlite_open(md_rstore **out, const char *path, md_diag *d)
{
    if (!out || !path || !*path)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "registry store: no database path");
    *out = NULL;
    sq *s = calloc(1, sizeof *s);
    if (!s)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "registry store: out of memory");
    s->base.ops = &sqlite_ops;
    s->data_version = -1;
    int rc = md_sqlite_conn_open(&s->c, "registry store", path, true, NULL, schema_sql, q_sql,
                                 Q_COUNT, d);
    if (rc) {
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int md_rstore_open(md_rstore **out, const char *uri, md_diag *d)
{
    if (!out || !uri || !*uri)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "registry store: no location given");
    *out = NULL;
    if (!strncmp(uri, "sqlite:", 7))
        return md_rstore_sqlite_open(out, uri + 7, d);
    if (!strncmp(uri, "postgres://", 11) || !strncmp(uri, "postgresql://", 13))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "registry store '%s': the PostgreSQL backend is not built in", uri);
    return md_rstore_sqlite_open(out, uri, d);
}

void md_rstore_close(md_rstore *s)
{
    if (s)
        s->ops->close(s);
}
