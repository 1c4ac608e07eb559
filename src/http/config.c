/*
 * config.c: the server's configuration file (`key = value` lines, # comments) and flags, and the
 * API key entry points of server.h (mandate_api_key_*), over store/keys_store.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"

static int cfg_fail(mandate_diag *diag, int code, unsigned line, const char *fmt, ...)
    MD_PRINTF(4, 5);
static int cfg_fail(mandate_diag *diag, int code, unsigned line, const char *fmt, ...)
{
    if (diag) {
        diag->code = code;
        diag->line = line;
        diag->column = line ? 1 : 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->message, sizeof diag->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool parse_num(const char *v, unsigned long long max, unsigned long long *out)
{
    if (!*v)
        return false;
    unsigned long long x = 0;
    for (const char *p = v; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        x = x * 10 + (unsigned long long)(*p - '0');
        if (x > max)
            return false;
    }
    *out = x;
    return true;
}

static const char *keep(mandate_server_config *cfg, const char *v)
{
    if (cfg->n_strings >= MD_ARRAY_LEN(cfg->strings))
        return NULL;
    char *c = strdup(v);
    if (c)
        cfg->strings[cfg->n_strings++] = c;
    return c;
}

MD_EXPORT int mandate_server_config_set(mandate_server_config *cfg, const char *key,
                                        const char *value, mandate_diag *diag)
{
    mandate_server_opts *o = &cfg->opts;
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"data", offsetof(mandate_server_opts, data_dir)},
        {"listen", offsetof(mandate_server_opts, listen)},
        {"policies", offsetof(mandate_server_opts, policies)},
        {"schema", offsetof(mandate_server_opts, schema)},
        {"entities", offsetof(mandate_server_opts, entities)},
        {"admin-policies", offsetof(mandate_server_opts, admin_policies)},
        {"admin-entities", offsetof(mandate_server_opts, admin_entities)},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(strs); i++)
        if (!strcmp(key, strs[i].key)) {
            const char *c = keep(cfg, value);
            if (!c)
                return cfg_fail(diag, MANDATE_ENOMEM, 0, "too many settings");
            *(const char **)((char *)o + strs[i].off) = c;
            return 0;
        }
    unsigned long long n = 0;
    if (!strcmp(key, "event-loop")) {
        if (!strcmp(value, "poll"))
            o->event_loop = MANDATE_SERVER_POLL;
        else if (!strcmp(value, "epoll"))
            o->event_loop = MANDATE_SERVER_EPOLL;
        else
            return cfg_fail(diag, MANDATE_EINVAL, 0, "event-loop must be poll or epoll, not '%s'",
                            value);
        return 0;
    }
    if (!strcmp(key, "record-decisions")) {
        if (!strcmp(value, "true") || !strcmp(value, "1"))
            o->record_decisions = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0"))
            o->record_decisions = -1;
        else
            return cfg_fail(diag, MANDATE_EINVAL, 0, "record-decisions must be true or false");
        return 0;
    }
    static const struct {
        const char *key;
        unsigned long long min, max;
    } nums[] = {
        {"port", 0, 65535},          {"threads", 1, 256},
        {"max-body", 1, 1ull << 30}, {"max-json-depth", 1, 512},
        {"max-headers", 1, 1000},    {"max-header-bytes", 64, 1u << 20},
        {"timeout", 1, 3600},        {"max-connections", 1, 100000},
        {"max-batch", 1, 10000},     {"key-cache-ms", 0, 3600000},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(nums); i++) {
        if (strcmp(key, nums[i].key))
            continue;
        if (!parse_num(value, nums[i].max, &n) || n < nums[i].min)
            return cfg_fail(diag, MANDATE_EINVAL, 0,
                            "%s must be an integer from %llu to %llu, not '%s'", key, nums[i].min,
                            nums[i].max, value);
        switch (i) {
        case 0: o->port = (unsigned)n; break;
        case 1: o->threads = (unsigned)n; break;
        case 2: o->max_body = (size_t)n; break;
        case 3: o->max_json_depth = (unsigned)n; break;
        case 4: o->max_headers = (unsigned)n; break;
        case 5: o->max_header_bytes = (size_t)n; break;
        case 6: o->timeout_s = (unsigned)n; break;
        case 7: o->max_connections = (unsigned)n; break;
        case 8: o->max_batch = (unsigned)n; break;
        default: o->key_cache_ms = n ? (int)n : -1; break;
        }
        return 0;
    }
    return cfg_fail(diag, MANDATE_EINVAL, 0, "unknown setting '%s'", key);
}

MD_EXPORT int mandate_server_config_load(mandate_server_config *cfg, const char *path,
                                         mandate_diag *diag)
{
    char *text = NULL;
    size_t len = 0;
    md_diag d = {0};
    int rc = md_read_file(path, 1 << 20, &text, &len, &d);
    if (rc)
        return cfg_fail(diag, rc, 0, "%s", d.msg);
    unsigned lineno = 0;
    char *p = text;
    while (p && *p && !rc) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        char *eq = strchr(p, '=');
        char *k = p;
        while (isspace((unsigned char)*k))
            k++;
        if (*k) {
            if (!eq) {
                rc = cfg_fail(diag, MANDATE_EPARSE, lineno, "%s:%u: expected 'key = value'", path,
                              lineno);
                break;
            }
            char *ke = eq;
            while (ke > k && isspace((unsigned char)ke[-1]))
                ke--;
            *ke = 0;
            char *v = eq + 1;
            while (isspace((unsigned char)*v))
                v++;
            char *ve = v + strlen(v);
            while (ve > v && isspace((unsigned char)ve[-1]))
                ve--;
            *ve = 0;
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                v++;
                ve[-1] = 0;
            }
            mandate_diag sd = {0};
            if ((rc = mandate_server_config_set(cfg, k, v, &sd)))
                cfg_fail(diag, rc, lineno, "%s:%u: %s", path, lineno, sd.message);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    return rc;
}

MD_EXPORT void mandate_server_config_free(mandate_server_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_strings; i++)
        free(cfg->strings[i]);
    memset(cfg, 0, sizeof *cfg);
}

static int open_keys(const char *data_dir, md_keys **k, mandate_diag *diag)
{
    if (!data_dir)
        return cfg_fail(diag, MANDATE_EINVAL, 0, "no data directory");
    char path[4096];
    snprintf(path, sizeof path, "%s/mandate.db", data_dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cfg_fail(diag, MANDATE_ENOTFOUND, 0,
                        "data directory '%s' has no database (run 'mandate init --data %s')",
                        data_dir, data_dir);
    fclose(f);
    md_diag d = {0};
    int rc = md_keys_sqlite_open(k, path, &d);
    if (rc)
        return cfg_fail(diag, rc, 0, "%s", d.msg);
    return 0;
}

MD_EXPORT int mandate_api_key_create(const char *data_dir, const char *identity, char *out,
                                     size_t out_len, mandate_diag *diag)
{
    if (!identity || !out || out_len < MD_KEY_TEXT_LEN + 1)
        return cfg_fail(diag, MANDATE_EINVAL, 0, "bad arguments to mandate_api_key_create");
    md_arena *a = md_arena_new();
    if (!a)
        return cfg_fail(diag, MANDATE_ENOMEM, 0, "out of memory");
    md_euid uid;
    md_diag d = {0};
    int rc = md_euid_parse(a, identity, strlen(identity), &uid, &d);
    md_arena_free(a);
    if (rc)
        return cfg_fail(diag, MANDATE_EINVAL, 0,
                        "identity '%s' is not a Cedar entity uid such as Human::\"alice\": %s",
                        identity, d.msg);
    md_keys *k = NULL;
    if ((rc = open_keys(data_dir, &k, diag)))
        return rc;
    rc = md_keys_create(k, identity, out, &d);
    md_keys_close(k);
    if (rc)
        return cfg_fail(diag, rc, 0, "%s", d.msg);
    return 0;
}

MD_EXPORT int mandate_api_key_revoke(const char *data_dir, const char *id, mandate_diag *diag)
{
    md_keys *k = NULL;
    int rc = open_keys(data_dir, &k, diag);
    if (rc)
        return rc;
    md_diag d = {0};
    rc = k->ops->revoke(k, id, &d);
    md_keys_close(k);
    if (rc)
        return cfg_fail(diag, rc, 0, "%s", d.msg);
    return 0;
}

static int list_one(void *ctx, const md_key_info *ki)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:b}", "id", ki->id, "identity", ki->identity, "created_ms",
                          (json_int_t)ki->created_ms, "revoked", ki->revoked);
    return (o && !json_array_append_new(ctx, o)) ? 0 : MANDATE_ENOMEM;
}

MD_EXPORT int mandate_api_key_list(const char *data_dir, char **json_out, mandate_diag *diag)
{
    md_keys *k = NULL;
    int rc = open_keys(data_dir, &k, diag);
    if (rc)
        return rc;
    json_t *arr = json_array();
    md_diag d = {0};
    rc = arr ? k->ops->list(k, list_one, arr, &d) : MANDATE_ENOMEM;
    md_keys_close(k);
    if (!rc && !(*json_out = json_dumps(arr, JSON_INDENT(2))))
        rc = MANDATE_ENOMEM;
    json_decref(arr);
    if (rc)
        return cfg_fail(diag, rc, 0, "%s", d.msg[0] ? d.msg : mandate_strerror(rc));
    return 0;
}
