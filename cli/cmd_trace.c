/* crimpctl trace [--all]: the teaching view.  Follows crimpd's live calls
 * and prints each CRI call as a tree of the backend calls it caused:
 *
 *   06:05:51.978  RunPodSandbox -> docker  OK  509.61 ms
 *                 ├─ +0.15 ms  http POST /containers/create  201  11.86 ms
 *                 └─ +212 ms   cni bridge ADD  0  26.87 ms
 *
 * Version and Status (kubelet asks every few seconds) are left out unless
 * --all.  With -o json (one line per call) or -o yaml (one document per
 * call) each call is printed whole, as the admin API's /v1/calls has it.  */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "utils.h"

struct trace_opts {
    bool all;
    const struct cli *cli;
};

/* A merged list's spans come from several backends: name each one.  */
static void print_span(json_t *s, const char *call_backend, bool last)
{
    int depth = (int)json_integer_value(json_object_get(s, "depth"));
    const char *by = json_string_value(json_object_get(s, "backend"));
    char name[128];
    snprintf(name, sizeof(name), "%s%s%s", by && strcmp(by, call_backend) ? by : "",
             by && strcmp(by, call_backend) ? ": " : "",
             json_string_value(json_object_get(s, "name")));
    printf("              %*s%s +%-9.2f %-4s %-44s %4lld  %9.2f ms\n", depth * 3, "",
           last ? "└─" : "├─", json_real_value(json_object_get(s, "start_us")) / 1e3,
           json_string_value(json_object_get(s, "kind")), name,
           (long long)json_integer_value(json_object_get(s, "status")),
           json_real_value(json_object_get(s, "duration_us")) / 1e3);
}

static void on_call(void *ctx, json_t *call)
{
    const struct trace_opts *o = ctx;
    const char *method = json_string_value(json_object_get(call, "method"));
    if (!o->all && method && (strcmp(method, "Version") == 0 || strcmp(method, "Status") == 0))
        return;
    if (cli_structured(o->cli)) {
        cli_print_item(o->cli, call); /* the call as the admin API has it, spans and all */
        return;
    }
    const char *start = json_string_value(json_object_get(call, "start"));
    /* "2026-11-23T06:05:51.978764024Z" → "06:05:51.978" */
    char clock[16] = "";
    if (start && strlen(start) >= 23)
        snprintf(clock, sizeof(clock), "%.12s", start + 11);
    /* Streaming sessions read "stream/exec", apart from the CRI Exec call
     * that handed out their URL, and say what they carried.  */
    const char *service = json_string_value(json_object_get(call, "service"));
    bool session = service && strcmp(service, "stream") == 0;
    printf("%-13s %s%s -> %s  %s  %.2f ms", clock, session ? "stream/" : "", method ? method : "?",
           json_string_value(json_object_get(call, "backend")),
           json_string_value(json_object_get(call, "code")),
           json_real_value(json_object_get(call, "duration_us")) / 1e3);
    if (session)
        printf("  %lld B in, %lld B out",
               (long long)json_integer_value(json_object_get(call, "bytes_in")),
               (long long)json_integer_value(json_object_get(call, "bytes_out")));
    putchar('\n');
    json_t *spans = json_object_get(call, "spans");
    size_t n = json_array_size(spans), i;
    json_t *s;
    json_array_foreach (spans, i, s)
        print_span(s, json_string_value(json_object_get(call, "backend")), i + 1 == n);
    long long dropped = json_integer_value(json_object_get(call, "spans_dropped"));
    if (dropped)
        printf("              (%lld more backend calls not kept)\n", dropped);
}

int cli_cmd_trace(struct cli *cli, int argc, char **argv)
{
    struct trace_opts o = {.cli = cli};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            o.all = true;
        } else {
            fprintf(stderr, "crimpctl: usage: crimpctl trace [--all]\n");
            return 2;
        }
    }
    /* The banner goes to stderr when the output is data.  */
    fprintf(cli_structured(cli) ? stderr : stdout, "following CRI calls on %s (Ctrl-C to stop)\n",
            cli->endpoint);
    fflush(stdout);
    return cli_admin_follow(cli, "/v1/calls/follow", on_call, &o) < 0 ? 1 : 0;
}
