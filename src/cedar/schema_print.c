/*
 * schema_print.c: writes an md_schema in the human-readable syntax or the JSON format, and
 * compares schemas structurally (see schema_json.h).
 *
 * Declarations are grouped by namespace (the empty namespace first, then the named ones in
 * sorted order). Every entity type reference is written with its full name, which resolves to
 * itself in both formats: a qualified name is taken as written, and a name of the empty namespace
 * cannot be shadowed by one in the current namespace (Cedar forbids that, RFC 70). A primitive or
 * extension type is written with its short name unless an entity type of that name would capture
 * it, and then as __cedar::Name.
 */
#include <stdlib.h>

#include "cedar/entities.h"
#include "cedar/schema_json.h"

typedef struct pr {
    md_buf *b;
    const md_schema *s;
    md_str ns; /* the namespace being printed */
    int err;
} pr;

static void put(pr *p, const char *s)
{
    if (!p->err)
        p->err = md_buf_puts(p->b, s);
}

static void putn(pr *p, const char *s, size_t n)
{
    if (!p->err)
        p->err = md_buf_append(p->b, s, n);
}

static void indent(pr *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        put(p, "  ");
}

/* The namespace part of a full name ("A::B::C" -> "A::B", "C" -> ""). */
static md_str ns_of(md_str full)
{
    size_t i = full.len;
    while (i > 1 && !(full.ptr[i - 1] == ':' && full.ptr[i - 2] == ':'))
        i--;
    return i > 1 ? (md_str){full.ptr, i - 2} : (md_str){full.ptr, 0};
}

static md_str base_of(md_str full)
{
    md_str ns = ns_of(full);
    size_t skip = ns.len ? ns.len + 2 : 0;
    return (md_str){full.ptr + skip, full.len - skip};
}

static void put_strlit(pr *p, md_str s)
{
    put(p, "\"");
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            putn(p, e, 2);
        } else if (c == 0) {
            put(p, "\\0");
        } else if (c == '\n') {
            put(p, "\\n");
        } else if (c == '\r') {
            put(p, "\\r");
        } else if (c == '\t') {
            put(p, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            char e[16];
            snprintf(e, sizeof e, "\\u{%x}", c);
            put(p, e);
        } else {
            putn(p, (const char *)&s.ptr[i], 1);
        }
    }
    put(p, "\"");
}

static bool is_ident(md_str s)
{
    return md_cedar_name_valid(s) && !memchr(s.ptr, ':', s.len);
}

/* ------------------------------------------------------------------------------------------ */
/* human-readable syntax */

static bool entity_named(const pr *p, const char *base)
{
    if (md_schema_entity_type(p->s, md_str_c(base)))
        return true;
    if (!p->ns.len)
        return false;
    char full[512];
    int n = snprintf(full, sizeof full, "%.*s::%s", (int)p->ns.len, p->ns.ptr, base);
    return n > 0 && (size_t)n < sizeof full && md_schema_entity_type(p->s, md_str_c(full));
}

static void put_builtin(pr *p, const char *name)
{
    if (entity_named(p, name))
        put(p, "__cedar::");
    put(p, name);
}

static void human_type(pr *p, const md_type *t, unsigned ind)
{
    switch (t->kind) {
    case MD_T_BOOL: put_builtin(p, "Bool"); break;
    case MD_T_LONG: put_builtin(p, "Long"); break;
    case MD_T_STRING: put_builtin(p, "String"); break;
    case MD_T_DECIMAL: put_builtin(p, "decimal"); break;
    case MD_T_IP: put_builtin(p, "ipaddr"); break;
    case MD_T_DATETIME: put_builtin(p, "datetime"); break;
    case MD_T_DURATION: put_builtin(p, "duration"); break;
    case MD_T_ENTITY: putn(p, t->u.name.ptr, t->u.name.len); break;
    case MD_T_SET:
        put(p, "Set<");
        human_type(p, t->u.elem, ind);
        put(p, ">");
        break;
    case MD_T_RECORD:
        if (!t->u.rec.n) {
            put(p, "{}");
            break;
        }
        put(p, "{\n");
        for (size_t i = 0; i < t->u.rec.n; i++) {
            const md_attr_type *at = &t->u.rec.attrs[i];
            indent(p, ind + 1);
            if (is_ident(at->name))
                putn(p, at->name.ptr, at->name.len);
            else
                put_strlit(p, at->name);
            put(p, at->required ? ": " : "?: ");
            human_type(p, at->type, ind + 1);
            put(p, i + 1 < t->u.rec.n ? ",\n" : "\n");
        }
        indent(p, ind);
        put(p, "}");
        break;
    }
}

