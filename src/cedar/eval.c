/*
 * eval.c: the Cedar evaluator, as the Lean model's `evaluate`
 * (cedar-lean/Cedar/Spec/Evaluator.lean) and Policy.toExpr (scopes, then conditions, joined by &&
 * and evaluated left to right).
 *
 * Values are returned by copy in md_value (no allocation for scalars, strings, entities and
 * attribute values, which are borrowed from the entity store, the request or the AST); only set
 * and record literals and extension results allocate, in the caller's scratch arena. Recursion
 * follows the AST, whose depth the parser caps; chains of && and || are walked iteratively in
 * both directions (left-deep chains in steps of a fixed-size local spine). A guard turns an
 * over-deep hand-built AST into MANDATE_ETOOBIG instead of a stack overflow.
 *
 * Policies: scope constraints cannot fail once slots are filled, so the cheap ones (==, is) are
 * checked before the `in`s, whatever their order in Policy.toExpr; conditions then run in order.
 * Entity lookups of the request's principal, action and resource go through an md_eval_cache
 * (eval.h), once per request when the caller keeps the cache across policies.
 *
 * Errors are MANDATE_EEVAL with a message in the style of the Rust engine's in the md_diag.
 *
 * May depend on: core/, cedar_int.h (value.c, entities.c, ext.c), eval.h.
 */
#include <stdio.h>

#include "cedar/cedar_int.h"
#include "cedar/eval.h"
#include "cedar/entities.h"

/* Recursion guard for hand-built ASTs; parsed ones are capped far below this. */
#define EVAL_MAX_DEPTH (4 * MD_CEDAR_MAX_DEPTH)
/* How many same-operator nodes of a left-deep && / || chain are walked per stack frame. */
#define SPINE 32

typedef struct ev {
    const md_request *req;
    const md_entities *es;
    const md_policy *p;
    md_arena *scratch;
    md_diag *d;
    md_eval_cache *cache; /* lookups of the request's principal, action and resource */
} ev;

/* ---- error messages ---- */

/* Formats a uid as Cedar prints it (NS::Type::"id"), truncated to fit dst. */
static void fmt_euid(const md_euid *u, char *dst, size_t cap)
{
    md_buf b;
    md_buf_init(&b, 256);
    if (md_euid_print(&b, u) == 0 && b.data)
        snprintf(dst, cap, "%s", b.data);
    else
        snprintf(dst, cap, "%.*s::\"%.*s...\"", (int)(u->type.len > 100 ? 100 : u->type.len),
                 u->type.ptr ? u->type.ptr : "", (int)(u->id.len > 100 ? 100 : u->id.len),
                 u->id.ptr ? u->id.ptr : "");
    md_buf_release(&b);
}

static int type_error(ev *c, const md_expr *e, const char *expected, const md_value *got)
{
    return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col, "type error: expected %s, got %s",
                       expected, md_vkind_name(got->kind));
}

static int overflow_error(ev *c, const md_expr *e, const char *verb, int64_t x, int64_t y)
{
    return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                       "integer overflow while attempting to %s the values %lld and %lld", verb,
                       (long long)x, (long long)y);
}

static int no_entity_error(ev *c, const md_expr *e, const md_euid *u)
{
    char s[300];
    fmt_euid(u, s, sizeof s);
    return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col, "entity `%s` does not exist", s);
}

static int depth_error(ev *c, const md_expr *e)
{
    return md_diag_set(c->d, MANDATE_ETOOBIG, e->line, e->col,
                       "expression nested deeper than %d levels", EVAL_MAX_DEPTH);
}

static int nomem(ev *c, const md_expr *e)
{
    return md_diag_set(c->d, MANDATE_ENOMEM, e->line, e->col, "out of memory while evaluating");
}

/* ---- fast comparisons (inline: scopes and lookups are the hot path) ---- */

/* The order of md_str_cmp (bytewise, a prefix first). */
static inline int str_cmp(md_str a, md_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    const unsigned char *p = (const unsigned char *)a.ptr, *q = (const unsigned char *)b.ptr;
    if (n > 32) {
        int k = memcmp(p, q, n);
        if (k)
            return k;
    } else {
        for (size_t i = 0; i < n; i++)
            if (p[i] != q[i])
                return p[i] < q[i] ? -1 : 1;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}

static inline bool euid_eq(const md_euid *a, const md_euid *b)
{
    return md_bytes_eq(a->id, b->id) && md_bytes_eq(a->type, b->type);
}

/* The order of md_euid_cmp. */
static inline int euid_cmp(const md_euid *a, const md_euid *b)
{
    int k = str_cmp(a->type, b->type);
    return k ? k : str_cmp(a->id, b->id);
}

/* md_value_eq, with strings, longs and bools (the usual comparisons with literals) inline. */
static inline bool value_eq(const md_value *a, const md_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MD_V_BOOL: return a->u.b == b->u.b;
    case MD_V_LONG: return a->u.i == b->u.i;
    case MD_V_STRING: return md_bytes_eq(a->u.s, b->u.s);
    case MD_V_ENTITY: return euid_eq(&a->u.uid, &b->u.uid);
    default: return md_value_eq(a, b);
    }
}

