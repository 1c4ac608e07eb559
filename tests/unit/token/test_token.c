/*
 * test_token.c: delegation tokens. The catalogue of bad tokens of issue 5 (acceptance point 1):
 * each is rejected with its own expected reason; plus positive controls (issue, re-delegate,
 * verify, cache, JWKS, scope) and the revocation and registry hooks through a fake registry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandate/token.h"

#define NOW 1800000000LL
#define ISS "https://mandate.test"
#define AUD "mandate-api"

/* ---- fake registry: revocations, use counts, principal status ---- */
static const char *revoked[8];
static struct {
    const char *jti;
    uint64_t n;
} uses[8];
static struct {
    const char *uid;
    mandate_principal_status st;
} status[8];
static bool hook_fails;
static unsigned revocation_calls;

static int is_revoked(void *ctx, const char *jti, bool *r)
{
    revocation_calls++;
    if (hook_fails)
        return MANDATE_ESTORE;
    *r = false;
    for (size_t i = 0; i < 8; i++)
        if (revoked[i] && strcmp(revoked[i], jti) == 0)
            *r = true;
    return 0;
}

static int use_count(void *ctx, const char *jti, uint64_t *n)
{
    *n = 0;
    for (size_t i = 0; i < 8; i++)
        if (uses[i].jti && strcmp(uses[i].jti, jti) == 0)
            *n = uses[i].n;
    return 0;
}

static int principal_status(void *ctx, const char *uid, mandate_principal_status *st)
{
    *st = MANDATE_PRINCIPAL_ACTIVE;
    for (size_t i = 0; i < 8; i++)
        if (status[i].uid && strcmp(status[i].uid, uid) == 0)
            *st = status[i].st;
    return 0;
}

/* ---- fixture ---- */
static unsigned char seed1[32], seed2[32];
static mandate_keyring *kr;
static mandate_token_service *svc;

static int setup(void **state)
{
    memset(revoked, 0, sizeof revoked);
    memset(uses, 0, sizeof uses);
    memset(status, 0, sizeof status);
    hook_fails = false;
    revocation_calls = 0;
    for (int i = 0; i < 32; i++) {
        seed1[i] = (unsigned char)(i + 1);
        seed2[i] = (unsigned char)(100 + i);
    }
    if (mandate_keyring_new(&kr) || mandate_keyring_add_seed(kr, "k1", seed1) ||
        mandate_keyring_add_seed(kr, "k2", seed2))
        return -1;
    static const char *const trusted[] = {ISS, "https://other.test"};
    mandate_token_service_opts o = {
        .keyring = kr,
        .issuer = ISS,
        .trusted_issuers = trusted,
        .n_trusted_issuers = 2,
        .audience = AUD,
        .max_lifetime = 3600,
        .max_depth = 3,
        .max_size = 4096,
        .hooks = {NULL, is_revoked, use_count, principal_status},
    };
    return mandate_token_service_open(&svc, &o);
}

static int teardown(void **state)
{
    mandate_token_service_close(svc);
    mandate_keyring_free(kr);
    svc = NULL;
    kr = NULL;
    return 0;
}

/* ---- crafting tokens by hand (the library refuses to make bad ones) ---- */
typedef struct kv {
    const char *k, *v; /* v is raw JSON; NULL drops the key */
} kv;

static void b64(char *out, size_t cap, const void *p, size_t n)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Builds {"k":v,...} from defaults, replaced or dropped by overrides, plus extra overrides. */
static char *build_obj(const kv *def, const kv *ov)
{
    static char buf[8192];
    size_t n = 0;
    buf[n++] = '{';
    bool first = true;
    for (const kv *d = def; d->k; d++) {
        const char *v = d->v;
        for (const kv *o = ov; o && o->k; o++)
            if (strcmp(o->k, d->k) == 0)
                v = o->v;
        if (!v)
            continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\":%s", first ? "" : ",", d->k, v);
        first = false;
    }
    for (const kv *o = ov; o && o->k; o++) {
        bool known = false;
        for (const kv *d = def; d->k; d++)
            known = known || strcmp(o->k, d->k) == 0;
        if (!known && o->v) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\":%s", first ? "" : ",", o->k,
                                  o->v);
            first = false;
        }
    }
    snprintf(buf + n, sizeof buf - n, "}");
    return strdup(buf);
}

#define HDR "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}"
#define ROOT_MANDATE                                                                               \
    "{\"task\":\"reply to ticket 42\",\"workflow\":\"Workflow::\\\"support-reply\\\"\","           \
    "\"scope\":{\"actions\":[\"Action::\\\"read\\\"\",\"Action::\\\"draft\\\"\"],"                 \
    "\"resources\":[\"Ticket::\\\"42\\\"\",\"Doc\"]},\"max_uses\":5,\"depth\":0}"

static const kv root_def[] = {
    {"iss", "\"" ISS "\""},    {"sub", "\"Agent::\\\"drafter\\\"\""},
    {"aud", "\"" AUD "\""},    {"iat", "1799999990"},
    {"nbf", "1799999990"},     {"exp", "1800000600"},
    {"jti", "\"root-1\""},     {"act", "{\"sub\":\"Human::\\\"alice\\\"\"}"},
    {"mandate", ROOT_MANDATE}, {NULL, NULL},
};

#define CHILD_MANDATE(actions, resources, uses)                                                    \
    "{\"task\":\"look up ticket\",\"workflow\":\"Workflow::\\\"support-reply\\\"\","               \
    "\"scope\":{\"actions\":[" actions "],\"resources\":[" resources "]},\"max_uses\":" uses       \
    ",\"parent\":\"root-1\",\"depth\":1}"
#define CHILD_ACT "{\"sub\":\"Agent::\\\"drafter\\\"\",\"act\":{\"sub\":\"Human::\\\"alice\\\"\"}}"

static const kv child_def[] = {
    {"iss", "\"" ISS "\""},
    {"sub", "\"Agent::\\\"lookup\\\"\""},
    {"aud", "\"" AUD "\""},
    {"iat", "1799999995"},
    {"nbf", "1799999995"},
    {"exp", "1800000300"},
    {"jti", "\"child-1\""},
    {"act", CHILD_ACT},
    {"mandate", CHILD_MANDATE("\"Action::\\\"read\\\"\"", "\"Ticket::\\\"42\\\"\"", "2")},
    {NULL, NULL},
};

/* Signs header.payload with seed (NULL: a zero signature) into a compact token. */
static char *sign_raw(const char *hdr_b64, const char *pay_b64, const unsigned char *seed)
{
    size_t n = strlen(hdr_b64) + strlen(pay_b64) + 200;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s", hdr_b64, pay_b64);
    unsigned char sig[64] = {0};
    if (seed) {
        unsigned char pk[32], sk[64];
        crypto_sign_seed_keypair(pk, sk, seed);
        crypto_sign_detached(sig, NULL, (unsigned char *)t, strlen(t), sk);
    }
    char s64[100];
    b64(s64, sizeof s64, sig, 64);
    size_t l = strlen(t);
    snprintf(t + l, n - l, ".%s", s64);
    return t;
}

static char *make(const char *hdr, const char *payload, const unsigned char *seed)
{
    char *h = malloc(strlen(hdr) * 2 + 4), *p = malloc(strlen(payload) * 2 + 4);
    b64(h, strlen(hdr) * 2 + 4, hdr, strlen(hdr));
    b64(p, strlen(payload) * 2 + 4, payload, strlen(payload));
    char *t = sign_raw(h, p, seed);
    free(h);
    free(p);
    return t;
}

