/*
 * api_govern.c: governance over HTTP (docs/governance.md): GET /v1/review (the access review) and
 * GET /v1/report (the accountability scorecard), as JSON or, with format=html, one HTML page.
 * Both read the ledger through streaming read-only handles of their own (so a long scan neither
 * holds the server's reader nor maps the file into its memory); the review takes principals and
 * the entity store from the server's registry and the active policy set from its snapshot.
 */
#include <stdlib.h>

#include "govern/govern.h"
#include "govern/html.h"
#include "govern/report.h"
#include "http/http.h"

static const char *param(const md_http_req *rq, const char *name)
{
    return md_http_query_param(rq->arena, rq->query, name);
}

/* The window from ?since= (default def) and ?now=, and the format (json or html). */
static bool window(const md_http_req *rq, const char *def, int64_t *since, int64_t *until,
                   bool *html, md_http_resp *rs)
{
    const char *s = param(rq, "since"), *f = param(rq, "format");
    md_diag d = {0};
    if (md_govern_window(s ? s : def, param(rq, "now"), since, until, &d)) {
        md_http_error(rs, 400, "bad_request", "%s", d.msg);
        return false;
    }
    if (f && strcmp(f, "json") && strcmp(f, "html")) {
        md_http_error(rs, 400, "bad_request", "format is json or html, not '%s'", f);
        return false;
    }
    *html = f && !strcmp(f, "html");
    return true;
}

/* Sends the JSON text (taken) or the page made from it. */
static int send(md_http_resp *rs, char *json, bool html,
                int (*page)(const char *, size_t, md_buf *, md_diag *))
{
    if (!html) {
        free(rs->body);
        rs->body = json;
        rs->body_len = strlen(json);
        rs->content_type = "application/json";
        rs->status = 200;
        return 200;
    }
    md_buf b;
    md_buf_init(&b, MD_REVIEW_MAX_JSON);
    md_diag d = {0};
    int rc = page(json, strlen(json), &b, &d);
    free(json);
    if (rc) {
        md_buf_release(&b);
        return md_http_error_for(rs, rc, d.msg);
    }
    free(rs->body);
    rs->body = b.data;
    rs->body_len = b.len;
    rs->content_type = "text/html; charset=utf-8";
    rs->status = 200;
    return 200;
}

/* Optional thresholds from the query, by their JSON names. */
static bool thresholds(const md_http_req *rq, md_review_thresholds *th, md_http_resp *rs)
{
    static const char *const names[] = {"dormant_days", "rubber_stamp_dwell_ms",
                                        "rubber_stamp_min_approvals", "long_delegation_s"};
    int64_t *slots[] = {&th->dormant_days, &th->rubber_stamp_dwell_ms,
                        &th->rubber_stamp_min_approvals, &th->long_delegation_s};
    md_review_thresholds_default(th);
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
        const char *v = param(rq, names[i]);
        char *end = NULL;
        if (v && (*slots[i] = strtoll(v, &end, 10), !*v || *end)) {
            md_http_error(rs, 400, "bad_request", "'%s' must be an integer", names[i]);
            return false;
        }
    }
    const char *v = param(rq, "rubber_stamp_share");
    char *end = NULL;
    if (v && (th->rubber_stamp_share = strtod(v, &end), !*v || *end)) {
        md_http_error(rs, 400, "bad_request", "'rubber_stamp_share' must be a number");
        return false;
    }
    md_diag d = {0};
    if (md_review_thresholds_check(th, &d)) {
        md_http_error(rs, 400, "bad_request", "%s", d.msg);
        return false;
    }
    return true;
}

MD_HTTP_DECL(md_api_review)
{
    md_review_opts o = {.registry = s->registry};
    bool html = false;
    if (!window(rq, "30d", &o.since_ms, &o.until_ms, &html, rs) || !thresholds(rq, &o.th, rs))
        return rs->status;
    md_diag d = {0};
    mandate_ledger *scan = NULL, *second = NULL;
    int rc = md_govern_open_ledger(s->data_dir, &scan, &d);
    if (!rc)
        rc = md_govern_open_ledger(s->data_dir, &second, &d);
    md_http_snapshot *snap = md_http_snapshot_acquire(s);
    char *json = NULL;
    if (!rc) {
        o.ledger = scan;
        o.report_ledger = second;
        o.policies = snap->ps;
        o.schema = s->schema;
        rc = md_review_build(&o, &json, &d);
    }
    md_http_snapshot_release(snap);
    mandate_ledger_close(scan);
    mandate_ledger_close(second);
    if (rc)
        return md_http_error_for(rs, rc, d.msg);
    return send(rs, json, html, md_govern_review_html);
}

MD_HTTP_DECL(md_api_report)
{
    md_report_opts o = {.long_delegation_s = MD_REPORT_LONG_DELEGATION_S};
    bool html = false;
    if (!window(rq, "90d", &o.since_ms, &o.until_ms, &html, rs))
        return rs->status;
    const char *v = param(rq, "long_delegation_s");
    char *end = NULL;
    if (v && (o.long_delegation_s = strtoll(v, &end, 10), !*v || *end || o.long_delegation_s < 1))
        return md_http_error(rs, 400, "bad_request",
                             "'long_delegation_s' must be a positive "
                             "integer");
    md_diag d = {0};
    mandate_ledger *l = NULL;
    char *json = NULL;
    int rc = md_govern_open_ledger(s->data_dir, &l, &d);
    if (!rc)
        rc = md_report_build(l, &o, &json, &d);
    mandate_ledger_close(l);
    if (rc)
        return md_http_error_for(rs, rc, d.msg);
    return send(rs, json, html, md_govern_report_html);
}
