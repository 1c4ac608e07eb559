/*
 * mandate/ledger.h: the evidence ledger, an append-only RFC 6962/9162 Merkle log of typed entries
 * with signed checkpoints (C2SP tlog-checkpoint in the signed-note format, Ed25519), inclusion and
 * consistency proofs, and an offline verifier.
 *
 * A mandate_ledger is an opaque handle made by mandate_ledger_open and freed by
 * mandate_ledger_close (which accepts NULL). A handle may be shared by threads: concurrent
 * mandate_ledger_append calls are batched into one durable commit (group commit). An append
 * returns 0 only once its entry is durable; after any store failure (commit or fsync) the handle
 * stops acknowledging and every later append fails with MANDATE_ESTORE until it is reopened.
 *
 * Errors are negative mandate_err codes; when a mandate_diag is given it gets a message saying
 * what failed and quoting the subject. Strings and buffers returned through out-parameters are
 * owned by the caller and freed with free().
 */
#ifndef MANDATE_LEDGER_H
#define MANDATE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "mandate/cedar.h" /* mandate_diag */
#include "mandate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mandate_ledger mandate_ledger;

/* Entry types; the numbers are part of the canonical encoding and never change. */
typedef enum mandate_entry_type {
    MANDATE_ENTRY_DECISION = 1,
    MANDATE_ENTRY_APPROVAL = 2,
    MANDATE_ENTRY_OUTCOME = 3,
    MANDATE_ENTRY_DELEGATION = 4,
    MANDATE_ENTRY_REVOCATION = 5,
    MANDATE_ENTRY_REGISTRY = 6,
    MANDATE_ENTRY_POLICY = 7,
    MANDATE_ENTRY_NOTE = 8,
} mandate_entry_type;

/* "decision", "approval", ...; NULL for an unknown type. */
const char *mandate_entry_type_name(int type);
/* The type for a name, or 0 when the name is unknown. */
int mandate_entry_type_from_name(const char *name);

typedef struct mandate_ledger_opts {
    const char *db_path;       /* the SQLite database file (made by mandate_ledger_init) */
    const char *key_path;      /* signing key file (owner-only); NULL opens read-only */
    uint64_t checkpoint_every; /* sign a checkpoint at least every N entries; 0 = 1024 */
    uint32_t checkpoint_ms;    /* and every T ms while entries are pending; 0 = no timer */
    unsigned cache_level;      /* keep tree levels >= this in memory (64 bytes per entry at 0,
                                * the default); higher levels save memory, cost store reads */
    int streaming; /* non-zero: reads are sequential scans (reviews, reports): the read connection
                    * maps no memory and keeps a small page cache, so a scan of a large ledger
                    * does not hold the file in memory (pair with a high cache_level) */
} mandate_ledger_opts;

/* Creates a data directory (mode 0700) with the database file DIR/mandate.db, a signing key
 * DIR/ledger.key (mode 0600) and its public key DIR/ledger.pub (note verifier key format).
 * origin names the log (and the key); NULL picks "mandate.local/ledger/<random hex>".
 * Fails with MANDATE_EEXIST when DIR already holds a key or database. */
int mandate_ledger_init(const char *dir, const char *origin, mandate_diag *diag);

int mandate_ledger_open(mandate_ledger **out, const mandate_ledger_opts *opts, mandate_diag *diag);
/* Signs a final checkpoint when entries are pending and a key is loaded, then closes. */
void mandate_ledger_close(mandate_ledger *l);

/* The log's origin line and its verifier key ("<name>+<hex id>+<base64>"). Borrowed. */
const char *mandate_ledger_origin(const mandate_ledger *l);
const char *mandate_ledger_verifier_key(const mandate_ledger *l);
/* The number of durable entries. */
uint64_t mandate_ledger_size(mandate_ledger *l);
/* Non-zero when a commit failed: no later entry will be durable on this handle (reopen it). why
 * (may be NULL) gets the cause. */
int mandate_ledger_failed(mandate_ledger *l, mandate_diag *why);

