/*
 * router.c: the route table, authentication (API keys), the admin Cedar check, JSON body
 * parsing under caps, and JSON error responses (http.h). No sockets here: server.c and the unit
 * tests feed it md_http_req structs.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "cedar/entities.h"
#include "core/json.h"
#include "http/http.h"

const md_http_route md_http_routes[] = {
    {"GET", "/healthz", NULL, false, md_api_healthz},
    {"GET", "/metrics", "metrics.read", false, md_api_metrics},
    {"GET", "/.well-known/jwks.json", NULL, false, md_api_jwks},
    {"POST", "/v1/authorize", "authorize", true, md_api_authorize},
    {"GET", "/v1/policies", "policies.read", false, md_api_policies_get},
    {"PUT", "/v1/policies", "policies.write", true, md_api_policies_put},
    {"POST", "/v1/policies/validate", "policies.validate", true, md_api_policies_validate},
    {"GET", "/v1/ledger/checkpoint", "ledger.read", false, md_api_ledger_checkpoint},
    {"GET", "/v1/ledger/entries", "ledger.read", false, md_api_ledger_entries},
    {"GET", "/v1/ledger/entries/{index}", "ledger.read", false, md_api_ledger_entry},
    {"GET", "/v1/ledger/proofs/inclusion", "ledger.read", false, md_api_ledger_inclusion},
    {"GET", "/v1/ledger/proofs/consistency", "ledger.read", false, md_api_ledger_consistency},
    {"GET", "/v1/humans", "registry.read", false, md_api_registry_list},
    {"POST", "/v1/humans", "registry.write", true, md_api_registry_add},
    {"GET", "/v1/humans/{id}", "registry.read", false, md_api_registry_show},
    {"POST", "/v1/humans/{id}/suspend", "registry.suspend", false, md_api_registry_suspend},
    {"POST", "/v1/humans/{id}/resume", "registry.write", false, md_api_registry_resume},
    {"GET", "/v1/agents", "registry.read", false, md_api_registry_list},
    {"POST", "/v1/agents", "registry.write", true, md_api_registry_add},
    {"GET", "/v1/agents/{id}", "registry.read", false, md_api_registry_show},
    {"POST", "/v1/agents/{id}/suspend", "registry.suspend", false, md_api_registry_suspend},
    {"POST", "/v1/agents/{id}/resume", "registry.write", false, md_api_registry_resume},
    {"GET", "/v1/services", "registry.read", false, md_api_registry_list},
    {"POST", "/v1/services", "registry.write", true, md_api_registry_add},
    {"GET", "/v1/services/{id}", "registry.read", false, md_api_registry_show},
    {"POST", "/v1/services/{id}/suspend", "registry.suspend", false, md_api_registry_suspend},
    {"POST", "/v1/services/{id}/resume", "registry.write", false, md_api_registry_resume},
    {"GET", "/v1/groups", "registry.read", false, md_api_registry_list},
    {"POST", "/v1/groups", "registry.write", true, md_api_registry_add},
    {"GET", "/v1/groups/{id}", "registry.read", false, md_api_registry_show},
    {"POST", "/v1/groups/{id}/suspend", "registry.suspend", false, md_api_registry_suspend},
    {"POST", "/v1/groups/{id}/resume", "registry.write", false, md_api_registry_resume},
    {"GET", "/v1/workflows", "registry.read", false, md_api_registry_list},
    {"POST", "/v1/workflows", "registry.write", true, md_api_registry_add},
    {"GET", "/v1/workflows/{id}", "registry.read", false, md_api_registry_show},
    {"POST", "/v1/workflows/{id}/suspend", "registry.suspend", false, md_api_registry_suspend},
    {"POST", "/v1/workflows/{id}/resume", "registry.write", false, md_api_registry_resume},
    {"POST", "/v1/delegations", "delegations.issue", true, md_api_delegations_issue},
    {"POST", "/v1/delegations/revoke", "delegations.revoke", true, md_api_delegations_revoke},
    {"POST", "/v1/freeze", "killswitch", false, md_api_freeze},
    {"POST", "/v1/unfreeze", "killswitch", false, md_api_unfreeze},
    {"GET", "/v1/approvals", "approvals.read", false, md_api_approvals_list},
    {"GET", "/v1/approvals/{id}", "approvals.read", false, md_api_approvals_view},
    {"POST", "/v1/approvals/{id}/approve", "approvals.decide", true, md_api_approvals_approve},
    {"POST", "/v1/approvals/{id}/reject", "approvals.decide", true, md_api_approvals_reject},
    {"POST", "/v1/outcomes", "outcomes.write", true, md_api_outcomes},
    {"GET", "/v1/trace", "trace.read", false, md_api_trace},
    {"GET", "/v1/review", "governance.read", false, md_api_review},
    {"GET", "/v1/report", "governance.read", false, md_api_report},
};
const size_t md_http_n_routes = MD_ARRAY_LEN(md_http_routes);

int64_t md_http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void md_http_resp_release(md_http_resp *rs)
{
    if (!rs)
        return;
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
}

int md_http_json(md_http_resp *rs, int status, json_t *j)
{
    free(rs->body);
    rs->body = NULL;
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        rs->body = strdup(oom);
        rs->body_len = rs->body ? sizeof oom - 1 : 0;
        rs->content_type = "application/json";
        rs->status = 500;
        return 500;
    }
    rs->body = text;
    rs->body_len = strlen(text);
    rs->content_type = "application/json";
    rs->status = status;
    return status;
}

int md_http_text(md_http_resp *rs, int status, md_buf *b)
{
    free(rs->body);
    rs->body = b->data;
    rs->body_len = b->len;
    rs->content_type = "application/json";
    rs->status = status;
    md_buf_init(b, b->max);
    return status;
}

int md_http_error(md_http_resp *rs, int status, const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (!j) {
        /* The message quoted bytes that are not UTF-8: show them as '?'. */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    }
    if (j && rs->is_authorize)
        json_object_set_new(j, "decision", json_string("deny"));
    return md_http_json(rs, status, j);
}

