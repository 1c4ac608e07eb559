/*
 * govern.h: governance measured from the evidence ledger (docs/governance.md): the access review
 * (`mandate review`, GET /v1/review) and what the review and the report (report.h, `mandate
 * report`, GET /v1/report) share: the window of time, opening a data directory read-only, and a
 * cheap reader of canonical ledger bodies.
 *
 * The review compares what the registry and the active policies grant now with what the ledger
 * says happened in a window [since_ms, until_ms): privilege slack (permitted action x resource
 * type pairs against the ones exercised), out-of-envelope denials, orphaned agents, ownerless
 * workflows, dormant agents, rubber-stamp approvers, separation breaches, over-long and unused
 * delegations, idle policies and compliance theatre (the report's rule). Each finding has a
 * severity, the ledger indices that show it and a concrete fix; docs/governance.md states every
 * rule exactly. One pass over the ledger with mandate_ledger_scan, bodies read with the canonical
 * JSON scanner of jscan.h, keeps aggregates per principal, approver, delegation and policy (never
 * the entries), so memory grows with the number of distinct names, not with the ledger.
 *
 * Ownership: JSON results are malloc'd and owned by the caller (free()). The registry, ledger,
 * policy set and schema passed in are borrowed for the call.
 *
 * May depend on: core/, cedar/ (the policy AST, schema, entity store, lexer), registry/
 * registry_int.h (the registry snapshot: principals and the sealed entity store), the public
 * ledger.h and registry.h, govern/jscan.h and govern/report.h (the theatre rule). Used by cmd/ and
 * http/.
 */
#ifndef MD_GOVERN_H
#define MD_GOVERN_H

#include "cedar/cedar_int.h"
#include "core/core.h"
#include "mandate/ledger.h"
#include "mandate/registry.h"

#define MD_REVIEW_MAX_EVIDENCE 20 /* ledger indices listed per finding (evidence_count: all) */
#define MD_GOVERN_MAX_WINDOW_DAYS 36600
#define MD_REVIEW_MAX_JSON (1u << 30) /* bytes of review JSON */

/* ---- the window ---- */

/* Parses a window: since is "<N>d" (days), "<N>h" (hours) before now, or an absolute time in
 * milliseconds since the epoch; now is milliseconds (NULL or "": the clock). The window is
 * [*since_ms, *until_ms) with *until_ms = now; an empty or inverted window is MANDATE_EINVAL. */
int md_govern_window(const char *since, const char *now, int64_t *since_ms, int64_t *until_ms,
                     md_diag *d);
/* Milliseconds since the epoch, from the real-time clock. */
int64_t md_govern_now_ms(void);

/* ---- inputs from a data directory ---- */

typedef struct md_govern_paths {
    const char *dir;      /* the data directory (made by `mandate init`); required */
    const char *policies; /* NULL: DIR/policies.cedar (empty set when missing) */
    const char *schema;   /* NULL: DIR/schema.cedarschema when present */
    const char *entities; /* NULL: DIR/entities.json when present */
} md_govern_paths;

/* Opens the registry of a data directory read-only (mandate_registry_opts.read_only: no ledger
 * writer lock, so it works while `mandate serve` runs there) and gives it the schema, entities
 * and policies, so its snapshot holds the active policy set, the schema and the entity store.
 * The ledger is mandate_registry_ledger(*out). Close with mandate_registry_close. */
int md_govern_open(const md_govern_paths *p, mandate_registry **out, md_diag *d);

/* Opens DIR/mandate.db read-only for the report: no signing key (so no writer lock) and no tree
 * cache. Close with mandate_ledger_close. */
int md_govern_open_ledger(const char *dir, mandate_ledger **out, md_diag *d);
/* The report JSON (report.h) as text for a terminal: the overall measures, the theatre verdict
 * and one line per workflow, appended to out. */
int md_govern_report_text(const char *json, size_t len, md_buf *out, md_diag *d);

/* ---- the review ---- */

typedef struct md_review_thresholds {
    int64_t dormant_days;               /* dormant_agent: no decision for this long (14) */
    int64_t rubber_stamp_dwell_ms;      /* rubber_stamp: a decision faster is "fast" (30000) */
    double rubber_stamp_share;          /* rubber_stamp: more than this share fast (0.5) */
    int64_t rubber_stamp_min_approvals; /* rubber_stamp: only approvers with this many (10) */
    int64_t long_delegation_s;          /* long_delegation: lifetime over this (28800) */
} md_review_thresholds;

void md_review_thresholds_default(md_review_thresholds *t);
/* MANDATE_EINVAL with a message naming the threshold when one is out of range. */
int md_review_thresholds_check(const md_review_thresholds *t, md_diag *d);

typedef struct md_review_opts {
    mandate_ledger *ledger;       /* required: the activity (scanned once) */
    mandate_registry *registry;   /* required: principals, owners, the entity store (`in`) */
    const md_policyset *policies; /* the active policy set; NULL: the registry snapshot's */
    const md_schema *schema;      /* NULL: the registry snapshot's (which may have none) */
    int64_t since_ms, until_ms;   /* the window; until_ms is "now" */
    md_review_thresholds th;
    bool no_theatre; /* skip the theatre findings (and the report pass they need) */
    /* A second handle on the same ledger (a streaming reader, md_govern_open_ledger): the report
     * behind the theatre findings then scans it on its own thread while the review scans
     * `ledger`. NULL: the report runs on `ledger` after the review's scan. */
    mandate_ledger *report_ledger;
} md_review_opts;

/* Builds the review JSON (docs/governance.md, "JSON"); *json_out owned. */
int md_review_build(const md_review_opts *o, char **json_out, md_diag *d);
/* The review JSON as text for a terminal, appended to out. */
int md_review_text(const char *json, size_t len, md_buf *out, md_diag *d);

#endif
