/* sqlite_conn.c: the connection plumbing shared by the SQLite store backends (see sqlite_conn.h).
 */
#include <stdlib.h>

#include "store/sqlite_conn.h"

int md_sqlite_conn_fail(md_sqlite_conn *c, md_diag *d, const char *what)
{
    return md_diag_set(d, MANDATE_ESTORE, 0, 0, "%s: %s on '%s' failed: %s", c->name, what,
                       c->path ? c->path : "?", c->db ? sqlite3_errmsg(c->db) : "no connection");
}

void md_sqlite_conn_close(md_sqlite_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->st && i < c->n; i++)
        sqlite3_finalize(c->st[i]);
    free(c->st);
    sqlite3_close(c->db);
    free(c->path);
    c->st = NULL;
    c->db = NULL;
    c->path = NULL;
}

int md_sqlite_conn_open(md_sqlite_conn *c, const char *name, const char *path, bool create,
                        const char *pragmas, const char *schema, const char *const *sql, size_t n,
                        md_diag *d)
{
    *c = (md_sqlite_conn){.name = name, .sql = sql, .n = n};
    size_t len = strlen(path);
    c->path = malloc(len + 1);
    c->st = calloc(n ? n : 1, sizeof *c->st);
    if (!c->path || !c->st) {
        md_sqlite_conn_close(c);
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "%s: out of memory", name);
    }
    memcpy(c->path, path, len + 1);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        int rc = md_diag_set(d, MANDATE_ESTORE, 0, 0, "%s: cannot open '%s': %s", name, path,
                             c->db ? sqlite3_errmsg(c->db) : "out of memory");
        md_sqlite_conn_close(c);
        return rc;
    }
    sqlite3_busy_timeout(c->db, 10000);
    char *err = NULL;
    if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, &err) != SQLITE_OK ||
        (pragmas && sqlite3_exec(c->db, pragmas, NULL, NULL, &err) != SQLITE_OK) ||
        sqlite3_exec(c->db, schema, NULL, NULL, &err) != SQLITE_OK) {
        int rc = md_diag_set(d, MANDATE_ESTORE, 0, 0, "%s: cannot set up the tables in '%s': %s",
                             name, path, err ? err : sqlite3_errmsg(c->db));
        sqlite3_free(err);
        md_sqlite_conn_close(c);
        return rc;
    }
    return 0;
}

sqlite3_stmt *md_sqlite_conn_stmt(md_sqlite_conn *c, int which, md_diag *d)
{
    if (which < 0 || (size_t)which >= c->n) {
        md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "%s: no statement %d", c->name, which);
        return NULL;
    }
    if (!c->st[which] && sqlite3_prepare_v3(c->db, c->sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                            &c->st[which], NULL) != SQLITE_OK) {
        md_sqlite_conn_fail(c, d, "preparing a statement");
        return NULL;
    }
    return c->st[which];
}

void md_sqlite_conn_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int md_sqlite_conn_run(md_sqlite_conn *c, sqlite3_stmt *st, const char *what, bool exists_is_error,
                       md_diag *d)
{
    if (!st)
        return MANDATE_ESTORE;
    int rc = sqlite3_step(st);
    md_sqlite_conn_done(st);
    if (rc == SQLITE_CONSTRAINT && exists_is_error)
        return md_diag_set(d, MANDATE_EEXIST, 0, 0, "%s: %s: the key exists", c->name, what);
    return rc == SQLITE_DONE ? 0 : md_sqlite_conn_fail(c, d, what);
}

int md_sqlite_conn_get_i64(md_sqlite_conn *c, int which, const char *key, int64_t *v,
                           const char *what, md_diag *d)
{
    sqlite3_stmt *st = md_sqlite_conn_stmt(c, which, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *v = 0;
    else
        ret = md_sqlite_conn_fail(c, d, what);
    md_sqlite_conn_done(st);
    return ret;
}

int md_sqlite_conn_put_i64(md_sqlite_conn *c, int which, const char *key, int64_t v,
                           const char *what, bool exists_is_error, md_diag *d)
{
    sqlite3_stmt *st = md_sqlite_conn_stmt(c, which, d);
    if (!st)
        return MANDATE_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    return md_sqlite_conn_run(c, st, what, exists_is_error, d);
}
