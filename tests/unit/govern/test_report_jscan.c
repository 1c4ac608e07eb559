/* test_report_jscan.c: the strict scanner of canonical ledger bodies (src/govern/jscan.c) that
 * the report and the review read every entry with: members and their spans, the JSON grammar
 * refused byte by byte, strings around the 8-byte fast path, nesting caps, integers, decoding
 * and UTF-8 checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "govern/jscan.h"

static int scan(const char *text, const char *const *keys, size_t n, md_jsv *out)
{
    return md_jscan_object(text, strlen(text), keys, n, out);
}

static void expect_span(md_jsv v, md_jsv_kind kind, const char *text)
{
    assert_int_equal(v.kind, kind);
    assert_int_equal(v.n, strlen(text));
    assert_memory_equal(v.p, text, v.n);
}

static void test_members(void **state)
{
    (void)state;
    static const char *const keys[] = {"a", "arr", "n", "obj", "s", "t", "z", "missing"};
    md_jsv v[8];
    const char *body = "{\"a\":-12.5e+3,\"arr\":[1,[2,{}],\"x\"],\"f\":false,\"n\":null,"
                       "\"obj\":{\"k\":{\"l\":[]}},\"s\":\"Human::\\\"alice\\\"\",\"t\":true,"
                       "\"z\":0}";
    assert_int_equal(scan(body, keys, 8, v), 0);
    expect_span(v[0], MD_JSV_NUMBER, "-12.5e+3");
    expect_span(v[1], MD_JSV_ARRAY, "[1,[2,{}],\"x\"]");
    expect_span(v[2], MD_JSV_NULL, "null");
    expect_span(v[3], MD_JSV_OBJECT, "{\"k\":{\"l\":[]}}");
    expect_span(v[4], MD_JSV_STRING, "Human::\\\"alice\\\"");
    expect_span(v[5], MD_JSV_TRUE, "true");
    expect_span(v[6], MD_JSV_NUMBER, "0");
    assert_int_equal(v[7].kind, MD_JSV_ABSENT);
    assert_true(md_jsv_is(v[4], "Human::\\\"alice\\\""));
    assert_false(md_jsv_is(v[4], "Human::\\\"alice"));
    assert_false(md_jsv_is(v[2], "null"));
    assert_true(md_jsv_nonempty_array(v[1]));

    /* Nested members are not top-level members; an escaped key is not the plain name. */
    static const char *const k[] = {"k", "ab"};
    md_jsv w[2];
    assert_int_equal(scan("{\"a\\u0062\":1,\"o\":{\"k\":1}}", k, 2, w), 0);
    assert_int_equal(w[0].kind, MD_JSV_ABSENT);
    assert_int_equal(w[1].kind, MD_JSV_ABSENT);
    assert_int_equal(scan("{}", k, 2, w), 0);
    /* A member asked for twice is refused; one not asked for is only checked. */
    assert_int_equal(scan("{\"k\":1,\"k\":2}", k, 2, w), MANDATE_EPARSE);
    assert_int_equal(scan("{\"x\":1,\"x\":2}", k, 2, w), 0);
    assert_int_equal(scan("{\"x\":1}", NULL, 0, NULL), 0);
    /* More names than the cap is misuse. */
    const char *many[MD_JSCAN_MAX_KEYS + 1];
    md_jsv mo[MD_JSCAN_MAX_KEYS + 1];
    for (size_t i = 0; i <= MD_JSCAN_MAX_KEYS; i++)
        many[i] = "k";
    assert_int_equal(scan("{}", many, MD_JSCAN_MAX_KEYS + 1, mo), MANDATE_EINVAL);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "[]",
        "\"x\"",
        "1",
        "null",
        "{",
        "{ }",
        "{\"a\":1 }",
        "{\"a\": 1}",
        "{\"a\":1}\n",
        "{\"a\":1}x",
        "{\"a\":1,}",
        "{\"a\"1}",
        "{a:1}",
        "{\"a\":}",
        "{\"a\":[1,]}",
        "{\"a\":[,1]}",
        "{\"a\":[1 2]}",
        "{\"a\":\"x}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"\\u123\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":1e+}",
        "{\"a\":0x1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":True}",
        "{\"a\":'x'}",
    };
    static const char *const keys[] = {"a"};
    md_jsv v[1];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (scan(bad[i], keys, 1, v) != MANDATE_EPARSE)
            fail_msg("accepted: %s", bad[i]);
    /* A NUL byte inside the text is a control byte. */
    assert_int_equal(md_jscan_object("{\"a\":\"x\0y\"}", 11, keys, 1, v), MANDATE_EPARSE);
    assert_int_equal(md_jscan_object(NULL, 0, keys, 1, v), MANDATE_EPARSE);
}