static char *root_with(const kv *ov)
{
    char *p = build_obj(root_def, ov);
    char *t = make(HDR, p, seed1);
    free(p);
    return t;
}

static char *child_with(const kv *ov)
{
    char *p = build_obj(child_def, ov);
    char *t = make(HDR, p, seed1);
    free(p);
    return t;
}

#define OV(...) ((const kv[]){__VA_ARGS__, {NULL, NULL}})

/* Verifies at NOW and returns the reason; checks the rc/reason pairing and the message. */
static int verify_at(const char *tok, const char *const *parents, size_t n_parents, int64_t now)
{
    mandate_token_verify_args a = {now, parents, n_parents};
    mandate_token *t = NULL;
    mandate_token_error e;
    memset(&e, 0x55, sizeof e);
    int rc = mandate_token_verify(svc, tok, strlen(tok), &a, &t, &e);
    if (rc == 0) {
        assert_non_null(t);
        assert_int_equal(e.reason, MANDATE_TOKEN_OK);
        mandate_token_free(t);
        return 0;
    }
    if (getenv("MANDATE_TEST_VERBOSE"))
        fprintf(stderr, "    %-20s %s\n", mandate_token_reason_name(e.reason), e.message);
    assert_null(t);
    assert_true(rc < 0);
    assert_int_not_equal(e.reason, MANDATE_TOKEN_OK);
    assert_true(e.message[0] != '\0'); /* never a bare failure */
    assert_string_not_equal(mandate_token_reason_name(e.reason), "unknown");
    return e.reason;
}

static int verify(const char *tok)
{
    return verify_at(tok, NULL, 0, NOW);
}

#define EXPECT_ROOT(reason, ...)                                                                   \
    do {                                                                                           \
        char *t_ = root_with(OV(__VA_ARGS__));                                                     \
        assert_int_equal(verify(t_), reason);                                                      \
        free(t_);                                                                                  \
    } while (0)

#define EXPECT_HDR(reason, hdr)                                                                    \
    do {                                                                                           \
        char *p_ = build_obj(root_def, NULL);                                                      \
        char *t_ = make(hdr, p_, seed1);                                                           \
        assert_int_equal(verify(t_), reason);                                                      \
        free(p_);                                                                                  \
        free(t_);                                                                                  \
    } while (0)

/* ================= positive controls ================= */

static void crafted_root_verifies(void **state)
{
    char *t = root_with(NULL);
    assert_int_equal(verify(t), 0);
    /* inside the clock skew on both ends */
    assert_int_equal(verify_at(t, NULL, 0, 1800000600 + 59), 0);
    assert_int_equal(verify_at(t, NULL, 0, 1799999990 - 60), 0);
    free(t);
}

