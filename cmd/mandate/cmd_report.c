/*
 * cmd_report.c: `mandate report`: the accountability scorecard of a data directory over a window
 * (docs/report.md): adoption beside governance coverage, per workflow and over time, and the
 * theatre indicator; JSON or text, and one self-contained HTML page with --html.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "govern/govern.h"
#include "govern/html.h"
#include "govern/report.h"

static const char usage[] =
    "usage: mandate report --data DIR --since D [--now MS] [--format json|text] [--html FILE]\n"
    "\n"
    "The accountability scorecard: AI adoption beside governance coverage (accountable human,\n"
    "approvals, output digests, short narrow delegations, override rate, approval dwell),\n"
    "overall, per time bucket and per workflow, and the theatre indicator: adoption growing\n"
    "while coverage falls (docs/report.md). Reads the ledger without its writer lock, so it\n"
    "works while 'mandate serve' runs.\n"
    "\n"
    "  --data DIR        the data directory made by 'mandate init' ($MANDATE_DATA)\n"
    "  --since D         90d, 12h (before now) or a time in ms since the epoch\n"
    "  --now MS          the end of the window in ms since the epoch (default: the clock)\n"
    "  --format F        json (default) or text, on standard output (or --out FILE)\n"
    "  --html FILE       also write the report as one HTML page (inline SVG charts, no script);\n"
    "                    then nothing goes to standard output unless --format is given\n"
    "  --out FILE        write the --format output there instead of standard output\n"
    "  --long-delegation-s N   a delegation living longer is not short-lived [28800]\n"
    "\n"
    "Exit status: 0 done, 2 usage error, 3 bad input, 4 internal.\n";

/* The options only the report takes. */
typedef struct report_args {
    md_report_opts o;
    const char *html;
} report_args;

static int report_option(void *ctx, const char *a, const char *v)
{
    report_args *r = ctx;
    if (!strcmp(a, "--html"))
        r->html = v;
    else if (strcmp(a, "--long-delegation-s"))
        return -1;
    else if (v && cmd_govern_number("report", a, v, &r->o.long_delegation_s))
        return EXIT_USAGE;
    return 1;
}

int cmd_report(int argc, char **argv)
{
    cmd_govern_args g = {.dir = getenv("MANDATE_DATA")};
    report_args ra = {.o = {.long_delegation_s = MD_REPORT_LONG_DELEGATION_S}};
    int rc = cmd_govern_parse(argc, argv, "report", usage, &g, report_option, &ra);
    if (rc)
        return rc < 0 ? 0 : rc;
    md_report_opts o = ra.o;
    const char *html = ra.html;
    const char *format = g.format, *out = g.out;
    if (!format && !html)
        format = "json";
    if (format && strcmp(format, "json") && strcmp(format, "text")) {
        fprintf(stderr, "mandate report: --format is json or text\n%s", usage);
        return EXIT_USAGE;
    }
    md_diag d = {0};
    if ((rc = md_govern_window(g.since, g.now, &o.since_ms, &o.until_ms, &d))) {
        fprintf(stderr, "mandate report: %s\n", d.msg);
        return EXIT_USAGE;
    }
    mandate_ledger *l = NULL;
    if ((rc = md_govern_open_ledger(g.dir, &l, &d))) {
        fprintf(stderr, "mandate report: %s\n", d.msg);
        return cmd_govern_exit(rc);
    }
    char *json = NULL;
    rc = md_report_build(l, &o, &json, &d);
    mandate_ledger_close(l);
    md_buf page, text;
    md_buf_init(&page, 256u << 20);
    md_buf_init(&text, 256u << 20);
    if (!rc && html)
        rc = md_govern_report_html(json, strlen(json), &page, &d);
    if (!rc && format && !strcmp(format, "text"))
        rc = md_govern_report_text(json, strlen(json), &text, &d);
    else if (!rc && format)
        rc = md_buf_printf(&text, "%s\n", json);
    free(json);
    int ex = 0;
    if (rc) {
        fprintf(stderr, "mandate report: %s\n", d.msg[0] ? d.msg : mandate_strerror(rc));
        ex = cmd_govern_exit(rc);
    }
    if (!ex && html)
        ex = cmd_govern_output("report", html, page.data, page.len);
    if (!ex && format)
        ex = cmd_govern_output("report", out, text.data, text.len);
    md_buf_release(&page);
    md_buf_release(&text);
    return ex;
}
