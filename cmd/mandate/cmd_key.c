/* cmd_key.c: `mandate key create|list|revoke`: API keys bound to an identity. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mandate/mandate.h"
#include "mandate/server.h"

static void key_usage(FILE *f)
{
    fprintf(f, "usage: mandate key create --for IDENTITY [--data DIR]\n"
               "       mandate key list [--data DIR]\n"
               "       mandate key revoke ID [--data DIR]\n\n"
               "API keys for 'mandate serve'. A key is bound to one identity, a Cedar uid such as\n"
               "'Human::\"alice\"'; what the identity may do is decided by the admin policies.\n"
               "create prints the key once: only a hash of it is stored.\n\n"
               "  --for IDENTITY  the identity the key acts as\n"
               "  --data DIR      the data directory (default: $MANDATE_DATA)\n");
}

int cmd_key(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        key_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *sub = argv[1], *dir = getenv("MANDATE_DATA"), *who = NULL, *id = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--for") && i + 1 < argc)
            who = argv[++i];
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else {
            fprintf(stderr, "mandate key: unknown or incomplete option '%s'\n", argv[i]);
            key_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "mandate key: no data directory (use --data DIR)\n");
        return EXIT_USAGE;
    }
    mandate_diag d = {0};
    if (!strcmp(sub, "create")) {
        if (!who || id) {
            fprintf(stderr, "mandate key create: needs --for IDENTITY and nothing else\n");
            return EXIT_USAGE;
        }
        char key[128];
        if (mandate_api_key_create(dir, who, key, sizeof key, &d)) {
            fprintf(stderr, "mandate key create: %s\n", d.message);
            return d.code == MANDATE_EINVAL ? EXIT_USAGE : EXIT_INPUT;
        }
        printf("%s\n", key);
        fflush(stdout);
        sodium_memzero(key, sizeof key);
        fprintf(stderr,
                "mandate: API key for %s (shown once; send it as "
                "'Authorization: Bearer <key>')\n",
                who);
        return 0;
    }
    if (!strcmp(sub, "list")) {
        char *json = NULL;
        if (mandate_api_key_list(dir, &json, &d)) {
            fprintf(stderr, "mandate key list: %s\n", d.message);
            return EXIT_INPUT;
        }
        printf("%s\n", json);
        free(json);
        return 0;
    }
    if (!strcmp(sub, "revoke")) {
        if (!id) {
            fprintf(stderr, "mandate key revoke: needs the key ID\n");
            return EXIT_USAGE;
        }
        if (mandate_api_key_revoke(dir, id, &d)) {
            fprintf(stderr, "mandate key revoke: %s\n", d.message);
            return EXIT_INPUT;
        }
        printf("revoked %s\n", id);
        return 0;
    }
    fprintf(stderr, "mandate key: unknown subcommand '%s'\n", sub);
    key_usage(stderr);
    return EXIT_USAGE;
}
