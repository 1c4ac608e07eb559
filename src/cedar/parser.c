/*
 * parser.c: Cedar policy text to the AST of cedar_int.h (md_policyset_parse and friends).
 *
 * A recursive-descent parser over the tokens of lexer.c. It accepts the language of the Rust
 * implementation's grammar (cedar-policy-core/src/parser/grammar.lalrpop) and applies the checks
 * its CST-to-AST conversion makes (cst_to_ast.rs): reserved identifiers, scope shapes, at most
 * four repeated unary operators, a single relational operator per relation, string-only `like`
 * patterns and `[...]` indexes, known methods and functions, literal range of Longs, duplicate
 * record keys and annotations. `e has a.b.c` is desugared as Rust does (a left fold of `&&`).
 * Extension-function arity is not a parse error in Cedar (it is an evaluation error), so calls
 * keep the arguments as written; built-in methods (contains, isEmpty, ...) are checked here.
 *
 * Every node records its height; a tree higher than MD_CEDAR_MAX_DEPTH, or a recursion of the
 * parser deeper than that, is MANDATE_ETOOBIG. All results live in the caller's arena; the
 * text is only borrowed during the call.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/parser.h"

/* Every expression the parser makes is a node, so its height can be read back from the md_expr. */
typedef struct node {
    md_expr e;
    uint32_t height;
} node;

typedef struct parser {
    md_arena *a;
    md_diag *d;
    md_lexer lx;
    md_token tok;   /* current token */
    md_token ahead; /* the token after it, when has_ahead */
    bool has_ahead;
    size_t prev_end; /* end offset of the last consumed token */
    unsigned nest;   /* recursion depth of parse_expr */
    bool allow_slots;
} parser;

/* A growable array in the arena (old storage is abandoned when it grows). */
typedef struct vec {
    void *items;
    size_t n, cap;
} vec;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

/* ---- extension functions and built-in methods (our own table; ext.c has the evaluator's) ---- */
static const struct {
    const char *name;
    md_extfn fn;
    bool method;
} ext_fns[] = {
    {"decimal", MD_FN_DECIMAL, false},
    {"ip", MD_FN_IP, false},
    {"datetime", MD_FN_DATETIME, false},
    {"duration", MD_FN_DURATION, false},
    {"lessThan", MD_FN_LESS_THAN, true},
    {"lessThanOrEqual", MD_FN_LESS_THAN_OR_EQUAL, true},
    {"greaterThan", MD_FN_GREATER_THAN, true},
    {"greaterThanOrEqual", MD_FN_GREATER_THAN_OR_EQUAL, true},
    {"isIpv4", MD_FN_IS_IPV4, true},
    {"isIpv6", MD_FN_IS_IPV6, true},
    {"isLoopback", MD_FN_IS_LOOPBACK, true},
    {"isMulticast", MD_FN_IS_MULTICAST, true},
    {"isInRange", MD_FN_IS_IN_RANGE, true},
    {"offset", MD_FN_OFFSET, true},
    {"durationSince", MD_FN_DURATION_SINCE, true},
    {"toDate", MD_FN_TO_DATE, true},
    {"toTime", MD_FN_TO_TIME, true},
    {"toDays", MD_FN_TO_DAYS, true},
    {"toHours", MD_FN_TO_HOURS, true},
    {"toMinutes", MD_FN_TO_MINUTES, true},
    {"toSeconds", MD_FN_TO_SECONDS, true},
    {"toMilliseconds", MD_FN_TO_MILLISECONDS, true},
};

static const struct {
    const char *name;
    md_op op;
    size_t nargs; /* besides the receiver */
} builtin_methods[] = {
    {"contains", MD_E_CONTAINS, 1},        {"containsAll", MD_E_CONTAINS_ALL, 1},
    {"containsAny", MD_E_CONTAINS_ANY, 1}, {"isEmpty", MD_E_IS_EMPTY, 0},
    {"hasTag", MD_E_HAS_TAG, 1},           {"getTag", MD_E_GET_TAG, 1},
};

static int find_ext(md_str name)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(ext_fns); i++)
        if (md_str_eq_c(name, ext_fns[i].name))
            return (int)i;
    return -1;
}

static int find_builtin(md_str name)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(builtin_methods); i++)
        if (md_str_eq_c(name, builtin_methods[i].name))
            return (int)i;
    return -1;
}

/* ---- errors ---- */

static int fail(parser *p, int code, uint32_t line, uint32_t col, const char *fmt, ...)
    MD_PRINTF(5, 6);
static int fail(parser *p, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[sizeof p->d->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return md_diag_set(p->d, code, line, col, "%s", msg);
}

#define FAIL_AT(p, t, ...) fail((p), MANDATE_EPARSE, (t)->line, (t)->col, __VA_ARGS__)

static int oom(parser *p)
{
    return fail(p, MANDATE_ENOMEM, 0, 0, "out of memory while parsing policy text");
}

/* Quotes up to 40 bytes of text[off..end) into buf, stopping at a control character. */
static const char *snippet(const parser *p, size_t off, size_t end, char *buf, size_t size)
{
    size_t n = end > off ? end - off : 0;
    bool cut = false;
    if (n > 40) {
        n = 40;
        cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p->lx.text[off + i] < 0x20) {
            n = i;
            cut = true;
            break;
        }
    }
    /* Do not cut a UTF-8 character in two. */
    while (cut && n > 0 && ((unsigned char)p->lx.text[off + n] & 0xc0) == 0x80)
        n--;
    snprintf(buf, size, "'%.*s%s'", (int)n, p->lx.text + off, cut ? "..." : "");
    return buf;
}

/* Describes a token for "found ..." parts of messages. */
static const char *describe(const parser *p, const md_token *t, char *buf, size_t size)
{
    if (t->kind == MD_TK_EOF) {
        snprintf(buf, size, "end of input");
        return buf;
    }
    return snippet(p, t->off, t->off + t->len, buf, size);
}

static int unexpected(parser *p, const char *what)
{
    char b[64];
    return FAIL_AT(p, &p->tok, "%s, found %s", what, describe(p, &p->tok, b, sizeof b));
}

/* ---- tokens ---- */

static int next(parser *p)
{
    p->prev_end = p->tok.off + p->tok.len;
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->has_ahead = false;
        return 0;
    }
    return md_lexer_next(&p->lx, &p->tok, p->d);
}

static int peek(parser *p, const md_token **out)
{
    if (!p->has_ahead) {
        TRY(md_lexer_next(&p->lx, &p->ahead, p->d));
        p->has_ahead = true;
    }
    *out = &p->ahead;
    return 0;
}

static bool is_kw(const md_token *t, md_kw kw)
{
    return t->kind == MD_TK_IDENT && t->kw == kw;
}

static int expect(parser *p, md_tok_kind kind, const char *what)
{
    if (p->tok.kind != kind)
        return unexpected(p, what);
    return next(p);
}

static md_str tok_text(const parser *p, const md_token *t)
{
    return (md_str){p->lx.text + t->off, t->len};
}

static int copy_str(parser *p, md_str s, md_str *out)
{
    *out = md_arena_str(p->a, s);
    return out->ptr ? 0 : oom(p);
}

static int vec_push(parser *p, vec *v, const void *item, size_t sz)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 2;
        void *items = md_arena_array(p->a, cap, sz);
        if (!items)
            return oom(p);
        if (v->n)
            memcpy(items, v->items, v->n * sz);
        v->items = items;
        v->cap = cap;
    }
    memcpy((char *)v->items + v->n * sz, item, sz);
    v->n++;
    return 0;
}

