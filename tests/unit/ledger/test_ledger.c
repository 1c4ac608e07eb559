/* test_ledger.c: the ledger end to end: init, group-commit appends, proofs, checkpoints, the
 * offline verifier under a tamper drill, and bad input (corrupt database, wrong key, proofs
 * past the end, a failing commit). The drill size is set by MANDATE_DRILL_ENTRIES and
 * MANDATE_DRILL_CHANGES (defaults 10000 and 200; the full drill is 100000 and 1000). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch.h"
#include "ledger/ledger_int.h"
#include "mandate/mandate.h"

static char dir[256], db[300], key[300];

static void fresh(void)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-ledger-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/d/mandate.db", dir);
    snprintf(key, sizeof key, "%s/d/ledger.key", dir);
    char d[300];
    snprintf(d, sizeof d, "%s/d", dir);
    mandate_diag diag;
    assert_int_equal(mandate_ledger_init(d, "test.example/log", &diag), 0);
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

typedef struct worker {
    mandate_ledger *l;
    int id, count;
    int fails;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->count; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"w\":%d,\"i\":%d,\"pad\":\"xxxxxxxx\"}", w->id, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_DECISION, 1700000000000 + i, body, (size_t)n};
        uint64_t idx;
        if (mandate_ledger_append(w->l, &e, &idx, NULL) != 0)
            w->fails++;
    }
    return NULL;
}

static void fill(mandate_ledger *l, int threads, int total)
{
    pthread_t t[64];
    worker w[64];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){l, i, total / threads + (i < total % threads), 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].fails, 0);
    }
}

static void test_append_prove_verify(void **state)
{
    (void)state;
    fresh();
    mandate_ledger *l = open_l(100);
    fill(l, 8, 1000);
    assert_int_equal(mandate_ledger_size(l), 1000);
    /* Canonical encoding: key order and whitespace do not change the leaf hash. */
    const char *ja = "{\"b\":1, \"a\":2}", *jb = "{\"a\":2,\"b\":1}";
    mandate_ledger_entry a = {MANDATE_ENTRY_NOTE, 5, ja, strlen(ja)};
    mandate_ledger_entry b = {MANDATE_ENTRY_NOTE, 5, jb, strlen(jb)};
    uint64_t ia, ib;
    assert_int_equal(mandate_ledger_append(l, &a, &ia, NULL), 0);
    assert_int_equal(mandate_ledger_append(l, &b, &ib, NULL), 0);
    uint8_t la[32], lb[32], root[32], pr[MD_MERKLE_MAX_PROOF][32];
    size_t n;
    assert_int_equal(mandate_ledger_inclusion_proof(l, ia, 0, la, root, pr, &n, NULL), 0);
    assert_int_equal(mandate_ledger_inclusion_proof(l, ib, 0, lb, root, pr, &n, NULL), 0);
    assert_memory_equal(la, lb, 32);
    /* Every proof verifies, at several tree sizes. */
    for (uint64_t size = 1; size <= 1002; size += 97) {
        for (uint64_t i = 0; i < size; i += 13) {
            char *json = NULL;
            mandate_diag d;
            assert_int_equal(mandate_ledger_prove(l, i, size, &json, &d), 0);
            assert_int_equal(mandate_ledger_check_proof(json, strlen(json), &d), 0);
            free(json);
        }
        char *json = NULL;
        assert_int_equal(mandate_ledger_prove_consistency(l, size, 1002, &json, NULL), 0);
        assert_int_equal(mandate_ledger_check_proof(json, strlen(json), NULL), 0);
        /* A changed root fails. */
        char *p = strstr(json, "\"root2\":\"");
        p[10] = p[10] == 'A' ? 'B' : 'A';
        assert_int_equal(mandate_ledger_check_proof(json, strlen(json), NULL), MANDATE_ECRYPTO);
        free(json);
    }
    char *note = NULL;
    assert_int_equal(mandate_ledger_checkpoint(l, &note, NULL), 0);
    uint64_t size;
    uint8_t cproot[32];
    assert_int_equal(mandate_ledger_check_checkpoint(
                         note, strlen(note), mandate_ledger_verifier_key(l), &size, cproot, NULL),
                     0);
    assert_int_equal(size, 1002);
    assert_int_equal(strncmp(note, "test.example/log\n1002\n", 22), 0);
    free(note);
    char *json = NULL;
    assert_int_equal(mandate_ledger_get(l, ib, &json, NULL), 0);
    assert_non_null(strstr(json, "\"body\":{\"a\":2,\"b\":1}"));
    free(json);
    mandate_ledger_close(l);
    mandate_ledger_report r;
    mandate_diag d;
    assert_int_equal(mandate_ledger_verify(db, NULL, &r, &d), 0);
    assert_int_equal(r.entries, 1002);
    assert_true(r.checkpoints >= 10);
    /* Reopen: state is rebuilt from the store. */
    l = open_l(100);
    assert_int_equal(mandate_ledger_size(l), 1002);
    assert_int_equal(mandate_ledger_inclusion_proof(l, ib, 0, lb, cproot, pr, &n, NULL), 0);
    assert_memory_equal(cproot, root, 32);
    mandate_ledger_close(l);
    cleanup();
}

