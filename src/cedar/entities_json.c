/*
 * entities_json.c: Cedar's JSON formats for entities, entity uids, values and contexts, with and
 * without a schema (see cedar_int.h, entities.h), following Rust Cedar's EntityJsonParser,
 * ValueParser and EntitySchemaConformanceChecker (cedar-policy-core/src/entities/json: entities.rs,
 * value.rs).
 *
 * Without a schema a JSON value maps to a Cedar value as CedarValueJson does: an object with the
 * single key "__entity" holding {"type","id"} is an entity, one with the single key "__extn"
 * holding {"fn","arg"} or {"fn","args"} is an extension function call, evaluated here; any other
 * object is a record and an array is a set. With a schema the expected type steers the parse: an
 * entity-typed position also takes a bare {"type","id"}, an extension-typed one a bare string
 * (the type's constructor is applied) or a bare {"fn","arg"}, and records are closed. Entities
 * are then checked against their type (declared, enum ids, attributes, tags, parent types), data
 * action entities must equal the schema's, and the schema's action entities are added.
 *
 * Identical duplicate entities are accepted (Rust Cedar 4.x since #1473); differing duplicates and
 * parent cycles are errors.
 *
 * The reader walks the arena JSON tree of core/json.h (md_jv): the server hands it the request's
 * own tree, and entity files are parsed straight into one (md_entities_from_text). The jansson
 * entry points (*_from_json) convert their argument to that tree first, borrowing its strings.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cedar/entities.h"
#include "cedar/ext.h"

#define INTERN_SLOTS 4096u
#define INTERN_MAX_LEN 64u
#define PATH_MAX_LEN 200u

typedef struct jctx {
    md_arena *a;      /* output */
    md_arena *tmp;    /* temporary arrays, reset between entities */
    md_arena *sa;     /* scratch living for the whole call (intern table, caches) */
    bool own_scratch; /* tmp and sa were made for the call (entity files); else they are a */
    const md_schema *s;
    md_diag *d;
    const char *where;      /* "context", "value", ...; NULL: render from the entity fields below */
    size_t ent_idx;         /* position in the entities array */
    const md_euid *ent_uid; /* the entity's uid once parsed, else NULL */
    int ent_part;           /* 0: the entity, 1: its uid, 2: its parents[ent_sub] */
    size_t ent_sub;
    char wbuf[360];
    const char *kind; /* "attribute", "tag" or NULL */
    char path[PATH_MAX_LEN];
    size_t plen;
    int depth;
    md_str *intern;    /* INTERN_SLOTS strings, or NULL */
    uint8_t **allowed; /* per entity type: bitmap of allowed ancestor types, built lazily */
    /* Records made lately, by a hash of their keys: a new record with the same keys shares their
     * keys and signatures (entities of one type usually have the same attributes). */
    const md_record *shapes[64];
} jctx;

/* ---- messages ---- */

static const char *uid_text(const md_euid *u, char *buf, size_t n);

/* The subject of messages, rendered only when a message is written. */
static const char *where_text(jctx *c)
{
    if (c->where)
        return c->where;
    char ubuf[240];
    if (!c->ent_uid)
        snprintf(c->wbuf, sizeof c->wbuf, "entities[%zu]%s", c->ent_idx,
                 c->ent_part == 1 ? ": uid" : "");
    else if (c->ent_part == 2)
        snprintf(c->wbuf, sizeof c->wbuf, "entity '%s': parents[%zu]",
                 uid_text(c->ent_uid, ubuf, sizeof ubuf), c->ent_sub);
    else
        snprintf(c->wbuf, sizeof c->wbuf, "entity '%s'", uid_text(c->ent_uid, ubuf, sizeof ubuf));
    return c->wbuf;
}

MD_PRINTF(3, 4)
static int fail(jctx *c, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->kind && c->plen)
        return md_diag_set(c->d, code, 0, 0, "%s: %s '%s' %s", where_text(c), c->kind, c->path,
                           msg);
    return md_diag_set(c->d, code, 0, 0, "%s %s", where_text(c), msg);
}

static size_t path_push(jctx *c, const char *key, size_t len)
{
    size_t old = c->plen;
    size_t room = sizeof c->path - 1 - c->plen;
    if (c->plen && room) {
        c->path[c->plen++] = '.';
        room--;
    }
    if (len > room)
        len = room;
    for (size_t i = 0; i < len; i++)
        c->path[c->plen++] = key[i] ? key[i] : '?';
    c->path[c->plen] = '\0';
    return old;
}

