/*
 * ledger.c: the ledger handle: open/init with key handling, group-commit appends (synchronous,
 * and pipelined with submit/wait), checkpoints (on demand, every N entries, every T ms), proofs.
 *
 * Group commit: an appender encodes and hashes its entry, queues it (getting its index as a
 * ticket) and, for a synchronous append, waits. The committer thread takes the queue, writes
 * entries, nodes and (when due) a signed checkpoint in one transaction, commits, and only then
 * publishes the new size and wakes the waiters: a ticket is acknowledged once size > ticket. A
 * failed commit sets `failed`: the handle never acknowledges again. The committer also serves
 * checkpoint requests and the checkpoint timer, and drains the queue at close. Before it writes
 * a group of entries, the committing thread calls the before-commit hook (without mu): what the
 * hook commits on another connection to the database is made durable by the group's commit.
 *
 * Locks: mu guards the queue and the durable state (size, frontier, failed, checkpoint state);
 * cache_lock guards the in-memory node cache; rmu guards the reader store. Order: mu, then
 * cache_lock; rmu is taken after cache_lock and never with mu. Conditions on mu: cv (waiters),
 * ccv (the committer), qcv (submitters waiting for room in the queue).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger_int.h"

#define MAX_BATCH 8192
#define MAX_QUEUE 65536    /* submitters wait while this many entries are queued */
#define GATHER_US 1000     /* a gathering leader waits up to half the last commit's time, */
#define GATHER_MAX_US 3000 /* but at least GATHER_US and at most GATHER_MAX_US */
#define DEFAULT_CP_EVERY 1024
#define DEFAULT_CACHE_LEVEL 0
#define KEY_FILE_MAX 4096

typedef struct append_req {
    struct append_req *next;
    md_buf enc; /* the canonical encoding */
    uint8_t leaf[MD_HASH_LEN];
} append_req;

typedef struct cache_level {
    uint8_t (*h)[MD_HASH_LEN];
    uint64_t len, cap;
} cache_level;

struct mandate_ledger {
    int lock_fd; /* the writer lock on "<db>.lock", -1 for a reader */
    md_store *w, *r;
    pthread_mutex_t mu, rmu;
    pthread_cond_t cv;  /* waiters: size, failed or cp_served changed */
    pthread_cond_t ccv; /* the committer: work arrived that no waiter is committing */
    pthread_cond_t qcv; /* submitters: room in the queue */
    pthread_cond_t gcv; /* a gathering leader: the queue reached `gather` */
    pthread_cond_t lcv; /* no listener (mandate_ledger_listen) or hook call is running */
    pthread_rwlock_t cache_lock;
    uint64_t id;         /* unique per open handle (for per-thread proof caches) */
    uint64_t size;       /* durable entries */
    uint64_t next_index; /* the index (ticket) of the next submitted entry */
    md_merkle_frontier fr;
    int failed;
    md_diag fail;
    append_req *head, *tail;
    size_t queued;        /* entries in the queue */
    int committing;       /* a leader (a waiter or the committer) is writing a batch */
    size_t gather;        /* while a leader gathers: the queue length it waits for */
    size_t gather_target; /* entries outstanding when the last commit ended (see lead_and_serve) */
    uint64_t last_commit_ns;
    uint64_t last_commit_end; /* mono_ns() when it ended */
    md_store_node *pend;      /* the committer's buffers: nodes of a batch, entry pointers */
    size_t pend_cap;
    const void **bdata;
    size_t *blens;
    /* checkpoint requests: numbered; served up to cp_served (at size cp_served_size), those up
     * to cp_failed failed */
    uint64_t cp_want, cp_served, cp_served_size, cp_failed;
    uint64_t last_cp_size;
    int64_t last_cp_ms;
    int have_cp;
    uint64_t cp_every;
    uint32_t cp_ms;
    unsigned cache_level;
    cache_level lv[MD_MERKLE_MAX_LEVEL + 1];
    int has_key;
    md_note_signer signer;
    md_note_verifier verifier;
    char origin[MD_NOTE_NAME_MAX];
    char vkey[512];
    pthread_t committer;
    int committer_on, stopping;
    mandate_ledger_listener listener; /* guarded by mu; see notify */
    void *listener_arg;
    int notifying;                     /* listener calls running */
    mandate_ledger_before_commit hook; /* guarded by mu; see lead */
    void *hook_arg;
    int hooking;                /* hook calls running */
    mandate_ledger_stats stats; /* guarded by mu */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int to_public(md_diag *d, mandate_diag *out, int rc)
{
    if (out) {
        out->code = rc ? (d->code ? d->code : rc) : 0;
        out->line = d->line;
        out->column = d->col;
        out->message[0] = '\0'; /* no formatting on success: every append passes here */
        if (rc)
            snprintf(out->message, sizeof out->message, "%s",
                     d->msg[0] ? d->msg : mandate_strerror(rc));
    }
    return rc;
}

md_store *md_ledger_writer_store(mandate_ledger *l)
{
    return l ? l->w : NULL;
}

/* ---- the node cache and the node source for proofs ---- */

static int cache_push(mandate_ledger *l, unsigned level, uint64_t idx, const uint8_t h[32])
{
    cache_level *c = &l->lv[level];
    if (idx != c->len)
        return MANDATE_EINTERNAL;
    if (c->len == c->cap) {
        uint64_t cap = c->cap ? c->cap * 2 : 256;
        void *p = realloc(c->h, (size_t)cap * MD_HASH_LEN);
        if (!p)
            return MANDATE_ENOMEM;
        c->h = p;
        c->cap = cap;
    }
    memcpy(c->h[c->len++], h, MD_HASH_LEN);
    return 0;
}

static int node_src(void *ctx, unsigned level, uint64_t idx, uint8_t out[MD_HASH_LEN], md_diag *d)
{
    mandate_ledger *l = ctx;
    if (level >= l->cache_level) {
        if (level > MD_MERKLE_MAX_LEVEL || idx >= l->lv[level].len)
            return md_diag_set(d, MANDATE_EINTERNAL, 0, 0,
                               "tree node level %u index %" PRIu64 " is not cached", level, idx);
        memcpy(out, l->lv[level].h[idx], MD_HASH_LEN);
        return 0;
    }
    return l->r->ops->node_get(l->r, level, idx, out, d);
}

/* ---- commits ---- */

typedef struct batch_ctx {
    mandate_ledger *l;
    md_diag *d;
    md_store_node *nodes; /* every node the batch completes, leaves included */
    size_t n, cap;
} batch_ctx;

static int emit_node(void *ctx, unsigned level, uint64_t idx, const uint8_t h[MD_HASH_LEN])
{
    batch_ctx *b = ctx;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        void *p = realloc(b->nodes, cap * sizeof *b->nodes);
        if (!p)
            return md_diag_set(b->d, MANDATE_ENOMEM, 0, 0, "out of memory");
        b->nodes = p;
        b->cap = cap;
    }
    b->nodes[b->n].level = level;
    b->nodes[b->n].index = idx;
    memcpy(b->nodes[b->n].hash, h, MD_HASH_LEN);
    b->n++;
    return 0;
}

