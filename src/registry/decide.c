/*
 * decide.c: the authorization path for an agent acting on a delegation (ARCHITECTURE.md section
 * 3) and its result object.
 *
 * Order: freeze; request syntax; the agent (when the request names it); the delegation token
 * (signature, time, audience, revocation of it and its ancestors, registry status of the subject
 * and every delegator, uses); the agent resolved from the token (active, with an active human
 * owner); the root delegator (a registered human); the workflow (active, with an active owner, and
 * entitled to the action and resource type); context.mandate; with a schema, the request
 * (context included) against it; then the three checks: (a) the policies for the agent, (b) the
 * same request for every delegator in the chain, root human first, (c) the delegation's scope;
 * then the accountability gate (md_account_gate, docs/accountability.md): obligations of
 * the determining permits, an approval bound to the exact request (approval_required with a new
 * approval id, or the retry that consumes it), the mode and the accountable human. The first deny
 * wins. On the agent path an erroring forbid denies. Any failure denies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "account/account_int.h"
#include "cedar/entities.h"
#include "core/json.h"
#include "registry/registry_int.h"

#define MAX_JTIS (MANDATE_TOKEN_HARD_MAX_DEPTH + 2)

struct mandate_agent_result {
    md_arena *a;
    bool allow;
    int check, token_reason, error;
    const char *reason;
    const char *principal, *delegator, *jti, *workflow, *task, *action, *resource;
    bool has_digest;
    unsigned char digest[32]; /* the token's SHA-256, written out in hex only for JSON */
    int64_t now;
    uint64_t version, usage_hour, usage_day;
    size_t n_policies, n_errors;
    const char **policies, **errors;
    size_t n_jtis; /* the token and its ancestors: uses to persist after an allow */
    const char *jtis[MAX_JTIS];
    uint64_t ledger_index;
    /* The agent check's determining permits (policies of the snapshot, alive during decide). */
    const md_policy *const *reasons;
    size_t n_reasons;
    bool gated; /* the gate ran: verdict is set */
    md_account_verdict verdict;
};

static const char *const check_names[] = {"none",  "request",  "frozen", "agent",
                                          "token", "workflow", "policy", "delegator",
                                          "scope", "internal", "ledger", "approval"};

MD_EXPORT const char *mandate_check_name(int check)
{
    return check >= 0 && (size_t)check < MD_ARRAY_LEN(check_names) ? check_names[check] : "unknown";
}

static int deny(mandate_agent_result *res, int check, const char *fmt, ...) MD_PRINTF(3, 4);
static int deny(mandate_agent_result *res, int check, const char *fmt, ...)
{
    res->allow = false;
    res->check = check;
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    res->reason = md_arena_strndup(res->a, buf, strlen(buf));
    if (!res->reason)
        res->reason = "out of memory";
    return 0;
}

static const char *dupc(md_arena *a, const char *s)
{
    return s ? md_arena_strndup(a, s, strlen(s)) : NULL;
}

static const char *euid_text(md_arena *a, const md_euid *u)
{
    md_buf b;
    md_buf_init(&b, 1u << 16);
    const char *out = md_euid_print(&b, u) ? NULL : md_arena_strndup(a, b.data, b.len);
    md_buf_release(&b);
    return out;
}

/* A uid in the plain form (md_euid_parse_plain) prints back as itself, so its canonical text is
 * the input: the printer can be skipped too. Anything else takes the parser. */
static bool plain_uid(md_arena *a, const char *text, md_euid *u, const char **canon)
{
    if (!md_euid_parse_plain(a, text, strlen(text), u))
        return false;
    *canon = u->type.ptr;
    return true;
}

static int64_t clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

/* The request's context with `mandate` added (*out), and the caller's alone (*caller). With a
 * schema, the caller's context is parsed as the action's context type says (schema_check checks
 * the request afterwards). */
