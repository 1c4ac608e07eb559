/* test_json.c: md_json_plain_run against a byte-by-byte reference at every offset and length, and
 * md_json_parse / md_json_parse_depth: strings with and without escapes (as values and as keys,
 * short and long), duplicate keys written differently, NUL bytes in keys, numbers at the int64
 * edges, error positions, and the nesting caps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static size_t plain_reference(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x80 && p[i] != '"' &&
           p[i] != '\\')
        i++;
    return i;
}

static void test_plain_run(void **state)
{
    (void)state;
    static const unsigned char specials[] = {'"', '\\', 0x00, 0x1f, 0x80, 0xff, 0xc3};
    char buf[64];
    srand(7);
    for (int round = 0; round < 4000; round++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (char)(0x20 + rand() % 0x60); /* plain: 0x20..0x7f minus '"' and '\\' */
        for (size_t i = 0; i < sizeof buf; i++)
            if (buf[i] == '"' || buf[i] == '\\')
                buf[i] = 'x';
        int n_special = rand() % 3;
        for (int k = 0; k < n_special; k++)
            buf[rand() % sizeof buf] = (char)specials[rand() % sizeof specials];
        size_t off = (size_t)rand() % 16, len = (size_t)rand() % (sizeof buf - off + 1);
        assert_int_equal(md_json_plain_run(buf + off, len), plain_reference(buf + off, len));
    }
    assert_int_equal(md_json_plain_run("", 0), 0);
    assert_int_equal(md_json_plain_run("abcdefgh\"", 9), 8);
    assert_int_equal(md_json_plain_run("abcdefghijklmno\x7f", 16), 16);
}

static json_t *parse_ok(const char *text)
{
    json_t *j = NULL;
    md_diag d = {0};
    int rc = md_json_parse(text, strlen(text), &j, &d);
    if (rc)
        fail_msg("'%s': %s", text, d.msg);
    return j;
}

static void parse_fails(const char *text, size_t len, int code, const char *msg)
{
    json_t *j = NULL;
    md_diag d = {0};
    assert_int_equal(md_json_parse(text, len, &j, &d), code);
    assert_null(j);
    assert_string_equal(d.msg, msg);
}

