/*
 * token.c: delegation tokens: issue, re-delegate, verify (RFC 7515/7519/8725, RFC 8693 act
 * chains), the verified-token cache and the reason names. See token_int.h for the module.
 */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "token/token_int.h"

#define MAX_STR 1024 /* task and other free strings */
#define MAX_NAME 256 /* iss, aud entries, uids */
#define MAX_JTI 128
#define MAX_USES 1000000000000ull
#define MAX_TIME 253402300799ll /* 9999-12-31T23:59:59Z */
#define CACHE_WAYS 4

/* ---- reasons ---- */

static const char *const reason_names[MANDATE_TOKEN_REASON_COUNT_] = {
    [MANDATE_TOKEN_OK] = "ok",
    [MANDATE_TOKEN_MALFORMED] = "malformed",
    [MANDATE_TOKEN_TOO_LARGE] = "too_large",
    [MANDATE_TOKEN_BAD_BASE64] = "bad_base64",
    [MANDATE_TOKEN_HEADER_NOT_JSON] = "header_not_json",
    [MANDATE_TOKEN_DUPLICATE_KEY] = "duplicate_key",
    [MANDATE_TOKEN_ALG_MISSING] = "alg_missing",
    [MANDATE_TOKEN_ALG_NONE] = "alg_none",
    [MANDATE_TOKEN_ALG_UNSUPPORTED] = "alg_unsupported",
    [MANDATE_TOKEN_KEY_IN_HEADER] = "key_in_header",
    [MANDATE_TOKEN_CRIT_HEADER] = "crit_header",
    [MANDATE_TOKEN_HEADER_UNKNOWN] = "header_unknown",
    [MANDATE_TOKEN_TYP_MISSING] = "typ_missing",
    [MANDATE_TOKEN_TYP_MISMATCH] = "typ_mismatch",
    [MANDATE_TOKEN_KID_MISSING] = "kid_missing",
    [MANDATE_TOKEN_KID_UNKNOWN] = "kid_unknown",
    [MANDATE_TOKEN_SIGNATURE_MALFORMED] = "signature_malformed",
    [MANDATE_TOKEN_SIGNATURE_INVALID] = "signature_invalid",
    [MANDATE_TOKEN_PAYLOAD_NOT_JSON] = "payload_not_json",
    [MANDATE_TOKEN_CLAIM_MISSING] = "claim_missing",
    [MANDATE_TOKEN_CLAIM_TYPE] = "claim_type",
    [MANDATE_TOKEN_CLAIM_INVALID] = "claim_invalid",
    [MANDATE_TOKEN_CLAIM_UNKNOWN] = "claim_unknown",
    [MANDATE_TOKEN_ISSUER_UNTRUSTED] = "issuer_untrusted",
    [MANDATE_TOKEN_AUDIENCE_MISMATCH] = "audience_mismatch",
    [MANDATE_TOKEN_EXPIRED] = "expired",
    [MANDATE_TOKEN_NOT_YET_VALID] = "not_yet_valid",
    [MANDATE_TOKEN_ISSUED_IN_FUTURE] = "issued_in_future",
    [MANDATE_TOKEN_LIFETIME_TOO_LONG] = "lifetime_too_long",
    [MANDATE_TOKEN_LIFETIME_INVALID] = "lifetime_invalid",
    [MANDATE_TOKEN_DEPTH_EXCEEDED] = "depth_exceeded",
    [MANDATE_TOKEN_DEPTH_MISMATCH] = "depth_mismatch",
    [MANDATE_TOKEN_ACT_CHAIN_INVALID] = "act_chain_invalid",
    [MANDATE_TOKEN_ACT_CHAIN_MISMATCH] = "act_chain_mismatch",
    [MANDATE_TOKEN_CHAIN_INCOMPLETE] = "chain_incomplete",
    [MANDATE_TOKEN_PARENT_MISMATCH] = "parent_mismatch",
    [MANDATE_TOKEN_SCOPE_WIDENED] = "scope_widened",
    [MANDATE_TOKEN_EXPIRY_WIDENED] = "expiry_widened",
    [MANDATE_TOKEN_USES_WIDENED] = "uses_widened",
    [MANDATE_TOKEN_AUDIENCE_WIDENED] = "audience_widened",
    [MANDATE_TOKEN_WORKFLOW_MISMATCH] = "workflow_mismatch",
    [MANDATE_TOKEN_ISSUER_MISMATCH] = "issuer_mismatch",
    [MANDATE_TOKEN_REVOKED] = "revoked",
    [MANDATE_TOKEN_PARENT_REVOKED] = "parent_revoked",
    [MANDATE_TOKEN_USES_EXHAUSTED] = "uses_exhausted",
    [MANDATE_TOKEN_SUBJECT_INACTIVE] = "subject_inactive",
    [MANDATE_TOKEN_DELEGATOR_INACTIVE] = "delegator_inactive",
    [MANDATE_TOKEN_OWNER_INACTIVE] = "owner_inactive",
    [MANDATE_TOKEN_PRINCIPAL_UNKNOWN] = "principal_unknown",
    [MANDATE_TOKEN_HOOK_FAILED] = "hook_failed",
    [MANDATE_TOKEN_INTERNAL] = "internal",
    [MANDATE_TOKEN_INVALID_REQUEST] = "invalid_request",
};

MD_EXPORT const char *mandate_token_reason_name(int reason)
{
    if (reason < 0 || reason >= MANDATE_TOKEN_REASON_COUNT_ || !reason_names[reason])
        return "unknown";
    return reason_names[reason];
}

static int rc_for(int reason)
{
    switch (reason) {
    case MANDATE_TOKEN_OK: return MANDATE_OK;
    case MANDATE_TOKEN_TOO_LARGE: return MANDATE_ETOOBIG;
    case MANDATE_TOKEN_SIGNATURE_INVALID: return MANDATE_ECRYPTO;
    case MANDATE_TOKEN_HOOK_FAILED: return MANDATE_ESTORE;
    case MANDATE_TOKEN_INTERNAL: return MANDATE_ENOMEM;
    case MANDATE_TOKEN_INVALID_REQUEST: return MANDATE_EINVAL;
    default: return MANDATE_EDENIED;
    }
}

