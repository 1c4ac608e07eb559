/* test_ext.c: Cedar's extension types: literal parsers at and around their limits, every extension
 * function, overflow, type errors, printing and ordering (src/cedar/ext.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "cedar/ext.h"

/* ---- helpers ---- */

static md_value str_val(const char *s)
{
    md_value v;
    memset(&v, 0, sizeof v);
    v.kind = MD_V_STRING;
    v.u.s = md_str_c(s);
    return v;
}

static md_value int_val(md_vkind k, int64_t i)
{
    md_value v;
    memset(&v, 0, sizeof v);
    v.kind = k;
    v.u.i = i;
    return v;
}

static md_value ip_val(const char *s)
{
    md_value v;
    memset(&v, 0, sizeof v);
    v.kind = MD_V_IP;
    assert_true(md_ip_parse(md_str_c(s), &v.u.ip));
    return v;
}

/* Applies f and expects success; returns the result. */
static md_value apply_ok(md_extfn f, const md_value *args, size_t n)
{
    md_diag d;
    md_diag_clear(&d);
    md_value out;
    memset(&out, 0, sizeof out);
    int rc = md_extfn_apply(NULL, f, args, n, &out, &d);
    if (rc)
        fail_msg("%s failed: %s", md_extfn_name(f), d.msg);
    return out;
}

/* Applies f and expects MANDATE_EEVAL with a message containing want. */
static void apply_err(md_extfn f, const md_value *args, size_t n, const char *want)
{
    md_diag d;
    md_diag_clear(&d);
    md_value out;
    memset(&out, 0, sizeof out);
    int rc = md_extfn_apply(NULL, f, args, n, &out, &d);
    assert_int_equal(rc, MANDATE_EEVAL);
    assert_int_equal(d.code, MANDATE_EEVAL);
    if (!strstr(d.msg, want))
        fail_msg("message '%s' lacks '%s'", d.msg, want);
}

static bool call_bool(md_extfn f, md_value a, const md_value *b)
{
    md_value args[2] = {a};
    if (b)
        args[1] = *b;
    md_value r = apply_ok(f, args, b ? 2 : 1);
    assert_int_equal(r.kind, MD_V_BOOL);
    return r.u.b;
}

static int64_t call_int(md_extfn f, md_value a, md_vkind want)
{
    md_value r = apply_ok(f, &a, 1);
    assert_int_equal(r.kind, want);
    return r.u.i;
}

static void expect_print(const md_value *v, const char *want)
{
    md_buf b;
    md_buf_init(&b, 4096);
    assert_int_equal(md_ext_print(&b, v), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, want);
    md_buf_release(&b);
}

typedef struct int_case {
    const char *text;
    int64_t want;
} int_case;

/* ---- decimal ---- */

static void decimal_valid_literals(void **state)
{
    static const int_case cases[] = {
        {"1.0", 10000},
        {"-1.0", -10000},
        {"123.456", 1234560},
        {"0.1234", 1234},
        {"-0.0123", -123},
        {"00.000", 0},
        {"-0.0", 0},
        {"55.1", 551000},
        {"0000000000000000000000001.5", 15000},
        {"922337203685477.5807", INT64_MAX},
        {"-922337203685477.5808", INT64_MIN},
        {"922337203685477.5806", INT64_MAX - 1},
        {"-922337203685477.5807", INT64_MIN + 1},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        int64_t v = 42;
        if (!md_decimal_parse(md_str_c(cases[i].text), &v))
            fail_msg("decimal(\"%s\") rejected", cases[i].text);
        assert_int_equal(v, cases[i].want);
    }
}

static void decimal_invalid_literals(void **state)
{
    static const char *bad[] = {
        "922337203685477.5808", /* one past the maximum */
        "-922337203685477.5809",
        "922337203685478.0",
        "1000000000000000.0",
        "99999999999999999999999999.0",
        "1.23456", /* five fractional digits */
        "0.00000",
        "1",
        "-1",
        ".5",
        "1.",
        "-.5",
        "-",
        "-.",
        "",
        ".",
        "+1.0",
        "1.2.3",
        "1,0",
        " 1.0",
        "1.0 ",
        "--1.0",
        "1.-5",
        "1e3.0",
        "1_0.0",
        "0x1.0",
        "1.0\n",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int64_t v = 42;
        if (md_decimal_parse(md_str_c(bad[i]), &v))
            fail_msg("decimal(\"%s\") accepted as %lld", bad[i], (long long)v);
        assert_int_equal(v, 42); /* untouched on failure */
    }
}

static void decimal_literal_with_nul_is_rejected(void **state)
{
    int64_t v;
    md_str s = {"1.0\0", 4};
    assert_false(md_decimal_parse(s, &v));
}

static void decimal_constructor_and_errors(void **state)
{
    md_value arg = str_val("12.34");
    md_value r = apply_ok(MD_FN_DECIMAL, &arg, 1);
    assert_int_equal(r.kind, MD_V_DECIMAL);
    assert_int_equal(r.u.i, 123400);

    arg = str_val("1.23456");
    apply_err(MD_FN_DECIMAL, &arg, 1,
              "error while evaluating 'decimal': \"1.23456\" is not a well-formed decimal value");
    arg = str_val("922337203685477.5808");
    apply_err(MD_FN_DECIMAL, &arg, 1, "overflow");
    arg = str_val("abc");
    apply_err(MD_FN_DECIMAL, &arg, 1, "\"abc\" is not a well-formed decimal value");
}

