/*
 * state.c: what the server loads from its data directory (ledger, API keys, delegation key ring,
 * schema, entities, the active policy set, the admin policy set), the reference-counted policy
 * snapshot swapped by PUT /v1/policies, and the metrics counters (http.h).
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cedar/entities.h"
#include "cedar/validator.h"
#include "http/http.h"

/* Finer from 1 to 10 ms, where the answer waits for the ledger's group commit. */
const double md_http_buckets[MD_HTTP_N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001,  0.002,
                                                   0.003,  0.004,   0.005,  0.0075, 0.01,
                                                   0.025,  0.05,    0.1,    0.5,    1.0};

/* The built-in copy of policies/admin.cedar (a unit test keeps the two equal). */
const char md_http_admin_policies[] =
    "// admin.cedar: which identity may call which API action of `mandate serve`.\n"
    "//\n"
    "// Requests: principal = the caller's identity (the one its API key is bound to),\n"
    "// action = Action::\"<api action>\", resource = Api::\"mandate\". API actions: authorize,\n"
    "// policies.read, policies.write, policies.validate, ledger.read, metrics.read, "
    "registry.read,\n"
    "// registry.write, registry.suspend, delegations.issue, delegations.revoke,\n"
    "// delegations.revoke_any, killswitch, approvals.read, approvals.decide, outcomes.write,\n"
    "// trace.read, governance.read (docs/server.md lists the routes).\n"
    "// Group membership comes from the admin entities file (DATA/admin-entities.json).\n"
    "// The handlers check more: a human delegates only as itself, only an agent re-delegates its "
    "own\n"
    "// delegation, the approver is always the caller (and the policy's @approvers decide who may\n"
    "// approve what), an agent records outcomes of its own decisions only, and with\n"
    "// delegations.revoke alone a caller revokes only a delegation it is a party to (it delegated "
    "it,\n"
    "// or anything it was re-delegated from, or owns its agent; by token, not by jti):\n"
    "// delegations.revoke_any revokes any.\n"
    "\n"
    "// Every authenticated identity may ask for decisions.\n"
    "@id(\"anyone-authorizes\")\n"
    "permit(principal, action == Action::\"authorize\", resource);\n"
    "\n"
    "// People and services may read the evidence ledger, the policies, the registry, approvals "
    "and\n"
    "// traces, and check policies.\n"
    "@id(\"people-and-services-read\")\n"
    "permit(\n"
    "    principal,\n"
    "    action in [Action::\"ledger.read\", Action::\"policies.read\", "
    "Action::\"policies.validate\",\n"
    "               Action::\"registry.read\", Action::\"approvals.read\", "
    "Action::\"trace.read\"],\n"
    "    resource\n"
    ") when { principal is Human || principal is Service };\n"
    "\n"
    "// People delegate their own authority, decide approvals, revoke their delegations and "
    "record\n"
    "// outcomes.\n"
    "@id(\"people-act\")\n"
    "permit(\n"
    "    principal is Human,\n"
    "    action in [Action::\"delegations.issue\", Action::\"delegations.revoke\",\n"
    "               Action::\"approvals.decide\", Action::\"outcomes.write\"],\n"
    "    resource\n"
    ");\n"
    "\n"
    "// Agents re-delegate (only narrowing), revoke what they re-delegated and record the "
    "outcomes\n"
    "// of their own decisions.\n"
    "@id(\"agents-act\")\n"
    "permit(\n"
    "    principal is Agent,\n"
    "    action in [Action::\"delegations.issue\", Action::\"delegations.revoke\",\n"
    "               Action::\"outcomes.write\"],\n"
    "    resource\n"
    ");\n"
    "\n"
    "// Administrators may do everything, including replacing the active policy set.\n"
    "@id(\"admins\")\n"
    "permit(principal in Group::\"admins\", action, resource);\n"
    "\n"
    "// Security pulls the kill switch (suspend, freeze, revoke) and reads the access review and "
    "the\n"
    "// accountability report.\n"
    "@id(\"security\")\n"
    "permit(\n"
    "    principal in Group::\"security\",\n"
    "    action in [Action::\"registry.suspend\", Action::\"killswitch\", "
    "Action::\"delegations.revoke\",\n"
    "               Action::\"delegations.revoke_any\", Action::\"governance.read\"],\n"
    "    resource\n"
    ");\n"
    "\n"
    "// Monitoring reads metrics.\n"
    "@id(\"monitoring\")\n"
    "permit(principal in Group::\"monitoring\", action == Action::\"metrics.read\", resource);\n"
    "\n"
    "// An AI agent never changes policies or the registry, never approves, never pulls the kill\n"
    "// switch and never reads the governance review or report (they name weak approvers and "
    "unused\n"
    "// permissions), whatever group it is in.\n"
    "@id(\"no-agent-policy-changes\")\n"
    "forbid(\n"
    "    principal is Agent,\n"
    "    action in [Action::\"policies.write\", Action::\"registry.write\", "
    "Action::\"registry.suspend\",\n"
    "               Action::\"killswitch\", Action::\"approvals.decide\", "
    "Action::\"governance.read\"],\n"
    "    resource\n"
    ");\n";

