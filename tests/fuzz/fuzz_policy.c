/*
 * fuzz_policy.c: libFuzzer target for the Cedar policy parser. Parses the input as a policy set
 * and as a single expression and an entity uid, links the first template when there is one,
 * and frees the arena. Any crash, sanitizer report or leak is a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include "cedar/cedar_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_arena *a = md_arena_new();
    if (!a)
        return 0;
    const char *text = (const char *)data;
    md_diag d = {0};
    md_policyset *ps = NULL;
    if (md_policyset_parse(a, text, size, NULL, &ps, &d) == 0) {
        if (ps->n_templates > 0) {
            const md_policy *t = ps->templates[0];
            md_euid u = {MD_STR_LIT("User"), MD_STR_LIT("fuzz")};
            md_policyset_link(a, ps, t->id, MD_STR_LIT("linked"), t->principal.slot ? &u : NULL,
                              t->resource.slot ? &u : NULL, &d);
        }
    } else if (d.code == 0 || d.msg[0] == '\0') {
        __builtin_trap(); /* an error must always come with a message */
    }
    md_diag_clear(&d);
    const md_expr *e;
    if (md_expr_parse(a, text, size, &e, &d) != 0 && (d.code == 0 || d.msg[0] == '\0'))
        __builtin_trap();
    md_diag_clear(&d);
    md_euid uid;
    md_euid_parse(a, text, size, &uid, &d);
    md_arena_free(a);
    return 0;
}
