/* The /events follow loop shared by the docker backend's caches.  */
#include "deadline.h"
#include "follow.h"

#include <unistd.h>

#include "docker-internal.h"
#include "log.h"
#include "utils.h"

struct follow_ctx {
    const struct docker_follower *f;
    struct docker_lines lines;
};

static bool on_events_data(void *ctx, const char *data, size_t len)
{
    struct follow_ctx *x = ctx;
    return docker_lines_feed(&x->lines, data, len, x->f->on_line, x->f->ctx) &&
           !atomic_load(x->f->stopping);
}

/* Resyncs, then follows /events from before the list until the stream ends.  */
static int follow_once(struct docker_backend *d, const struct docker_follower *f,
                       crimp_error_t *err)
{
    int64_t since = crimp_now_real_ns() - 1000000000LL; /* a second of clock slack */
    if (f->resync(f->ctx, err) < 0)
        return -1;
    atomic_store(f->following, true);
    cleanup_free char *fq = docker_filters_query(f->filters);
    cleanup_free char *query = xasprintf("%s&since=%lld.%09lld", fq,
                                         (long long)(since / 1000000000),
                                         (long long)(since % 1000000000));
    struct follow_ctx x = {.f = f};
    struct docker_request r = {.method = "GET", .path = "/events", .query = query,
                               .timeout_ms = DOCKER_TIMEOUT_NONE, .cancelled = f->stopping,
                               .on_data = on_events_data, .ctx = &x};
    int rc = docker_do(d->client, &r, NULL, err);
    atomic_store(f->following, false);
    docker_lines_release(&x.lines);
    return rc;
}

void docker_follow_events(struct docker_backend *d, const struct docker_follower *f)
{
    int backoff_ms = 100;
    /* Every request of this thread (the resync's lists, inspects) ends at
     * once when the follower stops: a hung dockerd must not hold up
     * crimpd's exit for Docker's 2 minute default.  */
    struct crimp_budget budget = {.deadline_ns = CRIMP_NO_DEADLINE, .cancelled = f->stopping};
    crimp_budget_set_current(&budget);
    while (!atomic_load(f->stopping)) {
        crimp_error_t err = NULL;
        int64_t began = crimp_now_mono_ns();
        if (follow_once(d, f, &err) < 0 && !atomic_load(f->stopping))
            log_debug("docker: %s: events: %s; again in %d ms", f->what, err->msg, backoff_ms);
        crimp_error_release(&err);
        if (crimp_now_mono_ns() - began > 10 * 1000000000LL)
            backoff_ms = 100; /* it ran a while: a fresh failure */
        for (int waited = 0; waited < backoff_ms && !atomic_load(f->stopping); waited += 50)
            usleep(50000);
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
}
