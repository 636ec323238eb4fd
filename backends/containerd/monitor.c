/* Task exits.  Every running sandbox and container has a Tasks/Wait in
 * flight (ctrd_wait_async); its completion lands here on the client's
 * completion-queue thread, which must not block, so the work is queued for
 * the reaper thread: Tasks/Delete (which makes the shim close the stdio
 * FIFOs), the log drained to EOF, the record updated and saved, waiters
 * (StopContainer, StopPodSandbox) woken.
 *
 * A wait that failed (containerd restarted, the connection broke) or a
 * record found running at start is "checked" instead: Tasks/Get says
 * whether the task still runs (wait again), stopped (reap with its exit
 * status) or vanished (reap as unknown).  Checks that cannot reach
 * containerd are retried every second.  */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "common/oom.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "log.h"
#include "utils.h"

#define RETRY_NS (1000LL * 1000 * 1000)

enum reap_kind {
    REAP_EXIT,        /* the wait reported the exit */
    REAP_CHECK,       /* the wait failed or was never made: ask containerd */
    REAP_CLOSE_STDIN, /* stdin_once: the attach session's stdin ended */
    REAP_RECOVER,     /* the containerd part of crash recovery (recover.c) */
    REAP_SHIMS,       /* idle shims (shim_sweep.c) */
};

struct reap_item {
    struct reap_item *next;
    char *id;
    enum reap_kind kind;
    uint32_t status;
    int64_t at_ns;
    int64_t not_before; /* monotonic */
};

struct ctrd_monitor {
    struct ctrd_backend *b;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct reap_item *head, *tail;
    bool stop;
    bool shims_queued; /* a REAP_SHIMS item waits in the queue */
};

bool ctrd_wait_flag(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *flag,
                    int64_t deadline_mono_ns)
{
    /* Conditions use the realtime clock; the deadline is converted once.  */
    int64_t left = deadline_mono_ns - crimp_now_mono_ns();
    int64_t abs = crimp_now_real_ns() + (left > 0 ? left : 0);
    struct timespec ts = {.tv_sec = abs / 1000000000, .tv_nsec = abs % 1000000000};
    pthread_mutex_lock(mu);
    while (!*flag && crimp_now_mono_ns() < deadline_mono_ns)
        if (pthread_cond_timedwait(cv, mu, &ts) == ETIMEDOUT)
            break;
    bool set = *flag;
    pthread_mutex_unlock(mu);
    return set;
}

static void enqueue(struct ctrd_monitor *m, const char *id, enum reap_kind kind, uint32_t status,
                    int64_t at_ns, int64_t delay_ns)
{
    struct reap_item *it = xcalloc(1, sizeof(*it));
    it->id = xstrdup(id);
    it->kind = kind;
    it->status = status;
    it->at_ns = at_ns;
    it->not_before = crimp_now_mono_ns() + delay_ns;
    pthread_mutex_lock(&m->mu);
    if (m->stop) {
        pthread_mutex_unlock(&m->mu);
        free(it->id);
        free(it);
        return;
    }
    if (m->tail)
        m->tail->next = it;
    else
        m->head = it;
    m->tail = it;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* ctrd_exit_fn, on the client's completion-queue thread.  */
static void on_exit_cb(void *ctx, const char *container_id, const char *exec_id,
                       uint32_t exit_status, int64_t exited_at_ns, crimp_error_t err)
{
    struct ctrd_monitor *m = ctx;
    if (err)
        enqueue(m, container_id, REAP_CHECK, 0, 0,
                err->code == GRPC_STATUS_UNAVAILABLE ? RETRY_NS : 0);
    else
        enqueue(m, container_id, REAP_EXIT, exit_status, exited_at_ns, 0);
}

void ctrd_monitor_close_stdin(void *ctx, const char *id)
{
    struct ctrd_backend *b = ctx;
    enqueue(b->monitor, id, REAP_CLOSE_STDIN, 0, 0, 0);
}

static void close_stdin(struct ctrd_backend *b, const char *id)
{
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_close_stdin(b, id, NULL, &err) < 0 && err->code != GRPC_STATUS_NOT_FOUND)
        log_warn("containerd: close the stdin of %.12s: %s", id, err->msg);
}

