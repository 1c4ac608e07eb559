/* test_html.c: the review and report pages. Every data-path/data-value read back out of the HTML
 * equals the JSON at that path (as text, for JSON printed here with known jansson flags), every
 * number of the JSON is shown, the SVG charts survive empty, single, null, zero, extreme and long
 * series, hostile strings stay text, no tag loads or runs anything, and malformed JSON is a
 * clear error naming the path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/core.h"
#include "govern/html.h"

#define FIXTURES "tests/unit/govern/fixtures/"
#define OUT_MAX (64u << 20)
#define PLOT_TOP 16.0 /* the large charts' plot area, in viewBox units (html.c geometry) */
#define PLOT_BOTTOM 256.0
#define PLOT_LEFT 64.0
#define PLOT_RIGHT 896.0
#define LABEL_GAP_MIN 70.0 /* a "YYYY-MM-DD" label at 11px is about 66 units wide */

typedef int (*render_fn)(const char *, size_t, md_buf *, md_diag *);

static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    md_diag d = {0};
    assert_int_equal(md_read_file(path, OUT_MAX, &text, len, &d), 0);
    return text;
}

static char *render_ok(render_fn fn, const char *json, size_t len)
{
    md_buf out;
    md_buf_init(&out, OUT_MAX);
    md_diag d = {0};
    int rc = fn(json, len, &out, &d);
    if (rc)
        fail_msg("render failed: %d %s", rc, d.msg);
    assert_non_null(out.data);
    return out.data;
}

/* The node at a dot-separated path (array indices as numbers); NULL when absent. */
static json_t *at_path(json_t *root, const char *path)
{
    char seg[256];
    json_t *v = root;
    while (v && *path) {
        size_t n = strcspn(path, ".");
        assert_true(n < sizeof(seg));
        memcpy(seg, path, n);
        seg[n] = '\0';
        path += n + (path[n] == '.');
        if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            v = *end ? NULL : json_array_get(v, i);
        } else {
            v = json_object_get(v, seg);
        }
    }
    return v;
}

/* Undoes the five escapes the renderer uses. */
static char *unescape(const char *s, size_t n)
{
    static const char *const from[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    static const char to[] = "&<>\"'";
    char *out = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = s[i] == '&' ? 0 : 5;
        while (j < 5 && strncmp(s + i, from[j], strlen(from[j])) != 0)
            j++;
        if (j < 5 && i + strlen(from[j]) <= n) {
            out[k++] = to[j];
            i += strlen(from[j]);
        } else {
            out[k++] = s[i++];
        }
    }
    out[k] = '\0';
    return out;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static bool is_share_key(const char *path)
{
    static const char *const keys[] = {".accountable_share", ".approval_share", ".digest_share",
                                       ".delegation_share",  ".override_rate",  ".coverage"};
    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++)
        if (ends_with(path, keys[i]))
            return true;
    return false;
}

static bool is_count_key(const char *path)
{
    static const char *const keys[] = {".decisions",    ".ai_decisions", ".ai_allowed",
                                       ".impactful",    ".outcomes",     ".approvals",
                                       "summary.total", "ledger.size"};
    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++)
        if (ends_with(path, keys[i]))
            return true;
    return false;
}

/* Checks the text a figure displays against its value, for shares and counts. */
static void check_display(const char *path, const json_t *v, const char *shown)
{
    char want[64];
    if (json_is_null(v) && (is_share_key(path) || is_count_key(path))) {
        assert_string_equal(shown, "n/a");
    } else if (is_share_key(path)) {
        snprintf(want, sizeof(want), "%.1f%%", json_number_value(v) * 100);
        if (strcmp(shown, want) != 0)
            fail_msg("%s shows '%s', want '%s'", path, shown, want);
    } else if (is_count_key(path) && json_is_integer(v)) {
        size_t k = 0;
        for (const char *c = shown; *c; c++)
            if (*c != ',')
                want[k++] = *c;
        want[k] = '\0';
        char digits[32];
        snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        if (strcmp(want, digits) != 0)
            fail_msg("%s shows '%s', want %s", path, shown, digits);
    }
}

/* Reads every data-path/data-value pair of html, checks each against root, and records the paths
 * in seen. flags >= 0: data-value must also be the node's text as jansson prints it with flags.
 * Returns the number of figures. */
