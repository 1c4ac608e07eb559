/*
 * test_property.c: no path allows an impactful action without a named accountable human.
 *
 * Random requests (principals, actions, resources, delegators, contexts, approval ids valid,
 * stale, foreign or made up, approvals by random people in random modes) against the default
 * pack through the harness's decision path. For every allow: the accountable human is a named
 * Human; an impactful action (anything but summarize) never runs in mode auto; an allow with an
 * approval names its approver as accountable, in the mode the approval stated. MANDATE_PROP_N
 * sets the number of requests (default 1500); MANDATE_PROP_SEED the seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "scenarios/harness.c"

static const char *const principals[] = {"Agent::\"support-drafter\"",
                                         "Agent::\"lead-bot\"",
                                         "Agent::\"coder\"",
                                         "Agent::\"hr-bot\"",
                                         "Agent::\"summarizer\"",
                                         "Human::\"alice\"",
                                         "Human::\"bob\"",
                                         "Service::\"cron\"",
                                         "Agent::\"ghost\""};
static const char *const actions[] = {"Action::\"draft_reply\"", "Action::\"send_reply\"",
                                      "Action::\"push\"", "Action::\"update_employee_record\"",
                                      "Action::\"summarize\""};
static const char *const resources[] = {"Ticket::\"T-1\"",         "Ticket::\"T-2\"",
                                        "Branch::\"main\"",        "Branch::\"feature-x\"",
                                        "EmployeeRecord::\"E-7\"", "Document::\"D-1\""};
static const char *const delegators[] = {NULL,
                                         "Human::\"alice\"",
                                         "Human::\"bob\"",
                                         "Human::\"hank\"",
                                         "Human::\"carol\"",
                                         "Human::\"olga\"",
                                         "Human::\"dora\""};
static const char *const people[] = {"Human::\"alice\"", "Human::\"lena\"",     "Human::\"bob\"",
                                     "Human::\"carol\"", "Human::\"hank\"",     "Human::\"hilda\"",
                                     "Human::\"sam\"",   "Agent::\"lead-bot\"", "Agent::\"coder\""};
static const char *const modes[] = {"verified", "decided", "auto", NULL};
static const char *const contexts[] = {NULL, "{\"reply\":\"a\"}", "{\"reply\":\"b\"}",
                                       "{\"commit\":\"c1\"}", "{\"change\":\"x\",\"reply\":\"a\"}"};

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}
#define PICK(arr) arr[rnd(MD_ARRAY_LEN(arr))]

/* Plausible requests, so that approvals are asked for and given often enough. */
static const hz_req plausible[] = {
    {"Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-1\"", NULL,
     "Human::\"alice\"", NULL, 0},
    {"Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-2\"", NULL,
     "Human::\"alice\"", NULL, 0},
    {"Agent::\"coder\"", "Action::\"push\"", "Branch::\"main\"", NULL, "Human::\"bob\"", NULL, 0},
    {"Agent::\"coder\"", "Action::\"push\"", "Branch::\"main\"", NULL, "Human::\"carol\"", NULL, 0},
    {"Agent::\"hr-bot\"", "Action::\"update_employee_record\"", "EmployeeRecord::\"E-7\"", NULL,
     "Human::\"hank\"", NULL, 0},
    {"Agent::\"support-drafter\"", "Action::\"draft_reply\"", "Ticket::\"T-1\"", NULL,
     "Human::\"alice\"", NULL, 0},
};

typedef struct pending {
    char id[64];
    hz_req req;
    char approver[64], mode[16];
} pending;

static void property(void **state)
{
    (void)state;
    hz h;
    assert_int_equal(hz_open(&h, NULL), 0);
    const char *ns = getenv("MANDATE_PROP_N"), *ss = getenv("MANDATE_PROP_SEED");
    long n = ns ? strtol(ns, NULL, 10) : 1500;
    rng = ss ? strtoull(ss, NULL, 10) : 0x9e3779b97f4a7c15ull;
    pending pool[16];
    size_t np = 0;
    size_t allows = 0, approved_allows = 0, impactful_allows = 0, approval_required = 0;
    int64_t now = 1700000000000LL;
    for (long i = 0; i < n; i++) {
        now += rnd(3000);
        uint32_t what = rnd(10);
        if (what < 3 && np) {
            /* someone decides on a pending approval */
            pending *p = &pool[rnd((uint32_t)np)];
            static const char *const leads[] = {"Human::\"lena\"", "Human::\"carol\"",
                                                "Human::\"hilda\""};
            const char *who = rnd(2) ? PICK(people) : PICK(leads),
                       *mode = rnd(4) ? PICK(modes) : "decided";
            mandate_diag d = {0};
            int rc = rnd(5) ? hz_approve(&h, p->id, who, mode, now, &d)
                            : hz_reject(&h, p->id, who, "no", now, &d);
            if (rc == 0 && mode) {
                snprintf(p->approver, sizeof p->approver, "%s", who);
                snprintf(p->mode, sizeof p->mode, "%s", mode);
            }
            continue;
        }
        hz_req q = {PICK(principals),
                    PICK(actions),
                    PICK(resources),
                    PICK(contexts),
                    PICK(delegators),
                    NULL,
                    now};
        if (rnd(2)) {
            q = PICK(plausible);
            q.context = PICK(contexts);
            q.now_ms = now;
            if (!rnd(8))
                q.delegator = PICK(delegators);
        }
        pending *used = NULL;
        if (what < 6 && np) {
            used = &pool[rnd((uint32_t)np)];
            if (rnd(3)) { /* the same request, or one field changed */
                const char *id = used->id;
                q = used->req;
                q.approval_id = id;
                q.now_ms = now;
                if (!rnd(4))
                    q.context = PICK(contexts);
            } else {
                q.approval_id = rnd(2) ? used->id : "apr_00000000000000000000000000000000";
            }
        }
        hz_result r;
        assert_int_equal(hz_decide(&h, &q, &r), 0);
        if (r.outcome == MD_ACCOUNT_APPROVAL_REQUIRED) {
            approval_required++;
            pending *p = np < MD_ARRAY_LEN(pool) ? &pool[np++] : &pool[rnd((uint32_t)np)];
            memset(p, 0, sizeof *p);
            snprintf(p->id, sizeof p->id, "%s", r.approval_id);
            p->req = q;
            continue;
        }
        if (r.outcome != MD_ACCOUNT_ALLOW)
            continue;
        allows++;
        bool impactful = strcmp(q.action, "Action::\"summarize\"") != 0;
        /* a named accountable human, always */
        if (strncmp(r.accountable, "Human::\"", 8) != 0)
            fail_msg("allow without an accountable human: %s %s %s", q.principal, q.action,
                     q.resource);
        if (impactful) {
            impactful_allows++;
            if (strcmp(r.mode, "auto") == 0)
                fail_msg("impactful action in mode auto: %s %s %s", q.principal, q.action,
                         q.resource);
        }
        if (q.approval_id && used && strcmp(q.approval_id, used->id) == 0 && used->approver[0] &&
            strcmp(r.mode, used->mode) == 0 && strcmp(r.accountable, used->approver) == 0)
            approved_allows++;
        /* an approval never names an agent */
        assert_null(strstr(r.accountable, "Agent::"));
    }
    fprintf(stderr,
            "property: %ld requests, %zu allowed (%zu impactful, %zu through an approval), "
            "%zu approval_required\n",
            n, allows, impactful_allows, approved_allows, approval_required);
    assert_true(allows > 0);
    assert_true(impactful_allows > 0);
    if (n >= 1000)
        assert_true(approved_allows > 0);
    hz_close(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(property)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
