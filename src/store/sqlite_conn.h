/*
 * sqlite_conn.h: what every SQLite backend of the store needs: open a connection (WAL, busy
 * timeout, the backend's schema), a cache of prepared statements indexed by the backend's own
 * enum, run a statement that returns no rows, and error messages that name the backend and the
 * database file. Backends (registry_sqlite.c, account_sqlite.c) embed an md_sqlite_conn.
 *
 * Depends on core and SQLite only.
 */
#ifndef MD_SQLITE_CONN_H
#define MD_SQLITE_CONN_H

#include <sqlite3.h>

#include "core/core.h"

typedef struct md_sqlite_conn {
    const char *name; /* "registry store": starts every message */
    sqlite3 *db;
    const char *const *sql; /* the backend's statements, by index */
    sqlite3_stmt **st;      /* prepared on first use, n of them */
    size_t n;
    char *path;
} md_sqlite_conn;

/* Opens path (creating it when create) with journal_mode=WAL plus `pragmas` (may be NULL), then
 * runs schema. sql has n statements. On failure the connection is closed again. */
int md_sqlite_conn_open(md_sqlite_conn *c, const char *name, const char *path, bool create,
                        const char *pragmas, const char *schema, const char *const *sql, size_t n,
                        md_diag *d);
void md_sqlite_conn_close(md_sqlite_conn *c);
/* "NAME: WHAT on 'PATH' failed: sqlite's message"; returns MANDATE_ESTORE. d may be NULL. */
int md_sqlite_conn_fail(md_sqlite_conn *c, md_diag *d, const char *what);
/* The prepared statement `which`, or NULL (with a message) when it cannot be prepared. */
sqlite3_stmt *md_sqlite_conn_stmt(md_sqlite_conn *c, int which, md_diag *d);
/* Resets a statement and clears its bindings, ready for the next use. */
void md_sqlite_conn_done(sqlite3_stmt *st);
/* Steps a statement that returns no rows and resets it. A constraint violation is
 * MANDATE_EEXIST when exists_is_error, otherwise a store failure like any other. */
int md_sqlite_conn_run(md_sqlite_conn *c, sqlite3_stmt *st, const char *what, bool exists_is_error,
                       md_diag *d);

/* Statement `which` takes (?1 text key) and returns one integer column: *v is that integer, or 0
 * when there is no row. */
int md_sqlite_conn_get_i64(md_sqlite_conn *c, int which, const char *key, int64_t *v,
                           const char *what, md_diag *d);
/* Statement `which` takes (?1 text key, ?2 integer) and returns no rows (md_sqlite_conn_run). */
int md_sqlite_conn_put_i64(md_sqlite_conn *c, int which, const char *key, int64_t v,
                           const char *what, bool exists_is_error, md_diag *d);

#endif