static void decimal_comparisons(void **state)
{
    md_value a = int_val(MD_V_DECIMAL, 10000), b = int_val(MD_V_DECIMAL, 10001);
    assert_true(call_bool(MD_FN_LESS_THAN, a, &b));
    assert_false(call_bool(MD_FN_LESS_THAN, b, &a));
    assert_false(call_bool(MD_FN_LESS_THAN, a, &a));
    assert_true(call_bool(MD_FN_LESS_THAN_OR_EQUAL, a, &a));
    assert_true(call_bool(MD_FN_LESS_THAN_OR_EQUAL, a, &b));
    assert_false(call_bool(MD_FN_LESS_THAN_OR_EQUAL, b, &a));
    assert_true(call_bool(MD_FN_GREATER_THAN, b, &a));
    assert_false(call_bool(MD_FN_GREATER_THAN, a, &a));
    assert_true(call_bool(MD_FN_GREATER_THAN_OR_EQUAL, a, &a));
    assert_false(call_bool(MD_FN_GREATER_THAN_OR_EQUAL, a, &b));
    md_value lo = int_val(MD_V_DECIMAL, INT64_MIN), hi = int_val(MD_V_DECIMAL, INT64_MAX);
    assert_true(call_bool(MD_FN_LESS_THAN, lo, &hi));
    assert_true(call_bool(MD_FN_GREATER_THAN, hi, &lo));
}

static void decimal_comparison_type_errors(void **state)
{
    md_value args[2] = {int_val(MD_V_DECIMAL, 1), int_val(MD_V_LONG, 1)};
    apply_err(MD_FN_LESS_THAN, args, 2, "expects decimal as argument 1, got long");
    args[0] = str_val("1.0");
    args[1] = int_val(MD_V_DECIMAL, 1);
    apply_err(MD_FN_GREATER_THAN, args, 2,
              "expects decimal as its receiver, got string (maybe you forgot to apply the "
              "`decimal` constructor?)");
    /* datetime comparison through lessThan is a type error (it is on decimals only) */
    args[0] = int_val(MD_V_DATETIME, 1);
    args[1] = int_val(MD_V_DATETIME, 2);
    apply_err(MD_FN_LESS_THAN_OR_EQUAL, args, 2, "got datetime");
}

static void decimal_print(void **state)
{
    md_value v = int_val(MD_V_DECIMAL, 12300);
    expect_print(&v, "decimal(\"1.2300\")");
    v.u.i = -1;
    expect_print(&v, "decimal(\"-0.0001\")");
    v.u.i = 0;
    expect_print(&v, "decimal(\"0.0000\")");
    v.u.i = INT64_MIN;
    expect_print(&v, "decimal(\"-922337203685477.5808\")");
    v.u.i = INT64_MAX;
    expect_print(&v, "decimal(\"922337203685477.5807\")");
}

/* ---- ipaddr ---- */

typedef struct ip_case {
    const char *text;
    bool v6;
    unsigned prefix;
    uint8_t addr[16];
} ip_case;

static void ip_valid_literals(void **state)
{
    static const ip_case cases[] = {
        {"127.0.0.1", false, 32, {127, 0, 0, 1}},
        {"10.0.0.0/8", false, 8, {10}},
        {"10.1.2.3/8", false, 8, {10, 1, 2, 3}}, /* host bits are kept */
        {"0.0.0.0/0", false, 0, {0}},
        {"255.255.255.255/32", false, 32, {255, 255, 255, 255}},
        {"1.2.3.4/9", false, 9, {1, 2, 3, 4}},
        {"::", true, 128, {0}},
        {"::1", true, 128, {[15] = 1}},
        {"::/0", true, 0, {0}},
        {"1:2:3:4:5:6:7:8", true, 128, {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}},
        {"1::", true, 128, {0, 1}},
        {"1:2:3:4:5:6:7::", true, 128, {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0}},
        {"::2:3:4:5:6:7:8", true, 128, {0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}},
        {"FE80::1/64", true, 64, {0xfe, 0x80, [15] = 1}},
        {"ffff:FFFF::abCD/128", true, 128, {0xff, 0xff, 0xff, 0xff, [14] = 0xab, 0xcd}},
        {"0000:0000::0001/127", true, 127, {[15] = 1}},
        {"::ffff:7f00:1", true, 128, {[10] = 0xff, 0xff, 0x7f, 0, 0, 1}},
        {"2001:db8::/32", true, 32, {0x20, 0x01, 0x0d, 0xb8}},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_ipaddr ip;
        memset(&ip, 0xee, sizeof ip);
        if (!md_ip_parse(md_str_c(cases[i].text), &ip))
            fail_msg("ip(\"%s\") rejected", cases[i].text);
        assert_int_equal(ip.v6, cases[i].v6);
        assert_int_equal(ip.prefix, cases[i].prefix);
        assert_memory_equal(ip.addr, cases[i].addr, 16); /* unused v4 bytes are zero */
    }
}

