/* The session fuzzers' harness (fuzz_session.h): a backend whose process
 * output and a client whose requests are the fuzzer's input, so that the
 * real streaming server parses both.  */
#include "fuzz_session.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/mux_frames.h"
#include "log.h"
#include "utils.h"

struct fuzz_process fuzz_proc = {.peer = -1};

/* Writes what fits of P without blocking, then EOF.  */
static void send_then_eof(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    shutdown(fd, SHUT_WR);
}

static int fuzz_start(struct crimp_stream_io *io, bool exec, crimp_error_t *err)
{
    if (fuzz_proc.fail_start)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "fuzz: no such container");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return crimp_make_errno_error(err, errno, "socketpair");
    size_t early = fuzz_proc.n_early < fuzz_proc.n_output ? fuzz_proc.n_early : fuzz_proc.n_output;
    if (early) {
        io->early = xmalloc(early);
        memcpy(io->early, fuzz_proc.output, early);
        io->n_early = early;
    }
    /* At most 64 KiB: fits the socket buffer.  */
    send_then_eof(sv[1], fuzz_proc.output + early, fuzz_proc.n_output - early);
    fuzz_proc.peer = sv[1];
    io->fd = sv[0];
    io->output = fuzz_proc.framed ? mux_demux_output_new() : NULL;
    io->handle = xstrdup("fuzz");
    io->is_exec = exec;
    return 0;
}

static int fuzz_exec_start(struct crimp_backend *self, const Runtime__V1__ExecRequest *req,
                           struct crimp_stream_io *io, crimp_error_t *err)
{
    (void)self, (void)req;
    return fuzz_start(io, true, err);
}

static int fuzz_attach_start(struct crimp_backend *self, const Runtime__V1__AttachRequest *req,
                             struct crimp_stream_io *io, crimp_error_t *err)
{
    (void)self, (void)req;
    return fuzz_start(io, false, err);
}

static int fuzz_resize(struct crimp_backend *self, const struct crimp_stream_io *io, unsigned w,
                       unsigned h, crimp_error_t *err)
{
    (void)self, (void)io;
    if (w == 0 || h == 0 || w > 65535 || h > 65535)
        __builtin_trap(); /* the parser must never pass these on */
    return w == 13 ? crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "fuzz: resize failed") : 0;
}

static int fuzz_exit_code(struct crimp_backend *self, const struct crimp_stream_io *io, int *code,
                          crimp_error_t *err)
{
    (void)self, (void)io;
    if (fuzz_proc.exit_code < 0)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "fuzz: exit code unknown");
    *code = fuzz_proc.exit_code;
    return 0;
}

static void fuzz_kill(struct crimp_backend *self, const struct crimp_stream_io *io)
{
    (void)self, (void)io;
}

/* No pod network while fuzzing: every dial fails, with upstream's text.  */
static int fuzz_pod_netns(struct crimp_backend *self, const char *pod_id, char **path,
                          crimp_error_t *err)
{
    (void)self, (void)path;
    return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "fuzz: pod %s has no network", pod_id);
}

static const struct crimp_stream_ops fuzz_stream_ops = {
    .exec_start = fuzz_exec_start,
    .attach_start = fuzz_attach_start,
    .resize = fuzz_resize,
    .exit_code = fuzz_exit_code,
    .kill = fuzz_kill,
    .pod_netns = fuzz_pod_netns,
};
static const struct crimp_backend_ops fuzz_ops = {.type = "fuzz", .stream = &fuzz_stream_ops};
struct crimp_backend fuzz_backend = {.ops = &fuzz_ops};

