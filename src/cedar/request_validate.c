/*
 * request_validate.c: checks a request against a schema as Rust Cedar's Request::new with a
 * schema does (validator/coreschema.rs validate_request): the principal's and resource's entity
 * types are declared (and, for enumerated types, the ids are declared values), the action is
 * declared, the principal and resource types are in the action's appliesTo, every entity uid in
 * the context passes the same enum/action checks, and the context has the action's context type.
 */
#include <stdio.h>

#include "cedar/entities.h"

static const char *uid_str(const md_euid *u, char *buf, size_t n)
{
    md_buf b;
    md_buf_init(&b, 4096);
    if (md_euid_print(&b, u) == 0 && b.data)
        snprintf(buf, n, "%s", b.data);
    else
        snprintf(buf, n, "<entity>");
    md_buf_release(&b);
    return buf;
}

/* role_what is "request: <role>", the prefix of md_euid_check_schema's messages. */
static int check_scope_entity(const md_schema *s, const md_euid *u, const char *role,
                              const char *role_what, md_diag *d)
{
    char ubuf[200];
    if (!md_schema_entity_type(s, u->type))
        return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                           "request: %s '%s' has entity type '%.*s', which the schema does not "
                           "declare",
                           role, uid_str(u, ubuf, sizeof ubuf),
                           (int)(u->type.len > 100 ? 100 : u->type.len), u->type.ptr);
    return md_euid_check_schema(s, u, role_what, d);
}

static bool type_in(md_str t, const md_str *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (md_str_eq(list[i], t))
            return true;
    return false;
}

/* Nothing is formatted unless the request fails: it runs before every decision. */
int md_request_validate(const md_schema *s, const md_request *req, md_diag *d)
{
    if (!s || !req)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_request_validate: missing argument");
    char ubuf[200], abuf[200];
    int rc = check_scope_entity(s, &req->principal, "principal", "request: principal", d);
    if (!rc)
        rc = check_scope_entity(s, &req->resource, "resource", "request: resource", d);
    if (rc)
        return rc;
    const md_action *act = md_schema_action(s, &req->action);
    if (!act)
        return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                           "request: action '%s' is not declared in the schema",
                           uid_str(&req->action, abuf, sizeof abuf));
    if (!act->has_applies_to || !type_in(req->principal.type, act->principals, act->n_principals))
        return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                           "request: principal '%s' has a type that action '%s' does not apply "
                           "to",
                           uid_str(&req->principal, ubuf, sizeof ubuf),
                           uid_str(&req->action, abuf, sizeof abuf));
    if (!act->has_applies_to || !type_in(req->resource.type, act->resources, act->n_resources))
        return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                           "request: resource '%s' has a type that action '%s' does not apply "
                           "to",
                           uid_str(&req->resource, ubuf, sizeof ubuf),
                           uid_str(&req->action, abuf, sizeof abuf));
    rc = md_value_check_euids(s, &req->context, "request: context", d);
    if (rc)
        return rc;
    if (md_value_typecheck(&req->context, act->context, "request: context", NULL) == 0)
        return 0;
    /* Failed: again, for the message that names the action. */
    char what[260];
    snprintf(what, sizeof what, "request: context for action '%s'",
             uid_str(&req->action, abuf, sizeof abuf));
    rc = md_value_typecheck(&req->context, act->context, what, d);
    return rc ? rc
              : md_diag_set(d, MANDATE_EINTERNAL, 0, 0,
                            "request: the context type check gave two answers");
}
