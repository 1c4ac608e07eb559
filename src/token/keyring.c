/* keyring.c: the Ed25519 key ring (kid -> key pair or public key) and its JWKS document. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>

#include "token/token_int.h"

typedef struct key {
    char kid[MD_TOKEN_MAX_KID + 1];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk; /* sodium_malloc'd secret key (seed || pk), or NULL for verify-only */
} key;

struct mandate_keyring {
    pthread_rwlock_t lock;
    key *keys;
    size_t n, cap;
    long signer; /* index into keys, -1 when none */
    uint64_t generation;
};

static bool kid_valid(const char *kid)
{
    size_t n = kid ? strlen(kid) : 0;
    if (n == 0 || n > MD_TOKEN_MAX_KID)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)kid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static long find(const mandate_keyring *kr, const char *kid, size_t len)
{
    for (size_t i = 0; i < kr->n; i++)
        if (strlen(kr->keys[i].kid) == len && memcmp(kr->keys[i].kid, kid, len) == 0)
            return (long)i;
    return -1;
}

MD_EXPORT int mandate_keyring_new(mandate_keyring **out)
{
    if (!out)
        return MANDATE_EINVAL;
    *out = NULL;
    if (sodium_init() < 0)
        return MANDATE_EINTERNAL;
    mandate_keyring *kr = calloc(1, sizeof *kr);
    if (!kr)
        return MANDATE_ENOMEM;
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        free(kr);
        return MANDATE_ENOMEM;
    }
    kr->signer = -1;
    *out = kr;
    return MANDATE_OK;
}

MD_EXPORT void mandate_keyring_free(mandate_keyring *kr)
{
    if (!kr)
        return;
    for (size_t i = 0; i < kr->n; i++)
        sodium_free(kr->keys[i].sk); /* sodium_free wipes before freeing */
    sodium_memzero(kr->keys, kr->cap * sizeof *kr->keys);
    free(kr->keys);
    pthread_rwlock_destroy(&kr->lock);
    free(kr);
}

/* Adds a key; takes ownership of sk (wiped and freed on failure). */
static int add_key(mandate_keyring *kr, const char *kid, const unsigned char pk[32],
                   unsigned char *sk)
{
    int rc = MANDATE_OK;
    pthread_rwlock_wrlock(&kr->lock);
    if (find(kr, kid, strlen(kid)) >= 0) {
        rc = MANDATE_EEXIST;
        goto out;
    }
    if (kr->n == kr->cap) {
        size_t cap = kr->cap ? kr->cap * 2 : 4;
        key *k = calloc(cap, sizeof *k);
        if (!k) {
            rc = MANDATE_ENOMEM;
            goto out;
        }
        if (kr->n)
            memcpy(k, kr->keys, kr->n * sizeof *k);
        free(kr->keys);
        kr->keys = k;
        kr->cap = cap;
    }
    key *k = &kr->keys[kr->n];
    memset(k, 0, sizeof *k);
    memcpy(k->kid, kid, strlen(kid) + 1);
    memcpy(k->pk, pk, 32);
    k->sk = sk;
    sk = NULL;
    if (k->sk && kr->signer < 0)
        kr->signer = (long)kr->n;
    kr->n++;
    kr->generation++;
out:
    pthread_rwlock_unlock(&kr->lock);
    sodium_free(sk);
    return rc;
}

MD_EXPORT int mandate_keyring_add_seed(mandate_keyring *kr, const char *kid,
                                       const unsigned char seed[32])
{
    if (!kr || !seed || !kid_valid(kid))
        return MANDATE_EINVAL;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!sk)
        return MANDATE_ENOMEM;
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        sodium_free(sk);
        return MANDATE_ECRYPTO;
    }
    return add_key(kr, kid, pk, sk);
}

