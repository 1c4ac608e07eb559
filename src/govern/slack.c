/*
 * slack.c: what the active policies permit an agent, as (action, resource type) pairs derived from
 * the policy scopes, and the narrower permits that grant only what was exercised (review_int.h).
 */
#include <stdio.h>

#include "cedar/parser.h"
#include "govern/review_int.h"

#define MAX_HIERARCHY 64 /* ancestors followed per action or entity type */

typedef struct upair {
    md_pair p;
    md_euid action;
    bool in_schema;
    size_t n_action_anc, n_type_anc;
    const md_euid *action_anc; /* the action groups the action is in, transitively */
    const md_str *type_anc;    /* the entity types the resource type may be in, transitively */
} upair;

typedef struct spolicy {
    const md_policy *p;
    md_str name;     /* @id, else the parser's id */
    bool whole_type; /* resource scope is any or `is T`: a forbid covers whole types */
    uint8_t *covers; /* per universe pair: action and resource scopes hold */
} spolicy;

struct md_slack {
    md_arena *a;
    const md_entities *es;
    const md_schema *schema;
    size_t n, cap;
    upair *u;
    size_t n_pol;
    spolicy *pol;
};

size_t md_slack_count(const md_slack *s)
{
    return s->n;
}

const md_pair *md_slack_pair(const md_slack *s, size_t i)
{
    return &s->u[i].p;
}

size_t md_slack_find(const md_slack *s, md_str action, md_str rtype)
{
    for (size_t i = 0; i < s->n; i++)
        if (md_str_eq(s->u[i].p.action, action) && md_str_eq(s->u[i].p.rtype, rtype))
            return i;
    return SIZE_MAX;
}

/* Transitive action groups of an action (schema memberOf), breadth first, without repeats. */
static int action_ancestors(md_slack *s, upair *u)
{
    if (!s->schema)
        return 0;
    md_euid *v = md_arena_array(s->a, MAX_HIERARCHY, sizeof *v);
    if (!v)
        return MANDATE_ENOMEM;
    size_t n = 0;
    const md_action *act = md_schema_action(s->schema, &u->action);
    for (size_t k = 0; act && k < act->n_member_of && n < MAX_HIERARCHY; k++)
        v[n++] = act->member_of[k];
    for (size_t i = 0; i < n; i++) {
        const md_action *g = md_schema_action(s->schema, &v[i]);
        for (size_t k = 0; g && k < g->n_member_of && n < MAX_HIERARCHY; k++) {
            bool seen = false;
            for (size_t j = 0; j < n && !seen; j++)
                seen = md_euid_eq(&v[j], &g->member_of[k]);
            if (!seen)
                v[n++] = g->member_of[k];
        }
    }
    u->action_anc = v;
    u->n_action_anc = n;
    return 0;
}

static int type_ancestors(md_slack *s, upair *u)
{
    if (!s->schema)
        return 0;
    md_str *v = md_arena_array(s->a, MAX_HIERARCHY, sizeof *v);
    if (!v)
        return MANDATE_ENOMEM;
    size_t n = 0;
    const md_entity_type *t = md_schema_entity_type(s->schema, u->p.rtype);
    for (size_t k = 0; t && k < t->n_member_of && n < MAX_HIERARCHY; k++)
        v[n++] = t->member_of[k];
    for (size_t i = 0; i < n; i++) {
        const md_entity_type *g = md_schema_entity_type(s->schema, v[i]);
        for (size_t k = 0; g && k < g->n_member_of && n < MAX_HIERARCHY; k++) {
            bool seen = false;
            for (size_t j = 0; j < n && !seen; j++)
                seen = md_str_eq(v[j], g->member_of[k]);
            if (!seen)
                v[n++] = g->member_of[k];
        }
    }
    u->type_anc = v;
    u->n_type_anc = n;
    return 0;
}

