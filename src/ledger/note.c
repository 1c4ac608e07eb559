/*
 * note.c: C2SP signed notes with Ed25519 keys, and tlog-checkpoint bodies.
 *
 * Key id: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key). Verifier key text:
 * "<name>+<8 hex id>+<base64(0x01 || public key)>"; signer key text (as Go's note package):
 * "PRIVATE+KEY+<name>+<8 hex id>+<base64(0x01 || 32-byte seed)>". A signature line is
 * "— <name> <base64(id || signature)>\n" after the blank line that ends the signed text.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "ledger/ledger_int.h"

#define EM_DASH "\xe2\x80\x94 "

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= MD_NOTE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == '+' || c == 0x7f)
            return 0;
    }
    return 1;
}

static void key_id(const char *name, const uint8_t pk[32], uint8_t id[4])
{
    crypto_hash_sha256_state st;
    uint8_t h[32];
    const uint8_t sep[2] = {'\n', 0x01};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
}

static int put_key(md_buf *out, const char *prefix, const char *name, const uint8_t id[4],
                   const uint8_t key[32])
{
    uint8_t raw[33];
    char b64[64];
    raw[0] = 0x01;
    memcpy(raw + 1, key, 32);
    md_b64_encode(raw, 33, b64, sizeof b64);
    sodium_memzero(raw, sizeof raw);
    int rc = md_buf_printf(out, "%s%s+%02x%02x%02x%02x+%s", prefix, name, id[0], id[1], id[2],
                           id[3], b64);
    sodium_memzero(b64, sizeof b64);
    return rc;
}

int md_note_keygen(const char *name, md_buf *signer_text, md_buf *verifier_text, md_diag *d)
{
    if (!name || !name_ok(name, strlen(name)))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "bad key name '%s': it must be non-empty, at most %d bytes, without "
                           "spaces or '+'",
                           name ? name : "", MD_NOTE_NAME_MAX - 1);
    if (sodium_init() < 0)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "libsodium failed to initialize");
    uint8_t seed[32], pk[32], sk[64], id[4];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(pk, sk, seed);
    key_id(name, pk, id);
    int rc = put_key(signer_text, "PRIVATE+KEY+", name, id, seed);
    if (rc == 0)
        rc = put_key(verifier_text, "", name, id, pk);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return rc ? md_diag_set(d, rc, 0, 0, "out of memory") : 0;
}

/* Splits "<name>+<hex>+<b64>" and decodes it; key gets the 32 bytes after the 0x01 byte. */
static int parse_key(const char *text, size_t len, char name[MD_NOTE_NAME_MAX], uint8_t id[4],
                     uint8_t key[32], const char *what, md_diag *d)
{
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    /* The base64 part may itself hold '+': split at the first '+' and 8 hex digits later. */
    const char *p1 = memchr(text, '+', len);
    const char *p2 = p1 && (size_t)(p1 - text) + 9 < len ? p1 + 9 : NULL;
    if (!p1 || !p2 || *p2 != '+')
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                           "malformed %s: expected '<name>+<hex id>+<base64 key>'", what);
    size_t nl = (size_t)(p1 - text);
    if (!name_ok(text, nl))
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "malformed %s: bad key name", what);
    memcpy(name, text, nl);
    name[nl] = 0;
    if (p2 - p1 - 1 != 8)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "malformed %s: key id is not 8 hex digits",
                           what);
    for (int i = 0; i < 4; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = p1[1 + 2 * i + j];
            unsigned x;
            if (c >= '0' && c <= '9')
                x = (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                x = (unsigned)(c - 'a' + 10);
            else
                return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                                   "malformed %s: key id is not 8 lowercase hex digits", what);
            v = v * 16 + x;
        }
        id[i] = (uint8_t)v;
    }
    uint8_t raw[64];
    long n = md_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - text), raw, sizeof raw);
    if (n != 33 || raw[0] != 0x01) {
        sodium_memzero(raw, sizeof raw);
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                           "malformed %s: not a base64 Ed25519 key (type 0x01, 32 bytes)", what);
    }
    memcpy(key, raw + 1, 32);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

int md_note_signer_parse(const char *text, size_t len, md_note_signer *out, md_diag *d)
{
    static const char pfx[] = "PRIVATE+KEY+";
    if (sodium_init() < 0)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "libsodium failed to initialize");
    if (len < sizeof pfx - 1 || memcmp(text, pfx, sizeof pfx - 1) != 0)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                           "malformed signing key: it does not start with 'PRIVATE+KEY+'");
    uint8_t seed[32], id[4];
    int rc = parse_key(text + sizeof pfx - 1, len - (sizeof pfx - 1), out->name, id, seed,
                       "signing key", d);
    if (rc)
        return rc;
    crypto_sign_seed_keypair(out->pk, out->sk, seed);
    sodium_memzero(seed, sizeof seed);
    key_id(out->name, out->pk, out->id);
    if (memcmp(id, out->id, 4) != 0) {
        sodium_memzero(out->sk, sizeof out->sk);
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                           "signing key '%s': its key id does not match its key", out->name);
    }
    return 0;
}

int md_note_verifier_parse(const char *text, size_t len, md_note_verifier *out, md_diag *d)
{
    uint8_t id[4];
    int rc = parse_key(text, len, out->name, id, out->pk, "verifier key", d);
    if (rc)
        return rc;
    key_id(out->name, out->pk, out->id);
    if (memcmp(id, out->id, 4) != 0)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                           "verifier key '%s': its key id does not match its key", out->name);
    return 0;
}

