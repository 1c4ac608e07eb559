/*
 * cedar_int.h: the Cedar engine's shared data model: values, entities, the policy AST, schemas
 * and the entry points that connect the engine's modules (lexer/parser, schema, entities JSON,
 * extension types, evaluator, authorizer, validator).
 *
 * Semantics follow Cedar 4.x as specified by the Lean model (cedar-spec, cedar-lean/Cedar/Spec).
 * Where this file and the Lean model disagree, the Lean model wins and this file is the bug.
 *
 * Ownership: every structure here lives in an md_arena and is freed with it. Pointers between
 * structures never cross arenas except where said (a request borrows the entity store and the
 * policy set). Nothing here is thread-safe to build; once built, policy sets, schemas and entity
 * stores are read-only and may be shared by any number of threads evaluating at once.
 *
 * May depend on: core/. Nothing in src/cedar depends on store/, ledger/ or anything above.
 */
#ifndef MD_CEDAR_INT_H
#define MD_CEDAR_INT_H

#include <jansson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/core.h"

/* ---- caps on untrusted input (past a cap: a clear error, MANDATE_ETOOBIG) ---- */
#define MD_CEDAR_MAX_DEPTH 512               /* nesting of expressions, types and JSON values */
#define MD_CEDAR_MAX_POLICY_TEXT (16u << 20) /* bytes of policy or schema text */
#define MD_CEDAR_MAX_JSON_TEXT (256u << 20)  /* bytes of entities JSON */

/* ---- values ---- */
typedef enum md_vkind {
    MD_V_BOOL,
    MD_V_LONG,
    MD_V_STRING,
    MD_V_ENTITY,
    MD_V_SET,
    MD_V_RECORD,
    MD_V_DECIMAL,  /* u.i: the value times 10^4 */
    MD_V_IP,       /* u.ip */
    MD_V_DATETIME, /* u.i: milliseconds since 1970-01-01T00:00:00Z */
    MD_V_DURATION, /* u.i: milliseconds */
} md_vkind;

/* An entity uid. type is the full name with namespaces ("NS::User"), id the raw id bytes. */
typedef struct md_euid {
    md_str type;
    md_str id;
} md_euid;

typedef struct md_ipaddr {
    uint8_t v6;       /* 0: IPv4 (addr[0..3] used), 1: IPv6 */
    uint8_t prefix;   /* prefix length; 32 or 128 for a single address */
    uint8_t addr[16]; /* network byte order */
} md_ipaddr;

typedef struct md_set md_set;
typedef struct md_record md_record;

typedef struct md_value {
    md_vkind kind;
    union {
        bool b;
        int64_t i; /* LONG, DECIMAL, DATETIME, DURATION */
        md_str s;
        md_euid uid;
        const md_set *set;
        const md_record *rec;
        md_ipaddr ip;
    } u;
} md_value;

/* A set: elements sorted by md_value_cmp with duplicates removed. */
struct md_set {
    size_t n;
    md_value items[];
};

/* A record field as callers build records from (md_record_new) and read them back (md_record_at).
 */
typedef struct md_field {
    md_str key;
    md_value val;
} md_field;

/* A value as a record holds it, in 16 bytes so that four share a cache line: bools, longs and the
 * extension values that are numbers are inline, a string is its pointer and length (len), a set or
 * a record its pointer; an entity uid points to an md_euid (after md_entities_seal, the stored
 * entity's own uid); anything else (an ip address, a string of 4 GiB or more) points to an
 * md_value (kind MD_RVAL_BOXED). Read one with md_rval_load. */
typedef struct md_rval {
    uint32_t kind; /* md_vkind or MD_RVAL_BOXED */
    uint32_t len;  /* MD_V_STRING: the length */
    union {
        int64_t i; /* BOOL (0 or 1), LONG, DECIMAL, DATETIME, DURATION */
        const char *s;
        const md_euid *uid;
        const md_set *set;
        const md_record *rec;
        const md_value *boxed;
    } u;
} md_rval;
#define MD_RVAL_BOXED 0xffu

