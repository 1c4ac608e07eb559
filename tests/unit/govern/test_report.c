/* test_report.c: md_report_build (src/govern/report.c) on small ledgers written through the real
 * ledger API with chosen entry times, every figure checked against values computed by hand
 * (docs/report.md): bucket edges, each metric, workflows, nulls, rounding, the theatre rule with
 * a flag and near misses, errors; and one ledger written by the real registry, agent path,
 * approvals and outcomes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scratch.h"
#include "govern/report.h"
#include "mandate/mandate.h"

#define DAY 86400000LL
#define HOUR 3600000LL
static const int64_t S = 1800000000000LL; /* the start of most windows */

typedef struct lg {
    char dir[64];
    mandate_ledger *l;
    uint64_t last;
    bool pending;
    char *text; /* the last report's JSON */
} lg;

static void lg_open(lg *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->dir, sizeof g->dir, "/tmp/mandate-report-XXXXXX");
    assert_non_null(mkdtemp(g->dir));
    assert_int_equal(rmdir(g->dir), 0);
    mandate_diag d;
    if (mandate_ledger_init(g->dir, "test.report/log", &d))
        fail_msg("init: %s", d.message);
    char db[128], key[128];
    snprintf(db, sizeof db, "%s/mandate.db", g->dir);
    snprintf(key, sizeof key, "%s/ledger.key", g->dir);
    mandate_ledger_opts o = {.db_path = db, .key_path = key};
    if (mandate_ledger_open(&g->l, &o, &d))
        fail_msg("open: %s", d.message);
}

static void lg_close(lg *g)
{
    mandate_ledger_close(g->l);
    free(g->text);
    assert_int_equal(scratch_remove(g->dir), 0);
}

/* Queues one entry; returns its index. */
static uint64_t put(lg *g, int type, int64_t t, const char *fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof body);
    mandate_ledger_entry e = {type, t, body, (size_t)n};
    mandate_diag d;
    if (mandate_ledger_submit(g->l, &e, &g->last, &d))
        fail_msg("submit %s: %s", body, d.message);
    g->pending = true;
    return g->last;
}

static void flush(lg *g)
{
    mandate_diag d;
    if (g->pending && mandate_ledger_wait(g->l, g->last, &d))
        fail_msg("wait: %s", d.message);
    g->pending = false;
}

/* A JSON string literal for s, or null. Rotating buffers: up to 8 per call of a builder. */
static const char *js(const char *s)
{
    static char buf[8][256];
    static int k;
    if (!s)
        return "null";
    char *o = buf[k++ % 8];
    size_t n = 0;
    o[n++] = '"';
    for (; *s && n < 250; s++) {
        if (*s == '"' || *s == '\\' || *s == '\n')
            o[n++] = '\\';
        o[n++] = *s == '\n' ? 'n' : *s;
    }
    o[n++] = '"';
    o[n] = '\0';
    return o;
}

static void workflow_add(lg *g, int64_t t, const char *uid, const char *owner, bool outputs)
{
    char own[300] = "";
    if (owner)
        snprintf(own, sizeof own, "\"owner\":%s", js(owner));
    put(g, MANDATE_ENTRY_REGISTRY, t,
        "{\"actor\":\"Human::\\\"olga\\\"\",\"kind\":\"workflow\",\"op\":\"add\",\"principal\":{"
        "\"impacts\":[\"customer\"]%s%s%s},\"uid\":%s}",
        outputs ? ",\"outputs\":[\"code\"]" : "", owner ? "," : "", own, js(uid));
}

static void delegation(lg *g, int64_t t, const char *jti, int64_t life_s, bool actions,
                       bool resources)
{
    long long iat = (long long)(t / 1000);
    put(g, MANDATE_ENTRY_DELEGATION, t,
        "{\"actions\":[%s],\"exp\":%lld,\"iat\":%lld,\"jti\":%s,\"op\":\"delegate\","
        "\"resources\":[%s],\"subject\":\"Agent::\\\"a\\\"\",\"workflow\":null}",
        actions ? "\"Action::\\\"send\\\"\"" : "", iat + life_s, iat, js(jti),
        resources ? "\"Ticket\"" : "");
}

/* An agent-path decision; impact is the inside of the array, e.g. "\"customer\"". */
static uint64_t agent(lg *g, int64_t t, const char *decision, const char *wf, const char *impact,
                      const char *accountable, const char *mode, const char *jti)
{
    return put(
        g, MANDATE_ENTRY_DECISION, t,
        "{\"accountable\":%s,\"action\":\"Action::\\\"send\\\"\",\"approval\":{\"id\":"
        "\"apr_1\",\"status\":\"used\"},\"check\":\"none\",\"decision\":%s,\"delegation\":%s,"
        "\"impact\":[%s],\"kind\":\"agent\",\"mode\":%s,\"principal\":\"Agent::\\\"a\\\"\","
        "\"usage\":{\"day\":1,\"hour\":1},\"workflow\":%s}",
        js(accountable), js(decision), js(jti), impact, js(mode), js(wf));
}