static void issue_and_verify(void **state)
{
    const char *actions[] = {"Action::\"read\"", "Action::\"draft\""};
    const char *resources[] = {"Ticket::\"42\"", "Doc"};
    mandate_delegation d = {
        .subject = "Agent::\"drafter\"",
        .delegator = "Human::\"alice\"",
        .task = "reply to ticket 42",
        .workflow = "Workflow::\"support-reply\"",
        .actions = actions,
        .n_actions = 2,
        .resources = resources,
        .n_resources = 2,
        .max_uses = 3,
        .now = NOW,
    };
    char *tok = NULL;
    mandate_token_error e;
    assert_int_equal(mandate_token_issue(svc, &d, &tok, &e), 0);
    assert_non_null(tok);
    mandate_token *t = NULL;
    mandate_token_verify_args a = {.now = NOW + 5};
    assert_int_equal(mandate_token_verify(svc, tok, strlen(tok), &a, &t, &e), 0);
    const mandate_token_claims *c = mandate_token_get_claims(t);
    assert_string_equal(c->iss, ISS);
    assert_string_equal(c->sub, "Agent::\"drafter\"");
    assert_string_equal(c->kid, "k1");
    assert_int_equal(c->n_aud, 1);
    assert_string_equal(c->aud[0], AUD);
    assert_int_equal(c->iat, NOW);
    assert_int_equal(c->exp - c->iat, MANDATE_TOKEN_DEFAULT_LIFETIME);
    assert_int_equal(c->n_delegators, 1);
    assert_string_equal(c->delegators[0], "Human::\"alice\"");
    assert_string_equal(c->workflow, "Workflow::\"support-reply\"");
    assert_int_equal(c->depth, 0);
    assert_null(c->parent);
    assert_int_equal(c->max_uses, 3);
    assert_int_equal(strlen(c->jti), 22);
    assert_true(mandate_token_scope_allows(t, "Action::\"read\"", "Ticket::\"42\""));
    assert_true(mandate_token_scope_allows(t, "Action::\"draft\"", "Doc::\"any\""));
    assert_true(mandate_token_scope_allows(t, "Action::\"re\\u{61}d\"", "Ticket::\"\\u{34}2\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"delete\"", "Ticket::\"42\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"", "Ticket::\"43\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"", "Ticket"));
    /* spellings that are not canonical take the parser; broken ones never match */
    assert_true(mandate_token_scope_allows(t, "Action::\"read\"", "Ticket::\"4\\u{32}\""));
    assert_true(mandate_token_scope_allows(t, "Action::\"dr\\u{61}ft\"", "Doc::\"a\\\"b\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read", "Ticket::\"42\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"x", "Ticket::\"42\""));
    assert_false(mandate_token_scope_allows(t, "Action:: \"read\"", "Ticket::\"42\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"", "Doc::\"a\nb\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"", "Doc::\"a\\qb\""));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"", "Doc::\"x"));
    assert_false(mandate_token_scope_allows(t, "Action::\"read\"", "Doc::\"\x7f\" "));
    assert_true(mandate_token_scope_allows(t, "Action::\"read\"", "Doc::\"\x7f\""));
    /* the header is exactly alg, typ, kid */
    char hdr[200];
    size_t hl;
    const char *dot = strchr(tok, '.');
    assert_int_equal(sodium_base642bin((unsigned char *)hdr, sizeof hdr - 1, tok,
                                       (size_t)(dot - tok), NULL, &hl, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    hdr[hl] = '\0';
    assert_string_equal(hdr, HDR);
    mandate_token_free(t);
    free(tok);
}

static void issue_rejects_bad_requests(void **state)
{
    const char *actions[] = {"Action::\"read\""};
    const char *bad_actions[] = {"Action"}; /* a type is not an action */
    const char *resources[] = {"Doc"};
    mandate_delegation d = {
        .subject = "Agent::\"a\"",
        .delegator = "Human::\"alice\"",
        .task = "t",
        .actions = actions,
        .n_actions = 1,
        .resources = resources,
        .n_resources = 1,
        .max_uses = 1,
        .now = NOW,
    };
    char *tok = NULL;
    mandate_token_error e;
    mandate_delegation x = d;
    x.subject = "drafter";
    assert_int_equal(mandate_token_issue(svc, &x, &tok, &e), MANDATE_EINVAL);
    assert_int_equal(e.reason, MANDATE_TOKEN_INVALID_REQUEST);
    x = d;
    x.actions = bad_actions;
    assert_int_equal(mandate_token_issue(svc, &x, &tok, &e), MANDATE_EINVAL);
    x = d;
    x.lifetime = 3601; /* over the service's cap */
    assert_int_equal(mandate_token_issue(svc, &x, &tok, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_LIFETIME_TOO_LONG);
    x = d;
    x.max_uses = 0;
    assert_int_equal(mandate_token_issue(svc, &x, &tok, &e), MANDATE_EINVAL);
    assert_null(tok);
}

/* Issues a root for Agent::"drafter" with max_uses uses at NOW; returns the verified token. */
static mandate_token *issued_root(char **tok_out, uint64_t max_uses, int64_t lifetime)
{
    const char *actions[] = {"Action::\"read\"", "Action::\"draft\""};
    const char *resources[] = {"Ticket::\"42\"", "Doc"};
    mandate_delegation d = {
        .subject = "Agent::\"drafter\"",
        .delegator = "Human::\"alice\"",
        .task = "reply",
        .workflow = "Workflow::\"support-reply\"",
        .actions = actions,
        .n_actions = 2,
        .resources = resources,
        .n_resources = 2,
        .max_uses = max_uses,
        .lifetime = lifetime,
        .now = NOW,
    };
    mandate_token_error e;
    assert_int_equal(mandate_token_issue(svc, &d, tok_out, &e), 0);
    mandate_token *t = NULL;
    mandate_token_verify_args a = {.now = NOW};
    assert_int_equal(mandate_token_verify(svc, *tok_out, strlen(*tok_out), &a, &t, &e), 0);
    return t;
}

static void redelegate_chain_verifies(void **state)
{
    char *root_tok, *child_tok = NULL, *grand_tok = NULL;
    mandate_token *root = issued_root(&root_tok, 10, 0);
    const char *actions[] = {"Action::\"read\""};
    const char *resources[] = {"Doc::\"faq\""}; /* a uid under the parent's type Doc */
    mandate_delegation d = {.subject = "Agent::\"lookup\"",
                            .task = "look up the FAQ",
                            .actions = actions,
                            .n_actions = 1,
                            .resources = resources,
                            .n_resources = 1,
                            .max_uses = 4,
                            .now = NOW + 1};
    mandate_token_error e;
    assert_int_equal(mandate_token_redelegate(svc, root, &d, &child_tok, &e), 0);
    mandate_token *child = NULL;
    const char *parents[] = {root_tok};
    mandate_token_verify_args a = {NOW + 2, parents, 1};
    assert_int_equal(mandate_token_verify(svc, child_tok, strlen(child_tok), &a, &child, &e), 0);
    const mandate_token_claims *c = mandate_token_get_claims(child);
    assert_int_equal(c->depth, 1);
    assert_string_equal(c->parent, mandate_token_get_claims(root)->jti);
    assert_int_equal(c->n_delegators, 2);
    assert_string_equal(c->delegators[0], "Agent::\"drafter\"");
    assert_string_equal(c->delegators[1], "Human::\"alice\"");
    assert_string_equal(c->workflow, "Workflow::\"support-reply\"");
    assert_int_equal(c->exp, mandate_token_get_claims(root)->exp); /* capped at the parent's */
    assert_int_equal(c->n_ancestors, 1);
    /* grandchild, all remaining uses (0 = what the parent has left) */
    mandate_delegation g = {.subject = "Agent::\"leaf\"",
                            .delegator = "Agent::\"lookup\"",
                            .task = "leaf",
                            .actions = actions,
                            .n_actions = 1,
                            .resources = resources,
                            .n_resources = 1,
                            .lifetime = 60,
                            .now = NOW + 3};
    assert_int_equal(mandate_token_redelegate(svc, child, &g, &grand_tok, &e), 0);
    mandate_token *grand = NULL;
    const char *gparents[] = {child_tok, root_tok};
    mandate_token_verify_args ga = {NOW + 4, gparents, 2};
    assert_int_equal(mandate_token_verify(svc, grand_tok, strlen(grand_tok), &ga, &grand, &e), 0);
    c = mandate_token_get_claims(grand);
    assert_int_equal(c->depth, 2);
    assert_int_equal(c->max_uses, 4);
    assert_int_equal(c->n_delegators, 3);
    assert_int_equal(c->n_ancestors, 2);
    assert_string_equal(c->ancestors[1], mandate_token_get_claims(root)->jti);
    /* cached now: verifies without the parents */
    mandate_token *again = NULL;
    mandate_token_verify_args na = {.now = NOW + 5};
    assert_int_equal(mandate_token_verify(svc, grand_tok, strlen(grand_tok), &na, &again, &e), 0);
    mandate_token_free(again);
    /* and a revoked root kills the cached grandchild on the next call */
    revoked[0] = mandate_token_get_claims(root)->jti;
    assert_int_equal(verify_at(grand_tok, NULL, 0, NOW + 6), MANDATE_TOKEN_PARENT_REVOKED);
    assert_int_equal(verify_at(child_tok, NULL, 0, NOW + 6), MANDATE_TOKEN_PARENT_REVOKED);
    assert_int_equal(verify_at(root_tok, NULL, 0, NOW + 6), MANDATE_TOKEN_REVOKED);
    mandate_token_free(grand);
    mandate_token_free(child);
    mandate_token_free(root);
    free(root_tok);
    free(child_tok);
    free(grand_tok);
}

static void crafted_child_verifies(void **state)
{
    char *root = root_with(NULL), *child = child_with(NULL);
    const char *parents[] = {root};
    assert_int_equal(verify_at(child, parents, 1, NOW), 0);
    free(child);
    /* uids compare in canonical form: an escaped spelling of the same action is a subset, and a
     * uid under a type the parent lists is covered */
    child = child_with(OV({"mandate", CHILD_MANDATE("\"Action::\\\"re\\\\u{61}d\\\"\"",
                                                    "\"Doc::\\\"faq\\\"\"", "5")}));
    assert_int_equal(verify_at(child, parents, 1, NOW), 0);
    free(root);
    free(child);
}

static void cache_hits_and_rechecks(void **state)
{
    char *t = root_with(NULL);
    uint64_t h0, m0, h1, m1;
    mandate_token_service_cache_stats(svc, &h0, &m0);
    assert_int_equal(verify(t), 0);
    unsigned calls = revocation_calls;
    assert_int_equal(verify(t), 0);
    assert_int_equal(verify(t), 0);
    mandate_token_service_cache_stats(svc, &h1, &m1);
    assert_int_equal(h1 - h0, 2);
    assert_int_equal(m1 - m0, 1);
    assert_true(revocation_calls >= calls + 2); /* revocation asked on every call */
    /* a revocation takes effect on the next (cached) verification */
    revoked[0] = "root-1";
    assert_int_equal(verify(t), MANDATE_TOKEN_REVOKED);
    revoked[0] = NULL;
    /* time is re-checked on a hit */
    assert_int_equal(verify_at(t, NULL, 0, NOW + 3600), MANDATE_TOKEN_EXPIRED);
    /* uses are re-read on a hit */
    uses[0].jti = "root-1";
    uses[0].n = 5;
    assert_int_equal(verify(t), MANDATE_TOKEN_USES_EXHAUSTED);
    uses[0].n = 4;
    assert_int_equal(verify(t), 0);
    /* the cache picks a set from the token's last bytes only, then compares every byte: a copy
     * of the cached token with one byte changed (same length, same tail or not) never hits */
    size_t len = strlen(t);
    size_t at[] = {0, (size_t)(strchr(t, '.') - t) + 5, len - 33, len - 8, len - 2};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char *forged = strdup(t);
        forged[at[i]] = forged[at[i]] == 'A' ? 'B' : 'A';
        mandate_token_service_cache_stats(svc, &h0, &m0);
        assert_int_not_equal(verify(forged), 0);
        mandate_token_service_cache_stats(svc, &h1, &m1);
        assert_int_equal(h1 - h0, 0);
        assert_int_equal(m1 - m0, 1);
        free(forged);
    }
    assert_int_equal(verify(t), 0); /* still cached */
    /* removing the key invalidates the cached token */
    assert_int_equal(mandate_keyring_remove(kr, "k1"), 0);
    assert_int_equal(verify(t), MANDATE_TOKEN_KID_UNKNOWN);
    free(t);
}

static void jwks_document(void **state)
{
    char *j = NULL;
    assert_int_equal(mandate_keyring_add_public(kr, "a-pub", seed1), 0);
    assert_int_equal(mandate_keyring_jwks(kr, &j), 0);
    unsigned char pk[32], sk[64];
    char x[64];
    crypto_sign_seed_keypair(pk, sk, seed1);
    b64(x, sizeof x, pk, 32);
    char want[256];
    snprintf(want, sizeof want,
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"k1\","
             "\"alg\":\"EdDSA\",\"use\":\"sig\"}",
             x);
    assert_non_null(strstr(j, want));
    assert_true(strncmp(j, "{\"keys\":[{\"kty\":\"OKP\"", 21) == 0);
    /* sorted by kid: a-pub, k1, k2 */
    assert_true(strstr(j, "\"a-pub\"") < strstr(j, "\"k1\""));
    assert_true(strstr(j, "\"k1\"") < strstr(j, "\"k2\""));
    assert_null(strstr(j, "\"d\"")); /* never a private part */
    free(j);
    /* seeds round-trip; a public-only key has none and cannot sign */
    unsigned char s[32];
    assert_int_equal(mandate_keyring_seed(kr, "k2", s), 0);
    assert_memory_equal(s, seed2, 32);
    assert_int_equal(mandate_keyring_seed(kr, "a-pub", s), MANDATE_ENOTFOUND);
    assert_int_equal(mandate_keyring_set_signer(kr, "a-pub"), MANDATE_ENOTFOUND);
    assert_int_equal(mandate_keyring_add_seed(kr, "k1", seed2), MANDATE_EEXIST);
    assert_int_equal(mandate_keyring_generate(kr, "bad kid"), MANDATE_EINVAL);
}

static void signer_switch_and_rotation(void **state)
{
    assert_int_equal(mandate_keyring_generate(kr, "k3"), 0);
    assert_int_equal(mandate_keyring_set_signer(kr, "k3"), 0);
    char *tok = NULL;
    mandate_token *t = issued_root(&tok, 1, 0);
    assert_string_equal(mandate_token_get_claims(t)->kid, "k3");
    mandate_token_free(t);
    assert_int_equal(mandate_keyring_remove(kr, "k3"), 0);
    assert_int_equal(verify(tok), MANDATE_TOKEN_KID_UNKNOWN);
    free(tok);
}

static void reason_names_are_stable(void **state)
{
    assert_string_equal(mandate_token_reason_name(MANDATE_TOKEN_ALG_NONE), "alg_none");
    assert_string_equal(mandate_token_reason_name(MANDATE_TOKEN_PARENT_REVOKED), "parent_revoked");
    assert_string_equal(mandate_token_reason_name(-1), "unknown");
    assert_string_equal(mandate_token_reason_name(MANDATE_TOKEN_REASON_COUNT_), "unknown");
    for (int r = 0; r < MANDATE_TOKEN_REASON_COUNT_; r++) {
        assert_string_not_equal(mandate_token_reason_name(r), "unknown");
        for (int q = 0; q < r; q++)
            assert_string_not_equal(mandate_token_reason_name(r), mandate_token_reason_name(q));
    }
}

typedef struct thread_arg {
    const char *tok;
    int fails;
} thread_arg;

static void *verify_many(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 300; i++) {
        mandate_token *t = NULL;
        mandate_token_error e;
        mandate_token_verify_args va = {.now = NOW};
        if (mandate_token_verify(svc, a->tok, strlen(a->tok), &va, &t, &e) != 0)
            a->fails++;
        mandate_token_free(t);
    }
    return NULL;
}

static void concurrent_verification(void **state)
{
    char *t1 = root_with(NULL), *t2 = root_with(OV({"jti", "\"root-2\""}));
    pthread_t th[4];
    thread_arg args[4] = {{t1, 0}, {t2, 0}, {t1, 0}, {t2, 0}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &args[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].fails, 0);
    }
    free(t1);
    free(t2);
}

