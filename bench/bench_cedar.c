/*
 * bench_cedar.c: in-process benchmark of the Cedar engine, timed the way the peer harness times
 * cedar-wasm (../shared/bench/peers/cedar_wasm_bench.js): requests are built before timing, a
 * warm-up, then several passes with a clock read around every decision; the figures are medians
 * over passes. The whole entity store is loaded once (no per-call slices: that is the point of
 * an embedded store).
 *
 *   bench_cedar --workload DIR [--runs 5] [--warmup 3000] [--policies policies.cedar]
 *               [--requests prebuilt|copied]
 *   bench_cedar --conformance DIR [--runs 5]
 *
 * Prints one JSON object with decisions/s, p50/p99 latency, memory per entity and whether the
 * decisions (and reasons, by @id) equal the workload's expected_decisions.jsonl. Two figures:
 * "prebuilt" (the peer harness's way: the passes cycle through the prebuilt requests, so each
 * request's own strings and context are cold when it is decided) and "copied" (before each
 * decision, outside the timed section, the request is copied into one reused arena, as a server
 * parses each request into a reused arena just before deciding it: only the engine's own memory
 * is cold). --requests prebuilt|copied runs one of them (for callgrind); the default runs both.
 *
 * Cache misses per decision, warm (bench/README.md; totals cover 10,000 decisions):
 *   valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no --LL=33554432,16,64 \
 *     --toggle-collect=md_authorize bench_cedar --workload DIR --runs 1 --warmup 10000 \
 *     --requests prebuilt
 */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"

/* Under callgrind (valgrind --tool=callgrind --instr-atstart=no), only the decisions after the
 * warm-up are measured, with warm caches; elsewhere these are no-ops. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

typedef struct job {
    const md_policyset *ps;
    const md_entities *es;
    md_request req;
} job;

typedef struct jobs {
    job *v;
    size_t n, cap;
} jobs;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void die(const char *what, const md_diag *d)
{
    fprintf(stderr, "bench_cedar: %s: %u:%u: %s\n", what, d ? d->line : 0, d ? d->col : 0,
            d ? d->msg : "");
    exit(1);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    md_diag d = {0};
    char *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (md_read_file(path, 1u << 30, &text, len, &d))
        return NULL;
    return text;
}

static void push(jobs *js, job j)
{
    if (js->n == js->cap) {
        js->cap = js->cap ? js->cap * 2 : 4096;
        js->v = realloc(js->v, js->cap * sizeof *js->v);
        if (!js->v)
            die("out of memory", NULL);
    }
    js->v[js->n++] = j;
}

static md_str policy_label(const md_policy *p)
{
    for (size_t i = 0; i < p->n_annotations; i++)
        if (md_str_eq_c(p->annotations[i].key, "id"))
            return p->annotations[i].value;
    return p->id;
}

typedef struct result {
    double dps, p50, p99, cpu;
} result;

static int rcmp(const void *a, const void *b)
{
    return dcmp(a, b);
}

/* What the last pass decided, kept to compare with the reference engine. */
typedef struct decision {
    bool allow;
    size_t n_reasons;
    const md_policy **reasons; /* malloc'd */
} decision;

/* Deep copy of a value into a (strings, sets and records too). */
static md_value copy_value(md_arena *a, const md_value *v)
{
    md_value out = *v;
    switch (v->kind) {
    case MD_V_STRING: out.u.s = md_arena_str(a, v->u.s); break;
    case MD_V_ENTITY:
        out.u.uid.type = md_arena_str(a, v->u.uid.type);
        out.u.uid.id = md_arena_str(a, v->u.uid.id);
        break;
    case MD_V_SET: {
        md_set *s = md_arena_alloc(a, sizeof *s + v->u.set->n * sizeof s->items[0]);
        if (!s)
            die("out of memory", NULL);
        s->n = v->u.set->n;
        for (size_t i = 0; i < s->n; i++)
            s->items[i] = copy_value(a, &v->u.set->items[i]);
        out.u.set = s;
        break;
    }
    case MD_V_RECORD: {
        size_t n = v->u.rec->n;
        md_field *f = md_arena_array(a, n ? n : 1, sizeof *f);
        if (!f)
            die("out of memory", NULL);
        for (size_t i = 0; i < n; i++) {
            md_field x = md_record_at(v->u.rec, i);
            f[i].key = md_arena_str(a, x.key);
            f[i].val = copy_value(a, &x.val);
        }
        if (md_record_new(a, f, n, &out.u.rec, NULL))
            die("out of memory", NULL);
        break;
    }
    default: break;
    }
    return out;
}

