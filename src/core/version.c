/* version.c: mandate_version. */
#include "core/core.h"

#ifndef MANDATE_VERSION_STRING
#define MANDATE_VERSION_STRING "0.1.0"
#endif

MD_EXPORT const char *mandate_version(void);
MD_EXPORT const char *mandate_version(void)
{
    return MANDATE_VERSION_STRING;
}