/* Records a rejection (the first one wins) and returns its mandate_err. */
MD_PRINTF(3, 4)
static int reject(mandate_token_error *e, int reason, const char *fmt, ...)
{
    if (e && e->reason == MANDATE_TOKEN_OK) {
        e->reason = reason;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return rc_for(reason);
}

/* ---- Cedar uids: `A::B::"id"` or a type `A::B`, canonicalized ---- */

static bool is_ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int put_utf8(md_buf *b, uint32_t cp)
{
    char u[4];
    return md_buf_append(b, u, md_utf8_encode(cp, u));
}

/* Appends one decoded character of the id in canonical escaped form. */
static int put_id_char(md_buf *b, uint32_t cp)
{
    switch (cp) {
    case '"': return md_buf_append(b, "\\\"", 2);
    case '\\': return md_buf_append(b, "\\\\", 2);
    case '\n': return md_buf_append(b, "\\n", 2);
    case '\r': return md_buf_append(b, "\\r", 2);
    case '\t': return md_buf_append(b, "\\t", 2);
    case 0: return md_buf_append(b, "\\0", 2);
    default:
        if (cp < 0x20 || cp == 0x7f)
            return md_buf_printf(b, "\\u{%x}", (unsigned)cp);
        return put_utf8(b, cp);
    }
}

/* A byte of an id that stands for itself in canonical form (no escape needed). */
static bool plain_id_byte(unsigned char c)
{
    return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

/* Walks the type path at the start of s: Ident (:: Ident)*, then the end of s or `::"`. *end
 * gets n for a bare type, else the offset of the opening quote. False when s is neither. */
static bool scan_type(const char *s, size_t n, size_t *end)
{
    size_t i = 0;
    for (;;) {
        if (i >= n || !is_ident_start((unsigned char)s[i]))
            return false;
        while (i < n && is_ident_char((unsigned char)s[i]))
            i++;
        if (i == n) {
            *end = n;
            return true;
        }
        if (n - i < 3 || s[i] != ':' || s[i + 1] != ':')
            return false;
        i += 2;
        if (s[i] == '"') {
            *end = i;
            return true;
        }
    }
}

/* Parses a uid (or, when allow_type, an entity type) and appends its canonical form to out.
 * Returns false when s is not one. */
static bool canon_uid(const char *s, size_t n, bool allow_type, md_buf *out)
{
    size_t i;
    if (n == 0 || n > MAX_NAME || !scan_type(s, n, &i))
        return false;
    if (i == n)
        return allow_type && md_buf_append(out, s, n) == 0;
    if (md_buf_append(out, s, ++i)) /* the type path and the opening quote */
        return false;
    while (i < n && s[i] != '"') {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        if (c < 0x20)
            return false;
        if (c != '\\') {
            size_t st = i++;
            while (i < n && plain_id_byte((unsigned char)s[i]))
                i++;
            if (c == 0x7f ? put_id_char(out, c) || md_buf_append(out, s + st + 1, i - st - 1)
                          : md_buf_append(out, s + st, i - st))
                return false;
            continue;
        }
        if (++i >= n)
            return false;
        switch (s[i]) {
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case '0': cp = 0; break;
        case '\\': cp = '\\'; break;
        case '\'': cp = '\''; break;
        case '"': cp = '"'; break;
        case 'u': {
            if (++i >= n || s[i] != '{')
                return false;
            cp = 0;
            size_t digits = 0;
            for (i++; i < n && s[i] != '}'; i++, digits++) {
                unsigned char h = (unsigned char)s[i];
                int v = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
                if (v < 0 || digits >= 6)
                    return false;
                cp = cp * 16 + (uint32_t)v;
            }
            if (i >= n || digits == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            break;
        }
        default: return false;
        }
        i++;
        if (put_id_char(out, cp))
            return false;
    }
    if (i + 1 != n) /* the closing quote must end the string */
        return false;
    return md_buf_append(out, "\"", 1) == 0;
}

/* Whether s is a uid that canon_uid would write back unchanged (no escapes, no control bytes). */
static bool is_canonical_uid(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > MAX_NAME || !scan_type(s, n, &i) || i == n)
        return false;
    for (i++; i < n && plain_id_byte((unsigned char)s[i]); i++)
        ;
    return i + 1 == n && s[i] == '"';
}

/* Canonical uid into the arena, or NULL (invalid or out of memory: *oom tells). */
static const char *arena_uid(md_arena *a, const char *s, size_t n, bool allow_type, bool *oom)
{
    md_buf b;
    md_buf_init(&b, 4 * MAX_NAME);
    const char *r = NULL;
    if (canon_uid(s, n, allow_type, &b)) {
        r = md_arena_strndup(a, b.data, b.len);
        if (!r)
            *oom = true;
    }
    md_buf_release(&b);
    return r;
}

/* The type part of a canonical uid (everything before the last `::"`), or the whole type. */
static size_t uid_type_len(const char *u)
{
    const char *q = strchr(u, '"');
    return q ? (size_t)(q - u) - 2 : strlen(u);
}

static bool str_in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Whether resource r (uid or type) is covered by the list: listed itself, or r is a uid whose
 * type is listed. */
static bool resource_covered(const char *r, const char *const *list, size_t n)
{
    if (str_in(r, list, n))
        return true;
    if (!strchr(r, '"'))
        return false;
    size_t tl = uid_type_len(r);
    for (size_t i = 0; i < n; i++)
        if (!strchr(list[i], '"') && strlen(list[i]) == tl && memcmp(list[i], r, tl) == 0)
            return true;
    return false;
}

/* ---- tokens ---- */

typedef struct shared_token {
    atomic_uint refs;
    md_arena *arena;
    mandate_token_claims c;
    uint64_t gen;      /* keyring generation when verified */
    const char *bytes; /* the compact token itself (the cache compares it exactly) */
    size_t len;
} shared_token;

struct mandate_token {
    shared_token *sh;
    mandate_token_claims c; /* sh->c with this call's use count */
};

static void shared_unref(shared_token *sh)
{
    if (sh && atomic_fetch_sub(&sh->refs, 1) == 1) {
        md_arena_free(sh->arena);
        free(sh);
    }
}

MD_EXPORT const mandate_token_claims *mandate_token_get_claims(const mandate_token *t)
{
    return t ? &t->c : NULL;
}

MD_EXPORT void mandate_token_free(mandate_token *t)
{
    if (!t)
        return;
    shared_unref(t->sh);
    free(t);
}

MD_EXPORT bool mandate_token_scope_allows(const mandate_token *t, const char *action,
                                          const char *resource)
{
    if (!t || !action || !resource)
        return false;
    /* Requests mostly name uids already in canonical form: those are compared as they are. */
    size_t la = strlen(action), lr = strlen(resource);
    md_buf a, r;
    md_buf_init(&a, 4 * MAX_NAME);
    md_buf_init(&r, 4 * MAX_NAME);
    const char *ca = is_canonical_uid(action, la)       ? action
                     : canon_uid(action, la, false, &a) ? a.data
                                                        : NULL;
    const char *cr = !ca                                  ? NULL
                     : is_canonical_uid(resource, lr)     ? resource
                     : canon_uid(resource, lr, false, &r) ? r.data
                                                          : NULL;
    bool ok = cr && str_in(ca, t->c.actions, t->c.n_actions) &&
              resource_covered(cr, t->c.resources, t->c.n_resources);
    md_buf_release(&a);
    md_buf_release(&r);
    return ok;
}

/* ---- service ---- */

typedef struct cache_slot {
    uint64_t hash; /* token_hash of the token */
    shared_token *tok;
    uint64_t used; /* tick of last use, for LRU within a set */
} cache_slot;

struct mandate_token_service {
    const mandate_keyring *kr;
    md_arena *arena; /* configuration strings */
    const char *issuer;
    const char **trusted;
    size_t n_trusted;
    const char *audience;
    int64_t default_lifetime, max_lifetime, skew;
    unsigned max_depth;
    size_t max_size;
    mandate_token_hooks hooks;
    pthread_mutex_t lock;
    cache_slot *slots;
    size_t n_sets;
    uint64_t tick, hits, misses;
    uint64_t hash_seed; /* random per service: nobody can aim tokens at one set */
};

MD_EXPORT int mandate_token_service_open(mandate_token_service **out,
                                         const mandate_token_service_opts *o)
{
    if (!out)
        return MANDATE_EINVAL;
    *out = NULL;
    if (!o || !o->keyring || !o->issuer || !o->issuer[0] || !o->audience || !o->audience[0] ||
        strlen(o->issuer) > MAX_NAME || strlen(o->audience) > MAX_NAME ||
        o->max_depth > MANDATE_TOKEN_HARD_MAX_DEPTH || o->max_size > MANDATE_TOKEN_HARD_MAX_SIZE ||
        o->default_lifetime < 0 || o->max_lifetime < 0 ||
        (o->n_trusted_issuers && !o->trusted_issuers))
        return MANDATE_EINVAL;
    if (sodium_init() < 0)
        return MANDATE_EINTERNAL;
    mandate_token_service *s = calloc(1, sizeof *s);
    if (!s)
        return MANDATE_ENOMEM;
    s->arena = md_arena_new();
    if (!s->arena || pthread_mutex_init(&s->lock, NULL) != 0) {
        md_arena_free(s->arena);
        free(s);
        return MANDATE_ENOMEM;
    }
    s->kr = o->keyring;
    randombytes_buf(&s->hash_seed, sizeof s->hash_seed);
    s->issuer = md_arena_strndup(s->arena, o->issuer, strlen(o->issuer));
    s->audience = md_arena_strndup(s->arena, o->audience, strlen(o->audience));
    s->n_trusted = o->n_trusted_issuers ? o->n_trusted_issuers : 1;
    s->trusted = md_arena_array(s->arena, s->n_trusted, sizeof *s->trusted);
    int rc = (s->issuer && s->audience && s->trusted) ? MANDATE_OK : MANDATE_ENOMEM;
    for (size_t i = 0; i < s->n_trusted && !rc; i++) {
        const char *t = o->n_trusted_issuers ? o->trusted_issuers[i] : o->issuer;
        if (!t || !t[0] || strlen(t) > MAX_NAME) {
            rc = MANDATE_EINVAL;
            break;
        }
        s->trusted[i] = md_arena_strndup(s->arena, t, strlen(t));
        if (!s->trusted[i])
            rc = MANDATE_ENOMEM;
    }
    s->default_lifetime =
        o->default_lifetime ? o->default_lifetime : MANDATE_TOKEN_DEFAULT_LIFETIME;
    s->max_lifetime = o->max_lifetime ? o->max_lifetime : MANDATE_TOKEN_DEFAULT_MAX_LIFETIME;
    s->skew = o->skew == 0 ? MANDATE_TOKEN_DEFAULT_SKEW : o->skew < 0 ? 0 : o->skew;
    s->max_depth = o->max_depth ? o->max_depth : MANDATE_TOKEN_DEFAULT_MAX_DEPTH;
    s->max_size = o->max_size ? o->max_size : MANDATE_TOKEN_DEFAULT_MAX_SIZE;
    s->hooks = o->hooks;
    if (!rc && s->default_lifetime > s->max_lifetime)
        rc = MANDATE_EINVAL;
    size_t entries = o->cache_entries ? o->cache_entries : 1024;
    if (!rc && entries != SIZE_MAX) {
        if (entries > (1u << 24))
            entries = 1u << 24;
        s->n_sets = (entries + CACHE_WAYS - 1) / CACHE_WAYS;
        s->slots = calloc(s->n_sets * CACHE_WAYS, sizeof *s->slots);
        if (!s->slots)
            rc = MANDATE_ENOMEM;
    }
    if (rc) {
        mandate_token_service_close(s);
        return rc;
    }
    *out = s;
    return MANDATE_OK;
}

MD_EXPORT void mandate_token_service_close(mandate_token_service *s)
{
    if (!s)
        return;
    if (s->slots)
        for (size_t i = 0; i < s->n_sets * CACHE_WAYS; i++)
            shared_unref(s->slots[i].tok);
    free(s->slots);
    pthread_mutex_destroy(&s->lock);
    md_arena_free(s->arena);
    free(s);
}

MD_EXPORT void mandate_token_service_cache_stats(mandate_token_service *s, uint64_t *hits,
                                                 uint64_t *misses)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    if (hits)
        *hits = s->hits;
    if (misses)
        *misses = s->misses;
    pthread_mutex_unlock(&s->lock);
}

#define HASH_TAIL 32 /* bytes of the token that pick its set */

/* The slot hash: the length and the last HASH_TAIL bytes, which in a signed token are 32 of the 86
 * characters of its Ed25519 signature (random to anyone without the key), seeded per service.
 * Only a few dozen instructions; the cache then compares every byte, so it stays exact. */
static uint64_t token_hash(const mandate_token_service *s, const char *tok, size_t len)
{
    size_t n = len < HASH_TAIL ? len : HASH_TAIL;
    return md_hash_bytes(tok + len - n, n, s->hash_seed ^ len);
}

static uint64_t word_at(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* Whether n bytes are equal, in time that depends only on n (the cached bytes are a bearer
 * credential: a lookup must not tell how much of one a guess got right). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) { /* four independent words a step: the compiler pairs them */
        d0 |= word_at(a + i) ^ word_at(b + i);
        d1 |= word_at(a + i + 8) ^ word_at(b + i + 8);
        d2 |= word_at(a + i + 16) ^ word_at(b + i + 16);
        d3 |= word_at(a + i + 24) ^ word_at(b + i + 24);
    }
    for (; i + 8 <= n; i += 8)
        d0 |= word_at(a + i) ^ word_at(b + i);
    for (; i < n; i++)
        d1 |= (uint64_t)((unsigned char)a[i] ^ (unsigned char)b[i]);
    return (d0 | d1 | d2 | d3) == 0;
}

