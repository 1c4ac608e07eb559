/*
 * mandate/token.h: delegation tokens. A delegation is a compact JWS (RFC 7515/7519) signed with
 * Ed25519 (`alg` "EdDSA", `typ` "mandate-delegation+jwt", `kid`), carrying an RFC 8693-style `act`
 * chain that names every delegator and a `mandate` claim (task, workflow, scope, use limit,
 * parent delegation, depth). docs/delegation.md describes the format and the verification rules.
 *
 * Three handles: a mandate_keyring (kid -> Ed25519 key pair, or public key only), a
 * mandate_token_service (the configuration, the caller's hooks into revocation, usage and the
 * registry, and a cache of verified tokens) and a mandate_token (the claims of one verified token).
 * Keyrings and services may be shared by threads; keys may be added or removed while others
 * verify. A service borrows its keyring, which must outlive it.
 *
 * Verification follows RFC 8725: EdDSA only, keys only from the keyring (never from the token),
 * every claim type-checked, bounded clock skew, duplicate JSON keys rejected, strict base64url.
 * Every rejection comes with a mandate_token_reason (a stable name from
 * mandate_token_reason_name) and a message; the return value is a mandate_err.
 * Strings returned through out-parameters are owned by the caller and freed with free().
 */
#ifndef MANDATE_TOKEN_H
#define MANDATE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mandate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The `typ` header of every delegation token. */
#define MANDATE_TOKEN_TYP "mandate-delegation+jwt"
#define MANDATE_TOKEN_DEFAULT_LIFETIME 900 /* seconds: 15 minutes */
#define MANDATE_TOKEN_DEFAULT_MAX_LIFETIME 86400
#define MANDATE_TOKEN_DEFAULT_SKEW 60     /* seconds */
#define MANDATE_TOKEN_DEFAULT_MAX_DEPTH 4 /* re-delegation hops below the root */
#define MANDATE_TOKEN_HARD_MAX_DEPTH 16
#define MANDATE_TOKEN_DEFAULT_MAX_SIZE 8192 /* bytes of compact serialization */
#define MANDATE_TOKEN_HARD_MAX_SIZE 65536
#define MANDATE_TOKEN_MAX_SCOPE 256 /* actions, resources or audiences per token */