static int sign_checkpoint(mandate_ledger *l, const md_merkle_frontier *fr, md_buf *note,
                           md_diag *d)
{
    uint8_t root[MD_HASH_LEN];
    md_buf body;
    md_buf_init(&body, MD_NOTE_MAX);
    md_merkle_frontier_root(fr, root);
    int rc = md_checkpoint_format(l->origin, fr->size, root, &body);
    if (rc)
        rc = md_diag_set(d, rc, 0, 0, "out of memory");
    else
        rc = md_note_sign(&l->signer, body.data, body.len, note, d);
    md_buf_release(&body);
    return rc;
}

/* Writes one batch in one transaction; fr advances to the new size. Runs without mu; *ns gets
 * the time spent writing ([0]) and committing ([1]). */
static int write_batch(mandate_ledger *l, append_req *batch, uint64_t base, md_merkle_frontier *fr,
                       int force_cp, int *cp_written, batch_ctx *b, uint64_t ns[2], md_diag *d)
{
    md_store *w = l->w;
    *cp_written = 0;
    uint64_t t0 = mono_ns();
    int rc = w->ops->begin(w, d);
    if (rc)
        return rc;
    size_t n = 0;
    for (append_req *r = batch; r; r = r->next, n++) {
        l->bdata[n] = r->enc.data;
        l->blens[n] = r->enc.len;
        if ((rc = md_merkle_frontier_push(fr, r->leaf, emit_node, b)) != 0) {
            if (!d->code)
                md_diag_set(d, rc, 0, 0, "the ledger is full");
            goto fail;
        }
    }
    if (n && ((rc = w->ops->entries_put(w, base, n, l->bdata, l->blens, d)) != 0 ||
              (rc = w->ops->nodes_put(w, b->nodes, b->n, d)) != 0))
        goto fail;
    int64_t now = now_ms();
    int due =
        fr->size > l->last_cp_size && (fr->size - l->last_cp_size >= l->cp_every ||
                                       (l->cp_ms && now - l->last_cp_ms >= (int64_t)l->cp_ms));
    if (force_cp && !(l->have_cp && fr->size == l->last_cp_size))
        due = 1;
    if (due) {
        md_buf note;
        md_buf_init(&note, MD_NOTE_MAX);
        rc = sign_checkpoint(l, fr, &note, d);
        if (rc == 0)
            rc = w->ops->checkpoint_put(w, fr->size, note.data, note.len, d);
        md_buf_release(&note);
        if (rc)
            goto fail;
        *cp_written = 1;
    }
    if (!batch && !due) {
        w->ops->rollback(w);
        return 0;
    }
    uint64_t t1 = mono_ns();
    rc = w->ops->commit(w, d);
    ns[0] = t1 - t0;
    ns[1] = mono_ns() - t1;
    return rc;
fail:
    w->ops->rollback(w);
    return rc;
}

static void free_reqs(append_req *r)
{
    for (append_req *next; r; r = next) {
        next = r->next;
        md_buf_release(&r->enc);
        free(r);
    }
}

static void deadline_after(struct timespec *ts, int64_t us)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(us / 1000000);
    ts->tv_nsec += (long)(us % 1000000) * 1000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int timer_due(mandate_ledger *l)
{
    return l->cp_ms && !l->failed && l->size > l->last_cp_size &&
           now_ms() - l->last_cp_ms >= (int64_t)l->cp_ms;
}

/* Commits up to MAX_BATCH queued entries (and a checkpoint when due or forced) as one
 * transaction. Called by the committer with mu held; returns with mu held and the number of
 * entries taken. */
static size_t lead(mandate_ledger *l, int force_cp)
{
    append_req *batch = l->head, *last = NULL;
    size_t count = 0;
    for (append_req *r = l->head; r && count < MAX_BATCH; r = r->next) {
        last = r;
        count++;
    }
    if (last) {
        l->head = last->next;
        if (!l->head)
            l->tail = NULL;
        last->next = NULL;
        l->queued -= count;
        pthread_cond_broadcast(&l->qcv);
    } else {
        batch = NULL;
    }
    if (l->failed) {
        pthread_mutex_unlock(&l->mu);
        free_reqs(batch);
        pthread_mutex_lock(&l->mu);
        return count;
    }
    l->committing = 1;
    uint64_t base = l->size;
    md_merkle_frontier fr = l->fr;
    md_diag d;
    md_diag_clear(&d);
    batch_ctx b = {l, &d, l->pend, 0, l->pend_cap};
    int cp_written = 0;
    uint64_t ns[2] = {0, 0};
    mandate_ledger_before_commit hook = batch ? l->hook : NULL;
    void *hook_arg = l->hook_arg;
    l->hooking += hook != NULL;
    pthread_mutex_unlock(&l->mu);
    int rc = 0;
    if (hook) {
        /* After the batch left the queue: every entry in it was submitted before this call. */
        mandate_diag hd = {0};
        if ((rc = hook(hook_arg, &hd)) != 0)
            md_diag_set(&d, rc, 0, 0, "before the commit: %s",
                        hd.message[0] ? hd.message : mandate_strerror(rc));
    }
    if (rc == 0)
        rc = write_batch(l, batch, base, &fr, force_cp, &cp_written, &b, ns, &d);
    free_reqs(batch);
    pthread_mutex_lock(&l->mu);
    if (hook && --l->hooking == 0)
        pthread_cond_broadcast(&l->lcv);
    l->pend = b.nodes;
    l->pend_cap = b.cap;
    if (rc == 0) {
        pthread_rwlock_wrlock(&l->cache_lock);
        for (size_t i = 0; i < b.n && rc == 0; i++)
            if (b.nodes[i].level >= l->cache_level)
                rc = cache_push(l, b.nodes[i].level, b.nodes[i].index, b.nodes[i].hash);
        pthread_rwlock_unlock(&l->cache_lock);
        if (rc)
            md_diag_set(&d, rc, 0, 0, "cannot cache tree nodes after a commit");
        if (ns[1]) {
            l->stats.commits++;
            l->stats.entries += fr.size - base;
            if (fr.size - base > l->stats.max_batch)
                l->stats.max_batch = fr.size - base;
            l->stats.checkpoints += cp_written != 0;
            l->stats.write_ns += ns[0];
            l->stats.commit_ns += ns[1];
            if (ns[1] > l->stats.max_commit_ns)
                l->stats.max_commit_ns = ns[1];
            unsigned bucket = 0;
            while (bucket < MANDATE_LEDGER_COMMIT_BUCKETS &&
                   ns[0] + ns[1] > MANDATE_LEDGER_COMMIT_BOUND_NS(bucket))
                bucket++;
            l->stats.commit_hist[bucket]++;
            l->last_commit_ns = ns[0] + ns[1];
            l->last_commit_end = mono_ns();
        }
        l->size = fr.size;
        l->fr = fr;
        if (cp_written) {
            l->last_cp_size = fr.size;
            l->last_cp_ms = now_ms();
            l->have_cp = 1;
        }
    }
    if (rc) {
        l->failed = 1;
        l->fail = d;
        if (!l->fail.code)
            md_diag_set(&l->fail, MANDATE_ESTORE, 0, 0, "commit failed");
    }
    l->committing = 0;
    pthread_cond_broadcast(&l->cv);
    if (l->head)
        pthread_cond_signal(&l->ccv); /* in case no waiter leads the next batch */
    return count;
}

