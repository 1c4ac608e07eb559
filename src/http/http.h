/*
 * http.h: the server's internals shared by src/http/ (all files): the server struct, the router's
 * request and response structs (testable without sockets), the route table, the active policy
 * snapshot and the metrics.
 *
 * The router (router.c) takes a md_http_req (method, path, query, Authorization header, body) and
 * fills a md_http_resp (status, content type, body). It authenticates the caller with an API key
 * (keys_store.h), asks the admin policy set whether the caller's identity may perform the route's
 * API action (Cedar: principal = the identity, action = Action::"<api action>", resource =
 * Api::"mandate"), parses the JSON body under the depth cap (into the request arena; as a
 * jansson tree for every route but POST /v1/authorize), and calls the route's handler (one
 * file per API area: api_authorize.c, api_agent.c, api_policies.c, api_ledger.c, api_misc.c,
 * api_registry.c, api_account.c, api_govern.c). server.c is the
 * libmicrohttpd glue: limits, connection state, suspending a connection while its ledger entries
 * become durable.
 *
 * A response that recorded ledger entries is "pending": it may be sent only once
 * mandate_ledger_wait(ticket) succeeds; md_http_settle does that wait (the server once the
 * ledger's listener has said the entries are durable) and, when the ledger fails, replaces the
 * response by a fail-closed 503.
 *
 * The active policy set is an immutable, reference-counted md_http_snapshot swapped atomically by
 * PUT /v1/policies; requests hold a reference for their whole life.
 *
 * May depend on: core/, cedar/ (internal engine API), store/keys_store.h, govern/ (review,
 * report and their HTML pages), and the public headers of the ledger, token, registry and account
 * modules.
 */
#ifndef MD_HTTP_H
#define MD_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cedar/cedar_int.h"
#include "core/core.h"
#include "core/json.h"
#include "mandate/ledger.h"
#include "mandate/registry.h"
#include "mandate/server.h"
#include "mandate/token.h"
#include "store/keys_store.h"

#define MD_HTTP_DEFAULT_MAX_BODY (1u << 20)
#define MD_HTTP_DEFAULT_MAX_DEPTH 32
#define MD_HTTP_DEFAULT_MAX_HEADERS 64
#define MD_HTTP_DEFAULT_MAX_HEADER_BYTES (8u << 10)
#define MD_HTTP_DEFAULT_TIMEOUT 10
#define MD_HTTP_DEFAULT_MAX_CONNS 2048
#define MD_HTTP_DEFAULT_THREADS 4
#define MD_HTTP_DEFAULT_MAX_BATCH 100
/* Lines the operator's log takes per second (the rest are counted and reported as dropped). */
#define MD_HTTP_LOG_PER_SECOND 20u
#define MD_HTTP_MAX_LEDGER_PAGE 100

/* Latency histogram bucket upper bounds in seconds (the last bucket is +Inf). */
#define MD_HTTP_N_BUCKETS 15
extern const double md_http_buckets[MD_HTTP_N_BUCKETS];

typedef struct md_http_snapshot {
    atomic_uint refs;
    uint64_t version;
    md_arena *arena;
    md_policyset *ps;
    char *text; /* the policy text (malloc'd) */
    size_t text_len;
    char sha256[65];
} md_http_snapshot;

typedef struct md_http_metrics {
    atomic_uint_fast64_t allow, deny, error;
    atomic_uint_fast64_t buckets[MD_HTTP_N_BUCKETS + 1];
    atomic_uint_fast64_t latency_us_sum, latency_count;
    atomic_uint_fast64_t status[6]; /* by class: 1xx..5xx (index 1..5) */
    atomic_uint_fast64_t rejected_limits;
} md_http_metrics;

/* The admin policy set's answers, cached by (identity, API action). */
#define MD_HTTP_ADMIN_CACHE 64
typedef struct md_http_admin_cached {
    char *identity; /* NULL: empty slot */
    const char *api_action;
    bool allowed;
} md_http_admin_cached;

struct mandate_server {
    mandate_server_opts o;
    char *data_dir, *listen, *db_path, *key_path, *policies_path, *schema_path, *entities_path;
    char *admin_policies_path, *admin_entities_path;

    mandate_registry *registry; /* identities, delegations, the agent path; owns the ledger */
    char registry_error[640];   /* why the agent path is unavailable ("" when it works) */
    mandate_ledger *ledger;     /* borrowed from the registry: one writer per database */
    md_keys *keys;
    char *jwks; /* the JWKS document, made once */

    /* Schema and entities: loaded once, live as long as the server. */
    md_arena *base_arena;
    const md_schema *schema; /* NULL when no schema is configured */
    md_entities *entities;

