/* test_entry_canonical.c: the ledger's canonical-body fast path (md_entry_body_canonical) against
 * the jansson round trip it stands in for: every body the scan accepts must come back byte for
 * byte from json_loadb + json_dumps(JSON_COMPACT | JSON_SORT_KEYS), on fixed cases, on random
 * canonical bodies and on random mutations of them; and the bodies the server writes (plain
 * objects, strings, integers) must be accepted, or the fast path would never be taken. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

/* The round trip of md_entry_encode; NULL when jansson refuses the text. */
static char *round_trip(const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return NULL;
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

/* Fails unless an accepted text survives the round trip unchanged. Returns whether accepted. */
static bool check_sound(const char *text, size_t len)
{
    if (!md_entry_body_canonical(text, len))
        return false;
    char *rt = round_trip(text, len);
    if (!rt || strlen(rt) != len || memcmp(rt, text, len)) {
        fprintf(stderr, "accepted but not canonical: %.*s\n  round trip: %s\n", (int)len, text,
                rt ? rt : "(refused)");
        fail();
    }
    free(rt);
    return true;
}

static void test_fixed(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "{}",
        "[]",
        "0",
        "-1",
        "123456789012345678",
        "9223372036854775807",
        "-9223372036854775808",
        "-123456789012345678",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh/\"",
        "{\"a\":1,\"ab\":2,\"b\":[1,{\"x\":null}]}",
        "{\"A\":1,\"a\":2}",
        "{\"action\":\"Action::\\\"read\\\"\",\"api\":\"authorize\",\"caller\":\"Service::"
        "\\\"b\\\"\","
        "\"decision\":\"allow\",\"policies_sha256\":\"00ff\",\"principal\":\"Agent::\\\"x\\\"\","
        "\"reasons\":[\"p1\",\"p2\"],\"resource\":\"Repo::\\\"r\\\"\"}",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!check_sound(yes[i], strlen(yes[i]))) {
            fprintf(stderr, "not accepted: %s\n", yes[i]);
            fail();
        }
    }
    static const char *const no[] = {
        "",
        " {}",
        "{} ",
        "{\"b\":1,\"a\":2}",
        "{\"a\":1,\"a\":2}",
        "{\"ab\":1,\"a\":2}",
        "{\"a\" :1}",
        "{\"a\":1,}",
        "[1,]",
        "[1 ,2]",
        "01",
        "-0",
        "1.0",
        "1e3",
        "9223372036854775808",
        "-9223372036854775809",
        "12345678901234567890",
        "\"\\u0041\"",
        "\"\\/\"",
        "\"\\x\"",
        "\"\x01\"",
        "\"\xc3\xa9\"",
        "{\"a\\\"\":1}",
        "tru",
        "nul",
        "\"abc",
        "{\"a\":1",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (md_entry_body_canonical(no[i], strlen(no[i]))) {
            fprintf(stderr, "accepted: %s\n", no[i]);
            fail();
        }
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void random_text(char *buf, size_t cap)
{
    static const char alphabet[] = "aAbB_:/\"\\ \n\t\b\f\r\x01\x1f\x7f-0.";
    size_t n = rnd((unsigned)cap - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned r = rnd(40);
        buf[i] = r < sizeof alphabet - 1 ? alphabet[r] : (char)('c' + rnd(20));
    }
    if (rnd(10) == 0 && n + 2 < cap) {
        buf[n++] = (char)0xc3; /* a non-ASCII letter: never accepted, must not break anything */
        buf[n++] = (char)0xa9;
    }
    buf[n] = 0;
}

static json_t *random_value(unsigned depth)
{
    char s[12];
    switch (rnd(depth > 3 ? 6 : 8)) {
    case 0: return json_integer((json_int_t)(rnd(3) ? rnd(1000) : rng) * (rnd(2) ? 1 : -1));
    case 1: return rnd(2) ? json_true() : json_false();
    case 2: return json_null();
    case 3: random_text(s, sizeof s); return json_string(s);
    case 4: return json_real(rnd(2) ? 1.5 : (double)rnd(100));
    case 5: random_text(s, sizeof s); return json_string(s);
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd(4); i; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(5); i; i--) {
            random_text(s, 4);
            json_object_set_new(o, s, random_value(depth + 1));
        }
        return o;
    }
    }
}

/* Whether a string dumps without \\u escapes (as a key: without any escape). */
static bool plain_string(const char *p, bool key)
{
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x80 || (key && (c < 0x20 || c == '"' || c == '\\')) ||
            (c < 0x20 && !strchr("\b\f\n\r\t", c)))
            return false;
    }
    return true;
}

/* The kind of value the server writes: no reals, strings as above. The scan must accept it. */
static bool plain(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_REAL: return false;
    case JSON_STRING: return plain_string(json_string_value(v), false);
    case JSON_ARRAY: json_array_foreach(v, i, x) if (!plain(x)) return false; return true;
    case JSON_OBJECT:
        json_object_foreach(v, k, x) if (!plain_string(k, true) || !plain(x)) return false;
        return true;
    default: return true;
    }
}

static void test_random(void **state)
{
    (void)state;
    unsigned accepted = 0, mutated_accepted = 0;
    char buf[8192];
    for (int i = 0; i < 20000; i++) {
        json_t *v = random_value(0);
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        bool must_accept = plain(v);
        json_decref(v);
        assert_non_null(text);
        size_t len = strlen(text);
        accepted += check_sound(text, len);
        /* The server's kind of body (no reals, ASCII, no \u escapes) must be accepted. */
        if (must_accept && !md_entry_body_canonical(text, len)) {
            fprintf(stderr, "canonical text not accepted: %s\n", text);
            fail();
        }
        if (len < sizeof buf - 2) {
            for (int m = 0; m < 8; m++) {
                memcpy(buf, text, len);
                size_t n = len, at = rnd((unsigned)len + 1);
                switch (rnd(4)) {
                case 0:
                    memmove(buf + at + 1, buf + at, n - at), buf[at] = " ,:\"{}[]\\0-"[rnd(11)],
                                                             n++;
                    break;
                case 1:
                    if (at < n)
                        memmove(buf + at, buf + at + 1, n - at - 1), n--;
                    break;
                case 2:
                    if (at < n)
                        buf[at] = "ab\"\\{}[],:0-1e. "[rnd(16)];
                    break;
                default:
                    if (at + 1 < n) {
                        char c = buf[at];
                        buf[at] = buf[at + 1];
                        buf[at + 1] = c;
                    }
                    break;
                }
                mutated_accepted += check_sound(buf, n);
            }
        }
        free(text);
    }
    fprintf(stderr, "accepted %u of 20000 random canonical bodies, %u mutations\n", accepted,
            mutated_accepted);
    assert_true(accepted > 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
