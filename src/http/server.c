/*
 * server.c: `mandate serve` on libmicrohttpd (server.h): the daemon (HTTP/1.1 keep-alive, a
 * thread pool waiting with poll, or epoll), the limits enforced before routing (header count and
 * bytes, body size, connection count, idle timeout), per-request state, and the pending list: a
 * response that waits for its ledger entries to become durable is queued with its connection
 * suspended, and the ledger's listener (on_durable, run by the thread that committed) settles and
 * resumes it.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

typedef struct conn_state {
    struct conn_state *next_free; /* in the server's list of states kept for reuse */
    md_buf body;
    md_arena *arena;
    bool too_big;
    size_t dropped; /* body bytes dropped past the cap */
    bool ready;     /* resp settled, send it */
    md_http_resp resp;
    struct MHD_Connection *conn;
    mandate_server *srv;
    struct conn_state *next_pending; /* in the server's pending list */
} conn_state;

/* Per-request states are kept for reuse (arena, body buffer), up to this many. */
#define MAX_FREE_STATES 256
/* A body buffer that grew past this is freed rather than kept. */
#define KEEP_BODY_CAP (16u << 10)

static conn_state *state_get(mandate_server *s)
{
    pthread_mutex_lock(&s->free_mu);
    conn_state *st = s->free_states;
    if (st) {
        s->free_states = st->next_free;
        s->n_free_states--;
    }
    pthread_mutex_unlock(&s->free_mu);
    if (!st) {
        st = calloc(1, sizeof *st);
        if (st && !(st->arena = md_arena_new())) {
            free(st);
            return NULL;
        }
        if (st)
            md_buf_init(&st->body, s->o.max_body);
    }
    return st;
}

static void state_free(conn_state *st)
{
    md_buf_release(&st->body);
    md_arena_free(st->arena);
    md_http_resp_release(&st->resp);
    free(st);
}

static void state_put(mandate_server *s, conn_state *st)
{
    md_http_resp_release(&st->resp);
    md_arena_reset(st->arena);
    if (st->body.cap > KEEP_BODY_CAP)
        md_buf_release(&st->body);
    md_arena *a = st->arena;
    md_buf body = st->body;
    memset(st, 0, sizeof *st);
    st->arena = a;
    st->body = body;
    st->body.len = 0;
    pthread_mutex_lock(&s->free_mu);
    if (s->n_free_states < MAX_FREE_STATES) {
        st->next_free = s->free_states;
        s->free_states = st;
        s->n_free_states++;
        st = NULL;
    }
    pthread_mutex_unlock(&s->free_mu);
    if (st)
        state_free(st);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, md_http_resp *rs)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rs->body_len, rs->body ? rs->body : (char *)"",
                                        rs->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    rs->body = NULL; /* MHD frees it */
    rs->body_len = 0;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rs->content_type ? rs->content_type : "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (rs->allow[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
    if (rs->www_authenticate)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mandate\"");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(mandate_server *s, struct MHD_Connection *conn, int status,
                                  const char *code, const char *msg)
{
    md_http_resp rs;
    memset(&rs, 0, sizeof rs);
    md_http_error(&rs, status, code, "%s", msg);
    if (status >= 500)
        md_http_log(s, "before routing: %d %s: %s", status, code, msg);
    atomic_fetch_add(&s->m.rejected_limits, 1);
    atomic_fetch_add(&s->m.status[status / 100], 1);
    enum MHD_Result ret = send_resp(conn, &rs);
    md_http_resp_release(&rs);
    return ret;
}

typedef struct hdr_count {
    unsigned n;
    size_t bytes;
    unsigned content_length, transfer_encoding; /* how many of each */
} hdr_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    hdr_count *h = cls;
    h->n++;
    h->bytes += strlen(key) + (value ? strlen(value) : 0);
    h->content_length += !strcasecmp(key, "Content-Length");
    h->transfer_encoding += !strcasecmp(key, "Transfer-Encoding");
    return MHD_YES;
}

typedef struct query_acc {
    md_buf b;
} query_acc;

static void put_encoded(md_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '-' || c == '_' || c == '.') {
            md_buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            md_buf_append(b, e, 3);
        }
    }
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    query_acc *q = cls;
    if (q->b.len)
        md_buf_append(&q->b, "&", 1);
    put_encoded(&q->b, key);
    md_buf_append(&q->b, "=", 1);
    if (value)
        put_encoded(&q->b, value);
    return MHD_YES;
}

