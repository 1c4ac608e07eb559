/* cmd_ledger.c: `mandate ledger append|get|checkpoint|prove|verify|pubkey`. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "mandate/mandate.h"
#include "util.h"

static const char ledger_help[] =
    "usage: mandate ledger <command> [options]\n\n"
    "commands:\n"
    "  append --type TYPE [--time MS] (JSON | --file FILE | -)\n"
    "                 append one entry; prints {\"index\":N} once it is durable.\n"
    "                 TYPE: decision approval outcome delegation revocation registry policy note\n"
    "  append --stress THREADS [--count N] [--inflight K]\n"
    "                 append generated note entries from THREADS threads (N each, 0 = forever),\n"
    "                 each keeping K appends in flight (submit/wait; default 1); prints\n"
    "                 'ack INDEX WRITER SEQ' for each acknowledged append (crash tests)\n"
    "  get INDEX [--count N]      print entries as JSON lines\n"
    "  checkpoint [--latest]      sign a checkpoint for the current size (or print the latest)\n"
    "  prove INDEX [--size N]     inclusion proof of entry INDEX in the tree of N entries\n"
    "  prove --consistency M [--size N]   consistency proof from size M to size N\n"
    "  prove --check FILE|-       check a proof (JSON) offline; exit 0 when it holds, 1 if not\n"
    "  verify [--db FILE] [--key VKEY | --key-file FILE]\n"
    "                 recompute every hash and check every checkpoint; works offline on a copy\n"
    "                 of the database; names the first bad index. Exit 0 good, 1 tampered.\n"
    "  pubkey         print the ledger's verifier key (note verifier key format)\n\n"
    "options:\n"
    "  --data DIR     the data directory made by 'mandate init' (default: $MANDATE_DATA)\n"
    "  --checkpoint-every N   sign a checkpoint at least every N entries (default 1024)\n\n"
    "exit status: 0 success, 1 verification failed, 2 usage, 3 bad input or not found,\n"
    "4 store or internal failure.\n";

typedef struct largs {
    const char *data, *db, *key, *key_file, *type, *file, *time, *size, *count, *stress;
    const char *consistency, *check, *cp_every, *inflight;
    int latest;
    const char *pos[4];
    int npos;
} largs;

static int exit_for(int rc)
{
    switch (rc) {
    case MANDATE_OK: return 0;
    case MANDATE_ECORRUPT:
    case MANDATE_ECRYPTO: return EXIT_DENY;
    case MANDATE_ESTORE:
    case MANDATE_EINTERNAL:
    case MANDATE_ENOMEM: return EXIT_INTERNAL;
    default: return EXIT_INPUT;
    }
}

static int fail(const char *sub, int rc, const mandate_diag *d)
{
    fprintf(stderr, "mandate ledger %s: %s\n", sub,
            d && d->message[0] ? d->message : mandate_strerror(rc));
    return exit_for(rc);
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

static int need_u64(const char *sub, const char *what, const char *s, uint64_t *v)
{
    if (parse_u64(s, v) != 0) {
        fprintf(stderr, "mandate ledger %s: %s '%s' is not a non-negative integer\n", sub, what, s);
        return EXIT_USAGE;
    }
    return 0;
}

static int path_in(char *buf, size_t n, const char *dir, const char *name)
{
    return (size_t)snprintf(buf, n, "%s/%s", dir, name) < n ? 0 : -1;
}

static int open_ledger(const largs *a, const char *sub, int with_key, mandate_ledger **l)
{
    if (!a->data) {
        fprintf(stderr, "mandate ledger %s: no data directory (use --data DIR)\n", sub);
        return EXIT_USAGE;
    }
    char db[4096], key[4096];
    if (path_in(db, sizeof db, a->data, "mandate.db") ||
        path_in(key, sizeof key, a->data, "ledger.key")) {
        fprintf(stderr, "mandate ledger %s: path too long\n", sub);
        return EXIT_USAGE;
    }
    mandate_ledger_opts o = {0};
    o.db_path = db;
    o.key_path = with_key ? key : NULL;
    if (a->cp_every) {
        uint64_t v;
        int rc = need_u64(sub, "--checkpoint-every", a->cp_every, &v);
        if (rc)
            return rc;
        o.checkpoint_every = v;
    }
    mandate_diag d;
    int rc = mandate_ledger_open(l, &o, &d);
    if (rc) {
        fprintf(stderr, "mandate ledger %s: cannot open ledger '%s': %s\n", sub, a->data,
                d.message);
        return exit_for(rc);
    }
    return 0;
}

#define STRESS_MAX_INFLIGHT 1024

typedef struct stress_ctx {
    mandate_ledger *l;
    int writer;
    uint64_t count, inflight;
    int rc;
    mandate_diag d;
} stress_ctx;

static int ack_line(stress_ctx *c, uint64_t idx, uint64_t seq)
{
    char line[128];
    int ll = snprintf(line, sizeof line, "ack %" PRIu64 " %d %" PRIu64 "\n", idx, c->writer, seq);
    if (write(STDOUT_FILENO, line, (size_t)ll) != ll) {
        c->rc = MANDATE_EIO;
        return -1;
    }
    return 0;
}

/* Appends with `inflight` submissions outstanding; an ack line is printed only once the
 * entry's wait returned 0 (it is durable). */
