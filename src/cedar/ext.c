/*
 * ext.c: Cedar's extension types (decimal, ipaddr, datetime, duration) and the extension function
 * dispatch, with the semantics of the Lean model (Cedar/Spec/Ext/{Decimal,IPAddr,Datetime}.lean,
 * Cedar/Spec/ExtFun.lean) and the accept/reject behaviour of the Rust implementation that generated
 * the conformance corpus (cedar-policy-core/src/extensions/{decimal,ipaddr,datetime}.rs).
 *
 * Literal grammars, in short:
 *   decimal   -?[0-9]+\.[0-9]{1,4}, value times 10^4 must fit int64.
 *   ip        IPv4 dotted quad (octets 0-255, no leading zeros) or IPv6 (groups of 1-4 hex digits,
 *             at most one "::" standing for at least one zero group, no embedded IPv4), each with
 *             an optional /prefix (decimal, no leading zeros, <= 32 or <= 128). Host bits are kept.
 *   datetime  YYYY-MM-DD, optionally followed by Thh:mm:ss, optional .SSS, then Z or (+|-)hhmm;
 *             calendar-checked date, hh < 24, mm < 60, ss < 60, offset hh < 24 and mm < 60.
 *   duration  -?(N d)?(N h)?(N m)?(N s)?(N ms)? with at least one pair; total fits int64 ms.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cedar/ext.h"

/* ---- small helpers ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when p[0..n) are all ASCII digits; *v gets their value. */
static bool digits_at(const char *p, size_t n, unsigned *v)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return true;
}

/* Writes s as a double-quoted string into out (at most cap bytes with the NUL), escaping quotes,
 * backslashes and control bytes, and shortening long subjects with "...". Returns out. */