static void human_names(pr *p, const md_str *v, size_t n)
{
    put(p, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(p, ", ");
        putn(p, v[i].ptr, v[i].len);
    }
    put(p, "]");
}

static void human_entity(pr *p, const md_entity_type *et, unsigned ind)
{
    indent(p, ind);
    put(p, "entity ");
    md_str base = base_of(et->name);
    putn(p, base.ptr, base.len);
    if (et->is_enum) {
        put(p, " enum [");
        for (size_t i = 0; i < et->n_enum; i++) {
            if (i)
                put(p, ", ");
            put_strlit(p, et->enum_ids[i]);
        }
        put(p, "];\n");
        return;
    }
    if (et->n_member_of) {
        put(p, " in ");
        human_names(p, et->member_of, et->n_member_of);
    }
    if (et->shape->u.rec.n) {
        put(p, " = ");
        human_type(p, et->shape, ind);
    }
    if (et->tags) {
        put(p, " tags ");
        human_type(p, et->tags, ind);
    }
    put(p, ";\n");
}

static void human_action(pr *p, const md_action *ac, unsigned ind)
{
    indent(p, ind);
    put(p, "action ");
    put_strlit(p, ac->uid.id);
    if (ac->n_member_of) {
        put(p, " in [");
        for (size_t i = 0; i < ac->n_member_of; i++) {
            if (i)
                put(p, ", ");
            putn(p, ac->member_of[i].type.ptr, ac->member_of[i].type.len);
            put(p, "::");
            put_strlit(p, ac->member_of[i].id);
        }
        put(p, "]");
    }
    /* an empty principal or resource list applies to nothing: no appliesTo, as Cedar prints */
    if (ac->has_applies_to && ac->n_principals && ac->n_resources) {
        put(p, " appliesTo {\n");
        indent(p, ind + 1);
        put(p, "principal: ");
        human_names(p, ac->principals, ac->n_principals);
        put(p, ",\n");
        indent(p, ind + 1);
        put(p, "resource: ");
        human_names(p, ac->resources, ac->n_resources);
        if (ac->context->u.rec.n) {
            put(p, ",\n");
            indent(p, ind + 1);
            put(p, "context: ");
            human_type(p, ac->context, ind + 1);
        }
        put(p, "\n");
        indent(p, ind);
        put(p, "}");
    }
    put(p, ";\n");
}

static md_str action_ns(const md_action *ac)
{
    return ns_of(ac->uid.type);
}

static int str_ptr_cmp(const void *x, const void *y)
{
    return md_str_cmp(*(const md_str *)x, *(const md_str *)y);
}

/* The sorted, distinct namespaces of the schema's declarations. */
static md_str *namespaces(const md_schema *s, size_t *n_out)
{
    size_t n = s->n_entity_types + s->n_actions, k = 0;
    md_str *v = malloc((n + 1) * sizeof *v);
    if (!v)
        return NULL;
    v[k++] = (md_str){"", 0};
    for (size_t i = 0; i < s->n_entity_types; i++)
        v[k++] = ns_of(s->entity_types[i].name);
    for (size_t i = 0; i < s->n_actions; i++)
        v[k++] = action_ns(&s->actions[i]);
    qsort(v, k, sizeof *v, str_ptr_cmp);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (!m || !md_str_eq(v[m - 1], v[i]))
            v[m++] = v[i];
    *n_out = m;
    return v;
}