static void ip_invalid_literals(void **state)
{
    static const char *bad[] = {
        "127.0.0.01", /* leading zero */
        "01.2.3.4",
        "0001.2.3.4",
        "256.0.0.0",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.",
        ".1.2.3",
        "1..2.3",
        "1.2.3.-4",
        "1.2.3.4/33",
        "1.2.3.4/08",
        "1.2.3.4/00",
        "1.2.3.4/",
        "1.2.3.4/1/2",
        "1.2.3.4/+8",
        "1.2.3.4/100",
        "::1/129",
        "::1/0128",
        "::1/1280",
        "::ffff:127.0.0.1", /* IPv4 embedded in IPv6 */
        "::127.0.0.1",
        "1::2::3",
        ":::",
        "::::",
        ":1::",
        "1:",
        ":1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1:2:3:4::5:6:7:8",
        "12345::",
        "g::",
        "",
        "/8",
        "1.2.3.4 ",
        " 1.2.3.4",
        "[::1]",
        "::1%eth0",
        "localhost",
        "1.2.3.4:80",
        "0x7f.0.0.1",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_ipaddr ip;
        if (md_ip_parse(md_str_c(bad[i]), &ip))
            fail_msg("ip(\"%s\") accepted", bad[i]);
    }
}

static void ip_constructor_and_errors(void **state)
{
    md_value arg = str_val("192.168.0.1/24");
    md_value r = apply_ok(MD_FN_IP, &arg, 1);
    assert_int_equal(r.kind, MD_V_IP);
    assert_int_equal(r.u.ip.prefix, 24);
    arg = str_val("1.2.3.4/33");
    apply_err(MD_FN_IP, &arg, 1, "\"1.2.3.4/33\" is not a valid IP address");
    arg = int_val(MD_V_LONG, 7);
    apply_err(MD_FN_IP, &arg, 1, "'ip' expects string as argument 1, got long");
}

static void ip_is_ipv4_ipv6(void **state)
{
    assert_true(call_bool(MD_FN_IS_IPV4, ip_val("1.2.3.4"), NULL));
    assert_false(call_bool(MD_FN_IS_IPV6, ip_val("1.2.3.4"), NULL));
    assert_true(call_bool(MD_FN_IS_IPV6, ip_val("::"), NULL));
    assert_false(call_bool(MD_FN_IS_IPV4, ip_val("::"), NULL));
}

static void ip_is_loopback(void **state)
{
    assert_true(call_bool(MD_FN_IS_LOOPBACK, ip_val("127.0.0.1"), NULL));
    assert_true(call_bool(MD_FN_IS_LOOPBACK, ip_val("127.255.255.255"), NULL));
    assert_true(call_bool(MD_FN_IS_LOOPBACK, ip_val("127.0.0.0/8"), NULL));
    assert_true(call_bool(MD_FN_IS_LOOPBACK, ip_val("127.1.0.0/16"), NULL));
    assert_false(call_bool(MD_FN_IS_LOOPBACK, ip_val("127.0.0.0/7"), NULL));
    assert_false(call_bool(MD_FN_IS_LOOPBACK, ip_val("128.0.0.1"), NULL));
    assert_false(call_bool(MD_FN_IS_LOOPBACK, ip_val("10.0.0.1"), NULL));
    assert_true(call_bool(MD_FN_IS_LOOPBACK, ip_val("::1"), NULL));
    assert_false(call_bool(MD_FN_IS_LOOPBACK, ip_val("::1/127"), NULL));
    assert_false(call_bool(MD_FN_IS_LOOPBACK, ip_val("::"), NULL));
    assert_false(call_bool(MD_FN_IS_LOOPBACK, ip_val("::ffff:7f00:1"), NULL));
}

static void ip_is_multicast(void **state)
{
    assert_true(call_bool(MD_FN_IS_MULTICAST, ip_val("224.0.0.1"), NULL));
    assert_true(call_bool(MD_FN_IS_MULTICAST, ip_val("239.255.255.255"), NULL));
    assert_true(call_bool(MD_FN_IS_MULTICAST, ip_val("224.0.0.0/4"), NULL));
    assert_false(call_bool(MD_FN_IS_MULTICAST, ip_val("224.0.0.0/3"), NULL));
    assert_false(call_bool(MD_FN_IS_MULTICAST, ip_val("240.0.0.1"), NULL));
    assert_false(call_bool(MD_FN_IS_MULTICAST, ip_val("223.255.255.255"), NULL));
    assert_true(call_bool(MD_FN_IS_MULTICAST, ip_val("ff02::1"), NULL));
    assert_true(call_bool(MD_FN_IS_MULTICAST, ip_val("ff00::/8"), NULL));
    assert_false(call_bool(MD_FN_IS_MULTICAST, ip_val("ff00::/7"), NULL));
    assert_false(call_bool(MD_FN_IS_MULTICAST, ip_val("fe80::1"), NULL));
}