static void test_bad_input(void **state)
{
    (void)state;
    fresh();
    mandate_ledger *l = open_l(0);
    mandate_diag d;
    mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 0, "{\"x\":1}", 7};
    assert_int_equal(mandate_ledger_append(l, &e, NULL, NULL), 0);
    char *json = NULL;
    /* Past the end. */
    assert_int_equal(mandate_ledger_prove(l, 5, 0, &json, &d), MANDATE_ENOTFOUND);
    assert_non_null(strstr(d.message, "past the end"));
    assert_int_equal(mandate_ledger_prove(l, 0, 9, &json, &d), MANDATE_ENOTFOUND);
    assert_int_equal(mandate_ledger_get(l, 1, &json, &d), MANDATE_ENOTFOUND);
    assert_int_equal(mandate_ledger_prove_consistency(l, 2, 1, &json, &d), MANDATE_EINVAL);
    /* Bad entries. */
    mandate_ledger_entry bad = {MANDATE_ENTRY_NOTE, 0, "{\"x\":", 5};
    assert_int_equal(mandate_ledger_append(l, &bad, NULL, &d), MANDATE_EPARSE);
    bad = (mandate_ledger_entry){99, 0, "{}", 2};
    assert_int_equal(mandate_ledger_append(l, &bad, NULL, &d), MANDATE_EINVAL);
    bad = (mandate_ledger_entry){MANDATE_ENTRY_NOTE, 0, "{\"a\":1,\"a\":2}", 13};
    assert_int_equal(mandate_ledger_append(l, &bad, NULL, &d), MANDATE_EPARSE);
    /* Bad proofs. */
    assert_int_equal(mandate_ledger_check_proof("{", 1, &d), MANDATE_EPARSE);
    assert_int_equal(mandate_ledger_check_proof("{\"index\":-1}", 12, &d), MANDATE_EPARSE);
    const char *p = "{\"index\":0,\"tree_size\":1,\"leaf_hash\":\"AA==\",\"root\":\"AA==\","
                    "\"proof\":[\"AA==\"]}";
    assert_int_equal(mandate_ledger_check_proof(p, strlen(p), &d), MANDATE_EPARSE);
    /* A failing commit stops acknowledging, for good (and says so). */
    assert_int_equal(mandate_ledger_failed(l, &d), 0);
    assert_int_equal(d.code, 0);
    md_store_sqlite_fail_commits(md_ledger_writer_store(l), 1);
    assert_int_equal(mandate_ledger_append(l, &e, NULL, &d), MANDATE_ESTORE);
    assert_non_null(strstr(d.message, "fsync"));
    md_store_sqlite_fail_commits(md_ledger_writer_store(l), 0);
    assert_int_equal(mandate_ledger_append(l, &e, NULL, &d), MANDATE_ESTORE);
    assert_int_equal(mandate_ledger_size(l), 1);
    assert_int_not_equal(mandate_ledger_failed(l, &d), 0);
    assert_int_equal(d.code, MANDATE_ESTORE);
    assert_non_null(strstr(d.message, "fsync"));
    mandate_ledger_close(l);
    /* Read-only handle refuses appends. */
    mandate_ledger_opts ro = {.db_path = db};
    assert_int_equal(mandate_ledger_open(&l, &ro, &d), 0);
    assert_int_equal(mandate_ledger_append(l, &e, NULL, &d), MANDATE_EDENIED);
    mandate_ledger_close(l);
    /* A key readable by others is refused. */
    chmod(key, 0644);
    mandate_ledger_opts o = {.db_path = db, .key_path = key};
    assert_int_equal(mandate_ledger_open(&l, &o, &d), MANDATE_EDENIED);
    assert_non_null(strstr(d.message, "chmod 600"));
    chmod(key, 0600);
    /* The wrong key. */
    char other[300], okey[320];
    snprintf(other, sizeof other, "%s/other", dir);
    assert_int_equal(mandate_ledger_init(other, NULL, &d), 0);
    assert_int_equal(mandate_ledger_init(other, NULL, &d), MANDATE_EEXIST);
    snprintf(okey, sizeof okey, "%s/ledger.key", other);
    o.key_path = okey;
    assert_int_equal(mandate_ledger_open(&l, &o, &d), MANDATE_ECRYPTO);
    assert_non_null(strstr(d.message, "wrong key"));
    /* Verify with the wrong verifier key names checkpoint 0. */
    mandate_ledger_report r;
    assert_int_equal(mandate_ledger_verify(db, "x+00000000+AAAA", &r, &d), MANDATE_ECRYPTO);
    char opub[400], vk[200] = "";
    snprintf(opub, sizeof opub, "%s/ledger.pub", other);
    FILE *f = fopen(opub, "r");
    assert_non_null(fgets(vk, sizeof vk, f));
    fclose(f);
    vk[strcspn(vk, "\n")] = 0;
    assert_int_equal(mandate_ledger_verify(db, vk, &r, &d), MANDATE_ECORRUPT);
    assert_string_equal(r.bad_kind, "checkpoint");
    /* Not a database, a missing one, an empty one. */
    char junk[320];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    f = fopen(junk, "w");
    for (int i = 0; i < 5000; i++)
        fputc(i * 7, f);
    fclose(f);
    assert_true(mandate_ledger_verify(junk, NULL, &r, &d) < 0);
    assert_non_null(strstr(d.message, "junk.db"));
    ro.db_path = junk;
    assert_true(mandate_ledger_open(&l, &ro, &d) < 0);
    snprintf(junk, sizeof junk, "%s/none.db", dir);
    ro.db_path = junk;
    assert_true(mandate_ledger_open(&l, &ro, &d) < 0);
    f = fopen(junk, "w");
    fclose(f);
    assert_int_equal(mandate_ledger_open(&l, &ro, &d), MANDATE_ECORRUPT);
    assert_non_null(strstr(d.message, "not a mandate database"));
    cleanup();
}