int md_http_json_depth_ok(const char *p, size_t n, unsigned max_depth)
{
    unsigned depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"') {
            /* Skip the string: its end is the next quote after an even run of backslashes. */
            for (;;) {
                const char *q = memchr(p + i + 1, '"', n - i - 1);
                if (!q)
                    return 0;
                size_t j = (size_t)(q - p), k = j;
                while (k > i + 1 && p[k - 1] == '\\')
                    k--;
                i = j;
                if ((j - k) % 2 == 0)
                    break;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return MANDATE_ETOOBIG;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

const char *md_http_query_param(md_arena *a, const char *query, const char *name)
{
    if (!query)
        return NULL;
    size_t nl = strlen(name);
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = len - nl - 1;
            char *out = md_arena_alloc(a, vl + 1);
            if (!out)
                return NULL;
            size_t o = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] == '%' && i + 2 < vl && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
                    out[o++] = (char)(hexval(v[i + 1]) * 16 + hexval(v[i + 2]));
                    i += 2;
                } else {
                    out[o++] = v[i] == '+' ? ' ' : v[i];
                }
            }
            out[o] = 0;
            return out;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

/* Matches a route path segment by segment; a {param} segment matches one non-empty segment, and
 * *arg gets the first one (still percent-encoded: see md_http_path_arg). */
static bool path_match(const char *pattern, const char *path, const char **arg)
{
    const char *p = pattern, *q = path, *first = NULL;
    while (*p && *q) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            if (!pe || *q == '/')
                return false;
            if (!first)
                first = q;
            p = pe + 1;
            while (*q && *q != '/')
                q++;
            continue;
        }
        if (*p != *q)
            return false;
        p++;
        q++;
    }
    if (*p || *q)
        return false;
    *arg = first;
    return true;
}

const char *md_http_path_arg(md_arena *a, const char *arg)
{
    if (!arg)
        return NULL;
    size_t n = strcspn(arg, "/");
    char *out = md_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (arg[i] == '%' && i + 2 < n && hexval(arg[i + 1]) >= 0 && hexval(arg[i + 2]) >= 0) {
            out[o++] = (char)(hexval(arg[i + 1]) * 16 + hexval(arg[i + 2]));
            i += 2;
        } else {
            out[o++] = arg[i];
        }
    }
    out[o] = 0;
    return out;
}

