/*
 * test_review.c: the access review's finding kinds (docs/governance.md), each on a small ledger
 * built through the real registry API plus entries appended with chosen times: a case where the
 * rule fires and near misses where it must not (9 approvals of 10, exactly the share, a lifetime
 * exactly at the limit, a decision just inside the dormancy threshold, events outside the
 * window). Privilege slack is in test_review_slack.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/govern/review_world.h"

static const char policies[] =
    "@id(\"agents-read\")\n"
    "permit (principal is Agent, action == Action::\"read\", resource is Doc);\n"
    "@id(\"p-idle\")\n"
    "permit (principal is Human, action == Action::\"share\", resource is Doc);\n"
    "@id(\"p-used\")\n"
    "permit (principal is Human, action == Action::\"write\", resource);\n"
    "@id(\"p-reason\")\n"
    "permit (principal is Human, action == Action::\"delete\", resource);\n";

static uint64_t last(world *w)
{
    return mandate_ledger_size(w->l) - 1;
}

static void test_orphans(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_HUMAN, "bob", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_HUMAN, "carol", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_WORKFLOW, "wf-ok", "alice", NULL, NULL);
    world_add(&w, MANDATE_KIND_WORKFLOW, "wf-gone", "bob", NULL, NULL);
    uint64_t wf_gone = last(&w);
    world_add(&w, MANDATE_KIND_WORKFLOW, "wf-susp", "carol", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a-ok", "alice", "wf-ok", NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a-bob", "bob", NULL, NULL);
    uint64_t a_bob = last(&w);
    world_add(&w, MANDATE_KIND_AGENT, "a-carol", "carol", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a-retired", "bob", NULL, NULL);
    world_status(&w, "Human::\"bob\"", MANDATE_STATUS_DEPARTED);
    uint64_t bob_left = last(&w);
    world_status(&w, "Human::\"carol\"", MANDATE_STATUS_SUSPENDED);
    world_status(&w, "Agent::\"a-retired\"", MANDATE_STATUS_DEPARTED);
    world_now(&w);
    world_review(&w, 30 * DAY, NULL, false);

    json_t *f = world_find(&w, "orphan_agent", "Agent::\"a-bob\"");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "high");
    assert_string_equal(jstr(json_object_get(f, "data"), "owner_status"), "departed");
    assert_string_equal(jstr(json_object_get(f, "data"), "owner"), "Human::\"bob\"");
    char want[64];
    snprintf(want, sizeof want, "%llu,%llu", (unsigned long long)a_bob,
             (unsigned long long)bob_left);
    assert_string_equal(world_evidence(f), want);
    f = world_find(&w, "orphan_agent", "Agent::\"a-carol\"");
    assert_non_null(f);
    assert_string_equal(jstr(json_object_get(f, "data"), "owner_status"), "suspended");
    /* Near misses: an active owner; a retired agent whose owner departed. */
    assert_null(world_find(&w, "orphan_agent", "Agent::\"a-ok\""));
    assert_null(world_find(&w, "orphan_agent", "Agent::\"a-retired\""));
    assert_int_equal(world_count(&w, "orphan_agent"), 2);

    f = world_find(&w, "ownerless_workflow", "Workflow::\"wf-gone\"");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "high");
    snprintf(want, sizeof want, "%llu,%llu", (unsigned long long)wf_gone,
             (unsigned long long)bob_left);
    assert_string_equal(world_evidence(f), want);
    /* A suspended owner still owns the workflow (only departed or missing owners count). */
    assert_null(world_find(&w, "ownerless_workflow", "Workflow::\"wf-susp\""));
    assert_int_equal(world_count(&w, "ownerless_workflow"), 1);
    world_close(&w);
}

