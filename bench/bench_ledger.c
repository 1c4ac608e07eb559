/* bench_ledger.c: ledger figures: durable appends/s with 1 and 32 writers, p50/p99 ack latency,
 * (one append in flight per writer, and pipelined with submit/wait), inclusion proofs/s, and the
 * time of a full offline verify of the ENTRIES-entry ledger the appends built.
 *   usage: bench_ledger [ENTRIES (default 1000000)] [DIR (default /tmp)]
 *   env: BENCH_SINGLE (1-writer appends, 2000), BENCH_SYNC (32 writers x 1 in flight, 100000),
 *        BENCH_INFLIGHT (appends in flight per writer in the pipelined runs, "16,64"; the
 *        entries left after the first two runs are split between the depths),
 *        BENCH_CACHE_LEVEL (the ledger's cache_level) */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mandate/mandate.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct worker {
    mandate_ledger *l;
    int id;
    unsigned inflight; /* appends this writer keeps in flight (1 = synchronous append) */
    uint64_t count;
    double *lat;
    int fails;
} worker;

#define MAX_INFLIGHT 1024

static int body_for(char *body, size_t cap, int id, uint64_t i)
{
    return snprintf(body, cap,
                    "{\"agent\":\"agent-%d\",\"action\":\"read\",\"decision\":\"allow\","
                    "\"seq\":%" PRIu64 "}",
                    id, i);
}

/* Latency of an append: from the call (submit) until it is acknowledged as durable. */
static void *work(void *arg)
{
    worker *w = arg;
    char body[128];
    if (w->inflight <= 1) {
        for (uint64_t i = 0; i < w->count; i++) {
            int n = body_for(body, sizeof body, w->id, i);
            mandate_ledger_entry e = {MANDATE_ENTRY_DECISION, 0, body, (size_t)n};
            double t0 = now_s();
            if (mandate_ledger_append(w->l, &e, NULL, NULL) != 0)
                w->fails++;
            w->lat[i] = now_s() - t0;
        }
        return NULL;
    }
    uint64_t ticket[MAX_INFLIGHT];
    double start[MAX_INFLIGHT];
    uint64_t done = 0;
    for (uint64_t i = 0; i < w->count; i++) {
        if (i - done == w->inflight) {
            unsigned s = (unsigned)(done % w->inflight);
            if (mandate_ledger_wait(w->l, ticket[s], NULL) != 0)
                w->fails++;
            w->lat[done] = now_s() - start[s];
            done++;
        }
        int n = body_for(body, sizeof body, w->id, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_DECISION, 0, body, (size_t)n};
        unsigned s = (unsigned)(i % w->inflight);
        start[s] = now_s();
        if (mandate_ledger_submit(w->l, &e, &ticket[s], NULL) != 0) {
            w->fails++;
            ticket[s] = UINT64_MAX;
        }
    }
    for (; done < w->count; done++) {
        unsigned s = (unsigned)(done % w->inflight);
        if (ticket[s] == UINT64_MAX || mandate_ledger_wait(w->l, ticket[s], NULL) != 0)
            w->fails++;
        w->lat[done] = now_s() - start[s];
    }
    return NULL;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(mandate_ledger *l, int threads, unsigned inflight, uint64_t total)
{
    char label[64];
    snprintf(label, sizeof label, "%d writer%s x %u in flight", threads, threads > 1 ? "s" : "",
             inflight);
    pthread_t t[64];
    worker w[64];
    double *lat = calloc(total, sizeof *lat);
    uint64_t off = 0;
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        uint64_t c = total / (uint64_t)threads + ((uint64_t)i < total % (uint64_t)threads);
        w[i] = (worker){l, i, inflight, c, lat + off, 0};
        off += c;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int fails = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        fails += w[i].fails;
    }
    double el = now_s() - t0;
    qsort(lat, total, sizeof *lat, cmpd);
    printf("%-26s %9.0f appends/s  (%" PRIu64 " in %.2f s, %d failed)  ack p50 %.3f ms  p99 "
           "%.3f ms\n",
           label, (double)total / el, total, el, fails, lat[total / 2] * 1e3,
           lat[total * 99 / 100] * 1e3);
    free(lat);
}

