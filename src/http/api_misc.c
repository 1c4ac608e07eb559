/*
 * api_misc.c: GET /healthz, GET /metrics (Prometheus text format 0.0.4) and
 * GET /.well-known/jwks.json (the delegation keys, public, for offline verification).
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"

/* Public: says whether the agent path works, not why (that names files and settings); the reason
 * is in GET /v1/policies and the operator's log. A failed ledger stays failed until a restart
 * (every decision is denied meanwhile), so the answer is then 503, for orchestrators to act on. */
int md_api_healthz(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs)
{
    bool failed = mandate_ledger_failed(s->ledger, NULL) != 0;
    md_http_snapshot *snap = md_http_snapshot_acquire(s);
    json_t *j = json_pack("{s:s,s:I,s:I,s:s}", "status", failed ? "ledger_failed" : "ok",
                          "ledger_size", (json_int_t)mandate_ledger_size(s->ledger),
                          "policies_version", (json_int_t)snap->version, "agent_path",
                          s->registry_error[0] ? "unavailable" : "ok");
    md_http_snapshot_release(snap);
    if (j && failed)
        json_object_set_new(j, "message",
                            json_string("the evidence ledger failed: every decision is denied "
                                        "until the server is restarted (the server's log has "
                                        "the cause)"));
    return md_http_json(rs, failed ? 503 : 200, j);
}

int md_api_jwks(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs)
{
    free(rs->body);
    rs->body = strdup(s->jwks);
    if (!rs->body)
        return md_http_error(rs, 500, "internal", "out of memory");
    rs->body_len = strlen(rs->body);
    rs->content_type = "application/jwk-set+json";
    rs->status = 200;
    return 200;
}

#define U(x) ((unsigned long long)atomic_load(&(x)))