/* Why a token was rejected. Numbers and names are stable; new reasons are added at the end. */
typedef enum mandate_token_reason {
    MANDATE_TOKEN_OK = 0,
    MANDATE_TOKEN_MALFORMED = 1,       /* not three non-empty dot-separated segments */
    MANDATE_TOKEN_TOO_LARGE = 2,       /* over the size cap */
    MANDATE_TOKEN_BAD_BASE64 = 3,      /* not strict unpadded base64url */
    MANDATE_TOKEN_HEADER_NOT_JSON = 4, /* header is not a JSON object */
    MANDATE_TOKEN_DUPLICATE_KEY = 5,   /* a JSON object repeats a key */
    MANDATE_TOKEN_ALG_MISSING = 6,
    MANDATE_TOKEN_ALG_NONE = 7,        /* alg "none" (unsecured JWS) */
    MANDATE_TOKEN_ALG_UNSUPPORTED = 8, /* any alg but "EdDSA" */
    MANDATE_TOKEN_KEY_IN_HEADER = 9,   /* jwk, jku, x5u, x5c, x5t, x5t#S256 */
    MANDATE_TOKEN_CRIT_HEADER = 10,    /* crit: we understand no extensions */
    MANDATE_TOKEN_HEADER_UNKNOWN = 11, /* a header parameter other than alg, typ, kid */
    MANDATE_TOKEN_TYP_MISSING = 12,
    MANDATE_TOKEN_TYP_MISMATCH = 13,
    MANDATE_TOKEN_KID_MISSING = 14,
    MANDATE_TOKEN_KID_UNKNOWN = 15,
    MANDATE_TOKEN_SIGNATURE_MALFORMED = 16, /* not 64 bytes */
    MANDATE_TOKEN_SIGNATURE_INVALID = 17,
    MANDATE_TOKEN_PAYLOAD_NOT_JSON = 18,
    MANDATE_TOKEN_CLAIM_MISSING = 19,
    MANDATE_TOKEN_CLAIM_TYPE = 20,    /* a claim has the wrong JSON type */
    MANDATE_TOKEN_CLAIM_INVALID = 21, /* right type, bad value (uid syntax, range, length) */
    MANDATE_TOKEN_CLAIM_UNKNOWN = 22, /* an unknown member in the mandate claim */
    MANDATE_TOKEN_ISSUER_UNTRUSTED = 23,
    MANDATE_TOKEN_AUDIENCE_MISMATCH = 24, /* aud does not contain the expected audience */
    MANDATE_TOKEN_EXPIRED = 25,
    MANDATE_TOKEN_NOT_YET_VALID = 26,
    MANDATE_TOKEN_ISSUED_IN_FUTURE = 27,
    MANDATE_TOKEN_LIFETIME_TOO_LONG = 28, /* exp - iat over the cap */
    MANDATE_TOKEN_LIFETIME_INVALID = 29,  /* exp <= iat, or nbf >= exp */
    MANDATE_TOKEN_DEPTH_EXCEEDED = 30,
    MANDATE_TOKEN_DEPTH_MISMATCH = 31,     /* depth disagrees with parent or act chain */
    MANDATE_TOKEN_ACT_CHAIN_INVALID = 32,  /* act is not a well-formed nested chain */
    MANDATE_TOKEN_ACT_CHAIN_MISMATCH = 33, /* a child's chain is not its parent's, extended */
    MANDATE_TOKEN_CHAIN_INCOMPLETE = 34,   /* a parent delegation was not presented */
    MANDATE_TOKEN_PARENT_MISMATCH = 35,    /* the presented parent is not the named one */
    MANDATE_TOKEN_SCOPE_WIDENED = 36,      /* an action or resource outside the parent's scope */
    MANDATE_TOKEN_EXPIRY_WIDENED = 37,     /* exp after the parent's exp */
    MANDATE_TOKEN_USES_WIDENED = 38,       /* more uses than the parent has (left) */
    MANDATE_TOKEN_AUDIENCE_WIDENED = 39,
    MANDATE_TOKEN_WORKFLOW_MISMATCH = 40,
    MANDATE_TOKEN_ISSUER_MISMATCH = 41, /* a child issued by another issuer than its parent */
    MANDATE_TOKEN_REVOKED = 42,
    MANDATE_TOKEN_PARENT_REVOKED = 43, /* an ancestor delegation is revoked */
    MANDATE_TOKEN_USES_EXHAUSTED = 44,
    MANDATE_TOKEN_SUBJECT_INACTIVE = 45, /* the agent is suspended, departed or retired */
    MANDATE_TOKEN_DELEGATOR_INACTIVE = 46,
    MANDATE_TOKEN_OWNER_INACTIVE = 47, /* a principal's owner is not active */
    MANDATE_TOKEN_PRINCIPAL_UNKNOWN = 48,
    MANDATE_TOKEN_HOOK_FAILED = 49,     /* a revocation, usage or registry hook failed */
    MANDATE_TOKEN_INTERNAL = 50,        /* out of memory or a bug */
    MANDATE_TOKEN_INVALID_REQUEST = 51, /* issuing: a bad argument from the caller */
    MANDATE_TOKEN_REASON_COUNT_ = 52
} mandate_token_reason;

/* A stable snake_case name ("alg_none", "expired", ...); "unknown" for an unknown value. */
const char *mandate_token_reason_name(int reason);

typedef struct mandate_token_error {
    int reason;        /* a mandate_token_reason */
    char message[256]; /* what failed, quoting the subject */
} mandate_token_error;

/* ---- key ring ---- */
typedef struct mandate_keyring mandate_keyring;

int mandate_keyring_new(mandate_keyring **out);
/* Wipes every secret (sodium_memzero) and frees. Accepts NULL. */
void mandate_keyring_free(mandate_keyring *kr);
/* Makes a new random key pair under kid. The first key with a secret becomes the signing key. */
int mandate_keyring_generate(mandate_keyring *kr, const char *kid);
/* Adds the key pair derived from a 32-byte seed. The seed is copied, not kept. */
int mandate_keyring_add_seed(mandate_keyring *kr, const char *kid, const unsigned char seed[32]);
/* Adds a verification-only public key. */
int mandate_keyring_add_public(mandate_keyring *kr, const char *kid, const unsigned char pk[32]);
/* Copies out a key's seed (to persist it); the caller must wipe it. MANDATE_ENOTFOUND when kid
 * is unknown or has no secret. */
