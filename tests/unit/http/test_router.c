/* test_router.c: the HTTP API through the router, without sockets (src/http/http.h): every
 * route, authentication failures, forbidden calls, JSON limits, atomic policy replacement, the
 * ledger routes, and two consistency checks: the route table against docs/openapi.yaml (both
 * directions, with each route's admin action) and the built-in admin policies against
 * policies/admin.cedar. Runs from the source tree (ctest's working directory). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "scratch.h"
#include "http/http.h"
#include "ledger/ledger_int.h"
#include "store/keys_store.h"
#include "store/store.h"
#include "mandate/mandate.h"

static char dir[256], data[300];
static mandate_server *srv;
static char key_alice[128], key_bob[128], key_agent[128];

static void copy_file(const char *from, const char *to)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(md_read_file(from, 1 << 20, &text, &len, NULL), 0);
    FILE *f = fopen(to, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/mandate-http-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/d", dir);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(data, "test.example/log", &d), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/policies.cedar", data);
    copy_file("examples/quickstart/policies.cedar", p);
    snprintf(p, sizeof p, "%s/schema.cedarschema", data);
    copy_file("examples/quickstart/schema.cedarschema", p);
    snprintf(p, sizeof p, "%s/entities.json", data);
    copy_file("examples/quickstart/entities.json", p);
    snprintf(p, sizeof p, "%s/admin-entities.json", data);
    write_file(p, "[{\"uid\":{\"type\":\"Human\",\"id\":\"alice\"},\"attrs\":{},"
                  "\"parents\":[{\"type\":\"Group\",\"id\":\"admins\"}]},"
                  "{\"uid\":{\"type\":\"Agent\",\"id\":\"bot\"},\"attrs\":{},"
                  "\"parents\":[{\"type\":\"Group\",\"id\":\"admins\"}]}]");
    assert_int_equal(
        mandate_api_key_create(data, "Human::\"alice\"", key_alice, sizeof key_alice, &d), 0);
    assert_int_equal(mandate_api_key_create(data, "Human::\"bob\"", key_bob, sizeof key_bob, &d),
                     0);
    assert_int_equal(
        mandate_api_key_create(data, "Agent::\"bot\"", key_agent, sizeof key_agent, &d), 0);
    assert_int_equal(mandate_api_key_create(data, "not a uid", p, sizeof p, &d), MANDATE_EINVAL);
    mandate_server_opts o = {.data_dir = data, .key_cache_ms = -1};
    int rc = mandate_server_open(&srv, &o, &d);
    if (rc)
        fprintf(stderr, "open: %s\n", d.message);
    assert_int_equal(rc, 0);
    return 0;
}

static int teardown(void **state)
{
    mandate_server_close(srv);
    assert_int_equal(scratch_remove(dir), 0);
    return 0;
}

/* Calls the router and settles; returns the parsed body (or NULL when not JSON). */
static json_t *call(const char *method, const char *path, const char *query, const char *key,
                    const char *body, int *status, md_http_resp *keep)
{
    md_arena *a = md_arena_new();
    char auth[200];
    if (key)
        snprintf(auth, sizeof auth, "Bearer %s", key);
    md_http_req rq = {.method = method,
                      .path = path,
                      .query = query,
                      .authorization = key ? auth : NULL,
                      .body = body ? body : "",
                      .body_len = body ? strlen(body) : 0,
                      .arena = a};
    md_http_resp rs;
    md_http_handle(srv, &rq, &rs);
    md_http_settle(srv, &rs);
    *status = rs.status;
    json_t *j = rs.body ? json_loadb(rs.body, rs.body_len, 0, NULL) : NULL;
    if (keep)
        *keep = rs;
    else
        md_http_resp_release(&rs);
    md_arena_free(a);
    return j;
}

static const char *err_code(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

static void test_public_routes(void **state)
{
    int st;
    json_t *j = call("GET", "/healthz", NULL, NULL, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "agent_path")), "ok");
    json_decref(j);
    j = call("GET", "/.well-known/jwks.json", NULL, NULL, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_t *k0 = json_array_get(json_object_get(j, "keys"), 0);
    assert_string_equal(json_string_value(json_object_get(k0, "kty")), "OKP");
    assert_string_equal(json_string_value(json_object_get(k0, "crv")), "Ed25519");
    json_decref(j);
    j = call("GET", "/nope", NULL, NULL, NULL, &st, NULL);
    assert_int_equal(st, 404);
    assert_string_equal(err_code(j), "not_found");
    json_decref(j);
    md_http_resp rs;
    j = call("DELETE", "/v1/policies", NULL, key_alice, NULL, &st, &rs);
    assert_int_equal(st, 405);
    assert_string_equal(rs.allow, "GET, PUT");
    md_http_resp_release(&rs);
    json_decref(j);
}