static size_t check_figures(const char *html, json_t *root, json_t *seen, int flags)
{
    size_t count = 0;
    const char *at = html;
    while ((at = strstr(at, " data-path=\"")) != NULL) {
        at += strlen(" data-path=\"");
        const char *end = strchr(at, '"');
        assert_non_null(end);
        char *path = unescape(at, (size_t)(end - at));
        at = end + 1;
        if (strncmp(at, " data-value=\"", 13) != 0) {
            free(path);
            continue; /* a table's data-path names its array; it carries no value */
        }
        at += 13;
        end = strchr(at, '"');
        assert_non_null(end);
        char *value = unescape(at, (size_t)(end - at));
        at = end + 1;
        json_t *node = at_path(root, path);
        if (!node)
            fail_msg("data-path '%s' is not in the JSON", path);
        json_error_t err;
        json_t *shown = json_loads(value, JSON_DECODE_ANY, &err);
        if (!shown)
            fail_msg("data-value '%s' at %s is not JSON", value, path);
        if (json_is_number(node)) {
            assert_int_equal(json_typeof(shown), json_typeof(node));
            if (json_number_value(shown) != json_number_value(node))
                fail_msg("%s: data-value %s, JSON %.17g", path, value, json_number_value(node));
            if (flags >= 0) {
                char *text = json_dumps(node, JSON_ENCODE_ANY | (size_t)flags);
                if (strcmp(text, value) != 0)
                    fail_msg("%s: data-value '%s', jansson prints '%s'", path, value, text);
                free(text);
            }
        } else {
            assert_true(json_is_null(node) || json_is_boolean(node));
            assert_true(json_equal(shown, node) || (json_is_null(shown) && json_is_null(node)));
        }
        const char *gt = strchr(at, '>');
        const char *lt = gt ? strchr(gt, '<') : NULL;
        assert_non_null(lt);
        char *text = unescape(gt + 1, (size_t)(lt - gt - 1));
        check_display(path, node, text);
        json_object_set_new(seen, path, json_true());
        free(text);
        free(path);
        free(value);
        json_decref(shown);
        count++;
    }
    return count;
}

/* Every number (and null, but owners) in the JSON is among the figures shown. */
static void check_all_shown(json_t *v, const char *path, json_t *seen)
{
    char sub[512];
    if (json_is_number(v) || (json_is_null(v) && !ends_with(path, ".owner"))) {
        if (!json_object_get(seen, path))
            fail_msg("%s is in the JSON but not on the page", path);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m)
        {
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
            check_all_shown(m, sub, seen);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(sub, sizeof(sub), "%s%s%zu", path, *path ? "." : "", i);
            check_all_shown(json_array_get(v, i), sub, seen);
        }
    }
}

static bool tag_allowed(const char *name)
{
    static const char *const tags[] = {
        "html",   "head",    "meta",     "title",  "style",      "body", "header",
        "h1",     "h2",      "h3",       "p",      "section",    "div",  "span",
        "strong", "time",    "table",    "thead",  "tbody",      "tr",   "th",
        "td",     "code",    "pre",      "ul",     "li",         "dl",   "dt",
        "dd",     "details", "summary",  "figure", "figcaption", "svg",  "rect",
        "path",   "text",    "polyline", "circle", "footer",     "br"};
    for (size_t i = 0; i < MD_ARRAY_LEN(tags); i++)
        if (strcmp(name, tags[i]) == 0)
            return true;
    return false;
}

/* Walks every tag: known names only, no attribute that loads or runs anything, no URL; the style
 * sheet imports nothing. Every '<' in text is escaped, so every literal '<' opens a tag. Returns
 * the number of tags. */
static size_t check_tags(const char *html)
{
    size_t tags = 0;
    for (const char *c = strchr(html, '<'); c; c = strchr(c, '<')) {
        c++;
        if (*c == '!') {
            assert_true(strncmp(c, "!DOCTYPE html>", 14) == 0);
            continue;
        }
        bool closing = *c == '/';
        c += closing;
        char name[32];
        size_t n = strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789");
        assert_true(n > 0 && n < sizeof(name));
        memcpy(name, c, n);
        name[n] = '\0';
        if (!tag_allowed(name))
            fail_msg("tag <%s> on the page", name);
        c += n;
        while (*c && *c != '>') {
            c += strspn(c, " /");
            size_t an = strcspn(c, "= />");
            char attr[64];
            assert_true(an < sizeof(attr));
            memcpy(attr, c, an);
            attr[an] = '\0';
            c += an;
            if (an &&
                (strncmp(attr, "on", 2) == 0 || strcmp(attr, "src") == 0 ||
                 strcmp(attr, "href") == 0 || strstr(attr, "href") || strcmp(attr, "action") == 0))
                fail_msg("attribute %s on <%s>", attr, name);
            if (*c == '=') {
                assert_int_equal(c[1], '"');
                const char *end = strchr(c + 2, '"');
                assert_non_null(end);
                char *value = unescape(c + 2, (size_t)(end - c - 2));
                if (strstr(value, "//") || strstr(value, "url(") || strstr(value, "javascript:"))
                    fail_msg("attribute %s=\"%s\" on <%s>", attr, value, name);
                free(value);
                c = end + 1;
            }
        }
        if (strcmp(name, "style") == 0 && !closing) {
            const char *end = strstr(c, "</style>");
            assert_non_null(end);
            for (const char *bad = c; bad < end; bad++)
                assert_false(strncmp(bad, "url(", 4) == 0 || strncmp(bad, "@import", 7) == 0 ||
                             strncmp(bad, "//", 2) == 0);
        }
        tags++;
    }
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<SCRIPT"));
    static const char *const not_finite[] = {"nan\"", "nan,", "nan ", ">nan", ">-nan",
                                             "inf\"", "inf,", ">inf", ">-inf"};
    for (size_t i = 0; i < MD_ARRAY_LEN(not_finite); i++)
        assert_null(strstr(html, not_finite[i]));
    return tags;
}