static void test_dormant(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    const char *agents[] = {"a-15", "a-13", "a-new", "a-win"};
    uint64_t added[4];
    for (int i = 0; i < 4; i++) {
        world_add(&w, MANDATE_KIND_AGENT, agents[i], "alice", NULL, NULL);
        added[i] = last(&w);
    }
    world_now(&w);
    const char *doc = "Doc::\"d1\"";
    world_decision(&w, w.now - 15 * DAY, "a-15", "read", doc, "allow", "none", NULL, NULL,
                   "agents-read");
    world_decision(&w, w.now - 13 * DAY - 23 * 3600000LL, "a-13", "read", doc, "deny", "policy",
                   NULL, NULL, NULL);
    world_decision(&w, w.now - DAY, "a-win", "read", doc, "allow", "none", NULL, NULL,
                   "agents-read");
    /* A 7-day window: a-13 decided before it but inside the 14 dormant days. */
    world_review(&w, 7 * DAY, NULL, false);
    json_t *f = world_find(&w, "dormant_agent", "Agent::\"a-15\"");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "low");
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)added[0]);
    assert_string_equal(world_evidence(f), want);
    assert_int_equal(jint(json_object_get(f, "data"), "last_decision_ms"), w.now - 15 * DAY);
    f = world_find(&w, "dormant_agent", "Agent::\"a-new\"");
    assert_non_null(f);
    assert_true(json_is_null(json_object_get(json_object_get(f, "data"), "last_decision_ms")));
    assert_null(world_find(&w, "dormant_agent", "Agent::\"a-13\""));
    assert_null(world_find(&w, "dormant_agent", "Agent::\"a-win\""));
    assert_int_equal(world_count(&w, "dormant_agent"), 2);
    /* The threshold moves the line. */
    md_review_thresholds th = world_th();
    th.dormant_days = 16;
    world_review(&w, 7 * DAY, &th, false);
    assert_null(world_find(&w, "dormant_agent", "Agent::\"a-15\""));
    assert_int_equal(jint(json_object_get(w.review, "thresholds"), "dormant_days"), 16);
    th.dormant_days = 13;
    world_review(&w, 7 * DAY, &th, false);
    assert_non_null(world_find(&w, "dormant_agent", "Agent::\"a-13\""));
    world_close(&w);
}

static void test_out_of_envelope(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a2", "alice", NULL, NULL);
    world_now(&w);
    const char *doc = "Doc::\"d1\"";
    uint64_t first = 0;
    for (int i = 0; i < 9; i++) {
        uint64_t k = world_decision(&w, w.now - DAY + i, "a1", "write", doc, "deny", "policy", NULL,
                                    "alice", NULL);
        if (!i)
            first = k;
    }
    for (int i = 0; i < 10; i++)
        world_decision(&w, w.now - DAY + i, "a1", "delete", doc, "deny", i < 4 ? "scope" : "policy",
                       NULL, "alice", NULL);
    /* Near misses: approval_required is not a denial; a plain authorize deny is not on the agent
     * path; a denial before the window. */
    for (int i = 0; i < 12; i++)
        world_decision(&w, w.now - DAY, "a2", "share", doc, "approval_required", "approval", NULL,
                       "alice", NULL);
    world_put(&w, MANDATE_ENTRY_DECISION, w.now - DAY,
              json_pack("{s:s,s:s,s:s,s:s,s:s,s:[]}", "api", "authorize", "principal",
                        "Agent::\"a2\"", "action", "Action::\"write\"", "resource", doc, "decision",
                        "deny", "reasons"));
    world_decision(&w, w.now - 31 * DAY, "a2", "write", doc, "deny", "policy", NULL, "alice", NULL);
    world_review(&w, 30 * DAY, NULL, false);

    json_t *f =
        world_find_nth(&w, "out_of_envelope", "Agent::\"a1\"", "action", "Action::\"write\"", 0);
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "medium");
    json_t *data = json_object_get(f, "data");
    assert_int_equal(jint(data, "denials"), 9);
    assert_int_equal(jint(f, "evidence_count"), 9);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(f, "evidence"), 0)), first);
    assert_int_equal(jint(json_object_get(data, "checks"), "policy"), 9);
    assert_int_equal(json_array_size(json_object_get(data, "reasons")), 1);
    f = world_find_nth(&w, "out_of_envelope", "Agent::\"a1\"", "action", "Action::\"delete\"", 0);
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "high");
    data = json_object_get(f, "data");
    assert_int_equal(jint(json_object_get(data, "checks"), "scope"), 4);
    assert_int_equal(jint(json_object_get(data, "checks"), "policy"), 6);
    assert_null(world_find(&w, "out_of_envelope", "Agent::\"a2\""));
    assert_int_equal(world_count(&w, "out_of_envelope"), 2);
    /* Ordering: high before medium. */
    json_t *fs = json_object_get(w.review, "findings");
    size_t hi = SIZE_MAX, med = SIZE_MAX;
    for (size_t i = 0; i < json_array_size(fs); i++) {
        const char *kind = jstr(json_array_get(fs, i), "kind");
        const char *sev = jstr(json_array_get(fs, i), "severity");
        if (!strcmp(kind, "out_of_envelope"))
            *(strcmp(sev, "high") ? &med : &hi) = i;
    }
    assert_true(hi < med);
    world_close(&w);
}

