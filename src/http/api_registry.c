/*
 * api_registry.c: the registry over HTTP (docs/server.md): humans, agents, services, groups and
 * workflows (list, show, add, suspend, resume), delegations (issue, re-delegate, revoke) and the
 * kill switch (freeze, unfreeze). Every change names the caller's identity as its actor in the
 * ledger entry the registry writes (durable before the registry returns).
 *
 * One handler serves the five kinds: the kind is the first path segment after /v1/ (humans,
 * agents, ...). Ids in paths are plain (`alice`) or percent-encoded uids (`Human::%22alice%22`).
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"

#define MAX_LIST 256

/* A mandate_err as an HTTP error response. */
int md_http_error_for(md_http_resp *rs, int err, const char *msg)
{
    switch (err) {
    case MANDATE_EINVAL:
    case MANDATE_EPARSE:
    case MANDATE_ETOOBIG:
    case MANDATE_ESCHEMA: return md_http_error(rs, 400, "invalid", "%s", msg);
    case MANDATE_ENOTFOUND: return md_http_error(rs, 404, "not_found", "%s", msg);
    case MANDATE_EEXIST: return md_http_error(rs, 409, "conflict", "%s", msg);
    case MANDATE_EDENIED: return md_http_error(rs, 403, "refused", "%s", msg);
    case MANDATE_ESTORE:
    case MANDATE_EIO: return md_http_error(rs, 503, "store_unavailable", "%s", msg);
    default: return md_http_error(rs, 500, "internal", "%s", msg);
    }
}

/* The kind named by the path: /v1/<kinds>[/...]. */
static int path_kind(const char *path)
{
    static const struct {
        const char *prefix;
        int kind;
    } kinds[] = {{"/v1/humans", MANDATE_KIND_HUMAN},
                 {"/v1/agents", MANDATE_KIND_AGENT},
                 {"/v1/services", MANDATE_KIND_SERVICE},
                 {"/v1/groups", MANDATE_KIND_GROUP},
                 {"/v1/workflows", MANDATE_KIND_WORKFLOW}};
    for (size_t i = 0; i < MD_ARRAY_LEN(kinds); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (!strncmp(path, kinds[i].prefix, n) && (path[n] == 0 || path[n] == '/'))
            return kinds[i].kind;
    }
    return 0;
}

/* Type::"id" for a plain id of kind, or the id itself when it is a uid already. */
static const char *kind_uid(md_arena *a, int kind, const char *id)
{
    if (!id || strstr(id, "::"))
        return id;
    const char *k = mandate_kind_name(kind);
    char t[16];
    snprintf(t, sizeof t, "%s", k ? k : "?");
    t[0] = (char)(t[0] - 'a' + 'A');
    return md_arena_printf(a, "%s::\"%s\"", t, id);
}

int md_api_registry_list(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                         md_http_resp *rs)
{
    (void)c;
    char *json = NULL;
    mandate_diag d = {0};
    int rc = mandate_registry_list(s->registry, path_kind(rq->path), &json, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    return md_http_json(rs, 200, j);
}

int md_api_registry_show(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                         md_http_resp *rs)
{
    int kind = path_kind(rq->path);
    const char *uid = kind_uid(rq->arena, kind, md_http_path_arg(rq->arena, c->path_arg));
    if (!uid)
        return md_http_error(rs, 500, "internal", "out of memory");
    char *json = NULL;
    mandate_diag d = {0};
    int rc = mandate_registry_show(s->registry, uid, &json, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    if (j && json_is_object(j)) {
        const char *k = json_string_value(json_object_get(j, "kind"));
        if (!k || mandate_kind_from_name(k) != kind) {
            json_decref(j);
            return md_http_error(rs, 404, "not_found", "'%s' is not one of the %s", uid,
                                 rq->path + 4);
        }
    }
    return md_http_json(rs, 200, j);
}

/* A member that is a string or absent. */
static bool opt_str(json_t *body, const char *key, const char **out, md_http_resp *rs)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        md_http_error(rs, 400, "invalid", "'%s' must be a string", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* A member that is an array of strings (or absent), into an arena array. */
static bool opt_strs(md_arena *a, json_t *body, const char *key, const char ***out, size_t *n,
                     md_http_resp *rs)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v) || json_array_size(v) > MAX_LIST) {
        md_http_error(rs, 400, "invalid", "'%s' must be an array of at most %d strings", key,
                      MAX_LIST);
        return false;
    }
    const char **arr = md_arena_array(a, json_array_size(v) + 1, sizeof *arr);
    if (!arr) {
        md_http_error(rs, 500, "internal", "out of memory");
        return false;
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            md_http_error(rs, 400, "invalid", "'%s'[%zu] must be a string", key, i);
            return false;
        }
        arr[i] = json_string_value(x);
    }
    *out = arr;
    *n = json_array_size(v);
    return true;
}