/* ---- duplicate detection for record keys and annotations ---- */

typedef struct keyref {
    md_str key;
    size_t idx;
} keyref;

static int cmp_keyref(const void *x, const void *y)
{
    const keyref *a = x, *b = y;
    int c = md_str_cmp(a->key, b->key);
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sets *dup to the index of the first key (in order) that repeats an earlier one, or SIZE_MAX. */
static int find_dup(parser *p, const md_str *keys, size_t n, size_t *dup)
{
    *dup = SIZE_MAX;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (md_str_eq(keys[i], keys[j])) {
                    *dup = i;
                    return 0;
                }
        return 0;
    }
    keyref *r = md_arena_array(p->a, n, sizeof *r);
    if (!r)
        return oom(p);
    for (size_t i = 0; i < n; i++)
        r[i] = (keyref){keys[i], i};
    qsort(r, n, sizeof *r, cmp_keyref);
    for (size_t i = 1; i < n; i++)
        if (md_str_eq(r[i].key, r[i - 1].key) && r[i].idx < *dup)
            *dup = r[i].idx;
    return 0;
}

/* ---- nodes ---- */

static md_expr *new_expr(parser *p, md_op op, uint32_t line, uint32_t col)
{
    node *n = md_arena_alloc(p->a, sizeof *n);
    if (!n)
        return NULL;
    n->e.op = op;
    n->e.line = line;
    n->e.col = col;
    n->height = 1;
    return &n->e;
}

static uint32_t height(const md_expr *e)
{
    return e ? ((const node *)e)->height : 0;
}

static uint32_t max_height(const md_expr *const *items, size_t n)
{
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++)
        if (height(items[i]) > h)
            h = height(items[i]);
    return h;
}

/* Records the node's height from its children; past the cap: MANDATE_ETOOBIG. */
static int seal(parser *p, md_expr *e)
{
    uint32_t h = 0;
    switch (e->op) {
    case MD_E_LIT:
    case MD_E_VAR:
    case MD_E_SLOT: break;
    case MD_E_GET_ATTR:
    case MD_E_HAS_ATTR: h = height(e->u.attr.a); break;
    case MD_E_LIKE: h = height(e->u.like.a); break;
    case MD_E_IS:
        h = height(e->u.is.a);
        if (height(e->u.is.in) > h)
            h = height(e->u.is.in);
        break;
    case MD_E_SET: h = max_height(e->u.list.items, e->u.list.n); break;
    case MD_E_RECORD: h = max_height(e->u.rec.vals, e->u.rec.n); break;
    case MD_E_CALL: h = max_height(e->u.call.args, e->u.call.n); break;
    default: {
        const md_expr *k[3] = {e->u.k.a, e->u.k.b, e->u.k.c};
        h = max_height(k, 3);
        break;
    }
    }
    ((node *)e)->height = h + 1;
    if (h + 1 > MD_CEDAR_MAX_DEPTH)
        return fail(p, MANDATE_ETOOBIG, e->line, e->col,
                    "expression is nested more than %d levels deep", MD_CEDAR_MAX_DEPTH);
    return 0;
}

static int mk_k(parser *p, md_op op, uint32_t line, uint32_t col, const md_expr *a,
                const md_expr *b, const md_expr *c, const md_expr **out)
{
    md_expr *e = new_expr(p, op, line, col);
    if (!e)
        return oom(p);
    e->u.k.a = a;
    e->u.k.b = b;
    e->u.k.c = c;
    *out = e;
    return seal(p, e);
}

static int mk_bin(parser *p, md_op op, const md_expr *a, const md_expr *b, const md_expr **out)
{
    return mk_k(p, op, a->line, a->col, a, b, NULL, out);
}

static int mk_attr(parser *p, md_op op, const md_expr *a, md_str name, uint32_t line, uint32_t col,
                   const md_expr **out)
{
    md_expr *e = new_expr(p, op, line, col);
    if (!e)
        return oom(p);
    e->u.attr.a = a;
    e->u.attr.name = name;
    e->u.attr.sig = md_key_sig(name);
    *out = e;
    return seal(p, e);
}

static int mk_lit(parser *p, md_value v, const md_token *at, const md_expr **out)
{
    md_expr *e = new_expr(p, MD_E_LIT, at->line, at->col);
    if (!e)
        return oom(p);
    e->u.lit = v;
    *out = e;
    return 0;
}

/* ---- names ---- */

/* Checks an identifier used in a name (entity type, namespace, function). */
static int check_name_ident(parser *p, const md_token *t)
{
    char b[64];
    if (md_kw_reserved(t->kw))
        return FAIL_AT(p, t, "%s is a reserved word and cannot be used in a name",
                       describe(p, t, b, sizeof b));
    if (md_str_eq_c(tok_text(p, t), "__cedar"))
        return FAIL_AT(p, t, "'__cedar' is reserved and cannot be used in a name");
    return 0;
}

/* Checks an identifier used as an attribute (after '.', after `has`, as a record key). */
static int check_attr_ident(parser *p, const md_token *t)
{
    char b[64];
    if (md_kw_reserved(t->kw))
        return FAIL_AT(p, t,
                       "%s is a reserved word and cannot be used as an attribute name here; "
                       "write it as a string, e.g. [\"%.*s\"]",
                       describe(p, t, b, sizeof b), (int)t->len, p->lx.text + t->off);
    if (md_str_eq_c(tok_text(p, t), "__cedar"))
        return FAIL_AT(p, t, "'__cedar' is reserved and cannot be used as an attribute name");
    return 0;
}

