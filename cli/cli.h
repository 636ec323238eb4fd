/* crimpctl: crimp's own CRI client.  One function per command; main only
 * parses the global options and picks the command.  */
#ifndef CRIMP_CLI_H
#define CRIMP_CLI_H

#include <grpc/grpc.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "cri.pb-c.h"
#include "error.h"

struct cli {
    const char *endpoint;
    double timeout; /* seconds per call */
    bool json;
    const char *admin_socket; /* NULL: admin.sock beside the CRI socket */
    grpc_channel *channel;
};

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(struct cli *cli, int argc, char **argv);
};

/* Calls RPC ("RuntimeService/Version") and unpacks the reply as RESP_DESC;
 * prints "crimpctl: RPC: CODE: message" and returns < 0 on failure.  */
int cli_call(struct cli *cli, const char *rpc, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);

/* Prints MSG as indented JSON (protobuf's JSON mapping).  */
void cli_print_json(const ProtobufCMessage *msg);

/* The admin API (HTTP on the admin socket): the reply's JSON, or NULL
 * after printing why.  */
json_t *cli_admin_request(struct cli *cli, const char *method, const char *path);
char *cli_admin_socket(const struct cli *cli);
/* GET PATH, NULL without a word when the admin API is not there (a plain
 * CRI endpoint) or answers an error: for polling.  */
json_t *cli_admin_get_quiet(struct cli *cli, const char *path);
/* Follows a stream of JSON lines (GET PATH) until crimpd ends it.  */
int cli_admin_follow(struct cli *cli, const char *path, void (*on_line)(void *ctx, json_t *doc),
                     void *ctx);

int cli_cmd_backend(struct cli *cli, int argc, char **argv);
int cli_cmd_latency(struct cli *cli, int argc, char **argv);
int cli_cmd_bench(struct cli *cli, int argc, char **argv);
int cli_cmd_trace(struct cli *cli, int argc, char **argv);
int cli_cmd_version(struct cli *cli, int argc, char **argv);
int cli_cmd_info(struct cli *cli, int argc, char **argv);
int cli_cmd_stats(struct cli *cli, int argc, char **argv);
int cli_cmd_events(struct cli *cli, int argc, char **argv);
int cli_cmd_pull(struct cli *cli, int argc, char **argv);

#endif
