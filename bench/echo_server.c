/* crimp-echo-server: the floor crimpd's Version latency is measured against.
 *
 * A grpc C core server that answers /runtime.v1.RuntimeService/Version with a
 * fixed, pre-serialized VersionResponse and nothing else.  Its thread model is
 * crimpd's for Version (shim/server.c): one completion queue, N poller
 * threads, a registered method whose request arrives with its payload, the
 * reply sent straight from the poller that saw the match.  What it leaves out
 * is exactly what crimpd adds on top of gRPC: decoding and validating the
 * request, building and packing a reply, the recorder, the second batch that
 * watches for cancellation.  So crimpd / echo is crimpd's own overhead.
 *
 * Usage: crimp-echo-server --listen unix:///path [--pollers N]  */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "cri.pb-c.h"
#include "error.h"
#include "signal_pipe.h"
#include "grpc_client.h"
#include "utils.h"

#define VERSION_METHOD "/runtime.v1.RuntimeService/Version"

/* Requests kept posted: more than the deepest benchmark (64 clients), so a
 * call never waits inside gRPC for the server to ask for it.  */
enum { SLOTS = 256 };

enum slot_state { SLOT_REQUESTED, SLOT_ANSWERING };

/* One request slot, recycled forever: it is posted, matched, answered with
 * one batch, and posted again.  No allocation per call but gRPC's own.  */
struct slot {
    struct echo_server *srv;
    enum slot_state state;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array request_md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *reply;
    int cancelled;
};

struct echo_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    void *method;
    grpc_slice reply; /* the VersionResponse, packed once */
    atomic_bool stopping;
    int shutdown_tag; /* its address tags the shutdown notification */
    atomic_bool shutdown_done;
    struct slot slots[SLOTS];
    pthread_t *pollers;
    int npollers;
};

/* Signals as bytes on a pipe that main reads, as crimpd does
 * (signal_pipe.h).  */
static int signal_fd = -1;

static int install_signal_handlers(crimp_error_t *err)
{
    static const int signals[] = {SIGTERM, SIGINT};
    signal_fd = crimp_signal_pipe(signals, sizeof(signals) / sizeof(signals[0]), err);
    return signal_fd < 0 ? -1 : 0;
}

static void wait_for_signal(void)
{
    unsigned char b;
    while (read(signal_fd, &b, 1) < 0 && errno == EINTR)
        ;
}

static grpc_slice pack_reply(void)
{
    Runtime__V1__VersionResponse resp = RUNTIME__V1__VERSION_RESPONSE__INIT;
    resp.version = (char *)"0.1.0";
    resp.runtime_name = (char *)"echo";
    resp.runtime_version = (char *)CRIMP_VERSION " (echo floor)";
    resp.runtime_api_version = (char *)"v1";
    size_t len = runtime__v1__version_response__get_packed_size(&resp);
    grpc_slice s = grpc_slice_malloc(len);
    runtime__v1__version_response__pack(&resp, GRPC_SLICE_START_PTR(s));
    return s;
}

static void post_slot(struct slot *s)
{
    s->state = SLOT_REQUESTED;
    s->call = NULL;
    s->payload = NULL;
    s->reply = NULL;
    grpc_call_error ce = grpc_server_request_registered_call(
        s->srv->server, s->srv->method, &s->call, &s->deadline, &s->request_md, &s->payload,
        s->srv->cq, s->srv->cq, s);
    if (ce != GRPC_CALL_OK)
        fprintf(stderr, "crimp-echo-server: cannot request a call: %s\n",
                grpc_call_error_to_string(ce));
}

/* Everything in one batch: the request is complete (unary, payload read
 * with the match), so the reply, the status and the close go out together
 * and complete as one event.  */
static void answer(struct slot *s)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    s->reply = grpc_raw_byte_buffer_create(&s->srv->reply, 1);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->reply;
    ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[3].data.recv_close_on_server.cancelled = &s->cancelled;
    s->state = SLOT_ANSWERING;
    grpc_call_error ce = grpc_call_start_batch(s->call, ops, 4, s, NULL);
    if (ce != GRPC_CALL_OK) {
        fprintf(stderr, "crimp-echo-server: cannot answer: %s\n", grpc_call_error_to_string(ce));
        abort(); /* a programming error: the batch above is always valid */
    }
}

static void release_call(struct slot *s)
{
    if (s->call)
        grpc_call_unref(s->call);
    if (s->payload)
        grpc_byte_buffer_destroy(s->payload);
    if (s->reply)
        grpc_byte_buffer_destroy(s->reply);
    /* The slices in it belonged to the call; the array's storage is kept
     * for the next one (gRPC appends at count).  */
    s->request_md.count = 0;
}