static void ip_is_in_range(void **state)
{
    md_value net8 = ip_val("10.0.0.0/8"), net16 = ip_val("10.0.0.0/16");
    assert_true(call_bool(MD_FN_IS_IN_RANGE, ip_val("10.1.2.3"), &net8));
    assert_true(call_bool(MD_FN_IS_IN_RANGE, ip_val("10.255.255.255"), &net8));
    assert_false(call_bool(MD_FN_IS_IN_RANGE, ip_val("11.0.0.0"), &net8));
    assert_false(call_bool(MD_FN_IS_IN_RANGE, ip_val("9.255.255.255"), &net8));
    assert_true(call_bool(MD_FN_IS_IN_RANGE, net16, &net8));
    assert_false(call_bool(MD_FN_IS_IN_RANGE, net8, &net16));
    assert_true(call_bool(MD_FN_IS_IN_RANGE, net8, &net8));
    /* host bits under the prefix do not matter for ranges */
    md_value host_bits = ip_val("10.1.2.3/8");
    assert_true(call_bool(MD_FN_IS_IN_RANGE, net8, &host_bits));
    assert_true(call_bool(MD_FN_IS_IN_RANGE, host_bits, &net8));
    md_value all4 = ip_val("0.0.0.0/0"), all6 = ip_val("::/0");
    assert_true(call_bool(MD_FN_IS_IN_RANGE, ip_val("255.255.255.255"), &all4));
    assert_true(call_bool(MD_FN_IS_IN_RANGE, ip_val("ffff::1"), &all6));
    /* across families: false */
    assert_false(call_bool(MD_FN_IS_IN_RANGE, ip_val("1.2.3.4"), &all6));
    assert_false(call_bool(MD_FN_IS_IN_RANGE, ip_val("::1"), &all4));
    md_value v6net = ip_val("2001:db8::/32");
    assert_true(call_bool(MD_FN_IS_IN_RANGE, ip_val("2001:db8:ffff::1"), &v6net));
    assert_false(call_bool(MD_FN_IS_IN_RANGE, ip_val("2001:db9::1"), &v6net));
    md_value odd = ip_val("2001:db8::/33");
    assert_true(call_bool(MD_FN_IS_IN_RANGE, ip_val("2001:db8:7fff::"), &odd));
    assert_false(call_bool(MD_FN_IS_IN_RANGE, ip_val("2001:db8:8000::"), &odd));
}

static void ip_function_type_errors(void **state)
{
    md_value args[2] = {ip_val("1.2.3.4"), str_val("10.0.0.0/8")};
    apply_err(MD_FN_IS_IN_RANGE, args, 2,
              "'isInRange' expects ipaddr as argument 1, got string (maybe you forgot to apply "
              "the `ip` constructor?)");
    args[0] = int_val(MD_V_DECIMAL, 1);
    apply_err(MD_FN_IS_LOOPBACK, args, 1,
              "'isLoopback' expects ipaddr as its receiver, got "
              "decimal");
}

static void ip_equality_and_order(void **state)
{
    md_value a = ip_val("1.2.3.4"), b = ip_val("1.2.3.4/32");
    assert_int_equal(md_ext_cmp(&a, &b), 0);
    md_value c = ip_val("10.0.0.1/8"), e = ip_val("10.0.0.0/8");
    assert_true(md_ext_cmp(&c, &e) > 0); /* structural: host bits differ */
    md_value f = ip_val("10.0.0.0/9");
    assert_true(md_ext_cmp(&e, &f) < 0); /* same address, shorter prefix first */
    md_value v6 = ip_val("::");
    assert_true(md_ext_cmp(&a, &v6) < 0); /* IPv4 before IPv6 */
    assert_true(md_ext_cmp(&v6, &a) > 0);
    md_value g = ip_val("::1"), h = ip_val("0:0:0:0:0:0:0:1/128");
    assert_int_equal(md_ext_cmp(&g, &h), 0);
    md_value k = ip_val("9.255.255.255");
    assert_true(md_ext_cmp(&k, &e) < 0);
}

static void ip_print(void **state)
{
    md_value v = ip_val("192.168.0.1");
    expect_print(&v, "ip(\"192.168.0.1/32\")");
    v = ip_val("10.1.2.3/8");
    expect_print(&v, "ip(\"10.1.2.3/8\")");
    v = ip_val("::1");
    expect_print(&v, "ip(\"::1/128\")");
    v = ip_val("::");
    expect_print(&v, "ip(\"::/128\")");
    v = ip_val("FE80:0:0:0:0:0:0:1/64");
    expect_print(&v, "ip(\"fe80::1/64\")");
    v = ip_val("2001:db8:0:0:1:0:0:1"); /* two equal runs: the first is compressed */
    expect_print(&v, "ip(\"2001:db8::1:0:0:1/128\")");
    v = ip_val("1:0:2:3:4:5:6:7"); /* a single zero group is not compressed */
    expect_print(&v, "ip(\"1:0:2:3:4:5:6:7/128\")");
    v = ip_val("1:0:0:2:0:0:0:3"); /* the longest run wins */
    expect_print(&v, "ip(\"1:0:0:2::3/128\")");
    v = ip_val("::ffff:102:304");
    expect_print(&v, "ip(\"::ffff:1.2.3.4/128\")");
}

/* ---- datetime ---- */

