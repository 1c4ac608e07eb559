/*
 * stories.c: the accountability scenarios of issue 6, end to end through the library (the
 * harness of harness.h: the registry's agent path for agents on a delegation). Every story
 * ends with an allowed action, its outcome and a trace that names the accountable human and
 * the mode and whose inclusion proofs verify against the latest checkpoint. Included by
 * tests/unit/account/test_scenarios.c.
 */
#include <jansson.h>

#include "scenarios/harness.h"

#define T0 1700000000000LL
#define SEC 1000LL

static const char *const SHA_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static hz H;

static int setup(void **state)
{
    (void)state;
    return hz_open(&H, NULL);
}

static int teardown(void **state)
{
    (void)state;
    hz_close(&H);
    return 0;
}

static hz_result decide(const char *p, const char *a, const char *r, const char *ctx,
                        const char *delegator, const char *approval, int64_t now)
{
    hz_req q = {p, a, r, ctx, delegator, approval, now};
    hz_result res;
    assert_int_equal(hz_decide(&H, &q, &res), 0);
    return res;
}

static const char *jpath(json_t *j, const char *a, const char *b)
{
    json_t *x = json_object_get(json_object_get(j, a), b);
    return json_is_string(x) ? json_string_value(x) : NULL;
}

/* Records an outcome of decision idx and checks its trace: accountable human, mode, proofs. */
static void outcome_and_trace(uint64_t idx, const char *kind, const char *sha, const char *uri,
                              const char *disposition, const char *who, const char *mode)
{
    mandate_outcome o = {.decision = idx,
                         .kind = kind,
                         .sha256 = sha,
                         .uri = uri,
                         .disposition = disposition,
                         .recorded_by = "test"};
    mandate_diag d = {0};
    uint64_t oi = 0;
    assert_int_equal(mandate_outcome_record(H.acc, &o, &oi, &d), 0);
    char *t = NULL;
    int rc = mandate_trace(H.acc, uri ? uri : sha, &t, &d);
    if (rc)
        fprintf(stderr, "trace: %s\n", d.message);
    assert_int_equal(rc, 0);
    json_t *j = json_loads(t, 0, NULL);
    assert_non_null(j);
    assert_string_equal(jpath(j, "accountable", "uid"), who);
    assert_string_equal(jpath(j, "accountable", "mode"), mode);
    assert_string_equal(jpath(j, "artifact", "sha256"), sha);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "decision"), "index")),
                     (json_int_t)idx);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "artifact"), "index")),
                     (json_int_t)oi);
    if (!json_is_true(json_object_get(j, "complete")))
        fprintf(stderr, "incomplete trace: %s\n", t);
    assert_true(json_is_true(json_object_get(j, "complete")));
    assert_true(json_array_size(json_object_get(j, "policies")) >= 1);
    size_t n = 0;
    rc = mandate_trace_verify(t, strlen(t), mandate_ledger_verifier_key(H.ledger), &n, &d);
    if (rc)
        fprintf(stderr, "verify: %s\n", d.message);
    assert_int_equal(rc, 0);
    assert_true(n >= 5);
    /* the same chain by decision id */
    char q[32];
    char *t2 = NULL;
    snprintf(q, sizeof q, "%llu", (unsigned long long)idx);
    assert_int_equal(mandate_trace(H.acc, q, &t2, &d), 0);
    json_t *j2 = json_loads(t2, 0, NULL);
    assert_string_equal(jpath(j2, "accountable", "uid"), who);
    json_decref(j2);
    free(t2);
    json_decref(j);
    free(t);
}

static void approve_ok(const char *id, const char *who, const char *mode, int64_t now)
{
    mandate_diag d = {0};
    int rc = hz_approve(&H, id, who, mode, now, &d);
    if (rc)
        fprintf(stderr, "approve: %s\n", d.message);
    assert_int_equal(rc, 0);
}

