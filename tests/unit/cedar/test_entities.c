/* test_entities.c: the entity store (closure, `in`, cycles, scale), entities/values/contexts
 * from Cedar JSON with and without a schema, md_json_parse, and request validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "cedar/cedar_int.h"
#include "cedar/entities.h"

static md_euid U(const char *type, const char *id)
{
    return (md_euid){md_str_c(type), md_str_c(id)};
}

static md_entity ent(md_euid uid, const md_euid *parents, size_t n)
{
    md_entity e = {.uid = uid, .parents = parents, .n_parents = n};
    return e;
}

static int load(md_arena *a, const char *json, const md_schema *s, md_entities **es, md_diag *d)
{
    json_t *j = NULL;
    int rc = md_json_parse(json, strlen(json), &j, d);
    if (rc)
        return rc;
    rc = md_entities_from_json(a, j, s, es, d);
    json_decref(j);
    return rc;
}

static const md_schema *schema(md_arena *a, const char *text)
{
    const md_schema *s = NULL;
    md_diag d = {0};
    int rc = md_schema_parse(a, text, strlen(text), &s, &d);
    if (rc)
        fprintf(stderr, "schema: %s\n", d.msg);
    assert_int_equal(rc, 0);
    return s;
}

/* md_record_get's value, or NULL when the key is absent; the last few results stay valid. */
static const md_value *rget(const md_record *r, md_str key)
{
    static md_value ring[8];
    static unsigned next;
    md_value *v = &ring[next++ % 8];
    return md_record_get(r, key, v) ? v : NULL;
}

static const md_value *attr(const md_entities *es, md_euid uid, const char *name)
{
    const md_entity *e = md_entities_find(es, &uid);
    assert_non_null(e);
    return rget(e->attrs, md_str_c(name));
}

/* ---- store ---- */

static void store_add_find_order(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    assert_int_equal(md_entities_new(a, &es), 0);
    md_entity e1 = ent(U("User", "alice"), NULL, 0), e2 = ent(U("User", "bob"), NULL, 0);
    assert_int_equal(md_entities_add(es, &e1), 0);
    assert_int_equal(md_entities_add(es, &e2), 0);
    assert_int_equal(md_entities_count(es), 2);
    assert_true(md_str_eq_c(md_entities_at(es, 0)->uid.id, "alice"));
    assert_true(md_str_eq_c(md_entities_at(es, 1)->uid.id, "bob"));
    assert_ptr_equal(md_entities_find(es, &e2.uid), md_entities_at(es, 1));
    /* Attributes and tags are never NULL once stored. */
    assert_non_null(md_entities_at(es, 0)->attrs);
    assert_non_null(md_entities_at(es, 0)->tags);
    md_euid carol = U("User", "carol"), alice_t = U("Team", "alice");
    assert_null(md_entities_find(es, &carol));
    assert_null(md_entities_find(es, &alice_t));
    md_arena_free(a);
}

static void store_duplicate_and_sealed(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    assert_int_equal(md_entities_new(a, &es), 0);
    md_entity e = ent(U("User", "alice"), NULL, 0);
    assert_int_equal(md_entities_add(es, &e), 0);
    assert_int_equal(md_entities_add(es, &e), MANDATE_EEXIST);
    assert_int_equal(md_entities_count(es), 1);
    assert_int_equal(md_entities_seal(es, &d), 0);
    md_entity f = ent(U("User", "bob"), NULL, 0);
    assert_int_equal(md_entities_add(es, &f), MANDATE_EINVAL);
    assert_int_equal(md_entities_seal(es, &d), 0); /* idempotent */
    md_arena_free(a);
}

static void store_chain_closure_sorted(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    md_euid pa[] = {U("Group", "b")}, pb[] = {U("Group", "c")};
    md_entity ea = ent(U("User", "a"), pa, 1), eb = ent(U("Group", "b"), pb, 1),
              ec = ent(U("Group", "c"), NULL, 0);
    assert_int_equal(md_entities_new(a, &es), 0);
    assert_int_equal(md_entities_add(es, &ea), 0);
    assert_int_equal(md_entities_add(es, &eb), 0);
    assert_int_equal(md_entities_add(es, &ec), 0);
    assert_int_equal(md_entities_seal(es, &d), 0);
    const md_entity *x = md_entities_find(es, &ea.uid);
    assert_int_equal(x->n_ancestors, 2);
    assert_true(md_euid_eq(&x->ancestors[0], &pa[0]));
    assert_true(md_euid_eq(&x->ancestors[1], &pb[0]));
    assert_true(md_entities_in(es, &ea.uid, &ec.uid));
    assert_true(md_entities_in(es, &ea.uid, &ea.uid));
    assert_false(md_entities_in(es, &ec.uid, &ea.uid));
    assert_false(md_entities_has_cycle(es, NULL));
    md_arena_free(a);
}

static void store_missing_entities_and_parents(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    md_euid pa[] = {U("Group", "ghost")};
    md_entity ea = ent(U("User", "a"), pa, 1);
    assert_int_equal(md_entities_new(a, &es), 0);
    assert_int_equal(md_entities_add(es, &ea), 0);
    assert_int_equal(md_entities_seal(es, &d), 0);
    md_euid ghost = U("Group", "ghost"), nobody = U("User", "nobody");
    assert_true(md_entities_in(es, &ea.uid, &ghost)); /* a parent not in the store counts */
    assert_false(md_entities_in(es, &ghost, &ea.uid));
    assert_true(md_entities_in(es, &nobody, &nobody));
    assert_false(md_entities_in(es, &nobody, &ghost));
    assert_null(md_entities_find(es, &nobody));
    assert_null(md_entities_at(es, 1));
    assert_int_equal(md_entities_count(NULL), 0);
    md_arena_free(a);
}