static void datetime_valid_literals(void **state)
{
    static const int_case cases[] = {
        {"1970-01-01", 0},
        {"1970-01-02", 86400000},
        {"1969-12-31", -86400000},
        {"2024-01-01T00:00:00Z", INT64_C(1704067200000)},
        {"2024-01-01T00:00:00.001Z", INT64_C(1704067200001)},
        {"2024-01-01T00:00:00.999Z", INT64_C(1704067200999)},
        {"2024-01-01T01:00:00+0100", INT64_C(1704067200000)},
        {"2023-12-31T23:00:00-0100", INT64_C(1704067200000)},
        {"2024-01-01T00:00:00.500+0100", INT64_C(1704063600500)},
        {"2024-01-01T00:00:00-2359", INT64_C(1704067200000) + 86340000},
        {"2024-01-01T00:00:00+0000", INT64_C(1704067200000)},
        {"2024-01-01T00:00:00-0000", INT64_C(1704067200000)},
        {"2024-02-29", INT64_C(1709164800000)},
        {"2000-02-29", INT64_C(951782400000)},
        {"0000-01-01", INT64_C(-62167219200000)},
        {"0000-02-29", INT64_C(-62162121600000)}, /* year 0 is a leap year */
        {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
        {"1970-01-01T23:59:59Z", 86399000},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        int64_t v = 42;
        if (!md_datetime_parse(md_str_c(cases[i].text), &v))
            fail_msg("datetime(\"%s\") rejected", cases[i].text);
        if (v != cases[i].want)
            fail_msg("datetime(\"%s\") = %lld, want %lld", cases[i].text, (long long)v,
                     (long long)cases[i].want);
    }
}

static void datetime_invalid_literals(void **state)
{
    static const char *bad[] = {
        "2023-02-29", /* not a leap year */
        "1900-02-29",
        "2024-02-30",
        "2024-04-31",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-01-32",
        "2024-1-01",
        "24-01-01",
        "12024-01-01",
        "+2024-01-01",
        "2024/01/01",
        "2024-01-01T",
        "2024-01-01Z",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00Z",
        "2024-01-01T0:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:60Z", /* no leap seconds */
        "2024-01-01T00:00:00.1Z",
        "2024-01-01T00:00:00.12Z",
        "2024-01-01T00:00:00.0000Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+2400",
        "2024-01-01T00:00:00+0060",
        "2024-01-01T00:00:00+01:00",
        "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00+010",
        "2024-01-01T00:00:00+01000",
        "2024-01-01T00:00:00Z0",
        "2024-01-01T00:00:00ZZ",
        "2024-01-01t00:00:00z",
        "2024-01-01T00:00:00.000",
        "2024-01-01 ",
        "",
        "2024-01-01T00:00:00UTC",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int64_t v = 42;
        if (md_datetime_parse(md_str_c(bad[i]), &v))
            fail_msg("datetime(\"%s\") accepted as %lld", bad[i], (long long)v);
        assert_int_equal(v, 42);
    }
}

static void datetime_constructor_and_errors(void **state)
{
    md_value arg = str_val("2024-10-15");
    md_value r = apply_ok(MD_FN_DATETIME, &arg, 1);
    assert_int_equal(r.kind, MD_V_DATETIME);
    assert_int_equal(r.u.i, INT64_C(1728950400000));
    arg = str_val("2024-10-15T25:00:00Z");
    apply_err(MD_FN_DATETIME, &arg, 1,
              "error while evaluating 'datetime': \"2024-10-15T25:00:00Z\" is not a valid "
              "datetime");
}

static void datetime_offset(void **state)
{
    md_value args[2] = {int_val(MD_V_DATETIME, 1000), int_val(MD_V_DURATION, -3000)};
    md_value r = apply_ok(MD_FN_OFFSET, args, 2);
    assert_int_equal(r.kind, MD_V_DATETIME);
    assert_int_equal(r.u.i, -2000);
    args[0].u.i = INT64_MAX - 5;
    args[1].u.i = 5;
    assert_int_equal(apply_ok(MD_FN_OFFSET, args, 2).u.i, INT64_MAX);
    args[1].u.i = 6;
    apply_err(MD_FN_OFFSET, args, 2, "error while evaluating 'offset': overflow");
    args[0].u.i = INT64_MIN;
    args[1].u.i = -1;
    apply_err(MD_FN_OFFSET, args, 2, "overflow");
    args[1] = int_val(MD_V_DATETIME, 1);
    apply_err(MD_FN_OFFSET, args, 2, "'offset' expects duration as argument 1, got datetime");
}

static void datetime_duration_since(void **state)
{
    md_value args[2] = {int_val(MD_V_DATETIME, 5000), int_val(MD_V_DATETIME, 8000)};
    md_value r = apply_ok(MD_FN_DURATION_SINCE, args, 2);
    assert_int_equal(r.kind, MD_V_DURATION);
    assert_int_equal(r.u.i, -3000);
    args[0].u.i = INT64_MIN;
    args[1].u.i = 1;
    apply_err(MD_FN_DURATION_SINCE, args, 2, "error while evaluating 'durationSince': overflow");
    args[0].u.i = INT64_MAX;
    args[1].u.i = -1;
    apply_err(MD_FN_DURATION_SINCE, args, 2, "overflow");
    args[1].u.i = 0;
    assert_int_equal(apply_ok(MD_FN_DURATION_SINCE, args, 2).u.i, INT64_MAX);
}

static void datetime_to_date(void **state)
{
    int64_t day = 86400000;
    int64_t t = INT64_C(1704067200000) + 12 * 3600000 + 34 * 60000 + 56789;
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, t), MD_V_DATETIME),
                     INT64_C(1704067200000));
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, 0), MD_V_DATETIME), 0);
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, -1), MD_V_DATETIME), -day);
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, -day), MD_V_DATETIME), -day);
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, -day - 1), MD_V_DATETIME),
                     -2 * day);
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, INT64_MAX), MD_V_DATETIME),
                     INT64_MAX / day * day);
    /* the floor of the earliest datetimes is below INT64_MIN */
    md_value v = int_val(MD_V_DATETIME, INT64_MIN);
    apply_err(MD_FN_TO_DATE, &v, 1, "error while evaluating 'toDate': overflow");
    int64_t lowest_day = (INT64_MIN / day) * day; /* -106751991167 days */
    assert_int_equal(call_int(MD_FN_TO_DATE, int_val(MD_V_DATETIME, lowest_day + 5), MD_V_DATETIME),
                     lowest_day);
    v.u.i = lowest_day - 1;
    apply_err(MD_FN_TO_DATE, &v, 1, "overflow");
}