static uint64_t plain(lg *g, int64_t t, bool allow)
{
    return put(
        g, MANDATE_ENTRY_DECISION, t,
        "{\"action\":\"Action::\\\"read\\\"\",\"api\":\"authorize\",\"decision\":%s,"
        "\"principal\":\"Human::\\\"h\\\"\",\"reasons\":[\"p0\"],\"resource\":\"Doc::\\\"d\\\"\"}",
        allow ? "\"allow\"" : "\"deny\"");
}

static void outcome(lg *g, int64_t t, uint64_t decision, const char *sha, const char *disposition)
{
    put(g, MANDATE_ENTRY_OUTCOME, t,
        "{\"decision\":%llu,\"disposition\":%s,\"kind\":\"code\",\"sha256\":%s,\"uri\":null}",
        (unsigned long long)decision, js(disposition), js(sha));
}

/* dwell or request < 0: null. */
static void approval(lg *g, int64_t t, const char *event, long long dwell, long long request)
{
    char dw[32] = "null", rq[32] = "null";
    if (dwell >= 0)
        snprintf(dw, sizeof dw, "%lld", dwell);
    if (request >= 0)
        snprintf(rq, sizeof rq, "%lld", request);
    put(g, MANDATE_ENTRY_APPROVAL, t,
        "{\"approval\":\"apr_1\",\"approver\":\"Human::\\\"lena\\\"\",\"dwell_ms\":%s,\"event\":%s,"
        "\"mode\":\"verified\",\"request_index\":%s}",
        dw, js(event), rq);
}

static int build(lg *g, int64_t since, int64_t until, int64_t long_s, char **out, md_diag *d)
{
    flush(g);
    md_report_opts o = {since, until, long_s};
    md_diag_clear(d);
    return md_report_build(g->l, &o, out, d);
}

/* Builds the report (twice: the text must be the same), parses it strictly. */
static json_t *report(lg *g, int64_t since, int64_t until, int64_t long_s)
{
    md_diag d;
    char *a = NULL, *b = NULL;
    if (build(g, since, until, long_s, &a, &d))
        fail_msg("report: %s", d.msg);
    assert_int_equal(build(g, since, until, long_s, &b, &d), 0);
    assert_string_equal(a, b);
    free(b);
    json_error_t err;
    json_t *root = json_loads(a, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        fail_msg("report is not JSON: %s: %s", err.text, a);
    free(g->text);
    g->text = a;
    return root;
}

/* The value at a dot path ("workflows.0.series.3.coverage"). */
static json_t *at(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && v;
         part = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(part, NULL, 10))
                             : json_object_get(v, part);
    if (!v)
        fail_msg("no %s in the report", path);
    return v;
}

static void expect_int(json_t *root, const char *path, long long want)
{
    json_t *v = at(root, path);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("%s: want %lld, got %s", path, want, json_dumps(v, JSON_ENCODE_ANY));
}

/* want is the exact text expected in the JSON: "null", "1", "0", "0.5714", "-0.12". */
static void expect_num(json_t *root, const char *path, const char *want)
{
    json_t *v = at(root, path);
    char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    bool ok = strcmp(want, "null") == 0 ? json_is_null(v)
              : strchr(want, '.')
                  ? json_is_real(v) && json_real_value(v) == strtod(want, NULL)
                  : json_is_integer(v) && json_integer_value(v) == strtoll(want, NULL, 10);
    if (!ok)
        fail_msg("%s: want %s, got %s", path, want, got);
    free(got);
}

/* Checks prefix.key for every "key=value" of spec (values as expect_num takes them). */
static void expect_all(json_t *root, const char *prefix, const char *spec)
{
    char buf[1024], path[128];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        snprintf(path, sizeof path, "%s.%s", prefix, kv);
        expect_num(root, path, eq + 1);
    }
}

static void expect_str(json_t *root, const char *path, const char *want)
{
    json_t *v = at(root, path);
    if (want ? !json_is_string(v) || strcmp(json_string_value(v), want) : !json_is_null(v))
        fail_msg("%s: want %s", path, want ? want : "null");
}

static void expect_text(const lg *g, const char *needle)
{
    if (!strstr(g->text, needle))
        fail_msg("the report text lacks %s", needle);
}

/* ---- windows and buckets ---- */