int main(int argc, char **argv)
{
    uint64_t entries = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const char *base = argc > 2 ? argv[2] : "/tmp";
    char dir[512], db[600], key[600], cmd[700];
    snprintf(dir, sizeof dir, "%s/mandate-bench-ledger-%d", base, (int)getpid());
    snprintf(db, sizeof db, "%s/mandate.db", dir);
    snprintf(key, sizeof key, "%s/ledger.key", dir);
    mandate_diag d;
    if (mandate_ledger_init(dir, "bench.example/log", &d)) {
        fprintf(stderr, "init: %s\n", d.message);
        return 1;
    }
    mandate_ledger_opts o = {.db_path = db, .key_path = key};
    if (getenv("BENCH_CACHE_LEVEL"))
        o.cache_level = (unsigned)strtoul(getenv("BENCH_CACHE_LEVEL"), NULL, 10);
    mandate_ledger *l;
    if (mandate_ledger_open(&l, &o, &d)) {
        fprintf(stderr, "open: %s\n", d.message);
        return 1;
    }
    uint64_t single = getenv("BENCH_SINGLE") ? strtoull(getenv("BENCH_SINGLE"), NULL, 10) : 2000;
    uint64_t sync = getenv("BENCH_SYNC") ? strtoull(getenv("BENCH_SYNC"), NULL, 10) : 100000;
    /* Pipelined depths, e.g. "16,64": the remaining entries are split between them. */
    unsigned depth[8];
    int ndepth = 0;
    const char *ds = getenv("BENCH_INFLIGHT") ? getenv("BENCH_INFLIGHT") : "16,64";
    while (*ds && ndepth < 8) {
        char *end;
        unsigned long v = strtoul(ds, &end, 10);
        if (end == ds || v < 1 || v > MAX_INFLIGHT) {
            fprintf(stderr, "BENCH_INFLIGHT: depths 1..%d separated by commas\n", MAX_INFLIGHT);
            return 2;
        }
        depth[ndepth++] = (unsigned)v;
        ds = *end == ',' ? end + 1 : end;
    }
    if (ndepth == 0)
        depth[ndepth++] = 16;
    if (single + sync + (uint64_t)ndepth > entries)
        entries = single + sync + (uint64_t)ndepth;
    printf("ledger bench: %s\n"
           "appends are durable when acknowledged (SQLite WAL, synchronous=FULL, group commit; a\n"
           "checkpoint signed every 1024 entries); 'N in flight' = appends each writer keeps\n"
           "submitted and not yet acknowledged (1 = mandate_ledger_append; more = submit/wait);\n"
           "ack latency is from the call (or submit) to the durable acknowledgement\n",
           db);
    run(l, 1, 1, single);
    run(l, 32, 1, sync);
    uint64_t rest = entries - single - sync;
    for (int i = 0; i < ndepth; i++)
        run(l, 32, depth[i], rest / (uint64_t)ndepth + ((uint64_t)i < rest % (uint64_t)ndepth));
    uint64_t size = mandate_ledger_size(l);
    uint64_t nproofs = 200000;
    uint8_t leaf[32], root[32], proof[128][32];
    size_t n;
    srand(1);
    double t0 = now_s();
    for (uint64_t i = 0; i < nproofs; i++) {
        uint64_t idx = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % size;
        if (mandate_ledger_inclusion_proof(l, idx, size, leaf, root, proof, &n, &d)) {
            fprintf(stderr, "proof: %s\n", d.message);
            return 1;
        }
    }
    double el = now_s() - t0;
    printf("%-26s %9.0f proofs/s   (%" PRIu64 " random indices in the tree of %" PRIu64
           " entries,\n%38s one thread, nodes in memory, root and right edge cached)\n",
           "inclusion proofs", (double)nproofs / el, nproofs, size, "");
    /* Each proof against a different tree size: the right edge is rebuilt every time. */
    uint64_t nvar = 50000;
    t0 = now_s();
    for (uint64_t i = 0; i < nvar; i++) {
        uint64_t ts = 1 + ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % size;
        uint64_t idx = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % ts;
        if (mandate_ledger_inclusion_proof(l, idx, ts, leaf, root, proof, &n, &d)) {
            fprintf(stderr, "proof: %s\n", d.message);
            return 1;
        }
    }
    el = now_s() - t0;
    printf("%-26s %9.0f proofs/s   (%" PRIu64 " proofs, each at a random tree size)\n",
           "inclusion proofs, any size", (double)nvar / el, nvar);
    mandate_ledger_close(l);
    mandate_ledger_report r;
    t0 = now_s();
    int rc = mandate_ledger_verify(db, NULL, &r, &d);
    el = now_s() - t0;
    printf("%-26s %9.2f s        (%" PRIu64 " entries, %" PRIu64 " nodes, %" PRIu64
           " checkpoints: %s)\n",
           "full verify, 2 threads", el, r.entries, r.nodes, r.checkpoints, rc ? d.message : "ok");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return rc ? 1 : 0;
}