md_http_snapshot *md_http_snapshot_acquire(mandate_server *s)
{
    pthread_mutex_lock(&s->snap_mu);
    md_http_snapshot *snap = s->snap;
    atomic_fetch_add(&snap->refs, 1);
    pthread_mutex_unlock(&s->snap_mu);
    return snap;
}

void md_http_snapshot_release(md_http_snapshot *snap)
{
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
        return;
    md_arena_free(snap->arena);
    free(snap->text);
    free(snap);
}

int md_http_snapshot_new(mandate_server *s, const char *text, size_t len, uint64_t version,
                         md_http_snapshot **out, json_t **errors_out, md_diag *d)
{
    *out = NULL;
    if (errors_out)
        *errors_out = NULL;
    md_http_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap || !(snap->arena = md_arena_new()) || !(snap->text = malloc(len + 1))) {
        if (snap)
            md_arena_free(snap->arena);
        free(snap);
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory loading policies");
    }
    memcpy(snap->text, text, len);
    snap->text[len] = 0;
    snap->text_len = len;
    atomic_init(&snap->refs, 1);
    snap->version = version;
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)text, len);
    sodium_bin2hex(snap->sha256, sizeof snap->sha256, h, sizeof h);
    int rc = md_policyset_parse(snap->arena, snap->text, len, NULL, &snap->ps, d);
    if (rc) {
        if (errors_out)
            *errors_out = json_pack("[{s:i,s:i,s:s,s:s}]", "line", (int)d->line, "column",
                                    (int)d->col, "kind", "parse-error", "message", d->msg);
        goto fail;
    }
    if (s->schema) {
        size_t n = 0;
        const md_vdiag *vd = NULL;
        if ((rc = md_validate(snap->arena, snap->ps, s->schema, &n, &vd))) {
            md_diag_set(d, rc, 0, 0, "cannot validate policies: %s", mandate_strerror(rc));
            goto fail;
        }
        if (md_vdiag_has_error(vd, n)) {
            json_t *arr = errors_out ? json_array() : NULL;
            size_t first = n;
            for (size_t i = 0; i < n; i++) {
                if (vd[i].warning)
                    continue;
                if (first == n)
                    first = i;
                if (arr) {
                    md_str name = md_policy_name(vd[i].policy);
                    json_array_append_new(arr, json_pack("{s:s%,s:i,s:i,s:s,s:s}", "policy",
                                                         name.ptr, name.len, "line",
                                                         (int)vd[i].line, "column", (int)vd[i].col,
                                                         "kind", vd[i].kind, "message", vd[i].msg));
                }
            }
            if (errors_out)
                *errors_out = arr;
            md_str name = md_policy_name(vd[first].policy);
            rc = md_diag_set(d, MANDATE_EVALIDATE, vd[first].line, vd[first].col,
                             "policy '%.*s' does not validate against the schema: %s",
                             (int)name.len, name.ptr, vd[first].msg);
            goto fail;
        }
    }
    *out = snap;
    return 0;
fail:
    md_http_snapshot_release(snap);
    return rc;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool file_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0;
}

static int load_json_entities(md_arena *a, const char *path, const md_schema *schema,
                              md_entities **out, md_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    int rc = path ? md_read_file(path, MD_CEDAR_MAX_JSON_TEXT, &text, &len, d) : 0;
    if (rc)
        return rc;
    md_diag ed = {0};
    rc = md_entities_from_text(a, text ? text : "[]", text ? len : 2, schema, out, &ed);
    if (rc)
        md_diag_set(d, rc, ed.line, ed.col, "entities '%s': %s", path ? path : "(none)", ed.msg);
    free(text);
    return rc;
}