int ctrd_monitor_watch(struct ctrd_backend *b, const char *id, crimp_error_t *err)
{
    return ctrd_wait_async(b->conn, id, NULL, on_exit_cb, b->monitor, err);
}

static const char *exit_reason(int code, bool oom_killed)
{
    return oom_killed ? "OOMKilled" : code == 0 ? "Completed" : "Error";
}

static void record_container_exit(struct ctrd_backend *b, struct ctrd_container *c,
                                  uint32_t status, int64_t at_ns, bool unknown, bool oom_killed)
{
    /* The exit is recorded (and reported) only once the output reached the
     * log file, or the bound passed (a grandchild may hold the FIFO).  */
    if (ctrd_logger_finish(b->logger, c->id, b->log_drain_ms) > 0)
        log_warn("containerd: container %.12s exited but its output did not end in %d ms; "
                 "reporting the exit anyway",
                 c->id, b->log_drain_ms);
    cleanup_error crimp_error_t err = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING ||
        c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN) {
        c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
        c->task_done = true;
        c->finished_at = at_ns > 0 ? at_ns : crimp_now_real_ns();
        c->exit_code = unknown ? 255 : (int)status;
        free(c->reason);
        c->reason = xstrdup(unknown ? "Unknown" : exit_reason(c->exit_code, oom_killed));
        if (unknown) {
            free(c->message);
            c->message = xstrdup("the task vanished while crimp was not watching");
        }
        if (ctrd_container_save(b, c, &err) < 0)
            log_warn("containerd: %s", err->msg);
        crimp_event_hub_publish(b->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT,
                                c->id, c->sandbox_id, c->finished_at);
    }
    pthread_cond_broadcast(&c->exited);
    pthread_mutex_unlock(&c->mu);
}

static void record_sandbox_exit(struct ctrd_backend *b, struct ctrd_sandbox *s)
{
    cleanup_error crimp_error_t err = NULL;
    pthread_mutex_lock(&s->mu);
    s->task_exited = true;
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    if (ctrd_sandbox_save(b, s, &err) < 0)
        log_warn("containerd: %s", err->msg);
    pthread_cond_broadcast(&s->exited);
    pthread_mutex_unlock(&s->mu);
}

int ctrd_delete_task(struct ctrd_backend *b, const char *id, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__DeleteTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;
    req.container_id = (char *)id;
    return ctrd_call_gone_ok(b, NULL, CTRD_TASKS "Delete", &req.base,
                             &containerd__services__tasks__v1__delete_response__descriptor, err);
}

void ctrd_monitor_reap(struct ctrd_backend *b, const char *id, uint32_t status, int64_t at_ns)
{
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_container *c = ctrd_container_get(b, id, &err);
    crimp_error_release(&err);
    /* Before Tasks/Delete: deleting the task removes the cgroup.  */
    bool oom_killed = false;
    if (c) {
        pthread_mutex_lock(&c->mu);
        if (c->cgroup)
            oom_killed = crimp_cgroup_oom_killed(c->cgroup->memory ? c->cgroup->memory
                                                                   : c->cgroup->unified);
        pthread_mutex_unlock(&c->mu);
    }
    bool deleted = ctrd_delete_task(b, id, &err) == 0;
    if (!deleted)
        log_warn("containerd: reaping %.12s: %s", id, err->msg);
    crimp_error_release(&err);
    if (c && deleted) {
        pthread_mutex_lock(&c->mu);
        c->task_gone = true;
        c->start_unsettled = false;
        pthread_mutex_unlock(&c->mu);
    }
    if (c) {
        record_container_exit(b, c, status, at_ns, false, oom_killed);
        ctrd_container_put(c);
        return;
    }
    crimp_error_release(&err);
    struct ctrd_sandbox *s = ctrd_sandbox_get(b, id, &err);
    if (s) {
        record_sandbox_exit(b, s);
        ctrd_sandbox_put(s);
    }
}

