/*
 * format.c: the canonical formatter of Cedar policy text (see format.h).
 *
 * Three steps. The text is lexed into tokens, each carrying the comments found in the gap before
 * it (trailing: on the line of the previous token; own-line: on a line of their own). The tokens
 * of each policy are nested into groups at brackets, a group's elements split at its top-level
 * commas. The printer then lays the groups out flat when they fit and hold no comment, broken
 * otherwise. Line breaks are requested lazily, so a trailing comment is always written at the end
 * of the line of the token it followed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/format.h"
#include "cedar/parser.h"

#define INF ((size_t)1 << 40)

typedef struct fcom {
    md_str text;     /* "// ..." without trailing white space */
    bool own_line;   /* a line break precedes it */
    bool blank_line; /* a blank line precedes it */
} fcom;

typedef struct ftok {
    md_token t;
    md_str text;
    size_t c0, nc;     /* comments before this token: coms[c0 .. c0+nc) */
    bool blank_before; /* a blank line between the last comment and the token */
    bool unary;        /* MD_TK_MINUS used as negation */
    bool structural;   /* permit/forbid/when/unless at a policy's top level */
    size_t width;      /* in characters */
} ftok;

typedef struct node node;
typedef struct item {
    size_t n;
    node *nodes;
    size_t comma; /* the comma token after the element, or SIZE_MAX */
} item;

struct node {
    bool group;
    size_t tok;   /* the token, or the group's opening bracket */
    size_t close; /* group: closing bracket */
    size_t n_items;
    item *items;
};

typedef struct fm {
    md_arena *a;
    md_diag *d;
    md_buf *b;
    const char *src;
    ftok *toks;
    size_t n_toks;
    fcom *coms;
    size_t n_coms;
    size_t pos; /* tree building: next token */
    unsigned depth;
    int err;
    /* printing */
    size_t col;
    unsigned indent;
    bool line_empty; /* nothing written on the current line yet */
    bool want_nl;    /* a line break is requested before the next token */
    bool first_policy;
} fm;

/* ------------------------------------------------------------------------------------------ */
/* lexing */

static size_t utf8_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

static bool is_operand_end(const ftok *t)
{
    switch (t->t.kind) {
    case MD_TK_IDENT:
        switch (t->t.kw) {
        case MD_KW_IF:
        case MD_KW_THEN:
        case MD_KW_ELSE:
        case MD_KW_IN:
        case MD_KW_HAS:
        case MD_KW_LIKE:
        case MD_KW_IS: return false;
        default: return !t->structural;
        }
    case MD_TK_INT:
    case MD_TK_STR:
    case MD_TK_SLOT:
    case MD_TK_RPAREN:
    case MD_TK_RBRACKET:
    case MD_TK_RBRACE: return true;
    default: return false;
    }
}

