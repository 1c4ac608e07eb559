/*
 * validator.c: Cedar's strict-mode policy validator (md_validate, see validator.h).
 *
 * The typechecker follows cedar-lean/Cedar/Validation/Typechecker.lean rule by rule: types
 * (Bool with the singleton types true/false, Long, String, entity types, sets, records with
 * required/optional attributes, the extension types), least upper bounds (Subtyping.lean),
 * capabilities (the (expression, attribute-or-tag) pairs that a `has`/`hasTag` guard makes safe)
 * and the short-circuits of &&, || and if-then-else, whose discarded operand's errors do not
 * count. Expressions in capabilities compare structurally (positions ignored), with the
 * `action` variable equal to the environment's action uid (the model's substituteAction).
 *
 * Unlike the model, which stops at the first error, the checker keeps going after an error so
 * that one run reports every independent problem; a node whose operand failed reports nothing
 * itself, so follow-on errors do not cascade. The verdict is the model's: a policy fails when
 * any environment reports an error that is not in a discarded operand.
 *
 * Diagnostic kinds (md_vdiag.kind): unknown-entity-type, unknown-action, invalid-enum-value,
 * no-applicable-action, unexpected-type, incompatible-types, heterogeneous-set, empty-set,
 * unknown-attribute, unsafe-optional-attribute, unsafe-tag-access, no-tags,
 * extension-non-literal, invalid-extension-literal, wrong-arity, and the warning
 * impossible-policy.
 *
 * Memory: one scratch arena for the whole run (the policies' scope expressions, schema types
 * converted to checker types) and one reset after each environment; diagnostics are copied into
 * the caller's arena.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/parser.h"
#include "cedar/validator.h"

/* ---- checker types ---- */

enum { VT_BOOL, VT_LONG, VT_STRING, VT_ENTITY, VT_SET, VT_RECORD, VT_EXT };
enum { B_ANY, B_TT, B_FF };
enum { X_DECIMAL, X_IP, X_DATETIME, X_DURATION };

typedef struct vty vty;
typedef struct vattr {
    md_str name;
    const vty *ty;
    bool required;
} vattr;

struct vty {
    uint8_t kind;
    uint8_t sub; /* VT_BOOL: B_*, VT_EXT: X_* */
    md_str name; /* VT_ENTITY */
    const vty *elem;
    size_t n; /* VT_RECORD: attrs sorted by name */
    const vattr *attrs;
};

static const vty T_BOOL = {.kind = VT_BOOL, .sub = B_ANY};
static const vty T_TT = {.kind = VT_BOOL, .sub = B_TT};
static const vty T_FF = {.kind = VT_BOOL, .sub = B_FF};
static const vty T_LONG = {.kind = VT_LONG};
static const vty T_STRING = {.kind = VT_STRING};
static const vty T_DECIMAL = {.kind = VT_EXT, .sub = X_DECIMAL};
static const vty T_IP = {.kind = VT_EXT, .sub = X_IP};
static const vty T_DATETIME = {.kind = VT_EXT, .sub = X_DATETIME};
static const vty T_DURATION = {.kind = VT_EXT, .sub = X_DURATION};

/* ---- capabilities ---- */

typedef struct cap {
    const md_expr *x;
    const md_expr *tag; /* NULL: the key is the attribute attr */
    md_str attr;
} cap;

typedef struct caps {
    size_t n;
    const cap *v;
} caps;

typedef struct tr {
    const vty *ty; /* NULL when the expression did not typecheck */
    caps c;
} tr;

/* ---- state ---- */

typedef struct edg { /* a diagnostic of the current environment */
    uint32_t line, col;
    const char *kind;
    const char *msg;
} edg;

typedef struct spos { /* where the parts of one scope element are in the text */
    uint32_t var_line, var_col;
    uint32_t type_line, type_col;     /* after `is` */
    uint32_t target_line, target_col; /* after `==` / `in` */
    size_t n_items;                   /* `action in [...]` elements */
    uint32_t *items;                  /* line, col pairs */
} spos;

typedef struct pmap_ent {
    const void *key;
    const vty *val;
} pmap_ent;

typedef struct V {
    md_arena *out, *mem, *tmp;
    const md_schema *s;
    const md_policy *pol;
    int rc; /* first hard error (ENOMEM / ETOOBIG) */
    unsigned depth;

    /* environment */
    md_str principal, resource;
    const md_action *action;
    const vty *context;
    md_str pslot, rslot;

    /* diagnostics of the current environment */
    edg *ed;
    size_t ned, caped;

    /* result */
    md_vdiag *res;
    size_t nres, capres, pol_start;

    /* synthetic nodes (scope, conditions) for message wording */
    const md_expr *syn[8];
    size_t nsyn;
    const md_expr *const *unless_nodes;
    size_t n_unless;

    /* memo of schema types (pointer to converted type), per entity type and action */
    pmap_ent *pm;
    size_t pm_cap, pm_n;
    const vty **ety_shape;
    const vty **act_ctx;

    /* environments already checked (policies that do not mention the action) */
    md_str *seen;
    size_t n_seen, cap_seen;

    /* graph walks */
    uint32_t *emark, *amark, stamp;
    size_t *queue;
} V;

#define OOM(v) ((v)->rc = (v)->rc ? (v)->rc : MANDATE_ENOMEM)

/* ---- type printing ---- */

static void tprint(md_buf *b, const vty *t, int depth)
{
    if (depth > 6) {
        md_buf_puts(b, "...");
        return;
    }
    switch (t->kind) {
    case VT_BOOL:
        md_buf_puts(b, t->sub == B_TT ? "true" : t->sub == B_FF ? "false" : "Bool");
        break;
    case VT_LONG: md_buf_puts(b, "Long"); break;
    case VT_STRING: md_buf_puts(b, "String"); break;
    case VT_ENTITY: md_buf_printf(b, "%.*s", (int)t->name.len, t->name.ptr); break;
    case VT_SET:
        md_buf_puts(b, "Set<");
        tprint(b, t->elem, depth + 1);
        md_buf_puts(b, ">");
        break;
    case VT_RECORD:
        md_buf_puts(b, "{");
        for (size_t i = 0; i < t->n; i++) {
            if (i == 6) {
                md_buf_puts(b, ", ...");
                break;
            }
            md_buf_printf(b, "%s%.*s%s: ", i ? ", " : "", (int)t->attrs[i].name.len,
                          t->attrs[i].name.ptr, t->attrs[i].required ? "" : "?");
            tprint(b, t->attrs[i].ty, depth + 1);
        }
        md_buf_puts(b, "}");
        break;
    case VT_EXT: {
        static const char *const names[] = {"decimal", "ipaddr", "datetime", "duration"};
        md_buf_puts(b, names[t->sub]);
        break;
    }
    }
}

/* Bool singletons print as Bool in messages about operand types. */
static const char *tname(V *v, const vty *t)
{
    md_buf b;
    md_buf_init(&b, 400);
    if (t->kind == VT_BOOL)
        md_buf_puts(&b, "Bool");
    else
        tprint(&b, t, 0);
    const char *r = md_arena_strndup(v->tmp, b.data ? b.data : "", b.len);
    md_buf_release(&b);
    if (!r) {
        OOM(v);
        return "";
    }
    return r;
}

/* ---- expression printing (short, for messages) ---- */

