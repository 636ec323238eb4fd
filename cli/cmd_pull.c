/* crimpctl pull IMAGE [--creds USER:PASSWORD] — PullImage through the CRI
 * socket, as kubelet pulls, while a progress bar (layers and bytes, from
 * crimpd's GET /v1/pulls) is drawn on stderr when it is a terminal.  At the
 * end the image reference, as crictl prints it, and a summary of what the
 * pull fetched.  Against an endpoint that is not crimpd the pull runs
 * without progress.  */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "utils.h"

#define POLL_US      200000
#define PULL_TIMEOUT 600.0 /* seconds: a pull may take minutes, not crimpctl's 5 s */

struct pull_job {
    struct cli cli;
    const char *image;
    Runtime__V1__PullImageRequest req;
    Runtime__V1__PullImageResponse *resp;
    int rc;
    atomic_bool done;
};

static void *run_pull(void *arg)
{
    struct pull_job *job = arg;
    job->rc = cli_call(&job->cli, "ImageService/PullImage", &job->req.base,
                       &runtime__v1__pull_image_response__descriptor,
                       (ProtobufCMessage **)&job->resp);
    atomic_store(&job->done, true);
    return NULL;
}

/* This pull's entry in GET /v1/pulls (the newest for IMAGE), or NULL.  */
static json_t *find_pull(json_t *doc, const char *image)
{
    json_t *found = NULL, *p;
    size_t i;
    json_array_foreach (json_object_get(doc, "pulls"), i, p) {
        const char *name = json_string_value(json_object_get(p, "image"));
        if (name && (strcmp(name, image) == 0 || strstr(name, image) != NULL))
            found = p;
    }
    return found;
}

static double mb(json_t *p, const char *key)
{
    return (double)json_integer_value(json_object_get(p, key)) / 1e6;
}

static void draw_bar(json_t *p)
{
    double total = mb(p, "bytes_total"), done = mb(p, "bytes_done");
    int width = 30, filled = total > 0 ? (int)(width * done / total) : 0;
    if (filled > width)
        filled = width;
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %lld/%lld layers  %.1f/%.1f MB", bar,
            (long long)json_integer_value(json_object_get(p, "layers_done")),
            (long long)json_integer_value(json_object_get(p, "layers_total")), done, total);
    fflush(stderr);
}

static int parse_args(struct pull_job *job, Runtime__V1__ImageSpec *spec,
                      Runtime__V1__AuthConfig *auth, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--creds") == 0 && i + 1 < argc) {
            char *colon = strchr(argv[++i], ':');
            if (colon == NULL)
                return -1;
            *colon = '\0';
            auth->username = argv[i];
            auth->password = colon + 1;
            job->req.auth = auth;
        } else if (argv[i][0] != '-' && job->image == NULL) {
            job->image = argv[i];
        } else {
            return -1;
        }
    }
    if (job->image == NULL)
        return -1;
    spec->image = (char *)job->image;
    job->req.image = spec;
    return 0;
}

/* The pull's last state (new reference, may be NULL): polled while it
 * runs, drawn when TTY.  */
static json_t *follow_pull(struct pull_job *job, bool tty)
{
    json_t *last = NULL;
    bool drew = false;
    for (;;) {
        bool finished = atomic_load(&job->done);
        json_auto_t *doc = cli_admin_get_quiet(&job->cli, "/v1/pulls");
        json_t *p = find_pull(doc, job->image);
        if (p != NULL) {
            json_decref(last);
            last = json_incref(p);
            if (tty) {
                draw_bar(p);
                drew = true;
            }
        }
        if (finished)
            break;
        usleep(POLL_US);
    }
    if (drew)
        fputc('\n', stderr);
    return last;
}

int cli_cmd_pull(struct cli *cli, int argc, char **argv)
{
    struct pull_job job = {.cli = *cli, .req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT};
    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__AuthConfig auth = RUNTIME__V1__AUTH_CONFIG__INIT;
    if (parse_args(&job, &spec, &auth, argc, argv) < 0) {
        fprintf(stderr, "crimpctl: usage: crimpctl pull IMAGE [--creds USER:PASSWORD]\n");
        return 2;
    }
    if (job.cli.timeout < PULL_TIMEOUT)
        job.cli.timeout = PULL_TIMEOUT;
    pthread_t t;
    if (pthread_create(&t, NULL, run_pull, &job) != 0) {
        perror("crimpctl: pthread_create");
        return 1;
    }
    json_auto_t *last = follow_pull(&job, isatty(STDERR_FILENO));
    pthread_join(t, NULL);
    if (job.rc < 0)
        return 1;
    if (cli->output != CLI_OUTPUT_TABLE) {
        cli_print_message(cli, &job.resp->base);
    } else {
        printf("Image is up to date for %s\n", job.resp->image_ref);
        if (last != NULL)
            printf("pulled by %s in %.2f s: %lld/%lld layers, %.1f MB\n",
                   json_string_value(json_object_get(last, "backend")),
                   json_real_value(json_object_get(last, "seconds")),
                   (long long)json_integer_value(json_object_get(last, "layers_done")),
                   (long long)json_integer_value(json_object_get(last, "layers_total")),
                   mb(last, "bytes_total"));
    }
    protobuf_c_message_free_unpacked(&job.resp->base, NULL);
    return 0;
}