static size_t count_of(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *at = strstr(s, what); at; at = strstr(at + 1, what))
        n++;
    return n;
}

/* The k-th <svg ...>...</svg> as a new string. */
static char *nth_svg(const char *html, size_t k)
{
    const char *at = strstr(html, "<svg");
    for (size_t i = 0; i < k && at; i++)
        at = strstr(at + 1, "<svg");
    assert_non_null(at);
    const char *end = strstr(at, "</svg>");
    assert_non_null(end);
    return strndup(at, (size_t)(end - at) + 6);
}

/* The rows in the body of the table whose data-path is path. */
static size_t tbody_rows(const char *html, const char *path)
{
    char key[128];
    snprintf(key, sizeof(key), "<table class=\"md-table\" data-path=\"%s\">", path);
    const char *table = strstr(html, key);
    assert_non_null(table);
    const char *body = strstr(table, "<tbody>"), *end = strstr(table, "</tbody>");
    assert_true(body && end && body < end);
    size_t rows = 0;
    for (const char *at = strstr(body, "<tr"); at && at < end; at = strstr(at + 1, "<tr"))
        rows++;
    return rows;
}

/* The y coordinates of the polyline of a metric in svg; returns how many (0: no polyline). */
static size_t polyline_ys(const char *svg, const char *metric, double *ys, size_t max)
{
    char key[128];
    snprintf(key, sizeof(key), "data-metric=\"%s\" points=\"", metric);
    const char *at = strstr(svg, key);
    if (!at)
        return 0;
    at += strlen(key);
    size_t n = 0;
    while (*at != '"') {
        char *end;
        double x = strtod(at, &end);
        assert_int_equal(*end, ',');
        double y = strtod(end + 1, &end);
        assert_true(isfinite(x) && isfinite(y));
        assert_true(x >= PLOT_LEFT && x <= PLOT_RIGHT);
        assert_true(n < max);
        ys[n++] = y;
        at = end + (*end == ' ');
    }
    return n;
}

/* ---- generated reports ---- */

enum shape { NORMAL, NULLS, ZEROS, EXTREMES };

static json_t *share_value(enum shape s, size_t i, size_t which)
{
    switch (s) {
    case NORMAL: return json_real((double)((i + which) % 10) / 9.0);
    case NULLS: return json_null();
    case ZEROS: return json_real(0);
    case EXTREMES: /* as jansson reals and, as the report prints them, integers */
        return (i + which) % 4 < 2 ? json_real(i % 2 ? 1.0 : 0.0) : json_integer(i % 2);
    }
    return NULL;
}

static json_t *make_metrics(enum shape s, size_t i)
{
    json_int_t ai = s == ZEROS || s == NULLS ? 0
                    : s == EXTREMES          ? (i % 2 ? 1000000 : 0)
                                             : 7 + 3 * (json_int_t)i;
    json_t *m = json_object();
    json_object_set_new(m, "decisions", json_integer(ai + 2));
    json_object_set_new(m, "ai_decisions", json_integer(ai));
    json_object_set_new(m, "ai_allowed", json_integer(ai / 2));
    json_object_set_new(m, "impactful", json_integer(ai / 3));
    json_object_set_new(m, "accountable_share", share_value(s, i, 0));
    json_object_set_new(m, "approval_share", share_value(s, i, 1));
    json_object_set_new(m, "digest_share", share_value(s, i, 2));
    json_object_set_new(m, "delegation_share", share_value(s, i, 3));
    json_object_set_new(m, "override_rate", share_value(s, i, 4));
    json_object_set_new(m, "outcomes", json_integer(ai / 4));
    json_object_set_new(m, "approvals", json_integer(ai / 5));
    json_object_set_new(m, "dwell_p50_ms",
                        s == NULLS ? json_null() : json_integer(1500 * (json_int_t)i));
    json_object_set_new(m, "dwell_p90_ms", s == NULLS ? json_null() : json_real(61234.5));
    json_object_set_new(m, "coverage", share_value(s, i, 5));
    return m;
}