static bool ident_like(md_str s)
{
    if (!s.len || !((s.ptr[0] >= 'a' && s.ptr[0] <= 'z') || (s.ptr[0] >= 'A' && s.ptr[0] <= 'Z') ||
                    s.ptr[0] == '_'))
        return false;
    for (size_t i = 1; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static const char *binop_name(md_op op)
{
    switch (op) {
    case MD_E_AND: return "&&";
    case MD_E_OR: return "||";
    case MD_E_EQ: return "==";
    case MD_E_NE: return "!=";
    case MD_E_LT: return "<";
    case MD_E_LE: return "<=";
    case MD_E_GT: return ">";
    case MD_E_GE: return ">=";
    case MD_E_ADD: return "+";
    case MD_E_SUB: return "-";
    case MD_E_MUL: return "*";
    case MD_E_IN: return "in";
    case MD_E_CONTAINS: return "contains";
    case MD_E_CONTAINS_ALL: return "containsAll";
    case MD_E_CONTAINS_ANY: return "containsAny";
    case MD_E_HAS_TAG: return "hasTag";
    case MD_E_GET_TAG: return "getTag";
    default: return "?";
    }
}

static void xprint(md_buf *b, const md_expr *e, int depth)
{
    static const char *const vars[] = {"principal", "action", "resource", "context"};
    if (depth > 4) {
        md_buf_puts(b, "...");
        return;
    }
    switch (e->op) {
    case MD_E_LIT: md_value_print(b, &e->u.lit); break;
    case MD_E_VAR: md_buf_puts(b, vars[e->u.var]); break;
    case MD_E_SLOT:
        md_buf_puts(b, e->u.slot == MD_SLOT_PRINCIPAL ? "?principal" : "?resource");
        break;
    case MD_E_GET_ATTR:
        xprint(b, e->u.attr.a, depth + 1);
        if (ident_like(e->u.attr.name))
            md_buf_printf(b, ".%.*s", (int)e->u.attr.name.len, e->u.attr.name.ptr);
        else {
            md_buf_puts(b, "[");
            md_buf_json_str(b, e->u.attr.name.ptr, e->u.attr.name.len);
            md_buf_puts(b, "]");
        }
        break;
    case MD_E_HAS_ATTR:
        xprint(b, e->u.attr.a, depth + 1);
        md_buf_puts(b, " has ");
        if (ident_like(e->u.attr.name))
            md_buf_printf(b, "%.*s", (int)e->u.attr.name.len, e->u.attr.name.ptr);
        else
            md_buf_json_str(b, e->u.attr.name.ptr, e->u.attr.name.len);
        break;
    case MD_E_IS_EMPTY:
        xprint(b, e->u.k.a, depth + 1);
        md_buf_puts(b, ".isEmpty()");
        break;
    case MD_E_CONTAINS:
    case MD_E_CONTAINS_ALL:
    case MD_E_CONTAINS_ANY:
    case MD_E_HAS_TAG:
    case MD_E_GET_TAG:
        xprint(b, e->u.k.a, depth + 1);
        md_buf_printf(b, ".%s(", binop_name(e->op));
        xprint(b, e->u.k.b, depth + 1);
        md_buf_puts(b, ")");
        break;
    case MD_E_CALL:
        if (md_extfn_is_method(e->u.call.fn) && e->u.call.n >= 1) {
            xprint(b, e->u.call.args[0], depth + 1);
            md_buf_printf(b, ".%s(", md_extfn_name(e->u.call.fn));
            for (size_t i = 1; i < e->u.call.n; i++) {
                if (i > 1)
                    md_buf_puts(b, ", ");
                xprint(b, e->u.call.args[i], depth + 1);
            }
        } else {
            md_buf_printf(b, "%s(", md_extfn_name(e->u.call.fn));
            for (size_t i = 0; i < e->u.call.n; i++) {
                if (i)
                    md_buf_puts(b, ", ");
                xprint(b, e->u.call.args[i], depth + 1);
            }
        }
        md_buf_puts(b, ")");
        break;
    case MD_E_EQ:
    case MD_E_NE:
    case MD_E_LT:
    case MD_E_LE:
    case MD_E_GT:
    case MD_E_GE:
    case MD_E_ADD:
    case MD_E_SUB:
    case MD_E_MUL:
    case MD_E_IN:
    case MD_E_AND:
    case MD_E_OR:
        xprint(b, e->u.k.a, depth + 1);
        md_buf_printf(b, " %s ", binop_name(e->op));
        xprint(b, e->u.k.b, depth + 1);
        break;
    case MD_E_NOT:
    case MD_E_NEG:
        md_buf_puts(b, e->op == MD_E_NOT ? "!" : "-");
        xprint(b, e->u.k.a, depth + 1);
        break;
    case MD_E_IS:
        xprint(b, e->u.is.a, depth + 1);
        md_buf_printf(b, " is %.*s", (int)e->u.is.type.len, e->u.is.type.ptr);
        break;
    case MD_E_SET: md_buf_puts(b, e->u.list.n ? "[...]" : "[]"); break;
    case MD_E_RECORD: md_buf_puts(b, "{...}"); break;
    case MD_E_LIKE:
        xprint(b, e->u.like.a, depth + 1);
        md_buf_puts(b, " like \"...\"");
        break;
    case MD_E_IF: md_buf_puts(b, "if ... then ... else ..."); break;
    }
}

static const char *xname(V *v, const md_expr *e)
{
    md_buf b;
    md_buf_init(&b, 160);
    xprint(&b, e, 0);
    const char *r;
    if (b.len >= 120)
        r = md_arena_printf(v->tmp, "%.100s...", b.data);
    else
        r = md_arena_strndup(v->tmp, b.data ? b.data : "", b.len);
    md_buf_release(&b);
    if (!r) {
        OOM(v);
        return "";
    }
    return r;
}

/* ---- diagnostics ---- */

static void verr(V *v, uint32_t line, uint32_t col, const char *kind, const char *fmt, ...)
    MD_PRINTF(5, 6);

static void verr(V *v, uint32_t line, uint32_t col, const char *kind, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (v->ned == v->caped) {
        size_t nc = v->caped ? v->caped * 2 : 16;
        edg *ne = md_arena_array(v->tmp, nc, sizeof *ne);
        if (!ne) {
            OOM(v);
            return;
        }
        if (v->ned)
            memcpy(ne, v->ed, v->ned * sizeof *ne);
        v->ed = ne;
        v->caped = nc;
    }
    const char *m = md_arena_strndup(v->tmp, buf, strlen(buf));
    if (!m) {
        OOM(v);
        return;
    }
    v->ed[v->ned++] = (edg){line, col, kind, m};
}

#define EERR(v, e, kind, ...) verr((v), (e)->line, (e)->col, (kind), __VA_ARGS__)

/* Adds a diagnostic to the result unless the policy already has the same one. */
static void emit(V *v, bool warning, uint32_t line, uint32_t col, const char *kind, const char *msg)
{
    for (size_t i = v->pol_start; i < v->nres; i++) {
        const md_vdiag *d = &v->res[i];
        if (d->line == line && d->col == col && d->warning == warning && !strcmp(d->kind, kind) &&
            !strcmp(d->msg, msg))
            return;
    }
    if (v->nres == v->capres) {
        size_t nc = v->capres ? v->capres * 2 : 16;
        md_vdiag *nd = md_arena_array(v->out, nc, sizeof *nd);
        if (!nd) {
            OOM(v);
            return;
        }
        if (v->nres)
            memcpy(nd, v->res, v->nres * sizeof *nd);
        v->res = nd;
        v->capres = nc;
    }
    const char *m = md_arena_strndup(v->out, msg, strlen(msg));
    if (!m) {
        OOM(v);
        return;
    }
    v->res[v->nres++] = (md_vdiag){v->pol, warning, line, col, kind, m};
}

static void flush_env(V *v)
{
    for (size_t i = 0; i < v->ned; i++)
        emit(v, false, v->ed[i].line, v->ed[i].col, v->ed[i].kind, v->ed[i].msg);
    v->ned = 0;
    v->caped = 0;
    v->ed = NULL;
}

/* ---- "did you mean" ---- */

static size_t edit_distance(md_str a, md_str b)
{
    size_t row[65];
    if (a.len > 64 || b.len > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= b.len; j++)
        row[j] = j;
    for (size_t i = 1; i <= a.len; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.len; j++) {
            size_t up = row[j];
            size_t best = diag + (a.ptr[i - 1] == b.ptr[j - 1] ? 0 : 1);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[b.len];
}

static bool close_enough(md_str want, md_str cand, size_t *best)
{
    size_t d = edit_distance(want, cand);
    size_t lim = want.len / 3 + 1;
    if (d <= lim && d < *best) {
        *best = d;
        return true;
    }
    return false;
}

/* "; did you mean `X`?" for an unknown entity type name, or "". */
static const char *suggest_type(V *v, md_str name)
{
    size_t best = (size_t)-1;
    const md_str *pick = NULL;
    for (size_t i = 0; i < v->s->n_entity_types; i++)
        if (close_enough(name, v->s->entity_types[i].name, &best))
            pick = &v->s->entity_types[i].name;
    if (!pick)
        return "";
    const char *r = md_arena_printf(v->tmp, "; did you mean `%.*s`?", (int)pick->len, pick->ptr);
    return r ? r : "";
}

static const char *suggest_attr(V *v, const vty *rec, md_str name)
{
    size_t best = (size_t)-1;
    const md_str *pick = NULL;
    for (size_t i = 0; i < rec->n; i++)
        if (close_enough(name, rec->attrs[i].name, &best))
            pick = &rec->attrs[i].name;
    if (!pick)
        return "";
    const char *r = md_arena_printf(v->tmp, "; did you mean `%.*s`?", (int)pick->len, pick->ptr);
    return r ? r : "";
}

/* ---- schema lookups ---- */

static const md_entity_type *ety_find(V *v, md_str name)
{
    return md_schema_entity_type(v->s, name);
}

static const md_action *act_find(V *v, const md_euid *uid)
{
    return md_schema_action(v->s, uid);
}

static bool is_action_type(V *v, md_str ety)
{
    for (size_t i = 0; i < v->s->n_actions; i++)
        if (md_str_eq(v->s->actions[i].uid.type, ety))
            return true;
    return false;
}

static bool action_type_name(md_str t)
{
    return md_str_eq_c(t, "Action") || (t.len > 8 && memcmp(t.ptr + t.len - 8, "::Action", 8) == 0);
}

static uint32_t next_stamp(V *v, uint32_t *marks, size_t n)
{
    if (++v->stamp == 0) {
        memset(marks, 0, n * sizeof *marks);
        v->stamp = 1;
    }
    return v->stamp;
}

/* The model's ActionSchema.descendentOf: u1 == u2, or u2 is an ancestor of u1. */
static bool act_descendant(V *v, const md_euid *u1, const md_euid *u2)
{
    if (md_euid_eq(u1, u2))
        return true;
    const md_action *a = act_find(v, u1);
    if (!a)
        return false;
    size_t n = v->s->n_actions;
    uint32_t st = next_stamp(v, v->amark, n);
    size_t head = 0, tail = 0;
    v->queue[tail++] = (size_t)(a - v->s->actions);
    v->amark[a - v->s->actions] = st;
    while (head < tail) {
        const md_action *x = &v->s->actions[v->queue[head++]];
        for (size_t i = 0; i < x->n_member_of; i++) {
            if (md_euid_eq(&x->member_of[i], u2))
                return true;
            const md_action *p = act_find(v, &x->member_of[i]);
            if (p && v->amark[p - v->s->actions] != st && tail < n) {
                v->amark[p - v->s->actions] = st;
                v->queue[tail++] = (size_t)(p - v->s->actions);
            }
        }
    }
    return false;
}

/* Some ancestor (transitively) of action a has entity type ety. */
static bool act_has_ancestor_type(V *v, const md_action *a, md_str ety)
{
    size_t n = v->s->n_actions;
    uint32_t st = next_stamp(v, v->amark, n);
    size_t head = 0, tail = 0;
    v->queue[tail++] = (size_t)(a - v->s->actions);
    v->amark[a - v->s->actions] = st;
    while (head < tail) {
        const md_action *x = &v->s->actions[v->queue[head++]];
        for (size_t i = 0; i < x->n_member_of; i++) {
            if (md_str_eq(x->member_of[i].type, ety))
                return true;
            const md_action *p = act_find(v, &x->member_of[i]);
            if (p && v->amark[p - v->s->actions] != st && tail < n) {
                v->amark[p - v->s->actions] = st;
                v->queue[tail++] = (size_t)(p - v->s->actions);
            }
        }
    }
    return false;
}

/* The model's TypeEnv.descendentOf on entity types. Enumerated types have no ancestors. */
static bool ety_descendant(V *v, md_str e1, md_str e2)
{
    if (md_str_eq(e1, e2))
        return true;
    const md_entity_type *t = ety_find(v, e1);
    if (!t) {
        for (size_t i = 0; i < v->s->n_actions; i++)
            if (md_str_eq(v->s->actions[i].uid.type, e1) &&
                act_has_ancestor_type(v, &v->s->actions[i], e2))
                return true;
        return false;
    }
    if (t->is_enum)
        return false;
    size_t n = v->s->n_entity_types;
    uint32_t st = next_stamp(v, v->emark, n);
    size_t head = 0, tail = 0;
    v->queue[tail++] = (size_t)(t - v->s->entity_types);
    v->emark[t - v->s->entity_types] = st;
    while (head < tail) {
        const md_entity_type *x = &v->s->entity_types[v->queue[head++]];
        if (x->is_enum)
            continue;
        for (size_t i = 0; i < x->n_member_of; i++) {
            if (md_str_eq(x->member_of[i], e2))
                return true;
            const md_entity_type *p = ety_find(v, x->member_of[i]);
            if (p && v->emark[p - v->s->entity_types] != st && tail < n) {
                v->emark[p - v->s->entity_types] = st;
                v->queue[tail++] = (size_t)(p - v->s->entity_types);
            }
        }
    }
    return false;
}

/* ---- schema types to checker types ---- */

static const vty *pm_get(V *v, const void *key)
{
    if (!v->pm_cap)
        return NULL;
    size_t h = (size_t)md_hash_bytes(&key, sizeof key, 7) & (v->pm_cap - 1);
    while (v->pm[h].key) {
        if (v->pm[h].key == key)
            return v->pm[h].val;
        h = (h + 1) & (v->pm_cap - 1);
    }
    return NULL;
}

static void pm_put(V *v, const void *key, const vty *val)
{
    if ((v->pm_n + 1) * 2 > v->pm_cap) {
        size_t nc = v->pm_cap ? v->pm_cap * 2 : 64;
        pmap_ent *nm = md_arena_array(v->mem, nc, sizeof *nm);
        if (!nm) {
            OOM(v);
            return;
        }
        for (size_t i = 0; i < v->pm_cap; i++) {
            if (!v->pm[i].key)
                continue;
            size_t h = (size_t)md_hash_bytes(&v->pm[i].key, sizeof(void *), 7) & (nc - 1);
            while (nm[h].key)
                h = (h + 1) & (nc - 1);
            nm[h] = v->pm[i];
        }
        v->pm = nm;
        v->pm_cap = nc;
    }
    size_t h = (size_t)md_hash_bytes(&key, sizeof key, 7) & (v->pm_cap - 1);
    while (v->pm[h].key)
        h = (h + 1) & (v->pm_cap - 1);
    v->pm[h] = (pmap_ent){key, val};
    v->pm_n++;
}

static const vty *conv(V *v, const md_type *t, unsigned depth)
{
    switch (t->kind) {
    case MD_T_BOOL: return &T_BOOL;
    case MD_T_LONG: return &T_LONG;
    case MD_T_STRING: return &T_STRING;
    case MD_T_DECIMAL: return &T_DECIMAL;
    case MD_T_IP: return &T_IP;
    case MD_T_DATETIME: return &T_DATETIME;
    case MD_T_DURATION: return &T_DURATION;
    default: break;
    }
    const vty *memo = pm_get(v, t);
    if (memo)
        return memo;
    if (depth > MD_CEDAR_MAX_DEPTH) {
        if (!v->rc)
            v->rc = MANDATE_ETOOBIG;
        return &T_LONG;
    }
    vty *r = md_arena_alloc(v->mem, sizeof *r);
    if (!r) {
        OOM(v);
        return &T_LONG;
    }
    if (t->kind == MD_T_ENTITY) {
        r->kind = VT_ENTITY;
        r->name = t->u.name;
    } else if (t->kind == MD_T_SET) {
        r->kind = VT_SET;
        r->elem = conv(v, t->u.elem, depth + 1);
    } else {
        r->kind = VT_RECORD;
        vattr *at = md_arena_array(v->mem, t->u.rec.n ? t->u.rec.n : 1, sizeof *at);
        if (!at) {
            OOM(v);
            return &T_LONG;
        }
        for (size_t i = 0; i < t->u.rec.n; i++) {
            at[i].name = t->u.rec.attrs[i].name;
            at[i].required = t->u.rec.attrs[i].required;
            at[i].ty = conv(v, t->u.rec.attrs[i].type, depth + 1);
        }
        r->n = t->u.rec.n;
        r->attrs = at;
    }
    pm_put(v, t, r);
    return r;
}

static const vty *shape_of(V *v, const md_entity_type *et)
{
    size_t i = (size_t)(et - v->s->entity_types);
    if (!v->ety_shape[i]) {
        static const vty empty = {.kind = VT_RECORD};
        v->ety_shape[i] = et->is_enum || !et->shape ? &empty : conv(v, et->shape, 0);
    }
    return v->ety_shape[i];
}

static const vty *context_of(V *v, const md_action *a)
{
    size_t i = (size_t)(a - v->s->actions);
    if (!v->act_ctx[i]) {
        static const vty empty = {.kind = VT_RECORD};
        v->act_ctx[i] = a->context ? conv(v, a->context, 0) : &empty;
    }
    return v->act_ctx[i];
}

static const vty *entity_ty(V *v, md_str name)
{
    vty *r = md_arena_alloc(v->tmp, sizeof *r);
    if (!r) {
        OOM(v);
        return &T_LONG;
    }
    r->kind = VT_ENTITY;
    r->name = name;
    return r;
}

static const vty *set_ty(V *v, const vty *elem)
{
    vty *r = md_arena_alloc(v->tmp, sizeof *r);
    if (!r) {
        OOM(v);
        return &T_LONG;
    }
    r->kind = VT_SET;
    r->elem = elem;
    return r;
}

/* ---- type equality and least upper bounds (Subtyping.lean) ---- */

static bool teq(const vty *a, const vty *b)
{
    if (a == b)
        return true;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case VT_BOOL:
    case VT_EXT: return a->sub == b->sub;
    case VT_ENTITY: return md_str_eq(a->name, b->name);
    case VT_SET: return teq(a->elem, b->elem);
    case VT_RECORD:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!md_str_eq(a->attrs[i].name, b->attrs[i].name) ||
                a->attrs[i].required != b->attrs[i].required ||
                !teq(a->attrs[i].ty, b->attrs[i].ty))
                return false;
        return true;
    default: return true;
    }
}

static const vty *lub(V *v, const vty *a, const vty *b)
{
    if (a == b)
        return a;
    if (a->kind == VT_BOOL && b->kind == VT_BOOL)
        return a->sub == b->sub ? a : &T_BOOL;
    if (a->kind == VT_SET && b->kind == VT_SET) {
        const vty *l = lub(v, a->elem, b->elem);
        if (!l)
            return NULL;
        if (l == a->elem)
            return a;
        if (l == b->elem)
            return b;
        return set_ty(v, l);
    }
    if (a->kind == VT_RECORD && b->kind == VT_RECORD) {
        if (a->n != b->n)
            return NULL;
        vattr *at = NULL;
        for (size_t i = 0; i < a->n; i++) {
            if (!md_str_eq(a->attrs[i].name, b->attrs[i].name) ||
                a->attrs[i].required != b->attrs[i].required)
                return NULL;
            const vty *l = lub(v, a->attrs[i].ty, b->attrs[i].ty);
            if (!l)
                return NULL;
            if (l != a->attrs[i].ty && !at) {
                at = md_arena_array(v->tmp, a->n, sizeof *at);
                if (!at) {
                    OOM(v);
                    return NULL;
                }
                memcpy(at, a->attrs, a->n * sizeof *at);
            }
            if (at)
                at[i].ty = l;
        }
        if (!at)
            return a;
        vty *r = md_arena_alloc(v->tmp, sizeof *r);
        if (!r) {
            OOM(v);
            return NULL;
        }
        r->kind = VT_RECORD;
        r->n = a->n;
        r->attrs = at;
        return r;
    }
    return teq(a, b) ? a : NULL;
}

/* ---- structural expression equality (capabilities) ---- */

/* An expression that is a literal once `action` is substituted: its value in *out. */
static bool litlike(V *v, const md_expr *e, md_value *out)
{
    if (e->op == MD_E_LIT) {
        *out = e->u.lit;
        return true;
    }
    if (e->op == MD_E_VAR && e->u.var == MD_VAR_ACTION && v->action) {
        out->kind = MD_V_ENTITY;
        out->u.uid = v->action->uid;
        return true;
    }
    return false;
}

static bool xeq(V *v, const md_expr *a, const md_expr *b, unsigned depth)
{
    if (a == b)
        return true;
    if (depth > MD_CEDAR_MAX_DEPTH)
        return false;
    md_value la, lb;
    bool ia = litlike(v, a, &la), ib = litlike(v, b, &lb);
    if (ia || ib)
        return ia && ib && la.kind == lb.kind && md_value_eq(&la, &lb);
    if (a->op != b->op)
        return false;
    switch (a->op) {
    case MD_E_VAR: return a->u.var == b->u.var;
    case MD_E_SLOT: return a->u.slot == b->u.slot;
    case MD_E_IF:
        return xeq(v, a->u.k.a, b->u.k.a, depth + 1) && xeq(v, a->u.k.b, b->u.k.b, depth + 1) &&
               xeq(v, a->u.k.c, b->u.k.c, depth + 1);
    case MD_E_NOT:
    case MD_E_NEG:
    case MD_E_IS_EMPTY: return xeq(v, a->u.k.a, b->u.k.a, depth + 1);
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR:
        return md_str_eq(a->u.attr.name, b->u.attr.name) &&
               xeq(v, a->u.attr.a, b->u.attr.a, depth + 1);
    case MD_E_LIKE:
        if (a->u.like.pat.n != b->u.like.pat.n)
            return false;
        for (size_t i = 0; i < a->u.like.pat.n; i++) {
            const md_pat_elem *x = &a->u.like.pat.elems[i], *y = &b->u.like.pat.elems[i];
            if (x->star != y->star || (!x->star && !md_str_eq(x->lit, y->lit)))
                return false;
        }
        return xeq(v, a->u.like.a, b->u.like.a, depth + 1);
    case MD_E_IS:
        if (!md_str_eq(a->u.is.type, b->u.is.type) || !xeq(v, a->u.is.a, b->u.is.a, depth + 1))
            return false;
        if (!a->u.is.in || !b->u.is.in)
            return !a->u.is.in && !b->u.is.in;
        return xeq(v, a->u.is.in, b->u.is.in, depth + 1);
    case MD_E_SET:
        if (a->u.list.n != b->u.list.n)
            return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!xeq(v, a->u.list.items[i], b->u.list.items[i], depth + 1))
                return false;
        return true;
    case MD_E_RECORD:
        if (a->u.rec.n != b->u.rec.n)
            return false;
        for (size_t i = 0; i < a->u.rec.n; i++)
            if (!md_str_eq(a->u.rec.keys[i], b->u.rec.keys[i]) ||
                !xeq(v, a->u.rec.vals[i], b->u.rec.vals[i], depth + 1))
                return false;
        return true;
    case MD_E_CALL:
        if (a->u.call.fn != b->u.call.fn || a->u.call.n != b->u.call.n)
            return false;
        for (size_t i = 0; i < a->u.call.n; i++)
            if (!xeq(v, a->u.call.args[i], b->u.call.args[i], depth + 1))
                return false;
        return true;
    default: /* binary */
        return xeq(v, a->u.k.a, b->u.k.a, depth + 1) && xeq(v, a->u.k.b, b->u.k.b, depth + 1);
    }
}

