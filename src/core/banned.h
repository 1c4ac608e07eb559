/*
 * banned.h: functions the library must not call, made compile errors (after git's banned.h).
 * Force-included into every library source file by the build. Depends on nothing.
 */
#ifndef MD_BANNED_H
#define MD_BANNED_H

/* The C library headers come first, so their own inline definitions are not rewritten. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MD_BANNED(f) sorry_##f##_is_banned_in_mandate

#undef strcpy
#define strcpy(...) MD_BANNED(strcpy)
#undef strcat
#define strcat(...) MD_BANNED(strcat)
#undef sprintf
#define sprintf(...) MD_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MD_BANNED(vsprintf)
#undef strtok
#define strtok(...) MD_BANNED(strtok)
#undef atoi
#define atoi(...) MD_BANNED(atoi)
#undef gmtime
#define gmtime(...) MD_BANNED(gmtime)
#undef localtime
#define localtime(...) MD_BANNED(localtime)
#undef gets
#define gets(...) MD_BANNED(gets)

#endif
