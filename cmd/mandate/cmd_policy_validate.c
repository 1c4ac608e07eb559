/*
 * cmd_policy_validate.c: `mandate policy validate --schema S POLICIES... [--format text|json]`:
 * strict-mode validation of Cedar policy files against a schema (src/cedar/validator.h).
 *
 * Each policy file is validated on its own against the schema. Diagnostics go to stdout, as
 * FILE:LINE:COL: error|warning: [kind] message, or as one JSON document with --format json.
 * Exit status: 0 when no file has an error (warnings allowed), 3 when a file does not validate
 * or an input does not parse, 2 on a usage error, 4 when out of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar_int.h"
#include "cedar/schema_json.h"
#include "cedar/validator.h"
#include "cmd.h"
#include "util.h"

static const char usage_text[] =
    "usage: mandate policy validate --schema SCHEMA [--format text|json] POLICIES...\n"
    "\n"
    "  Validates each Cedar policy file against SCHEMA in strict mode, as Cedar's validator\n"
    "  does: unknown entity types, actions, attributes and enum values; scopes that no action\n"
    "  applies to; type errors (operators, `==` on different types, sets, extension literals);\n"
    "  optional attributes and tags read without a `has`/`hasTag` guard. Policies that can never\n"
    "  apply are reported as warnings.\n"
    "\n"
    "  --schema SCHEMA   the schema, human-readable syntax (.cedarschema) or JSON (.json, or\n"
    "                    text starting with '{')\n"
    "  --format FORMAT   text (default): FILE:LINE:COL: error|warning: [kind] message\n"
    "                    json: {\"diagnostics\": [{\"file\", \"policy\", \"line\", \"column\",\n"
    "                    \"severity\", \"kind\", \"message\"}...], \"errors\": N, \"warnings\": "
    "N}\n"
    "\n"
    "  Exit status: 0 when every file validates (warnings allowed), 3 when some file has an\n"
    "  error or does not parse, 2 on a usage error.\n";

static bool looks_json(const char *path, const char *text)
{
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json"))
        return true;
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    return *text == '{';
}

typedef struct out {
    bool json;
    size_t errors, warnings, n_json;
    md_buf jbuf;
} out;

/* One diagnostic, in either format. policy may be NULL (parse errors). */
static void report(out *o, const char *file, const char *policy, size_t policy_len, uint32_t line,
                   uint32_t col, bool warning, const char *kind, const char *msg)
{
    if (warning)
        o->warnings++;
    else
        o->errors++;
    if (!o->json) {
        printf("%s:%u:%u: %s: [%s] %s\n", file, line, col, warning ? "warning" : "error", kind,
               msg);
        return;
    }
    md_buf *b = &o->jbuf;
    md_buf_puts(b, o->n_json++ ? ",\n    {\"file\": " : "\n    {\"file\": ");
    md_buf_json_str(b, file, strlen(file));
    md_buf_puts(b, ", \"policy\": ");
    if (policy)
        md_buf_json_str(b, policy, policy_len);
    else
        md_buf_puts(b, "null");
    md_buf_printf(b, ", \"line\": %u, \"column\": %u, \"severity\": \"%s\", \"kind\": ", line, col,
                  warning ? "warning" : "error");
    md_buf_json_str(b, kind, strlen(kind));
    md_buf_puts(b, ", \"message\": ");
    md_buf_json_str(b, msg, strlen(msg));
    md_buf_puts(b, "}");
}

static const md_schema *load_schema(md_arena *a, const char *path, out *o)
{
    size_t len = 0;
    char *text = cmd_read_file(path, &len);
    if (!text)
        return NULL;
    const md_schema *s = NULL;
    md_diag d = {0};
    int rc = looks_json(path, text) ? md_schema_parse_json(a, text, len, &s, &d)
                                    : md_schema_parse(a, text, len, &s, &d);
    free(text);
    if (rc) {
        report(o, path, NULL, 0, d.line, d.col, false, "schema", d.msg);
        return NULL;
    }
    return s;
}

static int validate_file(md_arena *a, const md_schema *s, const char *path, out *o)
{
    size_t len = 0;
    char *text = cmd_read_file(path, &len);
    if (!text)
        return EXIT_INPUT;
    md_policyset *ps = NULL;
    md_diag d = {0};
    int rc = md_policyset_parse(a, text, len, NULL, &ps, &d);
    free(text);
    if (rc) {
        report(o, path, NULL, 0, d.line, d.col, false, "syntax", d.msg);
        return EXIT_INPUT;
    }
    size_t n = 0;
    const md_vdiag *diags = NULL;
    if (md_validate(a, ps, s, &n, &diags)) {
        fprintf(stderr, "mandate: out of memory validating '%s'\n", path);
        return EXIT_INTERNAL;
    }
    for (size_t i = 0; i < n; i++)
        report(o, path, diags[i].policy->id.ptr, diags[i].policy->id.len, diags[i].line,
               diags[i].col, diags[i].warning, diags[i].kind, diags[i].msg);
    return md_vdiag_has_error(diags, n) ? EXIT_INPUT : 0;
}

int cmd_policy_validate(int argc, char **argv)
{
    /* argv[0] may be the subcommand's own name, as main's argv[0] is the program's. */
    int i0 = argc > 0 && !strcmp(argv[0], "validate") ? 1 : 0;
    const char *schema = NULL, *format = "text";
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    if (!files) {
        fputs("mandate: out of memory\n", stderr);
        return EXIT_INTERNAL;
    }
    for (int i = i0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            free(files);
            return 0;
        }
        if (!strcmp(argv[i], "--schema") && i + 1 < argc) {
            schema = argv[++i];
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            format = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mandate: unknown option '%s'\n", argv[i]);
            fputs(usage_text, stderr);
            free(files);
            return EXIT_USAGE;
        } else {
            files[n_files++] = argv[i];
        }
    }
    bool json = !strcmp(format, "json");
    if (!schema || !n_files || (!json && strcmp(format, "text"))) {
        fputs(usage_text, stderr);
        free(files);
        return EXIT_USAGE;
    }
    out o = {.json = json};
    md_buf_init(&o.jbuf, (size_t)1 << 30);
    int rc = 0;
    md_arena *sa = md_arena_new();
    const md_schema *s = sa ? load_schema(sa, schema, &o) : NULL;
    if (!sa) {
        rc = EXIT_INTERNAL;
    } else if (!s) {
        rc = EXIT_INPUT;
    } else {
        for (size_t i = 0; i < n_files; i++) {
            md_arena *a = md_arena_new();
            int frc = a ? validate_file(a, s, files[i], &o) : EXIT_INTERNAL;
            md_arena_free(a);
            if (frc > rc)
                rc = frc;
        }
    }
    if (json) {
        printf("{\n  \"diagnostics\": [%s%s],\n  \"errors\": %zu,\n  \"warnings\": %zu\n}\n",
               o.jbuf.data ? o.jbuf.data : "", o.n_json ? "\n  " : "", o.errors, o.warnings);
    } else if (rc != EXIT_INTERNAL) {
        fprintf(stderr, "%zu error%s, %zu warning%s\n", o.errors, o.errors == 1 ? "" : "s",
                o.warnings, o.warnings == 1 ? "" : "s");
    }
    md_buf_release(&o.jbuf);
    md_arena_free(sa);
    free(files);
    return rc;
}
