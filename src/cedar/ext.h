/*
 * ext.h: helpers of the extension types (decimal, ipaddr, datetime, duration) beyond the entry
 * points declared in cedar_int.h (parsers, md_extfn_*).
 *
 * Extension values are plain md_values (see cedar_int.h): decimal, datetime and duration keep an
 * int64 in u.i, ipaddr keeps the parsed address and prefix in u.ip exactly as written (host bits
 * under the prefix are kept, as in the Lean model's CIDR). Equality is structural: two ipaddr
 * values are equal when family, address bytes and prefix are; two decimals when their scaled
 * integers are.
 *
 * May depend on: core/ and cedar/cedar_int.h only.
 */
#ifndef MD_CEDAR_EXT_H
#define MD_CEDAR_EXT_H

#include "cedar/cedar_int.h"

/* Appends an extension value as Cedar's Rust implementation shows it: decimal("1.2300"),
 * ip("10.0.0.0/8"), duration("90000ms"), datetime("1970-01-01").offset(duration("Nms")).
 * Returns MANDATE_EINVAL for a value that is not of an extension kind. */
int md_ext_print(md_buf *b, const md_value *v);

/* A total order on extension values (by kind first, then content; for ipaddr: IPv4 before IPv6,
 * then address, then prefix). Returns <0, 0 or >0; 0 exactly when the values are equal. */
int md_ext_cmp(const md_value *a, const md_value *b);

/* Maps an extension function's Cedar name ("decimal", "lessThan", "isInRange", ...) to its enum.
 * Returns false for an unknown name. */
bool md_extfn_from_name(md_str name, md_extfn *out);

/* Cedar's name of a value kind as it appears in type errors: "bool", "long", "string",
 * "entity", "set", "record", "decimal", "ipaddr", "datetime", "duration". */
const char *md_ext_kind_name(md_vkind k);

#endif
