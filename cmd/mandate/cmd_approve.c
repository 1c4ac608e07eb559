/*
 * cmd_approve.c: `mandate approve`, `mandate reject` and `mandate approvals list|show|expire`:
 * a human signs off (or refuses) an approval_required request, bound to that exact request
 * (docs/accountability.md). The approver's membership in the policy's @approvers is checked in
 * the registry's entities (mandate_registry_approve). Only one process should write a data
 * directory's ledger: while `mandate serve` runs on it, approve through the HTTP API instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mandate/registry.h"
#include "util.h"

static const char approve_usage[] =
    "usage: mandate approve ID --approver HUMAN --mode verified|decided [--reason TEXT]\n"
    "                          [--entities FILE] [--data DIR]\n"
    "       mandate reject ID --approver HUMAN [--reason TEXT] [--entities FILE] [--data DIR]\n"
    "\n"
    "Approves or rejects the pending approval ID (apr_...) of an approval_required decision.\n"
    "The approver is a human (plain id or Human::\"id\"), active, in every @approvers entity of\n"
    "the policy that asked for the approval, and not separated from the request (@separation);\n"
    "an agent never approves. --mode states how the approver stands behind the action:\n"
    "'verified' (I checked the AI output) or 'decided' (I made this decision). --entities adds\n"
    "Cedar entities to the registry's for the membership check. Prints the ledger index of the\n"
    "approval entry. The agent then retries the same request with the approval id.\n"
    "Exit status: 0 done, 1 refused (not allowed to approve, used, expired), 2 usage error,\n"
    "3 bad input or unknown id, 4 internal error.\n";

static const char approvals_usage[] =
    "usage: mandate approvals list [--status pending|approved|rejected|used|expired] [--limit N]\n"
    "                              [--data DIR]\n"
    "       mandate approvals show ID [--viewer HUMAN] [--data DIR]\n"
    "       mandate approvals expire [--data DIR]\n"
    "\n"
    "'list' prints approvals as a JSON array, oldest first. 'show' prints one approval: the\n"
    "request it is bound to (principal, action, resource, canonical context), the obligations,\n"
    "its status; with --viewer the view is recorded (a ledger entry on the first view) and starts\n"
    "that approver's dwell clock. 'expire' marks every approval past its expiry as expired.\n"
    "Exit status: 0 done, 2 usage error, 3 bad input or unknown id, 4 internal error.\n";

static int exit_for(int err)
{
    if (err == MANDATE_EDENIED)
        return EXIT_DENY;
    return err == MANDATE_ENOMEM || err == MANDATE_EINTERNAL || err == MANDATE_ESTORE ||
                   err == MANDATE_EIO
               ? EXIT_INTERNAL
               : EXIT_INPUT;
}

/* Loads the caller's entities into the registry, when given. */
static int load_entities(mandate_registry *r, const char *path)
{
    if (!path)
        return 0;
    size_t len = 0;
    char *text = cmd_read_file(path, &len);
    if (!text)
        return EXIT_INPUT;
    mandate_diag d = {0};
    int rc = mandate_registry_set_entities(r, text, len, &d);
    free(text);
    if (rc) {
        cmd_print_diag(path, &d);
        return EXIT_INPUT;
    }
    return 0;
}

static int decide(int argc, char **argv, bool approve)
{
    const char *name = approve ? "approve" : "reject";
    const char *dir = getenv("MANDATE_DATA"), *id = NULL, *approver = NULL, *mode = NULL;
    const char *reason = NULL, *entities = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(approve_usage, stdout);
            return 0;
        }
        if (a[0] != '-' && !id) {
            id = a;
            continue;
        }
        if (!v || a[0] != '-') {
            fprintf(stderr, "mandate %s: unknown or incomplete option '%s'\n", name, a);
            fputs(approve_usage, stderr);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--approver") || !strcmp(a, "--as"))
            approver = v;
        else if (!strcmp(a, "--mode"))
            mode = v;
        else if (!strcmp(a, "--reason"))
            reason = v;
        else if (!strcmp(a, "--entities"))
            entities = v;
        else {
            fprintf(stderr, "mandate %s: unknown option '%s'\n", name, a);
            fputs(approve_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!id || !approver || (approve && !mode)) {
        fprintf(stderr, "mandate %s: needs an approval id, --approver%s\n", name,
                approve ? " and --mode" : "");
        fputs(approve_usage, stderr);
        return EXIT_USAGE;
    }
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, name, &r);
    if (rc)
        return rc;
    if ((rc = load_entities(r, entities)) != 0) {
        mandate_registry_close(r);
        return rc;
    }
    mandate_approval_input in = {
        .id = id, .approver = approver, .approve = approve, .mode = mode, .reason = reason};
    uint64_t index = 0;
    mandate_diag d = {0};
    int err = mandate_registry_approve(r, &in, &index, &d);
    if (err) {
        fprintf(stderr, "mandate %s: %s\n", name, d.message);
        rc = exit_for(err);
    } else {
        printf("{\"approval\":\"%s\",\"status\":\"%s\",\"entry\":%llu}\n", id,
               approve ? "approved" : "rejected", (unsigned long long)index);
    }
    mandate_registry_close(r);
    return rc;
}

int cmd_approve(int argc, char **argv)
{
    return decide(argc, argv, true);
}

int cmd_reject(int argc, char **argv)
{
    return decide(argc, argv, false);
}

int cmd_approvals(int argc, char **argv)
{
    const char *dir = getenv("MANDATE_DATA"), *verb = NULL, *id = NULL, *status = NULL;
    const char *viewer = NULL;
    long limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(approvals_usage, stdout);
            return 0;
        }
        if (a[0] != '-') {
            if (!verb)
                verb = a;
            else if (!id)
                id = a;
            else {
                fputs(approvals_usage, stderr);
                return EXIT_USAGE;
            }
            continue;
        }
        if (!v) {
            fprintf(stderr, "mandate approvals: option '%s' needs a value\n", a);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--status"))
            status = v;
        else if (!strcmp(a, "--viewer") || !strcmp(a, "--as"))
            viewer = v;
        else if (!strcmp(a, "--limit")) {
            char *end = NULL;
            limit = strtol(v, &end, 10);
            if (!end || *end || limit < 1 || limit > 100000) {
                fprintf(stderr, "mandate approvals: --limit must be 1..100000\n");
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "mandate approvals: unknown option '%s'\n", a);
            fputs(approvals_usage, stderr);
            return EXIT_USAGE;
        }
    }
    bool list = verb && !strcmp(verb, "list"), show = verb && !strcmp(verb, "show"),
         expire = verb && !strcmp(verb, "expire");
    if ((!list && !show && !expire) || (show != (id != NULL))) {
        fputs(approvals_usage, stderr);
        return EXIT_USAGE;
    }
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, "approvals", &r);
    if (rc)
        return rc;
    mandate_account *acc = mandate_registry_account(r);
    mandate_diag d = {0};
    char *json = NULL;
    int err;
    size_t n = 0;
    if (list)
        err = mandate_approval_list(acc, status, (size_t)limit, &json, &d);
    else if (show)
        err = mandate_approval_view(acc, id, viewer, 0, &json, &d);
    else
        err = mandate_approval_expire(acc, 0, &n, &d);
    if (err) {
        fprintf(stderr, "mandate approvals: %s\n", d.message);
        rc = err == MANDATE_ENOTFOUND ? EXIT_INPUT : exit_for(err);
    } else if (expire) {
        printf("{\"expired\":%zu}\n", n);
    } else {
        puts(json);
    }
    free(json);
    mandate_registry_close(r);
    return rc;
}
