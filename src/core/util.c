/* util.c: string slices, hashing, capped buffers, diagnostics and file reading (see core.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

int md_str_cmp(md_str a, md_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Eight bytes at a time (entity ids are short and hashed on every lookup); not for adversarial
 * keys beyond hash tables that stay correct under collisions. */
uint64_t md_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ mix64(w)) * 0x9e3779b97f4a7c15ull;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)s[i] << (8 * i);
    return mix64(h ^ w ^ ((uint64_t)n << 59));
}

void md_buf_init(md_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void md_buf_release(md_buf *b)
{
    if (!b)
        return;
    free(b->data);
    md_buf_init(b, b->max);
}

/* Makes room for len + n bytes and a NUL (n already checked against the cap). */
static int buf_grow(md_buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return MANDATE_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int md_buf_reserve(md_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return MANDATE_ETOOBIG;
    if (b->len + n + 1 > b->cap && buf_grow(b, n))
        return MANDATE_ENOMEM;
    if (!b->len)
        b->data[0] = '\0';
    return 0;
}

int md_buf_append(md_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return MANDATE_ETOOBIG;
    if (b->len + n + 1 > b->cap && buf_grow(b, n))
        return MANDATE_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int md_buf_puts(md_buf *b, const char *s)
{
    return md_buf_append(b, s, strlen(s));
}

int md_buf_printf(md_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MANDATE_EINVAL;
    if ((size_t)n < sizeof small)
        return md_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return MANDATE_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = md_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

int md_buf_json_str(md_buf *b, const char *s, size_t n)
{
    /* Room for the common case (nothing to escape) at once; escapes grow it as they come. */
    int rc = md_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
    size_t run = 0, i = 0;
    while (rc == 0) {
        i += md_json_plain_run(s + i, n - i);
        while (i < n && (unsigned char)s[i] >= 0x80) /* UTF-8 passes through */
            i++;
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue; /* plain again after the UTF-8 bytes */
        if ((rc = md_buf_append(b, s + run, i - run)) != 0)
            break;
        run = ++i;
        switch (c) {
        case '"': rc = md_buf_append(b, "\\\"", 2); break;
        case '\\': rc = md_buf_append(b, "\\\\", 2); break;
        case '\n': rc = md_buf_append(b, "\\n", 2); break;
        case '\r': rc = md_buf_append(b, "\\r", 2); break;
        case '\t': rc = md_buf_append(b, "\\t", 2); break;
        default: rc = md_buf_printf(b, "\\u%04x", c); break;
        }
    }
    if (rc == 0)
        rc = md_buf_append(b, s + run, n - run);
    if (rc == 0)
        rc = md_buf_append(b, "\"", 1);
    return rc;
}

int md_buf_i64(md_buf *b, int64_t v)
{
    char t[24], *p = t + sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return md_buf_append(b, p, (size_t)(t + sizeof t - p));
}

int md_diag_set(md_diag *d, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (!d || d->code)
        return code;
    d->code = code;
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return code;
}

void md_diag_clear(md_diag *d)
{
    if (!d)
        return;
    d->code = 0;
    d->line = d->col = 0;
    d->msg[0] = '\0';
}

int md_read_file(const char *path, size_t max, char **out, size_t *out_len, md_diag *d)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot open '%s': %s", path, strerror(errno));
    md_buf b;
    md_buf_init(&b, max);
    char chunk[65536];
    int rc = 0;
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = md_buf_append(&b, chunk, n);
        if (rc)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = md_diag_set(d, MANDATE_EIO, 0, 0, "cannot read '%s': %s", path, strerror(errno));
    else if (rc == MANDATE_ETOOBIG)
        md_diag_set(d, rc, 0, 0, "'%s' is larger than the limit of %zu bytes", path, max);
    else if (rc)
        md_diag_set(d, rc, 0, 0, "cannot read '%s': %s", path, mandate_strerror(rc));
    fclose(f);
    if (rc) {
        md_buf_release(&b);
        return rc;
    }
    if (!b.data) {
        rc = md_buf_append(&b, "", 0);
        if (rc)
            return md_diag_set(d, rc, 0, 0, "cannot read '%s': out of memory", path);
    }
    *out = b.data;
    if (out_len)
        *out_len = b.len;
    return 0;
}

size_t md_utf8_decode(const void *p, size_t n, uint32_t *cp)
{
    const unsigned char *s = p;
    if (n == 0)
        return 0;
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        len = 1;
        v = c;
        min = 0;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    if (cp)
        *cp = v;
    return len;
}

size_t md_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}
