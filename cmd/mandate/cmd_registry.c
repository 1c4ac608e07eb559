/* cmd_registry.c: `mandate human|agent|service|workflow|group add|list|show|suspend|resume|retire`:
 * the registry of identities (include/mandate/registry.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mandate/registry.h"
#include "util.h"

#define MAX_LIST 64

static void registry_usage(FILE *f, const char *kind)
{
    fprintf(
        f,
        "usage: mandate %s add ID [options]   register (status active)\n"
        "       mandate %s list                print every %s as JSON\n"
        "       mandate %s show ID             print one as JSON\n"
        "       mandate %s suspend|resume|%s ID\n"
        "\n"
        "IDs are plain (alice) or Cedar uids (Human::\"alice\"). Every change is a ledger entry\n"
        "naming --actor. Suspending stops every decision that depends on it at once, for\n"
        "delegations issued before too.\n"
        "\n"
        "  --data DIR          the data directory made by 'mandate init' ($MANDATE_DATA)\n"
        "  --actor UID         who makes the change (default: cli:$USER)\n"
        "  --name TEXT         display name\n"
        "  --owner HUMAN       agents, workflows (required), services: the accountable human\n"
        "  --workflow ID       agents: the workflow the agent serves\n"
        "  --model M, --provider P   agents\n"
        "  --member-of GROUP   groups it belongs to (repeatable)\n"
        "  --output KIND       workflows: code, summary, recommendation, customer_response,\n"
        "                      classification, orchestration (repeatable)\n"
        "  --impact CLASS      workflows: customer, employee, production, internal (repeatable)\n"
        "  --action UID        workflows: entitled actions (repeatable; none = any)\n"
        "  --resource-type T   workflows: entitled resource types (repeatable; none = any)\n"
        "\n"
        "Exit status: 0 done, 2 usage error, 3 bad input or refused, 4 internal error.\n",
        kind, kind, kind, kind, kind, strcmp(kind, "human") ? "retire" : "depart");
}

/* Opens the registry of --data DIR; prints the error. */
int cmd_registry_open(const char *dir, const char *who, mandate_registry **r)
{
    if (!dir) {
        fprintf(stderr, "mandate %s: no data directory (use --data DIR or $MANDATE_DATA)\n", who);
        return EXIT_USAGE;
    }
    mandate_registry_opts o = {.data_dir = dir};
    mandate_diag d;
    if (mandate_registry_open(r, &o, &d)) {
        fprintf(stderr, "mandate %s: %s\n", who, d.message);
        return d.code == MANDATE_ENOMEM ? EXIT_INTERNAL : EXIT_INPUT;
    }
    return 0;
}

const char *cmd_default_actor(void)
{
    static char buf[128];
    const char *u = getenv("USER");
    snprintf(buf, sizeof buf, "cli:%s", u && *u ? u : "unknown");
    return buf;
}

static int push(const char **v, size_t *n, const char *x, const char *opt)
{
    if (*n >= MAX_LIST) {
        fprintf(stderr, "mandate: too many %s options (at most %d)\n", opt, MAX_LIST);
        return -1;
    }
    v[(*n)++] = x;
    return 0;
}

static int print_owned(char *s)
{
    if (!s)
        return EXIT_INTERNAL;
    puts(s);
    free(s);
    return 0;
}

