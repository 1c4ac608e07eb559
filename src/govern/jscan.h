/*
 * jscan.h: a small, strict scanner for the canonical JSON bodies of ledger entries, for the
 * governance passes that read every entry of a large ledger (report.c) and cannot afford a
 * jansson DOM per entry.
 *
 * A body is one JSON value as the ledger stores it (docs/ledger.md: jansson JSON_COMPACT |
 * JSON_SORT_KEYS, no whitespace). The scanner checks RFC 8259 syntax strictly (no whitespace is
 * accepted, since canonical bodies have none; strings without raw control bytes and with valid
 * escapes; numbers by the JSON grammar; nesting capped at MD_JSCAN_MAX_DEPTH) and hands out
 * borrowed spans (md_jsv) of the members the caller asks for; it allocates nothing. Strings are
 * given raw (the bytes between the quotes, escapes kept): in canonical JSON one string has one
 * spelling, so raw bytes compare and hash like the string itself. md_jscan_str_decode decodes
 * one when it must be printed or ordered, and checks that the result is valid UTF-8.
 *
 * The functions return 0 or MANDATE_EPARSE (malformed text, a wrong type, a repeated member).
 * Depends on core only.
 */
#ifndef MD_GOVERN_JSCAN_H
#define MD_GOVERN_JSCAN_H

#include "core/core.h"

#define MD_JSCAN_MAX_DEPTH 64
#define MD_JSCAN_MAX_KEYS 32 /* members asked for in one md_jscan_object call */

typedef enum md_jsv_kind {
    MD_JSV_ABSENT = 0, /* the member is not there */
    MD_JSV_NULL,
    MD_JSV_FALSE,
    MD_JSV_TRUE,
    MD_JSV_NUMBER,
    MD_JSV_STRING,
    MD_JSV_ARRAY,
    MD_JSV_OBJECT,
} md_jsv_kind;

/* A borrowed span of the body. For a string, p/n are the raw bytes between the quotes; for any
 * other kind, the whole value's text ("[...]", "{...}", "12", "null"). */
typedef struct md_jsv {
    md_jsv_kind kind;
    const char *p;
    size_t n;
} md_jsv;

/* Checks that text[0..len) is exactly one JSON object and fills out[i] with the member named
 * keys[i] (plain ASCII names without escapes, at most MD_JSCAN_MAX_KEYS, else MANDATE_EINVAL);
 * a member not found is MD_JSV_ABSENT. A key asked for that occurs twice is an error. */
int md_jscan_object(const char *text, size_t len, const char *const *keys, size_t n_keys,
                    md_jsv *out);

/* Iterates the items of an array value: *pos starts at 0; returns 1 with the next item in *item,
 * 0 at the end, or MANDATE_EPARSE. */
int md_jscan_array_next(md_jsv array, size_t *pos, md_jsv *item);

/* True when v is a string whose raw bytes equal lit (lit must need no escapes). */
bool md_jsv_is(md_jsv v, const char *lit);
/* True when v is a non-empty array. */
bool md_jsv_nonempty_array(md_jsv v);

/* An integer number without fraction or exponent that fits int64_t. */
int md_jscan_int(md_jsv v, int64_t *out);

/* Decodes a string's escapes into out (room for v.n bytes is always enough) and checks UTF-8
 * (no overlong forms, no surrogates); *out_len gets the length. */
int md_jscan_str_decode(md_jsv v, char *out, size_t *out_len);

#endif