/* ---- entities ---- */

static bool same_uid_ptrs(const md_euid *a, const md_euid *b)
{
    return a->id.ptr == b->id.ptr && a->id.len == b->id.len && a->type.ptr == b->type.ptr &&
           a->type.len == b->type.len;
}

/* Starts loading a record's header and first nine values (its keys and signatures are usually
 * shared with other records, and in cache). */
static inline void prefetch_record(const md_record *r)
{
    __builtin_prefetch(r);
    __builtin_prefetch((const char *)r + 64);
    __builtin_prefetch((const char *)r + 128);
}

void md_eval_cache_init(md_eval_cache *c, const md_request *req, const md_entities *es)
{
    c->req = req;
    c->es = es;
    c->done = 0;
    c->ent[0] = c->ent[1] = c->ent[2] = NULL;
    c->memo_next = 0;
    for (unsigned i = 0; i < MD_ARRAY_LEN(c->memo_uid); i++)
        c->memo_uid[i].id.ptr = NULL; /* an empty slot (lookup reads no more of it) */
    if (!es)
        return;
    /* Every decision needs these three; finding them together overlaps their cache misses. */
    const md_euid *uids[3] = {&req->principal, &req->action, &req->resource};
    md_entities_find_many(es, uids, 3, c->ent);
    c->done = 7;
    /* Most policies read the principal's and the resource's attributes and ancestors, the
     * context, and the entities those attributes name (an agent's owner, a ticket's assignee):
     * start loading them all now, so their cache misses overlap instead of coming one after
     * another as the policies reach them. */
    for (int i = 0; i < 3; i += 2)
        if (c->ent[i]) {
            prefetch_record(c->ent[i]->attrs);
            __builtin_prefetch(c->ent[i]->ancestors);
            md_entities_prefetch_named(c->ent[i]);
        }
    if (req->context.kind == MD_V_RECORD)
        prefetch_record(req->context.u.rec);
}

static const md_entity *cached(md_eval_cache *k, unsigned i, const md_euid *u)
{
    if (!(k->done & (1u << i))) {
        k->ent[i] = md_entities_find(k->es, u);
        k->done |= 1u << i;
    }
    return k->ent[i];
}

const md_entity *md_eval_cache_action(md_eval_cache *c)
{
    return c->es ? cached(c, 1, &c->req->action) : NULL;
}

/* The entity with this uid, or NULL when the store does not have it. The request's own uids
 * (recognised by their borrowed pointers) are looked up once per request; uids read from stored
 * entities resolve from their pointers (md_entities_resolve); others are memoised. */
static const md_entity *lookup(md_eval_cache *k, const md_euid *u)
{
    if (!k->es)
        return NULL;
    if (same_uid_ptrs(u, &k->req->principal))
        return cached(k, 0, u);
    if (same_uid_ptrs(u, &k->req->resource))
        return cached(k, 2, u);
    if (same_uid_ptrs(u, &k->req->action))
        return cached(k, 1, u);
    const md_entity *e = md_entities_resolve(k->es, u);
    if (e)
        return e;
    for (unsigned i = 0; i < MD_ARRAY_LEN(k->memo_uid); i++)
        if (k->memo_uid[i].id.ptr && same_uid_ptrs(u, &k->memo_uid[i]))
            return k->memo_ent[i];
    e = md_entities_find(k->es, u);
    unsigned slot = k->memo_next++ % MD_ARRAY_LEN(k->memo_uid);
    k->memo_uid[slot] = *u;
    k->memo_ent[slot] = e;
    return e;
}

/* Cedar `in` on uids by their bytes: a == b, or b is among the ancestors of e (a's entity, or
 * NULL when the store does not have a). */
