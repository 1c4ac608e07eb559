/* fuzz_schema.c: libFuzzer target for the schema parser (md_schema_parse). Parses the input;
 * on success walks every type and looks every entity type and action up again, so that
 * dangling or unsorted results show up under the sanitizers. */
#include <stddef.h>
#include <stdint.h>

#include "cedar/cedar_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const md_type *t, unsigned depth)
{
    if (depth > MD_CEDAR_MAX_DEPTH + 1)
        __builtin_trap();
    switch (t->kind) {
    case MD_T_SET: return 1 + walk(t->u.elem, depth + 1);
    case MD_T_RECORD: {
        size_t n = 1;
        for (size_t i = 0; i < t->u.rec.n; i++) {
            if (i && md_str_cmp(t->u.rec.attrs[i - 1].name, t->u.rec.attrs[i].name) >= 0)
                __builtin_trap();
            /* shared subtypes are walked once per record level only (they may form a DAG) */
            if (depth < 8)
                n += walk(t->u.rec.attrs[i].type, depth + 1);
        }
        return n;
    }
    case MD_T_ENTITY: return t->u.name.len ? 1 : (__builtin_trap(), 0);
    default: return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_arena *a = md_arena_new();
    if (!a)
        return 0;
    const md_schema *s = NULL;
    md_diag d = {0};
    int rc = md_schema_parse(a, (const char *)data, size, &s, &d);
    if (rc == 0) {
        for (size_t i = 0; i < s->n_entity_types; i++) {
            const md_entity_type *e = &s->entity_types[i];
            if (md_schema_entity_type(s, e->name) != e)
                __builtin_trap();
            walk(e->shape, 0);
            if (e->tags)
                walk(e->tags, 0);
            for (size_t j = 0; j < e->n_member_of; j++)
                if (!md_schema_entity_type(s, e->member_of[j]))
                    __builtin_trap();
        }
        for (size_t i = 0; i < s->n_actions; i++) {
            const md_action *ac = &s->actions[i];
            if (md_schema_action(s, &ac->uid) != ac)
                __builtin_trap();
            if (ac->context->kind != MD_T_RECORD)
                __builtin_trap();
            walk(ac->context, 0);
            for (size_t j = 0; j < ac->n_member_of; j++)
                if (!md_schema_action(s, &ac->member_of[j]))
                    __builtin_trap();
            for (size_t j = 0; j < ac->n_principals; j++)
                if (!md_schema_entity_type(s, ac->principals[j]))
                    __builtin_trap();
        }
    } else if (d.code != rc || !d.msg[0]) {
        __builtin_trap(); /* every error carries a message */
    }
    md_arena_free(a);
    return 0;
}