static json_t *make_series(enum shape s, size_t n, int64_t since, int64_t bucket)
{
    json_t *series = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_object();
        json_object_set_new(b, "start_ms", json_integer(since + (json_int_t)i * bucket));
        json_object_set_new(b, "end_ms", json_integer(since + (json_int_t)(i + 1) * bucket));
        json_t *m = make_metrics(s, i);
        json_object_update(b, m);
        json_decref(m);
        json_array_append_new(series, b);
    }
    return series;
}

static json_t *make_theatre(bool flag, json_t *adoption, json_t *coverage)
{
    json_t *t = json_object();
    json_object_set_new(t, "flag", json_boolean(flag));
    json_object_set_new(t, "adoption_change", adoption);
    json_object_set_new(t, "coverage_change", coverage);
    json_object_set_new(t, "reason", json_string(flag ? "adoption up, coverage down" : "steady"));
    return t;
}

static json_t *make_report(enum shape s, size_t n, size_t workflows)
{
    const int64_t day = 86400000, since = 1760000000000;
    json_t *r = json_object();
    json_object_set_new(r, "version", json_integer(1));
    json_object_set_new(r, "since_ms", json_integer(since));
    json_object_set_new(r, "until_ms", json_integer(since + (json_int_t)n * day));
    json_object_set_new(r, "bucket_ms", json_integer(day));
    json_t *ledger = json_object();
    json_object_set_new(ledger, "size", json_integer(1234567));
    json_object_set_new(ledger, "scanned", json_integer(1000));
    json_object_set_new(r, "ledger", ledger);
    json_object_set_new(r, "overall", make_metrics(s, 3));
    json_object_set_new(r, "series", make_series(s, n, since, day));
    json_t *wfs = json_array();
    for (size_t w = 0; w < workflows; w++) {
        json_t *wf = json_object();
        char uid[64];
        snprintf(uid, sizeof(uid), "Workflow::\"wf-%zu\"", w);
        json_object_set_new(wf, "workflow", json_string(uid));
        json_object_set_new(wf, "owner", w % 2 ? json_null() : json_string("Human::\"ann\""));
        json_object_set_new(wf, "totals", make_metrics(s, w));
        json_object_set_new(wf, "series", make_series(s, n, since, day));
        json_object_set_new(wf, "theatre", make_theatre(w == 0, json_real(0.25), json_null()));
        json_array_append_new(wfs, wf);
    }
    json_object_set_new(r, "workflows", wfs);
    json_object_set_new(
        r, "theatre",
        make_theatre(s == NORMAL, s == NULLS ? json_null() : json_real(1.5), json_real(-0.1234)));
    json_t *defs = json_object();
    json_object_set_new(defs, "coverage", json_string("mean of the shares"));
    json_object_set_new(r, "definitions", defs);
    return r;
}

/* Renders, checks every figure against the JSON (as text with flags), every number shown, every
 * tag; returns the page. */
static char *render_checked(json_t *report, int flags, render_fn fn)
{
    char *text = json_dumps(report, (size_t)flags);
    json_error_t err;
    json_t *root = json_loads(text, JSON_DECODE_ANY, &err); /* the JSON as printed */
    assert_non_null(root);
    char *html = render_ok(fn, text, strlen(text));
    json_t *seen = json_object();
    assert_true(check_figures(html, root, seen, flags) > 0);
    check_all_shown(root, "", seen);
    check_tags(html);
    json_decref(seen);
    json_decref(root);
    free(text);
    return html;
}

/* A fixture file rendered, every figure checked against it (by value: the files are not printed
 * by jansson), every number shown, every tag checked. */
typedef struct fixture {
    json_t *root;
    char *html;
    size_t figures;
} fixture;

static fixture fixture_render(const char *name, render_fn fn)
{
    size_t len;
    char *text = slurp(name, &len);
    json_error_t err;
    fixture f = {.root = json_loadb(text, len, 0, &err)};
    assert_non_null(f.root);
    f.html = render_ok(fn, text, len);
    json_t *seen = json_object();
    f.figures = check_figures(f.html, f.root, seen, -1);
    check_all_shown(f.root, "", seen);
    check_tags(f.html);
    json_decref(seen);
    free(text);
    return f;
}

static void fixture_free(fixture *f)
{
    free(f->html);
    json_decref(f->root);
}

/* ---- tests ---- */

