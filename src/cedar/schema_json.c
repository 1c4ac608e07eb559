/*
 * schema_json.c: reads Cedar's JSON schema format into an md_schema (see schema_json.h).
 *
 * Two steps. First the JSON document is checked as Rust Cedar's serde definitions check it
 * (json_schema.rs: unknown fields, required fields, null where null is not allowed, reserved
 * names) and turned into the human-readable syntax, resolving on the way the references whose
 * meaning differs between the formats: {"type": "Long"} is always the primitive (__cedar::Long),
 * {"type": "X"} names a common type only, {"type": "Entity"} an entity type only and
 * {"type": "Extension"} an extension type; these are written fully qualified. Names that both
 * formats resolve alike (EntityOrCommon, memberOfTypes, principalTypes, resourceTypes, action
 * groups) are written as given. Second, md_schema_parse resolves that text, so both formats share
 * one resolver (common types, RFC 70 shadowing, duplicates, cycles, caps).
 *
 * Two JSON forms have no human-syntax spelling and are handled around the resolver: an entity
 * shape given as a reference to a common type (written as a one-attribute record, then replaced by
 * the attribute's resolved type, which must be a record), and an appliesTo with an empty
 * principalTypes or resourceTypes list (which applies to nothing, as an action without appliesTo;
 * Cedar prints it that way too).
 */
#include <stdio.h>

#include "cedar/entities.h"
#include "cedar/schema.h"
#include "cedar/schema_json.h"

typedef struct jx {
    md_arena *a;
    md_diag *d;
    int err;
    md_buf *out;
    json_t *commons;  /* full names of declared common types (a set) */
    json_t *entities; /* full names of entity types and action entity types (a set) */
    json_t *patches;  /* full names of entity types whose shape is a type reference */
    char path[400];   /* where we are, as a JSON pointer, for messages */
    size_t plen;
    unsigned depth;
} jx;

static int fail(jx *c, int code, const char *fmt, ...) MD_PRINTF(3, 4);

static int fail(jx *c, int code, const char *fmt, ...)
{
    if (c->err)
        return c->err;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->err = code;
    md_diag_set(c->d, code, 0, 0, "JSON schema at '%s': %s", c->plen ? c->path : "/", msg);
    return code;
}

static int oom(jx *c)
{
    return fail(c, MANDATE_ENOMEM, "out of memory");
}

/* Pushes a segment on the path; returns the old length for pop(). */
static size_t push(jx *c, const char *seg, size_t n)
{
    size_t old = c->plen;
    if (n > 60)
        n = 60;
    if (c->plen + n + 2 < sizeof c->path) {
        c->path[c->plen++] = '/';
        for (size_t i = 0; i < n; i++)
            c->path[c->plen++] = seg[i] ? seg[i] : '?';
        c->path[c->plen] = '\0';
    }
    return old;
}

static void pop(jx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static const char *kind_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static int put(jx *c, const char *s)
{
    if (md_buf_puts(c->out, s))
        return fail(c, MANDATE_ETOOBIG, "the schema is too large");
    return 0;
}

static int putn(jx *c, const char *s, size_t n)
{
    if (md_buf_append(c->out, s, n))
        return fail(c, MANDATE_ETOOBIG, "the schema is too large");
    return 0;
}

/* Writes s as a human-syntax string literal. */
static int put_strlit(jx *c, const char *s, size_t n)
{
    if (put(c, "\""))
        return c->err;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[16];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            esc[2] = '\0';
        } else if (ch < 0x20 || ch == 0x7f) {
            snprintf(esc, sizeof esc, "\\u{%x}", ch);
        } else {
            if (putn(c, (const char *)&s[i], 1))
                return c->err;
            continue;
        }
        if (put(c, esc))
            return c->err;
    }
    return put(c, "\"");
}

/* Checks that every key of obj is one of allowed (NULL-terminated). */
static int check_keys(jx *c, const json_t *obj, const char *const *allowed)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char list[200] = "";
            size_t n = 0;
            for (size_t i = 0; allowed[i]; i++)
                n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                                      i ? ", " : "", allowed[i]);
            return fail(c, MANDATE_ESCHEMA, "unknown field '%.60s'; expected one of %s", key, list);
        }
    }
    return 0;
}