static bool cap_eq(V *v, const cap *x, const cap *y)
{
    if ((x->tag == NULL) != (y->tag == NULL))
        return false;
    if (x->tag ? !xeq(v, x->tag, y->tag, 0) : !md_str_eq(x->attr, y->attr))
        return false;
    return xeq(v, x->x, y->x, 0);
}

static bool caps_has(V *v, caps c, const cap *k)
{
    for (size_t i = 0; i < c.n; i++)
        if (cap_eq(v, &c.v[i], k))
            return true;
    return false;
}

static caps caps_union(V *v, caps a, caps b)
{
    if (!b.n)
        return a;
    if (!a.n)
        return b;
    cap *r = md_arena_array(v->tmp, a.n + b.n, sizeof *r);
    if (!r) {
        OOM(v);
        return a;
    }
    memcpy(r, a.v, a.n * sizeof *r);
    size_t n = a.n;
    for (size_t i = 0; i < b.n; i++)
        if (!caps_has(v, a, &b.v[i]))
            r[n++] = b.v[i];
    return (caps){n, r};
}

static caps caps_inter(V *v, caps a, caps b)
{
    if (!a.n || !b.n)
        return (caps){0, NULL};
    cap *r = md_arena_array(v->tmp, a.n, sizeof *r);
    if (!r) {
        OOM(v);
        return (caps){0, NULL};
    }
    size_t n = 0;
    for (size_t i = 0; i < a.n; i++)
        if (caps_has(v, b, &a.v[i]))
            r[n++] = a.v[i];
    return (caps){n, r};
}

static caps caps_one(V *v, const md_expr *x, const md_expr *tag, md_str attr)
{
    cap *r = md_arena_alloc(v->tmp, sizeof *r);
    if (!r) {
        OOM(v);
        return (caps){0, NULL};
    }
    *r = (cap){x, tag, attr};
    return (caps){1, r};
}

/* ---- entity uids ---- */

static bool enum_has(const md_entity_type *t, md_str id)
{
    for (size_t i = 0; i < t->n_enum; i++)
        if (md_str_eq(t->enum_ids[i], id))
            return true;
    return false;
}