MD_EXPORT int mandate_keyring_generate(mandate_keyring *kr, const char *kid)
{
    if (!kr || !kid_valid(kid))
        return MANDATE_EINVAL;
    unsigned char seed[crypto_sign_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    int rc = mandate_keyring_add_seed(kr, kid, seed);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

MD_EXPORT int mandate_keyring_add_public(mandate_keyring *kr, const char *kid,
                                         const unsigned char pk[32])
{
    if (!kr || !pk || !kid_valid(kid))
        return MANDATE_EINVAL;
    return add_key(kr, kid, pk, NULL);
}

MD_EXPORT int mandate_keyring_seed(const mandate_keyring *kr, const char *kid,
                                   unsigned char seed[32])
{
    if (!kr || !kid || !seed)
        return MANDATE_EINVAL;
    mandate_keyring *m = (mandate_keyring *)kr;
    int rc = MANDATE_ENOTFOUND;
    pthread_rwlock_rdlock(&m->lock);
    long i = find(kr, kid, strlen(kid));
    if (i >= 0 && kr->keys[i].sk) {
        crypto_sign_ed25519_sk_to_seed(seed, kr->keys[i].sk);
        rc = MANDATE_OK;
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

MD_EXPORT int mandate_keyring_set_signer(mandate_keyring *kr, const char *kid)
{
    if (!kr || !kid)
        return MANDATE_EINVAL;
    int rc = MANDATE_ENOTFOUND;
    pthread_rwlock_wrlock(&kr->lock);
    long i = find(kr, kid, strlen(kid));
    if (i >= 0 && kr->keys[i].sk) {
        kr->signer = i;
        rc = MANDATE_OK;
    }
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

MD_EXPORT int mandate_keyring_remove(mandate_keyring *kr, const char *kid)
{
    if (!kr || !kid)
        return MANDATE_EINVAL;
    int rc = MANDATE_ENOTFOUND;
    pthread_rwlock_wrlock(&kr->lock);
    long i = find(kr, kid, strlen(kid));
    if (i >= 0) {
        sodium_free(kr->keys[i].sk);
        memmove(&kr->keys[i], &kr->keys[i + 1], (kr->n - (size_t)i - 1) * sizeof *kr->keys);
        kr->n--;
        sodium_memzero(&kr->keys[kr->n], sizeof *kr->keys);
        if (kr->signer == i)
            kr->signer = -1;
        else if (kr->signer > i)
            kr->signer--;
        kr->generation++;
        rc = MANDATE_OK;
    }
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

static int kid_cmp(const void *a, const void *b)
{
    return strcmp((*(const key *const *)a)->kid, (*(const key *const *)b)->kid);
}

MD_EXPORT int mandate_keyring_jwks(const mandate_keyring *kr, char **out)
{
    if (!kr || !out)
        return MANDATE_EINVAL;
    *out = NULL;
    mandate_keyring *m = (mandate_keyring *)kr;
    md_buf b;
    md_buf_init(&b, 1u << 20);
    int rc = MANDATE_OK;
    pthread_rwlock_rdlock(&m->lock);
    const key **order = calloc(kr->n ? kr->n : 1, sizeof *order);
    if (!order) {
        rc = MANDATE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < kr->n; i++)
        order[i] = &kr->keys[i];
    qsort(order, kr->n, sizeof *order, kid_cmp);
    rc = md_buf_puts(&b, "{\"keys\":[");
    for (size_t i = 0; i < kr->n && !rc; i++) {
        rc = md_buf_puts(&b, i ? ",{" : "{");
        if (!rc)
            rc = md_buf_puts(&b, "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"");
        if (!rc)
            rc = md_b64url_encode(&b, order[i]->pk, 32);
        if (!rc)
            rc = md_buf_puts(&b, "\",\"kid\":");
        if (!rc)
            rc = md_buf_json_str(&b, order[i]->kid, strlen(order[i]->kid));
        if (!rc)
            rc = md_buf_puts(&b, ",\"alg\":\"EdDSA\",\"use\":\"sig\"}");
    }
    if (!rc)
        rc = md_buf_puts(&b, "]}");
out:
    pthread_rwlock_unlock(&m->lock);
    free(order);
    if (rc) {
        md_buf_release(&b);
        return rc;
    }
    *out = b.data;
    return MANDATE_OK;
}

bool md_keyring_public(const mandate_keyring *kr, const char *kid, size_t kid_len,
                       unsigned char pk[32], uint64_t *gen)
{
    mandate_keyring *m = (mandate_keyring *)kr;
    pthread_rwlock_rdlock(&m->lock);
    long i = find(kr, kid, kid_len);
    if (i >= 0)
        memcpy(pk, kr->keys[i].pk, 32);
    if (gen)
        *gen = kr->generation;
    pthread_rwlock_unlock(&m->lock);
    return i >= 0;
}

uint64_t md_keyring_generation(const mandate_keyring *kr)
{
    mandate_keyring *m = (mandate_keyring *)kr;
    pthread_rwlock_rdlock(&m->lock);
    uint64_t g = kr->generation;
    pthread_rwlock_unlock(&m->lock);
    return g;
}

int md_keyring_signer(const mandate_keyring *kr, char kid[MD_TOKEN_MAX_KID + 1])
{
    mandate_keyring *m = (mandate_keyring *)kr;
    int rc = MANDATE_ENOTFOUND;
    pthread_rwlock_rdlock(&m->lock);
    if (kr->signer >= 0) {
        memcpy(kid, kr->keys[kr->signer].kid, strlen(kr->keys[kr->signer].kid) + 1);
        rc = MANDATE_OK;
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

int md_keyring_sign(const mandate_keyring *kr, const char *kid, const void *msg, size_t len,
                    unsigned char sig[64])
{
    mandate_keyring *m = (mandate_keyring *)kr;
    int rc = MANDATE_ENOTFOUND;
    pthread_rwlock_rdlock(&m->lock);
    long i = find(kr, kid, strlen(kid));
    if (i >= 0 && kr->keys[i].sk)
        rc = crypto_sign_detached(sig, NULL, msg, len, kr->keys[i].sk) == 0 ? MANDATE_OK
                                                                            : MANDATE_ECRYPTO;
    pthread_rwlock_unlock(&m->lock);
    return rc;
}