static int build_context(mandate_agent_result *res, const mandate_agent_request *req,
                         const md_snapshot *s, const md_euid *action, const md_reg_principal *agent,
                         const md_reg_principal *wf, const mandate_token_claims *c,
                         const md_euid *delegator, md_value *out, md_value *caller, md_diag *d)
{
    md_arena *a = res->a;
    md_value user = {.kind = MD_V_RECORD, .u.rec = md_record_empty()};
    *caller = user;
    int rc;
    if (req->context_json) {
        size_t len = strlen(req->context_json);
        if (len > MD_REG_MAX_CONTEXT)
            return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "context of %zu bytes is over the cap",
                               len);
        md_jv *j = NULL;
        if ((rc = md_json_parse_arena(a, req->context_json, len, MD_JSON_MAX_DEPTH, &j, d)) ||
            (rc = md_context_from_jv(a, j, s->schema, action, &user, d)))
            return rc;
        if (md_record_get(user.u.rec, MD_STR_LIT("mandate"), NULL))
            return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                               "context must not hold 'mandate': mandate fills it in");
        *caller = user;
    }
    md_field usage[2] = {
        {MD_STR_LIT("day"), {.kind = MD_V_LONG, .u.i = (int64_t)res->usage_day}},
        {MD_STR_LIT("hour"), {.kind = MD_V_LONG, .u.i = (int64_t)res->usage_hour}},
    };
    const md_record *usage_rec;
    md_str dup;
    if ((rc = md_record_new(a, usage, 2, &usage_rec, &dup)))
        return rc;
    /* In key order, so that md_record_new has nothing to sort. */
    md_value impact = wf ? wf->impact_set : (md_value){.kind = MD_V_SET};
    if (!wf) {
        const md_set *empty;
        if ((rc = md_set_new(a, NULL, 0, &empty)))
            return rc;
        impact.u.set = empty;
    }
    md_field m[10];
    size_t nm = 0;
    m[nm++] = (md_field){MD_STR_LIT("approval"),
                         {.kind = MD_V_STRING,
                          .u.s = req->approval_id ? MD_STR_LIT("presented") : MD_STR_LIT("none")}};
    m[nm++] = (md_field){MD_STR_LIT("delegation"), {.kind = MD_V_STRING, .u.s = md_str_c(c->jti)}};
    m[nm++] = (md_field){MD_STR_LIT("delegator"), {.kind = MD_V_ENTITY, .u.uid = *delegator}};
    m[nm++] = (md_field){MD_STR_LIT("depth"), {.kind = MD_V_LONG, .u.i = c->depth}};
    m[nm++] = (md_field){MD_STR_LIT("impact"), impact};
    m[nm++] = (md_field){MD_STR_LIT("owner"), {.kind = MD_V_ENTITY, .u.uid = agent->owner_euid}};
    m[nm++] = (md_field){MD_STR_LIT("task"), {.kind = MD_V_STRING, .u.s = md_str_c(c->task)}};
    m[nm++] = (md_field){MD_STR_LIT("usage"), {.kind = MD_V_RECORD, .u.rec = usage_rec}};
    if (wf)
        m[nm++] = (md_field){MD_STR_LIT("workflow"), {.kind = MD_V_ENTITY, .u.uid = wf->euid}};
    const md_record *mrec;
    if ((rc = md_record_new(a, m, nm, &mrec, &dup)))
        return rc;
    /* The caller's fields (sorted) with mandate put in its place. */
    size_t nu = user.u.rec->n, at = 0;
    while (at < nu && md_str_cmp(user.u.rec->keys[at], MD_STR_LIT("mandate")) < 0)
        at++;
    md_field *all = md_arena_array(a, nu + 1, sizeof *all);
    if (!all)
        return MANDATE_ENOMEM;
    for (size_t i = 0; i < nu; i++)
        all[i < at ? i : i + 1] = md_record_at(user.u.rec, i);
    all[at] = (md_field){MD_STR_LIT("mandate"), {.kind = MD_V_RECORD, .u.rec = mrec}};
    const md_record *ctx;
    if ((rc = md_record_new(a, all, nu + 1, &ctx, &dup)))
        return rc;
    *out = (md_value){.kind = MD_V_RECORD, .u.rec = ctx};
    return 0;
}

/* With a schema, the request checked as Cedar's request validation does (types, appliesTo, the
 * context's type). context.mandate is mandate's own: it is checked with the rest when the
 * action's context type declares `mandate`, and left out when it does not (a schema written for
 * the plain Cedar path, whose policies do not read it). */
static int schema_check(const md_schema *schema, const md_request *rq, const md_value *caller,
                        md_diag *d)
{
    const md_action *act = md_schema_action(schema, &rq->action);
    bool declared = false;
    for (size_t i = 0; act && i < act->context->u.rec.n && !declared; i++)
        declared = md_str_eq_c(act->context->u.rec.attrs[i].name, "mandate");
    md_request vr = *rq;
    if (!declared)
        vr.context = *caller;
    return md_request_validate(schema, &vr, d);
}

/* One Cedar check with the agent path's strictness. Returns true when it allows; on a deny
 * fills the result. who is "agent" or "delegator". */