/* Strings of every length around the 8-byte steps, with a special byte at every offset. */
static void test_string_offsets(void **state)
{
    (void)state;
    static const char *const keys[] = {"s", "t"};
    md_jsv v[2];
    char body[128], want[128];
    for (int len = 0; len < 40; len++) {
        for (int at = 0; at <= len; at++) {
            /* an escaped quote at `at`, then the rest, then a second member */
            int n =
                snprintf(body, sizeof body, "{\"s\":\"%.*s\\\"%.*s\",\"t\":1}", at,
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", len - at,
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "\xc3\xa9\xc3\xa9");
            assert_true(n > 0);
            if (scan(body, keys, 2, v))
                fail_msg("refused: %s", body);
            assert_int_equal(v[1].kind, MD_JSV_NUMBER);
            int m = snprintf(want, sizeof want, "%.*s\\\"", at, body + 6);
            assert_true((size_t)m <= v[0].n);
            assert_memory_equal(v[0].p, want, (size_t)m);
            /* a raw control byte at `at` of a plain string of len + 1 bytes */
            char copy[128];
            n = snprintf(copy, sizeof copy, "{\"s\":\"%.*s\x1f%.*s\",\"t\":1}", at,
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", len - at,
                         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
            if (scan(copy, keys, 2, v) != MANDATE_EPARSE)
                fail_msg("accepted a control byte at %d of %d", at, len);
            copy[6 + at] = 'c';
            if (scan(copy, keys, 2, v) || v[0].n != (size_t)len + 1)
                fail_msg("refused a plain string of %d", len + 1);
            snprintf(copy, sizeof copy, "%s", body);
            /* and an unescaped quote: the string ends early and the rest is garbage */
            copy[6 + at] = '"';
            if (scan(copy, keys, 2, v) != MANDATE_EPARSE)
                fail_msg("accepted a stray quote at %d of %d", at, len);
        }
    }
}

static void test_depth(void **state)
{
    (void)state;
    char body[512];
    static const char *const keys[] = {"a"};
    md_jsv v[1];
    for (int depth = 60; depth <= 66; depth++) {
        int n = snprintf(body, sizeof body, "{\"a\":");
        for (int i = 0; i < depth; i++)
            body[n++] = '[';
        for (int i = 0; i < depth; i++)
            body[n++] = ']';
        body[n++] = '}';
        body[n] = '\0';
        int want = depth < MD_JSCAN_MAX_DEPTH ? 0 : MANDATE_EPARSE;
        if (scan(body, keys, 1, v) != want)
            fail_msg("depth %d: want %d", depth, want);
    }
}

static void test_arrays(void **state)
{
    (void)state;
    static const char *const keys[] = {"a", "e", "s"};
    md_jsv v[3], item;
    assert_int_equal(
        scan("{\"a\":[1,\"x\",[2,3],{\"b\":[]},null],\"e\":[],\"s\":\"[]\"}", keys, 3, v), 0);
    const md_jsv_kind kinds[] = {MD_JSV_NUMBER, MD_JSV_STRING, MD_JSV_ARRAY, MD_JSV_OBJECT,
                                 MD_JSV_NULL};
    const char *texts[] = {"1", "x", "[2,3]", "{\"b\":[]}", "null"};
    size_t pos = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(md_jscan_array_next(v[0], &pos, &item), 1);
        expect_span(item, kinds[i], texts[i]);
    }
    assert_int_equal(md_jscan_array_next(v[0], &pos, &item), 0);
    pos = 0;
    assert_int_equal(md_jscan_array_next(v[1], &pos, &item), 0);
    assert_false(md_jsv_nonempty_array(v[1]));
    pos = 0;
    assert_int_equal(md_jscan_array_next(v[2], &pos, &item), MANDATE_EPARSE);
    assert_false(md_jsv_nonempty_array(v[2]));
}