typedef struct mandate_ledger_entry {
    int type;         /* a mandate_entry_type */
    int64_t time_ms;  /* milliseconds since the Unix epoch; 0 = now (set by append) */
    const char *body; /* a JSON value; stored in canonical form (sorted keys, no spaces) */
    size_t body_len;
} mandate_ledger_entry;

/* Appends one entry; returns once it is durable, with its index in *index (may be NULL). */
int mandate_ledger_append(mandate_ledger *l, const mandate_ledger_entry *e, uint64_t *index,
                          mandate_diag *diag);

/* Pipelined appends: submit queues an entry without waiting for it to be durable and gives the
 * index it will have as *ticket; the entry is acknowledged only when mandate_ledger_wait for that
 * ticket returns 0 (it is then durable, as are all entries with smaller tickets). A writer may keep
 * many submissions in flight; they share group commits. Submit blocks while 65536 entries are
 * queued. After a store failure, wait fails with MANDATE_ESTORE for every ticket not yet durable
 * and submit fails at once. mandate_ledger_append is submit followed by wait. */
int mandate_ledger_submit(mandate_ledger *l, const mandate_ledger_entry *e, uint64_t *ticket,
                          mandate_diag *diag);
int mandate_ledger_wait(mandate_ledger *l, uint64_t ticket, mandate_diag *diag);

/* Called by the thread that committed a group, right after the commit (no lock held): every entry
 * below size is durable; failed non-zero: the store failed and no later entry will be (wait
 * fails for them). Calls may come from several threads and overlap, so a call may bring a
 * smaller size than one before it: the largest size seen is what holds. The listener must not
 * close the ledger or change the listener. */
typedef void (*mandate_ledger_listener)(void *arg, uint64_t size, int failed);
/* Sets the listener (NULL removes it). Returns once no call of the previous one is running, so
 * its argument may be freed after removing it. */
void mandate_ledger_listen(mandate_ledger *l, mandate_ledger_listener fn, void *arg);

/* Called by the thread that commits a group of entries, after taking the group from the queue
 * and before writing it (no lock of the ledger held): every entry of the group was submitted
 * before the call. What the hook commits on another connection to the same database file (WAL)
 * becomes durable with the group's commit, so a writer can defer its own bookkeeping (the
 * registry's use counts) to this call instead of taking the database's write lock once per entry.
 * A non-zero return (a mandate_err, with diag set) fails the group like a store failure: the
 * ledger acknowledges nothing more. The hook must not wait for the ledger. */
typedef int (*mandate_ledger_before_commit)(void *arg, mandate_diag *diag);
/* Sets the hook. Removing it (NULL) returns once no call of it is running, so its argument may be
 * freed after that. */
void mandate_ledger_set_before_commit(mandate_ledger *l, mandate_ledger_before_commit fn,
                                      void *arg);

/* What the committer did since the handle was opened (for metrics and benchmarks). */
#define MANDATE_LEDGER_COMMIT_BUCKETS 10
#define MANDATE_LEDGER_COMMIT_BOUND_NS(i) (250000ull << (i)) /* 0.25 ms .. 128 ms */
typedef struct mandate_ledger_stats {
    uint64_t commits;       /* transactions committed (each one fsync of the WAL) */
    uint64_t entries;       /* entries they held */
    uint64_t max_batch;     /* the most entries one commit held */
    uint64_t checkpoints;   /* checkpoints signed and stored */
    uint64_t write_ns;      /* time spent writing batches before their commit */
    uint64_t commit_ns;     /* time spent in the commits themselves (the fsync) */
    uint64_t max_commit_ns; /* the longest commit */
    /* Group commits by how long their entries took from the start of the write to durable
     * (write + commit): bucket i < MANDATE_LEDGER_COMMIT_BUCKETS counts those of at most
     * MANDATE_LEDGER_COMMIT_BOUND_NS(i) and more than the bound before; the last, the rest. */
    uint64_t commit_hist[MANDATE_LEDGER_COMMIT_BUCKETS + 1];
} mandate_ledger_stats;
void mandate_ledger_get_stats(mandate_ledger *l, mandate_ledger_stats *out);

/* The entry at index as one JSON object
 * {"index":..,"type":"decision","time_ms":..,"body":{..},"leaf_hash":"<base64>"}; owned. */