static void report_fixture_figures_equal_the_json(void **state)
{
    fixture f = fixture_render(FIXTURES "report.json", md_govern_report_html);
    const char *html = f.html;
    /* data-value is the JSON's own text: 0.48 stays 0.48, not jansson's 0.47999999999999998 */
    assert_non_null(strstr(html, "data-path=\"overall.approval_share\" data-value=\"0.48\""));
    assert_non_null(
        strstr(html, "data-path=\"overall.approval_share\" data-value=\"0.48\">48.0%<"));
    size_t n = json_array_size(json_object_get(f.root, "series"));
    size_t w = json_array_size(json_object_get(f.root, "workflows"));
    assert_true(f.figures >= 14 * (n + 1) + w * 14 * (n + 1));
    /* tables: the series, the workflow totals, one series per workflow */
    assert_int_equal(count_of(html, "<table class=\"md-table\""), 2 + w);
    assert_int_equal(count_of(html, "</table>"), 2 + w);
    assert_int_equal(count_of(html, "<svg class=\"md-chart\""), 2);
    assert_int_equal(count_of(html, "<svg class=\"md-chart md-small-chart\""), w);
    assert_non_null(strstr(html, "md-verdict-theatre"));
    assert_non_null(strstr(html, "data-path=\"theatre.flag\" data-value=\"true\""));
    assert_null(strstr(html, "://"));
    assert_int_equal(tbody_rows(html, "series"), n);
    assert_int_equal(tbody_rows(html, "workflows"), w);
    assert_int_equal(tbody_rows(html, "workflows.1.series"), n);
    fixture_free(&f);
}

static void generated_reports_figures_are_the_json_text(void **state)
{
    static const size_t sizes[] = {0, 1, 2, 7, 150};
    static const int flags[] = {JSON_COMPACT, JSON_INDENT(2) | JSON_SORT_KEYS,
                                JSON_COMPACT | JSON_REAL_PRECISION(4)};
    for (int s = NORMAL; s <= EXTREMES; s++)
        for (size_t k = 0; k < MD_ARRAY_LEN(sizes); k++)
            for (size_t f = 0; f < MD_ARRAY_LEN(flags); f++) {
                if (sizes[k] > 10 && f != (size_t)s % MD_ARRAY_LEN(flags))
                    continue; /* long series: one printing each, for time */
                json_t *r = make_report((enum shape)s, sizes[k], 2);
                free(render_checked(r, flags[f], md_govern_report_html));
                json_decref(r);
            }
}

/* A generated report with one workflow, rendered and checked, and its three charts. */
typedef struct charts {
    json_t *report;
    char *html;
    char *adoption, *shares, *small;
} charts;

static charts charts_render(enum shape s, size_t n)
{
    charts c = {.report = make_report(s, n, 1)};
    c.html = render_checked(c.report, JSON_COMPACT, md_govern_report_html);
    c.adoption = nth_svg(c.html, 0);
    c.shares = nth_svg(c.html, 1);
    c.small = nth_svg(c.html, 2);
    assert_int_equal(count_of(c.html, "<svg"), 3);
    return c;
}

static void charts_free(charts *c)
{
    free(c->adoption);
    free(c->shares);
    free(c->small);
    free(c->html);
    json_decref(c->report);
}

/* The line of a metric has n points, at height even for even buckets and odd for odd ones. */
static void assert_line(const char *svg, const char *metric, size_t n, double even, double odd)
{
    double ys[256];
    assert_int_equal(polyline_ys(svg, metric, ys, 256), n);
    for (size_t i = 0; i < n; i++)
        assert_true(ys[i] == (i % 2 ? odd : even));
}

static void chart_with_no_buckets(void **state)
{
    charts c = charts_render(NORMAL, 0);
    assert_int_equal(count_of(c.html, "no buckets in the window"), 3);
    assert_int_equal(count_of(c.html, "<polyline"), 0);
    assert_int_equal(count_of(c.html, "<circle"), 0);
    assert_int_equal(tbody_rows(c.html, "series"), 0);
    charts_free(&c);
}

static void chart_with_one_bucket(void **state)
{
    charts c = charts_render(NORMAL, 1);
    /* one point is no line: a marker each, centred */
    assert_int_equal(count_of(c.adoption, "<polyline"), 0);
    assert_int_equal(count_of(c.adoption, "<circle"), 2);
    assert_int_equal(count_of(c.adoption, "cx=\"480.0\""), 2);
    assert_int_equal(count_of(c.shares, "<circle"), 4);
    assert_int_equal(count_of(c.small, "<circle"), 2);
    assert_null(strstr(c.adoption, "no data"));
    charts_free(&c);
}

static void chart_with_all_nulls(void **state)
{
    charts c = charts_render(NULLS, 7);
    /* ai_decisions (all 0) is a line on the floor; coverage (all null) is drawn nowhere */
    assert_line(c.adoption, "ai_decisions", 7, PLOT_BOTTOM, PLOT_BOTTOM);
    assert_line(c.adoption, "coverage", 0, 0, 0);
    assert_int_equal(count_of(c.shares, "<polyline"), 0);
    assert_int_equal(count_of(c.shares, "<circle"), 0);
    assert_non_null(strstr(c.shares, "no data (all n/a)"));
    assert_non_null(strstr(c.html, "governance coverage (right axis, %) (no data)"));
    assert_non_null(strstr(c.html, "data-path=\"overall.coverage\" data-value=\"null\">n/a<"));
    charts_free(&c);
}

