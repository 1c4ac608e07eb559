/* test_ledger_pipeline.c: the ledger's fast paths against their references: pipelined appends
 * (submit/wait tickets, durability, a failing commit mid-pipeline, checkpoints requested during
 * appends, the durability listener), proofs through the right-edge cache against proofs without it,
 * and the two-thread verifier against the one-pass reference verifier on randomly tampered
 * databases (many chunk sizes, so chunk boundaries fall everywhere). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "scratch.h"
#include "ledger/ledger_int.h"
#include "mandate/mandate.h"

static char dir[256], ddir[300], db[300], key[300];

static void fresh(void)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-pipeline-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(ddir, sizeof ddir, "%s/d", dir);
    snprintf(db, sizeof db, "%s/d/mandate.db", dir);
    snprintf(key, sizeof key, "%s/d/ledger.key", dir);
    mandate_diag diag;
    assert_int_equal(mandate_ledger_init(ddir, "pipeline.example/log", &diag), 0);
}

static void cleanup(void)
{
    assert_int_equal(scratch_remove(dir), 0);
}

static mandate_ledger *open_l(uint64_t every)
{
    mandate_ledger_opts o = {.db_path = db, .key_path = key, .checkpoint_every = every};
    mandate_ledger *l = NULL;
    mandate_diag d;
    int rc = mandate_ledger_open(&l, &o, &d);
    if (rc)
        fprintf(stderr, "open: %s\n", d.message);
    assert_int_equal(rc, 0);
    return l;
}

static int body(char *b, size_t cap, int w, int i)
{
    return snprintf(b, cap, "{\"w\":%d,\"i\":%d}", w, i);
}

/* ---- proofs with and without the right-edge cache ---- */

#define TREE 300
static uint8_t lv[10][TREE][MD_HASH_LEN]; /* complete subtrees of a TREE-leaf tree */

static int mem_node(void *ctx, unsigned level, uint64_t idx, uint8_t out[MD_HASH_LEN], md_diag *d)
{
    (void)ctx;
    if (level >= 10 || ((idx + 1) << level) > TREE)
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "no node %u/%llu", level,
                           (unsigned long long)idx);
    memcpy(out, lv[level][idx], MD_HASH_LEN);
    return 0;
}