static void test_empty_ledger_90_days(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    int64_t until = S + 90 * DAY;
    json_t *r = report(&g, S, until, 0);
    expect_int(r, "version", 1);
    expect_int(r, "since_ms", S);
    expect_int(r, "until_ms", until);
    expect_int(r, "bucket_ms", 7 * DAY);
    expect_int(r, "ledger.size", 0);
    expect_int(r, "ledger.scanned", 0);
    assert_int_equal(json_array_size(at(r, "series")), 13);
    /* Buckets end at until_ms; the first is cut at since_ms (6 days). */
    expect_int(r, "series.0.start_ms", S);
    expect_int(r, "series.0.end_ms", until - 12 * 7 * DAY);
    expect_int(r, "series.1.start_ms", until - 12 * 7 * DAY);
    expect_int(r, "series.12.start_ms", until - 7 * DAY);
    expect_int(r, "series.12.end_ms", until);
    const char *nulls[] = {"accountable_share", "approval_share", "digest_share",
                           "delegation_share",  "override_rate",  "dwell_p50_ms",
                           "dwell_p90_ms",      "coverage"};
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++) {
        char p[64];
        snprintf(p, sizeof p, "overall.%s", nulls[i]);
        expect_num(r, p, "null");
        snprintf(p, sizeof p, "series.5.%s", nulls[i]);
        expect_num(r, p, "null");
    }
    expect_int(r, "overall.decisions", 0);
    assert_int_equal(json_array_size(at(r, "workflows")), 0);
    assert_false(json_is_true(at(r, "theatre.flag")));
    expect_num(r, "theatre.adoption_change", "null");
    expect_num(r, "theatre.coverage_change", "null");
    assert_true(json_is_string(at(r, "definitions.coverage")));
    assert_true(json_is_string(at(r, "definitions.theatre")));
    json_decref(r);
    lg_close(&g);
}

static void test_bucket_sizes(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    json_t *r = report(&g, S, S + 28 * DAY, 0); /* exactly 28 days: weeks */
    expect_int(r, "bucket_ms", 7 * DAY);
    assert_int_equal(json_array_size(at(r, "series")), 4);
    json_decref(r);
    r = report(&g, S, S + 28 * DAY - 1, 0); /* just under: days */
    expect_int(r, "bucket_ms", DAY);
    assert_int_equal(json_array_size(at(r, "series")), 28);
    expect_int(r, "series.0.start_ms", S);
    expect_int(r, "series.0.end_ms", S + DAY - 1);
    json_decref(r);
    r = report(&g, S, S + 12 * HOUR, 0); /* under a day: one short bucket */
    expect_int(r, "bucket_ms", DAY);
    assert_int_equal(json_array_size(at(r, "series")), 1);
    expect_int(r, "series.0.start_ms", S);
    expect_int(r, "series.0.end_ms", S + 12 * HOUR);
    json_decref(r);
    lg_close(&g);
}

static void test_bucket_edges(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    int64_t until = S + 5 * DAY / 2; /* 2.5 days: [S, S+12h) [S+12h, S+36h) [S+36h, until) */
    plain(&g, S - 1, true);          /* before the window */
    plain(&g, S, true);              /* at since_ms: bucket 0 */
    plain(&g, S + 12 * HOUR - 1, true);
    plain(&g, S + 12 * HOUR, true); /* on a boundary: the later bucket */
    plain(&g, S + 36 * HOUR, true);
    plain(&g, until - 1, true);
    plain(&g, until, true); /* at until_ms: outside */
    plain(&g, until + DAY, true);
    json_t *r = report(&g, S, until, 0);
    expect_int(r, "ledger.size", 8);
    expect_int(r, "ledger.scanned", 8);
    assert_int_equal(json_array_size(at(r, "series")), 3);
    expect_int(r, "series.0.start_ms", S);
    expect_int(r, "series.0.end_ms", S + 12 * HOUR);
    expect_int(r, "series.1.start_ms", S + 12 * HOUR);
    expect_int(r, "series.1.end_ms", S + 36 * HOUR);
    expect_int(r, "series.2.end_ms", until);
    expect_int(r, "series.0.decisions", 2);
    expect_int(r, "series.1.decisions", 1);
    expect_int(r, "series.2.decisions", 2);
    expect_int(r, "overall.decisions", 5);
    expect_int(r, "overall.ai_decisions", 0);
    json_decref(r);
    lg_close(&g);
}

/* ---- every metric by hand ---- */

#define SHA "88a9d0ac5737d729c10546f9d742238095fe85a38e616ca57fc7e3115ce34e8b"