/* Returns a new reference to the cached token with exactly these bytes, of generation gen, or
 * NULL. */
static shared_token *cache_get(mandate_token_service *s, const char *tok, size_t len, uint64_t h,
                               uint64_t gen)
{
    if (!s->slots)
        return NULL;
    shared_token *r = NULL;
    pthread_mutex_lock(&s->lock);
    cache_slot *set = &s->slots[(h % s->n_sets) * CACHE_WAYS];
    for (int i = 0; i < CACHE_WAYS; i++) {
        if (set[i].tok && set[i].hash == h && set[i].tok->len == len &&
            same_bytes(set[i].tok->bytes, tok, len)) {
            if (set[i].tok->gen == gen) {
                r = set[i].tok;
                atomic_fetch_add(&r->refs, 1);
                set[i].used = ++s->tick;
            } else { /* a key was added or removed since: verify again */
                shared_unref(set[i].tok);
                set[i].tok = NULL;
            }
            break;
        }
    }
    if (r)
        s->hits++;
    else
        s->misses++;
    pthread_mutex_unlock(&s->lock);
    return r;
}

static void cache_put(mandate_token_service *s, shared_token *t, uint64_t h)
{
    if (!s->slots)
        return;
    pthread_mutex_lock(&s->lock);
    cache_slot *set = &s->slots[(h % s->n_sets) * CACHE_WAYS];
    int victim = 0;
    for (int i = 0; i < CACHE_WAYS; i++) {
        if (set[i].tok && set[i].hash == h && set[i].tok->len == t->len &&
            same_bytes(set[i].tok->bytes, t->bytes, t->len)) {
            victim = i;
            break;
        }
        if (!set[i].tok || (set[victim].tok && set[i].used < set[victim].used))
            victim = i;
    }
    shared_unref(set[victim].tok);
    atomic_fetch_add(&t->refs, 1);
    set[victim].tok = t;
    set[victim].hash = h;
    set[victim].used = ++s->tick;
    pthread_mutex_unlock(&s->lock);
}

/* ---- parsing one token (everything that does not change with time or hooks) ---- */

typedef struct parse_ctx {
    mandate_token_service *s;
    md_arena *a;
    mandate_token_error *e;
    const char *what; /* "" for the token itself, "parent delegation N: " for an ancestor */
} parse_ctx;

#define REJECT(p, reason, fmt, ...) reject((p)->e, (reason), "%s" fmt, (p)->what, __VA_ARGS__)

static int decode_segment(parse_ctx *p, const char *seg, size_t n, const char *name,
                          unsigned char **out, size_t *out_len)
{
    unsigned char *buf = md_arena_alloc(p->a, n / 4 * 3 + 3);
    if (!buf)
        return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    size_t pos;
    switch (md_b64url_decode(seg, n, buf, out_len, &pos)) {
    case MD_B64_OK: break;
    case MD_B64_BAD_CHAR:
        return REJECT(
            p, MANDATE_TOKEN_BAD_BASE64, "%s is not base64url: byte 0x%02x at offset %zu%s", name,
            (unsigned char)seg[pos], pos, seg[pos] == '=' ? " (padding is not allowed)" : "");
    case MD_B64_BAD_LENGTH:
        return REJECT(p, MANDATE_TOKEN_BAD_BASE64, "%s is not base64url: impossible length %zu",
                      name, n);
    case MD_B64_TRAILING_BITS:
        return REJECT(p, MANDATE_TOKEN_BAD_BASE64,
                      "%s is not canonical base64url: non-zero trailing bits", name);
    }
    *out = buf;
    return 0;
}

static int parse_json(parse_ctx *p, const unsigned char *buf, size_t n, bool header, json_t **out)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &je);
    int not_json = header ? MANDATE_TOKEN_HEADER_NOT_JSON : MANDATE_TOKEN_PAYLOAD_NOT_JSON;
    const char *name = header ? "header" : "payload";
    if (!j) {
        if (json_error_code(&je) == json_error_duplicate_key)
            return REJECT(p, MANDATE_TOKEN_DUPLICATE_KEY, "%s has a duplicate key: %s", name,
                          je.text);
        if (json_error_code(&je) == json_error_out_of_memory)
            return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        return REJECT(p, not_json, "%s is not JSON: %s at column %d", name, je.text, je.column);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return REJECT(p, not_json, "%s is not a JSON object", name);
    }
    *out = j;
    return 0;
}

static bool ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static int check_header(parse_ctx *p, json_t *h, const char **kid, size_t *kid_len)
{
    json_t *alg = json_object_get(h, "alg");
    if (!alg)
        return REJECT(p, MANDATE_TOKEN_ALG_MISSING, "%s", "header has no alg");
    if (!json_is_string(alg))
        return REJECT(p, MANDATE_TOKEN_ALG_UNSUPPORTED, "%s", "header alg is not a string");
    const char *av = json_string_value(alg);
    if (ascii_ieq(av, "none"))
        return REJECT(p, MANDATE_TOKEN_ALG_NONE, "alg '%.32s' (unsecured JWS) is never accepted",
                      av);
    if (strcmp(av, "EdDSA") != 0 || json_string_length(alg) != 5)
        return REJECT(p, MANDATE_TOKEN_ALG_UNSUPPORTED, "alg '%.32s' is not accepted (only EdDSA)",
                      av);
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        if (!strcmp(k, "alg") || !strcmp(k, "typ") || !strcmp(k, "kid"))
            continue;
        if (!strcmp(k, "jwk") || !strcmp(k, "jku") || !strcmp(k, "x5u") || !strcmp(k, "x5c") ||
            !strcmp(k, "x5t") || !strcmp(k, "x5t#S256"))
            return REJECT(p, MANDATE_TOKEN_KEY_IN_HEADER,
                          "header parameter '%s' would take a key from the token", k);
        if (!strcmp(k, "crit"))
            return REJECT(p, MANDATE_TOKEN_CRIT_HEADER, "%s",
                          "header has crit: no extension is understood");
        return REJECT(p, MANDATE_TOKEN_HEADER_UNKNOWN, "unknown header parameter '%.64s'", k);
    }
    json_t *typ = json_object_get(h, "typ");
    if (!typ)
        return REJECT(p, MANDATE_TOKEN_TYP_MISSING, "%s", "header has no typ");
    if (!json_is_string(typ) || !ascii_ieq(json_string_value(typ), MANDATE_TOKEN_TYP) ||
        json_string_length(typ) != strlen(MANDATE_TOKEN_TYP))
        return REJECT(p, MANDATE_TOKEN_TYP_MISMATCH, "typ '%.64s' is not '" MANDATE_TOKEN_TYP "'",
                      json_is_string(typ) ? json_string_value(typ) : "(not a string)");
    json_t *jk = json_object_get(h, "kid");
    if (!jk || !json_is_string(jk) || json_string_length(jk) == 0)
        return REJECT(p, MANDATE_TOKEN_KID_MISSING, "%s", "header has no kid string");
    *kid = json_string_value(jk);
    *kid_len = json_string_length(jk);
    return 0;
}

