/* The log copier: one thread, one epoll set with every container's stdout
 * and stderr FIFO, writing into each container's CRI log file.
 *
 * Threading: only the logger thread touches the entries, the epoll set's
 * stream registrations and the log files.  The public functions (called
 * from worker threads) put a command on a queue under MU, wake the thread
 * through an eventfd and sleep on CV until the thread marks the command
 * done; a finish that has to wait for EOF stays with the thread until its
 * streams end or its deadline (the epoll timeout) passes.  The thread
 * frees an entry only after it handled the whole batch of events that
 * epoll_wait returned, and deregisters its fds first, so no event ever
 * points at freed memory.
 *
 * The logger also holds each container's stdin and serves attach sessions
 * (ctrd_attach.c): output goes to the log first, then to the sessions.  */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "ctrd_logger-internal.h"
#include "log.h"
#include "utils.h"

#define READ_CHUNK (64 * 1024)
#define MAX_EVENTS 64

enum cmd_kind { CMD_ADD, CMD_REOPEN, CMD_FINISH, CMD_HAS, CMD_ATTACH, CMD_STOP };

/* A request from another thread; lives on that thread's stack until DONE.  */
struct cmd {
    enum cmd_kind kind;
    const char *id;
    int fds[3];               /* CMD_ADD: stdout, stderr, stdin; CMD_ATTACH: [0]; taken over */
    bool stdin_once;          /* CMD_ADD */
    const char *log_path;     /* CMD_ADD */
    const struct ctrd_attach_opts *attach; /* CMD_ATTACH */
    int64_t deadline_mono_ns; /* CMD_FINISH */
    struct log_entry *entry;  /* CMD_FINISH while it waits */
    int result;               /* < 0: ERR is set */
    crimp_error_t err;
    bool done;
    struct cmd *next;
};

struct ctrd_logger {
    pthread_t thread;
    int epfd, wake_fd;
    pthread_mutex_t mu; /* guards QUEUE and every command's DONE */
    pthread_cond_t cv;
    struct cmd *queue, **queue_tail;
    /* The logger thread's own: */
    struct log_entry *entries;
    struct cmd *finishing; /* CMD_FINISH waiting for EOF or the deadline */
    struct attach_set attach;
    char *buf;
};

/* ---- the logger thread's side ------------------------------------------- */