/* Refuses members outside the list. */
static bool only_keys(json_t *body, const char *const *keys, size_t n, md_http_resp *rs)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(k, keys[i]);
        if (!known) {
            md_http_error(rs, 400, "invalid", "unknown member '%s'", k);
            return false;
        }
    }
    return true;
}

int md_api_registry_add(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                        md_http_resp *rs)
{
    static const char *const keys[] = {"id",      "name",     "owner",         "workflow",
                                       "model",   "provider", "member_of",     "outputs",
                                       "impacts", "actions",  "resource_types"};
    json_t *b = c->body;
    mandate_principal p = {.kind = path_kind(rq->path)};
    md_arena *a = rq->arena;
    const char **member_of, **outputs, **impacts, **actions, **rtypes;
    if (!only_keys(b, keys, MD_ARRAY_LEN(keys), rs) || !opt_str(b, "id", &p.id, rs) ||
        !opt_str(b, "name", &p.name, rs) || !opt_str(b, "owner", &p.owner, rs) ||
        !opt_str(b, "workflow", &p.workflow, rs) || !opt_str(b, "model", &p.model, rs) ||
        !opt_str(b, "provider", &p.provider, rs) ||
        !opt_strs(a, b, "member_of", &member_of, &p.n_member_of, rs) ||
        !opt_strs(a, b, "outputs", &outputs, &p.n_outputs, rs) ||
        !opt_strs(a, b, "impacts", &impacts, &p.n_impacts, rs) ||
        !opt_strs(a, b, "actions", &actions, &p.n_actions, rs) ||
        !opt_strs(a, b, "resource_types", &rtypes, &p.n_resource_types, rs))
        return rs->status;
    if (!p.id)
        return md_http_error(rs, 400, "invalid", "'id' is required");
    p.member_of = member_of;
    p.outputs = outputs;
    p.impacts = impacts;
    p.actions = actions;
    p.resource_types = rtypes;
    mandate_diag d = {0};
    int rc = mandate_registry_add(s->registry, &p, c->identity, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    char *json = NULL;
    const char *uid = kind_uid(a, p.kind, p.id);
    if (!uid || (rc = mandate_registry_show(s->registry, uid, &json, &d)))
        return md_http_json(rs, 201, json_pack("{s:s}", "id", p.id));
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    return md_http_json(rs, 201, j);
}

static int set_status(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                      md_http_resp *rs, int status)
{
    int kind = path_kind(rq->path);
    const char *uid = kind_uid(rq->arena, kind, md_http_path_arg(rq->arena, c->path_arg));
    if (!uid)
        return md_http_error(rs, 500, "internal", "out of memory");
    char *json = NULL;
    mandate_diag d = {0};
    /* The principal must be of the path's kind. */
    int rc = mandate_registry_show(s->registry, uid, &json, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    const char *k = json_string_value(json_object_get(j, "kind"));
    bool same = k && mandate_kind_from_name(k) == kind;
    json_decref(j);
    if (!same)
        return md_http_error(rs, 404, "not_found", "'%s' is not one of the %s", uid, rq->path + 4);
    if ((rc = mandate_registry_set_status(s->registry, uid, status, c->identity, &d)))
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(
        rs, 200, json_pack("{s:s,s:s}", "uid", uid, "status", mandate_status_name(kind, status)));
}

int md_api_registry_suspend(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                            md_http_resp *rs)
{
    return set_status(s, rq, c, rs, MANDATE_STATUS_SUSPENDED);
}

int md_api_registry_resume(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                           md_http_resp *rs)
{
    return set_status(s, rq, c, rs, MANDATE_STATUS_ACTIVE);
}

/* POST /v1/delegations: a root delegation from the caller (a human) to an agent, or with
 * "parent" a re-delegation by the parent's agent (the caller, when it is an agent). */
int md_api_delegations_issue(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                             md_http_resp *rs)
{
    static const char *const keys[] = {"from",      "to",   "task",     "workflow", "actions",
                                       "resources", "uses", "lifetime", "parent",   "parents"};
    json_t *b = c->body;
    md_arena *a = rq->arena;
    mandate_delegation dl = {0};
    const char *from = NULL, *parent = NULL, **actions, **resources, **parents;
    size_t n_parents = 0;
    if (!only_keys(b, keys, MD_ARRAY_LEN(keys), rs) || !opt_str(b, "from", &from, rs) ||
        !opt_str(b, "to", &dl.subject, rs) || !opt_str(b, "task", &dl.task, rs) ||
        !opt_str(b, "workflow", &dl.workflow, rs) || !opt_str(b, "parent", &parent, rs) ||
        !opt_strs(a, b, "actions", &actions, &dl.n_actions, rs) ||
        !opt_strs(a, b, "resources", &resources, &dl.n_resources, rs) ||
        !opt_strs(a, b, "parents", &parents, &n_parents, rs))
        return rs->status;
    dl.actions = actions;
    dl.resources = resources;
    json_t *uses = json_object_get(b, "uses"), *life = json_object_get(b, "lifetime");
    if ((uses && (!json_is_integer(uses) || json_integer_value(uses) < 1)) ||
        (life && (!json_is_integer(life) || json_integer_value(life) < 1)))
        return md_http_error(rs, 400, "invalid", "'uses' and 'lifetime' must be integers >= 1");
    dl.max_uses = uses ? (uint64_t)json_integer_value(uses) : parent ? 0 : 1;
    dl.lifetime = life ? json_integer_value(life) : 0;
    if (!dl.subject || !dl.task)
        return md_http_error(rs, 400, "invalid", "'to' and 'task' are required");
    dl.subject = kind_uid(a, MANDATE_KIND_AGENT, dl.subject);
    dl.workflow = kind_uid(a, MANDATE_KIND_WORKFLOW, dl.workflow);
    bool is_human = !strncmp(c->identity, "Human::", 7);
    bool is_agent = !strncmp(c->identity, "Agent::", 7);
    char *token = NULL;
    mandate_token_error te = {0};
    mandate_diag d = {0};
    int rc;
    if (parent) {
        /* Only the parent's agent re-delegates: the registry checks delegator == parent's sub. */
        if (!is_agent)
            return md_http_error(rs, 403, "forbidden",
                                 "only the agent a delegation was given to may re-delegate it");
        dl.delegator = c->identity;
        rc = mandate_registry_redelegate(s->registry, parent, parents, n_parents, &dl, c->identity,
                                         &token, &te, &d);
    } else {
        if (!is_human)
            return md_http_error(rs, 403, "forbidden",
                                 "a root delegation comes from a human, with that human's key");
        const char *f = from ? kind_uid(a, MANDATE_KIND_HUMAN, from) : c->identity;
        if (!f || strcmp(f, c->identity))
            return md_http_error(rs, 403, "forbidden", "'%s' may only delegate as itself",
                                 c->identity);
        dl.delegator = c->identity;
        rc = mandate_registry_delegate(s->registry, &dl, c->identity, &token, &te, &d);
    }
    if (rc) {
        if (te.reason)
            return md_http_json(rs, rc == MANDATE_ENOMEM ? 500 : 422,
                                json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "refused",
                                          "token_reason", mandate_token_reason_name(te.reason),
                                          "message", d.message));
        return md_http_error_for(rs, rc, d.message);
    }
    json_t *j = json_pack("{s:s}", "token", token);
    free(token);
    return md_http_json(rs, 201, j);
}

int md_api_delegations_revoke(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                              md_http_resp *rs)
{
    static const char *const keys[] = {"delegation", "reason"};
    const char *what = NULL, *reason = NULL;
    if (!only_keys(c->body, keys, MD_ARRAY_LEN(keys), rs) ||
        !opt_str(c->body, "delegation", &what, rs) || !opt_str(c->body, "reason", &reason, rs))
        return rs->status;
    if (!what)
        return md_http_error(rs, 400, "invalid", "'delegation' (a jti or a token) is required");
    /* delegations.revoke alone covers the caller's own delegations (a cheap denial of service
     * between users otherwise); delegations.revoke_any covers every one. */
    bool any = false;
    md_diag ad = {0};
    int arc = md_http_admin_allows(s, rq->arena, c->identity, "delegations.revoke_any", &any, &ad);
    if (arc)
        return md_http_error(rs, 500, "internal", "cannot check what '%s' may do: %s", c->identity,
                             ad.msg[0] ? ad.msg : mandate_strerror(arc));
    mandate_diag d = {0};
    int rc = any ? 0 : mandate_registry_revoke_party(s->registry, what, c->identity, &d);
    if (rc == MANDATE_EDENIED)
        return md_http_error(rs, 403, "forbidden", "%s", d.message);
    if (!rc)
        rc = mandate_registry_revoke(s->registry, what, c->identity, reason, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(rs, 200, json_pack("{s:b}", "revoked", 1));
}

static int freeze(mandate_server *s, const md_http_ctx *c, md_http_resp *rs, bool on)
{
    mandate_diag d = {0};
    int rc = mandate_registry_freeze(s->registry, on, c->identity, &d);
    if (rc)
        return md_http_error_for(rs, rc, d.message);
    return md_http_json(rs, 200, json_pack("{s:b}", "frozen", on));
}

int md_api_freeze(mandate_server *s, const md_http_req *rq, const md_http_ctx *c, md_http_resp *rs)
{
    (void)rq;
    return freeze(s, c, rs, true);
}

int md_api_unfreeze(mandate_server *s, const md_http_req *rq, const md_http_ctx *c,
                    md_http_resp *rs)
{
    (void)rq;
    return freeze(s, c, rs, false);
}