static void approve_refused(const char *id, const char *who, const char *mode, int64_t now,
                            const char *needle)
{
    mandate_diag d = {0};
    int rc = hz_approve(&H, id, who, mode, now, &d);
    assert_true(rc == MANDATE_EDENIED || rc == MANDATE_EINVAL);
    if (!strstr(d.message, needle))
        fprintf(stderr, "expected '%s' in: %s\n", needle, d.message);
    assert_non_null(strstr(d.message, needle));
}

/* 1. A support agent drafts a reply for alice: allowed, delegated. */
static void story_draft_delegated(void **state)
{
    (void)state;
    hz_result r = decide("Agent::\"support-drafter\"", "Action::\"draft_reply\"", "Ticket::\"T-1\"",
                         "{\"reply\":\"Hello\"}", "Human::\"alice\"", NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_ALLOW);
    assert_string_equal(r.mode, "delegated");
    assert_string_equal(r.accountable, "Human::\"alice\"");
    outcome_and_trace(r.index, "customer_response",
                      "1111111111111111111111111111111111111111111111111111111111111111",
                      "draft://T-1/1", "edited", "Human::\"alice\"", "delegated");
}

/* 2. Sending needs a verified approval by a lead; the lead views, verifies; the retry with the
 * same request (keys reordered, other whitespace) goes through once; outcome; trace. */
static void story_send_verified(void **state)
{
    (void)state;
    hz_result r = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-1\"",
                         "{\"reply\":\"Hello\",\"commit\":\"x\"}", "Human::\"alice\"", NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_APPROVAL_REQUIRED);
    assert_true(strncmp(r.approval_id, "apr_", 4) == 0);
    char *view = NULL;
    mandate_diag d = {0};
    assert_int_equal(
        mandate_approval_view(H.acc, r.approval_id, "Human::\"lena\"", T0 + SEC, &view, &d), 0);
    assert_non_null(strstr(view, "\"reply\":\"Hello\""));
    free(view);
    approve_ok(r.approval_id, "Human::\"lena\"", "verified", T0 + 43 * SEC);
    hz_result ok = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-1\"",
                          "{ \"commit\" : \"x\",\n \"reply\":\"Hello\" }", "Human::\"alice\"",
                          r.approval_id, T0 + 50 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    assert_string_equal(ok.mode, "verified");
    assert_string_equal(ok.accountable, "Human::\"lena\"");
    outcome_and_trace(ok.index, "customer_response", SHA_A, "mail://acme/T-1/1", "accepted",
                      "Human::\"lena\"", "verified");
    char *t = NULL;
    assert_int_equal(mandate_trace(H.acc, SHA_A, &t, &d), 0);
    json_t *j = json_loads(t, 0, NULL);
    json_t *ap = json_object_get(j, "approval");
    assert_string_equal(json_string_value(json_object_get(ap, "approver")), "Human::\"lena\"");
    assert_string_equal(json_string_value(json_object_get(ap, "mode")), "verified");
    assert_int_equal(json_integer_value(json_object_get(ap, "dwell_ms")), 42 * SEC);
    assert_true(json_array_size(json_object_get(ap, "events")) >= 2); /* viewed, approved */
    assert_int_equal(json_array_size(json_object_get(j, "delegation_chain")), 1);
    json_decref(j);
    /* a tampered trace does not verify */
    char *p = strstr(t, "Human::\\\"lena\\\"");
    assert_non_null(p);
    p[9] = 'm';
    assert_int_equal(
        mandate_trace_verify(t, strlen(t), mandate_ledger_verifier_key(H.ledger), NULL, &d),
        MANDATE_ECRYPTO);
    free(t);
}

