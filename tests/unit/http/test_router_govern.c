/* test_router_govern.c: GET /v1/review and GET /v1/report through the router, without sockets:
 * who may call them (admins and security through policies/admin.cedar, not a plain human, not
 * an agent even in the security group, not without a key), the JSON (a finding the data set holds,
 * the window from since and now), format=html (one page of text/html), and bad parameters (400). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "scratch.h"
#include "http/http.h"
#include "mandate/mandate.h"

static char tmp[64], data[96];
static mandate_server *srv;
static char key_admin[128], key_security[128], key_bob[128], key_agent[128];

static void write_file(const char *name, const char *text)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", data, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(tmp, sizeof tmp, "/tmp/mandate-http-govern-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    snprintf(data, sizeof data, "%s/d", tmp);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(data, "govern.test/log", &d), 0);
    write_file("policies.cedar",
               "@id(\"agents\")\npermit (principal is Agent, action, resource);\n");
    write_file("admin-entities.json", "[{\"uid\":{\"type\":\"Human\",\"id\":\"ada\"},\"attrs\":{},"
                                      "\"parents\":[{\"type\":\"Group\",\"id\":\"admins\"}]},"
                                      "{\"uid\":{\"type\":\"Human\",\"id\":\"sec\"},\"attrs\":{},"
                                      "\"parents\":[{\"type\":\"Group\",\"id\":\"security\"}]},"
                                      "{\"uid\":{\"type\":\"Agent\",\"id\":\"bot\"},\"attrs\":{},"
                                      "\"parents\":[{\"type\":\"Group\",\"id\":\"security\"}]}]");
    /* A data set with one orphan: the agent's owner departed. */
    mandate_registry *r = NULL;
    mandate_registry_opts ro = {.data_dir = data};
    assert_int_equal(mandate_registry_open(&r, &ro, &d), 0);
    mandate_principal h = {.kind = MANDATE_KIND_HUMAN, .id = "tom"};
    mandate_principal a = {.kind = MANDATE_KIND_AGENT, .id = "bot", .owner = "tom"};
    assert_int_equal(mandate_registry_add(r, &h, "test", &d), 0);
    assert_int_equal(mandate_registry_add(r, &a, "test", &d), 0);
    assert_int_equal(
        mandate_registry_set_status(r, "Human::\"tom\"", MANDATE_STATUS_DEPARTED, "test", &d), 0);
    mandate_registry_close(r);
    assert_int_equal(mandate_api_key_create(data, "Human::\"ada\"", key_admin, 128, &d), 0);
    assert_int_equal(mandate_api_key_create(data, "Human::\"sec\"", key_security, 128, &d), 0);
    assert_int_equal(mandate_api_key_create(data, "Human::\"bob\"", key_bob, 128, &d), 0);
    assert_int_equal(mandate_api_key_create(data, "Agent::\"bot\"", key_agent, 128, &d), 0);
    mandate_server_opts o = {.data_dir = data, .key_cache_ms = -1};
    if (mandate_server_open(&srv, &o, &d))
        fail_msg("open: %s", d.message);
    return 0;
}

static int teardown(void **state)
{
    mandate_server_close(srv);
    assert_int_equal(scratch_remove(tmp), 0);
    return 0;
}

/* Calls the router; returns the status, the body in *body (owned) and its content type. */
static int call(const char *path, const char *query, const char *key, char **body,
                const char **type)
{
    md_arena *a = md_arena_new();
    char auth[200];
    if (key)
        snprintf(auth, sizeof auth, "Bearer %s", key);
    md_http_req rq = {.method = "GET",
                      .path = path,
                      .query = query,
                      .authorization = key ? auth : NULL,
                      .body = "",
                      .arena = a};
    md_http_resp rs;
    md_http_handle(srv, &rq, &rs);
    md_http_settle(srv, &rs);
    *body = rs.body ? strndup(rs.body, rs.body_len) : NULL;
    if (type)
        *type = rs.content_type;
    md_http_resp_release(&rs);
    md_arena_free(a);
    return rs.status;
}

static void test_who_may(void **state)
{
    char *body = NULL;
    const char *paths[] = {"/v1/review", "/v1/report"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call(paths[i], NULL, NULL, &body, NULL), 401);
        free(body);
        assert_int_equal(call(paths[i], NULL, key_bob, &body, NULL), 403);
        assert_non_null(strstr(body, "forbidden"));
        free(body);
        /* Not even an agent in the security group: the review names weak approvers and unused
         * permissions. */
        assert_int_equal(call(paths[i], NULL, key_agent, &body, NULL), 403);
        free(body);
        assert_int_equal(call(paths[i], NULL, key_security, &body, NULL), 200);
        free(body);
        assert_int_equal(call(paths[i], NULL, key_admin, &body, NULL), 200);
        free(body);
    }
}

static void test_review_json(void **state)
{
    char *body = NULL;
    const char *type = NULL;
    assert_int_equal(call("/v1/review", "since=30d&now=4102444800000", key_security, &body, &type),
                     200);
    assert_string_equal(type, "application/json");
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "until_ms")), 4102444800000LL);
    assert_int_equal(json_integer_value(json_object_get(j, "since_ms")),
                     4102444800000LL - 30LL * 86400000);
    json_t *fs = json_object_get(j, "findings");
    bool orphan = false;
    for (size_t i = 0; i < json_array_size(fs); i++) {
        json_t *f = json_array_get(fs, i);
        orphan |= !strcmp(json_string_value(json_object_get(f, "kind")), "orphan_agent") &&
                  !strcmp(json_string_value(json_object_get(f, "subject")), "Agent::\"bot\"");
    }
    assert_true(orphan);
    json_decref(j);
    /* A threshold from the query shows in the answer. */
    assert_int_equal(call("/v1/review", "dormant_days=3", key_security, &body, NULL), 200);
    assert_non_null(strstr(body, "\"dormant_days\":3"));
    free(body);
}

static void test_report_and_html(void **state)
{
    char *body = NULL;
    const char *type = NULL;
    assert_int_equal(call("/v1/report", "since=90d", key_admin, &body, &type), 200);
    assert_string_equal(type, "application/json");
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(json_object_get(j, "theatre"));
    assert_non_null(json_object_get(j, "overall"));
    json_decref(j);
    const char *paths[] = {"/v1/review", "/v1/report"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call(paths[i], "format=html", key_admin, &body, &type), 200);
        assert_string_equal(type, "text/html; charset=utf-8");
        assert_true(!strncmp(body, "<!DOCTYPE html>", 15));
        assert_null(strstr(body, "<script"));
        free(body);
    }
}

static void test_bad_parameters(void **state)
{
    char *body = NULL;
    const char *bad[] = {"since=30x",     "since=0d",       "now=abc",
                         "format=pdf",    "dormant_days=0", "rubber_stamp_share=2",
                         "dormant_days=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (call("/v1/review", bad[i], key_admin, &body, NULL) != 400)
            fail_msg("/v1/review?%s was not refused: %s", bad[i], body);
        free(body);
    }
    assert_int_equal(call("/v1/report", "long_delegation_s=0", key_admin, &body, NULL), 400);
    free(body);
    assert_int_equal(call("/v1/report", "since=5&now=1", key_admin, &body, NULL), 400);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_who_may),
        cmocka_unit_test(test_review_json),
        cmocka_unit_test(test_report_and_html),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