/* ---- tamper drill ---- */

static sqlite3 *raw;

static int tamper(const char *sql_get, const char *sql_put, sqlite3_int64 k1, sqlite3_int64 k2,
                  int nkeys, unsigned char *saved, int *saved_len, int pos_seed, int restore)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(raw, sql_get, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, k1);
    if (nkeys == 2)
        sqlite3_bind_int64(st, 2, k2);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_bytes(st, 0);
    unsigned char buf[70000];
    assert_true(n > 0 && n < (int)sizeof buf);
    if (restore) {
        memcpy(buf, saved, (size_t)*saved_len);
        n = *saved_len;
    } else {
        memcpy(buf, sqlite3_column_blob(st, 0), (size_t)n);
        memcpy(saved, buf, (size_t)n);
        *saved_len = n;
        int pos = pos_seed % n;
        buf[pos] ^= (unsigned char)(1 + (unsigned)rand() % 255);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(raw, sql_put, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_blob(st, 1, buf, n, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, k1);
    if (nkeys == 2)
        sqlite3_bind_int64(st, 3, k2);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    return n;
}

static void test_tamper_drill(void **state)
{
    (void)state;
    const char *e1 = getenv("MANDATE_DRILL_ENTRIES"), *e2 = getenv("MANDATE_DRILL_CHANGES");
    int entries = e1 ? atoi(e1) : 10000, changes = e2 ? atoi(e2) : 200;
    fresh();
    mandate_ledger *l = open_l(1000);
    fill(l, 32, entries);
    mandate_ledger_close(l);
    mandate_ledger_report r;
    mandate_diag d;
    assert_int_equal(mandate_ledger_verify(db, NULL, &r, &d), 0);
    assert_int_equal(r.entries, (uint64_t)entries);
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    srand(4242);
    int ncp = 0;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(raw, "SELECT size FROM ledger_checkpoint ORDER BY size", -1, &st, NULL);
    sqlite3_int64 cps[4096];
    while (sqlite3_step(st) == SQLITE_ROW && ncp < 4096)
        cps[ncp++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    int detected = 0, by_kind[3] = {0, 0, 0};
    unsigned char saved[70000];
    int saved_len;
    for (int c = 0; c < changes; c++) {
        int kind = c % 3;
        const char *get, *put, *want_kind;
        sqlite3_int64 k1, k2 = 0;
        uint64_t want_index;
        unsigned want_level = 0;
        int nkeys = 1;
        if (kind == 0) {
            k1 = rand() % entries;
            get = "SELECT data FROM ledger_entry WHERE idx = ?1";
            put = "UPDATE ledger_entry SET data = ?1 WHERE idx = ?2";
            want_kind = "entry";
            want_index = (uint64_t)k1;
        } else if (kind == 1) {
            /* A random stored node: pick a level weighted like the tree. */
            int level = 0;
            while (level < 20 && (rand() & 1) && (entries >> (level + 1)) > 0)
                level++;
            k2 = level;
            k1 = rand() % (entries >> level);
            get = "SELECT hash FROM ledger_tree WHERE pos = ((((?1 + 1) << ?2) - 1) << 6) | ?2";
            put = "UPDATE ledger_tree SET hash = ?1 WHERE pos = ((((?2 + 1) << ?3) - 1) << 6) | ?3";
            nkeys = 2;
            want_kind = level ? "node" : "entry";
            want_index = (uint64_t)k1 << level;
            want_level = (unsigned)level;
        } else {
            k1 = cps[rand() % ncp];
            get = "SELECT note FROM ledger_checkpoint WHERE size = ?1";
            put = "UPDATE ledger_checkpoint SET note = ?1 WHERE size = ?2";
            want_kind = "checkpoint";
            want_index = (uint64_t)k1;
        }
        tamper(get, put, k1, k2, nkeys, saved, &saved_len, rand(), 0);
        int rc = mandate_ledger_verify(db, NULL, &r, &d);
        if (rc == MANDATE_ECORRUPT && r.bad_kind && !strcmp(r.bad_kind, want_kind) &&
            r.bad_index == want_index && r.bad_level == want_level) {
            detected++;
            by_kind[kind]++;
        } else {
            fprintf(stderr, "change %d (%s %lld/%lld): rc=%d kind=%s index=%llu level=%u: %s\n", c,
                    want_kind, (long long)k1, (long long)k2, rc, r.bad_kind ? r.bad_kind : "-",
                    (unsigned long long)r.bad_index, r.bad_level, d.message);
        }
        tamper(get, put, k1, k2, nkeys, saved, &saved_len, 0, 1);
    }
    sqlite3_close(raw);
    fprintf(stderr,
            "tamper drill: %d entries, %d changes, %d detected with the right index (entries %d, "
            "nodes %d, checkpoints %d)\n",
            entries, changes, detected, by_kind[0], by_kind[1], by_kind[2]);
    assert_int_equal(detected, changes);
    assert_int_equal(mandate_ledger_verify(db, NULL, &r, &d), 0);
    /* Truncation (deleting the newest entries) is caught by the signed checkpoints. */
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM ledger_entry WHERE idx >= %d", entries - 5);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(mandate_ledger_verify(db, NULL, &r, &d), MANDATE_ECORRUPT);
    assert_int_equal(r.bad_index, (uint64_t)entries - 5);
    cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_prove_verify),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_tamper_drill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
