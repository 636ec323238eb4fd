/* crimpctl — talks CRI to crimpd (or any CRI endpoint) with crimp's own
 * client on grpc C core.  Thin: options, then one function per command.  */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grpc_client.h"
#include "utils.h"

#define DEFAULT_ENDPOINT "unix:///run/crimp/crimp.sock"

static const struct cli_command commands[] = {
    {"version", "the runtime's name and version (crimp, and the default backend behind it)",
     cli_cmd_version},
    {"info", "runtime conditions (one per backend) and crimp's own status", cli_cmd_info},
    {"backend", "list | set NAME | drain NAME | undrain NAME: where new pods go",
     cli_cmd_backend},
    {"latency", "[--backends A,B] [--html FILE]: p50/p90/p99 per method, backends side by side",
     cli_cmd_latency},
    {"trace", "[--all]: follow live CRI calls, each with the backend calls it caused",
     cli_cmd_trace},
    {"bench", "--backends A,B [--pods N --containers M --parallel P --image I --save F]: "
              "pod lifecycles per backend, side by side",
     cli_cmd_bench},
    {"stats", "[--watch SECS] [--pod ID]: CPU, memory and writable layer per container",
     cli_cmd_stats},
    {"events", "follow container events (created, started, stopped, deleted) as kubelet does",
     cli_cmd_events},
    {"pull", "IMAGE [--creds USER:PASSWORD]: pull through the CRI, with a progress bar of "
             "layers and bytes",
     cli_cmd_pull},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: crimpctl [OPTION]... COMMAND\n"
                 "crimp's CRI client: asks crimpd (or any CRI endpoint) what kubelet would.\n\n"
                 "Options:\n"
                 "  -e, --endpoint URL  CRI socket (default: $CRIMP_ENDPOINT or %s)\n"
                 "  -t, --timeout SECS  per call (default: 5)\n"
                 "  -o, --output FMT    table (default), json or yaml, for every command and\n"
                 "                      anywhere on the line; --json is -o json\n"
                 "  -a, --admin-socket PATH  crimpd's admin API (default: admin.sock beside\n"
                 "                      the endpoint's socket)\n"
                 "  -h, --help          this text\n"
                 "      --version       crimpctl's version\n\nCommands:\n",
            DEFAULT_ENDPOINT);
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int cli_call(struct cli *cli, const char *rpc, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
    cleanup_free char *method = xasprintf("/runtime.v1.%s", rpc);
    cleanup_error crimp_error_t err = NULL;
    if (crimp_grpc_unary(cli->channel, NULL, method, crimp_grpc_deadline_in(cli->timeout), req,
                         resp_desc, resp, &err) < 0) {
        fprintf(stderr, "crimpctl: %s: %s: %s\n", strchr(rpc, '/') + 1, crimp_status_name(err->code),
                err->msg);
        if (err->code == GRPC_STATUS_UNAVAILABLE || err->code == GRPC_STATUS_DEADLINE_EXCEEDED)
            fprintf(stderr, "crimpctl: is crimpd running and listening on %s? (--endpoint)\n",
                    cli->endpoint);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli = {.endpoint = getenv("CRIMP_ENDPOINT"), .timeout = 5};
    if (cli.endpoint == NULL || cli.endpoint[0] == '\0')
        cli.endpoint = DEFAULT_ENDPOINT;
    enum { OPT_VERSION = 1000 };
    /* The admin API is HTTP: libcurl, set up once for the process.  */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const struct option opts[] = {{"endpoint", required_argument, NULL, 'e'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"admin-socket", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, OPT_VERSION},
                                         {0}};
    if (cli_take_output_options(&argc, argv, &cli.output) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "+e:t:a:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'e':
            cli.endpoint = optarg;
            break;
        case 't':
            cli.timeout = strtod(optarg, &end);
            if (end == optarg || *end || cli.timeout <= 0) {
                fprintf(stderr, "crimpctl: --timeout: `%s` is not a positive number\n", optarg);
                return 2;
            }
            break;
        case 'a':
            cli.admin_socket = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("crimpctl %s\n", CRIMP_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[optind], commands[i].name) != 0)
            continue;
        grpc_init();
        cli.channel = crimp_grpc_channel_open(cli.endpoint, 64 << 20);
        int rc = commands[i].run(&cli, argc - optind, argv + optind);
        grpc_channel_destroy(cli.channel);
        grpc_shutdown();
        return rc;
    }
    fprintf(stderr, "crimpctl: unknown command `%s` (see crimpctl --help)\n", argv[optind]);
    return 2;
}
