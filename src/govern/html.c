/* html.c: the review and report pages, rendered from their JSON text (see html.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "govern/html.h"

#define PATH_LEN 256
#define DATA_DEPTH_MAX 8    /* nesting of a finding's data object */
#define MARKERS_MAX 60      /* buckets up to which points get a marker and a tooltip */
#define AXIS_LABEL_WIDTH 84 /* viewBox units taken by one date label and its gap */
#define TIME_MS_MIN 1e11    /* an "_ms" figure this large is a time, not a duration */

/* ---- number texts: each number's exact characters in the input ---- */

typedef struct numtext {
    const json_t *node;
    const char *text;
    size_t len;
} numtext;

typedef struct numtexts {
    numtext *items;
    size_t count, cap;
} numtexts;

static int numtexts_push(numtexts *t, const json_t *node, const char *text, size_t len)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        numtext *items = realloc(t->items, cap * sizeof(*items));
        if (!items)
            return MANDATE_ENOMEM;
        t->items = items;
        t->cap = cap;
    }
    t->items[t->count++] = (numtext){node, text, len};
    return 0;
}

/* Number nodes in document order (jansson keeps an object's keys in insertion order). */
static int collect_nodes(const json_t *v, numtexts *t, size_t *next)
{
    if (json_is_number(v)) {
        if (*next >= t->count)
            return MANDATE_EINTERNAL;
        t->items[(*next)++].node = v;
        return 0;
    }
    int rc = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach((json_t *)v, key, m)
        {
            if ((rc = collect_nodes(m, t, next)) != 0)
                break;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && !rc; i++)
            rc = collect_nodes(json_array_get(v, i), t, next);
    }
    return rc;
}

static int numtext_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const numtext *)a)->node;
    uintptr_t y = (uintptr_t)((const numtext *)b)->node;
    return x < y ? -1 : x > y;
}

/* Pairs the number tokens of text (already parsed into root) with root's number nodes, sorted by
 * node for lookup. */
static int numtexts_build(numtexts *t, const char *text, size_t len, const json_t *root)
{
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                i += text[i] == '\\';
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (i + 1 < len && strchr("0123456789+-.eE", text[i + 1]) && text[i + 1])
                i++;
            rc = numtexts_push(t, NULL, text + start, i + 1 - start);
        }
    }
    size_t next = 0;
    if (!rc)
        rc = collect_nodes(root, t, &next);
    if (!rc && next != t->count)
        rc = MANDATE_EINTERNAL;
    if (!rc && t->count)
        qsort(t->items, t->count, sizeof(*t->items), numtext_cmp);
    return rc;
}

static const numtext *numtexts_find(const numtexts *t, const json_t *node)
{
    numtext key = {node, NULL, 0};
    return t->count ? bsearch(&key, t->items, t->count, sizeof(key), numtext_cmp) : NULL;
}

/* ---- the page being written: output, first error, paths ---- */

typedef struct page {
    md_buf *out;
    md_diag *d;
    const char *what; /* "report" or "review", for messages */
    numtexts nums;
    md_arena *arena;
    int rc; /* the first error; once set, every writer does nothing */
} page;

typedef struct jpath {
    char s[PATH_LEN];
} jpath;

static void put_n(page *p, const char *s, size_t n)
{
    if (!p->rc)
        p->rc = md_buf_append(p->out, s, n);
}

static void put(page *p, const char *s)
{
    put_n(p, s, strlen(s));
}

static void putf(page *p, const char *fmt, ...) MD_PRINTF(2, 3);
static void putf(page *p, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        if (!p->rc)
            p->rc = MANDATE_EINTERNAL;
        return;
    }
    put_n(p, text, (size_t)n);
}

/* Escapes for text and for quoted attributes alike; control characters become U+FFFD. */
static void put_esc(page *p, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\n':
        case '\r':
        case '\t': break;
        default:
            if (c < 0x20 || c == 0x7f)
                rep = "\xef\xbf\xbd";
        }
        if (!rep)
            continue;
        put_n(p, s + run, i - run);
        put(p, rep);
        run = i + 1;
    }
    put_n(p, s + run, n - run);
}

static void put_esc_c(page *p, const char *s)
{
    put_esc(p, s, strlen(s));
}

static void fail(page *p, const char *path, const char *fmt, ...) MD_PRINTF(3, 4);
static void fail(page *p, const char *path, const char *fmt, ...)
{
    if (p->rc)
        return;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    p->rc = md_diag_set(p->d, MANDATE_EPARSE, 0, 0, "%s JSON: %s: %s", p->what,
                        path[0] ? path : "(top level)", why);
}

static jpath path_key(page *p, const char *base, const char *key)
{
    jpath j;
    int n = snprintf(j.s, sizeof(j.s), "%s%s%s", base, base[0] ? "." : "", key);
    if (n < 0 || (size_t)n >= sizeof(j.s)) {
        j.s[0] = '\0';
        fail(p, base, "key '%.40s...' makes a path over %d bytes", key, PATH_LEN);
    }
    return j;
}

static jpath path_index(page *p, const char *base, size_t i)
{
    char key[32];
    snprintf(key, sizeof(key), "%zu", i);
    return path_key(p, base, key);
}

enum want {
    W_OBJECT,
    W_ARRAY,
    W_STRING,
    W_STRING_OR_NULL,
    W_INTEGER,
    W_COUNT, /* an integer >= 0 */
    W_NUMBER_OR_NULL,
    W_SHARE_OR_NULL, /* a number in [0, 1] or null */
    W_BOOL
};

static const char *want_name(enum want w)
{
    static const char *const names[] = {
        [W_OBJECT] = "an object",
        [W_ARRAY] = "an array",
        [W_STRING] = "a string",
        [W_STRING_OR_NULL] = "a string or null",
        [W_INTEGER] = "an integer",
        [W_COUNT] = "a count (an integer >= 0)",
        [W_NUMBER_OR_NULL] = "a number or null",
        [W_SHARE_OR_NULL] = "a share in [0, 1] or null",
        [W_BOOL] = "true or false",
    };
    return names[w];
}

