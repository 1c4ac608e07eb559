/*
 * lexer.c: tokens of the Cedar policy language and unescaping of its string literals
 * (see parser.h). The token set and the escape rules follow the Rust implementation's grammar
 * (cedar-policy-core/src/parser/grammar.lalrpop) and its use of Rust string escapes.
 */
#include "cedar/parser.h"

void md_lexer_init(md_lexer *lx, const char *text, size_t len)
{
    lx->text = text ? text : "";
    lx->len = text ? len : 0;
    lx->pos = 0;
    lx->line = 1;
    lx->col = 1;
}

/* Unicode White_Space, what Rust's regex \s matches. */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

static bool is_ident_start(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

bool md_kw_reserved(md_kw kw)
{
    switch (kw) {
    case MD_KW_TRUE:
    case MD_KW_FALSE:
    case MD_KW_IF:
    case MD_KW_THEN:
    case MD_KW_ELSE:
    case MD_KW_IN:
    case MD_KW_HAS:
    case MD_KW_LIKE:
    case MD_KW_IS: return true;
    default: return false;
    }
}

static md_kw keyword(const char *s, size_t n)
{
    static const struct {
        const char *s;
        size_t n;
        md_kw kw;
    } kws[] = {
#define KW(str, kw) {str, sizeof str - 1, kw}
        KW("true", MD_KW_TRUE),       KW("false", MD_KW_FALSE),
        KW("if", MD_KW_IF),           KW("then", MD_KW_THEN),
        KW("else", MD_KW_ELSE),       KW("in", MD_KW_IN),
        KW("has", MD_KW_HAS),         KW("like", MD_KW_LIKE),
        KW("is", MD_KW_IS),           KW("principal", MD_KW_PRINCIPAL),
        KW("action", MD_KW_ACTION),   KW("resource", MD_KW_RESOURCE),
        KW("context", MD_KW_CONTEXT), KW("permit", MD_KW_PERMIT),
        KW("forbid", MD_KW_FORBID),   KW("when", MD_KW_WHEN),
        KW("unless", MD_KW_UNLESS),
#undef KW
    };
    if (n < 2 || n > 9)
        return MD_KW_NONE;
    for (size_t i = 0; i < MD_ARRAY_LEN(kws); i++)
        if (kws[i].n == n && memcmp(kws[i].s, s, n) == 0)
            return kws[i].kw;
    return MD_KW_NONE;
}

/* Moves over n bytes that hold no newline. */
static void advance(md_lexer *lx, size_t n)
{
    lx->pos += n;
    lx->col += (uint32_t)n;
}

static void newline(md_lexer *lx)
{
    lx->pos++;
    lx->line++;
    lx->col = 1;
}

static int bad_char(md_lexer *lx, md_diag *d)
{
    const unsigned char *s = (const unsigned char *)lx->text + lx->pos;
    uint32_t cp;
    size_t n = md_utf8_decode(s, lx->len - lx->pos, &cp);
    if (n == 0)
        return md_diag_set(d, MANDATE_EPARSE, lx->line, lx->col, "invalid UTF-8 byte 0x%02x", s[0]);
    if (cp == '|' || cp == '&')
        return md_diag_set(d, MANDATE_EPARSE, lx->line, lx->col,
                           "unexpected character '%c'; did you mean '%c%c'?", (char)cp, (char)cp,
                           (char)cp);
    if (cp > 0x20 && cp < 0x7f)
        return md_diag_set(d, MANDATE_EPARSE, lx->line, lx->col, "unexpected character '%c'",
                           (char)cp);
    return md_diag_set(d, MANDATE_EPARSE, lx->line, lx->col, "unexpected character U+%04X",
                       (unsigned)cp);
}

/* Skips whitespace and comments. */
static int skip_space(md_lexer *lx, md_diag *d)
{
    const unsigned char *s = (const unsigned char *)lx->text;
    while (lx->pos < lx->len) {
        unsigned char c = s[lx->pos];
        if (c == '\n') {
            newline(lx);
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
            advance(lx, 1);
        } else if (c == '/' && lx->pos + 1 < lx->len && s[lx->pos + 1] == '/') {
            advance(lx, 2);
            while (lx->pos < lx->len && s[lx->pos] != '\n' && s[lx->pos] != '\r') {
                uint32_t cp;
                size_t n = md_utf8_decode(s + lx->pos, lx->len - lx->pos, &cp);
                if (n == 0)
                    return md_diag_set(d, MANDATE_EPARSE, lx->line, lx->col,
                                       "invalid UTF-8 byte 0x%02x in a comment", s[lx->pos]);
                advance(lx, n);
            }
        } else if (c >= 0x80) {
            uint32_t cp;
            size_t n = md_utf8_decode(s + lx->pos, lx->len - lx->pos, &cp);
            if (n == 0 || !is_space(cp))
                return 0; /* reported by the caller as a bad character */
            advance(lx, n);
        } else {
            return 0;
        }
    }
    return 0;
}

static int lex_string(md_lexer *lx, md_token *t, md_diag *d)
{
    const unsigned char *s = (const unsigned char *)lx->text;
    advance(lx, 1); /* the opening quote */
    while (lx->pos < lx->len) {
        unsigned char c = s[lx->pos];
        if (c == '"') {
            advance(lx, 1);
            t->len = lx->pos - t->off;
            return 0;
        }
        if (c == '\\') {
            advance(lx, 1);
            if (lx->pos >= lx->len)
                break;
            c = s[lx->pos];
        }
        if (c == '\n') {
            newline(lx);
            continue;
        }
        uint32_t cp;
        size_t n = md_utf8_decode(s + lx->pos, lx->len - lx->pos, &cp);
        if (n == 0)
            return md_diag_set(d, MANDATE_EPARSE, lx->line, lx->col,
                               "invalid UTF-8 byte 0x%02x in a string", s[lx->pos]);
        advance(lx, n);
    }
    return md_diag_set(d, MANDATE_EPARSE, t->line, t->col,
                       "unterminated string: no closing '\"' before the end of the input");
}

int md_lexer_next(md_lexer *lx, md_token *t, md_diag *d)
{
    int rc = skip_space(lx, d);
    if (rc)
        return rc;
    const unsigned char *s = (const unsigned char *)lx->text;
    t->kw = MD_KW_NONE;
    t->off = lx->pos;
    t->len = 0;
    t->line = lx->line;
    t->col = lx->col;
    if (lx->pos >= lx->len) {
        t->kind = MD_TK_EOF;
        return 0;
    }
    unsigned char c = s[lx->pos];
    unsigned char c2 = lx->pos + 1 < lx->len ? s[lx->pos + 1] : 0;
    size_t n = 1;
    if (is_ident_start(c)) {
        while (lx->pos + n < lx->len && is_ident_char(s[lx->pos + n]))
            n++;
        t->kind = MD_TK_IDENT;
        t->kw = keyword(lx->text + lx->pos, n);
    } else if (c >= '0' && c <= '9') {
        while (lx->pos + n < lx->len && s[lx->pos + n] >= '0' && s[lx->pos + n] <= '9')
            n++;
        t->kind = MD_TK_INT;
    } else if (c == '"') {
        t->kind = MD_TK_STR;
        return lex_string(lx, t, d);
    } else if (c == '?' && is_ident_start(c2)) {
        n = 2;
        while (lx->pos + n < lx->len && is_ident_char(s[lx->pos + n]))
            n++;
        t->kind = MD_TK_SLOT;
    } else {
        switch (c) {
        case '@': t->kind = MD_TK_AT; break;
        case '.': t->kind = MD_TK_DOT; break;
        case ',': t->kind = MD_TK_COMMA; break;
        case ';': t->kind = MD_TK_SEMI; break;
        case '(': t->kind = MD_TK_LPAREN; break;
        case ')': t->kind = MD_TK_RPAREN; break;
        case '{': t->kind = MD_TK_LBRACE; break;
        case '}': t->kind = MD_TK_RBRACE; break;
        case '[': t->kind = MD_TK_LBRACKET; break;
        case ']': t->kind = MD_TK_RBRACKET; break;
        case '+': t->kind = MD_TK_PLUS; break;
        case '-': t->kind = MD_TK_MINUS; break;
        case '*': t->kind = MD_TK_STAR; break;
        case '/': t->kind = MD_TK_SLASH; break;
        case '%': t->kind = MD_TK_PERCENT; break;
        case ':':
            t->kind = c2 == ':' ? MD_TK_COLON2 : MD_TK_COLON;
            n = c2 == ':' ? 2 : 1;
            break;
        case '=':
            t->kind = c2 == '=' ? MD_TK_EQ2 : MD_TK_EQ;
            n = c2 == '=' ? 2 : 1;
            break;
        case '!':
            t->kind = c2 == '=' ? MD_TK_NE : MD_TK_BANG;
            n = c2 == '=' ? 2 : 1;
            break;
        case '<':
            t->kind = c2 == '=' ? MD_TK_LE : MD_TK_LT;
            n = c2 == '=' ? 2 : 1;
            break;
        case '>':
            t->kind = c2 == '=' ? MD_TK_GE : MD_TK_GT;
            n = c2 == '=' ? 2 : 1;
            break;
        case '|':
        case '&':
            if (c2 != c)
                return bad_char(lx, d);
            t->kind = c == '|' ? MD_TK_OR : MD_TK_AND;
            n = 2;
            break;
        default: return bad_char(lx, d);
        }
    }
    advance(lx, n);
    t->len = n;
    return 0;
}

/* ---- unescaping ---- */

/* Line and column of byte offset off inside token t. */
static void pos_in_token(const md_lexer *lx, const md_token *t, size_t off, uint32_t *line,
                         uint32_t *col)
{
    uint32_t l = t->line, c = t->col;
    for (size_t i = t->off; i < off && i < lx->len; i++) {
        if (lx->text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Error at the escape that starts at offset esc and ends before end (at most 24 bytes shown). */
static int escape_error(const md_lexer *lx, const md_token *t, size_t esc, size_t end,
                        const char *why, md_diag *d)
{
    uint32_t line, col;
    pos_in_token(lx, t, esc, &line, &col);
    size_t n = end - esc;
    if (n > 24)
        n = 24;
    /* Do not show a newline or a partial UTF-8 character inside the quote. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lx->text[esc + i];
        if (c < 0x20 || c >= 0x80) {
            n = i;
            break;
        }
    }
    return md_diag_set(d, MANDATE_EPARSE, line, col, "invalid escape '%.*s' in string%s%s", (int)n,
                       lx->text + esc, why ? ": " : "", why ? why : "");
}

/*
 * Decodes the escape at s[*i] == '\\' (i indexes the whole text). On success *cp holds the
 * character and *i points past the escape; *star_lit is set for `\*` in pattern mode.
 */
static int decode_escape(const md_lexer *lx, const md_token *t, size_t *i, size_t end, bool pattern,
                         uint32_t *cp, bool *star_lit, md_diag *d)
{
    const unsigned char *s = (const unsigned char *)lx->text;
    size_t esc = *i;
    size_t j = esc + 1;
    *star_lit = false;
    if (j >= end)
        return escape_error(lx, t, esc, j, NULL, d);
    unsigned char c = s[j++];
    switch (c) {
    case 'n': *cp = '\n'; break;
    case 'r': *cp = '\r'; break;
    case 't': *cp = '\t'; break;
    case '\\': *cp = '\\'; break;
    case '0': *cp = 0; break;
    case '\'': *cp = '\''; break;
    case '"': *cp = '"'; break;
    case '*':
        if (!pattern)
            return escape_error(lx, t, esc, j, "'\\*' is only allowed in 'like' patterns", d);
        *cp = '*';
        *star_lit = true;
        break;
    case 'x': {
        int h1 = j < end ? hexval(s[j]) : -1;
        int h2 = j + 1 < end ? hexval(s[j + 1]) : -1;
        if (h1 < 0 || h2 < 0)
            return escape_error(lx, t, esc, j + 2 < end ? j + 2 : end,
                                "'\\x' needs two hexadecimal digits", d);
        j += 2;
        if (h1 > 7)
            return escape_error(lx, t, esc, j, "'\\x' escapes go up to \\x7F", d);
        *cp = (uint32_t)(h1 * 16 + h2);
        break;
    }
    case 'u': {
        if (j >= end || s[j] != '{')
            return escape_error(lx, t, esc, j, "expected '{' after '\\u'", d);
        j++;
        uint32_t v = 0;
        int digits = 0;
        bool closed = false;
        while (j < end) {
            unsigned char h = s[j];
            if (h == '}') {
                j++;
                closed = true;
                break;
            }
            if (h == '_') {
                if (digits == 0)
                    return escape_error(lx, t, esc, j + 1, "leading '_' in '\\u{...}'", d);
                j++;
                continue;
            }
            int hv = hexval(h);
            if (hv < 0)
                return escape_error(lx, t, esc, j + (h >= 0x20 && h < 0x80),
                                    "invalid character in '\\u{...}'", d);
            if (++digits > 6)
                return escape_error(lx, t, esc, j + 1, "more than 6 digits in '\\u{...}'", d);
            v = v * 16 + (uint32_t)hv;
            j++;
        }
        if (!closed)
            return escape_error(lx, t, esc, j, "unclosed '\\u{'", d);
        if (digits == 0)
            return escape_error(lx, t, esc, j, "empty '\\u{}'", d);
        if (v > 0x10ffff)
            return escape_error(lx, t, esc, j, "beyond U+10FFFF", d);
        if (v >= 0xd800 && v <= 0xdfff)
            return escape_error(lx, t, esc, j, "a lone surrogate is not a character", d);
        *cp = v;
        break;
    }
    default: {
        /* Show the whole escaped character (it may be multi-byte). */
        uint32_t ignored;
        size_t n = md_utf8_decode(s + j - 1, end - (j - 1), &ignored);
        return escape_error(lx, t, esc, j - 1 + (n ? n : 1), NULL, d);
    }
    }
    *i = j;
    return 0;
}

/* Shared loop: calls emit for every character of the string token. */
typedef struct unesc_out {
    char *buf; /* unescaped bytes */
    size_t len;
    md_pat_elem *elems; /* pattern mode */
    size_t n_elems;
    size_t run; /* start of the current literal run in buf */
} unesc_out;

static void close_run(md_arena *a, unesc_out *o)
{
    if (o->len > o->run) {
        md_pat_elem *e = &o->elems[o->n_elems++];
        e->star = false;
        e->lit.ptr = o->buf + o->run;
        e->lit.len = o->len - o->run;
        o->run = o->len;
    }
    (void)a;
}

static int unescape(md_arena *a, const md_lexer *lx, const md_token *t, bool pattern, unesc_out *o,
                    md_diag *d)
{
    const unsigned char *s = (const unsigned char *)lx->text;
    size_t start = t->off + 1, end = t->off + t->len - 1; /* inside the quotes */
    size_t cap_elems = 1;
    if (pattern) {
        /* Every wildcard comes from a '*' or an escape; elements alternate with wildcards. */
        for (size_t i = start; i < end; i++)
            if (s[i] == '*' || s[i] == '\\')
                cap_elems += 2;
        o->elems = md_arena_array(a, cap_elems, sizeof(md_pat_elem));
        if (!o->elems)
            return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    o->buf = md_arena_alloc(a, end - start + 1);
    if (!o->buf)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    o->len = 0;
    o->n_elems = 0;
    o->run = 0;
    size_t i = start;
    while (i < end) {
        uint32_t cp = 0;
        bool star_lit = false;
        if (s[i] == '\\') {
            int rc = decode_escape(lx, t, &i, end, pattern, &cp, &star_lit, d);
            if (rc)
                return rc;
        } else if (s[i] == '\r') {
            uint32_t line, col;
            pos_in_token(lx, t, i, &line, &col);
            return md_diag_set(d, MANDATE_EPARSE, line, col,
                               "a carriage return in a string must be written as \\r");
        } else {
            size_t n = md_utf8_decode(s + i, end - i, &cp); /* the lexer checked the UTF-8 */
            if (n == 0)
                return md_diag_set(d, MANDATE_EPARSE, t->line, t->col, "invalid UTF-8 in a string");
            i += n;
        }
        if (pattern && cp == '*' && !star_lit) {
            close_run(a, o);
            if (o->n_elems == 0 || !o->elems[o->n_elems - 1].star) {
                md_pat_elem *e = &o->elems[o->n_elems++];
                e->star = true;
                e->lit.ptr = "";
                e->lit.len = 0;
            }
            continue;
        }
        o->len += md_utf8_encode(cp, o->buf + o->len);
    }
    if (pattern)
        close_run(a, o);
    o->buf[o->len] = '\0';
    return 0;
}

int md_lex_string(md_arena *a, const md_lexer *lx, const md_token *t, md_str *out, md_diag *d)
{
    unesc_out o = {0};
    int rc = unescape(a, lx, t, false, &o, d);
    if (rc)
        return rc;
    out->ptr = o.buf;
    out->len = o.len;
    return 0;
}

int md_lex_pattern(md_arena *a, const md_lexer *lx, const md_token *t, md_pattern *out, md_diag *d)
{
    unesc_out o = {0};
    int rc = unescape(a, lx, t, true, &o, d);
    if (rc)
        return rc;
    out->n = o.n_elems;
    out->elems = o.elems;
    return 0;
}
