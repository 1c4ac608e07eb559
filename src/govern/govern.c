/*
 * govern.c: what the review and the report share (govern.h): the window of time, the thresholds
 * and opening a data directory's registry read-only with its policies, schema and entities.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "govern/govern.h"

int64_t md_govern_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A decimal integer without sign, spaces or overflow; *end gets what follows it. */
static bool parse_u63(const char *s, int64_t *out, const char **end)
{
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (p == s)
        return false;
    *out = v;
    *end = p;
    return true;
}

int md_govern_window(const char *since, const char *now, int64_t *since_ms, int64_t *until_ms,
                     md_diag *d)
{
    int64_t until = 0, v = 0;
    const char *end = NULL;
    if (now && *now) {
        if (!parse_u63(now, &until, &end) || *end)
            return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                               "now '%s' is not a time in milliseconds since the epoch", now);
    } else {
        until = md_govern_now_ms();
    }
    if (!since || !parse_u63(since, &v, &end) || (*end && ((*end != 'd' && *end != 'h') || end[1])))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "since '%s' is not a duration (30d, 12h) or a time in milliseconds",
                           since ? since : "");
    int64_t from;
    if (*end) {
        int64_t unit = *end == 'd' ? 86400000 : 3600000;
        if (v == 0 || v > (int64_t)MD_GOVERN_MAX_WINDOW_DAYS * 86400000 / unit)
            return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                               "since '%s': the window must be 1h to %d days long", since,
                               MD_GOVERN_MAX_WINDOW_DAYS);
        from = until - v * unit;
    } else {
        from = v;
    }
    if (from >= until)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "since '%s' is not before now (%lld): the window is empty", since,
                           (long long)until);
    *since_ms = from;
    *until_ms = until;
    return 0;
}

void md_review_thresholds_default(md_review_thresholds *t)
{
    *t = (md_review_thresholds){.dormant_days = 14,
                                .rubber_stamp_dwell_ms = 30000,
                                .rubber_stamp_share = 0.5,
                                .rubber_stamp_min_approvals = 10,
                                .long_delegation_s = 28800};
}

int md_review_thresholds_check(const md_review_thresholds *t, md_diag *d)
{
    if (t->dormant_days < 1 || t->dormant_days > MD_GOVERN_MAX_WINDOW_DAYS)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "dormant_days must be 1 to %d",
                           MD_GOVERN_MAX_WINDOW_DAYS);
    if (t->rubber_stamp_dwell_ms < 0 || t->rubber_stamp_dwell_ms > 86400000)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "rubber_stamp_dwell_ms must be 0 to 86400000 (one day)");
    if (!(t->rubber_stamp_share >= 0 && t->rubber_stamp_share < 1))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "rubber_stamp_share must be in [0, 1)");
    if (t->rubber_stamp_min_approvals < 1 || t->rubber_stamp_min_approvals > 1000000)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "rubber_stamp_min_approvals must be 1 to 1000000");
    if (t->long_delegation_s < 1 || t->long_delegation_s > 10LL * 366 * 86400)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "long_delegation_s must be 1 s to 10 years");
    return 0;
}

/* Reads DIR/name (or path) into *out; a default file that does not exist is no input. */
static int read_input(const char *dir, const char *path, const char *name, size_t max, char **out,
                      size_t *len, md_diag *d)
{
    char buf[4096];
    *out = NULL;
    *len = 0;
    if (!path) {
        if ((size_t)snprintf(buf, sizeof buf, "%s/%s", dir, name) >= sizeof buf)
            return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "data directory path too long");
        struct stat st;
        if (stat(buf, &st) != 0 && errno == ENOENT)
            return 0;
        path = buf;
    }
    return md_read_file(path, max, out, len, d);
}

/* mandate_registry_set_schema, _set_entities or _set_policies. */
typedef int (*registry_setter)(mandate_registry *, const char *, size_t, mandate_diag *);

int md_govern_open(const md_govern_paths *p, mandate_registry **out, md_diag *d)
{
    *out = NULL;
    if (!p || !p->dir || !*p->dir)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "no data directory given");
    /* What the snapshot needs, in this order (entities are parsed with the schema): the given
     * path or the default file; the policy set is always set (empty when there is no file). */
    const struct {
        const char *what, *path, *file;
        size_t max;
        registry_setter set;
        bool always;
    } inputs[] = {
        {"schema", p->schema, "schema.cedarschema", MD_CEDAR_MAX_POLICY_TEXT,
         mandate_registry_set_schema, false},
        {"entities", p->entities, "entities.json", MD_CEDAR_MAX_JSON_TEXT,
         mandate_registry_set_entities, false},
        {"policies", p->policies, "policies.cedar", MD_CEDAR_MAX_POLICY_TEXT,
         mandate_registry_set_policies, true},
    };
    mandate_registry_opts ro = {.data_dir = p->dir, .read_only = true};
    mandate_diag rd = {0};
    mandate_registry *r = NULL;
    int rc = mandate_registry_open(&r, &ro, &rd);
    if (rc)
        return md_diag_set(d, rc, 0, 0, "%s", rd.message);
    for (size_t i = 0; i < MD_ARRAY_LEN(inputs) && !rc; i++) {
        char *text = NULL;
        size_t len = 0;
        rc = read_input(p->dir, inputs[i].path, inputs[i].file, inputs[i].max, &text, &len, d);
        if (!rc && (text || inputs[i].always) &&
            (rc = inputs[i].set(r, text ? text : "", len, &rd)))
            md_diag_set(d, rc, (uint32_t)rd.line, (uint32_t)rd.column, "%s: %s", inputs[i].what,
                        rd.message);
        free(text);
    }
    if (rc) {
        mandate_registry_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int md_govern_open_ledger(const char *dir, mandate_ledger **out, md_diag *d)
{
    char db[4096];
    *out = NULL;
    if (!dir || !*dir)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "no data directory given");
    if ((size_t)snprintf(db, sizeof db, "%s/mandate.db", dir) >= sizeof db)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "data directory path too long");
    struct stat st;
    if (stat(db, &st) != 0)
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                           "no database in '%s' (make it with 'mandate init --data %s')", dir, dir);
    mandate_ledger_opts lo = {.db_path = db, .cache_level = 64, .streaming = 1};
    mandate_diag ld = {0};
    int rc = mandate_ledger_open(out, &lo, &ld);
    return rc ? md_diag_set(d, rc, 0, 0, "cannot open the ledger in '%s': %s", dir, ld.message) : 0;
}
