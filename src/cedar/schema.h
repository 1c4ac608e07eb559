/*
 * schema.h: private declarations of the schema module (schema.c), beyond the entry points that
 * cedar_int.h declares (md_schema_parse, md_schema_entity_type, md_schema_action,
 * md_schema_add_action_entities).
 *
 * The parser reads Cedar's human-readable schema syntax, resolves every type name as Cedar does
 * (common types first, then entity types, in the declaring namespace and then in the empty one,
 * then the built-in primitive and extension types) and inlines common types, so an md_schema
 * holds no unresolved names. Resolved types are shared (a DAG), never copied; their expanded
 * size is capped by MD_SCHEMA_MAX_TYPE_NODES.
 *
 * May depend on: core/, cedar_int.h (values: md_euid_cmp, md_record_empty; entities: the store
 * that md_schema_add_action_entities fills).
 */
#ifndef MD_CEDAR_SCHEMA_H
#define MD_CEDAR_SCHEMA_H

#include "cedar/cedar_int.h"

/* Cap on the number of type nodes a single type expands to once common types are inlined. */
#define MD_SCHEMA_MAX_TYPE_NODES (1u << 20)

#endif