static void chart_with_all_zeros(void **state)
{
    charts c = charts_render(ZEROS, 7);
    static const char *const metrics[] = {"accountable_share", "approval_share", "digest_share",
                                          "delegation_share"};
    assert_line(c.adoption, "ai_decisions", 7, PLOT_BOTTOM, PLOT_BOTTOM);
    for (size_t m = 0; m < MD_ARRAY_LEN(metrics); m++)
        assert_line(c.shares, metrics[m], 7, PLOT_BOTTOM, PLOT_BOTTOM);
    assert_non_null(strstr(c.html, "data-value=\"0.0\">0.0%<"));
    charts_free(&c);
}

static void chart_with_zero_and_one(void **state)
{
    charts c = charts_render(EXTREMES, 8);
    assert_line(c.shares, "digest_share", 8, PLOT_BOTTOM, PLOT_TOP);
    /* a million AI decisions reach the top of a nice axis, not past it */
    assert_line(c.adoption, "ai_decisions", 8, PLOT_BOTTOM, PLOT_TOP);
    assert_non_null(strstr(c.adoption, ">1M</text>"));
    assert_non_null(strstr(c.html, "data-value=\"1000000\">1,000,000<"));
    assert_non_null(strstr(c.html, "data-value=\"1.0\">100.0%<"));
    assert_non_null(strstr(c.html, "data-value=\"1\">100.0%<"));
    assert_non_null(strstr(c.html, "data-value=\"0\">0.0%<"));
    charts_free(&c);
}

static void chart_with_many_buckets_keeps_labels_apart(void **state)
{
    charts c = charts_render(NORMAL, 150);
    const char *large[] = {c.adoption, c.shares};
    for (size_t k = 0; k < MD_ARRAY_LEN(large); k++) {
        double last = -1e9;
        size_t labels = 0;
        for (const char *at = strstr(large[k], "<text x=\""); at;
             at = strstr(at + 1, "<text x=\"")) {
            double x = strtod(at + 9, NULL);
            const char *gt = strchr(at, '>');
            /* date labels only: "YYYY-MM-DD" */
            if (strlen(gt) < 12 || gt[5] != '-' || gt[8] != '-' || gt[11] != '<')
                continue;
            assert_true(x - last >= LABEL_GAP_MIN);
            assert_true(x - 33 >= 0 && x + 33 <= 960);
            last = x;
            labels++;
        }
        assert_true(labels >= 5 && labels <= 12);
        assert_int_equal(count_of(large[k], "<circle"), 0); /* too many points for markers */
    }
    double ys[200];
    assert_int_equal(polyline_ys(c.adoption, "ai_decisions", ys, 200), 150);
    assert_int_equal(tbody_rows(c.html, "series"), 150);
    charts_free(&c);
}

