/*
 * cmd_trace.c: `mandate trace [--data DIR] <sha256|uri|decision id>` prints the chain behind an
 * artifact or decision as JSON (docs/accountability.md); `mandate trace --verify FILE --key VKEY`
 * checks a saved trace offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

static const char usage[] = "usage: mandate trace [--data DIR] (SHA256 | URI | DECISION-ID)\n"
                            "       mandate trace --verify FILE --key VERIFIER-KEY\n";

int cmd_trace(int argc, char **argv)
{
    const char *data = getenv("MANDATE_DATA"), *query = NULL, *verify = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--verify") == 0 && i + 1 < argc)
            verify = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (argv[i][0] != '-' && !query)
            query = argv[i];
        else {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    mandate_diag d = {0};
    if (verify) {
        size_t len = 0, n = 0;
        char *text = key ? cmd_read_file(verify, &len) : NULL;
        if (!text) {
            if (!key)
                fputs(usage, stderr);
            return key ? EXIT_INPUT : EXIT_USAGE;
        }
        int rc = mandate_trace_verify(text, len, key, &n, &d);
        free(text);
        if (rc) {
            cmd_print_diag(verify, &d);
            return EXIT_DENY;
        }
        printf("ok: %zu proofs verified against the checkpoint\n", n);
        return 0;
    }
    if (!query || !data) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    char db[4096], keyp[4096];
    snprintf(db, sizeof db, "%s/mandate.db", data);
    snprintf(keyp, sizeof keyp, "%s/ledger.key", data);
    mandate_ledger_opts lo = {.db_path = db, .key_path = keyp};
    mandate_ledger *l = NULL;
    mandate_account *acc = NULL;
    char *out = NULL;
    int rc = mandate_ledger_open(&l, &lo, &d);
    mandate_account_opts ao = {.data_dir = data, .ledger = l};
    if (!rc)
        rc = mandate_account_open(&acc, &ao, &d);
    if (!rc)
        rc = mandate_trace(acc, query, &out, &d);
    if (!rc)
        printf("%s\n", out);
    else
        cmd_print_diag(NULL, &d);
    free(out);
    mandate_account_close(acc);
    mandate_ledger_close(l);
    return !rc ? 0 : rc == MANDATE_ENOTFOUND || rc == MANDATE_EINVAL ? EXIT_INPUT : EXIT_INTERNAL;
}