static void test_authentication(void **state)
{
    int st;
    md_http_resp rs;
    json_t *j = call("GET", "/v1/policies", NULL, NULL, NULL, &st, &rs);
    assert_int_equal(st, 401);
    assert_true(rs.www_authenticate);
    assert_string_equal(err_code(j), "unauthenticated");
    md_http_resp_release(&rs);
    json_decref(j);
    /* A wrong secret for a real id, a malformed key, an unknown id. */
    char wrong[128];
    snprintf(wrong, sizeof wrong, "%s", key_alice);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'A' ? 'B' : 'A';
    const char *bad[] = {wrong, "mdk_short",
                         "mdk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < 3; i++) {
        j = call("GET", "/v1/policies", NULL, bad[i], NULL, &st, NULL);
        assert_int_equal(st, 401);
        assert_string_equal(err_code(j), "unauthenticated");
        json_decref(j);
    }
    j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    /* A revoked key stops working at once. */
    char key_tmp[128];
    mandate_diag d;
    assert_int_equal(mandate_api_key_create(data, "Human::\"carol\"", key_tmp, sizeof key_tmp, &d),
                     0);
    j = call("GET", "/v1/ledger/checkpoint", NULL, key_tmp, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    char id[17];
    memcpy(id, key_tmp + 4, 16);
    id[16] = 0;
    assert_int_equal(mandate_api_key_revoke(data, id, &d), 0);
    j = call("GET", "/v1/ledger/checkpoint", NULL, key_tmp, NULL, &st, NULL);
    assert_int_equal(st, 401);
    json_decref(j);
}

/* Calls the router and asserts the status and, when code is not NULL, the error code. */
static void expect(const char *method, const char *path, const char *key, const char *body,
                   int want, const char *code)
{
    int st;
    json_t *j = call(method, path, NULL, key, body, &st, NULL);
    if (st != want)
        fail_msg("%s %s: want %d, got %d", method, path, want, st);
    if (code)
        assert_string_equal(err_code(j), code);
    json_decref(j);
}

/* A plain authorize request: principal (a Cedar uid) exports ticket T-1001. */
static const char *export_by(const char *principal)
{
    static char body[256];
    snprintf(body, sizeof body,
             "{\"principal\":\"%s\",\"action\":\"Action::\\\"export\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\"}",
             principal);
    return body;
}

static void test_forbidden(void **state)
{
    /* bob is a human but no admin: reads yes, writes and metrics no. */
    expect("PUT", "/v1/policies", key_bob, "{\"policies\":\"\"}", 403, "forbidden");
    expect("GET", "/metrics", key_bob, NULL, 403, NULL);
    expect("GET", "/v1/ledger/entries", key_bob, NULL, 200, NULL);
    /* The agent is in Group::"admins" but agents never change policies (a forbid). */
    expect("PUT", "/v1/policies", key_agent, "{\"policies\":\"\"}", 403, NULL);
    /* An agent's key asks only as that agent, on the plain path too. */
    expect("POST", "/v1/authorize", key_agent, export_by("Human::\\\"alice\\\""), 403, "forbidden");
    expect("POST", "/v1/authorize", key_agent, export_by("Agent::\\\"bot\\\""), 200, NULL);
}

/* The keys of a suspended identity stop with it, however its key's identity was spelled. */
static void test_inactive_callers(void **state)
{
    (void)state;
    mandate_diag d = {0};
    mandate_principal carol = {.kind = MANDATE_KIND_HUMAN, .id = "carol"};
    assert_int_equal(mandate_registry_add(srv->registry, &carol, "test", &d), 0);
    char key_carol[128];
    assert_int_equal(
        mandate_api_key_create(data, "Human :: \"carol\"", key_carol, sizeof key_carol, &d), 0);
    expect("GET", "/v1/ledger/entries", key_carol, NULL, 200, NULL);
    assert_int_equal(mandate_registry_set_status(srv->registry, "Human::\"carol\"",
                                                 MANDATE_STATUS_SUSPENDED, "test", &d),
                     0);
    expect("GET", "/v1/ledger/entries", key_carol, NULL, 403, "inactive");
    expect("POST", "/v1/humans/carol/resume", key_carol, "{}", 403, NULL);
    expect("POST", "/v1/authorize", key_carol, export_by("Human::\\\"carol\\\""), 403, "forbidden");
    assert_int_equal(mandate_registry_set_status(srv->registry, "Human::\"carol\"",
                                                 MANDATE_STATUS_ACTIVE, "test", &d),
                     0);
    expect("GET", "/v1/ledger/entries", key_carol, NULL, 200, NULL);
}

static void test_authorize(void **state)
{
    int st;
    uint64_t before = mandate_ledger_size(srv->ledger);
    json_t *j = call("POST", "/v1/authorize", NULL, key_alice,
                     "{\"principal\":\"Agent::\\\"support-drafter\\\"\","
                     "\"action\":{\"type\":\"Action\",\"id\":\"draft_reply\"},"
                     "\"resource\":\"Ticket::\\\"T-1001\\\"\"}",
                     &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "allow");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "reasons"), 0)),
                        "support-draft");
    json_int_t entry = json_integer_value(json_object_get(j, "entry"));
    json_decref(j);
    /* The decision is durable and readable before the response. */
    assert_true(mandate_ledger_size(srv->ledger) > (uint64_t)entry);
    assert_true(mandate_ledger_size(srv->ledger) == before + 1);
    char path[64];
    snprintf(path, sizeof path, "/v1/ledger/entries/%lld", (long long)entry);
    j = call("GET", path, NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "decision");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "body"), "decision")),
                        "allow");
    json_decref(j);

    /* Batch: allow, deny, and a malformed item that is denied with an error. */
    j = call("POST", "/v1/authorize", NULL, key_alice,
             "{\"requests\":["
             "{\"principal\":\"Agent::\\\"support-drafter\\\"\",\"action\":\"Action::\\\"send_"
             "reply\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\",\"context\":{\"approved\":true,"
             "\"approver\":{\"__entity\":{\"type\":\"Human\",\"id\":\"lee\"}}}},"
             "{\"principal\":\"Human::\\\"alice\\\"\",\"action\":\"Action::\\\"export\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\"},"
             "{\"principal\":\"Human::alice\",\"action\":\"Action::\\\"export\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\"}]}",
             &st, NULL);
    assert_int_equal(st, 200);
    json_t *ds = json_object_get(j, "decisions");
    assert_int_equal(json_array_size(ds), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 0), "decision")),
                        "allow");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 1), "decision")),
                        "deny");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(ds, 1), "reasons"), 0)),
        "no-export");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ds, 2), "decision")),
                        "deny");
    assert_non_null(json_object_get(json_array_get(ds, 2), "error"));
    json_decref(j);

    /* Malformed single requests are 400 with a deny; a context that breaks the schema too. */
    const char *bad[] = {
        "{\"principal\":\"Human::alice\",\"action\":\"Action::\\\"export\\\"\",\"resource\":"
        "\"Ticket::\\\"T\\\"\"}",
        "{\"action\":\"Action::\\\"export\\\"\",\"resource\":\"Ticket::\\\"T\\\"\"}",
        "{\"principal\":\"Agent::\\\"support-drafter\\\"\",\"action\":\"Action::\\\"send_"
        "reply\\\"\","
        "\"resource\":\"Ticket::\\\"T-1001\\\"\",\"context\":{\"approved\":\"yes\"}}",
        "{\"principal\":\"Human::\\\"alice\\\"\",\"action\":\"Action::\\\"export\\\"\","
        "\"resource\":\"Ticket::\\\"T-1001\\\"\",\"extra\":1}",
        "{\"requests\":[]}",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        j = call("POST", "/v1/authorize", NULL, key_alice, bad[i], &st, NULL);
        assert_int_equal(st, 400);
        assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
        json_decref(j);
    }
    /* A malformed delegation token: the agent path denies, naming the token check. */
    j = call("POST", "/v1/authorize", NULL, key_alice,
             "{\"action\":\"Action::\\\"draft_reply\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\",\"token\":\"x.y.z\"}",
             &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    assert_string_equal(json_string_value(json_object_get(j, "check")), "token");
    json_decref(j);
}

/* The agent path: a delegation from alice to the drafter, presented over HTTP. */
/* Registers the human alice (once) and agent `id` owned by her, delegates draft_reply on tickets
 * (5 uses) from alice to it, and makes the agent's API key. Returns the token (owned). */
static char *delegated_agent(const char *id, char *key, size_t key_cap)
{
    mandate_diag d = {0};
    mandate_principal alice = {.kind = MANDATE_KIND_HUMAN, .id = "alice"};
    mandate_principal agent = {.kind = MANDATE_KIND_AGENT, .id = id, .owner = "alice"};
    int rc = mandate_registry_add(srv->registry, &alice, "test", &d);
    if (rc && rc != MANDATE_EEXIST)
        fail_msg("add alice: %s", d.message);
    if (mandate_registry_add(srv->registry, &agent, "test", &d))
        fail_msg("add %s: %s", id, d.message);
    char subject[128];
    snprintf(subject, sizeof subject, "Agent::\"%s\"", id);
    const char *actions[] = {"Action::\"draft_reply\""}, *resources[] = {"Ticket"};
    mandate_delegation del = {.subject = subject,
                              .delegator = "Human::\"alice\"",
                              .task = "reply to T-1001",
                              .actions = actions,
                              .n_actions = 1,
                              .resources = resources,
                              .n_resources = 1,
                              .max_uses = 5};
    char *token = NULL;
    mandate_token_error te = {0};
    if (mandate_registry_delegate(srv->registry, &del, "Human::\"alice\"", &token, &te, &d))
        fail_msg("delegate: %s %s", d.message, te.message);
    if (mandate_api_key_create(data, subject, key, key_cap, &d))
        fail_msg("key for %s: %s", id, d.message);
    return token;
}

