/* test_merkle_vectors.c: the transparency-dev/merkle proof vectors and RFC 6962 roots, read from
 * $MANDATE_SHARED_DIR/merkle-vectors (never copied into the repo). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ledger/ledger_int.h"

static char vec_dir[4096];
static int n_incl, n_cons, n_fail;

static long b64(json_t *v, uint8_t *out, size_t cap)
{
    const char *s = json_string_value(v);
    if (!s)
        return -1;
    return md_b64_decode(s, strlen(s), out, cap);
}

/* Integers up to 2^64 - 1 (jansson stops at 2^63 - 1): read from the raw text. */
static int raw_u64(const char *text, const char *key, uint64_t *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    char *end;
    *v = strtoull(p, &end, 10);
    return end == p ? -1 : 0;
}

/* Returns 1 when the vector's outcome matches wantErr. */
static int run_vector(const char *path, int consistency)
{
    json_error_t err;
    char *text = NULL;
    size_t tlen = 0;
    if (md_read_file(path, 1 << 20, &text, &tlen, NULL) != 0)
        return 0;
    json_t *o = json_loadb(text, tlen, JSON_DECODE_INT_AS_REAL, &err);
    if (!o) {
        free(text);
        fprintf(stderr, "cannot parse %s: %s\n", path, err.text);
        return 0;
    }
    int want_err = json_is_true(json_object_get(o, "wantErr"));
    json_t *arr = json_object_get(o, "proof");
    size_t n = json_array_size(arr);
    uint8_t proof[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
    int bad_input = n > MD_MERKLE_MAX_PROOF;
    for (size_t i = 0; i < n && !bad_input; i++) {
        uint8_t tmp[128];
        if (b64(json_array_get(arr, i), tmp, sizeof tmp) != MD_HASH_LEN)
            bad_input = 1;
        else
            memcpy(proof[i], tmp, MD_HASH_LEN);
    }
    uint8_t a[128], b[128];
    long la, lb;
    int rc;
    md_diag d;
    md_diag_clear(&d);
    if (!consistency) {
        la = b64(json_object_get(o, "leafHash"), a, sizeof a);
        lb = b64(json_object_get(o, "root"), b, sizeof b);
        uint64_t idx, size;
        if (bad_input || la < 0 || lb < 0 || raw_u64(text, "leafIdx", &idx) ||
            raw_u64(text, "treeSize", &size))
            rc = MANDATE_ECRYPTO;
        else
            rc = md_merkle_verify_inclusion(idx, size, a, (size_t)la,
                                            (const uint8_t(*)[MD_HASH_LEN])proof, n, b, (size_t)lb,
                                            &d);
        n_incl++;
    } else {
        la = b64(json_object_get(o, "root1"), a, sizeof a);
        lb = b64(json_object_get(o, "root2"), b, sizeof b);
        uint64_t s1, s2;
        if (bad_input || la < 0 || lb < 0 || raw_u64(text, "size1", &s1) ||
            raw_u64(text, "size2", &s2))
            rc = MANDATE_ECRYPTO;
        else
            rc = md_merkle_verify_consistency(s1, s2, a, (size_t)la, b, (size_t)lb,
                                              (const uint8_t(*)[MD_HASH_LEN])proof, n, &d);
        n_cons++;
    }
    int ok = (rc != 0) == want_err;
    if (!ok)
        fprintf(stderr, "vector %s: wantErr=%d got rc=%d (%s)\n", path, want_err, rc, d.msg);
    json_decref(o);
    free(text);
    return ok;
}

static void walk(const char *dir, int consistency)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        if (S_ISDIR(st.st_mode))
            walk(p, consistency);
        else if (strstr(de->d_name, ".json"))
            n_fail += !run_vector(p, consistency);
    }
    closedir(dp);
}

static void test_proof_vectors(void **state)
{
    (void)state;
    char p[4200];
    snprintf(p, sizeof p, "%s/inclusion", vec_dir);
    walk(p, 0);
    snprintf(p, sizeof p, "%s/consistency", vec_dir);
    walk(p, 1);
    fprintf(stderr, "merkle vectors: %d inclusion, %d consistency, %d failed\n", n_incl, n_cons,
            n_fail);
    assert_int_equal(n_incl, 98);
    assert_int_equal(n_cons, 98);
    assert_int_equal(n_fail, 0);
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
    return n;
}