/* Copies the name in text[off..end) without the whitespace and comments between its parts. */
static int normalize_name(parser *p, size_t off, size_t end, md_str *out)
{
    char *buf = md_arena_alloc(p->a, end - off + 1);
    if (!buf)
        return oom(p);
    size_t n = 0;
    const char *s = p->lx.text;
    for (size_t i = off; i < end; i++) {
        char c = s[i];
        if (c == '/' && i + 1 < end && s[i + 1] == '/') {
            while (i < end && s[i] != '\n' && s[i] != '\r')
                i++;
            continue;
        }
        if (c == ':' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9'))
            buf[n++] = c;
    }
    buf[n] = '\0';
    out->ptr = buf;
    out->len = n;
    return 0;
}

typedef struct path {
    md_token first;
    size_t parts;
    md_str name; /* the type name (for an entity uid) or the whole path */
    bool is_uid;
    md_euid uid;
} path;

/* Parses Ident {'::' Ident} ['::' String]; the current token is the first identifier. */
static int parse_path(parser *p, path *out)
{
    out->first = p->tok;
    out->parts = 0;
    out->is_uid = false;
    size_t name_end;
    for (;;) {
        TRY(check_name_ident(p, &p->tok));
        out->parts++;
        TRY(next(p));
        name_end = p->prev_end;
        if (p->tok.kind != MD_TK_COLON2)
            break;
        TRY(next(p));
        if (p->tok.kind == MD_TK_STR) {
            TRY(normalize_name(p, out->first.off, name_end, &out->uid.type));
            TRY(md_lex_string(p->a, &p->lx, &p->tok, &out->uid.id, p->d));
            out->is_uid = true;
            out->name = out->uid.type;
            return next(p);
        }
        if (p->tok.kind == MD_TK_LBRACE)
            return FAIL_AT(p, &p->tok,
                           "entity literals of the form Type::{...} are not supported; "
                           "write Type::\"id\"");
        if (p->tok.kind != MD_TK_IDENT)
            return unexpected(p, "expected an identifier or a string after '::'");
    }
    return normalize_name(p, out->first.off, name_end, &out->name);
}

/* An entity type after `is`. */
static int parse_type(parser *p, md_str *out)
{
    if (p->tok.kind != MD_TK_IDENT)
        return unexpected(p, "expected an entity type after 'is'");
    path pa;
    md_token first = p->tok;
    TRY(parse_path(p, &pa));
    if (pa.is_uid) {
        char b[64];
        return FAIL_AT(p, &first, "expected an entity type after 'is', found the entity uid %s",
                       snippet(p, first.off, p->prev_end, b, sizeof b));
    }
    *out = pa.name;
    return 0;
}

/* ---- expressions ---- */

static int parse_expr(parser *p, const md_expr **out);
static int parse_add(parser *p, const md_expr **out);

/* Comma-separated expressions up to `close` (a trailing comma is allowed); the opening token
 * has been consumed. */
static int parse_list(parser *p, md_tok_kind close, const char *what, vec *v)
{
    while (p->tok.kind != close) {
        const md_expr *e;
        TRY(parse_expr(p, &e));
        TRY(vec_push(p, v, &e, sizeof e));
        if (p->tok.kind == MD_TK_COMMA) {
            TRY(next(p));
            continue;
        }
        if (p->tok.kind != close)
            return unexpected(p, what);
    }
    return next(p);
}

static int parse_record(parser *p, const md_token *open, const md_expr **out)
{
    vec keys = {0}, vals = {0}, where = {0};
    while (p->tok.kind != MD_TK_RBRACE) {
        const md_token *ah;
        TRY(peek(p, &ah));
        md_token kt = p->tok;
        md_str key;
        if (kt.kind == MD_TK_STR && ah->kind == MD_TK_COLON) {
            TRY(md_lex_string(p->a, &p->lx, &kt, &key, p->d));
        } else if (kt.kind == MD_TK_IDENT && ah->kind == MD_TK_COLON) {
            TRY(check_attr_ident(p, &kt));
            TRY(copy_str(p, tok_text(p, &kt), &key));
        } else {
            return unexpected(p, "expected a record key (an identifier or a string) and ':'");
        }
        TRY(next(p));
        TRY(next(p)); /* ':' */
        const md_expr *v;
        TRY(parse_expr(p, &v));
        TRY(vec_push(p, &keys, &key, sizeof key));
        TRY(vec_push(p, &vals, &v, sizeof v));
        TRY(vec_push(p, &where, &kt, sizeof kt));
        if (p->tok.kind == MD_TK_COMMA) {
            TRY(next(p));
            continue;
        }
        if (p->tok.kind != MD_TK_RBRACE)
            return unexpected(p, "expected ',' or '}' in the record literal");
    }
    TRY(next(p));
    size_t dup;
    TRY(find_dup(p, keys.items, keys.n, &dup));
    if (dup != SIZE_MAX) {
        const md_token *kt = (const md_token *)where.items + dup;
        const md_str *k = (const md_str *)keys.items + dup;
        return FAIL_AT(p, kt, "duplicate key '%.*s' in the record literal",
                       (int)(k->len > 64 ? 64 : k->len), k->ptr);
    }
    md_expr *e = new_expr(p, MD_E_RECORD, open->line, open->col);
    if (!e)
        return oom(p);
    e->u.rec.n = keys.n;
    e->u.rec.keys = keys.items;
    e->u.rec.vals = vals.items;
    *out = e;
    return seal(p, e);
}

static int parse_int(parser *p, const md_token *t, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < t->len; i++) {
        unsigned dgt = (unsigned)(p->lx.text[t->off + i] - '0');
        if (v > (UINT64_MAX - dgt) / 10) {
            char b[64];
            return FAIL_AT(p, t, "integer literal %s is too large", describe(p, t, b, sizeof b));
        }
        v = v * 10 + dgt;
    }
    *out = v;
    return 0;
}

static int long_too_large(parser *p, const md_token *t, bool neg)
{
    return FAIL_AT(p, t, "integer literal %s%.*s is out of range for a Long (%s)", neg ? "-" : "",
                   (int)t->len, p->lx.text + t->off,
                   neg ? "at least -9223372036854775808" : "at most 9223372036854775807");
}

static int parse_call_args(parser *p, const md_expr *recv, vec *args)
{
    if (recv)
        TRY(vec_push(p, args, &recv, sizeof recv));
    TRY(next(p)); /* '(' */
    return parse_list(p, MD_TK_RPAREN, "expected ',' or ')' in the argument list", args);
}

static int mk_call(parser *p, md_extfn fn, const md_token *at, vec *args, const md_expr **out)
{
    md_expr *e = new_expr(p, MD_E_CALL, at->line, at->col);
    if (!e)
        return oom(p);
    e->u.call.fn = fn;
    e->u.call.n = args->n;
    e->u.call.args = args->items;
    *out = e;
    return seal(p, e);
}

/* Name '(' args ')': an extension function called function-style. */
static int parse_function(parser *p, const path *pa, const md_expr **out)
{
    const md_token *at = &pa->first;
    int i = pa->parts == 1 ? find_ext(pa->name) : -1;
    if (pa->parts == 1 && ((i >= 0 && ext_fns[i].method) || find_builtin(pa->name) >= 0))
        return FAIL_AT(p, at, "'%.*s' is a method, not a function; call it as e.%.*s(...)",
                       (int)pa->name.len, pa->name.ptr, (int)pa->name.len, pa->name.ptr);
    if (i < 0)
        return FAIL_AT(p, at, "unknown extension function '%.*s'",
                       (int)(pa->name.len > 64 ? 64 : pa->name.len), pa->name.ptr);
    vec args = {0};
    TRY(parse_call_args(p, NULL, &args));
    return mk_call(p, ext_fns[i].fn, at, &args, out);
}

/* '.' name '(' args ')' on the receiver recv. */
static int parse_method(parser *p, const md_expr *recv, const md_token *name_tok,
                        const md_expr **out)
{
    md_str name = tok_text(p, name_tok);
    int b = find_builtin(name);
    if (b >= 0) {
        vec args = {0};
        TRY(parse_call_args(p, NULL, &args));
        if (args.n != builtin_methods[b].nargs)
            return FAIL_AT(p, name_tok, "'%s' takes %zu argument%s, found %zu",
                           builtin_methods[b].name, builtin_methods[b].nargs,
                           builtin_methods[b].nargs == 1 ? "" : "s", args.n);
        const md_expr *arg = args.n ? ((const md_expr **)args.items)[0] : NULL;
        return mk_k(p, builtin_methods[b].op, recv->line, recv->col, recv, arg, NULL, out);
    }
    int i = find_ext(name);
    if (i >= 0 && !ext_fns[i].method)
        return FAIL_AT(p, name_tok, "'%s' is a function, not a method; call it as %s(...)",
                       ext_fns[i].name, ext_fns[i].name);
    if (i < 0)
        return FAIL_AT(p, name_tok, "unknown method '%.*s'", (int)(name.len > 64 ? 64 : name.len),
                       name.ptr);
    vec args = {0};
    TRY(parse_call_args(p, recv, &args));
    md_token at = *name_tok;
    at.line = recv->line;
    at.col = recv->col;
    return mk_call(p, ext_fns[i].fn, &at, &args, out);
}

