/* cmd_init.c: `mandate init`: create a data directory with its database and ledger key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mandate/mandate.h"

static void init_usage(FILE *f)
{
    fprintf(f, "usage: mandate init --data DIR [--origin NAME]\n\n"
               "Creates DIR (mode 0700) with the database DIR/mandate.db, the ledger signing key\n"
               "DIR/ledger.key (mode 0600, readable by its owner only) and its public key\n"
               "DIR/ledger.pub in note verifier key format, and prints the public key.\n\n"
               "  --data DIR     the data directory (default: $MANDATE_DATA)\n"
               "  --origin NAME  the log's origin and key name, without spaces or '+'\n"
               "                 (default: mandate.local/ledger/<random hex>)\n");
}

int cmd_init(int argc, char **argv)
{
    const char *dir = getenv("MANDATE_DATA"), *origin = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            init_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--origin") && i + 1 < argc) {
            origin = argv[++i];
        } else {
            fprintf(stderr, "mandate init: unknown or incomplete option '%s'\n", argv[i]);
            init_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "mandate init: no data directory (use --data DIR)\n");
        return EXIT_USAGE;
    }
    mandate_diag diag;
    int rc = mandate_ledger_init(dir, origin, &diag);
    if (rc) {
        fprintf(stderr, "mandate init: %s\n", diag.message);
        return EXIT_INPUT;
    }
    char pub[4096];
    snprintf(pub, sizeof pub, "%s/ledger.pub", dir);
    FILE *f = fopen(pub, "r");
    char line[1024] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    printf("initialized %s\nverifier key: %s", dir, line);
    return 0;
}
