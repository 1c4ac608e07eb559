/*
 * ledger_int.h: the evidence ledger's internals: RFC 6962/9162 Merkle hashing and proofs
 * (merkle.c), signed notes and Ed25519 note keys (note.c), the canonical entry encoding
 * (entry.c), and the ledger handle with group commit and the offline verifier (ledger.c).
 *
 * Tree storage: the hash of every complete subtree is stored as a node (level, index) covering
 * entries [index * 2^level, (index + 1) * 2^level); level 0 holds the leaf hashes. Appending
 * entry n writes its leaf and the nodes that entry completes (one per trailing one bit of n), so
 * the store holds under 2n nodes and any proof reads O(log n) of them. The right edge of a tree
 * whose size is not a power of two is recomputed from its O(log n) complete subtrees.
 *
 * Proof lengths are capped at MD_MERKLE_MAX_PROOF hashes; notes at MD_NOTE_MAX bytes; entry
 * bodies at MD_LEDGER_MAX_BODY bytes. Depends on store, core and libsodium, jansson.
 */
#ifndef MD_LEDGER_INT_H
#define MD_LEDGER_INT_H

#include "core/core.h"
#include "mandate/ledger.h"
#include "store/store.h"

#define MD_HASH_LEN 32
#define MD_MERKLE_MAX_PROOF 128
#define MD_MERKLE_MAX_LEVEL 63
#define MD_NOTE_MAX 65536
#define MD_NOTE_MAX_SIGS 64
#define MD_NOTE_NAME_MAX 256
#define MD_LEDGER_MAX_BODY (1u << 20)
#define MD_ENTRY_HEADER 14

/* ---- hashing ---- */
/* SHA-256 of a followed by b (either may be empty): the CPU's SHA extensions when it has them
 * (sha256.c), libsodium otherwise. */
void md_sha256_2(const void *a, size_t na, const void *b, size_t nb, uint8_t out[MD_HASH_LEN]);
/* Tests: true forces the libsodium path, false goes back to choosing by the CPU. */
void md_sha256_set_portable(bool portable);
void md_merkle_leaf_hash(const void *data, size_t len, uint8_t out[MD_HASH_LEN]);
void md_merkle_node_hash(const uint8_t l[MD_HASH_LEN], const uint8_t r[MD_HASH_LEN],
                         uint8_t out[MD_HASH_LEN]);
void md_merkle_empty_root(uint8_t out[MD_HASH_LEN]);

/* A source of stored complete-subtree hashes. */
typedef int (*md_merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
                                 uint8_t out[MD_HASH_LEN], md_diag *d);

/* MTH of entries [lo, hi); lo must be a multiple of the largest power of two < hi - lo. */
int md_merkle_range_root(md_merkle_node_fn fn, void *ctx, uint64_t lo, uint64_t hi,
                         uint8_t out[MD_HASH_LEN], md_diag *d);
/* RFC 9162 2.1.3.1 and 2.1.4.1; proof gets up to MD_MERKLE_MAX_PROOF hashes. */
int md_merkle_inclusion_proof(md_merkle_node_fn fn, void *ctx, uint64_t index, uint64_t size,
                              uint8_t proof[][MD_HASH_LEN], size_t *n, md_diag *d);
int md_merkle_consistency_proof(md_merkle_node_fn fn, void *ctx, uint64_t size1, uint64_t size2,
                                uint8_t proof[][MD_HASH_LEN], size_t *n, md_diag *d);
/* The right edge of a tree of `size` entries, cached so that proofs against that size hash
 * nothing: part[k] (when have[k]) is the root of the last (size mod 2^k) entries, root the
 * tree's root. Built from the popcount(size) complete subtrees of the right edge. */
typedef struct md_merkle_edge {
    uint64_t size;
    uint8_t have[MD_MERKLE_MAX_LEVEL + 2];
    uint8_t part[MD_MERKLE_MAX_LEVEL + 2][MD_HASH_LEN];
    uint8_t root[MD_HASH_LEN];
} md_merkle_edge;
int md_merkle_edge_build(md_merkle_node_fn fn, void *ctx, uint64_t size, md_merkle_edge *e,
                         md_diag *d);
/* The same proofs using a right-edge cache (ignored unless e->size is the proof's tree size). */
int md_merkle_inclusion_proof_edge(md_merkle_node_fn fn, void *ctx, const md_merkle_edge *e,
                                   uint64_t index, uint64_t size, uint8_t proof[][MD_HASH_LEN],
                                   size_t *n, md_diag *d);
int md_merkle_consistency_proof_edge(md_merkle_node_fn fn, void *ctx, const md_merkle_edge *e,
                                     uint64_t size1, uint64_t size2, uint8_t proof[][MD_HASH_LEN],
                                     size_t *n, md_diag *d);
/* RFC 9162 2.1.3.2 and 2.1.4.2; MANDATE_ECRYPTO with a message when the proof fails. */
/* Hashes other than 32 bytes fail, except that equal sizes need only equal roots. Sizes of 0
 * never verify (a proof about the empty tree proves nothing). */