/* ================= the catalogue of bad tokens ================= */

/* --- header and algorithm (RFC 8725 2.1, 3.1, 3.2) --- */
static void bad_alg_none(void **state)
{
    /* the classic unsecured JWS: empty signature */
    char h[200], p[1200];
    const char *hdr = "{\"alg\":\"none\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}";
    char *pl = build_obj(root_def, NULL);
    b64(h, sizeof h, hdr, strlen(hdr));
    b64(p, sizeof p, pl, strlen(pl));
    char tok[1500];
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    assert_int_equal(verify(tok), MANDATE_TOKEN_ALG_NONE);
    free(pl);
}

static void bad_alg_none_case(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_ALG_NONE,
               "{\"alg\":\"nOnE\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}");
}

static void bad_hs256_with_public_key(void **state)
{
    /* HS256 "signed" with the Ed25519 public key bytes as the HMAC secret (key confusion) */
    unsigned char pk[32], sk[64], mac[32];
    crypto_sign_seed_keypair(pk, sk, seed1);
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}";
    char *pl = build_obj(root_def, NULL);
    char h[200], p[1200], s[64], tok[1600];
    b64(h, sizeof h, hdr, strlen(hdr));
    b64(p, sizeof p, pl, strlen(pl));
    snprintf(tok, sizeof tok, "%s.%s", h, p);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, pk, 32);
    crypto_auth_hmacsha256_update(&st, (unsigned char *)tok, strlen(tok));
    crypto_auth_hmacsha256_final(&st, mac);
    b64(s, sizeof s, mac, 32);
    size_t l = strlen(tok);
    snprintf(tok + l, sizeof tok - l, ".%s", s);
    assert_int_equal(verify(tok), MANDATE_TOKEN_ALG_UNSUPPORTED);
    free(pl);
}

static void bad_alg_rs256(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_ALG_UNSUPPORTED,
               "{\"alg\":\"RS256\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}");
}

static void bad_alg_wrong_case(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_ALG_UNSUPPORTED,
               "{\"alg\":\"eddsa\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}");
}

static void bad_alg_not_string(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_ALG_UNSUPPORTED,
               "{\"alg\":[\"EdDSA\"],\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}");
}

static void bad_alg_missing(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_ALG_MISSING, "{\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}");
}

