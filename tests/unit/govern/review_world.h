/*
 * review_world.h: a small world for the review tests (test_review*.c): a fresh data directory,
 * a registry opened for writing, principals added through the real registry API, ledger entries
 * appended with chosen times, and the review run over it (md_review_build). Header-only: each
 * test file includes it once.
 */
#ifndef MD_TEST_REVIEW_WORLD_H
#define MD_TEST_REVIEW_WORLD_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "scratch.h"
#include "govern/govern.h"
#include "mandate/mandate.h"

#define DAY 86400000LL

typedef struct world {
    char tmp[64], dir[96]; /* the temporary folder and the data directory in it */
    mandate_registry *r;
    mandate_ledger *l;
    int64_t now; /* the end of every window: after every registry entry */
    json_t *review;
} world;

/* The app schema the tests use beside policies/schema.cedarschema. */
static const char world_app_schema[] =
    "entity Doc;\n"
    "entity Folder;\n"
    "entity Report in [Folder];\n"
    "action read, write, delete, share appliesTo { principal: [Agent, Human], resource: [Doc, "
    "Report], context: {} };\n"
    "action publish appliesTo { principal: [Agent], resource: [Report], context: {} };\n";

static inline char *world_schema(void)
{
    char *base = NULL;
    size_t len = 0;
    if (md_read_file("policies/schema.cedarschema", 1 << 20, &base, &len, NULL))
        fail_msg("cannot read policies/schema.cedarschema (run from the source tree)");
    size_t n = len + sizeof world_app_schema + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s\n%s", base, world_app_schema);
    free(base);
    return s;
}

static inline void world_open(world *w, const char *policies)
{
    memset(w, 0, sizeof *w);
    snprintf(w->tmp, sizeof w->tmp, "/tmp/mandate-review-XXXXXX");
    assert_non_null(mkdtemp(w->tmp));
    snprintf(w->dir, sizeof w->dir, "%s/d", w->tmp);
    mandate_diag d;
    assert_int_equal(mandate_ledger_init(w->dir, "review.test/log", &d), 0);
    mandate_registry_opts o = {.data_dir = w->dir};
    if (mandate_registry_open(&w->r, &o, &d))
        fail_msg("registry: %s", d.message);
    char *schema = world_schema();
    if (mandate_registry_set_schema(w->r, schema, strlen(schema), &d))
        fail_msg("schema: %s", d.message);
    free(schema);
    if (mandate_registry_set_policies(w->r, policies, strlen(policies), &d))
        fail_msg("policies: %s", d.message);
    w->l = mandate_registry_ledger(w->r);
}

static inline void world_close(world *w)
{
    json_decref(w->review);
    mandate_registry_close(w->r);
    assert_int_equal(scratch_remove(w->tmp), 0);
}

/* Registers a principal; kind is a mandate_kind, owner/workflow plain ids or NULL. */
static inline void world_add(world *w, int kind, const char *id, const char *owner,
                             const char *workflow, const char *group)
{
    mandate_principal p = {.kind = kind, .id = id, .owner = owner, .workflow = workflow};
    const char *outputs[] = {"customer_response"}, *impacts[] = {"customer"};
    if (kind == MANDATE_KIND_WORKFLOW) {
        p.outputs = outputs;
        p.n_outputs = 1;
        p.impacts = impacts;
        p.n_impacts = 1;
    }
    if (group) {
        p.member_of = &group;
        p.n_member_of = 1;
    }
    mandate_diag d;
    if (mandate_registry_add(w->r, &p, "test", &d))
        fail_msg("add %s: %s", id, d.message);
}

static inline void world_status(world *w, const char *uid, int status)
{
    mandate_diag d;
    if (mandate_registry_set_status(w->r, uid, status, "test", &d))
        fail_msg("status %s: %s", uid, d.message);
}

/* Sets now after everything registered so far (call before appending activity). */
static inline void world_now(world *w)
{
    w->now = md_govern_now_ms() + DAY;
}

/* Appends an entry (body consumed) at time t; returns its index. */
static inline uint64_t world_put(world *w, int type, int64_t t, json_t *body)
{
    assert_non_null(body);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    mandate_ledger_entry e = {.type = type, .time_ms = t, .body = text, .body_len = strlen(text)};
    uint64_t idx = 0;
    mandate_diag d;
    if (mandate_ledger_append(w->l, &e, &idx, &d))
        fail_msg("append: %s", d.message);
    free(text);
    return idx;
}

/* A uid's text: world_uid("Agent", "a1") is Agent::"a1" (a few rotating buffers). */
static inline const char *world_uid(const char *type, const char *id)
{
    static char buf[8][128];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s::\"%s\"", type, id);
    return b;
}