static bool is_ident(md_str s)
{
    return md_cedar_name_valid(s) && !memchr(s.ptr, ':', s.len);
}

static int check_name(jx *c, md_str s, bool ident_only, const char *what)
{
    static const char pfx[] = "__cedar::";
    md_str rest = s;
    /* type references may name the built-in types as __cedar::Long (an internal name) */
    if (!ident_only && s.len > sizeof pfx - 1 && !memcmp(s.ptr, pfx, sizeof pfx - 1))
        rest = (md_str){s.ptr + sizeof pfx - 1, s.len - (sizeof pfx - 1)};
    if (ident_only ? is_ident(s) : md_cedar_name_valid(rest))
        return 0;
    return fail(c, MANDATE_ESCHEMA, "'%.*s' is not a valid %s", (int)(s.len > 80 ? 80 : s.len),
                s.ptr, what);
}

static md_str jstr(const json_t *j)
{
    return (md_str){json_string_value(j), json_string_length(j)};
}

static md_str join(jx *c, md_str ns, md_str base)
{
    if (!ns.len)
        return base;
    char *s = md_arena_printf(c->a, "%.*s::%.*s", (int)ns.len, ns.ptr, (int)base.len, base.ptr);
    return s ? (md_str){s, strlen(s)} : (md_str){NULL, 0};
}

/* Adds a full name to a set (a jansson object keyed by name; names hold no NUL). */
static int set_add(jx *c, json_t *set, md_str name)
{
    char *k = md_arena_strndup(c->a, name.ptr, name.len);
    if (!k || json_object_set_new(set, k, json_null()))
        return oom(c);
    return 0;
}

static bool set_has(const json_t *set, md_str name)
{
    char buf[1024];
    if (name.len >= sizeof buf)
        return false;
    memcpy(buf, name.ptr, name.len);
    buf[name.len] = '\0';
    return json_object_get(set, buf) != NULL;
}

static const char *const primitives[] = {"Bool", "Long", "String"};
static const char *const extensions[] = {"decimal", "ipaddr", "datetime", "duration"};

static bool is_builtin(md_str s)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(primitives); i++)
        if (md_str_eq_c(s, primitives[i]))
            return true;
    for (size_t i = 0; i < MD_ARRAY_LEN(extensions); i++)
        if (md_str_eq_c(s, extensions[i]))
            return true;
    return false;
}

/* The candidate full names of a reference written in namespace ns. */
static int candidates(jx *c, md_str ns, md_str name, md_str out[2])
{
    if (ns.len && !memchr(name.ptr, ':', name.len)) {
        out[0] = join(c, ns, name);
        out[1] = name;
        return out[0].ptr ? 2 : (oom(c), -1);
    }
    out[0] = name;
    return 1;
}

/* Writes a reference to a common type ({"type": "X"}), resolved as Cedar resolves common-type
 * references: the first candidate declared as a common type, the built-in types counting as
 * common types of the empty namespace (unless declared there) and of __cedar. */
static int put_common_ref(jx *c, md_str ns, md_str name)
{
    md_str cand[2];
    int n = candidates(c, ns, name, cand);
    if (n < 0)
        return c->err;
    static const char pfx[] = "__cedar::";
    for (int i = 0; i < n; i++) {
        if (set_has(c->commons, cand[i])) {
            return putn(c, cand[i].ptr, cand[i].len);
        }
        md_str base = cand[i];
        bool cedar_ns = base.len > sizeof pfx - 1 && !memcmp(base.ptr, pfx, sizeof pfx - 1);
        if (cedar_ns)
            base = (md_str){base.ptr + sizeof pfx - 1, base.len - (sizeof pfx - 1)};
        if (is_builtin(base) &&
            (cedar_ns || (!memchr(cand[i].ptr, ':', cand[i].len) && !set_has(c->entities, base))))
            return put(c, "__cedar::") || putn(c, base.ptr, base.len) ? c->err : 0;
    }
    if (n == 2)
        return fail(c, MANDATE_ESCHEMA,
                    "unknown common type '%.*s': neither '%.*s' nor '%.*s' is declared as a common "
                    "type",
                    (int)name.len, name.ptr, (int)cand[0].len, cand[0].ptr, (int)cand[1].len,
                    cand[1].ptr);
    return fail(c, MANDATE_ESCHEMA, "unknown common type '%.*s'; declare it in commonTypes",
                (int)name.len, name.ptr);
}