static void datetime_to_time(void **state)
{
    int64_t day = 86400000;
    int64_t t = INT64_C(1704067200000) + 12 * 3600000 + 34 * 60000 + 56789;
    assert_int_equal(call_int(MD_FN_TO_TIME, int_val(MD_V_DATETIME, t), MD_V_DURATION),
                     12 * 3600000 + 34 * 60000 + 56789);
    assert_int_equal(call_int(MD_FN_TO_TIME, int_val(MD_V_DATETIME, -1), MD_V_DURATION), day - 1);
    assert_int_equal(call_int(MD_FN_TO_TIME, int_val(MD_V_DATETIME, -day), MD_V_DURATION), 0);
    assert_int_equal(call_int(MD_FN_TO_TIME, int_val(MD_V_DATETIME, INT64_MIN), MD_V_DURATION),
                     INT64_MIN % day + day);
    assert_int_equal(call_int(MD_FN_TO_TIME, int_val(MD_V_DATETIME, INT64_MAX), MD_V_DURATION),
                     INT64_MAX % day);
}

static void datetime_print(void **state)
{
    md_value v = int_val(MD_V_DATETIME, INT64_C(1704067200000));
    expect_print(&v, "datetime(\"1970-01-01\").offset(duration(\"1704067200000ms\"))");
    v.u.i = -5;
    expect_print(&v, "datetime(\"1970-01-01\").offset(duration(\"-5ms\"))");
}

/* ---- duration ---- */

static void duration_valid_literals(void **state)
{
    static const int_case cases[] = {
        {"1d2h3m4s5ms", 93784005},
        {"-1d", -86400000},
        {"0ms", 0},
        {"-0s", 0},
        {"1ms", 1},
        {"1m", 60000},
        {"90m", 5400000},
        {"1h", 3600000},
        {"2d5ms", 172800005},
        {"1m1ms", 60001},
        {"-1h30m", -5400000},
        {"0d0h0m0s0ms", 0},
        {"0001s", 1000},
        {"9223372036854775807ms", INT64_MAX},
        {"-9223372036854775808ms", INT64_MIN},
        {"106751991167d", INT64_C(9223372036828800000)},
        {"106751991167d7h12m55s807ms", INT64_MAX},
        {"-106751991167d7h12m55s808ms", INT64_MIN},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        int64_t v = 42;
        if (!md_duration_parse(md_str_c(cases[i].text), &v))
            fail_msg("duration(\"%s\") rejected", cases[i].text);
        if (v != cases[i].want)
            fail_msg("duration(\"%s\") = %lld, want %lld", cases[i].text, (long long)v,
                     (long long)cases[i].want);
    }
}

static void duration_invalid_literals(void **state)
{
    static const char *bad[] = {
        "9223372036854775808ms", /* overflow */
        "-9223372036854775809ms",
        "106751991168d",
        "106751991167d7h12m55s808ms",
        "99999999999999999999999ms",
        "-18446744073709551616ms",
        "9223372036854775807s",
        "",
        "-",
        "1",
        "-1",
        "d",
        "ms",
        "-d",
        "1h1d", /* out of order */
        "1s1m",
        "1ms1s",
        "1d1d", /* repeated */
        "1ms5ms",
        "1.5h",
        "1y",
        "1D",
        "1H",
        " 1d",
        "1d ",
        "+1d",
        "1d-2h",
        "--1d",
        "1msx",
        "1mss",
        "1m s",
        "1sm",
        "1d2",
        "1_000ms",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int64_t v = 42;
        if (md_duration_parse(md_str_c(bad[i]), &v))
            fail_msg("duration(\"%s\") accepted as %lld", bad[i], (long long)v);
        assert_int_equal(v, 42);
    }
}

static void duration_constructor_and_errors(void **state)
{
    md_value arg = str_val("-2h");
    md_value r = apply_ok(MD_FN_DURATION, &arg, 1);
    assert_int_equal(r.kind, MD_V_DURATION);
    assert_int_equal(r.u.i, -7200000);
    arg = str_val("106751991168d");
    apply_err(MD_FN_DURATION, &arg, 1,
              "error while evaluating 'duration': \"106751991168d\" is not a valid duration: "
              "overflow");
    arg = str_val("1h1d");
    apply_err(MD_FN_DURATION, &arg, 1, "\"1h1d\" is not a valid duration");
}