void ctrd_log_resume(struct ctrd_backend *b, struct ctrd_container *c)
{
    if (ctrd_logger_has(b->logger, c->id))
        return;
    if (c->fifo_dir == NULL) {
        log_warn("containerd: log of %.12s: no FIFOs on record (its output is lost)", c->id);
        return;
    }
    cleanup_free char *out = xasprintf("%s/%s-stdout", c->fifo_dir, c->id);
    cleanup_free char *errp = xasprintf("%s/%s-stderr", c->fifo_dir, c->id);
    int fo = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fo < 0)
        log_warn("containerd: log of %.12s: stdout FIFO `%s`: %s (its output is lost)", c->id,
                 out, strerror(errno));
    int fe = open(errp, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fe < 0 && errno != ENOENT) /* a tty container has no stderr FIFO */
        log_warn("containerd: log of %.12s: stderr FIFO `%s`: %s (its output is lost)", c->id,
                 errp, strerror(errno));
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_logger_add(b->logger, c->id, fo, fe, -1, false, c->log_path, &err) < 0)
        log_warn("containerd: log of %.12s not resumed: %s", c->id, err->msg);
    else
        log_info("containerd: log of %.12s resumed from its FIFOs", c->id);
}

/* Whether container ID is on record as created (never started) or exited
 * (a start that failed) though it has a running task.  */
static bool started_mid_call(struct ctrd_backend *b, const char *id)
{
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_container *c = ctrd_container_get(b, id, &err);
    if (c == NULL)
        return false;
    pthread_mutex_lock(&c->mu);
    bool not_running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED ||
                       c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    pthread_mutex_unlock(&c->mu);
    ctrd_container_put(c);
    return not_running;
}

/* ID's task is gone: a record that waited to learn it is settled, but for
 * a start cut short whose Tasks/Create containerd may still finish: that
 * one is asked about again until its window ends.  */
static void task_absent(struct ctrd_monitor *m, struct ctrd_container *c)
{
    struct ctrd_backend *b = m->b;
    pthread_mutex_lock(&c->mu);
    if (c->start_unsettled && crimp_now_mono_ns() < c->unsettled_until_ns) {
        pthread_mutex_unlock(&c->mu);
        enqueue(m, c->id, REAP_CHECK, 0, 0, RETRY_NS);
        return;
    }
    bool was_running = c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED &&
                       c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    c->task_gone = true;
    c->start_unsettled = false;
    pthread_mutex_unlock(&c->mu);
    if (was_running)
        record_container_exit(b, c, 0, 0, true, false);
}

/* crimpd died inside StartContainer after Tasks/Create (the record still
 * says created), or the start failed and could not remove what
 * Tasks/Create made (it says exited): the task goes, and its reaped exit
 * lets the container be started again or removed.  What the process
 * printed meanwhile is copied first (the recovery adopted its FIFOs), and
 * the exit waits for the rest as any exit does.  */
static void kill_started_mid_call(struct ctrd_monitor *m, const char *id)
{
    struct ctrd_backend *b = m->b;
    log_warn("containerd: container %.12s was being started when crimpd stopped: its task is "
             "killed",
             id);
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_container *c = ctrd_container_get(b, id, &err);
    if (c) {
        ctrd_log_resume(b, c);
        ctrd_container_put(c);
    }
    crimp_error_release(&err);
    if (ctrd_kill(b, NULL, id, NULL, SIGKILL, &err) < 0 || ctrd_monitor_watch(b, id, &err) < 0)
        enqueue(m, id, REAP_CHECK, 0, 0, RETRY_NS);
}

/* A running task found by a check: its output is copied and its exit
 * awaited again.  */
static void watch_live_task(struct ctrd_monitor *m, const char *id)
{
    struct ctrd_backend *b = m->b;
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_container *c = ctrd_container_get(b, id, &err);
    if (c) {
        ctrd_log_resume(b, c);
        pthread_mutex_lock(&c->mu);
        ctrd_container_find_cgroup(c);
        pthread_mutex_unlock(&c->mu);
        ctrd_container_put(c);
    }
    crimp_error_release(&err);
    if (ctrd_monitor_watch(b, id, &err) < 0)
        enqueue(m, id, REAP_CHECK, 0, 0, RETRY_NS);
}

