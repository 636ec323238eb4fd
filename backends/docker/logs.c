/* Container logs in the CRI format, written by crimp.
 *
 * dockershim symlinked the CRI log path to Docker's json file, so kubelet's
 * rotation (ReopenContainerLog) never worked.  Here one thread per running
 * container follows GET /containers/{id}/logs?follow=1&timestamps=1 and
 * writes each line, with Docker's own timestamp, to the CRI log file through
 * backends/common/crilog.  Docker keeps a bounded copy of the output, so
 * after a crimpd restart a copier resumes after the last line it wrote.  */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/crilog.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "utils.h"

struct copier {
    struct copier *next;
    struct docker_logs *owner;
    char *id, *path;
    bool tty;
    int64_t since_ns; /* lines at or before this were written already */
    atomic_bool stop;
    pthread_t thread;
    pthread_mutex_t lock; /* guards log against Reopen */
    struct crilog *log;
    /* The frame being gathered (non-tty) or the line (tty).  */
    char *buf;
    size_t len;
};

struct docker_logs {
    struct docker_backend *d;
    pthread_mutex_t lock;
    struct copier *copiers;
};

struct docker_logs *docker_logs_new(struct docker_backend *d)
{
    struct docker_logs *l = xcalloc(1, sizeof(*l));
    l->d = d;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

/* One "TIMESTAMP text" message of STREAM into the CRI file.  */
static void write_message(struct copier *c, enum crilog_stream stream, const char *msg,
                          size_t len)
{
    const char *space = memchr(msg, ' ', len);
    if (space == NULL)
        return;
    cleanup_free char *ts = strndup(msg, (size_t)(space - msg));
    int64_t t = docker_parse_time(ts);
    if (t != 0 && t <= c->since_ns)
        return; /* written before a crimpd restart */
    crimp_error_t err = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->log && crilog_write(c->log, stream, t, space + 1, len - (size_t)(space - msg) - 1,
                               &err) < 0) {
        log_warn("docker: log of %.12s: %s", c->id, err->msg);
        crimp_error_release(&err);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Without a tty Docker frames each message: [stream,0,0,0,size BE32].  */
static void take_frames(struct copier *c)
{
    size_t off = 0;
    while (c->len - off >= 8) {
        const unsigned char *h = (const unsigned char *)c->buf + off;
        size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (c->len - off < 8 + size)
            break;
        write_message(c, h[0] == 2 ? CRILOG_STDERR : CRILOG_STDOUT, c->buf + off + 8, size);
        off += 8 + size;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

/* With a tty the stream is raw text, one timestamp per line.  */
static void take_lines(struct copier *c)
{
    size_t off = 0;
    char *nl;
    while ((nl = memchr(c->buf + off, '\n', c->len - off)) != NULL) {
        size_t n = (size_t)(nl - (c->buf + off)) + 1;
        write_message(c, CRILOG_STDOUT, c->buf + off, n);
        off += n;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static bool on_log_data(void *ctx, const char *data, size_t len)
{
    struct copier *c = ctx;
    c->buf = xrealloc(c->buf, c->len + len);
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    if (c->tty)
        take_lines(c);
    else
        take_frames(c);
    return !atomic_load(&c->stop);
}

static void *copier_main(void *arg)
{
    struct copier *c = arg;
    /* since= counts whole seconds here; finer filtering is write_message's.  */
    cleanup_free char *query = xasprintf("follow=1&stdout=1&stderr=1&timestamps=1&since=%lld",
                                         (long long)(c->since_ns / 1000000000LL));
    struct docker_request r = {.method = "GET", .path = "/containers/{id}/logs", .id = c->id,
                               .query = query, .timeout_ms = DOCKER_TIMEOUT_NONE,
                               .cancelled = &c->stop, .on_data = on_log_data, .ctx = c};
    crimp_error_t err = NULL;
    if (docker_do(c->owner->d->client, &r, NULL, &err) < 0 && !atomic_load(&c->stop)) {
        log_warn("docker: log of %.12s: %s", c->id, err->msg);
    }
    crimp_error_release(&err);
    pthread_mutex_lock(&c->lock);
    crilog_close(c->log); /* flushes a last partial line */
    c->log = NULL;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void copier_free(struct copier *c)
{
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    free(c->buf);
    free(c->id);
    free(c->path);
    free(c);
}

/* Removes ID's copier from the list (lock held); NULL when there is none.  */
static struct copier *unlink_copier(struct docker_logs *l, const char *id)
{
    for (struct copier **p = &l->copiers; *p; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0) {
            struct copier *c = *p;
            *p = c->next;
            return c;
        }
    return NULL;
}

static int start_copier(struct docker_logs *l, const char *id, const char *path, bool tty,
                        int64_t since_ns, crimp_error_t *err)
{
    struct crilog *log = crilog_open(path, err);
    if (log == NULL)
        return -1;
    struct copier *c = xcalloc(1, sizeof(*c));
    c->owner = l;
    c->id = xstrdup(id);
    c->path = xstrdup(path);
    c->tty = tty;
    c->since_ns = since_ns;
    c->log = log;
    pthread_mutex_init(&c->lock, NULL);
    pthread_create(&c->thread, NULL, copier_main, c);
    pthread_setname_np(c->thread, "crimp-log");
    pthread_mutex_lock(&l->lock);
    struct copier *old = unlink_copier(l, id);
    c->next = l->copiers;
    l->copiers = c;
    pthread_mutex_unlock(&l->lock);
    if (old)
        copier_free(old);
    return 0;
}

int docker_logs_attach(struct docker_logs *l, const char *id, const char *path, bool tty,
                       crimp_error_t *err)
{
    return start_copier(l, id, path, tty, 0, err);
}

void docker_logs_forget(struct docker_logs *l, const char *id)
{
    pthread_mutex_lock(&l->lock);
    struct copier *c = unlink_copier(l, id);
    pthread_mutex_unlock(&l->lock);
    if (c)
        copier_free(c);
}

int docker_logs_reopen(struct docker_logs *l, const char *id, crimp_error_t *err)
{
    pthread_mutex_lock(&l->lock);
    struct copier *c = l->copiers;
    while (c && strcmp(c->id, id) != 0)
        c = c->next;
    int rc = 0;
    if (c == NULL) {
        rc = crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                              "container %.12s is not running: no log to reopen", id);
    } else {
        pthread_mutex_lock(&c->lock);
        rc = c->log ? crilog_reopen(c->log, err)
                    : crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                       "container %.12s is not running: no log to reopen", id);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* The timestamp of the last line of the CRI log at PATH (0 if none).  */
static int64_t last_logged(const char *path)
{
    cleanup_file FILE *f = fopen(path, "re");
    if (f == NULL || fseek(f, 0, SEEK_END) < 0)
        return 0;
    long size = ftell(f);
    long from = size > 65536 ? size - 65536 : 0;
    fseek(f, from, SEEK_SET);
    char line[1024];
    char last[64] = "";
    while (fgets(line, sizeof(line), f))
        if (line[0] >= '0' && line[0] <= '9')
            snprintf(last, sizeof(last), "%.*s", (int)strcspn(line, " "), line);
    return docker_parse_time(last);
}

void docker_logs_recover(struct docker_logs *l)
{
    json_auto_t *list = NULL;
    crimp_error_t err = NULL;
    if (docker_list(l->d, DOCKER_TYPE_CONTAINER, NULL, &list, &err) < 0) {
        log_warn("docker: resuming container logs: %s", err->msg);
        crimp_error_release(&err);
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        const char *path = json_string_value(
            json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_LOG_PATH));
        const char *id = json_string_value(json_object_get(c, "Id"));
        /* An adopted container's log is Docker's own file, symlinked.  */
        bool crimps = json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_CRI) != NULL;
        if (!crimps || str_empty(path) || id == NULL ||
            strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") != 0)
            continue;
        json_t *inspect = NULL;
        if (docker_inspect(l->d, id, &inspect, &err) < 0) {
            crimp_error_release(&err);
            continue;
        }
        bool tty = json_is_true(json_object_get(json_object_get(inspect, "Config"), "Tty"));
        json_decref(inspect);
        if (start_copier(l, id, path, tty, last_logged(path), &err) < 0) {
            log_warn("docker: resuming log of %.12s: %s", id, err->msg);
            crimp_error_release(&err);
        }
    }
}

void docker_logs_free(struct docker_logs *l)
{
    if (l == NULL)
        return;
    while (l->copiers) {
        struct copier *c = l->copiers;
        l->copiers = c->next;
        copier_free(c);
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}