/* Typed claim getters. */
static int get_string(parse_ctx *p, json_t *o, const char *name, const char *where, bool required,
                      size_t max, const char **out, size_t *len)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v) {
        if (!required)
            return 0;
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "%s%s is missing", where, name);
    }
    if (!json_is_string(v))
        return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "%s%s is not a string", where, name);
    size_t n = json_string_length(v);
    if (n == 0 || n > max || memchr(json_string_value(v), 0, n))
        return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "%s%s has a bad length (%zu)", where, name,
                      n);
    *out = json_string_value(v);
    if (len)
        *len = n;
    return 0;
}

static int get_uint(parse_ctx *p, json_t *o, const char *name, const char *where, bool required,
                    uint64_t max, bool *present, uint64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (present)
        *present = v != NULL;
    if (!v) {
        if (!required)
            return 0;
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "%s%s is missing", where, name);
    }
    if (!json_is_integer(v))
        return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "%s%s is not an integer", where, name);
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max)
        return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "%s%s is out of range (%lld)", where, name,
                      (long long)i);
    *out = (uint64_t)i;
    return 0;
}

static int get_uid(parse_ctx *p, json_t *o, const char *name, const char *where, bool required,
                   bool allow_type, const char **out)
{
    const char *raw;
    size_t n;
    int rc = get_string(p, o, name, where, required, MAX_NAME, &raw, &n);
    if (rc || !raw) {
        *out = NULL;
        return rc;
    }
    bool oom = false;
    *out = arena_uid(p->a, raw, n, allow_type, &oom);
    if (oom)
        return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    if (!*out)
        return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "%s%s '%.64s' is not a Cedar entity uid",
                      where, name, raw);
    return 0;
}

/* A JSON array of uids (or types) into a canonical list, no duplicates. */
static int get_uid_list(parse_ctx *p, json_t *o, const char *name, bool allow_type,
                        const char *const **out, size_t *n_out)
{
    json_t *v = json_object_get(o, name);
    if (!v)
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "mandate.scope.%s is missing", name);
    if (!json_is_array(v))
        return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "mandate.scope.%s is not an array", name);
    size_t n = json_array_size(v);
    if (n == 0 || n > MANDATE_TOKEN_MAX_SCOPE)
        return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "mandate.scope.%s has %zu entries (1..%d)",
                      name, n, MANDATE_TOKEN_MAX_SCOPE);
    const char **list = md_arena_array(p->a, n, sizeof *list);
    if (!list)
        return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_string(x))
            return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "mandate.scope.%s[%zu] is not a string",
                          name, i);
        bool oom = false;
        list[i] = arena_uid(p->a, json_string_value(x), json_string_length(x), allow_type, &oom);
        if (oom)
            return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        if (!list[i])
            return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID,
                          "mandate.scope.%s[%zu] '%.64s' is not a Cedar entity uid%s", name, i,
                          json_string_value(x), allow_type ? " or type" : "");
        if (str_in(list[i], list, i))
            return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "mandate.scope.%s lists '%.64s' twice",
                          name, list[i]);
    }
    *out = list;
    *n_out = n;
    return 0;
}

static int get_time(parse_ctx *p, json_t *o, const char *name, int64_t *out)
{
    uint64_t v = 0;
    int rc = get_uint(p, o, name, "", true, (uint64_t)MAX_TIME, NULL, &v);
    if (rc)
        return rc;
    if (v == 0)
        return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "%s is zero", name);
    *out = (int64_t)v;
    return 0;
}

static int parse_act(parse_ctx *p, json_t *act, mandate_token_claims *c)
{
    const char *chain[MANDATE_TOKEN_HARD_MAX_DEPTH + 1];
    size_t n = 0;
    for (json_t *cur = act; cur; cur = json_object_get(cur, "act")) {
        if (!json_is_object(cur))
            return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_INVALID, "act at level %zu is not an object",
                          n + 1);
        if (n == MANDATE_TOKEN_HARD_MAX_DEPTH + 1)
            return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_INVALID, "act chain is deeper than %d",
                          MANDATE_TOKEN_HARD_MAX_DEPTH + 1);
        const char *k;
        json_t *v;
        json_object_foreach(cur, k, v)
        {
            if (strcmp(k, "sub") && strcmp(k, "act"))
                return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_INVALID,
                              "act at level %zu has an unknown member '%.32s'", n + 1, k);
        }
        json_t *sub = json_object_get(cur, "sub");
        if (!sub || !json_is_string(sub))
            return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_INVALID, "act at level %zu has no sub string",
                          n + 1);
        bool oom = false;
        chain[n] = arena_uid(p->a, json_string_value(sub), json_string_length(sub), false, &oom);
        if (oom)
            return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        if (!chain[n])
            return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_INVALID,
                          "act.sub '%.64s' at level %zu is not a Cedar entity uid",
                          json_string_value(sub), n + 1);
        n++;
    }
    const char **list = md_arena_array(p->a, n, sizeof *list);
    if (!list)
        return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    memcpy(list, chain, n * sizeof *list);
    c->delegators = list;
    c->n_delegators = n;
    return 0;
}

static int parse_mandate(parse_ctx *p, json_t *m, mandate_token_claims *c)
{
    static const char *const known[] = {"task", "workflow", "scope", "max_uses", "parent", "depth"};
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < MD_ARRAY_LEN(known); i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            return REJECT(p, MANDATE_TOKEN_CLAIM_UNKNOWN, "unknown member mandate.%.64s", k);
    }
    int rc = get_string(p, m, "task", "mandate.", true, MAX_STR, &c->task, NULL);
    if (!rc)
        rc = get_uid(p, m, "workflow", "mandate.", false, false, &c->workflow);
    if (rc)
        return rc;
    json_t *scope = json_object_get(m, "scope");
    if (!scope)
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "%s", "mandate.scope is missing");
    if (!json_is_object(scope))
        return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "%s", "mandate.scope is not an object");
    json_object_foreach(scope, k, v)
    {
        if (strcmp(k, "actions") && strcmp(k, "resources"))
            return REJECT(p, MANDATE_TOKEN_CLAIM_UNKNOWN, "unknown member mandate.scope.%.64s", k);
    }
    rc = get_uid_list(p, scope, "actions", false, &c->actions, &c->n_actions);
    if (!rc)
        rc = get_uid_list(p, scope, "resources", true, &c->resources, &c->n_resources);
    if (!rc)
        rc = get_uint(p, m, "max_uses", "mandate.", true, MAX_USES, NULL, &c->max_uses);
    if (!rc && c->max_uses == 0)
        rc = REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "%s", "mandate.max_uses is zero");
    uint64_t depth = 0;
    if (!rc)
        rc = get_uint(p, m, "depth", "mandate.", true, UINT32_MAX, NULL, &depth);
    if (!rc)
        rc = get_string(p, m, "parent", "mandate.", false, MAX_JTI, &c->parent, NULL);
    if (rc)
        return rc;
    if (depth > p->s->max_depth)
        return REJECT(p, MANDATE_TOKEN_DEPTH_EXCEEDED, "depth %llu is over the cap of %u",
                      (unsigned long long)depth, p->s->max_depth);
    c->depth = (unsigned)depth;
    if ((c->depth == 0) != (c->parent == NULL))
        return REJECT(p, MANDATE_TOKEN_DEPTH_MISMATCH, "depth %u %s a parent delegation", c->depth,
                      c->parent ? "with" : "without");
    return 0;
}

static bool jti_valid(const char *s)
{
    for (; *s; s++)
        if (!is_ident_char((unsigned char)*s) && *s != '-' && *s != '.' && *s != ':')
            return false;
    return true;
}

