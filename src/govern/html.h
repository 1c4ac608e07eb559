/*
 * html.h: the governance review and report as one self-contained HTML5 page.
 *
 * Both functions read the JSON text of a review or report (the contract in docs/governance.md)
 * and nothing else, so every figure on the page is the JSON's. The page has inline CSS, charts
 * as inline SVG drawn here, no script and no external URL; a Content-Security-Policy meta tag
 * forbids loading anything. Every figure shown carries data-path (a JSON path: keys joined by
 * dots, array indices as numbers) and data-value (the number exactly as written in the JSON,
 * or null, true, false). Strings from the JSON are escaped; Cedar text goes in <pre>.
 *
 * The HTML is appended to out (caller-owned, initialised, capped by out->max). On error nothing
 * is appended, and d says what failed: MANDATE_EPARSE for JSON that is malformed or does not
 * have the contract's shape (with the JSON path), MANDATE_ETOOBIG past out->max, MANDATE_ENOMEM.
 * Keys the contract does not name are ignored.
 *
 * Depends on core and jansson only.
 */
#ifndef MD_GOVERN_HTML_H
#define MD_GOVERN_HTML_H

#include "core/core.h"

int md_govern_report_html(const char *report_json, size_t len, md_buf *out, md_diag *d);
int md_govern_review_html(const char *review_json, size_t len, md_buf *out, md_diag *d);

#endif