static void on_event(struct slot *s, bool ok)
{
    if (s->state == SLOT_REQUESTED && ok) {
        answer(s);
        return;
    }
    /* Answered (ok or not: a client may leave early), or withdrawn by the
     * shutdown: free the call and post the slot again unless the server is
     * going away.  */
    bool withdrawn = s->state == SLOT_REQUESTED;
    release_call(s);
    if (!withdrawn && !atomic_load(&s->srv->stopping))
        post_slot(s);
}

static void *poller_main(void *arg)
{
    struct echo_server *srv = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &srv->shutdown_tag)
            atomic_store(&srv->shutdown_done, true);
        else
            on_event(ev.tag, ev.success != 0);
    }
}

/* "unix:///p", "unix:/p" or "/p" → "/p"; NULL for anything else.  */
static const char *socket_path(const char *endpoint)
{
    if (has_prefix(endpoint, "unix://"))
        endpoint += strlen("unix://");
    else if (has_prefix(endpoint, "unix:"))
        endpoint += strlen("unix:");
    return endpoint[0] == '/' ? endpoint : NULL;
}

static int start_server(struct echo_server *srv, const char *path, crimp_error_t *err)
{
    struct stat st;
    /* A socket left by a killed run: this is a benchmark tool, not a
     * daemon that must guard a live peer.  */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);

    srv->server = grpc_server_create(NULL, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    srv->method = grpc_server_register_method(srv->server, VERSION_METHOD, NULL,
                                              GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    cleanup_free char *addr = xasprintf("unix:%s", path);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(srv->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0)
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0, "cannot listen on `%s`", path);
    grpc_server_start(srv->server);

    srv->reply = pack_reply();
    for (int i = 0; i < SLOTS; i++) {
        srv->slots[i].srv = srv;
        grpc_metadata_array_init(&srv->slots[i].request_md);
        post_slot(&srv->slots[i]);
    }
    srv->pollers = xcalloc((size_t)srv->npollers, sizeof(*srv->pollers));
    for (int i = 0; i < srv->npollers; i++) {
        pthread_create(&srv->pollers[i], NULL, poller_main, srv);
        pthread_setname_np(srv->pollers[i], "echo-poll");
    }
    return 0;
}

static void stop_server(struct echo_server *srv)
{
    atomic_store(&srv->stopping, true);
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    grpc_server_cancel_all_calls(srv->server);
    /* gRPC forbids destroying the server before the pollers have seen the
     * shutdown notification; a benchmark can afford to poll for it.  */
    while (!atomic_load(&srv->shutdown_done))
        usleep(1000);
    grpc_server_destroy(srv->server);
    grpc_completion_queue_shutdown(srv->cq);
    for (int i = 0; i < srv->npollers; i++)
        pthread_join(srv->pollers[i], NULL);
    grpc_completion_queue_destroy(srv->cq);
    for (int i = 0; i < SLOTS; i++)
        grpc_metadata_array_destroy(&srv->slots[i].request_md);
    grpc_slice_unref(srv->reply);
    free(srv->pollers);
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: crimp-echo-server --listen unix:///PATH [--pollers N]\n"
                 "Answers /runtime.v1.RuntimeService/Version with a fixed reply from N\n"
                 "completion-queue poller threads (default 2, as crimpd): the floor for\n"
                 "crimp-bench-version.  Removes its socket on SIGTERM or SIGINT.\n");
}

static int parse_args(int argc, char **argv, const char **listen, int *pollers)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"pollers", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            *listen = optarg;
            break;
        case 'p': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 64) {
                fprintf(stderr, "crimp-echo-server: --pollers: `%s` is not 1..64\n", optarg);
                return -1;
            }
            *pollers = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (*listen == NULL || optind != argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen = NULL;
    cleanup_error crimp_error_t err = NULL;
    static struct echo_server srv; /* 256 slots: too big for the stack */

    srv.npollers = 2;
    if (parse_args(argc, argv, &listen, &srv.npollers) < 0)
        return 2;
    const char *path = socket_path(listen);
    if (path == NULL) {
        fprintf(stderr, "crimp-echo-server: --listen: `%s` is not unix:///PATH\n", listen);
        return 2;
    }
    if (install_signal_handlers(&err) < 0) {
        fprintf(stderr, "crimp-echo-server: %s\n", err->msg);
        return 1;
    }
    grpc_init();
    if (start_server(&srv, path, &err) < 0) {
        /* Nothing started but the unbound server: exiting frees it.  */
        fprintf(stderr, "crimp-echo-server: %s\n", err->msg);
        return 1;
    }
    fprintf(stderr, "crimp-echo-server: serving %s on %s (%d pollers)\n", VERSION_METHOD, path,
            srv.npollers);
    wait_for_signal();
    stop_server(&srv);
    unlink(path);
    grpc_shutdown_blocking();
    return 0;
}