static int add_pair(md_slack *s, md_str action, md_str rtype, bool in_schema)
{
    if (md_slack_find(s, action, rtype) != SIZE_MAX)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        upair *v = md_arena_array(s->a, cap, sizeof *v);
        if (!v)
            return MANDATE_ENOMEM;
        if (s->n)
            memcpy(v, s->u, s->n * sizeof *v);
        s->u = v;
        s->cap = cap;
    }
    upair *u = &s->u[s->n];
    memset(u, 0, sizeof *u);
    u->p.action = md_arena_str(s->a, action);
    u->p.rtype = md_arena_str(s->a, rtype);
    u->in_schema = in_schema;
    if (!u->p.action.ptr || !u->p.rtype.ptr)
        return MANDATE_ENOMEM;
    if (md_euid_parse(s->a, u->p.action.ptr, u->p.action.len, &u->action, NULL))
        return 0; /* not a uid: no policy scope can name it; leave it out */
    int rc = action_ancestors(s, u);
    if (!rc)
        rc = type_ancestors(s, u);
    if (!rc)
        s->n++;
    return rc;
}

static bool action_in(const upair *u, const md_euid *target)
{
    if (md_euid_eq(&u->action, target))
        return true;
    for (size_t i = 0; i < u->n_action_anc; i++)
        if (md_euid_eq(&u->action_anc[i], target))
            return true;
    return false;
}

static bool type_in(const upair *u, md_str type)
{
    if (md_str_eq(u->p.rtype, type))
        return true;
    for (size_t i = 0; i < u->n_type_anc; i++)
        if (md_str_eq(u->type_anc[i], type))
            return true;
    return false;
}

/* The scope's target uid: its own, or a linked policy's slot value; NULL for an unlinked slot. */
static const md_euid *target(const md_scope *sc, bool has_slot, const md_euid *slot)
{
    return sc->slot ? (has_slot ? slot : NULL) : &sc->uid;
}

static bool action_scope_holds(const md_scope *sc, const upair *u)
{
    switch (sc->kind) {
    case MD_SCOPE_ANY: return true;
    case MD_SCOPE_EQ: return md_euid_eq(&u->action, &sc->uid);
    case MD_SCOPE_IN: return action_in(u, &sc->uid);
    case MD_SCOPE_IN_LIST:
        for (size_t i = 0; i < sc->n_uids; i++)
            if (action_in(u, &sc->uids[i]))
                return true;
        return false;
    default: return false;
    }
}

static bool resource_scope_holds(const md_policy *p, const upair *u)
{
    const md_scope *sc = &p->resource;
    const md_euid *t = target(sc, p->has_resource_slot, &p->resource_slot);
    switch (sc->kind) {
    case MD_SCOPE_ANY: return true;
    case MD_SCOPE_EQ: return t && md_str_eq(t->type, u->p.rtype);
    case MD_SCOPE_IN: return t && type_in(u, t->type);
    case MD_SCOPE_IS: return md_str_eq(sc->type, u->p.rtype);
    case MD_SCOPE_IS_IN: return md_str_eq(sc->type, u->p.rtype) && t && type_in(u, t->type);
    default: return false;
    }
}

static bool principal_holds(const md_slack *s, const md_policy *p, const md_euid *x)
{
    const md_scope *sc = &p->principal;
    const md_euid *t = target(sc, p->has_principal_slot, &p->principal_slot);
    switch (sc->kind) {
    case MD_SCOPE_ANY: return true;
    case MD_SCOPE_EQ: return t && md_euid_eq(x, t);
    case MD_SCOPE_IN: return t && md_entities_in(s->es, x, t);
    case MD_SCOPE_IS: return md_str_eq(x->type, sc->type);
    case MD_SCOPE_IS_IN: return md_str_eq(x->type, sc->type) && t && md_entities_in(s->es, x, t);
    default: return false;
    }
}