/* What containerd says of ID's task, for a check item.  */
static void check_task(struct ctrd_monitor *m, const char *id)
{
    struct ctrd_backend *b = m->b;
    struct ctrd_task_state t;
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_task_get(b, id, 10, &t, &err) < 0) {
        enqueue(m, id, REAP_CHECK, 0, 0, RETRY_NS);
        return;
    }
    if (t.found == CTRD_TASK_ABSENT) {
        struct ctrd_container *c = ctrd_container_get(b, id, &err);
        if (c) {
            task_absent(m, c);
            ctrd_container_put(c);
        } else {
            ctrd_monitor_reap(b, id, 0, 0);
        }
    } else if (t.found == CTRD_TASK_STOPPED) {
        ctrd_monitor_reap(b, id, t.exit_status, t.exited_at_ns);
    } else if (started_mid_call(b, id)) {
        kill_started_mid_call(m, id);
    } else {
        watch_live_task(m, id);
    }
}

/* A second sweep this long after the first: containerd may still finish
 * a call the killed crimpd had in flight (a Snapshots/Prepare, a
 * Containers/Create) after the first sweep listed what exists.  */
#define RECOVER_AGAIN_NS (5LL * 1000 * 1000 * 1000)

static void recover(struct ctrd_monitor *m, const char *pass)
{
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_recover_containerd(m->b, &err) == 0) {
        if (strcmp(pass, "again") != 0)
            enqueue(m, "again", REAP_RECOVER, 0, 0, RECOVER_AGAIN_NS);
        return;
    }
    if (err->code == GRPC_STATUS_UNAVAILABLE || err->code == GRPC_STATUS_DEADLINE_EXCEEDED)
        log_debug("containerd: %s (retrying)", err->msg);
    else
        log_warn("containerd: %s (retrying)", err->msg);
    enqueue(m, pass, REAP_RECOVER, 0, 0, RETRY_NS);
}

void ctrd_monitor_check(struct ctrd_backend *b, const char *id)
{
    enqueue(b->monitor, id, REAP_CHECK, 0, 0, RETRY_NS);
}

void ctrd_monitor_recover(struct ctrd_backend *b)
{
    enqueue(b->monitor, "", REAP_RECOVER, 0, 0, 0);
}

static void sweep_shims(struct ctrd_monitor *m)
{
    pthread_mutex_lock(&m->mu);
    m->shims_queued = false;
    pthread_mutex_unlock(&m->mu);
    size_t killed = 0;
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_sweep_shims(m->b, &killed, &err) < 0)
        log_debug("containerd: %s (the next sweep will tell)", err->msg);
    else if (killed > 0)
        log_info("containerd: %zu idle shims ended", killed);
}

void ctrd_monitor_sweep_shims(struct ctrd_backend *b, int64_t delay_ns)
{
    struct ctrd_monitor *m = b->monitor;
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    bool queued = m->shims_queued;
    m->shims_queued = true;
    pthread_mutex_unlock(&m->mu);
    if (!queued)
        enqueue(m, "shims", REAP_SHIMS, 0, 0, delay_ns);
}

/* Unlinks and returns the first item due by NOW; else NULL with *NEXT_DUE
 * the earliest time one will be (NOW + 1 s when the queue is empty).  */
static struct reap_item *take_due(struct ctrd_monitor *m, int64_t now, int64_t *next_due)
{
    *next_due = now + 1000LL * 1000 * 1000;
    struct reap_item *prev = NULL;
    for (struct reap_item *it = m->head; it; prev = it, it = it->next) {
        if (it->not_before > now) {
            if (it->not_before < *next_due)
                *next_due = it->not_before;
            continue;
        }
        if (prev)
            prev->next = it->next;
        else
            m->head = it->next;
        if (m->tail == it)
            m->tail = prev;
        return it;
    }
    return NULL;
}