static void test_edge_proofs(void **state)
{
    (void)state;
    for (int i = 0; i < TREE; i++) {
        char b[16];
        int n = snprintf(b, sizeof b, "leaf %d", i);
        md_merkle_leaf_hash(b, (size_t)n, lv[0][i]);
    }
    for (int k = 1; k < 10; k++)
        for (int i = 0; ((i + 1) << k) <= TREE; i++)
            md_merkle_node_hash(lv[k - 1][2 * i], lv[k - 1][2 * i + 1], lv[k][i]);
    md_diag d;
    md_diag_clear(&d);
    uint8_t p1[MD_MERKLE_MAX_PROOF][MD_HASH_LEN], p2[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
    size_t n1, n2;
    long proofs = 0;
    for (uint64_t size = 1; size <= TREE; size++) {
        md_merkle_edge e;
        assert_int_equal(md_merkle_edge_build(mem_node, NULL, size, &e, &d), 0);
        uint8_t root[MD_HASH_LEN];
        assert_int_equal(md_merkle_range_root(mem_node, NULL, 0, size, root, &d), 0);
        assert_memory_equal(root, e.root, MD_HASH_LEN);
        for (uint64_t i = 0; i < size; i++) {
            assert_int_equal(md_merkle_inclusion_proof(mem_node, NULL, i, size, p1, &n1, &d), 0);
            assert_int_equal(
                md_merkle_inclusion_proof_edge(mem_node, NULL, &e, i, size, p2, &n2, &d), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, n1 * MD_HASH_LEN);
            assert_int_equal(md_merkle_verify_inclusion(i, size, lv[0][i], MD_HASH_LEN,
                                                        (const uint8_t(*)[MD_HASH_LEN])p2, n2,
                                                        e.root, MD_HASH_LEN, &d),
                             0);
            proofs++;
        }
        for (uint64_t s1 = 1; s1 < size; s1 += 1 + s1 / 8) {
            assert_int_equal(md_merkle_consistency_proof(mem_node, NULL, s1, size, p1, &n1, &d), 0);
            assert_int_equal(
                md_merkle_consistency_proof_edge(mem_node, NULL, &e, s1, size, p2, &n2, &d), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, n1 * MD_HASH_LEN);
            proofs++;
        }
        /* An edge for another size is ignored. */
        if (size > 1) {
            assert_int_equal(
                md_merkle_inclusion_proof_edge(mem_node, NULL, &e, 0, size - 1, p2, &n2, &d), 0);
            assert_int_equal(md_merkle_inclusion_proof(mem_node, NULL, 0, size - 1, p1, &n1, &d),
                             0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, n1 * MD_HASH_LEN);
        }
    }
    assert_true(proofs > 45000);
    md_merkle_edge e;
    assert_int_equal(md_merkle_edge_build(mem_node, NULL, 0, &e, &d), 0);
    uint8_t empty[MD_HASH_LEN];
    md_merkle_empty_root(empty);
    assert_memory_equal(e.root, empty, MD_HASH_LEN);
}

/* ---- pipelined appends ---- */

typedef struct pworker {
    mandate_ledger *l;
    int id, count, depth;
    int fails;
    uint64_t tickets[4096];
} pworker;

static void *pwork(void *arg)
{
    pworker *w = arg;
    int done = 0;
    for (int i = 0; i < w->count; i++) {
        if (i - done == w->depth) {
            if (mandate_ledger_wait(w->l, w->tickets[done], NULL) != 0)
                w->fails++;
            done++;
        }
        char b[64];
        int n = body(b, sizeof b, w->id, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        if (mandate_ledger_submit(w->l, &e, &w->tickets[i], NULL) != 0)
            w->fails++;
    }
    for (; done < w->count; done++)
        if (mandate_ledger_wait(w->l, w->tickets[done], NULL) != 0)
            w->fails++;
    return NULL;
}

static void test_submit_wait(void **state)
{
    (void)state;
    fresh();
    mandate_ledger *l = open_l(100);
    mandate_diag d;
    /* One thread, 500 submissions without waiting: tickets are the indices, in order. */
    uint64_t t[500];
    for (int i = 0; i < 500; i++) {
        char b[64];
        int n = body(b, sizeof b, 0, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        assert_int_equal(mandate_ledger_submit(l, &e, &t[i], &d), 0);
        assert_int_equal(t[i], (uint64_t)i);
    }
    assert_int_equal(mandate_ledger_wait(l, t[499], &d), 0);
    assert_int_equal(mandate_ledger_size(l), 500);
    assert_int_equal(mandate_ledger_wait(l, t[3], &d), 0); /* already durable */
    assert_int_equal(mandate_ledger_wait(l, 500, &d), MANDATE_EINVAL);
    assert_non_null(strstr(d.message, "never issued"));
    char *json = NULL;
    assert_int_equal(mandate_ledger_get(l, 321, &json, &d), 0);
    assert_non_null(strstr(json, "\"body\":{\"i\":321,\"w\":0}"));
    free(json);
    /* A bad entry is refused at submit and takes no ticket. */
    mandate_ledger_entry bad = {MANDATE_ENTRY_NOTE, 0, "{", 1};
    uint64_t bt = 77;
    assert_int_equal(mandate_ledger_submit(l, &bad, &bt, &d), MANDATE_EPARSE);
    assert_int_equal(bt, 77);
    /* 8 threads, 16 in flight each. */
    pthread_t th[8];
    static pworker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (pworker){.l = l, .id = i + 1, .count = 300, .depth = 16};
        pthread_create(&th[i], NULL, pwork, &w[i]);
    }
    /* A checkpoint requested while appends run covers at least what was durable before. */
    uint64_t before = mandate_ledger_size(l);
    char *note = NULL;
    assert_int_equal(mandate_ledger_checkpoint(l, &note, &d), 0);
    uint64_t cps = 0;
    assert_int_equal(mandate_ledger_check_checkpoint(
                         note, strlen(note), mandate_ledger_verifier_key(l), &cps, NULL, &d),
                     0);
    assert_true(cps >= before);
    free(note);
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].fails, 0);
    }
    assert_int_equal(mandate_ledger_size(l), 500 + 8 * 300);
    /* Every ticket is a distinct index. */
    static uint8_t seen[500 + 8 * 300];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 300; j++) {
            assert_true(w[i].tickets[j] >= 500 && w[i].tickets[j] < 500 + 8 * 300);
            assert_int_equal(seen[w[i].tickets[j]], 0);
            seen[w[i].tickets[j]] = 1;
        }
    /* The entry at a ticket is the one submitted with it. */
    assert_int_equal(mandate_ledger_get(l, w[3].tickets[123], &json, &d), 0);
    assert_non_null(strstr(json, "\"body\":{\"i\":123,\"w\":4}"));
    free(json);
    mandate_ledger_close(l);
    mandate_ledger_report r;
    assert_int_equal(mandate_ledger_verify(db, NULL, &r, &d), 0);
    assert_int_equal(r.entries, 500 + 8 * 300);
    cleanup();
}