/* The admin policy set's answer: may identity perform api_action? */
static int admin_decide(mandate_server *s, md_arena *a, const char *identity,
                        const char *api_action, bool *allowed, md_diag *d)
{
    md_request r;
    memset(&r, 0, sizeof r);
    int rc = md_euid_parse(a, identity, strlen(identity), &r.principal, d);
    if (rc)
        return rc;
    char *act = md_arena_printf(a, "Action::\"%s\"", api_action);
    if (!act)
        return MANDATE_ENOMEM;
    if ((rc = md_euid_parse(a, act, strlen(act), &r.action, d)) ||
        (rc = md_euid_parse(a, "Api::\"mandate\"", 14, &r.resource, d)))
        return rc;
    r.context.kind = MD_V_RECORD;
    r.context.u.rec = md_record_empty();
    md_response resp;
    if ((rc = md_authorize(a, s->admin_ps, &r, s->admin_es, &resp)))
        return rc;
    *allowed = resp.allow;
    return 0;
}

static size_t admin_slot(const char *identity, const char *api_action)
{
    uint64_t h = 1469598103934665603u ^ (uint64_t)(uintptr_t)api_action;
    for (const unsigned char *p = (const unsigned char *)identity; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)(h % MD_HTTP_ADMIN_CACHE);
}

/* Rewrites a key's identity in its canonical Cedar spelling (in place: `Agent :: "x"` is
 * `Agent::"x"`, so that handlers' "Agent::" tests see its real type) and, with a registry, gets
 * its status. Both are remembered per worker thread for the last identity and registry version
 * (every status change makes a new version, seen by the next read): a repeated caller costs a
 * version read and a comparison. */
static int caller_of(mandate_server *s, md_arena *a, char identity[MD_KEY_MAX_IDENTITY + 1],
                     int *status, mandate_diag *d)
{
    static _Thread_local struct {
        const mandate_server *srv;
        const mandate_registry *reg;
        uint64_t version;
        int rc, status;
        char raw[MD_KEY_MAX_IDENTITY + 1], canon[MD_KEY_MAX_IDENTITY + 1];
    } memo;
    uint64_t version = 0;
    bool known = !s->registry || mandate_registry_current_version(s->registry, &version);
    size_t n = strlen(identity);
    if (known && memo.srv == s && memo.reg == s->registry && memo.version == version &&
        !strcmp(memo.raw, identity)) {
        memcpy(identity, memo.canon, strlen(memo.canon) + 1);
        *status = memo.status;
        return memo.rc;
    }
    char raw[MD_KEY_MAX_IDENTITY + 1];
    memcpy(raw, identity, n + 1);
    md_euid who;
    md_buf canon;
    md_buf_init(&canon, MD_KEY_MAX_IDENTITY);
    if (!md_euid_parse(a, identity, n, &who, NULL) && !md_euid_print(&canon, &who))
        memcpy(identity, canon.data, canon.len + 1);
    md_buf_release(&canon);
    *status = MANDATE_STATUS_ACTIVE;
    int rc = s->registry ? mandate_registry_principal_status(s->registry, identity, status, d) : 0;
    if (known && (rc == 0 || rc == MANDATE_ENOTFOUND || rc == MANDATE_EINVAL)) {
        memo.srv = s;
        memo.reg = s->registry;
        memo.version = version;
        memo.rc = rc;
        memo.status = *status;
        memcpy(memo.raw, raw, n + 1);
        memcpy(memo.canon, identity, strlen(identity) + 1);
    }
    return rc;
}

/* The admin policies and entities never change while the server runs, so answers are cached,
 * keyed by identity and api_action's address (a string constant; another copy of the same text
 * only costs a slot). */
