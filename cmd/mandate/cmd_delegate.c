/* cmd_delegate.c: `mandate delegate` (prints a delegation token), `mandate revoke`,
 * `mandate freeze` / `unfreeze` (the global kill switch), and the agent path of
 * `mandate authorize --token` (include/mandate/registry.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mandate/registry.h"
#include "util.h"

#define MAX_LIST 64

static const char delegate_usage[] =
    "usage: mandate delegate --from HUMAN --to AGENT --task TEXT --action UID... --resource R...\n"
    "                        [--workflow ID] [--uses N] [--lifetime SECONDS]\n"
    "                        [--parent TOKEN [--chain TOKEN]...] [--data DIR] [--actor UID]\n"
    "       mandate delegate jwks [--data DIR]\n"
    "\n"
    "Signs a delegation from an active human to an active agent (with an active owner) and\n"
    "prints the compact token. With --parent, re-delegates from the parent token's agent to\n"
    "--to, only narrowing (scope, expiry, uses, depth); --chain gives the parent's own\n"
    "ancestors, parent first. --action and --resource repeat; a resource is a uid\n"
    "(Ticket::\"42\") or an entity type (Ticket). Default lifetime 900 s, uses 1.\n"
    "'jwks' prints the public keys that verify delegations (JWKS).\n"
    "Exit status: 0 issued, 2 usage error, 3 refused or bad input, 4 internal error.\n";

static int push(const char **v, size_t *n, const char *x)
{
    if (*n >= MAX_LIST) {
        fprintf(stderr, "mandate: too many list options (at most %d)\n", MAX_LIST);
        return -1;
    }
    v[(*n)++] = x;
    return 0;
}

/* "Kind::\"id\"" for a plain id. */
static const char *as_uid(char *buf, size_t n, const char *type, const char *id)
{
    if (!id || strstr(id, "::"))
        return id;
    snprintf(buf, n, "%s::\"%s\"", type, id);
    return buf;
}

static int exit_for(int err)
{
    return err == MANDATE_ENOMEM || err == MANDATE_EINTERNAL ? EXIT_INTERNAL : EXIT_INPUT;
}

int cmd_delegate(int argc, char **argv)
{
    const char *dir = getenv("MANDATE_DATA"), *actor = cmd_default_actor();
    const char *from = NULL, *to = NULL, *parent = NULL, *workflow = NULL;
    const char *actions[MAX_LIST], *resources[MAX_LIST], *chain[MAX_LIST];
    size_t n_actions = 0, n_resources = 0, n_chain = 0;
    mandate_delegation dl = {0};
    bool jwks = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(delegate_usage, stdout);
            return 0;
        }
        if (i == 1 && !strcmp(a, "jwks")) {
            jwks = true;
            continue;
        }
        if (!v || a[0] != '-') {
            fprintf(stderr, "mandate delegate: unknown or incomplete option '%s'\n", a);
            fputs(delegate_usage, stderr);
            return EXIT_USAGE;
        }
        i++;
        int rc = 0;
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--actor"))
            actor = v;
        else if (!strcmp(a, "--from"))
            from = v;
        else if (!strcmp(a, "--to"))
            to = v;
        else if (!strcmp(a, "--task"))
            dl.task = v;
        else if (!strcmp(a, "--workflow"))
            workflow = v;
        else if (!strcmp(a, "--parent"))
            parent = v;
        else if (!strcmp(a, "--chain"))
            rc = push(chain, &n_chain, v);
        else if (!strcmp(a, "--action"))
            rc = push(actions, &n_actions, v);
        else if (!strcmp(a, "--resource"))
            rc = push(resources, &n_resources, v);
        else if (!strcmp(a, "--uses") || !strcmp(a, "--lifetime")) {
            char *end;
            unsigned long long x = strtoull(v, &end, 10);
            if (*end || !*v || x == 0) {
                fprintf(stderr, "mandate delegate: %s wants a positive integer, not '%s'\n", a, v);
                return EXIT_USAGE;
            }
            if (a[2] == 'u')
                dl.max_uses = x;
            else
                dl.lifetime = (int64_t)x;
        } else {
            fprintf(stderr, "mandate delegate: unknown option '%s'\n", a);
            return EXIT_USAGE;
        }
        if (rc)
            return EXIT_USAGE;
    }
    if (!jwks && (!to || (!from && !parent) || !dl.task || !n_actions || !n_resources)) {
        fputs(delegate_usage, stderr);
        return EXIT_USAGE;
    }
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, "delegate", &r);
    if (rc)
        return rc;
    mandate_diag d = {0};
    char *out = NULL;
    int err;
    if (jwks) {
        err = mandate_registry_jwks(r, &out, &d);
    } else {
        char b1[600], b2[600], b3[600];
        dl.subject = as_uid(b1, sizeof b1, "Agent", to);
        dl.delegator = as_uid(b2, sizeof b2, "Human", from);
        dl.workflow = as_uid(b3, sizeof b3, "Workflow", workflow);
        dl.actions = actions;
        dl.n_actions = n_actions;
        dl.resources = resources;
        dl.n_resources = n_resources;
        if (!dl.max_uses && !parent)
            dl.max_uses = 1;
        mandate_token_error te = {0};
        if (parent)
            err = mandate_registry_redelegate(r, parent, chain, n_chain, &dl, actor, &out, &te, &d);
        else
            err = mandate_registry_delegate(r, &dl, actor, &out, &te, &d);
        if (err && te.reason)
            fprintf(stderr, "mandate delegate: refused (%s): %s\n",
                    mandate_token_reason_name(te.reason), te.message);
    }
    if (err) {
        fprintf(stderr, "mandate delegate: %s\n", d.message);
        rc = exit_for(err);
    } else {
        puts(out);
    }
    free(out);
    mandate_registry_close(r);
    return rc;
}