static bool in_bytes(const md_euid *a, const md_entity *e, const md_euid *b)
{
    if (euid_eq(a, b))
        return true;
    if (!e)
        return false;
    if (e->n_ancestors <= 8) {
        for (size_t i = 0; i < e->n_ancestors; i++)
            if (euid_eq(&e->ancestors[i], b))
                return true;
        return false;
    }
    size_t lo = 0, hi = e->n_ancestors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int k = euid_cmp(&e->ancestors[mid], b);
        if (k == 0)
            return true;
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Cedar `in` on uids (as md_entities_in): a == b, or b is among a's ancestors. */
static bool in_entity(md_eval_cache *k, const md_euid *a, const md_euid *b)
{
    /* b shares a stored entity's strings (resource.owner_team, principal.owner): compare entries
     * and pointers, no bytes. a equal to b would be found as b's entity, and every ancestor that
     * is b was copied from b's entity's uid. */
    const md_entity *tb = k->es ? md_entities_resolve(k->es, b) : NULL;
    if (tb) {
        const md_entity *e = lookup(k, a);
        if (!e)
            return false;
        if (e == tb)
            return true;
        if (e->n_ancestors <= 64) {
            for (size_t i = 0; i < e->n_ancestors; i++) {
                const md_euid *u = &e->ancestors[i];
                if (u->id.ptr == tb->uid.id.ptr && u->id.len == tb->uid.id.len &&
                    md_bytes_eq(u->type, tb->uid.type))
                    return true;
            }
            return false;
        }
    }
    return in_bytes(a, lookup(k, a), b);
}

/* ---- wildcard matching ---- */

/* Matches text against a `like` pattern. Greedy with one backtrack point (the last star):
 * O(len(text) * len(pattern)) at worst, never exponential. Byte-wise matching is the same as the
 * model's character-wise one, since literals and text are both valid UTF-8. */
static bool like_match(md_str text, const md_pattern *pat)
{
    size_t ti = 0, pe = 0, po = 0;
    bool star = false;
    size_t star_pe = 0, star_ti = 0;
    while (ti < text.len) {
        while (pe < pat->n && !pat->elems[pe].star && po == pat->elems[pe].lit.len) {
            pe++;
            po = 0;
        }
        if (pe < pat->n && pat->elems[pe].star) {
            star = true;
            star_pe = ++pe;
            po = 0;
            star_ti = ti;
            continue;
        }
        if (pe < pat->n && text.ptr[ti] == pat->elems[pe].lit.ptr[po]) {
            ti++;
            po++;
            continue;
        }
        if (!star)
            return false;
        pe = star_pe;
        po = 0;
        ti = ++star_ti;
    }
    for (; pe < pat->n; pe++, po = 0)
        if (!pat->elems[pe].star && po < pat->elems[pe].lit.len)
            return false;
    return true;
}

/* ---- expressions ---- */

static inline void set_bool(md_value *out, bool b)
{
    out->kind = MD_V_BOOL;
    out->u.b = b;
}

static int eval(ev *c, const md_expr *e, md_value *out, unsigned depth);

static int attr_of_var(ev *c, const md_expr *e, md_value *out);

/* eval, with the commonest leaves (literals, attributes of variables) done without a call. */
static inline int operand(ev *c, const md_expr *e, md_value *out, unsigned depth)
{
    if (e->op == MD_E_LIT) {
        *out = e->u.lit;
        return 0;
    }
    if ((e->op == MD_E_GET_ATTR || e->op == MD_E_HAS_ATTR) && e->u.attr.a->op == MD_E_VAR)
        return attr_of_var(c, e, out);
    return eval(c, e, out, depth);
}

static int eval_bool(ev *c, const md_expr *e, bool *out, unsigned depth)
{
    md_value v;
    int rc = operand(c, e, &v, depth);
    if (rc)
        return rc;
    if (v.kind != MD_V_BOOL)
        return type_error(c, e, "bool", &v);
    *out = v.u.b;
    return 0;
}

/* A chain of && (or ||): every operand must be a bool when it is evaluated; the first false
 * (true) stops the chain. Left-deep chains are walked SPINE nodes per frame, right-deep ones
 * in a loop. */
static int eval_logic(ev *c, const md_expr *e, bool *out, unsigned depth)
{
    const md_op op = e->op;
    const bool stop = op == MD_E_OR;
    const md_expr *spine[SPINE];
    for (;;) {
        size_t n = 0;
        const md_expr *x = e;
        while (x->op == op && n < SPINE) {
            spine[n++] = x;
            x = x->u.k.a;
        }
        bool b = false;
        int rc = eval_bool(c, x, &b, depth + 1);
        if (rc)
            return rc;
        if (b == stop)
            goto done;
        for (size_t i = n - 1; i > 0; i--) {
            rc = eval_bool(c, spine[i]->u.k.b, &b, depth + 1);
            if (rc)
                return rc;
            if (b == stop)
                goto done;
        }
        e = e->u.k.b;
        if (e->op != op)
            return eval_bool(c, e, out, depth + 1);
    }
done:
    *out = stop;
    return 0;
}

static int cmp_op(ev *c, const md_expr *e, const md_value *x, const md_value *y, bool *out)
{
    if (x->kind != y->kind ||
        (x->kind != MD_V_LONG && x->kind != MD_V_DATETIME && x->kind != MD_V_DURATION)) {
        if (x->kind == MD_V_LONG || x->kind == MD_V_DATETIME || x->kind == MD_V_DURATION)
            return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                               "type error: expected %s, got %s", md_vkind_name(x->kind),
                               md_vkind_name(y->kind));
        return type_error(c, e, "long, datetime or duration", x);
    }
    int64_t a = x->u.i, b = y->u.i;
    switch (e->op) {
    case MD_E_LT: *out = a < b; break;
    case MD_E_LE: *out = a <= b; break;
    case MD_E_GT: *out = a > b; break;
    default: *out = a >= b; break;
    }
    return 0;
}

