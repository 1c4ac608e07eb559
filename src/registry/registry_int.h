/*
 * registry_int.h: private declarations of the registry module (src/registry/).
 *
 * The registry keeps principals, revocations, use counts and usage counters in its own store
 * (store/registry_store.h) and publishes what decisions need as an immutable snapshot: every
 * principal parsed, the revocation list, and one sealed Cedar entity store (registry entities
 * merged with the caller's), the policy set and the schema, all in the snapshot's arena.
 * Snapshots are reference counted; a change (here or, detected through the store's data
 * version, in another process) builds a new one and swaps the pointer under the registry mutex,
 * so the next decision sees it. Decisions evaluate without the mutex; the mutex guards the store
 * connection, the current-snapshot pointer and the in-memory use and usage caches.
 *
 * registry.c: open/close, snapshots, changes, delegations, hooks of the token service.
 * decide.c: the agent decision path and its result.
 *
 * May depend on: core, cedar (cedar_int.h), token (public token.h, b64 from token_int.h),
 * store/registry_store.h, the public ledger.h, account (account_int.h: the accountability gate
 * the decision path calls, docs/accountability.md). Nothing below depends on it.
 */
#ifndef MD_REGISTRY_INT_H
#define MD_REGISTRY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cedar/cedar_int.h"
#include "core/core.h"
#include "mandate/ledger.h"
#include "mandate/registry.h"
#include "mandate/token.h"
#include "store/registry_store.h"

#define MD_REG_MAX_ID 256          /* bytes of a principal id */
#define MD_REG_MAX_LIST 256        /* member_of, outputs, impacts, actions, resource types */
#define MD_REG_MAX_DOC (64u << 10) /* bytes of a principal's stored document */
#define MD_REG_MAX_CONTEXT (1u << 20)
#define MD_REG_CACHE_MAX (1u << 20) /* entries of the use and usage caches before a flush */
/* Bytes of an agent result or a registry entry as text (the ledger takes at most 1 MiB). */
#define MD_REG_MAX_TEXT (4u << 20)

/* One principal as decisions see it; everything lives in the snapshot arena. */
typedef struct md_reg_principal {
    const char *uid; /* canonical uid text */
    md_euid euid;
    int kind, status;
    const char *name, *owner, *workflow, *model, *provider; /* uids canonical; NULL if absent */
    md_euid owner_euid;                                     /* when owner is set */
    /* owner and workflow resolved in the same snapshot (NULL: absent or not registered) */
    const struct md_reg_principal *owner_p, *workflow_p;
    size_t n_member_of, n_outputs, n_impacts, n_actions, n_resource_types;
    const char **member_of, **outputs, **impacts, **actions, **resource_types;
    const char *doc;
    md_value impact_set; /* a Set<String> of impacts */
} md_reg_principal;

typedef struct md_snapshot {
    atomic_uint refs;
    md_arena *a;
    uint64_t version;
    bool frozen;
    size_t n;
    md_reg_principal **p; /* sorted by uid (strcmp) */
    uint32_t *index;      /* open-addressing hash of p by uid: slot = 1 + position, 0 empty */
    size_t index_cap;     /* a power of two, or 0 (then lookups use bsearch) */
    size_t n_revoked;
    const char **revoked; /* sorted (strcmp) */
    md_entities *es;      /* sealed */
    md_policyset *ps;
    const md_schema *schema; /* may be NULL */
} md_snapshot;

/* A small open-addressing map from strings to counters. */
typedef struct md_reg_count {
    char *key;
    int64_t minute;    /* usage: the minute the sums are for */
    uint64_t n, n_day; /* uses; or usage in the last hour and day */
} md_reg_count;

typedef struct md_reg_map {
    md_reg_count *slots;
    size_t cap, n;
} md_reg_map;

/* A use (jti set) or a usage increment (agent, action, minute) counted in memory by a decision
 * and not yet in the store: md_registry_flush_uses writes them, normally from the ledger's
 * before-commit hook, so the group commit that makes the decisions' entries durable also makes
 * their counts durable, without a store write lock per decision. */
typedef struct md_reg_delta {
    char *jti;
    char *agent, *action;
    int64_t minute;
    uint64_t n;
} md_reg_delta;
#define MD_REG_PENDING_MAX 4096 /* deltas before a decision flushes them itself */

