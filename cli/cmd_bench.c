/* crimpctl bench: the A/B benchmark of two call chains.  Runs the same pod
 * lifecycle workload through crimpd once per named backend — N pods of M
 * containers, P pods at a time: pull, runp, create, start, status,
 * exec-sync, stop, remove — and prints each CRI call's latency per backend
 * side by side with the ratio to the first.  Pods are sent to a backend by
 * naming it as the runtime handler, so the node's default never changes.  */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "grpc_client.h"
#include "utils.h"

enum step { S_RUNP, S_PODSTATUS, S_CREATE, S_START, S_STATUS, S_EXEC, S_STOP, S_RM, S_STOPP,
            S_RMP, S_N };
static const char *const STEP_NAMES[S_N] = {
    "RunPodSandbox", "PodSandboxStatus", "CreateContainer", "StartContainer", "ContainerStatus",
    "ExecSync", "StopContainer", "RemoveContainer", "StopPodSandbox", "RemovePodSandbox"};

struct samples {
    double *ms;
    size_t n, cap;
};

struct run {
    struct cli *cli;
    const char *backend, *image;
    int pods, containers;
    pthread_mutex_t lock;
    int next_pod, done_pods, errors;
    struct samples steps[S_N];
};

static void add_sample(struct run *r, enum step s, double ms)
{
    pthread_mutex_lock(&r->lock);
    struct samples *x = &r->steps[s];
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->ms = xrealloc(x->ms, x->cap * sizeof(double));
    }
    x->ms[x->n++] = ms;
    pthread_mutex_unlock(&r->lock);
}