static void bad_embedded_jwk(void **state)
{
    /* the attacker's own key in the header, and a token signed with it */
    unsigned char pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed2);
    char x[64], hdr[300];
    b64(x, sizeof x, pk, 32);
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
             "\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}}",
             x);
    char *p = build_obj(root_def, NULL);
    char *t = make(hdr, p, seed2);
    assert_int_equal(verify(t), MANDATE_TOKEN_KEY_IN_HEADER);
    free(p);
    free(t);
}

static void bad_embedded_jku(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_KEY_IN_HEADER,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
               "\"jku\":\"https://evil.example/jwks.json\"}");
}

static void bad_embedded_x5u(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_KEY_IN_HEADER,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
               "\"x5u\":\"https://evil.example/cert.pem\"}");
}

static void bad_embedded_x5c(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_KEY_IN_HEADER,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
               "\"x5c\":[\"MIIB\"]}");
}

static void bad_crit(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_CRIT_HEADER,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
               "\"crit\":[\"exp\"],\"exp\":1}");
}

static void bad_unencoded_payload_b64(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_HEADER_UNKNOWN,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
               "\"b64\":false}");
}

static void bad_typ_jwt(void **state)
{
    /* RFC 8725 3.11: explicit typing stops a plain JWT (an ID token, say) being substituted */
    EXPECT_HDR(MANDATE_TOKEN_TYP_MISMATCH, "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
}

static void bad_typ_missing(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_TYP_MISSING, "{\"alg\":\"EdDSA\",\"kid\":\"k1\"}");
}

static void bad_kid_missing(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_KID_MISSING, "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\"}");
}

static void bad_kid_unknown(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_KID_UNKNOWN,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k9\"}");
}

static void bad_header_duplicate_alg(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_DUPLICATE_KEY,
               "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\","
               "\"alg\":\"none\"}");
}

static void bad_header_not_object(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_HEADER_NOT_JSON, "[\"EdDSA\"]");
}

static void bad_header_garbage(void **state)
{
    EXPECT_HDR(MANDATE_TOKEN_HEADER_NOT_JSON, "{\"alg\":\"EdDSA\",");
}

/* --- signature --- */
static void bad_tampered_payload(void **state)
{
    char *t = root_with(NULL);
    /* re-encode the payload with a different subject, keep the signature */
    char *p2 = build_obj(root_def, OV({"sub", "\"Agent::\\\"mallory\\\"\""}));
    char pb[1200];
    b64(pb, sizeof pb, p2, strlen(p2));
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    char tok[2000];
    snprintf(tok, sizeof tok, "%.*s.%s%s", (int)(d1 - t), t, pb, d2);
    assert_int_equal(verify(tok), MANDATE_TOKEN_SIGNATURE_INVALID);
    free(p2);
    free(t);
}

static void bad_tampered_signature(void **state)
{
    char *t = root_with(NULL);
    char *s = strrchr(t, '.') + 10;
    *s = *s == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t), MANDATE_TOKEN_SIGNATURE_INVALID);
    free(t);
}

static void bad_signed_by_other_key(void **state)
{
    char *p = build_obj(root_def, NULL);
    char *t = make(HDR, p, seed2); /* kid says k1, signed by k2 */
    assert_int_equal(verify(t), MANDATE_TOKEN_SIGNATURE_INVALID);
    free(p);
    free(t);
}

static void bad_kid_swapped(void **state)
{
    /* signed by k1 then the header's kid changed to k2: the signature covers the header */
    char *p = build_obj(root_def, NULL);
    char *t = make(HDR, p, seed1);
    char h2[200];
    const char *hdr = "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k2\"}";
    b64(h2, sizeof h2, hdr, strlen(hdr));
    char tok[2000];
    snprintf(tok, sizeof tok, "%s%s", h2, strchr(t, '.'));
    assert_int_equal(verify(tok), MANDATE_TOKEN_SIGNATURE_INVALID);
    free(p);
    free(t);
}

static void bad_signature_short(void **state)
{
    char *t = root_with(NULL);
    char *s = strrchr(t, '.') + 1;
    assert_int_equal(strlen(s), 86);
    s[84] = '\0'; /* 84 chars = 63 bytes */
    assert_int_equal(verify(t), MANDATE_TOKEN_SIGNATURE_MALFORMED);
    free(t);
}

static void bad_signature_empty(void **state)
{
    char *t = root_with(NULL);
    strrchr(t, '.')[1] = '\0';
    assert_int_equal(verify(t), MANDATE_TOKEN_MALFORMED);
    free(t);
}

/* --- base64url and structure (RFC 7515 2, RFC 8725 3.1) --- */
static void bad_base64_padding(void **state)
{
    char *t = root_with(NULL);
    char tok[2000];
    snprintf(tok, sizeof tok, "%s==", t); /* 86 chars + "==": padded signature */
    assert_int_equal(verify(tok), MANDATE_TOKEN_BAD_BASE64);
    free(t);
}

static void bad_base64_std_alphabet(void **state)
{
    char *t = root_with(NULL);
    t[3] = '+';
    assert_int_equal(verify(t), MANDATE_TOKEN_BAD_BASE64);
    free(t);
}

static void bad_base64_trailing_bits(void **state)
{
    /* the signature is 64 bytes = 86 chars, the last one carrying 4 unused bits */
    char *t = root_with(NULL);
    char *last = t + strlen(t) - 1;
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, *last) - alpha);
    *last = alpha[v | 1];
    assert_int_equal(verify(t), MANDATE_TOKEN_BAD_BASE64);
    free(t);
}

static void bad_base64_length(void **state)
{
    char *t = root_with(NULL);
    char tok[2000];
    snprintf(tok, sizeof tok, "%sA", t);   /* 87 chars: 87 % 4 == 3 ... */
    snprintf(tok, sizeof tok, "%sAAA", t); /* 89 % 4 == 1: impossible */
    assert_int_equal(verify(tok), MANDATE_TOKEN_BAD_BASE64);
    free(t);
}

static void bad_base64_whitespace(void **state)
{
    char *t = root_with(NULL);
    char tok[2000];
    char *d = strchr(t, '.');
    snprintf(tok, sizeof tok, "%.*s .%s", (int)(d - t), t, d + 1);
    assert_int_equal(verify(tok), MANDATE_TOKEN_BAD_BASE64);
    free(t);
}

static void bad_payload_base64(void **state)
{
    /* a payload segment that is not base64url, correctly signed */
    const char *hdr = "{\"alg\":\"EdDSA\",\"typ\":\"mandate-delegation+jwt\",\"kid\":\"k1\"}";
    char h[200];
    b64(h, sizeof h, hdr, strlen(hdr));
    char *t = sign_raw(h, "eyJpc3Mi*Ig", seed1);
    assert_int_equal(verify(t), MANDATE_TOKEN_BAD_BASE64);
    free(t);
}

static void bad_two_segments(void **state)
{
    char *t = root_with(NULL);
    *strrchr(t, '.') = '\0';
    assert_int_equal(verify(t), MANDATE_TOKEN_MALFORMED);
    free(t);
}

static void bad_five_segments_jwe(void **state)
{
    char *t = root_with(NULL);
    char tok[2000];
    snprintf(tok, sizeof tok, "%s.AAAA.AAAA", t);
    assert_int_equal(verify(tok), MANDATE_TOKEN_MALFORMED);
    free(t);
}