static bool cedar_check(mandate_agent_result *res, const md_snapshot *s, const md_request *rq,
                        int check, const char *who, const char *subject)
{
    md_response resp;
    if (md_authorize(res->a, s->ps, rq, s->es, &resp)) {
        res->error = MANDATE_EINTERNAL;
        deny(res, MANDATE_CHECK_INTERNAL, "evaluating the policies for %s '%s' failed", who,
             subject);
        return false;
    }
    const md_policy *bad_forbid = NULL;
    const char *bad_msg = NULL;
    if (resp.n_errors) {
        const char **errs = md_arena_array(res->a, res->n_errors + resp.n_errors, sizeof *errs);
        if (errs) {
            if (res->n_errors)
                memcpy(errs, res->errors, res->n_errors * sizeof *errs);
            for (size_t i = 0; i < resp.n_errors; i++) {
                const md_policy *p = resp.errors[i].policy;
                md_str pn = md_policy_name(p);
                const char *m =
                    md_arena_printf(res->a, "%s%.*s: %s",
                                    check == MANDATE_CHECK_POLICY ? "" : "delegator: ", (int)pn.len,
                                    pn.ptr, resp.errors[i].msg);
                errs[res->n_errors + i] = m ? m : "out of memory";
                if (!p->permit && !bad_forbid) {
                    bad_forbid = p;
                    bad_msg = resp.errors[i].msg;
                }
            }
            res->errors = errs;
            res->n_errors += resp.n_errors;
        }
    }
    if (resp.allow && !bad_forbid) {
        if (check == MANDATE_CHECK_POLICY) {
            res->policies = md_arena_array(res->a, resp.n_reasons + 1, sizeof *res->policies);
            for (size_t i = 0; res->policies && i < resp.n_reasons; i++) {
                md_str pn = md_policy_name(resp.reasons[i]);
                res->policies[i] = md_arena_strndup(res->a, pn.ptr, pn.len);
            }
            res->n_policies = res->policies ? resp.n_reasons : 0;
            res->reasons = (const md_policy *const *)resp.reasons;
            res->n_reasons = resp.n_reasons;
        }
        return true;
    }
    res->n_policies = 0;
    if (bad_forbid) {
        md_str bn = md_policy_name(bad_forbid);
        deny(res, check,
             "forbid policy %.*s raised an error for %s '%s' (an erroring forbid "
             "denies on the agent path): %s",
             (int)bn.len, bn.ptr, who, subject, bad_msg);
        return false;
    }
    if (resp.n_reasons) {
        res->policies = md_arena_array(res->a, resp.n_reasons + 1, sizeof *res->policies);
        for (size_t i = 0; res->policies && i < resp.n_reasons; i++) {
            md_str pn = md_policy_name(resp.reasons[i]);
            res->policies[i] = md_arena_strndup(res->a, pn.ptr, pn.len);
        }
        res->n_policies = res->policies ? resp.n_reasons : 0;
        md_str fn = md_policy_name(resp.reasons[0]);
        deny(res, check, "forbidden for %s '%s' by policy %.*s", who, subject, (int)fn.len, fn.ptr);
    } else {
        deny(res, check, "no policy permits %s '%s' to do %s on %s", who, subject, res->action,
             res->resource);
    }
    return false;
}

static bool in_list(const char *const *v, size_t n, const char *x)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], x))
            return true;
    return false;
}

/* md_reg_canonical, skipping the parse when the text is already a registered uid (of kind, or of
 * any kind for 0). */
static int canonical(md_arena *a, const md_snapshot *s, int kind, const char *text,
                     const char **out, const md_reg_principal **found, md_diag *d)
{
    const md_reg_principal *p = md_snapshot_find(s, text);
    if (p && (p->kind == kind || !kind)) {
        *out = p->uid;
        *found = p; /* what md_snapshot_find(s, *out) would return */
        return 0;
    }
    *found = NULL;
    return md_reg_canonical(a, kind, text, out, d);
}

