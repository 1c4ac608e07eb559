/* fuzz_entities.c: libFuzzer target for the entities JSON reader without a schema: JSON text
 * (md_json_parse) -> entity store (md_entities_from_json) -> ancestor closure invariants; and the
 * same text read straight from text (md_entities_from_text) must give the same answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    md_diag d = {0};
    if (md_json_parse((const char *)data, size, &j, &d) != 0)
        return 0;
    md_arena *a = md_arena_new();
    md_entities *es = NULL;
    if (a && md_entities_from_json(a, j, NULL, &es, &d) == 0) {
        size_t n = md_entities_count(es);
        for (size_t i = 0; i < n; i++) {
            const md_entity *e = md_entities_at(es, i);
            if (md_entities_find(es, &e->uid) != e || !md_entities_in(es, &e->uid, &e->uid))
                abort();
            for (size_t k = 0; k < e->n_ancestors; k++) {
                if (k && md_euid_cmp(&e->ancestors[k - 1], &e->ancestors[k]) >= 0)
                    abort(); /* sorted, no duplicates */
                if (md_euid_eq(&e->ancestors[k], &e->uid) ||
                    !md_entities_in(es, &e->uid, &e->ancestors[k]))
                    abort();
            }
            for (size_t k = 0; k < e->n_parents; k++)
                if (!md_entities_in(es, &e->uid, &e->parents[k]))
                    abort();
        }
    } else if (a && d.code == 0) {
        abort(); /* every failure carries a message */
    }
    /* The text path (no jansson tree) agrees: same outcome, same error, same entities. */
    md_arena *b = md_arena_new();
    md_entities *es2 = NULL;
    md_diag d2 = {0};
    if (a && b) {
        int rc2 = md_entities_from_text(b, (const char *)data, size, NULL, &es2, &d2);
        if ((rc2 == 0) != (es != NULL) || (rc2 && (rc2 != d.code || strcmp(d2.msg, d.msg))))
            abort();
        if (es && es2) {
            size_t n = md_entities_count(es);
            if (md_entities_count(es2) != n)
                abort();
            for (size_t i = 0; i < n; i++) {
                const md_entity *x = md_entities_at(es, i), *y = md_entities_at(es2, i);
                if (!md_euid_eq(&x->uid, &y->uid) || x->n_ancestors != y->n_ancestors ||
                    x->attrs->n != y->attrs->n)
                    abort();
            }
        }
    }
    md_arena_free(b);
    md_arena_free(a);
    json_decref(j);
    return 0;
}
