/* test_store_sqlite.c: the SQLite backend of the store interface: schema creation and reopening,
 * transactions (commit, rollback, a failed commit), contiguous entry indices, batch puts, nodes,
 * checkpoints, meta values, iterators, read snapshots, errors (a missing file, a file that is
 * not a database, duplicate keys, wrong-sized nodes, unknown URIs), WAL checkpoints on a
 * background thread (MD_STORE_BG_CHECKPOINT), node scans across gaps at every level, and the
 * conversion of the earlier ledger_node(level, idx, hash) layout. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch.h"
#include "store/store.h"

static char dir[256], path[300];

static md_store *fresh(void)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-store-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.db", dir);
    md_store *s = NULL;
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(md_store_open(&s, path, MD_STORE_CREATE, &d), 0);
    assert_non_null(s);
    assert_string_equal(s->ops->name, "sqlite");
    return s;
}

static void cleanup(void)
{
    assert_int_equal(scratch_remove(dir), 0);
}

static md_store *reopen(int flags)
{
    md_store *s = NULL;
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(md_store_open(&s, path, flags, &d), 0);
    return s;
}

static uint64_t count(md_store *s)
{
    uint64_t n = 99;
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(s->ops->entry_count(s, &n, &d), 0);
    return n;
}

static void put_entries(md_store *s, uint64_t first, size_t n)
{
    const void *data[300];
    size_t lens[300];
    char bufs[300][32];
    md_diag d;
    md_diag_clear(&d);
    assert_true(n <= 300);
    for (size_t i = 0; i < n; i++) {
        lens[i] = (size_t)snprintf(bufs[i], sizeof bufs[i], "entry-%llu",
                                   (unsigned long long)(first + i));
        data[i] = bufs[i];
    }
    assert_int_equal(s->ops->entries_put(s, first, n, data, lens, &d), 0);
}

static void test_commit_and_reopen(void **state)
{
    (void)state;
    md_store *s = fresh();
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(count(s), 0);
    assert_int_equal(s->ops->begin(s, &d), 0);
    assert_int_equal(s->ops->meta_put(s, "k", "v1", 2, &d), 0);
    assert_int_equal(s->ops->meta_put(s, "k", "v2", 2, &d), 0); /* replaces */
    put_entries(s, 0, 3);
    uint8_t h[32];
    memset(h, 7, sizeof h);
    assert_int_equal(s->ops->node_put(s, 0, 0, h, &d), 0);
    assert_int_equal(s->ops->checkpoint_put(s, 3, "note3", 5, &d), 0);
    assert_int_equal(s->ops->commit(s, &d), 0);
    md_store_close(s);

    s = reopen(0);
    assert_int_equal(count(s), 3);
    md_buf b;
    md_buf_init(&b, 1024);
    assert_int_equal(s->ops->meta_get(s, "k", &b, &d), 0);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "v2", 2);
    assert_int_equal(s->ops->entry_get(s, 2, &b, &d), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "entry-2", 7);
    uint8_t g[32];
    assert_int_equal(s->ops->node_get(s, 0, 0, g, &d), 0);
    assert_memory_equal(g, h, 32);
    uint64_t size = 0;
    assert_int_equal(s->ops->checkpoint_get(s, UINT64_MAX, &b, &size, &d), 0);
    assert_int_equal(size, 3);
    assert_memory_equal(b.data, "note3", 5);
    md_buf_release(&b);
    md_store_close(s);
    cleanup();
}

