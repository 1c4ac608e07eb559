/* test_sha256.c: the ledger's SHA-256 (md_sha256_2, sha256.c) against libsodium: the FIPS 180-4
 * examples, every length from 0 to 1,100 bytes split at every kind of point between its two
 * parts (block and padding boundaries included), and random inputs; both with the path the CPU
 * chooses (the SHA extensions when present) and with the portable path forced. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

static void hex(const uint8_t *h, char *out)
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

static void check_known(void)
{
    static const struct {
        const char *msg, *digest;
    } known[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        uint8_t h[32];
        char got[65];
        size_t n = strlen(known[i].msg);
        md_sha256_2(known[i].msg, n / 2, known[i].msg + n / 2, n - n / 2, h);
        hex(h, got);
        assert_string_equal(got, known[i].digest);
    }
}

static void check_against_sodium(void)
{
    static uint8_t data[1100];
    uint64_t x = 0x243f6a8885a308d3u;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        data[i] = (uint8_t)(x >> 56);
    }
    for (size_t len = 0; len <= sizeof data; len++) {
        uint8_t want[32], got[32];
        crypto_hash_sha256(want, data, len);
        size_t splits[] = {0, 1, len / 2, len > 0 ? len - 1 : 0, len, len % 64, len % 55};
        for (size_t k = 0; k < sizeof splits / sizeof *splits; k++) {
            size_t a = splits[k] <= len ? splits[k] : len;
            md_sha256_2(data, a, data + a, len - a, got);
            if (memcmp(want, got, 32)) {
                fprintf(stderr, "digest differs: length %zu split at %zu\n", len, a);
                fail();
            }
        }
    }
    uint8_t l[32], r[32], want[32], got[32], buf[65];
    for (int i = 0; i < 1000; i++) {
        randombytes_buf(l, sizeof l);
        randombytes_buf(r, sizeof r);
        buf[0] = 0x01;
        memcpy(buf + 1, l, 32);
        memcpy(buf + 33, r, 32);
        crypto_hash_sha256(want, buf, sizeof buf);
        md_merkle_node_hash(l, r, got);
        assert_memory_equal(want, got, 32);
    }
}

static void test_cpu_path(void **state)
{
    (void)state;
    md_sha256_set_portable(false);
    check_known();
    check_against_sodium();
}

static void test_portable_path(void **state)
{
    (void)state;
    md_sha256_set_portable(true);
    check_known();
    check_against_sodium();
    md_sha256_set_portable(false);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_path),
        cmocka_unit_test(test_portable_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
