/* cmd_policy.c: `mandate policy check FILE...`: parse Cedar policy files and report errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

static const char usage_text[] =
    "usage: mandate policy check FILE...\n"
    "\n"
    "  check   parse each Cedar policy file; print 'FILE: N policies' or the first error as\n"
    "          FILE:LINE:COLUMN: message. Exit status 0 when every file parses, 3 otherwise.\n";

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

int cmd_policy(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return policy_check(argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