/* The model's `isValidEntityUID uid || acts.contains uid`; reports why not at (line, col). */
static bool uid_check(V *v, const md_euid *u, uint32_t line, uint32_t col)
{
    if (act_find(v, u))
        return true;
    const md_entity_type *t = ety_find(v, u->type);
    md_buf b;
    md_buf_init(&b, 300);
    md_euid_print(&b, u);
    const char *us = b.data ? b.data : "";
    if (t) {
        if (!t->is_enum || enum_has(t, u->id)) {
            md_buf_release(&b);
            return true;
        }
        md_buf vals;
        md_buf_init(&vals, 300);
        for (size_t i = 0; i < t->n_enum && i < 8; i++) {
            md_buf_puts(&vals, i ? ", " : "");
            md_buf_json_str(&vals, t->enum_ids[i].ptr, t->enum_ids[i].len);
        }
        if (t->n_enum > 8)
            md_buf_puts(&vals, ", ...");
        verr(v, line, col, "invalid-enum-value",
             "`%s` is not a declared value of the enumerated entity type `%.*s`; its values are "
             "%s",
             us, (int)u->type.len, u->type.ptr, vals.data ? vals.data : "");
        md_buf_release(&vals);
    } else if (is_action_type(v, u->type) || action_type_name(u->type)) {
        size_t best = (size_t)-1;
        const md_action *pick = NULL;
        for (size_t i = 0; i < v->s->n_actions; i++)
            if (md_str_eq(v->s->actions[i].uid.type, u->type) &&
                close_enough(u->id, v->s->actions[i].uid.id, &best))
                pick = &v->s->actions[i];
        if (pick)
            verr(v, line, col, "unknown-action",
                 "unknown action `%s`: the schema declares no such action; did you mean "
                 "`%.*s::\"%.*s\"`?",
                 us, (int)pick->uid.type.len, pick->uid.type.ptr, (int)pick->uid.id.len,
                 pick->uid.id.ptr);
        else
            verr(v, line, col, "unknown-action",
                 "unknown action `%s`: the schema declares no such action", us);
    } else {
        verr(v, line, col, "unknown-entity-type",
             "unknown entity type `%.*s` in `%s`: the schema declares no such entity type%s",
             (int)u->type.len, u->type.ptr, us, suggest_type(v, u->type));
    }
    md_buf_release(&b);
    return false;
}

static bool type_known(V *v, md_str ety)
{
    return ety_find(v, ety) || is_action_type(v, ety);
}

static void unknown_type(V *v, uint32_t line, uint32_t col, md_str ety)
{
    verr(v, line, col, "unknown-entity-type",
         "unknown entity type `%.*s`: the schema declares no such entity type%s", (int)ety.len,
         ety.ptr, suggest_type(v, ety));
}

/* The validator's pass over the whole policy: every entity literal and `is` type must be known
 * (Validator.lean checkEntities, Rust's validate_entity_types / action ids / enum entities). */
static void check_entities(V *v, const md_expr *e, unsigned depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH)
        return;
    switch (e->op) {
    case MD_E_LIT:
        if (e->u.lit.kind == MD_V_ENTITY)
            uid_check(v, &e->u.lit.u.uid, e->line, e->col);
        return;
    case MD_E_VAR:
    case MD_E_SLOT: return;
    case MD_E_IS:
        if (!type_known(v, e->u.is.type))
            unknown_type(v, e->line, e->col, e->u.is.type);
        check_entities(v, e->u.is.a, depth + 1);
        if (e->u.is.in)
            check_entities(v, e->u.is.in, depth + 1);
        return;
    case MD_E_IF:
        check_entities(v, e->u.k.a, depth + 1);
        check_entities(v, e->u.k.b, depth + 1);
        check_entities(v, e->u.k.c, depth + 1);
        return;
    case MD_E_NOT:
    case MD_E_NEG:
    case MD_E_IS_EMPTY: check_entities(v, e->u.k.a, depth + 1); return;
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR: check_entities(v, e->u.attr.a, depth + 1); return;
    case MD_E_LIKE: check_entities(v, e->u.like.a, depth + 1); return;
    case MD_E_SET:
        for (size_t i = 0; i < e->u.list.n; i++)
            check_entities(v, e->u.list.items[i], depth + 1);
        return;
    case MD_E_RECORD:
        for (size_t i = 0; i < e->u.rec.n; i++)
            check_entities(v, e->u.rec.vals[i], depth + 1);
        return;
    case MD_E_CALL:
        for (size_t i = 0; i < e->u.call.n; i++)
            check_entities(v, e->u.call.args[i], depth + 1);
        return;
    default:
        check_entities(v, e->u.k.a, depth + 1);
        check_entities(v, e->u.k.b, depth + 1);
        return;
    }
}

/* ---- the typechecker ---- */

static bool tc(V *v, const md_expr *e, caps c, tr *r);

static bool is_syn(V *v, const md_expr *e)
{
    for (size_t i = 0; i < v->nsyn; i++)
        if (v->syn[i] == e)
            return true;
    return false;
}

static bool is_unless(V *v, const md_expr *e)
{
    for (size_t i = 0; i < v->n_unless; i++)
        if (v->unless_nodes[i] == e)
            return true;
    return false;
}

/* An operand of a Boolean operator that is not Bool. */
static void not_bool(V *v, const md_expr *parent, const md_expr *x, const vty *t)
{
    if (is_syn(v, parent))
        EERR(v, x, "unexpected-type", "a policy condition must be Bool, but this one has type %s",
             tname(v, t));
    else if (is_unless(v, parent))
        EERR(v, x, "unexpected-type",
             "an `unless` condition must be Bool, but this one has type %s", tname(v, t));
    else if (parent->op == MD_E_IF)
        EERR(v, x, "unexpected-type", "the condition of `if` must be Bool, found %s", tname(v, t));
    else
        EERR(v, x, "unexpected-type", "the operand of `%s` must be Bool, found %s",
             parent->op == MD_E_NOT ? "!" : binop_name(parent->op), tname(v, t));
}

static bool tc_if(V *v, const md_expr *e, caps c, tr *r)
{
    tr r1, r2, r3;
    bool ok1 = tc(v, e->u.k.a, c, &r1);
    if (!ok1 || r1.ty->kind != VT_BOOL) {
        if (ok1)
            not_bool(v, e, e->u.k.a, r1.ty);
        tc(v, e->u.k.b, caps_union(v, c, r1.c), &r2);
        tc(v, e->u.k.c, c, &r3);
        return false;
    }
    if (r1.ty->sub == B_TT) {
        if (!tc(v, e->u.k.b, caps_union(v, c, r1.c), &r2))
            return false;
        r->ty = r2.ty;
        r->c = caps_union(v, r1.c, r2.c);
        return true;
    }
    if (r1.ty->sub == B_FF) {
        if (!tc(v, e->u.k.c, c, &r3))
            return false;
        *r = r3;
        return true;
    }
    bool ok2 = tc(v, e->u.k.b, caps_union(v, c, r1.c), &r2);
    bool ok3 = tc(v, e->u.k.c, c, &r3);
    if (!ok2 || !ok3)
        return false;
    const vty *l = lub(v, r2.ty, r3.ty);
    if (!l) {
        EERR(v, e, "incompatible-types",
             "the branches of this `if` have incompatible types %s and %s; both branches must "
             "have the same type",
             tname(v, r2.ty), tname(v, r3.ty));
        return false;
    }
    r->ty = l;
    r->c = caps_inter(v, caps_union(v, r1.c, r2.c), r3.c);
    return true;
}

static bool tc_and(V *v, const md_expr *e, caps c, tr *r)
{
    tr r1, r2;
    bool ok1 = tc(v, e->u.k.a, c, &r1);
    if (!ok1 || r1.ty->kind != VT_BOOL) {
        if (ok1)
            not_bool(v, e, e->u.k.a, r1.ty);
        tc(v, e->u.k.b, caps_union(v, c, r1.c), &r2);
        return false;
    }
    if (r1.ty->sub == B_FF) {
        r->ty = &T_FF;
        return true;
    }
    if (!tc(v, e->u.k.b, caps_union(v, c, r1.c), &r2))
        return false;
    if (r2.ty->kind != VT_BOOL) {
        not_bool(v, e, e->u.k.b, r2.ty);
        return false;
    }
    if (r2.ty->sub == B_FF) {
        r->ty = &T_FF;
        return true;
    }
    r->ty = r2.ty->sub == B_TT ? r1.ty : &T_BOOL;
    r->c = caps_union(v, r1.c, r2.c);
    return true;
}

static bool tc_or(V *v, const md_expr *e, caps c, tr *r)
{
    tr r1, r2;
    bool ok1 = tc(v, e->u.k.a, c, &r1);
    if (!ok1 || r1.ty->kind != VT_BOOL) {
        if (ok1)
            not_bool(v, e, e->u.k.a, r1.ty);
        tc(v, e->u.k.b, c, &r2);
        return false;
    }
    if (r1.ty->sub == B_TT) {
        r->ty = &T_TT;
        return true;
    }
    if (!tc(v, e->u.k.b, c, &r2))
        return false;
    if (r2.ty->kind != VT_BOOL) {
        not_bool(v, e, e->u.k.b, r2.ty);
        return false;
    }
    if (r1.ty->sub == B_FF) {
        *r = r2;
        return true;
    }
    if (r2.ty->sub == B_TT) {
        r->ty = &T_TT;
    } else if (r2.ty->sub == B_FF) {
        r->ty = &T_BOOL;
        r->c = r1.c;
    } else {
        r->ty = &T_BOOL;
        r->c = caps_inter(v, r1.c, r2.c);
    }
    return true;
}

static const char *entity_hint(const vty *t)
{
    switch (t->kind) {
    case VT_STRING: return "; try using `like` to examine the contents of a string";
    case VT_SET:
        return "; try using `contains`, `containsAny`, or `containsAll` to examine the contents "
               "of a set";
    default: return "";
    }
}

/* typeOfInₑ / typeOfInₛ */
static bool tc_in(V *v, const md_expr *e, const tr *r1, const tr *r2, tr *r)
{
    const md_expr *x1 = e->u.k.a, *x2 = e->u.k.b;
    const vty *t1 = r1->ty, *t2 = r2->ty;
    if (t1->kind != VT_ENTITY) {
        EERR(v, x1, "unexpected-type", "the left operand of `in` must be an entity, found %s%s",
             tname(v, t1), t1->kind == VT_SET || t1->kind == VT_STRING ? entity_hint(t1) : "");
        return false;
    }
    md_value l1, l2;
    bool a1 = litlike(v, x1, &l1) && l1.kind == MD_V_ENTITY && act_find(v, &l1.u.uid);
    if (t2->kind == VT_ENTITY) {
        if (a1 && litlike(v, x2, &l2) && l2.kind == MD_V_ENTITY)
            r->ty = act_descendant(v, &l1.u.uid, &l2.u.uid) ? &T_TT : &T_FF;
        else
            r->ty = ety_descendant(v, t1->name, t2->name) ? &T_BOOL : &T_FF;
        return true;
    }
    if (t2->kind == VT_SET && t2->elem->kind == VT_ENTITY) {
        bool all = a1 && x2->op == MD_E_SET;
        if (all)
            for (size_t i = 0; i < x2->u.list.n && all; i++)
                all = litlike(v, x2->u.list.items[i], &l2) && l2.kind == MD_V_ENTITY;
        if (all) {
            bool any = false;
            for (size_t i = 0; i < x2->u.list.n && !any; i++) {
                litlike(v, x2->u.list.items[i], &l2);
                any = act_descendant(v, &l1.u.uid, &l2.u.uid);
            }
            r->ty = any ? &T_TT : &T_FF;
        } else {
            r->ty = ety_descendant(v, t1->name, t2->elem->name) ? &T_BOOL : &T_FF;
        }
        return true;
    }
    EERR(v, x2, "unexpected-type",
         "the right operand of `in` must be an entity or a set of entities, found %s%s",
         tname(v, t2), t2->kind == VT_SET ? "; use `contains` to test if a value is in a set" : "");
    return false;
}

static bool comparable(const vty *t)
{
    return t->kind == VT_LONG ||
           (t->kind == VT_EXT && (t->sub == X_DATETIME || t->sub == X_DURATION));
}