static void test_rubber_stamp(void **state)
{
    world w;
    world_open(&w, policies);
    const char *people[] = {"alice", "l1", "l2", "l3", "l4"};
    for (int i = 0; i < 5; i++)
        world_add(&w, MANDATE_KIND_HUMAN, people[i], NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", NULL, NULL);
    world_now(&w);
    int64_t t = w.now - 2 * DAY;
    /* l1 approves all 10, never fast: fires (approves everything). */
    for (int i = 0; i < 10; i++)
        world_approval(&w, t + i, "l1", "approved", 40000, 0, "a1");
    /* l2: 9 fast approvals, one short of the minimum: no finding. */
    for (int i = 0; i < 9; i++)
        world_approval(&w, t + i, "l2", "approved", 1000, 0, "a1");
    /* l3: exactly half fast and one rejection: no finding (more than half is needed). */
    for (int i = 0; i < 10; i++)
        world_approval(&w, t + i, "l3", i == 9 ? "rejected" : "approved", i < 5 ? 1000 : 40000, 0,
                       "a1");
    /* l4: 6 of 10 never viewed (null dwell) and one rejection: fires (fast). */
    for (int i = 0; i < 10; i++)
        world_approval(&w, t + i, "l4", i == 9 ? "rejected" : "approved", i < 6 ? -1 : 40000, 0,
                       "a1");
    /* Outside the window: does not count towards l2's minimum. */
    world_approval(&w, w.now - 40 * DAY, "l2", "approved", 1000, 0, "a1");
    world_review(&w, 30 * DAY, NULL, false);

    json_t *f = world_find(&w, "rubber_stamp", "Human::\"l1\"");
    assert_non_null(f);
    json_t *data = json_object_get(f, "data");
    assert_int_equal(jint(data, "decisions"), 10);
    assert_int_equal(jint(data, "approved"), 10);
    assert_int_equal(jint(data, "fast"), 0);
    assert_int_equal(jint(data, "median_dwell_ms"), 40000);
    assert_int_equal(jint(f, "evidence_count"), 10);
    f = world_find(&w, "rubber_stamp", "Human::\"l4\"");
    assert_non_null(f);
    data = json_object_get(f, "data");
    assert_int_equal(jint(data, "fast"), 6);
    assert_int_equal(jint(data, "approved"), 9);
    assert_int_equal(jint(data, "median_dwell_ms"), 40000); /* of the 4 viewed */
    assert_null(world_find(&w, "rubber_stamp", "Human::\"l2\""));
    assert_null(world_find(&w, "rubber_stamp", "Human::\"l3\""));
    assert_int_equal(world_count(&w, "rubber_stamp"), 2);
    /* The threshold: nine decisions are enough when the minimum is nine. */
    md_review_thresholds th = world_th();
    th.rubber_stamp_min_approvals = 9;
    world_review(&w, 30 * DAY, &th, false);
    assert_non_null(world_find(&w, "rubber_stamp", "Human::\"l2\""));
    world_close(&w);
}

static void test_separation(void **state)
{
    world w;
    world_open(&w, policies);
    const char *people[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++)
        world_add(&w, MANDATE_KIND_HUMAN, people[i], NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "bob", NULL, NULL);
    world_now(&w);
    int64_t t = w.now - DAY;
    const char *doc = "Doc::\"d1\"";
    uint64_t req[5];
    const char *delegators[] = {"alice", "alice", "alice", "alice", "bob"};
    for (int i = 0; i < 5; i++)
        req[i] = world_decision(&w, t + i, "a1", "share", doc, "approval_required", "approval",
                                "jti-1", delegators[i], NULL);
    uint64_t by_delegator = world_approval(&w, t + 10, "alice", "approved", 5000, req[0], "a1");
    uint64_t by_owner = world_approval(&w, t + 11, "bob", "approved", 5000, req[1], "a1");
    world_approval(&w, t + 12, "carol", "approved", 5000, req[2], "a1"); /* someone else */
    world_approval(&w, t + 13, "alice", "rejected", 5000, req[3], "a1"); /* not an approval */
    uint64_t both = world_approval(&w, t + 14, "bob", "approved", 5000, req[4], "a1");
    world_review(&w, 30 * DAY, NULL, false);

    json_t *f = world_find(&w, "separation_breach", "Human::\"alice\"");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "high");
    assert_string_equal(jstr(json_object_get(f, "data"), "role"), "delegator");
    char want[64];
    snprintf(want, sizeof want, "%llu,%llu", (unsigned long long)req[0],
             (unsigned long long)by_delegator);
    assert_string_equal(world_evidence(f), want);
    f = world_find_nth(&w, "separation_breach", "Human::\"bob\"", "role", "owner", 0);
    assert_non_null(f);
    snprintf(want, sizeof want, "%llu,%llu", (unsigned long long)req[1],
             (unsigned long long)by_owner);
    assert_string_equal(world_evidence(f), want);
    f = world_find_nth(&w, "separation_breach", "Human::\"bob\"", "role", "delegator,owner", 0);
    assert_non_null(f);
    snprintf(want, sizeof want, "%llu,%llu", (unsigned long long)req[4], (unsigned long long)both);
    assert_string_equal(world_evidence(f), want);
    assert_null(world_find(&w, "separation_breach", "Human::\"carol\""));
    assert_int_equal(world_count(&w, "separation_breach"), 3);
    world_close(&w);
}

