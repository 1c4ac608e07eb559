/*
 * schema_json.h: Cedar's JSON schema format (schema_json.c) and the schema printers
 * (schema_print.c), so a schema converts between the JSON and the human-readable syntax.
 *
 * md_schema_parse_json reads the JSON format (cedar-docs schema.md, "JSON schema format";
 * Rust cedar-policy-core validator/json_schema.rs) into the same md_schema that md_schema_parse
 * builds from the human syntax, with the same name resolution rules: the JSON document is checked
 * field by field, the references whose meaning the JSON format fixes ({"type": "Entity"},
 * {"type": "Extension"}, primitives and common-type references) are resolved here, and the
 * declarations are then handed to the human-syntax resolver (schema.c) as fully-qualified text,
 * which does the common-type inlining, the RFC 70 shadowing checks, duplicates, cycles and caps.
 * Annotations are checked for shape and ignored, as md_schema has no room for them.
 *
 * The printers write an md_schema back out. Common types are already inlined in an md_schema, so
 * printed schemas have none; every name is written so that it resolves back to the same type.
 * Printing a schema and parsing it again gives an equal schema (md_schema_equal).
 *
 * May depend on: core/, cedar_int.h, schema.h, entities.h (md_json_parse, md_cedar_name_valid).
 */
#ifndef MD_CEDAR_SCHEMA_JSON_H
#define MD_CEDAR_SCHEMA_JSON_H

#include "cedar/cedar_int.h"

/* Parses a schema in the JSON format. Errors are MANDATE_EPARSE (JSON syntax, with line:column),
 * MANDATE_ESCHEMA (a well-formed document that is not a valid schema, with the path of the
 * offending field in the message) or MANDATE_ETOOBIG. The schema lives in a. */
int md_schema_parse_json(md_arena *a, const char *text, size_t len, const md_schema **out,
                         md_diag *d);

/* Appends the schema in the human-readable syntax / the JSON format (pretty-printed, 2-space
 * indentation, names in sorted order) to out. MANDATE_ETOOBIG when out's cap is reached. */
int md_schema_print_human(md_buf *out, const md_schema *s);
int md_schema_print_json(md_buf *out, const md_schema *s);

/* Structural equality of two schemas: same entity types (member_of, shape, tags, enum ids) and
 * actions (member_of, appliesTo, context), types compared deeply. */
bool md_schema_equal(const md_schema *a, const md_schema *b);
bool md_type_equal(const md_type *a, const md_type *b);

#endif
