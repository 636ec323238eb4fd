/* Container logs in the CRI format, written by crimp.
 *
 * dockershim symlinked the CRI log path to Docker's json file, so kubelet's
 * rotation (ReopenContainerLog) never worked.  Here one thread per started
 * container follows GET /containers/{id}/logs?follow=1&timestamps=1 and
 * writes each line, with Docker's own timestamp, to the CRI log file through
 * backends/common/crilog.
 *
 * Docker ends the follow stream when the container exits, but also when
 * dockerd restarts (live-restore keeps the container running) or drops the
 * connection.  So a copier whose stream ended asks whether the container
 * still runs: if it does, or if dockerd could not say (retried with
 * backoff), it follows again from the last timestamp it wrote; only a clean
 * end seen with the container stopped means every byte is in the file —
 * the copier is then "drained".  ContainerStatus, ListContainers and the
 * STOPPED event wait (bounded) for that, so no client reads an exited
 * container's log before its last line is there.  Docker keeps a bounded
 * copy of the output, so after a crimpd restart a copier resumes after the
 * last line it wrote, once dockerd answers, also for a container that
 * exited meanwhile.  */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crilog.h"
#include "deadline.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "log_stream.h"
#include "utils.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MS (1000LL * 1000)

struct copier {
    struct copier *next;
    struct docker_logs *owner;
    char *id, *path;
    atomic_bool stop;
    pthread_t thread;
    pthread_mutex_t lock; /* guards log against Reopen */
    struct crilog *log;
    struct docker_log_stream stream; /* the copier thread's own */
    bool drained;                    /* guarded by the owner's lock */
    bool overdue; /* a wait ran out: later ones do not wait (owner's lock) */
    bool finished; /* its thread is ending (owner's lock) */
    bool orphan;   /* forgotten while running: frees itself (owner's lock) */
};

struct docker_logs {
    struct docker_backend *d;
    int drain_ms;
    pthread_mutex_t lock; /* guards copiers and every copier's drained */
    pthread_cond_t drained_cv;
    struct copier *copiers;
    unsigned orphans; /* forgotten copiers still running (guarded by lock) */
    /* Resuming after a crimpd restart while dockerd did not answer.  */
    pthread_t recover_thread;
    bool recovering;
    bool resumed; /* the first pass, in the backend's start, succeeded */
    atomic_bool stop;
};

struct docker_logs *docker_logs_new(struct docker_backend *d, int drain_ms)
{
    struct docker_logs *l = xcalloc(1, sizeof(*l));
    l->d = d;
    l->drain_ms = drain_ms;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->drained_cv, &attr);
    pthread_condattr_destroy(&attr);
    return l;
}

/* Sleeps MS milliseconds in slices, returning early once *STOP is set.  */
static void nap(const atomic_bool *stop, int ms)
{
    for (int slept = 0; slept < ms && !atomic_load(stop); slept += 50)
        usleep(50000);
}

/* docker_log_sink_fn: one message (or piece) into the CRI file.  */
static bool write_piece(void *ctx, enum crilog_stream stream, int64_t time_ns, const char *text,
                        size_t len)
{
    struct copier *c = ctx;
    crimp_error_t err = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->log && crilog_write(c->log, stream, time_ns ? time_ns : crimp_now_real_ns(), text, len,
                               &err) < 0) {
        log_warn("docker: log of %.12s: %s", c->id, err->msg);
        crimp_error_release(&err);
    }
    pthread_mutex_unlock(&c->lock);
    return !atomic_load(&c->stop);
}

static bool on_log_data(void *ctx, const char *data, size_t len)
{
    struct copier *c = ctx;
    return docker_log_stream_feed(&c->stream, data, len) && !atomic_load(&c->stop);
}

/* One follow request from the last line written until the stream ends.  */
static int follow_once(struct copier *c, crimp_error_t *err)
{
    docker_log_stream_restart(&c->stream);
    /* since= counts whole seconds; the stream drops what came before.  */
    cleanup_free char *query = xasprintf("follow=1&stdout=1&stderr=1&timestamps=1&since=%lld",
                                         (long long)(c->stream.resume_ns / 1000000000LL));
    struct docker_request r = {.method = "GET", .path = "/containers/{id}/logs", .id = c->id,
                               .query = query, .timeout_ms = DOCKER_TIMEOUT_NONE,
                               .cancelled = &c->stop, .on_data = on_log_data, .ctx = c};
    int rc = docker_do(c->owner->d->client, &r, NULL, err);
    if (c->stream.broken) {
        crimp_error_release(err);
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0, "the log stream is not framed");
    }
    return rc;
}

