/*
 * merkle.c: RFC 6962 / RFC 9162 Merkle tree hashing, proof generation over stored complete
 * subtrees, proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2), and the right-edge
 * frontier used to append.
 */
#include <sodium.h>

#include "ledger/ledger_int.h"

void md_merkle_leaf_hash(const void *data, size_t len, uint8_t out[MD_HASH_LEN])
{
    const uint8_t prefix = 0x00;
    md_sha256_2(&prefix, 1, data, len, out);
}

void md_merkle_node_hash(const uint8_t l[MD_HASH_LEN], const uint8_t r[MD_HASH_LEN],
                         uint8_t out[MD_HASH_LEN])
{
    uint8_t buf[1 + 2 * MD_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, l, MD_HASH_LEN);
    memcpy(buf + 1 + MD_HASH_LEN, r, MD_HASH_LEN);
    md_sha256_2(buf, sizeof buf, NULL, 0, out);
}

void md_merkle_empty_root(uint8_t out[MD_HASH_LEN])
{
    md_sha256_2(NULL, 0, NULL, 0, out);
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static int is_pow2(uint64_t n)
{
    return n && !(n & (n - 1));
}

static unsigned log2u(uint64_t n)
{
    unsigned l = 0;
    while (n > 1) {
        n >>= 1;
        l++;
    }
    return l;
}

/* 1 + the index of the highest set bit (0 for 0). */
static unsigned bitlen(uint64_t n)
{
    return n ? 64u - (unsigned)__builtin_clzll(n) : 0;
}

int md_merkle_edge_build(md_merkle_node_fn fn, void *ctx, uint64_t size, md_merkle_edge *e,
                         md_diag *d)
{
    e->size = size;
    memset(e->have, 0, sizeof e->have);
    if (size == 0) {
        md_merkle_empty_root(e->root);
        return 0;
    }
    /* Fold the complete subtrees of the right edge from the lowest (rightmost) up: after the
     * subtree at level j, acc is the root of the last size mod 2^(j+1) entries. */
    uint8_t acc[MD_HASH_LEN];
    int any = 0;
    for (unsigned j = 0; j <= MD_MERKLE_MAX_LEVEL; j++) {
        if (!((size >> j) & 1))
            continue;
        uint8_t s[MD_HASH_LEN];
        uint64_t start = (size >> (j + 1)) << (j + 1);
        int rc = fn(ctx, j, start >> j, s, d);
        if (rc)
            return rc;
        if (any)
            md_merkle_node_hash(s, acc, acc);
        else
            memcpy(acc, s, MD_HASH_LEN);
        any = 1;
        memcpy(e->part[j + 1], acc, MD_HASH_LEN);
        e->have[j + 1] = 1;
    }
    memcpy(e->root, acc, MD_HASH_LEN);
    return 0;
}

/* The cached root of [lo, hi) when it is a right-edge range of the edge's tree. */
static int edge_lookup(const md_merkle_edge *e, uint64_t lo, uint64_t hi, uint8_t out[MD_HASH_LEN])
{
    if (!e || hi != e->size || hi <= lo)
        return 0;
    if (lo == 0) {
        memcpy(out, e->root, MD_HASH_LEN);
        return 1;
    }
    unsigned k = bitlen(hi - lo); /* 2^(k-1) <= hi - lo < 2^k */
    if (k > MD_MERKLE_MAX_LEVEL + 1 || (lo & (((uint64_t)1 << k) - 1)) != 0 || !e->have[k])
        return 0;
    /* lo is aligned to 2^k and hi - lo < 2^k, so [lo, hi) is the last size mod 2^k entries. */
    memcpy(out, e->part[k], MD_HASH_LEN);
    return 1;
}

static int range_root_e(md_merkle_node_fn fn, void *ctx, const md_merkle_edge *e, uint64_t lo,
                        uint64_t hi, uint8_t out[MD_HASH_LEN], md_diag *d)
{
    if (hi < lo)
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "bad tree range %llu..%llu",
                           (unsigned long long)lo, (unsigned long long)hi);
    if (hi == lo) {
        md_merkle_empty_root(out);
        return 0;
    }
    uint64_t n0 = hi - lo;
    if (!is_pow2(n0) && edge_lookup(e, lo, hi, out))
        return 0;
    /* Walk the right edge: collect the complete subtrees left to right, then fold right to left. */
    uint8_t parts[MD_MERKLE_MAX_LEVEL + 1][MD_HASH_LEN];
    unsigned np = 0;
    while (lo < hi) {
        uint64_t n = hi - lo;
        uint64_t k = is_pow2(n) ? n : split_point(n);
        if (lo % k)
            return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "unaligned tree range at %llu",
                               (unsigned long long)lo);
        int rc = fn(ctx, log2u(k), lo / k, parts[np], d);
        if (rc)
            return rc;
        np++;
        lo += k;
    }
    if (np == 0) /* not reached: hi > lo */
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "empty tree range");
    memcpy(out, parts[np - 1], MD_HASH_LEN);
    for (unsigned i = np - 1; i-- > 0;)
        md_merkle_node_hash(parts[i], out, out);
    return 0;
}