static const char revoke_usage[] =
    "usage: mandate revoke JTI|TOKEN [--reason TEXT] [--data DIR] [--actor UID]\n"
    "\n"
    "Revokes a delegation (by its jti or its compact token): it and everything re-delegated\n"
    "from it are denied from the next decision on. A ledger entry names the actor.\n";

int cmd_revoke(int argc, char **argv)
{
    const char *dir = getenv("MANDATE_DATA"), *actor = cmd_default_actor(), *reason = NULL,
               *what = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(revoke_usage, stdout);
            return 0;
        } else if (a[0] != '-' && !what) {
            what = a;
        } else if (v && !strcmp(a, "--data")) {
            dir = argv[++i];
        } else if (v && !strcmp(a, "--actor")) {
            actor = argv[++i];
        } else if (v && !strcmp(a, "--reason")) {
            reason = argv[++i];
        } else {
            fputs(revoke_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!what) {
        fputs(revoke_usage, stderr);
        return EXIT_USAGE;
    }
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, "revoke", &r);
    if (rc)
        return rc;
    mandate_diag d = {0};
    int err = mandate_registry_revoke(r, what, actor, reason, &d);
    if (err) {
        fprintf(stderr, "mandate revoke: %s\n", d.message);
        rc = exit_for(err);
    } else {
        puts("revoked");
    }
    mandate_registry_close(r);
    return rc;
}

static int freeze(int argc, char **argv, bool on)
{
    const char *dir = getenv("MANDATE_DATA"), *actor = cmd_default_actor();
    const char *name = on ? "freeze" : "unfreeze";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: mandate %s [--data DIR] [--actor UID]\n\n%s\n", name,
                   on ? "The global kill switch: every agent decision is denied until 'mandate "
                        "unfreeze'.\nA ledger entry names the actor."
                      : "Lifts the global freeze. A ledger entry names the actor.");
            return 0;
        } else if (i + 1 < argc && !strcmp(argv[i], "--data")) {
            dir = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--actor")) {
            actor = argv[++i];
        } else {
            fprintf(stderr, "mandate %s: unknown or incomplete option '%s'\n", name, argv[i]);
            return EXIT_USAGE;
        }
    }
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, name, &r);
    if (rc)
        return rc;
    mandate_diag d = {0};
    int err = mandate_registry_freeze(r, on, actor, &d);
    if (err) {
        fprintf(stderr, "mandate %s: %s\n", name, d.message);
        rc = exit_for(err);
    } else {
        puts(on ? "frozen" : "unfrozen");
    }
    mandate_registry_close(r);
    return rc;
}

int cmd_freeze(int argc, char **argv)
{
    return freeze(argc, argv, true);
}

int cmd_unfreeze(int argc, char **argv)
{
    return freeze(argc, argv, false);
}

int cmd_authorize_token(const cmd_agent_args *a)
{
    int rc = EXIT_INPUT;
    char *ptext = NULL, *stext = NULL, *etext = NULL, *json = NULL;
    size_t plen = 0, slen = 0, elen = 0;
    mandate_registry *r = NULL;
    mandate_agent_result *res = NULL;
    mandate_diag d = {0};
    if (!(ptext = cmd_read_file(a->policies, &plen)))
        goto out;
    if (a->schema && !(stext = cmd_read_file(a->schema, &slen)))
        goto out;
    if (a->entities && !(etext = cmd_read_file(a->entities, &elen)))
        goto out;
    if ((rc = cmd_registry_open(a->data, "authorize", &r)) != 0)
        goto out;
    rc = EXIT_INPUT;
    if (stext && mandate_registry_set_schema(r, stext, slen, &d)) {
        cmd_print_diag(a->schema, &d);
        goto out;
    }
    if (mandate_registry_set_policies(r, ptext, plen, &d)) {
        cmd_print_diag(a->policies, &d);
        goto out;
    }
    if (etext && mandate_registry_set_entities(r, etext, elen, &d)) {
        cmd_print_diag(a->entities, &d);
        goto out;
    }
    mandate_agent_request rq = {.token = a->token,
                                .parents = a->parents,
                                .n_parents = a->n_parents,
                                .principal = a->principal,
                                .action = a->action,
                                .resource = a->resource,
                                .context_json = a->context_json,
                                .approval_id = a->approval_id};
    if (mandate_agent_authorize(r, &rq, &res, &d)) {
        cmd_print_diag(NULL, &d);
        rc = EXIT_INTERNAL;
        goto out;
    }
    if (!(json = mandate_agent_result_to_json(res))) {
        fprintf(stderr, "mandate: out of memory\n");
        rc = EXIT_INTERNAL;
        goto out;
    }
    puts(json);
    rc = mandate_agent_result_allowed(res) ? EXIT_ALLOW : EXIT_DENY;
out:
    free(json);
    mandate_agent_result_free(res);
    mandate_registry_close(r);
    free(ptext);
    free(stext);
    free(etext);
    return rc;
}