/* durable: the entries are known to be durable; otherwise md_http_settle waits (or fails). */
static void settle_and_resume(mandate_server *s, conn_state *st, bool durable)
{
    if (durable)
        md_http_settle_durable(s, &st->resp);
    else
        md_http_settle(s, &st->resp);
    st->ready = true;
    MHD_resume_connection(st->conn);
}

/* The ledger's listener: settles and resumes every pending response whose entries are now
 * durable (all of them when the ledger failed: they become fail-closed 503s). */
static void on_durable(void *arg, uint64_t size, int failed)
{
    mandate_server *s = arg;
    conn_state *done = NULL, **done_tail = &done, *keep = NULL, **keep_tail = &keep;
    conn_state *keep_last = NULL;
    pthread_mutex_lock(&s->q_mu);
    if (size > s->durable)
        s->durable = size;
    s->ledger_failed |= failed != 0;
    for (conn_state *st = s->q_head, *next; st; st = next) {
        next = st->next_pending;
        st->next_pending = NULL;
        if (s->ledger_failed || st->resp.ticket < s->durable) {
            *done_tail = st;
            done_tail = &st->next_pending;
        } else {
            *keep_tail = st;
            keep_tail = &st->next_pending;
            keep_last = st;
        }
    }
    s->q_head = keep;
    s->q_tail = keep_last;
    pthread_mutex_unlock(&s->q_mu);
    for (conn_state *st = done, *next; st; st = next) {
        next = st->next_pending; /* st may be reused once resumed */
        settle_and_resume(s, st, !failed && st->resp.ticket < size);
    }
}

/* A pending response: answered at once when its entries are already durable (or the ledger
 * failed, or the server is stopping: then this worker waits), else queued for on_durable with
 * the connection suspended. */
