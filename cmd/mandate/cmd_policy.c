/*
 * cmd_policy.c: `mandate policy check|format|test|validate`: parse Cedar policy files and report
 * errors; format them canonically; run data-driven test cases against them; validate them
 * against a schema (cmd_policy_validate.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"
#include "cedar/format.h"
#include "cedar/policy_test.h"
#include "cedar/schema_json.h"
#include "cmd.h"
#include "util.h"

static const char usage_text[] =
    "usage: mandate policy check FILE...\n"
    "       mandate policy format [--check | --write] FILE...\n"
    "       mandate policy test CASES.json [--policies P] [--schema S] [--entities E]\n"
    "       mandate policy validate --schema S [--format json] POLICIES...\n"
    "\n"
    "  check     parse each Cedar policy file; print 'FILE: N policies' or the first error as\n"
    "            FILE:LINE:COLUMN: message. Exit status 0 when every file parses, 3 otherwise.\n"
    "  format    print each file canonically formatted (comments kept, decisions unchanged).\n"
    "            --write rewrites the files in place; --check changes nothing and lists the\n"
    "            files that are not formatted, exit status 1 if any. '-' reads stdin.\n"
    "  test      run the test cases of CASES.json (see docs/policy-tools.md): print PASS or\n"
    "            FAIL per case with what differed, then 'N passed, M failed'. Exit status 1\n"
    "            when a case fails, 3 when the inputs cannot be read. The flags override the\n"
    "            files named in CASES.json; a schema ending in .json is in the JSON format.\n"
    "  validate  check policies against a schema (mandate policy validate --help).\n";

static void print_diag(const char *file, const md_diag *d)
{
    if (d->line)
        fprintf(stderr, "mandate: %s:%u:%u: %s\n", file, d->line, d->col, d->msg);
    else
        fprintf(stderr, "mandate: %s: %s\n", file, d->msg);
}

static int policy_check(int argc, char **argv)
{
    if (argc < 1) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        size_t len = 0;
        char *text = cmd_read_file(argv[i], &len);
        if (!text) {
            rc = EXIT_INPUT;
            continue;
        }
        mandate_policies *ps = NULL;
        mandate_diag d;
        if (mandate_policies_parse(&ps, text, len, NULL, &d)) {
            cmd_print_diag(argv[i], &d);
            rc = EXIT_INPUT;
        } else {
            printf("%s: %zu policies\n", argv[i], mandate_policies_count(ps));
        }
        mandate_policies_free(ps);
        free(text);
    }
    return rc;
}

/* Replaces path's content: a temporary file beside it, then rename. */
static int write_file(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.mandate-format.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "mandate: path too long: '%s'\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror("mandate: cannot write the formatted file");
        fprintf(stderr, "mandate: '%s' was left unchanged\n", path);
        remove(tmp);
        return -1;
    }
    return 0;
}