static void store_cycle_terminates(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    md_euid pa[] = {U("G", "b")}, pb[] = {U("G", "c")}, pc[] = {U("G", "a")}, px[] = {U("G", "a")};
    md_entity e[] = {ent(U("G", "a"), pa, 1), ent(U("G", "b"), pb, 1), ent(U("G", "c"), pc, 1),
                     ent(U("U", "x"), px, 1)};
    assert_int_equal(md_entities_new(a, &es), 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(md_entities_add(es, &e[i]), 0);
    assert_int_equal(md_entities_seal(es, &d), 0);
    md_euid at;
    assert_true(md_entities_has_cycle(es, &at));
    for (size_t i = 0; i < 3; i++) {
        const md_entity *x = md_entities_find(es, &e[i].uid);
        assert_int_equal(x->n_ancestors, 2); /* the other two, never itself */
        for (size_t k = 0; k < 3; k++)
            assert_true(md_entities_in(es, &e[i].uid, &e[k].uid));
    }
    assert_int_equal(md_entities_find(es, &e[3].uid)->n_ancestors, 3);
    md_arena_free(a);
}

static void store_self_loop(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    md_euid p[] = {U("G", "a"), U("G", "z")};
    md_entity e = ent(U("G", "a"), p, 2);
    assert_int_equal(md_entities_new(a, &es), 0);
    assert_int_equal(md_entities_add(es, &e), 0);
    assert_int_equal(md_entities_seal(es, &d), 0);
    assert_true(md_entities_has_cycle(es, NULL));
    const md_entity *x = md_entities_find(es, &e.uid);
    assert_int_equal(x->n_ancestors, 1);
    assert_true(md_euid_eq(&x->ancestors[0], &p[1]));
    md_arena_free(a);
}

static void store_diamond_and_sharing(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    md_euid pa[] = {U("G", "b"), U("G", "c"), U("G", "b")}, pb[] = {U("G", "d")},
            pc[] = {U("G", "d")}, pk[] = {U("G", "b")};
    md_entity e[] = {ent(U("U", "a"), pa, 3),   ent(U("G", "b"), pb, 1),  ent(U("G", "c"), pc, 1),
                     ent(U("G", "d"), NULL, 0), ent(U("U", "k1"), pk, 1), ent(U("U", "k2"), pk, 1)};
    assert_int_equal(md_entities_new(a, &es), 0);
    for (size_t i = 0; i < MD_ARRAY_LEN(e); i++)
        assert_int_equal(md_entities_add(es, &e[i]), 0);
    assert_int_equal(md_entities_seal(es, &d), 0);
    const md_entity *x = md_entities_find(es, &e[0].uid);
    assert_int_equal(x->n_ancestors, 3); /* b, c, d once each */
    const md_entity *k1 = md_entities_find(es, &e[4].uid), *k2 = md_entities_find(es, &e[5].uid);
    assert_int_equal(k1->n_ancestors, 2);
    assert_ptr_equal(k1->ancestors, k2->ancestors); /* siblings share one array */
    md_arena_free(a);
}

static int id_index(const char *id)
{
    int v = 0;
    for (const char *p = id + 1; *p; p++)
        v = v * 10 + (*p - '0');
    return v;
}

/* A random DAG with parents outside the store, checked against a naive graph walk. */
static void store_random_dag_matches_walk(void **state)
{
    enum { N = 3000 };
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    char(*ids)[16] = calloc(N + 50, 16);
    md_euid *uids = calloc(N + 50, sizeof *uids);
    for (int i = 0; i < N + 50; i++) {
        snprintf(ids[i], 16, "e%d", i);
        uids[i] = U("T", ids[i]);
    }
    unsigned seed = 12345;
    assert_int_equal(md_entities_new(a, &es), 0);
    for (int i = 0; i < N; i++) {
        size_t np = (seed = seed * 1103515245u + 12345u) >> 16 & 3;
        md_euid *ps = md_arena_array(a, np + 1, sizeof *ps);
        for (size_t k = 0; k < np; k++) {
            seed = seed * 1103515245u + 12345u;
            int target = i + 1 + (int)((seed >> 16) % 60); /* only later ids: acyclic */
            ps[k] = uids[target < N + 50 ? target : N + 49];
        }
        md_entity e = ent(uids[i], ps, np);
        assert_int_equal(md_entities_add(es, &e), 0);
    }
    assert_int_equal(md_entities_seal(es, &d), 0);
    assert_false(md_entities_has_cycle(es, NULL));
    char *seen = calloc(N + 50, 1);
    int *queue = calloc(N + 50, sizeof *queue);
    for (int i = 0; i < N; i += 37) {
        memset(seen, 0, N + 50);
        int qh = 0, qt = 0;
        queue[qt++] = i;
        while (qh < qt) {
            const md_entity *x = md_entities_find(es, &uids[queue[qh++]]);
            for (size_t k = 0; x && k < x->n_parents; k++) {
                int t = id_index(x->parents[k].id.ptr);
                if (!seen[t]) {
                    seen[t] = 1;
                    queue[qt++] = t;
                }
            }
        }
        size_t count = 0;
        for (int t = 0; t < N + 50; t++) {
            if (t == i)
                continue;
            assert_int_equal(md_entities_in(es, &uids[i], &uids[t]), seen[t] != 0);
            count += seen[t] != 0;
        }
        assert_int_equal(md_entities_find(es, &uids[i])->n_ancestors, count);
    }
    free(seen);
    free(queue);
    free(ids);
    free(uids);
    md_arena_free(a);
}

static void store_deep_chain(void **state)
{
    enum { N = 3000 };
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    md_euid *uids = md_arena_array(a, N, sizeof *uids);
    for (int i = 0; i < N; i++)
        uids[i] = (md_euid){MD_STR_LIT("G"), md_str_c(md_arena_printf(a, "%d", i))};
    assert_int_equal(md_entities_new(a, &es), 0);
    /* Added leaf first, so the walk starts at the deepest end. */
    for (int i = 0; i < N; i++) {
        md_entity e = ent(uids[i], i + 1 < N ? &uids[i + 1] : NULL, i + 1 < N);
        assert_int_equal(md_entities_add(es, &e), 0);
    }
    assert_int_equal(md_entities_seal(es, &d), 0);
    assert_int_equal(md_entities_find(es, &uids[0])->n_ancestors, N - 1);
    assert_true(md_entities_in(es, &uids[0], &uids[N - 1]));
    assert_false(md_entities_in(es, &uids[N - 1], &uids[0]));
    md_arena_free(a);
}

static void store_many_adds_grow_table(void **state)
{
    enum { N = 50000 };
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    assert_int_equal(md_entities_new(a, &es), 0);
    for (int i = 0; i < N; i++) {
        md_entity e =
            ent((md_euid){MD_STR_LIT("User"), md_str_c(md_arena_printf(a, "u%d", i))}, NULL, 0);
        assert_int_equal(md_entities_add(es, &e), 0);
    }
    assert_int_equal(md_entities_seal(es, &d), 0);
    for (int i = 0; i < N; i += 7) {
        md_euid u = {MD_STR_LIT("User"), md_str_c(md_arena_printf(a, "u%d", i))};
        const md_entity *e = md_entities_find(es, &u);
        assert_non_null(e);
        assert_ptr_equal(e, md_entities_at(es, (size_t)i));
    }
    md_euid other = U("Group", "u1");
    assert_null(md_entities_find(es, &other));
    md_arena_free(a);
}

/* Sealing makes entity-valued attributes share the uid strings of the entities they name, which
 * md_entities_resolve maps back without hashing; other uids (a copy, a long id, an unknown entity,
 * another type with the same id) resolve to nothing and are still found by hashing. */
static void store_shared_uids_resolve(void **state)
{
    enum { N = 5000 }; /* past the first chunk, which grows and moves while adding */
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    assert_int_equal(md_entities_new(a, &es), 0);
    char long_id[64];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    for (int i = 0; i < N; i++) {
        md_euid u = {MD_STR_LIT("User"), md_str_c(i == 3 ? long_id : md_arena_printf(a, "u%d", i))};
        md_field f[2] = {
            {MD_STR_LIT("boss"),
             {.kind = MD_V_ENTITY,
              .u.uid = {MD_STR_LIT("User"), md_str_c(md_arena_printf(a, "u%d", (i + 1) % N))}}},
            {MD_STR_LIT("ghost"),
             {.kind = MD_V_ENTITY, .u.uid = {MD_STR_LIT("User"), MD_STR_LIT("nobody")}}},
        };
        md_entity e = ent(u, NULL, 0);
        assert_int_equal(md_record_new(a, f, 2, &e.attrs, NULL), 0);
        assert_int_equal(md_entities_add(es, &e), 0);
    }
    assert_null(md_entities_resolve(es, &md_entities_at(es, 0)->uid));
    assert_int_equal(md_entities_seal(es, &d), 0);
    for (int i = 0; i < N; i++) {
        const md_entity *e = md_entities_at(es, (size_t)i);
        const md_value *boss = rget(e->attrs, MD_STR_LIT("boss"));
        assert_non_null(boss);
        const md_entity *t = md_entities_resolve(es, &boss->u.uid);
        if ((i + 1) % N == 3) {
            assert_null(t); /* u3 has a long id: not copied into its entry */
            assert_null(md_entities_find(es, &boss->u.uid));
            continue;
        }
        assert_ptr_equal(t, md_entities_at(es, (size_t)(i + 1) % N));
        assert_true(md_euid_eq(&t->uid, &boss->u.uid));
        assert_ptr_equal(md_entities_resolve(es, &e->uid), i == 3 ? NULL : e);
        const md_value *ghost = rget(e->attrs, MD_STR_LIT("ghost"));
        assert_null(md_entities_resolve(es, &ghost->u.uid));
        assert_null(md_entities_find(es, &ghost->u.uid));
    }
    md_euid copy = {MD_STR_LIT("User"), md_str_c(md_arena_printf(a, "u%d", 42))};
    assert_null(md_entities_resolve(es, &copy));
    assert_ptr_equal(md_entities_find(es, &copy), md_entities_at(es, 42));
    md_euid other = md_entities_at(es, 42)->uid;
    other.type = MD_STR_LIT("Group");
    assert_null(md_entities_resolve(es, &other));
    assert_null(md_entities_find(es, &other));
    md_euid lng = {MD_STR_LIT("User"), md_str_c(long_id)};
    assert_ptr_equal(md_entities_find(es, &lng), md_entities_at(es, 3));
    md_arena_free(a);
}

/* Keys with the same signature (length, first, middle and last byte) are told apart; large
 * records are searched. */
static void record_keys_with_equal_signatures(void **state)
{
    md_arena *a = md_arena_new();
    assert_int_equal(md_key_sig(MD_STR_LIT("axbxc")), md_key_sig(MD_STR_LIT("aybyc")));
    md_field f[3] = {{MD_STR_LIT("aybyc"), {.kind = MD_V_LONG, .u.i = 2}},
                     {MD_STR_LIT("axbxc"), {.kind = MD_V_LONG, .u.i = 1}},
                     {MD_STR_LIT(""), {.kind = MD_V_LONG, .u.i = 3}}};
    const md_record *r = NULL;
    assert_int_equal(md_record_new(a, f, 3, &r, NULL), 0);
    assert_int_equal(rget(r, MD_STR_LIT("axbxc"))->u.i, 1);
    assert_int_equal(rget(r, MD_STR_LIT("aybyc"))->u.i, 2);
    assert_int_equal(rget(r, MD_STR_LIT(""))->u.i, 3);
    assert_null(rget(r, MD_STR_LIT("azbzc")));
    assert_null(rget(md_record_empty(), MD_STR_LIT("axbxc")));
    /* Past 16 fields a lookup searches instead of scanning. */
    md_field many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (md_field){md_str_c(md_arena_printf(a, "k%d", i)), {.kind = MD_V_LONG, .u.i = i}};
    assert_int_equal(md_record_new(a, many, 40, &r, NULL), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(rget(r, md_str_c(md_arena_printf(a, "k%d", i)))->u.i, i);
    assert_null(rget(r, MD_STR_LIT("k40")));
    md_arena_free(a);
}

/* Every kind of value comes back from a record as it went in (records hold values in 16 bytes:
 * uids and ip addresses out of line); the caller's fields are left in their order; a record with
 * the same keys as another shares its keys, one with other keys does not. */
static void record_values_round_trip(void **state)
{
    md_arena *a = md_arena_new();
    md_value ip = {.kind = MD_V_IP};
    assert_true(md_ip_parse(MD_STR_LIT("10.0.0.0/8"), &ip.u.ip));
    const md_set *set = NULL;
    md_value items[2] = {{.kind = MD_V_LONG, .u.i = 2}, {.kind = MD_V_LONG, .u.i = 1}};
    assert_int_equal(md_set_new(a, items, 2, &set), 0);
    md_field inner[1] = {{MD_STR_LIT("x"), {.kind = MD_V_BOOL, .u.b = true}}};
    const md_record *in = NULL;
    assert_int_equal(md_record_new(a, inner, 1, &in, NULL), 0);
    md_field f[] = {
        {MD_STR_LIT("long"), {.kind = MD_V_LONG, .u.i = INT64_MIN}},
        {MD_STR_LIT("bool"), {.kind = MD_V_BOOL, .u.b = true}},
        {MD_STR_LIT("false"), {.kind = MD_V_BOOL, .u.b = false}},
        {MD_STR_LIT("str"), {.kind = MD_V_STRING, .u.s = MD_STR_LIT("hello")}},
        {MD_STR_LIT("empty"), {.kind = MD_V_STRING, .u.s = MD_STR_LIT("")}},
        {MD_STR_LIT("uid"), {.kind = MD_V_ENTITY, .u.uid = U("NS::User", "alice")}},
        {MD_STR_LIT("set"), {.kind = MD_V_SET, .u.set = set}},
        {MD_STR_LIT("rec"), {.kind = MD_V_RECORD, .u.rec = in}},
        {MD_STR_LIT("ip"), ip},
        {MD_STR_LIT("dec"), {.kind = MD_V_DECIMAL, .u.i = -12345}},
        {MD_STR_LIT("time"), {.kind = MD_V_DATETIME, .u.i = 86400000}},
        {MD_STR_LIT("dur"), {.kind = MD_V_DURATION, .u.i = -1}},
    };
    size_t n = MD_ARRAY_LEN(f);
    const md_record *r = NULL;
    assert_int_equal(md_record_new(a, f, n, &r, NULL), 0);
    assert_int_equal(r->n, n);
    assert_true(md_str_eq_c(f[0].key, "long")); /* the caller's array is not sorted in place */
    for (size_t i = 0; i < n; i++) {
        md_value v;
        assert_true(md_record_get(r, f[i].key, &v));
        assert_true(md_value_eq(&v, &f[i].val));
        assert_int_equal(v.kind, f[i].val.kind);
    }
    for (size_t i = 1; i < n; i++)
        assert_true(md_str_cmp(md_record_at(r, i - 1).key, md_record_at(r, i).key) < 0);
    assert_true(md_record_get(r, MD_STR_LIT("ip"), NULL));
    assert_false(md_record_get(r, MD_STR_LIT("nope"), NULL));
    /* The same keys in another order share the first record's keys; other keys do not. */
    md_field g[2] = {{MD_STR_LIT("b"), {.kind = MD_V_LONG, .u.i = 1}},
                     {MD_STR_LIT("a"), {.kind = MD_V_LONG, .u.i = 2}}};
    md_field h[2] = {{MD_STR_LIT("a"), {.kind = MD_V_LONG, .u.i = 3}},
                     {MD_STR_LIT("b"), {.kind = MD_V_LONG, .u.i = 4}}};
    md_field k[2] = {{MD_STR_LIT("a"), {.kind = MD_V_LONG, .u.i = 5}},
                     {MD_STR_LIT("c"), {.kind = MD_V_LONG, .u.i = 6}}};
    const md_record *rg = NULL, *rh = NULL, *rk = NULL;
    assert_int_equal(md_record_new(a, g, 2, &rg, NULL), 0);
    assert_int_equal(md_record_new_like(a, h, 2, rg, &rh, NULL), 0);
    assert_int_equal(md_record_new_like(a, k, 2, rg, &rk, NULL), 0);
    assert_ptr_equal(rh->keys, rg->keys);
    assert_ptr_equal(rh->sigs, rg->sigs);
    assert_ptr_not_equal(rk->keys, rg->keys);
    assert_int_equal(rget(rh, MD_STR_LIT("b"))->u.i, 4);
    assert_int_equal(rget(rk, MD_STR_LIT("c"))->u.i, 6);
    assert_null(rget(rk, MD_STR_LIT("b")));
    /* Duplicate keys are refused, with the key named. */
    md_field dup[2] = {{MD_STR_LIT("z"), {.kind = MD_V_LONG}},
                       {MD_STR_LIT("z"), {.kind = MD_V_LONG}}};
    md_str which = {0};
    assert_int_equal(md_record_new_like(a, dup, 2, rg, &rk, &which), MANDATE_EEXIST);
    assert_true(md_str_eq_c(which, "z"));
    md_arena_free(a);
}

/* ---- JSON without a schema ---- */

static void json_values_without_schema(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    const char *j = "[{\"uid\":{\"type\":\"User\",\"id\":\"alice\"},\"attrs\":{\"b\":true,\"n\":-7,"
                    "\"s\":\"hi\",\"set\":[3,1,3],\"rec\":{\"x\":{\"y\":1}},"
                    "\"e\":{\"__entity\":{\"type\":\"NS::Group\",\"id\":\"g\"}},"
                    "\"dec\":{\"__extn\":{\"fn\":\"decimal\",\"arg\":\"1.2\"}},"
                    "\"ip\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"10.0.0.0/8\"}},"
                    "\"ti\":{\"type\":\"User\",\"id\":\"bob\"}},\"parents\":[]}]";
    int rc = load(a, j, NULL, &es, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    md_euid alice = U("User", "alice");
    assert_int_equal(attr(es, alice, "b")->kind, MD_V_BOOL);
    assert_int_equal(attr(es, alice, "n")->u.i, -7);
    assert_true(md_str_eq_c(attr(es, alice, "s")->u.s, "hi"));
    const md_value *set = attr(es, alice, "set");
    assert_int_equal(set->kind, MD_V_SET);
    assert_int_equal(set->u.set->n, 2);
    assert_int_equal(attr(es, alice, "rec")->kind, MD_V_RECORD);
    const md_value *e = attr(es, alice, "e");
    assert_int_equal(e->kind, MD_V_ENTITY);
    assert_true(md_str_eq_c(e->u.uid.type, "NS::Group"));
    assert_int_equal(attr(es, alice, "dec")->kind, MD_V_DECIMAL);
    assert_int_equal(attr(es, alice, "dec")->u.i, 12000);
    assert_int_equal(attr(es, alice, "ip")->kind, MD_V_IP);
    /* Without a schema {"type","id"} is a plain record. */
    assert_int_equal(attr(es, alice, "ti")->kind, MD_V_RECORD);
    assert_int_equal(attr(es, alice, "ti")->u.rec->n, 2);
    md_arena_free(a);
}

static void json_uid_forms_and_tags(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    const char *j = "[{\"uid\":{\"__entity\":{\"type\":\"User\",\"id\":\"a\"}},\"attrs\":{},"
                    "\"parents\":[{\"__entity\":{\"type\":\"G\",\"id\":\"g\"}},"
                    "{\"type\":\"G\",\"id\":\"h\"}],\"tags\":{\"k\":\"v\"}}]";
    assert_int_equal(load(a, j, NULL, &es, &d), 0);
    md_euid u = U("User", "a"), g = U("G", "g"), h = U("G", "h");
    assert_true(md_entities_in(es, &u, &g));
    assert_true(md_entities_in(es, &u, &h));
    const md_entity *e = md_entities_find(es, &u);
    assert_int_equal(e->tags->n, 1);
    assert_true(md_str_eq_c(rget(e->tags, MD_STR_LIT("k"))->u.s, "v"));
    md_arena_free(a);
}

static void json_long_range(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    const char *ok = "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{"
                     "\"max\":9223372036854775807,\"min\":-9223372036854775808},\"parents\":[]}]";
    assert_int_equal(load(a, ok, NULL, &es, &d), 0);
    assert_true(attr(es, U("A", ""), "max")->u.i == INT64_MAX);
    assert_true(attr(es, U("A", ""), "min")->u.i == INT64_MIN);
    const char *over = "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{"
                       "\"x\":9223372036854775808},\"parents\":[]}]";
    assert_int_equal(load(a, over, NULL, &es, &d), MANDATE_EPARSE);
    md_diag_clear(&d);
    const char *real = "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{\"x\":1.5},"
                       "\"parents\":[]}]";
    assert_int_equal(load(a, real, NULL, &es, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "attribute 'x'"));
    assert_non_null(strstr(d.msg, "not an integer"));
    md_arena_free(a);
}

static void json_rejects_bad_values(void **state)
{
    static const char *const bad[] = {
        "{\"a\":null}",
        "{\"a\":{\"__expr\":\"1 + 1\"}}",
        "{\"a\":{\"__extn\":{\"fn\":\"nosuch\",\"arg\":\"1\"}}}",
        "{\"a\":{\"__extn\":{\"fn\":\"decimal\",\"arg\":\"1.23456\"}}}",
        "{\"a\":{\"__extn\":{\"fn\":\"decimal\",\"arg\":\"1\",\"x\":1},\"b\":1,\"c\":[null]}}",
        "{\"a\":{\"__entity\":{\"type\":\"in\",\"id\":\"x\"}}}",
        "{\"a\":{\"__entity\":{\"type\":\"A::\",\"id\":\"x\"}}}",
        "{\"a\":{\"__extn\":{\"fn\":\"ip\",\"args\":[\"1.1.1.1\",\"2.2.2.2\"]}}}",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_arena *a = md_arena_new();
        md_entities *es;
        md_diag d = {0};
        char j[512];
        snprintf(j, sizeof j,
                 "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":%s,\"parents\":[]}]", bad[i]);
        int rc = load(a, j, NULL, &es, &d);
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_int_not_equal(rc, 0);
        assert_non_null(strstr(d.msg, "entity 'A::\"\"'"));
        md_arena_free(a);
    }
}

static void json_escape_lookalikes_are_records(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    /* __entity with a single inner key, and __extn beside another key: records, as in Rust. */
    const char *j = "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{"
                    "\"r1\":{\"__entity\":{\"type\":\"A\"}},"
                    "\"r2\":{\"__extn\":{\"fn\":\"decimal\",\"arg\":\"1.0\"},\"k\":1}},"
                    "\"parents\":[]}]";
    assert_int_equal(load(a, j, NULL, &es, &d), 0);
    assert_int_equal(attr(es, U("A", ""), "r1")->kind, MD_V_RECORD);
    assert_int_equal(attr(es, U("A", ""), "r2")->kind, MD_V_RECORD);
    md_arena_free(a);
}

static void json_multi_arg_extension(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    const char *j =
        "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{\"t\":{\"__extn\":{"
        "\"fn\":\"offset\",\"args\":[{\"__extn\":{\"fn\":\"datetime\","
        "\"arg\":\"2024-01-01\"}},{\"__extn\":{\"fn\":\"duration\",\"arg\":\"1h\"}}]}}},"
        "\"parents\":[]}]";
    int rc = load(a, j, NULL, &es, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    const md_value *t = attr(es, U("A", ""), "t");
    assert_int_equal(t->kind, MD_V_DATETIME);
    assert_true(t->u.i == 1704067200000 + 3600000);
    md_arena_free(a);
}

static void json_duplicates(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    const char *same =
        "[{\"uid\":{\"type\":\"A\",\"id\":\"x\"},\"attrs\":{\"k\":1},"
        "\"parents\":[{\"type\":\"G\",\"id\":\"1\"},{\"type\":\"G\",\"id\":\"2\"}]},"
        "{\"uid\":{\"type\":\"A\",\"id\":\"x\"},\"attrs\":{\"k\":1},"
        "\"parents\":[{\"type\":\"G\",\"id\":\"2\"},{\"type\":\"G\",\"id\":\"1\"}]}]";
    assert_int_equal(load(a, same, NULL, &es, &d), 0);
    assert_int_equal(md_entities_count(es), 1);
    const char *diff =
        "[{\"uid\":{\"type\":\"A\",\"id\":\"x\"},\"attrs\":{\"k\":1},\"parents\":[]},"
        "{\"uid\":{\"type\":\"A\",\"id\":\"x\"},\"attrs\":{\"k\":2},\"parents\":[]}]";
    assert_int_equal(load(a, diff, NULL, &es, &d), MANDATE_EEXIST);
    assert_non_null(strstr(d.msg, "A::\"x\""));
    md_arena_free(a);
}

static void json_entity_shape_errors(void **state)
{
    static const char *const bad[] = {
        "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"parents\":[]}]",
        "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{}}]",
        "[{\"attrs\":{},\"parents\":[]}]",
        "[{\"uid\":{\"type\":\"A\",\"id\":1},\"attrs\":{},\"parents\":[]}]",
        "[{\"uid\":{\"type\":\"1A\",\"id\":\"\"},\"attrs\":{},\"parents\":[]}]",
        "[{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{},\"parents\":[],\"tags\":[]}]",
        "[{\"uid\":{\"type\":\"Action\",\"id\":\"a\"},\"attrs\":{},"
        "\"parents\":[{\"type\":\"User\",\"id\":\"u\"}]}]",
        "[{\"uid\":{\"type\":\"A\",\"id\":\"1\"},\"attrs\":{},\"parents\":[{\"type\":\"A\",\"id\":"
        "\"2\"}]},"
        "{\"uid\":{\"type\":\"A\",\"id\":\"2\"},\"attrs\":{},\"parents\":[{\"type\":\"A\",\"id\":"
        "\"1\"}]}]",
        "{\"uid\":{\"type\":\"A\",\"id\":\"\"},\"attrs\":{},\"parents\":[]}",
        "[3]",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_arena *a = md_arena_new();
        md_entities *es;
        md_diag d = {0};
        int rc = load(a, bad[i], NULL, &es, &d);
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_int_not_equal(rc, 0);
        assert_true(d.msg[0] != '\0');
        md_arena_free(a);
    }
}

static void json_parse_nul_keys_and_duplicates(void **state)
{
    json_t *j = NULL;
    md_diag d = {0};
    const char *t = "{\"a\\u0000b\":1,\"\\ud83d\\ude00\":\"x\\u0000y\"}";
    assert_int_equal(md_json_parse(t, strlen(t), &j, &d), 0);
    assert_non_null(json_object_getn(j, "a\0b", 3));
    assert_null(json_object_getn(j, "a", 1));
    const json_t *s = json_object_getn(j, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(json_string_length(s), 3);
    json_decref(j);
    const char *dup = "{\"a\":1,\n \"a\":2}";
    assert_int_equal(md_json_parse(dup, strlen(dup), &j, &d), MANDATE_EPARSE);
    assert_int_equal(d.line, 2);
    assert_non_null(strstr(d.msg, "duplicate"));
    static const char *const bad[] = {"[1,]",      "{\"a\" 1}", "\"\\ud800\"", "01", "[1] x",
                                      "\"a\x01\"", "\"\xff\"",  "tru",         ""};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_diag_clear(&d);
        assert_int_equal(md_json_parse(bad[i], strlen(bad[i]), &j, &d), MANDATE_EPARSE);
    }
}

static void json_depth_caps(void **state)
{
    md_diag d = {0};
    size_t n = 2000;
    char *t = malloc(2 * n + 1);
    memset(t, '[', n);
    memset(t + n, ']', n);
    t[2 * n] = '\0';
    json_t *j = NULL;
    assert_int_equal(md_json_parse(t, 2 * n, &j, &d), MANDATE_ETOOBIG);
    free(t);
    /* A deep value built directly with jansson: the value parser's own cap. */
    json_t *v = json_integer(1);
    for (int i = 0; i < MD_CEDAR_MAX_DEPTH + 10; i++) {
        json_t *arr = json_array();
        json_array_append_new(arr, v);
        v = arr;
    }
    md_arena *a = md_arena_new();
    md_value out;
    md_diag_clear(&d);
    assert_int_equal(md_value_from_json(a, v, NULL, &out, &d), MANDATE_ETOOBIG);
    json_decref(v);
    md_arena_free(a);
}

static void json_euid_and_plain_value(void **state)
{
    md_arena *a = md_arena_new();
    md_diag d = {0};
    md_euid u;
    json_t *j = json_pack("{s:{s:s,s:s}}", "__entity", "type", "NS::User", "id", "al\"ice");
    assert_int_equal(md_euid_from_json(a, j, &u, &d), 0);
    assert_true(md_str_eq_c(u.type, "NS::User"));
    assert_true(md_str_eq_c(u.id, "al\"ice"));
    json_decref(j);
    j = json_pack("{s:s}", "type", "User");
    assert_int_equal(md_euid_from_json(a, j, &u, &d), MANDATE_EPARSE);
    json_decref(j);
    j = json_pack("[s,s]", "User", "x");
    md_diag_clear(&d);
    assert_int_equal(md_euid_from_json(a, j, &u, &d), MANDATE_EPARSE);
    json_decref(j);
    md_value v;
    j = json_pack("{s:[i,i]}", "k", 2, 2);
    assert_int_equal(md_value_from_json(a, j, NULL, &v, &d), 0);
    assert_int_equal(v.kind, MD_V_RECORD);
    assert_int_equal(rget(v.u.rec, MD_STR_LIT("k"))->u.set->n, 1);
    json_decref(j);
    md_arena_free(a);
}

static void json_context_without_schema(void **state)
{
    md_arena *a = md_arena_new();
    md_diag d = {0};
    md_value v;
    json_t *j = json_pack("{s:i}", "n", 1);
    assert_int_equal(md_context_from_json(a, j, NULL, NULL, &v, &d), 0);
    assert_int_equal(v.kind, MD_V_RECORD);
    json_decref(j);
    j = json_pack("[]");
    assert_int_equal(md_context_from_json(a, j, NULL, NULL, &v, &d), MANDATE_EPARSE);
    assert_non_null(strstr(d.msg, "context"));
    json_decref(j);
    md_arena_free(a);
}

/* ---- JSON with a schema ---- */

static const char SCHEMA[] =
    "namespace App {\n"
    "  entity Org;\n"
    "  entity Group in [Org];\n"
    "  entity User in [Group] { age: Long, name?: String, boss?: User, home?: ipaddr,\n"
    "                           limit?: decimal, since?: datetime, ttl?: duration,\n"
    "                           addr?: { zip: Long, city?: String }, friends?: Set<User>,\n"
    "                           color?: Color };\n"
    "  entity Doc tags Long;\n"
    "  entity Color enum [\"red\", \"blue\"];\n"
    "  action read;\n"
    "  action write in [read];\n"
    "  action view in [read] appliesTo { principal: [User], resource: [Doc],\n"
    "                                     context: { ip: ipaddr, level?: Long } };\n"
    "}\n";

static int load_s(md_arena *a, const char *json, md_entities **es, md_diag *d)
{
    return load(a, json, schema(a, SCHEMA), es, d);
}

static void schema_implicit_forms(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    const char *j = "[{\"uid\":{\"type\":\"App::User\",\"id\":\"alice\"},\"attrs\":{\"age\":30,"
                    "\"boss\":{\"type\":\"App::User\",\"id\":\"bob\"},\"home\":\"10.0.0.1\","
                    "\"limit\":\"2.5\",\"since\":\"2024-01-01\",\"ttl\":\"1h\","
                    "\"friends\":[{\"__entity\":{\"type\":\"App::User\",\"id\":\"c\"}}],"
                    "\"addr\":{\"zip\":1234},\"color\":{\"type\":\"App::Color\",\"id\":\"red\"}},"
                    "\"parents\":[{\"type\":\"App::Group\",\"id\":\"g\"}]}]";
    int rc = load_s(a, j, &es, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    md_euid al = U("App::User", "alice");
    assert_int_equal(attr(es, al, "boss")->kind, MD_V_ENTITY);
    assert_int_equal(attr(es, al, "home")->kind, MD_V_IP);
    assert_int_equal(attr(es, al, "limit")->u.i, 25000);
    assert_int_equal(attr(es, al, "since")->kind, MD_V_DATETIME);
    assert_true(attr(es, al, "ttl")->u.i == 3600000);
    assert_int_equal(attr(es, al, "friends")->u.set->items[0].kind, MD_V_ENTITY);
    /* The schema's actions were added with their hierarchy. */
    md_euid view = U("App::Action", "view"), read = U("App::Action", "read"),
            write = U("App::Action", "write");
    assert_non_null(md_entities_find(es, &view));
    assert_true(md_entities_in(es, &view, &read));
    assert_true(md_entities_in(es, &write, &read));
    assert_false(md_entities_in(es, &read, &view));
    md_arena_free(a);
}

static void schema_attribute_errors(void **state)
{
    struct {
        const char *attrs;
        const char *want;
    } cases[] = {
        {"{\"age\":\"old\"}", "attribute 'age' should be a Long, found a string"},
        {"{}", "required attribute 'age'"},
        {"{\"age\":1,\"shoe\":1}", "'shoe'"},
        {"{\"age\":1,\"boss\":{\"type\":\"App::Group\",\"id\":\"g\"}}", "attribute 'boss'"},
        {"{\"age\":1,\"home\":\"not an ip\"}", "attribute 'home'"},
        {"{\"age\":1,\"addr\":{\"city\":\"x\"}}", "'zip'"},
        {"{\"age\":1,\"addr\":{\"zip\":\"1\"}}", "attribute 'addr.zip' should be a Long"},
        {"{\"age\":1,\"addr\":{\"zip\":1,\"state\":\"x\"}}", "'state'"},
        {"{\"age\":1,\"friends\":{\"type\":\"App::User\",\"id\":\"c\"}}", "attribute 'friends'"},
        {"{\"age\":1,\"color\":{\"type\":\"App::Color\",\"id\":\"green\"}}", "enumerated"},
        {"{\"age\":1,\"limit\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"1.1.1.1\"}}}", "decimal"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_arena *a = md_arena_new();
        md_entities *es;
        md_diag d = {0};
        char j[600];
        snprintf(
            j, sizeof j,
            "[{\"uid\":{\"type\":\"App::User\",\"id\":\"alice\"},\"attrs\":%s,\"parents\":[]}]",
            cases[i].attrs);
        int rc = load_s(a, j, &es, &d);
        if (rc == 0 || !strstr(d.msg, cases[i].want))
            fprintf(stderr, "case %zu: rc %d msg %s\n", i, rc, d.msg);
        assert_int_not_equal(rc, 0);
        assert_non_null(strstr(d.msg, "entity 'App::User::\"alice\"'"));
        assert_non_null(strstr(d.msg, cases[i].want));
        md_arena_free(a);
    }
}

static void schema_entity_errors(void **state)
{
    static const char *const bad[] = {
        /* undeclared type */
        "[{\"uid\":{\"type\":\"App::Robot\",\"id\":\"r\"},\"attrs\":{},\"parents\":[]}]",
        /* enum id not declared */
        "[{\"uid\":{\"type\":\"App::Color\",\"id\":\"green\"},\"attrs\":{},\"parents\":[]}]",
        /* parent type not allowed */
        "[{\"uid\":{\"type\":\"App::Group\",\"id\":\"g\"},\"attrs\":{},"
        "\"parents\":[{\"type\":\"App::Doc\",\"id\":\"d\"}]}]",
        /* tags on a type without tags */
        "[{\"uid\":{\"type\":\"App::Org\",\"id\":\"o\"},\"attrs\":{},\"parents\":[],"
        "\"tags\":{\"t\":1}}]",
        /* tag of the wrong type */
        "[{\"uid\":{\"type\":\"App::Doc\",\"id\":\"d\"},\"attrs\":{},\"parents\":[],"
        "\"tags\":{\"t\":\"x\"}}]",
        /* action not declared */
        "[{\"uid\":{\"type\":\"App::Action\",\"id\":\"fly\"},\"attrs\":{},\"parents\":[]}]",
        /* action whose groups differ from the schema */
        "[{\"uid\":{\"type\":\"App::Action\",\"id\":\"view\"},\"attrs\":{},\"parents\":[]}]",
        /* action with attributes */
        "[{\"uid\":{\"type\":\"App::Action\",\"id\":\"read\"},\"attrs\":{\"a\":1},\"parents\":[]}]",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_arena *a = md_arena_new();
        md_entities *es;
        md_diag d = {0};
        int rc = load_s(a, bad[i], &es, &d);
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_int_equal(rc, MANDATE_ESCHEMA);
        md_arena_free(a);
    }
}

static void schema_entity_accepts(void **state)
{
    md_arena *a = md_arena_new();
    md_entities *es;
    md_diag d = {0};
    /* Transitive memberOf: a User may have an Org parent (User in Group in Org); matching data
     * actions; enum entities with declared ids; tags of the declared type. */
    const char *j =
        "[{\"uid\":{\"type\":\"App::User\",\"id\":\"u\"},\"attrs\":{\"age\":1},"
        "\"parents\":[{\"type\":\"App::Org\",\"id\":\"o\"}]},"
        "{\"uid\":{\"type\":\"App::Action\",\"id\":\"view\"},\"attrs\":{},"
        "\"parents\":[{\"type\":\"App::Action\",\"id\":\"read\"}]},"
        "{\"uid\":{\"type\":\"App::Action\",\"id\":\"read\"},\"attrs\":{},\"parents\":[]},"
        "{\"uid\":{\"type\":\"App::Color\",\"id\":\"blue\"},\"attrs\":{},\"parents\":[]},"
        "{\"uid\":{\"type\":\"App::Doc\",\"id\":\"d\"},\"attrs\":{},\"parents\":[],"
        "\"tags\":{\"t\":5}}]";
    int rc = load_s(a, j, &es, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    md_euid u = U("App::User", "u"), o = U("App::Org", "o");
    assert_true(md_entities_in(es, &u, &o));
    md_arena_free(a);
}

static void schema_context(void **state)
{
    md_arena *a = md_arena_new();
    const md_schema *s = schema(a, SCHEMA);
    md_diag d = {0};
    md_value v;
    md_euid view = U("App::Action", "view"), fly = U("App::Action", "fly");
    json_t *j = json_pack("{s:s,s:i}", "ip", "192.168.0.1", "level", 3);
    assert_int_equal(md_context_from_json(a, j, s, &view, &v, &d), 0);
    assert_int_equal(rget(v.u.rec, MD_STR_LIT("ip"))->kind, MD_V_IP);
    assert_int_equal(md_context_from_json(a, j, s, &fly, &v, &d), MANDATE_ESCHEMA);
    json_decref(j);
    j = json_pack("{s:i}", "level", 3);
    md_diag_clear(&d);
    assert_int_equal(md_context_from_json(a, j, s, &view, &v, &d), MANDATE_ESCHEMA);
    assert_non_null(strstr(d.msg, "'ip'"));
    json_decref(j);
    j = json_pack("{s:s,s:i}", "ip", "1.1.1.1", "extra", 3);
    md_diag_clear(&d);
    assert_int_equal(md_context_from_json(a, j, s, &view, &v, &d), MANDATE_ESCHEMA);
    assert_non_null(strstr(d.msg, "'extra'"));
    json_decref(j);
    j = json_pack("i", 3);
    md_diag_clear(&d);
    assert_int_not_equal(md_context_from_json(a, j, s, &view, &v, &d), 0);
    json_decref(j);
    md_arena_free(a);
}

static void schema_typed_value(void **state)
{
    md_arena *a = md_arena_new();
    md_diag d = {0};
    md_value v;
    static const md_type dec = {.kind = MD_T_DECIMAL}, lng = {.kind = MD_T_LONG};
    static const md_type set = {.kind = MD_T_SET, .u.elem = &dec};
    json_t *j = json_pack("[s,{s:s,s:s}]", "1.5", "fn", "decimal", "arg", "2.0");
    assert_int_equal(md_value_from_json(a, j, &set, &v, &d), 0);
    assert_int_equal(v.u.set->n, 2);
    assert_int_equal(v.u.set->items[0].kind, MD_V_DECIMAL);
    assert_int_equal(md_value_from_json(a, j, &lng, &v, &d), MANDATE_ESCHEMA);
    assert_non_null(strstr(d.msg, "should be a Long, found a set"));
    json_decref(j);
    md_arena_free(a);
}

/* ---- request validation ---- */

static int req_check(md_arena *a, const md_schema *s, md_euid p, md_euid act, md_euid r,
                     json_t *ctx, md_diag *d)
{
    md_request q = {.principal = p, .action = act, .resource = r};
    int rc = md_context_from_json(a, ctx, s, &act, &q.context, d);
    json_decref(ctx);
    return rc ? rc : md_request_validate(s, &q, d);
}

static void request_validation(void **state)
{
    md_arena *a = md_arena_new();
    const md_schema *s = schema(a, SCHEMA);
    md_diag d = {0};
    md_euid user = U("App::User", "u"), doc = U("App::Doc", "d"), view = U("App::Action", "view"),
            read = U("App::Action", "read"), grp = U("App::Group", "g"),
            robot = U("App::Robot", "r");
    assert_int_equal(req_check(a, s, user, view, doc, json_pack("{s:s}", "ip", "1.2.3.4"), &d), 0);
    /* principal type outside appliesTo */
    assert_int_equal(req_check(a, s, grp, view, doc, json_pack("{s:s}", "ip", "1.2.3.4"), &d),
                     MANDATE_ESCHEMA);
    assert_non_null(strstr(d.msg, "principal"));
    md_diag_clear(&d);
    /* undeclared principal type */
    assert_int_equal(req_check(a, s, robot, view, doc, json_pack("{s:s}", "ip", "1.2.3.4"), &d),
                     MANDATE_ESCHEMA);
    md_diag_clear(&d);
    /* resource swapped */
    assert_int_equal(req_check(a, s, user, view, user, json_pack("{s:s}", "ip", "1.2.3.4"), &d),
                     MANDATE_ESCHEMA);
    md_diag_clear(&d);
    /* an action without appliesTo applies to nothing */
    assert_int_equal(req_check(a, s, user, read, doc, json_pack("{}"), &d), MANDATE_ESCHEMA);
    md_diag_clear(&d);
    /* context attribute of the wrong type: parses, fails validation */
    assert_int_equal(
        req_check(a, s, user, view, doc, json_pack("{s:s,s:s}", "ip", "1.2.3.4", "level", "x"), &d),
        MANDATE_ESCHEMA);
    assert_non_null(strstr(d.msg, "request: context for action 'App::Action::\"view\"'"));
    assert_non_null(strstr(d.msg, "'level' should be a Long"));
    /* enumerated principal with an undeclared id */
    const md_schema *s2 = schema(a, "entity E enum [\"a\"]; action go appliesTo { principal: E, "
                                    "resource: E, context: { e?: E } };");
    md_euid ea = U("E", "a"), eb = U("E", "b"), go = U("Action", "go");
    md_diag_clear(&d);
    assert_int_equal(req_check(a, s2, ea, go, ea, json_pack("{}"), &d), 0);
    assert_int_equal(req_check(a, s2, eb, go, ea, json_pack("{}"), &d), MANDATE_ESCHEMA);
    md_diag_clear(&d);
    assert_int_equal(
        req_check(a, s2, ea, go, ea, json_pack("{s:{s:s,s:s}}", "e", "type", "E", "id", "zz"), &d),
        MANDATE_ESCHEMA);
    assert_non_null(strstr(d.msg, "enumerated"));
    md_arena_free(a);
}

/* md_value_typecheck: an untyped context checked against an action's context type. Accepts
 * what it must, and a failure gives the same first message as ever (a missing required
 * attribute before an undeclared one, paths into nested records and sets). */
static void typecheck_context(void **state)
{
    md_arena *a = md_arena_new();
    const md_schema *s = schema(a, "entity U; entity V; action go appliesTo { principal: U, "
                                   "resource: U, context: { a: Long, b?: String, n: { x: Long, "
                                   "y?: Set<Long> }, z: U } };");
    md_euid go = U("Action", "go");
    const md_type *t = md_schema_action(s, &go)->context;
    static const struct {
        const char *json, *want; /* want NULL: accepted */
    } cases[] = {
        {"{\"a\":1,\"n\":{\"x\":2},\"z\":{\"__entity\":{\"type\":\"U\",\"id\":\"u\"}}}", NULL},
        {"{\"a\":1,\"b\":\"s\",\"n\":{\"x\":2,\"y\":[1,2]},\"z\":{\"__entity\":"
         "{\"type\":\"U\",\"id\":\"u\"}}}",
         NULL},
        {"{\"n\":{\"x\":2},\"z\":{\"__entity\":{\"type\":\"U\",\"id\":\"u\"}}}",
         "the required attribute 'a' is missing"},
        {"{\"a\":1,\"c\":1,\"n\":{\"x\":2},\"z\":{\"__entity\":{\"type\":\"U\",\"id\":\"u\"}}}",
         "the undeclared attribute 'c'"},
        {"{\"a\":1,\"aa\":1,\"n\":{\"x\":2}}", "the required attribute 'z' is missing"},
        {"{\"a\":1,\"n\":{\"x\":\"s\"},\"z\":{\"__entity\":{\"type\":\"U\",\"id\":\"u\"}}}",
         "'n.x' should be a Long"},
        {"{\"a\":1,\"n\":{\"x\":2,\"y\":[1,\"s\"]},\"z\":{\"__entity\":{\"type\":\"U\","
         "\"id\":\"u\"}}}",
         "'n.y' should be a Long"},
        {"{\"a\":1,\"n\":{\"x\":2},\"z\":{\"__entity\":{\"type\":\"V\",\"id\":\"u\"}}}",
         "'z' should be an entity of type U"},
        {"{\"a\":true,\"n\":{\"x\":2},\"z\":{\"__entity\":{\"type\":\"U\",\"id\":\"u\"}}}",
         "'a' should be a Long, found a bool"},
        {"{\"a\":1,\"n\":[],\"z\":{\"__entity\":{\"type\":\"U\",\"id\":\"u\"}}}",
         "'n' should be a {x: Long, y?: Set<Long>}, found a set"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_diag d = {0};
        json_error_t je;
        json_t *j = json_loads(cases[i].json, 0, &je);
        assert_non_null(j);
        md_value v;
        assert_int_equal(md_context_from_json(a, j, NULL, &go, &v, &d), 0);
        json_decref(j);
        int rc = md_value_typecheck(&v, t, "ctx", &d);
        if (!cases[i].want) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, MANDATE_ESCHEMA);
        if (!strstr(d.msg, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, d.msg, cases[i].want);
        assert_int_equal(strncmp(d.msg, "ctx", 3), 0);
    }
    md_arena_free(a);
}

static void names_and_action_types(void **state)
{
    static const char *const good[] = {"A", "_a1", "NS::User", "a::b::C_9"};
    static const char *const bad[] = {"",      "1A",      "A::",        "::A", "A:B", "in",
                                      "A::if", "__cedar", "__cedar::A", "A B", "A::", "é"};
    for (size_t i = 0; i < MD_ARRAY_LEN(good); i++)
        assert_true(md_cedar_name_valid(md_str_c(good[i])));
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        assert_false(md_cedar_name_valid(md_str_c(bad[i])));
    md_euid a1 = U("Action", "x"), a2 = U("NS::Action", "x"), n1 = U("MyAction", "x"),
            n2 = U("Action::X", "x"), n3 = U("NS:Action", "x");
    assert_true(md_euid_is_action(&a1));
    assert_true(md_euid_is_action(&a2));
    assert_false(md_euid_is_action(&n1));
    assert_false(md_euid_is_action(&n2));
    assert_false(md_euid_is_action(&n3));
}

static char *shared_path(const char *rel)
{
    const char *dir = getenv("MANDATE_SHARED_DIR");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", dir ? dir : "../shared", rel);
    return p;
}

static int load_file_json(const char *path, json_t **out)
{
    char *txt;
    size_t len;
    md_diag d = {0};
    int rc = md_read_file(path, 1u << 28, &txt, &len, &d);
    if (rc)
        return rc;
    rc = md_json_parse(txt, len, out, &d);
    free(txt);
    return rc;
}

/* The benchmark workload's entities load with their schema, and every request validates. */
static void shared_workload_loads(void **state)
{
    char *ep = shared_path("bench/workloads/n1000/entities.json");
    char *sp = shared_path("bench/workloads/n1000/schema.cedarschema");
    char *stext = NULL;
    size_t slen = 0;
    md_diag d = {0};
    json_t *j = NULL;
    if (load_file_json(ep, &j) != 0 || md_read_file(sp, 1u << 24, &stext, &slen, &d) != 0) {
        free(ep);
        free(sp);
        json_decref(j);
        skip();
    }
    md_arena *a = md_arena_new();
    const md_schema *s = NULL;
    assert_int_equal(md_schema_parse(a, stext, slen, &s, &d), 0);
    md_entities *es = NULL;
    int rc = md_entities_from_json(a, j, s, &es, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    assert_true(md_entities_count(es) >= 1000);
    json_decref(j);
    free(ep);
    free(sp);
    free(stext);
    md_arena_free(a);
}

/* A sample of the conformance corpus: entities with their schemas and every request's context
 * load, and requests marked for validation validate (the reference harness expects all to). */
static void corpus_sample_loads(void **state)
{
    char *root = shared_path("cedar-conformance");
    char *list = malloc(4200);
    snprintf(list, 4200, "%s/corpus-tests", root);
    DIR *dir = opendir(list);
    if (!dir) {
        free(root);
        free(list);
        skip();
    }
    struct dirent *de;
    int seen = 0, checked = 0;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0 || strstr(de->d_name, ".entities."))
            continue;
        if (seen++ % 25 != 0)
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", list, de->d_name);
        json_t *t = NULL, *ej = NULL;
        assert_int_equal(load_file_json(path, &t), 0);
        snprintf(path, sizeof path, "%s/%s", root,
                 json_string_value(json_object_get(t, "entities")));
        assert_int_equal(load_file_json(path, &ej), 0);
        snprintf(path, sizeof path, "%s/%s", root, json_string_value(json_object_get(t, "schema")));
        md_arena *a = md_arena_new();
        md_diag d = {0};
        char *stext;
        size_t slen;
        const md_schema *s = NULL;
        assert_int_equal(md_read_file(path, 1u << 24, &stext, &slen, &d), 0);
        assert_int_equal(md_schema_parse(a, stext, slen, &s, &d), 0);
        md_entities *es;
        int rc = md_entities_from_json(a, ej, s, &es, &d);
        if (rc)
            fprintf(stderr, "%s: %s\n", de->d_name, d.msg);
        assert_int_equal(rc, 0);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(t, "requests"), i, r)
        {
            md_request q;
            rc = md_euid_from_json(a, json_object_get(r, "principal"), &q.principal, &d);
            if (!rc)
                rc = md_euid_from_json(a, json_object_get(r, "action"), &q.action, &d);
            if (!rc)
                rc = md_euid_from_json(a, json_object_get(r, "resource"), &q.resource, &d);
            if (!rc)
                rc = md_context_from_json(a, json_object_get(r, "context"), s, &q.action,
                                          &q.context, &d);
            json_t *vr = json_object_get(r, "validateRequest");
            if (!rc && (!vr || json_is_true(vr)))
                rc = md_request_validate(s, &q, &d);
            if (rc)
                fprintf(stderr, "%s request %zu: %s\n", de->d_name, i, d.msg);
            assert_int_equal(rc, 0);
        }
        checked++;
        free(stext);
        json_decref(t);
        json_decref(ej);
        md_arena_free(a);
    }
    closedir(dir);
    free(root);
    free(list);
    assert_true(checked > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_add_find_order),
        cmocka_unit_test(store_duplicate_and_sealed),
        cmocka_unit_test(store_chain_closure_sorted),
        cmocka_unit_test(store_missing_entities_and_parents),
        cmocka_unit_test(store_cycle_terminates),
        cmocka_unit_test(store_self_loop),
        cmocka_unit_test(store_diamond_and_sharing),
        cmocka_unit_test(store_random_dag_matches_walk),
        cmocka_unit_test(store_deep_chain),
        cmocka_unit_test(store_many_adds_grow_table),
        cmocka_unit_test(store_shared_uids_resolve),
        cmocka_unit_test(record_keys_with_equal_signatures),
        cmocka_unit_test(record_values_round_trip),
        cmocka_unit_test(json_values_without_schema),
        cmocka_unit_test(json_uid_forms_and_tags),
        cmocka_unit_test(json_long_range),
        cmocka_unit_test(json_rejects_bad_values),
        cmocka_unit_test(json_escape_lookalikes_are_records),
        cmocka_unit_test(json_multi_arg_extension),
        cmocka_unit_test(json_duplicates),
        cmocka_unit_test(json_entity_shape_errors),
        cmocka_unit_test(json_parse_nul_keys_and_duplicates),
        cmocka_unit_test(json_depth_caps),
        cmocka_unit_test(json_euid_and_plain_value),
        cmocka_unit_test(json_context_without_schema),
        cmocka_unit_test(schema_implicit_forms),
        cmocka_unit_test(schema_attribute_errors),
        cmocka_unit_test(schema_entity_errors),
        cmocka_unit_test(schema_entity_accepts),
        cmocka_unit_test(schema_context),
        cmocka_unit_test(schema_typed_value),
        cmocka_unit_test(request_validation),
        cmocka_unit_test(typecheck_context),
        cmocka_unit_test(names_and_action_types),
        cmocka_unit_test(shared_workload_loads),
        cmocka_unit_test(corpus_sample_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
