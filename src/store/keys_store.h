/*
 * keys_store.h: storage of API keys, as its own table of function pointers beside the ledger's
 * store interface (store.h). The SQLite backend (keys_sqlite.c) keeps its own tables in the data
 * directory's database (mandate.db), next to the ledger's.
 *
 * An API key is "mdk_<id>_<secret>": id is 16 lowercase hex characters (8 random bytes) that
 * names the key, secret is 43 base64url characters (32 random bytes). Only the id, the identity
 * the key is bound to (a Cedar uid such as Human::"alice") and a keyed BLAKE2b-256 hash of the
 * secret are stored; the secret itself is shown once, when the key is made. md_keys_check
 * recomputes the hash and compares in constant time (sodium_memcmp).
 *
 * With a cache (md_keys_set_cache), a key read from the store is remembered for the cache time,
 * and so is the digest of the key text that last verified against it (keyed SipHash-128 under a
 * random per-handle key, compared in constant time): presenting that text again costs no base64,
 * no BLAKE2b and no store read. A revocation through the same handle (ops->revoke calls
 * md_keys_forget) takes effect at once; one made through another connection (the CLI) once the
 * cache entry, filled when the store was read, expires.
 *
 * A md_keys is one connection and is not thread-safe; the SQLite backend serializes calls with a
 * mutex so that the server's threads may share one.
 *
 * Depends on core only (and libsodium, SQLite).
 */
#ifndef MD_KEYS_STORE_H
#define MD_KEYS_STORE_H

#include "core/core.h"

#define MD_KEY_ID_LEN 16     /* hex characters */
#define MD_KEY_SECRET_LEN 43 /* base64url characters of 32 bytes */
#define MD_KEY_TEXT_LEN (4 + MD_KEY_ID_LEN + 1 + MD_KEY_SECRET_LEN)
#define MD_KEY_MAX_IDENTITY 1024

typedef struct md_keys md_keys;
typedef struct md_keys_ops md_keys_ops;
typedef struct md_keys_cache md_keys_cache;

struct md_keys {
    const md_keys_ops *ops;
    md_keys_cache *cache; /* NULL: no cache (the default); see md_keys_set_cache */
};

/* One stored key, as listed (no secret, no hash). */
typedef struct md_key_info {
    char id[MD_KEY_ID_LEN + 1];
    char identity[MD_KEY_MAX_IDENTITY + 1];
    int64_t created_ms;
    bool revoked;
} md_key_info;

struct md_keys_ops {
    const char *name;
    void (*close)(md_keys *k);
    /* Stores a new key record (durable on return); MANDATE_EEXIST when id is taken. */
    int (*put)(md_keys *k, const char *id, const char *identity, const uint8_t hash[32],
               int64_t created_ms, md_diag *d);
    /* Looks a key up by id: identity (a buffer of MD_KEY_MAX_IDENTITY + 1) and hash.
     * MANDATE_ENOTFOUND when unknown or revoked. */
    int (*get)(md_keys *k, const char *id, char *identity, uint8_t hash[32], md_diag *d);
    /* Revokes a key; MANDATE_ENOTFOUND when unknown. Calls md_keys_forget(k, id). */
    int (*revoke)(md_keys *k, const char *id, md_diag *d);
    /* Calls fn for every key in id order; fn returning non-zero stops with that value. */
    int (*list)(md_keys *k, int (*fn)(void *ctx, const md_key_info *ki), void *ctx, md_diag *d);
};

/* Opens the key tables in the SQLite database at path (made if missing). */
int md_keys_sqlite_open(md_keys **out, const char *path, md_diag *d);
/* Caches found and verified keys for ttl_ms (0 = no cache, the default): a key revoked by another
 * connection keeps working until its cache entry expires; one revoked through this handle stops at
 * once. MANDATE_ENOMEM leaves the handle without a cache. Not concurrent with md_keys_check. */
int md_keys_set_cache(md_keys *k, int64_t ttl_ms);
/* Drops whatever the cache holds about key id (a backend's revoke calls it). */
void md_keys_forget(md_keys *k, const char *id);
void md_keys_close(md_keys *k);

/* Makes a new key for identity (a Cedar uid, checked by the caller), stores it and writes the
 * key text (NUL-terminated, MD_KEY_TEXT_LEN + 1 bytes) to text_out. The caller wipes text_out. */
int md_keys_create(md_keys *k, const char *identity, char text_out[MD_KEY_TEXT_LEN + 1],
                   md_diag *d);
/* Checks a presented key text. On success identity_out (MD_KEY_MAX_IDENTITY + 1 bytes) gets the
 * bound identity. MANDATE_EDENIED for a malformed, unknown, revoked or wrong key (one message
 * for all, so that callers cannot probe ids); MANDATE_ESTORE when the store failed. */
int md_keys_check(md_keys *k, const char *text, size_t len, char *identity_out, md_diag *d);

#endif