static enum MHD_Result hold_until_durable(mandate_server *s, struct MHD_Connection *conn,
                                          conn_state *st)
{
    pthread_mutex_lock(&s->q_mu);
    if (s->ledger_failed || s->stopping || st->resp.ticket < s->durable) {
        bool durable = st->resp.ticket < s->durable;
        pthread_mutex_unlock(&s->q_mu);
        if (durable)
            md_http_settle_durable(s, &st->resp);
        else
            md_http_settle(s, &st->resp);
        return send_resp(conn, &st->resp);
    }
    MHD_suspend_connection(conn);
    if (s->q_tail)
        s->q_tail->next_pending = st;
    else
        s->q_head = st;
    s->q_tail = st;
    pthread_mutex_unlock(&s->q_mu);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mandate_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        hdr_count h = {0};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &h);
        if (h.n > s->o.max_headers) {
            char msg[128];
            snprintf(msg, sizeof msg, "the request has %u headers, the limit is %u", h.n,
                     s->o.max_headers);
            return send_error(s, conn, 431, "too_many_headers", msg);
        }
        if (h.bytes > s->o.max_header_bytes) {
            char msg[128];
            snprintf(msg, sizeof msg, "the request headers hold %zu bytes, the limit is %zu",
                     h.bytes, s->o.max_header_bytes);
            return send_error(s, conn, 431, "headers_too_large", msg);
        }
        /* One way to give the body's length: libmicrohttpd takes the first of two
         * Content-Length headers, and chunked over a Content-Length; a proxy in front may read
         * them otherwise (request smuggling). RFC 9112 6.3: reject. */
        if (h.content_length > 1 || h.transfer_encoding > 1 ||
            (h.content_length && h.transfer_encoding))
            return send_error(s, conn, 400, "ambiguous_length",
                              "the request gives its body's length more than once (two "
                              "Content-Length or Transfer-Encoding headers, or both kinds)");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end == cl || *end || n > s->o.max_body) {
                char msg[128];
                snprintf(msg, sizeof msg, "the request body is larger than %zu bytes",
                         s->o.max_body);
                return send_error(s, conn, 413, "body_too_large", msg);
            }
        }
        if (!(st = state_get(s)))
            return send_error(s, conn, 503, "overloaded", "out of memory");
        st->conn = conn;
        st->srv = s;
        atomic_fetch_add(&s->active, 1);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* A chunked body past the cap is read and dropped (this libmicrohttpd cannot answer in
         * the middle of an upload) and answered with 413 at its end; past 4 times the cap the
         * connection is closed without an answer. */
        if (!st->too_big && md_buf_append(&st->body, upload_data, *upload_data_size))
            st->too_big = true;
        if (st->too_big) {
            st->dropped += *upload_data_size;
            if (st->dropped > 4 * s->o.max_body) {
                atomic_fetch_add(&s->m.rejected_limits, 1);
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->ready)
        return send_resp(conn, &st->resp);
    if (st->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->o.max_body);
        return send_error(s, conn, 413, "body_too_large", msg);
    }
    query_acc q;
    md_buf_init(&q.b, 64 << 10);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    md_http_req rq = {
        .method = method,
        .path = url,
        .query = q.b.len ? q.b.data : NULL,
        .authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
        .body = st->body.data ? st->body.data : "",
        .body_len = st->body.len,
        .arena = st->arena,
    };
    md_http_handle(s, &rq, &st->resp);
    md_buf_release(&q.b);
    if (st->resp.pending)
        return hold_until_durable(s, conn, st);
    md_http_settle(s, &st->resp);
    return send_resp(conn, &st->resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mandate_server *s = cls;
    conn_state *st = *con_cls;
    if (!st)
        return;
    state_put(s, st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

static char *dup_or_null(const char *p)
{
    return p ? strdup(p) : NULL;
}

MD_EXPORT int mandate_server_open(mandate_server **out, const mandate_server_opts *opts,
                                  mandate_diag *diag)
{
    md_diag d = {0};
    const char *bad =
        !out || !opts || !opts->data_dir ? "the server needs a data directory"
        : opts->event_loop != MANDATE_SERVER_POLL && opts->event_loop != MANDATE_SERVER_EPOLL
            ? "event_loop must be MANDATE_SERVER_POLL or MANDATE_SERVER_EPOLL"
            : NULL;
    if (bad) {
        if (diag) {
            diag->code = MANDATE_EINVAL;
            diag->line = diag->column = 0;
            snprintf(diag->message, sizeof diag->message, "%s", bad);
        }
        return MANDATE_EINVAL;
    }
    *out = NULL;
    if (sodium_init() < 0)
        return MANDATE_ECRYPTO;
    mandate_server *s = calloc(1, sizeof *s);
    if (!s)
        return MANDATE_ENOMEM;
    s->o = *opts;
    s->data_dir = strdup(opts->data_dir);
    s->listen = strdup(opts->listen ? opts->listen : "127.0.0.1");
    /* Keep our own copies of the option strings (the caller's may go away). */
    s->o.policies = dup_or_null(opts->policies);
    s->o.schema = dup_or_null(opts->schema);
    s->o.entities = dup_or_null(opts->entities);
    s->o.admin_policies = dup_or_null(opts->admin_policies);
    s->o.admin_entities = dup_or_null(opts->admin_entities);
    s->o.data_dir = s->data_dir;
    s->o.listen = s->listen;
    if (!s->o.threads)
        s->o.threads = MD_HTTP_DEFAULT_THREADS;
    if (!s->o.max_body)
        s->o.max_body = MD_HTTP_DEFAULT_MAX_BODY;
    if (!s->o.max_json_depth)
        s->o.max_json_depth = MD_HTTP_DEFAULT_MAX_DEPTH;
    if (!s->o.max_headers)
        s->o.max_headers = MD_HTTP_DEFAULT_MAX_HEADERS;
    if (!s->o.max_header_bytes)
        s->o.max_header_bytes = MD_HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (!s->o.timeout_s)
        s->o.timeout_s = MD_HTTP_DEFAULT_TIMEOUT;
    if (!s->o.max_connections)
        s->o.max_connections = MD_HTTP_DEFAULT_MAX_CONNS;
    if (!s->o.max_batch)
        s->o.max_batch = MD_HTTP_DEFAULT_MAX_BATCH;
    pthread_mutex_init(&s->snap_mu, NULL);
    pthread_mutex_init(&s->put_mu, NULL);
    pthread_mutex_init(&s->q_mu, NULL);
    pthread_mutex_init(&s->free_mu, NULL);
    pthread_mutex_init(&s->admin_mu, NULL);
    pthread_mutex_init(&s->log_mu, NULL);
    int rc = (!s->data_dir || !s->listen) ? md_diag_set(&d, MANDATE_ENOMEM, 0, 0, "out of memory")
                                          : md_http_load(s, &d);
    if (rc) {
        if (diag) {
            diag->code = rc;
            diag->line = d.line;
            diag->column = d.col;
            snprintf(diag->message, sizeof diag->message, "%s",
                     d.msg[0] ? d.msg : mandate_strerror(rc));
        }
        mandate_server_close(s);
        return rc;
    }
    if (s->registry_error[0])
        md_http_log(s, "token requests will be denied: %s", s->registry_error);
    *out = s;
    return 0;
}

MD_EXPORT const char *mandate_server_agent_path_error(const mandate_server *s)
{
    return s && s->registry_error[0] ? s->registry_error : NULL;
}

MD_EXPORT int mandate_server_start(mandate_server *s, mandate_diag *diag)
{
    if (!s || s->daemon)
        return MANDATE_EINVAL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    /* TURBO: read and write before asking whether the socket is ready (fewer syscalls per
     * keep-alive request; about 15% less server CPU per decision under wrk). poll by default:
     * in epoll mode libmicrohttpd takes a suspended connection out of the epoll set and puts it
     * back on resume, two epoll_ctl calls per decision (about 6% of the server's CPU). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
                     (s->o.event_loop == MANDATE_SERVER_EPOLL ? MHD_USE_EPOLL : MHD_USE_POLL);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->listen, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->o.port);
    } else if (inet_pton(AF_INET6, s->listen, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->o.port);
        flags |= MHD_USE_IPv6;
    } else {
        if (diag) {
            diag->code = MANDATE_EINVAL;
            snprintf(diag->message, sizeof diag->message,
                     "listen address '%s' is not an IPv4 or IPv6 address", s->listen);
        }
        return MANDATE_EINVAL;
    }
    /* Before the first request: no commit may go unseen by the pending list. */
    mandate_ledger_listen(s->ledger, on_durable, s);
    /* The connection's memory pool holds the request line, the headers and their index, and
     * is zeroed after every request: the header cap plus 8 KiB fits max-headers headers holding
     * max-header-bytes (tests/http/abuse.py) and costs a third less than plus 16 KiB. */
    size_t mem = s->o.max_header_bytes + (8u << 10);
    struct MHD_Daemon *dm = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!dm) {
        mandate_ledger_listen(s->ledger, NULL, NULL);
        if (diag) {
            diag->code = MANDATE_EIO;
            snprintf(diag->message, sizeof diag->message,
                     "cannot listen on %s port %u (in use, or not allowed)", s->listen, s->o.port);
        }
        return MANDATE_EIO;
    }
    s->daemon = dm;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(dm, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    return 0;
}

MD_EXPORT unsigned mandate_server_port(const mandate_server *s)
{
    return s ? s->port : 0;
}

MD_EXPORT void mandate_server_stop(mandate_server *s)
{
    if (!s || !s->daemon || s->stopped)
        return;
    /* Stop accepting; finish what is in flight (bounded wait), then stop the threads. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (int i = 0; i < 1000 && atomic_load(&s->active) > 0; i++) {
        pthread_mutex_lock(&s->q_mu);
        bool queued = s->q_head != NULL;
        pthread_mutex_unlock(&s->q_mu);
        if (!queued && i > 200)
            break; /* only idle or slow clients are left */
        usleep(10000);
    }
    /* Settle what is still pending (waiting for the ledger); from now on workers settle their
     * own. libmicrohttpd must not be stopped with a connection suspended. */
    pthread_mutex_lock(&s->q_mu);
    s->stopping = true;
    conn_state *left = s->q_head;
    s->q_head = s->q_tail = NULL;
    pthread_mutex_unlock(&s->q_mu);
    for (conn_state *st = left, *next; st; st = next) {
        next = st->next_pending;
        settle_and_resume(s, st, false);
    }
    mandate_ledger_listen(s->ledger, NULL, NULL); /* and any listener call still resuming */
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    s->stopped = true;
}

MD_EXPORT void mandate_server_close(mandate_server *s)
{
    if (!s)
        return;
    mandate_server_stop(s);
    md_http_unload(s);
    free((char *)s->o.policies);
    free((char *)s->o.schema);
    free((char *)s->o.entities);
    free((char *)s->o.admin_policies);
    free((char *)s->o.admin_entities);
    free(s->data_dir);
    free(s->listen);
    pthread_mutex_destroy(&s->snap_mu);
    pthread_mutex_destroy(&s->put_mu);
    pthread_mutex_destroy(&s->q_mu);
    for (conn_state *st = s->free_states, *next; st; st = next) {
        next = st->next_free;
        state_free(st);
    }
    pthread_mutex_destroy(&s->free_mu);
    md_http_admin_cache_free(s);
    pthread_mutex_destroy(&s->admin_mu);
    pthread_mutex_destroy(&s->log_mu);
    free(s);
}
