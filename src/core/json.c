/* json.c: JSON text to jansson values and the plain-byte scanner (see json.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"

/* Object members from which duplicate keys are found through a hash table, not by comparing with
 * every earlier key. */
#define LINEAR_KEYS 16

typedef struct jp {
    const char *s;
    size_t len, pos;
    unsigned depth, max_depth;
    md_diag *d;
    md_arena *a;
    md_buf sb; /* the value of a string with escapes */
    /* The members of the open arrays and objects, innermost last (keys[i] for objects). */
    md_jv *vals;
    md_str *keys;
    size_t top, cap;
    uint64_t seed; /* for the key hash tables of large objects */
    md_jv vals0[64];
    md_str keys0[64];
} jp;

MD_PRINTF(3, 4)
static int jp_fail(jp *p, int code, const char *fmt, ...)
{
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return md_diag_set(p->d, code, line, col, "JSON %u:%u: %s", line, col, msg);
}

static void jp_ws(jp *p)
{
    if (p->pos < p->len && (unsigned char)p->s[p->pos] > ' ')
        return; /* compact JSON: nothing to skip */
    while (p->pos < p->len) {
        char ch = p->s[p->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        p->pos++;
    }
}

static int hex4(jp *p, uint32_t *out)
{
    if (p->len - p->pos < 4)
        return jp_fail(p, MANDATE_EPARSE, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p->s[p->pos++];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (uint32_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (uint32_t)(ch - 'A' + 10);
        else
            return jp_fail(p, MANDATE_EPARSE, "invalid \\u escape");
    }
    *out = v;
    return 0;
}

static int put_utf8(jp *p, uint32_t cp)
{
    char b[4];
    int rc = md_buf_append(&p->sb, b, md_utf8_encode(cp, b));
    return rc ? jp_fail(p, rc, "string too long") : 0;
}

/* One escape sequence (p->pos just past the backslash), its value appended to p->sb. */
static int jp_escape(jp *p)
{
    if (p->pos >= p->len)
        return jp_fail(p, MANDATE_EPARSE, "unterminated string");
    char e = p->s[p->pos++];
    char lit;
    switch (e) {
    case '"': lit = '"'; break;
    case '\\': lit = '\\'; break;
    case '/': lit = '/'; break;
    case 'b': lit = '\b'; break;
    case 'f': lit = '\f'; break;
    case 'n': lit = '\n'; break;
    case 'r': lit = '\r'; break;
    case 't': lit = '\t'; break;
    case 'u': {
        uint32_t cp;
        int rc = hex4(p, &cp);
        if (rc)
            return rc;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return jp_fail(p, MANDATE_EPARSE, "unpaired surrogate in \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                return jp_fail(p, MANDATE_EPARSE, "unpaired surrogate in \\u escape");
            p->pos += 2;
            rc = hex4(p, &lo);
            if (rc)
                return rc;
            if (lo < 0xdc00 || lo > 0xdfff)
                return jp_fail(p, MANDATE_EPARSE, "unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        return put_utf8(p, cp);
    }
    default: return jp_fail(p, MANDATE_EPARSE, "invalid escape '\\%c'", e);
    }
    int rc = md_buf_append(&p->sb, &lit, 1);
    return rc ? jp_fail(p, rc, "string too long") : 0;
}

/* Parses a string literal (p->pos at the opening quote). *out and *n get its value: in the text
 * itself when it has no escapes, else in p->sb (valid until the next string). */
static int jp_string(jp *p, const char **out, size_t *n)
{
    size_t start = ++p->pos, copied = start; /* once escaped, p->sb holds the value up to copied */
    bool escaped = false;
    int rc;
    for (;;) {
        p->pos += md_json_plain_run(p->s + p->pos, p->len - p->pos);
        if (p->pos >= p->len)
            return jp_fail(p, MANDATE_EPARSE, "unterminated string");
        unsigned char ch = (unsigned char)p->s[p->pos];
        if (ch == '"')
            break;
        if (ch < 0x20)
            return jp_fail(p, MANDATE_EPARSE, "control character in string");
        if (ch >= 0x80) {
            size_t k = md_utf8_decode(p->s + p->pos, p->len - p->pos, NULL);
            if (!k)
                return jp_fail(p, MANDATE_EPARSE, "invalid UTF-8 in string");
            p->pos += k;
            continue;
        }
        if (!escaped)
            p->sb.len = 0;
        escaped = true;
        if ((rc = md_buf_append(&p->sb, p->s + copied, p->pos - copied)))
            return jp_fail(p, rc, "string too long");
        p->pos++;
        if ((rc = jp_escape(p)))
            return rc;
        copied = p->pos;
    }
    if (escaped && (rc = md_buf_append(&p->sb, p->s + copied, p->pos - copied)))
        return jp_fail(p, rc, "string too long");
    *out = escaped ? p->sb.data : p->s + start;
    *n = escaped ? p->sb.len : p->pos - start;
    p->pos++;
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int jp_number(jp *p, md_jv *out)
{
    size_t start = p->pos;
    bool integer = true;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return jp_fail(p, MANDATE_EPARSE, "invalid number");
    if (p->s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        integer = false;
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return jp_fail(p, MANDATE_EPARSE, "invalid number");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integer = false;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return jp_fail(p, MANDATE_EPARSE, "invalid number");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    size_t n = p->pos - start;
    if (integer && n <= 20) {
        /* Exact int64 parse with overflow detection (no int64 has more than 20 characters). */
        const char *q = p->s + start, *end = p->s + p->pos;
        bool neg = *q == '-';
        uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        bool ok = true;
        for (q += neg; q < end && ok; q++) {
            uint64_t dgt = (uint64_t)(*q - '0');
            if (v > (lim - dgt) / 10)
                ok = false;
            else
                v = v * 10 + dgt;
        }
        if (ok) {
            out->kind = MD_JV_INTEGER;
            out->u.i = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
            return 0;
        }
    }
    char num[64];
    if (n >= sizeof num)
        n = sizeof num - 1; /* very long literals: the first 63 characters */
    memcpy(num, p->s + start, n);
    num[n] = '\0';
    out->kind = MD_JV_REAL;
    out->u.r = strtod(num, NULL);
    /* jansson holds no infinite reals: json_real fails as if out of memory (as it always has) */
    return isfinite(out->u.r) ? 0 : jp_fail(p, MANDATE_ENOMEM, "out of memory");
}

static bool jp_lit(jp *p, const char *w, size_t n)
{
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, w, n) == 0) {
        p->pos += n;
        return true;
    }
    return false;
}

/* A string literal as a lasting md_str: in the text, or copied from p->sb into the arena. */
static int jp_lasting_string(jp *p, md_str *out)
{
    const char *v;
    size_t n;
    int rc = jp_string(p, &v, &n);
    if (rc)
        return rc;
    if (v == p->sb.data && !(v = md_arena_strndup(p->a, v, n)))
        return jp_fail(p, MANDATE_ENOMEM, "out of memory");
    *out = (md_str){v, n};
    return 0;
}

/* Room for one more member on the stack of open compound values. */
static int jp_reserve(jp *p)
{
    if (p->top < p->cap)
        return 0;
    size_t cap = p->cap * 2;
    md_jv *v = malloc(cap * sizeof *v);
    md_str *k = malloc(cap * sizeof *k);
    if (!v || !k) {
        free(v);
        free(k);
        return jp_fail(p, MANDATE_ENOMEM, "out of memory");
    }
    memcpy(v, p->vals, p->top * sizeof *v);
    memcpy(k, p->keys, p->top * sizeof *k);
    if (p->vals != p->vals0) {
        free(p->vals);
        free(p->keys);
    }
    p->vals = v;
    p->keys = k;
    p->cap = cap;
    return 0;
}

/* The keys of one large object, as indices into p->keys, in an open-addressing table. */
typedef struct key_set {
    uint32_t *slots; /* index + 1; 0: empty */
    size_t mask;
} key_set;

static size_t key_slot(const jp *p, const key_set *ks, md_str k)
{
    return (size_t)md_hash_bytes(k.ptr, k.len, p->seed) & ks->mask;
}

/* Adds p->keys[i] (i < top) to ks, growing it to twice the keys from base. */
static bool key_set_add(jp *p, key_set *ks, size_t base, size_t i)
{
    size_t n = i - base + 1;
    if (!ks->slots || n * 2 > ks->mask + 1) {
        size_t size = ks->slots ? (ks->mask + 1) * 2 : 4 * LINEAR_KEYS;
        uint32_t *slots = size <= UINT32_MAX ? calloc(size, sizeof *slots) : NULL;
        if (!slots)
            return false;
        free(ks->slots);
        ks->slots = slots;
        ks->mask = size - 1;
        for (size_t j = base; j < i; j++) {
            size_t h = key_slot(p, ks, p->keys[j]);
            while (ks->slots[h])
                h = (h + 1) & ks->mask;
            ks->slots[h] = (uint32_t)(j - base + 1);
        }
    }
    size_t h = key_slot(p, ks, p->keys[i]);
    while (ks->slots[h])
        h = (h + 1) & ks->mask;
    ks->slots[h] = (uint32_t)(i - base + 1);
    return true;
}

/* Is k among the keys from base to p->top? */
static bool key_seen(const jp *p, const key_set *ks, size_t base, md_str k)
{
    if (!ks->slots) {
        for (size_t i = base; i < p->top; i++)
            if (md_str_eq(p->keys[i], k))
                return true;
        return false;
    }
    for (size_t h = key_slot(p, ks, k); ks->slots[h]; h = (h + 1) & ks->mask)
        if (md_str_eq(p->keys[base + ks->slots[h] - 1], k))
            return true;
    return false;
}

/* One "key": of an object (base: where its members start on the stack). */
static int jp_key(jp *p, const key_set *ks, size_t base, md_str *key)
{
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return jp_fail(p, MANDATE_EPARSE, "expected a string key");
    size_t kpos = p->pos;
    int rc = jp_lasting_string(p, key);
    if (rc)
        return rc;
    if (key_seen(p, ks, base, *key)) {
        size_t here = p->pos;
        p->pos = kpos;
        rc = jp_fail(p, MANDATE_EPARSE, "duplicate object key '%.*s'",
                     (int)(key->len > 100 ? 100 : key->len), key->ptr);
        p->pos = here;
        return rc;
    }
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':')
        return jp_fail(p, MANDATE_EPARSE, "expected ':'");
    p->pos++;
    return 0;
}

static int jp_value(jp *p, md_jv *out);

static int jp_compound(jp *p, md_jv *out)
{
    bool obj = p->s[p->pos] == '{';
    char close = obj ? '}' : ']';
    size_t base = p->top;
    key_set ks = {0};
    int rc = 0;
    p->pos++;
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close)
        p->pos++;
    else
        for (;;) {
            md_str key = {0};
            md_jv v;
            if ((obj && (rc = jp_key(p, &ks, base, &key))) || (rc = jp_value(p, &v)) ||
                (rc = jp_reserve(p)))
                break;
            p->keys[p->top] = key;
            p->vals[p->top++] = v;
            if (obj && p->top - base >= LINEAR_KEYS && !key_set_add(p, &ks, base, p->top - 1)) {
                rc = jp_fail(p, MANDATE_ENOMEM, "out of memory");
                break;
            }
            jp_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            rc = jp_fail(p, MANDATE_EPARSE, "expected ',' or '%c'", close);
            break;
        }
    free(ks.slots);
    size_t n = p->top - base;
    out->kind = obj ? MD_JV_OBJECT : MD_JV_ARRAY;
    out->n = n;
    out->u.c.items = NULL;
    out->u.c.keys = NULL;
    if (!rc && n) {
        /* items, then keys, in one allocation (md_jv is a multiple of md_str's alignment) */
        out->u.c.items = md_arena_array(p->a, n, sizeof(md_jv) + (obj ? sizeof(md_str) : 0));
        if (!out->u.c.items) {
            rc = jp_fail(p, MANDATE_ENOMEM, "out of memory");
        } else {
            memcpy(out->u.c.items, p->vals + base, n * sizeof(md_jv));
            if (obj) {
                out->u.c.keys = (md_str *)(out->u.c.items + n);
                memcpy(out->u.c.keys, p->keys + base, n * sizeof(md_str));
            }
        }
    }
    p->top = base;
    return rc;
}

static int jp_value(jp *p, md_jv *out)
{
    jp_ws(p);
    if (p->pos >= p->len)
        return jp_fail(p, MANDATE_EPARSE, "unexpected end of text");
    char ch = p->s[p->pos];
    out->n = 0;
    if (ch == '{' || ch == '[') {
        if (p->depth >= p->max_depth)
            return jp_fail(p, MANDATE_ETOOBIG, "nesting deeper than %u levels", p->max_depth);
        p->depth++;
        int rc = jp_compound(p, out);
        p->depth--;
        return rc;
    }
    if (ch == '"') {
        out->kind = MD_JV_STRING;
        return jp_lasting_string(p, &out->u.s);
    }
    if (ch == '-' || is_digit(ch))
        return jp_number(p, out);
    if (jp_lit(p, "true", 4))
        out->kind = MD_JV_TRUE;
    else if (jp_lit(p, "false", 5))
        out->kind = MD_JV_FALSE;
    else if (jp_lit(p, "null", 4))
        out->kind = MD_JV_NULL;
    else
        return jp_fail(p, MANDATE_EPARSE, "unexpected character '%c'", ch);
    return 0;
}

static uint64_t hash_seed(void)
{
    static _Atomic uint64_t seed;
    uint64_t v = seed;
    if (!v) {
        if (getentropy(&v, sizeof v))
            v = (uint64_t)(uintptr_t)&v ^ (uint64_t)time(NULL);
        seed = v |= 1;
    }
    return v;
}

int md_json_parse_arena(md_arena *a, const char *text, size_t len, unsigned max_depth, md_jv **out,
                        md_diag *d)
{
    if (!a || !text || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_json_parse: missing argument");
    if (len > MD_JSON_MAX_TEXT)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "JSON text is over %u bytes",
                           MD_JSON_MAX_TEXT);
    jp parser, *p = &parser;
    md_jv *v = md_arena_alloc(a, sizeof *v);
    if (!v)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    p->s = text;
    p->len = len;
    p->pos = 0;
    p->depth = 0;
    p->max_depth = max_depth < MD_JSON_MAX_DEPTH ? max_depth : MD_JSON_MAX_DEPTH;
    p->d = d;
    p->a = a;
    md_buf_init(&p->sb, MD_JSON_MAX_TEXT);
    p->vals = p->vals0;
    p->keys = p->keys0;
    p->top = 0;
    p->cap = MD_ARRAY_LEN(p->vals0);
    p->seed = hash_seed();
    int rc = jp_value(p, v);
    if (!rc) {
        jp_ws(p);
        if (p->pos < p->len)
            rc = jp_fail(p, MANDATE_EPARSE, "unexpected text after the JSON value");
    }
    md_buf_release(&p->sb);
    if (p->vals != p->vals0) {
        free(p->vals);
        free(p->keys);
    }
    if (!rc)
        *out = v;
    return rc;
}

json_t *md_jv_to_json(const md_jv *v)
{
    json_t *j = NULL;
    switch (v->kind) {
    case MD_JV_NULL: return json_null();
    case MD_JV_FALSE: return json_false();
    case MD_JV_TRUE: return json_true();
    case MD_JV_INTEGER: return json_integer((json_int_t)v->u.i);
    case MD_JV_REAL: return json_real(v->u.r);
    case MD_JV_STRING: return json_stringn_nocheck(v->u.s.len ? v->u.s.ptr : "", v->u.s.len);
    case MD_JV_ARRAY:
        j = json_array();
        for (size_t i = 0; j && i < v->n; i++) {
            json_t *c = md_jv_to_json(&v->u.c.items[i]);
            if (!c || json_array_append_new(j, c)) {
                json_decref(j);
                j = NULL;
            }
        }
        return j;
    case MD_JV_OBJECT:
        j = json_object();
        for (size_t i = 0; j && i < v->n; i++) {
            json_t *c = md_jv_to_json(&v->u.c.items[i]);
            if (!c || json_object_setn_new_nocheck(j, v->u.c.keys[i].ptr, v->u.c.keys[i].len, c)) {
                json_decref(j);
                j = NULL;
            }
        }
        return j;
    }
    return NULL;
}

static int jv_from_json(md_arena *a, const json_t *j, md_jv *v, unsigned depth, md_diag *d)
{
    switch (json_typeof(j)) {
    case JSON_NULL: v->kind = MD_JV_NULL; return 0;
    case JSON_FALSE: v->kind = MD_JV_FALSE; return 0;
    case JSON_TRUE: v->kind = MD_JV_TRUE; return 0;
    case JSON_INTEGER:
        v->kind = MD_JV_INTEGER;
        v->u.i = (int64_t)json_integer_value(j);
        return 0;
    case JSON_REAL:
        v->kind = MD_JV_REAL;
        v->u.r = json_real_value(j);
        return 0;
    case JSON_STRING:
        v->kind = MD_JV_STRING;
        v->u.s = (md_str){json_string_value(j), json_string_length(j)};
        return 0;
    case JSON_ARRAY:
    case JSON_OBJECT: break;
    }
    /* Twice the text parser's cap: deeper trees than text can hold are left to the reader that
     * walks the result, whose own cap (and message, naming what it reads) comes first. */
    if (depth >= 2 * MD_JSON_MAX_DEPTH)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "JSON nests deeper than %d levels",
                           2 * MD_JSON_MAX_DEPTH);
    bool obj = json_is_object(j);
    size_t n = obj ? json_object_size(j) : json_array_size(j);
    v->kind = obj ? MD_JV_OBJECT : MD_JV_ARRAY;
    v->n = n;
    v->u.c.items = md_arena_array(a, n ? n : 1, sizeof *v->u.c.items);
    v->u.c.keys = obj ? md_arena_array(a, n ? n : 1, sizeof *v->u.c.keys) : NULL;
    if (!v->u.c.items || (obj && !v->u.c.keys))
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    if (!obj) {
        for (size_t i = 0; i < n; i++) {
            int rc = jv_from_json(a, json_array_get(j, i), &v->u.c.items[i], depth + 1, d);
            if (rc)
                return rc;
        }
        return 0;
    }
    size_t i = 0;
    const char *key;
    size_t klen;
    json_t *m;
    json_object_keylen_foreach((json_t *)j, key, klen, m)
    {
        v->u.c.keys[i] = (md_str){key, klen};
        int rc = jv_from_json(a, m, &v->u.c.items[i], depth + 1, d);
        if (rc)
            return rc;
        i++;
    }
    return 0;
}

int md_jv_from_json(md_arena *a, const json_t *j, const md_jv **out, md_diag *d)
{
    md_jv *v = md_arena_alloc(a, sizeof *v);
    if (!v)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    int rc = jv_from_json(a, j, v, 0, d);
    if (rc == 0)
        *out = v;
    return rc;
}

const md_jv *md_jv_get(const md_jv *obj, const char *key)
{
    if (!obj || obj->kind != MD_JV_OBJECT)
        return NULL;
    md_str k = md_str_c(key);
    for (size_t i = 0; i < obj->n; i++)
        if (md_str_eq(obj->u.c.keys[i], k))
            return &obj->u.c.items[i];
    return NULL;
}

int md_json_parse_depth(const char *text, size_t len, unsigned max_depth, json_t **out, md_diag *d)
{
    if (!text || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_json_parse: missing argument");
    md_arena *a = md_arena_new();
    if (!a)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    md_jv *v = NULL;
    int rc = md_json_parse_arena(a, text, len, max_depth, &v, d);
    json_t *j = rc ? NULL : md_jv_to_json(v);
    md_arena_free(a);
    if (rc)
        return rc;
    if (!j)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    *out = j;
    return 0;
}

int md_json_parse(const char *text, size_t len, json_t **out, md_diag *d)
{
    return md_json_parse_depth(text, len, MD_JSON_MAX_DEPTH, out, d);
}

/* ---- jansson values to text ---- */

typedef struct dump_member {
    const char *key;
    size_t len;
    json_t *value;
} dump_member;

/* Object keys in the order of sorted output: bytewise, a prefix first. */
static int key_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

static int member_cmp(const void *x, const void *y)
{
    const dump_member *a = x, *b = y;
    return key_cmp(a->key, a->len, b->key, b->len);
}

static int dump_value(const json_t *j, md_buf *out, unsigned depth);

static int dump_object(const json_t *j, md_buf *out, unsigned depth)
{
    size_t n = json_object_size(j);
    dump_member local[32], *m = local;
    if (n > MD_ARRAY_LEN(local) && !(m = malloc(n * sizeof *m)))
        return MANDATE_ENOMEM;
    size_t i = 0;
    for (void *it = json_object_iter((json_t *)j); it && i < n;
         it = json_object_iter_next((json_t *)j, it), i++)
        m[i] = (dump_member){json_object_iter_key(it), json_object_iter_key_len(it),
                             json_object_iter_value(it)};
    if (i > MD_ARRAY_LEN(local)) {
        qsort(m, i, sizeof *m, member_cmp);
    } else { /* insertion sort: cheaper than qsort for a result's or an entry's two dozen keys */
        for (size_t k = 1; k < i; k++) {
            dump_member x = m[k];
            size_t at = k;
            for (; at > 0 && member_cmp(&m[at - 1], &x) > 0; at--)
                m[at] = m[at - 1];
            m[at] = x;
        }
    }
    int rc = md_buf_append(out, "{", 1);
    for (size_t k = 0; k < i && !rc; k++) {
        if (k)
            rc = md_buf_append(out, ",", 1);
        if (!rc)
            rc = md_buf_json_str(out, m[k].key, m[k].len);
        if (!rc)
            rc = md_buf_append(out, ":", 1);
        if (!rc)
            rc = dump_value(m[k].value, out, depth + 1);
    }
    if (m != local)
        free(m);
    return rc ? rc : md_buf_append(out, "}", 1);
}

static int dump_value(const json_t *j, md_buf *out, unsigned depth)
{
    if (depth > MD_JSON_MAX_DEPTH)
        return MANDATE_ETOOBIG;
    switch (json_typeof(j)) {
    case JSON_OBJECT: return dump_object(j, out, depth);
    case JSON_ARRAY: {
        int rc = md_buf_append(out, "[", 1);
        for (size_t i = 0; i < json_array_size(j) && !rc; i++) {
            if (i)
                rc = md_buf_append(out, ",", 1);
            if (!rc)
                rc = dump_value(json_array_get(j, i), out, depth + 1);
        }
        return rc ? rc : md_buf_append(out, "]", 1);
    }
    case JSON_STRING: return md_buf_json_str(out, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return md_buf_i64(out, (int64_t)json_integer_value(j));
    case JSON_REAL: { /* rare: jansson's own number format */
        char *t = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = t ? md_buf_puts(out, t) : MANDATE_ENOMEM;
        free(t);
        return rc;
    }
    case JSON_TRUE: return md_buf_append(out, "true", 4);
    case JSON_FALSE: return md_buf_append(out, "false", 5);
    case JSON_NULL: return md_buf_append(out, "null", 4);
    }
    return MANDATE_EINVAL;
}

int md_json_dump(const json_t *j, md_buf *out)
{
    return j && out ? dump_value(j, out, 0) : MANDATE_EINVAL;
}

/* ---- objects written sorted, without a tree ---- */

void md_jobj_init(md_jobj *o)
{
    md_buf_init(&o->vals, MD_JSON_MAX_TEXT);
    o->n = 0;
    o->rc = 0;
}

void md_jobj_release(md_jobj *o)
{
    md_buf_release(&o->vals);
    o->n = 0;
}

static int jobj_find(const md_jobj *o, const char *key, size_t len)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->m[i].key_len == len && !memcmp(o->m[i].key, key, len))
            return (int)i;
    return -1;
}

bool md_jobj_has(const md_jobj *o, const char *key)
{
    return jobj_find(o, key, strlen(key)) >= 0;
}

/* Names the value rendered at vals[at, vals.len) key. */
static void jobj_put(md_jobj *o, const char *key, size_t at, int rc)
{
    if (rc && !o->rc)
        o->rc = rc;
    if (o->rc)
        return;
    size_t len = strlen(key);
    int i = jobj_find(o, key, len);
    if (i < 0) {
        if (o->n == MD_JOBJ_MAX) {
            o->rc = MANDATE_ETOOBIG;
            return;
        }
        i = (int)o->n++;
    }
    o->m[i].key = key;
    o->m[i].key_len = len;
    o->m[i].at = at;
    o->m[i].len = o->vals.len - at;
}

void md_jobj_str(md_jobj *o, const char *key, const char *s)
{
    size_t at = o->vals.len;
    jobj_put(o, key, at,
             s ? md_buf_json_str(&o->vals, s, strlen(s)) : md_buf_append(&o->vals, "null", 4));
}

void md_jobj_int(md_jobj *o, const char *key, int64_t v)
{
    size_t at = o->vals.len;
    jobj_put(o, key, at, md_buf_i64(&o->vals, v));
}

void md_jobj_strs(md_jobj *o, const char *key, const char *const *v, size_t n)
{
    size_t at = o->vals.len;
    int rc = md_buf_append(&o->vals, "[", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = md_buf_append(&o->vals, ",", 1);
        if (!rc) /* a NULL element: a copy that failed upstream */
            rc = v[i] ? md_buf_json_str(&o->vals, v[i], strlen(v[i])) : MANDATE_ENOMEM;
    }
    jobj_put(o, key, at, rc ? rc : md_buf_append(&o->vals, "]", 1));
}

void md_jobj_raw(md_jobj *o, const char *key, const char *json, size_t len)
{
    size_t at = o->vals.len;
    jobj_put(o, key, at, md_buf_append(&o->vals, json, len));
}

int md_jobj_finish(md_jobj *o, md_buf *out)
{
    int rc = o->rc;
    size_t order[MD_JOBJ_MAX];
    for (size_t k = 0; k < o->n; k++) { /* insertion sort of the member indices by key */
        size_t at = k;
        for (; at > 0; at--) {
            const size_t p = order[at - 1];
            if (key_cmp(o->m[p].key, o->m[p].key_len, o->m[k].key, o->m[k].key_len) <= 0)
                break;
            order[at] = p;
        }
        order[at] = k;
    }
    if (!rc)
        rc = md_buf_append(out, "{", 1);
    for (size_t k = 0; k < o->n && !rc; k++) {
        size_t i = order[k];
        if (k)
            rc = md_buf_append(out, ",", 1);
        if (!rc)
            rc = md_buf_json_str(out, o->m[i].key, o->m[i].key_len);
        if (!rc)
            rc = md_buf_append(out, ":", 1);
        if (!rc)
            rc = md_buf_append(out, o->vals.data + o->m[i].at, o->m[i].len);
    }
    if (!rc)
        rc = md_buf_append(out, "}", 1);
    md_jobj_release(o);
    return rc;
}