/* Tells the listener how far the log is durable, after a commit. Called with mu held by the
 * thread that led the commit; the call runs without mu (the listener may call into the ledger). */
static void notify(mandate_ledger *l)
{
    if (!l->listener)
        return;
    mandate_ledger_listener fn = l->listener;
    void *arg = l->listener_arg;
    uint64_t size = l->size;
    int failed = l->failed;
    l->notifying++;
    pthread_mutex_unlock(&l->mu);
    fn(arg, size, failed);
    pthread_mutex_lock(&l->mu);
    if (--l->notifying == 0)
        pthread_cond_broadcast(&l->lcv);
}

/* Leads one batch and serves pending checkpoint requests (and the timer). Called with mu held
 * and no commit running, by the committer thread or by a waiter. */
static void lead_and_serve(mandate_ledger *l)
{
    /* Gather: the writers the last commit acknowledged are likely to submit again at once, so
     * the next batch waits briefly for everything that was outstanding when that commit ended
     * (what was queued meanwhile plus what it acknowledged). With many writers this merges the
     * two half batches that would otherwise alternate (one committing while the other queues)
     * into one fsync. The wait is bounded by half the last commit's time (GATHER_US to
     * GATHER_MAX_US): waiting w for a full batch beats committing half of it when w < commit.
     * It counts from the end of that commit (the listener's call takes part of it). */
    int64_t us = 0;
    if (l->head && l->queued < l->gather_target && !l->stopping && l->cp_want == l->cp_served &&
        !l->failed) {
        us = (int64_t)(l->last_commit_ns / 2000);
        us = us < GATHER_US ? GATHER_US : us > GATHER_MAX_US ? GATHER_MAX_US : us;
        us -= (int64_t)((mono_ns() - l->last_commit_end) / 1000);
    }
    if (us > 0) {
        struct timespec ts;
        deadline_after(&ts, us);
        l->committing = 1; /* nobody else leads meanwhile */
        l->gather = l->gather_target;
        while (l->queued < l->gather && !l->stopping &&
               pthread_cond_timedwait(&l->gcv, &l->mu, &ts) == 0) {
        }
        l->gather = 0;
        l->committing = 0;
    }
    uint64_t want = l->cp_want;
    int force = want != l->cp_served || (!l->head && timer_due(l));
    size_t n = lead(l, force);
    if (n || force) {
        size_t target = l->queued + n;
        l->gather_target = target < MAX_BATCH ? target : MAX_BATCH;
    }
    if (force) {
        l->cp_served = want;
        l->cp_served_size = l->last_cp_size;
        if (l->failed)
            l->cp_failed = want;
        pthread_cond_broadcast(&l->cv);
    }
    if (n)
        notify(l);
}

/* The committer thread: commits what is queued when no waiter does (entries submitted and not
 * yet waited for), serves checkpoint requests and the checkpoint timer, and at close drains the
 * queue and signs a final checkpoint. Waiters lead batches themselves (leader/follower): the
 * thread that is already running commits, which matters on a loaded machine. */
static void *committer_main(void *arg)
{
    mandate_ledger *l = arg;
    prctl(PR_SET_NAME, "md-ledger-cmt", 0, 0, 0); /* shows in top -H and perf */
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->committing ||
               (!l->head && l->cp_want == l->cp_served && !l->stopping && !timer_due(l))) {
            if (!l->committing && l->cp_ms && !l->failed && l->size > l->last_cp_size) {
                struct timespec ts;
                int64_t left = l->last_cp_ms + (int64_t)l->cp_ms - now_ms();
                deadline_after(&ts, (left > 0 ? left : 0) * 1000 + 1000);
                pthread_cond_timedwait(&l->ccv, &l->mu, &ts);
            } else {
                pthread_cond_wait(&l->ccv, &l->mu);
            }
        }
        lead_and_serve(l);
        if (l->stopping && !l->head) {
            if (!l->failed && l->size > l->last_cp_size)
                lead(l, 1);
            if (l->failed)
                notify(l); /* a failure while stopping, if nothing else told it */
            break;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int stopped(mandate_ledger *l, md_diag *d)
{
    return md_diag_set(d, MANDATE_ESTORE, 0, 0,
                       "append not acknowledged: the ledger stopped after a store failure: %s",
                       l->fail.msg);
}

MD_EXPORT int mandate_ledger_submit(mandate_ledger *l, const mandate_ledger_entry *e,
                                    uint64_t *ticket, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !e || !ticket)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger or entry"));
    if (!l->has_key)
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_EDENIED, 0, 0,
                                     "ledger was opened without its signing key (read-only)"));
    mandate_ledger_entry ec = *e;
    if (ec.time_ms == 0)
        ec.time_ms = now_ms();
    append_req *req = malloc(sizeof *req);
    if (!req)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory"));
    req->next = NULL;
    md_buf_init(&req->enc, MD_LEDGER_MAX_BODY + 64);
    int rc = md_entry_encode(&ec, &req->enc, &d);
    if (rc) {
        free_reqs(req);
        return to_public(&d, diag, rc);
    }
    md_merkle_leaf_hash(req->enc.data, req->enc.len, req->leaf);
    pthread_mutex_lock(&l->mu);
    while (!l->failed && !l->stopping && l->queued >= MAX_QUEUE)
        pthread_cond_wait(&l->qcv, &l->mu);
    if (l->failed || l->stopping) {
        if (l->failed)
            stopped(l, &d);
        else
            md_diag_set(&d, MANDATE_EINVAL, 0, 0, "the ledger is closing");
        pthread_mutex_unlock(&l->mu);
        free_reqs(req);
        return to_public(&d, diag, d.code);
    }
    if (l->tail)
        l->tail->next = req;
    else
        l->head = req;
    l->tail = req;
    l->queued++;
    *ticket = l->next_index++;
    if (l->gather && l->queued == l->gather)
        pthread_cond_signal(&l->gcv);
    else if (l->queued == 1 && !l->committing)
        pthread_cond_signal(&l->ccv); /* a batch to start; a waiter may take it first */
    pthread_mutex_unlock(&l->mu);
    return to_public(&d, diag, 0);
}

