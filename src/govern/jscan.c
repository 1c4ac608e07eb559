/* jscan.c: the strict scanner of canonical ledger bodies (see jscan.h). Hot path of the report
 * and the review over a whole ledger: strings are skipped 8 bytes at a time. */
#include "govern/jscan.h"

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A byte that stands for itself inside a JSON string: anything but '"', '\\' and control bytes. */
static bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* Flags the bytes of w that are '"', '\\' or below 0x20 (the has-zero-byte and has-less-than
 * tricks): the lowest flagged byte is always a true one, higher ones may be false. */
static uint64_t special_mask(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w)) & HIGHS;
}

/* The first byte at or after p that is '"', '\\' or a control byte, or end. */
static const char *find_special(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t m = special_mask(w);
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && plain_byte((unsigned char)*p))
        p++;
    return p;
}

/* p is just past the opening quote; returns the byte after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (;;) {
        p = find_special(p, end);
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (*p != '\\' || end - p < 2)
            return NULL;
        switch (p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': p += 2; break;
        case 'u':
            if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                return NULL;
            p += 6;
            break;
        default: return NULL;
        }
    }
}

static const char *skip_digits(const char *p, const char *end)
{
    if (p >= end || !is_digit(*p))
        return NULL;
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *skip_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = skip_digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = skip_digits(p + 1, end)))
        return NULL;
    if (p && p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = skip_digits(p, end);
    }
    return p;
}

static const char *skip_literal(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

/* The member names asked for, measured once per md_jscan_object call. */
typedef struct wanted {
    const char *const *keys;
    uint64_t first[4]; /* the set of the names' first bytes */
    size_t lens[MD_JSCAN_MAX_KEYS];
    size_t n;
    md_jsv *out;
} wanted;

static int scan_value(const char *p, const char *end, int depth, md_jsv *v, const char **next);

/* p is at '{'. Members named in w go to w->out (w NULL: only check and skip). */
static int scan_object(const char *p, const char *end, int depth, const wanted *w,
                       const char **next)
{
    if (depth >= MD_JSCAN_MAX_DEPTH)
        return MANDATE_EPARSE;
    p++;
    if (p < end && *p == '}') {
        *next = p + 1;
        return 0;
    }
    for (;;) {
        if (p >= end || *p != '"')
            return MANDATE_EPARSE;
        const char *key = p + 1, *q = skip_string(key, end);
        if (!q || q >= end || *q != ':')
            return MANDATE_EPARSE;
        size_t key_len = (size_t)(q - 1 - key);
        md_jsv v;
        if (scan_value(q + 1, end, depth + 1, &v, &p))
            return MANDATE_EPARSE;
        unsigned char k0 = (unsigned char)key[0];
        bool maybe = w && key_len && (w->first[k0 >> 6] >> (k0 & 63) & 1);
        for (size_t i = 0; maybe && i < w->n; i++) {
            if (w->lens[i] == key_len && memcmp(w->keys[i], key, key_len) == 0) {
                if (w->out[i].kind != MD_JSV_ABSENT)
                    return MANDATE_EPARSE; /* a member asked for occurs twice */
                w->out[i] = v;
                break;
            }
        }
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            *next = p + 1;
            return 0;
        }
        return MANDATE_EPARSE;
    }
}

/* p is at '['. */
static int scan_array(const char *p, const char *end, int depth, const char **next)
{
    if (depth >= MD_JSCAN_MAX_DEPTH)
        return MANDATE_EPARSE;
    p++;
    if (p < end && *p == ']') {
        *next = p + 1;
        return 0;
    }
    for (;;) {
        md_jsv v;
        if (scan_value(p, end, depth + 1, &v, &p))
            return MANDATE_EPARSE;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ']') {
            *next = p + 1;
            return 0;
        }
        return MANDATE_EPARSE;
    }
}

static int scan_value(const char *p, const char *end, int depth, md_jsv *v, const char **next)
{
    if (p >= end)
        return MANDATE_EPARSE;
    const char *q = NULL;
    md_jsv_kind kind;
    switch (*p) {
    case '"':
        if (!(q = skip_string(p + 1, end)))
            return MANDATE_EPARSE;
        *v = (md_jsv){MD_JSV_STRING, p + 1, (size_t)(q - p - 2)};
        *next = q;
        return 0;
    case '{':
        if (scan_object(p, end, depth, NULL, &q))
            return MANDATE_EPARSE;
        kind = MD_JSV_OBJECT;
        break;
    case '[':
        if (scan_array(p, end, depth, &q))
            return MANDATE_EPARSE;
        kind = MD_JSV_ARRAY;
        break;
    case 't':
        q = skip_literal(p, end, "true", 4);
        kind = MD_JSV_TRUE;
        break;
    case 'f':
        q = skip_literal(p, end, "false", 5);
        kind = MD_JSV_FALSE;
        break;
    case 'n':
        q = skip_literal(p, end, "null", 4);
        kind = MD_JSV_NULL;
        break;
    default:
        q = skip_number(p, end);
        kind = MD_JSV_NUMBER;
        break;
    }
    if (!q)
        return MANDATE_EPARSE;
    *v = (md_jsv){kind, p, (size_t)(q - p)};
    *next = q;
    return 0;
}

