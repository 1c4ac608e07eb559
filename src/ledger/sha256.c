/*
 * sha256.c: SHA-256 (FIPS 180-4) for the Merkle tree's leaf and node hashes (ledger_int.h). On
 * x86-64 CPUs with the SHA extensions the compression runs on them (several times faster than
 * libsodium's portable code, which was most of the CPU of an append's hashing and of a full
 * verify); elsewhere, and under tools that hide the extensions (valgrind), libsodium computes
 * the digest. Both give the same digests (tests/unit/ledger/test_sha256.c compares them).
 */
#include <sodium.h>
#include <stdatomic.h>

#include "ledger/ledger_int.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MD_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static atomic_int sha_mode; /* 0: not chosen yet, 1: portable, 2: SHA extensions */

void md_sha256_set_portable(bool portable)
{
    atomic_store(&sha_mode, portable ? 1 : 0);
}

#ifdef MD_SHA_NI
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static bool cpu_has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
        return false; /* SSE4.1, SSSE3 */
    if (__get_cpuid_max(0, NULL) < 7)
        return false;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* SHA */
}

/* Compresses n 64-byte blocks into st (a..h). The message words go through four registers
 * w[0..3] of four words each; sha256rnds2 does two rounds on the state split as ABEF/CDGH. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_ni(uint32_t st[8],
                                                                    const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_loadu_si128((const __m128i *)&st[0]);  /* d c b a */
    __m128i s1 = _mm_loadu_si128((const __m128i *)&st[4]); /* h g f e */
    t = _mm_shuffle_epi32(t, 0xB1);                        /* c d a b */
    s1 = _mm_shuffle_epi32(s1, 0x1B);                      /* e f g h */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);                /* a b e f */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                     /* c d g h */
    for (; n; n--, p += 64) {
        __m128i save0 = s0, save1 = s1, w[4];
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
        for (int g = 0; g < 16; g++) {
            __m128i m = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            if (g >= 3 && g < 15) {
                __m128i x = _mm_alignr_epi8(w[g & 3], w[(g - 1) & 3], 4);
                w[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(w[(g + 1) & 3], x), w[g & 3]);
            }
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
            if (g >= 1 && g < 13)
                w[(g - 1) & 3] = _mm_sha256msg1_epu32(w[(g - 1) & 3], w[g & 3]);
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
    }
    t = _mm_shuffle_epi32(s0, 0x1B);   /* f e b a */
    s1 = _mm_shuffle_epi32(s1, 0xB1);  /* d c h g */
    s0 = _mm_blend_epi16(t, s1, 0xF0); /* d c b a */
    s1 = _mm_alignr_epi8(s1, t, 8);    /* h g f e */
    _mm_storeu_si128((__m128i *)&st[0], s0);
    _mm_storeu_si128((__m128i *)&st[4], s1);
}

typedef struct ni_ctx {
    uint32_t h[8];
    uint8_t buf[64];
    size_t fill;
} ni_ctx;

static void ni_feed(ni_ctx *c, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    if (c->fill) {
        size_t k = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->buf + c->fill, p, k);
        c->fill += k;
        p += k;
        n -= k;
        if (c->fill < 64)
            return;
        compress_ni(c->h, c->buf, 1);
        c->fill = 0;
    }
    if (n >= 64) {
        compress_ni(c->h, p, n / 64);
        p += n & ~(size_t)63;
        n &= 63;
    }
    if (n)
        memcpy(c->buf, p, n);
    c->fill = n;
}

static void sha256_ni(const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                      uint8_t out[MD_HASH_LEN])
{
    ni_ctx c = {{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                 0x5be0cd19},
                {0},
                0};
    uint64_t bits = (uint64_t)(na + nb) * 8;
    ni_feed(&c, a, na);
    ni_feed(&c, b, nb);
    c.buf[c.fill++] = 0x80;
    if (c.fill > 56) {
        memset(c.buf + c.fill, 0, 64 - c.fill);
        compress_ni(c.h, c.buf, 1);
        c.fill = 0;
    }
    memset(c.buf + c.fill, 0, 56 - c.fill);
    for (int i = 0; i < 8; i++)
        c.buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress_ni(c.h, c.buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c.h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c.h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c.h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c.h[i];
    }
}
#endif

void md_sha256_2(const void *a, size_t na, const void *b, size_t nb, uint8_t out[MD_HASH_LEN])
{
#ifdef MD_SHA_NI
    int mode = atomic_load(&sha_mode);
    if (mode == 0) {
        mode = cpu_has_sha() ? 2 : 1;
        atomic_store(&sha_mode, mode);
    }
    if (mode == 2) {
        sha256_ni(a, na, b, nb, out);
        return;
    }
#endif
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (na)
        crypto_hash_sha256_update(&st, a, na);
    if (nb)
        crypto_hash_sha256_update(&st, b, nb);
    crypto_hash_sha256_final(&st, out);
}