static int parse_primary(parser *p, const md_expr **out)
{
    md_token t = p->tok;
    char b[64];
    switch (t.kind) {
    case MD_TK_INT: {
        uint64_t v;
        TRY(parse_int(p, &t, &v));
        if (v > (uint64_t)INT64_MAX)
            return long_too_large(p, &t, false);
        TRY(next(p));
        return mk_lit(p, (md_value){.kind = MD_V_LONG, .u.i = (int64_t)v}, &t, out);
    }
    case MD_TK_STR: {
        md_value v = {.kind = MD_V_STRING};
        TRY(md_lex_string(p->a, &p->lx, &t, &v.u.s, p->d));
        TRY(next(p));
        return mk_lit(p, v, &t, out);
    }
    case MD_TK_SLOT: {
        md_str s = tok_text(p, &t);
        bool pr = md_str_eq_c(s, "?principal"), re = md_str_eq_c(s, "?resource");
        if (!pr && !re)
            return FAIL_AT(p, &t,
                           "unknown template slot %s; the slots are ?principal and "
                           "?resource",
                           describe(p, &t, b, sizeof b));
        if (!p->allow_slots)
            return FAIL_AT(p, &t,
                           "template slot %s is only allowed in the policy scope (%s == %s or "
                           "%s in %s)",
                           describe(p, &t, b, sizeof b), pr ? "principal" : "resource",
                           pr ? "?principal" : "?resource", pr ? "principal" : "resource",
                           pr ? "?principal" : "?resource");
        md_expr *e = new_expr(p, MD_E_SLOT, t.line, t.col);
        if (!e)
            return oom(p);
        e->u.slot = pr ? MD_SLOT_PRINCIPAL : MD_SLOT_RESOURCE;
        *out = e;
        return next(p);
    }
    case MD_TK_LPAREN: {
        TRY(next(p));
        TRY(parse_expr(p, out));
        return expect(p, MD_TK_RPAREN, "expected ')' to close '('");
    }
    case MD_TK_LBRACKET: {
        TRY(next(p));
        vec items = {0};
        TRY(parse_list(p, MD_TK_RBRACKET, "expected ',' or ']' in the set literal", &items));
        md_expr *e = new_expr(p, MD_E_SET, t.line, t.col);
        if (!e)
            return oom(p);
        e->u.list.n = items.n;
        e->u.list.items = items.items;
        *out = e;
        return seal(p, e);
    }
    case MD_TK_LBRACE: TRY(next(p)); return parse_record(p, &t, out);
    case MD_TK_IDENT: break;
    default: return unexpected(p, "expected an expression");
    }

    const md_token *ah;
    TRY(peek(p, &ah));
    bool path_follows = ah->kind == MD_TK_COLON2;
    if (!path_follows) {
        switch (t.kw) {
        case MD_KW_TRUE:
        case MD_KW_FALSE:
            TRY(next(p));
            return mk_lit(p, (md_value){.kind = MD_V_BOOL, .u.b = t.kw == MD_KW_TRUE}, &t, out);
        case MD_KW_IF:
            return FAIL_AT(p, &t,
                           "an if-then-else inside an operator needs parentheses: "
                           "(if ... then ... else ...)");
        case MD_KW_PRINCIPAL:
        case MD_KW_ACTION:
        case MD_KW_RESOURCE:
        case MD_KW_CONTEXT: {
            md_expr *e = new_expr(p, MD_E_VAR, t.line, t.col);
            if (!e)
                return oom(p);
            e->u.var = t.kw == MD_KW_PRINCIPAL  ? MD_VAR_PRINCIPAL
                       : t.kw == MD_KW_ACTION   ? MD_VAR_ACTION
                       : t.kw == MD_KW_RESOURCE ? MD_VAR_RESOURCE
                                                : MD_VAR_CONTEXT;
            *out = e;
            return next(p);
        }
        default:
            if (md_kw_reserved(t.kw))
                return unexpected(p, "expected an expression");
            break;
        }
    }
    path pa;
    TRY(parse_path(p, &pa));
    if (pa.is_uid)
        return mk_lit(p, (md_value){.kind = MD_V_ENTITY, .u.uid = pa.uid}, &t, out);
    if (p->tok.kind == MD_TK_LPAREN)
        return parse_function(p, &pa, out);
    if (pa.parts > 1)
        return FAIL_AT(p, &t,
                       "'%.*s' is an entity type, not a value; an entity is written %.*s::\"id\"",
                       (int)(pa.name.len > 64 ? 64 : pa.name.len), pa.name.ptr,
                       (int)(pa.name.len > 64 ? 64 : pa.name.len), pa.name.ptr);
    return FAIL_AT(p, &t,
                   "unknown variable '%.*s'; the variables are principal, action, resource and "
                   "context",
                   (int)(pa.name.len > 64 ? 64 : pa.name.len), pa.name.ptr);
}

/* Primary followed by accesses: .attr, .method(args), ["attr"]. */
static int parse_member(parser *p, const md_expr **out)
{
    md_token start = p->tok;
    const md_expr *e;
    TRY(parse_primary(p, &e));
    for (;;) {
        if (p->tok.kind == MD_TK_DOT) {
            TRY(next(p));
            if (p->tok.kind != MD_TK_IDENT)
                return unexpected(p, "expected an attribute or method name after '.'");
            md_token name = p->tok;
            TRY(check_attr_ident(p, &name));
            TRY(next(p));
            if (p->tok.kind == MD_TK_LPAREN) {
                TRY(parse_method(p, e, &name, &e));
            } else {
                md_str s;
                TRY(copy_str(p, tok_text(p, &name), &s));
                TRY(mk_attr(p, MD_E_GET_ATTR, e, s, start.line, start.col, &e));
            }
        } else if (p->tok.kind == MD_TK_LBRACKET) {
            TRY(next(p));
            const md_token *ah;
            TRY(peek(p, &ah));
            if (p->tok.kind != MD_TK_STR || ah->kind != MD_TK_RBRACKET)
                return unexpected(p, "expected a string literal and ']' after '['");
            md_str s;
            TRY(md_lex_string(p->a, &p->lx, &p->tok, &s, p->d));
            TRY(next(p));
            TRY(next(p));
            TRY(mk_attr(p, MD_E_GET_ATTR, e, s, start.line, start.col, &e));
        } else if (p->tok.kind == MD_TK_LPAREN) {
            if (e->op == MD_E_VAR)
                return FAIL_AT(p, &start, "variable %.*s cannot be called like a function",
                               (int)start.len, p->lx.text + start.off);
            return FAIL_AT(p, &p->tok, "only extension functions can be called, like ip(\"...\")");
        } else {
            break;
        }
    }
    *out = e;
    return 0;
}

