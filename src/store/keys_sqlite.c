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
    [KS_PUT] = "INSERT INTO api_key(id, identity, hash, created_ms, revoked)"
               " VALUES (?1, ?2, ?3, ?4, 0)",
    [KS_GET] = "SELECT identity, hash FROM api_key WHERE id = ?1 AND revoked = 0",
    [KS_REVOKE] = "UPDATE api_key SET revoked = 1 WHERE id = ?1",
    [KS_LIST] = "SELECT id, identity, created_ms, revoked FROM api_key ORDER BY id",
};

static const char ks_schema[] =
    "CREATE TABLE IF NOT EXISTS api_key(id TEXT PRIMARY KEY, identity TEXT NOT NULL,"
    " hash BLOB NOT NULL, created_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID;";

/* A cache of found keys (id -> identity, hash) for ttl_ns; revocations by another process take
 * effect once the entry expires. Only successful lookups are cached. */
#define KS_CACHE_SLOTS 256
typedef struct ks_slot {
    char id[MD_KEY_ID_LEN + 1];
    char identity[MD_KEY_MAX_IDENTITY + 1];
    uint8_t hash[32];
    int64_t expires_ns;
} ks_slot;

typedef struct sq_keys {
    md_keys base;
    sqlite3 *db;
    sqlite3_stmt *st[KS_COUNT];
    pthread_mutex_t mu;
    char *path;
    int64_t ttl_ns;
    ks_slot *cache; /* KS_CACHE_SLOTS, NULL when caching is off */
} sq_keys;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ks_slot *slot_for(sq_keys *k, const char *id)
{
    return &k->cache[md_hash_bytes(id, strlen(id), 0x6b657973) % KS_CACHE_SLOTS];
}

void md_keys_sqlite_set_cache(md_keys *base, int64_t ttl_ms)
{
    sq_keys *k = (sq_keys *)base;
    pthread_mutex_lock(&k->mu);
    if (ttl_ms > 0 && !k->cache)
        k->cache = calloc(KS_CACHE_SLOTS, sizeof *k->cache);
    k->ttl_ns = k->cache && ttl_ms > 0 ? ttl_ms * 1000000 : 0;
    if (k->cache)
        sodium_memzero(k->cache, KS_CACHE_SLOTS * sizeof *k->cache);
    pthread_mutex_unlock(&k->mu);
}

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
    if (k->cache)
        sodium_memzero(k->cache, KS_CACHE_SLOTS * sizeof *k->cache);
    free(k->cache);
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
    int64_t now = k->ttl_ns ? now_ns() : 0;
    if (k->ttl_ns) {
        ks_slot *c = slot_for(k, id);
        if (c->expires_ns > now && !strcmp(c->id, id)) {
            snprintf(identity, MD_KEY_MAX_IDENTITY + 1, "%s", c->identity);
            memcpy(hash, c->hash, 32);
            pthread_mutex_unlock(&k->mu);
            return 0;
        }
    }
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
            if (k->ttl_ns) {
                ks_slot *c = slot_for(k, id);
                snprintf(c->id, sizeof c->id, "%s", id);
                memcpy(c->identity, identity, (size_t)n + 1);
                memcpy(c->hash, hash, 32);
                c->expires_ns = now + k->ttl_ns;
            }
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
    if (k->ttl_ns)
        slot_for(k, id)->expires_ns = 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&k->mu);
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

void md_keys_close(md_keys *k)
{
    if (k)
        k->ops->close(k);
}

/* The keyed BLAKE2b-256 of a key's secret; the key binds the hash to the key id. */
static void key_hash(const char *id, const uint8_t secret[32], uint8_t out[32])
{
    char hkey[64];
    int n = snprintf(hkey, sizeof hkey, "mandate api key v1:%s", id);
    crypto_generichash(out, 32, secret, 32, (const unsigned char *)hkey, (size_t)n);
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
    uint8_t secret[32], want[32], got[32];
    size_t n = 0;
    const char *sec = text + 4 + MD_KEY_ID_LEN + 1;
    if (sodium_base642bin(secret, sizeof secret, sec, MD_KEY_SECRET_LEN, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        n != 32)
        return md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    md_diag sd = {0};
    int rc = k->ops->get(k, id, identity_out, want, &sd);
    if (rc == MANDATE_ENOTFOUND) {
        rc = md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    } else if (rc) {
        rc = md_diag_set(d, sd.code, 0, 0, "%s", sd.msg);
    } else {
        key_hash(id, secret, got);
        if (sodium_memcmp(got, want, 32) != 0)
            rc = md_diag_set(d, MANDATE_EDENIED, 0, 0, "%s", bad);
    }
    sodium_memzero(secret, sizeof secret);
    return rc;
}