static int decide(mandate_registry *r, const mandate_agent_request *req, mandate_agent_result *res,
                  md_snapshot *s)
{
    md_arena *a = res->a;
    md_diag d;
    md_diag_clear(&d);
    res->version = s->version;
    if (s->frozen)
        return deny(res, MANDATE_CHECK_FROZEN,
                    "the global freeze is on: every agent decision "
                    "is denied");
    md_euid action, resource;
    bool plain_a = req->action && plain_uid(a, req->action, &action, &res->action);
    bool plain_r = req->resource && plain_uid(a, req->resource, &resource, &res->resource);
    if (!plain_a &&
        (!req->action || md_euid_parse(a, req->action, strlen(req->action), &action, &d)))
        return deny(res, MANDATE_CHECK_REQUEST, "bad action uid '%s': %s",
                    req->action ? req->action : "", d.msg);
    if (!plain_r &&
        (!req->resource || md_euid_parse(a, req->resource, strlen(req->resource), &resource, &d)))
        return deny(res, MANDATE_CHECK_REQUEST, "bad resource uid '%s': %s",
                    req->resource ? req->resource : "", d.msg);
    if (!plain_a)
        res->action = euid_text(a, &action);
    if (!plain_r)
        res->resource = euid_text(a, &resource);
    if (!res->action || !res->resource)
        return MANDATE_ENOMEM;
    const char *named = NULL;
    if (req->principal) {
        if (md_reg_canonical(a, MANDATE_KIND_AGENT, req->principal, &named, &d))
            return deny(res, MANDATE_CHECK_REQUEST, "bad principal: %s", d.msg);
        const md_reg_principal *ag = md_snapshot_find(s, named);
        res->principal = named;
        if (!ag)
            return deny(res, MANDATE_CHECK_AGENT, "agent '%s' is not registered", named);
        if (ag->status != MANDATE_STATUS_ACTIVE)
            return deny(res, MANDATE_CHECK_AGENT, "agent '%s' is %s", named,
                        mandate_status_name(ag->kind, ag->status));
    }

    /* The delegation. */
    mandate_token *tok = NULL;
    mandate_token_error te; /* set by mandate_token_verify */
    mandate_token_verify_args va = {res->now, req->parents, req->n_parents};
    md_registry_set_thread_snapshot(s);
    int rc = mandate_token_verify(
        r->ts, req->token, req->token_len ? req->token_len : strlen(req->token), &va, &tok, &te);
    md_registry_set_thread_snapshot(NULL);
    if (rc) {
        res->token_reason = te.reason;
        if (rc == MANDATE_ENOMEM || te.reason == MANDATE_TOKEN_HOOK_FAILED)
            res->error = rc;
        return deny(res, MANDATE_CHECK_TOKEN, "delegation rejected (%s): %s",
                    mandate_token_reason_name(te.reason), te.message);
    }
    const mandate_token_claims *c = mandate_token_get_claims(tok);
    res->jti = dupc(a, c->jti);
    res->task = dupc(a, c->task);
    memcpy(res->digest, c->digest, sizeof res->digest);
    res->has_digest = true;
    res->jtis[res->n_jtis++] = res->jti;
    for (size_t i = 0; i < c->n_ancestors && res->n_jtis < MAX_JTIS; i++)
        res->jtis[res->n_jtis++] = dupc(a, c->ancestors[i]);
    const char *sub = NULL;
    int out = 0;
    const md_reg_principal *found = NULL;
    if (canonical(a, s, MANDATE_KIND_AGENT, c->sub, &sub, &found, &d)) {
        out = deny(res, MANDATE_CHECK_AGENT, "the delegation's subject is not an agent: %s", d.msg);
        goto done;
    }
    if (named && strcmp(named, sub)) {
        out = deny(res, MANDATE_CHECK_REQUEST,
                   "principal '%s' is not the delegation's subject '%s'", named, sub);
        goto done;
    }
    res->principal = sub;
    const md_reg_principal *agent = found ? found : md_snapshot_find(s, sub);
    if (!agent || agent->kind != MANDATE_KIND_AGENT) {
        out = deny(res, MANDATE_CHECK_AGENT, "agent '%s' is not registered", sub);
        goto done;
    }
    if (agent->status != MANDATE_STATUS_ACTIVE) {
        out = deny(res, MANDATE_CHECK_AGENT, "agent '%s' is %s", sub,
                   mandate_status_name(agent->kind, agent->status));
        goto done;
    }
    const md_reg_principal *owner = agent->owner_p;
    if (!owner || owner->kind != MANDATE_KIND_HUMAN || owner->status != MANDATE_STATUS_ACTIVE) {
        out = deny(res, MANDATE_CHECK_AGENT, "agent '%s' has no active owner ('%s' is %s)", sub,
                   agent->owner,
                   owner ? mandate_status_name(owner->kind, owner->status) : "not registered");
        goto done;
    }
    const char *root = NULL;
    if (canonical(a, s, MANDATE_KIND_HUMAN, c->delegators[c->n_delegators - 1], &root, &found,
                  &d)) {
        out = deny(res, MANDATE_CHECK_TOKEN, "the root delegator is not a human: %s", d.msg);
        goto done;
    }
    res->delegator = root;
    const md_reg_principal *human = found ? found : md_snapshot_find(s, root);
    if (!human || human->status != MANDATE_STATUS_ACTIVE) {
        out = deny(res, MANDATE_CHECK_TOKEN, "delegator '%s' is not an active human", root);
        goto done;
    }

    /* The workflow: the delegation's, else the agent's. */
    const char *wf_uid = NULL;
    found = NULL;
    if (c->workflow && (!agent->workflow || strcmp(c->workflow, agent->workflow)) &&
        canonical(a, s, MANDATE_KIND_WORKFLOW, c->workflow, &wf_uid, &found, &d)) {
        out = deny(res, MANDATE_CHECK_WORKFLOW, "bad workflow in the delegation: %s", d.msg);
        goto done;
    }
    if (!wf_uid) { /* none in the delegation, or the agent's own (resolved in the snapshot) */
        wf_uid = agent->workflow;
        found = agent->workflow_p;
    }
    const md_reg_principal *wf = NULL;
    if (wf_uid) {
        res->workflow = wf_uid;
        wf = found ? found : md_snapshot_find(s, wf_uid);
        if (!wf || wf->kind != MANDATE_KIND_WORKFLOW) {
            out = deny(res, MANDATE_CHECK_WORKFLOW, "workflow '%s' is not registered", wf_uid);
            goto done;
        }
        if (wf->status != MANDATE_STATUS_ACTIVE) {
            out = deny(res, MANDATE_CHECK_WORKFLOW, "workflow '%s' is %s", wf_uid,
                       mandate_status_name(wf->kind, wf->status));
            goto done;
        }
        const md_reg_principal *wo = wf->owner_p;
        if (!wo || wo->status != MANDATE_STATUS_ACTIVE) {
            out = deny(res, MANDATE_CHECK_WORKFLOW, "workflow '%s' has no active owner", wf_uid);
            goto done;
        }
        if (wf->n_actions && !in_list(wf->actions, wf->n_actions, res->action)) {
            out = deny(res, MANDATE_CHECK_WORKFLOW, "workflow '%s' is not entitled to %s", wf_uid,
                       res->action);
            goto done;
        }
        if (wf->n_resource_types) {
            const char *t = md_arena_strndup(a, resource.type.ptr, resource.type.len);
            if (!t || !in_list(wf->resource_types, wf->n_resource_types, t)) {
                out = deny(res, MANDATE_CHECK_WORKFLOW,
                           "workflow '%s' is not entitled to resources of type %s", wf_uid,
                           t ? t : "?");
                goto done;
            }
        }
    }

    /* Usage counters. */
    int64_t minute = res->now / 60;
    md_reg_count *uc = NULL;
    pthread_mutex_lock(&r->mu);
    rc = md_registry_usage(r, sub, res->action, minute, &uc, &d);
    if (!rc) {
        res->usage_hour = uc->n;
        res->usage_day = uc->n_day;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        res->error = rc;
        out = deny(res, MANDATE_CHECK_INTERNAL, "reading usage counters failed: %s", d.msg);
        goto done;
    }

    md_request rq = {.principal = agent->euid, .action = action, .resource = resource};
    md_euid deleg = human->euid;
    md_value caller;
    if ((rc =
             build_context(res, req, s, &action, agent, wf, c, &deleg, &rq.context, &caller, &d))) {
        res->error = rc;
        out = deny(res, rc == MANDATE_ENOMEM ? MANDATE_CHECK_INTERNAL : MANDATE_CHECK_REQUEST,
                   "bad context: %s", d.msg[0] ? d.msg : mandate_strerror(rc));
        goto done;
    }
    if (s->schema && (rc = schema_check(s->schema, &rq, &caller, &d))) {
        if (rc != MANDATE_ESCHEMA)
            res->error = rc;
        out = deny(res, rc == MANDATE_ESCHEMA ? MANDATE_CHECK_REQUEST : MANDATE_CHECK_INTERNAL,
                   "the request does not match the schema: %s",
                   d.msg[0] ? d.msg : mandate_strerror(rc));
        goto done;
    }
    /* (a) the agent's policies. */
    if (!cedar_check(res, s, &rq, MANDATE_CHECK_POLICY, "agent", sub))
        goto done;
    /* (b) every delegator, same request: the root human, then each agent that re-delegated, in
     * chain order down to the immediate delegator. */
    const char **allow_policies = res->policies;
    size_t n_allow = res->n_policies;
    md_request rd = rq;
    for (size_t k = c->n_delegators; k-- > 0;) {
        const char *who = root;
        const md_reg_principal *dp = human;
        if (k + 1 < c->n_delegators && (canonical(a, s, 0, c->delegators[k], &who, &dp, &d) ||
                                        !(dp = dp ? dp : md_snapshot_find(s, who)))) {
            out = deny(res, MANDATE_CHECK_TOKEN, "delegator '%s' is not registered",
                       c->delegators[k]);
            goto done;
        }
        rd.principal = dp->euid;
        if (!cedar_check(res, s, &rd, MANDATE_CHECK_DELEGATOR, "delegator", who))
            goto done;
    }
    res->policies = allow_policies;
    res->n_policies = n_allow;
    /* (c) the delegation's scope. */
    if (!mandate_token_scope_allows(tok, res->action, res->resource)) {
        out = deny(res, MANDATE_CHECK_SCOPE, "%s on %s is outside delegation %s (task '%s')",
                   res->action, res->resource, c->jti, c->task);
        goto done;
    }

    /* Spent delegations deny before the gate, so that no approval is consumed for nothing: the
     * token check read the use count during this decision (c->uses, through hook_uses). */
    if (c->uses >= c->max_uses) {
        res->token_reason = MANDATE_TOKEN_USES_EXHAUSTED;
        out = deny(res, MANDATE_CHECK_TOKEN, "delegation %s has used all of its %llu uses", c->jti,
                   (unsigned long long)c->max_uses);
        goto done;
    }

    /* Accountability: obligations, the approval, the mode and the accountable human. */
    if (r->account) {
        md_account_req ar = {
            .principal = sub,
            .action = res->action,
            .resource = res->resource,
            .context_json = req->context_json,
            .delegator = root,
            .owner = agent->owner,
            .workflow = wf_uid,
            .workflow_impacts = wf ? (const char *const *)wf->impacts : NULL,
            .n_workflow_impacts = wf ? wf->n_impacts : 0,
            .delegation = res->jti,
            .reasons = res->reasons,
            .n_reasons = res->n_reasons,
            .approval_id = req->approval_id,
            .now_ms = res->now * 1000,
        };
        md_diag gd;
        md_diag_clear(&gd);
        if ((rc = md_account_gate(r->account, &ar, a, &res->verdict, &gd))) {
            res->error = rc;
            out = deny(res, MANDATE_CHECK_INTERNAL, "the accountability gate failed: %s",
                       gd.msg[0] ? gd.msg : mandate_strerror(rc));
            goto done;
        }
        res->gated = true;
        if (res->verdict.outcome != MD_ACCOUNT_ALLOW) {
            out = deny(res, MANDATE_CHECK_APPROVAL, "%s",
                       res->verdict.reason ? res->verdict.reason : "refused by the gate");
            goto done;
        }
    } else {
        res->error = MANDATE_EINTERNAL;
        out = deny(res, MANDATE_CHECK_INTERNAL, "the accountability store is not open");
        goto done;
    }

    /* Allowed: count the use (atomically with the limit checks) and the usage. An ancestor's
     * count holds every use under it, so its max_uses caps its whole re-delegation tree. Its
     * slot is read and let go before the next lookup, which may move the map's slots. */
    pthread_mutex_lock(&r->mu);
    for (size_t i = 1; !rc && i < res->n_jtis && i <= c->n_ancestors; i++) {
        md_reg_count *u = md_registry_uses_slot(r, res->jtis[i], &rc, &d);
        uint64_t cap = c->ancestor_max_uses[i - 1];
        if (u && u->n >= cap) {
            pthread_mutex_unlock(&r->mu);
            res->token_reason = MANDATE_TOKEN_USES_EXHAUSTED;
            out = deny(res, MANDATE_CHECK_TOKEN,
                       "ancestor delegation %s has used all of its %llu uses (those of the "
                       "delegations made from it included)",
                       res->jtis[i], (unsigned long long)cap);
            goto done;
        }
    }
    md_reg_count *own = rc ? NULL : md_registry_uses_slot(r, c->jti, &rc, &d);
    if (own && own->n >= c->max_uses) {
        pthread_mutex_unlock(&r->mu);
        res->token_reason = MANDATE_TOKEN_USES_EXHAUSTED;
        out = deny(res, MANDATE_CHECK_TOKEN, "delegation %s has used all of its %llu uses", c->jti,
                   (unsigned long long)c->max_uses);
        goto done;
    }
    if (own)
        own->n++; /* before the ancestors: adding one of them may move the token's counter */
    for (size_t i = 1; !rc && i < res->n_jtis; i++) {
        md_reg_count *u = md_registry_uses_slot(r, res->jtis[i], &rc, &d);
        if (u)
            u->n++;
    }
    if (!rc && !(rc = md_registry_usage(r, sub, res->action, minute, &uc, &d))) {
        uc->n++;
        uc->n_day++;
    }
    /* The same counts, for the store: written before the ledger commit that holds this
     * decision's entry (md_registry_flush_uses from the ledger's hook). Queued in the same
     * critical section, so a cache cleared meanwhile reloads them from the pending list. A
     * decision denied after this (the ledger refused it) keeps its use counted: fail closed. */
    for (size_t i = 0; !rc && !r->read_only && i < res->n_jtis; i++)
        rc = md_registry_defer(r, res->jtis[i], NULL, NULL, 0, &d);
    if (!rc && !r->read_only)
        rc = md_registry_defer(r, NULL, sub, res->action, minute, &d);
    if (!rc && !r->read_only && res->now % 600 == 0)
        md_registry_prune_later(r, minute - 2 * 1440);
    if (!rc && r->n_pending >= MD_REG_PENDING_MAX)
        rc = md_registry_flush_uses(r, false, &d);
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        res->error = rc;
        out = deny(res, MANDATE_CHECK_INTERNAL, "counting the use failed: %s", d.msg);
        goto done;
    }
    res->allow = true;
    res->check = MANDATE_CHECK_NONE;
    res->reason = "";
