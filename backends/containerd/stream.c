/* What crimp's streaming server (stream/) needs from containerd for Exec,
 * Attach and PortForward.  Attach is the log copier's (ctrd_attach.c):
 * the session's socket joins the container's output fan-out and stdin.
 * For exec, the server speaks to a process through one socket, the
 * way Docker hands out a hijacked connection: here a socketpair whose other
 * end a relay thread joins to the exec's FIFOs — client bytes into stdin,
 * stdout and stderr out as frames (common/mux_frames.h; raw for a tty).  The
 * relay also cleans up: when the output ends or the client leaves, it
 * makes sure the process is gone, deletes it and removes the FIFOs, then
 * records the exit status for exit_code().  */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/mux_frames.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "log.h"
#include "utils.h"

#define RELAY_BUF         (64 * 1024)
#define EXIT_WAIT_NS      (10LL * 1000 * 1000 * 1000)
#define SESSION_FINISH_NS (15LL * 1000 * 1000 * 1000)

struct session {
    struct session *next;
    struct crimp_backend *owner; /* held until the relay is done with it */
    atomic_int refs;
    char *exec_id;
    struct ctrd_exec *x;
    int sock; /* the relay's end */
    bool tty;
    bool want_stderr; /* else stderr is read and dropped */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    int exit_code;
    /* The relay thread's read buffer for output, the frame header's 8
     * bytes first.  Here rather than thread-local: every thread of the
     * process would carry (and touch) a static TLS block that size.  */
    char out[RELAY_BUF + MUX_FRAME_HEADER];
};

static pthread_mutex_t sessions_mu = PTHREAD_MUTEX_INITIALIZER;
static struct session *sessions;

static void session_put(struct session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    free(s->exec_id);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static struct session *session_find(const char *exec_id)
{
    pthread_mutex_lock(&sessions_mu);
    struct session *s = sessions;
    while (s && strcmp(s->exec_id, exec_id) != 0)
        s = s->next;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&sessions_mu);
    return s;
}

static void session_unlink(struct session *s)
{
    pthread_mutex_lock(&sessions_mu);
    for (struct session **p = &sessions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&sessions_mu);
    session_put(s);
}

/* Writes all of BUF to the socket; false when the client is gone.  */
static bool send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool forward_output(struct session *s, int fd, int stream, bool *eof)
{
    char *buf = s->out;
    ssize_t n = read(fd, buf + MUX_FRAME_HEADER, RELAY_BUF);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
        *eof = true;
        return true;
    }
    if (stream == 2 && !s->want_stderr)
        return true;
    if (s->tty)
        return send_all(s->sock, buf + MUX_FRAME_HEADER, (size_t)n);
    mux_frame_header((uint8_t *)buf, stream == 2, (uint32_t)n);
    return send_all(s->sock, buf, (size_t)n + MUX_FRAME_HEADER);
}

/* Client bytes into stdin; its EOF closes stdin.  False: client gone.  */
static bool forward_input(struct session *s)
{
    char buf[RELAY_BUF];
    ssize_t n = recv(s->sock, buf, sizeof(buf), 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    int *in = &s->x->fifos.fd_in;
    if (n == 0) {
        if (*in >= 0) {
            close(steal_fd(in));
            cleanup_error crimp_error_t err = NULL;
            if (ctrd_close_stdin(s->x->b, s->x->container_id, s->x->exec_id, &err) < 0)
                log_warn("containerd: close the stdin of exec %.12s: %s", s->exec_id, err->msg);
        }
        return true; /* half-closed: output may still flow */
    }
    if (*in < 0)
        return true;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(*in, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {*in, POLLOUT, 0};
            poll(&p, 1, 1000);
            continue;
        }
        if (w <= 0) {
            close(steal_fd(in));
            break;
        }
        off += w;
    }
    return true;
}