MD_EXPORT int mandate_ledger_wait(mandate_ledger *l, uint64_t ticket, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger"));
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (ticket >= l->next_index)
        rc = md_diag_set(&d, MANDATE_EINVAL, 0, 0,
                         "ticket %" PRIu64 " was never issued (next is %" PRIu64 ")", ticket,
                         l->next_index);
    while (rc == 0 && l->size <= ticket && !l->failed) {
        if (!l->committing && l->head)
            lead_and_serve(l); /* the ticket is queued and nobody commits: lead */
        else
            pthread_cond_wait(&l->cv, &l->mu);
    }
    if (rc == 0 && l->size <= ticket)
        rc = stopped(l, &d);
    pthread_mutex_unlock(&l->mu);
    return to_public(&d, diag, rc);
}

MD_EXPORT int mandate_ledger_append(mandate_ledger *l, const mandate_ledger_entry *e,
                                    uint64_t *index, mandate_diag *diag)
{
    uint64_t t = 0;
    int rc = mandate_ledger_submit(l, e, &t, diag);
    if (rc == 0)
        rc = mandate_ledger_wait(l, t, diag);
    if (rc == 0 && index)
        *index = t;
    return rc;
}

/* ---- open, init, close ---- */

static int read_key_file(const char *path, md_note_signer *s, md_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return md_diag_set(d, errno == ENOENT ? MANDATE_ENOTFOUND : MANDATE_EIO, 0, 0,
                           "cannot open signing key '%s': %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    char buf[KEY_FILE_MAX];
    ssize_t n = 0;
    if (fstat(fd, &st) != 0) {
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot stat signing key '%s': %s", path,
                         strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = md_diag_set(d, MANDATE_EINVAL, 0, 0, "signing key '%s' is not a regular file", path);
    } else if (st.st_mode & 077) {
        rc = md_diag_set(d, MANDATE_EDENIED, 0, 0,
                         "signing key '%s' is readable by others (mode %03o): run chmod 600", path,
                         (unsigned)(st.st_mode & 0777));
    } else if ((n = read(fd, buf, sizeof buf)) < 0) {
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot read signing key '%s': %s", path,
                         strerror(errno));
    } else if ((size_t)n == sizeof buf) {
        rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "signing key '%s' is too large", path);
    } else {
        rc = md_note_signer_parse(buf, (size_t)n, s, d);
    }
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return rc;
}

static int load_meta_key(md_store *s, char origin[MD_NOTE_NAME_MAX], char *vkey, size_t vcap,
                         md_note_verifier *v, md_diag *d)
{
    md_buf b;
    md_buf_init(&b, 1024);
    int rc = s->ops->meta_get(s, "ledger.origin", &b, d);
    if (rc == 0 && (b.len == 0 || b.len >= MD_NOTE_NAME_MAX))
        rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "the stored ledger origin is malformed");
    if (rc == 0) {
        memcpy(origin, b.data, b.len);
        origin[b.len] = 0;
        rc = s->ops->meta_get(s, "ledger.verifier_key", &b, d);
    }
    if (rc == 0 && b.len >= vcap)
        rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "the stored verifier key is malformed");
    if (rc == 0) {
        memcpy(vkey, b.data, b.len);
        vkey[b.len] = 0;
        rc = md_note_verifier_parse(vkey, b.len, v, d);
    }
    md_buf_release(&b);
    return rc;
}

static int rebuild(mandate_ledger *l, md_diag *d)
{
    md_store *r = l->r;
    int rc = r->ops->begin_read(r, d);
    if (rc)
        return rc;
    if ((rc = r->ops->entry_count(r, &l->size, d)) != 0)
        goto out;
    l->fr.size = l->size;
    uint64_t start = 0;
    for (int k = MD_MERKLE_MAX_LEVEL; k >= 0; k--) {
        if (!((l->size >> k) & 1))
            continue;
        if ((rc = r->ops->node_get(r, (unsigned)k, start >> k, l->fr.h[k], d)) != 0)
            goto out;
        start += (uint64_t)1 << k;
    }
    for (unsigned lev = l->cache_level; lev <= MD_MERKLE_MAX_LEVEL && (l->size >> lev); lev++) {
        uint64_t want = l->size >> lev;
        md_store_iter *it = NULL;
        if ((rc = r->ops->iter_open(r, MD_STORE_NODES, lev, 0, &it, d)) != 0)
            goto out;
        md_store_row row;
        int got;
        while ((got = r->ops->iter_next(it, &row, d)) == 1 && l->lv[lev].len < want) {
            if (row.index != l->lv[lev].len || row.len != MD_HASH_LEN) {
                got = md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                                  "tree node level %u index %" PRIu64
                                  " is missing or malformed: run 'mandate ledger verify'",
                                  lev, l->lv[lev].len);
                break;
            }
            if ((got = cache_push(l, lev, row.index, row.data)) != 0) {
                md_diag_set(d, got, 0, 0, "out of memory caching the tree");
                break;
            }
        }
        r->ops->iter_close(it);
        if (got < 0) {
            rc = got;
            goto out;
        }
        if (l->lv[lev].len != want) {
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                             "tree level %u has %" PRIu64 " nodes, expected %" PRIu64
                             ": run 'mandate ledger verify'",
                             lev, l->lv[lev].len, want);
            goto out;
        }
    }
    md_buf note;
    md_buf_init(&note, MD_NOTE_MAX);
    uint64_t cps = 0;
    rc = r->ops->checkpoint_get(r, UINT64_MAX, &note, &cps, d);
    md_buf_release(&note);
    if (rc == MANDATE_ENOTFOUND) {
        md_diag_clear(d);
        rc = 0;
    } else if (rc == 0) {
        l->have_cp = 1;
        l->last_cp_size = cps;
        if (cps > l->size)
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                             "the latest checkpoint covers %" PRIu64 " entries but only %" PRIu64
                             " are stored",
                             cps, l->size);
    }
    l->last_cp_ms = now_ms();
out:
    r->ops->end_read(r);
    return rc;
}

static void release_writer_lock(mandate_ledger *l);

static void ledger_free(mandate_ledger *l)
{
    release_writer_lock(l);
    md_store_close(l->w);
    md_store_close(l->r);
    for (int i = 0; i <= MD_MERKLE_MAX_LEVEL; i++)
        free(l->lv[i].h);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->rmu);
    pthread_cond_destroy(&l->cv);
    pthread_cond_destroy(&l->ccv);
    pthread_cond_destroy(&l->qcv);
    pthread_cond_destroy(&l->gcv);
    pthread_cond_destroy(&l->lcv);
    free_reqs(l->head);
    free(l->pend);
    free(l->bdata);
    free(l->blens);
    pthread_rwlock_destroy(&l->cache_lock);
    sodium_memzero(&l->signer, sizeof l->signer);
    free(l);
}