static void test_agent_path(void **state)
{
    mandate_diag d = {0};
    char key_drafter[128];
    char *token = delegated_agent("support-drafter", key_drafter, sizeof key_drafter);
    char body[4096];
    int st;
    /* The drafter's own key: allowed (policy for the agent, for alice, and the scope). */
    snprintf(body, sizeof body,
             "{\"action\":\"Action::\\\"draft_reply\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\","
             "\"token\":\"%s\"}",
             token);
    json_t *j = call("POST", "/v1/authorize", NULL, key_drafter, body, &st, NULL);
    assert_int_equal(st, 200);
    if (!json_is_true(json_object_get(j, "decision")) &&
        strcmp(json_string_value(json_object_get(j, "decision")), "allow"))
        fprintf(stderr, "agent decision: %s\n", json_dumps(j, 0));
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "allow");
    assert_true(json_is_integer(json_object_get(j, "entry")));
    json_decref(j);
    /* Outside the delegation's scope: denied by the scope check. */
    snprintf(body, sizeof body,
             "{\"action\":\"Action::\\\"read_ticket\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\","
             "\"token\":\"%s\"}",
             token);
    j = call("POST", "/v1/authorize", NULL, key_drafter, body, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    json_decref(j);
    /* Another agent's key may not present the drafter's delegation as someone else. */
    snprintf(body, sizeof body,
             "{\"principal\":\"Agent::\\\"support-drafter\\\"\",\"action\":\"Action::\\\"draft_"
             "reply\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\",\"token\":\"%s\"}",
             token);
    j = call("POST", "/v1/authorize", NULL, key_agent, body, &st, NULL);
    assert_int_equal(st, 403);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    json_decref(j);
    /* The kill switch: a suspended agent is denied at once. */
    assert_int_equal(mandate_registry_set_status(srv->registry, "Agent::\"support-drafter\"",
                                                 MANDATE_STATUS_SUSPENDED, "test", &d),
                     0);
    snprintf(body, sizeof body,
             "{\"action\":\"Action::\\\"draft_reply\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\","
             "\"token\":\"%s\"}",
             token);
    j = call("POST", "/v1/authorize", NULL, key_drafter, body, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    json_decref(j);
    assert_int_equal(mandate_registry_set_status(srv->registry, "Agent::\"support-drafter\"",
                                                 MANDATE_STATUS_ACTIVE, "test", &d),
                     0);
    free(token);
}

static void test_json_limits(void **state)
{
    int st;
    const char *bad[] = {"{", "{\"principal\":", "[1,2]", "{\"a\":1,\"a\":2}", "nul", "{}x"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        json_t *j = call("POST", "/v1/authorize", NULL, key_alice, bad[i], &st, NULL);
        assert_int_equal(st, 400);
        assert_string_equal(err_code(j), "bad_json");
        json_decref(j);
    }
    json_t *j = call("POST", "/v1/authorize", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 400);
    json_decref(j);
    /* Depth: at the limit the body parses (and fails later as a request), one past is refused. */
    unsigned max = srv->o.max_json_depth;
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"context\":");
    for (unsigned i = 1; i < max - 1; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "[");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
    for (unsigned i = 1; i < max - 1; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = 0;
    j = call("POST", "/v1/authorize", NULL, key_alice, deep, &st, NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "bad_request"); /* parsed: max levels are fine */
    json_decref(j);
    char deeper[4200];
    snprintf(deeper, sizeof deeper, "{\"x\":[%s]}", deep);
    j = call("POST", "/v1/authorize", NULL, key_alice, deeper, &st, NULL);
    assert_int_equal(st, 400);
    assert_string_equal(err_code(j), "json_too_deep");
    json_decref(j);
    assert_int_equal(md_http_json_depth_ok("\"[[[[\"", 6, 1), 0);
    assert_int_equal(md_http_json_depth_ok("[[\"\\\"[\"]]", 9, 2), 0);
    assert_int_equal(md_http_json_depth_ok("[[[]]]", 6, 2), MANDATE_ETOOBIG);
    /* Strings end at a quote after an even run of backslashes; brackets inside never count. */
    assert_int_equal(md_http_json_depth_ok("\"\\\\\"[[[", 7, 2), MANDATE_ETOOBIG);
    assert_int_equal(md_http_json_depth_ok("\"\\\\\\\"[[[\"", 9, 2), 0);
    assert_int_equal(md_http_json_depth_ok("[\"\\\"]\",[\"]", 10, 2), 0);
    assert_int_equal(md_http_json_depth_ok("[\"\\\"]\",[[", 9, 2), MANDATE_ETOOBIG);
    assert_int_equal(md_http_json_depth_ok("\"abc[[[", 7, 2), 0);

    /* Batch: at the cap fine, one past refused. */
    md_buf b;
    md_buf_init(&b, 1 << 20);
    md_buf_puts(&b, "{\"requests\":[");
    for (unsigned i = 0; i <= srv->o.max_batch; i++)
        md_buf_printf(&b,
                      "%s{\"principal\":\"Human::\\\"alice\\\"\",\"action\":"
                      "\"Action::\\\"export\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\"}",
                      i ? "," : "");
    md_buf_puts(&b, "]}");
    j = call("POST", "/v1/authorize", NULL, key_alice, b.data, &st, NULL);
    assert_int_equal(st, 413);
    assert_string_equal(err_code(j), "batch_too_large");
    json_decref(j);
    /* Drop the last item: exactly max_batch. */
    char *last = strrchr(b.data, '{');
    last[-1] = ']';
    last[0] = '}';
    last[1] = 0;
    j = call("POST", "/v1/authorize", NULL, key_alice, b.data, &st, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "decisions")), srv->o.max_batch);
    json_decref(j);
    md_buf_release(&b);
}

