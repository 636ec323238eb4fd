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

#include <stdio.h>

enum cli_output { CLI_OUTPUT_TABLE, CLI_OUTPUT_JSON, CLI_OUTPUT_YAML };

struct cli {
    const char *endpoint;
    double timeout; /* seconds per call */
    enum cli_output output; /* -o table|json|yaml, --json */
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

/* Output formats (output.c).  Removes every -o FMT, -oFMT, --output FMT,
 * --output=FMT and --json from ARGV, wherever they are, so that each
 * command takes them; the last one wins.  < 0 after a message when a
 * format is missing or unknown.  */
int cli_take_output_options(int *argc, char **argv, enum cli_output *out);
/* True for -o json and -o yaml: print data, not a table.  */
bool cli_structured(const struct cli *cli);
/* DOC as indented JSON or as a YAML document, per -o.  */
void cli_print_doc(const struct cli *cli, json_t *doc);
/* MSG in protobuf's JSON mapping, as cli_print_doc.  */
void cli_print_message(const struct cli *cli, const ProtobufCMessage *msg);
/* One item of a stream (events, trace): a JSON line, or a YAML document
 * after "---".  */
void cli_print_item(const struct cli *cli, json_t *doc);
/* DOC as block-style YAML (yaml.c).  */
void cli_yaml_dump(json_t *doc, FILE *out);

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