int mandate_keyring_seed(const mandate_keyring *kr, const char *kid, unsigned char seed[32]);
/* Selects the key that signs new tokens (it must hold a secret). */
int mandate_keyring_set_signer(mandate_keyring *kr, const char *kid);
/* Removes a key; tokens signed with it no longer verify (cached ones included). */
int mandate_keyring_remove(mandate_keyring *kr, const char *kid);
/* A JWKS document ({"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA",
 * "use":"sig"}]}) of every key, in kid order. Returns owned, free with free(). */
int mandate_keyring_jwks(const mandate_keyring *kr, char **out);

/* ---- service: configuration, hooks, cache ---- */

/* What the registry says about a principal (an agent, a human, ...). */
typedef enum mandate_principal_status {
    MANDATE_PRINCIPAL_ACTIVE = 0,
    MANDATE_PRINCIPAL_SUSPENDED = 1,
    MANDATE_PRINCIPAL_DEPARTED = 2,       /* departed or retired */
    MANDATE_PRINCIPAL_OWNER_INACTIVE = 3, /* the principal's owner is suspended or departed */
    MANDATE_PRINCIPAL_UNKNOWN = 4,
} mandate_principal_status;

/* Hooks into revocation, usage counting and the registry. Each returns 0, or a negative
 * mandate_err which rejects the token (fail closed) with MANDATE_TOKEN_HOOK_FAILED. A NULL hook
 * means "nothing revoked / no uses yet / everyone active" (for offline verifiers only); the
 * authorization path sets all three. Hooks are called on every verification, cached or not,
 * possibly from several threads at once. */
typedef struct mandate_token_hooks {
    void *ctx;
    int (*is_revoked)(void *ctx, const char *jti, bool *revoked);
    int (*use_count)(void *ctx, const char *jti, uint64_t *uses);
    int (*principal_status)(void *ctx, const char *uid, mandate_principal_status *status);
} mandate_token_hooks;

typedef struct mandate_token_service_opts {
    const mandate_keyring *keyring;     /* borrowed; required */
    const char *issuer;                 /* iss of issued tokens; required */
    const char *const *trusted_issuers; /* accepted iss values; NULL/0 = only `issuer` */
    size_t n_trusted_issuers;
    const char *audience;     /* aud that verification requires; required */
    int64_t default_lifetime; /* seconds; 0 = 900 */
    int64_t max_lifetime;     /* cap on exp - iat; 0 = 86400 */
    int64_t skew;             /* clock skew allowed; 0 = 60, negative = none */
    unsigned max_depth;       /* re-delegation hops; 0 = 4, at most 16 */
    size_t max_size;          /* token size cap; 0 = 8192, at most 65536 */
    size_t cache_entries;     /* verified-token cache slots; 0 = 1024; SIZE_MAX = none */
    mandate_token_hooks hooks;
} mandate_token_service_opts;

typedef struct mandate_token_service mandate_token_service;

int mandate_token_service_open(mandate_token_service **out, const mandate_token_service_opts *o);
void mandate_token_service_close(mandate_token_service *s);
/* Cache counters since open. */
void mandate_token_service_cache_stats(mandate_token_service *s, uint64_t *hits, uint64_t *misses);

/* ---- a verified token ---- */
typedef struct mandate_token mandate_token;

/* A read-only view of a verified token's claims; pointers live as long as the token. */
typedef struct mandate_token_claims {
    const char *iss, *sub, *jti, *kid;
    const char *const *aud;
    size_t n_aud;
    int64_t iat, nbf, exp;
    /* The act chain: delegators[0] is the immediate delegator (outermost act), the last one
     * the root delegator (innermost act). n_delegators == depth + 1. */
    const char *const *delegators;
    size_t n_delegators;
    const char *task;
    const char *workflow; /* NULL when absent */
    const char *const *actions;
    size_t n_actions;
    const char *const *resources; /* entity uids (T::"id") or entity types (T) */
    size_t n_resources;
    uint64_t max_uses;
    uint64_t uses;                /* uses so far, from the use_count hook at verification */
    const char *parent;           /* parent delegation's jti; NULL for a root delegation */
    unsigned depth;               /* 0 for a root delegation */
    const char *const *ancestors; /* jtis of every ancestor, parent first */
    /* Each ancestor's max_uses, parent first. A use counts on the token and every ancestor
     * (the use_count hook's caller keeps them so), and verification refuses the token once any
     * ancestor's count reaches its max_uses: a re-delegation tree shares its root's uses. */
    const uint64_t *ancestor_max_uses;
    size_t n_ancestors;
    unsigned char digest[32]; /* SHA-256 of the compact token */
} mandate_token_claims;