static void test_delegations(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", NULL, NULL);
    world_now(&w);
    int64_t t = w.now - 2 * DAY;
    const char *doc = "Doc::\"d1\"";
    uint64_t long_one = world_delegation(&w, t, "d-long", NULL, "alice", "a1", 28801);
    world_delegation(&w, t, "d-edge", NULL, "alice", "a1", 28800);
    world_delegation(&w, w.now - 40 * DAY, "d-old", NULL, "alice", "a1", 90000);
    uint64_t unused = world_delegation(&w, t, "d-unused", NULL, "alice", "a1", 600);
    world_delegation(&w, t, "d-used", NULL, "alice", "a1", 600);
    world_delegation(&w, w.now - 100000, "d-live", NULL, "alice", "a1", 600);
    world_delegation(&w, t, "d-parent", NULL, "alice", "a1", 600);
    world_delegation(&w, t + 1, "d-child", "d-parent", "alice", "a1", 600);
    const char *named[] = {"d-long", "d-edge", "d-used", "d-child"};
    for (int i = 0; i < 4; i++)
        world_decision(&w, t + 1000 + i, "a1", "read", doc, "allow", "none", named[i], "alice",
                       "agents-read");
    world_review(&w, 30 * DAY, NULL, false);

    json_t *f = world_find(&w, "long_delegation", "d-long");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "low");
    assert_int_equal(jint(json_object_get(f, "data"), "lifetime_s"), 28801);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)long_one);
    assert_string_equal(world_evidence(f), want);
    assert_null(world_find(&w, "long_delegation", "d-edge")); /* exactly at the limit */
    assert_null(world_find(&w, "long_delegation", "d-old"));  /* issued before the window */
    assert_int_equal(world_count(&w, "long_delegation"), 1);

    f = world_find(&w, "unused_delegation", "d-unused");
    assert_non_null(f);
    snprintf(want, sizeof want, "%llu", (unsigned long long)unused);
    assert_string_equal(world_evidence(f), want);
    assert_string_equal(jstr(json_object_get(f, "data"), "subject"), "Agent::\"a1\"");
    assert_null(world_find(&w, "unused_delegation", "d-used"));
    assert_null(world_find(&w, "unused_delegation", "d-live"));   /* not expired yet */
    assert_null(world_find(&w, "unused_delegation", "d-parent")); /* used through its child */
    assert_null(world_find(&w, "unused_delegation", "d-child"));
    assert_int_equal(world_count(&w, "unused_delegation"), 1);
    /* A shorter limit catches d-edge as well. */
    md_review_thresholds th = world_th();
    th.long_delegation_s = 28799;
    world_review(&w, 30 * DAY, &th, false);
    assert_non_null(world_find(&w, "long_delegation", "d-edge"));
    world_close(&w);
}