static int parse_unary(parser *p, const md_expr **out)
{
    md_token start = p->tok;
    if (start.kind != MD_TK_BANG && start.kind != MD_TK_MINUS)
        return parse_member(p, out);
    unsigned count = 0;
    while (p->tok.kind == start.kind) {
        if (++count > 4)
            return FAIL_AT(p, &start, "too many '%s' in a row (at most 4)",
                           start.kind == MD_TK_BANG ? "!" : "-");
        TRY(next(p));
    }
    const md_expr *e;
    if (start.kind == MD_TK_MINUS && p->tok.kind == MD_TK_INT) {
        /* A negative literal: -9223372036854775808 is a Long, as in Cedar. */
        const md_token *ah;
        TRY(peek(p, &ah));
        if (ah->kind != MD_TK_DOT && ah->kind != MD_TK_LBRACKET && ah->kind != MD_TK_LPAREN) {
            md_token t = p->tok;
            uint64_t v;
            TRY(parse_int(p, &t, &v));
            if (v > (uint64_t)INT64_MAX + 1)
                return long_too_large(p, &t, true);
            int64_t iv = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
            TRY(next(p));
            TRY(mk_lit(p, (md_value){.kind = MD_V_LONG, .u.i = iv}, &t, &e));
            count--;
            goto wrap;
        }
    }
    TRY(parse_member(p, &e));
wrap:
    for (unsigned i = 0; i < count; i++)
        TRY(mk_k(p, start.kind == MD_TK_BANG ? MD_E_NOT : MD_E_NEG, start.line, start.col, e, NULL,
                 NULL, &e));
    *out = e;
    return 0;
}

static int parse_mul(parser *p, const md_expr **out)
{
    const md_expr *e;
    TRY(parse_unary(p, &e));
    for (;;) {
        if (p->tok.kind == MD_TK_SLASH || p->tok.kind == MD_TK_PERCENT)
            return FAIL_AT(p, &p->tok, "'%c' is not supported: Cedar has no %s operator",
                           p->tok.kind == MD_TK_SLASH ? '/' : '%',
                           p->tok.kind == MD_TK_SLASH ? "division" : "remainder");
        if (p->tok.kind != MD_TK_STAR)
            break;
        TRY(next(p));
        const md_expr *r;
        TRY(parse_unary(p, &r));
        TRY(mk_bin(p, MD_E_MUL, e, r, &e));
    }
    *out = e;
    return 0;
}

static int parse_add(parser *p, const md_expr **out)
{
    const md_expr *e;
    TRY(parse_mul(p, &e));
    while (p->tok.kind == MD_TK_PLUS || p->tok.kind == MD_TK_MINUS) {
        md_op op = p->tok.kind == MD_TK_PLUS ? MD_E_ADD : MD_E_SUB;
        TRY(next(p));
        const md_expr *r;
        TRY(parse_mul(p, &r));
        TRY(mk_bin(p, op, e, r, &e));
    }
    *out = e;
    return 0;
}

/* The relational operator at t, or -1. */
static int relop(const md_token *t)
{
    switch (t->kind) {
    case MD_TK_EQ2: return MD_E_EQ;
    case MD_TK_NE: return MD_E_NE;
    case MD_TK_LT: return MD_E_LT;
    case MD_TK_LE: return MD_E_LE;
    case MD_TK_GT: return MD_E_GT;
    case MD_TK_GE: return MD_E_GE;
    case MD_TK_EQ: return MD_E_EQ; /* reported by the caller */
    case MD_TK_IDENT: return t->kw == MD_KW_IN ? (int)MD_E_IN : -1;
    default: return -1;
    }
}

/* `e has a`, `e has "a"`, `e has a.b.c` (desugared to a && chain as Cedar does). */
static int parse_has(parser *p, const md_expr *target, const md_expr **out)
{
    uint32_t line = target->line, col = target->col;
    if (p->tok.kind == MD_TK_STR) {
        md_str s;
        TRY(md_lex_string(p->a, &p->lx, &p->tok, &s, p->d));
        TRY(next(p));
        return mk_attr(p, MD_E_HAS_ATTR, target, s, line, col, out);
    }
    if (p->tok.kind != MD_TK_IDENT)
        return unexpected(p, "expected an attribute name (an identifier or a string) after 'has'");
    const md_expr *acc = NULL, *cur = target;
    for (;;) {
        md_token t = p->tok;
        TRY(check_attr_ident(p, &t));
        md_str s;
        TRY(copy_str(p, tok_text(p, &t), &s));
        TRY(next(p));
        if (p->tok.kind == MD_TK_COLON2)
            return FAIL_AT(p, &p->tok, "a name with '::' cannot be an attribute after 'has'");
        const md_expr *h;
        TRY(mk_attr(p, MD_E_HAS_ATTR, cur, s, line, col, &h));
        if (acc)
            TRY(mk_k(p, MD_E_AND, line, col, acc, h, NULL, &acc));
        else
            acc = h;
        if (p->tok.kind != MD_TK_DOT)
            break;
        TRY(next(p));
        if (p->tok.kind != MD_TK_IDENT)
            return unexpected(p, "expected an attribute name after '.' in 'has'");
        TRY(mk_attr(p, MD_E_GET_ATTR, cur, s, line, col, &cur));
    }
    *out = acc;
    return 0;
}

static int parse_rel(parser *p, const md_expr **out)
{
    const md_expr *e;
    TRY(parse_add(p, &e));
    if (is_kw(&p->tok, MD_KW_HAS)) {
        TRY(next(p));
        return parse_has(p, e, out);
    }
    if (is_kw(&p->tok, MD_KW_LIKE)) {
        TRY(next(p));
        if (p->tok.kind != MD_TK_STR)
            return unexpected(p, "expected a pattern string after 'like'");
        md_expr *l = new_expr(p, MD_E_LIKE, e->line, e->col);
        if (!l)
            return oom(p);
        l->u.like.a = e;
        TRY(md_lex_pattern(p->a, &p->lx, &p->tok, &l->u.like.pat, p->d));
        TRY(next(p));
        *out = l;
        return seal(p, l);
    }
    if (is_kw(&p->tok, MD_KW_IS)) {
        TRY(next(p));
        md_expr *x = new_expr(p, MD_E_IS, e->line, e->col);
        if (!x)
            return oom(p);
        x->u.is.a = e;
        TRY(parse_type(p, &x->u.is.type));
        if (is_kw(&p->tok, MD_KW_IN)) {
            TRY(next(p));
            TRY(parse_add(p, &x->u.is.in));
        }
        *out = x;
        return seal(p, x);
    }
    int op = relop(&p->tok);
    if (op >= 0) {
        if (p->tok.kind == MD_TK_EQ)
            return FAIL_AT(p, &p->tok, "'=' is not an operator; use '==' to compare");
        TRY(next(p));
        const md_expr *r;
        TRY(parse_add(p, &r));
        TRY(mk_bin(p, (md_op)op, e, r, &e));
        if (relop(&p->tok) >= 0) {
            char b[64];
            return FAIL_AT(p, &p->tok,
                           "relational operators cannot be chained; add parentheses around "
                           "one side of %s",
                           describe(p, &p->tok, b, sizeof b));
        }
    }
    *out = e;
    return 0;
}

static int parse_and(parser *p, const md_expr **out)
{
    const md_expr *e;
    TRY(parse_rel(p, &e));
    while (p->tok.kind == MD_TK_AND) {
        TRY(next(p));
        const md_expr *r;
        TRY(parse_rel(p, &r));
        TRY(mk_bin(p, MD_E_AND, e, r, &e));
    }
    *out = e;
    return 0;
}

static int parse_or(parser *p, const md_expr **out)
{
    const md_expr *e;
    TRY(parse_and(p, &e));
    while (p->tok.kind == MD_TK_OR) {
        TRY(next(p));
        const md_expr *r;
        TRY(parse_and(p, &r));
        TRY(mk_bin(p, MD_E_OR, e, r, &e));
    }
    *out = e;
    return 0;
}

