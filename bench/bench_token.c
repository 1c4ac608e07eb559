/*
 * bench_token.c: delegation-token verifications per second, uncached and cached.
 *
 * Issues N distinct root tokens (and N depth-2 chains) with one Ed25519 key, then times
 * mandate_token_verify over all of them: five passes each, the figure is the median pass. The
 * hooks (revocation, usage, registry) are trivial in-memory functions, so the cached figure is the
 * cost of hashing the token, the cache lookup and the live checks. Usage: bench_token [N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mandate/token.h"

#define NOW 1800000000LL
#define RUNS 5

static int no_revocation(void *ctx, const char *jti, bool *r)
{
    *r = false;
    return 0;
}
static int no_uses(void *ctx, const char *jti, uint64_t *n)
{
    *n = 0;
    return 0;
}
static int all_active(void *ctx, const char *uid, mandate_principal_status *st)
{
    *st = MANDATE_PRINCIPAL_ACTIVE;
    return 0;
}

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct rate {
    double wall, cpu; /* verifications per second of wall-clock and of this thread's CPU time */
} rate;

/* Median verifications per second over RUNS passes; exits on any failed verification. */
static rate run(mandate_token_service *s, char **toks, const char *const (*parents)[2],
                size_t n_parents, size_t n)
{
    double wall[RUNS], cpu[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        for (size_t i = 0; i < n; i++) {
            mandate_token *t = NULL;
            mandate_token_error e;
            mandate_token_verify_args a = {NOW, parents ? parents[i] : NULL, n_parents};
            if (mandate_token_verify(s, toks[i], strlen(toks[i]), &a, &t, &e) != 0) {
                fprintf(stderr, "verification failed: %s: %s\n",
                        mandate_token_reason_name(e.reason), e.message);
                exit(1);
            }
            mandate_token_free(t);
        }
        wall[r] = (double)n / (now_s(CLOCK_MONOTONIC) - t0);
        cpu[r] = (double)n / (now_s(CLOCK_THREAD_CPUTIME_ID) - c0);
    }
    qsort(wall, RUNS, sizeof wall[0], cmp_double);
    qsort(cpu, RUNS, sizeof cpu[0], cmp_double);
    return (rate){wall[RUNS / 2], cpu[RUNS / 2]};
}