static void test_idle_policy(void **state)
{
    world w;
    world_open(&w, policies);
    uint64_t activated = last(&w); /* the policy entry of set_policies */
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", NULL, NULL);
    world_now(&w);
    const char *doc = "Doc::\"d1\"";
    world_decision(&w, w.now - DAY, "a1", "write", doc, "allow", "none", NULL, "alice", "p-used");
    world_put(&w, MANDATE_ENTRY_DECISION, w.now - DAY,
              json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s]}", "api", "authorize", "principal",
                        "Human::\"alice\"", "action", "Action::\"delete\"", "resource", doc,
                        "decision", "allow", "reasons", "p-reason"));
    /* Before the window: p-idle decided something, but not in it. */
    world_decision(&w, w.now - 31 * DAY, "a1", "share", doc, "allow", "none", NULL, "alice",
                   "p-idle");
    world_review(&w, 30 * DAY, NULL, false);
    json_t *f = world_find(&w, "idle_policy", "p-idle");
    assert_non_null(f);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)activated);
    assert_string_equal(world_evidence(f), want);
    assert_string_equal(jstr(json_object_get(f, "data"), "effect"), "permit");
    assert_non_null(world_find(&w, "idle_policy", "agents-read"));
    assert_null(world_find(&w, "idle_policy", "p-used"));
    assert_null(world_find(&w, "idle_policy", "p-reason"));
    assert_int_equal(world_count(&w, "idle_policy"), 2);
    world_close(&w);
}

/* n allowed agent decisions of a workflow with customer impact at t; covered: with an
 * accountable human and a verified approval, else in mode auto with nobody accountable. */
static void impactful(world *w, int64_t t, int n, bool covered)
{
    for (int i = 0; i < n; i++) {
        json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s}", "kind", "agent", "principal",
                              "Agent::\"a1\"", "action", "Action::\"read\"", "resource",
                              "Doc::\"d\"", "decision", "allow", "workflow", "Workflow::\"wf\"",
                              "impact", "customer", "mode", covered ? "verified" : "auto");
        json_object_set_new(b, "accountable",
                            covered ? json_string("Human::\"alice\"") : json_null());
        world_put(w, MANDATE_ENTRY_DECISION, t + i, b);
    }
}

/* Theatre comes from the report's rule (docs/report.md): adoption up at least 20% between the
 * halves of the window while coverage falls at least 0.1, overall ("*") and per workflow. */
static void test_theatre(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_WORKFLOW, "wf", "alice", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", "wf", NULL);
    world_now(&w);
    impactful(&w, w.now - 20 * DAY, 20, true);
    impactful(&w, w.now - 5 * DAY, 40, false);
    world_review(&w, 28 * DAY, NULL, true);
    json_t *f = world_find(&w, "theatre", "*");
    assert_non_null(f);
    assert_string_equal(jstr(f, "severity"), "high");
    json_t *data = json_object_get(f, "data");
    assert_true(json_number_value(json_object_get(data, "adoption_change")) == 1.0);
    assert_true(json_number_value(json_object_get(data, "coverage_change")) <= -0.1);
    assert_string_equal(jstr(data, "report_path"), "theatre");
    f = world_find(&w, "theatre", "Workflow::\"wf\"");
    assert_non_null(f);
    assert_string_equal(jstr(json_object_get(f, "data"), "report_path"), "workflows.0.theatre");
    assert_int_equal(world_count(&w, "theatre"), 2);
    /* Without the theatre pass there are no theatre findings. */
    world_review(&w, 28 * DAY, NULL, false);
    assert_int_equal(world_count(&w, "theatre"), 0);
    world_close(&w);

    /* Near miss: the same growth with coverage kept. */
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_WORKFLOW, "wf", "alice", NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", "wf", NULL);
    world_now(&w);
    impactful(&w, w.now - 20 * DAY, 20, true);
    impactful(&w, w.now - 5 * DAY, 40, true);
    world_review(&w, 28 * DAY, NULL, true);
    assert_int_equal(world_count(&w, "theatre"), 0);
    world_close(&w);
}