static void *stress_main(void *arg)
{
    stress_ctx *c = arg;
    uint64_t ticket[STRESS_MAX_INFLIGHT], done = 0;
    for (uint64_t seq = 0; c->count == 0 || seq < c->count; seq++) {
        if (seq - done == c->inflight) {
            uint64_t t = ticket[done % c->inflight];
            if ((c->rc = mandate_ledger_wait(c->l, t, &c->d)) != 0 || ack_line(c, t, done) != 0)
                return NULL;
            done++;
        }
        char body[96];
        int bl = snprintf(body, sizeof body, "{\"seq\":%" PRIu64 ",\"writer\":%d}", seq, c->writer);
        mandate_ledger_entry e = {MANDATE_ENTRY_NOTE, 0, body, (size_t)bl};
        if ((c->rc = mandate_ledger_submit(c->l, &e, &ticket[seq % c->inflight], &c->d)) != 0)
            return NULL;
    }
    for (; done < c->count; done++) {
        uint64_t t = ticket[done % c->inflight];
        if ((c->rc = mandate_ledger_wait(c->l, t, &c->d)) != 0 || ack_line(c, t, done) != 0)
            return NULL;
    }
    return NULL;
}

static int do_stress(mandate_ledger *l, const largs *a)
{
    uint64_t threads, count = 0;
    int rc = need_u64("append", "--stress", a->stress, &threads);
    uint64_t inflight = 1;
    if (rc == 0 && a->count)
        rc = need_u64("append", "--count", a->count, &count);
    if (rc == 0 && a->inflight)
        rc = need_u64("append", "--inflight", a->inflight, &inflight);
    if (rc)
        return rc;
    if (inflight == 0 || inflight > STRESS_MAX_INFLIGHT) {
        fprintf(stderr, "mandate ledger append: --inflight takes 1 to %d\n", STRESS_MAX_INFLIGHT);
        return EXIT_USAGE;
    }
    if (threads == 0 || threads > 256) {
        fprintf(stderr, "mandate ledger append: --stress takes 1 to 256 threads\n");
        return EXIT_USAGE;
    }
    stress_ctx *c = calloc(threads, sizeof *c);
    pthread_t *t = calloc(threads, sizeof *t);
    if (!c || !t) {
        free(c);
        free(t);
        return EXIT_INTERNAL;
    }
    for (uint64_t i = 0; i < threads; i++) {
        c[i].l = l;
        c[i].writer = (int)i;
        c[i].count = count;
        c[i].inflight = inflight;
        pthread_create(&t[i], NULL, stress_main, &c[i]);
    }
    int ret = 0;
    for (uint64_t i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (c[i].rc && !ret)
            ret = fail("append", c[i].rc, &c[i].d);
    }
    free(c);
    free(t);
    return ret;
}