/* Writes a reference to an entity type ({"type": "Entity"}): the first candidate that is an
 * entity type (or the type of a namespace's actions). */
static int put_entity_ref(jx *c, md_str ns, md_str name)
{
    md_str cand[2];
    int n = candidates(c, ns, name, cand);
    if (n < 0)
        return c->err;
    for (int i = 0; i < n; i++)
        if (set_has(c->entities, cand[i]))
            return putn(c, cand[i].ptr, cand[i].len);
    if (n == 2)
        return fail(c, MANDATE_ESCHEMA,
                    "unknown entity type '%.*s': neither '%.*s' nor '%.*s' is declared as an "
                    "entity type",
                    (int)name.len, name.ptr, (int)cand[0].len, cand[0].ptr, (int)cand[1].len,
                    cand[1].ptr);
    return fail(c, MANDATE_ESCHEMA, "unknown entity type '%.*s'; declare it in entityTypes",
                (int)name.len, name.ptr);
}

enum { TY_PLAIN, TY_ATTR, TY_COMMON };

static int put_type(jx *c, md_str ns, const json_t *t, int where);

static const json_t *field(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

static int put_record(jx *c, md_str ns, const json_t *attrs, const json_t *addl)
{
    if (addl && !json_is_boolean(addl))
        return fail(c, MANDATE_ESCHEMA, "additionalAttributes should be a boolean, found %s",
                    kind_name(addl));
    if (addl && json_is_true(addl))
        return fail(c, MANDATE_ESCHEMA,
                    "records with additionalAttributes: true (open records) are not supported");
    if (!json_is_object(attrs))
        return fail(c, MANDATE_ESCHEMA, "attributes should be an object, found %s",
                    attrs ? kind_name(attrs) : "nothing");
    if (put(c, "{"))
        return c->err;
    const char *key;
    const json_t *v;
    void *it;
    bool first = true;
    for (it = json_object_iter((json_t *)attrs); it;
         it = json_object_iter_next((json_t *)attrs, it)) {
        key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        v = json_object_iter_value(it);
        size_t old = push(c, key, klen);
        if (!first && put(c, ", "))
            return c->err;
        first = false;
        if (put_strlit(c, key, klen))
            return c->err;
        if (!json_is_object(v))
            return fail(c, MANDATE_ESCHEMA, "an attribute's type should be an object, found %s",
                        kind_name(v));
        const json_t *req = field(v, "required");
        if (req && !json_is_boolean(req))
            return fail(c, MANDATE_ESCHEMA, "required should be a boolean, found %s",
                        kind_name(req));
        if (put(c, req && json_is_false(req) ? "?: " : ": ") || put_type(c, ns, v, TY_ATTR))
            return c->err;
        pop(c, old);
    }
    return put(c, "}");
}

static int check_annotations(jx *c, const json_t *an)
{
    if (!an)
        return 0;
    if (!json_is_object(an))
        return fail(c, MANDATE_ESCHEMA, "annotations should be an object, found %s", kind_name(an));
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)an, key, v)
    {
        if (!json_is_string(v) && !json_is_null(v))
            return fail(c, MANDATE_ESCHEMA, "annotation '%.60s' should be a string, found %s", key,
                        kind_name(v));
    }
    return 0;
}

