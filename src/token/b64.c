/* b64.c: strict base64url without padding (RFC 7515 section 2, RFC 4648 section 5). */
#include "token/token_int.h"

static const char enc_table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int md_b64url_encode(md_buf *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    char quad[4];
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        quad[0] = enc_table[v >> 18];
        quad[1] = enc_table[(v >> 12) & 63];
        quad[2] = enc_table[(v >> 6) & 63];
        quad[3] = enc_table[v & 63];
        int rc = md_buf_append(out, quad, 4);
        if (rc)
            return rc;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        quad[0] = enc_table[v >> 18];
        quad[1] = enc_table[(v >> 12) & 63];
        return md_buf_append(out, quad, 2);
    }
    if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        quad[0] = enc_table[v >> 18];
        quad[1] = enc_table[(v >> 12) & 63];
        quad[2] = enc_table[(v >> 6) & 63];
        return md_buf_append(out, quad, 3);
    }
    return 0;
}

static int dec_char(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

md_b64_status md_b64url_decode(const char *s, size_t n, unsigned char *out, size_t *out_len,
                               size_t *pos)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    *pos = 0;
    for (size_t i = 0; i < n; i++) {
        int v = dec_char((unsigned char)s[i]);
        if (v < 0) {
            *pos = i;
            return MD_B64_BAD_CHAR;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (n % 4 == 1) {
        *pos = n - 1;
        return MD_B64_BAD_LENGTH;
    }
    if (acc != 0) { /* the unused low bits of the last character must be zero (canonical) */
        *pos = n - 1;
        return MD_B64_TRAILING_BITS;
    }
    *out_len = o;
    return MD_B64_OK;
}