static int parse_claims(parse_ctx *p, json_t *j, mandate_token_claims *c)
{
    int rc = get_string(p, j, "iss", "", true, MAX_NAME, &c->iss, NULL);
    if (!rc)
        rc = get_uid(p, j, "sub", "", true, false, &c->sub);
    if (!rc)
        rc = get_string(p, j, "jti", "", true, MAX_JTI, &c->jti, NULL);
    if (!rc && !jti_valid(c->jti))
        rc = REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "jti '%.64s' has a bad character", c->jti);
    if (rc)
        return rc;
    /* aud: a string or a non-empty array of strings (RFC 7519 4.1.3) */
    json_t *aud = json_object_get(j, "aud");
    if (!aud)
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "%s", "aud is missing");
    size_t na = json_is_array(aud) ? json_array_size(aud) : 1;
    if (!json_is_string(aud) && !json_is_array(aud))
        return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "%s", "aud is not a string or an array");
    if (na > MANDATE_TOKEN_MAX_SCOPE)
        return REJECT(p, MANDATE_TOKEN_CLAIM_INVALID, "aud has %zu entries", na);
    const char **al = md_arena_array(p->a, na ? na : 1, sizeof *al);
    if (!al)
        return REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    for (size_t i = 0; i < na; i++) {
        json_t *x = json_is_array(aud) ? json_array_get(aud, i) : aud;
        if (!json_is_string(x))
            return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "aud[%zu] is not a string", i);
        al[i] = json_string_value(x);
    }
    c->aud = al;
    c->n_aud = na;
    if ((rc = get_time(p, j, "iat", &c->iat)) || (rc = get_time(p, j, "nbf", &c->nbf)) ||
        (rc = get_time(p, j, "exp", &c->exp)))
        return rc;
    json_t *act = json_object_get(j, "act");
    if (!act)
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "%s", "act is missing");
    if ((rc = parse_act(p, act, c)))
        return rc;
    json_t *m = json_object_get(j, "mandate");
    if (!m)
        return REJECT(p, MANDATE_TOKEN_CLAIM_MISSING, "%s", "mandate is missing");
    if (!json_is_object(m))
        return REJECT(p, MANDATE_TOKEN_CLAIM_TYPE, "%s", "mandate is not an object");
    if ((rc = parse_mandate(p, m, c)))
        return rc;
    /* claims that relate to each other and to the service */
    if (!str_in(c->iss, (const char *const *)p->s->trusted, p->s->n_trusted))
        return REJECT(p, MANDATE_TOKEN_ISSUER_UNTRUSTED, "issuer '%.64s' is not trusted", c->iss);
    if (!str_in(p->s->audience, c->aud, c->n_aud))
        return REJECT(p, MANDATE_TOKEN_AUDIENCE_MISMATCH, "aud does not contain '%.64s'",
                      p->s->audience);
    if (c->exp <= c->iat)
        return REJECT(p, MANDATE_TOKEN_LIFETIME_INVALID, "exp %lld is not after iat %lld",
                      (long long)c->exp, (long long)c->iat);
    if (c->nbf >= c->exp)
        return REJECT(p, MANDATE_TOKEN_LIFETIME_INVALID, "nbf %lld is not before exp %lld",
                      (long long)c->nbf, (long long)c->exp);
    if (c->exp - c->iat > p->s->max_lifetime)
        return REJECT(p, MANDATE_TOKEN_LIFETIME_TOO_LONG,
                      "lifetime %lld s (exp - iat) is over the cap of %lld s",
                      (long long)(c->exp - c->iat), (long long)p->s->max_lifetime);
    if (c->n_delegators != (size_t)c->depth + 1)
        return REJECT(p, MANDATE_TOKEN_DEPTH_MISMATCH,
                      "act chain names %zu delegators, depth %u needs %u", c->n_delegators,
                      c->depth, c->depth + 1);
    return 0;
}

/* Parses and checks one compact token: structure, header, signature, claims. */
static int parse_token(parse_ctx *p, const char *tok, size_t len, mandate_token_claims *c,
                       uint64_t *gen)
{
    if (len > p->s->max_size)
        return REJECT(p, MANDATE_TOKEN_TOO_LARGE, "token of %zu bytes is over the cap of %zu", len,
                      p->s->max_size);
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
        return REJECT(p, MANDATE_TOKEN_MALFORMED, "%s",
                      "not a compact JWS (three dot-separated segments)");
    size_t hl = (size_t)(d1 - tok), pl = (size_t)(d2 - d1 - 1), sl = len - (size_t)(d2 + 1 - tok);
    if (hl == 0)
        return REJECT(p, MANDATE_TOKEN_MALFORMED, "%s", "compact JWS has an empty header");
    unsigned char *hb, *pb, *sb;
    size_t hn, pn, sn;
    int rc = decode_segment(p, tok, hl, "header", &hb, &hn);
    if (rc)
        return rc;
    json_t *h = NULL, *j = NULL;
    if ((rc = parse_json(p, hb, hn, true, &h)))
        return rc;
    const char *kid = NULL;
    size_t kid_len = 0;
    if ((rc = check_header(p, h, &kid, &kid_len)))
        goto out;
    if (pl == 0 || sl == 0) { /* after the header, so that alg "none" is named as such */
        rc = REJECT(p, MANDATE_TOKEN_MALFORMED, "compact JWS has an empty %s segment",
                    pl == 0 ? "payload" : "signature");
        goto out;
    }
    unsigned char pk[32];
    if (!md_keyring_public(p->s->kr, kid, kid_len, pk, gen)) {
        rc = REJECT(p, MANDATE_TOKEN_KID_UNKNOWN, "kid '%.64s' is not in the key ring", kid);
        goto out;
    }
    c->kid = md_arena_strndup(p->a, kid, kid_len);
    if (!c->kid) {
        rc = REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        goto out;
    }
    if ((rc = decode_segment(p, d2 + 1, sl, "signature", &sb, &sn)))
        goto out;
    if (sn != crypto_sign_BYTES) {
        rc = REJECT(p, MANDATE_TOKEN_SIGNATURE_MALFORMED, "signature is %zu bytes, not 64", sn);
        goto out;
    }
    if (crypto_sign_verify_detached(sb, (const unsigned char *)tok, (size_t)(d2 - tok), pk) != 0) {
        rc = REJECT(p, MANDATE_TOKEN_SIGNATURE_INVALID, "signature does not verify with kid '%s'",
                    c->kid);
        goto out;
    }
    if ((rc = decode_segment(p, d1 + 1, pl, "payload", &pb, &pn)))
        goto out;
    if ((rc = parse_json(p, pb, pn, false, &j)))
        goto out;
    rc = parse_claims(p, j, c);
    if (!rc) {
        /* copy the strings that still point into the JSON tree */
        c->iss = md_arena_strndup(p->a, c->iss, strlen(c->iss));
        c->jti = md_arena_strndup(p->a, c->jti, strlen(c->jti));
        c->task = md_arena_strndup(p->a, c->task, strlen(c->task));
        const char *parent = c->parent;
        if (parent)
            c->parent = md_arena_strndup(p->a, parent, strlen(parent));
        const char **al = (const char **)c->aud;
        bool ok = c->iss && c->jti && c->task && (!parent || c->parent);
        for (size_t i = 0; i < c->n_aud && ok; i++)
            ok = (al[i] = md_arena_strndup(p->a, al[i], strlen(al[i]))) != NULL;
        if (!ok)
            rc = REJECT(p, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        crypto_hash_sha256(c->digest, (const unsigned char *)tok, len);
    }
out:
    json_decref(h);
    json_decref(j);
    return rc;
}

/* A child against its parent: every hop may only narrow. */
static int check_narrowing(parse_ctx *p, const mandate_token_claims *c,
                           const mandate_token_claims *par)
{
    if (strcmp(c->parent, par->jti) != 0)
        return REJECT(p, MANDATE_TOKEN_PARENT_MISMATCH,
                      "parent '%.64s' was presented for a token whose parent is '%.64s'", par->jti,
                      c->parent);
    if (strcmp(c->iss, par->iss) != 0)
        return REJECT(p, MANDATE_TOKEN_ISSUER_MISMATCH,
                      "issuer '%.64s' differs from parent's '%.64s'", c->iss, par->iss);
    if (c->depth != par->depth + 1)
        return REJECT(p, MANDATE_TOKEN_DEPTH_MISMATCH, "depth %u under a parent of depth %u",
                      c->depth, par->depth);
    /* act chain: the parent's chain, extended by the parent's subject */
    if (strcmp(c->delegators[0], par->sub) != 0)
        return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_MISMATCH,
                      "immediate delegator '%.64s' is not the parent's subject '%.64s'",
                      c->delegators[0], par->sub);
    for (size_t i = 0; i < par->n_delegators; i++)
        if (strcmp(c->delegators[i + 1], par->delegators[i]) != 0)
            return REJECT(p, MANDATE_TOKEN_ACT_CHAIN_MISMATCH,
                          "delegator %zu '%.64s' differs from the parent's '%.64s'", i + 2,
                          c->delegators[i + 1], par->delegators[i]);
    for (size_t i = 0; i < c->n_actions; i++)
        if (!str_in(c->actions[i], par->actions, par->n_actions))
            return REJECT(p, MANDATE_TOKEN_SCOPE_WIDENED,
                          "action '%.64s' is outside the parent's scope", c->actions[i]);
    for (size_t i = 0; i < c->n_resources; i++)
        if (!resource_covered(c->resources[i], par->resources, par->n_resources))
            return REJECT(p, MANDATE_TOKEN_SCOPE_WIDENED,
                          "resource '%.64s' is outside the parent's scope", c->resources[i]);
    if (c->exp > par->exp)
        return REJECT(p, MANDATE_TOKEN_EXPIRY_WIDENED, "exp %lld is after the parent's exp %lld",
                      (long long)c->exp, (long long)par->exp);
    if (c->iat < par->iat)
        return REJECT(p, MANDATE_TOKEN_EXPIRY_WIDENED, "iat %lld is before the parent's iat %lld",
                      (long long)c->iat, (long long)par->iat);
    if (c->nbf < par->nbf)
        return REJECT(p, MANDATE_TOKEN_EXPIRY_WIDENED, "nbf %lld is before the parent's nbf %lld",
                      (long long)c->nbf, (long long)par->nbf);
    if (c->max_uses > par->max_uses)
        return REJECT(p, MANDATE_TOKEN_USES_WIDENED, "max_uses %llu is more than the parent's %llu",
                      (unsigned long long)c->max_uses, (unsigned long long)par->max_uses);
    for (size_t i = 0; i < c->n_aud; i++)
        if (!str_in(c->aud[i], par->aud, par->n_aud))
            return REJECT(p, MANDATE_TOKEN_AUDIENCE_WIDENED,
                          "audience '%.64s' is not in the parent's aud", c->aud[i]);
    if (par->workflow ? !c->workflow || strcmp(c->workflow, par->workflow) != 0 : !!c->workflow)
        return REJECT(
            p, MANDATE_TOKEN_WORKFLOW_MISMATCH, "workflow '%.64s' is not the parent's '%.64s'",
            c->workflow ? c->workflow : "(none)", par->workflow ? par->workflow : "(none)");
    return 0;
}

