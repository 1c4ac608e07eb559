/*
 * format.h: the canonical formatter of Cedar policy text (`mandate policy format`).
 *
 * The formatter re-lays out the tokens of a policy file and never changes them: it only changes
 * white space, so a formatted file holds the same policies and gives the same decisions. Comments
 * are kept: a comment on the line of a token stays at the end of that line, a comment on its own
 * line stays on its own line before the next token, and blank lines are kept (at most one) around
 * comments between policies. Layout: one blank line between policies, annotations on their own
 * lines, the scope on one line when it fits in 80 columns (else one scope element per line), each
 * `when`/`unless` on its own line, and groups (parentheses, sets, records, condition bodies)
 * broken one element per line, indented by two spaces, when they do not fit or hold a comment;
 * a condition that does not fit breaks after its top-level `&&` and `||`. The output depends only
 * on the tokens and comments, so formatting is idempotent: format(format(x)) == format(x).
 *
 * As a safety net the output is lexed again and its tokens compared with the input's; a
 * difference is reported as MANDATE_EINTERNAL instead of returning changed policies.
 *
 * May depend on: core/, cedar_int.h (md_policyset_parse), parser.h (the lexer).
 */
#ifndef MD_CEDAR_FORMAT_H
#define MD_CEDAR_FORMAT_H

#include "cedar/cedar_int.h"

#define MD_FORMAT_WIDTH 80

/* Formats policy text into out (appended). The text must parse as a policy set (otherwise the
 * parse error, MANDATE_EPARSE with line:column, is returned and out is unchanged). Uses a scratch
 * arena of its own. */
int md_policy_format(const char *text, size_t len, md_buf *out, md_diag *d);

#endif