/* The JSON shape of the contract: keys, order of findings, summary and evidence caps. */
static void test_shape(void **state)
{
    world w;
    world_open(&w, policies);
    world_add(&w, MANDATE_KIND_HUMAN, "alice", NULL, NULL, NULL);
    world_add(&w, MANDATE_KIND_AGENT, "a1", "alice", NULL, NULL);
    world_now(&w);
    for (int i = 0; i < 25; i++)
        world_decision(&w, w.now - DAY + i, "a1", "write", "Doc::\"d\"", "deny", "policy", NULL,
                       "alice", NULL);
    json_t *j = world_review(&w, 30 * DAY, NULL, false);
    assert_int_equal(jint(j, "version"), 1);
    assert_int_equal(jint(j, "until_ms"), w.now);
    assert_int_equal(jint(j, "since_ms"), w.now - 30 * DAY);
    json_t *ledger = json_object_get(j, "ledger");
    assert_int_equal(jint(ledger, "size"), mandate_ledger_size(w.l));
    assert_int_equal(jint(ledger, "scanned"), mandate_ledger_size(w.l));
    json_t *th = json_object_get(j, "thresholds");
    assert_int_equal(jint(th, "rubber_stamp_dwell_ms"), 30000);
    assert_int_equal(jint(th, "long_delegation_s"), 28800);
    assert_true(json_number_value(json_object_get(th, "rubber_stamp_share")) == 0.5);
    json_t *f = world_find(&w, "out_of_envelope", "Agent::\"a1\"");
    assert_int_equal(json_array_size(json_object_get(f, "evidence")), 20);
    assert_int_equal(jint(f, "evidence_count"), 25);
    json_t *fs = json_object_get(j, "findings"), *sum = json_object_get(j, "summary");
    assert_int_equal(jint(sum, "total"), json_array_size(fs));
    static const char *const rank[] = {"high", "medium", "low"};
    int prev = 0;
    size_t counted[3] = {0, 0, 0};
    for (size_t i = 0; i < json_array_size(fs); i++) {
        json_t *x = json_array_get(fs, i);
        int r = 0;
        while (r < 3 && strcmp(rank[r], jstr(x, "severity")))
            r++;
        assert_true(r < 3 && r >= prev);
        prev = r;
        counted[r]++;
        static const char *const keys[] = {"kind",     "severity",       "subject", "title",
                                           "evidence", "evidence_count", "fix",     "data"};
        for (size_t k = 0; k < MD_ARRAY_LEN(keys); k++)
            assert_non_null(json_object_get(x, keys[k]));
        assert_true(strlen(jstr(x, "title")) > 0 && strlen(jstr(x, "fix")) > 0);
    }
    for (int r = 0; r < 3; r++)
        assert_int_equal(jint(sum, rank[r]), counted[r]);
    /* The text form names every finding. */
    char *text = json_dumps(j, JSON_COMPACT);
    md_buf out;
    md_buf_init(&out, 1 << 20);
    assert_int_equal(md_review_text(text, strlen(text), &out, NULL), 0);
    assert_non_null(strstr(out.data, "out_of_envelope  Agent::\"a1\""));
    assert_non_null(strstr(out.data, "evidence (25):"));
    md_buf_release(&out);
    free(text);
    world_close(&w);
}

/* Nothing registered, no activity, no policy: no finding at all. */
static void test_empty(void **state)
{
    world w;
    world_open(&w, "");
    world_now(&w);
    json_t *j = world_review(&w, 30 * DAY, NULL, true);
    assert_int_equal(json_array_size(json_object_get(j, "findings")), 0);
    assert_int_equal(jint(json_object_get(j, "summary"), "total"), 0);
    world_close(&w);
}

static void test_window(void **state)
{
    int64_t s, u;
    md_diag d = {0};
    assert_int_equal(md_govern_window("30d", "1000000000000", &s, &u, &d), 0);
    assert_int_equal(u, 1000000000000LL);
    assert_int_equal(s, 1000000000000LL - 30 * DAY);
    assert_int_equal(md_govern_window("12h", "1000000000000", &s, &u, &d), 0);
    assert_int_equal(s, 1000000000000LL - 12 * 3600000LL);
    assert_int_equal(md_govern_window("999999999999", "1000000000000", &s, &u, &d), 0);
    assert_int_equal(s, 999999999999LL);
    const char *bad[] = {"", "0d", "30m", "d", "-3d", "30d ", "1000000000000", "99999999d"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_diag e = {0};
        if (md_govern_window(bad[i], "1000000000000", &s, &u, &e) != MANDATE_EINVAL)
            fail_msg("window '%s' accepted", bad[i]);
    }
    assert_int_equal(md_govern_window("1d", "12x", &s, &u, &d), MANDATE_EINVAL);
    assert_int_equal(md_govern_window("1d", NULL, &s, &u, &d), 0);
    assert_true(u - s == DAY && u > 1700000000000LL);
    md_review_thresholds th = world_th();
    assert_int_equal(md_review_thresholds_check(&th, &d), 0);
    th.rubber_stamp_share = 1.0;
    assert_int_equal(md_review_thresholds_check(&th, &d), MANDATE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orphans),         cmocka_unit_test(test_dormant),
        cmocka_unit_test(test_out_of_envelope), cmocka_unit_test(test_rubber_stamp),
        cmocka_unit_test(test_separation),      cmocka_unit_test(test_delegations),
        cmocka_unit_test(test_idle_policy),     cmocka_unit_test(test_theatre),
        cmocka_unit_test(test_shape),           cmocka_unit_test(test_empty),
        cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
