/*
 * policy_test.h: data-driven tests of Cedar policies (`mandate policy test`), the way code is
 * unit-tested: each case is a request and the decision expected for it, optionally with the
 * determining policies and the erroring policies expected (docs/policy-tools.md has the format).
 *
 * md_policy_test_run authorizes every case against a policy set, entities and an optional schema,
 * and reports per case whether it passed and, when not, what differed. A malformed case (a
 * missing decision, an unknown field, a bad uid) fails on its own with a message; the other cases
 * still run. Expected policy ids match a policy's id (policy0, ...) or the value of its @id
 * annotation.
 *
 * Ownership: the outcomes live in the arena given; the inputs are borrowed.
 * May depend on: core/, cedar_int.h, entities.h (JSON values and uids).
 */
#ifndef MD_CEDAR_POLICY_TEST_H
#define MD_CEDAR_POLICY_TEST_H

#include "cedar/cedar_int.h"

typedef struct md_ptest_outcome {
    const char *name; /* the case's "name" (copied), or "case N" (1-based) */
    bool pass;
    const char *detail; /* NULL when the case passed; else what differed, one line */
} md_ptest_outcome;

/* Runs each case of the JSON array cases. schema may be NULL; es must hold the schema's action
 * entities when there is a schema (md_entities_from_json adds them). Returns 0 with *out and
 * *n_out set (the count of cases), or an error when cases is not an array. */
int md_policy_test_run(md_arena *a, const json_t *cases, const md_policyset *ps,
                       const md_schema *schema, const md_entities *es, md_ptest_outcome **out,
                       size_t *n_out, md_diag *d);

#endif