int md_slack_new(md_arena *a, const md_policyset *ps, const md_schema *schema,
                 const md_entities *es, const md_pair *observed, size_t n_observed, md_slack **out,
                 md_diag *d)
{
    md_slack *s = md_arena_alloc(a, sizeof *s);
    if (!s)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory analysing policy scopes");
    s->a = a;
    s->es = es;
    s->schema = schema;
    int rc = 0;
    md_buf b;
    md_buf_init(&b, 1u << 16);
    for (size_t i = 0; schema && i < schema->n_actions && !rc; i++) {
        const md_action *act = &schema->actions[i];
        bool agent = false;
        for (size_t k = 0; act->has_applies_to && k < act->n_principals && !agent; k++)
            agent = md_str_eq_c(act->principals[k], "Agent");
        if (!agent)
            continue;
        b.len = 0;
        if ((rc = md_euid_print(&b, &act->uid)))
            break;
        for (size_t k = 0; k < act->n_resources && !rc; k++)
            rc = add_pair(s, (md_str){b.data, b.len}, act->resources[k], true);
    }
    md_buf_release(&b);
    for (size_t i = 0; i < n_observed && !rc; i++)
        rc = add_pair(s, observed[i].action, observed[i].rtype, false);
    size_t np = ps ? ps->n : 0;
    if (!rc && np && !(s->pol = md_arena_array(a, np, sizeof *s->pol)))
        rc = MANDATE_ENOMEM;
    for (size_t i = 0; i < np && !rc; i++) {
        const md_policy *p = ps->policies[i];
        spolicy *sp = &s->pol[s->n_pol];
        if (!(sp->covers = md_arena_array(a, s->n + 1, 1))) {
            rc = MANDATE_ENOMEM;
            break;
        }
        sp->p = p;
        sp->name = md_policy_name(p);
        sp->whole_type = p->resource.kind == MD_SCOPE_ANY || p->resource.kind == MD_SCOPE_IS;
        for (size_t k = 0; k < s->n; k++)
            sp->covers[k] =
                action_scope_holds(&p->action, &s->u[k]) && resource_scope_holds(p, &s->u[k]);
        s->n_pol++;
    }
    if (rc)
        return md_diag_set(d, rc, 0, 0, "out of memory analysing policy scopes");
    *out = s;
    return 0;
}

static bool listed(const char *const *v, size_t n, md_str x)
{
    for (size_t i = 0; i < n; i++)
        if (md_str_eq_c(x, v[i]))
            return true;
    return false;
}

void md_slack_agent(const md_slack *s, const md_reg_principal *agent,
                    const md_reg_principal *workflow, uint8_t *flags)
{
    for (size_t k = 0; k < s->n; k++) {
        const md_pair *p = &s->u[k].p;
        bool entitled =
            !workflow ||
            ((!workflow->n_actions || listed(workflow->actions, workflow->n_actions, p->action)) &&
             (!workflow->n_resource_types ||
              listed(workflow->resource_types, workflow->n_resource_types, p->rtype)));
        flags[k] = entitled ? MD_SLACK_ENTITLED : 0;
    }
    for (size_t i = 0; i < s->n_pol; i++) {
        const spolicy *sp = &s->pol[i];
        const md_policy *p = sp->p;
        if (!p->permit && (p->n_conds || !sp->whole_type))
            continue; /* a conditional or partial forbid removes no whole pair */
        if (!principal_holds(s, p, &agent->euid))
            continue;
        for (size_t k = 0; k < s->n; k++) {
            if (!sp->covers[k])
                continue;
            if (!p->permit)
                flags[k] |= MD_SLACK_FORBID;
            else
                flags[k] |= MD_SLACK_PERMIT | (p->n_conds ? 0 : MD_SLACK_UNCONDITIONAL);
        }
    }
}

/* ---- the fix: narrowed permits ---- */

/* The policy text after its scope's closing parenthesis: the conditions and the ';'. */
static md_str conditions_text(const md_policy *p)
{
    md_lexer lx;
    md_token t;
    md_lexer_init(&lx, p->text.ptr, p->text.len);
    bool after_at = false, in_scope = false;
    int depth = 0;
    while (md_lexer_next(&lx, &t, NULL) == 0 && t.kind != MD_TK_EOF) {
        if (!in_scope) {
            bool effect = t.kind == MD_TK_IDENT && !after_at &&
                          (t.kw == MD_KW_PERMIT || t.kw == MD_KW_FORBID);
            after_at = t.kind == MD_TK_AT;
            in_scope = effect;
            continue;
        }
        if (t.kind == MD_TK_LPAREN)
            depth++;
        else if (t.kind == MD_TK_RPAREN && --depth == 0)
            return (md_str){p->text.ptr + t.off + 1, p->text.len - t.off - 1};
    }
    return MD_STR_LIT(";");
}

