/* test_keys.c: API keys (keys_store.h): making and checking keys, malformed and wrong keys, and the
 * cache of found and verified keys: a cached key text still verifies, a different secret for a
 * cached id does not, a revocation through the same handle takes effect at once (also while the
 * key is cached as verified), one through another connection once the cache time has passed, and
 * without a cache at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/keys_store.h"

static char dir[256], path[300];

static md_keys *open_keys(int64_t ttl_ms)
{
    md_keys *k = NULL;
    md_diag d = {0};
    assert_int_equal(md_keys_sqlite_open(&k, path, &d), 0);
    assert_int_equal(md_keys_set_cache(k, ttl_ms), 0);
    return k;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mandate-keys-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/k.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[400];
    const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

/* md_keys_check's answer; on success *who gets the identity. */
static int check(md_keys *k, const char *text, char who[MD_KEY_MAX_IDENTITY + 1])
{
    md_diag d = {0};
    int rc = md_keys_check(k, text, strlen(text), who, &d);
    if (rc == MANDATE_EDENIED)
        assert_string_equal(d.msg, "the API key is not valid");
    return rc;
}

static void key_id(const char *text, char id[MD_KEY_ID_LEN + 1])
{
    memcpy(id, text + 4, MD_KEY_ID_LEN);
    id[MD_KEY_ID_LEN] = 0;
}

/* The same key with its last secret character changed (still well-formed base64url). */
static void other_secret(const char *text, char out[MD_KEY_TEXT_LEN + 1])
{
    memcpy(out, text, MD_KEY_TEXT_LEN + 1);
    char *last = out + MD_KEY_TEXT_LEN - 1;
    /* The last of 43 characters carries 4 bits: keep the low 2 bits zero ('A', 'E', 'I', ...). */
    *last = *last == 'A' ? 'E' : 'A';
}

static void test_check(void **state)
{
    (void)state;
    for (int64_t ttl = 0; ttl <= 60000; ttl += 60000) {
        md_keys *k = open_keys(ttl);
        char key[MD_KEY_TEXT_LEN + 1], bad[MD_KEY_TEXT_LEN + 1], who[MD_KEY_MAX_IDENTITY + 1];
        md_diag d = {0};
        assert_int_equal(md_keys_create(k, "Human::\"alice\"", key, &d), 0);
        assert_int_equal(strlen(key), MD_KEY_TEXT_LEN);
        for (int i = 0; i < 3; i++) { /* the first check fills the cache, the others hit it */
            memset(who, 0, sizeof who);
            assert_int_equal(check(k, key, who), 0);
            assert_string_equal(who, "Human::\"alice\"");
            other_secret(key, bad);
            assert_int_equal(check(k, bad, who), MANDATE_EDENIED);
        }
        memcpy(bad, key, sizeof bad);
        bad[5] = bad[5] == 'a' ? 'b' : 'a'; /* another id */
        assert_int_equal(check(k, bad, who), MANDATE_EDENIED);
        assert_int_equal(check(k, "mdk_short", who), MANDATE_EDENIED);
        memcpy(bad, key, sizeof bad);
        bad[MD_KEY_TEXT_LEN - 3] = '!'; /* not base64url */
        assert_int_equal(check(k, bad, who), MANDATE_EDENIED);
        /* A second key of another identity does not disturb the first. */
        char key2[MD_KEY_TEXT_LEN + 1];
        assert_int_equal(md_keys_create(k, "Service::\"bot\"", key2, &d), 0);
        assert_int_equal(check(k, key2, who), 0);
        assert_string_equal(who, "Service::\"bot\"");
        assert_int_equal(check(k, key, who), 0);
        assert_string_equal(who, "Human::\"alice\"");
        md_keys_close(k);
        teardown(NULL);
        setup(NULL);
    }
}

static void test_revoke_same_handle(void **state)
{
    (void)state;
    md_keys *k = open_keys(60000);
    char key[MD_KEY_TEXT_LEN + 1], id[MD_KEY_ID_LEN + 1], who[MD_KEY_MAX_IDENTITY + 1];
    md_diag d = {0};
    assert_int_equal(md_keys_create(k, "Human::\"bob\"", key, &d), 0);
    assert_int_equal(check(k, key, who), 0);
    assert_int_equal(check(k, key, who), 0); /* verified and cached */
    key_id(key, id);
    assert_int_equal(k->ops->revoke(k, id, &d), 0);
    assert_int_equal(check(k, key, who), MANDATE_EDENIED);
    assert_int_equal(check(k, key, who), MANDATE_EDENIED);
    md_keys_close(k);
}

static void test_revoke_other_connection(void **state)
{
    (void)state;
    md_keys *server = open_keys(300), *cli = open_keys(0), *uncached = open_keys(0);
    char key[MD_KEY_TEXT_LEN + 1], id[MD_KEY_ID_LEN + 1], who[MD_KEY_MAX_IDENTITY + 1];
    md_diag d = {0};
    assert_int_equal(md_keys_create(cli, "Human::\"carol\"", key, &d), 0);
    assert_int_equal(check(server, key, who), 0);
    assert_int_equal(check(uncached, key, who), 0);
    key_id(key, id);
    assert_int_equal(cli->ops->revoke(cli, id, &d), 0);
    /* Without a cache at once; with one, until the entry (filled by the store read) expires. */
    assert_int_equal(check(uncached, key, who), MANDATE_EDENIED);
    assert_int_equal(check(server, key, who), 0);
    struct timespec pause = {0, 400 * 1000000};
    nanosleep(&pause, NULL);
    assert_int_equal(check(server, key, who), MANDATE_EDENIED);
    md_keys_close(server);
    md_keys_close(cli);
    md_keys_close(uncached);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_same_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_other_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
