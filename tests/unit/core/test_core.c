/* test_core.c: arenas, capped buffers, diagnostics, string slices and file reading. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

static void arena_alloc_is_zeroed_and_aligned(void **state)
{
    md_arena *a = md_arena_new();
    assert_non_null(a);
    for (size_t n = 1; n < 5000; n += 37) {
        unsigned char *p = md_arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xab, n);
    }
    md_arena_free(a);
}

static void arena_large_and_reset(void **state)
{
    md_arena *a = md_arena_new();
    char *big = md_arena_alloc(a, 1 << 20);
    assert_non_null(big);
    memset(big, 1, 1 << 20);
    assert_true(md_arena_used(a) >= (1u << 20));
    md_arena_reset(a);
    assert_int_equal(md_arena_used(a), 0);
    char *small = md_arena_alloc(a, 10);
    assert_non_null(small);
    md_arena_free(a);
    md_arena_free(NULL);
}

/* Past 1 MiB the arena takes 2 MiB blocks (mapped, huge-page advice on Linux): memory from
 * them is zeroed, aligned, distinct, and survives later allocations; an allocation larger
 * than one such block gets a block of its own; reset and free return them all. */
static void arena_large_blocks(void **state)
{
    md_arena *a = md_arena_new();
    assert_non_null(a);
    enum { N = 3000, SZ = 1000 };
    unsigned char **p = calloc(N, sizeof *p);
    assert_non_null(p);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            p[i] = md_arena_alloc(a, SZ + i % 7);
            assert_non_null(p[i]);
            assert_int_equal((uintptr_t)p[i] % 16, 0);
            for (size_t j = 0; j < SZ; j += 97)
                assert_int_equal(p[i][j], 0);
            memset(p[i], (int)(i & 0xff), SZ);
        }
        unsigned char *huge = md_arena_alloc(a, (size_t)5 << 20);
        assert_non_null(huge);
        assert_int_equal(huge[0] | huge[(5 << 20) - 1], 0);
        memset(huge, 0x5a, (size_t)5 << 20);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(p[i][SZ - 1], (unsigned char)(i & 0xff));
        assert_true(md_arena_used(a) >= (size_t)N * SZ + (5u << 20));
        md_arena_reset(a);
        assert_int_equal(md_arena_used(a), 0);
    }
    free(p);
    md_arena_free(a);
}

static void arena_array_overflow_fails(void **state)
{
    md_arena *a = md_arena_new();
    assert_null(md_arena_array(a, SIZE_MAX / 2, 4));
    assert_non_null(md_arena_array(a, 10, 4));
    md_arena_free(a);
}

static void arena_strings(void **state)
{
    md_arena *a = md_arena_new();
    char *s = md_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    md_str t = md_arena_str(a, MD_STR_LIT("a\0b"));
    assert_int_equal(t.len, 3);
    assert_int_equal(t.ptr[2], 'b');
    assert_string_equal(md_arena_printf(a, "%d-%s", 42, "x"), "42-x");
    md_arena_free(a);
}

static void str_order_and_eq(void **state)
{
    assert_true(md_str_cmp(MD_STR_LIT("a"), MD_STR_LIT("b")) < 0);
    assert_true(md_str_cmp(MD_STR_LIT("ab"), MD_STR_LIT("a")) > 0);
    assert_int_equal(md_str_cmp(MD_STR_LIT(""), MD_STR_LIT("")), 0);
    assert_true(md_str_eq_c(MD_STR_LIT("abc"), "abc"));
    assert_false(md_str_eq_c(MD_STR_LIT("abc"), "abcd"));
    assert_int_not_equal(md_hash_bytes("a", 1, 0), md_hash_bytes("b", 1, 0));
}

static void buf_cap_is_enforced(void **state)
{
    md_buf b;
    md_buf_init(&b, 8);
    assert_int_equal(md_buf_puts(&b, "12345678"), 0);
    assert_int_equal(md_buf_puts(&b, "9"), MANDATE_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    md_buf_release(&b);
}

static void buf_json_escapes(void **state)
{
    md_buf b;
    md_buf_init(&b, 1024);
    assert_int_equal(md_buf_json_str(&b, "a\"b\\c\n\x01", 7), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    md_buf_release(&b);
    md_buf_init(&b, 1024);
    assert_int_equal(md_buf_printf(&b, "%0300d", 7), 0);
    assert_int_equal(b.len, 300);
    md_buf_release(&b);
}

static void diag_first_error_wins(void **state)
{
    md_diag d = {0};
    assert_int_equal(md_diag_set(&d, MANDATE_EPARSE, 3, 4, "first %s", "x"), MANDATE_EPARSE);
    md_diag_set(&d, MANDATE_EIO, 1, 1, "second");
    assert_int_equal(d.code, MANDATE_EPARSE);
    assert_int_equal(d.line, 3);
    assert_string_equal(d.msg, "first x");
    md_diag_clear(&d);
    assert_int_equal(d.code, 0);
    assert_int_equal(md_diag_set(NULL, MANDATE_EIO, 0, 0, "ignored"), MANDATE_EIO);
}

static void read_file_missing_and_capped(void **state)
{
    md_diag d = {0};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(md_read_file("/nonexistent/mandate-test", 100, &text, &len, &d), MANDATE_EIO);
    assert_non_null(strstr(d.msg, "cannot open '/nonexistent/mandate-test'"));
    char path[] = "/tmp/mandate-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("0123456789", f);
    fclose(f);
    md_diag_clear(&d);
    assert_int_equal(md_read_file(path, 5, &text, &len, &d), MANDATE_ETOOBIG);
    md_diag_clear(&d);
    assert_int_equal(md_read_file(path, 100, &text, &len, &d), 0);
    assert_int_equal(len, 10);
    assert_string_equal(text, "0123456789");
    free(text);
    remove(path);
}

static void strerror_is_total(void **state)
{
    assert_string_equal(mandate_strerror(MANDATE_OK), "success");
    assert_string_equal(mandate_strerror(MANDATE_ENOMEM), "out of memory");
    assert_string_equal(mandate_strerror(-9999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_alloc_is_zeroed_and_aligned),
        cmocka_unit_test(arena_large_and_reset),
        cmocka_unit_test(arena_large_blocks),
        cmocka_unit_test(arena_array_overflow_fails),
        cmocka_unit_test(arena_strings),
        cmocka_unit_test(str_order_and_eq),
        cmocka_unit_test(buf_cap_is_enforced),
        cmocka_unit_test(buf_json_escapes),
        cmocka_unit_test(diag_first_error_wins),
        cmocka_unit_test(read_file_missing_and_capped),
        cmocka_unit_test(strerror_is_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
