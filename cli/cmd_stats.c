/* crimpctl stats (a top-like table of ListContainerStats) and crimpctl
 * events (GetContainerEvents followed live): what a node operator looks at
 * to see that kubelet's housekeeping and Evented PLEG get their answers.  */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "grpc_client.h"
#include "pbjson.h"
#include "utils.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    interrupted = 1;
}

static void human_bytes(uint64_t v, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    size_t u = 0;
    while (d >= 1024 && u + 1 < CRIMP_ARRAY_SIZE(unit)) {
        d /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
}

static uint64_t value_of(const Runtime__V1__UInt64Value *v)
{
    return v ? v->value : 0;
}

static void print_stats_table(const Runtime__V1__ListContainerStatsResponse *r)
{
    printf("%-13s  %-20s  %7s  %10s  %10s  %10s\n", "CONTAINER", "NAME", "CPU %", "MEM", "RSS",
           "WRITABLE");
    for (size_t i = 0; i < r->n_stats; i++) {
        const Runtime__V1__ContainerStats *s = r->stats[i];
        const Runtime__V1__ContainerAttributes *a = s->attributes;
        char mem[32], rss[32], fs[32], cpu[16] = "-";
        human_bytes(s->memory ? value_of(s->memory->working_set_bytes) : 0, mem, sizeof(mem));
        human_bytes(s->memory ? value_of(s->memory->rss_bytes) : 0, rss, sizeof(rss));
        human_bytes(s->writable_layer ? value_of(s->writable_layer->used_bytes) : 0, fs,
                    sizeof(fs));
        /* usage_nano_cores is absent until crimp has two samples.  */
        if (s->cpu && s->cpu->usage_nano_cores)
            snprintf(cpu, sizeof(cpu), "%.2f", (double)s->cpu->usage_nano_cores->value / 1e7);
        printf("%-13.13s  %-20.20s  %7s  %10s  %10s  %10s\n", a ? a->id : "?",
               a && a->metadata ? a->metadata->name : "?", cpu, mem, rss, fs);
    }
}

static int stats_once(struct cli *cli, const char *pod, bool clear)
{
    Runtime__V1__ContainerStatsFilter filter = RUNTIME__V1__CONTAINER_STATS_FILTER__INIT;
    filter.pod_sandbox_id = (char *)(pod ? pod : "");
    Runtime__V1__ListContainerStatsRequest req = RUNTIME__V1__LIST_CONTAINER_STATS_REQUEST__INIT;
    req.filter = &filter;
    Runtime__V1__ListContainerStatsResponse *resp = NULL;
    if (cli_call(cli, "RuntimeService/ListContainerStats", &req.base,
                 &runtime__v1__list_container_stats_response__descriptor,
                 (ProtobufCMessage **)&resp) < 0)
        return -1;
    if (clear)
        fputs("\033[H\033[2J", stdout);
    if (cli_structured(cli))
        cli_print_message(cli, &resp->base);
    else
        print_stats_table(resp);
    fflush(stdout);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int cli_cmd_stats(struct cli *cli, int argc, char **argv)
{
    double watch = 0;
    const char *pod = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--watch") == 0 && i + 1 < argc) {
            watch = atof(argv[++i]);
        } else if (strcmp(argv[i], "--pod") == 0 && i + 1 < argc) {
            pod = argv[++i];
        } else {
            fprintf(stderr, "crimpctl stats: unknown argument %s (--watch SECS, --pod ID)\n",
                    argv[i]);
            return 2;
        }
    }
    if (watch <= 0)
        return stats_once(cli, pod, false) < 0 ? 1 : 0;
    signal(SIGINT, on_sigint);
    while (!interrupted) {
        if (stats_once(cli, pod, isatty(STDOUT_FILENO)) < 0)
            return 1;
        usleep((useconds_t)(watch * 1e6));
    }
    return 0;
}

static const char *event_name(Runtime__V1__ContainerEventType t)
{
    switch (t) {
    case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT:
        return "CREATED";
    case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT:
        return "STARTED";
    case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT:
        return "STOPPED";
    case RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT:
        return "DELETED";
    default:
        return "?";
    }
}

static void print_event(const Runtime__V1__ContainerEventResponse *e)
{
    char when[64] = "";
    time_t secs = (time_t)(e->created_at / 1000000000);
    struct tm tm;
    strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&secs, &tm));
    const char *name = "";
    for (size_t i = 0; i < e->n_containers_statuses; i++)
        if (strcmp(e->containers_statuses[i]->id, e->container_id) == 0 &&
            e->containers_statuses[i]->metadata)
            name = e->containers_statuses[i]->metadata->name;
    const Runtime__V1__PodSandboxMetadata *pm =
        e->pod_sandbox_status ? e->pod_sandbox_status->metadata : NULL;
    printf("%s.%03lld  %-8s  %-13.13s  %-20s  pod %s/%s\n", when,
           (long long)(e->created_at / 1000000 % 1000), event_name(e->container_event_type),
           e->container_id, name, pm ? pm->namespace_ : "?", pm ? pm->name : "?");
    fflush(stdout);
}

/* Follows GetContainerEvents until interrupted or crimpd ends the stream.  */
int cli_cmd_events(struct cli *cli, int argc, char **argv)
{
    Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
    cleanup_error crimp_error_t err = NULL;
    struct crimp_grpc_stream *s =
        crimp_grpc_stream_start(cli->channel, NULL, "/runtime.v1.RuntimeService/GetContainerEvents",
                                gpr_inf_future(GPR_CLOCK_REALTIME), &req.base, &err);
    if (s == NULL) {
        fprintf(stderr, "crimpctl: GetContainerEvents: %s\n", err->msg);
        return 1;
    }
    if (!cli_structured(cli))
        printf("%-12s  %-8s  %-13s  %-20s  %s\n", "TIME", "EVENT", "CONTAINER", "NAME", "POD");
    fflush(stdout);
    ProtobufCMessage *msg = NULL;
    int ret;
    while ((ret = crimp_grpc_stream_next(s, &runtime__v1__container_event_response__descriptor,
                                         &msg, &err)) == 1) {
        if (cli_structured(cli)) {
            json_auto_t *j = crimp_pbjson_from_message(msg);
            cli_print_item(cli, j);
        } else {
            print_event((const Runtime__V1__ContainerEventResponse *)msg);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    crimp_grpc_stream_free(s);
    if (ret < 0) {
        fprintf(stderr, "crimpctl: GetContainerEvents: %s: %s\n", crimp_status_name(err->code),
                err->msg);
        return 1;
    }
    return 0;
}