static void test_rollback(void **state)
{
    (void)state;
    md_store *s = fresh();
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(s->ops->begin(s, &d), 0);
    put_entries(s, 0, 5);
    assert_int_equal(s->ops->commit(s, &d), 0);
    /* An explicit rollback leaves nothing of the transaction. */
    assert_int_equal(s->ops->begin(s, &d), 0);
    put_entries(s, 5, 5);
    assert_int_equal(count(s), 10); /* visible inside the transaction */
    s->ops->rollback(s);
    assert_int_equal(count(s), 5);
    /* A failed commit (as after an fsync failure) rolls back too, and says so. */
    assert_int_equal(s->ops->begin(s, &d), 0);
    put_entries(s, 5, 2);
    md_store_sqlite_fail_commits(s, 1);
    assert_int_equal(s->ops->commit(s, &d), MANDATE_ESTORE);
    assert_non_null(strstr(d.msg, "fsync"));
    md_store_sqlite_fail_commits(s, 0);
    assert_int_equal(count(s), 5);
    md_store_close(s);
    /* Nothing uncommitted reached the file. */
    s = reopen(0);
    assert_int_equal(count(s), 5);
    /* Rollback outside a transaction is harmless. */
    s->ops->rollback(s);
    md_store_close(s);
    cleanup();
}

static void test_contiguous_and_batches(void **state)
{
    (void)state;
    md_store *s = fresh();
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(s->ops->begin(s, &d), 0);
    /* Batches below, at and above the multi-row size, plus single puts. */
    put_entries(s, 0, 1);
    put_entries(s, 1, 63);
    put_entries(s, 64, 64);
    put_entries(s, 128, 200);
    assert_int_equal(s->ops->entry_put(s, 328, "x", 1, &d), 0);
    md_store_node nodes[150];
    for (int i = 0; i < 150; i++) {
        nodes[i].level = (unsigned)(i % 3);
        nodes[i].index = (uint64_t)(i / 3);
        memset(nodes[i].hash, i, 32);
    }
    assert_int_equal(s->ops->nodes_put(s, nodes, 150, &d), 0);
    assert_int_equal(s->ops->commit(s, &d), 0);
    assert_int_equal(count(s), 329);
    /* Entries come back in index order, contiguous, with their data. */
    md_store_iter *it = NULL;
    assert_int_equal(s->ops->iter_open(s, MD_STORE_ENTRIES, 0, 100, &it, &d), 0);
    md_store_row row;
    uint64_t want = 100;
    int got;
    while ((got = s->ops->iter_next(it, &row, &d)) == 1) {
        assert_int_equal(row.index, want);
        if (want < 328) {
            char e[32];
            int n = snprintf(e, sizeof e, "entry-%llu", (unsigned long long)want);
            assert_int_equal(row.len, (size_t)n);
            assert_memory_equal(row.data, e, (size_t)n);
        }
        want++;
    }
    assert_int_equal(got, 0);
    assert_int_equal(want, 329);
    s->ops->iter_close(it);
    /* Nodes of one level, in index order. */
    assert_int_equal(s->ops->iter_open(s, MD_STORE_NODES, 1, 10, &it, &d), 0);
    want = 10;
    while ((got = s->ops->iter_next(it, &row, &d)) == 1) {
        assert_int_equal(row.index, want);
        assert_int_equal(row.len, 32);
        assert_int_equal(((const uint8_t *)row.data)[0], (uint8_t)(want * 3 + 1));
        want++;
    }
    assert_int_equal(want, 50);
    s->ops->iter_close(it);
    /* The count follows the highest index: a gap shows as a missing entry, not a short count. */
    assert_int_equal(s->ops->begin(s, &d), 0);
    assert_int_equal(s->ops->entry_put(s, 400, "y", 1, &d), 0);
    assert_int_equal(s->ops->commit(s, &d), 0);
    assert_int_equal(count(s), 401);
    md_buf b;
    md_buf_init(&b, 64);
    assert_int_equal(s->ops->entry_get(s, 350, &b, &d), MANDATE_ENOTFOUND);
    md_buf_release(&b);
    md_store_close(s);
    cleanup();
}