/* ---- the durability listener ---- */

typedef struct heard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mandate_ledger *l;
    uint64_t max_size; /* the largest size heard */
    int calls, failed, bad;
} heard;

static void listener(void *arg, uint64_t size, int failed)
{
    heard *h = arg;
    /* What the listener is told is durable is durable: the ledger says so too. */
    if (!failed && mandate_ledger_size(h->l) < size)
        h->bad++;
    pthread_mutex_lock(&h->mu);
    if (size > h->max_size)
        h->max_size = size;
    h->calls++;
    h->failed |= failed;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Waits (without mandate_ledger_wait, which would lead the commit itself) until the listener
 * heard of size entries or of a failure; fails after 30 s. */
static void hear(heard *h, uint64_t size)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    while (h->max_size < size && !h->failed && rc == 0)
        rc = pthread_cond_timedwait(&h->cv, &h->mu, &until);
    pthread_mutex_unlock(&h->mu);
    assert_int_equal(rc, 0);
}

/* Submits entries from..to-1 until one is refused (after a failure: MANDATE_ESTORE); returns
 * how many were taken, the last ticket in *last. */
static int submit_n(mandate_ledger *l, int from, int to, uint64_t *last)
{
    mandate_diag d;
    for (int i = from; i < to; i++) {
        char b[64];
        int n = body(b, sizeof b, 9, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        int rc = mandate_ledger_submit(l, &e, last, &d);
        if (rc) {
            assert_int_equal(rc, MANDATE_ESTORE);
            return i - from;
        }
    }
    return to - from;
}

static void test_listener(void **state)
{
    (void)state;
    fresh();
    mandate_ledger *l = open_l(64);
    heard h = {.l = l};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    mandate_ledger_listen(l, listener, &h);
    /* Submissions nobody waits for are committed by the committer, which tells the listener. */
    uint64_t last = 0;
    assert_int_equal(submit_n(l, 0, 300, &last), 300);
    hear(&h, last + 1);
    assert_int_equal(h.max_size, 300);
    assert_int_equal(h.failed, 0);
    assert_true(h.calls >= 1);
    /* Removed: no more calls. */
    mandate_ledger_listen(l, NULL, NULL);
    int calls = h.calls;
    mandate_diag d;
    mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 0, "{}", 2};
    assert_int_equal(mandate_ledger_append(l, &e, NULL, &d), 0);
    assert_int_equal(h.calls, calls);
    /* A failing store: the listener hears of the failure, and the entries are not durable. */
    mandate_ledger_listen(l, listener, &h);
    md_store_sqlite_fail_commits(md_ledger_writer_store(l), 1);
    assert_true(submit_n(l, 300, 310, &last) >= 1); /* the first one commits, and fails */
    hear(&h, UINT64_MAX);
    assert_int_equal(h.failed, 1);
    assert_int_equal(mandate_ledger_wait(l, last, &d), MANDATE_ESTORE);
    assert_true(mandate_ledger_size(l) <= last);
    mandate_ledger_listen(l, NULL, NULL);
    assert_int_equal(h.bad, 0);
    md_store_sqlite_fail_commits(md_ledger_writer_store(l), 0);
    mandate_ledger_close(l);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    cleanup();
}

/* The before-commit hook: what it saw submitted, and whether it should fail. */
typedef struct hooked {
    mandate_ledger *l;
    _Atomic uint64_t submitted; /* tickets handed out so far + 1, set by the test */
    int calls, bad, fail;
} hooked;

static int before_commit(void *arg, mandate_diag *d)
{
    hooked *h = arg;
    h->calls++;
    /* Runs before the group is durable: the ledger's size is below what was submitted. */
    if (mandate_ledger_size(h->l) >= atomic_load(&h->submitted))
        h->bad++;
    if (h->fail) {
        d->code = MANDATE_ESTORE;
        snprintf(d->message, sizeof d->message, "the hook failed on purpose");
        return MANDATE_ESTORE;
    }
    return 0;
}