/* One writing process per ledger: a second process appending would compute the same indices
 * (the tree lives in memory) and poison the first one's next commit. The writing process holds
 * an exclusive lock on "<db>.lock" while any of its writer handles is open; readers (get, prove,
 * verify) take none. Handles within one process share the lock (flock is per open file, so the
 * process keeps one descriptor per lock file, counted). */
typedef struct writer_lock {
    struct writer_lock *next;
    dev_t dev;
    ino_t ino;
    int fd;
    unsigned refs;
} writer_lock;

static pthread_mutex_t writer_locks_mu = PTHREAD_MUTEX_INITIALIZER;
static writer_lock *writer_locks;

static void release_writer_lock(mandate_ledger *l)
{
    if (l->lock_fd < 0)
        return;
    pthread_mutex_lock(&writer_locks_mu);
    for (writer_lock **pp = &writer_locks; *pp; pp = &(*pp)->next) {
        writer_lock *w = *pp;
        if (w->fd != l->lock_fd)
            continue;
        if (--w->refs == 0) {
            *pp = w->next;
            close(w->fd); /* releases the lock */
            free(w);
        }
        break;
    }
    pthread_mutex_unlock(&writer_locks_mu);
    l->lock_fd = -1;
}

static int take_writer_lock(mandate_ledger *l, const char *db_path, md_diag *d)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s.lock", db_path) >= (int)sizeof path)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "ledger path '%s' is too long", db_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot open the ledger lock '%s': %s", path,
                           strerror(e));
    }
    int rc = 0;
    pthread_mutex_lock(&writer_locks_mu);
    writer_lock *w = writer_locks;
    while (w && !(w->dev == st.st_dev && w->ino == st.st_ino))
        w = w->next;
    if (w) {
        close(fd);
        w->refs++;
        l->lock_fd = w->fd;
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        rc = e == EWOULDBLOCK
                 ? md_diag_set(d, MANDATE_EDENIED, 0, 0,
                               "ledger '%s' is open for writing by another process (is 'mandate "
                               "serve' running on this data directory? then make the change "
                               "through its API)",
                               db_path)
                 : md_diag_set(d, MANDATE_EIO, 0, 0, "cannot lock '%s': %s", path, strerror(e));
    } else if (!(w = calloc(1, sizeof *w))) {
        close(fd);
        rc = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    } else {
        *w = (writer_lock){writer_locks, st.st_dev, st.st_ino, fd, 1};
        writer_locks = w;
        l->lock_fd = fd;
    }
    pthread_mutex_unlock(&writer_locks_mu);
    return rc;
}

MD_EXPORT int mandate_ledger_open(mandate_ledger **out, const mandate_ledger_opts *o,
                                  mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!out || !o || !o->db_path || !*o->db_path)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger database"));
    *out = NULL;
    if (sodium_init() < 0)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_ECRYPTO, 0, 0, "libsodium failed"));
    mandate_ledger *l = calloc(1, sizeof *l);
    if (!l)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory"));
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->rmu, NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_cond_init(&l->ccv, NULL);
    pthread_cond_init(&l->qcv, NULL);
    pthread_cond_init(&l->gcv, NULL);
    pthread_cond_init(&l->lcv, NULL);
    l->lock_fd = -1;
    static _Atomic uint64_t next_id = 1;
    l->id = next_id++;
    pthread_rwlock_init(&l->cache_lock, NULL);
    l->cp_every = o->checkpoint_every ? o->checkpoint_every : DEFAULT_CP_EVERY;
    l->cp_ms = o->checkpoint_ms;
    l->cache_level = o->cache_level ? o->cache_level : DEFAULT_CACHE_LEVEL; /* 0: all */
    if (l->cache_level > MD_MERKLE_MAX_LEVEL + 1)
        l->cache_level = MD_MERKLE_MAX_LEVEL + 1;
    int rc = o->key_path ? take_writer_lock(l, o->db_path, &d) : 0;
    /* The writer first: it converts a database of an earlier version before anyone reads. */
    if (rc == 0 && o->key_path)
        rc = md_store_open(&l->w, o->db_path, MD_STORE_BG_CHECKPOINT | MD_STORE_UPGRADE, &d);
    if (rc == 0)
        rc = md_store_open(&l->r, o->db_path, o->streaming ? MD_STORE_STREAM : 0, &d);
    if (rc == 0)
        rc = load_meta_key(l->r, l->origin, l->vkey, sizeof l->vkey, &l->verifier, &d);
    if (rc == 0 && o->key_path) {
        rc = read_key_file(o->key_path, &l->signer, &d);
        if (rc == 0 && (strcmp(l->signer.name, l->verifier.name) != 0 ||
                        memcmp(l->signer.id, l->verifier.id, 4) != 0 ||
                        memcmp(l->signer.pk, l->verifier.pk, 32) != 0))
            rc = md_diag_set(&d, MANDATE_ECRYPTO, 0, 0,
                             "wrong key: signing key '%s' (id %02x%02x%02x%02x) is not the key of "
                             "ledger '%s' (%s)",
                             l->signer.name, l->signer.id[0], l->signer.id[1], l->signer.id[2],
                             l->signer.id[3], l->origin, l->vkey);
        l->has_key = rc == 0;
    }
    if (rc == 0)
        rc = rebuild(l, &d);
    l->next_index = l->size;
    if (rc == 0 && l->has_key) {
        l->bdata = malloc(MAX_BATCH * sizeof *l->bdata);
        l->blens = malloc(MAX_BATCH * sizeof *l->blens);
        if (!l->bdata || !l->blens)
            rc = md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    if (rc == 0 && l->has_key) {
        if (pthread_create(&l->committer, NULL, committer_main, l) != 0)
            rc = md_diag_set(&d, MANDATE_EINTERNAL, 0, 0, "cannot start the committer thread");
        else
            l->committer_on = 1;
    }
    if (rc) {
        ledger_free(l);
        return to_public(&d, diag, rc);
    }
    *out = l;
    return to_public(&d, diag, 0);
}

MD_EXPORT void mandate_ledger_close(mandate_ledger *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_signal(&l->ccv);
    pthread_cond_broadcast(&l->gcv);
    pthread_cond_broadcast(&l->qcv);
    pthread_mutex_unlock(&l->mu);
    if (l->committer_on)
        pthread_join(l->committer, NULL);
    ledger_free(l);
}