static int do_append(const largs *a)
{
    mandate_ledger *l = NULL;
    int rc;
    if (a->stress) {
        if ((rc = open_ledger(a, "append", 1, &l)) != 0)
            return rc;
        rc = do_stress(l, a);
        mandate_ledger_close(l);
        return rc;
    }
    if (!a->type) {
        fprintf(stderr, "mandate ledger append: --type is required\n");
        return EXIT_USAGE;
    }
    int type = mandate_entry_type_from_name(a->type);
    if (!type) {
        fprintf(stderr, "mandate ledger append: unknown entry type '%s'\n", a->type);
        return EXIT_USAGE;
    }
    uint64_t t = 0;
    if (a->time && (rc = need_u64("append", "--time", a->time, &t)) != 0)
        return rc;
    const char *src = a->file ? a->file : (a->npos == 1 && !strcmp(a->pos[0], "-") ? "-" : NULL);
    char *body = NULL;
    size_t len = 0;
    if (src) {
        if (!(body = cmd_read_file_max("ledger append", src, 1u << 21, &len)))
            return EXIT_INPUT;
    } else if (a->npos == 1) {
        body = strdup(a->pos[0]);
        len = body ? strlen(body) : 0;
    } else {
        fprintf(stderr, "mandate ledger append: give the entry body as JSON, --file FILE or -\n");
        return EXIT_USAGE;
    }
    if ((rc = open_ledger(a, "append", 1, &l)) != 0) {
        free(body);
        return rc;
    }
    mandate_ledger_entry e = {type, (int64_t)t, body, len};
    uint64_t idx;
    mandate_diag d;
    rc = mandate_ledger_append(l, &e, &idx, &d);
    free(body);
    if (rc == 0)
        printf("{\"index\":%" PRIu64 "}\n", idx);
    mandate_ledger_close(l);
    return rc ? fail("append", rc, &d) : 0;
}

static int do_get(const largs *a)
{
    uint64_t idx, count = 1;
    int rc;
    if (a->npos != 1) {
        fprintf(stderr, "mandate ledger get: give one INDEX\n");
        return EXIT_USAGE;
    }
    if ((rc = need_u64("get", "index", a->pos[0], &idx)) != 0 ||
        (a->count && (rc = need_u64("get", "--count", a->count, &count)) != 0))
        return rc;
    mandate_ledger *l;
    if ((rc = open_ledger(a, "get", 0, &l)) != 0)
        return rc;
    uint64_t size = mandate_ledger_size(l);
    for (uint64_t i = idx; i - idx < count && (i < size || i == idx); i++) {
        char *json = NULL;
        mandate_diag d;
        rc = mandate_ledger_get(l, i, &json, &d);
        if (rc) {
            rc = fail("get", rc, &d);
            break;
        }
        puts(json);
        free(json);
    }
    mandate_ledger_close(l);
    return rc;
}

static int do_checkpoint(const largs *a)
{
    mandate_ledger *l;
    int rc = open_ledger(a, "checkpoint", !a->latest, &l);
    if (rc)
        return rc;
    char *note = NULL;
    mandate_diag d;
    rc = a->latest ? mandate_ledger_latest_checkpoint(l, &note, &d)
                   : mandate_ledger_checkpoint(l, &note, &d);
    if (rc == 0)
        fputs(note, stdout);
    free(note);
    mandate_ledger_close(l);
    return rc ? fail("checkpoint", rc, &d) : 0;
}

static int do_prove(const largs *a)
{
    int rc;
    mandate_diag d;
    if (a->check) {
        size_t len;
        char *json = cmd_read_file_max("ledger prove", a->check, 1u << 20, &len);
        if (!json)
            return EXIT_INPUT;
        rc = mandate_ledger_check_proof(json, len, &d);
        free(json);
        if (rc)
            return fail("prove", rc, &d);
        printf("proof holds\n");
        return 0;
    }
    uint64_t size = 0, x = 0;
    if (a->size && (rc = need_u64("prove", "--size", a->size, &size)) != 0)
        return rc;
    if (a->consistency) {
        if ((rc = need_u64("prove", "--consistency", a->consistency, &x)) != 0)
            return rc;
    } else if (a->npos != 1) {
        fprintf(stderr, "mandate ledger prove: give INDEX, --consistency SIZE or --check FILE\n");
        return EXIT_USAGE;
    } else if ((rc = need_u64("prove", "index", a->pos[0], &x)) != 0) {
        return rc;
    }
    mandate_ledger *l;
    if ((rc = open_ledger(a, "prove", 0, &l)) != 0)
        return rc;
    char *json = NULL;
    rc = a->consistency ? mandate_ledger_prove_consistency(l, x, size, &json, &d)
                        : mandate_ledger_prove(l, x, size, &json, &d);
    if (rc == 0)
        puts(json);
    free(json);
    mandate_ledger_close(l);
    return rc ? fail("prove", rc, &d) : 0;
}

