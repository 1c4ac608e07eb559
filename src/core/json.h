/*
 * json.h: JSON text to values: into an arena (md_json_parse_arena, a md_jv tree made without one
 * malloc per value) or to jansson (md_json_parse, through the arena form); jansson values to
 * sorted compact text (md_json_dump); objects written sorted without a tree (md_jobj). The byte
 * classification JSON scanners share (md_json_plain_run) is in core.h.
 *
 * The parser is strict RFC 8259 with the caps every input needs: nesting (MD_JSON_MAX_DEPTH, or a
 * smaller cap given by the caller) and text size (MD_JSON_MAX_TEXT). Duplicate keys are errors
 * (compared with the keys before them, through a hash table with a per-process random seed once
 * an object is large). Strings without escapes are not copied: a md_jv string points into the
 * text, so the text must outlive the tree; strings with escapes are decoded into the arena. Runs
 * of plain bytes are scanned eight at a time.
 *
 * May depend on: core.h, libc and jansson.
 */
#ifndef MD_CORE_JSON_H
#define MD_CORE_JSON_H

#include <jansson.h>

#include "core/core.h"

#define MD_JSON_MAX_DEPTH 520         /* Cedar's MD_CEDAR_MAX_DEPTH + 8 */
#define MD_JSON_MAX_TEXT (256u << 20) /* bytes; Cedar's MD_CEDAR_MAX_JSON_TEXT */

typedef enum md_jv_kind {
    MD_JV_NULL,
    MD_JV_FALSE,
    MD_JV_TRUE,
    MD_JV_INTEGER,
    MD_JV_REAL,
    MD_JV_STRING,
    MD_JV_ARRAY,
    MD_JV_OBJECT,
} md_jv_kind;

/* A JSON value in an arena. Arrays and objects keep their members in text order. */
typedef struct md_jv md_jv;
struct md_jv {
    md_jv_kind kind;
    size_t n; /* members of an array or object */
    union {
        int64_t i;
        double r;
        md_str s; /* may hold NUL bytes; not NUL-terminated */
        struct {
            md_jv *items;
            md_str *keys; /* objects: keys[i] names items[i] */
        } c;
    } u;
};

/* Parses JSON text into a in one pass (the rules of md_json_parse, nesting capped at max_depth
 * levels, at most MD_JSON_MAX_DEPTH). *out borrows text and lives as long as a. */
int md_json_parse_arena(md_arena *a, const char *text, size_t len, unsigned max_depth, md_jv **out,
                        md_diag *d);
/* The member of object obj named key (a C string), or NULL (also when obj is not an object). */
const md_jv *md_jv_get(const md_jv *obj, const char *key);
/* v as a new jansson value (the one md_json_parse makes), or NULL when out of memory. */
json_t *md_jv_to_json(const md_jv *v);
/* j as a md_jv tree in a, borrowing j's strings and keys (j must outlive it); nesting past
 * 2 * MD_JSON_MAX_DEPTH fails with MANDATE_ETOOBIG. */
int md_jv_from_json(md_arena *a, const json_t *j, const md_jv **out, md_diag *d);

/* Appends j as compact JSON with object keys in bytewise order (what json_dumps gives with
 * JSON_COMPACT | JSON_SORT_KEYS, and the ledger's canonical form), strings escaped as
 * md_buf_json_str does. Several times faster than json_dumps, which checks every container for
 * cycles through a hash table. Nesting past MD_JSON_MAX_DEPTH fails with MANDATE_ETOOBIG; on an
 * error out may hold part of the text. */
int md_json_dump(const json_t *j, md_buf *out);

/* A JSON object written with its members sorted by key, as md_json_dump writes one, without
 * building a tree: each value is rendered when it is set, and md_jobj_finish sorts the members
 * and writes the object. Setting a key again replaces its value. Keys are borrowed until
 * md_jobj_finish (string literals, usually). Errors are sticky: the first one (MANDATE_ETOOBIG
 * past MD_JOBJ_MAX members) is what md_jobj_finish returns. */
#define MD_JOBJ_MAX 48
typedef struct md_jobj {
    md_buf vals; /* the rendered values, one after another */
    size_t n;
    int rc;
    struct {
        const char *key;
        size_t key_len, at, len; /* the value is vals.data[at, at + len) */
    } m[MD_JOBJ_MAX];
} md_jobj;
void md_jobj_init(md_jobj *o);
void md_jobj_release(md_jobj *o);
void md_jobj_str(md_jobj *o, const char *key, const char *s); /* s NULL: null */
void md_jobj_int(md_jobj *o, const char *key, int64_t v);
/* An array of strings; a NULL among them (a failed copy) is MANDATE_ENOMEM. */
void md_jobj_strs(md_jobj *o, const char *key, const char *const *v, size_t n);
/* A value the caller wrote itself, in md_json_dump's form (a nested md_jobj, say). */
void md_jobj_raw(md_jobj *o, const char *key, const char *json, size_t len);
bool md_jobj_has(const md_jobj *o, const char *key);
/* Appends the object to out and releases o's memory (md_jobj_release is then a no-op). */
int md_jobj_finish(md_jobj *o, md_buf *out);

/* Parses JSON text into jansson values, as json_loadb with JSON_REJECT_DUPLICATES and
 * JSON_ALLOW_NUL would, but also accepts NUL bytes in object keys, which Cedar ids and record keys
 * may hold and jansson's own parser refuses ("NUL byte in object key not supported"). Strict
 * RFC 8259; integers outside the int64 range become reals. Nesting is capped at
 * MD_JSON_MAX_DEPTH and text at MD_JSON_MAX_TEXT (MANDATE_ETOOBIG). Errors are MANDATE_EPARSE
 * with a 1-based line:column in d. On success *out is a new reference. */
int md_json_parse(const char *text, size_t len, json_t **out, md_diag *d);

/* md_json_parse with nesting capped at max_depth levels (at most MD_JSON_MAX_DEPTH): a compound
 * value opened deeper fails with MANDATE_ETOOBIG. */
int md_json_parse_depth(const char *text, size_t len, unsigned max_depth, json_t **out, md_diag *d);

#endif
