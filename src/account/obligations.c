/*
 * obligations.c: obligations from the annotations of the determining permit policies.
 *
 *   @approval("required" | "verified" | "decided" | "none")
 *   @approvers("<Cedar entity uid>")           the approver must be `in` it (a group or a human)
 *   @separation("delegator" | "owner" | "delegator,owner" | "none")
 *   @impact("customer" | "employee" | "production" | "internal", comma separated for several)
 *
 * Several determining policies combine: impacts are joined; approvals: "verified" or "decided"
 * beats "required", and two policies asking for different modes is an error (fail closed);
 * every @approvers must hold; separations are joined. A malformed value is an error.
 */
#include "account/account_int.h"

static const char *const impacts_known[] = {"customer", "employee", "production", "internal"};

bool md_impact_is_impactful(const char *impact)
{
    return impact && (strcmp(impact, "customer") == 0 || strcmp(impact, "employee") == 0 ||
                      strcmp(impact, "production") == 0);
}

static int add_unique(md_arena *a, const char ***list, size_t *n, md_str v)
{
    for (size_t i = 0; i < *n; i++)
        if (md_str_eq_c(v, (*list)[i]))
            return 0;
    if (*n >= MD_ACCOUNT_MAX_LIST)
        return MANDATE_ETOOBIG;
    const char **nl = md_arena_array(a, *n + 1, sizeof *nl);
    if (!nl)
        return MANDATE_ENOMEM;
    if (*n)
        memcpy(nl, *list, *n * sizeof *nl);
    if (!(nl[*n] = md_arena_strndup(a, v.ptr, v.len)))
        return MANDATE_ENOMEM;
    /* keep sorted */
    for (size_t i = *n; i > 0 && strcmp(nl[i - 1], nl[i]) > 0; i--) {
        const char *t = nl[i - 1];
        nl[i - 1] = nl[i];
        nl[i] = t;
    }
    *list = nl;
    (*n)++;
    return 0;
}

