/*
 * keys_sqlite.c: the SQLite backend of the API key store (keys_store.h), and the key format
 * helpers shared by every backend (md_keys_create, md_keys_check).
 *
 * Table api_key(id TEXT PRIMARY KEY, identity TEXT, hash BLOB(32), created_ms INTEGER,
 * revoked INTEGER) in the data directory's database. WAL journal, synchronous=FULL, a busy
 * timeout so that the ledger's writer and this connection can share the file. One mutex
 * serializes the connection.
 */
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>

#include "store/keys_store.h"

enum { KS_PUT, KS_GET, KS_REVOKE, KS_LIST, KS_COUNT };

static const char *const ks_sql[KS_COUNT] = {
    [KS_PUT] =
        ("INSERT INTO api_key(id, identity, hash, created_ms, revoked)"
         " VALUES (?1, ?2, ?3, ?4, 0)"), /* parenthesised for clang's -Wstring-concatenation */
    [KS_GET] = "SELECT identity, hash FROM api_key WHERE id = ?1 AND revoked = 0",
    [KS_REVOKE] = "UPDATE api_key SET revoked = 1 WHERE id = ?1",
    [KS_LIST] = "SELECT id, identity, created_ms, revoked FROM api_key ORDER BY id",
};

static const char ks_schema[] =
    "CREATE TABLE IF NOT EXISTS api_key(id TEXT PRIMARY KEY, identity TEXT NOT NULL,"
    " hash BLOB NOT NULL, created_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID;";

typedef struct sq_keys {
    md_keys base;
    sqlite3 *db;
    sqlite3_stmt *st[KS_COUNT];
    pthread_mutex_t mu;
    char *path;
} sq_keys;

static int ks_err(sq_keys *k, md_diag *d, const char *what)
{
    return md_diag_set(d, MANDATE_ESTORE, 0, 0, "%s in '%s' failed: %s", what, k->path,
                       k->db ? sqlite3_errmsg(k->db) : "no connection");
}

static void ks_close(md_keys *base)
{
    sq_keys *k = (sq_keys *)base;
    for (int i = 0; i < KS_COUNT; i++)
        sqlite3_finalize(k->st[i]);
    sqlite3_close(k->db);
    pthread_mutex_destroy(&k->mu);
    free(k->path);
    free(k);
}

