/*
 * cmd_review.c: `mandate review`: the access review of a data directory over a window of time
 * (docs/governance.md), as text, JSON or one HTML page; and the helpers `mandate report`
 * (cmd_report.c) shares: reading numbers and writing the output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "govern/govern.h"
#include "govern/html.h"
#include "util.h"

static const char usage[] =
    "usage: mandate review --data DIR --since D [--now MS] [--format text|json|html] [options]\n"
    "\n"
    "The access review: what the registry and the active policies grant against what the\n"
    "ledger shows in the window [now - D, now): privilege slack, out-of-envelope denials,\n"
    "orphaned agents, ownerless workflows, dormant agents, rubber-stamp approvers, separation\n"
    "breaches, over-long and unused delegations, idle policies and compliance theatre. Every\n"
    "finding has a severity, the ledger indices that show it and a fix (docs/governance.md).\n"
    "Reads the data directory without the ledger's writer lock, so it works while\n"
    "'mandate serve' runs there.\n"
    "\n"
    "  --data DIR        the data directory made by 'mandate init' ($MANDATE_DATA)\n"
    "  --since D         30d, 12h (before now) or a time in ms since the epoch\n"
    "  --now MS          the end of the window in ms since the epoch (default: the clock)\n"
    "  --format F        text (default), json or html (one self-contained page)\n"
    "  --out FILE        write there instead of standard output\n"
    "  --policies FILE   the active policy set (default DIR/policies.cedar)\n"
    "  --schema FILE     the schema (default DIR/schema.cedarschema when present)\n"
    "  --entities FILE   extra Cedar entities (default DIR/entities.json when present)\n"
    "thresholds (defaults in brackets):\n"
    "  --dormant-days N               dormant_agent: no decision in N days [14]\n"
    "  --rubber-stamp-dwell-ms N      rubber_stamp: a decision faster than N ms is fast [30000]\n"
    "  --rubber-stamp-share X         rubber_stamp: more than X of them fast [0.5]\n"
    "  --rubber-stamp-min-approvals N rubber_stamp: approvers with at least N decisions [10]\n"
    "  --long-delegation-s N          long_delegation: a lifetime over N s [28800]\n"
    "  --no-theatre                   skip the theatre findings (the report's pass)\n"
    "\n"
    "Exit status: 0 done (with or without findings), 2 usage error, 3 bad input, 4 internal.\n";

int cmd_govern_number(const char *who, const char *opt, const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < 0) {
        fprintf(stderr, "mandate %s: %s needs a non-negative integer, not '%s'\n", who, opt,
                v ? v : "");
        return EXIT_USAGE;
    }
    *out = x;
    return 0;
}

int cmd_govern_output(const char *who, const char *path, const char *data, size_t len)
{
    FILE *f = path ? fopen(path, "wb") : stdout;
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && f != stdout)
        ok = fclose(f) == 0 && ok;
    else if (f)
        ok = fflush(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "mandate %s: cannot write '%s': %s\n", who, path ? path : "(stdout)",
                strerror(errno));
        return EXIT_INTERNAL;
    }
    return 0;
}

int cmd_govern_exit(int rc)
{
    return rc == MANDATE_ENOMEM || rc == MANDATE_ESTORE || rc == MANDATE_EINTERNAL ? EXIT_INTERNAL
                                                                                   : EXIT_INPUT;
}

int cmd_govern_parse(int argc, char **argv, const char *who, const char *usage_text,
                     cmd_govern_args *g, cmd_govern_extra extra, void *ctx)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        const char **slot = !strcmp(a, "--data")     ? &g->dir
                            : !strcmp(a, "--since")  ? &g->since
                            : !strcmp(a, "--now")    ? &g->now
                            : !strcmp(a, "--format") ? &g->format
                            : !strcmp(a, "--out")    ? &g->out
                                                     : NULL;
        int took = slot ? 1 : a[0] == '-' ? extra(ctx, a, v) : -1;
        if (took == 1 && !v) {
            fprintf(stderr, "mandate %s: missing value for '%s'\n%s", who, a, usage_text);
            return EXIT_USAGE;
        }
        if (took < 0) {
            fprintf(stderr, "mandate %s: %s '%s'\n%s", who,
                    a[0] == '-' ? "unknown option" : "unexpected argument", a, usage_text);
            return EXIT_USAGE;
        }
        if (took > 1)
            return took; /* an exit code: extra said what was wrong */
        if (slot)
            *slot = v;
        i += took;
    }
    if (!g->dir || !g->since) {
        fprintf(stderr, "mandate %s: %s\n%s", who,
                !g->dir ? "no data directory (use --data DIR or $MANDATE_DATA)"
                        : "--since is required",
                usage_text);
        return EXIT_USAGE;
    }
    return 0;
}