/* The request copied into a (reset first), as a server's parser would leave it. */
static md_request copy_request(md_arena *a, const md_request *q)
{
    md_arena_reset(a);
    md_request r = *q;
    md_value uids[3] = {{.kind = MD_V_ENTITY, .u.uid = q->principal},
                        {.kind = MD_V_ENTITY, .u.uid = q->action},
                        {.kind = MD_V_ENTITY, .u.uid = q->resource}};
    r.principal = copy_value(a, &uids[0]).u.uid;
    r.action = copy_value(a, &uids[1]).u.uid;
    r.resource = copy_value(a, &uids[2]).u.uid;
    r.context = copy_value(a, &q->context);
    return r;
}

/* Runs the passes; returns medians; records the last pass's decisions when last != NULL.
 * copied: each request is copied into one reused arena before its decision (not timed). */
static result run(const jobs *js, int runs, size_t warmup, bool copied, decision *last)
{
    md_arena *scratch = md_arena_new(), *reqa = md_arena_new();
    md_response r;
    md_request req;
    CALLGRIND_START_INSTRUMENTATION;
    for (size_t i = 0; i < warmup && i < js->n; i++) {
        md_arena_reset(scratch);
        req = copied ? copy_request(reqa, &js->v[i].req) : js->v[i].req;
        md_authorize(scratch, js->v[i].ps, &req, js->v[i].es, &r);
    }
    CALLGRIND_ZERO_STATS;
    double *lat = malloc(js->n * sizeof *lat);
    double *dps = malloc((size_t)runs * sizeof *dps), *p50 = malloc((size_t)runs * sizeof *p50),
           *p99 = malloc((size_t)runs * sizeof *p99), *cpu = malloc((size_t)runs * sizeof *cpu);
    for (int k = 0; k < runs; k++) {
        double c0 = cpu_us(), t0 = now_ns(), timed = 0;
        for (size_t i = 0; i < js->n; i++) {
            const job *j = &js->v[i];
            if (copied)
                req = copy_request(reqa, &j->req);
            double s = now_ns();
            md_arena_reset(scratch);
            if (md_authorize(scratch, j->ps, copied ? &req : &j->req, j->es, &r))
                die("authorize failed", NULL);
            lat[i] = now_ns() - s;
            timed += lat[i];
            if (k == runs - 1 && last) {
                last[i].allow = r.allow;
                last[i].n_reasons = r.n_reasons;
                last[i].reasons = malloc((r.n_reasons + 1) * sizeof *r.reasons);
                if (r.n_reasons)
                    memcpy(last[i].reasons, r.reasons, r.n_reasons * sizeof *r.reasons);
            }
        }
        /* Copied: decisions/s over the timed sections only (the copies are not the engine's). */
        double wall = copied ? timed : now_ns() - t0;
        cpu[k] = (cpu_us() - c0) / (double)js->n;
        qsort(lat, js->n, sizeof *lat, dcmp);
        dps[k] = (double)js->n / (wall / 1e9);
        p50[k] = pct(lat, js->n, 0.5) / 1e3;
        p99[k] = pct(lat, js->n, 0.99) / 1e3;
    }
    CALLGRIND_STOP_INSTRUMENTATION;
    qsort(dps, (size_t)runs, sizeof *dps, rcmp);
    qsort(p50, (size_t)runs, sizeof *p50, rcmp);
    qsort(p99, (size_t)runs, sizeof *p99, rcmp);
    qsort(cpu, (size_t)runs, sizeof *cpu, rcmp);
    result res = {dps[runs / 2], p50[runs / 2], p99[runs / 2], cpu[runs / 2]};
    free(lat);
    free(dps);
    free(p50);
    free(p99);
    free(cpu);
    md_arena_free(scratch);
    md_arena_free(reqa);
    return res;
}

/* Counts a decision (and its reasons, by @id) equal to the reference engine's. */
static void check_decision(const json_t *x, const decision *got, size_t *dec_ok, size_t *rea_ok)
{
    const char *want = json_string_value(json_object_get(x, "decision"));
    *dec_ok += want && !strcmp(want, got->allow ? "allow" : "deny");
    const json_t *reasons = json_object_get(x, "reasons");
    bool same = json_array_size(reasons) == got->n_reasons;
    for (size_t k = 0; same && k < got->n_reasons; k++) {
        md_str id = policy_label(got->reasons[k]);
        bool found = false;
        for (size_t m = 0; m < json_array_size(reasons) && !found; m++)
            found = md_str_eq_c(id, json_string_value(json_array_get(reasons, m)));
        same = found;
    }
    *rea_ok += same;
}

