/*
 * entry.c: typed ledger entries and their canonical byte encoding.
 *
 * Encoding (all integers big-endian): 0x01 (version), type (1 byte), time_ms (8 bytes, two's
 * complement), body length (4 bytes), body. The body is a JSON value re-serialized by jansson
 * with sorted keys, no whitespace, UTF-8 kept as is, so the same entry always hashes the same.
 * The leaf hash is SHA-256(0x00 || encoding). A body that is already in that form (writers that
 * build their bodies canonically, as the server does for decisions) is recognised by one scan
 * and stored as given; any other body goes through the jansson round trip.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>

#include "core/json.h"
#include "ledger/ledger_int.h"

static const char *const type_names[] = {
    NULL,         "decision", "approval", "outcome", "delegation",
    "revocation", "registry", "policy",   "note",
};

MD_EXPORT const char *mandate_entry_type_name(int type)
{
    if (type < 1 || type >= (int)MD_ARRAY_LEN(type_names))
        return NULL;
    return type_names[type];
}

MD_EXPORT int mandate_entry_type_from_name(const char *name)
{
    for (int i = 1; name && i < (int)MD_ARRAY_LEN(type_names); i++)
        if (!strcmp(name, type_names[i]))
            return i;
    return 0;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The canonical-form check: a conservative scanner that accepts only text the round trip in
 * md_entry_encode reproduces byte for byte: no whitespace, object keys strictly increasing
 * bytewise (so no duplicates) and free of escapes, strings of printable ASCII with only the
 * escapes jansson writes (\" \\ \b \f \n \r \t), integers in the int64 range without
 * leading zeros or "-0", true, false, null, nesting up to CANON_MAX_DEPTH. Anything else (reals,
 * \u escapes, non-ASCII text, deeper nesting) is left to the round trip, which decides. */
#define CANON_MAX_DEPTH 64

typedef struct canon_scan {
    const unsigned char *p, *end;
} canon_scan;

static bool canon_string(canon_scan *s, bool is_key, const unsigned char **str, size_t *len)
{
    if (s->p == s->end || *s->p != '"')
        return false;
    const unsigned char *start = ++s->p;
    for (;;) {
        s->p += md_json_plain_run((const char *)s->p, (size_t)(s->end - s->p));
        if (s->p == s->end)
            return false;
        if (*s->p == '"') {
            *str = start;
            *len = (size_t)(s->p - start);
            s->p++;
            return true;
        }
        /* a control character, non-ASCII, or an escape jansson does not write */
        if (*s->p != '\\' || is_key || s->end - s->p < 2)
            return false;
        switch (s->p[1]) {
        case '"':
        case '\\':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': s->p += 2; break;
        default: return false;
        }
    }
}

static bool canon_value(canon_scan *s, unsigned depth);

static bool canon_compound(canon_scan *s, unsigned depth)
{
    bool object = *s->p == '{';
    char close = object ? '}' : ']';
    const unsigned char *prev = NULL;
    size_t prev_len = 0;
    s->p++;
    if (depth >= CANON_MAX_DEPTH || s->p == s->end)
        return false;
    if (*s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (object) {
            const unsigned char *k;
            size_t kl;
            if (!canon_string(s, true, &k, &kl) || s->p == s->end || *s->p++ != ':')
                return false;
            if (prev) {
                int c = memcmp(prev, k, prev_len < kl ? prev_len : kl);
                if (c > 0 || (c == 0 && prev_len >= kl))
                    return false;
            }
            prev = k;
            prev_len = kl;
        }
        if (!canon_value(s, depth + 1) || s->p == s->end)
            return false;
        if (*s->p == (unsigned char)close) {
            s->p++;
            return true;
        }
        if (*s->p++ != ',')
            return false;
    }
}

static bool canon_number(canon_scan *s)
{
    const unsigned char *start = s->p;
    if (*s->p == '-')
        s->p++;
    const unsigned char *digits = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    size_t n = (size_t)(s->p - digits);
    if (n == 0 || n > 19 || (digits[0] == '0' && (n > 1 || digits != start)))
        return false;
    /* 19 digits: within the int64 range jansson reads, or it is not an integer to it */
    if (n == 19 &&
        memcmp(digits, digits == start ? "9223372036854775807" : "9223372036854775808", 19) > 0)
        return false;
    return s->p == s->end || (*s->p != '.' && *s->p != 'e' && *s->p != 'E');
}