static bool has_type(const json_t *v, enum want w)
{
    switch (w) {
    case W_OBJECT: return json_is_object(v);
    case W_ARRAY: return json_is_array(v);
    case W_STRING: return json_is_string(v);
    case W_STRING_OR_NULL: return json_is_string(v) || json_is_null(v);
    case W_INTEGER: return json_is_integer(v);
    case W_COUNT: return json_is_integer(v) && json_integer_value(v) >= 0;
    case W_NUMBER_OR_NULL: return json_is_number(v) || json_is_null(v);
    case W_SHARE_OR_NULL:
        return json_is_null(v) ||
               (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1);
    case W_BOOL: return json_is_boolean(v);
    }
    return false;
}

/* The value at path, checked against w; NULL (and the page's error set) when missing or wrong. */
static json_t *checked(page *p, json_t *v, const char *path, enum want w)
{
    if (p->rc)
        return NULL;
    if (!v) {
        fail(p, path, "missing (want %s)", want_name(w));
        return NULL;
    }
    if (!has_type(v, w)) {
        fail(p, path, "want %s", want_name(w));
        return NULL;
    }
    return v;
}

static json_t *member(page *p, json_t *obj, const char *base, const char *key, enum want w)
{
    jpath path = path_key(p, base, key);
    return checked(p, obj ? json_object_get(obj, key) : NULL, path.s, w);
}

static const char *member_str(page *p, json_t *obj, const char *base, const char *key)
{
    json_t *v = member(p, obj, base, key, W_STRING);
    return v ? json_string_value(v) : "";
}

/* ---- figures: data-path, data-value and the displayed text ---- */

enum fmt { F_COUNT, F_SHARE, F_MS, F_PERIOD, F_CHANGE, F_POINTS, F_TIME, F_DATE, F_PLAIN };

static void put_value_text(page *p, const json_t *v)
{
    if (json_is_number(v)) {
        const numtext *t = numtexts_find(&p->nums, v);
        if (!t) {
            if (!p->rc)
                p->rc = MANDATE_EINTERNAL;
            return;
        }
        put_n(p, t->text, t->len);
    } else {
        put(p, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    }
}

static void put_attrs(page *p, const char *path, const json_t *v)
{
    put(p, " data-path=\"");
    put_esc_c(p, path);
    put(p, "\" data-value=\"");
    put_value_text(p, v);
    put(p, "\"");
}

/* UTC date (and time) of a time in ms; false when out of range. */
static bool format_time(int64_t ms, bool with_time, char *text, size_t size)
{
    time_t secs = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return false;
    size_t n = strftime(text, size, with_time ? "%Y-%m-%d %H:%M UTC" : "%Y-%m-%d", &tm);
    return n > 0;
}

static void put_grouped(page *p, json_int_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT, v);
    int sign = v < 0;
    for (int i = 0; i < n; i++) {
        if (i > sign && (n - i) % 3 == 0)
            put(p, ",");
        put_n(p, digits + i, 1);
    }
}

static void put_duration_ms(page *p, double ms)
{
    if (ms < 1000)
        putf(p, "%.0f ms", ms);
    else if (ms < 60000)
        putf(p, "%.1f s", ms / 1000);
    else if (ms < 3600000)
        putf(p, "%.1f min", ms / 60000);
    else
        putf(p, "%.1f h", ms / 3600000);
}

static void put_display(page *p, const json_t *v, enum fmt f)
{
    if (json_is_null(v)) {
        put(p, "n/a");
        return;
    }
    if (json_is_boolean(v)) {
        put(p, json_is_true(v) ? "yes" : "no");
        return;
    }
    double x = json_number_value(v);
    char text[64];
    if (!isfinite(x * 100)) {
        put_value_text(p, v); /* past what a percentage or duration can say */
        return;
    }
    switch (f) {
    case F_COUNT:
        if (json_is_integer(v))
            put_grouped(p, json_integer_value(v));
        else
            putf(p, "%g", x);
        break;
    case F_SHARE: putf(p, "%.1f%%", x * 100); break;
    case F_MS:
        /* "_ms" figures are durations, or times (last_decision_ms) past 1e11 (March 1973) */
        if (json_is_integer(v) && x >= TIME_MS_MIN &&
            format_time(json_integer_value(v), true, text, sizeof(text)))
            put(p, text);
        else
            put_duration_ms(p, x);
        break;
    case F_PERIOD:
        if (x >= 86400000 && fmod(x, 86400000) == 0)
            putf(p, "%.0f day%s", x / 86400000, x == 86400000 ? "" : "s");
        else
            put_duration_ms(p, x);
        break;
    case F_CHANGE: putf(p, "%+.1f%%", x * 100 + 0.0); break;
    case F_POINTS: putf(p, "%+.1f pts", x * 100 + 0.0); break;
    case F_TIME:
    case F_DATE:
        if (json_is_integer(v) &&
            format_time(json_integer_value(v), f == F_TIME, text, sizeof(text)))
            put(p, text);
        else
            put_value_text(p, v);
        break;
    case F_PLAIN: put_value_text(p, v); break;
    }
}

/* <tag class="cls" data-path data-value>display</tag>; tag "time" gets a datetime. */
static void put_figure(page *p, const char *tag, const char *cls, const char *path, const json_t *v,
                       enum fmt f)
{
    putf(p, "<%s class=\"%s\"", tag, cls);
    put_attrs(p, path, v);
    char iso[64];
    if ((f == F_TIME || f == F_DATE) && json_is_integer(v) &&
        format_time(json_integer_value(v), true, iso, sizeof(iso)))
        putf(p, " title=\"%s\"", iso);
    put(p, ">");
    put_display(p, v, f);
    putf(p, "</%s>", tag);
}

/* The figure at obj.key, type-checked. */
static void put_member_figure(page *p, const char *tag, const char *cls, json_t *obj,
                              const char *base, const char *key, enum want w, enum fmt f)
{
    jpath path = path_key(p, base, key);
    json_t *v = checked(p, obj ? json_object_get(obj, key) : NULL, path.s, w);
    if (v)
        put_figure(p, tag, cls, path.s, v, f);
}

/* ---- the page shell ---- */