static void test_metrics(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    int64_t until = S + 10 * DAY, t = S + HOUR;
    const char *W1 = "Workflow::\"support\"", *W2 = "Workflow::\"coding\"";
    const char *alice = "Human::\"alice\"", *lena = "Human::\"lena\"", *bob = "Human::\"bob\"";
    workflow_add(&g, S - 5 * DAY, W1, alice, true);
    workflow_add(&g, S - 5 * DAY, W2, bob, false);
    workflow_add(&g, S - 5 * DAY, "Workflow::\"idle\"", "Human::\"ivan\"", true);
    delegation(&g, S - DAY, "good", 900, true, true);
    delegation(&g, S - DAY, "long", 28801, true, true);
    delegation(&g, S - DAY, "wide", 900, false, true);
    delegation(&g, S - DAY, "exact", 28800, true, true);
    uint64_t before =
        agent(&g, S - HOUR, "approval_required", W1, "\"customer\"", NULL, NULL, "good");
    /* Bucket 0. */
    uint64_t d1 = agent(&g, t, "allow", W1, "\"customer\"", alice, "delegated", "good");
    uint64_t d2 = agent(&g, t, "allow", W1, "\"internal\"", alice, "delegated", "long");
    uint64_t d3 =
        agent(&g, t, "allow", W1, "\"production\",\"internal\"", lena, "verified", "exact");
    agent(&g, t, "allow", W1, "\"employee\"", "Agent::\"x\"", "decided", "nope");
    agent(&g, t, "deny", W1, "\"customer\"", NULL, NULL, "good");
    uint64_t d6 = agent(&g, t, "approval_required", W1, "\"customer\"", NULL, NULL, "good");
    uint64_t d7 = plain(&g, t, true);
    uint64_t d8 = agent(&g, t, "allow", W2, "\"customer\"", bob, "auto", "wide");
    agent(&g, t, "allow", NULL, "", NULL, NULL, "good");
    /* Bucket 2 and 3. */
    agent(&g, S + 2 * DAY, "deny", "Workflow::\"ghost\"", "", NULL, NULL, NULL);
    uint64_t d10 =
        agent(&g, S + 3 * DAY + 300000, "allow", W1, "\"customer\"", alice, "verified", "good");
    outcome(&g, S + 2 * HOUR, d1, SHA, "accepted");
    outcome(&g, S + 3 * HOUR, d1, SHA, "edited"); /* a second outcome: counted, digest once */
    outcome(&g, S - 2 * DAY, d2, SHA,
            "rejected"); /* time before the window: still its decision's */
    outcome(&g, S + 2 * HOUR, d7, SHA, "accepted");
    outcome(&g, S + 2 * HOUR, d8, SHA, "edited");
    outcome(&g, until, d10, SHA, "accepted"); /* at until_ms: not counted */
    outcome(&g, S + 4 * HOUR, d3, "", "accepted");
    outcome(&g, S + 4 * HOUR, before, SHA, "accepted"); /* its decision is before the window */
    approval(&g, S + DAY + HOUR, "approved", 1000, (long long)before);
    approval(&g, S + DAY + 2 * HOUR, "approved", 5000, (long long)d6);
    approval(&g, S + DAY + 3 * HOUR, "rejected", -1, (long long)d6);
    approval(&g, S + DAY + 3 * HOUR, "viewed", -1, -1);
    approval(&g, S + 2 * DAY, "approved", 3000, -1);
    approval(&g, S - 1, "approved", 9999, (long long)d6);
    approval(&g, S + 2 * DAY, "expired", -1, -1);
    approval(&g, S + 3 * DAY, "approved", 7000, (long long)before);
    workflow_add(&g, until + 1, W1, "Human::\"mallory\"", true); /* after the window */
    workflow_add(&g, S + 5 * DAY, W2, "Human::\"carol\"", true); /* a later add wins */
    json_t *r = report(&g, S, until, 0);

    expect_all(r, "overall",
               "decisions=11 ai_decisions=10 ai_allowed=7 impactful=5 accountable_share=0.8 "
               "approval_share=0.6 digest_share=0.5 delegation_share=0.5714 override_rate=0.5 "
               "outcomes=6 approvals=5 dwell_p50_ms=3000 dwell_p90_ms=7000 coverage=0.6179");
    expect_text(&g, "\"delegation_share\":0.5714,");

    expect_all(r, "series.0",
               "decisions=9 ai_decisions=8 ai_allowed=6 impactful=4 accountable_share=0.75 "
               "approval_share=0.5 digest_share=0.6 delegation_share=0.5 outcomes=6 "
               "override_rate=0.5 approvals=0 dwell_p50_ms=null coverage=0.5875");
    expect_all(r, "series.1",
               "decisions=0 approvals=3 dwell_p50_ms=1000 dwell_p90_ms=5000 coverage=null");
    expect_all(r, "series.2", "decisions=1 ai_decisions=1 approvals=1 dwell_p50_ms=3000");
    expect_all(r, "series.3",
               "ai_allowed=1 accountable_share=1 approval_share=1 digest_share=0 "
               "delegation_share=1 override_rate=null dwell_p90_ms=7000 coverage=0.75");
    expect_int(r, "series.9.decisions", 0);

    json_t *wfs = at(r, "workflows");
    assert_int_equal(json_array_size(wfs), 4);
    expect_str(r, "workflows.0.workflow", "Workflow::\"coding\"");
    expect_str(r, "workflows.1.workflow", "Workflow::\"ghost\"");
    expect_str(r, "workflows.2.workflow", "Workflow::\"idle\"");
    expect_str(r, "workflows.3.workflow", "Workflow::\"support\"");
    expect_str(r, "workflows.0.owner", "Human::\"carol\"");
    expect_str(r, "workflows.1.owner", NULL);
    expect_str(r, "workflows.2.owner", "Human::\"ivan\"");
    expect_str(r, "workflows.3.owner", "Human::\"alice\"");

    expect_all(r, "workflows.3.totals",
               "decisions=7 ai_allowed=5 impactful=4 accountable_share=0.75 approval_share=0.75 "
               "digest_share=0.4 delegation_share=0.6 outcomes=4 override_rate=0.5 approvals=4 "
               "dwell_p50_ms=5000 dwell_p90_ms=7000 coverage=0.625");
    expect_int(r, "workflows.3.series.0.decisions", 6);
    expect_int(r, "workflows.3.series.1.approvals", 3);
    expect_int(r, "workflows.3.series.1.dwell_p50_ms", 1000);
    expect_int(r, "workflows.3.series.3.approvals", 1);
    assert_int_equal(json_array_size(at(r, "workflows.3.series")), 10);

    expect_all(r, "workflows.0.totals",
               "decisions=1 accountable_share=1 approval_share=0 digest_share=1 delegation_share=0 "
               "override_rate=1 dwell_p50_ms=null coverage=0.5");

    expect_all(r, "workflows.1.totals", "ai_decisions=1 ai_allowed=0 coverage=null");
    expect_int(r, "workflows.1.series.2.decisions", 1);
    expect_int(r, "workflows.2.totals.decisions", 0);
    expect_num(r, "workflows.2.totals.digest_share", "null");
    json_decref(r);

    /* A shorter long_delegation_s: "exact" (28800 s) no longer counts, nor does "good" at 900. */
    r = report(&g, S, until, 899);
    expect_num(r, "overall.delegation_share", "0");
    json_decref(r);
    r = report(&g, S, until, 28799);
    expect_num(r, "overall.delegation_share", "0.4286"); /* 3 of 7 */
    json_decref(r);
    lg_close(&g);
}