static md_jsv num(const char *s)
{
    return (md_jsv){MD_JSV_NUMBER, s, strlen(s)};
}

static void test_integers(void **state)
{
    (void)state;
    int64_t x = 7;
    assert_int_equal(md_jscan_int(num("0"), &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(md_jscan_int(num("-0"), &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(md_jscan_int(num("1795774427915"), &x), 0);
    assert_int_equal(x, 1795774427915LL);
    assert_int_equal(md_jscan_int(num("9223372036854775807"), &x), 0);
    assert_true(x == INT64_MAX);
    assert_int_equal(md_jscan_int(num("-9223372036854775808"), &x), 0);
    assert_true(x == INT64_MIN);
    const char *bad[] = {"9223372036854775808",
                         "-9223372036854775809",
                         "99999999999999999999",
                         "1.0",
                         "1e3",
                         "-",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (md_jscan_int(num(bad[i]), &x) != MANDATE_EPARSE)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(md_jscan_int((md_jsv){MD_JSV_STRING, "1", 1}, &x), MANDATE_EPARSE);
    assert_int_equal(md_jscan_int((md_jsv){MD_JSV_ABSENT, NULL, 0}, &x), MANDATE_EPARSE);
}

static md_jsv str(const char *s)
{
    return (md_jsv){MD_JSV_STRING, s, strlen(s)};
}

static void expect_decoded(const char *raw, const char *want, size_t want_len)
{
    char out[64];
    size_t n = 0;
    if (md_jscan_str_decode(str(raw), out, &n))
        fail_msg("refused: %s", raw);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, n);
}

static void test_decode(void **state)
{
    (void)state;
    expect_decoded("Workflow::\\\"a b\\\"", "Workflow::\"a b\"", 15);
    expect_decoded("\\\\\\/\\b\\f\\n\\r\\t", "\\/\b\f\n\r\t", 7);
    expect_decoded("caf\\u00e9 \xc3\xa9", "caf\xc3\xa9 \xc3\xa9", 8);
    expect_decoded("\\u20AC", "\xe2\x82\xac", 3);
    expect_decoded("\\ud83d\\ude00", "\xf0\x9f\x98\x80", 4);
    expect_decoded("a\\u0000b", "a\0b", 3);
    expect_decoded("", "", 0);
    const char *bad[] = {
        "\\ud83d",          /* a lone high surrogate */
        "\\ud83dx\\ude00",  /* not followed by its low half */
        "\\ude00",          /* a lone low surrogate */
        "\\ud83d\\u0041",   /* high then not low */
        "\xc0\x80",         /* overlong */
        "\xed\xa0\x80",     /* a surrogate in UTF-8 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xe2\x82",         /* cut short */
        "\x80",             /* a lone continuation byte */
        "\xff",
        "\\q",
        "\\u12",
        "\\",
    };
    char out[64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (md_jscan_str_decode(str(bad[i]), out, &n) != MANDATE_EPARSE)
            fail_msg("decoded bad string %zu", i);
    assert_int_equal(md_jscan_str_decode(num("1"), out, &n), MANDATE_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_string_offsets), cmocka_unit_test(test_depth),
        cmocka_unit_test(test_arrays),         cmocka_unit_test(test_integers),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