static const char PAGE_CSS[] =
    ":root{--ink:#1f2933;--muted:#5f6b7a;--line:#d5dde6;--bg:#f4f6f9;--card:#fff;"
    "--ai_decisions:#2563eb;--coverage:#059669;--accountable_share:#7c3aed;"
    "--approval_share:#db2777;--digest_share:#ea580c;--delegation_share:#0891b2;"
    "--high:#b91c1c;--medium:#b45309;--low:#52606d;--ok:#047857}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;padding:24px 32px 48px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:var(--ink);background:var(--bg)}\n"
    "h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 10px}"
    "h3{font-size:15px;margin:0 0 6px}\n"
    ".md-sub{color:var(--muted);margin:0}\n"
    ".md-verdict{margin:20px 0;padding:18px 22px;border-radius:10px;color:#fff}\n"
    ".md-verdict h2{margin:0 0 6px;font-size:24px}.md-verdict p{margin:4px 0}\n"
    ".md-verdict-theatre{background:var(--high)}.md-verdict-ok{background:var(--ok)}\n"
    ".md-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}\n"
    ".md-card{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:12px 14px}\n"
    ".md-card-label{color:var(--muted);font-size:12px;text-transform:uppercase;"
    "letter-spacing:.04em}\n"
    ".md-card-value{display:block;font-size:26px;font-weight:600;margin:2px 0}\n"
    ".md-card-def{color:var(--muted);font-size:12px}\n"
    ".md-panel{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:14px 16px;margin-bottom:14px}\n"
    ".md-chart{display:block;width:100%;height:auto;max-width:960px}\n"
    ".md-chart text{font-size:11px;fill:var(--muted)}.md-chart .md-empty{font-size:15px}\n"
    ".md-small-chart text{font-size:10px}\n"
    ".md-plot{fill:#fbfcfd;stroke:var(--line)}.md-grid{stroke:#e6ebf1;fill:none}"
    ".md-axis{stroke:#9aa5b1;fill:none}\n"
    ".md-line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}\n"
    ".md-small-chart .md-line{stroke-width:1.6}\n"
    ".md-m-ai_decisions{stroke:var(--ai_decisions);fill:var(--ai_decisions)}"
    ".md-m-coverage{stroke:var(--coverage);fill:var(--coverage)}"
    ".md-m-accountable_share{stroke:var(--accountable_share);fill:var(--accountable_share)}"
    ".md-m-approval_share{stroke:var(--approval_share);fill:var(--approval_share)}"
    ".md-m-digest_share{stroke:var(--digest_share);fill:var(--digest_share)}"
    ".md-m-delegation_share{stroke:var(--delegation_share);fill:var(--delegation_share)}\n"
    "polyline.md-line{fill:none}\n"
    ".md-legend{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:16px;"
    "font-size:13px}\n"
    ".md-swatch{display:inline-block;width:14px;height:4px;border-radius:2px;margin-right:6px;"
    "vertical-align:middle}\n"
    ".md-multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));"
    "gap:12px}\n"
    ".md-multiples figure{margin:0;background:var(--card);border:1px solid var(--line);"
    "border-radius:8px;padding:10px 12px}\n"
    ".md-multiples figcaption{font-size:13px;margin-bottom:4px;overflow-wrap:anywhere}\n"
    ".md-flag{color:var(--high);font-weight:600}.md-multiples+.md-legend{margin-bottom:14px}\n"
    ".md-scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);"
    "border-radius:8px;margin-bottom:14px}\n"
    ".md-table{border-collapse:collapse;width:100%;font-size:13px}\n"
    ".md-table th,.md-table td{padding:6px 9px;border-bottom:1px solid var(--line);"
    "text-align:left;vertical-align:top}\n"
    ".md-table th{background:#eef2f6;font-weight:600;white-space:nowrap}\n"
    ".md-table td.md-num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".md-table tbody tr:nth-child(even){background:#fafbfc}\n"
    "code{font:12px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;overflow-wrap:break-word}"
    "code.md-kind,code.md-uid{white-space:nowrap}\n"
    "pre{margin:0;font:12px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;white-space:pre-wrap;"
    "background:#f1f4f8;padding:6px 8px;border-radius:6px;max-width:520px;overflow-wrap:anywhere}\n"
    ".md-sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;"
    "font-weight:600}\n"
    ".md-sev-high{background:var(--high)}.md-sev-medium{background:var(--medium)}"
    ".md-sev-low{background:var(--low)}\n"
    ".md-data{margin:0}.md-data dt{font-weight:600;color:var(--muted);font-size:12px}"
    ".md-data dd{margin:0 0 4px 10px}.md-data ul{margin:0;padding-left:16px}\n"
    ".md-defs dt{font-weight:600}.md-defs dd{margin:0 0 8px 16px;color:var(--muted)}\n"
    "details{margin-bottom:8px}summary{cursor:pointer;font-weight:600;margin-bottom:6px}\n"
    "footer{margin-top:32px;color:var(--muted);font-size:12px}\n";

/* "Window ... to ... · ledger size N (scanned M)" */
static void put_window(page *p, json_t *root)
{
    put(p, "<p class=\"md-sub\">Window ");
    put_member_figure(p, "time", "md-fig", root, "", "since_ms", W_INTEGER, F_TIME);
    put(p, " to ");
    put_member_figure(p, "time", "md-fig", root, "", "until_ms", W_INTEGER, F_TIME);
    json_t *ledger = member(p, root, "", "ledger", W_OBJECT);
    put(p, " · ledger size ");
    put_member_figure(p, "span", "md-fig", ledger, "ledger", "size", W_COUNT, F_COUNT);
    put(p, " entries (");
    put_member_figure(p, "span", "md-fig", ledger, "ledger", "scanned", W_COUNT, F_COUNT);
    put(p, " scanned)");
}

/* The document up to the header's window line, left open for the caller to add to. */
static void page_open(page *p, json_t *root, const char *heading)
{
    put(p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>mandate: ");
    put_esc_c(p, heading);
    put(p, "</title>\n<style>\n");
    put(p, PAGE_CSS);
    put(p, "</style>\n</head>\n<body>\n<header><h1>");
    put_esc_c(p, heading);
    put(p, "</h1>\n");
    put_window(p, root);
}

static void page_close(page *p, json_t *root)
{
    put(p, "<footer>Made by mandate from the JSON ");
    put(p, p->what);
    put(p, " (format version ");
    put_member_figure(p, "span", "md-fig", root, "", "version", W_INTEGER, F_PLAIN);
    put(p, "). Every figure carries its JSON path and value in data-path and data-value."
           "</footer>\n</body>\n</html>\n");
}

/* ---- SVG charts ---- */

typedef struct chart_line {
    const char *metric; /* key in the series elements; also the CSS class md-m-<metric> */
    const char *label;
    bool share; /* on the 0-100% axis */
    double *v;  /* one value per bucket, NAN for null */
} chart_line;

typedef struct chart {
    const char *series_path;
    const char *title;
    bool small;
    size_t n;
    const int64_t *start_ms;
    chart_line *lines;
    size_t nlines;
} chart;

typedef struct geometry {
    double w, h, left, right, top, bottom;
} geometry;

static const geometry LARGE = {960, 300, 64, 64, 16, 44};
static const geometry SMALL = {320, 150, 40, 40, 10, 26};

static double nice_step(double x)
{
    double p = pow(10, floor(log10(x)));
    double m = x / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void compact_number(double v, char *text, size_t size)
{
    if (v >= 1e6)
        snprintf(text, size, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(text, size, "%gk", v / 1e3);
    else
        snprintf(text, size, "%g", v);
}

static double bucket_x(const geometry *g, size_t n, size_t i)
{
    return g->left + (g->w - g->left - g->right) * ((double)i + 0.5) / (double)n;
}

static double value_y(const geometry *g, double v, double top)
{
    double plot_h = g->h - g->top - g->bottom;
    return g->top + plot_h * (1 - v / top); /* 0 <= v <= top: counts and shares are checked */
}

static void put_axis_label(page *p, double x, double y, const char *anchor, const char *text)
{
    putf(p, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
    put_esc_c(p, text);
    put(p, "</text>");
}

/* Gridlines and labels of one y axis: counts up to top in steps, or 0-100%. */
static void put_y_axis(page *p, const geometry *g, bool share, double top, double step,
                       bool right_side, bool grid)
{
    double x = right_side ? g->w - g->right + 6 : g->left - 6;
    const char *anchor = right_side ? "start" : "end";
    for (double t = 0; t <= top + step / 2; t += step) {
        double y = value_y(g, t, top);
        if (grid)
            putf(p, "<path class=\"md-grid\" d=\"M%.1f %.1fH%.1f\"/>", g->left, y, g->w - g->right);
        char text[32];
        if (share)
            snprintf(text, sizeof(text), "%.0f%%", t * 100);
        else
            compact_number(t, text, sizeof(text));
        put_axis_label(p, x, y + 4, anchor, text);
    }
}

static void put_x_axis(page *p, const chart *c, const geometry *g)
{
    double base = g->h - g->bottom;
    putf(p, "<path class=\"md-axis\" d=\"M%.1f %.1fH%.1f\"/>", g->left, base, g->w - g->right);
    char text[32];
    if (c->small) {
        /* first and last bucket only, anchored inside the plot */
        size_t ends[2] = {0, c->n - 1};
        for (size_t k = 0; k < (c->n > 1 ? 2u : 1u); k++) {
            if (!format_time(c->start_ms[ends[k]], false, text, sizeof(text)))
                continue;
            const char *anchor = c->n == 1 ? "middle" : k == 0 ? "start" : "end";
            double x = c->n == 1 ? bucket_x(g, 1, 0) : k == 0 ? g->left : g->w - g->right;
            put_axis_label(p, x, base + 16, anchor, text);
        }
        return;
    }
    double plot_w = g->w - g->left - g->right;
    size_t step = (size_t)ceil((double)c->n * AXIS_LABEL_WIDTH / plot_w);
    step = step ? step : 1;
    for (size_t i = 0; i < c->n; i += step) {
        double x = bucket_x(g, c->n, i);
        putf(p, "<path class=\"md-axis\" d=\"M%.1f %.1fV%.1f\"/>", x, base, base + 5);
        if (format_time(c->start_ms[i], false, text, sizeof(text)))
            put_axis_label(p, x, base + 19, "middle", text);
    }
    put_axis_label(p, g->left + plot_w / 2, g->h - 6, "middle", "bucket start (UTC)");
}

/* One line: polylines over runs of non-null values, a marker for a lone point (or every point of
 * a short series, with a tooltip). Returns whether anything was drawn. */
static bool put_line(page *p, const chart *c, const geometry *g, const chart_line *l, double top)
{
    bool drawn = false;
    size_t i = 0;
    while (i < c->n) {
        if (isnan(l->v[i])) {
            i++;
            continue;
        }
        size_t end = i;
        while (end < c->n && !isnan(l->v[end]))
            end++;
        if (end - i > 1) {
            putf(p, "<polyline class=\"md-line md-m-%s\" data-metric=\"%s\" points=\"", l->metric,
                 l->metric);
            for (size_t k = i; k < end; k++)
                putf(p, "%s%.1f,%.1f", k > i ? " " : "", bucket_x(g, c->n, k),
                     value_y(g, l->v[k], top));
            put(p, "\"/>");
        }
        for (size_t k = i; k < end; k++) {
            if (end - i > 1 && (c->small || c->n > MARKERS_MAX))
                continue;
            putf(p, "<circle class=\"md-m-%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"><title>", l->metric,
                 bucket_x(g, c->n, k), value_y(g, l->v[k], top), c->small ? "2.5" : "3");
            char when[32];
            if (format_time(c->start_ms[k], false, when, sizeof(when)))
                putf(p, "%s ", when);
            put_esc_c(p, l->label);
            if (l->share)
                putf(p, ": %.1f%%", l->v[k] * 100);
            else
                putf(p, ": %.0f", l->v[k]);
            put(p, "</title></circle>");
        }
        drawn = true;
        i = end;
    }
    return drawn;
}

static void put_chart(page *p, const chart *c)
{
    const geometry *g = c->small ? &SMALL : &LARGE;
    bool has_count = false, has_share = false;
    double max_count = 0;
    for (size_t k = 0; k < c->nlines; k++) {
        const chart_line *l = &c->lines[k];
        has_share |= l->share;
        has_count |= !l->share;
        for (size_t i = 0; i < c->n && !l->share; i++)
            if (!isnan(l->v[i]) && l->v[i] > max_count)
                max_count = l->v[i];
    }
    double count_step = max_count > 0 ? nice_step(max_count / 4) : 1;
    count_step = count_step < 1 ? 1 : count_step;
    double count_top = max_count > 0 ? count_step * ceil(max_count / count_step) : 1;

    putf(p, "<svg class=\"md-chart%s\" data-series=\"%s\" data-metrics=\"",
         c->small ? " md-small-chart" : "", c->series_path);
    for (size_t k = 0; k < c->nlines; k++)
        putf(p, "%s%s", k ? " " : "", c->lines[k].metric);
    putf(p,
         "\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
         g->w, g->h, g->w, g->h);
    put_esc_c(p, c->title);
    putf(p, "\"><rect class=\"md-plot\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
         g->left, g->top, g->w - g->left - g->right, g->h - g->top - g->bottom);
    if (has_count)
        put_y_axis(p, g, false, count_top, c->small ? count_top : count_step, false, true);
    if (has_share)
        put_y_axis(p, g, true, 1, c->small ? 1 : 0.25, has_count, !has_count);
    bool drawn = false;
    if (c->n) {
        put_x_axis(p, c, g);
        for (size_t k = 0; k < c->nlines; k++)
            drawn |= put_line(p, c, g, &c->lines[k], c->lines[k].share ? 1 : count_top);
    }
    if (!drawn)
        putf(p, "<text class=\"md-empty\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
             g->w / 2, g->h / 2, c->n ? "no data (all n/a)" : "no buckets in the window");
    put(p, "</svg>\n");
}

static void put_legend_item(page *p, const chart_line *l, const char *axis, bool no_data)
{
    putf(p, "<li><span class=\"md-swatch\" style=\"background:var(--%s)\"></span>", l->metric);
    put_esc_c(p, l->label);
    put(p, axis);
    put(p, no_data ? " (no data)</li>" : "</li>");
}

/* Names the axis of each line when the chart has two. */
static void put_legend(page *p, const chart_line *lines, size_t nlines, size_t n)
{
    bool mixed = false;
    for (size_t k = 1; k < nlines; k++)
        mixed |= lines[k].share != lines[0].share;
    put(p, "<ul class=\"md-legend\">");
    for (size_t k = 0; k < nlines; k++) {
        bool any = lines[k].v == NULL;
        for (size_t i = 0; i < n && !any; i++)
            any = !isnan(lines[k].v[i]);
        const char *axis = !mixed ? "" : lines[k].share ? " (right axis, %)" : " (left axis)";
        put_legend_item(p, &lines[k], axis, !any);
    }
    put(p, "</ul>\n");
}

/* Fills c from a series array: bucket starts and one value array per line. */
static bool chart_load(page *p, chart *c, json_t *series, const char *path)
{
    c->n = json_array_size(series);
    int64_t *starts = md_arena_array(p->arena, c->n + 1, sizeof(*starts));
    bool ok = starts != NULL;
    for (size_t k = 0; k < c->nlines && ok; k++)
        ok = (c->lines[k].v = md_arena_array(p->arena, c->n + 1, sizeof(double))) != NULL;
    if (!ok) {
        p->rc = p->rc ? p->rc : MANDATE_ENOMEM;
        return false;
    }
    for (size_t i = 0; i < c->n && !p->rc; i++) {
        jpath at = path_index(p, path, i);
        json_t *bucket = checked(p, json_array_get(series, i), at.s, W_OBJECT);
        json_t *start = member(p, bucket, at.s, "start_ms", W_INTEGER);
        starts[i] = start ? json_integer_value(start) : 0;
        for (size_t k = 0; k < c->nlines; k++) {
            chart_line *l = &c->lines[k];
            json_t *v = member(p, bucket, at.s, l->metric, l->share ? W_SHARE_OR_NULL : W_COUNT);
            l->v[i] = v && json_is_number(v) ? json_number_value(v) : NAN;
        }
    }
    c->start_ms = starts;
    return !p->rc;
}

static void put_series_chart(page *p, json_t *series, const char *path, bool small,
                             const char *title, const chart_line *lines, size_t nlines)
{
    chart_line copy[4];
    if (nlines > MD_ARRAY_LEN(copy)) {
        p->rc = p->rc ? p->rc : MANDATE_EINTERNAL;
        return;
    }
    memcpy(copy, lines, nlines * sizeof(*lines));
    chart c = {
        .series_path = path, .title = title, .small = small, .lines = copy, .nlines = nlines};
    if (!chart_load(p, &c, series, path))
        return;
    put_chart(p, &c);
    if (!small)
        put_legend(p, c.lines, c.nlines, c.n);
}

static const chart_line ADOPTION_LINES[] = {
    {"ai_decisions", "AI decisions", false, NULL},
    {"coverage", "governance coverage", true, NULL},
};

static const chart_line SHARE_LINES[] = {
    {"accountable_share", "named accountable human", true, NULL},
    {"approval_share", "verified or decided approval", true, NULL},
    {"digest_share", "output digest recorded", true, NULL},
    {"delegation_share", "short, narrowed delegation", true, NULL},
};

/* ---- the report ---- */

typedef struct metric {
    const char *key;
    const char *label;
    enum fmt fmt;
} metric;

static const metric METRICS[] = {
    {"decisions", "decisions", F_COUNT},         {"ai_decisions", "AI decisions", F_COUNT},
    {"ai_allowed", "AI allowed", F_COUNT},       {"impactful", "impactful", F_COUNT},
    {"coverage", "coverage", F_SHARE},           {"accountable_share", "accountable", F_SHARE},
    {"approval_share", "approved", F_SHARE},     {"digest_share", "digest", F_SHARE},
    {"delegation_share", "delegation", F_SHARE}, {"override_rate", "override rate", F_SHARE},
    {"outcomes", "outcomes", F_COUNT},           {"approvals", "approvals", F_COUNT},
    {"dwell_p50_ms", "dwell p50", F_MS},         {"dwell_p90_ms", "dwell p90", F_MS},
};

static enum want metric_want(const metric *m)
{
    return m->fmt == F_COUNT ? W_COUNT : m->fmt == F_SHARE ? W_SHARE_OR_NULL : W_NUMBER_OR_NULL;
}

static const char *definition(json_t *defs, const char *key)
{
    json_t *v = json_object_get(defs, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void put_metric_cards(page *p, json_t *overall, json_t *defs)
{
    put(p, "<div class=\"md-cards\">\n");
    for (size_t i = 0; i < MD_ARRAY_LEN(METRICS); i++) {
        const metric *m = &METRICS[i];
        put(p, "<div class=\"md-card\"><div class=\"md-card-label\">");
        put_esc_c(p, m->label);
        put(p, "</div>");
        put_member_figure(p, "span", "md-card-value", overall, "overall", m->key, metric_want(m),
                          m->fmt);
        const char *def = definition(defs, m->key);
        if (def) {
            put(p, "<div class=\"md-card-def\">");
            put_esc_c(p, def);
            put(p, "</div>");
        }
        put(p, "</div>\n");
    }
    put(p, "</div>\n");
}

static void put_metric_headers(page *p, json_t *defs)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(METRICS); i++) {
        const char *def = definition(defs, METRICS[i].key);
        put(p, "<th");
        if (def) {
            put(p, " title=\"");
            put_esc_c(p, def);
            put(p, "\"");
        }
        put(p, ">");
        put_esc_c(p, METRICS[i].label);
        put(p, "</th>");
    }
}

static void put_metric_cells(page *p, json_t *obj, const char *path)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(METRICS); i++)
        put_member_figure(p, "td", "md-num", obj, path, METRICS[i].key, metric_want(&METRICS[i]),
                          METRICS[i].fmt);
}

/* One row per bucket: its start and end, then every metric. */
static void put_series_table(page *p, json_t *series, const char *path, json_t *defs)
{
    put(p, "<div class=\"md-scroll\"><table class=\"md-table\" data-path=\"");
    put_esc_c(p, path);
    put(p, "\"><thead><tr><th>bucket start</th><th>end</th>");
    put_metric_headers(p, defs);
    put(p, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < json_array_size(series) && !p->rc; i++) {
        jpath at = path_index(p, path, i);
        json_t *bucket = checked(p, json_array_get(series, i), at.s, W_OBJECT);
        put(p, "<tr>");
        put_member_figure(p, "td", "md-num", bucket, at.s, "start_ms", W_INTEGER, F_DATE);
        put_member_figure(p, "td", "md-num", bucket, at.s, "end_ms", W_INTEGER, F_DATE);
        put_metric_cells(p, bucket, at.s);
        put(p, "</tr>\n");
    }
    put(p, "</tbody></table></div>\n");
}

static json_t *theatre_checked(page *p, json_t *obj, const char *base)
{
    json_t *t = member(p, obj, base, "theatre", W_OBJECT);
    jpath path = path_key(p, base, "theatre");
    member(p, t, path.s, "flag", W_BOOL);
    member(p, t, path.s, "adoption_change", W_NUMBER_OR_NULL);
    member(p, t, path.s, "coverage_change", W_NUMBER_OR_NULL);
    member(p, t, path.s, "reason", W_STRING);
    return t;
}

static void put_verdict(page *p, json_t *root)
{
    json_t *t = theatre_checked(p, root, "");
    if (!t || p->rc)
        return;
    bool flag = json_is_true(json_object_get(t, "flag"));
    putf(p, "<section class=\"md-verdict md-verdict-%s\"", flag ? "theatre" : "ok");
    put_attrs(p, "theatre.flag", json_object_get(t, "flag"));
    putf(p, "><h2>%s</h2>\n<p>",
         flag ? "Governance theatre: adoption is growing while coverage falls"
              : "No governance theatre: coverage keeps up with adoption");
    put(p, "Adoption change (second half of the buckets against the first) ");
    put_figure(p, "strong", "md-fig", "theatre.adoption_change",
               json_object_get(t, "adoption_change"), F_CHANGE);
    put(p, "; coverage change ");
    put_figure(p, "strong", "md-fig", "theatre.coverage_change",
               json_object_get(t, "coverage_change"), F_POINTS);
    put(p, ".</p>\n<p>");
    put_esc_c(p, json_string_value(json_object_get(t, "reason")));
    put(p, "</p></section>\n");
}

static void put_workflow_multiples(page *p, json_t *workflows)
{
    put(p, "<div class=\"md-multiples\">\n");
    for (size_t i = 0; i < json_array_size(workflows) && !p->rc; i++) {
        jpath at = path_index(p, "workflows", i);
        json_t *wf = checked(p, json_array_get(workflows, i), at.s, W_OBJECT);
        const char *uid = member_str(p, wf, at.s, "workflow");
        json_t *t = theatre_checked(p, wf, at.s);
        put(p, "<figure><figcaption><code>");
        put_esc_c(p, uid);
        put(p, "</code>");
        if (t && json_is_true(json_object_get(t, "flag")))
            put(p, " <span class=\"md-flag\">theatre</span>");
        put(p, "</figcaption>");
        jpath series_path = path_key(p, at.s, "series");
        json_t *series = member(p, wf, at.s, "series", W_ARRAY);
        if (series)
            put_series_chart(p, series, series_path.s, true, uid, ADOPTION_LINES,
                             MD_ARRAY_LEN(ADOPTION_LINES));
        put(p, "</figure>\n");
    }
    put(p, "</div>\n");
    if (json_array_size(workflows))
        put_legend(p, ADOPTION_LINES, MD_ARRAY_LEN(ADOPTION_LINES), 0);
}

static void put_workflow_table(page *p, json_t *workflows, json_t *defs)
{
    put(p, "<div class=\"md-scroll\"><table class=\"md-table\" data-path=\"workflows\"><thead><tr>"
           "<th>workflow</th><th>owner</th><th>theatre</th><th>adoption change</th>"
           "<th>coverage change</th>");
    put_metric_headers(p, defs);
    put(p, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < json_array_size(workflows) && !p->rc; i++) {
        jpath at = path_index(p, "workflows", i);
        json_t *wf = json_array_get(workflows, i);
        jpath tpath = path_key(p, at.s, "theatre");
        json_t *t = json_object_get(wf, "theatre");
        put(p, "<tr><td><code class=\"md-uid\">");
        put_esc_c(p, member_str(p, wf, at.s, "workflow"));
        put(p, "</code></td><td>");
        json_t *owner = member(p, wf, at.s, "owner", W_STRING_OR_NULL);
        if (owner && json_is_string(owner)) {
            put(p, "<code class=\"md-uid\">");
            put_esc_c(p, json_string_value(owner));
            put(p, "</code>");
        } else {
            put(p, "<span class=\"md-flag\">no owner</span>");
        }
        put(p, "</td>");
        jpath flag = path_key(p, tpath.s, "flag");
        put(p, "<td title=\"");
        put_esc_c(p, member_str(p, t, tpath.s, "reason"));
        put(p, "\"");
        put_attrs(p, flag.s, json_object_get(t, "flag"));
        put(p, json_is_true(json_object_get(t, "flag")) ? "><span class=\"md-flag\">theatre</span>"
                                                        : ">no");
        put(p, "</td>");
        put_member_figure(p, "td", "md-num", t, tpath.s, "adoption_change", W_NUMBER_OR_NULL,
                          F_CHANGE);
        put_member_figure(p, "td", "md-num", t, tpath.s, "coverage_change", W_NUMBER_OR_NULL,
                          F_POINTS);
        jpath totals_path = path_key(p, at.s, "totals");
        put_metric_cells(p, member(p, wf, at.s, "totals", W_OBJECT), totals_path.s);
        put(p, "</tr>\n");
    }
    put(p, "</tbody></table></div>\n");
}

static void put_workflow_series(page *p, json_t *workflows, json_t *defs)
{
    for (size_t i = 0; i < json_array_size(workflows) && !p->rc; i++) {
        jpath at = path_index(p, "workflows", i);
        json_t *wf = json_array_get(workflows, i);
        jpath series_path = path_key(p, at.s, "series");
        put(p, "<details><summary>");
        put_esc_c(p, member_str(p, wf, at.s, "workflow"));
        put(p, " per bucket</summary>\n");
        put_series_table(p, json_object_get(wf, "series"), series_path.s, defs);
        put(p, "</details>\n");
    }
}

static void put_definitions(page *p, json_t *defs)
{
    put(p, "<section><h2>Definitions</h2>\n<dl class=\"md-defs\">\n");
    const char *key;
    json_t *v;
    json_object_foreach(defs, key, v)
    {
        jpath path = path_key(p, "definitions", key);
        if (!checked(p, v, path.s, W_STRING))
            break;
        put(p, "<dt><code>");
        put_esc_c(p, key);
        put(p, "</code></dt><dd>");
        put_esc_c(p, json_string_value(v));
        put(p, "</dd>\n");
    }
    put(p, "</dl></section>\n");
}

static void render_report(page *p, json_t *root)
{
    json_t *overall = member(p, root, "", "overall", W_OBJECT);
    json_t *series = member(p, root, "", "series", W_ARRAY);
    json_t *workflows = member(p, root, "", "workflows", W_ARRAY);
    json_t *defs = member(p, root, "", "definitions", W_OBJECT);
    if (p->rc)
        return;
    page_open(p, root, "Accountability report");
    put(p, " · buckets of ");
    put_member_figure(p, "span", "md-fig", root, "", "bucket_ms", W_INTEGER, F_PERIOD);
    put(p, "</p></header>\n");
    put_verdict(p, root);

    put(p, "<section><h2>Overall</h2>\n");
    put_metric_cards(p, overall, defs);
    put(p, "</section>\n<section><h2>Adoption beside governance coverage</h2>\n"
           "<div class=\"md-panel\">");
    put_series_chart(p, series, "series", false, "AI decisions per bucket and governance coverage",
                     ADOPTION_LINES, MD_ARRAY_LEN(ADOPTION_LINES));
    put(p, "</div></section>\n<section><h2>Coverage measures over time</h2>\n"
           "<div class=\"md-panel\">");
    put_series_chart(p, series, "series", false,
                     "accountable, approval, digest and delegation shares per bucket", SHARE_LINES,
                     MD_ARRAY_LEN(SHARE_LINES));
    put(p, "</div></section>\n<section><h2>Per bucket</h2>\n");
    put_series_table(p, series, "series", defs);
    put(p, "</section>\n<section><h2>Workflows</h2>\n");
    if (!json_array_size(workflows))
        put(p, "<p>No workflow had decisions in the window.</p>\n");
    put_workflow_multiples(p, workflows);
    put(p, "<h3>Totals per workflow</h3>\n");
    put_workflow_table(p, workflows, defs);
    put_workflow_series(p, workflows, defs);
    put(p, "</section>\n");
    put_definitions(p, defs);
    page_close(p, root);
}

/* ---- the review ---- */

static enum fmt format_for_key(const char *key)
{
    size_t n = strlen(key);
#define ENDS_WITH(s) (n >= sizeof(s) - 1 && strcmp(key + n - (sizeof(s) - 1), s) == 0)
    if (ENDS_WITH("_ms"))
        return F_MS;
    if (ENDS_WITH("_share") || ENDS_WITH("_rate"))
        return F_SHARE;
    if (strcmp(key, "coverage_change") == 0)
        return F_POINTS;
    if (ENDS_WITH("_change"))
        return F_CHANGE;
#undef ENDS_WITH
    return F_COUNT;
}

/* A finding's data, whatever its shape: objects as definition lists, arrays as lists. */
static void put_any(page *p, json_t *v, const char *path, const char *key, int depth)
{
    if (depth > DATA_DEPTH_MAX) {
        fail(p, path, "nested deeper than %d levels", DATA_DEPTH_MAX);
        return;
    }
    if (json_is_object(v)) {
        put(p, "<dl class=\"md-data\">");
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            jpath at = path_key(p, path, k);
            put(p, "<dt>");
            put_esc_c(p, k);
            put(p, "</dt><dd>");
            put_any(p, m, at.s, k, depth + 1);
            put(p, "</dd>");
        }
        put(p, "</dl>");
    } else if (json_is_array(v)) {
        bool flat = true;
        for (size_t i = 0; i < json_array_size(v) && flat; i++)
            flat = !json_is_object(json_array_get(v, i)) && !json_is_array(json_array_get(v, i));
        put(p, flat ? "" : "<ul>");
        for (size_t i = 0; i < json_array_size(v); i++) {
            jpath at = path_index(p, path, i);
            put(p, flat ? (i ? ", " : "") : "<li>");
            put_any(p, json_array_get(v, i), at.s, key, depth + 1);
            put(p, flat ? "" : "</li>");
        }
        put(p, flat ? (json_array_size(v) ? "" : "none") : "</ul>");
    } else if (json_is_string(v)) {
        put(p, "<code>");
        put_esc_c(p, json_string_value(v));
        put(p, "</code>");
    } else {
        put_figure(p, "span", "md-fig", path, v, format_for_key(key));
    }
}

static const char *const SEVERITIES[] = {"high", "medium", "low"};

static void put_review_summary(page *p, json_t *root)
{
    json_t *summary = member(p, root, "", "summary", W_OBJECT);
    static const char *const keys[] = {"high", "medium", "low", "total"};
    put(p, "<section><h2>Summary</h2>\n<div class=\"md-cards\">\n");
    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++) {
        putf(p, "<div class=\"md-card\"><div class=\"md-card-label\">%s</div>", keys[i]);
        put_member_figure(p, "span", "md-card-value", summary, "summary", keys[i], W_COUNT,
                          F_COUNT);
        put(p, "</div>\n");
    }
    put(p, "</div></section>\n");
}

static void put_finding(page *p, json_t *f, const char *path)
{
    json_t *severity = member(p, f, path, "severity", W_STRING);
    const char *sev = severity ? json_string_value(severity) : "";
    bool known = false;
    for (size_t i = 0; i < MD_ARRAY_LEN(SEVERITIES); i++)
        known |= strcmp(sev, SEVERITIES[i]) == 0;
    if (severity && !known) {
        jpath at = path_key(p, path, "severity");
        fail(p, at.s, "want high, medium or low");
    }
    if (p->rc)
        return;
    putf(p,
         "<tr class=\"md-row-%s\"><td><span class=\"md-sev md-sev-%s\">%s</span></td>"
         "<td><code class=\"md-kind\">",
         sev, sev, sev);
    put_esc_c(p, member_str(p, f, path, "kind"));
    put(p, "</code></td><td><code>");
    put_esc_c(p, member_str(p, f, path, "subject"));
    put(p, "</code></td><td>");
    put_esc_c(p, member_str(p, f, path, "title"));
    put(p, "</td><td>");
    jpath evidence_path = path_key(p, path, "evidence");
    json_t *evidence = member(p, f, path, "evidence", W_ARRAY);
    for (size_t i = 0; i < json_array_size(evidence) && !p->rc; i++) {
        jpath at = path_index(p, evidence_path.s, i);
        json_t *index = checked(p, json_array_get(evidence, i), at.s, W_COUNT);
        if (i)
            put(p, ", ");
        if (index)
            put_figure(p, "span", "md-fig", at.s, index, F_PLAIN);
    }
    put(p, json_array_size(evidence) ? "<br>" : "");
    put_member_figure(p, "span", "md-fig", f, path, "evidence_count", W_COUNT, F_COUNT);
    put(p, " in all</td><td><pre>");
    put_esc_c(p, member_str(p, f, path, "fix"));
    put(p, "</pre></td><td>");
    json_t *data = json_object_get(f, "data");
    if (data && !json_is_null(data)) {
        jpath data_path = path_key(p, path, "data");
        if (checked(p, data, data_path.s, W_OBJECT))
            put_any(p, data, data_path.s, "data", 0);
    }
    put(p, "</td></tr>\n");
}

static void put_thresholds(page *p, json_t *root)
{
    json_t *thresholds = member(p, root, "", "thresholds", W_OBJECT);
    put(p, "<section><h2>Thresholds</h2>\n<div class=\"md-panel\">");
    if (thresholds)
        put_any(p, thresholds, "thresholds", "thresholds", 0);
    put(p, "</div></section>\n");
}

static void render_review(page *p, json_t *root)
{
    json_t *findings = member(p, root, "", "findings", W_ARRAY);
    if (p->rc)
        return;
    page_open(p, root, "Access review");
    put(p, "</p></header>\n");
    put_review_summary(p, root);
    put(p, "<section><h2>Findings</h2>\n");
    if (!json_array_size(findings))
        put(p, "<p>No findings in the window.</p>\n");
    put(p, "<div class=\"md-scroll\"><table class=\"md-table\" data-path=\"findings\"><thead><tr>"
           "<th>severity</th><th>kind</th><th>subject</th><th>finding</th>"
           "<th>evidence (ledger indices)</th><th>fix</th><th>figures</th></tr></thead>\n"
           "<tbody>\n");
    for (size_t i = 0; i < json_array_size(findings) && !p->rc; i++) {
        jpath at = path_index(p, "findings", i);
        json_t *f = checked(p, json_array_get(findings, i), at.s, W_OBJECT);
        if (f)
            put_finding(p, f, at.s);
    }
    put(p, "</tbody></table></div></section>\n");
    put_thresholds(p, root);
    page_close(p, root);
}

/* ---- entry points ---- */

static void check_version(page *p, json_t *root)
{
    json_t *version = member(p, root, "", "version", W_INTEGER);
    if (version && json_integer_value(version) != 1)
        fail(p, "version", "unsupported version %" JSON_INTEGER_FORMAT " (this build reads 1)",
             json_integer_value(version));
}

static int render(const char *what, const char *json, size_t len, md_buf *out, md_diag *d,
                  void (*body)(page *, json_t *))
{
    if (!json || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "%s HTML: no JSON or no output buffer", what);
    page p = {.out = out, .d = d, .what = what};
    size_t start = out->len;
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        p.rc =
            md_diag_set(d, MANDATE_EPARSE, (uint32_t)(err.line > 0 ? err.line : 0),
                        (uint32_t)(err.column > 0 ? err.column : 0), "%s JSON: %s", what, err.text);
        goto done;
    }
    if (!(p.arena = md_arena_new())) {
        p.rc = MANDATE_ENOMEM;
        goto done;
    }
    if ((p.rc = numtexts_build(&p.nums, json, len, root)) != 0)
        goto done;
    checked(&p, root, "", W_OBJECT);
    check_version(&p, root);
    if (!p.rc)
        body(&p, root);
done:
    if (p.rc && out->len > start) {
        out->len = start;
        out->data[start] = '\0';
    }
    if (p.rc && (!d || !d->code))
        md_diag_set(d, p.rc, 0, 0, "cannot render the %s as HTML: %s", what,
                    mandate_strerror(p.rc));
    json_decref(root);
    free(p.nums.items);
    md_arena_free(p.arena);
    return p.rc;
}

int md_govern_report_html(const char *report_json, size_t len, md_buf *out, md_diag *d)
{
    return render("report", report_json, len, out, d, render_report);
}

int md_govern_review_html(const char *review_json, size_t len, md_buf *out, md_diag *d)
{
    return render("review", review_json, len, out, d, render_review);
}
