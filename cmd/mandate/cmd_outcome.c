/*
 * cmd_outcome.c: `mandate outcome`: records what an allowed decision produced (the artifact's
 * kind, SHA-256 and URI) and the human disposition, as a ledger entry that `mandate trace` finds
 * by digest, URI or decision id (docs/accountability.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mandate/registry.h"
#include "util.h"

static const char outcome_usage[] =
    "usage: mandate outcome --decision INDEX --kind KIND --sha256 HEX [--uri URI]\n"
    "                       --disposition accepted|edited|rejected [--by UID] [--data DIR]\n"
    "\n"
    "Records the outcome of the allowed decision at ledger index INDEX (the decision's\n"
    "ledger_index): KIND is code, summary, recommendation, customer_response, classification\n"
    "or orchestration; HEX the artifact's SHA-256 (64 hex digits, e.g. from sha256sum); URI\n"
    "where it is; the disposition is what the human did with it; --by who records it. Prints\n"
    "the ledger index of the outcome entry.\n"
    "Exit status: 0 recorded, 2 usage error, 3 bad input (not an allowed decision, bad kind or\n"
    "digest), 4 internal error.\n";

int cmd_outcome(int argc, char **argv)
{
    const char *dir = getenv("MANDATE_DATA");
    mandate_outcome o = {0};
    bool have_decision = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(outcome_usage, stdout);
            return 0;
        }
        if (!v || a[0] != '-') {
            fprintf(stderr, "mandate outcome: unknown or incomplete option '%s'\n", a);
            fputs(outcome_usage, stderr);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--decision")) {
            char *end = NULL;
            unsigned long long x = strtoull(v, &end, 10);
            if (!end || *end || v[0] == '-' || !*v) {
                fprintf(stderr, "mandate outcome: --decision must be a ledger index\n");
                return EXIT_USAGE;
            }
            o.decision = x;
            have_decision = true;
        } else if (!strcmp(a, "--kind"))
            o.kind = v;
        else if (!strcmp(a, "--sha256"))
            o.sha256 = v;
        else if (!strcmp(a, "--uri"))
            o.uri = v;
        else if (!strcmp(a, "--disposition"))
            o.disposition = v;
        else if (!strcmp(a, "--by"))
            o.recorded_by = v;
        else {
            fprintf(stderr, "mandate outcome: unknown option '%s'\n", a);
            fputs(outcome_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!have_decision || !o.kind || !o.sha256 || !o.disposition) {
        fprintf(stderr, "mandate outcome: needs --decision, --kind, --sha256 and --disposition\n");
        fputs(outcome_usage, stderr);
        return EXIT_USAGE;
    }
    if (!o.recorded_by)
        o.recorded_by = cmd_default_actor();
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, "outcome", &r);
    if (rc)
        return rc;
    mandate_diag d = {0};
    uint64_t index = 0;
    int err = mandate_outcome_record(mandate_registry_account(r), &o, &index, &d);
    if (err) {
        fprintf(stderr, "mandate outcome: %s\n", d.message);
        rc = err == MANDATE_ENOMEM || err == MANDATE_EINTERNAL || err == MANDATE_ESTORE ||
                     err == MANDATE_EIO
                 ? EXIT_INTERNAL
                 : EXIT_INPUT;
    } else {
        printf("{\"outcome\":%llu,\"decision\":%llu}\n", (unsigned long long)index,
               (unsigned long long)o.decision);
    }
    mandate_registry_close(r);
    return rc;
}