static int do_verify(const largs *a)
{
    char db[4096];
    const char *path = a->db;
    if (!path) {
        if (!a->data) {
            fprintf(stderr, "mandate ledger verify: give --db FILE or --data DIR\n");
            return EXIT_USAGE;
        }
        if (path_in(db, sizeof db, a->data, "mandate.db"))
            return EXIT_USAGE;
        path = db;
    }
    char *key = NULL;
    if (a->key_file) {
        size_t len;
        if (!(key = cmd_read_file_max("ledger verify", a->key_file, 4096, &len)))
            return EXIT_INPUT;
    } else if (a->key) {
        key = strdup(a->key);
    }
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "mandate ledger verify: cannot read '%s': %s\n", path, strerror(errno));
        free(key);
        return EXIT_INPUT;
    }
    mandate_ledger_report r;
    mandate_diag d;
    int rc = mandate_ledger_verify(path, key, &r, &d);
    free(key);
    if (rc == 0) {
        printf("ok: %" PRIu64 " entries, %" PRIu64 " nodes, %" PRIu64 " checkpoints verified\n",
               r.entries, r.nodes, r.checkpoints);
        return 0;
    }
    if (r.bad) {
        printf("FAILED: first bad index %" PRIu64 " (%s", r.bad_index, r.bad_kind);
        if (!strcmp(r.bad_kind, "node"))
            printf(", level %u", r.bad_level);
        printf("): %s\n", d.message);
        return EXIT_DENY;
    }
    return fail("verify", rc, &d);
}

static int do_pubkey(const largs *a)
{
    mandate_ledger *l;
    int rc = open_ledger(a, "pubkey", 0, &l);
    if (rc)
        return rc;
    printf("%s\n", mandate_ledger_verifier_key(l));
    mandate_ledger_close(l);
    return 0;
}

int cmd_ledger(int argc, char **argv)
{
    if (argc < 2) {
        fputs(ledger_help, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(ledger_help, stdout);
        return 0;
    }
    largs a;
    memset(&a, 0, sizeof a);
    a.data = getenv("MANDATE_DATA");
    struct {
        const char *flag;
        const char **dst;
    } opts[] = {
        {"--data", &a.data},         {"--db", &a.db},
        {"--key", &a.key},           {"--key-file", &a.key_file},
        {"--type", &a.type},         {"--file", &a.file},
        {"--time", &a.time},         {"--size", &a.size},
        {"--count", &a.count},       {"--stress", &a.stress},
        {"--inflight", &a.inflight}, {"--consistency", &a.consistency},
        {"--check", &a.check},       {"--checkpoint-every", &a.cp_every},
    };
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(ledger_help, stdout);
            return 0;
        }
        if (!strcmp(arg, "--latest")) {
            a.latest = 1;
            continue;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            if (strcmp(arg, opts[k].flag))
                continue;
            if (i + 1 >= argc) {
                fprintf(stderr, "mandate ledger %s: %s needs a value\n", sub, arg);
                return EXIT_USAGE;
            }
            *opts[k].dst = argv[++i];
            matched = 1;
            break;
        }
        if (matched)
            continue;
        if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "mandate ledger %s: unknown option '%s'\n", sub, arg);
            return EXIT_USAGE;
        }
        if (a.npos >= 4) {
            fprintf(stderr, "mandate ledger %s: too many arguments\n", sub);
            return EXIT_USAGE;
        }
        a.pos[a.npos++] = arg;
    }
    if (!strcmp(sub, "append"))
        return do_append(&a);
    if (!strcmp(sub, "get"))
        return do_get(&a);
    if (!strcmp(sub, "checkpoint"))
        return do_checkpoint(&a);
    if (!strcmp(sub, "prove"))
        return do_prove(&a);
    if (!strcmp(sub, "verify"))
        return do_verify(&a);
    if (!strcmp(sub, "pubkey"))
        return do_pubkey(&a);
    fprintf(stderr, "mandate ledger: unknown command '%s'\n", sub);
    fputs(ledger_help, stderr);
    return EXIT_USAGE;
}
