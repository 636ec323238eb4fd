/* crimpctl version / info.  */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "utils.h"

int cli_cmd_version(struct cli *cli, int argc, char **argv)
{
    Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
    req.version = "v1";
    Runtime__V1__VersionResponse *resp = NULL;
    if (cli_call(cli, "RuntimeService/Version", &req.base,
                 &runtime__v1__version_response__descriptor, (ProtobufCMessage **)&resp) < 0)
        return 1;
    if (cli_structured(cli)) {
        cli_print_message(cli, &resp->base);
    } else {
        printf("Version:            %s\n", resp->version);
        printf("RuntimeName:        %s\n", resp->runtime_name);
        printf("RuntimeVersion:     %s\n", resp->runtime_version);
        printf("RuntimeApiVersion:  %s\n", resp->runtime_api_version);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static void print_conditions(const Runtime__V1__RuntimeStatus *st)
{
    size_t w = strlen("CONDITION");
    for (size_t i = 0; i < st->n_conditions; i++)
        if (strlen(st->conditions[i]->type) > w)
            w = strlen(st->conditions[i]->type);
    printf("%-*s  %-6s  %-24s  %s\n", (int)w, "CONDITION", "STATUS", "REASON", "MESSAGE");
    for (size_t i = 0; i < st->n_conditions; i++) {
        const Runtime__V1__RuntimeCondition *c = st->conditions[i];
        printf("%-*s  %-6s  %-24s  %s\n", (int)w, c->type, c->status ? "true" : "false",
               c->reason[0] ? c->reason : "-", c->message[0] ? c->message : "-");
    }
}

static bool runtime_ready(const Runtime__V1__RuntimeStatus *st)
{
    for (size_t i = 0; st && i < st->n_conditions; i++)
        if (strcmp(st->conditions[i]->type, "RuntimeReady") == 0)
            return st->conditions[i]->status;
    return false;
}

/* Exit status 1 when the runtime is not ready, so scripts can wait on it.  */
int cli_cmd_info(struct cli *cli, int argc, char **argv)
{
    Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
    req.verbose = true;
    Runtime__V1__StatusResponse *resp = NULL;
    if (cli_call(cli, "RuntimeService/Status", &req.base, &runtime__v1__status_response__descriptor,
                 (ProtobufCMessage **)&resp) < 0)
        return 1;
    bool ready = runtime_ready(resp->status);
    if (cli_structured(cli)) {
        cli_print_message(cli, &resp->base);
    } else {
        if (resp->status)
            print_conditions(resp->status);
        for (size_t i = 0; i < resp->n_info; i++) {
            json_auto_t *j = json_loads(resp->info[i]->value, 0, NULL);
            printf("\n%s:\n", resp->info[i]->key);
            if (j) {
                json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
            } else {
                printf("%s\n", resp->info[i]->value);
            }
        }
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return ready ? 0 : 1;
}