int md_api_metrics(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs)
{
    md_buf b;
    md_buf_init(&b, 1 << 20);
    const md_http_metrics *m = &s->m;
    int rc = md_buf_printf(&b,
                           "# HELP mandate_decisions_total Authorization decisions by result.\n"
                           "# TYPE mandate_decisions_total counter\n"
                           "mandate_decisions_total{decision=\"allow\"} %llu\n"
                           "mandate_decisions_total{decision=\"deny\"} %llu\n"
                           "mandate_decisions_total{decision=\"error\"} %llu\n"
                           "# HELP mandate_authorize_duration_seconds Time to answer POST "
                           "/v1/authorize, ledger commit included.\n"
                           "# TYPE mandate_authorize_duration_seconds histogram\n",
                           U(m->allow), U(m->deny), U(m->error));
    unsigned long long cum = 0;
    for (size_t i = 0; !rc && i < MD_HTTP_N_BUCKETS; i++) {
        cum += U(m->buckets[i]);
        rc = md_buf_printf(&b, "mandate_authorize_duration_seconds_bucket{le=\"%g\"} %llu\n",
                           md_http_buckets[i], cum);
    }
    cum += U(m->buckets[MD_HTTP_N_BUCKETS]);
    md_http_snapshot *snap = md_http_snapshot_acquire(s);
    if (!rc)
        rc = md_buf_printf(
            &b,
            "mandate_authorize_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
            "mandate_authorize_duration_seconds_sum %.6f\n"
            "mandate_authorize_duration_seconds_count %llu\n"
            "# HELP mandate_ledger_entries Durable entries in the evidence ledger.\n"
            "# TYPE mandate_ledger_entries gauge\n"
            "mandate_ledger_entries %llu\n"
            "# HELP mandate_policies_version Version of the active policy set (1 at start).\n"
            "# TYPE mandate_policies_version gauge\n"
            "mandate_policies_version %llu\n"
            "# HELP mandate_http_responses_total HTTP responses by status class.\n"
            "# TYPE mandate_http_responses_total counter\n"
            "mandate_http_responses_total{class=\"2xx\"} %llu\n"
            "mandate_http_responses_total{class=\"4xx\"} %llu\n"
            "mandate_http_responses_total{class=\"5xx\"} %llu\n"
            "# HELP mandate_http_limit_rejections_total Requests refused by a size or count "
            "limit before routing.\n"
            "# TYPE mandate_http_limit_rejections_total counter\n"
            "mandate_http_limit_rejections_total %llu\n",
            cum, (double)U(m->latency_us_sum) / 1e6, U(m->latency_count),
            (unsigned long long)mandate_ledger_size(s->ledger), (unsigned long long)snap->version,
            U(m->status[2]), U(m->status[4]), U(m->status[5]), U(m->rejected_limits));
    md_http_snapshot_release(snap);
    /* Pending approvals (at most 10,000 counted; -1 when the store cannot say). */
    char *pending = NULL;
    mandate_diag pd = {0};
    long long n_pending = -1;
    if (!mandate_approval_list(mandate_registry_account(s->registry), "pending", 10000, &pending,
                               &pd)) {
        json_t *pj = json_loads(pending, 0, NULL);
        n_pending = pj ? (long long)json_array_size(pj) : -1;
        json_decref(pj);
    }
    free(pending);
    if (!rc)
        rc = md_buf_printf(&b,
                           "# HELP mandate_approvals_pending Approvals waiting for a human.\n"
                           "# TYPE mandate_approvals_pending gauge\n"
                           "mandate_approvals_pending %lld\n",
                           n_pending);
    /* The ledger's group commits: entries per commit (batch size) and commit time. */
    mandate_ledger_stats ls;
    mandate_ledger_get_stats(s->ledger, &ls);
    if (!rc)
        rc = md_buf_printf(
            &b,
            "# HELP mandate_ledger_commits_total Ledger transactions committed (one fsync each).\n"
            "# TYPE mandate_ledger_commits_total counter\n"
            "mandate_ledger_commits_total %llu\n"
            "# HELP mandate_ledger_committed_entries_total Entries those commits held.\n"
            "# TYPE mandate_ledger_committed_entries_total counter\n"
            "mandate_ledger_committed_entries_total %llu\n"
            "# HELP mandate_ledger_commit_max_entries The most entries one commit held.\n"
            "# TYPE mandate_ledger_commit_max_entries gauge\n"
            "mandate_ledger_commit_max_entries %llu\n"
            "# HELP mandate_ledger_write_seconds_total Time spent writing batches before commit.\n"
            "# TYPE mandate_ledger_write_seconds_total counter\n"
            "mandate_ledger_write_seconds_total %.6f\n"
            "# HELP mandate_ledger_commit_seconds_total Time spent committing (the fsync).\n"
            "# TYPE mandate_ledger_commit_seconds_total counter\n"
            "mandate_ledger_commit_seconds_total %.6f\n"
            "# HELP mandate_ledger_commit_max_seconds The longest commit.\n"
            "# TYPE mandate_ledger_commit_max_seconds gauge\n"
            "mandate_ledger_commit_max_seconds %.6f\n",
            (unsigned long long)ls.commits, (unsigned long long)ls.entries,
            (unsigned long long)ls.max_batch, (double)ls.write_ns / 1e9, (double)ls.commit_ns / 1e9,
            (double)ls.max_commit_ns / 1e9);
    if (!rc)
        rc =
            md_buf_printf(&b, "# HELP mandate_ledger_group_commit_seconds Time from the start of a "
                              "group commit's write to its entries being durable.\n"
                              "# TYPE mandate_ledger_group_commit_seconds histogram\n");
    unsigned long long in_bucket = 0;
    for (unsigned i = 0; i < MANDATE_LEDGER_COMMIT_BUCKETS && !rc; i++) {
        in_bucket += ls.commit_hist[i];
        rc = md_buf_printf(&b, "mandate_ledger_group_commit_seconds_bucket{le=\"%g\"} %llu\n",
                           (double)MANDATE_LEDGER_COMMIT_BOUND_NS(i) / 1e9, in_bucket);
    }
    if (!rc)
        rc = md_buf_printf(&b,
                           "mandate_ledger_group_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
                           "mandate_ledger_group_commit_seconds_sum %.6f\n"
                           "mandate_ledger_group_commit_seconds_count %llu\n",
                           in_bucket + ls.commit_hist[MANDATE_LEDGER_COMMIT_BUCKETS],
                           (double)(ls.write_ns + ls.commit_ns) / 1e9,
                           (unsigned long long)ls.commits);
    if (rc) {
        md_buf_release(&b);
        return md_http_error(rs, 500, "internal", "cannot format metrics");
    }
    free(rs->body);
    rs->body = b.data;
    rs->body_len = b.len;
    rs->content_type = "text/plain; version=0.0.4";
    rs->status = 200;
    return 200;
}
