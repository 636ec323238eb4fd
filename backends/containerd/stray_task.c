/* A task that a container's record does not account for: the record says
 * created or exited, yet containerd may hold a task for it.  A
 * StartContainer cut short after Tasks/Create went out (containerd
 * restarting, a lost connection, kubelet's deadline) leaves one: the call
 * failed, the record says exited, and the process may run all the same.
 * Settling finds out what containerd has (Tasks/Get, retried while it is
 * unreachable, within a bound) and removes it: the stop signal and a grace
 * period when Stop asks for one, SIGKILL, the wait, Tasks/Delete.  Then the
 * record tells the truth and RemoveContainer can go on.  */
#include <signal.h>
#include <unistd.h>

#include "containerd-internal.h"
#include "log.h"
#include "utils.h"

#define UNREACHABLE_POLL_US 250000
#define KILL_WAIT_NS        (10LL * 1000 * 1000 * 1000)

static bool unreachable(const crimp_error_t err)
{
    return err->code == GRPC_STATUS_UNAVAILABLE || err->code == GRPC_STATUS_DEADLINE_EXCEEDED ||
           err->code == GRPC_STATUS_CANCELLED;
}

/* Tasks/Get of ID, asked again while containerd cannot be reached, until
 * UNTIL_NS (monotonic).  */
static int find_task(struct ctrd_backend *b, const char *id, int64_t until_ns,
                     enum ctrd_task_found *found, crimp_error_t *err)
{
    for (;;) {
        struct ctrd_task_state t;
        crimp_error_release(err);
        if (ctrd_task_get(b, id, 5, &t, err) == 0) {
            *found = t.found;
            return 0;
        }
        if (!unreachable(*err) || crimp_now_mono_ns() >= until_ns)
            return crimp_error_wrap(err, "the task of container %.12s", id);
        usleep(UNREACHABLE_POLL_US);
    }
}

static int kill_and_delete(struct ctrd_backend *b, const char *id, int64_t grace_s,
                           crimp_error_t *err)
{
    if (grace_s > 0) {
        if (ctrd_kill(b, NULL, id, NULL, SIGTERM, err) < 0)
            return -1;
        ctrd_wait_task_stopped_until(b, id, crimp_now_mono_ns() + grace_s * 1000000000LL);
    }
    if (ctrd_kill(b, NULL, id, NULL, SIGKILL, err) < 0)
        return -1;
    ctrd_wait_task_stopped_until(b, id, crimp_now_mono_ns() + KILL_WAIT_NS);
    return ctrd_delete_task(b, id, err);
}

int ctrd_settle_task(struct ctrd_backend *b, const char *id, int64_t grace_s, int64_t until_ns,
                     crimp_error_t *err)
{
    enum ctrd_task_found found = CTRD_TASK_ABSENT;
    if (find_task(b, id, until_ns, &found, err) < 0)
        return -1;
    if (found == CTRD_TASK_LIVE) {
        log_warn("containerd: container %.12s is not running on record but its task runs: "
                 "killing it",
                 id);
        return kill_and_delete(b, id, grace_s, err);
    }
    return found == CTRD_TASK_STOPPED ? ctrd_delete_task(b, id, err) : 0;
}

int ctrd_container_settle(struct ctrd_backend *b, struct ctrd_container *c, int64_t grace_s,
                          crimp_error_t *err)
{
    /* task_gone is not trusted: a task made behind crimp's back (or by a
     * start whose failure lost track of it) would outlive the record.  One
     * Tasks/Get, NOT_FOUND in the common case.  */
    pthread_mutex_lock(&c->mu);
    bool running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    pthread_mutex_unlock(&c->mu);
    if (running)
        return 0;
    /* Without the lock: a grace period must not hold ContainerStatus up.  */
    int64_t until = crimp_now_mono_ns() + (grace_s + 5) * 1000000000LL;
    if (ctrd_settle_task(b, c->id, grace_s, until, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    c->task_gone = true; /* start_unsettled stays: a late Tasks/Create is the reaper's */
    pthread_mutex_unlock(&c->mu);
    return 0;
}