static int ks_put(md_keys *base, const char *id, const char *identity, const uint8_t hash[32],
                  int64_t created_ms, md_diag *d)
{
    sq_keys *k = (sq_keys *)base;
    pthread_mutex_lock(&k->mu);
    sqlite3_stmt *st = k->st[KS_PUT];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, identity, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, created_ms);
    int s = sqlite3_step(st);
    int rc = 0;
    if (s == SQLITE_CONSTRAINT)
        rc = md_diag_set(d, MANDATE_EEXIST, 0, 0, "API key id '%s' already exists", id);
    else if (s != SQLITE_DONE)
        rc = ks_err(k, d, "storing an API key");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int ks_get(md_keys *base, const char *id, char *identity, uint8_t hash[32], md_diag *d)
{
    sq_keys *k = (sq_keys *)base;
    pthread_mutex_lock(&k->mu);
    sqlite3_stmt *st = k->st[KS_GET];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int s = sqlite3_step(st), rc = 0;
    if (s == SQLITE_ROW) {
        const unsigned char *idt = sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        const void *h = sqlite3_column_blob(st, 1);
        if (!idt || n <= 0 || n > MD_KEY_MAX_IDENTITY || !h || sqlite3_column_bytes(st, 1) != 32) {
            rc = md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "API key '%s' is stored damaged", id);
        } else {
            memcpy(identity, idt, (size_t)n);
            identity[n] = 0;
            memcpy(hash, h, 32);
        }
    } else if (s == SQLITE_DONE) {
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no API key '%s'", id);
    } else {
        rc = ks_err(k, d, "reading an API key");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int ks_revoke(md_keys *base, const char *id, md_diag *d)
{
    sq_keys *k = (sq_keys *)base;
    pthread_mutex_lock(&k->mu);
    sqlite3_stmt *st = k->st[KS_REVOKE];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ks_err(k, d, "revoking an API key");
    else if (sqlite3_changes(k->db) == 0)
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no API key '%s'", id);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&k->mu);
    md_keys_forget(base, id);
    return rc;
}

static int ks_list(md_keys *base, int (*fn)(void *ctx, const md_key_info *ki), void *ctx,
                   md_diag *d)
{
    sq_keys *k = (sq_keys *)base;
    pthread_mutex_lock(&k->mu);
    sqlite3_stmt *st = k->st[KS_LIST];
    int s = SQLITE_DONE, rc = 0;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        md_key_info ki = {0};
        snprintf(ki.id, sizeof ki.id, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(ki.identity, sizeof ki.identity, "%s", (const char *)sqlite3_column_text(st, 1));
        ki.created_ms = sqlite3_column_int64(st, 2);
        ki.revoked = sqlite3_column_int(st, 3) != 0;
        rc = fn(ctx, &ki);
    }
    if (!rc && s != SQLITE_DONE)
        rc = ks_err(k, d, "listing API keys");
    sqlite3_reset(st);
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static const md_keys_ops sqlite_keys_ops = {
    .name = "sqlite",
    .close = ks_close,
    .put = ks_put,
    .get = ks_get,
    .revoke = ks_revoke,
    .list = ks_list,
};

int md_keys_sqlite_open(md_keys **out, const char *path, md_diag *d)
{
    if (!out || !path)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "no database path for the API key store");
    *out = NULL;
    sq_keys *k = calloc(1, sizeof *k);
    if (!k)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory opening '%s'", path);
    k->path = strdup(path);
    k->base.ops = &sqlite_keys_ops;
    pthread_mutex_init(&k->mu, NULL);
    int rc = 0;
    if (!k->path) {
        rc = md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory opening '%s'", path);
        goto done;
    }
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = ks_err(k, d, "opening the API key store");
        goto done;
    }
    sqlite3_busy_timeout(k->db, 10000);
    if (sqlite3_exec(k->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(k->db, ks_schema, NULL, NULL, NULL) != SQLITE_OK) {
        rc = ks_err(k, d, "creating the API key table");
        goto done;
    }
    for (int i = 0; i < KS_COUNT; i++)
        if (sqlite3_prepare_v3(k->db, ks_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &k->st[i], NULL) !=
            SQLITE_OK) {
            rc = ks_err(k, d, "preparing the API key statements");
            goto done;
        }
done:
    if (rc) {
        ks_close(&k->base);
        return rc;
    }
    *out = &k->base;
    return 0;
}

/* ---- the cache of found and verified keys (keys_store.h) ---- */

#define CACHE_SLOTS 256
typedef struct key_slot {
    char id[MD_KEY_ID_LEN + 1]; /* "": empty */
    bool verified;              /* tag is the digest of a key text that verified */
    uint8_t tag[16];
    uint8_t hash[32]; /* the stored hash of id's secret */
    int64_t expires_ns;
    size_t identity_len;
    char identity[MD_KEY_MAX_IDENTITY + 1];
} key_slot;

struct md_keys_cache {
    pthread_mutex_t mu;
    int64_t ttl_ns;
    uint64_t forgets; /* md_keys_forget calls: a store read older than one is not cached */
    uint8_t sipkey[crypto_shorthash_siphashx24_KEYBYTES];
    key_slot slots[CACHE_SLOTS];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static key_slot *slot_for(md_keys_cache *c, const char *id)
{
    return &c->slots[md_hash_bytes(id, MD_KEY_ID_LEN, 0x6b657973) % CACHE_SLOTS];
}

static void cache_free(md_keys_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    sodium_memzero(c, sizeof *c);
    free(c);
}

int md_keys_set_cache(md_keys *k, int64_t ttl_ms)
{
    if (!k)
        return MANDATE_EINVAL;
    cache_free(k->cache);
    k->cache = NULL;
    if (ttl_ms <= 0)
        return 0;
    if (sodium_init() < 0)
        return MANDATE_ECRYPTO;
    md_keys_cache *c = calloc(1, sizeof *c);
    if (!c)
        return MANDATE_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->ttl_ns = ttl_ms * 1000000;
    randombytes_buf(c->sipkey, sizeof c->sipkey);
    k->cache = c;
    return 0;
}

void md_keys_forget(md_keys *k, const char *id)
{
    md_keys_cache *c = k ? k->cache : NULL;
    if (!c || !id || strlen(id) != MD_KEY_ID_LEN)
        return;
    pthread_mutex_lock(&c->mu);
    key_slot *sl = slot_for(c, id);
    if (!strcmp(sl->id, id))
        sodium_memzero(sl, sizeof *sl);
    c->forgets++;
    pthread_mutex_unlock(&c->mu);
}

/* A fresh slot of id whose verified digest is tag: *identity_out gets its identity. */
static bool cache_verified(md_keys_cache *c, const char *id, const uint8_t tag[16],
                           char *identity_out)
{
    int64_t now = now_ns();
    pthread_mutex_lock(&c->mu);
    key_slot *sl = slot_for(c, id);
    bool hit = sl->verified && sl->expires_ns > now && !memcmp(sl->id, id, MD_KEY_ID_LEN) &&
               sodium_memcmp(sl->tag, tag, 16) == 0;
    if (hit)
        memcpy(identity_out, sl->identity, sl->identity_len + 1);
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* A fresh slot of id: *identity_out and hash get what the store said; *forgets the count to
 * pass to cache_put. */
static bool cache_stored(md_keys_cache *c, const char *id, char *identity_out, uint8_t hash[32],
                         uint64_t *forgets)
{
    int64_t now = now_ns();
    pthread_mutex_lock(&c->mu);
    key_slot *sl = slot_for(c, id);
    bool hit = sl->expires_ns > now && !strcmp(sl->id, id);
    if (hit) {
        memcpy(identity_out, sl->identity, sl->identity_len + 1);
        memcpy(hash, sl->hash, 32);
    }
    *forgets = c->forgets;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* Remembers id's store record and, when tag is not NULL, the digest of a key text that verified
 * against it. A fresh store read (!from_cache, started at read_ns) expires ttl after it. Nothing
 * is kept when md_keys_forget ran since the read. */
static void cache_put(md_keys_cache *c, const char *id, const char *identity,
                      const uint8_t hash[32], const uint8_t *tag, bool from_cache, int64_t read_ns,
                      uint64_t forgets)
{
    pthread_mutex_lock(&c->mu);
    key_slot *sl = slot_for(c, id);
    if (c->forgets == forgets && (!from_cache || !strcmp(sl->id, id))) {
        if (!from_cache) {
            memcpy(sl->id, id, MD_KEY_ID_LEN + 1);
            sl->identity_len = strlen(identity);
            memcpy(sl->identity, identity, sl->identity_len + 1);
            memcpy(sl->hash, hash, 32);
            sl->expires_ns = read_ns + c->ttl_ns;
            sl->verified = false;
        }
        if (tag) {
            memcpy(sl->tag, tag, 16);
            sl->verified = true;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

void md_keys_close(md_keys *k)
{
    if (!k)
        return;
    cache_free(k->cache);
    k->cache = NULL;
    k->ops->close(k);
}
/* The keyed BLAKE2b-256 of a key's secret; the key binds the hash to the key id. */
static void key_hash(const char *id, const uint8_t secret[32], uint8_t out[32])
{
    static const char prefix[] = "mandate api key v1:";
    unsigned char hkey[sizeof prefix - 1 + MD_KEY_ID_LEN];
    memcpy(hkey, prefix, sizeof prefix - 1);
    memcpy(hkey + sizeof prefix - 1, id, MD_KEY_ID_LEN);
    crypto_generichash(out, 32, secret, 32, hkey, sizeof hkey);
}

int md_keys_create(md_keys *k, const char *identity, char text_out[MD_KEY_TEXT_LEN + 1], md_diag *d)
{
    if (!k || !identity || !*identity || strlen(identity) > MD_KEY_MAX_IDENTITY || !text_out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "an API key needs an identity of 1 to %d bytes",
                           MD_KEY_MAX_IDENTITY);
    if (sodium_init() < 0)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "libsodium failed to initialize");
    uint8_t idb[8], secret[32], hash[32];
    char id[MD_KEY_ID_LEN + 1], sec[MD_KEY_SECRET_LEN + 1];
    randombytes_buf(idb, sizeof idb);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(id, sizeof id, idb, sizeof idb);
    sodium_bin2base64(sec, sizeof sec, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    key_hash(id, secret, hash);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int rc =
        k->ops->put(k, id, identity, hash, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, d);
    if (!rc)
        snprintf(text_out, MD_KEY_TEXT_LEN + 1, "mdk_%s_%s", id, sec);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(sec, sizeof sec);
    return rc;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int md_keys_check(md_keys *k, const char *text, size_t len, char *identity_out, md_diag *d)
{
    static const char bad[] = "the API key is not valid";
    if (!k || !text || len != MD_KEY_TEXT_LEN || memcmp(text, "mdk_", 4) ||
        !is_lower_hex(text + 4, MD_KEY_ID_LEN) || text[4 + MD_KEY_ID_LEN] != '_')
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    char id[MD_KEY_ID_LEN + 1];
    memcpy(id, text + 4, MD_KEY_ID_LEN);
    id[MD_KEY_ID_LEN] = 0;
    uint8_t tag[16];
    if (k->cache) {
        crypto_shorthash_siphashx24(tag, (const unsigned char *)text, len, k->cache->sipkey);
        if (cache_verified(k->cache, id, tag, identity_out))
            return 0;
    }
    uint8_t secret[32], want[32], got[32];
    size_t n = 0;
    const char *sec = text + 4 + MD_KEY_ID_LEN + 1;
    if (sodium_base642bin(secret, sizeof secret, sec, MD_KEY_SECRET_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        n != 32)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    md_diag sd = {0};
    md_keys_cache *c = k->cache;
    uint64_t forgets = 0;
    bool from_cache = c && cache_stored(c, id, identity_out, want, &forgets);
    int64_t read_ns = c && !from_cache ? now_ns() : 0;
    int rc = from_cache ? 0 : k->ops->get(k, id, identity_out, want, &sd);
    if (rc == MANDATE_ENOTFOUND) {
        rc = md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    } else if (rc) {
        rc = md_diag_set(d, sd.code, 0, 0, "%s", sd.msg);
    } else {
        key_hash(id, secret, got);
        bool ok = sodium_memcmp(got, want, 32) == 0;
        if (c)
            cache_put(c, id, identity_out, want, ok ? tag : NULL, from_cache, read_ns, forgets);
        if (!ok)
            rc = md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    }
    sodium_memzero(secret, sizeof secret);
    return rc;
}