static void path_pop(jctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* ---- the JSON tree (core/json.h's md_jv) ---- */

static inline bool jv_is(const md_jv *j, md_jv_kind k)
{
    return j && j->kind == k;
}
static inline bool jv_is_object(const md_jv *j)
{
    return jv_is(j, MD_JV_OBJECT);
}
static inline bool jv_is_array(const md_jv *j)
{
    return jv_is(j, MD_JV_ARRAY);
}
static inline bool jv_is_string(const md_jv *j)
{
    return jv_is(j, MD_JV_STRING);
}
/* Members of an object or an array; 0 for anything else. */
static inline size_t jv_size(const md_jv *j)
{
    return jv_is_object(j) || jv_is_array(j) ? j->n : 0;
}
static inline const md_jv *jv_at(const md_jv *j, size_t i)
{
    return &j->u.c.items[i];
}
static inline md_str jv_s(const md_jv *j)
{
    return j->u.s.len ? j->u.s : (md_str){"", 0};
}
/* Key i of an object. */
static inline md_str jv_key(const md_jv *obj, size_t i)
{
    md_str k = obj->u.c.keys[i];
    return k.len ? k : (md_str){"", 0};
}
static const char *json_kind(const md_jv *j)
{
    switch (j->kind) {
    case MD_JV_OBJECT: return "an object";
    case MD_JV_ARRAY: return "an array";
    case MD_JV_STRING: return "a string";
    case MD_JV_INTEGER: return "an integer";
    case MD_JV_REAL: return "a non-integer number";
    case MD_JV_TRUE:
    case MD_JV_FALSE: return "a boolean";
    case MD_JV_NULL: return "null";
    }
    return "an unknown JSON value";
}

/* Prints a uid into buf (truncated), for messages. */
static const char *uid_text(const md_euid *u, char *buf, size_t n)
{
    md_buf b;
    md_buf_init(&b, 4096);
    if (md_euid_print(&b, u) == 0 && b.data)
        snprintf(buf, n, "%s", b.data);
    else
        snprintf(buf, n, "%.*s::<id>", (int)(u->type.len > 100 ? 100 : u->type.len), u->type.ptr);
    md_buf_release(&b);
    return buf;
}

/* ---- names ---- */

static bool reserved_ident(const char *p, size_t n)
{
    static const char *const words[] = {"true", "false", "if",   "then", "else",
                                        "in",   "is",    "like", "has",  "__cedar"};
    for (size_t i = 0; i < MD_ARRAY_LEN(words); i++)
        if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
            return true;
    return false;
}

bool md_cedar_name_valid(md_str s)
{
    size_t i = 0;
    if (s.len == 0)
        return false;
    for (;;) {
        size_t start = i;
        if (i >= s.len)
            return false;
        char ch = s.ptr[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return false;
        i++;
        while (i < s.len) {
            ch = s.ptr[i];
            if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9')))
                break;
            i++;
        }
        if (reserved_ident(s.ptr + start, i - start))
            return false;
        if (i == s.len)
            return true;
        if (i + 2 < s.len && s.ptr[i] == ':' && s.ptr[i + 1] == ':') {
            i += 2;
            continue;
        }
        return false;
    }
}

bool md_euid_is_action(const md_euid *uid)
{
    md_str t = uid->type;
    static const char act[] = "Action";
    size_t n = sizeof act - 1;
    if (t.len < n || memcmp(t.ptr + t.len - n, act, n) != 0)
        return false;
    return t.len == n ||
           (t.len >= n + 2 && t.ptr[t.len - n - 1] == ':' && t.ptr[t.len - n - 2] == ':');
}

/* ---- strings ---- */

/* Copies a string into the output arena; short strings seen before are shared. */
static int copy_str(jctx *c, const char *p, size_t n, md_str *out)
{
    if (c->intern && n <= INTERN_MAX_LEN) {
        uint64_t h = md_hash_bytes(p, n, 0x9e3779b9u);
        for (size_t k = 0; k < 8; k++) {
            md_str *slot = &c->intern[(h + k) & (INTERN_SLOTS - 1)];
            if (!slot->ptr) {
                *slot = md_arena_str(c->a, (md_str){p, n});
                if (!slot->ptr)
                    return fail(c, MANDATE_ENOMEM, "out of memory");
                *out = *slot;
                return 0;
            }
            if (md_str_eq(*slot, (md_str){p, n})) {
                *out = *slot;
                return 0;
            }
        }
    }
    *out = md_arena_str(c->a, (md_str){p, n});
    if (!out->ptr)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    return 0;
}

static int json_str(jctx *c, const md_jv *j, md_str *out)
{
    md_str s = jv_s(j);
    return copy_str(c, s.ptr, s.len, out);
}

/* ---- entity uids ---- */

static const md_jv *type_and_id(const md_jv *j)
{
    if (!jv_is_object(j))
        return NULL;
    if (!jv_is_string(md_jv_get(j, "type")) || !jv_is_string(md_jv_get(j, "id")))
        return NULL;
    return j;
}

static int uid_from_type_and_id(jctx *c, const md_jv *t, md_euid *out)
{
    const md_jv *ty = md_jv_get(t, "type");
    md_str name = jv_s(ty);
    if (!md_cedar_name_valid(name))
        return fail(c, MANDATE_EPARSE, "has an invalid entity type name '%.*s'",
                    (int)(name.len > 100 ? 100 : name.len), name.ptr);
    int rc = json_str(c, ty, &out->type);
    return rc ? rc : json_str(c, md_jv_get(t, "id"), &out->id);
}

/* An entity uid as EntityUidJson: {"__entity": {"type","id"}} or {"type","id"}. */
static int parse_uid(jctx *c, const md_jv *j, md_euid *out)
{
    if (!jv_is_object(j))
        return fail(c, MANDATE_EPARSE,
                    "should be an entity uid {\"type\": ..., \"id\": ...}, found %s", json_kind(j));
    if (jv_is_string(md_jv_get(j, "__expr")))
        return fail(c, MANDATE_EPARSE, "uses an __expr escape, which is not supported");
    const md_jv *t = type_and_id(md_jv_get(j, "__entity"));
    if (!t)
        t = type_and_id(j);
    if (!t)
        return fail(c, MANDATE_EPARSE,
                    "should be an entity uid {\"type\": ..., \"id\": ...} with string type and id");
    return uid_from_type_and_id(c, t, out);
}

/* ---- extension calls ---- */

static const md_type T_STRING = {.kind = MD_T_STRING};
static const md_type T_DECIMAL = {.kind = MD_T_DECIMAL};
static const md_type T_IP = {.kind = MD_T_IP};
static const md_type T_DATETIME = {.kind = MD_T_DATETIME};
static const md_type T_DURATION = {.kind = MD_T_DURATION};

/* The declared argument types of an extension function (receiver first). */
static const md_type *ext_arg_type(md_extfn f, size_t i)
{
    switch (f) {
    case MD_FN_DECIMAL:
    case MD_FN_IP:
    case MD_FN_DATETIME:
    case MD_FN_DURATION: return &T_STRING;
    case MD_FN_LESS_THAN:
    case MD_FN_LESS_THAN_OR_EQUAL:
    case MD_FN_GREATER_THAN:
    case MD_FN_GREATER_THAN_OR_EQUAL: return &T_DECIMAL;
    case MD_FN_IS_IPV4:
    case MD_FN_IS_IPV6:
    case MD_FN_IS_LOOPBACK:
    case MD_FN_IS_MULTICAST:
    case MD_FN_IS_IN_RANGE: return &T_IP;
    case MD_FN_OFFSET: return i == 0 ? &T_DATETIME : &T_DURATION;
    case MD_FN_DURATION_SINCE:
    case MD_FN_TO_DATE:
    case MD_FN_TO_TIME: return &T_DATETIME;
    case MD_FN_TO_DAYS:
    case MD_FN_TO_HOURS:
    case MD_FN_TO_MINUTES:
    case MD_FN_TO_SECONDS:
    case MD_FN_TO_MILLISECONDS: return &T_DURATION;
    case MD_FN__COUNT: break;
    }
    return NULL;
}

static int parse_plain(jctx *c, const md_jv *j, md_value *out);
static int parse_typed(jctx *c, const md_jv *j, const md_type *t, md_value *out);

/* Recognises FnAndArgs: {"fn": string, "arg": v} or {"fn": string, "args": [..]}. */
static bool fn_and_args(const md_jv *j, const md_jv **fn, const md_jv **arg, const md_jv **args)
{
    if (!jv_is_object(j) || !jv_is_string(md_jv_get(j, "fn")))
        return false;
    *fn = md_jv_get(j, "fn");
    *arg = md_jv_get(j, "arg");
    *args = NULL;
    if (*arg)
        return true;
    *args = md_jv_get(j, "args");
    return jv_is_array(*args);
}

/* Parses the arguments (typed: by the function's argument types) and applies the function. */
static int call_ext(jctx *c, const md_jv *fn, const md_jv *arg, const md_jv *args, bool typed,
                    md_value *out)
{
    md_str name = jv_s(fn);
    int nl = (int)(name.len > 100 ? 100 : name.len);
    if (!md_cedar_name_valid(name))
        return fail(c, MANDATE_EPARSE, "has an invalid extension function name '%.*s'", nl,
                    name.ptr);
    md_extfn f;
    if (!md_extfn_from_name(name, &f))
        return fail(c, MANDATE_EPARSE, "calls '%.*s', which is not an extension function", nl,
                    name.ptr);
    size_t n = arg ? 1 : jv_size(args);
    size_t want = md_extfn_arity(f);
    if (n != want)
        return fail(c, MANDATE_EPARSE, "calls '%.*s' with %zu argument%s; it takes %zu", nl,
                    name.ptr, n, n == 1 ? "" : "s", want);
    md_value argv[4];
    if (n > MD_ARRAY_LEN(argv))
        return fail(c, MANDATE_EINTERNAL, "extension function with too many arguments");
    for (size_t i = 0; i < n; i++) {
        const md_jv *aj = arg ? arg : jv_at(args, i);
        int rc =
            typed ? parse_typed(c, aj, ext_arg_type(f, i), &argv[i]) : parse_plain(c, aj, &argv[i]);
        if (rc)
            return rc;
    }
    md_diag sub = {0};
    int rc = md_extfn_apply(c->a, f, argv, n, out, &sub);
    if (rc)
        return fail(c, rc == MANDATE_ENOMEM ? rc : MANDATE_EPARSE, "is not a valid value: %s",
                    sub.msg[0] ? sub.msg : mandate_strerror(rc));
    return 0;
}

/* ---- values ---- */

static int enter(jctx *c)
{
    if (c->depth >= MD_CEDAR_MAX_DEPTH)
        return fail(c, MANDATE_ETOOBIG, "nests deeper than %d levels", MD_CEDAR_MAX_DEPTH);
    c->depth++;
    return 0;
}

static int parse_array_as_set(jctx *c, const md_jv *j, const md_type *elem, bool typed,
                              md_value *out)
{
    size_t n = jv_size(j);
    md_value *items = md_arena_array(c->tmp, n ? n : 1, sizeof *items);
    if (!items)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const md_jv *e = jv_at(j, i);
        int rc = typed ? parse_typed(c, e, elem, &items[i]) : parse_plain(c, e, &items[i]);
        if (rc)
            return rc;
    }
    out->kind = MD_V_SET;
    if (md_set_new(c->a, items, n, &out->u.set))
        return fail(c, MANDATE_ENOMEM, "out of memory");
    return 0;
}

static int make_record(jctx *c, md_field *fields, size_t n, md_value *out)
{
    md_str dup = {0};
    out->kind = MD_V_RECORD;
    uint32_t h = (uint32_t)n * 0x9e3779b1u; /* the same whatever the keys' order */
    for (size_t i = 0; i < n; i++)
        h += md_key_sig(fields[i].key) * 0x85ebca6bu;
    const md_record **shape = &c->shapes[(h ^ h >> 16) % MD_ARRAY_LEN(c->shapes)];
    int rc = md_record_new_like(c->a, fields, n, *shape, &out->u.rec, &dup);
    if (!rc && n)
        *shape = out->u.rec;
    if (rc == MANDATE_EEXIST)
        return fail(c, MANDATE_EPARSE, "has the key '%.*s' twice",
                    (int)(dup.len > 100 ? 100 : dup.len), dup.ptr);
    if (rc)
        return fail(c, rc, "cannot be built: %s", mandate_strerror(rc));
    return 0;
}

static int parse_plain_inner(jctx *c, const md_jv *j, md_value *out)
{
    switch (j->kind) {
    case MD_JV_TRUE:
    case MD_JV_FALSE:
        out->kind = MD_V_BOOL;
        out->u.b = j->kind == MD_JV_TRUE;
        return 0;
    case MD_JV_INTEGER:
        out->kind = MD_V_LONG;
        out->u.i = j->u.i;
        return 0;
    case MD_JV_REAL:
        return fail(c, MANDATE_EPARSE,
                    "is %g, which is not an integer (Cedar Longs are 64-bit "
                    "integers)",
                    j->u.r);
    case MD_JV_STRING: out->kind = MD_V_STRING; return json_str(c, j, &out->u.s);
    case MD_JV_NULL: return fail(c, MANDATE_EPARSE, "is null, which is not a Cedar value");
    case MD_JV_ARRAY: return parse_array_as_set(c, j, NULL, false, out);
    case MD_JV_OBJECT: break;
    }
    if (jv_size(j) == 1) {
        const md_jv *v;
        if ((v = md_jv_get(j, "__extn")) != NULL) {
            const md_jv *fn, *arg, *args;
            if (jv_size(v) >= 2 && fn_and_args(v, &fn, &arg, &args))
                return call_ext(c, fn, arg, args, false, out);
        } else if ((v = md_jv_get(j, "__expr")) != NULL) {
            if (jv_is_string(v))
                return fail(c, MANDATE_EPARSE, "uses an __expr escape, which is not supported");
        } else if ((v = md_jv_get(j, "__entity")) != NULL) {
            if (jv_size(v) >= 2 && type_and_id(v)) {
                out->kind = MD_V_ENTITY;
                return uid_from_type_and_id(c, v, &out->u.uid);
            }
        }
    }
    size_t n = jv_size(j), i = 0;
    md_field *fields = md_arena_array(c->tmp, n ? n : 1, sizeof *fields);
    if (!fields)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    for (size_t m = 0; m < n; m++) {
        const char *key = jv_key(j, m).ptr;
        size_t klen = jv_key(j, m).len;
        const md_jv *v = jv_at(j, m);
        int rc = copy_str(c, key, klen, &fields[i].key);
        if (rc)
            return rc;
        size_t old = path_push(c, key, klen);
        rc = parse_plain(c, v, &fields[i].val);
        path_pop(c, old);
        if (rc)
            return rc;
        i++;
    }
    return make_record(c, fields, i, out);
}

static int parse_plain(jctx *c, const md_jv *j, md_value *out)
{
    int rc = enter(c);
    if (rc)
        return rc;
    rc = parse_plain_inner(c, j, out);
    c->depth--;
    return rc;
}

static const md_attr_type *rec_attr(const md_rec_type *r, const char *key, size_t klen)
{
    size_t lo = 0, hi = r->n;
    md_str k = {key, klen};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = md_str_cmp(r->attrs[mid].name, k);
        if (cmp == 0)
            return &r->attrs[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int typecheck_here(jctx *c, const md_value *v, const md_type *t);

/* The members of obj by the attribute of rt they name (rt->n slots, NULL when absent); *undeclared
 * gets the first member's key (in text order) rt does not declare, or keeps a NULL ptr. */
static int members_by_attr(jctx *c, const md_jv *obj, const md_rec_type *rt, const md_jv ***out,
                           md_str *undeclared)
{
    const md_jv **by = md_arena_array(c->tmp, rt->n ? rt->n : 1, sizeof *by);
    if (!by)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    memset(by, 0, (rt->n ? rt->n : 1) * sizeof *by);
    for (size_t m = 0; m < obj->n; m++) {
        md_str k = jv_key(obj, m);
        const md_attr_type *at = rec_attr(rt, k.ptr, k.len);
        if (at)
            by[at - rt->attrs] = jv_at(obj, m);
        else if (!undeclared->ptr)
            *undeclared = k; /* never a NULL ptr (jv_key) */
    }
    *out = by;
    return 0;
}

static int parse_typed_record(jctx *c, const md_jv *j, const md_rec_type *rt, md_value *out)
{
    size_t n = rt->n, m = 0;
    md_field *fields = md_arena_array(c->tmp, n ? n : 1, sizeof *fields);
    if (!fields)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    const md_jv **by;
    md_str undeclared = {0};
    int rc = members_by_attr(c, j, rt, &by, &undeclared);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const md_attr_type *at = &rt->attrs[i];
        const md_jv *v = by[i];
        if (!v) {
            if (at->required)
                return fail(c, MANDATE_ESCHEMA, "is missing the required attribute '%.*s'",
                            (int)(at->name.len > 100 ? 100 : at->name.len), at->name.ptr);
            continue;
        }
        fields[m].key = at->name;
        size_t old = path_push(c, at->name.ptr, at->name.len);
        rc = parse_typed(c, v, at->type, &fields[m].val);
        path_pop(c, old);
        if (rc)
            return rc;
        m++;
    }
    if (undeclared.ptr)
        return fail(c, MANDATE_ESCHEMA,
                    "has the attribute '%.*s', which the schema does not "
                    "declare",
                    (int)(undeclared.len > 100 ? 100 : undeclared.len), undeclared.ptr);
    return make_record(c, fields, m, out);
}

static int parse_typed_ext(jctx *c, const md_jv *j, const md_type *t, md_value *out)
{
    const md_jv *fn, *arg, *args;
    if (jv_is_object(j)) {
        if (jv_is_string(md_jv_get(j, "__expr")))
            return fail(c, MANDATE_EPARSE, "uses an __expr escape, which is not supported");
        if (fn_and_args(md_jv_get(j, "__extn"), &fn, &arg, &args))
            return call_ext(c, fn, arg, args, true, out);
        if (fn_and_args(j, &fn, &arg, &args))
            return call_ext(c, fn, arg, args, true, out);
    }
    /* An implicit constructor call: decimal, ip, datetime or duration of the value. */
    md_extfn f = t->kind == MD_T_DECIMAL    ? MD_FN_DECIMAL
                 : t->kind == MD_T_IP       ? MD_FN_IP
                 : t->kind == MD_T_DATETIME ? MD_FN_DATETIME
                                            : MD_FN_DURATION;
    md_value argv;
    int rc = parse_plain(c, j, &argv);
    if (rc)
        return rc;
    if (argv.kind != MD_V_STRING) {
        rc = typecheck_here(c, &argv, t);
        if (!rc)
            *out = argv;
        return rc;
    }
    md_diag sub = {0};
    rc = md_extfn_apply(c->a, f, &argv, 1, out, &sub);
    if (rc)
        return fail(c, rc == MANDATE_ENOMEM ? rc : MANDATE_EPARSE, "is not a valid %s: %s",
                    md_extfn_name(f), sub.msg[0] ? sub.msg : mandate_strerror(rc));
    return 0;
}

static int parse_typed_inner(jctx *c, const md_jv *j, const md_type *t, md_value *out)
{
    switch (t->kind) {
    case MD_T_ENTITY: out->kind = MD_V_ENTITY; return parse_uid(c, j, &out->u.uid);
    case MD_T_DECIMAL:
    case MD_T_IP:
    case MD_T_DATETIME:
    case MD_T_DURATION: return parse_typed_ext(c, j, t, out);
    case MD_T_SET:
        if (jv_is_array(j))
            return parse_array_as_set(c, j, t->u.elem, true, out);
        break;
    case MD_T_RECORD:
        if (jv_is_object(j))
            return parse_typed_record(c, j, &t->u.rec, out);
        break;
    case MD_T_BOOL:
    case MD_T_LONG:
    case MD_T_STRING: return parse_plain(c, j, out);
    }
    /* A set or record type and JSON of another shape: report the mismatch. */
    md_value v;
    int rc = parse_plain(c, j, &v);
    return rc ? rc : typecheck_here(c, &v, t);
}

static int parse_typed(jctx *c, const md_jv *j, const md_type *t, md_value *out)
{
    if (!t)
        return parse_plain(c, j, out);
    int rc = enter(c);
    if (rc)
        return rc;
    rc = parse_typed_inner(c, j, t, out);
    c->depth--;
    return rc;
}

/* ---- types and type checks ---- */

static const char *tkind_name(md_tkind k)
{
    switch (k) {
    case MD_T_BOOL: return "Bool";
    case MD_T_LONG: return "Long";
    case MD_T_STRING: return "String";
    case MD_T_ENTITY: return "entity";
    case MD_T_SET: return "Set";
    case MD_T_RECORD: return "record";
    case MD_T_DECIMAL: return "decimal";
    case MD_T_IP: return "ipaddr";
    case MD_T_DATETIME: return "datetime";
    case MD_T_DURATION: return "duration";
    }
    return "?";
}

static int type_print_depth(md_buf *b, const md_type *t, int depth)
{
    if (depth > 8)
        return md_buf_puts(b, "...");
    int rc = 0;
    switch (t->kind) {
    case MD_T_ENTITY: return md_buf_append(b, t->u.name.ptr, t->u.name.len);
    case MD_T_SET:
        rc = md_buf_puts(b, "Set<");
        if (!rc)
            rc = type_print_depth(b, t->u.elem, depth + 1);
        return rc ? rc : md_buf_puts(b, ">");
    case MD_T_RECORD:
        rc = md_buf_puts(b, "{");
        for (size_t i = 0; i < t->u.rec.n && !rc; i++) {
            const md_attr_type *at = &t->u.rec.attrs[i];
            rc = md_buf_printf(b, "%s%.*s%s: ", i ? ", " : "", (int)at->name.len, at->name.ptr,
                               at->required ? "" : "?");
            if (!rc)
                rc = type_print_depth(b, at->type, depth + 1);
        }
        return rc ? rc : md_buf_puts(b, "}");
    default: return md_buf_puts(b, tkind_name(t->kind));
    }
}

int md_type_print(md_buf *b, const md_type *t)
{
    return type_print_depth(b, t, 0);
}

typedef struct tcx {
    const char *what;
    jctx *jc;         /* when set, what is rendered from the parser's position on failure */
    const char *kind; /* what a path names: "attribute" or "tag" */
    md_diag *d;
    char path[PATH_MAX_LEN];
    size_t plen;
} tcx;

static const char *tc_what(tcx *x)
{
    if (x->jc)
        x->what = where_text(x->jc);
    return x->what;
}

static int tc_fail(tcx *x, const md_type *t, const md_value *v, const char *fmt, ...)
    MD_PRINTF(4, 5);

static int tc_fail(tcx *x, const md_type *t, const md_value *v, const char *fmt, ...)
{
    char detail[200] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    char tbuf[160] = "", vbuf[160] = "";
    md_buf b;
    md_buf_init(&b, 150);
    if (md_type_print(&b, t) == 0 && b.data)
        snprintf(tbuf, sizeof tbuf, "%s", b.data);
    else
        snprintf(tbuf, sizeof tbuf, "%s", tkind_name(t->kind));
    md_buf_release(&b);
    if (v->kind == MD_V_ENTITY) {
        char ubuf[140];
        snprintf(vbuf, sizeof vbuf, "entity '%s'", uid_text(&v->u.uid, ubuf, sizeof ubuf));
    } else {
        const char *k = md_vkind_name(v->kind);
        snprintf(vbuf, sizeof vbuf, "%s %s", strchr("aeiou", k[0]) ? "an" : "a", k);
    }
    tc_what(x);
    const char *art = t->kind == MD_T_ENTITY          ? "an entity of type"
                      : strchr("aeiouAEIOU", tbuf[0]) ? "an"
                                                      : "a";
    if (x->plen)
        return md_diag_set(x->d, MANDATE_ESCHEMA, 0, 0, "%s: %s '%s' should be %s %s, %s%s",
                           x->what, x->kind ? x->kind : "attribute", x->path, art, tbuf,
                           detail[0] ? detail : "found ", detail[0] ? "" : vbuf);
    return md_diag_set(x->d, MANDATE_ESCHEMA, 0, 0, "%s should be %s %s, %s%s", x->what, art, tbuf,
                       detail[0] ? detail : "found ", detail[0] ? "" : vbuf);
}

static int tc(tcx *x, const md_value *v, const md_type *t, int depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH)
        return md_diag_set(x->d, MANDATE_ETOOBIG, 0, 0, "%s nests deeper than %d levels",
                           tc_what(x), MD_CEDAR_MAX_DEPTH);
    switch (t->kind) {
    case MD_T_BOOL: return v->kind == MD_V_BOOL ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_LONG: return v->kind == MD_V_LONG ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_STRING: return v->kind == MD_V_STRING ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_DECIMAL: return v->kind == MD_V_DECIMAL ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_IP: return v->kind == MD_V_IP ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_DATETIME: return v->kind == MD_V_DATETIME ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_DURATION: return v->kind == MD_V_DURATION ? 0 : tc_fail(x, t, v, NULL);
    case MD_T_ENTITY:
        return v->kind == MD_V_ENTITY && md_str_eq(v->u.uid.type, t->u.name)
                   ? 0
                   : tc_fail(x, t, v, NULL);
    case MD_T_SET:
        if (v->kind != MD_V_SET)
            return tc_fail(x, t, v, NULL);
        for (size_t i = 0; i < v->u.set->n; i++) {
            int rc = tc(x, &v->u.set->items[i], t->u.elem, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    case MD_T_RECORD: {
        if (v->kind != MD_V_RECORD)
            return tc_fail(x, t, v, NULL);
        const md_rec_type *rt = &t->u.rec;
        const md_record *r = v->u.rec;
        for (size_t i = 0; i < rt->n; i++)
            if (rt->attrs[i].required && !md_record_get(r, rt->attrs[i].name, NULL))
                return tc_fail(x, t, v, "but the required attribute '%.*s' is missing",
                               (int)(rt->attrs[i].name.len > 80 ? 80 : rt->attrs[i].name.len),
                               rt->attrs[i].name.ptr);
        for (size_t i = 0; i < r->n; i++) {
            md_field field = md_record_at(r, i);
            const md_field *f = &field;
            const md_attr_type *at = rec_attr(rt, f->key.ptr, f->key.len);
            if (!at)
                return tc_fail(x, t, v, "but it has the undeclared attribute '%.*s'",
                               (int)(f->key.len > 80 ? 80 : f->key.len), f->key.ptr);
            size_t old = x->plen;
            size_t room = sizeof x->path - 1 - x->plen;
            if (x->plen && room) {
                x->path[x->plen++] = '.';
                room--;
            }
            size_t kl = f->key.len < room ? f->key.len : room;
            for (size_t k = 0; k < kl; k++)
                x->path[x->plen++] = f->key.ptr[k] ? f->key.ptr[k] : '?';
            x->path[x->plen] = '\0';
            int rc = tc(x, &f->val, at->type, depth + 1);
            x->plen = old;
            x->path[old] = '\0';
            if (rc)
                return rc;
        }
        return 0;
    }
    }
    return md_diag_set(x->d, MANDATE_EINTERNAL, 0, 0, "%s: unknown schema type", tc_what(x));
}

/* True when tc would accept v: the same rules, without the paths and messages (records are
 * walked beside their type, both sorted by key). */
static bool tc_ok(const md_value *v, const md_type *t, int depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH)
        return false;
    switch (t->kind) {
    case MD_T_BOOL: return v->kind == MD_V_BOOL;
    case MD_T_LONG: return v->kind == MD_V_LONG;
    case MD_T_STRING: return v->kind == MD_V_STRING;
    case MD_T_DECIMAL: return v->kind == MD_V_DECIMAL;
    case MD_T_IP: return v->kind == MD_V_IP;
    case MD_T_DATETIME: return v->kind == MD_V_DATETIME;
    case MD_T_DURATION: return v->kind == MD_V_DURATION;
    case MD_T_ENTITY: return v->kind == MD_V_ENTITY && md_str_eq(v->u.uid.type, t->u.name);
    case MD_T_SET:
        if (v->kind != MD_V_SET)
            return false;
        for (size_t i = 0; i < v->u.set->n; i++)
            if (!tc_ok(&v->u.set->items[i], t->u.elem, depth + 1))
                return false;
        return true;
    case MD_T_RECORD: {
        if (v->kind != MD_V_RECORD)
            return false;
        const md_rec_type *rt = &t->u.rec;
        const md_record *r = v->u.rec;
        size_t i = 0, j = 0;
        while (i < rt->n || j < r->n) {
            int c = i == rt->n ? 1 : j == r->n ? -1 : md_str_cmp(rt->attrs[i].name, r->keys[j]);
            if (c > 0)
                return false; /* an undeclared attribute */
            if (c < 0 && rt->attrs[i].required)
                return false;
            if (c == 0) {
                md_field f = md_record_at(r, j++);
                if (!tc_ok(&f.val, rt->attrs[i].type, depth + 1))
                    return false;
            }
            i++;
        }
        return true;
    }
    }
    return false;
}

int md_value_typecheck(const md_value *v, const md_type *t, const char *what, md_diag *d)
{
    if (tc_ok(v, t, 0))
        return 0;
    tcx x = {.what = what ? what : "value", .d = d};
    return tc(&x, v, t, 0);
}

/* Type check at the parser's current position (its path continues the parser's). */
static int typecheck_here(jctx *c, const md_value *v, const md_type *t)
{
    tcx x = {.jc = c, .kind = c->kind, .d = c->d};
    if (c->kind && c->plen) {
        memcpy(x.path, c->path, c->plen + 1);
        x.plen = c->plen;
    }
    return tc(&x, v, t, 0);
}

/* True when uid fails the enum/action checks (the fast path; messages come after). */
static bool euid_bad(const md_schema *s, const md_euid *uid)
{
    if (md_euid_is_action(uid))
        return !md_schema_action(s, uid);
    const md_entity_type *et = md_schema_entity_type(s, uid->type);
    if (!et || !et->is_enum)
        return false;
    for (size_t i = 0; i < et->n_enum; i++)
        if (md_str_eq(et->enum_ids[i], uid->id))
            return false;
    return true;
}

static const md_euid *first_bad_euid(const md_schema *s, const md_value *v, int depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH)
        return NULL;
    switch (v->kind) {
    case MD_V_ENTITY: return euid_bad(s, &v->u.uid) ? &v->u.uid : NULL;
    case MD_V_SET:
        for (size_t i = 0; i < v->u.set->n; i++) {
            const md_euid *b = first_bad_euid(s, &v->u.set->items[i], depth + 1);
            if (b)
                return b;
        }
        return NULL;
    case MD_V_RECORD:
        for (size_t i = 0; i < v->u.rec->n; i++) {
            /* An entity's uid is returned from where the record points (a value loaded from the
             * record is a local copy). */
            const md_rval *rv = &v->u.rec->vals[i];
            md_field f = md_record_at(v->u.rec, i);
            const md_euid *b = rv->kind == MD_V_ENTITY ? (euid_bad(s, rv->u.uid) ? rv->u.uid : NULL)
                                                       : first_bad_euid(s, &f.val, depth + 1);
            if (b)
                return b;
        }
        return NULL;
    default: return NULL;
    }
}

int md_euid_check_schema(const md_schema *s, const md_euid *uid, const char *what, md_diag *d)
{
    char ubuf[160];
    const md_entity_type *et = md_schema_entity_type(s, uid->type);
    if (et && et->is_enum) {
        bool ok = false;
        for (size_t i = 0; i < et->n_enum && !ok; i++)
            ok = md_str_eq(et->enum_ids[i], uid->id);
        if (!ok)
            return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                               "%s: entity '%s' is not one of the declared values of the "
                               "enumerated entity type '%.*s'",
                               what, uid_text(uid, ubuf, sizeof ubuf),
                               (int)(uid->type.len > 100 ? 100 : uid->type.len), uid->type.ptr);
    }
    if (md_euid_is_action(uid) && !md_schema_action(s, uid))
        return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                           "%s: action '%s' is not declared in the schema", what,
                           uid_text(uid, ubuf, sizeof ubuf));
    return 0;
}