/* One timed call; the reply is freed here unless KEEP is given.  */
static int timed(struct run *r, enum step s, const char *rpc, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *desc, ProtobufCMessage **keep)
{
    ProtobufCMessage *resp = NULL;
    cleanup_free char *method = xasprintf("/runtime.v1.RuntimeService/%s", rpc);
    cleanup_error crimp_error_t err = NULL;
    int64_t t0 = crimp_now_mono_ns();
    int rc = crimp_grpc_unary(r->cli->channel, NULL, method, crimp_grpc_deadline_in(120), req,
                              desc, &resp, &err);
    double ms = (double)(crimp_now_mono_ns() - t0) / 1e6;
    if (rc < 0) {
        pthread_mutex_lock(&r->lock);
        if (r->errors++ < 3)
            fprintf(stderr, "\ncrimpctl bench: %s on %s: %s\n", rpc, r->backend, err->msg);
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    add_sample(r, s, ms);
    if (keep)
        *keep = resp;
    else
        protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int container_lifecycle_start(struct run *r, const char *pod,
                                     Runtime__V1__PodSandboxConfig *pcfg, int i, char **id)
{
    Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
    char name[32];
    snprintf(name, sizeof(name), "c%d", i);
    md.name = name;
    Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
    img.image = (char *)r->image;
    /* Handles SIGTERM as real apps do, so StopContainer times the stop and
     * not a grace period.  */
    char *cmd[] = {"sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"};
    Runtime__V1__LinuxContainerConfig lx = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
    Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
    cfg.metadata = &md;
    cfg.image = &img;
    cfg.command = cmd;
    cfg.n_command = 3;
    cfg.linux = &lx;
    Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.pod_sandbox_id = (char *)pod;
    req.config = &cfg;
    req.sandbox_config = pcfg;
    Runtime__V1__CreateContainerResponse *resp = NULL;
    if (timed(r, S_CREATE, "CreateContainer", &req.base,
              &runtime__v1__create_container_response__descriptor, (ProtobufCMessage **)&resp) < 0)
        return -1;
    *id = xstrdup(resp->container_id);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    Runtime__V1__StartContainerRequest start = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
    start.container_id = *id;
    return timed(r, S_START, "StartContainer", &start.base,
                 &runtime__v1__start_container_response__descriptor, NULL);
}

static void container_lifecycle_end(struct run *r, char *id)
{
    Runtime__V1__ContainerStatusRequest st = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
    st.container_id = id;
    timed(r, S_STATUS, "ContainerStatus", &st.base,
          &runtime__v1__container_status_response__descriptor, NULL);
    char *echo[] = {"echo", "bench"};
    Runtime__V1__ExecSyncRequest ex = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
    ex.container_id = id;
    ex.cmd = echo;
    ex.n_cmd = 2;
    ex.timeout = 30;
    timed(r, S_EXEC, "ExecSync", &ex.base, &runtime__v1__exec_sync_response__descriptor, NULL);
    Runtime__V1__StopContainerRequest stop = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
    stop.container_id = id;
    stop.timeout = 10;
    timed(r, S_STOP, "StopContainer", &stop.base,
          &runtime__v1__stop_container_response__descriptor, NULL);
    Runtime__V1__RemoveContainerRequest rm = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
    rm.container_id = id;
    timed(r, S_RM, "RemoveContainer", &rm.base,
          &runtime__v1__remove_container_response__descriptor, NULL);
}

static void pod_lifecycle(struct run *r, int n)
{
    char name[48], uid[64];
    snprintf(name, sizeof(name), "bench-%d", n);
    snprintf(uid, sizeof(uid), "crimpctl-bench-%d-%d-%lld", (int)getpid(), n,
             (long long)crimp_now_real_ns());
    Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    md.name = name;
    md.namespace_ = (char *)"crimpctl-bench";
    md.uid = uid;
    Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    cfg.metadata = &md;
    cfg.linux = &lx;
    cfg.log_directory = (char *)"/tmp/crimpctl-bench-logs";
    Runtime__V1__RunPodSandboxRequest run = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
    run.config = &cfg;
    run.runtime_handler = (char *)r->backend; /* crimp routes by it */
    Runtime__V1__RunPodSandboxResponse *resp = NULL;
    if (timed(r, S_RUNP, "RunPodSandbox", &run.base,
              &runtime__v1__run_pod_sandbox_response__descriptor, (ProtobufCMessage **)&resp) < 0)
        return;
    cleanup_free char *pod = xstrdup(resp->pod_sandbox_id);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    Runtime__V1__PodSandboxStatusRequest ps = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
    ps.pod_sandbox_id = pod;
    timed(r, S_PODSTATUS, "PodSandboxStatus", &ps.base,
          &runtime__v1__pod_sandbox_status_response__descriptor, NULL);
    char **ids = xcalloc((size_t)r->containers, sizeof(char *));
    for (int i = 0; i < r->containers; i++)
        container_lifecycle_start(r, pod, &cfg, i, &ids[i]);
    for (int i = 0; i < r->containers; i++)
        if (ids[i]) {
            container_lifecycle_end(r, ids[i]);
            free(ids[i]);
        }
    free(ids);
    Runtime__V1__StopPodSandboxRequest stop = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
    stop.pod_sandbox_id = pod;
    timed(r, S_STOPP, "StopPodSandbox", &stop.base,
          &runtime__v1__stop_pod_sandbox_response__descriptor, NULL);
    Runtime__V1__RemovePodSandboxRequest rm = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
    rm.pod_sandbox_id = pod;
    timed(r, S_RMP, "RemovePodSandbox", &rm.base,
          &runtime__v1__remove_pod_sandbox_response__descriptor, NULL);
}

static void progress(struct run *r)
{
    if (!isatty(STDERR_FILENO))
        return;
    int width = 30, filled = r->pods ? width * r->done_pods / r->pods : width;
    fprintf(stderr, "\r%-12.12s [%.*s%*s] %d/%d pods", r->backend, filled,
            "##############################", width - filled, "", r->done_pods, r->pods);
}

static void *worker(void *arg)
{
    struct run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        int n = r->next_pod < r->pods ? r->next_pod++ : -1;
        pthread_mutex_unlock(&r->lock);
        if (n < 0)
            return NULL;
        pod_lifecycle(r, n);
        pthread_mutex_lock(&r->lock);
        r->done_pods++;
        progress(r);
        pthread_mutex_unlock(&r->lock);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(struct samples *s, double q)
{
    if (s->n == 0)
        return NAN;
    qsort(s->ms, s->n, sizeof(double), cmp_double);
    return s->ms[(size_t)(q * (double)(s->n - 1) + 0.5)];
}

static int pull(struct cli *cli, const char *image, const char *backend)
{
    /* A PullImage names no pod: it goes to the default backend, so a pod
     * on another backend gets its image from crimp at CreateContainer.  */
    Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
    img.image = (char *)image;
    Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
    req.image = &img;
    ProtobufCMessage *resp = NULL;
    cleanup_error crimp_error_t err = NULL;
    if (crimp_grpc_unary(cli->channel, NULL, "/runtime.v1.ImageService/PullImage",
                         crimp_grpc_deadline_in(300), &req.base,
                         &runtime__v1__pull_image_response__descriptor, &resp, &err) < 0) {
        fprintf(stderr, "crimpctl bench: pull %s: %s\n", image, err->msg);
        return -1;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static void print_table(struct run *runs, int n)
{
    printf("\n%-18s", "CRI call");
    for (int b = 0; b < n; b++)
        printf(" | %-12.12s %5s %9s %9s %9s", runs[b].backend, "n", "p50 ms", "p90 ms", "p99 ms");
    for (int b = 1; b < n; b++)
        printf(" | p50 %s/%s", runs[b].backend, runs[0].backend);
    putchar('\n');
    for (int s = 0; s < S_N; s++) {
        printf("%-18s", STEP_NAMES[s]);
        double base = quantile(&runs[0].steps[s], 0.5);
        for (int b = 0; b < n; b++) {
            struct samples *x = &runs[b].steps[s];
            printf(" | %-12s %5zu %9.2f %9.2f %9.2f", "", x->n, quantile(x, 0.5),
                   quantile(x, 0.9), quantile(x, 0.99));
        }
        for (int b = 1; b < n; b++)
            printf(" | %*.2fx", (int)(strlen(runs[b].backend) + strlen(runs[0].backend) + 4),
                   quantile(&runs[b].steps[s], 0.5) / base);
        putchar('\n');
    }
}

/* The runs as data: per backend and step, n, p50/p90/p99 and every sample
 * (what --save writes and -o json|yaml prints).  */
static json_t *bench_doc(struct run *runs, int n)
{
    json_t *doc = json_pack("{s:i, s:i, s:s, s:{}}", "pods", runs[0].pods, "containers",
                                 runs[0].containers, "image", runs[0].image, "backends");
    for (int b = 0; b < n; b++) {
        json_t *steps = json_object();
        for (int s = 0; s < S_N; s++) {
            struct samples *x = &runs[b].steps[s];
            json_t *ms = json_array();
            for (size_t i = 0; i < x->n; i++)
                json_array_append_new(ms, json_real(x->ms[i]));
            json_object_set_new(steps, STEP_NAMES[s],
                                json_pack("{s:i, s:f, s:f, s:f, s:o}", "n", (int)x->n, "p50_ms",
                                          quantile(x, 0.5), "p90_ms", quantile(x, 0.9), "p99_ms",
                                          quantile(x, 0.99), "samples_ms", ms));
        }
        json_object_set_new(json_object_get(doc, "backends"), runs[b].backend, steps);
    }
    return doc;
}

static int save_json(struct run *runs, int n, const char *path)
{
    json_auto_t *doc = bench_doc(runs, n);
    if (json_dump_file(doc, path, JSON_INDENT(1)) < 0) {
        fprintf(stderr, "crimpctl bench: cannot write %s\n", path);
        return -1;
    }
    fprintf(stderr, "saved %s\n", path);
    return 0;
}

int cli_cmd_bench(struct cli *cli, int argc, char **argv)
{
    int pods = 10, containers = 1, parallel = 1;
    const char *image = "busybox", *backends = NULL, *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && strcmp(a, "--pods") == 0) pods = atoi(v), i++;
        else if (v && strcmp(a, "--containers") == 0) containers = atoi(v), i++;
        else if (v && strcmp(a, "--parallel") == 0) parallel = atoi(v), i++;
        else if (v && strcmp(a, "--image") == 0) image = v, i++;
        else if (v && strcmp(a, "--backends") == 0) backends = v, i++;
        else if (v && strcmp(a, "--save") == 0) json_path = v, i++;
        else {
            fprintf(stderr, "crimpctl: usage: crimpctl bench --backends A,B [--pods N] "
                            "[--containers M] [--parallel P] [--image IMG] [--save FILE.json]\n");
            return 2;
        }
    }
    if (backends == NULL || pods < 1 || containers < 1 || parallel < 1 || parallel > 64) {
        fprintf(stderr, "crimpctl bench: --backends A,B is required; pods, containers >= 1, "
                        "parallel 1..64\n");
        return 2;
    }
    cleanup_free char *list = xstrdup(backends);
    struct run runs[8];
    int n = 0;
    char *save = NULL;
    for (char *b = strtok_r(list, ",", &save); b && n < 8; b = strtok_r(NULL, ",", &save)) {
        runs[n] = (struct run){.cli = cli, .backend = b, .image = image, .pods = pods,
                               .containers = containers};
        pthread_mutex_init(&runs[n].lock, NULL);
        n++;
    }
    if (pull(cli, image, runs[0].backend) < 0)
        return 1;
    fprintf(cli_structured(cli) ? stderr : stdout,
            "%d pods x %d containers, %d at a time, image %s, through %s\n", pods, containers,
            parallel, image, cli->endpoint);
    fflush(stdout);
    int errors = 0;
    for (int b = 0; b < n; b++) {
        pthread_t t[64];
        for (int i = 0; i < parallel; i++)
            pthread_create(&t[i], NULL, worker, &runs[b]);
        for (int i = 0; i < parallel; i++)
            pthread_join(t[i], NULL);
        if (isatty(STDERR_FILENO))
            fputc('\n', stderr);
        errors += runs[b].errors;
    }
    if (cli_structured(cli)) {
        json_auto_t *doc = bench_doc(runs, n);
        cli_print_doc(cli, doc);
    } else {
        print_table(runs, n);
    }
    int rc = json_path ? save_json(runs, n, json_path) : 0;
    for (int b = 0; b < n; b++) {
        for (int s = 0; s < S_N; s++)
            free(runs[b].steps[s].ms);
        pthread_mutex_destroy(&runs[b].lock);
    }
    if (errors)
        fprintf(stderr, "crimpctl bench: %d calls failed\n", errors);
    return errors || rc < 0 ? 1 : 0;
}
