/*
 * harness.c: the decision paths of harness.h: the registry's agent path for agents acting on a
 * delegation, and a thin path over the Cedar engine, the ledger and the gate for the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <unistd.h>

#include "scratch.h"
#include "cedar/entities.h"
#include "scenarios/harness.h"

/* The story world: people, groups, workflows, agents and a service in the registry; the
 * resources as the caller's entities. */
typedef struct hz_p {
    int kind;
    const char *id, *owner, *workflow;
    const char *member_of[2];
    const char *output, *impact;
} hz_p;

static const hz_p world_people[] = {
    {MANDATE_KIND_GROUP, "support", NULL, NULL, {NULL}, NULL, NULL},
    {MANDATE_KIND_GROUP, "support-leads", NULL, NULL, {"support"}, NULL, NULL},
    {MANDATE_KIND_GROUP, "engineers", NULL, NULL, {NULL}, NULL, NULL},
    {MANDATE_KIND_GROUP, "release-managers", NULL, NULL, {NULL}, NULL, NULL},
    {MANDATE_KIND_GROUP, "hr", NULL, NULL, {NULL}, NULL, NULL},
    {MANDATE_KIND_GROUP, "hr-managers", NULL, NULL, {"hr"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "alice", NULL, NULL, {"support"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "sam", NULL, NULL, {"support"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "lena", NULL, NULL, {"support-leads"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "dora", NULL, NULL, {"support-leads"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "bob", NULL, NULL, {"engineers", "release-managers"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "carol", NULL, NULL, {"engineers", "release-managers"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "hank", NULL, NULL, {"hr-managers"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "hilda", NULL, NULL, {"hr-managers"}, NULL, NULL},
    {MANDATE_KIND_HUMAN, "olga", NULL, NULL, {NULL}, NULL, NULL},
    {MANDATE_KIND_WORKFLOW,
     "support-reply",
     "alice",
     NULL,
     {NULL},
     "customer_response",
     "customer"},
    {MANDATE_KIND_WORKFLOW, "coding", "bob", NULL, {NULL}, "code", "production"},
    {MANDATE_KIND_WORKFLOW, "hr-assist", "hank", NULL, {NULL}, "recommendation", "employee"},
    {MANDATE_KIND_WORKFLOW, "summaries", "olga", NULL, {NULL}, "summary", "internal"},
    {MANDATE_KIND_AGENT, "support-drafter", "alice", "support-reply", {NULL}, NULL, NULL},
    {MANDATE_KIND_AGENT, "lead-bot", "lena", "support-reply", {"support-leads"}, NULL, NULL},
    {MANDATE_KIND_AGENT, "coder", "bob", "coding", {NULL}, NULL, NULL},
    {MANDATE_KIND_AGENT, "hr-bot", "hank", "hr-assist", {NULL}, NULL, NULL},
    {MANDATE_KIND_AGENT, "summarizer", "olga", "summaries", {NULL}, NULL, NULL},
    {MANDATE_KIND_SERVICE, "cron", NULL, NULL, {NULL}, NULL, NULL},
};

static const char world_resources[] =
    "["
    "{\"uid\":{\"type\":\"Ticket\",\"id\":\"T-1\"},\"attrs\":{\"customer\":\"acme\"},\"parents\":[]"
    "},"
    "{\"uid\":{\"type\":\"Ticket\",\"id\":\"T-2\"},\"attrs\":{\"customer\":\"globex\"},\"parents\":"
    "[]},"
    "{\"uid\":{\"type\":\"Branch\",\"id\":\"main\"},\"attrs\":{\"repository\":\"shop\","
    "\"production\":true},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Branch\",\"id\":\"feature-x\"},\"attrs\":{\"repository\":\"shop\","
    "\"production\":false},\"parents\":[]},"
    "{\"uid\":{\"type\":\"EmployeeRecord\",\"id\":\"E-7\"},\"attrs\":{\"employee\":{\"type\":"
    "\"Human\",\"id\":\"sam\"}},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Document\",\"id\":\"D-1\"},\"attrs\":{},\"parents\":[]}"
    "]";

/* Tokens are issued an hour before the stories' clock and live two days. */
#define HZ_ISSUED_AT (1700000000 - 3600)
#define HZ_LIFETIME (2 * 86400)

static int log_json(hz *h, int type, json_t *body, uint64_t *idx)
{
    md_diag d = {0};
    return md_account_log(h->acc, type, body, 0, idx, &d);
}

int hz_open(hz *h, const char *policies)
{
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "/tmp/mandate-account-XXXXXX");
    if (!mkdtemp(h->dir))
        return MANDATE_EIO;
    char data[300];
    snprintf(data, sizeof data, "%s/data", h->dir);
    mandate_diag d = {0};
    int rc = mandate_ledger_init(data, "test.mandate/account", &d);
    mandate_registry_opts ro = {
        .data_dir = data, .max_lifetime = HZ_LIFETIME, .approval_ttl_ms = 600000};
    if (!rc)
        rc = mandate_registry_open(&h->reg, &ro, &d);
    if (!rc) {
        h->ledger = mandate_registry_ledger(h->reg);
        h->acc = mandate_registry_account(h->reg);
    }
    for (size_t i = 0; !rc && i < MD_ARRAY_LEN(world_people); i++) {
        const hz_p *w = &world_people[i];
        const char *outputs[1] = {w->output}, *impacts[1] = {w->impact};
        size_t nm = w->member_of[1] ? 2 : w->member_of[0] ? 1 : 0;
        mandate_principal p = {.kind = w->kind,
                               .id = w->id,
                               .owner = w->owner,
                               .workflow = w->workflow,
                               .member_of = w->member_of,
                               .n_member_of = nm,
                               .outputs = outputs,
                               .n_outputs = w->output ? 1 : 0,
                               .impacts = impacts,
                               .n_impacts = w->impact ? 1 : 0};
        rc = mandate_registry_add(h->reg, &p, "harness", &d);
    }
    if (!rc)
        rc = mandate_registry_set_status(h->reg, "Human::\"dora\"", MANDATE_STATUS_DEPARTED,
                                         "harness", &d);
    char *schema = NULL, *ptext = NULL, *ents = NULL;
    size_t sl = 0, pl = 0;
    if (!rc)
        rc = mandate_account_load_pack("policies", NULL, &schema, &sl, &ptext, &pl, &d);
    const char *pt = policies ? policies : ptext;
    if (!rc)
        rc = mandate_registry_set_schema(h->reg, schema, sl, &d);
    if (!rc)
        rc = mandate_registry_set_entities(h->reg, world_resources, strlen(world_resources), &d);
    if (!rc)
        rc = mandate_registry_set_policies(h->reg, pt, strlen(pt), &d);
    if (!rc)
        rc = mandate_registry_entities_json(h->reg, &ents, &d);
    if (rc) {
        fprintf(stderr, "harness: %s\n", d.message);
        free(schema);
        free(ptext);
        return rc;
    }
    /* The thin path's engine inputs: the same schema, policies and entities. */
    md_diag md = {0};
    h->a = md_arena_new();
    json_t *j = NULL;
    if (!(rc = md_schema_parse(h->a, schema, sl, &h->schema, &md)) &&
        !(rc = md_policyset_parse(h->a, pt, strlen(pt), NULL, &h->ps, &md)) &&
        !(rc = md_json_parse(ents, strlen(ents), &j, &md)))
        rc = md_entities_from_json(h->a, j, h->schema, &h->es, &md);
    h->entities_json = ents;
    json_decref(j);
    free(schema);
    free(ptext);
    if (rc)
        fprintf(stderr, "harness: %s\n", md.msg);
    return rc;
}

void hz_close(hz *h)
{
    for (size_t i = 0; i < h->n_tokens; i++)
        free(h->tokens[i].token);
    mandate_registry_close(h->reg); /* closes the account and the ledger */
    md_arena_free(h->a);
    free(h->entities_json);
    if (scratch_remove(h->dir) != 0)
        fprintf(stderr, "harness: could not remove %s\n", h->dir);
    memset(h, 0, sizeof *h);
}

/* The delegation from delegator to agent, issued by the registry once (every action and
 * resource type of the pack in scope). NULL when the registry refuses (why says so). */
static const hz_token *token_for(hz *h, const char *delegator, const char *agent)
{
    for (size_t i = 0; i < h->n_tokens; i++)
        if (!strcmp(h->tokens[i].delegator, delegator) && !strcmp(h->tokens[i].agent, agent))
            return &h->tokens[i];
    if (h->n_tokens == MD_ARRAY_LEN(h->tokens))
        return NULL;
    hz_token *t = &h->tokens[h->n_tokens++];
    memset(t, 0, sizeof *t);
    snprintf(t->delegator, sizeof t->delegator, "%s", delegator);
    snprintf(t->agent, sizeof t->agent, "%s", agent);
    static const char *const actions[] = {"Action::\"draft_reply\"", "Action::\"send_reply\"",
                                          "Action::\"push\"", "Action::\"update_employee_record\"",
                                          "Action::\"summarize\""};
    static const char *const resources[] = {"Ticket", "Branch", "EmployeeRecord", "Document"};
    mandate_delegation dl = {.subject = agent,
                             .delegator = delegator,
                             .task = "story",
                             .actions = actions,
                             .n_actions = MD_ARRAY_LEN(actions),
                             .resources = resources,
                             .n_resources = MD_ARRAY_LEN(resources),
                             .max_uses = 100000,
                             .lifetime = HZ_LIFETIME,
                             .now = HZ_ISSUED_AT};
    mandate_diag d = {0};
    mandate_token_error te = {0};
    if (mandate_registry_delegate(h->reg, &dl, delegator, &t->token, &te, &d))
        snprintf(t->why, sizeof t->why, "no delegation: %.300s", d.message);
    return t;
}

/* An agent acting for a human: the real agent decision path. */
static int real_decide(hz *h, const hz_req *r, hz_result *out)
{
    const hz_token *t = token_for(h, r->delegator, r->principal);
    if (!t || !t->token) {
        out->outcome = MD_ACCOUNT_DENY;
        snprintf(out->reason, sizeof out->reason, "%s", t ? t->why : "too many delegations");
        out->index = UINT64_MAX;
        return 0;
    }
    mandate_agent_request q = {.token = t->token,
                               .principal = r->principal,
                               .action = r->action,
                               .resource = r->resource,
                               .context_json = r->context,
                               .now = r->now_ms ? r->now_ms / 1000 : 0,
                               .approval_id = r->approval_id};
    mandate_agent_result *res = NULL;
    mandate_diag d = {0};
    int rc = mandate_agent_authorize(h->reg, &q, &res, &d);
    if (rc) {
        fprintf(stderr, "harness: agent authorize failed: %s\n", d.message);
        return rc;
    }
    const char *dec = mandate_agent_result_decision(res);
    out->outcome = !strcmp(dec, "allow")               ? MD_ACCOUNT_ALLOW
                   : !strcmp(dec, "approval_required") ? MD_ACCOUNT_APPROVAL_REQUIRED
                                                       : MD_ACCOUNT_DENY;
    const char *id = mandate_agent_result_approval_id(res);
    const char *mode = mandate_agent_result_mode(res);
    const char *who = mandate_agent_result_accountable(res);
    snprintf(out->reason, sizeof out->reason, "%s", mandate_agent_result_reason(res));
    snprintf(out->approval_id, sizeof out->approval_id, "%s", id ? id : "");
    snprintf(out->mode, sizeof out->mode, "%s", mode ? mode : "");
    snprintf(out->accountable, sizeof out->accountable, "%s", who ? who : "");
    out->index = mandate_agent_result_ledger_index(res);
    int check = mandate_agent_result_check(res);
    if (check == MANDATE_CHECK_INTERNAL || check == MANDATE_CHECK_LEDGER) {
        fprintf(stderr, "harness: agent path failed: %s\n", out->reason);
        rc = MANDATE_EINTERNAL;
    }
    mandate_agent_result_free(res);
    return rc;
}

static const char *uid_text(md_arena *a, const md_euid *u)
{
    md_buf b;
    md_buf_init(&b, 4096);
    md_euid_print(&b, u);
    const char *s = md_arena_strndup(a, b.data, b.len);
    md_buf_release(&b);
    return s;
}

/* A delegation entry per (delegator, agent), like the registry's, once. */
static const char *delegation_for(hz *h, md_arena *a, const char *delegator, const char *agent)
{
    const char *jti = md_arena_printf(a, "jti-%s-%s", delegator, agent);
    char key[512];
    snprintf(key, sizeof key, "%s", jti);
    for (char *c = key; *c; c++)
        if (*c == '"' || *c == ':')
            *c = '_';
    jti = md_arena_strndup(a, key, strlen(key));
    /* the index dedups by (key, idx); log once per run through a meta flag */
    int64_t seen = 0;
    md_diag d = {0};
    h->acc->st->ops->meta_get(h->acc->st, jti, &seen, &d);
    if (!seen) {
        log_json(h, MANDATE_ENTRY_DELEGATION,
                 json_pack("{s:s,s:s,s:n,s:s,s:[s],s:s}", "op", "delegate", "jti", jti, "parent",
                           "subject", agent, "delegators", delegator, "actor", delegator),
                 NULL);
        h->acc->st->ops->meta_put(h->acc->st, jti, 1, &d);
    }
    return jti;
}

int hz_decide(hz *h, const hz_req *r, hz_result *out)
{
    memset(out, 0, sizeof *out);
    if (r->delegator && !strncmp(r->principal, "Agent::", 7))
        return real_decide(h, r, out);
    md_arena *a = md_arena_new();
    md_diag d = {0};
    md_request rq = {0};
    int rc;
    if ((rc = md_euid_parse(a, r->principal, strlen(r->principal), &rq.principal, &d)) ||
        (rc = md_euid_parse(a, r->action, strlen(r->action), &rq.action, &d)) ||
        (rc = md_euid_parse(a, r->resource, strlen(r->resource), &rq.resource, &d)))
        goto out;
    const md_entity *pe = md_entities_find(h->es, &rq.principal);
    md_value ov_v, wv_v, iv_v;
    const md_value *ov = pe && md_record_get(pe->attrs, MD_STR_LIT("owner"), &ov_v) ? &ov_v : NULL;
    const md_value *wv =
        pe && md_record_get(pe->attrs, MD_STR_LIT("workflow"), &wv_v) ? &wv_v : NULL;
    const md_entity *we = wv ? md_entities_find(h->es, &wv->u.uid) : NULL;
    const md_value *iv =
        we && md_record_get(we->attrs, MD_STR_LIT("impacts"), &iv_v) ? &iv_v : NULL;
    const char *owner = ov ? uid_text(a, &ov->u.uid) : NULL;
    const char *workflow = wv ? uid_text(a, &wv->u.uid) : NULL;
    const char *impacts[8];
    size_t n_impacts = 0;
    for (size_t i = 0; iv && i < iv->u.set->n && n_impacts < 8; i++)
        impacts[n_impacts++] =
            md_arena_strndup(a, iv->u.set->items[i].u.s.ptr, iv->u.set->items[i].u.s.len);
    md_euid del = {0};
    const char *jti = NULL;
    if (r->delegator) {
        if ((rc = md_euid_parse(a, r->delegator, strlen(r->delegator), &del, &d)))
            goto out;
        jti = delegation_for(h, a, r->delegator, r->principal);
    }
    /* context: the caller's plus mandate */
    json_t *cj = NULL;
    md_value user;
    if ((rc = md_json_parse(r->context ? r->context : "{}", strlen(r->context ? r->context : "{}"),
                            &cj, &d)))
        goto out;
    rc = md_context_from_json(a, cj, NULL, NULL, &user, &d);
    json_decref(cj);
    if (rc)
        goto out;
    md_field m[8];
    size_t nm = 0;
    md_value iset = {.kind = MD_V_SET};
    md_value items[8];
    for (size_t i = 0; i < n_impacts; i++)
        items[i] = (md_value){.kind = MD_V_STRING, .u.s = md_str_c(impacts[i])};
    md_set_new(a, items, n_impacts, &iset.u.set);
    if (r->delegator)
        m[nm++] = (md_field){MD_STR_LIT("delegator"), {.kind = MD_V_ENTITY, .u.uid = del}};
    if (ov)
        m[nm++] = (md_field){MD_STR_LIT("owner"), *ov};
    if (wv)
        m[nm++] = (md_field){MD_STR_LIT("workflow"), *wv};
    m[nm++] = (md_field){MD_STR_LIT("impact"), iset};
    m[nm++] =
        (md_field){MD_STR_LIT("approval"),
                   {.kind = MD_V_STRING, .u.s = md_str_c(r->approval_id ? "presented" : "none")}};
    const md_record *mrec, *ctx;
    md_str dup;
    md_record_new(a, m, nm, &mrec, &dup);
    size_t nu = user.u.rec->n;
    md_field *all = md_arena_array(a, nu + 1, sizeof *all);
    for (size_t i = 0; i < nu; i++)
        all[i] = md_record_at(user.u.rec, i);
    all[nu] = (md_field){MD_STR_LIT("mandate"), {.kind = MD_V_RECORD, .u.rec = mrec}};
    if ((rc = md_record_new(a, all, nu + 1, &ctx, &dup)))
        goto out;
    rq.context = (md_value){.kind = MD_V_RECORD, .u.rec = ctx};
    /* check a: the agent; check b: the delegator (strict: an erroring forbid denies) */
    md_response ra, rb;
    bool allow = false;
    const char *why = "";
    if ((rc = md_authorize(a, h->ps, &rq, h->es, &ra)))
        goto out;
    allow = ra.allow;
    for (size_t i = 0; i < ra.n_errors; i++)
        if (!ra.errors[i].policy->permit)
            allow = false;
    if (!allow)
        why = "the policies deny the agent";
    if (allow && r->delegator && !md_euid_eq(&del, &rq.principal)) {
        md_request rd = rq;
        rd.principal = del;
        if ((rc = md_authorize(a, h->ps, &rd, h->es, &rb)))
            goto out;
        if (!rb.allow) {
            allow = false;
            why = "the policies deny the delegator";
        }
    }
    md_account_verdict v = {.outcome = MD_ACCOUNT_DENY, .reason = why, .dwell_ms = -1};
    if (allow) {
        md_account_req ar = {.principal = r->principal,
                             .action = r->action,
                             .resource = r->resource,
                             .context_json = r->context,
                             .delegator = r->delegator,
                             .owner = owner,
                             .workflow = workflow,
                             .workflow_impacts = impacts,
                             .n_workflow_impacts = n_impacts,
                             .delegation = jti,
                             .reasons = ra.reasons,
                             .n_reasons = ra.n_reasons,
                             .approval_id = r->approval_id,
                             .now_ms = r->now_ms};
        if ((rc = md_account_gate(h->acc, &ar, a, &v, &d)))
            goto out;
    }
    const char **pols = md_arena_array(a, ra.n_reasons + 1, sizeof *pols);
    size_t n_pols = 0;
    for (size_t i = 0; pols && allow && i < ra.n_reasons; i++) {
        md_str n = md_policy_name(ra.reasons[i]);
        if ((pols[n_pols] = md_arena_strndup(a, n.ptr, n.len)))
            n_pols++;
    }
    md_jobj o;
    md_jobj_init(&o);
    md_jobj_str(&o, "decision", v.outcome == MD_ACCOUNT_ALLOW ? "allow" : "deny");
    md_jobj_str(&o, "principal", r->principal);
    md_jobj_str(&o, "action", r->action);
    md_jobj_str(&o, "resource", r->resource);
    md_jobj_str(&o, "delegator", r->delegator);
    md_jobj_str(&o, "delegation", jti);
    md_jobj_str(&o, "workflow", workflow);
    md_jobj_str(&o, "owner", owner);
    md_jobj_strs(&o, "policies", pols, n_pols);
    md_jobj_str(&o, "reason", v.reason ? v.reason : "");
    md_account_verdict_write(&v, &o);
    md_buf text;
    md_buf_init(&text, 1 << 20);
    json_t *body = NULL;
    if ((rc = md_jobj_finish(&o, &text)) == 0)
        rc = md_json_parse(text.data, text.len, &body, &d);
    md_buf_release(&text);
    if (rc)
        goto out;
    if ((rc = md_account_log(h->acc, MANDATE_ENTRY_DECISION, body, r->now_ms, &out->index, &d)))
        goto out;
    if ((rc = md_account_decided(h->acc, &v, out->index, &d)))
        goto out;
    out->outcome = v.outcome;
    snprintf(out->reason, sizeof out->reason, "%s", v.reason ? v.reason : "");
    snprintf(out->approval_id, sizeof out->approval_id, "%s", v.approval_id ? v.approval_id : "");
    snprintf(out->mode, sizeof out->mode, "%s", v.mode ? v.mode : "");
    snprintf(out->accountable, sizeof out->accountable, "%s", v.accountable ? v.accountable : "");
out:
    if (rc)
        fprintf(stderr, "harness: decide failed: %s\n", d.msg);
    md_arena_free(a);
    return rc;
}

int hz_approve(hz *h, const char *id, const char *approver, const char *mode, int64_t now_ms,
               mandate_diag *d)
{
    mandate_approval_input in = {
        .id = id, .approver = approver, .approve = true, .mode = mode, .now_ms = now_ms};
    return mandate_registry_approve(h->reg, &in, NULL, d);
}

int hz_reject(hz *h, const char *id, const char *approver, const char *reason, int64_t now_ms,
              mandate_diag *d)
{
    mandate_approval_input in = {
        .id = id, .approver = approver, .approve = false, .reason = reason, .now_ms = now_ms};
    return mandate_registry_approve(h->reg, &in, NULL, d);
}
