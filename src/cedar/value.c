/* value.c: Cedar values: total order, equality, canonical sets and records, printing. */
#include <stdlib.h>

#include "cedar/cedar_int.h"
#include "core/json.h"
#include "cedar/ext.h"

int md_euid_cmp(const md_euid *a, const md_euid *b)
{
    int c = md_str_cmp(a->type, b->type);
    return c ? c : md_str_cmp(a->id, b->id);
}

bool md_euid_eq(const md_euid *a, const md_euid *b)
{
    return md_bytes_eq(a->id, b->id) && md_bytes_eq(a->type, b->type);
}

/* Folds the bytes of s into h: eight at a time, then the last one to eight bytes with at most two
 * loads (which together read every one of them). */
static inline uint64_t hash_fold(uint64_t h, md_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t n = s.len;
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    h = (h ^ n) * k;
    for (; n > 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        w = (uint64_t)x << 32 | y;
    } else if (n > 0) {
        w = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    }
    h = (h ^ w) * k;
    return h ^ (h >> 32);
}

uint64_t md_euid_hash(const md_euid *u)
{
    uint64_t h = hash_fold(hash_fold(0x5bd1e995, u->type), u->id);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

int md_value_cmp(const md_value *a, const md_value *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    switch (a->kind) {
    case MD_V_BOOL: return (int)a->u.b - (int)b->u.b;
    case MD_V_LONG:
    case MD_V_DECIMAL:
    case MD_V_DATETIME:
    case MD_V_DURATION: return cmp_i64(a->u.i, b->u.i);
    case MD_V_STRING: return md_str_cmp(a->u.s, b->u.s);
    case MD_V_ENTITY: return md_euid_cmp(&a->u.uid, &b->u.uid);
    case MD_V_IP: {
        const md_ipaddr *x = &a->u.ip, *y = &b->u.ip;
        if (x->v6 != y->v6)
            return x->v6 < y->v6 ? -1 : 1;
        int c = memcmp(x->addr, y->addr, sizeof x->addr);
        if (c)
            return c;
        return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
    }
    case MD_V_SET: {
        const md_set *x = a->u.set, *y = b->u.set;
        for (size_t i = 0; i < x->n && i < y->n; i++) {
            int c = md_value_cmp(&x->items[i], &y->items[i]);
            if (c)
                return c;
        }
        return x->n < y->n ? -1 : x->n > y->n;
    }
    case MD_V_RECORD: {
        const md_record *x = a->u.rec, *y = b->u.rec;
        for (size_t i = 0; i < x->n && i < y->n; i++) {
            int c = md_str_cmp(x->keys[i], y->keys[i]);
            if (!c) {
                md_value u, v;
                md_rval_load(&x->vals[i], &u);
                md_rval_load(&y->vals[i], &v);
                c = md_value_cmp(&u, &v);
            }
            if (c)
                return c;
        }
        return x->n < y->n ? -1 : x->n > y->n;
    }
    }
    return 0;
}

bool md_value_eq(const md_value *a, const md_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MD_V_BOOL: return a->u.b == b->u.b;
    case MD_V_LONG:
    case MD_V_DECIMAL:
    case MD_V_DATETIME:
    case MD_V_DURATION: return a->u.i == b->u.i;
    case MD_V_STRING: return md_str_eq(a->u.s, b->u.s);
    case MD_V_ENTITY: return md_euid_eq(&a->u.uid, &b->u.uid);
    default: return md_value_cmp(a, b) == 0;
    }
}

static int value_qcmp(const void *a, const void *b)
{
    return md_value_cmp(a, b);
}

int md_set_new(md_arena *a, const md_value *items, size_t n, const md_set **out)
{
    if (n > (SIZE_MAX - sizeof(md_set)) / sizeof(md_value))
        return MANDATE_ETOOBIG;
    md_set *s = md_arena_alloc(a, sizeof(md_set) + n * sizeof(md_value));
    if (!s)
        return MANDATE_ENOMEM;
    if (n)
        memcpy(s->items, items, n * sizeof(md_value));
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = md_value_cmp(&s->items[i - 1], &s->items[i]) < 0;
    if (!sorted) {
        qsort(s->items, n, sizeof(md_value), value_qcmp);
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (w == 0 || md_value_cmp(&s->items[w - 1], &s->items[i]) != 0)
                s->items[w++] = s->items[i];
        n = w;
    }
    s->n = n;
    *out = s;
    return 0;
}

static int field_qcmp(const void *a, const void *b)
{
    return md_str_cmp(((const md_field *)a)->key, ((const md_field *)b)->key);
}