static int put_type(jx *c, md_str ns, const json_t *t, int where)
{
    static const char *const plain[] = {"type", "element", "attributes", "additionalAttributes",
                                        "name", NULL};
    static const char *const attr[] = {"type", "element",  "attributes",  "additionalAttributes",
                                       "name", "required", "annotations", NULL};
    static const char *const common[] = {
        "type", "element", "attributes", "additionalAttributes", "name", "annotations", NULL};
    if (!json_is_object(t))
        return fail(c, MANDATE_ESCHEMA, "a type should be an object, found %s", kind_name(t));
    if (++c->depth > MD_CEDAR_MAX_DEPTH)
        return fail(c, MANDATE_ETOOBIG, "types nest too deeply (more than %d levels)",
                    MD_CEDAR_MAX_DEPTH);
    int rc = check_keys(c, t, where == TY_ATTR ? attr : where == TY_COMMON ? common : plain);
    if (!rc && where != TY_PLAIN)
        rc = check_annotations(c, field(t, "annotations"));
    if (rc)
        return rc;
    const json_t *ty = field(t, "type");
    if (!json_is_string(ty))
        return fail(c, MANDATE_ESCHEMA, "a type needs a \"type\" string field, found %s",
                    ty ? kind_name(ty) : "none");
    md_str s = jstr(ty);
    const json_t *elem = field(t, "element"), *attrs = field(t, "attributes"),
                 *addl = field(t, "additionalAttributes"), *name = field(t, "name");
    /* which of the type fields each kind accepts */
    bool want_elem = false, want_attrs = false, want_name = false;
    if (md_str_eq_c(s, "Set"))
        want_elem = true;
    else if (md_str_eq_c(s, "Record"))
        want_attrs = true;
    else if (md_str_eq_c(s, "Entity") || md_str_eq_c(s, "EntityOrCommon") ||
             md_str_eq_c(s, "Extension"))
        want_name = true;
    if ((elem && !want_elem) || ((attrs || addl) && !want_attrs) || (name && !want_name))
        return fail(c, MANDATE_ESCHEMA, "unexpected field '%s' in a type of kind '%.*s'",
                    elem && !want_elem     ? "element"
                    : attrs && !want_attrs ? "attributes"
                    : addl && !want_attrs  ? "additionalAttributes"
                                           : "name",
                    (int)(s.len > 60 ? 60 : s.len), s.ptr);
    if (md_str_eq_c(s, "String"))
        rc = put(c, "__cedar::String");
    else if (md_str_eq_c(s, "Long"))
        rc = put(c, "__cedar::Long");
    else if (md_str_eq_c(s, "Boolean"))
        rc = put(c, "__cedar::Bool");
    else if (want_elem) {
        if (!elem)
            return fail(c, MANDATE_ESCHEMA, "a Set type needs an \"element\" field");
        size_t old = push(c, "element", 7);
        if (!(rc = put(c, "Set<")) && !(rc = put_type(c, ns, elem, TY_PLAIN)))
            rc = put(c, ">");
        pop(c, old);
    } else if (want_attrs) {
        if (!attrs)
            return fail(c, MANDATE_ESCHEMA, "a Record type needs an \"attributes\" field");
        size_t old = push(c, "attributes", 10);
        rc = put_record(c, ns, attrs, addl);
        pop(c, old);
    } else if (want_name) {
        if (!json_is_string(name))
            return fail(c, MANDATE_ESCHEMA, "a type of kind '%.*s' needs a \"name\" string field",
                        (int)s.len, s.ptr);
        md_str n = jstr(name);
        if (md_str_eq_c(s, "Extension")) {
            bool known = false;
            for (size_t i = 0; i < MD_ARRAY_LEN(extensions) && !known; i++)
                known = md_str_eq_c(n, extensions[i]);
            if (!known)
                return fail(c, MANDATE_ESCHEMA,
                            "unknown extension type '%.*s'; the extension types are decimal, "
                            "ipaddr, datetime and duration",
                            (int)(n.len > 60 ? 60 : n.len), n.ptr);
            rc = put(c, "__cedar::") || putn(c, n.ptr, n.len);
        } else if ((rc = check_name(c, n, false,
                                    md_str_eq_c(s, "Entity") ? "entity type name" : "type name"))) {
        } else if (md_str_eq_c(s, "Entity")) {
            rc = put_entity_ref(c, ns, n);
        } else {
            rc = putn(c, n.ptr, n.len);
        }
    } else {
        /* any other name refers to a common type */
        if (!(rc = check_name(c, s, false, "type name")))
            rc = put_common_ref(c, ns, s);
    }
    c->depth--;
    return rc ? c->err : 0;
}