void fuzz_session_init(void)
{
    crimp_log_set_level(CRIMP_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
}

void fuzz_process_end(void)
{
    if (fuzz_proc.peer >= 0)
        close(fuzz_proc.peer);
    fuzz_proc.peer = -1;
}

struct stream_request *fuzz_request(enum crimp_stream_kind kind, const struct fuzz_flags *f)
{
    static char *cmd[] = {"sh"};
    static int32_t ports[] = {80, 8080};
    struct stream_request *r = xcalloc(1, sizeof(*r));
    r->kind = kind;
    r->backend = &fuzz_backend;
    if (kind == CRIMP_STREAM_EXEC) {
        Runtime__V1__ExecRequest e = RUNTIME__V1__EXEC_REQUEST__INIT;
        e.container_id = "fuzz";
        e.cmd = cmd;
        e.n_cmd = 1;
        e.tty = f->tty;
        e.stdin = f->stdin;
        e.stdout = true;
        e.stderr = f->stderr_ && !f->tty;
        uint8_t buf[256];
        size_t n = protobuf_c_message_pack(&e.base, buf);
        r->req = protobuf_c_message_unpack(&runtime__v1__exec_request__descriptor, NULL, n, buf);
    } else if (kind == CRIMP_STREAM_ATTACH) {
        Runtime__V1__AttachRequest a = RUNTIME__V1__ATTACH_REQUEST__INIT;
        a.container_id = "fuzz";
        a.tty = f->tty;
        a.stdin = f->stdin;
        a.stdout = true;
        a.stderr = f->stderr_ && !f->tty;
        uint8_t buf[256];
        size_t n = protobuf_c_message_pack(&a.base, buf);
        r->req = protobuf_c_message_unpack(&runtime__v1__attach_request__descriptor, NULL, n, buf);
    } else {
        Runtime__V1__PortForwardRequest p = RUNTIME__V1__PORT_FORWARD_REQUEST__INIT;
        p.pod_sandbox_id = "fuzzpod";
        p.port = ports;
        p.n_port = 2;
        uint8_t buf[256];
        size_t n = protobuf_c_message_pack(&p.base, buf);
        r->req =
            protobuf_c_message_unpack(&runtime__v1__port_forward_request__descriptor, NULL, n, buf);
    }
    return r;
}

void fuzz_split(const uint8_t *data, size_t size, const uint8_t **client, size_t *n_client)
{
    size_t want = size >= 2 ? (size_t)data[0] << 8 | data[1] : 0;
    size_t skip = size >= 2 ? 2 : size;
    size_t n_out = want < size - skip ? want : size - skip;
    fuzz_proc.output = data + skip;
    fuzz_proc.n_output = n_out;
    *client = data + skip + n_out;
    *n_client = size - skip - n_out;
}

int fuzz_client(const uint8_t *data, size_t n, int *server)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        __builtin_trap();
    /* Room for the whole input and for everything the session answers.  */
    int big = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    send_then_eof(sv[1], data, n);
    *server = sv[0];
    return sv[1];
}

struct stream_request *fuzz_prepare(const uint8_t *data, size_t size, enum crimp_stream_kind kind,
                                    const struct fuzz_flags *f, struct stream_conn *c, int *peer)
{
    static bool ready;
    if (!ready) {
        fuzz_session_init();
        ready = true;
    }
    const uint8_t *client;
    size_t n_client;
    fuzz_split(data + 1, size - 1, &client, &n_client);
    fuzz_proc.framed = f->framed;
    fuzz_proc.n_early = fuzz_proc.n_output > 0 ? fuzz_proc.output[0] % 16 : 0;
    fuzz_proc.exit_code = (int)(size % 300) - 1; /* -1: unknown */
    fuzz_proc.fail_start = size % 17 == 0;
    int fd;
    *peer = fuzz_client(client, n_client, &fd);
    fuzz_conn_init(c, fd);
    return fuzz_request(kind, f);
}

void fuzz_finish(struct stream_conn *c, int peer, struct stream_request *r)
{
    close(c->fd);
    close(peer);
    fuzz_process_end();
    stream_request_free(r);
}

void fuzz_conn_init(struct stream_conn *c, int fd)
{
    *c = (struct stream_conn){
        .fd = fd, .idle_seconds = 1, .send_timeout_ms = 20, .max_message = 64 * 1024};
}