done:
    mandate_token_free(tok);
    return out;
}

int md_agent_decide(mandate_registry *r, const mandate_agent_request *req,
                    mandate_agent_result **out)
{
    *out = NULL;
    mandate_agent_result *res = calloc(1, sizeof *res);
    if (!res || !(res->a = md_arena_new())) {
        free(res);
        return MANDATE_ENOMEM;
    }
    res->ledger_index = UINT64_MAX;
    res->reason = "";
    res->now = req->now ? req->now : clock_now();
    md_snapshot *s = NULL;
    md_diag d; /* cleared, not zero-filled: decisions are hot */
    md_diag_clear(&d);
    int rc = md_registry_acquire(r, &s, &d);
    if (rc) {
        res->error = rc;
        deny(res, MANDATE_CHECK_INTERNAL, "the registry could not be read: %s", d.msg);
    } else if (!req->token) {
        deny(res, MANDATE_CHECK_TOKEN, "no delegation token given");
        res->token_reason = MANDATE_TOKEN_MALFORMED;
    } else if ((rc = decide(r, req, res, s)) != 0) {
        res->allow = false;
        res->error = rc;
        deny(res, MANDATE_CHECK_INTERNAL, "decision failed: %s", mandate_strerror(rc));
    }
    md_snapshot_release(s);
    *out = res;
    return 0;
}