int md_schema_print_human(md_buf *out, const md_schema *s)
{
    if (!out || !s)
        return MANDATE_EINVAL;
    pr p = {.b = out, .s = s};
    size_t n_ns = 0;
    md_str *nss = namespaces(s, &n_ns);
    if (!nss)
        return MANDATE_ENOMEM;
    bool first = true;
    for (size_t k = 0; k < n_ns; k++) {
        md_str ns = nss[k];
        p.ns = ns;
        unsigned ind = ns.len ? 1 : 0;
        bool any = false;
        for (size_t i = 0; i < s->n_entity_types; i++)
            any = any || md_str_eq(ns_of(s->entity_types[i].name), ns);
        for (size_t i = 0; i < s->n_actions; i++)
            any = any || md_str_eq(action_ns(&s->actions[i]), ns);
        if (!any)
            continue;
        if (!first)
            put(&p, "\n");
        first = false;
        if (ns.len) {
            put(&p, "namespace ");
            putn(&p, ns.ptr, ns.len);
            put(&p, " {\n");
        }
        for (size_t i = 0; i < s->n_entity_types; i++)
            if (md_str_eq(ns_of(s->entity_types[i].name), ns))
                human_entity(&p, &s->entity_types[i], ind);
        for (size_t i = 0; i < s->n_actions; i++)
            if (md_str_eq(action_ns(&s->actions[i]), ns))
                human_action(&p, &s->actions[i], ind);
        if (ns.len)
            put(&p, "}\n");
    }
    free(nss);
    return p.err;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON format */

static void jstr(pr *p, md_str s)
{
    if (!p->err)
        p->err = md_buf_json_str(p->b, s.ptr, s.len);
}

static void nl(pr *p, unsigned ind)
{
    put(p, "\n");
    indent(p, ind);
}

static void jtype(pr *p, const md_type *t, unsigned ind, bool optional)
{
    const char *simple = NULL, *ext = NULL;
    switch (t->kind) {
    case MD_T_BOOL: simple = "Boolean"; break;
    case MD_T_LONG: simple = "Long"; break;
    case MD_T_STRING: simple = "String"; break;
    case MD_T_DECIMAL: ext = "decimal"; break;
    case MD_T_IP: ext = "ipaddr"; break;
    case MD_T_DATETIME: ext = "datetime"; break;
    case MD_T_DURATION: ext = "duration"; break;
    default: break;
    }
    const char *req = optional ? ", \"required\": false" : "";
    if (simple) {
        put(p, "{\"type\": \"");
        put(p, simple);
        put(p, "\"");
        put(p, req);
        put(p, "}");
        return;
    }
    if (ext) {
        put(p, "{\"type\": \"Extension\", \"name\": \"");
        put(p, ext);
        put(p, "\"");
        put(p, req);
        put(p, "}");
        return;
    }
    if (t->kind == MD_T_ENTITY) {
        put(p, "{\"type\": \"Entity\", \"name\": ");
        jstr(p, t->u.name);
        put(p, req);
        put(p, "}");
        return;
    }
    if (t->kind == MD_T_SET) {
        put(p, "{\"type\": \"Set\", \"element\": ");
        jtype(p, t->u.elem, ind, false);
        put(p, req);
        put(p, "}");
        return;
    }
    /* record */
    put(p, "{");
    nl(p, ind + 1);
    put(p, "\"type\": \"Record\",");
    nl(p, ind + 1);
    put(p, "\"attributes\": {");
    for (size_t i = 0; i < t->u.rec.n; i++) {
        const md_attr_type *at = &t->u.rec.attrs[i];
        nl(p, ind + 2);
        jstr(p, at->name);
        put(p, ": ");
        jtype(p, at->type, ind + 2, !at->required);
        if (i + 1 < t->u.rec.n)
            put(p, ",");
    }
    if (t->u.rec.n)
        nl(p, ind + 1);
    put(p, "}");
    if (optional) {
        put(p, ",");
        nl(p, ind + 1);
        put(p, "\"required\": false");
    }
    nl(p, ind);
    put(p, "}");
}

static void json_names(pr *p, const md_str *v, size_t n)
{
    put(p, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(p, ", ");
        jstr(p, v[i]);
    }
    put(p, "]");
}

static void json_entity(pr *p, const md_entity_type *et, unsigned ind)
{
    jstr(p, base_of(et->name));
    put(p, ": {");
    bool any = false;
    if (et->is_enum) {
        nl(p, ind + 1);
        put(p, "\"enum\": [");
        for (size_t i = 0; i < et->n_enum; i++) {
            if (i)
                put(p, ", ");
            jstr(p, et->enum_ids[i]);
        }
        put(p, "]");
        any = true;
    } else {
        if (et->n_member_of) {
            nl(p, ind + 1);
            put(p, "\"memberOfTypes\": ");
            json_names(p, et->member_of, et->n_member_of);
            any = true;
        }
        if (et->shape->u.rec.n) {
            if (any)
                put(p, ",");
            nl(p, ind + 1);
            put(p, "\"shape\": ");
            jtype(p, et->shape, ind + 1, false);
            any = true;
        }
        if (et->tags) {
            if (any)
                put(p, ",");
            nl(p, ind + 1);
            put(p, "\"tags\": ");
            jtype(p, et->tags, ind + 1, false);
            any = true;
        }
    }
    if (any)
        nl(p, ind);
    put(p, "}");
}

static void json_action(pr *p, const md_action *ac, unsigned ind)
{
    jstr(p, ac->uid.id);
    put(p, ": {");
    bool any = false;
    if (ac->n_member_of) {
        nl(p, ind + 1);
        put(p, "\"memberOf\": [");
        for (size_t i = 0; i < ac->n_member_of; i++) {
            if (i)
                put(p, ", ");
            put(p, "{\"id\": ");
            jstr(p, ac->member_of[i].id);
            put(p, ", \"type\": ");
            jstr(p, ac->member_of[i].type);
            put(p, "}");
        }
        put(p, "]");
        any = true;
    }
    if (ac->has_applies_to && ac->n_principals && ac->n_resources) {
        if (any)
            put(p, ",");
        nl(p, ind + 1);
        put(p, "\"appliesTo\": {");
        nl(p, ind + 2);
        put(p, "\"principalTypes\": ");
        json_names(p, ac->principals, ac->n_principals);
        put(p, ",");
        nl(p, ind + 2);
        put(p, "\"resourceTypes\": ");
        json_names(p, ac->resources, ac->n_resources);
        if (ac->context->u.rec.n) {
            put(p, ",");
            nl(p, ind + 2);
            put(p, "\"context\": ");
            jtype(p, ac->context, ind + 2, false);
        }
        nl(p, ind + 1);
        put(p, "}");
        any = true;
    }
    if (any)
        nl(p, ind);
    put(p, "}");
}

int md_schema_print_json(md_buf *out, const md_schema *s)
{
    if (!out || !s)
        return MANDATE_EINVAL;
    pr p = {.b = out, .s = s};
    size_t n_ns = 0;
    md_str *nss = namespaces(s, &n_ns);
    if (!nss)
        return MANDATE_ENOMEM;
    put(&p, "{");
    bool first_ns = true;
    for (size_t k = 0; k < n_ns; k++) {
        md_str ns = nss[k];
        bool any = false;
        for (size_t i = 0; i < s->n_entity_types && !any; i++)
            any = md_str_eq(ns_of(s->entity_types[i].name), ns);
        for (size_t i = 0; i < s->n_actions && !any; i++)
            any = md_str_eq(action_ns(&s->actions[i]), ns);
        if (!any && (ns.len || n_ns > 1))
            continue;
        if (!first_ns)
            put(&p, ",");
        first_ns = false;
        nl(&p, 1);
        jstr(&p, ns);
        put(&p, ": {");
        nl(&p, 2);
        put(&p, "\"entityTypes\": {");
        bool first = true;
        for (size_t i = 0; i < s->n_entity_types; i++) {
            if (!md_str_eq(ns_of(s->entity_types[i].name), ns))
                continue;
            if (!first)
                put(&p, ",");
            first = false;
            nl(&p, 3);
            json_entity(&p, &s->entity_types[i], 3);
        }
        if (!first)
            nl(&p, 2);
        put(&p, "},");
        nl(&p, 2);
        put(&p, "\"actions\": {");
        first = true;
        for (size_t i = 0; i < s->n_actions; i++) {
            if (!md_str_eq(action_ns(&s->actions[i]), ns))
                continue;
            if (!first)
                put(&p, ",");
            first = false;
            nl(&p, 3);
            json_action(&p, &s->actions[i], 3);
        }
        if (!first)
            nl(&p, 2);
        put(&p, "}");
        nl(&p, 1);
        put(&p, "}");
    }
    put(&p, "\n}\n");
    free(nss);
    return p.err;
}

/* ------------------------------------------------------------------------------------------ */
/* equality */

bool md_type_equal(const md_type *a, const md_type *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->kind != b->kind)
        return false;
    switch (a->kind) {
    case MD_T_ENTITY: return md_str_eq(a->u.name, b->u.name);
    case MD_T_SET: return md_type_equal(a->u.elem, b->u.elem);
    case MD_T_RECORD:
        if (a->u.rec.n != b->u.rec.n)
            return false;
        for (size_t i = 0; i < a->u.rec.n; i++) {
            const md_attr_type *x = &a->u.rec.attrs[i], *y = &b->u.rec.attrs[i];
            if (!md_str_eq(x->name, y->name) || x->required != y->required ||
                !md_type_equal(x->type, y->type))
                return false;
        }
        return true;
    default: return true;
    }
}

