/*
 * bench_agent.c: full agent decisions per second and median latency (ARCHITECTURE.md section 3):
 * resolve the agent, verify the delegation (cached after the first call), build context.mandate,
 * the three checks (the agent's policies, the delegator's, the delegation's scope) and the use
 * count, over a registry of A agents, H humans and the 11-policy pack of the registry tests.
 *
 * Two figures, reported apart:
 *   decide  = the cached full decision in memory (md_agent_decide): no store write, no ledger;
 *   durable = mandate_agent_authorize: the decision, the use count written to the store and the
 *             decision entry appended to the ledger and fsynced before it returns.
 * Each decision is timed on its own (CLOCK_MONOTONIC); medians and p99 over all of them.
 * Usage: bench_agent [decisions] [durable decisions] [threads] [--depth 0|1] [--schema FILE]
 *   --depth 1: every delegation is re-delegated once (human -> agent -> agent), so the
 *              delegator check runs for two delegators;
 *   --schema FILE: the registry gets FILE (policies/schema.cedarschema) plus the benchmark's
 *              Ticket type and actions, so every request is checked against the schema.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mandate/mandate.h"
#include "mandate/registry.h"
#include "registry/registry_int.h"

#define NOW 1800000000LL

static const char policies[] =
    "permit (principal is Agent, action, resource);\n"
    "permit (principal in Group::\"support\", action in [Action::\"read\", Action::\"draft\"],"
    " resource is Ticket);\n"
    "permit (principal in Group::\"support-leads\", action in [Action::\"send\", "
    "Action::\"export\"], resource is Ticket);\n"
    "permit (principal in Group::\"finance\", action == Action::\"refund\", resource);\n"
    "permit (principal is Human, action == Action::\"edit\", resource is Doc)"
    " when { resource.owner == principal };\n"
    "forbid (principal, action == Action::\"send\", resource)"
    " when { principal has contractor && principal.contractor };\n"
    "forbid (principal is Agent, action == Action::\"export\", resource)"
    " when { context.mandate.usage.hour >= 1000000000 };\n"
    "forbid (principal is Agent, action, resource) when { context.mandate.depth > 3 };\n"
    "forbid (principal is Agent, action == Action::\"send\", resource)"
    " unless { context.mandate.impact.contains(\"customer\") };\n"
    "permit (principal is Human, action == Action::\"probe\", resource);\n"
    "forbid (principal, action, resource) when { principal has status && principal.status != "
    "\"active\" };\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const mandate_diag *d)
{
    fprintf(stderr, "bench_agent: %s: %s\n", what, d ? d->message : "");
    exit(1);
}

/* Appended to the --schema file: what the benchmark's requests and policies name. */
static const char schema_tail[] =
    "\nentity Ticket;\nentity Doc = { owner: Human };\n"
    "type BenchContext = { mandate?: MandateContext, channel?: String };\n"
    "action read, draft, send, export, refund, edit, probe appliesTo {\n"
    "  principal: [Agent, Human], resource: [Ticket, Doc], context: BenchContext };\n";

typedef struct job {
    mandate_registry *r;
    char **toks, **parents; /* parents[i]: the parent of toks[i], or NULL */
    size_t n_toks, n;
    double *lat;
    bool durable;
    double cpu; /* this thread's CPU seconds */
} job;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    job *j = arg;
    double c0 = cpu_s();
    for (size_t i = 0; i < j->n; i++) {
        const char *parent = j->parents[i % j->n_toks];
        mandate_agent_request rq = {.token = j->toks[i % j->n_toks],
                                    .parents = parent ? &parent : NULL,
                                    .n_parents = parent ? 1 : 0,
                                    .action = "Action::\"send\"",
                                    .resource = "Ticket::\"42\"",
                                    .context_json = NULL,
                                    .now = NOW + 5};
        mandate_agent_result *res = NULL;
        mandate_diag d;
        double t0 = now_s();
        int rc = j->durable ? mandate_agent_authorize(j->r, &rq, &res, &d)
                            : md_agent_decide(j->r, &rq, &res);
        j->lat[i] = now_s() - t0;
        if (rc || !mandate_agent_result_allowed(res)) {
            char *js = mandate_agent_result_to_json(res);
            fprintf(stderr, "bench_agent: decision denied: %s\n", js ? js : "?");
            exit(1);
        }
        mandate_agent_result_free(res);
    }
    j->cpu = cpu_s() - c0;
    return NULL;
}