/* Uids that need escapes: ordered by their decoded bytes ('"' before '#', though the raw '\\'
 * sorts after '#'), printed back as valid JSON; an owner with a line break. */
static void test_workflow_names(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    const char *names[] = {"Workflow::\"q#\"", "Workflow::\"caf\u00e9\"", "Workflow::\"q\"\"",
                           "Workflow::\"back\\slash\""};
    workflow_add(&g, S, names[0], "Human::\"line\nbreak\"", false);
    for (int i = 1; i < 4; i++)
        agent(&g, S + i, "deny", names[i], "", NULL, NULL, NULL);
    json_t *r = report(&g, S, S + DAY, 0);
    assert_int_equal(json_array_size(at(r, "workflows")), 4);
    expect_str(r, "workflows.0.workflow", "Workflow::\"back\\slash\"");
    expect_str(r, "workflows.1.workflow", "Workflow::\"caf\xc3\xa9\"");
    expect_str(r, "workflows.2.workflow", "Workflow::\"q\"\"");
    expect_str(r, "workflows.3.workflow", "Workflow::\"q#\"");
    expect_str(r, "workflows.3.owner", "Human::\"line\nbreak\"");
    expect_int(r, "workflows.2.totals.ai_decisions", 1);
    json_decref(r);
    lg_close(&g);
}

/* 1 of 32 is 0.03125: rounded half away from zero to 0.0313; 2 of 3 to 0.6667. */
static void test_rounding(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    delegation(&g, S, "good", 900, true, true);
    for (int i = 0; i < 32; i++)
        agent(&g, S + 1, "allow", NULL, "\"customer\"", i < 2 ? "Human::\"a\"" : NULL,
              i < 3 ? "verified" : "delegated", i == 0 ? "good" : "bad");
    json_t *r = report(&g, S, S + DAY, 0);
    expect_num(r, "overall.delegation_share", "0.0313");
    expect_num(r, "overall.accountable_share", "0.0625");
    expect_num(r, "overall.approval_share", "0.0938"); /* 3/32 = 0.09375 */
    expect_num(r, "overall.coverage", "0.0625");       /* (1 + 2 + 3) / 32 / 3 */
    expect_text(&g, "\"delegation_share\":0.0313,");
    json_decref(r);
    lg_close(&g);
}

