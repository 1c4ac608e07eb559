/*
 * core.h: the bottom layer of libmandate: arenas, string slices, capped buffers, diagnostics.
 *
 * Everything here depends only on libc and include/mandate/error.h (core/json.h, the JSON text
 * parser, also on jansson). Symbols are md_ (internal, hidden by -fvisibility=hidden); MD_EXPORT
 * marks the few public mandate_ entry points.
 *
 * Arena: bump allocation in chained blocks, freed in one go with md_arena_free. Memory from an
 * arena is never freed on its own. Allocation failure returns NULL; callers turn that into
 * MANDATE_ENOMEM. Arenas are not thread-safe: one per request, evaluation or loaded document.
 *
 * md_str: a borrowed (ptr, len) byte string. It may hold NUL bytes; it is not NUL-terminated
 * unless said so. Strings copied into an arena by md_arena_strndup are NUL-terminated as well.
 *
 * md_buf: a growable byte buffer with a hard cap; appending past the cap fails with
 * MANDATE_ETOOBIG and leaves the buffer unchanged.
 *
 * md_diag: where a parser reports the first error: 1-based line and column, and a message that
 * says what failed and quotes the subject.
 */
#ifndef MD_CORE_H
#define MD_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mandate/error.h"

#define MD_EXPORT __attribute__((visibility("default")))
#define MD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- string slices ---- */
typedef struct md_str {
    const char *ptr;
    size_t len;
} md_str;

#define MD_STR_LIT(s) ((md_str){(s), sizeof(s) - 1})
static inline md_str md_str_c(const char *s)
{
    return (md_str){s, s ? strlen(s) : 0};
}
static inline bool md_str_eq(md_str a, md_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
static inline bool md_str_eq_c(md_str a, const char *b)
{
    return md_str_eq(a, md_str_c(b));
}
/* Bytewise order (shorter prefix first), the order Cedar uses for record keys. */
int md_str_cmp(md_str a, md_str b);
/* 64-bit hash of bytes (FNV-1a mixed); stable within a process. */
uint64_t md_hash_bytes(const void *p, size_t n, uint64_t seed);

/* ---- arena ---- */
typedef struct md_arena md_arena;

/* Returns a new arena, or NULL when out of memory. */
md_arena *md_arena_new(void);
/* Frees the arena and everything allocated from it. Accepts NULL. */
void md_arena_free(md_arena *a);
/* Frees everything allocated so far but keeps the first block for reuse. */
void md_arena_reset(md_arena *a);
/* Returns zeroed, 16-byte aligned memory, or NULL. */
void *md_arena_alloc(md_arena *a, size_t n);
/* Returns an array of n elements of size sz (checked for overflow), zeroed, or NULL. */
void *md_arena_array(md_arena *a, size_t n, size_t sz);
/* Copies n bytes and a terminating NUL; returns NULL when out of memory. */
char *md_arena_strndup(md_arena *a, const char *s, size_t n);
/* Copies a string slice into the arena (NUL-terminated); ptr is NULL when out of memory. */
md_str md_arena_str(md_arena *a, md_str s);
/* printf into the arena; returns NULL when out of memory. */
char *md_arena_printf(md_arena *a, const char *fmt, ...) MD_PRINTF(2, 3);
/* Bytes handed out so far (for memory reports). */
size_t md_arena_used(const md_arena *a);

/* ---- capped buffer ---- */
typedef struct md_buf {
    char *data; /* NUL-terminated when len > 0 or after md_buf_init */
    size_t len;
    size_t cap;
    size_t max; /* hard cap on len */
} md_buf;

void md_buf_init(md_buf *b, size_t max);
void md_buf_release(md_buf *b);
int md_buf_append(md_buf *b, const void *p, size_t n);
/* Makes room for n more bytes (within the cap) so that appending them allocates nothing. */
int md_buf_reserve(md_buf *b, size_t n);
int md_buf_puts(md_buf *b, const char *s);
int md_buf_printf(md_buf *b, const char *fmt, ...) MD_PRINTF(2, 3);
/* Appends s as a JSON string literal with quotes and escapes: \" \\ \n \r \t, \u00xx for other
 * control bytes; every other byte as it is. */
int md_buf_json_str(md_buf *b, const char *s, size_t n);
/* Appends v in decimal. */
int md_buf_i64(md_buf *b, int64_t v);

/* The number of leading bytes of p[0..n) that stand for themselves inside a JSON string: printable
 * ASCII other than '"' and '\\'. Eight bytes at a time; inline, as scanners call it per string. */
static inline size_t md_json_plain_run(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, b;
        memcpy(&w, p + i, 8);
        q = w ^ ('"' * ones);
        b = w ^ ('\\' * ones);
        /* High bits mark bytes >= 0x80, < 0x20, '"' and '\\' (the (x - ones) & ~x tests for a
         * zero byte); exact up to the first marked byte, where a borrow may start. */
        uint64_t special =
            (w | ((w - 0x20 * ones) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (special)
            return i + (size_t)__builtin_ctzll(special) / 8; /* the first byte is the lowest */
#else
        if (special)
            break;
#endif
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
    }
    return i;
}

/* UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). md_utf8_decode
 * returns the length of the character at s (n bytes available) and stores it in *cp (cp may be
 * NULL), or 0 when the bytes are not valid UTF-8. md_utf8_encode writes a code point below
 * 0x110000 and returns its length (1 to 4). */
size_t md_utf8_decode(const void *s, size_t n, uint32_t *cp);
size_t md_utf8_encode(uint32_t cp, char out[4]);

/* ---- diagnostics ---- */
typedef struct md_diag {
    int code;      /* a mandate_err, 0 when no error was recorded */
    uint32_t line; /* 1-based; 0 when not about a position */
    uint32_t col;  /* 1-based, in bytes */
    char msg[512];
} md_diag;

/* Records an error (the first one wins) and returns code. d may be NULL. */
int md_diag_set(md_diag *d, int code, uint32_t line, uint32_t col, const char *fmt, ...)
    MD_PRINTF(5, 6);
void md_diag_clear(md_diag *d);

/* ---- files ---- */
/* Reads a whole file (up to max bytes) into a malloc'd NUL-terminated buffer; free with free(). */
int md_read_file(const char *path, size_t max, char **out, size_t *out_len, md_diag *d);

#endif
