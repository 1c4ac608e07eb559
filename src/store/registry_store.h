/*
 * registry_store.h: the registry's storage backend interface (src/registry), one table of
 * function pointers per backend, apart from the ledger's (store.h).
 *
 * The registry keeps its own tables in the same database as the ledger, over its own connection:
 * principals (humans, agents, services, groups, workflows: uid, kind, status and a JSON document
 * the registry interprets), revoked delegations, delegation use counts, per-minute usage counters
 * (agent, action, minute) and a small key/value table of integers (the registry version, the
 * freeze flag, the usage sequence number). SQLite (registry_sqlite.c) is the first backend; a
 * PostgreSQL backend implements the same table: nothing here is SQLite-specific, rows come back
 * through callbacks whose arguments are borrowed for the duration of the call.
 *
 * A md_rstore is one connection and is not thread-safe: the registry guards it with its mutex.
 * Writes happen between begin and commit. begin(durable = true) commits with a full sync (the
 * change is on disk when commit returns); begin(durable = false) may defer the sync to the next
 * durable commit on the same database (SQLite WAL: the ledger's fsync covers it), which is how
 * use counts are written just before the decision's ledger entry.
 *
 * Depends on core only.
 */
#ifndef MD_REGISTRY_STORE_H
#define MD_REGISTRY_STORE_H

#include "core/core.h"

typedef struct md_rstore md_rstore;
typedef struct md_rstore_ops md_rstore_ops;

struct md_rstore {
    const md_rstore_ops *ops;
};

/* One principal row; strings are borrowed. */
typedef struct md_rstore_principal {
    const char *uid; /* canonical Cedar uid text, the key */
    int kind;        /* a mandate_kind */
    int status;      /* a mandate_status */
    const char *doc; /* JSON object text */
    size_t doc_len;
} md_rstore_principal;

typedef int (*md_rstore_principal_cb)(void *ctx, const md_rstore_principal *p);
typedef int (*md_rstore_revoked_cb)(void *ctx, const char *jti);

struct md_rstore_ops {
    const char *name;
    void (*close)(md_rstore *s);
    int (*begin)(md_rstore *s, bool durable, md_diag *d);
    int (*commit)(md_rstore *s, md_diag *d);
    void (*rollback)(md_rstore *s);
    /* *changed: whether another connection committed to the database since the last call. */
    int (*changed)(md_rstore *s, bool *changed, md_diag *d);
    /* Integer settings; a missing key reads as 0. */
    int (*meta_get)(md_rstore *s, const char *key, uint64_t *v, md_diag *d);
    int (*meta_put)(md_rstore *s, const char *key, uint64_t v, md_diag *d);
    /* Insert (MANDATE_EEXIST when the uid is taken) or update one principal. */
    int (*principal_insert)(md_rstore *s, const md_rstore_principal *p, md_diag *d);
    int (*principal_update)(md_rstore *s, const md_rstore_principal *p, md_diag *d);
    /* Status only; MANDATE_ENOTFOUND when the uid is unknown. */
    int (*principal_set_status)(md_rstore *s, const char *uid, int status, md_diag *d);
    /* One principal: the callback is called once, or MANDATE_ENOTFOUND. */
    int (*principal_get)(md_rstore *s, const char *uid, md_rstore_principal_cb cb, void *ctx,
                         md_diag *d);
    /* Every principal in uid order; a non-zero callback return stops and is returned. */
    int (*principal_each)(md_rstore *s, md_rstore_principal_cb cb, void *ctx, md_diag *d);
    /* Revocation list: insert is idempotent (*added false when already revoked). */
    int (*revoke)(md_rstore *s, const char *jti, int64_t time_ms, const char *actor,
                  const char *reason, bool *added, md_diag *d);
    int (*revoked_each)(md_rstore *s, md_rstore_revoked_cb cb, void *ctx, md_diag *d);
    /* Delegation use counts keyed by jti. */
    int (*uses_get)(md_rstore *s, const char *jti, uint64_t *n, md_diag *d);
    int (*uses_add)(md_rstore *s, const char *jti, uint64_t n, md_diag *d);
    /* Usage counters: count of (agent, action) per minute since the epoch. */
    int (*usage_add)(md_rstore *s, const char *agent, const char *action, int64_t minute,
                     uint64_t n, md_diag *d);
    /* The sum of counts for minutes >= since. */
    int (*usage_sum)(md_rstore *s, const char *agent, const char *action, int64_t since,
                     uint64_t *sum, md_diag *d);
    /* Drops usage rows older than minute `before`. */
    int (*usage_prune)(md_rstore *s, int64_t before, md_diag *d);
};

/* Opens the registry store: "sqlite:PATH" or a plain path; "postgres://..." is reserved for the
 * PostgreSQL backend (MANDATE_EINVAL until it is built in). Creates the registry's tables. */
int md_rstore_open(md_rstore **out, const char *uri, md_diag *d);
int md_rstore_sqlite_open(md_rstore **out, const char *path, md_diag *d);
/* Accepts NULL. */
void md_rstore_close(md_rstore *s);

#endif