static int run_kind(int kind, int argc, char **argv)
{
    const char *kname = mandate_kind_name(kind);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        registry_usage(argc < 2 ? stderr : stdout, kname);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    const char *dir = getenv("MANDATE_DATA"), *actor = cmd_default_actor(), *id = NULL;
    const char *members[MAX_LIST], *outputs[MAX_LIST], *impacts[MAX_LIST], *actions[MAX_LIST],
        *rtypes[MAX_LIST];
    mandate_principal p = {.kind = kind,
                           .member_of = members,
                           .outputs = outputs,
                           .impacts = impacts,
                           .actions = actions,
                           .resource_types = rtypes};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            registry_usage(stdout, kname);
            return 0;
        }
        if (a[0] != '-' || a[1] != '-') {
            if (id) {
                fprintf(stderr, "mandate %s %s: unexpected argument '%s'\n", kname, sub, a);
                return EXIT_USAGE;
            }
            id = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "mandate %s %s: option '%s' needs a value\n", kname, sub, a);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--actor"))
            actor = v;
        else if (!strcmp(a, "--name"))
            p.name = v;
        else if (!strcmp(a, "--owner"))
            p.owner = v;
        else if (!strcmp(a, "--workflow"))
            p.workflow = v;
        else if (!strcmp(a, "--model"))
            p.model = v;
        else if (!strcmp(a, "--provider"))
            p.provider = v;
        else if (!strcmp(a, "--member-of"))
            rc = push(members, &p.n_member_of, v, a);
        else if (!strcmp(a, "--output"))
            rc = push(outputs, &p.n_outputs, v, a);
        else if (!strcmp(a, "--impact"))
            rc = push(impacts, &p.n_impacts, v, a);
        else if (!strcmp(a, "--action"))
            rc = push(actions, &p.n_actions, v, a);
        else if (!strcmp(a, "--resource-type"))
            rc = push(rtypes, &p.n_resource_types, v, a);
        else {
            fprintf(stderr, "mandate %s %s: unknown option '%s'\n", kname, sub, a);
            registry_usage(stderr, kname);
            return EXIT_USAGE;
        }
        if (rc)
            return EXIT_USAGE;
    }
    int status = -1;
    bool is_list = !strcmp(sub, "list"), is_add = !strcmp(sub, "add");
    if (!strcmp(sub, "suspend"))
        status = MANDATE_STATUS_SUSPENDED;
    else if (!strcmp(sub, "resume"))
        status = MANDATE_STATUS_ACTIVE;
    else if (!strcmp(sub, "retire") || !strcmp(sub, "depart"))
        status = MANDATE_STATUS_DEPARTED;
    else if (!is_list && !is_add && strcmp(sub, "show")) {
        fprintf(stderr, "mandate %s: unknown subcommand '%s'\n", kname, sub);
        registry_usage(stderr, kname);
        return EXIT_USAGE;
    }
    if (!is_list && !id) {
        fprintf(stderr, "mandate %s %s: give the %s's id\n", kname, sub, kname);
        return EXIT_USAGE;
    }
    if (is_list && id) {
        fprintf(stderr, "mandate %s list: unexpected argument '%s'\n", kname, id);
        return EXIT_USAGE;
    }
    mandate_registry *r = NULL;
    int rc = cmd_registry_open(dir, kname, &r);
    if (rc)
        return rc;
    mandate_diag d = {0};
    char *json = NULL;
    char uid[1200];
    /* A plain id names this kind's entity type. */
    if (id && !strstr(id, "::")) {
        char t[16];
        snprintf(t, sizeof t, "%s", kname);
        t[0] = (char)(t[0] - 'a' + 'A');
        snprintf(uid, sizeof uid, "%s::\"%s\"", t, id);
    } else if (id) {
        snprintf(uid, sizeof uid, "%s", id);
    }
    int err;
    if (is_add) {
        p.id = id;
        err = mandate_registry_add(r, &p, actor, &d);
        if (!err)
            printf("%s\n", uid);
    } else if (is_list) {
        err = mandate_registry_list(r, kind, &json, &d);
        if (!err)
            rc = print_owned(json);
    } else if (status < 0) {
        err = mandate_registry_show(r, uid, &json, &d);
        if (!err)
            rc = print_owned(json);
    } else {
        err = mandate_registry_set_status(r, uid, status, actor, &d);
        if (!err)
            printf("%s %s\n", uid, mandate_status_name(kind, status));
    }
    if (err) {
        fprintf(stderr, "mandate %s %s: %s\n", kname, sub, d.message);
        rc = err == MANDATE_ENOMEM || err == MANDATE_EINTERNAL ? EXIT_INTERNAL : EXIT_INPUT;
    }
    mandate_registry_close(r);
    return rc;
}

int cmd_human(int argc, char **argv)
{
    return run_kind(MANDATE_KIND_HUMAN, argc, argv);
}

int cmd_agent(int argc, char **argv)
{
    return run_kind(MANDATE_KIND_AGENT, argc, argv);
}

int cmd_service(int argc, char **argv)
{
    return run_kind(MANDATE_KIND_SERVICE, argc, argv);
}

int cmd_workflow(int argc, char **argv)
{
    return run_kind(MANDATE_KIND_WORKFLOW, argc, argv);
}

int cmd_group(int argc, char **argv)
{
    return run_kind(MANDATE_KIND_GROUP, argc, argv);
}
