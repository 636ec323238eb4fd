/* crimpctl backend list | set NAME | drain NAME | undrain NAME — the
 * cutover's switches, over crimpd's admin socket.  */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "utils.h"

static void print_table(json_t *backends)
{
    printf("%-16s %-10s %-5s %6s %10s  %-7s  %-8s  %s\n", "NAME", "TYPE", "UP", "PODS",
           "CONTAINERS", "DEFAULT", "DRAINING", "RUNTIME / ENDPOINT");
    size_t i;
    json_t *b;
    json_array_foreach (backends, i, b) {
        const char *runtime = json_string_value(json_object_get(b, "runtime"));
        printf("%-16s %-10s %-5s %6lld %10lld  %-7s  %-8s  %s (%s)\n",
               json_string_value(json_object_get(b, "name")),
               json_string_value(json_object_get(b, "type")),
               json_is_true(json_object_get(b, "up")) ? "up" : "DOWN",
               (long long)json_integer_value(json_object_get(b, "pods")),
               (long long)json_integer_value(json_object_get(b, "containers")),
               json_is_true(json_object_get(b, "default")) ? "*" : "",
               json_is_true(json_object_get(b, "draining")) ? "yes" : "",
               runtime ? runtime : "-", json_string_value(json_object_get(b, "endpoint")));
    }
}

static int print_doc(struct cli *cli, json_t *doc)
{
    if (doc == NULL)
        return 1;
    if (cli_structured(cli)) {
        cli_print_doc(cli, doc);
    } else if (json_object_get(doc, "backends")) {
        print_table(json_object_get(doc, "backends"));
    } else {
        json_t *one = json_pack("[O]", doc);
        print_table(one);
        json_decref(one);
    }
    json_decref(doc);
    return 0;
}

int cli_cmd_backend(struct cli *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "list";
    if (strcmp(sub, "list") == 0)
        return print_doc(cli, cli_admin_request(cli, "GET", "/v1/backends"));
    static const struct {
        const char *sub, *action;
    } actions[] = {{"set", "default"}, {"drain", "drain"}, {"undrain", "undrain"}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(actions); i++) {
        if (strcmp(sub, actions[i].sub) != 0)
            continue;
        if (argc != 3) {
            fprintf(stderr, "crimpctl: usage: crimpctl backend %s NAME\n", sub);
            return 2;
        }
        cleanup_free char *path = xasprintf("/v1/backends/%s/%s", argv[2], actions[i].action);
        return print_doc(cli, cli_admin_request(cli, "POST", path));
    }
    fprintf(stderr, "crimpctl: backend: unknown subcommand `%s` (list, set, drain, undrain)\n", sub);
    return 2;
}
