/*
 * schema.c: the parser of Cedar's human-readable schema syntax (see schema.h and cedar_int.h).
 *
 * Three passes: a recursive-descent parser builds a small syntax tree (one namespace for all
 * declarations outside any namespace, one per `namespace` block); the declarations are collected
 * into tables of full names (duplicates and reserved names are errors, as are the empty-namespace
 * shadowings that Cedar forbids, RFC 70); then every type is resolved, common types are inlined,
 * and the sorted md_schema is built. Grammar and rules follow the Rust implementation's
 * cedar_schema/grammar.lalrpop and its conversion to the JSON schema format.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/schema.h"

/* ------------------------------------------------------------------------------------------ */
/* tokens */

enum {
    T_EOF,
    T_ERR, /* a lexical error; the parser's first error is already recorded */
    T_IDENT,
    T_NUMBER,
    T_STR,
    T_COMMA,
    T_SEMI,
    T_COLON,
    T_DCOLON,
    T_LBRACE,
    T_RBRACE,
    T_LBRACK,
    T_RBRACK,
    T_LT,
    T_GT,
    T_EQ,
    T_QUEST,
    T_AT,
    T_LPAREN,
    T_RPAREN,
};

typedef struct tok {
    int kind;
    md_str text; /* the source bytes */
    md_str sval; /* T_STR: the unescaped value */
    uint32_t line, col;
} tok;

/* ------------------------------------------------------------------------------------------ */
/* syntax tree */

typedef struct name_ast {
    md_str s;
    uint32_t line, col;
} name_ast;

typedef struct path_ast {
    size_t n;    /* components */
    md_str full; /* "A::B::C" */
    uint32_t line, col;
} path_ast;

enum { TY_PATH, TY_SET, TY_RECORD };

typedef struct type_ast type_ast;
typedef struct attr_ast {
    name_ast name;
    bool required;
    const type_ast *ty;
} attr_ast;

struct type_ast {
    int kind;
    uint32_t line, col;
    path_ast path;        /* TY_PATH */
    const type_ast *elem; /* TY_SET */
    size_t n;             /* TY_RECORD */
    const attr_ast *attrs;
};

typedef struct qual_ast {
    bool has_path; /* `P::"id"`; otherwise the type is `Action` */
    path_ast path;
    md_str id;
    uint32_t line, col;
} qual_ast;

enum { D_ENTITY, D_ACTION, D_TYPE };

typedef struct decl_ast {
    int kind;
    uint32_t line, col;
    size_t n_names;
    const name_ast *names;
    /* entity */
    size_t n_parents;
    const path_ast *parents;
    const type_ast *shape; /* TY_RECORD or NULL */
    const type_ast *tags;
    bool is_enum;
    size_t n_enum;
    const md_str *enum_ids;
    /* action */
    size_t n_aparents;
    const qual_ast *aparents;
    bool has_applies, has_principal, has_resource;
    size_t n_principals, n_resources;
    const path_ast *principals, *resources;
    const type_ast *context; /* NULL: empty record */
    /* type */
    const type_ast *def;
} decl_ast;

typedef struct ns_ast {
    bool named;
    path_ast name;
    decl_ast *decls;
    size_t n, cap;
} ns_ast;

/* ------------------------------------------------------------------------------------------ */
/* parser state */

typedef struct parser {
    md_arena *a;
    md_diag *d;
    const char *src;
    size_t len;
    size_t pos;
    uint32_t line, col;
    tok la[2];
    int nla;
    int err; /* first error code */
    unsigned depth;
    ns_ast root; /* declarations outside any namespace */
    ns_ast *nss; /* named namespaces */
    size_t n_ns, cap_ns;
} parser;

/* Grows an arena array (old storage stays in the arena). */
static int grow(md_arena *a, void **items, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *ni = md_arena_array(a, ncap, sz);
    if (!ni)
        return MANDATE_ENOMEM;
    if (n)
        memcpy(ni, *items, n * sz);
    *items = ni;
    *cap = ncap;
    return 0;
}

#define PUSH(a, arr, n, cap, val)                                                                  \
    (grow((a), (void **)&(arr), &(cap), (n), sizeof *(arr)) ? MANDATE_ENOMEM                       \
                                                            : ((arr)[(n)++] = (val), 0))

static int fail(parser *p, int code, uint32_t line, uint32_t col, const char *fmt, ...)
    MD_PRINTF(5, 6);

static int fail(parser *p, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (!p->err) {
        p->err = code;
        if (p->d && !p->d->code) {
            char msg[sizeof p->d->msg];
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg, sizeof msg, fmt, ap);
            va_end(ap);
            md_diag_set(p->d, code, line, col, "%s", msg);
        }
    }
    return p->err;
}

static int oom(parser *p)
{
    return fail(p, MANDATE_ENOMEM, 0, 0, "out of memory while parsing the schema");
}

/* ------------------------------------------------------------------------------------------ */
/* lexer */

/* Length of a white-space character at s (Unicode White_Space, as Rust's regex `\s`), or 0. */
static size_t ws_len(const unsigned char *s, size_t n)
{
    switch (s[0]) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r': return 1;
    }
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
        return 2;
    if (n >= 3) {
        if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
            return 3;
        if (s[0] == 0xE2 && s[1] == 0x80 &&
            ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
            return 3;
        if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
            return 3;
        if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
            return 3;
    }
    return 0;
}

static void advance(parser *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p->src[p->pos + i] == '\n') {
            p->line++;
            p->col = 1;
        } else {
            p->col++;
        }
    }
    p->pos += n;
}