int md_merkle_range_root(md_merkle_node_fn fn, void *ctx, uint64_t lo, uint64_t hi,
                         uint8_t out[MD_HASH_LEN], md_diag *d)
{
    return range_root_e(fn, ctx, NULL, lo, hi, out, d);
}

typedef struct proof_out {
    uint8_t (*p)[MD_HASH_LEN];
    size_t n;
    const md_merkle_edge *e;
} proof_out;

static int proof_add_range(proof_out *po, md_merkle_node_fn fn, void *ctx, uint64_t lo, uint64_t hi,
                           md_diag *d)
{
    if (po->n >= MD_MERKLE_MAX_PROOF)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "proof longer than %d hashes",
                           MD_MERKLE_MAX_PROOF);
    int rc = range_root_e(fn, ctx, po->e, lo, hi, po->p[po->n], d);
    if (rc == 0)
        po->n++;
    return rc;
}

/* PATH(m, D[lo:hi]) with m absolute; depth is bounded by the 64 bits of the size. */
static int incl_path(proof_out *po, md_merkle_node_fn fn, void *ctx, uint64_t m, uint64_t lo,
                     uint64_t hi, md_diag *d)
{
    if (hi - lo <= 1)
        return 0;
    uint64_t k = split_point(hi - lo);
    int rc;
    if (m < lo + k) {
        if ((rc = incl_path(po, fn, ctx, m, lo, lo + k, d)) != 0)
            return rc;
        return proof_add_range(po, fn, ctx, lo + k, hi, d);
    }
    if ((rc = incl_path(po, fn, ctx, m, lo + k, hi, d)) != 0)
        return rc;
    return proof_add_range(po, fn, ctx, lo, lo + k, d);
}

int md_merkle_inclusion_proof(md_merkle_node_fn fn, void *ctx, uint64_t index, uint64_t size,
                              uint8_t proof[][MD_HASH_LEN], size_t *n, md_diag *d)
{
    return md_merkle_inclusion_proof_edge(fn, ctx, NULL, index, size, proof, n, d);
}

int md_merkle_inclusion_proof_edge(md_merkle_node_fn fn, void *ctx, const md_merkle_edge *e,
                                   uint64_t index, uint64_t size, uint8_t proof[][MD_HASH_LEN],
                                   size_t *n, md_diag *d)
{
    *n = 0;
    if (index >= size)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                           "index %llu is past the end of a tree of %llu entries",
                           (unsigned long long)index, (unsigned long long)size);
    proof_out po = {proof, 0, e && e->size == size ? e : NULL};
    int rc = incl_path(&po, fn, ctx, index, 0, size, d);
    *n = po.n;
    return rc;
}