/* The result as JSON text with sorted keys, appended to out: its ledger entry's body
 * (for_ledger: with "time" and "kind") or the caller's answer (with "approval" and
 * "ledger_index"). Written without a tree: this runs twice for every agent decision. */
static int result_text(const mandate_agent_result *res, bool for_ledger, md_buf *out)
{
    md_jobj o;
    md_jobj_init(&o);
    md_jobj_str(&o, "decision", mandate_agent_result_decision(res));
    md_jobj_str(&o, "check", mandate_check_name(res->check));
    md_jobj_str(&o, "reason", res->reason ? res->reason : "");
    md_jobj_str(&o, "token_reason",
                res->token_reason ? mandate_token_reason_name(res->token_reason) : NULL);
    md_jobj_str(&o, "principal", res->principal);
    md_jobj_str(&o, "action", res->action);
    md_jobj_str(&o, "resource", res->resource);
    md_jobj_str(&o, "delegator", res->delegator);
    md_jobj_str(&o, "delegation", res->jti);
    md_jobj_str(&o, "workflow", res->workflow);
    md_jobj_str(&o, "task", res->task);
    md_jobj_int(&o, "registry_version", (int64_t)res->version);
    char usage[64];
    int n = snprintf(usage, sizeof usage, "{\"day\":%" PRId64 ",\"hour\":%" PRId64 "}",
                     (int64_t)res->usage_day, (int64_t)res->usage_hour);
    md_jobj_raw(&o, "usage", usage, (size_t)n);
    md_jobj_strs(&o, "policies", res->policies, res->n_policies);
    md_jobj_strs(&o, "errors", res->errors, res->n_errors);
    if (res->has_digest) {
        char hex[65];
        static const char xd[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = xd[res->digest[i] >> 4];
            hex[2 * i + 1] = xd[res->digest[i] & 15];
        }
        hex[64] = 0;
        md_jobj_str(&o, "token_digest", hex);
    }
    if (res->gated) {
        md_account_verdict_write(&res->verdict, &o);
    } else {
        md_jobj_str(&o, "mode", NULL);
        md_jobj_str(&o, "accountable", NULL);
    }
    if (for_ledger) {
        md_jobj_int(&o, "time", res->now);
        md_jobj_str(&o, "kind", "agent");
    } else {
        if (!md_jobj_has(&o, "approval"))
            md_jobj_str(&o, "approval", NULL);
        if (res->ledger_index == UINT64_MAX)
            md_jobj_str(&o, "ledger_index", NULL);
        else
            md_jobj_int(&o, "ledger_index", (int64_t)res->ledger_index);
    }
    return md_jobj_finish(&o, out);
}

