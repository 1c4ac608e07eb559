/*
 * canon.c: the canonical request that approvals are bound to, and its SHA-256 digest.
 *
 * ["mandate.request.v1", PRINCIPAL, ACTION, RESOURCE, CONTEXT]: uids re-printed in Cedar's
 * canonical syntax, CONTEXT with keys sorted bytewise and no whitespace (jansson's compact,
 * sorted dump), floats and duplicate keys rejected, nesting capped. See docs/accountability.md.
 */
#include <sodium.h>
#include <stdlib.h>

#include "account/account_int.h"
#include "cedar/entities.h" /* md_json_parse */

int md_account_uid(md_arena *a, const char *text, const char **out, md_euid *uid, md_diag *d)
{
    if (!text || !*text)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "an entity uid is missing");
    size_t len = strlen(text);
    if (len > MD_ACCOUNT_MAX_FIELD)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "uid of %zu bytes is over the cap of %u", len,
                           MD_ACCOUNT_MAX_FIELD);
    md_euid u;
    md_diag pd = {0};
    if (md_euid_parse_plain(a, text, len, &u)) {
        *out = u.type.ptr; /* the plain form is its own canonical text */
        if (uid)
            *uid = u;
        return 0;
    }
    if (md_euid_parse(a, text, len, &u, &pd))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "'%s' is not a Cedar entity uid: %s", text,
                           pd.msg);
    md_buf b;
    md_buf_init(&b, 4 * MD_ACCOUNT_MAX_FIELD + 64);
    int rc = md_euid_print(&b, &u);
    if (!rc && !(*out = md_arena_strndup(a, b.data, b.len)))
        rc = MANDATE_ENOMEM;
    md_buf_release(&b);
    if (!rc && uid)
        *uid = u;
    return rc;
}

/* Floats are refused and nesting is capped. */
static int check_value(const json_t *j, int depth, md_diag *d)
{
    if (depth > MD_ACCOUNT_MAX_DEPTH)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "context nests deeper than %d levels",
                           MD_ACCOUNT_MAX_DEPTH);
    if (json_is_real(j))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0,
                           "context holds the number %.17g: Cedar has no floating-point values",
                           json_real_value(j));
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            int rc = check_value(v, depth + 1, d);
            if (rc)
                return rc;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int rc = check_value(v, depth + 1, d);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int md_request_canonical(md_arena *a, const char *principal, const char *action,
                         const char *resource, const char *context_json, const char **canonical,
                         const char **context_canonical, char digest_hex[65], md_diag *d)
{
    const char *p, *ac, *r;
    int rc;
    if ((rc = md_account_uid(a, principal, &p, NULL, d)) ||
        (rc = md_account_uid(a, action, &ac, NULL, d)) ||
        (rc = md_account_uid(a, resource, &r, NULL, d)))
        return rc;
    const char *text = context_json ? context_json : "{}";
    size_t len = strlen(text);
    if (len > MD_ACCOUNT_MAX_CONTEXT)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "context of %zu bytes is over the cap of %u",
                           len, MD_ACCOUNT_MAX_CONTEXT);
    json_t *ctx = NULL, *arr = NULL;
    char *ctx_text = NULL, *all = NULL;
    if ((rc = md_json_parse(text, len, &ctx, d)))
        goto out;
    if (!json_is_object(ctx)) {
        rc = md_diag_set(d, MANDATE_EINVAL, 0, 0, "context must be a JSON object");
        goto out;
    }
    if (json_object_get(ctx, "mandate")) {
        rc = md_diag_set(d, MANDATE_EINVAL, 0, 0,
                         "context must not hold 'mandate': mandate fills it in");
        goto out;
    }
    if ((rc = check_value(ctx, 1, d)))
        goto out;
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
    arr = json_pack("[s,s,s,s,O]", "mandate.request.v1", p, ac, r, ctx);
    if (!arr || !(ctx_text = json_dumps(ctx, flags)) || !(all = json_dumps(arr, flags))) {
        rc = MANDATE_ENOMEM;
        goto out;
    }
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)all, strlen(all));
    sodium_bin2hex(digest_hex, 65, h, sizeof h);
    if (canonical && !(*canonical = md_arena_strndup(a, all, strlen(all))))
        rc = MANDATE_ENOMEM;
    if (!rc && context_canonical &&
        !(*context_canonical = md_arena_strndup(a, ctx_text, strlen(ctx_text))))
        rc = MANDATE_ENOMEM;
out:
    free(ctx_text);
    free(all);
    json_decref(arr);
    json_decref(ctx);
    return rc;
}

MD_EXPORT int mandate_request_canonical(const char *principal, const char *action,
                                        const char *resource, const char *context_json,
                                        char **canonical, char digest_hex[65], mandate_diag *diag)
{
    md_diag d = {0};
    if (canonical)
        *canonical = NULL;
    if (!digest_hex)
        return md_account_finish(diag, &d, md_diag_set(&d, MANDATE_EINVAL, 0, 0, "no digest"));
    md_arena *a = md_arena_new();
    if (!a)
        return md_account_finish(diag, &d, MANDATE_ENOMEM);
    const char *c = NULL;
    int rc = md_request_canonical(a, principal, action, resource, context_json, &c, NULL,
                                  digest_hex, &d);
    if (!rc && canonical && !(*canonical = strdup(c)))
        rc = MANDATE_ENOMEM;
    md_arena_free(a);
    return md_account_finish(diag, &d, rc);
}