/* Relays until both outputs ended; false when the client left first.  */
static bool relay(struct session *s)
{
    struct ctrd_fifos *f = &s->x->fifos;
    bool out_eof = f->fd_out < 0, err_eof = f->fd_err < 0, in_open = true;
    while (!out_eof || !err_eof) {
        struct pollfd p[3] = {{out_eof ? -1 : f->fd_out, POLLIN, 0},
                              {err_eof ? -1 : f->fd_err, POLLIN, 0},
                              {in_open ? s->sock : -1, POLLIN, 0}};
        if (poll(p, 3, 1000) < 0 && errno != EINTR)
            return false;
        if (p[0].revents && !forward_output(s, f->fd_out, 1, &out_eof))
            return false;
        if (p[1].revents && !forward_output(s, f->fd_err, 2, &err_eof))
            return false;
        if (p[2].revents & (POLLERR | POLLNVAL))
            return false;
        if (p[2].revents && !forward_input(s))
            return false;
        if (p[2].revents & POLLHUP && f->fd_in < 0)
            in_open = false;
    }
    return true;
}

static void *relay_main(void *arg)
{
    struct session *s = arg;
    bool client_stayed = relay(s);
    shutdown(s->sock, SHUT_WR); /* EOF for the stream server */
    int status = -1;
    if (!client_stayed || ctrd_exec_wait(s->x, crimp_now_mono_ns() + EXIT_WAIT_NS, &status) < 0) {
        ctrd_exec_kill(s->x);
        ctrd_exec_wait(s->x, crimp_now_mono_ns() + EXIT_WAIT_NS, &status);
    }
    pthread_mutex_lock(&s->mu);
    struct ctrd_exec *x = steal_ptr(&s->x); /* resize may be using it */
    pthread_mutex_unlock(&s->mu);
    ctrd_exec_end(x);
    pthread_mutex_lock(&s->mu);
    s->finished = true;
    s->exit_code = status < 0 ? 255 : status;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* The stream server closes its end after it asked for the exit code
     * (or without asking, when its client left): then nobody can ask.  */
    char drain[4096];
    while (recv(s->sock, drain, sizeof(drain), 0) > 0)
        ;
    close(s->sock);
    struct crimp_backend *owner = s->owner;
    session_unlink(s);
    crimp_backend_release(owner);
    return NULL;
}

static int stream_exec_start(struct crimp_backend *self, const Runtime__V1__ExecRequest *req,
                             struct crimp_stream_io *io, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    cleanup_free char *id = ctrd_running_container_id(b, req->container_id, err);
    if (id == NULL)
        return -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return crimp_make_errno_error(err, errno, "socketpair");
    /* Without a tty the shim needs a stderr FIFO even when the client
     * asked for no stderr ("opening file \"\" failed").  */
    struct ctrd_exec *x = ctrd_exec_begin(b, NULL, id, req->cmd, req->n_cmd, req->tty, req->stdin,
                                          true, err);
    if (x == NULL) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    struct session *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1); /* the table's, dropped by the relay */
    s->exec_id = xstrdup(x->exec_id);
    s->owner = self;
    s->x = x;
    s->sock = sv[1];
    s->tty = req->tty;
    s->want_stderr = req->stderr;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_lock(&sessions_mu);
    s->next = sessions;
    sessions = s;
    pthread_mutex_unlock(&sessions_mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The relay outlives the session that started it (it deletes the
     * exec afterwards): it holds the backend like a session.  */
    crimp_backend_hold(self);
    int rc = pthread_create(&t, &attr, relay_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        crimp_backend_release(self);
        close(sv[1]);
        close(sv[0]);
        ctrd_exec_end(x);
        session_unlink(s);
        return crimp_make_errno_error(err, rc, "start the exec relay");
    }
    io->fd = sv[0];
    io->output = req->tty ? NULL : mux_demux_output_new();
    io->handle = xstrdup(s->exec_id);
    io->is_exec = true;
    return 0;
}

/* The container's own tty decides the framing, as on Docker: a session
 * cannot ask for a tty the process does not have.  */