static void report(const char *name, job *jobs, int threads, double wall)
{
    size_t total = 0;
    double cpu = 0;
    for (int t = 0; t < threads; t++) {
        total += jobs[t].n;
        cpu += jobs[t].cpu;
    }
    double *all = malloc(total * sizeof *all);
    size_t k = 0;
    for (int t = 0; t < threads; t++)
        for (size_t i = 0; i < jobs[t].n; i++)
            all[k++] = jobs[t].lat[i];
    qsort(all, total, sizeof *all, cmp_double);
    printf("%-8s %2d thread(s) %8zu decisions  %9.0f/s  median %8.2f us  p99 %8.2f us  "
           "cpu %6.2f us/decision\n",
           name, threads, total, (double)total / wall, all[total / 2] * 1e6,
           all[total * 99 / 100] * 1e6, cpu / (double)total * 1e6);
    free(all);
}

static void bench(const char *name, mandate_registry *r, char **toks, char **parents, size_t n_toks,
                  size_t n, int threads, bool durable)
{
    job jobs[64];
    pthread_t th[64];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){r, toks, parents, n_toks, n / (size_t)threads, NULL, durable, 0};
        jobs[t].lat = malloc((jobs[t].n + 1) * sizeof(double));
    }
    double t0 = now_s();
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, run, &jobs[t]);
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    report(name, jobs, threads, now_s() - t0);
    for (int t = 0; t < threads; t++)
        free(jobs[t].lat);
}

