/*
 * token_int.h: private declarations of the delegation-token module (src/token/).
 *
 * The module signs and verifies delegation tokens (include/mandate/token.h). keyring.c holds the
 * keys (secrets in sodium_malloc'd memory, wiped on removal and free, guarded by a rwlock that
 * lets verifiers read while an operator adds or removes a key); b64.c is strict unpadded
 * base64url; token.c parses, checks, signs and caches. Every key ring change bumps a generation
 * number, and cached tokens from an older generation are verified again.
 *
 * May depend on: core (src/core), libsodium, jansson, pthreads. Not on cedar, store or registry:
 * callers reach those through the hooks of mandate_token_service_opts.
 */
#ifndef MD_TOKEN_INT_H
#define MD_TOKEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "mandate/token.h"

#define MD_TOKEN_MAX_KID 128

/* Copies the public key of kid into pk; false when kid is unknown. *gen gets the generation. */
bool md_keyring_public(const mandate_keyring *kr, const char *kid, size_t kid_len,
                       unsigned char pk[32], uint64_t *gen);
/* The current generation (bumped by every add and remove). */
uint64_t md_keyring_generation(const mandate_keyring *kr);
/* Copies the signer's kid (NUL-terminated) into kid; MANDATE_ENOTFOUND when there is none. */
int md_keyring_signer(const mandate_keyring *kr, char kid[MD_TOKEN_MAX_KID + 1]);
/* Signs msg with key kid into sig (64 bytes). */
int md_keyring_sign(const mandate_keyring *kr, const char *kid, const void *msg, size_t len,
                    unsigned char sig[64]);

/* Appends the unpadded base64url encoding of n bytes. */
int md_b64url_encode(md_buf *out, const void *p, size_t n);

typedef enum md_b64_status {
    MD_B64_OK = 0,
    MD_B64_BAD_CHAR,     /* a byte outside A-Z a-z 0-9 - _ (padding '=' included) */
    MD_B64_BAD_LENGTH,   /* length % 4 == 1 */
    MD_B64_TRAILING_BITS /* the last character carries non-zero unused bits */
} md_b64_status;

/* Strictly decodes unpadded base64url into out (room for n * 3 / 4 bytes). *pos gets the
 * 0-based offset of the first bad character. */
md_b64_status md_b64url_decode(const char *s, size_t n, unsigned char *out, size_t *out_len,
                               size_t *pos);

#endif