/* ---- theatre ---- */

typedef struct half {
    int n, ok; /* allowed agent decisions, and how many on a good delegation */
} half;

/* A window of nb days; the first half's decisions in bucket 0, the second's in the last bucket,
 * and `middle` bad decisions in the middle bucket (which the rule leaves out when nb is odd). */
static json_t *theatre_case(lg *g, int nb, half first, half second, int middle)
{
    lg_open(g);
    int64_t until = S + nb * DAY;
    const char *wf = "Workflow::\"w\"";
    delegation(g, S, "good", 900, true, true);
    for (int i = 0; i < first.n; i++)
        agent(g, S + i, "allow", wf, "\"internal\"", NULL, "delegated",
              i < first.ok ? "good" : "bad");
    for (int i = 0; i < middle; i++)
        agent(g, S + (nb / 2) * DAY + i, "allow", wf, "\"internal\"", NULL, "delegated", "bad");
    for (int i = 0; i < second.n; i++)
        agent(g, until - DAY + i, "allow", wf, "\"internal\"", NULL, "delegated",
              i < second.ok ? "good" : "bad");
    return report(g, S, until, 0);
}

/* Checks the overall theatre and the workflow's (the same decisions). */
static void expect_theatre(json_t *r, bool flag, const char *adoption, const char *coverage,
                           const char *reason_part)
{
    const char *where[] = {"theatre", "workflows.0.theatre"};
    for (int i = 0; i < 2; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s.flag", where[i]);
        if (json_is_true(at(r, p)) != flag)
            fail_msg("%s: want %s", p, flag ? "true" : "false");
        snprintf(p, sizeof p, "%s.adoption_change", where[i]);
        expect_num(r, p, adoption);
        snprintf(p, sizeof p, "%s.coverage_change", where[i]);
        expect_num(r, p, coverage);
        snprintf(p, sizeof p, "%s.reason", where[i]);
        const char *reason = json_string_value(at(r, p));
        if (!reason || !strstr(reason, reason_part))
            fail_msg("%s: '%s' lacks '%s'", p, reason ? reason : "", reason_part);
    }
}

/* Each case: buckets, the two halves, bad decisions in the middle bucket, and the expected flag,
 * changes (as printed) and a part of the reason. */
static const struct theatre_row {
    int nb;
    half first, second;
    int middle;
    bool flag;
    const char *adoption, *coverage, *reason;
} theatre_rows[] = {
    {4,
     {20, 20},
     {25, 22},
     0,
     true,
     "0.25",
     "-0.12",
     "adoption grew 25% (20 to 25 AI decisions) while coverage fell 0.12 (1 to 0.88)"},
    /* exactly +20% and exactly -0.1 */
    {4, {100, 100}, {120, 108}, 0, true, "0.2", "-0.1", "adoption grew 20%"},
    /* near misses: +19%; -0.09; 19 AI decisions in the first half */
    {4,
     {100, 100},
     {119, 100},
     0,
     false,
     "0.19",
     "-0.1597",
     "adoption changed +19%, less than +20%"},
    {4,
     {100, 100},
     {200, 182},
     0,
     false,
     "1",
     "-0.09",
     "coverage changed -0.09, not down by 0.1 or more"},
    {4,
     {19, 19},
     {30, 20},
     0,
     false,
     "0.5789",
     "-0.3333",
     "fewer than 20 AI decisions in a half (first 19, second 30)"},
    /* 5 buckets: the middle one (100 bad decisions) is left out */
    {5, {20, 20}, {25, 22}, 100, true, "0.25", "-0.12", "adoption grew 25%"},
    {4, {0, 0}, {25, 22}, 0, false, "null", "null", "coverage is undefined in a half"},
    {4,
     {40, 40},
     {20, 20},
     0,
     false,
     "-0.5",
     "0",
     "not flagged: adoption changed -50%, less than +20%; coverage changed 0, not down by 0.1"},
};

static void test_theatre(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof theatre_rows / sizeof *theatre_rows; i++) {
        const struct theatre_row *c = &theatre_rows[i];
        lg g;
        json_t *r = theatre_case(&g, c->nb, c->first, c->second, c->middle);
        expect_theatre(r, c->flag, c->adoption, c->coverage, c->reason);
        expect_int(r, "overall.ai_decisions", c->first.n + c->second.n + c->middle);
        json_decref(r);
        lg_close(&g);
    }
}

/* ---- errors ---- */