int md_merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t *leaf, size_t leaf_len,
                               const uint8_t (*proof)[MD_HASH_LEN], size_t n, const uint8_t *root,
                               size_t root_len, md_diag *d);
int md_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                 size_t root1_len, const uint8_t *root2, size_t root2_len,
                                 const uint8_t (*proof)[MD_HASH_LEN], size_t n, md_diag *d);

/* The right edge of a tree: h[k] is the complete subtree at level k for each set bit k of size. */
typedef struct md_merkle_frontier {
    uint64_t size;
    uint8_t h[MD_MERKLE_MAX_LEVEL + 1][MD_HASH_LEN];
} md_merkle_frontier;

typedef int (*md_merkle_emit_fn)(void *ctx, unsigned level, uint64_t index,
                                 const uint8_t hash[MD_HASH_LEN]);
/* Adds a leaf; calls emit for the leaf and every node it completes (lowest first). */
int md_merkle_frontier_push(md_merkle_frontier *f, const uint8_t leaf[MD_HASH_LEN],
                            md_merkle_emit_fn emit, void *ctx);
void md_merkle_frontier_root(const md_merkle_frontier *f, uint8_t out[MD_HASH_LEN]);

/* ---- base64 and hex helpers ---- */
/* Standard base64 with padding into a NUL-terminated string (out needs 4 * ceil(n/3) + 1). */
void md_b64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);
/* Strict decoding: the text must be the canonical encoding of the bytes; returns the length or
 * -1. */
long md_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* ---- signed notes (C2SP signed-note) with Ed25519 keys ---- */
typedef struct md_note_signer {
    char name[MD_NOTE_NAME_MAX];
    uint8_t id[4];
    uint8_t pk[32];
    uint8_t sk[64];
} md_note_signer;

typedef struct md_note_verifier {
    char name[MD_NOTE_NAME_MAX];
    uint8_t id[4];
    uint8_t pk[32];
} md_note_verifier;

/* Makes a key pair; the texts are "PRIVATE+KEY+<name>+<id>+<b64>" and "<name>+<id>+<b64>",
 * appended to the buffers. */
int md_note_keygen(const char *name, md_buf *signer_text, md_buf *verifier_text, md_diag *d);
int md_note_signer_parse(const char *text, size_t len, md_note_signer *out, md_diag *d);
int md_note_verifier_parse(const char *text, size_t len, md_note_verifier *out, md_diag *d);
int md_note_verifier_format(const md_note_verifier *v, md_buf *out);
void md_note_signer_verifier(const md_note_signer *s, md_note_verifier *out);
/* Appends text + "\n" + "— name sig\n" to out; text must end in a newline. */
int md_note_sign(const md_note_signer *s, const char *text, size_t len, md_buf *out, md_diag *d);
/* Checks that the note carries a valid signature by v; *text_len gets the signed text's length. */
int md_note_open(const md_note_verifier *v, const char *note, size_t len, size_t *text_len,
                 md_diag *d);

/* tlog-checkpoint body: "<origin>\n<size>\n<base64 root>\n". */
int md_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[MD_HASH_LEN],
                         md_buf *out);
/* Parses a checkpoint body (extension lines allowed); origin_out may be NULL. */
int md_checkpoint_parse(const char *text, size_t len, md_buf *origin_out, uint64_t *size,
                        uint8_t root[MD_HASH_LEN], md_diag *d);

/* ---- entries ---- */
/* Canonical encoding: 0x01, type (1 byte), time_ms (int64 big-endian), body length (uint32
 * big-endian), body (canonical JSON). The body is parsed and re-serialized. */
int md_entry_encode(const mandate_ledger_entry *e, md_buf *out, md_diag *d);
/* Whether a body is already canonical (the round trip would reproduce it byte for byte); false
 * for some canonical bodies too (reals, \u escapes, non-ASCII text), never true for others. */
bool md_entry_body_canonical(const char *body, size_t len);
/* Checks the header of an encoded entry and points at its body. */
int md_entry_decode(const void *data, size_t len, int *type, int64_t *time_ms, const char **body,
                    size_t *body_len);
/* Appends {"index":..,"type":..,"time_ms":..,"body":..,"leaf_hash":..}. */
int md_entry_to_json(uint64_t index, const void *data, size_t len, md_buf *out, md_diag *d);

/* ---- ledger internals for tests ---- */
md_store *md_ledger_writer_store(mandate_ledger *l);
/* The one-thread, one-pass reference verifier (same report as mandate_ledger_verify). */
int md_ledger_verify_serial(const char *db_path, const char *verifier_key, mandate_ledger_report *r,
                            mandate_diag *diag);
/* The verifier's chunk size, 2^lg entries (1..16; other values restore the default 13). */
void md_ledger_verify_set_chunk_log(unsigned lg);

#endif