/* Collects the comments in src[from, to) for the token that follows. */
static int scan_gap(fm *f, size_t from, size_t to, bool at_start, ftok *t, fcom **coms, size_t *cap)
{
    unsigned nls = at_start ? 1 : 0; /* line breaks since the last token or comment */
    t->c0 = f->n_coms;
    t->nc = 0;
    for (size_t i = from; i < to;) {
        char c = f->src[i];
        if (c == '\n' || c == '\r') {
            nls++;
            i += (c == '\r' && i + 1 < to && f->src[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c == '/' && i + 1 < to && f->src[i + 1] == '/') {
            size_t e = i;
            while (e < to && f->src[e] != '\n' && f->src[e] != '\r')
                e++;
            size_t end = e;
            while (end > i && (f->src[end - 1] == ' ' || f->src[end - 1] == '\t' ||
                               f->src[end - 1] == '\v' || f->src[end - 1] == '\f'))
                end--;
            if (f->n_coms == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                fcom *nv = md_arena_array(f->a, ncap, sizeof *nv);
                if (!nv)
                    return MANDATE_ENOMEM;
                if (f->n_coms)
                    memcpy(nv, *coms, f->n_coms * sizeof *nv);
                *coms = nv;
                *cap = ncap;
            }
            (*coms)[f->n_coms++] = (fcom){{f->src + i, end - i}, nls > 0, nls > 1};
            t->nc++;
            nls = 0;
            i = e;
            continue;
        }
        i++;
    }
    t->blank_before = nls > 1;
    return 0;
}

static int lex_all(fm *f, const char *text, size_t len)
{
    md_lexer lx;
    md_lexer_init(&lx, text, len);
    size_t cap = 0, ccap = 0;
    size_t prev_end = 0;
    fcom *coms = NULL;
    for (;;) {
        md_token t;
        int rc = md_lexer_next(&lx, &t, f->d);
        if (rc)
            return rc;
        if (f->n_toks == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            ftok *nv = md_arena_array(f->a, ncap, sizeof *nv);
            if (!nv)
                return MANDATE_ENOMEM;
            if (f->n_toks)
                memcpy(nv, f->toks, f->n_toks * sizeof *nv);
            f->toks = nv;
            cap = ncap;
        }
        ftok *ft = &f->toks[f->n_toks];
        memset(ft, 0, sizeof *ft);
        ft->t = t;
        ft->text = (md_str){text + t.off, t.len};
        ft->width = utf8_width(ft->text.ptr, ft->text.len);
        if ((rc = scan_gap(f, prev_end, t.off, f->n_toks == 0, ft, &coms, &ccap)))
            return rc;
        f->coms = coms;
        prev_end = t.off + t.len;
        f->n_toks++;
        if (t.kind == MD_TK_EOF)
            break;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* tree */

static bool is_open(md_tok_kind k)
{
    return k == MD_TK_LPAREN || k == MD_TK_LBRACKET || k == MD_TK_LBRACE;
}

static bool is_close(md_tok_kind k)
{
    return k == MD_TK_RPAREN || k == MD_TK_RBRACKET || k == MD_TK_RBRACE;
}

typedef struct nvec {
    node *v;
    size_t n, cap;
} nvec;

static int nvec_push(fm *f, nvec *v, node x)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 8;
        node *nv = md_arena_array(f->a, ncap, sizeof *nv);
        if (!nv)
            return MANDATE_ENOMEM;
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = ncap;
    }
    v->v[v->n++] = x;
    return 0;
}

static int build_seq(fm *f, nvec *out, bool top);

/* After an opening bracket at f->pos - 1: the elements up to the matching close. */
static int build_group(fm *f, node *g)
{
    if (++f->depth > MD_CEDAR_MAX_DEPTH)
        return md_diag_set(f->d, MANDATE_ETOOBIG, f->toks[g->tok].t.line, f->toks[g->tok].t.col,
                           "policy nests too deeply to format (more than %d levels)",
                           MD_CEDAR_MAX_DEPTH);
    item *items = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        nvec seq = {0};
        int rc = build_seq(f, &seq, false);
        if (rc)
            return rc;
        const ftok *t = &f->toks[f->pos];
        if (seq.n || t->t.kind == MD_TK_COMMA) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                item *nv = md_arena_array(f->a, ncap, sizeof *nv);
                if (!nv)
                    return MANDATE_ENOMEM;
                if (n)
                    memcpy(nv, items, n * sizeof *nv);
                items = nv;
                cap = ncap;
            }
            items[n++] = (item){seq.n, seq.v, SIZE_MAX};
        }
        if (t->t.kind == MD_TK_COMMA) {
            items[n - 1].comma = f->pos++;
            continue;
        }
        if (is_close(t->t.kind)) {
            g->close = f->pos++;
            break;
        }
        return md_diag_set(f->d, MANDATE_EINTERNAL, t->t.line, t->t.col,
                           "formatter: unbalanced brackets");
    }
    g->n_items = n;
    g->items = items;
    f->depth--;
    return 0;
}

