/*
 * mandate/error.h: the one error enum of libmandate.
 *
 * 0 is success, every error is negative. Values are never renumbered: a retired code keeps its
 * number with an _OBSOLETE name. mandate_strerror() returns a static string and never fails.
 */
#ifndef MANDATE_ERROR_H
#define MANDATE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mandate_err {
    MANDATE_OK = 0,
    MANDATE_ENOMEM = -1,     /* an allocation failed */
    MANDATE_EINVAL = -2,     /* misuse: a bad argument from the caller */
    MANDATE_EPARSE = -3,     /* input text could not be parsed (policy, schema, JSON) */
    MANDATE_ETOOBIG = -4,    /* input over a size, count or depth cap */
    MANDATE_EIO = -5,        /* a file or device error */
    MANDATE_ENOTFOUND = -6,  /* the named thing does not exist */
    MANDATE_EEXIST = -7,     /* the thing already exists (duplicate id or uid) */
    MANDATE_ESCHEMA = -8,    /* input does not conform to the schema */
    MANDATE_EEVAL = -9,      /* a policy raised an evaluation error */
    MANDATE_EVALIDATE = -10, /* policies do not validate against the schema */
    MANDATE_ESTORE = -11,    /* the store failed; nothing was acknowledged */
    MANDATE_ECRYPTO = -12,   /* a signature, key or digest check failed */
    MANDATE_ECORRUPT = -13,  /* stored data is inconsistent or was tampered with */
    MANDATE_EDENIED = -14,   /* the caller is not allowed to do this */
    MANDATE_EINTERNAL = -15, /* a bug: an invariant did not hold */
} mandate_err;

/* Returns a static, human-readable description of an error code; unknown codes get a generic one.
 */
const char *mandate_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