static void test_errors(void **state)
{
    (void)state;
    md_store *s = fresh();
    md_diag d;
    md_diag_clear(&d);
    /* Duplicate keys fail, single and batched (in the multi-row parts of 64, 16 and 4 rows and
     * in the tail); after a failed write the store refuses writes, and commit, until the
     * transaction is rolled back, and nothing of it is stored. */
    const void *data[70];
    size_t lens[70];
    for (int i = 0; i < 70; i++) {
        data[i] = "z";
        lens[i] = 1;
    }
    static const struct {
        uint64_t first;
        size_t n;
    } dups[] = {{3, 1}, {10, 70}, {60, 16}, {66, 4}, {69, 2}};
    for (size_t k = 0; k < sizeof dups / sizeof *dups; k++) {
        assert_int_equal(s->ops->begin(s, &d), 0);
        put_entries(s, 0, 70);
        assert_int_equal(s->ops->entries_put(s, dups[k].first, dups[k].n, data, lens, &d),
                         MANDATE_ESTORE);
        md_diag_clear(&d);
        assert_int_equal(s->ops->entry_put(s, 200, "x", 1, &d), MANDATE_ESTORE);
        assert_non_null(strstr(d.msg, "roll"));
        md_diag_clear(&d);
        if (k % 2) {
            assert_int_equal(s->ops->commit(s, &d), MANDATE_ESTORE);
            md_diag_clear(&d);
        }
        s->ops->rollback(s);
        assert_int_equal(count(s), 0);
    }
    assert_int_equal(s->ops->begin(s, &d), 0);
    uint8_t h[32] = {0};
    assert_int_equal(s->ops->node_put(s, 0, 0, h, &d), 0);
    assert_int_equal(s->ops->node_put(s, 0, 0, h, &d), MANDATE_ESTORE);
    md_diag_clear(&d);
    s->ops->rollback(s);
    assert_int_equal(count(s), 0);
    /* Missing rows. */
    md_buf b;
    md_buf_init(&b, 64);
    assert_int_equal(s->ops->meta_get(s, "nope", &b, &d), MANDATE_ENOTFOUND);
    assert_non_null(strstr(d.msg, "nope"));
    md_diag_clear(&d);
    assert_int_equal(s->ops->entry_get(s, 5, &b, &d), MANDATE_ENOTFOUND);
    md_diag_clear(&d);
    assert_int_equal(s->ops->checkpoint_get(s, UINT64_MAX, &b, NULL, &d), MANDATE_ENOTFOUND);
    md_diag_clear(&d);
    uint8_t g[32];
    assert_int_equal(s->ops->node_get(s, 0, 9, g, &d), MANDATE_ECORRUPT);
    assert_non_null(strstr(d.msg, "missing"));
    md_diag_clear(&d);
    md_store_iter *it = NULL;
    assert_int_equal(s->ops->iter_open(s, 99, 0, 0, &it, &d), MANDATE_EINVAL);
    md_diag_clear(&d);
    md_buf_release(&b);
    md_store_close(s);
    /* A node that is not 32 bytes is corrupt. */
    s = reopen(0);
    {
        /* Write a short hash through the backend's raw SQL path: a 32-byte put, then shrink. */
        assert_int_equal(s->ops->begin(s, &d), 0);
        assert_int_equal(s->ops->node_put(s, 2, 1, h, &d), 0);
        assert_int_equal(s->ops->commit(s, &d), 0);
    }
    md_store_close(s);
    char cmd[1200];
    snprintf(
        cmd, sizeof cmd,
        "sqlite3 '%s' \"UPDATE ledger_tree SET hash = x'0102' WHERE pos & 63 = 2\" 2>/dev/null",
        path);
    if (system(cmd) == 0) {
        s = reopen(0);
        assert_int_equal(s->ops->node_get(s, 2, 1, g, &d), MANDATE_ECORRUPT);
        assert_non_null(strstr(d.msg, "32 bytes"));
        md_diag_clear(&d);
        md_store_close(s);
    }
    /* A missing file, a file that is not a database, a database without the schema. */
    md_store *x = NULL;
    char other[400];
    snprintf(other, sizeof other, "%s/none.db", dir);
    assert_true(md_store_open(&x, other, 0, &d) < 0);
    assert_null(x);
    assert_non_null(strstr(d.msg, "none.db"));
    md_diag_clear(&d);
    snprintf(other, sizeof other, "%s/junk.db", dir);
    FILE *f = fopen(other, "w");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not a database. ", f);
    fclose(f);
    assert_int_equal(md_store_open(&x, other, 0, &d), MANDATE_ECORRUPT);
    md_diag_clear(&d);
    snprintf(other, sizeof other, "%s/empty.db", dir);
    assert_int_equal(md_store_open(&x, other, MD_STORE_CREATE, &d), 0);
    md_store_close(x);
    snprintf(cmd, sizeof cmd, "rm -f '%s' && touch '%s'", other, other);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(md_store_open(&x, other, 0, &d), MANDATE_ECORRUPT);
    assert_non_null(strstr(d.msg, "not a mandate database"));
    md_diag_clear(&d);
    /* URIs. */
    assert_int_equal(md_store_open(&x, "postgres://db/x", 0, &d), MANDATE_EINVAL);
    assert_non_null(strstr(d.msg, "PostgreSQL"));
    md_diag_clear(&d);
    assert_int_equal(md_store_open(&x, "", 0, &d), MANDATE_EINVAL);
    md_diag_clear(&d);
    char uri[400];
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    assert_int_equal(md_store_open(&x, uri, 0, &d), 0);
    md_store_close(x);
    md_store_close(NULL);
    cleanup();
}