static bool canon_literal(canon_scan *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
        return false;
    s->p += n;
    return true;
}

static bool canon_value(canon_scan *s, unsigned depth)
{
    if (s->p == s->end)
        return false;
    const unsigned char *str;
    size_t len;
    switch (*s->p) {
    case '{':
    case '[': return canon_compound(s, depth);
    case '"': return canon_string(s, false, &str, &len);
    case 't': return canon_literal(s, "true", 4);
    case 'f': return canon_literal(s, "false", 5);
    case 'n': return canon_literal(s, "null", 4);
    default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && canon_number(s);
    }
}

bool md_entry_body_canonical(const char *body, size_t len)
{
    canon_scan s = {(const unsigned char *)body, (const unsigned char *)body + len};
    return canon_value(&s, 0) && s.p == s.end;
}

int md_entry_encode(const mandate_ledger_entry *e, md_buf *out, md_diag *d)
{
    if (!e || !mandate_entry_type_name(e->type))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "unknown entry type %d", e ? e->type : 0);
    if (!e->body)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "entry has no body");
    if (e->body_len > MD_LEDGER_MAX_BODY)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "entry body is %zu bytes, over the %u cap",
                           e->body_len, MD_LEDGER_MAX_BODY);
    char *canon = NULL;
    const char *body = e->body;
    size_t bl = e->body_len;
    if (!md_entry_body_canonical(e->body, e->body_len)) {
        json_error_t jerr;
        json_t *j =
            json_loadb(e->body, e->body_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
            return md_diag_set(d, MANDATE_EPARSE, (uint32_t)jerr.line, (uint32_t)jerr.column,
                               "entry body is not valid JSON: %s", jerr.text);
        body = canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_decref(j);
        if (!canon)
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
        bl = strlen(canon);
    }
    int rc;
    if (bl > MD_LEDGER_MAX_BODY) {
        rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "canonical entry body is over the %u cap",
                         MD_LEDGER_MAX_BODY);
        goto out;
    }
    uint8_t hdr[MD_ENTRY_HEADER];
    hdr[0] = 0x01;
    hdr[1] = (uint8_t)e->type;
    put_be(hdr + 2, (uint64_t)e->time_ms, 8);
    put_be(hdr + 10, bl, 4);
    out->len = 0;
    rc = md_buf_append(out, hdr, sizeof hdr);
    if (rc == 0)
        rc = md_buf_append(out, body, bl);
    if (rc)
        rc = md_diag_set(d, rc, 0, 0, "out of memory");
out:
    free(canon);
    return rc;
}

int md_entry_decode(const void *data, size_t len, int *type, int64_t *time_ms, const char **body,
                    size_t *body_len)
{
    const uint8_t *p = data;
    if (len < MD_ENTRY_HEADER || p[0] != 0x01 || !mandate_entry_type_name(p[1]))
        return MANDATE_ECORRUPT;
    uint64_t bl = get_be(p + 10, 4);
    if (bl != len - MD_ENTRY_HEADER)
        return MANDATE_ECORRUPT;
    if (type)
        *type = p[1];
    if (time_ms)
        *time_ms = (int64_t)get_be(p + 2, 8);
    if (body)
        *body = (const char *)p + MD_ENTRY_HEADER;
    if (body_len)
        *body_len = (size_t)bl;
    return 0;
}

int md_entry_to_json(uint64_t index, const void *data, size_t len, md_buf *out, md_diag *d)
{
    int type;
    int64_t t;
    const char *body;
    size_t bl;
    if (md_entry_decode(data, len, &type, &t, &body, &bl))
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "entry %" PRIu64 " is malformed", index);
    uint8_t h[MD_HASH_LEN];
    char b64[64];
    md_merkle_leaf_hash(data, len, h);
    md_b64_encode(h, sizeof h, b64, sizeof b64);
    int rc = md_buf_printf(
        out, "{\"index\":%" PRIu64 ",\"type\":\"%s\",\"time_ms\":%" PRId64 ",\"body\":", index,
        mandate_entry_type_name(type), t);
    if (rc == 0)
        rc = md_buf_append(out, body, bl);
    if (rc == 0)
        rc = md_buf_printf(out, ",\"leaf_hash\":\"%s\"}", b64);
    return rc ? md_diag_set(d, rc, 0, 0, "out of memory") : 0;
}