/* A record: n keys sorted by md_str_cmp and unique, and their values, apart, so that a lookup
 * compares signatures and keys and then reads only the 16-byte value. sigs holds md_key_sig of
 * each key, zero-padded to a multiple of four entries, so a record of up to 16 fields is searched
 * four signatures at a time; larger records are searched by key. keys and sigs may be shared by
 * records with the same keys (md_record_new_like): a store's entities of one type share them. */
struct md_record {
    size_t n;
    const md_str *keys;
    const uint32_t *sigs;
    md_rval vals[];
};

static inline void md_rval_load(const md_rval *r, md_value *out)
{
    switch (r->kind) {
    case MD_V_BOOL:
        out->kind = MD_V_BOOL;
        out->u.b = r->u.i != 0;
        return;
    case MD_V_STRING:
        out->kind = MD_V_STRING;
        out->u.s = (md_str){r->u.s, r->len};
        return;
    case MD_V_ENTITY:
        out->kind = MD_V_ENTITY;
        out->u.uid = *r->u.uid;
        return;
    case MD_V_SET:
        out->kind = MD_V_SET;
        out->u.set = r->u.set;
        return;
    case MD_V_RECORD:
        out->kind = MD_V_RECORD;
        out->u.rec = r->u.rec;
        return;
    case MD_RVAL_BOXED: *out = *r->u.boxed; return;
    default:
        out->kind = (md_vkind)r->kind;
        out->u.i = r->u.i;
        return;
    }
}

/* md_str_eq for the hot paths: short strings (the usual type names, ids and keys) compare in a
 * few word loads, without a libc call. */
static inline bool md_bytes_eq(md_str a, md_str b)
{
    size_t n = a.len;
    if (n != b.len)
        return false;
    const char *p = a.ptr, *q = b.ptr;
    if (p == q || n == 0)
        return true;
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, p + i, 8);
            memcpy(&y, q + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, p + n - 8, 8);
        memcpy(&y, q + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x1, y1, x2, y2;
        memcpy(&x1, p, 4);
        memcpy(&y1, q, 4);
        memcpy(&x2, p + n - 4, 4);
        memcpy(&y2, q + n - 4, 4);
        return x1 == y1 && x2 == y2;
    }
    return p[0] == q[0] && p[n / 2] == q[n / 2] && p[n - 1] == q[n - 1];
}

/* A cheap fingerprint of a record key: equal keys have equal signatures. */
static inline uint32_t md_key_sig(md_str k)
{
    if (k.len == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)k.ptr;
    return (uint32_t)(k.len & 0xff) << 24 | (uint32_t)p[0] << 16 | (uint32_t)p[k.len / 2] << 8 |
           p[k.len - 1];
}

/* Bit i set: sigs[i] == sig, for i < n <= 16 (sigs as in md_record, padded to four). */
static inline uint32_t md_sig_hits(const uint32_t *sigs, size_t n, uint32_t sig)
{
    uint32_t m = 0;
#if defined(__SSE2__)
    __m128i s = _mm_set1_epi32((int)sig);
    for (size_t i = 0; i < n; i += 4) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(sigs + i));
        m |= (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, s))) << i;
    }
    return m & ((1u << n) - 1);
#else
    for (size_t i = 0; i < n; i++)
        m |= (uint32_t)(sigs[i] == sig) << i;
    return m;
#endif
}

/* md_record_find for records of more than 16 fields: a binary search by key (value.c). */
const md_rval *md_record_search(const md_record *r, md_str key);

/* The value of key in r, or NULL. sig is md_key_sig(key) when the caller has it precomputed (0:
 * computed here). Records of up to 16 fields scan their signatures and compare only a matching
 * key; larger ones are searched by key. Inline: the evaluator's attribute reads run it. */