    /* Admin policy set and entities (which identity may call which API action). */
    md_arena *admin_arena;
    md_policyset *admin_ps;
    md_entities *admin_es;
    pthread_mutex_t admin_mu; /* guards admin_cache */
    pthread_mutex_t log_mu;   /* guards the log's rate limit */
    int64_t log_window;       /* the second (monotonic) the log's count is for */
    unsigned log_lines;       /* lines written in that second */
    uint64_t log_dropped;     /* lines dropped since the last one written */
    md_http_admin_cached admin_cache[MD_HTTP_ADMIN_CACHE];

    pthread_mutex_t snap_mu; /* guards snap */
    md_http_snapshot *snap;
    pthread_mutex_t put_mu; /* one policy replacement at a time */

    md_http_metrics m;

    /* server.c: the daemon and the responses pending on the ledger. */
    void *daemon;
    unsigned port;
    bool stopping, stopped;
    pthread_mutex_t q_mu; /* guards the pending list, durable, ledger_failed, stopping */
    struct conn_state *q_head, *q_tail;
    uint64_t durable;        /* entries below this are durable (the ledger's listener says so) */
    bool ledger_failed;      /* the ledger failed: every pending response is a 503 */
    atomic_int active;       /* requests between first call and completion */
    pthread_mutex_t free_mu; /* guards the per-request states kept for reuse */
    struct conn_state *free_states;
    unsigned n_free_states;
};

typedef struct md_http_req {
    const char *method;
    const char *path;
    const char *query; /* without '?', NULL when none */
    const char *authorization;
    const char *body;
    size_t body_len;
    md_arena *arena; /* per request; freed by the caller */
} md_http_req;

typedef struct md_http_resp {
    int status;
    const char *content_type; /* static */
    char *body;               /* malloc'd; free with md_http_resp_release */
    size_t body_len;
    char allow[64];                /* Allow header for 405 */
    bool www_authenticate;         /* add WWW-Authenticate: Bearer */
    bool pending;                  /* wait for ledger ticket before sending */
    uint64_t ticket;               /* the last ledger entry this response acknowledges */
    bool is_authorize;             /* a failure to settle is a deny */
    size_t n_decisions;            /* authorize: decisions in this response (for metrics) */
    size_t n_allow, n_deny, n_err; /* counted into metrics when settled */
    int64_t t_start_ns;            /* monotonic start, for the latency histogram */
    const char *route_method;      /* the route's method and path pattern (static), for the */
    const char *route_path;        /* operator's log; NULL before routing */
} md_http_resp;

/* The request context a handler gets: the caller's identity and the parsed JSON body. */
typedef struct md_http_ctx {
    const char *identity; /* the caller (canonical Cedar uid text), NULL on public routes */
    /* The caller is registered and suspended or departed. Routes refuse such a caller (403)
     * before their handler, except authorize: its plain path refuses it and its agent path
     * decides (a deny, recorded). */
    bool caller_inactive;
    json_t *body;         /* parsed JSON body (an object), NULL when the route takes none */
    const md_jv *doc;     /* POST /v1/authorize: the body in rq->arena instead */
    const char *path_arg; /* a {param} path segment, NULL when none */
} md_http_ctx;

typedef int (*md_http_handler)(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                               md_http_resp *rs);

typedef struct md_http_route {
    const char *method;
    const char *path;       /* "/v1/ledger/entries/{index}": one {param} as the last segment */
    const char *api_action; /* the admin Cedar action, NULL for a public route */
    bool json_body;         /* parse the body as JSON (required) */
    md_http_handler fn;
} md_http_route;

extern const md_http_route md_http_routes[];
extern const size_t md_http_n_routes;

/* router.c */
/* Handles one request; always fills rs (errors become 4xx/5xx JSON). rs is zeroed first. */
void md_http_handle(mandate_server *s, const md_http_req *rq, md_http_resp *rs);
/* Marks rs pending until the ledger entry `ticket` (and those before it) is durable. */
void md_http_hold(md_http_resp *rs, uint64_t ticket);
/* Waits for a pending response's ledger entries (fail closed on error) and counts metrics. */
void md_http_settle(mandate_server *s, md_http_resp *rs);
/* md_http_settle when the caller knows the entries are durable (the ledger's listener said so):
 * no wait, no lock of the ledger. */
void md_http_settle_durable(mandate_server *s, md_http_resp *rs);
void md_http_resp_release(md_http_resp *rs);
void md_http_admin_cache_free(mandate_server *s);
/* Sets rs to a JSON error {"error":{"code":code,"message":msg}}. Returns status. */
int md_http_error(md_http_resp *rs, int status, const char *code, const char *fmt, ...)
    MD_PRINTF(4, 5);