static void test_strings(void **state)
{
    (void)state;
    json_t *j = parse_ok("{\"plain\":\"abc def\",\"esc\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\","
                         "\"utf8\":\"caf\xc3\xa9\",\"k\\u0065y\":\"\",\"\":1}");
    assert_string_equal(json_string_value(json_object_get(j, "plain")), "abc def");
    assert_string_equal(json_string_value(json_object_get(j, "esc")),
                        "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(j, "utf8")), "caf\xc3\xa9");
    assert_string_equal(json_string_value(json_object_get(j, "key")), "");
    assert_int_equal(json_integer_value(json_object_get(j, "")), 1);
    json_decref(j);

    /* An escaped key followed by an escaped value: the key must survive the value's parse, also
     * when it is longer than the parser's stack buffer. */
    char text[600], key[300];
    for (size_t n = 1; n < sizeof key - 1; n += 37) {
        memset(key, 'k', n);
        key[n] = 0;
        snprintf(text, sizeof text, "{\"\\u0041%s\":\"\\u0042v\"}", key);
        j = parse_ok(text);
        char want[302];
        snprintf(want, sizeof want, "A%s", key);
        assert_string_equal(json_string_value(json_object_get(j, want)), "Bv");
        json_decref(j);
    }

    /* A NUL byte in a key, which jansson's own parser refuses. */
    j = parse_ok("{\"a\\u0000b\":true}");
    assert_true(json_is_true(json_object_getn(j, "a\0b", 3)));
    json_decref(j);
}

static void test_errors(void **state)
{
    (void)state;
    parse_fails("{\"a\":1,\"\\u0061\":2}", 18, MANDATE_EPARSE,
                "JSON 1:8: duplicate object key 'a'");
    parse_fails("\"abc", 4, MANDATE_EPARSE, "JSON 1:5: unterminated string");
    parse_fails("\"ab\\", 4, MANDATE_EPARSE, "JSON 1:5: unterminated string");
    parse_fails("\"a\nb\"", 5, MANDATE_EPARSE, "JSON 1:3: control character in string");
    parse_fails("[\"abcdefghij\xff\"]", 14, MANDATE_EPARSE, "JSON 1:13: invalid UTF-8 in string");
    parse_fails("\"\\x\"", 4, MANDATE_EPARSE, "JSON 1:4: invalid escape '\\x'");
    parse_fails("\"\\ud800\"", 8, MANDATE_EPARSE, "JSON 1:8: unpaired surrogate in \\u escape");
    parse_fails("{\n \"a\" 1}", 9, MANDATE_EPARSE, "JSON 2:6: expected ':'");
    parse_fails("[1,]", 4, MANDATE_EPARSE, "JSON 1:4: unexpected character ']'");
    parse_fails("01", 2, MANDATE_EPARSE, "JSON 1:2: unexpected text after the JSON value");

    json_t *j = parse_ok("[9223372036854775807,-9223372036854775808,9223372036854775808,1.5]");
    assert_true(json_is_integer(json_array_get(j, 0)));
    assert_true(json_integer_value(json_array_get(j, 1)) == INT64_MIN);
    assert_true(json_is_real(json_array_get(j, 2)));
    assert_true(json_real_value(json_array_get(j, 3)) == 1.5);
    json_decref(j);
}

static void test_depth(void **state)
{
    (void)state;
    enum { N = MD_JSON_MAX_DEPTH + 1 };
    char *t = malloc(2 * N);
    assert_non_null(t);
    memset(t, '[', N);
    memset(t + N, ']', N);
    json_t *j = NULL;
    md_diag d = {0};
    /* MD_JSON_MAX_DEPTH levels parse, one more does not. */
    assert_int_equal(md_json_parse(t + 1, 2 * N - 2, &j, &d), 0);
    json_decref(j);
    j = NULL;
    assert_int_equal(md_json_parse(t, 2 * N, &j, &d), MANDATE_ETOOBIG);
    assert_string_equal(d.msg, "JSON 1:521: nesting deeper than 520 levels");
    /* A smaller cap. */
    md_diag_clear(&d);
    assert_int_equal(md_json_parse_depth("[[1]]", 5, 2, &j, &d), 0);
    json_decref(j);
    j = NULL;
    assert_int_equal(md_json_parse_depth("{\"a\":[[1]]}", 11, 2, &j, &d), MANDATE_ETOOBIG);
    assert_null(j);
    assert_string_equal(d.msg, "JSON 1:7: nesting deeper than 2 levels");
    free(t);
}

/* md_jobj: the same text as md_json_dump of the equivalent jansson object. */
static void test_jobj(void **state)
{
    (void)state;
    md_jobj in;
    md_jobj_init(&in);
    md_jobj_int(&in, "b", -2);
    md_jobj_str(&in, "a", "x");
    md_buf nested;
    md_buf_init(&nested, 1 << 10);
    assert_int_equal(md_jobj_finish(&in, &nested), 0);
    md_jobj o;
    md_jobj_init(&o);
    md_jobj_str(&o, "zeta", "caf\xc3\xa9 \"q\" \\ tab\t");
    md_jobj_str(&o, "decision", "allow");
    md_jobj_str(&o, "nothing", NULL);
    md_jobj_int(&o, "min", INT64_MIN);
    const char *v[] = {"p1", "p\n2"};
    md_jobj_strs(&o, "policies", v, 2);
    md_jobj_strs(&o, "errors", NULL, 0);
    md_jobj_raw(&o, "inner", nested.data, nested.len);
    md_jobj_str(&o, "decision", "deny"); /* replaces */
    md_jobj_str(&o, "decisio", "prefix sorts first");
    assert_true(md_jobj_has(&o, "inner"));
    assert_false(md_jobj_has(&o, "inne"));
    md_buf got;
    md_buf_init(&got, 1 << 20);
    assert_int_equal(md_jobj_finish(&o, &got), 0);
    json_t *want = json_pack("{s:s,s:s,s:n,s:I,s:[s,s],s:[],s:{s:I,s:s},s:s}", "zeta",
                             "caf\xc3\xa9 \"q\" \\ tab\t", "decision", "deny", "nothing", "min",
                             (json_int_t)INT64_MIN, "policies", "p1", "p\n2", "errors", "inner",
                             "b", (json_int_t)-2, "a", "x", "decisio", "prefix sorts first");
    assert_non_null(want);
    char *text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got.data, text);
    free(text);
    json_decref(want);
    md_buf_release(&got);
    md_buf_release(&nested);
    /* A NULL among an array's strings (a failed copy) fails the object. */
    md_jobj_init(&o);
    const char *holey[] = {"a", NULL};
    md_jobj_strs(&o, "policies", holey, 2);
    md_buf_init(&got, 1 << 20);
    assert_int_equal(md_jobj_finish(&o, &got), MANDATE_ENOMEM);
    md_buf_release(&got);
    /* Past MD_JOBJ_MAX members: the error is kept and returned. */
    md_jobj_init(&o);
    char names[MD_JOBJ_MAX + 1][8];
    for (int i = 0; i <= MD_JOBJ_MAX; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        md_jobj_int(&o, names[i], i);
    }
    md_buf_init(&got, 1 << 20);
    assert_int_equal(md_jobj_finish(&o, &got), MANDATE_ETOOBIG);
    md_buf_release(&got);
}