/* Writes a list of entity type names (memberOfTypes, principalTypes, resourceTypes). */
static int put_name_list(jx *c, const json_t *arr, const char *what)
{
    if (!json_is_array(arr))
        return fail(c, MANDATE_ESCHEMA, "%s should be an array of entity type names, found %s",
                    what, kind_name(arr));
    if (put(c, "["))
        return c->err;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        if (!json_is_string(e))
            return fail(c, MANDATE_ESCHEMA, "%s should hold entity type names, found %s", what,
                        kind_name(e));
        if (check_name(c, jstr(e), false, "entity type name") || (i && put(c, ", ")) ||
            putn(c, json_string_value(e), json_string_length(e)))
            return c->err;
    }
    return put(c, "]");
}

static int put_entity(jx *c, md_str ns, const char *name, const json_t *et)
{
    static const char *const keys[] = {"memberOfTypes", "shape",       "tags",
                                       "enum",          "annotations", NULL};
    if (!json_is_object(et))
        return fail(c, MANDATE_ESCHEMA, "an entity type should be an object, found %s",
                    kind_name(et));
    int rc;
    if ((rc = check_keys(c, et, keys)) || (rc = check_annotations(c, field(et, "annotations"))))
        return rc;
    const char *const opt[] = {"memberOfTypes", "shape", "tags", "enum"};
    for (size_t i = 0; i < MD_ARRAY_LEN(opt); i++)
        if (json_is_null(field(et, opt[i])))
            return fail(c, MANDATE_ESCHEMA, "%s may not be null; leave it out instead", opt[i]);
    if (put(c, "entity ") || put(c, name))
        return c->err;
    const json_t *en = field(et, "enum");
    if (en) {
        const char *extra = field(et, "memberOfTypes") ? "memberOfTypes"
                            : field(et, "shape")       ? "shape"
                            : field(et, "tags")        ? "tags"
                                                       : NULL;
        if (extra)
            return fail(c, MANDATE_ESCHEMA, "an enumerated entity type cannot have %s", extra);
        if (!json_is_array(en) || json_array_size(en) == 0)
            return fail(c, MANDATE_ESCHEMA, "enum should be a non-empty array of strings");
        if (put(c, " enum ["))
            return c->err;
        for (size_t i = 0; i < json_array_size(en); i++) {
            const json_t *e = json_array_get(en, i);
            if (!json_is_string(e))
                return fail(c, MANDATE_ESCHEMA, "enum should hold strings, found %s", kind_name(e));
            if ((i && put(c, ", ")) || put_strlit(c, json_string_value(e), json_string_length(e)))
                return c->err;
        }
        return put(c, "];\n");
    }
    const json_t *mo = field(et, "memberOfTypes");
    if (mo && (!json_is_array(mo) || json_array_size(mo))) {
        size_t old = push(c, "memberOfTypes", 13);
        if (put(c, " in ") || put_name_list(c, mo, "memberOfTypes"))
            return c->err;
        pop(c, old);
    }
    const json_t *shape = field(et, "shape");
    if (shape) {
        size_t old = push(c, "shape", 5);
        if (!json_is_object(shape))
            return fail(c, MANDATE_ESCHEMA, "a type should be an object, found %s",
                        kind_name(shape));
        const json_t *ty = field(shape, "type");
        if (put(c, " "))
            return c->err;
        if (json_is_string(ty) && !strcmp(json_string_value(ty), "Record")) {
            if (put_type(c, ns, shape, TY_PLAIN))
                return c->err;
        } else {
            /* a reference: resolved through a one-attribute record, then unwrapped */
            md_str full = join(c, ns, md_str_c(name));
            if (!full.ptr || set_add(c, c->patches, full))
                return oom(c);
            if (put(c, "{\"shape\": ") || put_type(c, ns, shape, TY_PLAIN) || put(c, "}"))
                return c->err;
        }
        pop(c, old);
    }
    const json_t *tags = field(et, "tags");
    if (tags) {
        size_t old = push(c, "tags", 4);
        if (put(c, " tags ") || put_type(c, ns, tags, TY_PLAIN))
            return c->err;
        pop(c, old);
    }
    return put(c, ";\n");
}