static void test_snapshot_and_readonly(void **state)
{
    (void)state;
    md_store *w = fresh();
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(w->ops->begin(w, &d), 0);
    put_entries(w, 0, 10);
    assert_int_equal(w->ops->commit(w, &d), 0);
    md_store *r = reopen(MD_STORE_READONLY);
    assert_int_equal(r->ops->begin_read(r, &d), 0);
    /* A write committed after the snapshot is not seen until the read ends. */
    assert_int_equal(w->ops->begin(w, &d), 0);
    put_entries(w, 10, 10);
    assert_int_equal(w->ops->commit(w, &d), 0);
    assert_int_equal(count(r), 10);
    r->ops->end_read(r);
    assert_int_equal(count(r), 20);
    /* A read-only store refuses writes (at the write, or already at begin). */
    int rc = r->ops->begin(r, &d);
    if (rc == 0) {
        rc = r->ops->entry_put(r, 20, "x", 1, &d);
        r->ops->rollback(r);
    }
    assert_int_equal(rc, MANDATE_ESTORE);
    assert_non_null(strstr(d.msg, path));
    md_diag_clear(&d);
    assert_int_equal(count(r), 20);
    md_store_close(r);
    md_store_close(w);
    cleanup();
}

static long long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* A writer opened with MD_STORE_BG_CHECKPOINT: its commits never copy WAL pages into the
 * database file themselves; the background thread does, so the database file grows while the
 * writer keeps committing, and everything is there after reopening. */
static void test_background_checkpoints(void **state)
{
    (void)state;
    md_store *s = fresh();
    md_store_close(s);
    s = reopen(MD_STORE_BG_CHECKPOINT);
    long long initial = file_size(path);
    char wal[320];
    snprintf(wal, sizeof wal, "%s-wal", path);
    md_diag d;
    md_diag_clear(&d);
    static char big[3000];
    memset(big, 'b', sizeof big);
    const void *data[4] = {big, big, big, big};
    size_t lens[4] = {sizeof big, sizeof big, sizeof big, sizeof big};
    uint64_t next = 0;
    /* About 4 pages a commit: the 1000-frame threshold is crossed after ~250 commits. */
    for (int i = 0; i < 1200 && file_size(path) <= initial; i++) {
        assert_int_equal(s->ops->begin(s, &d), 0);
        assert_int_equal(s->ops->entries_put(s, next, 4, data, lens, &d), 0);
        assert_int_equal(s->ops->commit(s, &d), 0);
        next += 4;
        if (i >= 600)
            usleep(2000); /* let a loaded machine's checkpointer run */
    }
    assert_true(file_size(path) > initial);
    /* The WAL restarts from its start after a full checkpoint: it stays bounded. */
    assert_true(file_size(wal) < 40LL * 1024 * 1024);
    assert_int_equal(count(s), next);
    md_store_close(s);
    s = reopen(MD_STORE_READONLY);
    assert_int_equal(count(s), next);
    md_store_close(s);
    cleanup();
}

/* The nodes of a 300-entry tree, hash bytes all (level * 31 + index) & 255. */
#define TREE_ENTRIES 300u

