/*
 * api_ledger.c: the evidence ledger over HTTP: GET /v1/ledger/checkpoint, /v1/ledger/entries
 * (a page), /v1/ledger/entries/{index}, /v1/ledger/proofs/inclusion and
 * /v1/ledger/proofs/consistency. Read only; everything comes from mandate/ledger.h.
 */
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>

#include "http/http.h"

/* Parses a decimal uint64 parameter; missing gives def (or an error when required). */
static bool u64_param(const md_http_req *rq, const char *v, const char *name, bool required,
                      uint64_t def, uint64_t *out, md_http_resp *rs)
{
    if (!v) {
        if (required) {
            md_http_error(rs, 400, "bad_request", "query parameter '%s' is required", name);
            return false;
        }
        *out = def;
        return true;
    }
    uint64_t x = 0;
    if (!*v || strlen(v) > 19) {
        md_http_error(rs, 400, "bad_request", "'%s' must be a decimal integer", name);
        return false;
    }
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9') {
            md_http_error(rs, 400, "bad_request", "'%s' must be a decimal integer, not '%s'", name,
                          v);
            return false;
        }
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *out = x;
    return true;
}

static int ledger_fail(md_http_resp *rs, int rc, const mandate_diag *d)
{
    int status = rc == MANDATE_ENOTFOUND ? 404 : rc == MANDATE_EINVAL ? 400 : 500;
    return md_http_error(rs, status,
                         status == 404   ? "not_found"
                         : status == 400 ? "bad_request"
                                         : "ledger_error",
                         "%s", d->message[0] ? d->message : mandate_strerror(rc));
}

static int raw_json(md_http_resp *rs, char *text)
{
    free(rs->body);
    rs->body = text;
    rs->body_len = strlen(text);
    rs->content_type = "application/json";
    rs->status = 200;
    return 200;
}

int md_api_ledger_checkpoint(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                             md_http_resp *rs)
{
    char *note = NULL;
    mandate_diag d = {0};
    int rc = mandate_ledger_checkpoint(s->ledger, &note, &d);
    if (rc)
        return ledger_fail(rs, rc, &d);
    uint64_t size = 0;
    uint8_t root[32];
    rc = mandate_ledger_check_checkpoint(note, strlen(note), mandate_ledger_verifier_key(s->ledger),
                                         &size, root, &d);
    if (rc) {
        free(note);
        return ledger_fail(rs, rc, &d);
    }
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, root, 32, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_pack("{s:s,s:I,s:s,s:s,s:s}", "origin", mandate_ledger_origin(s->ledger),
                          "size", (json_int_t)size, "root", b64, "verifier_key",
                          mandate_ledger_verifier_key(s->ledger), "checkpoint", note);
    free(note);
    return md_http_json(rs, 200, j);
}

int md_api_ledger_entries(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                          md_http_resp *rs)
{
    uint64_t start, limit;
    if (!u64_param(rq, md_http_query_param(rq->arena, rq->query, "start"), "start", false, 0,
                   &start, rs) ||
        !u64_param(rq, md_http_query_param(rq->arena, rq->query, "limit"), "limit", false, 20,
                   &limit, rs))
        return rs->status;
    if (limit == 0 || limit > MD_HTTP_MAX_LEDGER_PAGE)
        return md_http_error(rs, 400, "bad_request", "limit must be between 1 and %d",
                             MD_HTTP_MAX_LEDGER_PAGE);
    uint64_t size = mandate_ledger_size(s->ledger);
    json_t *arr = json_array();
    for (uint64_t i = start; arr && i < size && i - start < limit; i++) {
        char *text = NULL;
        mandate_diag d = {0};
        int rc = mandate_ledger_get(s->ledger, i, &text, &d);
        if (rc) {
            json_decref(arr);
            return ledger_fail(rs, rc, &d);
        }
        json_error_t je;
        json_t *e = json_loads(text, 0, &je);
        free(text);
        if (!e || json_array_append_new(arr, e)) {
            json_decref(arr);
            return md_http_error(rs, 500, "ledger_error", "entry %llu cannot be read back",
                                 (unsigned long long)i);
        }
    }
    return md_http_json(rs, 200,
                        json_pack("{s:I,s:I,s:o}", "size", (json_int_t)size, "start",
                                  (json_int_t)start, "entries", arr));
}

int md_api_ledger_entry(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs)
{
    uint64_t index;
    if (!u64_param(rq, c->path_arg, "index", true, 0, &index, rs))
        return rs->status;
    char *text = NULL;
    mandate_diag d = {0};
    int rc = mandate_ledger_get(s->ledger, index, &text, &d);
    if (rc)
        return ledger_fail(rs, rc, &d);
    return raw_json(rs, text);
}

int md_api_ledger_inclusion(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                            md_http_resp *rs)
{
    uint64_t index, tree_size;
    if (!u64_param(rq, md_http_query_param(rq->arena, rq->query, "index"), "index", true, 0, &index,
                   rs) ||
        !u64_param(rq, md_http_query_param(rq->arena, rq->query, "tree_size"), "tree_size", false,
                   0, &tree_size, rs))
        return rs->status;
    char *text = NULL;
    mandate_diag d = {0};
    int rc = mandate_ledger_prove(s->ledger, index, tree_size, &text, &d);
    if (rc)
        return ledger_fail(rs, rc, &d);
    return raw_json(rs, text);
}

int md_api_ledger_consistency(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                              md_http_resp *rs)
{
    uint64_t size1, size2;
    if (!u64_param(rq, md_http_query_param(rq->arena, rq->query, "size1"), "size1", true, 0, &size1,
                   rs) ||
        !u64_param(rq, md_http_query_param(rq->arena, rq->query, "size2"), "size2", false, 0,
                   &size2, rs))
        return rs->status;
    char *text = NULL;
    mandate_diag d = {0};
    int rc = mandate_ledger_prove_consistency(s->ledger, size1, size2, &text, &d);
    if (rc)
        return ledger_fail(rs, rc, &d);
    return raw_json(rs, text);
}