static int put_action(jx *c, md_str ns, const char *id, size_t idlen, const json_t *ac)
{
    static const char *const keys[] = {"attributes", "appliesTo", "memberOf", "annotations", NULL};
    static const char *const akeys[] = {"resourceTypes", "principalTypes", "context", NULL};
    static const char *const ukeys[] = {"id", "type", NULL};
    if (!json_is_object(ac))
        return fail(c, MANDATE_ESCHEMA, "an action should be an object, found %s", kind_name(ac));
    int rc;
    if ((rc = check_keys(c, ac, keys)) || (rc = check_annotations(c, field(ac, "annotations"))))
        return rc;
    const json_t *attrs = field(ac, "attributes");
    if (attrs && !json_is_null(attrs))
        return fail(c, MANDATE_ESCHEMA,
                    "action attributes are not supported (Cedar 4 removed "
                    "them); remove the \"attributes\" field");
    if (put(c, "action ") || put_strlit(c, id, idlen))
        return c->err;
    const json_t *mo = field(ac, "memberOf");
    if (mo && !json_is_null(mo)) {
        size_t old = push(c, "memberOf", 8);
        if (!json_is_array(mo))
            return fail(c, MANDATE_ESCHEMA, "memberOf should be an array, found %s", kind_name(mo));
        if (json_array_size(mo) && put(c, " in ["))
            return c->err;
        for (size_t i = 0; i < json_array_size(mo); i++) {
            const json_t *u = json_array_get(mo, i);
            if (!json_is_object(u))
                return fail(c, MANDATE_ESCHEMA,
                            "memberOf should hold {\"id\": ..., \"type\": ...} objects, found %s",
                            kind_name(u));
            if ((rc = check_keys(c, u, ukeys)))
                return rc;
            const json_t *uid = field(u, "id"), *uty = field(u, "type");
            if (!json_is_string(uid))
                return fail(c, MANDATE_ESCHEMA, "an action group needs an \"id\" string");
            if (uty && !json_is_null(uty) && !json_is_string(uty))
                return fail(c, MANDATE_ESCHEMA, "an action group's \"type\" should be a string");
            if (i && put(c, ", "))
                return c->err;
            if (json_is_string(uty)) {
                if (check_name(c, jstr(uty), false, "action entity type name") ||
                    putn(c, json_string_value(uty), json_string_length(uty)) || put(c, "::"))
                    return c->err;
            }
            if (put_strlit(c, json_string_value(uid), json_string_length(uid)))
                return c->err;
        }
        if (json_array_size(mo) && put(c, "]"))
            return c->err;
        pop(c, old);
    }
    const json_t *ap = field(ac, "appliesTo");
    if (ap && !json_is_null(ap)) {
        size_t old = push(c, "appliesTo", 9);
        if (!json_is_object(ap))
            return fail(c, MANDATE_ESCHEMA, "appliesTo should be an object, found %s",
                        kind_name(ap));
        if ((rc = check_keys(c, ap, akeys)))
            return rc;
        const json_t *pt = field(ap, "principalTypes"), *rt = field(ap, "resourceTypes"),
                     *ctx = field(ap, "context");
        if (!pt || !rt)
            return fail(c, MANDATE_ESCHEMA,
                        "appliesTo needs both principalTypes and "
                        "resourceTypes (an empty list applies to nothing)");
        bool empty = json_array_size(pt) == 0 || json_array_size(rt) == 0;
        /* an empty list applies to nothing: checked, then written without appliesTo */
        md_buf *real = c->out, scratch;
        md_buf_init(&scratch, MD_CEDAR_MAX_POLICY_TEXT);
        if (empty)
            c->out = &scratch;
        size_t o2 = push(c, "principalTypes", 14);
        if (!put(c, " appliesTo {principal: ") && !put_name_list(c, pt, "principalTypes")) {
            pop(c, o2);
            o2 = push(c, "resourceTypes", 13);
            if (!put(c, ", resource: ") && !put_name_list(c, rt, "resourceTypes")) {
                pop(c, o2);
                if (ctx) {
                    o2 = push(c, "context", 7);
                    if (!put(c, ", context: "))
                        put_type(c, ns, ctx, TY_PLAIN);
                }
                if (!c->err) {
                    pop(c, o2);
                    put(c, "}");
                }
            }
        }
        c->out = real;
        md_buf_release(&scratch);
        if (c->err)
            return c->err;
        pop(c, old);
    }
    return put(c, ";\n");
}

