/*
 * cmd.h: the mandate binary's subcommands. main.c dispatches from one table; each subcommand
 * lives in its own file cmd_<name>.c. Subcommands parse arguments, call libmandate and print.
 * Exit codes: 0 success (for authorize: allow), 1 deny, 2 usage error, 3 input error, 4 internal.
 */
#ifndef MANDATE_CMD_H
#define MANDATE_CMD_H

#include <stdint.h>
#include <stdio.h>

enum { EXIT_ALLOW = 0, EXIT_DENY = 1, EXIT_USAGE = 2, EXIT_INPUT = 3, EXIT_INTERNAL = 4 };

typedef struct cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cmd;

int cmd_authorize(int argc, char **argv);
int cmd_policy(int argc, char **argv);
/* `mandate policy validate`, dispatched by cmd_policy (cmd_policy_validate.c). */
int cmd_policy_validate(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_key(int argc, char **argv);
/* Accountability: the trace of an artifact or decision (cmd_trace.c); approve, reject and
 * list approvals (cmd_approve.c); record outcomes (cmd_outcome.c). */
int cmd_trace(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_approvals(int argc, char **argv);
int cmd_outcome(int argc, char **argv);

/* Governance (docs/governance.md): the access review (cmd_review.c) and the accountability
 * report (cmd_report.c), and what they share: a non-negative integer option, writing the output
 * to a file or standard output, and the exit code for a library error. */
int cmd_review(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_govern_number(const char *who, const char *opt, const char *v, int64_t *out);
int cmd_govern_output(const char *who, const char *path, const char *data, size_t len);
int cmd_govern_exit(int rc);
/* The options both take (--data, --since, --now, --format, --out, --help); any other option goes
 * to extra(ctx, option, value), which returns 1 when it took the value, 0 for a flag without
 * one, -1 for an unknown option, or an exit code after printing why. cmd_govern_parse returns 0,
 * -1 after --help (exit 0), or an exit code; --data and --since are required. */
typedef struct cmd_govern_args {
    const char *dir, *since, *now, *format, *out;
} cmd_govern_args;
typedef int (*cmd_govern_extra)(void *ctx, const char *option, const char *value);
int cmd_govern_parse(int argc, char **argv, const char *who, const char *usage_text,
                     cmd_govern_args *g, cmd_govern_extra extra, void *ctx);

/* The registry and delegations (cmd_registry.c, cmd_delegate.c). */
int cmd_human(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_workflow(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_delegate(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_freeze(int argc, char **argv);
int cmd_unfreeze(int argc, char **argv);
struct mandate_registry;
/* Opens the registry of a data directory, printing the error; returns an exit code. */
int cmd_registry_open(const char *dir, const char *who, struct mandate_registry **r);
/* "cli:$USER", the default --actor. */
const char *cmd_default_actor(void);
/* `mandate authorize --token`: the agent decision path. */
typedef struct cmd_agent_args {
    const char *data, *policies, *entities, *schema, *token, *principal, *action, *resource;
    const char *context_json;
    const char *const *parents;
    size_t n_parents;
    const char *approval_id; /* --approval: the retry of an approval_required request */
} cmd_agent_args;
int cmd_authorize_token(const cmd_agent_args *a);

#endif