/* modes: bit 0 the prebuilt figure, bit 1 the copied one. */
static int workload(const char *dir, const char *pfile, int runs, size_t warmup, int modes)
{
    md_diag d = {0};
    size_t plen, slen, elen, rlen, xlen = 0;
    char *ptext = slurp(dir, pfile, &plen), *stext = slurp(dir, "schema.cedarschema", &slen);
    char *etext = slurp(dir, "entities.json", &elen), *rtext = slurp(dir, "requests.jsonl", &rlen);
    char *xtext = slurp(dir,
                        strcmp(pfile, "policies.cedar") ? "expected_decisions_rbac.jsonl"
                                                        : "expected_decisions.jsonl",
                        &xlen);
    if (!ptext || !stext || !etext || !rtext)
        die("cannot read the workload (policies, schema.cedarschema, entities.json, "
            "requests.jsonl)",
            NULL);
    md_arena *a = md_arena_new(), *ea = md_arena_new();
    md_policyset *ps;
    const md_schema *schema;
    md_entities *es;
    if (md_policyset_parse(a, ptext, plen, NULL, &ps, &d))
        die("policies", &d);
    if (md_schema_parse(a, stext, slen, &schema, &d))
        die("schema", &d);
    long rss0 = rss_kb();
    double t0 = now_ns();
    json_error_t je;
    if (md_entities_from_text(ea, etext, elen, schema, &es, &d))
        die("entities", &d);
    double load_ms = (now_ns() - t0) / 1e6;
    malloc_trim(0); /* give the JSON reader's garbage back, so RSS shows the store */
    long rss1 = rss_kb();
    size_t n_ent = md_entities_count(es);

    jobs js = {0};
    md_arena *ra = md_arena_new();
    for (char *line = rtext, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_t *rq = json_loads(line, 0, &je);
        if (!rq)
            die(je.text, NULL);
        job j = {.ps = ps, .es = es};
        if (md_euid_from_json(ra, json_object_get(rq, "principal"), &j.req.principal, &d) ||
            md_euid_from_json(ra, json_object_get(rq, "action"), &j.req.action, &d) ||
            md_euid_from_json(ra, json_object_get(rq, "resource"), &j.req.resource, &d) ||
            md_context_from_json(ra, json_object_get(rq, "context"), schema, &j.req.action,
                                 &j.req.context, &d))
            die("request", &d);
        json_decref(rq);
        push(&js, j);
    }
    /* The reference engine's decisions, one JSON line per request. */
    json_t **want = calloc(js.n, sizeof *want);
    size_t checked = 0;
    for (char *line = xtext, *next; line && *line && checked < js.n; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        want[checked++] = json_loads(line, 0, &je);
    }
    decision *last = calloc(js.n, sizeof *last);
    printf("{\"engine\":\"mandate\",\"mode\":\"in-process, whole entity store\","
           "\"workload\":\"%s\",\"policies_file\":\"%s\",\"policies\":%zu,\"entities\":%zu,"
           "\"requests\":%zu,\"runs\":%d,\"entity_load_ms\":%.1f,"
           "\"entity_arena_bytes_per_entity\":%.0f,\"rss_bytes_per_entity\":%.0f,"
           "\"expected_checked\":%zu",
           dir, pfile, ps->n, n_ent, js.n, runs, load_ms,
           (double)md_arena_used(ea) / (double)(n_ent ? n_ent : 1),
           (double)(rss1 - rss0) * 1024.0 / (double)(n_ent ? n_ent : 1), checked);
    int status = 0;
    for (int copied = 0; copied < 2; copied++) {
        if (!(modes & (1 << copied)))
            continue;
        result r = run(&js, runs, warmup, copied, last);
        size_t dec_ok = 0, rea_ok = 0, allow = 0;
        for (size_t i = 0; i < js.n; i++) {
            allow += last[i].allow;
            if (i < checked && want[i])
                check_decision(want[i], &last[i], &dec_ok, &rea_ok);
            free(last[i].reasons);
        }
        /* The prebuilt figure keeps the keys the scripts read; the copied one is prefixed. */
        const char *pre = copied ? "copied_" : "";
        printf(",\"%sdps_median\":%.0f,\"%sp50_us_median\":%.3f,\"%sp99_us_median\":%.3f", pre,
               r.dps, pre, r.p50, pre, r.p99);
        if (!copied)
            printf(",\"cpu_us_per_decision_median\":%.3f", r.cpu);
        printf(",\"%sallow\":%zu,\"%sdecision_match\":%zu,\"%sreason_match\":%zu", pre, allow, pre,
               dec_ok, pre, rea_ok);
        if (checked && dec_ok != checked)
            status = 1;
    }
    printf("}\n");
    for (size_t i = 0; i < checked; i++)
        json_decref(want[i]);
    free(want);
    free(last);
    free(js.v);
    md_arena_free(ra);
    md_arena_free(ea);
    md_arena_free(a);
    free(ptext);
    free(stext);
    free(etext);
    free(rtext);
    free(xtext);
    return status;
}