static void bad_oversize(void **state)
{
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char task[5100];
    snprintf(task, sizeof task,
             "{\"task\":\"%.3000s\",\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
             "\"resources\":[\"Doc\"]},\"max_uses\":1,\"depth\":0}",
             big);
    char *t = root_with(OV({"mandate", task}));
    assert_true(strlen(t) > 4096);
    assert_int_equal(verify(t), MANDATE_TOKEN_TOO_LARGE);
    mandate_token *out = NULL;
    mandate_token_error e;
    assert_int_equal(mandate_token_verify(svc, t, strlen(t), NULL, &out, &e), MANDATE_ETOOBIG);
    free(t);
}

/* --- payload JSON and claims (RFC 8725 3.3, 3.9, 3.10) --- */
static void bad_payload_duplicate_sub(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_DUPLICATE_KEY, {"jti", "\"root-1\",\"sub\":\"Agent::\\\"root\\\"\""});
}

static void bad_payload_nested_duplicate(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_DUPLICATE_KEY,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                            "\"resources\":[\"Doc\"],\"resources\":[\"Secret\"]},"
                            "\"max_uses\":1,\"depth\":0}"});
}

static void bad_payload_not_json(void **state)
{
    char *t = make(HDR, "{\"iss\":", seed1);
    assert_int_equal(verify(t), MANDATE_TOKEN_PAYLOAD_NOT_JSON);
    free(t);
}

static void bad_payload_array(void **state)
{
    char *t = make(HDR, "[{\"iss\":\"x\"}]", seed1);
    assert_int_equal(verify(t), MANDATE_TOKEN_PAYLOAD_NOT_JSON);
    free(t);
}

static void bad_expired(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_EXPIRED, {"iat", "1799999000"}, {"nbf", "1799999000"},
                {"exp", "1799999900"});
}

static void bad_expired_past_skew(void **state)
{
    char *t = root_with(NULL);
    assert_int_equal(verify_at(t, NULL, 0, 1800000600 + 60), MANDATE_TOKEN_EXPIRED);
    free(t);
}

static void bad_not_yet_valid(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_NOT_YET_VALID, {"nbf", "1800000100"});
}

static void bad_issued_in_future(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_ISSUED_IN_FUTURE, {"iat", "1800000100"}, {"nbf", "1800000100"});
}

static void bad_missing_exp(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_MISSING, {"exp", NULL});
}

static void bad_exp_string(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_TYPE, {"exp", "\"1800000600\""});
}

static void bad_exp_float(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_TYPE, {"exp", "1800000600.5"});
}

static void bad_exp_negative(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_INVALID, {"exp", "-1"});
}

static void bad_exp_huge(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_INVALID, {"exp", "99999999999999"});
}

static void bad_nbf_bool(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_TYPE, {"nbf", "true"});
}

static void bad_lifetime_over_cap(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_LIFETIME_TOO_LONG, {"exp", "1800003591"}); /* 3601 s */
}

static void bad_exp_before_iat(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_LIFETIME_INVALID, {"exp", "1799999990"});
}

static void bad_wrong_aud(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_AUDIENCE_MISMATCH, {"aud", "\"billing-api\""});
}

static void bad_aud_array_without_ours(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_AUDIENCE_MISMATCH, {"aud", "[\"billing-api\",\"MANDATE-API\"]"});
}

static void bad_aud_empty_array(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_AUDIENCE_MISMATCH, {"aud", "[]"});
}

static void bad_aud_number(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_TYPE, {"aud", "42"});
}

static void bad_issuer_untrusted(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_ISSUER_UNTRUSTED, {"iss", "\"https://evil.example\""});
}

static void bad_sub_not_uid(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_INVALID, {"sub", "\"drafter\""});
}

static void bad_sub_trailing(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_INVALID, {"sub", "\"Agent::\\\"drafter\\\" || true\""});
}

static void bad_missing_jti(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_MISSING, {"jti", NULL});
}

static void bad_missing_sub(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_MISSING, {"sub", NULL});
}

static void bad_mandate_unknown_member(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_UNKNOWN,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                            "\"resources\":[\"Doc\"]},\"max_uses\":1,\"depth\":0,"
                            "\"admin\":true}"});
}

static void bad_mandate_zero_uses(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_INVALID,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                            "\"resources\":[\"Doc\"]},\"max_uses\":0,\"depth\":0}"});
}

static void bad_mandate_missing_scope(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_MISSING,
                {"mandate", "{\"task\":\"t\",\"max_uses\":1,\"depth\":0}"});
}

static void bad_action_is_type(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_INVALID,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":[\"Action\"],"
                            "\"resources\":[\"Doc\"]},\"max_uses\":1,\"depth\":0}"});
}

static void bad_actions_not_array(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_TYPE,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":\"Action::\\\"read\\\"\","
                            "\"resources\":[\"Doc\"]},\"max_uses\":1,\"depth\":0}"});
}

static void bad_act_missing(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_CLAIM_MISSING, {"act", NULL});
}

static void bad_act_not_object(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_ACT_CHAIN_INVALID, {"act", "\"Human::\\\"alice\\\"\""});
}

static void bad_act_chain_too_long(void **state)
{
    EXPECT_ROOT(
        MANDATE_TOKEN_DEPTH_MISMATCH,
        {"act", "{\"sub\":\"Human::\\\"alice\\\"\",\"act\":{\"sub\":\"Human::\\\"bob\\\"\"}}"});
}

static void bad_depth_over_cap(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_DEPTH_EXCEEDED,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                            "\"resources\":[\"Doc\"]},\"max_uses\":1,\"parent\":\"p\","
                            "\"depth\":4}"});
}

static void bad_depth_without_parent(void **state)
{
    EXPECT_ROOT(MANDATE_TOKEN_DEPTH_MISMATCH,
                {"mandate", "{\"task\":\"t\",\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                            "\"resources\":[\"Doc\"]},\"max_uses\":1,\"depth\":1}"});
}

/* --- live checks: revocation, uses, the registry --- */
static void bad_revoked(void **state)
{
    revoked[0] = "root-1";
    EXPECT_ROOT(MANDATE_TOKEN_REVOKED, {"iss", "\"" ISS "\""});
}

static void bad_use_limit_exceeded(void **state)
{
    uses[0].jti = "root-1";
    uses[0].n = 5; /* max_uses 5 */
    EXPECT_ROOT(MANDATE_TOKEN_USES_EXHAUSTED, {"iss", "\"" ISS "\""});
}

static void bad_suspended_agent(void **state)
{
    status[0].uid = "Agent::\"drafter\"";
    status[0].st = MANDATE_PRINCIPAL_SUSPENDED;
    EXPECT_ROOT(MANDATE_TOKEN_SUBJECT_INACTIVE, {"iss", "\"" ISS "\""});
}

static void bad_suspended_delegator(void **state)
{
    status[0].uid = "Human::\"alice\"";
    status[0].st = MANDATE_PRINCIPAL_SUSPENDED;
    EXPECT_ROOT(MANDATE_TOKEN_DELEGATOR_INACTIVE, {"iss", "\"" ISS "\""});
}

static void bad_departed_delegator(void **state)
{
    status[0].uid = "Human::\"alice\"";
    status[0].st = MANDATE_PRINCIPAL_DEPARTED;
    EXPECT_ROOT(MANDATE_TOKEN_DELEGATOR_INACTIVE, {"iss", "\"" ISS "\""});
}