static void node_hash(unsigned level, uint64_t index, uint8_t h[32])
{
    memset(h, (int)((level * 31 + index) & 255), 32);
}

static int tree_nodes(void)
{
    int n = 0;
    for (unsigned lev = 0; TREE_ENTRIES >> lev; lev++)
        n += (int)(TREE_ENTRIES >> lev);
    return n;
}

static void put_tree(md_store *s)
{
    md_diag d;
    md_diag_clear(&d);
    md_store_node nodes[2 * TREE_ENTRIES];
    size_t n = 0;
    for (unsigned lev = 0; TREE_ENTRIES >> lev; lev++)
        for (uint64_t i = 0; i < (TREE_ENTRIES >> lev); i++) {
            nodes[n].level = lev;
            nodes[n].index = i;
            node_hash(lev, i, nodes[n++].hash);
        }
    assert_int_equal(s->ops->begin(s, &d), 0);
    assert_int_equal(s->ops->nodes_put(s, nodes, n, &d), 0);
    assert_int_equal(s->ops->commit(s, &d), 0);
}

/* Iterates level `lev` from `from` and checks the indices against want[0 .. n-1]. */
static void expect_level(md_store *s, unsigned lev, uint64_t from, const uint64_t *want, size_t n)
{
    md_diag d;
    md_diag_clear(&d);
    md_store_iter *it = NULL;
    assert_int_equal(s->ops->iter_open(s, MD_STORE_NODES, lev, from, &it, &d), 0);
    md_store_row row;
    size_t k = 0;
    int got;
    while ((got = s->ops->iter_next(it, &row, &d)) == 1) {
        assert_true(k < n);
        assert_int_equal(row.index, want[k]);
        assert_int_equal(row.len, 32);
        uint8_t h[32];
        node_hash(lev, row.index, h);
        assert_memory_equal(row.data, h, 32);
        k++;
    }
    assert_int_equal(got, 0);
    assert_int_equal(k, n);
    s->ops->iter_close(it);
}

static void expect_all_levels(md_store *s)
{
    uint64_t want[TREE_ENTRIES];
    for (unsigned lev = 0; TREE_ENTRIES >> lev; lev++) {
        size_t n = TREE_ENTRIES >> lev;
        for (size_t i = 0; i < n; i++)
            want[i] = i;
        expect_level(s, lev, 0, want, n);
        expect_level(s, lev, n / 2, want + n / 2, n - n / 2);
        uint8_t h[32], g[32];
        md_diag d;
        md_diag_clear(&d);
        assert_int_equal(s->ops->node_get(s, lev, n - 1, g, &d), 0);
        node_hash(lev, n - 1, h);
        assert_memory_equal(g, h, 32);
        assert_int_equal(s->ops->node_get(s, lev, n, g, &d), MANDATE_ECORRUPT);
        md_diag_clear(&d);
    }
}

static void raw_sql(const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
    sqlite3_close(h);
}

