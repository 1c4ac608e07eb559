/*
 * validator.h: Cedar's strict-mode policy validator (validator.c).
 *
 * md_validate typechecks every static policy and template of a policy set against a schema with
 * the rules of the Lean model (cedar-spec, cedar-lean/Cedar/Validation/Typechecker.lean and
 * Validator.lean): each policy is checked as the expression Policy.toExpr (scope && conditions)
 * in every request environment the schema defines (one per action, principal type and resource
 * type of the action's appliesTo; templates additionally per possible slot type), with `action`
 * replaced by the environment's action uid. Capabilities (`has`/`hasTag` guards) flow through
 * &&, || and if-then-else as in the model. On top of the model's verdict the validator runs the
 * checks the Rust validator makes outside the typechecker (unknown entity types, actions and
 * enum values anywhere in a policy; a scope that no action of the schema can match, an error as
 * in Cedar 4.12) and reports a policy whose expression types as `false` in every environment as
 * a warning ("impossible policy"). Template-linked policies are checked as the Rust validator
 * checks links: their slot values' entity types must be known and the linked scope must match
 * some action.
 *
 * A policy set validates iff md_validate reports no diagnostic with warning == false.
 *
 * Ownership: diagnostics and their strings live in the caller's arena a; they borrow the policy
 * set (md_vdiag.policy). The schema and policy set are only read.
 *
 * May depend on: core/, cedar_int.h (schema lookups, values, the policy AST, extension parsers).
 */
#ifndef MD_CEDAR_VALIDATOR_H
#define MD_CEDAR_VALIDATOR_H

#include "cedar/cedar_int.h"

typedef struct md_vdiag {
    const md_policy *policy; /* the static policy, template or linked policy */
    bool warning;            /* false: an error (the policy set does not validate) */
    uint32_t line, col;      /* 1-based position of the offending sub-expression */
    const char *kind;        /* stable name, e.g. "unknown-entity-type" (see validator.c) */
    const char *msg;         /* a sentence a person can act on (no policy id, no position) */
} md_vdiag;

/* Validates ps against s. Sets *out to an array of *n_out diagnostics, sorted by policy (in
 * policy-set order: static and linked policies, then templates) and then by position. Returns 0
 * even when diagnostics exist; MANDATE_ENOMEM when out of memory. */
int md_validate(md_arena *a, const md_policyset *ps, const md_schema *s, size_t *n_out,
                const md_vdiag **out);

/* True when the diagnostics contain an error (the policy set fails validation). */
bool md_vdiag_has_error(const md_vdiag *d, size_t n);

#endif