/* An agent-path decision. */
static inline uint64_t world_decision(world *w, int64_t t, const char *agent, const char *action,
                                      const char *resource, const char *decision, const char *check,
                                      const char *jti, const char *delegator, const char *policy)
{
    json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[]}", "kind", "agent", "principal",
                          world_uid("Agent", agent), "action", world_uid("Action", action),
                          "resource", resource, "decision", decision, "check", check, "reason",
                          !strcmp(check, "none") ? "" : "denied by test", "policies");
    if (policy)
        json_array_append_new(json_object_get(b, "policies"), json_string(policy));
    json_object_set_new(b, "delegation", jti ? json_string(jti) : json_null());
    json_object_set_new(b, "delegator",
                        delegator ? json_string(world_uid("Human", delegator)) : json_null());
    return world_put(w, MANDATE_ENTRY_DECISION, t, b);
}

/* An approval event (approved or rejected); dwell < 0 is null (never viewed). */
static inline uint64_t world_approval(world *w, int64_t t, const char *approver, const char *event,
                                      int64_t dwell, uint64_t request, const char *agent)
{
    json_t *b =
        json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "event", event, "approval", "apr_test", "approver",
                  world_uid("Human", approver), "request_index", (json_int_t)request, "principal",
                  world_uid("Agent", agent), "mode", "verified");
    json_object_set_new(b, "dwell_ms", dwell < 0 ? json_null() : json_integer(dwell));
    return world_put(w, MANDATE_ENTRY_APPROVAL, t, b);
}

/* A root delegation entry issued at t (seconds from it: iat, exp). */
static inline uint64_t world_delegation(world *w, int64_t t, const char *jti, const char *parent,
                                        const char *from, const char *to, int64_t lifetime_s)
{
    json_t *b = json_pack("{s:s,s:s,s:s,s:[s],s:I,s:I,s:i}", "op", "delegate", "jti", jti,
                          "subject", world_uid("Agent", to), "delegators", world_uid("Human", from),
                          "iat", (json_int_t)(t / 1000), "exp", (json_int_t)(t / 1000 + lifetime_s),
                          "depth", parent ? 1 : 0);
    json_object_set_new(b, "parent", parent ? json_string(parent) : json_null());
    return world_put(w, MANDATE_ENTRY_DELEGATION, t, b);
}

/* The default thresholds, to change one before world_review. */
static inline md_review_thresholds world_th(void)
{
    md_review_thresholds t;
    md_review_thresholds_default(&t);
    return t;
}

/* Runs the review over [now - window, now) with th (NULL: defaults); keeps the parsed JSON. */
static inline json_t *world_review(world *w, int64_t window, const md_review_thresholds *th,
                                   bool theatre)
{
    md_review_opts o = {.ledger = w->l,
                        .registry = w->r,
                        .since_ms = w->now - window,
                        .until_ms = w->now,
                        .no_theatre = !theatre};
    if (th)
        o.th = *th;
    else
        md_review_thresholds_default(&o.th);
    char *text = NULL;
    md_diag d = {0};
    if (md_review_build(&o, &text, &d))
        fail_msg("review: %s", d.msg);
    json_decref(w->review);
    w->review = json_loads(text, 0, NULL);
    assert_non_null(w->review);
    free(text);
    return w->review;
}

/* The finding of kind about subject whose data member key equals value (key NULL: any); the
 * n-th such finding; NULL when there is none. */
static inline json_t *world_find_nth(world *w, const char *kind, const char *subject,
                                     const char *key, const char *value, size_t nth)
{
    json_t *fs = json_object_get(w->review, "findings");
    for (size_t i = 0; i < json_array_size(fs); i++) {
        json_t *f = json_array_get(fs, i);
        if (strcmp(json_string_value(json_object_get(f, "kind")), kind) ||
            strcmp(json_string_value(json_object_get(f, "subject")), subject))
            continue;
        const char *v =
            key ? json_string_value(json_object_get(json_object_get(f, "data"), key)) : NULL;
        if (key && (!v || strcmp(v, value)))
            continue;
        if (nth-- == 0)
            return f;
    }
    return NULL;
}

static inline json_t *world_find(world *w, const char *kind, const char *subject)
{
    return world_find_nth(w, kind, subject, NULL, NULL, 0);
}

/* How many findings of a kind there are. */
static inline size_t world_count(world *w, const char *kind)
{
    json_t *fs = json_object_get(w->review, "findings");
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(fs); i++)
        n += !strcmp(json_string_value(json_object_get(json_array_get(fs, i), "kind")), kind);
    return n;
}

static inline int64_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return (int64_t)json_integer_value(v);
}

static inline const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s)
        fail_msg("'%s' is not a string", key);
    return s;
}

/* The finding's evidence as "i,j,k". */
static inline const char *world_evidence(json_t *f)
{
    static char buf[512];
    size_t n = 0;
    buf[0] = 0;
    json_t *ev = json_object_get(f, "evidence");
    for (size_t i = 0; i < json_array_size(ev) && n < sizeof buf - 24; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_array_get(ev, i)));
    return buf;
}

#endif