int md_http_admin_allows(mandate_server *s, md_arena *a, const char *identity,
                         const char *api_action, bool *allowed, md_diag *d)
{
    md_http_admin_cached *c = &s->admin_cache[admin_slot(identity, api_action)];
    pthread_mutex_lock(&s->admin_mu);
    bool hit = c->identity && c->api_action == api_action && !strcmp(c->identity, identity);
    if (hit)
        *allowed = c->allowed;
    pthread_mutex_unlock(&s->admin_mu);
    if (hit)
        return 0;
    int rc = admin_decide(s, a, identity, api_action, allowed, d);
    char *copy = rc ? NULL : strdup(identity);
    if (copy) {
        pthread_mutex_lock(&s->admin_mu);
        free(c->identity);
        c->identity = copy;
        c->api_action = api_action;
        c->allowed = *allowed;
        pthread_mutex_unlock(&s->admin_mu);
    }
    return rc;
}

void md_http_admin_cache_free(mandate_server *s)
{
    for (size_t i = 0; i < MD_HTTP_ADMIN_CACHE; i++) {
        free(s->admin_cache[i].identity);
        s->admin_cache[i].identity = NULL;
    }
}

/* Counts the answer by class; a 5xx also goes to the operator's log with what the client got. */
static void answered(mandate_server *s, const md_http_resp *rs)
{
    int cls = rs->status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&s->m.status[cls], 1);
    if (cls == 5)
        md_http_log(s, "%s %s: %d %.*s", rs->route_method ? rs->route_method : "-",
                    rs->route_path ? rs->route_path : "-", rs->status,
                    rs->body ? (int)(rs->body_len > 800 ? 800 : rs->body_len) : 0,
                    rs->body ? rs->body : "");
}

