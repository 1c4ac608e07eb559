/*
 * entry.c: typed ledger entries and their canonical byte encoding.
 *
 * Encoding (all integers big-endian): 0x01 (version), type (1 byte), time_ms (8 bytes, two's
 * complement), body length (4 bytes), body. The body is a JSON value re-serialized by jansson
 * with sorted keys, no whitespace, UTF-8 kept as is, so the same entry always hashes the same.
 * The leaf hash is SHA-256(0x00 || encoding).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>

#include "ledger/ledger_int.h"

static const char *const type_names[] = {
    NULL,         "decision", "approval", "outcome", "delegation",
    "revocation", "registry", "policy",   "note",
};

MD_EXPORT const char *mandate_entry_type_name(int type)
{
    if (type < 1 || type >= (int)MD_ARRAY_LEN(type_names))
        return NULL;
    return type_names[type];
}

MD_EXPORT int mandate_entry_type_from_name(const char *name)
{
    for (int i = 1; name && i < (int)MD_ARRAY_LEN(type_names); i++)
        if (!strcmp(name, type_names[i]))
            return i;
    return 0;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int md_entry_encode(const mandate_ledger_entry *e, md_buf *out, md_diag *d)
{
    if (!e || !mandate_entry_type_name(e->type))
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "unknown entry type %d", e ? e->type : 0);
    if (!e->body)
        return md_diag_set(d, MANDATE_EINVAL, 0, 0, "entry has no body");
    if (e->body_len > MD_LEDGER_MAX_BODY)
        return md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "entry body is %zu bytes, over the %u cap",
                           e->body_len, MD_LEDGER_MAX_BODY);
    json_error_t jerr;
    json_t *j = json_loadb(e->body, e->body_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return md_diag_set(d, MANDATE_EPARSE, (uint32_t)jerr.line, (uint32_t)jerr.column,
                           "entry body is not valid JSON: %s", jerr.text);
    char *canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    if (!canon)
        return md_diag_set(d, MANDATE_ENOMEM, 0, 0, "out of memory");
    size_t bl = strlen(canon);
    int rc;
    if (bl > MD_LEDGER_MAX_BODY) {
        rc = md_diag_set(d, MANDATE_ETOOBIG, 0, 0, "canonical entry body is over the %u cap",
                         MD_LEDGER_MAX_BODY);
        goto out;
    }
    uint8_t hdr[MD_ENTRY_HEADER];
    hdr[0] = 0x01;
    hdr[1] = (uint8_t)e->type;
    put_be(hdr + 2, (uint64_t)e->time_ms, 8);
    put_be(hdr + 10, bl, 4);
    out->len = 0;
    rc = md_buf_append(out, hdr, sizeof hdr);
    if (rc == 0)
        rc = md_buf_append(out, canon, bl);
    if (rc)
        rc = md_diag_set(d, rc, 0, 0, "out of memory");
out:
    free(canon);
    return rc;
}

int md_entry_decode(const void *data, size_t len, int *type, int64_t *time_ms, const char **body,
                    size_t *body_len)
{
    const uint8_t *p = data;
    if (len < MD_ENTRY_HEADER || p[0] != 0x01 || !mandate_entry_type_name(p[1]))
        return MANDATE_ECORRUPT;
    uint64_t bl = get_be(p + 10, 4);
    if (bl != len - MD_ENTRY_HEADER)
        return MANDATE_ECORRUPT;
    if (type)
        *type = p[1];
    if (time_ms)
        *time_ms = (int64_t)get_be(p + 2, 8);
    if (body)
        *body = (const char *)p + MD_ENTRY_HEADER;
    if (body_len)
        *body_len = (size_t)bl;
    return 0;
}

int md_entry_to_json(uint64_t index, const void *data, size_t len, md_buf *out, md_diag *d)
{
    int type;
    int64_t t;
    const char *body;
    size_t bl;
    if (md_entry_decode(data, len, &type, &t, &body, &bl))
        return md_diag_set(d, MANDATE_ECORRUPT, 0, 0, "entry %" PRIu64 " is malformed", index);
    uint8_t h[MD_HASH_LEN];
    char b64[64];
    md_merkle_leaf_hash(data, len, h);
    md_b64_encode(h, sizeof h, b64, sizeof b64);
    int rc = md_buf_printf(
        out, "{\"index\":%" PRIu64 ",\"type\":\"%s\",\"time_ms\":%" PRId64 ",\"body\":", index,
        mandate_entry_type_name(type), t);
    if (rc == 0)
        rc = md_buf_append(out, body, bl);
    if (rc == 0)
        rc = md_buf_printf(out, ",\"leaf_hash\":\"%s\"}", b64);
    return rc ? md_diag_set(d, rc, 0, 0, "out of memory") : 0;
}