static int arith_op(ev *c, const md_expr *e, const md_value *x, const md_value *y, int64_t *out)
{
    if (x->kind != MD_V_LONG)
        return type_error(c, e, "long", x);
    if (y->kind != MD_V_LONG)
        return type_error(c, e, "long", y);
    int64_t a = x->u.i, b = y->u.i;
    switch (e->op) {
    case MD_E_ADD:
        if (__builtin_add_overflow(a, b, out))
            return overflow_error(c, e, "add", a, b);
        return 0;
    case MD_E_SUB:
        if (__builtin_sub_overflow(a, b, out))
            return overflow_error(c, e, "subtract", a, b);
        return 0;
    default:
        if (__builtin_mul_overflow(a, b, out))
            return overflow_error(c, e, "multiply", a, b);
        return 0;
    }
}

/* `a in b`: b an entity, or a set whose elements must all be entities. */
static int in_op(ev *c, const md_expr *e, const md_value *x, const md_value *y, bool *out)
{
    if (x->kind != MD_V_ENTITY)
        return type_error(c, e, "entity", x);
    if (y->kind == MD_V_ENTITY) {
        *out = in_entity(c->cache, &x->u.uid, &y->u.uid);
        return 0;
    }
    if (y->kind != MD_V_SET)
        return type_error(c, e, "entity or set", y);
    const md_set *s = y->u.set;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].kind != MD_V_ENTITY)
            return type_error(c, e, "entity", &s->items[i]);
    *out = false;
    for (size_t i = 0; i < s->n && !*out; i++)
        *out = in_entity(c->cache, &x->u.uid, &s->items[i].u.uid);
    return 0;
}

static int set_op(ev *c, const md_expr *e, const md_value *x, const md_value *y, bool *out)
{
    if (x->kind != MD_V_SET)
        return type_error(c, e, "set", x);
    if (e->op == MD_E_CONTAINS) {
        *out = md_set_contains(x->u.set, y);
        return 0;
    }
    if (y->kind != MD_V_SET)
        return type_error(c, e, "set", y);
    const md_set *s = x->u.set, *t = y->u.set;
    if (e->op == MD_E_CONTAINS_ALL) {
        *out = true;
        for (size_t i = 0; i < t->n && *out; i++)
            *out = md_set_contains(s, &t->items[i]);
    } else {
        *out = false;
        /* Probe the smaller set's elements in the larger one. */
        const md_set *small = s->n < t->n ? s : t, *large = s->n < t->n ? t : s;
        for (size_t i = 0; i < small->n && !*out; i++)
            *out = md_set_contains(large, &small->items[i]);
    }
    return 0;
}

static int tag_op(ev *c, const md_expr *e, const md_value *x, const md_value *y, md_value *out)
{
    if (x->kind != MD_V_ENTITY)
        return type_error(c, e, "entity", x);
    if (y->kind != MD_V_STRING)
        return type_error(c, e, "string", y);
    const md_entity *ent = lookup(c->cache, &x->u.uid);
    if (e->op == MD_E_HAS_TAG) {
        out->kind = MD_V_BOOL;
        out->u.b = ent && md_record_find(ent->tags, y->u.s, 0) != NULL;
        return 0;
    }
    if (!ent)
        return no_entity_error(c, e, &x->u.uid);
    const md_rval *v = md_record_find(ent->tags, y->u.s, 0);
    if (!v) {
        char s[300];
        fmt_euid(&x->u.uid, s, sizeof s);
        return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                           "`%s` does not have the tag `%.*s`", s,
                           (int)(y->u.s.len > 100 ? 100 : y->u.s.len), y->u.s.ptr);
    }
    md_rval_load(v, out);
    return 0;
}