static int check_euids(const md_schema *s, const md_value *v, const char *what, md_diag *d,
                       int depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "%s nests deeper than %d levels", what,
                           MD_CEDAR_MAX_DEPTH);
    switch (v->kind) {
    case MD_V_ENTITY: return md_euid_check_schema(s, &v->u.uid, what, d);
    case MD_V_SET:
        for (size_t i = 0; i < v->u.set->n; i++) {
            int rc = check_euids(s, &v->u.set->items[i], what, d, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    case MD_V_RECORD:
        for (size_t i = 0; i < v->u.rec->n; i++) {
            md_field f = md_record_at(v->u.rec, i);
            int rc = check_euids(s, &f.val, what, d, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    default: return 0;
    }
}

int md_value_check_euids(const md_schema *s, const md_value *v, const char *what, md_diag *d)
{
    return check_euids(s, v, what ? what : "value", d, 0);
}

/* ---- entities ---- */

/* Is ptype an allowed ancestor type of entity type et (transitively through memberOf)? */
static int allowed_parent(jctx *c, const md_entity_type *et, md_str ptype, bool *ok)
{
    const md_schema *s = c->s;
    size_t n = s->n_entity_types;
    const md_entity_type *pt = md_schema_entity_type(s, ptype);
    *ok = false;
    if (!pt)
        return 0;
    size_t ei = (size_t)(et - s->entity_types), pi = (size_t)(pt - s->entity_types);
    if (ei >= n || pi >= n)
        return 0;
    if (!c->allowed) {
        c->allowed = md_arena_array(c->sa, n, sizeof *c->allowed);
        if (!c->allowed)
            return fail(c, MANDATE_ENOMEM, "out of memory");
    }
    if (!c->allowed[ei]) {
        uint8_t *bits = md_arena_alloc(c->sa, (n + 7) / 8);
        size_t *queue = md_arena_array(c->tmp, n, sizeof *queue);
        if (!bits || !queue)
            return fail(c, MANDATE_ENOMEM, "out of memory");
        size_t qh = 0, qt = 0;
        queue[qt++] = ei;
        while (qh < qt) {
            const md_entity_type *cur = &s->entity_types[queue[qh++]];
            for (size_t k = 0; k < cur->n_member_of; k++) {
                const md_entity_type *m = md_schema_entity_type(s, cur->member_of[k]);
                if (!m)
                    continue;
                size_t mi = (size_t)(m - s->entity_types);
                if (mi < n && !(bits[mi / 8] & (1u << (mi % 8)))) {
                    bits[mi / 8] |= (uint8_t)(1u << (mi % 8));
                    queue[qt++] = mi;
                }
            }
        }
        c->allowed[ei] = bits;
    }
    *ok = (c->allowed[ei][pi / 8] >> (pi % 8)) & 1u;
    return 0;
}

static int parse_fields(jctx *c, const md_jv *obj, const char *kind, const md_entity_type *et,
                        const md_record **out)
{
    size_t n = jv_size(obj), i = 0;
    md_field *fields = md_arena_array(c->tmp, n ? n : 1, sizeof *fields);
    if (!fields)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    bool is_tag = kind[0] == 't';
    if (et && is_tag && n && !et->tags)
        return fail(c, MANDATE_ESCHEMA, "has tags, but entity type '%.*s' declares none",
                    (int)(et->name.len > 100 ? 100 : et->name.len), et->name.ptr);
    /* The declared attributes seen, for the check of required ones after the loop. */
    const md_rec_type *shape = et && !is_tag ? &et->shape->u.rec : NULL;
    bool *seen = shape ? md_arena_array(c->tmp, shape->n + 1, sizeof *seen) : NULL;
    if (shape && !seen)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    if (seen)
        memset(seen, 0, (shape->n + 1) * sizeof *seen);
    c->kind = kind;
    for (size_t m = 0; m < n; m++) {
        const char *key = jv_key(obj, m).ptr;
        size_t klen = jv_key(obj, m).len;
        const md_jv *v = jv_at(obj, m);
        const md_type *t = NULL;
        if (et && is_tag)
            t = et->tags;
        if (shape) {
            const md_attr_type *at = rec_attr(shape, key, klen);
            if (!at)
                return fail(c, MANDATE_ESCHEMA,
                            "has the attribute '%.*s', which entity type '%.*s' does not declare",
                            (int)(klen > 100 ? 100 : klen), key,
                            (int)(et->name.len > 100 ? 100 : et->name.len), et->name.ptr);
            t = at->type;
            seen[at - shape->attrs] = true;
        }
        int rc = copy_str(c, key, klen, &fields[i].key);
        if (rc)
            return rc;
        size_t old = path_push(c, key, klen);
        rc = parse_typed(c, v, t, &fields[i].val);
        if (!rc && et)
            rc = typecheck_here(c, &fields[i].val, t);
        const md_euid *bad = !rc && c->s ? first_bad_euid(c->s, &fields[i].val, 0) : NULL;
        if (bad) {
            char what[420];
            snprintf(what, sizeof what, "%s: %s '%s'", where_text(c), kind, c->path);
            rc = md_euid_check_schema(c->s, bad, what, c->d);
        }
        path_pop(c, old);
        if (rc)
            return rc;
        i++;
    }
    c->kind = NULL;
    for (size_t k = 0; shape && k < shape->n; k++)
        if (shape->attrs[k].required && !seen[k])
            return fail(c, MANDATE_ESCHEMA, "is missing the required attribute '%.*s'",
                        (int)(shape->attrs[k].name.len > 100 ? 100 : shape->attrs[k].name.len),
                        shape->attrs[k].name.ptr);
    md_value rv;
    int rc = make_record(c, fields, i, &rv);
    if (!rc)
        *out = rv.u.rec;
    return rc;
}

static int parse_entity(jctx *c, const md_jv *j, size_t idx, md_entity *out)
{
    c->where = NULL;
    c->ent_idx = idx;
    c->ent_uid = NULL;
    c->ent_part = 0;
    c->kind = NULL;
    c->plen = 0;
    c->path[0] = '\0';
    if (!jv_is_object(j))
        return fail(c, MANDATE_EPARSE, "should be an object with uid, attrs and parents, found %s",
                    json_kind(j));
    const md_jv *uid = md_jv_get(j, "uid");
    if (!uid)
        return fail(c, MANDATE_EPARSE, "has no 'uid'");
    c->ent_part = 1;
    int rc = parse_uid(c, uid, &out->uid);
    if (rc)
        return rc;
    c->ent_uid = &out->uid;
    c->ent_part = 0;
    const md_jv *attrs = md_jv_get(j, "attrs");
    const md_jv *parents = md_jv_get(j, "parents");
    const md_jv *tags = md_jv_get(j, "tags");
    if (!jv_is_object(attrs))
        return fail(c, MANDATE_EPARSE, "should have an object 'attrs', found %s",
                    attrs ? json_kind(attrs) : "nothing");
    if (!jv_is_array(parents))
        return fail(c, MANDATE_EPARSE, "should have an array 'parents', found %s",
                    parents ? json_kind(parents) : "nothing");
    if (tags && !jv_is_object(tags))
        return fail(c, MANDATE_EPARSE, "should have an object 'tags', found %s", json_kind(tags));

    bool is_action = md_euid_is_action(&out->uid);
    const md_entity_type *et = NULL;
    if (c->s && !is_action) {
        et = md_schema_entity_type(c->s, out->uid.type);
        if (!et)
            return fail(c, MANDATE_ESCHEMA,
                        "has entity type '%.*s', which the schema does not "
                        "declare",
                        (int)(out->uid.type.len > 100 ? 100 : out->uid.type.len),
                        out->uid.type.ptr);
        if (euid_bad(c->s, &out->uid))
            return md_euid_check_schema(c->s, &out->uid, where_text(c), c->d);
    }
    rc = parse_fields(c, attrs, "attribute", et, &out->attrs);
    if (!rc && tags)
        rc = parse_fields(c, tags, "tag", et, &out->tags);
    if (rc)
        return rc;
    if (!tags)
        out->tags = md_record_empty();

    size_t np = jv_size(parents);
    md_euid *ps = md_arena_array(c->a, np ? np : 1, sizeof *ps);
    if (!ps)
        return fail(c, MANDATE_ENOMEM, "out of memory");
    for (size_t i = 0; i < np; i++) {
        c->ent_part = 2;
        c->ent_sub = i;
        rc = parse_uid(c, jv_at(parents, i), &ps[i]);
        c->ent_part = 0;
        if (rc)
            return rc;
        char pbuf[160];
        if (is_action && !md_euid_is_action(&ps[i]))
            return fail(c, MANDATE_EPARSE, "is an action, but its parent '%s' is not an action",
                        uid_text(&ps[i], pbuf, sizeof pbuf));
        if (et) {
            if (euid_bad(c->s, &ps[i]))
                return md_euid_check_schema(c->s, &ps[i], where_text(c), c->d);
            bool ok = false;
            rc = allowed_parent(c, et, ps[i].type, &ok);
            if (rc)
                return rc;
            if (!ok)
                return fail(c, MANDATE_ESCHEMA,
                            "has the parent '%s', but entity type '%.*s' cannot be a member of "
                            "type '%.*s'",
                            uid_text(&ps[i], pbuf, sizeof pbuf),
                            (int)(et->name.len > 100 ? 100 : et->name.len), et->name.ptr,
                            (int)(ps[i].type.len > 100 ? 100 : ps[i].type.len), ps[i].type.ptr);
        }
    }
    out->parents = np ? ps : NULL;
    out->n_parents = np;
    return 0;
}

static int euid_qcmp(const void *a, const void *b)
{
    return md_euid_cmp(a, b);
}

static bool parents_set_eq(md_arena *tmp, const md_entity *x, const md_entity *y)
{
    size_t nx = x->n_parents, ny = y->n_parents;
    md_euid *a = md_arena_array(tmp, nx + 1, sizeof *a);
    md_euid *b = md_arena_array(tmp, ny + 1, sizeof *b);
    if (!a || !b)
        return false;
    if (nx)
        memcpy(a, x->parents, nx * sizeof *a);
    if (ny)
        memcpy(b, y->parents, ny * sizeof *b);
    qsort(a, nx, sizeof *a, euid_qcmp);
    qsort(b, ny, sizeof *b, euid_qcmp);
    size_t i = 0, k = 0;
    while (i < nx || k < ny) {
        if (i == nx || k == ny || !md_euid_eq(&a[i], &b[k]))
            return false;
        md_euid cur = a[i];
        while (i < nx && md_euid_eq(&a[i], &cur))
            i++;
        while (k < ny && md_euid_eq(&b[k], &cur))
            k++;
    }
    return true;
}

static bool record_eq(const md_record *x, const md_record *y)
{
    md_value a = {.kind = MD_V_RECORD, .u.rec = x}, b = {.kind = MD_V_RECORD, .u.rec = y};
    return md_value_eq(&a, &b);
}

static bool entity_deep_eq(md_arena *tmp, const md_entity *x, const md_entity *y)
{
    return md_euid_eq(&x->uid, &y->uid) && record_eq(x->attrs, y->attrs) &&
           record_eq(x->tags, y->tags) && parents_set_eq(tmp, x, y);
}

/* Adds an entity; an identical duplicate is dropped, a different one is an error. */
static int add_entity(jctx *c, md_entities *es, const md_entity *e)
{
    int rc = md_entities_add(es, e);
    if (rc != MANDATE_EEXIST) {
        if (rc == MANDATE_ETOOBIG)
            return md_diag_set(c->d, rc, 0, 0, "too many entities (at most %u)", MD_ENTITIES_MAX);
        if (rc)
            return md_diag_set(c->d, rc, 0, 0, "cannot add an entity: %s", mandate_strerror(rc));
        return 0;
    }
    if (entity_deep_eq(c->tmp, md_entities_find(es, &e->uid), e))
        return 0;
    char ubuf[200];
    return md_diag_set(c->d, MANDATE_EEXIST, 0, 0,
                       "entity '%s' appears twice with different attributes, tags or parents",
                       uid_text(&e->uid, ubuf, sizeof ubuf));
}

static int check_cycle(jctx *c, const md_entities *es)
{
    md_euid at;
    char ubuf[200];
    if (md_entities_has_cycle(es, &at))
        return md_diag_set(c->d, MANDATE_EPARSE, 0, 0,
                           "the entity hierarchy has a cycle through entity '%s'",
                           uid_text(&at, ubuf, sizeof ubuf));
    return 0;
}

static bool sorted_uids_eq(const md_entity *x, const md_entity *y)
{
    if (x->n_ancestors != y->n_ancestors)
        return false;
    for (size_t i = 0; i < x->n_ancestors; i++)
        if (!md_euid_eq(&x->ancestors[i], &y->ancestors[i]))
            return false;
    return true;
}

/* Data action entities must equal the schema's (Rust validate_action: deep equality, with the
 * ancestor closures compared as sets). */
static int check_data_actions(jctx *c, md_entities *acts)
{
    int rc = md_entities_seal(acts, c->d);
    if (!rc)
        rc = check_cycle(c, acts);
    md_entities *decl = NULL;
    if (!rc)
        rc = md_entities_new(c->sa, &decl);
    if (!rc)
        rc = md_schema_add_action_entities(c->s, decl, c->d);
    if (!rc)
        rc = md_entities_seal(decl, c->d);
    if (rc)
        return rc;
    char ubuf[200];
    for (size_t i = 0; i < md_entities_count(acts); i++) {
        const md_entity *x = md_entities_at(acts, i);
        const md_entity *y = md_entities_find(decl, &x->uid);
        if (!y || !md_schema_action(c->s, &x->uid))
            return md_diag_set(c->d, MANDATE_ESCHEMA, 0, 0,
                               "entity '%s' is an action that the schema does not declare",
                               uid_text(&x->uid, ubuf, sizeof ubuf));
        if (!record_eq(x->attrs, y->attrs) || !record_eq(x->tags, y->tags) || !sorted_uids_eq(x, y))
            return md_diag_set(c->d, MANDATE_ESCHEMA, 0, 0,
                               "action '%s' does not match its declaration in the schema "
                               "(attributes, tags or action groups differ)",
                               uid_text(&x->uid, ubuf, sizeof ubuf));
    }
    return 0;
}

/* entities: an entity file (scratch arenas of its own, reset between entities, and the intern
 * table); otherwise one uid, value or context, whose few temporary arrays go to the output arena
 * (a request's, on the server's path), so the call makes no arena of its own. */
static int ctx_open(jctx *c, md_arena *a, const md_schema *s, md_diag *d, bool entities)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->s = s;
    c->d = d;
    c->where = "value";
    if (!entities) {
        c->tmp = c->sa = a;
        return 0;
    }
    c->own_scratch = true;
    c->tmp = md_arena_new();
    c->sa = md_arena_new();
    if (!c->tmp || !c->sa)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    c->intern = md_arena_array(c->sa, INTERN_SLOTS, sizeof *c->intern);
    if (!c->intern)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    return 0;
}

static void ctx_close(jctx *c)
{
    if (c->own_scratch) {
        md_arena_free(c->tmp);
        md_arena_free(c->sa);
    }
}

int md_entities_from_jv(md_arena *a, const md_jv *arr, const md_schema *schema, md_entities **out,
                        md_diag *d)
{
    if (!a || !arr || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_entities_from_jv: missing argument");
    if (!jv_is_array(arr))
        return md_diag_set(d, MANDATE_EPARSE, 0, 0,
                           "entities JSON should be an array of entities, found %s",
                           json_kind(arr));
    jctx c;
    int rc = ctx_open(&c, a, schema, d, true);
    md_entities *es = NULL, *acts = NULL;
    if (!rc)
        rc = md_entities_new(a, &es);
    if (!rc && schema)
        rc = md_entities_new(c.sa, &acts);
    if (rc == MANDATE_ENOMEM)
        rc = md_diag_set(d, rc, 0, 0, "out of memory");
    size_t n = jv_size(arr);
    for (size_t i = 0; i < n && !rc; i++) {
        md_entity e = {0};
        md_arena_reset(c.tmp);
        rc = parse_entity(&c, jv_at(arr, i), i, &e);
        if (!rc)
            rc = add_entity(&c, schema && md_euid_is_action(&e.uid) ? acts : es, &e);
    }
    if (!rc && schema && md_entities_count(acts))
        rc = check_data_actions(&c, acts);
    if (!rc && schema)
        rc = md_schema_add_action_entities(schema, es, d);
    if (!rc)
        rc = md_entities_seal(es, d);
    if (!rc)
        rc = check_cycle(&c, es);
    ctx_close(&c);
    if (!rc)
        *out = es;
    return rc;
}

int md_euid_from_jv(md_arena *a, const md_jv *j, md_euid *out, md_diag *d)
{
    if (!a || !j || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_euid_from_jv: missing argument");
    jctx c;
    int rc = ctx_open(&c, a, NULL, d, false);
    c.where = "entity uid";
    if (!rc)
        rc = parse_uid(&c, j, out);
    ctx_close(&c);
    return rc;
}

int md_context_from_jv(md_arena *a, const md_jv *j, const md_schema *schema, const md_euid *action,
                       md_value *out, md_diag *d)
{
    if (!a || !out || (schema && !action))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_context_from_jv: missing argument");
    static const md_jv none = {.kind = MD_JV_OBJECT};
    if (!j)
        j = &none; /* no context: an empty record */
    const md_action *act = NULL;
    char ubuf[200];
    if (schema) {
        act = md_schema_action(schema, action);
        if (!act)
            return md_diag_set(d, MANDATE_ESCHEMA, 0, 0,
                               "context: action '%s' is not declared in the schema",
                               uid_text(action, ubuf, sizeof ubuf));
    }
    jctx c;
    int rc = ctx_open(&c, a, schema, d, false);
    c.where = "context";
    c.kind = "attribute";
    if (!rc) {
        /* As Rust's ContextJsonParser: the schema steers the parse; the full type check is
         * request validation's job (md_request_validate). */
        if (act)
            rc = parse_typed(&c, j, act->context, out);
        else
            rc = parse_plain(&c, j, out);
    }
    if (!rc && out->kind != MD_V_RECORD)
        rc = md_diag_set(
            d, MANDATE_EPARSE, 0, 0, "context should be a record (a JSON object), found %s %s",
            strchr("aeiou", md_vkind_name(out->kind)[0]) ? "an" : "a", md_vkind_name(out->kind));
    ctx_close(&c);
    return rc;
}

int md_value_from_jv(md_arena *a, const md_jv *j, const md_type *expected, md_value *out,
                     md_diag *d)
{
    if (!a || !j || !out)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_value_from_jv: missing argument");
    jctx c;
    int rc = ctx_open(&c, a, NULL, d, false);
    c.where = "value";
    c.kind = "attribute";
    if (!rc)
        rc = parse_typed(&c, j, expected, out);
    if (!rc && expected)
        rc = md_value_typecheck(out, expected, "value", d);
    ctx_close(&c);
    return rc;
}

int md_entities_from_text(md_arena *a, const char *text, size_t len, const md_schema *schema,
                          md_entities **out, md_diag *d)
{
    if (!text)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "md_entities_from_text: missing argument");
    md_arena *scratch = md_arena_new();
    if (!scratch)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    md_jv *v = NULL;
    int rc = md_json_parse_arena(scratch, text, len, MD_JSON_MAX_DEPTH, &v, d);
    if (!rc)
        rc = md_entities_from_jv(a, v, schema, out, d);
    md_arena_free(scratch);
    return rc;
}

/* ---- the same from jansson values: converted to md_jv first (borrowing their strings) ---- */

/* Converts j into a scratch arena (*scratch, freed by the caller); 0 or an error in d. */
static int from_json(const json_t *j, md_arena **scratch, const md_jv **v, const char *fn,
                     md_diag *d)
{
    *scratch = NULL;
    if (!j)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "%s: missing argument", fn);
    if (!(*scratch = md_arena_new()))
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    return md_jv_from_json(*scratch, j, v, d);
}

int md_entities_from_json(md_arena *a, const json_t *arr, const md_schema *schema,
                          md_entities **out, md_diag *d)
{
    md_arena *scratch;
    const md_jv *v = NULL;
    int rc = from_json(arr, &scratch, &v, "md_entities_from_json", d);
    if (!rc)
        rc = md_entities_from_jv(a, v, schema, out, d);
    md_arena_free(scratch);
    return rc;
}

int md_euid_from_json(md_arena *a, const json_t *j, md_euid *out, md_diag *d)
{
    md_arena *scratch;
    const md_jv *v = NULL;
    int rc = from_json(j, &scratch, &v, "md_euid_from_json", d);
    if (!rc)
        rc = md_euid_from_jv(a, v, out, d);
    md_arena_free(scratch);
    return rc;
}

int md_context_from_json(md_arena *a, const json_t *j, const md_schema *schema,
                         const md_euid *action, md_value *out, md_diag *d)
{
    md_arena *scratch;
    const md_jv *v = NULL;
    int rc = from_json(j, &scratch, &v, "md_context_from_json", d);
    if (!rc)
        rc = md_context_from_jv(a, v, schema, action, out, d);
    md_arena_free(scratch);
    return rc;
}

int md_value_from_json(md_arena *a, const json_t *j, const md_type *expected, md_value *out,
                       md_diag *d)
{
    md_arena *scratch;
    const md_jv *v = NULL;
    int rc = from_json(j, &scratch, &v, "md_value_from_json", d);
    if (!rc)
        rc = md_value_from_jv(a, v, expected, out, d);
    md_arena_free(scratch);
    return rc;
}