/* SUBPROOF(m, D[lo:hi], b), RFC 9162 2.1.4.1. */
static int subproof(proof_out *po, md_merkle_node_fn fn, void *ctx, uint64_t m, uint64_t lo,
                    uint64_t hi, int b, md_diag *d)
{
    uint64_t n = hi - lo;
    if (m == n)
        return b ? 0 : proof_add_range(po, fn, ctx, lo, hi, d);
    uint64_t k = split_point(n);
    int rc;
    if (m <= k) {
        if ((rc = subproof(po, fn, ctx, m, lo, lo + k, b, d)) != 0)
            return rc;
        return proof_add_range(po, fn, ctx, lo + k, hi, d);
    }
    if ((rc = subproof(po, fn, ctx, m - k, lo + k, hi, 0, d)) != 0)
        return rc;
    return proof_add_range(po, fn, ctx, lo, lo + k, d);
}

int md_merkle_consistency_proof(md_merkle_node_fn fn, void *ctx, uint64_t size1, uint64_t size2,
                                uint8_t proof[][MD_HASH_LEN], size_t *n, md_diag *d)
{
    return md_merkle_consistency_proof_edge(fn, ctx, NULL, size1, size2, proof, n, d);
}

int md_merkle_consistency_proof_edge(md_merkle_node_fn fn, void *ctx, const md_merkle_edge *e,
                                     uint64_t size1, uint64_t size2, uint8_t proof[][MD_HASH_LEN],
                                     size_t *n, md_diag *d)
{
    *n = 0;
    if (size1 > size2)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "consistency proof from size %llu to the smaller size %llu",
                           (unsigned long long)size1, (unsigned long long)size2);
    if (size1 == 0)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "a consistency proof from the empty tree proves nothing");
    if (size1 == size2)
        return 0;
    proof_out po = {proof, 0, e && e->size == size2 ? e : NULL};
    int rc = subproof(&po, fn, ctx, size1, 0, size2, 1, d);
    *n = po.n;
    return rc;
}

static int fail(md_diag *d, const char *what)
{
    return md_diag_set(d, MANDATE_ECRYPTO, 0, 0, "proof does not verify: %s", what);
}