/* e.name / e has name on a record r, or on the attributes of the entity uid (ent: its entity,
 * NULL when the store does not have it); uid is NULL for a record. */
static inline __attribute__((always_inline)) int attr_get(ev *c, const md_expr *e,
                                                          const md_euid *uid, const md_entity *ent,
                                                          const md_record *r, md_value *out)
{
    md_str name = e->u.attr.name;
    if (uid) {
        if (!ent) {
            if (e->op == MD_E_HAS_ATTR) {
                set_bool(out, false);
                return 0;
            }
            return no_entity_error(c, e, uid);
        }
        r = ent->attrs;
    }
    const md_rval *v = md_record_find(r, name, e->u.attr.sig);
    if (e->op == MD_E_HAS_ATTR) {
        set_bool(out, v != NULL);
        return 0;
    }
    if (!v) {
        int nl = (int)(name.len > 100 ? 100 : name.len);
        if (!uid)
            return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                               "record does not have the attribute `%.*s`", nl, name.ptr);
        char s[300];
        fmt_euid(uid, s, sizeof s);
        return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                           "`%s` does not have the attribute `%.*s`", s, nl, name.ptr);
    }
    md_rval_load(v, out);
    return 0;
}

static int attr_op(ev *c, const md_expr *e, const md_value *x, md_value *out)
{
    if (x->kind == MD_V_RECORD)
        return attr_get(c, e, NULL, NULL, x->u.rec, out);
    if (x->kind == MD_V_ENTITY)
        return attr_get(c, e, &x->u.uid, lookup(c->cache, &x->u.uid), NULL, out);
    return type_error(c, e, "entity or record", x);
}

/* e.name / e has name where e is a variable (principal.level, context.risk_score): the request's
 * entities come from the cache without building the variable's value first. */
static int attr_of_var(ev *c, const md_expr *e, md_value *out)
{
    md_eval_cache *k = c->cache;
    const md_euid *uid;
    unsigned which;
    switch (e->u.attr.a->u.var) {
    case MD_VAR_PRINCIPAL: uid = &k->req->principal, which = 0; break;
    case MD_VAR_RESOURCE: uid = &k->req->resource, which = 2; break;
    case MD_VAR_ACTION: uid = &k->req->action, which = 1; break;
    default:
        if (k->req->context.kind == MD_V_RECORD)
            return attr_get(c, e, NULL, NULL, k->req->context.u.rec, out);
        return attr_op(c, e, &k->req->context, out);
    }
    return attr_get(c, e, uid, k->es ? cached(k, which, uid) : NULL, NULL, out);
}

static int eval_set(ev *c, const md_expr *e, md_value *out, unsigned depth)
{
    size_t n = e->u.list.n;
    md_value *items = NULL;
    if (n) {
        items = md_arena_array(c->scratch, n, sizeof *items);
        if (!items)
            return nomem(c, e);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = eval(c, e->u.list.items[i], &items[i], depth + 1);
        if (rc)
            return rc;
    }
    const md_set *s;
    int rc = md_set_new(c->scratch, items, n, &s);
    if (rc)
        return rc == MANDATE_ENOMEM ? nomem(c, e)
                                    : md_diag_set(c->d, rc, e->line, e->col, "set too large");
    out->kind = MD_V_SET;
    out->u.set = s;
    return 0;
}

static int eval_record(ev *c, const md_expr *e, md_value *out, unsigned depth)
{
    size_t n = e->u.rec.n;
    md_field *fields = NULL;
    if (n) {
        fields = md_arena_array(c->scratch, n, sizeof *fields);
        if (!fields)
            return nomem(c, e);
    }
    for (size_t i = 0; i < n; i++) {
        fields[i].key = e->u.rec.keys[i];
        int rc = eval(c, e->u.rec.vals[i], &fields[i].val, depth + 1);
        if (rc)
            return rc;
    }
    const md_record *r;
    md_str dup = {"", 0};
    int rc = md_record_new(c->scratch, fields, n, &r, &dup);
    if (rc == MANDATE_EEXIST)
        return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                           "duplicate key `%.*s` in record literal",
                           (int)(dup.len > 100 ? 100 : dup.len), dup.ptr);
    if (rc)
        return rc == MANDATE_ENOMEM ? nomem(c, e)
                                    : md_diag_set(c->d, rc, e->line, e->col, "record too large");
    out->kind = MD_V_RECORD;
    out->u.rec = r;
    return 0;
}

