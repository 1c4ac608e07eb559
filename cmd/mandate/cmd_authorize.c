/* cmd_authorize.c: `mandate authorize`: one Cedar decision from files, printed as JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

static const char usage_text[] =
    "usage: mandate authorize --policies FILE [--entities FILE] [--schema FILE]\n"
    "                         --principal UID --action UID --resource UID\n"
    "                         [--context JSON | --context-file FILE] [--no-validate]\n"
    "\n"
    "Decides one request with Cedar's exact semantics and prints the decision as JSON:\n"
    "  {\"decision\":\"allow\"|\"deny\",\"reason\":[policy ids],\"errors\":[{policy,message}]}\n"
    "Policies get ids policy0, policy1, ... in file order. UIDs use Cedar syntax, e.g.\n"
    "  --principal 'User::\"alice\"'. With --schema, entities and context are parsed with the\n"
    "schema and the request is validated against the action's appliesTo (--no-validate skips\n"
    "that check).\n"
    "\n"
    "Exit status: 0 allow, 1 deny, 2 usage error, 3 bad input (the message says which file and\n"
    "where), 4 internal error.\n"
    "\n"
    "Agent path: mandate authorize --token TOKEN [--parent TOKEN]... --data DIR --policies FILE\n"
    "    [--entities FILE] [--schema FILE] [--principal AGENT] --action UID --resource UID\n"
    "    [--context JSON] [--approval ID]\n"
    "  decides for the token's agent with the registry of DIR (docs/identity.md): the agent's\n"
    "  policies, the delegator's and the delegation's scope must all allow; fails closed; the\n"
    "  decision is a ledger entry. Prints {\"decision\",\"check\",\"reason\",...}; a request that\n"
    "  needs a human approval prints decision approval_required and an approval id: once a human\n"
    "  approves it (mandate approve), retry the exact same request with --approval ID.\n";

int cmd_authorize(int argc, char **argv)
{
    static const struct option opts[] = {{"policies", required_argument, NULL, 'p'},
                                         {"entities", required_argument, NULL, 'e'},
                                         {"schema", required_argument, NULL, 's'},
                                         {"principal", required_argument, NULL, 'P'},
                                         {"action", required_argument, NULL, 'A'},
                                         {"resource", required_argument, NULL, 'R'},
                                         {"context", required_argument, NULL, 'c'},
                                         {"context-file", required_argument, NULL, 'C'},
                                         {"no-validate", no_argument, NULL, 'n'},
                                         {"token", required_argument, NULL, 'T'},
                                         {"parent", required_argument, NULL, 'X'},
                                         {"approval", required_argument, NULL, 'a'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *pfile = NULL, *efile = NULL, *sfile = NULL, *cfile = NULL;
    mandate_request req = {.validate = true};
    const char *token = NULL, *approval = NULL, *data = getenv("MANDATE_DATA"), *parents[64];
    size_t n_parents = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pfile = optarg; break;
        case 'e': efile = optarg; break;
        case 's': sfile = optarg; break;
        case 'P': req.principal = optarg; break;
        case 'A': req.action = optarg; break;
        case 'R': req.resource = optarg; break;
        case 'c': req.context_json = optarg; break;
        case 'C': cfile = optarg; break;
        case 'n': req.validate = false; break;
        case 'T': token = optarg; break;
        case 'a': approval = optarg; break;
        case 'D': data = optarg; break;
        case 'X':
            if (n_parents == 64) {
                fputs("mandate authorize: too many --parent options\n", stderr);
                return EXIT_USAGE;
            }
            parents[n_parents++] = optarg;
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return EXIT_USAGE;
        }
    }
    if (token) {
        if (!pfile || !req.action || !req.resource || optind != argc || cfile) {
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
        cmd_agent_args aa = {.data = data,
                             .policies = pfile,
                             .entities = efile,
                             .schema = sfile,
                             .token = token,
                             .principal = req.principal,
                             .action = req.action,
                             .resource = req.resource,
                             .context_json = req.context_json,
                             .parents = parents,
                             .n_parents = n_parents,
                             .approval_id = approval};
        return cmd_authorize_token(&aa);
    }
    if (!pfile || !req.principal || !req.action || !req.resource || optind != argc ||
        (cfile && req.context_json) || approval) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    int rc = EXIT_INPUT;
    char *ptext = NULL, *stext = NULL, *etext = NULL, *ctext = NULL, *json = NULL;
    mandate_policies *ps = NULL;
    mandate_schema *schema = NULL;
    mandate_entities *es = NULL;
    mandate_decision *dec = NULL;
    mandate_diag d;
    size_t len = 0;
    if (!(ptext = cmd_read_file(pfile, &len)))
        goto out;
    if (mandate_policies_parse(&ps, ptext, len, NULL, &d)) {
        cmd_print_diag(pfile, &d);
        goto out;
    }
    if (sfile) {
        if (!(stext = cmd_read_file(sfile, &len)))
            goto out;
        if (mandate_schema_parse(&schema, stext, len, &d)) {
            cmd_print_diag(sfile, &d);
            goto out;
        }
    }
    if (efile && !(etext = cmd_read_file(efile, &len)))
        goto out;
    if (mandate_entities_parse(&es, etext ? etext : "[]", etext ? len : 2, schema, &d)) {
        cmd_print_diag(efile ? efile : "entities", &d);
        goto out;
    }
    if (cfile) {
        if (!(ctext = cmd_read_file(cfile, &len)))
            goto out;
        req.context_json = ctext;
    }
    if (mandate_authorize(ps, es, schema, &req, &dec, &d)) {
        cmd_print_diag(NULL, &d);
        rc = d.code == MANDATE_ENOMEM || d.code == MANDATE_EINTERNAL ? EXIT_INTERNAL : EXIT_INPUT;
        goto out;
    }
    if (!(json = mandate_decision_to_json(dec))) {
        fprintf(stderr, "mandate: out of memory\n");
        rc = EXIT_INTERNAL;
        goto out;
    }
    puts(json);
    rc = mandate_decision_allowed(dec) ? EXIT_ALLOW : EXIT_DENY;
out:
    free(json);
    mandate_decision_free(dec);
    mandate_entities_free(es);
    mandate_schema_free(schema);
    mandate_policies_free(ps);
    free(ptext);
    free(stext);
    free(etext);
    free(ctext);
    return rc;
}