/* A comment line: control bytes would end the comment early, so they become '?'. */
static int comment(md_buf *out, const char *text)
{
    int rc = md_buf_puts(out, "// ");
    for (const char *c = text; *c && !rc; c++)
        rc = md_buf_append(out, (unsigned char)*c < 0x20 ? "?" : c, 1);
    return rc ? rc : md_buf_puts(out, "\n");
}

static int cedar_str(md_buf *out, md_str s)
{
    md_value v = {.kind = MD_V_STRING, .u.s = s};
    return md_value_print(out, &v);
}

static int print_scope_uid(md_buf *out, const char *prefix, const md_euid *u)
{
    int rc = md_buf_puts(out, prefix);
    return rc ? rc : md_euid_print(out, u);
}

/* One narrowed copy of permit p for the pairs sel[0..n) (all of resource type rtype). */
static int narrowed(const md_slack *s, const spolicy *sp, const char *principal, md_str rtype,
                    bool split, const size_t *sel, size_t n, md_buf *out)
{
    const md_policy *p = sp->p;
    int rc = md_buf_puts(out, "@id(");
    md_buf id;
    md_buf_init(&id, 4096);
    if (!rc)
        rc = md_buf_printf(&id, "%.*s-narrowed%s%.*s", (int)sp->name.len, sp->name.ptr,
                           split ? "-" : "", split ? (int)rtype.len : 0, rtype.ptr);
    if (!rc)
        rc = cedar_str(out, (md_str){id.data, id.len});
    md_buf_release(&id);
    if (!rc)
        rc = md_buf_puts(out, ")\n");
    for (size_t i = 0; i < p->n_annotations && !rc; i++) {
        const md_annotation *an = &p->annotations[i];
        if (md_str_eq_c(an->key, "id"))
            continue;
        rc = md_buf_printf(out, "@%.*s(", (int)an->key.len, an->key.ptr);
        if (!rc)
            rc = cedar_str(out, an->value);
        if (!rc)
            rc = md_buf_puts(out, ")\n");
    }
    if (!rc)
        rc = md_buf_printf(out, "permit (\n    %s,\n    action ", principal);
    for (size_t i = 0; i < n && !rc; i++)
        rc = md_buf_printf(out, "%s%s",
                           i       ? ", "
                           : n > 1 ? "in ["
                                   : "== ",
                           s->u[sel[i]].p.action.ptr);
    if (!rc)
        rc = md_buf_puts(out, n > 1 ? "],\n    resource " : ",\n    resource ");
    const md_scope *sc = &p->resource;
    const md_euid *t = target(sc, p->has_resource_slot, &p->resource_slot);
    if (!rc) {
        if (sc->kind == MD_SCOPE_EQ && t)
            rc = print_scope_uid(out, "== ", t);
        else if ((sc->kind == MD_SCOPE_IN || sc->kind == MD_SCOPE_IS_IN) && t) {
            if (!(rc = md_buf_printf(out, "is %.*s in ", (int)rtype.len, rtype.ptr)))
                rc = md_euid_print(out, t);
        } else
            rc = md_buf_printf(out, "is %.*s", (int)rtype.len, rtype.ptr);
    }
    md_str tail = conditions_text(p);
    if (!rc)
        rc = md_buf_puts(out, "\n)");
    if (!rc)
        rc = md_buf_append(out, tail.ptr, tail.len);
    return rc ? rc : md_buf_puts(out, "\n\n");
}