static int eval_call(ev *c, const md_expr *e, md_value *out, unsigned depth)
{
    size_t n = e->u.call.n;
    md_value local[4];
    md_value *args = local;
    if (n > MD_ARRAY_LEN(local)) {
        args = md_arena_array(c->scratch, n, sizeof *args);
        if (!args)
            return nomem(c, e);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = eval(c, e->u.call.args[i], &args[i], depth + 1);
        if (rc)
            return rc;
    }
    int rc = md_extfn_apply(c->scratch, e->u.call.fn, args, n, out, c->d);
    if (rc && c->d && c->d->code == 0)
        md_diag_set(c->d, rc, e->line, e->col, "error in extension function call");
    return rc;
}

static int slot_value(ev *c, const md_expr *e, md_slot slot, const md_euid **out)
{
    const md_policy *p = c->p;
    if (slot == MD_SLOT_PRINCIPAL && p && p->has_principal_slot) {
        *out = &p->principal_slot;
        return 0;
    }
    if (slot == MD_SLOT_RESOURCE && p && p->has_resource_slot) {
        *out = &p->resource_slot;
        return 0;
    }
    return md_diag_set(c->d, MANDATE_EEVAL, e ? e->line : 0, e ? e->col : 0,
                       "template slot `?%s` is not linked to an entity",
                       slot == MD_SLOT_PRINCIPAL ? "principal" : "resource");
}

static int eval(ev *c, const md_expr *e, md_value *out, unsigned depth)
{
    if (depth > EVAL_MAX_DEPTH)
        return depth_error(c, e);
    md_value x, y;
    bool b = false;
    int rc;
    switch (e->op) {
    case MD_E_LIT: *out = e->u.lit; return 0;
    case MD_E_VAR:
        switch (e->u.var) {
        case MD_VAR_PRINCIPAL:
            out->kind = MD_V_ENTITY;
            out->u.uid = c->req->principal;
            return 0;
        case MD_VAR_ACTION:
            out->kind = MD_V_ENTITY;
            out->u.uid = c->req->action;
            return 0;
        case MD_VAR_RESOURCE:
            out->kind = MD_V_ENTITY;
            out->u.uid = c->req->resource;
            return 0;
        case MD_VAR_CONTEXT: *out = c->req->context; return 0;
        }
        break;
    case MD_E_SLOT: {
        const md_euid *u = NULL;
        if ((rc = slot_value(c, e, e->u.slot, &u)))
            return rc;
        out->kind = MD_V_ENTITY;
        out->u.uid = *u;
        return 0;
    }
    case MD_E_IF:
        if ((rc = eval_bool(c, e->u.k.a, &b, depth + 1)))
            return rc;
        return eval(c, b ? e->u.k.b : e->u.k.c, out, depth + 1);
    case MD_E_AND:
    case MD_E_OR:
        if ((rc = eval_logic(c, e, &b, depth)))
            return rc;
        set_bool(out, b);
        return 0;
    case MD_E_NOT:
        if ((rc = eval(c, e->u.k.a, &x, depth + 1)))
            return rc;
        if (x.kind != MD_V_BOOL)
            return type_error(c, e, "bool", &x);
        set_bool(out, !x.u.b);
        return 0;
    case MD_E_NEG:
        if ((rc = eval(c, e->u.k.a, &x, depth + 1)))
            return rc;
        if (x.kind != MD_V_LONG)
            return type_error(c, e, "long", &x);
        if (x.u.i == INT64_MIN)
            return md_diag_set(c->d, MANDATE_EEVAL, e->line, e->col,
                               "integer overflow while attempting to negate the value %lld",
                               (long long)x.u.i);
        out->kind = MD_V_LONG;
        out->u.i = -x.u.i;
        return 0;
    case MD_E_IS_EMPTY:
        if ((rc = eval(c, e->u.k.a, &x, depth + 1)))
            return rc;
        if (x.kind != MD_V_SET)
            return type_error(c, e, "set", &x);
        set_bool(out, x.u.set->n == 0);
        return 0;
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR:
        if (e->u.attr.a->op == MD_E_VAR)
            return attr_of_var(c, e, out);
        if ((rc = eval(c, e->u.attr.a, &x, depth + 1)))
            return rc;
        return attr_op(c, e, &x, out);
    case MD_E_LIKE:
        if ((rc = eval(c, e->u.like.a, &x, depth + 1)))
            return rc;
        if (x.kind != MD_V_STRING)
            return type_error(c, e, "string", &x);
        set_bool(out, like_match(x.u.s, &e->u.like.pat));
        return 0;
    case MD_E_IS:
        if ((rc = eval(c, e->u.is.a, &x, depth + 1)))
            return rc;
        if (x.kind != MD_V_ENTITY)
            return type_error(c, e, "entity", &x);
        if (!md_bytes_eq(x.u.uid.type, e->u.is.type) || !e->u.is.in) {
            set_bool(out, md_bytes_eq(x.u.uid.type, e->u.is.type));
            return 0;
        }
        if ((rc = eval(c, e->u.is.in, &y, depth + 1)))
            return rc;
        if ((rc = in_op(c, e, &x, &y, &b)))
            return rc;
        set_bool(out, b);
        return 0;
    case MD_E_SET: return eval_set(c, e, out, depth);
    case MD_E_RECORD: return eval_record(c, e, out, depth);
    case MD_E_CALL: return eval_call(c, e, out, depth);
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
    case MD_E_CONTAINS:
    case MD_E_CONTAINS_ALL:
    case MD_E_CONTAINS_ANY:
    case MD_E_HAS_TAG:
    case MD_E_GET_TAG:
        if ((rc = operand(c, e->u.k.a, &x, depth + 1)))
            return rc;
        if ((rc = operand(c, e->u.k.b, &y, depth + 1)))
            return rc;
        switch (e->op) {
        case MD_E_EQ: set_bool(out, value_eq(&x, &y)); return 0;
        case MD_E_NE: set_bool(out, !value_eq(&x, &y)); return 0;
        case MD_E_LT:
        case MD_E_LE:
        case MD_E_GT:
        case MD_E_GE:
            if ((rc = cmp_op(c, e, &x, &y, &b)))
                return rc;
            set_bool(out, b);
            return 0;
        case MD_E_ADD:
        case MD_E_SUB:
        case MD_E_MUL: out->kind = MD_V_LONG; return arith_op(c, e, &x, &y, &out->u.i);
        case MD_E_IN:
            if ((rc = in_op(c, e, &x, &y, &b)))
                return rc;
            set_bool(out, b);
            return 0;
        case MD_E_CONTAINS:
        case MD_E_CONTAINS_ALL:
        case MD_E_CONTAINS_ANY:
            if ((rc = set_op(c, e, &x, &y, &b)))
                return rc;
            set_bool(out, b);
            return 0;
        default: return tag_op(c, e, &x, &y, out);
        }
    }
    return md_diag_set(c->d, MANDATE_EINTERNAL, e->line, e->col, "unknown expression kind %d",
                       (int)e->op);
}