enum run_state { RUN_RUNNING, RUN_STOPPED, RUN_GONE, RUN_CANCELLED };

/* Whether ID still runs, asking until dockerd answers; *ANSWERED_AT_ONCE
 * is false when it did not answer the first time (it went away, so the
 * stream's end may not have been the container's).  */
static enum run_state run_state_of(struct copier *c, bool *answered_at_once)
{
    *answered_at_once = true;
    for (int backoff = BACKOFF_MIN_MS; !atomic_load(&c->stop);) {
        json_t *inspect = NULL;
        cleanup_error crimp_error_t err = NULL;
        if (docker_inspect(c->owner->d, c->id, &inspect, &err) == 0) {
            bool running = json_is_true(
                json_object_get(json_object_get(inspect, "State"), "Running"));
            json_decref(inspect);
            return running ? RUN_RUNNING : RUN_STOPPED;
        }
        if (err->code == GRPC_STATUS_NOT_FOUND)
            return RUN_GONE;
        if (*answered_at_once)
            log_warn("docker: log of %.12s: %s; retrying until dockerd answers", c->id, err->msg);
        *answered_at_once = false;
        nap(&c->stop, backoff);
        backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
    }
    return RUN_CANCELLED;
}

static void copier_release(struct copier *c)
{
    pthread_mutex_destroy(&c->lock);
    docker_log_stream_release(&c->stream);
    free(c->id);
    free(c->path);
    free(c);
}

/* Marks C drained; one forgotten meanwhile (its container is being
 * removed) frees itself, as nobody waits for it.  */
static void copier_finish(struct copier *c)
{
    struct docker_logs *l = c->owner;
    pthread_mutex_lock(&l->lock);
    c->drained = true;
    c->finished = true;
    bool orphan = c->orphan;
    pthread_cond_broadcast(&l->drained_cv);
    pthread_mutex_unlock(&l->lock);
    if (!orphan)
        return;
    pthread_detach(pthread_self());
    copier_release(c);
    pthread_mutex_lock(&l->lock);
    l->orphans--;
    pthread_cond_broadcast(&l->drained_cv);
    pthread_mutex_unlock(&l->lock);
}

static void *copier_main(void *arg)
{
    struct copier *c = arg;
    int backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&c->stop)) {
        int64_t began = crimp_now_mono_ns();
        crimp_error_t err = NULL;
        bool clean = follow_once(c, &err) == 0;
        if (!clean && !atomic_load(&c->stop))
            log_info("docker: log of %.12s: %s", c->id, err->msg);
        crimp_error_release(&err);
        if (c->stream.broken)
            break; /* asking again would bring the same bytes */
        bool answered;
        enum run_state st = run_state_of(c, &answered);
        if (st == RUN_GONE || st == RUN_CANCELLED || (st == RUN_STOPPED && clean && answered))
            break;
        if (st == RUN_RUNNING)
            log_info("docker: log of %.12s: the stream ended while the container runs; "
                     "resuming after the last line written",
                     c->id);
        /* A stream that keeps ending at once must not spin.  */
        if (crimp_now_mono_ns() - began < 1000 * MS) {
            nap(&c->stop, backoff);
            backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
        } else {
            backoff = BACKOFF_MIN_MS;
        }
    }
    pthread_mutex_lock(&c->lock);
    crilog_close(c->log); /* flushes a last partial line */
    c->log = NULL;
    pthread_mutex_unlock(&c->lock);
    copier_finish(c);
    return NULL;
}

static void copier_free(struct copier *c)
{
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    copier_release(c);
}