static void test_policies(void **state)
{
    int st;
    json_t *j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    char sha[65];
    snprintf(sha, sizeof sha, "%s", json_string_value(json_object_get(j, "sha256")));
    json_int_t version = json_integer_value(json_object_get(j, "version"));
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 5);
    json_decref(j);

    /* Does not parse; does not validate: refused, old set stays. */
    const char *bad[] = {"{\"policies\":\"permit(principal, action, resource\"}",
                         "{\"policies\":\"permit(principal, action, resource) when { "
                         "principal.nope == 1 };\"}"};
    for (size_t i = 0; i < 2; i++) {
        j = call("PUT", "/v1/policies", NULL, key_alice, bad[i], &st, NULL);
        assert_int_equal(st, 422);
        assert_string_equal(err_code(j), "invalid_policies");
        assert_true(json_array_size(json_object_get(j, "errors")) >= 1);
        json_decref(j);
        j = call("POST", "/v1/policies/validate", NULL, key_alice, bad[i], &st, NULL);
        assert_int_equal(st, 200);
        assert_false(json_is_true(json_object_get(j, "valid")));
        json_decref(j);
    }
    j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "sha256")), sha);
    json_decref(j);

    /* A valid replacement: the export forbid goes away and alice may read tickets. */
    const char *good = "{\"policies\":\"@id(\\\"all-read\\\")\\npermit(principal is Human, action "
                       "== Action::\\\"read_ticket\\\", resource);\"}";
    j = call("POST", "/v1/policies/validate", NULL, key_alice, good, &st, NULL);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(j, "valid")));
    json_decref(j);
    j = call("PUT", "/v1/policies", NULL, key_alice, good, &st, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), version + 1);
    json_int_t entry = json_integer_value(json_object_get(j, "entry"));
    json_decref(j);
    char path[64];
    snprintf(path, sizeof path, "/v1/ledger/entries/%lld", (long long)entry);
    j = call("GET", path, NULL, key_alice, NULL, &st, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "policy");
    json_decref(j);
    j = call("POST", "/v1/authorize", NULL, key_bob,
             "{\"principal\":\"Human::\\\"bob\\\"\",\"action\":\"Action::\\\"read_ticket\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\"}",
             &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "allow");
    json_decref(j);
    /* The file on disk is the new set (a restart keeps it). */
    char p[400], *text = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/policies.cedar", data);
    assert_int_equal(md_read_file(p, 1 << 20, &text, &len, NULL), 0);
    assert_non_null(strstr(text, "all-read"));
    free(text);
    j = call("PUT", "/v1/policies", NULL, key_alice, "{\"policies\":1}", &st, NULL);
    assert_int_equal(st, 400);
    json_decref(j);
}

static void test_ledger_routes(void **state)
{
    int st;
    json_t *j = call("GET", "/v1/ledger/checkpoint", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_int_t size = json_integer_value(json_object_get(j, "size"));
    assert_true(size >= 3);
    const char *note = json_string_value(json_object_get(j, "checkpoint"));
    uint64_t csize = 0;
    assert_int_equal(mandate_ledger_check_checkpoint(
                         note, strlen(note), json_string_value(json_object_get(j, "verifier_key")),
                         &csize, NULL, NULL),
                     0);
    assert_int_equal(csize, (uint64_t)size);
    json_decref(j);
    j = call("GET", "/v1/ledger/entries", "start=1&limit=2", key_bob, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 2);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(j, "entries"), 0), "index")),
                     1);
    json_decref(j);
    const char *badq[] = {"limit=0", "limit=101", "start=x", "start=-1"};
    for (size_t i = 0; i < MD_ARRAY_LEN(badq); i++) {
        j = call("GET", "/v1/ledger/entries", badq[i], key_bob, NULL, &st, NULL);
        assert_int_equal(st, 400);
        json_decref(j);
    }
    j = call("GET", "/v1/ledger/entries/999999", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 404);
    json_decref(j);
    j = call("GET", "/v1/ledger/entries/abc", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 400);
    json_decref(j);
    md_http_resp rs;
    j = call("GET", "/v1/ledger/proofs/inclusion", "index=1", key_bob, NULL, &st, &rs);
    assert_int_equal(st, 200);
    assert_int_equal(mandate_ledger_check_proof(rs.body, rs.body_len, NULL), 0);
    md_http_resp_release(&rs);
    json_decref(j);
    j = call("GET", "/v1/ledger/proofs/consistency", "size1=1&size2=3", key_bob, NULL, &st, &rs);
    assert_int_equal(st, 200);
    assert_int_equal(mandate_ledger_check_proof(rs.body, rs.body_len, NULL), 0);
    md_http_resp_release(&rs);
    json_decref(j);
    j = call("GET", "/v1/ledger/proofs/inclusion", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 400);
    json_decref(j);
    j = call("GET", "/v1/ledger/proofs/inclusion", "index=999999", key_bob, NULL, &st, NULL);
    assert_true(st == 404 || st == 400);
    json_decref(j);
}

static void test_metrics(void **state)
{
    int st;
    md_http_resp rs;
    json_t *j = call("GET", "/metrics", NULL, key_alice, NULL, &st, &rs);
    assert_int_equal(st, 200);
    assert_null(j);
    assert_non_null(strstr(rs.body, "mandate_decisions_total{decision=\"allow\"} "));
    assert_non_null(strstr(rs.body, "mandate_authorize_duration_seconds_bucket{le=\"+Inf\"} "));
    assert_non_null(strstr(rs.body, "mandate_ledger_entries "));
    assert_non_null(strstr(rs.body, "mandate_approvals_pending 0\n"));
    /* The group commit histogram: cumulative buckets ending in every commit. */
    unsigned long long commits = 0, last = 0, n = 0;
    const char *p = strstr(rs.body, "\nmandate_ledger_commits_total ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nmandate_ledger_commits_total %llu", &commits), 1);
    assert_true(commits >= 1);
    unsigned buckets = 0;
    for (p = rs.body; (p = strstr(p, "\nmandate_ledger_group_commit_seconds_bucket{le=")); p++) {
        const char *v = strchr(p, '}');
        assert_non_null(v);
        assert_int_equal(sscanf(v, "} %llu", &n), 1);
        assert_true(n >= last);
        last = n;
        buckets++;
    }
    assert_int_equal(buckets, MANDATE_LEDGER_COMMIT_BUCKETS + 1);
    assert_int_equal(last, commits);
    p = strstr(rs.body, "\nmandate_ledger_group_commit_seconds_count ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\nmandate_ledger_group_commit_seconds_count %llu", &n), 1);
    assert_int_equal(n, commits);
    assert_true(atomic_load(&srv->m.allow) >= 2);
    assert_true(atomic_load(&srv->m.deny) >= 1);
    md_http_resp_release(&rs);
}