static bool strs_equal(const md_str *a, size_t na, const md_str *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!md_str_eq(a[i], b[i]))
            return false;
    return true;
}

/* An action applies to nothing both without appliesTo and with an empty list. */
static bool applies_to_nothing(const md_action *a)
{
    return !a->has_applies_to || !a->n_principals || !a->n_resources;
}

bool md_schema_equal(const md_schema *a, const md_schema *b)
{
    if (a->n_entity_types != b->n_entity_types || a->n_actions != b->n_actions)
        return false;
    for (size_t i = 0; i < a->n_entity_types; i++) {
        const md_entity_type *x = &a->entity_types[i], *y = &b->entity_types[i];
        if (!md_str_eq(x->name, y->name) || x->is_enum != y->is_enum ||
            !strs_equal(x->member_of, x->n_member_of, y->member_of, y->n_member_of) ||
            !md_type_equal(x->shape, y->shape) || !md_type_equal(x->tags, y->tags) ||
            !strs_equal(x->enum_ids, x->n_enum, y->enum_ids, y->n_enum))
            return false;
    }
    for (size_t i = 0; i < a->n_actions; i++) {
        const md_action *x = &a->actions[i], *y = &b->actions[i];
        if (!md_euid_eq(&x->uid, &y->uid) || x->n_member_of != y->n_member_of)
            return false;
        for (size_t k = 0; k < x->n_member_of; k++)
            if (!md_euid_eq(&x->member_of[k], &y->member_of[k]))
                return false;
        if (applies_to_nothing(x) != applies_to_nothing(y))
            return false;
        if (!applies_to_nothing(x) &&
            (!strs_equal(x->principals, x->n_principals, y->principals, y->n_principals) ||
             !strs_equal(x->resources, x->n_resources, y->resources, y->n_resources) ||
             !md_type_equal(x->context, y->context)))
            return false;
    }
    return true;
}