MD_EXPORT void mandate_ledger_listen(mandate_ledger *l, mandate_ledger_listener fn, void *arg)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->listener = fn;
    l->listener_arg = arg;
    while (fn == NULL && l->notifying)
        pthread_cond_wait(&l->lcv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

MD_EXPORT void mandate_ledger_set_before_commit(mandate_ledger *l, mandate_ledger_before_commit fn,
                                                void *arg)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->hook = fn;
    l->hook_arg = arg;
    while (fn == NULL && l->hooking)
        pthread_cond_wait(&l->lcv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

MD_EXPORT const char *mandate_ledger_origin(const mandate_ledger *l)
{
    return l ? l->origin : NULL;
}

MD_EXPORT const char *mandate_ledger_verifier_key(const mandate_ledger *l)
{
    return l ? l->vkey : NULL;
}

MD_EXPORT uint64_t mandate_ledger_size(mandate_ledger *l)
{
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    uint64_t n = l->size;
    pthread_mutex_unlock(&l->mu);
    return n;
}

MD_EXPORT int mandate_ledger_failed(mandate_ledger *l, mandate_diag *why)
{
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    md_diag d = l->fail;
    int failed = l->failed;
    pthread_mutex_unlock(&l->mu);
    if (why)
        to_public(&d, why, failed ? d.code ? d.code : MANDATE_ESTORE : 0);
    return failed;
}

MD_EXPORT void mandate_ledger_get_stats(mandate_ledger *l, mandate_ledger_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    *out = l->stats;
    pthread_mutex_unlock(&l->mu);
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode, md_diag *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return md_diag_set(d, errno == EEXIST ? MANDATE_EEXIST : MANDATE_EIO, 0, 0,
                           "cannot create '%s': %s", path, strerror(errno));
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot write '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

MD_EXPORT int mandate_ledger_init(const char *dir, const char *origin, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!dir || !*dir)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no data directory"));
    if (sodium_init() < 0)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_ECRYPTO, 0, 0, "libsodium failed"));
    char db[4096], key[4096], pub[4096], gen[64];
    if ((size_t)snprintf(db, sizeof db, "%s/mandate.db", dir) >= sizeof db)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_ETOOBIG, 0, 0, "path too long"));
    snprintf(key, sizeof key, "%s/ledger.key", dir);
    snprintf(pub, sizeof pub, "%s/ledger.pub", dir);
    if (!origin) {
        uint8_t rnd[4];
        randombytes_buf(rnd, sizeof rnd);
        snprintf(gen, sizeof gen, "mandate.local/ledger/%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                 rnd[3]);
        origin = gen;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_EIO, 0, 0, "cannot create data directory '%s': %s",
                                     dir, strerror(errno)));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_EIO, 0, 0, "'%s' is not a directory", dir));
    if (stat(db, &st) == 0 || stat(key, &st) == 0)
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_EEXIST, 0, 0,
                                     "data directory '%s' already holds a ledger", dir));
    md_buf sk, vk, note, body;
    md_buf_init(&sk, 1024);
    md_buf_init(&vk, 1024);
    md_buf_init(&note, MD_NOTE_MAX);
    md_buf_init(&body, MD_NOTE_MAX);
    md_store *s = NULL;
    md_note_signer signer;
    int rc = md_note_keygen(origin, &sk, &vk, &d);
    if (rc == 0)
        rc = md_note_signer_parse(sk.data, sk.len, &signer, &d);
    if (rc == 0 && (rc = md_buf_append(&sk, "\n", 1)) != 0)
        md_diag_set(&d, rc, 0, 0, "out of memory");
    if (rc == 0)
        rc = write_file(key, sk.data, sk.len, 0600, &d);
    if (rc == 0) {
        md_buf line;
        md_buf_init(&line, 1024);
        rc = md_buf_printf(&line, "%s\n", vk.data);
        if (rc == 0)
            rc = write_file(pub, line.data, line.len, 0644, &d);
        md_buf_release(&line);
    }
    if (rc == 0)
        rc = md_store_open(&s, db, MD_STORE_CREATE, &d);
    if (rc == 0)
        rc = s->ops->begin(s, &d);
    if (rc == 0)
        rc = s->ops->meta_put(s, "ledger.origin", origin, strlen(origin), &d);
    if (rc == 0)
        rc = s->ops->meta_put(s, "ledger.verifier_key", vk.data, vk.len, &d);
    if (rc == 0)
        rc = s->ops->meta_put(s, "ledger.format", "1", 1, &d);
    if (rc == 0) {
        uint8_t root[MD_HASH_LEN];
        md_merkle_empty_root(root);
        rc = md_checkpoint_format(origin, 0, root, &body);
        if (rc == 0)
            rc = md_note_sign(&signer, body.data, body.len, &note, &d);
        if (rc == 0)
            rc = s->ops->checkpoint_put(s, 0, note.data, note.len, &d);
    }
    if (rc == 0)
        rc = s->ops->commit(s, &d);
    else if (s)
        s->ops->rollback(s);
    md_store_close(s);
    sodium_memzero(&signer, sizeof signer);
    sodium_memzero(sk.data, sk.cap);
    md_buf_release(&sk);
    md_buf_release(&vk);
    md_buf_release(&note);
    md_buf_release(&body);
    return to_public(&d, diag, rc);
}

/* ---- reads, checkpoints and proofs ---- */

MD_EXPORT int mandate_ledger_get(mandate_ledger *l, uint64_t index, char **json_out,
                                 mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !json_out)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger"));
    *json_out = NULL;
    uint64_t size = mandate_ledger_size(l);
    if (index >= size)
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_ENOTFOUND, 0, 0,
                                     "index %" PRIu64 " is past the end of the ledger (%" PRIu64
                                     " entries)",
                                     index, size));
    md_buf raw, out;
    md_buf_init(&raw, MD_LEDGER_MAX_BODY + 64);
    md_buf_init(&out, 2 * MD_LEDGER_MAX_BODY);
    pthread_mutex_lock(&l->rmu);
    int rc = l->r->ops->entry_get(l->r, index, &raw, &d);
    pthread_mutex_unlock(&l->rmu);
    if (rc == 0)
        rc = md_entry_to_json(index, raw.data, raw.len, &out, &d);
    md_buf_release(&raw);
    if (rc == 0)
        *json_out = out.data;
    else
        md_buf_release(&out);
    return to_public(&d, diag, rc);
}

enum { SCAN_CHUNK = 4096 };