/* Every request of the conformance corpus, each against its own test's policies and entities. */
static int conformance(const char *root, int runs)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus-tests", root);
    DIR *dh = opendir(dir);
    if (!dh)
        die("cannot open the corpus folder", NULL);
    md_arena *a = md_arena_new();
    jobs js = {0};
    size_t tests = 0, skipped = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json") || strstr(de->d_name, ".entities."))
            continue;
        size_t len;
        md_diag d = {0};
        char *t = slurp(dir, de->d_name, &len);
        json_t *test = NULL;
        if (t && md_json_parse(t, len, &test, &d))
            test = NULL;
        free(t);
        if (!test)
            continue;
        const char *files[3] = {json_string_value(json_object_get(test, "policies")),
                                json_string_value(json_object_get(test, "schema")),
                                json_string_value(json_object_get(test, "entities"))};
        char *texts[3] = {0};
        size_t lens[3] = {0};
        for (int k = 0; k < 3; k++)
            texts[k] = files[k] ? slurp(root, files[k], &lens[k]) : NULL;
        md_policyset *ps = NULL;
        const md_schema *schema = NULL;
        md_entities *es = NULL;
        json_t *ej = NULL;
        if (texts[2] && md_json_parse(texts[2], lens[2], &ej, &d))
            ej = NULL;
        bool ok = texts[0] && texts[1] && ej &&
                  !md_policyset_parse(a, texts[0], lens[0], NULL, &ps, &d) &&
                  !md_schema_parse(a, texts[1], lens[1], &schema, &d) &&
                  !md_entities_from_json(a, ej, schema, &es, &d);
        const json_t *reqs = json_object_get(test, "requests");
        for (size_t i = 0; ok && i < json_array_size(reqs); i++) {
            const json_t *rq = json_array_get(reqs, i);
            job j = {.ps = ps, .es = es};
            if (md_euid_from_json(a, json_object_get(rq, "principal"), &j.req.principal, &d) ||
                md_euid_from_json(a, json_object_get(rq, "action"), &j.req.action, &d) ||
                md_euid_from_json(a, json_object_get(rq, "resource"), &j.req.resource, &d) ||
                md_context_from_json(a, json_object_get(rq, "context"), schema, &j.req.action,
                                     &j.req.context, &d))
                continue;
            push(&js, j);
        }
        tests++;
        skipped += !ok;
        json_decref(ej);
        json_decref(test);
        for (int k = 0; k < 3; k++)
            free(texts[k]);
    }
    closedir(dh);
    result r = run(&js, runs, js.n < 3000 ? js.n : 3000, false, NULL);
    printf("{\"engine\":\"mandate\",\"workload\":\"cedar conformance corpus\",\"tests\":%zu,"
           "\"tests_not_loaded\":%zu,\"requests\":%zu,\"runs\":%d,\"dps_median\":%.0f,"
           "\"p50_us_median\":%.3f,\"p99_us_median\":%.3f,\"cpu_us_per_decision_median\":%.3f}\n",
           tests, skipped, js.n, runs, r.dps, r.p50, r.p99, r.cpu);
    free(js.v);
    md_arena_free(a);
    return 0;
}

int main(int argc, char **argv)
{
    const char *wl = NULL, *conf = NULL, *pfile = "policies.cedar";
    int runs = 5, modes = 3;
    size_t warmup = 3000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--workload") && i + 1 < argc)
            wl = argv[++i];
        else if (!strcmp(argv[i], "--conformance") && i + 1 < argc)
            conf = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--policies") && i + 1 < argc)
            pfile = argv[++i];
        else if (!strcmp(argv[i], "--requests") && i + 1 < argc) {
            i++;
            modes = !strcmp(argv[i], "prebuilt") ? 1 : !strcmp(argv[i], "copied") ? 2 : 0;
            if (!modes) {
                fprintf(stderr, "bench_cedar: --requests takes prebuilt or copied\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_cedar (--workload DIR [--policies FILE] | --conformance "
                            "DIR) [--runs N] [--warmup N] [--requests prebuilt|copied]\n");
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    if (wl)
        return workload(wl, pfile, runs, warmup, modes);
    if (conf)
        return conformance(conf, runs);
    fprintf(stderr, "bench_cedar: give --workload DIR or --conformance DIR\n");
    return 2;
}