static int parse_expr(parser *p, const md_expr **out)
{
    if (p->nest >= MD_CEDAR_MAX_DEPTH)
        return fail(p, MANDATE_ETOOBIG, p->tok.line, p->tok.col,
                    "expression is nested more than %d levels deep", MD_CEDAR_MAX_DEPTH);
    p->nest++;
    int rc;
    const md_token *ah;
    if ((rc = peek(p, &ah)))
        goto done;
    if (is_kw(&p->tok, MD_KW_IF) && ah->kind != MD_TK_COLON2) {
        md_token t = p->tok;
        const md_expr *c, *y, *n;
        if ((rc = next(p)) || (rc = parse_expr(p, &c)))
            goto done;
        if (!is_kw(&p->tok, MD_KW_THEN)) {
            rc = unexpected(p, "expected 'then' after the 'if' condition");
            goto done;
        }
        if ((rc = next(p)) || (rc = parse_expr(p, &y)))
            goto done;
        if (!is_kw(&p->tok, MD_KW_ELSE)) {
            rc = unexpected(p, "expected 'else' after the 'then' branch");
            goto done;
        }
        if ((rc = next(p)) || (rc = parse_expr(p, &n)))
            goto done;
        rc = mk_k(p, MD_E_IF, t.line, t.col, c, y, n, out);
    } else {
        rc = parse_or(p, out);
    }
done:
    p->nest--;
    return rc;
}

/* ---- policies ---- */

static const char *const scope_vars[] = {"principal", "action", "resource"};

static bool is_action_type(md_str type)
{
    return type.len >= 6 && memcmp(type.ptr + type.len - 6, "Action", 6) == 0 &&
           (type.len == 6 || type.ptr[type.len - 7] == ':');
}

/* Converts the expression after `==` / `in` in the scope into the scope's target. */
static int scope_target(parser *p, int idx, bool in, const md_token *start, const md_expr *e,
                        md_scope *sc)
{
    char b[64];
    const char *var = scope_vars[idx];
    const char *opname = in ? "in" : "==";
    snippet(p, start->off, p->prev_end, b, sizeof b);
    if (e->op == MD_E_IS && in)
        return FAIL_AT(p, start,
                       "'%s in ... is ...' is not valid in the policy scope; write '%s is Type "
                       "in ...'",
                       var, var);
    if (idx == 1) {
        if (e->op == MD_E_LIT && e->u.lit.kind == MD_V_ENTITY) {
            sc->kind = in ? MD_SCOPE_IN : MD_SCOPE_EQ;
            sc->uid = e->u.lit.u.uid;
        } else if (in && e->op == MD_E_SET) {
            md_euid *uids = md_arena_array(p->a, e->u.list.n, sizeof *uids);
            if (!uids && e->u.list.n)
                return oom(p);
            for (size_t i = 0; i < e->u.list.n; i++) {
                const md_expr *it = e->u.list.items[i];
                if (it->op != MD_E_LIT || it->u.lit.kind != MD_V_ENTITY)
                    return fail(p, MANDATE_EPARSE, it->line, it->col,
                                "expected only action entity uids in the list after 'action in'");
                uids[i] = it->u.lit.u.uid;
            }
            sc->kind = MD_SCOPE_IN_LIST;
            sc->n_uids = e->u.list.n;
            sc->uids = uids;
        } else {
            return FAIL_AT(p, start, "expected %s after 'action %s', found %s",
                           in ? "an action entity uid or a list of them" : "an action entity uid",
                           opname, b);
        }
        const md_euid *check = sc->kind == MD_SCOPE_IN_LIST ? sc->uids : &sc->uid;
        size_t n = sc->kind == MD_SCOPE_IN_LIST ? sc->n_uids : 1;
        for (size_t i = 0; i < n; i++)
            if (!is_action_type(check[i].type))
                return FAIL_AT(p, start,
                               "expected action entities (of type Action or NS::Action) after "
                               "'action %s', found an entity of type '%.*s'",
                               opname, (int)(check[i].type.len > 64 ? 64 : check[i].type.len),
                               check[i].type.ptr);
        return 0;
    }
    const char *slot = idx == 0 ? "?principal" : "?resource";
    if (e->op == MD_E_LIT && e->u.lit.kind == MD_V_ENTITY) {
        sc->uid = e->u.lit.u.uid;
        return 0;
    }
    if (e->op == MD_E_SLOT) {
        if ((e->u.slot == MD_SLOT_PRINCIPAL) != (idx == 0))
            return FAIL_AT(p, start, "expected an entity uid or %s after '%s %s', found %s", slot,
                           var, opname, b);
        sc->slot = true;
        return 0;
    }
    return FAIL_AT(p, start, "expected an entity uid or %s after '%s %s', found %s", slot, var,
                   opname, b);
}

/* One element of the scope: principal, action or resource with its constraint. */
static int parse_scope_elem(parser *p, int idx, md_scope *sc)
{
    md_kw want = idx == 0 ? MD_KW_PRINCIPAL : idx == 1 ? MD_KW_ACTION : MD_KW_RESOURCE;
    char what[96];
    snprintf(what, sizeof what, "expected '%s' in the policy scope", scope_vars[idx]);
    if (!is_kw(&p->tok, want))
        return unexpected(p, what);
    TRY(next(p));
    if (p->tok.kind == MD_TK_COLON)
        return FAIL_AT(p, &p->tok,
                       "type constraints with ':' are not supported; write '%s is Type'",
                       scope_vars[idx]);
    bool has_is = false;
    if (is_kw(&p->tok, MD_KW_IS)) {
        if (idx == 1)
            return FAIL_AT(p, &p->tok, "'is' is not allowed in the action scope");
        TRY(next(p));
        TRY(parse_type(p, &sc->type));
        has_is = true;
    }
    if (p->tok.kind == MD_TK_COMMA || p->tok.kind == MD_TK_RPAREN) {
        sc->kind = has_is ? MD_SCOPE_IS : MD_SCOPE_ANY;
        return 0;
    }
    bool in = is_kw(&p->tok, MD_KW_IN);
    if (p->tok.kind == MD_TK_EQ)
        return FAIL_AT(p, &p->tok, "'=' is not an operator; use '==' in the policy scope");
    if (!in && p->tok.kind != MD_TK_EQ2) {
        if (relop(&p->tok) >= 0) {
            char b[64];
            return FAIL_AT(p, &p->tok, "%s is not allowed in the policy scope; use '==' or 'in'",
                           describe(p, &p->tok, b, sizeof b));
        }
        snprintf(what, sizeof what, "expected '==', 'in', ',' or ')' after '%s'", scope_vars[idx]);
        return unexpected(p, what);
    }
    if (has_is && !in)
        return FAIL_AT(p, &p->tok,
                       "'is' cannot be combined with '==' in the policy scope; write '%s is Type "
                       "in E' or '%s == E'",
                       scope_vars[idx], scope_vars[idx]);
    TRY(next(p));
    md_token start = p->tok;
    const md_expr *e;
    p->allow_slots = true;
    int rc = parse_expr(p, &e);
    p->allow_slots = false;
    if (rc)
        return rc;
    sc->kind = has_is ? MD_SCOPE_IS_IN : in ? MD_SCOPE_IN : MD_SCOPE_EQ;
    return scope_target(p, idx, in, &start, e, sc);
}

