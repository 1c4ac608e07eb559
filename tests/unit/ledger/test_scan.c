/* test_scan.c: mandate_ledger_scan: every entry once, in index order, with its type, time and
 * canonical body; ranges (from, to, to past the end or 0, from past to); an empty ledger; a
 * visitor that stops the scan (its value returned, nothing visited after it); ranges that cross
 * the 4096-entry chunks the scan reads; a streaming read-only handle opened while a writer holds
 * the ledger; and bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch.h"
#include "mandate/mandate.h"

#define N 10000 /* entries: more than two chunks of 4096 */

static char dir[64], data[96], db[128], key[128];
static mandate_ledger *writer;

typedef struct seen {
    uint64_t n, first, last;
    bool ordered, bodies_ok;
    uint64_t stop_at; /* stop (returning 7) at this index; UINT64_MAX never */
} seen;

static int visit(void *arg, uint64_t index, int type, int64_t time_ms, const char *body, size_t len)
{
    seen *s = arg;
    if (s->n && index != s->last + 1)
        s->ordered = false;
    if (!s->n)
        s->first = index;
    s->last = index;
    s->n++;
    char want[64];
    int wl = snprintf(want, sizeof want, "{\"i\":%llu,\"k\":\"x\"}", (unsigned long long)index);
    if (type != (int)(index % 3 ? MANDATE_ENTRY_NOTE : MANDATE_ENTRY_DECISION) ||
        time_ms != 1700000000000LL + (int64_t)index || len != (size_t)wl || memcmp(body, want, len))
        s->bodies_ok = false;
    return index == s->stop_at ? 7 : 0;
}

static seen scan(mandate_ledger *l, uint64_t from, uint64_t to, uint64_t stop_at, int *rc)
{
    seen s = {.ordered = true, .bodies_ok = true, .stop_at = stop_at};
    mandate_diag d;
    *rc = mandate_ledger_scan(l, from, to, visit, &s, &d);
    return s;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-scan-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/d", dir);
    snprintf(db, sizeof db, "%s/mandate.db", data);
    snprintf(key, sizeof key, "%s/ledger.key", data);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(data, "scan.test/log", &d), 0);
    mandate_ledger_opts o = {.db_path = db, .key_path = key};
    assert_int_equal(mandate_ledger_open(&writer, &o, &d), 0);
    return 0;
}

static int teardown(void **state)
{
    mandate_ledger_close(writer);
    assert_int_equal(scratch_remove(dir), 0);
    return 0;
}

static void test_empty(void **state)
{
    int rc;
    seen s = scan(writer, 0, 0, UINT64_MAX, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s.n, 0);
    s = scan(writer, 5, 100, UINT64_MAX, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s.n, 0);
}

static void fill(void)
{
    uint64_t ticket = 0;
    mandate_diag d;
    for (uint64_t i = 0; i < N; i++) {
        char body[64];
        int bl = snprintf(body, sizeof body, "{\"k\":\"x\", \"i\":%llu}", (unsigned long long)i);
        mandate_ledger_entry e = {i % 3 ? MANDATE_ENTRY_NOTE : MANDATE_ENTRY_DECISION,
                                  1700000000000LL + (int64_t)i, body, (size_t)bl};
        assert_int_equal(mandate_ledger_submit(writer, &e, &ticket, &d), 0);
    }
    assert_int_equal(mandate_ledger_wait(writer, ticket, &d), 0);
    assert_int_equal(mandate_ledger_size(writer), N);
}

static void test_ranges(void **state)
{
    fill();
    int rc;
    /* Everything: 0 and a `to` past the end both mean the current size. */
    seen s = scan(writer, 0, 0, UINT64_MAX, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s.n, N);
    assert_true(s.ordered && s.bodies_ok); /* bodies canonical: keys sorted, no spaces */
    assert_int_equal(s.first, 0);
    assert_int_equal(s.last, N - 1);
    s = scan(writer, 0, N + 12345, UINT64_MAX, &rc);
    assert_int_equal(s.n, N);
    /* Ranges inside one chunk, across one and two chunk boundaries, and the tail. */
    const uint64_t ranges[][2] = {{0, 1},       {17, 4095},   {4095, 4097}, {4090, 8200},
                                  {1, 9999},    {8191, 8193}, {9999, N},    {4096, 8192},
                                  {3000, 3000}, {N, N + 5},   {9000, 10}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        uint64_t from = ranges[i][0], to = ranges[i][1];
        uint64_t want = from < to ? (to > N ? N : to) - (from < N ? from : N) : 0;
        s = scan(writer, from, to, UINT64_MAX, &rc);
        assert_int_equal(rc, 0);
        if (s.n != want)
            fail_msg("scan [%llu, %llu): %llu entries, want %llu", (unsigned long long)from,
                     (unsigned long long)to, (unsigned long long)s.n, (unsigned long long)want);
        assert_true(s.ordered && s.bodies_ok);
        if (want) {
            assert_int_equal(s.first, from);
            assert_int_equal(s.last, from + want - 1);
        }
    }
}

static void test_stop(void **state)
{
    int rc;
    /* The visitor's value comes back and nothing after it is visited, in the first chunk and
     * past a chunk boundary. */
    const uint64_t stops[] = {0, 4095, 4096, 6000, N - 1};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        seen s = scan(writer, 0, 0, stops[i], &rc);
        assert_int_equal(rc, 7);
        assert_int_equal(s.n, stops[i] + 1);
        assert_int_equal(s.last, stops[i]);
    }
    seen s = scan(writer, 5000, 7000, 6500, &rc);
    assert_int_equal(rc, 7);
    assert_int_equal(s.n, 1501);
}

/* A streaming read-only handle scans while the writer holds the ledger, and sees its size. */
static void test_reader(void **state)
{
    mandate_ledger_opts o = {.db_path = db, .cache_level = 64, .streaming = 1};
    mandate_ledger *r = NULL;
    mandate_diag d;
    assert_int_equal(mandate_ledger_open(&r, &o, &d), 0);
    assert_int_equal(mandate_ledger_size(r), N);
    int rc;
    seen s = scan(r, 4000, 9000, UINT64_MAX, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(s.n, 5000);
    assert_true(s.ordered && s.bodies_ok);
    mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 0, "{}", 2};
    assert_int_not_equal(mandate_ledger_append(r, &e, NULL, &d), 0); /* no key: read only */
    mandate_ledger_close(r);
}

static int no_visit(void *arg, uint64_t index, int type, int64_t t, const char *b, size_t n)
{
    return 0;
}

static void test_bad_arguments(void **state)
{
    mandate_diag d;
    assert_int_equal(mandate_ledger_scan(NULL, 0, 0, no_visit, NULL, &d), MANDATE_EINVAL);
    assert_int_equal(mandate_ledger_scan(writer, 0, 0, NULL, NULL, &d), MANDATE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),         cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_stop),          cmocka_unit_test(test_reader),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