struct mandate_registry {
    pthread_mutex_t mu;
    md_rstore *st;
    mandate_ledger *ledger;
    mandate_account *account; /* approvals, outcomes, trace: on the same ledger */
    mandate_keyring *kr;
    mandate_token_service *ts;
    md_snapshot *cur;
    char *policies, *schema, *entities; /* the caller's texts (malloc'd) */
    size_t policies_len, schema_len, entities_len;
    md_reg_map uses;  /* jti -> uses */
    md_reg_map usage; /* agent \x1f action -> sums */
    uint64_t usage_seq;
    md_reg_delta *pending; /* counted in uses/usage, not yet in the store (mu) */
    size_t n_pending, cap_pending;
    int64_t prune_before; /* usage minutes to prune at the next flush, or 0 */
    /* Non-zero when pending deltas or a prune wait: the hook reads it without mu, so that a
     * ledger commit waits for mu (held through snapshot rebuilds) only when there is work. */
    _Atomic size_t pending_hint;
    bool separate_store; /* the store is not the ledger's database: flushes fsync themselves */
    /* A change counter shared by every process on the data directory (DIR/registry.gen, mapped
     * shared): bumped after every committed change, so a decision only asks the store whether
     * something changed when the counter moved. */
    _Atomic uint64_t *gen;
    uint64_t seen_gen;
    bool gen_private;       /* read-only with no DIR/registry.gen: ask the store on every acquire */
    uint64_t policy_logged; /* the first 8 bytes of the SHA-256 of the last policy set logged */
    bool read_only;         /* opened read-only: every change is refused (md_registry_writable) */
    /* cur misses a committed change: the next md_registry_acquire rebuilds it. A change of the
     * registry's principals marks it instead of rebuilding at once, so a run of changes (a bulk
     * registration) costs one rebuild rather than one per change (each is O(principals)). */
    bool stale;
    uint64_t rebuilds; /* snapshots built (tests) */
};

/* MANDATE_EDENIED (with a message) when the handle was opened read-only, else 0. */
int md_registry_writable(const mandate_registry *r, md_diag *d);

/* Tells every process on the data directory that the store changed (after a commit). */
void md_registry_bump(mandate_registry *r);

/* Snapshot reference counting. acquire checks the store for changes by others first. */
int md_registry_acquire(mandate_registry *r, md_snapshot **out, md_diag *d);
void md_snapshot_release(md_snapshot *s);
const md_reg_principal *md_snapshot_find(const md_snapshot *s, const char *uid);
bool md_snapshot_revoked(const md_snapshot *s, const char *jti);
/* The snapshot the token hooks of this thread consult (set around verification calls). */
void md_registry_set_thread_snapshot(md_snapshot *s);

/* Canonical uid text of id for kind (a plain id gets the kind's type; a uid must have it; kind 0:
 * any uid). In arena a. */
int md_reg_canonical(md_arena *a, int kind, const char *id, const char **out, md_diag *d);
/* The Cedar type of a kind ("Human", ...). */
const char *md_reg_kind_type(int kind);

/* Writes the pending use and usage deltas (and a due prune) in one non-durable store transaction
 * and bumps usage_seq (mu held). Runs before every ledger commit (the hook), when
 * MD_REG_PENDING_MAX deltas wait, and at close; a counter read from the store (a cache miss, a
 * new minute) adds the pending deltas instead, so decisions never wait for the write lock. Lock
 * order: the hook takes mu on the committing thread, so no holder of mu may wait for the ledger. */
int md_registry_flush_uses(mandate_registry *r, bool durable, md_diag *d);
/* Counts one use of jti (agent NULL) or one usage of (agent, action) at minute, for the next
 * flush (mu held). */
int md_registry_defer(mandate_registry *r, const char *jti, const char *agent, const char *action,
                      int64_t minute, md_diag *d);
/* Prunes usage minutes before `before` at the next flush (mu held). */
void md_registry_prune_later(mandate_registry *r, int64_t before);

/* Counter caches (mu held). */
md_reg_count *md_reg_map_get(md_reg_map *m, const char *key, bool create);
void md_reg_map_clear(md_reg_map *m);
/* Uses of a delegation, from the cache or the store (mu held). */
int md_registry_uses(mandate_registry *r, const char *jti, uint64_t *n, md_diag *d);
/* The same as the cache's counter (valid until the next entry is added), or NULL with *rc set. */
md_reg_count *md_registry_uses_slot(mandate_registry *r, const char *jti, int *rc, md_diag *d);
/* Usage sums of (agent, action) at minute m (mu held). */
int md_registry_usage(mandate_registry *r, const char *agent, const char *action, int64_t m,
                      md_reg_count **out, md_diag *d);

/* The decision without the ledger: everything of mandate_agent_authorize up to and including the
 * in-memory use count, which an allow also queues for the store (md_registry_defer; written by
 * the next flush), without the ledger entry (the benchmark measures it apart). Always returns a
 * result unless allocation fails. */
int md_agent_decide(mandate_registry *r, const mandate_agent_request *req,
                    mandate_agent_result **out);
/* Appends the decision entry (its counts reach the store before the ledger commit that holds
 * it: the hook); a failure turns the result into a deny (check internal or ledger). wait false:
 * the entry is only submitted (its ticket is the result's ledger index) unless the decision
 * requested or used an approval, whose binding to the entry needs the entry durable. */
int md_agent_record(mandate_registry *r, mandate_agent_result *res, bool wait);

/* Appends one ledger entry and waits until it is durable (body: a JSON object built by the
 * caller, consumed). */
int md_registry_log(mandate_registry *r, int type, json_t *body, uint64_t *index, md_diag *d);
/* The same with the body as JSON text (in md_json_dump's form the ledger stores it as given;
 * otherwise it canonicalises it); wait false only queues it and gives its ticket
 * (mandate/ledger.h). */
int md_registry_append_text(mandate_registry *r, int type, const char *body, size_t len, bool wait,
                            uint64_t *index, md_diag *d);

#endif
