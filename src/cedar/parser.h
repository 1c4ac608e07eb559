/*
 * parser.h: private interface between the Cedar policy lexer (lexer.c) and parser (parser.c).
 *
 * The lexer turns policy text into tokens as the Cedar grammar defines them (identifiers and
 * keywords, integer and string literals, template slots, punctuation), skipping whitespace
 * (Unicode White_Space, as Rust's \s) and `//` comments, and checks that the text is UTF-8.
 * Tokens borrow the text: a token is an offset and a length plus its 1-based line and column
 * (columns count bytes). String tokens keep their quotes and escapes; the parser asks for them
 * to be unescaped either as a plain string or as a `like` pattern, which copies the result into
 * an arena. Errors are MANDATE_EPARSE with the position of the offending character in an md_diag.
 *
 * May depend on: core/, cedar_int.h. Used only by parser.c.
 */
#ifndef MD_CEDAR_PARSER_H
#define MD_CEDAR_PARSER_H

#include "cedar/cedar_int.h"

typedef enum md_tok_kind {
    MD_TK_EOF,
    MD_TK_IDENT, /* identifiers and keywords (see kw) */
    MD_TK_INT,   /* [0-9]+ */
    MD_TK_STR,   /* "..." with quotes and escapes as written */
    MD_TK_SLOT,  /* ?name */
    MD_TK_AT,
    MD_TK_DOT,
    MD_TK_COMMA,
    MD_TK_SEMI,
    MD_TK_COLON,
    MD_TK_COLON2, /* :: */
    MD_TK_LPAREN,
    MD_TK_RPAREN,
    MD_TK_LBRACE,
    MD_TK_RBRACE,
    MD_TK_LBRACKET,
    MD_TK_RBRACKET,
    MD_TK_EQ2, /* == */
    MD_TK_NE,
    MD_TK_LT,
    MD_TK_LE,
    MD_TK_GT,
    MD_TK_GE,
    MD_TK_OR,  /* || */
    MD_TK_AND, /* && */
    MD_TK_PLUS,
    MD_TK_MINUS,
    MD_TK_STAR,
    MD_TK_SLASH,
    MD_TK_PERCENT,
    MD_TK_BANG,
    MD_TK_EQ, /* a lone '=' (an error in every position, reported by the parser) */
} md_tok_kind;

typedef enum md_kw {
    MD_KW_NONE,
    MD_KW_TRUE,
    MD_KW_FALSE,
    MD_KW_IF,
    MD_KW_THEN,
    MD_KW_ELSE,
    MD_KW_IN,
    MD_KW_HAS,
    MD_KW_LIKE,
    MD_KW_IS,
    MD_KW_PRINCIPAL,
    MD_KW_ACTION,
    MD_KW_RESOURCE,
    MD_KW_CONTEXT,
    MD_KW_PERMIT,
    MD_KW_FORBID,
    MD_KW_WHEN,
    MD_KW_UNLESS,
} md_kw;

typedef struct md_token {
    md_tok_kind kind;
    md_kw kw;   /* MD_TK_IDENT only */
    size_t off; /* byte offset in the text */
    size_t len; /* bytes */
    uint32_t line, col;
} md_token;

typedef struct md_lexer {
    const char *text;
    size_t len;
    size_t pos;
    uint32_t line, col;
} md_lexer;

void md_lexer_init(md_lexer *lx, const char *text, size_t len);
/* Reads the next token into t (MD_TK_EOF at the end, repeatedly). */
int md_lexer_next(md_lexer *lx, md_token *t, md_diag *d);

/* Unescapes a string token (Cedar/Rust escapes) into the arena. */
int md_lex_string(md_arena *a, const md_lexer *lx, const md_token *t, md_str *out, md_diag *d);
/* Unescapes a string token as a `like` pattern: `*` is a wildcard, `\*` a literal star. */
int md_lex_pattern(md_arena *a, const md_lexer *lx, const md_token *t, md_pattern *out, md_diag *d);

/* True when the identifier is a Cedar reserved word (true false if then else in like has is). */
bool md_kw_reserved(md_kw kw);

#endif