static int policy_format(int argc, char **argv)
{
    bool check = false, write = false;
    int first = 0;
    for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
        if (!strcmp(argv[first], "--check"))
            check = true;
        else if (!strcmp(argv[first], "--write"))
            write = true;
        else if (!strcmp(argv[first], "--")) {
            first++;
            break;
        } else {
            fprintf(stderr, "mandate: unknown option '%s'\n", argv[first]);
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (first >= argc || (check && write)) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    int rc = 0;
    for (int i = first; i < argc; i++) {
        const char *path = argv[i];
        size_t len = 0;
        char *text = cmd_read_file(path, &len);
        if (!text) {
            rc = EXIT_INPUT;
            continue;
        }
        md_buf out;
        md_buf_init(&out, MD_CEDAR_MAX_POLICY_TEXT * 2u);
        md_diag d = {0};
        if (md_policy_format(text, len, &out, &d)) {
            print_diag(path, &d);
            rc = EXIT_INPUT;
        } else if (check) {
            if (out.len != len || (len && memcmp(out.data, text, len))) {
                printf("%s: not formatted\n", path);
                if (!rc)
                    rc = 1;
            }
        } else if (write && strcmp(path, "-")) {
            if ((out.len != len || (len && memcmp(out.data, text, len))) &&
                write_file(path, out.data ? out.data : "", out.len))
                rc = EXIT_INPUT;
        } else if (out.len) {
            fwrite(out.data, 1, out.len, stdout);
        }
        md_buf_release(&out);
        free(text);
    }
    return rc;
}

/* ---- policy test ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A path named inside the cases file is relative to that file's folder. */
static char *relative_to(const char *cases_path, const char *p)
{
    const char *slash = strrchr(cases_path, '/');
    size_t dn = (p[0] == '/' || !slash) ? 0 : (size_t)(slash - cases_path) + 1;
    char *r = malloc(dn + strlen(p) + 1);
    if (r) {
        memcpy(r, cases_path, dn);
        memcpy(r + dn, p, strlen(p) + 1);
    }
    return r;
}

static int policy_test(int argc, char **argv)
{
    const char *cases_path = NULL, *opt_p = NULL, *opt_s = NULL, *opt_e = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--policies")   ? &opt_p
                            : !strcmp(argv[i], "--schema")   ? &opt_s
                            : !strcmp(argv[i], "--entities") ? &opt_e
                                                             : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mandate: %s needs a file\n", argv[i]);
                return EXIT_USAGE;
            }
            *slot = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mandate: unknown option '%s'\n", argv[i]);
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        } else if (!cases_path) {
            cases_path = argv[i];
        } else {
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (!cases_path) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    int rc = EXIT_INPUT;
    md_arena *a = md_arena_new();
    json_t *doc = NULL, *ents = NULL;
    char *ctext = NULL, *ptext = NULL, *stext = NULL, *etext = NULL;
    char *pp = NULL, *sp = NULL, *ep = NULL;
    md_diag d = {0};
    size_t len = 0;
    if (!a || !(ctext = cmd_read_file(cases_path, &len)))
        goto done;
    if (md_json_parse(ctext, len, &doc, &d)) {
        print_diag(cases_path, &d);
        goto done;
    }
    const json_t *cases = doc;
    if (json_is_object(doc)) {
        cases = json_object_get(doc, "cases");
        const char *fp = json_string_value(json_object_get(doc, "policies"));
        const char *fs = json_string_value(json_object_get(doc, "schema"));
        const char *fe = json_string_value(json_object_get(doc, "entities"));
        pp = opt_p ? NULL : fp ? relative_to(cases_path, fp) : NULL;
        sp = opt_s ? NULL : fs ? relative_to(cases_path, fs) : NULL;
        ep = opt_e ? NULL : fe ? relative_to(cases_path, fe) : NULL;
    }
    const char *ppath = opt_p ? opt_p : pp, *spath = opt_s ? opt_s : sp,
               *epath = opt_e ? opt_e : ep;
    if (!json_is_array(cases)) {
        fprintf(stderr, "mandate: %s: expected an array of cases, or an object with \"cases\"\n",
                cases_path);
        goto done;
    }
    if (!ppath) {
        fprintf(stderr, "mandate: %s: no policies: give --policies or \"policies\" in the file\n",
                cases_path);
        goto done;
    }
    md_policyset *ps = NULL;
    const md_schema *schema = NULL;
    md_entities *es = NULL;
    size_t plen = 0, slen = 0, elen = 0;
    if (!(ptext = cmd_read_file(ppath, &plen)))
        goto done;
    if (md_policyset_parse(a, ptext, plen, NULL, &ps, &d)) {
        print_diag(ppath, &d);
        goto done;
    }
    if (spath) {
        if (!(stext = cmd_read_file(spath, &slen)))
            goto done;
        int src = ends_with(spath, ".json") ? md_schema_parse_json(a, stext, slen, &schema, &d)
                                            : md_schema_parse(a, stext, slen, &schema, &d);
        if (src) {
            print_diag(spath, &d);
            goto done;
        }
    }
    if (epath) {
        if (!(etext = cmd_read_file(epath, &elen)))
            goto done;
        if (md_json_parse(etext, elen, &ents, &d)) {
            print_diag(epath, &d);
            goto done;
        }
    } else if (!(ents = json_array())) {
        goto done;
    }
    if (md_entities_from_json(a, ents, schema, &es, &d)) {
        print_diag(epath ? epath : "entities", &d);
        goto done;
    }
    md_ptest_outcome *res = NULL;
    size_t n = 0;
    if (md_policy_test_run(a, cases, ps, schema, es, &res, &n, &d)) {
        print_diag(cases_path, &d);
        goto done;
    }
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].pass) {
            passed++;
            printf("PASS  %s\n", res[i].name);
        } else {
            printf("FAIL  %s: %s\n", res[i].name, res[i].detail);
        }
    }
    printf("%zu passed, %zu failed\n", passed, n - passed);
    rc = passed == n ? 0 : 1;
done:
    json_decref(ents);
    json_decref(doc);
    free(ctext);
    free(ptext);
    free(stext);
    free(etext);
    free(pp);
    free(sp);
    free(ep);
    md_arena_free(a);
    return rc;
}

int cmd_policy(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return policy_check(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "format"))
        return policy_format(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "test"))
        return policy_test(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "validate"))
        return cmd_policy_validate(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
