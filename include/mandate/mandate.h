/*
 * mandate/mandate.h: the public API of libmandate. Includes every other public header.
 * Symbols are mandate_*; everything else in the library is hidden.
 */
#ifndef MANDATE_MANDATE_H
#define MANDATE_MANDATE_H

#include "mandate/error.h"
#include "mandate/cedar.h"
#include "mandate/token.h"
#include "mandate/ledger.h"
#include "mandate/registry.h"
#include "mandate/server.h"
#include "mandate/account.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *mandate_version(void);

#ifdef __cplusplus
}
#endif
#endif