static bool is_id_start(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_id_char(char c)
{
    return is_id_start(c) || (c >= '0' && c <= '9');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes the body of a string literal (without quotes) as Rust string literals do, which is
 * what Cedar uses: \n \r \t \\ \0 \' \" \xHH (up to 0x7F) and \u{H..H} (1 to 6 hex digits,
 * underscores allowed after the first, a Unicode scalar value). A bare carriage return is an
 * error. line/col locate the opening quote. */
static int unescape(parser *p, md_str body, uint32_t line, uint32_t col, md_str *out)
{
    char *o = md_arena_alloc(p->a, body.len + 1);
    if (!o)
        return oom(p);
    size_t n = 0;
    const char *s = body.ptr;
    for (size_t i = 0; i < body.len;) {
        uint32_t c = col + 1 + (uint32_t)i; /* column of the offending byte (same line only) */
        if (s[i] == '\r')
            return fail(p, MANDATE_EPARSE, line, c,
                        "bare carriage return in a string literal; write it as \\r");
        if (s[i] != '\\') {
            o[n++] = s[i++];
            continue;
        }
        if (i + 1 >= body.len)
            return fail(p, MANDATE_EPARSE, line, c, "incomplete escape sequence in a string");
        char e = s[i + 1];
        switch (e) {
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case '\\': o[n++] = '\\'; break;
        case '0': o[n++] = '\0'; break;
        case '\'': o[n++] = '\''; break;
        case '"': o[n++] = '"'; break;
        case 'x': {
            int h = i + 2 < body.len ? hexval(s[i + 2]) : -1;
            int l = i + 3 < body.len ? hexval(s[i + 3]) : -1;
            if (h < 0 || l < 0)
                return fail(p, MANDATE_EPARSE, line, c,
                            "invalid escape '\\x': expected two hex digits, as in \\x41");
            if (h > 7)
                return fail(p, MANDATE_EPARSE, line, c,
                            "escape '\\x%c%c' is out of range: \\x escapes go up to \\x7F; use "
                            "\\u{...} for other characters",
                            s[i + 2], s[i + 3]);
            o[n++] = (char)(h * 16 + l);
            i += 4;
            continue;
        }
        case 'u': {
            size_t j = i + 2;
            if (j >= body.len || s[j] != '{')
                return fail(p, MANDATE_EPARSE, line, c,
                            "invalid escape '\\u': write Unicode escapes as \\u{1F600}");
            j++;
            if (j < body.len && s[j] == '_')
                return fail(p, MANDATE_EPARSE, line, c,
                            "invalid Unicode escape: it may not start with '_'");
            uint32_t cp = 0;
            int digits = 0;
            for (;;) {
                if (j >= body.len)
                    return fail(p, MANDATE_EPARSE, line, c, "unterminated Unicode escape");
                if (s[j] == '}')
                    break;
                if (s[j] == '_') {
                    j++;
                    continue;
                }
                int v = hexval(s[j]);
                if (v < 0)
                    return fail(p, MANDATE_EPARSE, line, c,
                                "invalid character in a Unicode escape; expected hex digits");
                if (++digits > 6)
                    return fail(p, MANDATE_EPARSE, line, c,
                                "Unicode escape has more than 6 hex digits");
                cp = cp * 16 + (uint32_t)v;
                j++;
            }
            if (digits == 0)
                return fail(p, MANDATE_EPARSE, line, c, "empty Unicode escape \\u{}");
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return fail(p, MANDATE_EPARSE, line, c,
                            "Unicode escape \\u{%X} is not a Unicode scalar value", (unsigned)cp);
            n += md_utf8_encode(cp, o + n);
            i = j + 1;
            continue;
        }
        default:
            return fail(p, MANDATE_EPARSE, line, c,
                        "invalid escape sequence in a string; valid escapes are \\n \\r \\t "
                        "\\\\ \\0 \\' \\\" \\xHH and \\u{...}");
        }
        i += 2;
    }
    o[n] = '\0';
    *out = (md_str){o, n};
    return 0;
}

/* Skips white space and `//` comments. */
static void skip_ws(parser *p)
{
    const unsigned char *s = (const unsigned char *)p->src;
    while (p->pos < p->len) {
        size_t w = ws_len(s + p->pos, p->len - p->pos);
        if (w) {
            advance(p, w);
            continue;
        }
        if (s[p->pos] == '/' && p->pos + 1 < p->len && s[p->pos + 1] == '/') {
            size_t e = p->pos;
            while (e < p->len && s[e] != '\n' && s[e] != '\r')
                e++;
            /* a comment holds no newline: only columns move */
            p->col += (uint32_t)(e - p->pos);
            p->pos = e;
            continue;
        }
        break;
    }
}

static void lex(parser *p, tok *t)
{
    memset(t, 0, sizeof *t);
    if (p->err) {
        t->kind = T_ERR;
        return;
    }
    skip_ws(p);
    t->line = p->line;
    t->col = p->col;
    const char *s = p->src + p->pos;
    size_t rem = p->len - p->pos;
    if (rem == 0) {
        t->kind = T_EOF;
        t->text = (md_str){s, 0};
        return;
    }
    size_t n = 1;
    switch (s[0]) {
    case ',': t->kind = T_COMMA; break;
    case ';': t->kind = T_SEMI; break;
    case ':':
        if (rem > 1 && s[1] == ':') {
            t->kind = T_DCOLON;
            n = 2;
        } else {
            t->kind = T_COLON;
        }
        break;
    case '{': t->kind = T_LBRACE; break;
    case '}': t->kind = T_RBRACE; break;
    case '[': t->kind = T_LBRACK; break;
    case ']': t->kind = T_RBRACK; break;
    case '<': t->kind = T_LT; break;
    case '>': t->kind = T_GT; break;
    case '=': t->kind = T_EQ; break;
    case '?': t->kind = T_QUEST; break;
    case '@': t->kind = T_AT; break;
    case '(': t->kind = T_LPAREN; break;
    case ')': t->kind = T_RPAREN; break;
    case '"': {
        size_t i = 1;
        for (;;) {
            if (i >= rem) {
                fail(p, MANDATE_EPARSE, t->line, t->col,
                     "unterminated string literal; add the closing '\"'");
                t->kind = T_ERR;
                return;
            }
            if (s[i] == '"')
                break;
            if (s[i] == '\\') {
                if (i + 1 >= rem || s[i + 1] == '\n') {
                    fail(p, MANDATE_EPARSE, t->line, t->col,
                         "unterminated string literal (a backslash may not end a line)");
                    t->kind = T_ERR;
                    return;
                }
                /* the escaped character may be multi-byte: skip it whole */
                size_t cl = md_utf8_decode(s + i + 1, rem - i - 1, NULL);
                i += 1 + (cl ? cl : 1);
                continue;
            }
            i++;
        }
        n = i + 1;
        t->kind = T_STR;
        t->text = (md_str){s, n};
        if (unescape(p, (md_str){s + 1, n - 2}, t->line, t->col, &t->sval)) {
            t->kind = T_ERR;
            return;
        }
        advance(p, n);
        return;
    }
    default:
        if (is_id_start(s[0])) {
            while (n < rem && is_id_char(s[n]))
                n++;
            t->kind = T_IDENT;
        } else if (s[0] >= '0' && s[0] <= '9') {
            while (n < rem && s[n] >= '0' && s[n] <= '9')
                n++;
            t->kind = T_NUMBER;
        } else {
            unsigned char c = (unsigned char)s[0];
            if (c >= 0x20 && c < 0x7F)
                fail(p, MANDATE_EPARSE, t->line, t->col, "unexpected character '%c'", c);
            else
                fail(p, MANDATE_EPARSE, t->line, t->col, "unexpected byte 0x%02X", c);
            t->kind = T_ERR;
            return;
        }
    }
    t->text = (md_str){s, n};
    advance(p, n);
}

static const tok *peek_at(parser *p, int k)
{
    while (p->nla <= k)
        lex(p, &p->la[p->nla++]);
    return &p->la[k];
}

static const tok *peek(parser *p)
{
    return peek_at(p, 0);
}

static tok next(parser *p)
{
    tok t = *peek(p);
    p->la[0] = p->la[1];
    p->nla--;
    return t;
}

static bool is_kw(const tok *t, const char *kw)
{
    return t->kind == T_IDENT && md_str_eq_c(t->text, kw);
}

/* Describes a token for an error message. */
static const char *tok_desc(parser *p, const tok *t)
{
    switch (t->kind) {
    case T_EOF: return "end of input";
    case T_STR: return "a string literal";
    case T_NUMBER: return "a number";
    default: break;
    }
    size_t n = t->text.len > 40 ? 40 : t->text.len;
    const char *s =
        md_arena_printf(p->a, "'%.*s%s'", (int)n, t->text.ptr, t->text.len > 40 ? "..." : "");
    return s ? s : "a token";
}

/* Reports that t was found where `what` was expected. */
static int unexpected(parser *p, const tok *t, const char *what)
{
    if (t->kind == T_ERR)
        return p->err;
    return fail(p, MANDATE_EPARSE, t->line, t->col, "expected %s, found %s", what, tok_desc(p, t));
}

static int expect(parser *p, int kind, const char *what, tok *out)
{
    const tok *t = peek(p);
    if (t->kind != kind)
        return unexpected(p, t, what);
    tok x = next(p);
    if (out)
        *out = x;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* grammar */

static bool is_reserved_ident(md_str s)
{
    static const char *const words[] = {"true", "false", "if",   "then", "else",
                                        "in",   "is",    "like", "has"};
    for (size_t i = 0; i < MD_ARRAY_LEN(words); i++)
        if (md_str_eq_c(s, words[i]))
            return true;
    return false;
}

/* Ident: an identifier that is not one of Cedar's reserved words. */
static int parse_ident(parser *p, const char *what, name_ast *out)
{
    const tok *t = peek(p);
    if (t->kind != T_IDENT)
        return unexpected(p, t, what);
    if (is_reserved_ident(t->text))
        return fail(p, MANDATE_EPARSE, t->line, t->col,
                    "'%.*s' is a reserved identifier and cannot be used as %s; quote it or "
                    "choose another name",
                    (int)t->text.len, t->text.ptr, what);
    tok x = next(p);
    *out = (name_ast){x.text, x.line, x.col};
    return 0;
}

/* Name := Ident | STR */
static int parse_name(parser *p, const char *what, name_ast *out)
{
    const tok *t = peek(p);
    if (t->kind == T_STR) {
        tok x = next(p);
        *out = (name_ast){x.sval, x.line, x.col};
        return 0;
    }
    return parse_ident(p, what, out);
}

/* Path := Ident {'::' Ident}. Stops before a `::` that is not followed by an identifier. */
static int parse_path(parser *p, const char *what, path_ast *out)
{
    name_ast first;
    int rc = parse_ident(p, what, &first);
    if (rc)
        return rc;
    out->n = 1;
    out->line = first.line;
    out->col = first.col;
    size_t start = (size_t)(first.s.ptr - p->src), end = start + first.s.len;
    while (peek(p)->kind == T_DCOLON && peek_at(p, 1)->kind == T_IDENT) {
        next(p);
        name_ast id;
        if ((rc = parse_ident(p, what, &id)))
            return rc;
        end = (size_t)(id.s.ptr - p->src) + id.s.len;
        out->n++;
    }
    if (out->n == 1) {
        out->full = first.s;
        return 0;
    }
    /* rebuild the full name without the white space or comments the source may hold */
    char *buf = md_arena_alloc(p->a, end - start + 1);
    if (!buf)
        return oom(p);
    size_t n = 0;
    for (size_t i = start; i < end;) {
        if (is_id_char(p->src[i])) {
            buf[n++] = p->src[i++];
        } else if (p->src[i] == ':' && i + 1 < end && p->src[i + 1] == ':') {
            buf[n++] = ':';
            buf[n++] = ':';
            i += 2;
        } else if (p->src[i] == '/' && i + 1 < end && p->src[i + 1] == '/') {
            while (i < end && p->src[i] != '\n' && p->src[i] != '\r')
                i++;
        } else {
            i++;
        }
    }
    buf[n] = '\0';
    out->full = (md_str){buf, n};
    return 0;
}

typedef struct annot {
    md_str key;
    uint32_t line, col;
    size_t idx;
} annot;

static int annot_cmp(const void *x, const void *y)
{
    const annot *a = x, *b = y;
    int c = md_str_cmp(a->key, b->key);
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Annotations := {'@' AnyIdent ['(' STR ')']}. Accepted and ignored; duplicate keys are an
 * error, as in Cedar. */
static int parse_annotations(parser *p)
{
    annot *keys = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while (peek(p)->kind == T_AT) {
        next(p);
        tok key = {0};
        if ((rc = expect(p, T_IDENT, "an annotation name after '@'", &key)))
            return rc;
        if (peek(p)->kind == T_LPAREN) {
            next(p);
            if ((rc = expect(p, T_STR, "a string literal as the annotation's value", NULL)) ||
                (rc = expect(p, T_RPAREN, "')' to close the annotation", NULL)))
                return rc;
        }
        annot an = {key.text, key.line, key.col, n};
        if (PUSH(p->a, keys, n, cap, an))
            return oom(p);
    }
    if (n < 2)
        return 0;
    qsort(keys, n, sizeof *keys, annot_cmp);
    const annot *dup = NULL;
    for (size_t i = 1; i < n; i++)
        if (md_str_eq(keys[i].key, keys[i - 1].key) && (!dup || keys[i].idx < dup->idx))
            dup = &keys[i];
    if (dup)
        return fail(p, MANDATE_EPARSE, dup->line, dup->col,
                    "duplicate annotation '@%.*s'; remove one of them", (int)dup->key.len,
                    dup->key.ptr);
    return 0;
}

static int parse_type(parser *p, const type_ast **out);

static int enter(parser *p, const tok *t)
{
    if (++p->depth > MD_CEDAR_MAX_DEPTH)
        return fail(p, MANDATE_ETOOBIG, t->line, t->col,
                    "types nest too deeply (more than %d levels)", MD_CEDAR_MAX_DEPTH);
    return 0;
}

/* After '{': AttrDecls? '}' */
static int parse_record_body(parser *p, type_ast *rt)
{
    attr_ast *attrs = NULL;
    size_t n = 0, cap = 0;
    int rc;
    for (;;) {
        if (peek(p)->kind == T_RBRACE)
            break;
        if ((rc = parse_annotations(p)))
            return rc;
        attr_ast at = {0};
        if ((rc = parse_name(p, "an attribute name", &at.name)))
            return rc;
        at.required = true;
        if (peek(p)->kind == T_QUEST) {
            next(p);
            at.required = false;
        }
        if ((rc = expect(p, T_COLON, "':' after the attribute name", NULL)) ||
            (rc = parse_type(p, &at.ty)))
            return rc;
        if (PUSH(p->a, attrs, n, cap, at))
            return oom(p);
        const tok *t = peek(p);
        if (t->kind == T_COMMA) {
            next(p);
            continue;
        }
        if (t->kind != T_RBRACE)
            return unexpected(p, t, "',' or '}' after the attribute's type");
    }
    next(p);
    rt->kind = TY_RECORD;
    rt->n = n;
    rt->attrs = attrs;
    return 0;
}

/* Type := Path | 'Set' '<' Type '>' | '{' AttrDecls? '}' */
static int parse_type(parser *p, const type_ast **out)
{
    const tok *t = peek(p);
    int rc = enter(p, t);
    if (rc)
        return rc;
    type_ast *ty = md_arena_alloc(p->a, sizeof *ty);
    if (!ty)
        return oom(p);
    ty->line = t->line;
    ty->col = t->col;
    if (t->kind == T_LBRACE) {
        next(p);
        rc = parse_record_body(p, ty);
    } else if (is_kw(t, "Set") && peek_at(p, 1)->kind == T_LT) {
        next(p);
        next(p);
        ty->kind = TY_SET;
        if (!(rc = parse_type(p, &ty->elem)))
            rc = expect(p, T_GT, "'>' to close 'Set<'", NULL);
    } else if (t->kind == T_IDENT) {
        ty->kind = TY_PATH;
        rc = parse_path(p, "a type name", &ty->path);
    } else {
        rc = unexpected(p, t, "a type (a type name, 'Set<...>' or a record '{...}')");
    }
    p->depth--;
    *out = ty;
    return rc;
}

/* EntTypes := Path | '[' [Path {',' Path}] ']' */
static int parse_ent_types(parser *p, size_t *n_out, const path_ast **out)
{
    path_ast *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (peek(p)->kind != T_LBRACK) {
        path_ast one;
        if ((rc = parse_path(p, "an entity type name", &one)))
            return rc;
        if (PUSH(p->a, v, n, cap, one))
            return oom(p);
    } else {
        next(p);
        if (peek(p)->kind != T_RBRACK) {
            for (;;) {
                path_ast one;
                if ((rc = parse_path(p, "an entity type name", &one)))
                    return rc;
                if (PUSH(p->a, v, n, cap, one))
                    return oom(p);
                if (peek(p)->kind != T_COMMA)
                    break;
                next(p);
            }
        }
        if ((rc = expect(p, T_RBRACK, "',' or ']' in the list of entity types", NULL)))
            return rc;
    }
    *n_out = n;
    *out = v;
    return 0;
}

/* QualName := Name | Path '::' STR */
static int parse_qual_name(parser *p, qual_ast *out)
{
    const tok *t = peek(p);
    memset(out, 0, sizeof *out);
    out->line = t->line;
    out->col = t->col;
    if (t->kind == T_STR) {
        out->id = next(p).sval;
        return 0;
    }
    path_ast path;
    int rc = parse_path(p, "an action name", &path);
    if (rc)
        return rc;
    if (peek(p)->kind == T_DCOLON && peek_at(p, 1)->kind == T_STR) {
        next(p);
        out->has_path = true;
        out->path = path;
        out->id = next(p).sval;
        return 0;
    }
    if (path.n > 1)
        return unexpected(p, peek(p),
                          "'::' and the action's id as a string, as in Action::\"view\"");
    out->id = path.full;
    return 0;
}

static int parse_names(parser *p, bool quoted_ok, const char *what, decl_ast *d)
{
    name_ast *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    for (;;) {
        name_ast nm;
        rc = quoted_ok ? parse_name(p, what, &nm) : parse_ident(p, what, &nm);
        if (rc)
            return rc;
        if (PUSH(p->a, v, n, cap, nm))
            return oom(p);
        if (peek(p)->kind != T_COMMA)
            break;
        next(p);
    }
    d->n_names = n;
    d->names = v;
    return 0;
}

static int parse_entity(parser *p, decl_ast *d)
{
    int rc = parse_names(p, false, "an entity type name", d);
    if (rc)
        return rc;
    const tok *t = peek(p);
    if (is_kw(t, "enum")) {
        next(p);
        if ((rc = expect(p, T_LBRACK, "'[' to open the list of enumerated ids", NULL)))
            return rc;
        md_str *ids = NULL;
        size_t n = 0, cap = 0;
        for (;;) {
            tok s;
            if ((rc = expect(p, T_STR, "an entity id as a string literal", &s)))
                return rc;
            if (PUSH(p->a, ids, n, cap, s.sval))
                return oom(p);
            if (peek(p)->kind != T_COMMA)
                break;
            next(p);
        }
        if ((rc = expect(p, T_RBRACK, "',' or ']' in the list of enumerated ids", NULL)))
            return rc;
        d->is_enum = true;
        d->n_enum = n;
        d->enum_ids = ids;
        return expect(p, T_SEMI, "';' after the entity declaration", NULL);
    }
    if (is_kw(t, "in")) {
        next(p);
        if ((rc = parse_ent_types(p, &d->n_parents, &d->parents)))
            return rc;
    }
    t = peek(p);
    bool eq = false;
    if (t->kind == T_EQ) {
        next(p);
        eq = true;
    }
    t = peek(p);
    if (t->kind == T_LBRACE) {
        if ((rc = enter(p, t)))
            return rc;
        type_ast *shape = md_arena_alloc(p->a, sizeof *shape);
        if (!shape)
            return oom(p);
        shape->line = t->line;
        shape->col = t->col;
        next(p);
        if ((rc = parse_record_body(p, shape)))
            return rc;
        p->depth--;
        d->shape = shape;
    } else if (eq) {
        return unexpected(p, t, "'{' after '=' in the entity declaration");
    }
    if (is_kw(peek(p), "tags")) {
        next(p);
        if ((rc = parse_type(p, &d->tags)))
            return rc;
    }
    return expect(p, T_SEMI,
                  d->shape || d->tags ? "';' after the entity declaration"
                                      : "'in', '=', '{', 'tags', 'enum' or ';' in the entity "
                                        "declaration",
                  NULL);
}

static int parse_app_decls(parser *p, decl_ast *d)
{
    int rc;
    const name_ast *an = &d->names[0];
    for (;;) {
        const tok *t = peek(p);
        tok kw = *t;
        if (is_kw(t, "principal") || is_kw(t, "resource")) {
            bool pr = is_kw(t, "principal");
            next(p);
            if ((rc = expect(p, T_COLON, "':'", NULL)))
                return rc;
            if (pr ? d->has_principal : d->has_resource)
                return fail(p, MANDATE_EPARSE, kw.line, kw.col,
                            "duplicate '%s' declaration in action '%.*s'; list several entity "
                            "types in one declaration, as in %s: [A, B]",
                            pr ? "principal" : "resource", (int)an->s.len, an->s.ptr,
                            pr ? "principal" : "resource");
            size_t n;
            const path_ast *v;
            if ((rc = parse_ent_types(p, &n, &v)))
                return rc;
            if (n == 0)
                return fail(p, MANDATE_EPARSE, kw.line, kw.col,
                            "for action '%.*s', '%s' is '[]', which is invalid; list at least "
                            "one entity type or drop the appliesTo clause",
                            (int)an->s.len, an->s.ptr, pr ? "principal" : "resource");
            if (pr) {
                d->has_principal = true;
                d->n_principals = n;
                d->principals = v;
            } else {
                d->has_resource = true;
                d->n_resources = n;
                d->resources = v;
            }
        } else if (is_kw(t, "context")) {
            next(p);
            if ((rc = expect(p, T_COLON, "':'", NULL)))
                return rc;
            if (d->context)
                return fail(p, MANDATE_EPARSE, kw.line, kw.col,
                            "duplicate context declaration in action '%.*s'", (int)an->s.len,
                            an->s.ptr);
            const tok *c = peek(p);
            if (c->kind == T_LBRACE || c->kind == T_IDENT) {
                /* a record or the name of a common type (Set<...> is no record: rejected) */
                if (is_kw(c, "Set") && peek_at(p, 1)->kind == T_LT)
                    return fail(p, MANDATE_EPARSE, c->line, c->col,
                                "the context of action '%.*s' must be a record type",
                                (int)an->s.len, an->s.ptr);
                if ((rc = parse_type(p, &d->context)))
                    return rc;
            } else {
                return unexpected(p, c, "a record type or a common type name for the context");
            }
        } else {
            return unexpected(p, t, "'principal', 'resource' or 'context'");
        }
        t = peek(p);
        if (t->kind == T_COMMA) {
            next(p);
            if (peek(p)->kind == T_RBRACE)
                break;
            continue;
        }
        if (t->kind == T_RBRACE)
            break;
        return unexpected(p, t, "',' or '}' in the appliesTo clause");
    }
    next(p);
    if (!d->has_resource)
        return fail(p, MANDATE_EPARSE, an->line, an->col,
                    "missing 'resource' declaration for action '%.*s'; add resource: [...] to "
                    "its appliesTo clause",
                    (int)an->s.len, an->s.ptr);
    if (!d->has_principal)
        return fail(p, MANDATE_EPARSE, an->line, an->col,
                    "missing 'principal' declaration for action '%.*s'; add principal: [...] to "
                    "its appliesTo clause",
                    (int)an->s.len, an->s.ptr);
    return 0;
}

static int parse_action(parser *p, decl_ast *d)
{
    int rc = parse_names(p, true, "an action name", d);
    if (rc)
        return rc;
    if (is_kw(peek(p), "in")) {
        next(p);
        qual_ast *v = NULL;
        size_t n = 0, cap = 0;
        if (peek(p)->kind == T_LBRACK) {
            next(p);
            for (;;) {
                qual_ast q;
                if ((rc = parse_qual_name(p, &q)))
                    return rc;
                if (PUSH(p->a, v, n, cap, q))
                    return oom(p);
                if (peek(p)->kind != T_COMMA)
                    break;
                next(p);
            }
            if ((rc = expect(p, T_RBRACK, "',' or ']' in the list of action groups", NULL)))
                return rc;
        } else {
            qual_ast q;
            if ((rc = parse_qual_name(p, &q)))
                return rc;
            if (PUSH(p->a, v, n, cap, q))
                return oom(p);
        }
        d->n_aparents = n;
        d->aparents = v;
    }
    if (is_kw(peek(p), "appliesTo")) {
        next(p);
        d->has_applies = true;
        if ((rc = expect(p, T_LBRACE, "'{' after 'appliesTo'", NULL)) ||
            (rc = parse_app_decls(p, d)))
            return rc;
    }
    if (is_kw(peek(p), "attributes")) {
        /* accepted for compatibility; actions have no attributes */
        next(p);
        if ((rc = expect(p, T_LBRACE, "'{' after 'attributes'", NULL)) ||
            (rc = expect(p, T_RBRACE, "'}': actions cannot declare attributes", NULL)))
            return rc;
    }
    return expect(p, T_SEMI,
                  d->has_applies ? "';' after the action declaration"
                                 : "'in', 'appliesTo' or ';' in the action declaration",
                  NULL);
}

static int parse_typedecl(parser *p, decl_ast *d)
{
    int rc = parse_names(p, false, "a common type name", d);
    if (rc)
        return rc;
    if (d->n_names != 1)
        return fail(p, MANDATE_EPARSE, d->names[1].line, d->names[1].col,
                    "a type declaration names a single type");
    if ((rc = expect(p, T_EQ, "'=' after the common type's name", NULL)) ||
        (rc = parse_type(p, &d->def)))
        return rc;
    return expect(p, T_SEMI, "';' after the type declaration", NULL);
}

static int parse_decl(parser *p, ns_ast *ns)
{
    int rc = parse_annotations(p);
    if (rc)
        return rc;
    const tok *t = peek(p);
    decl_ast d = {0};
    d.line = t->line;
    d.col = t->col;
    if (is_kw(t, "entity")) {
        next(p);
        d.kind = D_ENTITY;
        rc = parse_entity(p, &d);
    } else if (is_kw(t, "action")) {
        next(p);
        d.kind = D_ACTION;
        rc = parse_action(p, &d);
    } else if (is_kw(t, "type")) {
        next(p);
        d.kind = D_TYPE;
        rc = parse_typedecl(p, &d);
    } else if (is_kw(t, "namespace") && ns->named) {
        return fail(p, MANDATE_EPARSE, t->line, t->col,
                    "namespaces cannot be nested; close namespace '%.*s' first",
                    (int)ns->name.full.len, ns->name.full.ptr);
    } else {
        return unexpected(p, t,
                          ns->named ? "'entity', 'action', 'type' or '}'"
                                    : "'entity', 'action', 'type' or 'namespace'");
    }
    if (rc)
        return rc;
    if (PUSH(p->a, ns->decls, ns->n, ns->cap, d))
        return oom(p);
    return 0;
}

static int parse_schema(parser *p)
{
    int rc;
    while (peek(p)->kind != T_EOF) {
        if (peek(p)->kind == T_ERR)
            return p->err;
        if ((rc = parse_annotations(p)))
            return rc;
        const tok *t = peek(p);
        if (!is_kw(t, "namespace")) {
            if ((rc = parse_decl(p, &p->root)))
                return rc;
            continue;
        }
        next(p);
        ns_ast ns = {0};
        ns.named = true;
        if ((rc = parse_path(p, "a namespace name", &ns.name)) ||
            (rc = expect(p, T_LBRACE, "'{' after the namespace name", NULL)))
            return rc;
        while (peek(p)->kind != T_RBRACE) {
            if (peek(p)->kind == T_EOF)
                return fail(p, MANDATE_EPARSE, peek(p)->line, peek(p)->col,
                            "namespace '%.*s' is not closed; add '}'", (int)ns.name.full.len,
                            ns.name.full.ptr);
            if ((rc = parse_decl(p, &ns)))
                return rc;
        }
        next(p);
        if (PUSH(p->a, p->nss, p->n_ns, p->cap_ns, ns))
            return oom(p);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* name tables */

typedef struct map_ent {
    md_str key;
    void *val;
} map_ent;

typedef struct strmap {
    map_ent *slots;
    size_t cap; /* power of two */
    size_t n;
} strmap;

static int map_init(md_arena *a, strmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2 + 1)
        cap *= 2;
    m->slots = md_arena_array(a, cap, sizeof *m->slots);
    m->cap = cap;
    m->n = 0;
    return m->slots ? 0 : MANDATE_ENOMEM;
}

static void *map_get(const strmap *m, md_str key)
{
    if (!m->cap)
        return NULL;
    size_t i = (size_t)md_hash_bytes(key.ptr, key.len, 0) & (m->cap - 1);
    while (m->slots[i].val) {
        if (md_str_eq(m->slots[i].key, key))
            return m->slots[i].val;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

/* Inserts key -> val unless the key is present; returns the existing value or NULL. The map is
 * sized at init for all the keys it will hold. */
static void *map_put(strmap *m, md_str key, void *val)
{
    size_t i = (size_t)md_hash_bytes(key.ptr, key.len, 0) & (m->cap - 1);
    while (m->slots[i].val) {
        if (md_str_eq(m->slots[i].key, key))
            return m->slots[i].val;
        i = (i + 1) & (m->cap - 1);
    }
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->n++;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* definitions and resolution */

enum { CT_TODO, CT_BUSY, CT_DONE };

/* The size of a resolved type once common types are expanded. */
typedef struct tsize {
    size_t nodes;
    unsigned height;
} tsize;

typedef struct ctype {
    md_str full;
    const ns_ast *ns;
    const decl_ast *decl;
    int state;
    const md_type *resolved;
    tsize size; /* of the expanded type */
} ctype;

typedef struct etype {
    md_str full;
    const ns_ast *ns;
    const decl_ast *decl;
    const name_ast *name;
} etype;

typedef struct adef {
    md_euid uid;
    md_str key; /* type "\0" id */
    const ns_ast *ns;
    const decl_ast *decl;
    const name_ast *name;
    size_t idx; /* index in the action array */
} adef;

typedef struct ctx {
    parser *p;
    strmap common; /* full name -> ctype */
    strmap entity; /* full name -> etype */
    strmap atype;  /* action entity type names ("NS::Action") -> non-NULL */
    strmap action; /* key -> adef */
    ctype *cts;
    size_t n_ct, cap_ct;
    etype *ets;
    size_t n_et, cap_et;
    adef *acts;
    size_t n_act, cap_act;
    /* what is being resolved, for error messages */
    const char *owner; /* "entity type 'NS::User'" */
    md_str attr;       /* innermost attribute, or empty */
    unsigned depth;
} ctx;

static const md_type T_BOOL = {.kind = MD_T_BOOL};
static const md_type T_LONG = {.kind = MD_T_LONG};
static const md_type T_STRING = {.kind = MD_T_STRING};
static const md_type T_DECIMAL = {.kind = MD_T_DECIMAL};
static const md_type T_IP = {.kind = MD_T_IP};
static const md_type T_DATETIME = {.kind = MD_T_DATETIME};
static const md_type T_DURATION = {.kind = MD_T_DURATION};
static const md_type T_EMPTY_RECORD = {.kind = MD_T_RECORD};

static const struct builtin {
    const char *name;
    const md_type *type;
} builtins[] = {
    {"Bool", &T_BOOL},         {"Long", &T_LONG}, {"String", &T_STRING},
    {"decimal", &T_DECIMAL},   {"ipaddr", &T_IP}, {"datetime", &T_DATETIME},
    {"duration", &T_DURATION},
};

static const md_type *builtin_named(md_str s)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(builtins); i++)
        if (md_str_eq_c(s, builtins[i].name))
            return builtins[i].type;
    return NULL;
}

static md_str join(md_arena *a, md_str ns, md_str base)
{
    if (!ns.len)
        return base;
    char *s = md_arena_printf(a, "%.*s::%.*s", (int)ns.len, ns.ptr, (int)base.len, base.ptr);
    return s ? (md_str){s, strlen(s)} : (md_str){NULL, 0};
}

static md_str ns_name(const ns_ast *ns)
{
    return ns->named ? ns->name.full : (md_str){"", 0};
}

static bool has_cedar_component(md_str full)
{
    const char *s = full.ptr, *e = full.ptr + full.len;
    while (s < e) {
        const char *c = s;
        while (c < e && *c != ':')
            c++;
        if ((size_t)(c - s) == 7 && memcmp(s, "__cedar", 7) == 0)
            return true;
        s = c + (c < e ? 2 : 0);
    }
    return false;
}

/* The basename (last component) of a full name. */
static md_str basename(md_str full)
{
    size_t i = full.len;
    while (i > 0 && full.ptr[i - 1] != ':')
        i--;
    return (md_str){full.ptr + i, full.len - i};
}

/* Result of resolving a type name. */
enum { R_NONE, R_COMMON, R_BUILTIN, R_ENTITY };

typedef struct resolved {
    int kind;
    ctype *ct;
    const md_type *builtin;
    md_str name; /* R_ENTITY: the full entity type name */
} resolved;

/* Candidate full names of a written name: in namespace NS, an unqualified T is NS::T then T;
 * anything else is taken as written. Returns the count (1 or 2). */
static int candidates(ctx *c, const ns_ast *ns, md_str written, bool unqualified, md_str out[2])
{
    if (unqualified && ns->named) {
        out[0] = join(c->p->a, ns->name.full, written);
        out[1] = written;
        return out[0].ptr ? 2 : -1;
    }
    out[0] = written;
    return 1;
}

/* Whether cand names a built-in type: `__cedar::X`, or an unqualified X that the user has not
 * declared in the empty namespace. */
static const md_type *builtin_for(ctx *c, md_str cand)
{
    static const char pfx[] = "__cedar::";
    if (cand.len > sizeof pfx - 1 && memcmp(cand.ptr, pfx, sizeof pfx - 1) == 0)
        return builtin_named((md_str){cand.ptr + sizeof pfx - 1, cand.len - (sizeof pfx - 1)});
    const md_type *t = builtin_named(cand);
    if (t && !map_get(&c->common, cand) && !map_get(&c->entity, cand))
        return t;
    return NULL;
}

/* Resolves a name used as a type (common or entity) or, with entity_only, as an entity type. */
static int resolve_name(ctx *c, const ns_ast *ns, const path_ast *path, bool entity_only,
                        bool common_only, resolved *out, md_str cands[2], int *ncand)
{
    out->kind = R_NONE;
    int n = candidates(c, ns, path->full, path->n == 1, cands);
    if (n < 0)
        return oom(c->p);
    *ncand = n;
    for (int i = 0; i < n; i++) {
        if (!entity_only) {
            ctype *ct = map_get(&c->common, cands[i]);
            if (ct) {
                out->kind = R_COMMON;
                out->ct = ct;
                return 0;
            }
            const md_type *b = builtin_for(c, cands[i]);
            if (b) {
                out->kind = R_BUILTIN;
                out->builtin = b;
                return 0;
            }
        }
        if (!common_only) {
            etype *et = map_get(&c->entity, cands[i]);
            if (et || map_get(&c->atype, cands[i])) {
                out->kind = R_ENTITY;
                out->name = et ? et->full : cands[i];
                return 0;
            }
        }
    }
    return 0;
}

static int where_fail(ctx *c, const path_ast *path, const char *what, md_str cands[2], int n,
                      const char *kind)
{
    char where[300];
    if (c->attr.ptr)
        snprintf(where, sizeof where, "attribute '%.*s' of %s", (int)c->attr.len, c->attr.ptr,
                 c->owner);
    else
        snprintf(where, sizeof where, "%s", c->owner);
    if (n == 2)
        return fail(c->p, MANDATE_EPARSE, path->line, path->col,
                    "unknown %s '%.*s' in %s: neither '%.*s' nor '%.*s' is declared as %s", what,
                    (int)path->full.len, path->full.ptr, where, (int)cands[0].len, cands[0].ptr,
                    (int)cands[1].len, cands[1].ptr, kind);
    return fail(c->p, MANDATE_EPARSE, path->line, path->col,
                "unknown %s '%.*s' in %s; declare it as %s or use a built-in type (Bool, Long, "
                "String, decimal, ipaddr, datetime, duration)",
                what, (int)path->full.len, path->full.ptr, where, kind);
}

static int resolve_type(ctx *c, const ns_ast *ns, const type_ast *ty, const md_type **out,
                        tsize *size);

static int resolve_common(ctx *c, ctype *ct, const path_ast *at)
{
    if (ct->state == CT_DONE)
        return 0;
    if (ct->state == CT_BUSY)
        return fail(c->p, MANDATE_EPARSE, at->line, at->col,
                    "cycle in common type references containing '%.*s'; a common type cannot "
                    "refer to itself",
                    (int)ct->full.len, ct->full.ptr);
    ct->state = CT_BUSY;
    const char *owner = c->owner;
    md_str attr = c->attr;
    c->owner = md_arena_printf(c->p->a, "common type '%.*s'", (int)ct->full.len, ct->full.ptr);
    c->attr = (md_str){NULL, 0};
    if (!c->owner)
        return oom(c->p);
    int rc = resolve_type(c, ct->ns, ct->decl->def, &ct->resolved, &ct->size);
    c->owner = owner;
    c->attr = attr;
    if (rc)
        return rc;
    ct->state = CT_DONE;
    return 0;
}

typedef struct attr_sort {
    md_attr_type at;
    size_t idx;
} attr_sort;

static int attr_sort_cmp(const void *x, const void *y)
{
    const attr_sort *a = x, *b = y;
    int c = md_str_cmp(a->at.name, b->at.name);
    if (c)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static int resolve_type(ctx *c, const ns_ast *ns, const type_ast *ty, const md_type **out,
                        tsize *size)
{
    int rc = 0;
    if (++c->depth > MD_CEDAR_MAX_DEPTH) {
        c->depth--;
        return fail(c->p, MANDATE_ETOOBIG, ty->line, ty->col,
                    "common types in %s refer to each other too deeply (more than %d levels)",
                    c->owner, MD_CEDAR_MAX_DEPTH);
    }
    switch (ty->kind) {
    case TY_PATH: {
        resolved r;
        md_str cands[2];
        int n = 0;
        if ((rc = resolve_name(c, ns, &ty->path, false, false, &r, cands, &n)))
            break;
        if (r.kind == R_COMMON) {
            if ((rc = resolve_common(c, r.ct, &ty->path)))
                break;
            *out = r.ct->resolved;
            *size = r.ct->size;
        } else if (r.kind == R_BUILTIN) {
            *out = r.builtin;
            *size = (tsize){1, 1};
        } else if (r.kind == R_ENTITY) {
            md_type *t = md_arena_alloc(c->p->a, sizeof *t);
            if (!t) {
                rc = oom(c->p);
                break;
            }
            t->kind = MD_T_ENTITY;
            t->u.name = r.name;
            *out = t;
            *size = (tsize){1, 1};
        } else {
            rc = where_fail(c, &ty->path, "type", cands, n, "a common or entity type");
        }
        break;
    }
    case TY_SET: {
        md_type *t = md_arena_alloc(c->p->a, sizeof *t);
        if (!t) {
            rc = oom(c->p);
            break;
        }
        tsize es = {0, 0};
        if ((rc = resolve_type(c, ns, ty->elem, &t->u.elem, &es)))
            break;
        t->kind = MD_T_SET;
        *out = t;
        *size = (tsize){sat_add(es.nodes, 1), es.height + 1};
        break;
    }
    case TY_RECORD: {
        md_type *t = md_arena_alloc(c->p->a, sizeof *t);
        attr_sort *v = ty->n ? md_arena_array(c->p->a, ty->n, sizeof *v) : NULL;
        if (!t || (ty->n && !v)) {
            rc = oom(c->p);
            break;
        }
        tsize total = {1, 1};
        md_str outer = c->attr;
        for (size_t i = 0; i < ty->n && !rc; i++) {
            const attr_ast *aa = &ty->attrs[i];
            tsize as = {0, 0};
            c->attr = aa->name.s;
            v[i].at.name = aa->name.s;
            v[i].at.required = aa->required;
            v[i].idx = i;
            rc = resolve_type(c, ns, aa->ty, &v[i].at.type, &as);
            total.nodes = sat_add(total.nodes, as.nodes);
            if (as.height + 1 > total.height)
                total.height = as.height + 1;
        }
        c->attr = outer;
        if (rc)
            break;
        /* sorted by name; for a repeated name the last declaration wins, as in Cedar */
        if (ty->n > 1)
            qsort(v, ty->n, sizeof *v, attr_sort_cmp);
        md_attr_type *attrs = ty->n ? md_arena_array(c->p->a, ty->n, sizeof *attrs) : NULL;
        if (ty->n && !attrs) {
            rc = oom(c->p);
            break;
        }
        size_t n = 0;
        for (size_t i = 0; i < ty->n; i++) {
            if (i + 1 < ty->n && md_str_eq(v[i].at.name, v[i + 1].at.name))
                continue;
            attrs[n++] = v[i].at;
        }
        t->kind = MD_T_RECORD;
        t->u.rec.n = n;
        t->u.rec.attrs = attrs;
        *out = t;
        *size = total;
        break;
    }
    }
    c->depth--;
    if (!rc && size->nodes > MD_SCHEMA_MAX_TYPE_NODES)
        rc = fail(c->p, MANDATE_ETOOBIG, ty->line, ty->col,
                  "type in %s expands to more than %u nodes once common types are inlined",
                  c->owner, MD_SCHEMA_MAX_TYPE_NODES);
    if (!rc && size->height > MD_CEDAR_MAX_DEPTH)
        rc = fail(c->p, MANDATE_ETOOBIG, ty->line, ty->col,
                  "type in %s nests too deeply once common types are inlined (more than %d "
                  "levels)",
                  c->owner, MD_CEDAR_MAX_DEPTH);
    return rc;
}

/* Resolves a list of entity type names (memberOf, principal, resource): each must name a
 * declared entity type. Duplicates are dropped. role is "parent", "principal" or "resource". */
static int resolve_entity_list(ctx *c, const ns_ast *ns, size_t n, const path_ast *paths,
                               const char *role, size_t *n_out, const md_str **out)
{
    md_str *v = n ? md_arena_array(c->p->a, n, sizeof *v) : NULL;
    strmap seen = {0}; /* long lists deduplicate through a table */
    if ((n && !v) || (n > 16 && map_init(c->p->a, &seen, n)))
        return oom(c->p);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        resolved r;
        md_str cands[2];
        int nc = 0;
        int rc = resolve_name(c, ns, &paths[i], true, false, &r, cands, &nc);
        if (rc)
            return rc;
        if (r.kind != R_ENTITY || !map_get(&c->entity, r.name)) {
            const path_ast *pa = &paths[i];
            if (r.kind == R_ENTITY) /* an action type */
                return fail(c->p, MANDATE_EPARSE, pa->line, pa->col,
                            "%s type '%.*s' of %s is the type of actions, not a declared entity "
                            "type",
                            role, (int)r.name.len, r.name.ptr, c->owner);
            if (nc == 2)
                return fail(c->p, MANDATE_EPARSE, pa->line, pa->col,
                            "unknown %s type '%.*s' in %s: neither '%.*s' nor '%.*s' is declared "
                            "as an entity type",
                            role, (int)pa->full.len, pa->full.ptr, c->owner, (int)cands[0].len,
                            cands[0].ptr, (int)cands[1].len, cands[1].ptr);
            return fail(c->p, MANDATE_EPARSE, pa->line, pa->col,
                        "unknown %s type '%.*s' in %s; declare it with 'entity %.*s;'", role,
                        (int)pa->full.len, pa->full.ptr, c->owner, (int)pa->full.len, pa->full.ptr);
        }
        bool dup = false;
        if (seen.cap)
            dup = map_put(&seen, r.name, &v[k]) != NULL;
        else
            for (size_t j = 0; j < k && !dup; j++)
                dup = md_str_eq(v[j], r.name);
        if (!dup)
            v[k++] = r.name;
    }
    *n_out = k;
    *out = v;
    return 0;
}

static md_str action_key(md_arena *a, md_str type, md_str id)
{
    char *k = md_arena_alloc(a, type.len + id.len + 2);
    if (!k)
        return (md_str){NULL, 0};
    memcpy(k, type.ptr, type.len);
    k[type.len] = '\0';
    if (id.len)
        memcpy(k + type.len + 1, id.ptr, id.len);
    return (md_str){k, type.len + 1 + id.len};
}

static md_str action_type_of(md_arena *a, const ns_ast *ns)
{
    return join(a, ns_name(ns), MD_STR_LIT("Action"));
}

/* Prints an action uid as Cedar writes it (for messages; the id is cut at 60 bytes). */
static const char *uid_desc(md_arena *a, md_str type, md_str id)
{
    size_t n = id.len > 60 ? 60 : id.len;
    const char *s = md_arena_printf(a, "%.*s::\"%.*s%s\"", (int)type.len, type.ptr, (int)n, id.ptr,
                                    id.len > 60 ? "..." : "");
    return s ? s : "an action";
}

/* ------------------------------------------------------------------------------------------ */
/* collecting declarations */

static int collect(ctx *c, const ns_ast *ns)
{
    parser *p = c->p;
    md_str nsn = ns_name(ns);
    if (ns->named && has_cedar_component(nsn))
        return fail(p, MANDATE_EPARSE, ns->name.line, ns->name.col,
                    "namespace '%.*s' uses the reserved '__cedar' namespace; choose another name",
                    (int)nsn.len, nsn.ptr);
    md_str atype = action_type_of(p->a, ns);
    if (!atype.ptr)
        return oom(p);
    for (size_t i = 0; i < ns->n; i++) {
        const decl_ast *d = &ns->decls[i];
        for (size_t j = 0; j < d->n_names; j++) {
            const name_ast *nm = &d->names[j];
            if (d->kind == D_ACTION) {
                adef ad = {.ns = ns, .decl = d, .name = nm};
                ad.uid.type = atype;
                ad.uid.id = nm->s;
                ad.key = action_key(p->a, atype, nm->s);
                if (!ad.key.ptr || PUSH(p->a, c->acts, c->n_act, c->cap_act, ad))
                    return oom(p);
                continue;
            }
            if (md_str_eq_c(nm->s, "__cedar"))
                return fail(p, MANDATE_EPARSE, nm->line, nm->col,
                            "'__cedar' is reserved and cannot name a %s",
                            d->kind == D_TYPE ? "common type" : "entity type");
            md_str full = join(p->a, nsn, nm->s);
            if (!full.ptr)
                return oom(p);
            if (d->kind == D_ENTITY) {
                if (md_str_eq_c(nm->s, "Action"))
                    return fail(p, MANDATE_EPARSE, nm->line, nm->col,
                                "entity type 'Action' cannot be declared: 'Action' is the type "
                                "of the actions; rename the entity type");
                etype et = {full, ns, d, nm};
                if (PUSH(p->a, c->ets, c->n_et, c->cap_et, et))
                    return oom(p);
            } else {
                static const char *const kw[] = {"Bool", "Boolean", "Entity", "Extension",
                                                 "Long", "Record",  "Set",    "String"};
                for (size_t k = 0; k < MD_ARRAY_LEN(kw); k++)
                    if (md_str_eq_c(nm->s, kw[k]))
                        return fail(p, MANDATE_EPARSE, nm->line, nm->col,
                                    "'%s' is a reserved schema keyword and cannot name a "
                                    "common type; choose another name",
                                    kw[k]);
                ctype ct = {.full = full, .ns = ns, .decl = d};
                if (PUSH(p->a, c->cts, c->n_ct, c->cap_ct, ct))
                    return oom(p);
            }
        }
    }
    return 0;
}

static int build_tables(ctx *c)
{
    parser *p = c->p;
    int rc;
    if ((rc = map_init(p->a, &c->common, c->n_ct)) || (rc = map_init(p->a, &c->entity, c->n_et)) ||
        (rc = map_init(p->a, &c->atype, p->n_ns + 1)) ||
        (rc = map_init(p->a, &c->action, c->n_act)))
        return oom(p);
    for (size_t i = 0; i < c->n_ct; i++) {
        ctype *old = map_put(&c->common, c->cts[i].full, &c->cts[i]);
        if (old)
            return fail(
                p, MANDATE_EPARSE, c->cts[i].decl->names[0].line, c->cts[i].decl->names[0].col,
                "common type '%.*s' is declared twice (first at %u:%u)", (int)c->cts[i].full.len,
                c->cts[i].full.ptr, old->decl->names[0].line, old->decl->names[0].col);
    }
    for (size_t i = 0; i < c->n_et; i++) {
        etype *old = map_put(&c->entity, c->ets[i].full, &c->ets[i]);
        if (old)
            return fail(p, MANDATE_EPARSE, c->ets[i].name->line, c->ets[i].name->col,
                        "entity type '%.*s' is declared twice (first at %u:%u)",
                        (int)c->ets[i].full.len, c->ets[i].full.ptr, old->name->line,
                        old->name->col);
    }
    for (size_t i = 0; i < c->n_act; i++) {
        adef *ad = &c->acts[i];
        adef *old = map_put(&c->action, ad->key, ad);
        if (old)
            return fail(p, MANDATE_EPARSE, ad->name->line, ad->name->col,
                        "action %s is declared twice (first at %u:%u)",
                        uid_desc(p->a, ad->uid.type, ad->uid.id), old->name->line, old->name->col);
        map_put(&c->atype, ad->uid.type, ad);
    }
    return 0;
}

/* RFC 70: a declaration in the empty namespace may not share its basename with a declaration
 * in a named namespace (entity and common types together; actions by id). */
static int shadowing_checks(ctx *c)
{
    parser *p = c->p;
    strmap qual;
    if (map_init(p->a, &qual, c->n_ct + c->n_et))
        return oom(p);
    for (size_t i = 0; i < c->n_ct; i++)
        if (c->cts[i].ns->named)
            map_put(&qual, basename(c->cts[i].full), &c->cts[i].full);
    for (size_t i = 0; i < c->n_et; i++)
        if (c->ets[i].ns->named)
            map_put(&qual, basename(c->ets[i].full), &c->ets[i].full);
    for (size_t i = 0; i < c->n_ct + c->n_et; i++) {
        bool is_ct = i < c->n_ct;
        const ns_ast *ns = is_ct ? c->cts[i].ns : c->ets[i - c->n_ct].ns;
        if (ns->named)
            continue;
        md_str full = is_ct ? c->cts[i].full : c->ets[i - c->n_ct].full;
        const name_ast *nm = is_ct ? &c->cts[i].decl->names[0] : c->ets[i - c->n_ct].name;
        const md_str *sh = map_get(&qual, full);
        if (sh)
            return fail(p, MANDATE_EPARSE, nm->line, nm->col,
                        "'%.*s' in the empty namespace is shadowed by the definition of '%.*s' "
                        "(Cedar forbids this); rename one of them or move '%.*s' into a namespace",
                        (int)full.len, full.ptr, (int)sh->len, sh->ptr, (int)full.len, full.ptr);
    }
    strmap qa;
    if (map_init(p->a, &qa, c->n_act))
        return oom(p);
    for (size_t i = 0; i < c->n_act; i++)
        if (c->acts[i].ns->named)
            map_put(&qa, c->acts[i].uid.id, &c->acts[i]);
    for (size_t i = 0; i < c->n_act; i++) {
        const adef *ad = &c->acts[i];
        if (ad->ns->named)
            continue;
        const adef *sh = map_get(&qa, ad->uid.id);
        if (sh)
            return fail(p, MANDATE_EPARSE, ad->name->line, ad->name->col,
                        "action %s is shadowed by the definition of %s (Cedar forbids this); "
                        "rename one of them",
                        uid_desc(p->a, ad->uid.type, ad->uid.id),
                        uid_desc(p->a, sh->uid.type, sh->uid.id));
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* building the schema */

static int etype_cmp(const void *x, const void *y)
{
    const md_entity_type *a = x, *b = y;
    return md_str_cmp(a->name, b->name);
}

static int action_cmp(const void *x, const void *y)
{
    const md_action *a = x, *b = y;
    return md_euid_cmp(&a->uid, &b->uid);
}

static int build_entity(ctx *c, const etype *et, md_entity_type *out)
{
    parser *p = c->p;
    const decl_ast *d = et->decl;
    out->name = et->full;
    out->shape = &T_EMPTY_RECORD;
    c->owner = md_arena_printf(p->a, "entity type '%.*s'", (int)et->full.len, et->full.ptr);
    c->attr = (md_str){NULL, 0};
    if (!c->owner)
        return oom(p);
    if (d->is_enum) {
        out->is_enum = true;
        out->n_enum = d->n_enum;
        out->enum_ids = d->enum_ids;
        return 0;
    }
    int rc = resolve_entity_list(c, et->ns, d->n_parents, d->parents, "parent", &out->n_member_of,
                                 &out->member_of);
    if (rc)
        return rc;
    tsize size;
    if (d->shape && (rc = resolve_type(c, et->ns, d->shape, &out->shape, &size)))
        return rc;
    if (d->tags) {
        c->owner = md_arena_printf(p->a, "the tags of entity type '%.*s'", (int)et->full.len,
                                   et->full.ptr);
        if (!c->owner)
            return oom(p);
        if ((rc = resolve_type(c, et->ns, d->tags, &out->tags, &size)))
            return rc;
    }
    return 0;
}

static int build_action(ctx *c, const adef *ad, md_action *out)
{
    parser *p = c->p;
    const decl_ast *d = ad->decl;
    out->uid = ad->uid;
    out->context = &T_EMPTY_RECORD;
    const char *ud = uid_desc(p->a, ad->uid.type, ad->uid.id);
    c->owner = md_arena_printf(p->a, "action %s", ud);
    c->attr = (md_str){NULL, 0};
    if (!c->owner)
        return oom(p);
    /* parents */
    if (d->n_aparents) {
        md_euid *v = md_arena_array(p->a, d->n_aparents, sizeof *v);
        strmap seen = {0}; /* long lists deduplicate through a table */
        if (!v || (d->n_aparents > 16 && map_init(p->a, &seen, d->n_aparents)))
            return oom(p);
        size_t k = 0;
        for (size_t i = 0; i < d->n_aparents; i++) {
            const qual_ast *q = &d->aparents[i];
            md_str tcands[2];
            md_str written = q->has_path ? q->path.full : MD_STR_LIT("Action");
            bool unq = q->has_path ? q->path.n == 1 : true;
            int n = candidates(c, ad->ns, written, unq, tcands);
            if (n < 0)
                return oom(p);
            const adef *found = NULL;
            for (int j = 0; j < n && !found; j++) {
                md_str key = action_key(p->a, tcands[j], q->id);
                if (!key.ptr)
                    return oom(p);
                found = map_get(&c->action, key);
            }
            if (!found) {
                if (n == 2)
                    return fail(p, MANDATE_EPARSE, q->line, q->col,
                                "unknown action group %s in the parents of %s: neither %s nor "
                                "%s is declared",
                                uid_desc(p->a, written, q->id), c->owner,
                                uid_desc(p->a, tcands[0], q->id), uid_desc(p->a, tcands[1], q->id));
                return fail(p, MANDATE_EPARSE, q->line, q->col,
                            "unknown action group %s in the parents of %s; declare it with "
                            "'action'",
                            uid_desc(p->a, written, q->id), c->owner);
            }
            bool dup = false;
            if (seen.cap)
                dup = map_put(&seen, found->key, &v[k]) != NULL;
            else
                for (size_t j = 0; j < k && !dup; j++)
                    dup = md_euid_cmp(&v[j], &found->uid) == 0;
            if (!dup)
                v[k++] = found->uid;
        }
        out->n_member_of = k;
        out->member_of = v;
    }
    if (!d->has_applies)
        return 0;
    out->has_applies_to = true;
    int rc;
    if ((rc = resolve_entity_list(c, ad->ns, d->n_principals, d->principals, "principal",
                                  &out->n_principals, &out->principals)) ||
        (rc = resolve_entity_list(c, ad->ns, d->n_resources, d->resources, "resource",
                                  &out->n_resources, &out->resources)))
        return rc;
    if (!d->context)
        return 0;
    c->owner = md_arena_printf(p->a, "the context of action %s", ud);
    if (!c->owner)
        return oom(p);
    const type_ast *ct = d->context;
    tsize size;
    if (ct->kind == TY_PATH) {
        /* a name here refers to a common type only */
        resolved r;
        md_str cands[2];
        int n = 0;
        if ((rc = resolve_name(c, ad->ns, &ct->path, false, true, &r, cands, &n)))
            return rc;
        if (r.kind == R_NONE)
            return where_fail(c, &ct->path, "common type", cands, n, "a common type");
        if (r.kind == R_COMMON) {
            if ((rc = resolve_common(c, r.ct, &ct->path)))
                return rc;
            out->context = r.ct->resolved;
        } else {
            out->context = r.builtin;
        }
    } else if ((rc = resolve_type(c, ad->ns, ct, &out->context, &size))) {
        return rc;
    }
    if (out->context->kind != MD_T_RECORD)
        return fail(p, MANDATE_EPARSE, ct->line, ct->col,
                    "the context of action %s must be a record type, but '%.*s' is not a record",
                    ud, (int)ct->path.full.len, ct->path.full.ptr);
    return 0;
}

/* The action hierarchy must be acyclic. Iterative depth-first search (the hierarchy may be
 * deep). */
static int check_action_cycles(ctx *c, const md_schema *s)
{
    parser *p = c->p;
    size_t n = s->n_actions;
    if (!n)
        return 0;
    unsigned char *color = md_arena_alloc(p->a, n);
    size_t *stack = md_arena_array(p->a, n, sizeof *stack);
    size_t *edge = md_arena_array(p->a, n, sizeof *edge);
    if (!color || !stack || !edge)
        return oom(p);
    for (size_t root = 0; root < n; root++) {
        if (color[root])
            continue;
        size_t top = 0;
        stack[top++] = root;
        edge[root] = 0;
        color[root] = 1;
        while (top) {
            size_t v = stack[top - 1];
            const md_action *a = &s->actions[v];
            if (edge[v] == a->n_member_of) {
                color[v] = 2;
                top--;
                continue;
            }
            const md_action *pa = md_schema_action(s, &a->member_of[edge[v]++]);
            if (!pa)
                continue;
            size_t w = (size_t)(pa - s->actions);
            if (color[w] == 1) {
                md_str key = action_key(p->a, pa->uid.type, pa->uid.id);
                const adef *ad = key.ptr ? map_get(&c->action, key) : NULL;
                return fail(p, MANDATE_EPARSE, ad ? ad->name->line : 0, ad ? ad->name->col : 0,
                            "cycle in the action hierarchy containing %s; an action cannot be a "
                            "member of itself",
                            uid_desc(p->a, pa->uid.type, pa->uid.id));
            }
            if (color[w] == 0) {
                color[w] = 1;
                edge[w] = 0;
                stack[top++] = w;
            }
        }
    }
    return 0;
}

static int analyse(parser *p, const md_schema **out)
{
    ctx c = {.p = p};
    int rc;
    /* named namespaces are unique */
    strmap nsm;
    if (map_init(p->a, &nsm, p->n_ns))
        return oom(p);
    for (size_t i = 0; i < p->n_ns; i++) {
        const ns_ast *old = map_put(&nsm, p->nss[i].name.full, &p->nss[i]);
        if (old)
            return fail(p, MANDATE_EPARSE, p->nss[i].name.line, p->nss[i].name.col,
                        "namespace '%.*s' is declared twice (first at %u:%u); merge the two "
                        "blocks",
                        (int)p->nss[i].name.full.len, p->nss[i].name.full.ptr, old->name.line,
                        old->name.col);
    }
    if ((rc = collect(&c, &p->root)))
        return rc;
    for (size_t i = 0; i < p->n_ns; i++)
        if ((rc = collect(&c, &p->nss[i])))
            return rc;
    if ((rc = build_tables(&c)) || (rc = shadowing_checks(&c)))
        return rc;
    /* every common type resolves, used or not */
    for (size_t i = 0; i < c.n_ct; i++) {
        path_ast at = {.line = c.cts[i].decl->names[0].line, .col = c.cts[i].decl->names[0].col};
        c.owner = "the schema";
        if ((rc = resolve_common(&c, &c.cts[i], &at)))
            return rc;
    }
    md_schema *s = md_arena_alloc(p->a, sizeof *s);
    md_entity_type *ets = c.n_et ? md_arena_array(p->a, c.n_et, sizeof *ets) : NULL;
    md_action *acts = c.n_act ? md_arena_array(p->a, c.n_act, sizeof *acts) : NULL;
    if (!s || (c.n_et && !ets) || (c.n_act && !acts))
        return oom(p);
    for (size_t i = 0; i < c.n_et; i++)
        if ((rc = build_entity(&c, &c.ets[i], &ets[i])))
            return rc;
    for (size_t i = 0; i < c.n_act; i++)
        if ((rc = build_action(&c, &c.acts[i], &acts[i])))
            return rc;
    if (c.n_et > 1)
        qsort(ets, c.n_et, sizeof *ets, etype_cmp);
    if (c.n_act > 1)
        qsort(acts, c.n_act, sizeof *acts, action_cmp);
    s->n_entity_types = c.n_et;
    s->entity_types = ets;
    s->n_actions = c.n_act;
    s->actions = acts;
    if ((rc = check_action_cycles(&c, s)))
        return rc;
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* entry points */

int md_schema_parse(md_arena *a, const char *text, size_t len, const md_schema **out, md_diag *d)
{
    if (!a || (!text && len) || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_schema_parse: missing argument");
    *out = NULL;
    if (len > MD_CEDAR_MAX_POLICY_TEXT)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0,
                           "schema text is %zu bytes, over the limit of %u bytes", len,
                           (unsigned)MD_CEDAR_MAX_POLICY_TEXT);
    /* names in the schema point into the text: keep a copy so the caller may free theirs */
    char *copy = md_arena_strndup(a, text ? text : "", len);
    if (!copy)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory while parsing the schema");
    text = copy;
    parser p = {.a = a, .d = d, .src = text, .len = len, .line = 1, .col = 1};
    /* the text must be UTF-8 */
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        size_t n = md_utf8_decode(text + i, len - i, NULL);
        if (!n)
            return fail(&p, MANDATE_EPARSE, line, col, "schema text is not valid UTF-8");
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col += (uint32_t)n;
        }
        i += n;
    }
    int rc = parse_schema(&p);
    if (!rc)
        rc = analyse(&p, out);
    if (rc)
        *out = NULL;
    return rc;
}

const md_entity_type *md_schema_entity_type(const md_schema *s, md_str name)
{
    if (!s)
        return NULL;
    size_t lo = 0, hi = s->n_entity_types;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = md_str_cmp(s->entity_types[mid].name, name);
        if (c == 0)
            return &s->entity_types[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const md_action *md_schema_action(const md_schema *s, const md_euid *uid)
{
    if (!s || !uid)
        return NULL;
    size_t lo = 0, hi = s->n_actions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = md_euid_cmp(&s->actions[mid].uid, uid);
        if (c == 0)
            return &s->actions[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int md_schema_add_action_entities(const md_schema *s, md_entities *es, md_diag *d)
{
    if (!s || !es)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "md_schema_add_action_entities: missing argument");
    for (size_t i = 0; i < s->n_actions; i++) {
        const md_action *ac = &s->actions[i];
        md_entity e = {0};
        e.uid = ac->uid;
        e.attrs = md_record_empty();
        e.tags = md_record_empty();
        e.n_parents = ac->n_member_of;
        e.parents = ac->member_of;
        int rc = md_entities_add(es, &e);
        if (rc == MANDATE_EEXIST)
            return md_diag_set(
                d, rc, 0, 0, "action entity %.*s::\"%.*s\" is already in the entity store",
                (int)ac->uid.type.len, ac->uid.type.ptr, (int)ac->uid.id.len, ac->uid.id.ptr);
        if (rc)
            return md_diag_set(d, rc, 0, 0, "cannot add action entity %.*s::\"%.*s\": %s",
                               (int)ac->uid.type.len, ac->uid.type.ptr, (int)ac->uid.id.len,
                               ac->uid.id.ptr, mandate_strerror(rc));
    }
    return 0;
}