static bool tc_binary(V *v, const md_expr *e, caps c, tr *r)
{
    tr r1, r2;
    bool ok1 = tc(v, e->u.k.a, c, &r1);
    bool ok2 = tc(v, e->u.k.b, c, &r2);
    if (!ok1 || !ok2)
        return false;
    const vty *t1 = r1.ty, *t2 = r2.ty;
    const md_expr *x1 = e->u.k.a, *x2 = e->u.k.b;
    const char *op = binop_name(e->op);
    switch (e->op) {
    case MD_E_EQ:
    case MD_E_NE: {
        md_value l1, l2;
        bool res;
        if (litlike(v, x1, &l1) && litlike(v, x2, &l2)) {
            res = l1.kind == l2.kind && md_value_eq(&l1, &l2);
            r->ty = (res == (e->op == MD_E_EQ)) ? &T_TT : &T_FF;
            return true;
        }
        if (lub(v, t1, t2)) {
            r->ty = &T_BOOL;
            return true;
        }
        if (t1->kind == VT_ENTITY && t2->kind == VT_ENTITY) {
            r->ty = e->op == MD_E_EQ ? &T_FF : &T_TT;
            return true;
        }
        EERR(v, e, "incompatible-types",
             "`%s` compares values of incompatible types %s and %s; in strict validation both "
             "operands must have the same type",
             op, tname(v, t1), tname(v, t2));
        return false;
    }
    case MD_E_LT:
    case MD_E_LE:
    case MD_E_GT:
    case MD_E_GE:
        if (comparable(t1) && teq(t1, t2)) {
            r->ty = &T_BOOL;
            return true;
        }
        if (t1->kind == VT_EXT && t1->sub == X_DECIMAL)
            EERR(v, x1, "unexpected-type",
                 "`%s` does not apply to decimal values; use the methods .lessThan(), "
                 ".lessThanOrEqual(), .greaterThan() or .greaterThanOrEqual()",
                 op);
        else if (!comparable(t1))
            EERR(v, x1, "unexpected-type",
                 "the operands of `%s` must be Long, datetime or duration, found %s", op,
                 tname(v, t1));
        else
            EERR(v, x2, "unexpected-type",
                 "the operands of `%s` must both have type %s, but the right one has type %s", op,
                 tname(v, t1), tname(v, t2));
        return false;
    case MD_E_ADD:
    case MD_E_SUB:
    case MD_E_MUL: {
        if (t1->kind == VT_LONG && t2->kind == VT_LONG) {
            r->ty = &T_LONG;
            return true;
        }
        const md_expr *bad = t1->kind != VT_LONG ? x1 : x2;
        const vty *bt = t1->kind != VT_LONG ? t1 : t2;
        const char *hint = "";
        if (e->op == MD_E_ADD && bt->kind == VT_STRING)
            hint = "; Cedar does not support string concatenation";
        else if (bt->kind == VT_SET)
            hint = "; Cedar does not support computing the union, intersection, or difference of "
                   "sets";
        EERR(v, bad, "unexpected-type", "the operands of `%s` must be Long, found %s%s", op,
             tname(v, bt), hint);
        return false;
    }
    case MD_E_IN: return tc_in(v, e, &r1, &r2, r);
    case MD_E_CONTAINS:
        if (t1->kind != VT_SET) {
            EERR(v, x1, "unexpected-type", "`.contains()` applies to a set, found %s%s",
                 tname(v, t1),
                 t1->kind == VT_STRING ? "; try using `like` to examine the contents of a string"
                                       : "");
            return false;
        }
        if (!lub(v, t2, t1->elem)) {
            EERR(v, x2, "incompatible-types",
                 "`.contains()` tests for a value of type %s in a set of %s; the types are not "
                 "compatible",
                 tname(v, t2), tname(v, t1->elem));
            return false;
        }
        r->ty = &T_BOOL;
        return true;
    case MD_E_CONTAINS_ALL:
    case MD_E_CONTAINS_ANY:
        if (t1->kind != VT_SET || t2->kind != VT_SET) {
            const md_expr *bad = t1->kind != VT_SET ? x1 : x2;
            EERR(v, bad, "unexpected-type", "both operands of `.%s()` must be sets, found %s%s", op,
                 tname(v, t1->kind != VT_SET ? t1 : t2),
                 t1->kind == VT_SET ? "; try using `contains` to test if a single element is in a "
                                      "set"
                                    : "");
            return false;
        }
        if (!lub(v, t1->elem, t2->elem)) {
            EERR(v, e, "incompatible-types",
                 "`.%s()` compares a set of %s with a set of %s; the element types are not "
                 "compatible",
                 op, tname(v, t1->elem), tname(v, t2->elem));
            return false;
        }
        r->ty = &T_BOOL;
        return true;
    case MD_E_HAS_TAG:
    case MD_E_GET_TAG: {
        if (t1->kind != VT_ENTITY) {
            EERR(v, x1, "unexpected-type", "`.%s()` applies to an entity, found %s", op,
                 tname(v, t1));
            return false;
        }
        if (t2->kind != VT_STRING) {
            EERR(v, x2, "unexpected-type", "the tag name in `.%s()` must be a String, found %s", op,
                 tname(v, t2));
            return false;
        }
        const md_entity_type *et = ety_find(v, t1->name);
        cap k = {x1, x2, {0}};
        if (e->op == MD_E_HAS_TAG) {
            if (!et) {
                if (is_action_type(v, t1->name)) {
                    r->ty = &T_FF;
                    return true;
                }
                unknown_type(v, e->line, e->col, t1->name);
                return false;
            }
            if (!et->tags || et->is_enum) {
                r->ty = &T_FF;
                return true;
            }
            if (caps_has(v, c, &k)) {
                r->ty = &T_TT;
                return true;
            }
            r->ty = &T_BOOL;
            r->c = caps_one(v, x1, x2, (md_str){0});
            return true;
        }
        if (!et) {
            if (is_action_type(v, t1->name))
                EERR(v, e, "no-tags", "actions have no tags: `%s` is an action", xname(v, x1));
            else
                unknown_type(v, e->line, e->col, t1->name);
            return false;
        }
        if (!et->tags || et->is_enum) {
            EERR(v, e, "no-tags",
                 "`.getTag()` is not allowed on entities of type `%.*s` because the schema "
                 "declares no `tags` for it",
                 (int)t1->name.len, t1->name.ptr);
            return false;
        }
        if (!caps_has(v, c, &k)) {
            const char *xs = xname(v, x1), *ts = xname(v, x2);
            EERR(v, e, "unsafe-tag-access",
                 "unable to guarantee safety of access to tag `%s` on entity type `%.*s`; guard "
                 "it with `%s.hasTag(%s)`",
                 ts, (int)t1->name.len, t1->name.ptr, xs, ts);
            return false;
        }
        r->ty = conv(v, et->tags, 0);
        return true;
    }
    default: return false;
    }
}