/* ---- live checks: time, revocation, registry, usage (every call, cached or not) ---- */

static int principal_check(const mandate_token_service *s, const char *uid, bool subject,
                           mandate_token_error *e)
{
    if (!s->hooks.principal_status)
        return 0;
    mandate_principal_status st = MANDATE_PRINCIPAL_UNKNOWN;
    int rc = s->hooks.principal_status(s->hooks.ctx, uid, &st);
    if (rc)
        return reject(e, MANDATE_TOKEN_HOOK_FAILED, "registry lookup of '%.64s' failed: %s", uid,
                      mandate_strerror(rc));
    const char *who = subject ? "agent" : "delegator";
    switch (st) {
    case MANDATE_PRINCIPAL_ACTIVE: return 0;
    case MANDATE_PRINCIPAL_SUSPENDED:
    case MANDATE_PRINCIPAL_DEPARTED:
        return reject(e,
                      subject ? MANDATE_TOKEN_SUBJECT_INACTIVE : MANDATE_TOKEN_DELEGATOR_INACTIVE,
                      "%s '%.64s' is %s", who, uid,
                      st == MANDATE_PRINCIPAL_SUSPENDED ? "suspended" : "departed");
    case MANDATE_PRINCIPAL_OWNER_INACTIVE:
        return reject(e, MANDATE_TOKEN_OWNER_INACTIVE, "the owner of %s '%.64s' is not active", who,
                      uid);
    case MANDATE_PRINCIPAL_UNKNOWN: break;
    }
    return reject(e, MANDATE_TOKEN_PRINCIPAL_UNKNOWN, "%s '%.64s' is not in the registry", who,
                  uid);
}

static int live_check(const mandate_token_service *s, mandate_token_claims *c, int64_t now,
                      mandate_token_error *e)
{
    if (c->iat > now + s->skew)
        return reject(e, MANDATE_TOKEN_ISSUED_IN_FUTURE, "iat %lld is in the future (now %lld)",
                      (long long)c->iat, (long long)now);
    if (c->nbf > now + s->skew)
        return reject(e, MANDATE_TOKEN_NOT_YET_VALID, "not valid before %lld (now %lld)",
                      (long long)c->nbf, (long long)now);
    if (now >= c->exp + s->skew)
        return reject(e, MANDATE_TOKEN_EXPIRED, "expired at %lld (now %lld)", (long long)c->exp,
                      (long long)now);
    if (s->hooks.is_revoked) {
        for (size_t i = 0; i <= c->n_ancestors; i++) {
            const char *jti = i == 0 ? c->jti : c->ancestors[i - 1];
            bool revoked = false;
            int rc = s->hooks.is_revoked(s->hooks.ctx, jti, &revoked);
            if (rc)
                return reject(e, MANDATE_TOKEN_HOOK_FAILED,
                              "revocation lookup of '%.64s' failed: %s", jti, mandate_strerror(rc));
            if (revoked && i == 0)
                return reject(e, MANDATE_TOKEN_REVOKED, "delegation '%.64s' is revoked", jti);
            if (revoked)
                return reject(e, MANDATE_TOKEN_PARENT_REVOKED,
                              "ancestor delegation '%.64s' (%zu up) is revoked", jti, i);
        }
    }
    int rc = principal_check(s, c->sub, true, e);
    for (size_t i = 0; i < c->n_delegators && !rc; i++)
        rc = principal_check(s, c->delegators[i], false, e);
    if (rc)
        return rc;
    /* The token's own count, then each ancestor's: an ancestor's count holds the uses of
     * everything re-delegated from it too (the caller counts a use on the token and every
     * ancestor), so its max_uses caps the whole tree. Without the hook nothing was used
     * (max_uses >= 1 is checked at parse). */
    c->uses = 0;
    for (size_t i = 0; s->hooks.use_count && i <= c->n_ancestors; i++) {
        const char *jti = i == 0 ? c->jti : c->ancestors[i - 1];
        uint64_t n = 0, cap = i == 0 ? c->max_uses : c->ancestor_max_uses[i - 1];
        if ((rc = s->hooks.use_count(s->hooks.ctx, jti, &n)) != 0)
            return reject(e, MANDATE_TOKEN_HOOK_FAILED, "use count of '%.64s' failed: %s", jti,
                          mandate_strerror(rc));
        if (i == 0)
            c->uses = n;
        if (n >= cap && i == 0)
            return reject(e, MANDATE_TOKEN_USES_EXHAUSTED,
                          "delegation '%.64s' used %llu of %llu times", jti, (unsigned long long)n,
                          (unsigned long long)cap);
        if (n >= cap)
            return reject(e, MANDATE_TOKEN_USES_EXHAUSTED,
                          "ancestor delegation '%.64s' (%zu up) used %llu of %llu times", jti, i,
                          (unsigned long long)n, (unsigned long long)cap);
    }
    return 0;
}

static int64_t now_or(int64_t now)
{
    return now ? now : (int64_t)time(NULL);
}

