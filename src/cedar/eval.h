/*
 * eval.h: private extras of the evaluator (eval.c) beyond md_eval_policy / md_eval_expr in
 * cedar_int.h.
 *
 * An md_eval_cache remembers the entity-store lookups of one request's principal, action and
 * resource, so that evaluating every policy of a set for one request looks each of them up once
 * instead of once per policy (scopes `principal in G`, `action in [...]`, `resource.attr`).
 * The cache borrows the request and the store; it is valid while both are alive and unchanged,
 * and must be re-initialised for another request. It lives on the caller's stack; nothing to free.
 *
 * May depend on: core/, cedar/cedar_int.h.
 */
#ifndef MD_CEDAR_EVAL_H
#define MD_CEDAR_EVAL_H

#include "cedar/cedar_int.h"

typedef struct md_eval_cache {
    const md_request *req;
    const md_entities *es;
    unsigned done;           /* bit i: ent[i] was looked up */
    const md_entity *ent[3]; /* principal, action, resource; NULL when not in the store */
    /* Other uids seen during this request (by the identity of their strings: attribute values
     * such as principal.owner are the same borrowed strings every time they are read). */
    unsigned memo_next;
    md_euid memo_uid[4];
    const md_entity *memo_ent[4];
} md_eval_cache;

/* Prepares a cache for one request against one store (es may be NULL: an empty store). */
void md_eval_cache_init(md_eval_cache *c, const md_request *req, const md_entities *es);

/* The request's action entity (looked up once), or NULL when the store does not have it. */
const md_entity *md_eval_cache_action(md_eval_cache *c);

/* md_eval_policy with a cache made by md_eval_cache_init for the same req and es; p, cache and
 * satisfied must not be NULL. plain: the caller knows that the policy has no slots and that its
 * action scope holds for the request (MD_CANDIDATE_PLAIN), so neither is checked. */
int md_eval_policy_cached(const md_policy *p, md_eval_cache *cache, bool plain, md_arena *scratch,
                          bool *satisfied, md_diag *d);

#endif
