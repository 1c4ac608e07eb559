/* bench_router.c: the server's CPU cost per POST /v1/authorize without sockets: the router
 * (API key, admin check, JSON body, Cedar decision, ledger entry, response) on the agent workload
 * of ../shared/bench, with every decision durable in the ledger before it is counted, as
 * `mandate serve` does. Prints decisions/s, CPU microseconds per decision (user + system, all
 * threads: the figure that matters on a shared machine) and the ledger's commits and batch sizes.
 * Under `valgrind --tool=callgrind` it gives instructions per request (run twice with different
 * COUNT and divide the difference).
 *   usage: bench_router WORKLOAD_DIR [COUNT (default 20000)] [THREADS (2)] [INFLIGHT (32)]
 * Each thread keeps INFLIGHT requests handled and waits for them in order (the server answers
 * them as the ledger's listener reports them durable), so commits are shared as under 64
 * connections. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

static mandate_server *srv;
static char auth[320];
static char **bodies;
static size_t n_bodies;
static uint64_t per_thread;
static unsigned inflight;
static _Atomic uint64_t failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct slot {
    md_arena *arena;
    md_http_resp rs;
} slot;

static void finish(slot *s)
{
    md_http_settle(srv, &s->rs);
    if (s->rs.status != 200)
        failures++;
    md_http_resp_release(&s->rs);
    md_arena_reset(s->arena);
}

static void *worker(void *arg)
{
    size_t first = (size_t)(uintptr_t)arg;
    slot *slots = calloc(inflight, sizeof *slots);
    for (unsigned i = 0; slots && i < inflight; i++)
        slots[i].arena = md_arena_new();
    for (uint64_t i = 0; slots && i < per_thread; i++) {
        slot *s = &slots[i % inflight];
        if (i >= inflight)
            finish(s);
        const char *body = bodies[(first + i) % n_bodies];
        md_http_req rq = {.method = "POST",
                          .path = "/v1/authorize",
                          .authorization = auth,
                          .body = body,
                          .body_len = strlen(body),
                          .arena = s->arena};
        md_http_handle(srv, &rq, &s->rs);
    }
    for (uint64_t i = per_thread > inflight ? per_thread - inflight : 0; slots && i < per_thread;
         i++)
        finish(&slots[i % inflight]);
    for (unsigned i = 0; slots && i < inflight; i++)
        md_arena_free(slots[i].arena);
    free(slots);
    return NULL;
}

static int copy_file(const char *from_dir, const char *name, const char *to_dir)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
    int rc = in && out ? 0 : -1;
    char buf[65536];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

static int load_bodies(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/requests.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n)
            continue;
        char **nb = realloc(bodies, (n_bodies + 1) * sizeof *bodies);
        if (!nb)
            break;
        bodies = nb;
        bodies[n_bodies++] = strdup(line);
    }
    free(line);
    fclose(f);
    return n_bodies ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_router WORKLOAD_DIR [COUNT] [THREADS] [INFLIGHT]\n");
        return 2;
    }
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000;
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2;
    inflight = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 32;
    if (!threads || !inflight || threads > 64 || load_bodies(argv[1])) {
        fprintf(stderr, "bench_router: bad arguments or no %s/requests.jsonl\n", argv[1]);
        return 2;
    }
    char dir[] = "/tmp/mandate-bench-router-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char data[4200], key[256];
    snprintf(data, sizeof data, "%s/data", dir);
    mandate_diag d;
    int rc = mandate_ledger_init(data, "bench.example/log", &d);
    if (!rc && (copy_file(argv[1], "policies.cedar", data) ||
                copy_file(argv[1], "schema.cedarschema", data) ||
                copy_file(argv[1], "entities.json", data)))
        rc = MANDATE_EIO;
    if (!rc)
        rc = mandate_api_key_create(data, "Service::\"bench\"", key, sizeof key, &d);
    mandate_server_opts o = {.data_dir = data};
    if (!rc)
        rc = mandate_server_open(&srv, &o, &d);
    if (rc) {
        fprintf(stderr, "bench_router: %s\n", d.message);
        return 1;
    }
    snprintf(auth, sizeof auth, "Bearer %s", key);
    per_thread = count / threads;
    pthread_t t[64];
    double c0 = cpu_s(), t0 = now_s();
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i * 7919u));
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    uint64_t done = per_thread * threads;
    mandate_ledger_stats st = {0};
    mandate_ledger_get_stats(srv->ledger, &st);
    printf("router: %" PRIu64 " decisions, %u threads x %u in flight: %.0f decisions/s, "
           "%.1f CPU us/decision, %" PRIu64 " failed\n",
           done, threads, inflight, (double)done / wall, cpu * 1e6 / (double)done,
           (uint64_t)failures);
    printf("ledger: %" PRIu64 " commits, %.1f entries/commit (largest %" PRIu64 "), "
           "write %.2f ms + commit %.2f ms mean, commit %.2f ms max, %" PRIu64 " checkpoints\n",
           st.commits, st.commits ? (double)st.entries / (double)st.commits : 0.0, st.max_batch,
           st.commits ? (double)st.write_ns / (double)st.commits / 1e6 : 0.0,
           st.commits ? (double)st.commit_ns / (double)st.commits / 1e6 : 0.0,
           (double)st.max_commit_ns / 1e6, st.checkpoints);
    mandate_server_close(srv);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return failures ? 1 : 0;
}