static int put_namespace(jx *c, md_str ns, const json_t *def)
{
    static const char *const keys[] = {"commonTypes", "entityTypes", "actions", "annotations",
                                       NULL};
    if (!json_is_object(def))
        return fail(c, MANDATE_ESCHEMA, "a namespace should be an object, found %s",
                    kind_name(def));
    int rc;
    if ((rc = check_keys(c, def, keys)))
        return rc;
    if (ns.len == 0 && field(def, "annotations"))
        return fail(c, MANDATE_ESCHEMA, "annotations are not allowed on the empty namespace");
    if ((rc = check_annotations(c, field(def, "annotations"))))
        return rc;
    if (ns.len && (put(c, "namespace ") || putn(c, ns.ptr, ns.len) || put(c, " {\n")))
        return c->err;
    const char *key;
    const json_t *v;
    const json_t *cts = field(def, "commonTypes");
    if (cts && !json_is_object(cts))
        return fail(c, MANDATE_ESCHEMA, "commonTypes should be an object, found %s",
                    kind_name(cts));
    json_object_foreach((json_t *)cts, key, v)
    {
        size_t old = push(c, "commonTypes", 11);
        push(c, key, strlen(key));
        if (put(c, "type ") || put(c, key) || put(c, " = ") || put_type(c, ns, v, TY_COMMON) ||
            put(c, ";\n"))
            return c->err;
        pop(c, old);
    }
    const json_t *ets = field(def, "entityTypes");
    json_object_foreach((json_t *)ets, key, v)
    {
        size_t old = push(c, "entityTypes", 11);
        push(c, key, strlen(key));
        if (put_entity(c, ns, key, v))
            return c->err;
        pop(c, old);
    }
    const json_t *acts = field(def, "actions");
    for (void *it = json_object_iter((json_t *)acts); it;
         it = json_object_iter_next((json_t *)acts, it)) {
        key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        size_t old = push(c, "actions", 7);
        push(c, key, klen);
        if (put_action(c, ns, key, klen, json_object_iter_value(it)))
            return c->err;
        pop(c, old);
    }
    if (ns.len && put(c, "}\n"))
        return c->err;
    return 0;
}

/* First pass: the declared names (for the references this file resolves) and their validity. */
static int collect(jx *c, const json_t *root)
{
    const char *key;
    const json_t *def;
    json_object_foreach((json_t *)root, key, def)
    {
        md_str ns = md_str_c(key);
        size_t old = push(c, key, strlen(key));
        if (strlen(key) != json_object_iter_key_len(json_object_key_to_iter(key)))
            return fail(c, MANDATE_ESCHEMA, "a namespace name may not hold a NUL byte");
        if (ns.len && check_name(c, ns, false, "namespace name"))
            return c->err;
        if (!json_is_object(def))
            return fail(c, MANDATE_ESCHEMA, "a namespace should be an object, found %s",
                        kind_name(def));
        const json_t *cts = json_object_get(def, "commonTypes");
        const json_t *ets = json_object_get(def, "entityTypes");
        const json_t *acts = json_object_get(def, "actions");
        if (!ets)
            return fail(c, MANDATE_ESCHEMA, "missing field 'entityTypes'");
        if (!acts)
            return fail(c, MANDATE_ESCHEMA, "missing field 'actions'");
        if ((cts && !json_is_object(cts)) || !json_is_object(ets) || !json_is_object(acts))
            return fail(c, MANDATE_ESCHEMA, "%s should be an object",
                        cts && !json_is_object(cts) ? "commonTypes"
                        : !json_is_object(ets)      ? "entityTypes"
                                                    : "actions");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)cts, k, v)
        {
            md_str n = md_str_c(k);
            size_t o2 = push(c, "commonTypes", 11);
            if (check_name(c, n, true, "common type name"))
                return c->err;
            md_str full = join(c, ns, n);
            if (!full.ptr || set_add(c, c->commons, full))
                return oom(c);
            pop(c, o2);
        }
        json_object_foreach((json_t *)ets, k, v)
        {
            md_str n = md_str_c(k);
            size_t o2 = push(c, "entityTypes", 11);
            if (check_name(c, n, true, "entity type name"))
                return c->err;
            md_str full = join(c, ns, n);
            if (!full.ptr || set_add(c, c->entities, full))
                return oom(c);
            pop(c, o2);
        }
        if (json_object_size(acts)) {
            md_str full = join(c, ns, MD_STR_LIT("Action"));
            if (!full.ptr || set_add(c, c->entities, full))
                return oom(c);
        }
        pop(c, old);
    }
    return 0;
}