/* A deny after the gate allowed (the use could not be counted or recorded): the entry and the
 * result must not name a mode or an accountable human. */
static void ungate(mandate_agent_result *res)
{
    if (res->gated && !res->allow && res->verdict.outcome == MD_ACCOUNT_ALLOW) {
        res->verdict.outcome = MD_ACCOUNT_DENY;
        res->verdict.mode = NULL;
        res->verdict.accountable = NULL;
        res->verdict.reason = res->reason;
    }
}

int md_agent_record(mandate_registry *r, mandate_agent_result *res, bool wait)
{
    md_diag d = {0};
    int rc = 0;
    ungate(res);
    if (res->allow && md_registry_writable(r, &d)) {
        res->error = d.code;
        deny(res, MANDATE_CHECK_INTERNAL, "recording the use failed (fail closed): %s", d.msg);
    }
    ungate(res);
    uint64_t index = UINT64_MAX;
    md_buf body;
    md_buf_init(&body, MD_REG_MAX_TEXT);
    /* An approval requested or used is bound to the durable entry (md_account_decided). */
    bool bind = res->gated && r->account && res->verdict.approval_id &&
                res->verdict.outcome != MD_ACCOUNT_DENY;
    rc = result_text(res, true, &body);
    if (rc)
        md_diag_set(&d, rc, 0, 0, "writing the entry: %s", mandate_strerror(rc));
    else
        rc = md_registry_append_text(r, MANDATE_ENTRY_DECISION, body.data, body.len, wait || bind,
                                     &index, &d);
    md_buf_release(&body);
    if (rc) {
        res->error = rc;
        deny(res, MANDATE_CHECK_LEDGER, "the decision could not be recorded (fail closed): %s",
             d.msg);
        ungate(res);
        return rc;
    }
    res->ledger_index = index;
    if (bind) {
        md_diag gd = {0};
        if ((rc = md_account_decided(r->account, &res->verdict, index, &gd))) {
            /* The approval could not be bound to its entry: the decision stands as recorded
             * (an allow already consumed the approval); report it. */
            res->error = rc;
        }
    }
    return 0;
}