static mandate_token_service *open_service(mandate_keyring *kr, size_t cache)
{
    mandate_token_service_opts o = {
        .keyring = kr,
        .issuer = "https://mandate.bench",
        .audience = "mandate-api",
        .cache_entries = cache,
        .hooks = {NULL, no_revocation, no_uses, all_active},
    };
    mandate_token_service *s = NULL;
    if (mandate_token_service_open(&s, &o) != 0) {
        fprintf(stderr, "cannot open the token service\n");
        exit(1);
    }
    return s;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    if (n == 0)
        n = 1000;
    mandate_keyring *kr = NULL;
    if (mandate_keyring_new(&kr) || mandate_keyring_generate(kr, "bench-1")) {
        fprintf(stderr, "cannot make a key ring\n");
        return 1;
    }
    mandate_token_service *issuer = open_service(kr, SIZE_MAX);
    char **roots = calloc(n, sizeof *roots), **leaves = calloc(n, sizeof *leaves);
    char **mids = calloc(n, sizeof *mids);
    const char *(*parents)[2] = calloc(n, sizeof *parents);
    const char *actions[] = {"Action::\"read\"", "Action::\"draft\"", "Action::\"send\""};
    const char *resources[] = {"Ticket::\"42\"", "Doc", "Customer::\"acme\""};
    size_t root_len = 0, leaf_len = 0;
    for (size_t i = 0; i < n; i++) {
        char sub[64], sub2[64], sub3[64];
        snprintf(sub, sizeof sub, "Agent::\"drafter-%zu\"", i);
        snprintf(sub2, sizeof sub2, "Agent::\"helper-%zu\"", i);
        snprintf(sub3, sizeof sub3, "Agent::\"leaf-%zu\"", i);
        mandate_delegation d = {.subject = sub,
                                .delegator = "Human::\"alice\"",
                                .task = "reply to the customer",
                                .workflow = "Workflow::\"support-reply\"",
                                .actions = actions,
                                .n_actions = 3,
                                .resources = resources,
                                .n_resources = 3,
                                .max_uses = 100,
                                .now = NOW};
        mandate_token_error e;
        mandate_token *root = NULL, *mid = NULL;
        mandate_token_verify_args a = {.now = NOW};
        if (mandate_token_issue(issuer, &d, &roots[i], &e) ||
            mandate_token_verify(issuer, roots[i], strlen(roots[i]), &a, &root, &e)) {
            fprintf(stderr, "issue failed: %s\n", e.message);
            return 1;
        }
        d.subject = sub2;
        d.delegator = NULL;
        d.n_actions = 2;
        d.max_uses = 10;
        if (mandate_token_redelegate(issuer, root, &d, &mids[i], &e)) {
            fprintf(stderr, "redelegate failed: %s\n", e.message);
            return 1;
        }
        const char *p1[] = {roots[i]};
        mandate_token_verify_args a1 = {NOW, p1, 1};
        if (mandate_token_verify(issuer, mids[i], strlen(mids[i]), &a1, &mid, &e)) {
            fprintf(stderr, "verify failed: %s\n", e.message);
            return 1;
        }
        d.subject = sub3;
        d.n_actions = 1;
        d.max_uses = 1;
        if (mandate_token_redelegate(issuer, mid, &d, &leaves[i], &e)) {
            fprintf(stderr, "redelegate failed: %s\n", e.message);
            return 1;
        }
        parents[i][0] = mids[i];
        parents[i][1] = roots[i];
        root_len += strlen(roots[i]);
        leaf_len += strlen(leaves[i]);
        mandate_token_free(root);
        mandate_token_free(mid);
    }
    mandate_token_service_close(issuer);

    mandate_token_service *uncached = open_service(kr, SIZE_MAX);
    mandate_token_service *cached = open_service(kr, 16 * n);
    run(cached, roots, NULL, 0, n); /* warm the cache */
    run(cached, leaves, (const char *const(*)[2])parents, 2, n);
    rate r_unc = run(uncached, roots, NULL, 0, n);
    rate r_cac = run(cached, roots, NULL, 0, n);
    rate c_unc = run(uncached, leaves, (const char *const(*)[2])parents, 2, n);
    rate c_cac = run(cached, leaves, (const char *const(*)[2])parents, 2, n);
    uint64_t hits, misses;
    mandate_token_service_cache_stats(cached, &hits, &misses);

    printf("token verifications per second, %zu distinct tokens, median of %d passes\n", n, RUNS);
    printf("(wall clock, and per second of CPU time of the benchmark thread)\n");
    printf("%-28s %12s %12s %12s %12s\n", "", "uncached", "uncached", "cached", "cached");
    printf("%-28s %12s %12s %12s %12s\n", "", "wall /s", "cpu /s", "wall /s", "cpu /s");
    char label[64];
    snprintf(label, sizeof label, "root token (%zu B)", root_len / n);
    printf("%-28s %12.0f %12.0f %12.0f %12.0f\n", label, r_unc.wall, r_unc.cpu, r_cac.wall,
           r_cac.cpu);
    snprintf(label, sizeof label, "depth-2 chain (%zu B)", leaf_len / n);
    printf("%-28s %12.0f %12.0f %12.0f %12.0f\n", label, c_unc.wall, c_unc.cpu, c_cac.wall,
           c_cac.cpu);
    printf("cached, CPU per verification: root %.2f us, chain %.2f us\n", 1e6 / r_cac.cpu,
           1e6 / c_cac.cpu);
    printf("  cache: %llu hits, %llu misses\n", (unsigned long long)hits,
           (unsigned long long)misses);
    mandate_token_service_close(uncached);
    mandate_token_service_close(cached);
    for (size_t i = 0; i < n; i++) {
        free(roots[i]);
        free(mids[i]);
        free(leaves[i]);
    }
    free(roots);
    free(mids);
    free(leaves);
    free(parents);
    mandate_keyring_free(kr);
    return 0;
}
