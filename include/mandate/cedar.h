/*
 * mandate/cedar.h: the Cedar policy engine (Cedar 4.x): parse policies, schemas and entities,
 * and authorize requests with Cedar's exact semantics (decision, determining policies, errors).
 *
 * Objects are opaque, made by mandate_*_parse and freed by the matching _free (which accepts
 * NULL). Once made they are immutable and may be shared by threads. Errors come back as a
 * mandate_err and, when a mandate_diag is given, a message with line and column.
 */
#ifndef MANDATE_CEDAR_H
#define MANDATE_CEDAR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mandate_diag {
    int code;          /* a mandate_err; 0 when nothing went wrong */
    unsigned line;     /* 1-based; 0 when the error is not about a position */
    unsigned column;   /* 1-based */
    char message[512]; /* what failed, quoting the subject */
} mandate_diag;

typedef struct mandate_policies mandate_policies;
typedef struct mandate_schema mandate_schema;
typedef struct mandate_entities mandate_entities;
typedef struct mandate_decision mandate_decision;

/* Parses Cedar policy text. Policies get ids policy0, policy1, ... in file order; id_prefix
 * replaces "policy" when not NULL. Returns owned, free with mandate_policies_free. */
int mandate_policies_parse(mandate_policies **out, const char *text, size_t len,
                           const char *id_prefix, mandate_diag *diag);
void mandate_policies_free(mandate_policies *ps);
size_t mandate_policies_count(const mandate_policies *ps);
/* The id of the i-th policy (static or linked), or NULL past the end. Borrowed. */
const char *mandate_policies_id(const mandate_policies *ps, size_t i);
/* Links template template_id as a new policy new_id; principal and resource are uids in Cedar
 * syntax (`User::"alice"`) or NULL when the template has no such slot. */
int mandate_policies_link(mandate_policies *ps, const char *template_id, const char *new_id,
                          const char *principal, const char *resource, mandate_diag *diag);

/* Parses a schema in the human-readable Cedar schema syntax. */
int mandate_schema_parse(mandate_schema **out, const char *text, size_t len, mandate_diag *diag);
void mandate_schema_free(mandate_schema *s);

/* Parses entities JSON (an array of {uid, attrs, parents, tags}); with a schema, schema-based
 * parsing applies and the schema's action entities are added. Duplicate uids are rejected. */
int mandate_entities_parse(mandate_entities **out, const char *json, size_t len,
                           const mandate_schema *schema, mandate_diag *diag);
void mandate_entities_free(mandate_entities *es);
size_t mandate_entities_count(const mandate_entities *es);

typedef struct mandate_request {
    const char *principal;    /* Cedar uid syntax: User::"alice" */
    const char *action;       /* Action::"view" */
    const char *resource;     /* Photo::"p1" */
    const char *context_json; /* a JSON object; NULL means {} */
    bool validate;            /* with a schema: check the request against appliesTo */
} mandate_request;

/* Authorizes one request. schema may be NULL. On success *out is owned, free with
 * mandate_decision_free. A malformed request is an error, not a decision. */
int mandate_authorize(const mandate_policies *ps, const mandate_entities *es,
                      const mandate_schema *schema, const mandate_request *req,
                      mandate_decision **out, mandate_diag *diag);
bool mandate_decision_allowed(const mandate_decision *d);
size_t mandate_decision_reason_count(const mandate_decision *d);
const char *mandate_decision_reason(const mandate_decision *d, size_t i);
size_t mandate_decision_error_count(const mandate_decision *d);
const char *mandate_decision_error_policy(const mandate_decision *d, size_t i);
const char *mandate_decision_error_message(const mandate_decision *d, size_t i);
/* {"decision":"allow","reason":[...],"errors":[{"policy":..,"message":..}]}; owned, free(). */
char *mandate_decision_to_json(const mandate_decision *d);
void mandate_decision_free(mandate_decision *d);

#ifdef __cplusplus
}
#endif
#endif