/* The whole file, NUL-terminated (malloc'd), or exits. */
static char *slurp(const char *path, size_t extra)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + extra + 1)) && fread(buf, 1, (size_t)len, f) == (size_t)len)
        buf[len] = 0;
    else {
        fprintf(stderr, "bench_agent: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    size_t pos[3] = {200000, 300, 1}, n_pos = 0;
    int depth = 0;
    const char *schema_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--depth") && i + 1 < argc)
            depth = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--schema") && i + 1 < argc)
            schema_file = argv[++i];
        else if (n_pos < 3 && argv[i][0] != '-')
            pos[n_pos++] = strtoul(argv[i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_agent [decisions] [durable decisions] [threads] "
                            "[--depth 0|1] [--schema FILE]\n");
            return 2;
        }
    }
    size_t n = pos[0], n_durable = pos[1];
    int threads = (int)pos[2];
    if (threads < 1 || threads > 64)
        threads = 1;
    if (depth < 0 || depth > 1)
        depth = 0;
    char dir[] = "/tmp/mandate-bench-agent-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    rmdir(dir);
    mandate_diag d;
    if (mandate_ledger_init(dir, "bench.agent/log", &d))
        die("init", &d);
    mandate_registry *r = NULL;
    mandate_registry_opts o = {.data_dir = dir};
    if (mandate_registry_open(&r, &o, &d))
        die("open", &d);
    const char *leads[] = {"support", "support-leads"}, *imp[] = {"customer"},
               *outs[] = {"customer_response"};
    mandate_principal g1 = {.kind = MANDATE_KIND_GROUP, .id = "support"};
    mandate_principal g2 = {.kind = MANDATE_KIND_GROUP, .id = "support-leads"};
    if (mandate_registry_add(r, &g1, "bench", &d) || mandate_registry_add(r, &g2, "bench", &d))
        die("groups", &d);
    enum { HUMANS = 100, AGENTS = 1000 };
    char id[64];
    for (int i = 0; i < HUMANS; i++) {
        snprintf(id, sizeof id, "human-%d", i);
        mandate_principal h = {
            .kind = MANDATE_KIND_HUMAN, .id = id, .member_of = leads, .n_member_of = 2};
        if (mandate_registry_add(r, &h, "bench", &d))
            die("human", &d);
    }
    mandate_principal wf = {.kind = MANDATE_KIND_WORKFLOW,
                            .id = "support-reply",
                            .owner = "human-0",
                            .outputs = outs,
                            .n_outputs = 1,
                            .impacts = imp,
                            .n_impacts = 1};
    if (mandate_registry_add(r, &wf, "bench", &d))
        die("workflow", &d);
    for (int i = 0; i < AGENTS; i++) {
        char owner[32];
        snprintf(id, sizeof id, "agent-%d", i);
        snprintf(owner, sizeof owner, "human-%d", i % HUMANS);
        mandate_principal a = {
            .kind = MANDATE_KIND_AGENT, .id = id, .owner = owner, .workflow = "support-reply"};
        if (mandate_registry_add(r, &a, "bench", &d))
            die("agent", &d);
    }
    if (mandate_registry_set_policies(r, policies, strlen(policies), &d))
        die("policies", &d);
    if (schema_file) {
        char *schema = slurp(schema_file, sizeof schema_tail);
        strcat(schema, schema_tail);
        if (mandate_registry_set_schema(r, schema, strlen(schema), &d))
            die("schema", &d);
        free(schema);
    }
    enum { TOKENS = 64 };
    char *toks[TOKENS], *parents[TOKENS] = {0};
    for (int i = 0; i < TOKENS; i++) {
        char sub[64], from[64];
        snprintf(sub, sizeof sub, "Agent::\"agent-%d\"", i * 7);
        snprintf(from, sizeof from, "Human::\"human-%d\"", (i * 7) % HUMANS);
        const char *acts[] = {"Action::\"read\"", "Action::\"send\""}, *res[] = {"Ticket"};
        mandate_delegation dl = {.subject = sub,
                                 .delegator = from,
                                 .task = "reply to ticket 42",
                                 .workflow = "Workflow::\"support-reply\"",
                                 .actions = acts,
                                 .n_actions = 2,
                                 .resources = res,
                                 .n_resources = 1,
                                 .max_uses = 1000000000000ULL,
                                 .now = NOW};
        mandate_token_error te;
        if (mandate_registry_delegate(r, &dl, "bench", &toks[i], &te, &d))
            die("delegate", &d);
        if (depth == 1) {
            /* The agent re-delegates the same scope to the next agent, who acts. */
            snprintf(sub, sizeof sub, "Agent::\"agent-%d\"", i * 7 + 1);
            dl.subject = sub;
            dl.delegator = NULL;
            dl.max_uses = 0;
            parents[i] = toks[i];
            if (mandate_registry_redelegate(r, parents[i], NULL, 0, &dl, "bench", &toks[i], &te,
                                            &d))
                die("redelegate", &d);
        }
    }
    printf("registry: %d humans, %d agents, 1 workflow, 11 policies%s; %d delegations of depth %d "
           "(cached)\n",
           HUMANS, AGENTS, schema_file ? ", a schema" : "", TOKENS, depth);
    /* Warm up: every token verified once (into the cache). */
    bench("warmup", r, toks, parents, TOKENS, TOKENS * 4, 1, false);
    bench("decide", r, toks, parents, TOKENS, n, 1, false);
    if (threads > 1)
        bench("decide", r, toks, parents, TOKENS, n, threads, false);
    bench("durable", r, toks, parents, TOKENS, n_durable, 1, true);
    if (threads > 1)
        bench("durable", r, toks, parents, TOKENS, n_durable, threads, true);
    printf("decide  = cached full decision (agent, token, context.mandate, 3 checks, use count), "
           "no store write, no ledger\n"
           "durable = decide + use count written to the store + ledger entry durable (fsync) "
           "before return\n");
    for (int i = 0; i < TOKENS; i++) {
        free(toks[i]);
        free(parents[i]);
    }
    mandate_registry_close(r);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