static bool tc_attr(V *v, const md_expr *e, caps c, tr *r)
{
    tr r1;
    const md_expr *x = e->u.attr.a;
    md_str a = e->u.attr.name;
    if (!tc(v, x, c, &r1))
        return false;
    const vty *t = r1.ty, *rec;
    bool known_to_exist;
    const char *where;
    if (t->kind == VT_RECORD) {
        rec = t;
        known_to_exist = true;
        where = NULL;
    } else if (t->kind == VT_ENTITY) {
        const md_entity_type *et = ety_find(v, t->name);
        if (!et) {
            if (is_action_type(v, t->name)) {
                if (e->op == MD_E_HAS_ATTR) {
                    r->ty = &T_FF;
                    return true;
                }
                EERR(v, e, "unknown-attribute",
                     "attribute `%.*s` not found: actions have no attributes in policies",
                     (int)a.len, a.ptr);
                return false;
            }
            unknown_type(v, e->line, e->col, t->name);
            return false;
        }
        rec = shape_of(v, et);
        known_to_exist = false;
        where = md_arena_printf(v->tmp, "entity type `%.*s`", (int)t->name.len, t->name.ptr);
        if (!where) {
            OOM(v);
            return false;
        }
    } else {
        EERR(v, x, "unexpected-type", "`%s` needs a record or an entity, but `%s` has type %s%s",
             e->op == MD_E_HAS_ATTR ? "has" : "attribute access", xname(v, x), tname(v, t),
             e->op == MD_E_GET_ATTR && t->kind == VT_SET
                 ? "; try using `contains`, `containsAny`, or `containsAll` to examine the "
                   "contents of a set"
                 : "");
        return false;
    }
    const vattr *at = NULL;
    size_t lo = 0, hi = rec->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = md_str_cmp(rec->attrs[mid].name, a);
        if (!cmp) {
            at = &rec->attrs[mid];
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    cap k = {x, NULL, a};
    if (e->op == MD_E_HAS_ATTR) {
        if (!at) {
            r->ty = &T_FF;
            return true;
        }
        if (caps_has(v, c, &k) || (at->required && known_to_exist)) {
            r->ty = &T_TT;
            return true;
        }
        r->ty = &T_BOOL;
        r->c = caps_one(v, x, NULL, a);
        return true;
    }
    if (!at) {
        if (where)
            EERR(v, e, "unknown-attribute",
                 "attribute `%.*s` not found: %s has no such attribute%s", (int)a.len, a.ptr, where,
                 suggest_attr(v, rec, a));
        else
            EERR(v, e, "unknown-attribute",
                 "attribute `%.*s` not found: `%s` has no such attribute%s", (int)a.len, a.ptr,
                 xname(v, x), suggest_attr(v, rec, a));
        return false;
    }
    if (!at->required && !caps_has(v, c, &k)) {
        const char *xs = xname(v, x);
        if (ident_like(a))
            EERR(v, e, "unsafe-optional-attribute",
                 "unable to guarantee safety of access to optional attribute `%.*s` of `%s`; "
                 "guard it with `%s has %.*s`",
                 (int)a.len, a.ptr, xs, xs, (int)a.len, a.ptr);
        else
            EERR(v, e, "unsafe-optional-attribute",
                 "unable to guarantee safety of access to optional attribute \"%.*s\" of `%s`; "
                 "guard it with `%s has \"%.*s\"`",
                 (int)a.len, a.ptr, xs, xs, (int)a.len, a.ptr);
        return false;
    }
    r->ty = at->ty;
    return true;
}

static int cmp_vattr(const void *a, const void *b)
{
    return md_str_cmp(((const vattr *)a)->name, ((const vattr *)b)->name);
}

static const char *ext_type_name(md_extfn f)
{
    switch (f) {
    case MD_FN_DECIMAL: return "decimal";
    case MD_FN_IP: return "ipaddr";
    case MD_FN_DATETIME: return "datetime";
    default: return "duration";
    }
}

static bool tc_call(V *v, const md_expr *e, caps c, tr *r)
{
    size_t n = e->u.call.n;
    md_extfn fn = e->u.call.fn;
    const char *name = md_extfn_name(fn);
    const vty **tys = md_arena_array(v->tmp, n ? n : 1, sizeof *tys);
    if (!tys) {
        OOM(v);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        tr ri;
        if (tc(v, e->u.call.args[i], c, &ri))
            tys[i] = ri.ty;
        else
            ok = false;
    }
    if (!ok)
        return false;
    if (fn == MD_FN_DECIMAL || fn == MD_FN_IP || fn == MD_FN_DATETIME || fn == MD_FN_DURATION) {
        if (n != 1) {
            EERR(v, e, "wrong-arity", "`%s()` takes 1 argument, found %zu", name, n);
            return false;
        }
        const md_expr *x = e->u.call.args[0];
        if (x->op != MD_E_LIT || x->u.lit.kind != MD_V_STRING) {
            EERR(v, x, "extension-non-literal",
                 "extension constructors may not be called with non-literal expressions: "
                 "`%s()` needs a string literal, found `%s`",
                 name, xname(v, x));
            return false;
        }
        md_str s = x->u.lit.u.s;
        bool valid;
        int64_t iv;
        md_ipaddr ip;
        switch (fn) {
        case MD_FN_DECIMAL: valid = md_decimal_parse(s, &iv); break;
        case MD_FN_IP: valid = md_ip_parse(s, &ip); break;
        case MD_FN_DATETIME: valid = md_datetime_parse(s, &iv); break;
        default: valid = md_duration_parse(s, &iv); break;
        }
        if (!valid) {
            md_buf b;
            md_buf_init(&b, 200);
            md_buf_json_str(&b, s.ptr, s.len > 80 ? 80 : s.len);
            EERR(v, x, "invalid-extension-literal", "%s is not a valid %s literal for `%s()`",
                 b.data ? b.data : "", ext_type_name(fn), name);
            md_buf_release(&b);
            return false;
        }
        r->ty = fn == MD_FN_DECIMAL    ? &T_DECIMAL
                : fn == MD_FN_IP       ? &T_IP
                : fn == MD_FN_DATETIME ? &T_DATETIME
                                       : &T_DURATION;
        return true;
    }
    size_t want = md_extfn_arity(fn);
    if (n != want) {
        EERR(v, e, "wrong-arity", "`.%s()` takes %zu argument%s, found %zu", name, want - 1,
             want - 1 == 1 ? "" : "s", n ? n - 1 : 0);
        return false;
    }
    const vty *a0 = &T_DECIMAL, *a1 = NULL, *res = &T_BOOL;
    switch (fn) {
    case MD_FN_LESS_THAN:
    case MD_FN_LESS_THAN_OR_EQUAL:
    case MD_FN_GREATER_THAN:
    case MD_FN_GREATER_THAN_OR_EQUAL: a1 = &T_DECIMAL; break;
    case MD_FN_IS_IPV4:
    case MD_FN_IS_IPV6:
    case MD_FN_IS_LOOPBACK:
    case MD_FN_IS_MULTICAST: a0 = &T_IP; break;
    case MD_FN_IS_IN_RANGE:
        a0 = &T_IP;
        a1 = &T_IP;
        break;
    case MD_FN_OFFSET:
        a0 = &T_DATETIME;
        a1 = &T_DURATION;
        res = &T_DATETIME;
        break;
    case MD_FN_DURATION_SINCE:
        a0 = &T_DATETIME;
        a1 = &T_DATETIME;
        res = &T_DURATION;
        break;
    case MD_FN_TO_DATE:
        a0 = &T_DATETIME;
        res = &T_DATETIME;
        break;
    case MD_FN_TO_TIME:
        a0 = &T_DATETIME;
        res = &T_DURATION;
        break;
    default: /* toDays ... toMilliseconds */
        a0 = &T_DURATION;
        res = &T_LONG;
        break;
    }
    if (!teq(tys[0], a0)) {
        EERR(v, e->u.call.args[0], "unexpected-type",
             "`.%s()` applies to values of type %s, found %s", name, tname(v, a0),
             tname(v, tys[0]));
        return false;
    }
    if (a1 && !teq(tys[1], a1)) {
        EERR(v, e->u.call.args[1], "unexpected-type",
             "the argument of `.%s()` must have type %s, found %s", name, tname(v, a1),
             tname(v, tys[1]));
        return false;
    }
    r->ty = res;
    return true;
}

static bool tc(V *v, const md_expr *e, caps c, tr *r)
{
    r->ty = NULL;
    r->c = (caps){0, NULL};
    if (v->rc)
        return false;
    if (++v->depth > MD_CEDAR_MAX_DEPTH + 8) {
        v->rc = MANDATE_ETOOBIG;
        v->depth--;
        return false;
    }
    bool ok = false;
    tr r1;
    switch (e->op) {
    case MD_E_LIT:
        switch (e->u.lit.kind) {
        case MD_V_BOOL: r->ty = e->u.lit.u.b ? &T_TT : &T_FF; break;
        case MD_V_LONG: r->ty = &T_LONG; break;
        case MD_V_STRING: r->ty = &T_STRING; break;
        case MD_V_ENTITY:
            if (uid_check(v, &e->u.lit.u.uid, e->line, e->col))
                r->ty = entity_ty(v, e->u.lit.u.uid.type);
            break;
        default: break;
        }
        ok = r->ty != NULL;
        break;
    case MD_E_VAR:
        switch (e->u.var) {
        case MD_VAR_PRINCIPAL: r->ty = entity_ty(v, v->principal); break;
        case MD_VAR_ACTION: r->ty = entity_ty(v, v->action->uid.type); break;
        case MD_VAR_RESOURCE: r->ty = entity_ty(v, v->resource); break;
        case MD_VAR_CONTEXT: r->ty = v->context; break;
        }
        ok = true;
        break;
    case MD_E_SLOT:
        r->ty = entity_ty(v, e->u.slot == MD_SLOT_PRINCIPAL ? v->pslot : v->rslot);
        ok = true;
        break;
    case MD_E_IF: ok = tc_if(v, e, c, r); break;
    case MD_E_AND: ok = tc_and(v, e, c, r); break;
    case MD_E_OR: ok = tc_or(v, e, c, r); break;
    case MD_E_NOT:
        if (!tc(v, e->u.k.a, c, &r1))
            break;
        if (r1.ty->kind != VT_BOOL) {
            not_bool(v, e, e->u.k.a, r1.ty);
            break;
        }
        r->ty = r1.ty->sub == B_TT ? &T_FF : r1.ty->sub == B_FF ? &T_TT : &T_BOOL;
        ok = true;
        break;
    case MD_E_NEG:
        if (!tc(v, e->u.k.a, c, &r1))
            break;
        if (r1.ty->kind != VT_LONG) {
            EERR(v, e->u.k.a, "unexpected-type", "the operand of unary `-` must be Long, found %s",
                 tname(v, r1.ty));
            break;
        }
        r->ty = &T_LONG;
        ok = true;
        break;
    case MD_E_IS_EMPTY:
        if (!tc(v, e->u.k.a, c, &r1))
            break;
        if (r1.ty->kind != VT_SET) {
            EERR(v, e->u.k.a, "unexpected-type", "`.isEmpty()` applies to a set, found %s%s",
                 tname(v, r1.ty),
                 r1.ty->kind == VT_STRING ? "; try using `== \"\"` to test if a string is empty"
                                          : "");
            break;
        }
        r->ty = &T_BOOL;
        ok = true;
        break;
    case MD_E_LIKE:
        if (!tc(v, e->u.like.a, c, &r1))
            break;
        if (r1.ty->kind != VT_STRING) {
            EERR(v, e->u.like.a, "unexpected-type",
                 "the operand of `like` must be a String, found %s", tname(v, r1.ty));
            break;
        }
        r->ty = &T_BOOL;
        ok = true;
        break;
    case MD_E_IS:
        if (e->u.is.in) {
            /* x is T in y == (x is T) && (x in y) */
            md_expr *isx = md_arena_alloc(v->tmp, sizeof *isx);
            md_expr *inx = md_arena_alloc(v->tmp, sizeof *inx);
            md_expr *andx = md_arena_alloc(v->tmp, sizeof *andx);
            if (!isx || !inx || !andx) {
                OOM(v);
                break;
            }
            *isx = *e;
            isx->u.is.in = NULL;
            *inx = (md_expr){.op = MD_E_IN, .line = e->line, .col = e->col};
            inx->u.k.a = e->u.is.a;
            inx->u.k.b = e->u.is.in;
            *andx = (md_expr){.op = MD_E_AND, .line = e->line, .col = e->col};
            andx->u.k.a = isx;
            andx->u.k.b = inx;
            ok = tc(v, andx, c, r);
            break;
        }
        if (!tc(v, e->u.is.a, c, &r1))
            break;
        if (r1.ty->kind != VT_ENTITY) {
            EERR(v, e->u.is.a, "unexpected-type",
                 "the operand of `is` must be an entity, found %s; Cedar only supports run time "
                 "type tests for entities",
                 tname(v, r1.ty));
            break;
        }
        r->ty = md_str_eq(r1.ty->name, e->u.is.type) ? &T_TT : &T_FF;
        ok = true;
        break;
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR: ok = tc_attr(v, e, c, r); break;
    case MD_E_SET: {
        size_t n = e->u.list.n;
        const vty **tys = md_arena_array(v->tmp, n ? n : 1, sizeof *tys);
        if (!tys) {
            OOM(v);
            break;
        }
        ok = true;
        for (size_t i = 0; i < n; i++) {
            if (tc(v, e->u.list.items[i], c, &r1))
                tys[i] = r1.ty;
            else
                ok = false;
        }
        if (!ok)
            break;
        if (!n) {
            EERR(v, e, "empty-set",
                 "empty set literals are forbidden in policies: strict validation cannot give "
                 "`[]` an element type");
            ok = false;
            break;
        }
        const vty *l = tys[0];
        for (size_t i = 1; i < n && ok; i++) {
            const vty *nl = lub(v, l, tys[i]);
            if (!nl) {
                EERR(v, e->u.list.items[i], "heterogeneous-set",
                     "set elements must have compatible types, but this element has type %s and "
                     "the ones before it %s",
                     tname(v, tys[i]), tname(v, l));
                ok = false;
            }
            l = nl;
        }
        if (ok)
            r->ty = set_ty(v, l);
        break;
    }
    case MD_E_RECORD: {
        size_t n = e->u.rec.n;
        vattr *at = md_arena_array(v->tmp, n ? n : 1, sizeof *at);
        vty *rt = md_arena_alloc(v->tmp, sizeof *rt);
        if (!at || !rt) {
            OOM(v);
            break;
        }
        ok = true;
        for (size_t i = 0; i < n; i++) {
            if (tc(v, e->u.rec.vals[i], c, &r1))
                at[i] = (vattr){e->u.rec.keys[i], r1.ty, true};
            else
                ok = false;
        }
        if (!ok)
            break;
        qsort(at, n, sizeof *at, cmp_vattr);
        rt->kind = VT_RECORD;
        rt->n = n;
        rt->attrs = at;
        r->ty = rt;
        break;
    }
    case MD_E_CALL: ok = tc_call(v, e, c, r); break;
    default: ok = tc_binary(v, e, c, r); break;
    }
    v->depth--;
    if (!ok)
        r->ty = NULL;
    return ok && !v->rc;
}

/* ---- scope positions ---- */

static void abs_pos(const md_policy *p, const md_token *t, uint32_t *line, uint32_t *col)
{
    *line = p->line + t->line - 1;
    *col = t->line == 1 ? p->col + t->col - 1 : t->col;
}

/* Finds the positions of the scope's parts by lexing the policy text again. */
static void scope_locate(V *v, const md_policy *p, spos sp[3])
{
    for (int i = 0; i < 3; i++) {
        sp[i] = (spos){p->line, p->col, p->line, p->col, p->line, p->col, 0, NULL};
    }
    if (!p->text.ptr)
        return;
    md_lexer lx;
    md_diag d = {0};
    md_token t;
    md_lexer_init(&lx, p->text.ptr, p->text.len);
    /* skip annotations up to permit/forbid and its '(' */
    for (;;) {
        if (md_lexer_next(&lx, &t, &d) || t.kind == MD_TK_EOF)
            return;
        if (t.kind == MD_TK_IDENT && (t.len == 6) &&
            (!memcmp(p->text.ptr + t.off, "permit", 6) ||
             !memcmp(p->text.ptr + t.off, "forbid", 6)))
            break;
    }
    if (md_lexer_next(&lx, &t, &d) || t.kind != MD_TK_LPAREN)
        return;
    int seg = 0, depth = 0;
    int state = 0; /* 0: expect var, 1: after var, 2: after is, 3: after ==/in, 4: in a list */
    size_t cap_items = 0;
    bool want_item = false;
    for (;;) {
        if (md_lexer_next(&lx, &t, &d) || t.kind == MD_TK_EOF || seg > 2)
            return;
        if (depth == 0 && t.kind == MD_TK_RPAREN)
            return;
        if (depth == 0 && t.kind == MD_TK_COMMA) {
            seg++;
            state = 0;
            continue;
        }
        if (seg > 2)
            return;
        spos *s = &sp[seg];
        uint32_t l, c;
        abs_pos(p, &t, &l, &c);
        if (t.kind == MD_TK_LPAREN || t.kind == MD_TK_LBRACKET) {
            if (state == 3 && t.kind == MD_TK_LBRACKET && depth == 0) {
                s->target_line = l;
                s->target_col = c;
                state = 4;
                want_item = true;
            }
            depth++;
            continue;
        }
        if (t.kind == MD_TK_RPAREN || t.kind == MD_TK_RBRACKET) {
            depth--;
            continue;
        }
        if (state == 4) {
            if (t.kind == MD_TK_COMMA && depth == 1) {
                want_item = true;
                continue;
            }
            if (want_item && depth == 1) {
                want_item = false;
                if (s->n_items == cap_items) {
                    size_t nc = cap_items ? cap_items * 2 : 8;
                    uint32_t *ni = md_arena_array(v->mem, nc * 2, sizeof *ni);
                    if (!ni) {
                        OOM(v);
                        return;
                    }
                    if (s->n_items)
                        memcpy(ni, s->items, s->n_items * 2 * sizeof *ni);
                    s->items = ni;
                    cap_items = nc;
                }
                s->items[s->n_items * 2] = l;
                s->items[s->n_items * 2 + 1] = c;
                s->n_items++;
            }
            continue;
        }
        bool kw_is = t.kind == MD_TK_IDENT && t.len == 2 && !memcmp(p->text.ptr + t.off, "is", 2);
        bool kw_in = t.kind == MD_TK_IDENT && t.len == 2 && !memcmp(p->text.ptr + t.off, "in", 2);
        switch (state) {
        case 0:
            s->var_line = s->type_line = s->target_line = l;
            s->var_col = s->type_col = s->target_col = c;
            state = 1;
            break;
        case 1:
            if (kw_is)
                state = 2;
            else if (kw_in || t.kind == MD_TK_EQ2)
                state = 3;
            break;
        case 2:
            s->type_line = l;
            s->type_col = c;
            state = 5;
            break;
        case 3:
            s->target_line = l;
            s->target_col = c;
            cap_items = 0;
            state = 6;
            break;
        case 5:
            if (kw_in)
                state = 3;
            break;
        default: break;
        }
    }
}

/* ---- policies as expressions (Policy.toExpr) ---- */

static md_expr *mk(V *v, md_op op, uint32_t line, uint32_t col)
{
    md_expr *e = md_arena_alloc(v->mem, sizeof *e);
    if (!e) {
        OOM(v);
        return NULL;
    }
    e->op = op;
    e->line = line;
    e->col = col;
    return e;
}

static md_expr *mk2(V *v, md_op op, uint32_t line, uint32_t col, const md_expr *a, const md_expr *b)
{
    md_expr *e = mk(v, op, line, col);
    if (e) {
        e->u.k.a = a;
        e->u.k.b = b;
    }
    return e;
}

static const md_expr *scope_expr(V *v, const md_scope *sc, md_var var, const spos *sp)
{
    md_expr *x = mk(v, MD_E_VAR, sp->var_line, sp->var_col);
    if (!x)
        return NULL;
    x->u.var = var;
    const md_expr *target = NULL;
    if (sc->kind == MD_SCOPE_EQ || sc->kind == MD_SCOPE_IN || sc->kind == MD_SCOPE_IS_IN) {
        md_expr *t;
        if (sc->slot) {
            t = mk(v, MD_E_SLOT, sp->target_line, sp->target_col);
            if (t)
                t->u.slot = var == MD_VAR_PRINCIPAL ? MD_SLOT_PRINCIPAL : MD_SLOT_RESOURCE;
        } else {
            t = mk(v, MD_E_LIT, sp->target_line, sp->target_col);
            if (t)
                t->u.lit = (md_value){.kind = MD_V_ENTITY, .u.uid = sc->uid};
        }
        target = t;
        if (!t)
            return NULL;
    }
    switch (sc->kind) {
    case MD_SCOPE_ANY: {
        md_expr *t = mk(v, MD_E_LIT, sp->var_line, sp->var_col);
        if (t)
            t->u.lit = (md_value){.kind = MD_V_BOOL, .u.b = true};
        return t;
    }
    case MD_SCOPE_EQ: return mk2(v, MD_E_EQ, sp->var_line, sp->var_col, x, target);
    case MD_SCOPE_IN: return mk2(v, MD_E_IN, sp->var_line, sp->var_col, x, target);
    case MD_SCOPE_IS:
    case MD_SCOPE_IS_IN: {
        md_expr *is = mk(v, MD_E_IS, sp->type_line, sp->type_col);
        if (!is)
            return NULL;
        is->u.is.a = x;
        is->u.is.type = sc->type;
        if (sc->kind == MD_SCOPE_IS)
            return is;
        md_expr *in = mk2(v, MD_E_IN, sp->var_line, sp->var_col, x, target);
        return in ? mk2(v, MD_E_AND, sp->var_line, sp->var_col, is, in) : NULL;
    }
    case MD_SCOPE_IN_LIST: {
        md_expr *set = mk(v, MD_E_SET, sp->target_line, sp->target_col);
        const md_expr **items = md_arena_array(v->mem, sc->n_uids ? sc->n_uids : 1, sizeof *items);
        if (!set || !items) {
            OOM(v);
            return NULL;
        }
        for (size_t i = 0; i < sc->n_uids; i++) {
            uint32_t l = i < sp->n_items ? sp->items[2 * i] : sp->target_line;
            uint32_t c = i < sp->n_items ? sp->items[2 * i + 1] : sp->target_col;
            md_expr *it = mk(v, MD_E_LIT, l, c);
            if (!it)
                return NULL;
            it->u.lit = (md_value){.kind = MD_V_ENTITY, .u.uid = sc->uids[i]};
            items[i] = it;
        }
        set->u.list.n = sc->n_uids;
        set->u.list.items = items;
        return mk2(v, MD_E_IN, sp->var_line, sp->var_col, x, set);
    }
    }
    return NULL;
}

/* Builds scope && conditions; records the synthetic && nodes for message wording. */
static const md_expr *policy_expr(V *v, const md_policy *p, spos sp[3])
{
    v->nsyn = 0;
    v->n_unless = 0;
    const md_expr *ps = scope_expr(v, &p->principal, MD_VAR_PRINCIPAL, &sp[0]);
    const md_expr *as = scope_expr(v, &p->action, MD_VAR_ACTION, &sp[1]);
    const md_expr *rs = scope_expr(v, &p->resource, MD_VAR_RESOURCE, &sp[2]);
    if (!ps || !as || !rs)
        return NULL;
    const md_expr **un = md_arena_array(v->mem, p->n_conds ? p->n_conds : 1, sizeof *un);
    if (!un) {
        OOM(v);
        return NULL;
    }
    const md_expr *cond = NULL;
    for (size_t i = p->n_conds; i-- > 0;) {
        const md_expr *ci = p->conds[i].body;
        if (!p->conds[i].when) {
            md_expr *n = mk(v, MD_E_NOT, ci->line, ci->col);
            if (!n)
                return NULL;
            n->u.k.a = ci;
            un[v->n_unless++] = n;
            ci = n;
        }
        if (!cond) {
            cond = ci;
        } else {
            md_expr *a = mk2(v, MD_E_AND, ci->line, ci->col, ci, cond);
            if (!a)
                return NULL;
            if (v->nsyn < MD_ARRAY_LEN(v->syn))
                v->syn[v->nsyn++] = a;
            cond = a;
        }
    }
    v->unless_nodes = un;
    if (!cond) {
        md_expr *t = mk(v, MD_E_LIT, p->line, p->col);
        if (!t)
            return NULL;
        t->u.lit = (md_value){.kind = MD_V_BOOL, .u.b = true};
        cond = t;
    }
    md_expr *a3 = mk2(v, MD_E_AND, p->line, p->col, rs, cond);
    md_expr *a2 = a3 ? mk2(v, MD_E_AND, p->line, p->col, as, a3) : NULL;
    md_expr *a1 = a2 ? mk2(v, MD_E_AND, p->line, p->col, ps, a2) : NULL;
    if (!a1)
        return NULL;
    /* The condition operands of these three are the conditions themselves. */
    const md_expr *top[3] = {a3, a2, a1};
    for (int i = 0; i < 3; i++)
        if (v->nsyn < MD_ARRAY_LEN(v->syn))
            v->syn[v->nsyn++] = top[i];
    return a1;
}

/* ---- action application (Rust validator's validate_action_application) ---- */

/* May an entity of type ety satisfy this principal/resource scope? */
static bool scope_admits(V *v, const md_scope *sc, md_str ety)
{
    switch (sc->kind) {
    case MD_SCOPE_ANY: return ety_find(v, ety) != NULL;
    case MD_SCOPE_EQ: return sc->slot ? ety_find(v, ety) != NULL : md_str_eq(ety, sc->uid.type);
    case MD_SCOPE_IN:
        if (sc->slot)
            return ety_find(v, ety) != NULL;
        return md_str_eq(ety, sc->uid.type) ||
               (ety_find(v, sc->uid.type) && ety_descendant(v, ety, sc->uid.type));
    case MD_SCOPE_IS: return md_str_eq(ety, sc->type) && type_known(v, sc->type);
    case MD_SCOPE_IS_IN:
        if (!md_str_eq(ety, sc->type))
            return false;
        if (sc->slot)
            return type_known(v, sc->type);
        return md_str_eq(ety, sc->uid.type) ||
               (ety_find(v, sc->uid.type) && ety_descendant(v, ety, sc->uid.type));
    default: return false;
    }
}

static bool action_admitted(V *v, const md_scope *sc, const md_action *a)
{
    switch (sc->kind) {
    case MD_SCOPE_ANY: return true;
    case MD_SCOPE_EQ: return md_euid_eq(&a->uid, &sc->uid);
    case MD_SCOPE_IN: return act_find(v, &sc->uid) && act_descendant(v, &a->uid, &sc->uid);
    case MD_SCOPE_IN_LIST:
        for (size_t i = 0; i < sc->n_uids; i++)
            if (!act_find(v, &sc->uids[i]))
                return false;
        for (size_t i = 0; i < sc->n_uids; i++)
            if (act_descendant(v, &a->uid, &sc->uids[i]))
                return true;
        return false;
    default: return false;
    }
}

static bool action_applies(V *v, const md_policy *p)
{
    for (size_t i = 0; i < v->s->n_actions; i++) {
        const md_action *a = &v->s->actions[i];
        if (!a->has_applies_to || !action_admitted(v, &p->action, a))
            continue;
        bool pm = false, rm = false;
        for (size_t j = 0; j < a->n_principals && !pm; j++)
            pm = scope_admits(v, &p->principal, a->principals[j]);
        for (size_t j = 0; j < a->n_resources && !rm && pm; j++)
            rm = scope_admits(v, &p->resource, a->resources[j]);
        if (pm && rm)
            return true;
    }
    return false;
}

static void no_action(V *v, const md_policy *p)
{
    emit(v, false, p->line, p->col, "no-applicable-action",
         "unable to find an applicable action given the policy scope constraints: no action "
         "of the schema applies to a principal and a resource that this scope can match "
         "(check the action's appliesTo and the principal and resource types)");
}

/* ---- driving the environments ---- */

typedef struct slotset {
    size_t n;
    md_str *types;
} slotset;

/* Rust's possible_slot_links: the types a slot may have in an environment. */
static slotset slot_types(V *v, const md_scope *sc, md_str var_ty)
{
    static md_str none = {"", 0};
    slotset r = {0, NULL};
    if (!sc->slot) {
        r.n = 1;
        r.types = &none;
        return r;
    }
    md_str *t = md_arena_array(v->tmp, v->s->n_entity_types + 1, sizeof *t);
    if (!t) {
        OOM(v);
        return r;
    }
    if (sc->kind == MD_SCOPE_EQ) {
        t[r.n++] = var_ty;
    } else if (sc->kind == MD_SCOPE_IN || sc->kind == MD_SCOPE_IS_IN) {
        for (size_t i = 0; i < v->s->n_entity_types; i++) {
            md_str n = v->s->entity_types[i].name;
            if (!md_str_eq(n, var_ty) && ety_descendant(v, var_ty, n))
                t[r.n++] = n;
        }
        t[r.n++] = var_ty;
    } else {
        for (size_t i = 0; i < v->s->n_entity_types; i++)
            t[r.n++] = v->s->entity_types[i].name;
    }
    r.types = t;
    return r;
}

enum { USE_P = 1, USE_A = 2, USE_R = 4 };

/* Which parts of the environment an expression depends on (principal, action or context,
 * resource). Slots count as the variable of their scope. */
static unsigned var_uses(const md_expr *e, unsigned depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH)
        return USE_P | USE_A | USE_R;
    switch (e->op) {
    case MD_E_LIT: return 0;
    case MD_E_VAR:
        return e->u.var == MD_VAR_PRINCIPAL ? USE_P : e->u.var == MD_VAR_RESOURCE ? USE_R : USE_A;
    case MD_E_SLOT: return e->u.slot == MD_SLOT_PRINCIPAL ? USE_P : USE_R;
    case MD_E_IF:
        return var_uses(e->u.k.a, depth + 1) | var_uses(e->u.k.b, depth + 1) |
               var_uses(e->u.k.c, depth + 1);
    case MD_E_NOT:
    case MD_E_NEG:
    case MD_E_IS_EMPTY: return var_uses(e->u.k.a, depth + 1);
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR: return var_uses(e->u.attr.a, depth + 1);
    case MD_E_LIKE: return var_uses(e->u.like.a, depth + 1);
    case MD_E_IS:
        return var_uses(e->u.is.a, depth + 1) | (e->u.is.in ? var_uses(e->u.is.in, depth + 1) : 0);
    case MD_E_SET: {
        unsigned u = 0;
        for (size_t i = 0; i < e->u.list.n; i++)
            u |= var_uses(e->u.list.items[i], depth + 1);
        return u;
    }
    case MD_E_RECORD: {
        unsigned u = 0;
        for (size_t i = 0; i < e->u.rec.n; i++)
            u |= var_uses(e->u.rec.vals[i], depth + 1);
        return u;
    }
    case MD_E_CALL: {
        unsigned u = 0;
        for (size_t i = 0; i < e->u.call.n; i++)
            u |= var_uses(e->u.call.args[i], depth + 1);
        return u;
    }
    default: return var_uses(e->u.k.a, depth + 1) | var_uses(e->u.k.b, depth + 1);
    }
}

