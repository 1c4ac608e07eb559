/* main.c: the mandate binary: a table of subcommands over libmandate. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "mandate/mandate.h"

static const cmd commands[] = {
    {"authorize", cmd_authorize, "decide one request with Cedar policies and entities"},
    {"policy", cmd_policy, "check, format, test and validate Cedar policies"},
    {"schema", cmd_schema, "convert Cedar schemas between the human and JSON formats"},
    {"init", cmd_init, "create a data directory, its database and ledger signing key"},
    {"ledger", cmd_ledger, "evidence ledger: append, get, checkpoint, prove, verify"},
    {"human", cmd_human, "registry: humans (add, list, show, suspend, resume, depart)"},
    {"agent", cmd_agent, "registry: AI agents and their owners"},
    {"service", cmd_service, "registry: non-AI machine identities"},
    {"workflow", cmd_workflow, "registry: AI-assisted workflows, outputs and impact"},
    {"group", cmd_group, "registry: groups and membership"},
    {"delegate", cmd_delegate, "sign a delegation from a human to an agent (prints a token)"},
    {"revoke", cmd_revoke, "revoke a delegation and everything delegated from it"},
    {"freeze", cmd_freeze, "kill switch: deny every agent decision"},
    {"unfreeze", cmd_unfreeze, "lift the global freeze"},
    {"serve", cmd_serve, "serve the HTTP API over a data directory"},
    {"key", cmd_key, "API keys for the server: create, list, revoke"},
    {"trace", cmd_trace, "the chain behind an artifact or decision, with ledger proofs"},
    {"approve", cmd_approve, "approve a request that needs a human's sign-off"},
    {"reject", cmd_reject, "reject a request that needs a human's sign-off"},
    {"approvals", cmd_approvals, "approvals: list, show (a recorded view), expire"},
    {"outcome", cmd_outcome, "record what an allowed action produced and its disposition"},
    {"review", cmd_review, "access review: slack, orphans, rubber stamps, ... with fixes"},
    {"report", cmd_report, "accountability scorecard: adoption beside governance coverage"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mandate <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nRun 'mandate <command> --help' for a command's options.\n"
            "mandate %s\n",
            mandate_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mandate %s\n", mandate_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mandate: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