/* One chunk of a scan under the read lock: entries [*from, min(*from + SCAN_CHUNK, to)). */
static int scan_chunk(mandate_ledger *l, uint64_t *from, uint64_t to, mandate_ledger_visit fn,
                      void *arg, int *stop, md_diag *d)
{
    uint64_t end = to - *from > SCAN_CHUNK ? *from + SCAN_CHUNK : to;
    md_store_iter *it = NULL;
    pthread_mutex_lock(&l->rmu);
    int rc = l->r->ops->iter_open(l->r, MD_STORE_ENTRIES, 0, *from, &it, d);
    while (rc == 0 && *from < end) {
        md_store_row row;
        int got = l->r->ops->iter_next(it, &row, d);
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0 || row.index != *from) {
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "ledger entry %" PRIu64 " is missing",
                             *from);
            break;
        }
        int type;
        int64_t time_ms;
        const char *body;
        size_t body_len;
        if (md_entry_decode(row.data, row.len, &type, &time_ms, &body, &body_len)) {
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "ledger entry %" PRIu64 " is malformed",
                             *from);
            break;
        }
        if ((*stop = fn(arg, *from, type, time_ms, body, body_len)) != 0)
            break;
        (*from)++;
    }
    if (it)
        l->r->ops->iter_close(it);
    pthread_mutex_unlock(&l->rmu);
    return rc;
}

MD_EXPORT int mandate_ledger_scan(mandate_ledger *l, uint64_t from, uint64_t to,
                                  mandate_ledger_visit fn, void *arg, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !fn)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger or visitor"));
    uint64_t size = mandate_ledger_size(l);
    if (to == 0 || to > size)
        to = size;
    int rc = 0, stop = 0;
    while (rc == 0 && stop == 0 && from < to)
        rc = scan_chunk(l, &from, to, fn, arg, &stop, &d);
    return stop && rc == 0 ? stop : to_public(&d, diag, rc);
}

static int get_checkpoint(mandate_ledger *l, uint64_t size, char **note_out, md_diag *d)
{
    md_buf note;
    md_buf_init(&note, MD_NOTE_MAX);
    pthread_mutex_lock(&l->rmu);
    int rc = l->r->ops->checkpoint_get(l->r, size, &note, NULL, d);
    pthread_mutex_unlock(&l->rmu);
    if (rc == 0 && (rc = md_buf_append(&note, "", 0)) == 0) {
        *note_out = note.data;
        return 0;
    }
    md_buf_release(&note);
    return rc;
}

MD_EXPORT int mandate_ledger_checkpoint(mandate_ledger *l, char **note_out, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !note_out)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger"));
    *note_out = NULL;
    if (!l->has_key)
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_EDENIED, 0, 0,
                                     "ledger was opened without its signing key (read-only)"));
    pthread_mutex_lock(&l->mu);
    uint64_t my = ++l->cp_want;
    pthread_cond_signal(&l->ccv);
    while (l->cp_served < my && !l->failed)
        pthread_cond_wait(&l->cv, &l->mu);
    int rc = 0;
    if (l->cp_served < my || my <= l->cp_failed) {
        d = l->fail;
        rc = MANDATE_ESTORE;
    }
    uint64_t size = l->cp_served_size;
    pthread_mutex_unlock(&l->mu);
    if (rc == 0)
        rc = get_checkpoint(l, size, note_out, &d);
    return to_public(&d, diag, rc);
}

MD_EXPORT int mandate_ledger_latest_checkpoint(mandate_ledger *l, char **note_out,
                                               mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !note_out)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger"));
    *note_out = NULL;
    return to_public(&d, diag, get_checkpoint(l, UINT64_MAX, note_out, &d));
}

static int check_size(mandate_ledger *l, uint64_t *tree_size, md_diag *d)
{
    uint64_t size = mandate_ledger_size(l);
    if (*tree_size == 0)
        *tree_size = size;
    if (*tree_size > size)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                           "tree size %" PRIu64 " is past the end of the ledger (%" PRIu64
                           " entries)",
                           *tree_size, size);
    return 0;
}

/* The right edge of the tree of `size` entries, per thread: proofs against one tree size (the
 * common case: the current size) hash nothing and read O(log n) cached nodes. Called with
 * cache_lock (and rmu when levels are read from the store) held. */
typedef struct edge_cache {
    uint64_t handle, size;
    int valid;
    md_merkle_edge e;
} edge_cache;

static _Thread_local edge_cache tl_edge;

static const md_merkle_edge *edge_for(mandate_ledger *l, uint64_t size, md_diag *d)
{
    edge_cache *c = &tl_edge;
    if (c->valid && c->handle == l->id && c->size == size)
        return &c->e;
    c->valid = 0;
    if (md_merkle_edge_build(node_src, l, size, &c->e, d) != 0)
        return NULL;
    c->handle = l->id;
    c->size = size;
    c->valid = 1;
    return &c->e;
}

static void read_lock(mandate_ledger *l)
{
    pthread_rwlock_rdlock(&l->cache_lock);
    if (l->cache_level > 0)
        pthread_mutex_lock(&l->rmu);
}

static void read_unlock(mandate_ledger *l)
{
    if (l->cache_level > 0)
        pthread_mutex_unlock(&l->rmu);
    pthread_rwlock_unlock(&l->cache_lock);
}

static int inclusion(mandate_ledger *l, uint64_t index, uint64_t *tree_size,
                     uint8_t leaf[MD_HASH_LEN], uint8_t root[MD_HASH_LEN],
                     uint8_t proof[][MD_HASH_LEN], size_t *n, md_diag *d)
{
    int rc = check_size(l, tree_size, d);
    if (rc)
        return rc;
    if (index >= *tree_size)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                           "index %" PRIu64 " is past the end of a tree of %" PRIu64 " entries",
                           index, *tree_size);
    read_lock(l);
    const md_merkle_edge *e = edge_for(l, *tree_size, d);
    rc = e ? 0 : d->code ? d->code : MANDATE_EINTERNAL;
    if (rc == 0)
        rc = node_src(l, 0, index, leaf, d);
    if (rc == 0)
        rc = md_merkle_inclusion_proof_edge(node_src, l, e, index, *tree_size, proof, n, d);
    if (rc == 0)
        memcpy(root, e->root, MD_HASH_LEN);
    read_unlock(l);
    return rc;
}

MD_EXPORT int mandate_ledger_inclusion_proof(mandate_ledger *l, uint64_t index, uint64_t tree_size,
                                             uint8_t leaf_hash[32], uint8_t root[32],
                                             uint8_t proof[][32], size_t *n, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !leaf_hash || !root || !proof || !n)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "bad arguments"));
    return to_public(&d, diag, inclusion(l, index, &tree_size, leaf_hash, root, proof, n, &d));
}

/* A proof as the JSON object {"<k1>":a,"<k2>":b,"<k3>":"<h1>","<k4>":"<h2>","proof":[..]}
 * (hashes in base64) into *out. */