/* A sequence of tokens and groups, up to a comma, a closing bracket, or (top) a ';'. */
static int build_seq(fm *f, nvec *out, bool top)
{
    for (;;) {
        ftok *t = &f->toks[f->pos];
        md_tok_kind k = t->t.kind;
        if (k == MD_TK_EOF || is_close(k) || (!top && k == MD_TK_COMMA))
            return 0;
        const ftok *prev = f->pos ? &f->toks[f->pos - 1] : NULL;
        if (top && k == MD_TK_IDENT &&
            (t->t.kw == MD_KW_PERMIT || t->t.kw == MD_KW_FORBID || t->t.kw == MD_KW_WHEN ||
             t->t.kw == MD_KW_UNLESS) &&
            !(prev && prev->t.kind == MD_TK_AT))
            t->structural = true;
        if (k == MD_TK_MINUS)
            t->unary = !prev || !is_operand_end(prev);
        node nd = {.tok = f->pos++};
        if (is_open(k)) {
            nd.group = true;
            int rc = build_group(f, &nd);
            if (rc)
                return rc;
        }
        int rc = nvec_push(f, out, nd);
        if (rc)
            return rc;
        if (top && k == MD_TK_SEMI)
            return 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* measuring */

/* Whether a space separates tokens p and c on one line. */
static bool space_between(const ftok *p, const ftok *c)
{
    switch (c->t.kind) {
    case MD_TK_COMMA:
    case MD_TK_SEMI:
    case MD_TK_RPAREN:
    case MD_TK_RBRACKET:
    case MD_TK_DOT:
    case MD_TK_COLON:
    case MD_TK_COLON2: return false;
    default: break;
    }
    switch (p->t.kind) {
    case MD_TK_LPAREN:
    case MD_TK_LBRACKET:
    case MD_TK_DOT:
    case MD_TK_COLON2:
    case MD_TK_AT:
    case MD_TK_BANG: return false;
    case MD_TK_MINUS:
        if (p->unary)
            return false;
        break;
    default: break;
    }
    if (c->t.kind == MD_TK_LPAREN)
        return !(p->t.kind == MD_TK_IDENT && is_operand_end(p));
    if (c->t.kind == MD_TK_LBRACKET)
        return !is_operand_end(p);
    return true;
}

static size_t sat(size_t a, size_t b)
{
    return a + b > INF ? INF : a + b;
}

static size_t measure_node(const fm *f, const node *nd, bool skip_first_comments);

/* Width of a sequence printed on one line; INF if it holds a comment. */
static size_t measure_seq(const fm *f, const node *v, size_t n, bool skip_first_comments)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && space_between(&f->toks[v[i - 1].group ? v[i - 1].close : v[i - 1].tok],
                               &f->toks[v[i].tok]))
            w = sat(w, 1);
        w = sat(w, measure_node(f, &v[i], skip_first_comments && i == 0));
    }
    return w;
}

/* The inside of a group and its closing bracket, on one line. */
static size_t measure_inner(const fm *f, const node *g, bool body)
{
    size_t w = body ? 2 : 0;
    for (size_t i = 0; i < g->n_items; i++) {
        const item *it = &g->items[i];
        w = sat(w, measure_seq(f, it->nodes, it->n, false));
        if (it->comma != SIZE_MAX)
            w = sat(w, f->toks[it->comma].nc ? INF : i + 1 < g->n_items ? 2 : 1);
    }
    const ftok *c = &f->toks[g->close];
    return sat(w, c->nc ? INF : c->width);
}

static size_t measure_node(const fm *f, const node *nd, bool skip_first_comments)
{
    const ftok *t = &f->toks[nd->tok];
    size_t w = (t->nc && !skip_first_comments) ? INF : t->width;
    if (nd->group)
        w = sat(w, measure_inner(f, nd, false));
    return w;
}

/* ------------------------------------------------------------------------------------------ */
/* printing */

static void out(fm *f, const char *s, size_t n)
{
    if (!f->err && md_buf_append(f->b, s, n))
        f->err = MANDATE_ETOOBIG;
    f->col += utf8_width(s, n);
    if (n)
        f->line_empty = false;
}

static void newline(fm *f)
{
    out(f, "\n", 1);
    f->col = 0;
    f->line_empty = true;
}

static void put_indent(fm *f)
{
    static const char sp[] = "                                                                ";
    size_t n = f->indent;
    while (n) {
        size_t k = n > sizeof sp - 1 ? sizeof sp - 1 : n;
        out(f, sp, k);
        n -= k;
    }
}

/* Writes token i: first its comments, then the pending line break, then the token (after a
 * space when space is set and the line is not fresh). boundary: the token starts a policy (or
 * is the end of the file), where blank lines around comments are kept. */