/* Hands one engine input to the registry; a failure leaves the agent path unavailable (token
 * requests are denied) but plain Cedar decisions keep working. */
static void registry_input(mandate_server *s,
                           int (*set)(mandate_registry *, const char *, size_t, mandate_diag *),
                           const char *what, const char *text, size_t len)
{
    mandate_diag rd = {0};
    if (set(s->registry, text, len, &rd) && !s->registry_error[0])
        snprintf(s->registry_error, sizeof s->registry_error, "the registry refused the %s: %s",
                 what, rd.message);
}

static char *opt_path(const char *given, const char *dir, const char *name, bool must_exist)
{
    if (given)
        return strdup(given);
    char *p = path_join(dir, name);
    if (p && must_exist && !file_exists(p)) {
        free(p);
        return NULL;
    }
    return p;
}

int md_http_load(mandate_server *s, md_diag *d)
{
    const mandate_server_opts *o = &s->o;
    int rc = 0;
    char *text = NULL;
    size_t len = 0;
    s->db_path = path_join(s->data_dir, "mandate.db");
    s->key_path = path_join(s->data_dir, "ledger.key");
    s->policies_path = opt_path(o->policies, s->data_dir, "policies.cedar", false);
    s->schema_path = opt_path(o->schema, s->data_dir, "schema.cedarschema", true);
    s->entities_path = opt_path(o->entities, s->data_dir, "entities.json", true);
    s->admin_policies_path = opt_path(o->admin_policies, s->data_dir, "admin.cedar", true);
    s->admin_entities_path = opt_path(o->admin_entities, s->data_dir, "admin-entities.json", true);
    if (!s->db_path || !s->key_path || !s->policies_path)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    if (!file_exists(s->db_path) || !file_exists(s->key_path))
        return md_diag_set(d, MANDATE_ENOTFOUND, 0, 0,
                           "data directory '%s' has no database or ledger key (run 'mandate init "
                           "--data %s' first)",
                           s->data_dir, s->data_dir);
    /* The registry opens the ledger (the database's one writer) and the delegation key; the
     * server shares both. */
    mandate_registry_opts ro = {.data_dir = s->data_dir};
    mandate_diag rd = {0};
    if ((rc = mandate_registry_open(&s->registry, &ro, &rd)))
        return md_diag_set(d, rc, 0, 0, "%s", rd.message);
    if (!(s->ledger = mandate_registry_ledger(s->registry)))
        return md_diag_set(d, MANDATE_EINTERNAL, 0, 0, "the registry has no ledger");
    if ((rc = mandate_registry_jwks(s->registry, &s->jwks, &rd)))
        return md_diag_set(d, rc, 0, 0, "cannot make the JWKS: %s", rd.message);
    if ((rc = md_keys_sqlite_open(&s->keys, s->db_path, d)))
        return rc;
    if ((rc = md_keys_set_cache(s->keys, o->key_cache_ms < 0 ? 0
                                         : o->key_cache_ms   ? o->key_cache_ms
                                                             : 1000)))
        return md_diag_set(d, rc, 0, 0, "cannot make the API key cache: %s", mandate_strerror(rc));

    if (!(s->base_arena = md_arena_new()) || !(s->admin_arena = md_arena_new()))
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    if (s->schema_path) {
        if ((rc = md_read_file(s->schema_path, MD_CEDAR_MAX_POLICY_TEXT, &text, &len, d)))
            return rc;
        md_diag sd = {0};
        rc = md_schema_parse(s->base_arena, text, len, &s->schema, &sd);
        registry_input(s, mandate_registry_set_schema, "schema", text, len);
        free(text);
        text = NULL;
        if (rc)
            return md_diag_set(d, rc, sd.line, sd.col, "schema '%s': %s", s->schema_path, sd.msg);
    }
    if ((rc = load_json_entities(s->base_arena, s->entities_path, s->schema, &s->entities, d)))
        return rc;
    if (s->entities_path) {
        if ((rc = md_read_file(s->entities_path, MD_CEDAR_MAX_JSON_TEXT, &text, &len, d)))
            return rc;
        registry_input(s, mandate_registry_set_entities, "entities", text, len);
        free(text);
        text = NULL;
    }

    /* The admin policy set and entities. */
    const char *admin_text = md_http_admin_policies;
    size_t admin_len = strlen(md_http_admin_policies);
    if (s->admin_policies_path) {
        if ((rc = md_read_file(s->admin_policies_path, MD_CEDAR_MAX_POLICY_TEXT, &text, &len, d)))
            return rc;
        admin_text = text;
        admin_len = len;
    }
    md_diag ad = {0};
    rc = md_policyset_parse(s->admin_arena, admin_text, admin_len, "admin", &s->admin_ps, &ad);
    free(text);
    text = NULL;
    if (rc)
        return md_diag_set(d, rc, ad.line, ad.col, "admin policies '%s': %s",
                           s->admin_policies_path ? s->admin_policies_path : "(built in)", ad.msg);
    if ((rc = load_json_entities(s->admin_arena, s->admin_entities_path, NULL, &s->admin_es, d)))
        return rc;

    /* The active policy set: an empty one when the file does not exist yet. */
    if (file_exists(s->policies_path)) {
        if ((rc = md_read_file(s->policies_path, MD_CEDAR_MAX_POLICY_TEXT, &text, &len, d)))
            return rc;
    }
    md_diag pd = {0};
    rc = md_http_snapshot_new(s, text ? text : "", text ? len : 0, 1, &s->snap, NULL, &pd);
    if (!rc)
        registry_input(s, mandate_registry_set_policies, "policies", text ? text : "",
                       text ? len : 0);
    free(text);
    if (rc)
        return md_diag_set(d, rc, pd.line, pd.col, "policies '%s': %s", s->policies_path, pd.msg);
    return 0;
}