static int proof_json(const char *const k[4], uint64_t a, uint64_t b, const uint8_t h1[MD_HASH_LEN],
                      const uint8_t h2[MD_HASH_LEN], uint8_t (*proof)[MD_HASH_LEN], size_t n,
                      char **out, md_diag *d)
{
    char b1[64], b2[64];
    md_b64_encode(h1, MD_HASH_LEN, b1, sizeof b1);
    md_b64_encode(h2, MD_HASH_LEN, b2, sizeof b2);
    md_buf buf;
    md_buf_init(&buf, 1 << 16);
    int rc = md_buf_printf(
        &buf, "{\"%s\":%" PRIu64 ",\"%s\":%" PRIu64 ",\"%s\":\"%s\",\"%s\":\"%s\",\"proof\":[",
        k[0], a, k[1], b, k[2], b1, k[3], b2);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char h[64];
        md_b64_encode(proof[i], MD_HASH_LEN, h, sizeof h);
        rc = md_buf_printf(&buf, "%s\"%s\"", i ? "," : "", h);
    }
    if (rc == 0)
        rc = md_buf_puts(&buf, "]}");
    if (rc) {
        md_buf_release(&buf);
        return md_diag_set(d, rc, 0, 0, "out of memory");
    }
    *out = buf.data;
    return 0;
}

MD_EXPORT int mandate_ledger_prove(mandate_ledger *l, uint64_t index, uint64_t tree_size,
                                   char **json_out, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !json_out)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger"));
    *json_out = NULL;
    uint8_t leaf[MD_HASH_LEN], root[MD_HASH_LEN], proof[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
    size_t n = 0;
    int rc = inclusion(l, index, &tree_size, leaf, root, proof, &n, &d);
    static const char *const keys[4] = {"index", "tree_size", "leaf_hash", "root"};
    if (rc == 0)
        rc = proof_json(keys, index, tree_size, leaf, root, proof, n, json_out, &d);
    return to_public(&d, diag, rc);
}

MD_EXPORT int mandate_ledger_prove_consistency(mandate_ledger *l, uint64_t size1, uint64_t size2,
                                               char **json_out, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!l || !json_out)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no ledger"));
    *json_out = NULL;
    int rc = check_size(l, &size2, &d);
    if (rc)
        return to_public(&d, diag, rc);
    uint8_t r1[MD_HASH_LEN], r2[MD_HASH_LEN], proof[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
    size_t n = 0;
    read_lock(l);
    const md_merkle_edge *e = edge_for(l, size2, &d);
    rc = e ? 0 : d.code ? d.code : MANDATE_EINTERNAL;
    if (rc == 0)
        rc = md_merkle_consistency_proof_edge(node_src, l, e, size1, size2, proof, &n, &d);
    if (rc == 0)
        rc = md_merkle_range_root(node_src, l, 0, size1, r1, &d);
    if (rc == 0)
        memcpy(r2, e->root, MD_HASH_LEN);
    read_unlock(l);
    static const char *const keys[4] = {"size1", "size2", "root1", "root2"};
    if (rc == 0)
        rc = proof_json(keys, size1, size2, r1, r2, proof, n, json_out, &d);
    return to_public(&d, diag, rc);
}

static int json_u64(json_t *o, const char *k, uint64_t *v, md_diag *d)
{
    json_t *x = json_object_get(o, k);
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "proof: '%s' is not a non-negative integer", k);
    *v = (uint64_t)json_integer_value(x);
    return 0;
}

static int json_hash(json_t *o, const char *k, uint8_t *h, size_t *len, md_diag *d)
{
    json_t *x = json_object_get(o, k);
    const char *s = json_string_value(x);
    long n = s ? md_b64_decode(s, strlen(s), h, 64) : -1;
    if (n < 0)
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "proof: '%s' is not a base64 string", k);
    *len = (size_t)n;
    return 0;
}

MD_EXPORT int mandate_ledger_check_proof(const char *json, size_t len, mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!json)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no proof"));
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return to_public(&d, diag,
                         md_diag_set(&d, MANDATE_EPARSE, (uint32_t)jerr.line, (uint32_t)jerr.column,
                                     "proof is not valid JSON: %s", jerr.text));
    int rc = 0;
    uint8_t proof[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
    json_t *arr = json_object_get(o, "proof");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr))
        rc = md_diag_set(&d, MANDATE_EPARSE, 0, 0, "proof: 'proof' is not an array");
    else if (n > MD_MERKLE_MAX_PROOF)
        rc =
            md_diag_set(&d, MANDATE_ETOOBIG, 0, 0, "proof has over %d hashes", MD_MERKLE_MAX_PROOF);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        uint8_t tmp[64];
        if (!s || md_b64_decode(s, strlen(s), tmp, sizeof tmp) != MD_HASH_LEN)
            rc = md_diag_set(&d, MANDATE_EPARSE, 0, 0,
                             "proof: element %zu is not a base64 SHA-256 hash", i);
        else
            memcpy(proof[i], tmp, MD_HASH_LEN);
    }
    uint8_t h1[64], h2[64];
    size_t l1 = 0, l2 = 0;
    uint64_t a = 0, b = 0;
    if (rc == 0 && json_object_get(o, "index")) {
        if ((rc = json_u64(o, "index", &a, &d)) == 0 &&
            (rc = json_u64(o, "tree_size", &b, &d)) == 0 &&
            (rc = json_hash(o, "leaf_hash", h1, &l1, &d)) == 0 &&
            (rc = json_hash(o, "root", h2, &l2, &d)) == 0)
            rc = md_merkle_verify_inclusion(a, b, h1, l1, (const uint8_t(*)[MD_HASH_LEN])proof, n,
                                            h2, l2, &d);
    } else if (rc == 0 && json_object_get(o, "size1")) {
        if ((rc = json_u64(o, "size1", &a, &d)) == 0 && (rc = json_u64(o, "size2", &b, &d)) == 0 &&
            (rc = json_hash(o, "root1", h1, &l1, &d)) == 0 &&
            (rc = json_hash(o, "root2", h2, &l2, &d)) == 0)
            rc = md_merkle_verify_consistency(a, b, h1, l1, h2, l2,
                                              (const uint8_t(*)[MD_HASH_LEN])proof, n, &d);
    } else if (rc == 0) {
        rc = md_diag_set(&d, MANDATE_EPARSE, 0, 0,
                         "proof: neither an inclusion proof ('index') nor a consistency proof "
                         "('size1')");
    }
    json_decref(o);
    return to_public(&d, diag, rc);
}

MD_EXPORT int mandate_ledger_check_checkpoint(const char *note, size_t len,
                                              const char *verifier_key, uint64_t *size,
                                              uint8_t root[32], mandate_diag *diag)
{
    md_diag d;
    md_diag_clear(&d);
    if (!note || !verifier_key)
        return to_public(&d, diag, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no note or key"));
    md_note_verifier v;
    size_t tl = 0;
    int rc = md_note_verifier_parse(verifier_key, strlen(verifier_key), &v, &d);
    if (rc == 0)
        rc = md_note_open(&v, note, len, &tl, &d);
    if (rc == 0)
        rc = md_checkpoint_parse(note, tl, NULL, size, root, &d);
    return to_public(&d, diag, rc);
}