static int parse_scope(parser *p, md_policy *pol)
{
    md_scope *sc[3] = {&pol->principal, &pol->action, &pol->resource};
    int idx = 0;
    while (p->tok.kind != MD_TK_RPAREN) {
        if (idx >= 3)
            return FAIL_AT(p, &p->tok,
                           "the policy scope has only principal, action and resource; remove "
                           "the extra element");
        TRY(parse_scope_elem(p, idx, sc[idx]));
        idx++;
        if (p->tok.kind == MD_TK_COMMA) {
            TRY(next(p));
            continue;
        }
        if (p->tok.kind != MD_TK_RPAREN)
            return unexpected(p, "expected ',' or ')' in the policy scope");
    }
    if (idx < 3)
        return FAIL_AT(p, &p->tok, "the policy scope is missing '%s'", scope_vars[idx]);
    return next(p);
}

static int parse_annotations(parser *p, md_policy *pol)
{
    vec anns = {0}, keys = {0}, ats = {0}; /* annotations, their keys, the '@' tokens */
    while (p->tok.kind == MD_TK_AT) {
        md_token at = p->tok;
        TRY(next(p));
        if (p->tok.kind != MD_TK_IDENT)
            return unexpected(p, "expected an annotation name after '@'");
        md_annotation an = {.value = {"", 0}};
        TRY(copy_str(p, tok_text(p, &p->tok), &an.key));
        TRY(next(p));
        if (p->tok.kind == MD_TK_LPAREN) {
            TRY(next(p));
            if (p->tok.kind != MD_TK_STR)
                return unexpected(p, "expected a string as the annotation's value");
            TRY(md_lex_string(p->a, &p->lx, &p->tok, &an.value, p->d));
            TRY(next(p));
            TRY(expect(p, MD_TK_RPAREN, "expected ')' after the annotation's value"));
        }
        TRY(vec_push(p, &anns, &an, sizeof an));
        TRY(vec_push(p, &keys, &an.key, sizeof an.key));
        TRY(vec_push(p, &ats, &at, sizeof at));
    }
    size_t dup;
    TRY(find_dup(p, keys.items, keys.n, &dup));
    if (dup != SIZE_MAX) {
        const md_str *k = (const md_str *)keys.items + dup;
        return FAIL_AT(p, (const md_token *)ats.items + dup,
                       "duplicate annotation '@%.*s' on the policy", (int)k->len, k->ptr);
    }
    pol->n_annotations = anns.n;
    pol->annotations = anns.items;
    return 0;
}

static int parse_conditions(parser *p, md_policy *pol)
{
    vec conds = {0};
    for (;;) {
        const md_token *ah;
        if (p->tok.kind != MD_TK_IDENT)
            break;
        TRY(peek(p, &ah));
        bool when = is_kw(&p->tok, MD_KW_WHEN), unless = is_kw(&p->tok, MD_KW_UNLESS);
        if (!when && !unless) {
            if (ah->kind == MD_TK_LBRACE)
                return unexpected(p, "expected 'when' or 'unless'");
            break;
        }
        md_token kw = p->tok;
        TRY(next(p));
        TRY(expect(p, MD_TK_LBRACE,
                   when ? "expected '{' after 'when'"
                        : "expected '{' after "
                          "'unless'"));
        if (p->tok.kind == MD_TK_RBRACE)
            return FAIL_AT(p, &kw, "the '%s' condition is empty", when ? "when" : "unless");
        md_cond c = {.when = when};
        TRY(parse_expr(p, &c.body));
        TRY(expect(p, MD_TK_RBRACE, "expected '}' after the condition"));
        TRY(vec_push(p, &conds, &c, sizeof c));
    }
    pol->n_conds = conds.n;
    pol->conds = conds.items;
    return 0;
}

static int parse_policy(parser *p, md_policy *pol)
{
    md_token start = p->tok;
    pol->line = start.line;
    pol->col = start.col;
    TRY(parse_annotations(p, pol));
    if (!is_kw(&p->tok, MD_KW_PERMIT) && !is_kw(&p->tok, MD_KW_FORBID))
        return unexpected(p, pol->n_annotations ? "expected 'permit' or 'forbid' after the "
                                                  "annotations"
                                                : "expected 'permit' or 'forbid'");
    pol->permit = is_kw(&p->tok, MD_KW_PERMIT);
    TRY(next(p));
    TRY(expect(p, MD_TK_LPAREN,
               pol->permit ? "expected '(' after 'permit'" : "expected '(' after 'forbid'"));
    TRY(parse_scope(p, pol));
    TRY(parse_conditions(p, pol));
    TRY(expect(p, MD_TK_SEMI, "expected ';' after the policy"));
    pol->is_template = pol->principal.slot || pol->resource.slot;
    pol->text = (md_str){md_arena_strndup(p->a, p->lx.text + start.off, p->prev_end - start.off),
                         p->prev_end - start.off};
    if (!pol->text.ptr)
        return oom(p);
    return 0;
}

static int parser_init(parser *p, md_arena *a, const char *text, size_t len, md_diag *d)
{
    memset(p, 0, sizeof *p);
    p->a = a;
    p->d = d;
    if (len > MD_CEDAR_MAX_POLICY_TEXT)
        return fail(p, MANDATE_ETOOBIG, 0, 0,
                    "policy text is %zu bytes, over the limit of %u bytes", len,
                    (unsigned)MD_CEDAR_MAX_POLICY_TEXT);
    md_lexer_init(&p->lx, text, len);
    return md_lexer_next(&p->lx, &p->tok, d);
}

int md_policyset_parse(md_arena *a, const char *text, size_t len, const char *id_prefix,
                       md_policyset **out, md_diag *d)
{
    if (!a || !out || (!text && len))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_policyset_parse: invalid argument");
    *out = NULL;
    parser p;
    TRY(parser_init(&p, a, text, len, d));
    const char *prefix = id_prefix ? id_prefix : "policy";
    vec all = {0};
    size_t n_templates = 0;
    while (p.tok.kind != MD_TK_EOF) {
        md_policy *pol = md_arena_alloc(a, sizeof *pol);
        if (!pol)
            return oom(&p);
        TRY(parse_policy(&p, pol));
        char *id = md_arena_printf(a, "%s%zu", prefix, all.n);
        if (!id)
            return oom(&p);
        pol->id = md_str_c(id);
        n_templates += pol->is_template;
        TRY(vec_push(&p, &all, &pol, sizeof pol));
    }
    md_policyset *ps = md_arena_alloc(a, sizeof *ps);
    const md_policy **pols = md_arena_array(a, all.n - n_templates + 1, sizeof *pols);
    const md_policy **tmpls = md_arena_array(a, n_templates + 1, sizeof *tmpls);
    if (!ps || !pols || !tmpls)
        return oom(&p);
    for (size_t i = 0; i < all.n; i++) {
        const md_policy *pol = ((const md_policy **)all.items)[i];
        if (pol->is_template)
            tmpls[ps->n_templates++] = pol;
        else
            pols[ps->n++] = pol;
    }
    ps->policies = pols;
    ps->templates = tmpls;
    if (md_policyset_reindex(a, ps))
        return oom(&p);
    *out = ps;
    return 0;
}

int md_expr_parse(md_arena *a, const char *text, size_t len, const md_expr **out, md_diag *d)
{
    if (!a || !out || (!text && len))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_expr_parse: invalid argument");
    parser p;
    TRY(parser_init(&p, a, text, len, d));
    p.allow_slots = true;
    const md_expr *e;
    TRY(parse_expr(&p, &e));
    if (p.tok.kind != MD_TK_EOF)
        return unexpected(&p, "expected the end of the expression");
    *out = e;
    return 0;
}

