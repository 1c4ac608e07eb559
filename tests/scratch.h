/*
 * scratch.h: removing a test's scratch directory (the tests make them with mkdtemp under /tmp).
 * Header-only; tests include it as "scratch.h".
 */
#ifndef MANDATE_TESTS_SCRATCH_H
#define MANDATE_TESTS_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

/* Removes dir and everything in it; system()'s status (0 when it worked). */
static inline int scratch_remove(const char *dir)
{
    char cmd[4200];
    if ((size_t)snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= sizeof cmd)
        return -1;
    return system(cmd);
}

#endif