static int stream_attach_start(struct crimp_backend *self, const Runtime__V1__AttachRequest *req,
                               struct crimp_stream_io *io, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    pthread_mutex_lock(&c->mu);
    bool running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    pthread_mutex_unlock(&c->mu);
    cleanup_free char *id = xstrdup(c->id);
    struct ctrd_attach_opts o = {.tty = c->config->tty,
                                 .want_stdout = req->stdout,
                                 .want_stderr = req->stderr && !c->config->tty,
                                 .want_stdin = req->stdin};
    ctrd_container_put(c);
    if (!running)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %.12s is not running", id);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return crimp_make_errno_error(err, errno, "socketpair");
    if (ctrd_logger_attach(b->logger, id, sv[1], &o, err) < 0) {
        close(sv[0]);
        return -1;
    }
    io->fd = sv[0];
    io->output = o.tty ? NULL : mux_demux_output_new();
    io->handle = steal_ptr(&id);
    io->is_exec = false;
    return 0;
}

/* Tasks/ResizePty of EXEC_ID in container ID ("": its main process).  */
static int resize_pty(struct ctrd_backend *b, const char *id, const char *exec_id,
                      unsigned width, unsigned height, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__ResizePtyRequest req =
        CONTAINERD__SERVICES__TASKS__V1__RESIZE_PTY_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.width = width;
    req.height = height;
    ProtobufCMessage *resp = NULL;
    struct ctrd_opts o = {0};
    int ret = ctrd_call(b->conn, &o, CTRD_TASKS "ResizePty", &req.base,
                        &google__protobuf__empty__descriptor, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return ret;
}

static int stream_resize(struct crimp_backend *self, const struct crimp_stream_io *io,
                         unsigned width, unsigned height, crimp_error_t *err)
{
    if (!io->is_exec)
        return resize_pty(ctrd_of(self), io->handle, "", width, height, err);
    struct session *s = session_find(io->handle);
    if (s == NULL)
        return 0; /* finished */
    int ret = 0;
    pthread_mutex_lock(&s->mu);
    if (s->x)
        ret = resize_pty(ctrd_of(self), s->x->container_id, s->x->exec_id, width, height, err);
    pthread_mutex_unlock(&s->mu);
    session_put(s);
    return ret;
}

static int stream_exit_code(struct crimp_backend *self, const struct crimp_stream_io *io,
                            int *code, crimp_error_t *err)
{
    struct session *s = session_find(io->handle);
    if (s == NULL)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "exec %.12s is gone", io->handle);
    bool done = ctrd_wait_flag(&s->mu, &s->cv, &s->finished,
                               crimp_now_mono_ns() + SESSION_FINISH_NS);
    *code = s->exit_code;
    session_put(s);
    return done ? 0
                : crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                                   "exec %.12s did not finish", io->handle);
}

/* The relay kills the process too, but only once it notices the client
 * left, which a quiet process may never let it see.  */
static void stream_kill(struct crimp_backend *self, const struct crimp_stream_io *io)
{
    (void)self;
    struct session *s = io->is_exec ? session_find(io->handle) : NULL;
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->x)
        ctrd_exec_kill(s->x);
    pthread_mutex_unlock(&s->mu);
    session_put(s);
}

static int stream_pod_netns(struct crimp_backend *self, const char *pod_id, char **path,
                            crimp_error_t *err)
{
    struct ctrd_sandbox *s = ctrd_sandbox_get(ctrd_of(self), pod_id, err);
    if (s == NULL)
        return -1;
    *path = xstrdup_or_null(s->netns);
    ctrd_sandbox_put(s);
    return 0;
}

const struct crimp_stream_ops ctrd_stream_ops = {
    .exec_start = stream_exec_start,
    .attach_start = stream_attach_start,
    .resize = stream_resize,
    .exit_code = stream_exit_code,
    .kill = stream_kill,
    .pod_netns = stream_pod_netns,
};