static void hostile_strings_stay_text(void **state)
{
    json_t *r = make_report(NORMAL, 3, 2);
    json_t *wf = json_array_get(json_object_get(r, "workflows"), 1);
    json_object_set_new(wf, "workflow",
                        json_string("Workflow::\"</table><script>alert(1)</script>\""));
    json_object_set_new(wf, "owner", json_string("\"><svg onload=alert(1)>"));
    json_object_set_new(json_object_get(r, "theatre"), "reason",
                        json_string("</p><script src=\"https://evil.example/x.js\"></script>\x01"));
    json_object_set_new(json_object_get(r, "definitions"), "<b>coverage",
                        json_string("</style><script>y</script>'\"&"));
    char *html = render_checked(r, JSON_COMPACT, md_govern_report_html);
    assert_non_null(
        strstr(html, "Workflow::&quot;&lt;/table&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
    assert_non_null(strstr(html, "&quot;&gt;&lt;svg onload=alert(1)&gt;"));
    assert_non_null(strstr(html, "&lt;/style&gt;&lt;script&gt;y&lt;/script&gt;&#39;&quot;&amp;"));
    assert_non_null(strstr(html, "\xef\xbf\xbd")); /* the control character */
    assert_int_equal(count_of(html, "<table"), 4);
    assert_int_equal(count_of(html, "</table>"), 4);
    assert_int_equal(count_of(html, "</style>"), 1);
    free(html);
    json_decref(r);
}

static void review_fixture_figures_equal_the_json(void **state)
{
    fixture fx = fixture_render(FIXTURES "review.json", md_govern_review_html);
    const char *html = fx.html;
    json_t *findings = json_object_get(fx.root, "findings");
    assert_int_equal(tbody_rows(html, "findings"), json_array_size(findings));
    assert_int_equal(count_of(html, "<table"), 1);
    /* each fix is in a <pre>, character for character */
    const char *at = html;
    for (size_t i = 0; i < json_array_size(findings); i++) {
        json_t *f = json_array_get(findings, i);
        at = strstr(at, "<pre>");
        assert_non_null(at);
        at += 5;
        const char *end = strstr(at, "</pre>");
        char *fix = unescape(at, (size_t)(end - at));
        assert_string_equal(fix, json_string_value(json_object_get(f, "fix")));
        free(fix);
        char badge[64];
        snprintf(badge, sizeof(badge), "md-sev-%s",
                 json_string_value(json_object_get(f, "severity")));
        assert_non_null(strstr(html, badge));
    }
    assert_non_null(
        strstr(html, "Agent::&quot;hr-\\&quot;bot\\&quot;&lt;/table&gt;&lt;script&gt;"));
    assert_non_null(
        strstr(html, "data-path=\"thresholds.rubber_stamp_share\" data-value=\"0.5\">50.0%<"));
    assert_non_null(strstr(html, "data-path=\"findings.1.evidence.19\" data-value=\"59\""));
    assert_non_null(strstr(html, "data-path=\"findings.3.data.checks.scope\" data-value=\"3\""));
    assert_non_null(strstr(html, "data-path=\"summary.total\" data-value=\"6\">6<"));
    /* an "_ms" figure is a duration, or a time when it is that large */
    assert_non_null(strstr(html, "data-path=\"findings.1.data.median_dwell_ms\" "
                                 "data-value=\"4200\">4.2 s<"));
    assert_non_null(strstr(html, "data-path=\"findings.5.data.last_decision_ms\" "
                                 "data-value=\"1765000000000\">2025-12-06 05:46 UTC<"));
    fixture_free(&fx);
}

static void review_without_findings(void **state)
{
    const char *json = "{\"version\":1,\"since_ms\":0,\"until_ms\":86400000,"
                       "\"ledger\":{\"size\":0,\"scanned\":0},\"thresholds\":{},\"findings\":[],"
                       "\"summary\":{\"high\":0,\"medium\":0,\"low\":0,\"total\":0}}";
    char *html = render_ok(md_govern_review_html, json, strlen(json));
    assert_non_null(strstr(html, "No findings in the window."));
    assert_int_equal(tbody_rows(html, "findings"), 0);
    assert_non_null(strstr(html, "data-path=\"since_ms\" data-value=\"0\""));
    check_tags(html);
    free(html);
}

/* A bad document: EPARSE, the message names the path, the output keeps what it had. */
static void expect_parse_error(render_fn fn, const char *json, size_t len, const char *path)
{
    md_buf out;
    md_buf_init(&out, OUT_MAX);
    assert_int_equal(md_buf_puts(&out, "prefix"), 0);
    md_diag d = {0};
    int rc = fn(json, len, &out, &d);
    if (rc != MANDATE_EPARSE)
        fail_msg("want EPARSE for %s, got %d (%s)", path, rc, d.msg);
    assert_int_equal(d.code, MANDATE_EPARSE);
    if (!strstr(d.msg, path))
        fail_msg("message '%s' does not name '%s'", d.msg, path);
    assert_int_equal(out.len, 6);
    assert_string_equal(out.data, "prefix");
    md_buf_release(&out);
}

static void expect_report_error(json_t *r, const char *path)
{
    char *text = json_dumps(r, JSON_COMPACT);
    expect_parse_error(md_govern_report_html, text, strlen(text), path);
    free(text);
    json_decref(r);
}

static void malformed_reports_are_clear_errors(void **state)
{
    expect_parse_error(md_govern_report_html, "{\"version\":", 11, "report JSON");
    expect_parse_error(md_govern_report_html, "", 0, "report JSON");
    expect_parse_error(md_govern_report_html, "[]", 2, "(top level)");
    expect_parse_error(md_govern_report_html, "{\"version\":1,\"version\":1}", 25, "report JSON");
    expect_parse_error(md_govern_report_html, "{\"version\":1} x", 15, "report JSON");

    json_t *r = make_report(NORMAL, 3, 2);
    json_object_set_new(r, "version", json_integer(2));
    expect_report_error(r, "version: unsupported version 2");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_object_get(r, "overall"), "coverage", json_string("high"));
    expect_report_error(r, "overall.coverage: want a share in [0, 1] or null");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_array_get(json_object_get(r, "series"), 2), "digest_share",
                        json_real(1.0001));
    expect_report_error(r, "series.2.digest_share: want a share in [0, 1] or null");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_object_get(r, "overall"), "dwell_p50_ms", json_string("1s"));
    expect_report_error(r, "overall.dwell_p50_ms: want a number or null");

    r = make_report(NORMAL, 3, 2);
    json_object_del(json_array_get(json_object_get(r, "series"), 1), "start_ms");
    expect_report_error(r, "series.1.start_ms: missing");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_array_get(json_object_get(r, "series"), 0), "ai_decisions",
                        json_real(1.5));
    expect_report_error(r, "series.0.ai_decisions: want a count (an integer >= 0)");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_object_get(r, "overall"), "outcomes", json_integer(-1));
    expect_report_error(r, "overall.outcomes: want a count");

    r = make_report(NORMAL, 3, 2);
    json_t *wf = json_array_get(json_object_get(r, "workflows"), 1);
    json_object_set_new(json_object_get(wf, "theatre"), "flag", json_integer(1));
    expect_report_error(r, "workflows.1.theatre.flag: want true or false");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(
        json_array_get(
            json_object_get(wf = json_array_get(json_object_get(r, "workflows"), 0), "series"), 2),
        "coverage", json_true());
    expect_report_error(r, "workflows.0.series.2.coverage");

    r = make_report(NORMAL, 3, 2);
    json_array_set_new(json_object_get(r, "workflows"), 0, json_integer(5));
    expect_report_error(r, "workflows.0: want an object");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(r, "series", json_object());
    expect_report_error(r, "series: want an array");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_object_get(r, "definitions"), "coverage", json_integer(3));
    expect_report_error(r, "definitions.coverage: want a string");

    r = make_report(NORMAL, 3, 2);
    json_object_del(r, "theatre");
    expect_report_error(r, "theatre: missing");

    r = make_report(NORMAL, 3, 2);
    json_object_set_new(json_object_get(r, "ledger"), "size", json_real(3.0));
    expect_report_error(r, "ledger.size");
}