/* Route table <-> docs/openapi.yaml, both directions, with the admin action of each route. */
static void test_openapi_matches_routes(void **state)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(md_read_file("docs/openapi.yaml", 1 << 20, &text, &len, NULL), 0);
    bool in_paths = false;
    char path[256] = "";
    size_t found = 0;
    bool seen[128] = {false};
    const md_http_route *cur = NULL;
    char *p = text;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (!strcmp(p, "paths:"))
            in_paths = true;
        else if (in_paths && p[0] && p[0] != ' ')
            in_paths = false;
        else if (in_paths && !strncmp(p, "  /", 3) && p[strlen(p) - 1] == ':') {
            snprintf(path, sizeof path, "%.*s", (int)(strlen(p) - 3), p + 2);
            cur = NULL;
        } else if (in_paths && !strncmp(p, "    ", 4) && p[4] != ' ') {
            static const char *const methods[] = {"get", "put", "post", "delete", "patch"};
            for (size_t m = 0; m < MD_ARRAY_LEN(methods); m++) {
                size_t ml = strlen(methods[m]);
                if (strncmp(p + 4, methods[m], ml) || p[4 + ml] != ':')
                    continue;
                cur = NULL;
                for (size_t r = 0; r < md_http_n_routes; r++)
                    if (!strcmp(md_http_routes[r].path, path) &&
                        !strncasecmp(md_http_routes[r].method, methods[m], ml) &&
                        strlen(md_http_routes[r].method) == ml) {
                        cur = &md_http_routes[r];
                        assert_false(seen[r]);
                        seen[r] = true;
                        found++;
                    }
                if (!cur)
                    fail_msg("openapi.yaml has %s %s, the router does not", methods[m], path);
            }
        } else if (in_paths && cur && !strncmp(p, "      x-mandate-action: ", 24)) {
            assert_non_null(cur->api_action);
            assert_string_equal(p + 24, cur->api_action);
        } else if (in_paths && cur && !strcmp(p, "      security: []")) {
            assert_null(cur->api_action);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    for (size_t r = 0; r < md_http_n_routes; r++)
        if (!seen[r])
            fail_msg("router has %s %s, openapi.yaml does not", md_http_routes[r].method,
                     md_http_routes[r].path);
    assert_int_equal(found, md_http_n_routes);
}

static void test_admin_policies_file(void **state)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(md_read_file("policies/admin.cedar", 1 << 20, &text, &len, NULL), 0);
    assert_string_equal(text, md_http_admin_policies);
    free(text);
}

static void test_config(void **state)
{
    mandate_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char p[400];
    snprintf(p, sizeof p, "%s/serve.conf", dir);
    write_file(p, "# comment\ndata = \"/x/y\"\nport = 9090 # trailing\nmax-body=2048\n\n");
    mandate_diag d;
    assert_int_equal(mandate_server_config_load(&cfg, p, &d), 0);
    assert_string_equal(cfg.opts.data_dir, "/x/y");
    assert_int_equal(cfg.opts.port, 9090);
    assert_int_equal(cfg.opts.max_body, 2048);
    assert_int_equal(mandate_server_config_set(&cfg, "port", "70000", &d), MANDATE_EINVAL);
    assert_int_equal(mandate_server_config_set(&cfg, "bogus", "1", &d), MANDATE_EINVAL);
    mandate_server_config_free(&cfg);
    write_file(p, "port 9090\n");
    assert_int_equal(mandate_server_config_load(&cfg, p, &d), MANDATE_EPARSE);
    assert_int_equal(d.line, 1);
    mandate_server_config_free(&cfg);
}

/* POSTs body (printf-style) as key; returns the parsed answer and the status. */
static json_t *postf(const char *path, const char *key, int *st, const char *fmt, ...)
    MD_PRINTF(4, 5);
static json_t *postf(const char *path, const char *key, int *st, const char *fmt, ...)
{
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return call("POST", path, NULL, key, body, st, NULL);
}

