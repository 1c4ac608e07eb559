/* util.h: small helpers shared by the subcommands (file reading, error printing). */
#ifndef MANDATE_CMD_UTIL_H
#define MANDATE_CMD_UTIL_H

#include <stddef.h>

#include "mandate/mandate.h"

/* Reads a whole file ("-" is stdin) into a malloc'd NUL-terminated buffer, or prints an error
 * naming the file and returns NULL. */
char *cmd_read_file(const char *path, size_t *len);
/* The same with a size cap, and errors worded as from "mandate WHO" (WHO may be NULL). */
char *cmd_read_file_max(const char *who, const char *path, size_t max, size_t *len);
/* Prints "mandate: FILE:LINE:COL: MESSAGE" (without position, or without FILE when NULL). */
void cmd_print_diag(const char *file, const mandate_diag *d);

#endif