int md_note_verifier_format(const md_note_verifier *v, md_buf *out)
{
    return put_key(out, "", v->name, v->id, v->pk);
}

void md_note_signer_verifier(const md_note_signer *s, md_note_verifier *out)
{
    memcpy(out->name, s->name, sizeof out->name);
    memcpy(out->id, s->id, 4);
    memcpy(out->pk, s->pk, 32);
}

int md_note_sign(const md_note_signer *s, const char *text, size_t len, md_buf *out, md_diag *d)
{
    if (len == 0 || text[len - 1] != '\n')
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "note text must end with a newline");
    if (len > MD_NOTE_MAX / 2)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "note text longer than %d bytes",
                           MD_NOTE_MAX / 2);
    uint8_t sig[68];
    char b64[128];
    memcpy(sig, s->id, 4);
    crypto_sign_detached(sig + 4, NULL, (const uint8_t *)text, len, s->sk);
    md_b64_encode(sig, sizeof sig, b64, sizeof b64);
    int rc = md_buf_append(out, text, len);
    if (rc == 0)
        rc = md_buf_printf(out, "\n" EM_DASH "%s %s\n", s->name, b64);
    return rc ? md_diag_set(d, rc, 0, 0, "out of memory") : 0;
}

int md_note_open(const md_note_verifier *v, const char *note, size_t len, size_t *text_len,
                 md_diag *d)
{
    if (len > MD_NOTE_MAX)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "signed note longer than %d bytes",
                           MD_NOTE_MAX);
    if (len == 0 || note[len - 1] != '\n')
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "malformed signed note: no final newline");
    if (memchr(note, 0, len))
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "malformed signed note: a NUL byte");
    size_t split = SIZE_MAX;
    for (size_t i = len - 1; i-- > 0;)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            split = i;
            break;
        }
    if (split == SIZE_MAX || split == 0)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                           "malformed signed note: no blank line before the signatures");
    size_t tl = split + 1;
    const char *p = note + split + 2, *end = note + len;
    int found = 0, nsig = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)(eol - p);
        if (++nsig > MD_NOTE_MAX_SIGS)
            return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "signed note has over %d signatures",
                               MD_NOTE_MAX_SIGS);
        if (ll < 4 || memcmp(p, EM_DASH, 4) != 0)
            return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                               "malformed signed note: a signature line does not start with "
                               "'\xe2\x80\x94 '");
        const char *nm = p + 4;
        const char *sp = memchr(nm, ' ', (size_t)(eol - nm));
        if (!sp || !name_ok(nm, (size_t)(sp - nm)))
            return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                               "malformed signed note: bad signature line");
        uint8_t sig[128];
        long n = md_b64_decode(sp + 1, (size_t)(eol - sp - 1), sig, sizeof sig);
        if (n < 5)
            return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                               "malformed signed note: signature is not base64");
        size_t nml = (size_t)(sp - nm);
        if (nml == strlen(v->name) && memcmp(nm, v->name, nml) == 0 && memcmp(sig, v->id, 4) == 0) {
            if (n != 68 ||
                crypto_sign_verify_detached(sig + 4, (const uint8_t *)note, tl, v->pk) != 0)
                return md_diag_set(d, MANDATE_ECRYPTO, 0, 0,
                                   "signature by key '%s' does not verify", v->name);
            found = 1;
        }
        p = eol + 1;
    }
    if (!found)
        return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "note has no signature by key '%s'", v->name);
    *text_len = tl;
    return 0;
}

int md_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[MD_HASH_LEN],
                         md_buf *out)
{
    char b64[64];
    md_b64_encode(root, MD_HASH_LEN, b64, sizeof b64);
    return md_buf_printf(out, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
}

int md_checkpoint_parse(const char *text, size_t len, md_buf *origin_out, uint64_t *size,
                        uint8_t root[MD_HASH_LEN], md_diag *d)
{
    const char *p = text, *end = text + len;
    const char *line[3];
    size_t ll[3];
    for (int i = 0; i < 3; i++) {
        const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!eol)
            return md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                               "malformed checkpoint: fewer than 3 lines");
        line[i] = p;
        ll[i] = (size_t)(eol - p);
        p = eol + 1;
    }
    if (ll[0] == 0)
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "malformed checkpoint: empty origin");
    uint64_t v = 0;
    if (ll[1] == 0 || ll[1] > 19 || (ll[1] > 1 && line[1][0] == '0'))
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "malformed checkpoint: bad tree size");
    for (size_t i = 0; i < ll[1]; i++) {
        char c = line[1][i];
        if (c < '0' || c > '9')
            return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "malformed checkpoint: bad tree size");
        v = v * 10 + (uint64_t)(c - '0');
    }
    uint8_t r[64];
    if (md_b64_decode(line[2], ll[2], r, sizeof r) != MD_HASH_LEN)
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                           "malformed checkpoint: root is not a base64 SHA-256 hash");
    /* Extension lines: each non-empty. */
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol == p)
            return md_diag_set(d, MANDATE_ECORRUPT, 0, 0,
                               "malformed checkpoint: bad extension line");
        p = eol + 1;
    }
    if (origin_out) {
        origin_out->len = 0;
        if (md_buf_append(origin_out, line[0], ll[0]))
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    if (size)
        *size = v;
    if (root)
        memcpy(root, r, MD_HASH_LEN);
    return 0;
}
