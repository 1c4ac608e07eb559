/* error.c: mandate_strerror. */
#include "core/core.h"

MD_EXPORT const char *mandate_strerror(int err)
{
    switch ((mandate_err)err) {
    case MANDATE_OK: return "success";
    case MANDATE_ENOMEM: return "out of memory";
    case MANDATE_EINVAL: return "invalid argument";
    case MANDATE_EPARSE: return "parse error";
    case MANDATE_ETOOBIG: return "input exceeds a size or depth limit";
    case MANDATE_EIO: return "input/output error";
    case MANDATE_ENOTFOUND: return "not found";
    case MANDATE_EEXIST: return "already exists";
    case MANDATE_ESCHEMA: return "does not conform to the schema";
    case MANDATE_EEVAL: return "evaluation error";
    case MANDATE_EVALIDATE: return "validation failed";
    case MANDATE_ESTORE: return "store failure";
    case MANDATE_ECRYPTO: return "cryptographic check failed";
    case MANDATE_ECORRUPT: return "data is corrupt or was tampered with";
    case MANDATE_EDENIED: return "not allowed";
    case MANDATE_EINTERNAL: return "internal error";
    }
    return "unknown error";
}
