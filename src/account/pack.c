/*
 * pack.c: loading a policy pack directory: every *.cedarschema file (name order) concatenated
 * into one schema, and one policy file validated against it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "account/account_int.h"
#include "cedar/validator.h"

#define PACK_MAX_FILES 256
#define PACK_MAX_TEXT (16u << 20)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static int load(const char *dir, const char *policy_file, char **schema_text, size_t *schema_len,
                char **policy_text, size_t *policy_len, md_diag *d)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return md_diag_set(d, MANDATE_EIO, 0, 0, "cannot open policy pack '%s'", dir);
    char *names[PACK_MAX_FILES];
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".cedarschema"))
            continue;
        if (n == PACK_MAX_FILES) {
            rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "policy pack '%s' has over %d schemas", dir,
                             PACK_MAX_FILES);
            break;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = MANDATE_ENOMEM;
            break;
        }
        n++;
    }
    closedir(dh);
    qsort(names, n, sizeof *names, cmp_names);
    md_buf schema;
    md_buf_init(&schema, PACK_MAX_TEXT);
    char path[4096];
    for (size_t i = 0; i < n && !rc; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = NULL;
        size_t len = 0;
        if (!(rc = md_read_file(path, PACK_MAX_TEXT, &text, &len, d))) {
            rc = md_buf_printf(&schema, "// ---- %s\n", names[i]);
            if (!rc)
                rc = md_buf_append(&schema, text, len);
            if (!rc)
                rc = md_buf_puts(&schema, "\n");
            if (rc == MANDATE_ETOOBIG)
                md_diag_set(d, rc, 0, 0, "policy pack '%s': schemas over %u bytes", dir,
                            PACK_MAX_TEXT);
        }
        free(text);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (!rc && n == 0)
        rc = md_diag_set(d, MANDATE_ENOTFOUND, 0, 0, "policy pack '%s' has no .cedarschema", dir);
    char *ptext = NULL;
    size_t plen = 0;
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s", dir, policy_file ? policy_file : "default.cedar");
        rc = md_read_file(path, PACK_MAX_TEXT, &ptext, &plen, d);
    }
    md_arena *a = rc ? NULL : md_arena_new();
    if (!rc && !a)
        rc = MANDATE_ENOMEM;
    const md_schema *s = NULL;
    md_policyset *ps = NULL;
    if (!rc && (rc = md_schema_parse(a, schema.data, schema.len, &s, d)))
        md_diag_set(d, rc, 0, 0, "policy pack '%s': schema", dir);
    if (!rc && (rc = md_policyset_parse(a, ptext, plen, NULL, &ps, d)))
        md_diag_set(d, rc, 0, 0, "policy pack '%s': policies", path);
    if (!rc) {
        size_t nv = 0;
        const md_vdiag *vd = NULL;
        if ((rc = md_validate(a, ps, s, &nv, &vd)))
            md_diag_set(d, rc, 0, 0, "policy pack '%s': validating failed", dir);
        for (size_t i = 0; !rc && i < nv; i++)
            if (!vd[i].warning)
                rc = md_diag_set(d, MANDATE_EVALIDATE, vd[i].line, vd[i].col,
                                 "policy pack '%s': policy %.*s does not validate: %s (%s)", path,
                                 (int)vd[i].policy->id.len, vd[i].policy->id.ptr, vd[i].msg,
                                 vd[i].kind);
    }
    md_arena_free(a);
    if (rc) {
        free(ptext);
        md_buf_release(&schema);
        return rc;
    }
    *schema_len = schema.len;
    *schema_text = schema.data; /* md_buf data is malloc'd */
    *policy_text = ptext;
    *policy_len = plen;
    return 0;
}

MD_EXPORT int mandate_account_load_pack(const char *dir, const char *policy_file,
                                        char **schema_text, size_t *schema_len, char **policy_text,
                                        size_t *policy_len, mandate_diag *diag)
{
    md_diag d = {0};
    if (!dir || !schema_text || !schema_len || !policy_text || !policy_len)
        return md_account_finish(diag, &d,
                                 md_diag_set(&d, MANDATE_EINVAL, 0, 0, "load pack: no directory"));
    *schema_text = *policy_text = NULL;
    return md_account_finish(
        diag, &d, load(dir, policy_file, schema_text, schema_len, policy_text, policy_len, &d));
}
