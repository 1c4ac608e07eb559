/*
 * api_policies.c: GET /v1/policies (the active set), PUT /v1/policies (replace it atomically: a
 * set that does not parse or validate against the schema is refused and the old one stays
 * active), POST /v1/policies/validate (check a set without activating it).
 *
 * A replacement is written to a temporary file and fsynced, recorded in the ledger (durable),
 * renamed over the active file, and then swapped in memory; requests in flight keep the snapshot
 * they started with.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "http/http.h"

static json_t *policy_names(const md_http_snapshot *snap)
{
    json_t *ids = json_array();
    for (size_t i = 0; ids && i < snap->ps->n; i++) {
        md_str n = md_policy_name(snap->ps->policies[i]);
        json_array_append_new(ids, json_stringn(n.ptr, n.len));
    }
    return ids;
}

int md_api_policies_get(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs)
{
    md_http_snapshot *snap = md_http_snapshot_acquire(s);
    json_t *j = json_pack("{s:I,s:s,s:I,s:o,s:s%,s:s}", "version", (json_int_t)snap->version,
                          "sha256", snap->sha256, "count", (json_int_t)snap->ps->n, "ids",
                          policy_names(snap), "policies", snap->text, snap->text_len, "agent_path",
                          s->registry_error[0] ? s->registry_error : "ok");
    md_http_snapshot_release(snap);
    return md_http_json(rs, 200, j);
}

static const char *policies_text(const md_http_ctx *c, md_http_resp *rs, size_t *len)
{
    json_t *p = json_object_get(c->body, "policies");
    if (!json_is_string(p) || json_object_size(c->body) != 1) {
        md_http_error(rs, 400, "bad_request",
                      "the body must be {\"policies\": \"<Cedar policy text>\"}");
        return NULL;
    }
    *len = json_string_length(p);
    return json_string_value(p);
}

int md_api_policies_validate(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                             md_http_resp *rs)
{
    size_t len = 0;
    const char *text = policies_text(c, rs, &len);
    if (!text)
        return rs->status;
    md_http_snapshot *snap = NULL;
    json_t *errors = NULL;
    md_diag d = {0};
    int rc = md_http_snapshot_new(s, text, len, 0, &snap, &errors, &d);
    if (rc == MANDATE_EPARSE || rc == MANDATE_EVALIDATE || rc == MANDATE_ETOOBIG)
        return md_http_json(rs, 200,
                            json_pack("{s:b,s:b,s:o}", "valid", 0, "schema", s->schema != NULL,
                                      "errors", errors ? errors : json_array()));
    json_decref(errors);
    if (rc)
        return md_http_error(rs, 500, "internal", "%s", d.msg);
    json_t *j = json_pack("{s:b,s:b,s:I,s:o,s:[]}", "valid", 1, "schema", s->schema != NULL,
                          "count", (json_int_t)snap->ps->n, "ids", policy_names(snap), "errors");
    md_http_snapshot_release(snap);
    return md_http_json(rs, 200, j);
}

static int write_file_synced(const char *path, const char *text, size_t len, md_diag *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot write '%s': %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot write '%s': %s", path,
                               strerror(errno));
        }
        off += (size_t)n;
    }
    if (fsync(fd)) {
        close(fd);
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot sync '%s': %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

static void sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int md_api_policies_put(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs)
{
    size_t len = 0;
    const char *text = policies_text(c, rs, &len);
    if (!text)
        return rs->status;
    pthread_mutex_lock(&s->put_mu);
    md_http_snapshot *snap = NULL, *old = NULL;
    bool registry_set = false;
    json_t *errors = NULL;
    md_diag d = {0};
    char *tmp = NULL, *body = NULL;
    pthread_mutex_lock(&s->snap_mu);
    uint64_t version = s->snap->version + 1;
    pthread_mutex_unlock(&s->snap_mu);
    int rc = md_http_snapshot_new(s, text, len, version, &snap, &errors, &d);
    if (rc == MANDATE_EPARSE || rc == MANDATE_EVALIDATE || rc == MANDATE_ETOOBIG) {
        json_t *j = json_pack("{s:{s:s,s:s},s:o}", "error", "code", "invalid_policies", "message",
                              d.msg, "errors", errors ? errors : json_array());
        md_http_json(rs, 422, j);
        goto done;
    }
    json_decref(errors);
    if (rc) {
        md_http_error(rs, 500, "internal", "%s", d.msg);
        goto done;
    }
    size_t tl = strlen(s->policies_path) + 5;
    if (!(tmp = malloc(tl))) {
        md_http_error(rs, 500, "internal", "out of memory");
        goto done;
    }
    snprintf(tmp, tl, "%s.tmp", s->policies_path);
    if ((rc = write_file_synced(tmp, text, len, &d))) {
        md_http_error(rs, 500, "store_failed", "the old policies stay active: %s", d.msg);
        goto done;
    }
    /* The agent path (the registry) gets the same set; undone below if a later step fails. */
    mandate_diag rgd = {0};
    if ((rc = mandate_registry_set_policies(s->registry, text, len, &rgd)) != 0) {
        unlink(tmp);
        if (rc == MANDATE_EPARSE || rc == MANDATE_EVALIDATE || rc == MANDATE_EINVAL ||
            rc == MANDATE_ETOOBIG || rc == MANDATE_ESCHEMA)
            md_http_error(rs, 422, "invalid_policies",
                          "the agent path refused the policies; the old ones stay active: %s",
                          rgd.message);
        else
            md_http_error(rs, 503, "ledger_unavailable",
                          "the policies could not be recorded; the old ones stay active: %s",
                          rgd.message);
        goto done;
    }
    registry_set = true;
    json_t *ej = json_pack("{s:s,s:s,s:s,s:I,s:I}", "api", "policies.replace", "caller",
                           c->identity, "sha256", snap->sha256, "version", (json_int_t)version,
                           "count", (json_int_t)snap->ps->n);
    body = ej ? json_dumps(ej, JSON_COMPACT) : NULL;
    json_decref(ej);
    uint64_t index = 0;
    mandate_diag ld = {0};
    mandate_ledger_entry e = {
        .type = MANDATE_ENTRY_POLICY, .body = body, .body_len = body ? strlen(body) : 0};
    if (!body || mandate_ledger_append(s->ledger, &e, &index, &ld)) {
        unlink(tmp);
        md_http_error(rs, 503, "ledger_unavailable", "the old policies stay active: %s",
                      body ? ld.message : "out of memory");
        goto done;
    }
    if (rename(tmp, s->policies_path)) {
        md_http_error(rs, 500, "store_failed", "cannot rename '%s': %s", tmp, strerror(errno));
        goto done;
    }
    sync_dir_of(s->policies_path);
    pthread_mutex_lock(&s->snap_mu);
    old = s->snap;
    s->snap = snap;
    pthread_mutex_unlock(&s->snap_mu);
    md_http_json(rs, 200,
                 json_pack("{s:I,s:s,s:I,s:o,s:I}", "version", (json_int_t)version, "sha256",
                           snap->sha256, "count", (json_int_t)snap->ps->n, "ids",
                           policy_names(snap), "entry", (json_int_t)index));
    snap = NULL;
    registry_set = false;
done:
    if (registry_set) {
        md_http_snapshot *cur = md_http_snapshot_acquire(s);
        mandate_registry_set_policies(s->registry, cur->text, cur->text_len, NULL);
        md_http_snapshot_release(cur);
    }
    md_http_snapshot_release(snap);
    md_http_snapshot_release(old);
    free(tmp);
    free(body);
    pthread_mutex_unlock(&s->put_mu);
    return rs->status;
}
