/* Who may hold the streaming port: connections that have not presented a
 * valid token yet ("pending") are counted apart from sessions and capped
 * low, and when their slots are full the one waiting longest is cut off
 * for the newcomer.  Idle connections from anyone who can reach the port
 * therefore never take a session's place, and a real client, which sends
 * its head at once, always gets through.  */
#include <sys/socket.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

void admission_init(struct stream_admission *a, int max_pending, int max_sessions)
{
    *a = (struct stream_admission){.max_pending = max_pending > 0 ? max_pending : 1,
                                   .max_sessions = max_sessions > 0 ? max_sessions : 1};
    pthread_mutex_init(&a->mu, NULL);
    a->pending = xcalloc((size_t)a->max_pending, sizeof(*a->pending));
    for (int i = 0; i < a->max_pending; i++)
        a->pending[i].fd = -1;
    a->session_fds = xcalloc((size_t)a->max_sessions, sizeof(*a->session_fds));
    for (int i = 0; i < a->max_sessions; i++)
        a->session_fds[i] = -1;
}

void admission_free(struct stream_admission *a)
{
    pthread_mutex_destroy(&a->mu);
    free(a->pending);
    a->pending = NULL;
    free(a->session_fds);
    a->session_fds = NULL;
}

int admission_wait_begin(struct stream_admission *a, int fd)
{
    pthread_mutex_lock(&a->mu);
    int slot = -1;
    for (int i = 0; i < a->max_pending && slot < 0; i++)
        if (a->pending[i].fd < 0)
            slot = i;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < a->max_pending; i++)
            if (a->pending[i].seq < a->pending[slot].seq)
                slot = i;
        /* Its thread sees EOF and leaves; it closes the descriptor only
         * after admission_wait_end, so this cannot hit a reused one.  */
        shutdown(a->pending[slot].fd, SHUT_RDWR);
        a->pending[slot].fd = -1;
        if (a->evicted++ % 1000 == 0)
            log_info("stream: %d connections wait for their request head: cut off the oldest "
                     "(%llu so far)",
                     a->max_pending, (unsigned long long)a->evicted);
    }
    a->pending[slot] = (struct admission_slot){.fd = fd, .seq = ++a->seq};
    pthread_mutex_unlock(&a->mu);
    return slot;
}

void admission_wait_end(struct stream_admission *a, int slot, int fd)
{
    pthread_mutex_lock(&a->mu);
    if (a->pending[slot].fd == fd)
        a->pending[slot].fd = -1;
    pthread_mutex_unlock(&a->mu);
}

bool admission_session_begin(struct stream_admission *a, int fd)
{
    pthread_mutex_lock(&a->mu);
    bool ok = a->sessions < a->max_sessions;
    for (int i = 0; ok && i < a->max_sessions; i++)
        if (a->session_fds[i] < 0) {
            a->session_fds[i] = fd;
            a->sessions++;
            break;
        }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

void admission_session_end(struct stream_admission *a, int fd)
{
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->max_sessions; i++)
        if (a->session_fds[i] == fd) {
            a->session_fds[i] = -1;
            a->sessions--;
            break;
        }
    pthread_mutex_unlock(&a->mu);
}

int admission_cut_all(struct stream_admission *a)
{
    pthread_mutex_lock(&a->mu);
    /* Their threads close the descriptors only after leaving their slots,
     * so none of these is a reused one.  */
    for (int i = 0; i < a->max_pending; i++)
        if (a->pending[i].fd >= 0)
            shutdown(a->pending[i].fd, SHUT_RDWR);
    for (int i = 0; i < a->max_sessions; i++)
        if (a->session_fds[i] >= 0)
            shutdown(a->session_fds[i], SHUT_RDWR);
    int cut = a->sessions;
    pthread_mutex_unlock(&a->mu);
    return cut;
}