static void bad_owner_departed(void **state)
{
    status[0].uid = "Agent::\"drafter\"";
    status[0].st = MANDATE_PRINCIPAL_OWNER_INACTIVE;
    EXPECT_ROOT(MANDATE_TOKEN_OWNER_INACTIVE, {"iss", "\"" ISS "\""});
}

static void bad_unknown_agent(void **state)
{
    status[0].uid = "Agent::\"drafter\"";
    status[0].st = MANDATE_PRINCIPAL_UNKNOWN;
    EXPECT_ROOT(MANDATE_TOKEN_PRINCIPAL_UNKNOWN, {"iss", "\"" ISS "\""});
}

static void bad_revocation_store_down(void **state)
{
    hook_fails = true; /* fail closed */
    char *t = root_with(NULL);
    assert_int_equal(verify(t), MANDATE_TOKEN_HOOK_FAILED);
    mandate_token *out = NULL;
    mandate_token_error e;
    mandate_token_verify_args a = {.now = NOW};
    assert_int_equal(mandate_token_verify(svc, t, strlen(t), &a, &out, &e), MANDATE_ESTORE);
    free(t);
}

/* --- chains (sub-delegation only narrows) --- */
static void expect_child(int reason, const kv *ov)
{
    char *root = root_with(NULL), *child = child_with(ov);
    const char *parents[] = {root};
    assert_int_equal(verify_at(child, parents, 1, NOW), reason);
    free(root);
    free(child);
}

static void bad_child_without_parent(void **state)
{
    char *child = child_with(NULL);
    assert_int_equal(verify(child), MANDATE_TOKEN_CHAIN_INCOMPLETE);
    free(child);
}

static void bad_child_wrong_parent(void **state)
{
    char *other = root_with(OV({"jti", "\"root-2\""})), *child = child_with(NULL);
    const char *parents[] = {other};
    assert_int_equal(verify_at(child, parents, 1, NOW), MANDATE_TOKEN_PARENT_MISMATCH);
    free(other);
    free(child);
}

static void bad_child_widens_actions(void **state)
{
    expect_child(MANDATE_TOKEN_SCOPE_WIDENED,
                 OV({"mandate", CHILD_MANDATE("\"Action::\\\"read\\\"\",\"Action::\\\"delete\\\"\"",
                                              "\"Ticket::\\\"42\\\"\"", "2")}));
}

static void bad_child_widens_resources(void **state)
{
    /* the parent has Ticket::"42" only; the child asks for every Ticket */
    expect_child(MANDATE_TOKEN_SCOPE_WIDENED,
                 OV({"mandate", CHILD_MANDATE("\"Action::\\\"read\\\"\"", "\"Ticket\"", "2")}));
}

static void bad_child_widens_expiry(void **state)
{
    expect_child(MANDATE_TOKEN_EXPIRY_WIDENED, OV({"exp", "1800000601"}));
}

static void bad_child_valid_before_parent(void **state)
{
    expect_child(MANDATE_TOKEN_EXPIRY_WIDENED, OV({"nbf", "1799999980"}));
}

static void bad_child_issued_before_parent(void **state)
{
    expect_child(MANDATE_TOKEN_EXPIRY_WIDENED, OV({"iat", "1799999980"}));
}

static void bad_child_widens_uses(void **state)
{
    expect_child(
        MANDATE_TOKEN_USES_WIDENED,
        OV({"mandate", CHILD_MANDATE("\"Action::\\\"read\\\"\"", "\"Ticket::\\\"42\\\"\"", "6")}));
}

static void bad_child_widens_audience(void **state)
{
    expect_child(MANDATE_TOKEN_AUDIENCE_WIDENED, OV({"aud", "[\"" AUD "\",\"billing-api\"]"}));
}

static void bad_child_changes_workflow(void **state)
{
    expect_child(MANDATE_TOKEN_WORKFLOW_MISMATCH,
                 OV({"mandate", "{\"task\":\"t\",\"workflow\":\"Workflow::\\\"payroll\\\"\","
                                "\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                                "\"resources\":[\"Ticket::\\\"42\\\"\"]},\"max_uses\":1,"
                                "\"parent\":\"root-1\",\"depth\":1}"}));
}

static void bad_child_forged_act_chain(void **state)
{
    /* claims to come straight from bob, who is not the parent's agent */
    expect_child(
        MANDATE_TOKEN_ACT_CHAIN_MISMATCH,
        OV({"act", "{\"sub\":\"Human::\\\"bob\\\"\",\"act\":{\"sub\":\"Human::\\\"alice\\\"\"}}"}));
}

static void bad_child_depth_skips(void **state)
{
    expect_child(
        MANDATE_TOKEN_DEPTH_MISMATCH,
        OV({"act", "{\"sub\":\"Agent::\\\"drafter\\\"\",\"act\":{\"sub\":\"Human::\\\"alice\\\"\","
                   "\"act\":{\"sub\":\"Human::\\\"carol\\\"\"}}}"},
           {"mandate", "{\"task\":\"t\",\"workflow\":\"Workflow::\\\"support-reply\\\"\","
                       "\"scope\":{\"actions\":[\"Action::\\\"read\\\"\"],"
                       "\"resources\":[\"Ticket::\\\"42\\\"\"]},\"max_uses\":1,"
                       "\"parent\":\"root-1\",\"depth\":2}"}));
}

static void bad_child_other_issuer(void **state)
{
    expect_child(MANDATE_TOKEN_ISSUER_MISMATCH, OV({"iss", "\"https://other.test\""}));
}

static void bad_child_with_forged_parent(void **state)
{
    /* the presented parent is signed by the wrong key */
    char *p = build_obj(root_def, NULL);
    char *root = make(HDR, p, seed2), *child = child_with(NULL);
    const char *parents[] = {root};
    mandate_token *t = NULL;
    mandate_token_error e;
    mandate_token_verify_args a = {NOW, parents, 1};
    assert_int_equal(mandate_token_verify(svc, child, strlen(child), &a, &t, &e), MANDATE_ECRYPTO);
    assert_int_equal(e.reason, MANDATE_TOKEN_SIGNATURE_INVALID);
    assert_non_null(strstr(e.message, "parent delegation 1"));
    free(p);
    free(root);
    free(child);
}

static void bad_child_revoked_parent(void **state)
{
    revoked[0] = "root-1";
    expect_child(MANDATE_TOKEN_PARENT_REVOKED, NULL);
}

static void bad_child_suspended_root_human(void **state)
{
    status[0].uid = "Human::\"alice\"";
    status[0].st = MANDATE_PRINCIPAL_SUSPENDED;
    expect_child(MANDATE_TOKEN_DELEGATOR_INACTIVE, NULL);
}

