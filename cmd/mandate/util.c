/* util.c: helpers shared by the subcommands. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

char *cmd_read_file_max(const char *who, const char *path, size_t max, size_t *len)
{
    const char *sep = who ? " " : "";
    who = who ? who : "";
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "mandate%s%s: cannot open '%s': %s\n", sep, who, path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    const char *why = buf ? NULL : "out of memory";
    while (!why) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                why = "out of memory";
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t want = cap - n - 1;
        if (want > max - n + 1)
            want = max - n + 1; /* one byte past the cap tells that the file is larger */
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (n > max)
            why = "the file is larger than the limit";
        else if (got == 0)
            break;
    }
    if (!why && ferror(f))
        why = strerror(errno);
    if (f != stdin)
        fclose(f);
    if (why) {
        if (n > max)
            fprintf(stderr, "mandate%s%s: cannot read '%s': it is larger than %zu bytes\n", sep,
                    who, path, max);
        else
            fprintf(stderr, "mandate%s%s: cannot read '%s': %s\n", sep, who, path, why);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *cmd_read_file(const char *path, size_t *len)
{
    return cmd_read_file_max(NULL, path, SIZE_MAX - 1, len);
}

void cmd_print_diag(const char *file, const mandate_diag *d)
{
    if (!file)
        fprintf(stderr, "mandate: %s\n", d->message);
    else if (d->line)
        fprintf(stderr, "mandate: %s:%u:%u: %s\n", file, d->line, d->column, d->message);
    else
        fprintf(stderr, "mandate: %s: %s\n", file, d->message);
}