static void test_before_commit_hook(void **state)
{
    (void)state;
    fresh();
    mandate_ledger *l = open_l(0);
    hooked h = {.l = l};
    mandate_ledger_set_before_commit(l, before_commit, &h);
    mandate_diag d;
    uint64_t t = 0;
    for (int i = 0; i < 50; i++) {
        char b[64];
        int n = body(b, sizeof b, 3, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        atomic_store(&h.submitted, (uint64_t)i + 1);
        assert_int_equal(mandate_ledger_append(l, &e, &t, &d), 0);
    }
    assert_int_equal(h.calls, 50); /* one group per synchronous append */
    assert_int_equal(h.bad, 0);
    /* Removed: not called again. */
    mandate_ledger_set_before_commit(l, NULL, NULL);
    mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 0, "{}", 2};
    assert_int_equal(mandate_ledger_append(l, &e, &t, &d), 0);
    assert_int_equal(h.calls, 50);
    /* A failing hook fails the group: nothing of it is acknowledged, and the ledger stops. */
    uint64_t size = mandate_ledger_size(l);
    h.fail = 1;
    mandate_ledger_set_before_commit(l, before_commit, &h);
    atomic_store(&h.submitted, UINT64_MAX);
    assert_int_equal(mandate_ledger_append(l, &e, &t, &d), MANDATE_ESTORE);
    assert_non_null(strstr(d.message, "the hook failed on purpose"));
    assert_int_equal(mandate_ledger_size(l), size);
    assert_int_equal(mandate_ledger_submit(l, &e, &t, &d), MANDATE_ESTORE);
    mandate_ledger_set_before_commit(l, NULL, NULL);
    mandate_ledger_close(l);
    /* Reopened: the failed group's entry is not there. */
    l = open_l(0);
    assert_int_equal(mandate_ledger_size(l), size);
    mandate_ledger_close(l);
    cleanup();
}