int md_jscan_object(const char *text, size_t len, const char *const *keys, size_t n_keys,
                    md_jsv *out)
{
    if (n_keys > MD_JSCAN_MAX_KEYS)
        return MANDATE_EINVAL;
    wanted w = {.keys = keys, .n = n_keys, .out = out};
    for (size_t i = 0; i < n_keys; i++) {
        unsigned char k0 = (unsigned char)keys[i][0];
        out[i] = (md_jsv){MD_JSV_ABSENT, NULL, 0};
        w.lens[i] = strlen(keys[i]);
        w.first[k0 >> 6] |= 1ull << (k0 & 63);
    }
    const char *next = NULL;
    if (!text || len == 0 || text[0] != '{' || scan_object(text, text + len, 0, &w, &next) ||
        next != text + len)
        return MANDATE_EPARSE;
    return 0;
}

int md_jscan_array_next(md_jsv array, size_t *pos, md_jsv *item)
{
    if (array.kind != MD_JSV_ARRAY || array.n < 2 || array.p[0] != '[' ||
        array.p[array.n - 1] != ']')
        return MANDATE_EPARSE;
    const char *end = array.p + array.n, *p;
    if (*pos == 0)
        *pos = 1;
    if (*pos >= array.n)
        return MANDATE_EPARSE;
    p = array.p + *pos;
    if (*p == ']' && *pos == array.n - 1)
        return 0;
    if (scan_value(p, end, 1, item, &p) || p >= end || (*p != ',' && *p != ']'))
        return MANDATE_EPARSE;
    *pos = (size_t)(p - array.p) + (*p == ',');
    return 1;
}

bool md_jsv_is(md_jsv v, const char *lit)
{
    return v.kind == MD_JSV_STRING && strncmp(lit, v.p, v.n) == 0 && lit[v.n] == '\0';
}

bool md_jsv_nonempty_array(md_jsv v)
{
    return v.kind == MD_JSV_ARRAY && v.n > 2;
}

int md_jscan_int(md_jsv v, int64_t *out)
{
    if (v.kind != MD_JSV_NUMBER || v.n == 0)
        return MANDATE_EPARSE;
    size_t i = v.p[0] == '-';
    if (i == v.n)
        return MANDATE_EPARSE;
    uint64_t limit = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, x = 0;
    for (; i < v.n; i++) {
        if (!is_digit(v.p[i]))
            return MANDATE_EPARSE; /* a fraction or an exponent */
        unsigned digit = (unsigned)(v.p[i] - '0');
        if (x > (limit - digit) / 10)
            return MANDATE_EPARSE;
        x = x * 10 + digit;
    }
    *out = v.p[0] == '-' ? (int64_t)(0 - x) : (int64_t)x;
    return 0;
}

/* The value of four hex digits, or UINT32_MAX when one is not a hex digit. */
static uint32_t hex4(const char *p)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        if (!is_hex(c))
            return UINT32_MAX;
        x = x * 16 + (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return x;
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0, len; i < n; i += len)
        if (s[i] < 0x80)
            len = 1;
        else if (!(len = md_utf8_decode(s + i, n - i, NULL)))
            return false;
    return true;
}

int md_jscan_str_decode(md_jsv v, char *out, size_t *out_len)
{
    if (v.kind != MD_JSV_STRING)
        return MANDATE_EPARSE;
    const char *p = v.p, *end = v.p + v.n;
    size_t o = 0;
    while (p < end) {
        if (*p != '\\') {
            out[o++] = *p++;
            continue;
        }
        if (end - p < 2)
            return MANDATE_EPARSE;
        char c = p[1];
        if (c != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *k = memchr(from, c, sizeof from - 1);
            if (!k)
                return MANDATE_EPARSE;
            out[o++] = to[k - from];
            p += 2;
            continue;
        }
        if (end - p < 6)
            return MANDATE_EPARSE;
        uint32_t cp = hex4(p + 2);
        p += 6;
        if (cp == UINT32_MAX || (cp >= 0xdc00 && cp <= 0xdfff))
            return MANDATE_EPARSE;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return MANDATE_EPARSE;
            uint32_t lo = hex4(p + 2);
            if (lo < 0xdc00 || lo > 0xdfff)
                return MANDATE_EPARSE;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
        }
        o += md_utf8_encode(cp, out + o);
    }
    if (!utf8_valid((const unsigned char *)out, o))
        return MANDATE_EPARSE;
    *out_len = o;
    return 0;
}