/* The next item due, in queue order among those due: a delayed retry
 * (containerd away, the second recovery sweep) never holds up an exit.  */
static struct reap_item *next_item(struct ctrd_monitor *m)
{
    pthread_mutex_lock(&m->mu);
    for (;;) {
        if (m->stop) {
            pthread_mutex_unlock(&m->mu);
            return NULL;
        }
        int64_t due;
        struct reap_item *it = take_due(m, crimp_now_mono_ns(), &due);
        if (it) {
            pthread_mutex_unlock(&m->mu);
            it->next = NULL;
            return it;
        }
        int64_t abs = crimp_now_real_ns() + (due - crimp_now_mono_ns());
        struct timespec ts = {.tv_sec = abs / 1000000000, .tv_nsec = abs % 1000000000};
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    }
}

static void *reaper_main(void *arg)
{
    struct ctrd_monitor *m = arg;
    struct reap_item *it;
    while ((it = next_item(m)) != NULL) {
        switch (it->kind) {
        case REAP_EXIT:
            ctrd_monitor_reap(m->b, it->id, it->status, it->at_ns);
            break;
        case REAP_CHECK:
            check_task(m, it->id);
            break;
        case REAP_CLOSE_STDIN:
            close_stdin(m->b, it->id);
            break;
        case REAP_RECOVER:
            recover(m, it->id);
            break;
        case REAP_SHIMS:
            sweep_shims(m);
            break;
        }
        free(it->id);
        free(it);
    }
    return NULL;
}

struct ctrd_monitor *ctrd_monitor_new(struct ctrd_backend *b)
{
    struct ctrd_monitor *m = xcalloc(1, sizeof(*m));
    m->b = b;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    /* No signals on the reaper: crimpd's main thread handles them.  */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&m->thread, NULL, reaper_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("containerd: cannot start the reaper thread: %s", strerror(rc));
        abort();
    }
    return m;
}

void ctrd_monitor_stop(struct ctrd_monitor *m)
{
    pthread_mutex_lock(&m->mu);
    bool was = m->stop;
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (!was)
        pthread_join(m->thread, NULL);
}

void ctrd_monitor_free(struct ctrd_monitor *m)
{
    if (m == NULL)
        return;
    ctrd_monitor_stop(m);
    while (m->head) {
        struct reap_item *it = m->head;
        m->head = it->next;
        free(it->id);
        free(it);
    }
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

void ctrd_log_resume_all(struct ctrd_backend *b)
{
    size_t n = 0;
    struct ctrd_container **cv = ctrd_containers(b, NULL, &n);
    for (size_t i = 0; i < n; i++) {
        /* Running on record, or created with the FIFOs of a start cut
         * short (adopted by the local recovery).  */
        bool copy = cv[i]->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING ||
                    (cv[i]->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED &&
                     cv[i]->fifo_dir != NULL);
        if (copy)
            ctrd_log_resume(b, cv[i]);
    }
    ctrd_containers_put_all(cv, n);
}

void ctrd_monitor_resync(struct ctrd_backend *b)
{
    size_t ns = 0, nc = 0;
    struct ctrd_sandbox **sv = ctrd_sandboxes(b, &ns);
    for (size_t i = 0; i < ns; i++)
        if (sv[i]->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY && !sv[i]->task_exited)
            enqueue(b->monitor, sv[i]->id, REAP_CHECK, 0, 0, 0);
    ctrd_sandboxes_put_all(sv, ns);
    struct ctrd_container **cv = ctrd_containers(b, NULL, &nc);
    for (size_t i = 0; i < nc; i++)
        /* Created and exited ones too: a crash inside StartContainer, or
         * one that failed while containerd restarted, may have left a task
         * (an exited record's task is deleted at its exit, so this is one
         * Tasks/Get that says NOT_FOUND for most).  */
        if (cv[i]->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING ||
            cv[i]->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED ||
            (cv[i]->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED &&
             !cv[i]->task_gone))
            enqueue(b->monitor, cv[i]->id, REAP_CHECK, 0, 0, 0);
    ctrd_containers_put_all(cv, nc);
}