/* 3. The retry with a modified reply is refused; the exact one still goes through. */
static void story_modified_retry(void **state)
{
    (void)state;
    hz_result r = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-2\"",
                         "{\"reply\":\"Your refund is approved\"}", "Human::\"alice\"", NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_APPROVAL_REQUIRED);
    approve_ok(r.approval_id, "Human::\"lena\"", "verified", T0 + SEC);
    hz_result bad = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"",
                           "Ticket::\"T-2\"", "{\"reply\":\"Your refund of $5000 is approved\"}",
                           "Human::\"alice\"", r.approval_id, T0 + 2 * SEC);
    assert_int_equal(bad.outcome, MD_ACCOUNT_DENY);
    assert_non_null(strstr(bad.reason, "different request"));
    /* another resource with the same approval: refused too */
    bad = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-1\"",
                 "{\"reply\":\"Your refund is approved\"}", "Human::\"alice\"", r.approval_id,
                 T0 + 2 * SEC);
    assert_int_equal(bad.outcome, MD_ACCOUNT_DENY);
    hz_result ok = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-2\"",
                          "{\"reply\":\"Your refund is approved\"}", "Human::\"alice\"",
                          r.approval_id, T0 + 3 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "customer_response",
                      "2222222222222222222222222222222222222222222222222222222222222222", NULL,
                      "accepted", "Human::\"lena\"", "verified");
}

static hz_result send_request(const char *reply, int64_t now)
{
    char ctx[256];
    snprintf(ctx, sizeof ctx, "{\"reply\":\"%s\"}", reply);
    hz_result r = decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-1\"",
                         ctx, "Human::\"alice\"", NULL, now);
    assert_int_equal(r.outcome, MD_ACCOUNT_APPROVAL_REQUIRED);
    return r;
}

static hz_result send_retry(const char *reply, const char *id, int64_t now)
{
    char ctx[256];
    snprintf(ctx, sizeof ctx, "{\"reply\":\"%s\"}", reply);
    return decide("Agent::\"support-drafter\"", "Action::\"send_reply\"", "Ticket::\"T-1\"", ctx,
                  "Human::\"alice\"", id, now);
}

/* 4. An agent tries to approve: its own request, and a lead's agent in the leads group. */
static void story_agent_self_approval(void **state)
{
    (void)state;
    hz_result r = send_request("self", T0);
    approve_refused(r.approval_id, "Agent::\"support-drafter\"", "verified", T0 + SEC,
                    "an agent never approves");
    approve_refused(r.approval_id, "Agent::\"lead-bot\"", "verified", T0 + SEC,
                    "an agent never approves");
    approve_refused(r.approval_id, "Service::\"cron\"", "verified", T0 + SEC, "only a human");
    hz_result no = send_retry("self", r.approval_id, T0 + 2 * SEC);
    assert_int_equal(no.outcome, MD_ACCOUNT_DENY);
    assert_non_null(strstr(no.reason, "not approved yet"));
    approve_ok(r.approval_id, "lena", "verified", T0 + 3 * SEC);
    hz_result ok = send_retry("self", r.approval_id, T0 + 4 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "customer_response",
                      "3333333333333333333333333333333333333333333333333333333333333333",
                      "mail://acme/T-1/self", "accepted", "Human::\"lena\"", "verified");
}

