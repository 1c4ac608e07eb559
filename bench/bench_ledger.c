/* bench_ledger.c: ledger figures: durable appends/s with 1 and 32 writers, p50/p99 ack latency,
 * inclusion proofs/s, and the time of a full offline verify.
 *   usage: bench_ledger [ENTRIES (default 1000000)] [DIR (default /tmp)] */
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
    uint64_t count;
    double *lat;
    int fails;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (uint64_t i = 0; i < w->count; i++) {
        char body[128];
        int n = snprintf(body, sizeof body,
                         "{\"agent\":\"agent-%d\",\"action\":\"read\",\"decision\":\"allow\","
                         "\"seq\":%" PRIu64 "}",
                         w->id, i);
        mandate_ledger_entry e = {MANDATE_ENTRY_DECISION, 0, body, (size_t)n};
        double t0 = now_s();
        if (mandate_ledger_append(w->l, &e, NULL, NULL) != 0)
            w->fails++;
        w->lat[i] = now_s() - t0;
    }
    return NULL;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(mandate_ledger *l, int threads, uint64_t total, const char *label)
{
    pthread_t t[64];
    worker w[64];
    double *lat = calloc(total, sizeof *lat);
    uint64_t off = 0;
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        uint64_t c = total / (uint64_t)threads + ((uint64_t)i < total % (uint64_t)threads);
        w[i] = (worker){l, i, c, lat + off, 0};
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
    printf("%-28s %9.0f appends/s  (%" PRIu64 " in %.2f s, %d failed)  ack p50 %.3f ms  p99 "
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
    printf("ledger bench: %s (durable: WAL, synchronous=FULL; checkpoint every 1024)\n", db);
    uint64_t single = getenv("BENCH_SINGLE") ? strtoull(getenv("BENCH_SINGLE"), NULL, 10) : 2000;
    run(l, 1, single, "1 writer, durable");
    run(l, 32, entries > single ? entries - single : 1, "32 writers, durable");
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
    printf("%-28s %9.0f proofs/s   (%" PRIu64 " random inclusion proofs, tree of %" PRIu64 ")\n",
           "inclusion proofs", (double)nproofs / el, nproofs, size);
    mandate_ledger_close(l);
    mandate_ledger_report r;
    t0 = now_s();
    int rc = mandate_ledger_verify(db, NULL, &r, &d);
    el = now_s() - t0;
    printf("%-28s %9.2f s        (%" PRIu64 " entries, %" PRIu64 " nodes, %" PRIu64
           " checkpoints: %s)\n",
           "full verify", el, r.entries, r.nodes, r.checkpoints, rc ? d.message : "ok");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return rc ? 1 : 0;
}