/* md_json_dump gives json_dumps's text with JSON_COMPACT | JSON_SORT_KEYS, except that control
 * characters other than \n \r \t are written \u00xx (md_buf_json_str), which parses back the same.
 */
static void test_dump(void **state)
{
    (void)state;
    const char *texts[] = {
        "{}",
        "[]",
        "{\"b\":1,\"a\":[true,false,null],\"ab\":{\"z\":\"\\\"q\\\\\",\"y\":[]},\"\":-1}",
        "{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"r\":1.5,\"e\":1e300}",
        "[\"caf\\u00e9 \\u2603 \\ud83d\\ude00\",\"a/b\",{\"k\\u0000x\":1,\"k\":2}]",
        "{\"decision\":\"allow\",\"usage\":{\"hour\":1,\"day\":2},\"errors\":[],\"policies\":["
        "\"p\"]}",
        /* Long strings: escapes and UTF-8 before, at and after eight-byte boundaries. */
        "[\"abcdefgh\\\"ijklmnop\\\\q\",\"0123456\u00e9789abcdef\\n\","
        "\"\u2603\u2603\u2603xyzxyzxyz\\t\","
        "\"plain text that runs on for more than thirty-two bytes\",\"x\\r\"]",
        /* Objects of 20 and 16 members, in no order. */
        "{\"q\":1,\"b\":2,\"zz\":3,\"a\":4,\"m\":5,\"c\":6,\"y\":7,\"d\":8,\"x\":9,\"e\":10,"
        "\"w\":11,\"f\":12,\"v\":13,\"g\":14,\"u\":15,\"h\":16,\"t\":17,\"aa\":18,\"s\":19,\"ab\":"
        "20}",
        "{\"q\":1,\"b\":2,\"zz\":3,\"a\":4,\"m\":5,\"c\":6,\"y\":7,\"d\":8,\"x\":9,\"e\":10,"
        "\"w\":11,\"f\":12,\"v\":13,\"g\":14,\"u\":15,\"ba\":-16}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_t *j = NULL;
        md_diag d = {0};
        assert_int_equal(md_json_parse(texts[i], strlen(texts[i]), &j, &d), 0);
        char *want = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        md_buf b;
        md_buf_init(&b, 1 << 20);
        assert_int_equal(md_json_dump(j, &b), 0);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
        free(want);
        md_buf_release(&b);
        json_decref(j);
    }
    /* An object too large for the insertion sort: keys added in reverse order. */
    json_t *wide = json_object();
    for (int i = 60; i > 0; i--) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i * 7 % 61);
        json_object_set_new(wide, k, json_integer(i));
    }
    char *wide_want = json_dumps(wide, JSON_COMPACT | JSON_SORT_KEYS);
    md_buf bb;
    md_buf_init(&bb, 1 << 20);
    assert_int_equal(md_json_dump(wide, &bb), 0);
    assert_string_equal(bb.data, wide_want);
    free(wide_want);
    md_buf_release(&bb);
    json_decref(wide);
    /* Control characters: escaped differently, the same value. */
    json_t *j = json_pack("{s:s}", "c", "a\b\f\x01z");
    md_buf b;
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_json_dump(j, &b), 0);
    assert_string_equal(b.data, "{\"c\":\"a\\u0008\\u000c\\u0001z\"}");
    json_t *back = json_loads(b.data, 0, NULL);
    assert_true(json_equal(j, back));
    json_decref(back);
    json_decref(j);
    /* Nesting past the cap, and the buffer's cap. */
    json_t *deep = json_array();
    for (int i = 0; i < MD_JSON_MAX_DEPTH + 5; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, deep);
        deep = outer;
    }
    b.len = 0;
    assert_int_equal(md_json_dump(deep, &b), MANDATE_ETOOBIG);
    json_decref(deep);
    md_buf_release(&b);
    md_buf_init(&b, 4);
    json_t *big = json_pack("{s:s}", "key", "longer than four bytes");
    assert_int_equal(md_json_dump(big, &b), MANDATE_ETOOBIG);
    json_decref(big);
    md_buf_release(&b);
    assert_int_equal(md_json_dump(NULL, &b), MANDATE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_run), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_depth),
        cmocka_unit_test(test_dump),      cmocka_unit_test(test_jobj),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