static struct copier *find_copier(struct docker_logs *l, const char *id)
{
    for (struct copier *c = l->copiers; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
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

/* Starts copying ID's output to PATH from SINCE_NS.  An existing copier of
 * ID is replaced (StartContainer), or with KEEP_EXISTING kept and nothing
 * started (resuming after a restart must not undo a StartContainer that
 * came first).  */
static int start_copier(struct docker_logs *l, const char *id, const char *path, bool tty,
                        int64_t since_ns, bool keep_existing, crimp_error_t *err)
{
    struct crilog *log = crilog_open(path, err);
    if (log == NULL)
        return -1;
    struct copier *c = xcalloc(1, sizeof(*c));
    c->owner = l;
    c->id = xstrdup(id);
    c->path = xstrdup(path);
    c->stream = (struct docker_log_stream){
        .tty = tty, .resume_ns = since_ns, .last_ns = since_ns, .sink = write_piece, .ctx = c};
    c->log = log;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_lock(&l->lock);
    if (keep_existing && find_copier(l, id) != NULL) {
        pthread_mutex_unlock(&l->lock);
        crilog_close(c->log);
        pthread_mutex_destroy(&c->lock);
        free(c->id);
        free(c->path);
        free(c);
        return 0;
    }
    /* Under the lock, so nobody can forget (join) it before it runs.  */
    pthread_create(&c->thread, NULL, copier_main, c);
    pthread_setname_np(c->thread, "crimp-log");
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
    return start_copier(l, id, path, tty, 0, false, err);
}

void docker_logs_forget(struct docker_logs *l, const char *id)
{
    pthread_mutex_lock(&l->lock);
    struct copier *c = unlink_copier(l, id);
    /* A copier still at work (its stream not yet ended, or asking whether
     * the container runs) is told to stop and left to end on its own:
     * RemoveContainer does not wait for it.  */
    bool ended = c && c->finished;
    if (c && !ended) {
        atomic_store(&c->stop, true);
        c->orphan = true;
        l->orphans++;
    }
    pthread_cond_broadcast(&l->drained_cv);
    pthread_mutex_unlock(&l->lock);
    if (ended)
        copier_free(c);
}

int64_t docker_logs_drain_deadline(const struct docker_logs *l)
{
    return crimp_now_mono_ns() + (int64_t)l->drain_ms * MS;
}

bool docker_logs_wait_drained(struct docker_logs *l, const char *id, int64_t deadline_mono_ns)
{
    struct timespec ts = {.tv_sec = deadline_mono_ns / 1000000000,
                          .tv_nsec = deadline_mono_ns % 1000000000};
    pthread_mutex_lock(&l->lock);
    struct copier *c;
    /* Found again after every wake: the copier may be forgotten meanwhile.
     * One that kept a caller waiting in vain already is not waited for
     * again, so a wedged copier cannot slow every list.  */
    while ((c = find_copier(l, id)) != NULL && !c->drained && !c->overdue &&
           pthread_cond_timedwait(&l->drained_cv, &l->lock, &ts) == 0)
        ;
    c = find_copier(l, id);
    bool drained = c == NULL || c->drained;
    bool first_miss = !drained && !c->overdue;
    if (!drained)
        c->overdue = true;
    pthread_mutex_unlock(&l->lock);
    if (first_miss)
        log_warn("docker: container %.12s exited but its log copier has not caught up; "
                 "reporting the exit anyway",
                 id);
    return drained;
}

int docker_logs_reopen(struct docker_logs *l, const char *id, crimp_error_t *err)
{
    pthread_mutex_lock(&l->lock);
    struct copier *c = find_copier(l, id);
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

/* Whether kubelet rotated the CRI log at PATH: it renames the file to
 * PATH.<timestamp> (compressed later to PATH.<timestamp>.gz).  */
static bool rotated(const char *path)
{
    cleanup_free char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    const char *base = slash + 1;
    size_t n = strlen(base);
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;)
        found = strncmp(e->d_name, base, n) == 0 && e->d_name[n] == '.';
    closedir(d);
    return found;
}

static bool has_copier(struct docker_logs *l, const char *id)
{
    pthread_mutex_lock(&l->lock);
    bool has = find_copier(l, id) != NULL;
    pthread_mutex_unlock(&l->lock);
    return has;
}

/* Starts a copier for one container of the list, unless one was started
 * meanwhile (by StartContainer): a running one, and one that exited after
 * the last line its log file holds (crimpd was down when it printed its
 * last lines; the copier takes them and ends).  An exited container with
 * an empty file is left alone once kubelet rotated it: the lines before
 * are in the renamed file, and copying them again would double them.
 * Without a rotation an empty file means nothing was copied yet (crimpd
 * died before its copier wrote the container's first lines, and the
 * container exited meanwhile): everything is copied.  */
static void resume_one(struct docker_logs *l, json_t *c)
{
    const char *path = json_string_value(
        json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_LOG_PATH));
    const char *id = json_string_value(json_object_get(c, "Id"));
    const char *state = json_string_value(json_object_get(c, "State")) ?: "";
    bool running = strcmp(state, "running") == 0;
    /* An adopted container's log is Docker's own file, symlinked.  */
    bool crimps = json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_CRI) != NULL;
    if (!crimps || str_empty(path) || id == NULL || has_copier(l, id) ||
        (!running && strcmp(state, "exited") != 0))
        return;
    int64_t last = last_logged(path);
    if (!running && last == 0 && rotated(path))
        return;
    json_auto_t *inspect = NULL;
    cleanup_error crimp_error_t err = NULL;
    if (docker_inspect(l->d, id, &inspect, &err) < 0)
        return;
    json_t *st = json_object_get(inspect, "State");
    if (!running && docker_parse_time(json_string_value(json_object_get(st, "FinishedAt"))) <= last)
        return;
    bool tty = json_is_true(json_object_get(json_object_get(inspect, "Config"), "Tty"));
    if (start_copier(l, id, path, tty, last, true, &err) < 0)
        log_warn("docker: resuming log of %.12s: %s", id, err->msg);
}

