/*
 * api_agent.c: requests that carry a delegation token go through the registry's agent
 * authorization path (mandate_agent_authorize_submit in mandate/registry.h: agent and owner
 * status, the token and its chain, then the three checks), which submits the decision's ledger
 * entry; the response is pending until that entry is durable, like a plain decision's, so the
 * worker thread goes on with other connections meanwhile. A request may carry "approval_id": the
 * retry of an approval_required decision.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http.h"

/* A uid member as Cedar syntax text (strings pass through; JSON uids are printed). */
static const char *uid_text(md_arena *a, json_t *v, md_diag *d, const char *what)
{
    if (!v)
        return NULL;
    if (json_is_string(v))
        return md_arena_strndup(a, json_string_value(v), json_string_length(v));
    md_euid u;
    md_diag ud = {0};
    if (!json_is_object(v) || md_euid_from_json(a, v, &u, &ud)) {
        md_diag_set(d, MANDATE_EPARSE, 0, 0, "%s must be an entity uid", what);
        return NULL;
    }
    md_buf b;
    md_buf_init(&b, 1 << 20);
    const char *out = NULL;
    if (!md_euid_print(&b, &u))
        out = md_arena_strndup(a, b.data, b.len);
    md_buf_release(&b);
    return out;
}

int md_http_agent_decide(mandate_server *s, md_arena *a, json_t *item, const char *caller,
                         md_http_resp *rs, md_buf *out, md_diag *d)
{
    if (!s->registry || s->registry_error[0]) /* the reason names files: the log has it */
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0,
                           "the agent authorization path is unavailable; the server's log and "
                           "GET /v1/policies (agent_path) say why");
    json_t *tok = json_object_get(item, "token");
    if (!json_is_string(tok))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "token must be a string (a compact JWS)");
    const char *k;
    json_t *v;
    json_object_foreach(item, k, v)
    {
        if (strcmp(k, "principal") && strcmp(k, "action") && strcmp(k, "resource") &&
            strcmp(k, "context") && strcmp(k, "token") && strcmp(k, "parents") &&
            strcmp(k, "approval_id"))
            return md_diag_set(d, MANDATE_EPARSE, 0, 0, "unknown request member '%s'", k);
    }
    json_t *par = json_object_get(item, "parents");
    size_t n_parents = par ? json_array_size(par) : 0;
    if (par && (!json_is_array(par) || n_parents > MANDATE_TOKEN_HARD_MAX_DEPTH))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "parents must be an array of at most %d tokens",
                           MANDATE_TOKEN_HARD_MAX_DEPTH);
    const char **parents = n_parents ? md_arena_array(a, n_parents, sizeof *parents) : NULL;
    for (size_t i = 0; i < n_parents; i++) {
        if (!json_is_string(json_array_get(par, i)))
            return md_diag_set(d, MANDATE_EPARSE, 0, 0, "parents[%zu] must be a string", i);
        parents[i] = json_string_value(json_array_get(par, i));
    }
    const char *principal = uid_text(a, json_object_get(item, "principal"), d, "principal");
    const char *action = uid_text(a, json_object_get(item, "action"), d, "action");
    const char *resource = uid_text(a, json_object_get(item, "resource"), d, "resource");
    if (d->code)
        return d->code;
    if (!action || !resource)
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "action and resource are required");
    /* An agent's key acts only for that agent. */
    if (!strncmp(caller, "Agent::", 7)) {
        if (principal && strcmp(principal, caller))
            return md_diag_set(d, MANDATE_EDENIED, 0, 0,
                               "the key of '%s' may not ask on behalf of '%s'", caller, principal);
        principal = caller;
    }
    json_t *apr = json_object_get(item, "approval_id");
    if (apr && !json_is_string(apr))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "approval_id must be a string");
    json_t *ctx = json_object_get(item, "context");
    if (ctx && !json_is_object(ctx))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0, "context must be a JSON object");
    char *ctx_text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    if (ctx && !ctx_text)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    mandate_agent_request ar = {
        .token = json_string_value(tok),
        .token_len = json_string_length(tok),
        .parents = parents,
        .n_parents = n_parents,
        .principal = principal,
        .action = action,
        .resource = resource,
        .context_json = ctx_text,
        .approval_id = apr ? json_string_value(apr) : NULL,
    };
    mandate_agent_result *res = NULL;
    mandate_diag ad = {0};
    int rc = mandate_agent_authorize_submit(s->registry, &ar, &res, &ad);
    free(ctx_text);
    if (rc || !res) {
        mandate_agent_result_free(res);
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "agent authorization failed: %s",
                           ad.message[0] ? ad.message : mandate_strerror(rc));
    }
    /* The result's JSON object, with "entry" added last. */
    char *text = mandate_agent_result_to_json(res);
    bool allow = mandate_agent_result_allowed(res);
    uint64_t index = mandate_agent_result_ledger_index(res);
    int check = mandate_agent_result_check(res);
    mandate_agent_result_free(res);
    size_t len = text ? strlen(text) : 0;
    if (!len || text[len - 1] != '}') {
        free(text);
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    }
    char entry[40] = "";
    if (index != UINT64_MAX)
        snprintf(entry, sizeof entry, "%s\"entry\":%" PRIu64, len > 2 ? "," : "", index);
    size_t at = out->len;
    rc = md_buf_append(out, text, len - 1);
    if (!rc)
        rc = md_buf_puts(out, entry);
    if (!rc)
        rc = md_buf_puts(out, "}");
    free(text);
    if (rc) {
        out->len = at;
        return md_diag_set(d, rc, 0, 0, "%s", mandate_strerror(rc));
    }
    if (index != UINT64_MAX)
        md_http_hold(rs, index);
    if (allow)
        rs->n_allow++;
    else if (check == MANDATE_CHECK_INTERNAL || check == MANDATE_CHECK_LEDGER)
        rs->n_err++;
    else
        rs->n_deny++;
    return 0;
}