const mandate_token_claims *mandate_token_get_claims(const mandate_token *t);
/* Releases a token. Accepts NULL. */
void mandate_token_free(mandate_token *t);
/* Whether the token's scope covers an action uid and a resource uid (the delegation-scope check
 * of the authorization path): the action is listed, and the resource is listed or its entity
 * type is. Uids are compared in canonical form. */
bool mandate_token_scope_allows(const mandate_token *t, const char *action, const char *resource);

/* ---- issuing ---- */
typedef struct mandate_delegation {
    const char *subject;   /* the agent, a Cedar uid (`Agent::"x"`); required */
    const char *delegator; /* root: the delegating human; re-delegation: NULL or the parent's sub */
    const char *const *audience; /* NULL/0 = the service's audience (re-delegation: parent's) */
    size_t n_audience;
    const char *task;           /* required */
    const char *workflow;       /* a uid or NULL; re-delegation: NULL or the parent's */
    const char *const *actions; /* Cedar action uids; at least one */
    size_t n_actions;
    const char *const *resources; /* entity uids or types; at least one */
    size_t n_resources;
    uint64_t max_uses; /* >= 1; re-delegation: 0 = everything the parent has left */
    int64_t lifetime;  /* seconds; 0 = the default (capped by the parent's exp) */
    int64_t now;       /* 0 = time(NULL) */
} mandate_delegation;

/* Signs a root delegation with the keyring's signer. *out is the compact token (owned). */
int mandate_token_issue(mandate_token_service *s, const mandate_delegation *d, char **out,
                        mandate_token_error *err);
/* Signs a re-delegation from parent's subject to d->subject, only narrowing: scope a subset,
 * exp <= parent's exp, uses <= parent's uses left, depth + 1 <= max_depth; the act chain is the
 * parent's extended with the parent's subject. The parent's chain is checked live (revocation,
 * principals, expiry) first. */
int mandate_token_redelegate(mandate_token_service *s, const mandate_token *parent,
                             const mandate_delegation *d, char **out, mandate_token_error *err);

/* ---- verification ---- */
typedef struct mandate_token_verify_args {
    int64_t now; /* 0 = time(NULL) */
    /* A re-delegated token's ancestors as compact tokens, parent first, then its parent, ...
     * Not needed when the token is in the cache. */
    const char *const *parents;
    size_t n_parents;
} mandate_token_verify_args;

/* Verifies a token and its chain. On success *out is a verified token (free with
 * mandate_token_free). Tokens that passed the signature and claim checks are cached, looked up by
 * their exact bytes (a seeded hash of the length and the last bytes picks the set, then every
 * byte is compared; SHA-256 is the digest in the claims); a cached token skips parsing and
 * signatures, but revocation of the token and every ancestor, usage, principal status and time
 * are checked on every call. Returns
 * MANDATE_EDENIED (or MANDATE_ECRYPTO for signatures, MANDATE_ESTORE when a hook fails,
 * MANDATE_ETOOBIG over the size cap) with err->reason set. args may be NULL. */
int mandate_token_verify(mandate_token_service *s, const char *token, size_t len,
                         const mandate_token_verify_args *args, mandate_token **out,
                         mandate_token_error *err);

/* Checks only that a token was signed by the key ring and that its claims are well formed, so
 * that who it names can be trusted; nothing about whether it may be used (time, revocation, uses,
 * principals, parents). For deciding who may revoke it. Not cached; the claims have no
 * ancestors. Returns as mandate_token_verify. */
int mandate_token_inspect(mandate_token_service *s, const char *token, size_t len,
                          mandate_token **out, mandate_token_error *err);

#ifdef __cplusplus
}
#endif
#endif