int md_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t *leaf, size_t leaf_len,
                               const uint8_t (*proof)[MD_HASH_LEN], size_t n, const uint8_t *root,
                               size_t root_len, md_diag *d)
{
    if (index >= size)
        return fail(d, "index is past the end of the tree");
    if (leaf_len != MD_HASH_LEN)
        return fail(d, "leaf hash is not 32 bytes");
    if (root_len != MD_HASH_LEN)
        return fail(d, "root hash is not 32 bytes");
    if (n > MD_MERKLE_MAX_PROOF)
        return fail(d, "proof too long");
    uint64_t fn = index, sn = size - 1;
    uint8_t r[MD_HASH_LEN];
    memcpy(r, leaf, MD_HASH_LEN);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return fail(d, "proof is longer than the tree is deep");
        if ((fn & 1) || fn == sn) {
            md_merkle_node_hash(proof[i], r, r);
            if (!(fn & 1)) {
                do {
                    fn >>= 1;
                    sn >>= 1;
                } while (!(fn & 1) && fn != 0);
            }
        } else {
            md_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return fail(d, "proof is shorter than the tree is deep");
    if (sodium_memcmp(r, root, MD_HASH_LEN) != 0)
        return fail(d, "computed root does not match");
    return 0;
}

int md_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                 size_t root1_len, const uint8_t *root2, size_t root2_len,
                                 const uint8_t (*proof)[MD_HASH_LEN], size_t n, md_diag *d)
{
    if (size1 > size2)
        return fail(d, "size1 is greater than size2");
    if (size1 == 0)
        return fail(d, "a consistency proof from the empty tree proves nothing");
    if (size1 == size2) {
        if (n != 0)
            return fail(d, "sizes are equal but the proof is not empty");
        if (root1_len != root2_len || memcmp(root1, root2, root1_len) != 0)
            return fail(d, "sizes are equal but the roots differ");
        return 0;
    }
    if (root1_len != MD_HASH_LEN || root2_len != MD_HASH_LEN)
        return fail(d, "root hash is not 32 bytes");
    if (n == 0)
        return fail(d, "proof is empty");
    if (n > MD_MERKLE_MAX_PROOF)
        return fail(d, "proof too long");
    size_t i = 0;
    uint8_t fr[MD_HASH_LEN], sr[MD_HASH_LEN];
    if (is_pow2(size1)) {
        memcpy(fr, root1, MD_HASH_LEN);
    } else {
        memcpy(fr, proof[0], MD_HASH_LEN);
        i = 1;
    }
    memcpy(sr, fr, MD_HASH_LEN);
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < n; i++) {
        if (sn == 0)
            return fail(d, "proof is longer than the tree is deep");
        if ((fn & 1) || fn == sn) {
            md_merkle_node_hash(proof[i], fr, fr);
            md_merkle_node_hash(proof[i], sr, sr);
            if (!(fn & 1)) {
                do {
                    fn >>= 1;
                    sn >>= 1;
                } while (!(fn & 1) && fn != 0);
            }
        } else {
            md_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return fail(d, "proof is shorter than the tree is deep");
    if (sodium_memcmp(fr, root1, MD_HASH_LEN) != 0)
        return fail(d, "computed first root does not match");
    if (sodium_memcmp(sr, root2, MD_HASH_LEN) != 0)
        return fail(d, "computed second root does not match");
    return 0;
}

int md_merkle_frontier_push(md_merkle_frontier *f, const uint8_t leaf[MD_HASH_LEN],
                            md_merkle_emit_fn emit, void *ctx)
{
    if (f->size >= ((uint64_t)1 << MD_MERKLE_MAX_LEVEL))
        return MANDATE_ETOOBIG;
    uint8_t cur[MD_HASH_LEN];
    memcpy(cur, leaf, MD_HASH_LEN);
    uint64_t idx = f->size;
    unsigned level = 0;
    int rc = emit ? emit(ctx, 0, idx, cur) : 0;
    while (rc == 0 && (f->size >> level) & 1) {
        md_merkle_node_hash(f->h[level], cur, cur);
        level++;
        idx >>= 1;
        if (emit)
            rc = emit(ctx, level, idx, cur);
    }
    if (rc)
        return rc;
    memcpy(f->h[level], cur, MD_HASH_LEN);
    f->size++;
    return 0;
}

void md_merkle_frontier_root(const md_merkle_frontier *f, uint8_t out[MD_HASH_LEN])
{
    int have = 0;
    for (unsigned k = 0; k <= MD_MERKLE_MAX_LEVEL; k++) {
        if (!((f->size >> k) & 1))
            continue;
        if (!have)
            memcpy(out, f->h[k], MD_HASH_LEN);
        else
            md_merkle_node_hash(f->h[k], out, out);
        have = 1;
    }
    if (!have)
        md_merkle_empty_root(out);
}

void md_b64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    sodium_bin2base64(out, out_cap, in, n, sodium_base64_VARIANT_ORIGINAL);
}

long md_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t got = 0;
    const char *end = NULL;
    if (n == 0)
        return 0;
    if (n % 4 != 0 || n / 4 * 3 > cap + 2)
        return -1;
    if (sodium_base642bin(out, cap, in, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != in + n)
        return -1;
    /* Reject non-canonical text (stray bits in the last character). */
    char check[1025]; /* the helper decodes hashes, keys and signatures only */
    if (got > 760)
        return -1;
    sodium_bin2base64(check, sizeof check, out, got, sodium_base64_VARIANT_ORIGINAL);
    if (strlen(check) != n || memcmp(check, in, n) != 0)
        return -1;
    return (long)got;
}