static md_str trim(md_str s)
{
    while (s.len && (*s.ptr == ' ' || *s.ptr == '\t'))
        s.ptr++, s.len--;
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Calls fn on every comma-separated item of v. */
static int each_item(md_str v, int (*fn)(void *, md_str), void *ctx)
{
    size_t start = 0;
    for (size_t i = 0; i <= v.len; i++) {
        if (i == v.len || v.ptr[i] == ',') {
            int rc = fn(ctx, trim((md_str){v.ptr + start, i - start}));
            if (rc)
                return rc;
            start = i + 1;
        }
    }
    return 0;
}

typedef struct fold {
    md_arena *a;
    md_obligations *o;
    const md_policy *p;
    md_diag *d;
} fold;

static int bad(fold *f, const char *key, md_str v, const char *expect)
{
    return md_diag_set(
        f->d, MANDATE_EINVAL, 0, 0, "policy %.*s: @%s(\"%.*s\") is not valid: expected %s",
        (int)md_policy_name(f->p).len, md_policy_name(f->p).ptr, key, (int)v.len, v.ptr, expect);
}

static int impact_item(void *ctx, md_str v)
{
    fold *f = ctx;
    for (size_t i = 0; i < MD_ARRAY_LEN(impacts_known); i++)
        if (md_str_eq_c(v, impacts_known[i]))
            return add_unique(f->a, &f->o->impacts, &f->o->n_impacts, v);
    return bad(f, "impact", v, "customer, employee, production or internal");
}

static int separation_item(void *ctx, md_str v)
{
    fold *f = ctx;
    if (md_str_eq_c(v, "delegator"))
        f->o->sep_delegator = true;
    else if (md_str_eq_c(v, "owner"))
        f->o->sep_owner = true;
    else if (!md_str_eq_c(v, "none"))
        return bad(f, "separation", v, "delegator, owner or none");
    return 0;
}

static int approval(fold *f, md_str v)
{
    const char *mode = NULL;
    if (md_str_eq_c(v, "none"))
        return 0;
    if (md_str_eq_c(v, "required"))
        mode = "required";
    else if (md_str_eq_c(v, "verified"))
        mode = "verified";
    else if (md_str_eq_c(v, "decided"))
        mode = "decided";
    else
        return bad(f, "approval", v, "required, verified, decided or none");
    md_obligations *o = f->o;
    if (!o->approval || strcmp(o->approval, "required") == 0) {
        o->approval = mode;
        if (!o->approval_policy || strcmp(mode, "required") != 0)
            o->approval_policy =
                md_arena_strndup(f->a, md_policy_name(f->p).ptr, md_policy_name(f->p).len);
        return o->approval_policy ? 0 : MANDATE_ENOMEM;
    }
    if (strcmp(mode, "required") == 0 || strcmp(mode, o->approval) == 0)
        return 0;
    return md_diag_set(f->d, MANDATE_EINVAL, 0, 0,
                       "policies %s and %.*s ask for approvals in different modes (%s and %s)",
                       o->approval_policy, (int)md_policy_name(f->p).len, md_policy_name(f->p).ptr,
                       o->approval, mode);
}

static int approvers(fold *f, md_str v)
{
    md_euid u;
    md_diag pd = {0};
    md_obligations *o = f->o;
    if (md_euid_parse(f->a, v.ptr, v.len, &u, &pd))
        return bad(f, "approvers", v, "a Cedar entity uid such as Group::\"leads\"");
    for (size_t i = 0; i < o->n_approvers; i++)
        if (md_euid_eq(&o->approvers[i], &u))
            return 0;
    if (o->n_approvers >= MD_ACCOUNT_MAX_LIST)
        return MANDATE_ETOOBIG;
    md_euid *nu = md_arena_array(f->a, o->n_approvers + 1, sizeof *nu);
    const char **nt = md_arena_array(f->a, o->n_approvers + 1, sizeof *nt);
    if (!nu || !nt)
        return MANDATE_ENOMEM;
    if (o->n_approvers) {
        memcpy(nu, o->approvers, o->n_approvers * sizeof *nu);
        memcpy(nt, o->approvers_text, o->n_approvers * sizeof *nt);
    }
    md_buf b;
    md_buf_init(&b, 8192);
    int rc = md_euid_print(&b, &u);
    nt[o->n_approvers] = rc ? NULL : md_arena_strndup(f->a, b.data, b.len);
    md_buf_release(&b);
    if (!nt[o->n_approvers])
        return rc ? rc : MANDATE_ENOMEM;
    nu[o->n_approvers] = u;
    o->approvers = nu;
    o->approvers_text = nt;
    o->n_approvers++;
    return 0;
}

int md_obligations_from_policies(md_arena *a, const md_policy *const *ps, size_t n,
                                 md_obligations *out, md_diag *d)
{
    memset(out, 0, sizeof *out);
    fold f = {a, out, NULL, d};
    for (size_t i = 0; i < n; i++) {
        const md_policy *p = ps[i];
        if (!p || !p->permit)
            continue;
        f.p = p;
        for (size_t k = 0; k < p->n_annotations; k++) {
            const md_annotation *an = &p->annotations[k];
            int rc = 0;
            if (md_str_eq_c(an->key, "impact"))
                rc = each_item(an->value, impact_item, &f);
            else if (md_str_eq_c(an->key, "approval"))
                rc = approval(&f, trim(an->value));
            else if (md_str_eq_c(an->key, "approvers"))
                rc = approvers(&f, trim(an->value));
            else if (md_str_eq_c(an->key, "separation"))
                rc = each_item(an->value, separation_item, &f);
            if (rc == MANDATE_ETOOBIG)
                return md_diag_set(d, rc, 0, 0, "policy %.*s: too many @%.*s values",
                                   (int)md_policy_name(p).len, md_policy_name(p).ptr,
                                   (int)an->key.len, an->key.ptr);
            if (rc)
                return rc;
        }
    }
    if (out->approval && out->n_approvers == 0)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "policy %s asks for an approval but no policy names @approvers",
                           out->approval_policy);
    return 0;
}