static int agent_authorize(mandate_registry *r, const mandate_agent_request *req,
                           mandate_agent_result **out, bool wait, mandate_diag *diag)
{
    if (diag)
        memset(diag, 0, sizeof *diag);
    if (!out)
        return MANDATE_EINVAL;
    *out = NULL;
    if (!r || !req) {
        if (diag) {
            diag->code = MANDATE_EINVAL;
            snprintf(diag->message, sizeof diag->message, "agent authorize: missing argument");
        }
        return MANDATE_EINVAL;
    }
    int rc = md_agent_decide(r, req, out);
    if (rc) {
        if (diag) {
            diag->code = rc;
            snprintf(diag->message, sizeof diag->message, "agent authorize: %s",
                     mandate_strerror(rc));
        }
        return rc;
    }
    md_agent_record(r, *out, wait);
    return 0;
}

MD_EXPORT int mandate_agent_authorize(mandate_registry *r, const mandate_agent_request *req,
                                      mandate_agent_result **out, mandate_diag *diag)
{
    return agent_authorize(r, req, out, true, diag);
}

MD_EXPORT int mandate_agent_authorize_submit(mandate_registry *r, const mandate_agent_request *req,
                                             mandate_agent_result **out, mandate_diag *diag)
{
    return agent_authorize(r, req, out, false, diag);
}

MD_EXPORT bool mandate_agent_result_allowed(const mandate_agent_result *res)
{
    return res && res->allow;
}

MD_EXPORT const char *mandate_agent_result_decision(const mandate_agent_result *res)
{
    if (res && res->allow)
        return "allow";
    if (res && res->gated && res->verdict.outcome == MD_ACCOUNT_APPROVAL_REQUIRED)
        return "approval_required";
    return "deny";
}

MD_EXPORT const char *mandate_agent_result_approval_id(const mandate_agent_result *res)
{
    if (!res || !res->gated || res->verdict.outcome == MD_ACCOUNT_DENY)
        return NULL;
    return res->verdict.approval_id;
}

MD_EXPORT const char *mandate_agent_result_mode(const mandate_agent_result *res)
{
    return res && res->allow && res->gated ? res->verdict.mode : NULL;
}

MD_EXPORT const char *mandate_agent_result_accountable(const mandate_agent_result *res)
{
    return res && res->allow && res->gated ? res->verdict.accountable : NULL;
}

MD_EXPORT int mandate_agent_result_check(const mandate_agent_result *res)
{
    return res ? res->check : MANDATE_CHECK_INTERNAL;
}

MD_EXPORT const char *mandate_agent_result_reason(const mandate_agent_result *res)
{
    return res && res->reason ? res->reason : "";
}

MD_EXPORT int mandate_agent_result_token_reason(const mandate_agent_result *res)
{
    return res ? res->token_reason : 0;
}

MD_EXPORT int mandate_agent_result_error(const mandate_agent_result *res)
{
    return res ? res->error : MANDATE_EINVAL;
}

MD_EXPORT size_t mandate_agent_result_policy_count(const mandate_agent_result *res)
{
    return res ? res->n_policies : 0;
}

MD_EXPORT const char *mandate_agent_result_policy(const mandate_agent_result *res, size_t i)
{
    return res && i < res->n_policies ? res->policies[i] : NULL;
}

MD_EXPORT size_t mandate_agent_result_error_count(const mandate_agent_result *res)
{
    return res ? res->n_errors : 0;
}

MD_EXPORT const char *mandate_agent_result_error_message(const mandate_agent_result *res, size_t i)
{
    return res && i < res->n_errors ? res->errors[i] : NULL;
}

MD_EXPORT uint64_t mandate_agent_result_ledger_index(const mandate_agent_result *res)
{
    return res ? res->ledger_index : UINT64_MAX;
}

MD_EXPORT char *mandate_agent_result_to_json(const mandate_agent_result *res)
{
    if (!res)
        return NULL;
    md_buf b;
    md_buf_init(&b, MD_REG_MAX_TEXT);
    if (result_text(res, false, &b)) {
        md_buf_release(&b);
        b.data = NULL;
    }
    return b.data; /* malloc'd, NUL-terminated */
}

MD_EXPORT void mandate_agent_result_free(mandate_agent_result *res)
{
    if (!res)
        return;
    md_arena_free(res->a);
    free(res);
}