static void emit(fm *f, size_t i, bool space, bool boundary)
{
    const ftok *t = &f->toks[i];
    size_t k = 0;
    if (t->nc && !f->coms[t->c0].own_line && !f->line_empty) {
        const fcom *c = &f->coms[t->c0];
        out(f, " ", 1);
        out(f, c->text.ptr, c->text.len);
        f->want_nl = true;
        k = 1;
    }
    bool last_policy_end = boundary && !f->first_policy;
    if (f->want_nl || (k < t->nc) || last_policy_end) {
        if (!f->line_empty)
            newline(f);
        f->want_nl = false;
    }
    if (last_policy_end && (t->t.kind != MD_TK_EOF || k < t->nc))
        newline(f); /* the blank line between policies */
    for (size_t own = 0; k < t->nc; k++, own++) {
        const fcom *c = &f->coms[t->c0 + k];
        if (boundary && c->blank_line && own > 0)
            newline(f);
        put_indent(f);
        out(f, c->text.ptr, c->text.len);
        newline(f);
    }
    if (boundary && t->nc && t->blank_before && t->t.kind != MD_TK_EOF &&
        f->coms[t->c0 + t->nc - 1].own_line)
        newline(f);
    if (t->t.kind == MD_TK_EOF)
        return;
    if (f->line_empty)
        put_indent(f);
    else if (space)
        out(f, " ", 1);
    out(f, t->text.ptr, t->text.len);
}

static void print_seq(fm *f, const node *v, size_t n, size_t prev, bool breakable);

static size_t last_tok(const node *nd)
{
    return nd->group ? nd->close : nd->tok;
}

/* Prints a group whose opening bracket is already written. body: a condition's braces. */
static void print_group_rest(fm *f, const node *g, bool body)
{
    size_t inner = measure_inner(f, g, body);
    bool flat = g->n_items == 0 || f->col + inner <= MD_FORMAT_WIDTH;
    if (flat) {
        for (size_t i = 0; i < g->n_items; i++) {
            const item *it = &g->items[i];
            if (it->n) {
                /* "{ " opens a condition body; ", " separates elements */
                emit(f, it->nodes[0].tok, i == 0 ? body : true, false);
                if (it->nodes[0].group)
                    print_group_rest(f, &it->nodes[0], false);
                print_seq(f, it->nodes + 1, it->n - 1, last_tok(&it->nodes[0]), false);
            }
            if (it->comma != SIZE_MAX)
                emit(f, it->comma, false, false);
        }
        emit(f, g->close, body, false);
        return;
    }
    f->indent += 2;
    for (size_t i = 0; i < g->n_items; i++) {
        const item *it = &g->items[i];
        f->want_nl = true;
        if (it->n) {
            emit(f, it->nodes[0].tok, false, false);
            if (it->nodes[0].group)
                print_group_rest(f, &it->nodes[0], false);
            /* break the element at its top-level && and || when it does not fit */
            size_t rest = measure_seq(f, it->nodes + 1, it->n - 1, false);
            bool breakable = f->col + 1 + rest > MD_FORMAT_WIDTH;
            print_seq(f, it->nodes + 1, it->n - 1, last_tok(&it->nodes[0]), breakable);
        }
        if (it->comma != SIZE_MAX)
            emit(f, it->comma, false, false);
    }
    f->indent -= 2;
    f->want_nl = true;
    emit(f, g->close, false, false);
}

/* Prints nodes after token prev (already written). */
static void print_seq(fm *f, const node *v, size_t n, size_t prev, bool breakable)
{
    for (size_t i = 0; i < n; i++) {
        const node *nd = &v[i];
        emit(f, nd->tok, space_between(&f->toks[prev], &f->toks[nd->tok]), false);
        if (nd->group)
            print_group_rest(f, nd, false);
        prev = last_tok(nd);
        md_tok_kind k = f->toks[nd->tok].t.kind;
        if (breakable && (k == MD_TK_AND || k == MD_TK_OR) && i + 1 < n)
            f->want_nl = true;
    }
}