static const char *quote(char *out, size_t cap, md_str s)
{
    size_t o = 0;
    size_t limit = cap - 6; /* room for the closing quote, "..." and the NUL */
    out[o++] = '"';
    size_t i = 0;
    for (; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        char esc[8];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            k = 4;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (o + k > limit)
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    if (i < s.len) {
        /* do not cut a UTF-8 sequence in half */
        while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
            o--;
        if (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
            o--;
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* ---- decimal ---- */

#define DECIMAL_SCALE 10000
#define DECIMAL_RANGE "-922337203685477.5808 to 922337203685477.5807"

static const char *decimal_parse(md_str s, int64_t *out)
{
    static const char *bad = "expected digits with an optional leading '-', then '.', then 1 to 4 "
                             "digits, like 12.34";
    const char *p = s.ptr, *end = s.ptr + s.len;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    const char *l0 = p;
    while (p < end && is_digit(*p))
        p++;
    const char *l1 = p;
    if (l1 == l0 || p == end || *p != '.')
        return bad;
    const char *r0 = ++p;
    while (p < end && is_digit(*p))
        p++;
    if (p != end || p == r0)
        return bad;
    size_t rlen = (size_t)(p - r0);
    if (rlen > 4)
        return "too many digits after the decimal point (at most 4 are supported)";

    static const char *range = "overflow: the value must be in range " DECIMAL_RANGE;
    const uint64_t max_int_part = (uint64_t)INT64_MAX / DECIMAL_SCALE; /* 922337203685477 */
    uint64_t mag = 0;
    for (const char *q = l0; q < l1; q++) {
        uint64_t dgt = (uint64_t)(*q - '0');
        if (mag > (max_int_part - dgt) / 10)
            return range;
        mag = mag * 10 + dgt;
    }
    unsigned frac = 0;
    for (const char *q = r0; q < p; q++)
        frac = frac * 10 + (unsigned)(*q - '0');
    for (size_t k = rlen; k < 4; k++)
        frac *= 10;
    uint64_t total = mag * DECIMAL_SCALE + frac;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (total > limit)
        return range;
    if (!neg)
        *out = (int64_t)total;
    else if (total == limit)
        *out = INT64_MIN;
    else
        *out = -(int64_t)total;
    return NULL;
}

bool md_decimal_parse(md_str s, int64_t *out)
{
    int64_t v;
    if (decimal_parse(s, &v))
        return false;
    *out = v;
    return true;
}

/* ---- ipaddr ---- */

#define IP_MAX_TEXT 43 /* "xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx/128" */

static bool parse_v4(md_str s, uint8_t addr[4])
{
    size_t i = 0;
    for (int oct = 0; oct < 4; oct++) {
        if (oct > 0) {
            if (i >= s.len || s.ptr[i] != '.')
                return false;
            i++;
        }
        size_t j = i;
        unsigned v = 0;
        while (j < s.len && is_digit(s.ptr[j]) && j - i < 3) {
            v = v * 10 + (unsigned)(s.ptr[j] - '0');
            j++;
        }
        if (j == i || v > 255 || (s.ptr[i] == '0' && j - i > 1))
            return false;
        if (j < s.len && is_digit(s.ptr[j])) /* a fourth digit */
            return false;
        addr[oct] = (uint8_t)v;
        i = j;
    }
    return i == s.len;
}

/* Parses colon-separated groups of 1-4 hex digits (an empty string is zero groups). */
static bool parse_v6_groups(md_str s, uint16_t *groups, size_t max, size_t *n)
{
    *n = 0;
    if (s.len == 0)
        return true;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        unsigned v = 0;
        while (j < s.len && hex_val(s.ptr[j]) >= 0 && j - i < 4) {
            v = v * 16 + (unsigned)hex_val(s.ptr[j]);
            j++;
        }
        if (j == i || (j < s.len && hex_val(s.ptr[j]) >= 0) || *n >= max)
            return false;
        groups[(*n)++] = (uint16_t)v;
        if (j == s.len)
            return true;
        if (s.ptr[j] != ':')
            return false;
        i = j + 1;
        if (i == s.len)
            return false; /* a trailing ':' */
    }
}

static bool parse_v6(md_str s, uint8_t addr[16])
{
    uint16_t head[8], tail[8], all[8] = {0};
    size_t nh, nt;
    size_t dc = s.len;
    for (size_t i = 0; i + 1 < s.len; i++) {
        if (s.ptr[i] == ':' && s.ptr[i + 1] == ':') {
            dc = i;
            break;
        }
    }
    if (dc == s.len) {
        if (!parse_v6_groups(s, head, 8, &nh) || nh != 8)
            return false;
        memcpy(all, head, sizeof all);
    } else {
        md_str h = {s.ptr, dc}, t = {s.ptr + dc + 2, s.len - dc - 2};
        if (!parse_v6_groups(h, head, 8, &nh) || !parse_v6_groups(t, tail, 8, &nt))
            return false;
        if (nh + nt > 7) /* "::" stands for at least one zero group */
            return false;
        for (size_t k = 0; k < nh; k++)
            all[k] = head[k];
        for (size_t k = 0; k < nt; k++)
            all[8 - nt + k] = tail[k];
    }
    for (size_t k = 0; k < 8; k++) {
        addr[2 * k] = (uint8_t)(all[k] >> 8);
        addr[2 * k + 1] = (uint8_t)(all[k] & 0xff);
    }
    return true;
}

static const char *ip_parse(md_str s, md_ipaddr *out)
{
    md_ipaddr ip;
    memset(&ip, 0, sizeof ip);
    if (s.len > IP_MAX_TEXT)
        return "the string is too long";
    const char *slash = s.len ? memchr(s.ptr, '/', s.len) : NULL;
    md_str a = {s.ptr, slash ? (size_t)(slash - s.ptr) : s.len};
    unsigned max, max_digits;
    if (parse_v4(a, ip.addr)) {
        ip.v6 = 0;
        max = 32;
        max_digits = 2;
    } else if (parse_v6(a, ip.addr)) {
        ip.v6 = 1;
        max = 128;
        max_digits = 3;
    } else {
        return "expected an IPv4 address (a.b.c.d, no leading zeros) or an IPv6 address "
               "(IPv4 embedded in IPv6 is not accepted), optionally followed by /prefix";
    }
    if (!slash) {
        ip.prefix = (uint8_t)max;
    } else {
        md_str p = {slash + 1, s.len - a.len - 1};
        unsigned v;
        if (p.len == 0 || p.len > max_digits || !digits_at(p.ptr, p.len, &v))
            return "the prefix must be a decimal number";
        if (p.ptr[0] == '0' && p.len > 1)
            return "the prefix has leading zeros";
        if (v > max)
            return ip.v6 ? "the prefix is larger than 128" : "the prefix is larger than 32";
        ip.prefix = (uint8_t)v;
    }
    *out = ip;
    return NULL;
}

bool md_ip_parse(md_str s, md_ipaddr *out)
{
    md_ipaddr ip;
    if (ip_parse(s, &ip))
        return false;
    *out = ip;
    return true;
}

/* The first and last address of the network (host bits cleared / set), big-endian bytes. */
static void ip_range(const md_ipaddr *ip, uint8_t lo[16], uint8_t hi[16])
{
    size_t nbytes = ip->v6 ? 16 : 4;
    memset(lo, 0, 16);
    memset(hi, 0, 16);
    for (size_t i = 0; i < nbytes; i++) {
        unsigned bit0 = (unsigned)i * 8; /* index of this byte's first bit */
        uint8_t mask;                    /* network bits of this byte */
        if (ip->prefix >= bit0 + 8)
            mask = 0xff;
        else if (ip->prefix <= bit0)
            mask = 0;
        else
            mask = (uint8_t)(0xff << (8 - (ip->prefix - bit0)));
        lo[i] = (uint8_t)(ip->addr[i] & mask);
        hi[i] = (uint8_t)(ip->addr[i] | (uint8_t)~mask);
    }
}

/* Lean's CIDR.inRange: a's range lies within b's; false across families. */
static bool ip_in_range(const md_ipaddr *a, const md_ipaddr *b)
{
    if (a->v6 != b->v6)
        return false;
    uint8_t alo[16], ahi[16], blo[16], bhi[16];
    ip_range(a, alo, ahi);
    ip_range(b, blo, bhi);
    size_t n = a->v6 ? 16 : 4;
    return memcmp(bhi, ahi, n) >= 0 && memcmp(alo, blo, n) >= 0;
}

static bool ip_is_loopback(const md_ipaddr *ip)
{
    static const md_ipaddr v4 = {0, 8, {127}};
    static const md_ipaddr v6 = {1, 128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    return ip_in_range(ip, ip->v6 ? &v6 : &v4);
}

static bool ip_is_multicast(const md_ipaddr *ip)
{
    static const md_ipaddr v4 = {0, 4, {224}};
    static const md_ipaddr v6 = {1, 8, {0xff}};
    return ip_in_range(ip, ip->v6 ? &v6 : &v4);
}

static int ip_cmp(const md_ipaddr *a, const md_ipaddr *b)
{
    if (a->v6 != b->v6)
        return a->v6 ? 1 : -1;
    int c = memcmp(a->addr, b->addr, a->v6 ? 16 : 4);
    if (c)
        return c < 0 ? -1 : 1;
    return (a->prefix > b->prefix) - (a->prefix < b->prefix);
}

/* Prints an IPv6 address as Rust's std does (RFC 5952: lowercase, longest run of two or more zero
 * groups as "::", first run on a tie; IPv4-mapped addresses as ::ffff:a.b.c.d). */
static int print_v6(md_buf *b, const uint8_t addr[16])
{
    unsigned g[8];
    for (size_t k = 0; k < 8; k++)
        g[k] = (unsigned)addr[2 * k] << 8 | addr[2 * k + 1];
    if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff)
        return md_buf_printf(b, "::ffff:%u.%u.%u.%u", addr[12], addr[13], addr[14], addr[15]);
    size_t best = 0, best_len = 0, cur = 0, cur_len = 0;
    for (size_t k = 0; k < 8; k++) {
        if (g[k] == 0) {
            if (cur_len == 0)
                cur = k;
            cur_len++;
            if (cur_len > best_len) {
                best = cur;
                best_len = cur_len;
            }
        } else {
            cur_len = 0;
        }
    }
    int rc = 0;
    if (best_len > 1) {
        for (size_t k = 0; k < best && !rc; k++)
            rc = md_buf_printf(b, k ? ":%x" : "%x", g[k]);
        if (!rc)
            rc = md_buf_puts(b, "::");
        for (size_t k = best + best_len; k < 8 && !rc; k++)
            rc = md_buf_printf(b, k > best + best_len ? ":%x" : "%x", g[k]);
    } else {
        for (size_t k = 0; k < 8 && !rc; k++)
            rc = md_buf_printf(b, k ? ":%x" : "%x", g[k]);
    }
    return rc;
}

/* ---- datetime and duration ---- */

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static const char *datetime_parse(md_str s, int64_t *out)
{
    const char *p = s.ptr;
    size_t n = s.len;
    unsigned year, mon, day, hh = 0, mi = 0, ss = 0, ms = 0, oh = 0, om = 0;
    bool off_neg = false;
    if (n < 10 || !digits_at(p, 4, &year) || p[4] != '-' || !digits_at(p + 5, 2, &mon) ||
        p[7] != '-' || !digits_at(p + 8, 2, &day))
        return "expected the string to start with YYYY-MM-DD";
    if (n > 10) {
        if (n < 19 || p[10] != 'T' || !digits_at(p + 11, 2, &hh) || p[13] != ':' ||
            !digits_at(p + 14, 2, &mi) || p[16] != ':' || !digits_at(p + 17, 2, &ss))
            return "expected Thh:mm:ss after the date";
        static const char *tail = "expected Z, .SSSZ, (+|-)hhmm or .SSS(+|-)hhmm after the time";
        size_t i = 19;
        if (i < n && p[i] == '.') {
            if (n - i < 4 || !digits_at(p + i + 1, 3, &ms))
                return tail;
            i += 4;
        }
        if (i < n && p[i] == 'Z') {
            i++;
        } else if (i < n && (p[i] == '+' || p[i] == '-')) {
            off_neg = p[i] == '-';
            if (n - i < 5 || !digits_at(p + i + 1, 2, &oh) || !digits_at(p + i + 3, 2, &om))
                return tail;
            i += 5;
        } else {
            return tail;
        }
        if (i != n)
            return tail;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
        return "no such date";
    if (hh > 23 || mi > 59 || ss > 59)
        return "no such time of day (hours 00-23, minutes and seconds 00-59)";
    if (oh > 23 || om > 59)
        return "the offset is out of range (hours 00-23, minutes 00-59)";
    int64_t v = days_from_civil(year, mon, day) * MS_PER_DAY + hh * MS_PER_HOUR +
                mi * MS_PER_MINUTE + ss * MS_PER_SECOND + ms;
    int64_t off = oh * MS_PER_HOUR + om * MS_PER_MINUTE;
    *out = off_neg ? v + off : v - off; /* years 0000-9999: no overflow possible */
    return NULL;
}

bool md_datetime_parse(md_str s, int64_t *out)
{
    int64_t v;
    if (datetime_parse(s, &v))
        return false;
    *out = v;
    return true;
}

static const char *duration_parse(md_str s, int64_t *out)
{
    static const uint64_t unit_ms[5] = {86400000, 3600000, 60000, 1000, 1}; /* d h m s ms */
    static const char *bad = "expected quantity-unit pairs with units d, h, m, s, ms in this "
                             "order, each at most once, with an optional leading '-'";
    const char *p = s.ptr, *end = s.ptr + s.len;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p == end)
        return bad;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t total = 0;
    bool overflow = false;
    int last = -1;
    while (p < end) {
        const char *q = p;
        uint64_t count = 0;
        bool big = false;
        while (p < end && is_digit(*p)) {
            uint64_t dgt = (uint64_t)(*p - '0');
            if (count > (UINT64_MAX - dgt) / 10)
                big = true;
            else
                count = count * 10 + dgt;
            p++;
        }
        if (p == q || p == end)
            return bad;
        int u;
        if (*p == 'd') {
            u = 0;
        } else if (*p == 'h') {
            u = 1;
        } else if (*p == 'm' && p + 1 < end && p[1] == 's') {
            u = 4;
            p++;
        } else if (*p == 'm') {
            u = 2;
        } else if (*p == 's') {
            u = 3;
        } else {
            return bad;
        }
        p++;
        if (u <= last)
            return bad;
        last = u;
        uint64_t prod;
        if (big || __builtin_mul_overflow(count, unit_ms[u], &prod) ||
            __builtin_add_overflow(total, prod, &total) || total > limit)
            overflow = true;
    }
    if (overflow)
        return "overflow: the duration in milliseconds must fit a signed 64-bit integer";
    if (!neg)
        *out = (int64_t)total;
    else if (total == limit)
        *out = INT64_MIN;
    else
        *out = -(int64_t)total;
    return NULL;
}

bool md_duration_parse(md_str s, int64_t *out)
{
    int64_t v;
    if (duration_parse(s, &v))
        return false;
    *out = v;
    return true;
}

/* floor(v / MS_PER_DAY) * MS_PER_DAY, or false when it is below INT64_MIN (Lean's toDate). */
static bool datetime_to_date(int64_t v, int64_t *out)
{
    int64_t q = v / MS_PER_DAY, r = v % MS_PER_DAY;
    if (r < 0)
        q--;
    if (q < INT64_MIN / MS_PER_DAY)
        return false;
    *out = q * MS_PER_DAY;
    return true;
}

static int64_t datetime_to_time(int64_t v)
{
    int64_t r = v % MS_PER_DAY;
    return r < 0 ? r + MS_PER_DAY : r;
}

/* ---- printing and ordering ---- */

int md_ext_print(md_buf *b, const md_value *v)
{
    switch (v->kind) {
    case MD_V_DECIMAL: {
        uint64_t mag = v->u.i < 0 ? (uint64_t)0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        return md_buf_printf(b, "decimal(\"%s%" PRIu64 ".%04u\")", v->u.i < 0 ? "-" : "",
                             mag / DECIMAL_SCALE, (unsigned)(mag % DECIMAL_SCALE));
    }
    case MD_V_IP: {
        int rc = md_buf_puts(b, "ip(\"");
        if (rc)
            return rc;
        if (v->u.ip.v6)
            rc = print_v6(b, v->u.ip.addr);
        else
            rc = md_buf_printf(b, "%u.%u.%u.%u", v->u.ip.addr[0], v->u.ip.addr[1], v->u.ip.addr[2],
                               v->u.ip.addr[3]);
        if (rc)
            return rc;
        return md_buf_printf(b, "/%u\")", v->u.ip.prefix);
    }
    case MD_V_DATETIME:
        return md_buf_printf(b, "datetime(\"1970-01-01\").offset(duration(\"%" PRId64 "ms\"))",
                             v->u.i);
    case MD_V_DURATION: return md_buf_printf(b, "duration(\"%" PRId64 "ms\")", v->u.i);
    default: return MANDATE_EINVAL;
    }
}

int md_ext_cmp(const md_value *a, const md_value *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->kind == MD_V_IP)
        return ip_cmp(&a->u.ip, &b->u.ip);
    return (a->u.i > b->u.i) - (a->u.i < b->u.i);
}

const char *md_ext_kind_name(md_vkind k)
{
    switch (k) {
    case MD_V_BOOL: return "bool";
    case MD_V_LONG: return "long";
    case MD_V_STRING: return "string";
    case MD_V_ENTITY: return "entity";
    case MD_V_SET: return "set";
    case MD_V_RECORD: return "record";
    case MD_V_DECIMAL: return "decimal";
    case MD_V_IP: return "ipaddr";
    case MD_V_DATETIME: return "datetime";
    case MD_V_DURATION: return "duration";
    }
    return "unknown";
}

/* ---- the function table and dispatch ---- */

typedef struct fn_info {
    const char *name;
    uint8_t arity; /* including the receiver */
    bool method;
    md_vkind args[2];
} fn_info;

static const fn_info fns[MD_FN__COUNT] = {
    [MD_FN_DECIMAL] = {"decimal", 1, false, {MD_V_STRING}},
    [MD_FN_IP] = {"ip", 1, false, {MD_V_STRING}},
    [MD_FN_DATETIME] = {"datetime", 1, false, {MD_V_STRING}},
    [MD_FN_DURATION] = {"duration", 1, false, {MD_V_STRING}},
    [MD_FN_LESS_THAN] = {"lessThan", 2, true, {MD_V_DECIMAL, MD_V_DECIMAL}},
    [MD_FN_LESS_THAN_OR_EQUAL] = {"lessThanOrEqual", 2, true, {MD_V_DECIMAL, MD_V_DECIMAL}},
    [MD_FN_GREATER_THAN] = {"greaterThan", 2, true, {MD_V_DECIMAL, MD_V_DECIMAL}},
    [MD_FN_GREATER_THAN_OR_EQUAL] = {"greaterThanOrEqual", 2, true, {MD_V_DECIMAL, MD_V_DECIMAL}},
    [MD_FN_IS_IPV4] = {"isIpv4", 1, true, {MD_V_IP}},
    [MD_FN_IS_IPV6] = {"isIpv6", 1, true, {MD_V_IP}},
    [MD_FN_IS_LOOPBACK] = {"isLoopback", 1, true, {MD_V_IP}},
    [MD_FN_IS_MULTICAST] = {"isMulticast", 1, true, {MD_V_IP}},
    [MD_FN_IS_IN_RANGE] = {"isInRange", 2, true, {MD_V_IP, MD_V_IP}},
    [MD_FN_OFFSET] = {"offset", 2, true, {MD_V_DATETIME, MD_V_DURATION}},
    [MD_FN_DURATION_SINCE] = {"durationSince", 2, true, {MD_V_DATETIME, MD_V_DATETIME}},
    [MD_FN_TO_DATE] = {"toDate", 1, true, {MD_V_DATETIME}},
    [MD_FN_TO_TIME] = {"toTime", 1, true, {MD_V_DATETIME}},
    [MD_FN_TO_DAYS] = {"toDays", 1, true, {MD_V_DURATION}},
    [MD_FN_TO_HOURS] = {"toHours", 1, true, {MD_V_DURATION}},
    [MD_FN_TO_MINUTES] = {"toMinutes", 1, true, {MD_V_DURATION}},
    [MD_FN_TO_SECONDS] = {"toSeconds", 1, true, {MD_V_DURATION}},
    [MD_FN_TO_MILLISECONDS] = {"toMilliseconds", 1, true, {MD_V_DURATION}},
};

static bool fn_valid(md_extfn f)
{
    return (unsigned)f < (unsigned)MD_FN__COUNT;
}

const char *md_extfn_name(md_extfn f)
{
    return fn_valid(f) ? fns[f].name : "unknown";
}

size_t md_extfn_arity(md_extfn f)
{
    return fn_valid(f) ? fns[f].arity : 0;
}

bool md_extfn_is_method(md_extfn f)
{
    return fn_valid(f) && fns[f].method;
}

bool md_extfn_from_name(md_str name, md_extfn *out)
{
    for (unsigned f = 0; f < (unsigned)MD_FN__COUNT; f++) {
        if (md_str_eq_c(name, fns[f].name)) {
            *out = (md_extfn)f;
            return true;
        }
    }
    return false;
}

static const char *constructor_of(md_vkind k)
{
    switch (k) {
    case MD_V_DECIMAL: return "decimal";
    case MD_V_IP: return "ip";
    case MD_V_DATETIME: return "datetime";
    case MD_V_DURATION: return "duration";
    default: return NULL;
    }
}

static int type_error(md_diag *d, const fn_info *fi, size_t i, md_vkind got)
{
    char where[32];
    if (fi->method && i == 0)
        snprintf(where, sizeof where, "its receiver");
    else
        snprintf(where, sizeof where, "argument %zu", fi->method ? i : i + 1);
    md_vkind want = fi->args[i];
    const char *ctor = got == MD_V_STRING ? constructor_of(want) : NULL;
    return md_diag_set(d, MANDATE_EEVAL, 0, 0, "type error: '%s' expects %s as %s, got %s%s%s%s",
                       fi->name, md_ext_kind_name(want), where, md_ext_kind_name(got),
                       ctor ? " (maybe you forgot to apply the `" : "", ctor ? ctor : "",
                       ctor ? "` constructor?)" : "");
}

static int literal_error(md_diag *d, const char *fn, md_str s, const char *what, const char *why)
{
    char q[160];
    return md_diag_set(d, MANDATE_EEVAL, 0, 0, "error while evaluating '%s': %s is not a %s: %s",
                       fn, quote(q, sizeof q, s), what, why);
}

int md_extfn_apply(md_arena *a, md_extfn f, const md_value *args, size_t n, md_value *out,
                   md_diag *d)
{
    if (!fn_valid(f))
        return md_diag_set(d, MANDATE_EEVAL, 0, 0, "unknown extension function #%d", (int)f);
    const fn_info *fi = &fns[f];
    if (n != fi->arity) {
        if (fi->method)
            return md_diag_set(d, MANDATE_EEVAL, 0, 0,
                               "type error: '%s' takes %u argument(s) besides its receiver, got "
                               "%zu",
                               fi->name, fi->arity - 1u, n ? n - 1 : 0);
        return md_diag_set(d, MANDATE_EEVAL, 0, 0, "type error: '%s' takes %u argument(s), got %zu",
                           fi->name, fi->arity, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (args[i].kind != fi->args[i])
            return type_error(d, fi, i, args[i].kind);
    }
    const md_value *x = &args[0], *y = n > 1 ? &args[1] : NULL;
    md_value r;
    memset(&r, 0, sizeof r);
    const char *why;
    switch (f) {
    case MD_FN_DECIMAL:
        r.kind = MD_V_DECIMAL;
        if ((why = decimal_parse(x->u.s, &r.u.i)))
            return literal_error(d, fi->name, x->u.s, "well-formed decimal value", why);
        break;
    case MD_FN_IP:
        r.kind = MD_V_IP;
        if ((why = ip_parse(x->u.s, &r.u.ip)))
            return literal_error(d, fi->name, x->u.s, "valid IP address", why);
        break;
    case MD_FN_DATETIME:
        r.kind = MD_V_DATETIME;
        if ((why = datetime_parse(x->u.s, &r.u.i)))
            return literal_error(d, fi->name, x->u.s, "valid datetime", why);
        break;
    case MD_FN_DURATION:
        r.kind = MD_V_DURATION;
        if ((why = duration_parse(x->u.s, &r.u.i)))
            return literal_error(d, fi->name, x->u.s, "valid duration", why);
        break;
    case MD_FN_LESS_THAN:
        r.kind = MD_V_BOOL;
        r.u.b = x->u.i < y->u.i;
        break;
    case MD_FN_LESS_THAN_OR_EQUAL:
        r.kind = MD_V_BOOL;
        r.u.b = x->u.i <= y->u.i;
        break;
    case MD_FN_GREATER_THAN:
        r.kind = MD_V_BOOL;
        r.u.b = x->u.i > y->u.i;
        break;
    case MD_FN_GREATER_THAN_OR_EQUAL:
        r.kind = MD_V_BOOL;
        r.u.b = x->u.i >= y->u.i;
        break;
    case MD_FN_IS_IPV4:
        r.kind = MD_V_BOOL;
        r.u.b = !x->u.ip.v6;
        break;
    case MD_FN_IS_IPV6:
        r.kind = MD_V_BOOL;
        r.u.b = x->u.ip.v6 != 0;
        break;
    case MD_FN_IS_LOOPBACK:
        r.kind = MD_V_BOOL;
        r.u.b = ip_is_loopback(&x->u.ip);
        break;
    case MD_FN_IS_MULTICAST:
        r.kind = MD_V_BOOL;
        r.u.b = ip_is_multicast(&x->u.ip);
        break;
    case MD_FN_IS_IN_RANGE:
        r.kind = MD_V_BOOL;
        r.u.b = ip_in_range(&x->u.ip, &y->u.ip);
        break;
    case MD_FN_OFFSET:
        r.kind = MD_V_DATETIME;
        if (__builtin_add_overflow(x->u.i, y->u.i, &r.u.i))
            return md_diag_set(d, MANDATE_EEVAL, 0, 0,
                               "error while evaluating 'offset': overflow when adding %" PRId64
                               "ms to the datetime %" PRId64 "ms after the epoch",
                               y->u.i, x->u.i);
        break;
    case MD_FN_DURATION_SINCE:
        r.kind = MD_V_DURATION;
        if (__builtin_sub_overflow(x->u.i, y->u.i, &r.u.i))
            return md_diag_set(d, MANDATE_EEVAL, 0, 0,
                               "error while evaluating 'durationSince': overflow when computing "
                               "the duration between the datetimes %" PRId64 "ms and %" PRId64
                               "ms after the epoch",
                               x->u.i, y->u.i);
        break;
    case MD_FN_TO_DATE:
        r.kind = MD_V_DATETIME;
        if (!datetime_to_date(x->u.i, &r.u.i))
            return md_diag_set(d, MANDATE_EEVAL, 0, 0,
                               "error while evaluating 'toDate': overflow when computing the date "
                               "of the datetime %" PRId64 "ms after the epoch",
                               x->u.i);
        break;
    case MD_FN_TO_TIME:
        r.kind = MD_V_DURATION;
        r.u.i = datetime_to_time(x->u.i);
        break;
    case MD_FN_TO_MILLISECONDS:
        r.kind = MD_V_LONG;
        r.u.i = x->u.i;
        break;
    case MD_FN_TO_SECONDS:
        r.kind = MD_V_LONG;
        r.u.i = x->u.i / MS_PER_SECOND;
        break;
    case MD_FN_TO_MINUTES:
        r.kind = MD_V_LONG;
        r.u.i = x->u.i / MS_PER_SECOND / 60;
        break;
    case MD_FN_TO_HOURS:
        r.kind = MD_V_LONG;
        r.u.i = x->u.i / MS_PER_SECOND / 60 / 60;
        break;
    case MD_FN_TO_DAYS:
        r.kind = MD_V_LONG;
        r.u.i = x->u.i / MS_PER_SECOND / 60 / 60 / 24;
        break;
    case MD_FN__COUNT: return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "bad extension function");
    }
    *out = r;
    return 0;
}