typedef struct mem_tree {
    uint8_t (*lv[64])[MD_HASH_LEN];
    uint64_t len[64];
} mem_tree;

static int mem_emit(void *ctx, unsigned level, uint64_t idx, const uint8_t h[MD_HASH_LEN])
{
    mem_tree *t = ctx;
    t->lv[level] = realloc(t->lv[level], (size_t)(idx + 1) * MD_HASH_LEN);
    memcpy(t->lv[level][idx], h, MD_HASH_LEN);
    t->len[level] = idx + 1;
    return 0;
}

static int mem_node(void *ctx, unsigned level, uint64_t idx, uint8_t out[MD_HASH_LEN], md_diag *d)
{
    mem_tree *t = ctx;
    if (idx >= t->len[level])
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "no node %u/%llu", level,
                           (unsigned long long)idx);
    memcpy(out, t->lv[level][idx], MD_HASH_LEN);
    return 0;
}

static void test_rfc6962_roots(void **state)
{
    (void)state;
    char p[4200];
    snprintf(p, sizeof p, "%s/rfc6962-roots.json", vec_dir);
    json_error_t err;
    json_t *o = json_load_file(p, 0, &err);
    assert_non_null(o);
    json_t *in = json_object_get(o, "leafInputsHex"), *roots = json_object_get(o, "rootsHex");
    assert_int_equal(json_array_size(roots), 9);
    md_merkle_frontier fr;
    memset(&fr, 0, sizeof fr);
    mem_tree t;
    memset(&t, 0, sizeof t);
    for (size_t n = 0; n <= 8; n++) {
        uint8_t want[32], got[32], got2[32];
        unhex(json_string_value(json_array_get(roots, n)), want);
        md_merkle_frontier_root(&fr, got);
        assert_memory_equal(got, want, 32);
        assert_int_equal(md_merkle_range_root(mem_node, &t, 0, n, got2, NULL), 0);
        assert_memory_equal(got2, want, 32);
        if (n < 8) {
            uint8_t data[64], leaf[32];
            size_t len = unhex(json_string_value(json_array_get(in, n)), data);
            md_merkle_leaf_hash(data, len, leaf);
            assert_int_equal(md_merkle_frontier_push(&fr, leaf, mem_emit, &t), 0);
        }
    }
    /* Every inclusion and consistency proof our generator makes over these trees verifies, and
     * a flipped bit in any proof hash makes it fail. */
    for (uint64_t size = 1; size <= 8; size++) {
        uint8_t root[32];
        md_merkle_range_root(mem_node, &t, 0, size, root, NULL);
        for (uint64_t i = 0; i < size; i++) {
            uint8_t pr[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
            size_t n;
            assert_int_equal(md_merkle_inclusion_proof(mem_node, &t, i, size, pr, &n, NULL), 0);
            assert_int_equal(md_merkle_verify_inclusion(i, size, t.lv[0][i], 32,
                                                        (const uint8_t(*)[32])pr, n, root, 32,
                                                        NULL),
                             0);
            for (size_t k = 0; k < n; k++) {
                pr[k][5] ^= 1;
                assert_int_equal(md_merkle_verify_inclusion(i, size, t.lv[0][i], 32,
                                                            (const uint8_t(*)[32])pr, n, root, 32,
                                                            NULL),
                                 MANDATE_ECRYPTO);
                pr[k][5] ^= 1;
            }
        }
        for (uint64_t s1 = 1; s1 <= size; s1++) {
            uint8_t r1[32], pr[MD_MERKLE_MAX_PROOF][MD_HASH_LEN];
            size_t n;
            md_merkle_range_root(mem_node, &t, 0, s1, r1, NULL);
            assert_int_equal(md_merkle_consistency_proof(mem_node, &t, s1, size, pr, &n, NULL), 0);
            assert_int_equal(md_merkle_verify_consistency(s1, size, r1, 32, root, 32,
                                                          (const uint8_t(*)[32])pr, n, NULL),
                             0);
        }
    }
    for (int i = 0; i < 64; i++)
        free(t.lv[i]);
    json_decref(o);
}

int main(void)
{
    const char *shared = getenv("MANDATE_SHARED_DIR");
    snprintf(vec_dir, sizeof vec_dir, "%s/merkle-vectors", shared ? shared : "../shared");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proof_vectors),
        cmocka_unit_test(test_rfc6962_roots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
