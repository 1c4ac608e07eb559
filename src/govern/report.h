/*
 * report.h: the governance scorecard (`mandate report`): adoption of AI beside governance
 * coverage, overall, per time bucket and per workflow, and the theatre indicator (adoption
 * growing while coverage falls). Every definition and the JSON shape: docs/report.md.
 *
 * md_report_build reads the ledger in one pass (mandate_ledger_scan) and keeps aggregates, not
 * entries: counters per (workflow, bucket); per allowed decision of the window its index,
 * workflow and bucket (16 bytes) so that a later outcome joins it (binary search: the array is in
 * index order); per approval_required agent decision with a workflow its index and workflow (16
 * bytes) so that an approval event joins it; per delegation its jti and one flag; per approval
 * event of the window its dwell (16 bytes). Bodies are read with the strict canonical-JSON
 * scanner of jscan.h, never a jansson DOM. Calls share no state: concurrent reports are safe.
 *
 * Workflow owners and declared outputs come from the ledger's registry `add` entries, so the
 * ledger is the only input. The output is deterministic: workflows sorted by uid, shares printed
 * with at most 4 decimals.
 *
 * May depend on: core, govern/jscan.h, the public ledger.h.
 */
#ifndef MD_GOVERN_REPORT_H
#define MD_GOVERN_REPORT_H

#include "core/core.h"
#include "mandate/ledger.h"

/* The contract's default for long_delegation_s (8 hours). */
#define MD_REPORT_LONG_DELEGATION_S 28800
/* Caps: buckets in a window, and workflows x buckets held in memory and printed. */
#define MD_REPORT_MAX_BUCKETS 8192
#define MD_REPORT_MAX_CELLS (1u << 19)

typedef struct md_report_opts {
    int64_t since_ms, until_ms; /* the window [since_ms, until_ms) of ledger time */
    int64_t long_delegation_s;  /* a delegation living longer is not short-lived; 0 = 28800 */
} md_report_opts;

/* Builds the report JSON of the window into *json_out (owned, NUL-terminated, free with free()).
 * Errors: MANDATE_EINVAL (no ledger, since_ms >= until_ms, a negative long_delegation_s),
 * MANDATE_ETOOBIG (a window over MD_REPORT_MAX_BUCKETS buckets, or workflows x buckets over
 * MD_REPORT_MAX_CELLS), MANDATE_ECORRUPT (an entry the report reads is not well-formed JSON or a
 * field has the wrong type; the message names the index), MANDATE_ENOMEM, store errors. */
int md_report_build(mandate_ledger *l, const md_report_opts *o, char **json_out, md_diag *d);

#endif
