/*
 * text.c: the review and report JSON as text for a terminal (govern.h, `--format text`). The
 * review: a header with the window and the summary, then one block per finding (severity, kind,
 * subject, title, evidence, the fix indented). The report: the overall measures, the theatre
 * verdict and one line per workflow.
 */
#include <jansson.h>
#include <time.h>

#include "govern/govern.h"

static int date(md_buf *out, json_t *ms)
{
    time_t t = (time_t)(json_integer_value(ms) / 1000);
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm))
        return md_buf_printf(out, "%lld", (long long)json_integer_value(ms));
    return md_buf_puts(out, buf);
}

/* Parses a review or report JSON object and writes "mandate WHAT: SINCE .. UNTIL (ledger: N
 * entries, M scanned)"; NULL (with *rc set) when it is not a JSON object. */
static json_t *heading(const char *json, size_t len, const char *what, md_buf *out, int *rc,
                       md_diag *d)
{
    json_t *j = json_loadb(json, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        *rc = md_diag_set(d, MANDATE_EPARSE, 0, 0, "%s: not a %s JSON object", what, what);
        return NULL;
    }
    *rc = md_buf_printf(out, "mandate %s: ", what);
    if (!*rc)
        *rc = date(out, json_object_get(j, "since_ms"));
    if (!*rc)
        *rc = md_buf_puts(out, " .. ");
    if (!*rc)
        *rc = date(out, json_object_get(j, "until_ms"));
    json_t *ledger = json_object_get(j, "ledger");
    if (!*rc)
        *rc = md_buf_printf(out, " (ledger: %lld entries, %lld scanned)\n",
                            (long long)json_integer_value(json_object_get(ledger, "size")),
                            (long long)json_integer_value(json_object_get(ledger, "scanned")));
    return j;
}

static int done(json_t *j, int rc, const char *what, md_diag *d)
{
    json_decref(j);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "%s: cannot write the text (%s)", what,
                           mandate_strerror(rc));
    return 0;
}

/* Appends text with every line indented by four spaces. */
static int indented(md_buf *out, const char *text)
{
    int rc = 0;
    for (const char *p = text; *p && !rc;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        rc = md_buf_printf(out, "    %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
    return rc;
}

int md_review_text(const char *json, size_t len, md_buf *out, md_diag *d)
{
    int rc = 0;
    json_t *j = heading(json, len, "review", out, &rc, d);
    if (!j)
        return rc;
    json_t *sum = json_object_get(j, "summary");
    if (!rc)
        rc = md_buf_printf(out, "%lld findings: %lld high, %lld medium, %lld low\n",
                           (long long)json_integer_value(json_object_get(sum, "total")),
                           (long long)json_integer_value(json_object_get(sum, "high")),
                           (long long)json_integer_value(json_object_get(sum, "medium")),
                           (long long)json_integer_value(json_object_get(sum, "low")));
    json_t *fs = json_object_get(j, "findings");
    for (size_t i = 0; i < json_array_size(fs) && !rc; i++) {
        json_t *f = json_array_get(fs, i), *ev = json_object_get(f, "evidence");
        const char *sev = json_string_value(json_object_get(f, "severity"));
        char upper[8] = "";
        for (size_t k = 0; sev && sev[k] && k + 1 < sizeof upper; k++)
            upper[k] = (char)(sev[k] >= 'a' && sev[k] <= 'z' ? sev[k] - 32 : sev[k]);
        rc = md_buf_printf(out, "\n%-6s %s  %s\n  %s\n  evidence (%lld):", upper,
                           json_string_value(json_object_get(f, "kind")),
                           json_string_value(json_object_get(f, "subject")),
                           json_string_value(json_object_get(f, "title")),
                           (long long)json_integer_value(json_object_get(f, "evidence_count")));
        for (size_t k = 0; k < json_array_size(ev) && !rc; k++)
            rc = md_buf_printf(out, " %lld", (long long)json_integer_value(json_array_get(ev, k)));
        if (!rc && json_integer_value(json_object_get(f, "evidence_count")) >
                       (json_int_t)json_array_size(ev))
            rc = md_buf_puts(out, " ...");
        if (!rc)
            rc = md_buf_puts(out, "\n  fix:\n");
        const char *fix = json_string_value(json_object_get(f, "fix"));
        if (!rc)
            rc = indented(out, fix ? fix : "");
    }
    return done(j, rc, "review", d);
}

/* A share as a percentage with one decimal, or "n/a" for null. */
static int share(md_buf *out, const char *label, json_t *m, const char *key)
{
    json_t *v = json_object_get(m, key);
    return json_is_number(v) ? md_buf_printf(out, "  %s %.1f%%", label, 100 * json_number_value(v))
                             : md_buf_printf(out, "  %s n/a", label);
}

static int measures(md_buf *out, json_t *m)
{
    int rc =
        md_buf_printf(out, "decisions %lld, AI decisions %lld (allowed %lld), impactful %lld\n",
                      (long long)json_integer_value(json_object_get(m, "decisions")),
                      (long long)json_integer_value(json_object_get(m, "ai_decisions")),
                      (long long)json_integer_value(json_object_get(m, "ai_allowed")),
                      (long long)json_integer_value(json_object_get(m, "impactful")));
    static const char *const keys[][2] = {
        {"accountable", "accountable_share"}, {"approval", "approval_share"},
        {"digest", "digest_share"},           {"delegation", "delegation_share"},
        {"override", "override_rate"},        {"coverage", "coverage"}};
    for (size_t i = 0; i < MD_ARRAY_LEN(keys) && !rc; i++)
        rc = share(out, keys[i][0], m, keys[i][1]);
    return rc ? rc : md_buf_puts(out, "\n");
}

int md_govern_report_text(const char *json, size_t len, md_buf *out, md_diag *d)
{
    int rc = 0;
    json_t *j = heading(json, len, "report", out, &rc, d);
    if (!j)
        return rc;
    json_t *th = json_object_get(j, "theatre");
    if (!rc)
        rc =
            md_buf_printf(out, "buckets of %lld h\noverall: ",
                          (long long)json_integer_value(json_object_get(j, "bucket_ms")) / 3600000);
    if (!rc)
        rc = measures(out, json_object_get(j, "overall"));
    const char *reason = json_string_value(json_object_get(th, "reason"));
    if (!rc)
        rc = md_buf_printf(out, "theatre: %s%s%s\n",
                           json_is_true(json_object_get(th, "flag")) ? "YES" : "no",
                           reason ? ": " : "", reason ? reason : "");
    json_t *wfs = json_object_get(j, "workflows");
    for (size_t i = 0; i < json_array_size(wfs) && !rc; i++) {
        json_t *w = json_array_get(wfs, i);
        const char *owner = json_string_value(json_object_get(w, "owner"));
        rc = md_buf_printf(
            out, "\n%s (owner %s, theatre %s): ", json_string_value(json_object_get(w, "workflow")),
            owner ? owner : "none",
            json_is_true(json_object_get(json_object_get(w, "theatre"), "flag")) ? "YES" : "no");
        if (!rc)
            rc = measures(out, json_object_get(w, "totals"));
    }
    return done(j, rc, "report", d);
}