static bool word_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

bool md_euid_parse_plain(md_arena *a, const char *text, size_t len, md_euid *out)
{
    size_t i = 0, type_end = 0;
    for (;;) {
        if (i >= len || text[i] < 'A' || text[i] > 'Z')
            return false;
        while (i < len && word_char(text[i]))
            i++;
        if (i + 2 > len || text[i] != ':' || text[i + 1] != ':')
            return false;
        type_end = i;
        i += 2;
        if (i < len && text[i] == '"')
            break;
    }
    size_t id0 = ++i;
    while (i < len && text[i] >= 0x20 && text[i] < 0x7f && text[i] != '"' && text[i] != '\\')
        i++;
    if (i + 1 != len || text[i] != '"')
        return false;
    const char *c = md_arena_strndup(a, text, len);
    if (!c)
        return false;
    out->type = (md_str){c, type_end};
    out->id = (md_str){c + id0, i - id0};
    return true;
}

int md_euid_parse(md_arena *a, const char *text, size_t len, md_euid *out, md_diag *d)
{
    if (!a || !out || (!text && len))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_euid_parse: invalid argument");
    if (md_euid_parse_plain(a, text, len, out))
        return 0;
    parser p;
    TRY(parser_init(&p, a, text, len, d));
    md_token start = p.tok;
    if (p.tok.kind != MD_TK_IDENT)
        return unexpected(&p, "expected an entity uid like Type::\"id\"");
    path pa;
    TRY(parse_path(&p, &pa));
    if (!pa.is_uid) {
        char b[64];
        return FAIL_AT(&p, &start, "expected an entity uid like Type::\"id\", found %s",
                       snippet(&p, start.off, p.prev_end, b, sizeof b));
    }
    if (p.tok.kind != MD_TK_EOF)
        return unexpected(&p, "expected the end of the entity uid");
    *out = pa.uid;
    return 0;
}

/* ---- policy sets ---- */

static bool id_used(const md_policyset *ps, md_str id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (md_str_eq(ps->policies[i]->id, id))
            return true;
    for (size_t i = 0; i < ps->n_templates; i++)
        if (md_str_eq(ps->templates[i]->id, id))
            return true;
    return false;
}

int md_policyset_merge(md_arena *a, md_policyset *into, const md_policyset *from, md_diag *d)
{
    if (!a || !into || !from)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_policyset_merge: invalid argument");
    size_t n = into->n + into->n_templates + from->n + from->n_templates;
    md_str *ids = md_arena_array(a, n + 1, sizeof *ids);
    if (!ids)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while merging policy sets");
    size_t k = 0;
    const md_policyset *sets[2] = {into, from};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < sets[s]->n; i++)
            ids[k++] = sets[s]->policies[i]->id;
        for (size_t i = 0; i < sets[s]->n_templates; i++)
            ids[k++] = sets[s]->templates[i]->id;
    }
    parser p = {.a = a, .d = d};
    size_t dup;
    TRY(find_dup(&p, ids, k, &dup));
    if (dup != SIZE_MAX)
        return md_diag_set(d, MANDATE_EEXIST, 0, 0,
                           "cannot merge policy sets: policy id '%.*s' is in both",
                           (int)(ids[dup].len > 128 ? 128 : ids[dup].len), ids[dup].ptr);
    const md_policy **pols = md_arena_array(a, into->n + from->n + 1, sizeof *pols);
    const md_policy **tmpls =
        md_arena_array(a, into->n_templates + from->n_templates + 1, sizeof *tmpls);
    if (!pols || !tmpls)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while merging policy sets");
    if (into->n)
        memcpy(pols, into->policies, into->n * sizeof *pols);
    if (from->n)
        memcpy(pols + into->n, from->policies, from->n * sizeof *pols);
    if (into->n_templates)
        memcpy(tmpls, into->templates, into->n_templates * sizeof *tmpls);
    if (from->n_templates)
        memcpy(tmpls + into->n_templates, from->templates, from->n_templates * sizeof *tmpls);
    into->policies = pols;
    into->n += from->n;
    into->templates = tmpls;
    into->n_templates += from->n_templates;
    if (md_policyset_reindex(a, into))
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while merging policy sets");
    return 0;
}

static int copy_euid(md_arena *a, const md_euid *in, md_euid *out)
{
    out->type = md_arena_str(a, in->type);
    out->id = md_arena_str(a, in->id);
    return out->type.ptr && out->id.ptr ? 0 : MANDATE_ENOMEM;
}

int md_policyset_link(md_arena *a, md_policyset *ps, md_str template_id, md_str new_id,
                      const md_euid *principal, const md_euid *resource, md_diag *d)
{
    if (!a || !ps || !new_id.ptr || !new_id.len)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_policyset_link: invalid argument");
    int tid = (int)(template_id.len > 128 ? 128 : template_id.len);
    int nid = (int)(new_id.len > 128 ? 128 : new_id.len);
    const md_policy *t = NULL;
    for (size_t i = 0; i < ps->n_templates && !t; i++)
        if (md_str_eq(ps->templates[i]->id, template_id))
            t = ps->templates[i];
    if (!t)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "no template with id '%.*s'", tid,
                           template_id.ptr ? template_id.ptr : "");
    if (id_used(ps, new_id))
        return md_diag_set(d, MANDATE_EEXIST, 0, 0,
                           "cannot link template '%.*s': policy id '%.*s' is already in use", tid,
                           template_id.ptr, nid, new_id.ptr);
    bool need_p = t->principal.slot, need_r = t->resource.slot;
    if (need_p != (principal != NULL) || need_r != (resource != NULL))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "cannot link template '%.*s': it has %s; %s given", tid, template_id.ptr,
                           need_p && need_r ? "slots ?principal and ?resource"
                           : need_p         ? "the slot ?principal only"
                                            : "the slot ?resource only",
                           principal && resource ? "both were"
                           : principal           ? "a principal was"
                           : resource            ? "a resource was"
                                                 : "neither was");
    md_policy *np = md_arena_alloc(a, sizeof *np);
    const md_policy **pols = md_arena_array(a, ps->n + 2, sizeof *pols);
    if (!np || !pols)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while linking a template");
    *np = *t;
    np->is_template = false;
    np->id = md_arena_str(a, new_id);
    np->template_id = t->id;
    if (!np->id.ptr)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while linking a template");
    if (principal) {
        if (copy_euid(a, principal, &np->principal_slot))
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while linking");
        np->has_principal_slot = true;
        np->principal.slot = false;
        np->principal.uid = np->principal_slot;
    }
    if (resource) {
        if (copy_euid(a, resource, &np->resource_slot))
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while linking");
        np->has_resource_slot = true;
        np->resource.slot = false;
        np->resource.uid = np->resource_slot;
    }
    if (ps->n)
        memcpy(pols, ps->policies, ps->n * sizeof *pols);
    pols[ps->n] = np;
    ps->policies = pols;
    ps->n++;
    return 0;
}

md_str md_policy_name(const md_policy *p)
{
    for (size_t i = 0; i < p->n_annotations; i++)
        if (md_str_eq_c(p->annotations[i].key, "id"))
            return p->annotations[i].value;
    return p->id;
}