static void bad_redelegate_widening(void **state)
{
    char *root_tok, *out = NULL;
    mandate_token *root = issued_root(&root_tok, 3, 600);
    const char *ok_actions[] = {"Action::\"read\""}, *wide_actions[] = {"Action::\"delete\""};
    const char *ok_res[] = {"Ticket::\"42\""}, *wide_res[] = {"Ticket"};
    mandate_delegation d = {.subject = "Agent::\"sub\"",
                            .task = "t",
                            .actions = ok_actions,
                            .n_actions = 1,
                            .resources = ok_res,
                            .n_resources = 1,
                            .max_uses = 1,
                            .now = NOW};
    mandate_token_error e;
    mandate_delegation x = d;
    x.actions = wide_actions;
    assert_int_equal(mandate_token_redelegate(svc, root, &x, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_SCOPE_WIDENED);
    x = d;
    x.resources = wide_res;
    assert_int_equal(mandate_token_redelegate(svc, root, &x, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_SCOPE_WIDENED);
    x = d;
    x.lifetime = 601;
    assert_int_equal(mandate_token_redelegate(svc, root, &x, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_EXPIRY_WIDENED);
    /* uses: the parent has 3, of which 2 are spent */
    uses[0].jti = mandate_token_get_claims(root)->jti;
    uses[0].n = 2;
    x = d;
    x.max_uses = 2;
    assert_int_equal(mandate_token_redelegate(svc, root, &x, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_USES_WIDENED);
    x = d;
    x.delegator = "Human::\"bob\"";
    assert_int_equal(mandate_token_redelegate(svc, root, &x, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_ACT_CHAIN_MISMATCH);
    x = d;
    x.workflow = "Workflow::\"payroll\"";
    assert_int_equal(mandate_token_redelegate(svc, root, &x, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_WORKFLOW_MISMATCH);
    revoked[0] = mandate_token_get_claims(root)->jti;
    assert_int_equal(mandate_token_redelegate(svc, root, &d, &out, &e), MANDATE_EDENIED);
    assert_int_equal(e.reason, MANDATE_TOKEN_PARENT_REVOKED);
    revoked[0] = NULL;
    assert_null(out);
    /* and the one that narrows is accepted */
    assert_int_equal(mandate_token_redelegate(svc, root, &d, &out, &e), 0);
    free(out);
    mandate_token_free(root);
    free(root_tok);
}

static void bad_redelegate_depth_cap(void **state)
{
    char *toks[5] = {0};
    mandate_token *t[5] = {0};
    t[0] = issued_root(&toks[0], 10, 0);
    const char *actions[] = {"Action::\"read\""};
    const char *res[] = {"Doc"};
    mandate_token_error e;
    for (int i = 1; i <= 4; i++) {
        char sub[32];
        snprintf(sub, sizeof sub, "Agent::\"a%d\"", i);
        mandate_delegation d = {.subject = sub,
                                .task = "t",
                                .actions = actions,
                                .n_actions = 1,
                                .resources = res,
                                .n_resources = 1,
                                .max_uses = 1,
                                .now = NOW};
        int rc = mandate_token_redelegate(svc, t[i - 1], &d, &toks[i], &e);
        if (i == 4) { /* max_depth is 3 */
            assert_int_equal(rc, MANDATE_EDENIED);
            assert_int_equal(e.reason, MANDATE_TOKEN_DEPTH_EXCEEDED);
            break;
        }
        assert_int_equal(rc, 0);
        const char *parents[4];
        for (int k = 0; k < i; k++)
            parents[k] = toks[i - 1 - k];
        mandate_token_verify_args a = {NOW, parents, (size_t)i};
        assert_int_equal(mandate_token_verify(svc, toks[i], strlen(toks[i]), &a, &t[i], &e), 0);
        assert_int_equal(mandate_token_get_claims(t[i])->depth, (unsigned)i);
    }
    /* a revoked middle hop kills the leaf */
    revoked[0] = mandate_token_get_claims(t[1])->jti;
    assert_int_equal(verify_at(toks[3], NULL, 0, NOW), MANDATE_TOKEN_PARENT_REVOKED);
    for (int i = 0; i < 5; i++) {
        mandate_token_free(t[i]);
        free(toks[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(crafted_root_verifies),
        T(issue_and_verify),
        T(issue_rejects_bad_requests),
        T(redelegate_chain_verifies),
        T(crafted_child_verifies),
        T(cache_hits_and_rechecks),
        T(jwks_document),
        T(signer_switch_and_rotation),
        T(reason_names_are_stable),
        T(concurrent_verification),
        T(bad_alg_none),
        T(bad_alg_none_case),
        T(bad_hs256_with_public_key),
        T(bad_alg_rs256),
        T(bad_alg_wrong_case),
        T(bad_alg_not_string),
        T(bad_alg_missing),
        T(bad_embedded_jwk),
        T(bad_embedded_jku),
        T(bad_embedded_x5u),
        T(bad_embedded_x5c),
        T(bad_crit),
        T(bad_unencoded_payload_b64),
        T(bad_typ_jwt),
        T(bad_typ_missing),
        T(bad_kid_missing),
        T(bad_kid_unknown),
        T(bad_header_duplicate_alg),
        T(bad_header_not_object),
        T(bad_header_garbage),
        T(bad_tampered_payload),
        T(bad_tampered_signature),
        T(bad_signed_by_other_key),
        T(bad_kid_swapped),
        T(bad_signature_short),
        T(bad_signature_empty),
        T(bad_base64_padding),
        T(bad_base64_std_alphabet),
        T(bad_base64_trailing_bits),
        T(bad_base64_length),
        T(bad_base64_whitespace),
        T(bad_payload_base64),
        T(bad_two_segments),
        T(bad_five_segments_jwe),
        T(bad_oversize),
        T(bad_payload_duplicate_sub),
        T(bad_payload_nested_duplicate),
        T(bad_payload_not_json),
        T(bad_payload_array),
        T(bad_expired),
        T(bad_expired_past_skew),
        T(bad_not_yet_valid),
        T(bad_issued_in_future),
        T(bad_missing_exp),
        T(bad_exp_string),
        T(bad_exp_float),
        T(bad_exp_negative),
        T(bad_exp_huge),
        T(bad_nbf_bool),
        T(bad_lifetime_over_cap),
        T(bad_exp_before_iat),
        T(bad_wrong_aud),
        T(bad_aud_array_without_ours),
        T(bad_aud_empty_array),
        T(bad_aud_number),
        T(bad_issuer_untrusted),
        T(bad_sub_not_uid),
        T(bad_sub_trailing),
        T(bad_missing_jti),
        T(bad_missing_sub),
        T(bad_mandate_unknown_member),
        T(bad_mandate_zero_uses),
        T(bad_mandate_missing_scope),
        T(bad_action_is_type),
        T(bad_actions_not_array),
        T(bad_act_missing),
        T(bad_act_not_object),
        T(bad_act_chain_too_long),
        T(bad_depth_over_cap),
        T(bad_depth_without_parent),
        T(bad_revoked),
        T(bad_use_limit_exceeded),
        T(bad_suspended_agent),
        T(bad_suspended_delegator),
        T(bad_departed_delegator),
        T(bad_owner_departed),
        T(bad_unknown_agent),
        T(bad_revocation_store_down),
        T(bad_child_without_parent),
        T(bad_child_wrong_parent),
        T(bad_child_widens_actions),
        T(bad_child_widens_resources),
        T(bad_child_widens_expiry),
        T(bad_child_valid_before_parent),
        T(bad_child_issued_before_parent),
        T(bad_child_widens_uses),
        T(bad_child_widens_audience),
        T(bad_child_changes_workflow),
        T(bad_child_forged_act_chain),
        T(bad_child_depth_skips),
        T(bad_child_other_issuer),
        T(bad_child_with_forged_parent),
        T(bad_child_revoked_parent),
        T(bad_child_suspended_root_human),
        T(bad_redelegate_widening),
        T(bad_redelegate_depth_cap),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