static void test_pipeline_failure(void **state)
{
    (void)state;
    fresh();
    mandate_ledger *l = open_l(0);
    mandate_diag d;
    uint64_t t[400];
    for (int i = 0; i < 200; i++) {
        char b[64];
        int n = body(b, sizeof b, 0, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        assert_int_equal(mandate_ledger_submit(l, &e, &t[i], &d), 0);
    }
    /* Commits start failing while entries are in flight. */
    md_store_sqlite_fail_commits(md_ledger_writer_store(l), 1);
    int n_ok = 0, n_fail = 0, submitted = 200;
    for (int i = 200; i < 400; i++) {
        char b[64];
        int n = body(b, sizeof b, 0, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        if (mandate_ledger_submit(l, &e, &t[i], &d) != 0) {
            assert_int_equal(d.code, MANDATE_ESTORE);
            break;
        }
        submitted++;
    }
    for (int i = 0; i < submitted; i++) {
        int rc = mandate_ledger_wait(l, t[i], &d);
        if (rc == 0) {
            n_ok++;
            assert_true(t[i] < mandate_ledger_size(l));
        } else {
            assert_int_equal(rc, MANDATE_ESTORE);
            assert_non_null(strstr(d.message, "fsync"));
            n_fail++;
        }
    }
    assert_true(n_fail > 0);
    uint64_t size = mandate_ledger_size(l);
    assert_int_equal(size, (uint64_t)n_ok);
    /* Acknowledged ones are a prefix: waiting is in ticket order. */
    for (int i = 0; i < n_ok; i++)
        assert_true(t[i] < size);
    /* The handle stays stopped. */
    md_store_sqlite_fail_commits(md_ledger_writer_store(l), 0);
    mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 0, "{}", 2};
    uint64_t x;
    assert_int_equal(mandate_ledger_submit(l, &e, &x, &d), MANDATE_ESTORE);
    assert_int_equal(mandate_ledger_append(l, &e, NULL, &d), MANDATE_ESTORE);
    char *note = NULL;
    assert_int_equal(mandate_ledger_checkpoint(l, &note, &d), MANDATE_ESTORE);
    assert_null(note);
    mandate_ledger_close(l);
    /* Everything acknowledged is there, nothing else, and the log verifies. */
    l = open_l(0);
    assert_int_equal(mandate_ledger_size(l), size);
    mandate_ledger_close(l);
    mandate_ledger_report r;
    assert_int_equal(mandate_ledger_verify(db, NULL, &r, &d), 0);
    assert_int_equal(r.entries, size);
    cleanup();
}

/* ---- the two-thread verifier against the reference ---- */

static void exec_raw(sqlite3 *h, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

/* The ledger_tree position of node (index, level, level) in SQL. */
#define NODE_POS_SQL "((((%d + 1) << %d) - 1) << 6) | %d"

static void tamper_random(const char *path, int entries)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    int changes = 1 + rand() % 3;
    for (int c = 0; c < changes; c++) {
        char sql[256];
        int kind = rand() % 8;
        int idx = rand() % entries;
        int level = rand() % 4;
        switch (kind) {
        case 0:
        case 1:
            snprintf(sql, sizeof sql, "UPDATE ledger_entry SET data = data || x'00' WHERE idx = %d",
                     idx);
            break;
        case 2:
            snprintf(sql, sizeof sql,
                     "UPDATE ledger_tree SET hash = zeroblob(32) WHERE pos = " NODE_POS_SQL,
                     idx >> level, level, level);
            break;
        case 3:
            snprintf(sql, sizeof sql, "DELETE FROM ledger_tree WHERE pos = " NODE_POS_SQL,
                     idx >> level, level, level);
            break;
        case 4: snprintf(sql, sizeof sql, "DELETE FROM ledger_entry WHERE idx = %d", idx); break;
        case 5: snprintf(sql, sizeof sql, "DELETE FROM ledger_entry WHERE idx >= %d", idx); break;
        case 6:
            snprintf(sql, sizeof sql,
                     "UPDATE ledger_checkpoint SET note = note || 'x' WHERE size = (SELECT size "
                     "FROM ledger_checkpoint WHERE size >= %d ORDER BY size LIMIT 1)",
                     idx);
            break;
        default:
            snprintf(sql, sizeof sql, "UPDATE ledger_entry SET data = x'01' WHERE idx = %d", idx);
            break;
        }
        exec_raw(h, sql);
    }
    sqlite3_close(h);
}

static void same_report(const char *path, int chunk_log)
{
    mandate_ledger_report a, b;
    mandate_diag da, dbb;
    md_ledger_verify_set_chunk_log((unsigned)chunk_log);
    int ra = mandate_ledger_verify(path, NULL, &a, &da);
    int rb = md_ledger_verify_serial(path, NULL, &b, &dbb);
    md_ledger_verify_set_chunk_log(0);
    if (ra != rb || a.bad != b.bad || a.bad_index != b.bad_index || a.bad_level != b.bad_level ||
        a.entries != b.entries || a.nodes != b.nodes || a.checkpoints != b.checkpoints ||
        (a.bad_kind == NULL) != (b.bad_kind == NULL) ||
        (a.bad_kind && strcmp(a.bad_kind, b.bad_kind)) || strcmp(da.message, dbb.message))
        fail_msg("chunk 2^%d: parallel rc %d %s %llu/%u (%llu entries, %llu nodes): %s\n"
                 "serial rc %d %s %llu/%u (%llu entries, %llu nodes): %s",
                 chunk_log, ra, a.bad_kind ? a.bad_kind : "-", (unsigned long long)a.bad_index,
                 a.bad_level, (unsigned long long)a.entries, (unsigned long long)a.nodes,
                 da.message, rb, b.bad_kind ? b.bad_kind : "-", (unsigned long long)b.bad_index,
                 b.bad_level, (unsigned long long)b.entries, (unsigned long long)b.nodes,
                 dbb.message);
}

static void test_verify_matches_serial(void **state)
{
    (void)state;
    fresh();
    const int entries = 1500;
    mandate_ledger *l = open_l(97);
    uint64_t t = 0;
    for (int i = 0; i < entries; i++) {
        char b[64];
        int n = body(b, sizeof b, 0, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 1700000000000, b, (size_t)n};
        assert_int_equal(mandate_ledger_submit(l, &e, &t, NULL), 0);
    }
    assert_int_equal(mandate_ledger_wait(l, t, NULL), 0);
    mandate_ledger_close(l);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    exec_raw(h, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(h);
    char pristine[320], work[320], cmd[1400];
    snprintf(pristine, sizeof pristine, "%s/pristine.db", dir);
    snprintf(work, sizeof work, "%s/work.db", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", db, pristine);
    assert_int_equal(system(cmd), 0);
    srand(777);
    static const int logs[] = {1, 2, 3, 5, 7, 13};
    int bad = 0;
    for (size_t li = 0; li < MD_ARRAY_LEN(logs); li++) {
        same_report(db, logs[li]); /* intact */
        for (int trial = 0; trial < 25; trial++) {
            snprintf(cmd, sizeof cmd, "rm -f '%s'-wal '%s'-shm && cp '%s' '%s'", work, work,
                     pristine, work);
            assert_int_equal(system(cmd), 0);
            tamper_random(work, entries);
            same_report(work, logs[li]);
            mandate_ledger_report r;
            if (mandate_ledger_verify(work, NULL, &r, NULL) == MANDATE_ECORRUPT)
                bad++;
        }
    }
    assert_true(bad > 100); /* nearly every trial tampers detectably */
    cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_proofs),           cmocka_unit_test(test_submit_wait),
        cmocka_unit_test(test_pipeline_failure),      cmocka_unit_test(test_listener),
        cmocka_unit_test(test_verify_matches_serial), cmocka_unit_test(test_before_commit_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
