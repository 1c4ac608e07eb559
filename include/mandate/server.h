/*
 * mandate/server.h: `mandate serve`, the HTTP/1.1 JSON API of mandate (docs/server.md,
 * docs/openapi.yaml).
 *
 * A mandate_server is an opaque handle made by mandate_server_open from a data directory (made
 * by `mandate init`: the database and the ledger signing key) and options; it loads the active
 * policy set, schema and entities, the admin policy set (which identity may call which API
 * action), and opens the ledger and the API key store. mandate_server_start listens (libmicrohttpd,
 * HTTP/1.1 keep-alive, a thread pool); mandate_server_stop stops accepting, finishes every request
 * in flight (every acknowledged ledger entry is durable before its response is sent) and stops.
 * mandate_server_close frees (and stops first when needed). Options are copied by open.
 *
 * Limits: every one has a default; requests past a limit get a 4xx JSON error
 * {"error":{"code":...,"message":...}}. Internal failures give 5xx, and an authorization that
 * cannot be decided or recorded is denied (fail closed).
 */
#ifndef MANDATE_SERVER_H
#define MANDATE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mandate/cedar.h" /* mandate_diag */
#include "mandate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mandate_server mandate_server;

typedef struct mandate_server_opts {
    const char *data_dir;       /* required: DIR/mandate.db, DIR/ledger.key */
    const char *listen;         /* address; NULL = "127.0.0.1" */
    unsigned port;              /* 0 = a free port chosen by the system (see mandate_server_port) */
    unsigned threads;           /* worker threads; 0 = 4 */
    const char *policies;       /* active policy set file; NULL = DIR/policies.cedar */
    const char *schema;         /* schema file (optional); NULL = DIR/schema.cedarschema if any */
    const char *entities;       /* entities file (optional); NULL = DIR/entities.json if any */
    const char *admin_policies; /* admin policy set; NULL = DIR/admin.cedar, else built-in */
    const char *admin_entities; /* admin entities (group membership); NULL = DIR/admin-entities.json
                                 * if any */
    size_t max_body;            /* bytes; 0 = 1 MiB */
    unsigned max_json_depth;    /* nesting of request JSON; 0 = 32 */
    unsigned max_headers;       /* header count; 0 = 64 */
    size_t max_header_bytes;    /* sum of header names and values; 0 = 8 KiB */
    unsigned timeout_s;         /* idle connection timeout; 0 = 10 */
    unsigned max_connections;   /* 0 = 2048 */
    unsigned max_batch;         /* requests per batch authorize; 0 = 100 */
    int record_decisions;       /* 1 (default when 0) = append every decision to the ledger;
                                 * -1 = do not */
    int key_cache_ms;           /* cache verified API keys this long; 0 = 1000, negative = no
                                 * cache (a key revoked elsewhere works until its entry expires) */
    int event_loop;             /* MANDATE_SERVER_POLL (0, default) or MANDATE_SERVER_EPOLL */
    /* The operator's log (may be NULL): one line, without a newline, for every 5xx answer and
     * for what a client is not told (an unauthenticated caller's store error, why the agent path
     * is unavailable), at most 20 a second (then "(N lines dropped) " starts the next one).
     * Called from any thread, possibly at once from several. */
    void (*log)(void *log_arg, const char *line);
    void *log_arg;
} mandate_server_opts;

/* How the worker threads wait for their connections. poll: no system calls to suspend and resume
 * a connection while its decision becomes durable (less CPU per decision), but each wake-up
 * walks the thread's connections; epoll: two more system calls per decision, constant cost per
 * wake-up (for many thousands of mostly idle connections). */
enum { MANDATE_SERVER_POLL = 0, MANDATE_SERVER_EPOLL = 1 };

int mandate_server_open(mandate_server **out, const mandate_server_opts *opts, mandate_diag *diag);
/* Starts listening; returns once the socket is bound. */
int mandate_server_start(mandate_server *s, mandate_diag *diag);
/* Why token requests are denied (the registry refused the schema, entities or policies at
 * open), or NULL when the agent path works. Public /healthz only says "unavailable". */
const char *mandate_server_agent_path_error(const mandate_server *s);
/* The bound port (useful with port 0), 0 when not started. */
unsigned mandate_server_port(const mandate_server *s);
/* Stops accepting, finishes requests in flight, stops the threads. Idempotent. */
void mandate_server_stop(mandate_server *s);
/* Stops when needed, closes the ledger (signing a final checkpoint) and frees. Accepts NULL. */
void mandate_server_close(mandate_server *s);

/* Reads a configuration file of `key = value` lines (# comments; keys as the long flags of
 * `mandate serve`: listen, port, threads, data, policies, schema, entities, admin-policies,
 * admin-entities, max-body, max-json-depth, max-headers, max-header-bytes, timeout,
 * max-connections, max-batch, record-decisions, key-cache-ms; 0 = no cache) into opts. String
 * values are allocated and owned by the caller until mandate_server_config_free. */
typedef struct mandate_server_config {
    mandate_server_opts opts;
    char *strings[16];
    size_t n_strings;
} mandate_server_config;
int mandate_server_config_load(mandate_server_config *cfg, const char *path, mandate_diag *diag);
/* Applies one `key`, `value` pair (as from the file or a flag --key value). */
int mandate_server_config_set(mandate_server_config *cfg, const char *key, const char *value,
                              mandate_diag *diag);
void mandate_server_config_free(mandate_server_config *cfg);

/* API keys: creates a key bound to identity (a Cedar uid such as Human::"alice") in the data
 * directory's database and writes its text (shown once) to out (at least 72 bytes). */
int mandate_api_key_create(const char *data_dir, const char *identity, char *out, size_t out_len,
                           mandate_diag *diag);
/* Revokes a key by id (the 16 hex characters after "mdk_"). */
int mandate_api_key_revoke(const char *data_dir, const char *id, mandate_diag *diag);
/* Lists keys as a JSON array [{"id","identity","created_ms","revoked"}]; owned, free(). */
int mandate_api_key_list(const char *data_dir, char **json_out, mandate_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
