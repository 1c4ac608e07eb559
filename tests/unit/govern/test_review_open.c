/*
 * test_review_open.c: opening a data directory for the review without the ledger's writer lock
 * (md_govern_open, mandate_registry_opts.read_only): it works while another process holds the
 * lock (as `mandate serve` does), sees that process's changes, refuses every change itself,
 * makes no delegation key, logs no policy entry; and the review runs over it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "scratch.h"
#include "unit/govern/review_world.h"

static const char policies[] = "@id(\"p\")\npermit (principal is Agent, action, resource);\n";

/* A child process opens the registry for writing (taking the ledger lock), registers an agent
 * whose owner departs, reports through the pipe and waits until told to exit. */
static pid_t writer_child(const char *dir, int *to_child, int *from_child)
{
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        mandate_registry *r = NULL;
        mandate_registry_opts o = {.data_dir = dir};
        mandate_diag d;
        char ok = mandate_registry_open(&r, &o, &d) == 0 ? 'y' : 'n';
        mandate_principal h = {.kind = MANDATE_KIND_HUMAN, .id = "olga"};
        mandate_principal a = {.kind = MANDATE_KIND_AGENT, .id = "bot", .owner = "olga"};
        if (ok == 'y' &&
            (mandate_registry_add(r, &h, "t", &d) || mandate_registry_add(r, &a, "t", &d) ||
             mandate_registry_set_status(r, "Human::\"olga\"", MANDATE_STATUS_DEPARTED, "t", &d)))
            ok = 'n';
        if (write(up[1], &ok, 1) != 1)
            _exit(2);
        char c;
        if (read(down[0], &c, 1) < 0)
            _exit(2);
        mandate_registry_close(r);
        _exit(ok == 'y' ? 0 : 1);
    }
    close(up[1]);
    close(down[0]);
    *to_child = down[1];
    *from_child = up[0];
    return pid;
}

static void test_open_while_locked(void **state)
{
    char tmp[64], dir[96], path[160];
    snprintf(tmp, sizeof tmp, "/tmp/mandate-ro-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, sizeof dir, "%s/d", tmp);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(dir, "ro.test/log", &d), 0);
    snprintf(path, sizeof path, "%s/policies.cedar", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(policies, f);
    fclose(f);

    /* Read-only before any writer: no delegation key is made. */
    mandate_registry *r = NULL;
    md_diag md = {0};
    md_govern_paths paths = {.dir = dir};
    assert_int_equal(md_govern_open(&paths, &r, &md), 0);
    snprintf(path, sizeof path, "%s/delegation.key", dir);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    mandate_registry_close(r);

    int to_child, from_child;
    pid_t pid = writer_child(dir, &to_child, &from_child);
    char ok = 0;
    assert_int_equal(read(from_child, &ok, 1), 1);
    assert_int_equal(ok, 'y');

    /* A second writer is refused; the read-only open works and sees the child's changes. */
    mandate_registry_opts wo = {.data_dir = dir};
    assert_int_equal(mandate_registry_open(&r, &wo, &d), MANDATE_EDENIED);
    assert_int_equal(md_govern_open(&paths, &r, &md), 0);
    mandate_ledger *l = mandate_registry_ledger(r);
    uint64_t size = mandate_ledger_size(l);
    assert_true(size >= 3);

    /* Every change is refused and nothing is written. */
    mandate_principal h = {.kind = MANDATE_KIND_HUMAN, .id = "x"};
    assert_int_equal(mandate_registry_add(r, &h, "t", &d), MANDATE_EDENIED);
    assert_int_equal(
        mandate_registry_set_status(r, "Agent::\"bot\"", MANDATE_STATUS_SUSPENDED, "t", &d),
        MANDATE_EDENIED);
    assert_int_equal(mandate_registry_freeze(r, true, "t", &d), MANDATE_EDENIED);
    assert_int_equal(mandate_registry_revoke(r, "some-jti", "t", NULL, &d), MANDATE_EDENIED);
    mandate_delegation dl = {.delegator = "Human::\"olga\"", .subject = "Agent::\"bot\""};
    char *token = NULL;
    assert_int_equal(mandate_registry_delegate(r, &dl, "t", &token, NULL, &d), MANDATE_EDENIED);
    mandate_approval_input ai = {.id = "apr_x", .approver = "Human::\"olga\"", .approve = true};
    assert_int_equal(mandate_registry_approve(r, &ai, NULL, &d), MANDATE_EDENIED);
    assert_int_equal(mandate_registry_set_policies(r, policies, strlen(policies), &d), 0);
    assert_false(mandate_registry_frozen(r));
    assert_int_equal(mandate_ledger_size(l), size); /* no policy entry logged */

    /* The review runs and finds the orphan the writer made. */
    md_review_opts o = {.ledger = l, .registry = r, .no_theatre = true};
    md_review_thresholds_default(&o.th);
    o.until_ms = md_govern_now_ms() + DAY;
    o.since_ms = o.until_ms - 30 * DAY;
    char *json = NULL;
    assert_int_equal(md_review_build(&o, &json, &md), 0);
    assert_non_null(strstr(json, "\"kind\":\"orphan_agent\",\"severity\":\"high\","
                                 "\"subject\":\"Agent::\\\"bot\\\"\""));
    free(json);
    mandate_registry_close(r);

    /* The report's reader too. */
    mandate_ledger *rl = NULL;
    assert_int_equal(md_govern_open_ledger(dir, &rl, &md), 0);
    assert_int_equal(mandate_ledger_size(rl), size);
    mandate_ledger_close(rl);

    assert_int_equal(write(to_child, "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_child);
    close(from_child);
    assert_int_equal(scratch_remove(tmp), 0);
}

static void test_open_errors(void **state)
{
    mandate_registry *r = NULL;
    md_diag d = {0};
    md_govern_paths none = {.dir = "/nonexistent/mandate-data"};
    assert_int_not_equal(md_govern_open(&none, &r, &d), 0);
    assert_null(r);
    md_diag e = {0};
    mandate_ledger *l = NULL;
    assert_int_equal(md_govern_open_ledger("/nonexistent/mandate-data", &l, &e), MANDATE_ENOTFOUND);
    assert_null(l);
    md_govern_paths empty = {0};
    assert_int_equal(md_govern_open(&empty, &r, &d), MANDATE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_while_locked),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