/* The options only the review takes. */
typedef struct review_args {
    md_review_opts o;
    md_govern_paths paths;
} review_args;

static int review_option(void *ctx, const char *a, const char *v)
{
    review_args *r = ctx;
    if (!strcmp(a, "--no-theatre")) {
        r->o.no_theatre = true;
        return 0;
    }
    const char **path = !strcmp(a, "--policies")   ? &r->paths.policies
                        : !strcmp(a, "--schema")   ? &r->paths.schema
                        : !strcmp(a, "--entities") ? &r->paths.entities
                                                   : NULL;
    md_review_thresholds *th = &r->o.th;
    int64_t *num = !strcmp(a, "--dormant-days")                 ? &th->dormant_days
                   : !strcmp(a, "--rubber-stamp-dwell-ms")      ? &th->rubber_stamp_dwell_ms
                   : !strcmp(a, "--rubber-stamp-min-approvals") ? &th->rubber_stamp_min_approvals
                   : !strcmp(a, "--long-delegation-s")          ? &th->long_delegation_s
                                                                : NULL;
    if (path)
        *path = v;
    else if (num && v)
        return cmd_govern_number("review", a, v, num) ? EXIT_USAGE : 1;
    else if (!strcmp(a, "--rubber-stamp-share") && v) {
        char *end = NULL;
        th->rubber_stamp_share = strtod(v, &end);
        if (!*v || *end) {
            fprintf(stderr, "mandate review: %s needs a number, not '%s'\n", a, v);
            return EXIT_USAGE;
        }
    } else if (!num && strcmp(a, "--rubber-stamp-share"))
        return -1;
    return 1;
}

int cmd_review(int argc, char **argv)
{
    cmd_govern_args g = {.dir = getenv("MANDATE_DATA"), .format = "text"};
    review_args ra = {0};
    md_review_thresholds_default(&ra.o.th);
    int rc = cmd_govern_parse(argc, argv, "review", usage, &g, review_option, &ra);
    if (rc)
        return rc < 0 ? 0 : rc;
    md_review_opts o = ra.o;
    md_govern_paths paths = ra.paths;
    paths.dir = g.dir;
    const char *format = g.format, *out = g.out;
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "html")) {
        fprintf(stderr, "mandate review: --format is text, json or html\n%s", usage);
        return EXIT_USAGE;
    }
    md_diag d = {0};
    if ((rc = md_govern_window(g.since, g.now, &o.since_ms, &o.until_ms, &d)) ||
        (rc = md_review_thresholds_check(&o.th, &d))) {
        fprintf(stderr, "mandate review: %s\n", d.msg);
        return EXIT_USAGE;
    }
    mandate_registry *r = NULL;
    if ((rc = md_govern_open(&paths, &r, &d))) {
        fprintf(stderr, "mandate review: %s\n", d.msg);
        return cmd_govern_exit(rc);
    }
    o.registry = r;
    o.ledger = mandate_registry_ledger(r);
    mandate_ledger *second = NULL;
    if (!o.no_theatre && (rc = md_govern_open_ledger(paths.dir, &second, &d))) {
        fprintf(stderr, "mandate review: %s\n", d.msg);
        mandate_registry_close(r);
        return cmd_govern_exit(rc);
    }
    o.report_ledger = second;
    char *json = NULL;
    rc = md_review_build(&o, &json, &d);
    mandate_ledger_close(second);
    mandate_registry_close(r);
    md_buf page;
    md_buf_init(&page, 256u << 20);
    if (!rc && !strcmp(format, "text"))
        rc = md_review_text(json, strlen(json), &page, &d);
    else if (!rc && !strcmp(format, "html"))
        rc = md_govern_review_html(json, strlen(json), &page, &d);
    else if (!rc)
        rc = md_buf_printf(&page, "%s\n", json);
    free(json);
    int ex = 0;
    if (rc) {
        fprintf(stderr, "mandate review: %s\n", d.msg[0] ? d.msg : mandate_strerror(rc));
        ex = cmd_govern_exit(rc);
    } else {
        ex = cmd_govern_output("review", out, page.data, page.len);
    }
    md_buf_release(&page);
    return ex;
}
