/*
 * entities.h: private helpers of the entity store (entities.c), the entities JSON reader
 * (entities_json.c) and request validation (request_validate.c), beyond the entry points in
 * cedar_int.h.
 *
 * The store keeps entities in insertion order in chunks of line-aligned entries (an entity's
 * short id is copied into its entry) and indexes them with an open-addressing hash table keyed by
 * md_euid_hash. Pointers to stored entities stay valid while more are added once the store holds
 * 4,096 entities; before that the first chunk may move (the old copy stays readable). Sealing
 * computes every entity's transitive ancestor closure once, with an iterative
 * strongly-connected-components pass (no recursion, cycles terminate), so `in` is one lookup and
 * one binary search; entities whose only parent is the same entity share one ancestor array.
 * Sealing also points every entity-valued attribute and tag that names a stored entity at that
 * entity's own uid (and so its strings), which md_entities_resolve turns back into the entity
 * without hashing.
 *
 * The schema checks here follow Rust Cedar's schema-based entity parsing and request validation
 * (cedar-policy-core entities/conformance.rs, validator/coreschema.rs).
 *
 * May depend on: core/, cedar/cedar_int.h, cedar/ext.h.
 */
#ifndef MD_CEDAR_ENTITIES_H
#define MD_CEDAR_ENTITIES_H

#include "cedar/cedar_int.h"
#include "core/json.h"

/* Most entities one store holds (indices are 32-bit). */
#define MD_ENTITIES_MAX 0x7ffffff0u
/* Most ancestor entries md_entities_seal materialises over all entities (shared arrays count
 * once); past it sealing fails with MANDATE_ETOOBIG. 2^26 entries are 2 GiB of md_euid. A chain
 * of depth d costs d^2/2 entries, as in every engine that precomputes the closure. */
#define MD_ENTITIES_MAX_CLOSURE (1u << 26)

/* After md_entities_seal: true when the parent graph has a cycle (including an entity that is its
 * own parent); *at (may be NULL) receives one entity on the cycle. The closure is still computed:
 * every member of a cycle has every other member as an ancestor. */
bool md_entities_has_cycle(const md_entities *es, md_euid *at);

/* True when uid's entity type is an action type (its last path component is "Action"). */
bool md_euid_is_action(const md_euid *uid);

/* True when s is a valid Cedar name: identifiers separated by "::", none of them reserved. */
bool md_cedar_name_valid(md_str s);

/* Checks that v has type t (as Rust Cedar's typecheck of a restricted expression against a schema
 * type: records closed, required attributes present, entity types equal). On a mismatch returns
 * MANDATE_ESCHEMA with "<what>...: ... should be a T, found a U" in d. what is a prefix such as
 * "context" or "entity 'User::\"a\"': attribute 'age'". */
int md_value_typecheck(const md_value *v, const md_type *t, const char *what, md_diag *d);

/* Checks every entity uid inside v against the schema: a uid of an enumerated entity type must
 * have one of the declared ids, and an action uid must be a declared action. MANDATE_ESCHEMA. */
int md_value_check_euids(const md_schema *s, const md_value *v, const char *what, md_diag *d);

/* The uid check of md_value_check_euids for one uid. */
int md_euid_check_schema(const md_schema *s, const md_euid *uid, const char *what, md_diag *d);

/* md_json_parse (JSON text to jansson values) lives in core/json.h; its caps are Cedar's. */
_Static_assert(MD_JSON_MAX_DEPTH == MD_CEDAR_MAX_DEPTH + 8, "JSON nesting cap");
_Static_assert(MD_JSON_MAX_TEXT == MD_CEDAR_MAX_JSON_TEXT, "JSON text cap");

/* After sealing: the entity whose uid strings uid shares (an attribute value of a stored entity,
 * an ancestor, a stored uid), found from the id's address with no hashing; NULL for any other uid
 * (then md_entities_find hashes). */
const md_entity *md_entities_resolve(const md_entities *es, const md_euid *uid);

/* e must be an entity of a sealed store. Starts loading (prefetches, nothing else) the first two
 * stored entities e's attributes name and the first one's attributes: a decision about e is
 * likely to read them (an agent's owner, a ticket's assignee). */
void md_entities_prefetch_named(const md_entity *e);

/* md_entities_find for up to 8 uids at once, overlapping their cache misses (a decision looks
 * up its principal, action and resource this way). */
void md_entities_find_many(const md_entities *es, const md_euid *const *uids, size_t n,
                           const md_entity **out);

/* Writes a schema type in Cedar syntax ("Long", "Set<String>", "{a: Long, b?: String}"). */
int md_type_print(md_buf *b, const md_type *t);

#endif