int md_eval_expr(const md_expr *e, const md_request *req, const md_entities *es, const md_policy *p,
                 md_arena *scratch, md_value *out, md_diag *d)
{
    if (!e || !req || !scratch || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_eval_expr: missing argument");
    md_eval_cache cache;
    md_eval_cache_init(&cache, req, es);
    ev c = {.req = req, .es = es, .p = p, .scratch = scratch, .d = d, .cache = &cache};
    return eval(&c, e, out, 0);
}

/* ---- policies ---- */

/* Scope constraints (Scope.toExpr) never raise errors once their slots are filled, so the three
 * scopes may be checked in any order: the cheap comparisons (==, is) first, then the `in`s. */
static inline bool scope_cheap(const md_scope *s, const md_euid *v, const md_euid *target)
{
    switch (s->kind) {
    case MD_SCOPE_EQ: return euid_eq(v, target);
    case MD_SCOPE_IS:
    case MD_SCOPE_IS_IN: return md_bytes_eq(v->type, s->type);
    default: return true;
    }
}

/* The `in` part of a scope on the request's principal, action or resource (which: 0, 1, 2). The
 * targets are policy literals or slot values, never a stored entity's strings: compared by bytes
 * against the request entity's ancestors. */
static inline bool scope_in(md_eval_cache *k, const md_scope *s, unsigned which, const md_euid *v,
                            const md_euid *target)
{
    switch (s->kind) {
    case MD_SCOPE_IN:
    case MD_SCOPE_IS_IN: return in_bytes(v, k->es ? cached(k, which, v) : NULL, target);
    case MD_SCOPE_IN_LIST: {
        const md_entity *e = k->es ? cached(k, which, v) : NULL;
        for (size_t i = 0; i < s->n_uids; i++)
            if (in_bytes(v, e, &s->uids[i]))
                return true;
        return false;
    }
    default: return true;
    }
}

static bool scope_has_target(const md_scope *s)
{
    return s->kind == MD_SCOPE_EQ || s->kind == MD_SCOPE_IN || s->kind == MD_SCOPE_IS_IN;
}

static int slot_error(md_diag *d, const char *which)
{
    return md_diag_set(d, MANDATE_EEVAL, 0, 0, "template slot `?%s` is not linked to an entity",
                       which);
}

/* The principal and resource scopes (the action's is checked apart, or known to hold). */
static inline __attribute__((always_inline)) bool
scopes_pr_hold(md_eval_cache *k, const md_policy *p, const md_euid *tp, const md_euid *tr)
{
    const md_request *req = k->req;
    return scope_cheap(&p->resource, &req->resource, tr) &&
           scope_cheap(&p->principal, &req->principal, tp) &&
           scope_in(k, &p->resource, 2, &req->resource, tr) &&
           scope_in(k, &p->principal, 0, &req->principal, tp);
}

static inline bool action_holds(md_eval_cache *k, const md_policy *p, const md_euid *ta)
{
    const md_request *req = k->req;
    return scope_cheap(&p->action, &req->action, ta) &&
           scope_in(k, &p->action, 1, &req->action, ta);
}

/* The conditions, in order, each stopping the policy when unsatisfied (Conditions.toExpr). */
static inline int eval_conds(const md_policy *p, md_eval_cache *k, md_arena *scratch,
                             bool *satisfied, md_diag *d)
{
    if (!scratch)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_eval_policy: missing argument");
    ev c = {.req = k->req, .es = k->es, .p = p, .scratch = scratch, .d = d, .cache = k};
    for (size_t i = 0; i < p->n_conds; i++) {
        bool b = false;
        int rc = eval_bool(&c, p->conds[i].body, &b, 0);
        if (rc)
            return rc;
        if (b != p->conds[i].when)
            return 0;
    }
    *satisfied = true;
    return 0;
}

/* A policy with slots: fill them; an unfilled one is an error where the model would evaluate
 * it (the principal scope first, the resource scope only when the first two hold). */
static __attribute__((noinline)) int eval_slotted(const md_policy *p, md_eval_cache *k,
                                                  md_arena *scratch, bool *satisfied, md_diag *d)
{
    const md_request *req = k->req;
    const md_euid *tp = &p->principal.uid, *ta = &p->action.uid, *tr = &p->resource.uid;
    if (p->principal.slot && scope_has_target(&p->principal)) {
        if (!p->has_principal_slot)
            return slot_error(d, "principal");
        tp = &p->principal_slot;
    }
    if (p->action.slot && scope_has_target(&p->action))
        return md_diag_set(d, MANDATE_EEVAL, 0, 0, "the action scope cannot have a slot");
    if (p->resource.slot && scope_has_target(&p->resource)) {
        if (!p->has_resource_slot) {
            if (scope_cheap(&p->principal, &req->principal, tp) &&
                scope_in(k, &p->principal, 0, &req->principal, tp) && action_holds(k, p, ta))
                return slot_error(d, "resource");
            return 0;
        }
        tr = &p->resource_slot;
    }
    if (!action_holds(k, p, ta) || !scopes_pr_hold(k, p, tp, tr))
        return 0;
    if (p->n_conds)
        return eval_conds(p, k, scratch, satisfied, d);
    *satisfied = true;
    return 0;
}

int md_eval_policy_cached(const md_policy *p, md_eval_cache *cache, bool plain, md_arena *scratch,
                          bool *satisfied, md_diag *d)
{
    *satisfied = false;
    if (!plain) {
        if (p->principal.slot | p->action.slot | p->resource.slot)
            return eval_slotted(p, cache, scratch, satisfied, d);
        if (!action_holds(cache, p, &p->action.uid))
            return 0;
    }
    if (!scopes_pr_hold(cache, p, &p->principal.uid, &p->resource.uid))
        return 0;
    if (p->n_conds)
        return eval_conds(p, cache, scratch, satisfied, d);
    *satisfied = true;
    return 0;
}

int md_eval_policy(const md_policy *p, const md_request *req, const md_entities *es,
                   md_arena *scratch, bool *satisfied, md_diag *d)
{
    if (!p || !req || !satisfied)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_eval_policy: missing argument");
    md_eval_cache cache;
    md_eval_cache_init(&cache, req, es);
    return md_eval_policy_cached(p, &cache, false, scratch, satisfied, d);
}