int md_schema_parse_json(md_arena *a, const char *text, size_t len, const md_schema **out,
                         md_diag *d)
{
    if (!a || (!text && len) || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_schema_parse_json: missing argument");
    *out = NULL;
    if (len > MD_CEDAR_MAX_POLICY_TEXT)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0,
                           "schema text is %zu bytes, over the limit of %u bytes", len,
                           (unsigned)MD_CEDAR_MAX_POLICY_TEXT);
    json_t *root = NULL;
    int rc = md_json_parse(text ? text : "", len, &root, d);
    if (rc)
        return rc;
    md_buf out_text;
    md_buf_init(&out_text, MD_CEDAR_MAX_POLICY_TEXT);
    jx c = {.a = a, .d = d, .out = &out_text};
    c.commons = json_object();
    c.entities = json_object();
    c.patches = json_object();
    if (!c.commons || !c.entities || !c.patches) {
        rc = oom(&c);
        goto done;
    }
    if (!json_is_object(root)) {
        rc = fail(&c, MANDATE_ESCHEMA,
                  "a JSON schema should be an object mapping namespace names to their "
                  "declarations, found %s",
                  kind_name(root));
        goto done;
    }
    if ((rc = collect(&c, root)))
        goto done;
    const char *key;
    const json_t *def;
    json_object_foreach(root, key, def)
    {
        size_t old = push(&c, key, strlen(key));
        if ((rc = put_namespace(&c, md_str_c(key), def)))
            goto done;
        pop(&c, old);
    }
    md_diag hd = {0};
    const md_schema *s = NULL;
    rc = md_schema_parse(a, out_text.data ? out_text.data : "", out_text.len, &s, &hd);
    if (rc) {
        /* positions refer to the generated text: keep the message only */
        md_diag_set(d, rc == MANDATE_EPARSE ? MANDATE_ESCHEMA : rc, 0, 0, "JSON schema: %s",
                    hd.msg);
        rc = rc == MANDATE_EPARSE ? MANDATE_ESCHEMA : rc;
        goto done;
    }
    json_object_foreach(c.patches, key, def)
    {
        md_entity_type *et = (md_entity_type *)md_schema_entity_type(s, md_str_c(key));
        const md_type *sh = et && et->shape->kind == MD_T_RECORD && et->shape->u.rec.n == 1
                                ? et->shape->u.rec.attrs[0].type
                                : NULL;
        if (!sh || sh->kind != MD_T_RECORD) {
            c.plen = 0;
            rc = fail(&c, MANDATE_ESCHEMA,
                      "the shape of entity type '%s' must be a record type (or a common type "
                      "that is a record)",
                      key);
            goto done;
        }
        et->shape = sh;
    }
    *out = s;
done:
    md_buf_release(&out_text);
    json_decref(c.commons);
    json_decref(c.entities);
    json_decref(c.patches);
    json_decref(root);
    return rc;
}