static inline __attribute__((always_inline)) const md_rval *md_record_find(const md_record *r,
                                                                           md_str key, uint32_t sig)
{
    if (__builtin_expect(r->n > 16, 0))
        return md_record_search(r, key);
    for (uint32_t m = md_sig_hits(r->sigs, r->n, sig ? sig : md_key_sig(key)); m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        if (md_bytes_eq(r->keys[i], key))
            return &r->vals[i];
    }
    return NULL;
}

/* value.c */
/* A total order over values: by kind, then by content. Used to canonicalise sets. */
int md_value_cmp(const md_value *a, const md_value *b);
/* Cedar equality (==): same kind and same content; sets and records compare structurally. */
bool md_value_eq(const md_value *a, const md_value *b);
int md_euid_cmp(const md_euid *a, const md_euid *b);
bool md_euid_eq(const md_euid *a, const md_euid *b);
uint64_t md_euid_hash(const md_euid *u);
/* Builds a set from n values (copied, sorted, deduplicated). */
int md_set_new(md_arena *a, const md_value *items, size_t n, const md_set **out);
/* Builds a record from n fields (copied and sorted; fields itself is left as it is). Duplicate
 * keys: MANDATE_EEXIST and *dup set. */
int md_record_new(md_arena *a, const md_field *fields, size_t n, const md_record **out,
                  md_str *dup);
/* md_record_new, sharing like's keys and signatures when the new record has the same keys (like
 * may be NULL; when given, it must live as long as the new record, e.g. in the same arena). */
int md_record_new_like(md_arena *a, const md_field *fields, size_t n, const md_record *like,
                       const md_record **out, md_str *dup);
const md_record *md_record_empty(void);
/* Field i (i < r->n): its key and its value. */
md_field md_record_at(const md_record *r, size_t i);
/* True and *out set (out may be NULL) when r has the key; false otherwise. */
bool md_record_get(const md_record *r, md_str key, md_value *out);
bool md_set_contains(const md_set *s, const md_value *v);
/* Appends the value in Cedar syntax (as in error messages) to b. */
int md_value_print(md_buf *b, const md_value *v);
int md_euid_print(md_buf *b, const md_euid *u);
/* Appends md_euid_print's text as a JSON string (plain ids without a copy); *text_len gets the
 * length of the Cedar text. */
int md_euid_print_json(md_buf *b, const md_euid *u, size_t *text_len);
const char *md_vkind_name(md_vkind k); /* "bool", "long", "string", "entity", ... */

/* ---- entities ---- */
/* The fields a decision reads come first (the first cache line of a stored entity). */
typedef struct md_entity {
    md_euid uid;
    const md_record *attrs; /* never NULL */
    size_t n_ancestors;     /* transitive closure of parents, sorted by md_euid_cmp, no self */
    const md_euid *ancestors;
    const md_record *tags; /* never NULL */
    size_t n_parents;      /* direct parents as given */
    const md_euid *parents;
} md_entity;

typedef struct md_entities md_entities;

/* entities.c */
/* A new, empty store living in arena a. Entities are added, then md_entities_seal computes the
 * ancestor closure; after sealing the store is read-only. */
int md_entities_new(md_arena *a, md_entities **out);
/* Adds an entity (copied shallowly: attrs/tags/parents must live in the same arena; sealing
 * points the entity-valued fields of attrs and tags at the uids of the stored entities they
 * name, so those records must not be shared with a store other threads are reading).
 * A uid already present: MANDATE_EEXIST. */
int md_entities_add(md_entities *es, const md_entity *e);
int md_entities_seal(md_entities *es, md_diag *d);
const md_entity *md_entities_find(const md_entities *es, const md_euid *uid);
size_t md_entities_count(const md_entities *es);
const md_entity *md_entities_at(const md_entities *es, size_t i); /* insertion order */
/* Cedar `in` on uids: a == b, or b is an ancestor of a. a missing from the store: only a == b. */
bool md_entities_in(const md_entities *es, const md_euid *a, const md_euid *b);