/* Wraps a shared token in a per-call handle after the live checks. Consumes the reference. */
static int finish(mandate_token_service *s, shared_token *sh, int64_t now, mandate_token **out,
                  mandate_token_error *e)
{
    mandate_token *t = malloc(sizeof *t);
    if (!t) {
        shared_unref(sh);
        return reject(e, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    }
    t->sh = sh;
    t->c = sh->c;
    int rc = live_check(s, &t->c, now, e);
    if (rc) {
        mandate_token_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* The start of verify and inspect: clears err and *out, checks the arguments. */
static int begin_check(const mandate_token_service *s, const char *token, mandate_token **out,
                       mandate_token_error *err)
{
    if (err) {
        err->reason = MANDATE_TOKEN_OK;
        err->message[0] = '\0';
    }
    if (out)
        *out = NULL;
    if (!s || !token || !out)
        return reject(err, MANDATE_TOKEN_INVALID_REQUEST, "%s", "missing argument");
    return 0;
}

/* A new shared token (one reference, an empty arena), or NULL when out of memory. */
static shared_token *shared_new(void)
{
    shared_token *sh = calloc(1, sizeof *sh);
    if (sh && !(sh->arena = md_arena_new())) {
        free(sh);
        return NULL;
    }
    if (sh)
        atomic_init(&sh->refs, 1);
    return sh;
}

MD_EXPORT int mandate_token_verify(mandate_token_service *s, const char *token, size_t len,
                                   const mandate_token_verify_args *args, mandate_token **out,
                                   mandate_token_error *err)
{
    int rc = begin_check(s, token, out, err);
    if (rc)
        return rc;
    mandate_token_verify_args none = {0};
    if (!args)
        args = &none;
    int64_t now = now_or(args->now);
    if (len > s->max_size)
        return reject(err, MANDATE_TOKEN_TOO_LARGE, "token of %zu bytes is over the cap of %zu",
                      len, s->max_size);
    uint64_t h = s->slots ? token_hash(s, token, len) : 0;
    uint64_t gen = md_keyring_generation(s->kr);
    shared_token *sh = cache_get(s, token, len, h, gen);
    if (sh)
        return finish(s, sh, now, out, err);

    if (!(sh = shared_new()))
        return reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    parse_ctx p = {s, sh->arena, err, ""};
    rc = parse_token(&p, token, len, &sh->c, &sh->gen);
    /* the chain: each parent is verified and the child checked against it */
    const char *anc[MANDATE_TOKEN_HARD_MAX_DEPTH];
    uint64_t anc_max[MANDATE_TOKEN_HARD_MAX_DEPTH];
    size_t n_anc = 0;
    mandate_token_claims cur = sh->c;
    while (!rc && cur.parent) {
        if (n_anc >= args->n_parents || !args->parents || !args->parents[n_anc]) {
            rc = reject(err, MANDATE_TOKEN_CHAIN_INCOMPLETE,
                        "parent delegation '%.64s' was not presented", cur.parent);
            break;
        }
        char what[48];
        snprintf(what, sizeof what, "parent delegation %zu: ", n_anc + 1);
        parse_ctx pp = {s, sh->arena, err, what};
        mandate_token_claims par = {0};
        uint64_t pgen = 0;
        const char *pt = args->parents[n_anc];
        rc = parse_token(&pp, pt, strlen(pt), &par, &pgen);
        if (!rc)
            rc = check_narrowing(&p, &cur, &par);
        if (!rc && pgen != sh->gen)
            rc = reject(err, MANDATE_TOKEN_INTERNAL, "%s", "key ring changed during verification");
        if (!rc) { /* depth strictly decreases, so n_anc <= max_depth */
            anc_max[n_anc] = par.max_uses;
            anc[n_anc++] = par.jti;
        }
        cur = par;
    }
    if (!rc) {
        const char **al = md_arena_array(sh->arena, n_anc ? n_anc : 1, sizeof *al);
        uint64_t *ml = md_arena_array(sh->arena, n_anc ? n_anc : 1, sizeof *ml);
        if (!al || !ml)
            rc = reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        else {
            memcpy(al, anc, n_anc * sizeof *al);
            memcpy(ml, anc_max, n_anc * sizeof *ml);
            sh->c.ancestors = al;
            sh->c.ancestor_max_uses = ml;
            sh->c.n_ancestors = n_anc;
        }
    }
    if (!rc && s->slots && !(sh->bytes = md_arena_strndup(sh->arena, token, len)))
        rc = reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    sh->len = len;
    if (rc) {
        shared_unref(sh);
        return rc;
    }
    cache_put(s, sh, h);
    return finish(s, sh, now, out, err);
}

MD_EXPORT int mandate_token_inspect(mandate_token_service *s, const char *token, size_t len,
                                    mandate_token **out, mandate_token_error *err)
{
    int rc = begin_check(s, token, out, err);
    if (rc)
        return rc;
    shared_token *sh = shared_new();
    mandate_token *t = sh ? malloc(sizeof *t) : NULL;
    if (!t) {
        shared_unref(sh);
        return reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    }
    parse_ctx p = {s, sh->arena, err, ""};
    rc = parse_token(&p, token, len, &sh->c, &sh->gen);
    if (rc) {
        shared_unref(sh);
        free(t);
        return rc;
    }
    t->sh = sh;
    t->c = sh->c;
    *out = t;
    return 0;
}

/* ---- issuing ---- */

static int json_str_list(json_t *arr, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, json_string(l[i])))
            return -1;
    return 0;
}

/* Canonicalizes a caller's list of uids (or types) into the arena. */
static int canon_list(md_arena *a, const char *const *in, size_t n, bool allow_type,
                      const char *name, const char ***out, mandate_token_error *e)
{
    if (n == 0 || !in || n > MANDATE_TOKEN_MAX_SCOPE)
        return reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s: need 1..%d entries", name,
                      MANDATE_TOKEN_MAX_SCOPE);
    const char **l = md_arena_array(a, n, sizeof *l);
    if (!l)
        return reject(e, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    for (size_t i = 0; i < n; i++) {
        bool oom = false;
        l[i] = in[i] ? arena_uid(a, in[i], strlen(in[i]), allow_type, &oom) : NULL;
        if (oom)
            return reject(e, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        if (!l[i])
            return reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s[%zu] '%.64s' is not a Cedar uid%s",
                          name, i, in[i] ? in[i] : "(null)", allow_type ? " or type" : "");
        if (str_in(l[i], l, i))
            return reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s lists '%.64s' twice", name, l[i]);
    }
    *out = l;
    return 0;
}

/* Builds, signs and serializes a token from complete claims. */
static int sign_claims(mandate_token_service *s, const mandate_token_claims *c, char **out,
                       mandate_token_error *e)
{
    char kid[MD_TOKEN_MAX_KID + 1];
    if (md_keyring_signer(s->kr, kid))
        return reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s", "the key ring has no signing key");
    int rc = 0;
    char *hs = NULL, *ps = NULL;
    md_buf b;
    md_buf_init(&b, s->max_size);
    json_t *h = json_pack("{s:s,s:s,s:s}", "alg", "EdDSA", "typ", MANDATE_TOKEN_TYP, "kid", kid);
    json_t *j = json_object(), *aud = json_array(), *act = NULL, *m = NULL;
    json_t *actions = json_array(), *resources = json_array();
    bool ok = h && j && aud && actions && resources && !json_str_list(aud, c->aud, c->n_aud) &&
              !json_str_list(actions, c->actions, c->n_actions) &&
              !json_str_list(resources, c->resources, c->n_resources);
    for (size_t i = c->n_delegators; ok && i-- > 0;) {
        json_t *a = json_pack("{s:s}", "sub", c->delegators[i]);
        ok = a && (!act || !json_object_set_new(a, "act", act));
        act = a;
    }
    if (ok) {
        m = json_pack("{s:s}", "task", c->task);
        ok = m && (!c->workflow || !json_object_set_new(m, "workflow", json_string(c->workflow)));
        ok = ok &&
             !json_object_set_new(
                 m, "scope", json_pack("{s:O,s:O}", "actions", actions, "resources", resources));
        ok = ok && !json_object_set_new(m, "max_uses", json_integer((json_int_t)c->max_uses));
        ok = ok && (!c->parent || !json_object_set_new(m, "parent", json_string(c->parent)));
        ok = ok && !json_object_set_new(m, "depth", json_integer(c->depth));
    }
    ok = ok && !json_object_set_new(j, "iss", json_string(c->iss)) &&
         !json_object_set_new(j, "sub", json_string(c->sub)) &&
         !json_object_set(j, "aud", c->n_aud == 1 ? json_array_get(aud, 0) : aud) &&
         !json_object_set_new(j, "iat", json_integer(c->iat)) &&
         !json_object_set_new(j, "nbf", json_integer(c->nbf)) &&
         !json_object_set_new(j, "exp", json_integer(c->exp)) &&
         !json_object_set_new(j, "jti", json_string(c->jti));
    /* j takes act and m in every case (json_object_set_new steals even on failure) */
    if (j) {
        bool a_ok = !json_object_set_new(j, "act", act);
        ok = !json_object_set_new(j, "mandate", m) && a_ok && ok;
    }
    if (j)
        act = m = NULL;
    ok = ok && (hs = json_dumps(h, JSON_COMPACT)) && (ps = json_dumps(j, JSON_COMPACT));
    if (!ok) {
        rc = reject(e, MANDATE_TOKEN_INTERNAL, "%s", "out of memory building the token");
        goto out;
    }
    unsigned char sig[64];
    rc = md_b64url_encode(&b, hs, strlen(hs));
    if (!rc)
        rc = md_buf_append(&b, ".", 1);
    if (!rc)
        rc = md_b64url_encode(&b, ps, strlen(ps));
    if (!rc)
        rc = md_keyring_sign(s->kr, kid, b.data, b.len, sig) ? MANDATE_ECRYPTO : 0;
    if (!rc)
        rc = md_buf_append(&b, ".", 1);
    if (!rc)
        rc = md_b64url_encode(&b, sig, sizeof sig);
    if (rc) {
        rc = rc == MANDATE_ETOOBIG
                 ? reject(e, MANDATE_TOKEN_TOO_LARGE, "token would exceed %zu bytes", s->max_size)
             : rc == MANDATE_ECRYPTO ? reject(e, MANDATE_TOKEN_INTERNAL, "%s", "signing failed")
                                     : reject(e, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        goto out;
    }
    *out = b.data;
    b.data = NULL;
out:
    md_buf_release(&b);
    free(hs);
    free(ps);
    json_decref(h);
    json_decref(j);
    json_decref(aud);
    json_decref(act);
    json_decref(m);
    json_decref(actions);
    json_decref(resources);
    return rc;
}

static void new_jti(char out[32])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2base64(out, 32, r, sizeof r, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Fills the parts of c that come from the caller's delegation (sub, task, workflow, scope). */
static int common_claims(md_arena *a, const mandate_delegation *d, mandate_token_claims *c,
                         mandate_token_error *e)
{
    bool oom = false;
    if (!d->subject || !(c->sub = arena_uid(a, d->subject, strlen(d->subject), false, &oom)))
        return reject(e, oom ? MANDATE_TOKEN_INTERNAL : MANDATE_TOKEN_INVALID_REQUEST,
                      "subject '%.64s' is not a Cedar entity uid",
                      d->subject ? d->subject : "(null)");
    if (!d->task || !d->task[0] || strlen(d->task) > MAX_STR)
        return reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s", "task must be 1..1024 bytes");
    c->task = d->task;
    if (d->workflow && !(c->workflow = arena_uid(a, d->workflow, strlen(d->workflow), false, &oom)))
        return reject(e, oom ? MANDATE_TOKEN_INTERNAL : MANDATE_TOKEN_INVALID_REQUEST,
                      "workflow '%.64s' is not a Cedar entity uid", d->workflow);
    int rc =
        canon_list(a, d->actions, d->n_actions, false, "actions", (const char ***)&c->actions, e);
    if (!rc)
        rc = canon_list(a, d->resources, d->n_resources, true, "resources",
                        (const char ***)&c->resources, e);
    c->n_actions = d->n_actions;
    c->n_resources = d->n_resources;
    if (!rc && d->lifetime < 0)
        rc = reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s", "negative lifetime");
    if (!rc && (d->n_audience > MANDATE_TOKEN_MAX_SCOPE || (d->n_audience && !d->audience)))
        rc = reject(e, MANDATE_TOKEN_INVALID_REQUEST, "%s", "bad audience list");
    for (size_t i = 0; !rc && i < d->n_audience; i++)
        if (!d->audience[i] || !d->audience[i][0] || strlen(d->audience[i]) > MAX_NAME)
            rc = reject(e, MANDATE_TOKEN_INVALID_REQUEST, "audience[%zu] is empty or too long", i);
    return rc;
}

MD_EXPORT int mandate_token_issue(mandate_token_service *s, const mandate_delegation *d, char **out,
                                  mandate_token_error *err)
{
    if (err) {
        err->reason = MANDATE_TOKEN_OK;
        err->message[0] = '\0';
    }
    if (!s || !d || !out)
        return reject(err, MANDATE_TOKEN_INVALID_REQUEST, "%s", "missing argument");
    *out = NULL;
    md_arena *a = md_arena_new();
    if (!a)
        return reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    mandate_token_claims c = {0};
    char jti[32];
    int rc = common_claims(a, d, &c, err);
    bool oom = false;
    const char *del = NULL;
    if (!rc &&
        (!d->delegator || !(del = arena_uid(a, d->delegator, strlen(d->delegator), false, &oom))))
        rc = reject(err, oom ? MANDATE_TOKEN_INTERNAL : MANDATE_TOKEN_INVALID_REQUEST,
                    "delegator '%.64s' is not a Cedar entity uid",
                    d->delegator ? d->delegator : "(null)");
    if (!rc && (d->max_uses == 0 || d->max_uses > MAX_USES))
        rc = reject(err, MANDATE_TOKEN_INVALID_REQUEST, "%s", "max_uses must be 1..10^12");
    int64_t life = d->lifetime ? d->lifetime : s->default_lifetime;
    if (!rc && life > s->max_lifetime)
        rc = reject(err, MANDATE_TOKEN_LIFETIME_TOO_LONG,
                    "lifetime %lld s is over the cap of %lld s", (long long)life,
                    (long long)s->max_lifetime);
    if (rc)
        goto out;
    c.iss = s->issuer;
    c.aud = d->n_audience ? d->audience : (const char *const *)&s->audience;
    c.n_aud = d->n_audience ? d->n_audience : 1;
    c.iat = c.nbf = now_or(d->now);
    c.exp = c.iat + life;
    new_jti(jti);
    c.jti = jti;
    c.delegators = &del;
    c.n_delegators = 1;
    c.max_uses = d->max_uses;
    rc = sign_claims(s, &c, out, err);
out:
    md_arena_free(a);
    return rc;
}

MD_EXPORT int mandate_token_redelegate(mandate_token_service *s, const mandate_token *parent,
                                       const mandate_delegation *d, char **out,
                                       mandate_token_error *err)
{
    if (err) {
        err->reason = MANDATE_TOKEN_OK;
        err->message[0] = '\0';
    }
    if (!s || !parent || !d || !out)
        return reject(err, MANDATE_TOKEN_INVALID_REQUEST, "%s", "missing argument");
    *out = NULL;
    const mandate_token_claims *par = &parent->c;
    int64_t now = now_or(d->now);
    /* the parent must still be good: revocation, registry, usage, time */
    mandate_token_claims live = parent->sh->c;
    mandate_token_error pe = {0};
    int rc = live_check(s, &live, now, &pe);
    if (rc) {
        int reason = pe.reason == MANDATE_TOKEN_REVOKED ? MANDATE_TOKEN_PARENT_REVOKED
                     : pe.reason == MANDATE_TOKEN_SUBJECT_INACTIVE
                         ? MANDATE_TOKEN_DELEGATOR_INACTIVE
                         : pe.reason;
        return reject(err, reason, "parent delegation: %s", pe.message);
    }
    md_arena *a = md_arena_new();
    if (!a)
        return reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
    mandate_token_claims c = {0};
    char jti[32];
    rc = common_claims(a, d, &c, err);
    if (rc)
        goto out;
    if (strcmp(par->iss, s->issuer) != 0) {
        rc = reject(err, MANDATE_TOKEN_ISSUER_MISMATCH,
                    "parent was issued by '%.64s', not by this issuer", par->iss);
        goto out;
    }
    if (par->depth + 1 > s->max_depth) {
        rc = reject(err, MANDATE_TOKEN_DEPTH_EXCEEDED, "depth %u would be over the cap of %u",
                    par->depth + 1, s->max_depth);
        goto out;
    }
    if (d->delegator) {
        md_buf b;
        md_buf_init(&b, 4 * MAX_NAME);
        bool same = canon_uid(d->delegator, strlen(d->delegator), false, &b) &&
                    strcmp(b.data, par->sub) == 0;
        md_buf_release(&b);
        if (!same) {
            rc = reject(err, MANDATE_TOKEN_ACT_CHAIN_MISMATCH,
                        "delegator '%.64s' is not the parent's subject '%.64s'", d->delegator,
                        par->sub);
            goto out;
        }
    }
    for (size_t i = 0; i < c.n_actions && !rc; i++)
        if (!str_in(c.actions[i], par->actions, par->n_actions))
            rc = reject(err, MANDATE_TOKEN_SCOPE_WIDENED,
                        "action '%.64s' is outside the parent's scope", c.actions[i]);
    for (size_t i = 0; i < c.n_resources && !rc; i++)
        if (!resource_covered(c.resources[i], par->resources, par->n_resources))
            rc = reject(err, MANDATE_TOKEN_SCOPE_WIDENED,
                        "resource '%.64s' is outside the parent's scope", c.resources[i]);
    for (size_t i = 0; i < d->n_audience && !rc; i++)
        if (!str_in(d->audience[i], par->aud, par->n_aud))
            rc = reject(err, MANDATE_TOKEN_AUDIENCE_WIDENED,
                        "audience '%.64s' is not in the parent's aud", d->audience[i]);
    if (!rc && c.workflow && (!par->workflow || strcmp(c.workflow, par->workflow) != 0))
        rc = reject(err, MANDATE_TOKEN_WORKFLOW_MISMATCH,
                    "workflow '%.64s' is not the parent's '%.64s'", c.workflow,
                    par->workflow ? par->workflow : "(none)");
    if (rc)
        goto out;
    uint64_t left = par->max_uses - live.uses;
    uint64_t uses = d->max_uses ? d->max_uses : left;
    if (uses > left) {
        rc = reject(err, MANDATE_TOKEN_USES_WIDENED,
                    "max_uses %llu is more than the %llu uses the parent has left",
                    (unsigned long long)uses, (unsigned long long)left);
        goto out;
    }
    c.iat = now;
    c.nbf = now > par->nbf ? now : par->nbf;
    if (d->lifetime) {
        if (d->lifetime < 0 || d->lifetime > par->exp - now) {
            rc = reject(err, MANDATE_TOKEN_EXPIRY_WIDENED,
                        "a lifetime of %lld s would end after the parent's exp %lld",
                        (long long)d->lifetime, (long long)par->exp);
            goto out;
        }
        c.exp = now + d->lifetime; /* at most par->exp, checked above without overflow */
    } else {
        c.exp = now + s->default_lifetime < par->exp ? now + s->default_lifetime : par->exp;
    }
    if (c.exp <= c.iat || c.nbf >= c.exp) {
        rc = reject(err, MANDATE_TOKEN_EXPIRED, "%s", "the parent delegation expires too soon");
        goto out;
    }
    if (c.exp - c.iat > s->max_lifetime) {
        rc = reject(err, MANDATE_TOKEN_LIFETIME_TOO_LONG, "lifetime %lld s is over the cap",
                    (long long)(c.exp - c.iat));
        goto out;
    }
    const char **chain = md_arena_array(a, par->n_delegators + 1, sizeof *chain);
    if (!chain) {
        rc = reject(err, MANDATE_TOKEN_INTERNAL, "%s", "out of memory");
        goto out;
    }
    chain[0] = par->sub;
    memcpy(chain + 1, par->delegators, par->n_delegators * sizeof *chain);
    c.iss = s->issuer;
    c.aud = d->n_audience ? d->audience : par->aud;
    c.n_aud = d->n_audience ? d->n_audience : par->n_aud;
    if (!c.workflow)
        c.workflow = par->workflow;
    new_jti(jti);
    c.jti = jti;
    c.delegators = chain;
    c.n_delegators = par->n_delegators + 1;
    c.max_uses = uses;
    c.parent = par->jti;
    c.depth = par->depth + 1;
    rc = sign_claims(s, &c, out, err);
out:
    md_arena_free(a);
    return rc;
}