/* For policies that do not mention the action: has an environment with these (relevant)
 * principal and resource types been checked already? Records the pair when not. An open
 * addressing set of pairs, cleared for each policy. */
static uint64_t pair_hash(md_str p, md_str r)
{
    return md_hash_bytes(r.ptr, r.len, md_hash_bytes(p.ptr, p.len, 17) + 0x9e3779b97f4a7c15u);
}

static bool env_seen(V *v, md_str p, md_str r)
{
    if ((v->n_seen + 1) * 2 > v->cap_seen) {
        size_t nc = v->cap_seen ? v->cap_seen * 2 : 64;
        md_str *ns = md_arena_array(v->mem, nc * 2, sizeof *ns);
        if (!ns) {
            OOM(v);
            return true;
        }
        for (size_t i = 0; i < v->cap_seen; i++) {
            if (!v->seen[2 * i].ptr)
                continue;
            size_t h = (size_t)pair_hash(v->seen[2 * i], v->seen[2 * i + 1]) & (nc - 1);
            while (ns[2 * h].ptr)
                h = (h + 1) & (nc - 1);
            ns[2 * h] = v->seen[2 * i];
            ns[2 * h + 1] = v->seen[2 * i + 1];
        }
        v->seen = ns;
        v->cap_seen = nc;
    }
    size_t h = (size_t)pair_hash(p, r) & (v->cap_seen - 1);
    while (v->seen[2 * h].ptr) {
        if (md_str_eq(v->seen[2 * h], p) && md_str_eq(v->seen[2 * h + 1], r))
            return true;
        h = (h + 1) & (v->cap_seen - 1);
    }
    v->seen[2 * h] = p;
    v->seen[2 * h + 1] = r;
    v->n_seen++;
    return false;
}