/* Stores v as a record holds it (cedar_int.h); entity uids and boxed values are copied into a. */
static int rval_store(md_arena *a, const md_value *v, md_rval *out)
{
    memset(out, 0, sizeof *out);
    out->kind = (uint32_t)v->kind;
    switch (v->kind) {
    case MD_V_BOOL: out->u.i = v->u.b; return 0;
    case MD_V_LONG:
    case MD_V_DECIMAL:
    case MD_V_DATETIME:
    case MD_V_DURATION: out->u.i = v->u.i; return 0;
    case MD_V_STRING:
        if (v->u.s.len >= UINT32_MAX)
            break;
        out->len = (uint32_t)v->u.s.len;
        out->u.s = v->u.s.ptr;
        return 0;
    case MD_V_ENTITY: {
        md_euid *u = md_arena_alloc(a, sizeof *u);
        if (!u)
            return MANDATE_ENOMEM;
        *u = v->u.uid;
        out->u.uid = u;
        return 0;
    }
    case MD_V_SET: out->u.set = v->u.set; return 0;
    case MD_V_RECORD: out->u.rec = v->u.rec; return 0;
    case MD_V_IP: break;
    }
    md_value *box = md_arena_alloc(a, sizeof *box);
    if (!box)
        return MANDATE_ENOMEM;
    *box = *v;
    out->kind = MD_RVAL_BOXED;
    out->u.boxed = box;
    return 0;
}

static bool same_keys(const md_record *like, const md_field *f, size_t n)
{
    if (!like || like->n != n || n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!md_bytes_eq(like->keys[i], f[i].key))
            return false;
    return true;
}

int md_record_new_like(md_arena *a, const md_field *fields, size_t n, const md_record *like,
                       const md_record **out, md_str *dup)
{
    if (n > (SIZE_MAX - sizeof(md_record) - 16) /
                (sizeof(md_rval) + sizeof(md_str) + sizeof(uint32_t) + sizeof(md_field)))
        return MANDATE_ETOOBIG;
    const md_field *f = fields;
    md_field small[32], *sorted = NULL;
    bool in_order = true;
    for (size_t i = 1; i < n && in_order; i++)
        in_order = md_str_cmp(fields[i - 1].key, fields[i].key) < 0;
    int rc = 0;
    if (!in_order) {
        sorted = n <= MD_ARRAY_LEN(small) ? small : malloc(n * sizeof *sorted);
        if (!sorted)
            return MANDATE_ENOMEM;
        memcpy(sorted, fields, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, field_qcmp);
        for (size_t i = 1; i < n; i++)
            if (md_str_eq(sorted[i - 1].key, sorted[i].key)) {
                if (dup)
                    *dup = sorted[i].key;
                rc = MANDATE_EEXIST;
                goto done;
            }
        f = sorted;
    }
    bool share = same_keys(like, f, n);
    /* The signatures are zero-padded to a multiple of four (md_sig_hits reads four at a time). */
    size_t n_sigs = (n + 3) & ~(size_t)3;
    size_t size = sizeof(md_record) + n * sizeof(md_rval) +
                  (share ? 0 : n * sizeof(md_str) + n_sigs * sizeof(uint32_t));
    char *mem = md_arena_alloc(a, size);
    if (!mem) {
        rc = MANDATE_ENOMEM;
        goto done;
    }
    md_record *r = (md_record *)(void *)mem;
    r->n = n;
    for (size_t i = 0; i < n && !rc; i++)
        rc = rval_store(a, &f[i].val, &r->vals[i]);
    if (rc)
        goto done;
    if (share) {
        r->keys = like->keys;
        r->sigs = like->sigs;
    } else if (n) {
        md_str *keys = (md_str *)(void *)(mem + sizeof(md_record) + n * sizeof(md_rval));
        uint32_t *sigs = (uint32_t *)(void *)(keys + n);
        for (size_t i = 0; i < n; i++) {
            keys[i] = f[i].key;
            sigs[i] = md_key_sig(f[i].key);
        }
        for (size_t i = n; i < n_sigs; i++)
            sigs[i] = 0;
        r->keys = keys;
        r->sigs = sigs;
    } else {
        r->keys = NULL;
        r->sigs = NULL;
    }
    *out = r;
done:
    if (sorted != small)
        free(sorted);
    return rc;
}

int md_record_new(md_arena *a, const md_field *fields, size_t n, const md_record **out, md_str *dup)
{
    return md_record_new_like(a, fields, n, NULL, out, dup);
}

const md_record *md_record_empty(void)
{
    static const md_record empty = {0};
    return &empty;
}

md_field md_record_at(const md_record *r, size_t i)
{
    md_field f = {.key = r->keys[i]};
    md_rval_load(&r->vals[i], &f.val);
    return f;
}