/* ---- schemas ---- */
typedef enum md_tkind {
    MD_T_BOOL,
    MD_T_LONG,
    MD_T_STRING,
    MD_T_ENTITY, /* u.name: full entity type name */
    MD_T_SET,    /* u.elem */
    MD_T_RECORD, /* u.rec */
    MD_T_DECIMAL,
    MD_T_IP,
    MD_T_DATETIME,
    MD_T_DURATION,
} md_tkind;

typedef struct md_type md_type;

typedef struct md_attr_type {
    md_str name;
    const md_type *type;
    bool required;
} md_attr_type;

typedef struct md_rec_type {
    size_t n; /* attrs sorted by name */
    const md_attr_type *attrs;
} md_rec_type;

struct md_type {
    md_tkind kind;
    union {
        md_str name;
        const md_type *elem;
        md_rec_type rec;
    } u;
};

typedef struct md_entity_type {
    md_str name; /* full name */
    size_t n_member_of;
    const md_str *member_of; /* full names of parent entity types */
    const md_type *shape;    /* MD_T_RECORD, never NULL (empty record when not declared) */
    const md_type *tags;     /* NULL when the type has no tags */
    bool is_enum;
    size_t n_enum;
    const md_str *enum_ids;
} md_entity_type;

typedef struct md_action {
    md_euid uid; /* type is "NS::Action" or "Action" */
    size_t n_member_of;
    const md_euid *member_of; /* direct action groups */
    bool has_applies_to;      /* false: the action applies to no principal or resource */
    size_t n_principals;
    const md_str *principals; /* entity type names */
    size_t n_resources;
    const md_str *resources;
    const md_type *context; /* MD_T_RECORD, never NULL */
} md_action;

typedef struct md_schema {
    size_t n_entity_types;
    const md_entity_type *entity_types; /* sorted by name */
    size_t n_actions;
    const md_action *actions; /* sorted by uid */
} md_schema;

/* schema.c: parses the human-readable schema syntax. Common types are resolved and inlined;
 * every type name is resolved to its full name. */
int md_schema_parse(md_arena *a, const char *text, size_t len, const md_schema **out, md_diag *d);
const md_entity_type *md_schema_entity_type(const md_schema *s, md_str name);
const md_action *md_schema_action(const md_schema *s, const md_euid *uid);
/* Adds the schema's action entities (with their memberOf hierarchy) to an unsealed store. */
int md_schema_add_action_entities(const md_schema *s, md_entities *es, md_diag *d);

/* entities_json.c: entities and values from Cedar JSON. schema may be NULL (no schema-based
 * parsing). Accepts {"type","id"} and {"__entity":{...}} for uids, {"__extn":{"fn","arg"}}
 * for extension values; with a schema, strings become extension values where the schema says
 * so and attributes are checked against the entity type's shape. */
int md_entities_from_json(md_arena *a, const json_t *arr, const md_schema *schema,
                          md_entities **out, md_diag *d);
int md_euid_from_json(md_arena *a, const json_t *j, md_euid *out, md_diag *d);
/* A context record; with a schema it is parsed and checked against the action's context type. */
int md_context_from_json(md_arena *a, const json_t *j, const md_schema *schema,
                         const md_euid *action, md_value *out, md_diag *d);
/* A value without a schema (attribute values, context fields). */
int md_value_from_json(md_arena *a, const json_t *j, const md_type *expected, md_value *out,
                       md_diag *d);
/* The same from the arena JSON tree of core/json.h (no jansson values on the way). The _json
 * forms above convert their argument to this tree first. */
typedef struct md_jv md_jv;
int md_entities_from_jv(md_arena *a, const md_jv *arr, const md_schema *schema, md_entities **out,
                        md_diag *d);
int md_euid_from_jv(md_arena *a, const md_jv *j, md_euid *out, md_diag *d);
/* j NULL: no context (an empty record). */
int md_context_from_jv(md_arena *a, const md_jv *j, const md_schema *schema, const md_euid *action,
                       md_value *out, md_diag *d);