static void complete(struct ctrd_logger *l, struct cmd *c, int result)
{
    pthread_mutex_lock(&l->mu);
    c->result = result;
    c->done = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static struct log_entry *find_entry(struct ctrd_logger *l, const char *id)
{
    for (struct log_entry *e = l->entries; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static bool drained(const struct log_entry *e)
{
    return e->streams[0].fd < 0 && e->streams[1].fd < 0;
}

static void stream_close(struct ctrd_logger *l, struct log_stream *s)
{
    if (s->fd < 0)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
    if (drained(s->entry))
        attach_output_ended(&l->attach, s->entry);
}

/* Forgets E: its fds are closed and its log flushed and closed.  */
static void entry_free(struct ctrd_logger *l, struct log_entry *e)
{
    for (struct log_entry **p = &l->entries; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    attach_entry_gone(&l->attach, e);
    stream_close(l, &e->streams[0]);
    stream_close(l, &e->streams[1]);
    crilog_close(e->log);
    free(e->id);
    free(e);
}

static void write_out(struct log_entry *e, enum crilog_stream which, const char *data, size_t n)
{
    if (e->log == NULL)
        return;
    cleanup_error crimp_error_t err = NULL;
    if (crilog_write(e->log, which, crimp_now_real_ns(), data, n, &err) < 0 && !e->write_failed) {
        /* Disk full or the like: the container must not notice.  */
        log_warn("containerd: log of %.12s: %s (output dropped)", e->id, err->msg);
        e->write_failed = true;
    }
}

/* One read per event, so that a chatty container cannot starve others;
 * level-triggered epoll reports the rest again.  */
static void stream_ready(struct ctrd_logger *l, struct log_stream *s, uint32_t events)
{
    if (s->fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    ssize_t n = read(s->fd, l->buf, READ_CHUNK);
    if (n > 0) {
        write_out(s->entry, s->which, l->buf, (size_t)n);
        attach_fanout(&l->attach, s->entry, s->which, l->buf, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0)
        log_warn("containerd: output of %.12s: read: %s", s->entry->id, strerror(errno));
    /* epoll reported the FIFO, so a writer was there: 0 is its EOF.  */
    stream_close(l, s);
}

/* Watches FD as E's stream K; on failure FD is closed.  */
static int register_stream(struct ctrd_logger *l, struct log_entry *e, int k, int fd,
                           crimp_error_t *err)
{
    if (fd < 0)
        return 0;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &e->streams[k].kind};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int saved = errno;
        close(fd);
        return crimp_make_errno_error(err, saved, "log of `%s`: watch fd %d", e->id, fd);
    }
    e->streams[k].fd = fd;
    return 0;
}

static struct log_entry *entry_new(struct ctrd_logger *l, const char *id, struct crilog *log)
{
    struct log_entry *e = xcalloc(1, sizeof(*e));
    e->id = xstrdup(id);
    e->log = log;
    e->streams[0] =
        (struct log_stream){.kind = EV_STREAM, .entry = e, .which = CRILOG_STDOUT, .fd = -1};
    e->streams[1] =
        (struct log_stream){.kind = EV_STREAM, .entry = e, .which = CRILOG_STDERR, .fd = -1};
    e->in = (struct log_stdin){.kind = EV_STDIN, .entry = e, .fd = -1};
    e->next = l->entries;
    l->entries = e;
    return e;
}

static void close_fds(int fds[3])
{
    for (int k = 0; k < 3; k++)
        if (fds[k] >= 0)
            close(fds[k]);
}

static int cmd_add(struct ctrd_logger *l, struct cmd *c)
{
    if (find_entry(l, c->id) != NULL) {
        close_fds(c->fds);
        return crimp_make_error(&c->err, GRPC_STATUS_ALREADY_EXISTS, 0,
                                "output of `%s` is already being copied", c->id);
    }
    struct crilog *log = NULL;
    if (!str_empty(c->log_path) && (log = crilog_open(c->log_path, &c->err)) == NULL) {
        close_fds(c->fds);
        return -1;
    }
    struct log_entry *e = entry_new(l, c->id, log);
    int ret = 0;
    for (int k = 0; k < 2; k++) {
        if (ret == 0)
            ret = register_stream(l, e, k, c->fds[k], &c->err);
        else if (c->fds[k] >= 0)
            close(c->fds[k]);
    }
    if (ret == 0)
        ret = attach_stdin_open(&l->attach, e, c->fds[2], c->stdin_once, &c->err);
    else if (c->fds[2] >= 0)
        close(c->fds[2]);
    if (ret < 0)
        entry_free(l, e);
    return ret;
}

static int cmd_attach(struct ctrd_logger *l, struct cmd *c)
{
    struct log_entry *e = find_entry(l, c->id);
    if (e == NULL || drained(e)) {
        close(c->fds[0]);
        if (e == NULL)
            return crimp_make_error(&c->err, GRPC_STATUS_NOT_FOUND, 0,
                                    "output of `%s` is not being copied", c->id);
        return crimp_make_error(&c->err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "the output of container %.12s has ended", c->id);
    }
    return attach_sink_add(&l->attach, e, c->fds[0], c->attach, &c->err);
}

static int cmd_reopen(struct ctrd_logger *l, struct cmd *c)
{
    struct log_entry *e = find_entry(l, c->id);
    if (e == NULL)
        return crimp_make_error(&c->err, GRPC_STATUS_NOT_FOUND, 0,
                                "output of `%s` is not being copied", c->id);
    if (e->log == NULL)
        return 0;
    if (crilog_reopen(e->log, &c->err) < 0)
        return -1;
    e->write_failed = false;
    return 0;
}

/* Completes every finish waiting on E with RESULT, then forgets E.  */
static void finish_entry(struct ctrd_logger *l, struct log_entry *e, int result)
{
    struct cmd *done = NULL;
    for (struct cmd **p = &l->finishing; *p;) {
        struct cmd *c = *p;
        if (c->entry != e) {
            p = &c->next;
            continue;
        }
        *p = c->next;
        c->next = done;
        done = c;
    }
    entry_free(l, e);
    while (done) {
        struct cmd *next = done->next;
        complete(l, done, result);
        done = next;
    }
}

/* Finishes whatever drained or ran out of time.  */
static void check_finishing(struct ctrd_logger *l)
{
    int64_t now = crimp_now_mono_ns();
    for (struct cmd *c = l->finishing; c;) {
        if (drained(c->entry) || now >= c->deadline_mono_ns) {
            finish_entry(l, c->entry, drained(c->entry) ? 0 : 1);
            c = l->finishing; /* the list changed */
        } else {
            c = c->next;
        }
    }
}

/* Returns false when the command was kept (a finish that waits).  */
static bool run_cmd(struct ctrd_logger *l, struct cmd *c)
{
    struct log_entry *e;
    switch (c->kind) {
    case CMD_ADD:
        c->result = cmd_add(l, c);
        return true;
    case CMD_REOPEN:
        c->result = cmd_reopen(l, c);
        return true;
    case CMD_HAS:
        c->result = find_entry(l, c->id) != NULL;
        return true;
    case CMD_ATTACH:
        c->result = cmd_attach(l, c);
        return true;
    case CMD_FINISH:
        if ((e = find_entry(l, c->id)) == NULL)
            return true;
        c->entry = e;
        c->next = l->finishing;
        l->finishing = c;
        return false; /* check_finishing decides, even for a zero timeout */
    case CMD_STOP:
        return true;
    }
    return true;
}

/* Runs the queued commands; true when one of them was CMD_STOP.  */
static bool run_queue(struct ctrd_logger *l)
{
    uint64_t count;
    if (read(l->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        log_warn("containerd: log copier wakeup: %s", strerror(errno));
    pthread_mutex_lock(&l->mu);
    struct cmd *c = l->queue;
    l->queue = NULL;
    l->queue_tail = &l->queue;
    pthread_mutex_unlock(&l->mu);
    bool stop = false;
    while (c) {
        struct cmd *next = c->next; /* C may be gone once completed */
        stop = stop || c->kind == CMD_STOP;
        if (run_cmd(l, c))
            complete(l, c, c->result);
        c = next;
    }
    return stop;
}

/* epoll_wait's timeout: until the nearest finish or attach flush
 * deadline, else forever.  */
static int next_timeout_ms(struct ctrd_logger *l)
{
    int64_t nearest = attach_next_deadline(&l->attach);
    if (l->finishing == NULL && nearest == INT64_MAX)
        return -1;
    for (struct cmd *c = l->finishing; c; c = c->next)
        if (c->deadline_mono_ns < nearest)
            nearest = c->deadline_mono_ns;
    int64_t left = nearest - crimp_now_mono_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* One epoll event; true for the wakeup.  */
static bool dispatch(struct ctrd_logger *l, enum ev_kind *kind, uint32_t events)
{
    if (kind == NULL)
        return true;
    switch (*kind) {
    case EV_STREAM:
        stream_ready(l, (struct log_stream *)kind, events);
        break;
    case EV_SINK:
        attach_sink_ready(&l->attach, (struct attach_sink *)kind, events);
        break;
    case EV_STDIN:
        attach_stdin_ready(&l->attach, (struct log_stdin *)kind, events);
        break;
    }
    return false;
}

static void *logger_main(void *arg)
{
    struct ctrd_logger *l = arg;
    for (bool stop = false; !stop;) {
        struct epoll_event ev[MAX_EVENTS];
        int n = epoll_wait(l->epfd, ev, MAX_EVENTS, next_timeout_ms(l));
        if (n < 0 && errno != EINTR) {
            log_error("containerd: log copier: epoll_wait: %s", strerror(errno));
            n = 0;
        }
        bool woken = false;
        for (int i = 0; i < n; i++)
            woken |= dispatch(l, ev[i].data.ptr, ev[i].events);
        if (woken)
            stop = run_queue(l);
        check_finishing(l);
        attach_reap(&l->attach);
    }
    /* Nobody may wait on a stopped logger.  */
    while (l->finishing)
        finish_entry(l, l->finishing->entry, 1);
    return NULL;
}

/* ---- the public side ------------------------------------------------------ */

/* Hands C to the logger thread and waits until it is done; returns its
 * result, moving its error to ERR.  */
static int submit(struct ctrd_logger *l, struct cmd *c, crimp_error_t *err)
{
    c->next = NULL;
    pthread_mutex_lock(&l->mu);
    *l->queue_tail = c;
    l->queue_tail = &c->next;
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("containerd: log copier wakeup: %s", strerror(errno));
    while (!c->done)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
    if (c->result < 0 && err) {
        crimp_error_release(err);
        *err = steal_ptr(&c->err);
    }
    crimp_error_release(&c->err);
    return c->result;
}

static int start_thread(struct ctrd_logger *l)
{
    /* No signals here: crimpd's main thread handles them.  */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, logger_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(l->thread, "crimp-ctrd-log");
    return rc;
}

struct ctrd_logger *ctrd_logger_new(ctrd_stdin_closed_fn *stdin_closed, void *ctx,
                                    crimp_error_t *err)
{
    cleanup_close int epfd = epoll_create1(EPOLL_CLOEXEC);
    cleanup_close int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || wake_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
        crimp_make_errno_error(err, errno, "log copier: create epoll set");
        return NULL;
    }
    struct ctrd_logger *l = xcalloc(1, sizeof(*l));
    l->epfd = epfd;
    l->attach.epfd = epfd;
    l->attach.stdin_closed = stdin_closed;
    l->attach.ctx = ctx;
    l->wake_fd = wake_fd;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->queue_tail = &l->queue;
    l->buf = xmalloc(READ_CHUNK);
    int rc = start_thread(l);
    if (rc != 0) {
        crimp_make_errno_error(err, rc, "log copier: start thread");
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l->buf);
        free(l);
        return NULL;
    }
    steal_fd(&epfd); /* now the thread's */
    steal_fd(&wake_fd);
    return l;
}

void ctrd_logger_free(struct ctrd_logger *l)
{
    if (l == NULL)
        return;
    struct cmd stop = {.kind = CMD_STOP};
    submit(l, &stop, NULL);
    pthread_join(l->thread, NULL);
    while (l->entries)
        entry_free(l, l->entries);
    attach_set_clear(&l->attach);
    close(l->epfd);
    close(l->wake_fd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->buf);
    free(l);
}

int ctrd_logger_add(struct ctrd_logger *l, const char *id, int fd_out, int fd_err, int fd_in,
                    bool stdin_once, const char *log_path, crimp_error_t *err)
{
    struct cmd c = {.kind = CMD_ADD,
                    .id = id,
                    .fds = {fd_out, fd_err, fd_in},
                    .stdin_once = stdin_once,
                    .log_path = log_path};
    return submit(l, &c, err);
}

int ctrd_logger_attach(struct ctrd_logger *l, const char *id, int sock,
                       const struct ctrd_attach_opts *o, crimp_error_t *err)
{
    struct cmd c = {.kind = CMD_ATTACH, .id = id, .fds = {sock, -1, -1}, .attach = o};
    return submit(l, &c, err);
}

int ctrd_logger_reopen(struct ctrd_logger *l, const char *id, crimp_error_t *err)
{
    struct cmd c = {.kind = CMD_REOPEN, .id = id};
    return submit(l, &c, err);
}

int ctrd_logger_finish(struct ctrd_logger *l, const char *id, int timeout_ms)
{
    int64_t wait_ns = timeout_ms > 0 ? (int64_t)timeout_ms * 1000000 : 0;
    struct cmd c = {
        .kind = CMD_FINISH, .id = id, .deadline_mono_ns = crimp_now_mono_ns() + wait_ns};
    return submit(l, &c, NULL);
}

bool ctrd_logger_has(struct ctrd_logger *l, const char *id)
{
    struct cmd c = {.kind = CMD_HAS, .id = id};
    return submit(l, &c, NULL) > 0;
}