void md_http_unload(mandate_server *s)
{
    md_http_snapshot_release(s->snap);
    s->snap = NULL;
    md_keys_close(s->keys);
    mandate_registry_close(s->registry); /* closes the ledger */
    s->ledger = NULL;
    free(s->jwks);
    md_arena_free(s->base_arena);
    md_arena_free(s->admin_arena);
    free(s->db_path);
    free(s->key_path);
    free(s->policies_path);
    free(s->schema_path);
    free(s->entities_path);
    free(s->admin_policies_path);
    free(s->admin_entities_path);
}

void md_http_observe(mandate_server *s, const md_http_resp *rs)
{
    if (!rs->is_authorize)
        return;
    atomic_fetch_add(&s->m.allow, rs->n_allow);
    atomic_fetch_add(&s->m.deny, rs->n_deny);
    atomic_fetch_add(&s->m.error, rs->n_err);
    int64_t dt = md_http_now_ns() - rs->t_start_ns;
    if (dt < 0)
        dt = 0;
    double sec = (double)dt / 1e9;
    size_t b = 0;
    while (b < MD_HTTP_N_BUCKETS && sec > md_http_buckets[b])
        b++;
    atomic_fetch_add(&s->m.buckets[b], 1);
    atomic_fetch_add(&s->m.latency_us_sum, (uint64_t)(dt / 1000));
    atomic_fetch_add(&s->m.latency_count, 1);
}

void md_http_log(mandate_server *s, const char *fmt, ...)
{
    if (!s->o.log)
        return;
    /* An outage answers every request with a 5xx: at most MD_HTTP_LOG_PER_SECOND lines a second,
     * and the next line written says how many were dropped. */
    int64_t now = md_http_now_ns() / 1000000000;
    pthread_mutex_lock(&s->log_mu);
    if (now != s->log_window) {
        s->log_window = now;
        s->log_lines = 0;
    }
    bool write = s->log_lines < MD_HTTP_LOG_PER_SECOND;
    uint64_t dropped = write ? s->log_dropped : 0;
    if (write) {
        s->log_lines++;
        s->log_dropped = 0;
    } else {
        s->log_dropped++;
    }
    pthread_mutex_unlock(&s->log_mu);
    if (!write)
        return;
    char line[1024];
    int n = dropped
                ? snprintf(line, sizeof line, "(%llu lines dropped) ", (unsigned long long)dropped)
                : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    s->o.log(s->o.log_arg, line);
}