static int validate_one(V *v, const md_policy *p)
{
    v->pol = p;
    v->pol_start = v->nres;
    v->action = NULL;
    if (v->n_seen)
        memset(v->seen, 0, v->cap_seen * 2 * sizeof *v->seen);
    v->n_seen = 0;

    if (p->template_id.len && !p->is_template) {
        /* A template-linked policy: the template itself is validated on its own. */
        const md_euid *slots[2] = {p->has_principal_slot ? &p->principal_slot : NULL,
                                   p->has_resource_slot ? &p->resource_slot : NULL};
        for (int i = 0; i < 2; i++)
            if (slots[i] && !type_known(v, slots[i]->type)) {
                unknown_type(v, p->line, p->col, slots[i]->type);
                flush_env(v);
            }
        if (!action_applies(v, p))
            no_action(v, p);
        return v->rc;
    }

    spos sp[3];
    scope_locate(v, p, sp);
    const md_expr *x = policy_expr(v, p, sp);
    if (!x)
        return v->rc ? v->rc : MANDATE_ENOMEM;

    check_entities(v, x, 0);
    flush_env(v);
    if (!action_applies(v, p))
        no_action(v, p);

    /* The result in an environment depends only on the parts the expression mentions, so
     * environments that agree on those are checked once. */
    unsigned uses = var_uses(x, 0);
    bool all_false = true, any_error = false;
    for (size_t ai = 0; ai < v->s->n_actions && !v->rc; ai++) {
        const md_action *a = &v->s->actions[ai];
        if (!a->has_applies_to)
            continue;
        for (size_t pi = 0; pi < a->n_principals; pi++) {
            if (!(uses & USE_P) && pi > 0)
                break;
            for (size_t ri = 0; ri < a->n_resources; ri++) {
                if (!(uses & USE_R) && ri > 0)
                    break;
                if (!(uses & USE_A) &&
                    env_seen(v, (uses & USE_P) ? a->principals[pi] : (md_str){"", 0},
                             (uses & USE_R) ? a->resources[ri] : (md_str){"", 0}))
                    continue;
                md_arena_reset(v->tmp);
                v->ed = NULL;
                v->ned = v->caped = 0;
                v->action = a;
                v->principal = a->principals[pi];
                v->resource = a->resources[ri];
                v->context = context_of(v, a);
                slotset ps = slot_types(v, &p->principal, v->principal);
                slotset rs = slot_types(v, &p->resource, v->resource);
                for (size_t i = 0; i < ps.n; i++) {
                    for (size_t j = 0; j < rs.n; j++) {
                        v->pslot = ps.types[i];
                        v->rslot = rs.types[j];
                        tr r;
                        size_t mark = v->ned;
                        if (!tc(v, x, (caps){0, NULL}, &r)) {
                            if (v->ned == mark && !v->rc)
                                verr(v, p->line, p->col, "unexpected-type",
                                     "the policy does not typecheck");
                            all_false = false;
                            any_error = true;
                        } else if (!(r.ty->kind == VT_BOOL && r.ty->sub == B_FF)) {
                            all_false = false;
                        }
                    }
                }
                flush_env(v);
            }
        }
    }
    v->action = NULL;
    if (v->rc)
        return v->rc;
    bool has_error = any_error;
    for (size_t i = v->pol_start; i < v->nres; i++)
        if (!v->res[i].warning)
            has_error = true;
    if (all_false && !has_error)
        emit(v, true, p->line, p->col, "impossible-policy",
             "policy is impossible: the policy expression evaluates to false for all valid "
             "requests of the schema");
    return v->rc;
}

static int cmp_diag(const void *a, const void *b)
{
    const md_vdiag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return 0;
}

bool md_vdiag_has_error(const md_vdiag *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!d[i].warning)
            return true;
    return false;
}

int md_validate(md_arena *a, const md_policyset *ps, const md_schema *s, size_t *n_out,
                const md_vdiag **out)
{
    *n_out = 0;
    *out = NULL;
    V v;
    memset(&v, 0, sizeof v);
    v.out = a;
    v.s = s;
    v.mem = md_arena_new();
    v.tmp = md_arena_new();
    int rc = 0;
    size_t ne = s->n_entity_types, na = s->n_actions;
    size_t nq = (ne > na ? ne : na) + 1;
    if (!v.mem || !v.tmp)
        goto oom;
    v.ety_shape = md_arena_array(v.mem, ne + 1, sizeof *v.ety_shape);
    v.act_ctx = md_arena_array(v.mem, na + 1, sizeof *v.act_ctx);
    v.emark = md_arena_array(v.mem, ne + 1, sizeof *v.emark);
    v.amark = md_arena_array(v.mem, na + 1, sizeof *v.amark);
    v.queue = md_arena_array(v.mem, nq, sizeof *v.queue);
    if (!v.ety_shape || !v.act_ctx || !v.emark || !v.amark || !v.queue)
        goto oom;
    for (size_t i = 0; i < ps->n && !rc; i++) {
        size_t start = v.nres;
        rc = validate_one(&v, ps->policies[i]);
        if (v.nres > start)
            qsort(v.res + start, v.nres - start, sizeof *v.res, cmp_diag);
    }
    for (size_t i = 0; i < ps->n_templates && !rc; i++) {
        size_t start = v.nres;
        rc = validate_one(&v, ps->templates[i]);
        if (v.nres > start)
            qsort(v.res + start, v.nres - start, sizeof *v.res, cmp_diag);
    }
    if (rc)
        goto done;
    *n_out = v.nres;
    *out = v.res;
    goto done;
oom:
    rc = MANDATE_ENOMEM;
done:
    md_arena_free(v.mem);
    md_arena_free(v.tmp);
    return rc;
}