static int raw_count(const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void test_node_gaps(void **state)
{
    (void)state;
    md_store *s = fresh();
    put_tree(s);
    expect_all_levels(s);
    /* Gaps at a scanned level (1) and a looked-up one (6), and nodes beyond the tree. */
    raw_sql("DELETE FROM ledger_tree WHERE pos IN (" /* (1, 7), (6, 1) */
            "((((7 + 1) << 1) - 1) << 6) | 1, ((((1 + 1) << 6) - 1) << 6) | 6)");
    md_diag d;
    md_diag_clear(&d);
    md_store_node beyond[2] = {{.level = 1, .index = 200}, {.level = 6, .index = 9}};
    node_hash(1, 200, beyond[0].hash);
    node_hash(6, 9, beyond[1].hash);
    assert_int_equal(s->ops->begin(s, &d), 0);
    assert_int_equal(s->ops->nodes_put(s, beyond, 2, &d), 0);
    assert_int_equal(s->ops->commit(s, &d), 0);
    const uint64_t l6[] = {0, 2, 3, 9}, l6_from4[] = {9}, l1_from5[] = {5, 6, 8};
    expect_level(s, 6, 0, l6, 4);
    expect_level(s, 6, 4, l6_from4, 1);
    expect_level(s, 6, 10, NULL, 0);
    uint64_t l1_tail[2] = {149, 200};
    expect_level(s, 1, 149, l1_tail, 2);
    md_store_iter *it = NULL;
    assert_int_equal(s->ops->iter_open(s, MD_STORE_NODES, 1, 5, &it, &d), 0);
    md_store_row row;
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(s->ops->iter_next(it, &row, &d), 1);
        assert_int_equal(row.index, l1_from5[k]);
    }
    s->ops->iter_close(it);
    /* A node no entry index can complete is refused, and the transaction with it. */
    uint8_t h[32] = {0};
    assert_int_equal(s->ops->begin(s, &d), 0);
    assert_int_equal(s->ops->node_put(s, 57, 0, h, &d), MANDATE_EINVAL);
    assert_non_null(strstr(d.msg, "beyond"));
    md_diag_clear(&d);
    assert_int_equal(s->ops->commit(s, &d), MANDATE_ESTORE);
    md_diag_clear(&d);
    md_store_close(s);
    cleanup();
}

/* The layout of earlier versions, made from a current database. */
static const char downgrade_sql[] =
    "CREATE TABLE ledger_node(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "INSERT INTO ledger_node SELECT pos & 63, (((pos >> 6) + 1) >> (pos & 63)) - 1, hash"
    " FROM ledger_tree;"
    "DROP TABLE ledger_tree;";

static void test_legacy_layout(void **state)
{
    (void)state;
    md_store *s = fresh();
    put_entries(s, 0, TREE_ENTRIES);
    put_tree(s);
    md_store_close(s);
    raw_sql(downgrade_sql);
    /* Read-only, or not the ledger's writer: read as it is, nothing converted, no node added. */
    s = reopen(MD_STORE_READONLY);
    expect_all_levels(s);
    md_store_close(s);
    s = reopen(0);
    expect_all_levels(s);
    {
        md_diag d;
        md_diag_clear(&d);
        uint8_t h[32] = {0};
        assert_int_equal(s->ops->begin(s, &d), 0);
        assert_int_equal(s->ops->node_put(s, 0, TREE_ENTRIES, h, &d), MANDATE_ESTORE);
        assert_non_null(strstr(d.msg, "earlier version"));
        s->ops->rollback(s);
        md_diag_clear(&d);
    }
    md_store_close(s);
    assert_int_equal(raw_count("SELECT count(*) FROM ledger_node"), tree_nodes());
    /* A row no node can have: a writer refuses to convert, and changes nothing. */
    raw_sql("INSERT INTO ledger_node VALUES (60, 0, zeroblob(32))");
    md_store *x = NULL;
    md_diag d;
    md_diag_clear(&d);
    assert_int_equal(md_store_open(&x, path, MD_STORE_UPGRADE, &d), MANDATE_ECORRUPT);
    assert_null(x);
    assert_non_null(strstr(d.msg, "impossible level or index"));
    md_diag_clear(&d);
    assert_int_equal(raw_count("SELECT count(*) FROM ledger_node"), tree_nodes() + 1);
    raw_sql("DELETE FROM ledger_node WHERE level = 60");
    /* The ledger's writer converts, once; the nodes and entries read back the same. */
    s = reopen(MD_STORE_UPGRADE);
    expect_all_levels(s);
    assert_int_equal(count(s), TREE_ENTRIES);
    md_store_close(s);
    assert_int_equal(raw_count("SELECT count(*) FROM sqlite_master WHERE name = 'ledger_node'"), 0);
    assert_int_equal(raw_count("SELECT count(*) FROM ledger_tree"), tree_nodes());
    s = reopen(MD_STORE_CREATE);
    expect_all_levels(s);
    md_store_close(s);
    cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_reopen),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_contiguous_and_batches),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_snapshot_and_readonly),
        cmocka_unit_test(test_background_checkpoints),
        cmocka_unit_test(test_node_gaps),
        cmocka_unit_test(test_legacy_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