void md_http_handle(mandate_server *s, const md_http_req *rq, md_http_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->t_start_ns = md_http_now_ns();
    const md_http_route *route = NULL;
    const char *arg = NULL;
    bool path_known = false;
    char allow[64] = "";
    for (size_t i = 0; i < md_http_n_routes; i++) {
        const char *a = NULL;
        if (!path_match(md_http_routes[i].path, rq->path, &a))
            continue;
        path_known = true;
        if (strlen(allow) + 8 < sizeof allow) {
            if (allow[0])
                strncat(allow, ", ", sizeof allow - strlen(allow) - 1);
            strncat(allow, md_http_routes[i].method, sizeof allow - strlen(allow) - 1);
        }
        if (!strcmp(md_http_routes[i].method, rq->method)) {
            route = &md_http_routes[i];
            arg = a;
            break;
        }
    }
    if (!route) {
        if (path_known) {
            snprintf(rs->allow, sizeof rs->allow, "%s", allow);
            md_http_error(rs, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                          rq->method, rq->path, allow);
        } else {
            md_http_error(rs, 404, "not_found", "no route for %s %s", rq->method, rq->path);
        }
        answered(s, rs);
        return;
    }
    rs->is_authorize = route->fn == md_api_authorize;
    rs->route_method = route->method;
    rs->route_path = route->path;
    md_http_ctx c = {.path_arg = arg};
    char identity[MD_KEY_MAX_IDENTITY + 1];
    if (route->api_action) {
        const char *h = rq->authorization;
        if (!h || strncasecmp(h, "Bearer ", 7)) {
            rs->www_authenticate = true;
            md_http_error(rs, 401, "unauthenticated",
                          "this route needs an API key: 'Authorization: Bearer mdk_...'");
            goto done;
        }
        const char *key = h + 7;
        while (*key == ' ')
            key++;
        md_diag d = {0};
        int rc = md_keys_check(s->keys, key, strlen(key), identity, &d);
        if (rc == MANDATE_EDENIED) {
            rs->www_authenticate = true;
            md_http_error(rs, 401, "unauthenticated", "%s", d.msg);
            goto done;
        } else if (rc) {
            /* The caller is not authenticated yet: the cause (a database error, its path) goes
             * to the operator's log only. */
            md_http_log(s, "%s %s: cannot check an API key: %s", route->method, route->path, d.msg);
            md_http_error(rs, 503, "store_unavailable",
                          "cannot check the API key now; the server's log has the cause");
            goto done;
        }
        /* Canonical spelling, and a registered identity that is suspended or departed: its
         * keys stop with it. */
        int status = MANDATE_STATUS_ACTIVE;
        mandate_diag rd = {0};
        rc = caller_of(s, rq->arena, identity, &status, &rd);
        if (rc && rc != MANDATE_ENOTFOUND && rc != MANDATE_EINVAL) {
            md_http_log(s, "%s %s: cannot check the registry status of '%s': %s", route->method,
                        route->path, identity, rd.message);
            md_http_error(rs, 503, "registry_unavailable",
                          "cannot check the registry status of '%s' now; the server's log has "
                          "the cause",
                          identity);
            goto done;
        }
        c.caller_inactive = !rc && status != MANDATE_STATUS_ACTIVE;
        if (c.caller_inactive && !rs->is_authorize) {
            md_http_error(rs, 403, "inactive",
                          "'%s' is %s in the registry: its API keys are refused until it is "
                          "active again",
                          identity, status == MANDATE_STATUS_SUSPENDED ? "suspended" : "departed");
            goto done;
        }
        bool allowed = false;
        md_diag_clear(&d);
        if ((rc = md_http_admin_allows(s, rq->arena, identity, route->api_action, &allowed, &d))) {
            md_http_error(rs, 500, "internal", "cannot check what '%s' may do: %s", identity,
                          d.msg[0] ? d.msg : mandate_strerror(rc));
            goto done;
        }
        if (!allowed) {
            md_http_error(rs, 403, "forbidden",
                          "'%s' may not perform '%s' (admin policies deny it)", identity,
                          route->api_action);
            goto done;
        }
        c.identity = identity;
    }
    if (route->json_body) {
        if (rq->body_len == 0) {
            md_http_error(rs, 400, "bad_json", "this route needs a JSON request body");
            goto done;
        }
        /* The parse stops at the depth cap; on any failure the depth scan of the whole text
         * decides first, so errors stay those of "scan the depth, then parse". */
        md_diag d = {0};
        md_jv *doc = NULL;
        int rc =
            md_json_parse_arena(rq->arena, rq->body, rq->body_len, s->o.max_json_depth, &doc, &d);
        if (rc && md_http_json_depth_ok(rq->body, rq->body_len, s->o.max_json_depth)) {
            md_http_error(rs, 400, "json_too_deep", "the request JSON nests deeper than %u levels",
                          s->o.max_json_depth);
            goto done;
        }
        if (rc == MANDATE_ETOOBIG) {
            md_http_error(rs, 413, "json_too_large", "request JSON: %s", d.msg);
            goto done;
        } else if (rc) {
            md_http_error(rs, 400, "bad_json", "request body is not valid JSON: %u:%u: %s", d.line,
                          d.col, d.msg);
            goto done;
        }
        if (doc->kind != MD_JV_OBJECT) {
            md_http_error(rs, 400, "bad_json", "the request body must be a JSON object");
            goto done;
        }
        if (rs->is_authorize) { /* the hot path reads the arena form: no jansson tree */
            c.doc = doc;
        } else if (!(c.body = md_jv_to_json(doc))) {
            md_http_error(rs, 400, "bad_json",
                          "request body is not valid JSON: 0:0: out of memory");
            goto done;
        }
    }
    route->fn(s, rq, &c, rs);
    json_decref(c.body);
done:
    if (!rs->pending)
        answered(s, rs);
}

void md_http_hold(md_http_resp *rs, uint64_t ticket)
{
    rs->pending = true;
    if (ticket > rs->ticket || !rs->ticket)
        rs->ticket = ticket;
}

void md_http_settle_durable(mandate_server *s, md_http_resp *rs)
{
    if (rs->pending) {
        rs->pending = false;
        answered(s, rs);
    }
    md_http_observe(s, rs);
}

void md_http_settle(mandate_server *s, md_http_resp *rs)
{
    mandate_diag d = {0};
    if (rs->pending && mandate_ledger_wait(s->ledger, rs->ticket, &d)) {
        rs->n_err += rs->n_allow + rs->n_deny;
        rs->n_allow = rs->n_deny = 0;
        md_http_error(rs, 503, "ledger_unavailable",
                      "the evidence ledger could not record this; nothing was acknowledged: %s",
                      d.message);
    }
    md_http_settle_durable(s, rs);
}