int mandate_ledger_get(mandate_ledger *l, uint64_t index, char **json_out, mandate_diag *diag);

/* Called by mandate_ledger_scan for each entry: its index, type (a mandate_entry_type), time and
 * canonical JSON body (borrowed for the call). Return 0 to go on; any other value stops the scan
 * and is returned by it. Must not call into the same ledger. */
typedef int (*mandate_ledger_visit)(void *arg, uint64_t index, int type, int64_t time_ms,
                                    const char *body, size_t body_len);

/* Visits the durable entries from index `from` up to (not including) `to` (0 or past the size:
 * the current size) in index order, reading the store in chunks so other readers are not held
 * up for the whole scan. Returns MANDATE_OK, the visitor's non-zero value, or an error (a
 * malformed stored entry is MANDATE_ECORRUPT naming its index). */
int mandate_ledger_scan(mandate_ledger *l, uint64_t from, uint64_t to, mandate_ledger_visit fn,
                        void *arg, mandate_diag *diag);

/* Signs (or returns the stored) checkpoint for the current size: the signed note text, owned. */
int mandate_ledger_checkpoint(mandate_ledger *l, char **note_out, mandate_diag *diag);
/* The latest stored checkpoint, owned; MANDATE_ENOTFOUND when there is none. */
int mandate_ledger_latest_checkpoint(mandate_ledger *l, char **note_out, mandate_diag *diag);

/* An inclusion proof of entry index in the tree of tree_size entries (0 = current size) as JSON
 * {"index":..,"tree_size":..,"leaf_hash":..,"root":..,"proof":[base64,...]}; owned. */
int mandate_ledger_prove(mandate_ledger *l, uint64_t index, uint64_t tree_size, char **json_out,
                         mandate_diag *diag);
/* A consistency proof between sizes size1 <= size2 (size2 0 = current) as JSON
 * {"size1":..,"size2":..,"root1":..,"root2":..,"proof":[...]}; owned. */
int mandate_ledger_prove_consistency(mandate_ledger *l, uint64_t size1, uint64_t size2,
                                     char **json_out, mandate_diag *diag);

/* Raw inclusion proof into caller memory: up to 64 hashes of 32 bytes; *n gets the count. */
int mandate_ledger_inclusion_proof(mandate_ledger *l, uint64_t index, uint64_t tree_size,
                                   uint8_t leaf_hash[32], uint8_t root[32], uint8_t proof[][32],
                                   size_t *n, mandate_diag *diag);

/* Checks a proof JSON (as made by mandate_ledger_prove or _prove_consistency) on its own:
 * MANDATE_OK when it holds, MANDATE_ECRYPTO when it does not. No ledger needed. */
int mandate_ledger_check_proof(const char *json, size_t len, mandate_diag *diag);

/* Checks a signed checkpoint note against a verifier key; on success *size and root get the
 * checkpoint's tree size and root (either may be NULL). */
int mandate_ledger_check_checkpoint(const char *note, size_t len, const char *verifier_key,
                                    uint64_t *size, uint8_t root[32], mandate_diag *diag);

typedef struct mandate_ledger_report {
    uint64_t entries;     /* entries read */
    uint64_t nodes;       /* stored tree nodes checked */
    uint64_t checkpoints; /* stored checkpoints checked */
    int bad;              /* 0 when everything verified */
    const char *bad_kind; /* "entry", "node" or "checkpoint" (static), NULL when good */
    uint64_t bad_index;   /* entry index; for a node its first entry; for a checkpoint its size */
    unsigned bad_level;   /* the node's level (0 = leaf hash) */
} mandate_ledger_report;

/* Recomputes every hash from the stored entries, compares every stored node, and checks every
 * stored checkpoint's signature (against verifier_key, or the key recorded in the database when
 * NULL) and root. Opens db_path itself (no server, no signing key needed). Returns MANDATE_OK,
 * MANDATE_ECORRUPT with the first bad index in the report and the message, or another error when
 * the database cannot be read at all. */
int mandate_ledger_verify(const char *db_path, const char *verifier_key, mandate_ledger_report *r,
                          mandate_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