static void test_errors(void **state)
{
    (void)state;
    lg g;
    lg_open(&g);
    md_diag d;
    char *out = NULL;
    assert_int_equal(build(&g, S, S, 0, &out, &d), MANDATE_EINVAL);
    assert_int_equal(build(&g, S + 1, S, 0, &out, &d), MANDATE_EINVAL);
    assert_int_equal(build(&g, S, S + DAY, -1, &out, &d), MANDATE_EINVAL);
    assert_int_equal(build(&g, INT64_MIN, INT64_MAX, 0, &out, &d), MANDATE_EINVAL);
    assert_int_equal(build(&g, 0, (int64_t)(MD_REPORT_MAX_BUCKETS + 1) * 7 * DAY, 0, &out, &d),
                     MANDATE_ETOOBIG);
    assert_int_equal(build(&g, 0, (int64_t)MD_REPORT_MAX_BUCKETS * 7 * DAY, 0, &out, &d), 0);
    free(out);
    out = NULL;
    md_report_opts o = {S, S + DAY, 0};
    assert_int_equal(md_report_build(NULL, &o, &out, &d), MANDATE_EINVAL);
    assert_int_equal(md_report_build(g.l, NULL, &out, &d), MANDATE_EINVAL);
    assert_null(out);

    /* A field of the wrong type is corrupt, naming the entry. */
    agent(&g, S, "allow", NULL, "", NULL, NULL, NULL);
    uint64_t bad = put(&g, MANDATE_ENTRY_DECISION, S,
                       "{\"decision\":\"allow\",\"impact\":\"customer\",\"kind\":\"agent\"}");
    assert_int_equal(build(&g, S, S + DAY, 0, &out, &d), MANDATE_ECORRUPT);
    assert_null(out);
    char want[64];
    snprintf(want, sizeof want, "ledger entry %llu (decision)", (unsigned long long)bad);
    if (!strstr(d.msg, want))
        fail_msg("message '%s' lacks '%s'", d.msg, want);
    /* At or after until_ms it is not read (before since_ms it is: approval requests join). */
    assert_int_equal(build(&g, S - DAY, S, 0, &out, &d), 0);
    free(out);
    lg_close(&g);

    lg_open(&g); /* a body that is not an object */
    put(&g, MANDATE_ENTRY_OUTCOME, S, "\"not an object\"");
    assert_int_equal(build(&g, S, S + DAY, 0, &out, &d), 0); /* no allowed decision to join */
    free(out);
    plain(&g, S, true);
    put(&g, MANDATE_ENTRY_OUTCOME, S, "\"not an object\"");
    assert_int_equal(build(&g, S, S + DAY, 0, &out, &d), MANDATE_ECORRUPT);
    lg_close(&g);

    const char *bodies[] = {
        "{\"decision\":1.5,\"disposition\":\"edited\"}", /* the index is not an integer */
        "{\"decision\":0,\"disposition\":7}",            /* a field of the wrong type */
        "{\"decision\":0,\"sha256\":[]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        lg_open(&g);
        plain(&g, S, true);
        put(&g, MANDATE_ENTRY_OUTCOME, S, "%s", bodies[i]);
        int rc = build(&g, S, S + DAY, 0, &out, &d);
        if (rc != MANDATE_ECORRUPT)
            fail_msg("body %zu: want ECORRUPT, got %d", i, rc);
        lg_close(&g);
    }
}

