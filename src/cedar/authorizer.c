/*
 * authorizer.c: Cedar's authorizer, as the Lean model's isAuthorized: every policy is evaluated;
 * a satisfied forbid denies (the satisfied forbids determine), otherwise a satisfied permit allows
 * (the satisfied permits determine), otherwise deny with no determining policy. A policy whose
 * evaluation errors is skipped and reported in the error set.
 *
 * Policies whose action scope cannot hold for the request are skipped through the policy set's
 * action index (policy_index.c): they could be neither satisfied nor erroring. The action scope
 * of a plain policy (no slots) the index chose holds by construction: it is not checked again.
 */
#include "cedar/cedar_int.h"
#include "cedar/eval.h"

int md_authorize(md_arena *a, const md_policyset *ps, const md_request *req, const md_entities *es,
                 md_response *out)
{
    memset(out, 0, sizeof *out);
    md_eval_cache cache;
    md_eval_cache_init(&cache, req, es);
    const uint32_t *cand = NULL;
    size_t n_cand = SIZE_MAX;
    if (ps->index) {
        int rc = md_policyset_candidates(a, ps, req, md_eval_cache_action(&cache), &cand, &n_cand);
        if (rc)
            return rc;
    }
    size_t n = n_cand == SIZE_MAX ? ps->n : n_cand;
    const md_policy **permits = md_arena_array(a, 2 * (n + 1), sizeof *permits);
    if (!permits)
        return MANDATE_ENOMEM;
    const md_policy **forbids = permits + n + 1;
    size_t n_permit = 0, n_forbid = 0;
    md_diag d;
    md_diag_clear(&d);
    for (size_t i = 0; i < n; i++) {
        bool plain = cand && (cand[i] & MD_CANDIDATE_PLAIN);
        const md_policy *p = ps->policies[cand ? cand[i] & ~MD_CANDIDATE_PLAIN : i];
        bool sat = false;
        int rc = md_eval_policy_cached(p, &cache, plain, a, &sat, &d);
        if (rc == MANDATE_ENOMEM)
            return rc;
        if (rc) {
            if (!out->errors) {
                out->errors = md_arena_array(a, n, sizeof *out->errors);
                if (!out->errors)
                    return MANDATE_ENOMEM;
            }
            const char *msg = md_arena_strndup(a, d.msg, strlen(d.msg));
            if (!msg)
                return MANDATE_ENOMEM;
            out->errors[out->n_errors++] = (md_policy_error){p, msg};
            md_diag_clear(&d);
            continue;
        }
        if (!sat)
            continue;
        if (p->permit)
            permits[n_permit++] = p;
        else
            forbids[n_forbid++] = p;
    }
    if (n_forbid) {
        out->reasons = forbids;
        out->n_reasons = n_forbid;
    } else if (n_permit) {
        out->allow = true;
        out->reasons = permits;
        out->n_reasons = n_permit;
    }
    return 0;
}