/* Sets rs to the JSON value j (takes the reference) with status. On ENOMEM a 500. */
int md_http_json(md_http_resp *rs, int status, json_t *j);
/* Sets rs to the JSON text in b with status (takes b's memory; b is left empty). */
int md_http_text(md_http_resp *rs, int status, md_buf *b);
/* Checks JSON nesting without parsing: MANDATE_ETOOBIG past max_depth. The router runs it when a
 * body fails to parse, so that too deep a body is reported as such whatever else is wrong. */
int md_http_json_depth_ok(const char *p, size_t n, unsigned max_depth);
/* The value of a query parameter (decoded only for plain characters), or NULL. */
const char *md_http_query_param(md_arena *a, const char *query, const char *name);
int64_t md_http_now_ns(void);

/* state.c: snapshot, loading, metrics helpers. */
md_http_snapshot *md_http_snapshot_acquire(mandate_server *s);
void md_http_snapshot_release(md_http_snapshot *snap);
/* Parses and validates policy text into a new snapshot (refs 1). On a policy or validation error
 * returns MANDATE_EPARSE/MANDATE_EVALIDATE with *errors_out a JSON array of diagnostics. */
int md_http_snapshot_new(mandate_server *s, const char *text, size_t len, uint64_t version,
                         md_http_snapshot **out, json_t **errors_out, md_diag *d);
/* Loads everything from the data directory (used by mandate_server_open). */
int md_http_load(mandate_server *s, md_diag *d);
void md_http_unload(mandate_server *s);
void md_http_observe(mandate_server *s, const md_http_resp *rs);
/* Whether the admin policies let identity perform api_action (a string constant: the cache
 * compares its address). */
int md_http_admin_allows(mandate_server *s, md_arena *a, const char *identity,
                         const char *api_action, bool *allowed, md_diag *d);
/* One line to the operator's log (opts.log), when there is one. */
void md_http_log(mandate_server *s, const char *fmt, ...) MD_PRINTF(2, 3);

/* api_agent.c: one request that carries a delegation token, decided by
 * mandate_agent_authorize_submit; appends the decision object to out (unchanged on an error),
 * and rs is pending on its entry. */
int md_http_agent_decide(mandate_server *s, md_arena *a, json_t *item, const char *caller,
                         md_http_resp *rs, md_buf *out, md_diag *d);

/* The built-in admin policy set (a copy of policies/admin.cedar). */
extern const char md_http_admin_policies[];

/* Handlers, one file per API area. */
int md_api_healthz(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                   md_http_resp *rs);
int md_api_metrics(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                   md_http_resp *rs);
int md_api_jwks(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs);
int md_api_authorize(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                     md_http_resp *rs);
int md_api_policies_get(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs);
int md_api_policies_put(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs);
int md_api_policies_validate(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                             md_http_resp *rs);
int md_api_ledger_checkpoint(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                             md_http_resp *rs);
int md_api_ledger_entries(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                          md_http_resp *rs);
int md_api_ledger_entry(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs);
int md_api_ledger_inclusion(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                            md_http_resp *rs);
int md_api_ledger_consistency(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                              md_http_resp *rs);
/* api_registry.c: the registry, delegations and the kill switch. */
#define MD_HTTP_DECL(name)                                                                         \
    int name(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs)
MD_HTTP_DECL(md_api_registry_list);
MD_HTTP_DECL(md_api_registry_show);
MD_HTTP_DECL(md_api_registry_add);
MD_HTTP_DECL(md_api_registry_suspend);
MD_HTTP_DECL(md_api_registry_resume);
MD_HTTP_DECL(md_api_delegations_issue);
MD_HTTP_DECL(md_api_delegations_revoke);
MD_HTTP_DECL(md_api_freeze);
MD_HTTP_DECL(md_api_unfreeze);
/* api_account.c: approvals, outcomes, trace. */
MD_HTTP_DECL(md_api_approvals_list);
MD_HTTP_DECL(md_api_approvals_view);
MD_HTTP_DECL(md_api_approvals_approve);
MD_HTTP_DECL(md_api_approvals_reject);
MD_HTTP_DECL(md_api_outcomes);
MD_HTTP_DECL(md_api_trace);
/* api_govern.c: the access review and the accountability report (docs/governance.md). */
MD_HTTP_DECL(md_api_review);
MD_HTTP_DECL(md_api_report);
/* A mandate_err as an HTTP error (400, 403 refused, 404, 409, 503, 500). */
int md_http_error_for(md_http_resp *rs, int err, const char *msg);
/* The first {param} of the path, percent-decoded, in a. */
const char *md_http_path_arg(md_arena *a, const char *arg);

#endif