/* 5. An approval is reused: the second retry is refused. */
static void story_reuse(void **state)
{
    (void)state;
    hz_result r = send_request("once", T0);
    approve_ok(r.approval_id, "Human::\"lena\"", "verified", T0 + SEC);
    hz_result ok = send_retry("once", r.approval_id, T0 + 2 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    hz_result again = send_retry("once", r.approval_id, T0 + 3 * SEC);
    assert_int_equal(again.outcome, MD_ACCOUNT_DENY);
    assert_non_null(strstr(again.reason, "already used"));
    mandate_diag d = {0};
    approve_refused(r.approval_id, "Human::\"lena\"", "verified", T0 + 4 * SEC, "not pending");
    (void)d;
    outcome_and_trace(ok.index, "customer_response",
                      "4444444444444444444444444444444444444444444444444444444444444444",
                      "mail://acme/T-1/once", "accepted", "Human::\"lena\"", "verified");
}

/* 6. Approvals expire: before approval, and after approval before use. Expiry is an entry. */
static void story_expiry(void **state)
{
    (void)state;
    uint64_t before = mandate_ledger_size(H.ledger);
    hz_result r = send_request("late", T0);
    approve_refused(r.approval_id, "Human::\"lena\"", "verified", T0 + 11 * 60 * SEC, "expired");
    hz_result r2 = send_request("late", T0);
    approve_ok(r2.approval_id, "Human::\"lena\"", "verified", T0 + SEC);
    hz_result no = send_retry("late", r2.approval_id, T0 + 20 * 60 * SEC);
    assert_int_equal(no.outcome, MD_ACCOUNT_DENY);
    assert_non_null(strstr(no.reason, "expired"));
    size_t expired_entries = 0;
    for (uint64_t i = before; i < mandate_ledger_size(H.ledger); i++) {
        char *e = NULL;
        mandate_diag d = {0};
        assert_int_equal(mandate_ledger_get(H.ledger, i, &e, &d), 0);
        expired_entries += strstr(e, "\"event\":\"expired\"") != NULL;
        free(e);
    }
    assert_int_equal(expired_entries, 2);
    /* a sweep expires what nobody touched */
    hz_result r3 = send_request("swept", T0);
    size_t n = 0;
    mandate_diag d = {0};
    assert_int_equal(mandate_approval_expire(H.acc, T0 + 30 * 60 * SEC, &n, &d), 0);
    assert_true(n >= 1);
    approve_refused(r3.approval_id, "Human::\"lena\"", "verified", T0 + 31 * 60 * SEC,
                    "not pending");
    hz_result r4 = send_request("late", T0 + 40 * 60 * SEC);
    approve_ok(r4.approval_id, "Human::\"lena\"", "verified", T0 + 41 * 60 * SEC);
    hz_result ok = send_retry("late", r4.approval_id, T0 + 42 * 60 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "customer_response",
                      "5555555555555555555555555555555555555555555555555555555555555555", NULL,
                      "accepted", "Human::\"lena\"", "verified");
}

/* 7. A coding agent pushes to production: a decided approval, not by the delegator. */
static void story_push_production(void **state)
{
    (void)state;
    const char *ctx = "{\"commit\":\"9f2c1e\"}";
    hz_result r = decide("Agent::\"coder\"", "Action::\"push\"", "Branch::\"main\"", ctx,
                         "Human::\"bob\"", NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_APPROVAL_REQUIRED);
    approve_refused(r.approval_id, "Human::\"bob\"", "decided", T0 + SEC,
                    "separates the delegator");
    approve_refused(r.approval_id, "Human::\"carol\"", "verified", T0 + SEC,
                    "needs a decided approval");
    approve_refused(r.approval_id, "Human::\"lena\"", "decided", T0 + SEC, "not in");
    char *v = NULL;
    mandate_diag d = {0};
    assert_int_equal(mandate_approval_view(H.acc, r.approval_id, "carol", T0 + 2 * SEC, &v, &d), 0);
    free(v);
    approve_ok(r.approval_id, "Human::\"carol\"", "decided", T0 + 300 * SEC);
    hz_result ok = decide("Agent::\"coder\"", "Action::\"push\"", "Branch::\"main\"", ctx,
                          "Human::\"bob\"", r.approval_id, T0 + 301 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    assert_string_equal(ok.mode, "decided");
    outcome_and_trace(ok.index, "code",
                      "6666666666666666666666666666666666666666666666666666666666666666",
                      "git://shop/commit/9f2c1e", "accepted", "Human::\"carol\"", "decided");
}

/* 8. A summary with no impact runs in auto; its owner is accountable. */
static void story_summary_auto(void **state)
{
    (void)state;
    hz_result r = decide("Agent::\"summarizer\"", "Action::\"summarize\"", "Document::\"D-1\"",
                         NULL, NULL, NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_ALLOW);
    assert_string_equal(r.mode, "auto");
    assert_string_equal(r.accountable, "Human::\"olga\"");
    outcome_and_trace(r.index, "summary",
                      "7777777777777777777777777777777777777777777777777777777777777777",
                      "wiki://D-1/summary", "accepted", "Human::\"olga\"", "auto");
}

/* 9. An impactful action without a delegator never runs in auto: Cedar's forbid and, with the
 * forbid removed, the gate itself. */
static void story_impactful_auto_refused(void **state)
{
    (void)state;
    hz_result r = decide("Agent::\"support-drafter\"", "Action::\"draft_reply\"", "Ticket::\"T-1\"",
                         NULL, NULL, NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_DENY);
    hz other;
    assert_int_equal(hz_open(&other, "@impact(\"customer\") permit(principal, action, resource);"),
                     0);
    hz_req q = {"Agent::\"support-drafter\"",
                "Action::\"draft_reply\"",
                "Ticket::\"T-1\"",
                NULL,
                NULL,
                NULL,
                T0};
    hz_result g;
    assert_int_equal(hz_decide(&other, &q, &g), 0);
    assert_int_equal(g.outcome, MD_ACCOUNT_DENY);
    assert_non_null(strstr(g.reason, "never runs in mode auto"));
    hz_close(&other);
    hz_result ok = decide("Agent::\"support-drafter\"", "Action::\"draft_reply\"",
                          "Ticket::\"T-1\"", NULL, "Human::\"alice\"", NULL, T0);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "customer_response",
                      "8888888888888888888888888888888888888888888888888888888888888888", NULL,
                      "rejected", "Human::\"alice\"", "delegated");
}

/* 10. Approvers outside @approvers, and a departed lead, are refused. */
static void story_wrong_approver(void **state)
{
    (void)state;
    hz_result r = send_request("who", T0);
    approve_refused(r.approval_id, "Human::\"sam\"", "verified", T0 + SEC, "not in");
    approve_refused(r.approval_id, "Human::\"dora\"", "verified", T0 + SEC, "not active");
    approve_refused(r.approval_id, "Human::\"nobody\"", "verified", T0 + SEC, "not a known");
    approve_refused(r.approval_id, "Human::\"lena\"", "checked", T0 + SEC, "verified or decided");
    approve_ok(r.approval_id, "Human::\"lena\"", "verified", T0 + 2 * SEC);
    hz_result ok = send_retry("who", r.approval_id, T0 + 3 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "customer_response",
                      "9999999999999999999999999999999999999999999999999999999999999999", NULL,
                      "accepted", "Human::\"lena\"", "verified");
}

/* 11. A lead rejects with a reason; the retry is refused; a new request is approved. */
static void story_rejected(void **state)
{
    (void)state;
    hz_result r = send_request("rude", T0);
    mandate_diag d = {0};
    assert_int_equal(hz_reject(&H, r.approval_id, "Human::\"lena\"", "tone", T0 + SEC, &d), 0);
    hz_result no = send_retry("rude", r.approval_id, T0 + 2 * SEC);
    assert_int_equal(no.outcome, MD_ACCOUNT_DENY);
    assert_non_null(strstr(no.reason, "rejected"));
    char *list = NULL;
    assert_int_equal(mandate_approval_list(H.acc, "rejected", 0, &list, &d), 0);
    assert_non_null(strstr(list, "\"reason\":\"tone\""));
    free(list);
    hz_result r2 = send_request("polite", T0 + 3 * SEC);
    approve_ok(r2.approval_id, "Human::\"lena\"", "verified", T0 + 4 * SEC);
    hz_result ok = send_retry("polite", r2.approval_id, T0 + 5 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "customer_response",
                      "abababababababababababababababababababababababababababababababab", NULL,
                      "edited", "Human::\"lena\"", "verified");
}

/* 12. A push to a feature branch needs no approval: delegated to bob. */
static void story_push_branch(void **state)
{
    (void)state;
    hz_result r = decide("Agent::\"coder\"", "Action::\"push\"", "Branch::\"feature-x\"",
                         "{\"commit\":\"77aa\"}", "Human::\"bob\"", NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_ALLOW);
    assert_string_equal(r.mode, "delegated");
    outcome_and_trace(r.index, "code",
                      "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
                      "git://shop/commit/77aa", "accepted", "Human::\"bob\"", "delegated");
}

/* 13. An HR agent's change to an employee record: decided by an HR manager who did not delegate
 * it; a delegator who may not do it himself is refused outright. */
static void story_hr_record(void **state)
{
    (void)state;
    const char *ctx = "{\"change\":\"salary band 4\"}";
    hz_result no = decide("Agent::\"hr-bot\"", "Action::\"update_employee_record\"",
                          "EmployeeRecord::\"E-7\"", ctx, "Human::\"alice\"", NULL, T0);
    assert_int_equal(no.outcome, MD_ACCOUNT_DENY); /* alice is not in hr */
    hz_result r = decide("Agent::\"hr-bot\"", "Action::\"update_employee_record\"",
                         "EmployeeRecord::\"E-7\"", ctx, "Human::\"hank\"", NULL, T0);
    assert_int_equal(r.outcome, MD_ACCOUNT_APPROVAL_REQUIRED);
    approve_refused(r.approval_id, "Human::\"hank\"", "decided", T0 + SEC, "separates");
    approve_ok(r.approval_id, "Human::\"hilda\"", "decided", T0 + 60 * SEC);
    hz_result ok =
        decide("Agent::\"hr-bot\"", "Action::\"update_employee_record\"", "EmployeeRecord::\"E-7\"",
               ctx, "Human::\"hank\"", r.approval_id, T0 + 61 * SEC);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    outcome_and_trace(ok.index, "recommendation",
                      "efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef", NULL,
                      "accepted", "Human::\"hilda\"", "decided");
}

/* 14. Outcomes follow allowed decisions only; bad outcomes are refused. */
static void story_outcome_checks(void **state)
{
    (void)state;
    hz_result r = send_request("outcome", T0);
    mandate_diag d = {0};
    mandate_outcome o = {.decision = r.index,
                         .kind = "customer_response",
                         .sha256 = SHA_A,
                         .disposition = "accepted"};
    assert_int_equal(mandate_outcome_record(H.acc, &o, NULL, &d), MANDATE_EINVAL);
    assert_non_null(strstr(d.message, "not an allowed decision"));
    hz_result ok =
        decide("Human::\"sam\"", "Action::\"send_reply\"", "Ticket::\"T-1\"", NULL, NULL, NULL, T0);
    assert_int_equal(ok.outcome, MD_ACCOUNT_ALLOW);
    assert_string_equal(ok.mode, "decided");
    o.decision = ok.index;
    o.kind = "poem";
    assert_int_equal(mandate_outcome_record(H.acc, &o, NULL, &d), MANDATE_EINVAL);
    o.kind = "customer_response";
    o.sha256 = "xyz";
    assert_int_equal(mandate_outcome_record(H.acc, &o, NULL, &d), MANDATE_EINVAL);
    o.sha256 = SHA_A;
    o.disposition = "maybe";
    assert_int_equal(mandate_outcome_record(H.acc, &o, NULL, &d), MANDATE_EINVAL);
    char *t = NULL;
    assert_int_equal(mandate_trace(H.acc, "mail://nowhere", &t, &d), MANDATE_ENOTFOUND);
    outcome_and_trace(ok.index, "customer_response",
                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL,
                      "accepted", "Human::\"sam\"", "decided");
}