static const char *jstr_at(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

/* POST /v1/delegations/revoke of what (a token or a jti) with key; asserts the status and
 * returns the error code ("" when none). */
static const char *revoke_as(const char *key, const char *what, int want)
{
    static char code[64];
    int st;
    json_t *j = postf("/v1/delegations/revoke", key, &st, "{\"delegation\":\"%s\"}", what);
    if (st != want)
        fail_msg("revoke: want %d, got %d", want, st);
    const char *c = err_code(j);
    snprintf(code, sizeof code, "%s", c ? c : "");
    json_decref(j);
    return code;
}

static char *issue_token(const char *key, const char *action, int uses)
{
    int st;
    json_t *j = postf("/v1/delegations", key, &st,
                      "{\"to\":\"support-drafter\",\"task\":\"reply to T-1001\",\"actions\":"
                      "[\"%s\"],\"resources\":[\"Ticket\"],\"uses\":%d}",
                      action, uses);
    if (st != 201)
        fprintf(stderr, "delegate: %d %s\n", st, json_dumps(j, 0));
    assert_int_equal(st, 201);
    char *t = strdup(jstr_at(j, "token"));
    json_decref(j);
    return t;
}

/* Registry, delegations and the kill switch through the router: who may do what, and what each
 * call does. Runs after test_agent_path (alice and support-drafter are registered). */
static char *saved_policies; /* put back by test_accountability_routes */

static void test_registry_routes(void **state)
{
    int st;
    json_t *j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    saved_policies = strdup(jstr_at(j, "policies"));
    json_decref(j);
    j = call("PUT", "/v1/policies", NULL, key_alice,
             "{\"policies\":\"@id(\\\"agents-send\\\") @impact(\\\"customer\\\") "
             "@approval(\\\"verified\\\") "
             "@approvers(\\\"Group::\\\\\\\"support-leads\\\\\\\"\\\")\\n"
             "permit(principal is Agent, action == Action::\\\"send_reply\\\", resource is "
             "Ticket);\\n@id(\\\"agents-draft\\\") @impact(\\\"internal\\\") "
             "permit(principal is Agent, action == Action::\\\"draft_reply\\\", resource is "
             "Ticket);\\n@id(\\\"people-reply\\\") permit(principal is Human, action in "
             "[Action::\\\"draft_reply\\\", Action::\\\"send_reply\\\"], resource is "
             "Ticket);\"}",
             &st, NULL);
    if (st != 200)
        fprintf(stderr, "PUT: %s\n", json_dumps(j, 0));
    assert_int_equal(st, 200);
    json_decref(j);
    j = postf("/v1/humans", key_alice, &st, "{\"id\":\"lee\",\"name\":\"Lee\"}");
    assert_int_equal(st, 201);
    assert_string_equal(jstr_at(j, "uid"), "Human::\"lee\"");
    assert_string_equal(jstr_at(j, "status"), "active");
    json_decref(j);
    j = postf("/v1/humans", key_alice, &st, "{\"id\":\"lee\"}");
    assert_int_equal(st, 409);
    json_decref(j);
    j = postf("/v1/agents", key_alice, &st, "{\"id\":\"orphan\"}");
    assert_int_equal(st, 400); /* an agent needs an owner */
    json_decref(j);
    j = postf("/v1/humans", key_alice, &st, "{\"id\":\"x\",\"bogus\":1}");
    assert_int_equal(st, 400);
    json_decref(j);
    j = postf("/v1/humans", key_bob, &st, "{\"id\":\"mallory\"}");
    assert_int_equal(st, 403);
    assert_string_equal(err_code(j), "forbidden");
    json_decref(j);
    j = postf("/v1/groups", key_agent, &st, "{\"id\":\"bots\"}"); /* an agent, even an admin */
    assert_int_equal(st, 403);
    json_decref(j);
    j = call("POST", "/v1/humans", NULL, NULL, "{\"id\":\"x\"}", &st, NULL);
    assert_int_equal(st, 401);
    json_decref(j);
    /* Reads. */
    j = call("GET", "/v1/humans", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_true(json_array_size(j) >= 2);
    json_decref(j);
    j = call("GET", "/v1/humans/lee", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(jstr_at(j, "name"), "Lee");
    json_decref(j);
    j = call("GET", "/v1/humans/Human%3A%3A%22lee%22", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    j = call("GET", "/v1/agents/lee", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 404);
    json_decref(j);
    j = call("GET", "/v1/humans/nobody", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 404);
    json_decref(j);
    j = call("GET", "/v1/workflows", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_true(json_is_array(j));
    json_decref(j);
    /* Delegations: a human delegates as itself; an agent never issues a root delegation. */
    char *tok = issue_token(key_alice, "Action::\\\"draft_reply\\\"", 10);
    j = postf("/v1/delegations", key_alice, &st,
              "{\"from\":\"lee\",\"to\":\"support-drafter\",\"task\":\"t\",\"actions\":[\"Action::"
              "\\\"draft_reply\\\"\"],\"resources\":[\"Ticket\"]}");
    assert_int_equal(st, 403);
    json_decref(j);
    j = postf("/v1/delegations", key_agent, &st,
              "{\"to\":\"support-drafter\",\"task\":\"t\",\"actions\":[\"Action::\\\"draft_"
              "reply\\\"\"],\"resources\":[\"Ticket\"]}");
    assert_int_equal(st, 403);
    json_decref(j);
    j = postf("/v1/delegations", key_bob, &st, /* bob is not in the registry */
              "{\"to\":\"support-drafter\",\"task\":\"t\",\"actions\":[\"Action::\\\"draft_"
              "reply\\\"\"],\"resources\":[\"Ticket\"]}");
    assert_true(st == 422 || st == 400 || st == 404);
    json_decref(j);
    char key_drafter[128];
    mandate_diag d;
    assert_int_equal(mandate_api_key_create(data, "Agent::\"support-drafter\"", key_drafter,
                                            sizeof key_drafter, &d),
                     0);
    const char *draft = "{\"action\":\"Action::\\\"draft_reply\\\"\",\"resource\":\"Ticket::\\\"T-"
                        "1001\\\"\",\"token\":\"%s\"}";
    j = call("GET", "/v1/agents", NULL, key_drafter, NULL, &st, NULL);
    assert_int_equal(st, 403); /* agents do not read the registry (unless admins) */
    json_decref(j);
    j = postf("/v1/authorize", key_drafter, &st, draft, tok);
    assert_string_equal(jstr_at(j, "decision"), "allow");
    assert_string_equal(jstr_at(j, "mode"), "delegated");
    assert_string_equal(jstr_at(j, "accountable"), "Human::\"alice\"");
    json_decref(j);
    /* Kill switch: suspend the agent, then freeze everything. */
    j = call("POST", "/v1/agents/support-drafter/suspend", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 403);
    json_decref(j);
    j = call("POST", "/v1/agents/support-drafter/suspend", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(jstr_at(j, "status"), "suspended");
    json_decref(j);
    j = postf("/v1/authorize", key_drafter, &st, draft, tok);
    assert_string_equal(jstr_at(j, "decision"), "deny");
    assert_string_equal(jstr_at(j, "check"), "agent");
    json_decref(j);
    j = call("POST", "/v1/agents/support-drafter/resume", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    j = call("POST", "/v1/freeze", NULL, key_bob, NULL, &st, NULL);
    assert_int_equal(st, 403);
    json_decref(j);
    j = call("POST", "/v1/freeze", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    j = postf("/v1/authorize", key_drafter, &st, draft, tok);
    assert_string_equal(jstr_at(j, "check"), "frozen");
    json_decref(j);
    j = call("POST", "/v1/unfreeze", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    j = postf("/v1/authorize", key_drafter, &st, draft, tok);
    assert_string_equal(jstr_at(j, "decision"), "allow");
    json_decref(j);
    /* Revocation: not by the agent; not by bob, who is no party to it and has only
     * delegations.revoke (by token or by jti); alice is an admin (delegations.revoke_any). */
    revoke_as(key_drafter, tok, 403);
    j = postf("/v1/delegations/revoke", key_bob, &st, "{\"delegation\":\"%s\"}", tok);
    assert_int_equal(st, 403);
    assert_string_equal(err_code(j), "forbidden");
    assert_non_null(strstr(jstr_at(json_object_get(j, "error"), "message"), "neither delegated"));
    json_decref(j);
    assert_string_equal(revoke_as(key_bob, "some-jti", 403), "forbidden");
    revoke_as(key_bob, "a.b.c", 400);
    revoke_as(key_alice, "a.b.c", 400); /* revoke_any too: a token must be signed here */
    j = postf("/v1/authorize", key_drafter, &st, draft, tok);
    assert_string_equal(jstr_at(j, "decision"), "allow");
    json_decref(j);
    j = postf("/v1/delegations/revoke", key_alice, &st, "{\"delegation\":\"%s\",\"reason\":\"x\"}",
              tok);
    assert_int_equal(st, 200);
    json_decref(j);
    j = postf("/v1/authorize", key_drafter, &st, draft, tok);
    assert_string_equal(jstr_at(j, "check"), "token");
    json_decref(j);
    free(tok);

    /* An agent revokes what it re-delegated, not the delegation it was given, and the agent it
     * re-delegated to may not revoke its own. */
    char key_lead[128], key_sub[128];
    char *lead_tok = delegated_agent("rev-lead", key_lead, sizeof key_lead);
    free(delegated_agent("rev-sub", key_sub, sizeof key_sub));
    j = postf("/v1/delegations", key_lead, &st,
              "{\"to\":\"rev-sub\",\"task\":\"t\",\"actions\":[\"Action::\\\"draft_reply\\\"\"],"
              "\"resources\":[\"Ticket\"],\"parent\":\"%s\"}",
              lead_tok);
    assert_int_equal(st, 201);
    char *sub_tok = strdup(jstr_at(j, "token"));
    json_decref(j);
    revoke_as(key_sub, sub_tok, 403);
    revoke_as(key_lead, lead_tok, 403);
    revoke_as(key_lead, sub_tok, 200);
    free(sub_tok);
    free(lead_tok);
}

/* Approvals, the retry, outcomes and the trace through the router. */
static void test_accountability_routes(void **state)
{
    int st;
    json_t *j;
    char key_lee[128], key_drafter[128];
    mandate_diag d;
    assert_int_equal(mandate_api_key_create(data, "Human::\"lee\"", key_lee, sizeof key_lee, &d),
                     0);
    assert_int_equal(mandate_api_key_create(data, "Agent::\"support-drafter\"", key_drafter,
                                            sizeof key_drafter, &d),
                     0);
    char *tok = issue_token(key_alice, "Action::\\\"send_reply\\\"", 10);
    const char *send = "{\"action\":\"Action::\\\"send_reply\\\"\",\"resource\":\"Ticket::\\\"T-"
                       "1001\\\"\",\"context\":{\"approved\":true},\"token\":\"%s\"%s}";
    j = postf("/v1/authorize", key_drafter, &st, send, tok, "");
    assert_int_equal(st, 200);
    assert_string_equal(jstr_at(j, "decision"), "approval_required");
    assert_string_equal(jstr_at(j, "check"), "approval");
    char id[64];
    snprintf(id, sizeof id, "%s", jstr_at(json_object_get(j, "approval"), "id"));
    assert_memory_equal(id, "apr_", 4);
    json_decref(j);
    j = call("GET", "/v1/approvals", NULL, key_lee, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_true(json_array_size(j) >= 1);
    json_decref(j);
    j = call("GET", "/v1/approvals", "status=bogus&limit=0", key_lee, NULL, &st, NULL);
    assert_int_equal(st, 400);
    json_decref(j);
    char path[128];
    snprintf(path, sizeof path, "/v1/approvals/%s", id);
    j = call("GET", path, NULL, key_lee, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(jstr_at(j, "status"), "pending");
    json_decref(j);
    j = call("GET", "/v1/approvals/apr_nope", NULL, key_lee, NULL, &st, NULL);
    assert_int_equal(st, 404);
    json_decref(j);
    snprintf(path, sizeof path, "/v1/approvals/%s/approve", id);
    j = postf(path, key_drafter, &st, "{\"mode\":\"verified\"}"); /* an agent never approves */
    assert_int_equal(st, 403);
    json_decref(j);
    j = postf(path, key_alice, &st, "{\"mode\":\"verified\"}"); /* not a support lead */
    assert_int_equal(st, 403);
    assert_string_equal(err_code(j), "refused");
    json_decref(j);
    j = postf(path, key_lee, &st, "{}");
    assert_int_equal(st, 400);
    json_decref(j);
    j = postf(path, key_lee, &st, "{\"mode\":\"verified\",\"reason\":\"checked the reply\"}");
    assert_int_equal(st, 200);
    assert_string_equal(jstr_at(j, "status"), "approved");
    json_decref(j);
    char extra[128];
    snprintf(extra, sizeof extra, ",\"approval_id\":\"%s\"", id);
    j = postf("/v1/authorize", key_drafter, &st, send, tok, extra);
    assert_string_equal(jstr_at(j, "decision"), "allow");
    assert_string_equal(jstr_at(j, "mode"), "verified");
    assert_string_equal(jstr_at(j, "accountable"), "Human::\"lee\"");
    json_int_t entry = json_integer_value(json_object_get(j, "entry"));
    json_decref(j);
    j = postf("/v1/authorize", key_drafter, &st, send, tok, extra); /* used */
    assert_string_equal(jstr_at(j, "decision"), "deny");
    json_decref(j);
    /* Outcomes: the agent of the decision records one; another agent may not. */
    const char *sha = "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const char *ob = "{\"decision\":%lld,\"kind\":\"customer_response\",\"sha256\":\"%s\","
                     "\"uri\":\"mail://acme/T-1001/1\",\"disposition\":\"accepted\"}";
    j = postf("/v1/outcomes", key_agent, &st, ob, (long long)entry, sha);
    assert_int_equal(st, 403);
    json_decref(j);
    j = postf("/v1/outcomes", key_drafter, &st, ob, (long long)entry, "xyz");
    assert_int_equal(st, 400);
    json_decref(j);
    j = postf("/v1/outcomes", key_drafter, &st, ob, (long long)entry, sha);
    assert_int_equal(st, 201);
    json_decref(j);
    /* The trace. */
    char q[128];
    snprintf(q, sizeof q, "q=%s", sha);
    j = call("GET", "/v1/trace", q, key_lee, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_t *acc = json_object_get(j, "accountable");
    assert_string_equal(jstr_at(acc, "uid"), "Human::\"lee\"");
    assert_string_equal(jstr_at(acc, "mode"), "verified");
    assert_string_equal(jstr_at(json_object_get(j, "approval"), "approver"), "Human::\"lee\"");
    char *text = json_dumps(j, JSON_COMPACT);
    size_t n = 0;
    assert_int_equal(
        mandate_trace_verify(text, strlen(text), mandate_ledger_verifier_key(srv->ledger), &n, &d),
        0);
    assert_true(n >= 4);
    free(text);
    json_decref(j);
    j = call("GET", "/v1/trace", "q=mail%3A%2F%2Facme%2FT-1001%2F1", key_lee, NULL, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    j = call("GET", "/v1/trace", NULL, key_lee, NULL, &st, NULL);
    assert_int_equal(st, 400);
    json_decref(j);
    j = call("GET", "/v1/trace", "q=mail://nowhere", key_lee, NULL, &st, NULL);
    assert_int_equal(st, 404);
    json_decref(j);
    j = call("GET", "/v1/trace", q, key_drafter, NULL, &st, NULL);
    assert_int_equal(st, 403);
    json_decref(j);
    /* A rejection: the retry is refused. */
    j = postf("/v1/authorize", key_drafter, &st, send, tok, "");
    snprintf(id, sizeof id, "%s", jstr_at(json_object_get(j, "approval"), "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/approvals/%s/reject", id);
    j = postf(path, key_lee, &st, "{\"reason\":\"tone\"}");
    assert_int_equal(st, 200);
    json_decref(j);
    snprintf(extra, sizeof extra, ",\"approval_id\":\"%s\"", id);
    j = postf("/v1/authorize", key_drafter, &st, send, tok, extra);
    assert_string_equal(jstr_at(j, "decision"), "deny");
    assert_string_equal(jstr_at(j, "check"), "approval");
    json_decref(j);
    j = call("GET", "/v1/approvals", "status=rejected", key_lee, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_true(json_array_size(j) >= 1);
    json_decref(j);
    /* Put the old policies back. */
    json_t *pb = json_pack("{s:s}", "policies", saved_policies);
    char *pbt = json_dumps(pb, JSON_COMPACT);
    j = call("PUT", "/v1/policies", NULL, key_alice, pbt, &st, NULL);
    assert_int_equal(st, 200);
    json_decref(j);
    free(pbt);
    json_decref(pb);
    free(saved_policies);
    saved_policies = NULL;
    free(tok);
}

/* Last: once a commit fails the ledger handle never acknowledges again. Authorize must deny with
 * a 503 (fail closed), a batch too, and a policy replacement must leave the old set active. */
static void test_fail_closed(void **state)
{
    int st;
    json_t *j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    char sha[65];
    snprintf(sha, sizeof sha, "%s", json_string_value(json_object_get(j, "sha256")));
    json_decref(j);
    /* An agent with a delegation, made while the ledger still works. */
    char key_fd[128], tbody[4096];
    char *token = delegated_agent("fail-drafter", key_fd, sizeof key_fd);
    snprintf(tbody, sizeof tbody,
             "{\"action\":\"Action::\\\"draft_reply\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\","
             "\"token\":\"%s\"}",
             token);
    uint64_t errors = atomic_load(&srv->m.error);
    md_store_sqlite_fail_commits(md_ledger_writer_store(srv->ledger), 1);
    /* A token decision is not acknowledged either: 503 and a deny, not the agent path's allow. */
    j = call("POST", "/v1/authorize", NULL, key_fd, tbody, &st, NULL);
    assert_int_equal(st, 503);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    assert_string_equal(err_code(j), "ledger_unavailable");
    json_decref(j);
    free(token);
    j = call("POST", "/v1/authorize", NULL, key_alice,
             "{\"principal\":\"Human::\\\"alice\\\"\",\"action\":\"Action::\\\"read_ticket\\\"\","
             "\"resource\":\"Ticket::\\\"T-1001\\\"\"}",
             &st, NULL);
    assert_int_equal(st, 503);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    assert_string_equal(err_code(j), "ledger_unavailable");
    json_decref(j);
    j = call("POST", "/v1/authorize", NULL, key_alice,
             "{\"requests\":[{\"principal\":\"Human::\\\"alice\\\"\",\"action\":"
             "\"Action::\\\"read_ticket\\\"\",\"resource\":\"Ticket::\\\"T-1001\\\"\"}]}",
             &st, NULL);
    assert_true(st == 503);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    assert_null(json_object_get(j, "decisions"));
    json_decref(j);
    assert_true(atomic_load(&srv->m.error) >= errors + 3);
    j = call("PUT", "/v1/policies", NULL, key_alice, "{\"policies\":\"\"}", &st, NULL);
    assert_int_equal(st, 503);
    json_decref(j);
    j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "sha256")), sha);
    json_decref(j);
    md_store_sqlite_fail_commits(md_ledger_writer_store(srv->ledger), 0);
    /* The ledger stays failed until a restart: /healthz says so with a 503. */
    j = call("GET", "/healthz", NULL, NULL, NULL, &st, NULL);
    assert_int_equal(st, 503);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ledger_failed");
    json_decref(j);
}

/* ---- the operator's log, and what unauthenticated callers are not told ---- */

static char logged[8192];

static void capture(void *arg, const char *line)
{
    (void)arg;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

static int broken_get(md_keys *k, const char *id, char *identity, uint8_t hash[32], md_diag *d)
{
    (void)k, (void)id, (void)identity, (void)hash;
    return md_diag_set(d, MANDATE_ESTORE, 0, 0, "database '/srv/secret/mandate.db' is locked");
}

static void test_operator_log(void **state)
{
    logged[0] = 0;
    srv->o.log = capture;
    int st;
    /* A key store failure before the caller is authenticated: 503, the cause in the log only. */
    const md_keys_ops *ops = srv->keys->ops;
    md_keys_ops broken = *ops;
    broken.get = broken_get;
    srv->keys->ops = &broken;
    json_t *j = call("GET", "/v1/policies", NULL, key_bob, NULL, &st, NULL);
    srv->keys->ops = ops;
    assert_int_equal(st, 503);
    assert_string_equal(err_code(j), "store_unavailable");
    char *text = json_dumps(j, 0);
    assert_null(strstr(text, "/srv/secret"));
    free(text);
    json_decref(j);
    assert_non_null(strstr(logged, "GET /v1/policies: cannot check an API key: database "
                                   "'/srv/secret/mandate.db' is locked"));
    assert_non_null(strstr(logged, "GET /v1/policies: 503 "));

    /* The agent path refused at open: /healthz says so without the reason; an administrator
     * reads it in GET /v1/policies; a token request's 500 is logged. */
    static const char why[] = "the registry refused the schema: /srv/secret/schema.cedarschema";
    snprintf(srv->registry_error, sizeof srv->registry_error, "%s", why);
    assert_string_equal(mandate_server_agent_path_error(srv), why);
    j = call("GET", "/healthz", NULL, NULL, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "agent_path")), "unavailable");
    json_decref(j);
    j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "agent_path")), why);
    json_decref(j);
    logged[0] = 0;
    j = call("POST", "/v1/authorize", NULL, key_agent,
             "{\"action\":\"Action::\\\"draft_reply\\\"\",\"resource\":"
             "\"Ticket::\\\"T-1001\\\"\",\"token\":\"a.b.c\"}",
             &st, NULL);
    srv->registry_error[0] = 0;
    assert_int_equal(st, 500);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
    text = json_dumps(j, 0);
    assert_null(strstr(text, "/srv/secret")); /* any authenticated caller may authorize */
    free(text);
    json_decref(j);
    assert_non_null(strstr(logged, "POST /v1/authorize: 500 "));
    assert_null(mandate_server_agent_path_error(srv));
    j = call("GET", "/v1/policies", NULL, key_alice, NULL, &st, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "agent_path")), "ok");
    json_decref(j);
    /* An outage does not flood the log: at most MD_HTTP_LOG_PER_SECOND lines a second, and the
     * next line written says how many were dropped. */
    srv->keys->ops = &broken;
    int64_t sec;
    size_t lines;
    do { /* within one second of the monotonic clock, counting from none written */
        logged[0] = 0;
        srv->log_window = -1;
        srv->log_lines = 0;
        srv->log_dropped = 0;
        sec = md_http_now_ns() / 1000000000;
        for (int i = 0; i < 15; i++) /* two lines each: the cause and the 503 */
            json_decref(call("GET", "/v1/policies", NULL, key_bob, NULL, &st, NULL));
        lines = 0;
        for (const char *p = logged; (p = strchr(p, '\n')); p++)
            lines++;
    } while (md_http_now_ns() / 1000000000 != sec);
    usleep(1100 * 1000);
    logged[0] = 0;
    json_decref(call("GET", "/v1/policies", NULL, key_bob, NULL, &st, NULL));
    srv->keys->ops = ops;
    assert_int_equal(lines, MD_HTTP_LOG_PER_SECOND);
    if (strncmp(logged, "(10 lines dropped) ", 19))
        fail_msg("want 10 lines dropped, got: %s", logged);
    /* 4xx answers are the client's business, not the operator's. */
    logged[0] = 0;
    j = call("GET", "/v1/policies", NULL, "mdk_nope", NULL, &st, NULL);
    assert_int_equal(st, 401);
    json_decref(j);
    assert_string_equal(logged, "");
    srv->o.log = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_routes),
        cmocka_unit_test(test_authentication),
        cmocka_unit_test(test_forbidden),
        cmocka_unit_test(test_authorize),
        cmocka_unit_test(test_agent_path),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_ledger_routes),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_openapi_matches_routes),
        cmocka_unit_test(test_admin_policies_file),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_registry_routes),
        cmocka_unit_test(test_accountability_routes),
        cmocka_unit_test(test_inactive_callers),
        cmocka_unit_test(test_operator_log),
        cmocka_unit_test(test_fail_closed), /* last: the ledger stays failed */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