/* Prints one policy: annotations, effect and scope, conditions, ';'. */
static void print_policy(fm *f, const node *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const node *nd = &v[i];
        const ftok *t = &f->toks[nd->tok];
        bool lead = t->t.kind == MD_TK_AT || t->structural;
        if (i == 0) {
            emit(f, nd->tok, false, true);
            f->first_policy = false;
        } else {
            if (lead)
                f->want_nl = true;
            emit(f, nd->tok, !lead && space_between(&f->toks[last_tok(&v[i - 1])], t), false);
        }
        if (nd->group) {
            print_group_rest(f, nd, false);
            continue;
        }
        if (t->structural && (t->t.kw == MD_KW_WHEN || t->t.kw == MD_KW_UNLESS) && i + 1 < n &&
            v[i + 1].group && f->toks[v[i + 1].tok].t.kind == MD_TK_LBRACE) {
            /* when { ... }: the body on one line if it fits, else on lines of its own */
            const node *g = &v[++i];
            emit(f, g->tok, true, false);
            size_t inner = measure_inner(f, g, true);
            if (g->n_items == 1 && g->items[0].n && f->col + inner > MD_FORMAT_WIDTH) {
                f->indent += 2;
                f->want_nl = true;
                const item *it = &g->items[0];
                emit(f, it->nodes[0].tok, false, false);
                if (it->nodes[0].group)
                    print_group_rest(f, &it->nodes[0], false);
                size_t rest = measure_seq(f, it->nodes + 1, it->n - 1, false);
                print_seq(f, it->nodes + 1, it->n - 1, last_tok(&it->nodes[0]),
                          f->col + 1 + rest > MD_FORMAT_WIDTH);
                f->indent -= 2;
                f->want_nl = true;
                emit(f, g->close, false, false);
            } else {
                print_group_rest(f, g, true);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */

/* The formatted text must hold the same tokens and comments as the input. */
static bool same_tokens(const fm *f, const char *text, size_t len)
{
    md_diag d = {0};
    fm g = {.a = f->a, .d = &d, .src = text};
    if (lex_all(&g, text, len) || g.n_toks != f->n_toks || g.n_coms != f->n_coms)
        return false;
    for (size_t i = 0; i < f->n_toks; i++)
        if (g.toks[i].t.kind != f->toks[i].t.kind || !md_str_eq(g.toks[i].text, f->toks[i].text))
            return false;
    for (size_t i = 0; i < f->n_coms; i++)
        if (!md_str_eq(g.coms[i].text, f->coms[i].text))
            return false;
    return true;
}

int md_policy_format(const char *text, size_t len, md_buf *outb, md_diag *d)
{
    if ((!text && len) || !outb)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_policy_format: missing argument");
    if (!text)
        text = "";
    md_arena *a = md_arena_new();
    if (!a)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while formatting");
    md_policyset *ps = NULL;
    int rc = md_policyset_parse(a, text, len, NULL, &ps, d);
    if (rc)
        goto done;
    md_buf res;
    md_buf_init(&res, outb->max > outb->len ? outb->max - outb->len : 0);
    fm f = {.a = a, .d = d, .b = &res, .src = text, .line_empty = true, .first_policy = true};
    if ((rc = lex_all(&f, text, len)))
        goto done_res;
    while (f.toks[f.pos].t.kind != MD_TK_EOF) {
        nvec seq = {0};
        if ((rc = build_seq(&f, &seq, true)))
            goto done_res;
        if (!seq.n) { /* a stray closing bracket cannot survive parsing */
            rc = md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "formatter: unexpected token");
            goto done_res;
        }
        print_policy(&f, seq.v, seq.n);
    }
    emit(&f, f.pos, false, true);
    if (!f.line_empty)
        newline(&f);
    if (f.err) {
        rc = md_diag_set(d, f.err, 0, 0, "formatted text is over the size limit");
        goto done_res;
    }
    if (!same_tokens(&f, res.data ? res.data : "", res.len)) {
        rc = md_diag_set(d, MANDATE_EINTERNAL, 0, 0,
                         "formatter bug: the formatted text does not hold the same tokens; the "
                         "input was left unchanged");
        goto done_res;
    }
    if (res.len && md_buf_append(outb, res.data, res.len))
        rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "formatted text is over the size limit");
done_res:
    md_buf_release(&res);
done:
    md_arena_free(a);
    return rc;
}