int md_value_from_jv(md_arena *a, const md_jv *j, const md_type *expected, md_value *out,
                     md_diag *d);
/* md_entities_from_jv of JSON text (parsed as md_json_parse would, errors with line:column). */
int md_entities_from_text(md_arena *a, const char *text, size_t len, const md_schema *schema,
                          md_entities **out, md_diag *d);

/* ---- extension types (ext.c) ---- */
/* Parsers of the extension constructors' string arguments. They return false on bad text. */
bool md_decimal_parse(md_str s, int64_t *out);
bool md_ip_parse(md_str s, md_ipaddr *out);
bool md_datetime_parse(md_str s, int64_t *out);
bool md_duration_parse(md_str s, int64_t *out);

/* ---- policy AST ---- */
typedef enum md_var {
    MD_VAR_PRINCIPAL,
    MD_VAR_ACTION,
    MD_VAR_RESOURCE,
    MD_VAR_CONTEXT,
} md_var;

typedef enum md_slot {
    MD_SLOT_PRINCIPAL,
    MD_SLOT_RESOURCE,
} md_slot;

typedef enum md_extfn {
    MD_FN_DECIMAL, /* constructors, function style: decimal("1.2") */
    MD_FN_IP,
    MD_FN_DATETIME,
    MD_FN_DURATION,
    MD_FN_LESS_THAN, /* methods, receiver is args[0] */
    MD_FN_LESS_THAN_OR_EQUAL,
    MD_FN_GREATER_THAN,
    MD_FN_GREATER_THAN_OR_EQUAL,
    MD_FN_IS_IPV4,
    MD_FN_IS_IPV6,
    MD_FN_IS_LOOPBACK,
    MD_FN_IS_MULTICAST,
    MD_FN_IS_IN_RANGE,
    MD_FN_OFFSET,
    MD_FN_DURATION_SINCE,
    MD_FN_TO_DATE,
    MD_FN_TO_TIME,
    MD_FN_TO_DAYS,
    MD_FN_TO_HOURS,
    MD_FN_TO_MINUTES,
    MD_FN_TO_SECONDS,
    MD_FN_TO_MILLISECONDS,
    MD_FN__COUNT
} md_extfn;

/* ext.c: name and arity (including the receiver) of each extension function. */
const char *md_extfn_name(md_extfn f);
size_t md_extfn_arity(md_extfn f);
bool md_extfn_is_method(md_extfn f);
/* Applies an extension function to evaluated arguments; on error returns MANDATE_EEVAL with
 * a message in d. */
int md_extfn_apply(md_arena *a, md_extfn f, const md_value *args, size_t n, md_value *out,
                   md_diag *d);

typedef enum md_op {
    MD_E_LIT,  /* u.lit: bool, long, string or entity literal */
    MD_E_VAR,  /* u.var */
    MD_E_SLOT, /* u.slot (templates only) */
    MD_E_IF,   /* u.k.a ? u.k.b : u.k.c */
    MD_E_AND,  /* u.k.a && u.k.b */
    MD_E_OR,
    MD_E_NOT, /* unary: u.k.a */
    MD_E_NEG,
    MD_E_IS_EMPTY, /* a.isEmpty() */
    MD_E_EQ,       /* binary: u.k.a OP u.k.b */
    MD_E_NE,
    MD_E_LT,
    MD_E_LE,
    MD_E_GT,
    MD_E_GE,
    MD_E_ADD,
    MD_E_SUB,
    MD_E_MUL,
    MD_E_IN,
    MD_E_CONTAINS, /* a.contains(b) */
    MD_E_CONTAINS_ALL,
    MD_E_CONTAINS_ANY,
    MD_E_HAS_TAG, /* a.hasTag(b) */
    MD_E_GET_TAG,
    MD_E_GET_ATTR, /* u.attr: a.name or a["name"] */
    MD_E_HAS_ATTR, /* u.attr: a has name (paths are desugared into a chain of && by the parser) */
    MD_E_LIKE,     /* u.like */
    MD_E_IS,       /* u.is: a is T, or a is T in b when u.is.in is not NULL */
    MD_E_SET,      /* u.list */
    MD_E_RECORD,   /* u.rec, keys unique */
    MD_E_CALL,     /* u.call */
} md_op;