static void duration_conversions(void **state)
{
    md_value v = int_val(MD_V_DURATION, 93784005); /* 1d2h3m4s5ms */
    assert_int_equal(call_int(MD_FN_TO_MILLISECONDS, v, MD_V_LONG), 93784005);
    assert_int_equal(call_int(MD_FN_TO_SECONDS, v, MD_V_LONG), 93784);
    assert_int_equal(call_int(MD_FN_TO_MINUTES, v, MD_V_LONG), 1563);
    assert_int_equal(call_int(MD_FN_TO_HOURS, v, MD_V_LONG), 26);
    assert_int_equal(call_int(MD_FN_TO_DAYS, v, MD_V_LONG), 1);
    /* truncating division, toward zero, for negative durations */
    v.u.i = -93784005;
    assert_int_equal(call_int(MD_FN_TO_SECONDS, v, MD_V_LONG), -93784);
    assert_int_equal(call_int(MD_FN_TO_DAYS, v, MD_V_LONG), -1);
    v.u.i = -1;
    assert_int_equal(call_int(MD_FN_TO_SECONDS, v, MD_V_LONG), 0);
    v.u.i = -59999;
    assert_int_equal(call_int(MD_FN_TO_MINUTES, v, MD_V_LONG), 0);
    v.u.i = -86399999;
    assert_int_equal(call_int(MD_FN_TO_DAYS, v, MD_V_LONG), 0);
    v.u.i = INT64_MIN;
    assert_int_equal(call_int(MD_FN_TO_MILLISECONDS, v, MD_V_LONG), INT64_MIN);
    assert_int_equal(call_int(MD_FN_TO_DAYS, v, MD_V_LONG), -106751991167);
    v.u.i = INT64_MAX;
    assert_int_equal(call_int(MD_FN_TO_HOURS, v, MD_V_LONG), 2562047788015);
    md_value s = str_val("1h");
    apply_err(MD_FN_TO_HOURS, &s, 1,
              "'toHours' expects duration as its receiver, got string (maybe you forgot to "
              "apply the `duration` constructor?)");
    md_value dt = int_val(MD_V_DATETIME, 0);
    apply_err(MD_FN_TO_DAYS, &dt, 1, "expects duration as its receiver, got datetime");
}

static void duration_print(void **state)
{
    md_value v = int_val(MD_V_DURATION, 93784005);
    expect_print(&v, "duration(\"93784005ms\")");
    v.u.i = INT64_MIN;
    expect_print(&v, "duration(\"-9223372036854775808ms\")");
}

/* ---- the function table and dispatch ---- */

static void extfn_names_arity_and_style(void **state)
{
    assert_string_equal(md_extfn_name(MD_FN_DECIMAL), "decimal");
    assert_string_equal(md_extfn_name(MD_FN_IP), "ip");
    assert_string_equal(md_extfn_name(MD_FN_GREATER_THAN_OR_EQUAL), "greaterThanOrEqual");
    assert_string_equal(md_extfn_name(MD_FN_DURATION_SINCE), "durationSince");
    assert_string_equal(md_extfn_name(MD_FN_TO_MILLISECONDS), "toMilliseconds");
    assert_int_equal(md_extfn_arity(MD_FN_DATETIME), 1);
    assert_int_equal(md_extfn_arity(MD_FN_LESS_THAN), 2);
    assert_int_equal(md_extfn_arity(MD_FN_IS_LOOPBACK), 1);
    assert_int_equal(md_extfn_arity(MD_FN_IS_IN_RANGE), 2);
    assert_int_equal(md_extfn_arity(MD_FN_OFFSET), 2);
    assert_int_equal(md_extfn_arity(MD_FN_TO_DAYS), 1);
    assert_false(md_extfn_is_method(MD_FN_DECIMAL));
    assert_false(md_extfn_is_method(MD_FN_DURATION));
    assert_true(md_extfn_is_method(MD_FN_LESS_THAN));
    assert_true(md_extfn_is_method(MD_FN_TO_TIME));
    assert_false(md_extfn_is_method(MD_FN__COUNT));
    assert_int_equal(md_extfn_arity(MD_FN__COUNT), 0);
    for (int f = 0; f < MD_FN__COUNT; f++) {
        md_extfn back;
        assert_true(md_extfn_from_name(md_str_c(md_extfn_name((md_extfn)f)), &back));
        assert_int_equal(back, f);
        assert_true(md_extfn_arity((md_extfn)f) >= 1);
    }
    md_extfn x;
    assert_false(md_extfn_from_name(MD_STR_LIT("isIPv4"), &x));
    assert_false(md_extfn_from_name(MD_STR_LIT(""), &x));
    assert_false(md_extfn_from_name(MD_STR_LIT("decimalx"), &x));
}