const md_rval *md_record_search(const md_record *r, md_str key)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = md_str_cmp(r->keys[mid], key);
        if (c == 0)
            return &r->vals[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool md_record_get(const md_record *r, md_str key, md_value *out)
{
    const md_rval *v = md_record_find(r, key, 0);
    if (v && out)
        md_rval_load(v, out);
    return v != NULL;
}

bool md_set_contains(const md_set *s, const md_value *v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = md_value_cmp(&s->items[mid], v);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Cedar string literal escaping, as the Rust engine prints strings (escape_debug). */
static int print_cedar_str(md_buf *b, md_str s)
{
    int rc = md_buf_append(b, "\"", 1);
    for (size_t i = 0; i < s.len && rc == 0; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        switch (c) {
        case '"': rc = md_buf_append(b, "\\\"", 2); break;
        case '\\': rc = md_buf_append(b, "\\\\", 2); break;
        case '\n': rc = md_buf_append(b, "\\n", 2); break;
        case '\r': rc = md_buf_append(b, "\\r", 2); break;
        case '\t': rc = md_buf_append(b, "\\t", 2); break;
        case '\0': rc = md_buf_append(b, "\\0", 2); break;
        default:
            if (c < 0x20 || c == 0x7f)
                rc = md_buf_printf(b, "\\u{%x}", c);
            else
                rc = md_buf_append(b, &s.ptr[i], 1);
        }
    }
    return rc ? rc : md_buf_append(b, "\"", 1);
}

int md_euid_print(md_buf *b, const md_euid *u)
{
    int rc = md_buf_append(b, u->type.ptr, u->type.len);
    if (!rc)
        rc = md_buf_append(b, "::", 2);
    return rc ? rc : print_cedar_str(b, u->id);
}

int md_euid_print_json(md_buf *b, const md_euid *u, size_t *text_len)
{
    /* A type is a valid Cedar name; an id of printable ASCII other than '"', '\\' and DEL is
     * printed as is by md_euid_print and needs no JSON escape either. */
    if (md_json_plain_run(u->id.ptr, u->id.len) == u->id.len &&
        !memchr(u->id.ptr, 0x7f, u->id.len)) {
        int rc = md_buf_reserve(b, u->type.len + u->id.len + 8);
        if (rc)
            return rc;
        *text_len = u->type.len + u->id.len + 4;
        md_buf_append(b, "\"", 1);
        md_buf_append(b, u->type.ptr, u->type.len);
        md_buf_append(b, "::\\\"", 4);
        md_buf_append(b, u->id.ptr, u->id.len);
        return md_buf_append(b, "\\\"\"", 3);
    }
    md_buf text;
    md_buf_init(&text, b->max);
    int rc = md_euid_print(&text, u);
    *text_len = text.len;
    if (!rc)
        rc = md_buf_json_str(b, text.data, text.len);
    md_buf_release(&text);
    return rc;
}

int md_value_print(md_buf *b, const md_value *v)
{
    int rc = 0;
    switch (v->kind) {
    case MD_V_BOOL: return md_buf_puts(b, v->u.b ? "true" : "false");
    case MD_V_LONG: return md_buf_printf(b, "%lld", (long long)v->u.i);
    case MD_V_STRING: return print_cedar_str(b, v->u.s);
    case MD_V_ENTITY: return md_euid_print(b, &v->u.uid);
    case MD_V_SET:
        rc = md_buf_append(b, "[", 1);
        for (size_t i = 0; i < v->u.set->n && !rc; i++) {
            if (i)
                rc = md_buf_append(b, ", ", 2);
            if (!rc)
                rc = md_value_print(b, &v->u.set->items[i]);
        }
        return rc ? rc : md_buf_append(b, "]", 1);
    case MD_V_RECORD:
        rc = md_buf_append(b, "{", 1);
        for (size_t i = 0; i < v->u.rec->n && !rc; i++) {
            md_field f = md_record_at(v->u.rec, i);
            if (i)
                rc = md_buf_append(b, ", ", 2);
            if (!rc)
                rc = print_cedar_str(b, f.key);
            if (!rc)
                rc = md_buf_append(b, ": ", 2);
            if (!rc)
                rc = md_value_print(b, &f.val);
        }
        return rc ? rc : md_buf_append(b, "}", 1);
    case MD_V_DECIMAL:
    case MD_V_IP:
    case MD_V_DATETIME:
    case MD_V_DURATION: return md_ext_print(b, v);
    }
    return MANDATE_EINTERNAL;
}

const char *md_vkind_name(md_vkind k)
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