static void malformed_reviews_are_clear_errors(void **state)
{
    size_t len;
    char *text = slurp(FIXTURES "review.json", &len);
    json_error_t err;
    json_t *good = json_loadb(text, len, 0, &err);
    struct {
        const char *path; /* where to put the bad value (a key of the finding 0, or "") */
        json_t *value;
        const char *want;
    } cases[] = {
        {"severity", json_string("critical"), "findings.0.severity: want high, medium or low"},
        {"evidence", json_pack("[i,s]", 1, "x"), "findings.0.evidence.1: want a count"},
        {"evidence_count", json_null(), "findings.0.evidence_count"},
        {"fix", json_integer(3), "findings.0.fix: want a string"},
        {"data", json_string("x"), "findings.0.data: want an object"},
        {"data", json_loads("{\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}", 0, &err), "nested deeper"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        json_t *bad = json_deep_copy(good);
        json_object_set_new(json_array_get(json_object_get(bad, "findings"), 0), cases[i].path,
                            cases[i].value);
        char *badtext = json_dumps(bad, JSON_COMPACT);
        expect_parse_error(md_govern_review_html, badtext, strlen(badtext), cases[i].want);
        free(badtext);
        json_decref(bad);
    }
    json_t *bad = json_deep_copy(good);
    json_object_del(bad, "summary");
    char *badtext = json_dumps(bad, JSON_COMPACT);
    expect_parse_error(md_govern_review_html, badtext, strlen(badtext), "summary: missing");
    free(badtext);
    json_decref(bad);
    expect_parse_error(md_govern_review_html, "{\"version\":1,\"findings\":{}}", 27,
                       "findings: want an array");
    json_decref(good);
    free(text);
}

static void output_cap_and_misuse(void **state)
{
    size_t len;
    char *text = slurp(FIXTURES "report.json", &len);
    md_buf out;
    md_buf_init(&out, 4000);
    md_diag d = {0};
    assert_int_equal(md_govern_report_html(text, len, &out, &d), MANDATE_ETOOBIG);
    assert_int_equal(out.len, 0);
    assert_int_equal(d.code, MANDATE_ETOOBIG);
    md_buf_release(&out);
    md_diag_clear(&d);
    assert_int_equal(md_govern_report_html(NULL, 0, &out, &d), MANDATE_EINVAL);
    assert_int_equal(md_govern_review_html(text, len, NULL, NULL), MANDATE_EINVAL);
    /* a report is not a review */
    md_buf_init(&out, OUT_MAX);
    md_diag_clear(&d);
    assert_int_equal(md_govern_review_html(text, len, &out, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "review JSON: findings: missing"));
    md_buf_release(&out);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_fixture_figures_equal_the_json),
        cmocka_unit_test(generated_reports_figures_are_the_json_text),
        cmocka_unit_test(chart_with_no_buckets),
        cmocka_unit_test(chart_with_one_bucket),
        cmocka_unit_test(chart_with_all_nulls),
        cmocka_unit_test(chart_with_all_zeros),
        cmocka_unit_test(chart_with_zero_and_one),
        cmocka_unit_test(chart_with_many_buckets_keeps_labels_apart),
        cmocka_unit_test(hostile_strings_stay_text),
        cmocka_unit_test(review_fixture_figures_equal_the_json),
        cmocka_unit_test(review_without_findings),
        cmocka_unit_test(malformed_reports_are_clear_errors),
        cmocka_unit_test(malformed_reviews_are_clear_errors),
        cmocka_unit_test(output_cap_and_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