static void extfn_wrong_arity_and_unknown(void **state)
{
    md_value args[3] = {int_val(MD_V_DECIMAL, 1), int_val(MD_V_DECIMAL, 2),
                        int_val(MD_V_DECIMAL, 3)};
    apply_err(MD_FN_LESS_THAN, args, 1, "'lessThan' takes 1 argument(s) besides its receiver");
    apply_err(MD_FN_LESS_THAN, args, 3, "got 2");
    md_value s[2] = {str_val("1.0"), str_val("2.0")};
    apply_err(MD_FN_DECIMAL, s, 2, "'decimal' takes 1 argument(s), got 2");
    apply_err(MD_FN_DECIMAL, s, 0, "got 0");
    apply_err((md_extfn)MD_FN__COUNT, s, 1, "unknown extension function");
    apply_err((md_extfn)-1, s, 1, "unknown extension function");
}

static void extfn_error_quotes_the_subject_safely(void **state)
{
    md_value arg = str_val("a\"b\n");
    apply_err(MD_FN_IP, &arg, 1, "\"a\\\"b\\x0a\" is not a valid IP address");
    char longs[600];
    memset(longs, '9', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    arg = str_val(longs);
    apply_err(MD_FN_DECIMAL, &arg, 1, "...\" is not a well-formed decimal value");
    /* a NULL diag is allowed */
    md_value out;
    assert_int_equal(md_extfn_apply(NULL, MD_FN_DECIMAL, &arg, 1, &out, NULL), MANDATE_EEVAL);
}

static void ext_cmp_scalars_and_kinds(void **state)
{
    md_value a = int_val(MD_V_DECIMAL, -5), b = int_val(MD_V_DECIMAL, 3);
    assert_true(md_ext_cmp(&a, &b) < 0);
    assert_true(md_ext_cmp(&b, &a) > 0);
    assert_int_equal(md_ext_cmp(&a, &a), 0);
    md_value lo = int_val(MD_V_DURATION, INT64_MIN), hi = int_val(MD_V_DURATION, INT64_MAX);
    assert_true(md_ext_cmp(&lo, &hi) < 0);
    md_value dt = int_val(MD_V_DATETIME, 3);
    assert_true(md_ext_cmp(&b, &dt) != 0); /* same payload, different kinds */
    assert_true((md_ext_cmp(&b, &dt) < 0) == (md_ext_cmp(&dt, &b) > 0));
    /* decimal equality compares the scaled integer */
    int64_t x, y;
    assert_true(md_decimal_parse(MD_STR_LIT("1.5"), &x));
    assert_true(md_decimal_parse(MD_STR_LIT("01.5000"), &y));
    md_value dx = int_val(MD_V_DECIMAL, x), dy = int_val(MD_V_DECIMAL, y);
    assert_int_equal(md_ext_cmp(&dx, &dy), 0);
}

static void ext_print_rejects_other_kinds(void **state)
{
    md_buf b;
    md_buf_init(&b, 64);
    md_value v = int_val(MD_V_LONG, 1);
    assert_int_equal(md_ext_print(&b, &v), MANDATE_EINVAL);
    v = str_val("x");
    assert_int_equal(md_ext_print(&b, &v), MANDATE_EINVAL);
    md_buf_release(&b);
    /* a buffer cap is honoured */
    md_buf_init(&b, 8);
    v = int_val(MD_V_DECIMAL, 1);
    assert_int_equal(md_ext_print(&b, &v), MANDATE_ETOOBIG);
    md_buf_release(&b);
    assert_string_equal(md_ext_kind_name(MD_V_IP), "ipaddr");
    assert_string_equal(md_ext_kind_name(MD_V_RECORD), "record");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decimal_valid_literals),
        cmocka_unit_test(decimal_invalid_literals),
        cmocka_unit_test(decimal_literal_with_nul_is_rejected),
        cmocka_unit_test(decimal_constructor_and_errors),
        cmocka_unit_test(decimal_comparisons),
        cmocka_unit_test(decimal_comparison_type_errors),
        cmocka_unit_test(decimal_print),
        cmocka_unit_test(ip_valid_literals),
        cmocka_unit_test(ip_invalid_literals),
        cmocka_unit_test(ip_constructor_and_errors),
        cmocka_unit_test(ip_is_ipv4_ipv6),
        cmocka_unit_test(ip_is_loopback),
        cmocka_unit_test(ip_is_multicast),
        cmocka_unit_test(ip_is_in_range),
        cmocka_unit_test(ip_function_type_errors),
        cmocka_unit_test(ip_equality_and_order),
        cmocka_unit_test(ip_print),
        cmocka_unit_test(datetime_valid_literals),
        cmocka_unit_test(datetime_invalid_literals),
        cmocka_unit_test(datetime_constructor_and_errors),
        cmocka_unit_test(datetime_offset),
        cmocka_unit_test(datetime_duration_since),
        cmocka_unit_test(datetime_to_date),
        cmocka_unit_test(datetime_to_time),
        cmocka_unit_test(datetime_print),
        cmocka_unit_test(duration_valid_literals),
        cmocka_unit_test(duration_invalid_literals),
        cmocka_unit_test(duration_constructor_and_errors),
        cmocka_unit_test(duration_conversions),
        cmocka_unit_test(duration_print),
        cmocka_unit_test(extfn_names_arity_and_style),
        cmocka_unit_test(extfn_wrong_arity_and_unknown),
        cmocka_unit_test(extfn_error_quotes_the_subject_safely),
        cmocka_unit_test(ext_cmp_scalars_and_kinds),
        cmocka_unit_test(ext_print_rejects_other_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