/* A `like` pattern: literal byte runs separated by wildcards. */
typedef struct md_pat_elem {
    bool star; /* a `*` wildcard; otherwise lit holds literal bytes (escapes resolved) */
    md_str lit;
} md_pat_elem;

typedef struct md_pattern {
    size_t n;
    const md_pat_elem *elems;
} md_pattern;

typedef struct md_expr md_expr;
struct md_expr {
    md_op op;
    uint32_t line, col; /* where the expression starts in the policy text */
    union {
        md_value lit;
        md_var var;
        md_slot slot;
        struct {
            const md_expr *a, *b, *c;
        } k;
        struct {
            const md_expr *a;
            md_str name;
            uint32_t sig; /* md_key_sig(name), or 0 when not computed (the parser sets it) */
        } attr;
        struct {
            const md_expr *a;
            md_pattern pat;
        } like;
        struct {
            const md_expr *a;
            md_str type; /* full entity type name */
            const md_expr *in;
        } is;
        struct {
            size_t n;
            const md_expr *const *items;
        } list;
        struct {
            size_t n;
            const md_str *keys;
            const md_expr *const *vals;
        } rec;
        struct {
            md_extfn fn;
            size_t n;
            const md_expr *const *args;
        } call;
    } u;
};

typedef enum md_scope_kind {
    MD_SCOPE_ANY,     /* principal */
    MD_SCOPE_EQ,      /* principal == E */
    MD_SCOPE_IN,      /* principal in E */
    MD_SCOPE_IS,      /* principal is T */
    MD_SCOPE_IS_IN,   /* principal is T in E */
    MD_SCOPE_IN_LIST, /* action in [E1, E2] (action only) */
} md_scope_kind;

typedef struct md_scope {
    md_scope_kind kind;
    bool slot;     /* the target is ?principal / ?resource (templates) */
    md_str type;   /* IS, IS_IN */
    md_euid uid;   /* EQ, IN, IS_IN when !slot */
    size_t n_uids; /* IN_LIST */
    const md_euid *uids;
} md_scope;

typedef struct md_annotation {
    md_str key;
    md_str value; /* "" when the annotation has no value */
} md_annotation;

typedef struct md_cond {
    bool when; /* false: unless */
    const md_expr *body;
} md_cond;

/* The fields a decision reads come first (principal and resource scopes before the action's,
 * which the policy index has usually settled), so that they share few cache lines. */
typedef struct md_policy {
    bool permit; /* false: forbid */
    bool is_template;
    size_t n_conds;
    const md_cond *conds;
    md_scope principal, resource, action;
    md_str id;
    size_t n_annotations;
    const md_annotation *annotations;
    /* For a template-linked policy: the template's id and the slot values. */
    md_str template_id;
    bool has_principal_slot, has_resource_slot;
    md_euid principal_slot, resource_slot;
    uint32_t line, col;
    md_str text; /* the policy's source text */
} md_policy;

/* The name a policy goes by for users, in results and in ledger entries: its @id annotation,
 * else the parser's id (policy0, ...). */
md_str md_policy_name(const md_policy *p);

typedef struct md_policy_index md_policy_index;

typedef struct md_policyset {
    size_t n; /* static and linked policies, in order; templates are not evaluated */
    const md_policy **policies;
    size_t n_templates;
    const md_policy **templates;
    /* By action: which of the first `indexed` policies can match a request's action. Policies
     * past `indexed` (linked later) are always evaluated. NULL: evaluate every policy. */
    const md_policy_index *index;
    size_t indexed;
} md_policyset;

