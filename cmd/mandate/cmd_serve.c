/* cmd_serve.c: `mandate serve`: run the HTTP API over a data directory until SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "mandate/mandate.h"
#include "mandate/server.h"

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: mandate serve [--config FILE] [--data DIR] [options]\n\n"
            "Serves the HTTP API (docs/server.md, docs/openapi.yaml) over a data directory made\n"
            "by 'mandate init'. Flags override the configuration file, whose lines are\n"
            "'key = value' with the flag names below (without --). Stops on SIGTERM or SIGINT\n"
            "after finishing the requests in flight. Every 5xx answer, and what clients are\n"
            "not told (why token requests are denied, a key store failure before a caller is\n"
            "authenticated), is logged on stderr with the time.\n\n"
            "  --config FILE            configuration file\n"
            "  --data DIR               data directory (default: $MANDATE_DATA)\n"
            "  --listen ADDR            address to listen on (default 127.0.0.1)\n"
            "  --port N                 port (default 8080; 0 = any free port)\n"
            "  --threads N              worker threads (default 4)\n"
            "  --policies FILE          active policy set (default DIR/policies.cedar)\n"
            "  --schema FILE            schema (default DIR/schema.cedarschema if present)\n"
            "  --entities FILE          entities JSON (default DIR/entities.json if present)\n"
            "  --admin-policies FILE    who may call what (default DIR/admin.cedar, else the\n"
            "                           built-in copy of policies/admin.cedar)\n"
            "  --admin-entities FILE    groups for the admin policies (default\n"
            "                           DIR/admin-entities.json if present)\n"
            "  --max-body BYTES         request body cap (default 1048576)\n"
            "  --max-json-depth N       JSON nesting cap (default 32)\n"
            "  --max-headers N          header count cap (default 64)\n"
            "  --max-header-bytes N     header bytes cap (default 8192)\n"
            "  --timeout SECONDS        idle connection timeout (default 10)\n"
            "  --max-connections N      connection cap (default 2048)\n"
            "  --event-loop poll|epoll  how worker threads wait (default poll; epoll for many\n"
            "                           thousands of mostly idle connections)\n"
            "  --max-batch N            requests per batch authorize (default 100)\n"
            "  --record-decisions BOOL  append decisions to the ledger (default true)\n"
            "  --key-cache-ms MS        cache verified API keys (default 1000; 0 = off): a key\n"
            "                           revoked with 'mandate key revoke' stops within MS\n");
}

/* The server's log: one line on stderr, prefixed with the UTC time. */
static void log_line(void *arg, const char *line)
{
    (void)arg;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
        when[0] = 0;
    fprintf(stderr, "%s mandate: %s\n", when, line);
}

int cmd_serve(int argc, char **argv)
{
    mandate_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.opts.port = 8080;
    mandate_diag d = {0};
    const char *env = getenv("MANDATE_DATA");
    if (env && mandate_server_config_set(&cfg, "data", env, &d))
        goto usage_fail;
    /* The configuration file first, so that flags override it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            serve_usage(stdout);
            mandate_server_config_free(&cfg);
            return 0;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                goto usage_fail;
            if (mandate_server_config_load(&cfg, argv[i + 1], &d)) {
                fprintf(stderr, "mandate serve: %s\n", d.message);
                mandate_server_config_free(&cfg);
                return EXIT_INPUT;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--", 2) || i + 1 >= argc) {
            fprintf(stderr, "mandate serve: unknown or incomplete option '%s'\n", argv[i]);
            goto usage_fail;
        }
        if (mandate_server_config_set(&cfg, argv[i] + 2, argv[i + 1], &d)) {
            fprintf(stderr, "mandate serve: --%s: %s\n", argv[i] + 2, d.message);
            goto usage_fail;
        }
        i++;
    }
    if (!cfg.opts.data_dir) {
        fprintf(stderr, "mandate serve: no data directory (use --data DIR or data = DIR)\n");
        goto usage_fail;
    }

    cfg.opts.log = log_line;
    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mandate_server *srv = NULL;
    if (mandate_server_open(&srv, &cfg.opts, &d) || mandate_server_start(srv, &d)) {
        fprintf(stderr, "mandate serve: %s\n", d.message);
        mandate_server_close(srv);
        mandate_server_config_free(&cfg);
        return EXIT_INPUT;
    }
    printf("mandate: listening on http://%s:%u\n", cfg.opts.listen ? cfg.opts.listen : "127.0.0.1",
           mandate_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    printf("mandate: %s received, finishing requests in flight\n",
           sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stdout);
    mandate_server_stop(srv);
    mandate_server_close(srv);
    mandate_server_config_free(&cfg);
    printf("mandate: stopped\n");
    return 0;

usage_fail:
    serve_usage(stderr);
    mandate_server_config_free(&cfg);
    return EXIT_USAGE;
}
