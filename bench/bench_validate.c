/*
 * bench_validate.c: strict validation time per test of the Cedar conformance corpus.
 *
 *   bench_validate DIR [--reps 20]
 *
 * For every corpus test, validates its policies against its schema --reps times and keeps the
 * median; prints the median over tests, the slowest test, and the test with the largest policy
 * plus schema text, as one JSON object. (Parsing is not timed.)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"
#include "cedar/validator.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    md_diag d = {0};
    char *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return md_read_file(path, 1u << 28, &text, len, &d) ? NULL : text;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_validate CONFORMANCE_DIR [--reps N]\n");
        return 2;
    }
    const char *root = argv[1];
    int reps = 20;
    if (argc >= 4 && !strcmp(argv[2], "--reps"))
        reps = (int)strtol(argv[3], NULL, 10);
    if (reps < 1)
        reps = 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus-tests", root);
    DIR *dh = opendir(dir);
    if (!dh) {
        fprintf(stderr, "bench_validate: cannot open '%s'\n", dir);
        return 1;
    }
    double *medians = NULL, *t = malloc((size_t)reps * sizeof *t);
    size_t n = 0, cap = 0, biggest_len = 0;
    double slowest = 0, biggest_t = 0;
    char slowest_name[256] = "", biggest_name[256] = "";
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json") || strstr(de->d_name, ".entities."))
            continue;
        size_t len, plen, slen;
        md_diag d = {0};
        char *text = slurp(dir, de->d_name, &len);
        json_t *test = NULL;
        if (!text || md_json_parse(text, len, &test, &d)) {
            free(text);
            continue;
        }
        const char *pf = json_string_value(json_object_get(test, "policies"));
        const char *sf = json_string_value(json_object_get(test, "schema"));
        char *ptext = pf ? slurp(root, pf, &plen) : NULL,
             *stext = sf ? slurp(root, sf, &slen) : NULL;
        md_arena *a = md_arena_new(), *va = md_arena_new();
        md_policyset *ps;
        const md_schema *s;
        if (ptext && stext && !md_policyset_parse(a, ptext, plen, NULL, &ps, &d) &&
            !md_schema_parse(a, stext, slen, &s, &d)) {
            for (int r = 0; r < reps; r++) {
                size_t nd;
                const md_vdiag *vd;
                md_arena_reset(va);
                double t0 = now_ns();
                md_validate(va, ps, s, &nd, &vd);
                t[r] = now_ns() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, dcmp);
            double med = t[reps / 2];
            if (n == cap) {
                cap = cap ? cap * 2 : 8192;
                medians = realloc(medians, cap * sizeof *medians);
            }
            medians[n++] = med;
            if (med > slowest) {
                slowest = med;
                snprintf(slowest_name, sizeof slowest_name, "%s", de->d_name);
            }
            if (plen + slen > biggest_len) {
                biggest_len = plen + slen;
                biggest_t = med;
                snprintf(biggest_name, sizeof biggest_name, "%s", de->d_name);
            }
        }
        md_arena_free(va);
        md_arena_free(a);
        free(ptext);
        free(stext);
        json_decref(test);
        free(text);
    }
    closedir(dh);
    if (!n) {
        fprintf(stderr, "bench_validate: no test could be validated\n");
        return 1;
    }
    qsort(medians, n, sizeof *medians, dcmp);
    printf("{\"tests\":%zu,\"reps\":%d,\"median_us\":%.2f,\"p99_us\":%.2f,\"slowest_us\":%.2f,"
           "\"slowest_test\":\"%s\",\"largest_test\":\"%s\",\"largest_bytes\":%zu,"
           "\"largest_us\":%.2f}\n",
           n, reps, medians[n / 2] / 1e3, medians[(size_t)(0.99 * (double)(n - 1))] / 1e3,
           slowest / 1e3, slowest_name, biggest_name, biggest_len, biggest_t / 1e3);
    free(medians);
    free(t);
    return 0;
}