/* policy_index.c: (re)builds ps->index over all of ps->policies. Parsing and merging call it;
 * call it after linking many templates. Only speeds the authorizer up: it never changes a
 * decision, because it only skips policies whose action scope cannot hold. */
int md_policyset_reindex(md_arena *a, md_policyset *ps);
/* The positions (in ps->policies) of the policies whose scope can hold for the request
 * (action_entity: the action's entity in the store, or NULL), ascending; *out lives in a.
 * *n_out == SIZE_MAX and *out == NULL mean: evaluate every policy. Some policies whose principal
 * or resource scope requires another entity type may also be left out. A position may carry
 * MD_CANDIDATE_PLAIN (mask it off): that policy has no slots and its action scope holds. */
#define MD_CANDIDATE_PLAIN 0x80000000u
typedef struct md_request md_request;
int md_policyset_candidates(md_arena *a, const md_policyset *ps, const md_request *req,
                            const md_entity *action_entity, const uint32_t **out, size_t *n_out);

/* parser.c: parses policy text. Ids are id_prefix0, id_prefix1, ... in file order ("policy" when
 * id_prefix is NULL). Templates (with slots) go to templates, others to policies. */
int md_policyset_parse(md_arena *a, const char *text, size_t len, const char *id_prefix,
                       md_policyset **out, md_diag *d);
/* Appends a policy set to another (ids must not collide: MANDATE_EEXIST). */
int md_policyset_merge(md_arena *a, md_policyset *into, const md_policyset *from, md_diag *d);
/* Links a template: a new policy new_id with the slots filled in. */
int md_policyset_link(md_arena *a, md_policyset *ps, md_str template_id, md_str new_id,
                      const md_euid *principal, const md_euid *resource, md_diag *d);
/* Parses a single expression (for tests and tools). */
/* Parses an entity uid in Cedar syntax (NS::Type::"id"). */
/* The plain form alone: path segments [A-Z][A-Za-z0-9_]* (never a keyword) and an id of
 * printable ASCII without quote or backslash, which parses to exactly its pieces and prints back
 * as itself (the copy in the arena is NUL-terminated at out->type.ptr). False: use the parser. */
bool md_euid_parse_plain(md_arena *a, const char *text, size_t len, md_euid *out);
int md_euid_parse(md_arena *a, const char *text, size_t len, md_euid *out, md_diag *d);
int md_expr_parse(md_arena *a, const char *text, size_t len, const md_expr **out, md_diag *d);

/* ---- evaluation ---- */
struct md_request {
    md_euid principal, action, resource;
    md_value context; /* a record */
};

/* eval.c: evaluates a policy (scope and conditions, as the Lean model's Policy.toExpr) for a
 * request. Returns 0 and sets *satisfied, or MANDATE_EEVAL with the error message in d.
 * scratch holds intermediate values; the caller resets it. */
int md_eval_policy(const md_policy *p, const md_request *req, const md_entities *es,
                   md_arena *scratch, bool *satisfied, md_diag *d);
/* Evaluates one expression. */
int md_eval_expr(const md_expr *e, const md_request *req, const md_entities *es, const md_policy *p,
                 md_arena *scratch, md_value *out, md_diag *d);

/* authorizer.c */
typedef struct md_policy_error {
    const md_policy *policy;
    const char *msg;
} md_policy_error;

typedef struct md_response {
    bool allow;
    size_t n_reasons; /* determining policies, in policy set order */
    const md_policy **reasons;
    size_t n_errors;
    md_policy_error *errors;
} md_response;

/* Authorizes as the Lean model's isAuthorized: forbid wins, then permit, default deny.
 * The response lives in a. */
int md_authorize(md_arena *a, const md_policyset *ps, const md_request *req, const md_entities *es,
                 md_response *out);

/* request validation against a schema (request_validate.c) */
int md_request_validate(const md_schema *s, const md_request *req, md_diag *d);

#endif
