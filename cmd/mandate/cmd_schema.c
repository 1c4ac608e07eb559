/*
 * cmd_schema.c: `mandate schema convert --to json|human FILE`: converts a Cedar schema between
 * the human-readable syntax and the JSON format. The input format is taken from --from, else
 * from the file (a name ending in .json, or text starting with '{', is JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cedar/cedar_int.h"
#include "cedar/schema_json.h"
#include "cmd.h"
#include "util.h"

static const char usage_text[] =
    "usage: mandate schema convert --to json|human [--from json|human] FILE\n"
    "\n"
    "  convert   parse the schema in FILE ('-' for stdin) and print it in the other format.\n"
    "            Common types are inlined in the output. Exit status 0 on success, 3 when\n"
    "            the schema does not parse (FILE:LINE:COLUMN: message on stderr).\n";

static bool looks_json(const char *path, const char *text)
{
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json"))
        return true;
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    return *text == '{';
}

static int schema_convert(int argc, char **argv)
{
    const char *to = NULL, *from = NULL, *path = NULL;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--to") || !strcmp(argv[i], "--from")) && i + 1 < argc) {
            if (!strcmp(argv[i], "--to"))
                to = argv[++i];
            else
                from = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mandate: unknown option '%s'\n", argv[i]);
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    bool ok_to = to && (!strcmp(to, "json") || !strcmp(to, "human"));
    bool ok_from = !from || !strcmp(from, "json") || !strcmp(from, "human");
    if (!path || !ok_to || !ok_from) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    size_t len = 0;
    char *text = cmd_read_file(path, &len);
    if (!text)
        return EXIT_INPUT;
    md_arena *a = md_arena_new();
    md_diag d = {0};
    const md_schema *s = NULL;
    bool in_json = from ? !strcmp(from, "json") : looks_json(path, text);
    int rc = !a        ? MANDATE_ENOMEM
             : in_json ? md_schema_parse_json(a, text, len, &s, &d)
                       : md_schema_parse(a, text, len, &s, &d);
    int exit_code = 0;
    if (rc) {
        if (d.line)
            fprintf(stderr, "mandate: %s:%u:%u: %s\n", path, d.line, d.col, d.msg);
        else
            fprintf(stderr, "mandate: %s: %s\n", path, d.msg[0] ? d.msg : mandate_strerror(rc));
        exit_code = EXIT_INPUT;
    } else {
        md_buf out;
        md_buf_init(&out, (size_t)1 << 30);
        rc = !strcmp(to, "json") ? md_schema_print_json(&out, s) : md_schema_print_human(&out, s);
        if (rc) {
            fprintf(stderr, "mandate: %s: cannot print the schema: %s\n", path,
                    mandate_strerror(rc));
            exit_code = EXIT_INTERNAL;
        } else if (out.len) {
            fwrite(out.data, 1, out.len, stdout);
        }
        md_buf_release(&out);
    }
    md_arena_free(a);
    free(text);
    return exit_code;
}

int cmd_schema(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "convert"))
        return schema_convert(argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