static int recover_once(struct docker_logs *l, crimp_error_t *err)
{
    json_auto_t *list = NULL;
    if (docker_list(l->d, DOCKER_TYPE_CONTAINER, NULL, &list, err) < 0)
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c)
        resume_one(l, c);
    return 0;
}

/* A second pass this long after the first: a start the killed crimpd had
 * in flight may finish in dockerd after the first pass listed the container
 * as created; it runs (and prints) with no copier unless it is looked at
 * again.  */
#define RESUME_AGAIN_MS 5000

static void *recover_main(void *arg)
{
    struct docker_logs *l = arg;
    /* Its requests end when the logs stop: a hung dockerd must not hold
     * up crimpd's exit.  */
    struct crimp_budget budget = {.deadline_ns = CRIMP_NO_DEADLINE, .cancelled = &l->stop};
    crimp_budget_set_current(&budget);
    for (int backoff = BACKOFF_MIN_MS; !l->resumed && !atomic_load(&l->stop);) {
        cleanup_error crimp_error_t err = NULL;
        if (recover_once(l, &err) == 0) {
            log_info("docker: dockerd answers; container logs resumed");
            break;
        }
        nap(&l->stop, backoff);
        backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
    }
    nap(&l->stop, RESUME_AGAIN_MS);
    cleanup_error crimp_error_t err = NULL;
    if (!atomic_load(&l->stop) && recover_once(l, &err) < 0)
        log_warn("docker: second pass over container logs: %s", err->msg);
    return NULL;
}

void docker_logs_recover(struct docker_logs *l)
{
    cleanup_error crimp_error_t err = NULL;
    /* The first try is bounded by the caller's budget (the backend's
     * start); a dockerd that does not answer is retried in the background,
     * where the second pass runs too.  */
    l->resumed = recover_once(l, &err) == 0;
    if (!l->resumed)
        log_warn("docker: resuming container logs: %s; retrying until dockerd answers", err->msg);
    l->recovering = pthread_create(&l->recover_thread, NULL, recover_main, l) == 0;
    if (l->recovering)
        pthread_setname_np(l->recover_thread, "crimp-log-resume");
}

void docker_logs_free(struct docker_logs *l)
{
    if (l == NULL)
        return;
    atomic_store(&l->stop, true);
    if (l->recovering)
        pthread_join(l->recover_thread, NULL);
    while (l->copiers) {
        struct copier *c = l->copiers;
        l->copiers = c->next;
        copier_free(c);
    }
    pthread_mutex_lock(&l->lock);
    while (l->orphans > 0) /* told to stop when forgotten */
        pthread_cond_wait(&l->drained_cv, &l->lock);
    pthread_mutex_unlock(&l->lock);
    pthread_cond_destroy(&l->drained_cv);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