/* ---- the real producers: registry, agent path, approval, outcome ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char real_policies[] =
    "@id(\"draft\") @impact(\"customer\")\n"
    "permit (principal is Agent, action == Action::\"draft\", resource);\n"
    "@id(\"send\") @impact(\"customer\") @approval(\"verified\") "
    "@approvers(\"Group::\\\"leads\\\"\")\n"
    "permit (principal is Agent, action == Action::\"send\", resource);\n"
    "@id(\"people\")\n"
    "permit (principal is Human, action, resource);\n";

static mandate_agent_result *decide(mandate_registry *r, const char *tok, const char *action,
                                    const char *approval_id)
{
    mandate_agent_request q = {
        .token = tok, .action = action, .resource = "Ticket::\"T-1\"", .approval_id = approval_id};
    mandate_agent_result *res = NULL;
    mandate_diag d;
    if (mandate_agent_authorize(r, &q, &res, &d) || !res)
        fail_msg("authorize: %s", d.message);
    return res;
}

static void add(mandate_registry *r, mandate_principal p)
{
    mandate_diag d;
    if (mandate_registry_add(r, &p, "Human::\"olga\"", &d))
        fail_msg("add %s: %s", p.id, d.message);
}

static void test_real_producers(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mandate-report-real-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(rmdir(dir), 0);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(dir, "test.report/real", &d), 0);
    mandate_registry *r = NULL;
    mandate_registry_opts ro = {.data_dir = dir};
    if (mandate_registry_open(&r, &ro, &d))
        fail_msg("registry: %s", d.message);
    int64_t t0 = wall_ms();
    const char *leads[] = {"leads"}, *outs[] = {"customer_response"}, *imps[] = {"customer"};
    add(r, (mandate_principal){.kind = MANDATE_KIND_GROUP, .id = "leads"});
    add(r, (mandate_principal){.kind = MANDATE_KIND_HUMAN, .id = "alice"});
    add(r, (mandate_principal){
               .kind = MANDATE_KIND_HUMAN, .id = "lena", .member_of = leads, .n_member_of = 1});
    add(r, (mandate_principal){.kind = MANDATE_KIND_WORKFLOW,
                               .id = "support-reply",
                               .owner = "alice",
                               .outputs = outs,
                               .n_outputs = 1,
                               .impacts = imps,
                               .n_impacts = 1});
    add(r, (mandate_principal){.kind = MANDATE_KIND_AGENT,
                               .id = "drafter",
                               .owner = "alice",
                               .workflow = "support-reply"});
    if (mandate_registry_set_policies(r, real_policies, strlen(real_policies), &d))
        fail_msg("policies: %s", d.message);
    const char *acts[] = {"Action::\"draft\"", "Action::\"send\""}, *res[] = {"Ticket"};
    mandate_delegation dl = {.subject = "Agent::\"drafter\"",
                             .delegator = "Human::\"alice\"",
                             .task = "answer T-1",
                             .workflow = "Workflow::\"support-reply\"",
                             .actions = acts,
                             .n_actions = 2,
                             .resources = res,
                             .n_resources = 1,
                             .max_uses = 10};
    char *tok = NULL;
    mandate_token_error te;
    if (mandate_registry_delegate(r, &dl, "Human::\"alice\"", &tok, &te, &d))
        fail_msg("delegate: %s", d.message);

    mandate_agent_result *a = decide(r, tok, "Action::\"draft\"", NULL);
    assert_string_equal(mandate_agent_result_decision(a), "allow");
    mandate_agent_result_free(a);
    mandate_agent_result *b = decide(r, tok, "Action::\"send\"", NULL);
    assert_string_equal(mandate_agent_result_decision(b), "approval_required");
    char apr[64];
    snprintf(apr, sizeof apr, "%s", mandate_agent_result_approval_id(b));
    mandate_agent_result_free(b);
    mandate_account *acc = mandate_registry_account(r);
    char *view = NULL;
    if (mandate_approval_view(acc, apr, "Human::\"lena\"", t0 + 1000, &view, &d))
        fail_msg("view: %s", d.message);
    free(view);
    mandate_approval_input in = {.id = apr,
                                 .approver = "Human::\"lena\"",
                                 .approve = true,
                                 .mode = "verified",
                                 .now_ms = t0 + 2500};
    if (mandate_registry_approve(r, &in, NULL, &d))
        fail_msg("approve: %s", d.message);
    mandate_agent_result *c = decide(r, tok, "Action::\"send\"", apr);
    assert_string_equal(mandate_agent_result_decision(c), "allow");
    mandate_outcome o = {.decision = mandate_agent_result_ledger_index(c),
                         .kind = "customer_response",
                         .sha256 = SHA,
                         .disposition = "edited",
                         .now_ms = t0 + 3000};
    mandate_agent_result_free(c);
    if (mandate_outcome_record(acc, &o, NULL, &d))
        fail_msg("outcome: %s", d.message);
    free(tok);

    md_report_opts opts = {t0 - HOUR, t0 + HOUR, 0};
    char *text = NULL;
    md_diag md = {0};
    if (md_report_build(mandate_registry_ledger(r), &opts, &text, &md))
        fail_msg("report: %s", md.msg);
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    expect_all(j, "overall",
               "decisions=3 ai_decisions=3 ai_allowed=2 impactful=2 accountable_share=1 "
               "approval_share=0.5 digest_share=0.5 delegation_share=1 override_rate=1 outcomes=1 "
               "approvals=1 dwell_p50_ms=1500 coverage=0.75");
    assert_int_equal(json_array_size(at(j, "workflows")), 1);
    expect_str(j, "workflows.0.workflow", "Workflow::\"support-reply\"");
    expect_str(j, "workflows.0.owner", "Human::\"alice\"");
    expect_int(j, "workflows.0.totals.approvals", 1);
    expect_num(j, "workflows.0.totals.coverage", "0.75");
    json_decref(j);
    free(text);
    mandate_registry_close(r);
    assert_int_equal(scratch_remove(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_ledger_90_days),
        cmocka_unit_test(test_bucket_sizes),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_workflow_names),
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_theatre),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_real_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
