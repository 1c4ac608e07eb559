/*
 * account_store.h: the accountability module's storage backend interface (src/account), one
 * table of function pointers per backend, apart from the ledger's (store.h) and the registry's.
 *
 * Its own tables (prefixed account_) in the data directory's database, over its own connection:
 * approvals (one row each, keyed by approval id), first views of an approval per viewer, and the
 * trace index (key -> ledger index, a cache derived from the ledger that can be rebuilt by
 * rescanning it) with a meta table of integers (how far the index has scanned).
 *
 * Status changes are compare-and-set: approval_transition only moves a row that is in the
 * expected status, so two processes racing to approve or to use an approval cannot both win.
 * Each call is its own transaction (autocommit, synchronous=FULL) unless begin/commit wrap it.
 * Strings in rows handed to callbacks are borrowed for the duration of the call.
 *
 * A md_astore is one connection and is not thread-safe: the account module guards it with its
 * mutex. Depends on core only.
 */
#ifndef MD_ACCOUNT_STORE_H
#define MD_ACCOUNT_STORE_H

#include "core/core.h"

typedef struct md_astore md_astore;
typedef struct md_astore_ops md_astore_ops;

struct md_astore {
    const md_astore_ops *ops;
};

/* Approval status, stored as text. */
#define MD_APPROVAL_PENDING "pending"
#define MD_APPROVAL_DECIDING "deciding" /* an approve/reject is being written to the ledger */
#define MD_APPROVAL_APPROVED "approved"
#define MD_APPROVAL_REJECTED "rejected"
#define MD_APPROVAL_EXPIRED "expired"
#define MD_APPROVAL_USED "used"

/* One approval row. Strings are borrowed; NULL reads as absent. */
typedef struct md_astore_approval {
    const char *id;
    const char *digest;  /* hex SHA-256 of the canonical request */
    const char *request; /* JSON: the canonical request and the obligations */
    const char *status;
    int64_t created_ms, expires_ms;
    const char *approver, *mode, *reason; /* set once decided */
    int64_t decided_ms;                   /* 0 until decided */
    int64_t dwell_ms;                     /* -1: the approver never viewed it */
    int64_t request_index;                /* ledger index of the approval_required decision; -1 */
    int64_t decide_index;                 /* ledger index of the approved/rejected entry; -1 */
    int64_t use_index;                    /* ledger index of the allowed decision; -1 */
} md_astore_approval;

typedef int (*md_astore_approval_cb)(void *ctx, const md_astore_approval *a);
typedef int (*md_astore_index_cb)(void *ctx, const char *key, uint64_t index);

struct md_astore_ops {
    const char *name;
    void (*close)(md_astore *s);
    int (*begin)(md_astore *s, md_diag *d);
    int (*commit)(md_astore *s, md_diag *d);
    void (*rollback)(md_astore *s);
    /* Integer settings; a missing key reads as 0. */
    int (*meta_get)(md_astore *s, const char *key, int64_t *v, md_diag *d);
    int (*meta_put)(md_astore *s, const char *key, int64_t v, md_diag *d);
    /* A new approval (MANDATE_EEXIST when the id is taken). */
    int (*approval_insert)(md_astore *s, const md_astore_approval *a, md_diag *d);
    /* One approval: cb is called once, or MANDATE_ENOTFOUND. */
    int (*approval_get)(md_astore *s, const char *id, md_astore_approval_cb cb, void *ctx,
                        md_diag *d);
    /* Approvals with this status (NULL: all), oldest first, at most limit (0: no limit). */
    int (*approval_each)(md_astore *s, const char *status, size_t limit, md_astore_approval_cb cb,
                         void *ctx, md_diag *d);
    /* Compare-and-set: moves the row from status `from` to a->status and writes the fields
     * approver, mode, reason, decided_ms, dwell_ms and the three indices from a (a->id names the
     * row). *moved is false when the row was not in `from` (nothing changed). */
    int (*approval_transition)(md_astore *s, const md_astore_approval *a, const char *from,
                               bool *moved, md_diag *d);
    /* Rows past their expiry in status pending or approved: their ids, oldest first. */
    int (*approval_overdue)(md_astore *s, int64_t now_ms, size_t limit, md_astore_approval_cb cb,
                            void *ctx, md_diag *d);
    /* First view of an approval by a viewer: *first is true when this is it (recorded). */
    int (*view_record)(md_astore *s, const char *id, const char *viewer, int64_t time_ms,
                       bool *first, md_diag *d);
    /* The first view by viewer, or MANDATE_ENOTFOUND. */
    int (*view_get)(md_astore *s, const char *id, const char *viewer, int64_t *time_ms, md_diag *d);
    /* Trace index: a key may map to many ledger indices. */
    int (*index_put)(md_astore *s, const char *key, uint64_t index, md_diag *d);
    /* Indices for key, newest (highest) first, at most limit (0: no limit). */
    int (*index_get)(md_astore *s, const char *key, size_t limit, md_astore_index_cb cb, void *ctx,
                     md_diag *d);
};

/* Opens the account store: "sqlite:PATH" or a plain path; "postgres://..." is reserved for the
 * PostgreSQL backend (MANDATE_EINVAL until it is built in). Creates the account_ tables. */
int md_astore_open(md_astore **out, const char *uri, md_diag *d);
int md_astore_sqlite_open(md_astore **out, const char *path, md_diag *d);
/* Accepts NULL. */
void md_astore_close(md_astore *s);

#endif