int md_slack_fix(const md_slack *s, const md_reg_principal *const *agents, size_t n_agents,
                 const char *workflow, const size_t *exercised, size_t n_exercised, size_t n_unused,
                 md_buf *out)
{
    md_buf line, principal, names;
    md_buf_init(&line, 8192);
    md_buf_init(&principal, 8192);
    md_buf_init(&names, 8192);
    size_t *sel = md_arena_array(s->a, n_exercised + 1, sizeof *sel);
    bool *done = md_arena_array(s->a, n_exercised + 1, sizeof *done);
    bool *granted = md_arena_array(s->a, n_exercised + 1, sizeof *granted);
    int rc = sel && done && granted ? 0 : MANDATE_ENOMEM;
    const char *who = workflow ? workflow : agents[0]->uid;
    if (!rc)
        rc = workflow ? md_buf_printf(&principal, "principal is Agent in %s", workflow)
                      : md_buf_printf(&principal, "principal == %s", agents[0]->uid);
    md_buf body;
    md_buf_init(&body, 1u << 20);
    for (size_t i = 0; i < s->n_pol && !rc; i++) {
        const spolicy *sp = &s->pol[i];
        if (!sp->p->permit)
            continue;
        bool holds = false;
        for (size_t k = 0; k < n_agents && !holds; k++)
            holds = principal_holds(s, sp->p, &agents[k]->euid);
        if (!holds)
            continue;
        size_t n_cov = 0;
        for (size_t k = 0; k < n_exercised; k++) {
            done[k] = !sp->covers[exercised[k]] || (s->schema && !s->u[exercised[k]].in_schema);
            n_cov += !done[k];
            granted[k] |= !done[k];
        }
        if (!n_cov)
            continue;
        bool split = false; /* more than one resource type: one policy each, ids by type */
        const md_str *first = NULL;
        for (size_t k = 0; k < n_exercised; k++) {
            if (done[k])
                continue;
            if (!first)
                first = &s->u[exercised[k]].p.rtype;
            split |= !md_str_eq(s->u[exercised[k]].p.rtype, *first);
        }
        if (!rc)
            rc = md_buf_printf(&names, "%s%.*s", names.len ? ", " : "", (int)sp->name.len,
                               sp->name.ptr);
        for (size_t k = 0; k < n_exercised && !rc; k++) {
            if (done[k])
                continue;
            md_str rtype = s->u[exercised[k]].p.rtype;
            size_t n = 0;
            for (size_t j = k; j < n_exercised; j++)
                if (!done[j] && md_str_eq(s->u[exercised[j]].p.rtype, rtype)) {
                    sel[n++] = exercised[j];
                    done[j] = true;
                }
            rc = narrowed(s, sp, principal.data, rtype, split, sel, n, &body);
        }
    }
    if (!rc && body.len) {
        rc = md_buf_printf(&line,
                           "Narrower permits for %s%s: exactly the (action, resource type) "
                           "pairs used in the window; %zu permitted pair%s went unused.",
                           workflow ? "the agents of " : "", who, n_unused,
                           n_unused == 1 ? "" : "s");
        if (!rc)
            rc = comment(out, line.data);
        line.len = 0;
        if (!rc)
            rc = md_buf_printf(&line,
                               "Put them in place of what %s grants %s now, keeping the "
                               "conditions and obligations:",
                               names.data, workflow ? "these agents" : "this agent");
        if (!rc)
            rc = comment(out, line.data);
        if (!rc)
            rc = md_buf_append(out, body.data, body.len);
    } else if (!rc) {
        rc = md_buf_printf(&line,
                           "%s used none of the %zu pairs the policies permit it in the "
                           "window: remove it from the permits that name it, or retire it.",
                           who, n_unused);
        if (!rc)
            rc = comment(out, line.data);
    }
    for (size_t k = 0; k < n_exercised && !rc; k++) {
        if (granted[k])
            continue;
        line.len = 0;
        rc = md_buf_printf(&line, "Used but not granted by a current permit%s: %s on %s",
                           s->schema && !s->u[exercised[k]].in_schema ? " (or not in the schema)"
                                                                      : "",
                           s->u[exercised[k]].p.action.ptr, s->u[exercised[k]].p.rtype.ptr);
        if (!rc)
            rc = comment(out, line.data);
    }
    md_buf_release(&body);
    md_buf_release(&line);
    md_buf_release(&principal);
    md_buf_release(&names);
    return rc;
}
